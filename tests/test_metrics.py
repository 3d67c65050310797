"""Every registry KPI, worked out by hand on tests/fixtures/kpi_company for US and BR.

The fixture's newest event is on 2026-03-31, so that is the data's as-of date. Report period
2026-Q1 = 2026-01-01..2026-03-31 (90 days); "active" = an order or enrolment on 03-02..03-31;
"app use in 7 days" = on 03-25..03-31. Day N of tenure = enrolment day + N (enrolment = day 0).

    seller sponsor enrolled    left        rank on 03-31 (history)      goals week/month
    US1    -       2023-05-10  -           Director (csv)               70 / 1
    US2    US1     2025-02-15  -           Senior Consultant (02-10)    35 / 1
    US3    -       2025-03-20  2026-01-10  Consultant (csv)             35 / 0
    US4    US3     2025-12-10  -           Consultant (03-05)            0 / 0
    US5    US3     2025-12-05  2026-03-01  Member                       14 / 0
    US6    US2     2026-03-03  -           Member                       14 / 1
    US7    US6     2026-03-27  -           Member                        0 / 0
    BR1    -       2022-08-01  -           Director (2025-09-01)        50 / 1
    BR2    -       2025-01-10  -           Manager (2026-03-27)         30 / 0
    BR3    BR1     2025-01-25  2025-11-20  Member                       20 / 0
    BR4    BR2     2025-10-10  2026-01-08  Consultant (csv)             20 / 0
    BR5    BR4     2025-12-15  -           Member                        0 / 0
    BR6    BR4     2026-01-02  2026-03-10  Member                       10 / 0
    BR7    BR1     2026-03-05  -           Member                       10 / 1
    BR8    BR7     2026-03-25  -           Member                        0 / 0

Live on 03-31: US1 US2 US4 US6 US7 (5); BR1 BR2 BR5 BR7 BR8 (5).
Live at the start of Q1 (enrolled before 01-01, not gone by then): US1-US5 (5); BR1 BR2 BR4
BR5 (4; BR3 left in November).
Active on 03-31: US2 (enrolled US6 03-03), US4 (autoship 03-02), US6 (sold 03-10) = 3; US1's
last order is 03-01, one day too early. BR1 (sold 03-15), BR2 (sold 03-20), BR5 (autoship on
03-31), BR7 (sold 03-20, enrolled BR8) = 4.

Q1 orders: US 12 for $1,420 (US1 900, US2 270, US4 90, US5 70, US6 90);
BR 14 for $1,370 (BR1 640, BR2 440, BR4 80, BR5 180, BR7 30).
"""

from __future__ import annotations

import datetime as dt

import pytest

from cxm.config import load_config
from cxm.metrics.compute import compute
from cxm.metrics.kpis import KPIS
from cxm.pipeline import import_dir
from cxm.segments import Period, SegmentFilter
from cxm.warehouse import store
from cxm.warehouse.scoped import Scoped

from .conftest import FIXTURES

KPI_COMPANY = FIXTURES / "kpi_company"
AS_OF = dt.date(2026, 3, 31)
CFG = load_config()


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    path = tmp_path_factory.mktemp("kpi_company") / "w.duckdb"
    import_dir(KPI_COMPANY, path=path, today=AS_OF)
    with store.open_readonly(path) as c:
        yield c


def _where(period: str, markets=(), as_of=None) -> SegmentFilter:
    return SegmentFilter(period=Period.parse(period), markets=tuple(markets), as_of=as_of)


def _one(con, kpi_id: str, market: str, period: str = "2026-Q1", as_of=None):
    out = compute(Scoped.everywhere(con), [kpi_id], where=_where(period, [market], as_of), cfg=CFG)
    assert out.height == 1
    row = out.row(0, named=True)
    return row["value"], row["n"]


@pytest.fixture(scope="module")
def every_kpi(con):
    """Return a lookup (period, market) -> {kpi_id: (value, n)}: one call for all KPIs."""
    cache: dict = {}

    def get(period: str, market: str) -> dict:
        if (period, market) not in cache:
            out = compute(
                Scoped.everywhere(con),
                [k.id for k in KPIS],
                where=_where(period, [market]),
                cfg=CFG,
            )
            cache[(period, market)] = {r["kpi_id"]: (r["value"], r["n"]) for r in out.to_dicts()}
        return cache[(period, market)]

    return get


def _check(value, n, expected, expected_n):
    if expected is None:
        assert value is None
    else:
        assert value == pytest.approx(expected)
    assert n == expected_n


# (kpi_id, market, value, n), 2026-Q1, as of 2026-03-31.
Q1 = [
    # --- retention ---------------------------------------------------------------------------
    # Live on 03-31 (see the module docstring); a count's n is the count itself.
    ("live_sellers", "US", 5, 5),
    ("live_sellers", "BR", 5, 5),
    # Active of the live: US2 US4 US6 = 3 of 5; BR1 BR2 BR5 BR7 = 4 of 5.
    ("active_sellers", "US", 3, 5),
    ("active_sellers", "BR", 4, 5),
    ("active_rate", "US", 3 / 5, 5),
    ("active_rate", "BR", 4 / 5, 5),
    # Day 90 in Q1 = enrolled 2025-10-03..12-31. US4 (day 90 = 03-10, still here) kept, US5
    # (day 90 = 03-05, left 03-01) lost -> 1/2. BR4 (day 90 = 01-08, left ON 01-08: gone by that
    # day) lost, BR5 (day 90 = 03-15, here) kept -> 1/2.
    ("seller_retention_90d", "US", 1 / 2, 2),
    ("seller_retention_90d", "BR", 1 / 2, 2),
    # Day 365 in Q1 = enrolled 2025-01-01..03-31. US2 (02-15, here) kept, US3 (03-20, left
    # 2026-01-10) lost -> 1/2; BR2 (01-10) kept, BR3 (01-25, left 2025-11-20) lost -> 1/2.
    ("seller_retention_12m", "US", 1 / 2, 2),
    ("seller_retention_12m", "BR", 1 / 2, 2),
    # Of the live at the start: US3 (01-10) and US5 (03-01) left -> 2/5; BR4 (01-08) left -> 1/4
    # (BR6 left too, but joined in Q1).
    ("seller_churn_rate", "US", 2 / 5, 5),
    ("seller_churn_rate", "BR", 1 / 4, 4),
    # Sponsors gone in Q1: US3 (01-10) with US4 and US5, BR4 (01-08) with BR5 and BR6; their
    # 90 days run to 04-10 and 04-08, after the as-of date: every window is open, no value
    # (US5's and BR6's leaving is not an outcome until the others' is known; test_windows.py).
    ("churn_after_sponsor_left", "US", None, 0),
    ("churn_after_sponsor_left", "BR", None, 0),
    # Day 30 in Q1 = enrolled 2025-12-02..2026-03-01. US4 (day 30 = 01-09) first sold 12-20,
    # day 10: yes; US5 (day 30 = 01-04) first sold 01-04, day 30: no -> 1/2. BR5 (day 30 =
    # 01-14) first sold 01-13, day 29: yes; BR6 (day 30 = 02-01) never sold -> 1/2.
    ("first30_sale_rate", "US", 1 / 2, 2),
    ("first30_sale_rate", "BR", 1 / 2, 2),
    # Of the live at the start, a rank step in Q1: US2 (02-10), US4 (03-05) -> 2/5; BR2 (03-27)
    # -> 1/4.
    ("rank_advancement_rate", "US", 2 / 5, 5),
    ("rank_advancement_rate", "BR", 1 / 4, 4),
    # Live with a weekly goal; need goal x days enrolled in Q1 / 7.
    # US1 70 x 90/7 = 900, sold 900 (exactly) yes; US2 35 x 90/7 = 450, sold 270 no; US6 joined
    # 03-03: 14 x 29/7 = 58, sold 90 yes -> 2/3. BR1 50 x 90/7 = 642.86, sold 640 no; BR2
    # 30 x 90/7 = 385.71, sold 440 yes; BR7 joined 03-05: 10 x 27/7 = 38.57, sold 30 no -> 1/3.
    ("weekly_goal_attainment", "US", 2 / 3, 3),
    ("weekly_goal_attainment", "BR", 1 / 3, 3),
    # --- adoption ----------------------------------------------------------------------------
    # Live with app use on 03-25..03-31: US1 (login 03-28), US4 (follow-up 03-25), US7 (login
    # 03-30); not US6 (content share 03-24 is a day early; its 03-27 enrolment is not app use)
    # -> 3/5. BR1 (login 03-31), BR5 (training_completed 03-26); not BR2 (its 03-27 rank step
    # is not app use) -> 2/5.
    ("app_adoption_7d", "US", 3 / 5, 5),
    ("app_adoption_7d", "BR", 2 / 5, 5),
    # Distinct app days in Q1, every seller of the segment: US1 01-05 (two logins), 02-10,
    # 02-11, 03-28 = 4; US4 02-01, 03-25 = 2; US5 01-10; US6 03-24; US7 03-30 -> 9 / 5 live.
    # BR1 01-15, 03-31 = 2; BR2 02-05, 03-20 = 2; BR4 01-03; BR5 03-26; BR6 01-10 -> 7 / 5.
    ("app_days_per_seller", "US", 9 / 5, 5),
    ("app_days_per_seller", "BR", 7 / 5, 5),
    # Completions in Q1: US4 claims 01-15, US6 welcome 03-15 -> 2/5; BR5 claims 02-03 and
    # welcome 03-26, BR6 welcome 01-15 (left later, still counts) -> 3/5.
    ("courses_per_seller", "US", 2 / 5, 5),
    ("courses_per_seller", "BR", 3 / 5, 5),
    # --- compliance --------------------------------------------------------------------------
    # Compliance courses: claims (from Member), team_rules (from Manager). Active US2 (Senior
    # Consultant, claims) yes, US4 (Consultant, claims 01-15) yes, US6 (nothing) no -> 2/3.
    # Active BR1 (Director, both) yes, BR2 (Manager since 03-27, claims only) no, BR5 (claims
    # 02-03) yes, BR7 (nothing) no -> 2/4.
    ("compliance_rate", "US", 2 / 3, 3),
    ("compliance_rate", "BR", 2 / 4, 4),
    # --- business building -------------------------------------------------------------------
    # Joined in Q1 under a segment sponsor: US6 (US2), US7 (US6) = 2; BR6 (BR4), BR7 (BR1),
    # BR8 (BR7) = 3. A sum's n is the sum.
    ("enrollments", "US", 2, 2),
    ("enrollments", "BR", 3, 3),
    # Per active seller on 03-31: 2/3; 3/4.
    ("enrollments_per_active_seller", "US", 2 / 3, 3),
    ("enrollments_per_active_seller", "BR", 3 / 4, 4),
    # (Recruits in - recruits out) / frontline at the start. US: 2 in, out US5 (US3 has no
    # sponsor) = 1; frontline US2 US4 US5 = 3 -> 1/3. BR: 3 in, out BR4 and BR6 = 2; frontline
    # BR4 BR5 = 2 (BR2 has no sponsor, BR3 was gone) -> 1/2.
    ("downline_growth", "US", 1 / 3, 3),
    ("downline_growth", "BR", 1 / 2, 2),
    # Live with a monthly goal; need goal x days enrolled in Q1 / 30.4375. US1 needs 2.96, had
    # 0; US2 needs 2.96, had 1 (US6); US6 joined 03-03: 29/30.4375 = 0.95, had 1 (US7) -> 1/3.
    # BR1 needs 2.96, had 1 (BR7); BR7 joined 03-05: 27/30.4375 = 0.89, had 1 (BR8) -> 1/2.
    ("enrollment_goal_attainment", "US", 1 / 3, 3),
    ("enrollment_goal_attainment", "BR", 1 / 2, 2),
    # --- sales and customers -----------------------------------------------------------------
    # US: 300+300+150+150 (US1) + 100+80+90 (US2) + 40+50 (US4) + 70 (US5) + 60+30 (US6)
    # = 1420 in 12 orders. BR: 200+200+190+50 (BR1) + 150+100+150+40 (BR2) + 80 (BR4)
    # + 60+60+60 (BR5) + 20+10 (BR7) = 1370 in 14 orders. Revenue's n is its orders.
    ("revenue", "US", 1420.0, 12),
    ("revenue", "BR", 1370.0, 14),
    ("orders", "US", 12, 12),
    ("orders", "BR", 14, 14),
    ("avg_order_amount", "US", 1420 / 12, 12),
    ("avg_order_amount", "BR", 1370 / 14, 14),
    # Units: US 2+2+3+1 +1+1+1 +1+1 +1 +2+1 = 17; BR 2+2+4+1 +1+1+2+1 +1 +1+1+1 +1+1 = 20.
    ("units_per_order", "US", 17 / 12, 12),
    ("units_per_order", "BR", 20 / 14, 14),
    # Autoship: US 300+300 (CU1) + 80 (CU2) + 50 (CU4) = 730; BR 200+200 (CB1) + 60+60 (CB3)
    # = 520. n = orders.
    ("autoship_share", "US", 730 / 1420, 12),
    ("autoship_share", "BR", 520 / 1370, 14),
    ("revenue_per_live_seller", "US", 1420 / 5, 5),
    ("revenue_per_live_seller", "BR", 1370 / 5, 5),
    # First order ever in Q1: CU2 (01-20), CU5 (01-04), CU6 (03-10) = 3; CB2 (01-12), CB3
    # (01-13), CB8 (02-20), CB6 (03-20) = 4.
    ("new_customers", "US", 3, 3),
    ("new_customers", "BR", 4, 4),
    # Orders by customers whose first order was in an earlier month: US all 12 but CU2's 01-20,
    # CU5's 01-04 and CU6's 03-10 and 03-20 -> 8/12. BR all 14 but CB2's 01-12 and 01-25, CB3's
    # 01-13, CB8's 02-20 and CB6's two on 03-20 -> 8/14.
    ("repeat_customer_rate", "US", 8 / 12, 12),
    ("repeat_customer_rate", "BR", 8 / 14, 14),
    # Day 90 after the first purchase of a line in Q1 = first purchase 2025-10-03..12-31
    # (tests/test_line_reorder.py lists every line): US CU3 nutrition (10-15, never again) no;
    # CU7 skincare (11-15, again 02-13, day 90) yes; CU4 wellness (12-20, again 01-20) yes ->
    # 2/3. BR CB4 acai (10-20, again 01-05) yes; CB7 wellness (12-01, again 03-02, day 91) no;
    # CB5 skincare (12-10, never) no -> 1/3. The lines first bought in Q1 are still open.
    ("line_reorder_rate", "US", 2 / 3, 3),
    ("line_reorder_rate", "BR", 1 / 3, 3),
    # Day 90 after the first order in Q1 = first order 2025-10-03..12-31. US: CU3 (10-15, next
    # 2026-02-01, day 109) no; CU4 (12-20, next 01-20) yes; CU7 (11-15, next 02-13, day 90)
    # yes -> 2/3. BR: CB4 (10-20, next 01-05) yes; CB5 (12-10, never) no; CB7 (12-01, next
    # 03-02, day 91) no -> 1/3.
    ("customer_retention_90d", "US", 2 / 3, 3),
    ("customer_retention_90d", "BR", 1 / 3, 3),
    # --- experience and engagement -----------------------------------------------------------
    # Customer 0-10 answers in Q1 (CU1's 0 in December is left out). US 9 10 7 6 9: 3 promoters,
    # 1 detractor -> 100 x (3-1)/5 = 40. BR 10 3 5 8 9 6 0: 2 promoters, 4 detractors
    # -> 100 x (2-4)/7 = -28.57.
    ("customer_nps", "US", 40.0, 5),
    ("customer_nps", "BR", -200 / 7, 7),
    # Seller answers: US 10 6 8 9 -> 100 x (2-1)/4 = 25; BR 9 9 4 -> 100 x (2-1)/3 = 33.33.
    ("seller_nps", "US", 25.0, 4),
    ("seller_nps", "BR", 100 / 3, 3),
    # Customer attribute answers: US 5 5 4 3 5 2 -> 24/6 = 4.0; BR 5 4 4 5 1 -> 19/5 = 3.8.
    ("customer_attribute_score", "US", 24 / 6, 6),
    ("customer_attribute_score", "BR", 19 / 5, 5),
    # Fives: US 3 of 6; BR 2 of 5.
    ("customer_top_box_share", "US", 3 / 6, 6),
    ("customer_top_box_share", "BR", 2 / 5, 5),
    # Corporate on quality/value/service/ease/delivery: US quality 5, value 5, delivery 4,
    # service 5 -> 3/4 (its tools and training answers are not customer attributes); BR quality
    # 5, value 4, ease 5, delivery 4 -> 2/4. Gap: US 100 x (3/4 - 3/6) = 25; BR 100 x
    # (2/4 - 2/5) = 10. n = the segment's customer answers.
    ("experience_gap_pp", "US", 25.0, 6),
    ("experience_gap_pp", "BR", 10.0, 5),
    # Corporate on tools/training/service/ease: US service 5, tools 5, training 4 -> 2/3; BR
    # tools 4, training 5, ease 5 -> 2/3. Sellers: US tools 5, training 4, service 4, ease 3,
    # tools 5 (US5) -> 2/5; BR tools 5, training 5, service 3, ease 4 -> 2/4.
    # Gap: US 100 x (2/3 - 2/5) = 26.67; BR 100 x (2/3 - 2/4) = 16.67.
    ("seller_experience_gap_pp", "US", 100 * (2 / 3 - 2 / 5), 5),
    ("seller_experience_gap_pp", "BR", 100 * (2 / 3 - 2 / 4), 4),
    # Live sellers with an app day in Q1: US1 US4 US6 US7 (not US2: only a rank step and an
    # enrolment) -> 4/5; BR1 BR2 BR5 (not BR7: only an enrolment; not BR8) -> 3/5.
    ("engagement_involvement", "US", 4 / 5, 5),
    ("engagement_involvement", "BR", 3 / 5, 5),
    # Follow-ups + content shares in Q1 (US2's 2025-12-20 follow-up is out): US1 2, US4 2, US5 1,
    # US6 1 = 6 -> 6/5; BR1 1, BR2 1, BR4 1 = 3 -> 3/5.
    ("engagement_interaction", "US", 6 / 5, 5),
    ("engagement_interaction", "BR", 3 / 5, 5),
    # Seller attribute answers of 4 or 5: US 5 4 4 3 5 -> 4/5; BR 5 5 3 4 -> 3/4.
    ("engagement_intimacy", "US", 4 / 5, 5),
    ("engagement_intimacy", "BR", 3 / 4, 4),
    # Live sellers who enrolled someone or won a new customer in Q1: US2 (US6, CU2), US6 (US7,
    # CU6); not US1, US4, US7 (and US5's CU5 does not count: US5 left) -> 2/5. BR1 (BR7), BR2
    # (CB2, CB8), BR5 (CB3), BR7 (BR8, CB6); not BR8 -> 4/5.
    ("engagement_influence", "US", 2 / 5, 5),
    ("engagement_influence", "BR", 4 / 5, 5),
    # --- service -----------------------------------------------------------------------------
    # US tickets in Q1 (T00 from December is out): T01 30 min, T02 60 min (exactly an hour),
    # T03 45 min but past midnight (23:30 -> 00:15), T04 24 h, T05 never. Same day T01 T02
    # -> 2/5; within an hour T01 T02 T03 -> 3/5; median of 30 45 60 1440 min = 52.5 min
    # = 0.875 h over 4 answered.
    # BR: T06 20 min, T07 90 min, T08 48 h, T09 never, T10 30 s, T11 3 h. Same day T06 T07 T10
    # T11 -> 4/6; within an hour T06 T10 -> 2/6; median of 0.5 20 90 180 2880 min = 90 min
    # = 1.5 h over 5.
    ("answered_same_day_share", "US", 2 / 5, 5),
    ("answered_same_day_share", "BR", 4 / 6, 6),
    ("answered_within_hour_share", "US", 3 / 5, 5),
    ("answered_within_hour_share", "BR", 2 / 6, 6),
    ("median_first_response_hours", "US", 0.875, 4),
    ("median_first_response_hours", "BR", 1.5, 5),
    # Predicted customer value: 15 customers are too few to fit a model (cxm.metrics.value),
    # so no value, not 0; the models themselves are checked in tests/test_clv.py.
    ("clv_12m_total", "US", None, 0),
    ("clv_12m_total", "BR", None, 0),
    ("clv_12m_per_customer", "US", None, 0),
    ("clv_12m_per_customer", "BR", None, 0),
    ("customers_at_risk_share", "US", None, 0),
    ("customers_at_risk_share", "BR", None, 0),
    # --- acquisition (marketing_spend.csv, leads.csv, acquisition_channel) ----------------------
    # New customers (first order in Q1, as new_customers above): US CU2 paid_social, CU5
    # search, CU6 seller_referred = 3; BR CB2 and CB3 seller_referred, CB8 paid_social, CB6 not
    # recorded = 4. Spend on customers in Jan-Mar (December's 500 is out): US 150 + 90 + 30 =
    # 270 -> 90; BR 120 + 40 = 160 -> 40.
    ("cac", "US", 270 / 3, 3),
    ("cac", "BR", 160 / 4, 4),
    # Enrolled in Q1: US6, US7 = 2; BR6, BR7, BR8 = 3. Spend on sellers US 60, BR 80, plus the
    # starter incentive of 25 each (company.yaml): (60 + 50) / 2 = 55; (80 + 75) / 3 = 51.67.
    ("seller_cac", "US", 110 / 2, 2),
    ("seller_cac", "BR", 155 / 3, 3),
    # 15 customers are too few to fit customer value: no CLV/CAC and no payback, n 0
    # (tests/test_acquisition.py works them out with values set by hand).
    ("clv_cac_ratio", "US", None, 0),
    ("clv_cac_ratio", "BR", None, 0),
    ("new_customer_value", "US", None, 0),
    ("new_customer_value", "BR", None, 0),
    ("payback_months", "US", None, 0),
    ("payback_months", "BR", None, 0),
    # Of new customers with a recorded channel, won by a seller: US CU6 of 3; BR CB2 and CB3
    # of 3 (CB6's channel is not recorded, so it is in neither count).
    ("seller_won_share", "US", 1 / 3, 3),
    ("seller_won_share", "BR", 2 / 3, 3),
    # Leads created in Q1: US LU2, LU3, LU4 = 3; BR LB2, LB3 = 2.
    ("leads", "US", 3, 3),
    ("leads", "BR", 2, 2),
    # All spend in Jan-Mar over those leads: US 270 + 60 = 330 / 3 = 110; BR 160 + 80 = 240 /
    # 2 = 120.
    ("cost_per_lead", "US", 330 / 3, 3),
    ("cost_per_lead", "BR", 240 / 2, 2),
    # Day 30 in Q1 = created 2025-12-02..2026-03-01, every one closed by 03-31. US LU1 (12-10,
    # converted day 41) no, LU2 (day 2) yes, LU3 never, LU4 (US6 enrolled day 11) yes -> 2/4.
    # BR LB1 (12-05, day 38) no, LB2 (01-05, day 46) no -> 0/2; LB3 (03-15) has its day 30 in
    # April and LB4 (10-20) in November: neither is a subject.
    ("lead_conversion_30d", "US", 2 / 4, 4),
    ("lead_conversion_30d", "BR", 0 / 2, 2),
    # Day 90 in Q1 = created 2025-10-03..12-31: US LU1 (day 41) yes, LU5 (11-01, never) no ->
    # 1/2; BR LB1 (day 38) yes, LB4 (10-20, CB3 on 01-13, day 85) yes -> 2/2.
    ("lead_conversion_90d", "US", 1 / 2, 2),
    ("lead_conversion_90d", "BR", 2 / 2, 2),
]


def test_every_registry_kpi_has_hand_worked_cases_for_two_markets():
    ids = [kpi_id for kpi_id, *_ in Q1]
    assert sorted(set(ids)) == sorted(k.id for k in KPIS)
    assert all(ids.count(k.id) == 2 for k in KPIS)


@pytest.mark.parametrize(("kpi_id", "market", "expected", "expected_n"), Q1)
def test_each_kpi_matches_its_hand_worked_value_for_one_market_in_q1(
    every_kpi, kpi_id, market, expected, expected_n
):
    value, n = every_kpi("2026-Q1", market)[kpi_id]
    _check(value, n, expected, expected_n)


#: KPIs with a path of their own in `compute`: a derived measure, a separate base, the
#: corporate side of a gap, a list median, the product-line grain.
OWN_PATH = (
    "downline_growth",
    "autoship_share",
    "experience_gap_pp",
    "seller_experience_gap_pp",
    "median_first_response_hours",
    "line_reorder_rate",
)


@pytest.mark.parametrize(
    ("kpi_id", "market", "expected", "expected_n"), [c for c in Q1 if c[0] in OWN_PATH]
)
def test_a_kpi_asked_for_alone_gives_its_hand_worked_value_too(
    con, kpi_id, market, expected, expected_n
):
    value, n = _one(con, kpi_id, market)
    _check(value, n, expected, expected_n)


def test_a_breakdown_by_market_gives_the_same_numbers_as_one_market_at_a_time(con):
    # One call for all 41 KPIs by market: every row is the hand value of the table above.
    out = compute(
        Scoped.everywhere(con),
        [k.id for k in KPIS],
        by=["market"],
        where=_where("2026-Q1"),
        cfg=CFG,
    )
    rows = {(r["kpi_id"], r["market"]): r for r in out.iter_rows(named=True)}
    assert set(rows) == {(kpi_id, market) for kpi_id, market, *_ in Q1}
    for kpi_id, market, expected, expected_n in Q1:
        row = rows[(kpi_id, market)]
        _check(row["value"], row["n"], expected, expected_n)


# (kpi_id, market, value, n) for March 2026 alone, as of 2026-03-31 as well.
MARCH = [
    # Snapshots do not depend on the period's start.
    ("live_sellers", "US", 5, 5),
    ("active_rate", "BR", 4 / 5, 5),
    # March orders: US 150 (03-01) + 50 + 60 + 30 = 290 in 4; BR 190 + 50 + 150 + 60 + 20 + 10
    # = 480 in 6.
    ("revenue", "US", 290.0, 4),
    ("revenue", "BR", 480.0, 6),
    ("orders", "BR", 6, 6),
    # Live on 03-01: US1 US2 US4 US5 (leaves that very day) -> US5 left: 1/4; BR1 BR2 BR5 BR6
    # -> BR6 left 03-10: 1/4.
    ("seller_churn_rate", "US", 1 / 4, 4),
    ("seller_churn_rate", "BR", 1 / 4, 4),
    # Day 90 in March = enrolled in December: US4 kept, US5 lost -> 1/2; BR5 kept -> 1/1.
    ("seller_retention_90d", "US", 1 / 2, 2),
    ("seller_retention_90d", "BR", 1.0, 1),
    # US: CU1 03-01 and CU4 03-02 are repeat, CU6's two March orders are its first month -> 2/4.
    # BR: CB1, CB7, CB2 (first in January), CB3 repeat; CB6's two not -> 4/6.
    ("repeat_customer_rate", "US", 2 / 4, 4),
    ("repeat_customer_rate", "BR", 4 / 6, 6),
    ("new_customers", "US", 1, 1),
    ("new_customers", "BR", 1, 1),
    # A 31-day month is 31/30.4375 = 1.02 months: US1 (0) and US2 (1) miss goal 1, US6 (29 days,
    # 1) meets it -> 1/3. BR1 (1) misses, BR7 (27 days, 1) meets it -> 1/2.
    ("enrollment_goal_attainment", "US", 1 / 3, 3),
    ("enrollment_goal_attainment", "BR", 1 / 2, 2),
    # US1 150 < 70 x 31/7 = 310, US2 0 < 155, US6 90 >= 58 -> 1/3. BR1 240 >= 50 x 31/7 =
    # 221.43 (it missed the quarter), BR2 150 >= 132.86, BR7 30 < 38.57 -> 2/3.
    ("weekly_goal_attainment", "US", 1 / 3, 3),
    ("weekly_goal_attainment", "BR", 2 / 3, 3),
    # March answers: US 9 -> 100; BR 9 and 0 -> 0.
    ("customer_nps", "US", 100.0, 1),
    ("customer_nps", "BR", 0.0, 2),
    # March app days: US1 03-28, US4 03-25, US6 03-24, US7 03-30 -> 4/5; BR1, BR2, BR5 -> 3/5.
    ("app_days_per_seller", "US", 4 / 5, 5),
    ("app_days_per_seller", "BR", 3 / 5, 5),
]


@pytest.mark.parametrize(("kpi_id", "market", "expected", "expected_n"), MARCH)
def test_a_month_counts_only_its_own_flows_and_takes_the_same_snapshot(
    every_kpi, kpi_id, market, expected, expected_n
):
    value, n = every_kpi("2026-03", market)[kpi_id]
    _check(value, n, expected, expected_n)


def test_the_rank_reached_by_the_as_of_date_decides_the_compliance_courses_required(con):
    # BR2 steps up to Manager on 2026-03-27 and has only the claims course.
    # As of 02-28 (February): active (a sale or enrolment on 01-30..02-28) BR1, BR2, BR5; BR2
    # is a Senior Consultant, so claims suffices -> 3/3. As of 03-31 (Q1): 2/4 (table above).
    assert _one(con, "compliance_rate", "BR", period="2026-02") == (1.0, 3)
    assert _one(con, "compliance_rate", "BR") == (0.5, 4)


def test_live_sellers_by_rank_use_the_rank_each_seller_held_on_the_as_of_date(con):
    # As of 02-28: enrolled by then US1-US5, BR1-BR6; live US1 US2 US4 US5 BR1 BR2 BR5 BR6.
    # US4's only step (Consultant, 03-05) is later, so US4 is at the entry rank; BR2 is still a
    # Senior Consultant. Consultant holds only the gone US3 and BR4.
    # As of 03-31: US4 is a Consultant, BR2 a Manager; the new US6 US7 BR7 BR8 are Members.
    expected = {
        "2026-02": {"Director": 2, "Senior Consultant": 2, "Consultant": 0, "Member": 4},
        "2026-Q1": {
            "Director": 2,
            "Manager": 1,
            "Senior Consultant": 1,
            "Consultant": 1,
            "Member": 5,
        },
    }
    for period, by_rank in expected.items():
        out = compute(
            Scoped.everywhere(con),
            ["live_sellers"],
            by=["rank"],
            where=_where(period),
            cfg=CFG,
        )
        assert dict(zip(out["rank"], out["value"], strict=True)) == by_rank


def test_a_quarter_seen_from_an_earlier_month_end_cuts_answers_and_tickets_there(con):
    # 2026-Q1 as of 2026-02-28: the window is 01-01..02-28. US customer NPS answers in it:
    # 9 10 7 6 -> 100 x (2-1)/4 = 25 (CU6's 9 on 03-12 is later). Tickets: T01, T02, both
    # answered the same day -> 2/2 (T03-T05 are in March).
    as_of = dt.date(2026, 2, 28)
    assert _one(con, "customer_nps", "US", as_of=as_of) == (25.0, 4)
    assert _one(con, "answered_same_day_share", "US", as_of=as_of) == (1.0, 2)


def test_a_quarter_seen_from_an_earlier_month_end_counts_only_orders_and_enrolments_by_then(
    con,
):
    # 2026-Q1 as of 2026-02-28: US orders on 01-01..02-28: 300 + 300 + 150 (US1) + 100 + 80
    # + 90 (US2) + 40 (US4) + 70 (US5) = 1130 in 8. US1's 03-01 and US4's 03-02 orders are
    # later. US enrolments by 02-28: none (US6 joined 03-03, US7 03-27).
    as_of = dt.date(2026, 2, 28)
    assert _one(con, "revenue", "US", as_of=as_of) == (1130.0, 8)
    assert _one(con, "enrollments", "US", as_of=as_of) == (0, 0)


def test_the_seller_gap_compares_the_seller_attributes_only(con):
    # December 2025, US: corporate tools 5 (its quality 1 is not a seller attribute) -> 1/1.
    # US1 answered tools 5 and quality 2; quality is not a seller attribute -> 1/1.
    # Gap 100 x (1 - 1) = 0 over 1 answer (counting the quality answer gives 50 over 2).
    assert _one(con, "seller_experience_gap_pp", "US", period="2025-12") == (0.0, 1)


def test_customer_purchase_days_merge_same_day_orders_and_sum_the_repeat_days(con):
    # By hand from orders.csv: CB1 bought on 4 days (2025-03-01, then 200 + 200 + 190 after
    # the first); CB6 twice on 2026-03-20 (one purchase day, nothing repeated); CU7 on
    # 2025-11-15 and 2026-02-13 (150 repeated); CU6 on 2026-03-10 and 03-20 (30 repeated).
    rows = con.execute(
        "SELECT customer_id, orders, purchase_days, repeat_amount FROM fact_customers "
        "WHERE customer_id IN ('CB1', 'CB6', 'CU7', 'CU6') ORDER BY customer_id"
    ).fetchall()
    assert rows == [
        ("CB1", 4, 4, 590.0),
        ("CB6", 2, 1, 0.0),
        ("CU6", 2, 2, 30.0),
        ("CU7", 2, 2, 150.0),
    ]


def test_too_few_customers_to_fit_leave_customer_value_empty_not_zero(con):
    # 15 customers: under the company minimum, so no model and no value rows; the KPIs are
    # null with n 0 on the as-of date.
    assert con.execute("SELECT count(*) FROM clv_fits").fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM fact_seller_value").fetchall() == [(0,)]
