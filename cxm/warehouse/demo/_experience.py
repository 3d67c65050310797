"""The demo voice of customer, seller and corporate, support tickets, and KPI targets.

Planted: corporate respondents rate every attribute "superior" (top box) far more often than
customers do, and in one market (`WIDE_GAP_MARKET`) customers rate it far lower still.
Corporate answers come from a quarterly pulse over the whole history, so the gap can be
followed over time.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cxm.warehouse.demo import _calibration as cal
from cxm.warehouse.demo._field import Customers, Field
from cxm.warehouse.demo._sampling import US_PER_DAY, as_datetime, categorical, microseconds

CUSTOMER_QUESTIONS = ("nps", "quality", "value", "service", "ease", "delivery")
SELLER_QUESTIONS = ("nps", "tools", "training", "service", "ease")
CORPORATE_QUESTIONS = ("quality", "value", "service", "ease", "delivery", "tools", "training")
#: Below the top box, answers fall on 4, 3, 2, 1 in these proportions.
LOWER_BOXES = np.array([0.5, 0.3, 0.12, 0.08])
TICKET_CHANNELS = np.array([0.3, 0.35, 0.25, 0.1])  # phone, email, chat, social
RESPONDENT = {"customer": 0, "seller": 1, "corporate": 2}


def _scores(
    rng: np.random.Generator, question: np.ndarray, top_box: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Return 1-5 scores with the given top-box chance, or 0-10 where the question is nps.

    ``u`` (uniform on 0..1) decides each answer: low is good; answers that share it move
    together.
    """
    n = len(question)
    lower = 4 - categorical(rng, LOWER_BOXES, n)
    attribute = np.where(u < top_box, 5, lower)
    promoter = 0.25 + 0.5 * top_box
    detractor = 0.45 - 0.5 * top_box
    nps = np.where(
        u < promoter,
        rng.integers(9, 11, n),
        np.where(u < 1 - detractor, rng.integers(7, 9, n), rng.integers(0, 7, n)),
    )
    return np.where(question == 0, nps, attribute).astype(np.int64)


def surveys(
    rng: np.random.Generator, f: Field, c: Customers, as_of: int, ctx: cal.Context
) -> pl.DataFrame:
    """Return survey answers: respondent_type, respondent (index), seller, market, language, day,
    question (index into `schema.SurveyQuestion`), score."""
    from cxm.warehouse.schema import SurveyQuestion  # the question order of the schema

    qindex = {q: i for i, q in enumerate(SurveyQuestion.__args__)}
    wide = ctx.config.market_codes.index(cal.WIDE_GAP_MARKET)
    parts = []

    drives = np.zeros(len(qindex))
    for name, weight in cal.NPS_DRIVERS.items():
        drives[qindex[name]] = weight
    drives[qindex["nps"]] = 1.0

    def answer(kind, who, seller, market, language, lo, hi, questions, top_box):
        q = np.array([qindex[x] for x in questions])
        k = len(q)
        day = lo + (rng.random(len(who)) * (hi - lo + 1)).astype(np.int64)
        question = np.tile(q, len(who))
        # Planted drivers (customers only): an answer takes the respondent's own draw with its
        # question's weight, else a fresh one; each answer stays uniform, so the calibrated
        # shares hold, and an attribute's correlation with the recommend answer is its weight.
        u = rng.random(len(question))
        if kind == "customer":
            mine = np.repeat(rng.random(len(who)), k)
            u = np.where(rng.random(len(question)) < drives[question], mine, u)
        parts.append(
            pl.DataFrame(
                {
                    "respondent_type": np.full(len(who) * k, RESPONDENT[kind], dtype=np.int8),
                    "respondent": np.repeat(who, k).astype(np.int64),
                    "seller": np.repeat(seller, k).astype(np.int64),
                    "market": np.repeat(market, k).astype(np.int8),
                    "language": np.repeat(language, k).astype(np.int8),
                    "answered_on": np.repeat(day, k).astype(np.int32),
                    "question": question.astype(np.int8),
                    "score": _scores(rng, question, np.repeat(top_box, k), u),
                }
            )
        )

    who = np.flatnonzero(rng.random(c.n) < cal.CUSTOMER_SURVEY_SHARE)
    tb = np.where(c.market[who] == wide, cal.WIDE_GAP_CUSTOMER_TOP_BOX, cal.CUSTOMER_TOP_BOX)
    answer(
        "customer",
        who,
        c.seller[who],
        c.market[who],
        c.language[who],
        c.acquired[who].astype(np.int64),
        np.minimum(c.end[who], as_of),
        CUSTOMER_QUESTIONS,
        tb,
    )

    who = np.flatnonzero(rng.random(f.n) < cal.SELLER_SURVEY_SHARE)
    answer(
        "seller",
        who,
        np.full(len(who), -1),
        f.market[who],
        f.language[who],
        f.enrolled[who].astype(np.int64),
        f.end[who],
        SELLER_QUESTIONS,
        np.full(len(who), cal.SELLER_TOP_BOX),
    )

    # A quarterly pulse: each market's panel answers once a quarter over the whole history.
    panel = int(np.clip(f.n // cal.CORPORATE_PANEL_SELLERS, *cal.CORPORATE_PANEL_SIZE))
    first = np.datetime64(int(f.enrolled.min()), "D").astype("datetime64[M]")
    first -= first.astype(np.int64) % 3
    last = np.datetime64(as_of, "D").astype("datetime64[M]")
    quarter = np.arange(first, last + 1, 3).astype("datetime64[D]").astype(np.int64)
    member = np.arange(len(ctx.config.markets) * panel)
    who = np.tile(member, len(quarter))
    q = np.repeat(np.arange(len(quarter)), len(member))
    lo = np.maximum(quarter[q], f.enrolled.min())
    hi = np.minimum(np.append(quarter[1:] - 1, as_of)[q], as_of)
    markets = who // panel
    answer(
        "corporate",
        who,
        np.full(len(who), -1),
        markets,
        ctx.market_language_codes[markets, 0],
        lo,
        hi,
        CORPORATE_QUESTIONS,
        np.full(len(who), cal.CORPORATE_TOP_BOX),
    )
    out = pl.concat(parts)
    return out.with_columns(pl.col("answered_on").cast(pl.Date)).with_row_index("response_num", 1)


def tickets(
    rng: np.random.Generator, f: Field, c: Customers, as_of: int, ctx: cal.Context
) -> pl.DataFrame:
    """Return support tickets: requester type and index, market, language, channel, times.

    About 41% get a first answer within the hour, 26% more the same day, the rest in 18-72
    hours; answers and resolutions after the as-of date are still open (null).
    """
    ns = rng.poisson(cal.TICKETS_PER_SELLER, f.n)
    nc = rng.poisson(cal.TICKETS_PER_CUSTOMER, c.n)
    s, cu = np.repeat(np.arange(f.n), ns), np.repeat(np.arange(c.n), nc)
    lo = np.concatenate([f.enrolled[s], c.acquired[cu]]).astype(np.int64)
    hi = np.concatenate([f.end[s], np.minimum(c.end[cu], as_of)]).astype(np.int64)
    n = len(lo)
    day = lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64)
    opened = microseconds(day, rng.integers(8 * 3600, 17 * 3600, n))
    u = rng.random(n)
    minutes = np.where(
        u < cal.TICKET_WITHIN_HOUR,
        np.minimum(rng.exponential(18, n), 59) + 1,
        np.where(
            u < cal.TICKET_WITHIN_HOUR + cal.TICKET_SAME_DAY_LATER,
            rng.uniform(61, 300, n),
            rng.uniform(18 * 60, 72 * 60, n),
        ),
    )
    first = opened + (minutes * 60_000_000).astype(np.int64)
    resolved = first + ((rng.exponential(30, n) + 0.2) * 3_600_000_000).astype(np.int64)
    cutoff = (as_of + 1) * US_PER_DAY
    return (
        pl.DataFrame(
            {
                "requester_type": np.concatenate([np.ones(len(s)), np.zeros(len(cu))]).astype(
                    np.int8
                ),
                "requester": np.concatenate([s, cu]).astype(np.int64),
                "market": np.concatenate([f.market[s], c.market[cu]]).astype(np.int8),
                "language": np.concatenate([f.language[s], c.language[cu]]).astype(np.int8),
                "channel": categorical(rng, TICKET_CHANNELS, n).astype(np.int8),
                "opened_at": as_datetime(opened),
                "first_response_at": as_datetime(np.where(first < cutoff, first, 0)),
                "resolved_at": as_datetime(np.where(resolved < cutoff, resolved, 0)),
                "has_first": first < cutoff,
                "has_resolved": resolved < cutoff,
            }
        )
        .sort("opened_at")
        .with_row_index("ticket_num", 1)
    )


def kpi_targets(as_of_year: int, as_of_quarter: int) -> pl.DataFrame:
    """Return the demo company's targets for the as-of quarter (one for Brazil only)."""
    period = f"{as_of_year}-Q{as_of_quarter}"
    rows = [
        ("active_rate", None, 0.22),
        ("seller_retention_90d", None, 0.75),
        ("first30_sale_rate", None, 0.45),
        ("app_adoption_7d", None, 0.35),
        ("compliance_rate", None, 0.90),
        ("avg_order_amount", None, 85.0),
        ("autoship_share", None, 0.45),
        ("customer_nps", None, 20.0),
        ("answered_same_day_share", None, 0.70),
        ("customer_nps", '{"markets": ["BR"]}', 5.0),
    ]
    return pl.DataFrame(
        [(period, k, s, t) for k, s, t in rows],
        schema={
            "period": pl.String,
            "kpi_id": pl.String,
            "segment": pl.String,
            "target": pl.Float64,
        },
        orient="row",
    )
