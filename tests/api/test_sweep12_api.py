"""Gaps found by sweep 12's programs (tests/programs), each checked against TensorFlow 2.21 /
Keras 3.15 behaviour."""
import numpy as np

import corenn as tf
from corenn import ops


def _complex(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)


def _pair(z):
    return tf.complex(real=tf.constant(z.real), imag=tf.constant(z.imag))


def test_shape_ops_act_on_complex_tensors_part_by_part():
    # the speaker-recognition example: tf.expand_dims(tf.signal.fft(...)) then fft[:, :n, :]
    z = _complex((3, 8))
    c = _pair(z)
    np.testing.assert_allclose(tf.expand_dims(c, axis=-1).numpy(), z[..., None])
    np.testing.assert_allclose(tf.expand_dims(c, axis=-1)[:, :4, :].numpy(), z[:, :4, None])
    np.testing.assert_allclose(tf.reshape(c, (4, 6)).numpy(), z.reshape(4, 6))
    np.testing.assert_allclose(tf.transpose(c).numpy(), z.T)
    np.testing.assert_allclose(tf.gather(c, [2, 0]).numpy(), z[[2, 0]])
    np.testing.assert_allclose(tf.squeeze(tf.expand_dims(c, 0), axis=0).numpy(), z)
    np.testing.assert_allclose(ops.take(c, [1], axis=1).numpy(), z[:, [1]])
    np.testing.assert_allclose(tf.concat([c, tf.constant(np.ones((3, 8), "float32"))], axis=0).numpy(),
                               np.concatenate([z, np.ones((3, 8))]))
    np.testing.assert_allclose(tf.stack([c, c], axis=1).numpy(), np.stack([z, z], 1))
    pieces = tf.split(c, 2, axis=1)
    assert len(pieces) == 2
    np.testing.assert_allclose(pieces[1].numpy(), z[:, 4:])
    # the magnitude of the moved tensor, as the example takes it
    np.testing.assert_allclose(np.asarray(tf.math.abs(tf.expand_dims(c, -1)[:, :4, :])), np.abs(z[:, :4, None]),
                               rtol=1e-6)


def test_complex_pair_keeps_keras_part_indexing():
    z = _complex((2, 5), seed=1)
    real, imag = ops.fft((tf.constant(z.real), tf.constant(z.imag)))
    pair = ops.fft((tf.constant(z.real), tf.constant(z.imag)))
    np.testing.assert_allclose(pair[0].numpy(), real.numpy())   # Keras: fft(...)[0] is the real part
    np.testing.assert_allclose(pair[1].numpy(), imag.numpy())
    ref = np.fft.fft(z.astype(np.complex128))
    np.testing.assert_allclose(tf.signal.fft(_pair(z)).numpy(), ref, rtol=1e-4, atol=1e-4)
    assert tf.expand_dims(_pair(z), 0).ndim == 3


def test_real_tensors_are_unchanged_by_the_complex_dispatch():
    x = tf.constant(np.arange(6, dtype="float32").reshape(2, 3))
    assert isinstance(tf.expand_dims(x, -1), tf.Tensor)
    assert tf.concat([x, x], axis=0).shape == (4, 3)
    assert [p.shape for p in tf.split(x, 3, axis=1)] == [(2, 1)] * 3


def test_elementwise_losses_broadcast_targets_and_outputs_as_keras():
    # Keras' MSE takes (n, 1, F) targets for an (n, T, F) output (the traffic example) and
    # (n, T, F) targets for an (n, 1, F) output; the value is the mean over the broadcast shape
    rng = np.random.default_rng(0)
    loss = tf.keras.losses.MeanSquaredError()
    for tshape, pshape in [((4, 1, 5), (4, 3, 5)), ((4, 3, 5), (4, 1, 5)), ((4, 3, 1), (4, 3, 5)), ((4, 3, 5), (4, 3, 1))]:
        yt = rng.normal(size=tshape).astype("float32")
        yp = rng.normal(size=pshape).astype("float32")
        grad = tf.kernels.empty(pshape)
        value = loss.forward_backward(tf.constant(yt), tf.constant(yp), grad)
        diff = np.broadcast_to(yp, np.broadcast_shapes(tshape, pshape)).astype(np.float64) - yt
        np.testing.assert_allclose(value, np.mean(diff ** 2), rtol=1e-5)
        spread_axes = tuple(a for a, (p, t) in enumerate(zip(pshape, diff.shape)) if p != t)
        expect = (2 * diff / diff.size).sum(axis=spread_axes, keepdims=True)
        np.testing.assert_allclose(np.asarray(grad), expect, rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(float(loss(yt, yp)), np.mean(diff ** 2), rtol=1e-5)


def test_fit_takes_broadcasting_targets_and_refuses_others():
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(30), tf.keras.layers.Reshape((3, 10))])
    model.compile("sgd", "mse")
    x = np.random.default_rng(1).random((8, 4)).astype("float32")
    y = np.random.default_rng(2).random((8, 1, 10)).astype("float32")
    pred = model.predict(x, verbose=0)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), np.mean((pred - y) ** 2), rtol=1e-5)
    model.fit(x, y, epochs=1, verbose=0)
    import pytest
    with pytest.raises(ValueError, match="targets of shape"):
        model.evaluate(x, np.zeros((8, 2, 10), "float32"), verbose=0)


def test_written_layer_whose_first_axis_is_not_a_batch_builds_from_its_eager_shapes():
    # the traffic example's GraphConv: called inside another layer on (nodes, batch, T, F) with
    # tf.gather over the nodes axis, so a probe with a batch of one on axis 0 raises IndexError
    class Gather(tf.keras.layers.Layer):
        def call(self, x):
            return tf.gather(x, [4, 0, 2])

    class Outer(tf.keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.inner = Gather()

        def call(self, x):
            return tf.transpose(self.inner(tf.transpose(x, [1, 0, 2])), [1, 0, 2])

    out = Outer()(tf.keras.Input((5, 3)))
    assert tuple(out.shape) == (None, 3, 3)
    x = np.arange(2 * 5 * 3, dtype="float32").reshape(2, 5, 3)
    np.testing.assert_array_equal(np.asarray(Outer()(x)), x[:, [4, 0, 2]])


class _BatchSized(tf.keras.Model):
    """The neural-decision-forest example's tree: a model owning a weight made in __init__ whose
    call builds a tensor of the batch size (ops.ones([ops.shape(x)[0], ...]))."""

    def __init__(self):
        super().__init__()
        self.pi = self.add_weight(initializer="ones", shape=[3, 2], dtype="float32", trainable=True)
        self.dense = tf.keras.layers.Dense(3)

    def call(self, x):
        batch = ops.shape(x)[0]
        mu = ops.ones([batch, 1]) * self.dense(x)
        return ops.matmul(mu, self.pi)


def test_subclassed_model_reading_the_batch_size_is_one_node_of_a_functional_model():
    inner = _BatchSized()
    inputs = tf.keras.Input((4,))
    outputs = inner(inputs)
    assert tuple(outputs.shape) == (None, 2)
    model = tf.keras.Model(inputs, outputs)
    # the inner model's weights, its add_weight one included, are the outer model's and train
    assert len(model.trainable_weights) == 3
    assert model.layers[-1].pi is inner.pi   # the node's layer stands for the model
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = np.random.default_rng(1).normal(size=(16, 2)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), np.asarray(inner(x)), rtol=1e-6)
    before = inner.pi.numpy().copy()
    model.compile(tf.keras.optimizers.SGD(0.1), "mse")
    losses = model.fit(x, y, epochs=5, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    assert not np.allclose(inner.pi.numpy(), before)


def test_other_symbolic_call_errors_of_a_subclassed_model_still_raise():
    class Bad(tf.keras.Model):
        def call(self, x):
            raise ValueError("a real mistake in call")

    import pytest
    with pytest.raises(ValueError, match="a real mistake"):
        Bad()(tf.keras.Input((3,)))


def test_complex_arithmetic_and_refused_math():
    zr, wr = _complex((3, 4), seed=5), _complex((3, 4), seed=6)
    z, w = _pair(zr), _pair(wr)
    real = np.random.default_rng(7).normal(size=(3, 4)).astype("float32")
    cases = [(z * w, zr * wr), (z + w, zr + wr), (z - w, zr - wr), (z / w, zr / wr), (-z, -zr),
             (z * 2, zr * 2), (2 * z, 2 * zr), (1 - z, 1 - zr), (2 / z, 2 / zr), (z * 1j, zr * 1j),
             (tf.constant(real) * z, real * zr), (real * z, real * zr), (tf.constant(real) - z, real - zr),
             (tf.multiply(z, w), zr * wr), (tf.add(z, real), zr + real), (tf.math.negative(z), -zr)]
    for got, want in cases:
        assert type(got).__name__ == "ComplexPair"
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)
    # the parts' gradients through complex arithmetic: d|a z|/da = |z|
    a = tf.Variable(np.ones((3, 4), "float32"))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.abs(tf.complex(a, a * 0.0) * z))
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, a)), np.abs(zr), rtol=1e-5)
    import pytest
    for op in (tf.exp, tf.square, tf.reduce_sum, ops.sum, tf.math.sigmoid):
        with pytest.raises(TypeError, match="complex tensors"):
            op(z)
