"""The server package stands alone: nothing in `demo/backend` imports the test helpers."""

from __future__ import annotations

import ast
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[2] / "demo" / "backend"


def _imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules `path` imports (relative imports resolved inside `demo.backend`)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            package = ["demo", "backend"][: 2 - node.level + 1] if node.level else []
            names.add(".".join([*package, node.module or ""]).strip("."))
    return names


def test_backend_does_not_import_the_test_helpers():
    offenders = {
        path.name: sorted(name for name in _imported_modules(path) if name.startswith("demo.testing"))
        for path in sorted(BACKEND.glob("**/*.py"))
    }
    offenders = {name: found for name, found in offenders.items() if found}
    assert not offenders, f"demo/backend imports demo.testing (test/tool helpers only): {offenders}"
