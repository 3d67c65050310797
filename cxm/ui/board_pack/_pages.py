"""The board pack's pages, each drawn from numbers the caller computed: the summary, the
experience gap, the what-if scenario and the appendix by market and rank."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from cxm.config import CompanyConfig
from cxm.metrics.kpis import BY_ID, get
from cxm.segments.order import sort_segments
from cxm.ui import charts, fmt
from cxm.ui.board_pack import _story
from cxm.ui.board_pack._layout import BAD, GOOD, INK, LEFT, MUTED, RULE, SHADE, WIDTH, Cell, Pack


@dataclass(frozen=True)
class Words:
    """How the pack names what it shows: the period, what it is compared with, the reader."""

    current: str  # "Q4 2026 to date (1–31 Oct)"
    previous: str | None  # "Q3 2026 (1–31 Jul)"; None when there is nothing to compare with
    compared: str  # the comparison in one line, or why there is none
    why_none: str | None  # "no comparison: the data starts on 2025-01-10"; None when compared
    partial: bool
    who: str  # "all sellers" or the filter's segment in words
    scope: str
    as_of: dt.date


def summary(
    pdf: Pack,
    words: Words,
    reports: dict,
    trend: pl.DataFrame,
    targets: list[_story.TargetLine],
    changes: list[str],
    how: str,
    cfg: CompanyConfig,
    headline_ids: list[str],
    prepared: str,
) -> None:
    """Page 1: what changed in words and the targets (left), the ten KPIs with their lines."""
    pdf.add_page()
    pdf.title_block(
        f"Board pack: {words.current}",
        f"{words.who[0].upper()}{words.who[1:]} in {words.scope}: {words.compared}; "
        f"data as of {fmt.date(words.as_of)}. {prepared}",
    )
    top = pdf.get_y()
    left_w, right_x = 112.0, LEFT + 120.0
    right_w = LEFT + WIDTH - right_x

    since = f" against {words.previous}" if words.previous else ""
    pdf.heading(f"What changed{since}", x=LEFT, w=left_w)
    if words.previous is None:
        why = words.why_none or "no comparison"
        pdf.note(f"{why[0].upper()}{why[1:]}.", x=LEFT, w=left_w, size=9.5)
    else:
        if changes:
            pdf.bullets(changes, x=LEFT, w=left_w, size=9.5)
        else:
            pdf.bullets(["No KPI moved beyond noise."], x=LEFT, w=left_w, size=9.5)
        pdf.note(how, x=LEFT, w=left_w, size=7.5)
    pdf.ln(2)
    pdf.heading(f"Targets for {words.current}", x=LEFT, w=left_w)
    if targets:
        counts: dict[str, int] = {}
        for t in sorted(targets, key=lambda t: _STATUS_ORDER.get(t.status, 9)):
            counts[t.status] = counts.get(t.status, 0) + 1
        pdf.note(
            "; ".join(f"{n} {status}" for status, n in counts.items()) + ".",
            x=LEFT,
            w=left_w,
            size=9,
        )
        pdf.grid(
            ["KPI", "For", "Target", "Value", "Status"],
            [
                [
                    t.kpi,
                    t.segment,
                    t.target,
                    t.value,
                    Cell(t.status, bold=t.good is not None, color=_tone(t.good)),
                ]
                for t in targets
            ],
            (40, 15, 15, 15, 27),
            align="LLRRL",
            x=LEFT,
            size=7.5,
            line_height=4.4,
        )
    else:
        pdf.note("No targets are set for this period.", x=LEFT, w=left_w, size=9)
    bottom_left = pdf.get_y()

    pdf.set_y(top)
    against = f", change against {_short(words.previous)}" if words.previous else ""
    pdf.heading(f"Headline KPIs{against}", x=right_x, w=right_w)
    _kpi_table(pdf, words, reports[()], trend, cfg, headline_ids, x=right_x, w=right_w)
    pdf.set_y(max(bottom_left, pdf.get_y()))


_STATUS_ORDER = {"met": 0, "on track": 1, "missed": 2, "behind": 3}


def _tone(good: bool | None) -> tuple[int, int, int]:
    return MUTED if good is None else GOOD if good else BAD


def _kpi_table(pdf, words, rows, trend, cfg, ids, *, x: float, w: float) -> None:
    widths = (54.0, 24.0, 24.0, w - 54.0 - 24.0 - 24.0)
    y = pdf.get_y()
    pdf.set_fill_color(*SHADE)
    pdf.rect(x, y, w, 6, style="F")
    pdf.set_font("DejaVu", "B", 8)
    pdf.set_text_color(*INK)
    pdf.set_xy(x, y)
    for text, width, align in zip(
        ("KPI", "Value", "Change", "Last 12 months"),
        widths,
        "LRRC",
        strict=True,
    ):
        pdf.cell(width, 6, text, align=align)
    y += 6
    by_id = {r["kpi_id"]: r for r in rows.iter_rows(named=True)}
    row_h = 10.2
    for kpi_id in ids:
        r, kpi = by_id.get(kpi_id), get(kpi_id)
        if r is None:
            continue
        pdf.set_xy(x, y + 1.4)
        pdf.set_font("DejaVu", "B", 8.5)
        pdf.set_text_color(*INK)
        pdf.cell(widths[0], 4, kpi.short or kpi.label)
        pdf.set_xy(x, y + 5.6)
        pdf.set_font("DejaVu", size=6.8)
        pdf.set_text_color(*MUTED)
        when = f"on {fmt.date(words.as_of)}" if kpi.snapshot else "in the period"
        pdf.cell(widths[0], 3.5, f"n = {fmt.number(r['n'])} · {when}")
        value = fmt.kpi_value(kpi.unit, None if r["small"] else r["value"], cfg.currency)
        step = _step(kpi_id, r)
        pdf.set_xy(x + widths[0], y + 2.6)
        pdf.set_font("DejaVu", "B", 10)
        pdf.set_text_color(*INK)
        pdf.cell(widths[1], 5, value if not r["small"] else f"n < {cfg.min_n}", align="R")
        pdf.set_font("DejaVu", size=8.5)
        good = _good_move(kpi_id, r)
        pdf.set_text_color(*(INK if good is None else _tone(good)))
        pdf.cell(widths[2], 5, step.text, align="R")
        if step.clear is False and step.text.startswith(("+", fmt.MINUS)):
            pdf.set_xy(x + widths[0] + widths[1], y + 6.4)
            pdf.set_font("DejaVu", size=6.5)
            pdf.set_text_color(*MUTED)
            pdf.cell(widths[2], 3, "no clear change", align="R")
        months = trend.filter(pl.col("kpi_id") == kpi_id).sort("month")
        values = months["value"].to_list()
        to_date = "partial" in months.columns and months.height > 0 and bool(months["partial"][-1])
        # A month to date does not colour the line: its colour is the last whole month's move.
        clean = [v for v in (values[:-1] if to_date else values) if v is not None]
        pdf.sparkline(
            values,
            x=x + sum(widths[:3]) + 4,
            y=y + 2,
            w=widths[3] - 8,
            h=row_h - 4,
            good=len(clean) < 2 or (clean[-1] >= clean[-2]) == (kpi.better == "higher"),
            partial_last=to_date,
        )
        y += row_h
        pdf.set_draw_color(*RULE)
        pdf.line(x, y, x + w, y)
    pdf.set_xy(x, y + 1.5)
    pdf.set_font("DejaVu", size=7)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(
        w,
        3.4,
        align="L",
        text="Changes: shares and gaps in percentage points (pp), scores in points, counts and "
        "amounts in %; green when the move is good for the KPI, grey when it lies inside the "
        "noise. Lines: month by month up to the period's last month; the dot is the last (open, on "
        "a dashed line: a month to date). "
        f"n < {cfg.min_n}: too few sellers or answers to show.",
        new_x="LEFT",
        new_y="NEXT",
    )


def _short(label: str) -> str:
    """The comparison's label without its dates in brackets, for a column header."""
    return label.split(" (")[0]


def _step(kpi_id: str, r: dict) -> fmt.Change:
    """The change as shown: its text and direction, none for a small segment, no direction
    (no arrow, no colour) when the report marks it inside the noise."""
    if r["small"]:
        return fmt.Change("", 0)
    return fmt.change(BY_ID[kpi_id].unit, r["value"], r["previous"], r.get("clear_change"))


def _good_move(kpi_id: str, r: dict) -> bool | None:
    """Whether a change is good for the KPI; None when there is no clear change to judge."""
    step = _step(kpi_id, r)
    if not step.direction:
        return None
    return (step.direction > 0) == (BY_ID[kpi_id].better == "higher")


def experience_gap(
    pdf: Pack, words: Words, by_market: pl.DataFrame, attributes: pl.DataFrame, cfg
) -> None:
    """Page 2: where belief and customers' experience differ, by market and by attribute."""
    pdf.add_page()
    gaps = by_market.filter(pl.col("kpi_id") == "experience_gap_pp")
    title, detail = _story.gap_title(gaps, cfg)
    pdf.title_block(
        title,
        f"{detail}The customer gap: the share of corporate answers rating quality, value, "
        "service, ease and delivery superior (5 of 5) minus the share of customers' answers "
        f"that do, in percentage points (pp); lower is better. {words.compared}.",
    )
    top = pdf.get_y()
    half = (WIDTH - 8) / 2
    if gaps.filter(~pl.col("small") & pl.col("value").is_not_null()).is_empty():
        pdf.note(
            f"No market has enough corporate and customer answers ({cfg.min_n} or more) in "
            "this period to measure its gap."
        )
        return
    company = gaps["company"].drop_nulls()
    pdf.heading("Customer gap by market, in pp", x=LEFT, w=half)
    fig = charts.kpi_bars(
        gaps.filter(~pl.col("small")),
        get("experience_gap_pp"),
        "market",
        cfg,
        company=company[0] if len(company) else None,
    )
    pdf.svg(fig, x=LEFT, y=top + 8, w=half, h=72)
    pdf.set_xy(LEFT + half + 8, top)
    pdf.heading("Rated superior (5 of 5), by attribute", x=LEFT + half + 8, w=half)
    if not attributes.is_empty():
        pdf.svg(charts.gap_dumbbell(attributes), x=LEFT + half + 8, y=top + 8, w=half, h=72)
    pdf.set_y(top + 84)
    nps = by_market.filter(pl.col("kpi_id") == "customer_nps")
    nps_by = {r["market"]: r for r in nps.iter_rows(named=True)}
    rows = []
    for r in sort_segments(gaps, cfg, ["market"]).iter_rows(named=True):
        n = nps_by.get(r["market"])
        rows.append(
            [
                r["market"],
                _value("experience_gap_pp", r, cfg),
                _change("experience_gap_pp", r),
                f"{int(r['n']):,}",
                _value("customer_nps", n, cfg) if n else fmt.DASH,
                _change("customer_nps", n) if n else fmt.DASH,
                f"{int(n['n']):,}" if n else fmt.DASH,
            ]
        )
    pdf.grid(
        ["Market", "Customer gap", "Change", "Answers", "Customer NPS", "Change", "Answers"],
        rows,
        (22, 30, 24, 24, 30, 24, 24),
        align="LRRRRRR",
        size=8,
    )
    pdf.note(
        f"Changes {words.compared}; grey: no clear change (inside the noise, 95%). "
        f"n < {cfg.min_n}: too few answers to show.",
        size=7.5,
    )


def _value(kpi_id: str, r: dict, cfg) -> str:
    if r["small"]:
        return f"n < {cfg.min_n}"
    return fmt.kpi_value(BY_ID[kpi_id].unit, r["value"], cfg.currency)


def _change(kpi_id: str, r: dict) -> Cell:
    """A change for a table: grey when it lies inside the noise (the page says so)."""
    step = _step(kpi_id, r)
    return Cell(step.text, color=MUTED if step.clear is False else None)


def no_scenario(pdf: Pack) -> None:
    """A line under the experience gap instead of a what-if page."""
    pdf.ln(2)
    pdf.heading("What-if scenario")
    pdf.note(
        "No scenario has been published and none was chosen for this pack: the field runs on "
        "the catalog's weights. Choose one on the Reports page, or with --scenario or "
        "--weights on the command line."
    )


def appendix(pdf: Pack, words: Words, app: _story.Appendix, ids: list[str], cfg, fold_under):
    """The appendix: every market's total, then its ranks up the ladder, folded when small."""
    pdf.add_page()
    pdf.title_block(
        "Appendix: headline KPIs by market and rank",
        f"{words.current}. Markets by code, each market's total first, then its ranks up "
        f"the ladder. A rank with fewer than {fold_under} live sellers is folded "
        f"into the line under the table (its market's total still counts it); n < {cfg.min_n} "
        "marks a value with too few sellers or answers behind it.",
    )
    kpis = [get(k) for k in ids if k != "live_sellers"]
    rest = WIDTH - 16 - 34 - 18
    widths = (16, 34, 18, *([rest / len(kpis)] * len(kpis)))
    rows = []
    for r in app.rows:
        total = r["rank"] is None
        cells = [
            Cell(r["market"], bold=total),
            Cell("all ranks" if total else r["rank"], bold=total),
            Cell(f"{r.get('sellers', 0):,}", bold=total),
        ]
        for k in kpis:
            v = r.get(k.id)
            text = (
                f"n < {cfg.min_n}"
                if v is None and k.id in r
                else fmt.kpi_value(k.unit, v, cfg.currency)
            )
            cells.append(Cell(text, bold=total, color=MUTED if v is None else None))
        rows.append(cells)
    pdf.grid(
        ["Market", "Rank", "Sellers", *(k.short or k.label for k in kpis)],
        rows,
        widths,
        align="LLR" + "R" * len(kpis),
        size=7.2,
        line_height=3.5,
        pad=0.3,
    )
    pdf.note(_story.folded_line(app, fold_under) + ".", size=8.5)
