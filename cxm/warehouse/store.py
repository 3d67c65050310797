"""The warehouse file: where it lives, how it is rebuilt atomically, how readers open it.

A build or an import never writes into the live file. It writes a temporary file beside it
(a fresh one, or a copy of the live one), closes it, and swaps it in with ``os.replace``, so a
reader sees the old warehouse or the new one, never half of either. Readers open read-only and
compare the file's inode (`generation`) to notice a swap (docs/architecture.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from cxm.errors import WarehouseBusy, WarehouseMissing
from cxm.logs import timed
from cxm.settings import default, settings
from cxm.warehouse import failures
from cxm.warehouse.schema import TABLES, ddl

log = logging.getLogger(__name__)
DEFAULT_PATH: Path = default("CXM_WAREHOUSE")

#: The system table that records every build and import; not one of the company tables.
LOADS_DDL = """CREATE TABLE IF NOT EXISTS cxm_loads (
    loaded_at TIMESTAMP NOT NULL,
    kind VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    tables VARCHAR[] NOT NULL,
    data_as_of DATE
);"""


def warehouse_path(path: str | Path | None = None) -> Path:
    """Return the warehouse file path: ``path``, else ``$CXM_WAREHOUSE``, else data/cxm.duckdb."""
    return Path(path or settings().warehouse)


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the company tables (`TABLES`) and the load log in an empty database."""
    for model in TABLES.values():
        con.execute(ddl(model))
    con.execute(LOADS_DDL)


def tune(con: duckdb.DuckDBPyConnection) -> None:
    # Loads append whole tables; row order inside a table carries no meaning we rely on.
    con.execute("SET preserve_insertion_order = false")
    # DuckDB's own default is 80% of the machine: CXM_DUCKDB_MEMORY_LIMIT caps it.
    con.execute("SET memory_limit = ?", [settings().duckdb_memory_limit])
    con.execute("SET enable_progress_bar = false")


def rebuild(
    path: str | Path,
    fill: Callable[[duckdb.DuckDBPyConnection], None],
    *,
    kind: str,
    source: str,
    tables: list[str],
    data_as_of: dt.date | None = None,
    start_from_current: bool = False,
    derive: Callable[[duckdb.DuckDBPyConnection, dt.date | None], None] | None = None,
    locked: bool = False,
    keep_history: bool = False,
) -> Path:
    """Write a new warehouse with ``fill`` and swap it in atomically; return its path.

    ``locked``: the caller already holds `writer_lock` (an import validates under it, so
    what it checked against is what it writes onto).

    ``start_from_current`` copies the live warehouse first (an import that replaces some
    tables keeps the others); otherwise the new file starts empty with the full schema.
    ``derive(con, data_as_of)`` then runs on the filled file (the seller facts, checks that
    need them), so what is derived is swapped in together with the data it comes from. When
    ``fill`` or ``derive`` raises, the temporary file is removed and the live warehouse is
    untouched. ``keep_history``: a new file that does not start from the live one still takes
    over its load history (`load_history`), when the live one can be read. The load and its
    fill are logged with their durations and rows (`cxm.logs`: ``load``,
    ``load_stage stage=fill``).

    Raises
    ------
    WarehouseFailure
        A `DiskFull`, `FolderMissing`, `WarehouseNotWritable` or `WarehouseCorrupt` (a partial
        import's copy of a damaged file) when the disk or the file fails the write; the
        warehouse is then untouched.
    """
    path = Path(path)
    lock = contextlib.nullcontext() if locked else writer_lock(path)  # it makes the folder
    with lock, timed(log, "load", kind=kind, tables=tables), failures.named(path, writing=True):
        return _rebuild(
            path,
            fill,
            kind=kind,
            source=source,
            tables=tables,
            data_as_of=data_as_of,
            start_from_current=start_from_current,
            derive=derive,
            keep_history=keep_history,
        )


@contextlib.contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """Hold the warehouse's writer lock, or raise `WarehouseBusy` if another load holds it.

    Two loads at once would each copy the old file and the second swap would silently drop
    the first one's tables.
    """
    with failures.named(Path(path), writing=True):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        lock = open(f"{path}.lock", "a+")  # noqa: SIM115 (closed below, after the yield)
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WarehouseBusy(
                "Another build or import is writing the warehouse right now; nothing was "
                "changed. Run this again when it has finished.",
                path=path,
            ) from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def new_file(target: Path, *, copy_of: Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a connection to a new database file that replaces ``target`` when the block ends.

    The file is written beside ``target`` (a copy of ``copy_of`` when given, else empty), then
    checkpointed and renamed over it: a reader sees the old file or the new one, never half
    of one. When the block raises, the new file is removed and ``target`` is untouched.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if copy_of is not None:
            shutil.copyfile(copy_of, tmp)
            # The new file keeps the live one's permissions (mkstemp made it owner-only, which
            # locked out an app reading it as another user after a partial import).
            shutil.copymode(copy_of, tmp)
        else:
            tmp.unlink()
        con = duckdb.connect(str(tmp))
        try:
            tune(con)
            yield con
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
        raise


def _rebuild(
    path: Path, fill, *, kind, source, tables, data_as_of, start_from_current, derive, keep_history
) -> Path:
    copy = start_from_current and path.exists()
    with new_file(path, copy_of=path if copy else None) as con:
        if not copy:
            create_schema(con)
            if keep_history and path.exists():
                _take_history(con, path)
        # No transaction: the swap is what makes the load atomic, and a transaction around
        # 45M inserted orders held ~5 GB more in memory until it committed.
        with timed(log, "load_stage", stage="fill") as stage:
            fill(con)
            stage["rows"] = sum(table_counts(con)[t] for t in tables)
        as_of = data_as_of or latest_event_on(con)
        if derive is not None:
            derive(con, as_of)
        con.execute(
            "INSERT INTO cxm_loads VALUES (?, ?, ?, ?, ?)",
            [dt.datetime.now().replace(microsecond=0), kind, source, tables, as_of],
        )
    return path


def _take_history(con: duckdb.DuckDBPyConnection, old: Path) -> None:
    """Copy the load history of the warehouse at ``old`` into ``con``'s, when it reads."""
    try:
        con.execute("ATTACH ? AS old (READ_ONLY)", [str(old)])
    except duckdb.Error:
        return  # a damaged file is being replaced: its history is lost with it
    try:
        con.execute("INSERT INTO cxm_loads SELECT * FROM old.cxm_loads")
    except duckdb.Error:
        pass  # the same: history is a record, not a reason to refuse the replacement
    finally:
        con.execute("DETACH old")


#: The dated events of a company; the newest of them is the data's as-of date.
_EVENT_DATES = (
    ("orders", "ordered_at"),
    ("activities", "occurred_at"),
    ("survey_responses", "answered_on"),
    ("tickets", "opened_at"),
    ("sellers", "enrolled_on"),
    ("customers", "acquired_on"),
)


def latest_event_on(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """Return the date of the newest order, activity, answer, ticket or enrollment, or None."""
    parts = " UNION ALL ".join(f"SELECT max({c})::DATE AS d FROM {t}" for t, c in _EVENT_DATES)
    return scalar(con, f"SELECT max(d) FROM ({parts})")


def generation(path: str | Path) -> tuple[int, int]:
    """Return (inode, mtime_ns) of the warehouse file: it changes whenever a rebuild swaps in."""
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns


def missing(path: Path) -> WarehouseMissing:
    """Return the error for a warehouse file that does not exist, saying how to make one."""
    return failures.missing(path)


@contextlib.contextmanager
def open_readonly(path: str | Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a read-only connection to the warehouse, closed on exit.

    Raises
    ------
    WarehouseMissing
        When no warehouse file exists yet; the message says how to make one.
    WarehouseCorrupt, WarehouseUnreadable
        When the file is damaged or cannot be read; the message says how to recover.
    """
    con = failures.connect_readonly(warehouse_path(path))
    try:
        yield con
    finally:
        con.close()


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None):
    """Return the single value of a one-row, one-column query.

    Fetches the whole result: DuckDB 2.0 refuses further work on a connection whose last
    ``execute`` result was not read to the end.
    """
    return con.execute(sql, params or []).fetchall()[0][0]


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """Return the names of ``table``'s columns, none if there is no such table: what a reader
    checks of a derived table an older cxm's load may have written without a newer column.

    ``table`` is a name from cxm's own declarations, never a user's text.
    """
    try:
        return {c[0] for c in con.execute(f"DESCRIBE {table}").fetchall()}
    except duckdb.CatalogException:
        return set()


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Return the row count of each company table (`TABLES`), in load order."""
    # Table names come from the schema declaration, never from a user.
    return {t: scalar(con, f"SELECT count(*) FROM {t}") for t in TABLES}


def load_history(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[dict[str, object]]:
    """Return the newest ``limit`` load records, newest first."""
    rows = con.execute(
        "SELECT loaded_at, kind, source, tables, data_as_of FROM cxm_loads "
        "ORDER BY loaded_at DESC LIMIT ?",
        [limit],
    ).fetchall()
    return [
        dict(zip(("loaded_at", "kind", "source", "tables", "data_as_of"), r, strict=True))
        for r in rows
    ]


def last_load(con: duckdb.DuckDBPyConnection) -> dict[str, object] | None:
    """Return the newest load record (kind, source, loaded_at, data_as_of), or None."""
    rows = con.execute(
        "SELECT loaded_at, kind, source, data_as_of FROM cxm_loads ORDER BY loaded_at DESC LIMIT 1"
    ).fetchall()
    if not rows:
        return None
    return dict(zip(("loaded_at", "kind", "source", "data_as_of"), rows[0], strict=True))
