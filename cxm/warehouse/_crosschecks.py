"""The import's checks across tables, in DuckDB: keys that appear twice, references that
point at no row (in the files or in the warehouse tables they keep), then the sponsor tree, the
course prerequisites and the KPI targets' registry check; and the tables each file is read
into (`Input`) and the connection they are checked on (`checking`).

`cxm.warehouse.importer` reads the files and loads them; this module only reports problems.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from cxm.errors import ImportIssue
from cxm.logs import timed
from cxm.settings import settings
from cxm.warehouse import failures, store
from cxm.warehouse._checks import (
    PER_CHECK,
    ROW,
    Found,
)
from cxm.warehouse._trees import check_prerequisites, check_sponsor_tree
from cxm.warehouse.schema import (
    TABLES,
    OneValuePerKey,
    RefByType,
    Table,
    columns,
    key_columns,
)

#: The importer's logger: the checks' ``import_stage`` events are the import's.
log = logging.getLogger("cxm.warehouse.importer")


@dataclass
class Input:
    """One table file, read and checked on its own.

    ``file``: a Parquet file whose values are the parsed ones (every column of the declared
    type, no problem found), which the checks across tables and the load then read with
    DuckDB as it is; ``present`` its columns (one it may omit and did is loaded empty).
    ``frame``: the parsed table (ROW and every column), kept when there is no such file and
    for the tables in `importer.WHOLE`; None otherwise, so no large table waits in memory.
    ``unique``: its key is known to appear once per row (`importer._increasing`).
    """

    rows: int
    frame: pl.DataFrame | None
    file: Path | None = None
    present: tuple[str, ...] = ()
    unique: bool = False


def new_relation(table: str) -> str:
    """The name the checks across tables give the imported ``table`` (with its ROW)."""
    return f"new_{table}"


def file_columns(model: type[Table], present: tuple[str, ...]) -> list[str]:
    """SELECT items of ``model``'s columns from a file with the ``present`` ones (others
    empty); names and types from the schema declaration, never from a user."""
    return [
        c.name if c.name in present else f"CAST(NULL AS {c.duckdb_type}) AS {c.name}"
        for c in columns(model)
    ]


@contextlib.contextmanager
def checking(
    target: Path, warehouse: bool, inputs: dict[str, Input]
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
                con.register(new_relation(table), inp.frame)
            else:
                items = [
                    f"file_row_number + 1 AS {ROW}",
                    *file_columns(TABLES[table], inp.present),
                ]
                con.read_parquet(str(inp.file), file_row_number=True).project(
                    ", ".join(items)
                ).create_view(new_relation(table))
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
    con: duckdb.DuckDBPyConnection, names: dict[str, str], inputs: dict[str, Input], found: Found
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
        dupes = _duplicated(con, new_relation(table), key, required, split)
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


def _keys(table: str, inputs: dict[str, Input], warehouse: bool) -> tuple[str, str]:
    """Return a query of the key values ``k`` of ``table`` after the import, and their origin."""
    (key,) = key_columns(TABLES[table])
    if table in inputs:
        return f"SELECT {key} AS k FROM {new_relation(table)}", f"{table} in this import"
    if warehouse:
        return f"SELECT {key} AS k FROM live.{table}", f"{table} in the warehouse"
    return "SELECT NULL::VARCHAR AS k WHERE FALSE", (
        f"{table} (neither imported nor in the warehouse)"
    )


def _check_references(
    con: duckdb.DuckDBPyConnection,
    warehouse: bool,
    names: dict[str, str],
    inputs: dict[str, Input],
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
                relation = new_relation(table)
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


def cross_checks(con, warehouse, names, inputs, clean, cfg, check, found, step) -> list[str]:
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
