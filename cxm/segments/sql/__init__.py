"""A `SegmentFilter` as parameterised SQL over the seller facts.

`SELLER_BASE` is the one query every seller-grain KPI reads: one row per seller enrolled by the
as-of date, with the seller's segment as of that date (rank, market, language, status, tenure
band, training tier, cohort) and one column per measure (docs/metrics.md). Every value from the
filter is a bind parameter; the only names spliced into the text are dimension and measure
names from this package's declarations. The market scope is not here: the facts read are
already the user's company (`cxm.warehouse.scoped`).

The parts: `_window` (a query's dates and the filter's conditions), `_columns` (the base's
column and CTE texts), `_base` (the bases built from them, and the segments each load stores),
`_by_month` (several months' bases summed by segment in one pass, for the KPI cube).
"""

from cxm.segments.sql._base import (
    LINE_BUYERS,
    SELLER_BASE,
    SELLER_BASE_AT_ENROLMENT,
    SELLER_SEGMENTS,
    SELLER_SEGMENTS_AT_ENROLMENT,
    SERVICE_BASE,
    STORE_SEGMENTS,
    STORED_SEGMENTS,
    base_columns,
    store_segments,
)
from cxm.segments.sql._by_month import by_month_sums, month_params
from cxm.segments.sql._columns import ACTIVE_DAYS, NEW_DAYS, SERVICE_MEASURES
from cxm.segments.sql._window import (
    APP_DAYS,
    CUSTOMER_QS,
    CUSTOMER_QUESTIONS,
    FLOW_SUMS,
    SEGMENT_WHERE,
    SELLER_QS,
    SELLER_QUESTIONS,
    Window,
    dimension_columns,
    filter_params,
)

__all__ = [
    "ACTIVE_DAYS",
    "APP_DAYS",
    "CUSTOMER_QS",
    "CUSTOMER_QUESTIONS",
    "FLOW_SUMS",
    "LINE_BUYERS",
    "NEW_DAYS",
    "SEGMENT_WHERE",
    "SELLER_BASE",
    "SELLER_BASE_AT_ENROLMENT",
    "SELLER_QS",
    "SELLER_QUESTIONS",
    "SELLER_SEGMENTS",
    "SELLER_SEGMENTS_AT_ENROLMENT",
    "SERVICE_BASE",
    "SERVICE_MEASURES",
    "STORED_SEGMENTS",
    "STORE_SEGMENTS",
    "Window",
    "base_columns",
    "by_month_sums",
    "dimension_columns",
    "filter_params",
    "month_params",
    "store_segments",
]
