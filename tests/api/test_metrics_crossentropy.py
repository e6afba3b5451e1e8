"""Cross-entropy, RMSE and Sum metric classes (TensorFlow's "Overfit and underfit" tutorial
compiles with metrics.SparseCategoricalCrossentropy): against float64 NumPy over several batches."""
import numpy as np
import pytest

import corenn
from corenn import keras, metrics


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_sparse_and_categorical_crossentropy_from_logits_over_batches():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 8, 5)).astype(np.float32)
    y = rng.integers(0, 5, (3, 8))
    sparse = metrics.SparseCategoricalCrossentropy(from_logits=True)
    cat = metrics.CategoricalCrossentropy(from_logits=True)
    for zb, yb in zip(z, y):
        sparse.update_state(yb, zb)
        cat.update_state(np.eye(5)[yb], zb)
    want = -np.take_along_axis(log_softmax(z.astype(np.float64)), y[..., None], -1).mean()
    np.testing.assert_allclose(sparse.result(), want, rtol=1e-5)
    np.testing.assert_allclose(cat.result(), want, rtol=1e-5)


def test_binary_crossentropy_on_probabilities_and_rmse_and_sum():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.05, 0.95, (10, 1)).astype(np.float32)
    t = rng.integers(0, 2, (10, 1)).astype(np.float32)
    m = metrics.BinaryCrossentropy()
    m.update_state(t, p)
    want = -(t * np.log(p.astype(np.float64)) + (1 - t) * np.log(1 - p.astype(np.float64))).mean()
    np.testing.assert_allclose(m.result(), want, rtol=1e-5)
    r = metrics.RootMeanSquaredError()
    r.update_state(t, p)
    np.testing.assert_allclose(r.result(), np.sqrt(((t - p.astype(np.float64)) ** 2).mean()), rtol=1e-5)
    s = metrics.Sum()
    s.update_state([1.0, 2.5])
    s.update_state(3.0)
    assert s.result() == 6.5


def test_in_compile_by_object_and_by_name():
    corenn.utils.set_random_seed(0)
    x = np.random.default_rng(2).random((64, 6)).astype(np.float32)
    y = np.random.default_rng(3).integers(0, 3, 64)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalCrossentropy(from_logits=True, name="sce")])
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["sce"], logs["loss"], rtol=1e-5)   # the same quantity
    reg = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1)])
    reg.compile("adam", "mse", metrics=["root_mean_squared_error"])
    logs = reg.evaluate(x, x[:, :1], verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["root_mean_squared_error"], np.sqrt(logs["loss"]), rtol=1e-5)


def test_unsupported_options_say_so():
    with pytest.raises(NotImplementedError, match="ignore_class"):
        metrics.SparseCategoricalCrossentropy(ignore_class=0)
