"""BatchNormalization and SpatialDropout2D layers: weights, training vs inference, moving
statistics, finite-difference gradients, use inside Sequential.fit/evaluate/predict, errors."""
import numpy as np
import pytest

import corenn
from corenn import kernels
from corenn.layers.core import Dense
from corenn.layers.normalization import BatchNormalization
from corenn.layers.regularization import SpatialDropout2D
from reference import (batch_norm_infer, batch_norm_train, moving_average, numerical_grad,
                       spatial_dropout_mask)


def _bn(shape, rng, **kwargs):
    layer = BatchNormalization(**kwargs)
    layer.build((None,) + tuple(shape[1:]))
    weights = layer.get_weights()
    c = shape[-1]
    n_affine = len(weights) - 2
    new = [rng.uniform(0.5, 2, c), rng.normal(size=c)][:n_affine] if kwargs.get("scale", True) \
        else [rng.normal(size=c)][:n_affine]
    layer.set_weights([w.astype(np.float32) for w in new] + weights[n_affine:])
    return layer


def test_weights_keras_order_and_trainability():
    layer = BatchNormalization()
    layer.build((None, 4, 4, 3))
    assert [p.name for p in layer._params] == ["gamma", "beta", "moving_mean", "moving_variance"]
    g, b, mm, mv = layer.get_weights()
    np.testing.assert_array_equal(g, np.ones(3))
    np.testing.assert_array_equal(b, np.zeros(3))
    np.testing.assert_array_equal(mm, np.zeros(3))
    np.testing.assert_array_equal(mv, np.ones(3))
    assert len(layer.weights) == 4 and len(layer.trainable_weights) == 2
    assert len(layer.non_trainable_weights) == 2 and len(layer.gradients) == 2
    assert layer.trainable_weights[0] is layer.gamma and layer.non_trainable_weights[1] is layer.moving_variance
    layer.set_weights([np.full(3, 2.0), np.full(3, 1.0), np.full(3, 0.5), np.full(3, 4.0)])
    np.testing.assert_array_equal(layer.get_weights()[3], np.full(3, 4.0))
    no_affine = BatchNormalization(center=False, scale=False)
    no_affine.build((None, 5))
    assert [p.name for p in no_affine._params] == ["moving_mean", "moving_variance"]
    assert no_affine.trainable_weights == [] and no_affine.count_params() == 10


@pytest.mark.parametrize("shape", [(8, 5), (3, 4, 5, 7)])
@pytest.mark.parametrize("center,scale", [(True, True), (False, True), (True, False), (False, False)])
def test_training_forward_and_gradients_vs_reference(shape, center, scale, rng):
    x = (rng.normal(size=shape) * 2 + 0.5).astype(np.float32)
    r = rng.normal(size=shape)
    layer = _bn(shape, rng, center=center, scale=scale)
    gamma = layer.get_weights()[0] if scale else None
    beta = layer.get_weights()[int(scale)] if center else None
    y = layer.forward(kernels.as_tensor(x), training=True)
    np.testing.assert_allclose(np.asarray(y), batch_norm_train(x, gamma, beta)[0], rtol=1e-4, atol=1e-4)
    dx = np.asarray(layer.backward(kernels.as_tensor(r.astype(np.float32)))).copy()
    grads = [np.asarray(g).copy() for g in layer.gradients]

    def loss(xx, gg, bb):
        return float((batch_norm_train(xx, gg, bb)[0] * r).sum())

    np.testing.assert_allclose(dx, numerical_grad(lambda v: loss(v, gamma, beta), x), rtol=1e-3, atol=1e-4)
    expect = []
    if scale:
        expect.append(numerical_grad(lambda v: loss(x, v, beta), gamma))
    if center:
        expect.append(numerical_grad(lambda v: loss(x, gamma, v), beta))
    assert len(grads) == len(expect)
    for got, want in zip(grads, expect):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


def test_finite_differences_through_the_layer_itself(rng):
    """Coarse float32 central differences of the layer's own training forward."""
    shape = (6, 3)
    x = rng.normal(size=shape).astype(np.float32)
    r = rng.normal(size=shape).astype(np.float32)
    layer = _bn(shape, rng)
    layer.forward(kernels.as_tensor(x), training=True)
    dx = np.asarray(layer.backward(kernels.as_tensor(r))).copy()
    dgamma, dbeta = [np.asarray(g).copy() for g in layer.gradients]

    def f(values, which):
        weights = layer.get_weights()
        xx = x
        if which == "x":
            xx = values.astype(np.float32)
        else:
            weights[0 if which == "gamma" else 1] = values.astype(np.float32)
            layer.set_weights(weights)
        out = float((np.asarray(layer.forward(kernels.as_tensor(np.ascontiguousarray(xx)), training=True),
                                np.float64) * r).sum())
        return out

    weights0 = layer.get_weights()
    for which, value, got in (("x", x, dx), ("gamma", weights0[0], dgamma), ("beta", weights0[1], dbeta)):
        layer.set_weights(weights0)
        want = numerical_grad(lambda v: f(v, which), value, eps=1e-2)
        np.testing.assert_allclose(got, want, rtol=1e-2, atol=2e-3)


def test_moving_statistics_follow_keras_formula_and_inference_uses_them(rng):
    shape = (16, 4, 4, 3)
    layer = _bn(shape, rng, momentum=0.8)
    mm, mv = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = (rng.normal(size=shape) * 3 + 1).astype(np.float32)
        y_train = np.asarray(layer(x, training=True))
        _, bm, bv = batch_norm_train(x)
        mm, mv = moving_average(mm, bm, 0.8), moving_average(mv, bv, 0.8)
    g, b, lm, lv = layer.get_weights()
    np.testing.assert_allclose(lm, mm, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lv, mv, rtol=1e-5)
    y_infer = layer(x, training=False)
    np.testing.assert_allclose(y_infer, batch_norm_infer(x, g, b, lm, lv), rtol=1e-4, atol=1e-5)
    assert np.abs(y_infer - y_train).max() > 0.1  # moving stats still far from this batch's
    before = layer.get_weights()
    layer(x)  # inference leaves the moving statistics alone
    for a, b2 in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b2)


def test_frozen_layer_runs_in_inference_mode(rng):
    x = (rng.normal(size=(8, 3)) + 2).astype(np.float32)
    dy = rng.normal(size=(8, 3)).astype(np.float32)
    layer = _bn(x.shape, rng)
    layer.trainable = False
    w0 = layer.get_weights()
    y = layer.forward(kernels.as_tensor(x), training=True)
    np.testing.assert_allclose(np.asarray(y), batch_norm_infer(x, *w0), rtol=1e-4, atol=1e-5)
    assert layer.gradients == [] and layer.trainable_weights == []
    dx = layer.backward(kernels.as_tensor(dy))
    np.testing.assert_allclose(np.asarray(dx), dy * w0[0] / np.sqrt(w0[3] + 1e-3), rtol=1e-5)
    for a, b in zip(w0, layer.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_in_sequential_fit_evaluate_predict(rng, tmp_path):
    corenn.utils.set_random_seed(3)
    x = (rng.normal(size=(64, 6)) * 4 + 3).astype(np.float32)
    y = x[:, :2].sum(1, keepdims=True).astype(np.float32)
    model = corenn.Sequential([Dense(8, input_shape=(6,)), BatchNormalization(momentum=0.5), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    bn = model.layers[1]
    assert len(model.trainable_weights) == 6 and len(model.non_trainable_weights) == 2
    assert len(model.get_weights()) == 8
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    assert model.evaluate(x, y, verbose=0) < first
    g, b, mm, mv = bn.get_weights()
    assert np.abs(mm).max() > 0.1 and not np.allclose(mv, 1.0)
    stats = bn.get_weights()
    pred = model.predict(x, batch_size=10)
    model.evaluate(x, y, verbose=0)
    for a, b2 in zip(stats, bn.get_weights()):
        np.testing.assert_array_equal(a, b2)  # inference never touches the moving statistics
    w1, b1, _, _, _, _, w2, b2 = model.get_weights()
    h = batch_norm_infer(x.astype(np.float64) @ w1 + b1, g, b, mm, mv)
    np.testing.assert_allclose(pred, h @ w2 + b2, rtol=1e-4, atol=1e-4)
    lines = []
    model.summary(print_fn=lines.append)
    assert any("Non-trainable params: 16" in line for line in lines)
    model.save_weights(tmp_path / "bn.weights.npz")  # moving statistics travel with the weights
    clone = corenn.Sequential([Dense(8, input_shape=(6,)), BatchNormalization(), Dense(1)])
    clone.build()
    clone.load_weights(tmp_path / "bn.weights.npz")
    np.testing.assert_allclose(clone.predict(x), pred, rtol=1e-6, atol=1e-6)


def test_batch_norm_config_and_errors():
    layer = BatchNormalization(momentum=0.9, epsilon=1e-5, center=False, name="bn_cfg")
    clone = BatchNormalization.from_config(layer.get_config())
    assert (clone.momentum, clone.epsilon, clone.center, clone.scale, clone.name) == (0.9, 1e-5, False, True, "bn_cfg")
    with pytest.raises(NotImplementedError, match="BatchNormalization.*axis"):
        BatchNormalization(axis=2).build((None, 4, 4, 3))
    BatchNormalization(axis=1).build((None, 3, 4, 4))  # channels first (tests/layers/test_channels_first.py)
    BatchNormalization(axis=3).build((None, 4, 4, 3))  # the last axis, spelled positively
    with pytest.raises(TypeError, match="BatchNormalization.*axis"):
        BatchNormalization(axis=[1, 2])
    with pytest.raises(ValueError, match="BatchNormalization.*momentum"):
        BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="BatchNormalization.*epsilon"):
        BatchNormalization(epsilon=0)
    with pytest.raises(ValueError, match="BatchNormalization"):
        BatchNormalization().build((None,))
    layer = BatchNormalization()
    layer.build((None, 3))
    with pytest.raises(ValueError, match="batch_normalization.*expects input"):
        layer(np.ones((2, 4), np.float32))


# -- SpatialDropout2D ----------------------------------------------------------------------------

def test_spatial_dropout_drops_whole_channels_and_reuses_mask(rng):
    x = rng.normal(size=(4, 5, 6, 16)).astype(np.float32) + 3.0  # no zeros of its own
    layer = SpatialDropout2D(0.5, seed=11)
    y = np.asarray(layer.forward(kernels.as_tensor(x), training=True)).copy()
    ratio = y / x
    per_channel = ratio.reshape(4, 30, 16)
    assert np.all(per_channel.max(axis=1) == per_channel.min(axis=1))  # constant over H, W
    np.testing.assert_allclose(np.unique(np.round(ratio, 5)), [0.0, 2.0])
    assert 0 < (per_channel[:, 0, :] == 0).sum() < 64
    dy = rng.normal(size=x.shape).astype(np.float32)
    dx = np.asarray(layer.backward(kernels.as_tensor(dy)))
    np.testing.assert_allclose(dx, dy * per_channel[:, :1, :].reshape(4, 1, 1, 16), rtol=1e-6)


def test_spatial_dropout_identity_at_inference(rng):
    x = rng.normal(size=(2, 3, 3, 4)).astype(np.float32)
    layer = SpatialDropout2D(0.9)
    np.testing.assert_array_equal(layer(x), x)
    dy = kernels.as_tensor(x)
    layer.forward(kernels.as_tensor(x), training=False)
    assert layer.backward(dy) is dy


def test_spatial_dropout_deterministic_under_global_seed(rng):
    x = np.ones((3, 2, 2, 8), np.float32)

    def masks():
        corenn.utils.set_random_seed(42)
        layer = SpatialDropout2D(0.5)
        return [layer(x, training=True) for _ in range(2)]

    a, b = masks(), masks()
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert (np.asarray(a[0]) != np.asarray(a[1])).any()  # a new mask every step
    corenn.utils.set_random_seed(42)
    from corenn.utils.random import next_seed
    seed = next_seed()
    want = spatial_dropout_mask(3, 8, 0.5, seed).reshape(3, 1, 1, 8)
    np.testing.assert_allclose(a[0], np.broadcast_to(want, x.shape), rtol=1e-6)


def test_spatial_dropout_errors():
    with pytest.raises(ValueError, match="SpatialDropout2D.*rate"):
        SpatialDropout2D(1.0)
    with pytest.raises(ValueError, match="SpatialDropout2D.*data_format"):
        SpatialDropout2D(0.5, data_format="nchw")   # channels_first runs (test_adaptive_pooling.py)
    with pytest.raises(ValueError, match="SpatialDropout2D.*4-D"):
        SpatialDropout2D(0.5)(np.ones((2, 3), np.float32))
    layer = SpatialDropout2D(0.25, seed=5, name="sd_cfg")
    cfg = layer.get_config()
    assert cfg["rate"] == 0.25 and cfg["seed"] == 5
    assert SpatialDropout2D.from_config(cfg).rate == 0.25


def test_nhwc_model_with_both_layers_is_reproducible(rng):
    from corenn.layers.core import Flatten
    x = rng.normal(size=(32, 4, 4, 3)).astype(np.float32)
    y = rng.integers(0, 3, 32)

    def run():
        corenn.utils.set_random_seed(7)
        model = corenn.Sequential([SpatialDropout2D(0.3, input_shape=(4, 4, 3)), BatchNormalization(),
                                   Flatten(), Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        hist = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        return hist.history["loss"], model.get_weights()

    (loss_a, w_a), (loss_b, w_b) = run(), run()
    assert np.all(np.isfinite(loss_a)) and loss_a == loss_b
    for a, b in zip(w_a, w_b):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(w_a[2], 0.0)  # moving mean learned from NHWC batches
