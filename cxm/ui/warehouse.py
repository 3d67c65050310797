"""The app's one read-only warehouse connection, renewed when a rebuild swaps the file.

DuckDB keeps serving the old file to an open connection after ``os.replace``; the holder
watches the file's inode and mtime and opens a fresh connection when they change. Callers take
a ``cursor()`` per call (docs/architecture.md).
"""

from __future__ import annotations

import threading
import time

import duckdb
import streamlit as st

from cxm.warehouse import store

#: How long a replaced warehouse stays open for page runs that started before the swap.
RETIRE_AFTER_SECONDS = 300


class _Holder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: tuple | None = None
        self.con: duckdb.DuckDBPyConnection | None = None
        self.retired: list[tuple[float, duckdb.DuckDBPyConnection]] = []


@st.cache_resource
def _holder() -> _Holder:
    return _Holder()


def cursor() -> duckdb.DuckDBPyConnection:
    """Return a cursor on the current warehouse (reconnecting after a rebuild).

    Raises
    ------
    WarehouseMissing
        When no warehouse has been built or imported yet.
    """
    path, *generation = generation_key()
    key = (path, tuple(generation))
    holder = _holder()
    with holder.lock:
        if holder.key != key:
            con = duckdb.connect(":memory:")
            con.execute("ATTACH ? AS wh (READ_ONLY)", [key[0]])
            if holder.con is not None:
                # Closing a connection closes its cursors, so a page still reading the old file
                # would fail: retire it now, close it once every run that could hold one is over.
                holder.retired.append((time.monotonic(), holder.con))
            holder.con, holder.key = con, key
        while holder.retired and time.monotonic() - holder.retired[0][0] > RETIRE_AFTER_SECONDS:
            holder.retired.pop(0)[1].close()  # the replaced file's disk space comes back
        cur = holder.con.cursor()
    cur.execute("USE wh")  # the default catalog is per connection, so per cursor
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
