"""The suite's own settings: what makes it pass on a busy machine as on a quiet one."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def test_a_property_test_has_no_deadline_and_no_too_slow_check_unless_it_asks():
    # tests/conftest.py loads the "cxm" profile: with two workers and another process on a
    # core, test_exports_injection took 403 ms on one example and failed Hypothesis's default
    # 200 ms deadline, in a run where nothing was wrong.
    assert settings.default.deadline is None
    assert HealthCheck.too_slow in settings.default.suppress_health_check
