"""The app's security settings and what its code may not call, read from the files themselves."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_FILES = [ROOT / "app.py", *sorted((ROOT / "chapters").glob("*.py")), *sorted((ROOT / "ui").glob("*.py")), *sorted((ROOT / "core").rglob("*.py"))]
# Calls through which input could run code or reach a shell (model.eval() is torch's, an attribute).
FORBIDDEN_BUILTINS = {"eval", "exec", "__import__"}
FORBIDDEN_METHODS = {"system", "popen", "Popen", "check_output", "check_call", "spawnv", "execv"}
FORBIDDEN_MODULES = {"pickle", "marshal", "shelve", "dill", "subprocess"}
# Where raw HTML is allowed: the data-types table colors the bits of numbers the page formats itself.
HTML_ALLOWED = {"chapters/data_types.py"}


def calls_and_imports(path: Path) -> tuple[list[ast.Call], set[str]]:
    tree = ast.parse(path.read_text())
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    return calls, imported


def is_forbidden(call: ast.Call) -> bool:
    function = call.func
    if isinstance(function, ast.Attribute):
        return function.attr in FORBIDDEN_METHODS
    return getattr(function, "id", "") in FORBIDDEN_BUILTINS


def test_server_keeps_xsrf_protection_and_caps_uploads() -> None:
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["enableXsrfProtection"] is True
    # MiB: the transfer cap, just above the image uploader's own 25 MB so its framing always fits (ui/image_choice.py).
    assert 0 < server["maxUploadSize"] <= 26


def test_no_code_path_unpickles_evaluates_or_reaches_a_shell() -> None:
    for path in APP_FILES:
        calls, imported = calls_and_imports(path)
        assert not imported & FORBIDDEN_MODULES, f"{path.name} imports {imported & FORBIDDEN_MODULES}"
        for call in calls:
            where = f"{path.name}:{call.lineno}"
            assert not is_forbidden(call), f"{where} calls {ast.unparse(call.func)}"
            assert ast.unparse(call.func) != "torch.load", f"{where}: torch.load unpickles; the weights are safetensors"
            assert not any(
                keyword.arg == "allow_pickle" and getattr(keyword.value, "value", True) for keyword in call.keywords
            ), f"{where} allows pickles"


def test_raw_html_only_where_the_page_writes_every_character() -> None:
    for path in APP_FILES:
        calls, _ = calls_and_imports(path)
        uses_html = any(
            keyword.arg == "unsafe_allow_html" and getattr(keyword.value, "value", False) for call in calls for keyword in call.keywords
        )
        assert not uses_html or path.relative_to(ROOT).as_posix() in HTML_ALLOWED, f"{path.name} renders raw HTML"
