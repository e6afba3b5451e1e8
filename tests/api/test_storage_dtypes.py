"""Tensors of the storage-only dtypes (uint8, int8, int16, uint16, uint32, uint64, float16,
float64): what Keras 3 gives for them where corenn follows it, and the kernels' refusal to compute
in them (each op names itself and the dtype)."""
import numpy as np
import pytest

import corenn as tf
from corenn import kernels
from corenn.keras import layers, ops


def _u8(values):
    return tf.cast(tf.constant(values, dtype=tf.int32), tf.uint8)


def test_integer_ops_keep_small_integer_dtypes_as_keras():
    a, b = _u8([250, 3, 7]), _u8([10, 4, 1])
    s = ops.add(a, b)
    assert s.dtype == "uint8"
    np.testing.assert_array_equal(np.asarray(s), (np.array([250, 3, 7], np.uint8) + np.uint8([10, 4, 1])))  # wraps
    assert (a + 1).dtype == "uint8" and (a * 2).dtype == "uint8"
    assert ops.maximum(a, b).dtype == "uint8" and ops.negative(tf.cast(a, tf.int8)).dtype == "int8"
    # mixing with floats computes in float32, as Keras 3 (uint8 * 1.5 -> float32)
    f = a * 1.5
    assert f.dtype == "float32"
    np.testing.assert_allclose(np.asarray(f), [375.0, 4.5, 10.5])
    assert (a / 2).dtype == "float32"


@pytest.mark.parametrize("dtype,want", [("uint8", "uint32"), ("uint16", "uint32"), ("int8", "int32"),
                                        ("int16", "int32"), ("uint32", "uint32"), ("int64", "int64")])
def test_sums_of_small_integers_are_32_bit_as_keras(dtype, want):
    x = tf.cast(tf.constant([100, 100, 100]), dtype)
    s = ops.sum(x)
    assert s.dtype == want and int(np.asarray(s)) == 300   # no uint8 wrap-around (300 > 255)
    assert ops.max(x).dtype == dtype and ops.mean(x).dtype == "float32"


def test_shape_ops_and_indexing_keep_the_dtype():
    x = tf.cast(tf.reshape(tf.range(6), (2, 3)), tf.uint8)
    for y in (ops.reshape(x, (3, 2)), ops.transpose(x), x[1:], ops.concatenate([x, x]), tf.gather(x, [1, 0])):
        assert y.dtype == "uint8"
    np.testing.assert_array_equal(np.asarray(ops.transpose(x)), np.arange(6, dtype=np.uint8).reshape(2, 3).T)


def test_float16_tensor_values_and_ops():
    h = tf.cast(tf.constant([0.1, 1000.0, -2.0]), tf.float16)
    assert h.dtype == "float16"
    np.testing.assert_array_equal(np.asarray(h), np.array([0.1, 1000.0, -2.0], np.float32).astype(np.float16))
    y = ops.exp(ops.cast(h, "float32") * 0.0)
    assert y.dtype == "float32" and np.asarray(y).tolist() == [1.0, 1.0, 1.0]


def test_layers_take_uint8_images_and_ids():
    img = tf.cast(tf.constant(np.arange(2 * 4 * 4 * 1).reshape(2, 4, 4, 1) % 256), tf.uint8)
    rescaled = layers.Rescaling(1.0 / 255)(img)
    assert rescaled.dtype == "float32"
    np.testing.assert_allclose(np.asarray(rescaled), np.asarray(img).astype(np.float32) / 255, rtol=1e-6)
    emb = layers.Embedding(256, 3)
    ids = _u8([[0, 5, 255]])
    out = emb(ids)
    np.testing.assert_array_equal(np.asarray(out), emb.get_weights()[0][[0, 5, 255]][None])


@pytest.mark.parametrize("dtype", ["float64", "float16", "uint8", "int16", "bool"])
def test_kernels_refuse_storage_dtypes_by_name(dtype):
    x = kernels.Tensor.from_numpy(np.ones((2, 2), dtype))
    w = kernels.Tensor.from_numpy(np.ones((2, 2), np.float32))
    with pytest.raises(TypeError, match=rf"gemm.*{dtype}"):
        kernels._C.gemm(x, w, kernels.Tensor.zeros([2, 2]), False, False, 1.0, 0.0, None, "none")
    with pytest.raises(TypeError, match=rf"embedding_forward: indices must be int32, int64 or float32, got {dtype}"):
        kernels._C.embedding_forward(x, w, kernels.Tensor.zeros([2, 2, 2]))


def test_gradients_reach_float64_sources_in_their_dtype():
    d = tf.constant([1.0, 2.0], dtype=tf.float64)
    w = tf.Variable(tf.constant([0.5, -1.0], dtype=tf.float64))
    assert w.dtype == "float64"   # a Variable of a Tensor keeps its dtype
    with tf.GradientTape() as tape:
        tape.watch(d)
        z = tf.reduce_sum(d * d * w)
    gd, gw = tape.gradient(z, [d, w])
    assert gd.dtype == "float64" and gw.dtype == "float64"
    np.testing.assert_allclose(np.asarray(gd), 2 * np.array([1.0, 2.0]) * np.array([0.5, -1.0]), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(gw), np.array([1.0, 4.0]), rtol=1e-6)
    # finite differences of the same function, in float64
    eps, base = 1e-3, np.array([1.0, 2.0])
    f = lambda v: float(np.sum(v * v * np.array([0.5, -1.0])))   # noqa: E731
    fd = [(f(base + eps * np.eye(2)[i]) - f(base - eps * np.eye(2)[i])) / (2 * eps) for i in range(2)]
    np.testing.assert_allclose(np.asarray(gd), fd, rtol=1e-5)


def _tf_u8(x_float):
    """TensorFlow's float -> uint8 conversion with saturation: x * 255.5 truncated, clipped."""
    return np.clip(np.asarray(x_float, np.float32) * np.float32(255.5), 0, 255).astype(np.uint8)


def test_colour_adjustments_of_uint8_images_stay_uint8_as_tensorflow():
    # TensorFlow converts an integer image to [0, 1] floats, adjusts, and converts back saturating
    a = (np.arange(4 * 4 * 3).reshape(4, 4, 3) * 5 % 256).astype(np.uint8)
    img = tf.constant(a)
    f = a.astype(np.float32) / np.float32(255)
    bright = tf.image.adjust_brightness(img, 0.1)
    assert bright.dtype == "uint8"
    np.testing.assert_array_equal(np.asarray(bright), _tf_u8(f + np.float32(0.1)))
    gamma = tf.image.adjust_gamma(img, 2.0)
    assert gamma.dtype == "uint8"
    np.testing.assert_array_equal(np.asarray(gamma), _tf_u8(f ** 2))
    # sums TensorFlow 2.21 gives for this image (tools: tf.image.* on the same uint8 tensor)
    tf_sums = {"adjust_brightness": 6835, "adjust_contrast": 5857, "rgb_to_grayscale": 1864,
               "adjust_saturation": 5415, "adjust_hue": 5576, "adjust_gamma": 3485}
    args = {"adjust_brightness": (0.1,), "adjust_contrast": (2.0,), "rgb_to_grayscale": (),
            "adjust_saturation": (2.0,), "adjust_hue": (0.1,), "adjust_gamma": (2.0,)}
    for name, want in tf_sums.items():
        out = getattr(tf.image, name)(img, *args[name])
        assert out.dtype == "uint8", name
        assert int(np.asarray(out, np.int64).sum()) == want, (name, np.asarray(out, np.int64).sum(), want)
    # float images are adjusted as they are
    np.testing.assert_allclose(np.asarray(tf.image.adjust_brightness(f, 0.1)), f + np.float32(0.1), rtol=1e-6)


def test_a_layer_written_with_call_gets_a_uint8_tensor_as_it_is():
    seen = {}

    class Scale(layers.Layer):
        def call(self, x):
            seen["dtype"] = x.dtype
            return ops.cast(x, "float32") / 255.0

    img = tf.cast(tf.constant([[0, 51, 255]]), tf.uint8)
    out = Scale()(img)
    assert seen["dtype"] == "uint8"
    np.testing.assert_allclose(np.asarray(out), [[0.0, 0.2, 1.0]], rtol=1e-6)


def _counter_model():
    from corenn import keras

    class Counter(layers.Layer):
        def build(self, shape):
            self.seen = self.add_weight(shape=(), dtype="int64", initializer="zeros", trainable=False, name="seen")
            self.acc = self.add_weight(shape=(3,), dtype="float64", initializer="zeros", trainable=False, name="acc")
            self.flag = self.add_weight(shape=(2,), dtype="uint8", initializer="ones", trainable=False, name="flag")

        def call(self, x):
            self.seen.assign_add(1)
            return x

    return keras.Sequential([keras.Input((3,)), Counter(), layers.Dense(2)]), Counter


@pytest.mark.parametrize("fmt", ["model.keras", "w.weights.h5", "ckpt"])
def test_non_trainable_weights_of_other_dtypes_keep_dtype_and_values_through_saving(tmp_path, fmt):
    pytest.importorskip("h5py") if fmt.endswith(".h5") else None
    from corenn import keras
    model, Counter = _counter_model()
    model.compile("adam", "mse")
    model.fit(np.ones((8, 3), np.float32), np.ones((8, 2), np.float32), epochs=2, verbose=0)
    c = model.layers[0]
    assert int(c.seen.numpy()) == 2   # counted each training step
    assert [str(w.dtype) for w in model.get_weights()] == ["int64", "float64", "uint8", "float32", "float32"]
    c.acc.assign(np.array([0.1, 0.2, 0.3]))
    c.seen.assign(2**40 + 1)          # beyond float32's integers
    c.flag.assign(np.array([7, 200], np.uint8))
    if fmt == "model.keras":
        model.save(tmp_path / fmt)
        other = keras.models.load_model(tmp_path / fmt, custom_objects={"Counter": Counter})
    elif fmt == "w.weights.h5":
        model.save_weights(tmp_path / fmt)
        other, _ = _counter_model()
        other.load_weights(tmp_path / fmt)
    else:
        ckpt = tf.train.Checkpoint(model=model)
        path = ckpt.save(str(tmp_path / "c"))
        other = model
        c.acc.assign(np.zeros(3)); c.seen.assign(0); c.flag.assign(np.zeros(2, np.uint8))
        tf.train.Checkpoint(model=other).restore(path)
    o = other.layers[0]
    assert str(o.acc.dtype) == "float64" and str(o.flag.dtype) == "uint8" and str(o.seen.dtype) == "int64"
    assert o.acc.numpy().tolist() == [0.1, 0.2, 0.3]      # exact: no float32 detour
    assert int(o.seen.numpy()) == 2**40 + 1 and o.flag.numpy().tolist() == [7, 200]


def test_a_trainable_weight_of_another_dtype_is_refused_by_name():
    class Wide(layers.Layer):
        def build(self, shape):
            self.w = self.add_weight(shape=(2,), dtype="float16", name="w")

    with pytest.raises(TypeError, match=r"'wide'.add_weight: trainable weights are float32 or float64.*float16.*trainable=False"):
        Wide(name="wide")(np.ones((1, 2), np.float32))


def test_custom_metric_with_integer_state_variables():
    from corenn import keras

    class CountHits(keras.metrics.Metric):
        def __init__(self, name="hits", **kwargs):
            super().__init__(name=name, **kwargs)
            self.hits = self.add_variable(shape=(), initializer="zeros", dtype="int32", name="h")
            self.n = self.add_weight(shape=(), initializer="zeros", dtype="int64", name="n")

        def update_state(self, y_true, y_pred, sample_weight=None):
            hit = ops.cast(ops.equal(ops.cast(y_true, "int32"), ops.cast(ops.argmax(y_pred, -1), "int32")), "int32")
            self.hits.assign_add(ops.sum(hit))
            self.n.assign_add(ops.size(hit))

        def result(self):
            return ops.cast(self.hits, "float32") / ops.cast(self.n, "float32")

    m = CountHits()
    assert m.hits.dtype == "int32" and m.n.dtype == "int64"
    y_true = np.array([0, 1, 2, 1])
    y_pred = np.eye(3, dtype=np.float32)[[0, 2, 2, 1]]
    m.update_state(y_true, y_pred)
    m.update_state(y_true[:2], y_pred[:2])
    assert int(m.hits.numpy()) == 4 and int(m.n.numpy()) == 6
    np.testing.assert_allclose(float(m.result()), 4 / 6, rtol=1e-6)
    m.reset_state()
    assert int(m.hits.numpy()) == 0 and m.hits.dtype == "int32"


def test_numpy_integer_arrays_keep_their_dtype_through_ops_and_tf_image():
    a = (np.arange(2 * 3 * 3) * 29 % 256).astype(np.uint8).reshape(2, 3, 3)
    assert ops.convert_to_tensor(a).dtype == "uint8"   # as Keras
    flipped = tf.image.flip_left_right(a)
    assert flipped.dtype == "uint8"
    np.testing.assert_array_equal(np.asarray(flipped), a[:, ::-1])
    bright = tf.image.random_brightness(a, max_delta=0.1, seed=3)
    assert bright.dtype == "uint8"   # a uint8 image's brightness moves by at most 0.1 * 255
    assert np.abs(np.asarray(bright).astype(int) - a.astype(int)).max() <= 26


def test_convert_image_dtype_saturates_to_the_integer_range():
    x = np.array([-1.5, 0.0, 0.5, 1.0, 2.0], np.float32)
    for dtype, info in (("int64", np.iinfo(np.int64)), ("int32", np.iinfo(np.int32)), ("uint16", np.iinfo(np.uint16))):
        out = np.asarray(tf.image.convert_image_dtype(x, dtype, saturate=True))
        assert out.dtype == np.dtype(dtype)
        assert out[0] == info.min and out[1] == 0 and out[-1] == info.max and out[-2] >= info.max // 2 * 2 - 256
