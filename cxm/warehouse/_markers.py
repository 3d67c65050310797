"""The vocabulary of a table declaration: column markers and cross-column rules, as data.

`schema.py` declares the tables with these; the importer and the row contract interpret them.
Nothing here knows about a particular table.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- column markers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """Marks a column as (part of) the table's unique key."""


@dataclass(frozen=True)
class Ref:
    """Marks a column whose non-null values must exist as the key of ``table``."""

    table: str


@dataclass(frozen=True)
class OneOf:
    """Marks a column whose values must be in a configured enum (see `CompanyConfig`)."""

    enum: str  # ranks, markets, languages, product_lines, activity_kinds, ...


@dataclass(frozen=True)
class MayOmit:
    """Marks a nullable column a file may leave out of its header: every row is then empty.

    For columns added after companies had their export set up (``acquisition_channel``).
    """


# --- cross-column rules -----------------------------------------------------------------------


@dataclass(frozen=True)
class NotBefore:
    """``later`` must be on or after ``earlier`` when both are present."""

    later: str
    earlier: str
    code: str = "time_order"


@dataclass(frozen=True)
class ScoreScale:
    """``score`` must lie on the scale of its ``question``; questions not listed use default."""

    scales: tuple[tuple[str, int, int], ...]
    default: tuple[int, int]
    code: str = "score_out_of_range"

    def bounds(self, question: str) -> tuple[int, int]:
        """Return the (low, high) scale of one question."""
        return next(((lo, hi) for q, lo, hi in self.scales if q == question), self.default)


@dataclass(frozen=True)
class LanguageOfMarket:
    """``language`` must be one of the languages configured for the row's ``market``."""

    code: str = "language_not_in_market"


@dataclass(frozen=True)
class JsonObject:
    """``column``, when present, must hold a JSON object (a segment filter)."""

    column: str
    code: str = "bad_json"


@dataclass(frozen=True)
class RefByType:
    """``id_column`` must exist in the table that ``type_column`` names (customer or seller).

    Types not in ``tables`` (corporate respondents) reference nothing in the warehouse.
    """

    type_column: str
    id_column: str
    tables: tuple[tuple[str, str], ...]  # (type value, table)
    code: str = "dangling_reference"


@dataclass(frozen=True)
class OneValuePerKey:
    """Rows repeating the table's key that differ in ``column`` are one problem of their own
    (a seller in both arms of one experiment), named by ``code`` rather than as a repeated key."""

    column: str
    what: str  # the rule in words, for the message: "a seller is in one arm of an experiment"
    code: str = "two_arms"


@dataclass(frozen=True)
class ConvertedOnce:
    """A row converts to at most one of ``ids``, on ``day``: one id set exactly when ``day`` is.

    A lead became a customer or a seller (not both), and the day says when; a lead that has
    not converted has neither an id nor a day.
    """

    ids: tuple[str, ...]
    day: str
    code: str = "bad_conversion"


@dataclass(frozen=True)
class MonthStart:
    """``column`` (a date) is the first day of its month: the row stands for the month."""

    column: str
    code: str = "not_month_start"


#: A customer id points at customers, a seller id at sellers.
CUSTOMER_OR_SELLER = (("customer", "customers"), ("seller", "sellers"))

Rule = (
    NotBefore
    | ScoreScale
    | LanguageOfMarket
    | JsonObject
    | RefByType
    | OneValuePerKey
    | ConvertedOnce
    | MonthStart
)
