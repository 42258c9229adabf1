"""Bits per tensor under a size budget: a multiple-choice knapsack solved on its convex hull.

Each tensor t has options (bit widths) with a size c_t(b) in bytes and a distortion
d_t(b) = n_t * (||W_t - Q_t||_F / ||W_t||_F)^2: its squared relative error weighted by its parameter
count, so every weight counts once whatever its tensor's scale. We minimise sum d_t subject to
sum c_t <= budget.

Exact method, when it fits: the Pareto frontier of (total size, total distortion) built tensor by
tensor (a dynamic program that keeps every partial allocation no other beats in both size and
distortion): its point below a budget is **the optimum**, and the frontier is the exact best-error-
at-each-size curve. Its size can grow with the product of the options (GPT-2's 148 tensors pass a
million points), so above MAX_FRONTIER points it gives way to the hull.

Hull method (Shoham & Gersho 1988; Everett 1963): keep each tensor's options on the lower convex hull of
(size, distortion); start every tensor at its smallest option and take the hull steps of all tensors
in order of steepness (distortion saved per byte). Every allocation along this path minimises
sum d + lambda * sum c for some lambda >= 0, and therefore is **optimal for its own size: no allocation
of at most that many bytes has less distortion**. For a budget that falls between two path points
we return the point below and a lower bound on the true optimum (the knapsack's LP relaxation:
the path interpolated at the budget), so the remaining gap is stated, never hidden.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

MAX_FRONTIER = 200_000
"""Points the exact frontier may hold after any tensor; beyond it the hull path is used."""
MAX_STORED = 2_000_000
"""Back-pointers the exact frontier may keep over all tensors (8 bytes each: 16 MB)."""

from core.weightfile.report import WeightReport


def lower_hull(costs: np.ndarray, distortions: np.ndarray) -> np.ndarray:
    """Indices of the options on the lower convex hull of (cost, distortion), by increasing cost:
    each next option is bigger, has less distortion, and saves less per extra byte than the one before."""
    order = np.lexsort((distortions, costs))
    hull: list[int] = []
    for option in order:
        if hull and distortions[option] >= distortions[hull[-1]]:
            continue  # no better than a smaller option
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # drop b if it lies on or above the segment from a to this option
            if (distortions[b] - distortions[a]) * (costs[option] - costs[a]) >= (distortions[option] - distortions[a]) * (costs[b] - costs[a]):
                hull.pop()
            else:
                break
        hull.append(int(option))
    return np.array(hull, dtype=np.intp)


@dataclass(frozen=True)
class HullPath:
    """The allocations optimal for their own size, smallest first: point i is `start` with moves[:i] applied."""

    start: np.ndarray
    """(T,) each tensor's smallest hull option."""
    move_tensor: np.ndarray
    """(M,) which tensor each step moves."""
    move_to: np.ndarray
    """(M,) the option it moves to."""
    sizes: np.ndarray
    """(M + 1,) total cost at each point, increasing."""
    distortions: np.ndarray
    """(M + 1,) total distortion at each point, decreasing."""
    exact = False
    """Optimal at its own points only (a budget between two points has the interpolation as a lower bound)."""

    def choices(self, point: int) -> np.ndarray:
        """(T,) the option of every tensor at path point `point`."""
        chosen = self.start.copy()
        for tensor, option in zip(self.move_tensor[:point], self.move_to[:point]):
            chosen[tensor] = option
        return chosen


def hull_path(costs: np.ndarray, distortions: np.ndarray) -> HullPath:
    """The path of optimal allocations for costs and distortions, each (T tensors, K options)."""
    costs, distortions = _checked(costs, distortions)
    start, steps = [], []
    for tensor, (cost, distortion) in enumerate(zip(costs, distortions)):
        hull = lower_hull(cost, distortion)
        start.append(hull[0])
        for before, after in itertools.pairwise(hull):
            slope = (distortion[after] - distortion[before]) / (cost[after] - cost[before])
            steps.append((slope, tensor, after, cost[after] - cost[before], distortion[after] - distortion[before]))
    steps.sort(key=lambda step: step[0])  # steepest saving first; a tensor's own steps stay in hull order
    start = np.array(start, dtype=np.intp)
    rows = np.arange(costs.shape[0])
    sizes = np.concatenate([[costs[rows, start].sum()], costs[rows, start].sum() + np.cumsum([step[3] for step in steps], dtype=np.int64)])
    totals = np.concatenate([[distortions[rows, start].sum()], distortions[rows, start].sum() + np.cumsum([step[4] for step in steps])])
    return HullPath(
        start,
        np.array([step[1] for step in steps], dtype=np.intp),
        np.array([step[2] for step in steps], dtype=np.intp),
        sizes.astype(np.int64),
        totals,
    )


@dataclass(frozen=True)
class Frontier:
    """Every allocation no other beats in both size and distortion, smallest first: the exact trade-off."""

    sizes: np.ndarray
    distortions: np.ndarray
    back: tuple[np.ndarray, ...]
    """Per tensor, for each point kept after it: previous point * options + option."""
    options: int
    exact = True

    def choices(self, point: int) -> np.ndarray:
        """(T,) the option of every tensor at frontier point `point`."""
        chosen = np.empty(len(self.back), dtype=np.intp)
        for tensor in range(len(self.back) - 1, -1, -1):
            point, chosen[tensor] = divmod(int(self.back[tensor][point]), self.options)
        return chosen


def pareto_frontier(costs: np.ndarray, distortions: np.ndarray, max_points: int = MAX_FRONTIER, max_stored: int = MAX_STORED) -> Frontier | None:
    """The exact frontier for costs and distortions (T tensors, K options), or None when it outgrows the limits."""
    costs, distortions = _checked(costs, distortions)
    options = costs.shape[1]
    sizes, totals = np.zeros(1, dtype=np.int64), np.zeros(1)
    back, stored = [], 0
    for cost, distortion in zip(costs, distortions):
        candidate_sizes = (sizes[:, None] + cost[None, :]).ravel()
        candidate_totals = (totals[:, None] + distortion[None, :]).ravel()
        order = np.lexsort((candidate_totals, candidate_sizes))
        ordered = candidate_totals[order]
        best_before = np.minimum.accumulate(np.concatenate([[np.inf], ordered[:-1]]))
        keep = order[ordered < best_before]  # strictly less distortion than every smaller-or-equal allocation
        stored += keep.size
        if keep.size > max_points or stored > max_stored:
            return None
        back.append(keep)
        sizes, totals = candidate_sizes[keep], candidate_totals[keep]
    return Frontier(sizes, totals, tuple(back), options)


def _checked(costs: np.ndarray, distortions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    costs, distortions = np.asarray(costs, dtype=np.int64), np.asarray(distortions, dtype=np.float64)
    if costs.ndim != 2 or costs.shape != distortions.shape or costs.size == 0:
        raise ValueError(f"costs and distortions must be (tensors, options) arrays of one shape; got {costs.shape} and {distortions.shape}")
    if not np.isfinite(distortions).all() or (costs < 0).any():
        raise ValueError("costs must be >= 0 and distortions finite")
    return costs, distortions


def tradeoff(costs: np.ndarray, distortions: np.ndarray) -> Frontier | HullPath:
    """The exact frontier when it fits in MAX_FRONTIER points, else the hull path."""
    return pareto_frontier(costs, distortions) or hull_path(costs, distortions)


@dataclass(frozen=True)
class Allocation:
    """The chosen option of every tensor for a budget."""

    choices: np.ndarray
    """(T,) option index per tensor."""
    size: int
    distortion: float
    lower_bound: float
    """No allocation within the budget has less distortion than this (equal to `distortion` when the
    budget lands on the hull path: then the allocation is exactly optimal)."""


def allocate(costs: np.ndarray, distortions: np.ndarray, budget: int, path: Frontier | HullPath | None = None) -> Allocation:
    """The allocation of at most `budget` (same unit as costs) with the least distortion on `path`
    (default: tradeoff(costs, distortions)): the optimum on a Frontier, optimal for its own size on a HullPath."""
    path = path or tradeoff(costs, distortions)
    if budget < path.sizes[0]:
        raise ValueError(f"budget must be at least {int(path.sizes[0]):,} (every tensor at its smallest option); got {budget:,}")
    point = int(np.searchsorted(path.sizes, budget, side="right")) - 1
    lower_bound = path.distortions[point]
    if not path.exact and point + 1 < path.sizes.size:
        share = (budget - path.sizes[point]) / (path.sizes[point + 1] - path.sizes[point])
        lower_bound += share * (path.distortions[point + 1] - path.distortions[point])
    return Allocation(path.choices(point), int(path.sizes[point]), float(path.distortions[point]), float(lower_bound))


# ---------------------------------------------------------------- on a report


@dataclass(frozen=True)
class BitAllocation:
    """Bits per quantized tensor of a report for one method, and what they cost."""

    method: str
    bits: dict[str, int]
    """{tensor name: bit width} for the quantized tensors."""
    quantized_bytes: int
    """Bytes of the quantized tensors (codes, scales, zero points, codebooks)."""
    kept_bytes: int
    """Bytes of the tensors kept as stored (integers, NaN/Inf, 0-d)."""
    relative_error: float
    """sqrt(sum n_t e_t^2 / sum n_t): the parameter-weighted RMS of the tensors' relative errors."""
    relative_error_bound: float
    """No allocation within the budget reaches a smaller relative_error than this."""
    exact: bool
    """Whether this is the optimum (the exact frontier) or optimal for its own size (the hull path)."""
    parameters: int
    """Parameters of the quantized tensors."""

    @property
    def total_bytes(self) -> int:
        return self.quantized_bytes + self.kept_bytes

    @property
    def bits_per_weight(self) -> float:
        """Average stored bits per quantized parameter, scales and codebooks included."""
        return 8 * self.quantized_bytes / self.parameters


def options(report: WeightReport, method: str) -> tuple[np.ndarray, np.ndarray]:
    """(costs in bytes, distortions n_t e_t^2), each (quantized tensors, bit widths), of a report's method."""
    if method not in report.methods:
        raise ValueError(f"method must be one of {', '.join(report.methods)}; got {method!r}")
    tensors = report.quantized_tensors
    if not tensors:
        raise ValueError("the file has no float tensor to quantize")
    costs = np.array([tensor.quantized_bytes[method] for tensor in tensors], dtype=np.int64)
    errors = np.array([tensor.relative_errors[method] for tensor in tensors], dtype=np.float64)
    parameters = np.array([tensor.parameters for tensor in tensors], dtype=np.float64)
    return costs, parameters[:, None] * errors**2


def kept_bytes(report: WeightReport) -> int:
    """Bytes of the tensors a quantized file keeps as stored."""
    return sum(tensor.stored_bytes for tensor in report.tensors if not tensor.quantized)


def _bit_allocation(report: WeightReport, method: str, choices: np.ndarray, size: int, distortion: float, bound: float, exact: bool) -> BitAllocation:
    tensors = report.quantized_tensors
    parameters = sum(tensor.parameters for tensor in tensors)
    return BitAllocation(
        method,
        {tensor.name: report.bit_widths[choice] for tensor, choice in zip(tensors, choices)},
        size,
        kept_bytes(report),
        float(np.sqrt(distortion / parameters)),
        float(np.sqrt(max(bound, 0.0) / parameters)),
        exact,
        parameters,
    )


def report_tradeoff(report: WeightReport, method: str) -> Frontier | HullPath:
    """The trade-off (exact frontier, or hull path) of a report's method; compute once, allocate often."""
    return tradeoff(*options(report, method))


def allocate_bits(
    report: WeightReport, method: str, bits_per_weight: float | None = None, megabytes: float | None = None, path: Frontier | HullPath | None = None
) -> BitAllocation:
    """The best bits per tensor for a budget given as average bits per quantized weight (scales and
    codebooks included) or as total megabytes (10^6 bytes) of the file, kept tensors included.
    `path`: report_tradeoff(report, method), if already at hand."""
    if (bits_per_weight is None) == (megabytes is None):
        raise ValueError("give exactly one budget: bits_per_weight or megabytes")
    costs, distortions = options(report, method)
    parameters = sum(tensor.parameters for tensor in report.quantized_tensors)
    if bits_per_weight is not None:
        budget = math.floor(bits_per_weight * parameters / 8 + 1e-6)  # a size read back as bits per weight must fit again
    else:
        budget = int(megabytes * 1e6) - kept_bytes(report)
    path = path or tradeoff(costs, distortions)
    if budget < path.sizes[0]:
        smallest = path.sizes[0]
        raise ValueError(
            f"the budget is below the smallest this file can take with {method}: {8 * smallest / parameters:.3f} bits per weight, "
            f"{(smallest + kept_bytes(report)) / 1e6:.3f} MB (every tensor at {report.bit_widths[0]} bits)"
        )
    chosen = allocate(costs, distortions, budget, path)
    return _bit_allocation(report, method, chosen.choices, chosen.size, chosen.distortion, chosen.lower_bound, path.exact)


def uniform_bits(report: WeightReport, method: str, bits: int) -> BitAllocation:
    """Every quantized tensor at the same bit width, for comparison."""
    costs, distortions = options(report, method)
    column = report.bit_widths.index(bits)
    distortion = float(distortions[:, column].sum())
    return _bit_allocation(report, method, np.full(costs.shape[0], column), int(costs[:, column].sum()), distortion, distortion, True)


def in_format(report: WeightReport, fmt: str) -> tuple[int, float]:
    """(total bytes, relative error as in BitAllocation) of the file with every quantized tensor stored in block format fmt."""
    if fmt not in report.formats:
        raise ValueError(f"fmt must be one of {', '.join(report.formats)}; got {fmt!r}")
    tensors = report.quantized_tensors
    parameters = sum(tensor.parameters for tensor in tensors)
    distortion = sum(tensor.parameters * tensor.format_errors[fmt] ** 2 for tensor in tensors)
    return sum(tensor.format_bytes[fmt] for tensor in tensors) + kept_bytes(report), math.sqrt(distortion / parameters)


def size_error_curve(report: WeightReport, method: str, path: Frontier | HullPath | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(total bytes, relative error) of every allocation on the trade-off (exact frontier or hull path): the best error at each size."""
    path = path or report_tradeoff(report, method)
    parameters = sum(tensor.parameters for tensor in report.quantized_tensors)
    return path.sizes + kept_bytes(report), np.sqrt(np.maximum(path.distortions, 0) / parameters)
