"""core/images/palette.py: k-means palettes checked against scikit-learn, brute force and hand-worked cases."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from sklearn.cluster import KMeans
from sklearn.datasets import load_sample_image

from core.content_cache import ContentCache
from core.images import palette as palette_module
from core.images.palette import palette_kmeans


def average_error(image: np.ndarray, palette: np.ndarray, labels: np.ndarray) -> float:
    """Mean over pixels of sum_c |Q_c - W_c| (the L1 error over RGB the pages show)."""
    return float(np.abs(palette[labels].astype(np.int64) - image.astype(np.int64)).sum(axis=2).mean())


def squared_error(image: np.ndarray, palette: np.ndarray, labels: np.ndarray) -> float:
    """Mean over pixels of sum_c (Q_c - W_c)^2: the k-means objective."""
    return float(((palette[labels].astype(np.int64) - image.astype(np.int64)) ** 2).sum(axis=2).mean())


def sklearn_errors(image: np.ndarray, k: int, seed: int) -> tuple[float, float]:
    """(average, squared) error of scikit-learn KMeans(n_init=1) on every pixel, centers rounded to uint8."""
    pixels = image.reshape(-1, 3).astype(np.float64)
    kmeans = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(pixels)
    palette = np.clip(np.rint(kmeans.cluster_centers_), 0, 255).astype(np.uint8)
    labels = kmeans.labels_.reshape(image.shape[:2])
    return average_error(image, palette, labels), squared_error(image, palette, labels)


def quarter_size(name: str) -> np.ndarray:
    """A scikit-learn sample image reduced 4x (box filter) to keep scikit-learn fast."""
    return np.asarray(Image.fromarray(load_sample_image(name)).reduce(4))


@pytest.mark.parametrize("name", ["china.jpg", "flower.jpg"])
@pytest.mark.parametrize("k", [2, 4, 8, 16, 32, 64, 128, 256])
def test_error_within_two_percent_of_scikit_learn_median(name, k):
    image = quarter_size(name)
    reference_average, reference_squared = np.median([sklearn_errors(image, k, seed) for seed in (0, 1, 2)], axis=0)
    palette, labels = palette_kmeans(image, k)
    assert average_error(image, palette, labels) <= 1.02 * reference_average
    assert squared_error(image, palette, labels) <= 1.02 * reference_squared


def random_image(seed: int, height: int = 40, width: int = 50, levels: int = 256) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, levels, size=(height, width, 3)) * (255 // max(levels - 1, 1))).astype(np.uint8)


def assert_contract(image: np.ndarray, k: int, palette: np.ndarray, labels: np.ndarray) -> None:
    """Shapes and dtypes, distinct colors, every entry used, most used first, nearest entry per pixel."""
    assert palette.dtype == np.uint8 and palette.ndim == 2 and palette.shape[1] == 3
    assert 1 <= len(palette) <= k
    assert len(np.unique(palette, axis=0)) == len(palette)
    assert labels.shape == image.shape[:2] and labels.dtype == np.uint8
    usage = np.bincount(labels.ravel(), minlength=len(palette))
    assert usage.min() > 0 and np.all(np.diff(usage) <= 0)
    squared = ((image[:, :, None, :].astype(np.int64) - palette[None, None].astype(np.int64)) ** 2).sum(axis=3)
    chosen = np.take_along_axis(squared, labels[:, :, None].astype(np.int64), axis=2)[:, :, 0]
    assert np.array_equal(chosen, squared.min(axis=2))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 256), levels=st.sampled_from([2, 3, 5, 256]))
def test_contract_on_random_images(seed, k, levels):
    image = random_image(seed, height=12 + seed % 20, width=9 + seed % 13, levels=levels)
    palette, labels = palette_kmeans(image, k, seed=seed)
    assert_contract(image, k, palette, labels)


@pytest.mark.parametrize("k", [48, 256])
def test_every_color_of_a_photo_gets_its_nearest_palette_color(k):
    # From k = 48 most colors keep the label Lloyd's bounds prove nearest; brute force over the
    # distinct colors of the full-size photo (about 97,000) checks every one of them.
    image = load_sample_image("china.jpg")
    palette, labels = palette_kmeans(image, k)
    colors, first = np.unique(image.reshape(-1, 3), axis=0, return_index=True)
    colors, entries, chosen = colors.astype(np.float64), palette.astype(np.float64), labels.ravel()[first]
    for rows in np.array_split(np.arange(len(colors)), 8):  # integers: float64 is exact
        squared = (colors[rows] ** 2).sum(axis=1)[:, None] + (entries**2).sum(axis=1) - 2 * colors[rows] @ entries.T
        assert np.array_equal(squared[np.arange(len(rows)), chosen[rows]], squared.min(axis=1))


def test_fewer_distinct_colors_than_k_gives_exactly_those_colors_by_count():
    image = np.zeros((3, 4, 3), dtype=np.uint8)
    image[0, :3] = [255, 0, 0]
    image[1, :] = [0, 0, 255]
    image[2, :2] = [0, 255, 0]
    palette, labels = palette_kmeans(image, 16)
    assert palette.tolist() == [[0, 0, 255], [0, 0, 0], [255, 0, 0], [0, 255, 0]]
    assert np.array_equal(palette[labels], image)


def test_one_color_is_the_rounded_mean():
    image = random_image(1)
    palette, labels = palette_kmeans(image, 1)
    assert palette.tolist() == [np.rint(image.reshape(-1, 3).mean(axis=0)).astype(int).tolist()]
    assert not labels.any()


def test_two_separated_groups_found_exactly():
    # Hand-worked: dark colors around (10, 20, 30) and light ones around (200, 210, 220).
    dark = [[8, 20, 30], [12, 20, 30], [10, 18, 30]]
    image = np.array([dark, [[10, 22, 30], [200, 210, 220], [202, 210, 220]]], np.uint8)
    palette, labels = palette_kmeans(image, 2)
    assert palette.tolist() == [[10, 20, 30], [201, 210, 220]]
    assert labels.tolist() == [[0, 0, 0], [0, 1, 1]]


def test_palette_is_a_kmeans_fixed_point_on_every_pixel():
    # Converged k-means: each palette color is its pixels' mean (up to rounding to uint8),
    # recomputed here pixel by pixel, independently of the histograms the module uses.
    image = random_image(7, height=30, width=30, levels=6)
    palette, labels = palette_kmeans(image, 5)
    pixels = image.reshape(-1, 3).astype(np.float64)
    flat = labels.ravel()
    means = np.array([pixels[flat == j].mean(axis=0) for j in range(len(palette))])
    assert np.abs(means - palette).max() <= 0.5 + 1e-9


def test_same_seed_same_result_and_seeds_differ_at_most_a_little():
    image = quarter_size("flower.jpg")
    first = palette_kmeans(image, 16, seed=3)
    again = palette_kmeans(image.copy(), 16, seed=3)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    errors = [average_error(image, *palette_kmeans(image, 16, seed=seed)) for seed in range(3)]
    assert max(errors) <= 1.05 * min(errors)


def test_preparation_is_cached_per_image_content_under_the_byte_budget(monkeypatch):
    from core.content_cache import MemoryBudget, size_in_bytes

    images = [random_image(seed) for seed in range(6)]
    one_table = size_in_bytes(palette_module._build_color_table(images[0]))
    budget = MemoryBudget(int(2.5 * one_table))  # room for two tables of this size
    monkeypatch.setattr(palette_module, "_color_table", ContentCache(palette_module._build_color_table, budget))
    table = palette_module._color_table(images[0])
    assert palette_module._color_table(images[0].copy()) is table
    reshaped = images[0].reshape(50, 40, 3)
    assert palette_module._color_table(reshaped) is not table
    for image in images[1:]:
        palette_module._color_table(image)
    assert len(palette_module._color_table) == 2 and budget.used_bytes <= budget.limit_bytes
    assert palette_module._color_table(images[0]) is not table


def test_table_keeps_no_weighted_sums_of_the_distinct_colors_yet_large_k_matches():
    # Channels 0…7: 512 colors but only 64 bins at 7 bits, so k = 256 runs Lloyd on the distinct colors themselves.
    image = np.random.default_rng(7).integers(0, 8, (40, 50, 3), dtype=np.uint8)
    table = palette_module._build_color_table(image)
    assert table.colors.weighted_sums is None and len(table.histograms[-1].weights) < 256 < len(table.colors.weights)
    assert table.pixel_color.dtype == np.int32 and all(parent.dtype == np.int32 for parent in table.parents)
    palette, labels = palette_kmeans(image, 256)
    assert_contract(image, 256, palette, labels)


def test_accepts_a_non_contiguous_view():
    image = random_image(3, height=20, width=20)
    view = image[::2, ::-1]
    palette, labels = palette_kmeans(view, 4)
    assert_contract(np.ascontiguousarray(view), 4, palette, labels)


@pytest.mark.parametrize("k", [0, 257, -1, 2.5, True, "8", None])
def test_rejects_k_outside_1_to_256(k):
    with pytest.raises(ValueError, match=r"k must be"):
        palette_kmeans(random_image(0), k)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((4, 4), np.uint8),
        np.zeros((4, 4, 4), np.uint8),
        np.zeros((0, 4, 3), np.uint8),
        np.zeros((4, 4, 3), np.float32),
        np.zeros((4, 4, 3), np.int64),
    ],
)
def test_rejects_images_that_are_not_h_w_3_uint8(image):
    with pytest.raises(ValueError, match=r"image must"):
        palette_kmeans(image, 4)
