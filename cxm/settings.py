"""Every ``CXM_*`` environment variable, declared once with its type, default and meaning.

`settings()` returns the `Settings` in force, read from the environment by pydantic-settings;
a bad value raises `SettingsError` naming the variable, the value and the rule (codes in
``errors.SETTING_CODES``), every bad variable at once. ``app.py`` and the command line call
`cxm.logs.start()` first, which reads them, so a bad value stops cxm before anything runs.
No other module reads ``os.environ`` for a ``CXM_*`` name. The README's Configuration table
is `markdown_table()` (``python -m cxm.docs``; ``tests/test_docs.py`` keeps it current).
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, SecretStr, ValidationError
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cxm.errors import SETTING_CODES, SettingIssue, SettingsError

PREFIX = "CXM_"
#: The folder of the cxm package: defaults inside it are shown relative to the repository.
PACKAGE = Path(__file__).parent
#: ``CXM_*`` names read by the tests and benchmarks only, never by the app or the command line.
OTHER_VARIABLES: dict[str, str] = {
    "CXM_UPDATE_DOCS": "`1` = the docs test rewrites docs/errors.md (`make docs` sets it)",
    "CXM_CLV_BASELINE": "customers compared with lifetimes in `benchmarks/clv.py`",
    "CXM_WHATIF_PANDAS_MAX": "sellers ranked by pandas in `benchmarks/whatif.py`",
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: Under this many bytes DuckDB cannot even start a load ("Out of Memory" at once).
MIN_MEMORY_BYTES = 100 * 10**6
_UNITS = {"MB": 10**6, "GB": 10**9, "TB": 10**12, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([A-Za-z]+)$")
_SHARE = re.compile(r"^(\d{1,3})\s*%$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _bad(code: str, message: str) -> PydanticCustomError:
    # The message is shown as written: braces would be template fields to pydantic.
    return PydanticCustomError(code, message.replace("{", "(").replace("}", ")"))


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text in ("1", "0"):
        return text == "1"
    raise _bad("bad_flag", "is not a switch: set 1 for on, 0 or nothing for off")


def _path(value: Any) -> Path:
    if isinstance(value, Path):
        value = str(value)
    if _CONTROL.search(str(value)):
        raise _bad("bad_path", "holds a control character (a tab or a line break)")
    return Path(value)


def memory_bytes(limit: str) -> int | None:
    """Return the bytes a memory limit stands for, or None for a share of the machine's memory.

    >>> memory_bytes("4GB"), memory_bytes("3GiB"), memory_bytes("50%")
    (4000000000, 3221225472, None)
    """
    share = _SHARE.match(limit.strip())
    if share:
        return None
    size = _SIZE.match(limit.strip())
    if size is None or size.group(2).upper() not in _UNITS:
        raise ValueError(limit)
    return int(float(size.group(1)) * _UNITS[size.group(2).upper()])


def _memory(value: Any) -> str:
    text = str(value).strip()
    share = _SHARE.match(text)
    if share and 1 <= int(share.group(1)) <= 100:
        return text
    try:
        size = memory_bytes(text)
    except ValueError:
        size = -1
    if size is not None and size >= MIN_MEMORY_BYTES:
        return text
    raise _bad(
        "bad_memory_limit",
        "is not a memory limit of 100 MB or more: write a size with its unit, such as 512MB, "
        "4GB or 3GiB, or a share of the machine's memory such as 50%",
    )


def _level(value: Any) -> str:
    text = str(value).strip().upper()
    if text in LOG_LEVELS:
        return text
    raise _bad("bad_log_level", f"is not a log level: {', '.join(LOG_LEVELS)}")


def _milliseconds(value: Any) -> int:
    text = str(value).strip()
    if text.isascii() and text.isdigit():
        return int(text)
    raise _bad("bad_milliseconds", "is not a whole number of milliseconds, 0 or more")


def proxy_networks(value: Any) -> tuple[Network, ...]:
    """Return the networks of a comma-separated list of IP addresses and networks (CIDR).

    >>> [str(n) for n in proxy_networks("127.0.0.1, 10.0.0.0/8,::1")]
    ['127.0.0.1/32', '10.0.0.0/8', '::1/128']
    """
    if isinstance(value, tuple):
        return value
    networks, bad = [], []
    for part in (p.strip() for p in str(value).split(",")):
        if not part:
            continue
        try:
            network = ipaddress.ip_network(part, strict=False)
        except ValueError:
            bad.append(f"'{part[:40]}' (not an IP address or network)")
            continue
        if network.prefixlen == 0:
            bad.append(f"'{part}' (every address: anyone could name their own)")
        networks.append(network)
    if bad:
        raise _bad(
            "bad_trusted_proxies",
            f"holds {', '.join(bad)}: write IP addresses or networks separated by commas, "
            "such as 127.0.0.1,10.0.0.0/24",
        )
    return tuple(networks)


def _removed(value: Any) -> None:
    if value is None:  # unset (the default)
        return None
    raise _bad(
        "trust_forwarded_for_removed",
        "is no longer read (it believed X-Forwarded-For from anyone): unset it and set "
        "CXM_TRUSTED_PROXIES to your proxy's address, 127.0.0.1 for a proxy on this host",
    )


Flag = Annotated[bool, BeforeValidator(_flag)]
Proxies = Annotated[tuple[Network, ...], NoDecode, BeforeValidator(proxy_networks)]
Removed = Annotated[None, BeforeValidator(_removed)]
FilePath = Annotated[Path, BeforeValidator(_path)]
MemoryLimit = Annotated[str, BeforeValidator(_memory)]
LogLevel = Annotated[str, BeforeValidator(_level)]
Milliseconds = Annotated[int, BeforeValidator(_milliseconds)]


def _var(
    variable: str, default: Any, kind: str, what: str, *, shown: str | None = None, secret=False
) -> Any:
    """Declare one variable: its name, its default, the kind of value it takes, its use."""
    return Field(
        default,
        validation_alias=variable,
        description=what,
        json_schema_extra={"kind": kind, "shown": shown, "secret": secret},
    )


class Settings(BaseSettings):
    """The settings in force, one field per ``CXM_*`` variable (its alias).

    An empty variable counts as unset. Names are case-sensitive: ``cxm_warehouse`` is not
    read (and is not refused either, since it does not start with ``CXM_``).
    """

    model_config = SettingsConfigDict(
        case_sensitive=True, env_ignore_empty=True, extra="ignore", frozen=True
    )

    warehouse: FilePath = _var(
        "CXM_WAREHOUSE",
        Path("data/cxm.duckdb"),
        "path",
        "the warehouse file",
    )
    credentials: FilePath = _var(
        "CXM_CREDENTIALS",
        Path("data/credentials.yaml"),
        "path",
        "users: bcrypt hashes, role, markets (never in git); failed sign-ins are kept beside "
        "it in `<name>.signins.sqlite`",
    )
    cookie_key: SecretStr | None = _var(
        "CXM_COOKIE_KEY",
        None,
        "secret",
        "the login cookie's signing key (see [Deployment](#deployment)); required unless "
        "`CXM_DEMO=1`, and judged by strength when the app starts",
        shown="none",
        secret=True,
    )
    demo: Flag = _var("CXM_DEMO", False, "1 or 0", "`1` = explicit demo mode (`make run` sets it)")
    config: FilePath = _var(
        "CXM_CONFIG",
        PACKAGE / "company.yaml",
        "path",
        "the company configuration (ranks, markets, ...)",
    )
    actions: FilePath = _var(
        "CXM_ACTIONS",
        PACKAGE / "actions.yaml",
        "path",
        "the what-if action catalog (actions, impacts, rules, weights, presets)",
    )
    scenarios: FilePath | None = _var(
        "CXM_SCENARIOS",
        None,
        "path",
        "saved what-if scenarios",
        shown="beside the warehouse (`cxm.scenarios.sqlite`)",
    )
    audit: FilePath | None = _var(
        "CXM_AUDIT",
        None,
        "path",
        "the audit trail",
        shown="beside the warehouse (`cxm.audit.sqlite`)",
    )
    trusted_proxies: Proxies = _var(
        "CXM_TRUSTED_PROXIES",
        (),
        "addresses",
        "the reverse proxies whose `X-Forwarded-For` names the client: IP addresses or "
        "networks, comma-separated, such as `127.0.0.1` for a proxy on this host (see "
        "[Deployment](#deployment))",
        shown="none",
    )
    trust_forwarded_for: Removed = _var(
        "CXM_TRUST_FORWARDED_FOR",
        None,
        "removed",
        "no longer read (it believed `X-Forwarded-For` from anyone): set at all, it stops cxm; "
        "use `CXM_TRUSTED_PROXIES`",
        shown="none",
    )
    duckdb_memory_limit: MemoryLimit = _var(
        "CXM_DUCKDB_MEMORY_LIMIT",
        "3GB",
        "memory size",
        "DuckDB's memory cap while a build or import writes the warehouse",
    )
    # 3GB, not 4GB: at 1,000,000 sellers the import then peaked at 3.69 GiB instead of 4.32 and
    # took 129.9 s instead of 146.3 (the demo build 132.6 s at 3.67 GiB, against 139.9 s at 4.36;
    # benchmarks/build.py back to back, quiet): the facts spill a little, the process pages less.
    facts_memory_limit: MemoryLimit = _var(
        "CXM_FACTS_MEMORY_LIMIT",
        "3GB",
        "memory size",
        "DuckDB's memory cap while a load derives the facts and seller state",
    )
    log_level: LogLevel = _var(
        "CXM_LOG_LEVEL",
        "INFO",
        "level",
        "the `cxm` log's level (DEBUG, INFO, WARNING, ERROR); lines go to stderr",
    )
    slow_query_ms: Milliseconds = _var(
        "CXM_SLOW_QUERY_MS",
        1000,
        "milliseconds",
        "a page's query that takes this long or longer is logged",
    )


def default(variable: str) -> Any:
    """Return the default of one variable, as declared (the value when it is unset).

    >>> default("CXM_WAREHOUSE"), default("CXM_SLOW_QUERY_MS")
    (PosixPath('data/cxm.duckdb'), 1000)
    """
    return next(f.default for f in Settings.model_fields.values() if f.validation_alias == variable)


#: Every variable cxm reads, by name.
VARIABLES: tuple[str, ...] = tuple(f.validation_alias for f in Settings.model_fields.values())


def settings() -> Settings:
    """Return the settings in force, read from the environment.

    Read again whenever a ``CXM_*`` variable changes (the tests set them), else from a cache.

    Raises
    ------
    SettingsError
        Naming every bad variable at once: its name, its value (never a secret's) and the rule.
    """
    return _read(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(PREFIX))))


@functools.lru_cache(maxsize=16)
def _read(environment: tuple[tuple[str, str], ...]) -> Settings:
    issues = [_unknown(name) for name, _ in environment if name not in _KNOWN]
    try:
        found = Settings()
    except ValidationError as exc:
        issues += [_issue(e) for e in exc.errors()]
        found = None
    if issues:
        raise SettingsError(issues)
    assert found is not None
    return found


_KNOWN = frozenset(VARIABLES) | frozenset(OTHER_VARIABLES)
_FIELDS = {f.validation_alias: f for f in Settings.model_fields.values()}


def _unknown(name: str) -> SettingIssue:
    close = difflib.get_close_matches(name, VARIABLES, n=1, cutoff=0.75)
    # No value: a misspelt CXM_COOKIE_KEY holds a secret.
    return SettingIssue(
        variable=name,
        code="unknown_setting",
        message="is not a cxm setting",
        hint=f"did you mean {close[0]}?" if close else "the README's Configuration lists them",
    )


def _issue(error: dict) -> SettingIssue:
    variable = str(error["loc"][0])
    extra = _FIELDS[variable].json_schema_extra if variable in _FIELDS else {}
    code = error["type"] if error["type"] in SETTING_CODES else "bad_path"
    value = error.get("input")
    shown = None if extra.get("secret") else str(value).encode("unicode_escape").decode()[:120]
    return SettingIssue(variable=variable, value=shown, code=code, message=error["msg"])


def _shown_default(field) -> str:
    shown = field.json_schema_extra.get("shown")
    if shown:
        return shown
    default = field.default
    if isinstance(default, bool):
        return "`0`"
    if isinstance(default, Path):
        default = default.relative_to(PACKAGE.parent) if default.is_absolute() else default
    return f"`{default}`"


def markdown_table() -> str:
    """Return the README's table of every variable: name, kind of value, default, meaning."""
    lines = ["| variable | takes | default | what |", "|---|---|---|---|"]
    for variable, field in _FIELDS.items():
        kind = field.json_schema_extra["kind"]
        lines.append(f"| `{variable}` | {kind} | {_shown_default(field)} | {field.description} |")
    lines += [
        "",
        "Read by the tests and benchmarks only: "
        + "; ".join(f"`{n}`, {what}" for n, what in OTHER_VARIABLES.items())
        + ". Any other `CXM_` variable stops cxm at start with `unknown_setting` "
        "(docs/errors.md).",
    ]
    return "\n".join(lines)
