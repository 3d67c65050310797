"""Numbers and dates formatted for people: 1.2M, $3.4M, 34.5%, +2.1 pp, 31 Oct 2026; and any
value made safe to put into Markdown (`md_escape`).

The only place the app turns a number into text; pages never format with f-strings. Negative
numbers take a true minus sign (−), a value that rounds to zero carries no sign, and a compact
number moves to the next unit when rounding reaches 1,000 of the current one (999,950 is 1.0M).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import string

_UNITS = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
MINUS = "−"
DASH = "–"


#: Every ASCII punctuation character: CommonMark shows a backslash-escaped one as itself, so
#: escaping them all also turns off Streamlit's own syntax (`:red[...]`, `$math$`, icons).
_MD_SPECIAL = re.compile("([" + re.escape(string.punctuation) + "])")
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def md_escape(value: object, *, keep_lines: bool = False) -> str:
    r"""Return ``value`` as Markdown that shows its text literally: no link, image, HTML,
    emphasis, heading, list, math or colour can come out of it.

    Use it on every value from the data, the configuration, the credentials file or the URL
    that goes into `st.markdown`, `st.caption`, `st.info` / `warning` / `error`, a title or a
    tooltip, exactly once, where the Markdown is assembled. Line breaks and other control
    characters become one space, so a value cannot start a new Markdown block; with
    ``keep_lines=True`` each line is escaped and the lines stay apart (multi-line messages).

    >>> md_escape("![x](http://example.invalid/a.png)")
    '\\!\\[x\\]\\(http\\:\\/\\/example\\.invalid\\/a\\.png\\)'
    >>> md_escape("**bold**\n# head"), md_escape("São Paulo"), md_escape("a\nb", keep_lines=True)
    ('\\*\\*bold\\*\\* \\# head', 'São Paulo', 'a  \nb')
    """
    if keep_lines:
        return "  \n".join(md_escape(line) for line in str(value).splitlines())
    return _MD_SPECIAL.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(value)))


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _signed(text: str, negative: bool) -> str:
    return f"{MINUS}{text}" if negative and text.strip("0.,%") else text


def number(x: float | None, digits: int = 1) -> str:
    """Return a count in compact form.

    >>> number(1234), number(1_234_567), number(999), number(None)
    ('1.2k', '1.2M', '999', '–')
    >>> number(999_950), number(-1500), number(0.04), number(-0.04)
    ('1.0M', '−1.5k', '0.0', '0.0')
    """
    if _missing(x):
        return DASH
    size = abs(x)
    units = [(1.0, "")] + sorted(_UNITS)  # ascending
    pick = 0
    for i, (unit, _) in enumerate(units):
        if size >= unit:
            pick = i
    # Rounding may carry into the next unit: 999,950 is 1.0M, not 1000.0k.
    while pick + 1 < len(units) and round(size / units[pick][0], digits) >= 1000:
        pick += 1
    unit, suffix = units[pick]
    if pick == 0:
        text = f"{size:,.0f}" if float(size).is_integer() else f"{size:,.{digits}f}"
    else:
        text = f"{size / unit:.{digits}f}{suffix}"
    return _signed(text, x < 0)


def money(x: float | None, currency: str = "USD") -> str:
    """Return an amount in compact form with its currency sign.

    >>> money(3_400_000), money(85.5), money(12, "EUR"), money(-5), money(999_999)
    ('$3.4M', '$85.50', 'EUR 12.00', '−$5.00', '$1.0M')
    """
    if _missing(x):
        return DASH
    sign = "$" if currency == "USD" else f"{currency} "
    size = abs(x)
    text = number(size) if size >= 1000 else f"{size:,.2f}"
    return _signed(f"{sign}{text}", x < 0 and text.strip("0.") != "")


def share(x: float | None, digits: int = 1) -> str:
    """Return a 0..1 share as a percentage.

    >>> share(0.3451), share(-0.02), share(-0.0001), share(None)
    ('34.5%', '−2.0%', '0.0%', '–')
    """
    if _missing(x):
        return DASH
    return _signed(f"{abs(x) * 100:.{digits}f}%", x < 0)


def pp(x: float | None, digits: int = 1) -> str:
    """Return a difference of percentages in points, signed; one that rounds to 0 is unsigned.

    >>> pp(2.14), pp(-0.5), pp(-0.04), pp(0.04), pp(None)
    ('+2.1 pp', '−0.5 pp', '0.0 pp', '0.0 pp', '–')
    """
    return signed(x, digits, " pp")


def signed(x: float | None, digits: int = 1, suffix: str = "") -> str:
    """Return a change with its sign (+ or −); a change that rounds to zero has none.

    >>> signed(3.25), signed(-12), signed(0.01, 1, "%")
    ('+3.2', '−12.0', '0.0%')
    """
    if _missing(x):
        return DASH
    text = f"{abs(x):,.{digits}f}"
    if float(text.replace(",", "")) == 0:
        return f"{text}{suffix}"
    return f"{'+' if x > 0 else MINUS}{text}{suffix}"


def score(x: float | None) -> str:
    """Return an NPS-like score, rounded to a whole number.

    >>> score(23.4), score(-7.6), score(-0.2)
    ('23', '−8', '0')
    """
    if _missing(x):
        return DASH
    return _signed(f"{abs(x):.0f}", x < 0)


def hours(x: float | None) -> str:
    """Return a duration given in hours: minutes under an hour, else hours.

    >>> hours(0.25), hours(3.5), hours(50)
    ('15 min', '3.5 h', '50.0 h')
    """
    if _missing(x):
        return DASH
    return f"{x * 60:.0f} min" if x < 1 else f"{x:.1f} h"


def date(d: dt.date | dt.datetime | None) -> str:
    """Return a date as people write it.

    >>> date(dt.date(2026, 10, 31))
    '31 Oct 2026'
    """
    return DASH if d is None else f"{d.day} {d:%b %Y}"


def kpi_value(unit: str, x: float | None, currency: str = "USD") -> str:
    """Return a KPI value in its unit's form.

    >>> kpi_value("share", 0.1875), kpi_value("amount", 84.2), kpi_value("score", -3.4)
    ('18.8%', '$84.20', '−3')
    >>> kpi_value("pp", 51.26), kpi_value("rate", 0.456), kpi_value("count", 489_798)
    ('51.3 pp', '0.46', '489.8k')
    """
    if _missing(x):
        return DASH
    if unit == "share":
        return share(x)
    if unit == "amount":
        return money(x, currency)
    if unit == "score":
        return score(x)
    if unit == "pp":
        return _signed(f"{abs(x):.1f} pp", x < 0)
    if unit == "hours":
        return hours(x)
    if unit in ("rate", "points"):
        return _signed(f"{abs(x):,.2f}", x < 0)
    return number(x)


def kpi_change(unit: str, value: float | None, previous: float | None) -> str:
    """Return the change from ``previous`` to ``value`` as a leader reads it.

    Shares move in points (pp), scores and gaps in points, counts, amounts and rates in %.

    >>> kpi_change("share", 0.21, 0.19), kpi_change("amount", 90, 100)
    ('+2.0 pp', '−10.0%')
    >>> kpi_change("score", 12, 9.5), kpi_change("count", 5, 0), kpi_change("share", 0.2, None)
    ('+2.5 pts', '–', '–')
    """
    if _missing(value) or _missing(previous):
        return DASH
    if unit == "share":
        return pp((value - previous) * 100)
    if unit in ("score", "pp", "points"):
        return signed(value - previous, 1, " pts")
    if previous == 0:
        return DASH
    return signed((value / previous - 1) * 100, 1, "%")
