"""Need per seller per priority, in [0, 1], from the seller state (`cxm.state.seller_state`).

A need says how much a seller's situation calls for progress on a priority: 0 nothing to gain,
1 the most. The formulas (also in docs/whatif.md):

- retention: share of the seller's recent customers (active + lapsed) who lapsed or whom the
  customer-value model puts at risk: (lapsed + min(at_risk, active)) / (active + lapsed); 0
  with no recent customers.
- repeat_customers: 1 - repeat_customer_share (0 with no customers).
- cart_size: 1.5 - cart_vs_market, clipped: 0.5 at the market's average order, 1 at half of
  it, 0 at one and a half times it.
- sales: 1 - weekly_sales_progress, clipped (0 when no weekly goal is set).
- business_building: 1 - enrollment_progress, clipped (0 when no enrolment goal is set).
- adoption: days_since_app / 30, clipped (1 after a month without the app).
- compliance: 1 when a compliance course the rank requires is missing, else 0.
"""

from __future__ import annotations

import numpy as np
import polars as pl

#: The quarter's KPI priorities a strategist weighs, in slider order.
PRIORITIES: tuple[str, ...] = (
    "retention",
    "repeat_customers",
    "cart_size",
    "sales",
    "business_building",
    "adoption",
    "compliance",
)

LABELS = {
    "retention": "Customer retention",
    "repeat_customers": "Repeat customers",
    "cart_size": "Cart size",
    "sales": "Weekly sales",
    "business_building": "Business building",
    "adoption": "App adoption",
    "compliance": "Compliance",
}


def _clip(e: pl.Expr) -> pl.Expr:
    return e.clip(0.0, 1.0)


#: One Polars expression per priority over the seller-state columns, in PRIORITIES order.
NEED: dict[str, pl.Expr] = {
    "retention": pl.when(pl.col("active_customers") + pl.col("lapsed_customers") > 0)
    .then(
        (pl.col("lapsed_customers") + pl.min_horizontal("customers_at_risk", "active_customers"))
        / (pl.col("active_customers") + pl.col("lapsed_customers"))
    )
    .otherwise(0.0),
    "repeat_customers": pl.when(pl.col("customers") > 0)
    .then(1.0 - pl.col("repeat_customer_share"))
    .otherwise(0.0),
    "cart_size": 1.5 - pl.col("cart_vs_market"),
    "sales": 1.0 - pl.col("weekly_sales_progress"),
    "business_building": 1.0 - pl.col("enrollment_progress"),
    "adoption": pl.col("days_since_app") / 30.0,
    "compliance": (pl.col("compliance_missing") > 0).cast(pl.Float64),
}


def needs(state: pl.DataFrame) -> np.ndarray:
    """Return the need matrix of ``state``: float32, one row per seller, one column per priority."""
    frame = state.select(_clip(NEED[p]).alias(p) for p in PRIORITIES)
    return np.ascontiguousarray(frame.to_numpy().astype(np.float32))
