"""Write a segment report to CSV, XLSX or Parquet, each file carrying its stamp.

* CSV: UTF-8 with a byte-order mark (Excel then reads accents right), the stamp as ``#``
  comment lines above the header (``polars.read_csv(..., comment_prefix="#")`` skips them).
* XLSX: a formatted "Report" sheet (frozen header, each cell's number format from its row's
  unit: shares as percentages, amounts with cents, gaps in pp) and an "About" sheet with the
  stamp.
* Parquet: the stamp as JSON in the file's key-value metadata under ``cxm.stamp``.

CSV and XLSX hold each value at its KPI's precision (`DECIMALS`: amounts to the cent, shares as
fractions to 4 decimals, scores as shown), the same for its previous value, change, interval,
target and company; Parquet, which analysts compute on, keeps full precision.

Every text cell of a CSV or XLSX file is safe to open (`cxm.warehouse.cells`: a quote in front
of one a spreadsheet would run as a formula); Parquet keeps values as they are.

No row limit. Files are written to a temporary name beside the target and moved into place,
so a failed write never leaves half a file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from enum import StrEnum
from pathlib import Path

import polars as pl

from cxm.access import Role, User, require_role
from cxm.reports.segment import SegmentTable
from cxm.warehouse import audit, cells

STAMP_KEY = "cxm.stamp"


class ExportFormat(StrEnum):
    """The file formats a report is written in."""

    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"


#: Decimals a CSV or XLSX file keeps, per KPI unit: amounts to the cent, shares as fractions
#: to 4 (0.01 pp), scores whole as shown, gaps in pp and 1-5 means to 2.
DECIMALS = {
    "share": 4,
    "amount": 2,
    "score": 0,
    "pp": 2,
    "points": 2,
    "rate": 2,
    "hours": 2,
    "count": 0,
}
#: The columns in a row's unit, rounded (and, in XLSX, formatted) by it.
IN_UNIT = ("value", "previous", "change", "se", "ci_low", "ci_high", "target", "company")
#: A change's p-value, to 4 decimals.
P_DECIMALS = 4
#: Columns whose unit is fixed, in files with no ``unit`` column (the at-risk customers).
COLUMN_UNITS = {
    "p_alive": "share",
    "purchases_12m": "rate",
    "expected_spend": "amount",
    "clv_12m": "amount",
}
#: xlsxwriter keeps every string a string: no formulas, no links, no numbers made of text.
XLSX_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
#: What the About sheet of a report's XLSX says about its numbers.
NUMBERS_NOTE = (
    "Each value is rounded to its KPI's precision: amounts to the cent, shares as fractions "
    "to 4 decimals shown as percentages, scores whole. A change of a share is a difference of "
    "fractions: +2.1% in the change column is +2.1 percentage points (pp), not a relative "
    "change. The Parquet file of the same report keeps full precision."
)
#: XLSX number formats per unit: (a level, a change). Shares are fractions shown as %; a
#: change of a share is a difference of fractions (0.021 shows +2.1%: 2.1 pp).
_XLSX_FORMATS = {
    "share": ("0.0%", "+0.0%;-0.0%;0.0%"),
    "amount": ("#,##0.00", "+#,##0.00;-#,##0.00;0.00"),
    "score": ("0", "+0;-0;0"),
    "pp": ('0.0" pp"', '+0.0" pp";-0.0" pp";0.0" pp"'),
    "points": ("0.00", "+0.00;-0.00;0.00"),
    "rate": ("0.00", "+0.00;-0.00;0.00"),
    "hours": ("0.0", "+0.0;-0.0;0.0"),
    "count": ("#,##0", "+#,##0;-#,##0;0"),
}


def rounded(frame: pl.DataFrame) -> pl.DataFrame:
    """Return ``frame`` with each `IN_UNIT` column rounded to its row's unit (`DECIMALS`),
    and each of `COLUMN_UNITS` to its own.

    >>> f = pl.DataFrame({"unit": ["share", "amount"], "value": [0.21192660550458717,
    ...     1725033.0800000005], "change": [-0.004153447919116593, -2021.3300000005402]})
    >>> rounded(f).rows()
    [('share', 0.2119, -0.0042), ('amount', 1725033.08, -2021.33)]
    """
    fixed = [
        pl.col(c).round(DECIMALS[u], mode="half_away_from_zero")
        for c, u in COLUMN_UNITS.items()
        if c in frame.columns
    ]
    frame = frame.with_columns(fixed) if fixed else frame
    if "unit" not in frame.columns:
        return frame

    def by_unit(col: str) -> pl.Expr:
        expr = pl.lit(None, dtype=pl.Float64)
        for unit, places in DECIMALS.items():
            expr = (
                pl.when(pl.col("unit") == unit)
                .then(pl.col(col).cast(pl.Float64).round(places, mode="half_away_from_zero"))
                .otherwise(expr)
            )
        return expr.alias(col)

    cols = [c for c in IN_UNIT if c in frame.columns]
    out = frame.with_columns(by_unit(c) for c in cols)
    if "change_p" in frame.columns:
        out = out.with_columns(pl.col("change_p").round(P_DECIMALS, mode="half_away_from_zero"))
    return out


def _head(stamp: list[tuple[str, str]]) -> bytes:
    """The byte-order mark, then the stamp as ``# label: text`` lines (`cells.comment`)."""
    return "".join(f"# {label}: {cells.comment(text)}\n" for label, text in stamp).encode(
        "utf-8-sig"
    )


def _csv(table: SegmentTable, path: Path) -> None:
    with path.open("wb") as f:
        f.write(_head(table.stamp.items()))
        cells.write_csv(rounded(table.frame), f)


def _xlsx(table: SegmentTable, path: Path) -> None:
    import xlsxwriter

    notes = [("Numbers", NUMBERS_NOTE)] if "unit" in table.frame.columns else []
    about = pl.DataFrame([*table.stamp.items(), *notes], schema=["About", "Text"], orient="row")
    with xlsxwriter.Workbook(str(path), XLSX_OPTIONS) as book:
        _report_sheet(book, rounded(table.frame))
        cells.safe_frame(about).write_excel(
            book, worksheet="About", autofit=True, header_format={"bold": True}
        )


def _report_sheet(book, frame: pl.DataFrame) -> None:
    """Write ``frame`` to a "Report" sheet, each number cell formatted by its row's unit."""
    sheet = book.add_worksheet("Report")
    bold = book.add_format({"bold": True})
    formats = {
        (unit, kind): book.add_format({"num_format": pair[kind]})
        for unit, pair in _XLSX_FORMATS.items()
        for kind in (0, 1)
    }
    p_format = book.add_format({"num_format": "0.0000"})
    for j, name in enumerate(frame.columns):
        sheet.write_string(0, j, name, bold)
    for i, row in enumerate(frame.iter_rows(named=True), start=1):
        unit = row.get("unit")
        for j, (name, value) in enumerate(row.items()):
            if value is None:
                sheet.write_blank(i, j, None)
            elif isinstance(value, bool):
                sheet.write_boolean(i, j, value)
            elif isinstance(value, int | float):
                style = None
                if name in IN_UNIT and unit in _XLSX_FORMATS:
                    style = formats[(unit, 1 if name == "change" else 0)]
                elif name in COLUMN_UNITS:
                    style = formats[(COLUMN_UNITS[name], 0)]
                elif name == "change_p":
                    style = p_format
                sheet.write_number(i, j, value, style)
            else:
                sheet.write_string(i, j, cells.safe(str(value)))
    sheet.freeze_panes(1, 0)
    sheet.autofit()


def _parquet(table: SegmentTable, path: Path) -> None:
    stamp = {label: text for label, text in table.stamp.items()}
    table.frame.write_parquet(path, metadata={STAMP_KEY: json.dumps(stamp)})


_WRITERS = {ExportFormat.CSV: _csv, ExportFormat.XLSX: _xlsx, ExportFormat.PARQUET: _parquet}


def write(table: SegmentTable, fmt: ExportFormat | str, path: str | Path) -> Path:
    """Write ``table`` as ``fmt`` to ``path`` (atomically); return the path."""
    path = Path(path)
    writer = _WRITERS[ExportFormat(fmt)]
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    try:
        writer(table, Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def to_bytes(table: SegmentTable, fmt: ExportFormat | str) -> bytes:
    """Return the file ``fmt`` would hold (for a browser download)."""
    with tempfile.TemporaryDirectory() as folder:
        out = write(table, fmt, Path(folder) / f"report.{ExportFormat(fmt).value}")
        return out.read_bytes()


#: Who may take a segment report away as a file (executives get the board pack instead).
EXPORT_ROLES = (Role.ANALYST, Role.ADMIN)


def export_for(user: User | None, table: SegmentTable, fmt: ExportFormat | str) -> bytes:
    """Return the file's bytes for ``user``; raise `NotAllowed` unless they may export."""
    require_role(user, *EXPORT_ROLES)
    return to_bytes(table, fmt)


def audit_export(
    user: User | None,
    table: SegmentTable,
    fmt: ExportFormat | str,
    data: bytes,
    *,
    path: str | Path | None = None,
) -> None:
    """Write the export of ``data`` by ``user`` to the audit trail (with the file's hash)."""
    who = require_role(user, *EXPORT_ROLES)
    audit.record(export_entry(table, fmt, data, who.username, who.role.value), path=path)


def export_entry(
    table: SegmentTable, fmt: ExportFormat | str, data: bytes, username: str, role: str
) -> audit.Entry:
    """Return the audit entry of ``data``, the file ``table`` made as ``fmt``."""
    return audit.Entry(
        username=username,
        role=role,
        action="export",
        what=f"{table.stamp.title}, {ExportFormat(fmt).value}",
        filters=f"{table.stamp.filters}; as of {table.stamp.as_of}",
        scope=table.stamp.scope,
        rows=table.stamp.rows,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def stamped(frame: pl.DataFrame, stamp: list[tuple[str, str]], fmt: ExportFormat | str) -> bytes:
    """Return ``frame`` as CSV or Parquet bytes carrying ``stamp`` as a report file does.

    CSV: the byte-order mark, then ``# label: text`` lines above the header; Parquet: the
    stamp as JSON under ``cxm.stamp`` in the file's metadata. For files that are not a
    `SegmentTable` (the what-if recommendations), written the same way.
    """
    buf = io.BytesIO()
    if ExportFormat(fmt) is ExportFormat.CSV:
        buf.write(_head(stamp))
        cells.write_csv(frame, buf)
    elif ExportFormat(fmt) is ExportFormat.PARQUET:
        frame.write_parquet(buf, metadata={STAMP_KEY: json.dumps(dict(stamp))})
    else:
        raise ValueError(f"{fmt}: recommendations are written as csv or parquet")
    return buf.getvalue()
