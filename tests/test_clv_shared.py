"""The customer value's shared work gives the numbers of the functions it stands for, to the
last bit: the scores computed together (`clv.scores`), the holdout's horizons together
(`BgNbdFit.expected_purchases_over`) and the fits whose repeated likelihood passes are
remembered (`_optimize._remembered`, `_gamma_gamma._rows`). On the CDNOW sample of
tests/test_clv.py (2,357 customers, 946 repeat buyers)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cxm.metrics.clv import (
    _gamma_gamma,
    _optimize,
    customer_value,
    fit_bgnbd,
    fit_gamma_gamma,
    scores,
)

from .conftest import FIXTURES

#: 12 months of 365.25/7/12 weeks, the horizon `cxm.metrics.value` scores purchases over.
HORIZON = 12 * 365.25 / 7 / 12


@pytest.fixture(scope="module")
def cdnow():
    d = pl.read_csv(FIXTURES / "clv" / "cdnow_customers_summary_with_transactions.csv")
    return tuple(d[c].to_numpy().astype(float) for c in ("x", "t_x", "T", "zbar"))


@pytest.fixture(scope="module")
def fits(cdnow):
    x, tx, T, m = cdnow
    return fit_bgnbd(x, tx, T), fit_gamma_gamma(x, m)


def test_the_scores_computed_together_are_each_functions_numbers_to_the_last_bit(fits, cdnow):
    bg, gg = fits
    x, tx, T, m = cdnow
    s = scores(bg, gg, x, tx, T, m, horizon=HORIZON, months=12, monthly_discount=0.01)
    assert np.array_equal(s["p_alive"], bg.p_alive(x, tx, T))
    assert np.array_equal(s["purchases"], bg.expected_purchases(HORIZON, x, tx, T))
    assert np.array_equal(s["spend"], gg.expected_spend(x, m))
    value = customer_value(bg, gg, x, tx, T, m, months=12, monthly_discount=0.01)
    assert np.array_equal(s["value"], value)
    # Customer 1 of the paper (x 2, t_x 30.43, T 38.86): P(alive) 0.727 at the paper's fit.
    assert s["p_alive"][0] == pytest.approx(0.727, abs=0.001)


def test_the_holdouts_horizons_together_are_each_horizons_expectation(fits, cdnow):
    bg, _ = fits
    x, tx, T, _ = cdnow
    weeks = [1.0, 13.0, 26.0, 39.0]
    together = bg.expected_purchases_over(weeks, x, tx, T)
    for week, ahead in zip(weeks, together, strict=True):
        assert np.array_equal(ahead, bg.expected_purchases(week, x, tx, T))
    # Nothing is bought in no time; more is bought in more.
    assert np.array_equal(bg.expected_purchases_over([0.0], x, tx, T)[0], np.zeros(len(x)))
    assert (together[1] >= together[0]).all()


def test_fits_that_remember_their_passes_are_the_fits_that_do_not(cdnow, monkeypatch):
    x, tx, T, m = cdnow
    remembered = fit_bgnbd(x, tx, T), fit_gamma_gamma(x, m)

    def rows(xs, ms):  # every gamma computed again
        ones = np.ones_like(xs)
        return lambda gamma: _gamma_gamma._kernels.gamma_gamma_rows(gamma, xs, ms, ones)

    monkeypatch.setattr(_optimize, "_remembered", lambda loglik: loglik)
    monkeypatch.setattr(_gamma_gamma, "_rows", rows)
    again = fit_bgnbd(x, tx, T), fit_gamma_gamma(x, m)
    for ours, theirs in zip(remembered, again, strict=True):
        assert ours.params == theirs.params
        assert dict(ours.standard_errors) == dict(theirs.standard_errors)
        assert ours.log_likelihood == theirs.log_likelihood
    # The paper's fit (Fader, Hardie and Lee 2005): r 0.243, alpha 4.414, a 0.793, b 2.426.
    assert remembered[0].r == pytest.approx(0.243, abs=0.001)
    assert remembered[0].b == pytest.approx(2.426, abs=0.001)
