"""Keras 3's post-training int8 quantization (``model.quantize("int8")``) of Dense and Embedding:
the quantized weights and outputs against an independent NumPy computation of the same math,
a trained classifier keeping its accuracy, the file / config round trips, and the refusals."""
import json
import warnings

import numpy as np
import pytest

import corenn
from corenn import layers


def _quantize_ref(w, axis):
    """Keras' abs-max quantizer written out: float32 scale, round half to even, clip to 127."""
    w = np.asarray(w, np.float32)
    amax = np.abs(w).max(axis=axis, keepdims=True)
    scale = (np.float32(127) / (amax + np.float32(1e-7))).astype(np.float32)
    return np.clip(np.rint(w * scale), -127, 127), scale


def _dense_ref(x, kernel, bias, activation=None):
    """float64 of the int8 Dense call: rows of x quantized, integer product, dequantized."""
    qk, sk = _quantize_ref(kernel, 0)
    x2 = np.asarray(x, np.float32).reshape(-1, kernel.shape[0])
    qx, sx = _quantize_ref(x2, -1)
    z = (qx.astype(np.int64) @ qk.astype(np.int64)) / (sk.astype(np.float64) * sx.astype(np.float64))
    z = z + bias
    if activation == "relu":
        z = np.maximum(z, 0)
    elif activation == "softmax":
        z = np.exp(z - z.max(-1, keepdims=True))
        z = z / z.sum(-1, keepdims=True)
    return z.reshape(x.shape[:-1] + (kernel.shape[1],))


def _dense(rng, d=7, units=5, activation=None, use_bias=True, rank=2):
    layer = layers.Dense(units, activation=activation, use_bias=use_bias)
    layer.build((None,) * (rank - 1) + (d,))
    layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in layer.weights])
    return layer


@pytest.mark.parametrize("activation", [None, "relu", "softmax"])
@pytest.mark.parametrize("shape", [(6, 7), (2, 3, 7), (1, 7)])
def test_quantized_dense_matches_numpy(rng, activation, shape):
    layer = _dense(rng, activation=activation, rank=len(shape))
    kernel, bias = layer.get_weights()
    layer.quantize("int8")
    qk, sk = _quantize_ref(kernel, 0)
    got_b, got_k, got_s = layer.get_weights()   # Keras 3: [bias, kernel, kernel_scale]
    np.testing.assert_array_equal(got_k, qk)
    np.testing.assert_array_equal(got_s, sk[0])
    np.testing.assert_array_equal(got_b, bias)
    x = (rng.standard_normal(shape) * 2).astype(np.float32)
    y = np.asarray(layer(x))
    np.testing.assert_allclose(y, _dense_ref(x, kernel, bias, activation), rtol=1e-5, atol=1e-6)
    # and close to the float layer: int8 keeps ~2 significant digits
    fl = layers.Dense(5, activation=activation)
    fl.build((None,) * (len(shape) - 1) + (7,))
    fl.set_weights([kernel, bias])
    np.testing.assert_allclose(y, np.asarray(fl(x)), atol=0.1 * max(1.0, np.abs(y).max()))


def test_quantized_dense_without_bias_and_weights_state(rng):
    layer = _dense(rng, use_bias=False)
    layer.quantize("int8")
    assert [w.name for w in layer.weights] == ["kernel", "kernel_scale"]
    assert layer.trainable_weights == []
    assert layer.dtype_policy.name == "int8_from_float32"
    assert layer.quantization_mode == "int8"
    kernel = layer.get_weights()[0]
    assert np.abs(kernel).max() == 127 and np.array_equal(kernel, np.round(kernel))
    x = rng.standard_normal((4, 7)).astype(np.float32)
    k = kernel
    np.testing.assert_allclose(np.asarray(layer(x)), _dense_ref(x, k / layer.get_weights()[1], 0.0),
                               rtol=1e-5, atol=1e-6)


def test_quantized_embedding_matches_numpy(rng):
    layer = layers.Embedding(11, 6)
    layer.build((None, 4))
    table = rng.standard_normal((11, 6)).astype(np.float32)
    table[3] = 0   # an all-zero row: scale 127 / 1e-7, values 0
    layer.set_weights([table])
    layer.quantize("int8")
    q, s = _quantize_ref(table, -1)
    np.testing.assert_array_equal(layer.get_weights()[0], q)
    np.testing.assert_array_equal(layer.get_weights()[1], s[:, 0])
    assert [w.name for w in layer.weights] == ["embeddings", "embeddings_scale"]
    assert layer.trainable_weights == []
    idx = rng.integers(0, 11, (3, 4))
    idx[0, 0] = 3
    want = q.astype(np.float64)[idx] / s.astype(np.float64)[idx]
    np.testing.assert_allclose(np.asarray(layer(idx)), want, rtol=1e-6, atol=0)
    assert np.all(np.asarray(layer(idx))[0, 0] == 0)


def _blobs(rng, n, centers):
    y = rng.integers(0, len(centers), n)
    x = centers[y] + rng.standard_normal((n, centers.shape[1]))
    return x.astype(np.float32), y


def test_trained_classifier_keeps_accuracy_after_quantize(rng, tmp_path):
    corenn.utils.set_random_seed(7)
    centers = rng.standard_normal((4, 12)) * 0.8   # overlapping: about 96% accuracy
    x, y = _blobs(rng, 1200, centers)
    xt, yt = _blobs(np.random.default_rng(99), 600, centers)
    model = corenn.Sequential([corenn.Input((12,)), layers.Dense(32, activation="relu"),
                               layers.Dense(16, activation="relu"), layers.Dense(4, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=8, batch_size=64, verbose=0)
    p_float = model.predict(xt, verbose=0)
    acc_float = model.evaluate(xt, yt, verbose=0)[1]
    model.quantize("int8")
    p_q = model.predict(xt, verbose=0)
    acc_q = model.evaluate(xt, yt, verbose=0)[1]
    assert acc_float > 0.8
    assert abs(acc_q - acc_float) <= 0.01
    assert np.mean(p_q.argmax(1) == p_float.argmax(1)) >= 0.99
    assert np.abs(p_q - p_float).max() < 0.05
    # the saved quantized model predicts the same bits, and keeps its int8 form
    model.save(tmp_path / "q.keras")
    loaded = corenn.models.load_model(tmp_path / "q.keras")
    np.testing.assert_array_equal(loaded.predict(xt, verbose=0), p_q)
    assert [lay.dtype_policy.name for lay in loaded.layers] == ["int8_from_float32"] * 3
    assert len(loaded.trainable_weights) == 3   # the biases
    # fit after quantize trains the biases only, as Keras (the int8 kernels are frozen)
    kernels_before = [lay.get_weights()[1] for lay in model.layers]   # [bias, kernel, kernel_scale]
    bias_before = model.layers[0].get_weights()[0]
    model.fit(x[:128], y[:128], epochs=1, batch_size=64, verbose=0)
    for lay, k in zip(model.layers, kernels_before):
        np.testing.assert_array_equal(lay.get_weights()[1], k)
    assert not np.array_equal(model.layers[0].get_weights()[0], bias_before)


def test_get_config_round_trip_builds_the_int8_form(rng):
    layer = _dense(rng, activation="relu")
    layer.quantize("int8")
    cfg = layer.get_config()
    assert cfg["dtype"] == {"module": "keras.dtype_policies", "class_name": "QuantizedDTypePolicy",
                            "config": {"mode": "int8", "source_name": "float32"}, "registered_name": None}
    json.dumps(cfg)
    clone = layers.Dense.from_config(cfg)
    assert clone.dtype_policy.name == "int8_from_float32"
    clone.build((None, 7))
    assert [w.name for w in clone.weights] == ["bias", "kernel", "kernel_scale"]   # Keras 3's order
    clone.set_weights(layer.get_weights())
    x = rng.standard_normal((3, 7)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(clone(x)), np.asarray(layer(x)))
    emb = layers.Embedding(5, 3, dtype="int8_from_float32")
    emb.build((None,))
    assert [w.name for w in emb.weights] == ["embeddings", "embeddings_scale"]
    assert layers.Embedding.from_config(emb.get_config()).quantization_mode == "int8"


def test_model_quantize_leaves_other_layers_float_and_filters(rng):
    model = corenn.Sequential([corenn.Input((5,)), layers.Dense(6, name="a"), layers.LayerNormalization(),
                               layers.Dense(3, name="b")])
    model.quantize("int8", filters="^b$")
    assert model.get_layer("a").dtype_policy.name == "float32"
    assert model.get_layer("b").dtype_policy.name == "int8_from_float32"
    assert model.layers[1].dtype_policy.name == "float32"
    model.quantize("int8", filters=lambda layer: layer.name == "a")
    assert model.get_layer("a").quantization_mode == "int8"


def test_quantize_refusals(rng):
    layer = _dense(rng)
    for mode in ("float8", "gptq"):   # int4: test_quantization_int4.py
        with pytest.raises(ValueError, match=f"{mode}.*not supported by corenn; supported modes: 'int8'"):
            layer.quantize(mode)
    with pytest.raises(ValueError, match="Invalid quantization mode.*'int8'.*Received: mode='int16'"):
        layer.quantize("int16")
    with pytest.raises(ValueError, match="isn't yet built"):
        layers.Dense(3).quantize("int8")
    layer.quantize("int8")
    with pytest.raises(ValueError, match="already quantized with dtype_policy='int8_from_float32'"):
        layer.quantize("int8")
    model = corenn.Sequential([corenn.Input((4,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="supported modes: 'int8'"):
        model.quantize("float8")
    with pytest.raises(ValueError, match="dtype_policies.get.*'float8' is not supported"):
        corenn.keras.dtype_policies.get("float8_from_float32")
    with pytest.raises(ValueError, match="quantization_config"):
        layers.Dense(3, quantization_config={"class_name": "Float8QuantizationConfig"})

    class MyDense(layers.Dense):
        pass

    sub = corenn.Sequential([corenn.Input((4,)), MyDense(2)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sub.quantize("int8")
    assert any("MyDense does not have a `quantize` method" in str(w.message) for w in caught)
    assert sub.layers[0].dtype_policy.name == "float32"


def test_quantized_dense_input_gradient_uses_the_dequantized_kernel(rng):
    layer = _dense(rng)
    layer.quantize("int8")
    _, k, s = layer.get_weights()
    x = corenn.Variable(rng.standard_normal((3, 7)).astype(np.float32))
    with corenn.GradientTape() as tape:
        y = layer(x)
        loss = corenn.ops.sum(y)
    dx = np.asarray(tape.gradient(loss, x))
    np.testing.assert_allclose(dx, np.ones((3, 5)) @ (k / s).T, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("equation,output_shape,bias_axes,x_shape", [
    ("ab,bc->ac", 6, "c", (3, 5)),
    ("abc,cde->abde", (3, 2, 7), "de", (4, 3, 5)),
    ("abc,bcd->ad", (6,), "d", (4, 3, 5)),
    ("abcd,cde->abe", (3, 6), None, (4, 3, 2, 5)),
    ("abc,dc->adb", (4, 3), "d", (2, 3, 5)),     # transposed kernel, permuted output
])
def test_quantized_einsum_dense_matches_numpy(rng, equation, output_shape, bias_axes, x_shape):
    layer = layers.EinsumDense(equation, output_shape=output_shape, bias_axes=bias_axes, activation="relu")
    layer.build((None,) + x_shape[1:])
    layer.set_weights([rng.standard_normal(tuple(w.shape)).astype(np.float32) for w in layer.weights])
    float_weights = layer.get_weights()
    layer.quantize("int8")
    ins, ws, outs = equation.replace("->", ",").split(",")
    depth = [c for c in ins if c in ws and c not in outs]
    kernel = float_weights[0]
    q, s = _quantize_ref(kernel, tuple(ws.index(c) for c in depth))
    got = layer.get_weights()   # Keras 3: [bias, kernel, kernel_scale] (no bias: [kernel, kernel_scale])
    np.testing.assert_array_equal(got[-2], q)
    # Keras' kernel_scale layout: the output's rank, the kernel's sizes at its labels, 1 elsewhere
    scale_shape = tuple(kernel.shape[ws.index(c)] if c in ws else 1 for c in outs)
    assert got[-1].shape == scale_shape
    s_out = np.einsum(f"{ws}->{''.join(c for c in outs if c in ws)}", np.broadcast_to(s, kernel.shape)).reshape(scale_shape) \
        / np.prod([kernel.shape[ws.index(c)] for c in depth])
    np.testing.assert_allclose(got[-1], s_out, rtol=1e-6)
    x = (rng.standard_normal(x_shape) * 2).astype(np.float32)
    # the reference: x quantized over its contracted labels, the integer einsum, dequantized
    keep = tuple(ins.index(c) for c in depth)
    qx, sx = _quantize_ref(x, keep)
    acc = np.einsum(equation, qx.astype(np.int64), q.astype(np.int64))
    sx_out = np.einsum(f"{ins}->{''.join(c for c in outs if c in ins)}",
                       np.broadcast_to(sx, x.shape).astype(np.float64)) / np.prod([x.shape[a] for a in keep])
    sx_out = sx_out.reshape(tuple(x.shape[ins.index(c)] if c in ins else 1 for c in outs))
    z = acc / (sx_out * got[-1].astype(np.float64))
    if bias_axes is not None:
        z = z + got[0]   # the bias, first in Keras 3's order
    np.testing.assert_allclose(np.asarray(layer(x)), np.maximum(z, 0), rtol=1e-5, atol=1e-6)
    # the input gradient goes through the dequantized kernel (Keras' custom gradient)
    xv = corenn.Variable(x)
    with corenn.GradientTape() as tape:
        loss = corenn.ops.sum(layer(xv))
    dz = (z > 0).astype(np.float64)
    want = np.einsum(f"{outs},{ws}->{ins}", dz, got[-2] / np.broadcast_to(s, kernel.shape))
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, xv)), want, rtol=1e-5, atol=1e-5)


def test_quantized_einsum_dense_round_trip_and_batch_labels(rng, tmp_path):
    model = corenn.Sequential([corenn.Input((3, 5)), layers.EinsumDense("abc,cde->abde", (3, 2, 4), bias_axes="de"),
                               layers.Flatten(), layers.Dense(2)])
    model.quantize("int8")
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    model.save(tmp_path / "e.keras")
    again = corenn.models.load_model(tmp_path / "e.keras")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert again.layers[0].dtype_policy.name == "int8_from_float32"
    # an equation with a batch label (in the input, the kernel and the output) stays float
    batched = corenn.Sequential([corenn.Input((3, 5)), layers.EinsumDense("abc,bcd->abd", (3, 4))])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batched.quantize("int8")
    assert any("batch labels" in str(w.message) for w in caught)
    assert batched.layers[0].dtype_policy.name == "float32"


# ---- storage: the int8 weights are int8 Tensors (1 byte a value), as Keras' int8 variables ------

def _nbytes(layer):
    return sum(np.asarray(w).nbytes for w in layer.weights)


def test_int8_weights_are_int8_tensors_of_one_byte_a_value(rng):
    dense = _dense(rng, d=64, units=48)
    dense.quantize("int8")
    assert [str(w.dtype) for w in dense.weights] == ["float32", "int8", "float32"]   # bias, kernel, scale
    assert [a.dtype for a in dense.get_weights()] == [np.float32, np.int8, np.float32]
    assert _nbytes(dense) == 48 * 4 + 64 * 48 + 48 * 4                  # float32 kernel: 64 * 48 * 4
    ed = layers.EinsumDense("abc,cd->abd", output_shape=(3, 8), bias_axes="d")
    ed.build((None, 3, 5))
    ed.quantize("int8")
    assert str(ed.kernel.dtype) == "int8" and np.asarray(ed.kernel).nbytes == 5 * 8
    emb = layers.Embedding(30, 6)
    emb.build((None,))
    emb.quantize("int8")
    assert [str(w.dtype) for w in emb.weights] == ["int8", "float32"]
    assert _nbytes(emb) == 30 * 6 + 30 * 4
    for mode_layer in (dense, ed, emb):   # no float32 gradient buffer behind a frozen int8 weight
        assert all(p.grad is None for p in mode_layer._params if str(p.value.dtype) == "int8")


def test_int4_packed_bytes_and_zero_points_are_int8(rng):
    dense = _dense(rng, d=20, units=9)
    dense.quantize("int4")   # Keras' default: groups of 128 rows (one group here)
    names = {w.name: w for w in dense.weights}
    assert str(names["kernel"].dtype) == "int8" and tuple(names["kernel"].shape) == (20, 5)
    assert str(names["kernel_zero"].dtype) == "int8" and tuple(names["kernel_zero"].shape) == (1, 9)
    assert str(names["kernel_scale"].dtype) == "float32" and str(names["g_idx"].dtype) == "float32"


def test_set_weights_takes_int8_or_whole_floats_and_refuses_the_rest_by_name(rng):
    layer = _dense(rng)
    layer.quantize("int8")
    b, k, s = layer.get_weights()
    x = rng.standard_normal((3, 7)).astype(np.float32)
    want = np.asarray(layer(x)).copy()
    layer.set_weights([b, k.astype(np.float32), s])   # a float array of the integers: exact
    np.testing.assert_array_equal(np.asarray(layer(x)), want)
    layer.set_weights([b, k.astype(np.int64), s])
    np.testing.assert_array_equal(np.asarray(layer(x)), want)
    for bad, shown in ((0.5, "0.5"), (-129, "-129"), (np.inf, "inf")):
        v = k.astype(np.float64 if isinstance(bad, float) else np.int32)
        v[1, 2] = bad
        with pytest.raises(ValueError, match=rf"set_weights: weight 'kernel': expected int8 values .*got {shown} "
                                             rf"at flat index {1 * 5 + 2}"):
            layer.set_weights([b, v, s])
        np.testing.assert_array_equal(layer.get_weights()[1], k)   # nothing written
    with pytest.raises(TypeError, match="weight 'kernel': expected int8 values, got an array of dtype <U1"):
        layer.set_weights([b, np.full(k.shape, "a"), s])
    # an int8 value Keras' quantizer never makes (-128) is a valid int8 kernel entry
    k2 = k.copy()
    k2[0, 0] = -128
    layer.set_weights([b, k2, s])
    np.testing.assert_allclose(np.asarray(layer(x)), _dense_ref_q(x, k2, s, b), rtol=1e-5, atol=1e-6)


def _dense_ref_q(x, qk, sk, bias):
    qx, sx = _quantize_ref(x, -1)
    return (qx.astype(np.int64) @ qk.astype(np.int64)) / (sk.astype(np.float64) * sx.astype(np.float64)) + bias


def test_weights_file_of_float32_int8_kernels_still_loads(rng, tmp_path, monkeypatch):
    """corenn's .weights.npz files written before the int8 dtype held the int8 kernel as float32
    whole numbers: they load, exactly, into the int8 weights."""
    model = corenn.Sequential([corenn.Input((7,)), layers.Dense(5, activation="relu"), layers.Dense(3)])
    model.quantize("int8")
    x = rng.standard_normal((4, 7)).astype(np.float32)
    want = model.predict(x, verbose=0)
    as_float = [w.astype(np.float32) for w in model.get_weights()]
    monkeypatch.setattr(model, "get_weights", lambda: as_float)
    model.save_weights(str(tmp_path / "old.weights.npz"))
    monkeypatch.undo()
    with np.load(tmp_path / "old.weights.npz") as f:
        assert {f[k].dtype for k in f.files if k != "__corenn_manifest__"} == {np.dtype(np.float32)}
    other = corenn.Sequential([corenn.Input((7,)), layers.Dense(5, activation="relu"), layers.Dense(3)])
    other.quantize("int8")
    other.load_weights(str(tmp_path / "old.weights.npz"))
    assert [a.dtype for a in other.get_weights()] == [a.dtype for a in model.get_weights()]
    np.testing.assert_array_equal(other.predict(x, verbose=0), want)
    model.save_weights(str(tmp_path / "new.weights.npz"))   # and the int8 file of today
    other.load_weights(str(tmp_path / "new.weights.npz"))
    np.testing.assert_array_equal(other.predict(x, verbose=0), want)



def test_summary_counts_int8_weights_as_one_byte(rng):
    """Keras 3.15's summary of Sequential([Input((4,)), Dense(3)]) after quantize('int8'):
    'Total params: 18 (36.00 B)', 'Trainable params: 3 (12.00 B)', 'Non-trainable params: 15
    (24.00 B)' (the int8 kernel 12 bytes, bias and scale 12 each)."""
    model = corenn.Sequential([corenn.Input((4,)), layers.Dense(3)])
    model.quantize("int8")
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Total params: 18 (36.00 B)" in text
    assert "Trainable params: 3 (12.00 B)" in text
    assert "Non-trainable params: 15 (24.00 B)" in text


def test_a_shared_layer_quantized_after_the_graph_was_built(rng):
    """Model.quantize on a functional model calling one Dense twice: the graph's context of the
    second call held the float kernel's Params (it predicted with the float kernel there, and fit
    raised); both calls now compute with the int8 kernel, and fit trains the shared bias only."""
    d = layers.Dense(16, activation="relu")
    inp = corenn.Input((16,))
    model = corenn.Model(inp, layers.Dense(4)(d(d(inp))))
    x = rng.standard_normal((8, 16)).astype(np.float32)
    model.predict(x, verbose=0)
    with corenn.GradientTape() as tape:   # a tape's graph copy made before quantize, too
        tape.gradient(corenn.ops.sum(model(x, training=True)), model.trainable_weights)
    model.quantize("int8")
    eager = np.asarray(model.layers[-1](d(d(x))))
    np.testing.assert_array_equal(model.predict(x, verbose=0), eager)
    with corenn.GradientTape() as tape:
        y = model(x, training=True)
    np.testing.assert_array_equal(np.asarray(y), eager)
    kernel = d.get_weights()[1]
    model.compile(optimizer="sgd", loss="mse")
    bias = d.get_weights()[0]
    model.fit(x, rng.standard_normal((8, 4)).astype(np.float32), epochs=2, batch_size=4, verbose=0)
    assert not np.array_equal(d.get_weights()[0], bias)
    np.testing.assert_array_equal(d.get_weights()[1], kernel)


def test_checkpoint_round_trip_of_int8_weights(rng, tmp_path):
    """tf.train.Checkpoint writes the int8 kernels and reads them back into another quantized
    model: the same weights (int8) and the same predictions, bit for bit."""
    def model(seed):
        corenn.utils.set_random_seed(seed)
        m = corenn.Sequential([corenn.Input((7,)), layers.Dense(6, activation="relu"), layers.Dense(3)])
        m.quantize("int8")
        return m
    a, b = model(1), model(2)
    x = rng.standard_normal((5, 7)).astype(np.float32)
    assert not np.array_equal(a.predict(x, verbose=0), b.predict(x, verbose=0))
    path = corenn.train.Checkpoint(model=a).write(str(tmp_path / "ckpt"))
    corenn.train.Checkpoint(model=b).read(path)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert wa.dtype == wb.dtype and np.array_equal(wa, wb)
    assert b.get_weights()[1].dtype == np.int8
    np.testing.assert_array_equal(b.predict(x, verbose=0), a.predict(x, verbose=0))
