"""Who is in which arm: deterministic stratified assignment, and teams kept whole.

`assign` splits units (sellers, or teams) into control and treatment by a hash of the
experiment id and the unit, stratum by stratum, so the same input always gives the same arms
(frozen at start, reproducible anywhere). `team_units` maps each seller to the team of their
nearest leader, so a change shown to a team is never shown to half of it. No warehouse here.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from cxm.errors import ExperimentError

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def _mix(h: np.ndarray) -> np.ndarray:
    """Return splitmix64's finaliser of h: every input bit moves every output bit."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def unit_hash(experiment_id: str, unit_ids) -> np.ndarray:
    """Return a stable 64-bit hash of (experiment id, unit id) per unit, as uint64.

    FNV-1a over the UTF-8 bytes of ``"<experiment_id>\\x1f<unit_id>"``, then splitmix64's
    finaliser: plain integer arithmetic, so the same on every machine and library release
    (unlike Polars' or DuckDB's own hash), and vectorised (one numpy step per byte position).
    The FNV-1a of "a" is 0xaf63dc4c8601ec8c (its published test vector):

    >>> hex(int(_fnv(np.array([b"a"]), np.uint64(0xCBF29CE484222325))[0]))
    '0xaf63dc4c8601ec8c'
    >>> unit_hash("exp1", ["S01", "S02"]).tolist() == unit_hash("exp1", ["S01", "S02"]).tolist()
    True
    """
    seed = _fnv(np.array([experiment_id.encode() + b"\x1f"]), _FNV_OFFSET)[0]
    encoded = pl.Series(unit_ids, dtype=pl.String).cast(pl.Binary).to_numpy().astype(bytes)
    return _mix(_fnv(encoded, seed))


def _fnv(encoded: np.ndarray, seed: np.uint64) -> np.ndarray:
    """Return FNV-1a of each byte string, continued from ``seed``."""
    width = encoded.dtype.itemsize
    lengths = np.char.str_len(encoded) if len(encoded) else np.zeros(0, int)
    grid = encoded.view(np.uint8).reshape(len(encoded), width) if width else None
    h = np.full(len(encoded), seed, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in range(width):
            step = (h ^ grid[:, col].astype(np.uint64)) * _FNV_PRIME
            h = np.where(lengths > col, step, h)
    return h


def _quotas(sizes: np.ndarray, share: float, keys: np.ndarray) -> np.ndarray:
    """Return the treatment units per stratum: round(share x N) in all, spread by largest
    remainder (ties broken by the stratum's hash) so each stratum is within one of its share."""
    exact = share * sizes
    base = np.floor(exact).astype(np.int64)
    extra = int(round(share * sizes.sum())) - int(base.sum())
    order = np.lexsort((keys, -(exact - base)))
    base[order[:extra]] += 1
    return base


def assign(experiment_id: str, units: pl.DataFrame, share: float) -> pl.DataFrame:
    """Return each unit's arm, ``control`` or ``treatment``, stratified and deterministic.

    Within each stratum (e.g. ``"BR|Manager"``) units are ordered by `unit_hash`; the first of
    them are treatment, as many as the stratum's share rounded by largest remainder, so the
    whole split is round(share x N) and every stratum is within one unit of its share. The
    same experiment id and units give the same arms whatever the rows' order.

    Parameters
    ----------
    units : ``unit_id``, ``stratum`` (strings); one row per unit.
    share : the share in treatment, strictly between 0 and 1.

    Returns
    -------
    ``unit_id``, ``arm``, in the input's order.

    Raises
    ------
    ExperimentError : ``bad_share``, ``duplicate_unit``.

    >>> u = pl.DataFrame({"unit_id": ["S1", "S2", "S3", "S4"], "stratum": ["BR"] * 2 + ["MX"] * 2})
    >>> out = assign("e1", u, 0.5)
    >>> out.group_by("arm").len().sort("arm")["len"].to_list()
    [2, 2]
    >>> sorted(out.filter(pl.col("arm") == "treatment").join(u, on="unit_id")["stratum"])
    ['BR', 'MX']
    """
    if not (isinstance(share, int | float) and 0 < share < 1):
        raise ExperimentError("share", share, "bad_share", "is not strictly between 0 and 1")
    ids = units["unit_id"].cast(pl.String)
    dup = ids.filter(ids.is_duplicated())
    if len(dup):
        raise ExperimentError(
            "unit_id",
            dup[0],
            "duplicate_unit",
            f"appears more than once ({dup.n_unique()} units repeated)",
        )
    strata = units["stratum"].cast(pl.String).fill_null("")
    h = unit_hash(experiment_id, ids)
    names = strata.unique().sort()
    code = strata.replace_strict(names, pl.int_range(len(names), eager=True)).to_numpy()
    sizes = np.bincount(code, minlength=len(names))
    keys = unit_hash(experiment_id + "\x1fstratum", names)
    quota = _quotas(sizes, float(share), keys)
    # rank within stratum by hash (then id, for the impossible tie)
    order = (
        pl.DataFrame({"at": np.arange(len(ids)), "code": code, "h": h, "id": ids})
        .sort("code", "h", "id")
        .get_column("at")
        .to_numpy()
    )
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - starts[code[order]]
    treated = rank < quota[code]
    return pl.DataFrame(
        {
            "unit_id": ids,
            "arm": np.where(treated, "treatment", "control"),
        }
    )


def team_units(sellers: pl.DataFrame, leader_rank: str, ranks: list[str]) -> pl.DataFrame:
    """Return each seller's unit: their nearest upline (or themselves) at ``leader_rank`` or up.

    A leader heads their own team: everyone below them down to the next leader. A seller with
    no such leader above is a unit of their own. A sponsor not among ``sellers`` (outside the
    scope read) ends the chain. Pointer jumping: each seller points at themselves when a leader,
    else at their sponsor, and the pointers are squared until they stop moving
    (log2 of the depth rounds).

    Parameters
    ----------
    sellers : ``seller_id``, ``sponsor_id`` (null for a root), ``rank``, ``market``.
    leader_rank : the lowest rank that heads a team.
    ranks : the rank ladder, lowest first.

    Returns
    -------
    ``seller_id``, ``unit_id`` in the input's order.

    Raises
    ------
    ExperimentError : ``unknown_rank``, ``duplicate_unit``, ``sponsor_cycle``.

    >>> s = pl.DataFrame({"seller_id": ["L", "A", "B", "C"], "sponsor_id": [None, "L", "A", None],
    ...                   "rank": ["Leader", "Rep", "Rep", "Rep"], "market": ["BR"] * 4})
    >>> team_units(s, "Leader", ["Rep", "Leader"])["unit_id"].to_list()
    ['L', 'L', 'L', 'C']
    """
    if leader_rank not in ranks:
        raise ExperimentError(
            "leader_rank",
            leader_rank,
            "unknown_rank",
            f"is not on the rank ladder ({', '.join(ranks)})",
        )
    unknown = sellers["rank"].filter(~sellers["rank"].is_in(ranks))
    if len(unknown):
        raise ExperimentError(
            "rank", unknown[0], "unknown_rank", f"is not on the rank ladder ({', '.join(ranks)})"
        )
    ids = sellers["seller_id"].cast(pl.String)
    if ids.is_duplicated().any():
        raise ExperimentError(
            "seller_id",
            ids.filter(ids.is_duplicated())[0],
            "duplicate_unit",
            "appears more than once",
        )
    n = len(ids)
    index = pl.DataFrame({"sponsor_id": ids, "parent": np.arange(n, dtype=np.int64)})
    parent = (
        sellers.select(pl.col("sponsor_id").cast(pl.String))
        .join(index, on="sponsor_id", how="left", maintain_order="left")["parent"]
        .fill_null(-1)
        .to_numpy()
    )
    level = sellers["rank"].replace_strict(ranks, list(range(len(ranks)))).to_numpy()
    leader = level >= ranks.index(leader_rank)
    me = np.arange(n, dtype=np.int64)
    point = np.where(leader, me, parent)
    for _ in range(max(1, math.ceil(math.log2(n + 1))) + 1):
        nxt = np.where(point >= 0, point[np.maximum(point, 0)], -1)
        if np.array_equal(nxt, point):
            break
        point = nxt
    stuck = (point >= 0) & ~leader[np.maximum(point, 0)]
    if stuck.any():
        raise ExperimentError(
            "sponsor_id",
            ids[int(np.flatnonzero(stuck)[0])],
            "sponsor_cycle",
            "is in an upline loop with no leader",
        )
    unit = np.where(point >= 0, point, me)
    return pl.DataFrame({"seller_id": ids, "unit_id": ids.gather(unit)})
