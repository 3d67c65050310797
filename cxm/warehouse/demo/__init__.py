"""The synthetic demo company: seeded, vectorised, sized by its number of sellers.

`build_demo` writes a whole warehouse (every table of `schema.TABLES`) for a `DemoSpec`; the
same spec always gives the same data. The figures it follows and the effects it plants are in
`_calibration.py` and ``docs/demo-data.md``. Generation works on numpy arrays of integer codes;
DuckDB turns codes into ids and labels while it loads, so no Python loop runs per row.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cxm.config import DEFAULT_CONFIG, CompanyConfig, load_config
from cxm.logs import timed
from cxm.warehouse import space, store
from cxm.warehouse.demo import _acquisition, _experience, _experiments, _training
from cxm.warehouse.demo import _calibration as cal
from cxm.warehouse.demo._field import make_customers, make_field
from cxm.warehouse.demo._orders import order_blocks
from cxm.warehouse.schema import TABLES, SurveyQuestion

Progress = Callable[[str, float], None]
DEFAULT_AS_OF = dt.date(2026, 10, 31)
EPOCH = dt.date(1970, 1, 1)
log = logging.getLogger(__name__)


class DemoSpec(BaseModel):
    """What demo company to build: its size, its seed, and the last day of its history."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sellers: int = Field(2_000, ge=100, le=5_000_000, description="sellers ever enrolled")
    seed: int = Field(7, ge=0)
    as_of: dt.date = DEFAULT_AS_OF
    years: int = Field(5, ge=1, le=10, description="years of history up to as_of")

    @field_validator("as_of")
    @classmethod
    def _not_in_the_future(cls, as_of: dt.date) -> dt.date:
        # The demo's own export must import again, and imports refuse future dates.
        if as_of > dt.date.today():
            raise ValueError(f"must not be after today ({dt.date.today()})")
        return as_of


# How each numeric frame becomes a warehouse table. Ids: a letter and a zero-padded number.
_MACROS = [
    "CREATE OR REPLACE TEMP MACRO sid(i) AS 'S' || lpad(CAST(i + 1 AS VARCHAR), 7, '0')",
    "CREATE OR REPLACE TEMP MACRO cid(i) AS 'C' || lpad(CAST(i + 1 AS VARCHAR), 9, '0')",
    "CREATE OR REPLACE TEMP MACRO eid(i) AS 'E' || lpad(CAST(i + 1 AS VARCHAR), 6, '0')",
    "CREATE OR REPLACE TEMP MACRO money(c) AS CAST(c / 100.0 AS DECIMAL(14, 2))",
]
_INSERT = {
    "sellers": """INSERT INTO sellers SELECT sid(seller),
        CASE WHEN sponsor >= 0 THEN sid(sponsor) END, enrolled_on, $ranks[rank + 1],
        $markets[market + 1], $languages[language + 1],
        money(weekly_goal_cents), monthly_enrollment_goal, terminated_on,
        $achannels[achannel + 1] FROM src""",
    "customers": """INSERT INTO customers SELECT cid(customer), sid(seller), $markets[market + 1],
        $languages[language + 1], acquired_on, consent, $achannels[achannel + 1] FROM src""",
    "orders": """INSERT INTO orders SELECT 'O' || lpad(CAST(order_num AS VARCHAR), 10, '0'),
        cid(customer), sid(seller), ordered_at, money(amount_cents), units,
        $lines[line + 1], autoship, $channels[channel + 1] FROM src""",
    "activities": """INSERT INTO activities SELECT sid(seller), occurred_at, $kinds[kind + 1],
        CASE ref_type WHEN 1 THEN sid(ref_num) WHEN 2 THEN $courses[ref_num + 1]
                      WHEN 3 THEN 'content-' || ref_num WHEN 4 THEN $ranks[ref_num + 1]
        END FROM src""",
    "courses": "INSERT INTO courses SELECT * FROM src",
    "course_completions": """INSERT INTO course_completions
        SELECT sid(seller), $courses[course + 1], completed_on FROM src""",
    "survey_responses": """INSERT INTO survey_responses SELECT
        'R' || lpad(CAST(response_num AS VARCHAR), 10, '0'), $respondents[respondent_type + 1],
        CASE respondent_type WHEN 0 THEN cid(respondent) WHEN 1 THEN sid(respondent)
                             ELSE eid(respondent) END,
        CASE WHEN seller >= 0 THEN sid(seller) END, $markets[market + 1],
        $languages[language + 1], answered_on, $questions[question + 1], score FROM src""",
    "tickets": """INSERT INTO tickets SELECT 'T' || lpad(CAST(ticket_num AS VARCHAR), 9, '0'),
        CASE requester_type WHEN 1 THEN 'seller' ELSE 'customer' END,
        CASE requester_type WHEN 1 THEN sid(requester) ELSE cid(requester) END,
        $markets[market + 1], $languages[language + 1], $tchannels[channel + 1], opened_at,
        CASE WHEN has_first THEN first_response_at END,
        CASE WHEN has_resolved THEN resolved_at END FROM src""",
    "kpi_targets": "INSERT INTO kpi_targets SELECT * FROM src",
    "experiment_assignments": """INSERT INTO experiment_assignments SELECT
        $experiments[experiment + 1], sid(seller),
        CASE WHEN treatment THEN 'treatment' ELSE 'control' END, assigned_on FROM src""",
    # The planted experiment's reorders: ids of their own, after every drawn order.
    "experiment_orders": """INSERT INTO orders SELECT
        'OX' || lpad(CAST(order_num AS VARCHAR), 9, '0'), customer_id, seller_id, ordered_at,
        amount, units, product_line, autoship, channel FROM src""",
    "marketing_spend": "INSERT INTO marketing_spend SELECT * FROM src",
    "leads": """INSERT INTO leads SELECT 'L' || lpad(CAST(lead_num AS VARCHAR), 9, '0'), created,
        $markets[market + 1], $achannels[channel + 1], cid(customer), sid(seller), converted
        FROM src""",
}


def _load(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, params: dict) -> None:
    sql = _INSERT[table]
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    con.register("src", frame)
    try:
        with timed(log, "table_written", table=table, rows=frame.height):
            con.execute(sql, used)
    finally:
        con.unregister("src")


def _day(d: dt.date) -> int:
    return (d - EPOCH).days


def _dates(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype(np.int32)).cast(pl.Date)


def fill(
    con: duckdb.DuckDBPyConnection,
    spec: DemoSpec,
    cfg: CompanyConfig,
    progress: Progress | None = None,
) -> None:
    """Generate the demo company for ``spec`` and insert every table through ``con``."""
    say = progress or (lambda stage, done: None)
    seeds = np.random.SeedSequence(spec.seed).spawn(6)
    rng = [np.random.default_rng(s) for s in seeds[:5]]
    as_of = _day(spec.as_of)
    start = _day(spec.as_of.replace(year=spec.as_of.year - spec.years)) + 1
    ctx = cal.Context.of(cfg)
    params = {
        "ranks": list(cfg.ranks),
        "markets": list(cfg.market_codes),
        "languages": list(cfg.languages),
        "lines": [p.id for p in cfg.product_lines],
        "channels": list(cfg.order_channels),
        "tchannels": list(cfg.ticket_channels),
        "achannels": list(cfg.acquisition_channel_ids),
        "kinds": list(cfg.activity_kinds),
        "courses": [c[0] for c in _training.COURSES],
        "respondents": list(_experience.RESPONDENT),
        "questions": list(SurveyQuestion.__args__),
        "experiments": [e.id for e in _experiments.EXPERIMENTS],
    }
    for m in _MACROS:
        con.execute(m)

    say("sellers", 0.0)
    f = make_field(rng[0], spec.sellers, start, as_of, ctx)
    seller_channel = _acquisition.seller_channels(spec.seed, f, cfg)
    _load(
        con,
        "sellers",
        pl.DataFrame(
            {
                "seller": np.arange(f.n),
                "sponsor": f.sponsor,
                "enrolled_on": _dates(f.enrolled),
                "rank": f.rank,
                "market": f.market,
                "language": f.language,
                "weekly_goal_cents": f.weekly_goal_cents,
                "monthly_enrollment_goal": f.monthly_enrollment_goal,
                "terminated_on": pl.Series(np.where(f.terminated, f.end, 0).astype(np.int32))
                .cast(pl.Date)
                .set(pl.Series(~f.terminated), None),
                "achannel": seller_channel,
            }
        ),
        params,
    )

    say("customers", 0.05)
    c = make_customers(rng[1], f, as_of, ctx)
    won = _acquisition.Acquisition(
        seller_channel, _acquisition.customer_channels(spec.seed, c, cfg)
    )
    _load(
        con,
        "customers",
        pl.DataFrame(
            {
                "customer": np.arange(c.n),
                "seller": c.seller,
                "market": c.market,
                "language": c.language,
                "acquired_on": _dates(c.acquired),
                "consent": c.consent,
                "achannel": won.customer_channel,
            }
        ),
        params,
    )

    blocks = max(1, -(-c.n // 1_000_000))
    for i, frame in enumerate(order_blocks(seeds[5], c, as_of, ctx)):
        say("orders", 0.10 + 0.65 * i / blocks)
        _load(con, "orders", frame, params)

    say("training", 0.75)
    _load(con, "courses", _training.courses_frame(), params)
    done = _training.completions(rng[2], f, cfg)
    _load(con, "course_completions", done, params)
    say("activities", 0.8)
    _load(con, "activities", _training.activities(rng[3], f, done, cfg), params)
    say("surveys and tickets", 0.9)
    _load(con, "survey_responses", _experience.surveys(rng[4], f, c, as_of, ctx), params)
    _load(con, "tickets", _experience.tickets(rng[4], f, c, as_of, ctx), params)
    quarter = (spec.as_of.month - 1) // 3 + 1
    _load(con, "kpi_targets", _experience.kpi_targets(spec.as_of.year, quarter), params)
    say("experiments", 0.95)
    # A generator of their own: every draw above is what it was before experiments existed.
    xrng = np.random.default_rng(
        np.random.SeedSequence([spec.seed, _experiments.EXPERIMENT_STREAM])
    )
    arms = _experiments.assignments(xrng, f, len(cfg.ranks))
    _load(con, "experiment_assignments", arms, params)
    lines = params["lines"]
    extra = _experiments.planted_orders(
        xrng, con, f, arms, as_of, lines[ctx.one_time_line], lines[0]
    )
    _load(con, "experiment_orders", extra, params)
    _load(con, "marketing_spend", _acquisition.spend(spec.seed, f, c, won, cfg), params)
    _load(con, "leads", _acquisition.leads(spec.seed, f, c, won, cfg, as_of), params)
    say("writing", 0.97)


def build_demo(
    spec: DemoSpec,
    path: str | Path | None = None,
    progress: Progress | None = None,
    derive: Callable[[duckdb.DuckDBPyConnection, CompanyConfig, dt.date | None], None]
    | None = None,
) -> Path:
    """Build the demo company for ``spec`` into the warehouse at ``path`` and return the path.

    The demo always uses the built-in demo configuration (``cxm/company.yaml``), whatever
    ``$CXM_CONFIG`` says: it is the demo company's own ladder, markets and product lines.
    ``derive`` (``cxm.pipeline`` passes the seller facts) runs on the new file before the swap.
    The disk's free space is checked first (`DiskFull`, with the estimate).
    """
    cfg = load_config(DEFAULT_CONFIG)
    target = store.warehouse_path(path)
    space.check_demo(target, spec.sellers, spec.years)
    out = store.rebuild(
        target,
        lambda con: fill(con, spec, cfg, progress),
        kind="demo",
        source=f"demo company: {spec.sellers:,} sellers, seed {spec.seed}, {spec.years} years",
        tables=list(TABLES),
        data_as_of=spec.as_of,
        derive=None if derive is None else lambda con, as_of: derive(con, cfg, as_of),
    )
    if progress:
        progress("done", 1.0)
    return out
