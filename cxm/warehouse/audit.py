"""The audit trail: who took what out of cxm, when, cut to which scope.

Kept in its own SQLite file beside the warehouse (``cxm.duckdb`` -> ``cxm.audit.sqlite``), not
inside it: every load replaces the warehouse file whole, and the app holds the warehouse open
read-only, while the trail must survive every load and take appends from any page at any time
(SQLite's write-ahead log lets several processes append safely). ``$CXM_AUDIT`` overrides the
path. Values are bound parameters; nothing here is assembled from user text.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

from cxm.errors import CxmError, WarehouseFailure
from cxm.settings import settings
from cxm.warehouse._sqlite import open_private
from cxm.warehouse.failures import title_of
from cxm.warehouse.store import warehouse_path

_DDL = """
CREATE TABLE IF NOT EXISTS audit (
    at TEXT NOT NULL,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    what TEXT NOT NULL,
    filters TEXT NOT NULL,
    scope TEXT NOT NULL,
    rows INTEGER,
    sha256 TEXT
)"""
COLUMNS = ("at", "username", "role", "action", "what", "filters", "scope", "rows", "sha256")
_INSERT = f"INSERT INTO audit ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


@dataclass(frozen=True)
class Entry:
    """One audited event (an export, a board pack, ...)."""

    username: str
    role: str
    action: str
    what: str
    filters: str
    scope: str
    rows: int | None = None
    sha256: str | None = None
    at: dt.datetime | None = None


def audit_path(warehouse: str | Path | None = None) -> Path:
    """Return the audit file: ``$CXM_AUDIT``, else the warehouse's name with ``.audit.sqlite``."""
    return settings().audit or warehouse_path(warehouse).with_suffix(".audit.sqlite")


def _connect(path: Path) -> sqlite3.Connection:
    return open_private(path, _DDL)


def record(entry: Entry, *, path: str | Path | None = None) -> None:
    """Append ``entry`` to the trail (its time is now unless given)."""
    row = asdict(entry)
    row["at"] = (entry.at or dt.datetime.now()).replace(microsecond=0).isoformat(sep=" ")
    target = Path(path) if path else audit_path()
    con = _connect(target)
    try:
        with con:
            # Column names are this module's constants; every value is a bound parameter.
            con.execute(_INSERT, [row[c] for c in COLUMNS])
    finally:
        con.close()
    target.chmod(0o600)  # who exported what is for admins only


def record_failed_load(
    username: str,
    role: str,
    scope: str,
    label: str,
    failure: CxmError,
    *,
    path: str | Path | None = None,
) -> bool:
    """Append "import failed" for a load that ``failure`` stopped, by its title and code (a
    `WarehouseFailure`; another error by its class); return whether the trail took it.

    Never raises: the failure is what the user must see, and on a full disk the trail may not
    take the line either (then it is logged, with why).
    """
    code = failure.code if isinstance(failure, WarehouseFailure) else "no code"
    what = f"{label}: {title_of(failure)} [{code}]"
    entry = Entry(username, role, "import failed", what, filters="", scope=scope)
    try:
        record(entry, path=path)
    except (sqlite3.Error, OSError):
        logging.getLogger("cxm").exception("could not audit a failed load: %s", what)
        return False
    return True


def entries(
    *,
    path: str | Path | None = None,
    limit: int = 1_000,
    actions: Sequence[str] = (),
    usernames: Sequence[str] = (),
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> pl.DataFrame:
    """Return the newest ``limit`` entries, newest first (an empty frame when none yet).

    ``actions`` and ``usernames`` keep only those (empty: all); ``since`` and ``until`` keep
    the days between them, both included. Every value is a bound parameter.
    """
    target = Path(path) if path else audit_path()
    schema = {c: pl.String for c in COLUMNS} | {"rows": pl.Int64}
    if not target.exists():
        return pl.DataFrame(schema=schema)
    where, params = ["1 = 1"], []
    for column, values in (("action", actions), ("username", usernames)):
        if values:
            where.append(f"{column} IN ({', '.join('?' * len(values))})")
            params += list(values)
    if since is not None:
        where.append("at >= ?")
        params.append(since.isoformat())
    if until is not None:
        where.append("at < ?")
        params.append((until + dt.timedelta(days=1)).isoformat())
    con = _connect(target)
    try:
        rows = con.execute(
            f"SELECT {', '.join(COLUMNS)} FROM audit WHERE {' AND '.join(where)} "
            "ORDER BY at DESC, rowid DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
    finally:
        con.close()
    return pl.DataFrame(rows, schema=schema, orient="row")


def distinct(column: str, *, path: str | Path | None = None) -> list[str]:
    """Return the distinct values of ``column`` ("action" or "username"), sorted, for filters."""
    if column not in ("action", "username"):
        raise ValueError(f"{column!r} is not a filterable audit column")
    target = Path(path) if path else audit_path()
    if not target.exists():
        return []
    con = _connect(target)
    try:
        return [r[0] for r in con.execute(f"SELECT DISTINCT {column} FROM audit ORDER BY 1")]
    finally:
        con.close()
