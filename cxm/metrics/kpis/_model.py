"""The `Kpi` record: the vocabulary every registry entry is written in."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Category = Literal[
    "retention",
    "adoption",
    "compliance",
    "business building",
    "sales",
    "experience",
    "service",
    "acquisition",
]
Unit = Literal["count", "share", "amount", "score", "pp", "rate", "hours", "points"]
Kind = Literal["count", "sum", "ratio", "nps", "gap", "median"]


class Kpi(BaseModel):
    """One KPI: what it means, in which unit, which way is good, and the measures it reads.

    kind ``count`` and ``sum``: the numerator summed (n = the denominator's sum, or the value);
    ``ratio``: numerator / denominator (n = denominator); ``nps``: 100 x (numerator - minus) /
    denominator (n = denominator); ``gap``: corporate minus the segment's top-box share, in
    points (n = the segment's answers); ``median``: the median of a ticket column. ``base``
    names the measure counted as ``n`` when it is not the denominator (a share of revenue is
    based on orders, not on dollars). ``snapshot`` KPIs are taken on the as-of date (the
    period's last day); the others count what happened in the period. ``latest_only`` KPIs
    (predicted customer value) exist for the data's own as-of date only. ``open`` KPIs wait
    a fixed window for their outcome and count only the windows closed by the as-of date.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    definition: str
    category: Category
    unit: Unit
    better: Literal["higher", "lower"]
    kind: Kind
    numerator: str
    denominator: str | None = None
    minus: str | None = None
    base: str | None = None
    corporate: Literal["customer", "seller"] | None = None
    reads: tuple[str, ...]
    headline: bool = False
    snapshot: bool = False
    latest_only: bool = Field(
        False,
        description="modelled at each load for the data's as-of date only: earlier dates have "
        "no value (null), not zero",
    )
    short: str | None = Field(None, max_length=22, description="the tile's label, if shorter")
    grain: Literal["seller", "product_line", "acquisition"] = "seller"
    open: str | None = Field(
        None,
        description="the measure counting the period's subjects whose observation window "
        "(cxm.state.windows) is still open on the as-of date: not in n, reported apart",
    )

    @property
    def measures(self) -> tuple[str, ...]:
        """Return the seller-base columns this KPI sums."""
        return tuple(
            m for m in (self.numerator, self.denominator, self.minus, self.base, self.open) if m
        )
