"""The statistics of an experiment's readout, on numpy arrays (docs/experiments.md).

Lift per KPI with a fixed-horizon Welch interval and an always-valid (mSPRT) interval, CUPED
with each unit's pre-period value of the same KPI, the delta-method relative interval, the
sample-ratio check, Benjamini-Hochberg across KPIs and segments, power (minimum detectable
effect, units needed) and the decision in words. Nothing here reads the warehouse:
`cxm.experiments.readout` passes the per-unit values it read through `Scoped`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

import numba as nb
import numpy as np
from scipy import stats as sps

from cxm.errors import ExperimentError
from cxm.metrics.stats import benjamini_hochberg

#: A sample-ratio check fails below this chi-square p-value (the usual 0.001: a real split
#: fails it once in a thousand experiments, so a failure means the assignment is broken).
SRM_P = 0.001


@dataclass(frozen=True)
class Effect:
    """The effect of the treatment on one KPI (in one segment) of one experiment.

    ``lift`` is treatment minus control in the KPI's own unit (CUPED-adjusted when ``cuped``);
    ``ci_*`` its fixed-horizon interval, ``seq_ci_*`` its always-valid interval, ``rel_*`` the
    same lift over the control mean. ``q_value`` is filled by `adjust`.
    """

    kpi: str
    segment: str | None
    n_control: int
    n_treatment: int
    mean_control: float
    mean_treatment: float
    lift: float
    lift_rel: float
    ci_low: float
    ci_high: float
    rel_ci_low: float
    rel_ci_high: float
    p_value: float
    seq_ci_low: float
    seq_ci_high: float
    seq_p_value: float
    cuped: bool
    variance_reduction: float
    q_value: float | None = None
    #: the standard error of ``lift`` (after CUPED), in the KPI's unit
    se: float = math.nan


@dataclass(frozen=True)
class SampleRatio:
    """The sample-ratio check: did the split come out as planned?"""

    n_control: int
    n_treatment: int
    planned_share: float
    observed_share: float
    p_value: float
    ok: bool


def _check_share(share: float, field: str = "share") -> float:
    if not (isinstance(share, int | float) and 0 < share < 1):
        raise ExperimentError(field, share, "bad_share", "is not strictly between 0 and 1")
    return float(share)


def _check_probability(value: float, field: str) -> float:
    if not (isinstance(value, int | float) and 0 < value < 1):
        raise ExperimentError(field, value, "bad_probability", "is not strictly between 0 and 1")
    return float(value)


def _as_2d(a, field: str, rows: int | None = None) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or (rows is not None and a.shape[0] != rows):
        raise ExperimentError(
            field,
            f"shape {a.shape}",
            "shape_mismatch",
            f"does not have one row per unit ({rows} units)",
        )
    return a


def tau2_default(variance, alpha: float = 0.05) -> np.ndarray:
    """Return the mixture variance tau^2 GrowthBook's default gives when tuned at the units read.

    With the tuning sample at the N units read, rho^2 = (-2 ln a + ln(1 - 2 ln a)) / N and
    tau^2 = rho^2 N V = (-2 ln a + ln(1 - 2 ln a)) V, V the variance of the lift estimate:
    the always-valid half-width is then a fixed 3.03 standard errors at alpha 0.05.

    >>> round(float(tau2_default(1.0)), 4)
    7.9362
    """
    c = -2 * math.log(alpha) + math.log(1 - 2 * math.log(alpha))
    return c * np.asarray(variance, dtype=np.float64)


def sequential_halfwidth(variance, tau2, alpha: float = 0.05) -> np.ndarray:
    """Return the half-width of the always-valid (mSPRT) interval of an estimate.

    Johari et al. (2017): with the estimate ~ N(lift, V) and the mixture lift ~ N(0, tau^2),
    the likelihood ratio is L = sqrt(V / (V + t)) exp(t d^2 / (2 V (V + t))); the interval is
    every lift L does not reject at 1 / alpha: d +/- sqrt(V (V + t) / t (2 ln(1/alpha) +
    ln((V + t) / V))). V = 1, t = 1: sqrt(2 (5.991 + 0.693)) = 3.656.

    >>> round(float(sequential_halfwidth(1.0, 1.0)), 3)
    3.656
    """
    v = np.asarray(variance, dtype=np.float64)
    t = np.asarray(tau2, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(v * (v + t) / t * (-2 * math.log(alpha) + np.log((v + t) / v)))


def sequential_p(lift, variance, tau2) -> np.ndarray:
    """Return the always-valid p-value min(1, 1 / L) of the mixture likelihood ratio L.

    It falls under alpha exactly when the always-valid interval excludes zero.

    >>> round(float(sequential_p(3.656, 1.0, 1.0)), 3)
    0.05
    """
    d, v, t = (np.asarray(a, dtype=np.float64) for a in (lift, variance, tau2))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_l = 0.5 * np.log(v / (v + t)) + t * d * d / (2 * v * (v + t))
        return np.minimum(1.0, np.exp(-log_l))


#: Units per block of the moments kernel's parallel pass.
_BLOCK = 65_536


@nb.njit(cache=True, nogil=True)
def _sums_block(y, x, treated, cy, cx, use_x, lo, hi, acc):  # pragma: no cover  (compiled)
    """Add to ``acc`` (arm x 8 x column) the count and the sums of y, y^2, x, x^2 and x y of
    rows lo..hi with a y (not NaN) and a pre-period value, centred on (cy, cx); then the count
    of rows with a y but no pre-period value, and their sum of y."""
    k = y.shape[1]
    for i in range(lo, hi):
        g = 1 if treated[i] else 0
        for j in range(k):
            v = y[i, j]
            if v != v:
                continue
            v -= cy[j]
            acc[g, 0, j] += 1.0
            acc[g, 1, j] += v
            acc[g, 2, j] += v * v
            if use_x:
                w = x[i, j]
                if w != w:
                    acc[g, 6, j] += 1.0
                    acc[g, 7, j] += v
                    continue
                w -= cx[j]
                acc[g, 3, j] += w
                acc[g, 4, j] += w * w
                acc[g, 5, j] += w * v


@nb.njit(cache=True, parallel=True, nogil=True)
def _sums_parallel(y, x, treated, cy, cx, use_x):  # pragma: no cover  (compiled)
    """Return `_sums_block`'s sums per block of units, the blocks in parallel."""
    n, k = y.shape
    blocks = (n + _BLOCK - 1) // _BLOCK
    out = np.zeros((blocks, 2, 8, k))
    for b in nb.prange(blocks):
        _sums_block(y, x, treated, cy, cx, use_x, b * _BLOCK, min(n, (b + 1) * _BLOCK), out[b])
    return out


def _sums(y, x, treated, cy, cx, use_x) -> np.ndarray:
    """Return the sums of `_sums_block` over all units (arm x 8 x column): in parallel blocks
    for a large readout, in this thread for a small one (threads cost more than they save)."""
    if len(y) > 4 * _BLOCK:
        return _sums_parallel(y, x, treated, cy, cx, use_x).sum(axis=0)
    acc = np.zeros((2, 8, y.shape[1]))
    _sums_block(y, x, treated, cy, cx, use_x, 0, len(y), acc)
    return acc


def _moments(treated: np.ndarray, y: np.ndarray, x: np.ndarray | None):
    """Return n, mean y, var y, mean x, var x and cov(x, y) of the valid rows, each as
    2 (control, treatment) x KPIs. Sums are taken around a rough centre per column (the mean of
    the first valid rows), so the sums of squares keep their precision."""

    def centre(a):
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN head: centre 0
            head = np.where(np.isnan(y[:4096]), np.nan, a[:4096])  # rows with a y
            return np.nan_to_num(np.nanmean(head, axis=0))

    y = np.ascontiguousarray(y)
    cy = centre(y)
    if x is None:
        xs, cx = y, np.zeros_like(cy)
    else:
        xs, cx = np.ascontiguousarray(x), centre(x)
    s = _sums(y, xs, treated, cy, cx, x is not None)
    n, sy, syy, sx, sxx, sxy, missing, sy_missing = (s[:, m, :] for m in range(8))
    with np.errstate(divide="ignore", invalid="ignore"):
        # a missing pre-period value is the mean of the KPI's units that have one
        fill = np.nan_to_num(sx.sum(axis=0) / (n - missing).sum(axis=0))
        sx, sxx, sxy = sx + missing * fill, sxx + missing * fill**2, sxy + sy_missing * fill
        my, mx = sy / n, sx / n
        vy = (syy - sy * my) / (n - 1)
        if x is None:
            return n, my + cy, vy, None, None, None
        vx = (sxx - sx * mx) / (n - 1)
        cxy = (sxy - sx * my) / (n - 1)
    return n, my + cy, vy, mx + cx, vx, cxy


def effects(
    kpis: Sequence[str],
    Y,
    treated,
    X=None,
    *,
    alpha: float = 0.05,
    segment: str | None = None,
    tau2=None,
) -> list[Effect]:
    """Return one `Effect` per KPI (column of ``Y``), treatment against control.

    Parameters
    ----------
    kpis : one id per column of ``Y``.
    Y : units x KPIs, each unit's value in the experiment window; a NaN is no unit of that KPI
        (not counted in either arm).
    treated : one bool per unit, True for the treatment arm (intent to treat: by assignment).
    X : units x KPIs, each unit's pre-period value of the same KPI, or None for no CUPED. A
        NaN pre-period value is filled with the mean of the KPI's units (no adjustment for that
        unit); a column with no spread is read without CUPED.
    alpha : 1 - the intervals' level.
    tau2 : the mSPRT mixture variance per KPI, in the KPI's unit squared (one number or one per
        KPI); None tunes it at the units read (`tau2_default`).

    Returns
    -------
    list of Effect. CUPED (Deng et al. 2013) uses one theta per KPI for both arms, the within-arm
    pooled slope of y on x, so the lift equals the treatment coefficient of the regression
    y ~ treated + x. An arm with fewer than 2 units gives NaN intervals and p-values.

    Example: control 1, 2, 3 and treatment 3, 4, 5: lift 2, each arm's variance 1, se
    sqrt(2/3) = 0.816, t = 2.449 on Welch df 4 (p 0.0705), t(0.975, 4) = 2.776: 2 +/- 2.267.

    >>> e = effects(["orders"], [1, 2, 3, 3, 4, 5], [0, 0, 0, 1, 1, 1])[0]
    >>> round(e.lift, 3), round(e.ci_low, 3), round(e.ci_high, 3), round(e.p_value, 4)
    (2.0, -0.267, 4.267, 0.0705)
    """
    alpha = _check_probability(alpha, "alpha")
    t_arm = np.asarray(treated)
    if t_arm.ndim != 1:
        raise ExperimentError(
            "treated", f"shape {t_arm.shape}", "shape_mismatch", "is not one arm per unit"
        )
    t_arm = t_arm.astype(bool)
    Y = _as_2d(Y, "Y", len(t_arm))
    if Y.shape[1] != len(kpis):
        raise ExperimentError(
            "kpis",
            list(kpis),
            "shape_mismatch",
            f"names {len(kpis)} KPIs for {Y.shape[1]} columns of values",
        )
    if X is not None:
        X = _as_2d(X, "X", len(t_arm))
        if X.shape != Y.shape:
            raise ExperimentError(
                "X",
                f"shape {X.shape}",
                "shape_mismatch",
                f"does not match the values' shape {Y.shape}",
            )
    n, my, vy, mx, vx, cxy = _moments(t_arm, Y, X)
    (nc, nt), (myc, myt), (vyc, vyt) = n, my, vy
    if X is not None:
        (mxc, mxt), (vxc, vxt), (cc, ct) = mx, vx, cxy
    lift = myt - myc
    var_c, var_t = vyc, vyt
    cuped = np.zeros(len(kpis), dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        v_raw = vyt / nt + vyc / nc
        if X is not None:
            sxx = (nc - 1) * vxc + (nt - 1) * vxt
            cuped = sxx > 0
            theta = np.where(cuped, ((nc - 1) * cc + (nt - 1) * ct) / sxx, 0.0)
            lift = lift - theta * (mxt - mxc)
            var_c = vyc - 2 * theta * cc + theta**2 * vxc
            var_t = vyt - 2 * theta * ct + theta**2 * vxt
        v = var_t / nt + var_c / nc
        se = np.sqrt(v)
        df = v**2 / ((var_t / nt) ** 2 / (nt - 1) + (var_c / nc) ** 2 / (nc - 1))
        q = sps.t.ppf(1 - alpha / 2, df)
        z = np.abs(lift) / se
        p = np.where(se > 0, 2 * sps.t.sf(z, df), np.where(lift == 0, 1.0, 0.0))
        mu_c = myc
        rel = np.where(mu_c != 0, lift / mu_c, np.nan)
        rel_se = np.sqrt(var_t / (nt * mu_c**2) + (mu_c + lift) ** 2 * var_c / (nc * mu_c**4))
        t2 = (
            tau2_default(v, alpha)
            if tau2 is None
            else np.broadcast_to(np.asarray(tau2, dtype=np.float64), v.shape)
        )
        seq_w = sequential_halfwidth(v, t2, alpha)
        seq_p = np.where(se > 0, sequential_p(lift, v, t2), np.where(lift == 0, 1.0, 0.0))
        reduction = np.where(cuped, 1 - v / v_raw, 0.0)
    few = (nc < 2) | (nt < 2)
    for a in (q, p, seq_w, seq_p, rel_se, se):
        a[few] = np.nan
    return [
        Effect(
            kpi=kpi,
            segment=segment,
            n_control=int(nc[k]),
            n_treatment=int(nt[k]),
            mean_control=float(myc[k]),
            mean_treatment=float(myt[k]),
            lift=float(lift[k]),
            lift_rel=float(rel[k]),
            ci_low=float(lift[k] - q[k] * se[k]),
            ci_high=float(lift[k] + q[k] * se[k]),
            rel_ci_low=float(rel[k] - q[k] * rel_se[k]),
            rel_ci_high=float(rel[k] + q[k] * rel_se[k]),
            p_value=float(p[k]),
            seq_ci_low=float(lift[k] - seq_w[k]),
            seq_ci_high=float(lift[k] + seq_w[k]),
            seq_p_value=float(seq_p[k]),
            cuped=bool(cuped[k]),
            variance_reduction=float(reduction[k]),
            se=float(se[k]),
        )
        for k, kpi in enumerate(kpis)
    ]


def effect(
    kpi: str,
    y,
    treated,
    x=None,
    *,
    segment: str | None = None,
    alpha: float = 0.05,
    tau2: float | None = None,
) -> Effect:
    """Return the `Effect` of one KPI: `effects` on a single column (same rules, same numbers).

    >>> e = effect("orders", [1.0, 2.0, 3.0, 3.0, 4.0, 5.0], [0, 0, 0, 1, 1, 1])
    >>> e.n_control, e.n_treatment, e.lift, round(e.lift_rel, 3)
    (3, 3, 2.0, 1.0)
    """
    return effects([kpi], y, treated, x, alpha=alpha, segment=segment, tau2=tau2)[0]


def adjust(
    effects: Sequence[Effect], alpha: float = 0.05, *, sequential: bool = False
) -> list[Effect]:
    """Return the effects with ``q_value``: Benjamini-Hochberg across all of them.

    The q-values (false discovery rate) come from the fixed-horizon p-values, or from the
    always-valid ones with ``sequential``; an effect is a discovery at level alpha when
    q <= alpha (q does not depend on alpha; the argument is kept for the callers' symmetry).

    >>> es = [Effect("a", None, 9, 9, 1, 1, 0, 0, 0, 0, 0, 0, p, 0, 0, p, False, 0.0)
    ...       for p in (0.03, 0.5, 0.01, 0.02)]
    >>> [round(e.q_value, 3) for e in adjust(es)]
    [0.04, 0.5, 0.04, 0.04]
    """
    _check_probability(alpha, "alpha")
    p = np.array([e.seq_p_value if sequential else e.p_value for e in effects], dtype=float)
    q = benjamini_hochberg(p) if len(p) else p
    return [
        replace(e, q_value=None if math.isnan(v) else float(v))
        for e, v in zip(effects, q, strict=True)
    ]


def sample_ratio(n_control: int, n_treatment: int, planned_share: float) -> SampleRatio:
    """Return the sample-ratio check: a chi-square test of the split against the plan.

    Fails (``ok`` False) when p < 0.001. 5,300 treatment of 10,000 planned at half:
    chi2 = 2 x 300^2 / 5,000 = 36, p = 2e-9: broken.

    >>> r = sample_ratio(4700, 5300, 0.5)
    >>> r.observed_share, r.ok, f"{r.p_value:.1e}"
    (0.53, False, '2.0e-09')
    """
    share = _check_share(planned_share, "planned_share")
    n = n_control + n_treatment
    if n == 0:
        return SampleRatio(n_control, n_treatment, share, math.nan, math.nan, False)
    p = float(sps.chisquare([n_control, n_treatment], [n * (1 - share), n * share]).pvalue)
    return SampleRatio(n_control, n_treatment, share, n_treatment / n, p, p >= SRM_P)


def _z(alpha: float, power: float) -> float:
    alpha = _check_probability(alpha, "alpha")
    power = _check_probability(power, "power")
    return float(sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power))


def _spread(sd: float, cuped_r2: float) -> float:
    if not (isinstance(sd, int | float) and sd > 0 and math.isfinite(sd)):
        raise ExperimentError("sd", sd, "bad_spread", "is not a positive number")
    if not (isinstance(cuped_r2, int | float) and 0 <= cuped_r2 < 1):
        raise ExperimentError("cuped_r2", cuped_r2, "bad_spread", "is not in [0, 1)")
    return sd * math.sqrt(1 - cuped_r2)


def mde(
    sd: float,
    n_units: int,
    share: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    cuped_r2: float = 0.0,
) -> float:
    """Return the minimum detectable effect, in the KPI's unit (two-sided test, normal).

    MDE = (z(1 - alpha/2) + z(power)) sd sqrt(1 - r2) sqrt(1 / (n s) + 1 / (n (1 - s))).
    sd 1, 10,000 units, half in treatment: 2.802 x sqrt(4 / 10,000) = 0.056.

    >>> round(mde(1.0, 10_000, 0.5), 4)
    0.056
    """
    share = _check_share(share)
    if not (isinstance(n_units, int | np.integer) and n_units > 0):
        raise ExperimentError("n_units", n_units, "shape_mismatch", "is not a positive count")
    s = _spread(sd, cuped_r2)
    return _z(alpha, power) * s * math.sqrt(1 / (n_units * share) + 1 / (n_units * (1 - share)))


def units_needed(
    effect: float,
    sd: float,
    share: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    cuped_r2: float = 0.0,
) -> int:
    """Return the units (both arms) needed to detect an effect, in the KPI's unit.

    n = (z(1 - alpha/2) + z(power))^2 sd^2 (1 - r2) / effect^2 x (1/s + 1/(1 - s)), rounded up.
    Effect 0.056 at sd 1, half in treatment: 7.849 x 4 / 0.003136 = 10,012.

    >>> units_needed(0.056, 1.0, 0.5)
    10012
    """
    share = _check_share(share)
    if not (isinstance(effect, int | float) and effect != 0 and math.isfinite(effect)):
        raise ExperimentError("effect", effect, "bad_effect", "is not a number other than 0")
    s = _spread(sd, cuped_r2)
    n = (_z(alpha, power) * s / effect) ** 2 * (1 / share + 1 / (1 - share))
    return math.ceil(n - 1e-9)


def _label(kpi: str, labels: Mapping[str, str] | None) -> str:
    return (labels or {}).get(kpi, kpi)


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def decision(
    effects: Sequence[Effect],
    primary: str,
    guardrails: Collection[str],
    *,
    srm: SampleRatio,
    running: bool,
    lower_is_better: Collection[str] = (),
    labels: Mapping[str, str] | None = None,
) -> str:
    """Return the decision in words, from the effects over all units (segment None).

    A running experiment is read on its always-valid intervals (a daily look is safe), a
    finished one on its fixed-horizon intervals. "Better" and "worse" follow each KPI's
    direction (``lower_is_better`` lists the KPIs where down is good). A failed sample-ratio
    check withholds everything.

    >>> from cxm.experiments.stats import sample_ratio
    >>> e = effect("reorder_rate", [0, 0, 1, 0, 1, 1, 1, 1] * 50, [0, 0, 0, 0, 1, 1, 1, 1] * 50)
    >>> decision([e], "reorder_rate", [], srm=sample_ratio(200, 200, 0.5), running=False)
    'Treatment better on reorder_rate, and no guardrail worse.'
    """
    if not srm.ok:
        return (
            f"Readout withheld: the split came out {srm.observed_share:.1%} treatment where "
            f"{srm.planned_share:.0%} was planned (sample-ratio check p = "
            f"{srm.p_value:.1e}); find why the assignment broke before reading any effect."
        )
    overall = {e.kpi: e for e in effects if e.segment is None}
    if primary not in overall:
        raise ExperimentError(
            "primary",
            primary,
            "no_readout",
            "has no readout over all units among the effects given",
        )

    def sign(e: Effect) -> int:
        low, high = (e.seq_ci_low, e.seq_ci_high) if running else (e.ci_low, e.ci_high)
        moved = 1 if low > 0 else -1 if high < 0 else 0
        return -moved if e.kpi in lower_is_better else moved

    p = sign(overall[primary])
    name = _label(primary, labels)
    worse = [_label(g, labels) for g in guardrails if g in overall and sign(overall[g]) < 0]
    harm = f"worse on guardrail {_listed(worse)}" if worse else ""
    if p > 0:
        text = f"Treatment better on {name}, " + (harm or "and no guardrail worse")
    elif p < 0:
        text = f"Treatment worse on {name}" + (f", and {harm}" if harm else "")
    elif running:
        text = (
            f"Keep testing: {name} has not moved beyond chance yet (the always-valid "
            "interval makes a daily look safe)" + (f"; already {harm}" if harm else "")
        )
    else:
        text = f"No effect on {name} the test could see" + (f"; treatment {harm}" if harm else "")
    if running and p != 0:
        text += " (the always-valid interval already excludes zero: the test can stop)"
    return text + "."
