"""The command line: results on stdout, problems on stderr, exit 1 for rejected input."""

from __future__ import annotations

import hashlib

from typer.testing import CliRunner

from cxm.cli import app
from cxm.warehouse.schema import TABLES

runner = CliRunner()


def test_cxm_demo_builds_and_reports_each_table(tmp_path):
    result = runner.invoke(
        app, ["demo", "--sellers", "300", "--seed", "3", "--warehouse", str(tmp_path / "w.duckdb")]
    )
    assert result.exit_code == 0, result.output
    counts = {}
    for line in result.stdout.splitlines():
        parts = line.replace("│", " ").split()
        if len(parts) == 2 and parts[1].replace(",", "").isdigit():
            counts[parts[0]] = int(parts[1].replace(",", ""))
    # Exactly the sellers asked for; the 16-course catalog; every other table filled.
    assert counts["sellers"] == 300
    assert counts["courses"] == 16
    assert set(counts) == set(TABLES)
    assert all(n > 0 for n in counts.values()), counts
    assert counts["orders"] > counts["customers"] > counts["sellers"]
    assert "data as of 2026-10-31" in result.stdout


def test_an_out_of_range_demo_size_is_a_usage_error_naming_the_option(tmp_path):
    result = runner.invoke(
        app, ["demo", "--sellers", "5", "--warehouse", str(tmp_path / "w.duckdb")]
    )
    assert result.exit_code == 2
    assert "--sellers: 5 is not allowed" in result.stderr
    assert not (tmp_path / "w.duckdb").exists()


def test_a_demo_dated_in_the_future_is_refused_because_its_export_could_not_import(tmp_path):
    result = runner.invoke(
        app, ["demo", "--as-of", "2999-01-01", "--warehouse", str(tmp_path / "w.duckdb")]
    )
    assert result.exit_code == 2
    assert "--as-of: 2999-01-01 is not allowed: must not be after today" in result.stderr


def test_a_rejected_import_exits_1_lists_problems_on_stderr_and_changes_nothing(
    tiny_warehouse, tmp_path
):
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "kpi_targets.csv").write_text("period,kpi_id,segment,target\n2026,Active Rate,,x\n")
    before = hashlib.sha256(tiny_warehouse.read_bytes()).hexdigest()
    result = runner.invoke(app, ["import", str(folder), "--warehouse", str(tiny_warehouse)])
    assert result.exit_code == 1
    assert 'kpi_targets.csv row 2, kpi_id: "Active Rate" does not match' in result.stderr
    assert 'kpi_targets.csv row 2, target: "x" is not a number [not_a_number].' in result.stderr
    assert result.stdout == ""
    assert hashlib.sha256(tiny_warehouse.read_bytes()).hexdigest() == before


def test_every_command_has_help_with_an_example():
    for command in ["demo", "import", "export-raw", "status", "demo-users"]:
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Example: cxm" in result.stdout, command


def test_a_demo_build_while_another_load_runs_exits_75_and_says_so(tmp_path):
    import fcntl

    path = tmp_path / "w.duckdb"
    with open(f"{path}.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = runner.invoke(app, ["demo", "--sellers", "200", "--warehouse", str(path)])
    assert result.exit_code == 75  # a failure's own exit code (docs/errors.md, "Failures")
    assert "Another build or import is writing" in result.stderr
    assert not path.exists()


def test_import_check_validates_everything_and_writes_nothing(tiny_warehouse, tmp_path):
    import shutil

    from tests.conftest import TINY

    folder = tmp_path / "incoming"
    shutil.copytree(TINY, folder)
    before = hashlib.sha256(tiny_warehouse.read_bytes()).hexdigest()
    args = ["import", str(folder), "--check", "--warehouse", str(tiny_warehouse)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    # The tiny company: 12 sellers, 15 orders; checked, not loaded.
    assert "sellers (12 rows)" in result.stdout and "orders (15 rows)" in result.stdout
    assert "no problems. Nothing was written" in result.stdout
    assert hashlib.sha256(tiny_warehouse.read_bytes()).hexdigest() == before
    (folder / "orders.csv").write_text(
        (folder / "orders.csv").read_text().replace("65.00,1,wellness", "-65.00,1,wellness", 1)
    )
    bad = runner.invoke(app, args)
    assert bad.exit_code == 1 and "[negative_amount]" in bad.stderr
    assert hashlib.sha256(tiny_warehouse.read_bytes()).hexdigest() == before


def test_cxm_demo_leaves_imported_company_data_alone_unless_forced(tiny_warehouse):
    before = hashlib.sha256(tiny_warehouse.read_bytes()).hexdigest()
    args = ["demo", "--sellers", "200", "--warehouse", str(tiny_warehouse)]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1
    assert "holds imported company data" in refused.stderr and "--force" in refused.stderr
    assert hashlib.sha256(tiny_warehouse.read_bytes()).hexdigest() == before
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert hashlib.sha256(tiny_warehouse.read_bytes()).hexdigest() != before


def test_import_and_status_warn_of_orders_outside_membership_and_still_load(
    tiny_warehouse, tmp_path
):
    # Issue 19: two orders outside membership (S06's on its termination day 2025-10-15, row 17;
    # S08's the day before enrolling on 2026-01-05, row 18) load with a warning naming both.
    from cxm.warehouse import store
    from tests.conftest import TINY

    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "orders.csv").write_text(
        (TINY / "orders.csv").read_text()
        + "O017,C07,S06,2025-10-15 09:00:00,11.00,1,wellness,false,seller_link\n"
        + "O018,C07,S08,2026-01-04 23:59:59,12.00,1,wellness,false,seller_link\n"
    )
    result = runner.invoke(app, ["import", str(folder), "--warehouse", str(tiny_warehouse)])
    assert result.exit_code == 0, result.output
    assert "Imported orders (17 rows)" in result.stdout
    with store.open_readonly(tiny_warehouse) as con:  # what the message says was imported
        assert store.table_counts(con)["orders"] == 17
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Warning: 2 orders are dated outside the seller's membership")
    assert lines[1].startswith('  orders.csv row 17, ordered_at: "2025-10-15 09:00:00" is on or')
    assert lines[2].startswith('  orders.csv row 18, ordered_at: "2026-01-04 23:59:59" is before')
    assert len(lines) == 3
    status = runner.invoke(app, ["status", "--warehouse", str(tiny_warehouse)])
    assert status.exit_code == 0
    assert "Warning: 2 orders are dated outside" in status.stderr
    assert ": O017, O018." in status.stderr


# Issue 19, finding 10: every message that reports an action is checked against the action.


def test_demo_users_show_says_it_only_shows_and_writes_nothing(tmp_path):
    # `--show` used to print "stored hashed in F" and write nothing.
    path = tmp_path / "credentials.yaml"
    result = runner.invoke(app, ["demo-users", "--credentials", str(path), "--show"])
    assert result.exit_code == 0, result.output
    assert not path.exists()
    assert "stored hashed" not in result.stdout
    assert f"Demo logins (shown only: nothing was written to {path};" in result.stdout
    # Four demo logins, none of them in a file that does not exist.
    assert result.stdout.count(f"(not in {path})") == 4


def test_demo_users_stores_the_logins_it_prints_and_show_then_finds_them(tmp_path):
    import bcrypt

    from cxm import access

    path = tmp_path / "credentials.yaml"
    result = runner.invoke(app, ["demo-users", "--credentials", str(path)])
    assert result.exit_code == 0, result.output
    assert f"Demo logins (stored hashed in {path}):" in result.stdout
    accounts = access.read_accounts(path)
    printed = [line.split()[:2] for line in result.stdout.splitlines()[1:]]
    assert [u for u, _ in printed] == ["exec", "strategist", "analyst", "admin"]
    for username, password in printed:  # each printed password signs in with the stored hash
        assert bcrypt.checkpw(password.encode(), accounts[username].password_hash.encode())
    before = path.read_bytes()
    shown = runner.invoke(app, ["demo-users", "--credentials", str(path), "--show"])
    assert "(not in" not in shown.stdout and "another password" not in shown.stdout
    # As `make run` prints them after storing them: not "nothing was written ... run without".
    assert shown.stdout.startswith(
        f"Demo logins (as stored, hashed, in {path}; this command wrote nothing):"
    )
    assert path.read_bytes() == before


def test_demo_users_leaves_a_file_with_other_users_alone_unless_forced(tmp_path):
    import yaml

    from cxm import access

    path = access.write_demo_credentials(tmp_path / "credentials.yaml")
    data = yaml.safe_load(path.read_text())
    users = data["credentials"]["usernames"]
    users["alex"] = dict(users["admin"], email="alex@acme.example")
    path.write_text(yaml.safe_dump(data))
    before = path.read_bytes()
    refused = runner.invoke(app, ["demo-users", "--credentials", str(path)])
    assert refused.exit_code == 1 and refused.stdout == ""
    assert "holds other users (alex)" in refused.stderr and "--force" in refused.stderr
    assert path.read_bytes() == before
    forced = runner.invoke(app, ["demo-users", "--credentials", str(path), "--force"])
    assert forced.exit_code == 0 and "stored hashed in" in forced.stdout
    assert set(access.read_accounts(path)) == {"exec", "strategist", "analyst", "admin"}


def test_export_raw_writes_the_files_it_counts_with_every_row(tiny_warehouse, tmp_path):
    import polars as pl

    from cxm.warehouse import store

    folder = tmp_path / "out"
    args = ["export-raw", str(folder), "--format", "csv", "--warehouse", str(tiny_warehouse)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    # "Wrote 12 files": every table (len(TABLES)), each with every row of the tiny company.
    assert result.stdout.strip() == f"Wrote {len(TABLES)} files to {folder}."
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{t}.csv" for t in TABLES)
    with store.open_readonly(tiny_warehouse) as con:
        counts = store.table_counts(con)
    assert {t: pl.read_csv(folder / f"{t}.csv").height for t in TABLES} == counts


def test_report_writes_the_rows_and_suppressed_cells_it_announces(tiny_warehouse, tmp_path):
    import polars as pl

    # Active rate and revenue by market (BR, CA, US) in 2026-Q1: 2 x 3 = 6 rows; every
    # segment has under 10 sellers (BR 4, CA 2, US 4), so all 6 values are suppressed.
    out = tmp_path / "r.csv"
    args = ["report", "--kpi", "active_rate", "--kpi", "revenue", "--by", "market"]
    args += ["--period", "2026-Q1", "--out", str(out), "--warehouse", str(tiny_warehouse)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"Wrote 6 rows (6 suppressed) to {out};" in " ".join(result.stdout.split())
    table = pl.read_csv(out, comment_prefix="#")
    assert table.height == 6 and table["suppressed"].sum() == 6


def test_users_set_password_and_lift_do_what_they_say(app_env):
    import time

    import bcrypt

    from cxm import access

    password = "correct horse battery"
    # Three failed sign-ins for "analyst" a second ago: a standing lockout record to lift.
    log = access.SigninLog(access.signin_log_path())
    for i in range(3):
        log.record("analyst", None, ok=False, now=time.time() - 1 + i / 10)
    assert any(s.name == "analyst" for s in log.standing(now=time.time()) if s.kind == "user")
    lifted = runner.invoke(app, ["users", "lift", "analyst"])
    assert lifted.exit_code == 0 and "Lifted the lockout of analyst." in lifted.stdout
    assert not [s for s in log.standing(now=time.time()) if s.name == "analyst"]
    # "Set a new password for exec; their sessions are ended": the new hash takes the new
    # password, and a session issued before the change is over.
    before = time.time()
    result = runner.invoke(app, ["users", "set-password", "exec"], input=f"{password}\n" * 2)
    assert result.exit_code == 0, result.output
    assert "Set a new password for exec; their sessions are ended." in result.stdout
    stored = access.read_accounts()["exec"].password_hash
    assert bcrypt.checkpw(password.encode(), stored.encode())
    assert access.sessions_valid_after("exec") >= before


def test_whatif_writes_the_recommendations_it_announces(
    small_demo_warehouse, tmp_path, monkeypatch
):
    import re

    import polars as pl

    # "Wrote N sellers' recommendations to F": F holds one row per seller, N of them, each of
    # Brazil (the market asked for).
    monkeypatch.setenv("CXM_AUDIT", str(tmp_path / "audit.sqlite"))
    out = tmp_path / "recs.csv"
    args = ["whatif", "--warehouse", str(small_demo_warehouse), "--market", "BR"]
    result = runner.invoke(app, [*args, "--weights", "retention:2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    said = re.search(r"Wrote ([\d,]+) sellers' recommendations to (\S+)\.", result.stdout)
    assert said and said.group(2) == str(out)
    written = pl.read_csv(out, comment_prefix="#", infer_schema=False)
    assert written.height == int(said.group(1).replace(",", "")) > 0
    assert written["seller_id"].n_unique() == written.height
    assert set(written["market"]) == {"BR"}
