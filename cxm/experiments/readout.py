"""An experiment's readout: per seller, each KPI in the experiment window and in the pre-period,
read through the user's company, then the effects (`stats`), overall and by market, rank and
language, with Benjamini-Hochberg across everything read and the sample-ratio check first.

Intent to treat: a seller counts in the arm they were assigned, whatever they did. Per seller a
KPI's value is its sum (orders, revenue) or its ratio (reordering customers over customers due);
a seller with nothing to divide by has no value of that KPI and is no unit of it. The values
come from the seller base (`cxm.segments.sql.SELLER_BASE`), one SQL pass per window for every
KPI at once; everything after is Polars and numpy over whole columns (1,000,000 sellers are a
few seconds, most of it DuckDB's scan). A scoped user's company holds their markets' sellers
only, so their readout is computed on those units alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from cxm.config import CompanyConfig
from cxm.errors import ExperimentError
from cxm.experiments import stats
from cxm.experiments.store import Experiment, assignments
from cxm.metrics.compute import data_range
from cxm.metrics.kpis import DERIVED_MEASURES
from cxm.metrics.kpis import get as get_kpi
from cxm.segments.filter import SegmentFilter
from cxm.segments.periods import Period
from cxm.segments.sql import SELLER_BASE, Window, filter_params
from cxm.warehouse.scoped import Scoped
from cxm.whatif import compare
from cxm.whatif.compare import Field, Guardrails
from cxm.whatif.weights import Weights

#: The segments every KPI is also read in (each value a segment of its own).
SEGMENTS = ("market", "rank", "language")

#: The KPI that shows each what-if priority's progress, for the model's prediction beside it.
PRIORITY_KPI = {
    "retention": "customer_retention_90d",
    "repeat_customers": "repeat_customer_rate",
    "cart_size": "avg_order_amount",
    "sales": "weekly_goal_attainment",
    "business_building": "enrollments",
    "adoption": "app_adoption_7d",
    "compliance": "compliance_rate",
}


@dataclass(frozen=True)
class Readout:
    """What an experiment shows now: the effects, or why they are withheld, and the decision.

    ``effects`` holds the overall effect of each KPI (segment None) first, then each segment's;
    q-values are Benjamini-Hochberg across all of them. Empty when the sample-ratio check
    failed: ``withheld`` then says why, and ``decision`` says the same.
    """

    experiment: Experiment
    status: str
    window: tuple[dt.date, dt.date]
    pre_window: tuple[dt.date, dt.date]
    as_of: dt.date
    srm: stats.SampleRatio
    effects: list[stats.Effect]
    decision: str
    scope: str
    withheld: str | None = None
    predicted: pl.DataFrame = field(default_factory=pl.DataFrame)

    @property
    def running(self) -> bool:
        return self.status == "running"

    def overall(self) -> list[stats.Effect]:
        """The effect of each KPI over all units, primary KPI first."""
        return [e for e in self.effects if e.segment is None]

    def predicted_change(self, kpi: str) -> float | None:
        """The what-if model's predicted relative change of the priority ``kpi`` shows
        (`with_prediction`), or None when the model predicts none for it."""
        if self.predicted.is_empty():
            return None
        hit = self.predicted.filter(pl.col("kpi") == kpi)
        return hit.item(0, "predicted") if hit.height else None

    def rows(self) -> list[dict]:
        """One object per KPI over all units: what `cxm experiment report --json` prints.

        ``predicted`` is the what-if model's relative change for the KPI (compare with
        ``lift_rel``), None where the model predicts none or no prediction was asked."""
        return [
            {
                "kpi": e.kpi,
                "lift": e.lift,
                "lift_rel": e.lift_rel,
                "ci_low": e.ci_low,
                "ci_high": e.ci_high,
                "seq_ci_low": e.seq_ci_low,
                "seq_ci_high": e.seq_ci_high,
                "p_value": e.p_value,
                "q_value": e.q_value,
                "n_control": e.n_control,
                "n_treatment": e.n_treatment,
                "mean_control": e.mean_control,
                "mean_treatment": e.mean_treatment,
                "cuped": e.cuped,
                "variance_reduction": e.variance_reduction,
                "predicted": self.predicted_change(e.kpi),
            }
            for e in self.overall()
        ]


def _months_back(day: dt.date, months: int) -> dt.date:
    p = Period.month_of(day)
    for _ in range(months):
        p = p.previous()
    return p.start


def pre_window(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The pre-period: as many whole months before ``start`` as the window spans.

    >>> pre_window(dt.date(2026, 4, 1), dt.date(2026, 6, 30))
    (datetime.date(2026, 1, 1), datetime.date(2026, 3, 31))
    """
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    return _months_back(start, months), start - dt.timedelta(days=1)


def _measure_sql(measure: str) -> str:
    plus_less = DERIVED_MEASURES.get(measure)
    # Names from the registry only, never user text.
    return f"({plus_less[0]} - {plus_less[1]})" if plus_less else measure


def seller_values(
    company: Scoped,
    kpi_ids: Sequence[str],
    start: dt.date,
    end: dt.date,
    *,
    cfg: CompanyConfig,
    observed: dt.date,
) -> pl.DataFrame:
    """Per seller enrolled by ``end``: seller_id, market, rank, language and each KPI's value
    from ``start`` to ``end`` (Float64; NaN where the seller has nothing to divide by)."""
    kpis = [get_kpi(k) for k in dict.fromkeys(kpi_ids)]
    cols = []
    for k in kpis:
        cols.append(f"CAST({_measure_sql(k.numerator)} AS DOUBLE) AS num__{k.id}")
        if k.kind == "ratio":
            cols.append(f"CAST({_measure_sql(k.denominator)} AS DOUBLE) AS den__{k.id}")
    win = Window(period=Period.month_of(end), as_of=end, start=start, end=end, observed=observed)
    sql = f"SELECT seller_id, market, rank, language, {', '.join(cols)} FROM ({SELLER_BASE}) b"
    params = {**win.params(), **filter_params(SegmentFilter(period=Period.month_of(end)), cfg)}
    raw = company.con.sql(sql, params={k: v for k, v in params.items() if f"${k}" in sql}).pl()
    return raw.select(
        "seller_id",
        "market",
        "rank",
        "language",
        *(
            (
                pl.when(pl.col(f"den__{k.id}") > 0)
                .then(pl.col(f"num__{k.id}") / pl.col(f"den__{k.id}"))
                .otherwise(float("nan"))
                if k.kind == "ratio"
                else pl.col(f"num__{k.id}")
            ).alias(k.id)
            for k in kpis
        ),
    )


def units(
    company: Scoped, e: Experiment, *, cfg: CompanyConfig, as_of: dt.date, path=None
) -> pl.DataFrame:
    """The experiment's units in ``company``: seller_id, arm, treated, segments, and per KPI
    ``y__<kpi>`` (the window) and ``x__<kpi>`` (the pre-period)."""
    start, end = e.window(as_of)
    pre_start, pre_end = pre_window(start, end)
    arms = assignments(company, e, path=path)
    now = seller_values(company, e.kpis, start, end, cfg=cfg, observed=as_of)
    before = seller_values(company, e.kpis, pre_start, pre_end, cfg=cfg, observed=start)
    out = arms.join(now.rename({k: f"y__{k}" for k in e.kpis}), on="seller_id", how="left")
    out = out.join(
        before.select("seller_id", *(pl.col(k).alias(f"x__{k}") for k in e.kpis)),
        on="seller_id",
        how="left",
    )
    return out.with_columns(
        *(pl.col(f"{p}__{k}").fill_null(float("nan")) for p in "yx" for k in e.kpis),
        treated=pl.col("arm") == "treatment",
    )


def _effects(kpis, frame: pl.DataFrame, segment: str | None, cuped: bool) -> list[stats.Effect]:
    y = frame.select(f"y__{k}" for k in kpis).to_numpy()
    x = frame.select(f"x__{k}" for k in kpis).to_numpy() if cuped else None
    return stats.effects(list(kpis), y, frame.get_column("treated").to_numpy(), x, segment=segment)


def read(
    company: Scoped,
    e: Experiment,
    *,
    cfg: CompanyConfig,
    cuped: bool = True,
    segments: Sequence[str] = SEGMENTS,
    path=None,
    frame: pl.DataFrame | None = None,
) -> Readout:
    """Return the experiment's readout on ``company`` (the user's markets only).

    ``frame``: the units already read (`units`), to read again without the warehouse (a
    broken split in a test, CUPED on and off). Segments with fewer than the company's
    ``min_n`` units in an arm are not read.

    Raises
    ------
    ExperimentError
        ``not_started`` for a cxm experiment with no arms yet; ``no_units`` when the user's
        company holds no seller of one arm.
    """
    as_of = data_range(company).as_of
    status = e.status(as_of)
    if status == "draft":
        raise ExperimentError(
            "experiment", e.id, "not_started", "has not been started; its arms are not drawn yet"
        )
    data = frame if frame is not None else units(company, e, cfg=cfg, as_of=as_of, path=path)
    n_t = int(data.get_column("treated").sum())
    n_c = data.height - n_t
    if not n_t or not n_c:
        raise ExperimentError(
            "experiment",
            e.id,
            "no_units",
            f"has {n_c:,} control and {n_t:,} treatment sellers in {company.scope.describe()}",
        )
    srm = stats.sample_ratio(n_c, n_t, e.share)
    start, end = e.window(as_of)
    common = dict(
        experiment=e,
        status=status,
        window=(start, end),
        pre_window=pre_window(start, end),
        as_of=as_of,
        srm=srm,
        scope=company.scope.describe(),
    )
    if not srm.ok:
        said = stats.decision([], e.primary, e.guardrails, srm=srm, running=status == "running")
        return Readout(effects=[], decision=said, withheld=said, **common)
    found = _effects(e.kpis, data, None, cuped)
    for dim in segments:
        sizes = data.group_by(dim, "treated").len()
        small = sizes.filter(pl.col("len") < cfg.min_n).get_column(dim).unique()
        counted = sizes.group_by(dim).len().filter(pl.col("len") == 2).get_column(dim)
        for value in sorted(v for v in counted.to_list() if v is not None and v not in small):
            part = data.filter(pl.col(dim) == value)
            found += _effects(e.kpis, part, f"{dim}={value}", cuped)
    found = stats.adjust(found, sequential=status == "running")
    said = stats.decision(
        found,
        e.primary,
        e.guardrails,
        srm=srm,
        running=status == "running",
        lower_is_better=[k for k in e.kpis if get_kpi(k).better == "lower"],
        labels={k: get_kpi(k).label for k in e.kpis},
    )
    return Readout(effects=found, decision=said, **common)


def with_prediction(readout: Readout, comparison_effect: pl.DataFrame) -> Readout:
    """Return the readout with the what-if model's predicted change beside the measured one.

    ``comparison_effect`` is a `cxm.whatif.compare.Comparison.effect` frame (the scenario
    against the published weights over the same company): per priority its expected progress
    per 1,000 sellers and the relative ``change``. Each priority is matched to the KPI that
    shows it (`PRIORITY_KPI`); ``measured`` is that KPI's relative lift when it was read.
    """
    measured = {e.kpi: e.lift_rel for e in readout.overall()}
    frame = comparison_effect.select(
        "priority",
        "label",
        kpi=pl.col("priority").replace_strict(PRIORITY_KPI, default=None),
        predicted=pl.col("change"),
    ).with_columns(
        measured=pl.col("kpi").replace_strict(measured, default=None, return_dtype=pl.Float64)
    )
    return Readout(**{**readout.__dict__, "predicted": frame})


_EFFECT_SCHEMA = {
    "priority": pl.String,
    "label": pl.String,
    "baseline": pl.Float64,
    "scenario": pl.Float64,
    "change": pl.Float64,
}


def predict(
    field: Field,
    arms: pl.DataFrame,
    *,
    control: tuple[Weights, Guardrails],
    treatment: tuple[Weights, Guardrails],
) -> pl.DataFrame:
    """Return what the what-if model predicts the treatment did: `compare.compare` of the
    treatment's weights against the control's over the treatment arm's sellers in ``field``.

    ``arms`` (seller_id, arm) is the experiment's assignment read through the same company as
    ``field`` (`store.assignments`); a treatment seller no longer live has no seller state and
    no prediction. Both rankings are made over those sellers alone, so a cap on first slots
    holds within the arm. The result is the comparison's ``effect`` frame (priority, label,
    baseline, scenario, change), to pass to `with_prediction`.
    """
    treated = arms.filter(pl.col("arm") == "treatment").get_column("seller_id")
    units = field.subset(np.isin(field.seller_id.to_numpy(), treated.to_numpy()))
    if not units.size:
        return pl.DataFrame(schema=_EFFECT_SCHEMA)
    base = compare.rank(units, *control)
    scenario = compare.rank(units, *treatment)
    return compare.compare(units, scenario, baseline=base, examples=0).effect


@dataclass(frozen=True)
class Design:
    """Power before launch: the primary KPI's spread per seller over the last periods, the
    sellers who would be units, the CUPED r squared those periods show, and the MDE."""

    kpi: str
    months: int
    share: float
    n_units: int
    sd: float
    cuped_r2: float
    mde: float

    def describe(self) -> str:
        return (
            f"{self.kpi}: with {self.share:.0%} of {self.n_units:,} sellers in treatment for "
            f"{self.months} month(s), the smallest effect detectable (80% power, 5% two-sided) is "
            f"{self.mde:.4g} in the KPI's unit (sd {self.sd:.4g} per seller, CUPED r2 "
            f"{self.cuped_r2:.2f})"
        )


def design(company: Scoped, kpi: str, *, months: int, share: float, cfg: CompanyConfig) -> Design:
    """Return the MDE of ``kpi`` for a test of ``months`` whole months on ``company``'s field.

    The spread is the KPI's per-seller standard deviation over the last ``months`` months to the
    data's as-of date; the CUPED r squared is the squared correlation of each seller's value
    there with their value in the ``months`` before (what a pre-period would remove).
    """
    as_of = data_range(company).as_of
    end = Period.month_of(as_of).previous().end if as_of != Period.month_of(as_of).end else as_of
    start = _months_back(end, months - 1)
    pre_start, pre_end = pre_window(start, end)
    now = seller_values(company, [kpi], start, end, cfg=cfg, observed=as_of)
    before = seller_values(company, [kpi], pre_start, pre_end, cfg=cfg, observed=start)
    both = now.select("seller_id", y=kpi).join(
        before.select("seller_id", x=kpi), on="seller_id", how="left"
    )
    y = both.get_column("y").to_numpy()
    x = both.get_column("x").to_numpy()
    valid = ~np.isnan(y)
    pair = valid & ~np.isnan(x)
    r2 = float(np.corrcoef(y[pair], x[pair])[0, 1] ** 2) if pair.sum() > 2 else 0.0
    r2 = min(r2 if np.isfinite(r2) else 0.0, 0.99)
    sd = float(np.std(y[valid], ddof=1)) if valid.sum() > 1 else float("nan")
    n = int(valid.sum())
    return Design(
        kpi=kpi,
        months=months,
        share=share,
        n_units=n,
        sd=sd,
        cuped_r2=r2,
        mde=stats.mde(sd, n, share, cuped_r2=r2),
    )
