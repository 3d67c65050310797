"""Which client a sign-in attempt is counted against (issue 20 finding 3): X-Forwarded-For only
from a configured proxy, the server's own host as one client "local", and checking and counting
an attempt as one step, so that parallel attempts cannot all pass before any is counted."""

from __future__ import annotations

import threading

import pytest
from streamlit.testing.v1 import AppTest

from cxm import access
from cxm.access import LOCAL, SigninLog, client_address, trusted_proxies
from cxm.errors import SettingsError
from cxm.settings import proxy_networks

PROXY = proxy_networks("127.0.0.1, 10.0.0.0/8, 2001:db8::/32")


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # A proxy on the server's host (Streamlit gives no address for it) forwards the client.
        (None, "203.0.113.9", "203.0.113.9"),
        (None, "203.0.113.9:51234", "203.0.113.9"),  # a port is dropped
        (None, "[2001:db9::7]:443", "2001:db9::7"),
        (None, "::ffff:203.0.113.9", "203.0.113.9"),  # an IPv4-mapped address is the IPv4 one
        # Reached directly, from outside: the header is whatever the client wrote. The old
        # CXM_TRUST_FORWARDED_FOR=1 believed it, so a new address per try escaped the count.
        ("198.51.100.7", "203.0.113.9", "198.51.100.7"),
        ("198.51.100.7", "203.0.113.10", "198.51.100.7"),
        # Through two trusted proxies: the first address that is not one of them.
        ("10.0.0.2", "6.6.6.6, 203.0.113.9, 10.0.0.3", "203.0.113.9"),
        # An entry the proxy did not write as an address: counted as that proxy, not as junk.
        ("10.0.0.2", "203.0.113.9, not-an-address", "10.0.0.2"),
        ("10.0.0.2", None, "10.0.0.2"),  # a trusted proxy that forwards nothing: itself
        (None, None, LOCAL),  # the server's own host: one client, never "unknown"
        (None, "127.0.0.1", LOCAL),  # forwarded from the proxy's own host
    ],
)
def test_the_client_is_the_forwarded_address_only_behind_a_trusted_proxy(peer, forwarded, client):
    assert client_address(peer, forwarded, PROXY) == client


def test_without_trusted_proxies_the_header_is_never_read():
    assert client_address(None, "203.0.113.9", ()) == LOCAL
    assert client_address("198.51.100.7", "203.0.113.9", ()) == "198.51.100.7"


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("10.0.0.300", "'10.0.0.300' (not an IP address or network)"),
        ("127.0.0.1, proxy.local", "'proxy.local' (not an IP address or network)"),
        ("10.0.0.0/33", "'10.0.0.0/33' (not an IP address or network)"),
        ("0.0.0.0/0", "'0.0.0.0/0' (every address: anyone could name their own)"),
    ],
)
def test_a_bad_trusted_proxies_setting_is_refused_naming_the_entry(monkeypatch, value, named):
    monkeypatch.setenv("CXM_TRUSTED_PROXIES", value)
    with pytest.raises(SettingsError) as caught:
        trusted_proxies()
    (issue,) = caught.value.issues
    assert (issue.variable, issue.code) == ("CXM_TRUSTED_PROXIES", "bad_trusted_proxies")
    assert issue.message.startswith(f"holds {named}")


def test_good_trusted_proxies_are_read_as_networks(monkeypatch):
    monkeypatch.setenv("CXM_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8,::1")
    assert [str(n) for n in trusted_proxies()] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    monkeypatch.delenv("CXM_TRUSTED_PROXIES")
    assert trusted_proxies() == ()


def test_the_old_trust_forwarded_for_setting_stops_cxm_with_what_to_set_instead(monkeypatch):
    monkeypatch.setenv("CXM_TRUST_FORWARDED_FOR", "1")
    with pytest.raises(
        SettingsError, match=r"CXM_TRUSTED_PROXIES.*\[trust_forwarded_for_removed\]"
    ):
        trusted_proxies()


@pytest.mark.parametrize(
    ("variable", "value", "code"),
    [
        ("CXM_TRUSTED_PROXIES", "proxy.local", "bad_trusted_proxies"),
        ("CXM_TRUST_FORWARDED_FOR", "1", "trust_forwarded_for_removed"),
    ],
)
def test_the_app_shows_the_bad_proxy_setting_before_any_sign_in(
    monkeypatch, tmp_path, tiny_warehouse, variable, value, code
):
    credentials = access.write_demo_credentials(tmp_path / "credentials.yaml")
    monkeypatch.setenv("CXM_WAREHOUSE", str(tiny_warehouse))
    monkeypatch.setenv("CXM_CREDENTIALS", str(credentials))
    monkeypatch.setenv("CXM_DEMO", "1")
    monkeypatch.setenv(variable, value)
    at = AppTest.from_file("../app.py", default_timeout=30).run()
    shown = " ".join(e.value for e in at.error).replace("\\", "")  # Markdown-escaped
    assert f"[{code}]" in shown
    assert not at.text_input  # no sign-in form


def test_parallel_attempts_cannot_all_pass_the_check_before_any_of_them_is_counted(
    monkeypatch, tmp_path
):
    # The check read the counts, checked the password (bcrypt, ~0.1 s), then counted: eight
    # attempts sent together all read "2 failures, no wait" and all had their password tried.
    # Now checking and counting are one step: the first makes 3 failures (1 s to wait), and
    # the other seven are refused. A barrier inside the password check holds all eight in it
    # at once (the refused ones do the same bcrypt work, so all eight reach it either way).
    from cxm.ui import access as ui_access

    log = SigninLog(tmp_path / "signins.sqlite")
    for i in range(2):
        log.record("admin", "203.0.113.9", ok=False, now=1_000.0 + i)  # 2 free failures
    barrier = threading.Barrier(8, timeout=30)
    audited = []

    def password_matches(password, stored, *, cost):
        barrier.wait()
        return False

    monkeypatch.setattr(ui_access, "_signin_log", lambda path: log)
    monkeypatch.setattr(ui_access, "_client", lambda: "203.0.113.9")
    monkeypatch.setattr(ui_access, "_now", lambda: 2_000.0)
    monkeypatch.setattr(ui_access, "password_matches", password_matches)
    monkeypatch.setattr(ui_access, "_audit", lambda action, who, why: audited.append(why))
    monkeypatch.setattr(ui_access.st, "session_state", {})
    check = ui_access._throttled_check({"admin": "$2b$04$" + "a" * 53})
    threads = [threading.Thread(target=check, args=("admin", "guess")) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(audited) == ["throttled (1 s to wait)"] * 7 + ["wrong password"]
    (pair,) = [s for s in log.standing(now=2_000.0) if s.kind == "user"]
    assert pair.failures == 3
