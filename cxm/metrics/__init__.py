"""KPIs: the registry (`kpis`), their computation (`compute`), targets, reports, experience.

Every function that reads the warehouse takes the market scope as a required keyword.
"""

from cxm.metrics.compute import DataRange, compute, data_range, one, window
from cxm.metrics.kpis import BY_ID, KPIS, Kpi, get, headline

__all__ = [
    "BY_ID",
    "KPIS",
    "DataRange",
    "Kpi",
    "compute",
    "data_range",
    "get",
    "headline",
    "one",
    "window",
]
