"""Draw the tab icon and the landing page's chapter pictures from the app's own functions, and save them as PNGs.

Run from the project's folder: `.venv/bin/python -m assets.chapter_pictures` (about 10 s; deterministic).
Each picture is what its chapter computes, made small: the pictures are never drawn while the app runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from safetensors.numpy import load_file

from core import distributions
from core.images.io import sample_image
from core.images.palette import palette_kmeans
from core.measure.image_error import pixel_error
from core.models import autoencoder
from core.models.mnist import SIDE, load_split
from core.compress.prune import magnitude_mask
from core.quantize import calibration, dtypes, formats, linear, qlinear
from core.quantize.gptq import gptq_quantize
from core.quantize.kmeans import kmeans_1d
from core.quantize.weight_sharing import quantize_weights

ASSETS = Path(__file__).resolve().parent
MODELS = ASSETS.parent / "models"
CHAPTERS = ASSETS / "chapters"
WIDTH, HEIGHT = 480, 270
BACKGROUND = (255, 255, 255)
BLUE, WHITE, RED = np.array([33, 102, 172]), np.array([247, 247, 247]), np.array([178, 24, 43])
SIGN, EXPONENT, MANTISSA = (214, 39, 40), (44, 160, 44), (31, 119, 180)  # chapters/data_types.py's colours
ORANGE, STEEL = (255, 140, 0), (70, 130, 180)


def diverging(values: np.ndarray, limit: float) -> np.ndarray:
    """(H, W) values in [-limit, limit] -> (H, W, 3) uint8 blue-white-red, as the Weights page's heatmaps."""
    t = np.clip(values / limit, -1, 1)[..., None]
    colors = np.where(t < 0, WHITE + (BLUE - WHITE) * -t, WHITE + (RED - WHITE) * t)
    return np.rint(colors).astype(np.uint8)


def reds(values: np.ndarray, limit: float) -> np.ndarray:
    """(H, W) values in [0, limit] -> (H, W, 3) uint8 white to dark red."""
    t = np.clip(values / limit, 0, 1)[..., None]
    return np.rint(WHITE + (np.array([103, 0, 13]) - WHITE) * t).astype(np.uint8)


def enlarged(pixels: np.ndarray, width: int, height: int) -> Image.Image:
    """An array image resized without smoothing, so each value stays a visible block."""
    return Image.fromarray(pixels).resize((width, height), Image.Resampling.NEAREST)


def side_by_side(*panels: Image.Image, gap: int = 12) -> Image.Image:
    """Panels of equal size in a row, centred on the picture's canvas."""
    canvas = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    total = sum(panel.width for panel in panels) + gap * (len(panels) - 1)
    x = (WIDTH - total) // 2
    for panel in panels:
        canvas.paste(panel, (x, (HEIGHT - panel.height) // 2))
        x += panel.width + gap
    return canvas


def photo() -> np.ndarray:
    """The default photo, cropped to the pictures' 16:9."""
    pixels = sample_image("china.jpg")
    height = pixels.shape[1] * HEIGHT // WIDTH
    top = (pixels.shape[0] - height) // 2
    return np.ascontiguousarray(pixels[top : top + height])


def shared(pixels: np.ndarray, k: int) -> np.ndarray:
    palette, labels = palette_kmeans(pixels, k)
    return palette[labels]


def shared_colors() -> Image.Image:
    """Left half the photo, right half the same photo with 6 shared colors."""
    pixels = photo()
    half = pixels.shape[1] // 2
    mixed = np.concatenate([pixels[:, :half], shared(pixels, 6)[:, half:]], axis=1)
    mixed[:, half - 1 : half + 1] = 255
    return Image.fromarray(mixed).resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)


def quantization_error() -> Image.Image:
    """The error map of the photo at 8 shared colors, scaled to its own maximum."""
    pixels = photo()
    error = Image.fromarray(pixel_error(pixels, shared(pixels, 8)).astype(np.float32), mode="F")
    small = np.asarray(error.resize((WIDTH, HEIGHT), Image.Resampling.BOX))
    # 256 shades from white to red: stored as a palette PNG, losslessly, at a fifth of the RGB size
    shades = np.rint(np.clip(small / np.percentile(small, 99), 0, 1) * 255) / 255
    return Image.fromarray(reds(shades, 1.0)).quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def weights() -> Image.Image:
    """W (normal 16×16), its 2-bit k-means Q, and W − Q, on one diverging scale."""
    w = distributions.weight_matrix("normal", 16, seed=1).astype(np.float64)
    q = quantize_weights(w, 2, "kmeans")
    limit = float(np.abs(w).max())
    side = 144
    return side_by_side(*(enlarged(diverging(m, limit), side, side) for m in (w, q, w - q)))


def autoencoder_picture() -> Image.Image:
    """A held-out digit, its float reconstruction and its reconstruction with 2-bit shared weights."""
    state = autoencoder.load_state_dict()
    digit = load_split()[2][7:8]
    rows = [digit, autoencoder.reconstruct(state, digit), autoencoder.reconstruct(autoencoder.quantize_model(state, 2).state_dict, digit)]
    side = 140
    panels = [enlarged(np.rint(np.clip(row.reshape(SIDE, SIDE), 0, 1) * 255).astype(np.uint8), side, side).convert("RGB") for row in rows]
    return side_by_side(*panels)


def data_types() -> Image.Image:
    """Each float format's bits as coloured cells: sign, exponent, mantissa."""
    canvas = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    cell, row_height, x0 = 13, 34, 24
    for row, fmt in enumerate(dtypes.FORMATS.values()):
        y = 38 + row * (row_height + 8)
        colors = [SIGN] + [EXPONENT] * fmt.exponent_bits + [MANTISSA] * fmt.mantissa_bits
        for index, color in enumerate(colors):
            x = x0 + index * cell
            draw.rectangle([x, y, x + cell - 2, y + row_height], fill=color)
    return canvas


def mapping() -> Image.Image:
    """Six floats on one line, joined to their 3-bit affine codes on a ruler of 8 integers below."""
    values = np.array([-2.3, -1.1, 0.0, 1.5, 2.8, 4.0])
    bits = 3
    scale, zero_point = linear.choose_qparams(values, bits, symmetric=False)
    codes = linear.quantize(values, scale, zero_point, bits)
    qmin, qmax = linear.quant_range(bits, symmetric=False)
    ends = (np.array([qmin, qmax]) - zero_point[0]) * scale[0]
    low, high = min(ends[0], values.min()), max(ends[1], values.max())

    def x_of(value: float) -> float:
        return 30 + (value - low) / (high - low) * (WIDTH - 60)

    canvas = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    top, bottom = 70, 200
    draw.line([x_of(low), top, x_of(high), top], fill=(200, 200, 200), width=8)
    draw.line([x_of(low), bottom, x_of(high), bottom], fill=(200, 200, 200), width=8)
    for code in range(qmin, qmax + 1):
        x = x_of((code - zero_point[0]) * scale[0])
        draw.ellipse([x - 5, bottom - 5, x + 5, bottom + 5], fill=(150, 150, 150))
    for value, code in zip(values, codes):
        x_value, x_code = x_of(value), x_of((code - zero_point[0]) * scale[0])
        draw.line([x_value, top, x_code, bottom], fill=STEEL, width=3)
        draw.ellipse([x_value - 9, top - 9, x_value + 9, top + 9], fill=STEEL)
        draw.ellipse([x_code - 9, bottom - 9, x_code + 9, bottom + 9], fill=ORANGE)
    return canvas


def granularity() -> Image.Image:
    """|W − Q| at 3 bits with one scale for the tensor (left) and one per row (right), on one scale."""
    w = distributions.outlier_rows_matrix(64, 64)
    errors = [np.abs(w - linear.fake_quantize(w, 3, symmetric=True, block_size=block)) for block in (w.shape, (1, w.shape[1]))]
    limit = float(max(error.max() for error in errors))
    side = 200
    return side_by_side(*(enlarged(reds(error, limit), side, side) for error in errors), gap=24)


def calibration_picture() -> Image.Image:
    """The histogram of the activations entering fc3 (log counts), with each method's threshold."""
    state = autoencoder.load_state_dict()
    values = autoencoder.layer_inputs(state, load_split()[0][:500])["fc3"].ravel()
    counts, edges = np.histogram(values, bins=120)
    canvas = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    heights = np.log1p(counts) / np.log1p(counts.max()) * (HEIGHT - 50)
    bar = (WIDTH - 40) // len(counts)
    for index, height in enumerate(heights):
        x = 20 + index * bar
        draw.rectangle([x, HEIGHT - 20 - height, x + bar, HEIGHT - 20], fill=(176, 196, 222))
    colors = {"max": (0, 0, 0), "percentile": ORANGE, "entropy": (46, 139, 87), "mse": (220, 20, 60)}
    for method, color in colors.items():
        t = calibration.threshold(values, method, 4)
        x = 20 + (t - edges[0]) / (edges[-1] - edges[0]) * bar * len(counts)
        for y in range(20, HEIGHT - 20, 14):  # dashed, as on the page
            draw.line([x, y, x, y + 8], fill=color, width=3)
    return canvas


def integer_layer() -> Image.Image:
    """A digit's uint8 input codes and the top-left corner of fc1's int8 weights."""
    state = autoencoder.load_state_dict()
    train = load_split()[0]
    inputs = autoencoder.layer_inputs(state, train[:500])
    fc1 = qlinear.quantize_autoencoder(state, autoencoder.LAYER_NAMES, inputs, per_channel=True)[0]
    codes = qlinear.quantize_input(fc1, train[3:4])[0].reshape(SIDE, SIDE).astype(np.uint8)
    weights_corner = fc1.weight[:SIDE, 300 : 300 + SIDE].astype(np.float64)
    side = 180
    return side_by_side(
        enlarged(codes, side, side).convert("RGB"), enlarged(diverging(weights_corner, 127), side, side), gap=24
    )


def deep_compression() -> Image.Image:
    """A corner of LeNet-300-100's first layer, then the same weights pruned to the largest 10% and shared among
    16 values (white: pruned)."""
    weights = load_file(str(MODELS / "lenet_300_100.safetensors"))["ip1.weight"].astype(np.float64)[:60, 300:360]
    kept = magnitude_mask(weights, 0.1)
    shared = np.zeros_like(weights)
    shared[kept] = quantize_weights(weights[kept].reshape(1, -1), 4, "kmeans").ravel()
    limit = float(np.abs(weights).max())
    side = 200
    return side_by_side(*(enlarged(diverging(m, limit), side, side) for m in (weights, shared)), gap=24)


def number_formats() -> Image.Image:
    """64 weights (blue bars) and what MXFP4 keeps of them (orange marks): two blocks of 32, each with one scale."""
    values = distributions.weight_matrix("laplace", 8, seed=2).ravel().astype(np.float64)
    kept = formats.quantize_dequantize(values, "mxfp4").astype(np.float64)
    canvas = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    limit = float(np.abs(values).max())
    middle, half, step = HEIGHT // 2, HEIGHT // 2 - 20, (WIDTH - 40) / values.size
    draw.line([WIDTH / 2, 10, WIDTH / 2, HEIGHT - 10], fill=(180, 180, 180), width=2)  # the two blocks' border
    for index, (value, stored) in enumerate(zip(values, kept)):
        x = 20 + index * step
        draw.rectangle([x + 1, min(middle, middle - value / limit * half), x + step - 1, max(middle, middle - value / limit * half)], fill=STEEL)
        y = middle - stored / limit * half
        draw.line([x, y, x + step, y], fill=ORANGE, width=3)
    return canvas


def output_aware() -> Image.Image:
    """|X Wᵀ − X Qᵀ| of the autoencoder's fc3 on 40 digits × 60 outputs: rounding each weight to nearest at 3 bits
    (left) against GPTQ at 3 bits (right), one color scale."""
    state = autoencoder.load_state_dict()
    inputs = autoencoder.layer_inputs(state, load_split()[0][:500])["fc3"].astype(np.float64)
    weights = state["fc3.weight"].astype(np.float64)
    nearest = linear.fake_quantize(weights, 3, block_size=(1, weights.shape[1])).astype(np.float64)
    gptq = gptq_quantize(weights, inputs, 3).weights.astype(np.float64)
    errors = [np.abs(inputs[:40] @ (weights - q).T)[:, :60] for q in (nearest, gptq)]
    limit = float(max(error.max() for error in errors))
    return side_by_side(*(enlarged(reds(error, limit), 210, 140) for error in errors), gap=24)


def your_weights() -> Image.Image:
    """The histogram of a real layer's weights (the autoencoder's fc2) with the 8 levels 3-bit k-means gives it."""
    weights = autoencoder.load_state_dict()["fc2.weight"].ravel()
    centroids, _ = kmeans_1d(weights, 8, method="fast")
    counts, edges = np.histogram(weights, bins=96)
    canvas = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    bar = (WIDTH - 40) // len(counts)
    def x_of(value: float) -> float:
        return 20 + (value - edges[0]) / (edges[-1] - edges[0]) * bar * len(counts)
    for index, count in enumerate(counts):
        x = 20 + index * bar
        draw.rectangle([x, HEIGHT - 20 - count / counts.max() * (HEIGHT - 50), x + bar, HEIGHT - 20], fill=(176, 196, 222))
    for centroid in centroids:
        draw.line([x_of(centroid), 25, x_of(centroid), HEIGHT - 20], fill=(220, 20, 60), width=3)
    return canvas


def icon() -> Image.Image:
    """The tab icon: a smooth ramp quantized to 2 bits, drawn as four steps in blue."""
    ramp = np.linspace(0.05, 1.0, 64)
    steps = linear.fake_quantize(ramp, 2, symmetric=False)
    canvas = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    for x, level in enumerate(steps):
        draw.line([x, 63, x, 63 - float(level) * 60], fill=(31, 119, 180, 255))
    for x, level in enumerate(ramp):
        draw.point([x, 63 - level * 60], fill=(214, 39, 40, 255))
    return canvas


PICTURES: dict[str, Callable[[], Image.Image]] = {
    "shared_colors": shared_colors,
    "quantization_error": quantization_error,
    "weights": weights,
    "autoencoder": autoencoder_picture,
    "data_types": data_types,
    "mapping": mapping,
    "granularity": granularity,
    "calibration": calibration_picture,
    "integer_layer": integer_layer,
    "deep_compression": deep_compression,
    "output_aware": output_aware,
    "number_formats": number_formats,
    "your_weights": your_weights,
}
"""{page file's stem: its picture}: ui.story finds a chapter's picture by its page's stem."""


def main() -> None:
    CHAPTERS.mkdir(exist_ok=True)
    icon().save(ASSETS / "icon.png", optimize=True)
    for stem, draw in PICTURES.items():
        draw().save(CHAPTERS / f"{stem}.png", optimize=True)
        print(f"assets/chapters/{stem}.png")


if __name__ == "__main__":
    main()
