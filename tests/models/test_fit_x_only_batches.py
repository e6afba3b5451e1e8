"""Keras 3: a dataset whose batches are x alone (label_mode=None, a GAN's images) feeds a custom
train_step with ``data = x``; the built-in step says that y is missing."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras


class MeanMatcher(keras.Model):
    """Learns a vector equal to the mean of the data, from x alone."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(3, use_bias=False)
        self.tracker = keras.metrics.Mean(name="gap")

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        with tf.GradientTape() as tape:
            gap = keras.ops.mean(keras.ops.square(self.dense.kernel[0] - data))
        grads = tape.gradient(gap, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.tracker.update_state(gap)
        return {"gap": self.tracker.result()}


def test_custom_train_step_receives_x_alone():
    x = np.random.default_rng(0).normal(loc=[1.0, -2.0, 0.5], size=(64, 3)).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(16)
    model = MeanMatcher()
    model.build((None, 3))
    model.compile(optimizer=keras.optimizers.SGD(0.2))
    hist = model.fit(ds, epochs=20, verbose=0)
    np.testing.assert_allclose(np.asarray(model.dense.kernel)[0], x.mean(axis=0), atol=0.1)
    assert hist.history["gap"][-1] < hist.history["gap"][0]
    # a 1-tuple is x alone too
    model.fit(ds.map(lambda b: (b,)), epochs=1, verbose=0)


def test_builtin_step_needs_targets():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    ds = tf.data.Dataset.from_tensor_slices(np.zeros((4, 3), np.float32)).batch(2)
    with pytest.raises(ValueError, match="batch 0 has no targets"):
        model.fit(ds, epochs=1, verbose=0)
