"""KPIs of the experience and of service: NPS, gaps, engagement, tickets."""

from __future__ import annotations

from cxm.metrics.kpis._model import Kpi

EXPERIENCE: tuple[Kpi, ...] = (
    Kpi(
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
    Kpi(
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
    Kpi(
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
    Kpi(
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
    Kpi(
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
        "do, in percentage points (pp); corporate answers count for their market.",
    ),
    Kpi(
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
        "service, ease) superior minus the share of sellers' answers that do, in pp.",
    ),
    Kpi(
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
    Kpi(
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
    Kpi(
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
    Kpi(
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
