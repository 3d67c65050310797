"""The lean seller base (`SELLER_SEGMENTS`) that filters sellers for the cohorts, the downline,
the experience gap, acquisition and the at-risk file is the full base without its measures:
the same sellers with the same segment columns, whatever the filter, on both rank clocks; a
view as of the load's date reads them from the segments the load stored, the same rows; the
service base has the full base's ticket measures."""

from __future__ import annotations

import pytest

from cxm.config import load_config
from cxm.metrics.compute import data_range, window
from cxm.segments import Period, SegmentFilter
from cxm.segments.sql import (
    SELLER_BASE,
    SELLER_BASE_AT_ENROLMENT,
    SELLER_SEGMENTS,
    SELLER_SEGMENTS_AT_ENROLMENT,
    SERVICE_BASE,
    filter_params,
)
from tests.conftest import company

CFG = load_config()
COLUMNS = (
    "seller_id, market, language, rank_index, rank, status, tenure_band, training_tier, "
    "cohort, fast_start, live"
)
FILTERS = {
    "everyone, a month": SegmentFilter(period=Period.parse("2026-10")),
    "a quarter the data end in": SegmentFilter(period=Period.parse("2026-Q4")),
    "Brazil, active or new": SegmentFilter(
        period=Period.parse("2026-09"), markets=("BR",), statuses=("active", "new")
    ),
    "long-tenured and trained": SegmentFilter(
        period=Period.parse("2026-Q3"),
        tenure_bands=("2-5 years", "5+ years"),
        training_tiers=("starter", "skilled", "advanced"),
    ),
    "Members and Consultants": SegmentFilter(
        period=Period.parse("2026-08"), ranks=("Member", "Consultant")
    ),
    "a cohort in Spanish": SegmentFilter(
        period=Period.parse("2025"), cohorts=(2024,), languages=("es",)
    ),
}


def _rows(c, base: str, where: SegmentFilter, columns=COLUMNS, **forced) -> list[tuple]:
    params = {**window(where, data_range(c)).params(), **filter_params(where, CFG), **forced}
    sql = f"SELECT {columns} FROM ({base}) b ORDER BY seller_id"
    return c.con.sql(sql, params={k: v for k, v in params.items() if f"${k}" in sql}).fetchall()


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("markets", [(), ("BR", "MX")], ids=["company", "scoped"])
def test_the_lean_base_holds_the_full_bases_sellers_and_segments(
    small_demo_warehouse, name, markets
):
    where = FILTERS[name]
    with company(small_demo_warehouse, *markets) as c:
        for full, lean in (
            (SELLER_BASE, SELLER_SEGMENTS),
            (SELLER_BASE_AT_ENROLMENT, SELLER_SEGMENTS_AT_ENROLMENT),
        ):
            expected = _rows(c, full, where)
            assert expected, f"{name}: no sellers, so the comparison shows nothing"
            assert _rows(c, lean, where) == expected


@pytest.mark.parametrize("markets", [(), ("BR", "MX")], ids=["company", "scoped"])
def test_a_view_as_of_the_loads_date_reads_the_stored_segments_the_same_rows(
    small_demo_warehouse, markets
):
    # The small demo's data end on 2026-10-31: October (and Q4, cut there) is seen as of
    # that day and reads the stored segments, the rows derived from the facts (forced down
    # that branch); September is seen as of its own last day and derives them.
    with company(small_demo_warehouse, *markets) as c:
        data = data_range(c)
        assert data.segments_as_of == data.as_of
        assert window(FILTERS["Brazil, active or new"], data).params()["stored"] is False
        for name in ("everyone, a month", "a quarter the data end in"):
            where = FILTERS[name]
            assert window(where, data).params()["stored"] is True, name
            for lean in (SELLER_SEGMENTS, SELLER_SEGMENTS_AT_ENROLMENT):
                rows = _rows(c, lean, where)
                assert rows, f"{name}: no sellers, so the comparison shows nothing"
                assert _rows(c, lean, where, stored=False) == rows, name


@pytest.mark.parametrize("name", ["everyone, a month", "Brazil, active or new"])
def test_the_service_base_holds_the_full_bases_ticket_measures(small_demo_warehouse, name):
    cols = f"{COLUMNS}, tickets_opened, tickets_same_day, tickets_within_hour, response_minutes"
    with company(small_demo_warehouse) as c:
        expected = _rows(c, SELLER_BASE, FILTERS[name], cols)
        assert any(r[-4] for r in expected), f"{name}: no tickets, so the comparison shows nothing"
        assert _rows(c, SERVICE_BASE, FILTERS[name], cols) == expected
