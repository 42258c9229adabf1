"""core/measure/reconstruction.py against hand-worked values."""

import numpy as np
import pytest

from core.measure.reconstruction import mse


def test_mse_is_the_mean_squared_pixel_error():
    assert mse(np.zeros((2, 784)), np.full((2, 784), 0.5)) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="reconstructions must have the shape of images"):
        mse(np.zeros((2, 784)), np.zeros(784))
