"""Orders outside their seller's membership: a warning of an import, never a refusal.

A seller is a member from their enrolment day up to the day before their termination day (on
the termination day they are terminated, as every KPI counts status). An order dated before
the enrolment or on or after the termination day is loaded and counts in every KPI like any
other, but the import says so: a count and the first rows.
"""

from __future__ import annotations

import duckdb

from cxm.errors import ImportIssue

#: Rows of orders outside membership an import or `cxm status` lists; all are counted.
LISTED = 20

_QUERY = """
SELECT {row} AS row, o.order_id, o.seller_id, strftime(o.ordered_at, '%Y-%m-%d %H:%M:%S') AS at,
    s.enrolled_on, s.terminated_on,
    CAST(o.ordered_at AS DATE) < s.enrolled_on AS before_enrolment,
    count(*) OVER () AS total
FROM {orders} o JOIN {sellers} s ON s.seller_id = o.seller_id
WHERE CAST(o.ordered_at AS DATE) < s.enrolled_on
   OR CAST(o.ordered_at AS DATE) >= s.terminated_on
ORDER BY {row_order}
LIMIT {limit}
"""


def outside_membership(
    con: duckdb.DuckDBPyConnection,
    *,
    orders: str = "orders",
    sellers: str = "sellers",
    file: str = "orders (in the warehouse)",
    has_rows: bool = False,
) -> tuple[list[ImportIssue], int]:
    """Return the first orders dated outside their seller's membership, and how many there are.

    ``orders`` and ``sellers`` name relations of ``con`` with the tables' columns (and, with
    ``has_rows``, the file's row numbers in ``__row``: an order is then named by its row, else
    by its id). Each issue is a warning with the code ``order_outside_membership``.

    Examples
    --------
    S1 enrolled on 1 March and was terminated on 10 March: an order of 28 February is before
    the enrolment, one of 10 March on the termination day; one of 9 March is inside.

    >>> con = duckdb.connect()
    >>> _ = con.execute("CREATE TABLE sellers AS SELECT 'S1' AS seller_id, "
    ...     "DATE '2026-03-01' AS enrolled_on, DATE '2026-03-10' AS terminated_on")
    >>> _ = con.execute("CREATE TABLE orders AS SELECT * FROM (VALUES "
    ...     "('O1', 'S1', TIMESTAMP '2026-02-28 23:00'),"
    ...     "('O2', 'S1', TIMESTAMP '2026-03-09 09:00'),"
    ...     "('O3', 'S1', TIMESTAMP '2026-03-10 08:00')) t(order_id, seller_id, ordered_at)")
    >>> issues, total = outside_membership(con)
    >>> total, [i.value for i in issues]
    (2, ['O1 2026-02-28 23:00:00', 'O3 2026-03-10 08:00:00'])
    """
    row = "o.__row" if has_rows else "NULL"
    rows = con.execute(
        _QUERY.format(
            row=row,
            orders=orders,  # relation names come from the caller's code, never from a user
            sellers=sellers,
            row_order="o.__row" if has_rows else "o.ordered_at, o.order_id",
            limit=LISTED,
        )
    ).fetchall()
    issues = []
    for n, order_id, seller_id, at, enrolled, terminated, before, _ in rows:
        when = (
            f"is before seller {seller_id} enrolled ({enrolled})"
            if before
            else f"is on or after seller {seller_id}'s termination day ({terminated})"
        )
        issues.append(
            ImportIssue(
                file=file,
                row=n,
                column="ordered_at",
                value=at if has_rows else f"{order_id} {at}",
                code="order_outside_membership",
                message=when,
            )
        )
    return issues, rows[0][-1] if rows else 0


def import_warnings(
    con: duckdb.DuckDBPyConnection, names: dict[str, str], tables: set[str], warehouse: bool
) -> tuple[tuple[ImportIssue, ...], int]:
    """Return the orders outside their seller's membership once this import is in.

    ``con`` holds each imported table as ``new_<table>`` (with its rows' numbers) and, with
    ``warehouse``, the live warehouse's as ``live.<table>``: an order or seller this import
    keeps is read there. ``tables``: the tables this import brings.
    """
    imported = {"orders", "sellers"} & tables
    if not imported or (len(imported) < 2 and not warehouse):
        return (), 0  # no order or seller changes, or nothing to hold them against
    issues, total = outside_membership(
        con,
        orders="new_orders" if "orders" in imported else "live.orders",
        sellers="new_sellers" if "sellers" in imported else "live.sellers",
        file=names.get("orders", "orders (in the warehouse)"),
        has_rows="orders" in imported,
    )
    return tuple(issues), total
