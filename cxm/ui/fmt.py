"""Numbers and dates formatted for people: 1.2M, $3.4M, 34.5%, +2.1 pp, 31 Oct 2026; and any
value made safe to put into Markdown (`md_escape`).

The only place the app turns a number into text; pages never format with f-strings. Negative
numbers take a true minus sign (−), a value that rounds to zero carries no sign, and a compact
number moves to the next unit when rounding reaches 1,000 of the current one (999,950 is 1.0M).

One unit per quantity, everywhere (tables, titles, tiles, charts, the board pack):

* a share is a percentage (34.5%); a difference of two shares, or a change of one, is in
  percentage points, ``pp`` (+2.1 pp), and so is the experience gap (corporate minus customers)
  and its change;
* a score (NPS, -100..100) is a whole number (23) and a difference of two scores is in points,
  ``pts``, also whole (+3 pts); a mean of 1-5 answers (unit ``points``) has two decimals and
  its change ``pts`` with two decimals;
* counts, amounts and rates change in per cent of the previous value (−10.0%).

A missing value is "–" (`DASH`), never "None" or a blank, and says why where there is a reason
(`missing_reason`: no answers, n under the minimum, a window still open). A change that rounds
to zero at the shown precision carries no sign and no arrow (`change`); one the data cannot
tell from noise (``clear_change`` false) has no arrow either and says "no clear change".
"""

from __future__ import annotations

import datetime as dt
import math
import re
import string
from dataclasses import dataclass

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


def p_value(p: float | None) -> str:
    """Return a p- or q-value as people read it: three decimals, or "< 0.001" below that
    (a p printed "0.000" reads as impossible, not as very small).

    >>> p_value(0.04321), p_value(0.0004), p_value(1.0), p_value(None)
    ('0.043', '< 0.001', '1.000', '–')
    """
    if _missing(p):
        return DASH
    return "< 0.001" if p < 0.0005 else f"{p:.3f}"


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
    """Return the change from ``previous`` to ``value`` as a leader reads it (module docstring).

    >>> kpi_change("share", 0.21, 0.19), kpi_change("amount", 90, 100), kpi_change("pp", 52, 50)
    ('+2.0 pp', '−10.0%', '+2.0 pp')
    >>> kpi_change("score", 12, 9.4), kpi_change("points", 3.5, 3.62), kpi_change("count", 5, 0)
    ('+3 pts', '−0.12 pts', '–')
    """
    if _missing(value) or _missing(previous):
        return DASH
    if unit == "share":
        return pp((value - previous) * 100)
    if unit == "pp":
        return pp(value - previous)
    if unit in ("score", "points"):
        digits = 0 if unit == "score" else 2
        text = signed(value - previous, digits)
        return f"{text} {'pt' if text.lstrip('+' + MINUS) in ('1', '1.00') else 'pts'}"
    if previous == 0:
        return DASH
    return signed((value / previous - 1) * 100, 1, "%")


@dataclass(frozen=True)
class Change:
    """A change as shown: its text and which way an arrow points (0: no arrow).

    ``direction`` is +1 or −1 only when the change is visible at the shown precision and not
    marked inside the noise (``clear`` false); ``clear`` is the report's ``clear_change``
    (None when unknown).
    """

    text: str
    direction: int
    clear: bool | None = None

    def __str__(self) -> str:
        """Return the text, with "no clear change" when a visible change is inside the noise
        (one that rounds to zero reads as it is: "0.0 pp")."""
        if self.clear is False and self.text.startswith(("+", MINUS)):
            return f"no clear change ({self.text})"
        return self.text


def change(
    unit: str, value: float | None, previous: float | None, clear: bool | None = None
) -> Change:
    """Return the change from ``previous`` to ``value`` with the direction of its arrow.

    >>> change("share", 0.2104, 0.2100).direction, str(change("share", 0.2104, 0.2100))
    (0, '0.0 pp')
    >>> change("share", 0.25, 0.21).direction, str(change("share", 0.25, 0.21, clear=False))
    (1, 'no clear change (+4.0 pp)')
    >>> change("amount", 90, 100).direction, change("share", None, 0.2).direction
    (-1, 0)
    >>> str(change("share", 0.2101, 0.21, clear=False)), str(change("score", 9, 8))
    ('0.0 pp', '+1 pt')
    """
    text = kpi_change(unit, value, previous)
    direction = 1 if text.startswith("+") else -1 if text.startswith(MINUS) else 0
    return Change(text, 0 if clear is False else direction, clear)


def metric_delta(
    unit: str,
    value: float | None,
    previous: float | None,
    better: str,
    clear: bool | None = None,
    words: str = "vs previous",
) -> dict:
    """Return the ``delta`` keywords of ``st.metric`` for a change: no arrow and no colour
    when the change rounds to zero, is unknown or is inside the noise.

    >>> metric_delta("share", 0.2104, 0.21, "higher")
    {'delta': '0.0 pp vs previous', 'delta_color': 'off', 'delta_arrow': 'off'}
    >>> metric_delta("amount", 90, 100, "lower")
    {'delta': '-10.0% vs previous', 'delta_color': 'inverse', 'delta_arrow': 'auto'}
    >>> metric_delta("share", None, 0.2, "higher")
    {'delta': None, 'delta_color': 'off', 'delta_arrow': 'off'}

    A visible change inside the noise says so in full (a tile's pill has room for about 20
    characters; the change itself goes in the tile's caption, `noisy_change`):

    >>> metric_delta("share", 0.25, 0.21, "higher", clear=False)
    {'delta': 'no clear change', 'delta_color': 'off', 'delta_arrow': 'off'}
    """
    moved = change(unit, value, previous, clear)
    if moved.text == DASH:
        return {"delta": None, "delta_color": "off", "delta_arrow": "off"}
    if noisy_change(moved):
        return {"delta": "no clear change", "delta_color": "off", "delta_arrow": "off"}
    # st.metric reads the direction from an ASCII minus sign.
    text = f"{str(moved).replace(MINUS, '-', 1)} {words}".strip()
    if not moved.direction:
        return {"delta": text, "delta_color": "off", "delta_arrow": "off"}
    color = "normal" if better == "higher" else "inverse"
    return {"delta": text, "delta_color": color, "delta_arrow": "auto"}


def noisy_change(moved: Change) -> str:
    """Return a visible change the test cannot tell from noise ("+1.8%"), else "".

    >>> noisy_change(change("share", 0.25, 0.21, clear=False)), noisy_change(change("share", 0.25, 0.21))
    ('+4.0 pp', '')
    """  # noqa: E501
    return moved.text if moved.clear is False and moved.text.startswith(("+", MINUS)) else ""


def interval(unit: str, low: float | None, high: float | None, currency: str = "USD") -> str:
    """Return a 95% interval in the KPI's unit, or "–" when there is none.

    >>> interval("share", 0.1812, 0.2034), interval("amount", 80, 90.5), interval("score", None, 3)
    ('18.1% to 20.3%', '$80.00 to $90.50', '–')
    """
    if _missing(low) or _missing(high):
        return DASH
    return f"{kpi_value(unit, low, currency)} to {kpi_value(unit, high, currency)}"


def counted(kpi) -> str:
    """Return what a KPI's n counts (its answers, tickets, orders or sellers), for "no ...".

    >>> from cxm.metrics.kpis import BY_ID
    >>> counted(BY_ID["customer_nps"]), counted(BY_ID["active_rate"])
    ('answers', 'sellers')
    """
    if kpi.category == "experience":
        return "answers"
    if kpi.category == "service":
        return "tickets"
    if "order" in (kpi.base or kpi.denominator or ""):
        return "orders"
    return "sellers"


def missing_reason(
    n: int | None,
    min_n: int,
    *,
    open_windows: int | None = None,
    noun: str = "sellers",
) -> str:
    """Return why a value is missing or not to be read: no one to count, a window still open,
    or a base under the minimum n; "" when there is no reason to give.

    >>> missing_reason(0, 10, noun="answers"), missing_reason(6, 10), missing_reason(40, 10)
    ('no answers', 'under 10: too small to read', '')
    >>> missing_reason(0, 10, open_windows=13)
    'window still open for 13 sellers'
    """
    if open_windows:
        return f"window still open for {open_windows:,} seller{'s' if open_windows != 1 else ''}"
    if n is None or n == 0:
        return f"no {noun}"
    if n < min_n:
        return f"under {min_n}: too small to read"
    return ""
