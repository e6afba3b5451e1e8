"""tf.Variable / keras.Variable: variable Tensors the tape watches, against NumPy derivatives."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras


def test_tf_variable_is_watched_and_assignable():
    v = tf.Variable([1.0, -2.0, 3.0], name="v")
    assert isinstance(v, tf.Variable) and v.name == "v:0" and v.trainable and v.dtype == "float32"
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(v ** 3)
    np.testing.assert_allclose(tape.gradient(y, v).numpy(), 3 * np.array([1.0, -2.0, 3.0]) ** 2)
    v.assign_add([1.0, 1.0, 1.0])
    np.testing.assert_array_equal(v.numpy(), [2.0, -1.0, 4.0])
    assert not isinstance(v + 1.0, tf.Variable) and not isinstance(tf.constant(1.0), tf.Variable)
    # its own copy of the initial value
    a = np.ones(2, np.float32)
    w = tf.Variable(a)
    w.assign([5.0, 5.0])
    assert a.tolist() == [1.0, 1.0]
    assert tf.Variable(lambda: np.zeros(3)).shape == (3,)
    assert tf.Variable(np.arange(3)).dtype == "int64"


def test_non_trainable_variables_get_none_and_are_not_watched():
    a, b = tf.Variable(2.0, name="a"), tf.Variable(5.0, name="b", trainable=False)
    with tf.GradientTape() as tape:
        y = a * b
    ga, gb = tape.gradient(y, [a, b])
    assert ga.numpy() == 5.0 and gb is None
    assert [v.name for v in tape.watched_variables()] == ["a:0"]
    with tf.GradientTape() as tape:
        y = a * 3.0
    assert tape.gradient(y, b, unconnected_gradients=tf.UnconnectedGradients.ZERO).numpy() == 0.0


def test_optimizer_updates_a_variable():
    v = tf.Variable([3.0, -4.0])
    opt = keras.optimizers.SGD(0.5)
    for _ in range(20):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(v * v)
        opt.apply_gradients([(tape.gradient(loss, v), v)])
    np.testing.assert_allclose(v.numpy(), [0.0, 0.0], atol=1e-6)


def test_keras_variable_with_an_initializer():
    k = keras.Variable("zeros", shape=(2, 2), name="k")
    assert isinstance(k, keras.Variable) and k.name == "k" and not k.numpy().any()
    o = keras.Variable(keras.initializers.Constant(3.0), shape=(3,))
    np.testing.assert_array_equal(o.numpy(), [3.0, 3.0, 3.0])
    with pytest.raises(ValueError, match="needs shape"):
        keras.Variable("ones")
    v64 = tf.Variable(0.1, dtype=tf.float64)
    assert v64.dtype == "float64" and v64.numpy() == 0.1   # held exactly


def test_layer_weights_have_names_and_paths():
    layer = keras.layers.Dense(2, name="head")
    layer.build((None, 3))
    assert [v.name for v in layer.trainable_variables] == ["kernel", "bias"]
    assert [v.path for v in layer.trainable_variables] == ["head/kernel", "head/bias"]


def test_assigning_to_a_slice_of_a_variable_writes_into_it():
    """TensorFlow: v[0, 1].assign(7.0) and v[1:].assign_add(...) change v (they returned a copy
    that was written, leaving v as it was); scatter_nd_update / add / sub write index rows."""
    import corenn as tf
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    v = tf.Variable(base)
    assert v[0, 1].assign(7.0) is v
    v[1:].assign_add(np.ones((2, 4), np.float32))
    v[:, 3].assign_sub(2.0)
    want = base.copy()
    want[0, 1] = 7.0
    want[1:] += 1
    want[:, 3] -= 2
    np.testing.assert_array_equal(v.numpy(), want)
    v.scatter_nd_update([[1, 1], [2, 0]], [9.0, 8.0])
    v.scatter_nd_add([[0]], [np.ones(4, np.float32)])
    want[1, 1], want[2, 0] = 9.0, 8.0
    want[0] += 1
    np.testing.assert_array_equal(v.numpy(), want)
    with pytest.raises(IndexError, match="outside"):
        v.scatter_nd_update([[5, 0]], [1.0])
    plain = tf.constant(base)[0]
    plain.assign(np.zeros(4, np.float32))   # a slice of a plain tensor is a copy, as before
    assert np.asarray(tf.constant(base))[0, 1] == 1.0


def test_gradient_with_respect_to_an_integer_tensor_is_none():
    import corenn as tf
    x = tf.constant([1, 2])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.cast(x, tf.float32) * 2.0
    assert tape.gradient(y, x) is None
