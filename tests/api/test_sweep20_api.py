"""Sweep 20 of issue 13 (keras.io developer guides run with only their imports changed): what the
guide programs in tests/programs/keras_guide_*_program.py / *_tensorflow.py found missing."""
import numpy as np

import corenn as keras


def test_mean_metric_state_reads_like_keras_variables():
    # the TensorFlow training-loop guides read `metric.count.numpy()` / `total.numpy()`
    rng = np.random.default_rng(0)
    values = rng.random(7)
    weights = rng.random(7)
    m = keras.metrics.Mean()
    m.update_state(values, sample_weight=weights)
    np.testing.assert_allclose(m.count.numpy(), weights.sum(), rtol=1e-6)
    np.testing.assert_allclose(m.total.numpy(), (values * weights).sum(), rtol=1e-5)
    np.testing.assert_allclose(float(m.result()), (values * weights).sum() / weights.sum(), rtol=1e-5)
    m.reset_state()
    assert m.count.numpy() == 0 and m.total.numpy() == 0


def test_accuracy_count_is_the_number_of_samples_seen():
    acc = keras.metrics.SparseCategoricalAccuracy()
    y = np.array([0, 1, 2, 1, 0])
    p = np.eye(3)[[0, 2, 2, 1, 1]]
    acc.update_state(y, p)
    acc.update_state(y[:2], p[:2])
    assert int(acc.count.numpy()) == 7
    np.testing.assert_allclose(float(acc.result()), np.mean(np.r_[y, y[:2]] == np.r_[p, p[:2]].argmax(1)))
    # arithmetic on the state keeps working as with a float
    assert np.float32(acc.total / acc.count) == float(acc.result())   # result() is float32, as Keras'


def test_user_metric_state_variables_are_kept_and_reset():
    # a user metric keeping its own state under `total` (Keras guides write it this way)
    class Counter(keras.metrics.Metric):
        def __init__(self, **kwargs):
            super().__init__(name="counter", **kwargs)
            self.total = self.add_variable(shape=(), initializer="zeros", name="total")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.total.assign_add(float(np.sum(y_true)))

        def result(self):
            return self.total

    c = Counter()
    c.update_state(np.array([1.0, 2.0]), None)
    assert float(np.asarray(c.result())) == 3.0
    c.reset_state()
    assert float(np.asarray(c.result())) == 0.0
