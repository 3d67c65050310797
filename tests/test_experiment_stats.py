"""The experiment readout's statistics against reference implementations and published numbers.

Welch against scipy, CUPED against a statsmodels regression, the relative interval and the
always-valid interval against GrowthBook's gbstats test cases, Benjamini-Hochberg and power
against statsmodels, and an A/A simulation with daily looks.
"""

from __future__ import annotations

import math
from dataclasses import astuple

import numpy as np
import pytest
from scipy import stats as sps

from cxm.errors import ExperimentError
from cxm.experiments import stats
from cxm.experiments.stats import Effect, decision, effect, effects, sample_ratio


def _with_moments(rng, n: int, total: float, sum_sq: float) -> np.ndarray:
    """Return n values whose sum and sum of squares are exactly the given ones."""
    mean = total / n
    var = (sum_sq - n * mean**2) / (n - 1)
    z = rng.normal(size=n)
    z = (z - z.mean()) / z.std(ddof=1)
    return mean + math.sqrt(var) * z


def test_the_lift_interval_and_p_value_are_welchs_as_scipy_computes_them():
    rng = np.random.default_rng(3)
    y = np.concatenate([rng.exponential(10, 700), rng.exponential(11, 450)])
    treated = np.r_[np.zeros(700, bool), np.ones(450, bool)]
    e = effect("revenue", y, treated)
    ref = sps.ttest_ind(y[treated], y[~treated], equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert (e.n_control, e.n_treatment, e.cuped) == (700, 450, False)
    assert e.lift == pytest.approx(y[treated].mean() - y[~treated].mean(), rel=1e-12)
    assert e.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert (e.ci_low, e.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert e.variance_reduction == 0


def test_cuped_gives_the_treatment_coefficient_and_robust_se_of_the_regression_on_x():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(1)
    n = 20_000
    treated = rng.random(n) < 0.4
    x = rng.gamma(2, 50, n)
    # unequal spread by arm, so only a heteroskedasticity-robust SE can agree (HC2 is Welch's
    # variance when the covariate is left out)
    y = 0.8 * x + rng.normal(0, 30 + 20 * treated, n) + 5 * treated
    e = effect("revenue", y, treated, x)
    design = np.column_stack([np.ones(n), treated.astype(float), x - x.mean()])
    ols = sm.OLS(y, design).fit(cov_type="HC2")
    assert e.cuped
    assert e.lift == pytest.approx(ols.params[1], rel=1e-10)
    assert e.se == pytest.approx(ols.bse[1], rel=1e-4)  # ours ignores theta's own noise
    # 1 - Var(adjusted) / Var(raw) is the share of y's variance x explains within the arms
    raw = effect("revenue", y, treated)
    assert e.variance_reduction == pytest.approx(1 - (e.se / raw.se) ** 2, rel=1e-12)
    assert 0.55 < e.variance_reduction < 0.7


def test_the_relative_interval_is_growthbooks_delta_method_on_its_published_case():
    # gbstats tests/frequentist/test_tests.py: control mean 0.41, sd 3.9, n 3407; treatment
    # mean 0.70, sd 6.2, n 3461 -> relative lift 0.70732, CI [-0.03526, 1.44989]
    rng = np.random.default_rng(0)
    c = 0.41 + 3.9 * (lambda z: (z - z.mean()) / z.std(ddof=1))(rng.normal(size=3407))
    t = 0.70 + 6.2 * (lambda z: (z - z.mean()) / z.std(ddof=1))(rng.normal(size=3461))
    e = effect("m", np.r_[c, t], np.r_[np.zeros(3407, bool), np.ones(3461, bool)])
    assert e.lift_rel == pytest.approx(0.70732, abs=5e-6)
    assert (e.rel_ci_low, e.rel_ci_high) == pytest.approx((-0.03526, 1.44989), abs=5e-6)


def test_the_always_valid_interval_is_the_mixture_sprt_growthbook_publishes():
    # gbstats tests/frequentist/test_tests.py, TestSequentialTTest: control sum 1396.87, sum of
    # squares 52377.9767, n 3000; treatment 2422.7, 134698.29, n 3461; tuning 1000 ->
    # relative lift 0.50336 (sd 0.33341), always-valid CI (-0.55844, 1.56516). gbstats tunes
    # rho^2 = (-2 ln a + ln(1 - 2 ln a)) / 1000 and scales by N V: our tau^2 = rho^2 N V.
    rng = np.random.default_rng(5)
    y = np.r_[
        _with_moments(rng, 3000, 1396.87, 52377.9767), _with_moments(rng, 3461, 2422.7, 134698.29)
    ]
    e = effect("m", y, np.r_[np.zeros(3000, bool), np.ones(3461, bool)])
    t975 = (e.rel_ci_high - e.lift_rel) / 2  # half the width over 2: (q x rel_se) / 2
    rel_se = 2 * t975 / sps.t.ppf(0.975, 1e9)  # near-normal df; checked to 5 decimals below
    assert e.lift_rel == pytest.approx(0.50336, abs=5e-6)
    assert rel_se == pytest.approx(0.33341, abs=2e-4)
    variance = 0.33341**2
    rho2 = (-2 * math.log(0.05) + math.log(1 - 2 * math.log(0.05))) / 1000
    half = float(stats.sequential_halfwidth(variance, rho2 * 6461 * variance))
    assert (e.lift_rel - half, e.lift_rel + half) == pytest.approx((-0.55844, 1.56516), abs=2e-5)


@pytest.mark.parametrize("variance, tau2", [(1.0, 1.0), (0.04, 0.5), (3.0, 0.01), (1e-6, 1e-4)])
def test_the_likelihood_ratio_of_johari_et_al_is_one_over_alpha_at_the_interval_edge(
    variance, tau2
):
    # Lambda = sqrt(V / (V + t)) exp(t d^2 / (2 V (V + t))), reject at Lambda >= 1 / alpha: the
    # interval's edge is where Lambda = 20, so the always-valid p there is 0.05.
    d = float(stats.sequential_halfwidth(variance, tau2))
    lam = math.sqrt(variance / (variance + tau2)) * math.exp(
        tau2 * d * d / (2 * variance * (variance + tau2))
    )
    assert lam == pytest.approx(20, rel=1e-9)
    assert float(stats.sequential_p(d, variance, tau2)) == pytest.approx(0.05, rel=1e-9)
    assert float(stats.sequential_p(0.9 * d, variance, tau2)) > 0.05


def test_the_default_mixture_makes_the_always_valid_interval_3_03_standard_errors():
    # tuned at the units read: t = 7.936 V, half-width = se sqrt(8.936 / 7.936 x (5.991 +
    # ln 8.936 = 2.190)) = se x sqrt(1.126 x 8.181) = 3.035 se
    rng = np.random.default_rng(2)
    e = effect("k", rng.normal(size=4000), rng.random(4000) < 0.5)
    assert (e.seq_ci_high - e.lift) / e.se == pytest.approx(3.035, abs=1e-3)
    assert e.seq_ci_high - e.seq_ci_low > e.ci_high - e.ci_low


def test_benjamini_hochberg_matches_statsmodels_multipletests():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p = [0.001, 0.2, 0.03, 0.04, 0.5, 0.011, 0.9, 0.049]
    es = [Effect("k", None, 9, 9, 1, 1, 0, 0, 0, 0, 0, 0, pv, 0, 0, 1, False, 0.0) for pv in p]
    _, expected, _, _ = multitest.multipletests(p, alpha=0.05, method="fdr_bh")
    assert [e.q_value for e in stats.adjust(es)] == pytest.approx(list(expected), rel=1e-12)


def test_a_sixty_forty_split_where_half_was_planned_fails_the_sample_ratio_check():
    # 4,000 control and 6,000 treatment, 5,000 expected each: chi2 = 2 x 1000^2 / 5000 = 400
    r = sample_ratio(4000, 6000, 0.5)
    assert r.observed_share == 0.6 and not r.ok
    assert r.p_value == pytest.approx(sps.chi2.sf(400, 1), rel=1e-9)
    # 4,960 / 5,040: chi2 = 2 x 40^2 / 5000 = 0.64, p = 0.42: fine
    fine = sample_ratio(4960, 5040, 0.5)
    assert fine.ok and fine.p_value == pytest.approx(sps.chi2.sf(0.64, 1), rel=1e-9)


def test_mde_and_units_needed_agree_with_statsmodels_normal_power():
    power = pytest.importorskip("statsmodels.stats.power")
    # 30% in treatment of 50,000 units, sd 12, CUPED r2 0.4: effect size in sd of the adjusted
    # KPI; statsmodels' nobs1 is the treatment arm, ratio = control / treatment
    m = stats.mde(12.0, 50_000, 0.3, cuped_r2=0.4)
    size = power.NormalIndPower().solve_power(
        nobs1=15_000, ratio=35_000 / 15_000, alpha=0.05, power=0.8, alternative="two-sided"
    )
    assert m == pytest.approx(size * 12 * math.sqrt(0.6), rel=1e-4)
    n = stats.units_needed(m, 12.0, 0.3, cuped_r2=0.4)
    assert abs(n - 50_000) <= 1


def test_effects_on_many_kpis_equal_one_effect_per_kpi_and_nan_rows_are_no_units():
    rng = np.random.default_rng(9)
    n = 3000
    treated = rng.random(n) < 0.5
    X = rng.gamma(2, 3, (n, 3))
    Y = X * [1.0, 0.5, 0.0] + rng.normal(0, 1, (n, 3)) + treated[:, None] * [0.3, 0, -0.2]
    Y[:10, 1] = np.nan  # ten units without a value of the second KPI
    X[20:30, 0] = np.nan  # ten without a pre-period value of the first
    many = effects(["a", "b", "c"], Y, treated, X)
    for k, e in enumerate(many):
        one = effect(e.kpi, Y[:, k], treated, X[:, k])
        assert [e.kpi, e.n_control, e.n_treatment, e.cuped] == [
            one.kpi,
            one.n_control,
            one.n_treatment,
            one.cuped,
        ]
        numbers = [v for v in astuple(one) if isinstance(v, float)]
        assert [v for v in astuple(e) if isinstance(v, float)] == pytest.approx(numbers, rel=1e-9)
    assert many[1].n_control + many[1].n_treatment == n - 10
    assert many[0].n_control + many[0].n_treatment == n


def test_the_sequential_interval_holds_its_level_when_an_a_a_test_is_read_every_day():
    # 200 random halvings of one synthetic field of 2,000 sellers followed 28 days, read every
    # day on three KPIs (ever ordered, revenue, orders; each seller's own rate and spend, and
    # their previous 28 days for CUPED). No effect: an interval that ever excludes zero is a
    # false alarm. Fixed-horizon intervals read daily alarm more often than 5%; the
    # always-valid ones stay at or under 5% + the binomial margin 1.96 sqrt(.05 .95 / 200).
    rng = np.random.default_rng(23)
    n, days, splits = 2000, 28, 200
    rate = rng.gamma(0.6, 0.05, n)
    spend = rng.lognormal(3.5, 0.8, n)
    pre_orders = rng.poisson(rate[:, None] * np.ones(days)).sum(axis=1)
    orders = np.cumsum(rng.poisson(rate[:, None] * np.ones(days)), axis=1)
    revenue = np.cumsum(rng.poisson(rate[:, None] * np.ones(days)) * spend[:, None], axis=1)
    pre = np.column_stack([pre_orders > 0, pre_orders * spend, pre_orders]).astype(float)
    fixed_alarm = np.zeros((splits, 3), bool)
    seq_alarm = np.zeros((splits, 3), bool)
    for s in range(splits):
        treated = rng.permutation(n) < n // 2
        for d in range(days):
            Y = np.column_stack([orders[:, d] > 0, revenue[:, d], orders[:, d]]).astype(float)
            for k, e in enumerate(effects(["ever", "revenue", "orders"], Y, treated, pre)):
                fixed_alarm[s, k] |= e.ci_low > 0 or e.ci_high < 0
                seq_alarm[s, k] |= e.seq_ci_low > 0 or e.seq_ci_high < 0
    margin = 0.05 + 1.96 * math.sqrt(0.05 * 0.95 / splits)
    assert (seq_alarm.mean(axis=0) <= margin).all(), seq_alarm.mean(axis=0)
    assert fixed_alarm.mean() > 0.05, fixed_alarm.mean(axis=0)  # peeking does inflate them


def _e(kpi, low, high, seq_low=None, seq_high=None, segment=None):
    mid = (low + high) / 2
    return Effect(
        kpi,
        segment,
        500,
        500,
        1.0,
        1.0 + mid,
        mid,
        mid,
        low,
        high,
        low,
        high,
        0.01,
        seq_low if seq_low is not None else low,
        seq_high if seq_high is not None else high,
        0.01,
        False,
        0.0,
    )


OK = sample_ratio(5000, 5000, 0.5)


@pytest.mark.parametrize(
    "effects_, running, expected",
    [
        (
            [_e("reorder", 0.01, 0.05), _e("returns", -0.01, 0.02)],
            False,
            "Treatment better on reorder, and no guardrail worse.",
        ),
        (
            [_e("reorder", 0.01, 0.05), _e("returns", 0.01, 0.02)],
            False,
            "Treatment better on reorder, worse on guardrail returns.",
        ),  # returns: lower is better
        (
            [_e("reorder", -0.01, 0.05), _e("revenue", -0.2, -0.1)],
            False,
            "No effect on reorder the test could see; treatment worse on guardrail revenue.",
        ),
        ([_e("reorder", -0.01, 0.05)], False, "No effect on reorder the test could see."),
        (
            [_e("reorder", 0.01, 0.05, -0.01, 0.07)],
            True,
            "Keep testing: reorder has not moved beyond chance yet (the always-valid interval "
            "makes a daily look safe).",
        ),
        (
            [_e("reorder", -0.05, -0.02, -0.06, -0.01)],
            True,
            "Treatment worse on reorder (the always-valid interval already excludes zero: the "
            "test can stop).",
        ),
        (
            [_e("reorder", -0.01, 0.05), _e("reorder", 0.2, 0.3, segment="market=BR")],
            False,
            "No effect on reorder the test could see.",
        ),  # a segment's effect is not the decision
    ],
)
def test_the_decision_reads_the_primary_and_the_guardrails_in_their_direction(
    effects_, running, expected
):
    got = decision(
        effects_,
        "reorder",
        ["returns", "revenue"],
        srm=OK,
        running=running,
        lower_is_better={"returns"},
    )
    assert got == expected


def test_a_failed_sample_ratio_check_withholds_the_decision():
    got = decision(
        [_e("reorder", 0.01, 0.05)], "reorder", [], srm=sample_ratio(4000, 6000, 0.5), running=False
    )
    assert got.startswith("Readout withheld: the split came out 60.0% treatment where 50% was")


@pytest.mark.parametrize(
    "call, code",
    [
        (lambda: stats.mde(1.0, 1000, 1.0), "bad_share"),
        (lambda: stats.mde(1.0, 1000, 0.5, power=1.2), "bad_probability"),
        (lambda: stats.mde(0.0, 1000, 0.5), "bad_spread"),
        (lambda: stats.units_needed(0.0, 1.0, 0.5), "bad_effect"),
        (lambda: stats.sample_ratio(10, 10, 0.0), "bad_share"),
        (lambda: effect("k", [1.0, 2.0, 3.0], [True, False]), "shape_mismatch"),
        (lambda: decision([_e("a", 0, 1)], "b", [], srm=OK, running=False), "no_readout"),
    ],
)
def test_bad_inputs_are_refused_with_their_code(call, code):
    with pytest.raises(ExperimentError) as caught:
        call()
    assert caught.value.code == code
