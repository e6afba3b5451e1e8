"""keras.quantizers: values as Keras 3.15 computes them (expected values from the formulas of
keras/src/quantizers/quantizers.py written again in NumPy here; float8 rounding checked against
a table of every float8 value), the straight-through gradient of fake_quant_with_min_max_vars
under GradientTape, int4 packing (Keras' documented example), and get / serialize / deserialize."""
import numpy as np
import pytest

import corenn
from corenn import keras
from corenn.keras import quantizers as kq


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32) * 3


@pytest.mark.parametrize("axis", [-1, 0, (0, 1)])
def test_abs_max_quantize_matches_keras_formula(axis):
    x = _x((4, 5))
    q, scale = kq.abs_max_quantize(x, axis)
    want_scale = np.float32(127) / (np.max(np.abs(x), axis=axis, keepdims=True) + np.float32(1e-7))
    want = np.clip(np.round(x * want_scale), -127, 127).astype(np.int8)
    assert isinstance(q, np.ndarray) and q.dtype == np.int8
    np.testing.assert_array_equal(q, want)
    np.testing.assert_array_equal(np.asarray(scale), want_scale)
    assert np.abs(q).max() == 127


def test_abs_max_quantizer_class():
    quantizer = kq.AbsMaxQuantizer()
    assert quantizer.get_config() == {"value_range": (-127, 127), "epsilon": 1e-07, "output_dtype": "int8"}
    x = np.array([[1.0, -2.0, 3.0], [0.5, 0.25, -4.0]], np.float32)
    q, scale = quantizer(x)                      # axis -1 by default
    np.testing.assert_array_equal(q, [[42, -85, 127], [16, 8, -127]])   # Keras' output for this x
    np.testing.assert_allclose(np.asarray(scale), [[127 / 3], [127 / 4]], rtol=1e-6)
    q0, _ = quantizer(x, axis=0)
    np.testing.assert_array_equal(q0, [[127, -127, 95], [63, 16, -127]])   # 0.5 * 127 / (1 + 1e-7) -> 63
    assert kq.AbsMaxQuantizer(axis=0).get_config()["axis"] == (0,)
    q4, _ = kq.AbsMaxQuantizer(value_range=(-7, 7), output_dtype="int8")(x)
    assert q4.max() == 7 and q4.min() == -7
    with pytest.raises(ValueError, match=r"requires value_range to be within the interval \[-128, 127\]"):
        kq.AbsMaxQuantizer(value_range=(-200, 127))
    with pytest.raises(NotImplementedError, match="does not implement get_config"):
        kq.Quantizer().get_config()
    assert kq.Quantizer()(x) is x and keras.Quantizer is kq.Quantizer


def _float8_table(mantissa_bits, exponent_bits, bias, fn):
    """Every finite non-negative value of a float8 format, from its bit fields."""
    values = []
    for e in range(2 ** exponent_bits):
        for m in range(2 ** mantissa_bits):
            if fn and e == 2 ** exponent_bits - 1 and m == 2 ** mantissa_bits - 1:
                continue                                  # e4m3fn: the NaN pattern
            if not fn and e == 2 ** exponent_bits - 1:
                continue                                  # e5m2: inf / NaN
            if e == 0:
                values.append(m / 2 ** mantissa_bits * 2.0 ** (1 - bias))
            else:
                values.append((1 + m / 2 ** mantissa_bits) * 2.0 ** (e - bias))
    return np.array(sorted(values))


def _nearest_even(v, table, mantissa_bits):
    """The table value nearest |v|, ties to the one with an even mantissa; sign kept."""
    a = abs(v)
    i = np.searchsorted(table, a)
    lo, hi = table[max(i - 1, 0)], table[min(i, len(table) - 1)]
    if a - lo < hi - a:
        pick = lo
    elif hi - a < a - lo:
        pick = hi
    else:   # a tie: the neighbour whose index (= bit pattern order) is even
        pick = lo if (max(i - 1, 0) % 2 == 0) else hi
    return np.copysign(pick, v)


@pytest.mark.parametrize("fmt,bits", [("float8_e4m3fn", (3, 4, 7, True)), ("float8_e5m2", (2, 5, 15, False))])
def test_quantize_and_dequantize_float8(fmt, bits):
    table = _float8_table(*bits)
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(size=200) * 50, rng.normal(size=50) * 1e-3,
                        [0.0, 1e6, -1e6, table[5], (table[20] + table[21]) / 2]]).astype(np.float32)
    scale = np.float32(0.5)
    got = np.asarray(kq.quantize_and_dequantize(x, scale, fmt, "float32"))
    biggest = table[-1]
    want = np.array([_nearest_even(float(np.clip(np.float32(v) / scale, -biggest, biggest)), table, bits[0])
                     for v in x]) * 0.5
    np.testing.assert_array_equal(got, want.astype(np.float32))
    with pytest.raises(ValueError, match="quantized_dtype"):
        kq.quantize_and_dequantize(x, scale, "int8", "float32")


def test_quantize_and_dequantize_values_keras_gives():
    # Keras 3.15 (torch backend) prints these for the same calls
    got = kq.quantize_and_dequantize(np.float32([1.234, -500, 0.0123, 100.7]), np.float32(1.0),
                                     "float8_e4m3fn", "float32")
    np.testing.assert_array_equal(np.asarray(got), np.float32([1.25, -448, 0.01171875, 104]))
    got = kq.quantize_and_dequantize(np.float32([1.234, -500, 100.7, 1e5]), np.float32(0.5), "float8_e5m2", "float32")
    np.testing.assert_array_equal(np.asarray(got), np.float32([1.25, -512, 96, 28672]))


def test_float8_scale_and_amax_history():
    amax = np.float32([2.0, 0.0, np.inf, 448.0])
    scale = np.float32([0.5, 0.25, 2.0, 1.0])
    got = np.asarray(kq.compute_float8_scale(amax, scale, 448.0, margin=1))
    sf = np.float32(448.0) / np.float32([2.0, 1, 1, 448.0]) / np.float32(2.0)
    want = np.float32([1 / sf[0], 0.25, 2.0, 1 / sf[3]])
    np.testing.assert_allclose(got, want, rtol=1e-7)
    history = np.float32([1, 2, 3, 4])
    x = np.float32([[-7.5, 2], [1, 3]])
    np.testing.assert_array_equal(np.asarray(kq.compute_float8_amax_history(x, history)), [7.5, 3, 4, 1])


def _fake_quant_reference(x, lo, hi, num_bits, narrow):
    """Keras' adjust_and_nudge + quantize, float32, written out."""
    qmax, qmin = np.float32(2 ** num_bits - 1), np.float32(1 if narrow else 0)
    scale = (hi - lo) / (qmax - qmin)
    inv = (qmax - qmin) / (hi - lo)
    zero = np.round(np.clip(qmin - lo / scale, qmin, qmax))
    nmin, nmax = (qmin - zero) * scale, (qmax - zero) * scale
    qzero = np.floor(-nmin * inv + np.float32(0.5))
    return np.floor((np.clip(x, nmin, nmax) - nmin) * inv - qzero + np.float32(0.5)) * scale, nmin, nmax


@pytest.mark.parametrize("num_bits,narrow", [(8, False), (4, True)])
def test_fake_quant_per_tensor_values_and_straight_through_gradient(num_bits, narrow):
    x = np.linspace(-3, 3, 37).astype(np.float32)
    lo, hi = np.float32(-1.3), np.float32(2.1)
    want, nmin, nmax = _fake_quant_reference(x, lo, hi, num_bits, narrow)
    xt, lot, hit = (corenn.Variable(v) for v in (x, np.float32([lo]), np.float32([hi])))
    upstream = np.arange(1, 38, dtype=np.float32)
    with corenn.GradientTape() as tape:
        y = kq.fake_quant_with_min_max_vars(xt, lot, hit, num_bits=num_bits, narrow_range=narrow)
        loss = keras.ops.sum(y * upstream)
    np.testing.assert_array_equal(np.asarray(y), want.astype(np.float32))
    dx, dlo, dhi = tape.gradient(loss, [xt, lot, hit])
    inside = (x >= nmin) & (x <= nmax)
    np.testing.assert_array_equal(np.asarray(dx), np.where(inside, upstream, 0))
    np.testing.assert_allclose(np.asarray(dlo), [upstream[x <= nmin].sum()])
    np.testing.assert_allclose(np.asarray(dhi), [upstream[x >= nmax].sum()])
    assert 0 < inside.sum() < len(x)


def test_fake_quant_per_channel():
    x = _x((5, 3))
    lo, hi = np.float32([-1, -2, -0.5]), np.float32([1, 0.5, 3])
    want = np.stack([_fake_quant_reference(x[:, c], lo[c], hi[c], 8, False)[0] for c in range(3)], axis=1)
    y = kq.fake_quant_with_min_max_vars(x, lo, hi, axis=-1)
    np.testing.assert_allclose(np.asarray(y), want, rtol=0, atol=1e-6)
    lot = corenn.Variable(lo)
    with corenn.GradientTape() as tape:
        y = kq.fake_quant_with_min_max_vars(x, lot, hi, axis=1)
        loss = keras.ops.sum(y)
    below = np.stack([x[:, c] <= _fake_quant_reference(x[:, c], lo[c], hi[c], 8, False)[1] for c in range(3)], 1)
    np.testing.assert_array_equal(np.asarray(tape.gradient(loss, lot)), below.sum(axis=0).astype(np.float32))


def test_pack_unpack_int4_keras_example():
    a = np.array([[-3, 7], [2, -8], [1, 0]], np.int8)
    packed, shape, n = kq.pack_int4(a, axis=0)
    np.testing.assert_array_equal(packed, [[45, -121], [1, 0]])          # Keras' docstring
    assert packed.dtype == np.int8 and shape == (2, 2) and n == 3
    np.testing.assert_array_equal(kq.unpack_int4(packed, n, axis=0), a)
    b = np.array([[-3, 7, 2], [-8, 1, 0]], np.int8)
    packed, shape, n = kq.pack_int4(b, axis=1)
    np.testing.assert_array_equal(packed, [[125, 2], [24, 0]])
    np.testing.assert_array_equal(kq.unpack_int4(packed, n, axis=1), b)
    rng = np.random.default_rng(0)
    c = rng.integers(-8, 8, size=(3, 5, 4)).astype(np.int8)
    for axis in (0, 1, -1):
        p, _, n = kq.pack_int4(c, axis=axis)
        np.testing.assert_array_equal(kq.unpack_int4(p, n, axis=axis), c)
    u = rng.integers(0, 16, size=(5, 2)).astype(np.uint8)
    p, _, n = kq.pack_int4(u, dtype="uint8")
    np.testing.assert_array_equal(p[0], u[0] | (u[1] << 4))
    np.testing.assert_array_equal(kq.unpack_int4(p, n, dtype="uint8"), u)
    with pytest.raises(TypeError, match="Expected int8 tensor for packing, got int32"):
        kq.pack_int4(c.astype(np.int32))
    with pytest.raises(ValueError, match="Expected dtype to be 'int8' or 'uint8'"):
        kq.pack_int4(c, dtype="int4")
    with pytest.raises(TypeError, match="Expected int8 or uint8 tensor for unpacking"):
        kq.unpack_int4(np.zeros((2, 2), np.float32), 4)


def test_get_serialize_deserialize():
    quantizer = kq.AbsMaxQuantizer(axis=0, value_range=(-100, 100))
    config = kq.serialize(quantizer)
    assert config == {"module": "keras.quantizers", "class_name": "AbsMaxQuantizer",
                      "config": {"value_range": (-100, 100), "epsilon": 1e-07, "output_dtype": "int8", "axis": (0,)},
                      "registered_name": None}
    again = kq.deserialize(config)
    assert isinstance(again, kq.AbsMaxQuantizer) and again.get_config() == quantizer.get_config()
    assert kq.get(config).get_config() == quantizer.get_config()
    assert kq.get(None) is None and kq.get(quantizer) is quantizer
    assert isinstance(kq.get("abs_max_quantizer"), kq.AbsMaxQuantizer)
    assert kq.get("AbsMaxQuantizer", axis=1).axis == (1,)
    with pytest.raises(ValueError, match="Could not interpret quantizer identifier: 3"):
        kq.get(3)
    with pytest.raises(ValueError, match="unknown quantizer"):
        kq.deserialize({"class_name": "GPTQQuantizer", "config": {}})


def test_export_archive_points_to_onnx():
    from corenn.keras.export import ExportArchive
    with pytest.raises(NotImplementedError, match=r"format='onnx'"):
        ExportArchive()
    assert keras.export.ExportArchive is ExportArchive
