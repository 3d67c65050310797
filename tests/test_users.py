"""Managing users: the library's rules, its atomic writes, sessions ended, and the Users page."""

from __future__ import annotations

import os
import re
import stat
import time

import bcrypt
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from cxm import access
from cxm.access import NotAllowed, Role, User
from cxm.admin import users
from cxm.admin.users import UserRefused
from cxm.warehouse import audit
from tests.conftest import data_elements

GOOD = "correct horse battery"


@pytest.fixture
def creds(app_env):
    return app_env


def _admin() -> User:
    return access.load_users()["admin"]


def _add(**changes):
    fields = dict(
        username="bea",
        name="Bea Board",
        email="bea@acme.example",
        role="executive",
        markets=["BR"],
        password=GOOD,
        repeated=GOOD,
    )
    return users.add_user(_admin(), **(fields | changes))


def test_an_added_user_signs_in_with_a_bcrypt_hash_and_their_scope(creds):
    _add(markets=["br", "MX"])
    bea = access.load_users()["bea"]
    assert (bea.role, bea.scope.markets) == (Role.EXECUTIVE, ("BR", "MX"))
    stored = yaml.safe_load(creds.read_text())["credentials"]["usernames"]["bea"]["password"]
    assert stored.startswith("$2b$10$") and GOOD not in creds.read_text()
    assert bcrypt.checkpw(GOOD.encode(), stored.encode())
    assert stat.S_IMODE(os.stat(creds).st_mode) == 0o600
    row = audit.entries().row(0, named=True)
    assert (row["username"], row["action"], row["what"]) == (
        "admin",
        "user added",
        "bea: executive, BR, MX",
    )
    assert GOOD not in str(audit.entries().to_dicts())


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"username": "analyst"}, "duplicate_user", "A user named 'analyst' already exists"),
        ({"username": "Bea Board"}, "bad_username", "'Bea Board'"),
        ({"markets": ["BR", "XX"]}, "unknown_market", "Market 'XX' is not one of"),
        ({"markets": ["UK"]}, "unknown_market", "Market 'UK'"),
        ({"markets": []}, "no_markets", "Choose at least one market"),
        ({"password": "short", "repeated": "short"}, "weak_password", "5 characters long"),
        (
            {"password": "bea-is-great-2026", "repeated": "bea-is-great-2026"},
            "weak_password",
            "user name",
        ),
        ({"password": "ab" * 20, "repeated": "ab" * 20}, "weak_password", "2 distinct"),
        ({"repeated": GOOD + "!"}, "passwords_differ", "differ"),
        ({"role": None}, "empty_role", "Choose a role"),
        ({"role": ""}, "empty_role", "Choose a role"),
        ({"role": "owner"}, "empty_role", "'owner' is not a role"),
        ({"name": "  "}, "empty_name", "name to show"),
        ({"email": "bea"}, "bad_email", "'bea' is not an email"),
    ],
)
def test_bad_input_is_refused_with_its_field_and_changes_nothing(creds, changes, code, words):
    before = creds.read_bytes()
    with pytest.raises(UserRefused) as exc:
        _add(**changes)
    assert exc.value.code == code and words in str(exc.value)
    assert creds.read_bytes() == before
    assert audit.entries().is_empty()


def test_a_name_that_differs_only_in_case_from_a_hand_edited_one_is_a_duplicate(creds):
    raw = yaml.safe_load(creds.read_text())
    raw["credentials"]["usernames"]["Bea"] = raw["credentials"]["usernames"]["exec"]
    creds.write_text(yaml.safe_dump(raw))
    with pytest.raises(UserRefused, match="A user named 'Bea' already exists") as exc:
        _add(username="bea")
    assert exc.value.code == "duplicate_user"


def test_every_bad_field_of_the_form_is_named_at_once(creds):
    before = creds.read_bytes()
    with pytest.raises(UserRefused) as exc:
        _add(username="Bad Name", name="", email="x", role=None, markets=["XX"], password="short")
    assert exc.value.codes == [
        "bad_username",
        "empty_name",
        "bad_email",
        "empty_role",
        "unknown_market",
        "weak_password",
    ]
    assert str(exc.value).splitlines()[0].startswith("User name 'Bad Name': A user name is 2")
    assert creds.read_bytes() == before


def test_a_password_over_what_bcrypt_reads_is_refused_not_cut(creds):
    long = "é" * 37  # 74 bytes in 37 characters; with "abcde" 79 bytes
    with pytest.raises(UserRefused, match="is 79 bytes long; bcrypt reads at most 72"):
        _add(password=long + "abcde", repeated=long + "abcde")


def test_the_unknown_market_message_suggests_the_nearest(creds):
    with pytest.raises(UserRefused, match="Did you mean BR"):
        _add(markets=["BRR"])


def test_only_admins_manage_users(creds):
    analyst = access.load_users()["analyst"]
    for call in (
        lambda: users.accounts(analyst),
        lambda: users.add_user(
            analyst,
            username="x1",
            name="X",
            email="x@y.z",
            role="admin",
            markets=None,
            password=GOOD,
            repeated=GOOD,
        ),
        lambda: users.change_user(analyst, "analyst", role="admin", markets=None, disabled=False),
        lambda: users.reset_password(analyst, "admin", password=GOOD, repeated=GOOD),
        lambda: users.remove_user(analyst, "admin"),
        lambda: users.lockouts(None),
    ):
        with pytest.raises(NotAllowed):
            call()
    assert access.load_users()["analyst"].role == Role.ANALYST


def test_the_last_admin_cannot_remove_disable_or_demote_themself(creds):
    before = creds.read_bytes()
    for call in (
        lambda: users.remove_user(_admin(), "admin"),
        lambda: users.change_user(_admin(), "admin", role="admin", markets=None, disabled=True),
        lambda: users.change_user(_admin(), "admin", role="analyst", markets=None, disabled=False),
    ):
        with pytest.raises(UserRefused, match="admin is the last enabled admin") as exc:
            call()
        assert exc.value.code == "last_admin"
    assert creds.read_bytes() == before
    # With a second admin, the first may go.
    _add(username="root2", role="admin", markets=None)
    users.remove_user(_admin(), "admin")
    assert set(access.load_users()) == {"exec", "strategist", "analyst", "root2", "bea"} - {"bea"}


def test_a_disabled_user_cannot_sign_in_and_their_sessions_end(creds):
    t0 = access.sessions_valid_after("analyst")
    users.change_user(_admin(), "analyst", role="analyst", markets=["BR", "MX"], disabled=True)
    assert "analyst" not in access.load_users()
    assert "analyst" not in access.authenticator_credentials()["usernames"]
    assert access.read_accounts()["analyst"].disabled
    assert (access.sessions_valid_after("analyst") or 0) > (t0 or 0)
    assert audit.entries()["what"][0] == "analyst: status enabled -> disabled"
    users.change_user(_admin(), "analyst", role="analyst", markets=["BR", "MX"], disabled=False)
    assert "analyst" in access.load_users()


def test_a_role_or_market_change_ends_sessions_and_says_what_changed(creds):
    users.change_user(_admin(), "analyst", role="strategist", markets=None, disabled=False)
    assert access.load_users()["analyst"].role == Role.STRATEGIST
    assert access.sessions_valid_after("analyst") is not None
    assert audit.entries()["what"][0] == (
        "analyst: role analyst -> strategist; markets BR, MX -> all markets"
    )
    with pytest.raises(UserRefused) as exc:
        users.change_user(_admin(), "analyst", role="strategist", markets=None, disabled=False)
    assert exc.value.code == "nothing_changed"
    with pytest.raises(UserRefused) as exc:
        users.change_user(_admin(), "nobody", role="strategist", markets=None, disabled=False)
    assert exc.value.code == "unknown_user"


def test_a_password_reset_ends_sessions_and_lifts_the_lockout(creds):
    log = access.SigninLog(access.signin_log_path())
    for i in range(12):
        log.record("analyst", "10.0.0.9", ok=False, now=1_000.0 + i)
    assert log.refusal("analyst", "10.0.0.9", now=1_020.0).locked
    users.reset_password(_admin(), "analyst", password=GOOD, repeated=GOOD)
    entry = yaml.safe_load(creds.read_text())["credentials"]["usernames"]["analyst"]
    assert bcrypt.checkpw(GOOD.encode(), entry["password"].encode())
    assert access.sessions_valid_after("analyst") is not None
    assert log.refusal("analyst", "10.0.0.9", now=1_020.0) is None
    assert audit.entries()["what"][0] == "analyst: new password set by an admin"


def test_lockouts_are_listed_and_lifted_by_an_admin(creds):
    log = access.SigninLog(access.signin_log_path())
    now = time.time()
    for i in range(10):
        log.record("exec", "10.0.0.7", ok=False, now=now - 30 + i)
    standing = {(s.kind, s.name): s for s in users.lockouts(_admin(), now=now)}
    assert standing["user", "exec"].failures == 10 and standing["user", "exec"].locked
    assert standing["client", "10.0.0.7"].locked
    users.lift_lockout(_admin(), standing["user", "exec"])
    users.lift_lockout(_admin(), standing["client", "10.0.0.7"])
    assert users.lockouts(_admin(), now=now) == []
    assert list(audit.entries()["action"][:2]) == ["lockout lifted", "lockout lifted"]


def test_the_credentials_file_is_replaced_whole_and_keeps_other_keys(creds):
    raw = yaml.safe_load(creds.read_text())
    raw["preauthorized"] = {"emails": ["x@y.z"]}
    creds.write_text(yaml.safe_dump(raw))
    inode = os.stat(creds).st_ino
    _add()
    assert os.stat(creds).st_ino != inode  # a new file swapped in, never written in place
    assert yaml.safe_load(creds.read_text())["preauthorized"] == {"emails": ["x@y.z"]}
    assert [p.name for p in creds.parent.iterdir() if p.name.endswith(".tmp")] == []


# --- the Users page -------------------------------------------------------------------------

PAGE = "../app_pages/users.py"


def _page(username: str = "admin") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    return at.run()


def _fill_add(at: AppTest, **fields) -> AppTest:
    values = (
        dict(
            username="bea", name="Bea Board", email="bea@acme.example", password=GOOD, repeated=GOOD
        )
        | fields
    )
    inputs = {t.label: t for t in at.text_input}
    inputs["User name"].input(values["username"])
    inputs["Name"].input(values["name"])
    inputs["Email"].input(values["email"])
    inputs["Password"].input(values["password"])
    inputs["Password again"].input(values["repeated"])
    return at


def _add_form(at: AppTest):
    role = next(s for s in at.selectbox if s.label == "Role" and s.placeholder == "Choose a role")
    every = at.checkbox(key="add0_all")
    markets = at.multiselect(key="add0_markets")
    return role, every, markets


def _submit(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click()
    return at.run()


def test_the_users_page_adds_a_user_the_list_and_sign_in_then_know(creds):
    at = _page()
    assert not at.exception
    assert [r["username"] for r in _rows(at)] == ["admin", "analyst", "exec", "strategist"]
    _fill_add(at)
    role, every, markets = _add_form(at)
    role.select("strategist")
    every.uncheck()
    markets.select("BR")
    at = _submit(at, "Add user")
    assert not at.exception and not at.error
    assert _plain(at.success) == "Added bea (strategist, BR)."
    bea = next(r for r in _rows(at) if r["username"] == "bea")
    assert (bea["role"], bea["markets"], bea["state"]) == ("strategist", "BR", "active")
    assert access.load_users()["bea"].scope.markets == ("BR",)
    # The form comes back empty: no password is left in a field.
    assert {t.label: t.value for t in at.text_input}["Password"] == ""
    assert at.checkbox(key="add1_all").value


def _plain(elements) -> str:
    """Return the text of message elements as a reader sees it (Markdown escapes removed)."""
    return " ".join(re.sub(r"\\(.)", r"\1", e.value) for e in elements)


def _rows(at: AppTest) -> list[dict]:
    return at.dataframe[0].value.to_dict("records")


@pytest.mark.parametrize(
    ("fields", "setup", "words"),
    [
        ({"username": "analyst"}, "strategist", "A user named 'analyst' already exists"),
        ({"password": "weakweak", "repeated": "weakweak"}, "strategist", "8 characters long"),
        ({}, None, "Choose a role"),
        ({}, "both", "Tick 'All markets' or choose markets, not both."),
    ],
)
def test_the_users_page_refuses_bad_input_and_changes_nothing(creds, fields, setup, words):
    before = creds.read_bytes()
    at = _page()
    _fill_add(at, **fields)
    role, every, markets = _add_form(at)
    if setup == "both":
        role.select("analyst")
        markets.select("BR")  # while "All markets" stays ticked
    elif setup:
        role.select(setup)
    at = _submit(at, "Add user")
    assert not at.exception and not at.success
    assert words in _plain(at.error)
    assert creds.read_bytes() == before


def test_the_users_page_refuses_an_unknown_market_from_a_tampered_session(creds):
    # The multiselect offers configured markets only; the library refuses anything else.
    with pytest.raises(UserRefused, match="Market 'ZZ'"):
        _add(markets=["ZZ"])


def test_the_users_page_disables_a_user_and_keeps_the_last_admin(creds):
    at = _page()
    at.selectbox(key="change_user").select("analyst").run()
    at.checkbox(key="change_analyst_disabled").check()
    at = _submit(at, "Save changes")
    assert not at.exception and not at.error
    assert "Changed analyst" in _plain(at.success)
    assert next(r for r in _rows(at) if r["username"] == "analyst")["state"] == "disabled"
    # The only admin demoting themself is refused, with the rule.
    at.selectbox(key="change_user").select("admin").run()
    at.selectbox(key="change_admin_role").select("executive")
    at = _submit(at, "Save changes")
    assert "admin is the last enabled admin" in _plain(at.error)
    assert access.load_users()["admin"].role == Role.ADMIN


def test_the_users_page_resets_a_password(creds):
    at = _page()
    form_user = next(s for s in at.selectbox if s.label == "User" and s.key != "change_user")
    form_user.select("exec")
    inputs = {t.label: t for t in at.text_input}
    inputs["New password"].input(GOOD)
    inputs["New password again"].input(GOOD)
    at = _submit(at, "Set password")
    assert not at.error and "Set a new password for exec" in _plain(at.success)
    stored = access.read_accounts()["exec"].password_hash
    assert bcrypt.checkpw(GOOD.encode(), stored.encode())


def test_the_users_page_is_refused_to_an_analyst_even_run_directly(creds):
    from streamlit import config

    before = config.get_option("client.showErrorDetails")
    config.set_option("client.showErrorDetails", "full")  # to tell the role check apart
    try:
        at = _page("analyst")
    finally:
        config.set_option("client.showErrorDetails", before)
    assert [e.message for e in at.exception] == [
        "Ana Analyst (analyst) may not do this; it needs the role admin."
    ]
    assert not data_elements(at.dataframe) and not at.title


def test_a_session_of_a_user_an_admin_disables_ends_on_its_next_run(creds):
    at = AppTest.from_file("../app.py", default_timeout=30)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = "analyst"
    at.run()
    assert not at.exception and data_elements(at.metric)  # the Overview, as analyst
    users.change_user(_admin(), "analyst", role="analyst", markets=["BR", "MX"], disabled=True)
    at.run()
    assert "your user was removed or disabled on this server" in _plain(at.info)
    assert not data_elements(at.metric)


# --- cxm users, from the server's shell -----------------------------------------------------


def test_the_first_admin_is_made_from_the_shell_and_signs_in(monkeypatch, tmp_path, tiny_warehouse):
    from typer.testing import CliRunner

    from cxm.cli import app

    path = tmp_path / "fresh" / "credentials.yaml"
    monkeypatch.setenv("CXM_CREDENTIALS", str(path))
    monkeypatch.setenv("CXM_WAREHOUSE", str(tiny_warehouse))
    args = ["users", "add", "alex", "--name", "Alex Admin", "--email", "alex@acme.example"]
    result = CliRunner().invoke(app, [*args, "--role", "admin"], input=f"{GOOD}\n{GOOD}\n")
    assert result.exit_code == 0, result.output
    assert "Added alex (admin, all markets)." in result.output
    assert access.load_users()["alex"].role == Role.ADMIN
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    row = audit.entries().row(0, named=True)
    assert row["username"].startswith("shell:") and row["what"] == "alex: admin, all markets"
    # A weak password is refused with the rule, exit 1, nothing written.
    before = path.read_bytes()
    result = CliRunner().invoke(
        app,
        [
            "users",
            "add",
            "bo",
            "--name",
            "Bo",
            "--email",
            "bo@acme.example",
            "--role",
            "analyst",
            "--market",
            "BR",
        ],
        input="short\nshort\n",
    )
    assert result.exit_code == 1 and "is 5 characters long" in result.output
    assert path.read_bytes() == before


def test_a_locked_out_admin_gets_back_in_from_the_shell(creds):
    from typer.testing import CliRunner

    from cxm.cli import app

    log = access.SigninLog(access.signin_log_path())
    for i in range(10):
        log.record("admin", None, ok=False, now=time.time() - 20 + i)
    listed = CliRunner().invoke(app, ["users", "list"])
    assert listed.exit_code == 0 and "locked" in listed.output
    result = CliRunner().invoke(app, ["users", "set-password", "admin"], input=f"{GOOD}\n{GOOD}\n")
    assert result.exit_code == 0, result.output
    assert log.refusal("admin", None, now=time.time()) is None
    assert bcrypt.checkpw(GOOD.encode(), access.read_accounts()["admin"].password_hash.encode())
    result = CliRunner().invoke(app, ["users", "lift", "admin"])
    assert "admin has no failed sign-ins to lift." in result.output
