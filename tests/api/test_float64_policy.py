"""float64 under Keras 3 semantics: corenn computes in float32 (Keras' default compute dtype), so
NumPy float64 data is cast to float32 where it enters a layer, fit, predict or an op (as Keras
autocasts inputs). A float64 / float16 *tensor* (tf.cast / ops.cast / tf.constant to float64, a
float64 random draw) holds its dtype and its values exactly; the elementwise ops, reductions,
matmul and common activations compute on it in float64 and give float64 (tests/api/test_float64_ops.py),
the float32 layers take its float32 values. dtype='float64' layers and set_floatx('float64')
compute in float64 (tests/api/test_float64_layers.py); a layer without a float64 form raises a
TypeError naming the layer and the dtype."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras
from corenn.keras import layers
from tests import reference as ref


@pytest.mark.parametrize("make, dtype", [
    (lambda v: tf.cast(v, tf.float64), "float64"),
    (lambda v: tf.cast(v, "float16"), "float16"),
    (lambda v: keras.ops.cast(v, "float64"), "float64"),
    (lambda v: tf.constant(v, dtype=tf.float64), "float64"),
    (lambda v: keras.ops.convert_to_tensor(v, dtype="float64"), "float64"),
    (lambda v: tf.Variable(v, dtype=tf.float64), "float64"),
])
def test_float64_and_float16_tensors_hold_their_dtype_and_values(make, dtype):
    v = np.array([0.1, 1.0 / 3.0, -2.5e-3, 1e30 if dtype == "float64" else 100.0])
    t = make(v)
    assert t.dtype == dtype and np.asarray(t).dtype == np.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(t), v.astype(dtype))   # exact: no float32 detour
    if dtype == "float64":
        assert np.asarray(t)[0] == 0.1 and np.float32(np.asarray(t)[0]) != np.asarray(t)[0]


def test_ops_on_float64_tensors_compute_in_float64():
    x64 = tf.cast(np.array([0.5, 1.25, -3.0]), tf.float64)
    v = np.array([0.5, 1.25, -3.0])
    for op, want in ((lambda t: t + 1e-12, v + 1e-12),          # lost in float32
                     (lambda t: keras.ops.exp(t), np.exp(v)),
                     (lambda t: tf.reduce_sum(t), v.sum())):
        y = op(x64)
        assert y.dtype == "float64"
        np.testing.assert_allclose(np.asarray(y), want, rtol=1e-15, atol=0)
    # a float64 tensor fed to a layer is its float32 values, as NumPy float64 data is
    dense = layers.Dense(2)
    np.testing.assert_array_equal(np.asarray(dense(tf.reshape(x64, (1, 3)))),
                                  np.asarray(dense(np.array([[0.5, 1.25, -3.0]], np.float32))))


def test_dtypes_a_tensor_cannot_hold_are_refused_by_name():
    with pytest.raises(TypeError, match=r"ops.cast: dtype complex64 is not supported.*float32"):
        keras.ops.cast(tf.constant([1.5]), "complex64")
    big = tf.constant([1, 2], dtype=np.dtype(">i4"))   # held in the machine's byte order
    assert big.dtype == "int32" and np.asarray(big).tolist() == [1, 2]


def test_other_casts_keep_their_values():
    assert np.asarray(tf.cast(tf.constant([0.0, 2.0]), tf.bool)).tolist() == [0.0, 1.0]
    u8 = tf.cast(tf.constant([255.0, 7.9]), tf.uint8)
    assert u8.dtype == "uint8" and np.asarray(u8).dtype == np.uint8
    assert np.asarray(u8).tolist() == [255, 7]
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


def test_float64_layers_without_a_float64_form_and_other_floatx_are_refused_by_name():
    with pytest.raises(TypeError, match="ConvLSTM2D 'wide': dtype 'float64' is not supported"):
        layers.ConvLSTM2D(2, 3, dtype="float64", name="wide")
    with pytest.raises(ValueError, match="set_floatx: dtype 'bfloat16'"):
        keras.config.set_floatx("bfloat16")
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


def test_zero_d_values_stay_zero_d():
    """Results built from 0-d values keep shape () (np.ascontiguousarray made them (1,)): the
    unscaled gradient of a scalar variable, a Python activation of a scalar."""
    v = tf.Variable(2.0)
    opt = keras.mixed_precision.LossScaleOptimizer(keras.optimizers.SGD(0.1))
    with tf.GradientTape() as t:
        loss = opt.scale_loss(v * v)
    unscaled = opt.get_unscaled_gradients(t.gradient(loss, [v]))[0]
    assert tuple(unscaled.shape) == () and float(unscaled) == pytest.approx(4.0)
    y = keras.activations.get(lambda x: x * 2.0)(np.float32(3.0))
    assert np.shape(y) == () and float(np.asarray(y)) == 6.0
