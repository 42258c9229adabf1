import pytest

from core.measure.sizes import float_bytes, index_bits, linear_bits, linear_bytes, shared_bytes


@pytest.mark.parametrize("k, bits", [(1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (8, 3), (9, 4), (255, 8), (256, 8), (257, 9)])
def test_index_bits_is_ceil_log2(k, bits):
    assert index_bits(k) == bits


def test_article_image_bytes_worked_by_hand():
    pixels = 880 * 602
    assert pixels == 529_760  # the article printed 4,824,160
    assert float_bytes(pixels * 3, value_bits=8) == 1_589_280
    # 8 colors: 3 bits per pixel = 198,660 bytes of indices, plus 8 RGB palette entries
    assert shared_bytes(pixels, 8, value_bits=24) == 198_660 + 24


def test_weight_sharing_bytes_worked_by_hand():
    # 20x20 float32 matrix shared at 2 bits: 400*2/8 = 100 bytes of indices + 4 float32 centroids
    assert float_bytes(400) == 1600
    assert shared_bytes(400, 4) == 100 + 16


def test_partial_bytes_round_up_and_k1_needs_no_indices():
    assert shared_bytes(3, 2) == 1 + 8  # 3 bits of indices still take a whole byte
    assert shared_bytes(1000, 1) == 4


@pytest.mark.parametrize("call", [lambda: index_bits(0), lambda: shared_bytes(-1, 2), lambda: float_bytes(10, 0), lambda: shared_bytes(10, 2.5)])
def test_invalid_arguments_name_the_problem(call):
    with pytest.raises(ValueError):
        call()


def test_linear_bytes_worked_by_hand():
    # 400 weights at 4 bits = 1,600 bits; one float32 scale; asymmetric adds a 4-bit zero point
    assert linear_bytes(400, 4, symmetric=True) == 200 + 4
    assert linear_bytes(400, 4) == 205  # 1,600 + 32 + 4 bits = 204.5 bytes, rounded up
    # per row of a 10x40 matrix: 10 scales and 10 zero points
    assert linear_bits(400, 8, blocks=10) == 3200 + 10 * (32 + 8)
