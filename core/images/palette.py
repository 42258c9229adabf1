"""K-means color palettes of an RGB image, fast enough to follow a slider.

The per-image work is done once and cached: the distinct colors with their pixel counts, each
pixel's index into them, and color histograms at 6 and 7 bits per channel (bin means weighted by
pixel counts), each bin knowing the coarser bin it lies in. Each k then costs greedy k-means++
starts (as scikit-learn's) and weighted Lloyd on the 6-bit histogram, Lloyd on the 7-bit one (bins
of 2x2x2 colors: within a unit of Lloyd on every pixel, at a fraction of the cost), the exact
nearest palette color of each distinct color, and one lookup per pixel. Lloyd keeps Hamerly's
bounds on each point's distances to the centers; a finer level inherits its bins' labels and
bounds, so only the points near a cluster boundary are measured again, down to the final labels.
On scikit-learn's sample photos the average error stays within 2% of scikit-learn's
KMeans(n_init=1) on all pixels (often below it), at a few tens of times the speed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from core.checks import integer_in_range, rgb_image
from core.content_cache import ContentCache

MAX_COLORS = 256
# From this many pixels, distinct colors are counted over all 2^24 colors rather than sorted.
_DENSE_FROM_PIXELS = 2**22
_HISTOGRAM_BITS = (6, 7)
# Colors are centered so that float32 squared distances keep their precision.
_MIDDLE = 127.5
# Small k falls into poor local optima more often (so does scikit-learn's) and costs little: try
# 64 // k k-means++ starts (1 to 8) and keep the one with the lowest k-means cost.
_STARTS = 64
_MOST_STARTS = 8
# Lloyd on each histogram stops when no label changes or after this much work, counted in
# point-to-center distances (about 1 ns each; a step also costs _STEP_WORK per point): small k
# converges fully, large k is cut off at a bounded time.
_LLOYD_BUDGET = (30e6, 40e6)
_STEP_WORK = 64
# Below this many palette colors, measuring every distinct color against all of them costs less
# than checking which colors the bounds already settle.
_SETTLE_FROM = 48
# Distances are computed as matrix products in blocks of at most this many multiplications: they
# stay in cache, and OpenBLAS runs products this small on one thread. Its threads spin-wait,
# which is 10-100x slower when other processes share the cores (so long dot products go through
# einsum, which does not call BLAS).
_BLOCK_PRODUCTS = 2**18
# k-means++ draws from blocks of this many colors (see _draw).
_DRAW_BLOCK = 128
# Lloyd's float32 distances come from |x|^2 - 2 x.c + |c|^2 with terms up to 1e5: a squared
# distance may be off by 0.02, a distance near 0 by 0.15. The final labels, which must be exact,
# trust the bounds built on them only with this margin.
_SLACK = 0.5


@dataclass(frozen=True)
class _Colors:
    """Colors with pixel counts (histogram bin means or distinct colors), ready for distances."""

    augmented: np.ndarray  # (n, 5) float32: centered R, G, B, 1 and the squared length of R, G, B
    weights: np.ndarray  # (n,) float64 pixel counts
    # (n, 3) float64 weights * centered colors, for Lloyd; None where Lloyd rarely runs (see _with_sums)
    weighted_sums: np.ndarray | None

    @property
    def points(self) -> np.ndarray:
        """(n, 3) float32 centered colors."""
        return self.augmented[:, :3]

    @property
    def norms(self) -> np.ndarray:
        """(n,) float32 squared length of each centered color."""
        return self.augmented[:, 4]


@dataclass(frozen=True)
class _ColorTable:
    """Everything about one image that does not depend on k."""

    histograms: tuple[_Colors, ...]  # one per _HISTOGRAM_BITS
    colors: _Colors  # the distinct colors
    pixel_color: np.ndarray  # (H*W,) int32 index into the distinct colors of each pixel
    # parents[i]: (n,) index of each point of levels[i + 1] into levels[i], the bin it falls in;
    # offsets[i]: (n,) float32 distance from each point of levels[i + 1] to that bin's mean.
    parents: tuple[np.ndarray, ...]
    offsets: tuple[np.ndarray, ...]

    @property
    def levels(self) -> tuple[_Colors, ...]:
        """The histograms, coarse to fine, then the distinct colors."""
        return (*self.histograms, self.colors)


@dataclass(frozen=True)
class _Labelling:
    """Each point's center among (k, 3) centers, with Hamerly's bounds on its distances."""

    centers: np.ndarray  # (k, 3) the centers the labels and bounds refer to
    labels: np.ndarray  # (n,) int64 index of each point's center (its nearest, for a settled point)
    upper: np.ndarray  # (n,) float32 at least the distance to its center
    lower: np.ndarray  # (n,) float32 at most the distance to any other center


def palette_kmeans(image: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """K-means palette of an (H, W, 3) uint8 image with at most k (1…256) colors.

    Returns (palette (k', 3) uint8 ordered by pixel count, most used first, k' <= k; labels (H, W)
    uint8 indexing palette, each pixel labelled with its nearest palette color). k' < k when the
    image has fewer than k distinct colors (then the palette is exactly those colors). The same
    seed gives the same result; the per-image preparation is cached, so other k are cheap.

    >>> image = np.array([[[0, 0, 0], [10, 0, 0], [200, 200, 200]]], dtype=np.uint8)
    >>> palette, labels = palette_kmeans(image, 2)
    >>> palette.tolist(), labels.tolist()
    ([[5, 0, 0], [200, 200, 200]], [[0, 0, 1]])
    """
    image = rgb_image(image)
    k = integer_in_range(k, "k", 1, MAX_COLORS)
    table = _color_table(image)
    colors = table.colors
    if len(colors.weights) <= k:  # each color is a center, at distance 0
        n = len(colors.weights)
        centers = colors.points
        labelling = _Labelling(centers, np.arange(n), np.zeros(n, np.float32), np.zeros(n, np.float32))
    else:
        # Lloyd runs level after level, coarse to fine, from the coarsest with at least k points;
        # each level starts from the labels and bounds of the one before (its bins).
        levels = table.levels
        first = next(i for i, level in enumerate(levels) if len(level.weights) >= k)
        centers, labelling = _best_start(levels[first], k, np.random.default_rng(seed))
        for i in range(first + 1, len(levels)):
            labelling = _carried(labelling, table.parents[i - 1], table.offsets[i - 1])
            if i < len(levels) - 1:
                centers, _, labelling = _lloyd(levels[i], labelling, _LLOYD_BUDGET[1])
    palette, color_labels = _rounded_palette(colors, centers, labelling)
    return palette, color_labels[table.pixel_color].reshape(image.shape[:2])


def forget_image(image: np.ndarray) -> None:
    """Drop the per-image preparation palette_kmeans keeps for this (H, W, 3) uint8 image, if any."""
    _color_table.discard(rgb_image(image))


def _build_color_table(image: np.ndarray) -> _ColorTable:
    """Distinct colors with counts, each pixel's index into them, and the histograms of `image`."""
    codes = _color_codes(image.reshape(-1, 3), 8)
    if len(codes) < _DENSE_FROM_PIXELS:
        distinct, pixel_color, counts = np.unique(codes, return_inverse=True, return_counts=True)
    else:  # one pass over a table of all 2^24 colors instead of sorting the pixels
        present = np.zeros(1 << 24, dtype=bool)  # 16 MB; counting in it with bincount took 128 MB
        present[codes] = True
        distinct = np.flatnonzero(present).astype(np.uint32)
        del present
        index = np.zeros(1 << 24, dtype=np.int32)
        index[distinct] = np.arange(len(distinct), dtype=np.int32)
        pixel_color = index[codes]
        del index
        counts = np.bincount(pixel_color, minlength=len(distinct))
    del codes
    rgb = np.stack([distinct >> 16, (distinct >> 8) & 255, distinct & 255], axis=1).astype(np.uint8)
    colors = _colors(rgb - np.float32(_MIDDLE), counts.astype(np.float64))
    color_bins = [np.unique(_color_codes(rgb, bits), return_inverse=True)[1].astype(np.int32) for bits in _HISTOGRAM_BITS]
    histograms = tuple(_histogram(colors, color_bin) for color_bin in color_bins)
    colors = replace(colors, weighted_sums=None)  # 24 bytes per distinct color, needed only when k is large (_with_sums)
    parents = [_bin_parents(coarse, fine) for coarse, fine in zip(color_bins, color_bins[1:])] + [color_bins[-1]]
    levels = (*histograms, colors)
    offsets = tuple(
        np.sqrt(((fine.points - coarse.points[parent]) ** 2).sum(axis=1))
        for coarse, fine, parent in zip(levels, levels[1:], parents)
    )
    return _ColorTable(histograms, colors, pixel_color.astype(np.int32, copy=False), tuple(parents), offsets)


_color_table = ContentCache(_build_color_table)
"""The _ColorTable of an image, built on its first use and kept under the process's memory budget."""


def _bin_parents(coarse: np.ndarray, fine: np.ndarray) -> np.ndarray:
    """(m,) coarse bin of each of the m fine bins, from the (n,) coarse and fine bin of each color."""
    parents = np.empty(fine.max() + 1, dtype=coarse.dtype)
    parents[fine] = coarse  # a fine bin lies within one coarse bin: any of its colors names it
    return parents


def _histogram(colors: _Colors, color_bin: np.ndarray) -> _Colors:
    """Mean color and pixel count of each bin, from the (n,) bin index of each distinct color."""
    weights = np.bincount(color_bin, weights=colors.weights)
    sums = np.stack([np.bincount(color_bin, weights=colors.weighted_sums[:, c]) for c in range(3)], axis=1)
    return _colors(sums / weights[:, None], weights)


def _color_codes(rgb: np.ndarray, bits: int) -> np.ndarray:
    """(n,) uint32 code of each (n, 3) uint8 color's top `bits` bits per channel."""
    top = rgb >> (8 - bits)
    return (top[:, 0].astype(np.uint32) << (2 * bits)) | (top[:, 1].astype(np.uint32) << bits) | top[:, 2]


def _with_sums(colors: _Colors) -> _Colors:
    """colors with its weighted sums, computed now if they were dropped."""
    if colors.weighted_sums is not None:
        return colors
    return replace(colors, weighted_sums=colors.points * colors.weights[:, None])


def _colors(points: np.ndarray, weights: np.ndarray) -> _Colors:
    """_Colors from (n, 3) centered colors and their (n,) pixel counts."""
    augmented = np.ones((len(points), 5), dtype=np.float32)
    augmented[:, :3] = points
    points = augmented[:, :3]
    augmented[:, 4] = np.einsum("ij,ij->i", points, points)
    return _Colors(augmented, weights, points * weights[:, None])


def _scorer(centers: np.ndarray) -> np.ndarray:
    """(5, m) float32 matrix S: [x, 1, |x|^2] @ S = |x - c|^2 for each of the (m, 3) centers."""
    scorer = np.ones((5, len(centers)), dtype=np.float32)
    scorer[:3] = -2 * centers.T
    scorer[3] = (centers.astype(np.float64) ** 2).sum(axis=1)
    return scorer


def _scores(augmented: np.ndarray, centers: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield (rows, (rows, m) float32 |x - c|^2 - |x|^2 for the (m, 3) centers) block by block.

    The nearest center has the smallest score; leaving |x|^2 out saves a pass.
    """
    scorer = _scorer(centers)[:4]
    step = max(1, _BLOCK_PRODUCTS // (4 * len(centers)))
    for start in range(0, len(augmented), step):
        rows = slice(start, start + step)
        yield rows, augmented[rows, :4] @ scorer


def _nearest(augmented: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """(n,) int64 index of the nearest of the (k, 3) centers for each of the (n, 5) augmented colors."""
    labels = np.empty(len(augmented), dtype=np.int64)
    for rows, scores in _scores(augmented, centers):
        labels[rows] = scores.argmin(axis=1)
    return labels


def _two_nearest(augmented: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per point: nearest center, distance to it, and distance to the second nearest (inf if k = 1)."""
    labels = np.empty(len(augmented), dtype=np.int64)
    nearest = np.empty(len(augmented), dtype=np.float32)
    second = np.empty(len(augmented), dtype=np.float32)
    for rows, scores in _scores(augmented, centers):
        block = np.arange(len(scores))
        labels[rows] = best = scores.argmin(axis=1)
        nearest[rows] = scores[block, best]
        scores[block, best] = np.inf
        second[rows] = scores[block, scores.argmin(axis=1)]  # row argmin is vectorized, row min is not
    norms = augmented[:, 4]
    return labels, np.sqrt(np.maximum(nearest + norms, 0)), np.sqrt(np.maximum(second + norms, 0))


def _kmeans_plusplus(colors: _Colors, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++ (as scikit-learn: 2 + ln k trials per center) on weighted colors -> (k, 3)."""
    n, trials = len(colors.weights), 2 + int(np.log(k))
    padded = -(-n // _DRAW_BLOCK) * _DRAW_BLOCK
    weights = np.zeros(padded, dtype=np.float32)  # zero past n: never drawn
    weights[:n] = colors.weights
    # Distances are handled less |x|^2 (scores, see _scores), from points laid out as rows
    # [R; G; B; 1]: a short, wide product is several times faster than a tall, narrow one.
    rows = np.ascontiguousarray(colors.augmented[:, :4].T)
    closest = np.zeros(padded, dtype=np.float32)
    centers = np.empty((k, 3), dtype=np.float32)
    centers[0] = colors.points[_draw(weights, rng.random(1))[0]]
    closest[:n] = ((colors.points - centers[0]) ** 2).sum(axis=1)
    closest_score = closest[:n] - colors.norms
    candidates = np.empty((trials, n), dtype=np.float32)  # closest score if each trial were added
    step = _BLOCK_PRODUCTS // (4 * trials)
    for i in range(1, k):
        picks = np.minimum(_draw(weights * closest, rng.random(trials)), n - 1)
        scorer = _scorer(colors.points[picks])[:4].T
        for start in range(0, n, step):
            columns = slice(start, start + step)
            np.minimum(scorer @ rows[:, columns], closest_score[columns], out=candidates[:, columns])
        best = int(np.argmin(np.einsum("tn,n->t", candidates, weights[:n])))
        centers[i] = colors.points[picks[best]]
        closest_score = candidates[best].copy()
        np.add(closest_score, colors.norms, out=closest[:n])
    return centers


def _draw(mass: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Indices drawn with probability proportional to `mass` (length a multiple of _DRAW_BLOCK).

    Inverts the cumulative sum, one uniform in [0, 1) per draw, summing block totals first: a
    full cumulative sum is sequential and would cost more than the rest of a k-means++ step.
    """
    blocks = mass.reshape(-1, _DRAW_BLOCK)
    totals = np.einsum("ij->i", blocks).astype(np.float64)  # float32 sums of 128 suffice; faster than sum
    ends = np.cumsum(totals)
    targets = uniforms * ends[-1]
    block = np.minimum(np.searchsorted(ends, targets), len(ends) - 1)
    remainders = targets - (ends[block] - totals[block])
    inside = (np.cumsum(blocks[block], axis=1, dtype=np.float64) < remainders[:, None]).sum(axis=1)
    return block * _DRAW_BLOCK + np.minimum(inside, _DRAW_BLOCK - 1)


def _best_start(colors: _Colors, k: int, rng: np.random.Generator) -> tuple[np.ndarray, _Labelling]:
    """Centers (k, 3) and labelling after k-means++ and Lloyd on `colors`, best of 1 to _MOST_STARTS.

    The tries share one Lloyd budget, so trying costs time only where Lloyd converges early.
    """
    colors = _with_sums(colors)
    starts = min(_MOST_STARTS, max(1, _STARTS // k))
    budget = _LLOYD_BUDGET[0] / starts - len(colors.weights) * k  # less the first labelling
    tries = [_lloyd(colors, _labelling(colors, _kmeans_plusplus(colors, k, rng)), budget) for _ in range(starts)]
    centers, _, labelling = min(tries, key=lambda centers_cost_labelling: centers_cost_labelling[1])
    return centers, labelling


def _labelling(colors: _Colors, centers: np.ndarray) -> _Labelling:
    """Each color's nearest of the (k, 3) centers, with exact bounds."""
    return _Labelling(centers, *_two_nearest(colors.augmented, centers))


def _carried(labelling: _Labelling, parents: np.ndarray, offsets: np.ndarray) -> _Labelling:
    """The labelling of finer points, from their parent bins' labelling and their distances to them."""
    return _Labelling(
        labelling.centers,
        labelling.labels[parents],
        labelling.upper[parents] + offsets,
        labelling.lower[parents] - offsets,
    )


def _lloyd(colors: _Colors, start: _Labelling, budget: float) -> tuple[np.ndarray, float, _Labelling]:
    """Weighted Lloyd from a labelling of `colors` until no label changes or `budget` is spent.

    Returns the (k, 3) means of the final clusters, their k-means cost (weighted sum of squared
    distances to the means) and the final labelling (of the centers before those means). Updates
    the arrays of `start` in place.

    Exact Lloyd, sped up with Hamerly's bounds: a color is measured again only when its center
    may have stopped being its nearest.
    """
    points, weights, k = colors.points, colors.weights, len(start.centers)
    centers, labels, upper, lower = start.centers, start.labels, start.upper, start.lower
    cluster_weights = np.bincount(labels, weights=weights, minlength=k)
    sums = np.stack([np.bincount(labels, weights=colors.weighted_sums[:, c], minlength=k) for c in range(3)], axis=1)
    spent = 0
    while spent < budget:
        means = _means(colors, sums, cluster_weights, upper)
        shift = np.sqrt(((means - centers) ** 2).sum(axis=1)).astype(np.float32)
        centers = means
        upper += shift[labels]
        lower -= shift.max()
        bound = np.maximum(lower, _half_gap(centers)[labels])
        suspects = np.flatnonzero(upper > bound)
        offsets = points[suspects] - centers[labels[suspects]]
        upper[suspects] = np.sqrt(np.einsum("ij,ij->i", offsets, offsets))
        suspects = suspects[upper[suspects] > bound[suspects]]
        found, upper[suspects], lower[suspects] = _two_nearest(colors.augmented[suspects], centers)
        spent += len(points) * _STEP_WORK + len(suspects) * k
        changed = found != labels[suspects]
        moved, destination = suspects[changed], found[changed]
        if len(moved) == 0:
            break
        for cluster, sign in ((labels[moved], -1.0), (destination, 1.0)):
            cluster_weights += sign * np.bincount(cluster, weights=weights[moved], minlength=k)
            for c in range(3):
                sums[:, c] += sign * np.bincount(cluster, weights=colors.weighted_sums[moved, c], minlength=k)
        labels[moved] = destination
    explained = ((sums**2).sum(axis=1) / np.maximum(cluster_weights, 0.5)).sum()
    cost = np.einsum("n,n->", colors.weights, colors.norms.astype(np.float64)) - explained
    return _means(colors, sums, cluster_weights, upper), float(cost), _Labelling(centers, labels, upper, lower)


def _half_gap(centers: np.ndarray) -> np.ndarray:
    """(k,) float32 half the distance from each center to the nearest other one (inf if k = 1)."""
    return (np.sqrt(_squared_gap(centers)) / 2).astype(np.float32)


def _squared_gap(centers: np.ndarray) -> np.ndarray:
    """(k,) squared distance from each of the (k, 3) centers to the nearest other one (inf if k = 1).

    Exact for float32 colors on the centered integer grid (all terms are multiples of 1/4 < 2^22).
    """
    norms = (centers**2).sum(axis=1)
    gaps = norms[:, None] + norms[None, :] - 2 * centers @ centers.T
    np.fill_diagonal(gaps, np.inf)
    return np.maximum(gaps.min(axis=1), 0)


def _means(colors: _Colors, sums: np.ndarray, cluster_weights: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Weighted mean of each cluster; empty clusters move to the colors farthest from their center."""
    empty = cluster_weights < 0.5  # counts are whole numbers; incremental sums drift by rounding only
    means = sums / np.where(empty, 1.0, cluster_weights)[:, None]
    if empty.any():
        farthest = np.argsort(colors.weights * upper.astype(np.float64) ** 2)[::-1]
        means[empty] = colors.points[farthest[: np.count_nonzero(empty)]]
    return means


def _rounded_palette(colors: _Colors, centers: np.ndarray, labelling: _Labelling) -> tuple[np.ndarray, np.ndarray]:
    """Centers rounded to distinct uint8 colors ordered by use, and each distinct color's label.

    A color keeps the palette color of its label in `labelling` when the bounds prove it nearest;
    the others are measured against the whole palette.
    """
    rounded = np.clip(np.rint(centers + _MIDDLE), 0, 255).astype(np.uint8)
    rounded, merged = np.unique(rounded, axis=0, return_inverse=True)
    palette = rounded - np.float32(_MIDDLE)
    merged = merged.ravel()
    if len(palette) < _SETTLE_FROM:
        labels = _nearest(colors.augmented, palette)
    else:
        labels = _nearest_from(colors, palette, merged, labelling)
    usage = np.bincount(labels, weights=colors.weights, minlength=len(rounded))
    order = np.argsort(-usage, kind="stable")[: np.count_nonzero(usage)]
    rank = np.zeros(len(rounded), dtype=np.uint8)
    rank[order] = np.arange(len(order), dtype=np.uint8)
    return rounded[order], rank[labels]


def _nearest_from(colors: _Colors, palette: np.ndarray, merged: np.ndarray, labelling: _Labelling) -> np.ndarray:
    """(n,) int64 index of the nearest of the (m, 3) palette colors for each color.

    `merged` (k,) is the palette color each center of `labelling` rounded to. A color keeps its
    center's when the distance to it is at most half that palette color's gap to the next one,
    or below the bound on its distance to every other center less how far the centers moved;
    the others are measured against the whole palette.
    """
    labels = merged[labelling.labels]
    offsets = colors.points - palette[labels]
    squared = np.einsum("ij,ij->i", offsets, offsets)  # exact: integers
    moved = np.sqrt(((palette[merged] - labelling.centers) ** 2).sum(axis=1)).max()
    settled = (4 * squared <= _squared_gap(palette)[labels]) | (np.sqrt(squared) <= labelling.lower - moved - _SLACK)
    unsettled = np.flatnonzero(~settled)
    labels[unsettled] = _nearest(colors.augmented[unsettled], palette)
    return labels
