"""Page widgets beyond the sidebar filters: KPI and dimension pickers, mirrored in the URL."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from cxm.metrics.kpis import BY_ID, KPIS
from cxm.segments.filter import DIMENSION_LABELS, Dimension
from cxm.ui import filters, fmt


def _warn(parameter: str, value: str, why: str) -> None:
    st.warning(
        f'Link parameter {fmt.md_escape(parameter)}: "{fmt.md_escape(value)}" {why}.',
        icon=":material/link_off:",
    )


def kpi_picker(default: Sequence[str], *, key: str = "kpis", max_selections: int = 6) -> list[str]:
    """Return the KPI ids chosen (URL parameter ``kpis``, comma separated)."""
    asked = [k for k in filters.page_param(key, ",".join(default)).split(",") if k]
    for k in asked:
        if k not in BY_ID:
            _warn(key, k, "is not a KPI; it was left out")
    chosen = [k for k in asked if k in BY_ID][:max_selections] or list(default)
    filters.hold(
        f"w_{key}", chosen, fits=lambda v: len(v) <= max_selections and set(v) <= set(BY_ID)
    )
    picked = st.multiselect(
        "KPIs",
        # Acquisition KPIs split by market and channel only: their own page shows them.
        [k.id for k in KPIS if k.grain != "acquisition"],
        format_func=lambda k: BY_ID[k].label,
        max_selections=max_selections,
        key=f"w_{key}",
        on_change=filters.touched,
        args=(f"w_{key}",),
    ) or list(default)
    filters.set_page_params(**{key: ",".join(picked)})
    return picked


def dimension_picker(
    label: str, options: Sequence[Dimension], default: Dimension, *, key: str
) -> str:
    """Return the dimension chosen (URL parameter ``key``)."""
    values = [d.value for d in options]
    asked = filters.page_param(key, default.value)
    if asked not in values:
        _warn(key, asked, f"is not one of {', '.join(values)}; showing {default.value}")
        asked = default.value
    filters.hold(f"w_{key}", asked, fits=lambda v: v in values)
    picked = (
        st.segmented_control(
            label,
            values,
            format_func=lambda d: DIMENSION_LABELS[Dimension(d)],
            key=f"w_{key}",
            on_change=filters.touched,
            args=(f"w_{key}",),
        )
        or default.value
    )
    filters.set_page_params(**{key: picked})
    return picked


def dimensions_picker(
    label: str,
    options: Sequence[Dimension],
    default: Sequence[Dimension],
    *,
    key: str,
    max_selections: int = 3,
) -> list[str]:
    """Return up to ``max_selections`` dimensions chosen, in order (URL parameter ``key``)."""
    values = [d.value for d in options]
    asked = [d for d in filters.page_param(key, ",".join(d.value for d in default)).split(",") if d]
    for d in asked:
        if d not in values:
            _warn(key, d, f"is not one of {', '.join(values)}; it was left out")
    chosen = [d for d in asked if d in values][:max_selections]
    filters.hold(
        f"w_{key}", chosen, fits=lambda v: len(v) <= max_selections and set(v) <= set(values)
    )
    picked = st.multiselect(
        label,
        values,
        format_func=lambda d: DIMENSION_LABELS[Dimension(d)],
        max_selections=max_selections,
        key=f"w_{key}",
        on_change=filters.touched,
        args=(f"w_{key}",),
    )
    filters.set_page_params(**{key: ",".join(picked)})
    return picked
