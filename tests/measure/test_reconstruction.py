"""core/measure/reconstruction.py against hand-worked values."""

import numpy as np
import pytest

from core.measure.reconstruction import mse, output_spread


def test_mse_is_the_mean_squared_pixel_error():
    assert mse(np.zeros((2, 784)), np.full((2, 784), 0.5)) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="reconstructions must have the shape of images"):
        mse(np.zeros((2, 784)), np.zeros(784))


def test_output_spread_is_the_largest_distance_from_the_mean_output():
    same = np.tile(np.arange(784) / 1024, (5, 1))  # dyadic: the mean is exact
    assert output_spread(same) == 0
    two = np.stack([np.zeros(784), np.zeros(784)])
    two[1, 10] = 0.6  # the mean at pixel 10 is 0.3: both outputs are 0.3 from it
    assert output_spread(two) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="outputs must be a batch"):
        output_spread(np.zeros(784))
