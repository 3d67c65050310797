"""Import: the tiny company loads exactly; every kind of bad input is named and changes nothing.

Each bad case starts from one of the tiny company's files (tests/fixtures/tiny_company/),
changes it the smallest way that breaks one rule, and imports it over the tiny company's
warehouse. docs/errors.md lists the same triggers.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxm.errors import ImportRejected
from cxm.pipeline import import_dir
from cxm.warehouse import store
from cxm.warehouse.schema import TABLES, polars_schema
from tests.conftest import TINY, TINY_ROWS, TINY_TODAY


@dataclass(frozen=True)
class Bad:
    """One bad input: which file to take, how to break it, and where the error must point."""

    code: str
    file: str | None  # a tiny company file to copy and break; None for folder-level cases
    edits: tuple[tuple[int, str, str], ...] = ()  # (spreadsheet row, column, new text)
    raw: bytes | None = None  # replaces the file's bytes entirely
    extra: dict[str, bytes] = field(default_factory=dict)  # more files to drop in the folder
    row: int | None = None
    column: str | None = None
    where: str | None = None  # the file the issue names, when not ``file``
    create: bool = True  # False: the folder itself is missing
    parquet: pl.DataFrame | None = None  # written as ``file`` in Parquet, with its own types


CASES = [
    Bad(
        "not_an_integer",
        "sellers.csv",
        ((3, "monthly_enrollment_goal", "two"),),
        row=3,
        column="monthly_enrollment_goal",
    ),
    Bad(
        "negative_value",
        "sellers.csv",
        ((4, "monthly_enrollment_goal", "-1"),),
        row=4,
        column="monthly_enrollment_goal",
    ),
    Bad("not_a_number", "orders.csv", ((2, "amount", "$65"),), row=2, column="amount"),
    Bad("too_many_decimals", "orders.csv", ((3, "amount", "65.001"),), row=3, column="amount"),
    Bad(
        "number_too_large",
        "orders.csv",
        ((3, "amount", "1234567890123.00"),),
        row=3,
        column="amount",
    ),
    Bad("negative_amount", "orders.csv", ((4, "amount", "-12.50"),), row=4, column="amount"),
    Bad("below_minimum", "orders.csv", ((5, "units", "0"),), row=5, column="units"),
    Bad("not_a_boolean", "orders.csv", ((6, "autoship", "maybe"),), row=6, column="autoship"),
    Bad(
        "bad_date", "sellers.csv", ((2, "enrolled_on", "2025-02-30"),), row=2, column="enrolled_on"
    ),
    Bad(
        "bad_timestamp", "orders.csv", ((7, "ordered_at", "yesterday"),), row=7, column="ordered_at"
    ),
    # Issue 19: timestamps are local wall-clock time; one with a zone is refused by name
    # (it used to be a bad_timestamp, which did not say why).
    Bad(
        "timestamp_with_zone",
        "orders.csv",
        ((3, "ordered_at", "2025-03-03T10:00:00Z"),),
        row=3,
        column="ordered_at",
    ),
    Bad(
        "timestamp_with_zone",
        "tickets.csv",
        ((2, "opened_at", "2026-02-01 10:00:00+02:00"),),
        row=2,
        column="opened_at",
    ),
    Bad(
        "timestamp_with_zone",
        "orders.parquet",
        row=1,
        column="ordered_at",
        parquet=pl.DataFrame(
            {
                "order_id": ["O900"],
                "customer_id": ["C01"],
                "seller_id": ["S01"],
                "ordered_at": [dt.datetime(2026, 1, 2, 9, tzinfo=dt.UTC)],
                "amount": [3.5],
                "units": [1],
                "product_line": ["wellness"],
                "autoship": [False],
                "channel": ["phone"],
            }
        ),
    ),
    Bad(
        "date_out_of_range",
        "customers.csv",
        ((2, "acquired_on", "2099-01-01"),),
        row=2,
        column="acquired_on",
    ),
    Bad("missing_value", "customers.csv", ((3, "market", ""),), row=3, column="market"),
    Bad("unknown_market", "sellers.csv", ((2, "market", "UK"),), row=2, column="market"),
    Bad("unknown_language", "customers.csv", ((4, "language", "xx"),), row=4, column="language"),
    Bad("unknown_rank", "sellers.csv", ((5, "rank", "Platinum"),), row=5, column="rank"),
    Bad(
        "unknown_product_line",
        "orders.csv",
        ((8, "product_line", "gadgets"),),
        row=8,
        column="product_line",
    ),
    Bad("unknown_activity_kind", "activities.csv", ((11, "kind", "dance"),), row=11, column="kind"),
    Bad("unknown_channel", "tickets.csv", ((2, "channel", "pigeon"),), row=2, column="channel"),
    # Acquisition (issue 24): spend and leads are checked like every table.
    Bad("unknown_channel", "marketing_spend.csv", ((3, "channel", "tv"),), row=3, column="channel"),
    Bad("unknown_market", "marketing_spend.csv", ((2, "market", "UK"),), row=2, column="market"),
    Bad(
        "negative_amount", "marketing_spend.csv", ((4, "amount", "-5.00"),), row=4, column="amount"
    ),
    Bad(
        "not_month_start",
        "marketing_spend.csv",
        ((2, "month", "2025-02-15"),),
        row=2,
        column="month",
    ),
    Bad(
        "unknown_channel",
        "customers.csv",
        ((5, "acquisition_channel", "tv"),),
        row=5,
        column="acquisition_channel",
    ),
    Bad(
        "dangling_reference", "leads.csv", ((2, "customer_id", "C99"),), row=2, column="customer_id"
    ),
    Bad("dangling_reference", "leads.csv", ((8, "seller_id", "S99"),), row=8, column="seller_id"),
    # A conversion before the lead: L01 was created on 2025-01-20.
    Bad(
        "time_order",
        "leads.csv",
        ((2, "converted_on", "2025-01-01"),),
        row=2,
        column="converted_on",
    ),
    # L03 never converted, yet has a day.
    Bad(
        "bad_conversion",
        "leads.csv",
        ((4, "converted_on", "2025-03-05"),),
        row=4,
        column="converted_on",
    ),
    # L01 became C01 and S01 at once.
    Bad("bad_conversion", "leads.csv", ((2, "seller_id", "S01"),), row=2, column="customer_id"),
    Bad(
        "unknown_value",
        "survey_responses.csv",
        ((5, "respondent_type", "partner"),),
        row=5,
        column="respondent_type",
    ),
    Bad(
        "language_not_in_market", "sellers.csv", ((6, "language", "ja"),), row=6, column="language"
    ),
    Bad(
        "time_order",
        "sellers.csv",
        ((7, "terminated_on", "2025-06-01"),),
        row=7,
        column="terminated_on",
    ),
    Bad("score_out_of_range", "survey_responses.csv", ((3, "score", "7"),), row=3, column="score"),
    Bad("bad_json", "kpi_targets.csv", ((3, "segment", "markets=BR"),), row=3, column="segment"),
    Bad("bad_format", "kpi_targets.csv", ((2, "period", "Q1-2026"),), row=2, column="period"),
    Bad("unknown_kpi", "kpi_targets.csv", ((2, "kpi_id", "active_rat"),), row=2, column="kpi_id"),
    Bad(
        "bad_segment",
        "kpi_targets.csv",
        ((3, "segment", '{"markets": ["UK"]}'),),
        row=3,
        column="segment",
    ),
    Bad(
        "target_out_of_range",
        "kpi_targets.csv",
        ((2, "target", "22"),),
        row=2,
        column="target",
    ),
    Bad("bad_id", "customers.csv", ((11, "customer_id", " C10"),), row=11, column="customer_id"),
    Bad("too_long", "courses.csv", ((2, "course_id", "K" * 65),), row=2, column="course_id"),
    Bad("duplicate_key", "orders.csv", ((3, "order_id", "O001"),), row=2, column="order_id"),
    # S02 is in treatment (row 3); row 4 puts S02 in control of the same experiment X1.
    Bad(
        "two_arms",
        "experiment_assignments.csv",
        ((4, "seller_id", "S02"),),
        row=4,
        column="arm",
    ),
    # The same seller twice in the same arm is a repeated key, not two arms.
    Bad(
        "duplicate_key",
        "experiment_assignments.csv",
        ((4, "seller_id", "S02"), (4, "arm", "treatment")),
        row=3,
        column="experiment_id, seller_id",
    ),
    Bad(
        "dangling_reference",
        "experiment_assignments.csv",
        ((5, "seller_id", "S99"),),
        row=5,
        column="seller_id",
    ),
    Bad(
        "unknown_value", "experiment_assignments.csv", ((2, "arm", "holdout"),), row=2, column="arm"
    ),
    # Two company-wide targets (empty segment) for the same KPI and period.
    Bad(
        "duplicate_key",
        "kpi_targets.csv",
        ((3, "kpi_id", "active_rate"), (3, "segment", "")),
        row=2,
        column="period, kpi_id, segment",
    ),
    Bad(
        "dangling_reference",
        "orders.csv",
        ((9, "customer_id", "C99"),),
        row=9,
        column="customer_id",
    ),
    Bad(
        "dangling_reference",
        "tickets.csv",
        ((3, "requester_id", "S99"),),
        row=3,
        column="requester_id",
    ),
    Bad(
        "dangling_reference",
        "courses.csv",
        ((4, "prerequisites", "K1;K9"),),
        row=4,
        column="prerequisites",
    ),
    # Replacing sellers without S01 strands the orders the warehouse keeps for S01.
    Bad(
        "dangling_reference",
        "sellers.csv",
        ((2, "seller_id", "S00"), (3, "sponsor_id", "S00"), (4, "sponsor_id", "S00")),
        column="seller_id",
        where="orders (in the warehouse)",
    ),
    Bad("sponsor_cycle", "sellers.csv", ((2, "sponsor_id", "S04"),), row=2, column="sponsor_id"),
    Bad("sponsor_cycle", "sellers.csv", ((11, "sponsor_id", "S10"),), row=11, column="sponsor_id"),
    # K1 needs K3, which needs K1 (and K2): a loop, reported at K1.
    Bad(
        "prerequisite_cycle",
        "courses.csv",
        ((2, "prerequisites", "K3"),),
        row=2,
        column="prerequisites",
    ),  # fmt: skip
    Bad(
        "missing_column",
        "courses.csv",
        raw=b"course_id,title,min_rank,compliance,languages\nK1,Welcome,Member,false,en\n",
        row=1,
        column="prerequisites",
    ),
    Bad(
        "unknown_column",
        "kpi_targets.csv",
        raw=b"period,kpi_id,segment,target,notes\n2026-Q1,active_rate,,0.22,hi\n",
        row=1,
        column="notes",
    ),
    Bad(
        "duplicate_column",
        "kpi_targets.csv",
        raw=b"period,kpi_id,segment,target,target\n2026-Q1,active_rate,,0.22,0.3\n",
        row=1,
        column="target",
    ),
    Bad("empty_file", "tickets.csv", raw=b""),
    Bad(
        "bad_encoding",
        "customers.csv",
        raw="customer_id,seller_id,market,language,acquired_on,consent_personalization\n"
        "C01,S01,US,en,2025-02-01,true\nC02,S01,US,es,2025-03-10,true\nCé,S01,US,en,"
        "2025-03-10,true\n".encode("latin-1"),
        row=4,
    ),
    Bad(
        "malformed_csv",
        "orders.csv",
        raw=b"order_id,customer_id,seller_id,ordered_at,amount,units,product_line,autoship,"
        b"channel\nO001,C01,S01,2025-02-01 10:00:00,65.00,1,wellness,false,seller_link\n"
        b"O002,C01,S01,2025-03-03 10:00:00,1,234.00,1,wellness,true,online_shop\n",
        row=3,
    ),
    # A row with a field too few: Polars would read the missing target as empty.
    Bad(
        "malformed_csv",
        "kpi_targets.csv",
        raw=b"period,kpi_id,segment,target\n2026-Q1,active_rate,,0.22\n2026-Q2,active_rate\n"
        b"2026-Q3,active_rate,,0.3\n",
        row=3,
    ),
    Bad("unreadable_parquet", "sellers.parquet", raw=b"PAR1 this is not parquet"),
    Bad("unknown_file", None, extra={"notes.txt": b"hello"}, where="notes.txt"),
    Bad(
        "ambiguous_file",
        "kpi_targets.csv",
        extra={"kpi_targets.parquet": b""},
        where="kpi_targets.parquet",
    ),
    Bad("no_files", None),
    Bad("no_directory", None, create=False),
    # Parquet brings its own types: a list column, and numbers typed differently from ours.
    Bad(
        "unknown_language",
        "courses.parquet",
        row=2,
        column="languages",
        parquet=pl.DataFrame(
            {
                "course_id": ["K1", "K2"],
                "title": ["Welcome", "Claims"],
                "min_rank": ["Member", "Member"],
                "prerequisites": [[], []],
                "compliance": [False, True],
                "languages": [["en"], ["en", "xx"]],
            },
            schema_overrides={"prerequisites": pl.List(pl.String)},
        ),
    ),
    Bad(
        "negative_amount",
        "orders.parquet",
        row=1,
        column="amount",
        parquet=pl.DataFrame(
            {
                "order_id": ["O900"],
                "customer_id": ["C01"],
                "seller_id": ["S01"],
                "ordered_at": [dt.datetime(2026, 1, 2, 9)],
                "amount": [-3.5],
                "units": [1],
                "product_line": ["wellness"],
                "autoship": [False],
                "channel": ["phone"],
            }
        ),
    ),
    Bad(
        "not_an_integer",
        "orders.parquet",
        row=1,
        column="units",
        parquet=pl.DataFrame(
            {
                "order_id": ["O900"],
                "customer_id": ["C01"],
                "seller_id": ["S01"],
                "ordered_at": [dt.datetime(2026, 1, 2, 9)],
                "amount": [3.5],
                "units": ["two"],
                "product_line": ["wellness"],
                "autoship": [False],
                "channel": ["phone"],
            }
        ),
    ),
]


def _write_case(case: Bad, folder: Path) -> None:
    if not case.create:
        return
    folder.mkdir()
    if case.parquet is not None:
        case.parquet.write_parquet(folder / case.file)
    elif case.file is not None and case.raw is not None:
        (folder / case.file).write_bytes(case.raw)
    elif case.file is not None:
        with (TINY / case.file).open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        for row, column, text in case.edits:
            rows[row - 1][rows[0].index(column)] = text
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        (folder / case.file).write_text(buf.getvalue(), encoding="utf-8")
    for name, data in case.extra.items():
        (folder / name).write_bytes(data)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_tiny_company_imports_with_every_row_and_value(tiny_warehouse):
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        counts = store.table_counts(con)
        # By hand: 65 x 3 + 89 x 2 + 142.50 + 71.25 + 44 + 55 x 2 + 120 + 62 x 2 + 78 x 2
        # = 195 + 178 + 142.50 + 71.25 + 44 + 110 + 120 + 124 + 156 = 1140.75
        revenue = con.execute("SELECT sum(amount) FROM orders").fetchall()[0][0]
        prereq = con.execute("SELECT prerequisites FROM courses WHERE course_id = 'K3'").fetchall()
        last = con.execute("SELECT ordered_at FROM orders WHERE order_id = 'O015'").fetchall()
    assert counts == TINY_ROWS
    assert str(revenue) == "1140.75"
    assert prereq == [(["K1", "K2"],)]
    assert last[0][0].microsecond == 250_000


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.code}-{c.file}")
def test_bad_input_is_named_where_it_is_and_changes_nothing(case, tiny_warehouse, tmp_path):
    folder = tmp_path / "incoming"
    _write_case(case, folder)
    before = _digest(tiny_warehouse)
    with pytest.raises(ImportRejected) as caught:
        import_dir(folder, path=tiny_warehouse, today=TINY_TODAY)
    issues = [i for i in caught.value.issues if i.code == case.code]
    assert issues, f"expected {case.code}, got {caught.value}"
    where = case.where or case.file
    assert any(
        (where is None or i.file == where)
        and (case.row is None or i.row == case.row)
        and (case.column is None or i.column == case.column)
        for i in issues
    ), str(caught.value)
    assert "Nothing was written" in str(caught.value)
    assert _digest(tiny_warehouse) == before
    left = sorted(p.name for p in tiny_warehouse.parent.iterdir() if p.suffix != ".lock")
    assert left == ["cxm.duckdb", "incoming"][: 2 if case.create else 1]


def test_every_problem_is_reported_at_once_with_a_capped_list_and_the_total(
    tiny_warehouse, tmp_path
):
    folder = tmp_path / "incoming"
    folder.mkdir()
    orders = pl.read_csv(TINY / "orders.csv", infer_schema=False)
    # 15 negative amounts, 15 unknown channels and one dangling seller: 31 problems.
    orders = orders.with_columns(pl.lit("-1.00").alias("amount"), pl.lit("fax").alias("channel"))
    orders = orders.with_columns(
        pl.when(pl.col("order_id") == "O015")
        .then(pl.lit("S77"))
        .otherwise(pl.col("seller_id"))
        .alias("seller_id")
    )
    orders.write_csv(folder / "orders.csv")
    with pytest.raises(ImportRejected) as caught:
        import_dir(folder, path=tiny_warehouse, today=TINY_TODAY)
    # Issue 20: the references are checked beside the values' problems, not after them:
    # 15 + 15 + 1 (it used to stop at 30, the dangling seller unlisted).
    assert caught.value.total == 31
    assert caught.value.codes == {"negative_amount", "unknown_channel", "dangling_reference"}
    first_line = str(caught.value).splitlines()[0]
    assert first_line == "Import of incoming/ rejected: 31 problems in 1 file. Nothing was written."


def test_an_unknown_market_suggests_the_configured_one(tiny_warehouse, tmp_path):
    folder = tmp_path / "incoming"
    _write_case(Bad("unknown_market", "customers.csv", ((2, "market", "us"),)), folder)
    with pytest.raises(ImportRejected) as caught:
        import_dir(folder, path=tiny_warehouse, today=TINY_TODAY)
    assert (
        'customers.csv row 2, market: "us" is not a configured market; did you mean "US"? '
        "[unknown_market]." in str(caught.value)
    )


def test_a_good_partial_import_replaces_only_its_tables(tiny_warehouse, tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    shutil.copy(TINY / "kpi_targets.csv", folder)
    (folder / "kpi_targets.csv").write_text(
        "period,kpi_id,segment,target\n2026-Q2,active_rate,,0.25\n"
    )
    result = import_dir(folder, path=tiny_warehouse, today=TINY_TODAY)
    assert result.rows == {"kpi_targets": 1}
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        assert con.execute("SELECT period, target FROM kpi_targets").fetchall() == [
            ("2026-Q2", 0.25)
        ]
        assert con.execute("SELECT count(*) FROM orders").fetchall() == [(15,)]
        assert con.execute(
            "SELECT kind, tables FROM cxm_loads ORDER BY loaded_at DESC LIMIT 1"
        ).fetchall() == [("import", ["kpi_targets"])]


def _trigger(case: Bad) -> str:
    if not case.create:
        return "the folder does not exist"
    if case.file is None:
        return "an empty folder" if not case.extra else f"an extra file {', '.join(case.extra)}"
    if case.parquet is not None:
        ours = polars_schema(TABLES[Path(case.file).stem])
        odd = {c: str(t) for c, t in case.parquet.schema.items() if t != ours[c]}
        return (
            f"`{case.file}` holding {case.parquet.rows(named=True)[-1]}, typed {odd or 'as ours'}"
        )
    if case.raw is not None:
        return f"`{case.file}` with these bytes: `{case.raw[:90]!r}`"
    edits = "; ".join(f"row {r}, {c} = `{t}`" for r, c, t in case.edits)
    more = f" beside {', '.join(case.extra)}" if case.extra else ""
    return f"`{case.file}` from the tiny company" + (f" with {edits}" if edits else "") + more


def render_errors_doc(workdir: Path, template: Path) -> str:
    """Return docs/errors.md: every code, its rule, and what each trigger really prints."""
    from cxm.errors import ISSUE_CODES

    lines = [
        "# Import errors",
        "",
        "Every problem `cxm import` reports has a stable code. Each trigger below is a "
        "case of `tests/test_import.py`, applied to the tiny company "
        "(`tests/fixtures/tiny_company/`) already in the warehouse; the message is what "
        "the importer printed for it. Rows count as a spreadsheet shows them (header = "
        "row 1). This file is generated: `make docs`.",
        "",
    ]
    for code, rule in ISSUE_CODES.items():
        lines += [f"## `{code}`", "", rule, ""]
        for i, case in enumerate(c for c in CASES if c.code == code):
            folder = workdir / f"{code}-{i}"
            warehouse = workdir / f"{code}-{i}.duckdb"
            shutil.copyfile(template, warehouse)
            _write_case(case, folder)
            with pytest.raises(ImportRejected) as caught:
                import_dir(folder, path=warehouse, today=TINY_TODAY)
            shown = next(i.line() for i in caught.value.issues if i.code == code)
            shown = shown.replace(str(workdir) + "/", "")
            lines += [f"- Trigger: {_trigger(case)}", f"  - `{shown}`"]
        lines.append("")
    from tests.test_experiment_errors import experiment_errors_doc
    from tests.test_settings import setting_errors_doc

    sections = _import_warnings(workdir, template) + _upload_errors(workdir) + _failures()
    sections += setting_errors_doc() + experiment_errors_doc(workdir, template)
    return "\n".join(lines + sections)


def _failures() -> list[str]:
    """Return the docs' section on failures: each code, its exit code, rule and fix."""
    import inspect

    from cxm.warehouse.failures import FAILURES

    lines = [
        "# Failures",
        "",
        "What stops a load or a page that is not the input's fault. Each is named by its code "
        "on the pages (the Data page also by its title) and on stderr, where `cxm` ends with "
        "the failure's exit code (1 is a rejected input, 2 a usage error); a load it stopped "
        "(`cxm import`, `cxm demo`, an upload on the Data page) is audited as `import failed` "
        "with the code. Messages name no path on the server; `cxm` prints it on a line of its "
        "own. The cases are in `tests/test_failures.py`.",
        "",
        "| code | exit | title | what it means and the fix |",
        "|---|---|---|---|",
    ]
    for failure in FAILURES:
        rule = " ".join(inspect.getdoc(failure).split())
        lines.append(f"| `{failure.code}` | {failure.exit_code} | {failure.title} | {rule} |")
    return [*lines, ""]


def _import_warnings(workdir: Path, template: Path) -> list[str]:
    """Return the docs' section on warnings: each code, its rule, what its trigger prints."""
    from cxm.errors import WARNING_CODES

    lines = [
        "# Import warnings",
        "",
        "A warning does not stop an import: the rows load, and the summary (`cxm import`, the "
        "Data page, `cxm status`) gives their count and the first of them.",
        "",
    ]
    for code, rule in WARNING_CODES.items():
        folder, warehouse = workdir / f"warn-{code}", workdir / f"warn-{code}.duckdb"
        shutil.copyfile(template, warehouse)
        folder.mkdir()
        (folder / "orders.csv").write_text((TINY / "orders.csv").read_text() + OUTSIDE)
        result = import_dir(folder, path=warehouse, today=TINY_TODAY, check_only=True)
        added = ", ".join(f"`{r}`" for r in OUTSIDE.splitlines())
        lines += [f"## `{code}`", "", rule, ""]
        lines += [f"- Trigger: `orders.csv` from the tiny company with the rows {added} added"]
        lines += [f"  - `{w.line()}`" for w in result.warnings]
        lines.append("")
    return lines


def _upload_errors(workdir: Path) -> list[str]:
    """Return the docs' section on uploads: each code, its rule, what each trigger prints."""
    from cxm.admin.uploads import stage
    from cxm.errors import UPLOAD_CODES
    from tests.test_uploads import UPLOAD_CASES

    lines = [
        "# Upload errors",
        "",
        "An import uploaded on the Data page is first checked as an upload (the cases of "
        "`tests/test_uploads.py`); its files then get every check above.",
        "",
    ]
    for code, rule in UPLOAD_CODES.items():
        lines += [f"## `{code}`", "", rule, ""]
        for i, (trigger, files, _, _) in enumerate(c for c in UPLOAD_CASES if c[2] == code):
            folder = workdir / f"upload-{code}-{i}"
            folder.mkdir()
            with pytest.raises(ImportRejected) as caught:
                stage(files, folder)
            lines += [f"- Trigger: {trigger}", f"  - `{caught.value.issues[0].line()}`"]
        lines.append("")
    return lines


def test_every_issue_code_has_a_bad_input_case():
    from cxm.errors import ISSUE_CODES, UPLOAD_CODES
    from tests.test_uploads import UPLOAD_CASES

    assert {c.code for c in CASES} == set(ISSUE_CODES)
    assert {c[2] for c in UPLOAD_CASES} == set(UPLOAD_CODES)


def test_docs_errors_md_shows_what_each_trigger_prints(tiny_warehouse_template, tmp_path):
    doc = Path(__file__).parents[1] / "docs" / "errors.md"
    text = render_errors_doc(tmp_path, tiny_warehouse_template)
    if os.environ.get("CXM_UPDATE_DOCS") == "1":
        doc.write_text(text, encoding="utf-8")
    assert doc.read_text(encoding="utf-8") == text, "docs/errors.md is stale: run `make docs`"


def test_a_sponsor_loop_is_reported_once_with_its_chain_not_once_per_downline_member(
    tiny_warehouse, tmp_path
):
    # S01 -> S04 -> S02 -> S01 is a loop; S03, S12 (under S01) and S04's line all hang below
    # it, yet it is one problem.
    folder = tmp_path / "incoming"
    _write_case(Bad("sponsor_cycle", "sellers.csv", ((2, "sponsor_id", "S04"),)), folder)
    with pytest.raises(ImportRejected) as caught:
        import_dir(folder, path=tiny_warehouse, today=TINY_TODAY)
    (issue,) = caught.value.issues
    assert (issue.row, issue.value) == (2, "S04")
    assert "(S01 -> S04 -> S02 -> S01)" in issue.message


@pytest.mark.parametrize("chunk", range(1, 9))
def test_a_non_utf8_byte_is_found_at_its_offset_whatever_the_chunk_edges(chunk):
    from cxm.warehouse._files import _first_non_utf8

    data = "aé".encode() * 10 + b"\xff" + b"x"  # 'aé' is 3 bytes: the bad byte is at 30
    assert _first_non_utf8(data, chunk=chunk) == 30
    assert _first_non_utf8("aé".encode() * 10, chunk=chunk) is None


def test_a_long_loop_is_named_by_its_ends_and_length_not_every_member():
    from cxm.warehouse._trees import chain_text as _chain

    ids = [f"S{i:06d}" for i in range(200_000)]
    text = _chain(ids)
    assert text == "S000000 -> S000001 -> S000002 -> ... 199,994 more ... -> S199997 -> " \
        "S199998 -> S199999 -> S000000"  # fmt: skip
    assert _chain(["K1", "K3"]) == "K1 -> K3 -> K1"


def test_an_import_validates_under_the_writer_lock_so_a_concurrent_load_makes_it_wait(
    tiny_warehouse, tmp_path
):
    # While another load holds the lock, an import does not even read its files: what it
    # would check against may be about to change. (It used to validate first, unlocked.)
    import fcntl

    from cxm.errors import WarehouseBusy

    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "kpi_targets.csv").write_text("period,kpi_id,segment,target\n2026,nope,,x\n")
    before = tiny_warehouse.read_bytes()
    with open(f"{tiny_warehouse}.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(WarehouseBusy):
            import_dir(folder, path=tiny_warehouse)
    assert tiny_warehouse.read_bytes() == before
    with pytest.raises(ImportRejected):  # lock released: now it is checked, and refused
        import_dir(folder, path=tiny_warehouse)


def test_a_partial_import_keeps_the_warehouse_files_permissions(tiny_warehouse, tmp_path):
    import stat

    tiny_warehouse.chmod(0o644)
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "kpi_targets.csv").write_text(
        "period,kpi_id,segment,target\n2026-03,active_rate,,0.3\n"
    )
    result = import_dir(folder, path=tiny_warehouse)
    assert result.rows == {"kpi_targets": 1}
    assert stat.S_IMODE(tiny_warehouse.stat().st_mode) == 0o644


def _reject(folder: Path, warehouse: Path) -> ImportRejected:
    with pytest.raises(ImportRejected) as caught:
        import_dir(folder, path=warehouse, today=TINY_TODAY)
    return caught.value


def _courses(nl: str, k2: str = "K2,Claims and compliance,Member,,true,en;es;pt-BR;fr") -> str:
    """The tiny company's courses, K1's title holding a quoted comma and line break, then a
    blank line: K2 is on the 5th line but the 4th row a spreadsheet shows."""
    return nl.join(
        [
            "course_id,title,min_rank,prerequisites,compliance,languages",
            f'K1,"Welcome,{nl}friends",Member,,false,en;es;pt-BR;fr',
            "",
            k2,
            "K3,Leading a team,Manager,K1;K2,false,en;es",
            "",
        ]
    )


NEWLINES = pytest.mark.parametrize("nl", ["\n", "\r\n"], ids=["lf", "crlf"])


@NEWLINES
def test_a_short_row_is_refused_at_the_row_a_spreadsheet_shows(nl, tiny_warehouse, tmp_path):
    # Polars used to read the missing languages as empty and import K2 without them.
    folder = tmp_path / "incoming"
    folder.mkdir()
    short = "K2,Claims and compliance,Member,,true"
    (folder / "courses.csv").write_bytes(_courses(nl, short).encode())
    before = _digest(tiny_warehouse)
    rejected = _reject(folder, tiny_warehouse)
    assert rejected.total == 1
    assert [i.line() for i in rejected.issues] == [
        'courses.csv row 4: "K2,Claims and compliance,Member,,true" has 5 fields where the '
        "header has 6 (a missing field or a line break inside an unquoted value?) "
        "[malformed_csv]."
    ]
    assert _digest(tiny_warehouse) == before


@NEWLINES
def test_a_short_last_row_without_a_final_newline_is_refused(nl, tiny_warehouse, tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    text = nl.join(["period,kpi_id,segment,target", "2026-Q1,active_rate,,0.22", "2026-Q2,x,"])
    (folder / "kpi_targets.csv").write_bytes(text.encode())
    (issue,) = _reject(folder, tiny_warehouse).issues
    assert (issue.code, issue.row, issue.value) == ("malformed_csv", 3, "2026-Q2,x,")
    assert issue.message.startswith("has 3 fields where the header has 4 (a missing field")


def test_every_short_row_is_counted_and_the_first_is_listed(tiny_warehouse, tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    lines = (TINY / "orders.csv").read_text(encoding="utf-8").splitlines()
    for row in (4, 9, 16):  # drop the channel of three orders
        lines[row - 1] = lines[row - 1].rsplit(",", 1)[0]
    (folder / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejected = _reject(folder, tiny_warehouse)
    (issue,) = rejected.issues
    assert (rejected.total, issue.row) == (3, 4)
    assert issue.message.endswith("; 3 rows in all do not have 9 fields")
    assert str(rejected).splitlines()[0].startswith("Import of incoming/ rejected: 3 problems")
    assert "... and 2 more." in str(rejected).splitlines()


@NEWLINES
def test_a_quoted_comma_and_line_break_are_one_value_not_a_short_row(nl, tiny_warehouse, tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "courses.csv").write_bytes(_courses(nl).encode())
    result = import_dir(folder, path=tiny_warehouse, today=TINY_TODAY)
    assert result.rows == {"courses": 3}  # the blank lines are no rows
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        titles = con.execute("SELECT title FROM courses ORDER BY course_id").fetchall()
    assert titles == [(f"Welcome,{nl}friends",), ("Claims and compliance",), ("Leading a team",)]


@NEWLINES
def test_blank_lines_are_skipped_and_the_rows_after_them_keep_their_numbers(
    nl, tiny_warehouse, tmp_path
):
    # Polars reads a blank line as a row of empty values (9 missing_value issues each, even
    # for a blank line at the end); it holds no value, so it is skipped, but it still counts
    # as the spreadsheet row it is.
    folder = tmp_path / "incoming"
    folder.mkdir()
    lines = (TINY / "orders.csv").read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace(",65.00,", ",-65.00,")  # O003, row 4; row 5 after the blank
    text = nl.join([*lines[:3], "", *lines[3:], "", ""])
    (folder / "orders.csv").write_bytes(text.encode())
    (issue,) = _reject(folder, tiny_warehouse).issues
    assert (issue.code, issue.row, issue.value) == ("negative_amount", 5, "-65.00")
    (folder / "orders.csv").write_bytes(text.replace(",-65.00,", ",65.00,").encode())
    assert import_dir(folder, path=tiny_warehouse, today=TINY_TODAY).rows == {"orders": 15}


def test_a_blank_line_before_a_long_row_is_not_the_row_reported(tiny_warehouse, tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "kpi_targets.csv").write_bytes(
        b"period,kpi_id,segment,target\n\n2026-Q1,active_rate,,0.22,9\n"
    )
    (issue,) = _reject(folder, tiny_warehouse).issues
    assert (issue.code, issue.row) == ("malformed_csv", 3)
    assert (
        issue.message == "has 5 fields where the header has 4 (a stray comma or an unclosed quote?)"
    )


def test_a_non_utf8_byte_is_placed_at_its_spreadsheet_row_after_a_quoted_line_break(
    tiny_warehouse, tmp_path
):
    folder = tmp_path / "incoming"
    folder.mkdir()
    text = _courses("\n", "K2,Claims and compliance,Member,,true,en;es;pt-BR;fr").replace(
        "Claims", "Cl\xe9ims"
    )
    (folder / "courses.csv").write_bytes(text.encode("latin-1"))
    (issue,) = _reject(folder, tiny_warehouse).issues
    assert (issue.code, issue.row) == ("bad_encoding", 4)  # line 5 of the file


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 11, 64])
def test_a_short_row_across_piece_edges_is_found_whatever_the_chunk(chunk):
    from cxm.errors import ImportIssue
    from cxm.warehouse._checks import Found
    from cxm.warehouse._files import _check_widths, _record_fields

    data = b'a,b,c\r\n1,"x,\r\n""y""",3\r\n\r\n4,"5,5"\r\n6,7,8'
    pieces = list(_record_fields(data, chunk))
    ends = np.concatenate([e for e, _ in pieces]).tolist()
    fields = np.concatenate([f for _, f in pieces]).tolist()
    assert fields == [3, 3, 0, 2, 3]
    assert ends == [6, 23, 25, 34, len(data)]
    found = Found()
    assert _check_widths("t.csv", data, 3, found, chunk) is None
    assert found.issues == [
        ImportIssue(
            file="t.csv",
            row=4,
            value="4,5,5",
            code="malformed_csv",
            message="has 2 fields where the header has 3 (a missing field or a line break "
            "inside an unquoted value?)",
        )
    ]
    good = Found()
    blank_rows = _check_widths("t.csv", data.replace(b'4,"5,5"', b"4,5,5"), 3, good, chunk)
    assert not good and blank_rows.tolist() == [3]


_UNQUOTED = st.text(alphabet="ab ", max_size=3)
_QUOTED = st.text(alphabet='a,"\n\r ', max_size=4).map(lambda s: '"' + s.replace('"', '""') + '"')


@settings(max_examples=300, deadline=None)
@given(
    records=st.lists(st.lists(_UNQUOTED | _QUOTED, min_size=1, max_size=4), max_size=6),
    newlines=st.lists(st.sampled_from(["\n", "\r\n"]), min_size=6, max_size=6),
    final=st.booleans(),
    chunk=st.integers(1, 12),
)
def test_field_counts_match_the_csv_module_on_random_csv_texts(records, newlines, final, chunk):
    from cxm.warehouse._files import _record_fields

    text = "".join(",".join(r) + nl for r, nl in zip(records, newlines, strict=False))
    if not final and text:
        text = text.removesuffix(newlines[len(records) - 1])
    data = text.encode()
    pieces = list(_record_fields(data, chunk))
    fields = [int(f) for _, fs in pieces for f in fs]
    ends = [int(e) for es, _ in pieces for e in es]
    # csv.reader gives [] for a blank line, where _record_fields gives 0
    assert fields == [len(row) for row in csv.reader(io.StringIO(text, newline=""))]
    assert all(data[e : e + 1] in (b"\n", b"") for e in ends)


# Issue 19, finding 7: orders outside their seller's membership used to load without a word.
# Three orders after the tiny company's 15 (rows 2-16): O016 (row 17) on 2025-10-14, the day
# before S06 left, is inside; O017 (row 18) on S06's termination day 2025-10-15 is outside
# (terminated that day, as every KPI counts status); O018 (row 19) the day before S08 enrolled
# (2026-01-05) is outside.
OUTSIDE = (
    "O016,C07,S06,2025-10-14 09:00:00,10.00,1,wellness,false,seller_link\n"
    "O017,C07,S06,2025-10-15 09:00:00,11.00,1,wellness,false,seller_link\n"
    "O018,C07,S08,2026-01-04 23:59:59,12.00,1,wellness,false,seller_link\n"
)


def test_orders_outside_their_sellers_membership_load_with_a_warning_naming_each_row(
    tiny_warehouse, tmp_path
):
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "orders.csv").write_text((TINY / "orders.csv").read_text() + OUTSIDE)
    result = import_dir(folder, path=tiny_warehouse, today=TINY_TODAY)
    # Rows 2-16 are the tiny company's orders; O016 is row 17, O017 row 18, O018 row 19.
    assert result.written and result.rows == {"orders": 18}
    assert result.warning_total == 2
    assert [(w.file, w.row, w.column, w.value, w.code) for w in result.warnings] == [
        ("orders.csv", 18, "ordered_at", "2025-10-15 09:00:00", "order_outside_membership"),
        ("orders.csv", 19, "ordered_at", "2026-01-04 23:59:59", "order_outside_membership"),
    ]
    assert "on or after seller S06's termination day (2025-10-15)" in result.warnings[0].message
    assert "before seller S08 enrolled (2026-01-05)" in result.warnings[1].message
    assert result.warning_lines()[0].startswith("Warning: 2 orders are dated outside")
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:  # loaded all the same
        assert con.execute("SELECT count(*) FROM orders").fetchall() == [(18,)]


def test_a_sellers_import_warns_about_kept_orders_it_puts_outside_membership(
    tiny_warehouse, tmp_path
):
    # S01 enrolled 2025-01-10; moved to 2025-02-02, their order O001 (2025-02-01, kept in the
    # warehouse) comes before the enrolment: named by its id, as it has no row in this import.
    folder = tmp_path / "incoming"
    _write_case(Bad("", "sellers.csv", ((2, "enrolled_on", "2025-02-02"),)), folder)
    result = import_dir(folder, path=tiny_warehouse, today=TINY_TODAY, check_only=True)
    assert result.warning_total == 1
    (w,) = result.warnings
    assert (w.file, w.row, w.value) == (
        "orders (in the warehouse)",
        None,
        "O001 2025-02-01 10:00:00",
    )


def test_the_tiny_company_has_no_order_outside_membership(tiny_warehouse_template):
    result = import_dir(TINY, path=tiny_warehouse_template, today=TINY_TODAY, check_only=True)
    assert (result.warning_total, result.warnings, result.warning_lines()) == (0, (), [])


def test_a_customers_file_without_acquisition_channel_imports_with_the_channel_not_recorded(
    tmp_path,
):
    folder = tmp_path / "in"
    shutil.copytree(TINY, folder)
    # The tiny company's sellers.csv leaves the column out already; its customers.csv has it.
    lines = (folder / "customers.csv").read_text().splitlines()
    (folder / "customers.csv").write_text(
        "\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n"
    )
    path = tmp_path / "w.duckdb"
    import_dir(folder, path=path, today=TINY_TODAY)
    with duckdb.connect(str(path), read_only=True) as con:
        # The 10 customers and 12 sellers load, each with no channel (docs/schema.md).
        got = con.execute(
            "SELECT count(*), count(acquisition_channel) FROM customers UNION ALL "
            "SELECT count(*), count(acquisition_channel) FROM sellers"
        ).fetchall()
    assert got == [(10, 0), (12, 0)]
