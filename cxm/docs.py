"""Generate docs/cli.md and docs/schema.md from the code that defines them.

``python -m cxm.docs`` rewrites both; ``tests/test_docs.py`` fails when a committed file
differs from what this renders, so the docs cannot drift from the declarations.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cxm.cli import app
from cxm.warehouse.schema import ID_PATTERN, TABLES, columns, key_columns

DOCS = Path(__file__).parents[1] / "docs"
COMMANDS = ("demo", "import", "export-raw", "status", "demo-users")


def render_cli() -> str:
    """Return docs/cli.md: the ``--help`` of every command."""
    runner = CliRunner()
    parts = [
        "# The `cxm` command",
        "",
        "Generated from `--help` by `python -m cxm.docs`. Run with `uv run cxm ...`.",
        "",
    ]
    for command in COMMANDS:
        text = runner.invoke(app, [command, "--help"], prog_name="cxm", terminal_width=100).stdout
        parts += [f"## `cxm {command}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(parts)


def _constraints(col) -> str:
    bits = []
    if col.key:
        bits.append("key")
    if col.ref:
        bits.append(f"references {col.ref}")
    if col.enum:
        bits.append(f"one of the configured {col.enum.replace('_', ' ')}")
    if col.literals:
        bits.append("one of " + ", ".join(f"`{v}`" for v in col.literals))
    if col.ge is not None:
        bits.append(f">= {col.ge}")
    if col.pattern and col.pattern != ID_PATTERN:
        bits.append(f"format `{col.pattern}`")
    return "; ".join(bits)


def render_schema() -> str:
    """Return docs/schema.md: every table's columns, types and rules, from the declarations."""
    parts = [
        "# Warehouse tables",
        "",
        "Generated from `cxm/warehouse/schema.py` by `python -m cxm.docs`. These are the "
        "columns `cxm import` expects, in any order, one file per table.",
        "",
    ]
    for name, model in TABLES.items():
        key = ", ".join(key_columns(model)) or "none (rows may repeat)"
        parts += [
            f"## `{name}`",
            "",
            f"One row is {model.__doc_grain__}. Key: {key}.",
            "",
            "| column | type | required | rules |",
            "|---|---|---|---|",
        ]
        for col in columns(model):
            parts.append(
                f"| `{col.name}` | {col.duckdb_type} | {'no' if col.nullable else 'yes'} "
                f"| {_constraints(col)} |"
            )
        rules = [type(r).__name__ for r in model.__rules__]
        if rules:
            parts += ["", "Row rules: " + ", ".join(rules) + " (see docs/errors.md)."]
        parts.append("")
    return "\n".join(parts)


def main() -> None:
    """Rewrite the generated docs."""
    (DOCS / "cli.md").write_text(render_cli(), encoding="utf-8")
    (DOCS / "schema.md").write_text(render_schema(), encoding="utf-8")


if __name__ == "__main__":
    main()
