"""Customer lifetime value: BG/NBD purchases times Gamma-Gamma spend, month by month,
discounted. The two models live in `_bgnbd.py` and `_gamma_gamma.py`.
"""

from __future__ import annotations

import math

import numpy as np

from cxm.metrics.clv._bgnbd import BgNbdFit, _horizon
from cxm.metrics.clv._errors import ModelError
from cxm.metrics.clv._gamma_gamma import GammaGammaFit
from cxm.metrics.clv._inputs import as_array, customers, pairs

#: Time units per month, as lifetimes counts them: 4.345 weeks, 30 days.
PER_MONTH = {"W": 4.345, "D": 30.0}


def customer_value(
    fit: BgNbdFit,
    gg: GammaGammaFit,
    frequency,
    recency,
    T,
    monetary,
    *,
    months: int = 12,
    monthly_discount: float = 0.01,
    unit: str = "W",
) -> np.ndarray:
    """Return each customer's discounted expected spend over the next ``months``, in currency.

    sum over months i = 1..H of (E[Y(i u)] - E[Y((i-1) u)]) E(M) / (1 + d)^i, with u the
    month in the data's time unit (4.345 weeks or 30 days), E[Y] the BG/NBD expectation
    (eq. 10) and E(M) the Gamma-Gamma expected spend: the scheme of lifetimes'
    ``customer_lifetime_value``, so the two agree. A purchase in month i is discounted as if
    it fell at the month's end.

    >>> fit = BgNbdFit(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> gg = GammaGammaFit(p=6.25, q=3.74, gamma=15.44)
    >>> float(customer_value(fit, gg, [0], [0.0], [38.86], [0.0], months=0)[0])
    0.0
    """
    d = _checked(months, monthly_discount, unit)
    x, tx, age = customers(frequency, recency, T)
    spend = gg.expected_spend(x, as_array(monetary, "monetary"))
    ts = np.arange(months + 1) * PER_MONTH[unit]
    factor, inverse = fit._factor(x, age, ts)
    discounted = np.diff(factor, axis=1) @ (1.0 + d) ** -np.arange(1.0, months + 1)
    return discounted[inverse] * fit._p_alive(x, tx, age) * spend


def _checked(months, monthly_discount, unit: str) -> float:
    """Return the monthly discount rate after checking the value's terms."""
    if unit not in PER_MONTH:
        raise ModelError("bad_unit", f'unit "{unit}" is not W (weeks) or D (days)')
    if not (isinstance(months, int) and 0 <= months <= 1200):
        raise ModelError("bad_input", f"months = {months!r} must be a whole number 0 to 1200")
    d = float(monthly_discount)
    if not (math.isfinite(d) and d > -1):
        raise ModelError("bad_input", f"monthly_discount = {d!r} must be a rate above -1")
    return d


def scores(
    fit: BgNbdFit,
    gg: GammaGammaFit,
    frequency,
    recency,
    T,
    monetary,
    *,
    horizon: float,
    months: int = 12,
    monthly_discount: float = 0.01,
    unit: str = "W",
) -> dict[str, np.ndarray]:
    """Return each customer's ``p_alive``, ``purchases`` (expected over ``horizon``),
    ``spend`` (expected per purchase) and ``value`` (`customer_value`).

    The numbers `BgNbdFit.p_alive`, `BgNbdFit.expected_purchases`,
    `GammaGammaFit.expected_spend` and `customer_value` give, to the last bit (the same
    operations on the same numbers), with what they share computed once: P(alive), and the
    customers' distinct (x, T) pairs (a join of every customer, the most of a scoring's time
    at millions of customers).

    >>> fit = BgNbdFit(r=1.0, alpha=1.0, a=1.0, b=2.0)
    >>> gg = GammaGammaFit(p=2.0, q=3.0, gamma=10.0)
    >>> s = scores(fit, gg, [1], [1.0], [1.0], [30.0], horizon=0.0)
    >>> float(s["p_alive"][0]), float(s["purchases"][0]), float(s["spend"][0])
    (0.6666666666666666, 0.0, 20.0)
    """
    d = _checked(months, monthly_discount, unit)
    t = _horizon(horizon)
    x, tx, age = customers(frequency, recency, T)
    spend = gg.expected_spend(x, as_array(monetary, "monetary"))
    alive = fit._p_alive(x, tx, age)
    xu, tu, inverse = pairs(x, age)
    purchases = fit._factor_of(xu, tu, np.array([t]))[inverse, 0] * alive
    factor = fit._factor_of(xu, tu, np.arange(months + 1) * PER_MONTH[unit])
    discounted = np.diff(factor, axis=1) @ (1.0 + d) ** -np.arange(1.0, months + 1)
    value = discounted[inverse] * alive * spend
    return {"p_alive": alive, "purchases": purchases, "spend": spend, "value": value}
