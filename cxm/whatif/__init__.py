"""What-if: KPI priorities in, every seller's recommended activities out (docs/whatif.md).

`catalog` (the actions, validated company config), `rules` (eligibility, a small declarative
language compiled to vectorised expressions), `need` (per seller per priority, in [0, 1]),
`score` (the fused numba kernel: score, guardrails, top 3 and the comparison counts),
`compare` (scenario vs baseline, for the page and the exports), `scenarios` (saved objects).
"""
