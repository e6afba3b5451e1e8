"""LayerNormalization: weights, forward and gradients vs the float64 reference (which finite
differences check in tests/kernels/test_layer_norm.py), finite differences through the layer,
frozen layers, errors naming the layer, and a Sequential model that trains, saves and loads."""
import numpy as np
import pytest

import corenn
from corenn import kernels, layers
from corenn.layers.normalization import LayerNormalization
import reference as ref


def _ln(shape, rng, **kwargs):
    layer = LayerNormalization(**kwargs)
    layer.build((None,) + tuple(shape[1:]))
    layer.set_weights([rng.uniform(0.5, 2, w.shape).astype(np.float32) if p.name == "gamma"
                       else rng.normal(size=w.shape).astype(np.float32)
                       for p, w in zip(layer._params, layer.get_weights())])
    return layer


def test_weights_keras_order_and_shapes():
    layer = LayerNormalization(axis=[-2, -1])
    layer.build((None, 3, 4, 5))
    assert [p.name for p in layer._params] == ["gamma", "beta"]
    g, b = layer.get_weights()
    assert g.shape == b.shape == (4, 5)
    np.testing.assert_array_equal(g, 1.0)
    np.testing.assert_array_equal(b, 0.0)
    none = LayerNormalization(center=False, scale=False)
    none.build((None, 7))
    assert none.weights == [] and none.count_params() == 0
    LayerNormalization(axis=[3, 2]).build((None, 2, 3, 4))  # positive trailing axes, any order


@pytest.mark.parametrize("shape,axis", [((6, 5), -1), ((3, 4, 7), -1), ((2, 3, 4, 5), [-2, -1]),
                                        ((2, 3, 4, 5), [1, 2, 3]), ((5, 1), -1), ((9, 33), 1)])
@pytest.mark.parametrize("center,scale", [(True, True), (False, True), (True, False), (False, False)])
def test_forward_and_gradients_vs_reference(shape, axis, center, scale, rng):
    k = len(axis) if isinstance(axis, list) else 1
    x = (rng.normal(size=shape) * 2 + 1).astype(np.float32)
    r = rng.normal(size=shape)
    layer = _ln(shape, rng, axis=axis, center=center, scale=scale)
    weights = dict(zip([p.name for p in layer._params], layer.get_weights()))
    gamma, beta = weights.get("gamma"), weights.get("beta")
    y = layer.forward(kernels.as_tensor(x), training=True)
    np.testing.assert_allclose(np.asarray(y), ref.layer_norm(x, gamma, beta, k)[0], rtol=1e-4, atol=1e-4)
    dx = np.asarray(layer.backward(kernels.as_tensor(r.astype(np.float32))))
    wdx, wdg, wdb = ref.layer_norm_grads(r, x, gamma, k)
    np.testing.assert_allclose(dx, wdx, rtol=1e-3, atol=1e-4)
    expect = ([wdg] if scale else []) + ([wdb] if center else [])
    assert len(layer.gradients) == len(expect)
    for got, want in zip(layer.gradients, expect):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-4)


def _moved_reference(x, r, gamma, beta, axes, rms):
    """The float64 reference with the normalised axes moved to the end and back (gamma / beta
    have the normalised axes' shape in increasing axis order, as Keras builds them)."""
    kept = [a for a in range(x.ndim) if a not in axes]
    perm = kept + list(axes)
    back = np.argsort(perm)
    xt, rt = np.transpose(x, perm), np.transpose(r, perm)
    k = len(axes)
    if rms:
        y = ref.std_scaling_norm(xt, gamma, k)
        dx, dg = ref.std_scaling_norm_grads(rt, xt, gamma, k)
        return np.transpose(y, back), np.transpose(dx, back), [dg]
    y = ref.layer_norm(xt, gamma, beta, k)[0]
    dx, dg, db = ref.layer_norm_grads(rt, xt, gamma, k)
    return np.transpose(y, back), np.transpose(dx, back), [dg, db]


@pytest.mark.parametrize("shape,axis", [((2, 5, 3), 1), ((2, 3, 4, 5), [1, 2]), ((2, 3, 4, 5), [1, 3]),
                                        ((3, 4, 2), [-2])])
@pytest.mark.parametrize("rms", [False, True])
def test_any_non_batch_axes_vs_reference(shape, axis, rms, rng):
    # Keras normalises any axes but the batch axis: LayerNormalization(axis=1) of (batch, steps,
    # features) normalises each feature over the steps
    axes = sorted(a % len(shape) for a in np.atleast_1d(axis))
    x = (rng.normal(size=shape) * 2 + 1).astype(np.float32)
    r = rng.normal(size=shape).astype(np.float32)
    layer = _ln(shape, rng, axis=axis, rms_scaling=rms)
    weights = layer.get_weights()
    assert weights[0].shape == tuple(shape[a] for a in axes)
    want_y, want_dx, want_w = _moved_reference(x, r, weights[0], None if rms else weights[1], axes, rms)
    np.testing.assert_allclose(np.asarray(layer.forward(kernels.as_tensor(x), training=True)), want_y,
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(layer.backward(kernels.as_tensor(r))), want_dx, rtol=1e-3, atol=1e-4)
    for got, want in zip(layer.gradients, want_w):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-4)


def test_finite_differences_over_a_middle_axis(rng):
    shape = (2, 4, 3)
    x = rng.normal(size=shape).astype(np.float32)
    r = rng.normal(size=shape).astype(np.float32)
    layer = _ln(shape, rng, axis=1)
    layer.forward(kernels.as_tensor(x), training=True)
    dx = np.asarray(layer.backward(kernels.as_tensor(r))).copy()

    def loss(v):
        return float((np.asarray(layer.forward(kernels.as_tensor(v.astype(np.float32)))) * r).sum())
    np.testing.assert_allclose(dx, ref.numerical_grad(loss, x, 1e-2), rtol=2e-2, atol=2e-2)


def test_finite_differences_through_the_layer_itself(rng):
    shape = (4, 6)
    x = rng.normal(size=shape).astype(np.float32)
    r = rng.normal(size=shape).astype(np.float32)
    layer = _ln(shape, rng)
    layer.forward(kernels.as_tensor(x), training=True)
    dx = np.asarray(layer.backward(kernels.as_tensor(r))).copy()
    dgamma = np.asarray(layer.gradients[0]).copy()

    def loss(v):
        return float((np.asarray(layer.forward(kernels.as_tensor(v.astype(np.float32)))) * r).sum())
    np.testing.assert_allclose(dx, ref.numerical_grad(loss, x, 1e-2), rtol=2e-2, atol=2e-2)
    gamma = layer.get_weights()[0]

    def loss_g(g):
        layer.set_weights([g.astype(np.float32), layer.get_weights()[1]])
        return loss(x)
    np.testing.assert_allclose(dgamma, ref.numerical_grad(loss_g, gamma, 1e-2), rtol=2e-2, atol=2e-2)


def test_frozen_layer_writes_no_weight_gradient_and_first_layer_no_dx(rng):
    x = rng.normal(size=(3, 4)).astype(np.float32)
    layer = _ln(x.shape, rng, trainable=False)
    layer.forward(kernels.as_tensor(x))
    assert layer.gradients == []
    assert layer.backward(kernels.as_tensor(x)) is not None
    layer.needs_input_grad = False
    assert layer.backward(kernels.as_tensor(x)) is None


def test_config_and_errors():
    layer = LayerNormalization(axis=[-2, -1], epsilon=1e-5, center=False, name="ln_cfg",
                               gamma_regularizer="l2")
    clone = LayerNormalization.from_config(layer.get_config())
    assert (clone.axis, clone.epsilon, clone.center, clone.scale, clone.name) == ([-2, -1], 1e-5, False, True, "ln_cfg")
    assert layer.get_config()["rms_scaling"] is False
    with pytest.raises(ValueError, match="LayerNormalization.*batch axis"):
        LayerNormalization(axis=[0, 1]).build((None, 4))
    assert LayerNormalization(rms_scaling=True).get_config()["rms_scaling"] is True   # test_softmax_axis_rms_norm.py
    with pytest.raises(TypeError, match="LayerNormalization.*axis"):
        LayerNormalization(axis="last")
    with pytest.raises(ValueError, match="LayerNormalization.*out of range"):
        LayerNormalization(axis=3).build((None, 4))
    with pytest.raises(ValueError, match="LayerNormalization.*repeats"):
        LayerNormalization(axis=[-1, 1]).build((None, 4))
    with pytest.raises(ValueError, match="LayerNormalization.*epsilon"):
        LayerNormalization(epsilon=0)
    with pytest.raises(ValueError, match="LayerNormalization.*known sizes"):
        LayerNormalization().build((None, 3, None))


def test_torch_parity(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(3, 4, 6)).astype(np.float32)
    layer = _ln(x.shape, rng, epsilon=1e-5)
    g, b = layer.get_weights()
    want = torch.nn.functional.layer_norm(torch.tensor(x), (6,), torch.tensor(g), torch.tensor(b), 1e-5)
    np.testing.assert_allclose(layer(x), want.numpy(), rtol=1e-4, atol=1e-4)


def test_in_sequential_fit_predict_save_load(rng, tmp_path):
    corenn.utils.set_random_seed(4)
    x = (rng.normal(size=(96, 3, 8)) * 3 + 2).astype(np.float32)
    y = (x[:, :, :2].sum(-1).mean(-1, keepdims=True) / 3).astype(np.float32)
    model = corenn.Sequential([layers.Input(shape=(3, 8)), layers.Dense(8),
                               LayerNormalization(axis=[-2, -1]), layers.Flatten(), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=16, epochs=10, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.5 * before
    pred = model.predict(x[:7], verbose=0)
    model.save(tmp_path / "ln.keras")
    loaded = corenn.models.load_model(tmp_path / "ln.keras")
    np.testing.assert_allclose(loaded.predict(x[:7], verbose=0), pred, rtol=1e-6, atol=1e-6)
    assert loaded.layers[-3].axis == [-2, -1]
