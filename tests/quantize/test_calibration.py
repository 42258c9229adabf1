"""core/quantize/calibration.py against torch's fake quantization, NVIDIA's loop-form KL calibration and brute force."""

import numpy as np
import pytest
import torch

from core.models.autoencoder import LAYER_NAMES, build_autoencoder
from core.quantize.calibration import (
    METHODS,
    clip_quantize,
    entropy_threshold,
    error_parts,
    first_cut_bin,
    kl_curve,
    layer_thresholds,
    max_threshold,
    mse_curve,
    mse_threshold,
    percentile_threshold,
    quantization_mse,
    quantized_activation_errors,
    reconstruct_with_quantized_activations,
    threshold,
)


def _relu_activations(n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    x = np.maximum(rng.standard_normal(n) - 0.3, 0).astype(np.float32)
    x[:3] *= 25  # rare outliers, as real activations have
    return x


@pytest.mark.parametrize("bits", [8, 4])
def test_unsigned_clip_quantize_equals_torch_fake_quantize(bits):
    x = _relu_activations()
    t = 2.5
    scale = np.float32(t / (2**bits - 1))
    reference = torch.fake_quantize_per_tensor_affine(torch.from_numpy(x), float(scale), 0, 0, 2**bits - 1)
    np.testing.assert_array_equal(clip_quantize(x, t, bits), reference.numpy())


def test_signed_clip_quantize_equals_torch_fake_quantize():
    x = np.random.default_rng(1).standard_normal(5000).astype(np.float32)
    scale = np.float32(1.5 / 127)
    reference = torch.fake_quantize_per_tensor_affine(torch.from_numpy(x), float(scale), 0, -127, 127)
    np.testing.assert_array_equal(clip_quantize(x, 1.5, 8), reference.numpy())


def test_max_and_percentile_thresholds():
    x = _relu_activations()
    assert max_threshold(x) == pytest.approx(float(np.abs(x).max()))
    assert percentile_threshold(x, 99.9) == pytest.approx(float(np.percentile(x, 99.9)))
    assert quantization_mse(x, max_threshold(x), 8) < (max_threshold(x) / 255) ** 2 / 4


def _nvidia_kl_loop(counts, n_levels, first_cut):
    """NVIDIA pytorch-quantization's _compute_amax_entropy loop (zero bin taken from its neighbour), returning the cut."""
    bins = counts.astype(np.float64).copy()
    bins[0] = bins[1]
    divergences, cuts = [], []
    for i in range(first_cut, len(bins) + 1):
        space = np.linspace(0, i, num=n_levels + 1)
        digitized = np.digitize(range(i), space) - 1
        digitized[bins[:i] == 0] = -1
        density = np.zeros(n_levels)
        for index, level in enumerate(digitized):
            if level != -1:
                density[level] += bins[index]
        for level in range(n_levels):
            members = np.count_nonzero(digitized == level)
            if members:
                density[level] /= members
        candidate = np.array([density[level] if level != -1 else 0.0 for level in digitized])
        reference = bins[:i].copy()
        reference[-1] += bins[i:].sum()
        p, q = reference / reference.sum(), candidate / candidate.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.sum(np.where(p > 0, p * np.log(p / np.where(q > 0, q, 0)), 0.0))
        divergences.append(kl)
        cuts.append(i)
    divergences = np.array(divergences)
    return cuts[len(divergences) - 1 - int(np.argmin(divergences[::-1]))]


@pytest.mark.parametrize("bits", [3, 4])
def test_kl_curve_matches_nvidia_loop(bits):
    x = _relu_activations(seed=2)
    n_bins, first_cut = 256, 32
    thresholds, divergences = kl_curve(x, bits, n_bins=n_bins, first_cut=first_cut)
    counts, edges = np.histogram(x, bins=n_bins, range=(0, x.max()))
    cut = _nvidia_kl_loop(counts, 2**bits, first_cut)
    best = len(divergences) - 1 - np.argmin(divergences[::-1])
    assert thresholds[best] == pytest.approx(edges[cut])


@pytest.mark.parametrize("bits", [8, 4])
def test_entropy_cuts_at_the_end_of_the_bulk_not_at_an_outlier(bits):
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(0, 1, 50_000), [5.0]])
    assert entropy_threshold(x, bits) == pytest.approx(1.0, abs=0.01)


def test_entropy_cannot_cut_below_128_bins_of_the_range():
    # The method's known limit: the first cut is 128 of 2048 bins, so an outlier 100x the bulk wins.
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(0, 1, 50_000), [100.0]])
    assert entropy_threshold(x, 8) >= 100.0 * 128 / 2048


@pytest.mark.parametrize("bits, signed, first", [(8, False, 256), (8, True, 128), (4, False, 128), (7, False, 128)])
def test_first_cut_is_the_first_threshold_of_the_kl_curve(bits, signed, first):
    # Hand-worked: a cut keeps at least one bin per level, so unsigned 8-bit (256 levels) starts at bin 256.
    x = _relu_activations(seed=4)
    x = np.concatenate([x, -x[:1]]) if signed else x
    assert first_cut_bin(bits, signed) == first
    thresholds, _ = kl_curve(x, bits, signed=signed)
    edges = np.histogram_bin_edges(np.abs(x), bins=2048, range=(0, float(np.abs(x).max())))
    assert thresholds[0] == pytest.approx(edges[first])


def test_mse_curve_is_the_exact_error_and_its_minimum_beats_a_fine_brute_force_grid_nearly():
    x = _relu_activations(seed=4)
    thresholds, rounding, clipping = mse_curve(x, 4, n_candidates=20)
    np.testing.assert_allclose(rounding + clipping, [quantization_mse(x, t, 4) for t in thresholds], rtol=1e-9)
    assert clipping[-1] == 0 and np.all(np.diff(clipping) <= 0)
    grid = np.linspace(0.05, x.max(), 400)
    brute = min(quantization_mse(x, t, 4) for t in grid)
    assert quantization_mse(x, mse_threshold(x, 4), 4) <= brute * 1.1


def test_error_parts_by_hand():
    x = np.array([0.1, 0.26, 1.0, 3.0])  # t = 1 at 2 bits unsigned: levels 0, 1/3, 2/3, 1
    rounding, clipping = error_parts(x, 1.0, 2)
    assert rounding == pytest.approx(((0.1 - 0) ** 2 + (0.26 - 1 / 3) ** 2 + 0) / 4)
    assert clipping == pytest.approx((3.0 - 1.0) ** 2 / 4)
    signed_rounding, signed_clipping = error_parts(np.array([-2.0, 0.4]), 1.0, 2)  # levels -1, 0, 1
    assert (signed_rounding, signed_clipping) == pytest.approx((0.4**2 / 2, 1.0 / 2))


def test_layer_thresholds_per_layer():
    activations = {"a": np.array([0.0, 1.0, 2.0]), "b": np.array([0.5, 4.0])}
    assert layer_thresholds(activations, "max", 8) == {"a": 2.0, "b": 4.0}


def test_clipping_helps_at_4_bits_with_outliers():
    x = _relu_activations(seed=5)
    errors = {method: quantization_mse(x, threshold(x, method, 4, 99.99), 4) for method in ("max", "percentile", "mse")}
    assert errors["mse"] < errors["max"] / 1.3
    assert errors["mse"] <= errors["percentile"] * 1.05


def test_reconstruct_with_quantized_activations_equals_a_hand_forward():
    torch.manual_seed(0)
    model = build_autoencoder().eval()
    images = np.random.default_rng(6).uniform(0, 1, (8, 784)).astype(np.float32)
    thresholds = {layer: 0.8 for layer in LAYER_NAMES}
    out = reconstruct_with_quantized_activations(model, images, thresholds, 4)
    h = images
    with torch.no_grad():
        for index, layer in enumerate(LAYER_NAMES):
            linear = getattr(model, layer)
            h = linear(torch.from_numpy(clip_quantize(h, 0.8, 4))).numpy()
            h = 1 / (1 + np.exp(-h)) if index == len(LAYER_NAMES) - 1 else np.maximum(h, 0)
    np.testing.assert_allclose(out, h, atol=1e-6)
    float_out = model(torch.from_numpy(images)).detach().numpy()
    assert not np.allclose(out, float_out, atol=1e-4)
    assert not model._forward_pre_hooks and not model.fc1._forward_pre_hooks


def test_quantized_activation_errors_match_a_loop():
    torch.manual_seed(0)
    model = build_autoencoder().eval()
    rng = np.random.default_rng(7)
    images = rng.uniform(0, 1, (16, 784)).astype(np.float32)
    calibration = {layer: rng.exponential(1.0, 4000) for layer in LAYER_NAMES}
    errors = quantized_activation_errors(model, calibration, images, (4, 8), percentile=99.9)
    assert list(errors) == list(METHODS)
    for method, per_bits in errors.items():
        for bits, error in zip((4, 8), per_bits):
            thresholds = layer_thresholds(calibration, method, bits, 99.9)
            outputs = reconstruct_with_quantized_activations(model, images, thresholds, bits).astype(np.float64)
            assert error == pytest.approx(np.mean((outputs - images) ** 2), rel=1e-6)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: threshold([1.0, 2.0], "median", 8), "method"),
        (lambda: threshold([0.0, 0.0], "max", 8), "nonzero"),
        (lambda: percentile_threshold([1.0, 2.0], 20), "percentile"),
        (lambda: clip_quantize([1.0], 0.0, 8), "threshold"),
        (lambda: clip_quantize([1.0], "1", 8), "threshold"),
        (lambda: clip_quantize([1.0], 1.0, 1), "bits"),
        (lambda: reconstruct_with_quantized_activations(build_autoencoder(), np.zeros((1, 784)), {"fc9": 1.0}, 8), "layers"),
    ],
)
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
