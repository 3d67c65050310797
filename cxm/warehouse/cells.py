"""Text cells safe to open in a spreadsheet: the one rule every CSV and XLSX file cxm writes
follows, and its inverse, which `cxm import` applies to CSV files.

A spreadsheet runs a cell as a formula when it starts with ``=``, ``+``, ``-`` or ``@``, and
some also after a tab, a carriage return or a line feed (OWASP, "CSV Injection"). Every TEXT
cell that starts with one of those, after any spaces or quotes, is written with a single quote
``'`` in front: the spreadsheet then shows it as text, and the value is the cell without its
first character. Numbers, dates and booleans are never touched (``-2`` stays the number -2);
Parquet files keep every value as it is.

Spaces and quotes count as a lead-in because an opener may trim them (LibreOffice's "trim
spaces") and because it makes the rule exactly reversible: ``'=x`` itself is written ``''=x``,
so `restore` turns every written cell back into its value, and ``cxm export-raw --format csv``
then ``cxm import`` round-trips ids such as ``=HYPERLINK(...)`` exactly.

CSV text fields are also always quoted (`write_csv`), so a ``;`` or ``,`` inside a value cannot
start a new cell in a spreadsheet that splits on it. Comment lines (the stamp above a CSV
header) are not quoted, so `comment` marks every piece a separator could start.

>>> [safe(v) for v in ['=1+2', '-2+3', '@SUM(A1)', '\\t=1', ' "=1', "'=1", 'S01', '']]
["'=1+2", "'-2+3", "'@SUM(A1)", "'\\t=1", '\\' "=1', "''=1", 'S01', '']
>>> restore(safe("'=1")) == "'=1" and restore("'S01") == "'S01"
True
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import IO

import polars as pl

#: What a spreadsheet may read as the start of a formula.
TRIGGERS = "=+@\t\r\n-"
#: What may come before it and still leave it first in the cell (trimmed, or a quote).
LEAD_IN = " \"'"
#: A text cell that needs the quote; the same text in Python, Polars and DuckDB (RE2).
PATTERN = f"^[{LEAD_IN}]*[{TRIGGERS}]"
#: The mark that makes a spreadsheet read a cell as text.
QUOTE = "'"

_NEEDS = re.compile(PATTERN)
#: A cell `safe` marked: the quote, then what needed it.
_MARKED = f"^{QUOTE}[{LEAD_IN}]*[{TRIGGERS}]"
#: A separator in an unquoted line followed by what would start a formula in the next cell.
_PIECE = re.compile(f"([,;])(?=[{LEAD_IN}]*[{TRIGGERS}])")


def safe(text: str) -> str:
    """Return ``text`` as a cell a spreadsheet shows as text (a quote in front when needed)."""
    return QUOTE + text if _NEEDS.match(text) else text


def restore(text: str) -> str:
    """Return the value `safe` wrote as ``text`` (the cell itself when it was not quoted)."""
    return text[1:] if text.startswith(QUOTE) and _NEEDS.match(text[1:]) else text


def comment(text: str) -> str:
    """Return ``text`` for an unquoted ``# label: text`` line: on one line, and no piece that
    a ``,`` or ``;`` could make a cell starting with a formula.

    >>> comment('"x,=HYPERLINK(1)" (scenario 3)')
    '"x,\\'=HYPERLINK(1)" (scenario 3)'
    """
    return _PIECE.sub(rf"\1{QUOTE}", re.sub(r"[\t\r\n]", " ", text))


def _text_columns(frame: pl.DataFrame) -> list[str]:
    return [n for n, t in frame.schema.items() if t in (pl.String, pl.Categorical) or t == pl.Enum]


def safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Return ``frame`` with every text column passed through `safe` (nulls stay null)."""
    return frame.with_columns(
        pl.when(pl.col(c).cast(pl.String).str.contains(PATTERN))
        .then(pl.lit(QUOTE) + pl.col(c).cast(pl.String))
        .otherwise(pl.col(c).cast(pl.String))
        .alias(c)
        for c in _text_columns(frame)
    )


def restore_frame(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Return ``frame`` with the text ``columns`` passed through `restore` (a column with no
    cell starting with a quote, the usual case, is left as it is after one cheap scan)."""
    quoted = frame.select(pl.col(c).str.starts_with(QUOTE).any() for c in columns).row(0)
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(_MARKED))
        .then(pl.col(c).str.slice(1))
        .otherwise(pl.col(c))
        .alias(c)
        for c, any_quoted in zip(columns, quoted, strict=True)
        if any_quoted
    )


def write_csv(frame: pl.DataFrame, target: str | Path | IO[bytes]) -> None:
    """Write ``frame`` as CSV to ``target``: text cells safe and quoted, numbers as numbers."""
    safe_frame(frame).write_csv(target, quote_style="non_numeric")


def sql_safe(column: str) -> str:
    """A DuckDB expression of the text ``column`` (a schema name, never user text) as `safe`
    writes it; the query binds ``$cell_pattern`` to `PATTERN` (`SQL_PARAMS`)."""
    return (
        f"CASE WHEN regexp_matches({column}, $cell_pattern) "
        f"THEN '{QUOTE}{QUOTE}' || {column} ELSE {column} END"
    )


#: The parameters a query using `sql_safe` binds.
SQL_PARAMS = {"cell_pattern": PATTERN}
