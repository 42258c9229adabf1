"""core/weightfile/budget.py against brute force over every allocation of small problems."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.weightfile.budget import allocate, hull_path, lower_hull, pareto_frontier


def random_problem(seed: int, tensors: int = 4, options: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Sizes growing with the option like n*b + overhead; distortions mostly falling, with noise that can break convexity."""
    rng = np.random.default_rng(seed)
    parameters = rng.integers(1, 200, tensors)
    overhead = rng.integers(0, 60, (tensors, options))
    costs = parameters[:, None] * np.arange(2, 2 + options) + overhead
    distortions = parameters[:, None] * rng.uniform(0.2, 1.0, tensors)[:, None] * 4.0 ** -np.arange(options) * rng.uniform(0.5, 2.0, (tensors, options))
    return costs, distortions


def brute_force(costs: np.ndarray, distortions: np.ndarray, budget: float) -> float:
    """The least total distortion of all options^tensors allocations within the budget."""
    every = np.array(list(itertools.product(range(costs.shape[1]), repeat=costs.shape[0])))
    rows = np.arange(costs.shape[0])
    sizes, totals = costs[rows, every].sum(axis=1), distortions[rows, every].sum(axis=1)
    return float(totals[sizes <= budget].min())


def test_lower_hull_by_hand() -> None:
    # (1, 10) (2, 6) (3, 5) (4, 1) (5, 3): (3, 5) lies above the segment (2, 6)-(4, 1); (5, 3) is dominated by (4, 1)
    hull = lower_hull(np.array([1, 2, 3, 4, 5]), np.array([10.0, 6.0, 5.0, 1.0, 3.0]))
    assert hull.tolist() == [0, 1, 3]
    assert lower_hull(np.array([3, 1, 2]), np.array([0.5, 4.0, 1.0])).tolist() == [1, 2, 0]


@pytest.mark.parametrize("seed", range(12))
def test_every_path_point_is_optimal_for_its_own_size(seed: int) -> None:
    costs, distortions = random_problem(seed)
    path = hull_path(costs, distortions)
    assert (np.diff(path.sizes) > 0).all() and (np.diff(path.distortions) < 0).all()
    rows = np.arange(costs.shape[0])
    for point in range(path.sizes.size):
        chosen = path.choices(point)
        assert costs[rows, chosen].sum() == path.sizes[point]
        assert distortions[rows, chosen].sum() == pytest.approx(path.distortions[point])
        assert path.distortions[point] == pytest.approx(brute_force(costs, distortions, path.sizes[point]), rel=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_the_exact_frontier_is_the_brute_force_optimum_at_every_budget(seed: int) -> None:
    costs, distortions = random_problem(seed)
    frontier = pareto_frontier(costs, distortions)
    assert (np.diff(frontier.sizes) > 0).all() and (np.diff(frontier.distortions) < 0).all()
    rng = np.random.default_rng(100 + seed)
    rows = np.arange(costs.shape[0])
    for budget in [*rng.integers(costs.min(axis=1).sum(), costs.max(axis=1).sum() + 50, 8), *frontier.sizes[::7]]:
        chosen = allocate(costs, distortions, int(budget), frontier)
        assert chosen.size <= budget and costs[rows, chosen.choices].sum() == chosen.size
        assert distortions[rows, chosen.choices].sum() == pytest.approx(chosen.distortion)
        assert chosen.distortion == pytest.approx(brute_force(costs, distortions, budget), rel=1e-12) == chosen.lower_bound


def test_the_frontier_gives_way_when_it_outgrows_its_limit() -> None:
    costs, distortions = random_problem(0, tensors=6)
    assert pareto_frontier(costs, distortions, max_points=10) is None
    assert allocate(costs, distortions, int(costs[:, 3].sum())).size <= costs[:, 3].sum()


@pytest.mark.parametrize("seed", range(12))
def test_on_the_hull_any_budget_is_bracketed_by_the_bound_and_the_allocation(seed: int) -> None:
    costs, distortions = random_problem(seed)
    rng = np.random.default_rng(100 + seed)
    smallest, largest = costs.min(axis=1).sum(), costs.max(axis=1).sum()
    path = hull_path(costs, distortions)
    for budget in rng.integers(smallest, largest + 50, 6):
        chosen = allocate(costs, distortions, int(budget), path)
        optimum = brute_force(costs, distortions, budget)
        assert chosen.size <= budget
        assert chosen.lower_bound <= optimum * (1 + 1e-12) and optimum <= chosen.distortion * (1 + 1e-12)


def test_a_budget_below_the_smallest_allocation_is_refused() -> None:
    costs, distortions = random_problem(0)
    with pytest.raises(ValueError, match="budget must be at least"):
        allocate(costs, distortions, int(costs.min(axis=1).sum()) - 1)
