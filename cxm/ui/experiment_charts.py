"""Figures and words of an experiment's readout: the forest plot, the power curve, the table.

No Streamlit here: the Experiments page and the board pack (`cxm board-pack`) draw the same
figures. Relative lifts put KPIs of different units on one axis; hovers and tables give each
lift in its KPI's own unit.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import polars as pl

from cxm.errors import CxmError
from cxm.experiments import stats
from cxm.experiments.stats import Effect
from cxm.metrics.kpis import get
from cxm.ui import fmt
from cxm.ui.charts import _LAYOUT

BETTER, WORSE, UNCLEAR = "#009E73", "#D55E00", "#7a7a7a"


@dataclass(frozen=True)
class Shown:
    """How a KPI is named and formatted: its label, unit and good direction."""

    label: str
    unit: str
    better: str


def shown(kpi: str) -> Shown:
    """Return the KPI's label, unit and good direction from the registry (the id itself,
    a count, higher is better, for a KPI the registry does not hold)."""
    try:
        k = get(kpi)
    except CxmError:
        return Shown(kpi, "count", "higher")
    return Shown(k.label, k.unit, k.better)


def lift_text(unit: str, x: float | None, currency: str = "USD") -> str:
    """Return a lift in the KPI's unit with its sign: shares in points.

    >>> lift_text("share", 0.0123), lift_text("amount", -2.5), lift_text("count", 3.25)
    ('+1.2 pp', '−$2.50', '+3.25')
    """
    if fmt._missing(x):
        return fmt.DASH
    if unit == "share":
        return fmt.pp(100 * x)
    if unit == "amount":
        text = fmt.money(x, currency)
        return f"+{text}" if x > 0 and text.strip("$0.,") else text
    return fmt.signed(x, 2)


def interval_text(unit: str, low: float, high: float, currency: str = "USD") -> str:
    """Return an interval of a lift in the KPI's unit.

    >>> interval_text("share", -0.004, 0.021)
    '−0.4 pp to +2.1 pp'
    """
    if fmt._missing(low) or fmt._missing(high):
        return fmt.DASH
    return f"{lift_text(unit, low, currency)} to {lift_text(unit, high, currency)}"


def verdict(e: Effect, *, running: bool, better: str = "higher") -> int:
    """Return +1 when the treatment is better on ``e`` beyond chance, -1 worse, 0 unclear.

    A running experiment is judged on its always-valid interval, a finished one on its
    fixed-horizon interval (the same rule as `stats.decision`).
    """
    low, high = (e.seq_ci_low, e.seq_ci_high) if running else (e.ci_low, e.ci_high)
    moved = 1 if low > 0 else -1 if high < 0 else 0
    return -moved if better == "lower" else moved


def _pale(color: str, keep: float = 0.3) -> str:
    """Return ``color`` blended with white (solid: the PDF's SVG reader takes no opacity):
    0x00 -> 255 - 0.3 x 255 = 178.5, rounded to even: 0xb2.

    >>> _pale("#009E73")
    '#b2e2d5'
    """
    rgb = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(255 - keep * (255 - c)):02x}" for c in rgb)


def _segment_name(segment: str | None) -> str:
    if segment is None:
        return "all sellers"
    dim, _, value = segment.partition("=")
    return f"{dim} {value}"


def forest(effects: Sequence[Effect], *, running: bool, title_kpis: bool = True) -> go.Figure:
    """Return the forest plot: each effect's lift over the control mean (%) with its 95%
    interval (thin) and its always-valid interval (wide, pale), each divided by the control
    mean, coloured by verdict; zero marked.

    Rows run in the order given (the primary first, then guardrails, then segments).
    """
    labels, xs, lo, hi, slo, shi, colors, hover = [], [], [], [], [], [], [], []
    for e in effects:
        s = shown(e.kpi)
        base = e.mean_control if e.mean_control else np.nan
        name = s.label if e.segment is None else f"{s.label} · {_segment_name(e.segment)}"
        labels.append(name)
        xs.append(100 * e.lift_rel)
        lo.append(100 * e.ci_low / base)  # the intervals of the lift over the control mean:
        hi.append(100 * e.ci_high / base)  # the colour's verdict and the drawing agree
        slo.append(100 * e.seq_ci_low / base)
        shi.append(100 * e.seq_ci_high / base)
        v = verdict(e, running=running, better=s.better)
        colors.append(BETTER if v > 0 else WORSE if v < 0 else UNCLEAR)
        q = "" if e.q_value is None else f", q {fmt.p_value(e.q_value)}"
        hover.append(
            f"<b>{html.escape(name)}</b><br>lift {lift_text(s.unit, e.lift)} "
            f"({fmt.signed(100 * e.lift_rel, 1, '%')})<br>95%: "
            f"{interval_text(s.unit, e.ci_low, e.ci_high)}<br>always-valid: "
            f"{interval_text(s.unit, e.seq_ci_low, e.seq_ci_high)}<br>"
            f"p {fmt.p_value(e.p_value)}{q}<br>"
            f"{e.n_control:,} control · {e.n_treatment:,} treatment"
        )
    fig = go.Figure()
    for i, name in enumerate(labels):
        fig.add_trace(
            go.Scatter(
                x=[slo[i], shi[i]],
                y=[name, name],
                mode="lines",
                hoverinfo="skip",
                line=dict(color=_pale(colors[i]), width=12),
                showlegend=False,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[lo[i], hi[i]],
                y=[name, name],
                mode="lines",
                hoverinfo="skip",
                line=dict(color=colors[i], width=2.5),
                showlegend=False,
            )
        )
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=labels,
            mode="markers",
            marker=dict(color=colors, size=11, symbol="diamond"),
            hovertext=hover,
            hoverinfo="text",
            showlegend=False,
        )
    )
    fig.add_vline(x=0, line_color="#444444", line_width=1)
    fig.update_layout(**_LAYOUT, height=max(220, 44 * len(labels) + 90))
    fig.update_xaxes(ticksuffix="%", title="treatment against control (relative lift)")
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def power_curve(sd: float, n_units: int, share: float, *, cuped_r2: float, unit: str) -> go.Figure:
    """Return the minimum detectable effect (80% power, 5% two-sided) against the treatment
    share, the chosen share marked: the smallest effect the test could see."""
    shares = np.round(np.arange(0.05, 0.951, 0.01), 2)
    values = [stats.mde(sd, n_units, float(s), cuped_r2=cuped_r2) for s in shares]
    now = stats.mde(sd, n_units, share, cuped_r2=cuped_r2)
    scale = 100 if unit == "share" else 1
    fig = go.Figure(
        go.Scatter(
            x=shares * 100,
            y=[scale * v for v in values],
            mode="lines",
            line=dict(color="#0072B2", width=2.5),
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[share * 100],
            y=[scale * now],
            mode="markers+text",
            marker=dict(size=12),
            text=[f"{lift_text(unit, now).lstrip('+')} at {share:.0%}"],
            textposition="top center",
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig.update_layout(**_LAYOUT, height=300)
    fig.update_xaxes(ticksuffix="%", title="sellers in treatment")
    fig.update_yaxes(
        title="smallest detectable effect" + (" (pp)" if unit == "share" else ""),
        rangemode="tozero",
    )
    return fig


def table(effects: Sequence[Effect], *, running: bool) -> pl.DataFrame:
    """Return the readout as a table for people: one row per KPI and segment, formatted."""
    rows = []
    for e in effects:
        s = shown(e.kpi)
        v = verdict(e, running=running, better=s.better)
        rows.append(
            {
                "KPI": s.label,
                "Sellers": _segment_name(e.segment),
                "Control": fmt.kpi_value(s.unit, e.mean_control),
                "Treatment": fmt.kpi_value(s.unit, e.mean_treatment),
                "Lift": lift_text(s.unit, e.lift),
                "Relative": fmt.signed(100 * e.lift_rel, 1, "%"),
                "95% interval": interval_text(s.unit, e.ci_low, e.ci_high),
                "Always-valid interval": interval_text(s.unit, e.seq_ci_low, e.seq_ci_high),
                "p": fmt.p_value(e.p_value),
                "q (FDR)": fmt.p_value(e.q_value),
                "CUPED narrowed": fmt.share(1 - (1 - e.variance_reduction) ** 0.5)
                if e.cuped
                else fmt.DASH,
                "n (control / treatment)": f"{e.n_control:,} / {e.n_treatment:,}",
                "Reads": "better" if v > 0 else "worse" if v < 0 else "no clear effect",
            }
        )
    return pl.DataFrame(rows)


def prediction_table(predicted: pl.DataFrame) -> pl.DataFrame:
    """Return the what-if model's predicted relative change per priority beside the measured
    relative lift of the KPI that shows it (`readout.with_prediction`), formatted.

    >>> frame = pl.DataFrame({"priority": ["retention"], "label": ["Retention"],
    ...                       "kpi": ["active_rate"], "predicted": [0.042], "measured": [0.031]})
    >>> prediction_table(frame).row(0)
    ('Retention', 'Active rate', '+4.2%', '+3.1%')
    """
    return pl.DataFrame(
        [
            {
                "Priority": row["label"],
                "Shown by KPI": fmt.DASH if row["kpi"] is None else shown(row["kpi"]).label,
                "Model predicted": fmt.signed(
                    None if row["predicted"] is None else 100 * row["predicted"], 1, "%"
                ),
                "Measured": fmt.signed(
                    None if row["measured"] is None else 100 * row["measured"], 1, "%"
                ),
            }
            for row in predicted.iter_rows(named=True)
        ]
    )
