"""Page widgets beyond the sidebar filters: KPI and dimension pickers, mirrored in the URL."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from cxm.metrics.compute import breakdowns
from cxm.metrics.kpis import BY_ID, KPIS
from cxm.segments.filter import DIMENSION_LABELS, Dimension
from cxm.ui import filters, fmt


def _warn(parameter: str, value: str, why: str) -> None:
    st.warning(
        f'Link parameter {fmt.md_escape(parameter)}: "{fmt.md_escape(value)}" {why}.',
        icon=":material/link_off:",
    )


def kpi_picker(
    default: Sequence[str],
    *,
    key: str = "kpis",
    max_selections: int = 6,
    acquisition: bool = False,
) -> list[str]:
    """Return the KPI ids chosen (URL parameter ``kpis``, comma separated); the acquisition
    KPIs are offered with ``acquisition`` (a page whose breakdowns they can take)."""
    asked = [k for k in filters.page_param(key, ",".join(default)).split(",") if k]
    for k in asked:
        if k not in BY_ID:
            _warn(key, k, "is not a KPI; it was left out")
    offered = {k.id for k in KPIS if acquisition or k.grain != "acquisition"}
    for k in asked:
        if k in BY_ID and k not in offered:
            _warn(key, k, "is not on this page (the Acquisition page shows it); it was left out")
    chosen = [k for k in asked if k in offered][:max_selections] or list(default)
    filters.hold(f"w_{key}", chosen, fits=lambda v: len(v) <= max_selections and set(v) <= offered)
    picked = st.multiselect(
        "KPIs",
        # Acquisition KPIs split by market and channel only: a page by seller segments (KPIs
        # by segment) leaves them to their own page.
        [k.id for k in KPIS if acquisition or k.grain != "acquisition"],
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
    labels = {d.value: DIMENSION_LABELS[d] for d in options}
    return one_of(label, labels, default.value, key=key)


def one_of(label: str, labels: dict[str, str], default: str, *, key: str) -> str:
    """Return the option chosen in a segmented control of ``labels`` (value: label), kept in
    URL parameter ``key``; a value the link asks for that is not an option is named in a
    warning, and ``default`` shown instead."""
    values = list(labels)
    asked = filters.page_param(key, default)
    if asked not in values:
        _warn(key, asked, f"is not one of {', '.join(values)}; showing {default}")
        asked = default
    filters.hold(f"w_{key}", asked, fits=lambda v: v in values)
    picked = (
        st.segmented_control(
            label,
            values,
            format_func=labels.__getitem__,
            required=True,  # a second click on the option chosen keeps it chosen
            key=f"w_{key}",
            on_change=filters.touched,
            args=(f"w_{key}",),
        )
        or default
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


def _words(dims: Sequence[str], last: str = "and") -> str:
    names = [DIMENSION_LABELS[Dimension(d)] for d in dims]
    return ", ".join(names[:-1]) + f" {last} {names[-1]}" if len(names) > 1 else names[0]


def refused_breakdown(kpis: Sequence[str], dims: Sequence[str]) -> str | None:
    """Return why the breakdown ``dims`` cannot be taken for ``kpis``, naming each KPI and
    each dimension it cannot take (`cxm.metrics.compute.breakdowns`, which the library
    refuses too), or None when every KPI takes every dimension.

    >>> refused_breakdown(["cac", "active_rate"], ["market"]) is None
    True
    >>> refused_breakdown(["cac", "active_rate"], ["market", "rank"]).split(": ")[0]
    'Customer acquisition cost cannot be broken down by Rank'
    """
    parts, refused, cannot = [], [], []
    for k in kpis:
        kpi = BY_ID[k]
        takes = breakdowns(kpi)
        off = [d for d in dims if d not in takes]
        if off:
            parts.append(
                f"{kpi.label} cannot be broken down by {_words(off, 'or')}: it splits by "
                f"{_words(takes)} only."
            )
            refused += [d for d in off if d not in refused]
            cannot.append(kpi.label)
    if not parts:
        return None
    kpi_words = ", ".join(cannot[:-1]) + f" and {cannot[-1]}" if len(cannot) > 1 else cannot[0]
    return " ".join(parts) + (
        f" Remove {_words(refused, 'and')} from the breakdown, or {kpi_words} from the KPIs."
    )
