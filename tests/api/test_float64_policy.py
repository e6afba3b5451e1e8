"""float64 under Keras 3 semantics: corenn computes in float32 (Keras' default compute dtype), so
NumPy float64 data is cast to float32 where it enters a layer, fit, predict or an op (as Keras
autocasts inputs); what would need float64 tensors (tf.cast / ops.cast / tf.constant to float64,
dtype='float64' layers, set_floatx('float64')) raises a TypeError naming the op and the dtype."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras
from corenn.keras import layers
from tests import reference as ref


@pytest.mark.parametrize("call, op", [
    (lambda: tf.cast(tf.constant([1.5]), tf.float64), "tf.cast"),
    (lambda: tf.cast(np.ones(2), "float16"), "tf.cast"),
    (lambda: keras.ops.cast(np.ones(2), "float64"), "ops.cast"),
    (lambda: tf.constant([1.5], dtype=tf.float64), "tf.constant"),
    (lambda: keras.ops.convert_to_tensor([1.5], dtype="float64"), "ops.convert_to_tensor"),
])
def test_float64_tensors_are_refused_by_name(call, op):
    with pytest.raises(TypeError, match=rf"{op}: dtype float(64|16) is not supported.*float32"):
        call()


def test_other_casts_keep_their_values():
    assert np.asarray(tf.cast(tf.constant([0.0, 2.0]), tf.bool)).tolist() == [0.0, 1.0]
    u8 = tf.cast(tf.constant([300.0, 7.9]), tf.uint8)
    assert np.asarray(u8).tolist() == np.array([300.0, 7.9]).astype(np.uint8).tolist()
    assert tf.constant([1, 2], dtype=tf.int64).dtype == "int64"


def test_float64_data_enters_layers_as_float32():
    x64 = np.random.default_rng(0).normal(size=(5, 3))
    dense = layers.Dense(4, activation="tanh")
    y = dense(x64)
    assert y.dtype == "float32"
    k, b = dense.get_weights()
    np.testing.assert_allclose(np.asarray(y), np.tanh(ref.f64(x64.astype(np.float32)) @ k + b), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(dense(x64.astype(np.float32))))


def test_fit_and_predict_on_float64_arrays_match_float32_arrays():
    rng = np.random.default_rng(1)
    x64, y64 = rng.normal(size=(32, 3)), rng.normal(size=(32, 1))

    def run(x, y):
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input((3,)), layers.Dense(8, activation="relu"), layers.Dense(1)])
        model.compile("adam", "mse")
        hist = model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
        return hist.history["loss"], model.predict(x, verbose=0)
    loss64, pred64 = run(x64, y64)
    loss32, pred32 = run(x64.astype(np.float32), y64.astype(np.float32))
    assert pred64.dtype == np.float32
    assert loss64 == loss32
    np.testing.assert_array_equal(pred64, pred32)


def test_float64_input_feeds_float32_layers():
    inp = keras.Input((3,), dtype="float64")
    model = keras.Model(inp, layers.Dense(2)(inp))
    x = np.random.default_rng(2).normal(size=(4, 3))
    out = model.predict(x, verbose=0)
    k, b = model.layers[1].get_weights()
    np.testing.assert_allclose(out, ref.f64(x.astype(np.float32)) @ k + b, rtol=1e-5, atol=1e-6)


def test_float64_layers_and_floatx_are_refused_by_name():
    with pytest.raises(TypeError, match="Dense 'wide': dtype='float64' is not supported"):
        layers.Dense(2, dtype="float64", name="wide")
    with pytest.raises(TypeError, match="set_floatx: dtype 'float64'"):
        keras.config.set_floatx("float64")
    keras.config.set_floatx("float32")
    assert keras.config.floatx() == keras.backend.floatx() == "float32"
    assert keras.backend.epsilon() == 1e-7 and keras.config.image_data_format() == "channels_last"
    with pytest.raises(ValueError, match="set_image_data_format"):
        keras.config.set_image_data_format("nchw")   # channels_first is supported (tests/api/test_sweep25_api.py)


def test_clear_session_restarts_default_names():
    keras.backend.clear_session()
    assert layers.Dense(1).name == "dense"
    assert layers.Dense(1).name == "dense_1"
    keras.backend.clear_session()
    assert layers.Dense(1).name == "dense"
