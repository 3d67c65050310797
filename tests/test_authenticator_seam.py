"""What cxm relies on inside streamlit-authenticator (`cxm.ui._authenticator`, issue 20 finding 8):
each seam's name and signature, and the behaviour the adapter assumes of it. An upgrade that
renames or changes one fails here, not in a user's browser."""

from __future__ import annotations

import inspect
import tomllib
from importlib.metadata import version
from pathlib import Path

import extra_streamlit_components as stx
import pytest
import streamlit_authenticator as stauth
from streamlit.testing.v1 import AppTest
from streamlit_authenticator.models.authentication_model import AuthenticationModel
from streamlit_authenticator.models.cookie_model import CookieModel

from cxm.ui import _authenticator as library

ROOT = Path(__file__).parents[1]


def _parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_the_installed_release_is_the_pinned_one_and_the_pin_says_why():
    assert version("streamlit-authenticator") == library.PINNED_VERSION == "0.4.2"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert "streamlit-authenticator==0.4.2" in tomllib.loads(pyproject)["project"]["dependencies"]
    (line,) = [x for x in pyproject.splitlines() if "streamlit-authenticator==" in x]
    assert "cxm/ui/_authenticator.py" in line  # the reason, beside the pin
    assert "pins it to exactly ``==0.4.2``" in " ".join(library.__doc__.split())


@pytest.mark.parametrize(
    ("function", "parameters"),
    [
        (CookieModel.get_cookie, ["self"]),  # (2), replaced
        (CookieModel._token_encode, ["self"]),  # (3), replaced
        (CookieModel.set_cookie, ["self"]),  # (3), calls _token_encode
        (AuthenticationModel.check_credentials, ["self", "username", "password"]),  # (4)
        (
            stx.CookieManager.set,
            [
                "self",
                "cookie",
                "val",
                "key",
                "path",
                "expires_at",
                "max_age",
                "domain",
                "secure",
                "same_site",
            ],
        ),  # (5)
    ],
    ids=["get_cookie", "_token_encode", "set_cookie", "check_credentials", "CookieManager.set"],
)
def test_each_replaced_or_called_method_keeps_its_name_and_parameters(function, parameters):
    assert _parameters(function) == parameters


def test_the_authenticator_keeps_its_constructor_and_its_login_and_logout_parameters():
    init = _parameters(stauth.Authenticate.__init__)
    assert init[:5] == ["self", "credentials", "cookie_name", "cookie_key", "cookie_expiry_days"]
    # (1): auto_hash by name; login_sleep_time through **kwargs, kept as attrs (checked below).
    assert "auto_hash" in init and "kwargs" in init
    assert {"location", "key", "fields"} <= set(_parameters(stauth.Authenticate.login))  # (7)
    logout = _parameters(stauth.Authenticate.logout)
    assert logout[:3] == ["self", "button_name", "location"]
    assert {"key", "callback"} <= set(logout)


def _script(cookie_user, right_password):
    """Sign in through the adapter with stand-ins for cxm's cookie reader and password check."""
    import streamlit as st

    from cxm.ui import _authenticator as library

    calls = st.session_state.setdefault("calls", [])
    hashes = {"usernames": {"ana": {"name": "Ana", "email": "a@x", "password": "$2b$04$x"}}}

    def read_cookie():
        calls.append(("read_cookie",))
        return {"username": cookie_user} if cookie_user else None

    def check_password(username, password):
        calls.append(("check_password", username, password))
        return password == right_password

    auth = library.build(
        hashes,
        cookie_name="seam_cookie",
        cookie_key="k" * 64,
        cookie_days=0.5,
        read_cookie=read_cookie,
        check_password=check_password,
    )
    st.session_state["hashes"] = library.password_hashes(hashes)
    st.session_state["sleep"] = auth.attrs.get("login_sleep_time")
    library.login_form(auth, key="login", title="Sign in")
    if st.session_state.get("authentication_status"):
        library.logout_button(
            auth, "Sign out", key="out", callback=lambda d: calls.append(("out", d["username"]))
        )


def test_a_password_sign_in_goes_through_cxms_check_and_signs_cxms_token(monkeypatch):
    import jwt

    written = []
    real_set = stx.CookieManager.set

    def spy(self, cookie, val, *args, **kwargs):
        written.append((cookie, val))
        return real_set(self, cookie, val, *args, **kwargs)

    monkeypatch.setattr(stx.CookieManager, "set", spy)
    at = AppTest.from_function(_script, args=(None, "pw"), default_timeout=30).run()
    assert at.session_state["calls"] == [("read_cookie",)]  # (2): asked before the form
    assert at.session_state["hashes"] == {"ana": "$2b$04$x"}  # (1)
    assert at.session_state["sleep"] == 0  # (1): no sleep of the library's before each run
    at.text_input[0].input("ana")
    at.text_input[1].input("pw")
    at.button(key="FormSubmitter:login-Login").click().run()  # (7): the form's button key
    assert ("check_password", "ana", "pw") in at.session_state["calls"]  # (4)
    assert at.session_state["authentication_status"] is True  # (6)
    assert at.session_state["username"] == "ana"
    # (3): set_cookie signed the token with the adapter's claims, issue time included.
    ((name, token),) = written
    claims = jwt.decode(token, "k" * 64, algorithms=["HS256"])
    assert name == "seam_cookie" and claims["username"] == "ana"
    assert claims["exp_date"] - claims["issued_at"] == pytest.approx(0.5 * 86_400)


def test_a_wrong_password_is_refused_on_cxms_answer():
    at = AppTest.from_function(_script, args=(None, "pw"), default_timeout=30).run()
    at.text_input[0].input("ana")
    at.text_input[1].input("wrong")
    at.button(key="FormSubmitter:login-Login").click().run()
    assert ("check_password", "ana", "wrong") in at.session_state["calls"]
    assert at.session_state["authentication_status"] is False


def test_a_cookie_cxm_read_signs_in_without_the_form_and_sign_out_calls_back():
    at = AppTest.from_function(_script, args=("ana", "pw"), default_timeout=30).run()
    assert at.session_state["authentication_status"] is True  # (2): from the cookie alone
    assert at.session_state["username"] == "ana" and not at.text_input
    assert not [c for c in at.session_state["calls"] if c[0] == "check_password"]
    at.sidebar.button(key="out").click().run()  # (7): the callback gets the user name
    assert ("out", "ana") in at.session_state["calls"]
    assert at.session_state["logout"] is True  # (6): the library's own flag
    assert all(at.session_state[k] is None for k in library.AUTH_KEYS)


def test_the_cookie_components_delete_call_answers_its_default_until_the_browser_does():
    def script():
        import streamlit as st

        from cxm.ui import _authenticator as library

        auth = library.build(
            {"usernames": {}},
            cookie_name="seam_cookie",
            cookie_key="k" * 64,
            cookie_days=0.5,
            read_cookie=lambda: None,
            check_password=lambda u, p: False,
        )
        st.session_state["deleted"] = library.delete_cookie(auth, key="del")  # (5)

    at = AppTest.from_function(script, default_timeout=30).run()
    assert not at.exception and at.session_state["deleted"] is False
