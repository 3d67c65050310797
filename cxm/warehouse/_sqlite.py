"""The small SQLite files kept beside the warehouse: the audit trail, scenarios, experiments."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def open_private(path: Path, ddl: str) -> sqlite3.Connection:
    """Open ``path`` for reading and writing, its tables made if missing (``ddl``, one or more
    statements), in WAL mode so readers never wait for a writer.

    The file is created readable by the server's user only, before SQLite opens it: it holds
    who did what, or a company's unpublished plans.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    con = sqlite3.connect(path, timeout=10)
    con.execute("PRAGMA journal_mode=WAL")
    con.executescript(ddl)
    return con
