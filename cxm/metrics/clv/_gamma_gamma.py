"""The Gamma-Gamma model of average spend per purchase (Fader and Hardie 2013, "The
Gamma-Gamma model of monetary value"): its maximum-likelihood fit on repeat buyers and the
expected average spend per customer. Purchase counts live in `_bgnbd.py`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.special import gammaln, psi

from cxm.metrics.clv import _kernels
from cxm.metrics.clv._errors import ModelError
from cxm.metrics.clv._inputs import as_array
from cxm.metrics.clv._optimize import maximise


@dataclass(frozen=True)
class GammaGammaFit:
    """A fitted Gamma-Gamma model: each purchase ~ Gamma(p, rate nu), nu ~ Gamma(q, rate gamma).

    The population mean spend per purchase is p gamma / (q - 1), finite only for q > 1.
    ``n_customers`` counts the repeat buyers (x >= 1) the fit used.

    >>> GammaGammaFit(p=6.25, q=3.74, gamma=15.44).population_mean   # 6.25*15.44/2.74
    35.21897810218978
    """

    p: float
    q: float
    gamma: float
    log_likelihood: float | None = None
    standard_errors: Mapping[str, float | None] = field(default_factory=dict)
    n_customers: int = 0
    converged: bool = True
    notes: tuple[str, ...] = ()
    iterations: int = 0

    def __post_init__(self):
        for name in ("p", "q", "gamma"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ModelError(
                    "bad_input", f"Gamma-Gamma parameter {name} = {value!r} must be > 0"
                )

    @property
    def params(self) -> dict[str, float]:
        """Return p, q, gamma by name."""
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    @property
    def population_mean(self) -> float:
        """Return the mean spend per purchase over all customers, p gamma / (q - 1)."""
        _require_finite_mean(self.q, self.p, self.gamma)
        return self.p * self.gamma / (self.q - 1)

    def to_dict(self) -> dict:
        """Return the fit as plain JSON-ready data."""
        out = asdict(self)
        return {
            "model": "gamma_gamma",
            "params": self.params,
            "standard_errors": dict(self.standard_errors),
            **{
                k: (list(v) if k == "notes" else v)
                for k, v in out.items()
                if k not in {"p", "q", "gamma", "standard_errors"}
            },
        }

    def expected_spend(self, frequency, monetary) -> np.ndarray:
        """Return each customer's expected average spend per purchase, in the data's currency.

        E(M | x, m) = p (gamma + x m) / (p x + q - 1) (Fader and Hardie 2013, eq. 5): a
        weighted average of the population mean and the customer's own mean m of their
        repeat purchases. A customer with x = 0 gets the population mean p gamma / (q - 1),
        whatever their ``monetary`` holds.

        Raises ``infinite_mean_spend`` when q <= 1.

        >>> fit = GammaGammaFit(p=2.0, q=3.0, gamma=10.0)
        >>> fit.expected_spend([0, 2], [0.0, 30.0]).tolist()   # 2*10/2; 2*(10+60)/(4+2)
        [10.0, 23.333333333333332]
        """
        x = as_array(frequency, "frequency")
        m = as_array(monetary, "monetary")
        if len(x) != len(m):
            raise ModelError(
                "bad_input", f"frequency and monetary have {len(x)} and {len(m)} values"
            )
        mean = self.population_mean
        repeat = x > 0
        _check_spend(x[repeat], m[repeat])
        out = np.full(len(x), mean)
        xr = x[repeat]
        out[repeat] = self.p * (self.gamma + xr * m[repeat]) / (self.p * xr + self.q - 1)
        return out


def _require_finite_mean(q: float, p: float, gamma: float) -> None:
    if q <= 1:
        raise ModelError(
            "infinite_mean_spend",
            f"the Gamma-Gamma fit has q = {q:.4g} <= 1 (p = {p:.4g}, gamma = {gamma:.4g}): "
            "the average spend per purchase has no finite mean, so spend and value cannot be "
            "predicted; check for extreme amounts or use more repeat buyers",
        )


def _check_spend(x: np.ndarray, m: np.ndarray) -> None:
    if (x != np.floor(x)).any() or (x < 0).any() or not np.isfinite(x).all():
        raise ModelError("bad_input", "frequency must hold whole numbers >= 0")
    bad = ~np.isfinite(m) | (m <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ModelError(
            "bad_spend",
            f"{int(bad.sum()):,} repeat buyer(s) have an average spend that is not above 0 "
            f"(the first: frequency {x[i]:g}, monetary {m[i]:g})",
        )


def log_likelihood(params, x, m, fixed=None, rows=None) -> tuple[float, np.ndarray]:
    """Return the Gamma-Gamma log-likelihood of the repeat buyers' mean spends, and its gradient.

    Per customer with x purchases averaging m:
    ln G(px+q) - ln G(px) - ln G(q) + q ln gamma + (px-1) ln m + px ln x - (px+q) ln(gamma+mx).
    ``fixed`` is `constants` of x and m, passed in so a fit computes it once; ``rows`` the
    per-customer sums as a function of gamma (`_rows`), passed in so a fit reuses them.
    """
    p, q, gamma = (float(v) for v in params)
    xs, wx, s_xlogm, s_logm, s_xlogx = constants(x, m) if fixed is None else fixed
    n = wx.sum()
    rows = _rows(x, m) if rows is None else rows
    s_l, s_xl, s_inv, s_xinv = rows(gamma)
    ll = (
        wx @ (gammaln(p * xs + q) - gammaln(p * xs))
        + n * (q * math.log(gamma) - gammaln(q))
        + p * (s_xlogm + s_xlogx - s_xl)
        - s_logm
        - q * s_l
    )
    g_p = wx @ (xs * (psi(p * xs + q) - psi(p * xs))) + s_xlogm + s_xlogx - s_xl
    g_q = wx @ psi(p * xs + q) - n * psi(q) + n * math.log(gamma) - s_l
    g_gamma = n * q / gamma - p * s_xinv - q * s_inv
    return float(ll), np.array([g_p, g_q, g_gamma], dtype=float)


def _rows(x: np.ndarray, m: np.ndarray):
    """Return gamma -> `_kernels.gamma_gamma_rows` over the customers, answering again for
    the last few gammas without a pass: the sums depend on gamma alone, and the Hessian's
    steps in p and in q (standard errors, Newton) keep it (the same numbers, 4 passes of 6)."""
    ones = np.ones_like(x)
    seen: dict[float, tuple] = {}

    def rows(gamma: float) -> tuple:
        if gamma not in seen:
            if len(seen) >= 4:
                del seen[next(iter(seen))]
            seen[gamma] = _kernels.gamma_gamma_rows(gamma, x, m, ones)
        return seen[gamma]

    return rows


def constants(x: np.ndarray, m: np.ndarray) -> tuple:
    """Return the parts of the log-likelihood that do not depend on the parameters."""
    xs, inverse = np.unique(x, return_inverse=True)
    logm = np.log(m)
    return xs, np.bincount(inverse).astype(float), x @ logm, logm.sum(), x @ np.log(x)


def fit_gamma_gamma(frequency, monetary) -> GammaGammaFit:
    """Return the maximum-likelihood Gamma-Gamma fit to repeat buyers' average spends.

    Only customers with x >= 1 are used (a first purchase says nothing about spend, and the
    summary's monetary value leaves it out); pass everyone or just them. Search and standard
    errors as for `fit_bgnbd`.

    Raises
    ------
    ModelError
        ``bad_input`` or ``bad_spend`` (a repeat buyer's monetary value missing or <= 0),
        ``too_few_customers`` (fewer than 2 repeat buyers), ``infinite_mean_spend`` (the fitted
        q <= 1).
    """
    x = as_array(frequency, "frequency")
    m = as_array(monetary, "monetary")
    if len(x) != len(m):
        raise ModelError("bad_input", f"frequency and monetary have {len(x)} and {len(m)} values")
    repeat = x > 0
    xr, mr = np.ascontiguousarray(x[repeat]), np.ascontiguousarray(m[repeat])
    _check_spend(xr, mr)
    if len(xr) < 2:
        raise ModelError(
            "too_few_customers",
            f"the spend model needs at least 2 repeat buyers; there are {len(xr)} among "
            f"{len(x):,} customers",
        )
    start = (1.0, 2.0, float(mr.mean()))
    fixed, rows = constants(xr, mr), _rows(xr, mr)
    best = maximise(
        ("p", "q", "gamma"), lambda v: log_likelihood(v, xr, mr, fixed, rows), start, len(xr)
    )
    p, q, gamma = best.params
    _require_finite_mean(q, p, gamma)
    return GammaGammaFit(
        p=p,
        q=q,
        gamma=gamma,
        log_likelihood=best.log_likelihood,
        standard_errors=dict(zip(("p", "q", "gamma"), best.standard_errors, strict=True)),
        n_customers=len(xr),
        converged=best.converged,
        notes=best.notes,
        iterations=best.iterations,
    )
