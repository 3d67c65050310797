"""Report periods: a month (``2026-10``), a quarter (``2026-Q3``) or a year (``2026``).

A period knows its first and last day, the period of the same length before it, and how it is
written. Nothing else: which data a period holds is the metrics' business.
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
