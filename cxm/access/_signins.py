"""Failed sign-ins, counted per user name and per client, and the time each user's sessions were
last ended, in a small SQLite file beside the credentials file (not in the warehouse, which
every import replaces).

A name or client may fail `FREE_FAILURES` times; each failure after that makes the next attempt
wait twice as long as the one before (1 s, 2 s, 4 s, ... at most `MAX_DELAY_SECONDS`), and
`LOCK_AFTER` failures lock it for `LOCK_SECONDS`. Failures older than `FORGET_AFTER_SECONDS`
are forgotten; a successful sign-in forgets the name's failures (not the client's: an attacker
who owns one account must not reset their client's count with it). Nothing here knows whether
a user name exists, so a refusal reads the same for every name; `password_matches` costs one
bcrypt check whether the name exists or not.

Ending a user's sessions (`SigninLog.revoke`: signing out, later a password or role change)
stores a "valid after" time: a login cookie issued at or before it no longer signs anyone in,
and an open session that signed in before it is signed out on its next run.
"""

from __future__ import annotations

import functools
import os
import secrets
import sqlite3
from collections import Counter
from collections.abc import Collection
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import bcrypt

FREE_FAILURES = 3
MAX_DELAY_SECONDS = 60.0
LOCK_AFTER = 10
LOCK_SECONDS = 15 * 60.0
FORGET_AFTER_SECONDS = 60 * 60.0

_DDL = """CREATE TABLE IF NOT EXISTS failed_signins (
    who TEXT PRIMARY KEY,           -- 'user:<name>' or 'client:<address>'
    failures INTEGER NOT NULL,
    last_failed_at REAL NOT NULL    -- seconds since the epoch
)"""
_DDL_SESSIONS = """CREATE TABLE IF NOT EXISTS sessions_valid_after (
    username TEXT PRIMARY KEY,
    valid_after REAL NOT NULL       -- seconds since the epoch; sessions from before it are over
)"""


@dataclass(frozen=True)
class Refusal:
    """An attempt refused before its password was looked at: how long to wait, and why."""

    wait_seconds: float
    locked: bool


@dataclass(frozen=True)
class Standing:
    """A user name's or a client's recent failed sign-ins, for the admins' Users page."""

    kind: str  # "user" or "client"
    name: str
    failures: int
    wait_seconds: float

    @property
    def locked(self) -> bool:
        """Whether it is locked out (not only slowed down) right now."""
        return self.failures >= LOCK_AFTER and self.wait_seconds > 0


def delay_after(failures: int) -> float:
    """Return the seconds an attempt must wait after ``failures`` failures in a row.

    >>> [delay_after(n) for n in (0, 3, 4, 5, 6, 9)], delay_after(10)
    ([0.0, 1.0, 2.0, 4.0, 8.0, 60.0], 900.0)
    """
    if failures >= LOCK_AFTER:
        return LOCK_SECONDS
    if failures < FREE_FAILURES:
        return 0.0
    return min(2.0 ** (failures - FREE_FAILURES), MAX_DELAY_SECONDS)


def _keys(username: str, client: str | None) -> tuple[str, ...]:
    """Return the counters of an attempt: the name's, and the client's when it is known."""
    return (f"user:{username}",) if client is None else (f"user:{username}", f"client:{client}")


class SigninLog:
    """The failed sign-ins of one server, in a SQLite file; safe across threads and processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._connect().close()

    def _connect(self) -> sqlite3.Connection:
        # Created readable by the server's user only, before SQLite opens it.
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        con = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        con.execute(_DDL)
        con.execute(_DDL_SESSIONS)
        return con

    def refusal(self, username: str, client: str | None, *, now: float) -> Refusal | None:
        """Return why an attempt for ``username`` from ``client`` must wait, or None."""
        worst = None
        with closing(self._connect()) as con:
            for who in _keys(username, client):
                row = con.execute(
                    "SELECT failures, last_failed_at FROM failed_signins WHERE who = ?", [who]
                ).fetchone()
                if row is None or now - row[1] > FORGET_AFTER_SECONDS:
                    continue
                wait = row[1] + delay_after(row[0]) - now
                if wait > 0 and (worst is None or wait > worst.wait_seconds):
                    worst = Refusal(wait_seconds=wait, locked=row[0] >= LOCK_AFTER)
        return worst

    def record(self, username: str, client: str | None, *, ok: bool, now: float) -> None:
        """Count a failed attempt against the name and the client (None: not known), or
        forget the name's."""
        keys = _keys(username, client)
        with closing(self._connect()) as con:
            con.execute("BEGIN IMMEDIATE")
            if ok:
                con.execute("DELETE FROM failed_signins WHERE who = ?", [keys[0]])
            else:
                for who in keys:
                    con.execute(
                        """INSERT INTO failed_signins VALUES (?, 1, ?)
                        ON CONFLICT (who) DO UPDATE SET
                            failures = CASE WHEN ? - last_failed_at > ? THEN 1
                                            ELSE failures + 1 END,
                            last_failed_at = excluded.last_failed_at""",
                        [who, now, now, FORGET_AFTER_SECONDS],
                    )
            con.execute("COMMIT")

    def lift(self, username: str) -> None:
        """Forget a user name's failures: an admin lifting its lockout."""
        with closing(self._connect()) as con:
            con.execute("DELETE FROM failed_signins WHERE who = ?", [_keys(username, None)[0]])

    def lift_client(self, client: str) -> None:
        """Forget a client's failures: an admin lifting the lockout of one computer."""
        with closing(self._connect()) as con:
            con.execute("DELETE FROM failed_signins WHERE who = ?", [f"client:{client}"])

    def standing(self, *, now: float) -> list[Standing]:
        """Return every user name and client with failures not yet forgotten, worst first."""
        with closing(self._connect()) as con:
            rows = con.execute(
                "SELECT who, failures, last_failed_at FROM failed_signins WHERE ? - last_failed_at"
                " <= ? ORDER BY failures DESC, who",
                [now, FORGET_AFTER_SECONDS],
            ).fetchall()
        return [
            Standing(
                kind=who.partition(":")[0],
                name=who.partition(":")[2],
                failures=failures,
                wait_seconds=max(0.0, at + delay_after(failures) - now),
            )
            for who, failures, at in rows
        ]

    def revoke(self, username: str, *, now: float) -> None:
        """End every session of ``username`` signed in at or before ``now`` (never moved back)."""
        with closing(self._connect()) as con:
            con.execute(
                """INSERT INTO sessions_valid_after VALUES (?, ?)
                ON CONFLICT (username) DO UPDATE SET
                    valid_after = MAX(valid_after, excluded.valid_after)""",
                [username, now],
            )

    def valid_after(self, username: str) -> float | None:
        """Return when ``username``'s sessions were last ended, or None if never."""
        with closing(self._connect()) as con:
            row = con.execute(
                "SELECT valid_after FROM sessions_valid_after WHERE username = ?", [username]
            ).fetchone()
        return None if row is None else row[0]


#: bcrypt reads at most this many bytes of a password; a longer one is refused, never cut.
MAX_PASSWORD_BYTES = 72


@functools.lru_cache(maxsize=4)
def _stand_in_hash(cost: int) -> bytes:
    return bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(cost))


def hash_cost(hashes: Collection[str]) -> int:
    """Return the bcrypt cost most of ``hashes`` use (12, bcrypt's default, when there are none).

    >>> hash_cost(["$2b$10$" + "a" * 53, "$2b$10$" + "b" * 53, "$2b$12$" + "c" * 53])
    10
    """
    costs = Counter(int(h[4:6]) for h in hashes)
    return costs.most_common(1)[0][0] if costs else 12


def password_matches(password: str, stored: str | None, *, cost: int) -> bool:
    """Return whether ``password`` matches the bcrypt hash ``stored``.

    Every call does one bcrypt check of the given cost: with no hash (a user name nobody has)
    or a password longer than bcrypt reads, against a stand-in hash, so that how long the
    answer takes tells nothing about the name.
    """
    data = password.encode()
    if stored is None or len(data) > MAX_PASSWORD_BYTES:
        bcrypt.checkpw(data[:MAX_PASSWORD_BYTES], _stand_in_hash(cost))
        return False
    return bcrypt.checkpw(data, stored.encode())
