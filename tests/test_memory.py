"""ui/memory.py: page results kept in the process's byte budget, and freed memory handed back to glibc."""

import ast
import gc
import threading
import time
import weakref
from pathlib import Path

import numpy as np
import pytest

from core.content_cache import PROCESS_BUDGET, size_in_bytes
from ui import memory

ROOT = Path(__file__).resolve().parent.parent
APP_FILES = [ROOT / "app.py", *sorted((ROOT / "chapters").glob("*.py")), *sorted((ROOT / "ui").rglob("*.py"))]


def test_kept_builds_once_per_key_and_accounts_the_result_in_bytes():
    calls = []

    @memory.kept(lambda name, k: (name, k))
    def palette_of(name: str, k: int) -> np.ndarray:
        calls.append((name, k))
        return np.zeros((k, 3), np.uint8)

    palette_of.clear()
    before = PROCESS_BUDGET.used_bytes
    first = palette_of("a", 4)
    assert palette_of("a", 4) is first  # the kept object itself, not a copy
    palette_of("a", 5)
    assert calls == [("a", 4), ("a", 5)]
    assert PROCESS_BUDGET.used_bytes - before == size_in_bytes(first) + 15
    palette_of.clear()
    assert PROCESS_BUDGET.used_bytes == before
    palette_of("a", 4)
    assert calls[-1] == ("a", 4)
    palette_of.clear()


def test_freed_memory_is_returned_where_glibc_offers_malloc_trim():
    assert memory.return_freed_memory() is (memory._TRIM is not None)


def test_returning_memory_collects_cycles_so_an_expired_sessions_upload_is_forgotten():
    forgotten = []

    class Session:
        pass

    session = Session()
    session.state = {"session": session}  # Streamlit's session objects refer to each other
    weakref.finalize(session, forgotten.append, "upload")
    del session
    gc.disable()  # an idle server collects nothing on its own
    try:
        memory.return_freed_memory()
    finally:
        gc.enable()
    assert forgotten == ["upload"]


def test_forget_drops_every_kept_result_keyed_by_that_first_part():
    @memory.kept(lambda digest, k: (digest, k))
    def result(digest: str, k: int) -> bytes:
        return bytes(k)

    result("one", 3), result("one", 4), result("two", 3)
    memory.forget("one")
    keys = [key[1] for key in PROCESS_BUDGET.keys() if isinstance(key[0], str) and "test_forget" in key[0]]
    assert keys == [("two", 3)]
    result.clear()


def test_sessions_asking_for_one_missing_result_at_once_compute_it_once():
    calls, started = [], threading.Barrier(4)

    @memory.kept()
    def slow_square(n: int) -> int:
        calls.append(n)
        time.sleep(0.3)
        return n * n

    def ask() -> None:
        started.wait()
        results.append(slow_square(7))

    results: list[int] = []
    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [49] * 4 and calls == [7]
    assert slow_square(8) == 64 and calls == [7, 8]
    assert not memory._COMPUTING  # nothing left behind once every computation is over
    slow_square.clear()


def test_without_a_key_the_arguments_contents_are_the_key_except_underscored_ones():
    calls = []

    @memory.kept()
    def total(values: np.ndarray, data: bytes, _note: str, scale: int = 1) -> np.ndarray:
        calls.append(_note)
        return values * scale + len(data)

    total.clear()
    first = total(np.arange(3.0), b"ab", "first")
    assert total(np.arange(3.0), bytes(b"ab"), "second", scale=1) is first  # equal contents, _note not part of the key
    total(np.arange(3.0), b"ab", "third", 2)
    total(np.arange(3), b"ab", "fourth")  # other dtype
    total(np.arange(3.0), b"abc", "fifth")
    assert calls == ["first", "third", "fourth", "fifth"]
    total.clear()


def test_an_argument_without_a_content_key_is_refused_by_name():
    @memory.kept()
    def count(table: dict) -> int:
        return len(table)

    with pytest.raises(TypeError, match="count.*dict"):
        count({"a": 1})


def test_kept_arrays_are_read_only_so_a_caller_cannot_change_another_sessions_result():
    @memory.kept()
    def curves(n: int) -> dict[str, np.ndarray]:
        return {"error": np.zeros(n)}

    curves.clear()
    with pytest.raises(ValueError, match="read-only"):
        curves(4)["error"][0] = 1.0
    assert not curves(4)["error"].any()
    curves.clear()


def test_functions_of_one_name_in_two_pages_keep_their_own_results():
    # Streamlit runs every page as module __main__
    made = {}
    for page in ("one.py", "two.py"):
        namespace = {"__name__": "__main__", "memory": memory}
        exec(compile(f"@memory.kept()\ndef curve(n):\n    return '{page}'\n", page, "exec"), namespace)
        made[page] = namespace["curve"]
    assert (made["one.py"](1), made["two.py"](1)) == ("one.py", "two.py")
    for curve in made.values():
        curve.clear()


def entry_counted_caches(source: str) -> list[str]:
    """Functions of source cached per entry (st.cache_data, or st.cache_resource with max_entries or ttl)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            name = ast.unparse(call.func if call else decorator)
            limited = call is not None and any(keyword.arg in ("max_entries", "ttl") for keyword in call.keywords)
            if name.endswith("cache_data") or (name.endswith("cache_resource") and limited):
                found.append(node.name)
    return found


def test_the_check_finds_an_entry_counted_cache():
    source = (
        "@st.cache_data\ndef a(): ...\n@st.cache_data(max_entries=4, show_spinner=False)\ndef b(): ...\n"
        "@st.cache_resource(max_entries=2)\ndef c(): ...\n@st.cache_resource(show_spinner=False)\ndef d(): ...\n"
        "@kept()\ndef e(): ...\n"
    )
    assert entry_counted_caches(source) == ["a", "b", "c"]


@pytest.mark.parametrize("path", APP_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_page_results_are_kept_in_the_byte_budget_not_in_entry_counted_caches(path):
    # st.cache_resource without a limit stays for what a process loads once (the model, the digits, the pool).
    assert entry_counted_caches(path.read_text()) == [], f"{path.name}: cache page results with ui.memory.kept"
