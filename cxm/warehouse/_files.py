"""Reading the import folder: which files are tables, and each file read as a frame.

Problems of the folder, the bytes and the header (unknown or doubled files, empty files,
encodings, malformed CSV, unreadable Parquet, missing or extra columns) are reported here;
values are checked by `_checks`, and tables against each other by `importer`.
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl

from cxm.errors import ImportIssue
from cxm.warehouse import cells
from cxm.warehouse._checks import ROW, Found
from cxm.warehouse.schema import TABLES, Table, columns

FORMATS = (".csv", ".parquet")

#: Bytes `_record_fields` looks at in one piece: 1 MB pieces stay in the CPU cache and scan
#: ~1.1 GB/s; 64 MB pieces ran at ~0.6 GB/s.
SCAN_CHUNK = 1 << 20
_QUOTE, _COMMA, _NEWLINE, _CR = b'",\n\r'


def discover(directory: Path, found: Found, shown: str | None = None) -> dict[str, Path]:
    """Return the table files in ``directory`` by table, in load order; report the others.

    ``shown`` names the folder in messages (default: its path as given); an upload's staging
    folder is named by the upload, never by its path on the server.
    """
    shown = shown or str(directory)
    if not directory.is_dir():
        found.add(
            ImportIssue(file=shown, code="no_directory", message="is not a folder that exists")
        )
        return {}
    files: dict[str, Path] = {}
    for path in sorted(p for p in directory.iterdir() if not p.name.startswith(".")):
        table, suffix = path.stem, path.suffix.lower()
        if unprintable(path.name):
            found.add(bad_file_name(path.name))
        elif suffix not in FORMATS or table not in TABLES:
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
                file=shown,
                code="no_files",
                message="holds no table files (sellers.csv, orders.parquet, ...)",
            )
        )
    return files


#: Unicode categories refused in a file name: controls (NUL, tab, line breaks, escape),
#: format characters (a right-to-left override makes "lvs.csv" read as "csv.svl") and
#: line and paragraph separators.
_UNPRINTABLE = frozenset(("Cc", "Cf", "Zl", "Zp"))


def unprintable(name: str) -> bool:
    """Return whether a file name holds a NUL, a line break or another control character."""
    return any(unicodedata.category(ch) in _UNPRINTABLE for ch in name)


def escaped(name: str) -> str:
    r"""Return ``name`` with each control character written as an escape, safe to show.

    >>> escaped("sellers\x00.csv"), escaped("ventes-é.csv")
    ('sellers\\x00.csv', 'ventes-é.csv')
    """
    return "".join(
        repr(ch)[1:-1] if unicodedata.category(ch) in _UNPRINTABLE else ch for ch in name
    )


def bad_file_name(name: str, where: str = "") -> ImportIssue:
    """Return the issue for a file name with control characters (shown escaped)."""
    return ImportIssue(
        file=where + escaped(name),
        code="bad_file_name",
        message="has a control character in its name (shown escaped); rename the file",
    )


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
        # The row a spreadsheet shows: a newline inside a quoted value starts no row.
        ends = (e for e, _ in _record_fields(memoryview(data)[:bad_at]))
        found.add(
            ImportIssue(
                file=path.name,
                row=sum(int(np.count_nonzero(e < bad_at)) for e in ends) + 1,
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
    # Polars reads a row with too few fields as if the missing ones were empty; refuse it.
    blank_rows = _check_widths(path.name, data, len(header), found)
    if blank_rows is None:
        return None
    df.columns = [c.strip() for c in df.columns]
    # A cell cxm (or a spreadsheet user) marked as text with a quote holds the value after it.
    df = cells.restore_frame(df, df.columns)
    df = omitted(df.with_row_index(ROW, offset=2).with_columns(pl.col(ROW).cast(pl.Int64)), model)
    if len(blank_rows):  # numbered first, so the rows after a blank line keep their number
        df = df.filter(~pl.col(ROW).is_in(pl.Series(blank_rows, dtype=pl.Int64).implode()))
    return df


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


def _record_fields(
    data: bytes | memoryview, chunk: int = SCAN_CHUNK
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield the records of CSV ``data`` (any bytes-like) piece by piece: (ends, fields).

    A record ends at a newline outside double quotes (its offset is in ``ends``), or at the
    end of the data. ``fields`` is one more than its commas outside quotes, or 0 for a blank
    line (nothing, or only a carriage return, before the newline), as `csv.reader` counts.
    The header is the first record.

    Every quote toggles quoting wherever it stands (a doubled "" in a quoted value toggles
    twice), which is how Polars splits records; a quote inside an unquoted value makes
    Polars refuse the file anyway. Vectorised with numpy over ``chunk``-byte pieces, the quote
    parity, the open record's commas and its start carried from one piece to the next: no
    Python step per row, and no more than a few times ``chunk`` held at once.
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    inside = 0  # 1 when a piece starts inside a quoted value
    commas = 0  # commas outside quotes in the record open when a piece starts
    begin = 0  # where that record began
    hit = np.empty(min(chunk, len(arr)), dtype=bool)  # reused: fresh pages cost more
    other = np.empty_like(hit)
    for start in range(0, len(arr), chunk):
        piece = arr[start : start + chunk]
        h, o = hit[: len(piece)], other[: len(piece)]
        np.equal(piece, _COMMA, out=h)
        h |= np.equal(piece, _NEWLINE, out=o)
        h |= np.equal(piece, _QUOTE, out=o)
        at = np.flatnonzero(h)
        if len(at) == 0:
            continue
        kind = piece[at]
        quote = kind == _QUOTE
        if inside or quote.any():
            # Parity of the quotes up to each byte; uint8 wraps at 256, which keeps parity.
            odd = (np.cumsum(quote, dtype=np.uint8) + inside) & 1
            inside = int(odd[-1])
            outside = ~quote & (odd == 0)
            at, kind = at[outside], kind[outside]
        newline = np.flatnonzero(kind == _NEWLINE)  # ``kind`` is now commas and newlines
        if len(newline) == 0:
            commas += len(kind)
            continue
        before = newline - np.arange(len(newline))  # the piece's commas before each newline
        counts = np.diff(before, prepend=-commas)
        ends = at[newline] + start
        begins = np.concatenate(([begin], ends[:-1] + 1))
        blank = (counts == 0) & ((ends == begins) | ((ends - begins == 1) & (arr[ends - 1] == _CR)))
        yield ends, np.where(blank, 0, counts + 1)
        commas = len(kind) - len(newline) - int(before[-1])
        begin = int(ends[-1]) + 1
    if begin < len(arr):  # the last record, without a final newline
        blank = commas == 0 and (len(arr) - begin == 1 and arr[-1] == _CR)
        yield np.array([len(arr)]), np.array([0 if blank else commas + 1])


def _check_widths(
    name: str, data: bytes, width: int, found: Found, chunk: int = SCAN_CHUNK
) -> np.ndarray | None:
    """Report the records whose field count is not the header's ``width``: the first one,
    and how many there are in all. Return the spreadsheet rows of the blank lines, which
    are skipped (they hold no value), or None when a record was reported."""
    record = 0  # the index of the piece's first record; the header is record 0
    first = None  # (record, begin, end, fields) of the first record unlike the header
    count = 0
    blanks = []
    last_end = -1
    for ends, fields in _record_fields(data, chunk):
        bad = np.flatnonzero((fields != width) & (fields != 0))
        if record == 0:
            bad = bad[bad > 0]  # the header itself is checked by `_check_header`
        if len(bad) and first is None:
            i = int(bad[0])
            begin = int(ends[i - 1]) + 1 if i else last_end + 1
            first = (record + i, begin, int(ends[i]), int(fields[i]))
        count += len(bad)
        blanks.append(record + np.flatnonzero(fields == 0))
        record += len(ends)
        last_end = int(ends[-1])
    if first is not None:
        index, begin, end, n = first
        text = bytes(data[begin:end]).decode()
        message = _width_message(n, width)
        if count > 1:
            message += f"; {count:,} rows in all do not have {width} fields"
        found.add(
            ImportIssue(
                file=name,
                row=index + 1,
                code="malformed_csv",
                value=_clip(next(csv.reader(io.StringIO(text, newline="")), [])),
                message=message,
            )
        )
        found.add_unlisted(count - 1)
        return None
    blank = np.concatenate(blanks) if blanks else np.array([], dtype=np.int64)
    return blank[blank > 0] + 1


def _width_message(n: int, width: int) -> str:
    why = (
        "a missing field or a line break inside an unquoted value?"
        if n < width
        else "a stray comma or an unclosed quote?"
    )
    return f"has {n} field{'s' if n != 1 else ''} where the header has {width} ({why})"


def _report_malformed(name: str, text: str, width: int, found: Found) -> None:
    for row, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if fields and len(fields) != width:  # a blank line ([]) is skipped, as on import
            found.add(
                ImportIssue(
                    file=name,
                    row=row,
                    code="malformed_csv",
                    value=_clip(fields),
                    message=_width_message(len(fields), width),
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


class Unreadable(Exception):
    """A Parquet file whose header read but one of whose columns did not."""


class ParquetColumns:
    """A Parquet table file read one column at a time, for `_checks.parse_table`.

    ``get_column(name)`` reads that column from the file (a column the file may omit and
    did, as empty cells; ``ROW``, the row numbers 1, 2, ...), so checking a 46M-row file
    holds one of its columns at a time instead of all of them. ``schema`` is the file's own
    column types.
    """

    def __init__(self, path: Path, schema: dict[str, pl.DataType], height: int) -> None:
        self.path, self.schema, self.height = path, schema, height
        self._rows = pl.int_range(1, height + 1, dtype=pl.Int64, eager=True).alias(ROW)

    def get_column(self, name: str) -> pl.Series:
        if name == ROW:
            return self._rows
        if name not in self.schema:
            return pl.repeat(None, self.height, dtype=pl.String, eager=True).alias(name)
        try:
            return pl.read_parquet(self.path, columns=[name]).to_series()
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise Unreadable(type(exc).__name__) from exc

    def scan(self) -> pl.LazyFrame:
        """Return the file as a lazy frame, for a streaming pass over all of it."""
        return pl.scan_parquet(self.path)

    def frame(self, names: list[str]) -> pl.DataFrame:
        """Return ROW and the columns ``names`` of the file, read together."""
        present = [n for n in names if n in self.schema]
        try:
            read = pl.read_parquet(self.path, columns=present) if present else pl.DataFrame()
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise Unreadable(type(exc).__name__) from exc
        return pl.DataFrame(
            [self._rows]
            + [read.get_column(n) if n in present else self.get_column(n) for n in names]
        )

    def as_declared(self, model: type[Table]) -> bool:
        """Return whether every column of the file already has its declared type, and no
        list column would turn empty cells into empty lists: the parsed values are then the
        file's own, wherever no problem was found."""
        return all(
            self.schema[c.name] == c.polars_type
            and not (c.kind == "list" and c.nullable is False and c.min_length is None)
            for c in columns(model)
            if c.name in self.schema
        )

    def whole(self, parsed: pl.DataFrame, model: type[Table]) -> pl.DataFrame:
        """Return every column of the table: ``parsed``'s, and the others read from the file
        (`as_declared` files only: a column `parse_table` left out is the file's own)."""
        return pl.DataFrame(
            [self.get_column(ROW)]
            + [
                parsed.get_column(c.name) if c.name in parsed.columns else self.get_column(c.name)
                for c in columns(model)
            ]
        )


def unreadable(path: Path, why: str) -> ImportIssue:
    """Return the issue for a Parquet file that could not be read (``why``: the error's kind)."""
    return ImportIssue(
        file=path.name,
        code="unreadable_parquet",
        message=f"is not a readable Parquet file ({why})",
    )


def parquet_columns(path: Path, model: type[Table], found: Found) -> ParquetColumns | None:
    """Return the Parquet file at ``path`` to read column by column, or None (reported) when
    its header cannot be read or is not the table's."""
    try:
        schema = dict(pl.read_parquet_schema(path))
        height = pl.scan_parquet(path).select(pl.len()).collect().item()
    except (pl.exceptions.PolarsError, OSError) as exc:
        found.add(unreadable(path, type(exc).__name__))
        return None
    if not _check_header(path.name, list(schema), model, found):
        return None
    return ParquetColumns(path, schema, height)


def omitted(df: pl.DataFrame, model: type[Table]) -> pl.DataFrame:
    """Return ``df`` with each column the file may omit (`MayOmit`) and did, as empty cells."""
    return df.with_columns(
        pl.lit(None, dtype=pl.String).alias(c.name)
        for c in columns(model)
        if c.may_omit and c.name not in df.columns
    )


def _check_header(name: str, header: list[str], model: type[Table], found: Found) -> bool:
    expected = [c.name for c in columns(model)]
    before = found.total
    problems = [
        (
            sorted({h for h in header if header.count(h) > 1}),
            "duplicate_column",
            "appears more than once in the header",
        ),
        (
            [c.name for c in columns(model) if c.name not in header and not c.may_omit],
            "missing_column",
            "is missing from the header",
        ),
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
