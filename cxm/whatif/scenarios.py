"""Scenarios as objects: named weights and guardrails, saved, listed, published, exported.

Kept in a SQLite file beside the warehouse (``cxm.duckdb`` -> ``cxm.scenarios.sqlite``;
``$CXM_SCENARIOS`` overrides), for the reason the audit trail is: every load replaces the
warehouse file whole and the app holds it read-only, while scenarios are written from the
page at any time and must outlive a data refresh. Each scenario records the catalog version
and the data's as-of date it was made on, so a reader knows what it was judged against.

Who may do what is checked here, not by hiding buttons: anyone signed in may look; a
strategist or an admin may save and publish (publishing leaves an audit entry). What is
"published" is the scenario published last (`published`), with who and when; before any,
the catalog's weights. The per-seller exports live in `cxm.reports.recommendations`.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict

from cxm.access import Role, User, require_role
from cxm.errors import CxmError
from cxm.settings import settings
from cxm.warehouse import audit
from cxm.warehouse._sqlite import open_private
from cxm.warehouse.store import warehouse_path
from cxm.whatif.catalog import Catalog
from cxm.whatif.compare import NO_GAIN, Field, Guardrails, Ranking
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
);
CREATE TABLE IF NOT EXISTS publications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scenario_id INTEGER NOT NULL REFERENCES scenarios (id),
    published_by TEXT NOT NULL,
    published_at TEXT NOT NULL
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
        state = (
            f", last published by {self.published_by} {self.published_at:%Y-%m-%d %H:%M}"
            if self.published_by and self.published_at
            else ""
        )
        return (
            f"{self.name}: {self.weights.describe()} (by {self.author}, "
            f"{self.created_at:%Y-%m-%d %H:%M}; catalog {self.catalog_version}, data as of "
            f"{self.data_as_of}{state})"
        )


def scenarios_path(warehouse: str | Path | None = None) -> Path:
    """Return the scenario file: ``$CXM_SCENARIOS``, else beside the warehouse."""
    return settings().scenarios or warehouse_path(warehouse).with_suffix(".scenarios.sqlite")


def _connect(path: Path | None) -> sqlite3.Connection:
    return open_private(path or scenarios_path(), _DDL)


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
    """Publish a scenario as ``user`` (strategist or admin) and audit it.

    It becomes what `published` returns, the baseline every comparison is made against, until
    another one (or this one again, after another) is published. Every publication is kept.
    """
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
            con.execute(
                "INSERT INTO publications (scenario_id, published_by, published_at) "
                "VALUES (?, ?, ?)",
                [scenario_id, who.username, now.isoformat(sep=" ")],
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


class Published(BaseModel):
    """What is published: the last published scenario, or the catalog's weights before any."""

    model_config = ConfigDict(frozen=True)

    weights: Weights
    guardrails: Guardrails
    scenario: Scenario | None
    catalog_version: str
    published_by: str | None = None
    published_at: dt.datetime | None = None

    def describe(self) -> str:
        """Who published what and when, in words, for captions, the CLI and file stamps.

        Examples
        --------
        >>> from cxm.whatif.weights import Weights
        >>> Published(weights=Weights.of({"sales": 1}), guardrails=Guardrails(),
        ...           scenario=None, catalog_version="2026.4").describe()
        "the catalog's weights (catalog 2026.4; no scenario published yet)"
        """
        if self.scenario is None:
            return (
                f"the catalog's weights (catalog {self.catalog_version}; no scenario published yet)"
            )
        return (
            f'"{self.scenario.name}" (scenario {self.scenario.id}), published by '
            f"{self.published_by} on {self.published_at:%Y-%m-%d %H:%M}"
        )


def last_publication(*, path: Path | None = None) -> tuple[Scenario, str, dt.datetime] | None:
    """Return the scenario published last, who published it and when; None before any.

    The one reading of "published": the What-if page, ``cxm whatif``, the board pack and the
    file stamps all come here. A scenarios file from before publications were kept falls back
    to the latest publication mark on a scenario.
    """
    target = path or scenarios_path()
    if not target.exists():
        return None
    con = _connect(target)
    try:
        rows = (
            con.execute(
                "SELECT scenario_id, published_by, published_at FROM publications "
                "ORDER BY id DESC LIMIT 1"
            ).fetchall()
            or con.execute(
                "SELECT id, published_by, published_at FROM scenarios "
                "WHERE published_at IS NOT NULL ORDER BY published_at DESC, id DESC LIMIT 1"
            ).fetchall()
        )
    finally:
        con.close()
    if not rows:
        return None
    scenario_id, by, at = rows[0]
    return get(scenario_id, path=target), by, dt.datetime.fromisoformat(at)


def published(catalog: Catalog, *, path: Path | None = None) -> Published:
    """Return what is published: the scenario published last, else the catalog's weights."""
    last = last_publication(path=path)
    if last is None:
        return Published(
            weights=Weights.baseline(catalog),
            guardrails=Guardrails(),
            scenario=None,
            catalog_version=catalog.version,
        )
    found, by, at = last
    return Published(
        weights=found.weights,
        guardrails=found.guardrails,
        scenario=found,
        catalog_version=found.catalog_version,
        published_by=by,
        published_at=at,
    )


def find(weights: Weights, guardrails: Guardrails, *, path: Path | None = None) -> Scenario | None:
    """The newest saved scenario with exactly these weights and guardrails (None: unsaved)."""
    for sc in list_all(path=path):
        if sc.weights == weights and sc.guardrails == guardrails:
            return sc
    return None


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
        reason = labels[main]
        # An action that gains nothing under the weights: mandatory, or a cap's fallback.
        bare = np.flatnonzero((a >= 0) & (main == 0))
        reason[bare] = [NO_GAIN[field.catalog.actions[x].mandatory] for x in a[bare]]
        out[f"reason_{slot + 1}"] = reason
    return pl.DataFrame(
        {
            k: (v if isinstance(v, pl.Series) else pl.Series(k, v.tolist(), pl.String))
            for k, v in out.items()
        }
    )
