"""Keras 3.15's int4 post-training quantization (``model.quantize("int4")``, weight-only) of
Dense, EinsumDense and Embedding: the packed weights unpacked here by hand and compared with an
independent NumPy computation of Keras' quantizers (per channel, per group with a zero point),
outputs against x @ W' + b in float64 and against the float model within the int4 error bound,
gradients against finite differences, config / file round trips, weight names and shapes as
Keras 3.15 printed them, and the refusals."""
import numpy as np
import pytest

import corenn
from corenn import layers


def _unpack(packed, n):
    """Two int4 values per byte along the last axis, the first in the low nibble (Keras'
    pack_int4), written out independently of corenn.keras.quantizers."""
    b = np.asarray(packed).astype(np.int64) & 0xFF
    lo, hi = b & 0xF, b >> 4
    signed = lambda v: np.where(v >= 8, v - 16, v)  # noqa: E731
    out = np.empty(b.shape[:-1] + (2 * b.shape[-1],), np.int64)
    out[..., 0::2], out[..., 1::2] = signed(lo), signed(hi)
    return out[..., :n]


def _ref_quantize(m, block):
    """Keras 3.15's int4 quantizers on a float32 (rows, cols) matrix, group by group in a loop:
    (q, scale, zero); block None = per channel (symmetric abs-max over the rows, range -8..7)."""
    m = np.asarray(m, np.float32)
    rows, cols = m.shape
    if block is None:
        s = np.float32(7) / (np.abs(m).max(axis=0) + np.float32(1e-7))
        return np.clip(np.rint(m * s), -8, 7), s, None
    groups = -(-rows // block)
    q = np.zeros((rows, cols))
    scale, zero = np.zeros((groups, cols), np.float32), np.zeros((groups, cols))
    for g in range(groups):
        part = m[g * block:(g + 1) * block]
        if part.shape[0] < block:   # Keras pads the last group with zero rows
            part_stats = np.concatenate([part, np.zeros((block - part.shape[0], cols), np.float32)])
        else:
            part_stats = part
        lo, hi = part_stats.min(axis=0), part_stats.max(axis=0)
        s = ((hi - lo) + np.float32(1e-7)) / np.float32(15)
        z = np.clip(np.rint(-lo / s) - 8, -8, 7)
        q[g * block:(g + 1) * block] = np.clip(np.rint(part / s) + z, -8, 7)
        scale[g], zero[g] = s, z
    return q, scale, zero


def _ref_dequantize(q, scale, zero, block):
    if zero is None:
        return q / scale.astype(np.float64)
    g = np.arange(q.shape[0]) // block
    return (q - zero[g]) * scale[g].astype(np.float64)


def _config(block):
    return {"class_name": "Int4QuantizationConfig", "config": {"block_size": -1 if block is None else block}}


@pytest.mark.parametrize("block", [None, 3, 4, 128])
def test_dense_int4_weights_and_outputs_vs_numpy(rng, block):
    w = rng.standard_normal((10, 7)).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    x = rng.standard_normal((5, 10)).astype(np.float32)
    layer = layers.Dense(7)
    layer.build((None, 10))
    layer.set_weights([w, b])
    y_float = x.astype(np.float64) @ w + b
    layer.quantize("int4", config=_config(block))
    names = [v.name for v in layer.weights]
    q, s, z = _ref_quantize(w, block)
    if block is None:
        assert names == ["bias", "kernel", "kernel_scale"]
        bias, packed, scale = layer.get_weights()
        zero = None
        assert layer.dtype_policy.name == "int4/-1_from_float32"
    else:
        assert names == ["bias", "kernel", "kernel_scale", "kernel_zero", "g_idx"]
        bias, packed, scale, zero, g_idx = layer.get_weights()
        groups = -(-10 // block)
        assert scale.shape == zero.shape == (groups, 7)
        np.testing.assert_array_equal(g_idx, np.arange(10) // block)
        np.testing.assert_array_equal(zero, z)
        assert layer.dtype_policy.name == f"int4/{block}_from_float32"
    assert packed.shape == (10, 4)   # (D, ceil(U / 2)) as Keras stores it
    assert np.all(packed == np.round(packed)) and packed.min() >= -128 and packed.max() <= 127
    np.testing.assert_array_equal(_unpack(packed, 7), q)
    np.testing.assert_allclose(scale, s, rtol=1e-7)
    w_deq = _ref_dequantize(q, s, z, block)
    # the quantization error of an entry is at most half a step where its group's range holds
    # 0 (per channel always; a group that does not, Keras' zero point is clipped: see
    # test_keras_clips_the_zero_point_of_a_group_without_zero)
    step = np.broadcast_to((1 / s)[None] if block is None else s[np.arange(10) // block], w.shape)
    straddles = np.ones(w.shape, bool)
    if block is not None:
        padded = np.concatenate([w, np.zeros((-(-10 // block) * block - 10, 7), np.float32)])
        g = padded.reshape(-1, block, 7)
        straddles = ((g.min(1) <= 0) & (g.max(1) >= 0))[np.arange(10) // block]
        assert straddles.mean() > 0.5
    assert np.all((np.abs(w_deq - w) <= 0.5 * step * (1 + 1e-5) + 1e-7)[straddles])
    y = np.asarray(layer(x))
    np.testing.assert_allclose(y, x.astype(np.float64) @ w_deq + b, rtol=1e-5, atol=1e-5)
    if straddles.all():
        bound = np.abs(x).astype(np.float64) @ (0.5 * step + 1e-6)
        assert np.all(np.abs(y - y_float) <= bound + 1e-5)
    assert [v.name for v in layer.trainable_weights] == ["bias"]


@pytest.mark.parametrize("equation,output_shape,bias_axes,x_shape,kernel_shape", [
    ("ab,bc->ac", 6, "c", (3, 5), (5, 6)),
    ("abc,cde->abde", (3, 2, 7), "de", (4, 3, 5), (5, 2, 7)),
    ("abcd,cde->abe", (3, 6), None, (4, 3, 2, 5), (2, 5, 6)),
    ("abc,dc->adb", (4, 3), "d", (2, 3, 5), (4, 5)),     # contracted axis last: reshaped as stored
])
@pytest.mark.parametrize("block", [None, 2, 128])
def test_einsum_dense_int4_vs_numpy(rng, equation, output_shape, bias_axes, x_shape, kernel_shape, block):
    layer = layers.EinsumDense(equation, output_shape, bias_axes=bias_axes)
    layer.build((None,) + x_shape[1:])
    weights = [rng.standard_normal(v.shape).astype(np.float32) for v in layer.weights]
    layer.set_weights(weights)
    kernel = weights[0]
    assert kernel.shape == kernel_shape
    x = rng.standard_normal(x_shape).astype(np.float32)
    y_float = np.asarray(layer(x)).astype(np.float64)
    layer.quantize("int4", config=_config(block))
    # Keras 3.15: the kernel as (rows = contracted sizes, cols = the rest), reshaped as stored
    w_labels = equation.split(",")[1].split("->")[0]
    out_labels = equation.split("->")[1]
    rows = int(np.prod([d for c, d in zip(w_labels, kernel_shape) if c not in out_labels]))
    m = kernel.reshape(rows, -1)
    q, s, z = _ref_quantize(m, block)
    packed = layer.kernel._copy_array()
    assert packed.shape == (rows, -(-m.shape[1] // 2))
    np.testing.assert_array_equal(_unpack(packed, m.shape[1]), q)
    w_deq = _ref_dequantize(q, s, z, block).reshape(kernel_shape)
    want = np.einsum(equation, x.astype(np.float64), w_deq)
    if bias_axes is not None:
        want = want + weights[1]
    np.testing.assert_allclose(np.asarray(layer(x)), want, rtol=1e-5, atol=1e-5)
    if block != 2:   # groups of 2 rows often hold no 0: Keras' clipped zero point, far off
        assert np.abs(np.asarray(layer(x)) - y_float).max() < 0.25 * np.abs(y_float).max()


def test_keras_clips_the_zero_point_of_a_group_without_zero():
    """Keras 3.15's grouped int4 quantizer clips its zero point to -8..7, so a group whose
    values are all positive (or all negative) comes back badly: Keras printed [0.5, 0.5, -1,
    0.5] for the kernel [1, 1.5, -1, 0.5] in groups of 2; corenn computes what Keras does."""
    layer = layers.Dense(1, use_bias=False)
    layer.build((None, 4))
    layer.set_weights([np.array([[1.0], [1.5], [-1.0], [0.5]], np.float32)])
    layer.quantize("int4", config=_config(2))
    np.testing.assert_allclose(np.asarray(layer(np.eye(4, dtype=np.float32))).ravel(),
                               [0.5000001, 0.5000001, -1.0000001, 0.50000006], rtol=1e-6)


@pytest.mark.parametrize("block", [None, 4, 128])
def test_embedding_int4_vs_numpy(rng, block):
    table = rng.standard_normal((9, 6)).astype(np.float32)
    layer = layers.Embedding(9, 6)
    layer.build((None,))
    layer.set_weights([table])
    layer.quantize("int4", config=_config(block))
    ids = np.array([[1, 8, 0], [3, 3, 2]])
    q, s, z = _ref_quantize(table.T, block)   # grouped along each row's features
    w_deq = _ref_dequantize(q, s, z, block).T
    weights = layer.get_weights()
    assert weights[0].shape == (9, 3)
    np.testing.assert_array_equal(_unpack(weights[0], 6), q.T)
    if block is None:
        assert [v.name for v in layer.weights] == ["embeddings", "embeddings_scale"]
        assert weights[1].shape == (9,)
    else:
        assert [v.name for v in layer.weights] == ["embeddings", "embeddings_scale", "embeddings_zero", "g_idx"]
        assert weights[1].shape == weights[2].shape == (9, -(-6 // block))
    np.testing.assert_allclose(np.asarray(layer(ids)), w_deq[ids], rtol=1e-6, atol=1e-7)


def test_keras_printed_shapes_for_the_default_config(rng):
    """Keras 3.15, model.quantize("int4") on Dense(5) over 6 inputs and EinsumDense
    'ab,bc->ac' (5 -> 3): block 128, weights [bias, kernel (6, 3) int8, kernel_scale (1, 5),
    kernel_zero (1, 5), g_idx (6,)] and [bias, kernel (5, 2), kernel_scale (1, 3), ...]."""
    inp = corenn.Input((6,))
    h = layers.Dense(5, activation="relu", name="d1")(inp)
    out = layers.EinsumDense("ab,bc->ac", output_shape=3, bias_axes="c", name="ed")(h)
    model = corenn.Model(inp, out)
    model.quantize("int4")
    shapes = lambda layer: [(v.name, tuple(v.shape)) for v in layer.weights]  # noqa: E731
    assert shapes(model.get_layer("d1")) == [("bias", (5,)), ("kernel", (6, 3)), ("kernel_scale", (1, 5)),
                                             ("kernel_zero", (1, 5)), ("g_idx", (6,))]
    assert shapes(model.get_layer("ed")) == [("bias", (3,)), ("kernel", (5, 2)), ("kernel_scale", (1, 3)),
                                             ("kernel_zero", (1, 3)), ("g_idx", (5,))]
    cfg = model.get_layer("d1").get_config()
    assert cfg["dtype"] == {"module": "keras.dtype_policies", "class_name": "Int4DTypePolicy",
                            "config": {"mode": "int4/128", "source_name": "float32"}, "registered_name": None}
    assert cfg["quantization_config"]["config"]["block_size"] == 128


def test_input_gradient_vs_finite_differences_and_bias_trains(rng):
    layer = layers.Dense(4, activation="tanh")
    layer.build((None, 6))
    layer.set_weights([rng.standard_normal(v.shape).astype(np.float32) for v in layer.weights])
    layer.quantize("int4", config=_config(4))
    x0 = rng.standard_normal((3, 6)).astype(np.float32)
    r = rng.standard_normal((3, 4))
    x = corenn.Variable(x0)
    with corenn.GradientTape() as tape:
        loss = corenn.ops.sum(layer(x) * r.astype(np.float32))
    dx, db = tape.gradient(loss, [x, layer.bias])
    f = lambda v: float((np.asarray(layer(v.astype(np.float32)), np.float64) * r).sum())  # noqa: E731
    num = np.zeros_like(x0, np.float64)
    for i in range(x0.size):
        e = np.zeros_like(x0)
        e.flat[i] = 1e-2
        num.flat[i] = (f(x0 + e) - f(x0 - e)) / 2e-2
    np.testing.assert_allclose(np.asarray(dx), num, rtol=2e-3, atol=2e-3)
    y = np.asarray(layer(x0), np.float64)
    np.testing.assert_allclose(np.asarray(db), ((1 - y ** 2) * r).sum(0), rtol=1e-4, atol=1e-5)


def test_model_save_load_and_config_round_trip(rng, tmp_path):
    corenn.utils.set_random_seed(3)
    inp = corenn.Input((5,), dtype="int32")
    h = layers.Embedding(20, 16)(inp)
    h = layers.EinsumDense("abc,cd->abd", output_shape=(5, 12), bias_axes="d", activation="relu")(h)
    h = layers.Flatten()(h)
    out = layers.Dense(3)(layers.Dense(24, activation="relu")(h))
    model = corenn.Model(inp, out)
    ids = rng.integers(0, 20, size=(8, 5))
    y_float = np.asarray(model.predict(ids, verbose=0))
    model.quantize("int4")
    y = np.asarray(model.predict(ids, verbose=0))
    assert 0 < np.abs(y - y_float).max() < 0.5 * np.abs(y_float).max()
    for fmt in ({}, {"save_format": "keras3"}):
        path = tmp_path / f"m{len(fmt)}.keras"
        model.save(path, **fmt)
        again = corenn.models.load_model(path)
        np.testing.assert_array_equal(np.asarray(again.predict(ids, verbose=0)), y)
        assert [layer.dtype_policy.name for layer in again.layers[1:]] == \
            ["int4/128_from_float32"] * 2 + ["float32"] + ["int4/128_from_float32"] * 2
    dense = model.layers[-1]
    clone = layers.Dense.from_config(dense.get_config())
    clone.build((None, 24))
    assert [tuple(v.shape) for v in clone.weights] == [tuple(v.shape) for v in dense.weights]
    clone.set_weights(dense.get_weights())
    h = rng.standard_normal((2, 24)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(clone(h)), np.asarray(dense(h)))


def test_refusals_name_the_mode(rng):
    layer = layers.Dense(3)
    layer.build((None, 4))
    for mode in ("float8", "gptq", "awq"):
        with pytest.raises(ValueError, match=f"{mode}.*not supported by corenn; supported modes: 'int8', 'int4'"):
            layer.quantize(mode)
    with pytest.raises(ValueError, match="Invalid quantization mode.*Received: mode='int3'"):
        layer.quantize("int3")
    with pytest.raises(ValueError, match="block_size must be None, -1, or a positive integer.*0"):
        layer.quantize("int4", config=_config(0))
    with pytest.raises(ValueError, match="custom weight / activation quantizers"):
        layer.quantize("int4", config={"class_name": "Int4QuantizationConfig",
                                       "config": {"weight_quantizer": {"class_name": "AbsMaxQuantizer"}}})
    layer.quantize("int4")
    with pytest.raises(ValueError, match="already quantized with dtype_policy='int4/128_from_float32'"):
        layer.quantize("int8")
    with pytest.raises(ValueError, match="Int4DTypePolicy: invalid mode 'int4/0'"):
        corenn.keras.dtype_policies.get("int4/0_from_float32")
    with pytest.raises(ValueError, match="does not match the dtype policy"):
        layers.Dense(3, dtype="int4/128_from_float32", quantization_config=_config(4))


def test_lora_on_a_quantized_layer_is_refused():
    for mode in ("int8", "int4"):
        layer = layers.Dense(3)
        layer.build((None, 4))
        layer.quantize(mode)
        with pytest.raises(NotImplementedError, match=f"LoRA on a {mode}-quantized layer"):
            layer.enable_lora(2)
