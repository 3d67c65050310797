"""The Experiments page's parts: the list, the readout, and the design with power.

Strategists and admins design and start experiments (the library checks the role again);
executives and analysts read them. Every readout is computed on the user's own markets
(`warehouse.company(scope)`), cached per data load, scope and experiment.
"""

from __future__ import annotations

import calendar
import datetime as dt

import polars as pl
import streamlit as st

from cxm.access import Scope, User
from cxm.errors import ExperimentError
from cxm.experiments import readout as readouts
from cxm.experiments import stats, store
from cxm.experiments.store import CREATE_ROLES, Experiment
from cxm.metrics.kpis import KPIS
from cxm.ui import experiment_charts as charts
from cxm.ui import filters, fmt, queries, warehouse
from cxm.whatif import scenarios

#: The URL parameter naming the experiment read.
PARAM = "experiment"


@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _readout(gen: tuple, markets: tuple[str, ...] | None, experiment_id: str):
    e = store.get(experiment_id)
    return readouts.read(warehouse.company(Scope(markets=markets)), e, cfg=queries.config())


def readout(user: User, e: Experiment) -> readouts.Readout:
    """Return ``e``'s readout on ``user``'s markets (cached per data load)."""
    with st.spinner(f"Reading {e.name} on every seller of {user.scope.describe()}…"):
        return _readout(warehouse.generation_key(), user.scope.markets, e.id)


@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _design(gen: tuple, markets: tuple[str, ...] | None, kpi: str, months: int):
    company = warehouse.company(Scope(markets=markets))
    return readouts.design(company, kpi, months=months, share=0.5, cfg=queries.config())


def listing(user: User) -> list[Experiment]:
    """Draw the experiments as a table (status as of the data) and return them."""
    found = store.list_all()
    as_of = queries.data(user.scope).as_of
    if not found:
        st.info("No experiment yet. A strategist designs one below from a saved what-if scenario.")
        return []
    st.dataframe(
        pl.DataFrame(
            [
                {
                    "Experiment": e.name,
                    "Id": e.id,
                    "Status": e.status(as_of),
                    "Treatment": fmt.share(e.share, 0),
                    "Unit": "seller" if e.unit == "seller" else f"team under a {e.leader_rank}",
                    "Primary KPI": charts.shown(e.primary).label,
                    "Start": fmt.date(e.start),
                    "Planned end": fmt.date(e.planned_end),
                }
                for e in found
            ]
        ),
        hide_index=True,
    )
    return found


def pick(found: list[Experiment]) -> Experiment | None:
    """Return the experiment chosen (mirrored in the URL), the newest by default.

    Its value is held on every run (`filters.hold`), so the choice a link carries reaches
    the browser even when the login cookie's reruns cut the first run short (issue 19)."""
    if not found:
        return None
    ids = [e.id for e in found]
    asked = filters.page_param(PARAM, ids[0])
    filters.hold("exp_pick", asked if asked in ids else ids[0], fits=lambda v: v in ids)
    chosen = st.selectbox(
        "Experiment",
        ids,
        key="exp_pick",
        on_change=filters.touched,
        args=("exp_pick",),
        format_func=lambda i: next(f"{e.name} ({e.id})" for e in found if e.id == i),
    )
    filters.set_page_params(**{PARAM: chosen})
    return next(e for e in found if e.id == chosen)


def show_readout(user: User, e: Experiment) -> None:
    """Draw the decision (the title), the split check, the forest plot and the table."""
    as_of = queries.data(user.scope).as_of
    if e.status(as_of) == "draft":
        st.info(
            f"{fmt.md_escape(e.name)} is a draft: its arms are drawn when a strategist starts it."
        )
        if user.role in CREATE_ROLES and st.button(
            f"Start {e.id}: draw and freeze the arms now", key="exp_start_now"
        ):
            arms = store.start(warehouse.company(user.scope), e.id, user=user)
            st.success(f"Started: {arms.height:,} sellers assigned, frozen.")
        return
    r = readout(user, e)
    running = r.status == "running"
    st.subheader(fmt.md_escape(r.decision))
    start, end = r.window
    st.caption(
        f"{r.status.capitalize()} · read {fmt.date(start)} to {fmt.date(end)} (data as of "
        f"{fmt.date(r.as_of)}) on {fmt.md_escape(r.scope)} · "
        f"{r.srm.n_control:,} control and {r.srm.n_treatment:,} treatment sellers "
        f"({fmt.share(r.srm.observed_share)} treatment, {fmt.share(r.srm.planned_share, 0)} "
        f"planned; sample-ratio check p {fmt.p_value(r.srm.p_value)}) · "
        + (
            "intervals valid at every daily look (always-valid)"
            if running
            else "fixed-horizon 95% intervals at the planned end"
        )
    )
    if e.hypothesis:
        st.markdown(f"**Hypothesis:** {fmt.md_escape(e.hypothesis)}")
    if r.withheld:
        st.error(fmt.md_escape(r.withheld), icon=":material/block:")
        return
    overall = r.overall()
    segments = st.toggle("Show markets, ranks and languages", key="exp_segments")
    shown = overall + ([x for x in r.effects if x.segment is not None] if segments else [])
    st.plotly_chart(charts.forest(shown, running=running), key="exp_forest")
    st.caption(
        "Diamond: the treatment's lift over control, relative. Thin line: the 95% interval; "
        "wide pale band: the always-valid interval"
        + (" (the one this running test is judged on)." if running else ".")
        + " Green better, orange worse, grey no clear effect;"
        " Lifts are CUPED-adjusted for each seller's own pre-period, so they can differ from"
        " the difference of the raw means shown; q: false discovery rate across every KPI and"
        " segment read."
    )
    st.dataframe(charts.table(shown, running=running), hide_index=True)
    r = with_model(user, e, r)
    if r.predicted.height:
        st.markdown("**The what-if model's prediction beside the measured lift**")
        st.dataframe(charts.prediction_table(r.predicted), hide_index=True)
        st.caption(
            "The model predicts progress on a priority (follow-through x impact x need), "
            "not the KPI itself: compare direction and rough size."
        )


def with_model(user: User, e: Experiment, r: readouts.Readout) -> readouts.Readout:
    """Return ``r`` with the what-if model's prediction for ``e``'s scenario on the treatment
    arm's sellers in ``user``'s markets (`readout.predict`); ``r`` itself without a scenario."""
    if e.scenario_id is None or r.withheld:
        return r
    from cxm.ui import whatif as whatif_ui

    field = whatif_ui.field(user)
    published = scenarios.published(field.catalog)
    tried = scenarios.get(e.scenario_id)
    effect = readouts.predict(
        field,
        store.assignments(warehouse.company(user.scope), e),
        control=(published.weights, published.guardrails),
        treatment=(tried.weights, tried.guardrails),
    )
    return readouts.with_prediction(r, effect)


def _kpi_choices() -> list[str]:
    """The KPIs an experiment can read: those `store.check_kpi` accepts (a value per seller)."""
    ok = []
    for k in KPIS:
        try:
            ok.append(store.check_kpi(k.id, "primary"))
        except ExperimentError:
            continue
    return ok


def design(user: User) -> None:
    """Draw the design form with its power curve; create the experiment on request.

    The minimum detectable effect follows the share slider on every move: the KPI's spread and
    CUPED r squared are read once per KPI and duration, the MDE is arithmetic.
    """
    if user.role not in CREATE_ROLES:
        return
    st.header("Design an experiment")
    kpis = _kpi_choices()
    label = {k: charts.shown(k).label for k in kpis}
    left, right = st.columns([3, 2])
    with left:
        name = st.text_input("Name", key="exp_name", max_chars=80)
        experiment_id = st.text_input(
            "Id", key="exp_id", max_chars=40, help="Short and unique, e.g. EXP-REMIND-2"
        )
        hypothesis = st.text_area("Hypothesis", key="exp_hypothesis", max_chars=400)
        saved = {sc.id: sc.name for sc in scenarios.list_all()}
        scenario = st.selectbox(
            "Treatment: a saved what-if scenario (control keeps the published weights)",
            list(saved),
            key="exp_scenario",
            format_func=saved.get,
            index=None,
            placeholder="Save one on the What-if page first" if not saved else "Choose one",
        )
        primary = st.selectbox(
            "Primary KPI",
            kpis,
            key="exp_primary",
            index=kpis.index("active_rate") if "active_rate" in kpis else 0,
            format_func=label.get,
        )
        guardrails = st.multiselect(
            "Guardrail KPIs",
            [k for k in kpis if k != primary],
            key="exp_guardrails",
            format_func=label.get,
        )
        unit = st.radio(
            "Unit of randomisation",
            ["seller", "team"],
            key="exp_unit",
            horizontal=True,
            format_func=lambda u: "each seller" if u == "seller" else "whole teams under a leader",
        )
        cfg = queries.config()
        leader = (
            st.selectbox("Leader rank", cfg.ranks[1:], key="exp_leader") if unit == "team" else None
        )
        today = queries.data(user.scope).as_of
        start = st.selectbox(
            "Start (experiments run whole months)",
            month_starts(today),
            key="exp_start",
            format_func=fmt.date,
        )
        months = st.slider("Duration (months)", 1, 6, 3, key="exp_months")
    with right:
        share = st.slider(
            "Share of sellers in treatment", 0.05, 0.95, 0.5, 0.05, key="exp_share", format="%.2f"
        )
        d = _design(warehouse.generation_key(), user.scope.markets, primary, months)
        unit_of = charts.shown(primary).unit
        if d.n_units < 2 or not d.sd > 0:
            st.warning("Too few sellers with a value of this KPI to size a test.")
        else:
            m = stats.mde(d.sd, d.n_units, share, cuped_r2=d.cuped_r2)
            st.subheader(
                f"Smallest effect this test could see: {charts.lift_text(unit_of, m).lstrip('+')}"
            )
            st.caption(
                f"{label[primary]}, {share:.0%} of {d.n_units:,} sellers in treatment for "
                f"{months} month(s); 80% power, 5% two-sided; the KPI's spread per seller over "
                f"the last {months} month(s) and CUPED's expected reduction "
                f"({fmt.share(d.cuped_r2, 0)} of its variance) from the months before."
            )
            st.plotly_chart(
                charts.power_curve(d.sd, d.n_units, share, cuped_r2=d.cuped_r2, unit=unit_of),
                key="exp_power",
            )
    if st.button("Save the experiment", key="exp_create", type="primary"):
        e = store.create(
            experiment_id.strip(),
            name.strip(),
            hypothesis.strip(),
            scenario_id=scenario,
            share=share,
            unit=unit,
            leader_rank=leader,
            primary=primary,
            guardrails=tuple(guardrails),
            start=start,
            planned_end=month_end(start, months),
            user=user,
            cfg=cfg,
            scenario_exists=scenarios.get,
        )
        st.success(f"Saved {fmt.md_escape(e.describe())}. It starts when you start it below.")


def month_end(first: dt.date, months: int) -> dt.date:
    """Return the last day of the ``months``-th month from ``first`` (a month's first day):
    the planned end of a test of that many whole months.

    >>> month_end(dt.date(2026, 11, 1), 3), month_end(dt.date(2026, 1, 1), 2)
    (datetime.date(2027, 1, 31), datetime.date(2026, 2, 28))
    """
    month = first.month - 1 + months - 1
    year, month = first.year + month // 12, month % 12 + 1
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def month_starts(after: dt.date, count: int = 6) -> list[dt.date]:
    """Return the first days of the ``count`` months after ``after``'s month.

    >>> month_starts(dt.date(2026, 10, 31), 3)
    [datetime.date(2026, 11, 1), datetime.date(2026, 12, 1), datetime.date(2027, 1, 1)]
    """
    return [month_end(after.replace(day=1), i + 1) + dt.timedelta(days=1) for i in range(count)]
