"""core/images/io.py against Pillow's own conversions, numpy rotations and hand-worked pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from image_files import png_file, png_header_only
from PIL import Image
from sklearn.datasets import load_sample_image

from core.images.io import (
    MAX_ASPECT_RATIO,
    MAX_FILE_BYTES,
    MAX_SOURCE_PIXELS,
    display_size,
    distinct_colors,
    frame_count,
    image_digest,
    load_image,
    nearest_resize,
    palette_png,
    png_bytes,
    sample_image,
)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def noise(height: int = 30, width: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize(("fmt", "options"), [("PNG", {}), ("BMP", {}), ("TIFF", {}), ("WEBP", {"lossless": True})])
def test_lossless_formats_round_trip_exactly(fmt: str, options: dict) -> None:
    pixels = noise()
    loaded = load_image(encode(Image.fromarray(pixels), fmt, **options))
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.flags.c_contiguous
    np.testing.assert_array_equal(loaded.pixels, pixels)
    assert loaded.notices == ()


def test_jpeg_decodes_like_pillow() -> None:
    data = encode(Image.fromarray(noise()), "JPEG", quality=90)
    np.testing.assert_array_equal(load_image(data).pixels, np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))


def test_rgba_is_composited_on_white() -> None:
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)
    rgba[0, 0] = (200, 100, 0, 128)  # (200·128 + 255·127) / 255 = 227.4, (100·128 + 255·127) / 255 = 177.2
    rgba[0, 1] = (10, 20, 30, 0)  # fully transparent -> white
    rgba[0, 2] = (10, 20, 30, 255)  # opaque -> itself
    loaded = load_image(encode(Image.fromarray(rgba), "PNG")).pixels
    assert loaded[0, 0].tolist() == [227, 177, 127]
    assert loaded[0, 1].tolist() == [255, 255, 255]
    assert loaded[0, 2].tolist() == [10, 20, 30]


def test_rgba_matches_pillow_alpha_composite_within_rounding() -> None:
    rgba = np.random.default_rng(1).integers(0, 256, (20, 20, 4), dtype=np.uint8)
    white = Image.new("RGBA", (20, 20), (255, 255, 255, 255))
    reference = np.asarray(Image.alpha_composite(white, Image.fromarray(rgba)).convert("RGB")).astype(int)
    loaded = load_image(encode(Image.fromarray(rgba), "PNG")).pixels.astype(int)
    assert np.abs(loaded - reference).max() <= 1


def test_grayscale_and_gray_alpha_become_three_equal_channels() -> None:
    gray = noise()[:, :, 0]
    loaded = load_image(encode(Image.fromarray(gray), "PNG")).pixels
    np.testing.assert_array_equal(loaded, np.stack([gray] * 3, axis=2))
    gray_alpha = Image.fromarray(np.stack([gray, np.full_like(gray, 255)], axis=2))
    assert gray_alpha.mode == "LA"
    np.testing.assert_array_equal(load_image(encode(gray_alpha, "PNG")).pixels, np.stack([gray] * 3, axis=2))


def test_palette_image_with_transparent_index_shows_white() -> None:
    image = Image.fromarray(np.array([[0, 1], [1, 0]], dtype=np.uint8))
    image.putpalette([255, 0, 0, 0, 0, 255])
    loaded = load_image(encode(image, "GIF", transparency=1)).pixels
    assert loaded[0, 0].tolist() == [255, 0, 0]
    assert loaded[0, 1].tolist() == [255, 255, 255]


def test_sixteen_bit_grayscale_is_scaled_not_clipped() -> None:
    deep = np.array([[0, 257 * 100, 65535, 128]], dtype=np.uint16)
    image = Image.fromarray(deep)
    assert image.mode.startswith("I;16")
    loaded = load_image(encode(image, "PNG")).pixels
    assert loaded[0, :, 0].tolist() == [0, 100, 255, 0]  # 128 / 257 = 0.498 rounds down
    assert (loaded == loaded[:, :, :1]).all()


def test_cmyk_converts_like_pillow() -> None:
    cmyk = Image.frombytes("CMYK", (4, 1), bytes([255, 0, 0, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0, 0, 0, 255]))
    loaded = load_image(encode(cmyk, "TIFF")).pixels
    assert loaded[0].tolist() == [[0, 255, 255], [255, 0, 255], [255, 255, 0], [0, 0, 0]]


def test_cmyk_jpeg_converts_to_the_expected_colors() -> None:
    cmyk = Image.frombytes("CMYK", (2, 1), bytes([255, 0, 0, 0, 0, 0, 0, 0])).resize((32, 16), Image.Resampling.NEAREST)
    loaded = load_image(encode(cmyk, "JPEG", quality=95)).pixels.astype(int)
    assert np.abs(loaded[8, 4] - [0, 255, 255]).max() <= 8  # cyan
    assert np.abs(loaded[8, 28] - [255, 255, 255]).max() <= 8  # no ink: white


def test_sixteen_bit_rgb_png_keeps_the_high_byte() -> None:
    samples = np.array([[[65535, 0, 128 * 257], [257, 1000, 65280]]], dtype=">u2")  # big-endian, as PNG stores them
    rows = b"".join(b"\0" + row.tobytes() for row in samples)  # filter byte 0, then the samples
    assert load_image(png_file(2, 1, 16, rows)).pixels.tolist() == [[[255, 0, 128], [1, 3, 255]]]


def test_exif_orientation_turns_the_image_upright() -> None:
    pixels = noise(4, 6, seed=2)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated; display needs a quarter turn clockwise
    loaded = load_image(encode(Image.fromarray(pixels), "PNG", exif=exif))
    np.testing.assert_array_equal(loaded.pixels, np.rot90(pixels, k=-1))
    assert any("EXIF" in notice for notice in loaded.notices)


def test_animated_gif_gives_its_first_frame_with_a_notice() -> None:
    frames = [Image.new("RGB", (8, 8), color) for color in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    loaded = load_image(data)
    assert (loaded.pixels == [255, 0, 0]).all()
    assert any("3 frames" in notice for notice in loaded.notices)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_large_image_is_downscaled_within_the_cap_with_a_notice(fmt: str) -> None:
    image = Image.fromarray(np.tile(noise(1, 300)[:, :, :], (200, 1, 1)))  # 300 x 200 = 60,000 pixels
    loaded = load_image(encode(image, fmt), max_pixels=6_000)
    height, width = loaded.pixels.shape[:2]
    assert height * width <= 6_000
    assert height * width > 5_800  # no more shrinking than needed
    assert abs(width / height - 1.5) < 0.02
    assert any("300×200" in notice and "0.006 MP" in notice for notice in loaded.notices)


def test_jpeg_decoded_at_exactly_half_scale_still_says_so() -> None:
    data = encode(Image.fromarray(np.tile(noise(1, 400), (300, 1, 1))), "JPEG")
    loaded = load_image(data, max_pixels=200 * 150)
    assert loaded.pixels.shape == (150, 200, 3)
    assert any("Downscaled from 400×300" in notice for notice in loaded.notices)


def test_default_cap_is_four_megapixels() -> None:
    data = encode(Image.new("RGB", (2500, 2000), (10, 200, 30)), "PNG")
    pixels = load_image(data).pixels
    assert pixels.shape[0] * pixels.shape[1] <= 4_000_000
    assert (pixels == [10, 200, 30]).all()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"hello, this is plain text and not a picture", "not an image"),
        (encode(Image.new("RGB", (4, 4)), "PPM"), "not an image"),  # a real image, but not an accepted format
        (encode(Image.fromarray(noise(64, 64)), "PNG")[:400], "truncated: it ends after 400 bytes"),
        (png_header_only(8_000, 6_000), "48,000,000 pixels"),
        (png_header_only(30_000, 30_000), "pixels"),  # beyond Pillow's own bomb limit
    ],
)
def test_unusable_files_raise_value_error_naming_the_problem(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_image(data)


def test_bomb_guard_names_the_cap() -> None:
    with pytest.raises(ValueError, match=f"{MAX_SOURCE_PIXELS:,}"):
        load_image(png_header_only(10_000, 10_000))


def test_corrupt_pixel_data_raises_value_error() -> None:
    data = bytearray(encode(Image.fromarray(noise(64, 64)), "PNG"))
    data[100:200] = bytes(100)  # zero a stretch of the compressed pixels
    with pytest.raises(ValueError, match="readable"):
        load_image(bytes(data))


def test_float_images_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="floating-point"):
        load_image(encode(Image.fromarray(np.ones((4, 4), dtype=np.float32)), "TIFF"))


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="max_pixels"):
        load_image(b"x", max_pixels=0)
    with pytest.raises(ValueError, match="data must be the bytes"):
        load_image("photo.png")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["china.jpg", "flower.jpg"])
def test_sample_images_match_scikit_learn(name: str) -> None:
    np.testing.assert_array_equal(sample_image(name), load_sample_image(name))


def test_unknown_sample_is_refused() -> None:
    with pytest.raises(ValueError, match="china.jpg"):
        sample_image("lena.png")


def test_digest_follows_content_and_shape() -> None:
    pixels = noise()
    assert image_digest(pixels) == image_digest(pixels.copy())
    changed = pixels.copy()
    changed[5, 5, 1] ^= 1
    assert image_digest(changed) != image_digest(pixels)
    assert image_digest(pixels.reshape(40, 30, 3)) != image_digest(pixels)


def test_distinct_colors_counts_like_numpy_unique_rows() -> None:
    pixels = noise(40, 50) // 64  # 4 levels per channel: at most 64 colors
    assert distinct_colors(pixels) == len(np.unique(pixels.reshape(-1, 3), axis=0))
    assert distinct_colors(np.zeros((3, 3, 3), dtype=np.uint8)) == 1


def test_png_bytes_decode_to_the_same_pixels() -> None:
    pixels = noise()
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png_bytes(pixels)))), pixels)


@pytest.mark.parametrize("k", [1, 2, 5, 16, 200, 256])
def test_palette_png_holds_exactly_the_palette(k: int) -> None:
    rng = np.random.default_rng(k)
    palette = rng.choice(256**3, size=k, replace=False)
    palette = np.stack([palette >> 16, (palette >> 8) & 255, palette & 255], axis=1).astype(np.uint8)
    labels = rng.integers(0, k, (30, 50))
    image = Image.open(io.BytesIO(palette_png(palette, labels)))
    assert image.mode == "P"
    rgb = np.asarray(image.convert("RGB"))
    np.testing.assert_array_equal(rgb, palette[labels])
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) == len(np.unique(labels))


def test_palette_png_checks_its_inputs() -> None:
    palette = np.zeros((4, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="labels must index the palette"):
        palette_png(palette, np.full((2, 2), 4))
    with pytest.raises(ValueError, match="palette must be"):
        palette_png(np.zeros((257, 3), dtype=np.uint8), np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match="labels must be"):
        palette_png(palette, np.zeros(4, dtype=int))


@pytest.mark.parametrize(("width", "height"), [(MAX_ASPECT_RATIO * 10, 10), (10, MAX_ASPECT_RATIO * 10)])
def test_sides_up_to_the_aspect_limit_load_and_one_pixel_more_is_refused(width: int, height: int) -> None:
    assert load_image(encode(Image.new("RGB", (width, height)), "PNG")).pixels.shape == (height, width, 3)
    longer = (width + 1, height) if width > height else (width, height + 1)
    with pytest.raises(ValueError, match=f"{longer[0]:,}×{longer[1]:,} pixels.*at most {MAX_ASPECT_RATIO}:1"):
        load_image(encode(Image.new("RGB", longer), "PNG"))


def test_a_file_over_the_byte_cap_is_refused_naming_both_sizes() -> None:
    with pytest.raises(ValueError, match=f"{MAX_FILE_BYTES + 1:,} bytes; at most {MAX_FILE_BYTES:,} bytes"):
        load_image(bytes(MAX_FILE_BYTES + 1))


def test_a_complete_jpeg_passes_the_data_bound_and_a_cut_one_is_truncated() -> None:
    whole = encode(Image.fromarray(noise(800, 1200)), "JPEG", quality=90)
    assert load_image(whole).pixels.shape == (800, 1200, 3)
    # 1200×800 has 150 × 100 = 15,000 blocks: a Huffman-coded file needs at least 15,000 / 8 = 1,875 bytes.
    start = whole[: whole.index(b"\xff\xda") + 14] + b"\xff\xd9"
    assert len(start) < 1_875
    with pytest.raises(ValueError, match="at least 1,875 bytes"):
        load_image(start)


@pytest.mark.parametrize(
    ("values", "expected", "notice"),
    [
        ([0, 100, 252], [0, 100, 252], "within 0…255"),
        ([0, 257 * 100, 65535], [0, 100, 255], "within 0…65535"),
        ([-1000, 0, 1000], [0, 128, 255], "stretched"),  # (0 + 1000) / 2000 · 255 = 127.5 -> 128
    ],
)
def test_thirty_two_bit_gray_is_scaled_by_the_range_its_values_fill(values, expected, notice) -> None:
    gray = np.array([values] * 2, dtype=np.int32)
    loaded = load_image(encode(Image.fromarray(gray, "I"), "TIFF"))
    assert loaded.pixels[0, :, 0].tolist() == expected and (loaded.pixels[..., 0] == loaded.pixels[..., 2]).all()
    assert any(notice in text for text in loaded.notices)


@pytest.mark.parametrize("frames", [1, 3, 7])
def test_frame_count_is_exact_below_the_cap_and_stops_at_it(frames: int) -> None:
    pages = [Image.new("L", (2, 2), 40 * i) for i in range(frames)]
    image = Image.open(io.BytesIO(encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])))
    assert frame_count(image, cap=5) == min(frames, 5)
    assert image.tell() == 0 and np.asarray(image)[0, 0] == 0  # back on the first page


def test_display_size_caps_the_width_and_never_rounds_a_side_to_zero() -> None:
    assert display_size(880, 602, 1460) == (880, 602)
    assert display_size(2920, 1000, 1460) == (1460, 500)
    assert display_size(3000, 2, 1460) == (1460, 1)  # 0.97 would round to 0


def test_nearest_resize_takes_the_pixel_under_each_centre() -> None:
    labels = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(nearest_resize(labels, 2, 3), [[1, 3], [5, 7], [9, 11]])
    np.testing.assert_array_equal(nearest_resize(labels, 4, 3), labels)
    rgb = noise(8, 8)
    np.testing.assert_array_equal(nearest_resize(rgb, 4, 4), rgb[1::2, 1::2])
