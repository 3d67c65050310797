"""Loading data end to end: the warehouse tables, then everything derived from them.

`build_demo` and `import_dir` are what the command line and the app call. They run the
warehouse load with the seller facts (`cxm.state`), predicted customer value
(`cxm.metrics.value`), the what-if seller state (`cxm.state.seller_state`) and the monthly
KPI cube (`cxm.metrics.cube`) derived inside the same atomic swap, and an import's KPI
targets checked against the registry, so the dashboard never sees data without its facts,
nor targets for KPIs that do not exist.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import polars as pl

from cxm import derive
from cxm.access import Scope
from cxm.config import CompanyConfig, load_config
from cxm.errors import ImportIssue
from cxm.experiments import store as experiments
from cxm.logs import timed
from cxm.metrics import cube, targets
from cxm.metrics.compute import DataRange
from cxm.segments.sql import store_segments
from cxm.settings import settings
from cxm.state.engine import Duck
from cxm.warehouse import demo, importer, scoped, store
from cxm.warehouse.demo._experiments import EXPERIMENTS as DEMO_EXPERIMENTS
from cxm.warehouse.scoped import Scoped

log = logging.getLogger(__name__)


def _derive(con: duckdb.DuckDBPyConnection, cfg: CompanyConfig, as_of: dt.date | None) -> None:
    # CXM_FACTS_MEMORY_LIMIT (3GB: a 1,000,000-seller import peaks under 4 GiB).
    con.execute("SET memory_limit = ?", [settings().facts_memory_limit])
    derive.run(Duck(con), cfg, as_of, lambda data: _query_side(con, cfg, data))


def _query_side(con: duckdb.DuckDBPyConnection, cfg: CompanyConfig, data: DataRange) -> int:
    # What the query side keeps per load, after the facts: every seller's segment as of the
    # data's date (read by every default view), then the KPI cube; returns the cube's rows.
    with timed(log, "load_stage", stage="segments") as stage:
        stage["rows"] = store_segments(con, cfg, data.as_of)
    return cube.build(con, cfg, data)


def _taken(folder: str | Path):
    def take(con: duckdb.DuckDBPyConnection, cfg: CompanyConfig, as_of: dt.date | None) -> None:
        with timed(log, "load_stage", stage="derived_taken") as stage:
            stage["rows"] = sum(derive.load_derived(con, folder, as_of).values())
        if as_of is not None:  # the query side's own table, not one `cxm derive` writes
            with timed(log, "load_stage", stage="segments") as stage:
                stage["rows"] = store_segments(con, cfg, as_of)

    return take


def prepare_scope(
    scope: Scope, *, path: str | Path | None = None, config: CompanyConfig | None = None
) -> Path | None:
    """Return the database of ``scope``'s company (None for every market), built if missing.

    The company cut to the scope's markets, with everything a load derives derived again
    from the cut (`cxm.warehouse.scoped`). The first reader after a load pays for it.
    """
    if scope.markets is None:
        return None
    cfg = config or load_config()
    return scoped.build(
        store.warehouse_path(path), scope, lambda con, as_of: _derive(con, cfg, as_of)
    )


def prepare_users_scopes(*, path: str | Path | None = None) -> list[Scope]:
    """Build the database of every scope a user in the credentials file has (after a load,
    so the first scoped view does not wait for it); return the scopes built or found."""
    from cxm.access import credentials_path, load_users

    if not credentials_path().exists():
        return []
    scopes = {u.scope for u in load_users().values() if u.scope.markets is not None}
    for scope in sorted(scopes, key=lambda s: s.markets or ()):
        with timed(log, "scope_prepared", scope=scoped.key(scope)):
            prepare_scope(scope, path=path)
    return sorted(scopes, key=lambda s: s.markets or ())


@contextlib.contextmanager
def open_scoped(
    scope: Scope, *, path: str | Path | None = None, config: CompanyConfig | None = None
) -> Iterator[Scoped]:
    """Yield the company as a user with ``scope`` sees it, read-only (the CLI, tests).

    Raises
    ------
    WarehouseMissing
        When no warehouse file exists yet.
    """
    cfg = config or load_config()
    with scoped.opened(
        store.warehouse_path(path), scope, lambda con, as_of: _derive(con, cfg, as_of)
    ) as data:
        yield data


def _check(
    table: str, file: str, frame: pl.DataFrame, cfg: CompanyConfig, row_column: str
) -> list[ImportIssue]:
    if table == "kpi_targets":
        return targets.check(file, frame, cfg, row_column)
    return []


def build_demo(
    spec: demo.DemoSpec, path: str | Path | None = None, progress: demo.Progress | None = None
) -> Path:
    """Build the demo company and its seller facts into the warehouse; return its path.

    The demo's two experiments are defined beside it (their arms are in the warehouse's
    ``experiment_assignments``), so `cxm experiment list` and the page show them."""
    out = demo.build_demo(spec, path, progress, derive=_derive)
    experiments.register(DEMO_EXPERIMENTS, path=experiments.experiments_path(out))
    return out


def import_dir(
    directory: str | Path,
    *,
    path: str | Path | None = None,
    config: CompanyConfig | None = None,
    today: dt.date | None = None,
    check_only: bool = False,
    source: str | None = None,
    on_step: Callable[[str], None] | None = None,
    derived: str | Path | None = None,
) -> importer.ImportResult:
    """Validate and load the table files in ``directory`` with their facts, all or nothing.

    ``source`` and ``on_step`` are `cxm.warehouse.importer.import_dir`'s. The result's
    ``warnings`` and ``warning_total`` are the import's summary of what loaded but may be
    wrong (orders outside their seller's membership), for the command line and the Data page.
    ``derived``: a folder `cxm derive` wrote (on Spark, say) whose tables the load takes
    instead of deriving its own (`cxm.derive.load_derived`: refused unless of the same as-of
    date and as declared).

    Raises
    ------
    ImportRejected
        With every problem found, KPI targets included; the warehouse is untouched.
    """
    return importer.import_dir(
        directory,
        path=path,
        config=config,
        today=today,
        derive=_derive if derived is None else _taken(derived),
        check=_check,
        check_only=check_only,
        source=source,
        on_step=on_step,
    )
