"""Validation at the library boundary: each check names the argument, the value and what is accepted."""

from __future__ import annotations

import numbers

import numpy as np


def finite_array(values: object, name: str, ndim: int | None = None) -> np.ndarray:
    """Return `values` as a non-empty real ndarray of finite numbers, or raise ValueError."""
    array = np.asarray(values)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"{name} must hold real numbers; got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise ValueError(f"{name} must hold real numbers; got complex dtype {array.dtype}")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty; got shape {array.shape}")
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional; got shape {array.shape}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite; it holds {np.count_nonzero(~np.isfinite(array))} NaN/Inf")
    return array


def integer_in_range(value: object, name: str, low: int, high: int) -> int:
    """Return `value` as an int in [low, high], or raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer from {low} to {high}; got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low} to {high}; got {value}")
    return int(value)


def bits(value: object, name: str = "bits", low: int = 1, high: int = 8) -> int:
    """Return a bit width in [low, high] (default 1…8), or raise ValueError."""
    return integer_in_range(value, name, low, high)


def rgb_image(image: object, name: str = "image") -> np.ndarray:
    """Return `image` as an (H, W, 3) uint8 array, or raise ValueError."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} must have shape (H, W, 3) with H, W >= 1; got shape {array.shape}")
    if array.dtype != np.uint8:
        raise ValueError(f"{name} must have dtype uint8 (0…255 per channel); got {array.dtype}")
    return array


def square_matrix(matrix: object, name: str) -> np.ndarray:
    """Return `matrix` as a finite (n, n) float64 array, or raise ValueError."""
    array = finite_array(matrix, name, ndim=2).astype(np.float64, copy=False)
    if array.shape[0] != array.shape[1]:
        raise ValueError(f"{name} must be square; got shape {array.shape}")
    return array


def limit_and_value(limit: float, value: float) -> tuple[str, str]:
    """`limit` and `value` printed with the fewest significant digits (3 at least) at which they differ.

    For a message that states a limit: limit_and_value(3.4028234664e38, 3.40282357e38) == ("3.402823e+38", "3.402824e+38").
    """
    for digits in range(3, 18):
        shown = f"{limit:.{digits}g}", f"{value:.{digits}g}"
        if shown[0] != shown[1] or limit == value:
            return shown
    return repr(float(limit)), repr(float(value))
