"""Failed sign-ins, counted per (user name, client) pair, and the time each user's sessions
were last ended, in a small SQLite file beside the credentials file (not in the warehouse,
which every import replaces).

Three kinds of count, so that nobody can lock a user out from where the user is not:

- A **pair** (a user name from one client) may fail `FREE_FAILURES` times; each failure after
  that makes its next attempt wait twice as long (1 s, 2 s, 4 s, ... at most
  `MAX_DELAY_SECONDS`), and `LOCK_AFTER` failures lock that pair for `LOCK_SECONDS`. This is
  the only lockout: an attacker's ten wrong passwords lock the name on the attacker's client,
  never on the user's.
- A **client** (all names from one address) waits the same growing delays, never locked:
  it slows one client that tries many names.
- A **user name** (from every client) is never refused: an attempt is only held (the server
  waits before it checks the password) by the same doubling, capped at
  `NAME_MAX_HOLD_SECONDS`. A name with `UNDER_ATTACK_FAILURES` failures, or
  `UNDER_ATTACK_SPREAD` from two or more clients, is "under attack": audited once an hour and
  listed for admins.

Failures older than `FORGET_AFTER_SECONDS` are forgotten; a successful sign-in forgets its
pair's failures (not the client's failures with other names: an attacker who owns one account
must not reset their client's count with it). Nothing here knows whether a user name exists,
so a refusal reads the same for every name; `password_matches` costs one bcrypt check whether
the name exists or not.

Checking and counting are one step (`SigninLog.begin`): an attempt is counted as a failure
before its password is checked, and forgiven if it succeeds (`SigninLog.finish`), so attempts
sent in parallel cannot all pass the check before any of them is counted.

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
from collections.abc import Collection, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import bcrypt

FREE_FAILURES = 3
MAX_DELAY_SECONDS = 60.0
LOCK_AFTER = 10
LOCK_SECONDS = 15 * 60.0
#: The most a user name's failures from every client make an attempt wait: a few seconds,
#: never a refusal, so that no number of clients can keep its user out.
NAME_MAX_HOLD_SECONDS = 4.0
FORGET_AFTER_SECONDS = 60 * 60.0
#: A user name with this many failures in the last hour is under attack ...
UNDER_ATTACK_FAILURES = 10
#: ... and so is one with this many from two clients or more.
UNDER_ATTACK_SPREAD = 6
#: The client of every connection from the server's own host (Streamlit gives it no address).
LOCAL = "local"
#: A user name as typed is counted by its first this many characters.
MAX_COUNTED_NAME = 100

_DDL = (
    """CREATE TABLE IF NOT EXISTS failed_pairs (
        username TEXT NOT NULL,         -- as typed, cut to MAX_COUNTED_NAME characters
        client TEXT NOT NULL,           -- an address, or 'local'
        failures INTEGER NOT NULL,
        last_failed_at REAL NOT NULL,   -- seconds since the epoch
        PRIMARY KEY (username, client)
    )""",
    "CREATE INDEX IF NOT EXISTS failed_pairs_client ON failed_pairs (client)",
    "CREATE INDEX IF NOT EXISTS failed_pairs_at ON failed_pairs (last_failed_at)",
    """CREATE TABLE IF NOT EXISTS attacks_audited (
        username TEXT PRIMARY KEY,
        audited_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS sessions_valid_after (
        username TEXT PRIMARY KEY,
        valid_after REAL NOT NULL       -- seconds since the epoch; sessions from before it are over
    )""",
)


@dataclass(frozen=True)
class Refusal:
    """An attempt refused before its password was looked at: how long to wait, and why."""

    wait_seconds: float
    locked: bool


@dataclass(frozen=True)
class Attempt:
    """An attempt let through (and counted as failed until `SigninLog.finish` says otherwise).

    ``hold_seconds``: how long to wait before checking its password (its user name's failures
    from every client; at most `NAME_MAX_HOLD_SECONDS`).
    """

    username: str
    client: str
    at: float
    hold_seconds: float


@dataclass(frozen=True)
class Standing:
    """A user name's or a client's recent failed sign-ins, for the admins' Users page.

    ``others``: the clients a user name failed from, or the names a client failed with.
    ``wait_seconds``: the longest wait any of its pairs (or, for a client, itself) has left;
    ``locked``: whether any of its pairs is locked out right now.
    """

    kind: str  # "user" or "client"
    name: str
    failures: int
    wait_seconds: float
    locked: bool = False
    others: tuple[str, ...] = ()

    @property
    def under_attack(self) -> bool:
        """Whether a user name failed so often, or from so many clients, that it is audited."""
        return self.kind == "user" and (
            self.failures >= UNDER_ATTACK_FAILURES
            or (self.failures >= UNDER_ATTACK_SPREAD and len(self.others) >= 2)
        )


def _doubling(failures: int, cap: float) -> float:
    if failures < FREE_FAILURES:
        return 0.0
    return min(2.0 ** min(failures - FREE_FAILURES, 32), cap)  # 2.0 ** 1100 overflows


def delay_after(failures: int) -> float:
    """Return the seconds a (user name, client) pair waits after ``failures`` failures in a row.

    >>> [delay_after(n) for n in (0, 3, 4, 5, 6, 9)], delay_after(10)
    ([0.0, 1.0, 2.0, 4.0, 8.0, 60.0], 900.0)
    """
    return LOCK_SECONDS if failures >= LOCK_AFTER else _doubling(failures, MAX_DELAY_SECONDS)


def client_delay(failures: int) -> float:
    """Return the seconds a client waits after ``failures`` failures with any names: never a lock.

    >>> [client_delay(n) for n in (2, 3, 6, 10, 5000)]
    [0.0, 1.0, 8.0, 60.0, 60.0]
    """
    return _doubling(failures, MAX_DELAY_SECONDS)


def name_hold(failures: int) -> float:
    """Return the seconds an attempt for a user name is held after its ``failures`` from every
    client: the same doubling, capped at `NAME_MAX_HOLD_SECONDS`, and never a refusal.

    >>> [name_hold(n) for n in (2, 3, 4, 5, 6, 5000)]
    [0.0, 1.0, 2.0, 4.0, 4.0, 4.0]
    """
    return _doubling(failures, NAME_MAX_HOLD_SECONDS)


def _pair(username: str, client: str | None) -> tuple[str, str]:
    """Return the counted form of an attempt: the name cut to size, the client ('local': None)."""
    return username[:MAX_COUNTED_NAME], client or LOCAL


def _standing(kind: str, name: str, rows: list[tuple[str, int, float]], now: float) -> Standing:
    """Return the standing of a user name or a client from its pairs' (other, failures, last)."""
    total, last = sum(r[1] for r in rows), max(r[2] for r in rows)
    waits = [at + delay_after(failures) - now for _, failures, at in rows]
    if kind == "client":
        waits.append(last + client_delay(total) - now)
    return Standing(
        kind=kind,
        name=name,
        failures=total,
        wait_seconds=max(0.0, *waits),
        locked=any(f >= LOCK_AFTER and at + LOCK_SECONDS > now for _, f, at in rows),
        others=tuple(sorted(r[0] for r in rows)),
    )


#: The fresh pairs of a user name, or of a client (the other side first).
_PAIRS_OF = {
    "user": "SELECT client, failures, last_failed_at FROM failed_pairs"
    " WHERE username = ? AND last_failed_at >= ?",
    "client": "SELECT username, failures, last_failed_at FROM failed_pairs"
    " WHERE client = ? AND last_failed_at >= ?",
}
#: The failures and last failure time of a user name, or of a client, from its fresh pairs.
_TOTALS_OF = {
    "user": "SELECT SUM(failures), MAX(last_failed_at) FROM failed_pairs"
    " WHERE username = ? AND last_failed_at >= ?",
    "client": "SELECT SUM(failures), MAX(last_failed_at) FROM failed_pairs"
    " WHERE client = ? AND last_failed_at >= ?",
}


class SigninLog:
    """The failed sign-ins of one server, in a SQLite file; safe across threads and processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._connect().close()

    def _connect(self) -> sqlite3.Connection:
        # Created readable by the server's user only, before SQLite opens it.
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        con = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        for ddl in _DDL:
            con.execute(ddl)
        return con

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """Yield a connection inside a write transaction: one writer at a time, all or nothing."""
        with closing(self._connect()) as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    @staticmethod
    def _rows(con, kind: str, name: str, now: float) -> list[tuple[str, int, float]]:
        """Return the fresh pairs of a user name, as (client, failures, last failed at), or of
        a client ``kind="client"``, as (user name, failures, last failed at)."""
        return con.execute(_PAIRS_OF[kind], [name, now - FORGET_AFTER_SECONDS]).fetchall()

    @staticmethod
    def _totals(con, kind: str, name: str, now: float) -> tuple[int, float] | None:
        """Return a user name's or a client's failures and last failure time, or None."""
        total, last = con.execute(_TOTALS_OF[kind], [name, now - FORGET_AFTER_SECONDS]).fetchone()
        return None if total is None else (total, last)

    def _refusal(self, con, username: str, client: str, now: float) -> Refusal | None:
        pair = con.execute(
            "SELECT failures, last_failed_at FROM failed_pairs"
            " WHERE username = ? AND client = ? AND last_failed_at >= ?",
            [username, client, now - FORGET_AFTER_SECONDS],
        ).fetchone()
        waits = [(0.0, False)]
        if pair is not None:
            waits.append((pair[1] + delay_after(pair[0]) - now, pair[0] >= LOCK_AFTER))
        if (totals := self._totals(con, "client", client, now)) is not None:
            waits.append((totals[1] + client_delay(totals[0]) - now, False))
        wait, locked = max(waits)
        return Refusal(wait_seconds=wait, locked=locked) if wait > 0 else None

    def _hold(self, con, username: str, now: float) -> float:
        totals = self._totals(con, "user", username, now)
        return 0.0 if totals is None else max(0.0, totals[1] + name_hold(totals[0]) - now)

    @staticmethod
    def _count(con, username: str, client: str, now: float) -> None:
        con.execute(
            """INSERT INTO failed_pairs VALUES (?, ?, 1, ?)
            ON CONFLICT (username, client) DO UPDATE SET
                failures = CASE WHEN ? - last_failed_at > ? THEN 1 ELSE failures + 1 END,
                last_failed_at = excluded.last_failed_at""",
            [username, client, now, now, FORGET_AFTER_SECONDS],
        )
        # What no count reads any more goes: typed names and addresses are anyone's to invent.
        con.execute(
            "DELETE FROM failed_pairs WHERE last_failed_at < ?", [now - FORGET_AFTER_SECONDS]
        )

    def refusal(self, username: str, client: str | None, *, now: float) -> Refusal | None:
        """Return why an attempt for ``username`` from ``client`` (None: local) must wait, or
        None: its pair's delay or lockout, or its client's delay, whichever is longer."""
        username, client = _pair(username, client)
        with closing(self._connect()) as con:
            return self._refusal(con, username, client, now)

    def hold(self, username: str, *, now: float) -> float:
        """Return how long an attempt for ``username`` from any client is held (`name_hold`)."""
        with closing(self._connect()) as con:
            return self._hold(con, _pair(username, None)[0], now)

    def begin(self, username: str, client: str | None, *, now: float) -> Attempt | Refusal:
        """Check an attempt and, unless it is refused, count it as failed: in one transaction.

        Returns the `Refusal` (not counted) or the `Attempt`, which the caller holds for its
        ``hold_seconds``, checks, and passes to `finish`.
        """
        username, client = _pair(username, client)
        with self._transaction() as con:
            refusal = self._refusal(con, username, client, now)
            if refusal is not None:
                return refusal
            hold = self._hold(con, username, now)
            self._count(con, username, client, now)
        return Attempt(username=username, client=client, at=now, hold_seconds=hold)

    def finish(self, attempt: Attempt, *, ok: bool) -> Standing | None:
        """Settle an attempt from `begin`: a success forgets its pair's failures (this one
        too); a failure stays counted. Returns the user name's standing when this failure
        finds it under attack and it was not audited so in the last hour (audit it), else None.
        """
        with self._transaction() as con:
            if ok:
                con.execute(
                    "DELETE FROM failed_pairs WHERE username = ? AND client = ?",
                    [attempt.username, attempt.client],
                )
                return None
            rows = self._rows(con, "user", attempt.username, attempt.at)
            if not rows:
                return None
            standing = _standing("user", attempt.username, rows, attempt.at)
            if not standing.under_attack:
                return None
            audited = con.execute(
                "SELECT audited_at FROM attacks_audited WHERE username = ?", [attempt.username]
            ).fetchone()
            if audited is not None and attempt.at - audited[0] < FORGET_AFTER_SECONDS:
                return None
            con.execute(
                "INSERT OR REPLACE INTO attacks_audited VALUES (?, ?)",
                [attempt.username, attempt.at],
            )
            return standing

    def record(self, username: str, client: str | None, *, ok: bool, now: float) -> Standing | None:
        """Count an attempt whose password was checked without `begin` (None: local).

        Returns what `finish` returns.
        """
        username, client = _pair(username, client)
        attempt = Attempt(username=username, client=client, at=now, hold_seconds=0.0)
        if not ok:
            with self._transaction() as con:
                self._count(con, username, client, now)
        return self.finish(attempt, ok=ok)

    def lift(self, username: str) -> None:
        """Forget a user name's failures from every client: an admin lifting its lockouts."""
        with closing(self._connect()) as con:
            con.execute("DELETE FROM failed_pairs WHERE username = ?", [_pair(username, None)[0]])

    def lift_client(self, client: str) -> None:
        """Forget a client's failures with every name: an admin lifting one computer's."""
        with closing(self._connect()) as con:
            con.execute("DELETE FROM failed_pairs WHERE client = ?", [client])

    def standing(self, *, now: float) -> list[Standing]:
        """Return every user name and client with failures not yet forgotten, worst first."""
        with closing(self._connect()) as con:
            rows = con.execute(
                "SELECT username, client, failures, last_failed_at FROM failed_pairs"
                " WHERE last_failed_at >= ?",
                [now - FORGET_AFTER_SECONDS],
            ).fetchall()
        users: dict[str, list] = {}
        clients: dict[str, list] = {}
        for username, client, failures, at in rows:
            users.setdefault(username, []).append((client, failures, at))
            clients.setdefault(client, []).append((username, failures, at))
        found = [_standing("user", name, pairs, now) for name, pairs in users.items()]
        found += [_standing("client", name, pairs, now) for name, pairs in clients.items()]
        return sorted(found, key=lambda s: (-s.failures, s.kind, s.name))

    def under_attack(self, *, now: float) -> list[Standing]:
        """Return the user names under attack (`Standing.under_attack`), worst first."""
        return [s for s in self.standing(now=now) if s.under_attack]

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
