"""Segment reports and their exports (issue 13): what analysts take away, stamped."""

from cxm.reports.export import STAMP_KEY, ExportFormat, to_bytes, write
from cxm.reports.segment import SegmentTable, Stamp, segment_table

__all__ = [
    "STAMP_KEY",
    "ExportFormat",
    "SegmentTable",
    "Stamp",
    "segment_table",
    "to_bytes",
    "write",
]
