"""Load a company's own CSV or Parquet files into the warehouse, all-or-nothing.

`import_dir` reads every file named after a table (``orders.csv``, ``sellers.parquet``),
checks everything (files, columns, types, configured enums, dates, amounts, keys, references,
the sponsor tree) and only when nothing is wrong swaps in a warehouse where those tables are
replaced. On any problem it raises `ImportRejected` listing them all, and the warehouse file
is byte-for-byte what it was. `export_raw` writes the files back out, so a round trip is exact.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from cxm.config import CompanyConfig, load_config
from cxm.errors import ImportIssue, ImportRejected
from cxm.logs import timed
from cxm.warehouse import cells, space, store
from cxm.warehouse._checks import (
    ROW,
    Found,
    any_broken,
    check_rules,
    parse_table,
    rule_columns,
)
from cxm.warehouse._crosschecks import Input as _Input
from cxm.warehouse._crosschecks import checking, cross_checks, file_columns
from cxm.warehouse._files import (
    ParquetColumns,
    Unreadable,
    discover,
    parquet_columns,
    read_csv,
    unreadable,
)
from cxm.warehouse._membership import import_warnings
from cxm.warehouse.schema import (
    TABLES,
    Column,
    RefByType,
    Table,
    columns,
    key_columns,
)

log = logging.getLogger(__name__)
INSERT_ROWS = 2_000_000


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote (or, checked only, would write): rows per table, the warehouse.

    ``warnings``: the first rows loaded that may be wrong (`cxm.errors.WARNING_CODES`: orders
    outside their seller's membership), ``warning_total`` how many there are in all.
    """

    path: Path
    rows: dict[str, int]
    written: bool = True
    warnings: tuple[ImportIssue, ...] = ()
    warning_total: int = 0

    def warning_summary(self) -> str | None:
        """Return the warnings in one sentence, or None when there are none."""
        n = self.warning_total
        if not n:
            return None
        return (
            f"{n:,} order{'s are' if n != 1 else ' is'} dated outside the seller's membership "
            "(before enrolment, or on or after the termination day); loaded, and counted in "
            "every KPI."
        )

    def warning_lines(self) -> list[str]:
        """Return the warnings for a person: a summary line, the first rows, how many more."""
        if not self.warning_total:
            return []
        n = self.warning_total
        more = "The first" if n > len(self.warnings) else "Each"
        lines = [f"Warning: {self.warning_summary()} {more}:"]
        lines += [f"  {w.line()}" for w in self.warnings]
        if n > len(self.warnings):
            lines.append(f"  ... and {n - len(self.warnings):,} more.")
        return lines


#: Tables whose parsed frame a later check reads whole: the sponsor tree, the course
#: prerequisites, and the KPI targets checked against the registry (``check``). Every other
#: table is checked against the others in DuckDB, from its file when it can be loaded as it is.
WHOLE = ("sellers", "courses", "kpi_targets")


def _read(
    file: Path, model: type[Table], cfg: CompanyConfig, today: dt.date, found: Found
) -> _Input | None:
    """Read and check one table file (its values and its rules); return it, or None when it
    could not be read (reported)."""
    if file.suffix.lower() == ".csv":
        raw = read_csv(file, model, found)
        if raw is None:
            return None
        parsed = parse_table(file.name, raw, model, cfg, today, found)
        del raw
        check_rules(file.name, parsed, model, cfg, found)
        return _Input(parsed.height, parsed, unique=_increasing(parsed, model))
    source = parquet_columns(file, model, found)
    if source is None:
        return None
    before = found.total
    as_is = source.as_declared(model)
    try:
        if as_is and not any_broken(
            source.scan(), [c for c in columns(model) if c.name in source.schema], cfg, today
        ):
            return _read_as_is(file, source, model, cfg, found)
    except (pl.exceptions.PolarsError, OSError, Unreadable) as exc:
        found.add(unreadable(file, type(exc).__name__))
        return None
    # A table with rules (two columns compared) or read whole is parsed whole; others one
    # column at a time, keeping only a one-column key and columns with a problem (the rest
    # are the file's own).
    rules = any(not isinstance(r, RefByType) for r in model.__rules__)
    whole = not as_is or rules or model.__table__ in WHOLE
    key = key_columns(model)
    try:
        parsed = parse_table(
            file.name,
            source,
            model,
            cfg,
            today,
            found,
            keep=None if whole else key[:1] if len(key) == 1 else (),
        )
        check_rules(file.name, parsed, model, cfg, found)
        unique = _increasing(parsed, model)
        if as_is and found.total == before:
            keep = parsed if model.__table__ in WHOLE else None
            return _Input(source.height, keep, file, tuple(source.schema), unique)
        full = parsed if whole else source.whole(parsed, model)
        return _Input(source.height, full, unique=unique)
    except Unreadable as exc:
        found.add(unreadable(file, str(exc)))
        return None


#: Rows of the pieces `_increasing` starts from, and the most pieces it compares (a key more
#: scattered than that is counted in DuckDB).
PIECE, PIECES = 8192, 200_000


def _read_as_is(
    file: Path, source: ParquetColumns, model: type[Table], cfg: CompanyConfig, found: Found
) -> _Input:
    """Return a Parquet file of the declared types in which no value breaks a constraint
    (`any_broken`): its values are the parsed ones, so only what the rules, the key check
    and the tables read whole (`WHOLE`) need is read into memory."""
    before = found.total
    key = key_columns(model)
    whole = model.__table__ in WHOLE
    names = (
        [c.name for c in columns(model)]
        if whole
        else list(dict.fromkeys([*(key if len(key) == 1 else []), *rule_columns(model)]))
    )
    parsed = source.frame(names)
    check_rules(file.name, parsed, model, cfg, found)
    unique = _increasing(parsed, model)
    if found.total == before:
        return _Input(source.height, parsed if whole else None, file, tuple(source.schema), unique)
    return _Input(source.height, source.whole(parsed, model), unique=unique)


def _increasing(parsed: pl.DataFrame, model: type[Table]) -> bool:
    """Return whether the table's key is one column, never empty, and cut into strictly
    increasing pieces down the file whose ranges do not overlap: then no key appears twice.

    A file exported in key order (most databases') is one increasing run; the demo's export
    is DuckDB's row groups in any order, each a range of ids. The column is cut where it
    stops increasing and every `PIECE` rows; pieces whose ranges overlap are halved until
    none do (a piece of one row that overlaps another is a key there twice: then False, and
    the key is counted in DuckDB). A few passes over the column, without counting 46M keys.
    """
    key = key_columns(model)
    if len(key) != 1 or key[0] not in parsed.columns:
        return False
    values = parsed.get_column(key[0])
    n = len(values)
    if values.null_count():
        return False
    if n < 2:
        return True
    breaks = ((values.slice(1) <= values.slice(0, n - 1)).arg_true() + 1).to_numpy()
    starts = np.union1d(breaks, np.arange(0, n, PIECE))
    while len(starts) <= PIECES:
        ends = np.append(starts[1:], n) - 1
        order = values.gather(starts).arg_sort().to_numpy()
        firsts, lasts = values.gather(starts[order]), values.gather(ends[order])
        clash = (firsts.slice(1) <= lasts.slice(0, len(lasts) - 1)).to_numpy()
        if not clash.any():
            return True
        at = np.flatnonzero(clash)
        pieces = order[np.union1d(at, at + 1)]  # both pieces of each overlapping pair
        long = pieces[ends[pieces] > starts[pieces]]
        if not len(long):
            return False
        starts = np.union1d(starts, (starts[long] + ends[long] + 1) // 2)
    return False


def import_dir(
    directory: str | Path,
    *,
    path: str | Path | None = None,
    config: CompanyConfig | None = None,
    today: dt.date | None = None,
    derive: Callable[[duckdb.DuckDBPyConnection, CompanyConfig, dt.date | None], None]
    | None = None,
    check: Callable[[str, str, pl.DataFrame, CompanyConfig, str], list[ImportIssue]] | None = None,
    check_only: bool = False,
    source: str | None = None,
    on_step: Callable[[str], None] | None = None,
) -> ImportResult:
    """Validate the table files in ``directory`` and load them, or change nothing.

    Before reading a file it checks the disk has room for the load (`space.check_import`).
    The checks run in stages: each file's own (bytes, header, values, rows), then across
    tables (keys, references, the sponsor tree, course prerequisites, KPI targets). A later
    stage runs wherever its input is usable, so a refusal lists the problems of every stage
    it could check; what had to wait (references to a file that could not be read, the
    sponsor tree of sellers with a doubled id) is said in `ImportRejected.waiting`. An import
    of every table (`schema.TABLES`) starts a new file (keeping the load history); fewer copy
    the live one.

    ``check_only``: validate everything a load checks before writing, then stop (nothing is
    written; ``written`` is False in the result). ``source`` names the files in the load
    history and in messages (default: the folder's path). ``on_step(text)`` hears each step
    as it starts (reading a file, the cross-table checks, writing), for a progress display.

    Tables in the folder replace the warehouse's tables of the same name; other tables are
    kept. Every reference must resolve in the result. ``check(table, file, frame, config,
    row_column)`` adds rules from later layers (``cxm.pipeline`` checks KPI targets against the
    registry) once the file's own checks pass. ``derive`` (``cxm.pipeline`` passes the
    seller facts and the KPI target check) runs on the new file before the swap; when it raises
    `ImportRejected`, nothing is written either.

    Raises
    ------
    ImportRejected
        With every problem found (capped per kind, with the total); the warehouse is untouched.
    WarehouseFailure
        `WarehouseBusy` while another load runs, `DiskFull` (before reading, or while
        writing), `WarehouseCorrupt` when a partial import meets a damaged warehouse, ...;
        the warehouse is untouched.
    """
    directory = Path(directory)
    cfg = config or load_config()
    today = today or dt.date.today()
    target = store.warehouse_path(path)
    # Validation and the write under one lock: another load between them could change the
    # tables these files were checked against (references nobody checked would slip in).
    with store.writer_lock(target):
        return _import_locked(
            directory,
            target,
            cfg,
            today,
            derive,
            check,
            check_only,
            source=source or str(directory.resolve()),
            label=source or f"{directory.name or directory}/",
            shown=source,  # an upload's folder is named by the upload, never by its path
            step=on_step or (lambda text: None),
        )


def _import_locked(
    directory, target, cfg, today, derive, check, check_only, *, source, label, shown, step
) -> ImportResult:
    found = Found()
    files = discover(directory, found, shown=shown)
    if not check_only:
        space.check_import(target, [(p.name, p.stat().st_size) for p in files.values()])
    inputs: dict[str, _Input] = {}
    clean: set[str] = set()  # tables whose file had no problem of its own
    names = {t: p.name for t, p in files.items()}
    for table, file in files.items():
        step(f"Reading and checking {file.name}")
        before = found.total
        with timed(log, "import_stage", stage="read_checked", table=table) as stage:
            read = _read(file, TABLES[table], cfg, today, found)
            stage["rows"] = None if read is None else read.rows
        if read is not None:
            inputs[table] = read
            if found.total == before:
                clean.add(table)
    # Only a table this import keeps is read from the warehouse (references to and from it).
    warehouse = target.exists() and space.copies_current(names)
    with checking(target, warehouse, inputs) as con:
        waiting = cross_checks(con, warehouse, names, inputs, clean, cfg, check, found, step)
        if found:
            raise ImportRejected(label, found.issues, found.total, waiting=waiting)
        with timed(log, "import_stage", stage="warnings"):
            warned, warning_total = import_warnings(con, names, set(inputs), warehouse)

    rows = {t: inp.rows for t, inp in inputs.items()}
    if check_only:
        return ImportResult(
            path=target, rows=rows, written=False, warnings=warned, warning_total=warning_total
        )

    def fill(con: duckdb.DuckDBPyConnection) -> None:
        for table in list(inputs):
            inp = inputs.pop(table)  # written tables leave memory as the next one goes in
            with timed(log, "table_written", table=table, rows=inp.rows):
                con.execute(f"DELETE FROM {table}")
                if inp.file is not None:  # checked as it is: DuckDB reads it itself
                    cols = ", ".join(file_columns(TABLES[table], inp.present))
                    con.execute(
                        f"INSERT INTO {table} SELECT {cols} FROM read_parquet(?)", [str(inp.file)]
                    )
                    continue
                df = inp.frame
                # In slices: handing DuckDB 45M orders at once cost ~5 GB more than 2M at a time.
                for start in range(0, df.height, INSERT_ROWS):
                    con.register("src", df.slice(start, INSERT_ROWS).drop(ROW))
                    con.execute(f"INSERT INTO {table} SELECT * FROM src")
                    con.unregister("src")
            del inp

    step(f"Writing {', '.join(rows)} into a new warehouse and deriving what the pages read")
    store.rebuild(
        target,
        fill,
        kind="import",
        source=source,
        tables=list(rows),
        start_from_current=space.copies_current(rows),
        derive=None if derive is None else lambda con, as_of: derive(con, cfg, as_of),
        locked=True,
        keep_history=True,
    )
    return ImportResult(path=target, rows=rows, warnings=warned, warning_total=warning_total)


def export_raw(
    directory: str | Path, *, path: str | Path | None = None, fmt: str = "parquet"
) -> dict[str, Path]:
    """Write every warehouse table to ``directory`` as ``<table>.parquet`` or ``.csv``.

    CSV lists are written ``a;b;c`` and timestamps ``YYYY-MM-DD HH:MM:SS.ffffff``, the forms
    `import_dir` reads, and text cells quoted and safe to open (`cells`: ``=x`` is written
    ``'=x``, which `import_dir` reads back as ``=x``), so export then import round-trips
    exactly. Parquet holds every value as it is.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    with store.open_readonly(path) as con:
        for table, model in TABLES.items():
            file = directory / f"{table}.{fmt}"
            if fmt == "csv":
                cols = ", ".join(_csv_column(c) for c in columns(model))
                # Names from the schema only; the pattern is a bound parameter.
                rel = con.sql(f"SELECT {cols} FROM {table}", params=cells.SQL_PARAMS)
                rel.write_csv(str(file), header=True, quoting="all")
            else:
                names = ", ".join(c.name for c in columns(model))
                con.sql(f"SELECT {names} FROM {table}").write_parquet(str(file))
            out[table] = file
    return out


def _csv_column(c: Column) -> str:
    """The SELECT item writing column ``c`` to CSV as `import_dir` reads it."""
    if c.kind == "datetime":
        return f"strftime({c.name}, '%Y-%m-%d %H:%M:%S.%f') AS {c.name}"
    if c.kind == "list":
        joined = f"array_to_string({c.name}, ';')"
        return f"{cells.sql_safe(joined)} AS {c.name}"
    if c.kind == "str":
        return f"{cells.sql_safe(c.name)} AS {c.name}"
    return c.name
