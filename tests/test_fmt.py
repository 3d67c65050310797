"""Numbers for people, at the edges where naive formatting goes wrong (issue 11)."""

from __future__ import annotations

import pytest

from cxm.ui import fmt


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (999_950, "1.0M"),  # was "1000.0k": rounding carries into the next unit
        (999_949, "999.9k"),
        (999.96, "1.0k"),
        (-1_500, "−1.5k"),
        (0.0, "0"),
        (None, "–"),
        (float("nan"), "–"),
    ],
)
def test_compact_numbers(value, shown):
    assert fmt.number(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (-5, "−$5.00"),  # was "$-5.00"
        (-0.001, "$0.00"),  # rounds to zero: no sign
        (999_999, "$1.0M"),
        (1_250.5, "$1.3k"),
        (85.5, "$85.50"),
    ],
)
def test_money(value, shown):
    assert fmt.money(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (-0.04, "0.0 pp"),  # was "−0.0 pp"
        (0.04, "0.0 pp"),
        (-0.06, "−0.1 pp"),
        (2.14, "+2.1 pp"),
    ],
)
def test_points_changes(value, shown):
    assert fmt.pp(value) == shown


def test_a_share_that_rounds_to_zero_has_no_sign_and_a_negative_one_a_true_minus():
    assert fmt.share(-0.0001) == "0.0%"
    assert fmt.share(-0.02) == "−2.0%"


def test_a_kpi_change_reads_in_points_for_shares_and_percent_for_amounts():
    assert fmt.kpi_change("share", 0.195, 0.2) == "−0.5 pp"
    assert fmt.kpi_change("amount", 82.13, 83.38) == "−1.5%"
    assert fmt.kpi_change("count", 10, 0) == "–"  # no change from nothing
