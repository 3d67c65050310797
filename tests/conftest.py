"""Shared fixtures: the tiny hand-checked company, and demo warehouses built once per run."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from cxm.access import Scope
from cxm.pipeline import build_demo, import_dir, open_scoped
from cxm.warehouse.demo import DemoSpec
from cxm.warehouse.scoped import Scoped

# No property test may fail for how busy the machine is (two test workers, another process on
# a core): no deadline per example and no "too slow to generate" check, unless a test asks.
settings.register_profile("cxm", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("cxm")

FIXTURES = Path(__file__).parent / "fixtures"
TINY = FIXTURES / "tiny_company"
#: The day the tiny company's imports are checked against (nothing may be after it).
TINY_TODAY = dt.date(2026, 3, 31)
#: The tiny company's rows per table, counted by hand in its files (rows after the header),
#: in load order (`cxm.warehouse.schema.TABLES`): a new table adds its file and its line here.
TINY_ROWS = {
    "sellers": 12,
    "customers": 10,
    "orders": 15,
    "activities": 12,
    "courses": 3,
    "course_completions": 6,
    "survey_responses": 6,
    "tickets": 3,
    "kpi_targets": 2,
    "experiment_assignments": 4,
    "marketing_spend": 12,
    "leads": 9,
}


@pytest.fixture(autouse=True)
def _cxm_log_as_it_was():
    """Undo what a test's run of app.py or the CLI's main did to the ``cxm`` log (its stderr
    handler, `cxm.logs.start`), so its lines do not reach another test's captured output."""
    logger = logging.getLogger("cxm")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


def data_elements(elements) -> list:
    """Return the metrics or tables of an AppTest run that a user sees: all but the hidden
    placeholders `cxm.ui.shell.prefetch` draws under the sign-in form (which hold no data)."""
    return [
        e
        for e in elements
        if getattr(e, "label", None) != "prefetch"
        and not (hasattr(e, "value") and list(getattr(e.value, "columns", [])) == ["prefetch"])
    ]


@contextlib.contextmanager
def company(path: Path, *markets: str) -> Iterator[Scoped]:
    """Yield the company of the warehouse at ``path`` as a user scoped to ``markets`` sees it
    (every market when none is given): what the app and `cxm report --scope` read."""
    scope = Scope(markets=markets) if markets else Scope.everywhere()
    with open_scoped(scope, path=path) as data:
        yield data


@pytest.fixture(scope="session", autouse=True)
def _components_scanned_once():
    """Scan the installed packages for Streamlit components once per run, not per AppTest.

    Each new AppTest reads the metadata of every installed package (a third of a second, in
    some 150 tests); they do not change while the tests run. Without the scanner where this
    expects it (another Streamlit), AppTest scans as it always did.
    """
    try:
        from streamlit.components.v2 import manifest_scanner
    except ImportError:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        scan = manifest_scanner.scan_component_manifests
        patch.setattr(manifest_scanner, "scan_component_manifests", functools.cache(scan))
        yield


@pytest.fixture(scope="session")
def tiny_warehouse_template(tmp_path_factory) -> Path:
    """Return a warehouse file holding exactly the tiny company, built once."""
    path = tmp_path_factory.mktemp("tiny") / "cxm.duckdb"
    import_dir(TINY, path=path, today=TINY_TODAY)
    return path


@pytest.fixture
def tiny_warehouse(tiny_warehouse_template, tmp_path) -> Path:
    """Return a private copy of the tiny company's warehouse, free to change."""
    path = tmp_path / "cxm.duckdb"
    shutil.copyfile(tiny_warehouse_template, path)
    return path


def _built_once(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """Return the warehouse ``build`` writes, built once per run however many workers ask.

    Under pytest-xdist the first worker to ask builds it in the run's shared folder while the
    others wait; each worker then reads its own copy, so that what tests write beside a
    warehouse (the audit trail, saved scenarios) stays as private to a worker as it is to a run
    without workers.
    """
    base = tmp_path_factory.getbasetemp()
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    shared = base.parent if worker else base  # xdist: <run>/popen-gw0, <run>/popen-gw1, ...
    built = shared / f"built-{name}" / "cxm.duckdb"
    with (shared / f"built-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.with_name("done").exists():
            built.parent.mkdir(exist_ok=True)
            build(built)
            built.with_name("done").touch()
    if not worker:
        return built
    mine = tmp_path_factory.mktemp(name) / "cxm.duckdb"
    shutil.copyfile(built, mine)
    defined = built.with_suffix(".experiments.sqlite")  # the demo's experiments, beside it
    if defined.exists():
        shutil.copyfile(defined, mine.with_suffix(".experiments.sqlite"))
    return mine


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory) -> Path:
    """Return the demo company at 20,000 sellers, seed 7 (the planted effects are checked on it)."""
    return _built_once(
        tmp_path_factory, "demo", lambda path: build_demo(DemoSpec(sellers=20_000, seed=7), path)
    )


@pytest.fixture(scope="session")
def small_demo_warehouse(tmp_path_factory) -> Path:
    """Return the demo company at 2,000 sellers, seed 11."""
    return _built_once(
        tmp_path_factory, "small", lambda path: build_demo(DemoSpec(sellers=2_000, seed=11), path)
    )


@pytest.fixture(scope="session")
def _demo_credentials_template(tmp_path_factory) -> Path:
    from cxm import access

    return access.write_demo_credentials(tmp_path_factory.mktemp("users") / "credentials.yaml")


@pytest.fixture
def demo_credentials(_demo_credentials_template, tmp_path) -> Path:
    """Return a private copy of the demo users' credentials file, free to change.

    The four bcrypt hashes are made once per run (a quarter of a second each time otherwise,
    in some 150 tests).
    """
    path = tmp_path / "credentials.yaml"
    shutil.copyfile(_demo_credentials_template, path)
    path.chmod(0o600)
    return path


def point_app_at(monkeypatch, warehouse: Path, credentials: Path, folder: Path) -> None:
    """Point the app (and AppTest) at ``warehouse`` with the demo users in ``credentials``,
    scenarios and the audit trail in ``folder``, demo mode on, no cookie key."""
    monkeypatch.setenv("CXM_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("CXM_CREDENTIALS", str(credentials))
    monkeypatch.setenv("CXM_SCENARIOS", str(folder / "scenarios.sqlite"))
    monkeypatch.setenv("CXM_AUDIT", str(folder / "audit.sqlite"))
    monkeypatch.setenv("CXM_DEMO", "1")
    monkeypatch.delenv("CXM_COOKIE_KEY", raising=False)


def signed_in_page(app: str, page: str, username: str, timeout: int, **params: str):
    """Return an AppTest of ``page`` as ``username`` (session seeded as after a login), opened
    from the default page with ``params`` in its URL, as a deep link carries them."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(app, default_timeout=timeout)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    at.run()
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def app_env(monkeypatch, demo_credentials, tiny_warehouse) -> Path:
    """Point the app at a private tiny company with the demo users; return the credentials."""
    credentials = demo_credentials
    monkeypatch.setenv("CXM_WAREHOUSE", str(tiny_warehouse))
    monkeypatch.setenv("CXM_CREDENTIALS", str(credentials))
    monkeypatch.setenv("CXM_DEMO", "1")
    monkeypatch.delenv("CXM_COOKIE_KEY", raising=False)
    return credentials


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """Return ``make(size)``: a new folder on a disk that holds only ``size`` bytes.

    A real tmpfs where mounting works (as root, as in CI), so DuckDB, the copy and SQLite meet
    a real full disk. Elsewhere the same limit is imposed at cxm's two seams, never skipped:
    the free space `cxm.warehouse.space` reads, and a DuckDB "No space left on device" on
    the load's first write into the folder.
    """
    mounted: list[Path] = []

    def make(size: int) -> Path:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        mount = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]
        try:
            done = subprocess.run(mount, capture_output=True).returncode == 0
        except OSError:  # no mount command
            done = False
        if done:
            mounted.append(folder)
        else:
            _pretend_full(folder, size, monkeypatch)
        return folder

    yield make
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _pretend_full(folder: Path, size: int, monkeypatch) -> None:
    import duckdb

    from cxm.warehouse import space, store

    real_usage, real_tune = shutil.disk_usage, store._tune

    def disk_usage(path):
        if Path(path).resolve().is_relative_to(folder.resolve()):
            used = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            return shutil._ntuple_diskusage(size, used, max(0, size - used))
        return real_usage(path)

    def tune(con):
        real_tune(con)
        (name,) = con.execute("SELECT path FROM duckdb_databases() WHERE NOT internal").fetchone()
        if name and Path(name).resolve().is_relative_to(folder.resolve()):
            raise duckdb.IOException(f'Could not write file "{name}": No space left on device')

    monkeypatch.setattr(space.shutil, "disk_usage", disk_usage)
    monkeypatch.setattr(store, "_tune", tune)


def register_x1(warehouse: Path, **extra) -> None:
    """Define X1 beside ``warehouse``: the experiment whose arms the tiny company's
    experiment_assignments.csv imports (S01, S05 control; S02, S06 treatment), orders as its
    primary KPI, January to March 2026. ``extra``: more fields (started_by, ...)."""
    from cxm.experiments import store

    x1 = store.Experiment(
        id="X1",
        name="Imported test",
        hypothesis="",
        scenario_id=None,
        share=0.5,
        unit="seller",
        leader_rank=None,
        primary="orders",
        guardrails=(),
        start=dt.date(2026, 1, 1),
        planned_end=dt.date(2026, 3, 31),
        author="demo",
        created_at=dt.datetime(2026, 1, 1),
        source="demo",
        **extra,
    )
    store.register([x1], path=store.experiments_path(warehouse))
