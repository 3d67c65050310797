"""Managing users from the server's shell: the first admin, and a way back in when no admin can
sign in. The same library calls as the Users page (`cxm.admin.users`), audited as
``shell:<account>``. And ``cxm key``, which makes the login cookie's key."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table as RichTable

from cxm.access import make_key
from cxm.admin import users
from cxm.cli._common import _fail, app, out
from cxm.errors import CxmError

users_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Manage users from the server (as the Users page does).",
)
app.add_typer(users_app, name="users")

Username = Annotated[str, typer.Argument(help="The user name.")]


def _passwords() -> tuple[str, str]:
    return (
        typer.prompt("Password", hide_input=True),
        typer.prompt("Password again", hide_input=True),
    )


@app.command()
def key() -> None:
    """Print a new random key for CXM_COOKIE_KEY: 64 characters, 384 bits.

    Keep it in the server's environment, never in git; a new key signs everyone out.

    Example: export CXM_COOKIE_KEY="$(cxm key)"
    """
    typer.echo(make_key())


@users_app.command("list")
def list_() -> None:
    """List every user with role, markets and whether they are disabled or locked.

    Example: cxm users list
    """
    try:
        accounts = users.accounts(users.server_shell())
        standing = {s.name: s for s in users.lockouts(users.server_shell()) if s.kind == "user"}
    except CxmError as exc:
        _fail(exc)
    table = RichTable("user", "name", "role", "markets", "sign-in")
    for a in accounts:
        s = standing.get(a.username)
        state = "disabled" if a.disabled else ("locked" if s and s.locked else "active")
        table.add_row(a.username, a.name, a.role, users.describe_markets(a.markets), state)
    out.print(table)


@users_app.command()
def add(
    username: Username,
    name: Annotated[str, typer.Option(help="The name shown in the app.")],
    email: Annotated[str, typer.Option(help="Their email address.")],
    role: Annotated[str, typer.Option(help="executive, strategist, analyst or admin.")],
    market: Annotated[
        list[str] | None,
        typer.Option("--market", help="A market they see (repeat); none given: all markets."),
    ] = None,
) -> None:
    """Add a user; the password is asked twice and stored as a bcrypt hash.

    Creates the credentials file when there is none: that is how the first admin is made.

    Example: cxm users add alex --name "Alex Admin" --email alex@acme.com --role admin
    """
    password, repeated = _passwords()
    try:
        users.add_user(
            users.server_shell(),
            username=username,
            name=name,
            email=email,
            role=role,
            markets=market or None,
            password=password,
            repeated=repeated,
        )
    except CxmError as exc:
        _fail(exc)
    out.print(f"Added {username} ({role}, {users.describe_markets(market or None)}).", markup=False)


@users_app.command("set-password")
def set_password(username: Username) -> None:
    """Set a new password (asked twice); ends the user's sessions and lifts their lockout.

    Example: cxm users set-password alex
    """
    password, repeated = _passwords()
    try:
        users.reset_password(users.server_shell(), username, password=password, repeated=repeated)
    except CxmError as exc:
        _fail(exc)
    out.print(f"Set a new password for {username}; their sessions are ended.", markup=False)


@users_app.command()
def lift(username: Username) -> None:
    """Lift the sign-in lockout of a user name.

    Example: cxm users lift alex
    """
    try:
        shell = users.server_shell()
        found = [s for s in users.lockouts(shell, now=time.time()) if s.kind == "user"]
        match = next((s for s in found if s.name == username), None)
        if match is None:
            out.print(f"{username} has no failed sign-ins to lift.", markup=False)
            return
        users.lift_lockout(shell, match)
    except CxmError as exc:
        _fail(exc)
    out.print(f"Lifted the lockout of {username}.", markup=False)
