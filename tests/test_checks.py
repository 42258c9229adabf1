"""core/checks.py: messages that state a limit show the limit and the value with digits that differ."""

import numpy as np
import pytest

from core.checks import limit_and_value

FLOAT32_MAX = float(np.finfo(np.float32).max)


@pytest.mark.parametrize(
    ("limit", "value", "expected"),
    [
        (FLOAT32_MAX, 3.40282357e38, ("3.402823e+38", "3.402824e+38")),  # the Data types case of issue #21
        (1.0, 2.0, ("1", "2")),
        (0.1, 0.1000001, ("0.1", "0.1000001")),
        (5.0, 5.0, ("5", "5")),
    ],
)
def test_limit_and_value_use_the_fewest_digits_at_which_they_differ(limit, value, expected):
    assert limit_and_value(limit, value) == expected


def test_numbers_one_ulp_apart_still_differ():
    limit = 1.0
    value = np.nextafter(1.0, 2.0)
    shown_limit, shown_value = limit_and_value(limit, value)
    assert shown_limit != shown_value and float(shown_value) == value
