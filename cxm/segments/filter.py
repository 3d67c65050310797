"""`SegmentFilter`: which sellers, in which period, as one object from the page to the SQL.

The filter is plain data (frozen pydantic, unknown keys refused). `SegmentFilter.check` holds it
against the company configuration and raises `BadFilter` with a stable code; `describe` says it
in words for captions and exports. Turning it into SQL is `cxm.segments.sql`'s job.
"""

from __future__ import annotations

import datetime as dt
import difflib
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from cxm.config import CompanyConfig
from cxm.errors import BadFilter
from cxm.segments.periods import Compare, Period


class Dimension(StrEnum):
    """What a report can be broken down by: the seller's segment as of the as-of date."""

    RANK = "rank"
    MARKET = "market"
    LANGUAGE = "language"
    STATUS = "status"
    TENURE_BAND = "tenure_band"
    TRAINING_TIER = "training_tier"
    COHORT = "cohort"
    FAST_START = "fast_start"
    PRODUCT_LINE = "product_line"
    CHANNEL = "channel"


#: Seller status as of a date, in this order of precedence (docs/metrics.md).
STATUSES = ("new", "active", "inactive", "terminated")
#: Tenure bands: (label, first day of tenure in the band).
TENURE_BANDS = (
    ("under 3 months", 0),
    ("3-12 months", 91),
    ("1-2 years", 365),
    ("2-5 years", 730),
    ("5+ years", 1826),
)
#: Training tiers: (label, fewest courses completed by the as-of date).
TRAINING_TIERS = (("none", 0), ("starter", 1), ("skilled", 3), ("advanced", 6))

DIMENSION_LABELS = {
    Dimension.RANK: "Rank",
    Dimension.MARKET: "Market",
    Dimension.LANGUAGE: "Language",
    Dimension.STATUS: "Seller status",
    Dimension.TENURE_BAND: "Tenure",
    Dimension.TRAINING_TIER: "Training tier",
    Dimension.COHORT: "Enrolment cohort",
    Dimension.FAST_START: "First 30 days",
    Dimension.PRODUCT_LINE: "Product line",
    Dimension.CHANNEL: "Acquisition channel",
}
#: The first-30-days segments: a sale in days 0-29 of tenure, none, or day 30 still to come
#: on the as-of date (and no sale yet).
FAST_START = ("sold in first 30 days", "no sale in first 30 days", "first 30 days not over")
#: Dimensions of the seller (every seller-grain KPI); product line splits line KPIs only, the
#: acquisition channel acquisition KPIs only.
SELLER_DIMENSIONS = tuple(
    d for d in Dimension if d not in (Dimension.PRODUCT_LINE, Dimension.CHANNEL)
)


def parse_dimension(text: str, *, field: str = "by") -> Dimension:
    """Return the dimension named ``text``; raise `BadFilter` (unknown_dimension) otherwise."""
    try:
        return Dimension(text)
    except ValueError:
        raise BadFilter(
            field, text, "unknown_dimension", _not_one_of([d.value for d in Dimension], text)
        ) from None


def _not_one_of(allowed: list[str] | tuple[str, ...], value: str) -> str:
    near = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1, cutoff=0.5)
    hint = f'; did you mean "{near[0]}"?' if near else ""
    return f"is not one of {', '.join(map(str, allowed))}{hint}"


class SegmentFilter(BaseModel):
    """Which sellers and which period a KPI is computed over.

    Empty tuples mean "no restriction" (within the user's market scope, which is applied
    separately and always). ``as_of`` None means the data's own as-of date.

    >>> f = SegmentFilter(markets=("BR", "MX"), rank_at_least="Manager",
    ...                   period=Period.parse("2026-10"))
    >>> f.describe()
    'all sellers at Manager and above in BR and MX, October 2026'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    period: Period
    as_of: dt.date | None = None
    markets: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    ranks: tuple[str, ...] = ()
    rank_at_least: str | None = None
    statuses: tuple[str, ...] = ()
    tenure_bands: tuple[str, ...] = ()
    training_tiers: tuple[str, ...] = ()
    cohorts: tuple[int, ...] = Field(default=(), description="enrolment years")
    #: What the period is compared with: the one before, or the same one a year earlier;
    #: like for like either way (`cxm.segments.periods.compared_span`).
    compare: Compare = "previous"

    def check(self, cfg: CompanyConfig) -> SegmentFilter:
        """Return the filter when every value is known to ``cfg``; raise `BadFilter` otherwise."""
        rules = [
            ("market", self.markets, cfg.market_codes, "unknown_market"),
            ("language", self.languages, cfg.languages, "unknown_language"),
            ("rank", self.ranks, cfg.ranks, "unknown_rank"),
            ("rank_at_least", (self.rank_at_least or cfg.ranks[0],), cfg.ranks, "unknown_rank"),
            ("status", self.statuses, STATUSES, "unknown_status"),
            ("tenure_band", self.tenure_bands, [b for b, _ in TENURE_BANDS], "unknown_tenure_band"),
            (
                "training_tier",
                self.training_tiers,
                [t for t, _ in TRAINING_TIERS],
                "unknown_training_tier",
            ),
        ]
        for field, values, allowed, code in rules:
            for value in values:
                if value not in allowed:
                    raise BadFilter(field, value, code, _not_one_of(allowed, value))
        for year in self.cohorts:
            if not 1900 <= year <= 2999:
                raise BadFilter("cohort", year, "bad_cohort", "is not a year such as 2024")
        return self

    def with_period(self, period: Period, as_of: dt.date | None = None) -> SegmentFilter:
        """Return the same segment for another period (and as-of date)."""
        return self.model_copy(update={"period": period, "as_of": as_of})

    def segment_only(self) -> SegmentFilter:
        """Return the filter without its segment restrictions: the company, same period."""
        return SegmentFilter(period=self.period, as_of=self.as_of, compare=self.compare)

    def is_everyone(self) -> bool:
        """Return whether the filter restricts nothing but the period."""
        return self == self.segment_only()

    def describe(self) -> str:
        """Return the segment and period in words, for captions and exports."""
        who = "all sellers"
        if self.statuses:
            who = f"{_and(self.statuses)} sellers"
        if self.rank_at_least:
            who += f" at {self.rank_at_least} and above"
        if self.ranks:
            who += f" ranked {_and(self.ranks)}"
        if self.markets:
            who += f" in {_and(self.markets)}"
        if self.languages:
            who += f" speaking {_and(self.languages)}"
        if self.tenure_bands:
            who += f" with tenure {_and(self.tenure_bands)}"
        if self.training_tiers:
            who += f" in training tier {_and(self.training_tiers)}"
        if self.cohorts:
            who += f" enrolled in {_and([str(c) for c in self.cohorts])}"
        when = self.period.describe()
        if self.as_of is not None:
            when += f", as of {self.as_of.isoformat()}"
        return f"{who}, {when}"


def _and(values) -> str:
    values = [str(v) for v in values]
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} and {values[-1]}"
