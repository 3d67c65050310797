"""Managing users (admins only): add, change role and markets, disable, reset a password,
remove, and lift a sign-in lockout.

Each call checks that the acting user is an admin, reads the credentials file under its edit
lock, validates the whole change (every problem is a `UserRefused` with its code, and nothing
is written), writes the file atomically, ends the sessions of the user it changed (a new
password, role or markets, or a disabled or removed user, signs out every open session and
login cookie on its next run), and audits what changed, never a password or a hash.

No change may leave the server without an enabled admin: the last admin cannot remove,
disable or demote themself (nor be removed, disabled or demoted by anyone).
"""

from __future__ import annotations

import difflib
import getpass
import re
import time
from collections.abc import Sequence

from cxm.access import (
    Account,
    Role,
    SigninLog,
    Standing,
    User,
    credentials_path,
    hash_cost,
    password_problem,
    read_accounts,
    require_role,
    revoke_sessions,
    signin_log_path,
)
from cxm.access._accounts import hash_password, locked, write_accounts
from cxm.admin import _audit
from cxm.config import load_config
from cxm.errors import CxmError

#: Why a user change was refused: the code, and the rule (docs/administration.md).
USER_CODES: dict[str, str] = {
    "bad_username": "A user name is 2 to 32 characters: lower-case letters, digits, '.', '_' "
    "or '-', starting with a letter (sign-in reads names in lower case).",
    "duplicate_user": "User names are unique.",
    "unknown_user": "The user must be in the credentials file.",
    "empty_name": "A user has a name to show.",
    "bad_email": "An email address looks like name@example.com.",
    "empty_role": "A user has one of the roles executive, strategist, analyst or admin.",
    "unknown_market": "Markets are the company's configured markets.",
    "no_markets": "A user sees at least one market, or all markets.",
    "weak_password": "Passwords have at least 12 characters, 5 distinct ones, at most 72 bytes, "
    "and are neither common nor made of the user's name.",
    "passwords_differ": "The password is typed twice, the same both times.",
    "last_admin": "The server keeps at least one enabled admin.",
    "nothing_changed": "A change changes something.",
}

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class UserRefused(CxmError):
    """A user change that breaks a rule; nothing was written. ``field`` is the form's field.

    ``also`` holds the other problems found in the same form, so that all are said at once.
    """

    def __init__(self, code: str, field: str, message: str, also: Sequence[UserRefused] = ()):
        self.code, self.field, self.message, self.also = code, field, message, tuple(also)
        lines = [f"{message} [{code}]", *(str(other) for other in self.also)]
        super().__init__("\n".join(lines))

    @property
    def codes(self) -> list[str]:
        """Return the code of every problem found, in form order."""
        return [self.code, *(other.code for other in self.also)]


def _all_or_raise(*checks) -> list:
    """Run each check (a no-argument callable); return their results, or raise one
    `UserRefused` naming every problem found."""
    results, problems = [], []
    for check in checks:
        try:
            results.append(check())
        except UserRefused as exc:
            problems.append(exc)
            results.append(None)
    if problems:
        first = problems[0]
        raise UserRefused(first.code, first.field, first.message, problems[1:])
    return results


def describe_markets(markets: Sequence[str] | None) -> str:
    """Return the markets a user sees in words (``None``: all markets).

    >>> describe_markets(None), describe_markets(("BR", "MX")), describe_markets(())
    ('all markets', 'BR, MX', 'no markets')
    """
    return "all markets" if markets is None else ", ".join(markets) or "no markets"


def _admin(actor: User | None) -> User:
    return require_role(actor, Role.ADMIN)


def _username(username: str) -> None:
    if not USERNAME.fullmatch(username):
        raise UserRefused(
            "bad_username", "username", f"User name {username!r}: {USER_CODES['bad_username']}"
        )


def _name(name: str) -> None:
    if not name:
        raise UserRefused("empty_name", "name", "Give the user a name to show.")


def _email(email: str) -> None:
    if not EMAIL.fullmatch(email):
        raise UserRefused("bad_email", "email", f"{email!r} is not an email address.")


def _role(role: str | Role | None) -> Role:
    if role is None or str(role).strip() == "":
        raise UserRefused(
            "empty_role", "role", "Choose a role: " + ", ".join(r.value for r in Role) + "."
        )
    try:
        return Role(str(role).strip().lower())
    except ValueError:
        raise UserRefused(
            "empty_role",
            "role",
            f"{str(role)!r} is not a role; choose one of " + ", ".join(r.value for r in Role) + ".",
        ) from None


def _markets(markets: Sequence[str] | None) -> tuple[str, ...] | None:
    if markets is None:
        return None
    known = load_config().market_codes
    chosen = tuple(dict.fromkeys(str(m).strip().upper() for m in markets))
    for market in chosen:
        if market not in known:
            near = difflib.get_close_matches(market, known, n=1, cutoff=0.5)
            hint = f" Did you mean {near[0]}?" if near else ""
            raise UserRefused(
                "unknown_market",
                "markets",
                f"Market {market!r} is not one of the company's markets "
                f"({', '.join(known)}).{hint}",
            )
    if not chosen:
        raise UserRefused(
            "no_markets", "markets", "Choose at least one market, or tick 'All markets'."
        )
    return tuple(sorted(chosen))


def _password(password: str, repeated: str, *, username: str, name: str) -> str:
    problem = password_problem(password, username=username, name=name)
    if problem:
        raise UserRefused("weak_password", "password", f"The password {problem}.")
    if password != repeated:
        raise UserRefused(
            "passwords_differ", "password", "The two passwords differ; type the same one twice."
        )
    return password


def _existing(accounts: dict[str, Account], username: str) -> Account:
    if username not in accounts:
        raise UserRefused(
            "unknown_user", "username", f"There is no user {username!r} in the credentials file."
        )
    return accounts[username]


def _keep_an_admin(before: dict[str, Account], after: dict[str, Account], username: str) -> None:
    def admins(accounts: dict[str, Account]) -> set[str]:
        return {u for u, a in accounts.items() if a.role == Role.ADMIN and not a.disabled}

    if admins(before) and not admins(after):
        raise UserRefused(
            "last_admin",
            "role",
            f"{username} is the last enabled admin: they cannot be removed, disabled or given "
            "another role. Make another user an admin first.",
        )


def _commit(
    actor: User,
    before: dict[str, Account],
    after: dict[str, Account],
    username: str,
    *,
    action: str,
    what: str,
    end_sessions: bool,
) -> None:
    _keep_an_admin(before, after, username)
    write_accounts(credentials_path(), after)
    if end_sessions:
        revoke_sessions(username)
    _audit.record(actor, action, what)


def accounts(actor: User | None) -> list[Account]:
    """Return every account, disabled ones too, by user name (admins only)."""
    _admin(actor)
    return sorted(read_accounts().values(), key=lambda a: a.username)


def add_user(
    actor: User | None,
    *,
    username: str,
    name: str,
    email: str,
    role: str | Role | None,
    markets: Sequence[str] | None,
    password: str,
    repeated: str,
) -> Account:
    """Add a user with a bcrypt-hashed password; return the new account.

    Raises
    ------
    UserRefused
        On a bad or taken user name, an empty name, a bad email, an empty role, an unknown
        market or none, or a weak password; nothing is written.
    """
    actor = _admin(actor)
    username, name, email = username.strip(), name.strip(), email.strip()
    _, _, _, chosen_role, chosen_markets, _ = _all_or_raise(
        lambda: _username(username),
        lambda: _name(name),
        lambda: _email(email),
        lambda: _role(role),
        lambda: _markets(markets),
        lambda: _password(password, repeated, username=username, name=name),
    )
    path = credentials_path()
    with locked(path):
        before = read_accounts(path) if path.exists() else {}  # the first user makes the file
        # Sign-in reads names in lower case: "Ana" in a hand-edited file and "ana" would clash.
        taken = next((u for u in before if u.lower() == username), None)
        if taken is not None:
            raise UserRefused(
                "duplicate_user", "username", f"A user named {taken!r} already exists."
            )
        account = Account(
            username=username,
            name=name,
            email=email,
            role=chosen_role.value,
            markets=chosen_markets,
            password_hash=hash_password(
                password, cost=hash_cost([a.password_hash for a in before.values()])
            ),
        )
        after = {**before, username: account}
        _commit(
            actor,
            before,
            after,
            username,
            action="user added",
            what=f"{username}: {chosen_role.value}, {describe_markets(chosen_markets)}",
            end_sessions=False,
        )
    return account


def change_user(
    actor: User | None,
    username: str,
    *,
    role: str | Role | None,
    markets: Sequence[str] | None,
    disabled: bool,
) -> Account:
    """Set a user's role, markets and whether they are disabled; end their sessions.

    Raises
    ------
    UserRefused
        On an unknown user, an empty role, an unknown market or none, a change that changes
        nothing, or one that leaves no enabled admin; nothing is written.
    """
    actor = _admin(actor)
    chosen_role, chosen_markets = _all_or_raise(lambda: _role(role), lambda: _markets(markets))
    path = credentials_path()
    with locked(path):
        before = read_accounts(path)
        old = _existing(before, username)
        new = old.model_copy(
            update={"role": chosen_role.value, "markets": chosen_markets, "disabled": disabled}
        )
        changes = [
            f"{label} {was} -> {now}"
            for label, was, now in (
                ("role", old.role, new.role),
                ("markets", describe_markets(old.markets), describe_markets(new.markets)),
                ("status", _status(old), _status(new)),
            )
            if was != now
        ]
        if not changes:
            raise UserRefused(
                "nothing_changed",
                "role",
                f"{username} already has this role, these markets and status.",
            )
        _commit(
            actor,
            before,
            {**before, username: new},
            username,
            action="user changed",
            what=f"{username}: {'; '.join(changes)}",
            end_sessions=True,
        )
    return new


def _status(account: Account) -> str:
    return "disabled" if account.disabled else "enabled"


def reset_password(actor: User | None, username: str, *, password: str, repeated: str) -> None:
    """Set a new bcrypt-hashed password for ``username``, end their sessions, lift any lockout.

    Raises
    ------
    UserRefused
        On an unknown user or a weak password; nothing is written.
    """
    actor = _admin(actor)
    path = credentials_path()
    with locked(path):
        before = read_accounts(path)
        old = _existing(before, username)
        _password(password, repeated, username=username, name=old.name)
        new = old.model_copy(
            update={"password_hash": hash_password(password, cost=hash_cost([old.password_hash]))}
        )
        _commit(
            actor,
            before,
            {**before, username: new},
            username,
            action="password reset",
            what=f"{username}: new password set by an admin",
            end_sessions=True,
        )
    SigninLog(signin_log_path()).lift(username)


def remove_user(actor: User | None, username: str) -> None:
    """Remove ``username`` from the credentials file and end their sessions.

    Raises
    ------
    UserRefused
        On an unknown user, or the last enabled admin; nothing is written.
    """
    actor = _admin(actor)
    path = credentials_path()
    with locked(path):
        before = read_accounts(path)
        old = _existing(before, username)
        after = {u: a for u, a in before.items() if u != username}
        _commit(
            actor,
            before,
            after,
            username,
            action="user removed",
            what=f"{username}: was {old.role}, {describe_markets(old.markets)}",
            end_sessions=True,
        )


def lockouts(actor: User | None, *, now: float | None = None) -> list[Standing]:
    """Return the user names and clients with recent failed sign-ins, worst first (admins)."""
    _admin(actor)
    path = signin_log_path()
    if not path.exists():
        return []
    return SigninLog(path).standing(now=time.time() if now is None else now)


def server_shell() -> User:
    """Return the acting user of ``cxm users`` on the server: an admin named after the
    operating-system account (whoever can run it there can edit the credentials file anyway)."""
    who = getpass.getuser()
    return User(username=f"shell:{who}", name=f"{who} on the server", email="-", role=Role.ADMIN)


def lift_lockout(actor: User | None, standing: Standing) -> None:
    """Forget the failed sign-ins of a user name or a client: it may sign in again at once."""
    actor = _admin(actor)
    log = SigninLog(signin_log_path())
    if standing.kind == "user":
        log.lift(standing.name)
    else:
        log.lift_client(standing.name)
    _audit.record(
        actor, "lockout lifted", f"{standing.kind} {standing.name}: {standing.failures} failures"
    )
