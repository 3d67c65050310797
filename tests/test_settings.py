"""Every ``CXM_*`` variable is declared once in `cxm.settings`, read only through it, and a bad
one stops the app and the command line at start with its name, value and rule (issue 20,
finding 7: eleven variables were read in eight modules, two of them documented nowhere)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from cxm.errors import SETTING_CODES, SettingsError
from cxm.settings import OTHER_VARIABLES, VARIABLES, settings

ROOT = Path(__file__).parents[1]
NAME = re.compile(r"\bCXM_[A-Z][A-Z0-9_]*[A-Z0-9]\b")
#: Where a variable could be read or set: the code, the app, its tests, benchmarks, make, CI.
SEARCHED = ("cxm/**/*.py", "cxm/*.yaml", "app.py", "app_pages/*.py", "tests/**/*.py",
            "benchmarks/*.py", "Makefile", ".ci/run")  # fmt: skip


def _named() -> dict[str, set[str]]:
    """Return every CXM_ name written in the searched files, with the files naming it."""
    found: dict[str, set[str]] = {}
    for pattern in SEARCHED:
        for path in ROOT.glob(pattern):
            if path.name == Path(__file__).name or not path.is_file():
                continue  # this file spells wrong names on purpose
            for name in NAME.findall(path.read_text(encoding="utf-8")):
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_cxm_variable_named_in_the_code_tests_or_make_is_declared():
    named = _named()
    undeclared = {n: f for n, f in named.items() if n not in VARIABLES and n not in OTHER_VARIABLES}
    assert undeclared == {}
    # The two that were read (store.py, state/__init__.py) and documented nowhere.
    assert {"CXM_DUCKDB_MEMORY_LIMIT", "CXM_FACTS_MEMORY_LIMIT"} <= set(VARIABLES)


def test_no_module_but_the_settings_reads_the_environment():
    readers = [
        str(p.relative_to(ROOT))
        for pattern in ("cxm/**/*.py", "app.py", "app_pages/*.py")
        for p in ROOT.glob(pattern)
        if re.search(r"os\.environ|getenv\(", p.read_text(encoding="utf-8"))
    ]
    assert readers == ["cxm/settings.py"]


def test_unset_variables_take_the_declared_defaults(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CXM_DEMO", "")  # empty counts as unset
    got = settings()
    assert got.warehouse == Path("data/cxm.duckdb")
    assert got.config == ROOT / "cxm" / "company.yaml" and got.config.exists()
    assert got.actions == ROOT / "cxm" / "actions.yaml" and got.actions.exists()
    assert (got.audit, got.scenarios, got.cookie_key) == (None, None, None)
    assert (got.demo, got.trusted_proxies, got.trust_forwarded_for) == (False, (), None)
    assert (got.duckdb_memory_limit, got.facts_memory_limit) == ("3GB", "3GB")
    assert (got.log_level, got.slow_query_ms) == ("INFO", 1000)


def test_good_values_are_read_and_a_change_is_seen_at_once(monkeypatch):
    monkeypatch.setenv("CXM_DEMO", "1")
    monkeypatch.setenv("CXM_LOG_LEVEL", "debug")
    monkeypatch.setenv("CXM_SLOW_QUERY_MS", "0")
    monkeypatch.setenv("CXM_FACTS_MEMORY_LIMIT", "50%")
    monkeypatch.setenv("CXM_DUCKDB_MEMORY_LIMIT", "2.5GiB")
    got = settings()
    assert (got.demo, got.log_level, got.slow_query_ms) == (True, "DEBUG", 0)
    assert (got.facts_memory_limit, got.duckdb_memory_limit) == ("50%", "2.5GiB")
    monkeypatch.setenv("CXM_DEMO", "0")
    assert settings().demo is False


#: One bad value per rule: (variable, value, code); docs/errors.md shows what each prints.
SETTING_CASES = [
    ("CXM_WAREHOSUE", "data/cxm.duckdb", "unknown_setting"),
    ("CXM_DEMO", "yes", "bad_flag"),  # was silently "off": only "1" was on
    # Issue 20 finding 3: it believed X-Forwarded-For from anyone; now it stops cxm.
    ("CXM_TRUST_FORWARDED_FOR", "1", "trust_forwarded_for_removed"),
    ("CXM_TRUSTED_PROXIES", "127.0.0.1, proxy.local", "bad_trusted_proxies"),
    ("CXM_TRUSTED_PROXIES", "0.0.0.0/0", "bad_trusted_proxies"),
    ("CXM_WAREHOUSE", "data/a\nb.duckdb", "bad_path"),
    ("CXM_AUDIT", "audit\t.sqlite", "bad_path"),
    ("CXM_DUCKDB_MEMORY_LIMIT", "4", "bad_memory_limit"),  # DuckDB: "Unknown unit"
    ("CXM_FACTS_MEMORY_LIMIT", "50MB", "bad_memory_limit"),  # DuckDB: out of memory at once
    ("CXM_FACTS_MEMORY_LIMIT", "4 gigabytes", "bad_memory_limit"),  # DuckDB reads 4 bytes
    ("CXM_FACTS_MEMORY_LIMIT", "0%", "bad_memory_limit"),
    ("CXM_LOG_LEVEL", "LOUD", "bad_log_level"),
    ("CXM_SLOW_QUERY_MS", "1.5s", "bad_milliseconds"),
    ("CXM_SLOW_QUERY_MS", "-1", "bad_milliseconds"),
]


@pytest.mark.parametrize(("variable", "value", "code"), SETTING_CASES)
def test_a_bad_value_is_named_with_its_variable_value_and_rule(monkeypatch, variable, value, code):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        settings()
    (issue,) = caught.value.issues
    assert (issue.variable, issue.code) == (variable, code)
    # A line break in a value is shown as \n; an unknown variable's value is never shown.
    shown = None if code == "unknown_setting" else value.encode("unicode_escape").decode()
    assert issue.value == shown
    text = str(caught.value)
    assert text.startswith("cxm will not start: 1 environment variable is wrong.")
    assert len(text.splitlines()) == 2
    assert text.splitlines()[1].startswith(f"{variable}: " + (f'"{shown}" ' if shown else ""))
    assert f"[{code}]" in text


def test_every_bad_variable_is_named_at_once_and_a_misspelt_one_gets_a_suggestion(monkeypatch):
    monkeypatch.setenv("CXM_LOG_LEVEL", "LOUD")
    monkeypatch.setenv("CXM_SLOW_QUERY_MS", "soon")
    monkeypatch.setenv("CXM_COOKIE_KY", "a-secret-typed-under-the-wrong-name")
    with pytest.raises(SettingsError) as caught:
        settings()
    assert [i.variable for i in caught.value.issues] == [
        "CXM_COOKIE_KY",
        "CXM_LOG_LEVEL",
        "CXM_SLOW_QUERY_MS",
    ]
    text = str(caught.value)
    assert text.startswith("cxm will not start: 3 environment variables are wrong.")
    assert (
        "CXM_COOKIE_KY: is not a cxm setting [unknown_setting]; did you mean CXM_COOKIE_KEY?"
        in text
    )
    assert "a-secret" not in text  # a misspelt variable may hold a secret: never shown


def test_every_setting_code_has_a_case():
    assert [c for c in SETTING_CODES if c not in {code for _, _, code in SETTING_CASES}] == []


def setting_errors_doc() -> list[str]:
    """Return docs/errors.md's section on settings: each code, its rule, what each case prints."""
    lines = [
        "# Settings errors",
        "",
        "Every `CXM_*` environment variable is checked when the app or a command starts "
        "(`cxm.settings`, the README's Configuration table); a bad one stops it with every "
        "problem at once (the cases of `tests/test_settings.py`).",
        "",
    ]
    for code, rule in SETTING_CODES.items():
        lines += [f"## `{code}`", "", rule, ""]
        for variable, value, _ in (c for c in SETTING_CASES if c[2] == code):
            with pytest.MonkeyPatch.context() as env:
                env.setenv(variable, value)
                with pytest.raises(SettingsError) as caught:
                    settings()
            shown = value.encode("unicode_escape").decode()
            lines += [f"- Trigger: `{variable}={shown}`", f"  - `{caught.value.issues[0].line()}`"]
        lines.append("")
    return lines


def test_the_memory_limits_reach_duckdb(monkeypatch, tmp_path):
    from cxm.warehouse import store

    # 512 MB = 512,000,000 bytes = 488.28 MiB, which DuckDB shows as "488.2 MiB".
    monkeypatch.setenv("CXM_DUCKDB_MEMORY_LIMIT", "512MB")
    seen = []

    def fill(con: duckdb.DuckDBPyConnection) -> None:
        seen.append(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])

    store.rebuild(tmp_path / "w.duckdb", fill, kind="demo", source="test", tables=[])
    assert seen == ["488.2 MiB"]


def test_the_command_line_names_a_bad_setting_and_exits_1_without_a_traceback(monkeypatch, capsys):
    from cxm.cli import main

    monkeypatch.setenv("CXM_LOG_LEVEL", "LOUD")
    monkeypatch.setattr(sys, "argv", ["cxm", "status"])
    with pytest.raises(SystemExit) as caught:
        main()
    assert caught.value.code == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "cxm will not start: 1 environment variable is wrong. Correct or unset each (README, "
        "Configuration).",
        'CXM_LOG_LEVEL: "LOUD" is not a log level: DEBUG, INFO, WARNING, ERROR [bad_log_level].',
    ]


def test_the_app_names_a_bad_setting_instead_of_the_login_form(app_env, monkeypatch):
    monkeypatch.setenv("CXM_SLOW_QUERY_MS", "soon")
    at = AppTest.from_file("../app.py", default_timeout=30).run()
    assert not at.exception
    assert len(at.error) == 1
    shown = at.error[0].value.replace("\\", "")  # shown as text: its punctuation escaped
    assert shown.startswith("cxm will not start: 1 environment variable is wrong.")
    assert 'CXM_SLOW_QUERY_MS: "soon" is not a whole number' in shown
    assert not at.text_input and not at.metric
