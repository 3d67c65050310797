"""Free disk space beside the warehouse, checked before a load writes anything.

A load writes a whole new warehouse file beside the live one and swaps it in; an import that
replaces only some tables first copies the live file (the app holds it open, so no load
writes into it), and an upload is unpacked beside the warehouse while it is checked. What a
load needs is estimated from those parts, with a margin, and compared with the free space;
too little raises `DiskFull` saying the estimate, before any byte is written.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath

from cxm.warehouse.failures import DiskFull
from cxm.warehouse.schema import TABLES

#: Spare room on top of the estimate: DuckDB's write-ahead log and spills are not estimated.
MARGIN = 1.25
#: A warehouse's size before any row: the tiny company's (a few dozen rows) is 5.5 MB, its
#: DuckDB blocks and the derived tables'.
BASE_BYTES = 8_000_000
#: Warehouse bytes per byte of table file. Measured on the demo company at 20,000 sellers:
#: 118.0 MB of CSV or 27.4 MB of Parquet make a 45.6 MB warehouse (0.39 and 1.67 per byte).
PER_BYTE = {".csv": 0.5, ".parquet": 2.0}
#: Demo warehouse bytes per seller and year of history: 2,000 sellers over 5 years made
#: 10.0 MB, 20,000 made 45.6 MB: (45.6 - 10.0) MB / (18,000 x 5) = 396 bytes.
DEMO_PER_SELLER_YEAR = 500


def human_bytes(n: float) -> str:
    """Return a byte count as a person reads it, in powers of 1,000.

    >>> human_bytes(999), human_bytes(5_517_312), human_bytes(2.5e9)
    ('999 bytes', '5.5 MB', '2.5 GB')
    """
    if n < 1000:
        return f"{int(n)} bytes"
    for unit in ("kB", "MB", "GB", "TB"):
        n /= 1000
        if n < 1000 or unit == "TB":
            break
    return f"{n:.1f} {unit}"


def copies_current(tables: Iterable[str]) -> bool:
    """Return whether a load of ``tables`` starts from a copy of the live warehouse: it does
    unless it replaces every table of `TABLES` (then the new file starts empty)."""
    return not set(TABLES) <= set(tables)


def estimate_import(files: Sequence[tuple[str, int]]) -> int:
    """Return the bytes a new warehouse takes for table files of these (name, size)."""
    return BASE_BYTES + int(
        sum(size * PER_BYTE.get(PurePath(name).suffix.lower(), 1.0) for name, size in files)
    )


def check_import(target: Path, files: Sequence[tuple[str, int]], *, staged: int = 0) -> None:
    """Raise `DiskFull` unless the warehouse's disk has room to import ``files``.

    ``files`` are (name, size in bytes); ``staged`` is what an upload unpacks beside the
    warehouse before the import reads it (already on disk when the import itself checks).
    """
    size = sum(s for _, s in files)
    parts = [(estimate_import(files), f"the new warehouse file, from {human_bytes(size)} of files")]
    if staged:
        parts.insert(0, (staged, "the uploaded files, unpacked beside it while checked"))
    if target.exists() and copies_current(PurePath(n).stem for n, _ in files):
        parts.append(
            (
                target.stat().st_size,
                "a copy of the current warehouse, which an import of only some tables "
                "writes first and swaps in",
            )
        )
    ensure(target, parts, "this import")


def check_demo(target: Path, sellers: int, years: int) -> None:
    """Raise `DiskFull` unless the warehouse's disk has room for a demo company this size."""
    need = BASE_BYTES + DEMO_PER_SELLER_YEAR * sellers * years
    ensure(target, [(need, f"the demo company at {sellers:,} sellers")], "this demo build")


def ensure(target: Path, parts: Sequence[tuple[int, str]], what: str) -> None:
    """Raise `DiskFull` unless the parts (bytes, what for) fit beside ``target`` with the margin.

    The message gives the estimate and the free space in human sizes, and no path.
    """
    need = sum(n for n, _ in parts) * MARGIN
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # a load makes the folder; the disk is its nearest parent's
    free = shutil.disk_usage(folder).free
    if free >= need:
        return
    listed = "; ".join(f"{human_bytes(n)} for {words}" for n, words in parts)
    raise DiskFull(
        f"Not enough free disk space for {what}: it needs about {human_bytes(need)} beside the "
        f"warehouse ({listed}; and a quarter more to be safe), and {human_bytes(free)} is "
        "free. Nothing was written. Free some space, or move the warehouse (CXM_WAREHOUSE) to "
        "a larger disk.",
        path=folder,
    )
