"""Image files in and out: decode an upload to a plain (H, W, 3) uint8 RGB array, encode PNGs.

Every image read goes through `load_image`: one frame, EXIF orientation applied, transparency
composited on white, grayscale / palette / CMYK / 16-bit converted to 8-bit RGB, and at most
`max_pixels` pixels. Anything Pillow cannot decode safely becomes a ValueError.
"""

from __future__ import annotations

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
MAX_PIXELS = 4_000_000
# Larger sources are refused before decoding: a small file can declare a huge canvas.
MAX_SOURCE_PIXELS = 40_000_000
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
    if len(data) == 0:
        raise ValueError(f"the file is empty (0 bytes); accepted formats: {', '.join(ACCEPTED_FORMATS)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the stricter cap below applies
        try:
            image = Image.open(io.BytesIO(bytes(data)), formats=ACCEPTED_FORMATS)
        except Image.UnidentifiedImageError as error:
            raise ValueError(
                f"the file is not an image in an accepted format ({', '.join(ACCEPTED_FORMATS)})"
            ) from error
        except Image.DecompressionBombError as error:
            raise ValueError(_too_large(f"more than {2 * Image.MAX_IMAGE_PIXELS:,}")) from error
        except Exception as error:
            raise _unreadable(error) from error
    width, height = image.size
    if width * height > MAX_SOURCE_PIXELS:
        raise ValueError(_too_large(f"{width}×{height} = {width * height:,}"))
    if image.mode == "F":
        raise ValueError("32-bit floating-point images are not supported; save the image with 8 or 16 bits")
    try:
        return _decode(image, max_pixels)
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
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        notices.append(f"The file holds {frames} frames; the first one is shown.")
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
    pixels = _to_rgb(image)
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


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8: 16-bit scaled to 8, transparency composited on white."""
    if image.mode.startswith("I"):
        gray = np.asarray(image).astype(np.int64).clip(0, 65535)
        gray = ((gray + 128) // 257).astype(np.uint8)  # 0…65535 -> 0…255, rounded
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image.has_transparency_data:
        rgba = np.asarray(image.convert("RGBA")).astype(np.uint16)
        alpha = rgba[:, :, 3:]
        return ((rgba[:, :, :3] * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)
    return np.asarray(image.convert("RGB"))
