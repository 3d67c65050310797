"""The KPI registry: every KPI declared once, as data (`Kpi` records, grouped by topic).

A `Kpi` names the measures it reads (columns of the seller base in `cxm.segments.sql`, summed
over a segment) and how they combine (its ``kind``). The same records drive the Overview tiles,
the report columns, the what-if KPI list and ``docs/metrics.md``. A new KPI is one record in
`sellers`, `sales`, `experience` or `acquisition` plus one hand-checked test; no page changes.
"""

from __future__ import annotations

import difflib

from cxm.errors import BadFilter
from cxm.metrics.kpis._model import Category, Kind, Kpi, Unit
from cxm.metrics.kpis.acquisition import ACQUISITION
from cxm.metrics.kpis.experience import EXPERIENCE
from cxm.metrics.kpis.sales import SALES
from cxm.metrics.kpis.sellers import SELLERS

__all__ = [
    "BY_ID",
    "DERIVED_MEASURES",
    "KPIS",
    "LIST_MEASURES",
    "Category",
    "Kind",
    "Kpi",
    "Unit",
    "get",
    "headline",
]

#: Every KPI, in the order pages list them.
KPIS: tuple[Kpi, ...] = (*SELLERS, *SALES, *EXPERIENCE, *ACQUISITION)

BY_ID: dict[str, Kpi] = {k.id: k for k in KPIS}
#: Measures computed from other measures after summing (never a base column).
DERIVED_MEASURES = {"net_recruits": ("enrollments", "recruits_left")}
#: Measures that are not sums: the SQL aggregate over the seller base that makes each one.
#: A median needs every value, so the base carries each seller's list of response times.
LIST_MEASURES = {
    "first_response_hours": "list_median(flatten(list(response_minutes))) / 60.0",
    "first_response_hours_n": "len(flatten(list(response_minutes)))",
}


def get(kpi_id: str, *, field: str = "kpi") -> Kpi:
    """Return the KPI ``kpi_id``; raise `BadFilter` (unknown_kpi) with the nearest id."""
    if kpi_id in BY_ID:
        return BY_ID[kpi_id]
    near = difflib.get_close_matches(str(kpi_id), list(BY_ID), n=1, cutoff=0.5)
    hint = f'; did you mean "{near[0]}"?' if near else "; docs/metrics.md lists them"
    raise BadFilter(field, kpi_id, "unknown_kpi", f"is not a KPI id{hint}")


def headline() -> tuple[Kpi, ...]:
    """Return the KPIs shown as Overview tiles, in registry order."""
    return tuple(k for k in KPIS if k.headline)
