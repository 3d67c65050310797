"""Errors cxm raises on bad input, and the issue record that names one problem.

Every failure a user can cause is a `CxmError` subclass with a message that says where, what
and which rule; no module raises a bare ``ValueError`` at a user. Codes are stable snake_case
and documented in ``docs/errors.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, field_validator

#: How many issues an error message lists before it only gives the total.
MAX_LISTED_ISSUES = 50

#: Every import issue code: the rule it stands for and how to fix it (docs/errors.md).
ISSUE_CODES: dict[str, str] = {
    # the folder and its files
    "no_directory": "The import folder must exist.",
    "no_files": "The folder must hold at least one table file (sellers.csv, orders.parquet, ...).",
    "unknown_file": "Every file must be named after a table, as .csv or .parquet.",
    "ambiguous_file": "A table may come as CSV or as Parquet, not both.",
    "empty_file": "A table file needs at least its header row.",
    "bad_encoding": "CSV files must be UTF-8 text; re-save them as UTF-8.",
    "malformed_csv": "Every CSV row must have as many fields as the header (quote commas).",
    "unreadable_parquet": "A .parquet file must be a readable Parquet file.",
    # the header
    "missing_column": "Every declared column must be in the header (acquisition_channel may "
    "be left out of customers and sellers: its rows are then not recorded).",
    "unknown_column": "The header may hold only the table's declared columns.",
    "duplicate_column": "A column may appear only once in the header.",
    # values
    "missing_value": "A required column needs a value in every row.",
    "not_an_integer": "Whole-number columns take digits only (no decimals, no separators).",
    "not_a_number": "Number columns take a plain number like 12.50 (no currency sign, no commas).",
    "too_many_decimals": "Amounts have at most 2 decimals; nothing is rounded silently.",
    "number_too_large": "Amounts have at most 12 digits before the point.",
    "negative_amount": "Amounts are 0 or more.",
    "negative_value": "Counts and goals are 0 or more.",
    "below_minimum": "The value is under the column's minimum (an order has at least 1 unit).",
    "not_a_boolean": "Flags are true or false (1/0 and yes/no are read too).",
    "bad_date": "Dates are written YYYY-MM-DD and must exist in the calendar.",
    "bad_timestamp": "Timestamps are written YYYY-MM-DD HH:MM:SS, optionally with fractions.",
    "timestamp_with_zone": "Timestamps are the market's local wall-clock time, written without "
    "a time zone or offset (no Z, no +02:00); see docs/schema.md.",
    "date_out_of_range": "Dates lie between 1900-01-01 and today: none in the future.",
    "bad_id": "Ids are not blank and do not start or end with a space.",
    "bad_format": "The value must match the column's format (a period is 2026, 2026-03 or "
    "2026-Q1; a KPI id is snake_case).",
    "too_long": "Ids are at most 64 characters.",
    "unknown_value": "The value must be one of the column's fixed choices.",
    "unknown_rank": "Ranks must be on the configured rank ladder.",
    "unknown_market": "Markets must be configured (ISO 3166 alpha-2 codes, e.g. GB not UK).",
    "unknown_language": "Languages must be configured for some market (BCP 47, e.g. pt-BR).",
    "unknown_product_line": "Product lines must be configured.",
    "unknown_activity_kind": "Activity kinds must be configured.",
    "unknown_channel": "Order, ticket and acquisition channels must be configured.",
    # rules across columns, rows and tables
    "language_not_in_market": "A row's language must be configured for its market.",
    "time_order": "Later events come after earlier ones (termination after enrolment, answer "
    "after opening).",
    "score_out_of_range": "Scores lie on their question's scale: nps 0-10, the others 1-5.",
    "bad_conversion": "A converted lead names one customer or one seller and the day it "
    "converted; a lead not converted names neither and no day.",
    "not_month_start": "A month of marketing spend is written as its first day (2026-07-01).",
    "bad_json": 'A KPI target\'s segment is a JSON object such as {"markets": ["BR"]}.',
    "duplicate_key": "Keys are unique within a table.",
    "dangling_reference": "Every id that points at another table names a row that exists "
    "there after the import.",
    "unknown_kpi": "A KPI target names a KPI of the registry (docs/metrics.md).",
    "bad_segment": "A KPI target's segment uses the filter language: markets, languages, "
    "ranks, rank_at_least, statuses, tenure_bands, training_tiers, cohorts.",
    "target_out_of_range": "A KPI target lies in its KPI's unit: a share 0 to 1, an NPS or a "
    "gap -100 to 100, counts and amounts 0 or more.",
    "two_arms": "A seller is in one arm of an experiment: control or treatment, not both.",
    "sponsor_cycle": "Every upline chain ends at a seller with no sponsor; nobody is their own "
    "upline.",
    "prerequisite_cycle": "Course prerequisites never lead back to the course: every chain "
    "of prerequisites ends at a course that needs none.",
}


#: Every import warning code: what an import loads but says, in its summary, may be wrong.
WARNING_CODES: dict[str, str] = {
    "order_outside_membership": "An order is dated before its seller enrolled or on or after "
    "their termination day. It is loaded and counts in every KPI; correct the dates if the "
    "seller was in fact a member then.",
}


#: The codes of problems with the upload itself on the Data page (`cxm.admin.uploads`), found
#: before any table file is read; the files then get every `ISSUE_CODES` check.
UPLOAD_CODES: dict[str, str] = {
    "bad_zip": "An uploaded .zip must be a readable zip file.",
    "unsafe_path": "Uploaded files and zip members are plain files in one folder: no '..', no "
    "absolute paths, no links.",
    "zip_too_large": "A zip may unpack to at most 16 GiB, and no file to over 200 times its "
    "packed size.",
    "duplicate_upload": "Each file is uploaded once, loose or in a zip.",
    "bad_file_name": "File names and zip member names hold no NUL, line break or other control "
    "character (shown escaped, as \\x00); rename the file.",
}


class ImportIssue(BaseModel):
    """One problem in an input file: where it is, what the value was, which rule it broke.

    ``row`` counts as a spreadsheet shows rows: the header is row 1, the first record row 2.
    ``row`` is None for problems of a whole file or column.

    >>> ImportIssue(file="orders.csv", row=3, column="amount", value="-1",
    ...             code="negative_amount", message="is negative; amounts are 0 or more").line()
    'orders.csv row 3, amount: "-1" is negative; amounts are 0 or more [negative_amount].'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    row: int | None = None
    column: str | None = None
    value: str | None = None
    code: str
    message: str

    @field_validator("code")
    @classmethod
    def _registered(cls, code: str) -> str:
        if code not in ISSUE_CODES and code not in UPLOAD_CODES and code not in WARNING_CODES:
            raise ValueError(f"{code!r} is not in ISSUE_CODES; add it with its rule")
        return code

    def line(self) -> str:
        """Return the issue as one plain sentence for a person."""
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
        if self.column is not None:
            where += f", {self.column}"
        what = f'"{self.value}" ' if self.value is not None else ""
        return f"{where}: {what}{self.message} [{self.code}]."


class CxmError(Exception):
    """Base of every error cxm shows to a user; its message is written for a person."""


class ConfigError(CxmError):
    """The company configuration file is missing or invalid."""


class _Problems(CxmError):
    """An error that lists its problems (each with a ``line()`` and a ``code``), capped."""

    def __init__(self, head: str, issues: Sequence, total: int, cap: int):
        self.issues = list(issues)
        self.total = total
        lines = [i.line() for i in self.issues[:cap]]
        if total > len(lines):
            lines.append(f"... and {total - len(lines)} more.")
        super().__init__("\n".join([head, *lines]))

    @property
    def codes(self) -> set[str]:
        """Return the set of issue codes found, for tests and summaries."""
        return {i.code for i in self.issues}


class ImportRejected(_Problems):
    """An import found problems; nothing was written. ``issues`` holds every one found.

    ``waiting`` says, one sentence each, which checks could not run yet and on what they wait
    (the references to a file that could not be read); the message ends with them.
    """

    def __init__(
        self,
        source: str,
        issues: Sequence[ImportIssue],
        total: int | None = None,
        *,
        waiting: Sequence[str] = (),
    ):
        self.source = source
        self.waiting = list(waiting)
        total = total if total is not None else len(issues)
        files = sorted({i.file for i in issues})
        head = (
            f"Import of {source} rejected: {total} problem{'s' if total != 1 else ''} "
            f"in {len(files)} file{'s' if len(files) != 1 else ''}. Nothing was written."
        )
        super().__init__(head, issues, total, MAX_LISTED_ISSUES)
        if self.waiting:
            self.args = ("\n".join([self.args[0], "Not checked yet:", *self.waiting]),)


class TransactionsRejected(_Problems):
    """A transaction file for ``cxm clv`` has bad rows; nothing was fitted.

    Its issues are `ImportIssue` records with the import's codes (missing_value, bad_date,
    not_a_number, negative_amount, malformed_csv), rows counted as a spreadsheet shows them.
    """

    def __init__(self, source: str, issues: Sequence[ImportIssue], total: int | None = None):
        self.source = source
        total = total if total is not None else len(issues)
        head = f"{source} rejected: {total} problem{'s' if total != 1 else ''}. Nothing was fitted."
        super().__init__(head, issues, total, MAX_LISTED_ISSUES)


class WarehouseFailure(CxmError):
    """What stopped a load or a page that is not the input's fault: the warehouse file, its
    folder or disk, another load. Each kind has a stable ``code``, the ``exit_code`` the
    command line ends with, and a ``title`` the Data page shows it by; the class docstring is
    its rule and fix in docs/errors.md. The kinds of the warehouse's file and disk are in
    `cxm.warehouse.failures`, with what turns DuckDB's and the system's errors into them.

    The message names no server path (pages show it); ``path`` keeps the file or folder it is
    about for the command line, which prints it on a line of its own.
    """

    code: ClassVar[str] = "warehouse_failure"
    exit_code: ClassVar[int] = 1
    title: ClassVar[str] = "The warehouse failed"

    def __init__(self, message: str, *, path: object = None):
        self.path = path
        super().__init__(f"{message} [{self.code}]")


class WarehouseMissing(WarehouseFailure):
    """No warehouse file exists yet, or it holds no data: build the demo company with
    ``cxm demo`` or load the company's files with ``cxm import DIR`` (or the Data page)."""

    code, exit_code, title = "warehouse_missing", 66, "No data is loaded yet"


class WarehouseBusy(WarehouseFailure):
    """Another build or import is writing the warehouse: run the load again when it is done."""

    code, exit_code, title = "warehouse_busy", 75, "Another load is running"


#: Every code a bad filter, KPI request or URL parameter can raise (`BadFilter`).
FILTER_CODES: dict[str, str] = {
    "bad_period": "A period is a month 2026-10, a quarter 2026-Q3 or a year 2026.",
    "unknown_compare": "A period is compared with the previous period (previous) or the same "
    "period a year earlier (year).",
    "period_outside_data": "The period must overlap the loaded data.",
    "as_of_outside_data": "An as-of date lies between the first and the last day of the data.",
    "as_of_not_month_end": "An as-of date is a month's last day or the data's as-of date "
    "(the facts are kept by month).",
    "bad_date": "Dates are written YYYY-MM-DD and must exist in the calendar.",
    "unknown_market": "Markets must be configured (ISO 3166 alpha-2 codes, e.g. GB not UK).",
    "unknown_language": "Languages must be configured for some market (BCP 47, e.g. pt-BR).",
    "unknown_rank": "Ranks must be on the configured rank ladder.",
    "unknown_status": "A seller status is new, active, inactive or terminated.",
    "unknown_tenure_band": "Tenure bands are the ones listed in docs/metrics.md.",
    "unknown_training_tier": "Training tiers are the ones listed in docs/metrics.md.",
    "bad_cohort": "An enrolment cohort is a year such as 2024.",
    "unknown_kpi": "KPI ids are those of the registry (docs/metrics.md).",
    "unknown_dimension": "Dimensions are rank, market, language, status, tenure_band, "
    "training_tier and cohort (product_line for product-line KPIs, channel for acquisition "
    "KPIs).",
    "too_many_dimensions": "A breakdown takes at most three dimensions at a time.",
    "out_of_scope": "A user may only ask for markets inside their scope.",
    "unknown_parameter": "A link may only carry the parameters the app writes.",
    "not_split_by": "Marketing spend and leads are known by market and acquisition channel "
    "only: their KPIs break down and filter by those, not by a seller's segment.",
    "bad_json": 'A segment is a JSON object such as {"markets": ["BR"]}.',
}


class _FieldError(CxmError):
    """One bad value of one named field, with a code from the class's ``codes``."""

    codes: ClassVar[dict[str, str]] = {}

    def __init__(self, field: str, value: object, code: str, message: str):
        if code not in self.codes:
            raise ValueError(f"{code!r} is not in {type(self).__name__}.codes; add it")
        self.field, self.value, self.code, self.reason = field, value, code, message
        super().__init__(f'{field}: "{value}" {message} [{code}].')


class BadFilter(_FieldError):
    """A filter, KPI id, dimension or URL parameter that cannot be used; nothing was computed.

    >>> str(BadFilter("market", "UK", "unknown_market", "is not a configured market"))
    'market: "UK" is not a configured market [unknown_market].'
    """

    codes = FILTER_CODES


#: Every code a bad experiment input can raise (`ExperimentError`): a design, an assignment or
#: a readout asked with values that cannot be used (docs/experiments.md). Nothing is written.
EXPERIMENT_CODES: dict[str, str] = {
    "bad_share": "The treatment share lies strictly between 0 and 1 (0.5 is half the units).",
    "bad_probability": "alpha and power lie strictly between 0 and 1 (0.05 and 0.8 usually).",
    "bad_effect": "An effect to detect is a number other than 0, in the KPI's own unit.",
    "bad_spread": "A KPI's standard deviation is a positive number; the CUPED r squared lies "
    "in [0, 1).",
    "shape_mismatch": "The outcome, arm and pre-period arrays have one row per unit (and one "
    "column per KPI).",
    "duplicate_unit": "A unit appears once in an assignment.",
    "unknown_rank": "Ranks must be on the configured rank ladder.",
    "sponsor_cycle": "Every upline chain ends at a seller with no sponsor; nobody is their own "
    "upline.",
    "no_readout": "A decision needs a readout of its primary KPI over all units.",
    "unknown_kpi": "An experiment's KPIs are KPIs of the registry (docs/metrics.md).",
    "kpi_not_per_seller": "An experiment reads KPIs with a value per seller: sums, counts and "
    "ratios of the seller base (not NPS, gaps, medians or product-line KPIs).",
    "bad_experiment_id": "An experiment id is 1-40 letters, digits, _ or -, starting with a "
    "letter or digit.",
    "bad_name": "An experiment's name is 1 to 80 characters.",
    "bad_unit": "The unit of randomisation is seller or team.",
    "start_not_month_start": "An experiment starts on a month's first day (the seller facts are "
    "kept by month).",
    "bad_planned_end": "An experiment's planned end is a month's last day after its start.",
    "experiment_taken": "Experiment ids and names are unique; choose another.",
    "unknown_experiment": "The experiment must exist (`cxm experiment list`).",
    "already_started": "An experiment is started once: its assignment is frozen at start.",
    "not_started": "A cxm experiment is read once it has been started (its arms drawn).",
    "no_units": "An experiment is read on sellers of both arms inside the reader's scope.",
    "bad_arm": "An arm is control or treatment.",
}


class ExperimentError(_FieldError):
    """An experiment input that cannot be used; nothing was computed or written.

    >>> str(ExperimentError("share", 1.2, "bad_share", "is not strictly between 0 and 1"))
    'share: "1.2" is not strictly between 0 and 1 [bad_share].'
    """

    codes = EXPERIMENT_CODES


#: How many issues an action catalog or rule error lists before it only gives the total.
MAX_LISTED_CATALOG_ISSUES = 20

#: Every code a bad action catalog or eligibility rule can raise (`CatalogError`, `RuleError`).
CATALOG_CODES: dict[str, str] = {
    # the file
    "no_file": "The action catalog file must exist ($CXM_ACTIONS or cxm/actions.yaml).",
    "bad_yaml": "The action catalog must be valid YAML.",
    # structure
    "missing_key": "Every required key is present (version, baseline, follow_through, actions; "
    "an action's id, label, description and impact).",
    "unknown_key": "A mapping may hold only its declared keys.",
    "wrong_type": "A value has the type its key takes (version a quoted string, weights and "
    "impacts numbers, mandatory true or false, lists where a list is expected).",
    # weights and impacts
    "unknown_priority": "Priorities are retention, repeat_customers, cart_size, sales, "
    "business_building, adoption and compliance.",
    "missing_priority": "A weight set gives a weight to every priority.",
    "weight_out_of_range": "Weights lie between 0 and 3.",
    "impact_out_of_range": "Impacts lie between 0 and 1.",
    "no_impact": "An action has a positive impact on at least one priority.",
    "bad_follow_through": "follow_through gives 3 shares between 0 and 1, one per "
    "recommendation slot, none above the one before.",
    # actions
    "bad_id": "Action ids and preset names are snake_case: a-z, 0-9 and _, starting with a "
    "letter, at most 64 characters.",
    "bad_text": "Labels and descriptions are one non-empty line.",
    "duplicate_action": "Action ids are unique.",
    "no_actions": "The catalog holds at least one action.",
    "too_many_actions": "The catalog holds at most 63 actions.",
    "too_many_mandatory": "At most 2 actions are mandatory (beside a capped first slot).",
    "duplicate_language": "A language appears once in content_languages.",
    "bad_share": "max_first_share lies above 0 and at most 1.",
    # eligibility rules
    "malformed_rule": "A rule is a mapping with exactly one of all, any, not, field (with one "
    "operator), course_done or content_in_language.",
    "empty_list": "all, any, in and not_in take a non-empty list.",
    "unknown_field": "Rules name only the seller-state fields listed in docs/whatif.md.",
    "bad_operator": "Categories take is, is_not, in and not_in; numbers and rank take those and "
    "at_least, at_most, above and below; courses are asked with course_done.",
    "unknown_rank": "Ranks must be on the configured rank ladder.",
    "unknown_market": "Markets must be configured (ISO 3166 alpha-2 codes, e.g. GB not UK).",
    "unknown_language": "Languages must be configured for some market (BCP 47, e.g. pt-BR).",
    "unknown_status": "A live seller's status is new, active or inactive.",
    "unknown_course": "course_done names a course id of the courses table.",
}


class _HintedIssue(BaseModel):
    """A problem whose ``code`` must be in the class's ``codes``, shown as one sentence that
    ends with its code and, when there is one, a hint (the nearest known name, say)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    codes: ClassVar[dict[str, str]]
    registry: ClassVar[str]

    code: str
    message: str
    hint: str | None = None

    @field_validator("code")
    @classmethod
    def _registered(cls, code: str) -> str:
        if code not in cls.codes:
            raise ValueError(f"{code!r} is not in {cls.registry}; add it with its rule")
        return code

    def _sentence(self, where: str, what: str = "") -> str:
        text = f"{where}: {what}{self.message} [{self.code}]"
        if self.hint:
            text += f"; {self.hint}"
        return text if text.endswith(("?", ".")) else text + "."


class CatalogIssue(_HintedIssue):
    """One problem in the action catalog or an eligibility rule: where, what, which rule.

    ``action`` is None for problems outside any action; ``path`` is then from the top of the
    file, else from the action (``eligible.all[1]``). ``lineno`` is the YAML line, when known.

    >>> CatalogIssue(source="actions.yaml", action="welcome_call", path="eligible.all[1]",
    ...              code="unknown_field", message='unknown field "downline_new"',
    ...              hint='did you mean "new_downline_30d"?').line()
    'actions.yaml, action "welcome_call", eligible.all[1]: unknown field "downline_new" [unknown_field]; did you mean "new_downline_30d"?'
    """  # noqa: E501

    codes = CATALOG_CODES
    registry = "CATALOG_CODES"

    source: str
    action: str | None = None
    path: str
    lineno: int | None = None

    def line(self) -> str:
        """Return the issue as one plain sentence for a person."""
        where = self.source + (f" line {self.lineno}" if self.lineno is not None else "")
        if self.action is not None:
            where += f', action "{self.action}"'
        if self.path:
            where += f", {self.path}"
        return self._sentence(where)


class CatalogError(_Problems):
    """The action catalog is invalid; ``issues`` holds every problem found (rules included)."""

    what = "Action catalog"

    def __init__(self, source: str, issues: Sequence[CatalogIssue]):
        self.source = source
        total = len(issues)
        head = (
            f"{self.what} {source} rejected: {total} "
            f"problem{'s' if total != 1 else ''}. Nothing was changed."
        )
        super().__init__(head, issues, total, MAX_LISTED_CATALOG_ISSUES)


class RuleError(CatalogError):
    """An eligibility rule is invalid; ``issues`` holds every problem found in it."""

    what = "Eligibility rule in"


#: Every code a bad ``CXM_*`` environment variable can raise (`SettingsError`); the variables,
#: their types and defaults are the README's Configuration table (`cxm.settings`).
SETTING_CODES: dict[str, str] = {
    "unknown_setting": "Every CXM_ variable in the environment is a setting of the README's "
    "table (a misspelt name would otherwise be ignored without a word).",
    "bad_flag": "A switch is 1 (on) or 0 (off); unset or empty is off.",
    "bad_path": "A file path has no control characters (no tab or line break).",
    "bad_memory_limit": "A memory limit is a size of at least 100 MB with its unit (512MB, 4GB, "
    "3GiB) or a share of the machine's memory (50%).",
    "bad_log_level": "The log level is DEBUG, INFO, WARNING or ERROR.",
    "bad_milliseconds": "A time in milliseconds is a whole number, 0 or more.",
    "bad_trusted_proxies": "Trusted proxies are IP addresses or networks (CIDR), separated by "
    "commas; not every address (0.0.0.0/0), which would let any client name its own.",
    "trust_forwarded_for_removed": "CXM_TRUST_FORWARDED_FOR is no longer read: it believed "
    "X-Forwarded-For from anyone. Set CXM_TRUSTED_PROXIES to the proxy's address instead.",
}


class SettingIssue(_HintedIssue):
    """One bad environment variable: its name, its value as set (None when it may be a
    secret), and the rule it breaks.

    >>> SettingIssue(variable="CXM_LOG_LEVEL", value="LOUD", code="bad_log_level",
    ...              message="is not a log level: DEBUG, INFO, WARNING or ERROR").line()
    'CXM_LOG_LEVEL: "LOUD" is not a log level: DEBUG, INFO, WARNING or ERROR [bad_log_level].'
    """

    codes = SETTING_CODES
    registry = "SETTING_CODES"

    variable: str
    value: str | None = None

    def line(self) -> str:
        """Return the issue as one plain sentence for a person."""
        return self._sentence(self.variable, "" if self.value is None else f'"{self.value}" ')


class SettingsError(_Problems):
    """``CXM_*`` environment variables that cxm cannot run with; nothing was started.

    ``issues`` holds every bad variable at once, each a `SettingIssue`.
    """

    def __init__(self, issues: Sequence[SettingIssue]):
        total = len(issues)
        head = (
            f"cxm will not start: {total} environment variable{'s are' if total != 1 else ' is'} "
            "wrong. Correct or unset each (README, Configuration)."
        )
        super().__init__(head, issues, total, MAX_LISTED_ISSUES)
