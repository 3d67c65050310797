"""95% intervals for KPI values, the test of a change, and the false-discovery control.

Each KPI kind has one method (`method`), written out in `METHODS` (rendered into
docs/metrics.md). The functions take the summed measures of a segment as numpy arrays and
return ``(se, low, high)`` arrays in the KPI's own unit; ``nan`` where no interval applies.
They read no warehouse: `cxm.metrics.compute` passes them the sums it already has.
"""

from __future__ import annotations

import numpy as np
import polars as pl

# scipy.special, not scipy.stats: the same functions underneath (norm.ppf is ndtri, chi2.ppf
# is 2 x gammaincinv), without scipy.stats' import (about a second of a fresh server's first
# page, since every page reads this module).
from scipy import special as sc

from cxm.metrics.kpis import DERIVED_MEASURES, Kpi

#: The confidence level of every interval, and the two-sided normal quantile it uses.
LEVEL = 0.95
Z = float(sc.ndtri(1 - (1 - LEVEL) / 2))
#: A change is "clear" when its two-sided p-value is under this; movers control the false
#: discovery rate across every segment x KPI looked at at the same level.
ALPHA = 0.05

METHODS = """\
Every share and average carries a 95% interval (`se`, `ci_low`, `ci_high` in the KPI's own
unit: shares as 0..1, NPS in points, gaps in pp, amounts in the company currency). `se` is the
standard error the change test uses; the interval is what tables, tiles and hovers show.

- **Shares** (a count of people, answers, tickets or orders over the count they are part
  of; n = the denominator): Wilson score interval; se = sqrt(p (1 - p) / n).
- **Averages** (a ratio whose unit is not a share, and shares of amounts or of net counts:
  autoship share, downline growth; n = the denominator): the ratio estimator, linearised,
  sellers as clusters: var = k / (k - 1) x sum over sellers of (y - R x)^2 / (sum x)^2, with
  R = sum y / sum x and k the sellers in the segment; interval R +/- 1.96 se.
- **NPS** (n = answers): normal approximation, var = (p+ + p- - (p+ - p-)^2) / n, x 100,
  the interval clipped to -100..100.
- **Experience gaps** (corporate minus the segment's top-box share, in points; n = the
  segment's answers): normal approximation, the two shares' variances added,
  var = c (1 - c) / n_c + s (1 - s) / n_s, x 100.
- **Counts** of sellers: Poisson, se = sqrt(count), the exact (Garwood) interval from the
  chi-square quantiles.
- **Sums** (revenue, orders, enrolments, new customers, customer value): compound Poisson,
  se = sqrt(sum over sellers of each seller's value squared); interval sum +/- 1.96 se, not
  below 0.
- **Acquisition costs** (CAC, seller acquisition cost, cost per lead; n = the new customers,
  sellers or leads): the spend is known, the count is read as Poisson: se = value /
  sqrt(count), the interval spend over the count's exact (Garwood) bounds. The starter
  incentives in seller acquisition cost are treated as known too. **CLV/CAC, payback and
  the value of a new customer** have no interval: their spread is the customer-value
  model's (its standard errors are in `clv_fits`), not a count's, and a made-up one would
  mislead.
- **Medians** (first response hours; n = tickets with a response): distribution-free, the
  sorted times at ranks n/2 - 0.98 sqrt(n) and n/2 + 1 + 0.98 sqrt(n) (rounded outward);
  se = the interval's width / 3.92, for the change test.

Shares, NPS and gaps count each answer, ticket or order as independent; those of one
seller's customers are alike more often than not, so these intervals lean narrow (the
averages' cluster method does not). A count of sellers is read as one draw of a process that
could have gone otherwise, which is what a change between periods is tested against.

No interval (null) where the value is null, n is 0, an average rests on a single seller (no
spread between sellers to measure), or the warehouse was loaded before the monthly cube held
the sums of squares an average or a sum needs (reload to fill them).

**The change test.** A change is value minus previous; its se is sqrt(se^2 + previous_se^2) and
`change_p` the two-sided normal p-value of change / se (null when either se is unknown).
`clear_change` is change_p < 0.05: a change inside the noise reads "no clear change" on tiles
and in sentences, with no arrow. A change of exactly 0 with se 0 has p = 1.

**Segments that moved most** test every segment x KPI on the page at once and keep the ones
whose Benjamini-Hochberg q-value (false discovery rate across all of them) is under 0.05,
strongest evidence first (`cxm/metrics/movers.py`). A segment under the company's minimum n
(`min_n` in company.yaml) in either period is not tested, so it never leads; when none
passes, the page says that nothing moved beyond noise and how many segment x KPI changes
were tested.

Worked example (the doctest of `stats.wilson`): 5 of 11 sellers active is 45.5%,
se = sqrt(0.455 x 0.545 / 11) = 15.0 pp; Wilson: centre (5/11 + 1.96^2/22) /
(1 + 1.96^2/11) = 46.6%, half-width 1.96 / 1.349 x sqrt(0.0225 + 0.0079) = 25.4 pp, so
21.3% to 72.0%.
"""


def method(kpi: Kpi) -> str:
    """Return the interval method of one KPI: wilson, ratio, nps, gap, poisson,
    compound_poisson or order_statistic (see `METHODS`).

    >>> from cxm.metrics.kpis import get
    >>> [method(get(k)) for k in ("active_rate", "avg_order_amount", "revenue", "customer_nps")]
    ['wilson', 'ratio', 'compound_poisson', 'nps']
    """
    if kpi.kind == "count":
        return "poisson"
    if kpi.kind == "sum":
        return "compound_poisson"
    if kpi.kind == "median":
        return "order_statistic"
    if kpi.kind in ("nps", "gap"):
        return kpi.kind
    if kpi.grain == "acquisition" and kpi.unit != "share":
        spend = kpi.numerator.startswith("spend") or kpi.numerator == "seller_acquisition_cost"
        return "spend_per_count" if spend else "none"
    binomial = kpi.unit == "share" and kpi.base is None and kpi.numerator not in DERIVED_MEASURES
    return "wilson" if binomial else "ratio"


def moments(kpi: Kpi) -> tuple[str, ...]:
    """Return the per-seller sums of squares and products a KPI's interval needs.

    Names are ``sq__<measure>`` (sum over sellers of the measure squared) and
    ``xy__<numerator>__<denominator>`` (sum of their product); `moment_sql` writes the SQL.

    >>> from cxm.metrics.kpis import get
    >>> moments(get("avg_order_amount"))
    ('sq__revenue_amount', 'sq__orders', 'xy__revenue_amount__orders')
    """
    how = method(kpi) if kpi.grain == "seller" else None
    if how == "compound_poisson":
        return (f"sq__{kpi.numerator}",)
    if how == "ratio":
        y, x = kpi.numerator, kpi.denominator
        return (f"sq__{y}", f"sq__{x}", f"xy__{y}__{x}")
    return ()


def _column(measure: str) -> str:
    if measure in DERIVED_MEASURES:
        plus, less = DERIVED_MEASURES[measure]
        return f"(CAST({plus} AS DOUBLE) - CAST({less} AS DOUBLE))"
    return f"CAST({measure} AS DOUBLE)"


def moment_sql(name: str) -> str:
    """Return the SQL aggregate of one moment column over the seller base.

    >>> moment_sql("xy__revenue_amount__orders")
    'sum(CAST(revenue_amount AS DOUBLE) * CAST(orders AS DOUBLE))'
    """
    kind, *parts = name.split("__")
    a, b = (parts[0], parts[0]) if kind == "sq" else parts
    return f"sum({_column(a)} * {_column(b)})"


def moment_parts(name: str) -> tuple[str, ...]:
    """Return the seller-base columns one moment column reads (a derived measure's parts).

    >>> moment_parts("xy__net_recruits__frontline_at_start")
    ('enrollments', 'recruits_left', 'frontline_at_start')
    """
    _, *parts = name.split("__")
    return tuple(c for p in parts for c in DERIVED_MEASURES.get(p, (p,)))


def is_moment(name: str) -> bool:
    """Return whether a measure name is a moment column (``sq__`` or ``xy__``)."""
    return name.startswith(("sq__", "xy__"))


Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def wilson(successes, n) -> Arrays:
    """Return (se, low, high) of shares ``successes / n``: Wilson score interval, 0..1.

    >>> se, lo, hi = wilson([5], [11])
    >>> [round(float(a[0]), 4) for a in (se, lo, hi)]
    [0.1501, 0.2127, 0.7199]
    """
    k, n = _arr(successes), _arr(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, k / n, np.nan)
        p = np.clip(p, 0.0, 1.0)
        se = np.sqrt(p * (1 - p) / n)
        z2 = Z * Z
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = Z / (1 + z2 / n) * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return se, np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def nps(promoters, detractors, n) -> Arrays:
    """Return (se, low, high) of NPS = 100 (p+ - p-), in points, clipped to -100..100.

    4 promoters and 2 detractors of 10: NPS 20, var = (0.4 + 0.2 - 0.2^2) / 10 = 0.056,
    se = 100 sqrt(0.056) = 23.66 points.

    >>> se, lo, hi = nps([4], [2], [10])
    >>> [round(float(a[0]), 2) for a in (se, lo, hi)]
    [23.66, -26.38, 66.38]
    """
    p, d, n = _arr(promoters), _arr(detractors), _arr(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        pp, pd_ = np.where(n > 0, p / n, np.nan), np.where(n > 0, d / n, np.nan)
        se = 100 * np.sqrt(np.maximum(pp + pd_ - (pp - pd_) ** 2, 0) / n)
    value = 100 * (pp - pd_)
    return se, np.clip(value - Z * se, -100, 100), np.clip(value + Z * se, -100, 100)


def gap(corporate_top, corporate_n, top, n) -> Arrays:
    """Return (se, low, high) of corporate minus segment top-box share, in points.

    Corporate 8 of 10 (80%), customers 3 of 12 (25%): gap 55 points, var = 0.8 x 0.2 / 10
    + 0.25 x 0.75 / 12 = 0.03163, se = 17.78 points.

    >>> se, lo, hi = gap([8], [10], [3], [12])
    >>> [round(float(a[0]), 2) for a in (se, lo, hi)]
    [17.78, 20.15, 89.85]
    """
    ct, cn, t, n = _arr(corporate_top), _arr(corporate_n), _arr(top), _arr(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(cn > 0, ct / cn, np.nan)
        s = np.where(n > 0, t / n, np.nan)
        se = 100 * np.sqrt(c * (1 - c) / cn + s * (1 - s) / n)
    value = 100 * (c - s)
    return se, value - Z * se, value + Z * se


def poisson(count) -> Arrays:
    """Return (se, low, high) of a count: se = sqrt(count), the exact (Garwood) interval.

    >>> se, lo, hi = poisson([9])
    >>> [round(float(a[0]), 2) for a in (se, lo, hi)]
    [3.0, 4.12, 17.08]
    """
    k = _arr(count)
    ok = np.isfinite(k) & (k >= 0)
    kk = np.where(ok, k, 0)
    # chi2.ppf(q, 2k) / 2 is the inverse of the regularized lower incomplete gamma at k
    with np.errstate(invalid="ignore"):
        lo = np.where(kk > 0, sc.gammaincinv(kk, (1 - LEVEL) / 2), 0.0)
    hi = sc.gammaincinv(kk + 1, 1 - (1 - LEVEL) / 2)
    nan = np.full_like(k, np.nan)
    return np.where(ok, np.sqrt(kk), nan), np.where(ok, lo, nan), np.where(ok, hi, nan)


def compound_poisson(total, sum_sq) -> Arrays:
    """Return (se, low, high) of a sum over sellers: se = sqrt(sum of squared seller values).

    Sellers selling 10, 20 and 30: sum 60, se = sqrt(100 + 400 + 900) = 37.42; the interval
    60 +/- 73.34 stops at 0 (a sum of amounts or counts is never negative).

    >>> se, lo, hi = compound_poisson([60], [1400])
    >>> [round(float(a[0]), 2) for a in (se, lo, hi)]
    [37.42, 0.0, 133.34]
    """
    t, q = _arr(total), _arr(sum_sq)
    se = np.sqrt(np.maximum(q, 0))
    return se, np.where(t >= 0, np.maximum(t - Z * se, 0), t - Z * se), t + Z * se


def ratio(y, x, yy, xx, xy, clusters) -> Arrays:
    """Return (se, low, high) of R = sum y / sum x, sellers as clusters (linearised).

    Three sellers with 1, 2, 3 orders worth 10, 30, 20: R = 60 / 6 = 10; residuals y - R x are
    0, 10, -10, so var = 3/2 x 200 / 6^2 = 8.333 and se = 2.887.

    >>> se, lo, hi = ratio([60], [6], [1400], [14], [130], [3])
    >>> [round(float(a[0]), 3) for a in (se, lo, hi)]
    [2.887, 4.342, 15.658]
    """
    y, x, yy, xx, xy, k = map(_arr, (y, x, yy, xx, xy, clusters))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(x != 0, y / x, np.nan)
        resid = np.maximum(yy - 2 * r * xy + r * r * xx, 0)
        var = np.where(k > 1, k / (k - 1), np.nan) * resid / (x * x)
    se = np.sqrt(var)
    return se, r - Z * se, r + Z * se


def spend_per_count(spend, count) -> Arrays:
    """Return (se, low, high) of spend / count: the spend known, the count Poisson.

    400 spent on 16 new customers: 25 each; se = 25 / sqrt(16) = 6.25; the count's exact
    interval 9.15 to 25.98 gives 400 / 25.98 = 15.39 to 400 / 9.15 = 43.74.

    >>> se, lo, hi = spend_per_count([400], [16])
    >>> [round(float(a[0]), 2) for a in (se, lo, hi)]
    [6.25, 15.39, 43.74]
    """
    s, k = _arr(spend), _arr(count)
    _, k_lo, k_hi = poisson(k)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(k > 0, s / k, np.nan)
        se = value / np.sqrt(k)
        hi = np.where(k_lo > 0, s / k_lo, np.nan)
        lo = np.where(k > 0, s / k_hi, np.nan)
    return se, lo, hi


def order_statistic(low, high) -> Arrays:
    """Return (se, low, high) of a median from its order-statistic interval (se = width/3.92)."""
    lo, hi = _arr(low), _arr(high)
    return (hi - lo) / (2 * Z), lo, hi


def median_bounds_sql(values: str) -> str:
    """Return the SQL of the two order statistics bounding a median, as a 2-element list.

    ``values`` is a SQL list expression, sorted once; the ranks are n/2 - (1.96/2) sqrt(n)
    and n/2 + 1 + (1.96/2) sqrt(n), rounded outward and kept inside 1..n (the
    distribution-free interval of a median).
    """
    n = f"len({values})"
    half = f"{Z / 2!r} * sqrt({n})"
    lo = f"greatest(1, CAST(floor({n} / 2.0 - {half}) AS BIGINT))"
    hi = f"least({n}, CAST(ceil({n} / 2.0 + 1 + {half}) AS BIGINT))"
    return f"list_select(list_sort({values}), [{lo}, {hi}])"


def change_test(value: str, se: str, previous: str, previous_se: str) -> list[pl.Expr]:
    """Return the expressions of ``change_p`` and ``clear_change`` from four columns.

    change_p is the two-sided normal p-value of (value - previous) / sqrt(se^2 +
    previous_se^2); null when either se is null. A zero change with zero se has p = 1.

    >>> f = pl.DataFrame({"v": [0.30, 0.21], "s": [0.02, 0.01], "p": [0.24, 0.20],
    ...                   "ps": [0.02, 0.01]})
    >>> [(round(p, 4), clear) for p, clear in f.select(change_test("v", "s", "p", "ps")).rows()]
    [(0.0339, True), (0.4795, False)]
    """
    change = pl.col(value) - pl.col(previous)
    both = pl.col(se) ** 2 + pl.col(previous_se) ** 2
    z = change.abs() / both.sqrt()
    p = (
        pl.when(both.is_null() | change.is_null() | both.is_nan())
        .then(None)
        .when(both == 0)
        .then(pl.when(change == 0).then(1.0).otherwise(None))
        .otherwise(z.map_batches(_two_sided, return_dtype=pl.Float64))
    )
    return [p.alias("change_p"), (p < ALPHA).alias("clear_change")]


def _two_sided(z: pl.Series) -> pl.Series:
    values = z.to_numpy().astype(float)
    return pl.Series(z.name, 2 * sc.ndtr(-values), dtype=pl.Float64).fill_nan(None)


def benjamini_hochberg(p) -> np.ndarray:
    """Return Benjamini-Hochberg q-values (false discovery rate) for p-values; nan stays nan.

    Sorted p 0.01, 0.02, 0.03, 0.5 of m = 4: q = min over later ranks of p m / rank =
    0.04, 0.04, 0.04, 0.5.

    >>> benjamini_hochberg([0.03, 0.5, 0.01, 0.02]).round(4).tolist()
    [0.04, 0.5, 0.04, 0.04]
    """
    p = _arr(p)
    q = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        # scipy.stats.false_discovery_control(method="bh"), written out (see the import)
        x = p[ok]
        order = np.argsort(x)
        scaled = x[order] * (x.size / np.arange(1, x.size + 1))
        adjusted = np.empty_like(x)
        adjusted[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
        q[ok] = adjusted
    return q


def _col(frame: pl.DataFrame, name: str | None) -> np.ndarray:
    if name is None or name not in frame.columns:
        return np.full(frame.height, np.nan)
    return frame[name].cast(pl.Float64).fill_null(float("nan")).to_numpy()


def intervals(kpi: Kpi, sums: pl.DataFrame) -> Arrays:
    """Return (se, low, high) of one KPI for each row of its summed measures.

    ``sums`` holds the KPI's measures, the moments `moments` names, ``sellers`` (the
    clusters of an average) and, for a gap, ``corporate_n`` and ``corporate_top_box``. A
    column that is missing (an old cube) gives nan, never a made-up interval.
    """
    how = method(kpi)
    num, den = _col(sums, kpi.numerator), _col(sums, kpi.denominator)
    if how == "wilson":
        return wilson(num, den)
    if how == "nps":
        return nps(num, _col(sums, kpi.minus), den)
    if how == "gap":
        return gap(_col(sums, "corporate_top_box"), _col(sums, "corporate_n"), num, den)
    if how == "poisson":
        return poisson(num)
    if how == "compound_poisson":
        return compound_poisson(num, _col(sums, f"sq__{kpi.numerator}"))
    if how == "order_statistic":
        return order_statistic(
            _col(sums, f"lo__{kpi.numerator}"), _col(sums, f"hi__{kpi.numerator}")
        )
    if how == "spend_per_count":
        return spend_per_count(num, den)
    if how == "none":
        nan = np.full(sums.height, np.nan)
        return nan, nan, nan
    y, x = kpi.numerator, kpi.denominator
    return ratio(
        num,
        den,
        _col(sums, f"sq__{y}"),
        _col(sums, f"sq__{x}"),
        _col(sums, f"xy__{y}__{x}"),
        _col(sums, "sellers"),
    )
