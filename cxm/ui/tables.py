"""The plain table behind every chart: report rows formatted for people, small n marked.

Every table here shows a missing value as "–" (never "None" or a blank) and says why in a
"Base" or "Note" column (no answers, n under the minimum, a window still open); segments come
in ladder order (`cxm.segments.order`); a report with intervals shows its 95% interval.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import streamlit as st

from cxm.config import CompanyConfig
from cxm.metrics.kpis import BY_ID
from cxm.segments.filter import DIMENSION_LABELS, Dimension
from cxm.segments.order import label, sort_segments
from cxm.segments.sql import CUSTOMER_QUESTIONS, SELLER_QUESTIONS
from cxm.ui import fmt


def report_table(report: pl.DataFrame, cfg: CompanyConfig) -> pl.DataFrame:
    """Return a segment report as text columns a person reads: KPI, segment, value, n, ...

    A missing value reads "–" and "Base" says why; with ``ci_low``/``ci_high`` in the report,
    a "95% interval" column follows the value; a change inside the noise (``clear_change``
    false) reads "no clear change".
    """
    dims = [c for c in report.columns if c in {d.value for d in Dimension}]
    report = sort_segments(report, cfg, dims, first=["kpi_id"] if "kpi_id" in report else ())
    rows = []
    for r in report.iter_rows(named=True):
        kpi = BY_ID[r["kpi_id"]]
        row = {DIMENSION_LABELS[Dimension(d)]: label(d, r[d], cfg) for d in dims}
        if "month" in r:  # a trend: one row per month, which the reader must see
            row["Month"] = fmt.DASH if r["month"] is None else f"{r['month']:%b %Y}"
        row |= {"KPI": kpi.label, "Value": fmt.kpi_value(kpi.unit, r["value"], cfg.currency)}
        if "ci_low" in r:
            row["95% interval"] = fmt.interval(kpi.unit, r["ci_low"], r["ci_high"], cfg.currency)
        still_open = r.get("open") if r["value"] is None else None
        row |= {
            "n": int(r["n"] or 0),
            "Base": fmt.missing_reason(
                r["n"],
                cfg.min_n,
                open_windows=still_open,
                noun=fmt.counted(kpi),
            )
            if r["small"] or r["value"] is None
            else "",
        }
        if "previous" in r:
            moved = fmt.change(kpi.unit, r["value"], r["previous"], r.get("clear_change"))
            row |= {
                "Change": str(moved),
                "Company": fmt.kpi_value(kpi.unit, r["company"], cfg.currency),
                "Target": fmt.kpi_value(kpi.unit, r["target"], cfg.currency),
            }
        rows.append(row)
    return pl.DataFrame(rows) if rows else pl.DataFrame()


def _text(col: str, show: Callable[[float], str], label: str) -> pl.Expr:
    """Return ``col`` as text for people: ``show`` for values, "–" for a missing one."""
    return (
        pl.col(col)
        .map_elements(show, return_dtype=pl.String, skip_nulls=True)
        .fill_null(fmt.DASH)
        .alias(label)
    )


def _gap(x: float) -> str:
    """Return a gap (a level in pp, not a change: no plus sign), as the tiles show it."""
    return fmt.kpi_value("pp", x)


#: The sides of a gap, and the attributes each is asked about (corporate: all of them).
_SIDES = (("corporate", None), ("customer", CUSTOMER_QUESTIONS), ("seller", SELLER_QUESTIONS))


def _gap_note(row: dict, min_n: int) -> str:
    """Return why a row of attribute gaps has a "–" or a value too thin to read."""
    attribute = str(row["attribute"])
    unasked = [k for k, asked in _SIDES if asked is not None and attribute not in asked]
    none = [k for k, _ in _SIDES if k not in unasked and not row[f"n_{k}"]]
    few = [k for k, _ in _SIDES if 0 < (row[f"n_{k}"] or 0) < min_n]
    return "; ".join(
        [f"{' or '.join(unasked)}s not asked"] * bool(unasked)
        + [f"no {' or '.join(none)} answers"] * bool(none)
        + [f"{' and '.join(few)} answers under {min_n}: too small to read"] * bool(few)
    )


def gap_frame(gaps: pl.DataFrame, cfg: CompanyConfig) -> pl.DataFrame:
    """Return attribute gaps as a table a person reads: "–" where a side has no value, and a
    "Note" saying why (a side not asked, no answers) or that a side is too thin to read."""
    dims = [c for c in gaps.columns if c in {d.value for d in Dimension}]
    gaps = sort_segments(gaps, cfg, dims)
    notes = [_gap_note(r, cfg.min_n) for r in gaps.iter_rows(named=True)]
    return gaps.select(
        *[
            pl.col(d).cast(pl.String).fill_null(fmt.DASH).alias(DIMENSION_LABELS[Dimension(d)])
            for d in dims
        ],
        pl.col("attribute").cast(pl.String).alias("Attribute"),
        *[
            _text(c, fmt.share, label)
            for c, label in (
                ("corporate_share", "Corporate superior"),
                ("customer_share", "Customers superior"),
                ("seller_share", "Sellers superior"),
                ("corporate_top_two_share", "Corporate top two"),
                ("customer_top_two_share", "Customers top two"),
                ("seller_top_two_share", "Sellers top two"),
            )
        ],
        _text("customer_gap_pp", _gap, "Gap vs customers"),
        _text("seller_gap_pp", _gap, "Gap vs sellers"),
        pl.col("n_corporate").alias("n corporate"),
        pl.col("n_customer").alias("n customers"),
        pl.col("n_seller").alias("n sellers"),
        pl.Series("Note", notes, dtype=pl.String),
    )


def behind(report: pl.DataFrame, cfg: CompanyConfig, *, key: str) -> None:
    """Draw the report behind a chart as a table in a closed expander."""
    with st.expander("Table", icon=":material/table:"):
        st.dataframe(
            report_table(report, cfg),
            hide_index=True,
            key=key,
            column_config={"n": st.column_config.NumberColumn(format="localized")},
        )


def gap_table(gaps: pl.DataFrame, cfg: CompanyConfig, *, key: str) -> None:
    """Draw attribute gaps (top box and top two box, per side) as a table in an expander."""
    with st.expander("Table", icon=":material/table:"):
        st.dataframe(gap_frame(gaps, cfg), hide_index=True, key=key)


def focus_frames(
    focus: pl.DataFrame, segments: pl.DataFrame, by: str, cfg: CompanyConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return the focus areas, and the importance-weighted gap index per segment of ``by``
    (ladder order), as tables a person reads."""
    from cxm.metrics.experience import focus_areas, gap_index

    index = gap_index(focus_areas(segments, focus.select("attribute", "importance")), by=[by])
    areas = focus.select(
        pl.col("attribute").cast(pl.String).alias("Attribute"),
        _text("importance", fmt.share, "Importance"),
        _text("customer_gap_pp", _gap, "Gap vs customers"),
        pl.col("quadrant").fill_null(fmt.DASH).alias("Focus area"),
        pl.col("n_customer").alias("n customers"),
    )
    label = DIMENSION_LABELS[Dimension(by)]
    index = sort_segments(index, cfg, [by]).select(
        pl.col(by).cast(pl.String).fill_null(fmt.DASH).alias(label),
        _text("gap_index_pp", _gap, "Gap index"),
    )
    return areas, index


def focus_table(
    focus: pl.DataFrame, segments: pl.DataFrame, by: str, cfg: CompanyConfig, *, key: str
) -> None:
    """Draw the focus areas and the importance-weighted gap index per segment."""
    areas, index = focus_frames(focus, segments, by, cfg)
    with st.expander("Table", icon=":material/table:"):
        st.dataframe(areas, hide_index=True, key=key)
        st.caption(
            f"Importance-weighted gap index by {DIMENSION_LABELS[Dimension(by)].lower()} "
            "(sum of importance x gap):"
        )
        st.dataframe(index, hide_index=True, key=f"{key}_index")


def shown(frame: pl.DataFrame, labels: dict[str, str]) -> pl.DataFrame:
    """Return a small frame for people: columns renamed, shares (``*_share``) as percentages,
    and every missing value "–" (a column with one becomes text).

    >>> f = shown(pl.DataFrame({"month": [1, 2], "retained_share": [0.5, None]}), {"month": "M"})
    >>> f.columns, f.rows()
    (['M', 'retained_share'], [(1, '50.0%'), (2, '–')])
    """
    out = frame.with_columns(_text(c, fmt.share, c) for c in frame.columns if c.endswith("_share"))
    out = out.with_columns(
        pl.col(c).cast(pl.String).fill_null(fmt.DASH) for c in out.columns if out[c].null_count()
    )
    return out.rename({k: v for k, v in labels.items() if k in out.columns})


def plain(frame: pl.DataFrame, *, key: str, labels: dict[str, str]) -> None:
    """Draw any small frame behind a chart, its columns renamed for people ("–" if missing)."""
    with st.expander("Table", icon=":material/table:"):
        st.dataframe(shown(frame, labels), hide_index=True, key=key)


CURVE_LABELS = {
    "cohort_start": "Cohort from",
    "month": "Months since enrolling",
    "sellers": "Sellers who reached that month",
    "retained": "Still enrolled",
    "retained_share": "Share still enrolled",
}


def funnel_frame(steps: list[tuple[str, int]]) -> pl.DataFrame:
    """Return the funnel's steps with each step's share of the first ("–" when it has none).

    >>> funnel_frame([("Past day 30", 13), ("Sold in first 30 days", 5)]).rows()
    [('Past day 30', 13, '100.0%'), ('Sold in first 30 days', 5, '38.5%')]
    """
    first = steps[0][1] if steps else 0
    return pl.DataFrame(
        {
            "Step": [s for s, _ in steps],
            "Sellers": [n for _, n in steps],
            # The steps start at sellers past a day, not at everyone enrolled (issue 19).
            "Of the first step": [fmt.share(n / first) if first else fmt.DASH for _, n in steps],
        },
        schema={"Step": pl.String, "Sellers": pl.Int64, "Of the first step": pl.String},
    )


def base_of(report: pl.DataFrame, kpi_id: str) -> int:
    """Return the total base n of one KPI's rows in a report (0: nothing to show)."""
    return int(report.filter(pl.col("kpi_id") == kpi_id)["n"].sum())
