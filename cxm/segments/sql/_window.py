"""The window of a query (its dates and bind parameters) and the segment filter's
conditions, with the constants the seller base's texts share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cxm.config import CompanyConfig
from cxm.segments.filter import Dimension, SegmentFilter
from cxm.segments.periods import Period
from cxm.state.facts import MAXES as FACT_MAXES
from cxm.state.facts import SUMS as FACT_SUMS

#: Days in the window behind "used the app" (ACTIVE_DAYS and NEW_DAYS: the seller state's).
APP_DAYS = 7
#: The attributes each side is asked about, and compared with corporate on (the gap).
CUSTOMER_QUESTIONS = ("quality", "value", "service", "ease", "delivery")
SELLER_QUESTIONS = ("tools", "training", "service", "ease")
CUSTOMER_QS = ", ".join(f"'{q}'" for q in CUSTOMER_QUESTIONS)
SELLER_QS = ", ".join(f"'{q}'" for q in SELLER_QUESTIONS)
#: The month facts summed over a period (flows) and the last days kept (maxima).
FLOW_SUMS = ", ".join(
    [*(f"sum({c}) AS {c}" for c in FACT_SUMS), *(f"max({c}) AS {c}" for c in FACT_MAXES)]
)


@dataclass(frozen=True)
class Window:
    """The dates a query needs: the period's bounds cut at the as-of date, and the day the
    observation windows are seen from (`cxm.state.windows`)."""

    period: Period
    as_of: dt.date  # the day point-in-time measures are taken
    start: dt.date
    end: dt.date  # min(period end, as_of)
    #: The view's as-of date: an observation window counts once it has closed by this day,
    #: even when that is after the period's end. None: ``as_of``.
    observed: dt.date | None = None
    #: The first day of ``as_of``'s month when the facts hold days of it after ``as_of`` (a
    #: compared span ending mid-month): that month is read from the raw tables (`segments.cut`).
    cut: dt.date | None = None
    #: The as-of date of the segments the load stored (`STORED_SEGMENTS`), when known: a
    #: window as of that very day reads each seller's segment from there (``$stored``).
    stored: dt.date | None = None

    @classmethod
    def of(cls, period: Period, as_of: dt.date) -> Window:
        """Return the window of ``period`` seen from ``as_of`` (the period's end, or earlier).

        >>> w = Window.of(Period.parse("2025-Q4"), dt.date(2026, 3, 31))
        >>> w.end, w.observed_on
        (datetime.date(2025, 12, 31), datetime.date(2026, 3, 31))
        """
        at = min(period.end, as_of)
        return cls(period=period, as_of=at, start=period.start, end=at, observed=as_of)

    @property
    def observed_on(self) -> dt.date:
        """Return the day observation windows must have closed by to count."""
        return self.observed or self.as_of

    @property
    def partial(self) -> bool:
        """Return whether the data stop before the period ends."""
        return self.end < self.period.end

    def params(self) -> dict:
        """Return the window's bind parameters."""
        this_month = self.as_of.replace(day=1)
        before = Period.month_of(this_month).previous().start
        return {
            "as_of": self.as_of,
            "start": self.start,
            "end": self.end,
            "m0": this_month,
            "m1": before,
            "period_days": (self.end - self.start).days + 1,
            "observed": self.observed_on,
            "period_end": self.period.end,
            "cut": self.cut,
            "stored": self.stored is not None
            and self.stored == self.as_of == self.end
            and self.cut is None,
        }


def _case(expr: str, bands: tuple[tuple[str, int], ...]) -> str:
    # Labels and thresholds are this package's constants, not user text.
    arms = " ".join(f"WHEN {expr} >= {lo} THEN '{label}'" for label, lo in reversed(bands))
    return f"CASE {arms} END"


def filter_params(where: SegmentFilter, cfg: CompanyConfig) -> dict:
    """Return the bind parameters of the segment filter (the scope is the data's own)."""

    def listed(values):
        return list(values) if values else None

    return {
        "f_markets": listed(where.markets),
        "f_languages": listed(where.languages),
        "f_ranks": listed(where.ranks),
        "f_rank_min": cfg.rank_index(where.rank_at_least) if where.rank_at_least else None,
        "f_statuses": listed(where.statuses),
        "f_tenure": listed(where.tenure_bands),
        "f_tiers": listed(where.training_tiers),
        "f_cohorts": listed(where.cohorts),
    }


#: The conditions `filter_params` binds; applied to the seller base.
SEGMENT_WHERE = """
    ($f_markets IS NULL OR list_contains($f_markets, market))
    AND ($f_languages IS NULL OR list_contains($f_languages, language))
    AND ($f_ranks IS NULL OR list_contains($f_ranks, rank))
    AND ($f_rank_min IS NULL OR rank_index >= $f_rank_min)
    AND ($f_statuses IS NULL OR list_contains($f_statuses, status))
    AND ($f_tenure IS NULL OR list_contains($f_tenure, tenure_band))
    AND ($f_tiers IS NULL OR list_contains($f_tiers, training_tier))
    AND ($f_cohorts IS NULL OR list_contains($f_cohorts, cohort))"""


def dimension_columns(by: tuple[Dimension, ...]) -> list[str]:
    """Return the base columns of the dimensions (their names are the enum's values)."""
    return [Dimension(d).value for d in by]
