"""The What-if page's sections: the comparison, the inverse question, the scenarios."""

from __future__ import annotations

import functools
from collections.abc import Callable

import polars as pl
import streamlit as st

from cxm.access import User
from cxm.config import CompanyConfig
from cxm.errors import CxmError
from cxm.reports import recommendations as files
from cxm.ui import fmt
from cxm.ui import whatif_charts as charts
from cxm.ui.whatif import ANSWERED, action_labels, load_scenario
from cxm.whatif import inverse, scenarios, summary
from cxm.whatif.compare import (
    EVEN_MIN_SELLERS,
    UNEVEN_BY,
    Comparison,
    Field,
    Guardrails,
    compare,
    rank,
)
from cxm.whatif.need import LABELS, PRIORITIES
from cxm.whatif.weights import Weights

DIMENSION_NAMES = {"market": "Market", "language": "Language", "rank": "Rank"}
EXAMPLE_COLUMNS = {
    "seller_id": "Seller",
    "segment": "Market · language · rank",
    "slot": "Slot",
    "before": "Published",
    "before_reasons": "Why (published)",
    "after": "Scenario",
    "after_reasons": "Why (scenario)",
}


def headline(result: Comparison) -> None:
    """The finding: who changes, then every priority's expected gain or cost, in words."""
    st.subheader(
        f"{fmt.share(result.changed_share)} of sellers would get a different first action"
        if result.changed
        else "Every seller keeps the first action the published weights give them"
    )
    moved = summary.effect(result.effect)
    if moved.gains or moved.costs:
        said = moved.describe()
        st.markdown(
            f"**Expected progress against what is published:** {fmt.md_escape(said)}",
            help="Per priority, follow-through x impact x need summed over every seller's "
            "three actions (the Expected effect view); gains largest first, then costs.",
        )
    c = st.columns(3)
    c[0].metric(
        "First action changes", f"{result.changed:,}", help=f"of {result.sellers:,} sellers"
    )
    c[1].metric("No useful action", f"{result.no_action['without'].sum():,}",
                help="Sellers with no eligible action that gains anything")  # fmt: skip
    c[2].metric(
        "Uneven segments",
        f"{result.uneven.height:,}",
        help="Markets or languages whose sellers change far more than the others",
    )


#: The comparison's views, in the order offered.
VIEWS = ("Where it changes", "Action mix", "Transitions", "Expected effect", "No useful action",
         "Example sellers")  # fmt: skip


def views(draw: Callable[[str, str], None]) -> None:
    """A picker of the comparison's views and the "By" choice; ``draw(view, dim)`` draws the
    picked view's content.

    Only the picked view is drawn (and sent to the browser), and ``draw`` is the page's
    fragment a slider move reruns: a move redraws one chart, not four, and not the pickers.
    A segmented control, not tabs: with the chart inside Streamlit's tabs, the browser
    redrew the tabs around it on every move (issue 21). Another view or segment picked is
    drawn from the same comparison.
    """
    pick, by = st.columns([3, 1], vertical_alignment="bottom")
    name = (
        pick.segmented_control(
            "View",
            VIEWS,
            default=VIEWS[0],
            required=True,
            key="wi_view",
            label_visibility="collapsed",
        )
        or VIEWS[0]
    )
    dim = (
        by.segmented_control(
            "By",
            list(DIMENSION_NAMES),
            format_func=DIMENSION_NAMES.get,
            default="market",
            required=True,
            key="wi_dim",
            help="The segments of the change rates and of the action mix table.",
        )  # fmt: skip
        or "market"
    )
    draw(name, dim)


def view(name: str, dim: str, result: Comparison, fld: Field, cfg: CompanyConfig) -> None:
    """The content of view ``name`` (one of `VIEWS`), by ``dim`` where it has segments."""
    labels = action_labels(fld)
    drawers = (
        lambda: _where(result, dim, cfg),
        lambda: _action_mix(result, dim, labels),
        lambda: st.plotly_chart(charts.transition(result.transition, labels), key="wi_transition"),
        lambda: _expected(result, fld),
        lambda: _without(result),
        lambda: _examples(result),
    )
    dict(zip(VIEWS, drawers, strict=True))[name]()


def _where(result: Comparison, dim: str, cfg: CompanyConfig) -> None:
    st.plotly_chart(
        charts.changed_by(result.changed_by[dim], dim, cfg, result.changed_share),
        key="wi_changed",
    )
    spreads = [
        f"{DIMENSION_NAMES[d].lower()}s {v * 100:.1f} pp"
        for d, v in result.spread.items()
        if v is not None
    ]
    if spreads:
        st.caption(
            "Spread of the change rates (highest minus lowest, segments of "
            f"{EVEN_MIN_SELLERS}+ sellers): {', '.join(spreads)}. A market or language "
            f"{round(UNEVEN_BY * 100)} pp or more above the others' median is flagged below."
        )
    for row in result.uneven.iter_rows(named=True):
        st.warning(
            f"{DIMENSION_NAMES[row['dimension']]} {fmt.md_escape(row['segment'])}: "
            f"{fmt.share(row['share'])} change their first action, against "
            f"{fmt.share(row['others_median'])} in the others (median): this scenario "
            "does not treat it like the rest.",
            icon=":material/balance:",
        )


def _action_mix(result: Comparison, dim: str, labels: dict[str, str]) -> None:
    st.plotly_chart(charts.action_mix(result.mix["rank"], labels), key="wi_mix")
    st.dataframe(
        _mix_table(result.mix[dim], labels, DIMENSION_NAMES[dim]),
        hide_index=True,
        key="wi_mix_table",
        column_config={
            c: st.column_config.NumberColumn(format="localized")
            for c in ("Published", "Scenario", "Change")
        },
    )


def _expected(result: Comparison, fld: Field) -> None:
    st.plotly_chart(charts.effect(result.effect), key="wi_effect")
    ft = fld.catalog.follow_through
    st.caption(
        f"Assumes {fmt.share(ft[0], 0)} of sellers act on their first recommendation, "
        f"{fmt.share(ft[1], 0)} on the second and {fmt.share(ft[2], 0)} on the third (the "
        "catalog's follow-through); progress = follow-through x impact x need, summed over "
        "sellers, per 1,000 sellers. A model of direction and size, not a forecast."
    )


def _without(result: Comparison) -> None:
    none = result.no_action.filter(pl.col("without") > 0)
    if none.is_empty():
        st.success("Every seller has at least one useful action in every market and language.")
        return
    st.dataframe(
        none.rename({"market": "Market", "language": "Language", "sellers": "Sellers",
                     "without": "No useful action", "share": "Share"}),
        hide_index=True,
        key="wi_none",
        column_config={
            "Share": st.column_config.NumberColumn(format="percent"),
            "Sellers": st.column_config.NumberColumn(format="localized"),
        },
    )  # fmt: skip


def _examples(result: Comparison) -> None:
    if result.examples.is_empty():
        st.info("No seller's first action changes, so there is nobody to show side by side.")
        return
    st.caption(
        "The first seller of each of the most common changes, with the reasons: each "
        "priority's weight x impact x need."
    )
    st.dataframe(result.examples.rename(EXAMPLE_COLUMNS), hide_index=True, key="wi_examples")


def _mix_table(mix: pl.DataFrame, labels: dict[str, str], name: str) -> pl.DataFrame:
    return (
        mix.with_columns(
            pl.col("action").replace_strict(labels, default=pl.col("action")),
            Change=pl.col("after") - pl.col("before"),
        )
        .rename({"segment": name, "action": "Action", "before": "Published", "after": "Scenario"})
        .sort([name, "Scenario"], descending=[False, True])
    )


def inverse_question(fld: Field, weights: Weights, guard: Guardrails) -> None:
    """The inverse question and the trade-off curve, each asked with a form; an answer shows
    until the next run (`ANSWERED` has a weight change rerun this to take it away)."""
    st.session_state[ANSWERED] = False
    with st.expander("Which weight would put an action first for a share of a segment?"):
        with st.form("wi_inverse"):
            c = st.columns(3)
            action = c[0].selectbox(
                "Action", fld.catalog.ids, format_func=action_labels(fld).get, key="wi_inv_action"
            )
            priority = c[1].selectbox(
                "Weight to move", PRIORITIES, format_func=LABELS.get, key="wi_inv_priority"
            )
            share = c[2].slider(
                "Share of the segment", 0.05, 1.0, 0.3, 0.05, format="%.2f", key="wi_inv_share"
            )
            d = st.columns(3)
            markets = d[0].multiselect("Markets", fld.labels["market"])
            languages = d[1].multiselect("Languages", fld.labels["language"])
            statuses = d[2].multiselect("Status", fld.labels["status"])
            asked = st.form_submit_button("Find the weight")
        if asked:
            st.session_state[ANSWERED] = True
            keep = fld.mask(market=markets, language=languages, status=statuses)
            try:
                answer = inverse.weight_for_share(
                    fld, weights, priority=priority, action=action, share=share, keep=keep,
                    guardrails=guard,
                )  # fmt: skip
            except CxmError as exc:
                st.error(fmt.md_escape(exc))
            else:
                st.markdown(fmt.md_escape(answer.describe()))
                st.plotly_chart(
                    charts.curve(answer.curve, "weight", ["share"], ["share first"], ".0%"),
                    key="wi_inverse_curve",
                )
                st.caption("Caps are left out here: a cap is a share of the whole field.")
    with st.expander("Trade-off between two priorities as one weight moves"):
        with st.form("wi_tradeoff"):
            c = st.columns(3)
            moving = c[0].selectbox(
                "Weight to move", PRIORITIES, format_func=LABELS.get, key="wi_trade_moving"
            )
            first = c[1].selectbox(
                "Priority A", PRIORITIES, 0, format_func=LABELS.get, key="wi_trade_a"
            )
            second = c[2].selectbox(
                "Priority B", PRIORITIES, 2, format_func=LABELS.get, key="wi_trade_b"
            )
            asked = st.form_submit_button("Draw the trade-off")
        if asked:
            st.session_state[ANSWERED] = True
            frame = inverse.tradeoff(
                fld, weights, moving=moving, first=first, second=second, guardrails=guard
            )
            cols = list(dict.fromkeys([first, second]))
            st.plotly_chart(
                charts.curve(frame, "weight", cols, [LABELS[p] for p in cols], ".1f"),
                key="wi_tradeoff_curve",
            )
            st.caption("Expected progress per 1,000 sellers as the weight moves from 0 to 3.")


def scenario_panel(user: User, fld: Field, weights: Weights, guard: Guardrails) -> None:
    """Save, load, compare and publish; the library checks every role.

    A save that fails says why and leaves the rest of the section as it was.
    """
    st.subheader("Scenarios")
    flash = st.session_state.pop("wi_flash", None)
    if flash:
        st.success(fmt.md_escape(flash), icon=":material/publish:")
    saved = scenarios.list_all()
    if user.role in scenarios.SAVE_ROLES:
        with st.form("wi_save", clear_on_submit=True):
            name = st.text_input("Name", max_chars=scenarios.MAX_NAME, key="wi_name")
            if st.form_submit_button("Save these weights"):
                try:
                    found = scenarios.save(name, weights, guard, user=user, field=fld)
                except CxmError as exc:
                    st.error(f"Not saved: {fmt.md_escape(exc)}", icon=":material/error:")
                else:
                    st.session_state["wi_loaded"] = (found.id, found.weights, found.guardrails)
                    st.query_params["scenario"] = str(found.id)
                    st.success(f"Saved {fmt.md_escape(found.name)} (link: ?scenario={found.id}).")
                    saved = scenarios.list_all()
    if not saved:
        st.info("No scenario saved yet." + (" Name the weights above to save them."
                if user.role in scenarios.SAVE_ROLES else ""))  # fmt: skip
    else:
        by_id = {s.id: s for s in saved}
        pick = st.selectbox("Saved scenarios", list(by_id),
                            format_func=lambda i: by_id[i].describe(), key="wi_pick")  # fmt: skip
        c = st.columns(3)
        c[0].button("Load it", on_click=load_scenario, args=(by_id[pick],), key="wi_load")
        pub = scenarios.published(fld.catalog)
        if user.role in scenarios.PUBLISH_ROLES:
            now = pub.scenario is not None and pub.scenario.id == pick
            if c[1].button(
                "Published now" if now else "Publish it...",
                key="wi_publish",
                disabled=now,
                help="Shows what changes for the field and asks you to confirm.",
            ):
                st.session_state["wi_confirm"] = pick
            asked = st.session_state.get("wi_confirm")
            if asked is not None and asked in by_id:
                _confirm_publish(user, fld, by_id[asked], pub)
        other = c[2].selectbox("Compare with", [i for i in by_id if i != pick],
                               format_func=lambda i: by_id[i].name, index=None,
                               key="wi_other")  # fmt: skip
        if other is not None:
            _two(fld, by_id[pick], by_id[other])


def _confirm_publish(
    user: User, fld: Field, sc: scenarios.Scenario, pub: scenarios.Published
) -> None:
    """What publishing ``sc`` changes for the field, then Confirm or Cancel."""
    result = compare(
        fld,
        rank(fld, sc.weights, sc.guardrails),
        baseline=fld.baseline(pub.guardrails, pub.weights),
    )
    by_market = ", ".join(
        f"{r['segment']} {fmt.share(r['share'])}"
        for r in result.changed_by["market"].iter_rows(named=True)
        if r["sellers"]
    )
    with st.container(border=True, key="wi_confirm_box"):
        st.markdown(
            f"**Publish {fmt.md_escape(sc.name)}?** It replaces what is published now, "
            f"{fmt.md_escape(pub.describe())}, as the weights the field platform runs. "
            f"For the field ({result.sellers:,} live sellers in "
            f"{fmt.md_escape(fld.scope.describe())}): {fmt.share(result.changed_share)} "
            f"({result.changed:,}) get a different first action "
            f"(by market: {fmt.md_escape(by_market)}). "
            f"{fmt.md_escape(summary.effect(result.effect).describe())}"
        )
        c = st.columns(2)
        label = f"Confirm: publish {fmt.md_escape(sc.name)}"
        if c[0].button(label, key="wi_publish_confirm", type="primary"):
            done = scenarios.publish(sc.id, user=user)
            del st.session_state["wi_confirm"]
            st.session_state["wi_flash"] = (
                f"Published {done.name}: {result.changed:,} sellers get a different first "
                "action. The audit trail has it."
            )
            st.rerun()
        if c[1].button("Cancel", key="wi_publish_cancel"):
            del st.session_state["wi_confirm"]
            st.rerun()


def _two(fld: Field, a: scenarios.Scenario, b: scenarios.Scenario) -> None:
    first = rank(fld, a.weights, a.guardrails)
    result = compare(fld, rank(fld, b.weights, b.guardrails), baseline=first)
    st.markdown(
        f"**{fmt.md_escape(b.name)}** against **{fmt.md_escape(a.name)}**: "
        f"{fmt.share(result.changed_share)} of sellers ({result.changed:,}) get a different "
        "first action."
    )
    st.plotly_chart(charts.transition(result.transition, action_labels(fld)), key="wi_two")


def exports(user: User, fld: Field, weights: Weights, guard: Guardrails) -> None:
    """The recommendations for these weights, prepared on request, and the weights as JSON
    for the field platform, made when downloaded (not on every slider move)."""
    if user.role not in files.EXPORT_ROLES:
        return
    c = st.columns(3)
    for col, fmt_ in zip(c[:2], files.FORMATS, strict=True):
        if col.button(f"Prepare recommendations ({fmt_.upper()})", key=f"wi_prep_{fmt_}"):
            made = files.export_recommendations(user, fld, rank(fld, weights, guard), fmt_)
            st.session_state[f"wi_file_{fmt_}"] = (weights, guard, made)
        kept = st.session_state.get(f"wi_file_{fmt_}")
        # A file made for other weights is not offered: it would not be what the page shows.
        if kept and kept[:2] == (weights, guard):
            data = kept[2]
            col.download_button(
                f"Download ({len(data) / 1e6:.1f} MB)", data,
                file_name=f"cxm-recommendations.{fmt_}", key=f"wi_dl_{fmt_}",
            )  # fmt: skip
    c[2].download_button(
        "Weights and catalog (JSON)",
        functools.partial(files.field_platform_json, fld, weights, user, guardrails=guard),
        file_name=f"cxm-weights-{fld.catalog.version}.json",
        mime="application/json",
        key="wi_json",
    )
