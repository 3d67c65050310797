"""Segments: `SegmentFilter` and `Period` (what a leader picks) and their SQL (`sql`)."""

from cxm.segments.filter import Dimension, SegmentFilter, parse_dimension
from cxm.segments.periods import Period

__all__ = ["Dimension", "Period", "SegmentFilter", "parse_dimension"]
