"""Roles and market scope come from the server's file, and scope is applied inside queries."""

from __future__ import annotations

import base64
import json
import secrets

import jwt
import pytest
import yaml

from cxm import access
from cxm.access import NotAllowed, Role, Scope, User, require_role
from cxm.errors import ConfigError
from cxm.pipeline import open_scoped
from cxm.warehouse.scoped import ScopeUnavailable
from cxm.warehouse.summary import market_summary
from tests.conftest import company


def test_demo_credentials_store_bcrypt_hashes_and_roles_with_scope(tmp_path):
    path = access.write_demo_credentials(tmp_path / "credentials.yaml")
    text = path.read_text()
    assert "exec-demo-2026" not in text and "$2b$" in text
    users = access.load_users(path)
    assert users["analyst"].role is Role.ANALYST
    assert users["analyst"].scope == Scope(markets=("BR", "MX"))
    assert users["admin"].scope.markets is None
    assert oct(path.stat().st_mode & 0o777) == "0o600"


BCRYPT_SHAPED = "$2b$10$" + "a" * 53


def _bob(tmp_path, password: str = BCRYPT_SHAPED, role: str = "analyst", more: dict | None = None):
    """Write a credentials file holding one user, bob, and return its path."""
    entry = {"name": "Bob", "email": "b@x", "password": password, "role": role, **(more or {})}
    path = tmp_path / "credentials.yaml"
    path.write_text(yaml.safe_dump({"credentials": {"usernames": {"bob": entry}}}))
    return path


def test_a_clear_text_password_in_the_credentials_file_is_refused_with_the_user_named(tmp_path):
    with pytest.raises(ConfigError, match=r"user 'bob': password"):
        access.load_users(_bob(tmp_path, password="hunter2"))


@pytest.mark.parametrize(
    "more, expected", [({}, None), ({"markets": []}, ()), ({"markets": ["BR"]}, ("BR",))]
)
def test_no_markets_key_means_everywhere_but_an_empty_list_means_nowhere(tmp_path, more, expected):
    assert access.load_users(_bob(tmp_path, more=more))["bob"].scope.markets == expected


def test_a_user_scoped_to_an_unknown_market_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"user 'bob': markets \['UK'\] are not configured"):
        access.load_users(_bob(tmp_path, more={"markets": ["UK"]}))


def test_an_unknown_role_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"user 'bob': role"):
        access.load_users(_bob(tmp_path, role="owner"))


@pytest.mark.parametrize(
    ("key", "demo", "code"),
    [
        (secrets.token_urlsafe(48), False, None),
        (secrets.token_hex(32), False, None),
        ("q3J9vX2mTz8LwPa5RkYd0NfBh7UcGs4E", False, None),  # zxcvbn: 10^32 guesses
        # secrets.token_hex(16): 32 random hex digits, 10^31.5 guesses (128 bits in truth).
        ("096af78ffc298a11814a9ed9ecf78f34", False, None),
        ("k" * 32, False, "weak_cookie_key"),  # one character repeated: 10^2.6 guesses
        ("k" * 32, True, "weak_cookie_key"),  # a key that is set must be strong, demo or not
        ("ab" * 64, False, "weak_cookie_key"),  # a repeat
        ("changeme" * 4, False, "weak_cookie_key"),  # a word repeated
        # Issue 20 finding 4: both passed the old length-and-shape rule (40 bytes of 10
        # distinct characters, 133 bits by their counts; 32 bytes of 16, 128 bits), and are a
        # run repeated: zxcvbn puts both near 10^2 guesses.
        ("0123456789" * 4, False, "weak_cookie_key"),
        ("abcdefghijklmnop" * 2, False, "weak_cookie_key"),
        ("q3J9vX2mTz8LwPa5RkYd0NfBh7UcGs4", False, "weak_cookie_key"),  # 31 bytes
        ("", False, "missing_cookie_key"),
        ("", True, None),  # demo mode: a random key for this process
    ],
    ids=[
        "token_urlsafe-48",
        "token_hex-32",
        "32-distinct",
        "token_hex-16",
        "32-identical",
        "32-identical-in-demo-mode",
        "two-letters-x64",
        "a-word-x4",
        "digits-x4",
        "sixteen-letters-x2",
        "31-bytes",
        "unset",
        "unset-in-demo-mode",
    ],
)
def test_the_cookie_key_must_be_long_and_strong_unless_unset_in_explicit_demo_mode(
    monkeypatch, key, demo, code
):
    monkeypatch.setenv("CXM_COOKIE_KEY", key)
    monkeypatch.setenv("CXM_DEMO", "1" if demo else "")
    if code is None:
        assert access.cookie_key_problem(access.cookie_key()) is None
        return
    with pytest.raises(
        ConfigError, match=rf"^cxm will not start: CXM_COOKIE_KEY .*\[{code}\]"
    ) as e:
        access.cookie_key()
    assert "`cxm key`" in str(e.value) and "secrets.token_urlsafe(48)" in str(e.value)
    if len(key) >= 32:  # the rule broken is named: the guesses needed, by zxcvbn
        assert "a key needs at least 10^26 guesses and 32 bytes" in str(e.value)
    if key:
        assert key not in str(e.value)  # the secret itself is never shown


def test_cxm_key_prints_a_new_strong_key_each_time(monkeypatch):
    from typer.testing import CliRunner

    from cxm.cli import app

    keys = [CliRunner().invoke(app, ["key"]) for _ in range(2)]
    assert [k.exit_code for k in keys] == [0, 0]
    first, second = (k.stdout.strip() for k in keys)
    # secrets.token_urlsafe(48): 48 random bytes in 64 URL-safe characters, one line.
    assert len(first) == 64 and keys[0].stdout == first + "\n" and first != second
    monkeypatch.setenv("CXM_COOKIE_KEY", first)
    monkeypatch.delenv("CXM_DEMO", raising=False)
    assert access.cookie_key() == first


def test_only_the_named_roles_pass_require_role():
    analyst = User(username="a", name="Ana", email="a@x", role=Role.ANALYST)
    assert require_role(analyst, Role.ANALYST, Role.ADMIN) is analyst
    with pytest.raises(
        NotAllowed, match=r"Ana \(analyst\) may not do this; it needs the role admin"
    ):
        require_role(analyst, Role.ADMIN)
    with pytest.raises(NotAllowed, match="Nobody is signed in"):
        require_role(None, Role.ADMIN)


def test_the_market_summary_never_returns_a_market_outside_the_scope(tiny_warehouse_template):
    with company(tiny_warehouse_template) as everyone, company(tiny_warehouse_template, "BR") as br:
        everywhere = market_summary(everyone)
        brazil = market_summary(br)
    # Tiny company: US S01-S04 + S12 = 5 sellers, BR S05-S08 + S11 = 5, CA S09-S10 = 2.
    assert dict(everywhere.select("market", "sellers").iter_rows()) == {"US": 5, "BR": 5, "CA": 2}
    # BR: customers C05-C07; orders O008-O011 = 55 + 55 + 89 + 120 = 319.
    assert brazil.select(
        "market", "sellers", "terminated_sellers", "customers", "orders", "revenue_amount"
    ).rows() == [("BR", 5, 1, 3, 4, 319.0)]
    # A market code that is not one (an injection attempt) is refused by name, nothing read.
    with pytest.raises(ScopeUnavailable, match=r"BR', 'US.*\[bad_scope_market\]"):
        with company(tiny_warehouse_template, "BR', 'US"):
            pass


@pytest.mark.parametrize(
    "markets",
    [
        (),
        ("US",),
        ("BR",),
        ("CA",),
        ("US", "BR"),
        ("US", "CA"),
        ("BR", "CA"),
        ("US", "BR", "CA"),
        ("MX",),
        ("BR", "MX"),
    ],
)
def test_every_scope_sees_exactly_its_own_markets_rows(tiny_warehouse_template, markets):
    # The tiny company has no tie across markets, so each market reads as it does for all.
    with company(tiny_warehouse_template) as everyone:
        full = {r[0]: r for r in market_summary(everyone).rows()}
    scope = Scope(markets=markets)
    with open_scoped(scope, path=tiny_warehouse_template) as mine:
        scoped = market_summary(mine).rows()
    assert {r[0] for r in scoped} == set(markets) & set(full)
    assert all(r == full[r[0]] for r in scoped)


def test_a_changed_credentials_file_is_read_again_on_the_next_call(tmp_path):
    # The app asks on every run; a user demoted or removed must not keep their old rights.
    path = _bob(tmp_path, role="admin")
    assert access.load_users(path)["bob"].role is Role.ADMIN
    _bob(tmp_path, role="executive", more={"markets": ["BR"]})
    assert access.load_users(path)["bob"].role is Role.EXECUTIVE
    path.write_text("credentials:\n  usernames: {}\n")
    assert access.load_users(path) == {}


# The login cookie (issue 15): a token is accepted only when everything about it verifies.
KEY = "q3J9vX2mTz8LwPa5RkYd0NfBh7UcGs4E"  # 32 bytes, 32 distinct characters
NOW = 1_800_000_000.0
DAY = 86_400.0


def _token(claims: dict, key: str = KEY, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def _unsigned(claims: dict) -> str:
    part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _verify(token: str) -> str:
    return access.verify_login_token(
        token, key=KEY, usernames={"ana", "alex"}, now=NOW, lifetime_seconds=DAY
    )


def test_a_token_the_server_signed_for_a_known_user_names_that_user():
    assert _verify(_token({"username": "ana", "exp_date": NOW + DAY})) == "ana"
    assert _verify(_token({"username": "alex", "exp_date": NOW + 1})) == "alex"


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("not-a-token", "not_a_token"),
        ("", "not_a_token"),
        ("a.b.c", "not_a_token"),
        (_unsigned({"username": "ana", "exp_date": NOW + 60}), "wrong_algorithm"),
        (_token({"username": "ana", "exp_date": NOW + 60}, KEY * 2, "HS512"), "wrong_algorithm"),
        (_token({"username": "ana", "exp_date": NOW + 60}, key="x" * 32), "bad_signature"),
        (_token({"username": "ana"}), "no_expiry"),
        (_token({"username": "ana", "exp_date": "tomorrow"}), "no_expiry"),
        (_token({"username": "ana", "exp_date": True}), "no_expiry"),
        (_token({"username": "ana", "exp_date": NOW}), "expired"),
        (_token({"username": "ana", "exp_date": NOW - 1}), "expired"),
        # A standard exp claim in the past (PyJWT checks it against the real clock).
        (_token({"username": "ana", "exp_date": NOW + 60, "exp": 1}), "expired"),
        # One day of life, plus a minute of clock slack, is the most this server ever signs.
        (_token({"username": "ana", "exp_date": NOW + DAY + 61}), "expiry_too_far"),
        (_token({"exp_date": NOW + 60}), "no_user"),
        (_token({"username": ["ana"], "exp_date": NOW + 60}), "no_user"),
        (_token({"username": "mallory", "exp_date": NOW + 60}), "unknown_user"),
    ],
)
def test_a_token_that_does_not_verify_is_rejected_with_its_code(token, code):
    with pytest.raises(access.LoginTokenRejected) as caught:
        _verify(token)
    assert caught.value.code == code
    assert f"[{code}]" in str(caught.value)


# Revocable sessions (issue 15 item 2): a token issued before its user's sessions were ended
# no longer signs in. Life is one day here (DAY), so a token without issued_at was issued at
# exp_date - DAY.
@pytest.mark.parametrize(
    ("claims", "ended", "accepted"),
    [
        # Issued NOW - 100 (exp NOW + DAY - 100); sessions ended at NOW - 50: refused.
        ({"exp_date": NOW + DAY - 100}, NOW - 50, False),
        # The same token, sessions ended at NOW - 150, before it was issued: accepted.
        ({"exp_date": NOW + DAY - 100}, NOW - 150, True),
        # Issued exactly when the sessions were ended: refused (at or before).
        ({"exp_date": NOW + DAY - 100}, NOW - 100, False),
        # issued_at claims NOW - 10, but a one-day life from exp_date says NOW - 100: the
        # earlier counts, so ending sessions at NOW - 50 refuses it.
        ({"exp_date": NOW + DAY - 100, "issued_at": NOW - 10}, NOW - 50, False),
        # Issued NOW - 3000 by its issued_at (signed when cookies lived longer): ending
        # sessions at NOW - 1000 refuses it, though exp_date - DAY alone says NOW - 100.
        ({"exp_date": NOW + DAY - 100, "issued_at": NOW - 3000}, NOW - 1000, False),
        ({"exp_date": NOW + DAY - 100, "issued_at": NOW - 10}, NOW - 150, True),
        ({"exp_date": NOW + DAY - 100}, None, True),  # never ended
    ],
)
def test_a_token_issued_before_the_users_sessions_were_ended_is_revoked(claims, ended, accepted):
    token = _token({"username": "ana", **claims})
    asked = []

    def valid_after(username):
        asked.append(username)
        return ended

    verify = lambda: access.verify_login_token(  # noqa: E731
        token, key=KEY, usernames={"ana"}, now=NOW, lifetime_seconds=DAY, valid_after=valid_after
    )
    if accepted:
        assert verify() == "ana"
    else:
        with pytest.raises(access.LoginTokenRejected) as caught:
            verify()
        assert (caught.value.code, caught.value.username) == ("revoked", "ana")
    assert asked == ["ana"]  # asked about the signed token's user only


def test_revoke_sessions_is_kept_beside_the_credentials_and_never_moves_back(monkeypatch, tmp_path):
    monkeypatch.setenv("CXM_CREDENTIALS", str(tmp_path / "credentials.yaml"))
    assert access.sessions_valid_after("ana") is None
    access.revoke_sessions("ana", now=NOW)
    access.revoke_sessions("ana", now=NOW - 10)  # a late, older call does not reopen anything
    assert access.sessions_valid_after("ana") == NOW
    assert access.sessions_valid_after("bob") is None
    assert (tmp_path / "credentials.signins.sqlite").exists()
