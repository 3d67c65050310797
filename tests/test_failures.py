"""Failures that explain themselves (issue 20, finding 6): a damaged or unreadable warehouse, a
full disk, a missing folder, a lock held by another load. Each is a named `WarehouseFailure`
with its code and fix, the same from the library, the command line (its own exit code, no
traceback) and the pages (the app's error display), and a load it stopped is audited."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from cxm.cli import main
from cxm.errors import WarehouseMissing
from cxm.pipeline import import_dir
from cxm.warehouse import audit, failures, space, store
from cxm.warehouse.failures import (
    FAILURES,
    DiskFull,
    FolderMissing,
    WarehouseCorrupt,
    WarehouseNotWritable,
    WarehouseUnreadable,
)
from tests.conftest import TINY, TINY_TODAY, data_elements
from tests.test_uploads import TINY_FILES, upload

#: The `cxm` script of this environment, for the command line as a user runs it.
CXM = str(Path(sys.executable).parent / "cxm")


def _overwrite(path: Path) -> None:
    path.write_bytes(b"\x00junk" * 1000)


def _cut_short(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100_000])


def _cxm(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run the command line's ``main`` as the shell does; return (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["cxm", *args])
    with pytest.raises(SystemExit) as done:
        main()
    out = capsys.readouterr()
    return done.value.code, out.out, out.err


def _audited(warehouse: Path) -> list[str]:
    trail = audit.entries(path=audit.audit_path(warehouse), actions=["import failed"])
    return trail["what"].to_list()


# --- what each cause is called -----------------------------------------------------------

#: (exception as raised, a load writing?, the failure it is). The DuckDB texts are the ones
#: DuckDB 2.0 printed here for each case (their paths shortened).
IO, NO_SPACE = duckdb.IOException, 'Could not write file "/d/.w.tmp": No space left on device'
CAUSES = [
    (IO('The file "/w" exists, but it is not a valid DuckDB database file!'), 0, WarehouseCorrupt),
    (IO('Could not read enough bytes from file "/w": attempted to read 3996 bytes'), 0,
     WarehouseCorrupt),
    (duckdb.Error("Corrupt database file: computed checksum 1 does not match stored checksum 2"),
     0, WarehouseCorrupt),
    (IO('Could not read from file "/w": Is a directory'), 0, WarehouseUnreadable),
    (OSError(errno.EACCES, "Permission denied"), 0, WarehouseUnreadable),
    (OSError(errno.EACCES, "Permission denied"), 1, WarehouseNotWritable),
    (IO('Cannot open file "/d/x": Read-only file system'), 1, WarehouseNotWritable),
    (IO('Cannot open file "/d/x": No such file or directory'), 1, FolderMissing),
    (OSError(errno.ENOTDIR, "Not a directory"), 1, FolderMissing),
    (OSError(errno.EEXIST, "File exists"), 1, FolderMissing),
    (OSError(errno.ENOENT, "No such file or directory"), 0, WarehouseMissing),
    (duckdb.FatalException(f"Failed to create checkpoint because of error: {NO_SPACE}"), 1,
     DiskFull),
    (OSError(errno.ENOSPC, "No space left on device"), 1, DiskFull),
]  # fmt: skip


@pytest.mark.parametrize(("exc", "writing", "kind"), CAUSES)
def test_each_cause_is_named_with_its_fix_and_without_the_path(exc, writing, kind):
    failure = failures.explain(exc, path=Path("/srv/cxm/cxm.duckdb"), writing=bool(writing))
    assert type(failure) is kind
    assert str(failure).endswith(f"[{kind.code}]")
    assert "/srv" not in str(failure) and "/d/" not in str(failure)


def test_an_error_of_another_cause_is_left_as_it_is():
    assert (
        failures.explain(duckdb.BinderException("no column x"), path=Path("w"), writing=True)
        is None
    )


def test_every_failure_has_its_own_code_and_exit_code():
    # 1 is rejected input and 2 a usage error: a failure's exit code is neither.
    assert len({f.code for f in FAILURES}) == len({f.exit_code for f in FAILURES}) == len(FAILURES)
    assert not {f.exit_code for f in FAILURES} & {0, 1, 2}


# --- a damaged or unreadable warehouse --------------------------------------------------------


@pytest.mark.parametrize("damage", [_overwrite, _cut_short])
def test_a_damaged_warehouse_is_named_where_it_is_opened(tiny_warehouse, damage):
    damage(tiny_warehouse)
    with pytest.raises(WarehouseCorrupt) as caught, store.open_readonly(tiny_warehouse):
        pass
    assert "Restore it from a backup, or replace it: import every table" in str(caught.value)
    assert str(tiny_warehouse) not in str(caught.value)
    assert caught.value.path == tiny_warehouse


@pytest.mark.parametrize("damage", [_overwrite, _cut_short])
def test_cxm_status_on_a_damaged_warehouse_exits_65_with_the_fix_and_no_traceback(
    tiny_warehouse, damage
):
    # It used to print DuckDB's IOException as a traceback and exit 1.
    damage(tiny_warehouse)
    done = subprocess.run(
        [CXM, "status", "--warehouse", str(tiny_warehouse)], capture_output=True, text=True
    )
    assert done.returncode == 65
    assert done.stderr.startswith("The warehouse file is damaged")
    assert "[warehouse_corrupt]" in done.stderr and f"Path: {tiny_warehouse}" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_a_folder_where_the_warehouse_should_be_is_named_and_exits_77(tmp_path):
    (tmp_path / "cxm.duckdb").mkdir()
    done = subprocess.run(
        [CXM, "status", "--warehouse", str(tmp_path / "cxm.duckdb")], capture_output=True, text=True
    )
    assert done.returncode == 77
    assert "A folder stands where the warehouse file should be" in done.stderr
    assert "[warehouse_unreadable]" in done.stderr and "Traceback" not in done.stderr


def test_a_partial_import_into_a_damaged_warehouse_is_named_audited_and_exits_65(
    tiny_warehouse, tmp_path, monkeypatch, capsys
):
    _overwrite(tiny_warehouse)
    before = tiny_warehouse.read_bytes()
    folder = tmp_path / "incoming"
    folder.mkdir()
    shutil.copy(TINY / "kpi_targets.csv", folder)
    code, out, err = _cxm(
        monkeypatch, capsys, "import", str(folder), "--warehouse", str(tiny_warehouse)
    )
    assert (code, out) == (65, "")
    assert "[warehouse_corrupt]" in err and "Traceback" not in err
    assert tiny_warehouse.read_bytes() == before
    assert _audited(tiny_warehouse) == [
        f"cxm import {folder}: The warehouse file is damaged [warehouse_corrupt]"
    ]


def test_importing_every_table_replaces_a_damaged_warehouse(tiny_warehouse):
    # The fix the message gives works: a load of every table starts a new file instead of
    # copying the damaged one (it used to copy it, and fail on it).
    _overwrite(tiny_warehouse)
    result = import_dir(TINY, path=tiny_warehouse, today=TINY_TODAY)
    assert result.rows["sellers"] == 12
    with store.open_readonly(tiny_warehouse) as con:
        assert store.table_counts(con)["orders"] == 15
        assert [h["kind"] for h in store.load_history(con)] == ["import"]  # the old one is lost


def test_importing_every_table_keeps_the_load_history_of_a_sound_warehouse(tiny_warehouse):
    # The tiny company's warehouse holds its one import; a second full import makes two.
    import_dir(TINY, path=tiny_warehouse, today=TINY_TODAY)
    with store.open_readonly(tiny_warehouse) as con:
        assert [h["kind"] for h in store.load_history(con)] == ["import", "import"]


# --- a missing folder, a held lock --------------------------------------------------------


def test_a_warehouse_folder_that_cannot_be_made_is_named_and_exits_72(
    tmp_path, monkeypatch, capsys
):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the warehouse's folder should be")
    warehouse = blocker / "cxm.duckdb"
    code, _, err = _cxm(monkeypatch, capsys, "import", str(TINY), "--warehouse", str(warehouse))
    assert code == 72
    assert "The warehouse's folder does not exist and cannot be made" in err
    assert "[folder_missing]" in err and f"Path: {blocker}" in err


def test_a_demo_build_while_another_load_runs_exits_75_names_no_path_and_is_audited(
    tmp_path, monkeypatch, capsys
):
    warehouse = tmp_path / "w.duckdb"
    with open(f"{warehouse}.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        code, _, err = _cxm(
            monkeypatch, capsys, "demo", "--sellers", "200", "--warehouse", str(warehouse)
        )
    assert code == 75
    message = err.split("[warehouse_busy]")[0]
    assert "Another build or import is writing the warehouse" in message
    assert str(warehouse) not in message  # the page shows the same text
    assert _audited(warehouse) == [
        "cxm demo --sellers 200: Another load is running [warehouse_busy]"
    ]
    assert not warehouse.exists()


# --- a full disk -----------------------------------------------------------------------


def test_a_partial_import_that_would_not_fit_is_refused_before_writing_with_the_estimate(
    tiny_warehouse, small_disk, monkeypatch, capsys
):
    # An 8 MiB disk (8,388,608 bytes) holding the tiny company's warehouse (W bytes, 6.6 MB)
    # has 8,388,608 - W free, 1.8 MB. Importing kpi_targets.csv (104 bytes) needs the new file
    # (8,000,000 + 104 x 0.5 = 8,000,052 bytes, 8.0 MB) and the copy of the current one a
    # partial import writes first (W), a quarter more: (8,000,052 + 6,565,888) x 1.25 =
    # 18.2 MB. Before this check the copy filled the disk and DuckDB's error was a traceback.
    disk = small_disk(8 << 20)
    warehouse = disk / "cxm.duckdb"
    shutil.copyfile(tiny_warehouse, warehouse)
    size = warehouse.stat().st_size
    before = warehouse.read_bytes()
    folder = tiny_warehouse.parent / "incoming"
    folder.mkdir()
    shutil.copy(TINY / "kpi_targets.csv", folder)
    code, _, err = _cxm(monkeypatch, capsys, "import", str(folder), "--warehouse", str(warehouse))
    assert code == 74 and "Traceback" not in err
    need = space.human_bytes((8_000_052 + size) * 1.25)
    assert (size, need) == (6_565_888, "18.2 MB")
    assert (
        "Not enough free disk space for this import: it needs about 18.2 MB beside the "
        "warehouse (8.0 MB for the new warehouse file, from 104 bytes of files; 6.6 MB for a "
        "copy of the current warehouse, which an import of only some tables writes first and "
        "swaps in; and a quarter more to be safe), and 1.8 MB is free. Nothing was written."
    ) in err
    assert "[disk_full]" in err
    assert warehouse.read_bytes() == before
    assert sorted(p.name for p in disk.iterdir()) == [
        "cxm.audit.sqlite",
        "cxm.duckdb",
        "cxm.duckdb.lock",
    ]
    assert _audited(warehouse) == [f"cxm import {folder}: Not enough disk space [disk_full]"]


def test_a_disk_that_fills_while_duckdb_writes_is_named_cleaned_up_and_audited(
    tmp_path, small_disk, monkeypatch, capsys
):
    # The estimate can be wrong: here it is set too low (no base size), so the 3 MiB disk
    # passes the check and the tiny company's 5.5 MB warehouse fills it while DuckDB writes.
    # This was issue 20's `FatalException` traceback.
    monkeypatch.setattr(space, "BASE_BYTES", 0)
    disk = small_disk(3 << 20)
    warehouse = disk / "cxm.duckdb"
    code, _, err = _cxm(monkeypatch, capsys, "import", str(TINY), "--warehouse", str(warehouse))
    assert code == 74 and "Traceback" not in err
    assert (  # after the log's lines (on stderr too): the message
        "\nThe disk holding the warehouse ran out of space while the load was writing. Nothing "
        "was changed: the load's new file was removed and the warehouse is as it was."
    ) in err
    assert "[disk_full]" in err
    assert sorted(p.name for p in disk.iterdir()) == ["cxm.audit.sqlite", "cxm.duckdb.lock"]
    assert _audited(warehouse) == [f"cxm import {TINY}: Not enough disk space [disk_full]"]


def test_a_demo_too_big_for_the_disk_is_refused_before_it_starts(small_disk, monkeypatch, capsys):
    # 5,000 sellers over 5 years: (8,000,000 + 500 x 5,000 x 5) x 1.25 = 25.6 MB; 3 MiB free.
    warehouse = small_disk(3 << 20) / "cxm.duckdb"
    args = ("demo", "--sellers", "5000", "--warehouse", str(warehouse))
    code, _, err = _cxm(monkeypatch, capsys, *args)
    assert code == 74
    assert (
        "it needs about 25.6 MB beside the warehouse (20.5 MB for the demo company at "
        "5,000 sellers; and a quarter more to be safe), and 3.1 MB is free" in err
    )
    assert not warehouse.exists()


# --- the pages ---------------------------------------------------------------------------


def _signed_in(username: str, page: str = "../app.py") -> AppTest:
    at = AppTest.from_file(page, default_timeout=60)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    return at.run()


def _text(elements) -> str:
    return " ".join(e.value.replace("\\", "").replace("**", "") for e in elements)


def test_a_page_on_a_damaged_warehouse_shows_the_named_message_not_a_crash(app_env, tiny_warehouse):
    # It used to be Streamlit's exception page with DuckDB's IOException and a server path.
    _overwrite(tiny_warehouse)
    at = _signed_in("analyst")
    assert not at.exception
    shown = _text(at.error)
    assert shown.startswith("The warehouse file is damaged") and "[warehouse_corrupt]" in shown
    assert str(tiny_warehouse.parent) not in shown
    assert not data_elements(at.metric)


def test_the_data_page_on_a_damaged_warehouse_offers_the_import_that_replaces_it(
    app_env, tiny_warehouse
):
    _overwrite(tiny_warehouse)
    at = _signed_in("admin", "../app_pages/data.py")
    assert not at.exception
    assert "[warehouse_corrupt]" in _text(at.error)
    at = upload(at, TINY_FILES)
    assert not at.exception and not at.error
    with store.open_readonly(tiny_warehouse) as con:
        assert store.table_counts(con)["sellers"] == 12


def test_the_data_page_names_a_full_disk_audits_it_and_changes_nothing(
    app_env, tiny_warehouse, small_disk, monkeypatch
):
    # The tiny company's 6.6 MB warehouse on an 8 MiB disk: 1.8 MB free. An upload of
    # sellers.csv (663 + 50 = 713 bytes) needs it staged, the new file (8,000,000 + 713 x 0.5)
    # and the copy (6,565,888), a quarter more: (713 + 8,000,356 + 6,565,888) x 1.25 =
    # 18.2 MB. It used to stage in the system temp folder and end in DuckDB's traceback on
    # Streamlit's error page.
    warehouse = small_disk(8 << 20) / "cxm.duckdb"
    shutil.copyfile(tiny_warehouse, warehouse)
    monkeypatch.setenv("CXM_WAREHOUSE", str(warehouse))
    before = warehouse.read_bytes()
    sellers = (
        TINY / "sellers.csv"
    ).read_bytes() + b"S13,S01,2026-02-01,Consultant,BR,pt-BR,100.00,1,\n"
    at = _signed_in("admin", "../app_pages/data.py")
    at = upload(at, [("sellers.csv", sellers)])
    assert not at.exception
    shown = _text(at.error)
    assert shown.startswith("Not enough disk space. Not enough free disk space for this import:")
    assert "it needs about 18.2 MB beside the warehouse" in shown and "1.8 MB is free" in shown
    assert "[disk_full]" in shown and str(warehouse.parent) not in shown
    assert warehouse.read_bytes() == before
    assert not (warehouse.parent / ".staging").exists()
    assert _audited(warehouse) == ["the upload of sellers.csv: Not enough disk space [disk_full]"]


def test_the_data_page_names_an_unexpected_failure_and_audits_it(
    app_env, tiny_warehouse, monkeypatch
):
    # Any failure but a refusal: shown by name, audited, logged; it used to be neither.
    from cxm.admin import uploads

    def broken(*args, **kwargs):
        raise KeyError("sellers")

    monkeypatch.setattr(uploads, "import_dir", broken)
    at = _signed_in("admin", "../app_pages/data.py")
    at = upload(at, [("sellers.csv", (TINY / "sellers.csv").read_bytes())])
    assert not at.exception
    shown = _text(at.error)
    assert shown.startswith(
        "The import stopped on an unexpected error. The import stopped on an "
        "unexpected error (KeyError); nothing was written"
    )
    assert "[import_failed]" in shown
    assert _audited(tiny_warehouse) == [
        "the upload of sellers.csv: The import stopped on an unexpected error [import_failed]"
    ]


def test_the_audit_of_a_failure_never_hides_the_failure(tmp_path):
    # A trail that cannot take the line (here: its folder is a file) is logged, not raised.
    blocker = tmp_path / "trail"
    blocker.write_text("")
    took = audit.record_failed_load(
        "admin",
        "admin",
        "all markets",
        "the upload of x.csv",
        DiskFull("full"),
        path=blocker / "audit.sqlite",
    )
    assert took is False
    assert os.path.isfile(blocker)
