import numpy as np

from core.content_cache import ContentCache


def counting_cache(budget: int, size=lambda _: 1) -> tuple[ContentCache, list]:
    built = []

    def build(array: np.ndarray) -> float:
        built.append(array.copy())
        return float(array.sum())

    return ContentCache(build, budget, size), built


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


def test_builds_from_a_contiguous_array():
    cache = ContentCache(lambda array: array.flags.c_contiguous, budget=2)
    assert cache(np.arange(20.0).reshape(4, 5)[:, ::2])
