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
