"""The plain table behind every chart: report rows formatted for people, small n marked."""

from __future__ import annotations

import polars as pl
import streamlit as st

from cxm.config import CompanyConfig
from cxm.metrics.kpis import BY_ID
from cxm.segments.filter import DIMENSION_LABELS, Dimension
from cxm.ui import fmt


def report_table(report: pl.DataFrame, cfg: CompanyConfig) -> pl.DataFrame:
    """Return a segment report as text columns a person reads: KPI, segment, value, n, ..."""
    dims = [c for c in report.columns if c in {d.value for d in Dimension}]
    rows = []
    for r in report.iter_rows(named=True):
        kpi = BY_ID[r["kpi_id"]]
        row = {DIMENSION_LABELS[Dimension(d)]: str(r[d]) for d in dims}
        row |= {
            "KPI": kpi.label,
            "Value": fmt.kpi_value(kpi.unit, r["value"], cfg.currency),
            "n": int(r["n"]),
            "Base": f"under {cfg.min_n}: too small to read" if r["small"] else "",
        }
        if "previous" in r:
            row |= {
                "Change": fmt.kpi_change(kpi.unit, r["value"], r["previous"]),
                "Company": fmt.kpi_value(kpi.unit, r["company"], cfg.currency),
                "Target": fmt.kpi_value(kpi.unit, r["target"], cfg.currency),
            }
        rows.append(row)
    return pl.DataFrame(rows) if rows else pl.DataFrame()


def behind(report: pl.DataFrame, cfg: CompanyConfig, *, key: str) -> None:
    """Draw the report behind a chart as a table in a closed expander."""
    with st.expander("Table", icon=":material/table:"):
        st.dataframe(
            report_table(report, cfg),
            hide_index=True,
            key=key,
            column_config={"n": st.column_config.NumberColumn(format="localized")},
        )


def gap_table(gaps: pl.DataFrame, *, key: str) -> None:
    """Draw attribute gaps (top box and top two box, per side) as a table in an expander."""
    dims = [c for c in gaps.columns if c in {d.value for d in Dimension}]
    shown = gaps.select(
        *[pl.col(d).cast(pl.String).alias(DIMENSION_LABELS[Dimension(d)]) for d in dims],
        pl.col("attribute").cast(pl.String).alias("Attribute"),
        *[
            pl.col(c).map_elements(fmt.share, return_dtype=pl.String).alias(label)
            for c, label in (
                ("corporate_share", "Corporate superior"),
                ("customer_share", "Customers superior"),
                ("seller_share", "Sellers superior"),
                ("corporate_top_two_share", "Corporate top two"),
                ("customer_top_two_share", "Customers top two"),
                ("seller_top_two_share", "Sellers top two"),
            )
        ],
        pl.col("customer_gap_pp")
        .map_elements(fmt.pp, return_dtype=pl.String)
        .alias("Gap vs customers"),
        pl.col("seller_gap_pp")
        .map_elements(fmt.pp, return_dtype=pl.String)
        .alias("Gap vs sellers"),
        pl.col("n_corporate").alias("n corporate"),
        pl.col("n_customer").alias("n customers"),
        pl.col("n_seller").alias("n sellers"),
    )
    with st.expander("Table", icon=":material/table:"):
        st.dataframe(shown, hide_index=True, key=key)


def focus_table(focus: pl.DataFrame, segments: pl.DataFrame, by: str, *, key: str) -> None:
    """Draw the focus areas and the importance-weighted gap index per segment."""
    from cxm.metrics.experience import focus_areas, gap_index

    index = gap_index(focus_areas(segments, focus.select("attribute", "importance")), by=[by])
    with st.expander("Table", icon=":material/table:"):
        st.dataframe(
            focus.select(
                pl.col("attribute").alias("Attribute"),
                pl.col("importance")
                .map_elements(fmt.share, return_dtype=pl.String)
                .alias("Importance"),
                pl.col("customer_gap_pp")
                .map_elements(fmt.pp, return_dtype=pl.String)
                .alias("Gap vs customers"),
                pl.col("quadrant").alias("Focus area"),
                pl.col("n_customer").alias("n customers"),
            ),
            hide_index=True,
            key=key,
        )
        st.caption(f"Importance-weighted gap index by {by} (sum of importance x gap):")
        st.dataframe(
            index.select(
                pl.col(by).cast(pl.String),
                pl.col("gap_index_pp")
                .map_elements(fmt.pp, return_dtype=pl.String)
                .alias("Gap index"),
            ),
            hide_index=True,
            key=f"{key}_index",
        )


def plain(frame: pl.DataFrame, *, key: str, labels: dict[str, str]) -> None:
    """Draw any small frame behind a chart, its columns renamed for people."""
    with st.expander("Table", icon=":material/table:"):
        st.dataframe(
            frame.rename({k: v for k, v in labels.items() if k in frame.columns}),
            hide_index=True,
            key=key,
        )


CURVE_LABELS = {
    "cohort_start": "Cohort from",
    "month": "Months since enrolling",
    "sellers": "Sellers who reached that month",
    "retained": "Still enrolled",
    "retained_share": "Share still enrolled",
}


def funnel_frame(steps: list[tuple[str, int]]) -> pl.DataFrame:
    """Return the funnel's steps with each step's share of the first."""
    first = steps[0][1] or 1
    return pl.DataFrame(
        {
            "Step": [s for s, _ in steps],
            "Sellers": [n for _, n in steps],
            "Of enrolled": [fmt.share(n / first) for _, n in steps],
        }
    )


def base_of(report: pl.DataFrame, kpi_id: str) -> int:
    """Return the total base n of one KPI's rows in a report (0: nothing to show)."""
    return int(report.filter(pl.col("kpi_id") == kpi_id)["n"].sum())
