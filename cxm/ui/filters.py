"""The sidebar filters: one `SegmentFilter` per run, kept across pages and mirrored in the URL.

A shared link opens the same view for another user within that user's own scope. Parameters
the app does not write, and values that are unknown or outside the user's scope, are named in
a message and replaced by the default; nothing from the URL reaches SQL except as a checked
value of a `SegmentFilter` (which the library binds as a parameter).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import streamlit as st

from cxm.access import User
from cxm.config import CompanyConfig
from cxm.errors import BadFilter
from cxm.metrics.compute import DataRange
from cxm.segments.filter import STATUSES, SegmentFilter
from cxm.segments.periods import COMPARE_WORDS, COMPARES, Period, parse_compare
from cxm.ui import fmt

#: URL parameters shared by every page: (name, session key).
SHARED = ("period", "vs", "markets", "languages", "rank_min", "statuses")
_STATE = "_cxm_filters"
_WRITTEN = "_cxm_url_written"


@dataclass(frozen=True)
class Problem:
    """A URL parameter that could not be used, and what was shown instead."""

    parameter: str
    value: str
    why: str


def period_choices(data: DataRange) -> list[str]:
    """Return the periods a user can pick, newest first: months, quarters, years of the data."""
    last = Period.month_of(data.as_of)
    months, quarters, years = [], [], []
    p = last
    while p.end >= data.first_on and len(months) < 36:
        months.append(p.label())
        p = p.previous()
    q = Period.parse(f"{last.start.year}-Q{(last.start.month - 1) // 3 + 1}")
    while q.end >= data.first_on and len(quarters) < 12:
        quarters.append(q.label())
        q = q.previous()
    y = Period.parse(str(last.start.year))
    while y.end >= data.first_on:
        years.append(y.label())
        y = y.previous()
    return months + quarters + years


def _split(value: str) -> list[str]:
    return [v for v in (x.strip() for x in value.split(",")) if v]


def _from_url(
    params: dict[str, str],
    user: User,
    cfg: CompanyConfig,
    data: DataRange,
    page_params: Sequence[str],
) -> tuple[dict, list[Problem]]:
    """Return the filter values a URL asks for, and what in it could not be used."""
    chosen: dict = {}
    problems: list[Problem] = []
    for name, value in params.items():
        if name not in SHARED and name not in page_params:
            problems.append(Problem(name, value, "is not a parameter cxm uses; it was ignored"))
    if "period" in params:
        try:
            period = Period.parse(params["period"])
            if period.label() not in period_choices(data):
                raise BadFilter("period", params["period"], "period_outside_data", "")
            chosen["period"] = period.label()
        except BadFilter:
            problems.append(
                Problem(
                    "period",
                    params["period"],
                    "is not a period with data; showing the latest month",
                )
            )
    if "vs" in params:  # absent means the previous period
        try:
            chosen["vs"] = parse_compare(params["vs"])
        except BadFilter as exc:
            problems.append(
                Problem("vs", params["vs"], f"{exc.reason}; comparing with the previous period")
            )
    lists = {
        "markets": (cfg.market_codes, "a configured market"),
        "languages": (cfg.languages, "a configured language"),
        "statuses": (STATUSES, "a seller status"),
    }
    for name, (allowed, what) in lists.items():
        if name not in params:
            continue
        keep = []
        for v in _split(params[name]):
            if v not in allowed:
                problems.append(Problem(name, v, f"is not {what}; it was left out"))
            elif name == "markets" and not user.scope.allows(v):
                problems.append(Problem(name, v, "is outside your markets; it was left out"))
            else:
                keep.append(v)
        chosen[name] = keep
    if "rank_min" in params:
        if params["rank_min"] in cfg.ranks:
            chosen["rank_min"] = params["rank_min"]
        else:
            problems.append(
                Problem(
                    "rank_min", params["rank_min"], "is not a configured rank; showing every rank"
                )
            )
    return chosen, problems


def segment_filter(
    user: User, cfg: CompanyConfig, data: DataRange, *, page_params: Sequence[str] = ()
) -> SegmentFilter:
    """Draw the sidebar filters and return the chosen `SegmentFilter`.

    Values persist across pages (session state) and are written to the URL on every run;
    a URL that differs from what the app last wrote is a shared link and is read first.
    """
    state = st.session_state.setdefault(_STATE, {})
    for name in SHARED:  # what the user changed in the widgets since the last run
        if f"f_{name}" in st.session_state:
            value = st.session_state[f"f_{name}"]
            state[name] = None if name == "rank_min" and value not in cfg.ranks else value
    url = {k: st.query_params[k] for k in st.query_params}
    if url and url != st.session_state.get(_WRITTEN):
        chosen, problems = _from_url(url, user, cfg, data, page_params)
        state.update(chosen)
        for p in problems:
            name, value = fmt.md_escape(p.parameter), fmt.md_escape(p.value)
            st.warning(f'Link parameter {name}: "{value}" {p.why}.', icon=":material/link_off:")
    periods = period_choices(data)
    markets = [m for m in cfg.market_codes if user.scope.allows(m)]
    names = {m.code: m.name for m in cfg.markets}
    ranks = ["(every rank)", *cfg.ranks]
    # Seed the widgets from the kept state (a link, or another page): a widget's own key would
    # otherwise keep its old value.
    st.session_state["f_period"] = (
        state.get("period") if state.get("period") in periods else (periods[0])
    )
    st.session_state["f_vs"] = state.get("vs") if state.get("vs") in COMPARES else COMPARES[0]
    st.session_state["f_markets"] = [m for m in state.get("markets", []) if m in markets]
    st.session_state["f_languages"] = [x for x in state.get("languages", []) if x in cfg.languages]
    st.session_state["f_rank_min"] = state.get("rank_min") or ranks[0]
    st.session_state["f_statuses"] = [x for x in state.get("statuses", []) if x in STATUSES]
    with st.sidebar:
        st.subheader("Filters")
        period = st.selectbox("Period", periods, key="f_period")
        vs = st.radio(
            "Compare with",
            COMPARES,
            format_func=lambda c: COMPARE_WORDS[c].capitalize(),
            horizontal=True,
            key="f_vs",
            help="Like for like: a period the data stops inside is compared with the same "
            "days of the other period (docs/metrics.md, Periods and comparisons).",
        )
        chosen_markets = st.multiselect(
            "Markets",
            markets,
            format_func=lambda m: f"{names[m]} ({m})",
            placeholder="All your markets",
            key="f_markets",
        )
        languages = st.multiselect(
            "Languages", list(cfg.languages), placeholder="All languages", key="f_languages"
        )
        rank_min = st.selectbox("Rank at least", ranks, key="f_rank_min")
        statuses = st.multiselect(
            "Seller status", list(STATUSES), placeholder="Every status", key="f_statuses"
        )
    state.update(
        period=period,
        vs=vs,
        markets=chosen_markets,
        languages=languages,
        rank_min=rank_min if rank_min in cfg.ranks else None,
        statuses=statuses,
    )
    _write_url(state, page_params)
    return SegmentFilter(
        period=Period.parse(period),
        markets=tuple(chosen_markets),
        languages=tuple(languages),
        rank_at_least=state["rank_min"],
        statuses=tuple(statuses),
        compare=vs,
    )


def page_param(name: str, default: str) -> str:
    """Return a page-specific URL parameter's value (validated by the caller)."""
    return st.query_params.get(name, default)


def set_page_params(**values: str) -> None:
    """Write page-specific parameters to the URL and remember them as written.

    A value the URL holds already is not written again: each write is a message the browser
    acts on (every What-if slider move wrote the guardrails, unchanged).
    """
    for k, v in values.items():
        if st.query_params.get(k) != v:
            st.query_params[k] = v
    st.session_state[_WRITTEN] = {k: st.query_params[k] for k in st.query_params}


def _write_url(state: dict, page_params: Sequence[str]) -> None:
    wanted = {"period": state["period"]}
    if state.get("vs", COMPARES[0]) != COMPARES[0]:
        wanted["vs"] = state["vs"]
    for name in ("markets", "languages", "statuses"):
        if state.get(name):
            wanted[name] = ",".join(state[name])
    if state.get("rank_min"):
        wanted["rank_min"] = state["rank_min"]
    for k in list(st.query_params):
        if k not in wanted and k not in page_params:
            del st.query_params[k]
    for k, v in wanted.items():
        if st.query_params.get(k) != v:
            st.query_params[k] = v
    st.session_state[_WRITTEN] = {k: st.query_params[k] for k in st.query_params}


def hold(key: str, first: object, *, fits: Callable[[object], bool] = lambda _: True) -> None:
    """Set widget ``key`` to the value it holds, on every run: ``first`` when it holds none, or
    one that does not ``fit`` this widget (another page's widget of the same key).

    Streamlit tells the browser a value set in session state only with the run that set it. A
    run cut short by the next one loses its messages: right after sign-in the login cookie's
    components start two reruns while the page is drawn, so a link's value set once reached
    the server but not the browser, which drew the widget at its default (guardrails off, no
    breakdown) and sent that default back on the next click. Set again before every drawing,
    the value travels with every run the browser receives (issue 19, finding 11).

    Once the user moves the widget (`touched`, given as its ``on_change``) it is left alone
    until its page is left: the browser holds the newest value then, and a value set again by
    a run still under way would undo a move on its way (eight quick key presses on a slider
    landed on the seventh step).
    """
    moved = st.session_state.setdefault(_TOUCHED, set())
    if key not in st.session_state:
        moved.discard(key)  # its page was left: Streamlit forgot the widget
    held = st.session_state.get(key, first)
    if key in moved and fits(held):
        return
    st.session_state[key] = held if fits(held) else first


def touched(key: str) -> None:
    """Mark widget ``key`` as moved by the user (its ``on_change``): `hold` leaves it alone."""
    st.session_state.setdefault(_TOUCHED, set()).add(key)


#: The widgets the user has moved on the page in view (`hold`, `touched`).
_TOUCHED = "_cxm_touched"
