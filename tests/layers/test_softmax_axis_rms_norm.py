"""Softmax over any axis (or several together) and LayerNormalization(rms_scaling=True) (Keras 3.15's
deprecated scaling by the standard deviation; RMSNormalization divides by the RMS): forward and backward against the float64 reference, the reference against
finite differences, training, get_config and saving, and errors naming the layer."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras, kernels
from corenn.keras import layers

import reference as ref


def test_reference_gradients_match_finite_differences(rng):
    x = rng.normal(size=(2, 3, 4))
    r = rng.normal(size=x.shape)
    gamma = rng.uniform(0.5, 2.0, (3, 4))
    dx, dg = ref.rms_norm_grads(r, x, gamma, 2, 1e-3)
    np.testing.assert_allclose(dx, ref.numerical_grad(lambda v: (ref.rms_norm(v, gamma, 2, 1e-3) * r).sum(), x),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dg, ref.numerical_grad(lambda g: (ref.rms_norm(x, g, 2, 1e-3) * r).sum(), gamma),
                               rtol=1e-6, atol=1e-7)
    sx = ref.softmax_axes_grad(x, r, (0, 2))
    np.testing.assert_allclose(sx, ref.numerical_grad(lambda v: (ref.softmax_axes(v, (0, 2)) * r).sum(), x),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("shape,axis", [((4, 5, 6), 1), ((4, 5, 6), -2), ((2, 3, 4, 5), 2), ((2, 3, 4, 5), [1, 3]),
                                        ((2, 3, 4, 5), [2, 3]), ((2, 3, 4, 5), (3, 1, 2)), ((6, 7), -1),
                                        ((6, 7), [1])])
def test_softmax_layer_any_axis_forward_backward(rng, shape, axis):
    x = (rng.normal(size=shape) * 3).astype(np.float32)
    dy = rng.normal(size=shape).astype(np.float32)
    layer = layers.Softmax(axis=axis)
    layer.build((None,) + shape[1:])
    axes = tuple(a % len(shape) for a in np.atleast_1d(axis))
    y = np.asarray(layer.forward(kernels.as_tensor(x), training=True)).copy()
    np.testing.assert_allclose(y, ref.softmax_axes(x, axes), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y.sum(axis=axes), 1.0, rtol=1e-5)
    dx = np.asarray(layer.backward(kernels.as_tensor(dy)))
    np.testing.assert_allclose(dx, ref.softmax_axes_grad(x, dy, axes), rtol=1e-4, atol=1e-6)


def test_softmax_layer_in_a_graph_under_a_tape_and_saved(rng, tmp_path):
    """Attention weights over the steps axis (axis=1): a model that trains, a tape gradient that
    matches the reference, and a file round trip keeping the axis."""
    keras.utils.set_random_seed(1)   # initial weights independent of earlier tests
    x = rng.normal(size=(8, 5, 3)).astype(np.float32)
    inp = keras.Input((5, 3))
    scores = layers.Dense(1)(inp)
    weights = layers.Softmax(axis=1)(scores)
    pooled = layers.Dot(axes=1)([weights, inp])
    model = keras.Model(inp, layers.Dense(1)(layers.Flatten()(pooled)))
    model.compile(keras.optimizers.Adam(0.05), "mse")
    y = x[:, :, :1].max(axis=1)
    hist = model.fit(x, y, epochs=20, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    assert next(l for l in again.layers if isinstance(l, layers.Softmax)).axis == 1
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    v = tf.Variable(x)
    with tf.GradientTape() as tape:
        out = layers.Softmax(axis=[1, 2])(v)
        loss = tf.reduce_sum(out * x)
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, v)), ref.softmax_axes_grad(x, x, (1, 2)),
                               rtol=1e-4, atol=1e-6)


def test_activation_and_ops_softmax_axes(rng):
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    for axis in (0, 1, (1, 2), [0, 2]):
        want = ref.softmax_axes(x, axis)
        np.testing.assert_allclose(np.asarray(keras.activations.softmax(x, axis=axis)), want, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(np.asarray(keras.ops.softmax(x, axis=axis)), want, rtol=1e-5, atol=1e-7)


def test_softmax_bad_axes_are_named():
    with pytest.raises(ValueError, match="Softmax 'sm'.*axis"):
        layers.Softmax(axis="last", name="sm")
    with pytest.raises(ValueError, match="Softmax 'sm2'.*out of range"):
        layers.Softmax(axis=3, name="sm2").build((None, 4, 5))
    with pytest.raises(ValueError, match="Softmax 'sm3'.*non-batch"):
        layers.Softmax(axis=0, name="sm3").build((None, 4, 5))


@pytest.mark.parametrize("shape,axis", [((6, 5), -1), ((3, 4, 7), -1), ((2, 3, 4, 5), [-2, -1]), ((2, 3, 4, 5), [1, 2, 3])])
def test_rms_norm_forward_backward(rng, shape, axis):
    k = len(axis) if isinstance(axis, list) else 1
    x = (rng.normal(size=shape) * 2 + 0.5).astype(np.float32)   # off-centre: centring would show
    dy = rng.normal(size=shape).astype(np.float32)
    layer = layers.LayerNormalization(axis=axis, rms_scaling=True, epsilon=1e-5)
    layer.build((None,) + shape[1:])
    assert [w.name for w in layer.weights] == ["gamma"]
    gamma = rng.uniform(0.5, 2.0, shape[len(shape) - k:]).astype(np.float32)
    layer.set_weights([gamma])
    y = np.asarray(layer.forward(kernels.as_tensor(x), training=True)).copy()
    np.testing.assert_allclose(y, ref.std_scaling_norm(x, gamma, k, 1e-5), rtol=1e-5, atol=1e-5)
    dx = np.asarray(layer.backward(kernels.as_tensor(dy))).copy()
    wdx, wdg = ref.std_scaling_norm_grads(dy, x, gamma, k, 1e-5)
    np.testing.assert_allclose(dx, wdx, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(layer.gradients[0]), wdg, rtol=1e-4, atol=1e-4)


def test_rms_norm_finite_differences_through_the_layer(rng):
    x = rng.normal(size=(3, 6)).astype(np.float32)
    r = rng.normal(size=(3, 6)).astype(np.float32)
    layer = layers.LayerNormalization(rms_scaling=True)
    layer.build((None, 6))
    layer.set_weights([rng.uniform(0.5, 2.0, 6).astype(np.float32)])
    layer.forward(kernels.as_tensor(x), training=True)
    dx = np.asarray(layer.backward(kernels.as_tensor(r))).copy()

    def loss(v):
        return float((np.asarray(layer.forward(kernels.as_tensor(v.astype(np.float32)))) * r).sum())
    np.testing.assert_allclose(dx, ref.numerical_grad(loss, x, 1e-2), rtol=2e-2, atol=2e-2)


def test_rms_norm_keras_weights_trains_and_saves(rng, tmp_path):
    keras.utils.set_random_seed(1)   # initial weights independent of earlier tests
    # Keras: center is ignored and gamma exists even with scale=False
    layer = layers.LayerNormalization(rms_scaling=True, center=True, scale=False)
    layer.build((None, 4))
    assert [w.name for w in layer.weights] == ["gamma"]
    assert layer.get_config()["rms_scaling"] is True
    x = rng.normal(size=(64, 8)).astype(np.float32)
    y = (x ** 2).sum(axis=1, keepdims=True).astype(np.float32)
    model = keras.Sequential([keras.Input((8,)), layers.Dense(16), layers.LayerNormalization(rms_scaling=True),
                              layers.Dense(16, activation="relu"), layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    hist = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    model.save(tmp_path / "rms.keras")
    again = keras.models.load_model(tmp_path / "rms.keras")
    assert again.layers[1].rms_scaling
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def _masked_softmax_ref(x, m, axis):
    xm = np.where(m, ref.f64(x), -1e9)
    return ref.softmax_axes(xm, axis) * m


@pytest.mark.parametrize("axis", [-1, 1])
def test_softmax_with_a_mask_forward_backward(rng, axis):
    x = rng.normal(size=(3, 4, 5)).astype(np.float32)
    dy = rng.normal(size=x.shape).astype(np.float32)
    m = rng.random(x.shape) > 0.3
    m[0, :, 0] = False   # a whole column masked (axis=1) / mixed rows (axis=-1)
    m[1, 2, :] = False   # a whole row masked (axis=-1): outputs 0, not uniform
    layer = layers.Softmax(axis=axis)
    layer.build((None, 4, 5))
    layer.__dict__["_call_mask"] = kernels.as_tensor(m.astype(np.float32))
    y = np.asarray(layer.forward(kernels.as_tensor(x), training=True)).copy()
    np.testing.assert_allclose(y, _masked_softmax_ref(x, m, axis), rtol=1e-5, atol=1e-7)
    assert np.all(y[~m] == 0)
    dx = np.asarray(layer.backward(kernels.as_tensor(dy)))
    # the gradient of sum(y * dy) through the masked softmax, by finite differences (float64)
    want = ref.numerical_grad(lambda v: (_masked_softmax_ref(v, m, axis) * dy).sum(), x)
    np.testing.assert_allclose(dx, want, rtol=1e-4, atol=1e-5)


def test_softmax_mask_call_argument_and_carried_mask(rng):
    x = rng.normal(size=(2, 6, 3)).astype(np.float32)
    steps = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]], bool)
    y = np.asarray(layers.Softmax(axis=1)(x, mask=steps))   # one flag per step: all its scores
    np.testing.assert_allclose(y, _masked_softmax_ref(x, np.broadcast_to(steps[..., None], x.shape), 1),
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    # Embedding(mask_zero=True) -> Dense(1) scores -> Softmax over the steps: padding gets no weight
    tokens = keras.Input((6,), dtype="int32")
    scores = layers.Dense(1)(layers.Embedding(10, 4, mask_zero=True)(tokens))
    model = keras.Model(tokens, layers.Softmax(axis=1)(scores))
    t = np.array([[3, 4, 5, 0, 0, 0], [1, 2, 3, 4, 0, 0]])
    w = model.predict(t, verbose=0)[..., 0]
    np.testing.assert_array_equal(w[t == 0], 0.0)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="Softmax.*mask"):
        layers.Softmax()(x, mask=np.ones((2, 5), bool))


def test_onnx_export_refuses_a_softmax_over_another_axis(tmp_path):
    """ONNX export maps Softmax to the last axis; another axis raises instead of exporting wrong math."""
    import os
    import corenn
    inp = keras.Input((4, 3))
    model = keras.Model(inp, layers.Softmax(axis=1, name="over_steps")(layers.Dense(3)(inp)))
    with pytest.raises(NotImplementedError, match=r"'over_steps' \(Softmax\).*axis"):
        corenn.onnx.export(model, str(tmp_path / "m.onnx"))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("shape,axis", [((4, 6), -1), ((2, 3, 5), -1), ((2, 3, 5), [1, 2])])
def test_rms_normalization_layer_forward_backward_against_the_reference(rng, shape, axis):
    """Keras 3's RMSNormalization layer: weight ``scale``, epsilon 1e-6, config (axis, epsilon)."""
    x = rng.normal(size=shape).astype(np.float32)
    dy = rng.normal(size=shape).astype(np.float32)
    layer = layers.RMSNormalization(axis=axis)
    layer.build((None,) + shape[1:])
    ndim = len(np.atleast_1d(axis))
    scale = rng.uniform(0.5, 2.0, shape[len(shape) - ndim:]).astype(np.float32)
    layer.set_weights([scale])
    assert layer.scale is layer.weights[0] and layer.weights[0].name == "scale"
    y = np.asarray(layer.forward(kernels.as_tensor(x), training=True)).copy()
    np.testing.assert_allclose(y, ref.rms_norm(x, scale, ndim, 1e-6), rtol=1e-5, atol=1e-6)
    dx = np.asarray(layer.backward(kernels.as_tensor(dy))).copy()
    want_dx, want_ds = ref.rms_norm_grads(dy, x, scale, ndim, 1e-6)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(layer.gradients[0]), want_ds, rtol=1e-4, atol=1e-5)
    assert layer.get_config()["epsilon"] == 1e-6 and "rms_scaling" not in layer.get_config()
    again = layers.RMSNormalization.from_config(layer.get_config())
    assert again.axis == layer.axis and again.epsilon == layer.epsilon


def test_rms_normalization_refuses_layer_norm_only_options():
    with pytest.raises(TypeError, match="center"):
        layers.RMSNormalization(center=True)


def test_ops_layer_normalization_follows_keras_defaults_and_rms_scaling(rng):
    x = (rng.normal(size=(3, 5)) * 1e-3).astype(np.float32)   # tiny variance: epsilon shows
    g = rng.uniform(0.5, 2.0, 5).astype(np.float32)
    x64 = x.astype(np.float64)
    want = (x64 - x64.mean(1, keepdims=True)) / np.sqrt(x64.var(1, keepdims=True) + 1e-7)   # Keras: 1e-7
    np.testing.assert_allclose(np.asarray(keras.ops.layer_normalization(x)), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(keras.ops.layer_normalization(x, gamma=g, rms_scaling=True)),
                               ref.std_scaling_norm(x, g, 1, 1e-7), rtol=1e-4, atol=1e-4)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        keras.ops.layer_normalization(x, center=True)
