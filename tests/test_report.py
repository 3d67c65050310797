"""Segment reports on the tiny company: previous period, change, company average, targets."""

from __future__ import annotations

import pytest

from cxm.config import load_config
from cxm.metrics import report
from cxm.segments import Period, SegmentFilter
from cxm.warehouse import store
from cxm.warehouse.scoped import Scoped
from tests.conftest import company


@pytest.fixture(scope="module")
def con(tiny_warehouse_template):
    with store.open_readonly(tiny_warehouse_template) as c:
        yield c


def _rows(frame, dim):
    return {r[dim]: r for r in frame.iter_rows(named=True)}


def test_a_report_carries_previous_period_change_company_average_and_target(con):
    # January 2026, as of 2026-01-31. Live: 12 sellers less S06 (left 2025-10-15), S12 (left
    # 2026-01-31, counted gone on that day) and S11 (joins 2026-02-20) = 9: BR S05 S07 S08,
    # CA S09 S10, US S01-S04. Active in the 30 days to 2026-01-31 (Jan 2-31): S10 sold O015 on
    # Jan 10, S07 enrolled S08 on Jan 5 -> BR 1/3, CA 1/2, US 0/4, company 2/9.
    # December 2025 (as of Dec 31): no order, autoship or enrolment in Dec 2-31 (S09 enrolled
    # S10 on Dec 1, one day before the window) -> 0 everywhere; BR live S05 S07 = 2.
    # Targets: 2026-Q1 active_rate 0.22 holds for its month January (a share, not a sum).
    out = report.segment_report(
        Scoped.everywhere(con),
        ["active_rate", "revenue"],
        by=["market"],
        where=SegmentFilter(period=Period.parse("2026-01")),
        cfg=load_config(),
    )
    rate = _rows(out.filter(out["kpi_id"] == "active_rate"), "market")
    assert rate["BR"]["value"] == pytest.approx(1 / 3) and rate["BR"]["n"] == 3
    assert rate["BR"]["previous"] == 0 and rate["BR"]["change"] == pytest.approx(1 / 3)
    assert rate["CA"]["value"] == pytest.approx(1 / 2) and rate["US"]["value"] == 0
    assert [r["company"] for r in rate.values()] == pytest.approx([2 / 9] * 3)
    assert {r["target"] for r in rate.values()} == {0.22}
    # Revenue in January: O015, $62.00 for S10 in CA; December had none. No revenue target.
    revenue = _rows(out.filter(out["kpi_id"] == "revenue"), "market")
    assert revenue["CA"]["value"] == 62.0 and revenue["CA"]["previous"] == 0
    assert revenue["BR"]["value"] == 0 and revenue["CA"]["target"] is None


def test_a_segment_target_beats_the_company_wide_one_only_for_its_segment(con):
    # kpi_targets: 2026-Q1 customer_nps for {"markets": ["BR"]} = 5, and no company-wide one.
    out = report.segment_report(
        Scoped.everywhere(con),
        ["customer_nps"],
        by=["market"],
        where=SegmentFilter(period=Period.parse("2026-Q1")),
        cfg=load_config(),
    )
    targets = {r["market"]: r["target"] for r in out.iter_rows(named=True)}
    assert targets["BR"] == 5.0
    assert targets["US"] is None and targets["CA"] is None


def test_a_scoped_report_has_no_row_and_no_company_average_from_outside_the_scope(
    tiny_warehouse_template,
):
    # Analyst scope BR and MX: company = BR alone (MX has no sellers): live 3 on 2026-01-31.
    with company(tiny_warehouse_template, "BR", "MX") as brmx:
        out = report.segment_report(
            brmx,
            ["live_sellers"],
            by=["market"],
            where=SegmentFilter(period=Period.parse("2026-01")),
            cfg=load_config(),
        )
    assert out["market"].to_list() == ["BR"]
    assert out["company"].to_list() == [3.0]
