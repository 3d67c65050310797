"""Titles and sentences computed from the numbers they summarise (Markdown, values escaped).

Each headline reads only the rows its chart or table shows, and says "level", "not clearly"
or "no clear change" when the difference it would name lies inside the noise (the rows'
``se`` and 95% intervals from `cxm.metrics.stats`). Streamlit-free: the board pack uses them.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from cxm.config import CompanyConfig
from cxm.metrics import stats
from cxm.metrics.kpis import BY_ID, Kpi
from cxm.metrics.movers import moved
from cxm.segments.order import label
from cxm.ui import fmt


def interval_help(kpi: Kpi, row: dict, cfg: CompanyConfig) -> str:
    """Return the sentence a tile's help adds: the value's 95% interval with its n.

    >>> from cxm.config import load_config
    >>> interval_help(BY_ID["active_rate"], {"ci_low": 0.2012, "ci_high": 0.2291, "n": 9581},
    ...               load_config())
    ' 95% interval 20.1% to 22.9%, n = 9,581.'
    """
    shown = fmt.interval(kpi.unit, row.get("ci_low"), row.get("ci_high"), cfg.currency)
    if shown == fmt.DASH:
        return ""
    n = row.get("n")
    return f" 95% interval {shown}" + (f", n = {int(n):,}." if n is not None else ".")


def where_words(dim: str, segment: str, cfg: CompanyConfig) -> str:
    """Return where a segment is, in words ("in Brazil", "among Manager sellers"; "" for the
    whole company), for the sentences of the Overview and the board pack.

    >>> from cxm.config import load_config
    >>> where_words("market", "BR", load_config()), where_words("all", "all", load_config())
    ('in Brazil', '')
    """
    names = {m.code: m.name for m in cfg.markets}
    if dim == "all":
        return ""
    if dim == "market":
        return f"in {names.get(segment, segment)}"
    if dim == "rank":
        return f"among {segment} sellers"
    return f"in {dim.replace('_', ' ')} {segment}"


def _p_words(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def mover_sentences(
    reports: Mapping[str, pl.DataFrame], cfg: CompanyConfig, limit: int = 3
) -> tuple[list[str], str]:
    """Return the changes beyond noise as Markdown sentences (values escaped), and the note
    saying how they were chosen.

    ``reports`` maps each dimension shown (market, rank) to its report rows (with
    ``change_p``); the false discovery rate is held across all of them at once
    (`cxm.metrics.movers.moved`). When nothing passes, the one sentence says so and how many
    segment x KPI changes were tested; a segment under the company's minimum n is never named.
    """
    md = fmt.md_escape
    found = moved(reports, min_n=cfg.min_n, limit=limit)
    out = []
    for r in found.rows.iter_rows(named=True):
        kpi = BY_ID[r["kpi_id"]]
        step = fmt.change(kpi.unit, r["value"], r["previous"])
        if not step.direction:  # beyond noise yet too small to show: not news
            continue
        direction = "rose" if step.direction > 0 else "fell"
        good = (step.direction > 0) == (kpi.better == "higher")
        out.append(
            f"{':green' if good else ':red'}[**{md(kpi.label)}** {direction} "
            f"{md(step.text.lstrip('+' + fmt.MINUS))}] "
            f"{md(where_words(r['dimension'], r['segment'], cfg))}, "
            f"to {md(fmt.kpi_value(kpi.unit, r['value'], cfg.currency))} "
            f"(company {md(fmt.kpi_value(kpi.unit, r['company'], cfg.currency))}; "
            f"n = {md(fmt.number(r['n']))}; {md(_p_words(r['change_p']))})."
        )
    dims = " or ".join(reports) or "segment"
    tested = (
        f"{found.tested:,} segments x KPIs" if found.tested != 1 else "1 segment x KPI"
    ) + " tested"
    if not out and found.beyond:
        some = (
            f"the {found.beyond:,} changes beyond noise round"
            if found.beyond != 1
            else "the 1 change beyond noise rounds"
        )
        out.append(
            f"No {md(dims)} moved visibly: {some} to zero at the precision shown ({tested})."
        )
    elif not out:
        out.append(
            f"No {md(dims)} moved beyond noise this period ({tested})."
            if found.tested
            else f"No {md(dims)} of at least {cfg.min_n} has a value in both periods to compare."
        )
    note = (
        f"Each change is tested against its noise (two-sided, 95%), with the false discovery "
        f"rate held at {found.fdr:.0%} across the {found.tested:,} segment x KPI changes "
        f"tested; a segment under n = {found.min_n} in either period is not tested. Strongest "
        "evidence first."
    )
    return out, note


def _apart(a: dict, b: dict) -> bool | None:
    """Return whether two rows' values differ beyond noise (two-sided, 95%), None if unknown."""
    if a.get("se") is None or b.get("se") is None:
        return None
    both = (a["se"] ** 2 + b["se"] ** 2) ** 0.5
    return abs(a["value"] - b["value"]) > stats.Z * both if both > 0 else a["value"] != b["value"]


def widest_gap_headline(gaps: pl.DataFrame, cfg: CompanyConfig) -> str:
    """Return a title (Markdown, values escaped) stating where the experience gap is widest,
    from the market rows shown only.

    One market shown: its gap, said plainly. Several: the widest, and whether it is clearly
    wider than the next (beyond noise, from the rows' ``se``) or level with it.
    """
    names = {m.code: m.name for m in cfg.markets}
    rows = gaps.filter(
        pl.col("kpi_id") == "experience_gap_pp", ~pl.col("small"), pl.col("value").is_not_null()
    ).sort("value", descending=True)
    if rows.is_empty():
        return "Not enough survey answers to measure the experience gap"
    top = rows.row(0, named=True)
    where = names.get(top["market"], top["market"])
    value = fmt.kpi_value("pp", top["value"])
    if rows.height == 1:
        return fmt.md_escape(f"The experience gap in {where}: {value}")
    second = rows.row(1, named=True)
    other = names.get(second["market"], second["market"])
    if _apart(top, second) is False:
        return fmt.md_escape(
            f"The experience gap is widest in {where} ({value}), but not clearly wider than "
            f"in {other} ({fmt.kpi_value('pp', second['value'])})"
        )
    wider = fmt.pp(top["value"] - second["value"]).lstrip("+")
    return fmt.md_escape(
        f"The experience gap is widest in {where}: {value}, {wider} wider than {other}"
    )


def gap_headline(gaps: pl.DataFrame) -> str:
    """Return a title (Markdown, values escaped) naming the attribute where belief and
    customers differ most (the largest gap either way)."""
    rows = gaps.filter(
        pl.col("customer_gap_pp").is_not_null(),
        pl.col("n_customer") >= 10,
        pl.col("n_corporate") >= 10,
    ).sort(pl.col("customer_gap_pp").abs(), descending=True)
    if rows.is_empty():
        return "Not enough corporate and customer answers to compare"
    top = rows.row(0, named=True)
    return fmt.md_escape(
        f"On {top['attribute']}, {fmt.share(top['corporate_share'])} of corporate answers "
        f"say superior; {fmt.share(top['customer_share'])} of customers do, a "
        f"{fmt.kpi_value('pp', top['customer_gap_pp'])} gap"
    )


def heatmap_headline(
    grid: pl.DataFrame, kpi: Kpi, cfg: CompanyConfig, dims: tuple[str, str] = ("rank", "market")
) -> str:
    """Return a title (Markdown, values escaped) naming the best and the worst cell of one KPI
    over ``dims`` (rank x market), or saying that they are level within the noise."""
    rows = grid.filter(
        pl.col("kpi_id") == kpi.id, ~pl.col("small"), pl.col("value").is_not_null()
    ).sort("value")
    if rows.height < 2:
        return fmt.md_escape(f"{kpi.label} by {dims[0]} and {dims[1]}")
    lo, hi = rows.row(0, named=True), rows.row(rows.height - 1, named=True)

    def shown(r: dict) -> str:
        return fmt.kpi_value(kpi.unit, r["value"], cfg.currency)

    if shown(lo) == shown(hi) or _apart(lo, hi) is False:
        return fmt.md_escape(
            f"{kpi.label} by {dims[0]} and {dims[1]}: every cell from {shown(lo)} to {shown(hi)}, "
            "level within the noise"
        )
    best, worst = (hi, lo) if kpi.better == "higher" else (lo, hi)

    def cell(r: dict) -> str:
        return f"{label(dims[0], r[dims[0]], cfg)} in {label(dims[1], r[dims[1]], cfg)}"

    return fmt.md_escape(
        f"{kpi.label}: best {cell(best)} ({shown(best)}), worst {cell(worst)} ({shown(worst)})"
    )


def _against(row: dict, company: float, sign: int) -> int:
    """Return +1 when a row is clearly better than the company, -1 clearly worse, 0 level.

    Clearly: the company lies outside the row's 95% interval (without one, any difference)."""
    low, high = row.get("ci_low"), row.get("ci_high")
    if low is not None and high is not None:
        if low <= company <= high:
            return 0
    elif row["value"] == company:
        return 0
    return sign if row["value"] > company else -sign


def bars_headline(report: pl.DataFrame, kpi: Kpi, dim: str, cfg: CompanyConfig) -> str:
    """Return a title (Markdown, values escaped) saying how the segments stand against the
    company on one KPI: one trails, one leads, all are level within the noise, or (one
    segment shown) where it stands.

    A segment trails when the company is outside its 95% interval on the worse side, leads
    when outside on the better side ("better" follows the KPI: lower is better for churn).
    """
    rows = report.filter(
        pl.col("kpi_id") == kpi.id, ~pl.col("small"), pl.col("value").is_not_null()
    )
    if rows.is_empty():
        return fmt.md_escape(f"{kpi.label} by {dim}")
    sign = 1 if kpi.better == "higher" else -1
    ordered = rows.sort(pl.col("value") * sign)  # worst first
    worst, best = ordered.row(0, named=True), ordered.row(ordered.height - 1, named=True)

    def shown(x: float) -> str:
        return fmt.kpi_value(kpi.unit, x, cfg.currency)

    worst_is, best_is = label(dim, worst[dim], cfg), label(dim, best[dim], cfg)
    company = worst.get("company")
    if company is None:
        if rows.height == 1:
            return fmt.md_escape(f"{kpi.label}: {worst_is} at {shown(worst['value'])}")
        return fmt.md_escape(
            f"{kpi.label}: best {best_is} at {shown(best['value'])}, "
            f"worst {worst_is} at {shown(worst['value'])}"
        )
    versus = f"(company {shown(company)})"
    theirs = f"the company's {shown(company)}"
    stands = [_against(r, company, sign) for r in ordered.iter_rows(named=True)]
    if rows.height == 1:
        where = {1: "ahead of", -1: "behind", 0: "level with"}[stands[0]]
        noise = " within the noise" if stands[0] == 0 else ""
        text = f"{kpi.label}: {worst_is} at {shown(worst['value'])}, {where} {theirs}{noise}"
    elif all(s == -1 for s in stands):
        text = (
            f"{kpi.label}: every {dim} is behind {theirs}; {worst_is} furthest at "
            f"{shown(worst['value'])}"
        )
    elif all(s == 1 for s in stands):
        text = (
            f"{kpi.label}: every {dim} is ahead of {theirs}; {best_is} furthest at "
            f"{shown(best['value'])}"
        )
    elif stands[0] == -1:
        text = f"{kpi.label}: {worst_is} trails at {shown(worst['value'])} {versus}"
    elif stands[-1] == 1:
        text = f"{kpi.label}: {best_is} leads at {shown(best['value'])} {versus}"
    else:
        text = f"{kpi.label}: every {dim} level with {theirs} within the noise"
    return fmt.md_escape(text)


def payback_headline(by_channel: pl.DataFrame, cfg: CompanyConfig) -> str:
    """Return `payback_text` as a title (Markdown, values escaped).

    >>> from cxm.config import load_config
    >>> f = pl.DataFrame({"channel": ["events", "search", "seller_referred"],
    ...     "kpi_id": ["clv_cac_ratio"] * 3, "value": [0.6, 2.7, 17.3], "small": [False] * 3})
    >>> print(payback_headline(f, load_config()).replace(chr(92), ""))
    Events and sampling customers are worth 0.60 of what they cost; Seller-referred 17.30
    """
    return fmt.md_escape(payback_text(by_channel, cfg))


def payback_text(by_channel: pl.DataFrame, cfg: CompanyConfig) -> str:
    """Return a title naming the channels whose new customers are worth less than they cost
    (CLV/CAC under 1) and the one worth most per dollar, or saying that every channel pays
    back (plain text: the board pack's; the page escapes it)."""
    rows = by_channel.filter(
        pl.col("kpi_id") == "clv_cac_ratio", ~pl.col("small"), pl.col("value").is_not_nan()
    ).sort("value")
    if rows.is_empty():
        return "CLV / CAC by channel: no new customers with a value and a cost yet"
    best = rows.row(rows.height - 1, named=True)

    def shown(r: dict) -> str:
        return f"{label('channel', r['channel'], cfg)} {fmt.kpi_value('rate', r['value'])}"

    losing = [r for r in rows.iter_rows(named=True) if r["value"] < 1]
    if not losing:
        worst = rows.row(0, named=True)
        return (
            f"Every channel's new customers are worth more than they cost: CLV / CAC from "
            f"{shown(worst)} to {shown(best)}"
        )
    names = " and ".join(label("channel", r["channel"], cfg) for r in losing)
    values = ", ".join(fmt.kpi_value("rate", r["value"]) for r in losing)
    return f"{names} customers are worth {values} of what they cost; {shown(best)}"
