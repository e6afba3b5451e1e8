"""LayerNormalization and RMSNormalization on a rank-1 input, as Keras 3.15 treats it:
``layers.LayerNormalization()(np.ones(5))`` normalises the 5 values (axis 0 or -1), builds
weights of shape (5,) and returns shape (5,). Forward against the float64 NumPy reference,
gradients (GradientTape, to the input and to the weights) against central finite differences
of that reference; numbers Keras 3.15 (torch backend) printed for the same input are pinned."""
import numpy as np
import pytest

import corenn
from corenn import layers
import reference as ref

X = np.array([0.3, -1.2, 2.0, 0.5, 0.1], np.float32)
W = np.array([1.0, 2.0, -1.0, 0.5, 3.0], np.float32)   # loss = sum(y * W)


def _tape_grads(layer, x):
    xt = corenn.convert_to_tensor(x)
    with corenn.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt)
        loss = corenn.reduce_sum(y * W)
    return y, [np.asarray(g) for g in tape.gradient(loss, [xt] + layer.trainable_weights)]


@pytest.mark.parametrize("axis", [-1, 0, [0], [-1]])
def test_layer_norm_rank1_forward_weights_and_shape(axis):
    layer = layers.LayerNormalization(axis=axis)
    y = layer(X)
    assert tuple(y.shape) == (5,)
    assert [tuple(w.shape) for w in layer.weights] == [(5,), (5,)]
    np.testing.assert_allclose(np.asarray(y), ref.layer_norm(X.astype(np.float64)[None])[0][0], rtol=1e-5, atol=1e-6)
    # Keras 3.15 printed these for LayerNormalization()(np.arange(5, dtype="float32"))
    np.testing.assert_allclose(np.asarray(layers.LayerNormalization(axis=axis)(np.arange(5, dtype=np.float32))),
                               [-1.4138602, -0.7069301, 0.0, 0.7069301, 1.4138602], rtol=1e-5, atol=1e-6)


def test_rms_norm_rank1_forward_weights_and_shape():
    layer = layers.RMSNormalization()
    y = layer(np.arange(5, dtype=np.float32))
    assert tuple(y.shape) == (5,) and [tuple(w.shape) for w in layer.weights] == [(5,)]
    np.testing.assert_allclose(np.asarray(y), [0.0, 0.40824828, 0.81649655, 1.2247448, 1.6329931], rtol=1e-5)
    layer0 = layers.RMSNormalization(axis=0)
    np.testing.assert_allclose(np.asarray(layer0(X)), ref.rms_norm(X.astype(np.float64)[None], np.ones(5), epsilon=1e-6)[0],
                               rtol=1e-5, atol=1e-6)


def _fd(f, v, h=1e-3):
    v = v.astype(np.float64)
    g = np.zeros_like(v)
    for i in range(v.size):
        e = np.zeros_like(v)
        e.flat[i] = h
        g.flat[i] = (f(v + e) - f(v - e)) / (2 * h)
    return g


def test_layer_norm_rank1_gradients_vs_finite_differences():
    layer = layers.LayerNormalization()
    layer.build((None, 5))
    gamma = np.array([0.5, 1.5, 2.0, 1.0, 0.8], np.float32)
    beta = np.array([0.1, -0.2, 0.3, 0.0, 0.4], np.float32)
    layer.set_weights([gamma, beta])
    y, (dx, dgamma, dbeta) = _tape_grads(layer, X)
    assert tuple(y.shape) == (5,) and dx.shape == (5,)
    f = lambda x, g=gamma, b=beta: float((ref.layer_norm(x[None], g, b)[0][0] * W).sum())  # noqa: E731
    np.testing.assert_allclose(dx, _fd(f, X), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dgamma, _fd(lambda g: f(X.astype(np.float64), g), gamma), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dbeta, W, rtol=1e-6)


def test_layer_norm_rank1_gradient_matches_keras_numbers():
    # Keras 3.15 (torch backend), default weights: d(sum(y * W))/dx and /dgamma
    _, (dx, dgamma, dbeta) = _tape_grads(layers.LayerNormalization(), X)
    np.testing.assert_allclose(dx, [-0.13858116, -0.68521214, -0.367517, -0.424657, 1.615967], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(dgamma, [-0.03915925, -3.0152636, -1.6251096, 0.07831854, -0.70486677], rtol=1e-4)
    np.testing.assert_allclose(dbeta, W)


def test_rms_norm_rank1_gradients_vs_finite_differences():
    layer = layers.RMSNormalization()
    layer.build((None, 5))
    scale = np.array([0.5, 1.5, 2.0, 1.0, 0.8], np.float32)
    layer.set_weights([scale])
    _, (dx, dscale) = _tape_grads(layer, X)
    f = lambda x, s=scale: float((ref.rms_norm(x[None], s, epsilon=1e-6)[0] * W).sum())  # noqa: E731
    np.testing.assert_allclose(dx, _fd(f, X), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dscale, _fd(lambda s: f(X.astype(np.float64), s), scale), rtol=1e-4, atol=1e-5)
    # Keras 3.15 with scale = 1: d/dx
    _, (dx1, _) = _tape_grads(layers.RMSNormalization(), X)
    np.testing.assert_allclose(dx1, [1.100207, 1.1748388, 0.21025026, 0.7495209, 2.8448095], rtol=1e-4)


def test_rank1_then_batched_calls_share_weights_and_bad_axes_raise():
    layer = layers.LayerNormalization()
    y1 = np.asarray(layer(X))
    yb = np.asarray(layer(np.stack([X, 2 * X])))
    np.testing.assert_allclose(yb[0], y1, rtol=1e-6)
    with pytest.raises(ValueError, match="LayerNormalization.*out of range.*rank-1"):
        layers.LayerNormalization(axis=1)(X)
    with pytest.raises(ValueError, match="RMSNormalization.*out of range.*rank-1"):
        layers.RMSNormalization(axis=[0, -1])(X)
    with pytest.raises(ValueError, match="LayerNormalization.*0-d"):
        layers.LayerNormalization()(np.float32(1.0))
