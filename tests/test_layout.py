"""core/'s dependencies point one way (ARCHITECTURE.md): checked from every module's imports."""

import ast
from pathlib import Path

import pytest

from conftest import ROOT

CORE = ROOT / "core"
HELPERS = {"core.checks", "core.content_cache", "core.distributions"}
# What each sub-package may import from core besides the shared helpers (and itself).
ALLOWED = {
    "measure": set(),
    "quantize": {"measure"},
    "images": {"measure", "quantize"},
    "models": {"measure", "quantize"},
    "compress": {"measure", "quantize", "models"},
    "weightfile": {"measure", "quantize"},
}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions count too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def core_package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "core" and len(parts) > 1 and f"core.{parts[1]}" not in HELPERS else None


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_imports_point_down(path: Path) -> None:
    imports = imported_modules(path)
    assert not {m for m in imports if m.split(".")[0] in ("streamlit", "chapters", "ui")}, "core imports no page code"
    package = path.relative_to(CORE).parts[0] if len(path.relative_to(CORE).parts) > 1 else None
    used = {core_package(m) for m in imports} - {None, package}
    allowed = ALLOWED[package] if package else set()
    assert used <= allowed, f"{path.relative_to(ROOT)} imports core.{sorted(used - allowed)}"


def test_every_core_folder_says_what_it_holds() -> None:
    for folder in [p for p in CORE.iterdir() if p.is_dir() and p.name != "__pycache__"]:
        init = folder / "__init__.py"
        tree = ast.parse(init.read_text())
        assert ast.get_docstring(tree), f"{init} has no docstring"
        assert all(isinstance(node, ast.Expr) for node in tree.body), f"{init} holds logic"
        assert folder.name in ALLOWED, f"core/{folder.name} is not in the layout"
