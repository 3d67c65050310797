"""A comparison's expected effect in words: the gains and the costs, every priority, ordered.

What the page's headline, the command line and the board pack say about a scenario: each
priority whose expected progress rises (largest rise first), each that falls (largest fall
first), and those that stay, so a leader never reads a gain without the costs that pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

#: A relative change smaller than this (either way) reads as unchanged.
UNCHANGED_WITHIN = 0.005


@dataclass(frozen=True)
class Move:
    """One priority's expected progress per 1,000 sellers, published and in the scenario."""

    priority: str
    label: str
    baseline: float
    scenario: float
    change: float | None  # scenario / baseline - 1; None when the baseline is 0

    def describe(self) -> str:
        """The change in words: "Customer retention +110%", "App adoption from 0 to 3.2"."""
        if self.change is None:
            return f"{self.label} from 0 to {self.scenario:.1f} per 1,000 sellers"
        pct = 100 * self.change
        text = f"{pct:+.0f}%" if abs(pct) >= 1 else f"{pct:+.1f}%"
        return f"{self.label} {text}"


@dataclass(frozen=True)
class Effect:
    """The priorities split three ways, each list in reading order."""

    gains: tuple[Move, ...]
    costs: tuple[Move, ...]
    unchanged: tuple[Move, ...]

    def describe(self) -> str:
        """Gains, then costs, then what stays, as one sentence per group.

        Examples
        --------
        >>> e = effect(pl.DataFrame({"priority": ["a", "b", "c"], "label": ["A", "B", "C"],
        ...     "baseline": [10.0, 20.0, 5.0], "scenario": [21.0, 8.6, 5.0]}))
        >>> e.describe()
        'Gains: A +110%. Costs: B -57%. Unchanged: C.'
        """
        parts = []
        if self.gains:
            parts.append("Gains: " + ", ".join(m.describe() for m in self.gains) + ".")
        else:
            parts.append("No priority gains.")
        if self.costs:
            parts.append("Costs: " + ", ".join(m.describe() for m in self.costs) + ".")
        else:
            parts.append("No priority loses.")
        if self.unchanged:
            parts.append("Unchanged: " + ", ".join(m.label for m in self.unchanged) + ".")
        return " ".join(parts)


def effect(frame: pl.DataFrame) -> Effect:
    """Split a comparison's ``effect`` frame (priority, label, baseline, scenario) three ways.

    A gain: the scenario's expected progress is at least `UNCHANGED_WITHIN` (relative) above
    the published one's, or above 0 where that was 0; a cost: as far below; the rest stay.
    Gains go largest rise first, costs largest fall first, ties in priority order.
    """
    gains, costs, same = [], [], []
    for row in frame.iter_rows(named=True):
        base, scen = float(row["baseline"]), float(row["scenario"])
        change = scen / base - 1 if base > 0 else None
        move = Move(row["priority"], row["label"], base, scen, change)
        if change is None:
            (gains if scen > 0 else same).append(move)
        elif change >= UNCHANGED_WITHIN:
            gains.append(move)
        elif change <= -UNCHANGED_WITHIN:
            costs.append(move)
        else:
            same.append(move)
    # A rise from 0 has no percentage: it leads the gains (it is new), by its size.
    gains.sort(key=lambda m: (m.change is not None, -(m.change or 0), -m.scenario))
    costs.sort(key=lambda m: m.change)
    return Effect(tuple(gains), tuple(costs), tuple(same))
