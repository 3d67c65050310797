"""Time an experiment's readout with CUPED against a straightforward pandas/statsmodels one.

A synthetic field (seed 31) of N sellers x 10 KPIs: three shares (0/1, a third of them
undefined for sellers without lapsed customers, as NaN), four counts (Poisson at a
gamma-spread rate) and three amounts (zero-inflated lognormal), each with a pre-period value
of the same KPI from the same seller's rate; 50% in treatment, small planted lifts.

* **ours**: `stats.effects` (CUPED, Welch and always-valid intervals, relative intervals) +
  `stats.adjust` (Benjamini-Hochberg) + `stats.sample_ratio`; median of 3 warm runs.
* **baseline**: what an analyst writes with pandas and statsmodels: per KPI, drop the rows
  without a value, centre the pre-period, fit `y ~ treated + x` by OLS with robust (HC2)
  errors (the CUPED estimate and its standard error), then `multipletests(fdr_bh)` and scipy's
  `chisquare`; once.

The lifts and standard errors of the two are compared. Writes the section between the
``experiments`` markers of docs/benchmarks.md.

    uv run python benchmarks/experiments.py                 # 1,000,000 sellers
    uv run python benchmarks/experiments.py --sizes 100000  # a quick look
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from build import run  # noqa: E402  (the same runner and docs/benchmarks.md writer)

START, END = "<!-- experiments:start -->", "<!-- experiments:end -->"
KPIS = [
    "reorder_90d",
    "active_30d",
    "retained_q",
    "orders",
    "customers_served",
    "recruits",
    "autoship_orders",
    "revenue",
    "cart_value",
    "commission",
]


def draw(n: int, seed: int = 31):
    """Return (Y, X, treated): n sellers x 10 KPIs in the window and the pre-period."""
    rng = np.random.default_rng(seed)
    treated = rng.random(n) < 0.5
    rate = rng.gamma(1.2, 1.0, (n, 1))
    lift = np.array([0.01, 0.0, 0.005, 0.05, 0.0, 0.0, 0.02, 2.0, 0.0, -0.5])
    Y = np.empty((n, 10))
    X = np.empty((n, 10))
    for k in range(10):
        if k < 3:
            p = np.clip(0.2 * rate[:, 0], 0, 0.95)
            X[:, k] = rng.random(n) < p
            Y[:, k] = rng.random(n) < np.clip(p + lift[k] * treated, 0, 1)
        elif k < 7:
            X[:, k] = rng.poisson(rate[:, 0] * (k - 1))
            Y[:, k] = rng.poisson(rate[:, 0] * (k - 1) + lift[k] * treated)
        else:
            spend = rng.lognormal(3.0, 0.7, n)
            X[:, k] = rng.poisson(rate[:, 0]) * spend
            Y[:, k] = rng.poisson(rate[:, 0]) * spend + lift[k] * treated
    undefined = rng.random((n, 3)) < 1 / 3
    Y[:, :3][undefined] = np.nan
    return Y, X, treated


def ours(Y, X, treated):
    from cxm.experiments import stats

    es = stats.adjust(stats.effects(KPIS, Y, treated, X))
    srm = stats.sample_ratio(int((~treated).sum()), int(treated.sum()), 0.5)
    return es, srm


def baseline(Y, X, treated):
    import pandas as pd
    import statsmodels.api as sm
    from scipy.stats import chisquare
    from statsmodels.stats.multitest import multipletests

    frame = pd.DataFrame(Y, columns=KPIS)
    pre = pd.DataFrame(X, columns=[f"{k}_pre" for k in KPIS])
    frame = pd.concat([frame, pre], axis=1)
    frame["treated"] = treated.astype(float)
    rows = []
    for k in KPIS:
        d = frame[[k, f"{k}_pre", "treated"]].dropna()
        x = d[f"{k}_pre"] - d[f"{k}_pre"].mean()
        design = pd.DataFrame({"const": 1.0, "treated": d["treated"], "x": x})
        fit = sm.OLS(d[k], design).fit(cov_type="HC2")
        rows.append((fit.params["treated"], fit.bse["treated"], fit.pvalues["treated"]))
    multipletests([r[2] for r in rows], method="fdr_bh")
    n_t = int(treated.sum())
    chisquare([len(treated) - n_t, n_t], [len(treated) / 2] * 2)
    return rows


def measure(sellers: int, work: Path) -> dict:
    import cxm.experiments.stats  # noqa: F401  (imports are not the readout)

    Y, X, treated = draw(sellers)
    load = os.getloadavg()
    times = []
    for _ in range(4):
        t0 = time.perf_counter()
        es, _srm = ours(Y, X, treated)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    rows = baseline(Y, X, treated)
    base = time.perf_counter() - t0
    load_after = os.getloadavg()
    lift_diff = max(abs(e.lift - r[0]) / r[1] for e, r in zip(es, rows, strict=True))
    se_diff = max(abs(e.se / r[1] - 1) for e, r in zip(es, rows, strict=True))
    return {
        "sellers": sellers,
        "ours_s": statistics.median(times[1:]),
        "first_s": times[0],
        "baseline_s": base,
        "lift_diff_se": lift_diff,
        "se_rel_diff": se_diff,
        "reduction": [round(e.variance_reduction, 3) for e in es],
        "load": [round(v, 2) for v in (*load, *load_after)],
    }


def render(results: list[dict]) -> str:
    import pandas as pd
    import scipy
    import statsmodels

    lines = [
        START,
        "## Experiment readout with CUPED (`benchmarks/experiments.py`)",
        "",
        f"Measured {dt.date.today()} on {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"pandas {pd.__version__}, statsmodels {statsmodels.__version__}. Synthetic field "
        "(seed 31), 10 KPIs (3 shares, a third of them undefined; 4 counts; 3 amounts), each "
        "with its pre-period value, half in treatment. *Ours*: `effects` (CUPED, Welch and "
        "always-valid intervals, relative intervals) + `adjust` (BH) + `sample_ratio`, median "
        "of 3 warm runs. *Baseline*: pandas + statsmodels, per KPI OLS `y ~ treated + x` with "
        "HC2 errors, then `multipletests` and `chisquare`, once. Target (issue 23): 1,000,000 "
        "sellers x 10 KPIs under 1 s.",
        "",
        "| sellers | ours s | first run s | pandas + statsmodels s | speed-up | largest lift "
        "difference (in se) | largest se difference | load average (1/5/15 min, before; after) |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        ld = r["load"]
        lines.append(
            f"| {r['sellers']:,} | **{r['ours_s']:.3f}** | {r['first_s']:.3f} | "
            f"{r['baseline_s']:.1f} | {r['baseline_s'] / r['ours_s']:.0f}x | "
            f"{r['lift_diff_se']:.1e} | {r['se_rel_diff']:.1e} | "
            f"{ld[0]}/{ld[1]}/{ld[2]}; {ld[3]}/{ld[4]}/{ld[5]} |"
        )
    red = ", ".join(f"{k} {v:.0%}" for k, v in zip(KPIS, results[-1]["reduction"], strict=True))
    lines += [
        "",
        "Reading it: both compute the same CUPED lift (the regression's treatment coefficient) "
        "and agree on it to the printed share of a standard error. The standard errors differ "
        "by at most the printed share: ours is the Welch form on each arm's CUPED-adjusted "
        "values, HC2 weighs each residual by its leverage, which lets the heavy-tailed "
        "pre-periods' spread along x enter (and ours leaves out theta's own noise). The baseline "
        "builds a design matrix and HC2 leverages per KPI; ours takes the same sums per arm "
        "and KPI in one pass of a numba kernel (parallel over blocks of units) and a few "
        f"array operations. CUPED's variance reduction on this field: {red}.",
        "",
        END,
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    run(measure, render, START, END, [1_000_000], __doc__)
