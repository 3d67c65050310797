"""Errors cxm raises on bad input, and the issue record that names one problem.

Every failure a user can cause is a `CxmError` subclass with a message that says where, what
and which rule; no module raises a bare ``ValueError`` at a user. Codes are stable snake_case
and documented in ``docs/errors.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

#: How many issues an error message lists before it only gives the total.
MAX_LISTED_ISSUES = 50


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


class ImportRejected(CxmError):
    """An import found problems; nothing was written. ``issues`` holds every one found."""

    def __init__(self, source: str, issues: Sequence[ImportIssue], total: int | None = None):
        self.source = source
        self.issues = list(issues)
        self.total = total if total is not None else len(self.issues)
        files = sorted({i.file for i in self.issues})
        head = (
            f"Import of {source} rejected: {self.total} problem{'s' if self.total != 1 else ''} "
            f"in {len(files)} file{'s' if len(files) != 1 else ''}. Nothing was written."
        )
        lines = [i.line() for i in self.issues[:MAX_LISTED_ISSUES]]
        if self.total > len(lines):
            lines.append(f"... and {self.total - len(lines)} more.")
        super().__init__("\n".join([head, *lines]))

    @property
    def codes(self) -> set[str]:
        """Return the set of issue codes found, for tests and summaries."""
        return {i.code for i in self.issues}


class WarehouseMissing(CxmError):
    """No warehouse file exists at the configured path."""
