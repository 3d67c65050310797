"""Load a company's own CSV or Parquet files into the warehouse, all-or-nothing.

`import_dir` reads every file named after a table (``orders.csv``, ``sellers.parquet``),
checks everything (files, columns, types, configured enums, dates, amounts, keys, references,
the sponsor tree) and only when nothing is wrong swaps in a warehouse where those tables are
replaced. On any problem it raises `ImportRejected` listing them all, and the warehouse file
is byte-for-byte what it was. `export_raw` writes the files back out, so a round trip is exact.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from cxm.config import CompanyConfig, load_config
from cxm.errors import ImportIssue, ImportRejected
from cxm.logs import timed
from cxm.settings import settings
from cxm.warehouse import cells, failures, space, store
from cxm.warehouse._checks import (
    PER_CHECK,
    ROW,
    Found,
    any_broken,
    check_rules,
    parse_table,
    rule_columns,
)
from cxm.warehouse._files import (
    ParquetColumns,
    Unreadable,
    discover,
    parquet_columns,
    read_csv,
    unreadable,
)
from cxm.warehouse._membership import import_warnings
from cxm.warehouse._trees import check_prerequisites, check_sponsor_tree
from cxm.warehouse.schema import (
    TABLES,
    Column,
    OneValuePerKey,
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


@dataclass
class _Input:
    """One table file, read and checked on its own.

    ``file``: a Parquet file whose values are the parsed ones (every column of the declared
    type, no problem found), which the checks across tables and the load then read with
    DuckDB as it is; ``present`` its columns (one it may omit and did is loaded empty).
    ``frame``: the parsed table (ROW and every column), kept when there is no such file and
    for the tables in `WHOLE`; None otherwise, so no large table waits in memory.
    ``unique``: its key is known to appear once per row (`_increasing`).
    """

    rows: int
    frame: pl.DataFrame | None
    file: Path | None = None
    present: tuple[str, ...] = ()
    unique: bool = False


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


def _relation(table: str) -> str:
    """The name the checks across tables give the imported ``table`` (with its ROW)."""
    return f"new_{table}"


def _file_columns(model: type[Table], present: tuple[str, ...]) -> list[str]:
    """SELECT items of ``model``'s columns from a file with the ``present`` ones (others
    empty); names and types from the schema declaration, never from a user."""
    return [
        c.name if c.name in present else f"CAST(NULL AS {c.duckdb_type}) AS {c.name}"
        for c in columns(model)
    ]


@contextlib.contextmanager
def _checking(
    target: Path, warehouse: bool, inputs: dict[str, _Input]
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a DuckDB connection where each imported table is ``new_<table>`` with ROW, and
    with ``warehouse`` the live warehouse's tables as ``live.<table>`` (attached read-only).

    A file loaded as it is is a view of the file (nothing of it in Python's memory), a
    parsed frame is registered as it is; DuckDB spills past CXM_DUCKDB_MEMORY_LIMIT.
    """
    con = duckdb.connect()
    try:
        con.execute("SET memory_limit = ?", [settings().duckdb_memory_limit])
        con.execute("SET temp_directory = ?", [f"{target}.tmp"])
        con.execute("SET enable_progress_bar = false")  # the CLI prints its own steps
        if warehouse:
            with failures.named(target, writing=False):
                con.execute("ATTACH ? AS live (READ_ONLY)", [str(target)])
        for table, inp in inputs.items():
            if inp.file is None:
                con.register(_relation(table), inp.frame)
            else:
                items = [
                    f"file_row_number + 1 AS {ROW}",
                    *_file_columns(TABLES[table], inp.present),
                ]
                con.read_parquet(str(inp.file), file_row_number=True).project(
                    ", ".join(items)
                ).create_view(_relation(table))
        yield con
    finally:
        con.close()


def _duplicated(
    con: duckdb.DuckDBPyConnection, relation: str, key: list[str], required: list[str], extra
) -> pl.DataFrame:
    """Return ROW, ``key`` and ``extra`` of the rows of ``relation`` whose ``key`` appears more
    than once (``required`` key columns not empty), in row order.

    DuckDB counts 64-bit hashes of the key first (fixed-width groups: a few seconds at 46M
    orders, spilled past the memory limit); only rows whose hash repeats reach Python, where
    they are compared exactly.
    """
    where = " AND ".join(f"{k} IS NOT NULL" for k in required) or "TRUE"
    hashed = f"hash({', '.join(key)})"
    # Names from the schema declaration, never from a user.
    repeated = (
        f"SELECT h FROM (SELECT {hashed} AS h FROM {relation} WHERE {where}) "
        "GROUP BY h HAVING count(*) > 1"
    )
    if not store.scalar(con, f"SELECT count(*) FROM ({repeated})"):
        return pl.DataFrame()
    cols = ", ".join(dict.fromkeys([ROW, *key, *extra]))
    candidates = con.sql(
        f"SELECT {cols} FROM {relation} WHERE {where} AND {hashed} IN ({repeated}) ORDER BY {ROW}"
    ).pl()
    return candidates.filter(pl.struct(key).is_duplicated())


def _check_keys(
    con: duckdb.DuckDBPyConnection, names: dict[str, str], inputs: dict[str, _Input], found: Found
) -> set[str]:
    """Report keys that appear more than once; return the tables that have one."""
    doubled = set()
    for table in inputs:
        model = TABLES[table]
        key = key_columns(model)
        if not key or inputs[table].unique:
            continue
        required = [c.name for c in columns(model) if c.key and not c.nullable]
        split = [r.column for r in model.__rules__ if isinstance(r, OneValuePerKey)]
        dupes = _duplicated(con, _relation(table), key, required, split)
        if not dupes.height:
            continue
        for column in split:  # rows that differ there are that rule's problem
            dupes = dupes.filter(pl.col(column).n_unique().over(key) == 1)
        groups = dupes.group_by(key, maintain_order=True).agg(pl.col(ROW).sort())
        if groups.height:
            doubled.add(table)
        found.add_unlisted(groups.height - PER_CHECK)
        for rec in groups.head(PER_CHECK).iter_rows(named=True):
            rows = rec[ROW]
            found.add(
                ImportIssue(
                    file=names[table],
                    row=rows[0],
                    column=", ".join(key),
                    value=" / ".join(str(rec[k]) for k in key),
                    code="duplicate_key",
                    message=f"appears {len(rows)} times (rows {', '.join(map(str, rows[:5]))}"
                    f"{', ...' if len(rows) > 5 else ''}); each must be unique",
                )
            )
    return doubled


def _references(model: type[Table]) -> list[tuple[str, str | None, list[tuple[str | None, str]]]]:
    """Return (column, type column or None, [(type value or None, target table)]) per reference.

    A plain `Ref` column points at one table whatever the row; a `RefByType` column points at
    the table its row's type names (a customer id at customers, a seller id at sellers).
    """
    refs = [(c.name, None, [(None, c.ref)]) for c in columns(model) if c.ref]
    refs += [
        (r.id_column, r.type_column, list(r.tables))
        for r in model.__rules__
        if isinstance(r, RefByType)
    ]
    return refs


def _keys(table: str, inputs: dict[str, _Input], warehouse: bool) -> tuple[str, str]:
    """Return a query of the key values ``k`` of ``table`` after the import, and their origin."""
    (key,) = key_columns(TABLES[table])
    if table in inputs:
        return f"SELECT {key} AS k FROM {_relation(table)}", f"{table} in this import"
    if warehouse:
        return f"SELECT {key} AS k FROM live.{table}", f"{table} in the warehouse"
    return "SELECT NULL::VARCHAR AS k WHERE FALSE", (
        f"{table} (neither imported nor in the warehouse)"
    )


def _check_references(
    con: duckdb.DuckDBPyConnection,
    warehouse: bool,
    names: dict[str, str],
    inputs: dict[str, _Input],
    found: Found,
    skip: set[str] = frozenset(),
) -> None:
    """Report values that point at no row: in imported tables, and in kept tables that point
    at a replaced one. References to or from the tables in ``skip`` are not checked.

    Each is one anti-join in DuckDB, which sends back the count and the first rows."""
    for table, model in TABLES.items():
        if table in skip:
            continue
        for column, type_column, targets in _references(model):
            targets = [(v, t) for v, t in targets if t not in skip]
            if not targets:
                continue
            if table in inputs:
                relation = _relation(table)
            elif warehouse and any(t in inputs for _, t in targets):
                relation = f"(SELECT *, row_number() OVER () AS {ROW} FROM live.{table})"
            else:
                continue
            where = names.get(table, f"{table} (in the warehouse)")
            listed = next(c for c in columns(model) if c.name == column).kind == "list"
            for type_value, ref_table in targets:
                keys, origin = _keys(ref_table, inputs, warehouse)
                # Names from the schema declaration; the type value is a parameter.
                if listed:
                    values = (
                        f"SELECT {ROW}, unnest({column}) AS v, "
                        f"unnest(range(len({column}))) AS i FROM {relation}"
                    )
                else:
                    values = f"SELECT {ROW}, {column} AS v, 0 AS i FROM {relation}"
                    if type_value is not None:
                        values += f" WHERE {type_column} = $type"
                bad = con.sql(
                    f"SELECT s.{ROW}, s.v AS {column}, count(*) OVER () AS n "
                    f"FROM ({values}) s ANTI JOIN ({keys}) t ON s.v = t.k "
                    f"WHERE s.v IS NOT NULL ORDER BY s.{ROW}, s.i LIMIT {PER_CHECK}",
                    params=None if type_value is None else {"type": type_value},
                ).pl()
                total = bad.get_column("n")[0] if bad.height else 0
                found.add_first(
                    where, bad, total, column, column, "dangling_reference", f"is not in {origin}"
                )


def _cross_checks(con, warehouse, names, inputs, clean, cfg, check, found, step) -> list[str]:
    """Check the tables against each other wherever their input is usable; return what waits.

    Keys run on every table read. References run unless their target's file could not be
    read (its keys are unknown: the warehouse's old ones would mislead). The sponsor tree and
    the prerequisites wait on their table's doubled ids; the KPI targets' registry check on
    the file's own problems.
    """
    unread = [t for t in names if t not in inputs]
    waiting = [
        f"{names[t]} could not be read, so its keys and the references to and from it are "
        "checked once it can be" + (" (and the sponsor tree)" if t == "sellers" else "") + "."
        for t in unread
    ]
    step("Checking keys, references, the sponsor tree and course prerequisites")
    with timed(log, "import_stage", stage="keys"):
        doubled = _check_keys(con, names, inputs, found)
    with timed(log, "import_stage", stage="references"):
        _check_references(con, warehouse, names, inputs, found, skip=set(unread))
    for table, checker, what in (
        ("sellers", check_sponsor_tree, "The sponsor tree"),
        ("courses", check_prerequisites, "The course prerequisites"),
    ):
        if table in inputs and table in doubled:
            waiting.append(f"{what} is checked once {names[table]} has no doubled id.")
        elif table in inputs:
            checker(names, inputs[table].frame, found)
    if check is not None:
        for table, inp in inputs.items():
            if table not in clean or inp.frame is None:
                continue
            for issue in check(table, names[table], inp.frame, cfg, ROW):
                found.add(issue)
        if "kpi_targets" in inputs and "kpi_targets" not in clean:
            waiting.append(
                f"{names['kpi_targets']}'s KPI ids and segments are checked against the "
                "registry once its own problems are fixed."
            )
    return waiting


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
    with _checking(target, warehouse, inputs) as con:
        waiting = _cross_checks(con, warehouse, names, inputs, clean, cfg, check, found, step)
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
                    cols = ", ".join(_file_columns(TABLES[table], inp.present))
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
