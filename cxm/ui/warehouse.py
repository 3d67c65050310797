"""The app's one read-only warehouse connection, renewed when a rebuild swaps the file.

DuckDB keeps serving the old file to an open connection after ``os.replace``; the holder
watches the file's inode and mtime and opens a fresh connection when they change. Readers take
the user's company per call (`company`): a cursor whose every table is that user's, the
warehouse itself for a user who sees every market, else the scope's own database attached
beside it (`cxm.warehouse.scoped`; docs/architecture.md).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import streamlit as st

from cxm.access import Scope
from cxm.pipeline import prepare_scope
from cxm.warehouse import failures, scoped, store
from cxm.warehouse.scoped import Scoped

#: How long a replaced warehouse stays open for page runs that started before the swap.
RETIRE_AFTER_SECONDS = 300


class _Holder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: tuple | None = None
        self.con: duckdb.DuckDBPyConnection | None = None
        self.retired: list[tuple[float, duckdb.DuckDBPyConnection]] = []
        #: The catalogs attached to ``con``: "wh", and one per scope read since the load.
        self.catalogs: set[str] = set()


@st.cache_resource
def _holder() -> _Holder:
    return _Holder()


def company(scope: Scope) -> Scoped:
    """Return the company as ``scope`` sees it, on a cursor of its own.

    The first reader of a scope after a load builds its database (`prepare`); pages call
    `prepare` first, under a spinner.

    Raises
    ------
    WarehouseMissing
        When no warehouse has been built or imported yet.
    WarehouseCorrupt, WarehouseUnreadable
        When the file is damaged or cannot be read; the message says how to recover.
    """
    return Scoped(con=_cursor(scope), scope=scope)


def prepare(scope: Scope) -> None:
    """Build ``scope``'s database for the current load if it is missing (seconds per market
    at demo size; nothing for a user who sees every market)."""
    if scope.markets is not None:
        generation_key()  # WarehouseMissing before anything is built
        prepare_scope(scope)


def cursor() -> duckdb.DuckDBPyConnection:
    """Return a cursor on the whole warehouse, for what is not a user's company: the load
    history, and the admins' pages (reconnecting after a rebuild).

    Raises
    ------
    WarehouseMissing
        When no warehouse has been built or imported yet.
    """
    return _cursor(Scope.everywhere())


def _cursor(scope: Scope) -> duckdb.DuckDBPyConnection:
    # Built outside the lock: a scope's first build takes seconds, other users read on.
    file = None if scope.markets is None else prepare_scope(scope)
    path, *generation = generation_key()
    key = (path, tuple(generation))
    if file is not None and not file.name.endswith(".{}-{}.duckdb".format(*generation)):
        file = prepare_scope(scope)  # a load swapped in while it was built
    holder = _holder()
    with holder.lock:
        if holder.key != key:
            con = duckdb.connect(":memory:")
            with failures.named(Path(key[0]), writing=False):  # a damaged file, by name
                con.execute("ATTACH ? AS wh (READ_ONLY)", [key[0]])
            if holder.con is not None:
                # Closing a connection closes its cursors, so a page still reading the old file
                # would fail: retire it now, close it once every run that could hold one is over.
                holder.retired.append((time.monotonic(), holder.con))
            holder.con, holder.key, holder.catalogs = con, key, {"wh"}
        while holder.retired and time.monotonic() - holder.retired[0][0] > RETIRE_AFTER_SECONDS:
            holder.retired.pop(0)[1].close()  # the replaced file's disk space comes back
        name = scoped.catalog(scope)
        if name not in holder.catalogs:
            scoped.attach(holder.con, scope, file)
            holder.catalogs.add(name)
        cur = holder.con.cursor()
    cur.execute(f"USE {name}")  # the default catalog is per connection, so per cursor
    return cur


def generation_key() -> tuple:
    """Return (path, inode, mtime) of the warehouse file: a cache key that changes on a load.

    Raises
    ------
    WarehouseMissing
        When no warehouse has been built or imported yet.
    """
    path = store.warehouse_path()
    try:
        return (str(path.resolve()), *store.generation(path))
    except FileNotFoundError as exc:
        raise store.missing(path) from exc
