"""The layout keeps its promises: the library knows nothing of its entry points.

`todo/` is imported by every function and by realtime; if it imported either of them (or
the command line above them), a function's cold start would load the others and the
packages would depend on each other in a circle. A function never imports realtime. `stack/`,
the real platform for the platform tests, sits above everything the image ships: nothing
deployed imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> top-level packages it must never import
FORBIDDEN = {
    "todo": {"functions", "realtime", "todo_cli", "stack"},
    "functions": {"realtime", "todo_cli", "stack"},
    "realtime": {"functions", "todo_cli", "stack"},
    "todo_cli": {"stack"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level package names a module imports, at any depth (lazy imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def violations(package: str) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in sorted(imported_packages(path) & FORBIDDEN[package])
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_never_imports_the_layers_above_it(package: str) -> None:
    assert violations(package) == []


def test_the_check_sees_a_lazy_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from functions import load\n    import realtime.app\n")
    assert imported_packages(module) >= {"functions", "realtime"}
