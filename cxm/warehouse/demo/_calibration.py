"""The demo company's numbers: every published figure it follows and every effect it plants.

Sources are in ``docs/demo-data.md`` (published industry figures). The tests in
``tests/test_demo.py`` recover each of these from the built warehouse, with a tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cxm.config import CompanyConfig

# --- the field --------------------------------------------------------------------------------
#: Share of sellers at each rank, lowest first: 66% at the entry rank, 1% at the top two
#: (Arbonne 2019 income disclosure).
RANK_SHARES = np.array([0.66, 0.17, 0.08, 0.05, 0.03, 0.007, 0.003])
#: Planted "leaders stay": the rank sellers held when they left, lowest first. Leavers almost
#: all leave from the entry ranks (0.5% from Manager and above), so the share still in the
#: field rises steeply with rank while the live field keeps the pyramid above.
TERMINATED_RANK_SHARES = np.array([0.88, 0.09, 0.025, 0.004, 0.001, 0.0, 0.0])
ROOT_SHARE = 0.001
MARKET_WEIGHTS = {"US": 0.38, "CA": 0.08, "MX": 0.16, "BR": 0.18, "DE": 0.10, "JP": 0.10}
#: Language mix inside a market, in the order the config lists the market's languages.
LANGUAGE_MIX = {"US": [0.78, 0.22], "CA": [0.72, 0.28], "DE": [0.88, 0.12]}
ENROLLMENT_SEASON = np.array([1.35, 1.1, 1.0, 1.0, 0.95, 0.9, 0.9, 0.95, 1.15, 1.05, 1.0, 0.8])
WEEKLY_GOAL_BY_RANK = np.array([100, 150, 250, 400, 700, 1200, 2500])  # dollars
ENROLLMENT_GOAL_BY_RANK = np.array([0, 1, 1, 2, 3, 5, 8])

# --- churn: planted effect "a sale in the first 30 days keeps sellers" -------------------------
#: Churn is drawn before downline contagion (below), which adds about 5 points in year one and
#: leaves later; the draws are set so that with it year-one churn is 24% for sellers with a
#: first-30-day sale and 56% for the others: overall 0.42 x 0.24 + 0.58 x 0.56 = 42.6% (DSA:
#: 43.3%), half of it in the first 13 weeks (LaunchSmart), then about 20% a year.
FIRST30_SALE_SHARE = 0.42
YEAR1_CHURN_FIRST30 = 0.19
YEAR1_CHURN_OTHER = 0.53
EARLY_LEAVER_SHARE = 0.53  # of year-one leavers before contagion, gone in the first 13 weeks
LATER_TENURE_DAYS = 2100  # mean tenure after year one before contagion
BUILDER_IF_FIRST30 = 0.22
BUILDER_OTHERWISE = 0.05
LATE_SELLER_SHARE = 0.25  # of sellers without a first-30-day sale, some sell later
#: Mean days a seller keeps selling before going dormant (still enrolled, not selling).
SELLING_SPAN_DAYS = 150
SELLING_SPAN_BUILDER_DAYS = 1800
#: Planted downline contagion: when a sponsor leaves, each recruit still in the field leaves too
#: with this chance, 30-60 days later (DirecTech Labs: about half the downline in 30-60 days).
DOWNLINE_CONTAGION = 0.5
DOWNLINE_CONTAGION_DAYS = (30, 60)
CUSTOMER_GRACE_DAYS = 120  # a dormant seller's customers drift away over about four months

# --- customers and orders ---------------------------------------------------------------------
CUSTOMERS_PER_SELLER = 6.5  # DSA 2021: 44.6M customers over 7.3M sellers
#: Customers are won at a steady rate per month of selling: in proportion to how long the seller
#: would sell if nothing cut it short (builders 1,830 days, others 180, on average) and to the
#: rank held at the time, scaled to `CUSTOMERS_PER_SELLER`.
CUSTOMER_RATE_BY_RANK = np.array([1.0, 1.4, 1.8, 2.2, 2.6, 3.0, 3.4])
AUTOSHIP_CUSTOMER_SHARE = 0.42
REPEAT_CUSTOMER_SHARE = 0.32  # the rest buy once
AUTOSHIP_MONTHLY_CANCEL = 0.07  # SUBTA 2024: 7-10% a month
#: Autoship customers add a one-off order to this share of their monthly shipments.
AUTOSHIP_ADD_ON = 0.4
#: A repeat buyer (no autoship) orders every REPEAT_GAP_DAYS + 3 days on average, far less often
#: than an autoship customer, and stops after each order with this chance (a loyal buyer).
REPEAT_STOP_CHANCE = 0.04
REPEAT_GAP_DAYS = 75
#: Planted: sellers who follow up with lapsed customers win more reorders. This share of selling
#: sellers log `follow_up` activities (FOLLOW_UPS_PER_MONTH while they sell; other sellers none),
#: and each of their customers' chance to stop after an order (one-time buyers: 1) is halved.
FOLLOW_UP_SELLER_SHARE = 0.3
FOLLOW_UPS_PER_MONTH = 2.0
FOLLOW_UP_STOP_FACTOR = 0.5
CONSENT_SHARE = {"DE": 0.55}
CONSENT_DEFAULT = 0.72
#: Planted: this line is bought once and not reordered; only first orders carry it.
ONE_TIME_LINE = "detox_kit"
ONE_TIME_LINE_SHARE_ONE_TIME_BUYERS = 0.35
ONE_TIME_LINE_SHARE_REPEAT_BUYERS = 0.04
LINE_PRICE = {
    "wellness": 62,
    "nutrition": 78,
    "skincare": 71,
    "home": 44,
    "detox_kit": 89,
    "acai": 55,
    "green_tea": 58,
}
#: Planted: average order size shrinks over the last two quarters, by this much at the end.
AOV_SHRINK = 0.18
AOV_SHRINK_DAYS = 182

# --- experience and service -------------------------------------------------------------------
#: Share of answers that rate an attribute "superior" (top box, 5 of 5).
CORPORATE_TOP_BOX = 0.80  # Bain: 80% of CEOs believe they are superior
CUSTOMER_TOP_BOX = 0.30
SELLER_TOP_BOX = 0.34
#: Planted: one market where customers rate far lower, so its gap is much wider.
WIDE_GAP_MARKET = "BR"
WIDE_GAP_CUSTOMER_TOP_BOX = 0.08  # Bain: 8% of customers agree
CUSTOMER_SURVEY_SHARE = 0.06
#: Planted: what drives a customer's recommend score (0-10), by attribute. Each weight is the
#: share of a customer's answers on that attribute that move with their recommend answer
#: (the Pearson correlation of the underlying draws), so service matters most, delivery least.
NPS_DRIVERS = {"service": 0.7, "value": 0.5, "quality": 0.35, "ease": 0.2, "delivery": 0.05}
#: Corporate answers come from a quarterly pulse over the whole history: per market, a panel of
#: one respondent per 2,000 sellers (at least 5, at most 60) answers once each quarter.
CORPORATE_PANEL_SELLERS = 2_000
CORPORATE_PANEL_SIZE = (5, 60)
SELLER_SURVEY_SHARE = 0.10
#: Tickets: about two thirds answered the same day, about 40% within the hour (Lithium 2014).
TICKET_WITHIN_HOUR = 0.41
TICKET_SAME_DAY_LATER = 0.26
TICKETS_PER_SELLER = 0.25
TICKETS_PER_CUSTOMER = 0.06
#: Planted: French has training content in only two courses (see _training.COURSES).
UNDER_SERVED_LANGUAGE = "fr"


@dataclass
class Context:
    """Lookup tables of the demo distributions, laid out by the config's indexes."""

    config: CompanyConfig
    market_weights: np.ndarray
    language_probs: np.ndarray  # [market, k]: probability of the market's k-th language
    market_language_codes: np.ndarray  # [market, k]: index into config.languages
    consent_share: np.ndarray  # [market]
    regular_lines: np.ndarray  # [market, j]: line indexes sold there (not the one-time line)
    regular_counts: np.ndarray  # [market]
    one_time_line: int
    one_time_in_market: np.ndarray  # [market] bool
    line_price: np.ndarray  # [line] dollars

    @classmethod
    def of(cls, cfg: CompanyConfig) -> Context:
        """Return the lookup tables for ``cfg`` (the demo company's own config)."""
        codes = cfg.market_codes
        k = max(len(m.languages) for m in cfg.markets)
        probs = np.zeros((len(codes), k))
        lang = np.zeros((len(codes), k), dtype=np.int8)
        for i, m in enumerate(cfg.markets):
            mix = LANGUAGE_MIX.get(m.code, [1.0 / len(m.languages)] * len(m.languages))
            probs[i, : len(mix)] = mix
            lang[i, : len(m.languages)] = [cfg.languages.index(x) for x in m.languages]
        line_ids = [p.id for p in cfg.product_lines]
        one_time = line_ids.index(ONE_TIME_LINE)
        regular = [
            [j for j, p in enumerate(cfg.product_lines) if c in p.markets and j != one_time]
            for c in codes
        ]
        width = max(len(r) for r in regular)
        table = np.array([r + [r[0]] * (width - len(r)) for r in regular], dtype=np.int8)
        return cls(
            config=cfg,
            market_weights=np.array([MARKET_WEIGHTS[c] for c in codes]),
            language_probs=probs,
            market_language_codes=lang,
            consent_share=np.array([CONSENT_SHARE.get(c, CONSENT_DEFAULT) for c in codes]),
            regular_lines=table,
            regular_counts=np.array([len(r) for r in regular]),
            one_time_line=one_time,
            one_time_in_market=np.array([c in cfg.product_lines[one_time].markets for c in codes]),
            line_price=np.array([LINE_PRICE[i] for i in line_ids], dtype=np.float64),
        )

    def pick_regular_line(self, rng: np.random.Generator, market: np.ndarray) -> np.ndarray:
        """Return a product line sold in each row's market, never the one-time line."""
        j = (rng.random(len(market)) * self.regular_counts[market]).astype(np.int64)
        return self.regular_lines[market, j]
