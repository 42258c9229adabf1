"""Image files in and out: decode an upload to a plain (H, W, 3) uint8 RGB array, encode PNGs.

Every image read goes through `load_image`, which decides what the image pages accept. The cheap
checks come first, from the file's length and header alone: at most MAX_FILE_BYTES, a declared
canvas of at most MAX_SOURCE_PIXELS with sides at most MAX_ASPECT_RATIO:1, and (JPEG) enough data
for the declared canvas. Only then is the image decoded: one frame (frames are counted up to
MAX_FRAMES_COUNTED, never all of them), EXIF orientation applied, transparency composited on white,
grayscale / palette / CMYK / 16- and 32-bit converted to 8-bit RGB, and at most `max_pixels` pixels.
Anything Pillow cannot decode safely becomes a ValueError naming the limit and what was received.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from core.checks import integer_in_range, rgb_image

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
UPLOAD_EXTENSIONS = ("png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff")
MAX_FILE_BYTES = 25_000_000  # 25 MB as every browser counts it (Windows counts MB in MiB: 26,214,400)
MAX_PIXELS = 4_000_000
# Larger sources are refused before decoding: a small file can declare a huge canvas.
MAX_SOURCE_PIXELS = 40_000_000
# A longer strip is a line, not a picture, in a page column (and a 40,000,000×1 PNG takes 4.9 kB).
MAX_ASPECT_RATIO = 20
# Counting every page of a TIFF costs time quadratic in the pages (200,000 took minutes); only the first is used.
MAX_FRAMES_COUNTED = 100
# Every Huffman-coded JPEG block costs at least one bit: a shorter file cannot hold its declared canvas.
_JPEG_MIN_BITS_PER_BLOCK = 1
_JPEG_ARITHMETIC_MARKERS = (b"\xff\xc9", b"\xff\xca", b"\xff\xcb", b"\xff\xcd", b"\xff\xce", b"\xff\xcf")
SAMPLE_IMAGES = ("china.jpg", "flower.jpg")
ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class LoadedImage:
    """An image ready for the pages: `pixels` (H, W, 3) uint8 RGB; `notices` say what was changed."""

    pixels: np.ndarray
    notices: tuple[str, ...] = ()


def load_image(data: bytes, max_pixels: int = MAX_PIXELS) -> LoadedImage:
    """Decode image file bytes to RGB uint8, downscaled to at most `max_pixels`; ValueError if unusable.

    >>> load_image(open("photo.png", "rb").read()).pixels.shape  # doctest: +SKIP
    (602, 880, 3)
    """
    max_pixels = integer_in_range(max_pixels, "max_pixels", 1, MAX_SOURCE_PIXELS)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"data must be the bytes of an image file; got {type(data).__name__}")
    data = bytes(data)
    if len(data) == 0:
        raise ValueError(f"the file is empty (0 bytes); accepted formats: {', '.join(ACCEPTED_FORMATS)}")
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"the file is {len(data):,} bytes; at most {MAX_FILE_BYTES:,} bytes ({MAX_FILE_BYTES / 1e6:g} MB) are accepted")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the stricter cap below applies
        try:
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
        except Image.UnidentifiedImageError as error:
            raise ValueError(
                f"the file is not an image in an accepted format ({', '.join(ACCEPTED_FORMATS)})"
            ) from error
        except Image.DecompressionBombError as error:
            raise ValueError(_too_large(f"more than {2 * Image.MAX_IMAGE_PIXELS:,}")) from error
        except Exception as error:
            raise _unreadable(error) from error
    _check_canvas(image, data)
    if image.mode == "F":
        raise ValueError("32-bit floating-point images are not supported; save the image with 8, 16 or 32-bit integers")
    try:
        return _decode(image, max_pixels)
    except OSError as error:
        if "truncated" in str(error):
            raise ValueError(f"the file is truncated: it ends after {len(data):,} bytes, before its pixel data") from error
        raise _unreadable(error) from error
    except Exception as error:
        raise _unreadable(error) from error


def sample_image(name: str) -> np.ndarray:
    """Return one of scikit-learn's bundled photos (`SAMPLE_IMAGES`) as (H, W, 3) uint8, read from disk."""
    if name not in SAMPLE_IMAGES:
        raise ValueError(f"name must be one of {', '.join(SAMPLE_IMAGES)}; got {name!r}")
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("scikit-learn is not installed, so its sample images are unavailable")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "images" / name
    return load_image(path.read_bytes()).pixels


def image_digest(pixels: np.ndarray) -> str:
    """Return a short hex digest of an (H, W, 3) uint8 image's shape and content, for cache keys."""
    pixels = rgb_image(pixels, "pixels")
    digest = hashlib.blake2b(str(pixels.shape).encode(), digest_size=16)
    digest.update(np.ascontiguousarray(pixels).data)
    return digest.hexdigest()


def distinct_colors(pixels: np.ndarray) -> int:
    """Number of different RGB colors in an (H, W, 3) uint8 image."""
    channels = rgb_image(pixels, "pixels").reshape(-1, 3).astype(np.uint32)
    return int(np.unique((channels[:, 0] << 16) | (channels[:, 1] << 8) | channels[:, 2]).size)


def png_bytes(pixels: np.ndarray) -> bytes:
    """Encode an (H, W, 3) uint8 RGB image as a PNG file (Pillow's default compression)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb_image(pixels, "pixels")).save(buffer, format="PNG")
    return buffer.getvalue()


def palette_png(palette: np.ndarray, labels: np.ndarray) -> bytes:
    """Encode labels (H, W) indexing palette (n <= 256, 3) uint8 as an 8-bit palette ("P" mode) PNG.

    The file holds exactly the palette's colors, unlike a JPEG re-encode of palette[labels].
    """
    palette = np.asarray(palette)
    if palette.ndim != 2 or palette.shape[1] != 3 or not 1 <= palette.shape[0] <= 256 or palette.dtype != np.uint8:
        raise ValueError(f"palette must be (n, 3) uint8 with 1 <= n <= 256; got shape {palette.shape}, dtype {palette.dtype}")
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.size == 0 or labels.dtype.kind not in "ui":
        raise ValueError(f"labels must be a non-empty (H, W) integer array; got shape {labels.shape}, dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= palette.shape[0]:
        raise ValueError(f"labels must index the palette (0…{palette.shape[0] - 1}); got {labels.min()}…{labels.max()}")
    image = Image.fromarray(labels.astype(np.uint8, copy=False))
    image.putpalette(palette.tobytes())  # turns the "L" image of indices into a "P" image
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def display_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """(width, height) scaled to at most max_width wide, same aspect ratio, neither side below 1 pixel."""
    if width <= max_width:
        return width, height
    return max_width, max(1, round(height * max_width / width))


def nearest_resize(array: np.ndarray, width: int, height: int) -> np.ndarray:
    """An (H, W, ...) array resized to (height, width, ...) by taking the nearest pixel: labels stay labels."""
    array = np.asarray(array)
    if array.ndim < 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"array must be (H, W, ...) with H, W >= 1; got shape {array.shape}")
    width = integer_in_range(width, "width", 1, MAX_SOURCE_PIXELS)
    height = integer_in_range(height, "height", 1, MAX_SOURCE_PIXELS)
    rows = (np.arange(height) * 2 + 1) * array.shape[0] // (2 * height)  # the source pixel under each centre
    columns = (np.arange(width) * 2 + 1) * array.shape[1] // (2 * width)
    return array[rows[:, None], columns[None, :]]


def frame_count(image: Image.Image, cap: int = MAX_FRAMES_COUNTED) -> int:
    """Frames (pages) of an opened image, counted only up to `cap`; leaves frame 0 current.

    First one seek to frame cap - 1 (GIF skips the frames between undecoded); a file with fewer frames
    is then counted one seek at a time. Pillow's own n_frames walks every page, in time quadratic in
    the pages for TIFF, and is wrong after a failed seek there.
    """
    try:
        image.seek(cap - 1)
        count = cap
    except EOFError:
        count = 1
        with contextlib.suppress(EOFError):
            while count < cap:
                image.seek(count)
                count += 1
    image.seek(0)
    return count


def _check_canvas(image: Image.Image, data: bytes) -> None:
    """Refuse, from the header alone, a canvas too large, too elongated, or (JPEG) with too little data."""
    width, height = image.size
    if width * height > MAX_SOURCE_PIXELS:
        raise ValueError(_too_large(f"{width}×{height} = {width * height:,}"))
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        ratio = max(width, height) / min(width, height)
        raise ValueError(
            f"the image is {width:,}×{height:,} pixels, a side ratio of {ratio:,.1f}:1; "
            f"at most {MAX_ASPECT_RATIO}:1 is accepted (a longer strip is a line, not a picture)"
        )
    if image.format == "JPEG" and not any(marker in data for marker in _JPEG_ARITHMETIC_MARKERS):
        blocks = -(-width // 8) * -(-height // 8)
        needed = blocks * _JPEG_MIN_BITS_PER_BLOCK // 8
        if len(data) < needed:
            raise ValueError(
                f"the file is truncated: a complete {width}×{height} JPEG holds at least {needed:,} bytes "
                f"(one bit for each of its {blocks:,} 8×8 blocks); this file has {len(data):,}"
            )


def _too_large(declared: str) -> str:
    return f"the image declares {declared} pixels; at most {MAX_SOURCE_PIXELS:,} are accepted (decompression-bomb guard)"


def _unreadable(error: Exception) -> ValueError:
    # Pillow reports corrupt input with many exception types (OSError, SyntaxError, struct.error, ...).
    return ValueError(
        f"the file is not a readable image ({type(error).__name__}: {error}); "
        f"accepted formats: {', '.join(ACCEPTED_FORMATS)}"
    )


def _decode(image: Image.Image, max_pixels: int) -> LoadedImage:
    """Opened image -> first frame, upright, RGB uint8, at most max_pixels, with notices."""
    notices = []
    frames = frame_count(image)
    if frames >= MAX_FRAMES_COUNTED:
        notices.append(f"The file holds at least {frames} frames (counting stopped there); the first one is used.")
    elif frames > 1:
        notices.append(f"The file holds {frames} frames; the first one is used.")
    width, height = image.size
    target = _fit(width, height, max_pixels)
    if target != (width, height) and image.format == "JPEG":
        image.draft(image.mode, target)  # decode at 1/2, 1/4 or 1/8 scale when that is still large enough
    orientation = image.getexif().get(ORIENTATION_TAG, 1)
    if orientation in (5, 6, 7, 8):  # a quarter turn swaps width and height
        width, height = height, width
    image = ImageOps.exif_transpose(image)
    if orientation in range(2, 9):
        notices.append("Turned upright as the file's EXIF orientation tag asks.")
    pixels, gray_notice = _to_rgb(image)
    if gray_notice:
        notices.append(gray_notice)
    target = _fit(pixels.shape[1], pixels.shape[0], max_pixels)
    if target != (pixels.shape[1], pixels.shape[0]):
        pixels = np.asarray(Image.fromarray(pixels).resize(target, Image.Resampling.LANCZOS))
    if pixels.shape[:2] != (height, width):  # by the JPEG draft, the resize or both
        notices.append(
            f"Downscaled from {width}×{height} ({width * height / 1e6:.1f} MP) to "
            f"{pixels.shape[1]}×{pixels.shape[0]} to stay within {max_pixels / 1e6:g} MP."
        )
    return LoadedImage(np.ascontiguousarray(pixels, dtype=np.uint8), tuple(notices))


def _fit(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """Largest (width, height) with the same aspect ratio and at most max_pixels pixels."""
    if width * height <= max_pixels:
        return width, height
    scale = (max_pixels / (width * height)) ** 0.5
    new_width, new_height = max(1, int(width * scale)), max(1, int(height * scale))
    while new_width * new_height > max_pixels:
        if new_width >= new_height:
            new_width -= 1
        else:
            new_height -= 1
    return new_width, new_height


def _to_rgb(image: Image.Image) -> tuple[np.ndarray, str | None]:
    """Any Pillow mode -> (H, W, 3) uint8 and a notice of how integer gray was scaled (or None).

    16-bit gray is scaled from 0…65535; transparency is composited on white.
    """
    if image.mode.startswith("I;16"):
        return _gray_to_rgb(_scaled_to_byte(np.asarray(image), 0, 65535)), None
    if image.mode == "I":
        return _thirty_two_bit_to_rgb(np.asarray(image))
    if image.has_transparency_data:
        rgba = np.asarray(image.convert("RGBA")).astype(np.uint16)
        alpha = rgba[:, :, 3:]
        return ((rgba[:, :, :3] * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8), None
    return np.asarray(image.convert("RGB")), None


def _thirty_two_bit_to_rgb(gray: np.ndarray) -> tuple[np.ndarray, str]:
    """32-bit integer gray -> RGB: read as 8-bit when every value fits 0…255, as 16-bit when it fits 0…65535,
    else stretched from its own lowest to highest value; the notice says which."""
    low, high = int(gray.min()), int(gray.max())
    if low >= 0 and high <= 255:
        return _gray_to_rgb(gray.astype(np.uint8)), f"32-bit integer pixels, all within 0…255 ({low}…{high}): read as 8-bit."
    if low >= 0 and high <= 65535:
        return _gray_to_rgb(_scaled_to_byte(gray, 0, 65535)), f"32-bit integer pixels, all within 0…65535 ({low:,}…{high:,}): scaled as 16-bit."
    return _gray_to_rgb(_scaled_to_byte(gray, low, high)), f"32-bit integer pixels from {low:,} to {high:,}: stretched to 0…255."


def _scaled_to_byte(gray: np.ndarray, low: int, high: int) -> np.ndarray:
    """Integers in low…high mapped linearly to 0…255, rounded to nearest."""
    span = max(high - low, 1)
    return np.rint((gray.astype(np.float64) - low) * (255 / span)).clip(0, 255).astype(np.uint8)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[:, :, None], 3, axis=2)
    if image.has_transparency_data:
        rgba = np.asarray(image.convert("RGBA")).astype(np.uint16)
        alpha = rgba[:, :, 3:]
        return ((rgba[:, :, :3] * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)
    return np.asarray(image.convert("RGB"))
