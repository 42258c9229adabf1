"""The pages' caches, kept under the process's one memory budget, and freed memory given back to the system.

`kept` caches a page function's results in core.content_cache.PROCESS_BUDGET (bytes, shared with core's
own caches) instead of st.cache_data's per-function entry counts; a hit returns the kept object itself,
not a copy. `return_freed_memory` asks glibc to hand freed heap pages back (malloc_trim), which CPython's
and numpy's frees alone do not do for memory in the middle of a heap; a daemon thread does it every
TRIM_SECONDS, so memory goes down after sessions expire.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
import time
from collections.abc import Callable, Hashable
from contextlib import nullcontext
from typing import ParamSpec, TypeVar

import streamlit as st

from core.content_cache import PROCESS_BUDGET, size_in_bytes

Params = ParamSpec("Params")
Result = TypeVar("Result")
TRIM_SECONDS = 30
_MISSING = object()


def kept(key: Callable[..., Hashable], spinner: str | None = None):
    """Decorator: cache a function's results in the process budget under (its name, key(*args)), showing spinner while it runs.

    The wrapped function gains .clear(), which drops its kept results.
    """

    def decorate(function: Callable[Params, Result]) -> Callable[Params, Result]:
        name = f"{function.__module__}.{function.__qualname__}"

        @functools.wraps(function)
        def wrapper(*args: Params.args, **kwargs: Params.kwargs) -> Result:
            cache_key = (name, key(*args, **kwargs))
            result = PROCESS_BUDGET.get(cache_key, _MISSING)
            if result is _MISSING:
                with st.spinner(spinner) if spinner else nullcontext():
                    result = function(*args, **kwargs)
                PROCESS_BUDGET.put(cache_key, result, size_in_bytes(result))
            return result

        wrapper.clear = lambda: PROCESS_BUDGET.discard(lambda cache_key: cache_key[0] == name)
        return wrapper

    return decorate


def _malloc_trim() -> Callable[[int], int] | None:
    library = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(library), "malloc_trim", None) if library else None  # glibc only
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def return_freed_memory() -> bool:
    """Give freed heap memory back to the operating system (glibc's malloc_trim); False where there is no glibc."""
    if _TRIM is None:
        return False
    _TRIM(0)  # ctypes releases the GIL for the call
    return True


@st.cache_resource
def start_trimming() -> threading.Thread | None:
    """Once per process: a daemon thread that returns freed memory every TRIM_SECONDS (None without glibc)."""
    if _TRIM is None:
        return None

    def trim_forever() -> None:
        while True:
            time.sleep(TRIM_SECONDS)
            return_freed_memory()

    thread = threading.Thread(target=trim_forever, name="malloc_trim", daemon=True)
    thread.start()
    return thread
