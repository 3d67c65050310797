"""Maximum likelihood on log-parameters (L-BFGS-B) and standard errors from the observed
information, shared by the BG/NBD and Gamma-Gamma fits. No model maths lives here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

#: Every parameter is kept inside [LOWER, UPPER]; one that ends on a bound is reported.
LOWER, UPPER = 1e-6, 1e6
#: Largest |d mean log-likelihood / d log parameter| still called a maximum.
GRADIENT_TOLERANCE = 1e-5
#: Newton steps taken after L-BFGS-B when it stopped short of a maximum. Its line search can
#: give up a hair away from the optimum ("ABNORMAL"), depending on nothing more than the order
#: the customers come in (1 order in 12 on the 20,000-seller demo): from there, Newton's
#: method on the observed information converges in a step or two.
NEWTON_STEPS = 5

LogLik = Callable[[np.ndarray], tuple[float, np.ndarray]]


@dataclass(frozen=True)
class Optimum:
    """The maximum found: parameters, log-likelihood, standard errors and what to know."""

    params: tuple[float, ...]
    log_likelihood: float
    standard_errors: tuple[float | None, ...]
    converged: bool
    notes: tuple[str, ...]
    iterations: int


def maximise(names: Sequence[str], loglik: LogLik, start: Sequence[float], n: float) -> Optimum:
    """Return the maximum of ``loglik`` (summed log-likelihood and its gradient, natural units).

    The search runs on log-parameters within [LOWER, UPPER], on the mean log-likelihood per
    customer (``n`` is the total weight). A parameter that ends within 0.1% of a bound is named
    in ``notes`` and the fit is not ``converged``: the data do not pin it down.
    """
    lo, hi = math.log(LOWER), math.log(UPPER)
    loglik = _remembered(loglik)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        p = np.exp(theta)
        ll, grad = loglik(p)
        if not math.isfinite(ll):
            return math.inf, np.zeros_like(theta)
        return -ll / n, -(grad * p) / n

    theta0 = np.clip(np.log(np.asarray(start, dtype=float)), lo + 1, hi - 1)
    # BLAS on 4 numbers gains nothing from threads, and OpenBLAS's spinning workers starve the
    # numba kernels of the cores they share: one BLAS thread while the fit runs.
    with threadpool_limits(limits=1, user_api="blas"):
        return _maximise(names, loglik, objective, theta0, n, lo, hi)


def _remembered(loglik: LogLik) -> LogLik:
    """Return ``loglik`` answering again for the two parameter sets it was last asked about
    without computing: the search's last point is measured again after it, and again by the
    Newton step that may follow, which measures its own point again when it rejects it (each
    a pass over every sampled customer, and the same numbers: the likelihood is a function
    of the parameters alone)."""
    last: dict[bytes, tuple[float, np.ndarray]] = {}

    def remembered(params: np.ndarray) -> tuple[float, np.ndarray]:
        key = np.asarray(params, dtype=float).tobytes()
        if key not in last:
            ll, grad = loglik(params)
            if len(last) >= 2:
                del last[next(iter(last))]
            last[key] = (ll, np.array(grad, dtype=float))
        ll, grad = last[key]
        return ll, grad.copy()

    return remembered


def _maximise(names, loglik, objective, theta0, n, lo, hi) -> Optimum:
    def run(start: np.ndarray):
        return minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=[(lo, hi)] * len(names),
            options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20},
        )

    def measured(theta: np.ndarray):
        """Return the parameters, log-likelihood, which ones sit on a bound, the gradient per
        customer and log-parameter, and whether it is flat off the bounds."""
        params = np.exp(theta)
        ll, grad = loglik(params)
        bounded = (theta - lo < 1e-3) | (hi - theta < 1e-3)
        scaled = np.abs(grad * params / n)
        return params, ll, bounded, scaled, bool(np.all(scaled[~bounded] <= GRADIENT_TOLERANCE))

    res = run(theta0)
    theta = np.asarray(res.x, dtype=float)
    params, ll, on_bound, scaled, flat = measured(theta)
    for _ in range(NEWTON_STEPS):
        if flat:
            break
        theta = _newton_step(objective, theta, lo, hi)
        params, ll, on_bound, scaled, flat = measured(theta)
    notes = []
    for i, name in enumerate(names):
        if on_bound[i]:
            side = "lower" if theta[i] - lo < 1e-3 else "upper"
            notes.append(
                f"{name} ran to its {side} bound {LOWER if side == 'lower' else UPPER:g}: "
                "the data do not pin it down"
            )
    if not flat:
        notes.append(
            f"the optimiser stopped ({res.message}) with a gradient of {scaled.max():.2g} "
            "per customer: not a maximum"
        )
    ses = _standard_errors(loglik, params)
    if any(s is None for s in ses):
        notes.append("the information matrix is not positive definite: no standard errors")
    return Optimum(
        params=tuple(float(v) for v in params),
        log_likelihood=float(ll),
        standard_errors=ses,
        converged=flat and not on_bound.any(),
        notes=tuple(notes),
        iterations=int(res.nit),
    )


def _newton_step(objective, theta: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Return ``theta`` after one Newton step on the objective (its Hessian by central
    differences of the analytic gradient), or ``theta`` unchanged when the step does not
    flatten the gradient, raises the objective beyond rounding, or the Hessian is not
    positive definite."""
    value, grad = objective(theta)
    k = len(theta)
    hess = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = 1e-5
        hess[:, i] = (objective(theta + step)[1] - objective(theta - step)[1]) / 2e-5
    hess = (hess + hess.T) / 2
    try:
        np.linalg.cholesky(hess)
        moved = np.clip(theta - np.linalg.solve(hess, grad), lo, hi)
    except np.linalg.LinAlgError:
        return theta
    # Near the optimum the objective moves by less than its rounding: a step predicted to
    # lower it by 5e-11 raised it by 5e-12 in 4.6 (the summing order of 30,000 terms). So the
    # step is judged by its gradient, with the objective only kept from rising past 1e-9.
    new_value, new_grad = objective(moved)
    better = np.abs(new_grad).max() < np.abs(grad).max()
    return moved if better and new_value <= value + 1e-9 * max(abs(value), 1.0) else theta


def _standard_errors(loglik: LogLik, params: np.ndarray) -> tuple[float | None, ...]:
    """Return sqrt(diag(inverse observed information)), the Hessian by central differences of
    the analytic gradient (relative step 1e-5); None for all when it is not invertible."""
    k = len(params)
    hess = np.empty((k, k))
    for i in range(k):
        h = 1e-5 * params[i]
        up, down = params.copy(), params.copy()
        up[i] += h
        down[i] -= h
        hess[:, i] = (loglik(up)[1] - loglik(down)[1]) / (2 * h)
    info = -(hess + hess.T) / 2
    try:
        np.linalg.cholesky(info)
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return (None,) * k
    diag = np.diag(cov)
    if not np.all(np.isfinite(diag)) or np.any(diag <= 0):
        return (None,) * k
    return tuple(float(v) for v in np.sqrt(diag))
