"""Reading the import folder: which files are tables, and each file read as a frame.

Problems of the folder, the bytes and the header (unknown or doubled files, empty files,
encodings, malformed CSV, unreadable Parquet, missing or extra columns) are reported here;
values are checked by `_checks`, and tables against each other by `importer`.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import polars as pl

from cxm.errors import ImportIssue
from cxm.warehouse._checks import ROW, Found
from cxm.warehouse.schema import TABLES, Table, columns

FORMATS = (".csv", ".parquet")


def discover(directory: Path, found: Found) -> dict[str, Path]:
    if not directory.is_dir():
        found.add(
            ImportIssue(
                file=str(directory), code="no_directory", message="is not a folder that exists"
            )
        )
        return {}
    files: dict[str, Path] = {}
    for path in sorted(p for p in directory.iterdir() if not p.name.startswith(".")):
        table, suffix = path.stem, path.suffix.lower()
        if suffix not in FORMATS or table not in TABLES:
            found.add(
                ImportIssue(
                    file=path.name,
                    code="unknown_file",
                    message=f"is not named after a table; expected one of "
                    f"{', '.join(t + '.csv' for t in TABLES)} (or .parquet)",
                )
            )
        elif table in files:
            found.add(
                ImportIssue(
                    file=path.name,
                    code="ambiguous_file",
                    message=f"and {files[table].name} both hold {table}; keep one",
                )
            )
        else:
            files[table] = path
    files = {t: files[t] for t in TABLES if t in files}  # load order
    if not files and not found:
        found.add(
            ImportIssue(
                file=str(directory),
                code="no_files",
                message="holds no table files (sellers.csv, orders.parquet, ...)",
            )
        )
    return files


def read_csv(path: Path, model: type[Table], found: Found) -> pl.DataFrame | None:
    data = path.read_bytes()
    if not data.strip():
        found.add(
            ImportIssue(
                file=path.name,
                code="empty_file",
                message="is empty; a table file needs at least its header row",
            )
        )
        return None
    data = data.removeprefix(codecs.BOM_UTF8)
    bad_at = _first_non_utf8(data)
    if bad_at is not None:
        found.add(
            ImportIssue(
                file=path.name,
                row=data[:bad_at].count(b"\n") + 1,
                code="bad_encoding",
                value=data[bad_at : bad_at + 4].hex(" "),
                message="is not UTF-8 text; save the file as UTF-8",
            )
        )
        return None
    first_line = data[: data.find(b"\n") + 1 or None].decode()
    header = next(csv.reader(io.StringIO(first_line)))
    if not _check_header(path.name, [h.strip() for h in header], model, found):
        return None
    try:
        df = pl.read_csv(data, infer_schema=False)
    except pl.exceptions.PolarsError:
        _report_malformed(path.name, data.decode(), len(header), found)
        return None
    df.columns = [c.strip() for c in df.columns]
    return df.with_row_index(ROW, offset=2).with_columns(pl.col(ROW).cast(pl.Int64))


def _first_non_utf8(data: bytes, chunk: int = 1 << 26) -> int | None:
    """Return the byte offset of the first byte that is not UTF-8, or None.

    Decodes in 64 MB pieces and keeps nothing, so a multi-GB file is checked without a
    second copy of it in memory.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    for start in range(0, len(data), chunk):
        try:
            decoder.decode(view[start : start + chunk], final=start + chunk >= len(data))
        except UnicodeDecodeError as exc:
            # A character cut by the chunk edge is carried over by the decoder.
            return start + exc.start - len(decoder.getstate()[0])
    return None


def _report_malformed(name: str, text: str, width: int, found: Found) -> None:
    for row, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if len(fields) != width:
            found.add(
                ImportIssue(
                    file=name,
                    row=row,
                    code="malformed_csv",
                    value=_clip(fields),
                    message=f"has {len(fields)} fields where the header has {width} "
                    "(a stray comma or an unclosed quote?)",
                )
            )
            return
    found.add(
        ImportIssue(
            file=name, code="malformed_csv", message="could not be read as CSV (an unclosed quote?)"
        )
    )


def _clip(fields: list[str]) -> str:
    text = ",".join(fields)
    return text if len(text) <= 60 else text[:57] + "..."


def read_parquet(path: Path, model: type[Table], found: Found) -> pl.DataFrame | None:
    try:
        df = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        found.add(
            ImportIssue(
                file=path.name,
                code="unreadable_parquet",
                message=f"is not a readable Parquet file ({type(exc).__name__})",
            )
        )
        return None
    if not _check_header(path.name, df.columns, model, found):
        return None
    return df.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def _check_header(name: str, header: list[str], model: type[Table], found: Found) -> bool:
    expected = [c.name for c in columns(model)]
    before = found.total
    problems = [
        (
            sorted({h for h in header if header.count(h) > 1}),
            "duplicate_column",
            "appears more than once in the header",
        ),
        ([c for c in expected if c not in header], "missing_column", "is missing from the header"),
        (
            [c for c in header if c not in expected],
            "unknown_column",
            f"is not a column of {model.__table__} ({', '.join(expected)})",
        ),
    ]
    for cols, code, message in problems:
        for col in cols:
            found.add(ImportIssue(file=name, row=1, column=col, code=code, message=message))
    return found.total == before
