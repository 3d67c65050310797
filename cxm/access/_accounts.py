"""The credentials file as accounts: every user (disabled ones too), written back atomically.

The file is YAML in the layout streamlit-authenticator reads (``credentials: usernames: {name:
{name, email, password, role, markets, disabled}}``); keys outside ``credentials.usernames``
are kept as they were. A write goes to a temporary file beside it (owner-only, flushed to
disk) that then replaces it with ``os.replace``, so a reader sees the old file or the new one,
never half of one; edits hold an exclusive lock (``<file>.lock``) from reading to replacing,
so two admins saving at once cannot lose each other's change. Comments in a hand-edited
file are not kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import bcrypt
import yaml
from pydantic import BaseModel, ConfigDict, Field

from cxm.access._signins import MAX_PASSWORD_BYTES

#: The shortest password an admin may set (the longest is what bcrypt reads).
MIN_PASSWORD_CHARS = 12
MIN_PASSWORD_DISTINCT = 5
#: Passwords people pick first; refused whatever their length (lower-cased, compared whole).
COMMON_PASSWORDS = frozenset(
    {
        "123456789012",
        "1234567890123",
        "password1234",
        "password12345",
        "passwordpassword",
        "qwertyuiopasdf",
        "qwertyuiop123",
        "letmein12345",
        "welcome12345",
        "changeme1234",
        "administrator",
        "iloveyou1234",
    }
)
BCRYPT_HASH = r"^\$2[aby]\$\d\d\$.{53}$"


class Account(BaseModel):
    """One user of the credentials file as an admin manages it (the hash never leaves the server).

    ``markets=None`` means every market; an empty tuple means none.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str
    name: str
    email: str
    role: str
    markets: tuple[str, ...] | None = None
    disabled: bool = False
    password_hash: str = Field(pattern=BCRYPT_HASH, repr=False)

    def entry(self) -> dict:
        """Return the account as its credentials file entry."""
        return {
            "name": self.name,
            "email": self.email,
            "role": self.role,
            "markets": None if self.markets is None else list(self.markets),
            "disabled": self.disabled,
            "password": self.password_hash,
        }


def password_problem(password: str, *, username: str = "", name: str = "") -> str | None:
    """Return why ``password`` is too weak to set, in words with its rule, or None.

    The rules follow NIST SP 800-63B: length rather than character classes, a cap at what
    bcrypt reads (never cut silently), and a refusal of passwords that are common or made of
    the user's own name.

    >>> password_problem("short")
    'is 5 characters long; a password needs at least 12'
    >>> password_problem("ana-rocks-2026!", username="ana")
    'contains the user name; choose one that does not'
    >>> password_problem("aaaaaaaaaaaaaaaa")
    'uses only 1 distinct character; a password needs at least 5'
    >>> password_problem("correct horse battery") is None
    True
    """
    if len(password) < MIN_PASSWORD_CHARS:
        return f"is {len(password)} characters long; a password needs at least {MIN_PASSWORD_CHARS}"
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        return (
            f"is {len(password.encode())} bytes long; bcrypt reads at most {MAX_PASSWORD_BYTES} "
            "bytes, and a longer password is refused rather than cut"
        )
    distinct = len(set(password))
    if distinct < MIN_PASSWORD_DISTINCT:
        return (
            f"uses only {distinct} distinct character{'s' if distinct != 1 else ''}; a "
            f"password needs at least {MIN_PASSWORD_DISTINCT}"
        )
    lowered = password.lower()
    for own in (username, *name.split()):
        if len(own) >= 3 and own.lower() in lowered:
            what = "user name" if own == username else "user's name"
            return f"contains the {what}; choose one that does not"
    if lowered in COMMON_PASSWORDS:
        return "is one of the passwords people pick first; choose another"
    return None


def hash_password(password: str, *, cost: int) -> str:
    """Return the bcrypt hash of ``password`` at ``cost``."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode()


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the credentials file's edit lock (waiting for another edit to finish)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_accounts(path: Path, accounts: Mapping[str, Account]) -> None:
    """Replace the users of the credentials file at ``path`` with ``accounts``, atomically.

    The caller holds `locked`. Keys of the file other than ``credentials.usernames`` are kept.
    """
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    raw = raw if isinstance(raw, dict) else {}
    credentials = raw.get("credentials") if isinstance(raw.get("credentials"), dict) else {}
    credentials["usernames"] = {name: account.entry() for name, account in accounts.items()}
    raw["credentials"] = credentials
    text = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:  # mkstemp makes it owner-only
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
