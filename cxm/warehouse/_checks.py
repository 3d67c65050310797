"""Column-wise checks of one input table, derived from its schema declaration.

Each check is a Polars expression over a whole column (never one pydantic object per row):
the raw text is parsed to the declared type, and every row where parsing or a constraint
fails becomes an `ImportIssue`. `Found` keeps the first few issues of each kind and counts all.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections.abc import Collection

import polars as pl

from cxm.config import CompanyConfig
from cxm.errors import ImportIssue
from cxm.warehouse.schema import (
    ID_PATTERN,
    Column,
    ConvertedOnce,
    JsonObject,
    LanguageOfMarket,
    MonthStart,
    NotBefore,
    OneValuePerKey,
    RefByType,
    ScoreScale,
    Table,
    columns,
)

ROW = "__row"  # the spreadsheet row number of each record
PER_CHECK = 20  # issues kept per (file, column, code); the total is always counted
EARLIEST = dt.date(1900, 1, 1)
_ENUM_CODES = {
    "ranks": "unknown_rank",
    "markets": "unknown_market",
    "languages": "unknown_language",
    "product_lines": "unknown_product_line",
    "activity_kinds": "unknown_activity_kind",
    "order_channels": "unknown_channel",
    "ticket_channels": "unknown_channel",
    "acquisition_channels": "unknown_channel",
}
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


class Found:
    """The issues an import found: a capped sample of each kind, and the full count."""

    def __init__(self) -> None:
        self.issues: list[ImportIssue] = []
        self.total = 0

    def add(self, issue: ImportIssue) -> None:
        """Record one issue."""
        self.issues.append(issue)
        self.total += 1

    def add_unlisted(self, count: int) -> None:
        """Count ``count`` more issues of a kind whose first few were listed with `add`."""
        self.total += max(0, count)

    def add_rows(
        self,
        file: str,
        bad: pl.DataFrame,
        column: str | None,
        value: str | None,
        code: str,
        message: str,
    ) -> None:
        """Record one issue per row of ``bad`` (columns ROW and, if given, ``value``)."""
        self.add_first(file, bad, bad.height, column, value, code, message)

    def add_first(
        self,
        file: str,
        first: pl.DataFrame,
        total: int,
        column: str | None,
        value: str | None,
        code: str,
        message: str,
    ) -> None:
        """Count ``total`` issues of one kind and list the first rows of them, ``first``
        (as `add_rows` does; for a check that found them in DuckDB, which sends only those)."""
        if total == 0:
            return
        self.total += total
        for rec in first.head(PER_CHECK).iter_rows(named=True):
            shown = rec.get(value) if value else None
            self.issues.append(
                ImportIssue(
                    file=file,
                    row=rec[ROW],
                    column=column,
                    code=code,
                    message=message,
                    value=None if shown is None else _show(shown),
                )
            )

    def __bool__(self) -> bool:
        return self.total > 0


def _show(value: object) -> str:
    text = "; ".join(value) if isinstance(value, list) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is(kind: str, raw: pl.Expr) -> pl.Expr:
    """Return the expression that parses raw text to ``kind`` (null where it does not parse)."""
    text = raw.str.strip_chars()
    if kind == "int":
        return pl.when(text.str.contains(r"^[+-]?\d{1,18}$")).then(
            text.cast(pl.Int64, strict=False)
        )
    if kind == "float":
        parsed = text.cast(pl.Float64, strict=False)
        return pl.when(parsed.is_finite()).then(parsed)
    if kind == "bool":
        low = text.str.to_lowercase()
        return pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False)
    if kind == "date":
        return text.str.to_date("%Y-%m-%d", strict=False)
    if kind == "datetime":
        return text.str.replace("T", " ", literal=True).str.to_datetime(
            "%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us"
        )
    if kind == "list":
        return (
            pl.when(text == "")
            .then(pl.lit([], dtype=pl.List(pl.String)))
            .otherwise(text.str.split(";").list.eval(pl.element().str.strip_chars()))
        )
    return raw


#: A date and time followed by a time zone: Z, UTC/GMT, or an offset like +02:00 or -0300.
_ZONED = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|UTC|GMT|[+-]\d{2}(:?\d{2})?)$"

_PARSE_CODES = {
    "int": ("not_an_integer", "is not a whole number"),
    "float": ("not_a_number", "is not a number"),
    "bool": ("not_a_boolean", "is not true or false"),
    "date": ("bad_date", "is not a date written YYYY-MM-DD"),
    "datetime": ("bad_timestamp", "is not a timestamp written YYYY-MM-DD HH:MM:SS"),
}


def parse_table(
    file: str,
    raw: pl.DataFrame,
    model: type[Table],
    cfg: CompanyConfig,
    today: dt.date,
    found: Found,
    keep: Collection[str] | None = None,
) -> pl.DataFrame:
    """Return ``raw`` (text or typed columns, plus ROW) parsed to the declared types.

    Every value that does not parse or breaks a column constraint is reported to ``found``;
    its cell is null in the result, so later checks skip it instead of reporting it twice.

    ``raw`` is a frame, or anything with its ``get_column`` (`_files.ParquetColumns` reads
    each column from the file when asked, so one column at a time is in memory). ``keep``:
    the columns the result holds (default: all); a column in which a problem was found is
    kept too, so a column left out is as ``raw`` gave it when it already had the declared
    type (and was no list with empty cells, which become empty lists).
    """
    rows = raw.get_column(ROW)
    out = pl.DataFrame({ROW: rows})
    for col in columns(model):
        first = found.total
        series = raw.get_column(col.name)
        # "text" is the value as the file gave it, for messages; typed Parquet columns that
        # already have the declared type are checked as they are, never turned into text.
        frame = pl.DataFrame({ROW: rows, "text": series})
        if series.dtype == col.polars_type:
            value = series
        else:
            if series.dtype != pl.String:
                as_text = (
                    pl.col("text").list.join(";")
                    if series.dtype == pl.List(pl.String)
                    else pl.col("text").cast(pl.String, strict=False)
                )
                frame = frame.with_columns(as_text)
            value = _parse_text(file, frame, col, found)
        if col.kind == "list" and col.nullable is False and col.min_length is None:
            value = value.fill_null(pl.lit([], dtype=pl.List(pl.String)))
        frame = frame.with_columns(value.alias(col.name))
        checked = _constrain(file, frame, col, cfg, today, found)
        if keep is None or col.name in keep or found.total != first:
            out = out.with_columns(checked.alias(col.name))
        del series, frame, value, checked  # one column at a time
    return out


def _parse_text(file: str, frame: pl.DataFrame, col: Column, found: Found) -> pl.Series:
    if col.kind == "decimal":
        return _parse_decimal(file, frame, col, found)
    parsed = frame.select(pl.col(ROW), pl.col("text"), _is(col.kind, pl.col("text")).alias("v"))
    if col.kind == "datetime":
        # A time zone or offset is refused by name: timestamps are local wall-clock time
        # (schema.TIME_RULE), and which market's clock to turn it into is not ours to guess.
        zoned = parsed.filter(pl.col("text").str.strip_chars().str.contains(_ZONED))
        found.add_rows(
            file,
            zoned,
            col.name,
            "text",
            "timestamp_with_zone",
            "carries a time zone; write the market's local time without one (2026-10-01 "
            "23:30:00), as docs/schema.md says",
        )
    if col.kind in _PARSE_CODES:
        code, msg = _PARSE_CODES[col.kind]
        reported = (  # a zoned timestamp was reported just above
            pl.col("text").str.strip_chars().str.contains(_ZONED)
            if col.kind == "datetime"
            else pl.lit(False)
        )
        found.add_rows(
            file,
            parsed.filter(
                pl.col("text").is_not_null() & pl.col("v").is_null() & ~reported.fill_null(False)
            ),
            col.name,
            "text",
            code,
            msg,
        )
    return parsed.get_column("v")


def _parse_decimal(file: str, frame: pl.DataFrame, col: Column, found: Found) -> pl.Series:
    text = pl.col("text").str.strip_chars()
    whole = col.max_digits - col.decimal_places
    number = text.str.contains(r"^[+-]?\d+(\.\d+)?$")
    places = text.str.contains(rf"^[+-]?\d+(\.\d{{1,{col.decimal_places}}})?$")
    size = text.str.contains(rf"^[+-]?0*\d{{1,{whole}}}(\.\d+)?$")
    checked = frame.with_columns(number=number, places=places, size=size)
    present = pl.col("text").is_not_null()
    found.add_rows(
        file,
        checked.filter(present & ~pl.col("number")),
        col.name,
        "text",
        "not_a_number",
        "is not a number (write 12.50, no currency sign or commas)",
    )
    found.add_rows(
        file,
        checked.filter(present & pl.col("number") & ~pl.col("places")),
        col.name,
        "text",
        "too_many_decimals",
        f"has more than {col.decimal_places} decimals; it would have to be rounded",
    )
    found.add_rows(
        file,
        checked.filter(present & pl.col("places") & ~pl.col("size")),
        col.name,
        "text",
        "number_too_large",
        f"has more than {whole} digits before the point",
    )
    good = pl.col("number") & pl.col("places") & pl.col("size")
    return checked.select(
        pl.when(good).then(text).cast(col.polars_type, strict=False).alias("v")
    ).get_column("v")


def _masks(
    col: Column, cfg: CompanyConfig, today: dt.date, text: pl.Expr
) -> list[tuple[pl.Expr, str | None, str]]:
    """Return the constraints of a parsed column in the order they are reported: (mask of the
    rows breaking it, code, message). ``text`` is the value as the file gave it. The enum's
    entry has no code: its expression is the offending value (null where none), and its
    message depends on the value."""
    v = pl.col(col.name)
    out: list[tuple[pl.Expr, str | None, str]] = []
    if not col.nullable and not (col.kind == "list" and col.min_length is None):
        out.append((text.is_null(), "missing_value", "is empty; this column needs a value"))
    if col.kind == "list" and col.min_length:
        out.append(
            (
                v.is_not_null() & (v.list.len() < col.min_length),
                "missing_value",
                "is an empty list; it needs at least one value",
            )
        )
    if col.kind == "str":
        if col.pattern == ID_PATTERN:
            out.append(
                (
                    v.is_not_null() & ~v.str.contains(col.pattern),
                    "bad_id",
                    "is not a usable id (blank, or starts or ends with a space)",
                )
            )
        elif col.pattern:
            out.append(
                (
                    v.is_not_null() & ~v.str.contains(col.pattern),
                    "bad_format",
                    f"does not match the format {col.pattern}",
                )
            )
        if col.max_length:
            out.append(
                (
                    v.str.len_chars() > col.max_length,
                    "too_long",
                    f"is longer than {col.max_length} characters",
                )
            )
        if col.literals:
            out.append(
                (
                    v.is_not_null() & ~v.is_in(col.literals),
                    "unknown_value",
                    f"is not one of {', '.join(col.literals)}",
                )
            )
    if col.enum:
        allowed = cfg.enum_values(col.enum)
        # The first value outside the configured set (in a list: the first such element).
        offending = (
            v.list.eval(pl.element().filter(pl.element().is_in(allowed).not_())).list.first()
            if col.kind == "list"
            else pl.when(~v.is_in(allowed)).then(v)
        )
        out.append((offending, None, ""))
    if col.ge is not None:
        code = (
            "negative_amount"
            if col.kind == "decimal"
            else ("negative_value" if col.ge == 0 else "below_minimum")
        )
        out.append((v < col.ge, code, f"is less than {col.ge}; it must be {col.ge} or more"))
    if col.kind in ("date", "datetime"):
        low = (
            pl.lit(EARLIEST)
            if col.kind == "date"
            else pl.lit(dt.datetime.combine(EARLIEST, dt.time()))
        )
        high = (
            pl.lit(today)
            if col.kind == "date"
            else pl.lit(dt.datetime.combine(today + dt.timedelta(days=1), dt.time()))
        )
        out.append(
            (
                (v < low) | (v >= high if col.kind == "datetime" else v > high),
                "date_out_of_range",
                f"is outside {EARLIEST} to {today} (no dates before 1900 or in the future)",
            )
        )
    return out


def _constrain(
    file: str, frame: pl.DataFrame, col: Column, cfg: CompanyConfig, today: dt.date, found: Found
) -> pl.Series:
    """Report constraint breaks of a parsed column and return it with bad cells nulled."""
    v = pl.col(col.name)
    bad_masks: list[pl.Expr] = []
    before = found.total
    for mask, code, message in _masks(col, cfg, today, pl.col("text")):
        if code is not None:
            found.add_rows(file, frame.filter(mask), col.name, "text", code, message)
            bad_masks.append(mask)
            continue
        allowed = cfg.enum_values(col.enum)
        bad = frame.with_columns(mask.alias("offending")).filter(pl.col("offending").is_not_null())
        for value in bad.get_column("offending").unique(maintain_order=True).head(PER_CHECK):
            hint = _closest(value, allowed)
            msg = f"is not a configured {col.enum.replace('_', ' ')[:-1]}" + (
                f'; did you mean "{hint[0]}"?' if hint else f" ({', '.join(allowed)})"
            )
            rows = bad.filter(pl.col("offending") == value)
            found.add_rows(file, rows, col.name, "offending", _ENUM_CODES[col.enum], msg)
        bad_masks.append(mask.is_not_null())
    if found.total == before:  # nothing wrong: hand the column on without a copy
        return frame.get_column(col.name)
    any_bad = pl.any_horizontal(*[m.fill_null(False) for m in bad_masks])
    return frame.select(pl.when(~any_bad).then(v).alias(col.name)).get_column(col.name)


def any_broken(scan: pl.LazyFrame, cols: list[Column], cfg: CompanyConfig, today: dt.date) -> bool:
    """Return whether a value of ``cols`` in ``scan`` (each column already of its declared
    type, as a Parquet file can give it) breaks one of its constraints: the same masks
    `parse_table` reports by row, all in one streaming pass over the file, on every core.
    Which rows and why is then `parse_table`'s to say."""
    hits = []
    for col in cols:
        for mask, code, _ in _masks(col, cfg, today, pl.col(col.name)):
            hit = mask.is_not_null() if code is None else mask.fill_null(False)
            hits.append(hit.any().alias(f"c{len(hits)}"))
    if not hits:
        return False
    return any(scan.select(hits).collect(engine="streaming").row(0))


def rule_columns(model: type[Table]) -> list[str]:
    """Return the columns `check_rules` reads for the table, in declared order (every column
    for a rule it does not know)."""
    names: set[str] = set()
    for rule in model.__rules__:
        if isinstance(rule, NotBefore):
            names |= {rule.later, rule.earlier}
        elif isinstance(rule, ScoreScale):
            names |= {"question", "score"}
        elif isinstance(rule, LanguageOfMarket):
            names |= {"market", "language"}
        elif isinstance(rule, OneValuePerKey):
            names |= {c.name for c in columns(model) if c.key} | {rule.column}
        elif isinstance(rule, ConvertedOnce):
            names |= {*rule.ids, rule.day}
        elif isinstance(rule, MonthStart | JsonObject):
            names.add(rule.column)
        elif isinstance(rule, RefByType):
            continue  # checked across tables, not here
        else:
            return [c.name for c in columns(model)]
    return [c.name for c in columns(model) if c.name in names]


def check_rules(
    file: str, df: pl.DataFrame, model: type[Table], cfg: CompanyConfig, found: Found
) -> None:
    """Report breaks of the table's cross-column rules (`Table.__rules__`)."""
    for rule in model.__rules__:
        if isinstance(rule, NotBefore):
            bad = df.filter(pl.col(rule.later) < pl.col(rule.earlier))
            found.add_rows(
                file,
                bad.with_columns(pl.col(rule.later).cast(pl.String)),
                rule.later,
                rule.later,
                rule.code,
                f"is before {rule.earlier}",
            )
        elif isinstance(rule, ScoreScale):
            lo = pl.lit(rule.default[0])
            hi = pl.lit(rule.default[1])
            for q, qlo, qhi in rule.scales:
                lo = pl.when(pl.col("question") == q).then(qlo).otherwise(lo)
                hi = pl.when(pl.col("question") == q).then(qhi).otherwise(hi)
            bad = df.filter((pl.col("score") < lo) | (pl.col("score") > hi))
            scales = ", ".join(f"{q} {a}-{b}" for q, a, b in rule.scales)
            found.add_rows(
                file,
                bad.with_columns(pl.col("score").cast(pl.String)),
                "score",
                "score",
                rule.code,
                f"is off the question's scale ({scales}; others "
                f"{rule.default[0]}-{rule.default[1]})",
            )
        elif isinstance(rule, LanguageOfMarket):
            pairs = pl.DataFrame(
                [(m.code, lang) for m in cfg.markets for lang in m.languages],
                schema=["market", "language"],
                orient="row",
            )
            bad = df.filter(pl.col("market").is_not_null() & pl.col("language").is_not_null()).join(
                pairs, on=["market", "language"], how="anti"
            )
            found.add_rows(
                file,
                bad,
                "language",
                "language",
                rule.code,
                "is not a configured language of the row's market",
            )
        elif isinstance(rule, OneValuePerKey):
            key = [c.name for c in columns(model) if c.key]
            split = (
                df.filter(pl.col(rule.column).n_unique().over(key) > 1)
                .sort(ROW)
                .group_by(key, maintain_order=True)
                .agg(pl.col(ROW), pl.col(rule.column))
            )
            bad = split.select(
                pl.col(ROW).list.get(1).alias(ROW),
                pl.col(rule.column).list.get(1).alias("value"),
                pl.format(
                    "but row {} puts {} in {}; {}",
                    pl.col(ROW).list.get(0),
                    pl.concat_str([pl.col(k) for k in key], separator=" / "),
                    pl.col(rule.column).list.get(0),
                    pl.lit(rule.what),
                ).alias("message"),
            )
            found.add_unlisted(bad.height - PER_CHECK)
            for rec in bad.head(PER_CHECK).iter_rows(named=True):
                found.add(
                    ImportIssue(
                        file=file,
                        row=rec[ROW],
                        column=rule.column,
                        value=_show(rec["value"]),
                        code=rule.code,
                        message=rec["message"],
                    )
                )
        elif isinstance(rule, ConvertedOnce):
            given = pl.sum_horizontal(pl.col(c).is_not_null().cast(pl.Int8) for c in rule.ids)
            day = pl.col(rule.day).is_not_null()
            for bad, message in (
                (given > 1, f"is set with {' and '.join(rule.ids[1:])}; a lead converts once"),
                ((given == 1) & ~day, f"is set but {rule.day} is empty; give the day"),
            ):
                found.add_rows(file, df.filter(bad), rule.ids[0], None, rule.code, message)
            found.add_rows(
                file,
                df.filter((given == 0) & day).with_columns(pl.col(rule.day).cast(pl.String)),
                rule.day,
                rule.day,
                rule.code,
                f"is set but neither {' nor '.join(rule.ids)} is; name who the lead became",
            )
        elif isinstance(rule, MonthStart):
            found.add_rows(
                file,
                df.filter(pl.col(rule.column).dt.day() != 1).with_columns(
                    pl.col(rule.column).cast(pl.String)
                ),
                rule.column,
                rule.column,
                rule.code,
                "is not the first day of a month; write the month as YYYY-MM-01",
            )
        elif isinstance(rule, JsonObject):
            texts = df.get_column(rule.column).drop_nulls().unique().to_list()
            bad_texts = [t for t in texts if not _is_json_object(t)]
            found.add_rows(
                file,
                df.filter(pl.col(rule.column).is_in(bad_texts)),
                rule.column,
                rule.column,
                rule.code,
                'is not a JSON object like {"markets": ["BR"]}',
            )


def _closest(text: str, allowed: tuple[str, ...]) -> list[str]:
    """Return the configured value ``text`` most likely meant, ignoring case (or nothing)."""
    lower = {a.lower(): a for a in allowed}
    return [lower[m] for m in difflib.get_close_matches(text.lower(), list(lower), n=1)]


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False
