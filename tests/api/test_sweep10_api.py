"""Small API points the sweep 10 programs needed: ``np.argmax`` of a Tensor is a NumPy integer
(a dictionary key), ``tf.image.ResizeMethod``, and Keras 3.0's ``image=`` argument name of
``ops.image.extract_patches``."""
import numpy as np
import pytest

import corenn as tf
from corenn.keras import ops


def test_argmax_over_all_axes_is_a_numpy_integer():
    t = tf.constant(np.array([[0.1, 0.9, 0.3], [0.2, 0.0, 0.95]], "float32"))
    i = np.argmax(t)
    assert isinstance(i, np.integer) and i == 5
    assert {5: "five"}[np.argmax(t)] == "five"
    assert np.argmin(t) == 4 and isinstance(t.argmin(), np.integer)
    row = np.argmax(t, axis=1)
    assert isinstance(row, tf.Tensor) and np.asarray(row).tolist() == [1, 2]
    assert np.argmax(t[0]) == 1


def test_resize_method_names():
    img = np.arange(16, dtype="float32").reshape(4, 4, 1)
    near = tf.image.resize(img, [2, 2], method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)
    assert np.asarray(near).ravel().tolist() == np.asarray(tf.image.resize(img, [2, 2], method="nearest")).ravel().tolist()
    assert tf.image.ResizeMethod.BILINEAR == "bilinear" and tf.image.ResizeMethod.AREA == "area"
    assert np.asarray(tf.image.resize(img, [2, 2], method=tf.image.ResizeMethod.BICUBIC)).shape == (2, 2, 1)
    with pytest.raises(NotImplementedError, match="mitchellcubic"):
        tf.image.resize(img, [2, 2], method=tf.image.ResizeMethod.MITCHELLCUBIC)


def test_extract_patches_takes_keras_30_image_name():
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype("float32")
    a = ops.image.extract_patches(image=x, size=(4, 4), strides=(4, 4), dilation_rate=1, padding="valid")
    b = ops.image.extract_patches(x, 4)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert tuple(a.shape) == (2, 2, 2, 48)
    with pytest.raises(TypeError, match="not both"):
        ops.image.extract_patches(x, 4, image=x)
    with pytest.raises(TypeError, match="size"):
        ops.image.extract_patches(x)


def test_cast_to_complex64_and_fft2d_with_its_gradient():
    rng = np.random.default_rng(1)
    x0 = rng.normal(size=(2, 3, 4)).astype("float32")
    w = rng.normal(size=(2, 3, 4))
    x = tf.constant(x0)
    c = tf.cast(x, tf.complex64)
    assert isinstance(c, tuple) and c.dtype == "complex64" and tf.complex64.is_complex
    np.testing.assert_allclose(np.asarray(tf.math.real(tf.signal.fft2d(c))), np.fft.fft2(x0).real, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(np.asarray(tf.cast(c, tf.float32)), x0)   # the imaginary part dropped
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.math.real(tf.signal.fft2d(tf.cast(x, tf.complex64))) * w.astype("float32"))
    g = np.asarray(tape.gradient(y, x))
    eps = 1e-3
    for idx in [(0, 0, 0), (1, 2, 3), (0, 1, 2)]:
        hi, lo = x0.astype(np.float64), x0.astype(np.float64)
        hi = hi.copy()
        lo = lo.copy()
        hi[idx] += eps
        lo[idx] -= eps
        fd = ((np.fft.fft2(hi).real * w).sum() - (np.fft.fft2(lo).real * w).sum()) / (2 * eps)
        assert abs(fd - g[idx]) < 1e-3 * max(1.0, abs(fd))


def test_keras_variable_written_after_import_corenn_as_keras():
    import corenn as keras
    index = np.arange(6).reshape(2, 3)
    v = keras.Variable(initializer=index, shape=index.shape, dtype="int", trainable=False)
    assert v.dtype == "int64" and tuple(v.shape) == (2, 3) and not v.trainable
    np.testing.assert_array_equal(np.asarray(v), index)
    w = keras.Variable(initializer="zeros", shape=(2,), dtype="float")
    assert w.dtype == "float32" and w.trainable
    with pytest.raises(ValueError, match="initial_value"):
        keras.Variable()
