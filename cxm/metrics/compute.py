"""KPI values for a segment and period, each with its base count ``n``.

`compute` sums the measures of the seller base (``cxm.segments.sql``) over the requested
breakdown in one SQL query, then combines them per KPI kind. Every function that reads the
warehouse takes the user's company (`cxm.warehouse.scoped.Scoped`): its tables are already cut
to the user's markets, so no SQL here carries the scope.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

import duckdb
import polars as pl

from cxm.access import OutOfScope, Scope
from cxm.config import CompanyConfig
from cxm.errors import BadFilter, WarehouseMissing
from cxm.metrics import acquisition, stats
from cxm.metrics.kpis import DERIVED_MEASURES, LIST_MEASURES, Kpi, get
from cxm.segments.filter import SELLER_DIMENSIONS, Dimension, SegmentFilter, parse_dimension
from cxm.segments.periods import Period
from cxm.segments.sql import (
    CUSTOMER_QUESTIONS,
    LINE_BUYERS,
    SELLER_BASE,
    SELLER_QUESTIONS,
    SERVICE_BASE,
    SERVICE_MEASURES,
    STORED_SEGMENTS,
    Window,
    filter_params,
)
from cxm.warehouse.scoped import Scoped

#: A median's values as a SQL list over the seller base, and the scale applied to them (its
#: order-statistic interval is read from the same sorted list; see `stats.median_bounds_sql`).
MEDIAN_VALUES = {"first_response_hours": ("flatten(list(response_minutes))", 60.0)}

#: The survey questions corporate answers are compared on, per side of the gap.
GAP_QUESTIONS = {"customer": CUSTOMER_QUESTIONS, "seller": SELLER_QUESTIONS}


@dataclass(frozen=True)
class DataRange:
    """The days the loaded data covers: first enrolment to the data's as-of date.

    ``loaded_to`` is set when ``as_of`` is a day before the end of what is loaded (a compared
    span seen as of its own last day, `cxm.metrics.report.comparison`): a window cut inside a
    month then reads that month from the raw tables (`cxm.segments.cut`).
    """

    first_on: dt.date
    as_of: dt.date
    loaded_to: dt.date | None = None
    #: The as-of date of the sellers' segments the load stored (`segments.sql.STORED_SEGMENTS`).
    segments_as_of: dt.date | None = None


def data_range(company: Scoped) -> DataRange:
    """Return the loaded data's first day and as-of date (the newest load's).

    Raises
    ------
    WarehouseMissing
        When the warehouse holds no sellers or no seller facts (built before facts existed),
        or facts of an earlier shape (a product-line fact by month, not by day).
    """
    con = company.con
    try:
        first, last = con.execute(
            "SELECT min(enrolled_on), max(enrolled_on) FROM sellers"
        ).fetchall()[0]
        as_of = con.execute(
            "SELECT data_as_of FROM cxm_loads ORDER BY loaded_at DESC LIMIT 1"
        ).fetchall()
        con.execute("SELECT 1 FROM fact_seller_months LIMIT 1").fetchall()
    except duckdb.CatalogException as exc:
        raise WarehouseMissing(
            "The warehouse has no seller facts yet; rebuild it with `cxm demo` or load it "
            "again with `cxm import DIR`."
        ) from exc
    try:
        # Kept by day since the line reorder window closed (issue 19); by month before.
        con.execute("SELECT first_on FROM fact_line_buyers LIMIT 1").fetchall()
    except (duckdb.CatalogException, duckdb.BinderException) as exc:
        raise WarehouseMissing(
            "The warehouse's facts were built by an earlier cxm (fact_line_buyers has no "
            "first_on); rebuild it with `cxm demo` or load it again with `cxm import DIR`."
        ) from exc
    if first is None:
        raise WarehouseMissing("The warehouse holds no sellers yet; load some with `cxm import`.")
    try:
        stored = con.execute(f"SELECT min(as_of) FROM {STORED_SEGMENTS}").fetchall()[0][0]
    except duckdb.CatalogException as exc:
        raise WarehouseMissing(
            f"The warehouse was loaded by an earlier cxm (no {STORED_SEGMENTS}); rebuild it "
            "with `cxm demo` or load it again with `cxm import DIR`."
        ) from exc
    return DataRange(
        first_on=first,
        as_of=(as_of[0][0] if as_of and as_of[0][0] else last),
        segments_as_of=stored,
    )


def window(where: SegmentFilter, data: DataRange) -> Window:
    """Return the dates ``where`` asks for, checked against the data.

    Raises
    ------
    BadFilter
        ``period_outside_data`` when the period does not overlap the data;
        ``as_of_outside_data`` / ``as_of_not_month_end`` for an unusable as-of date.
    """
    as_of = data.as_of
    if where.as_of is not None:
        if not data.first_on <= where.as_of <= data.as_of:
            raise BadFilter(
                "as_of",
                where.as_of,
                "as_of_outside_data",
                f"is outside the data, which runs from {data.first_on} to {data.as_of}",
            )
        month_end = Period.month_of(where.as_of).end
        if where.as_of not in (month_end, data.as_of):
            raise BadFilter(
                "as_of",
                where.as_of,
                "as_of_not_month_end",
                f"is not a month's last day; use {month_end} or the data's as-of date {data.as_of}",
            )
        as_of = where.as_of
    p = where.period
    if p.start > as_of or p.end < data.first_on:
        raise BadFilter(
            "period",
            p.label(),
            "period_outside_data",
            f"has no data: the data runs from {data.first_on} to {as_of}",
        )
    win = replace(Window.of(p, as_of), stored=data.segments_as_of)
    if data.loaded_to and win.as_of < min(data.loaded_to, Period.month_of(win.as_of).end):
        return replace(win, cut=win.as_of.replace(day=1))  # the facts hold later days
    return win


def check_scope(where: SegmentFilter, scope: Scope) -> None:
    """Raise `OutOfScope` when the filter names a market outside the user's scope."""
    outside = [m for m in where.markets if not scope.allows(m)]
    if outside:
        raise OutOfScope(
            f'market: "{outside[0]}" is outside your scope ({scope.describe()}) [out_of_scope].'
        )


#: The most dimensions one breakdown takes (rank x market x language).
MAX_DIMENSIONS = 3


def breakdowns(kpi: Kpi) -> tuple[str, ...]:
    """Return the dimensions `compute` breaks ``kpi`` down by (any other is refused).

    A seller KPI splits by the seller's segments; a product-line KPI by those and the product
    line; an acquisition KPI by what its sums are known by (`acquisition.splits`).

    >>> breakdowns(get("cac")), breakdowns(get("active_rate"))[:2]
    (('market', 'channel'), ('rank', 'market'))
    """
    if kpi.grain == "acquisition":
        return acquisition.splits(kpi)
    seller = tuple(d.value for d in SELLER_DIMENSIONS)
    return (*seller, Dimension.PRODUCT_LINE.value) if kpi.grain == "product_line" else seller


def _dims(by: Sequence[Dimension | str], limit: int = MAX_DIMENSIONS) -> list[str]:
    dims = [parse_dimension(str(d)).value for d in by]
    if len(dims) > limit:
        raise BadFilter(
            "by",
            ", ".join(dims),
            "too_many_dimensions",
            f"is more than {limit} dimensions at once",
        )
    return dims


def measure_sums(
    company: Scoped,
    measures: Sequence[str],
    *,
    by: Sequence[Dimension | str],
    where: SegmentFilter,
    cfg: CompanyConfig,
    win: Window,
) -> pl.DataFrame:
    """Return the sum of each seller-base measure per segment (one row per group).

    The column ``sellers`` counts the sellers in each group. Measure and dimension names come
    from the registry and the `Dimension` enum only.
    """
    dims = tuple(_dims(by, limit=len(Dimension)))
    return measure_sums_many(company, measures, bys=[dims], where=where, cfg=cfg, win=win)[dims]


def measure_columns(measures: Sequence[str]) -> tuple[list[str], list[str]]:
    """Return the seller-base columns ``measures`` sum and their moment columns, in the order
    `measure_sums` gives them (a derived measure's parts; no list measure).

    >>> measure_columns(["net_recruits", "sq__orders", "orders"])
    (['orders', 'enrollments', 'recruits_left'], ['sq__orders'])
    """
    extra = sorted({m for m in measures if stats.is_moment(m)})
    cols = sorted({m for m in measures if m not in DERIVED_MEASURES | LIST_MEASURES} - set(extra))
    cols += sorted({c for m in measures for c in DERIVED_MEASURES.get(m, ())} - set(cols))
    return cols, extra


def measure_sums_many(
    company: Scoped,
    measures: Sequence[str],
    *,
    bys: Sequence[Sequence[str]],
    where: SegmentFilter,
    cfg: CompanyConfig,
    win: Window,
) -> dict[tuple[str, ...], pl.DataFrame]:
    """Return `measure_sums` for several breakdowns from ONE pass over the seller base.

    The breakdowns become SQL grouping sets, so the Overview's totals, markets and ranks cost
    one scan of the base, not three.
    """
    sets = list(dict.fromkeys(tuple(_dims(b, limit=len(Dimension))) for b in bys))
    dims = list(dict.fromkeys(d for b in sets for d in b))
    cols, extra = measure_columns(measures)
    lists = sorted({m for m in measures if m in LIST_MEASURES})
    bounds = {
        f"bounds__{m}": stats.median_bounds_sql(MEDIAN_VALUES[m][0])
        for m in lists
        if m in MEDIAN_VALUES
    }
    select = ", ".join(
        [
            *dims,
            *(f"grouping({d}) AS g_{d}" for d in dims),
            "count(*) AS sellers",
            *(f"sum({c}) AS {c}" for c in cols),
            *(f"{stats.moment_sql(m)} AS {m}" for m in extra),
            *(f"{LIST_MEASURES[m]} AS {m}" for m in lists),
            *(f"{sql} AS {name}" for name, sql in bounds.items()),
        ]
    )
    grouping = ", ".join(f"({', '.join(b)})" for b in sets)
    group = f" GROUP BY GROUPING SETS ({grouping})" if dims else ""
    # Service measures only (the median first response): the lean base with the tickets
    # joined, not the twelve joins of every measure (the same rows and values).
    lean = set(cols) | {"response_minutes" for _ in lists} <= set(SERVICE_MEASURES) | {"live"}
    sql = f"SELECT {select} FROM ({SERVICE_BASE if lean else SELLER_BASE}) b{group}"
    params = {**win.params(), **filter_params(where, cfg)}
    out = company.con.sql(sql, params={k: v for k, v in params.items() if f"${k}" in sql}).pl()
    for name, (plus, less) in DERIVED_MEASURES.items():
        if name in measures:
            out = out.with_columns((pl.col(plus) - pl.col(less)).alias(name))
    for name in bounds:  # the median's interval: lo__ and hi__, in the median's own scale
        m = name.removeprefix("bounds__")
        out = out.with_columns(
            (pl.col(name).list.get(i, null_on_oob=True) / MEDIAN_VALUES[m][1]).alias(f"{side}__{m}")
            for i, side in enumerate(("lo", "hi"))
        ).drop(name)
    out = out.with_columns(
        pl.col(c).cast(pl.Float64)
        for c in out.columns
        if c in cols or c in lists or c in extra or c.startswith(("lo__", "hi__"))
    )
    result = {}
    for b in sets:
        # grouping(d) is 0 when d is one of the set's columns, 1 when it is rolled up.
        mine = pl.all_horizontal(
            [pl.lit(True), *((pl.col(f"g_{d}") == (0 if d in b else 1)) for d in dims)]
        )
        part = out.filter(mine).drop([f"g_{d}" for d in dims], *[d for d in dims if d not in b])
        result[b] = part.sort(list(b)) if b else part
    return result


def _corporate(con, kpi: Kpi, dims, where, win) -> pl.DataFrame:
    questions = list(GAP_QUESTIONS[kpi.corporate])
    sql = """
        SELECT market, count(*) AS corporate_n,
               sum(CASE WHEN score = 5 THEN 1 ELSE 0 END) AS corporate_top_box
        FROM fact_answers
        WHERE respondent_type = 'corporate' AND list_contains($questions, question)
          AND answered_on BETWEEN $start AND $end
          AND ($f_markets IS NULL OR list_contains($f_markets, market))
        GROUP BY market"""
    params = {
        "questions": questions,
        "start": win.start,
        "end": win.end,
        "f_markets": list(where.markets) or None,
    }
    per_market = (
        con.sql(sql, params=params)
        .pl()
        .with_columns(
            pl.col("corporate_n").cast(pl.Float64), pl.col("corporate_top_box").cast(pl.Float64)
        )
    )
    if "market" in dims:
        return per_market
    return per_market.select(pl.sum("corporate_n"), pl.sum("corporate_top_box"))


def _value(kpi: Kpi, sums: pl.DataFrame) -> tuple[pl.Expr, pl.Expr]:
    num = pl.col(kpi.numerator)
    den = pl.col(kpi.denominator) if kpi.denominator else None
    n = pl.col(kpi.base) if kpi.base else den
    safe = (lambda e: pl.when(den > 0).then(e)) if den is not None else (lambda e: e)
    if kpi.kind in ("count", "sum"):
        if kpi.latest_only:  # no customers scored on this date: no value, not zero
            return pl.when(n > 0).then(num), n
        return num, n if n is not None else num
    if kpi.kind == "ratio":
        return safe(num / den), n
    if kpi.kind == "nps":
        return safe(100 * (num - pl.col(kpi.minus)) / den), n
    if kpi.kind == "median":
        return num, n
    if kpi.kind == "gap":
        corporate = pl.when(pl.col("corporate_n") > 0).then(
            pl.col("corporate_top_box") / pl.col("corporate_n")
        )
        return safe(100 * (corporate - num / den)), n
    raise AssertionError(kpi.kind)


def compute(
    company: Scoped,
    kpi_ids: Sequence[str],
    *,
    by: Sequence[Dimension | str] = (),
    where: SegmentFilter,
    cfg: CompanyConfig,
    data: DataRange | None = None,
    use_cube: bool = True,
) -> pl.DataFrame:
    """Return one row per segment and KPI: the dimensions, ``kpi_id``, ``value``, ``n``.

    ``value`` is in the KPI's unit (shares 0..1, NPS -100..100, gaps in pp, amounts in
    the company currency); it is null where the denominator is 0 (no answers, no sellers),
    never 0. ``n`` is the base count: the denominator's sum for ratios, the answers for NPS
    and gaps, the tickets with a response for the median. ``small`` marks n under the
    company's minimum (``min_n`` in the configuration). ``se``, ``ci_low`` and ``ci_high``
    are the value's standard error and 95% interval in the same unit (`cxm.metrics.stats`
    names the method per KPI kind), null where the value is null or n is 0.

    Raises
    ------
    BadFilter
        For an unknown KPI, dimension, market, rank, language or a period outside the data.
    OutOfScope
        When the filter names a market outside the user's scope.
    """
    dims = tuple(_dims(by))
    return compute_many(
        company, kpi_ids, bys=[dims], where=where, cfg=cfg, data=data, use_cube=use_cube
    )[dims]


def compute_many(
    company: Scoped,
    kpi_ids: Sequence[str],
    *,
    bys: Sequence[Sequence[Dimension | str]],
    where: SegmentFilter,
    cfg: CompanyConfig,
    data: DataRange | None = None,
    use_cube: bool = True,
) -> dict[tuple[str, ...], pl.DataFrame]:
    """Return `compute` for several breakdowns at once, keyed by the breakdown's dimensions.

    One pass over the seller base serves every breakdown (SQL grouping sets). A month the
    monthly cube holds, asked for by cube dimensions and filters only, is read from the cube
    instead (the same numbers, ``tests/test_cube.py``; ``use_cube=False`` forces the base).
    """
    kpis = [get(k) for k in dict.fromkeys(kpi_ids)]
    where.check(cfg)
    check_scope(where, company.scope)
    con = company.con
    sets = list(dict.fromkeys(tuple(_dims(b)) for b in bys))
    win = window(where, data or data_range(company))
    lines = [k for k in kpis if k.grain == "product_line"]
    sellers = [k for k in kpis if k.grain == "seller"]
    acquired = [k for k in kpis if k.grain == "acquisition"]
    for b in sets:
        acquisition.check(acquired, b, where)
    if lines and not any("product_line" in b for b in sets):
        # By seller segments only, a product-line KPI's sums are seller-base columns too:
        # one pass over the base serves both (its own query joins the base a second time).
        sellers, lines = sellers + lines, []
    for dim, what in (("product_line", "product-line"), ("channel", "acquisition")):
        if sellers and any(dim in b for b in sets):
            raise BadFilter(
                "by",
                dim,
                "unknown_dimension",
                f"applies only to {what} KPIs, not to {sellers[0].id}",
            )
    frames: dict[tuple[str, ...], list[pl.DataFrame]] = {b: [] for b in sets}
    cubed = [k for k in sellers if k.kind != "median"]  # a median needs every value
    split = False
    if use_cube and cubed and not lines and not acquired:
        # Imported here: the cube is built with this module's functions.
        from cxm.metrics import cube

        if cube.answers(company, cubed, sets, where):
            read = {
                b: cube.trend(company, cubed, [where.period], by=b, where=where, cfg=cfg).drop(
                    "month"
                )
                for b in sets
            }
            # A segment nobody is in has no cube rows; the base gives its total row (n 0).
            if not (() in read and read[()].is_empty()):
                if len(cubed) == len(sellers):
                    return read
                for b in sets:  # the medians alone from the base, below
                    frames[b].append(read[b])
                sellers, split = [k for k in sellers if k.kind == "median"], True
    if sellers:
        sums = measure_sums_many(
            company,
            [m for k in sellers for m in (*k.measures, *stats.moments(k))],
            bys=sets,
            where=where,
            cfg=cfg,
            win=win,
        )
        for b in sets:
            frames[b].append(
                kpi_rows(
                    sellers,
                    sums[b],
                    list(b),
                    cfg,
                    lambda kpi, b=b: _corporate(con, kpi, list(b), where, win),
                )
            )
    for b in sets if lines else ():
        frames[b].append(
            kpi_rows(lines, _line_sums(con, list(b), where, cfg, win), list(b), cfg, None)
        )
    for b in sets if acquired else ():
        sums = acquisition.sums(company, list(b), where, cfg, win)
        frames[b].append(kpi_rows(acquired, sums, list(b), cfg, None))
    out = {b: pl.concat(parts, how="vertical_relaxed") for b, parts in frames.items()}
    if split:  # the rows in the KPIs' order, as the base alone gives them
        order = {k.id: i for i, k in enumerate(kpis)}
        key = pl.col("kpi_id").replace_strict(order, return_dtype=pl.Int64)
        out = {b: o.sort(key, maintain_order=True) for b, o in out.items()}
    return out


def _line_sums(con, dims, where, cfg, win) -> pl.DataFrame:
    cols = [f"l.{d}" if d == "product_line" else f"b.{d}" for d in dims]
    select = "".join(f"{c} AS {d}, " for c, d in zip(cols, dims, strict=True))
    group = f"GROUP BY {', '.join(cols)} ORDER BY {', '.join(cols)}" if dims else ""
    sql = LINE_BUYERS.format(select=select, group=group)
    params = {**win.params(), **filter_params(where, cfg)}
    out = con.sql(sql, params={k: v for k, v in params.items() if f"${k}" in sql}).pl()
    sums = ("line_buyers", "line_rebuyers", "line_buyers_open")
    return out.with_columns(pl.col(c).cast(pl.Float64) for c in sums)


def kpi_rows(kpis, sums: pl.DataFrame, keys: list[str], cfg: CompanyConfig, corporate):
    """Return the KPI rows (keys, kpi_id, value, n, se, ci_low, ci_high, small) from sums.

    ``corporate(kpi)`` returns the corporate top-box counts a gap KPI needs, keyed by
    ``market`` when that is one of ``keys`` (and by ``month`` when that is).
    """
    frames = []
    for kpi in kpis:
        part = sums
        if kpi.kind == "gap":
            corp = corporate(kpi)
            on = [k for k in ("month", "market") if k in keys and k in corp.columns]
            part = sums.join(corp, on=on, how="left") if on else sums.join(corp, how="cross")
        value, n = _value(kpi, part)
        se, low, high = stats.intervals(kpi, part)
        known = value.is_not_null() & (n.fill_null(0) > 0)
        frames.append(
            part.select(
                *keys,
                pl.lit(kpi.id).alias("kpi_id"),
                value.cast(pl.Float64).alias("value"),
                n.cast(pl.Float64).fill_null(0).alias("n"),
                # Subjects whose observation window is still open: not in n (cxm.state.windows).
                (pl.col(kpi.open) if kpi.open else pl.lit(None)).cast(pl.Int64).alias("open"),
                *(
                    pl.when(known).then(pl.Series(name, v).fill_nan(None)).alias(name)
                    for name, v in (("se", se), ("ci_low", low), ("ci_high", high))
                ),
            )
        )
    out = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    return out.with_columns(pl.col("n").cast(pl.Int64), (pl.col("n") < cfg.min_n).alias("small"))


def one(
    company: Scoped, kpi_id: str, *, where: SegmentFilter, cfg: CompanyConfig
) -> tuple[float | None, int]:
    """Return (value, n) of one KPI for the whole segment."""
    row = compute(company, [kpi_id], where=where, cfg=cfg).row(0, named=True)
    return row["value"], row["n"]
