import numpy as np
import pytest

from core.measure.image_error import average_error, pixel_error


def test_pixel_error_worked_by_hand_without_uint8_overflow():
    original = np.array([[[0, 0, 0], [255, 255, 255]], [[10, 20, 30], [200, 100, 50]]], dtype=np.uint8)
    quantized = np.array([[[255, 255, 255], [0, 0, 0]], [[12, 18, 30], [200, 100, 50]]], dtype=np.uint8)
    assert pixel_error(original, quantized).tolist() == [[765, 765], [4, 0]]
    assert average_error(original, quantized) == pytest.approx((765 + 765 + 4 + 0) / 4)


def test_pixel_error_matches_a_float_reference():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    b = rng.integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    reference = np.abs(a.astype(float) - b.astype(float)).sum(axis=2)
    np.testing.assert_array_equal(pixel_error(a, b), reference)


def test_pixel_error_is_exact_for_every_pair_of_channel_values():
    a, b = np.meshgrid(np.arange(256), np.arange(256))
    original = np.stack([a, b, a], axis=2).astype(np.uint8)
    quantized = np.stack([b, a, 255 - b], axis=2).astype(np.uint8)
    reference = sum(abs(int(w) - int(q)) for w, q in zip(original[17, 200], quantized[17, 200]))
    errors = pixel_error(original, quantized)
    assert errors.dtype == np.int16 and errors[17, 200] == reference
    np.testing.assert_array_equal(errors, np.abs(original.astype(np.int64) - quantized.astype(np.int64)).sum(axis=2))


@pytest.mark.parametrize(
    "original, quantized",
    [
        (np.zeros((2, 2, 3), np.uint8), np.zeros((2, 3, 3), np.uint8)),
        (np.zeros((2, 2, 3), np.float32), np.zeros((2, 2, 3), np.uint8)),
        (np.zeros((2, 2), np.uint8), np.zeros((2, 2), np.uint8)),
    ],
)
def test_mismatched_or_wrong_images_raise(original, quantized):
    with pytest.raises(ValueError):
        pixel_error(original, quantized)
