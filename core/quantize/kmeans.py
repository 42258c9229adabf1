"""1-D k-means (weight sharing): an exact dynamic program and a fast histogram method.

Both work on weighted points: the sorted distinct values with their counts, or, for large
inputs, the means of the occupied bins of a fine histogram. In 1-D every optimal cluster is a
contiguous run of sorted points, so clusters are described by their edges in the point array and
all cluster sums come from prefix sums.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.checks import finite_array, integer_in_range
from core.content_cache import ContentCache

__all__ = ["kmeans_1d", "lloyd_1d", "sum_squared_error", "METHODS"]

METHODS = ("fast", "exact")
MAX_K = 65_536
# Inputs up to this many values are clustered on their exact distinct values; larger ones on a histogram.
_DISTINCT_LIMIT = 16_384
_HISTOGRAM_BINS = 65_536  # bin indices fit in uint16
# Histograms of recent inputs up to this many bytes each are kept, under the process's cache budget
# (core.content_cache; the autoencoder's take 13 MB in all).
_CACHED_BYTES = 48_000_000
_INIT_BINS = 4_096
_LLOYD_ITERATIONS = 50
# Lloyd alone from a poor start (lloyd_1d) creeps for longer before it settles.
_LLOYD_ITERATIONS_FROM_A_START = 500
# Lloyd iterations of the swap trials of a round, after each of which the worse half is dropped.
_TRIAL_SCHEDULE = (3, 3, 2)
_SPLIT_CANDIDATES = 8_192
_SWAP_ROUNDS = 200
# Each swap round also tries single swaps into the 2nd, 3rd … best cut, up to this many in all.
_SINGLE_SWAPS = 8
# The exact method keeps one argmin table per cluster: bound its size (k * distinct values).
_EXACT_TABLE_LIMIT = 60_000_000


class _Points:
    """Sorted weighted points x with weights w, and prefix sums for O(1) range statistics."""

    def __init__(self, x: np.ndarray, w: np.ndarray) -> None:
        self.shift = float(np.average(x, weights=w))
        self.x = x - self.shift  # centred, so the sums below lose no precision
        self.w = w.astype(np.float64)
        zero = np.zeros(1)
        self.cw = np.concatenate([zero, np.cumsum(self.w)])
        self.cs = np.concatenate([zero, np.cumsum(self.w * self.x)])
        self.cs2 = np.concatenate([zero, np.cumsum(self.w * self.x**2)])

    def __len__(self) -> int:
        return self.x.size

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays of these points."""
        return sum(array.nbytes for array in vars(self).values() if isinstance(array, np.ndarray))

    def range_sums(self, start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weight, weighted sum and weighted sum of squares of the points [start, stop)."""
        return self.cw[stop] - self.cw[start], self.cs[stop] - self.cs[start], self.cs2[stop] - self.cs2[start]

    def range_cost(self, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
        """Sum of squared errors of the points [start, stop) around their own mean (0 when empty)."""
        weight, total, squares = self.range_sums(start, stop)
        with np.errstate(invalid="ignore", divide="ignore"):
            cost = squares - np.where(weight > 0, total**2 / weight, 0.0)
        return np.maximum(cost, 0.0)

    def cost_around(self, start: np.ndarray, stop: np.ndarray, centre: np.ndarray) -> np.ndarray:
        """Sum of squared errors of the points [start, stop) around a given centre (centred units)."""
        weight, total, squares = self.range_sums(start, stop)
        return np.maximum(squares - 2 * centre * total + centre**2 * weight, 0.0)

    def count_up_to(self, values: np.ndarray) -> np.ndarray:
        """How many points are <= each of values (centred units, ±inf allowed)."""
        return np.searchsorted(self.x, values, side="right")


class _BinnedPoints(_Points):
    """The occupied bins of a uniform histogram as points (bin means): at most one point per bin,
    so counting the points below a value is a table lookup instead of a binary search."""

    def __init__(self, x: np.ndarray, w: np.ndarray, occupied: np.ndarray, lo: float, scale: float) -> None:
        super().__init__(x, w)
        self.lo = lo  # the histogram's low edge
        self.scale = scale  # bins per unit value
        self._before = np.cumsum(np.bincount(occupied + 1, minlength=_HISTOGRAM_BINS + 1)[:-1])  # occupied bins below each bin
        self._padded = np.append(self.x, np.nan)  # nothing is <= nan: a count never passes the last point

    def count_up_to(self, values: np.ndarray) -> np.ndarray:
        """How many points are <= each of values: the points of the bins below, plus the bin's own point if <= the value."""
        position = np.clip((values + (self.shift - self.lo)) * self.scale, 0, _HISTOGRAM_BINS - 1)
        count = self._before[position.astype(np.intp)]
        # Twice: rounding can place a value one bin low of the point it equals.
        count += self._padded[count] <= values
        count += self._padded[count] <= values
        return count


def _smallest_index_dtype(k: int) -> type:
    return np.uint8 if k <= 256 else np.uint16 if k <= 65_536 else np.int32


# ---------------------------------------------------------------- exact


def _exact_edges(points: _Points, k: int) -> np.ndarray:
    """Edges (k+1,) of the optimal partition of the points into k contiguous clusters.

    Layered dynamic program D_j(b) = min_a D_{j-1}(a) + cost(a, b). The cost obeys the quadrangle
    inequality, so the best a is non-decreasing in b and each layer is solved by divide and
    conquer in O(n log n); the recursion is run breadth-first, one vectorised pass per level.
    """
    n = len(points)
    if k * n > _EXACT_TABLE_LIMIT:
        raise ValueError(
            f"method='exact' accepts at most {_EXACT_TABLE_LIMIT:,} for k x distinct values; "
            f"got k={k} x {n:,} distinct values. Use method='fast'."
        )
    stops = np.arange(n + 1)
    previous = points.range_cost(np.zeros(n + 1, dtype=np.int64), stops)  # one cluster on [0, b)
    argmins = np.zeros((k + 1, n + 1), dtype=np.int32)
    for j in range(2, k + 1):
        current = np.full(n + 1, np.inf)
        # layer j only matters where k - j clusters still fit after it; the last layer only at b = n
        top = n - (k - j)
        lo, hi = np.array([top if j == k else j]), np.array([top])
        opt_lo, opt_hi = np.array([j - 1]), np.array([top - 1])
        while lo.size:
            mid = (lo + hi) // 2
            last = np.minimum(opt_hi, mid - 1)
            counts = last - opt_lo + 1
            task = np.repeat(np.arange(mid.size), counts)
            starts = np.cumsum(counts) - counts
            candidate = opt_lo[task] + np.arange(task.size) - starts[task]
            value = previous[candidate] + points.range_cost(candidate, mid[task])
            best_value = np.minimum.reduceat(value, starts)
            is_best = np.flatnonzero(value <= best_value[task])
            first = np.concatenate([[True], task[is_best][1:] != task[is_best][:-1]])
            best = candidate[is_best[first]]
            current[mid] = best_value
            argmins[j, mid] = best
            left = lo <= mid - 1
            right = mid + 1 <= hi
            lo, hi, opt_lo, opt_hi = (
                np.concatenate([lo[left], (mid + 1)[right]]),
                np.concatenate([(mid - 1)[left], hi[right]]),
                np.concatenate([opt_lo[left], best[right]]),
                np.concatenate([best[left], opt_hi[right]]),
            )
        previous = current
    edges = np.empty(k + 1, dtype=np.int64)
    edges[k], edges[0] = n, 0
    for j in range(k, 1, -1):
        edges[j - 1] = argmins[j, edges[j]]
    return edges


# ---------------------------------------------------------------- fast


def _density_init(points: _Points, k: int) -> np.ndarray:
    """k centres spread with density proportional to p^(1/3), the asymptotically optimal quantiser density."""
    lo, hi = points.x[0], points.x[-1]
    counts, edges = np.histogram(points.x, bins=_INIT_BINS, range=(lo, hi), weights=points.w)
    mass = np.concatenate([[0.0], np.cumsum(np.cbrt(counts))])
    targets = (np.arange(k) + 0.5) / k * mass[-1]
    return np.interp(targets, mass, edges)


def _edges_for(points: _Points, centres: np.ndarray) -> np.ndarray:
    """Cluster edges in the point array when each point goes to its nearest centre; centres (..., k) sorted."""
    boundaries = np.empty((*centres.shape[:-1], centres.shape[-1] + 1))
    boundaries[..., 0], boundaries[..., -1] = -np.inf, np.inf
    np.add(centres[..., :-1], centres[..., 1:], out=boundaries[..., 1:-1])
    boundaries[..., 1:-1] /= 2
    return points.count_up_to(boundaries)


def _lloyd(points: _Points, centres: np.ndarray, iterations: int = _LLOYD_ITERATIONS) -> tuple[np.ndarray, np.ndarray]:
    """Weighted Lloyd iterations on each row of sorted centres (t, k) at once, until no centre moves
    by a quarter of a histogram bin (or for at most `iterations`); returns the centres and their edges (t, k+1)."""
    settled = (points.x[-1] - points.x[0]) / _HISTOGRAM_BINS / 4
    for _ in range(iterations):
        edges = _edges_for(points, centres)
        weight, total = np.diff(points.cw[edges]), np.diff(points.cs[edges])
        # An empty cluster keeps its centre; the sort only guards against rounding in the prefix sums.
        moved = np.sort(np.divide(total, weight, out=centres.copy(), where=weight > 0))
        done = np.abs(moved - centres).max() <= settled
        centres = moved
        if done:
            break
    return centres, _edges_for(points, centres)


def _total_costs(points: _Points, centres: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Sum of squared errors of each row of centres (t, k) with its edges (t, k+1)."""
    return points.cost_around(edges[:, :-1], edges[:, 1:], centres).sum(axis=1)


def _removal_costs(points: _Points, centres: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Increase in error if each centre were removed and its points went to the nearer neighbour."""
    k = centres.size
    start, stop = edges[:-1], edges[1:]
    left = np.concatenate([[-np.inf], centres[:-1]])
    right = np.concatenate([centres[1:], [np.inf]])
    with np.errstate(invalid="ignore"):
        split = np.where(
            np.isinf(left), start, np.where(np.isinf(right), stop, np.searchsorted(points.x, (left + right) / 2, side="right"))
        )
    split = np.clip(split, start, stop)
    to_left = points.cost_around(start, split, np.where(np.isinf(left), 0.0, left))
    to_right = points.cost_around(split, stop, np.where(np.isinf(right), 0.0, right))
    current = points.cost_around(start, stop, centres)
    costs = to_left + to_right - current
    return costs if k > 1 else np.full(1, np.inf)


def _best_splits(points: _Points, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every cluster, the drop in error of its best cut into two, and where that cut is.

    On large point sets only every few cuts are tried: a swap needs a good cut, not the best one.
    """
    clusters = edges.size - 1
    cuts = np.arange(0, len(points), max(1, len(points) // _SPLIT_CANDIDATES))  # a cut before point i
    cluster = np.searchsorted(edges, cuts, side="right") - 1
    start, stop = edges[:-1][cluster], edges[1:][cluster]
    with np.errstate(invalid="ignore"):
        halves = np.where(cuts > start, points.range_cost(start, cuts) + points.range_cost(cuts, stop), np.inf)
    first = np.flatnonzero(np.diff(cluster, prepend=-1))
    best_halves = np.full(clusters, np.inf)
    best_halves[cluster[first]] = np.minimum.reduceat(halves, first)
    gains = np.where(np.isfinite(best_halves), points.range_cost(edges[:-1], edges[1:]) - best_halves, 0.0)
    at = np.zeros(clusters, dtype=np.int64)
    is_best = np.flatnonzero(halves <= best_halves[cluster])
    at[cluster[is_best]] = cuts[is_best]
    return gains, at


def _swap_trials(points: _Points, centres: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Rows of sorted centres (t, k), each the centres with `count` of the least useful removed and
    the `count` clusters that gain most from a cut split in two at it: count = k/16, k/32, …, 1,
    then single swaps into the 2nd, 3rd … best cut (_SINGLE_SWAPS in all)."""
    k = centres.size
    gains, at = _best_splits(points, edges)
    most = max(1, k // 16)
    counts = np.array([most >> halving for halving in range(most.bit_length())] + [1] * (_SINGLE_SWAPS - 1))
    skips = np.concatenate([np.zeros(most.bit_length(), dtype=int), np.arange(1, _SINGLE_SWAPS)])
    usable = skips + counts <= np.count_nonzero(gains > 0)  # every target must gain from its cut
    counts, skips = counts[usable], skips[usable]
    rank = np.empty(k, dtype=int)
    rank[np.argsort(-gains)] = np.arange(k)
    targets = (rank >= skips[:, None]) & (rank < (skips + counts)[:, None])  # (t, k)
    losses = np.where(targets, np.inf, _removal_costs(points, centres, edges))
    useless = np.zeros_like(targets)
    np.put_along_axis(useless, np.argsort(losses, axis=1), np.arange(k) < counts[:, None], axis=1)
    weight, total, _ = points.range_sums(np.stack([edges[:-1], at]), np.stack([at, edges[1:]]))
    with np.errstate(invalid="ignore", divide="ignore"):  # clusters with no cut are never targets
        halves = total / weight
    candidates = np.concatenate(
        [np.where(targets | useless, np.inf, centres), np.where(targets, halves[0], np.inf), np.where(targets, halves[1], np.inf)],
        axis=1,
    )
    return np.sort(candidates, axis=1)[:, :k]


def _fit_fast(points: _Points, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Centres and edges: density init and weighted Lloyd, then rounds of swaps that move the least
    useful centres into the clusters whose best cut in two gains most. Each round tries several
    swap sizes at once (batched Lloyd, the better half going on at each step of _TRIAL_SCHEDULE)
    and keeps the best while the error drops."""
    centres, edges = _lloyd(points, _density_init(points, k)[None])
    cost = _total_costs(points, centres, edges)[0]
    centres, edges = centres[0], edges[0]
    for _ in range(_SWAP_ROUNDS):
        trials = _swap_trials(points, centres, edges)
        if not len(trials):
            break
        for iterations in _TRIAL_SCHEDULE:
            trial_centres, trial_edges = _lloyd(points, trials, iterations)
            trial_costs = _total_costs(points, trial_centres, trial_edges)
            order = np.argsort(trial_costs)
            trials = trial_centres[order[: max(1, len(order) // 2)]]
        best = order[0]
        if trial_costs[best] >= cost:
            break
        centres, edges, cost = trial_centres[best], trial_edges[best], trial_costs[best]
    centres, edges = _lloyd(points, centres[None])  # the rounds stop Lloyd early: finish it
    return centres[0], edges[0]


@dataclass(frozen=True)
class _Histogram:
    """Values binned finely: the occupied bins as weighted points (bin means), and each value's bin."""

    points: _BinnedPoints
    bins: np.ndarray  # (n,) uint16

    @property
    def nbytes(self) -> int:
        """Memory held by this histogram."""
        return self.points.nbytes + self.bins.nbytes


def _build_histogram(flat: np.ndarray) -> _Histogram:
    lo, hi = float(flat.min()), float(flat.max())
    scale = _HISTOGRAM_BINS / (hi - lo) if hi > lo else 1.0
    bins = ((flat - lo) * scale).astype(np.intp)  # intp: bincount would convert anyway
    np.minimum(bins, _HISTOGRAM_BINS - 1, out=bins)
    counts = np.bincount(bins, minlength=_HISTOGRAM_BINS)
    sums = np.bincount(bins, weights=flat, minlength=_HISTOGRAM_BINS)
    occupied = np.flatnonzero(counts)
    points = _BinnedPoints(sums[occupied] / counts[occupied], counts[occupied], occupied, lo, scale)
    return _Histogram(points, bins.astype(np.uint16))


_cached_histogram = ContentCache(_build_histogram, size=lambda histogram: histogram.nbytes)
"""The _Histogram of flat values, built on first use: a model's tensors are quantized at many bit widths."""


def _assign_through_bins(flat: np.ndarray, histogram: _Histogram, centres: np.ndarray) -> np.ndarray:
    """Nearest-centre label of every value: a per-bin lookup, corrected exactly inside bins a boundary crosses."""
    midpoints = (centres[:-1] + centres[1:]) / 2
    bin_width = 1 / histogram.points.scale
    slack = bin_width * 1e-3  # bins are computed in the input's precision: widen them a little
    left_edges = histogram.points.lo + np.arange(_HISTOGRAM_BINS) * bin_width
    first = np.searchsorted(midpoints, left_edges - slack, side="right")
    last = np.searchsorted(midpoints, left_edges + bin_width + slack, side="right")
    labels = first.astype(_smallest_index_dtype(centres.size))[histogram.bins]
    crossed = np.flatnonzero((first != last)[histogram.bins])
    labels[crossed] = np.searchsorted(midpoints, flat[crossed], side="right")
    return labels


# ---------------------------------------------------------------- public


def kmeans_1d(values: np.ndarray, k: int, method: str = "fast") -> tuple[np.ndarray, np.ndarray]:
    """Share values among at most k centroids, minimising the sum of squared errors.

    Returns (centroids, labels): float64 centroids sorted ascending (fewer than k when there are
    fewer distinct values) and, with the shape of `values`, the index of each value's nearest
    centroid (uint8 for k <= 256). method="exact" is the global optimum (dynamic programming);
    method="fast" a histogram-based fit for millions of values: within ~1% of it up to 32 clusters,
    1–2% at 64–256 on weight-sized inputs, up to ~5% on 10,000 values at 256 clusters.

    >>> centroids, labels = kmeans_1d([0.0, 0.1, 1.0, 1.2], k=2)
    >>> np.round(centroids, 9).tolist(), labels.tolist()
    ([0.05, 1.1], [0, 0, 1, 1])
    """
    array = finite_array(values, "values")
    k = integer_in_range(k, "k", 1, MAX_K)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    flat = array.ravel()
    if flat.dtype.kind != "f":
        flat = flat.astype(np.float64)

    if method == "exact" or flat.size <= _DISTINCT_LIMIT:
        distinct, point_of_value, counts = np.unique(flat, return_inverse=True, return_counts=True)
        if distinct.size <= k:
            centroids = distinct.astype(np.float64)
            return centroids, point_of_value.astype(_smallest_index_dtype(centroids.size)).reshape(array.shape)
        points = _Points(distinct.astype(np.float64), counts)
        if method == "exact":
            edges = _exact_edges(points, k)
            weight, total, _ = points.range_sums(edges[:-1], edges[1:])
            centres = total / weight
        else:
            centres, edges = _fit_fast(points, k)
        keep = np.diff(edges) > 0
        cluster_of_point = np.repeat(np.cumsum(keep) - 1, np.diff(edges))
        labels = cluster_of_point.astype(_smallest_index_dtype(int(keep.sum())))[point_of_value]
        return centres[keep] + points.shift, labels.reshape(array.shape)

    # Values whose bins alone (2 bytes each) would overflow the cache are not hashed in vain.
    histogram = _cached_histogram(flat) if 2 * flat.size <= _CACHED_BYTES else _build_histogram(flat)
    points = histogram.points
    if len(points) <= k:
        centres = points.x
    else:
        centres, edges = _fit_fast(points, k)
        centres = centres[np.diff(edges) > 0]
    centroids = centres + points.shift
    labels = _assign_through_bins(flat, histogram, centroids)
    return centroids, labels.reshape(array.shape)


def lloyd_1d(values: np.ndarray, initial_centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means from the given initial centroids (no swaps): the classic algorithm whose result
    depends on its start (Deep Compression compares linear, density and random starts).

    Returns (centroids, labels) as `kmeans_1d` does: float64 centroids sorted ascending (clusters left
    empty are dropped, so there may be fewer than given) and each value's index, shaped like `values`.

    >>> centroids, labels = lloyd_1d([0.0, 0.1, 1.0, 1.2], [0.0, 0.5])
    >>> np.round(centroids, 9).tolist(), labels.tolist()
    ([0.05, 1.1], [0, 0, 1, 1])
    """
    flat = finite_array(values, "values").ravel().astype(np.float64, copy=False)
    start = np.sort(finite_array(initial_centroids, "initial_centroids", ndim=1).astype(np.float64))
    integer_in_range(start.size, "len(initial_centroids)", 1, MAX_K)
    if flat.size <= _DISTINCT_LIMIT:
        distinct, point_of_value, counts = np.unique(flat, return_inverse=True, return_counts=True)
        points = _Points(distinct, counts)
    else:
        histogram = _cached_histogram(flat) if 2 * flat.size <= _CACHED_BYTES else _build_histogram(flat)
        points = histogram.points
    centres, edges = _lloyd(points, (start - points.shift)[None], _LLOYD_ITERATIONS_FROM_A_START)
    keep = np.diff(edges[0]) > 0
    centroids = centres[0][keep] + points.shift
    if flat.size > _DISTINCT_LIMIT:
        return centroids, _assign_through_bins(flat, histogram, centroids).reshape(np.shape(values))
    cluster_of_point = np.repeat(np.cumsum(keep) - 1, np.diff(edges[0]))
    labels = cluster_of_point.astype(_smallest_index_dtype(int(keep.sum())))[point_of_value]
    return centroids, labels.reshape(np.shape(values))


def sum_squared_error(values: np.ndarray, centroids: np.ndarray, labels: np.ndarray) -> float:
    """Sum over values of (value - centroids[label])^2, in float64."""
    values = np.asarray(values, dtype=np.float64)
    return float(((values - np.asarray(centroids, dtype=np.float64)[labels]) ** 2).sum())
