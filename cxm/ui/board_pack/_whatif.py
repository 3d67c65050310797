"""The board pack's what-if page: a scenario against the catalog's weights, its gains and
costs per priority, and who moves from which first action to which."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from cxm.ui import fmt
from cxm.ui.board_pack import _story
from cxm.ui.board_pack._layout import INK, LEFT, WIDTH, Pack
from cxm.ui.board_pack._pages import Words


def _effect_figure(effect: pl.DataFrame) -> go.Figure:
    """Bars of each priority's expected change against the catalog's weights, in %: gains
    green to the right, costs orange to the left, each labelled."""
    data = effect.filter(pl.col("change").is_not_null()).sort("change")
    values = [100 * v for v in data["change"]]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=data["label"].to_list(),
            orientation="h",
            text=[fmt.signed(v, 0, "%") for v in values],
            textposition="outside",
            marker_color=["#009E73" if v > 0 else "#D55E00" for v in values],
        )
    )
    fig.update_layout(template="plotly_white", showlegend=False)
    fig.update_xaxes(ticksuffix="%", zeroline=True, zerolinecolor="#444444")
    span = max([abs(v) for v in values] or [1])
    fig.update_xaxes(range=[-span * 1.35, span * 1.35])
    return fig


def scenario(pdf: Pack, words: Words, sc, field, result, cfg) -> None:
    """Page 3: the scenario against the catalog's weights: gains, costs and who moves."""
    pdf.add_page()
    gains, costs = _story.gains_and_costs(result.effect)
    published = (
        f"published by {sc.published_by} on {fmt.date(sc.published_at)}"
        if getattr(sc, "published_by", None)
        else "not published"
    )
    guard = ", ".join(
        n for n, on in (("mandatory actions kept", sc.guardrails.mandatory),
                        ("caps applied", sc.guardrails.caps)) if on
    ) or "no guardrails"  # fmt: skip
    pdf.title_block(
        f"What-if scenario: {sc.name}",
        f"Priorities {sc.weights.describe()}; {guard}. {sc.origin}, {published}. Against the "
        f"catalog's weights over the {result.sellers:,} live sellers in {words.scope} on "
        f"{fmt.date(field.as_of)} (the what-if works on today's field, not on a period).",
    )
    pdf.set_font("DejaVu", size=10.5)
    pdf.set_text_color(*INK)
    pdf.multi_cell(
        0,
        5.4,
        align="L",
        text=f"{fmt.share(result.changed_share)} of sellers ({result.changed:,}) would get a "
        f"different first action. Expected gains: {', '.join(gains) or 'none'}. Expected "
        f"costs: {', '.join(costs) or 'none'}.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)
    top = pdf.get_y()
    half = (WIDTH - 8) / 2
    pdf.heading("Expected change on each priority", x=LEFT, w=half)
    pdf.svg(_effect_figure(result.effect), x=LEFT, y=top + 8, w=half, h=66)
    right = LEFT + half + 8
    pdf.set_xy(right, top)
    pdf.heading("Expected progress per 1,000 sellers", x=right, w=half)
    pdf.set_x(right)
    pdf.grid(
        ["Priority", "Catalog's weights", "Scenario", "Change"],
        [
            [
                r["label"],
                f"{r['baseline']:.1f}",
                f"{r['scenario']:.1f}",
                fmt.DASH if r["change"] is None else fmt.signed(100 * r["change"], 0, "%"),
            ]
            for r in result.effect.iter_rows(named=True)
        ],  # fmt: skip
        (52, 30, 25, 22),
        align="LRRR",
        x=right,
        size=8,
    )
    labels = {a.id: a.label for a in field.catalog.actions} | {"(none)": "No action"}
    moves = result.transition.filter(pl.col("baseline") != pl.col("scenario")).head(5)
    pdf.set_x(right)
    pdf.heading("The most common changes of first action", x=right, w=half)
    pdf.grid(
        ["From", "To", "Sellers"],
        [
            [labels[r["baseline"]], labels[r["scenario"]], f"{r['sellers']:,}"]
            for r in moves.iter_rows(named=True)
        ],  # fmt: skip
        (56, 56, 17),
        align="LLR",
        x=right,
        size=7.5,
        line_height=4.2,
    )
    ft = field.catalog.follow_through
    pdf.set_y(max(pdf.get_y(), top + 78))
    pdf.note(
        f"Expected progress assumes {ft[0]:.0%}, {ft[1]:.0%} and {ft[2]:.0%} of sellers act on "
        "their first, second and third recommendation: a model of direction and size, not a "
        "forecast."
    )
