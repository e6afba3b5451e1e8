"""Layers with float64 weights that compute in float64 (``dtype="float64"``, ``set_floatx``).

Values are checked against float64 NumPy references at tolerances float32 arithmetic cannot meet
(1e-12), gradients against float64 central differences, and higher-order gradients (a PINN's
u_xx) against the closed form of the network's second derivative.
"""
import numpy as np
import pytest

import corenn as tf
from corenn import keras
from corenn.keras import layers


from reference import f64 as _np  # noqa: E402  (the floatx64 fixture: tests/conftest.py)


def _mlp_reference(x, ws):
    """tanh MLP (last layer linear) in float64 NumPy."""
    h = x
    for k in range(0, len(ws), 2):
        h = h @ ws[k] + ws[k + 1]
        if k + 2 < len(ws):
            h = np.tanh(h)
    return h


def test_dense_float64_values_and_dtypes():
    rng = np.random.default_rng(0)
    d = layers.Dense(5, activation="tanh", dtype="float64")
    x = rng.standard_normal((7, 3))
    y = d(x)
    assert str(y.dtype) == "float64"
    assert [str(w.dtype) for w in d.weights] == ["float64", "float64"]
    assert d.compute_dtype == d.variable_dtype == "float64"
    want = np.tanh(x @ _np(d.kernel) + _np(d.bias))
    np.testing.assert_allclose(_np(y), want, rtol=1e-13, atol=1e-15)


def test_dense_float64_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    d = layers.Dense(4, activation="sigmoid", dtype="float64")
    x = tf.constant(rng.standard_normal((5, 3)), dtype=tf.float64)
    d(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(d(x) ** 2)
    gx, gk, gb = tape.gradient(loss, [x, d.kernel, d.bias])
    assert {str(g.dtype) for g in (gx, gk, gb)} == {"float64"}

    def f(xv, kv, bv):
        return np.sum((1 / (1 + np.exp(-(xv @ kv + bv)))) ** 2)
    xv, kv, bv = _np(x), _np(d.kernel), _np(d.bias)
    eps = 1e-6
    for arr, g in ((xv, gx), (kv, gk), (bv, gb)):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + eps
            up = f(xv, kv, bv)
            arr[i] = old - eps
            down = f(xv, kv, bv)
            arr[i] = old
            num[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(_np(g), num, rtol=1e-8, atol=1e-9)


def test_set_floatx_makes_float64_models(floatx64):
    assert keras.backend.floatx() == "float64"
    model = keras.Sequential([keras.Input((2,)), layers.Dense(8, activation="tanh"), layers.Dense(1)])
    assert model.layers[0].dtype_policy.name == "float64"
    assert {str(w.dtype) for w in model.weights} == {"float64"}
    x = np.random.default_rng(2).standard_normal((6, 2))
    # float64 data is not cut to float32 on the way in: a 1e-12 change of the input shows
    out = model.predict(x, verbose=0)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, _mlp_reference(x, [_np(w) for w in model.weights]), rtol=1e-12, atol=1e-14)
    moved = model.predict(x + 1e-12, verbose=0)
    assert np.any(moved != out)


def test_float32_default_unchanged():
    d = layers.Dense(3)
    d(np.zeros((1, 2)))
    assert str(d.kernel.dtype) == "float32" and d.compute_dtype == "float32"
    assert keras.backend.floatx() == "float32"


def test_pinn_second_derivative_is_float64(floatx64):
    """u_xx of a tanh network through nested tapes, against its closed form."""
    d1, d2 = layers.Dense(6, activation="tanh"), layers.Dense(1)
    model = keras.Sequential([keras.Input((1,)), d1, d2])
    x = tf.constant(np.linspace(-1, 1, 9)[:, None], dtype=tf.float64)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as t2:
            t2.watch(x)
            with tf.GradientTape() as t1:
                t1.watch(x)
                u = model(x)
            ux = t1.gradient(u, x)
        uxx = t2.gradient(ux, x)
        loss = tf.reduce_sum(uxx ** 2)
    w1, b1, w2 = _np(d1.kernel), _np(d1.bias), _np(d2.kernel)
    t = np.tanh(_np(x) @ w1 + b1)
    want_ux = (1 - t ** 2) * w1 @ w2
    want_uxx = (-2 * t * (1 - t ** 2) * w1 ** 2) @ w2
    assert str(uxx.dtype) == "float64"
    np.testing.assert_allclose(_np(ux), want_ux, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(_np(uxx), want_uxx, rtol=1e-11, atol=1e-13)
    # the loss is differentiated into the weights (third order): against central differences
    g = outer.gradient(loss, d2.kernel)

    def loss_of(w2v):
        return np.sum(((-2 * t * (1 - t ** 2) * w1 ** 2) @ w2v) ** 2)
    num = np.zeros_like(w2)
    for i in np.ndindex(w2.shape):
        e = np.zeros_like(w2)
        e[i] = 1e-6
        num[i] = (loss_of(w2 + e) - loss_of(w2 - e)) / 2e-6
    np.testing.assert_allclose(_np(g), num, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("make", [
    lambda: layers.Activation("softplus"), lambda: layers.ReLU(max_value=0.5, threshold=0.1),
    lambda: layers.LeakyReLU(0.2), lambda: layers.ELU(0.7), lambda: layers.Softmax(),
    lambda: layers.Flatten(), lambda: layers.Reshape((4, 2)), lambda: layers.LayerNormalization(),
    lambda: layers.Dropout(0.3)])
def test_float64_forms_agree_with_float32_layers(make, floatx64):
    """Each float64 form computes what the float32 layer computes (to float32 precision), in
    float64, and its input gradient matches float64 central differences."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 8)) if "Reshape" not in repr(make()) else rng.standard_normal((3, 8))
    wide = make()
    keras.backend.set_floatx("float32")
    narrow = make()
    keras.backend.set_floatx("float64")
    y64 = wide(x)
    y32 = narrow(x.astype(np.float32))
    assert str(y64.dtype) == "float64" and str(y32.dtype) == "float32"
    np.testing.assert_allclose(_np(y64), _np(y32), rtol=2e-6, atol=2e-6)
    xt = tf.constant(x, dtype=tf.float64)
    probe = rng.standard_normal(tuple(y64.shape))
    with tf.GradientTape() as tape:
        tape.watch(xt)
        s = tf.reduce_sum(wide(xt) * probe)
    g = _np(tape.gradient(s, xt))
    num = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = 1e-6
        num[i] = (np.sum(_np(wide(x + e)) * probe) - np.sum(_np(wide(x - e)) * probe)) / 2e-6
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)


def test_float64_merges(floatx64):
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    for layer, want in ((layers.Add(), a + b), (layers.Subtract(), a - b), (layers.Multiply(), a * b),
                        (layers.Average(), (a + b) / 2), (layers.Maximum(), np.maximum(a, b)),
                        (layers.Minimum(), np.minimum(a, b)), (layers.Concatenate(), np.concatenate([a, b], -1))):
        y = layer([a, b])
        assert str(y.dtype) == "float64", type(layer).__name__
        np.testing.assert_allclose(_np(y), want, rtol=1e-15, err_msg=type(layer).__name__)


def test_float64_dropout_keeps_expected_scale(floatx64):
    layer = layers.Dropout(0.25, seed=1)
    y = _np(layer(np.ones((400, 50)), training=True))
    kept = y[y != 0]
    np.testing.assert_array_equal(kept, np.full(kept.shape, 1 / 0.75))   # exact in float64
    assert abs(kept.size / y.size - 0.75) < 0.02
    np.testing.assert_array_equal(_np(layer(np.ones((2, 3)), training=False)), np.ones((2, 3)))


def test_layer_without_float64_form_is_refused_by_name():
    with pytest.raises(TypeError, match="MultiHeadAttention.*float64"):
        layers.MultiHeadAttention(2, 4, dtype="float64")
    with pytest.raises(ValueError, match="set_floatx"):
        keras.backend.set_floatx("float16")


def test_custom_layer_with_float64_weights_in_a_tape():
    class Affine(layers.Layer):
        def build(self, shape):
            self.w = self.add_weight(shape=(shape[-1], 2), initializer="ones", dtype="float64")

        def call(self, x):
            return tf.matmul(tf.cast(x, "float64"), self.w)
    layer = Affine()
    x = tf.constant([[1.0, 2.0]], dtype=tf.float64)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(layer(x) * (1 + 1e-12))
    g = tape.gradient(total, layer.w)
    assert str(layer.w.dtype) == "float64" and str(g.dtype) == "float64"
    np.testing.assert_allclose(_np(g), [[1 + 1e-12] * 2, [2 * (1 + 1e-12)] * 2], rtol=1e-15)
    assert np.all(_np(g)[0] != 1.0)   # the 1e-12 survives: float64 all the way


def test_float64_model_saves_and_loads_exactly(tmp_path, floatx64):
    model = keras.Sequential([keras.Input((3,)), layers.Dense(4, activation="relu"), layers.LayerNormalization(),
                              layers.Dense(2)])
    x = np.random.default_rng(5).standard_normal((5, 3))
    before = model.predict(x, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    keras.backend.set_floatx("float32")
    loaded = keras.models.load_model(path)
    assert {str(w.dtype) for w in loaded.weights} == {"float64"}
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), before)


def test_float64_loss_value_and_gradient(floatx64):
    rng = np.random.default_rng(6)
    p = tf.constant(rng.standard_normal((4, 3)), dtype=tf.float64)
    t = rng.standard_normal((4, 3))
    with tf.GradientTape() as tape:
        tape.watch(p)
        loss = keras.losses.MeanSquaredError()(t, p)
    g = tape.gradient(loss, p)
    assert str(loss.dtype) == "float64" and str(g.dtype) == "float64"
    np.testing.assert_allclose(float(loss), np.mean((_np(p) - t) ** 2), rtol=1e-14)
    np.testing.assert_allclose(_np(g), 2 * (_np(p) - t) / p.shape[0] / p.shape[1], rtol=1e-13)


def test_float64_residual_graph_sums_gradients_in_float64(floatx64):
    """A tensor read by two calls (a residual): the graph adds its two gradients in float64."""
    inp = keras.Input((3,))
    h = layers.Dense(4, activation="tanh")(inp)
    out = layers.Dense(1)(layers.Add()([h, layers.Dense(4, activation="tanh")(h)]))
    model = keras.Model(inp, out)
    x = np.random.default_rng(7).standard_normal((5, 3))
    kernel = model.layers[1].kernel

    def loss_value():
        return float(np.sum(np.asarray(model(x)) ** 2))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x) ** 2)
    g = _np(tape.gradient(loss, kernel))
    base = _np(kernel).copy()
    num = np.zeros_like(base)
    for i in np.ndindex(base.shape):
        for sign in (1, -1):
            moved = base.copy()
            moved[i] += sign * 1e-6
            kernel.assign(moved)
            num[i] += sign * loss_value() / 2e-6
    kernel.assign(base)
    np.testing.assert_allclose(g, num, rtol=1e-7, atol=1e-9)


def test_float64_dense_is_not_quantized_and_says_why():
    model = keras.Sequential([keras.Input((3,), dtype="float64"), layers.Dense(4, dtype="float64")])
    with pytest.warns(UserWarning, match="float64"):
        model.quantize("int8")
    assert {str(w.dtype) for w in model.weights} == {"float64"}
    with pytest.raises(NotImplementedError, match="float64"):
        model.layers[0].quantize("int8")


def test_second_derivative_through_float64_layer_normalization(floatx64):
    """u_xx through a float64 LayerNormalization (nested tapes) against central differences of u_x."""
    model = keras.Sequential([keras.Input((2,)), layers.Dense(4, activation="tanh"), layers.LayerNormalization(),
                              layers.Dense(1)])
    x0 = np.random.default_rng(8).standard_normal((3, 2))

    def first(xv):
        x = tf.constant(xv, dtype=tf.float64)
        with tf.GradientTape() as t:
            t.watch(x)
            u = model(x)
        return _np(t.gradient(u, x))[:, 0]
    x = tf.constant(x0, dtype=tf.float64)
    with tf.GradientTape() as t2:
        t2.watch(x)
        with tf.GradientTape() as t1:
            t1.watch(x)
            u = model(x)
        ux = t1.gradient(u, x)[:, 0]
    uxx = _np(t2.gradient(ux, x))[:, 0]
    e = np.zeros_like(x0)
    e[:, 0] = 1e-5
    np.testing.assert_allclose(uxx, (first(x0 + e) - first(x0 - e)) / 2e-5, rtol=1e-6, atol=1e-8)
