"""Dense computing with tensors a script assigned as its kernel / bias (tf.keras 2's
"Introduction to Keras for researchers" hypernetwork): the output uses them and a GradientTape
carries the loss into what produced them, also through a Sequential holding the layer."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras


def _setup():
    keras.utils.set_random_seed(0)
    inner = keras.Sequential([keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
    for layer in inner.layers:
        layer.built = True
    gen = keras.Sequential([keras.layers.Dense(4 * 3 + 3 + 3 * 2 + 2, activation="tanh")])
    x = np.random.default_rng(1).normal(size=(1, 4)).astype(np.float32)
    return inner, gen, x


def _assign(inner, w):
    shapes = [(4, 3), (3,), (3, 2), (2,)]
    start, parts = 0, []
    for s in shapes:
        n = int(np.prod(s))
        parts.append(tf.reshape(w[:, start:start + n], s))
        start += n
    inner.layers[0].kernel, inner.layers[0].bias = parts[0], parts[1]
    inner.layers[1].kernel, inner.layers[1].bias = parts[2], parts[3]
    return parts


def _loss(inner, gen, x):
    _assign(inner, gen(x))
    return tf.reduce_sum(tf.square(inner(x)))


def test_assigned_kernel_output_and_gradient_match_numpy():
    inner, gen, x = _setup()
    w = np.asarray(gen(x))
    k0, b0, k1, b1 = [np.asarray(p) for p in _assign(inner, tf.constant(w))]
    expected = np.maximum(x @ k0 + b0, 0) @ k1 + b1
    np.testing.assert_allclose(np.asarray(inner(x)), expected, rtol=1e-5, atol=1e-6)

    with tf.GradientTape() as tape:
        loss = _loss(inner, gen, x)
    grads = tape.gradient(loss, gen.trainable_weights)
    assert all(g is not None for g in grads)
    # central differences on the generator's bias
    bias = gen.layers[0].bias
    b = np.asarray(bias).copy()
    eps = 1e-3
    for i in (0, 5, 14, 20):
        bp, bm = b.copy(), b.copy()
        bp[i] += eps
        bm[i] -= eps
        bias.assign(bp)
        lp = float(_loss(inner, gen, x))
        bias.assign(bm)
        lm = float(_loss(inner, gen, x))
        bias.assign(b)
        assert abs((lp - lm) / (2 * eps) - float(np.asarray(grads[1])[i])) < 2e-2 * max(1.0, abs((lp - lm) / (2 * eps)))


def test_assigned_kernel_of_the_wrong_shape_is_named():
    d = keras.layers.Dense(2)
    d.built = True
    d.kernel = tf.constant(np.ones((5, 2), np.float32))
    with pytest.raises(ValueError, match="kernel assigned"):
        d(np.ones((1, 4), np.float32))


def test_own_weights_restored_leave_the_fused_path():
    d = keras.layers.Dense(2)
    d.build((None, 3))
    own = d.kernel
    d.kernel = tf.constant(np.zeros((3, 2), np.float32))
    np.testing.assert_allclose(np.asarray(d(np.ones((1, 3), np.float32))), 0.0)
    d.kernel = own
    assert not d._assigned_weights()
