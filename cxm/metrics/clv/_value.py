"""Customer lifetime value: BG/NBD purchases times Gamma-Gamma spend, month by month,
discounted. The two models live in `_bgnbd.py` and `_gamma_gamma.py`.
"""

from __future__ import annotations

import math

import numpy as np

from cxm.metrics.clv._bgnbd import BgNbdFit
from cxm.metrics.clv._errors import ModelError
from cxm.metrics.clv._gamma_gamma import GammaGammaFit
from cxm.metrics.clv._inputs import as_array, customers

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
    if unit not in PER_MONTH:
        raise ModelError("bad_unit", f'unit "{unit}" is not W (weeks) or D (days)')
    if not (isinstance(months, int) and 0 <= months <= 1200):
        raise ModelError("bad_input", f"months = {months!r} must be a whole number 0 to 1200")
    d = float(monthly_discount)
    if not (math.isfinite(d) and d > -1):
        raise ModelError("bad_input", f"monthly_discount = {d!r} must be a rate above -1")
    x, tx, age = customers(frequency, recency, T)
    spend = gg.expected_spend(x, as_array(monetary, "monetary"))
    ts = np.arange(months + 1) * PER_MONTH[unit]
    factor, inverse = fit._factor(x, age, ts)
    discounted = np.diff(factor, axis=1) @ (1.0 + d) ** -np.arange(1.0, months + 1)
    return discounted[inverse] * fit._p_alive(x, tx, age) * spend
