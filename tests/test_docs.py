"""The generated docs match the code they describe."""

from __future__ import annotations

from cxm import docs


def test_docs_cli_md_is_the_help_of_every_command():
    assert (docs.DOCS / "cli.md").read_text(encoding="utf-8") == docs.render_cli(), (
        "docs/cli.md is stale: run `make docs`"
    )


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
