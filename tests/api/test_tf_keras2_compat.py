"""tf.keras 2 spellings that old scripts still use: the K.* backend functions (custom losses and
metrics written with them, differentiated like corenn.ops), K.set_value / get_value on an
optimizer's rate, ``lr=`` / ``decay=`` / ``optimizer.lr``, fit's loader options and the
*_generator methods."""
import warnings

import numpy as np
import pytest

import corenn as tf
from corenn import keras

K = keras.backend


def test_backend_functions_match_numpy(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    y = rng.standard_normal((4, 2)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(K.mean(x)), x.mean(), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(K.sum(x, axis=1, keepdims=True)), x.sum(axis=1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(K.max(x, axis=0)), x.max(axis=0))
    np.testing.assert_allclose(np.asarray(K.dot(x, y)), x @ y, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(K.sqrt(K.square(x))), np.abs(x), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(K.clip(x, -0.5, 0.5)), np.clip(x, -0.5, 0.5))
    np.testing.assert_allclose(np.asarray(K.batch_flatten(np.ones((2, 3, 4), np.float32))), np.ones((2, 12)))
    a, b = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(K.batch_dot(a, b)), (a * b).sum(axis=1, keepdims=True), rtol=1e-5)
    p, q = rng.standard_normal((2, 3, 4)).astype(np.float32), rng.standard_normal((2, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(K.batch_dot(p, q)), p @ q, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(K.permute_dimensions(p, (0, 2, 1))), p.transpose(0, 2, 1))
    t = (rng.random((4, 3)) > 0.5).astype(np.float32)
    o = rng.uniform(0.1, 0.9, (4, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(K.binary_crossentropy(t, o)),
                               -(t * np.log(o) + (1 - t) * np.log(1 - o)), rtol=1e-5)
    assert K.int_shape(x) == (3, 4) and K.ndim(x) == 2 and K.count_params(x) == 12
    assert K.epsilon() == 1e-7 and K.floatx() == "float32"


def test_custom_metric_and_loss_written_with_k_train(rng):
    def rmse(y_true, y_pred):
        return K.sqrt(K.mean(K.square(y_pred - y_true), axis=-1))

    def huberish(y_true, y_pred):
        e = K.abs(y_true - y_pred)
        return K.mean(K.switch(e < 1.0, 0.5 * K.square(e), e - 0.5), axis=-1)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [2.0], [-1.0]], np.float32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), loss=huberish, metrics=[rmse])
    hist = model.fit(x, y, epochs=20, batch_size=16, verbose=0).history
    assert hist["loss"][-1] < 0.2 * hist["loss"][0] and hist["rmse"][-1] < hist["rmse"][0]
    pred = model.predict(x, verbose=0)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0, return_dict=True)["rmse"],
                               np.sqrt(((pred - y) ** 2).mean(axis=-1)).mean(), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(rmse(y, model.predict(x, verbose=0))),
                               np.sqrt(((model.predict(x, verbose=0) - y) ** 2).mean(axis=-1)), rtol=1e-5)
    xv = tf.Variable(x[:2])
    with tf.GradientTape() as tape:
        loss = K.sum(K.square(K.dot(xv, np.ones((3, 1), np.float32))))
    g = tape.gradient(loss, xv)
    np.testing.assert_allclose(np.asarray(g), 2 * np.repeat(x[:2].sum(axis=1, keepdims=True), 3, axis=1), rtol=1e-5)


def test_learning_rate_spellings():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.warns(DeprecationWarning, match="lr"):
        opt = keras.optimizers.Adam(lr=0.02)
    assert opt.learning_rate == pytest.approx(0.02)
    model.compile(opt, "mse")
    K.set_value(model.optimizer.lr, 0.005)
    assert K.get_value(model.optimizer.learning_rate) == pytest.approx(0.005)
    model.optimizer.lr = 0.003
    assert model.optimizer.learning_rate == pytest.approx(0.003)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        decayed = keras.optimizers.SGD(lr=0.1, decay=0.5)
    decayed.iterations = 4
    assert decayed.learning_rate == pytest.approx(0.1 / (1 + 0.5 * 4))
    v = tf.Variable(np.zeros(3, np.float32))
    K.set_value(v, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(K.get_value(v), [1.0, 2.0, 3.0])


def test_fit_loader_options_and_generator_methods(rng):
    x = rng.standard_normal((32, 3)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)

    class Batches(keras.utils.Sequence):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[i * 8:(i + 1) * 8], y[i * 8:(i + 1) * 8]
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(x, y, epochs=1, verbose=0, workers=4, use_multiprocessing=True, max_queue_size=5)
    with pytest.raises(TypeError, match="worker"):
        model.fit(x, y, epochs=1, verbose=0, worker=4)
    with pytest.warns(DeprecationWarning):
        hist = model.fit_generator(Batches(), epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2
    with pytest.warns(DeprecationWarning):
        assert np.isfinite(model.evaluate_generator(Batches()))
    with pytest.warns(DeprecationWarning):
        assert model.predict_generator(Batches()).shape == (32, 1)


def test_batch_normalization_tf_keras2_options():
    bn = keras.layers.BatchNormalization(momentum=0.9, fused=True)
    y = bn(np.ones((4, 3), np.float32), training=True)
    assert np.asarray(y).shape == (4, 3)
    with pytest.raises(NotImplementedError, match="renorm"):
        keras.layers.BatchNormalization(renorm=True)
    with pytest.raises(NotImplementedError, match="virtual_batch_size"):
        keras.layers.BatchNormalization(virtual_batch_size=2)


def test_weights_methods_take_tf_keras2_arguments(tmp_path, rng):
    # tf.keras 2's save_weights(..., save_format=, options=) / load_weights(..., by_name=,
    # skip_mismatch=, options=) at their defaults, as the Zero-DCE example forwards them
    def make():
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])

    model, fresh = make(), make()
    path = str(tmp_path / "net.weights.h5")
    model.save_weights(path, overwrite=True, save_format=None, options=None)
    model.save_weights(path, save_format="h5")
    fresh.load_weights(filepath=path, by_name=False, skip_mismatch=False, options=None)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="save_format='tf'.*not supported"):
        model.save_weights(path, save_format="tf")
    with pytest.raises(NotImplementedError, match="by_name=True is not supported"):
        fresh.load_weights(path, by_name=True)
    # skip_mismatch=True (Keras 3) on a file that fits loads everything (tests/api/test_sweep23_api.py
    # checks what it skips)
    other = make()
    other.load_weights(path, skip_mismatch=True)
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
