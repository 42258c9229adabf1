"""ui/memory.py: page results kept in the process's byte budget, and freed memory handed back to glibc."""

import numpy as np

from core.content_cache import PROCESS_BUDGET, size_in_bytes
from ui import memory


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


def test_forget_drops_every_kept_result_keyed_by_that_first_part():
    @memory.kept(lambda digest, k: (digest, k))
    def result(digest: str, k: int) -> bytes:
        return bytes(k)

    result("one", 3), result("one", 4), result("two", 3)
    memory.forget("one")
    keys = [key[1] for key in PROCESS_BUDGET.keys() if isinstance(key[0], str) and "test_forget" in key[0]]
    assert keys == [("two", 3)]
    result.clear()
