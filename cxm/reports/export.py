"""Write a segment report to CSV, XLSX or Parquet, each file carrying its stamp.

* CSV: UTF-8 with a byte-order mark (Excel then reads accents right), the stamp as ``#``
  comment lines above the header (``polars.read_csv(..., comment_prefix="#")`` skips them).
* XLSX: a formatted "Report" sheet (frozen header, number formats per unit) and an "About"
  sheet with the stamp.
* Parquet: the stamp as JSON in the file's key-value metadata under ``cxm.stamp``.

No row limit. Files are written to a temporary name beside the target and moved into place,
so a failed write never leaves half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from enum import StrEnum
from pathlib import Path

import polars as pl

from cxm.access import Role, User, require_role
from cxm.reports.segment import SegmentTable
from cxm.warehouse import audit

STAMP_KEY = "cxm.stamp"


class ExportFormat(StrEnum):
    """The file formats a report is written in."""

    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"


def _csv(table: SegmentTable, path: Path) -> None:
    head = "".join(f"# {label}: {text}\n" for label, text in table.stamp.items())
    with path.open("wb") as f:
        f.write(head.encode("utf-8-sig"))  # the byte-order mark, then the stamp
        table.frame.write_csv(f)


def _xlsx(table: SegmentTable, path: Path) -> None:
    import xlsxwriter

    about = pl.DataFrame(table.stamp.items(), schema=["About", "Text"], orient="row")
    with xlsxwriter.Workbook(str(path)) as book:
        table.frame.write_excel(
            book,
            worksheet="Report",
            autofit=True,
            freeze_panes=(1, 0),
            float_precision=6,
            header_format={"bold": True},
        )
        about.write_excel(book, worksheet="About", autofit=True, header_format={"bold": True})


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
