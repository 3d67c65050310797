"""A refused import lists the problems of every stage it could check (issue 20, finding 5).

The checks run in stages: each file's own (header, values, rows), then keys, references, the
sponsor tree and course prerequisites, and the KPI targets against the registry. A later stage
used to run only when every earlier one had passed, so a refusal listed the first stage's
problems and a second attempt found the next. Now each stage runs wherever its input is usable,
and what must wait says on what.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cxm.errors import ImportRejected
from cxm.pipeline import import_dir
from tests.conftest import TINY, TINY_TODAY


def _folder(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text)
    return folder


def _sellers(*edits: tuple[str, str]) -> str:
    """Return the tiny company's sellers.csv with (old line start, new line start) edits."""
    text = (TINY / "sellers.csv").read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    return text


def _refused(folder: Path, warehouse: Path) -> ImportRejected:
    with pytest.raises(ImportRejected) as caught:
        import_dir(folder, path=warehouse, today=TINY_TODAY)
    return caught.value


def _where(exc: ImportRejected) -> set[tuple[str, int | None, str | None, str]]:
    return {(i.file, i.row, i.column, i.code) for i in exc.issues}


def test_a_dangling_sponsor_is_listed_beside_another_rows_bad_value(tiny_warehouse, tmp_path):
    # Row 3 (S02) has market "XX"; row 4 (S03) is sponsored by S99, who is nobody. Both at
    # once: the dangling sponsor used to wait for the market to be fixed.
    sellers = _sellers(("S02,S01,2025-03-01,Manager,US", "S02,S01,2025-03-01,Manager,XX"),
                       ("S03,S01,", "S03,S99,"))  # fmt: skip
    exc = _refused(_folder(tmp_path, sellers=sellers), tiny_warehouse)
    assert _where(exc) == {
        ("sellers.csv", 3, "market", "unknown_market"),
        ("sellers.csv", 4, "sponsor_id", "dangling_reference"),
    }
    assert exc.total == 2 and exc.waiting == []


def test_a_sponsor_loop_is_listed_beside_a_bad_value(tiny_warehouse, tmp_path):
    # S01 sponsored by S04 closes S01 -> S04 -> S02 -> S01 (row 2); row 6 (S05) has a
    # negative weekly sales goal (an amount).
    goal = ("S05,,2025-02-01,Manager,BR,pt-BR,300.00", "S05,,2025-02-01,Manager,BR,pt-BR,-300.00")
    sellers = _sellers(("S01,,", "S01,S04,"), goal)
    exc = _refused(_folder(tmp_path, sellers=sellers), tiny_warehouse)
    assert _where(exc) == {
        ("sellers.csv", 2, "sponsor_id", "sponsor_cycle"),
        ("sellers.csv", 6, "weekly_sales_goal", "negative_amount"),
    }


def test_references_to_a_file_that_cannot_be_read_wait_and_the_others_are_checked(
    tiny_warehouse, tmp_path
):
    # sellers.csv lacks its terminated_on column, so it cannot be read: orders' seller ids
    # (S13, a seller of that file) are not checked against the warehouse's old sellers, which
    # would call them dangling. Orders' customer ids are still checked: C99 is nobody.
    header, *rows = (TINY / "sellers.csv").read_text().splitlines()
    broken = "\n".join(line.rsplit(",", 1)[0] for line in [header, *rows]) + "\n"
    orders = (TINY / "orders.csv").read_text() + (
        "O016,C01,S13,2026-03-01 10:00:00,10.00,1,wellness,false,seller_link\n"
        "O017,C99,S01,2026-03-01 11:00:00,10.00,1,wellness,false,seller_link\n"
    )
    exc = _refused(_folder(tmp_path, sellers=broken, orders=orders), tiny_warehouse)
    assert _where(exc) == {
        ("sellers.csv", 1, "terminated_on", "missing_column"),
        ("orders.csv", 18, "customer_id", "dangling_reference"),  # O017: header + 15 + 2
    }
    assert exc.waiting == [
        "sellers.csv could not be read, so its keys and the references to and from it are "
        "checked once it can be (and the sponsor tree)."
    ]
    assert str(exc).splitlines()[-2:] == ["Not checked yet:", exc.waiting[0]]


def test_the_sponsor_tree_waits_on_a_doubled_seller_id_and_says_so(tiny_warehouse, tmp_path):
    # S02 appears twice (rows 3 and 14); with S01 sponsored by S04 there is also a loop, which
    # cannot be walked while an id names two sellers.
    sellers = _sellers(("S01,,", "S01,S04,")) + "S02,,2025-03-01,Manager,US,en,300.00,2,\n"
    exc = _refused(_folder(tmp_path, sellers=sellers), tiny_warehouse)
    assert exc.codes == {"duplicate_key"}
    assert exc.waiting == ["The sponsor tree is checked once sellers.csv has no doubled id."]


def test_kpi_targets_wait_for_their_own_problems_before_the_registry_check(
    tiny_warehouse, tmp_path
):
    # Row 2 names no KPI of the registry; row 3's target is not a number. The registry check
    # waits on the file's own problem, and says so.
    targets = "period,kpi_id,segment,target\n2026-Q1,nope,,0.2\n2026-Q1,active_rate,,x\n"
    exc = _refused(_folder(tmp_path, kpi_targets=targets), tiny_warehouse)
    assert _where(exc) == {("kpi_targets.csv", 3, "target", "not_a_number")}
    assert exc.waiting == [
        "kpi_targets.csv's KPI ids and segments are checked against the registry once its "
        "own problems are fixed."
    ]
