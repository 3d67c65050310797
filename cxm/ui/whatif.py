"""The What-if page's widgets and sections: sliders mirrored in the URL, the cached field.

The field (seller state, needs, eligibility) is prepared once per warehouse generation and
user scope and kept in `st.cache_resource`, with its baseline ranking; a slider move then costs
one ranking and one counting pass. Weights travel in the URL as ``w=retention:2,cart_size:0.5``
(priorities left out weigh 0) or as a saved ``scenario=<id>``; a bad value is named in a
warning and the published weights are shown instead. "Published" is the scenario published
last (`cxm.whatif.scenarios.published`), read on every run: a publication in one session is
what every other session compares against from its next run.

The page is drawn in fragments, so that a slider move reruns, and sends the browser, only
what shows the weights: the comparison, the exports and an inverse answer on screen; not the
sliders, presets, the questions' forms or the saved scenarios (issue 21: the browser's work
on every element it receives again was most of a move).
"""

from __future__ import annotations

import weakref

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from cxm.access import Role, Scope, User
from cxm.errors import CxmError
from cxm.logs import slow_logged
from cxm.ui import filters, fmt, queries, warehouse
from cxm.whatif import scenarios
from cxm.whatif.compare import Comparison, Field, Guardrails, compare, load_field, rank
from cxm.whatif.need import LABELS, PRIORITIES
from cxm.whatif.weights import MAX_WEIGHT, STEP, Weights

#: Roles that move the sliders; executives look at saved scenarios, read-only.
PREVIEW_ROLES = (Role.STRATEGIST, Role.ANALYST, Role.ADMIN)
_KEYS = {p: f"wi_{p}" for p in PRIORITIES}
#: The weights and guardrails the sliders last showed, kept across pages (the URL is not).
_KEPT = "_cxm_whatif"
#: The page's fragments (`st.fragment` keys), in the order drawn. VIEW (the picked view's
#: content) is drawn inside VIEWS (the view and "By" pickers), and reruns alone on a move.
CONTROLS, COMPARISON, VIEWS, VIEW, QUESTIONS, SCENARIOS, EXPORTS = (
    "whatif_controls", "whatif_comparison", "whatif_views", "whatif_view", "whatif_questions",
    "whatif_scenarios", "whatif_exports",
)  # fmt: skip
#: Set while an inverse answer or trade-off, worked out for the weights then, is on screen.
ANSWERED = "_cxm_whatif_answered"
#: The comparison last worked out: (the field, weakly; the weights it was for; the result).
_COMPARED = "_cxm_whatif_compared"


@st.cache_resource(max_entries=8, show_spinner=False)
@slow_logged
def _field(gen: tuple, markets: tuple[str, ...] | None) -> Field:
    field = load_field(warehouse.company(Scope(markets=markets)), queries.config())
    field.baseline()  # computed once, with the field
    return field


def field(user: User) -> Field:
    """The seller field inside ``user``'s scope, prepared for the catalog in force."""
    with st.spinner("Preparing every seller's state and eligibility (once per data load)..."):
        return _field(warehouse.generation_key(), user.scope.markets)


def _warn(message: str) -> None:
    st.warning(fmt.md_escape(message), icon=":material/link_off:")


def _set(weights: Weights, guardrails: Guardrails) -> None:
    for p, w in weights.as_dict().items():
        st.session_state[_KEYS[p]] = w
    st.session_state["wi_mandatory"] = guardrails.mandatory
    st.session_state["wi_caps"] = guardrails.caps


def published(fld: Field) -> scenarios.Published:
    """What is published now: the last published scenario, or the catalog's weights."""
    return scenarios.published(fld.catalog)


def start(fld: Field) -> None:
    """On the session's first visit, set the sliders from the URL (or the published weights)."""
    if _KEPT in st.session_state:
        return
    pub = published(fld)
    weights, guard = pub.weights, pub.guardrails
    asked = filters.page_param("scenario", "")
    try:
        if asked:
            if not asked.isdigit():
                raise scenarios.ScenarioError("unknown_scenario", f'"{asked}" is not a scenario id')
            found = scenarios.get(int(asked))
            weights, guard = found.weights, found.guardrails
            st.session_state["wi_loaded"] = (found.id, weights, guard)
        elif filters.page_param("w", ""):
            weights = Weights.parse(filters.page_param("w", ""), where="link parameter w")
            g = filters.page_param("guard", "mandatory,caps").split(",")
            guard = Guardrails(mandatory="mandatory" in g, caps="caps" in g)
    except CxmError as exc:
        _warn(f"{exc} The published weights are shown instead.")
    st.session_state[_KEPT] = (weights, guard)
    _set(weights, guard)


def redraw(*also: str) -> None:
    """End a callback that changed the weights in a fragment's run: rerun instead the
    fragments that show them (and ``also``), not the rest. A whole-page run (AppTest's, or a
    page's first) draws everything anyway and is left as it is."""
    ctx = get_script_run_ctx()
    if ctx is None or not ctx.fragment_ids_this_run:
        return
    keys = [*also, COMPARISON, VIEW, EXPORTS]
    if st.session_state.get(ANSWERED):
        keys.append(QUESTIONS)  # an answer for the old weights must go
    st.rerun(keys)


def _moved(key: str) -> None:
    filters.touched(key)
    redraw()


def _preset(weights: Weights, guardrails: Guardrails) -> None:
    _set(weights, guardrails)
    redraw(CONTROLS)


def preset_picker(fld: Field) -> None:
    """A row of buttons: back to what is published, or one of the catalog's presets."""
    cols = st.columns(1 + len(fld.catalog.presets))
    pub = published(fld)
    cols[0].button(
        "Published",
        key="wi_preset_baseline",
        use_container_width=True,
        on_click=_preset,
        args=(pub.weights, pub.guardrails),
        help=f"Back to what is published: {pub.describe()}",
    )
    for col, (pid, preset) in zip(cols[1:], fld.catalog.presets.items(), strict=True):
        col.button(
            preset.label,
            key=f"wi_preset_{pid}",
            use_container_width=True,
            on_click=lambda w=preset.weights: _preset(Weights.of(w), current_guardrails()),
        )


def sliders(user: User) -> None:
    """One slider per priority and the two guardrail toggles; a move reruns what shows them."""
    read_only = user.role not in PREVIEW_ROLES
    kept_weights, kept_guard = st.session_state[_KEPT]
    for p, w in kept_weights.as_dict().items():
        filters.hold(_KEYS[p], w)
    filters.hold("wi_mandatory", kept_guard.mandatory)
    filters.hold("wi_caps", kept_guard.caps)
    cols = st.columns(4)
    for i, p in enumerate(PRIORITIES):
        cols[i % 4].slider(
            LABELS[p],
            0.0,
            MAX_WEIGHT,
            step=STEP,
            key=_KEYS[p],
            disabled=read_only,
            format="x%.2f",
            on_change=_moved,
            args=(_KEYS[p],),
        )
    cols[3].toggle(
        "Keep mandatory actions",
        key="wi_mandatory",
        disabled=read_only,
        on_change=_moved,
        args=("wi_mandatory",),
    )
    cols[3].toggle(
        "Apply caps",
        key="wi_caps",
        disabled=read_only,
        on_change=_moved,
        args=("wi_caps",),
    )
    if read_only:
        st.caption("Executives see the published weights and saved scenarios, read-only.")


def current() -> tuple[Weights, Guardrails]:
    """The weights and guardrails the sliders hold now (drawn by `sliders` in this run or
    an earlier one)."""
    weights = Weights.of({p: st.session_state[_KEYS[p]] for p in PRIORITIES})
    guard = Guardrails(
        mandatory=bool(st.session_state["wi_mandatory"]), caps=bool(st.session_state["wi_caps"])
    )
    return weights, guard


def chosen() -> tuple[Weights, Guardrails]:
    """The weights and guardrails the sliders hold, kept for other pages; the URL follows."""
    weights, guard = current()
    st.session_state[_KEPT] = (weights, guard)
    loaded = st.session_state.get("wi_loaded")
    if loaded and loaded[1:] != (weights, guard) and "scenario" in st.query_params:
        del st.query_params["scenario"]  # moved away from the saved scenario the link named
    filters.set_page_params(w=url_weights(weights), guard=url_guard(guard))
    return weights, guard


def comparison(fld: Field) -> Comparison:
    """The sliders' weights compared with what is published now, worked out once for a run
    (its first fragment that shows it) and read by the others of the run: the headline and
    the picked view are apart so that a move does not redraw the pickers (issue 21)."""
    weights, guard = chosen()
    now = published(fld)  # read on every run: a publication elsewhere shows from the next
    asked = (weights, guard, now.weights, now.guardrails)
    kept = st.session_state.get(_COMPARED)
    if kept is not None and kept[0]() is fld and kept[1] == asked:
        return kept[2]
    result = compare(
        fld, rank(fld, weights, guard), baseline=fld.baseline(now.guardrails, now.weights)
    )
    # Weakly: a session must not keep a field the cache has let go (a new load's, say).
    st.session_state[_COMPARED] = (weakref.ref(fld), asked, result)
    return result


def current_guardrails() -> Guardrails:
    return Guardrails(
        mandatory=st.session_state.get("wi_mandatory", True),
        caps=st.session_state.get("wi_caps", True),
    )


def url_weights(weights: Weights) -> str:
    return ",".join(f"{p}:{w:g}" for p, w in weights.as_dict().items() if w)


def url_guard(guard: Guardrails) -> str:
    return ",".join(n for n, on in (("mandatory", guard.mandatory), ("caps", guard.caps)) if on)


def load_scenario(found: scenarios.Scenario) -> None:
    """Move the sliders to a saved scenario and put its id in the URL (a shareable link).

    A button callback: it runs before the sliders are drawn again.
    """
    _set(found.weights, found.guardrails)
    st.session_state["wi_loaded"] = (found.id, found.weights, found.guardrails)
    st.query_params["scenario"] = str(found.id)
    redraw(CONTROLS, SCENARIOS)


def action_labels(fld: Field) -> dict[str, str]:
    return {"(none)": "No action", **{a.id: a.label for a in fld.catalog.actions}}
