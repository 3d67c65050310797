"""Generate docs/cli.md, schema.md, metrics.md and whatif.md, and the README's table of
settings, from the code that defines them.

``python -m cxm.docs`` rewrites them; ``tests/test_docs.py`` fails when a committed file
differs from what this renders, so the docs cannot drift from the declarations.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cxm.cli import app
from cxm.warehouse.schema import ID_PATTERN, TABLES, TIME_RULE, columns, key_columns

DOCS = Path(__file__).parents[1] / "docs"
README = DOCS.parent / "README.md"
#: The README's generated table of settings lies between these two lines.
SETTINGS_BEGIN = "<!-- settings: generated from cxm/settings.py by `python -m cxm.docs` -->"
SETTINGS_END = "<!-- /settings -->"


def commands() -> list[list[str]]:
    """Return every command of ``cxm`` as its words, in the order they were registered.

    Read from the Typer app, so a new command or group cannot be left out of docs/cli.md.
    """
    words = [[c.name or c.callback.__name__.replace("_", "-")] for c in app.registered_commands]
    for group in app.registered_groups:
        sub = group.typer_instance.registered_commands
        words += [[group.name, c.name or c.callback.__name__.replace("_", "-")] for c in sub]
    return words


def render_cli() -> str:
    """Return docs/cli.md: the ``--help`` of every command."""
    runner = CliRunner()
    parts = [
        "# The `cxm` command",
        "",
        "Generated from `--help` by `python -m cxm.docs`. Run with `uv run cxm ...`.",
        "",
    ]
    for command in commands():
        text = runner.invoke(app, [*command, "--help"], prog_name="cxm", terminal_width=100).stdout
        parts += [f"## `cxm {' '.join(command)}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(parts)


def _constraints(col) -> str:
    bits = []
    if col.key:
        bits.append("key")
    if col.ref:
        bits.append(f"references {col.ref}")
    if col.enum:
        bits.append(f"one of the configured {col.enum.replace('_', ' ')}")
    if col.literals:
        bits.append("one of " + ", ".join(f"`{v}`" for v in col.literals))
    if col.ge is not None:
        bits.append(f">= {col.ge}")
    if col.pattern and col.pattern != ID_PATTERN:
        bits.append(f"format `{col.pattern}`")
    if col.kind == "datetime":
        bits.append("local wall-clock time `YYYY-MM-DD HH:MM:SS`, no time zone")
    if col.may_omit:
        bits.append("the file may leave the column out: every row then has it empty (not recorded)")
    return "; ".join(bits)


def render_schema() -> str:
    """Return docs/schema.md: every table's columns, types and rules, from the declarations."""
    parts = [
        "# Warehouse tables",
        "",
        "Generated from `cxm/warehouse/schema.py` by `python -m cxm.docs`. These are the "
        "columns `cxm import` expects, in any order, one file per table.",
        "",
        f"**Time.** {TIME_RULE}",
        "",
    ]
    for name, model in TABLES.items():
        key = ", ".join(key_columns(model)) or "none (rows may repeat)"
        parts += [
            f"## `{name}`",
            "",
            f"One row is {model.__doc_grain__}. Key: {key}.",
            "",
            "| column | type | required | rules |",
            "|---|---|---|---|",
        ]
        for col in columns(model):
            parts.append(
                f"| `{col.name}` | {col.duckdb_type} | {'no' if col.nullable else 'yes'} "
                f"| {_constraints(col)} |"
            )
        rules = [type(r).__name__ for r in model.__rules__]
        if rules:
            parts += ["", "Row rules: " + ", ".join(rules) + " (see docs/errors.md)."]
        parts.append("")
    return "\n".join(parts)


_METRIC_DECISIONS = """## Decisions that hold for every KPI

- **Whose segment a row is in.** Every row belongs to the seller who served it: an order to
  its `seller_id`; a customer to `customers.seller_id`; a customer's survey answer to its
  `seller_id`, else to the customer's seller; a seller's answer and ticket to that seller; a
  customer's ticket to the customer's seller. Market, language and rank are that seller's.
  Corporate answers belong to no seller: they count for their market, and for a breakdown by
  rank, language or status the corporate side is every corporate answer of the filtered
  markets.
- **Time.** All dates and windows are the market's local calendar dates as stored in the
  data (imported timestamps are local wall-clock time, no time zone: docs/schema.md); the
  server's clock is never used. A period is a month (`2026-10`), a quarter (`2026-Q3`) or
  a year (`2026`). Point-in-time KPIs (marked *on the as-of date*) are taken on the period's
  last day, or on the data's as-of date when the data stop earlier (the newest load's
  `data_as_of`); the others count what happened from the period's first day to that day. An
  as-of date chosen by hand must be a month's last day or the data's as-of date (the facts
  are kept by month). "In the 30 days up to" a date includes that date.
- **Seller status** on the as-of date, first match wins: *terminated* (terminated on or
  before it), *new* (enrolled in the last {new} days), *active* (sold, enrolled a seller or
  had a customer autoship order in the last {active} days), else *inactive*. *Live* = not
  terminated.
- **Rank** on the as-of date: the highest `rank_advanced` step reached by then (the entry
  rank before the first step); a seller with no recorded steps keeps their current rank.
- **Tenure bands**: {tenure}. **Training tiers** (courses completed by the as-of date):
  {tiers}. **Enrolment cohort**: the year of enrolment.
- **App use**: any activity other than {not_app}.
- **Small segments**: a value whose base count `n` is under the company's `min_n`
  (configuration, default 10) is flagged; pages show it hatched or blank, exports suppress it.
- **Change** is like for like (below, *Periods and comparisons*): against the period before
  or the same period a year earlier, and for a period the data stops inside, against the same
  days of it. **Targets** come from
  `kpi_targets` for the same period: a segment target (e.g. `{{"markets": ["BR"]}}`) beats the
  company-wide one for the rows it covers. Targets are checked against this registry when data
  is loaded (`unknown_kpi`, `bad_segment`, `target_out_of_range` in docs/errors.md).
"""


#: What a category's table does not say: where its KPIs are read and how they are named.
_CATEGORY_NOTES = {
    "acquisition": """\
**Where they are read.** The Acquisition page and the board pack's acquisition page; the
Segment reports page and `cxm report` by the breakdowns each KPI takes: market and channel for
the spend and lead KPIs, market and the serving seller's segment (rank, tenure, ...) for
`seller_won_share`. A KPI picked with a breakdown it cannot take is named on the page with
that breakdown, and no report is made (the library refuses the pair: `not_split_by`).

**Channel names.** A channel is shown to people by its configured label (`label` in
`acquisition_channels`, company.yaml): "Events and sampling", never `events`, on every chart,
title, table and board pack page (`cxm.segments.order.label`, the one place a segment is named;
product lines the same). Files of a report (CSV, Excel, Parquet) keep the id in `channel`, the
key a join with `marketing_spend`, `leads` or `customers.acquisition_channel` and a re-import
need, with the label beside it in `channel_label`, as `kpi_id` has `kpi`.""",
}


def render_metrics() -> str:
    """Return docs/metrics.md: every KPI of the registry, grouped by category."""
    from cxm.metrics import stats
    from cxm.metrics.kpis import KPIS
    from cxm.segments.filter import TENURE_BANDS, TRAINING_TIERS
    from cxm.segments.periods import period_rule_markdown
    from cxm.segments.sql import ACTIVE_DAYS, NEW_DAYS
    from cxm.state.facts import FACTS, NOT_APP_USE

    parts = [
        "# KPIs",
        "",
        "Generated from the registry (`cxm/metrics/kpis/`) by `python -m cxm.docs`; a test "
        "fails when this file is stale. Each KPI is one record; its value always comes with its "
        "base count `n`. Units: *share* 0..1 (shown as %), *score* -100..100, *pp* percentage "
        "points, *amount* company currency, *rate* per seller or per order, *hours*, *points* "
        "on a 1-5 scale.",
        "",
        _METRIC_DECISIONS.format(
            new=NEW_DAYS,
            active=ACTIVE_DAYS,
            tenure=", ".join(label for label, _ in TENURE_BANDS),
            tiers=", ".join(f"{label} ({lo}+)" for label, lo in TRAINING_TIERS),
            not_app=" and ".join(NOT_APP_USE),
        ),
    ]
    categories = dict.fromkeys(k.category for k in KPIS)
    for category in categories:
        parts += [
            f"## {category.capitalize()}",
            "",
            "| id | KPI | definition | unit | better | kind | measures |",
            "|---|---|---|---|---|---|---|",
        ]
        for k in (k for k in KPIS if k.category == category):
            when = " *On the as-of date.*" if k.snapshot else ""
            parts.append(
                f"| `{k.id}` | {k.label} | {k.definition}{when} | {k.unit} | {k.better} "
                f"| {k.kind} | {', '.join(f'`{m}`' for m in k.measures)} |"
            )
        parts.append("")
        if category in _CATEGORY_NOTES:
            parts += [_CATEGORY_NOTES[category], ""]
    parts += [period_rule_markdown(), ""]
    parts += [*_windows_section(), ""]
    parts += ["## Uncertainty", "", stats.METHODS.rstrip(), ""]
    parts += [
        "## Where the numbers come from",
        "",
        "Every load derives these fact tables (`cxm/state/facts.py`, one engine-neutral SQL "
        "text each), and the measures above are per-seller columns computed from them "
        "(`cxm/segments/sql/`):",
        "",
    ]
    parts += [f"- `{f.name}`: {f.grain}." for f in FACTS]
    parts += ["", _VALUE_METHOD.format(**_value_constants()), ""]
    return "\n".join(parts)


def _windows_section() -> list[str]:
    """Return the "Observation windows" section, from `cxm.state.windows`."""
    from cxm.segments.filter import FAST_START
    from cxm.state import windows as w

    lines = [
        "## Observation windows",
        "",
        "A KPI that waits a fixed number of days for its outcome counts a subject only once its "
        "window has *closed* on the as-of date (the data's, or the one chosen): the window's "
        "last day (day 0 + its days) is on or before that date. A window that starts in the "
        "period and closes after the period's end but before the as-of date counts whole. "
        "Subjects whose window is still open are not in `n`; they are reported apart (the "
        "`open` column, the measure below), and a period whose windows are all open has no "
        "value, never 0% with a change.",
        "",
        "| KPI | days | day 0 | a period's subjects | counted (n) | still open |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {', '.join(f'`{k}`' for k in win.kpis)} | {win.days} | {win.day0} "
        f"| {win.subjects} | `{win.counted}` | `{win.open}` |"
        for win in w.WINDOWS
    ]
    lines += [
        "",
        "The **fast-start funnel** (KPIs by segment, view *Cohorts and downline*) follows the "
        "sellers enrolled in the period: a "
        f"step counts those whose day {w.FIRST_SALE_DAYS} (a sale in days 0-"
        f"{w.FIRST_SALE_DAYS - 1}) or day {w.RETENTION_DAYS} (still enrolled) has passed, and "
        "its steps are drawn over one group: those past the longer window when there are any. "
        f"**Cohort curves** count month *k* (day round(*k* x {w.MONTH_DAYS})) only for the "
        "sellers who have reached it. Both filter by the rank a seller held on enrolling (the "
        "ladder's first rank unless a rank step is recorded on or before that day), not "
        "today's, which would keep only those who stayed. The *First 30 days* breakdown "
        f"puts a seller whose day {w.FIRST_SALE_DAYS} is after the as-of date and who has not "
        f'sold yet in a segment of their own, "{FAST_START[2]}", not with "{FAST_START[1]}".',
        "",
        w.describe_example(),
    ]
    return lines


def _value_constants() -> dict:
    from cxm.metrics import holdout, value

    return {
        "months": value.HORIZON_MONTHS,
        "discount": f"{value.MONTHLY_DISCOUNT:.0%}",
        "at_risk": value.AT_RISK,
        "min_customers": f"{value.MIN_CUSTOMERS:,}",
        "min_repeaters": f"{value.MIN_REPEATERS:,}",
        "holdout": holdout.HOLDOUT_WEEKS,
        "sample": f"{holdout.CHECK_SAMPLE:,}",
        "fit_sample": f"{value.FIT_SAMPLE:,}",
    }


_VALUE_METHOD = """## Customer value

Predicted customer value (`cxm/metrics/value.py`, models in `cxm/metrics/clv/`) is refitted at
every load, on each customer's purchase *days* up to the data's as-of date (same-day orders
merged, as the literature counts purchases), time in weeks:

- **Purchases and dropout: BG/NBD** (Fader, Hardie and Lee 2005). Per customer: repeat
  purchase days *x*, the week of the last one *t_x* and the weeks since the first *T*. Fitted
  by maximum likelihood (paper, eq. 6); expected purchases over the next {months} months
  (eq. 10) and the probability the customer is still active, "alive" (eq. 11).
- **Spend: Gamma-Gamma** (Fader and Hardie 2013), fitted on customers with a repeat purchase:
  expected spend per purchase day from the mean of their repeat days; a customer who never
  came back gets the population mean.
- **Value** over the next {months} months: expected purchases month by month times expected
  spend, discounted {discount} a month. **At risk**: probability alive under {at_risk}.
- **Which fit**: one for the company, and one per market with at least {min_customers}
  customers, {min_repeaters} of them repeaters, whose fit converged; other markets use the
  company's. A fit reads at most about {fit_sample} customers (a sample drawn by a hash of the
  customer id, the same at every load of the same data); every customer is scored. The fits,
  with standard errors and log-likelihoods, are on the Data page.
- **Checked** at every load as the paper does: refitted on a sample of up to {sample}
  customers with the last {holdout} weeks held out, and its predictions for those weeks
  compared with what the customers did (KPIs by segment, view *Customer value*).
- These KPIs exist for the data's as-of date only: an earlier period shows no value, not 0.
"""


_WHATIF_METHOD = """## Need: how much a seller's situation calls for each priority

{need}

## Score, top 3 and guardrails

score(seller, action) = eligible x sum over priorities of weight x impact x need. An action
is recommended when the seller is eligible and it scores above 0, or it is mandatory. Each
seller gets their best three; scores equal to about five significant digits count as tied
and the action listed first in the catalog wins, so a ranking never depends on float noise
or thread timing. Every recommendation carries its reasons: the per-priority terms of its
score.

{guardrails}

## The comparison

Against the published weights (the catalog's `baseline`, guardrails on): the share of
sellers whose first action changes, overall and by rank, market and language; the first-action
mix before and after per segment; the transition matrix (published first action by scenario
first action); the expected progress per priority, per 1,000 sellers = follow-through of the
slot x impact x need, summed over each seller's three slots (the catalog's `follow_through`,
{follow}); sellers left with no useful action, by market and language; a market or language
whose change rate is {uneven} points or more above the median of the others (segments of
{even_min}+ sellers) is flagged as uneven; and the first seller of each of the five most common
changes, side by side with reasons.

The inverse question (which weight on a priority puts an action first for a share of a
segment) walks the slider grid, 0 to 3 in steps of 0.25, and answers with the smallest weight
that reaches the share and the whole curve; caps are left out there (a cap is a share of the
whole field). The trade-off curve moves one weight over the same grid.

## Scenarios

Saved with name, author, time, weights, guardrails, catalog version and the data's as-of
date in `cxm.scenarios.sqlite` beside the warehouse (every load replaces the warehouse file,
scenarios must outlive it). Anyone signed in may look; strategists and admins save and
publish (publishing writes the audit trail); strategists, analysts and admins export the
per-seller recommendations (CSV or Parquet, cut to their markets, audited) and the weights
with the catalog as JSON for the field platform. A scenario's link is `/what-if?scenario=<id>`;
unsaved weights travel as `/what-if?w=retention:2,cart_size:0.5&guard=mandatory,caps`.

"Published" is the scenario published last, with who published it and when (every
publication is kept; publishing an older one again makes it the published one); before any,
the catalog's `baseline` weights with both guardrails on. It is the baseline of every
comparison: on the page (which names it, and which every session reads on its next run),
in `cxm whatif` (whose first line names it, and whose default weights are its weights) and
in the stamps. Publishing on the page takes two clicks: the first shows what changes for the
field against what is published now (the share of sellers whose first action changes, by
market, and the gains and costs), the second confirms. The headline of a comparison states
the expected gain or cost on every priority, gains largest first, then costs, then what stays
within {unchanged} (relative).

Every file the what-if writes carries its stamp, as report files do: the recommendations CSV
as `#` lines above the header, the Parquet file under `cxm.stamp` in its metadata, the weights
JSON under `"stamp"`: the weights, the guardrails, the scenario (its name and id, or
"unsaved"), what is published, the catalog version, the data's as-of date, the scope, the
rows, who made it and when. The weights JSON is made when its button is pressed, from the
weights the sliders hold then (its "when" is the download's), not on every slider move.

## The page in the browser

A slider move reruns, and sends the browser, only what shows the weights: the page is drawn
in fragments (`app_pages/whatif.py`), and a move's callback (`cxm.ui.whatif.redraw`) reruns
the headline, the open view's content and the exports, and the questions only while an
answer worked out for the old weights is on screen; the sliders, presets, the view and "By"
pickers, the questions' forms and the saved scenarios stay as drawn. A preset or a loaded
scenario reruns the sliders too. Only the open view's chart is drawn, and the views are
picked with a segmented control, not tabs: with the chart inside Streamlit's tabs, the
browser redrew the tabs around it on every move, some 25 ms of its work a move under load.
The comparison is worked out once a run, by its first fragment, and read by the next
(`cxm.ui.whatif.comparison`). The charts are laid out without Plotly checking their layout again
(`cxm.ui.charts.figure`; a test checks them instead), and Streamlit does not collect garbage
after every run (`.streamlit/config.toml`): with the 1,000,000-seller field loaded, that took
some 250 ms after each move. At 1,000,000 sellers a move sends the browser 30 messages
where it sent 90 before issue 21 (and 37 with the tabs); the times are in
docs/benchmarks.md.
"""


def _state_windows() -> list[str]:
    """Return the seller state's windows and averages, with their worked examples, from the
    constants `cxm.state.seller_state` runs (tests/test_docs.py runs the same examples)."""
    import datetime as dt

    import polars as pl

    from cxm.metrics.value import AT_RISK
    from cxm.state import seller_state as ss
    from cxm.whatif.need import NEED

    as_of = dt.date(2026, 10, 31)
    ex = ss.CART_EXAMPLE
    avg, ratios = ex.market_average(), ex.ratios()
    frame = pl.DataFrame({"cart_vs_market": list(ratios.values())})
    cart_need = frame.select(NEED["cart_size"].clip(0.0, 1.0)).to_series().to_list()
    live = "; ".join(
        f"{s}: {len(a)} order{'s' if len(a) > 1 else ''} of {', '.join(f'{x:g}' for x in a)}"
        for s, a in ex.live.items()
    )
    left = "; ".join(f"{s}: {', '.join(f'{x:g}' for x in a)}" for s, a in ex.left.items())
    lines = [
        "### Windows and averages",
        "",
        '"In the N days up to the as-of date" includes that date: the '
        f"{ss.SALES_DAYS} days up to {as_of:%d %B} are "
        f"{as_of - dt.timedelta(days=ss.SALES_DAYS - 1):%d} to {as_of:%d %B}. The fields count: "
        f"status *new* {ss.NEW_DAYS} days, *active* {ss.ACTIVE_DAYS} days; `sales_7d` "
        f"{ss.SALES_DAYS} days; `enrollments_30d` and `new_downline_30d` {ss.ENROLMENT_DAYS} "
        f"days; `revenue_90d`, `orders_90d` and the average orders of `cart_vs_market` "
        f"{ss.RECENT_DAYS} days; active customers {ss.ACTIVE_CUSTOMER_DAYS} days, lapsed up to "
        f"{ss.LAPSED_CUSTOMER_DAYS} days; at risk: P(alive) under {AT_RISK}.",
        "",
        f"Worked example, customers (as of {as_of:%Y-%m-%d}):",
        "",
        "| last order | days before the as-of date | counts as |",
        "|---|---|---|",
    ]
    for days in ss.CUSTOMER_EXAMPLE_DAYS:
        lines.append(
            f"| {as_of - dt.timedelta(days=days):%Y-%m-%d} | {days} "
            f"| {ss.customer_standing(days)} |"
        )
    lines += [
        "",
        f"Worked example, a seller's orders (as of {as_of:%Y-%m-%d}):",
        "",
        "| order day | days before the as-of date | in `sales_7d` | in `revenue_90d`, "
        "`orders_90d` |",
        "|---|---|---|---|",
    ]
    for days in ss.SALES_EXAMPLE_DAYS:
        week, recent = days < ss.SALES_DAYS, days < ss.RECENT_DAYS
        lines.append(
            f"| {as_of - dt.timedelta(days=days):%Y-%m-%d} | {days} | {'yes' if week else 'no'} "
            f"| {'yes' if recent else 'no'} |"
        )
    lines += [
        "",
        f"Worked example, cart (orders of one market in the {ss.RECENT_DAYS} days): live "
        f"sellers {live}; a seller who left in those days, {left}. The market's average order "
        f"is {avg:g} (live sellers' orders only; with the leaver's it would be "
        f"{ex.market_average(with_leavers=True):g}), so `cart_vs_market` is "
        + ", ".join(f"{r:g} for {s}" for s, r in ratios.items())
        + " (a cart-size need of "
        + ", ".join(f"{n:g} for {s}" for s, n in zip(ratios, cart_need, strict=True))
        + "). "
        + " ".join(ss.CartExample.__doc__.split("\n\n")[1].split()),
    ]
    return lines


def render_whatif() -> str:
    """Return docs/whatif.md: seller state, rule language, catalog and method of the what-if."""
    from cxm.config import load_config
    from cxm.errors import CATALOG_CODES
    from cxm.state.seller_state import FIELDS
    from cxm.warehouse.demo._training import COURSES
    from cxm.whatif import compare, need, score, summary
    from cxm.whatif.catalog import DEFAULT_CATALOG, load_catalog
    from cxm.whatif.rules import OPERATORS

    cat = load_catalog(DEFAULT_CATALOG, cfg=load_config(), course_ids=[c[0] for c in COURSES])
    parts = [
        "# What-if",
        "",
        "Generated by `python -m cxm.docs` from the seller-state declaration "
        "(`cxm/state/seller_state.py`), the need formulas (`cxm/whatif/need.py`) and the "
        "default action catalog (`cxm/actions.yaml`); a test fails when this file is stale.",
        "",
        "## Seller state: the fields a rule may name",
        "",
        "One row per live seller as of the data's as-of date, built once per load in the same "
        "engine-neutral SQL as the facts.",
        "",
        "| field | kind | definition |",
        "|---|---|---|",
    ]
    for f in FIELDS:
        kind = f"{f.kind} ({f.values_from})" if f.values_from else f.kind
        parts.append(f"| `{f.name}` | {kind} | {f.definition} |")
    parts += ["", *_state_windows()]
    parts += [
        "",
        "## The rule language",
        "",
        "`all: [...]`, `any: [...]`, `not: rule`; comparisons `{field: F, OP: value}` with OP "
        f"one of {', '.join(f'`{o}`' for o in OPERATORS)} (ranks compare along the ladder: "
        "`{field: rank, at_least: Manager}`); `{course_done: C04}`; "
        "`{content_in_language: true}` (the seller's language is among the action's "
        "`content_languages`). Parsed into pydantic models and compiled to one Polars "
        "expression; never evaluated as code. A problem names the file, line, action and path "
        "inside the rule, with the nearest known name; every problem of a catalog comes at "
        "once, each with one of the codes at the end of this page.",
        "",
        f"## The default catalog ({cat.version}, {len(cat.actions)} actions)",
        "",
        "Published weights: "
        + ", ".join(f"{need.LABELS[p]} x{w:g}" for p, w in cat.baseline.items())
        + ". Presets: "
        + ", ".join(p.label for p in cat.presets.values())
        + ".",
        "",
        "| action | impact | who may get it | content | guardrail |",
        "|---|---|---|---|---|",
    ]
    for a in cat.actions:
        impact = ", ".join(f"{need.LABELS[p]} {v:g}" for p, v in a.impact.items() if v)
        langs = "all" if a.content_languages is None else ", ".join(a.content_languages)
        guard = "mandatory" if a.mandatory else ""
        if a.max_first_share is not None:
            guard = f"at most {a.max_first_share:.0%} of first slots"
        parts.append(
            f"| {a.label} (`{a.id}`) | {impact} | {a.describe_eligible()} | {langs} | {guard} |"
        )
    parts += [
        "",
        _WHATIF_METHOD.format(
            need=need.__doc__.split("\n\n", 1)[1].strip(),
            guardrails=score.__doc__.split("\n\n")[2].strip()
            + "\n\n"
            + score.__doc__.split("\n\n")[3].strip(),
            follow=", ".join(f"{v:.0%}" for v in cat.follow_through),
            uneven=round(compare.UNEVEN_BY * 100),
            even_min=compare.EVEN_MIN_SELLERS,
            unchanged=f"{summary.UNCHANGED_WITHIN:.1%}",
        ),
        "## Catalog and rule problems",
        "",
        "| code | rule |",
        "|---|---|",
        *(f"| `{code}` | {rule} |" for code, rule in CATALOG_CODES.items()),
        "",
    ]
    return "\n".join(parts)


def render_readme(text: str) -> str:
    """Return the README ``text`` with its table of settings rendered from `cxm.settings`."""
    from cxm.settings import markdown_table

    head, rest = text.split(SETTINGS_BEGIN, 1)
    _, tail = rest.split(SETTINGS_END, 1)
    return f"{head}{SETTINGS_BEGIN}\n{markdown_table()}\n{SETTINGS_END}{tail}"


def main() -> None:
    """Rewrite the generated docs."""
    README.write_text(render_readme(README.read_text(encoding="utf-8")), encoding="utf-8")
    (DOCS / "cli.md").write_text(render_cli(), encoding="utf-8")
    (DOCS / "schema.md").write_text(render_schema(), encoding="utf-8")
    (DOCS / "metrics.md").write_text(render_metrics(), encoding="utf-8")
    (DOCS / "whatif.md").write_text(render_whatif(), encoding="utf-8")


if __name__ == "__main__":
    main()
