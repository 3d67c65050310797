"""Predicted customer value, refitted at every load and stored with the facts.

At the end of each load (`cxm.pipeline`), from ``fact_customers`` (purchase days, same-day
orders merged) as of the data's as-of date:

1. BG/NBD and Gamma-Gamma (`cxm.metrics.clv`) are fitted once for the whole company, then per
   market where the market has at least `MIN_CUSTOMERS` customers and `MIN_REPEATERS` who
   bought again; a market with fewer, or whose fit fails, is scored with the company's fit
   (``clv_fits.used_for`` says which).
2. Every customer is scored: probability alive, expected purchase days and spend over the next
   `HORIZON_MONTHS` months, and their discounted value (``fact_customer_value``); per serving
   seller the sums the KPIs read (``fact_seller_value``). At risk means P(alive) < `AT_RISK`.
3. The model is checked on a holdout the way the BG/NBD paper does (`cxm.metrics.holdout`).

Time is in weeks, as in the papers.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from logging import WARNING

import numpy as np
import polars as pl

from cxm.config import CompanyConfig
from cxm.errors import CxmError
from cxm.logs import event
from cxm.metrics import clv
from cxm.metrics.holdout import check, empty_calibration, empty_tracking
from cxm.state.engine import Engine
from cxm.warehouse.scoped import Scoped

log = logging.getLogger(__name__)
#: A market gets its own fit with at least this many customers, this many of them repeaters.
MIN_CUSTOMERS = 2_000
MIN_REPEATERS = 300
#: Under this many customers (or repeaters) in all, no model is fitted: 4 parameters from a
#: handful of customers would be noise, so the value KPIs show "no data" instead.
MIN_COMPANY_CUSTOMERS = 200
MIN_COMPANY_REPEATERS = 50
#: A fit reads at most about this many customers (a hashed sample of larger markets); every
#: customer is scored.
FIT_SAMPLE = 250_000
#: The value horizon and its monthly discount rate (1% a month, about 12.7% a year).
HORIZON_MONTHS = 12
MONTHLY_DISCOUNT = 0.01
#: Probability alive under which a customer counts as at risk.
AT_RISK = 0.5
WEEKS_PER_YEAR = 365.25 / 7
COMPANY = "company"
#: The fits' sample is drawn as a customer's `Engine.draw` modulo this.
_DRAWS = 1_000_000


def summary(frame: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Add frequency, recency, T (weeks) and monetary value to fact_customers rows (what
    `SUMMARY` computes in the engine, for a frame on the driver)."""
    days = lambda a, b: (pl.col(a) - pl.col(b)).dt.total_days().cast(pl.Float64)  # noqa: E731
    return frame.with_columns(
        (pl.col("purchase_days") - 1).cast(pl.Float64).alias("frequency"),
        (days("last_order_on", "first_order_on") / 7).alias("recency"),
        ((pl.lit(as_of) - pl.col("first_order_on")).dt.total_days().cast(pl.Float64) / 7).alias(
            "T"
        ),
    ).with_columns(
        pl.when(pl.col("frequency") > 0)
        .then(pl.col("repeat_amount") / pl.col("frequency"))
        .otherwise(0.0)
        .alias("monetary")
    )


_summary = summary

#: fact_customers rows as of ``$as_of`` with the sample's draw, read by DuckDB (tests).
_CUSTOMERS = """
SELECT customer_id, seller_id, market, first_order_on, last_order_on, purchase_days,
       repeat_amount, CAST(hash(customer_id) % 1000000 AS BIGINT) AS draw
FROM fact_customers WHERE first_order_on <= $as_of"""


#: Per customer as of the data's as-of date (``dim_as_of``): market, and the summary the models
#: read, in weeks: frequency (purchase days after the first), recency (first to last), age T
#: (first to the as-of date) and monetary value (the average repeat purchase day). Computed by
#: the engine; the fits and scores run on its distinct rows (`distinct_rows`). ``{draw}`` is
#: the engine's number drawn from the customer's id (`Engine.draw`), kept as ``hashed`` for
#: the holdout's sample (`cxm.metrics.holdout`: one hash of every customer per load, not two);
#: ``draw`` is the fits' sample's.
SUMMARY = f"""
SELECT customer_id, seller_id, market, frequency, recency, T, monetary,
    hashed % {_DRAWS} AS draw, hashed
FROM (
    SELECT c.customer_id, c.seller_id, c.market,
        CAST(c.purchase_days - 1 AS DOUBLE) AS frequency,
        CAST(date_diff('day', c.first_order_on, c.last_order_on) AS DOUBLE) / 7 AS recency,
        CAST(date_diff('day', c.first_order_on, a.as_of) AS DOUBLE) / 7 AS T,
        CASE WHEN c.purchase_days > 1
             THEN c.repeat_amount / CAST(c.purchase_days - 1 AS DOUBLE) ELSE 0 END AS monetary,
        {{draw}} AS hashed
    FROM fact_customers c CROSS JOIN dim_as_of a
    WHERE c.first_order_on <= a.as_of
) s"""

_KEY = ("market", "frequency", "recency", "T", "monetary")

#: The distinct summary rows, how many customers share each, and how many of them each fit's
#: hashed sample takes (``value_cuts``: the draw under which a customer is in the company's
#: sample and in their market's). About 10^5 rows at 10^6 customers: what the driver fits.
DISTINCT = """
SELECT s.market, s.frequency, s.recency, s.T, s.monetary,
    CAST(count(*) AS BIGINT) AS n,
    CAST(sum(CASE WHEN s.draw < k.company_cut THEN 1 ELSE 0 END) AS BIGINT) AS n_company,
    CAST(sum(CASE WHEN s.draw < k.market_cut THEN 1 ELSE 0 END) AS BIGINT) AS n_market
FROM value_summary s JOIN value_cuts k ON k.market = s.market
GROUP BY s.market, s.frequency, s.recency, s.T, s.monetary"""

#: Each customer's scores, joined back from their distinct summary row.
SCORED = """
SELECT s.customer_id, s.seller_id, s.market, v.p_alive, v.purchases_12m, v.expected_spend,
    v.clv_12m, v.at_risk, a.as_of AS scored_as_of
FROM value_summary s CROSS JOIN dim_as_of a
JOIN value_scores v ON v.market = s.market AND v.frequency = s.frequency
    AND v.recency = s.recency AND v.T = s.T AND v.monetary = s.monetary"""

#: Per serving seller, the sums the value KPIs read, and how many of the at-risk customers
#: consented to personalised contact: what the at-risk export of a segment holds, counted
#: from one row per seller (`cxm.reports.customers.at_risk_counts`) instead of a join of
#: every at-risk customer to the customers (0.6-1.0 s for the whole company at 1,000,000
#: sellers, on every first view of the Segment reports page).
PER_SELLER = """
SELECT v.seller_id, CAST(count(*) AS BIGINT) AS customers_valued, sum(v.clv_12m) AS clv_12m,
    CAST(sum(v.at_risk) AS BIGINT) AS customers_at_risk,
    CAST(sum(CASE WHEN c.consent_personalization THEN v.at_risk ELSE 0 END) AS BIGINT)
        AS customers_at_risk_consented,
    a.as_of AS scored_as_of
FROM fact_customer_value v CROSS JOIN dim_as_of a
LEFT JOIN customers c ON c.customer_id = v.customer_id
GROUP BY v.seller_id, a.as_of"""


def distinct_rows(engine: Engine) -> pl.DataFrame:
    """Return the distinct summary rows with their customer counts (``value_summary`` must
    exist), sorted, so every engine hands the fits the same arrays in the same order."""
    counts = engine.frame(
        "SELECT market, CAST(count(*) AS BIGINT) AS n FROM value_summary GROUP BY market"
    )
    total = int(counts["n"].sum()) if counts.height else 0

    cuts = counts.select(
        "market",
        pl.lit(_cut(total), pl.Int64).alias("company_cut"),
        pl.col("n").map_elements(_cut, return_dtype=pl.Int64).alias("market_cut"),
    )
    engine.put("value_cuts", cuts, derived=False)
    try:
        rows = engine.frame(DISTINCT)
    finally:
        engine.drop("value_cuts")
    return rows.sort(*_KEY)


def _arrays(frame: pl.DataFrame, weight: str) -> tuple[np.ndarray, ...]:
    # Each distinct row repeated once per customer it stands for (in the fit's sample); the
    # rows outside the sample first left out (most of a market's: the same arrays).
    frame = frame.filter(pl.col(weight) > 0)
    w = frame[weight].to_numpy()
    return tuple(
        np.repeat(frame[c].to_numpy(), w) for c in ("frequency", "recency", "T", "monetary")
    )


def _fit(frame: pl.DataFrame, weight: str = "n_company") -> tuple[clv.BgNbdFit, clv.GammaGammaFit]:
    # A fixed share of customers, drawn by a hash of their id (the same at every load of the
    # same data, on every engine): four parameters are pinned down long before millions of rows.
    x, t_x, T, m = _arrays(_as_rows(frame), weight)
    bg = clv.fit_bgnbd(x, t_x, T)
    repeat = x > 0
    gg = clv.fit_gamma_gamma(x[repeat], m[repeat])
    return bg, gg


def _cut(n: int) -> int:
    # A fit reads at most about FIT_SAMPLE customers: those whose draw is under the cut.
    return _DRAWS if n <= FIT_SAMPLE else int(FIT_SAMPLE / n * _DRAWS)


def _as_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Return per-customer summary rows (`summary`) as distinct rows of one customer each."""
    if "n" in frame.columns:
        return frame
    draw = pl.col("draw") if "draw" in frame.columns else pl.lit(0)
    per_market = (
        pl.len().over("market").map_batches(lambda s: s.map_elements(_cut, return_dtype=pl.Int64))
    )
    return frame.with_columns(
        pl.lit(1, pl.Int64).alias("n"),
        (draw < _cut(frame.height)).cast(pl.Int64).alias("n_company"),
        (draw < per_market).cast(pl.Int64).alias("n_market"),
    )


def _counts(frame: pl.DataFrame) -> tuple[int, int]:
    """Return (customers, repeaters) of distinct rows."""
    return int(frame["n"].sum()), int(frame.filter(pl.col("frequency") > 0)["n"].sum())


def _enough(frame: pl.DataFrame) -> bool:
    customers, repeaters = _counts(frame)
    return customers >= MIN_CUSTOMERS and repeaters >= MIN_REPEATERS


def fits(rows: pl.DataFrame) -> dict[str, tuple[clv.BgNbdFit, clv.GammaGammaFit] | None]:
    """Return the company's fit and each market's own fit (None where the company's is used),
    from the distinct summary rows (`distinct_rows`).

    Per-customer summary rows (`summary`, without ``n``) are taken as one customer each.

    Raises `CxmError` (from `cxm.metrics.clv`) when even the company's data cannot be fitted.
    """
    return _fits_scored(rows)[0]


def _fits_scored(rows: pl.DataFrame) -> tuple[dict, dict[str, dict[str, np.ndarray]]]:
    """Return `fits` and, per market with its own fit, its rows' scores (`_scores`): the
    check that trusts a market's fit scores every one of its rows, the scores `score` gives
    them, so a load computes them once."""
    rows = _as_rows(rows)
    company = _fit(rows, "n_company")
    if not _converged(COMPANY, company):
        notes = "; ".join(n for f in company for n in f.notes)
        raise CxmError(f"The company-wide customer value fit did not converge: {notes}")
    out: dict[str, tuple[clv.BgNbdFit, clv.GammaGammaFit] | None] = {COMPANY: company}
    scored = {}
    for (market,), part in rows.group_by("market", maintain_order=True):
        own = None
        if _enough(part):
            try:
                own = _fit(part, "n_market")
            except CxmError as exc:
                customers = _counts(part)[0]
                event(log, "fit_failed", WARNING, fitted_for=market, customers=customers, error=exc)
                own = None
        # A market fit that ran to a bound (no dropout seen, say), or that the data do not
        # pin down or that scores some customer as no number, is not trusted: the company's
        # fit scores that market instead.
        trusted = _trusted(str(market), own, part) if own and _converged(str(market), own) else None
        if trusted is not None:
            scored[str(market)] = trusted
        out[str(market)] = own if trusted is not None else None
    return out, scored


def _scores(pair: tuple, customers: pl.DataFrame) -> dict[str, np.ndarray]:
    """Return `clv.scores` of summary rows (frequency, recency, T, monetary) with ``pair``
    over the value horizon."""
    bg, gg = pair
    x, t_x, T, m = (customers[c].to_numpy() for c in ("frequency", "recency", "T", "monetary"))
    return clv.scores(
        bg,
        gg,
        x,
        t_x,
        T,
        m,
        horizon=HORIZON_MONTHS * WEEKS_PER_YEAR / 12,
        months=HORIZON_MONTHS,
        monthly_discount=MONTHLY_DISCOUNT,
    )


def _trusted(fitted_for: str, pair: tuple, customers: pl.DataFrame) -> dict | None:
    """Return the scores of ``customers`` (summary rows: frequency, recency, T, monetary;
    `_scores`) when ``pair`` has standard errors for every parameter and scores every one of
    them with a number, else None; log why not. The scores are the ones a load stores.

    A fit can reach a flat gradient short of a bound where the likelihood has no curvature
    in some direction: on the 20,000-seller demo, Germany's BG/NBD went to a = 47,269 and
    b = 727,772 (no dropout the data could see, but below the 1e6 bound), with a singular
    information matrix, and its 12-month purchases came out NaN for every German customer.
    """
    why = [
        f"{model}: no standard error for {name}"
        for model, fit in zip(("BG/NBD", "Gamma-Gamma"), pair, strict=True)
        for name, se in fit.standard_errors.items()
        if se is None
    ]
    scored = None
    if not why:
        # Scored as `score` scores them: once per (distinct) row.
        scored = _scores(pair, customers)
        checked = (scored["p_alive"], scored["purchases"], scored["value"])
        bad = int(sum((~np.isfinite(np.asarray(v, dtype=float))).sum() for v in checked))
        if bad:
            why.append(f"{bad:,} scores of {customers.height:,} summary rows are not numbers")
    if why:
        event(log, "fit_not_trusted", WARNING, fitted_for=fitted_for, why="; ".join(why))
        return None
    return scored


def _converged(fitted_for: str, pair: tuple) -> bool:
    """Return whether both fits of ``pair`` converged; log each one that did not."""
    for model, fit in zip(("BG/NBD", "Gamma-Gamma"), pair, strict=True):
        if not fit.converged:
            why = "; ".join(fit.notes)
            event(log, "fit_not_converged", WARNING, fitted_for=fitted_for, model=model, why=why)
    return all(f.converged for f in pair)


def score(
    rows: pl.DataFrame,
    fitted: dict[str, tuple[clv.BgNbdFit, clv.GammaGammaFit] | None],
    scored: dict[str, dict[str, np.ndarray]] | None = None,
) -> pl.DataFrame:
    """Return one row per distinct summary row: p_alive, purchases and spend ahead, value,
    at risk (each customer gets their row's, `SCORED`). ``scored``: the markets' scores
    already computed with their own fits (`_fits_scored`), for the same ``rows``."""
    parts = []
    for (market,), part in rows.group_by("market", maintain_order=True):
        pair = fitted.get(str(market)) or fitted[COMPANY]
        mine = (scored or {}).get(str(market)) if fitted.get(str(market)) else None
        s = _scores(pair, part) if mine is None else mine
        parts.append(
            part.select(*_KEY).with_columns(
                pl.Series("p_alive", s["p_alive"]),
                pl.Series("purchases_12m", s["purchases"]),
                pl.Series("expected_spend", s["spend"]),
                pl.Series("clv_12m", s["value"]),
                pl.Series("at_risk", (s["p_alive"] < AT_RISK).astype(np.int64)),
            )
        )
    return pl.concat(parts) if parts else _empty_row_scores()


def _fit_rows(fitted, rows: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    counts = {m: int(n) for m, n in rows.group_by("market").agg(pl.col("n").sum()).iter_rows()}
    total = sum(counts.values())
    out = []
    for scope, pair in fitted.items():
        if pair is None:
            continue
        used = (
            [m for m, p in fitted.items() if m != COMPANY and p is None]
            if scope == COMPANY
            else [scope]
        )
        n = total if scope == COMPANY else counts[scope]
        for model, f in zip(("BG/NBD", "Gamma-Gamma"), pair, strict=True):
            d = f.to_dict()
            out.append(
                {
                    "fitted_for": scope,
                    "used_for": ", ".join(sorted(used)) if used else "",
                    "model": model,
                    "parameters": json.dumps(d.get("params", {})),
                    "standard_errors": json.dumps(d.get("standard_errors", {})),
                    "log_likelihood": float(d.get("log_likelihood", float("nan"))),
                    "customers": int(d.get("n_customers") or n),
                    "converged": bool(d.get("converged", True)),
                    "scored_as_of": as_of,
                }
            )
    return pl.DataFrame(out, schema=_empty_fits().schema)


def _empty_row_scores() -> pl.DataFrame:
    f64 = pl.Float64
    return pl.DataFrame(
        schema={
            "market": pl.String,
            **{c: f64 for c in _KEY[1:]},
            "p_alive": f64,
            "purchases_12m": f64,
            "expected_spend": f64,
            "clv_12m": f64,
            "at_risk": pl.Int64,
        }
    )


def _empty_fits() -> pl.DataFrame:
    s = pl.String
    return pl.DataFrame(
        schema={
            "fitted_for": s,
            "used_for": s,
            "model": s,
            "parameters": s,
            "standard_errors": s,
            "log_likelihood": pl.Float64,
            "customers": pl.Int64,
            "converged": pl.Boolean,
            "scored_as_of": pl.Date,
        }
    )


#: The derived tables `build` writes, in order.
TABLES = (
    "fact_customer_value",
    "fact_seller_value",
    "clv_fits",
    "clv_calibration",
    "clv_tracking",
)


def build(engine: Engine, cfg: CompanyConfig, as_of: dt.date | None) -> dict[str, int]:
    """Fit, score and check at ``as_of`` on ``engine``; write the value tables; return their
    row counts. ``dim_as_of`` holds ``as_of`` (`cxm.state.put_as_of`).

    The engine aggregates each customer's summary and its distinct rows; the driver fits the
    models on those rows and scores each; the engine joins the scores back to every customer.
    A company whose data cannot be fitted at all (no customer ever bought twice) gets empty
    value tables, so its KPIs show "no data" instead of stopping the load.
    """
    engine.stage("value_summary", SUMMARY.format(draw=engine.draw("c.customer_id")))
    try:
        rows = distinct_rows(engine)
        customers, repeaters = _counts(rows) if rows.height else (0, 0)
        enough = customers >= MIN_COMPANY_CUSTOMERS and repeaters >= MIN_COMPANY_REPEATERS
        why = (
            None
            if enough
            else f"fewer than {MIN_COMPANY_CUSTOMERS} customers or {MIN_COMPANY_REPEATERS} "
            "repeaters"
        )
        level = logging.INFO  # too few customers is what a small company is, not a fault
        try:
            fitted, scored = _fits_scored(rows) if enough else ({}, {})
        except CxmError as exc:
            fitted, scored, why, level = {}, {}, str(exc), WARNING
        if why is not None:
            event(log, "customer_value_empty", level, customers=customers, why=why)
        engine.put(
            "value_scores",
            score(rows, fitted, scored) if fitted else _empty_row_scores(),
            derived=False,
        )
        try:
            counts = {"fact_customer_value": engine.table("fact_customer_value", SCORED)}
        finally:
            engine.drop("value_scores")
        # The holdout's sample is drawn from value_summary's customers (`holdout.check`).
        checked, tracking = (
            check(engine, as_of, customers) if fitted else (empty_calibration(), empty_tracking())
        )
    finally:
        engine.drop("value_summary")
    counts["fact_seller_value"] = engine.table("fact_seller_value", PER_SELLER)
    driver = {
        "clv_fits": _fit_rows(fitted, rows, as_of) if fitted else _empty_fits(),
        "clv_calibration": checked,
        "clv_tracking": tracking,
    }
    for name, frame in driver.items():
        engine.put(name, frame)
        counts[name] = frame.height
    return counts


def fit_table(company: Scoped) -> pl.DataFrame:
    """Return the fits of the newest load, one row per model parameter: which market the fit
    is for and which it is also used for, the model, the parameter's estimate and standard
    error, the fit's log-likelihood, customers and whether it converged. The fits are the
    user's company's own: for a scoped user, fitted on the customers of their markets (the
    company-wide fit too)."""
    fits = company.con.sql(
        """SELECT fitted_for, used_for, model, parameters, standard_errors, log_likelihood,
                  customers, converged
           FROM clv_fits
           ORDER BY fitted_for = 'company' DESC, fitted_for, model"""
    ).pl()
    rows = []
    for fit in fits.iter_rows(named=True):
        estimates, errors = json.loads(fit["parameters"]), json.loads(fit["standard_errors"])
        for name, estimate in estimates.items():
            rows.append(
                {
                    "fitted_for": fit["fitted_for"],
                    "used_for": fit["used_for"],
                    "model": fit["model"],
                    "parameter": name,
                    "estimate": float(estimate),
                    "standard_error": errors.get(name),
                    "log_likelihood": fit["log_likelihood"],
                    "customers": fit["customers"],
                    "converged": fit["converged"],
                }
            )
    schema = {
        "fitted_for": pl.String,
        "used_for": pl.String,
        "model": pl.String,
        "parameter": pl.String,
        "estimate": pl.Float64,
        "standard_error": pl.Float64,
        "log_likelihood": pl.Float64,
        "customers": pl.Int64,
        "converged": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema)
