"""The synthetic demo company: seeded, vectorised, sized by its number of sellers.

`build_demo` writes a whole warehouse (every table of `schema.TABLES`) for a `DemoSpec`; the
same spec always gives the same data. The figures it follows and the effects it plants are in
`_calibration.py` and ``docs/demo-data.md``. Generation works on numpy arrays of integer codes;
DuckDB turns codes into ids and labels while it loads, so no Python loop runs per row.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from numpy._core.multiarray import _set_madvise_hugepage
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cxm.config import DEFAULT_CONFIG, CompanyConfig, load_config
from cxm.logs import timed
from cxm.warehouse import space, store
from cxm.warehouse.demo import _acquisition, _experience, _experiments, _training
from cxm.warehouse.demo import _calibration as cal
from cxm.warehouse.demo._field import make_customers, make_field
from cxm.warehouse.demo._orders import OrderNumbers, order_blocks
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


# How each numeric frame becomes a warehouse table. Ids: a letter and a zero-padded number,
# the digits of number + 10^width after its leading 1 (a third cheaper than lpad; the same
# text for every number below 10^width, which DemoSpec's bounds keep them under).
_MACROS = [
    "CREATE OR REPLACE TEMP MACRO padded_id(letter, n, base) AS"
    " letter || substr(CAST(CAST(n AS BIGINT) + base AS VARCHAR), 2)",
    "CREATE OR REPLACE TEMP MACRO sid(i) AS padded_id('S', i + 1, 10000000)",
    "CREATE OR REPLACE TEMP MACRO cid(i) AS padded_id('C', i + 1, 1000000000)",
    "CREATE OR REPLACE TEMP MACRO eid(i) AS padded_id('E', i + 1, 1000000)",
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
    "orders": """INSERT INTO orders SELECT padded_id('O', order_num, 10000000000),
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
        padded_id('R', response_num, 10000000000), $respondents[respondent_type + 1],
        CASE respondent_type WHEN 0 THEN cid(respondent) WHEN 1 THEN sid(respondent)
                             ELSE eid(respondent) END,
        CASE WHEN seller >= 0 THEN sid(seller) END, $markets[market + 1],
        $languages[language + 1], answered_on, $questions[question + 1], score FROM src""",
    "tickets": """INSERT INTO tickets SELECT padded_id('T', ticket_num, 1000000000),
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
        padded_id('OX', order_num, 1000000000), cid(customer), sid(seller),
        ordered_at, money(amount_cents), units, $lines[line + 1], false,
        $channels[channel + 1] FROM src""",
    "marketing_spend": "INSERT INTO marketing_spend SELECT * FROM src",
    "leads": """INSERT INTO leads SELECT padded_id('L', lead_num, 1000000000), created,
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


#: Threads that generate tables while the connection inserts the ones made before them.
WORKERS = 2
#: Tables queued (generating or made) ahead of the one being inserted: bounds the memory.
AHEAD = 3


class _Writer:
    """Inserts tables in the order they were queued, while worker threads make the next ones.

    Each job is a function that returns a frame; a job may wait on an earlier job's result
    (the pool starts jobs in queue order, so the earlier one is running or done). Whatever
    depends on the connection (inserting, `step`) runs on the caller's thread, in queue order.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, params: dict, pool, say: Progress):
        self.con, self.params, self.pool, self.say = con, params, pool, say
        self.queue: deque[tuple[str, float, Callable[[], object]]] = deque()

    def job(self, fn: Callable, *args) -> Future:
        """Start ``fn(*args)`` on a worker now (for a result several tables need)."""
        return self.pool.submit(fn, *args)

    def add(
        self,
        table: str,
        make: Callable[[], pl.DataFrame] | Future,
        *,
        stage: str = "",
        done: float = 0.0,
        then: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    ) -> None:
        """Queue ``table``'s frame from ``make`` (run on a worker) for insertion."""
        fut = make if isinstance(make, Future) else self.pool.submit(make)

        def write() -> None:
            frame = fut.result()
            _load(self.con, table, frame if then is None else then(frame), self.params)

        self.step(write, stage=stage, done=done)

    def step(self, fn: Callable[[], object], *, stage: str = "", done: float = 0.0) -> None:
        """Queue ``fn`` to run on this thread once every table queued before it is inserted."""
        self.queue.append((stage, done, fn))
        while len(self.queue) > AHEAD:
            self._next()

    def finish(self) -> None:
        while self.queue:
            self._next()

    def _next(self) -> None:
        stage, done, fn = self.queue.popleft()
        if stage:
            self.say(stage, done)
        fn()


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
    pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="demo")
    # numpy asks the kernel for huge pages for every large array; where the kernel then
    # compacts memory to find them (defrag=madvise, a busy machine), the many short-lived
    # arrays here spent more time in the kernel than in numpy (sys 9 s against user 5 s for
    # the orders of 200,000 sellers). Plain pages for the build; the setting is restored after.
    huge = _set_madvise_hugepage(False)
    try:
        _fill(_Writer(con, params, pool, say), spec, cfg, ctx, seeds, rng, start, as_of)
    finally:
        _set_madvise_hugepage(huge)
        pool.shutdown(cancel_futures=True)
    say("writing", 0.97)


def _fill(out: _Writer, spec: DemoSpec, cfg: CompanyConfig, ctx, seeds, rng, start, as_of):
    say = out.say
    say("sellers", 0.0)
    f = make_field(rng[0], spec.sellers, start, as_of, ctx)
    seller_channel = _acquisition.seller_channels(spec.seed, f, cfg)
    customers = out.job(make_customers, rng[1], f, as_of, ctx)
    out.add("sellers", lambda: _sellers(f, seller_channel))
    # The training tables need only the field: made and inserted while the customers are drawn
    # (the order in which tables are inserted changes nothing in them).
    out.add("courses", _training.courses_frame, stage="training", done=0.02)
    done = out.job(_training.completions, rng[2], f, cfg)
    out.add("course_completions", done)
    out.add(
        "activities",
        lambda: _training.activities(rng[3], f, done.result(), cfg),
        stage="activities",
        done=0.03,
    )
    out.finish()

    def won() -> _acquisition.Acquisition:
        c = customers.result()
        return _acquisition.Acquisition(
            seller_channel, _acquisition.customer_channels(spec.seed, c, cfg)
        )

    acquisition = out.job(won)
    out.add(
        "customers",
        lambda: _customers(customers.result(), acquisition.result()),
        stage="customers",
        done=0.05,
    )
    # A generator of their own: every draw above is what it was before experiments existed.
    xrng = np.random.default_rng(
        np.random.SeedSequence([spec.seed, _experiments.EXPERIMENT_STREAM])
    )
    arms = _experiments.assignments(xrng, f, len(cfg.ranks))
    c = customers.result()
    # The planted reorders follow the first orders of the treatment sellers' customers: kept
    # from each block as it is drawn (a query of the inserted orders took 6.7 s at 1M sellers).
    watch = _experiments.watched(f, c, arms)
    numbers, firsts = OrderNumbers(), []

    def with_firsts(make: Callable[[], pl.DataFrame]) -> tuple[pl.DataFrame, pl.DataFrame]:
        frame = make()
        return frame, _experiments.first_orders(frame, watch)

    def number(made: tuple[pl.DataFrame, pl.DataFrame]) -> pl.DataFrame:
        firsts.append(made[1])
        return numbers(made[0])

    jobs = order_blocks(seeds[5], c, as_of, ctx)
    for i, make in enumerate(jobs):
        out.add(
            "orders",
            functools.partial(with_firsts, make),
            stage="orders",
            done=0.10 + 0.65 * i / len(jobs),
            then=number,
        )

    surveys = out.job(_experience.surveys, rng[4], f, c, as_of, ctx)
    out.add("survey_responses", surveys, stage="surveys and tickets", done=0.9)
    # The tickets draw from the surveys' generator after them.
    out.add("tickets", lambda: (surveys.result(), _experience.tickets(rng[4], f, c, as_of, ctx))[1])
    quarter = (spec.as_of.month - 1) // 3 + 1
    out.add("kpi_targets", lambda: _experience.kpi_targets(spec.as_of.year, quarter))
    out.add("experiment_assignments", lambda: arms, stage="experiments", done=0.95)

    def planted() -> None:  # once every block's first orders are in
        extra = _experiments.planted_orders(
            xrng, pl.concat(firsts), c, f, arms, as_of, ctx.one_time_line
        )
        _load(out.con, "experiment_orders", extra, out.params)

    out.step(planted)
    out.add(
        "marketing_spend", lambda: _acquisition.spend(spec.seed, f, c, acquisition.result(), cfg)
    )
    out.add("leads", lambda: _acquisition.leads(spec.seed, f, c, acquisition.result(), cfg, as_of))
    out.finish()


def _sellers(f, seller_channel: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame(
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
    )


def _customers(c, won: _acquisition.Acquisition) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer": np.arange(c.n),
            "seller": c.seller,
            "market": c.market,
            "language": c.language,
            "acquired_on": _dates(c.acquired),
            "consent": c.consent,
            "achannel": won.customer_channel,
        }
    )


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
