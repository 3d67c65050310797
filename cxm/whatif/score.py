"""The what-if kernels: score every eligible action of every seller, keep the top 3, count.

score(seller, action) = eligible x sum over priorities of weight x impact x need. A seller is
recommended an action when it is eligible and either scores above 0 or is mandatory. Ties go
to the action listed first in the catalog, so a ranking never depends on thread timing.

Guardrails are hard constraints, not weights:

- a mandatory action the seller is eligible for is always in their top 3, whatever the
  weights (a catalog has at most two, so they fit beside a first slot a cap gives to
  another action);
- an action with a cap (``max_first_share``) holds at most floor(cap x field size) first
  slots. The sellers it keeps are those with the highest score for it; among equal scores
  (equal to about five significant digits, as in the ranking) a fair draw decides, never
  the table's order: a stable hash of the seller's id and the action's id, seeded with the
  catalog version (`cxm.whatif.ties`). So the slots of a tie fall to markets, languages and
  ranks in proportion to their sellers in the tie, up to the noise of a random draw: a
  segment with a share p of the N tied sellers gets about p x C of the C slots, within
  three standard deviations of a fair draw, 3 x sqrt(C p (1 - p) (N - C) / (N - 1)). The
  same seller wins the same tie in every scenario of a catalog version, so a comparison of
  two scenarios shows what the weights change, not a reshuffle. The sellers turned away
  fall to their next recommendable action, which may itself be capped: a deferred
  acceptance (Gale and Shapley 1962) that ends when no cap is exceeded. Only the sellers
  whose first action is capped take part (an uncapped action keeps everyone who comes to
  it), and only when a cap binds. A seller turned away with no other action that gains
  anything gets the next action they are eligible for, though it gains nothing under these
  weights (the catalog's order among those), rather than an empty first slot; slot 1 stays
  empty only when every action the seller may get is capped and full. Slots 2 and 3 hold
  only actions that gain something (or are mandatory), as without caps.

The kernels take plain arrays (`Field` in `cxm.whatif.compare` prepares them once per load
and catalog); every pass is parallel over blocks of sellers with per-block counters summed
at the end, so a slider move costs one pass over need (28 bytes a seller) and eligibility.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from cxm.whatif import ties
from cxm.whatif.ties import mix

NONE = -1
#: Sellers per block of the parallel passes, and per chunk of the ranking pass.
BLOCK = 16384
CHUNK = 512
#: Action indices live in 6 bits of the ranking keys, 63 - index > 0.
MAX_ACTIONS = 63


@nb.njit(inline="always")
def _keep(k0, k1, k2, x):
    # Insert key x into the three largest k0 >= k1 >= k2: branch-free, so it vectorises.
    # np.maximum / np.minimum keep int32 keys int32 (Python's max widens them to int64, which
    # halves the lanes of every vector op: measured 14 -> 6 ms of top3's 22 at 1,000,000).
    t = np.maximum(k0, x)
    x = np.minimum(k0, x)
    k0 = t
    t = np.maximum(k1, x)
    x = np.minimum(k1, x)
    k1 = t
    return k0, k1, np.maximum(k2, x)


@intrinsic
def _bits(typingctx, x):
    """The float32's bits as an int32 (a register move, so the loop around it vectorises)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


#: Terms of an action's score summed in one vectorised expression: up to 2, 4 or all 7.
TERMS = (2, 4, 7)


def eligible_halves(eligible: np.ndarray) -> np.ndarray:
    """Eligibility as two int32 rows (actions 0-31, then 32-63): the ranking's loops then run
    on 32-bit lanes throughout, twice as many per vector op as on the uint64 masks."""
    lo = (eligible & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    hi = (eligible >> np.uint64(32)).astype(np.uint32)
    return np.stack([lo, hi]).view(np.int32)


def terms(weighted: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each action's non-zero weight x impact: priority indices (ascending, the order the
    score adds them in), values, and how many; padded to ``width`` with weight 0 on the
    first index (adding 0 x need leaves a score's bits as they are)."""
    n_actions, k = weighted.shape
    index = np.zeros((n_actions, width), np.int64)
    value = np.zeros((n_actions, width), np.float32)
    count = np.zeros(n_actions, np.int64)
    for a in range(n_actions):
        nz = np.flatnonzero(weighted[a])
        index[a, : nz.size], value[a, : nz.size] = nz, weighted[a, nz]
        index[a, nz.size :] = nz[0] if nz.size else 0
        count[a] = nz.size
    return index, value, count


@nb.njit(inline="always")
def _offer(rows, w, e, bit, tag, must, k0, k1, k2, m):
    # Score one action for a chunk's sellers and insert its keys: the terms are a tuple of a
    # fixed length, so the loop over them unrolls and the loop over sellers vectorises.
    zero = np.int32(0)
    for i in range(m):
        s = w[0] * rows[0][i]
        for j in range(1, len(rows)):
            s = s + w[j] * rows[j][i]
        x = np.bitwise_or(np.bitwise_and(_bits(s), np.int32(-64)), tag)
        ok = np.bitwise_and(e[i], bit) != zero and (must or s > 0)
        k0[i], k1[i], k2[i] = _keep(k0[i], k1[i], k2[i], x if ok else zero)


@nb.njit(cache=True, parallel=True, fastmath=True)
def top3(need_t, eligible_t, index, value, count, mandatory, out_action):
    """Fill ``out_action`` (n x 3) with every seller's top 3 action indices, slots in order.

    ``need_t`` is need transposed (priorities x sellers), ``eligible_t`` `eligible_halves`,
    ``index`` / ``value`` / ``count`` the actions' `terms`, ``mandatory`` a bitmask.

    Sellers go in chunks; per action, a key per seller that sorts like (score, earlier
    action): the score's float bits with the low 6 replaced by 63 - action (scores >= 0 sort
    as their bits do). So scores equal to about five significant digits (2**-17 relative)
    count as tied and the earlier action wins: float noise never decides a ranking. Every
    inner loop runs across the chunk's sellers and vectorises.
    """
    n = need_t.shape[1]
    n_actions = index.shape[0]
    chunks = (n + CHUNK - 1) // CHUNK
    for c in nb.prange(chunks):
        lo = c * CHUNK
        m = min(n, lo + CHUNK) - lo
        r0 = np.zeros(CHUNK, np.int32)
        r1 = np.zeros(CHUNK, np.int32)
        r2 = np.zeros(CHUNK, np.int32)
        q0 = np.zeros(CHUNK, np.int32)
        q1 = np.zeros(CHUNK, np.int32)
        q2 = np.zeros(CHUNK, np.int32)
        for a in range(n_actions):
            tag = np.int32(63 - a)
            e = eligible_t[a >> 5, lo : lo + m]
            bit = np.int32(1) << np.int32(a & 31)
            must = (mandatory >> np.uint64(a)) & np.uint64(1) != 0
            # Mandatory keys go to their own three, which always stay (below).
            k0, k1, k2 = (q0, q1, q2) if must else (r0, r1, r2)
            ix, w = index[a], value[a]
            if count[a] <= 2:
                rows2 = (need_t[ix[0], lo : lo + m], need_t[ix[1], lo : lo + m])
                _offer(rows2, (w[0], w[1]), e, bit, tag, must, k0, k1, k2, m)
            elif count[a] <= 4:
                rows4 = (need_t[ix[0], lo : lo + m], need_t[ix[1], lo : lo + m],
                         need_t[ix[2], lo : lo + m], need_t[ix[3], lo : lo + m])  # fmt: skip
                _offer(rows4, (w[0], w[1], w[2], w[3]), e, bit, tag, must, k0, k1, k2, m)
            else:
                rows7 = (need_t[ix[0], lo : lo + m], need_t[ix[1], lo : lo + m],
                         need_t[ix[2], lo : lo + m], need_t[ix[3], lo : lo + m],
                         need_t[ix[4], lo : lo + m], need_t[ix[5], lo : lo + m],
                         need_t[ix[6], lo : lo + m])  # fmt: skip
                w7 = (w[0], w[1], w[2], w[3], w[4], w[5], w[6])
                _offer(rows7, w7, e, bit, tag, must, k0, k1, k2, m)
        for i in range(m):
            k0, k1, k2 = r0[i], r1[i], r2[i]
            if q0[i]:
                # Mandatory ones always stay; the best of the rest fill what is left.
                if q1[i] == 0:
                    k2, k1, k0 = k1, k0, q0[i]
                elif q2[i] == 0:
                    k2, k1, k0 = k0, q1[i], q0[i]
                else:
                    k0, k1, k2 = q0[i], q1[i], q2[i]
                # ... in key order (a mandatory action may outscore the rest, or not).
                t0, t1, t2 = _keep(np.int32(0), np.int32(0), np.int32(0), k0)
                t0, t1, t2 = _keep(t0, t1, t2, k1)
                k0, k1, k2 = _keep(t0, t1, t2, k2)
            out_action[lo + i, 0] = 63 - (k0 & 63) if k0 else NONE
            out_action[lo + i, 1] = 63 - (k1 & 63) if k1 else NONE
            out_action[lo + i, 2] = 63 - (k2 & 63) if k2 else NONE


@nb.njit(inline="always")
def _insert(keys, acts, scores, size, key, a, sc):
    # Insert into a list kept in descending key order, at most ``size`` long.
    i = size
    while i > 0 and key > keys[i - 1]:
        i -= 1
    if i < size:
        for t in range(size - 1, i, -1):
            keys[t], acts[t], scores[t] = keys[t - 1], acts[t - 1], scores[t - 1]
        keys[i], acts[i], scores[i] = key, a, sc


@nb.njit(cache=True, parallel=True)
def candidates(need_t, eligible, weighted, mandatory, n_mandatory, out_action, out_score):
    """Fill ``out_action`` / ``out_score`` (n x m) with each seller's recommendable actions.

    Used when a cap is on: a seller a capped action turns away needs the next ones in line.
    Every mandatory action the seller is eligible for is kept (at most ``n_mandatory``), and
    the best of the rest fill the other places, all in the order of top3's keys (so both
    passes order a seller's actions alike); eligible actions that score 0 come last, as a
    first slot of last resort for a seller the caps turn away. ``weighted`` is weight x
    impact (actions x priorities). The exact scores go with them: the caps compare
    different sellers' scores.
    """
    k, n = need_t.shape
    m = out_action.shape[1]
    rest_size = m - n_mandatory
    n_actions = weighted.shape[0]
    blocks = (n + BLOCK - 1) // BLOCK
    for b in nb.prange(blocks):
        rk = np.empty(m, np.int32)
        ra = np.empty(m, np.int8)
        rs = np.empty(m, np.float32)
        mk = np.empty(m, np.int32)
        ma = np.empty(m, np.int8)
        ms = np.empty(m, np.float32)
        one = np.empty(1, np.float32)
        bits = one.view(np.int32)
        for s in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            e = eligible[s]
            rk[:] = 0
            mk[:] = 0
            for a in range(n_actions):
                if (e >> np.uint64(a)) & np.uint64(1):
                    sc = np.float32(0.0)
                    for j in range(k):
                        sc += weighted[a, j] * need_t[j, s]
                    one[0] = sc
                    key = (bits[0] & np.int32(-64)) | np.int32(63 - a)
                    if (mandatory >> np.uint64(a)) & np.uint64(1):
                        _insert(mk, ma, ms, n_mandatory, key, a, sc)
                    else:
                        _insert(rk, ra, rs, rest_size, key, a, sc)
            i = j = 0
            for t in range(m):
                if i < rest_size and rk[i] > 0 and (j >= n_mandatory or rk[i] > mk[j]):
                    out_action[s, t], out_score[s, t] = ra[i], rs[i]
                    i += 1
                elif j < n_mandatory and mk[j] > 0:
                    out_action[s, t], out_score[s, t] = ma[j], ms[j]
                    j += 1
                else:
                    out_action[s, t], out_score[s, t] = NONE, -np.inf


@nb.njit(cache=True)
def resolve_caps(cand, cand_score, capacity, mandatory, seller_key, action_key, out_action):
    """Give each seller a first action under the caps, then fill slots 2 and 3.

    ``capacity`` per action (a large number = no cap). Deferred acceptance: every seller
    proposes to their best candidate not yet refused; an over-full action keeps its best
    ``capacity`` proposers and refuses the rest, who move on. Best: the higher score (its
    float bits without the low 6, as in top3's keys), then the higher tie key, a hash of
    ``seller_key`` (per seller) and ``action_key`` (per action).
    """
    n, m = cand.shape
    n_actions = capacity.shape[0]
    score_bits = cand_score.view(np.int32)
    ptr = np.zeros(n, np.int64)
    held = np.zeros(n_actions, np.int64)
    for s in range(n):
        if cand[s, 0] >= 0:
            held[cand[s, 0]] += 1
    while True:
        over = np.where(held > capacity)[0]
        if over.size == 0:
            break
        for a in over:
            rows = np.empty(held[a], np.int64)
            keys = np.empty(held[a], np.int64)
            c = 0
            for s in range(n):
                p = ptr[s]
                if p < m and cand[s, p] == a:
                    rows[c] = s
                    # Score bits (>= 0, below 2**31) above 32 bits of the seller's tie key.
                    tie = mix(seller_key[s] ^ action_key[a]) >> np.uint64(32)
                    keys[c] = (np.int64(score_bits[s, p] & np.int32(-64)) << 32) | np.int64(tie)
                    c += 1
            order = np.argsort(-keys, kind="mergesort")
            for r in order[capacity[a] :]:
                s = rows[r]
                held[a] -= 1
                ptr[s] += 1
                if ptr[s] < m and cand[s, ptr[s]] >= 0:
                    held[cand[s, ptr[s]]] += 1
    pos = np.empty(3, np.int64)
    for s in range(n):
        p = ptr[s]
        first = cand[s, p] if p < m else NONE
        out_action[s, 0] = first
        slot = 1
        # Mandatory candidates first (they must stay in the top 3), then the rest in order.
        for want_mandatory in (True, False):
            for i in range(m):
                a = cand[s, i]
                if slot == 3 or a < 0:
                    break
                is_m = (mandatory >> np.uint64(a)) & np.uint64(1) != 0
                useful = is_m or cand_score[s, i] > 0
                if a != first and is_m == want_mandatory and useful:
                    out_action[s, slot] = a
                    pos[slot] = i
                    slot += 1
        for t in range(slot, 3):
            out_action[s, t] = NONE
        # Slots 2 and 3 in the seller's own order (the first slot is the caps' decision).
        if slot == 3 and pos[2] < pos[1]:
            out_action[s, 1], out_action[s, 2] = out_action[s, 2], out_action[s, 1]


#: Independent copies of each per-block effect sum, taken in turn by consecutive sellers: the
#: sellers are stored by market, language and rank, so neighbours often share an action, and
#: one copy would make every add wait for the last (a chain through memory).
LANES = 2
#: Need is read 8 priorities wide (the 7, then a zero) so an action's adds are one vector.
NEED_WIDTH = 8


def cells(rank: np.ndarray, market: np.ndarray, language: np.ndarray, dims) -> np.ndarray:
    """One code per seller for (rank, market, language): what `count` histograms."""
    n_m, n_l = int(dims[1]), int(dims[2])
    return ((rank.astype(np.int32) * n_m + market) * n_l + language).astype(np.int32)


def need_rows(need_t: np.ndarray) -> np.ndarray:
    """Need seller by seller, ``NEED_WIDTH`` priorities a row (zeros after the last)."""
    k, n = need_t.shape
    out = np.zeros((n, NEED_WIDTH), np.float32)
    out[:, :k] = need_t.T
    return out


@nb.njit(cache=True, parallel=True, fastmath=True, boundscheck=False)
def _count_blocks(top, base_first, need_r, cell, mix, changed, trans, first, need_sum):
    # The one parallel region of a comparison: per block of sellers, its own counters.
    n = top.shape[0]
    for b in nb.prange(mix.shape[0]):
        for s in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            f = top[s, 0] + 1
            g = base_first[s] + 1
            c = cell[s]
            mix[b, c, f] += 1
            changed[b, c] += f != g
            trans[b, g, f] += 1
            if first[b, g, f] < 0:
                first[b, g, f] = s
            lane = s % LANES
            for slot in range(3):
                a = top[s, slot] + 1
                for j in range(NEED_WIDTH):
                    need_sum[b, lane, slot, a, j] += need_r[s, j]


@nb.njit(cache=True, boundscheck=False)
def _sum_blocks(mix, changed, trans, first, need_sum):
    # Serial on purpose: the counters are small, and a second parallel region would wait
    # for a core at its barrier whenever another process holds one.
    m = mix[0].astype(np.int64)
    c = changed[0].astype(np.int64)
    t = trans[0].astype(np.int64)
    f = first[0].copy()
    ns = need_sum[0].copy()
    for b in range(1, mix.shape[0]):
        m += mix[b]
        c += changed[b]
        t += trans[b]
        ns += need_sum[b]
        for i in range(f.shape[0]):
            for j in range(f.shape[1]):
                if f[i, j] < 0:
                    f[i, j] = first[b, i, j]
    return m, c, t, f, ns


def count(top, base_first, need_r, impact, follow_through, cell, dims):
    """Count how a ranking differs from the baseline's first actions, in one parallel pass.

    ``need_r``: `need_rows`; ``cell``: `cells` of the sellers' rank, market and language
    codes; ``dims`` = (ranks, markets, languages). Returns: sellers whose first action
    changed, by rank, then market, then language codes (one vector); the first-action mix
    by the same segments (column 0 = none, a + 1 = action a); the transition matrix
    (baseline first + 1 by scenario first + 1); the expected effect per priority
    (follow-through of each slot x impact x need, summed over sellers); sellers with no
    first action by market x language; the first seller (row) of each transition, -1 where
    none.

    Each block counts by cell (rank x market x language) and sums need by slot and action,
    so a seller costs three counter adds and three vector adds; the by-dimension counts and
    the effect come from those small tables afterwards.
    """
    n = top.shape[0]
    n_r, n_m, n_l = int(dims[0]), int(dims[1]), int(dims[2])
    n_actions, k = impact.shape
    a1 = n_actions + 1
    blocks = max(1, (n + BLOCK - 1) // BLOCK)
    mix = np.zeros((blocks, n_r * n_m * n_l, a1), np.int32)
    changed = np.zeros((blocks, n_r * n_m * n_l), np.int32)
    trans = np.zeros((blocks, a1, a1), np.int32)
    first = np.full((blocks, a1, a1), -1, np.int64)
    need_sum = np.zeros((blocks, LANES, 3, a1, NEED_WIDTH), np.float64)
    _count_blocks(top, base_first, need_r, cell, mix, changed, trans, first, need_sum)
    mix, changed, trans, first, need_sum = _sum_blocks(mix, changed, trans, first, need_sum)
    # Effect: sum over slots and actions of follow-through x impact x the need summed there.
    by_slot = need_sum.sum(0)[:, 1:, :k]  # (3, actions, k); row 0 (no action) adds nothing
    effect = np.einsum("s,saj,aj->j", follow_through.astype(np.float64), by_slot,
                       impact.astype(np.float64))  # fmt: skip
    cube_mix = mix.reshape(n_r, n_m, n_l, a1)
    cube_changed = changed.reshape(n_r, n_m, n_l)
    by_dim_mix = np.concatenate([cube_mix.sum((1, 2)), cube_mix.sum((0, 2)), cube_mix.sum((0, 1))])
    by_dim_changed = np.concatenate(
        [cube_changed.sum((1, 2)), cube_changed.sum((0, 2)), cube_changed.sum((0, 1))]
    )
    none = cube_mix[..., 0].sum(0)
    return by_dim_changed, by_dim_mix, trans, effect, none, first


@nb.njit(cache=True, boundscheck=False)
def _held(first, n_actions):
    # First slots per action (-1 = none is skipped): a masked np.bincount of the int8 column
    # cast it to int64 first, some 3 ms a slider move at 1,000,000 sellers.
    held = np.zeros(n_actions, np.int64)
    for a in first:
        if a >= 0:
            held[a] += 1
    return held


def rank(
    need_t: np.ndarray,
    eligible: np.ndarray,
    impact: np.ndarray,
    weights: np.ndarray,
    *,
    mandatory: int = 0,
    caps: np.ndarray | None = None,
    seller_key: np.ndarray | None = None,
    action_key: np.ndarray | None = None,
    eligible_t: np.ndarray | None = None,
) -> np.ndarray:
    """Return every seller's top 3 action indices (int8, n x 3, -1 = empty), slots in order.

    ``need_t``: float32 (priorities x sellers); ``eligible``: uint64 bitmask per seller;
    ``impact``: float32 (actions x priorities); ``weights``: float32 per priority;
    ``mandatory``: bitmask of mandatory actions; ``caps``: per action the largest share of
    first slots it may hold (1 or more = no cap), None = no caps at all; ``seller_key`` and
    ``action_key``: uint64 keys that break a cap's ties (`cxm.whatif.ties`; default: hashes
    of the row and action numbers); ``eligible_t``: `eligible_halves` of ``eligible``, made
    once per field (made here when None).
    """
    n_actions, k = impact.shape
    if n_actions > MAX_ACTIONS:
        raise ValueError(f"at most {MAX_ACTIONS} actions, not {n_actions}")
    if k > TERMS[-1]:
        raise ValueError(f"at most {TERMS[-1]} priorities, not {k}")
    n = need_t.shape[1]
    weighted = np.ascontiguousarray(impact * weights[None, :], dtype=np.float32)
    mask = np.uint64(mandatory)
    action = np.empty((n, 3), np.int8)
    if eligible_t is None:
        eligible_t = eligible_halves(eligible)
    top3(need_t, eligible_t, *terms(weighted, TERMS[-1]), mask, action)
    capped = np.empty(0, np.int64) if caps is None else np.flatnonzero(caps < 1.0)
    if capped.size == 0:
        return action
    capacity = np.full(n_actions, n + 1, np.int64)
    capacity[capped] = np.floor(caps[capped].astype(np.float64) * n).astype(np.int64)
    first = action[:, 0]
    held = _held(first, n_actions)
    if (held <= capacity).all():
        return action  # no cap binds: the uncapped ranking stands
    # Only sellers whose first action is capped can be turned away (an uncapped action keeps
    # everyone who proposes to it), so the deferred acceptance runs on them alone.
    rows = np.flatnonzero(np.isin(first, capped))
    # A seller is turned away at most once per capped action; slots 2 and 3 need two more,
    # and every mandatory action must be at hand.
    n_mandatory = bin(int(mandatory)).count("1")
    m = min(n_actions, 3 + capped.size + n_mandatory)
    if seller_key is None:
        seller_key = ties.default_keys(n, 1)
    if action_key is None:
        action_key = ties.default_keys(n_actions, 2)
    cand = np.empty((rows.size, m), np.int8)
    cand_score = np.empty((rows.size, m), np.float32)
    candidates(
        np.ascontiguousarray(need_t[:, rows]), eligible[rows], weighted, mask, n_mandatory,
        cand, cand_score,
    )  # fmt: skip
    sub = np.empty((rows.size, 3), np.int8)
    resolve_caps(cand, cand_score, capacity, mask, seller_key[rows], action_key, sub)
    action[rows] = sub
    return action


def warm() -> None:
    """Compile every kernel on a tiny field (numba keeps the machine code on disk).

    The first ranking in a new installation otherwise spends some 15 seconds compiling;
    calling this once (tests do, before starting servers) moves that out of a page view.
    """
    need_t = np.full((7, 4), 0.5, np.float32)
    eligible = np.array([3, 1, 2, 0], np.uint64)
    impact = np.eye(2, 7, dtype=np.float32)
    weights = np.ones(7, np.float32)
    for caps in (None, np.array([0.5, 1.0], np.float32)):
        top = rank(need_t, eligible, impact, weights, mandatory=2, caps=caps)
    cell = np.zeros(4, np.int32)
    ft = np.array([0.3, 0.15, 0.08], np.float32)
    count(top, top[:, 0], need_rows(need_t), impact, ft, cell, np.array([1, 1, 1]))
