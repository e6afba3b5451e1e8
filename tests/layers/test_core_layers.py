"""Core layers: forward vs NumPy, finite-difference gradients of every backward pass."""
import numpy as np
import pytest

from corenn import layers, kernels
from reference import numerical_grad

ACTS = {
    "linear": lambda z: z, "relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "softplus": lambda z: np.log1p(np.exp(z)),
    "elu": lambda z: np.where(z > 0, z, np.expm1(z)),
    "swish": lambda z: z / (1 + np.exp(-z)),
    "softmax": lambda z: np.exp(z - z.max(-1, keepdims=True)) / np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True),
}


def _layer_grads(layer, x, r):
    """Analytic dx and param grads of L = sum(forward(x) * r)."""
    y = layer.forward(kernels.as_tensor(x), training=True)
    dx = layer.backward(kernels.as_tensor(np.ascontiguousarray(r, np.float32)))
    return np.asarray(y).copy(), (None if dx is None else np.asarray(dx).copy()), [np.asarray(g).copy() for g in layer.gradients]


@pytest.mark.parametrize("act", sorted(ACTS))
def test_dense_forward_and_gradients(act, rng):
    x = rng.normal(size=(5, 4)).astype(np.float32)
    r = rng.normal(size=(5, 3))
    layer = layers.Dense(3, activation=act)
    layer.build((None, 4))
    w, b = layer.get_weights()
    b[:] = rng.normal(size=3)
    layer.set_weights([w, b])
    y, dx, (dw, db) = _layer_grads(layer, x, r)
    f = ACTS[act]
    np.testing.assert_allclose(y, f(x.astype(np.float64) @ w + b), rtol=1e-4, atol=1e-5)
    loss = lambda xx, ww, bb: float((f(xx @ ww + bb) * r).sum())
    np.testing.assert_allclose(dx, numerical_grad(lambda v: loss(v, w, b), x), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(dw, numerical_grad(lambda v: loss(x, v, b), w), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(db, numerical_grad(lambda v: loss(x, w, v), b), rtol=1e-3, atol=1e-4)


def test_dense_rank3_applies_to_last_axis(rng):
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    layer = layers.Dense(5)
    y = layer(x)
    w, b = layer.get_weights()
    assert y.shape == (2, 3, 5)
    np.testing.assert_allclose(y, x @ w + b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("act", ["tanh", "softmax", "relu"])
def test_activation_layer_gradient(act, rng):
    x = rng.normal(size=(4, 6)).astype(np.float32)
    r = rng.normal(size=(4, 6))
    layer = layers.Activation(act)
    layer.build((None, 6))
    layer.needs_input_grad = True
    y, dx, _ = _layer_grads(layer, x, r)
    np.testing.assert_allclose(y, ACTS[act](x.astype(np.float64)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(dx, numerical_grad(lambda v: float((ACTS[act](v) * r).sum()), x),
                               rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("layer,out_shape", [(layers.Flatten(), (2, 12)),
                                             (layers.Reshape((-1, 2)), (2, 6, 2)),
                                             (layers.Reshape((4, 3)), (2, 4, 3))])
def test_reshaping_layers_are_views_with_inverse_gradient(layer, out_shape, rng):
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    layer.build((None, 3, 4))
    assert layer.output_shape == (None,) + out_shape[1:]
    t = kernels.as_tensor(x)
    y = layer.forward(t)
    assert y.shape == out_shape and y.data_ptr == t.data_ptr
    dy = rng.normal(size=out_shape).astype(np.float32)
    dx = layer.backward(kernels.as_tensor(dy))
    np.testing.assert_array_equal(np.asarray(dx), dy.reshape(x.shape))


def test_reshape_rejects_wrong_size():
    with pytest.raises(ValueError, match="Reshape"):
        layers.Reshape((5,)).build((None, 3, 4))


def test_dropout_gradient_uses_the_same_mask(rng):
    x = rng.normal(size=(8, 16)).astype(np.float32)
    layer = layers.Dropout(0.5, seed=3)
    layer.build((None, 16))
    y = np.asarray(layer.forward(kernels.as_tensor(x), training=True)).copy()
    mask = np.asarray(layer._mask).copy()
    assert set(np.unique(mask)) <= {0.0, 2.0} and 0 < (mask == 0).sum() < mask.size
    np.testing.assert_allclose(y, x * mask, rtol=1e-6)
    dy = rng.normal(size=x.shape).astype(np.float32)
    dx = np.asarray(layer.backward(kernels.as_tensor(dy)))
    # L = sum(x * mask * dy) is linear in x: its gradient is mask * dy
    np.testing.assert_allclose(dx, numerical_grad(lambda v: float((v * mask * dy).sum()), x), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(layer(x), x)  # inference: identity


def test_layer_names_weights_and_errors(rng):
    d = layers.Dense(4, input_dim=3)
    d2 = layers.Dense(4)
    assert d.name != d2.name and d.name.startswith("dense")
    d.build((None, 3))
    assert [w.shape for w in d.weights] == [(3, 4), (4,)] and d.count_params() == 16
    with pytest.raises(ValueError, match="kernel.*\\(3, 4\\)"):
        d.set_weights([np.zeros((4, 4)), np.zeros(4)])
    with pytest.raises(ValueError, match="expected 2 arrays"):
        d.set_weights([np.zeros((3, 4))])
    with pytest.raises(ValueError, match="expects input of shape"):
        d(rng.normal(size=(2, 5)))
    with pytest.raises(TypeError, match="unexpected keyword"):
        layers.Dense(3, units2=4)
    with pytest.raises(ValueError, match="units"):
        layers.Dense(0)
    cfg = d.get_config()
    clone = layers.Dense.from_config({**cfg, "name": "copy"})
    assert clone.units == 4 and clone.activation.name == "linear"


def test_default_names_follow_keras():
    from corenn.layers.base import snake_case
    assert snake_case("Dense") == "dense"
    assert snake_case("MaxPooling2D") == "max_pooling2d"
    assert snake_case("Conv2D") == "conv2d"
    assert snake_case("BatchNormalization") == "batch_normalization"
    assert snake_case("GlobalAveragePooling2D") == "global_average_pooling2d"
    assert snake_case("SpatialDropout2D") == "spatial_dropout2d"
