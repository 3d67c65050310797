"""The board pack's experiments page: each started experiment's decision in words, its forest
plot and its KPIs over all sellers of the pack's scope."""

from __future__ import annotations

from cxm.ui import experiment_charts as charts
from cxm.ui import fmt
from cxm.ui.board_pack._layout import LEFT, WIDTH, Pack
from cxm.ui.board_pack._pages import Words

#: Experiments drawn per page (each: a heading, a line, a forest plot and a table).
PER_PAGE = 2


def _one(pdf: Pack, r) -> None:
    e = r.experiment
    running = r.status == "running"
    pdf.heading(f"{e.name}: {r.decision}")
    start, end = r.window
    pdf.note(
        f"{r.status.capitalize()}, read {fmt.date(start)} to {fmt.date(end)}: "
        f"{r.srm.n_control:,} control and {r.srm.n_treatment:,} treatment sellers "
        f"({fmt.share(r.srm.observed_share)} in treatment, {fmt.share(r.srm.planned_share, 0)} "
        f"planned). "
        + (
            "Always-valid intervals: safe to read at every look."
            if running
            else "95% intervals at the planned end."
        )
    )
    if r.withheld:
        return
    effects = r.overall()
    top = pdf.get_y()
    half = (WIDTH - 8) / 2
    height = min(70, 22 + 11 * len(effects))
    pdf.svg(charts.forest(effects, running=running), x=LEFT, y=top, w=half, h=height)
    right = LEFT + half + 8
    pdf.set_xy(right, top)
    rows = charts.table(effects, running=running)
    pdf.grid(
        ["KPI", "Lift", "95% interval", "Reads"],
        [[r["KPI"], r["Lift"], r["95% interval"], r["Reads"]] for r in rows.iter_rows(named=True)],
        (42, 22, 42, 26),
        align="LRRL",
        x=right,
        size=8,
    )
    pdf.set_y(max(pdf.get_y(), top + height) + 4)


def experiments(pdf: Pack, words: Words, readouts: list) -> None:
    """Pages of experiments: up to `PER_PAGE` on each, newest first; one line when none."""
    if not readouts:
        pdf.ln(2)
        pdf.heading("Experiments")
        pdf.note("No experiment has started: nothing tried on the field to report.")
        return
    for i, r in enumerate(readouts):
        if i % PER_PAGE == 0:
            pdf.add_page()
            pdf.title_block(
                "Experiments: what the field trials showed",
                f"Each a saved what-if scenario shown to a random part of the field against a "
                f"control, read on the sellers of {words.scope}. Relative lifts; the thin line "
                "is the 95% interval, the pale band the always-valid one.",
            )
        _one(pdf, r)
