"""The KPI registry: every KPI declared once, as data.

A `Kpi` names the measures it reads (columns of the seller base in `cxm.segments.sql`, summed
over a segment) and how they combine (its ``kind``). The same records drive the Overview tiles,
the report columns, the what-if KPI list and ``docs/metrics.md``. A new KPI is one record here
plus one hand-checked test in ``tests/test_metrics.py``; no page changes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cxm.errors import BadFilter

Category = Literal[
    "retention", "adoption", "compliance", "business building", "sales", "experience", "service"
]
Unit = Literal["count", "share", "amount", "score", "pp", "rate", "hours", "points"]
Kind = Literal["count", "sum", "ratio", "nps", "gap", "median"]


class Kpi(BaseModel):
    """One KPI: what it means, in which unit, which way is good, and the measures it reads.

    kind ``count`` and ``sum``: the numerator summed (n = the denominator's sum, or the value);
    ``ratio``: numerator / denominator (n = denominator); ``nps``: 100 x (numerator - minus) /
    denominator (n = denominator); ``gap``: corporate minus the segment's top-box share, in
    points (n = the segment's answers); ``median``: the median of a ticket column. ``base``
    names the measure counted as ``n`` when it is not the denominator (a share of revenue is
    based on orders, not on dollars). ``snapshot`` KPIs are taken on the as-of date (the
    period's last day); the others count what happened in the period.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    definition: str
    category: Category
    unit: Unit
    better: Literal["higher", "lower"]
    kind: Kind
    numerator: str
    denominator: str | None = None
    minus: str | None = None
    base: str | None = None
    corporate: Literal["customer", "seller"] | None = None
    reads: tuple[str, ...]
    headline: bool = False
    snapshot: bool = False
    short: str | None = Field(None, max_length=22, description="the tile's label, if shorter")
    grain: Literal["seller", "product_line"] = "seller"

    @property
    def measures(self) -> tuple[str, ...]:
        """Return the seller-base columns this KPI sums."""
        return tuple(m for m in (self.numerator, self.denominator, self.minus, self.base) if m)


def _k(**kw) -> Kpi:
    return Kpi(**kw)


_SELLERS = ("sellers", "fact_seller_periods")
_ORDERS = ("orders", "fact_seller_periods")
_LIVE = (
    "Live sellers are those not terminated on the as-of date. Active: sold, enrolled a seller "
    "or had a customer autoship order in the 30 days up to the as-of date."
)

KPIS: tuple[Kpi, ...] = (
    # --- retention -------------------------------------------------------------------------
    _k(
        id="live_sellers",
        label="Live sellers",
        category="retention",
        unit="count",
        better="higher",
        kind="count",
        numerator="live",
        reads=("sellers",),
        headline=True,
        snapshot=True,
        definition="Sellers enrolled and not terminated on the as-of date.",
    ),
    _k(
        id="active_sellers",
        label="Active sellers",
        category="retention",
        unit="count",
        better="higher",
        kind="count",
        numerator="active_30d",
        denominator="live",
        reads=_SELLERS,
        snapshot=True,
        definition="Live sellers who sold, enrolled a seller or had a customer autoship order "
        "in the 30 days up to the as-of date.",
    ),
    _k(
        id="active_rate",
        label="Active rate",
        category="retention",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="active_30d",
        denominator="live",
        reads=_SELLERS,
        headline=True,
        snapshot=True,
        definition="Share of live sellers who sold, enrolled a seller or had a customer "
        "autoship order in the 30 days up to the as-of date.",
    ),
    _k(
        id="seller_retention_90d",
        label="90-day seller retention",
        category="retention",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="retained_90d",
        denominator="reached_90d",
        reads=("sellers",),
        headline=True,
        short="90-day retention",
        definition="Of sellers whose 90th day after enrolling falls in the period, the share "
        "not terminated by that day.",
    ),
    _k(
        id="seller_retention_12m",
        label="12-month seller retention",
        category="retention",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="retained_365d",
        denominator="reached_365d",
        reads=("sellers",),
        definition="Of sellers whose 365th day after enrolling falls in the period, the share "
        "not terminated by that day.",
    ),
    _k(
        id="seller_churn_rate",
        label="Seller churn",
        category="retention",
        unit="share",
        better="lower",
        kind="ratio",
        numerator="left_in_period",
        denominator="live_at_start",
        reads=("sellers",),
        definition="Of sellers live at the start of the period, the share terminated during it.",
    ),
    _k(
        id="churn_after_sponsor_left",
        label="Churn after the sponsor left",
        category="retention",
        unit="share",
        better="lower",
        kind="ratio",
        numerator="left_after_sponsor_90d",
        denominator="sponsor_left",
        reads=("sellers",),
        definition="Of live sellers whose sponsor was terminated in the period, the share "
        "terminated themselves within 90 days after the sponsor (a downline at risk); "
        "leaving after the as-of date is not counted, so look back over a quarter or a year.",
    ),
    _k(
        id="first30_sale_rate",
        label="First-30-day sale rate",
        category="retention",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="sold_first_30d",
        denominator="reached_30d",
        reads=("sellers", "orders"),
        definition="Of sellers whose 30th day after enrolling falls in the period, the share "
        "who served an order in their first 30 days (enrolment day = day 0).",
    ),
    _k(
        id="rank_advancement_rate",
        label="Rank advancement",
        category="retention",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="advanced",
        denominator="live_at_start",
        reads=("sellers", "activities"),
        definition="Of sellers live at the start of the period, the share who went up at least "
        "one rank during it (rank_advanced activities).",
    ),
    _k(
        id="weekly_goal_attainment",
        label="Weekly goal attainment",
        category="sales",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="weekly_goal_met",
        denominator="weekly_goal_set",
        reads=("sellers", "orders"),
        definition="Of live sellers with a weekly sales goal, the share whose sales in the "
        "period reached the goal times the weeks they were enrolled in it.",
    ),
    # --- adoption --------------------------------------------------------------------------
    _k(
        id="app_adoption_7d",
        label="Seller app adoption",
        category="adoption",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="app_7d",
        denominator="live",
        reads=("sellers", "activities"),
        headline=True,
        snapshot=True,
        short="App use, 7 days",
        definition="Share of live sellers who used the seller app (any activity other than an "
        "enrolment or a rank step) in the 7 days up to the as-of date.",
    ),
    _k(
        id="app_days_per_seller",
        label="App days per live seller",
        category="adoption",
        unit="rate",
        better="higher",
        kind="ratio",
        numerator="app_days",
        denominator="live",
        reads=("activities",),
        definition="Days with seller-app use in the period, per live seller.",
    ),
    _k(
        id="courses_per_seller",
        label="Courses completed per live seller",
        category="adoption",
        unit="rate",
        better="higher",
        kind="ratio",
        numerator="courses_completed",
        denominator="live",
        reads=("course_completions",),
        definition="Training courses completed in the period, per live seller.",
    ),
    # --- compliance ------------------------------------------------------------------------
    _k(
        id="compliance_rate",
        label="Compliance",
        category="compliance",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="compliant_active",
        denominator="active_30d",
        reads=("course_completions", "courses"),
        headline=True,
        snapshot=True,
        definition="Share of active sellers who had completed, by the as-of date, every "
        "compliance course whose minimum rank is at or below their rank.",
    ),
    # --- business building -----------------------------------------------------------------
    _k(
        id="enrollments",
        label="Enrolments",
        category="business building",
        unit="count",
        better="higher",
        kind="sum",
        numerator="enrollments",
        reads=("sellers",),
        definition="New sellers enrolled in the period by the segment's sellers (as sponsors).",
    ),
    _k(
        id="enrollments_per_active_seller",
        label="Enrolments per active seller",
        category="business building",
        unit="rate",
        better="higher",
        kind="ratio",
        numerator="enrollments",
        denominator="active_30d",
        reads=("sellers",),
        definition="New sellers enrolled in the period, per active seller on the as-of date.",
    ),
    _k(
        id="downline_growth",
        label="Frontline growth",
        category="business building",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="net_recruits",
        denominator="frontline_at_start",
        reads=("sellers",),
        definition="Recruits enrolled minus recruits terminated in the period, over the live "
        "personally sponsored sellers (frontline) at its start.",
    ),
    _k(
        id="enrollment_goal_attainment",
        label="Enrolment goal attainment",
        category="business building",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="enrollment_goal_met",
        denominator="enrollment_goal_set",
        reads=("sellers",),
        definition="Of live sellers with a monthly enrolment goal, the share who enrolled at "
        "least the goal times the months (days / 30.44) they were enrolled in the period.",
    ),
    # --- sales and customers ---------------------------------------------------------------
    _k(
        id="revenue",
        label="Revenue",
        category="sales",
        unit="amount",
        better="higher",
        kind="sum",
        numerator="revenue_amount",
        denominator="orders",
        reads=_ORDERS,
        headline=True,
        definition="Sum of order amounts in the period, company currency, by serving seller.",
    ),
    _k(
        id="orders",
        label="Orders",
        category="sales",
        unit="count",
        better="higher",
        kind="sum",
        numerator="orders",
        reads=_ORDERS,
        definition="Orders placed in the period.",
    ),
    _k(
        id="avg_order_amount",
        label="Average order (cart size)",
        category="sales",
        unit="amount",
        better="higher",
        kind="ratio",
        numerator="revenue_amount",
        denominator="orders",
        reads=_ORDERS,
        headline=True,
        short="Cart size",
        definition="Revenue over orders in the period.",
    ),
    _k(
        id="units_per_order",
        label="Units per order",
        category="sales",
        unit="rate",
        better="higher",
        kind="ratio",
        numerator="units",
        denominator="orders",
        reads=_ORDERS,
        definition="Units sold over orders in the period.",
    ),
    _k(
        id="autoship_share",
        label="Autoship share of revenue",
        category="sales",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="autoship_amount",
        denominator="revenue_amount",
        base="orders",
        reads=_ORDERS,
        definition="Revenue of autoship (subscription) orders over all revenue in the period.",
    ),
    _k(
        id="revenue_per_live_seller",
        label="Revenue per live seller",
        category="sales",
        unit="amount",
        better="higher",
        kind="ratio",
        numerator="revenue_amount",
        denominator="live",
        reads=_ORDERS,
        definition="Revenue in the period over live sellers on the as-of date.",
    ),
    _k(
        id="new_customers",
        label="New customers",
        category="sales",
        unit="count",
        better="higher",
        kind="sum",
        numerator="new_customers",
        reads=("orders",),
        definition="Customers whose first order ever fell in the period, by serving seller.",
    ),
    _k(
        id="repeat_customer_rate",
        label="Repeat-customer orders",
        category="sales",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="repeat_orders",
        denominator="orders",
        reads=_ORDERS,
        definition="Share of the period's orders placed by repeat customers: customers whose "
        "first order was in an earlier calendar month.",
    ),
    _k(
        id="line_reorder_rate",
        label="Product line reorder rate",
        category="sales",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="line_rebuyers",
        denominator="line_buyers",
        grain="product_line",
        reads=("orders", "fact_line_buyers"),
        definition="Of customers whose first purchase of a product line fell in the period, "
        "the share who bought that line again on a later day, up to the data's as-of date "
        "(breaks down by product_line as well as by the serving seller's segment).",
    ),
    _k(
        id="customer_retention_90d",
        label="90-day customer retention",
        category="sales",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="customers_reordered_90d",
        denominator="customers_due_90d",
        reads=("orders", "fact_customers"),
        definition="Of customers whose 90th day after their first order falls in the period, "
        "the share who ordered again (on a later day) within those 90 days.",
    ),
    # --- experience and engagement ---------------------------------------------------------
    _k(
        id="customer_nps",
        label="Customer NPS",
        category="experience",
        unit="score",
        better="higher",
        kind="nps",
        numerator="customer_promoters",
        minus="customer_detractors",
        denominator="customer_nps_answers",
        reads=("survey_responses",),
        headline=True,
        definition="Customers' answers to the 0-10 recommend question in the period: % "
        "promoters (9-10) minus % detractors (0-6), -100 to 100.",
    ),
    _k(
        id="seller_nps",
        label="Seller NPS",
        category="experience",
        unit="score",
        better="higher",
        kind="nps",
        numerator="seller_promoters",
        minus="seller_detractors",
        denominator="seller_nps_answers",
        reads=("survey_responses",),
        definition="Sellers' answers to the 0-10 recommend question in the period: % promoters "
        "minus % detractors.",
    ),
    _k(
        id="customer_attribute_score",
        label="Customer attribute score",
        category="experience",
        unit="points",
        better="higher",
        kind="ratio",
        numerator="customer_attribute_points",
        denominator="customer_attribute_answers",
        reads=("survey_responses",),
        definition="Mean 1-5 score of customers' answers on quality, value, service, ease and "
        "delivery in the period.",
    ),
    _k(
        id="customer_top_box_share",
        label="Customers rating superior",
        category="experience",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="customer_top_box",
        denominator="customer_attribute_answers",
        reads=("survey_responses",),
        definition="Share of customers' attribute answers in the period that are 5 of 5 "
        '("superior", top box).',
    ),
    _k(
        id="experience_gap_pp",
        label="Experience gap (customers)",
        category="experience",
        unit="pp",
        better="lower",
        kind="gap",
        numerator="customer_top_box",
        denominator="customer_attribute_answers",
        corporate="customer",
        reads=("survey_responses",),
        headline=True,
        short="Customer gap",
        definition="Share of corporate answers rating the customer attributes (quality, value, "
        "service, ease, delivery) superior (5 of 5) minus the share of customers' answers that "
        "do, in points; corporate answers count for their market.",
    ),
    _k(
        id="seller_experience_gap_pp",
        label="Experience gap (sellers)",
        category="experience",
        unit="pp",
        better="lower",
        kind="gap",
        numerator="seller_top_box",
        denominator="seller_attribute_answers",
        corporate="seller",
        reads=("survey_responses",),
        definition="Share of corporate answers rating the seller attributes (tools, training, "
        "service, ease) superior minus the share of sellers' answers that do, in points.",
    ),
    _k(
        id="engagement_involvement",
        label="Involvement",
        category="adoption",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="app_used",
        denominator="live",
        reads=("activities",),
        definition="Engagement, involvement: share of live sellers who used the seller app on "
        "at least one day in the period.",
    ),
    _k(
        id="engagement_interaction",
        label="Interaction",
        category="adoption",
        unit="rate",
        better="higher",
        kind="ratio",
        numerator="customer_touches",
        denominator="live",
        reads=("activities",),
        definition="Engagement, interaction: follow-ups and content shares in the period per "
        "live seller.",
    ),
    _k(
        id="engagement_intimacy",
        label="Intimacy",
        category="experience",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="seller_top_two_box",
        denominator="seller_attribute_answers",
        reads=("survey_responses",),
        definition="Engagement, intimacy: share of sellers' attribute answers in the period "
        "that are 4 or 5 of 5 (top two box).",
    ),
    _k(
        id="engagement_influence",
        label="Influence",
        category="business building",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="influencer",
        denominator="live",
        reads=("orders", "sellers"),
        definition="Engagement, influence: share of live sellers who enrolled a seller or won "
        "a new customer (first order ever) in the period.",
    ),
    # --- service ---------------------------------------------------------------------------
    _k(
        id="answered_same_day_share",
        label="Tickets answered same day",
        category="service",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="tickets_same_day",
        denominator="tickets_opened",
        reads=("tickets",),
        headline=True,
        short="Same-day answers",
        definition="Of tickets opened in the period, the share with a first response on the "
        "calendar day they were opened.",
    ),
    _k(
        id="answered_within_hour_share",
        label="Tickets answered within an hour",
        category="service",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="tickets_within_hour",
        denominator="tickets_opened",
        reads=("tickets",),
        definition="Of tickets opened in the period, the share with a first response within "
        "60 minutes.",
    ),
    _k(
        id="median_first_response_hours",
        label="Median first response",
        category="service",
        unit="hours",
        better="lower",
        kind="median",
        numerator="first_response_hours",
        base="first_response_hours_n",
        reads=("tickets",),
        definition="Median hours from opening to first response of the period's tickets that "
        "have one (unanswered tickets are left out and counted in neither).",
    ),
)

BY_ID: dict[str, Kpi] = {k.id: k for k in KPIS}
#: Measures computed from other measures after summing (never a base column).
DERIVED_MEASURES = {"net_recruits": ("enrollments", "recruits_left")}
#: Measures that are not sums: the SQL aggregate over the seller base that makes each one.
#: A median needs every value, so the base carries each seller's list of response times.
LIST_MEASURES = {
    "first_response_hours": "list_median(flatten(list(response_minutes))) / 60.0",
    "first_response_hours_n": "len(flatten(list(response_minutes)))",
}


def get(kpi_id: str, *, field: str = "kpi") -> Kpi:
    """Return the KPI ``kpi_id``; raise `BadFilter` (unknown_kpi) with the nearest id."""
    import difflib

    if kpi_id in BY_ID:
        return BY_ID[kpi_id]
    near = difflib.get_close_matches(str(kpi_id), list(BY_ID), n=1, cutoff=0.5)
    hint = f'; did you mean "{near[0]}"?' if near else "; docs/metrics.md lists them"
    raise BadFilter(field, kpi_id, "unknown_kpi", f"is not a KPI id{hint}")


def headline() -> tuple[Kpi, ...]:
    """Return the KPIs shown as Overview tiles, in registry order."""
    return tuple(k for k in KPIS if k.headline)
