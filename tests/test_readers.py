"""Every public function that reads the warehouse takes the user's company (`Scoped`), or is on
the reviewed list below with the reason it may see the whole warehouse.

A function reads the warehouse when it takes a DuckDB connection, returns one, or opens the
file itself (or through a private helper of its module that does); one that returns a
`Scoped` is what gives the user's company (`cxm.ui.warehouse.company`,
`cxm.pipeline.open_scoped`). A new reader that takes a
bare connection fails here until it takes a `Scoped` or is reviewed and listed.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import duckdb

import cxm
from cxm.warehouse.scoped import Scoped

#: Whole-warehouse readers, reviewed: none serves a scoped user's numbers.
REVIEWED: dict[str, str] = {
    # A load derives these on the company being built: the whole one, or a scope's cut.
    "cxm.metrics.cube.build": "derives the KPI cube inside a load or a scope's build",
    "cxm.segments.sql._base.store_segments": (
        "stores sellers' segments inside a load or a scope's build"
    ),
    "cxm.state.build_facts": "derives the seller facts inside a load or a scope's build",
    "cxm.state.build_state": "derives the what-if seller state inside a load or a scope's build",
    # cxm derive: the operator's, on raw Parquet files and the derived tables of a load.
    "cxm.derive.derive_dir": "the operator's cxm derive, on raw files (server or cluster)",
    "cxm.derive.load_derived": "an import taking derived tables, on the file being loaded",
    "cxm.derive.compare.read_warehouse": "the parity check of a load's derived tables (tests)",
    # Loads and their checks: the operator's or an admin's, on the files being loaded.
    "cxm.warehouse._membership.import_warnings": "an import's warnings, on the file loaded",
    "cxm.warehouse._membership.outside_membership": "an import's warnings, on the file loaded",
    "cxm.warehouse.demo.build_demo": "builds the demo company",
    "cxm.warehouse.demo.fill": "fills the demo company's tables",
    "cxm.warehouse.importer.import_dir": "an admin's import, checked against the warehouse",
    "cxm.warehouse._crosschecks.checking": "an import's checks, the warehouse attached read-only",
    "cxm.warehouse.importer.export_raw": "the operator's raw export (cxm export-raw, server only)",
    "cxm.warehouse.store.create_schema": "writes the schema of a new load",
    "cxm.warehouse.store.rebuild": "writes and swaps in a new load",
    "cxm.warehouse.store.new_file": "writes a new database file (a load, a scope's build)",
    "cxm.warehouse.failures.connect_readonly": "opens the file, naming why it cannot be read",
    "cxm.warehouse.store.tune": "sets a loading connection's memory and order",
    "cxm.warehouse.store.latest_event_on": "a load's as-of date, on the file being loaded",
    # What the warehouse holds, not what it says: the load log and counts.
    "cxm.warehouse.store.last_load": "the newest load's kind and time (no market in it)",
    "cxm.warehouse.store.load_history": "the load log: admins' Data page, file stamps",
    "cxm.warehouse.store.table_counts": "row counts per table: admins' Data page, cxm status",
    "cxm.warehouse.store.scalar": "runs one query on the connection it is given",
    "cxm.warehouse.store.table_columns": "a table's column names, on the connection given",
    "cxm.warehouse.store.open_readonly": "opens the file for the above and for the loads",
    "cxm.cli.data.status": "cxm status: the operator's view of the whole warehouse",
    "cxm.cli.data.demo": "cxm demo: builds the demo company",
    "cxm.ui.warehouse.cursor": "the load log on every page, the admins' Data page",
    "cxm.ui.data_admin.cursor_or_import": "the admins' Data page, or its import when damaged",
    # The scope's own machinery: it builds and opens a user's company from the warehouse.
    "cxm.warehouse.scoped.attach": "attaches a scope's database beside the warehouse",
    "cxm.warehouse.scoped.build": "cuts the company to a scope and derives it",
}

_OPENS = ("duckdb.connect(", "open_readonly(", "warehouse.cursor(")


def _functions():
    """Yield (qualified name, function, module) for every function of cxm's modules."""
    for info in pkgutil.walk_packages(cxm.__path__, "cxm."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isfunction(obj) and obj.__module__ == module.__name__:
                yield f"{module.__name__}.{name}", obj, module
            elif inspect.isclass(obj) and obj.__module__ == module.__name__:
                for attr, f in vars(obj).items():
                    f = f.__func__ if isinstance(f, (classmethod, staticmethod)) else f
                    if inspect.isfunction(f):
                        yield f"{module.__name__}.{name}.{attr}", f, module


def _source(f) -> str:
    try:
        return inspect.getsource(f)
    except (OSError, TypeError):
        return ""


def _reads(f, private_openers: set[str]) -> bool:
    sig = inspect.signature(f)
    annotations = [str(p.annotation) for p in sig.parameters.values()]
    if any("Scoped" in a for a in [*annotations, str(sig.return_annotation)]):
        return False  # takes the user's company, or is what gives it
    takes = any("DuckDBPyConnection" in a for a in annotations)
    gives = "DuckDBPyConnection" in str(sig.return_annotation)
    src = _source(f)
    opens = any(s in src for s in _OPENS) or any(
        re.search(rf"\b{re.escape(p)}\(", src) for p in private_openers
    )
    return takes or gives or opens


def whole_warehouse_readers() -> set[str]:
    """Return the public functions that read the warehouse without taking a `Scoped`."""
    found = list(_functions())
    private_openers = {
        q.rsplit(".", 1)[-1]
        for q, f, _ in found
        if q.rsplit(".", 1)[-1].startswith("_") and any(s in _source(f) for s in _OPENS)
    }
    return {
        q
        for q, f, _ in found
        if not q.rsplit(".", 1)[-1].startswith("_") and _reads(f, private_openers)
    }


def test_every_warehouse_reader_takes_the_users_company_or_is_reviewed():
    found = whole_warehouse_readers()
    unreviewed = sorted(found - set(REVIEWED))
    assert not unreviewed, (
        "These read the warehouse without taking a Scoped (the user's company): take one, "
        f"or review and list them with the reason: {unreviewed}"
    )
    assert not sorted(set(REVIEWED) - found), "listed but no longer a whole-warehouse reader"


def test_the_check_catches_a_reader_that_takes_a_bare_connection():
    # What the test above would say of compute before issue 20: a connection and a scope.
    def compute(con: duckdb.DuckDBPyConnection, kpi_ids, *, where, scope, cfg):
        return con.sql("SELECT 1")

    def scoped_compute(company: Scoped, kpi_ids, *, where, cfg):
        return company.con.sql("SELECT 1")

    assert _reads(compute, set())
    assert not _reads(scoped_compute, set())
