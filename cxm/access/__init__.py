"""Who may do what: users, roles and market scope, read from the server's credentials file.

The credentials file (default ``data/credentials.yaml``, never in version control; override
with ``$CXM_CREDENTIALS``) holds bcrypt-hashed passwords with each user's role and markets.
Roles and scope are read from it on every run, never from the login cookie. `Scope` is what
every warehouse query takes as a required keyword, so a query cannot forget it. The login
cookie is verified here (`verify_login_token`), its key checked (`cookie_key`), and failed
sign-ins counted and throttled in a file beside the credentials (`SigninLog`, in _signins.py),
which also keeps when each user's sessions were last ended (`revoke_sessions`). The key is
judged by strength in _keys.py; which client an attempt comes from is decided in _clients.py.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Callable, Collection
from enum import StrEnum
from pathlib import Path

import jwt
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cxm.access._accounts import BCRYPT_HASH, hash_password
from cxm.access._accounts import Account as Account
from cxm.access._accounts import password_problem as password_problem
from cxm.access._clients import client_address as client_address
from cxm.access._clients import trusted_proxies as trusted_proxies
from cxm.access._keys import MAKE_A_KEY, MAKE_A_KEY_WITHOUT_CXM
from cxm.access._keys import MIN_COOKIE_KEY_BYTES as MIN_COOKIE_KEY_BYTES
from cxm.access._keys import cookie_key_problem as cookie_key_problem
from cxm.access._keys import make_key as make_key
from cxm.access._signins import LOCAL as LOCAL
from cxm.access._signins import Attempt as Attempt
from cxm.access._signins import Refusal as Refusal
from cxm.access._signins import SigninLog as SigninLog
from cxm.access._signins import Standing as Standing
from cxm.access._signins import delay_after as delay_after
from cxm.access._signins import hash_cost as hash_cost
from cxm.access._signins import password_matches as password_matches
from cxm.config import config_path, load_config
from cxm.errors import ConfigError, CxmError
from cxm.settings import default, settings

DEFAULT_CREDENTIALS: Path = default("CXM_CREDENTIALS")


class Role(StrEnum):
    """What a user may do: view; also what-if; also export; or everything."""

    EXECUTIVE = "executive"
    STRATEGIST = "strategist"
    ANALYST = "analyst"
    ADMIN = "admin"


class OutOfScope(CxmError):
    """A user asked for a market outside their scope."""


class NotAllowed(CxmError):
    """A user's role does not allow what they asked for."""


#: Why a login cookie was not accepted: the code, and the rule it broke.
TOKEN_CODES: dict[str, str] = {
    "not_a_token": "the cookie is not a signed token",
    "wrong_algorithm": "the token is not signed with HS256 (an alg of none is never accepted)",
    "bad_signature": "the token's signature does not match this server's cookie key",
    "no_expiry": "the token carries no expiry time",
    "expired": "the token has expired",
    "expiry_too_far": "the token's expiry is further ahead than this server ever signs",
    "no_user": "the token names no user",
    "unknown_user": "the token's user is not in the credentials file",
    "revoked": "it was issued before its user signed out or had their sessions ended",
}


class LoginTokenRejected(CxmError):
    """A login cookie that does not verify; the app reads it as "signed out"."""

    def __init__(self, code: str, username: str | None = None) -> None:
        self.code = code
        #: The user a correctly signed token named (for the audit), else None.
        self.username = username
        super().__init__(f"The saved sign-in was not accepted: {TOKEN_CODES[code]} [{code}].")


#: The token's algorithm: streamlit-authenticator 0.4.2 signs with HS256 and nothing else.
TOKEN_ALGORITHM = "HS256"


def verify_login_token(
    token: str,
    *,
    key: str,
    usernames: Collection[str],
    now: float,
    lifetime_seconds: float,
    valid_after: Callable[[str], float | None] = lambda username: None,
) -> str:
    """Return the user name a login cookie (streamlit-authenticator's JWT) was signed for.

    The token must be an HS256 JWT signed with ``key`` whose ``exp_date`` (seconds since the
    epoch, as the library writes it) lies after ``now`` and at most ``lifetime_seconds`` (plus
    a minute of clock slack) ahead, and whose ``username`` is one of ``usernames``. It must
    also have been issued after ``valid_after(username)`` (when that user's sessions were last
    ended; None: never): its issue time is the earlier of its ``issued_at`` claim (which cxm's
    cookies carry) and ``exp_date - lifetime_seconds``. Anything else raises; nothing here trusts what the
    token says before its signature is checked.

    Raises
    ------
    LoginTokenRejected
        With one of the `TOKEN_CODES`.

    Examples
    --------
    >>> key = "k" * 32
    >>> good = jwt.encode({"username": "ana", "exp_date": 1060.0}, key, algorithm="HS256")
    >>> verify_login_token(good, key=key, usernames={"ana"}, now=1000.0, lifetime_seconds=86400)
    'ana'
    >>> verify_login_token(good, key=key, usernames={"ana"}, now=2000.0, lifetime_seconds=86400)
    Traceback (most recent call last):
    ...
    cxm.access.LoginTokenRejected: The saved sign-in was not accepted: the token has expired [expired].
    """  # noqa: E501
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise LoginTokenRejected("not_a_token") from exc
    if header.get("alg") != TOKEN_ALGORITHM:
        raise LoginTokenRejected("wrong_algorithm")
    try:
        # The library's expiry is its own claim, exp_date; a standard exp is checked too.
        claims = jwt.decode(token, key, algorithms=[TOKEN_ALGORITHM])
    except jwt.ExpiredSignatureError as exc:
        raise LoginTokenRejected("expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise LoginTokenRejected("bad_signature") from exc
    except jwt.InvalidTokenError as exc:
        raise LoginTokenRejected("not_a_token") from exc
    expiry = claims.get("exp_date")
    if not isinstance(expiry, int | float) or isinstance(expiry, bool) or not math.isfinite(expiry):
        raise LoginTokenRejected("no_expiry")
    if expiry <= now:
        raise LoginTokenRejected("expired")
    if expiry > now + lifetime_seconds + 60:
        raise LoginTokenRejected("expiry_too_far")
    username = claims.get("username")
    if not isinstance(username, str) or not username:
        raise LoginTokenRejected("no_user")
    if username not in usernames:
        raise LoginTokenRejected("unknown_user", username)
    # The earlier of the two: a token cannot have been issued later than its life allows.
    issued_at = expiry - lifetime_seconds
    claimed = claims.get("issued_at")
    if isinstance(claimed, int | float) and not isinstance(claimed, bool):
        issued_at = min(issued_at, claimed) if math.isfinite(claimed) else -math.inf
    ended = valid_after(username)
    if ended is not None and issued_at <= ended:
        raise LoginTokenRejected("revoked", username)
    return username


def revoke_sessions(username: str, *, now: float | None = None) -> None:
    """End every session of ``username``: login cookies issued until ``now`` stop working.

    Sign-out calls it; so should a password change, a role change or disabling a user. An
    open session that signed in before it is signed out on its next run.
    """
    SigninLog(signin_log_path()).revoke(username, now=time.time() if now is None else now)


def sessions_valid_after(username: str) -> float | None:
    """Return when ``username``'s sessions were last ended (`revoke_sessions`), or None."""
    path = signin_log_path()
    return SigninLog(path).valid_after(username) if path.exists() else None


class Scope(BaseModel):
    """The markets a user may see; ``markets=None`` means every market.

    >>> Scope(markets=("BR",)).allows("US"), Scope.everywhere().allows("US")
    (False, True)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    markets: tuple[str, ...] | None = None

    @classmethod
    def everywhere(cls) -> Scope:
        """Return the scope of a user who sees every market."""
        return cls(markets=None)

    def allows(self, market: str) -> bool:
        """Return whether ``market`` is inside the scope."""
        return self.markets is None or market in self.markets

    def describe(self) -> str:
        """Return the scope in words, for captions and exports."""
        return "all markets" if self.markets is None else ", ".join(self.markets)


class User(BaseModel):
    """A signed-in user as the server knows them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str
    name: str
    email: str
    role: Role
    scope: Scope = Field(default_factory=Scope.everywhere)


def require_role(user: User | None, *roles: Role) -> User:
    """Return ``user`` when their role is one of ``roles``; raise `NotAllowed` otherwise.

    >>> admin = User(username="a", name="A", email="a@x", role=Role.ADMIN)
    >>> require_role(admin, Role.ADMIN).username
    'a'
    """
    if user is None or user.role not in roles:
        who = "Nobody is signed in" if user is None else f"{user.name} ({user.role.value})"
        raise NotAllowed(
            f"{who} may not do this; it needs the role {' or '.join(r.value for r in roles)}."
        )
    return user


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    email: str
    password: str = Field(pattern=BCRYPT_HASH, description="a bcrypt hash")
    role: Role
    markets: list[str] | None = None
    #: A disabled user cannot sign in and their sessions end; the entry stays for the record.
    disabled: bool = False


def credentials_path() -> Path:
    """Return the credentials file path: ``$CXM_CREDENTIALS`` or data/credentials.yaml."""
    return settings().credentials


def signin_log_path() -> Path:
    """Return the failed sign-ins file: beside the credentials file, ``<name>.signins.sqlite``."""
    path = credentials_path()
    return path.with_name(f"{path.stem}.signins.sqlite")


def load_users(path: str | Path | None = None) -> dict[str, User]:
    """Return the users of the credentials file, by username.

    The file is parsed once per change (its modification time and size, and the company
    configuration's, are the cache key), so the app can ask on every run.

    Raises
    ------
    ConfigError
        When the file is missing or a user entry is invalid (the message names the user and
        the field; a password that is not a bcrypt hash is refused, never accepted in clear).
    """
    return dict(_read(Path(path or credentials_path()))[0])


def authenticator_credentials(path: str | Path | None = None) -> dict:
    """Return the ``credentials`` dict streamlit-authenticator expects (names and hashes only).

    Disabled users are left out: to the sign-in form they are names nobody has. A fresh copy
    each call: the authenticator writes into the dict it is given.
    """
    return copy.deepcopy(_read(Path(path or credentials_path()))[1])


def read_accounts(path: str | Path | None = None) -> dict[str, Account]:
    """Return every account of the credentials file, disabled ones too, by username.

    `load_users` is who may sign in; this is what an admin manages (`cxm.admin.users`).
    """
    return dict(_read(Path(path or credentials_path()))[2])


def _read(path: Path) -> tuple[dict[str, User], dict]:
    if not path.exists():
        raise ConfigError(
            f"No credentials file at {path}. Create demo users with "
            f"`cxm demo-users` or point CXM_CREDENTIALS at your file."
        )
    cfg = config_path()
    st, cst = path.stat(), cfg.stat() if cfg.exists() else None
    # The inode too: an edit replaces the file, and two edits may share a size and a tick.
    mark = (st.st_ino, st.st_mtime_ns, st.st_size)
    return _parse(str(path), mark, str(cfg), cst.st_mtime_ns if cst else None)


@functools.lru_cache(maxsize=8)
def _parse(
    path: str, _mark: tuple, cfg: str, _cfg_mtime: int | None
) -> tuple[dict[str, User], dict, dict[str, Account]]:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    known = load_config(cfg).market_codes
    entries = (raw.get("credentials") or {}).get("usernames") or {}
    users, auth, accounts = {}, {}, {}
    for username, entry in entries.items():
        try:
            e = _Entry.model_validate(entry)
        except ValidationError as exc:
            where = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in exc.errors())
            raise ConfigError(f"{path}, user {username!r}: {where}") from exc
        # No "markets" key: every market. An empty list: none (never read as "all").
        scope = Scope.everywhere() if e.markets is None else Scope(markets=tuple(e.markets))
        unknown = sorted(set(scope.markets or ()) - set(known))
        if unknown:
            raise ConfigError(
                f"{path}, user {username!r}: markets {unknown} are not configured "
                f"markets ({', '.join(known)})"
            )
        accounts[username] = Account(
            username=username,
            name=e.name,
            email=e.email,
            role=e.role.value,
            markets=scope.markets,
            disabled=e.disabled,
            password_hash=e.password,
        )
        if e.disabled:
            continue
        users[username] = User(
            username=username, name=e.name, email=e.email, role=e.role, scope=scope
        )
        auth[username] = {"name": e.name, "email": e.email, "password": e.password}
    return users, {"usernames": auth}, accounts


#: The demo logins `make run` creates and prints: (username, name, role, markets, password).
DEMO_USERS = (
    ("exec", "Erin Executive", Role.EXECUTIVE, None, "exec-demo-2026"),
    ("strategist", "Sam Strategist", Role.STRATEGIST, None, "strategist-demo-2026"),
    ("analyst", "Ana Analyst", Role.ANALYST, ["BR", "MX"], "analyst-demo-2026"),
    ("admin", "Alex Admin", Role.ADMIN, None, "admin-demo-2026"),
)


def write_demo_credentials(path: str | Path | None = None) -> Path:
    """Write the demo users, passwords bcrypt-hashed, to the credentials file; return its path."""
    path = Path(path or credentials_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    users = {
        username: {
            "name": name,
            "email": f"{username}@demo.cxm",
            "role": str(role),
            "markets": markets,
            "password": hash_password(password, cost=10),
        }
        for username, name, role, markets, password in DEMO_USERS
    }
    path.write_text(
        yaml.safe_dump({"credentials": {"usernames": users}}, sort_keys=False), encoding="utf-8"
    )
    path.chmod(0o600)
    return path


def demo_mode() -> bool:
    """Return whether the app runs in explicit demo mode (``CXM_DEMO=1``)."""
    return settings().demo


_PROCESS_KEY = make_key()


def cookie_key() -> str:
    """Return the login cookie's signing key from ``$CXM_COOKIE_KEY``.

    In explicit demo mode (``CXM_DEMO=1``) without a key, a random key for this process is
    used (logins then last until the server restarts). A key that is set must pass
    `cookie_key_problem`, in demo mode too.

    Raises
    ------
    ConfigError
        When the key is weak, or missing outside demo mode; the message says how to make one.
    """
    key = settings().cookie_key.get_secret_value() if settings().cookie_key else ""
    if not key and demo_mode():
        return _PROCESS_KEY
    problem = cookie_key_problem(key)
    if problem is None:
        return key
    raise ConfigError(
        f"cxm will not start: {problem} Make a key with `{MAKE_A_KEY}` (or "
        f"`{MAKE_A_KEY_WITHOUT_CXM}`) and set it in the server's environment (see "
        "Deployment in the README), or set CXM_DEMO=1 to run the demo with a key that lasts "
        "until the server restarts."
    )
