"""The app's one read-only warehouse connection, renewed when a rebuild swaps the file.

DuckDB keeps serving the old file to an open connection after ``os.replace``; the holder
watches the file's inode and mtime and opens a fresh connection when they change. Callers take
a ``cursor()`` per call (DESIGN.md section 10).
"""

from __future__ import annotations

import threading

import duckdb
import streamlit as st

from cxm.errors import WarehouseMissing
from cxm.warehouse import store


class _Holder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: tuple | None = None
        self.con: duckdb.DuckDBPyConnection | None = None


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
    path = store.warehouse_path()
    try:
        key = (str(path.resolve()), store.generation(path))
    except FileNotFoundError as exc:
        raise WarehouseMissing(
            f"No warehouse at {path}. Build the demo company with `cxm demo` or load your "
            "data with `cxm import DIR`."
        ) from exc
    holder = _holder()
    with holder.lock:
        if holder.key != key:
            con = duckdb.connect(":memory:")
            con.execute("ATTACH ? AS wh (READ_ONLY)", [key[0]])
            if holder.con is not None:
                # Cursors still running on the old file keep it open until they finish; after
                # that the replaced file's space is given back.
                holder.con.close()
            holder.con, holder.key = con, key
        cur = holder.con.cursor()
    cur.execute("USE wh")  # the default catalog is per connection, so per cursor
    return cur
