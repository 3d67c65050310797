"""Observation windows: the KPIs that wait a fixed number of days to see an outcome.

A window runs from a subject's day 0 (a seller's enrolment, a customer's first order, the day a
sponsor left) for ``days`` days. It is *closed* on the view's as-of date (the data's as-of, or
the filter's) once its last day is on or before that date; only closed windows are counted, so
an outcome still running is never reported as an outcome. The subjects of a period are named
per window (``subjects``); those whose window is still open are counted apart (``open``
measure) so a page can say how many are still to come. The SQL in `cxm.segments.sql` and the
funnel in `cxm.metrics.cohorts` read these constants; docs/metrics.md is generated from them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

#: Days from enrolment to the first-sale check (a sale on days 0-29 counts).
FIRST_SALE_DAYS = 30
#: Days from enrolment to the 90-day retention check.
RETENTION_DAYS = 90
#: Days from enrolment to the 12-month retention check.
RETENTION_12M_DAYS = 365
#: Days from a customer's first order (of anything, or of a product line) in which an order
#: on a later day counts as a reorder (day 90 counts, day 91 does not).
REORDER_DAYS = 90
#: Days after a sponsor left in which a seller below them leaving counts as following.
SPONSOR_LEFT_DAYS = 90
#: Days from a lead's creation in which its first order or enrolment counts as converting it
#: (the short and the long window of the inbound funnel; day 30 counts, day 31 does not).
LEAD_DAYS = 30
LEAD_DAYS_LONG = 90
#: Days per month of tenure on the cohort curves (month k = day round(k x 30.4375)).
MONTH_DAYS = 30.4375


@dataclass(frozen=True)
class ObservationWindow:
    """One window: its KPIs, length, day 0, which subjects a period holds, and the open count."""

    kpis: tuple[str, ...]
    days: int
    day0: str
    subjects: str
    counted: str  # the measure of closed subjects (the KPI's n)
    open: str  # the measure of the period's subjects whose window is still open


WINDOWS: tuple[ObservationWindow, ...] = (
    ObservationWindow(
        ("first30_sale_rate",),
        FIRST_SALE_DAYS,
        "enrolment",
        "sellers whose day 30 falls in the period",
        "reached_30d",
        "open_30d",
    ),
    ObservationWindow(
        ("seller_retention_90d",),
        RETENTION_DAYS,
        "enrolment",
        "sellers whose day 90 falls in the period",
        "reached_90d",
        "open_90d",
    ),
    ObservationWindow(
        ("seller_retention_12m",),
        RETENTION_12M_DAYS,
        "enrolment",
        "sellers whose day 365 falls in the period",
        "reached_365d",
        "open_365d",
    ),
    ObservationWindow(
        ("customer_retention_90d",),
        REORDER_DAYS,
        "the customer's first order",
        "customers whose day 90 falls in the period",
        "customers_due_90d",
        "customers_open_90d",
    ),
    ObservationWindow(
        ("line_reorder_rate",),
        REORDER_DAYS,
        "the customer's first purchase of the product line",
        "customers whose day 90 after their first purchase of a line falls in the period",
        "line_buyers",
        "line_buyers_open",
    ),
    ObservationWindow(
        ("lead_conversion_30d",),
        LEAD_DAYS,
        "the lead's creation",
        "leads whose day 30 falls in the period",
        "leads_due_30d",
        "leads_open_30d",
    ),
    ObservationWindow(
        ("lead_conversion_90d",),
        LEAD_DAYS_LONG,
        "the lead's creation",
        "leads whose day 90 falls in the period",
        "leads_due_90d",
        "leads_open_90d",
    ),
    ObservationWindow(
        ("churn_after_sponsor_left",),
        SPONSOR_LEFT_DAYS,
        "the day the sponsor was terminated",
        "live sellers whose sponsor was terminated in the period",
        "sponsor_left",
        "sponsor_left_open",
    ),
)


def closes_on(day0: dt.date, days: int) -> dt.date:
    """Return the last day of a window of ``days`` days from ``day0`` (day 0 = ``day0``).

    >>> closes_on(dt.date(2025, 12, 15), SPONSOR_LEFT_DAYS)
    datetime.date(2026, 3, 15)
    """
    return day0 + dt.timedelta(days=days)


@dataclass(frozen=True)
class Example:
    """The worked example of docs/metrics.md: one sponsor who left, two sellers below them.

    ``tests/test_windows.py`` loads these very sellers into a warehouse and checks that the
    KPI reads what `Example.result` says, on both as-of dates.
    """

    period: str = "2025-Q4"
    sponsor_left_on: dt.date = dt.date(2025, 12, 15)
    #: (seller, day they left or None): both enrolled before the sponsor left.
    below: tuple[tuple[str, dt.date | None], ...] = (
        ("A", dt.date(2026, 2, 1)),
        ("B", None),
    )
    seen_on: tuple[dt.date, ...] = (dt.date(2026, 3, 31), dt.date(2026, 2, 28))

    def result(self, as_of: dt.date) -> tuple[float | None, int, int]:
        """Return (value, n, open) of churn after the sponsor left, seen on ``as_of``.

        >>> ex = Example()
        >>> ex.result(dt.date(2026, 3, 31)), ex.result(dt.date(2026, 2, 28))
        ((0.5, 2, 0), (None, 0, 2))
        """
        last = closes_on(self.sponsor_left_on, SPONSOR_LEFT_DAYS)
        if last > as_of:
            return None, 0, len(self.below)
        left = sum(1 for _, on in self.below if on is not None and on <= last)
        return left / len(self.below), len(self.below), 0


def describe_example(ex: Example = Example()) -> str:
    """Return the worked example in words, with the numbers `Example.result` gives."""
    last = closes_on(ex.sponsor_left_on, SPONSOR_LEFT_DAYS)
    (seen, value_seen, n_seen, _), (early, _, _, open_early) = (
        (d, *ex.result(d)) for d in ex.seen_on
    )
    leaver, left_on = next((s, on) for s, on in ex.below if on is not None)
    stayer = next(s for s, on in ex.below if on is None)
    return (
        f"*Worked example* (run by `tests/test_windows.py`): a sponsor left on "
        f"{ex.sponsor_left_on}, in {ex.period}; their window closes on {last}. Below them, "
        f"{leaver} left on {left_on} (day {(left_on - ex.sponsor_left_on).days}) and {stayer} "
        f"stayed. Seen on {seen}, {ex.period} reads {value_seen:.0%} "
        f"(n = {n_seen}): {leaver}'s leaving counts although it came after the quarter ended. "
        f"Seen on {early}, the window is still open: no value, {open_early} sellers open "
        f"(not 0%, and no change)."
    )
