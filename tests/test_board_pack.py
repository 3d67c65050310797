"""The board pack PDF: read back with pypdf, every page stamped, cut to the reader's scope."""

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
from cxm.segments import Period, SegmentFilter
from cxm.ui import fmt
from cxm.ui.board_pack import audit_pack, board_pack
from cxm.warehouse import audit

CFG = load_config()
WHERE = SegmentFilter(period=Period.parse("2026-Q3"))
SCOPE = Scope(markets=("BR", "MX"))
EXEC = User(username="exec", name="Erin Executive", email="e@x.example", role=Role.EXECUTIVE)


@pytest.fixture(scope="module")
def con(small_demo_warehouse):
    c = duckdb.connect(str(small_demo_warehouse), read_only=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def pages(con) -> list[str]:
    pdf = board_pack(con, user=EXEC, where=WHERE, scope=SCOPE, cfg=CFG)
    assert pdf.startswith(b"%PDF")
    return [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]


def test_every_page_states_its_filters_period_as_of_and_scope(pages):
    assert len(pages) >= 2
    for i, text in enumerate(pages, start=1):
        assert (
            f"All sellers, Q3 2026 · as of 2026-09-30 · scope BR, MX · page {i}/{len(pages)}"
            in (text)
        )


def test_the_headline_table_holds_the_report_s_numbers(con, pages):
    rows = report.segment_report(con, [k.id for k in headline()], where=WHERE, scope=SCOPE, cfg=CFG)
    first = pages[0]
    for r in rows.iter_rows(named=True):
        kpi = next(k for k in headline() if k.id == r["kpi_id"])
        value = fmt.kpi_value(kpi.unit, r["value"], CFG.currency)
        assert f"{kpi.label} {value} {int(r['n']):,}" in first, kpi.id


def test_the_market_tables_hold_only_the_reader_s_markets(pages):
    others = [m for m in CFG.market_codes if m not in SCOPE.markets]
    lines = [line for text in pages for line in text.splitlines()]
    by_market = [line.split(" ")[0] for line in lines if line.split(" ")[0] in CFG.market_codes]
    assert set(by_market) == {"BR", "MX"}
    assert not any(line.startswith(f"{m} ") for m in others for line in lines)


def test_long_tables_run_on_with_their_header_repeated(pages):
    table_pages = [t for t in pages if "Market Rank KPI Value n Change Target" in t]
    assert len(table_pages) >= 2


def test_nobody_signed_in_gets_no_pack(con):
    with pytest.raises(NotAllowed):
        board_pack(con, user=None, where=WHERE, scope=SCOPE, cfg=CFG)


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
    text = PdfReader(out).pages[0].extract_text()
    assert "All sellers in BR, Q3 2026 · as of 2026-09-30 · scope all markets · page 1/" in text
    bad = CliRunner().invoke(app, [*common, "--market", "XX", "--out", str(tmp_path / "x.pdf")])
    assert bad.exit_code == 1
    assert 'market: "XX" is not one of' in " ".join(bad.output.split())
    assert not (tmp_path / "x.pdf").exists()
    wrong = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "x.txt")])
    assert wrong.exit_code == 2 and "--out" in wrong.output
    trail = audit.entries(path=audit.audit_path(small_demo_warehouse))
    assert trail.filter(pl.col("sha256") == hashlib.sha256(out.read_bytes()).hexdigest()).height


def test_a_saved_scenario_gets_its_page_with_the_comparisons_numbers(con, tmp_path):
    from cxm.whatif import scenarios
    from cxm.whatif.compare import Guardrails, compare, load_field, rank
    from cxm.whatif.weights import Weights

    field = load_field(con, CFG, scope=SCOPE)
    weights = Weights.of(field.catalog.presets["retention_quarter"].weights)
    strategist = User(username="sam", name="Sam", email="s@x.example", role=Role.STRATEGIST)
    saved = scenarios.save("Retention Q1", weights, Guardrails(), user=strategist, field=field,
                           path=tmp_path / "s.sqlite")  # fmt: skip
    pdf = board_pack(con, user=EXEC, where=WHERE, scope=SCOPE, cfg=CFG, scenario=saved)
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    result = compare(field, rank(field, weights))
    assert "What-if scenario: Retention Q1" in text
    assert f"{fmt.share(result.changed_share)} ({result.changed:,}) would get a different" in (
        " ".join(text.split())
    )
    top = result.transition.filter(pl.col("baseline") != pl.col("scenario")).row(0, named=True)
    assert f"{top['sellers']:,}" in text
    assert "No what-if scenario was chosen" not in text
