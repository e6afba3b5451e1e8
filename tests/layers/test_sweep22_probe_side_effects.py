"""Sweep 22 (keras.io "MoE for MNIST"): a custom layer whose call updates a variable
(``self.count.assign(...)``) is called once on its first eager call, as Keras calls it: the
output-shape probe corenn runs while building must not leave its update behind."""
import numpy as np

import corenn as tf
from corenn.keras import layers


class Counting(layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(3)
        self.calls = tf.Variable(tf.zeros((2,), dtype=tf.float32))

    def call(self, x):
        self.calls.assign(self.calls + tf.constant([1.0, 2.0]))
        return self.dense(x)


def test_first_eager_call_updates_a_variable_once():
    layer = Counting()
    y = layer(np.ones((4, 5), "float32"))
    assert tuple(y.shape) == (4, 3)
    np.testing.assert_array_equal(layer.calls.numpy(), [1.0, 2.0])
    layer(np.ones((2, 5), "float32"))
    np.testing.assert_array_equal(layer.calls.numpy(), [2.0, 4.0])


def test_symbolic_call_of_an_updating_layer_leaves_the_variable():
    from corenn import keras
    layer = Counting()
    out = layer(keras.Input((5,)))
    assert tuple(out.shape) == (None, 3)
    np.testing.assert_array_equal(layer.calls.numpy(), [0.0, 0.0])
