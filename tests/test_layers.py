"""The layers import only to their left, and Streamlit stays in the UI layer.

The rules are import-linter contracts in pyproject.toml (`[tool.importlinter]`), run here with
`lint-imports`. They replace a walk of `import` statements that skipped `from cxm import access`
and every relative import (issue 20, finding 9): the planted imports below passed it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(package_parent: Path) -> subprocess.CompletedProcess:
    """Run the contracts of pyproject.toml on the `cxm` package found in ``package_parent``."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(PYPROJECT)],
        cwd=package_parent,
        env={"PYTHONPATH": str(package_parent), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_declared_layers_and_the_streamlit_rule_hold():
    run = _lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


#: One planted module per import form, each breaking a rule; the old walk saw only the last two
#: of the layer imports (an absolute `import cxm.x` and `from cxm.x import y`, wherever they are).
PLANTED = {
    "metrics/_planted_from_package.py": "from cxm import ui\n",
    "metrics/_planted_relative.py": "from .. import admin\n",
    "metrics/_planted_relative_module.py": "from ..reports import export\n",
    "segments/_planted_in_function.py": "def f():\n    import cxm.metrics.stats\n",
    "state/_planted_from_module.py": "from cxm.whatif.rules import Rule\n",
    "metrics/_planted_streamlit.py": "import streamlit as st\n",
}


def test_the_contracts_catch_every_import_form_the_old_walk_skipped(tmp_path):
    shutil.copytree(ROOT / "cxm", tmp_path / "cxm", ignore=shutil.ignore_patterns("__pycache__"))
    # `from cxm import access` in the lowest layer: errors may import nothing of cxm.
    errors = tmp_path / "cxm" / "errors.py"
    errors.write_text(errors.read_text() + "\nfrom cxm import access  # planted\n")
    for name, text in PLANTED.items():
        (tmp_path / "cxm" / name).write_text(text)
    # A new top-level module that no layer declares: it could import anything unchecked.
    (tmp_path / "cxm" / "settings_planted.py").write_text("X = 1\n")

    out = _lint_imports(tmp_path).stdout
    assert "Contracts: 2 kept, 2 broken." in out, out
    for broken in (
        "cxm.errors -> cxm.access",
        "cxm.metrics._planted_from_package -> cxm.ui (l.1)",
        "cxm.metrics._planted_relative -> cxm.admin (l.1)",
        "cxm.metrics._planted_relative_module -> cxm.reports.export (l.1)",
        "cxm.segments._planted_in_function -> cxm.metrics.stats (l.2)",
        "cxm.state._planted_from_module -> cxm.whatif.rules (l.1)",
        "cxm.metrics._planted_streamlit -> streamlit (l.1)",
        "- cxm.settings_planted",  # listed among the modules no layer declares
    ):
        assert broken in out, f"{broken!r} not reported:\n{out}"


def test_the_contract_lists_the_layers_in_the_order_docs_architecture_draws_them():
    # docs/architecture.md: "errors, config, access -> warehouse -> ... -> ui -> app_pages",
    # with "cli, docs" drawn under the top; the contract lists the top first.
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    chain, below = re.search(r"## Layers\n\n    (.+)\n +(.+)\n", text).groups()
    drawn = [m for part in chain.split("->") for m in re.findall(r"\w+", part)]
    drawn = [m for m in drawn if m != "app_pages"] + re.findall(r"\w+", below)
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    assert layers[::-1] == drawn


def test_there_is_no_pages_folder_that_streamlit_would_serve_without_login():
    assert not (ROOT / "pages").exists()
