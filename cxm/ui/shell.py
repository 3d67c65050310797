"""The app's frame: which pages each role gets, the sidebar, and how errors are shown."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from cxm.access import Role, User
from cxm.errors import CxmError
from cxm.ui import access

#: (script, title, icon, url path, roles that may open it)
PAGES = (
    ("app_pages/overview.py", "Overview", ":material/dashboard:", "overview", tuple(Role)),
    ("app_pages/data.py", "Data", ":material/database:", "data", (Role.ADMIN,)),
)


def pages_for(role: Role | None) -> list[st.Page]:
    """Return the pages ``role`` may open; every page when nobody is signed in yet, so that a
    deep link survives the login (the navigation is hidden until then)."""
    return [
        st.Page(script, title=title, icon=icon, url_path=url, default=i == 0)
        for i, (script, title, icon, url, roles) in enumerate(PAGES)
        if role is None or role in roles
    ]


def sidebar(user: User) -> None:
    """Draw who is signed in, their role and scope, and the sign-out button."""
    with st.sidebar:
        st.caption(f"{user.name} · {user.role.value} · {user.scope.describe()}")
        access.logout_button()


@contextmanager
def errors_shown() -> Iterator[None]:
    """Show a `CxmError` raised inside as one message, instead of a traceback, and stop.

    Every page runs inside it, and so does the login: a missing credentials file, a cookie
    key that is not a secret, or a missing warehouse reads as what to do, not as a crash.
    """
    try:
        yield
    except CxmError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()
