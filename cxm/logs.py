"""The ``cxm`` log: one line per event, ``key=value`` pairs (logfmt), on stderr.

`start()` is the first thing ``app.py`` and the command line do: it reads every setting (a bad
one raises `SettingsError` before anything runs) and configures the ``cxm`` logger once, at
``CXM_LOG_LEVEL``; called again it only sets the level. Modules log through
``logging.getLogger(__name__)`` with `event` and `timed`, so every line names its event and
its fields (user, duration_ms, rows, ...), in the text and as the record's ``event`` and
``fields`` attributes (what the tests read). What each event means: docs/architecture.md,
Operating. Values are quoted and escaped, so a user name typed at the sign-in form cannot
start a line of its own.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from cxm.settings import Settings, settings

LOGGER = "cxm"
_BARE = re.compile(r"^[A-Za-z0-9_.,:/@+-]+$")
log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def value_text(value: object) -> str:
    """Return ``value`` as a logfmt value: bare when it is one plain word, else quoted.

    >>> value_text(12), value_text("fact_orders"), value_text('two words "and"\\nmore')
    ('12', 'fact_orders', '"two words \\\\"and\\\\"\\\\nmore"')
    >>> value_text(None), value_text(("BR", "MX")), value_text(True)
    ('-', 'BR,MX', 'true')
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list | set | frozenset):
        value = ",".join(str(v) for v in value)
    text = str(value)
    return text if _BARE.match(text) else json.dumps(text)


def pairs(fields: dict[str, object]) -> str:
    """Return ``fields`` as one logfmt line: ``key=value`` separated by spaces, in order."""
    return " ".join(f"{key}={value_text(value)}" for key, value in fields.items())


class LineFormatter(logging.Formatter):
    """Format a record as ``time=... level=... logger=...`` and its event's fields, or, for a
    plain message, ``msg="..."``; an exception is one more field, on the same line."""

    def format(self, record: logging.LogRecord) -> str:
        head = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if hasattr(record, "event"):
            text = f"{pairs(head)} {record.getMessage()}"
        else:
            text = pairs({**head, "msg": record.getMessage()})
        if record.exc_info:
            text += " " + pairs({"exc": self.formatException(record.exc_info)})
        return text


def start() -> Settings:
    """Read and check every setting, configure the ``cxm`` log, and return the settings.

    Raises
    ------
    SettingsError
        When a ``CXM_*`` variable is unknown or holds a bad value (all of them at once).
    """
    found = settings()
    configure(found.log_level)
    return found


def configure(level: str | int = logging.INFO) -> logging.Logger:
    """Send the ``cxm`` log to stderr, one line per record, at ``level``; idempotent.

    The records still reach the root logger's handlers (pytest's, for instance); the root
    logger has none in the app or the command line, so no line is written twice.
    """
    logger = logging.getLogger(LOGGER)
    logger.setLevel(level)
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        handler = _Stderr()
        handler.setFormatter(LineFormatter())
        logger.addHandler(handler)
    return logger


class _Stderr(logging.StreamHandler):
    """A handler on whatever ``sys.stderr`` is when a line is written (a test may swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def event(logger: logging.Logger, name: str, /, level: int = logging.INFO, **fields) -> None:
    """Log one event: ``event=name`` then ``fields`` in the order given."""
    if logger.isEnabledFor(level):
        logger.log(
            level,
            "%s",
            pairs({"event": name, **fields}),
            extra={"event": name, "fields": fields},
        )


def access_event(logger: logging.Logger, action: str, user: str, **fields) -> None:
    """Log a sign-in event under the name the audit trail gives it: ``sign-in failed`` is
    ``event=sign_in_failed``. Refusals and failures (a lockout is a failed sign-in that says
    so) are WARNING, the rest INFO. ``user`` is the name as typed, quoted like every value.
    """
    name = re.sub(r"[^a-z]+", "_", action.lower()).strip("_")
    bad = any(word in name for word in ("fail", "refus", "lock", "attack"))
    event(logger, name, logging.WARNING if bad else logging.INFO, user=user, **fields)


@contextmanager
def timed(
    logger: logging.Logger, name: str, /, level: int = logging.INFO, **fields
) -> Iterator[dict[str, object]]:
    """Log ``name`` with ``fields`` and ``duration_ms`` at ``level`` when the block ends.

    The block may add fields (``rows``) to the dict it is given. A block that raises is
    logged at WARNING (or ``level`` if higher) with the error's class, and the error goes on.
    """
    found: dict[str, object] = dict(fields)
    began = time.perf_counter()
    try:
        yield found
    except BaseException as exc:
        found.update(duration_ms=_ms(began), error=type(exc).__name__)
        event(logger, name, level=max(level, logging.WARNING), **found)
        raise
    found["duration_ms"] = _ms(began)
    event(logger, name, level=level, **found)


def _ms(began: float) -> int:
    return round((time.perf_counter() - began) * 1000)


def slow_logged(fn: F) -> F:
    """Return ``fn`` timed: a call that takes ``CXM_SLOW_QUERY_MS`` or longer is logged as
    ``slow_query`` at WARNING with the function's name (``query``), its ``duration_ms`` and the
    threshold, and what its arguments say of themselves (a filter, a scope)."""

    @functools.wraps(fn)
    def timed_call(*args, **kwargs):
        began = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            took, limit = _ms(began), settings().slow_query_ms
            if took >= limit:
                event(
                    log,
                    "slow_query",
                    level=logging.WARNING,
                    query=fn.__name__.lstrip("_"),
                    duration_ms=took,
                    threshold_ms=limit,
                    **_described(fn, args, kwargs),
                )

    return timed_call  # type: ignore[return-value]


def _described(fn: Callable, args: tuple, kwargs: dict) -> dict[str, str]:
    """Return the arguments that can say what they are (``describe()``), in words."""
    bound = inspect.signature(fn).bind_partial(*args, **kwargs).arguments
    return {k: v.describe() for k, v in bound.items() if callable(getattr(v, "describe", None))}
