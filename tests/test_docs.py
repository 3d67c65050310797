"""The generated docs match the code they describe."""

from __future__ import annotations

from cxm import docs


def test_docs_cli_md_is_the_help_of_every_command():
    assert (docs.DOCS / "cli.md").read_text(encoding="utf-8") == docs.render_cli(), (
        "docs/cli.md is stale: run `make docs`"
    )


def test_the_readme_configuration_table_is_every_setting_as_declared():
    from cxm.settings import VARIABLES

    text = docs.README.read_text(encoding="utf-8")
    for variable in VARIABLES:
        assert f"| `{variable}` |" in docs.render_readme(text)
    assert text == docs.render_readme(text), "README.md's settings are stale: run `make docs`"


def test_docs_schema_md_lists_every_declared_column():
    text = docs.render_schema()
    assert "| `amount` | DECIMAL(14, 2) | yes | >= 0 |" in text
    assert (docs.DOCS / "schema.md").read_text(encoding="utf-8") == text, (
        "docs/schema.md is stale: run `make docs`"
    )


def test_docs_metrics_md_lists_every_registry_kpi():
    from cxm.metrics import KPIS

    text = docs.render_metrics()
    for kpi in KPIS:
        assert f"| `{kpi.id}` | {kpi.label} |" in text
    assert (docs.DOCS / "metrics.md").read_text(encoding="utf-8") == text, (
        "docs/metrics.md is stale: run `make docs`"
    )


def test_docs_whatif_md_lists_every_state_field_and_catalog_action():
    from cxm.state.seller_state import FIELDS

    text = docs.render_whatif()
    for field in FIELDS:
        assert f"| `{field.name}` |" in text
    assert "(`reorder_reminder`)" in text and "| `unknown_field` |" in text
    assert (docs.DOCS / "whatif.md").read_text(encoding="utf-8") == text, (
        "docs/whatif.md is stale: run `make docs`"
    )


# Issue 19, finding 7: docs/whatif.md said lapsed customers are "91 to 365 days" old while the
# code counts 90 to 364, and that the market's average cart comes from all orders while the
# code reads live sellers' orders. The windows are now written from the constants the SQL uses,
# and the worked examples below run through the seller-state SQL on the tiny company.


def _state_as_of(con, as_of):
    from cxm.state import build_state

    build_state(con, as_of)
    rows = con.sql("SELECT * FROM seller_state").pl().iter_rows(named=True)
    return {r["seller_id"]: r for r in rows}


def test_the_customer_windows_worked_example_holds_in_the_seller_state_sql(tiny_warehouse):
    import datetime as dt

    import duckdb

    from cxm.state.seller_state import CUSTOMER_EXAMPLE_DAYS, customer_standing

    # As of 2026-03-02 (the tiny company's last event), S04 (live, no customers) is given four
    # customers whose last orders are 89, 90, 364 and 365 days back: 2025-12-03 (active),
    # 2025-12-02 and 2025-03-03 (lapsed), 2025-03-02 (gone). By hand: 4 customers, 1 active,
    # 2 lapsed.
    as_of = dt.date(2026, 3, 2)
    assert CUSTOMER_EXAMPLE_DAYS == (89, 90, 364, 365)
    assert [customer_standing(d) for d in CUSTOMER_EXAMPLE_DAYS] == [
        "active",
        "lapsed",
        "lapsed",
        "gone",
    ]
    with duckdb.connect(str(tiny_warehouse)) as con:
        for i, days in enumerate(CUSTOMER_EXAMPLE_DAYS):
            last = as_of - dt.timedelta(days=days)
            con.execute(
                "INSERT INTO fact_customers SELECT * REPLACE (? AS customer_id, 'S04' AS "
                "seller_id, CAST(? AS DATE) AS first_order_on, CAST(? AS DATE) AS last_order_on) "
                "FROM fact_customers WHERE customer_id = 'C04'",
                [f"X{i}", last - dt.timedelta(days=30), last],
            )
        s04 = _state_as_of(con, as_of)["S04"]
    assert (s04["customers"], s04["active_customers"], s04["lapsed_customers"]) == (4, 1, 2)


def test_the_sales_windows_worked_example_holds_in_the_seller_state_sql(tiny_warehouse):
    import datetime as dt

    import duckdb

    from cxm.state.seller_state import SALES_EXAMPLE_DAYS

    # As of 2026-03-02, S04 (no orders of its own) is given orders of 1, 10, 100 and 1,000
    # placed 6, 7, 89 and 90 days before: 2026-02-24, 2026-02-23, 2025-12-03, 2025-12-02. The
    # 7 days up to 2 March are 24 February to 2 March, the 90 days 3 December to 2 March. By
    # hand: sales_7d = 1; revenue_90d = 1 + 10 + 100 = 111 over 3 orders.
    as_of = dt.date(2026, 3, 2)
    assert SALES_EXAMPLE_DAYS == (6, 7, 89, 90)
    with duckdb.connect(str(tiny_warehouse)) as con:
        amounts = (1, 10, 100, 1000)
        for i, (days, amount) in enumerate(zip(SALES_EXAMPLE_DAYS, amounts, strict=True)):
            con.execute(
                "INSERT INTO orders VALUES (?, 'C04', 'S04', CAST(? AS TIMESTAMP) "
                "+ INTERVAL 23 HOUR, ?, 1, 'wellness', false, 'party')",
                [f"X{i}", as_of - dt.timedelta(days=days), amount],
            )
        s04 = _state_as_of(con, as_of)["S04"]
    assert (s04["sales_7d"], s04["revenue_90d"], s04["orders_90d"]) == (1.0, 111.0, 3)
    text = docs.render_whatif()
    assert "| 2026-10-25 | 6 | yes | yes |" in text and "| 2026-10-24 | 7 | no | yes |" in text
    assert "| 2026-08-02 | 90 | no | no |" in text


def test_the_cart_worked_example_holds_in_the_seller_state_sql(tiny_warehouse):
    import datetime as dt

    import duckdb

    from cxm.state.seller_state import CART_EXAMPLE

    # Brazil as of 2026-01-10, the 90 days from 2025-10-13: S07 (B) sold one order of 120
    # (O011, 2025-11-10); S05 (A) is given two of 30; S06 (C, terminated 2025-10-15) one of 900
    # the day before leaving. Live sellers' orders: 180 / 3 = 60, so A 30 / 60 = 0.5 and B
    # 120 / 60 = 2.0; S08 (live since 2026-01-05, no orders) stays at 1. With S06's order the
    # average would be 1,080 / 4 = 270 and A's cart 0.11.
    assert CART_EXAMPLE.live == {"A": (30.0, 30.0), "B": (120.0,)}
    assert CART_EXAMPLE.left == {"C": (900.0,)}
    added = [("X1", "S05", "2025-12-01", 30), ("X2", "S05", "2025-12-15", 30)]
    added += [("X3", "S06", "2025-10-14", 900)]
    with duckdb.connect(str(tiny_warehouse)) as con:
        for order_id, seller, day, amount in added:
            con.execute(
                "INSERT INTO orders VALUES (?, 'C07', ?, CAST(? AS TIMESTAMP) + INTERVAL 10 HOUR, "
                "?, 1, 'wellness', false, 'party')",
                [order_id, seller, day, amount],
            )
        state = _state_as_of(con, dt.date(2026, 1, 10))
    assert "S06" not in state
    got = {s: state[s]["cart_vs_market"] for s in ("S05", "S07", "S08")}
    assert got == {"S05": 0.5, "S07": 2.0, "S08": 1.0}
    assert (got["S05"], got["S07"]) == tuple(CART_EXAMPLE.ratios().values())


def test_whatif_md_states_the_windows_the_seller_state_sql_uses():
    from cxm.metrics.value import AT_RISK

    text = docs.render_whatif()
    assert "last order is 90 to 364 days before the as-of date" in text
    assert "91 to 365" not in text
    assert "from the orders of the market's live sellers" in text
    assert "| 2026-08-02 | 90 | lapsed |" in text and "| 2025-10-31 | 365 | gone |" in text
    assert "The market's average order is 60 (live sellers' orders only" in text
    assert f"P(alive) under {AT_RISK}." in text  # the windows paragraph
    assert f"P(alive) under {AT_RISK} (0 when no model fits)" in text  # the field's definition
