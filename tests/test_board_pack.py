"""The board pack PDF: read back with pypdf, every page stamped, page 1 in words, cut to scope.

The tiny company (tests/fixtures/tiny_company, data as of 2026-03-02) is where the numbers
are worked out by hand; the 2,000-seller demo checks the structure and the scope.
"""

from __future__ import annotations

import hashlib
import io

import duckdb
import polars as pl
import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from cxm.access import NotAllowed, Role, Scope, User
from cxm.cli import app
from cxm.config import load_config
from cxm.metrics import headline, report
from cxm.metrics.compute import data_range
from cxm.segments import Period, SegmentFilter
from cxm.ui import fmt
from cxm.ui.board_pack import _story, audit_pack, board_pack
from cxm.warehouse import audit
from cxm.warehouse.scoped import Scoped
from tests.conftest import company

CFG = load_config()
WHERE = SegmentFilter(period=Period.parse("2026-Q3"))
SCOPE = Scope(markets=("BR", "MX"))
EXEC = User(username="exec", name="Erin Executive", email="e@x.example", role=Role.EXECUTIVE)


def _text(pdf: bytes) -> list[str]:
    assert pdf.startswith(b"%PDF")
    return [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def con(small_demo_warehouse):
    """The small demo as a user scoped to Brazil and Mexico sees it."""
    with company(small_demo_warehouse, *SCOPE.markets) as c:
        yield c


@pytest.fixture(scope="module")
def pages(con) -> list[str]:
    return _text(board_pack(con, user=EXEC, where=WHERE, cfg=CFG))


@pytest.fixture
def tiny(tiny_warehouse):
    """The tiny company with two more targets: app use 25% for 2026-Q1 and 5% for 2026-02
    (kpi_targets already holds 2026-Q1 active_rate 0.22 and customer_nps 5 for BR)."""
    with duckdb.connect(str(tiny_warehouse)) as c:
        c.execute(
            "INSERT INTO kpi_targets VALUES ('2026-Q1', 'app_adoption_7d', NULL, 0.25), "
            "('2026-02', 'app_adoption_7d', NULL, 0.05)"
        )
    c = duckdb.connect(str(tiny_warehouse), read_only=True)
    yield Scoped.everywhere(c)
    c.close()


def test_the_pack_is_a_summary_the_gap_the_scenario_and_an_appendix(pages):
    # Q3 2026 for BR and MX, no scenario: page 1 the summary, page 2 the gap (and the line
    # saying no scenario was chosen), page 3 acquisition, then the appendix: 7 ranks x 2
    # markets + 2 totals at most = 16 rows, one page.
    assert len(pages) == 4
    assert pages[0].startswith("Board pack: Q3 2026")
    for heading in ("What changed against Q2 2026", "Targets for Q3 2026", "Headline KPIs"):
        assert heading in pages[0]
    assert "The experience gap is widest in" in pages[1]
    assert "No scenario has been published and none was chosen" in _flat(pages[1])
    # The demo's events channel costs more than its customers are worth (docs/demo-data.md).
    assert "Events and sampling customers are worth" in _flat(pages[2])
    assert pages[3].startswith("Appendix: headline KPIs by market and rank")


def test_every_page_states_its_filters_period_comparison_as_of_and_scope(pages):
    # Q3 2026 is whole in the data (as of 2026-10-31), so it is compared with all of Q2.
    for i, text in enumerate(pages, start=1):
        assert (
            "All sellers · Q3 2026 vs Q2 2026, the previous period · as of 30 Sep 2026 · "
            f"scope BR, MX · page {i}/{len(pages)}"
        ) in _flat(text)


def test_a_partial_period_reads_to_date_on_every_page_with_its_comparison(tiny):
    # The tiny company's data stop on 2026-03-02: Q1 2026 is "to date (1 Jan–2 Mar)"; what it
    # is compared with is the library's like-for-like rule (`report.comparison`), stated
    # whole on every page.
    where = SegmentFilter(period=Period.parse("2026-Q1"))
    pages = _text(board_pack(tiny, user=EXEC, where=where, cfg=CFG))
    compared = report.comparison(where, data_range(tiny)).sentence()
    assert compared.startswith("Q1 2026 to date (1 Jan–2 Mar)")
    for i, text in enumerate(pages, start=1):
        assert (
            f"All sellers · {compared} · as of 2 Mar 2026 · scope all markets · page {i}/4"
        ) in _flat(text)
    assert "Targets for Q1 2026 to date (1 Jan–2 Mar)" in _flat(pages[0])


def test_page_one_says_when_there_is_nothing_to_compare_with(tiny):
    # The data start on 2025-01-10: January 2025 has no December 2024 to be compared with.
    pages = _text(board_pack(tiny, user=EXEC, where=SegmentFilter(period=Period.parse(
        "2025-01")), cfg=CFG))  # fmt: skip
    first = _flat(pages[0])
    assert "What changed No comparison: the data starts on 2025-01-10." in first
    assert "January 2025; no comparison: the data starts on 2025-01-10 · as of 31 Jan 2025" in (
        first
    )


def test_page_one_lists_the_targets_met_and_missed_by_the_kpi_s_direction(tiny):
    # February 2026 (whole; as of 02-28). Live on 02-28: the 12 less S06 (left 2025-10-15)
    # and S12 (left 01-31) = 10, S11 (joined 02-20) among them.
    # Active rate: in the 30 days to 02-28 only S07 enrolled (S11, 02-20) -> 1/10 = 10.0%,
    # under the Q1 target 22% that a share inherits -> missed.
    # App use in the 7 days to 02-28 (02-22..02-28): S07's follow-up on 02-25 -> 1/10 = 10.0%,
    # at least February's own target 5% (it beats Q1's 25%) -> met.
    # Customer NPS for BR, target 5: no BR customer answered NPS in February -> no value yet.
    pages = _text(board_pack(tiny, user=EXEC, where=SegmentFilter(period=Period.parse(
        "2026-02")), cfg=CFG))  # fmt: skip
    first = _flat(pages[0])
    assert "Targets for February 2026 1 met; 1 missed; 1 no value yet." in first
    assert "Active rate all 22.0% 10.0% missed" in first
    assert "Seller app adoption all 5.0% 10.0% met" in first
    assert "Customer NPS Brazil 5 – no value yet" in first


def test_page_one_tells_at_most_two_segments_of_one_kpi_then_the_next_kpi():
    # Four active-rate changes (p 0.0001..0.0004) and one revenue change (p 0.001): BH q for
    # 5 tests = p x 5 / rank -> 0.0005, 0.00075, 0.001, 0.001, 0.001: all beyond noise. Page 1
    # tells active rate twice (the two strongest, BR and US) and then revenue (MX), and
    # counts all five in its note.
    rows = pl.DataFrame(
        {
            "market": ["BR", "US", "CA", "DE", "MX"],
            "kpi_id": ["active_rate"] * 4 + ["revenue"],
            "value": [0.15, 0.25, 0.3, 0.1, 1200.0],
            "previous": [0.19, 0.2, 0.2, 0.2, 1000.0],
            "change": [-0.04, 0.05, 0.1, -0.1, 200.0],
            "n": [500, 900, 300, 400, 200],
            "small": [False] * 5,
            "company": [0.2] * 4 + [5000.0],
            "change_p": [0.0001, 0.0002, 0.0003, 0.0004, 0.001],
        }
    )
    said, note = _story.changes({("market",): rows}, CFG)
    assert [s.split(",")[0] for s in said] == [
        "Active rate fell 4.0 pp in Brazil",
        "Active rate rose 5.0 pp in United States",
        "Revenue rose 20.0% in Mexico",
    ]
    assert note.startswith("5 of 5 changes tested are beyond noise;")


def test_page_one_says_nothing_moved_beyond_noise_when_nothing_did(tiny):
    # February against January 2026. Only the company's rows reach n = 10 in February (every
    # market and rank holds fewer than 10 sellers), and January had 9 live sellers (S12 gone
    # on 01-31, S11 not yet in): under the minimum n of 10 in the compared period, so live
    # sellers 9 -> 10, active rate 2/9 -> 1/10 and app use 0/9 -> 1/10 are not tested at all.
    pages = _text(board_pack(tiny, user=EXEC, where=SegmentFilter(period=Period.parse(
        "2026-02")), cfg=CFG))  # fmt: skip
    first = _flat(pages[0])
    assert "What changed against January 2026 • No KPI moved beyond noise." in first
    assert "No change was tested: no segment has n of at least 10 in both periods." in first


def test_the_changes_are_the_ones_with_the_strongest_evidence_never_a_small_segment():
    # Company: active rate 20.0% -> 21.0%, p = 0.3. Markets: BR 15.0% from 19.0% (n = 500,
    # p = 0.0004), US 20.0% from 20.5% (n = 900, p = 0.6), CA 60% from 10% (n = 8: under the
    # minimum n of 10, never tested however large its move). Tested: 0.3, 0.0004, 0.6 ->
    # Benjamini-Hochberg q = 0.45, 0.0012, 0.6: only BR is under 5%.
    company = pl.DataFrame({"kpi_id": ["active_rate"], "value": [0.21], "previous": [0.2],
        "change": [0.01], "n": [1408], "small": [False], "company": [0.21],
        "change_p": [0.3]})  # fmt: skip
    markets = pl.DataFrame(
        {
            "market": ["BR", "US", "CA"],
            "kpi_id": ["active_rate"] * 3,
            "value": [0.15, 0.20, 0.6],
            "previous": [0.19, 0.205, 0.1],
            "change": [-0.04, -0.005, 0.5],
            "n": [500, 900, 8],
            "small": [False, False, True],
            "company": [0.21] * 3,
            "change_p": [0.0004, 0.6, 0.0001],
        }
    )
    said, note = _story.changes({(): company, ("market",): markets}, CFG)
    assert said == [
        "Active rate fell 4.0 pp in Brazil, to 15.0% (company 21.0%; n = 500; p < 0.001)."
    ]
    assert note.startswith("1 of 3 changes tested is beyond noise;")


@pytest.mark.parametrize(
    ("kpi_id", "value", "target", "small", "partial", "expected"),
    [
        # Higher is better: at or above the target meets it.
        ("active_rate", 0.22, 0.22, False, False, ("met", True)),
        ("active_rate", 0.219, 0.22, False, False, ("missed", False)),
        # Lower is better (the experience gap): at or below meets it.
        ("experience_gap_pp", 48.0, 50.0, False, False, ("met", True)),
        ("experience_gap_pp", 52.0, 50.0, False, False, ("missed", False)),
        # While the period runs, shares and gaps are on track or behind...
        ("experience_gap_pp", 48.0, 50.0, False, True, ("on track", True)),
        ("active_rate", 0.1, 0.22, False, True, ("behind", False)),
        # ... and a sum, which grows until the period ends, is not judged.
        ("revenue", 10.0, 50.0, False, True, ("period not over", None)),
        ("revenue", 60.0, 50.0, False, False, ("met", True)),
        ("active_rate", 0.5, 0.22, True, False, ("too few to judge", None)),
        ("active_rate", None, 0.22, False, False, ("no value yet", None)),
    ],
)
def test_a_target_s_status_follows_the_kpi_s_direction(
    kpi_id, value, target, small, partial, expected
):
    assert _story.target_status(kpi_id, value, target, small=small, partial=partial) == expected


def test_the_gap_page_s_title_names_the_widest_market_or_two_level_ones_or_the_only_one():
    # Gaps: BR 70.6, US 41.1, CA 52.0 pp but CA small (not named). Widest BR, next US:
    # 29.5 pp apart. With se 10 pp each the noise bar is 1.96 x sqrt(200) = 27.7 pp: apart;
    # with 12 pp each, 1.96 x sqrt(288) = 33.3 pp: level.
    g = pl.DataFrame({"market": ["BR", "US", "CA"], "value": [70.6, 41.1, 52.0],
        "small": [False, False, True], "company": [52.3] * 3})  # fmt: skip
    apart = _story.gap_title(g.with_columns(se=pl.lit(10.0)), CFG)
    assert apart == (
        "The experience gap is widest in Brazil: 70.6 pp (company 52.3 pp)",
        "29.5 pp above United States, the next widest. ",
    )
    level = _story.gap_title(g.with_columns(se=pl.lit(12.0)), CFG)
    assert level == (
        "The experience gap is widest in Brazil and United States: 70.6 pp and 41.1 pp",
        "Company 52.3 pp; the 29.5 pp between the two lie within the noise (95%): they are level. ",
    )
    only = _story.gap_title(g.filter(pl.col("market") == "US"), CFG)
    assert only == ("The experience gap in United States: 41.1 pp", "")


def test_the_appendix_runs_up_the_ladder_in_market_order_and_folds_small_ranks():
    # Markets by code: BR before US. Ladder: Member, Consultant, Senior Consultant, Manager,
    # Director, Executive Director, Diamond.
    # Under 30 sellers folded: US Diamond 3, BR Member 29, BR Director 5 -> 3 segments,
    # 3 + 29 + 5 = 37 sellers. Kept: US Member 100, US Manager 40, BR Consultant 31.
    seg = pl.DataFrame(
        {
            "market": ["BR", "BR", "US", "US", "US", "BR"],
            "rank": ["Director", "Consultant", "Manager", "Diamond", "Member", "Member"],
            "n": [5, 31, 40, 3, 100, 29],
        }
    )
    by_market_rank = seg.with_columns(
        kpi_id=pl.lit("live_sellers"), value=pl.col("n").cast(pl.Float64), small=pl.lit(False)
    )
    by_market = pl.DataFrame(
        {"market": ["BR", "US"], "n": [65, 143]}
    ).with_columns(
        kpi_id=pl.lit("live_sellers"), value=pl.col("n").cast(pl.Float64), small=pl.lit(False)
    )  # fmt: skip
    app_ = _story.appendix(by_market, by_market_rank, CFG, fold_under=30)
    assert [(r["market"], r["rank"], r["sellers"]) for r in app_.rows] == [
        ("BR", None, 65),
        ("BR", "Consultant", 31),
        ("US", None, 143),
        ("US", "Member", 100),
        ("US", "Manager", 40),
    ]
    assert (app_.folded, app_.folded_sellers) == (3, 37)
    assert _story.folded_line(app_, 30) == "3 segments under n = 30 folded: 37 sellers"


def test_the_tiny_company_s_appendix_folds_every_rank_into_one_counted_line(tiny):
    # Live on 02-28: US S01 Director, S02 Manager, S03 Consultant, S04 Member; CA S09 Senior
    # Consultant, S10 Member; BR S05 Manager, S07 Consultant, S08 and S11 Member -> 9 market x
    # rank segments, all under 30, holding 10 sellers; the market totals 4, 2 and 4 remain.
    pages = _text(board_pack(tiny, user=EXEC, where=SegmentFilter(period=Period.parse(
        "2026-02")), cfg=CFG))  # fmt: skip
    last = _flat(pages[-1])
    assert "9 segments under n = 30 folded: 10 sellers." in last
    totals = [line.split(" ")[:4] for line in pages[-1].splitlines() if "all ranks" in line]
    assert totals == [["BR", "all", "ranks", "4"], ["CA", "all", "ranks", "2"],
                      ["US", "all", "ranks", "4"]]  # fmt: skip


def test_the_headline_table_holds_the_report_s_values(con, pages):
    rows = report.segment_report(con, [k.id for k in headline()], where=WHERE, cfg=CFG)
    first = _flat(pages[0])
    for r in rows.iter_rows(named=True):
        kpi = next(k for k in headline() if k.id == r["kpi_id"])
        shown = f"n < {CFG.min_n}" if r["small"] else fmt.kpi_value(kpi.unit, r["value"])
        assert f"{kpi.short or kpi.label} n = {fmt.number(r['n'])}" in first, kpi.id
        assert shown in first, kpi.id


def test_a_scoped_reader_s_pack_names_no_other_market(pages):
    others = [m for m in CFG.markets if m.code not in SCOPE.markets]
    words = [w for text in pages for w in _flat(text).split(" ")]
    assert {"BR", "MX"} <= set(words)
    assert not {m.code for m in others} & set(words)
    flat = " ".join(_flat(t) for t in pages)
    assert not [m.name for m in others if m.name in flat]


def test_nobody_signed_in_gets_no_pack(con):
    with pytest.raises(NotAllowed):
        board_pack(con, user=None, where=WHERE, cfg=CFG)


def test_a_downloaded_pack_is_audited(tmp_path):
    path = tmp_path / "audit.sqlite"
    audit_pack(EXEC, WHERE, SCOPE, b"%PDF-1.7 test", path=path)
    row = audit.entries(path=path).row(0, named=True)
    assert (row["username"], row["action"], row["scope"]) == ("exec", "board pack", "BR, MX")
    assert row["sha256"] == hashlib.sha256(b"%PDF-1.7 test").hexdigest()


def test_cxm_board_pack_writes_the_pdf_and_names_a_bad_market(small_demo_warehouse, tmp_path):
    out = tmp_path / "pack.pdf"
    common = ["board-pack", "--period", "2026-Q3", "--warehouse", str(small_demo_warehouse)]
    good = CliRunner().invoke(app, [*common, "--market", "BR", "--out", str(out)])
    assert good.exit_code == 0, good.output
    text = _flat(PdfReader(out).pages[0].extract_text())
    assert (
        "All sellers in BR · Q3 2026 vs Q2 2026, the previous period · as of 30 Sep 2026 · "
        "scope all markets · page 1/"
    ) in text
    bad = CliRunner().invoke(app, [*common, "--market", "XX", "--out", str(tmp_path / "x.pdf")])
    assert bad.exit_code == 1
    assert 'market: "XX" is not one of' in " ".join(bad.output.split())
    assert not (tmp_path / "x.pdf").exists()
    wrong = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "x.txt")])
    assert wrong.exit_code == 2 and "--out" in wrong.output
    both = CliRunner().invoke(
        app, [*common, "--scenario", "1", "--weights", "sales:1", "--out", str(tmp_path / "y.pdf")]
    )
    assert both.exit_code == 2 and "give one of them" in both.output
    trail = audit.entries(path=audit.audit_path(small_demo_warehouse))
    assert trail.filter(pl.col("sha256") == hashlib.sha256(out.read_bytes()).hexdigest()).height


def test_the_pack_s_default_scenario_is_the_one_published_last(
    con, small_demo_warehouse, tmp_path, monkeypatch
):
    # Saved A then B; A published, then B, then A again: the pack of `cxm board-pack` with no
    # --scenario shows A, the scenario the What-if page calls published (one definition).
    from cxm.whatif import scenarios
    from cxm.whatif.compare import Guardrails, load_field
    from cxm.whatif.weights import Weights

    field = load_field(con, CFG)
    strategist = User(username="sam", name="Sam", email="s@x.example", role=Role.STRATEGIST)
    path, trail = tmp_path / "s.sqlite", tmp_path / "a.sqlite"
    ones = {p: 1.0 for p in field.catalog.baseline}
    a = scenarios.save("Alpha plan", Weights.of(ones | {"retention": 2}), Guardrails(),
                       user=strategist, field=field, path=path)  # fmt: skip
    b = scenarios.save("Beta plan", Weights.of(ones), Guardrails(), user=strategist,
                       field=field, path=path)  # fmt: skip
    for sc in (a, b, a):
        scenarios.publish(sc.id, user=strategist, path=path, audit_path=trail)
    last, by, _ = scenarios.last_publication(path=path)
    assert (last.id, by) == (a.id, "sam")
    assert scenarios.published(field.catalog, path=path).scenario.id == a.id
    monkeypatch.setattr(scenarios, "scenarios_path", lambda warehouse=None: path)
    out = tmp_path / "pack.pdf"
    done = CliRunner().invoke(
        app,
        [
            "board-pack",
            "--warehouse",
            str(small_demo_warehouse),
            "--period",
            "2026-Q3",
            "--out",
            str(out),
        ],  # fmt: skip
    )
    assert done.exit_code == 0, done.output
    assert "What-if scenario: Alpha plan" in _flat(" ".join(_text(out.read_bytes())))


def test_a_scenario_s_page_states_its_gains_and_costs_against_the_catalog(con, tmp_path):
    from cxm.whatif import scenarios
    from cxm.whatif.compare import GUARDED, Guardrails, compare, load_field, rank
    from cxm.whatif.weights import Weights

    field = load_field(con, CFG)
    weights = Weights.of(field.catalog.presets["retention_quarter"].weights)
    strategist = User(username="sam", name="Sam", email="s@x.example", role=Role.STRATEGIST)
    saved = scenarios.save("Retention Q1", weights, Guardrails(), user=strategist, field=field,
                           path=tmp_path / "s.sqlite")  # fmt: skip
    pdf = board_pack(con, user=EXEC, where=WHERE, cfg=CFG, scenario=saved)
    text = _flat(" ".join(_text(pdf)))
    catalog = rank(field, Weights.of(field.catalog.baseline), GUARDED)
    result = compare(field, rank(field, weights), baseline=catalog)
    assert "What-if scenario: Retention Q1" in text
    assert f"{fmt.share(result.changed_share)} of sellers ({result.changed:,}) would get a" in text
    # Each priority's change, in words, sorted: gains largest first, costs largest first.
    effect = {r["label"]: r["change"] for r in result.effect.iter_rows(named=True)}
    gains = sorted((c, k) for k, c in effect.items() if c is not None and round(100 * c) > 0)
    costs = sorted((c, k) for k, c in effect.items() if c is not None and round(100 * c) < 0)
    said = [f"{k} {fmt.signed(100 * c, 0, '%')}" for c, k in gains[::-1]]
    assert f"Expected gains: {', '.join(said) or 'none'}." in text
    said = [f"{k} {fmt.signed(100 * c, 0, '%')}" for c, k in costs]
    assert f"Expected costs: {', '.join(said) or 'none'}." in text
    assert "No scenario has been published" not in text


def test_the_experiments_pages_give_each_experiment_s_decision_on_the_readers_markets(
    con, small_demo_warehouse
):
    # the demo's two experiments, read as a user scoped to BR and MX reads them: each gets its
    # decision in words as its heading, the same sentence the library gives
    from cxm.experiments import readout, store

    path = store.experiments_path(small_demo_warehouse)
    expected = [readout.read(con, e, cfg=CFG, path=path) for e in store.list_all(path=path)]
    assert {r.experiment.id for r in expected} == {"EXP-REMIND", "EXP-COACH"}
    text = _text(board_pack(con, user=EXEC, where=WHERE, cfg=CFG, experiments=path))
    shown = [_flat(t) for t in text if t.startswith("Experiments: what the field trials showed")]
    assert shown, "no experiments page"
    for r in expected:
        assert f"{r.experiment.name}: {r.decision}" in " ".join(shown)
        assert f"{r.srm.n_control:,} control and {r.srm.n_treatment:,} treatment" in " ".join(shown)
