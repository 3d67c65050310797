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
from cxm.warehouse import cells, store
from cxm.warehouse._checks import PER_CHECK, ROW, Found, check_rules, parse_table
from cxm.warehouse._files import discover, read_csv, read_parquet
from cxm.warehouse._membership import import_warnings
from cxm.warehouse.schema import TABLES, Column, RefByType, Table, columns, key_columns

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


def _check_keys(names: dict[str, str], frames: dict[str, pl.DataFrame], found: Found) -> None:
    for table, df in frames.items():
        model = TABLES[table]
        key = key_columns(model)
        if not key:
            continue
        required = [c.name for c in columns(model) if c.key and not c.nullable]
        dupes = _duplicated(df, key).filter(
            pl.all_horizontal(pl.col(k).is_not_null() for k in required)
        )
        groups = dupes.group_by(key, maintain_order=True).agg(pl.col(ROW).sort())
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
) -> None:
    """Report values that point at no row: in imported tables, and in kept tables that point
    at a replaced one."""
    key_sets: dict[str, tuple[pl.Series, str]] = {}  # each target's keys, read once

    def keys_of(table: str) -> tuple[pl.Series, str]:
        if table not in key_sets:
            keys, origin = _keys(table, frames, con)
            key_sets[table] = keys.implode(), origin
        return key_sets[table]

    for table, model in TABLES.items():
        for column, type_column, targets in _references(model):
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


def _check_sponsor_tree(names: dict[str, str], sellers: pl.DataFrame, found: Found) -> None:
    """Report sellers who are their own upline: the sponsor chain comes back to them."""
    ids = sellers.get_column("seller_id")
    index = pl.DataFrame({"sponsor_id": ids, "parent": np.arange(len(ids))})
    parent = (
        sellers.select("sponsor_id")
        .join(index, on="sponsor_id", how="left", maintain_order="left")
        .get_column("parent")
    )
    parent = parent.fill_null(-1).to_numpy().astype(np.int64)
    anc = parent.copy()
    for _ in range(int(np.ceil(np.log2(max(len(anc), 2)))) + 1):
        anc = np.where(anc >= 0, anc[np.maximum(anc, 0)], -1)
    # After 2^k >= n steps, a seller still below someone leads into a loop, and the ancestor
    # reached lies on that loop; walking from those few nodes lists each loop once.
    on_loops = np.unique(anc[anc >= 0])
    reported: set[int] = set()
    loops = []
    for start in on_loops:
        if int(start) in reported:
            continue
        cycle, node = [], int(start)
        while node not in reported:
            reported.add(node)
            cycle.append(node)
            node = int(parent[node])
        loops.append(cycle)
    found.add_unlisted(len(loops) - PER_CHECK)
    for cycle in loops[:PER_CHECK]:
        first = min(cycle)
        at = cycle.index(first)
        chain = _chain([ids[i] for i in cycle[at:] + cycle[:at]])
        found.add(
            ImportIssue(
                file=names["sellers"],
                row=int(sellers.get_column(ROW)[first]),
                column="sponsor_id",
                value=ids[int(parent[first])],
                code="sponsor_cycle",
                message=f"makes a loop in the upline ({chain}); "
                "every sponsor chain must end at a seller with no sponsor",
            )
        )


#: A loop longer than this is shown by its first and last members and its length.
CHAIN_SHOWN = 6


def _chain(members: list[str]) -> str:
    """Return a loop as "A -> B -> ... -> A", cut in the middle when long (a 200,000-seller
    loop once made a 2.4 MB message)."""
    if len(members) > CHAIN_SHOWN:
        half = CHAIN_SHOWN // 2
        skipped = len(members) - 2 * half
        members = [*members[:half], f"... {skipped:,} more ...", *members[-half:]]
    return " -> ".join(members) + f" -> {members[0]}"


def _check_prerequisites(names: dict[str, str], courses: pl.DataFrame, found: Found) -> None:
    """Report courses that require themselves, directly or through other courses."""
    ids = courses.get_column("course_id").to_list()
    needs = dict(zip(ids, courses.get_column("prerequisites").to_list(), strict=True))
    rows = dict(zip(ids, courses.get_column(ROW).to_list(), strict=True))
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    loops: list[list[str]] = []

    def visit(course: str, path: list[str]) -> None:
        state[course] = 1
        path.append(course)
        for nxt in needs.get(course) or ():
            if state.get(nxt) == 1:
                loops.append(path[path.index(nxt) :])
            elif nxt in needs and state.get(nxt) is None:
                visit(nxt, path)
        path.pop()
        state[course] = 2

    for course in sorted(ids):
        if state.get(course) is None:
            visit(course, [])
    found.add_unlisted(len(loops) - PER_CHECK)
    for loop in loops[:PER_CHECK]:
        first = min(loop)
        at = loop.index(first)
        ordered = loop[at:] + loop[:at]
        found.add(
            ImportIssue(
                file=names["courses"],
                row=int(rows[first]),
                column="prerequisites",
                value=";".join(needs[first]),
                code="prerequisite_cycle",
                message=f"makes a loop in the prerequisites ({_chain(ordered)}); a course "
                "cannot require itself, directly or through other courses",
            )
        )


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
            step=on_step or (lambda text: None),
        )


def _import_locked(
    directory, target, cfg, today, derive, check, check_only, *, source, label, step
) -> ImportResult:
    found = Found()
    files = discover(directory, found)
    frames: dict[str, pl.DataFrame] = {}
    names = {t: p.name for t, p in files.items()}
    for table, file in files.items():
        step(f"Reading and checking {file.name}")
        model = TABLES[table]
        reader = read_csv if file.suffix.lower() == ".csv" else read_parquet
        raw = reader(file, model, found)
        if raw is not None:
            parsed = parse_table(file.name, raw, model, cfg, today, found)
            check_rules(file.name, parsed, model, cfg, found)
            frames[table] = parsed
    if not found:
        step("Checking keys, references, the sponsor tree and course prerequisites")
        con = duckdb.connect(str(target), read_only=True) if target.exists() else None
        try:
            _check_keys(names, frames, found)
            _check_references(names, frames, con, found)
        finally:
            if con is not None:
                con.close()
        if "sellers" in frames and not found:
            _check_sponsor_tree(names, frames["sellers"], found)
        if "courses" in frames and not found:
            _check_prerequisites(names, frames["courses"], found)
        if check is not None and not found:
            for table, frame in frames.items():
                for issue in check(table, names[table], frame, cfg, ROW):
                    found.add(issue)
    if found:
        raise ImportRejected(label, found.issues, found.total)

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
        start_from_current=True,
        derive=None if derive is None else lambda con, as_of: derive(con, cfg, as_of),
        locked=True,
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
