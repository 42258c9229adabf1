"""core/quantize/dtypes.py against torch's dtypes: stored values, bit patterns and format limits."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core.quantize.dtypes import FORMATS, encode, int8_encode

# torch warns that its quantized tensors are deprecated; they are still the reference here.
pytestmark = pytest.mark.filterwarnings("ignore:.*quantized tensor creation functions.*:UserWarning")

UNSIGNED_VIEW = {1: torch.uint8, 2: torch.int16, 4: torch.int32}


def _torch_reference(value, fmt):
    dtype = getattr(torch, fmt.torch_dtype)
    stored = torch.tensor([value], dtype=torch.float64).to(dtype)
    pattern = stored.view(UNSIGNED_VIEW[dtype.itemsize]).item() & (2**fmt.total_bits - 1)
    return stored.double().item(), pattern


def _pattern(encoding):
    return int(encoding.bits.replace(" ", ""), 2)


@settings(max_examples=300, deadline=None)
@given(
    value=st.floats(width=32, allow_nan=False, allow_infinity=False)
    | st.floats(-1e5, 1e5, width=32)
    | st.floats(-2.0**-10, 2.0**-10, width=32),
    format_name=st.sampled_from(list(FORMATS)),
)
def test_stored_value_and_bits_equal_torch(value, format_name):
    # float32-representable inputs: torch may round float64 -> float32 -> format, which rounds twice.
    fmt = FORMATS[format_name]
    encoding = encode(value, format_name)
    stored, pattern = _torch_reference(value, fmt)
    assert encoding.stored == stored or (math.isnan(stored) and math.isnan(encoding.stored))
    assert _pattern(encoding) == pattern


@pytest.mark.parametrize("format_name", list(FORMATS))
def test_limits_equal_torch_finfo(format_name):
    fmt = FORMATS[format_name]
    info = torch.finfo(getattr(torch, fmt.torch_dtype))
    assert fmt.max_finite == info.max
    assert fmt.smallest_normal == info.smallest_normal
    assert fmt.epsilon == info.eps
    assert fmt.total_bits == info.bits
    assert encode(fmt.smallest_subnormal, format_name).kind == "subnormal"
    assert encode(fmt.smallest_subnormal * 0.49, format_name).kind == "zero"


def test_hand_worked_bits():
    assert encode(0.1, "BF16").bits == "0 01111011 1001101"
    assert encode(1.0, "FP16").bits == "0 01111 0000000000"
    assert encode(-2.0, "FP8 E5M2").bits == "1 10000 00"
    assert encode(448.0, "FP8 E4M3").bits == "0 1111 110"
    assert encode(0.001953125, "FP8 E4M3").bits == "0 0000 001"  # 2^-9, the smallest subnormal
    assert encode(0.1, "FP32").stored == float(np.float32(0.1))


def test_overflow_infinity_saturation_and_nan():
    assert encode(70000.0, "FP16").kind == "infinity" and encode(70000.0, "FP16").stored == math.inf
    assert encode(65519.0, "FP16").stored == 65504.0  # below the halfway point to 2^16 rounds down
    assert encode(-1e6, "FP8 E5M2").stored == -math.inf
    saturated = encode(1e6, "FP8 E4M3")
    assert saturated.kind == "saturated" and saturated.stored == 448.0
    assert encode(math.inf, "FP8 E4M3").stored == 448.0  # as torch does
    nan = encode(math.nan, "FP8 E4M3")
    assert nan.kind == "nan" and nan.bits == "0 1111 111" and math.isnan(nan.error)
    assert encode(math.nan, "FP16").bits == "0 11111 1000000000"
    assert encode(-0.0, "FP16").bits == "1 00000 0000000000"


def test_rounding_error_is_within_half_an_ulp():
    encoding = encode(1 / 3, "FP16")
    assert encoding.error == pytest.approx(encoding.stored - 1 / 3)
    assert abs(encoding.error) <= 2.0**-2 * FORMATS["FP16"].epsilon / 2


def test_int8_encode_matches_torch_qint8():
    scale = 0.02
    for value in (0.5, -1.234, 2.53, 0.009, -0.011, 10.0, -10.0):
        encoding = int8_encode(value, scale)
        reference = torch.quantize_per_tensor(torch.tensor([value]), scale, 0, torch.qint8)
        expected_code = max(-127, reference.int_repr().item())
        assert encoding.mantissa == expected_code
        assert encoding.stored == pytest.approx(expected_code * scale, rel=1e-6)
        assert encoding.bits == format(expected_code & 0xFF, "08b")
    assert int8_encode(10.0, scale).kind == "saturated"
    assert int8_encode(0.009, scale).kind == "zero"


@pytest.mark.parametrize("value, scale", [(0.025, 0.01), (0.015, 0.01), (0.15, 0.1), (0.45, 0.3), (-0.025, 0.01)])
def test_int8_value_halfway_between_two_codes_is_rounded_not_clipped(value, scale):
    encoding = int8_encode(value, scale)
    reference = torch.quantize_per_tensor(torch.tensor([value]), scale, 0, torch.qint8).int_repr().item()
    assert encoding.mantissa == reference and abs(reference) < 127
    assert encoding.kind == "normal"


def test_int8_clipped_exactly_when_the_clamp_changes_the_code():
    assert int8_encode(1.27, 0.01).kind == "normal"  # the top code itself
    assert int8_encode(1.274, 0.01).kind == "normal"  # rounds down to 127 on its own
    assert int8_encode(1.276, 0.01).kind == "saturated"  # would round to 128
    assert int8_encode(-1e6, 0.01).kind == "saturated"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: encode(1.0, "FP4"), "format_name"),
        (lambda: encode("one", "FP16"), "value"),
        (lambda: int8_encode(1.0, 0.0), "scale"),
        (lambda: int8_encode(math.inf, 0.1), "value"),
        (lambda: int8_encode(True, 0.1), "value"),
        (lambda: int8_encode(1.0, True), "scale"),
    ],
)
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
