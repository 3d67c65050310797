"""Report periods: a month (``2026-10``), a quarter (``2026-Q3``) or a year (``2026``).

A period knows its first and last day, the period of the same length before it, and how it is
written. A `Span` is the part of a period the data covers (all of it, or up to an as-of date:
"to date"), and `compared_span` is the one rule for what a span is compared with, like for like
(`PERIOD_RULE`, written into docs/metrics.md). Which data a span holds is the metrics' business.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

from cxm.errors import BadFilter

_FORMS = re.compile(r"^(?P<year>\d{4})(?:-(?:(?P<month>0[1-9]|1[0-2])|Q(?P<quarter>[1-4])))?$")
Kind = Literal["month", "quarter", "year"]
#: What a period is compared with: the period before it, or the same period a year earlier.
Compare = Literal["previous", "year"]
COMPARES: tuple[str, ...] = ("previous", "year")
COMPARE_WORDS = {"previous": "previous period", "year": "a year earlier"}


class Period(BaseModel):
    """A calendar month, quarter or year.

    >>> p = Period.parse("2026-Q3")
    >>> p.start, p.end, str(p.previous())
    (datetime.date(2026, 7, 1), datetime.date(2026, 9, 30), '2026-Q2')
    >>> str(Period.parse("2026-01").previous()), Period.parse("2026").label()
    ('2025-12', '2026')
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Kind
    start: dt.date

    @classmethod
    def parse(cls, text: str, *, field: str = "period") -> Period:
        """Return the period written ``text``; raise `BadFilter` naming ``field`` otherwise."""
        m = _FORMS.match(str(text).strip()) if text is not None else None
        if not m or not text:
            raise BadFilter(
                field,
                text,
                "bad_period",
                "is not a period; write a month 2026-10, a quarter 2026-Q3 or a year 2026",
            )
        year = int(m["year"])
        if m["month"]:
            return cls(kind="month", start=dt.date(year, int(m["month"]), 1))
        if m["quarter"]:
            return cls(kind="quarter", start=dt.date(year, 3 * int(m["quarter"]) - 2, 1))
        return cls(kind="year", start=dt.date(year, 1, 1))

    @classmethod
    def month_of(cls, day: dt.date) -> Period:
        """Return the month that holds ``day``."""
        return cls(kind="month", start=day.replace(day=1))

    @property
    def months(self) -> int:
        """Return the number of calendar months in the period."""
        return {"month": 1, "quarter": 3, "year": 12}[self.kind]

    @property
    def end(self) -> dt.date:
        """Return the last day of the period."""
        last = _add_months(self.start, self.months - 1)
        return last.replace(day=calendar.monthrange(last.year, last.month)[1])

    def previous(self, steps: int = 1) -> Period:
        """Return the period of the same length ``steps`` before this one."""
        return Period(kind=self.kind, start=_add_months(self.start, -self.months * steps))

    def year_earlier(self) -> Period:
        """Return the same period a year earlier (2026-Q4 -> 2025-Q4).

        >>> str(Period.parse("2026-10").year_earlier())
        '2025-10'
        """
        return Period(kind=self.kind, start=self.start.replace(year=self.start.year - 1))

    def label(self) -> str:
        """Return the period as it is written: 2026-10, 2026-Q3 or 2026."""
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}"

    def describe(self) -> str:
        """Return the period in words: October 2026, Q3 2026, 2026."""
        if self.kind == "month":
            return f"{self.start:%B %Y}"
        if self.kind == "quarter":
            return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"
        return str(self.start.year)

    def __str__(self) -> str:
        return self.label()


def parse_compare(text: str | None, *, field: str = "vs") -> str:
    """Return the comparison named ``text`` (previous or year); `BadFilter` naming ``field``.

    >>> parse_compare("year")
    'year'
    """
    if text not in COMPARES:
        raise BadFilter(field, text, "unknown_compare", f"is not one of {', '.join(COMPARES)}")
    return str(text)


_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _is_month_end(day: dt.date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


class Span(BaseModel):
    """The days of a period a number covers: the whole period, or its start to ``end``.

    >>> s = Span.of(Period.parse("2026-Q4"), dt.date(2026, 10, 31))
    >>> s.partial, s.days(), s.label()
    (True, '1–31 Oct', 'Q4 2026 to date (1–31 Oct)')
    >>> Span.of(Period.parse("2026-Q3"), dt.date(2026, 10, 31)).label()
    'Q3 2026'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    period: Period
    end: dt.date

    @classmethod
    def of(cls, period: Period, as_of: dt.date) -> Span:
        """Return the part of ``period`` up to ``as_of`` (the whole period when it ended)."""
        return cls(period=period, end=min(period.end, as_of))

    @property
    def start(self) -> dt.date:
        """Return the first day covered: the period's first day."""
        return self.period.start

    @property
    def partial(self) -> bool:
        """Return whether the span stops before the period's last day ("to date")."""
        return self.end < self.period.end

    def days(self) -> str:
        """Return the days covered: 1–31 Oct, 1 Jan–31 Oct."""
        a, b = self.start, self.end
        if (a.year, a.month) == (b.year, b.month):
            return f"{a.day}–{b.day} {_MONTHS[b.month - 1]}"
        return f"{a.day} {_MONTHS[a.month - 1]}–{b.day} {_MONTHS[b.month - 1]}"

    def label(self, *, to_date: bool = True, days: bool = False) -> str:
        """Return the span in words: the period, and for a partial one the days it covers.

        ``to_date`` says "to date" (the current span); a compared span names its days only,
        and with ``days`` names them even when they are the whole period (a partial span's
        comparison that happens to fill its month).
        """
        if not self.partial:
            return self.period.describe() + (f" ({self.days()})" if days else "")
        return f"{self.period.describe()}{' to date' if to_date else ''} ({self.days()})"


def compared_span(span: Span, compare: str = "previous") -> Span:
    """Return what ``span`` is compared with, like for like (`PERIOD_RULE`).

    The comparison period is the one before (``previous``) or the same one a year earlier
    (``year``). A whole span compares with the whole comparison period; a partial one with
    the same elapsed part of it: the same number of months from the start and the same day
    of the month, a month's last day matching the matching month's last day, a day that month
    lacks clamped to its last day.

    >>> q4 = Span.of(Period.parse("2026-Q4"), dt.date(2026, 10, 31))
    >>> compared_span(q4).label(to_date=False), compared_span(q4, "year").days()
    ('Q3 2026 (1–31 Jul)', '1–31 Oct')
    >>> compared_span(Span.of(Period.parse("2026-03"), dt.date(2026, 3, 30))).days()
    '1–28 Feb'
    """
    period = span.period
    other = period.year_earlier() if parse_compare(compare) == "year" else period.previous()
    if not span.partial:
        return Span(period=other, end=other.end)
    elapsed = (span.end.year - period.start.year) * 12 + span.end.month - period.start.month
    month = _add_months(other.start, elapsed)
    last = calendar.monthrange(month.year, month.month)[1]
    day = last if _is_month_end(span.end) else min(span.end.day, last)
    return Span(period=other, end=month.replace(day=day))


def period_rule_markdown() -> str:
    """Return the comparison rule in words with worked examples, for docs/metrics.md."""

    def row(period: str, as_of: dt.date) -> str:
        span = Span.of(Period.parse(period), as_of)
        prev, year = compared_span(span), compared_span(span, "year")
        return (
            f"| `{period}`, data to {as_of.isoformat()} | {span.label()} "
            f"| {prev.label(to_date=False, days=span.partial)} "
            f"| {year.label(to_date=False, days=span.partial)} |"
        )

    return "\n".join(
        [
            "## Periods and comparisons",
            "",
            PERIOD_RULE,
            "",
            "| period and data | reads as | vs previous period | vs a year earlier |",
            "|---|---|---|---|",
            row("2026-Q3", dt.date(2026, 10, 31)),
            row("2026-Q4", dt.date(2026, 10, 31)),
            row("2026", dt.date(2026, 10, 31)),
            row("2026-10", dt.date(2026, 10, 15)),
            row("2026-03", dt.date(2026, 3, 30)),
            row("2028-02", dt.date(2028, 2, 28)),
        ]
    )


#: The comparison rule in a leader's words (docs/metrics.md; `compared_span` implements it).
PERIOD_RULE = """A number is compared like for like. A period the data covers whole (its last \
day is on or before the as-of date) is compared with the whole period before it, or with the \
same period a year earlier (*vs a year earlier*; `vs=year` in a link, `--compare year` on the \
command line). A period the data stops inside reads as **to date** and names its days \
("Q4 2026 to date (1–31 Oct)"); it is compared with the **same elapsed part** of the \
comparison period: as many months from its start, to the same day of the month. A cut on a \
month's last day matches the last day of the matching month (data to 31 October: Q4 to date \
against 1–31 July, the year to date against 1 January–31 October of the year before); a day \
the matching month lacks is clamped to its last day (1–30 March against 1–28 February). Sums \
and counts (revenue, orders, enrolments) cover the compared days only; numbers taken on a \
day (active sellers, status) are taken on the compared span's last day. Monthly trends mark \
a month the data does not cover whole as *to date*. The seller facts are kept by month; a \
compared span that ends inside one (data to the 15th) takes that month's days from the raw \
orders, activities, enrolments and courses, never the whole month."""


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_starts(first: dt.date, last: dt.date) -> list[dt.date]:
    """Return the first day of every month from ``first``'s month to ``last``'s, in order.

    >>> month_starts(dt.date(2026, 11, 15), dt.date(2027, 1, 2))
    [datetime.date(2026, 11, 1), datetime.date(2026, 12, 1), datetime.date(2027, 1, 1)]
    """
    out, day = [], first.replace(day=1)
    while day <= last:
        out.append(day)
        day = _add_months(day, 1)
    return out
