"""The layers import only to their left, and Streamlit stays in the UI layer."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
#: Left to right; a module may import its own layer and those to its left.
LAYERS = [
    "errors",
    "config",
    "access",
    "warehouse",
    "state",
    "segments",
    "metrics",
    "whatif",
    "reports",
    "pipeline",
    "admin",
    "ui",
    "cli",
    "docs",
]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "cli"


def test_streamlit_is_imported_only_by_the_app_its_pages_and_cxm_ui():
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "cxm").rglob("*.py")
        if "ui" not in p.relative_to(ROOT / "cxm").parts[:1]
        and any(m.split(".")[0] == "streamlit" for m in _imports(p))
    ]
    assert offenders == []


def test_library_modules_import_only_from_their_left():
    wrong = []
    for path in (ROOT / "cxm").rglob("*.py"):
        rel = path.relative_to(ROOT / "cxm")
        own = rel.parts[0].removesuffix(".py") if rel.parts[0] != "__init__.py" else "errors"
        own = own if own in LAYERS else "errors"
        for module in _imports(path):
            if module.startswith("cxm."):
                target = module.split(".")[1]
                if target in LAYERS and LAYERS.index(target) > LAYERS.index(own):
                    wrong.append(f"{rel} imports {module}")
    assert wrong == []


def test_there_is_no_pages_folder_that_streamlit_would_serve_without_login():
    assert not (ROOT / "pages").exists()
