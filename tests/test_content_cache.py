import dataclasses
import gc
import threading
import weakref

import numpy as np
import pytest

from core.content_cache import (
    BUDGET_VARIABLE,
    DEFAULT_BUDGET_MB,
    ContentCache,
    MemoryBudget,
    budget_from_environment,
    content_key,
    read_only,
    size_in_bytes,
)


def counting_cache(budget: int, size=lambda _: 1) -> tuple[ContentCache, list]:
    built = []

    def build(array: np.ndarray) -> float:
        built.append(array.copy())
        return float(array.sum())

    return ContentCache(build, MemoryBudget(budget), size), built


def test_builds_once_per_content_whatever_the_object():
    cache, built = counting_cache(budget=4)
    values = np.arange(12.0)
    assert cache(values) == cache(values.copy()) == 66.0
    assert cache(values[::-1].copy()) == 66.0  # same sum, other bytes: built again
    assert len(built) == 2


def test_shape_and_dtype_are_part_of_the_key():
    cache, built = counting_cache(budget=8)
    values = np.arange(12.0)
    cache(values), cache(values.reshape(3, 4)), cache(values.view(np.int64))
    assert len(built) == 3


def test_least_recently_used_goes_first_when_over_budget():
    cache, built = counting_cache(budget=2)
    first, second, third = np.zeros(2), np.ones(2), np.full(2, 2.0)
    cache(first), cache(second), cache(first), cache(third)  # first was used after second
    assert len(cache) == 2
    cache(first)
    assert len(built) == 3  # first is still cached
    cache(second)
    assert len(built) == 4  # second was dropped


def test_budget_counts_sizes():
    cache, built = counting_cache(budget=10, size=lambda total: int(total))
    cache(np.array([6.0])), cache(np.array([5.0]))  # 6 + 5 > 10: the older goes
    assert len(cache) == 1
    cache(np.array([5.0]))
    assert len(built) == 2


def test_a_result_larger_than_the_budget_is_returned_but_not_kept():
    cache, built = counting_cache(budget=10, size=lambda total: int(total))
    assert cache(np.array([11.0])) == 11.0
    assert len(cache) == 0
    cache(np.array([11.0]))
    assert len(built) == 2


def test_caches_sharing_a_budget_evict_each_other_least_recently_used_first():
    budget = MemoryBudget(100)
    small = ContentCache(lambda array: np.zeros(5), budget)  # 40 bytes each
    large = ContentCache(lambda array: np.zeros(7), budget)  # 56 bytes each
    small(np.array([1])), large(np.array([1]))
    assert budget.used_bytes == 96 and len(budget) == 2
    small(np.array([2]))  # 136 > 100: the least recently used, small's first entry, goes
    assert (len(small), len(large), budget.used_bytes) == (1, 1, 96)
    large(np.array([2]))  # now large's first entry is the least recently used
    assert (len(small), len(large), budget.used_bytes) == (1, 1, 96)
    assert [key[0] for key in budget.keys()] == [small, large]


def test_builds_from_a_contiguous_array():
    cache = ContentCache(lambda array: array.flags.c_contiguous, MemoryBudget(100))
    assert cache(np.arange(20.0).reshape(4, 5)[:, ::2])


@dataclasses.dataclass
class Result:
    pixels: np.ndarray
    files: tuple[bytes, ...]
    table: dict


def test_size_counts_arrays_and_bytes_through_containers():
    result = Result(np.zeros((10, 10), np.uint16), (b"x" * 100, b"y" * 7), {"a": np.zeros(3)})
    assert size_in_bytes(result) == 200 + 107 + 24 + size_in_bytes("a")


def test_budget_comes_from_the_environment_in_megabytes():
    assert budget_from_environment({}) == DEFAULT_BUDGET_MB * 1_000_000
    assert budget_from_environment({BUDGET_VARIABLE: "250"}) == 250_000_000
    assert budget_from_environment({BUDGET_VARIABLE: "0"}) == 0
    for junk in ("-1", "lots", "inf", "nan"):
        with pytest.raises(ValueError, match=BUDGET_VARIABLE):
            budget_from_environment({BUDGET_VARIABLE: junk})


def test_discard_drops_only_that_content():
    cache, built = counting_cache(budget=8)
    cache(np.zeros(2)), cache(np.ones(2))
    cache.discard(np.zeros(2).copy())
    assert len(cache) == 1
    cache(np.ones(2)), cache(np.zeros(2))
    assert len(built) == 3


def test_content_key_is_equal_for_equal_contents_only():
    values = np.arange(6.0)
    assert content_key(values) == content_key(values.copy()) == content_key(np.repeat(values, 2)[::2])
    assert content_key(values) != content_key(values.reshape(2, 3))
    assert content_key(values) != content_key(values.astype(np.float32))
    assert content_key(b"abc") == content_key(bytearray(b"abc")) != content_key(b"abd")
    assert content_key((1, "a", None, [2.5])) == content_key((1, "a", None, [2.5]))
    assert len({content_key(1), content_key(1.0), content_key(True), content_key("1")}) == 4  # equal in Python, not here
    assert content_key(np.int64(3)) == content_key(np.arange(5)[3]) != content_key(np.float32(3))
    hash(content_key((values, b"x", ("fc1", 4))))


def test_content_key_refuses_what_it_cannot_see_into():
    with pytest.raises(TypeError, match="dict"):
        content_key({"a": 1})
    with pytest.raises(TypeError, match="Result"):
        content_key((1, Result(np.zeros(1), (), {})))


def test_read_only_reaches_every_array_and_a_write_then_raises():
    result = Result(np.zeros(3), (b"x",), {"a": [np.ones(2)]})
    read_only(result)
    for array in (result.pixels, result.table["a"][0]):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 1


def test_a_finalizer_that_discards_during_a_call_neither_deadlocks_nor_breaks_the_iteration():
    budget = MemoryBudget(100)
    budget.put("upload", b"x" * 10, 10)
    budget.put("other", b"y" * 10, 10)

    class Upload:
        pass

    upload = Upload()
    upload.cycle = upload  # freed by a garbage collection only, as an expired session's objects are
    weakref.finalize(upload, budget.discard, lambda key: key == "upload")
    del upload
    # the collection runs while discard holds the lock and iterates, as an automatic one can
    call = threading.Thread(target=budget.discard, args=(lambda key: gc.collect() < 0,), daemon=True)
    call.start()
    call.join(timeout=10)
    assert not call.is_alive(), "deadlocked"
    assert budget.keys() == ["other"] and budget.used_bytes == 10
