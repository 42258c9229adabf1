import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core.measure.norms import condition_number, operator_norm, output_error, relative_error

P_VALUES = [1, 2, np.inf, "fro"]
matrices = st.integers(1, 6).flatmap(
    lambda n: arrays(np.float64, (n, n), elements=st.floats(-10, 10, allow_nan=False, width=64))
)


@settings(max_examples=60, deadline=None)
@given(matrices)
def test_operator_norms_equal_numpy(A):
    for p in P_VALUES:
        assert operator_norm(A, p) == pytest.approx(np.linalg.norm(A, p), rel=1e-12, abs=1e-12)


def test_induced_one_norm_is_max_column_sum_not_max_entry():
    A = np.array([[1.0, -2.0], [3.0, 4.0]])
    assert operator_norm(A, 1) == 6.0  # column 2: |-2| + |4|; the article's demo would say 4
    assert operator_norm(A, np.inf) == 7.0
    assert operator_norm(A, "inf") == 7.0


def test_condition_numbers_equal_numpy_on_random_matrices():
    rng = np.random.default_rng(0)
    for n in (2, 5, 20, 64):
        A = rng.normal(size=(n, n))
        for p in P_VALUES:
            assert condition_number(A, p) == pytest.approx(np.linalg.cond(A, p), rel=1e-8)


@pytest.mark.parametrize("p", P_VALUES)
def test_singular_matrices_give_inf(p):
    rank_one = np.outer([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    repeated_row = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.5, 0.1, 0.2]])
    assert condition_number(rank_one, p) == np.inf
    assert condition_number(repeated_row, p) == np.inf
    assert condition_number(np.zeros((4, 4)), p) == np.inf


def test_relative_error_worked_example():
    W = np.array([[1.0, -2.0], [3.0, 4.0]])
    Q = np.array([[1.0, -2.0], [3.0, 3.0]])
    assert relative_error(W, Q, 1) == pytest.approx(1 / 6)
    assert relative_error(W, Q, "fro") == pytest.approx(1 / np.sqrt(30))


def test_output_error_against_a_loop_and_below_the_bound():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(8, 8))
    Q = np.round(W * 2) / 2
    X = rng.normal(size=(8, 1000))
    ratios = [np.linalg.norm((W - Q) @ x) / np.linalg.norm(W @ x) for x in X.T]
    median, largest = output_error(W, Q, X)
    assert median == pytest.approx(np.median(ratios))
    assert largest == pytest.approx(max(ratios))
    for p in P_VALUES:
        bound = relative_error(W, Q, p) * condition_number(W, p)
        assert output_error(W, Q, X, p)[1] <= bound * (1 + 1e-9)


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: operator_norm(np.eye(2), 3), "p must be one of"),
        (lambda: condition_number(np.ones((2, 3))), "square"),
        (lambda: relative_error(np.zeros((2, 2)), np.eye(2)), "all zeros"),
        (lambda: relative_error(np.eye(2), np.eye(3)), "shape"),
        (lambda: operator_norm(np.array([[np.nan]])), "finite"),
        (lambda: output_error(np.eye(2), np.eye(2), np.ones((3, 4))), "rows"),
    ],
)
def test_bad_input_raises_value_error_naming_it(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()
