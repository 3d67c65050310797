"""Scenario vs baseline: rank the whole field under a weight vector and compare (issue 12, item 6).

`Field.of` turns the seller state and the action catalog into the arrays the kernels read,
once per load and catalog. `rank` gives every seller their top 3 under a weight vector and
the guardrails; `compare` counts, in one parallel pass, how that ranking differs from the
baseline's: share of sellers whose first action changes (overall and by rank, market,
language), the action mix before and after, the transition matrix, the expected effect per
priority under the catalog's follow-through rates, sellers left with no useful action, how
evenly markets and languages move, and a few sellers side by side with their reasons.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np
import polars as pl

from cxm.access import Scope
from cxm.config import CompanyConfig
from cxm.errors import WarehouseMissing
from cxm.warehouse.scoped import Scoped
from cxm.whatif import score, ties
from cxm.whatif.catalog import Catalog, load_catalog
from cxm.whatif.need import LABELS, PRIORITIES, needs
from cxm.whatif.weights import Weights

#: A segment's change rate this far (in shares) above the median of the others is flagged.
UNEVEN_BY = 0.15
#: Segments smaller than this are not judged for evenness (their rates are noise).
EVEN_MIN_SELLERS = 30
DIMENSIONS = ("rank", "market", "language")
#: The reason of an action that gains nothing under the weights: mandatory, or a cap's
#: fallback (a seller turned away with nothing else that gains anything).
NO_GAIN = {True: "required (guardrail)", False: "next eligible action (a cap is full)"}


@dataclass(frozen=True)
class Guardrails:
    """Which hard constraints apply: mandatory actions kept, caps on first slots."""

    mandatory: bool = True
    caps: bool = True


#: Both guardrails on, as the field platform runs.
GUARDED = Guardrails()


@dataclass(frozen=True, eq=False)
class Field:
    """The field as the kernels read it: one row per live seller, in seller-state order."""

    catalog: Catalog
    as_of: dt.date | None
    scope: Scope
    seller_id: pl.Series
    need_t: np.ndarray  # float32 (priorities, n): need, transposed for the kernels
    eligible: np.ndarray  # uint64 (n,): bit a = eligible for action a
    codes: dict[str, np.ndarray]  # dimension -> int16 code per seller
    labels: dict[str, tuple[str, ...]]  # dimension -> label per code
    impact: np.ndarray = field(init=False, repr=False)  # the catalog's, float32 (actions, K)
    #: uint64 per seller: breaks a cap's ties (`cxm.whatif.ties`); from the ids when None.
    tie_key: np.ndarray | None = field(default=None, repr=False)
    action_key: np.ndarray = field(init=False, repr=False)  # uint64 per action, likewise
    #: What `score.count` reads, made once: need seller by seller, and one code per seller
    #: for (rank, market, language).
    need_r: np.ndarray = field(init=False, repr=False)
    cell: np.ndarray = field(init=False, repr=False)
    #: What `score.top3` reads: eligibility as two int32 rows (`score.eligible_halves`).
    eligible_t: np.ndarray = field(init=False, repr=False)
    _memo: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # Read from the catalog once: a slider move must not rebuild them from its records.
        object.__setattr__(self, "impact", self.catalog.impact_matrix())
        if self.tie_key is None:
            seed = self.catalog.version
            object.__setattr__(self, "tie_key", ties.keys(self.seller_id, seed=seed))
        object.__setattr__(
            self, "action_key", ties.keys(self.catalog.ids, seed=self.catalog.version)
        )
        object.__setattr__(self, "need_r", score.need_rows(self.need_t))
        object.__setattr__(self, "eligible_t", score.eligible_halves(self.eligible))
        codes = (self.codes[d] for d in DIMENSIONS)
        object.__setattr__(self, "cell", score.cells(*codes, self.dims))

    def sizes(self) -> np.ndarray:
        """Sellers by market x language (kept: asked on every comparison)."""
        if "sizes" not in self._memo:
            n_m, n_l = len(self.labels["market"]), len(self.labels["language"])
            m = self.codes["market"].astype(np.int64)
            lang = self.codes["language"].astype(np.int64)
            self._memo["sizes"] = np.bincount(m * n_l + lang, minlength=n_m * n_l).reshape(n_m, n_l)
        return self._memo["sizes"]

    @property
    def dims(self) -> np.ndarray:
        """How many ranks, markets and languages the field's codes run over."""
        return np.array([len(self.labels[d]) for d in DIMENSIONS], np.int64)

    @classmethod
    def of(
        cls,
        state: pl.DataFrame,
        catalog: Catalog,
        *,
        scope: Scope,
        as_of: dt.date | None = None,
    ) -> Field:
        """Prepare ``state`` (the rows of a user's company's ``seller_state`` table)."""
        codes, labels = {}, {}
        for dim in (*DIMENSIONS, "status"):
            if dim == "rank":
                pairs = state.select("rank_index", "rank").unique().sort("rank_index")
                keys = pairs["rank_index"].to_numpy()
                codes[dim] = np.searchsorted(keys, state["rank_index"].to_numpy()).astype(np.int16)
                labels[dim] = tuple(pairs["rank"].to_list())
            else:
                names = sorted(state[dim].unique().to_list())
                physical = state[dim].cast(pl.Enum(names)).to_physical()
                codes[dim] = physical.to_numpy().astype(np.int16)
                labels[dim] = tuple(names)
        return cls(
            catalog=catalog,
            as_of=as_of,
            scope=scope,
            seller_id=state["seller_id"],
            need_t=np.ascontiguousarray(needs(state).T),
            eligible=catalog.eligibility(state),
            codes=codes,
            labels=labels,
        )

    @property
    def size(self) -> int:
        return len(self.seller_id)

    def mask(self, **members: Sequence[str]) -> np.ndarray:
        """Sellers whose rank, market, language or status is among the labels given.

        ``field.mask(market=["BR"], status=["inactive"])``: inactive sellers in Brazil. An
        unknown label matches nobody (the caller validates names against the config).
        """
        keep = np.ones(self.size, bool)
        for dim, wanted in members.items():
            if wanted:
                ok = [i for i, label in enumerate(self.labels[dim]) if label in set(wanted)]
                keep &= np.isin(self.codes[dim], ok)
        return keep

    def subset(self, keep: np.ndarray) -> Field:
        """The sellers where ``keep`` is true, as a field of their own (same catalog)."""
        return Field(
            catalog=self.catalog,
            as_of=self.as_of,
            scope=self.scope,
            seller_id=self.seller_id.filter(pl.Series(keep)),
            need_t=np.ascontiguousarray(self.need_t[:, keep]),
            eligible=self.eligible[keep],
            codes={d: c[keep] for d, c in self.codes.items()},
            labels=self.labels,
            tie_key=self.tie_key[keep],
        )

    def counted(self, ranking: Ranking) -> tuple[np.ndarray, ...]:
        """The comparison counts of ``ranking`` against itself: the baseline's side.

        Kept for the field's own baselines only (asked on every slider move); any other
        ranking, such as a saved scenario compared with another, is counted afresh, so a
        long-lived cached field does not gather rankings.
        """
        kept = (ranking.weights, ranking.guardrails)
        if ranking is not self._memo.get(kept):
            return counts(self, ranking, ranking.first)
        key = ("counts", *kept)
        if key not in self._memo:
            self._memo[key] = counts(self, ranking, ranking.first)
        return self._memo[key]

    def baseline(self, guardrails: Guardrails = GUARDED, weights: Weights | None = None) -> Ranking:
        """The ranking under ``weights`` (default: the catalog's), kept: it is asked on every
        move. Pass what is published (`cxm.whatif.scenarios.published`) as ``weights`` and
        ``guardrails`` when a scenario has been published."""
        kept = (weights or Weights.baseline(self.catalog), guardrails)
        if kept not in self._memo:
            self._memo[kept] = rank(self, kept[0], guardrails)
        return self._memo[kept]


def load_field(company: Scoped, cfg: CompanyConfig, *, catalog: Catalog | None = None) -> Field:
    """Read the user's company's seller state and prepare it for ``catalog`` (default: in
    force). A scoped user's seller state is derived from their markets alone
    (`cxm.warehouse.scoped`), so a recruit or order outside them moves no recommendation.

    The catalog is checked against the warehouse's courses, so a rule naming a course the
    loaded data lacks is a `CatalogError`, not an action nobody can get.
    """
    con = company.con
    try:
        courses = [r[0] for r in con.execute("SELECT course_id FROM courses").fetchall()]
        as_of = con.execute("SELECT as_of FROM dim_as_of").fetchall()
    except duckdb.CatalogException:
        raise WarehouseMissing(
            "The warehouse has no seller state yet; rebuild it (cxm demo or cxm import)."
        ) from None
    cat = catalog or load_catalog(cfg=cfg, course_ids=courses)
    state = con.sql("SELECT * FROM seller_state").pl()
    return Field.of(state, cat, scope=company.scope, as_of=as_of[0][0] if as_of else None)


@dataclass(frozen=True, eq=False)
class Ranking:
    """Every seller's top 3 action indices (-1 = empty), slots in order."""

    weights: Weights
    guardrails: Guardrails
    action: np.ndarray  # int8 (n, 3)

    @property
    def first(self) -> np.ndarray:
        return self.action[:, 0]


def rank(field: Field, weights: Weights, guardrails: Guardrails = GUARDED) -> Ranking:
    """Rank every seller's eligible actions under ``weights`` and ``guardrails``."""
    cat = field.catalog
    action = score.rank(
        field.need_t,
        field.eligible,
        field.impact,
        weights.vector(),
        mandatory=int(cat.mandatory_mask()) if guardrails.mandatory else 0,
        caps=cat.caps() if guardrails.caps else None,
        seller_key=field.tie_key,
        action_key=field.action_key,
        eligible_t=field.eligible_t,
    )
    return Ranking(weights=weights, guardrails=guardrails, action=action)


@dataclass(frozen=True)
class Comparison:
    """Scenario against baseline, ready to draw and export (every frame small)."""

    sellers: int
    changed: int
    changed_by: dict[str, pl.DataFrame]  # segment, sellers, changed, share, flagged
    mix: dict[str, pl.DataFrame]  # segment, action, before, after
    transition: pl.DataFrame  # baseline, scenario, sellers
    effect: pl.DataFrame  # priority, label, baseline, scenario, change
    no_action: pl.DataFrame  # market, language, sellers, without, share
    uneven: pl.DataFrame  # dimension, segment, share, others_median
    spread: dict[str, float | None]  # market, language: highest minus lowest change rate
    examples: pl.DataFrame  # seller_id, slot, before, after, reasons before/after

    @property
    def changed_share(self) -> float:
        return self.changed / self.sellers if self.sellers else 0.0


def compare(
    field: Field,
    scenario: Ranking,
    *,
    baseline: Ranking | None = None,
    examples: int = 5,
) -> Comparison:
    """Compare ``scenario`` with ``baseline`` (default: the published weights) over ``field``."""
    base = baseline if baseline is not None else field.baseline()
    cat = field.catalog
    dims = field.dims
    changed, mix, trans, effect, none, first = counts(field, scenario, base.first)
    _, mix_before, _, effect_before, _, _ = field.counted(base)
    totals = mix.sum(1)
    names = ("(none)", *(a.id for a in cat.actions))
    changed_by, mixes, start = {}, {}, 0
    for dim, size in zip(DIMENSIONS, dims, strict=True):
        part = slice(start, start + size)
        changed_by[dim] = _rates(field.labels[dim], totals[part], changed[part])
        mixes[dim] = _mix(field.labels[dim], names, mix_before[part], mix[part])
        start += size
    return Comparison(
        sellers=field.size,
        changed=int(changed[: dims[0]].sum()),
        changed_by=changed_by,
        mix=mixes,
        transition=_matrix(names, trans),
        effect=_effect(effect_before, effect, field.size),
        no_action=_no_action(field, none),
        uneven=pl.concat([_uneven(dim, changed_by[dim]) for dim in ("market", "language")]),
        spread={dim: _spread(changed_by[dim]) for dim in ("market", "language")},
        examples=_examples(field, base, scenario, trans, first, examples),
    )


def counts(field: Field, ranking: Ranking, base_first: np.ndarray) -> tuple[np.ndarray, ...]:
    """`score.count` of ``ranking`` against ``base_first`` over ``field``: changed, mix,
    transitions, effect per priority, no action, first seller of each transition (see the
    kernel)."""
    ft = np.asarray(field.catalog.follow_through, np.float32)
    return score.count(ranking.action, base_first, field.need_r, field.impact, ft, field.cell,
                       field.dims)  # fmt: skip


# The small frames below are built from numpy with no Polars expression: each expression is
# a query run on Polars' thread pool, and a dozen of them per slider move cost as much as the
# counting pass whenever another process holds a core.


def _ratio(num: np.ndarray, den: np.ndarray, name: str) -> pl.Series:
    """num / den as Float64, null where den is not above 0 (as a Polars division in
    ``pl.when(den > 0)`` gives)."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return pl.Series(name, out, dtype=pl.Float64, nan_to_null=True)


def _rates(labels, totals, changed) -> pl.DataFrame:
    return pl.DataFrame(
        [
            pl.Series("segment", list(labels), dtype=pl.String),
            pl.Series("sellers", totals, dtype=pl.Int64),
            pl.Series("changed", changed, dtype=pl.Int64),
            _ratio(changed, totals, "share"),
        ]
    )


def _mix(labels, names, before, after) -> pl.DataFrame:
    seg, act = np.nonzero((before > 0) | (after > 0))
    return pl.DataFrame(
        [
            pl.Series("segment", [labels[i] for i in seg], dtype=pl.String),
            pl.Series("action", [names[a] for a in act], dtype=pl.String),
            pl.Series("before", before[seg, act], dtype=pl.Int64),
            pl.Series("after", after[seg, act], dtype=pl.Int64),
        ]
    )


def _matrix(names, trans) -> pl.DataFrame:
    rows, cols = np.nonzero(trans)
    cells = sorted(
        ((int(trans[i, j]), names[i], names[j]) for i, j in zip(rows, cols, strict=True)),
        key=lambda c: (-c[0], c[1], c[2]),
    )
    return pl.DataFrame(
        [
            pl.Series("baseline", [c[1] for c in cells], dtype=pl.String),
            pl.Series("scenario", [c[2] for c in cells], dtype=pl.String),
            pl.Series("sellers", [c[0] for c in cells], dtype=pl.Int64),
        ]
    )


def _effect(before, after, n) -> pl.DataFrame:
    per = 1000.0 / n if n else 0.0
    base, scen = before * per, after * per
    return pl.DataFrame(
        [
            pl.Series("priority", list(PRIORITIES), dtype=pl.String),
            pl.Series("label", [LABELS[p] for p in PRIORITIES], dtype=pl.String),
            pl.Series("baseline", base, dtype=pl.Float64),
            pl.Series("scenario", scen, dtype=pl.Float64),
            _ratio(scen, base, "change") - 1.0,
        ]
    )


def _no_action(field: Field, none) -> pl.DataFrame:
    sizes = field.sizes()
    mi, li = np.nonzero(sizes)
    return pl.DataFrame(
        [
            pl.Series("market", [field.labels["market"][i] for i in mi], dtype=pl.String),
            pl.Series("language", [field.labels["language"][j] for j in li], dtype=pl.String),
            pl.Series("sellers", sizes[mi, li], dtype=pl.Int64),
            pl.Series("without", none[mi, li], dtype=pl.Int64),
            _ratio(none[mi, li], sizes[mi, li], "share"),
        ]
    )


def _judged(rates: pl.DataFrame) -> tuple[list[str], np.ndarray]:
    """The segments big enough to judge, and their change rates."""
    keep = rates["sellers"].to_numpy() >= EVEN_MIN_SELLERS
    segments = [seg for seg, k in zip(rates["segment"].to_list(), keep, strict=True) if k]
    return segments, rates["share"].to_numpy()[keep]


def _spread(rates: pl.DataFrame) -> float | None:
    """Highest minus lowest change rate among segments big enough to judge (None: < 2)."""
    _, shares = _judged(rates)
    return float(shares.max() - shares.min()) if shares.size >= 2 else None


def _uneven(dim: str, rates: pl.DataFrame) -> pl.DataFrame:
    segments, shares = _judged(rates)
    rows = []
    for i, (seg, share) in enumerate(zip(segments, shares.tolist(), strict=True)):
        others = np.delete(shares, i)
        if others.size and share - float(np.median(others)) >= UNEVEN_BY:
            rows.append((dim, seg, share, float(np.median(others))))
    return pl.DataFrame(
        rows,
        schema={
            "dimension": pl.String,
            "segment": pl.String,
            "share": pl.Float64,
            "others_median": pl.Float64,
        },
        orient="row",
    )


def _examples(
    field: Field, base: Ranking, scen: Ranking, trans: np.ndarray, first: np.ndarray, k: int
) -> pl.DataFrame:
    """The first seller (lowest row) of each of the ``k`` most common changes of first action.

    The changes come from the transition counts (row: baseline first + 1, column: scenario
    first + 1); each one's first seller was noted by the counting pass (``first``).
    """
    moved = trans.copy()
    np.fill_diagonal(moved, 0)
    b, a = np.nonzero(moved)
    order = np.lexsort((a, b, -moved[b, a]))[:k]
    picks = sorted(int(first[b[i], a[i]]) for i in order)
    rows = []
    for s in picks:
        segment = " · ".join(
            field.labels[d][field.codes[d][s]] for d in ("market", "language", "rank")
        )
        for slot in range(3):
            rows.append(
                {
                    "seller_id": field.seller_id[s],
                    "segment": segment,
                    "slot": slot + 1,
                    "before": _name(field, base.action[s, slot]),
                    "before_reasons": reasons(field, base.weights, s, base.action[s, slot]),
                    "after": _name(field, scen.action[s, slot]),
                    "after_reasons": reasons(field, scen.weights, s, scen.action[s, slot]),
                }
            )
    return pl.DataFrame(
        rows,
        schema={
            "seller_id": pl.String,
            "segment": pl.String,
            "slot": pl.Int64,
            "before": pl.String,
            "before_reasons": pl.String,
            "after": pl.String,
            "after_reasons": pl.String,
        },
    )


def _name(field: Field, a: int) -> str:
    return field.catalog.actions[a].label if a >= 0 else "(none)"


def contributions(field: Field, weights: Weights, row: int, action: int) -> dict[str, float]:
    """Per priority, weight x impact x need of one seller's action: what its score is made of."""
    impact = field.impact[action]
    parts = weights.vector() * impact * field.need_t[:, row]
    return {p: float(v) for p, v in zip(PRIORITIES, parts, strict=True) if v > 0}


def reasons(field: Field, weights: Weights, row: int, action: int) -> str:
    """The contributions in words, largest first: "Customer retention 0.42 + Cart size 0.10"."""
    if action < 0:
        return ""
    parts = sorted(contributions(field, weights, row, action).items(), key=lambda kv: -kv[1])
    if not parts:
        return NO_GAIN[field.catalog.actions[action].mandatory]
    return " + ".join(f"{LABELS[p]} {v:.2f}" for p, v in parts)
