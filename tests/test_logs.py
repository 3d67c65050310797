"""The ``cxm`` log: loads with each stage's duration and rows, fits that did not converge, slow
queries and sign-in events, one structured line each (issue 20, finding 7: one logger had three
calls, none of them for a load, a fit or a query)."""

from __future__ import annotations

import logging

import numpy as np
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from cxm import logs
from cxm.errors import CxmError
from tests.conftest import TINY, TINY_ROWS, TINY_TODAY


def _events(caplog, name: str | None = None) -> list[logging.LogRecord]:
    return [r for r in caplog.records if hasattr(r, "event") and name in (None, r.event)]


def test_a_load_logs_each_table_and_stage_with_its_rows_and_duration(caplog, tmp_path):
    from cxm.pipeline import import_dir
    from cxm.state.facts import FACTS
    from cxm.warehouse.schema import TABLES

    caplog.set_level(logging.INFO, logger="cxm")
    import_dir(TINY, path=tmp_path / "cxm.duckdb", today=TINY_TODAY)
    # One line per table of the schema, in its order, with the rows of the tiny company's file
    # (TINY_ROWS, counted by hand in the files). The fill stage's rows are their sum over the
    # table list, so a new table (its file and its TINY_ROWS line) moves both.
    written = {r.fields["table"]: r.fields["rows"] for r in _events(caplog, "table_written")}
    assert list(written) == list(TABLES) and written == TINY_ROWS
    loaded = sum(TINY_ROWS[table] for table in TABLES)
    # Before anything is written: each file read and checked on its own, with its rows, then
    # the checks across tables and the warnings.
    checking = [(r.fields["stage"], r.fields.get("table")) for r in _events(caplog, "import_stage")]
    assert checking == [("read_checked", t) for t in TABLES] + [
        ("keys", None),
        ("references", None),
        ("warnings", None),
    ]
    read = {r.fields["table"]: r.fields["rows"] for r in _events(caplog, "import_stage")[:-3]}
    assert read == TINY_ROWS
    stages = {r.fields["stage"]: r.fields for r in _events(caplog, "load_stage")}
    assert list(stages) == ["fill", "facts", "customer_value", "seller_state", "segments", "cube"]
    assert stages["segments"]["rows"] == 12  # every seller enrolled by the as-of date
    assert stages["fill"]["rows"] == loaded
    facts = {r.fields["fact"]: r.fields["rows"] for r in _events(caplog, "fact_built")}
    assert list(facts) == [f.name for f in FACTS] + ["seller_state"]
    # One row per seller (12) and per customer (10); the facts stage is the sum of its facts.
    assert (facts["fact_sellers"], facts["fact_customers"]) == (12, 10)
    assert stages["facts"]["rows"] == sum(facts.values()) - facts["seller_state"]
    # Live on 2026-03-02: the 12 sellers but S06 and S12, who left = 10.
    assert stages["seller_state"]["rows"] == facts["seller_state"] == 10
    # 10 customers are under the 200 a fit needs: no values, and the log says why.
    assert stages["customer_value"]["rows"] == 0
    (empty,) = _events(caplog, "customer_value_empty")
    assert empty.levelno == logging.INFO  # expected of a small company: not a warning
    assert empty.fields == {"customers": 10, "why": "fewer than 200 customers or 50 repeaters"}
    (load,) = _events(caplog, "load")
    assert load.fields["kind"] == "import" and load is _events(caplog)[-1]
    timed = [r for r in _events(caplog) if r.event != "customer_value_empty"]
    assert all(isinstance(r.fields["duration_ms"], int) for r in timed)
    assert all(r.fields["duration_ms"] >= 0 for r in timed)
    # The line itself: the event and its fields, in order.
    assert f"event=load_stage stage=fill rows={loaded} duration_ms=" in caplog.text


def _customers(market: str, frequency, recency, T, monetary) -> pl.DataFrame:
    n = len(frequency)
    return pl.DataFrame(
        {
            "customer_id": [f"{market}{i}" for i in range(n)],
            "seller_id": "S1",
            "market": market,
            "frequency": np.asarray(frequency, dtype=float),
            "recency": np.asarray(recency, dtype=float),
            "T": np.asarray(T, dtype=float),
            "monetary": np.asarray(monetary, dtype=float),
            "draw": np.arange(n),
        }
    )


def _no_dropout(market: str, n: int) -> pl.DataFrame:
    """Customers who all bought again and last bought today: nobody ever dropped out, so the
    BG/NBD dropout parameters cannot be pinned down (they run to their bounds)."""
    i = np.arange(n)
    repeat = (i % 10 + 1).astype(float)  # 1..10 repeat purchase days, every customer
    weeks = np.full(n, 52.0)
    return _customers(market, repeat, weeks, weeks, 20.0 + 5.0 * (i % 7))


def _buy_till_you_die(market: str, n: int, seed: int) -> pl.DataFrame:
    """Customers drawn from the BG/NBD story itself (r 0.8, alpha 4, a 1, b 3), watched for 20
    to 100 weeks: the model fits them."""
    rng = np.random.default_rng(seed)
    rate, dropout = rng.gamma(0.8, 1 / 4.0, n), rng.beta(1.0, 3.0, n)
    T = rng.uniform(20, 100, n)
    x, last = np.zeros(n), np.zeros(n)
    for k in range(n):
        t = rng.exponential(1 / rate[k])
        while t <= T[k]:
            x[k], last[k] = x[k] + 1, t
            if rng.random() < dropout[k]:
                break
            t += rng.exponential(1 / rate[k])
    return _customers(market, x, last, T, 20.0 + 5.0 * (np.arange(n) % 7))


def test_a_company_fit_that_does_not_converge_is_logged_and_named(caplog):
    from cxm.metrics import value

    caplog.set_level(logging.INFO, logger="cxm")
    with pytest.raises(CxmError, match="company-wide customer value fit did not converge"):
        value.fits(_no_dropout("US", 400))
    (line,) = _events(caplog, "fit_not_converged")
    assert line.levelno == logging.WARNING
    assert (line.fields["fitted_for"], line.fields["model"]) == ("company", "BG/NBD")
    assert "a ran to its lower bound" in line.fields["why"]


def test_a_market_fit_that_does_not_converge_is_logged_and_the_company_fit_scores_it(caplog):
    from cxm.metrics import value

    # US: 2,000 customers, all repeaters (enough for a fit of its own), none ever dropped out.
    # BR: 1,500 customers from the model's own story (too few for a fit of their own). The
    # company's fit, over both, converges; the US one does not, and is logged.
    caplog.set_level(logging.INFO, logger="cxm")
    fitted = value.fits(pl.concat([_buy_till_you_die("BR", 1500, 20), _no_dropout("US", 2000)]))
    assert fitted["company"] is not None and fitted["US"] is None
    (line,) = _events(caplog, "fit_not_converged")
    assert (line.fields["fitted_for"], line.fields["model"]) == ("US", "BG/NBD")
    assert "the data do not pin it down" in line.fields["why"]


def test_a_page_query_at_or_over_the_threshold_is_logged_once_per_computation(
    app_env, monkeypatch, caplog
):
    import streamlit as st

    from cxm.access import Scope
    from cxm.segments import Period, SegmentFilter
    from cxm.ui import queries

    st.cache_data.clear()
    caplog.set_level(logging.INFO, logger="cxm")
    where, scope = SegmentFilter(period=Period.parse("2026-03")), Scope(markets=("BR",))
    monkeypatch.setenv("CXM_SLOW_QUERY_MS", "3600000")  # an hour: nothing is that slow
    queries.segment_report(["active_rate"], where=where, scope=scope)
    assert _events(caplog, "slow_query") == []
    monkeypatch.setenv("CXM_SLOW_QUERY_MS", "0")  # every query is "slow"
    queries.segment_report(["active_rate"], by=["market"], where=where, scope=scope)
    queries.segment_report(["active_rate"], by=["market"], where=where, scope=scope)  # cached
    (line,) = _events(caplog, "slow_query")
    assert line.levelno == logging.WARNING
    assert line.fields["query"] == "report" and line.fields["threshold_ms"] == 0
    assert line.fields["duration_ms"] >= 0
    assert line.fields["scope"] == "BR" and line.fields["where"] == where.describe()


def _sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    return at.button(key="FormSubmitter:login-Login").click().run()


def test_sign_in_events_are_logged_with_the_user_and_a_failure_as_a_warning(app_env, caplog):
    caplog.set_level(logging.INFO, logger="cxm")
    at = AppTest.from_file("../app.py", default_timeout=30).run()
    _sign_in(at, "admin", "wrong")
    _sign_in(at, "admin", "admin-demo-2026")
    signs = [r for r in _events(caplog) if r.event.startswith("sign")]
    assert [(r.event, r.levelno, r.fields["user"], r.fields["why"]) for r in signs] == [
        ("sign_in_failed", logging.WARNING, "admin", "wrong password"),
        ("sign_in", logging.INFO, "admin", "password"),
    ]


def test_a_value_cannot_start_a_line_of_its_own():
    # A user name typed at the sign-in form, with a line break and a forged event in it.
    record = logging.LogRecord("cxm.ui.access", logging.WARNING, "", 0, "", None, None)
    forged = 'eve\ntime=0 level=info event=sign_in user=admin "'
    record.msg = logs.pairs({"event": "sign_in_failed", "user": forged})
    record.event = "sign_in_failed"
    line = logs.LineFormatter().format(record)
    assert "\n" not in line
    assert line.endswith(
        'event=sign_in_failed user="eve\\ntime=0 level=info event=sign_in user=admin \\""'
    )


def test_start_configures_the_cxm_log_once_at_the_level_set(monkeypatch):
    logger = logging.getLogger("cxm")
    before, level = list(logger.handlers), logger.level
    try:
        monkeypatch.setenv("CXM_LOG_LEVEL", "warning")
        logs.start()
        logs.start()
        (ours,) = [h for h in logger.handlers if isinstance(h.formatter, logs.LineFormatter)]
        assert logger.level == logging.WARNING
        monkeypatch.setenv("CXM_LOG_LEVEL", "DEBUG")
        logs.start()
        assert [h for h in logger.handlers if isinstance(h.formatter, logs.LineFormatter)] == [ours]
        assert logger.level == logging.DEBUG
    finally:
        logger.handlers[:] = before
        logger.setLevel(level)
