"""The board pack's acquisition page: what a new customer costs and whether it pays back."""

from __future__ import annotations

import polars as pl

from cxm.metrics.kpis import get
from cxm.segments.order import sort_segments
from cxm.ui import charts, fmt, headlines
from cxm.ui.board_pack._layout import LEFT, WIDTH, Pack
from cxm.ui.board_pack._pages import Words, _value

#: The KPIs the page reads, by channel and by market.
KPIS = ("cac", "clv_cac_ratio", "payback_months", "new_customer_value", "seller_won_share")
_COLUMNS = ("cac", "clv_cac_ratio", "payback_months", "seller_won_share")


def acquisition(
    pdf: Pack, words: Words, by_channel: pl.DataFrame, by_market: pl.DataFrame, cfg
) -> None:
    """A page: CLV/CAC by channel (the title names the channels that lose), by market a table."""
    pdf.add_page()
    pdf.title_block(
        headlines.payback_text(by_channel, cfg),
        "CLV / CAC: the period's new customers' predicted 12-month value (times the gross "
        f"margin, {cfg.gross_margin:.0%}) over what winning them cost; under 1 they are worth "
        f"less than they cost. Payback: months of that margin to earn the cost back. "
        f"{words.compared}.",
    )
    ratio = by_channel.filter(
        pl.col("kpi_id") == "clv_cac_ratio", ~pl.col("small"), pl.col("value").is_not_null()
    )
    if ratio.is_empty():
        pdf.note("No channel has new customers with both a cost and a predicted value yet.")
        return
    top = pdf.get_y()
    half = (WIDTH - 8) / 2
    for i, kpi_id in enumerate(("clv_cac_ratio", "cac")):
        x = LEFT + i * (half + 8)
        pdf.heading(f"{get(kpi_id).label} by channel", x=x, w=half)
        rows = by_channel.filter(pl.col("kpi_id") == kpi_id, ~pl.col("small"))
        pdf.svg(charts.kpi_bars(rows, get(kpi_id), "channel", cfg), x=x, y=top + 8, w=half, h=64)
        pdf.set_xy(LEFT + half + 8, top)
    pdf.set_y(top + 76)
    cells = {(r["market"], r["kpi_id"]): r for r in by_market.iter_rows(named=True)}
    markets = sort_segments(by_market.select("market").unique(), cfg, ["market"])["market"]
    rows = [
        [m, *(_value(k, cells[(m, k)], cfg) if (m, k) in cells else fmt.DASH for k in _COLUMNS)]
        + [f"{int(cells[(m, 'cac')]['n']):,}" if (m, "cac") in cells else fmt.DASH]
        for m in markets
    ]
    pdf.grid(
        ["Market", *(get(k).short or get(k).label for k in _COLUMNS), "New customers"],
        rows,
        (22, 30, 30, 34, 34, 30),
        align="LRRRRR",
        size=8,
    )
    pdf.note(f"n < {cfg.min_n}: too few new customers to show.", size=7.5)
