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


class SourceTarget(keras.Model):
    """keras.io's speech Transformer: call takes [source, target] (inputs[0], inputs[1]); the
    dataset gives {"source", "target"} dicts that its own train_step / test_step unpack."""

    def __init__(self):
        super().__init__()
        self.enc = keras.layers.Dense(4)
        self.out = keras.layers.Dense(1)
        self.tracker = keras.metrics.Mean(name="loss")

    def call(self, inputs):
        return self.out(self.enc(inputs[0]) + inputs[1])

    @property
    def metrics(self):
        return [self.tracker]

    def _loss(self, batch):
        pred = self([batch["source"], batch["target"]])
        return keras.ops.mean(keras.ops.square(pred - 1.0))

    def train_step(self, batch):
        with tf.GradientTape() as tape:
            loss = self._loss(batch)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.tracker.update_state(loss)
        return {"loss": self.tracker.result()}

    def test_step(self, batch):
        self.tracker.update_state(self._loss(batch))
        return {"loss": self.tracker.result()}


def test_dict_batches_reach_a_custom_step_whose_call_indexes_a_list():
    # fit used to probe call(batch) first and died on inputs[0] (KeyError 0 on the dict)
    rng = np.random.default_rng(0)
    source = rng.normal(size=(32, 3)).astype("float32")
    target = rng.normal(size=(32, 4)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices({"source": source, "target": target}).batch(8)
    model = SourceTarget()
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    history = model.fit(ds, validation_data=ds, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert "val_loss" in history.history
    assert model.predict([source[:2], target[:2]], verbose=0).shape == (2, 1)
