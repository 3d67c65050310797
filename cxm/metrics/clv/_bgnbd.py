"""The BG/NBD model of repeat purchasing (Fader, Hardie and Lee 2005, "Counting your customers
the easy way"): its maximum-likelihood fit and its two predictions. Time is in the unit of the
summary (weeks by default); spend lives in `_gamma_gamma.py`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.special import expit, gammaln, psi

from cxm.metrics.clv import _kernels
from cxm.metrics.clv._errors import ModelError
from cxm.metrics.clv._inputs import customers, merged, pairs
from cxm.metrics.clv._optimize import maximise

#: Relative tolerance and iteration cap of the eq. 10 series.
SERIES_TOLERANCE, SERIES_CAP = 1e-15, 100_000


class SeriesCapped(UserWarning):
    """The eq. 10 series of some customers stopped at SERIES_CAP terms (z very close to 1)."""


@dataclass(frozen=True)
class BgNbdFit:
    """A fitted BG/NBD model: purchase rate ~ Gamma(r, rate alpha), dropout p ~ Beta(a, b).

    ``alpha`` is in the time unit of the data it was fitted on (weeks from `summary`).
    ``standard_errors`` come from the inverse observed information (None when it is singular);
    ``converged`` is False when a parameter ran to a bound or the gradient is not flat, and
    ``notes`` says which.

    >>> fit = BgNbdFit(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> float(fit.p_alive([0], [0], [38.86])[0])
    1.0
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float | None = None
    standard_errors: Mapping[str, float | None] = field(default_factory=dict)
    n_customers: int = 0
    converged: bool = True
    notes: tuple[str, ...] = ()
    iterations: int = 0

    def __post_init__(self):
        for name in ("r", "alpha", "a", "b"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ModelError("bad_input", f"BG/NBD parameter {name} = {value!r} must be > 0")

    @property
    def params(self) -> dict[str, float]:
        """Return r, alpha, a, b by name."""
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    def to_dict(self) -> dict:
        """Return the fit as plain JSON-ready data."""
        out = asdict(self)
        return {
            "model": "bg_nbd",
            "params": self.params,
            "standard_errors": dict(self.standard_errors),
            **{
                k: (list(v) if k == "notes" else v)
                for k, v in out.items()
                if k not in {"r", "alpha", "a", "b", "standard_errors"}
            },
        }

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        """Return the probability that each customer is still active at T (0..1).

        The paper's eq. 11 (and the note "Computing P(alive) using the BG/NBD model"):
        P(alive) = 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)), computed as
        expit of minus the log of the second term, so it never overflows. A customer with no
        repeat purchase is alive with probability 1 (in BG/NBD, dropout follows a purchase).

        >>> fit = BgNbdFit(r=1.0, alpha=1.0, a=1.0, b=2.0)
        >>> float(fit.p_alive([1], [1.0], [1.0])[0])   # 1/(1 + 1/2 * 1)
        0.6666666666666666
        """
        x, tx, age = customers(frequency, recency, T)
        return self._p_alive(x, tx, age)

    def _p_alive(self, x, tx, age) -> np.ndarray:
        out = np.empty_like(x)
        _kernels.log_dead_odds(self.r, self.alpha, self.a, self.b, x, tx, age, out)
        return expit(-out)

    def expected_purchases(self, t: float, frequency, recency, T) -> np.ndarray:
        """Return each customer's expected number of purchases in the next ``t`` time units.

        The paper's eq. 10: E[Y(t) | x, t_x, T] = (a+b+x-1)/(a-1)
        [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)] * P(alive),
        z = t/(alpha+T+t). The hypergeometric part goes through Euler's transformation to
        2F1(a+b-1-r, a-1; a+b+x-1; z), whose series has no large terms for heavy buyers, and the
        1/(a-1) factor is taken analytically (-expm1((a-1) log1p(-z))/(a-1), -log1p(-z) in the
        limit a = 1), so the result is finite wherever the parameters are. The series is summed
        to a relative 1e-15; a `SeriesCapped` warning says when some stopped at 100,000 terms.

        >>> fit = BgNbdFit(r=1.0, alpha=1.0, a=1.0, b=2.0)
        >>> round(float(fit.expected_purchases(0.0, [3], [2.0], [4.0])[0]), 12)
        0.0
        """
        x, tx, age = customers(frequency, recency, T)
        factor, inverse = self._factor(x, age, np.array([_horizon(t)]))
        return factor[inverse, 0] * self._p_alive(x, tx, age)

    def expected_purchases_over(self, ts, frequency, recency, T) -> list[np.ndarray]:
        """Return `expected_purchases` for each horizon of ``ts``: the same numbers, with the
        customers' distinct (x, T) pairs and P(alive) found once for all horizons.

        >>> fit = BgNbdFit(r=1.0, alpha=1.0, a=1.0, b=2.0)
        >>> [round(float(e[0]), 12) for e in fit.expected_purchases_over([0.0], [3], [2.0], [4.0])]
        [0.0]
        """
        x, tx, age = customers(frequency, recency, T)
        factor, inverse = self._factor(x, age, np.array([_horizon(t) for t in ts]))
        alive = self._p_alive(x, tx, age)
        return [factor[inverse, j] * alive for j in range(len(ts))]

    def _factor(self, x, age, ts) -> tuple[np.ndarray, np.ndarray]:
        """Return (a+b+x-1) [1 - (1-z)^(r+x) 2F1(...)] / (a-1) per distinct (x, T) and horizon,
        and the row of each customer in it (the factor does not depend on recency)."""
        xu, tu, inverse = pairs(x, age)
        return self._factor_of(xu, tu, ts), inverse

    def _factor_of(self, xu, tu, ts) -> np.ndarray:
        """Return `_factor`'s values for the distinct (x, T) pairs ``xu``, ``tu``."""
        out = np.empty((len(xu), len(ts)))
        capped = _kernels.purchase_factor(
            self.r, self.alpha, self.a, self.b, xu, tu, ts, SERIES_TOLERANCE, SERIES_CAP, out
        )
        if capped:
            warnings.warn(
                SeriesCapped(
                    f"{capped} eq. 10 series stopped at {SERIES_CAP:,} terms (a horizon much "
                    "longer than alpha + T); those expectations are close, not exact"
                ),
                stacklevel=4,
            )
        return out


def _horizon(t) -> float:
    t = float(t)
    if not (math.isfinite(t) and t >= 0):
        raise ModelError("bad_input", f"the horizon t = {t!r} must be a finite number >= 0")
    return t


def log_likelihood(params, x, tx, age, weights, by_x=None, tables=None) -> tuple[float, np.ndarray]:
    """Return the BG/NBD log-likelihood (eq. 6) summed over customers, and its gradient.

    ln L = ln G(r+x) - ln G(r) + r ln alpha + ln G(a+b) + ln G(b+x) - ln G(b) - ln G(a+b+x)
           + ln[(alpha+T)^-(r+x) + [x>0] a/(b+x-1) (alpha+t_x)^-(r+x)]
    The gradient is analytic: digamma for the gamma terms, the log-sum-exp's weights for the
    last one. ``weights`` counts the customers who share a row; ``by_x`` is
    `by_frequency` of them and ``tables`` `_kernels.bgnbd_tables` of x, tx and age, passed in
    so a fit computes them once.
    """
    r, alpha, a, b = (float(v) for v in params)
    tables = _kernels.bgnbd_tables(x, tx, age) if tables is None else tables
    ll, g_r, g_alpha, g_a, g_b = _kernels.bgnbd_rows(r, alpha, a, b, x, tx, age, weights, *tables)
    xs, wx = by_frequency(x, weights) if by_x is None else by_x
    n = wx.sum()
    ll += float(
        wx @ (gammaln(r + xs) + gammaln(b + xs) - gammaln(a + b + xs))
        + n * (-gammaln(r) + r * math.log(alpha) + gammaln(a + b) - gammaln(b))
    )
    g_r += float(wx @ psi(r + xs) + n * (math.log(alpha) - psi(r)))
    g_alpha += n * r / alpha
    g_a += float(n * psi(a + b) - wx @ psi(a + b + xs))
    g_b += float(wx @ (psi(b + xs) - psi(a + b + xs)) + n * (psi(a + b) - psi(b)))
    return ll, np.array([g_r, g_alpha, g_a, g_b])


def by_frequency(x: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the distinct frequencies and the total weight of each."""
    xs, inverse = np.unique(x, return_inverse=True)
    return xs, np.bincount(inverse, weights=weights)


def fit_bgnbd(frequency, recency, T) -> BgNbdFit:
    """Return the maximum-likelihood BG/NBD fit to customers' frequency, recency and age.

    Customers with identical (x, t_x, T) are merged with a weight first. The search is
    L-BFGS-B on log-parameters in [1e-6, 1e6] with the analytic gradient; standard errors in
    natural units come from the inverse of the Hessian, by finite differences of that
    gradient.

    Raises
    ------
    ModelError
        ``bad_input`` (see `customers`), ``too_few_customers`` (fewer than 2),
        ``no_observation_time`` (every T is 0), ``no_repeat_buyers`` (every x is 0).
    """
    x, tx, age = customers(frequency, recency, T)
    n = len(x)
    if n < 2:
        raise ModelError("too_few_customers", f"BG/NBD needs at least 2 customers; got {n}")
    if not (age > 0).any():
        raise ModelError(
            "no_observation_time",
            f"all {n:,} customers have age T = 0 (first bought on the calibration end): "
            "move the calibration end later",
        )
    if not (x > 0).any():
        raise ModelError(
            "no_repeat_buyers",
            f"none of the {n:,} customers bought on a second day by the calibration end, so "
            "dropout cannot be estimated: use a longer calibration period",
        )
    (xu, txu, tu), w = merged(x, tx, age)
    by_x = by_frequency(xu, w)
    tables = _kernels.bgnbd_tables(xu, txu, tu)
    start = (1.0, max(float(w @ tu) / max(float(w @ xu), 1.0), 1e-3), 1.0, 1.0)
    best = maximise(
        ("r", "alpha", "a", "b"),
        lambda p: log_likelihood(p, xu, txu, tu, w, by_x, tables),
        start,
        float(n),
    )
    r, alpha, a, b = best.params
    return BgNbdFit(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        log_likelihood=best.log_likelihood,
        standard_errors=dict(zip(("r", "alpha", "a", "b"), best.standard_errors, strict=True)),
        n_customers=n,
        converged=best.converged,
        notes=best.notes,
        iterations=best.iterations,
    )
