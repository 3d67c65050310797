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
    dims = np.array([len(field.labels[d]) for d in DIMENSIONS], np.int64)
    changed, mix, trans, effect, none = counts(field, scenario, base.first)
    _, mix_before, _, effect_before, _ = field.counted(base)
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
        examples=_examples(field, base, scenario, trans, examples),
    )


def counts(field: Field, ranking: Ranking, base_first: np.ndarray) -> tuple[np.ndarray, ...]:
    """`score.count` of ``ranking`` against ``base_first`` over ``field``: changed, mix,
    transitions, effect per priority, no action (see the kernel)."""
    dims = np.array([len(field.labels[d]) for d in DIMENSIONS], np.int64)
    ft = np.asarray(field.catalog.follow_through, np.float32)
    codes = (field.codes[d] for d in DIMENSIONS)
    return score.count(ranking.action, base_first, field.need_t, field.impact, ft, *codes, dims)


def _rates(labels, totals, changed) -> pl.DataFrame:
    return pl.DataFrame(
        {"segment": list(labels), "sellers": totals, "changed": changed},
        schema={"segment": pl.String, "sellers": pl.Int64, "changed": pl.Int64},
    ).with_columns(share=pl.when(pl.col("sellers") > 0).then(pl.col("changed") / pl.col("sellers")))


def _mix(labels, names, before, after) -> pl.DataFrame:
    seg, act = np.meshgrid(np.arange(len(labels)), np.arange(len(names)), indexing="ij")
    frame = pl.DataFrame(
        {
            "segment": np.asarray(labels, dtype=object)[seg.ravel()].tolist(),
            "action": np.asarray(names, dtype=object)[act.ravel()].tolist(),
            "before": before.ravel(),
            "after": after.ravel(),
        }
    )
    return frame.filter((pl.col("before") > 0) | (pl.col("after") > 0))


def _matrix(names, trans) -> pl.DataFrame:
    rows, cols = np.nonzero(trans)
    return pl.DataFrame(
        {
            "baseline": [names[i] for i in rows],
            "scenario": [names[j] for j in cols],
            "sellers": trans[rows, cols].astype(np.int64),
        },
        schema={"baseline": pl.String, "scenario": pl.String, "sellers": pl.Int64},
    ).sort(["sellers", "baseline", "scenario"], descending=[True, False, False])


def _effect(before, after, n) -> pl.DataFrame:
    per = 1000.0 / n if n else 0.0
    return pl.DataFrame(
        {
            "priority": list(PRIORITIES),
            "label": [LABELS[p] for p in PRIORITIES],
            "baseline": before * per,
            "scenario": after * per,
        }
    ).with_columns(
        change=pl.when(pl.col("baseline") > 0).then(pl.col("scenario") / pl.col("baseline") - 1)
    )


def _no_action(field: Field, none) -> pl.DataFrame:
    m = field.codes["market"].astype(np.int64)
    lang = field.codes["language"].astype(np.int64)
    sizes = np.bincount(m * none.shape[1] + lang, minlength=none.size).reshape(none.shape)
    mi, li = np.nonzero(sizes)
    return pl.DataFrame(
        {
            "market": [field.labels["market"][i] for i in mi],
            "language": [field.labels["language"][j] for j in li],
            "sellers": sizes[mi, li],
            "without": none[mi, li],
        },
        schema={
            "market": pl.String,
            "language": pl.String,
            "sellers": pl.Int64,
            "without": pl.Int64,
        },
    ).with_columns(share=pl.col("without") / pl.col("sellers"))


def _spread(rates: pl.DataFrame) -> float | None:
    """Highest minus lowest change rate among segments big enough to judge (None: < 2)."""
    judged = rates.filter(pl.col("sellers") >= EVEN_MIN_SELLERS)["share"]
    return float(judged.max() - judged.min()) if judged.len() >= 2 else None


def _uneven(dim: str, rates: pl.DataFrame) -> pl.DataFrame:
    judged = rates.filter(pl.col("sellers") >= EVEN_MIN_SELLERS)
    rows = []
    shares = judged["share"].to_list()
    for i, (seg, share) in enumerate(zip(judged["segment"], shares, strict=True)):
        others = shares[:i] + shares[i + 1 :]
        if others and share - float(np.median(others)) >= UNEVEN_BY:
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
    field: Field, base: Ranking, scen: Ranking, trans: np.ndarray, k: int
) -> pl.DataFrame:
    """The first seller (lowest row) of each of the ``k`` most common changes of first action.

    The changes come from the transition counts (row: baseline first + 1, column: scenario
    first + 1); each one's first seller from one scan of the two first-action columns.
    """
    moved = trans.copy()
    np.fill_diagonal(moved, 0)
    b, a = np.nonzero(moved)
    order = np.lexsort((a, b, -moved[b, a]))[:k]
    picks = sorted(
        int(np.argmax((base.first == b[i] - 1) & (scen.first == a[i] - 1))) for i in order
    )
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
