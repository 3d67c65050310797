"""Segment reports and their exports (issue 13): what analysts take away, stamped."""

from cxm.reports.customers import (
    AtRiskCounts,
    at_risk_counts,
    at_risk_customers,
    at_risk_file,
    left_out_text,
)
from cxm.reports.export import (
    EXPORT_ROLES,
    STAMP_KEY,
    ExportFormat,
    audit_export,
    export_for,
    to_bytes,
    write,
)
from cxm.reports.segment import SegmentTable, Stamp, segment_table

__all__ = [
    "AtRiskCounts",
    "at_risk_counts",
    "at_risk_customers",
    "at_risk_file",
    "left_out_text",
    "EXPORT_ROLES",
    "audit_export",
    "export_for",
    "STAMP_KEY",
    "ExportFormat",
    "SegmentTable",
    "Stamp",
    "segment_table",
    "to_bytes",
    "write",
]
