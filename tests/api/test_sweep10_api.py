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
    with pytest.raises(NotImplementedError, match="bicubic"):
        tf.image.resize(img, [2, 2], method=tf.image.ResizeMethod.BICUBIC)


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
