"""The company as one user may see it: the one object every reader of the warehouse takes.

The rule, decided once (docs/architecture.md, "Scope"): **a user scoped to some markets sees
the company as if it held only their markets.** A recruit, customer, order, answer or ticket
outside them does not exist for that user, whoever sponsored or served it: a Canadian recruit
of a Brazilian sponsor is not a Brazilian enrolment, and does not make the sponsor active.

It holds by construction, not by each query's care. A scoped user's queries run on a database
of their own (`build`): every company table cut to their markets by `CUT`, and every fact,
customer value, what-if state and cube derived from that cut by the same code a load runs. A
reader takes a `Scoped` (a connection whose every table name is that user's company) and its
SQL carries no scope at all. A user who sees every market reads the warehouse itself.

`CUT` is the physical cut, table by table: a row exists when its market is inside the scope and
every row it refers to exists; a seller whose sponsor is outside keeps no sponsor (they are a
root of the scoped tree), since the seller, not the link, is what is inside.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from cxm.access import Scope
from cxm.errors import CxmError
from cxm.warehouse import failures, store
from cxm.warehouse.schema import TABLES


@dataclass(frozen=True)
class Scoped:
    """The company as one user sees it: ``con`` resolves every table name to that company.

    ``scope`` is kept for what a reader says (captions, files) and for refusing a filter on a
    market outside it (`cxm.metrics.compute.check_scope`); the data needs it no more.
    """

    con: duckdb.DuckDBPyConnection
    scope: Scope

    @classmethod
    def everywhere(cls, con: duckdb.DuckDBPyConnection) -> Scoped:
        """Return the whole company through ``con`` (a user who sees every market)."""
        return cls(con=con, scope=Scope.everywhere())


#: The physical cut of each company table to the markets in ``$markets``, in load order, each
#: reading the company as ``company`` and the tables cut before it by their own names.
CUT: dict[str, str] = {
    "sellers": """
        SELECT s.* REPLACE (CASE WHEN list_contains($markets, sp.market) THEN s.sponsor_id END
                            AS sponsor_id)
        FROM company.sellers s LEFT JOIN company.sellers sp ON sp.seller_id = s.sponsor_id
        WHERE list_contains($markets, s.market)""",
    "customers": """
        SELECT * FROM company.customers
        WHERE list_contains($markets, market) AND seller_id IN (SELECT seller_id FROM sellers)""",
    "orders": """
        SELECT * FROM company.orders
        WHERE customer_id IN (SELECT customer_id FROM customers)
          AND seller_id IN (SELECT seller_id FROM sellers)""",
    "activities": """
        SELECT * FROM company.activities WHERE seller_id IN (SELECT seller_id FROM sellers)""",
    "courses": "SELECT * FROM company.courses",
    "course_completions": """
        SELECT * FROM company.course_completions
        WHERE seller_id IN (SELECT seller_id FROM sellers)""",
    "survey_responses": """
        SELECT * FROM company.survey_responses
        WHERE list_contains($markets, market)
          AND (seller_id IS NULL OR seller_id IN (SELECT seller_id FROM sellers))
          AND CASE respondent_type
                WHEN 'seller' THEN respondent_id IN (SELECT seller_id FROM sellers)
                WHEN 'customer' THEN respondent_id IN (SELECT customer_id FROM customers)
                ELSE true END""",
    "tickets": """
        SELECT * FROM company.tickets
        WHERE list_contains($markets, market)
          AND CASE requester_type
                WHEN 'seller' THEN requester_id IN (SELECT seller_id FROM sellers)
                WHEN 'customer' THEN requester_id IN (SELECT customer_id FROM customers)
                ELSE true END""",
    # Targets are the company's, read against whatever the user's company adds up to.
    "kpi_targets": "SELECT * FROM company.kpi_targets",
    # An assignment exists when its seller does: a scoped readout holds their markets' units.
    "experiment_assignments": """
        SELECT * FROM company.experiment_assignments
        WHERE seller_id IN (SELECT seller_id FROM sellers)""",
    # Spend is the market's: a scoped analyst's CAC divides their markets' spend by their
    # markets' new customers.
    "marketing_spend": """
        SELECT * FROM company.marketing_spend WHERE list_contains($markets, market)""",
    "leads": """
        SELECT * FROM company.leads
        WHERE list_contains($markets, market)
          AND (customer_id IS NULL OR customer_id IN (SELECT customer_id FROM customers))
          AND (seller_id IS NULL OR seller_id IN (SELECT seller_id FROM sellers))""",
}
#: What a scoped database copies as it is: the load log (the data's as-of date is the load's).
COPIED = ("cxm_loads",)

if tuple(CUT) != tuple(TABLES):  # a new company table must say how it is cut
    raise AssertionError(f"CUT covers {tuple(CUT)}, the schema holds {tuple(TABLES)}")


class ScopeUnavailable(CxmError):
    """A scope that names no market cxm could cut the company to."""


_MARKET = re.compile(r"^[A-Za-z0-9_]{1,16}$")


def key(scope: Scope) -> str:
    """Return the scope's name on disk: its markets, sorted, joined by ``+``.

    >>> key(Scope(markets=("MX", "BR", "MX")))
    'BR+MX'
    """
    if scope.markets is None:
        raise ScopeUnavailable("The whole company has no scoped database [scope_is_everywhere].")
    markets = sorted(set(scope.markets))
    bad = [m for m in markets if not _MARKET.match(m)]
    if bad:
        raise ScopeUnavailable(
            f'market: "{bad[0]}" is not a market code (letters, digits, _) [bad_scope_market].'
        )
    return "+".join(markets) or "none"


def path_of(warehouse: Path, scope: Scope) -> Path:
    """Return where the scope's database of this warehouse generation lives.

    Beside the warehouse, named by the scope and the warehouse file's generation, so a load
    (which swaps in a new file) is never answered from the cut of the data before it.
    """
    ino, mtime = store.generation(warehouse)
    return warehouse.parent / f"{warehouse.name}.scopes" / f"{key(scope)}.{ino}-{mtime}.duckdb"


def build(
    warehouse: Path,
    scope: Scope,
    derive: Callable[[duckdb.DuckDBPyConnection, object], None],
) -> Path:
    """Return the scope's database for the current warehouse, building it first if missing.

    ``derive(con, as_of)`` is the load's own derivation (`cxm.pipeline`), run on the cut with
    the company's as-of date. Built into a temporary file and renamed, under a lock, so two
    sessions asking at once build it once; the cuts of earlier generations are removed.
    """
    target = path_of(warehouse, scope)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{key(scope)}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not target.exists():
                _build(warehouse, scope, target, derive)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    for old in target.parent.glob(f"{key(scope)}.*.duckdb"):
        if old != target:
            old.unlink(missing_ok=True)  # an open reader keeps its handle until it closes
    return target


def _build(warehouse: Path, scope: Scope, target: Path, derive) -> None:
    with store.new_file(target) as con:
        with failures.named(warehouse, writing=False):  # a damaged file, by name
            con.execute("ATTACH ? AS company (READ_ONLY)", [str(warehouse)])
        markets = {"markets": sorted(set(scope.markets or ()))}
        # Table names and texts are this module's declarations, never user input.
        for table, sql in CUT.items():
            con.execute(
                f"CREATE TABLE {table} AS {sql}",
                {k: v for k, v in markets.items() if f"${k}" in sql},
            )
        for table in COPIED:
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM company.{table}")
        as_of = store.scalar(
            con, "SELECT data_as_of FROM cxm_loads ORDER BY loaded_at DESC LIMIT 1"
        )
        con.execute("DETACH company")
        derive(con, as_of)


def catalog(scope: Scope) -> str:
    """Return the catalog a connection reads ``scope``'s company from: ``wh`` (the warehouse,
    every market) or ``s_`` and the scope's key (its own database).

    >>> catalog(Scope.everywhere()), catalog(Scope(markets=("MX", "BR")))
    ('wh', 's_BR_MX')
    """
    return "wh" if scope.markets is None else "s_" + key(scope).replace("+", "_")


def attach(con: duckdb.DuckDBPyConnection, scope: Scope, file: Path) -> str:
    """Attach a scope's database to ``con`` (beside the warehouse, ``wh``); return its catalog.

    A cursor that runs ``USE <catalog>`` then sees the user's company and nothing else.
    """
    name = catalog(scope)
    # The catalog name is built from market codes checked by `key`, never free text.
    con.execute(f"ATTACH ? AS {name} (READ_ONLY)", [str(file)])
    return name


@contextlib.contextmanager
def opened(
    warehouse: Path, scope: Scope, derive: Callable[[duckdb.DuckDBPyConnection, object], None]
) -> Iterator[Scoped]:
    """Yield the company as ``scope`` sees it, read-only, closed on exit (CLI, tests).

    Raises
    ------
    WarehouseMissing
        When no warehouse file exists yet.
    """
    warehouse = Path(warehouse)
    if not warehouse.exists():
        raise store.missing(warehouse)
    file = None if scope.markets is None else build(warehouse, scope, derive)
    con = duckdb.connect(":memory:")
    try:
        with failures.named(warehouse, writing=False):
            con.execute("ATTACH ? AS wh (READ_ONLY)", [str(warehouse)])
        con.execute(f"USE {'wh' if file is None else attach(con, scope, file)}")
        yield Scoped(con=con, scope=scope)
    finally:
        con.close()
