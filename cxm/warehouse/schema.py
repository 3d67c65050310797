"""The warehouse tables (`TABLES`), each declared once as a pydantic model.

Everything else is derived from these declarations: the DuckDB DDL (`ddl`), the Polars schema
(`polars_schema`), the column-wise import checks (`cxm.warehouse.importer`) and the row
contract (``Seller.model_validate(row, context={"config": cfg})``). Column metadata lives in
``Annotated`` markers: `Key`, `Ref`, `OneOf` (a configured enum) and pydantic's own constraints
(``ge``, ``decimal_places``); cross-column rules live in ``__rules__`` as data.
"""

from __future__ import annotations

import datetime as dt
import json
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

import annotated_types
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from cxm.warehouse._markers import (  # re-exported: the vocabulary of a declaration
    CUSTOMER_OR_SELLER,
    ConvertedOnce,
    JsonObject,
    Key,
    LanguageOfMarket,
    MayOmit,
    MonthStart,
    NotBefore,
    OneOf,
    OneValuePerKey,
    Ref,
    RefByType,
    Rule,
    ScoreScale,
)

__all__ = [
    "CUSTOMER_OR_SELLER",
    "ConvertedOnce",
    "JsonObject",
    "Key",
    "LanguageOfMarket",
    "MayOmit",
    "MonthStart",
    "NotBefore",
    "OneOf",
    "OneValuePerKey",
    "Ref",
    "RefByType",
    "Rule",
    "ScoreScale",
    "TABLES",
    "TIME_RULE",
    "Table",
    "columns",
    "ddl",
    "key_columns",
    "polars_schema",
]

# --- time ------------------------------------------------------------------------------------

#: How imported dates and timestamps are read (docs/schema.md states it from here).
TIME_RULE = (
    "Dates and timestamps are the market's local wall-clock time: a timestamp is stored as "
    "written, with no time zone, and read as the local time of the row's market (its market "
    "column, or its seller's market). An order written `2026-10-01 23:30:00` in Brazil is an "
    "order of 1 October in Brazil, whatever the server's clock says; the day, the hour and "
    "every window (same-day answers, the 30 days up to a date) count in that local time. A "
    "timestamp that carries a "
    "time zone or an offset (`2026-10-01T23:30:00Z`, `2026-10-01 23:30:00+02:00`, or a "
    "time-zone-aware Parquet column) is refused (`timestamp_with_zone`): cxm does not guess "
    "which market's clock it should be turned into. Export local times, without the offset."
)

# --- shared column types ----------------------------------------------------------------------

ID_PATTERN = r"^\S(.*\S)?$"
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Count = Annotated[int, Field(ge=0)]
SurveyQuestion = Literal[
    "nps", "quality", "value", "service", "ease", "delivery", "tools", "training"
]
Respondent = Literal["customer", "seller", "corporate"]
Requester = Literal["customer", "seller"]
Arm = Literal["control", "treatment"]
Bought = Literal["customers", "sellers"]
#: How a customer or seller was won: a configured acquisition channel. Files made before the
#: column existed may leave it out (`MayOmit`): their rows are "not recorded" (null), counted
#: in no channel's CAC and shown as such.
AcquisitionChannelId = Annotated[str | None, OneOf("acquisition_channels"), MayOmit()]


class Table(BaseModel):
    """Base of a warehouse table: a frozen row contract plus the table's name and rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    __table__: ClassVar[str]
    __doc_grain__: ClassVar[str]
    __rules__: ClassVar[tuple[Rule, ...]] = ()

    @model_validator(mode="after")
    def _check_rules_and_enums(self, info: ValidationInfo) -> Table:
        config = (info.context or {}).get("config")
        for col in columns(type(self)):
            value = getattr(self, col.name)
            if config is not None and col.enum and value is not None:
                allowed = config.enum_values(col.enum)
                values = value if isinstance(value, tuple) else (value,)
                bad = [v for v in values if v not in allowed]
                if bad:
                    raise ValueError(f"{col.name}: {bad} not in configured {col.enum}")
        for rule in self.__rules__:
            _check_row_rule(rule, self, config)
        return self


def _check_row_rule(rule: Rule, row: Table, config: Any) -> None:
    if isinstance(rule, NotBefore):
        later, earlier = getattr(row, rule.later), getattr(row, rule.earlier)
        if later is not None and earlier is not None and later < earlier:
            raise ValueError(f"{rule.later} is before {rule.earlier}")
    elif isinstance(rule, ScoreScale):
        lo, hi = rule.bounds(row.question)  # type: ignore[attr-defined]
        if not lo <= row.score <= hi:  # type: ignore[attr-defined]
            raise ValueError(f"score for {row.question} must be {lo} to {hi}")  # type: ignore[attr-defined]
    elif isinstance(rule, LanguageOfMarket):
        if config is not None and row.language not in config.languages_of(row.market):  # type: ignore[attr-defined]
            raise ValueError("language is not configured for the market")
    elif isinstance(rule, JsonObject):
        text = getattr(row, rule.column)
        if text is not None and not isinstance(json.loads(text), dict):
            raise ValueError(f"{rule.column} is not a JSON object")
    elif isinstance(rule, ConvertedOnce):
        ids = sum(getattr(row, c) is not None for c in rule.ids)
        if ids > 1 or (ids == 1) != (getattr(row, rule.day) is not None):
            raise ValueError(f"{' or '.join(rule.ids)} needs {rule.day}, and only one of them")
    elif isinstance(rule, MonthStart):
        if getattr(row, rule.column).day != 1:
            raise ValueError(f"{rule.column} is not the first day of a month")


# --- the tables (listed in TABLES, in load order) -------------------------------------------


class Seller(Table):
    __table__ = "sellers"
    __doc_grain__ = "one independent seller (distributor)"
    __rules__ = (NotBefore("terminated_on", "enrolled_on"), LanguageOfMarket())

    seller_id: Annotated[Id, Key()]
    sponsor_id: Annotated[Id | None, Ref("sellers")] = None
    enrolled_on: dt.date
    rank: Annotated[str, OneOf("ranks")]
    market: Annotated[str, OneOf("markets")]
    language: Annotated[str, OneOf("languages")]
    weekly_sales_goal: Amount
    monthly_enrollment_goal: Count
    terminated_on: dt.date | None = None
    acquisition_channel: AcquisitionChannelId = None


class Customer(Table):
    __table__ = "customers"
    __doc_grain__ = "one end customer"
    __rules__ = (LanguageOfMarket(),)

    customer_id: Annotated[Id, Key()]
    seller_id: Annotated[Id, Ref("sellers")]
    market: Annotated[str, OneOf("markets")]
    language: Annotated[str, OneOf("languages")]
    acquired_on: dt.date
    consent_personalization: bool
    acquisition_channel: AcquisitionChannelId = None


class Order(Table):
    __table__ = "orders"
    __doc_grain__ = "one order"

    order_id: Annotated[Id, Key()]
    customer_id: Annotated[Id, Ref("customers")]
    seller_id: Annotated[Id, Ref("sellers")]
    ordered_at: dt.datetime
    amount: Amount
    units: Annotated[int, Field(ge=1)]
    product_line: Annotated[str, OneOf("product_lines")]
    autoship: bool
    channel: Annotated[str, OneOf("order_channels")]


class Activity(Table):
    __table__ = "activities"
    __doc_grain__ = "one seller action in the seller app"

    seller_id: Annotated[Id, Ref("sellers")]
    occurred_at: dt.datetime
    kind: Annotated[str, OneOf("activity_kinds")]
    ref: str | None = None


class Course(Table):
    __table__ = "courses"
    __doc_grain__ = "one training course"

    course_id: Annotated[Id, Key()]
    title: Annotated[str, Field(min_length=1)]
    min_rank: Annotated[str, OneOf("ranks")]
    prerequisites: Annotated[tuple[Id, ...], Ref("courses")] = ()
    compliance: bool
    languages: Annotated[tuple[str, ...], OneOf("languages"), Field(min_length=1)]


class CourseCompletion(Table):
    __table__ = "course_completions"
    __doc_grain__ = "one seller's completion of one course"

    seller_id: Annotated[Id, Key(), Ref("sellers")]
    course_id: Annotated[Id, Key(), Ref("courses")]
    completed_on: dt.date


class SurveyResponse(Table):
    __table__ = "survey_responses"
    __doc_grain__ = "one answer to one survey question"
    __rules__ = (
        ScoreScale(scales=(("nps", 0, 10),), default=(1, 5)),
        LanguageOfMarket(),
        RefByType("respondent_type", "respondent_id", CUSTOMER_OR_SELLER),
    )

    response_id: Annotated[Id, Key()]
    respondent_type: Respondent
    respondent_id: Id
    seller_id: Annotated[Id | None, Ref("sellers")] = None
    market: Annotated[str, OneOf("markets")]
    language: Annotated[str, OneOf("languages")]
    answered_on: dt.date
    question: SurveyQuestion
    score: int


class Ticket(Table):
    __table__ = "tickets"
    __doc_grain__ = "one support ticket"
    __rules__ = (
        NotBefore("first_response_at", "opened_at"),
        NotBefore("resolved_at", "opened_at"),
        LanguageOfMarket(),
        RefByType("requester_type", "requester_id", CUSTOMER_OR_SELLER),
    )

    ticket_id: Annotated[Id, Key()]
    requester_type: Requester
    requester_id: Id
    market: Annotated[str, OneOf("markets")]
    language: Annotated[str, OneOf("languages")]
    channel: Annotated[str, OneOf("ticket_channels")]
    opened_at: dt.datetime
    first_response_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None


class KpiTarget(Table):
    __table__ = "kpi_targets"
    __doc_grain__ = "one KPI target for a period, optionally for one segment"
    __rules__ = (JsonObject("segment"),)

    period: Annotated[str, Key(), Field(pattern=r"^\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$")]
    kpi_id: Annotated[str, Key(), Field(pattern=r"^[a-z][a-z0-9_]*$")]
    segment: Annotated[str | None, Key()] = None
    target: float


class ExperimentAssignment(Table):
    __table__ = "experiment_assignments"
    __doc_grain__ = (
        "one seller's arm in one experiment, as assigned when it started (by cxm or elsewhere)"
    )
    __rules__ = (OneValuePerKey("arm", "a seller is in one arm of an experiment"),)

    experiment_id: Annotated[Id, Key()]
    seller_id: Annotated[Id, Key(), Ref("sellers")]
    arm: Arm
    assigned_on: dt.date


class MarketingSpend(Table):
    __table__ = "marketing_spend"
    __doc_grain__ = (
        "what the company spent in one month, market and acquisition channel to win customers "
        "or to win sellers (`bought`)"
    )
    __rules__ = (MonthStart("month"),)

    month: Annotated[dt.date, Key()]
    market: Annotated[str, Key(), OneOf("markets")]
    channel: Annotated[str, Key(), OneOf("acquisition_channels")]
    bought: Annotated[Bought, Key()]
    amount: Amount


class Lead(Table):
    __table__ = "leads"
    __doc_grain__ = (
        "one inbound or outbound lead, and the customer or seller it became (with the day of "
        "their first order or enrolment)"
    )
    __rules__ = (
        NotBefore("converted_on", "created_on"),
        ConvertedOnce(("customer_id", "seller_id"), "converted_on"),
    )

    lead_id: Annotated[Id, Key()]
    created_on: dt.date
    market: Annotated[str, OneOf("markets")]
    channel: Annotated[str, OneOf("acquisition_channels")]
    customer_id: Annotated[Id | None, Ref("customers")] = None
    seller_id: Annotated[Id | None, Ref("sellers")] = None
    converted_on: dt.date | None = None


#: Every table, in load order (a table comes after the tables it references).
TABLES: dict[str, type[Table]] = {
    m.__table__: m
    for m in (
        Seller,
        Customer,
        Order,
        Activity,
        Course,
        CourseCompletion,
        SurveyResponse,
        Ticket,
        KpiTarget,
        ExperimentAssignment,
        MarketingSpend,
        Lead,
    )
}

# --- derived views of a declaration -----------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column as the DDL, the importer and the docs see it."""

    name: str
    kind: str  # str, int, decimal, float, bool, date, datetime, list
    nullable: bool
    key: bool = False
    ref: str | None = None
    enum: str | None = None
    literals: tuple[str, ...] = ()
    ge: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    max_digits: int | None = None
    decimal_places: int | None = None
    may_omit: bool = False

    @property
    def duckdb_type(self) -> str:
        """Return the DuckDB type of the column."""
        return {
            "str": "VARCHAR",
            "int": "BIGINT",
            "float": "DOUBLE",
            "bool": "BOOLEAN",
            "date": "DATE",
            "datetime": "TIMESTAMP",
            "list": "VARCHAR[]",
            "decimal": f"DECIMAL({self.max_digits}, {self.decimal_places})",
        }[self.kind]

    @property
    def polars_type(self) -> pl.DataType:
        """Return the Polars dtype of the column."""
        return {
            "str": pl.String(),
            "int": pl.Int64(),
            "float": pl.Float64(),
            "bool": pl.Boolean(),
            "date": pl.Date(),
            "datetime": pl.Datetime("us"),
            "list": pl.List(pl.String()),
            "decimal": pl.Decimal(self.max_digits, self.decimal_places),
        }[self.kind]


_KINDS = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    Decimal: "decimal",
    dt.date: "date",
    dt.datetime: "datetime",
}


def _unwrap(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """Return (base type, nullable, Annotated metadata) of a field annotation."""
    meta: list[Any] = []
    nullable = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = typing.get_args(annotation)
            meta.extend(extra)
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            nullable = nullable or len(args) < len(typing.get_args(annotation))
            (annotation,) = args
        else:
            return annotation, nullable, meta


def columns(model: type[Table]) -> list[Column]:
    """Return the columns of a table declaration, in declared order.

    >>> [(c.name, c.duckdb_type, c.nullable) for c in columns(Activity)][:2]
    [('seller_id', 'VARCHAR', False), ('occurred_at', 'TIMESTAMP', False)]
    """
    out = []
    for name, field in model.model_fields.items():
        base, nullable, meta = _unwrap(field.annotation)
        meta += field.metadata
        # Field(...) inside Annotated arrives as FieldInfo; flatten its own metadata too.
        meta += [m for f in meta if hasattr(f, "metadata") for m in f.metadata]
        literals: tuple[str, ...] = ()
        if typing.get_origin(base) is Literal:
            literals, kind = tuple(typing.get_args(base)), "str"
        elif typing.get_origin(base) is tuple:
            kind = "list"
        else:
            kind = _KINDS[base]
        attrs: dict[str, Any] = {}
        for m in meta:
            if isinstance(m, Key):
                attrs["key"] = True
            elif isinstance(m, Ref):
                attrs["ref"] = m.table
            elif isinstance(m, OneOf):
                attrs["enum"] = m.enum
            elif isinstance(m, MayOmit):
                attrs["may_omit"] = True
            elif isinstance(m, annotated_types.Ge):
                attrs["ge"] = m.ge
            elif isinstance(m, annotated_types.MinLen):
                attrs["min_length"] = m.min_length
            elif isinstance(m, annotated_types.MaxLen):
                attrs["max_length"] = m.max_length
            elif hasattr(m, "pattern") and getattr(m, "pattern", None):
                attrs["pattern"] = m.pattern
            elif hasattr(m, "max_digits") and getattr(m, "max_digits", None) is not None:
                attrs["max_digits"], attrs["decimal_places"] = m.max_digits, m.decimal_places
        out.append(Column(name=name, kind=kind, nullable=nullable, literals=literals, **attrs))
    return out


def key_columns(model: type[Table]) -> list[str]:
    """Return the names of the columns that together identify a row (may be empty)."""
    return [c.name for c in columns(model) if c.key]


def polars_schema(model: type[Table]) -> dict[str, pl.DataType]:
    """Return the Polars schema of a table, in declared column order."""
    return {c.name: c.polars_type for c in columns(model)}


def ddl(model: type[Table]) -> str:
    """Return the DuckDB ``CREATE TABLE`` statement of a table declaration.

    Keys and references are enforced by the importer, not by DuckDB indexes: an index on
    50,000,000 orders would cost more at load than the whole check does.

    >>> print(ddl(KpiTarget))
    CREATE TABLE kpi_targets (
        period VARCHAR NOT NULL,
        kpi_id VARCHAR NOT NULL,
        segment VARCHAR,
        target DOUBLE NOT NULL
    );
    """
    cols = ",\n".join(
        f"    {c.name} {c.duckdb_type}{'' if c.nullable else ' NOT NULL'}" for c in columns(model)
    )
    return f"CREATE TABLE {model.__table__} (\n{cols}\n);"
