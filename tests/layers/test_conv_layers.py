"""Conv2D / Conv1D layers: Keras output shapes, finite-difference gradients, errors, training."""
import numpy as np
import pytest

from corenn import Sequential, kernels
from corenn.layers import Dense, Flatten
from corenn.layers.convolutional import Conv1D, Conv2D
from reference import conv2d_forward, numerical_grad


def _grads(layer, x, r):
    """Analytic y, dx and param grads of L = sum(forward(x) * r)."""
    y = layer.forward(kernels.as_tensor(x), training=True)
    dx = layer.backward(kernels.as_tensor(np.ascontiguousarray(r, np.float32)))
    return np.asarray(y).copy(), np.asarray(dx).copy(), [np.asarray(g).copy() for g in layer.gradients]


def _check(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * (np.abs(want).max() + 1e-6))


ACTS = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0), "tanh": np.tanh}


@pytest.mark.parametrize("act,strides,padding,dilation", [
    ("linear", (1, 1), "valid", (1, 1)),
    ("relu", (2, 1), "same", (1, 1)),
    ("tanh", (1, 2), "same", (2, 1)),
])
def test_conv2d_layer_forward_and_gradients(act, strides, padding, dilation, rng):
    x = rng.normal(size=(2, 6, 5, 3)).astype(np.float32)
    layer = Conv2D(4, (3, 2), strides=strides, padding=padding, dilation_rate=dilation, activation=act)
    layer.build((None, 6, 5, 3))
    w = rng.normal(size=(3, 2, 3, 4)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    layer.set_weights([w, b])
    f = ACTS[act]
    conv = lambda xx, ww, bb: f(conv2d_forward(xx, ww, bb, strides, padding, dilation))
    r = rng.normal(size=conv(x, w, b).shape)
    y, dx, (dw, db) = _grads(layer, x, r)
    _check(y, conv(x, w, b))
    loss = lambda xx, ww, bb: float((conv(xx, ww, bb) * r).sum())
    _check(dx, numerical_grad(lambda v: loss(v, w, b), x))
    _check(dw, numerical_grad(lambda v: loss(x, v, b), w))
    _check(db, numerical_grad(lambda v: loss(x, w, v), b))


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_conv2d_layer_gradients_on_the_winograd_kernels(padding, rng):
    """A 3x3 stride-1 layer with 16 channels in and out (Winograd F(2x2, 3x3) on AVX2) against
    finite differences of the float64 reference; odd output width (a partial tile)."""
    x = rng.normal(size=(1, 6, 7, 16)).astype(np.float32)
    layer = Conv2D(16, 3, padding=padding, activation="relu")
    layer.build((None, 6, 7, 16))
    w = rng.normal(size=(3, 3, 16, 16)).astype(np.float32)
    b = rng.normal(size=16).astype(np.float32)
    layer.set_weights([w, b])
    assert "winograd" in kernels.conv2d_algorithms(x.shape, w.shape, padding=padding)["forward"] or \
        kernels._C.get_isa() == "ref"
    conv = lambda xx, ww, bb: np.maximum(conv2d_forward(xx, ww, bb, (1, 1), padding, (1, 1)), 0)
    r = rng.normal(size=conv(x, w, b).shape)
    y, dx, (dw, db) = _grads(layer, x, r)
    _check(y, conv(x, w, b))
    loss = lambda xx, ww, bb: float((conv(xx, ww, bb) * r).sum())
    _check(dx, numerical_grad(lambda v: loss(v, w, b), x))
    _check(dw, numerical_grad(lambda v: loss(x, v, b), w))
    _check(db, numerical_grad(lambda v: loss(x, w, v), b))


@pytest.mark.parametrize("padding,strides,dilation", [("valid", 1, 1), ("same", 2, 1), ("same", 1, 2)])
def test_conv1d_layer_forward_and_gradients(padding, strides, dilation, rng):
    x = rng.normal(size=(3, 9, 2)).astype(np.float32)
    layer = Conv1D(5, 3, strides=strides, padding=padding, dilation_rate=dilation, activation="relu")
    layer.build((None, 9, 2))
    w = rng.normal(size=(3, 2, 5)).astype(np.float32)
    b = rng.normal(size=5).astype(np.float32)
    layer.set_weights([w, b])
    conv = lambda xx, ww, bb: np.maximum(conv2d_forward(
        xx[:, None], ww[None], bb, (1, strides), padding, (1, dilation))[:, 0], 0)
    r = rng.normal(size=conv(x, w, b).shape)
    y, dx, (dw, db) = _grads(layer, x, r)
    assert y.shape == layer.compute_output_shape((3, 9, 2))
    _check(y, conv(x, w, b))
    loss = lambda xx, ww, bb: float((conv(xx, ww, bb) * r).sum())
    _check(dx, numerical_grad(lambda v: loss(v, w, b), x))
    _check(dw, numerical_grad(lambda v: loss(x, v, b), w))
    _check(db, numerical_grad(lambda v: loss(x, w, v), b))


@pytest.mark.parametrize("layer,in_shape,out_shape", [
    # shapes as Keras computes them
    (lambda: Conv2D(8, 3), (None, 28, 28, 1), (None, 26, 26, 8)),
    (lambda: Conv2D(8, 3, padding="same"), (None, 28, 28, 1), (None, 28, 28, 8)),
    (lambda: Conv2D(8, (5, 3), strides=2, padding="same"), (None, 9, 7, 3), (None, 5, 4, 8)),
    (lambda: Conv2D(8, 3, strides=(2, 3)), (None, 10, 11, 3), (None, 4, 3, 8)),
    (lambda: Conv2D(2, 3, dilation_rate=2), (None, 10, 9, 3), (None, 6, 5, 2)),
    (lambda: Conv2D(2, 3, padding="SAME"), (None, None, None, 3), (None, None, None, 2)),
    (lambda: Conv1D(4, 5), (None, 20, 3), (None, 16, 4)),
    (lambda: Conv1D(4, 4, strides=3, padding="same"), (None, 20, 3), (None, 7, 4)),
])
def test_keras_output_shapes(layer, in_shape, out_shape, rng):
    lay = layer()
    assert lay.compute_output_shape(in_shape) == out_shape
    if None not in in_shape[1:]:
        y = lay(rng.normal(size=(2,) + in_shape[1:]).astype(np.float32))
        assert y.shape == (2,) + out_shape[1:]


def test_kernel_shape_fans_and_config(rng):
    layer = Conv2D(6, (3, 2), kernel_initializer="glorot_uniform", kernel_regularizer="l2")
    layer.build((None, 8, 8, 4))
    k, b = layer.get_weights()
    assert k.shape == (3, 2, 4, 6) and b.shape == (6,) and not b.any()
    limit = np.sqrt(6 / (3 * 2 * 4 + 3 * 2 * 6))  # fans: receptive field * channels
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.8 * limit
    cfg = layer.get_config()
    assert cfg["kernel_size"] == (3, 2) and cfg["strides"] == (1, 1) and cfg["padding"] == "valid"
    clone = Conv2D.from_config(cfg)
    assert clone.kernel_size == (3, 2) and clone.filters == 6
    assert layer.regularization() > 0
    assert Conv1D.from_config(Conv1D(3, 2, dilation_rate=2).get_config()).dilation_rate == (2,)


def test_bad_arguments_and_inputs_raise():
    with pytest.raises(ValueError, match="(?i)conv2d.*filters"):
        Conv2D(0, 3)
    with pytest.raises(ValueError, match="(?i)conv2d.*kernel_size"):
        Conv2D(4, (3, 3, 3))
    with pytest.raises(ValueError, match="(?i)conv2d.*padding"):
        Conv2D(4, 3, padding="full")
    with pytest.raises(ValueError, match="(?i)conv2d.*causal.*conv1d"):
        Conv2D(4, 3, padding="causal")
    with pytest.raises(ValueError, match="(?i)conv2d.*needs inputs of shape"):
        Conv2D(4, 3).build((None, 8, 8))
    with pytest.raises(ValueError, match="(?i)conv2d.*kernel"):
        Conv2D(4, 5).build((None, 4, 4, 1))  # kernel bigger than the (unpadded) input
    with pytest.raises(ValueError, match="(?i)conv1d.*needs inputs of shape"):
        Conv1D(4, 3).build((None, 8, 8, 1))
    layer = Conv2D(4, 3)
    layer(np.zeros((1, 5, 5, 2), np.float32))
    with pytest.raises(ValueError, match="(?i)conv2d.*expects input of shape"):
        layer(np.zeros((1, 5, 5, 3), np.float32))  # channel mismatch


def test_tiny_cnn_trains(rng):
    # two classes: a bright blob in the top half vs in the bottom half
    import corenn
    corenn.utils.set_random_seed(11)  # weights and shuffling independent of the tests run before
    n = 64
    x = rng.normal(scale=0.3, size=(n, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 2, size=n)
    for i in range(n):
        r0 = 0 if y[i] == 0 else 4
        x[i, r0:r0 + 4, 2:6, 0] += 1.0
    model = Sequential([Conv2D(4, 3, activation="relu", padding="same", input_shape=(8, 8, 1)),
                        Conv2D(4, 3, strides=2, activation="relu"), Flatten(),
                        Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    last = model.evaluate(x, y, verbose=0)
    loss0 = first[0] if isinstance(first, (list, tuple)) else first
    loss1 = last[0] if isinstance(last, (list, tuple)) else last
    assert loss1 < 0.7 * loss0
