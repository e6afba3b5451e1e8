"""int8 quantization (Keras 3's layer.quantize / model.quantize) of Dense and Embedding, checked
against a float64 NumPy model of Keras' arithmetic: abs-max per output unit (Dense kernel
columns, Embedding rows) and, for Dense, per input row; see layers/quantization.py."""
import numpy as np
import pytest

import corenn
from corenn import keras
from corenn.keras import layers


def quant(v, axis):
    v = np.asarray(v, np.float64)
    s = 127.0 / (np.abs(v).max(axis=axis, keepdims=True) + 1e-7)
    return np.clip(np.round(v * s), -127, 127), s


def ref_dense(x, kernel, bias, relu=False):
    kq, ks = quant(kernel, 0)
    xq, xs = quant(x, -1)
    y = (xq @ kq) / (xs * ks) + bias
    return np.maximum(y, 0) if relu else y


@pytest.mark.parametrize("shape", [(6, 5), (2, 3, 5)])
def test_dense_int8_matches_keras_arithmetic(shape):
    rng = np.random.default_rng(0)
    layer = layers.Dense(4, activation="relu")
    x = rng.normal(size=shape).astype("float32")
    layer(x)
    layer.set_weights([layer.get_weights()[0], rng.normal(size=4).astype("float32")])
    kernel, bias = [w.copy() for w in layer.get_weights()]
    layer.quantize("int8")
    got = np.asarray(layer(x))
    np.testing.assert_allclose(got, ref_dense(x, kernel, bias, relu=True), rtol=1e-5, atol=1e-5)
    assert layer.dtype_policy.name == "int8_from_float32" and layer.quantization_mode == "int8"
    kq, ks = quant(kernel, 0)
    np.testing.assert_allclose(layer.get_weights()[0], kq / ks, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(layer.kernel_scale), ks[0], rtol=1e-6)
    assert [w.name for w in layer.trainable_weights] == ["bias"]
    assert {w.name for w in layer.non_trainable_weights} == {"kernel", "kernel_scale"}


def test_embedding_int8_looks_up_dequantized_rows():
    rng = np.random.default_rng(1)
    emb = layers.Embedding(7, 3)
    ids = rng.integers(0, 7, size=(4, 5))
    emb(ids)
    table = emb.get_weights()[0].copy()
    emb.quantize("int8")
    q, s = quant(table, -1)
    np.testing.assert_allclose(np.asarray(emb(ids)), (q / s)[ids], rtol=1e-6)
    assert tuple(emb.embeddings_scale.shape) == (7,) and emb.trainable_weights == []


def model():
    keras.utils.set_random_seed(3)
    ids = keras.Input((5,), dtype="int32")
    feats = keras.Input((6,))
    e = layers.GlobalAveragePooling1D()(layers.Embedding(11, 8, name="emb")(ids))
    h = layers.Dense(8, activation="relu", name="d1")(feats)
    out = layers.Dense(2, name="d2")(layers.Add()([e, h]))
    return keras.Model([ids, feats], out)


def data():
    rng = np.random.default_rng(2)
    return [rng.integers(0, 11, size=(32, 5)), rng.normal(size=(32, 6)).astype("float32")], \
        rng.normal(size=(32, 2)).astype("float32")


def test_model_quantize_save_load_and_config(tmp_path):
    m = model()
    x, y = data()
    before = m.predict(x, verbose=0)
    m.quantize("int8")
    after = m.predict(x, verbose=0)
    assert 0 < np.abs(after - before).max() < 0.05
    cfg = m.get_layer("d1").get_config()
    assert cfg["dtype"] == "int8_from_float32"
    clone = layers.Dense.from_config(cfg)
    clone.build((None, 6))
    assert clone.quantization_mode == "int8" and len(clone.get_weights()) == 3
    m.save(tmp_path / "q.keras")
    loaded = keras.models.load_model(tmp_path / "q.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), after, rtol=1e-6, atol=1e-6)
    assert loaded.get_layer("emb").quantization_mode == "int8"


def test_fit_after_quantize_trains_the_biases_only():
    m = model()
    x, y = data()
    m.quantize("int8")
    frozen = {n: m.get_layer(n).get_weights()[0].copy() for n in ("emb", "d1", "d2")}
    bias = m.get_layer("d2").get_weights()[1].copy()
    m.compile(keras.optimizers.SGD(0.1), "mse")
    m.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for n, w in frozen.items():
        np.testing.assert_array_equal(m.get_layer(n).get_weights()[0], w)
    assert not np.array_equal(m.get_layer("d2").get_weights()[1], bias)


def test_gradient_through_quantized_dense_is_straight_through():
    rng = np.random.default_rng(4)
    layer = layers.Dense(3)
    x = rng.normal(size=(2, 4)).astype("float32")
    layer(x)
    layer.quantize("int8")
    xt = corenn.convert_to_tensor(x)
    with corenn.GradientTape() as tape:
        tape.watch(xt)
        out = corenn.reduce_sum(layer(xt) * np.array([1.0, -2.0, 0.5], "float32"))
    dx = np.asarray(tape.gradient(out, xt))
    np.testing.assert_allclose(dx, np.tile(layer.get_weights()[0] @ np.array([1.0, -2.0, 0.5]), (2, 1)), rtol=1e-5)


def test_quantize_then_lora_trains_the_adapters():
    m = keras.Sequential([keras.Input((6,)), layers.Dense(4, name="d")])
    m.quantize("int8")
    m.get_layer("d").enable_lora(2)
    assert sorted(w.name for w in m.trainable_weights) == ["bias", "lora_kernel_a", "lora_kernel_b"]
    x = np.random.default_rng(5).normal(size=(16, 6)).astype("float32")
    m.compile(keras.optimizers.SGD(0.1), "mse")
    h = m.fit(x, np.ones((16, 4), "float32"), epochs=3, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]


def test_quantize_errors():
    with pytest.raises(ValueError, match="not built"):
        layers.Dense(2).quantize("int8")
    layer = layers.Dense(2)
    layer.build((None, 3))
    with pytest.raises(NotImplementedError, match="int4"):
        layer.quantize("int4")
    with pytest.raises(ValueError, match="invalid quantization mode"):
        layer.quantize("int7")
    layer.quantize("int8")
    with pytest.raises(ValueError, match="already quantized"):
        layer.quantize("int8")
    lora = layers.Dense(2)
    lora.build((None, 3))
    lora.enable_lora(1)
    with pytest.raises(ValueError, match="quantize before enable_lora"):
        lora.quantize("int8")
    with pytest.raises(ValueError, match="not built"):
        keras.Sequential([layers.Dense(2)]).quantize("int8")


def test_a_trained_model_quantized_saves_and_loads_with_its_optimizer(tmp_path):
    m = model()
    x, y = data()
    m.compile(keras.optimizers.Adam(0.01), "mse")
    m.fit(x, y, epochs=1, verbose=0)
    m.quantize("int8")
    assert len(m.optimizer.variables) == 2 * len(m.trainable_weights)   # rebuilt for the biases
    m.save(tmp_path / "trained_q.keras")
    loaded = keras.models.load_model(tmp_path / "trained_q.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), m.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
    loaded.fit(x, y, epochs=1, verbose=0)


def test_keras_file_layouts_of_quantized_layers_are_refused(tmp_path):
    pytest.importorskip("h5py")
    m = keras.Sequential([keras.Input((4,)), layers.Dense(3, name="dq")])
    m.quantize("int8")
    with pytest.raises(NotImplementedError, match="'dq' is quantized"):
        m.save(tmp_path / "m.h5")
    with pytest.raises(NotImplementedError, match="'dq' is quantized"):
        m.save_weights(tmp_path / "m.weights.h5")
    from corenn.saving_keras_config import _BadConfig, _dtype_name
    with pytest.raises(_BadConfig, match="quantized"):
        _dtype_name({"class_name": "QuantizedDTypePolicy", "config": {"mode": "int8", "source_name": "float32"}},
                    "layer 1")


@pytest.mark.parametrize("equation, out_shape, x_shape, k_axes, x_axes", [
    ("abc,cde->abde", (None, 3, 5), (2, 4, 6), (0,), (-1,)),
    ("abcd,cde->abe", (None, 5), (2, 4, 3, 6), (0, 1), (2, 3)),
    ("abc,cd->abd", (None, 7), (3, 2, 5), (0,), (-1,)),
])
def test_einsum_dense_int8_scales_over_the_contracted_axes(equation, out_shape, x_shape, k_axes, x_axes):
    rng = np.random.default_rng(6)
    layer = layers.EinsumDense(equation, output_shape=out_shape, bias_axes=equation[-1])
    x = rng.normal(size=x_shape).astype("float32")
    layer(x)
    kernel = layer.get_weights()[0].copy()
    bias = rng.normal(size=layer.get_weights()[1].shape).astype("float32")
    layer.set_weights([kernel, bias])
    layer.quantize("int8")
    kq, ks = quant(kernel, k_axes)
    xq, xs = quant(x, x_axes)
    spec = equation.split("->")[0].split(",")
    want = np.einsum(f"{spec[0]},{spec[1]}->{equation.split('->')[1]}", xq / xs, kq / ks) + bias
    np.testing.assert_allclose(np.asarray(layer(x)), want, rtol=1e-5, atol=1e-5)
    assert [w.name for w in layer.trainable_weights] == ["bias"]
    clone = layers.EinsumDense.from_config(layer.get_config())
    clone.build(x_shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), np.asarray(layer(x)), rtol=1e-6)
    # training after quantization moves the bias only
    frozen = layer.get_weights()[0].copy()
    model = keras.Sequential([keras.Input(x_shape[1:]), layer])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    model.fit(x, np.zeros((x_shape[0],) + tuple(layer.compute_output_shape(x_shape)[1:]), "float32"), verbose=0)
    np.testing.assert_array_equal(layer.get_weights()[0], frozen)
    assert not np.array_equal(layer.get_weights()[1], bias)


def test_model_quantize_warns_that_attention_stays_float():
    inp = keras.Input((4, 6))
    out = layers.Dense(2)(layers.MultiHeadAttention(2, 3, name="att")(inp, inp))
    m = keras.Model(inp, out)
    with pytest.warns(UserWarning, match="att keep their float32 projections"):
        m.quantize("int8")
    assert m.layers[-1].quantization_mode == "int8"
