"""Numbers and dates formatted for people: 1.2M, $3.4M, 34.5%, +2.1 pp, 31 Oct 2026.

The only place the app turns a number into text; pages never format with f-strings.
"""

from __future__ import annotations

import datetime as dt
import math

_UNITS = ((1e9, "B"), (1e6, "M"), (1e3, "k"))


def number(x: float | None, digits: int = 1) -> str:
    """Return a count in compact form.

    >>> number(1234), number(1_234_567), number(999), number(None)
    ('1.2k', '1.2M', '999', '–')
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    for size, suffix in _UNITS:
        if abs(x) >= size:
            return f"{x / size:.{digits}f}{suffix}"
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.{digits}f}"


def money(x: float | None, currency: str = "USD") -> str:
    """Return an amount in compact form with its currency sign.

    >>> money(3_400_000), money(85.5), money(12, "EUR")
    ('$3.4M', '$85.50', 'EUR 12.00')
    """
    if x is None:
        return "–"
    sign = "$" if currency == "USD" else f"{currency} "
    text = number(x) if abs(x) >= 1000 else f"{x:,.2f}"
    return f"{sign}{text}"


def share(x: float | None, digits: int = 1) -> str:
    """Return a 0..1 share as a percentage.

    >>> share(0.3451)
    '34.5%'
    """
    return "–" if x is None else f"{x * 100:.{digits}f}%"


def pp(x: float | None, digits: int = 1) -> str:
    """Return a difference of percentages in points, signed.

    >>> pp(2.14), pp(-0.5)
    ('+2.1 pp', '−0.5 pp')
    """
    if x is None:
        return "–"
    return f"{'+' if x >= 0 else '−'}{abs(x):.{digits}f} pp"


def date(d: dt.date | dt.datetime | None) -> str:
    """Return a date as people write it.

    >>> date(dt.date(2026, 10, 31))
    '31 Oct 2026'
    """
    return "–" if d is None else f"{d.day} {d:%b %Y}"
