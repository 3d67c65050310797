"""KPIs of acquisition: what a new customer or seller costs, what they are worth, the funnel.

They read the marketing spend, the leads and each customer's and seller's acquisition channel
(`cxm.metrics.acquisition` sums them by market and channel; the share won by sellers also by
the serving seller's segment). Spend is known by month, market and channel only, so the KPIs
that divide it break down by ``market`` and ``channel`` and nothing else.
"""

from __future__ import annotations

from cxm.metrics.kpis._model import Kpi

_SPEND = ("marketing_spend", "customers", "fact_customers")
_VALUE = (*_SPEND, "fact_customer_value")
_LEADS = ("leads", "marketing_spend")

ACQUISITION: tuple[Kpi, ...] = (
    Kpi(
        id="cac",
        label="Customer acquisition cost",
        short="CAC",
        category="acquisition",
        unit="amount",
        better="lower",
        kind="ratio",
        numerator="spend_customers",
        denominator="new_customers",
        grain="acquisition",
        reads=_SPEND,
        definition="Marketing spend on winning customers in the period's months (in the "
        "market, and channel, of the spend) over the customers whose first order falls in the "
        "period, in that market (`customers.market`) and acquisition channel. Customers whose "
        "channel is not recorded count in their market's CAC and in no channel's.",
    ),
    Kpi(
        id="seller_cac",
        label="Seller acquisition cost",
        short="Seller CAC",
        category="acquisition",
        unit="amount",
        better="lower",
        kind="ratio",
        numerator="seller_acquisition_cost",
        denominator="new_sellers",
        grain="acquisition",
        reads=("marketing_spend", "sellers"),
        definition="Marketing spend on winning sellers in the period's months, plus the "
        "starter incentive of each new seller (`starter_incentive` in company.yaml), over the "
        "sellers enrolled in the period, in that market and acquisition channel.",
    ),
    Kpi(
        id="clv_cac_ratio",
        label="CLV / CAC",
        category="acquisition",
        unit="rate",
        better="higher",
        kind="ratio",
        numerator="new_customer_value",
        denominator="spend_customers",
        base="new_customers_valued",
        grain="acquisition",
        latest_only=True,
        reads=_VALUE,
        definition="The period's new customers' predicted value over the next 12 months "
        "(`clv_12m` times `gross_margin` from company.yaml) over what winning them cost (the "
        "numerator of `cac`). Under 1: those customers are worth less than they cost. n = the "
        "new customers with a predicted value. Predicted at each load for the data's as-of "
        "date only.",
    ),
    Kpi(
        id="new_customer_value",
        label="Value of a new customer",
        short="New customer value",
        category="acquisition",
        unit="amount",
        better="higher",
        kind="ratio",
        numerator="new_customer_value",
        denominator="new_customers_valued",
        grain="acquisition",
        latest_only=True,
        reads=("customers", "fact_customers", "fact_customer_value"),
        definition="The period's new customers' predicted value over the next 12 months "
        "(`clv_12m` times `gross_margin`), per new customer with a predicted value: what "
        "`clv_cac_ratio` sets against the cost of winning them.",
    ),
    Kpi(
        id="payback_months",
        label="CAC payback, months",
        short="Payback, months",
        category="acquisition",
        unit="rate",
        better="lower",
        kind="ratio",
        numerator="spend_customers_12",
        denominator="new_customer_value",
        base="new_customers_valued",
        grain="acquisition",
        latest_only=True,
        reads=_VALUE,
        definition="Months of predicted margin a new customer needs to pay back what winning "
        "them cost: 12 x the acquisition spend over the new customers' predicted 12-month "
        "value (as in `clv_cac_ratio`), so 12 / (CLV/CAC). Over 12: not paid back in a year.",
    ),
    Kpi(
        id="seller_won_share",
        label="New customers won by sellers",
        short="Won by sellers",
        category="acquisition",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="new_customers_seller_won",
        denominator="new_customers_channel",
        grain="acquisition",
        reads=("customers", "fact_customers"),
        definition="Of the customers whose first order falls in the period and whose "
        "acquisition channel is recorded, the share won in a seller-referred channel (the "
        "rest came through paid channels). Breaks down by market and by the serving seller's "
        "segment.",
    ),
    Kpi(
        id="leads",
        label="Leads",
        category="acquisition",
        unit="count",
        better="higher",
        kind="count",
        numerator="leads",
        grain="acquisition",
        reads=("leads",),
        definition="Leads created in the period, by the lead's market and channel.",
    ),
    Kpi(
        id="cost_per_lead",
        label="Cost per lead",
        category="acquisition",
        unit="amount",
        better="lower",
        kind="ratio",
        numerator="spend_all",
        denominator="leads",
        grain="acquisition",
        reads=_LEADS,
        definition="All marketing spend in the period's months (on customers and on sellers) "
        "over the leads created in the period, in that market and channel.",
    ),
    Kpi(
        id="lead_conversion_30d",
        label="Leads converted in 30 days",
        short="Lead to order, 30 d",
        category="acquisition",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="leads_won_30d",
        denominator="leads_due_30d",
        open="leads_open_30d",
        grain="acquisition",
        reads=("leads",),
        definition="Of leads whose day 30 falls in the period, the share that became a "
        "customer (first order) or a seller (enrolment) by day 30 (`converted_on`). Leads whose "
        "day 30 is after the as-of date are still open and not counted.",
    ),
    Kpi(
        id="lead_conversion_90d",
        label="Leads converted in 90 days",
        short="Lead to order, 90 d",
        category="acquisition",
        unit="share",
        better="higher",
        kind="ratio",
        numerator="leads_won_90d",
        denominator="leads_due_90d",
        open="leads_open_90d",
        grain="acquisition",
        reads=("leads",),
        definition="Of leads whose day 90 falls in the period, the share that became a "
        "customer (first order) or a seller (enrolment) by day 90. Leads whose day 90 is after "
        "the as-of date are still open and not counted.",
    ),
)
