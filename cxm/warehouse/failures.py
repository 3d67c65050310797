"""The warehouse's file, folder and disk failures, named: one `WarehouseFailure` per cause.

DuckDB, SQLite and the operating system report a damaged file, a full disk or a missing folder
as exceptions whose text holds a server path and the cause. `explain` turns the causes cxm
knows into a `cxm.errors.WarehouseFailure` kind declared here (its class docstring is its rule
in docs/errors.md) that says the fix and shows no path; `named` does that around a block, and
`connect_readonly` is how the warehouse is opened for reading. An exception of another cause
passes through unchanged (a bug should not read as a full disk).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import duckdb

from cxm.errors import CxmError, WarehouseBusy, WarehouseFailure, WarehouseMissing


class WarehouseCorrupt(WarehouseFailure):
    """The warehouse file is damaged (overwritten, truncated, a failed disk): restore it from a
    backup, or replace it by importing every table or building the demo company."""

    code, exit_code, title = "warehouse_corrupt", 65, "The warehouse file is damaged"


class WarehouseUnreadable(WarehouseFailure):
    """The warehouse file cannot be read (no permission, a folder in its place, written by a
    newer DuckDB): give the app's user read access, or point ``CXM_WAREHOUSE`` at the file."""

    code, exit_code, title = "warehouse_unreadable", 77, "The warehouse file cannot be read"


class FolderMissing(WarehouseFailure):
    """The warehouse's folder does not exist and cannot be made (an unmounted disk, a file in
    its place): create the folder, or point ``CXM_WAREHOUSE`` at one that exists."""

    code, exit_code, title = "folder_missing", 72, "The warehouse's folder is missing"


class WarehouseNotWritable(WarehouseFailure):
    """A load cannot write beside the warehouse (no permission, a read-only disk): give the
    loading user write access to the warehouse's folder."""

    code, exit_code, title = "warehouse_not_writable", 73, "The warehouse cannot be written"


class DiskFull(WarehouseFailure):
    """The disk holding the warehouse has too little free space for a load, checked before it
    starts (the estimate is in the message) or found while writing: free some space, or move
    the warehouse (``CXM_WAREHOUSE``) to a larger disk. The warehouse is left as it was."""

    code, exit_code, title = "disk_full", 74, "Not enough disk space"


class ImportFailed(WarehouseFailure):
    """An upload's import stopped on an error cxm has no name for: nothing was written; the
    server's log holds the details (report it with the time of the attempt)."""

    code, exit_code, title = "import_failed", 70, "The import stopped on an unexpected error"


def title_of(exc: CxmError) -> str:
    """Return what a page or the audit trail calls ``exc``: a failure's title, else its class.

    >>> title_of(DiskFull("...")), title_of(CxmError("..."))
    ('Not enough disk space', 'CxmError')
    """
    return exc.title if isinstance(exc, WarehouseFailure) else type(exc).__name__


#: Every failure kind, in the order docs/errors.md lists them.
FAILURES: tuple[type[WarehouseFailure], ...] = (
    WarehouseMissing,
    WarehouseCorrupt,
    WarehouseUnreadable,
    FolderMissing,
    WarehouseNotWritable,
    DiskFull,
    WarehouseBusy,
    ImportFailed,
)

#: The errors the warehouse's file and disk raise (DuckDB's, SQLite's for the trail, the OS's).
RAISED = (duckdb.Error, sqlite3.Error, OSError)

_CAUSES = {
    errno.ENOSPC: "full",
    errno.EDQUOT: "full",
    errno.EACCES: "denied",
    errno.EPERM: "denied",
    errno.EROFS: "read_only",
    errno.ENOENT: "gone",
    errno.ENOTDIR: "gone",
    errno.EEXIST: "gone",  # a file where the folder should be made
    errno.EISDIR: "folder",
}
#: What DuckDB says of a file that is not (or no longer) a whole database.
_DAMAGED = (
    "not a valid DuckDB database file",
    "Could not read enough bytes",
    "Corrupt database file",
    "does not match stored checksum",
)

_FIX_SPACE = "Free some space, or move the warehouse (CXM_WAREHOUSE) to a larger disk."
_REPLACE = (
    "Restore it from a backup, or replace it: import every table (`cxm import DIR` with a "
    "file for each table of docs/schema.md, or all of them on the Data page), or build the "
    "demo company with `cxm demo`."
)


def missing(path: Path) -> WarehouseMissing:
    """Return the error for a warehouse file that does not exist, saying how to make one."""
    return WarehouseMissing(
        "No warehouse yet. Build the demo company with `cxm demo` or load your data with "
        "`cxm import DIR`.",
        path=path,
    )


def cause(exc: BaseException) -> str | None:
    """Return what went wrong in words cxm knows ("full", "damaged", ...), or None.

    >>> cause(OSError(errno.ENOSPC, "No space left on device"))
    'full'
    >>> cause(duckdb.IOException('Could not write file "/x.tmp": No space left on device'))
    'full'
    >>> cause(duckdb.BinderException("Referenced column not found")) is None
    True
    """
    if isinstance(exc, OSError) and exc.errno in _CAUSES:
        return _CAUSES[exc.errno]
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "disk is full" in text:
        return "full"
    for number, name in _CAUSES.items():
        if os.strerror(number) in text:
            return name
    if any(words in text for words in _DAMAGED):
        return "damaged"
    if "version number" in text and "database file" in text:
        return "version"
    return None


def explain(exc: BaseException, *, path: Path, writing: bool) -> WarehouseFailure | None:
    """Return the named failure behind ``exc`` (a load when ``writing``), or None."""
    why = cause(exc)
    if why == "full":
        if writing:
            return DiskFull(
                "The disk holding the warehouse ran out of space while the load was writing. "
                "Nothing was changed: the load's new file was removed and the warehouse is as "
                f"it was. {_FIX_SPACE}",
                path=path,
            )
        return DiskFull(f"The disk holding the warehouse is full. {_FIX_SPACE}", path=path)
    if why == "damaged":
        return WarehouseCorrupt(
            "The warehouse file is damaged: it is not a whole DuckDB database (overwritten, cut "
            f"short, or a failing disk). {_REPLACE}",
            path=path,
        )
    if why == "version":
        return WarehouseUnreadable(
            "The warehouse file was written by another version of DuckDB than this cxm uses. "
            "Rebuild it with this cxm: import every table, or build the demo with `cxm demo`.",
            path=path,
        )
    if why == "folder":
        return WarehouseUnreadable(
            "A folder stands where the warehouse file should be. Point CXM_WAREHOUSE at the "
            "warehouse file (cxm.duckdb), or move the folder away.",
            path=path,
        )
    if why == "read_only" or (why == "denied" and writing):
        return WarehouseNotWritable(
            "cxm may not write beside the warehouse ("
            + ("a read-only disk" if why == "read_only" else "permission denied")
            + "); nothing was changed. Give the user that runs loads write access to the "
            "warehouse's folder, or load on a writable disk (CXM_WAREHOUSE).",
            path=path,
        )
    if why == "denied":
        return WarehouseUnreadable(
            "The warehouse file cannot be read: permission denied. Give the user the app and "
            "the command line run as read access to it.",
            path=path,
        )
    if why == "gone":
        if not writing:
            return missing(path)
        return FolderMissing(
            "The warehouse's folder does not exist and cannot be made (a file in its place, an "
            "unmounted disk, or it went away during the load); nothing was changed. Create it, "
            "or point CXM_WAREHOUSE at a folder that exists.",
            path=path.parent,
        )
    return None


@contextlib.contextmanager
def named(path: Path, *, writing: bool) -> Iterator[None]:
    """Raise the named failure for what the block raised, when its cause is known."""
    try:
        yield
    except RAISED as exc:
        failure = explain(exc, path=path, writing=writing)
        if failure is None:
            raise
        raise failure from exc


def connect_readonly(path: Path) -> duckdb.DuckDBPyConnection:
    """Return a read-only connection to the warehouse file at ``path``.

    Raises
    ------
    WarehouseMissing
        When there is no file; the message says how to make one.
    WarehouseCorrupt, WarehouseUnreadable
        When the file is damaged or cannot be read; the message says how to recover.
    """
    if not path.exists():
        raise missing(path)
    with named(path, writing=False):
        return duckdb.connect(str(path), read_only=True)
