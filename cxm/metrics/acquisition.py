"""The sums the acquisition KPIs read: spend, new customers and sellers, their value, leads.

Per segment of the breakdown, from the raw tables and the customer facts, in one SQL text:

- spend (``marketing_spend``) of the period's months, on customers, on sellers and in all,
  by its ``market`` and ``channel``;
- new customers (first order in the period, `fact_customers`) by ``customers.market``, their
  ``acquisition_channel``, and the serving seller's segment; their predicted 12-month value
  (`fact_customer_value.clv_12m` x ``gross_margin``) when scored on the view's as-of date;
- new sellers (enrolled in the period) and their starter incentives (``starter_incentive``);
- leads created in the period, and leads whose day 30 or 90 falls in it (closed windows
  only, `cxm.state.windows`), converted by that day.

Spend is known by month, market and channel only: KPIs that divide it split by those two
(`SPLITS`), and a filter on a seller's segment is refused for them (``not_split_by``) rather
than answered with the whole market's spend. Every reader takes the user's company
(`Scoped`): spend and leads are cut to the user's markets like every table.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from cxm.config import CompanyConfig
from cxm.errors import BadFilter
from cxm.metrics.kpis import Kpi
from cxm.segments.filter import SELLER_DIMENSIONS, Dimension, SegmentFilter
from cxm.segments.sql import SELLER_SEGMENTS, Window, filter_params
from cxm.state.windows import LEAD_DAYS, LEAD_DAYS_LONG
from cxm.warehouse.scoped import Scoped

#: The dimensions each acquisition KPI splits by (spend and leads: market and channel only;
#: the share won by sellers: market and the serving seller's segment).
_SPEND_SPLITS = (Dimension.MARKET.value, Dimension.CHANNEL.value)
SPLITS: dict[str, tuple[str, ...]] = {
    "seller_won_share": tuple(d.value for d in SELLER_DIMENSIONS),
}

#: The measures, each the column of one source below (names are this module's, never user text).
MEASURES = (
    "spend_customers",
    "spend_customers_12",
    "spend_sellers",
    "spend_all",
    "new_customers",
    "new_customers_channel",
    "new_customers_seller_won",
    "new_customer_value",
    "new_customers_valued",
    "new_sellers",
    "seller_acquisition_cost",
    "leads",
    "leads_due_30d",
    "leads_won_30d",
    "leads_open_30d",
    "leads_due_90d",
    "leads_won_90d",
    "leads_open_90d",
)


def splits(kpi: Kpi) -> tuple[str, ...]:
    """Return the dimensions ``kpi`` breaks down by."""
    return SPLITS.get(kpi.id, _SPEND_SPLITS)


def check(kpis: Sequence[Kpi], dims: Sequence[str], where: SegmentFilter) -> None:
    """Raise `BadFilter` (``not_split_by``) for a breakdown or filter a KPI cannot honour."""
    for kpi in kpis:
        allowed = splits(kpi)
        for d in dims:
            if d not in allowed:
                raise BadFilter(
                    "by",
                    d,
                    "not_split_by",
                    f"does not split {kpi.id}: it breaks down by {', '.join(allowed)}",
                )
        if allowed == _SPEND_SPLITS and not where.model_copy(update={"markets": ()}).is_everyone():
            raise BadFilter(
                "filter",
                where.describe(),
                "not_split_by",
                f"restricts sellers, which {kpi.id} cannot follow: marketing spend and leads "
                "are known by market and channel only; filter by market",
            )


_SQL = """
WITH b AS ({base}),
spend AS (
    SELECT market, channel,
        sum(CASE WHEN bought = 'customers' THEN CAST(amount AS DOUBLE) ELSE 0 END)
            AS spend_customers,
        sum(CASE WHEN bought = 'sellers' THEN CAST(amount AS DOUBLE) ELSE 0 END) AS spend_sellers,
        sum(CAST(amount AS DOUBLE)) AS spend_all
    FROM marketing_spend
    WHERE month BETWEEN date_trunc('month', CAST($start AS DATE)) AND $end
    GROUP BY market, channel
),
won AS (
    SELECT c.market, c.acquisition_channel AS channel, c.seller_id,
        count(*) AS new_customers,
        count(c.acquisition_channel) AS new_customers_channel,
        count(CASE WHEN list_contains($referred, c.acquisition_channel) THEN 1 END)
            AS new_customers_seller_won,
        -- A customer the model could not score (NaN) has no value, as one not scored.
        sum(CASE WHEN NOT isnan(v.clv_12m) THEN v.clv_12m END) * $margin AS new_customer_value,
        count(CASE WHEN NOT isnan(v.clv_12m) THEN 1 END) AS new_customers_valued
    FROM fact_customers f JOIN customers c ON c.customer_id = f.customer_id
    LEFT JOIN fact_customer_value v
        ON v.customer_id = f.customer_id AND v.scored_as_of = $observed
    WHERE f.first_order_on BETWEEN $start AND $end
    GROUP BY c.market, c.acquisition_channel, c.seller_id
),
enrolled AS (
    SELECT market, acquisition_channel AS channel, count(*) AS new_sellers
    FROM sellers WHERE enrolled_on BETWEEN $start AND $end
    GROUP BY market, acquisition_channel
),
led AS (
    SELECT market, channel,
        count(CASE WHEN created_on BETWEEN $start AND $end THEN 1 END) AS leads,
        {windows}
    FROM leads
    WHERE created_on BETWEEN CAST($start AS DATE) - {long} AND $end
    GROUP BY market, channel
)
SELECT {select}
FROM {source}
{group}"""

_WINDOW = """
        count(CASE WHEN created_on BETWEEN CAST($start AS DATE) - {d} AND CAST($end AS DATE) - {d}
                    AND created_on + {d} <= $observed THEN 1 END) AS leads_due_{d}d,
        count(CASE WHEN created_on BETWEEN CAST($start AS DATE) - {d} AND CAST($end AS DATE) - {d}
                    AND created_on + {d} <= $observed
                    AND converted_on <= created_on + {d} THEN 1 END) AS leads_won_{d}d,
        count(CASE WHEN created_on BETWEEN CAST($start AS DATE) - {d} AND CAST($end AS DATE) - {d}
                    AND created_on + {d} > $observed THEN 1 END) AS leads_open_{d}d"""

#: Which source each measure comes from, and how it is summed over a segment.
_SOURCES = {
    "spend": ("spend_customers", "spend_sellers", "spend_all"),
    "won": (
        "new_customers",
        "new_customers_channel",
        "new_customers_seller_won",
        "new_customer_value",
        "new_customers_valued",
    ),
    "enrolled": ("new_sellers",),
    "led": tuple(
        f"leads{s}"
        for s in (
            "",
            *(f"_{k}_{d}d" for d in (LEAD_DAYS, LEAD_DAYS_LONG) for k in ("due", "won", "open")),
        )
    ),
}


def sums(
    company: Scoped, dims: Sequence[str], where: SegmentFilter, cfg: CompanyConfig, win: Window
) -> pl.DataFrame:
    """Return one row per segment of ``dims`` with every acquisition measure (floats).

    Market and channel segments come from every source; a seller dimension (the share won by
    sellers) from the new customers' serving sellers, in the filter's segment.
    """
    dims = list(dims)
    seller_dims = [d for d in dims if d not in _SPEND_SPLITS]
    by_seller = bool(seller_dims) or not where.model_copy(update={"markets": ()}).is_everyone()
    params = {
        **win.params(),
        **filter_params(where, cfg),
        "referred": list(cfg.seller_referred_channels),
        "margin": cfg.gross_margin,
    }
    windows = ",".join(_WINDOW.format(d=d) for d in (LEAD_DAYS, LEAD_DAYS_LONG))
    frames = []
    for source, measures in _SOURCES.items():
        if by_seller and source != "won":
            continue  # only the new customers have a serving seller
        src = source
        cols = {d: f"{source}.{d}" for d in dims}
        if source == "won" and by_seller:
            src = "won JOIN b ON b.seller_id = won.seller_id"
            cols.update({d: f"b.{d}" for d in seller_dims})
        markets = f" WHERE ($f_markets IS NULL OR list_contains($f_markets, {source}.market))"
        select = ", ".join(
            [*(f"{cols[d]} AS {d}" for d in dims), *(f"sum({source}.{m}) AS {m}" for m in measures)]
        )
        group = f"GROUP BY {', '.join(cols[d] for d in dims)}" if dims else ""
        sql = _SQL.format(
            base=SELLER_SEGMENTS if by_seller else "SELECT 1",
            windows=windows,
            long=LEAD_DAYS_LONG,
            select=select,
            source=src + markets,
            group=group,
        )
        used = {k: v for k, v in params.items() if f"${k}" in sql}
        frames.append(company.con.sql(sql, params=used).pl())
    out = frames[0]
    for frame in frames[1:]:
        out = (
            out.join(frame, on=dims, how="full", coalesce=True, nulls_equal=True)
            if dims
            else pl.concat([out, frame], how="horizontal")
        )
    for m in MEASURES:
        if m not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias(m))
    counted = [m for m in MEASURES if m != "new_customer_value"]
    out = out.with_columns(pl.col(m).cast(pl.Float64).fill_null(0.0) for m in counted)
    out = out.with_columns(
        pl.col("new_customer_value").cast(pl.Float64),
        (12 * pl.col("spend_customers")).alias("spend_customers_12"),
        (pl.col("spend_sellers") + cfg.starter_incentive * pl.col("new_sellers")).alias(
            "seller_acquisition_cost"
        ),
    )
    return out.sort(dims, nulls_last=True) if dims else out
