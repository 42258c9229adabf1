"""K-means color palettes of an RGB image, fast enough to follow a slider.

The per-image work is done once and cached: the distinct colors with their pixel counts, each
pixel's index into them, and two weighted color histograms (5 and 6 bits per channel). Each k
then costs a greedy k-means++ start on the coarse histogram, weighted Lloyd on the coarse then the
fine histogram (bin means weighted by pixel counts), and Lloyd on the distinct colors themselves,
which is Lloyd on every pixel at a fraction of the cost.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from core.checks import integer_in_range, rgb_image

MAX_COLORS = 256
_CACHED_IMAGES = 4
_HISTOGRAM_BITS = (5, 6)
# Colors are centered so float32 squared distances keep their precision.
_MIDDLE = 127.5
# Lloyd iterations per level (coarse histogram, fine histogram, distinct colors); each level stops
# early once no center moves by more than _SETTLED (in color units).
_LLOYD_ITERATIONS = (60, 30, 3)
_SETTLED = 0.05


@dataclass(frozen=True)
class _Colors:
    """Colors with pixel counts: histogram bin means or the distinct colors of an image."""

    points: np.ndarray  # (n, 3) float32 centered colors
    weights: np.ndarray  # (n,) float64 pixel counts
    weighted_sums: np.ndarray  # (n, 3) float64 weights * points


@dataclass(frozen=True)
class _ColorTable:
    """Everything about one image that does not depend on k."""

    levels: tuple[_Colors, ...]  # coarse histogram, fine histogram, distinct colors
    pixel_color: np.ndarray  # (H*W,) int32 index into the distinct colors of each pixel


_tables: OrderedDict[tuple, _ColorTable] = OrderedDict()
_tables_lock = threading.Lock()


def palette_kmeans(image: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """K-means palette of an (H, W, 3) uint8 image with at most k (1…256) colors.

    Returns (palette (k', 3) uint8 ordered by pixel count, most used first, k' <= k; labels (H, W)
    uint8 indexing palette). k' < k when the image has fewer than k distinct colors.

    >>> image = np.array([[[0, 0, 0], [10, 0, 0], [200, 200, 200]]], dtype=np.uint8)
    >>> palette, labels = palette_kmeans(image, 2)
    >>> palette.tolist(), labels.tolist()
    ([[5, 0, 0], [200, 200, 200]], [[0, 0, 1]])
    """
    image = rgb_image(image)
    k = integer_in_range(k, "k", 1, MAX_COLORS)
    table = _color_table(image)
    colors = table.levels[-1]
    if len(colors.points) <= k:
        centers = colors.points
    else:
        first = next(depth for depth, level in enumerate(table.levels) if len(level.points) >= k)
        centers = _kmeans_plusplus(table.levels[first], k, np.random.default_rng(seed))
        for level, iterations in zip(table.levels[first:], _LLOYD_ITERATIONS[first:]):
            centers = _lloyd(level, centers, iterations)
    palette, color_labels = _rounded_palette(colors, centers)
    return palette, color_labels[table.pixel_color].reshape(image.shape[:2])


def _color_table(image: np.ndarray) -> _ColorTable:
    """The cached _ColorTable of `image`, built on first use (LRU of _CACHED_IMAGES images)."""
    pixels = np.ascontiguousarray(image)
    key = (pixels.shape, hashlib.blake2b(memoryview(pixels).cast("B"), digest_size=16).digest())
    with _tables_lock:
        if key in _tables:
            _tables.move_to_end(key)
            return _tables[key]
    table = _build_color_table(pixels)
    with _tables_lock:
        _tables[key] = table
        while len(_tables) > _CACHED_IMAGES:
            _tables.popitem(last=False)
    return table


def _build_color_table(image: np.ndarray) -> _ColorTable:
    """Distinct colors with counts, each pixel's index into them, and the histograms of `image`."""
    pixels = image.reshape(-1, 3)
    channels = pixels.astype(np.uint32)
    codes = (channels[:, 0] << 16) | (channels[:, 1] << 8) | channels[:, 2]
    _, first, pixel_color, counts = np.unique(codes, return_index=True, return_inverse=True, return_counts=True)
    rgb = pixels[first]
    colors = _colors(rgb.astype(np.float32) - np.float32(_MIDDLE), counts.astype(np.float64))
    histograms = tuple(_histogram(rgb, colors, bits) for bits in _HISTOGRAM_BITS)
    return _ColorTable(histograms + (colors,), pixel_color.astype(np.int32))


def _colors(points: np.ndarray, weights: np.ndarray) -> _Colors:
    """_Colors from (n, 3) float32 centered colors and their (n,) pixel counts."""
    return _Colors(points, weights, points * weights[:, None])


def _histogram(rgb: np.ndarray, colors: _Colors, bits: int) -> _Colors:
    """Mean color and pixel count of each non-empty `bits`-per-channel bin of the distinct colors."""
    top = (rgb >> (8 - bits)).astype(np.int64)
    _, color_bin = np.unique((top[:, 0] << (2 * bits)) | (top[:, 1] << bits) | top[:, 2], return_inverse=True)
    weights = np.bincount(color_bin, weights=colors.weights)
    sums = np.stack([np.bincount(color_bin, weights=colors.weighted_sums[:, c]) for c in range(3)], axis=1)
    return _colors((sums / weights[:, None]).astype(np.float32), weights)


def _distances(points: np.ndarray, centers: np.ndarray):
    """Yield (block, squared distances (rows, k) float32) over row blocks of the (n, 3) points."""
    scorer = np.empty((4, len(centers)), dtype=np.float32)
    scorer[:3] = -2 * centers.T
    scorer[3] = (centers.astype(np.float64) ** 2).sum(axis=1)  # [x, 1] @ scorer = |x - c|^2 - |x|^2
    # Blocks of at most 2^16 distances stay in cache, and OpenBLAS runs them on one thread: its
    # threads spin-wait, which is 10-100x slower when other processes share the cores.
    rows = max(1, 2**16 // len(centers))
    augmented = np.ones((min(rows, len(points)), 4), dtype=np.float32)
    for start in range(0, len(points), rows):
        block = slice(start, min(start + rows, len(points)))
        part = augmented[: block.stop - block.start]
        part[:, :3] = points[block]
        distances = part @ scorer
        distances += (part[:, :3] ** 2).sum(axis=1)[:, None]
        yield block, distances


def _nearest(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest of the (k, 3) centers for each of the (n, 3) points -> (n,) int64."""
    labels = np.empty(len(points), dtype=np.int64)
    for block, distances in _distances(points, centers):
        labels[block] = distances.argmin(axis=1)
    return labels


def _two_nearest(points: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest center of each point, its distance, and the distance to the second nearest (inf if k = 1)."""
    labels = np.empty(len(points), dtype=np.int64)
    nearest = np.empty(len(points), dtype=np.float32)
    second = np.empty(len(points), dtype=np.float32)
    for block, distances in _distances(points, centers):
        rows = np.arange(len(distances))
        labels[block] = best = distances.argmin(axis=1)
        nearest[block] = distances[rows, best]
        distances[rows, best] = np.inf
        second[block] = distances.min(axis=1)
    return labels, np.sqrt(np.maximum(nearest, 0)), np.sqrt(np.maximum(second, 0))


def _kmeans_plusplus(level: _Colors, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++ (as scikit-learn: 2 + ln k trials per center) on weighted points -> (k, 3)."""
    points, weights = level.points, level.weights
    trials = 2 + int(np.log(k))
    centers = np.empty((k, 3))
    centers[0] = points[rng.choice(len(points), p=weights / weights.sum())]
    closest = _squared_distances(points, centers[:1])[0]
    for i in range(1, k):
        cumulative = np.cumsum(weights * closest)
        picks = np.minimum(np.searchsorted(cumulative, rng.random(trials) * cumulative[-1]), len(points) - 1)
        candidates = np.minimum(closest, _squared_distances(points, points[picks]))
        best = int(np.argmin(candidates @ weights))
        centers[i] = points[picks[best]]
        closest = candidates[best]
    return centers


def _squared_distances(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """(m, n) float64 squared distances from each of the (m, 3) centers to each of the (n, 3) points."""
    return sum((points[:, c][None, :] - centers[:, c][:, None].astype(np.float32)) ** 2 for c in range(3)).astype(np.float64)


def _lloyd(level: _Colors, centers: np.ndarray, iterations: int) -> np.ndarray:
    """Weighted Lloyd on `level` from (k, 3) centers until no label changes, at most `iterations` steps.

    Exact Lloyd, accelerated with Hamerly's bounds: a point is re-examined only when its center
    may have stopped being its nearest.
    """
    points, weights, k = level.points, level.weights, len(centers)
    labels, upper, lower = _two_nearest(points, centers)
    cluster_weights = np.bincount(labels, weights=weights, minlength=k)
    sums = np.stack([np.bincount(labels, weights=level.weighted_sums[:, c], minlength=k) for c in range(3)], axis=1)
    for _ in range(iterations):
        means = _means(level, sums, cluster_weights, centers, upper)
        shift = np.sqrt(((means - centers) ** 2).sum(axis=1)).astype(np.float32)
        centers = means
        upper += shift[labels]
        lower -= shift.max()
        bound = np.maximum(lower, _half_gap(centers)[labels])
        suspects = np.flatnonzero(upper > bound)
        upper[suspects] = np.sqrt(((points[suspects] - centers[labels[suspects]]) ** 2).sum(axis=1))
        suspects = suspects[upper[suspects] > bound[suspects]]
        new_labels, upper[suspects], lower[suspects] = _two_nearest(points[suspects], centers)
        moved = suspects[new_labels != labels[suspects]]
        if len(moved) == 0:
            break
        for old_or_new, sign in ((labels[moved], -1.0), (new_labels[new_labels != labels[suspects]], 1.0)):
            cluster_weights += sign * np.bincount(old_or_new, weights=weights[moved], minlength=k)
            for c in range(3):
                sums[:, c] += sign * np.bincount(old_or_new, weights=level.weighted_sums[moved, c], minlength=k)
        labels[moved] = new_labels[new_labels != labels[suspects]]
    return centers


def _half_gap(centers: np.ndarray) -> np.ndarray:
    """(k,) half the distance from each center to the nearest other center (inf if k = 1)."""
    gaps = np.sqrt(((centers[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2))
    np.fill_diagonal(gaps, np.inf)
    return (gaps.min(axis=1) / 2).astype(np.float32)


def _means(level: _Colors, sums: np.ndarray, cluster_weights: np.ndarray, centers: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Weighted mean of each cluster; empty clusters move to the points farthest from their center."""
    empty = cluster_weights <= 0
    means = sums / np.where(empty, 1.0, cluster_weights)[:, None]
    if empty.any():
        means[empty] = level.points[np.argsort(level.weights * upper**2)[::-1][: np.count_nonzero(empty)]]
    return means


def _rounded_palette(colors: _Colors, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centers rounded to distinct uint8 colors ordered by use, and each distinct color's label."""
    rounded = np.unique(np.clip(np.rint(centers + _MIDDLE), 0, 255).astype(np.uint8), axis=0)
    labels = _nearest(colors.points, rounded - _MIDDLE)
    usage = np.bincount(labels, weights=colors.weights, minlength=len(rounded))
    order = np.argsort(-usage, kind="stable")[: np.count_nonzero(usage)]
    rank = np.zeros(len(rounded), dtype=np.uint8)
    rank[order] = np.arange(len(order), dtype=np.uint8)
    return rounded[order], rank[labels]
