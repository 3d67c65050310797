"""Plotly figures for the pages: one look, one colour per market and per rank everywhere.

Figures take plain frames from `cxm.metrics` and return `go.Figure`; titles are set by the
pages (they state the finding). Numbers on axes and hovers use the KPI's unit.
"""

from __future__ import annotations

import functools
import math

import plotly.graph_objects as go
import plotly.io as pio
import polars as pl

from cxm.config import CompanyConfig
from cxm.metrics.kpis import Kpi
from cxm.segments.order import label, listed, sort_segments
from cxm.ui import fmt

#: Okabe-Ito, readable by colour-blind readers; markets take them in configured order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
RANK_SCALE = ("#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b")
CORPORATE, CUSTOMER, SELLER = "#6b6b6b", "#0072B2", "#E69F00"
#: The trace types cxm draws (Funnel has no part in the template), and the layout parts of
#: plots it never draws (3-D scenes, polar, ternary, maps).
_TRACES = ("bar", "scatter", "heatmap")
_NOT_DRAWN = ("scene", "polar", "ternary", "geo", "mapbox", "map")


@functools.cache
def _white() -> dict:
    """The "plotly_white" template with only the parts our charts use: the same look in 2.9 KB
    instead of 7.2 KB, sent and parsed with every figure (a dozen on the Overview)."""
    full = pio.templates["plotly_white"].to_plotly_json()
    return {
        "data": {k: v for k, v in full["data"].items() if k in _TRACES},
        "layout": {k: v for k, v in full["layout"].items() if k not in _NOT_DRAWN},
    }


#: The house font size, in px.
FONT_SIZE = 13

_LAYOUT = dict(
    template=_white(),
    margin=dict(l=10, r=10, t=30, b=10),
    font=dict(size=FONT_SIZE),
    legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
)


def figure(traces: list, **layout) -> go.Figure:
    """Return a figure of ``traces`` (Plotly's trace objects, checked as they were made) laid
    out in the house look with ``layout`` (a plain dict, like `update_layout`'s).

    The same figure as ``go.Figure(traces).update_layout(**_LAYOUT, **layout)``, but the layout
    is taken as it is: checking it again, with the "plotly_white" template's every part, cost
    Plotly some 20 ms a figure, most of a What-if slider move's Python. A test checks that
    Plotly's own checks leave every such figure as it is.
    """
    return go.Figure(traces, {**_LAYOUT, **layout}, _validate=False)


def label_margin(labels: list[str], size: int = FONT_SIZE) -> int:
    """Return a margin (px) wide enough for the longest of ``labels`` as tick labels, for a
    chart drawn again on every slider move with the axis' automargin off: with it on, Plotly
    measures the labels and draws the whole chart a second time on every redraw.

    0.62 em a character (wider than the average letter of the house sans-serif fonts) and
    12 px between the labels and the plot.

    >>> label_margin(["BR", "MX"]), label_margin(["Executive Director"]), label_margin([])
    (29, 158, 12)
    """
    return 12 + math.ceil(0.62 * size * max(map(len, labels), default=0))


def _house(fig: go.Figure, **layout) -> go.Figure:
    """Return ``fig`` in the house look with ``layout``: what ``fig.update_layout(**_LAYOUT,
    **layout)`` returns (the keys given are none ``fig``'s layout holds yet), through `figure`,
    without Plotly checking the "plotly_white" template again (~20 ms a figure, ten figures a
    page)."""
    made = fig.layout.to_plotly_json()
    made.pop("template", None)
    return figure(list(fig.data), **made, **layout)


def warm() -> None:
    """Build one figure of each kind the pages draw, the first of which costs Plotly ~0.7 s
    of imports and template loading per process; the app calls it before anyone signs in."""
    # Plotly uses pandas when it is in sys.modules, as it is there: half initialised while
    # another thread imports it ("partially initialized module 'pandas'"). Imported here,
    # that waits for the other thread's import to finish.
    import pandas  # noqa: F401

    figure(
        [
            go.Bar(x=[1.0], y=["a"], orientation="h"),
            go.Scatter(x=[1], y=[1]),
            go.Heatmap(z=[[1.0]]),
            go.Funnel(y=["a"], x=[1]),
        ]
    ).add_vline(x=0).to_json()


def market_colors(cfg: CompanyConfig) -> dict[str, str]:
    """Return each configured market's colour (the same on every chart)."""
    return {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(cfg.market_codes)}


def rank_colors(cfg: CompanyConfig) -> dict[str, str]:
    """Return each rank's colour, light at the entry rank to dark at the top."""
    step = (len(RANK_SCALE) - 1) / max(1, len(cfg.ranks) - 1)
    return {r: RANK_SCALE[round(i * step)] for i, r in enumerate(cfg.ranks)}


def _axis_format(unit: str) -> dict:
    return {
        "share": dict(tickformat=".0%"),
        "amount": dict(tickprefix="$", tickformat="~s"),
        "count": dict(tickformat="~s"),
    }.get(unit, {})


def _colors(dim: str, values, cfg: CompanyConfig) -> list[str]:
    table = market_colors(cfg) if dim == "market" else rank_colors(cfg) if dim == "rank" else {}
    return [table.get(v, PALETTE[0]) for v in values]


def _intervals(rows: pl.DataFrame, kpi: Kpi, cfg: CompanyConfig) -> list[str]:
    """Return each row's 95% interval as hover text ("–" where there is none)."""
    if "ci_low" not in rows.columns:
        return [fmt.DASH] * rows.height
    return [
        fmt.interval(kpi.unit, lo, hi, cfg.currency)
        for lo, hi in zip(rows["ci_low"], rows["ci_high"], strict=True)
    ]


def kpi_bars(
    frame: pl.DataFrame, kpi: Kpi, dim: str, cfg: CompanyConfig, company: float | None = None
) -> go.Figure:
    """Return horizontal bars of one KPI by one dimension, segments in ladder order; small
    segments hatched; a bar of 0 keeps its label (outside the bar, where Plotly's "auto"
    drops it) and a missing value reads "–" with its reason at 0."""
    rows = sort_segments(frame.filter(pl.col("kpi_id") == kpi.id), cfg, [dim])
    labels = [label(dim, v, cfg) for v in rows[dim]]
    values = rows["value"].to_list()
    texts = [
        fmt.kpi_value(kpi.unit, v, cfg.currency)
        + (
            f" ({fmt.missing_reason(n, cfg.min_n, noun=fmt.counted(kpi))})"
            if v is None or s
            else ""
        )
        for v, n, s in zip(values, rows["n"], rows["small"], strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=[0.0 if v is None else v for v in values],
            y=labels,
            orientation="h",
            text=texts,
            textposition=["outside" if not v else "auto" for v in values],
            marker=dict(
                color=_colors(dim, rows[dim], cfg),
                pattern=dict(shape=["/" if s else "" for s in rows["small"]]),
            ),
            customdata=list(zip(rows["n"].to_list(), _intervals(rows, kpi, cfg), strict=True)),
            hovertemplate="%{y}: %{text}<br>95% interval %{customdata[1]}"
            "<br>n = %{customdata[0]:,}<extra></extra>",
        )
    )
    if company is not None:
        fig.add_vline(
            x=company,
            line_dash="dot",
            line_color=CORPORATE,
            annotation_text=f"company {fmt.kpi_value(kpi.unit, company, cfg.currency)}",
            annotation_position="top",
        )
    fig = _house(fig, height=max(220, 40 * len(labels) + 60), showlegend=False)
    fig.update_xaxes(**_axis_format(kpi.unit))
    fig.update_yaxes(autorange="reversed")
    return fig


def _grid(
    cells: dict, ys: list, xs: list, show, min_n: int, none: str, colorscale: str
) -> go.Figure:
    """Return a labelled heatmap of ``cells[(y, x)] = (value, n)``: a cell with n under
    ``min_n`` uncoloured and marked so, one with nothing to count reading ``none``."""
    z, text = [], []
    for y in ys:
        zr, tr = [], []
        for x in xs:
            value, n = cells.get((y, x), (None, None))
            ok = value is not None and n is not None and n >= min_n
            zr.append(value if ok else None)
            tr.append(show(value) if ok else f"n < {min_n}" if n else f"{fmt.DASH} {none}")
        z.append(zr)
        text.append(tr)
    return _house(
        go.Figure(
            go.Heatmap(
                z=z,
                x=[str(x) for x in xs],
                y=[str(y) for y in ys],
                text=text,
                texttemplate="%{text}",
                showscale=False,
                hovertemplate="%{y} · %{x}: %{text}<extra></extra>",
                colorscale=colorscale,
            )
        ),
        height=max(260, 38 * len(ys) + 80),
    ).update_yaxes(autorange="reversed")


def heatmap(
    frame: pl.DataFrame,
    kpi: Kpi,
    rows_dim: str,
    cols_dim: str,
    cfg: CompanyConfig,
    order: dict[str, list] | None = None,
) -> go.Figure:
    """Return a heatmap of one KPI over two dimensions; cells under the minimum n are blank."""
    data = frame.filter(pl.col("kpi_id") == kpi.id)
    order = order or {}
    ys = order.get(rows_dim) or listed(rows_dim, data[rows_dim].to_list(), cfg)
    xs = order.get(cols_dim) or listed(cols_dim, data[cols_dim].to_list(), cfg)
    cells = {(r[rows_dim], r[cols_dim]): (r["value"], r["n"]) for r in data.iter_rows(named=True)}
    fig = _grid(
        cells,
        ys,
        xs,
        lambda v: fmt.kpi_value(kpi.unit, v, cfg.currency),
        cfg.min_n,
        f"no {fmt.counted(kpi)}",
        "RdYlGn" if kpi.better == "higher" else "RdYlGn_r",
    )
    # Rows and columns are named for people: a channel's label, not its id.
    return fig.update_traces(
        x=[label(cols_dim, x, cfg) for x in xs], y=[label(rows_dim, y, cfg) for y in ys]
    )


def trend(
    frame: pl.DataFrame,
    kpi: Kpi,
    cfg: CompanyConfig,
    dim: str | None = None,
    target: float | None = None,
) -> go.Figure:
    """Return one KPI month by month, one line per segment of ``dim`` (or one line).

    A month the data stops inside (``partial``, `cxm.metrics.report.trend`) is marked "to
    date" on the axis and in its hover: its sums cover fewer days than the months before.
    """
    data = frame.filter(pl.col("kpi_id") == kpi.id).sort("month")
    if "partial" not in data.columns:
        data = data.with_columns(pl.lit(False).alias("partial"))
    data = sort_segments(data, cfg, [dim]) if dim else data  # legend in ladder order
    fig = go.Figure()
    groups = data.partition_by(dim, maintain_order=True, as_dict=True) if dim else {("",): data}
    colors = market_colors(cfg) if dim == "market" else rank_colors(cfg) if dim == "rank" else {}
    for key, part in groups.items():
        name = label(dim, key[0], cfg) if dim else kpi.label
        fig.add_trace(
            go.Scatter(
                x=part["month"].to_list(),
                y=part["value"].to_list(),
                mode="lines+markers",
                name=name,
                line=dict(color=colors.get(key[0], PALETTE[0]), width=2),
                customdata=list(
                    zip(
                        part["n"].to_list(),
                        _intervals(part, kpi, cfg),
                        [" to date" if p else "" for p in part["partial"].to_list()],
                        strict=True,
                    )
                ),
                hovertemplate=f"{name} %{{x|%b %Y}}%{{customdata[2]}}: %{{y}}<br>"
                "95% interval %{customdata[1]}<br>n = %{customdata[0]:,}<extra></extra>",
            )
        )
    for month in data.filter(pl.col("partial"))["month"].unique().to_list():
        fig.add_annotation(
            x=month, y=1, yref="paper", text="to date", showarrow=False, yanchor="bottom"
        )
    if target is not None:
        fig.add_hline(
            y=target,
            line_dash="dash",
            line_color=CORPORATE,
            annotation_text="target",
            annotation_position="top left",
        )
    fig = _house(fig, height=320, showlegend=bool(dim))
    fig.update_yaxes(**_axis_format(kpi.unit))
    return fig


def sparkline_svg(
    values: list[float | None],
    better: str,
    width: int = 200,
    height: int = 40,
    *,
    partial_last: bool = False,
) -> str:
    """Return a tiny line of the last months as SVG text, green when the last move is good.

    A plain polyline, not a Plotly figure: ten of those made the Overview slow to draw. With
    ``partial_last`` the last month is one the data stops inside ("to date"): it is drawn
    dashed in grey, and the colour follows the last move between whole months.

    >>> "stroke-dasharray" in sparkline_svg([1.0, 2.0, 0.5], "higher", partial_last=True)
    True
    """
    points = [
        (i * width / max(1, len(values) - 1), v) for i, v in enumerate(values) if v is not None
    ]
    cut_short = partial_last and bool(values) and values[-1] is not None and len(points) > 1
    whole = points[:-1] if cut_short else points
    good = len(whole) < 2 or ((whole[-1][1] >= whole[-2][1]) == (better == "higher"))
    lo, hi = min(v for _, v in points), max(v for _, v in points)
    span = (hi - lo) or 1.0

    def xy(part):
        return " ".join(
            f"{x:.1f},{height - 3 - (v - lo) / span * (height - 6):.1f}" for x, v in part
        )

    color = "#009E73" if good else "#D55E00"
    tail = (
        f'<polyline fill="none" stroke="#999999" stroke-width="2" stroke-dasharray="3 3" '
        f'points="{xy(points[-2:])}"/>'
        if whole is not points
        else ""
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><polyline fill="none" stroke="{color}" '
        f'stroke-width="2" stroke-linejoin="round" points="{xy(whole)}"/>{tail}</svg>'
    )


def gap_dumbbell(gaps: pl.DataFrame) -> go.Figure:
    """Return corporate, customer and seller top-box shares per attribute on one axis."""
    data = gaps.sort("attribute")
    attrs = [str(a) for a in data["attribute"]]
    fig = go.Figure()
    for col, name, color in (
        ("corporate_share", "Corporate", CORPORATE),
        ("customer_share", "Customers", CUSTOMER),
        ("seller_share", "Sellers", SELLER),
    ):
        fig.add_trace(
            go.Scatter(
                x=data[col].to_list(),
                y=attrs,
                mode="markers",
                name=name,
                marker=dict(size=13, color=color),
                hovertemplate=f"{name} · %{{y}}: %{{x:.1%}} rate it superior<extra></extra>",
            )
        )
    for a, lo, hi in zip(attrs, data["customer_share"], data["corporate_share"], strict=True):
        if lo is not None and hi is not None:
            fig.add_shape(
                type="line", x0=lo, x1=hi, y0=a, y1=a, line=dict(color="#bbbbbb"), layer="below"
            )
    fig = _house(fig, height=60 + 40 * len(attrs))
    fig.update_xaxes(tickformat=".0%", range=[0, 1], title="share rating it superior (5 of 5)")
    fig.update_yaxes(autorange="reversed")
    return fig


def focus_quadrant(focus: pl.DataFrame) -> go.Figure:
    """Return importance against gap per attribute, split into the four focus areas."""
    colors = {
        "fix first": "#D55E00",
        "maintain": "#009E73",
        "watch": "#E69F00",
        "low priority": "#999999",
    }
    fig = go.Figure()
    for quadrant, color in colors.items():
        part = focus.filter(pl.col("quadrant") == quadrant)
        fig.add_trace(
            go.Scatter(
                x=part["importance"].to_list(),
                y=part["customer_gap_pp"].to_list(),
                text=[str(a) for a in part["attribute"]],
                mode="markers+text",
                textposition="top center",
                name=quadrant,
                marker=dict(size=14, color=color),
                hovertemplate="%{text}: importance %{x:.0%}, gap %{y:.1f} pp<extra></extra>",
            )
        )
    if focus.height:
        fig.add_vline(x=focus["importance"].mean(), line_dash="dot", line_color="#bbbbbb")
        fig.add_hline(y=focus["customer_gap_pp"].mean(), line_dash="dot", line_color="#bbbbbb")
    fig = _house(fig, height=380)
    fig.update_xaxes(title="importance for customer NPS", tickformat=".0%")
    fig.update_yaxes(title="gap, corporate minus customers (pp)")
    return fig


def retention_curves(curves: pl.DataFrame) -> go.Figure:
    """Return one retention curve per enrolment cohort."""
    fig = go.Figure()
    for i, (key, part) in enumerate(
        curves.partition_by("cohort_start", maintain_order=True, as_dict=True).items()
    ):
        label = str(key[0])[:4] if str(key[0]).endswith("01-01") else str(key[0])[:7]
        fig.add_trace(
            go.Scatter(
                x=part["month"].to_list(),
                y=part["retained_share"].to_list(),
                mode="lines",
                name=label,
                line=dict(color=PALETTE[i % len(PALETTE)], width=2),
                hovertemplate=f"{label} cohort, month %{{x}}: %{{y:.1%}} still in<extra></extra>",
            )
        )
    fig = _house(fig, height=340)
    fig.update_xaxes(title="months since enrolling")
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02], title="still enrolled")
    return fig


def funnel(steps: list[tuple[str, int]]) -> go.Figure:
    """Return the fast-start funnel."""
    fig = go.Figure(
        go.Funnel(
            y=[s for s, _ in steps],
            x=[n for _, n in steps],
            textinfo="value+percent initial",
            marker=dict(color=CUSTOMER),
        )
    )
    return _house(fig, height=300)


def gap_heatmap(gaps: pl.DataFrame, dim: str, cfg: CompanyConfig) -> go.Figure:
    """Return the customer gap (pp) per attribute and segment; thin cells marked, not coloured."""
    data = gaps.filter(pl.col("n_customer") > 0)
    ys = [str(a) for a in data["attribute"].unique(maintain_order=True).sort()]
    xs = [str(v) for v in listed(dim, data[dim].to_list(), cfg)]
    cells = {
        (str(r["attribute"]), str(r[dim])): (r["customer_gap_pp"], r["n_customer"])
        for r in data.iter_rows(named=True)
    }
    return _grid(cells, ys, xs, lambda v: fmt.kpi_value("pp", v), cfg.min_n, "no answers", "Reds")


def _actual_and_model(
    x: list, frame: pl.DataFrame, hover: str, markers: bool, **extra
) -> go.Figure:
    """Return the actual line (solid grey) and the model's (dashed blue) over ``x``."""
    fig = go.Figure()
    for column, name, color, dash in (
        ("actual", "Actual", CORPORATE, "solid"),
        ("predicted", "Model", CUSTOMER, "dash"),
    ):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=frame[column].to_list(),
                mode="lines+markers" if markers else "lines",
                name=name,
                line=dict(color=color, width=2, dash=dash),
                hovertemplate=f"{name}{hover}<extra></extra>",
                **extra,
            )
        )
    return _house(fig, height=340)


def value_calibration(by_frequency: pl.DataFrame) -> go.Figure:
    """Return the model's check by repeat purchases in calibration (BG/NBD paper, figure 2)."""
    top = by_frequency["bucket"].max()
    labels = [f"{b}+" if b == top and b >= 7 else str(b) for b in by_frequency["bucket"]]
    fig = _actual_and_model(
        labels,
        by_frequency,
        ": %{y:.2f} repeat purchases<br>%{customdata:,} customers with %{x} in calibration",
        True,
        customdata=by_frequency["customers"].to_list(),
    )
    fig.update_xaxes(title="repeat purchases in the calibration period", type="category")
    fig.update_yaxes(title="mean repeat purchases in the holdout", rangemode="tozero")
    return fig


def value_tracking(weekly: pl.DataFrame) -> go.Figure:
    """Return cumulative repeat purchases, actual against the model (the paper's figure 4)."""
    fig = _actual_and_model(
        weekly["week"].to_list(), weekly, ", week %{x}: %{y:,.0f} repeat purchases", False
    )
    fig.update_xaxes(title="weeks into the holdout")
    fig.update_yaxes(title="cumulative repeat purchases", rangemode="tozero", tickformat=",.0f")
    return fig
