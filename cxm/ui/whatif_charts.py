"""Plotly figures of the What-if page: change by segment, action mix, effect, curves.

Drawn again on every slider move, so each is laid out with `charts.figure` (the layout taken
as given, not checked again by Plotly: that was most of a move's Python).
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from cxm.config import CompanyConfig
from cxm.ui import fmt
from cxm.ui.charts import CORPORATE, PALETTE, _colors, figure, label_margin

BEFORE, AFTER = "#9e9e9e", "#0072B2"


def changed_by(
    rates: pl.DataFrame, dim: str, cfg: CompanyConfig, overall: float | None = None
) -> go.Figure:
    """Bars: share of each segment's sellers whose first action changes; the whole field's
    share as a dotted line when ``overall`` is given (the PDF's SVG reader takes no dashes)."""
    rows = rates.filter(pl.col("sellers") > 0)
    labels = [str(v) for v in rows["segment"]]
    bars = go.Bar(
        x=rows["share"].to_list(),
        y=labels,
        orientation="h",
        text=[fmt.share(v) for v in rows["share"]],
        # A segment where nobody changes has no bar: its "0.0%" beside the axis says so,
        # where "auto" hid it, and the empty row read as missing data.
        textposition=["outside" if v == 0 else "auto" for v in rows["share"]],
        marker=dict(color=_colors(dim, rows["segment"], cfg)),
        customdata=list(zip(rows["changed"], rows["sellers"], strict=True)),
        hovertemplate="%{y}: %{text}<br>%{customdata[0]:,} of %{customdata[1]:,} sellers"
        "<extra></extra>",
    )
    marks = {}
    if overall is not None:
        # As add_vline draws it, given as layout parts: add_vline costs a page's redraw
        # some 20 ms of Plotly's own bookkeeping on every slider move.
        marks = dict(
            shapes=[
                dict(type="line", xref="x", yref="y domain", x0=overall, x1=overall, y0=0,
                     y1=1, line=dict(dash="dot", color=CORPORATE))
            ],
            annotations=[
                dict(xref="x", yref="y domain", x=overall, y=1, text=f"all {fmt.share(overall)}",
                     showarrow=False, xanchor="center", yanchor="bottom")
            ],
        )  # fmt: skip
    return figure(
        [bars],
        **marks,
        height=max(220, 36 * len(labels) + 70),
        showlegend=False,
        # Fixed margins for the tick labels (one line below, the segment names to the left),
        # not the template's automargin: with it, Plotly measured the labels and drew the
        # chart a second time on every slider move (bottom: Plotly.react of this chart 26 ->
        # 14 ms; left: a move from release to redrawn 192 -> 172 ms at 1,000,000 sellers).
        margin=dict(l=label_margin(labels), r=10, t=30, b=30),
        xaxis=dict(tickformat=".0%", rangemode="tozero", automargin=False),
        yaxis=dict(autorange="reversed", automargin=False),
    )


def action_mix(mix: pl.DataFrame, labels: dict[str, str], top: int = 12) -> go.Figure:
    """Grouped bars: sellers with each action first, before and after (the largest ``top``)."""
    total = (
        mix.group_by("action")
        .agg(pl.col("before").sum(), pl.col("after").sum())
        .with_columns(size=pl.max_horizontal("before", "after"))
        .sort(["size", "action"], descending=[True, False])
        .head(top)
    )
    names = [labels.get(a, a) for a in total["action"]]
    bars = [
        go.Bar(
            x=total[col].to_list(),
            y=names,
            orientation="h",
            name=name,
            marker_color=color,
            hovertemplate="%{y}: %{x:,} sellers<extra>" + name + "</extra>",
        )
        for col, color, name in (("before", BEFORE, "Published"), ("after", AFTER, "Scenario"))
    ]
    return figure(
        bars,
        barmode="group",
        height=max(260, 44 * len(names) + 80),
        xaxis=dict(tickformat="~s", title=dict(text="sellers with it first")),
        yaxis=dict(autorange="reversed"),
    )


def effect(effects: pl.DataFrame) -> go.Figure:
    """Grouped bars: expected progress per 1,000 sellers on each priority, published and
    scenario, each bar labelled with its value and each priority with its change in words."""
    bars = [
        go.Bar(
            x=effects["label"].to_list(),
            y=effects[col].to_list(),
            name=name,
            marker_color=color,
            text=[f"{v:.1f}" for v in effects[col]],
            textposition="outside",
            hovertemplate="%{x}: %{y:.1f}<extra>" + name + "</extra>",
        )
        for col, color, name in (("baseline", BEFORE, "Published"), ("scenario", AFTER, "Scenario"))
    ]
    top = max([*effects["baseline"], *effects["scenario"], 0.0]) or 1.0
    notes = []
    for row in effects.iter_rows(named=True):
        change = row["change"]
        if change is None:
            said = "new" if row["scenario"] > 0 else "none"
        else:
            said = fmt.signed(100 * change, 0, "%")
        notes.append(
            dict(x=row["label"], y=top * 1.22, text=f"<b>{said}</b>", showarrow=False,
                 yanchor="bottom")
        )  # fmt: skip
    return figure(
        bars,
        annotations=notes,
        barmode="group",
        height=360,
        title=dict(
            text="Expected progress per 1,000 sellers: published and scenario (change above)"
        ),
        margin=dict(l=10, r=10, t=60, b=10),
        legend=dict(orientation="h", yanchor="top", y=-0.12, x=0),
        yaxis=dict(
            title=dict(text="expected progress per 1,000 sellers"),
            rangemode="tozero",
            range=[0, top * 1.4],
        ),
    )


def transition(trans: pl.DataFrame, labels: dict[str, str], top: int = 8) -> go.Figure:
    """Heatmap of baseline first action (rows) to scenario first action (columns)."""
    keep = (
        pl.concat(
            [
                trans.select(a=pl.col("baseline"), n="sellers"),
                trans.select(a=pl.col("scenario"), n="sellers"),
            ]
        )  # fmt: skip
        .group_by("a")
        .agg(pl.col("n").sum())
        .sort(["n", "a"], descending=[True, False])
        .head(top)["a"]
        .to_list()
    )
    cells = {(r["baseline"], r["scenario"]): r["sellers"] for r in trans.iter_rows(named=True)}
    z = [[cells.get((b, s), 0) for s in keep] for b in keep]
    names = [labels.get(a, a) for a in keep]
    cells = go.Heatmap(
        z=z,
        x=names,
        y=names,
        colorscale="Blues",
        text=[[f"{v:,}" if v else "" for v in row] for row in z],
        texttemplate="%{text}",
        hovertemplate="published %{y}<br>scenario %{x}<br>%{z:,} sellers<extra></extra>",
        showscale=False,
    )
    return figure(
        [cells],
        height=max(300, 42 * len(keep) + 120),
        xaxis=dict(title=dict(text="first action in the scenario"), tickangle=-30),
        yaxis=dict(title=dict(text="first action published"), autorange="reversed"),
    )


def curve(frame: pl.DataFrame, x: str, ys: list[str], names: list[str], y_format: str) -> go.Figure:
    """Lines of ``ys`` against a weight ``x`` (the inverse curve, the trade-off)."""
    lines = [
        go.Scatter(
            x=frame[x].to_list(),
            y=frame[y].to_list(),
            mode="lines+markers",
            name=name,
            line=dict(color=PALETTE[i]),
        )
        for i, (y, name) in enumerate(zip(ys, names, strict=True))
    ]
    return figure(
        lines,
        height=300,
        xaxis=dict(title=dict(text="weight"), dtick=0.5),
        yaxis=dict(tickformat=y_format, rangemode="tozero"),
    )
