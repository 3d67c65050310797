"""Experiments: a saved scenario tried on a random part of the field (docs/experiments.md).

`stats` (the readout's statistics: lift with its fixed-horizon and always-valid intervals,
CUPED, the sample-ratio check, Benjamini-Hochberg, power, the decision in words) and `assign`
(deterministic stratified assignment, teams under a leader kept whole) are pure functions on
arrays and frames; they read no warehouse.
"""
