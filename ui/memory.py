"""The pages' caches, kept under the process's one memory budget, and freed memory given back to the system.

`kept` caches a page function's results in core.content_cache.PROCESS_BUDGET (bytes, shared with core's
own caches) instead of st.cache_data's per-function entry counts; a hit returns the kept object itself,
not a copy, its arrays read-only. Every page result is kept this way; st.cache_resource holds only what a
process loads once (the shipped model and digits, the worker pool), never results that grow with input
(tests/test_memory.py holds the pages to that).

Freed memory goes back to the system (glibc only; `keep_memory_returnable`, once per process): arrays of
MMAP_THRESHOLD bytes or more (a 4 MP image's per-pixel arrays) get their own mappings, returned the moment
they are freed, instead of glibc's default, which after the first such free serves arrays up to 32 MB from
heaps that fragment; at most ARENA_MAX heaps instead of one per thread (Streamlit runs
each session's script in its own thread); and a daemon thread, every TRIM_SECONDS, collects the expired
sessions' garbage cycles and calls malloc_trim to hand back freed pages in the middle of a heap, so memory
goes down after sessions expire.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import inspect
import threading
import time
import warnings
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager, nullcontext
from typing import ParamSpec, TypeVar

import streamlit as st

from core.content_cache import PROCESS_BUDGET, content_key, read_only, size_in_bytes

Params = ParamSpec("Params")
Result = TypeVar("Result")
TRIM_SECONDS = 30
MMAP_THRESHOLD = 2 * 2**20
ARENA_MAX = 2
_M_MMAP_THRESHOLD, _M_ARENA_MAX = -3, -8  # glibc's mallopt parameter numbers (malloc.h)
_MISSING = object()
# Kept arrays are read-only (the shipped weights too, once a kept model holds them). torch warns when it wraps
# one; the models only read their weights.
warnings.filterwarnings("ignore", "The given NumPy array is not writable", UserWarning)


def kept(
    key: Callable[..., Hashable] | None = None, spinner: str | None = None
) -> Callable[[Callable[Params, Result]], Callable[Params, Result]]:
    """Decorator: cache a function's results in the process budget under (its name, key(*args)), showing spinner
    while it runs. Without key, the arguments' contents (content_key) are the key, leaving out parameters named
    _…, as st.cache_data does. Kept arrays are made read-only: every session gets the kept object itself.

    The wrapped function gains .clear(), which drops its kept results.
    """

    def decorate(function: Callable[Params, Result]) -> Callable[Params, Result]:
        # Streamlit runs every page as module __main__: the file tells two pages' functions of one name apart.
        name = f"{function.__code__.co_filename}:{function.__qualname__}"
        key_of = key or _arguments_key(function)

        @functools.wraps(function)
        def wrapper(*args: Params.args, **kwargs: Params.kwargs) -> Result:
            cache_key = (name, key_of(*args, **kwargs))
            result = PROCESS_BUDGET.get(cache_key, _MISSING)
            if result is not _MISSING:
                return result
            with _computing(cache_key):  # a class opening one page at once computes each result once, as st.cache_data did
                result = PROCESS_BUDGET.get(cache_key, _MISSING)
                if result is _MISSING:
                    with st.spinner(spinner) if spinner else nullcontext():
                        result = function(*args, **kwargs)
                    read_only(result)
                    PROCESS_BUDGET.put(cache_key, result, size_in_bytes(result))
            return result

        wrapper.clear = lambda: PROCESS_BUDGET.discard(lambda cache_key: cache_key[0] == name)
        return wrapper

    return decorate


_COMPUTING: dict[Hashable, threading.Lock] = {}
_COMPUTING_GUARD = threading.Lock()


@contextmanager
def _computing(cache_key: Hashable) -> Iterator[None]:
    """Hold the lock of cache_key's computation: a second thread asking for the same missing result waits for
    the first, then finds it kept."""
    with _COMPUTING_GUARD:
        lock = _COMPUTING.setdefault(cache_key, threading.Lock())
    try:
        with lock:
            yield
    finally:
        with _COMPUTING_GUARD:
            if _COMPUTING.get(cache_key) is lock:  # a thread still waiting on it holds it; later ones find the result
                del _COMPUTING[cache_key]


def _arguments_key(function: Callable[..., object]) -> Callable[..., Hashable]:
    signature = inspect.signature(function)

    def key(*args: object, **kwargs: object) -> tuple:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        try:
            return tuple(content_key(value) for parameter, value in bound.arguments.items() if not parameter.startswith("_"))
        except TypeError as error:
            raise TypeError(f"{function.__qualname__}: {error}; give kept a key, or name the parameter _…") from None

    return key


def forget(first: Hashable) -> None:
    """Drop every kept result, of any function, whose key(*args) is a tuple starting with `first`."""
    PROCESS_BUDGET.discard(
        lambda cache_key: isinstance(cache_key[0], str) and isinstance(cache_key[1], tuple) and cache_key[1][:1] == (first,)
    )


def _glibc_function(name: str, argtypes: list) -> Callable[..., int] | None:
    library = ctypes.util.find_library("c")
    function = getattr(ctypes.CDLL(library), name, None) if library else None  # glibc only
    if function is not None:
        function.argtypes, function.restype = argtypes, ctypes.c_int
    return function


_TRIM = _glibc_function("malloc_trim", [ctypes.c_size_t])
_MALLOPT = _glibc_function("mallopt", [ctypes.c_int, ctypes.c_int])


def return_freed_memory() -> bool:
    """Collect garbage cycles, then give freed heap memory back to the operating system (glibc's malloc_trim);
    False where there is no glibc (the cycles are collected all the same)."""
    # An ended session's Streamlit objects refer to each other: only a full collection frees them, and an idle
    # server (postScriptGC off) runs none, so an expired session's upload stayed, with its kept results.
    gc.collect()
    if _TRIM is None:
        return False
    _TRIM(0)  # ctypes releases the GIL for the call
    return True


def keep_memory_returnable() -> threading.Thread:
    """Call once per process (app.py's prepare_process): glibc's fixed mmap threshold and arena cap (where glibc is), and a daemon thread that
    returns freed memory every TRIM_SECONDS."""
    if _MALLOPT is not None:
        _MALLOPT(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        _MALLOPT(_M_ARENA_MAX, ARENA_MAX)

    def trim_forever() -> None:
        while True:
            time.sleep(TRIM_SECONDS)
            return_freed_memory()

    thread = threading.Thread(target=trim_forever, name="malloc_trim", daemon=True)
    thread.start()
    return thread
