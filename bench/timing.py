"""Wall-clock timing shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import TypeVar

Result = TypeVar("Result")


def timed(action: Callable[[], Result], repeats: int) -> tuple[float, Result]:
    """Run `action` `repeats` times; returns (median wall time in ms, the last run's result)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def median_ms(action: Callable[[], object], repeats: int) -> float:
    """Median wall time in ms of `repeats` runs of `action`."""
    return timed(action, repeats)[0]
