"""The inverse question and the trade-off curve (issue 12, item 7).

"Which weight on KPI k puts action a first for X% of segment S?" is answered by moving that
one weight over the slider's grid (0 to 3 in steps of 0.25, the others as given) and ranking
the segment at each step with the fast kernel: the answer is the smallest weight that
reaches the share, with the whole curve so the page can show how the share responds. The
share need not rise steadily with the weight (another action may gain more), so the search
walks the grid instead of bisecting. Caps are left out: a cap is a share of the whole field,
which a segment on its own does not have (the page says so).

The trade-off curve moves one weight over the same grid and reports the expected effect on
two priorities at each step, the strategist's frontier between them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from cxm.errors import CxmError
from cxm.whatif.compare import GUARDED, Field, Guardrails, counts, rank
from cxm.whatif.need import LABELS, PRIORITIES
from cxm.whatif.weights import MAX_WEIGHT, STEP, Weights

GRID = tuple(float(w) for w in np.arange(0.0, MAX_WEIGHT + STEP / 2, STEP))


class InverseError(CxmError):
    """An inverse question that cannot be asked (unknown action, empty segment, bad share)."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(f"{message} [{code}]")


@dataclass(frozen=True)
class InverseAnswer:
    """The smallest weight that reaches the share (None: no weight on the grid does)."""

    priority: str
    action: str
    target: float
    sellers: int
    weight: float | None
    curve: pl.DataFrame  # weight, share

    def describe(self) -> str:
        label = LABELS[self.priority]
        if self.weight is None:
            best = self.curve.sort("share", descending=True).row(0, named=True)
            return (
                f"No weight on {label} from 0 to {MAX_WEIGHT:g} puts it first for "
                f"{self.target:.0%} of these {self.sellers:,} sellers; the most is "
                f"{best['share']:.1%}, at x{best['weight']:g}."
            )
        return (
            f"{label} at x{self.weight:g} puts it first for at least {self.target:.0%} of "
            f"these {self.sellers:,} sellers."
        )


def _with(weights: Weights, priority: str, value: float) -> Weights:
    return Weights.of(weights.as_dict() | {priority: value})


def weight_for_share(
    field: Field,
    weights: Weights,
    *,
    priority: str,
    action: str,
    share: float,
    keep: np.ndarray | None = None,
    guardrails: Guardrails = GUARDED,
) -> InverseAnswer:
    """Answer the inverse question over the sellers where ``keep`` is true (all: None)."""
    if priority not in PRIORITIES:
        raise InverseError("unknown_priority", f'"{priority}" is not a priority.')
    if action not in field.catalog.ids:
        raise InverseError("unknown_action", f'"{action}" is not an action of the catalog.')
    if not 0.0 < share <= 1.0:
        raise InverseError("bad_share", f"The share {share} must lie above 0 and up to 1.")
    part = field if keep is None else field.subset(keep)
    if part.size == 0:
        raise InverseError("empty_segment", "No seller in scope is in this segment.")
    a = field.catalog.ids.index(action)
    no_caps = Guardrails(mandatory=guardrails.mandatory, caps=False)
    shares = [
        float((rank(part, _with(weights, priority, w), no_caps).first == a).mean()) for w in GRID
    ]
    curve = pl.DataFrame({"weight": GRID, "share": shares})
    reached = [w for w, s in zip(GRID, shares, strict=True) if s >= share - 1e-12]
    return InverseAnswer(
        priority=priority,
        action=action,
        target=share,
        sellers=part.size,
        weight=reached[0] if reached else None,
        curve=curve,
    )


def tradeoff(
    field: Field,
    weights: Weights,
    *,
    moving: str,
    first: str,
    second: str,
    guardrails: Guardrails = GUARDED,
) -> pl.DataFrame:
    """Expected effect on ``first`` and ``second`` per 1,000 sellers as ``moving`` moves."""
    for p in (moving, first, second):
        if p not in PRIORITIES:
            raise InverseError("unknown_priority", f'"{p}" is not a priority.')
    i, j = PRIORITIES.index(first), PRIORITIES.index(second)
    per = 1000.0 / max(field.size, 1)
    rows = []
    for w in GRID:
        ranking = rank(field, _with(weights, moving, w), guardrails)
        effect = counts(field, ranking, ranking.first)[3]
        rows.append((w, effect[i] * per, effect[j] * per))
    return pl.DataFrame(rows, schema=["weight", first, second], orient="row")
