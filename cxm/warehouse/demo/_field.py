"""The demo field: sellers (ranks, churn, genealogy) and the customers they serve.

All arrays are numpy, one element per seller or customer; dates are int32 days since
1970-01-01. Every figure a test checks is a named constant here or in `_calibration.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cxm.warehouse.demo import _calibration as cal
from cxm.warehouse.demo._sampling import categorical_by_group, month_of


@dataclass
class Field:
    """Per-seller arrays of the demo field (index = seller number - 1, chronological)."""

    enrolled: np.ndarray  # int32 day
    end: np.ndarray  # int32 day: termination day or the as-of day
    terminated: np.ndarray  # bool
    market: np.ndarray  # int8 index into config markets
    language: np.ndarray  # int8 index into config languages
    sponsor: np.ndarray  # int64 seller index, -1 for a root
    rank: np.ndarray  # int8 index into config ranks
    first30: np.ndarray  # bool: a customer order in the first 30 days
    sells: np.ndarray  # bool: ever has customers
    builder: np.ndarray  # bool: recruits
    first_sale_day: np.ndarray  # int32 day of first sale, -1 if never
    selling_end: np.ndarray  # int32 last day of selling (<= end); -1 if never sells
    weekly_goal_cents: np.ndarray  # int64
    rank_reached: np.ndarray  # int32 [seller, rank]: day the rank was reached, -1 if not
    monthly_enrollment_goal: np.ndarray  # int64
    follows_up: np.ndarray  # bool: a selling seller who follows up with lapsed customers
    selling_drive: np.ndarray  # float days the seller would sell if nothing cut it short

    @property
    def n(self) -> int:
        return len(self.enrolled)


@dataclass
class Customers:
    """Per-customer arrays (index = customer number - 1)."""

    seller: np.ndarray  # int64
    acquired: np.ndarray  # int32 day
    end: np.ndarray  # int32 day: last day the customer can order
    kind: np.ndarray  # int8: 0 autoship, 1 repeat, 2 one-time
    market: np.ndarray  # int8
    language: np.ndarray  # int8
    consent: np.ndarray  # bool
    favourite_line: np.ndarray  # int8 index into config product lines
    followed_up: np.ndarray  # bool: their seller follows up (they stop half as often)

    @property
    def n(self) -> int:
        return len(self.seller)


def make_field(rng: np.random.Generator, n: int, start: int, as_of: int, ctx: cal.Context) -> Field:
    """Return ``n`` sellers enrolled between ``start`` and ``as_of`` (inclusive days)."""
    days = np.arange(start, as_of + 1, dtype=np.int32)
    growth = 0.6 + 0.8 * (days - start) / max(1, as_of - start)
    w = growth * cal.ENROLLMENT_SEASON[month_of(days)]
    enrolled = np.sort(rng.choice(days, size=n, p=w / w.sum())).astype(np.int32)

    market = rng.choice(len(ctx.market_weights), size=n, p=ctx.market_weights).astype(np.int8)
    language = ctx.market_language_codes[
        market, categorical_by_group(rng, market, ctx.language_probs)
    ]

    first30 = rng.random(n) < cal.FIRST30_SALE_SHARE
    builder = rng.random(n) < np.where(first30, cal.BUILDER_IF_FIRST30, cal.BUILDER_OTHERWISE)
    sells = first30 | (rng.random(n) < cal.LATE_SELLER_SHARE)

    # Churn: a year-one leaver leaves in the first 13 weeks half the time (docs/demo-data.md).
    leaves_in_year1 = rng.random(n) < np.where(
        first30, cal.YEAR1_CHURN_FIRST30, cal.YEAR1_CHURN_OTHER
    )
    early = rng.random(n) < cal.EARLY_LEAVER_SHARE
    offset = np.where(
        leaves_in_year1,
        np.where(early, rng.integers(10, 92, n), rng.integers(92, 366, n)),
        365 + rng.exponential(cal.LATER_TENURE_DAYS, n).astype(np.int64),
    )
    term_day = enrolled.astype(np.int64) + offset
    terminated = term_day <= as_of
    # Roots (the company's first sellers in each market) stay, so every tree has a live top.
    roots = _roots(market, n)
    terminated[roots] = False
    end = np.where(terminated, term_day, as_of).astype(np.int32)
    builder[roots] = True
    sponsor = _genealogy(rng, enrolled, end, market, builder, roots)
    end, terminated = _contagion(rng, sponsor, enrolled, end, terminated)

    first_sale_day = np.full(n, -1, dtype=np.int32)
    span = np.minimum(29, offset - 1)
    first_day = np.minimum(enrolled + (rng.random(n) * (span + 1)).astype(np.int32), end)
    first_sale_day[first30] = first_day[first30]
    late = sells & ~first30
    late_day = enrolled + 31 + (rng.exponential(90, n)).astype(np.int32)
    late &= late_day < end
    first_sale_day[late] = late_day[late]
    sells = first_sale_day >= 0
    # Many sellers stop selling long before they are terminated: the dormant field.
    span = rng.exponential(np.where(builder, cal.SELLING_SPAN_BUILDER_DAYS, cal.SELLING_SPAN_DAYS))
    selling_end = np.where(sells, np.minimum(end, first_sale_day + 30 + span.astype(np.int64)), -1)

    rank = _ranks(rng, enrolled, end, as_of, builder, sells, terminated)
    rank_reached = _rank_history(rng, enrolled, end, rank)
    weekly = (cal.WEEKLY_GOAL_BY_RANK[rank] * rng.lognormal(0, 0.3, n) / 10).round() * 1000
    monthly = cal.ENROLLMENT_GOAL_BY_RANK[rank] + rng.poisson(0.3, n)
    follows_up = sells & (rng.random(n) < cal.FOLLOW_UP_SELLER_SHARE)
    return Field(
        enrolled=enrolled,
        end=end,
        terminated=terminated,
        market=market,
        language=language,
        sponsor=sponsor,
        rank=rank,
        first30=first30,
        sells=sells,
        builder=builder,
        first_sale_day=first_sale_day,
        selling_end=selling_end.astype(np.int32),
        weekly_goal_cents=weekly.astype(np.int64),
        monthly_enrollment_goal=monthly.astype(np.int64),
        rank_reached=rank_reached,
        follows_up=follows_up,
        selling_drive=30 + span,
    )


def _roots(market: np.ndarray, n: int) -> np.ndarray:
    """Return the first ~0.1% of sellers of each market (at least one): the genealogy roots."""
    order = np.argsort(market, kind="stable")
    counts = np.bincount(market)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n) - np.repeat(starts, counts)
    quota = np.maximum(1, (counts * cal.ROOT_SHARE).astype(np.int64))
    return np.flatnonzero(pos < quota[market])


def _genealogy(rng, enrolled, end, market, builder, roots) -> np.ndarray:
    """Return each seller's sponsor: an earlier builder of the same market still active then.

    Recent builders are likelier sponsors; a draw that lands on a builder who had already
    left is drawn again (up to 12 times) and falls back to the market's first root.
    """
    n = len(enrolled)
    sponsor = np.full(n, -1, dtype=np.int64)
    is_root = np.zeros(n, dtype=bool)
    is_root[roots] = True
    for m in np.unique(market):
        members = np.flatnonzero(market == m)
        b = members[builder[members]]
        todo = members[~is_root[members]]
        cb = np.searchsorted(b, todo)  # builders enrolled before each seller (index order)
        todo, cb = todo[cb > 0], cb[cb > 0]
        chosen = np.full(len(todo), -1, dtype=np.int64)
        pending = np.arange(len(todo))
        for _ in range(12):
            if len(pending) == 0:
                break
            k = cb[pending]
            pick = b[k - 1 - (k * rng.random(len(pending)) ** 1.6).astype(np.int64)]
            ok = end[pick] >= enrolled[todo[pending]]
            chosen[pending[ok]] = pick[ok]
            pending = pending[~ok]
        chosen[pending] = members[is_root[members]][0]
        sponsor[todo] = chosen
        orphans = members[(~is_root[members]) & (sponsor[members] < 0)]
        sponsor[orphans] = members[is_root[members]][0]
    return sponsor


def _depths(sponsor: np.ndarray) -> np.ndarray:
    """Return each seller's level in the sponsor tree (roots 0); a sponsor precedes a recruit."""
    depth = np.zeros(len(sponsor), dtype=np.int64)
    todo = np.flatnonzero(sponsor >= 0)
    known = sponsor < 0
    while len(todo):
        ready = known[sponsor[todo]]
        now = todo[ready]
        depth[now] = depth[sponsor[now]] + 1
        known[now] = True
        todo = todo[~ready]
    return depth


def _contagion(rng, sponsor, enrolled, end, terminated) -> tuple[np.ndarray, np.ndarray]:
    """Return (end, terminated) after downline contagion, level by level down the tree.

    When a sponsor leaves, each recruit still in the field then leaves with chance
    `DOWNLINE_CONTAGION`, 30-60 days later, unless that is after their own end or before one
    of their own recruits joined (no sponsor leaves before a recruit joins). A recruit who
    leaves this way passes it on to their own recruits. Roots never leave.
    """
    n = len(sponsor)
    lo, hi = cal.DOWNLINE_CONTAGION_DAYS
    follows = rng.random(n) < cal.DOWNLINE_CONTAGION
    delay = rng.integers(lo, hi + 1, n)
    recruits = np.flatnonzero(sponsor >= 0)
    last_recruit = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last_recruit, sponsor[recruits], enrolled[recruits])
    end = end.astype(np.int64)
    terminated = terminated.copy()
    depth = _depths(sponsor)
    by_depth = np.argsort(depth, kind="stable")
    bounds = np.searchsorted(depth[by_depth], np.arange(1, depth.max() + 2))
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        idx = by_depth[a:b]
        idx = idx[follows[idx] & terminated[sponsor[idx]]]
        day = end[sponsor[idx]] + delay[idx]
        ok = (day < end[idx]) & (day >= last_recruit[idx])
        end[idx[ok]] = day[ok]
        terminated[idx[ok]] = True
    return end.astype(np.int32), terminated


def _ranks(rng, enrolled, end, as_of, builder, sells, terminated) -> np.ndarray:
    """Return rank indexes: a pyramid by quantile of tenure x building x selling x luck.

    The live field follows `RANK_SHARES`; those who left follow `TERMINATED_RANK_SHARES`,
    almost all at the entry ranks, so retention rises with rank.
    """
    tenure_years = (end - enrolled) / 365 + 0.1
    score = tenure_years * (1 + 3 * builder) * (1 + sells) * rng.lognormal(0, 0.7, len(enrolled))
    rank = np.zeros(len(enrolled), dtype=np.int8)
    for group, shares in (
        (terminated, cal.TERMINATED_RANK_SHARES),
        (~terminated, cal.RANK_SHARES),
    ):
        idx = np.flatnonzero(group)
        if len(idx) == 0:
            continue
        q = np.empty(len(idx))
        q[np.argsort(score[idx], kind="stable")] = (np.arange(len(idx)) + 0.5) / len(idx)
        rank[idx] = np.searchsorted(np.cumsum(shares)[:-1], q, side="right")
    return rank


def _rank_history(rng, enrolled, end, rank) -> np.ndarray:
    """Return the day each seller reached each rank up to their current one (-1 above it).

    Every seller starts at the entry rank on enrolment; each step up comes at a sorted random
    day between day 30 (or mid-tenure, for short tenures) and their last day as a seller.
    """
    levels = len(cal.RANK_SHARES)
    steps = np.sort(rng.random((len(enrolled), levels - 1)), axis=1)
    tenure = end.astype(np.int64) - enrolled
    lead = np.minimum(30, tenure // 2)
    reached = (enrolled + lead)[:, None] + (steps * (tenure - lead)[:, None]).astype(np.int64)
    reached = np.where(np.arange(1, levels)[None, :] <= rank[:, None], reached, -1)
    return np.column_stack([enrolled, reached]).astype(np.int32)


def make_customers(rng: np.random.Generator, f: Field, as_of: int, ctx: cal.Context) -> Customers:
    """Return the customers of the field: about 6.5 a seller, won while sellers sell.

    A seller wins customers at a steady rate per month of selling, in proportion to their
    selling drive (builders' is ten times others'), the rank held then
    (`CUSTOMER_RATE_BY_RANK`) and luck, scaled so the field has `CUSTOMERS_PER_SELLER`; a
    cohort's first months therefore look like any other cohort's. A selling seller's first
    customer comes on their first sale day.
    """
    levels = len(cal.RANK_SHARES)
    start = np.where(f.sells, f.first_sale_day, 0).astype(np.int64)
    stop = np.where(f.sells, f.selling_end + 1, 0).astype(np.int64)  # exclusive
    # One segment per seller and rank held: from reaching it to the next step, inside selling.
    reached = f.rank_reached.astype(np.int64)
    following = np.column_stack([reached[:, 1:], np.full(f.n, -1)])
    seg_lo = np.maximum(reached, start[:, None])
    seg_hi = np.minimum(np.where(following >= 0, following, stop[:, None]), stop[:, None])
    days = np.where(reached >= 0, np.clip(seg_hi - seg_lo, 0, None), 0)
    drive = f.selling_drive / 30.44 * rng.lognormal(0, 0.6, f.n)
    lam = days * drive[:, None] * cal.CUSTOMER_RATE_BY_RANK[None, :]
    lam *= cal.CUSTOMERS_PER_SELLER * f.n / max(lam.sum(), 1e-9)
    count = rng.poisson(lam)
    alone = np.flatnonzero(f.sells & (count.sum(axis=1) == 0))
    count[alone, (reached[alone] <= start[alone, None]).sum(axis=1) - 1] = 1

    seg = np.repeat(np.arange(count.size, dtype=np.int64), count.ravel())
    seller = seg // levels
    first_of_seller = np.ones(len(seller), dtype=bool)
    first_of_seller[1:] = seller[1:] != seller[:-1]
    lo, hi = seg_lo.ravel()[seg], seg_hi.ravel()[seg]
    acquired = lo + (rng.random(len(seg)) * (hi - lo)).astype(np.int64)
    acquired = np.where(first_of_seller, start[seller], acquired).astype(np.int32)

    u = rng.random(len(seller))
    kind = np.where(
        u < cal.AUTOSHIP_CUSTOMER_SHARE,
        0,
        np.where(u < cal.AUTOSHIP_CUSTOMER_SHARE + cal.REPEAT_CUSTOMER_SHARE, 1, 2),
    )
    market = f.market[seller]
    same = rng.random(len(seller)) < 0.9
    other = ctx.market_language_codes[market, categorical_by_group(rng, market, ctx.language_probs)]
    language = np.where(same, f.language[seller], other).astype(np.int8)
    consent = rng.random(len(seller)) < ctx.consent_share[market]
    favourite = ctx.pick_regular_line(rng, market)
    return Customers(
        seller=seller,
        acquired=acquired,
        end=np.minimum(f.end, f.selling_end + cal.CUSTOMER_GRACE_DAYS)[seller],
        kind=kind.astype(np.int8),
        market=market,
        language=language,
        consent=consent,
        favourite_line=favourite,
        followed_up=f.follows_up[seller],
    )
