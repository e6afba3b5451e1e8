"""Keras 3's overridable steps: predict_step and test_step written by the user are what predict
and evaluate run (train_step: tests/models/test_subclassing.py)."""
import numpy as np

from corenn import keras, layers, ops


def _inputs():
    inp = keras.Input((3,))
    return inp, layers.Dense(2)(inp)


def test_predict_step_override_runs_per_batch(rng):
    class Probabilities(keras.Model):
        def predict_step(self, data):
            return ops.softmax(self(data[0]))

    model = Probabilities(*_inputs())
    x = rng.random((5, 3)).astype(np.float32)
    p = model.predict(x, batch_size=2)
    logits = model(x)   # a graph model called on data: one forward pass, not predict
    want = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p, want, rtol=1e-5, atol=1e-6)


def test_test_step_override_gives_evaluate_its_logs(rng):
    class Scored(keras.Model):
        def test_step(self, data):
            x, y = data
            err = ops.mean(ops.abs(self(x) - y))
            self.tracker.update_state(err)
            return {"err": self.tracker.result()}

    model = Scored(*_inputs())
    model.tracker = keras.metrics.Mean(name="err")
    model.compile("sgd", "mse")
    x, y = rng.random((8, 3)).astype(np.float32), rng.random((8, 2)).astype(np.float32)
    result = model.evaluate(x, y, batch_size=8, return_dict=True, verbose=0)
    assert set(result) == {"err"}
    assert abs(result["err"] - np.abs(model.predict(x, verbose=0) - y).mean()) < 1e-6
