"""What is built from data, kept in memory under one byte budget for the whole process.

The slow preparations of core (an image's color table, a tensor's histogram) and the pages' results
(palettes, PNG files) are rebuilt only when new data arrives: a slider that changes k reuses them.
Every cache draws on one `MemoryBudget`, counted in bytes: when the total would pass it, the least
recently used entries go first, whichever cache they belong to. The process's budget is
DEFAULT_BUDGET_MB unless the environment variable BUDGET_VARIABLE says otherwise.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

import numpy as np

Built = TypeVar("Built")
BUDGET_VARIABLE = "QUANTIZATION_EXPLORER_CACHE_MB"
# Sized for a 2 GiB container: ~0.6 GB of server at rest + this + ~0.3 GB for one 4 MP upload in flight
# + the sessions' own images, with room to spare.
DEFAULT_BUDGET_MB = 600
_MISSING = object()


class MemoryBudget:
    """A least-recently-used store of (key -> value) whose values' sizes in bytes add up to at most `limit_bytes`.

    A value larger than the whole budget is not kept. Thread-safe, and re-entrant: a garbage collection inside a
    call may run a finalizer that discards entries.
    """

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = int(limit_bytes)
        self._entries: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._used = 0
        self._lock = threading.RLock()

    @property
    def used_bytes(self) -> int:
        """Bytes held now (the sum of the kept values' sizes)."""
        return self._used

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[Hashable]:
        """The keys held, least recently used first."""
        with self._lock:
            return list(self._entries)

    def get(self, key: Hashable, default: object = None) -> object:
        """The value kept for key (now the most recently used), or default."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return default
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, value: object, size: int) -> None:
        """Keep value under key as `size` bytes, dropping the least recently used entries until all fit."""
        with self._lock:
            self._drop(key)
            if size > self.limit_bytes:
                return
            self._entries[key] = (value, size)
            self._used += size
            while self._used > self.limit_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._used -= dropped

    def discard(self, matches: Callable[[Hashable], bool]) -> None:
        """Drop every entry whose key matches."""
        with self._lock:
            # matches may allocate, and so collect garbage whose finalizer discards: iterate over a copy
            for key in [key for key in list(self._entries) if matches(key)]:
                self._drop(key)

    def clear(self) -> None:
        """Drop every entry."""
        self.discard(lambda key: True)

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._used -= entry[1]


def budget_from_environment(environment: dict[str, str] | None = None) -> int:
    """The process's cache budget in bytes: BUDGET_VARIABLE (megabytes, 1 MB = 10^6 bytes) or DEFAULT_BUDGET_MB."""
    text = (os.environ if environment is None else environment).get(BUDGET_VARIABLE, "").strip()
    if not text:
        return DEFAULT_BUDGET_MB * 1_000_000
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = float("nan")
    if not megabytes >= 0 or megabytes == float("inf"):
        raise ValueError(f"{BUDGET_VARIABLE} must be a number of megabytes >= 0; got {text!r}")
    return int(megabytes * 1_000_000)


PROCESS_BUDGET = MemoryBudget(budget_from_environment())
"""The one budget every cache of the app draws on."""


def _parts(value: object) -> Iterator[object]:
    """The values inside value, through dataclasses, tuples, lists and dicts (keys and items); value itself otherwise."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _parts(getattr(value, field.name))
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _parts(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _parts(key)
            yield from _parts(item)
    else:
        yield value


def size_in_bytes(value: object) -> int:
    """Bytes held by value's arrays and byte strings, through dataclasses, tuples, lists and dicts (others: getsizeof)."""
    return sum(
        part.nbytes if isinstance(part, np.ndarray) else len(part) if isinstance(part, (bytes, bytearray)) else sys.getsizeof(part)
        for part in _parts(value)
    )


def read_only(value: object) -> None:
    """Make every array in value (through dataclasses, tuples, lists and dicts) read-only, so that a result shared
    by every session raises when one of them writes into it."""
    for part in _parts(value):
        if isinstance(part, np.ndarray):
            part.setflags(write=False)


def content_key(value: object) -> Hashable:
    """A key equal for arguments of equal content: None, numbers (NumPy's too) and strings with their type, arrays by
    shape, dtype and SHA-256 of their bytes, byte strings by SHA-256, tuples and lists item by item. Raises TypeError
    for others."""
    if value is None or isinstance(value, (bool, int, float, complex, str)):
        return type(value).__name__, value
    if isinstance(value, np.generic):  # a NumPy scalar, as a widget or an array's item can give
        return type(value).__name__, value.item()
    if isinstance(value, np.ndarray):
        contiguous = np.ascontiguousarray(value)
        return "ndarray", contiguous.shape, contiguous.dtype.str, _sha256(memoryview(contiguous).cast("B"))
    if isinstance(value, (bytes, bytearray)):
        return "bytes", _sha256(value)
    if isinstance(value, (tuple, list)):
        return type(value).__name__, tuple(map(content_key, value))
    raise TypeError(f"no content key for a {type(value).__name__}: only None, numbers, strings, bytes, arrays, tuples and lists")


def _sha256(data: bytes | bytearray | memoryview) -> bytes:
    # SHA-256 runs on the CPU's SHA instructions here: ~0.7 ms per MB, half BLAKE2's time.
    return hashlib.sha256(data).digest()


class ContentCache(Generic[Built]):
    """Calls build(array) once per distinct array content (shape, dtype and bytes) while the result fits in `budget`.

    Results are kept in the shared budget with their size in bytes (`size_in_bytes` unless `size` is given).
    """

    def __init__(
        self,
        build: Callable[[np.ndarray], Built],
        budget: MemoryBudget = PROCESS_BUDGET,
        size: Callable[[Built], int] = size_in_bytes,
    ) -> None:
        self._build, self._budget, self._size = build, budget, size

    def __len__(self) -> int:
        return sum(1 for key in self._budget.keys() if key[0] is self)

    def __call__(self, array: np.ndarray) -> Built:
        """The result of build for array's content: kept, or built now (from a C-contiguous copy if needed)."""
        contiguous = np.ascontiguousarray(array)
        key = self._key(contiguous)
        built = self._budget.get(key, _MISSING)
        if built is _MISSING:
            built = self._build(contiguous)
            self._budget.put(key, built, self._size(built))
        return built

    def discard(self, array: np.ndarray) -> None:
        """Drop what is kept for array's content, if anything (when no one will ask for it again)."""
        key = self._key(array)
        self._budget.discard(lambda kept: kept == key)

    def _key(self, array: np.ndarray) -> tuple:
        return self, content_key(array)
