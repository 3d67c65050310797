"""KPI targets: checked against the registry when loaded, and matched to report rows.

A target row names a period, a KPI id, an optional segment (a JSON object in the filter
language, e.g. ``{"markets": ["BR"]}``) and a value in the KPI's unit. `check` finds what is
wrong with loaded rows, as import issues; `targets_for` returns what applies to a report.
"""

from __future__ import annotations

import json

import polars as pl
from pydantic import ValidationError

from cxm.config import CompanyConfig
from cxm.errors import BadFilter, ImportIssue
from cxm.metrics.kpis import BY_ID, Kpi, get
from cxm.segments.filter import SegmentFilter
from cxm.segments.periods import Period
from cxm.warehouse.scoped import Scoped

#: The filter fields a target's segment may use (a segment is a filter without a period).
SEGMENT_KEYS = (
    "markets",
    "languages",
    "ranks",
    "rank_at_least",
    "statuses",
    "tenure_bands",
    "training_tiers",
    "cohorts",
)
#: The range a target may take, per unit.
UNIT_RANGE = {
    "share": (0.0, 1.0),
    "score": (-100.0, 100.0),
    "pp": (-100.0, 100.0),
    "points": (1.0, 5.0),
    "count": (0.0, None),
    "amount": (0.0, None),
    "rate": (0.0, None),
    "hours": (0.0, None),
}


def parse_segment(text: str | None, cfg: CompanyConfig) -> dict:
    """Return a target's segment as a dict of filter fields ({} for the whole company).

    Raises
    ------
    BadFilter
        When the text is not a JSON object of known filter fields with configured values.

    >>> from cxm.config import load_config
    >>> parse_segment('{"markets": ["BR"]}', load_config())
    {'markets': ('BR',)}
    """
    if text is None or text == "":
        return {}
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        raw = None
    if not isinstance(raw, dict):
        raise BadFilter("segment", text, "bad_json", "is not a JSON object")
    unknown = sorted(set(raw) - set(SEGMENT_KEYS))
    if unknown:
        raise BadFilter(
            "segment",
            text,
            "unknown_parameter",
            f"names {', '.join(unknown)}; a segment may use {', '.join(SEGMENT_KEYS)}",
        )
    try:
        seg = SegmentFilter(period=Period.parse("2000"), **raw)
    except ValidationError as exc:
        raise BadFilter("segment", text, "bad_json", exc.errors()[0]["msg"].lower()) from None
    seg.check(cfg)
    return seg.model_dump(include=set(raw))


def check(file: str, frame: pl.DataFrame, cfg: CompanyConfig, row_column: str) -> list[ImportIssue]:
    """Return the problems of loaded kpi_targets rows: unknown KPI, bad segment, bad value."""
    issues = []
    for rec in frame.iter_rows(named=True):
        row = rec.get(row_column)
        kpi: Kpi | None = BY_ID.get(rec["kpi_id"])
        if kpi is None:
            try:
                get(rec["kpi_id"])
            except BadFilter as exc:
                issues.append(
                    ImportIssue(
                        file=file,
                        row=row,
                        column="kpi_id",
                        value=rec["kpi_id"],
                        code="unknown_kpi",
                        message=exc.reason,
                    )
                )
        try:
            parse_segment(rec["segment"], cfg)
        except BadFilter as exc:
            issues.append(
                ImportIssue(
                    file=file,
                    row=row,
                    column="segment",
                    value=rec["segment"],
                    code="bad_segment",
                    message="is not a usable segment: "
                    + (
                        exc.reason
                        if exc.field == "segment"
                        else f'{exc.field} "{exc.value}" {exc.reason}'
                    ),
                )
            )
        if kpi is not None and rec["target"] is not None:
            lo, hi = UNIT_RANGE[kpi.unit]
            if rec["target"] < lo or (hi is not None and rec["target"] > hi):
                span = f"{lo:g} to {hi:g}" if hi is not None else f"{lo:g} or more"
                issues.append(
                    ImportIssue(
                        file=file,
                        row=row,
                        column="target",
                        value=str(rec["target"]),
                        code="target_out_of_range",
                        message=f"is outside {kpi.id}'s range ({kpi.unit}: {span})",
                    )
                )
    return issues


def enclosing(period: Period) -> list[Period]:
    """Return ``period`` and the quarter and year that hold it, narrowest first.

    >>> [p.label() for p in enclosing(Period.parse("2026-11"))]
    ['2026-11', '2026-Q4', '2026']
    """
    year = Period.parse(str(period.start.year))
    quarter = Period.parse(f"{period.start.year}-Q{(period.start.month - 1) // 3 + 1}")
    return {"month": [period, quarter, year], "quarter": [period, year], "year": [period]}[
        period.kind
    ]


def targets_for(company: Scoped, period: Period, cfg: CompanyConfig) -> list[dict]:
    """Return the targets that apply to ``period``: kpi_id, segment (a dict), target, period.

    A target set for the period itself comes first. A rate, share or score KPI (not a count
    or a sum, which grow with the period's length) also takes the target of the quarter or
    year that holds the period, when the period has none of its own.
    """
    out: list[dict] = []
    have: set[tuple] = set()
    for i, p in enumerate(enclosing(period)):
        rows = company.con.execute(
            "SELECT kpi_id, segment, target FROM kpi_targets WHERE period = ?", [p.label()]
        ).fetchall()
        for k, s, t in rows:
            if k not in BY_ID or (i > 0 and BY_ID[k].kind in ("count", "sum")):
                continue
            seg = parse_segment(s, cfg)
            key = (
                k,
                tuple(sorted((f, tuple(v) if isinstance(v, tuple) else v) for f, v in seg.items())),
            )
            if key in have:
                continue
            have.add(key)
            out.append({"kpi_id": k, "segment": seg, "target": t, "period": p.label()})
    return out


#: Which filter field holds each dimension's values.
_FIELD_OF = {
    "market": "markets",
    "language": "languages",
    "rank": "ranks",
    "status": "statuses",
    "tenure_band": "tenure_bands",
    "training_tier": "training_tiers",
    "cohort": "cohorts",
}


def target_of(targets: list[dict], kpi_id: str, row: dict, where: SegmentFilter) -> float | None:
    """Return the most specific target for one report row, or None.

    A target applies when each of its segment's fields holds the row's value (from the row's
    dimensions, or from a filter that pins that field to one value); among those that apply,
    the one naming the most fields wins.
    """
    known = {field: {row[dim]} for dim, field in _FIELD_OF.items() if dim in row}
    for field in _FIELD_OF.values():
        values = getattr(where, field)
        if field not in known and values:
            known[field] = set(values)
    best, best_size = None, -1
    for t in targets:
        if t["kpi_id"] != kpi_id:
            continue
        seg = t["segment"]
        fits = all(
            field in known and known[field] <= set(values)
            for field, values in seg.items()
            if field != "rank_at_least"
        ) and ("rank_at_least" not in seg or seg["rank_at_least"] == where.rank_at_least)
        if fits and len(seg) > best_size:
            best, best_size = t["target"], len(seg)
    return best
