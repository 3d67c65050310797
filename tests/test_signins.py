"""Failed sign-ins slow down, then lock, a user name and a client; kept in a file that outlives
the session and the warehouse (issue 15). Times are passed in: nothing here sleeps."""

from __future__ import annotations

import bcrypt
import pytest
from streamlit.testing.v1 import AppTest

from cxm import access
from cxm.access import Attempt, Refusal, SigninLog, delay_after, password_matches
from cxm.access._signins import (
    FORGET_AFTER_SECONDS,
    LOCK_SECONDS,
    MAX_DELAY_SECONDS,
    NAME_MAX_HOLD_SECONDS,
)
from tests.conftest import data_elements

T0 = 1_800_000_000.0


@pytest.fixture
def log(tmp_path) -> SigninLog:
    return SigninLog(tmp_path / "signins.sqlite")


def _fail(log: SigninLog, times: int, username="ana", client="10.0.0.1", start=T0, step=0.0):
    for i in range(times):
        log.record(username, client, ok=False, now=start + i * step)


def test_three_failures_are_free_then_each_doubles_the_wait(log):
    _fail(log, 2)
    assert log.refusal("ana", "10.0.0.1", now=T0) is None
    _fail(log, 1)  # 3 failures, the last at T0: the next attempt waits 1 s
    assert log.refusal("ana", "10.0.0.1", now=T0 + 0.5).wait_seconds == pytest.approx(0.5)
    assert log.refusal("ana", "10.0.0.1", now=T0 + 1.0) is None
    _fail(log, 2, start=T0 + 1.0)  # 5 failures: 4 s after the last
    refusal = log.refusal("ana", "10.0.0.1", now=T0 + 1.0)
    assert refusal.wait_seconds == pytest.approx(4.0) and not refusal.locked


def test_ten_failures_lock_the_name_on_that_client_only_and_elsewhere_only_hold_it(log):
    # Issue 20 finding 3: ten wrong passwords sent by anyone locked the name in every browser.
    _fail(log, 10, step=120.0)  # slow enough that no attempt was refused; the last at T0+1080
    last = T0 + 9 * 120.0
    refusal = log.refusal("ana", "10.0.0.1", now=last + 60)  # the guessing client: locked
    assert refusal.locked and refusal.wait_seconds == pytest.approx(LOCK_SECONDS - 60)
    assert log.refusal("ana", "10.0.0.1", now=last + LOCK_SECONDS) is None
    # Another client is never refused; its attempt is held by the name's 10 failures:
    # 2 ** (10 - 3) = 128 s, capped at 4 s, counted from the last failure -> 3 s left 1 s on.
    assert log.refusal("ana", "192.168.1.9", now=last + 1) is None
    attempt = log.begin("ana", "192.168.1.9", now=last + 1)
    assert isinstance(attempt, Attempt) and attempt.hold_seconds == pytest.approx(3.0)


def test_a_name_failing_from_many_clients_is_held_at_most_four_seconds(log):
    # (name_hold's doctest: 5,000 failures still hold 4 s; 2 ** 4997 would overflow a float.)
    for i in range(60):
        log.record("ana", f"10.0.{i}.1", ok=False, now=T0 + i)
    last = T0 + 59
    assert log.refusal("ana", "192.168.1.9", now=last) is None
    assert log.refusal("ana", "10.0.0.1", now=last) is None  # one failure from each client
    assert log.hold("ana", now=last) == NAME_MAX_HOLD_SECONDS
    assert log.hold("ana", now=last + 4) == 0.0
    (ana,) = [s for s in log.standing(now=last) if s.kind == "user"]
    assert ana.failures == 60 and len(ana.others) == 60 and not ana.locked


def test_the_client_is_counted_across_names(log):
    for i, name in enumerate(["ana", "bob", "cy", "dee"]):
        log.record(name, "10.0.0.1", ok=False, now=T0 + i)
    # Each name failed once; the client four times: 2 s after its last failure (T0 + 3).
    assert log.refusal("eve", "10.0.0.1", now=T0 + 3).wait_seconds == pytest.approx(2.0)
    assert log.refusal("eve", "10.0.0.2", now=T0 + 3) is None


def test_a_client_failing_with_many_names_waits_at_most_a_minute_and_is_never_locked(log):
    for i in range(40):  # 40 names, one failure each, 100 s apart: none was refused
        log.record(f"user{i}", "10.0.0.1", ok=False, now=T0 + 100 * i)
    last = T0 + 3900
    refusal = log.refusal("anyone", "10.0.0.1", now=last)
    assert not refusal.locked and refusal.wait_seconds == pytest.approx(MAX_DELAY_SECONDS)
    # Failures older than an hour are gone: those at T0 + 0 .. T0 + 200 (3 of them) -> 37.
    (client,) = [s for s in log.standing(now=last) if s.kind == "client"]
    assert client.failures == 37 and not client.locked


def test_a_success_forgets_its_pairs_failures_but_not_the_clients_with_other_names(log):
    for i, name in enumerate(["bob", "cy", "ana", "ana"]):
        log.record(name, "10.0.0.1", ok=False, now=T0 + i)
    log.record("ana", "10.0.0.1", ok=True, now=T0 + 100)  # the attacker's own account
    assert log.refusal("ana", "10.0.0.1", now=T0 + 100) is None
    # bob's and cy's failures stand (2); one more makes 3 -> 1 s after it.
    log.record("dee", "10.0.0.1", ok=False, now=T0 + 100)
    assert log.refusal("carl", "10.0.0.1", now=T0 + 100).wait_seconds == pytest.approx(1.0)


def test_failures_older_than_an_hour_are_forgotten(log):
    _fail(log, 9)
    later = T0 + FORGET_AFTER_SECONDS + 1
    assert log.refusal("ana", "10.0.0.1", now=later) is None
    log.record("ana", "10.0.0.1", ok=False, now=later)  # counts from 1 again
    assert log.refusal("ana", "10.0.0.1", now=later) is None


def test_the_count_survives_a_new_log_on_the_same_file(log):
    _fail(log, 10)
    again = SigninLog(log.path)
    assert again.refusal("ana", "10.0.0.1", now=T0 + 1).locked


def test_an_admin_can_lift_a_lockout(log):
    _fail(log, 10, client="10.0.0.1")
    log.lift("ana")
    assert log.refusal("ana", "10.0.0.1", now=T0 + 1) is None


def test_begin_refuses_without_counting_and_counts_what_it_lets_through(log):
    _fail(log, 3)  # the pair's 3 free failures, the last at T0: 1 s to wait
    assert isinstance(log.begin("ana", "10.0.0.1", now=T0 + 0.5), Refusal)
    attempt = log.begin("ana", "10.0.0.1", now=T0 + 1)  # let through, counted: 4 -> 2 s
    assert log.refusal("ana", "10.0.0.1", now=T0 + 1).wait_seconds == pytest.approx(2.0)
    log.finish(attempt, ok=True)  # the right password: the pair's failures are forgotten
    assert log.refusal("ana", "10.0.0.1", now=T0 + 1) is None


def test_a_name_under_attack_is_reported_once_an_hour(log):
    # 5 failures from one client: not yet (10 are needed from one, or 6 from two or more).
    assert all(log.record("ana", "10.0.0.1", ok=False, now=T0 + i) is None for i in range(5))
    found = log.record("ana", "10.0.0.2", ok=False, now=T0 + 5)  # the 6th, from a 2nd client
    assert (found.failures, found.others, found.under_attack) == (6, ("10.0.0.1", "10.0.0.2"), True)
    assert log.record("ana", "10.0.0.3", ok=False, now=T0 + 6) is None  # reported already
    assert [s.name for s in log.under_attack(now=T0 + 6)] == ["ana"]
    again = log.record("ana", "10.0.0.3", ok=False, now=T0 + 6 + FORGET_AFTER_SECONDS)
    assert again is None  # the old failures are forgotten: one failure is no attack
    # Ten from a single client are an attack too.
    assert [log.record("bob", "10.0.0.9", ok=False, now=T0 + i) for i in range(10)][
        -1
    ].failures == 10


def test_the_file_is_readable_by_its_owner_only(log):
    assert oct(log.path.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(("failures", "seconds"), [(0, 0), (2, 0), (3, 1), (4, 2), (8, 32)])
def test_the_delay_doubles_after_the_free_failures(failures, seconds):
    assert delay_after(failures) == seconds


def test_every_password_check_costs_one_bcrypt_check_of_the_users_cost(monkeypatch):
    # An unknown name, a known one and an over-long password all do the same work.
    stored = bcrypt.hashpw(b"right", bcrypt.gensalt(5)).decode()
    calls = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda pw, h: calls.append(h[:7]) or real(pw, h))
    assert password_matches("right", stored, cost=5)
    assert not password_matches("wrong", stored, cost=5)
    assert not password_matches("right", None, cost=5)
    assert not password_matches("x" * 73, stored, cost=5)
    assert calls == [b"$2b$05$"] * 4


APP = "../app.py"
NOW = 1_800_000_000.0


@pytest.fixture
def app(monkeypatch, tmp_path, tiny_warehouse, demo_credentials):
    """Return (AppTest factory, clock) on the tiny company, with time set by the test."""
    from cxm.ui import access as ui_access

    clock = [NOW]
    monkeypatch.setattr(ui_access, "_now", lambda: clock[0])
    credentials = demo_credentials
    monkeypatch.setenv("CXM_WAREHOUSE", str(tiny_warehouse))
    monkeypatch.setenv("CXM_CREDENTIALS", str(credentials))
    monkeypatch.setenv("CXM_DEMO", "1")
    monkeypatch.delenv("CXM_COOKIE_KEY", raising=False)
    return AppTest.from_file(APP, default_timeout=30).run(), clock


def _try(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    return at.button(key="FormSubmitter:login-Login").click().run()


def _refused(at: AppTest) -> str:
    return " ".join(e.value for e in at.error)


def test_after_three_wrong_passwords_even_the_right_one_waits(app, tmp_path):
    at, clock = app
    for _ in range(3):
        assert _refused(_try(at, "admin", "wrong")) == "Username or password is incorrect."
    # The issue's attack: guesses in a row, then the right password at once.
    assert "signing in is paused for 1 second." in _refused(_try(at, "admin", "admin-demo-2026"))
    assert not data_elements(at.metric)
    clock[0] += 1
    _try(at, "admin", "admin-demo-2026").run()
    assert data_elements(at.metric) and not at.error
    assert (tmp_path / "credentials.signins.sqlite").exists()  # beside the credentials file


def test_ten_wrong_passwords_lock_the_name_and_an_unknown_name_reads_the_same(app):
    at, clock = app
    for name in ("admin", "nobody"):
        for _ in range(10):
            _try(at, name, "wrong")
            clock[0] += 100  # slower than any delay: every guess is checked
        clock[0] -= 99  # one second after the tenth failure
        message = _refused(_try(at, name, "admin-demo-2026"))
        assert "signing in is locked for 15 minutes" in message, name
        clock[0] += 3600  # and the lockout of the name (and of this client) is over
    _try(at, "admin", "admin-demo-2026").run()
    assert data_elements(at.metric)


# The audit trail of sign-ins (issue 15 items 1 and 7): every attempt, with the name as typed,
# the client and why; never the password.
def _trail(tiny_warehouse) -> list[dict]:
    from cxm.warehouse import audit

    trail = audit.entries(path=tiny_warehouse.with_suffix(".audit.sqlite"))
    return list(reversed(trail.to_dicts()))  # oldest first


def _events(trail: list[dict]) -> list[tuple[str, str, str, str]]:
    return [(e["action"], e["username"], e["role"], e["what"]) for e in trail]


def test_every_sign_in_attempt_is_audited_with_why_and_never_the_password(app, tiny_warehouse):
    at, clock = app
    for _ in range(3):
        _try(at, "admin", "wrong-2")
    _try(at, "admin", "admin-demo-2026")  # the 4th attempt in a row waits 1 s: throttled
    clock[0] += 1
    _try(at, "admin", "admin-demo-2026").run()
    assert data_elements(at.metric)
    clock[0] += 3600  # the client's three failures forgotten, or the next would wait
    _try(AppTest.from_file(APP, default_timeout=30).run(), "nobody", "guess-1")
    client = "local"  # AppTest, like the server's own host, has no client address
    assert _events(_trail(tiny_warehouse)) == [
        *[("sign-in failed", "admin", "admin", f"wrong password, from {client}")] * 3,
        ("sign-in failed", "admin", "admin", f"throttled (1 s to wait), from {client}"),
        ("sign-in", "admin", "admin", f"password, from {client}"),
        ("sign-in failed", "nobody", "", f"unknown user, from {client}"),
    ]
    audit_file = tiny_warehouse.with_suffix(".audit.sqlite").read_bytes()
    for secret in (b"guess-1", b"wrong-2", b"admin-demo-2026"):
        assert secret not in audit_file


def test_a_locked_name_is_audited_as_locked_out(app, tiny_warehouse):
    at, clock = app
    for _ in range(10):
        _try(at, "exec", "wrong")
        clock[0] += 100
    clock[0] -= 99  # one second after the tenth failure: 899 s of the lockout left
    _try(at, "exec", "exec-demo-2026")
    assert _events(_trail(tiny_warehouse))[-1] == (
        "sign-in failed",
        "exec",
        "executive",
        "locked out (899 s to wait), from local",
    )


def _sign_out(at: AppTest) -> AppTest:
    return at.sidebar.button(key="cxm_sign_out").click().run().run()  # the form: next run


ENDED = "sessions ended after this one signed in"


def test_sign_out_is_audited_and_ends_the_users_other_sessions(app, tiny_warehouse):
    at, clock = app
    _try(at, "analyst", "analyst-demo-2026").run()
    other = AppTest.from_file(APP, default_timeout=30).run()  # another browser, same user
    _try(other, "analyst", "analyst-demo-2026").run()
    assert data_elements(at.metric) and data_elements(other.metric)
    clock[0] += 5
    _sign_out(at)
    assert not data_elements(at.metric) and at.text_input  # the form again
    assert access.sessions_valid_after("analyst") == NOW + 5
    other.run()  # its next run: signed out, with why
    assert not data_elements(other.metric)
    assert "your sessions were ended" in " ".join(i.value for i in other.info)
    clock[0] += 5
    _try(other, "analyst", "analyst-demo-2026").run()  # signing in again works
    assert data_elements(other.metric)
    assert _events(_trail(tiny_warehouse))[1:] == [
        ("sign-in", "analyst", "analyst", "password, from local"),
        ("sign-out", "analyst", "analyst", "signed out, from local"),
        ("session refused", "analyst", "analyst", f"{ENDED}, from local"),
        ("sign-in", "analyst", "analyst", "password, from local"),
    ]
    assert _trail(tiny_warehouse)[0]["scope"] == "BR, MX"


def test_a_session_whose_user_was_removed_is_audited_as_refused(app, tiny_warehouse, tmp_path):
    import yaml

    at, _ = app
    _try(at, "exec", "exec-demo-2026").run()
    path = tmp_path / "credentials.yaml"
    raw = yaml.safe_load(path.read_text())
    del raw["credentials"]["usernames"]["exec"]
    path.write_text(yaml.safe_dump(raw))
    at.run()
    assert not data_elements(at.metric)
    assert _events(_trail(tiny_warehouse))[-1] == (
        "session refused",
        "exec",
        "",
        "user removed or disabled, from local",
    )


def test_the_data_page_shows_admins_the_sign_ins(app):
    at, clock = app
    _try(at, "exec", "wrong")  # one failure, then the admin signs in
    clock[0] += 1
    _try(at, "admin", "admin-demo-2026").run()
    at.switch_page("app_pages/data.py").run()
    trail = at.dataframe[-1].value  # the audit trail is the page's last table
    assert list(zip(trail["action"], trail["username"], strict=True)) == [
        ("sign-in", "admin"),  # newest first
        ("sign-in failed", "exec"),
    ]
    assert "sign-ins (failed ones too" in " ".join(c.value for c in at.caption)


def test_an_active_users_cookie_is_signed_again_each_hour_with_a_new_issue_time(app, monkeypatch):
    import extra_streamlit_components as stx
    import jwt as pyjwt

    from cxm.ui import access as ui_access

    renewed = []
    original = stx.CookieManager.set

    def spy(self, cookie, val, key="set", **kw):
        if key == "cxm_renew_cookie":
            renewed.append((cookie, val, kw["expires_at"]))
        return original(self, cookie, val, key=key, **kw)

    monkeypatch.setattr(stx.CookieManager, "set", spy)
    at, clock = app
    _try(at, "analyst", "analyst-demo-2026").run()
    assert data_elements(at.metric)
    clock[0] += 59 * 60
    at.run()
    assert renewed == []  # signed 59 minutes ago: nothing to do
    clock[0] += 2 * 60
    at.run()
    assert len(renewed) == 1
    name, token, expires = renewed[0]
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert name == ui_access.COOKIE_NAME and claims["username"] == "analyst"
    assert claims["issued_at"] == pytest.approx(NOW + 61 * 60)
    assert claims["exp_date"] == pytest.approx(NOW + 61 * 60 + 12 * 3600)
    assert expires.timestamp() == pytest.approx(claims["exp_date"])
    clock[0] += 30 * 60
    at.run()
    assert len(renewed) == 1  # the next renewal is an hour after this one
    # Signing out still ends a renewed cookie: it was issued before the sign-out.
    access.revoke_sessions("analyst", now=clock[0] + 1)
    with pytest.raises(access.LoginTokenRejected, match=r"\[revoked\]"):
        access.verify_login_token(
            token,
            key=access.cookie_key(),
            usernames={"analyst"},
            now=clock[0] + 2,
            lifetime_seconds=12 * 3600,
            valid_after=access.sessions_valid_after,
        )


def test_connections_from_the_servers_own_host_count_as_one_client_named_local(app):
    # Issue 20 finding 3: from the server's own host the client was "unknown" and not counted
    # at all. AppTest, like that host, has no address: it is the one client "local".
    at, clock = app
    for i in range(12):  # 12 names, 100 s apart: slower than any delay, none refused
        _try(at, f"guess{i}", "wrong")
        clock[0] += 100
    clock[0] -= 100  # at the 12th failure: the client waits 2 ** (12 - 3) s, capped at 60 s
    message = _refused(_try(at, "admin", "admin-demo-2026"))
    assert "signing in is paused for 60 seconds" in message and not data_elements(at.metric)
    clock[0] += 60  # a client's failures slow it down; they never lock it out
    _try(at, "admin", "admin-demo-2026").run()
    assert data_elements(at.metric)
    log = SigninLog(access.signin_log_path())
    (local,) = [s for s in log.standing(now=clock[0]) if s.kind == "client"]
    assert (local.name, local.failures, local.locked) == ("local", 12, False)


ATTACKER = "203.0.113.9"


def _attacked(count: int, username: str = "admin", start: float = NOW - 60) -> None:
    """Record ``count`` failed sign-ins for ``username`` from the attacker, one a second."""
    log = SigninLog(access.signin_log_path())
    for i in range(count):
        log.record(username, ATTACKER, ok=False, now=start + i)


def test_an_attackers_wrong_passwords_from_another_client_only_hold_the_user_a_few_seconds(
    app, monkeypatch, tiny_warehouse
):
    # Issue 20 finding 3: ten wrong passwords from anywhere locked the admin out everywhere.
    from cxm.ui import access as ui_access

    slept = []
    monkeypatch.setattr(ui_access, "_sleep", slept.append)
    at, _ = app
    _attacked(12, start=NOW - 12)  # 12 failures, the last at NOW - 1: the attacker is locked
    log = SigninLog(access.signin_log_path())
    assert log.refusal("admin", ATTACKER, now=NOW).locked
    _try(at, "admin", "admin-demo-2026").run()  # the admin, from the server's host
    assert data_elements(at.metric) and not at.error
    # The name's 12 failures hold an attempt 2 ** 9 s, capped at 4 s, from the last failure
    # (NOW - 1): 3 s left.
    assert slept == [pytest.approx(3.0)]
    assert log.refusal("admin", ATTACKER, now=NOW).locked  # the attacker stays locked
    assert _events(_trail(tiny_warehouse))[-1] == (
        "sign-in",
        "admin",
        "admin",
        "password, from local",
    )


def test_a_name_under_attack_is_audited_once_and_shown_on_the_users_page(app, tiny_warehouse):
    at, clock = app
    _attacked(5, username="exec")  # 5 failures from the attacker; one more from here makes
    _try(at, "exec", "wrong")  # 6 from 2 clients: under attack, audited once
    clock[0] += 100
    _try(at, "exec", "wrong again")
    clock[0] += 100
    events = _events(_trail(tiny_warehouse))
    attack = "6 failed sign-ins in the last hour from 2 clients (203.0.113.9, local), from local"
    assert events == [
        ("sign-in failed", "exec", "executive", "wrong password, from local"),
        ("name under attack", "exec", "executive", attack),
        ("sign-in failed", "exec", "executive", "wrong password, from local"),
    ]
    _try(at, "admin", "admin-demo-2026").run()
    at.switch_page("app_pages/users.py").run()
    assert "Names under attack" in " ".join(w.value for w in at.warning)
    shown = at.dataframe[0].value  # the first table: the names under attack
    assert shown.to_dict("records") == [
        {"name": "exec", "failures": 7, "clients": 2, "from": "203.0.113.9, local"}
    ]
