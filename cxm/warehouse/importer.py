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
from cxm.warehouse import cells, failures, space, store
from cxm.warehouse._checks import PER_CHECK, ROW, Found, check_rules, parse_table
from cxm.warehouse._files import discover, read_csv, read_parquet
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


def _keys(
    table: str, frames: dict[str, pl.DataFrame], con: duckdb.DuckDBPyConnection | None
) -> tuple[pl.Series, str]:
    """Return the key values of ``table`` after the import, and where they come from."""
    (key,) = key_columns(TABLES[table])
    if table in frames:
        return frames[table].get_column(key), f"{table} in this import"
    if con is not None:
        return con.sql(f"SELECT {key} FROM {table}").pl().get_column(
            key
        ), f"{table} in the warehouse"
    return pl.Series(key, [], dtype=pl.String), f"{table} (neither imported nor in the warehouse)"


def _duplicated(df: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """Return the rows of ``df`` whose ``key`` appears more than once.

    Hashes the key to 64 bits and sorts the hashes with numpy first (a few seconds and a few
    hundred MB at 50M orders, where hashing the strings in a group-by took several GB); only
    rows whose hash repeats are compared exactly.
    """
    hashed = pl.struct(key).hash() if len(key) > 1 else pl.col(key[0]).hash()
    hashes = df.select(hashed).to_series().to_numpy()
    ordered = np.sort(hashes)
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    if len(repeated) == 0:
        return df.clear()
    candidates = df.filter(pl.Series(np.isin(hashes, repeated)))
    return candidates.filter(pl.struct(key).is_duplicated())


def _check_keys(names: dict[str, str], frames: dict[str, pl.DataFrame], found: Found) -> set[str]:
    """Report keys that appear more than once; return the tables that have one."""
    doubled = set()
    for table, df in frames.items():
        model = TABLES[table]
        key = key_columns(model)
        if not key:
            continue
        required = [c.name for c in columns(model) if c.key and not c.nullable]
        dupes = _duplicated(df, key).filter(
            pl.all_horizontal(pl.col(k).is_not_null() for k in required)
        )
        for rule in model.__rules__:  # rows that differ there are that rule's problem
            if isinstance(rule, OneValuePerKey):
                dupes = dupes.filter(pl.col(rule.column).n_unique().over(key) == 1)
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


def _check_references(
    names: dict[str, str],
    frames: dict[str, pl.DataFrame],
    con: duckdb.DuckDBPyConnection | None,
    found: Found,
    skip: set[str] = frozenset(),
) -> None:
    """Report values that point at no row: in imported tables, and in kept tables that point
    at a replaced one. References to or from the tables in ``skip`` are not checked."""
    key_sets: dict[str, tuple[pl.Series, str]] = {}  # each target's keys, read once

    def keys_of(table: str) -> tuple[pl.Series, str]:
        if table not in key_sets:
            keys, origin = _keys(table, frames, con)
            key_sets[table] = keys.implode(), origin
        return key_sets[table]

    for table, model in TABLES.items():
        if table in skip:
            continue
        for column, type_column, targets in _references(model):
            targets = [(v, t) for v, t in targets if t not in skip]
            if not targets:
                continue
            if table in frames:
                df = frames[table]
            elif con is not None and any(t in frames for _, t in targets):
                needed = [column] + ([type_column] if type_column else [])
                # Names come from the schema declaration, never from a user.
                df = con.sql(f"SELECT {', '.join(needed)} FROM {table}").pl()
                df = df.with_row_index(ROW, offset=1)
            else:
                continue
            where = names.get(table, f"{table} (in the warehouse)")
            if df.schema[column] == pl.List(pl.String):
                df = df.select(ROW, pl.col(column)).explode(column)
            for type_value, ref_table in targets:
                rows = df if type_value is None else df.filter(pl.col(type_column) == type_value)
                keys, origin = keys_of(ref_table)
                bad = rows.filter(pl.col(column).is_not_null() & ~pl.col(column).is_in(keys))
                found.add_rows(
                    where, bad, column, column, "dangling_reference", f"is not in {origin}"
                )


def _cross_checks(target, names, frames, clean, cfg, check, found, step) -> list[str]:
    """Check the tables against each other wherever their input is usable; return what waits.

    Keys run on every table read. References run unless their target's file could not be
    read (its keys are unknown: the warehouse's old ones would mislead). The sponsor tree and
    the prerequisites wait on their table's doubled ids; the KPI targets' registry check on
    the file's own problems.
    """
    unread = [t for t in names if t not in frames]
    waiting = [
        f"{names[t]} could not be read, so its keys and the references to and from it are "
        "checked once it can be" + (" (and the sponsor tree)" if t == "sellers" else "") + "."
        for t in unread
    ]
    step("Checking keys, references, the sponsor tree and course prerequisites")
    doubled = _check_keys(names, frames, found)
    # Only a table this import keeps is read from the warehouse (references to and from it).
    needs_warehouse = target.exists() and space.copies_current(names)
    con = failures.connect_readonly(target) if needs_warehouse else None
    try:
        _check_references(names, frames, con, found, skip=set(unread))
    finally:
        if con is not None:
            con.close()
    for table, checker, what in (
        ("sellers", check_sponsor_tree, "The sponsor tree"),
        ("courses", check_prerequisites, "The course prerequisites"),
    ):
        if table in frames and table in doubled:
            waiting.append(f"{what} is checked once {names[table]} has no doubled id.")
        elif table in frames:
            checker(names, frames[table], found)
    if check is not None:
        for table, frame in frames.items():
            if table not in clean:
                continue
            for issue in check(table, names[table], frame, cfg, ROW):
                found.add(issue)
        if "kpi_targets" in frames and "kpi_targets" not in clean:
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
    frames: dict[str, pl.DataFrame] = {}
    clean: set[str] = set()  # tables whose file had no problem of its own
    names = {t: p.name for t, p in files.items()}
    for table, file in files.items():
        step(f"Reading and checking {file.name}")
        model = TABLES[table]
        reader = read_csv if file.suffix.lower() == ".csv" else read_parquet
        before = found.total
        raw = reader(file, model, found)
        if raw is not None:
            parsed = parse_table(file.name, raw, model, cfg, today, found)
            check_rules(file.name, parsed, model, cfg, found)
            frames[table] = parsed
            if found.total == before:
                clean.add(table)
    waiting = _cross_checks(target, names, frames, clean, cfg, check, found, step)
    if found:
        raise ImportRejected(label, found.issues, found.total, waiting=waiting)

    rows = {t: df.height for t, df in frames.items()}
    warned, warning_total = import_warnings(names, frames, target)
    if check_only:
        return ImportResult(
            path=target, rows=rows, written=False, warnings=warned, warning_total=warning_total
        )

    def fill(con: duckdb.DuckDBPyConnection) -> None:
        for table in list(frames):
            df = frames.pop(table)  # written tables leave memory as the next one goes in
            with timed(log, "table_written", table=table, rows=df.height):
                con.execute(f"DELETE FROM {table}")
                # In slices: handing DuckDB 45M orders at once cost ~5 GB more than 2M at a time.
                for start in range(0, df.height, INSERT_ROWS):
                    con.register("src", df.slice(start, INSERT_ROWS).drop(ROW))
                    con.execute(f"INSERT INTO {table} SELECT * FROM src")
                    con.unregister("src")
            del df

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
