"""The Keras surface (issue 13): gaps found by comparing corenn with Keras 3 (torch backend) and
TF 2.21, each value below checked against them when the test was written:

1. ``metric.result()`` is a Tensor (Keras 3 returns a backend tensor), while fit / evaluate /
   callbacks' logs and History hold Python floats (Keras 3 converts them).
2. The loss tracker is weighted by the batch size (Keras 3's train_step / test_step call
   ``update_state(loss, sample_weight=batch_size)``): an epoch with a short last batch reports
   the mean over samples, also through ``super().train_step`` and an overridden compute_metrics.
3. ``tf.convert_to_tensor`` / ``tf.constant`` infer TF's dtypes: Python / NumPy bools give bool
   (corenn's Tensors hold no bools: the bool array scripts see, as Keras masks are), Python ints
   int32 unless a value needs int64.
"""
import numpy as np
import pytest

import corenn
from corenn import keras
from corenn.keras import layers, metrics


# -- 1. metric.result() is a Tensor ------------------------------------------------------------

def test_metric_result_is_a_tensor_like_keras():
    m = metrics.Mean()
    m.update_state([1.0, 2.0, 4.0])
    r = m.result()
    assert isinstance(r, corenn.Tensor)          # the class model(x) returns
    assert tuple(r.shape) == () and str(r.dtype) == "float32"
    assert float(r) == pytest.approx(7 / 3, rel=1e-6)
    assert r.numpy() == pytest.approx(7 / 3, rel=1e-6)
    assert f"{r:.3f}" == "2.333"
    assert f"{r}" == "2.3333333"                 # TF and torch format a scalar tensor as its value
    assert "2.333" in str(r) and "Tensor" in str(r)   # printing shows a tensor, as Keras'


@pytest.mark.parametrize("make, y, p, expected", [
    (metrics.BinaryAccuracy, [[1.0], [0.0], [1.0], [1.0]], [[0.9], [0.2], [0.3], [0.6]], 0.75),
    (metrics.RootMeanSquaredError, [[1.0], [2.0]], [[2.0], [4.0]], np.sqrt(2.5)),
    (metrics.AUC, [[1.0], [0.0], [1.0], [0.0]], [[0.9], [0.2], [0.8], [0.1]], 1.0),
    (metrics.Sum, [1.0, 2.0, 3.5], None, 6.5),
])
def test_builtin_metric_results_are_scalar_tensors(make, y, p, expected):
    m = make()
    m.update_state(np.array(y, np.float32)) if p is None else \
        m.update_state(np.array(y, np.float32), np.array(p, np.float32))
    r = m.result()
    assert isinstance(r, corenn.Tensor) and tuple(r.shape) == ()
    assert float(r) == pytest.approx(expected, rel=1e-5)


def test_per_threshold_results_are_tensors_and_one_threshold_in_a_list_is_a_scalar():
    y = np.array([[1.0], [0.0]], np.float32)
    p = np.array([[0.7], [0.6]], np.float32)
    # Keras 3: Precision(thresholds=[0.5]) -> tensor(0.5); TruePositives([0.3, 0.5]) -> [1., 1.]
    one = metrics.Precision(thresholds=[0.5])
    one.update_state(y, p)
    assert isinstance(one.result(), corenn.Tensor) and tuple(one.result().shape) == ()
    assert float(one.result()) == pytest.approx(0.5)
    two = metrics.TruePositives(thresholds=[0.3, 0.5])
    two.update_state(y, p)
    assert isinstance(two.result(), corenn.Tensor)
    np.testing.assert_array_equal(two.result().numpy(), [1.0, 1.0])


def test_a_users_metric_result_is_kept_as_the_user_returns_it():
    class Last(metrics.Metric):
        def update_state(self, y_true, y_pred, sample_weight=None):
            self.last = float(np.asarray(y_pred).sum())

        def result(self):
            return self.last

    m = Last()
    m.update_state(None, [1.0, 2.0])
    assert isinstance(m.result(), float) and m.result() == 3.0   # Keras returns the user's float


def _mlp():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy", "sparse_categorical_crossentropy"])
    return model


def test_logs_history_and_evaluate_hold_python_floats():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(10, 3)).astype(np.float32), rng.integers(0, 2, 10)
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(dict(logs))

        def on_epoch_end(self, epoch, logs=None):
            seen.append(dict(logs))

        def on_test_end(self, logs=None):
            seen.append(dict(logs))

    model = _mlp()
    history = model.fit(x, y, batch_size=4, epochs=2, validation_data=(x, y), callbacks=[Record()], verbose=0)
    assert seen and all(type(v) is float for logs in seen for v in logs.values()), seen
    assert all(type(v) is float for values in history.history.values() for v in values)
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert all(type(v) is float for v in result.values())
    acc = float(np.mean(np.argmax(np.asarray(model.predict(x, verbose=0)), 1) == y))
    assert result["accuracy"] == pytest.approx(acc)   # the logged value is the metric's
    assert all(type(v) is float for v in model.evaluate(x, y, verbose=0))
    assert all(type(v) is float for v in model.train_on_batch(x, y))
    # model.metrics' results are Tensors, their dict from get_metrics_result too (Keras 3)
    assert isinstance(model.metrics[0].result(), corenn.Tensor)
    assert all(isinstance(v, corenn.Tensor) for v in model.get_metrics_result().values())


# -- 2. the loss tracker is weighted by the batch size ----------------------------------------

# five samples in batches of 2: the last batch holds one. With a frozen model (SGD at rate 0) the
# per-sample squared errors are fixed: 0.81, 2.25, 4.41, 7.29, 68.89; Keras 3 (torch) reports
# their mean 16.73 for fit and evaluate, however the data is shuffled, and 17.73 with the
# kernel's L2(0.5) penalty (0.5 * (1 + 1)); the mean over batches would be 25.42.
_X = np.arange(10, dtype=np.float32).reshape(5, 2) / 10
_Y = np.array([[1.0], [2.0], [3.0], [4.0], [10.0]], np.float32)


def _expected(l2=0.0):
    per_sample = ((_X.sum(1) - _Y[:, 0]) ** 2).astype(np.float64)
    return per_sample.mean() + l2 * 2.0   # kernel of ones, shape (2, 1)


class _SuperSteps(keras.Model):
    def train_step(self, data):
        return super().train_step(data)

    def test_step(self, data):
        return super().test_step(data)


class _OwnComputeMetrics(keras.Model):
    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, y, y_pred, sample_weight)


@pytest.mark.parametrize("cls", [keras.Model, _SuperSteps, _OwnComputeMetrics])
@pytest.mark.parametrize("l2", [0.0, 0.5])
def test_epoch_loss_is_the_mean_over_samples_with_a_short_last_batch(cls, l2):
    inp = keras.Input((2,))
    reg = keras.regularizers.L2(l2) if l2 else None
    out = layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros", kernel_regularizer=reg)(inp)
    model = cls(inp, out)
    model.compile(keras.optimizers.SGD(0.0), "mse")
    history = model.fit(_X, _Y, batch_size=2, epochs=2, shuffle=True, verbose=0)
    np.testing.assert_allclose(history.history["loss"], [_expected(l2)] * 2, rtol=1e-6)
    assert model.evaluate(_X, _Y, batch_size=2, verbose=0) == pytest.approx(_expected(l2), rel=1e-6)


def test_train_step_called_directly_weights_the_tracker_by_batch_size():
    inp = keras.Input((2,))
    model = keras.Model(inp, layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")(inp))
    model.compile(keras.optimizers.SGD(0.0), "mse")
    model.train_step((_X[:4], _Y[:4]))
    logs = model.train_step((_X[4:], _Y[4:]))
    assert float(logs["loss"]) == pytest.approx(_expected(), rel=1e-6)


# -- 3. tf.convert_to_tensor / tf.constant dtypes -------------------------------------------------

# (value, TF 2.21's dtype, its values): checked with tensorflow 2.21 when written
_TF_DTYPES = [
    ([True], "bool", [True]),
    (True, "bool", True),
    ([[True, False]], "bool", [[True, False]]),
    (np.array([True, False]), "bool", [True, False]),
    ([1, 2], "int32", [1, 2]),
    (3, "int32", 3),
    ([[1], [2]], "int32", [[1], [2]]),
    (2 ** 40, "int64", 2 ** 40),                  # too big for int32: TF makes it int64
    ([1, 2 ** 40], "int64", [1, 2 ** 40]),
    (np.array([1, 2]), "int64", [1, 2]),          # NumPy arrays keep their dtype
    (np.int64(3), "int64", 3),
    ([np.int64(3)], "int32", [3]),
    (1.5, "float32", 1.5),
    ([1, 2.5], "float32", [1.0, 2.5]),
    (np.float64(1.5), "float32", 1.5),           # corenn's floats are float32 (TF: float64)
]


@pytest.mark.parametrize("fn", ["convert_to_tensor", "constant"])
@pytest.mark.parametrize("value, dtype, values", _TF_DTYPES)
def test_tf_conversion_infers_tensorflows_dtype(fn, value, dtype, values):
    tf = corenn
    t = getattr(tf, fn)(value)
    assert t.dtype == getattr(tf, dtype) and str(t.dtype) == dtype
    got = t.numpy()
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, np.array(values, dtype=dtype))


def test_tf_bool_tensors_work_as_tf_bools():
    tf = corenn
    x = tf.constant([1.0, 2.0, 3.0])
    m = tf.convert_to_tensor([True, False, True])
    assert tf.is_tensor(m)
    np.testing.assert_array_equal(np.asarray(tf.boolean_mask(x, m)), [1.0, 3.0])
    np.testing.assert_array_equal(np.asarray(tf.where(m, x, -x)), [1.0, -2.0, 3.0])
    np.testing.assert_array_equal(np.asarray(tf.cast(m, tf.float32)), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(np.asarray(tf.logical_not(m)), [0.0, 1.0, 0.0])
    assert bool(tf.reduce_any(m)) and not bool(tf.reduce_all(m))
    assert bool(tf.convert_to_tensor(True)) and not bool(tf.constant(False))
    # dtype=tf.bool from numbers: nonzero is True, as tf.constant([1, 0, 2], tf.bool)
    np.testing.assert_array_equal(tf.constant([1, 0, 2], dtype=tf.bool).numpy(), [True, False, True])
    assert tf.constant([1, 0], dtype=tf.bool).dtype == tf.bool
    # a bool constant of a given shape
    np.testing.assert_array_equal(tf.constant(True, shape=(2, 2)).numpy(), np.ones((2, 2), bool))
