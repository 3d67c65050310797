"""The pages' calls into `cxm.metrics`, cached per warehouse file, user scope and filter.

Every cached function takes the warehouse generation (which changes when a load swaps the
file in), so a new load is never served stale numbers, and the scope, so one user's numbers
are never served to another. Results are plain Polars frames or dicts. A computation that
takes ``CXM_SLOW_QUERY_MS`` or longer is logged (``event=slow_query``, `cxm.logs`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl
import streamlit as st

from cxm.access import Scope
from cxm.config import CompanyConfig, load_config
from cxm.logs import slow_logged
from cxm.metrics import cohorts, experience, holdout, report, value
from cxm.metrics.compute import DataRange, data_range
from cxm.segments.filter import SegmentFilter
from cxm.ui import warehouse
from cxm.warehouse import store

_CACHE = dict(ttl=3600, max_entries=256, show_spinner=False)


def _cached(fn: Callable) -> Callable:
    """Return ``fn`` cached per arguments, a computation (a cache miss) that takes
    ``CXM_SLOW_QUERY_MS`` or longer logged as ``slow_query``."""
    return st.cache_data(**_CACHE)(slow_logged(fn))


def _gen() -> tuple:
    return warehouse.generation_key()


def config() -> CompanyConfig:
    """Return the company configuration in force."""
    return load_config()


@_cached
def _data_range(gen: tuple, scope: Scope) -> DataRange:
    return data_range(warehouse.company(scope))


def data(scope: Scope) -> DataRange:
    """Return the first day and as-of date of the data of the user's company."""
    return _data_range(_gen(), scope)


@_cached
def _last_load(gen: tuple) -> tuple[str, object] | None:
    load = store.last_load(warehouse.cursor())
    return None if load is None else (str(load["kind"]), load["loaded_at"])


def last_load() -> tuple[str, object] | None:
    """Return the newest load's kind ("demo", "import") and time, or None.

    Only those two: a load's ``source`` is a path on the server, which no page but the admins'
    Data page shows.
    """
    return _last_load(_gen())


@_cached
def _report(gen, kpis: tuple, by: tuple, where: SegmentFilter, scope: Scope) -> pl.DataFrame:
    return report.segment_report(warehouse.company(scope), kpis, by=by, where=where, cfg=config())


def segment_report(
    kpis: Sequence[str], *, by: Sequence[str] = (), where: SegmentFilter, scope: Scope
) -> pl.DataFrame:
    """Return `cxm.metrics.report.segment_report` for the current warehouse (cached)."""
    return _report(_gen(), tuple(kpis), tuple(by), where, scope)


@_cached
def _reports(gen, kpis: tuple, bys: tuple, where: SegmentFilter, scope: Scope) -> dict:
    return report.segment_reports(
        warehouse.company(scope), kpis, bys=bys, where=where, cfg=config()
    )


def segment_reports(
    kpis: Sequence[str], *, bys: Sequence[Sequence[str]], where: SegmentFilter, scope: Scope
) -> dict[tuple[str, ...], pl.DataFrame]:
    """Return `cxm.metrics.report.segment_reports` (cached): one scan, several breakdowns."""
    return _reports(_gen(), tuple(kpis), tuple(tuple(b) for b in bys), where, scope)


@_cached
def _trend(
    gen, kpis: tuple, months: int, by: tuple, where: SegmentFilter, scope: Scope
) -> pl.DataFrame:
    return report.trend(
        warehouse.company(scope), kpis, months=months, by=by, where=where, cfg=config()
    )


def trend(
    kpis: Sequence[str],
    *,
    months: int = 12,
    by: Sequence[str] = (),
    where: SegmentFilter,
    scope: Scope,
) -> pl.DataFrame:
    """Return `cxm.metrics.report.trend` for the current warehouse (cached)."""
    return _trend(_gen(), tuple(kpis), months, tuple(by), where, scope)


@_cached
def _gaps(gen, by: tuple, where: SegmentFilter, scope: Scope) -> pl.DataFrame:
    return experience.attribute_gaps(warehouse.company(scope), by=by, where=where, cfg=config())


def attribute_gaps(*, by: Sequence[str] = (), where: SegmentFilter, scope: Scope) -> pl.DataFrame:
    """Return `cxm.metrics.experience.attribute_gaps` (cached)."""
    return _gaps(_gen(), tuple(by), where, scope)


@_cached
def _drivers(gen, where: SegmentFilter, scope: Scope) -> pl.DataFrame:
    return experience.drivers(warehouse.company(scope), where=where, cfg=config())


def drivers(*, where: SegmentFilter, scope: Scope) -> pl.DataFrame:
    """Return `cxm.metrics.experience.drivers` (cached)."""
    return _drivers(_gen(), where, scope)


@_cached
def _curves(gen, grain: str, where: SegmentFilter, scope: Scope) -> pl.DataFrame:
    return cohorts.retention_curves(
        warehouse.company(scope), grain=grain, where=where, cfg=config()
    )


def retention_curves(*, grain: str, where: SegmentFilter, scope: Scope) -> pl.DataFrame:
    """Return `cxm.metrics.cohorts.retention_curves` (cached)."""
    return _curves(_gen(), grain, where, scope)


@_cached
def _funnel(gen, where: SegmentFilter, scope: Scope) -> dict:
    return cohorts.fast_start_funnel(warehouse.company(scope), where=where, cfg=config())


def fast_start_funnel(*, where: SegmentFilter, scope: Scope) -> dict:
    """Return `cxm.metrics.cohorts.fast_start_funnel` (cached)."""
    return _funnel(_gen(), where, scope)


@_cached
def _at_risk(gen, where: SegmentFilter, scope: Scope) -> cohorts.DownlineAtRisk:
    return cohorts.downline_at_risk(warehouse.company(scope), where=where, cfg=config())


def downline_at_risk(*, where: SegmentFilter, scope: Scope) -> cohorts.DownlineAtRisk:
    """Return `cxm.metrics.cohorts.downline_at_risk` (cached)."""
    return _at_risk(_gen(), where, scope)


@_cached
def _calibration(gen, markets: tuple, scope: Scope) -> tuple[pl.DataFrame, pl.DataFrame]:
    return holdout.calibration(warehouse.company(scope), markets=markets)


def value_calibration(*, where: SegmentFilter, scope: Scope) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return `cxm.metrics.holdout.calibration` for the filter's markets (cached)."""
    return _calibration(_gen(), tuple(where.markets), scope)


@_cached
def _fits(gen, scope: Scope) -> pl.DataFrame:
    return value.fit_table(warehouse.company(scope))


def value_fits(*, scope: Scope) -> pl.DataFrame:
    """Return `cxm.metrics.value.fit_table` (cached)."""
    return _fits(_gen(), scope)


@_cached
def _segment_table(gen, kpis: tuple, by: tuple, where: SegmentFilter, scope: Scope):
    from cxm.reports import segment_table

    return segment_table(
        warehouse.company(scope), kpis, by=by, where=where, cfg=config(), generated_by=""
    )


def segment_table(kpis: Sequence[str], *, by: Sequence[str], where: SegmentFilter, scope: Scope):
    """Return `cxm.reports.segment_table` (cached; the page stamps who and when on download)."""
    return _segment_table(_gen(), tuple(kpis), tuple(by), where, scope)


@_cached
def _at_risk_counts(gen, where: SegmentFilter, scope: Scope):
    from cxm.reports import at_risk_counts

    return at_risk_counts(warehouse.company(scope), where=where, cfg=config())


def at_risk_counts(*, where: SegmentFilter, scope: Scope):
    """Return `cxm.reports.at_risk_counts` (cached): what the at-risk file would hold."""
    return _at_risk_counts(_gen(), where, scope)
