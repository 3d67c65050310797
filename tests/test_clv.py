"""Predicted customer value (issue 14): BG/NBD and Gamma-Gamma against their papers, against
lifetimes (the reference), against data drawn from known parameters, and where lifetimes fails.

Paper numbers: Fader, Hardie and Lee (2005), "Counting your customers the easy way", CDNOW
sample of 2,357 customers, 39 calibration weeks: r 0.243, alpha 4.414, a 0.793, b 2.426,
LL -9582.4. Fader and Hardie (2013), "The Gamma-Gamma model of monetary value", the 946 repeat
buyers: p 6.25, q 3.74, gamma 15.44. The fixtures in tests/fixtures/clv/ are lifetimes 0.11.3's
copies of that sample (cdnow_sample.csv is its CDNOW_sample.txt as customer_id, date, amount).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import math
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import calibration_and_holdout_data
from scipy import integrate, stats
from typer.testing import CliRunner

from cxm.cli import app
from cxm.metrics.clv import (
    BgNbdFit,
    GammaGammaFit,
    ModelError,
    SeriesCapped,
    customer_value,
    fit_bgnbd,
    fit_gamma_gamma,
    summary,
)

from .conftest import FIXTURES

CLV = FIXTURES / "clv"
PAPER_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PAPER_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}
CAL_END, HOLDOUT_END = dt.date(1997, 9, 30), dt.date(1998, 6, 30)


@pytest.fixture(scope="module")
def cdnow():
    """x, t_x, T (weeks) and the mean repeat spend zbar of the 2,357 CDNOW customers."""
    d = pl.read_csv(CLV / "cdnow_customers_summary_with_transactions.csv")
    return tuple(d[c].to_numpy().astype(float) for c in ("x", "t_x", "T", "zbar"))


@pytest.fixture(scope="module")
def fits(cdnow):
    x, tx, T, m = cdnow
    return fit_bgnbd(x, tx, T), fit_gamma_gamma(x, m)


@pytest.fixture(scope="module")
def reference(cdnow):
    """lifetimes fitted on the same customers (its own optimiser and tolerance)."""
    x, tx, T, m = cdnow
    bg = BetaGeoFitter().fit(pd.Series(x), pd.Series(tx), pd.Series(T))
    repeat = x > 0
    gg = GammaGammaFitter().fit(pd.Series(x[repeat]), pd.Series(m[repeat]))
    return bg, gg


def _lifetimes_models(fit: BgNbdFit, gg: GammaGammaFit | None = None):
    """lifetimes models holding exactly our parameters, to compare formulas alone."""
    bg = BetaGeoFitter()
    bg.params_ = pd.Series(fit.params)
    bg.predict = bg.conditional_expected_number_of_purchases_up_to_time
    ggf = GammaGammaFitter()
    if gg is not None:
        ggf.params_ = pd.Series({"p": gg.p, "q": gg.q, "v": gg.gamma})
    return bg, ggf


def _story_expectation(fit: BgNbdFit, t: float, x: float, tx: float, T: float) -> float:
    """E[Y(t)] from the model's story by quadrature, with no hypergeometric function and no
    division by a - 1: alive at T, lambda ~ Gamma(r+x, alpha+T) and p ~ Beta(a, b+x); a live
    customer with (lambda, p) buys (1 - exp(-lambda p t))/p more times (FHL 2005, eq. 7), and
    E over lambda of exp(-lambda p t) is ((alpha+T)/(alpha+T+p t))^(r+x). Times P(alive)."""
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b

    def integrand(p):
        gain = -math.expm1(-(r + x) * math.log1p(p * t / (alpha + T))) / p
        return gain * math.exp(stats.beta.logpdf(p, a, b + x))

    mode = max((a - 1) / (a + b + x - 2), 1e-9) if a > 1 else 1e-9
    value, _ = integrate.quad(integrand, 0, 1, points=[mode], limit=500, epsabs=0, epsrel=1e-12)
    return value * float(fit.p_alive([x], [tx], [T])[0])


# --- the papers -------------------------------------------------------------------------


def test_bgnbd_fit_on_cdnow_reproduces_fader_hardie_lee_2005(fits):
    fit, _ = fits
    for name, value in PAPER_BG.items():
        assert fit.params[name] == pytest.approx(value, rel=0.01), name
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.1)
    assert fit.n_customers == 2357 and fit.converged and fit.notes == ()


def test_gamma_gamma_fit_on_cdnow_repeat_buyers_reproduces_fader_hardie_2013(fits):
    _, gg = fits
    for name, value in PAPER_GG.items():
        assert gg.params[name] == pytest.approx(value, rel=0.01), name
    assert gg.n_customers == 946 and gg.converged


def test_fits_and_standard_errors_agree_with_lifetimes(fits, reference):
    fit, gg = fits
    bg_ref, gg_ref = reference
    for name in ("r", "alpha", "a", "b"):
        assert fit.params[name] == pytest.approx(bg_ref.params_[name], rel=1e-4)
        assert fit.standard_errors[name] == pytest.approx(
            bg_ref.summary.loc[name, "se(coef)"], rel=0.01
        )
    for ours, theirs in (("p", "p"), ("q", "q"), ("gamma", "v")):
        assert gg.params[ours] == pytest.approx(gg_ref.params_[theirs], rel=1e-4)
        assert gg.standard_errors[ours] == pytest.approx(
            gg_ref.summary.loc[theirs, "se(coef)"], rel=0.01
        )


def test_fit_to_dict_is_json_with_params_errors_and_fit(fits):
    data = json.loads(json.dumps(fits[0].to_dict()))
    assert set(data["params"]) == {"r", "alpha", "a", "b"}
    assert set(data["standard_errors"]) == {"r", "alpha", "a", "b"}
    assert data["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    assert data["n_customers"] == 2357 and data["converged"] is True


# --- the summary ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def transactions():
    return pl.read_csv(CLV / "cdnow_sample.csv", schema_overrides={"customer_id": pl.String})


def test_summary_of_the_cdnow_transactions_is_the_papers_summary(transactions, cdnow):
    ours = summary(
        transactions, customer="customer_id", date="date", amount="amount", calibration_end=CAL_END
    )
    # The paper's file numbers customers 1..2357 in its own order and rounds weeks and spend
    # to 2 decimals (days / 7 never ends in a 5 at the third decimal): the same rows, sorted.
    assert ours.height == 2357

    def rows(x, tx, T, m):
        key = np.lexsort((np.round(m, 2), np.round(T, 2), np.round(tx, 2), x))
        return np.column_stack([x, tx, T, m])[key]

    mine = rows(
        *(ours[c].to_numpy().astype(float) for c in ("frequency", "recency", "T", "monetary_value"))
    )
    np.testing.assert_allclose(mine, rows(*cdnow), rtol=0, atol=0.005 + 1e-9)


def test_summary_with_holdout_matches_lifetimes_to_the_last_digit(transactions):
    # Except monetary_value_holdout: lifetimes averages the holdout's orders there, not its
    # purchase days as it does for the calibration (and as we do for both).
    ours = summary(
        transactions,
        customer="customer_id",
        date="date",
        amount="amount",
        calibration_end=CAL_END,
        holdout_end=HOLDOUT_END,
    )
    frame = transactions.to_pandas()
    ref = calibration_and_holdout_data(
        frame,
        "customer_id",
        "date",
        calibration_period_end="1997-09-30",
        observation_period_end="1998-06-30",
        freq="D",
        freq_multiplier=7,
        monetary_value_col="amount",
    ).sort_index()
    assert list(ours["customer_id"]) == list(ref.index)
    for ours_col, ref_col in [
        ("frequency", "frequency_cal"),
        ("recency", "recency_cal"),
        ("T", "T_cal"),
        ("monetary_value", "monetary_value_cal"),
        ("frequency_holdout", "frequency_holdout"),
        ("duration_holdout", "duration_holdout"),
    ]:
        np.testing.assert_allclose(ours[ours_col].to_numpy(), ref[ref_col].to_numpy(), rtol=1e-12)


def test_summary_merges_same_day_orders_and_leaves_the_first_day_out_of_spend():
    # C1: Jan 1 (10 + 5), Jan 15 (20), Jan 29 (40 at 09:00 and 2 at 18:00) -> 3 days, x = 2,
    # t_x = 28 days = 4 weeks, T = 4 weeks, monetary (20 + 42) / 2 = 31. Feb 3 is after the end.
    orders = pl.DataFrame(
        {
            "c": ["C1"] * 6,
            "at": [dt.datetime(2026, 1, d, h) for d, h in [(1, 9), (1, 10), (15, 9), (29, 9)]]
            + [dt.datetime(2026, 1, 29, 18), dt.datetime(2026, 2, 3, 9)],
            "amt": [10.0, 5.0, 20.0, 40.0, 2.0, 99.0],
        }
    )
    row = summary(
        orders, customer="c", date="at", amount="amt", calibration_end=dt.date(2026, 1, 29)
    )
    assert row.rows(named=True) == [
        {"c": "C1", "frequency": 2, "recency": 4.0, "T": 4.0, "monetary_value": 31.0}
    ]


# --- predictions against lifetimes ------------------------------------------------------


def test_predictions_agree_with_lifetimes_on_every_cdnow_customer(fits, cdnow):
    fit, gg = fits
    x, tx, T, m = cdnow
    bg_ref, gg_ref = _lifetimes_models(fit, gg)
    s = pd.Series
    for t in (1.0, 39.0, 52.14, 520.0):
        ref = bg_ref.conditional_expected_number_of_purchases_up_to_time(t, s(x), s(tx), s(T))
        assert np.isfinite(ref).all()
        np.testing.assert_allclose(fit.expected_purchases(t, x, tx, T), ref, rtol=1e-6)
    ref = bg_ref.conditional_probability_alive(s(x), s(tx), s(T))
    np.testing.assert_allclose(fit.p_alive(x, tx, T), ref, rtol=1e-6)
    ref = gg_ref.conditional_expected_average_profit(s(x), s(m))
    np.testing.assert_allclose(gg.expected_spend(x, m), ref, rtol=1e-6)
    for months, d in ((12, 0.01), (36, 0.02)):
        ref = gg_ref.customer_lifetime_value(
            bg_ref, s(x), s(tx), s(T), s(m), time=months, discount_rate=d, freq="W"
        )
        assert np.isfinite(ref).all()
        ours = customer_value(fit, gg, x, tx, T, m, months=months, monthly_discount=d)
        np.testing.assert_allclose(ours, ref, rtol=1e-6)


def test_without_discount_value_is_expected_spend_times_expected_purchases(fits, cdnow):
    # The monthly differences telescope: sum_i E[Y(i u)] - E[Y((i-1) u)] = E[Y(12 u)].
    fit, gg = fits
    x, tx, T, m = cdnow
    value = customer_value(fit, gg, x, tx, T, m, months=12, monthly_discount=0.0)
    expected = gg.expected_spend(x, m) * fit.expected_purchases(12 * 4.345, x, tx, T)
    np.testing.assert_allclose(value, expected, rtol=1e-12)


def test_expected_spend_of_a_customer_who_never_came_back_is_the_population_mean(fits):
    _, gg = fits
    # p gamma / (q - 1) with the paper's rounding: 6.25 * 15.44 / 2.74 = 35.22
    assert gg.expected_spend([0], [0.0])[0] == pytest.approx(35.22, rel=0.01)


def test_a_heavy_buyer_where_lifetimes_gives_nan_is_finite_and_matches_the_story():
    # A population of frequent buyers (r 5, alpha 2, a 2, b 0.5); customer x = 300 repeat
    # days, the last at T = 38.86 weeks; the next 520 weeks. lifetimes' 2F1(305, 300.5; 301.5;
    # z) overflows and its fallback takes the log of a negative number: NaN.
    fit = BgNbdFit(r=5.0, alpha=2.0, a=2.0, b=0.5)
    bg_ref, _ = _lifetimes_models(fit)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = bg_ref.conditional_expected_number_of_purchases_up_to_time(520, 300, 38.86, 38.86)
    assert not np.isfinite(theirs)
    ours = float(fit.expected_purchases(520, [300], [38.86], [38.86])[0])
    assert ours == pytest.approx(_story_expectation(fit, 520, 300, 38.86, 38.86), rel=1e-8)
    # Bounds: P(alive) = 1/(1 + a/(b+x-1)) = 1/(1 + 2/299.5) as t_x = T. A live customer buys
    # at most 1/p more times, E[1/p | alive] = (a+b+x-1)/(a-1) = 301.5 under Beta(2, 300.5);
    # and at most lambda t, E[lambda | alive] = (r+x)/(alpha+T) = 305/40.86 a week.
    p_alive = 1 / (1 + 2 / 299.5)
    assert 0 < ours <= p_alive * min(301.5, 520 * 305 / 40.86)
    assert ours > 0.9 * p_alive * 301.5  # ten years: most of what is left is bought


@pytest.mark.parametrize("a", [1.0, 1 + 1e-12, 1 - 1e-12])
def test_a_equal_to_one_is_the_limit_not_a_division_by_zero(fits, a):
    # CDNOW customer 1 (x 2, t_x 30.43, T 38.86) over 52 weeks, with the fitted a replaced.
    fit = dataclasses.replace(fits[0], a=a)
    ours = float(fit.expected_purchases(52, [2], [30.43], [38.86])[0])
    assert ours == pytest.approx(_story_expectation(fit, 52, 2, 30.43, 38.86), rel=1e-8)
    # E is smooth in a: the mean of lifetimes at a = 1 +- 1e-4 is within h^2 E''/2 ~ 1e-9.
    near = []
    for h in (1e-4, -1e-4):
        bg_ref, _ = _lifetimes_models(dataclasses.replace(fit, a=1 + h))
        near.append(bg_ref.conditional_expected_number_of_purchases_up_to_time(52, 2, 30.43, 38.86))
    assert ours == pytest.approx(sum(near) / 2, rel=1e-7)
    bg_ref, _ = _lifetimes_models(fit)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = bg_ref.conditional_expected_number_of_purchases_up_to_time(52, 2, 30.43, 38.86)
    # lifetimes divides by a - 1: -inf at a = 1, and 1e-4 off (cancellation) next to it.
    assert not np.isfinite(theirs) or abs(theirs / ours - 1) > 1e-5


def test_a_horizon_far_beyond_the_series_cap_warns_and_stays_finite():
    # alpha + T = 1 and t = 1e9 weeks: z = 1 - 1e-9, the series needs ~1e10 terms.
    fit = BgNbdFit(r=1.0, alpha=1.0, a=0.5, b=2.0)
    with pytest.warns(SeriesCapped, match="100,000 terms"):
        value = fit.expected_purchases(1e9, [0], [0.0], [0.0])
    assert np.isfinite(value).all() and value[0] > 0


# --- data drawn from known parameters ---------------------------------------------------


def _draw_bgnbd(n, r, alpha, a, b, seed):
    """The BG/NBD story: first purchase on a day of the first 12 of 39 weeks, lambda ~
    Gamma(r, rate alpha), p ~ Beta(a, b), Poisson purchases, dropout after each repeat
    purchase with probability p. The x-th of N Poisson event times in [0, T] is T Beta(x,
    N-x+1)."""
    rng = np.random.default_rng(seed)
    T = (273 - rng.integers(0, 84, n)) / 7.0
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    events = rng.poisson(lam * T)
    x = np.minimum(events, rng.geometric(p))
    tx = np.zeros(n)
    k = x > 0
    tx[k] = T[k] * rng.beta(x[k], events[k] - x[k] + 1)
    return x.astype(float), tx, T


def test_bgnbd_fit_recovers_the_parameters_it_was_drawn_from():
    x, tx, T = _draw_bgnbd(20_000, 0.243, 4.414, 0.793, 2.426, seed=14)
    fit = fit_bgnbd(x, tx, T)
    assert fit.converged
    for name, true in PAPER_BG.items():
        assert abs(fit.params[name] - true) < 2 * fit.standard_errors[name], name


def test_gamma_gamma_fit_recovers_the_parameters_it_was_drawn_from():
    # nu ~ Gamma(q, rate gamma) per customer; each of x purchases ~ Gamma(p, rate nu), so their
    # sum is Gamma(p x, rate nu) and m its mean.
    rng = np.random.default_rng(14)
    x = rng.poisson(2.0, 20_000) + 1.0
    nu = rng.gamma(3.74, 1 / 15.44, len(x))
    m = rng.gamma(6.25 * x, 1 / nu) / x
    gg = fit_gamma_gamma(x, m)
    assert gg.converged and gg.n_customers == 20_000
    for name, true in PAPER_GG.items():
        assert abs(gg.params[name] - true) < 2 * gg.standard_errors[name], name


# --- failures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "tx", "T", "code", "words"),
    [
        ([2], [3.0], [5.0], "too_few_customers", "at least 2 customers; got 1"),
        ([0, 0, 0], [0, 0, 0], [5.0, 3.0, 1.0], "no_repeat_buyers", "none of the 3 customers"),
        ([0, 0], [0, 0], [0.0, 0.0], "no_observation_time", "all 2 customers have age T = 0"),
        ([1, 2], [6.0, 1.0], [5.0, 5.0], "bad_input", "recency above its age T"),
        ([1.5, 2], [1.0, 1.0], [5.0, 5.0], "bad_input", "not a whole number"),
        ([-1, 2], [0.0, 1.0], [5.0, 5.0], "bad_input", "not a whole number"),
        ([1, 2], [float("nan"), 1.0], [5.0, 5.0], "bad_input", "not finite"),
        ([0, 2], [1.0, 1.0], [5.0, 5.0], "bad_input", "but no repeat purchase"),
        ([1, 2], [1.0], [5.0, 5.0], "bad_input", "have 2, 1 and 2 values"),
    ],
)
def test_bgnbd_refuses_data_it_cannot_fit_with_a_code(x, tx, T, code, words):
    with pytest.raises(ModelError) as info:
        fit_bgnbd(x, tx, T)
    assert info.value.code == code
    assert words in str(info.value)


def test_everyone_buying_on_one_day_is_no_repeat_buyers_or_no_time():
    orders = pl.DataFrame({"c": ["A", "B", "C"], "d": [dt.date(2026, 1, 5)] * 3, "amt": [1.0] * 3})
    before_end = summary(orders, customer="c", date="d", calibration_end=dt.date(2026, 3, 1))
    with pytest.raises(ModelError) as info:
        fit_bgnbd(before_end["frequency"], before_end["recency"], before_end["T"])
    assert info.value.code == "no_repeat_buyers"
    on_end = summary(orders, customer="c", date="d", calibration_end=dt.date(2026, 1, 5))
    with pytest.raises(ModelError) as info:
        fit_bgnbd(on_end["frequency"], on_end["recency"], on_end["T"])
    assert info.value.code == "no_observation_time"


def test_data_with_no_dropout_gives_a_finite_fit_flagged_at_its_bound():
    # Nobody ever drops out (p = 0): Poisson buyers watched to T. The likelihood keeps rising
    # as a -> 0 or b -> infinity, so one of them must end on its bound.
    rng = np.random.default_rng(5)
    T = np.full(5_000, 52.0)
    events = rng.poisson(rng.gamma(2.0, 1 / 10.0, len(T)) * T)
    tx = np.where(events > 0, T * rng.beta(np.maximum(events, 1), 1), 0.0)
    fit = fit_bgnbd(events.astype(float), tx, T)
    assert not fit.converged
    assert any(
        ("a ran to its lower bound" in n) or ("b ran to its upper bound" in n) for n in fit.notes
    )
    assert all(math.isfinite(v) for v in fit.params.values())
    assert np.isfinite(fit.expected_purchases(52, events, tx, T)).all()


@pytest.mark.parametrize(
    ("x", "m", "code", "words"),
    [
        ([0, 3, 0], [0.0, 20.0, 0.0], "too_few_customers", "there are 1 among 3"),
        ([1, 3], [0.0, 20.0], "bad_spend", "not above 0"),
        ([1, 3], [float("inf"), 20.0], "bad_spend", "not above 0"),
    ],
)
def test_gamma_gamma_refuses_data_it_cannot_fit_with_a_code(x, m, code, words):
    with pytest.raises(ModelError) as info:
        fit_gamma_gamma(x, m)
    assert info.value.code == code
    assert words in str(info.value)


def test_spend_with_an_infinite_mean_is_refused():
    # nu ~ Gamma(q = 0.6, ...): a customer's mean spend p/nu has no finite mean.
    rng = np.random.default_rng(3)
    x = rng.poisson(2.0, 5_000) + 1.0
    nu = rng.gamma(0.6, 1 / 15.0, len(x))
    m = rng.gamma(6.0 * x, 1 / nu) / x
    with pytest.raises(ModelError) as info:
        fit_gamma_gamma(x, m)
    assert info.value.code == "infinite_mean_spend"
    assert "q = 0." in str(info.value)
    with pytest.raises(ModelError) as info:
        GammaGammaFit(p=2.0, q=1.0, gamma=3.0).expected_spend([1], [10.0])
    assert info.value.code == "infinite_mean_spend"


@pytest.mark.parametrize(
    ("kwargs", "code", "words"),
    [
        ({"customer": "client"}, "unknown_column", "its columns are customer_id, date, amount"),
        ({"holdout_end": dt.date(1997, 9, 1)}, "bad_period", "must come after calibration_end"),
        ({"calibration_end": dt.date(1996, 12, 31)}, "no_customers", "1996-12-31"),
        ({"unit": "M"}, "bad_unit", 'unit "M"'),
    ],
)
def test_summary_refuses_bad_arguments_with_a_code(transactions, kwargs, code, words):
    args = {"customer": "customer_id", "date": "date", "amount": "amount"}
    args |= {"calibration_end": CAL_END} | kwargs
    with pytest.raises(ModelError) as info:
        summary(transactions, **args)
    assert info.value.code == code
    assert words in str(info.value)


def test_summary_refuses_dates_that_are_not_dates():
    orders = pl.DataFrame({"c": ["A", "B"], "d": ["2026-01-05", "5 Jan"], "amt": [1.0, 2.0]})
    with pytest.raises(ModelError) as info:
        summary(orders, customer="c", date="d", calibration_end=dt.date(2026, 3, 1))
    assert info.value.code == "bad_value"


# --- the command line --------------------------------------------------------------------

runner = CliRunner()
CDNOW_CSV = str(CLV / "cdnow_sample.csv")


def test_cli_fits_both_models_and_prints_json():
    result = runner.invoke(
        app, ["clv", CDNOW_CSV, "--calibration-end", "1997-09-30", "--holdout-end", "1998-06-30"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["customers"] == 2357 and data["repeat_buyers"] == 946
    for name, value in PAPER_BG.items():
        assert data["bg_nbd"]["params"][name] == pytest.approx(value, rel=0.01)
    for name, value in PAPER_GG.items():
        assert data["gamma_gamma"]["params"][name] == pytest.approx(value, rel=0.01)
    assert data["bg_nbd"]["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    assert data["holdout"]["weeks"] == 39.0


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_cli_writes_one_prediction_row_per_customer(tmp_path, suffix):
    out = tmp_path / f"clv{suffix}"
    args = ["clv", CDNOW_CSV, "--calibration-end", "1997-09-30", "--months", "12"]
    result = runner.invoke(app, [*args, "--predictions", str(out)])
    assert result.exit_code == 0, result.output
    table = (
        pl.read_csv(out, schema_overrides={"customer_id": pl.String})
        if suffix == ".csv"
        else (pl.read_parquet(out))
    )
    assert table.height == 2357
    assert table.columns == [
        "customer_id",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "p_alive",
        "expected_purchases",
        "expected_spend",
        "clv",
    ]
    first = table.row(0, named=True)
    # Customer 00004 is the paper's customer 1: x 2, t_x 30.43, T 38.86; P(alive) 0.7266 with
    # the paper's parameters (lifetimes gives 0.72661).
    assert first["customer_id"] == "00004" and first["frequency"] == 2
    assert first["p_alive"] == pytest.approx(0.7266, abs=1e-3)
    assert (table["clv"] > 0).all()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--customer-col", "client"], "--customer-col: column 'client' is not in"),
        (["--amount-col", "value"], "its columns are customer_id, date, amount"),
        (["--holdout-end", "1997-01-01"], "--holdout-end: 1997-01-01 must come after"),
        (["--holdout-end", "1998-02-30"], "--holdout-end"),
        (["--months", "0"], "--months: 0 must be 1 to 1200"),
        (["--predictions", "out.xlsx"], "--predictions"),
    ],
)
def test_cli_bad_arguments_exit_2_name_the_argument_and_write_nothing(tmp_path, extra, words):
    out = tmp_path / "p.csv"
    extra = [str(tmp_path / e) if e == "out.xlsx" else e for e in extra]
    has_out = "--predictions" in extra
    args = ["clv", CDNOW_CSV, "--calibration-end", "1997-09-30", *extra]
    result = runner.invoke(app, args if has_out else [*args, "--predictions", str(out)])
    assert result.exit_code == 2
    assert words in result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_missing_file_and_bad_calibration_date_exit_2(tmp_path):
    result = runner.invoke(
        app, ["clv", str(tmp_path / "no.csv"), "--calibration-end", "1997-09-30"]
    )
    assert result.exit_code == 2 and "does not exist" in result.output
    result = runner.invoke(app, ["clv", CDNOW_CSV, "--calibration-end", "30/09/1997"])
    assert result.exit_code == 2 and "--calibration-end" in result.output


def test_cli_model_failure_exits_1_with_the_code(tmp_path):
    path = tmp_path / "once.csv"
    path.write_text("customer_id,date,amount\nA,2026-01-05,10\nB,2026-01-05,12\nC,2026-02-01,7\n")
    result = runner.invoke(app, ["clv", str(path), "--calibration-end", "2026-02-01"])
    assert result.exit_code == 1
    assert "[no_repeat_buyers]" in result.output


# Issue 19, finding 9: each bad row used to be taken silently (a negative amount, a blank
# customer, a missing amount each made a customer) or misnamed (a non-numeric amount was a date
# error; date errors named no row). Rows as a spreadsheet shows them: header = row 1.
BAD_TRANSACTIONS = (
    "customer_id,date,amount\n"  # row 1
    "A,2026-01-05,10.00\n"  # row 2: good
    "A,2026-02-05,-3.00\n"  # row 3: negative amount
    ",2026-02-06,12.00\n"  # row 4: blank customer
    "B,2026-02-07,\n"  # row 5: missing amount
    "C,2026-02-08,ten\n"  # row 6: not a number
    "D,05/02/2026,8.00\n"  # row 7: not YYYY-MM-DD
    "B,2026-03-01,9.50\n"  # row 8: good
)


def test_cli_names_every_bad_transaction_row_with_its_code_and_fits_nothing(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(BAD_TRANSACTIONS)
    out = tmp_path / "p.csv"
    args = ["clv", str(path), "--calibration-end", "2026-02-28", "--predictions", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.stdout == "" and not out.exists()
    lines = result.stderr.splitlines()
    assert lines == [
        "orders.csv rejected: 5 problems. Nothing was fitted.",
        'orders.csv row 3, amount: "-3.00" is negative; amounts are 0 or more [negative_amount].',
        "orders.csv row 4, customer_id: is empty; every transaction needs a customer id "
        "[missing_value].",
        "orders.csv row 5, amount: is empty; every transaction needs an amount [missing_value].",
        'orders.csv row 6, amount: "ten" is not a number (write 12.50, no currency sign or '
        "commas) [not_a_number].",
        'orders.csv row 7, date: "05/02/2026" is not a date written YYYY-MM-DD [bad_date].',
    ]


def test_bad_transaction_rows_are_listed_up_to_the_cap_and_all_counted(tmp_path):
    from cxm.errors import TransactionsRejected
    from cxm.metrics.clv import read_transactions

    # In Parquet the first record is row 1: 25 negative amounts (rows 1-25) and one blank
    # customer (row 26) are 26 problems; 20 negatives (the cap per column and code) are listed,
    # and the blank customer.
    rows = [f"A{i},2026-01-{i + 1:02d},-1" for i in range(25)] + [",2026-01-02,5"]
    text = "customer_id,date,amount\n" + "\n".join(rows)
    path = tmp_path / "t.parquet"
    pl.read_csv(io.StringIO(text), infer_schema=False).write_parquet(path)
    with pytest.raises(TransactionsRejected) as info:
        read_transactions(path, customer="customer_id", date="date", amount="amount")
    assert info.value.total == 26
    assert [(i.row, i.code) for i in info.value.issues] == [
        *((r, "negative_amount") for r in range(1, 21)),
        (26, "missing_value"),
    ]


@pytest.mark.parametrize(
    ("extra", "day"),
    [
        (["--calibration-end", "2001-09-30"], "--calibration-end 2001-09-30"),
        (["--calibration-end", "1996-12-31"], "--calibration-end 1996-12-31"),
        (["--calibration-end", "1997-09-30", "--holdout-end", "1999-06-30"], "--holdout-end"),
    ],
)
def test_a_calibration_end_outside_the_purchases_is_refused_with_their_range(extra, day):
    # The CDNOW sample's purchases run from 1997-01-01 to 1998-06-30. A calibration end years
    # after them used to fit nonsense (r 0.108) without a word.
    result = runner.invoke(app, ["clv", CDNOW_CSV, *extra])
    assert result.exit_code == 1 and result.stdout == ""
    assert day in result.stderr
    assert "(1997-01-01 to 1998-06-30)" in result.stderr
    assert "[calibration_outside_purchases]" in result.stderr
