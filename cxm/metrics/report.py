"""KPIs with their context: previous period, target, company average, and monthly trend.

`segment_report` is what the Overview tiles, the KPIs-by-segment page and (later) the exports
read: one row per segment and KPI with value, n, small, previous, change, company, target.
`comparison` says what "previous" is, like for like (`cxm.segments.periods.compared_span`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import duckdb
import polars as pl

from cxm.config import CompanyConfig
from cxm.errors import BadFilter
from cxm.metrics import cube, stats
from cxm.metrics.compute import DataRange, check_scope, compute, compute_many, data_range
from cxm.metrics.kpis import get
from cxm.metrics.targets import target_of, targets_for
from cxm.segments.filter import Dimension, SegmentFilter, parse_dimension
from cxm.segments.periods import COMPARE_WORDS, Period, Span, compared_span
from cxm.warehouse.scoped import Scoped

_KEYS = ["kpi_id"]


@dataclass(frozen=True)
class Comparison:
    """What a report's numbers cover and what their change is measured against.

    ``current`` is the period up to the as-of date; ``previous`` the like-for-like span of the
    comparison period (`compared_span`), or None when the data does not reach back to it.
    ``why_none`` says why there is no comparison, in words, when there is none.
    """

    compare: str
    current: Span
    previous: Span | None
    why_none: str | None = None

    @property
    def partial(self) -> bool:
        """Return whether the data stop inside the period (a period "to date")."""
        return self.current.partial

    @property
    def current_label(self) -> str:
        """Return the current span in words: "Q4 2026 to date (1–31 Oct)", "Q3 2026"."""
        return self.current.label()

    @property
    def previous_label(self) -> str:
        """Return the compared span in words: "Q3 2026 (1–31 Jul)", "Q2 2026"; or why none."""
        if self.previous is None:
            return self.why_none or "no comparison"
        return self.previous.label(to_date=False, days=self.partial)

    def sentence(self) -> str:
        """Return the comparison in one line, for captions, files and the command line.

        >>> import datetime as dt
        >>> c = Comparison("previous", Span(period=Period.parse("2026-Q4"),
        ...     end=dt.date(2026, 10, 31)), Span(period=Period.parse("2026-Q3"),
        ...     end=dt.date(2026, 7, 31)))
        >>> c.sentence()
        'Q4 2026 to date (1–31 Oct) vs Q3 2026 (1–31 Jul), the same days of the previous period'
        """
        if self.previous is None:
            return f"{self.current_label}; {self.previous_label}"
        words = {
            ("previous", False): "the previous period",
            ("previous", True): "the same days of the previous period",
            ("year", False): COMPARE_WORDS["year"],
            ("year", True): f"the same days {COMPARE_WORDS['year']}",
        }[self.compare, self.partial]
        return f"{self.current_label} vs {self.previous_label}, {words}"

    def previous_filter(self, where: SegmentFilter) -> SegmentFilter | None:
        """Return ``where`` for the compared span (its as-of the span's last day), or None."""
        if self.previous is None:
            return None
        as_of = self.previous.end if self.previous.partial else None
        return where.with_period(self.previous.period, as_of)


def comparison(where: SegmentFilter, data: DataRange) -> Comparison:
    """Return what ``where``'s numbers cover and what they are compared with.

    The current span is the period up to ``where.as_of`` (else the data's as-of date); the
    compared span follows `compared_span` for ``where.compare``. There is no comparison when
    the compared span ends before the data starts. A period with no data at all raises
    `BadFilter` (``period_outside_data``), as `compute` does. A compared span is seen as of
    its own last day (`data_for`), one that ends inside a month with that month's days read
    from the raw tables (`cxm.segments.cut`).

    >>> import datetime as dt
    >>> data = DataRange(first_on=dt.date(2024, 1, 1), as_of=dt.date(2026, 10, 31))
    >>> c = comparison(SegmentFilter(period=Period.parse("2026")), data)
    >>> c.partial, c.current_label, c.previous_label
    (True, '2026 to date (1 Jan–31 Oct)', '2025 (1 Jan–31 Oct)')
    """
    as_of = min(where.as_of or data.as_of, data.as_of)
    if where.period.start > as_of or where.period.end < data.first_on:
        raise BadFilter(
            "period",
            where.period.label(),
            "period_outside_data",
            f"has no data: the data runs from {data.first_on} to {as_of}",
        )
    current = Span.of(where.period, as_of)
    other = compared_span(current, where.compare)
    if other.end < data.first_on:
        why = f"no comparison: the data starts on {data.first_on.isoformat()}"
        return Comparison(where.compare, current, None, why)
    return Comparison(where.compare, current, other)


def data_for(comparison: Comparison, data: DataRange) -> DataRange:
    """Return the data as the compared span sees it: up to its last day when it is partial.

    >>> import datetime as dt
    >>> data = DataRange(first_on=dt.date(2024, 1, 1), as_of=dt.date(2026, 10, 15))
    >>> c = comparison(SegmentFilter(period=Period.parse("2026-10")), data)
    >>> data_for(c, data).as_of, data_for(c, data).loaded_to
    (datetime.date(2026, 9, 15), datetime.date(2026, 10, 15))
    """
    if comparison.previous is None or not comparison.previous.partial:
        return data
    return replace(data, as_of=comparison.previous.end, loaded_to=data.as_of)


def segment_report(
    company: Scoped,
    kpi_ids: Sequence[str],
    *,
    by: Sequence[Dimension | str] = (),
    where: SegmentFilter,
    cfg: CompanyConfig,
) -> pl.DataFrame:
    """Return KPIs x segments with value, n, small, previous, change, company and target.

    ``previous`` is the same segment in the compared span, like for like (`comparison`: the
    period before or a year earlier; for a period "to date", the same elapsed days of it),
    null when there is none; ``change`` is value minus previous, in the KPI's unit (shares as
    0..1, so a change of 0.021 reads +2.1 pp); ``company`` is the KPI for every seller in the
    user's company, same period; ``target`` is the most specific `kpi_targets` row that applies
    (a segment target over the company-wide one), else null.

    Raises
    ------
    BadFilter, OutOfScope
        As `compute` does.
    """
    dims = tuple(Dimension(str(d)).value for d in by)
    return segment_reports(company, kpi_ids, bys=[dims], where=where, cfg=cfg)[dims]


def segment_reports(
    company: Scoped,
    kpi_ids: Sequence[str],
    *,
    bys: Sequence[Sequence[Dimension | str]],
    where: SegmentFilter,
    cfg: CompanyConfig,
) -> dict[tuple[str, ...], pl.DataFrame]:
    """Return `segment_report` for several breakdowns, from two passes over the seller base
    (this period and the one before; a third when the filter narrows the company)."""
    data = data_range(company)
    sets = [tuple(Dimension(str(d)).value for d in b) for b in bys]
    everyone = where.is_everyone()
    wanted = [*sets, ()] if everyone else sets
    current = compute_many(company, kpi_ids, bys=wanted, where=where, cfg=cfg, data=data)
    compared = comparison(where, data)
    previous = _previous(
        company, kpi_ids, sets, compared.previous_filter(where), cfg, data_for(compared, data)
    )
    company_rows = (
        current[()]
        if everyone
        else compute(company, kpi_ids, where=where.segment_only(), cfg=cfg, data=data)
    )
    whole = company_rows.select("kpi_id", pl.col("value").alias("company"))
    targets = targets_for(company, where.period, cfg)
    out = {}
    for b in sets:
        keys = [*b, *_KEYS]
        rows = (
            current[b].join(previous[b], on=keys, how="left").join(whole, on="kpi_id", how="left")
        )
        rows = rows.with_columns(
            (pl.col("value") - pl.col("previous")).alias("change"),
            *stats.change_test("value", "se", "previous", "previous_se"),
            pl.Series(
                "target",
                [target_of(targets, r["kpi_id"], r, where) for r in rows.iter_rows(named=True)],
                dtype=pl.Float64,
            ),
        )
        out[b] = rows.select(
            *b,
            "kpi_id",
            "value",
            "n",
            "small",
            "previous",
            "change",
            "company",
            "target",
            "open",  # observation windows still open (cxm.state.windows)
            *("se", "ci_low", "ci_high", "previous_n", "previous_se", "change_p", "clear_change"),
        )
    return out


def _previous(company, kpi_ids, sets, before: SegmentFilter | None, cfg, data) -> dict:
    prev = None
    if before is not None:
        try:
            prev = compute_many(company, kpi_ids, bys=sets, where=before, cfg=cfg, data=data)
        except BadFilter as exc:
            if exc.code != "period_outside_data":
                raise
    if prev is None:  # no comparison: every previous value is null
        prev = {
            b: pl.DataFrame(
                schema={
                    **{d: pl.String for d in b},
                    "kpi_id": pl.String,
                    "value": pl.Float64,
                    "se": pl.Float64,
                    "n": pl.Int64,
                }
            )
            for b in sets
        }
    return {
        b: p.select(
            *b,
            "kpi_id",
            pl.col("value").alias("previous"),
            pl.col("se").alias("previous_se"),
            pl.col("n").alias("previous_n"),
        )
        for b, p in prev.items()
    }


def trend(
    company: Scoped,
    kpi_ids: Sequence[str],
    *,
    months: int = 12,
    by: Sequence[Dimension | str] = (),
    where: SegmentFilter,
    cfg: CompanyConfig,
) -> pl.DataFrame:
    """Return each KPI month by month: the months up to the end of ``where``'s period.

    One row per month (``month``, its first day), segment and KPI, with value, n and
    ``partial``: true for a month the data stops inside (its sums are "to date", say so on
    the chart). Months before the data starts are left out.
    """
    data = data_range(company)
    kpis = [get(k) for k in dict.fromkeys(kpi_ids)]
    dims = [parse_dimension(str(d)).value for d in by]
    where.check(cfg)
    check_scope(where, company.scope)
    months = cube.months_up_to(where.period.end, data, months)
    if (
        cube.covers(kpis, dims, where)
        and _in_cube(company.con, months)
        and cube.holds(company, kpis)
    ):
        out = cube.trend(company, kpis, months, by=dims, where=where, cfg=cfg)
    else:
        frames = [
            compute(
                company, kpi_ids, by=dims, where=where.with_period(m), cfg=cfg, data=data
            ).with_columns(pl.lit(m.start).alias("month"))
            for m in months
        ]
        if not frames:
            return pl.DataFrame()
        out = pl.concat(frames, how="vertical_relaxed")
    partial = [m.start for m in months if m.end > data.as_of]
    return out.with_columns(pl.col("month").is_in(partial).alias("partial"))


def _in_cube(con: duckdb.DuckDBPyConnection, months: list[Period]) -> bool:
    if not months:
        return False
    try:
        first = con.execute(f"SELECT min(month) FROM {cube.TABLE}").fetchall()[0][0]
    except duckdb.CatalogException:
        return False
    return first is not None and first <= months[0].start
