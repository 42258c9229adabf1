"""core/images/palette_curve.py against hand-worked images and scikit-learn's KMeans."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans

from core.images.io import sample_image
from core.images.palette_curve import CURVE_KS, error_curve


def test_curve_spans_one_to_256_in_increasing_steps() -> None:
    assert CURVE_KS[0] == 1 and CURVE_KS[-1] == 256
    assert list(CURVE_KS) == sorted(set(CURVE_KS))


def test_black_and_white_worked_by_hand() -> None:
    image = np.zeros((4, 4, 3), dtype=np.uint8)
    image[:, 2:] = 255
    # k = 1: the mean color 127.5 rounds to 128; black pixels err 3·128, white ones 3·127.
    np.testing.assert_allclose(error_curve(image, ks=(1, 2, 3)), [(384 + 381) / 2, 0.0, 0.0])


def test_error_vanishes_once_every_distinct_color_has_its_own_entry() -> None:
    rng = np.random.default_rng(0)
    colors = rng.integers(0, 256, (5, 3), dtype=np.uint8)
    image = colors[rng.integers(0, 5, (20, 30))]
    curve = error_curve(image, ks=(4, 5, 6, 256))
    assert curve[0] > 0
    assert curve[1:].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("name", ["china.jpg", "flower.jpg"])
def test_curve_is_non_increasing_within_noise_on_sample_images(name: str) -> None:
    image = np.ascontiguousarray(sample_image(name)[::3, ::3])
    curve = error_curve(image)
    assert (np.diff(curve) <= 0.02 * curve[:-1]).all(), curve
    assert curve[-1] < curve[0] / 10


def test_close_to_scikit_learn_kmeans() -> None:
    image = np.ascontiguousarray(sample_image("flower.jpg")[::6, ::6])
    pixels = image.reshape(-1, 3).astype(np.float64)
    for k, error in zip((2, 8, 32), error_curve(image, ks=(2, 8, 32))):
        model = KMeans(n_clusters=k, n_init=2, random_state=0).fit(pixels)
        palette = np.clip(np.rint(model.cluster_centers_), 0, 255)
        reference = np.abs(pixels - palette[model.labels_]).sum(axis=1).mean()
        assert error <= 1.1 * reference, (k, error, reference)


def test_arguments_are_checked() -> None:
    image = np.zeros((2, 2, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="ks must hold"):
        error_curve(image, ks=())
    with pytest.raises(ValueError, match="each k in ks"):
        error_curve(image, ks=(1, 257))
    with pytest.raises(ValueError, match="image must have shape"):
        error_curve(np.zeros((2, 2), dtype=np.uint8))


def test_progress_reports_each_k_in_order_and_ends_at_one() -> None:
    image = np.zeros((4, 4, 3), dtype=np.uint8)
    reports = []
    error_curve(image, ks=(1, 2, 4), progress=lambda fraction, text: reports.append((fraction, text)))
    assert reports == [(1 / 3, "1 colors"), (2 / 3, "2 colors"), (1.0, "4 colors")]
