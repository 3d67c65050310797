"""Scenarios as objects: named weights and guardrails, saved, listed, published, exported.

Kept in a SQLite file beside the warehouse (``cxm.duckdb`` -> ``cxm.scenarios.sqlite``;
``$CXM_SCENARIOS`` overrides), for the reason the audit trail is: every load replaces the
warehouse file whole and the app holds it read-only, while scenarios are written from the
page at any time and must outlive a data refresh. Each scenario records the catalog version
and the data's as-of date it was made on, so a reader knows what it was judged against.

Who may do what is checked here, not by hiding buttons: anyone signed in may look; a
strategist or an admin may save and publish (publishing leaves an audit entry); a strategist,
analyst or admin may export the per-seller recommendations, cut to their scope.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict

from cxm.access import OutOfScope, Role, User, require_role
from cxm.errors import CxmError
from cxm.warehouse import audit
from cxm.warehouse.store import warehouse_path
from cxm.whatif.compare import Field, Guardrails, Ranking
from cxm.whatif.need import LABELS, PRIORITIES
from cxm.whatif.weights import Weights

SAVE_ROLES = (Role.STRATEGIST, Role.ADMIN)
PUBLISH_ROLES = (Role.STRATEGIST, Role.ADMIN)
EXPORT_ROLES = (Role.STRATEGIST, Role.ANALYST, Role.ADMIN)
MAX_NAME = 80

_DDL = """
CREATE TABLE IF NOT EXISTS scenarios (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    author TEXT NOT NULL,
    created_at TEXT NOT NULL,
    weights TEXT NOT NULL,
    mandatory INTEGER NOT NULL,
    caps INTEGER NOT NULL,
    catalog_version TEXT NOT NULL,
    data_as_of TEXT,
    published_by TEXT,
    published_at TEXT
)"""
_COLUMNS = (
    "id name author created_at weights mandatory caps catalog_version data_as_of "
    "published_by published_at"
).split()


class ScenarioError(CxmError):
    """A scenario that cannot be saved or found: ``code`` says why."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(f"{message} [{code}]")


class Scenario(BaseModel):
    """One saved scenario."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    author: str
    created_at: dt.datetime
    weights: Weights
    guardrails_mandatory: bool
    guardrails_caps: bool
    catalog_version: str
    data_as_of: dt.date | None
    published_by: str | None = None
    published_at: dt.datetime | None = None

    @property
    def guardrails(self) -> Guardrails:
        return Guardrails(mandatory=self.guardrails_mandatory, caps=self.guardrails_caps)

    def describe(self) -> str:
        """One line for lists and captions."""
        state = f", published by {self.published_by}" if self.published_by else ""
        return (
            f"{self.name}: {self.weights.describe()} (by {self.author}, "
            f"{self.created_at:%Y-%m-%d %H:%M}; catalog {self.catalog_version}, data as of "
            f"{self.data_as_of}{state})"
        )


def scenarios_path(warehouse: str | Path | None = None) -> Path:
    """Return the scenario file: ``$CXM_SCENARIOS``, else beside the warehouse."""
    if os.environ.get("CXM_SCENARIOS"):
        return Path(os.environ["CXM_SCENARIOS"])
    return warehouse_path(warehouse).with_suffix(".scenarios.sqlite")


def _connect(path: Path | None) -> sqlite3.Connection:
    target = path or scenarios_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(target, timeout=10)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(_DDL)
    target.chmod(0o600)
    return con


def _row(values) -> Scenario:
    r = dict(zip(_COLUMNS, values, strict=True))
    return Scenario(
        id=r["id"],
        name=r["name"],
        author=r["author"],
        created_at=dt.datetime.fromisoformat(r["created_at"]),
        weights=Weights.of(json.loads(r["weights"]), where=f"scenario {r['id']}"),
        guardrails_mandatory=bool(r["mandatory"]),
        guardrails_caps=bool(r["caps"]),
        catalog_version=r["catalog_version"],
        data_as_of=dt.date.fromisoformat(r["data_as_of"]) if r["data_as_of"] else None,
        published_by=r["published_by"],
        published_at=dt.datetime.fromisoformat(r["published_at"]) if r["published_at"] else None,
    )


def save(
    name: str,
    weights: Weights,
    guardrails: Guardrails,
    *,
    user: User | None,
    field: Field,
    path: Path | None = None,
) -> Scenario:
    """Save a new scenario as ``user``; raise `NotAllowed` unless they may, `ScenarioError`
    for an empty, too long or taken name."""
    who = require_role(user, *SAVE_ROLES)
    clean = " ".join(name.split())
    if not clean:
        raise ScenarioError("empty_name", "A scenario needs a name.")
    if len(clean) > MAX_NAME:
        raise ScenarioError(
            "name_too_long", f'The name "{clean[:20]}..." is longer than {MAX_NAME} characters.'
        )
    con = _connect(path)
    try:
        with con:
            cur = con.execute(
                "INSERT INTO scenarios (name, author, created_at, weights, mandatory, caps, "
                "catalog_version, data_as_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    clean,
                    who.username,
                    dt.datetime.now().replace(microsecond=0).isoformat(sep=" "),
                    json.dumps(weights.as_dict(), sort_keys=True),
                    int(guardrails.mandatory),
                    int(guardrails.caps),
                    field.catalog.version,
                    field.as_of.isoformat() if field.as_of else None,
                ],
            )
            new_id = cur.lastrowid
    except sqlite3.IntegrityError:
        raise ScenarioError(
            "name_taken", f'A scenario named "{clean}" exists already; choose another name.'
        ) from None
    finally:
        con.close()
    return get(new_id, path=path)


def list_all(*, path: Path | None = None) -> list[Scenario]:
    """Every saved scenario, newest first (empty when none)."""
    target = path or scenarios_path()
    if not target.exists():
        return []
    con = _connect(target)
    try:
        rows = con.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM scenarios ORDER BY created_at DESC, id DESC"
        ).fetchall()
    finally:
        con.close()
    return [_row(r) for r in rows]


def get(scenario_id: int, *, path: Path | None = None) -> Scenario:
    """The scenario with this id; `ScenarioError` ``unknown_scenario`` when there is none."""
    target = path or scenarios_path()
    rows = []
    if target.exists():
        con = _connect(target)
        try:
            rows = con.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM scenarios WHERE id = ?", [scenario_id]
            ).fetchall()
        finally:
            con.close()
    if not rows:
        raise ScenarioError("unknown_scenario", f"There is no saved scenario {scenario_id}.")
    return _row(rows[0])


def publish(
    scenario_id: int,
    *,
    user: User | None,
    path: Path | None = None,
    audit_path: Path | None = None,
) -> Scenario:
    """Mark a scenario published as ``user`` (strategist or admin) and audit it."""
    who = require_role(user, *PUBLISH_ROLES)
    found = get(scenario_id, path=path)
    now = dt.datetime.now().replace(microsecond=0)
    con = _connect(path)
    try:
        with con:
            con.execute(
                "UPDATE scenarios SET published_by = ?, published_at = ? WHERE id = ?",
                [who.username, now.isoformat(sep=" "), scenario_id],
            )
    finally:
        con.close()
    audit.record(
        audit.Entry(
            username=who.username,
            role=who.role.value,
            action="publish scenario",
            what=f"scenario {found.id} {found.name}",
            filters=f"{found.weights.describe()}; catalog {found.catalog_version}",
            scope=who.scope.describe(),
            at=now,
        ),
        path=audit_path,
    )
    return get(scenario_id, path=path)


def recommendations(field: Field, ranking: Ranking) -> pl.DataFrame:
    """Per seller: segment, the three recommended action ids and each one's main reason."""
    ids = np.array(["", *field.catalog.ids], dtype=object)
    impact = field.impact * ranking.weights.vector()[None, :]
    out = {
        "seller_id": field.seller_id,
        **{d: np.asarray(field.labels[d], dtype=object)[field.codes[d]] for d in field.codes},
    }
    labels = np.array(["", *(LABELS[p] for p in PRIORITIES)], dtype=object)
    for slot in range(3):
        a = ranking.action[:, slot].astype(np.int64)
        out[f"action_{slot + 1}"] = ids[a + 1]
        # The priority that contributes most to the action's score: its main reason.
        parts = impact[np.maximum(a, 0)] * field.need_t.T
        main = np.where((a >= 0) & (parts.max(1) > 0), parts.argmax(1) + 1, 0)
        out[f"reason_{slot + 1}"] = labels[main]
    return pl.DataFrame(
        {
            k: (v if isinstance(v, pl.Series) else pl.Series(k, v.tolist(), pl.String))
            for k, v in out.items()
        }
    )


def export_recommendations(
    user: User | None,
    field: Field,
    ranking: Ranking,
    fmt: str,
    *,
    audit_path: Path | None = None,
) -> bytes:
    """The per-seller recommendations as CSV or Parquet bytes, for ``user``, audited.

    Raises `NotAllowed` for a role that may not export and `OutOfScope` when the field holds
    markets outside the user's scope (a field is loaded for one user's scope).
    """
    who = require_role(user, *EXPORT_ROLES)
    outside = [m for m in field.labels["market"] if not who.scope.allows(m)]
    if outside:
        raise OutOfScope(f"The recommendations include {', '.join(outside)}, outside your scope.")
    frame = recommendations(field, ranking)
    buf = io.BytesIO()
    if fmt == "csv":
        frame.write_csv(buf)
    elif fmt == "parquet":
        frame.write_parquet(buf)
    else:
        raise ScenarioError("bad_format", f'"{fmt}" is not an export format; use csv or parquet.')
    data = buf.getvalue()
    audit.record(
        audit.Entry(
            username=who.username,
            role=who.role.value,
            action="export",
            what=f"what-if recommendations, {fmt}",
            filters=f"{ranking.weights.describe()}; catalog {field.catalog.version}; "
            f"as of {field.as_of}",
            scope=field.scope.describe(),
            rows=frame.height,
            sha256=hashlib.sha256(data).hexdigest(),
        ),
        path=audit_path,
    )
    return data


def field_platform_json(field: Field, weights: Weights, user: User | None) -> bytes:
    """Weights and catalog as JSON for the field platform (strategists, analysts, admins)."""
    require_role(user, *EXPORT_ROLES)
    return field.catalog.to_json(weights.as_dict()).encode()
