"""The demo company's acquisition: channels, marketing spend by month, market and channel, leads.

Drawn by generators of their own (seeded from the spec's seed and issue number 24), after the
field and the customers exist, so every earlier draw of the demo is unchanged. Spend follows
the customers and sellers actually won: each (month, market, channel) spends the channel's
cost per customer (or per seller) times the market's cost level times the number won, with
a little noise; so CAC comes out near the figures below. Sources in docs/demo-data.md.

Planted (tests/test_planted.py finds them through the KPI API):

- `LOSING_CHANNEL` (events) costs more per customer than its customers are worth over a year:
  CLV/CAC under 1 in every market.
- In `REFERRAL_MARKET` (MX) sellers refer their best customers: a seller-referred customer
  there is mostly an autoship one, so the seller-referred channel holds the most valuable new
  customers of any channel in any market.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from cxm.config import CompanyConfig
from cxm.warehouse.demo._field import Customers, Field

ISSUE = 24
LOSING_CHANNEL = "events"
REFERRAL_MARKET = "MX"
#: Share of customers won by a seller (referral), else by a paid channel; in the referral
#: market by customer kind (autoship, repeat, one-time).
REFERRED_SHARE = 0.55
REFERRAL_BY_KIND = (0.95, 0.35, 0.15)
#: How paid customers split across the paid channels, and sellers with no sponsor.
PAID_MIX = {"paid_social": 0.35, "events": 0.15, "search": 0.30, "content": 0.20}
#: Spend per customer won, US dollars in the US (First Page Sage 2024: e-commerce CAC $53 food
#: and beverage to $61 beauty and personal care, $87 medical; seller referral: a bonus).
CAC = {
    "paid_social": 70.0,
    "events": 260.0,
    "search": 55.0,
    "content": 35.0,
    "seller_referred": 8.0,
}
#: Spend per seller won (a recruit costs more than a shopper; referral bonus for sponsors).
SELLER_CAC = {
    "paid_social": 120.0,
    "events": 200.0,
    "search": 90.0,
    "content": 60.0,
    "seller_referred": 15.0,
}
#: Cost of reaching people per market, US = 1 (ad prices follow purchasing power); events
#: and sampling cost the same everywhere (venues, product, staff), hence lose everywhere.
COST_LEVEL = {"US": 1.0, "CA": 0.9, "MX": 0.45, "BR": 0.4, "DE": 0.95, "JP": 1.1}
#: Cost per lead: outbound; inbound costs 62% less per lead (Demand Metric, vendor).
OUTBOUND_CPL = 40.0
INBOUND_DISCOUNT = 0.62
#: Leads are recorded for the last year before the as-of date.
LEAD_DAYS_KEPT = 365
#: Days from a lead to the first order or enrolment: exponential, mean by channel kind.
LEAD_LAG_MEAN = {"outbound": 35.0, "inbound": 15.0}


@dataclass
class Acquisition:
    """Each seller's and customer's channel (index into the configured channels)."""

    seller_channel: np.ndarray  # int8
    customer_channel: np.ndarray  # int8


def _rng(seed: int, part: int) -> np.random.Generator:
    return np.random.default_rng([seed, ISSUE, part])


def _paid(cfg: CompanyConfig) -> tuple[np.ndarray, np.ndarray]:
    ids = cfg.acquisition_channel_ids
    codes = np.array([ids.index(c) for c in PAID_MIX], dtype=np.int8)
    weights = np.array(list(PAID_MIX.values()))
    return codes, weights / weights.sum()


def seller_channels(seed: int, f: Field, cfg: CompanyConfig) -> np.ndarray:
    """Return each seller's channel: referred by their sponsor mostly, else a paid channel."""
    rng = _rng(seed, 0)
    codes, weights = _paid(cfg)
    referred = cfg.acquisition_channel_ids.index("seller_referred")
    paid = codes[rng.choice(len(codes), size=f.n, p=weights)]
    by_sponsor = (f.sponsor >= 0) & (rng.random(f.n) < 0.85)
    return np.where(by_sponsor, referred, paid).astype(np.int8)


def customer_channels(seed: int, c: Customers, cfg: CompanyConfig) -> np.ndarray:
    """Return each customer's channel (the referral market's referred are its autoship ones)."""
    rng = _rng(seed, 1)
    codes, weights = _paid(cfg)
    referred = cfg.acquisition_channel_ids.index("seller_referred")
    share = np.where(
        c.market == cfg.market_codes.index(REFERRAL_MARKET),
        np.array(REFERRAL_BY_KIND)[c.kind],
        REFERRED_SHARE,
    )
    paid = codes[rng.choice(len(codes), size=c.n, p=weights)]
    return np.where(rng.random(c.n) < share, referred, paid).astype(np.int8)


def _month(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _spend(rng, months, market, channel, per_unit: np.ndarray, level: np.ndarray, cfg, bought):
    n_ch = len(cfg.acquisition_channel_ids)
    n_mk = len(cfg.market_codes)
    lo = months.min() if len(months) else 0
    key = ((months - lo) * n_mk + market) * n_ch + channel
    counts = np.bincount(key, minlength=0)
    cells = np.flatnonzero(counts)
    ch = cells % n_ch
    mk = (cells // n_ch) % n_mk
    month = cells // (n_ch * n_mk) + lo
    noise = rng.lognormal(0.0, 0.12, len(cells))
    cents = np.round(counts[cells] * per_unit[ch] * level[mk, ch] * noise * 100).astype(np.int64)
    return pl.DataFrame(
        {
            "month": pl.Series(month.astype("datetime64[M]").astype("datetime64[D]")).cast(pl.Date),
            "market": np.array(cfg.market_codes)[mk],
            "channel": np.array(cfg.acquisition_channel_ids)[ch],
            "bought": bought,
            "amount": pl.Series(cents / 100).cast(pl.Decimal(14, 2)),
        }
    )


def spend(seed: int, f: Field, c: Customers, a: Acquisition, cfg: CompanyConfig) -> pl.DataFrame:
    """Return the marketing spend: every month, market and channel that won someone."""
    rng = _rng(seed, 2)
    ids = cfg.acquisition_channel_ids
    market_level = np.array([COST_LEVEL.get(m, 1.0) for m in cfg.market_codes])
    level = np.where(np.array(ids) == LOSING_CHANNEL, 1.0, market_level[:, None])
    per_customer = np.array([CAC.get(i, 50.0) for i in ids])
    per_seller = np.array([SELLER_CAC.get(i, 80.0) for i in ids])
    frames = [
        _spend(
            rng,
            _month(c.acquired),
            c.market,
            a.customer_channel,
            per_customer,
            level,
            cfg,
            "customers",
        ),
        _spend(
            rng, _month(f.enrolled), f.market, a.seller_channel, per_seller, level, cfg, "sellers"
        ),
    ]
    return pl.concat(frames).filter(pl.col("amount") > 0).sort("month", "market", "channel")


def leads(seed: int, f: Field, c: Customers, a: Acquisition, cfg: CompanyConfig, as_of: int):
    """Return the last year's leads: one for each customer and seller won in a paid channel,
    and the leads that never converted, created some days before (a frame of codes)."""
    rng = _rng(seed, 3)
    kinds = np.array([ch.kind for ch in cfg.acquisition_channels])
    inbound = kinds == "inbound"
    paid = kinds != "seller_referred"
    # Of 100 leads, this many convert: inbound brings three times the leads per dollar at a
    # lower cost each, so a smaller share of them converts.
    rate = np.where(inbound, 0.12, 0.25)
    lag_mean = np.where(inbound, LEAD_LAG_MEAN["inbound"], LEAD_LAG_MEAN["outbound"])
    first = as_of - LEAD_DAYS_KEPT
    parts = []
    for who, day, market, channel in (
        ("customer", c.acquired, c.market, a.customer_channel),
        ("seller", f.enrolled, f.market, a.seller_channel),
    ):
        won = np.flatnonzero((day > first) & paid[channel])
        lag = np.floor(rng.exponential(lag_mean[channel[won]])).astype(np.int64)
        created = np.maximum(day[won] - lag, first)
        ch = channel[won]
        lost = rng.poisson((1 - rate[ch]) / rate[ch])
        parts.append(
            pl.DataFrame(
                {
                    "created": created.astype(np.int32),
                    "market": market[won].astype(np.int8),
                    "channel": ch.astype(np.int8),
                    "customer": won if who == "customer" else np.full(len(won), -1),
                    "seller": won if who == "seller" else np.full(len(won), -1),
                    "converted": day[won].astype(np.int32),
                }
            )
        )
        src = np.repeat(np.arange(len(won)), lost)
        parts.append(
            pl.DataFrame(
                {
                    "created": rng.integers(first, as_of + 1, len(src)).astype(np.int32),
                    "market": market[won][src].astype(np.int8),
                    "channel": ch[src].astype(np.int8),
                    "customer": np.full(len(src), -1),
                    "seller": np.full(len(src), -1),
                    "converted": np.zeros(len(src), dtype=np.int32),
                }
            )
        )
    out = pl.concat(parts).sort("created")
    return out.with_columns(
        pl.col("created").cast(pl.Date),
        pl.when(pl.col("customer") >= 0).then(pl.col("customer")).alias("customer"),
        pl.when(pl.col("seller") >= 0).then(pl.col("seller")).alias("seller"),
        pl.when((pl.col("customer") >= 0) | (pl.col("seller") >= 0))
        .then(pl.col("converted").cast(pl.Date))
        .alias("converted"),
    ).with_row_index("lead_num", offset=1)
