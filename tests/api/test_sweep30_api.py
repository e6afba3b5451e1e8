"""Sweep 30 of "a Keras / tf.keras program runs after changing only its imports": the API
behaviours the new tests/programs needed, each checked against TensorFlow 2.21's values."""
import os

import numpy as np

import corenn as tf


def test_strings_split_of_one_string_is_a_1d_string_tensor():
    # TF 2.21: tf.strings.split("a/b/c", "/") is tf.Tensor([b'a' b'b' b'c'], shape=(3,)), so the
    # Pneumonia page's str(tf.strings.split(path, os.path.sep)[-1].numpy())[2:-1] is the last
    # path component (it raised AttributeError on a Python list)
    path = os.path.join("chest_xray", "train", "NORMAL")
    parts = tf.strings.split(path, os.path.sep)
    assert parts.shape == (3,) and parts.numpy().tolist() == [b"chest_xray", b"train", b"NORMAL"]
    assert str(parts[-1].numpy())[2:-1] == "NORMAL"
    assert bool(parts[-2] == "train") and not bool(parts[-1] == "PNEUMONIA")
    # a string Tensor the same; whitespace splitting and maxsplit as str.split / TF
    assert tf.strings.split(tf.constant("a b  c"), maxsplit=1).numpy().tolist() == [b"a", b"b  c"]
    assert tf.strings.split(tf.constant("a b  c")).numpy().tolist() == [b"a", b"b", b"c"]
    assert tf.strings.split("", "/").numpy().tolist() == [b""]


def test_strings_split_inside_dataset_map_labels_from_paths():
    files = ["d/train/PNEUMONIA/x1.jpeg", "d/train/NORMAL/x2.jpeg", "d/val/PNEUMONIA/x3.jpeg"]
    ds = tf.data.Dataset.from_tensor_slices(files).map(lambda p: tf.strings.split(p, "/")[-2] == "PNEUMONIA")
    assert [bool(np.asarray(v)) for v in ds] == [True, False, True]


def test_strings_split_of_a_batch_stays_ragged():
    r = tf.strings.split(tf.constant(["a/b/c", "d/e"]), "/")
    assert r.shape == (2, None) and r.to_list() == [[b"a", b"b", b"c"], [b"d", b"e"]]


# -- keras.quantizers.*QuantizationConfig (the keras.io guide "Customizing Quantization") ------

import pytest  # noqa: E402

from corenn import keras  # noqa: E402
from corenn.keras.quantizers import (AbsMaxQuantizer, Int4QuantizationConfig,  # noqa: E402
                                     Int8QuantizationConfig, Quantizer)

_RNG = np.random.default_rng(0)
_W = _RNG.normal(size=(6, 4)).astype("float32")
_B = _RNG.normal(size=4).astype("float32")
_X = _RNG.normal(size=(5, 6)).astype("float32")


def _dense_model():
    m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="relu")])
    m.layers[0].set_weights([_W, _B])
    return m


def _abs_max(a, top, axis):
    s = np.float32(top) / (np.abs(a).max(axis, keepdims=True) + np.float32(1e-7))
    return np.clip(np.round(a * s), -top, top), s


def test_int8_config_with_custom_weight_and_activation_ranges_matches_keras_math():
    # Keras 3.15 (torch) gives these outputs bit for bit: kernel abs-max per column into
    # -50..50, inputs per row into -10..10, z = (q_x q_w) / (s_w s_x) + b, relu
    m = _dense_model()
    m.quantize(config=Int8QuantizationConfig(weight_quantizer=AbsMaxQuantizer(value_range=(-50, 50), axis=0),
                                             activation_quantizer=AbsMaxQuantizer(value_range=(-10, 10))))
    qk, sk = _abs_max(_W, 50, 0)
    qx, sx = _abs_max(_X, 10, -1)
    ref = np.maximum((qx @ qk) / (sk * sx) + _B, 0)
    layer = m.layers[0]
    assert str(layer.kernel.dtype) == "int8" and np.array_equal(np.asarray(layer.kernel), qk)
    np.testing.assert_allclose(np.asarray(layer.kernel_scale), sk[0], rtol=1e-7)
    assert isinstance(layer.inputs_quantizer, AbsMaxQuantizer) and layer.inputs_quantizer.value_range == (-10, 10)
    np.testing.assert_allclose(m.predict(_X, verbose=0), ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(m(_X)), ref, rtol=1e-6, atol=1e-6)
    # the default int8 (inputs in -127..127) differs: the config's quantizer is the one used
    d = _dense_model()
    d.quantize("int8")
    assert np.abs(np.asarray(d.predict(_X, verbose=0)) - ref).max() > 1e-3
    assert isinstance(d.layers[0].inputs_quantizer, AbsMaxQuantizer)


def test_int8_config_without_activation_quantizer_is_weight_only():
    m = _dense_model()
    m.quantize(config=Int8QuantizationConfig(activation_quantizer=None))
    assert m.layers[0].inputs_quantizer is None
    qk, sk = _abs_max(_W, 127, 0)
    np.testing.assert_allclose(m.predict(_X, verbose=0), np.maximum((_X @ qk) / sk + _B, 0), rtol=1e-6, atol=1e-6)


def test_custom_quantizer_subclass_as_activation_quantizer_and_its_gradient():
    class Half(Quantizer):   # a user quantizer: q = round(x * 2), scale 2
        def __call__(self, x, axis, to_numpy=False):
            scale = keras.ops.full((x.shape[0], 1), 2.0)
            return keras.ops.cast(keras.ops.round(keras.ops.multiply(x, scale)), "int8"), scale

        def get_config(self):
            return {"output_dtype": self.output_dtype}

    m = _dense_model()
    m.quantize(config=Int8QuantizationConfig(weight_quantizer=AbsMaxQuantizer(axis=0), activation_quantizer=Half()))
    qk, sk = _abs_max(_W, 127, 0)
    ref = np.maximum((np.round(_X * 2) @ qk) / (sk * 2) + _B, 0)
    np.testing.assert_allclose(m.predict(_X, verbose=0), ref, rtol=1e-6, atol=1e-6)
    # Keras' custom gradient: dx = dz (q / s)^T, the bias trains
    import corenn as tf
    x = tf.constant(_X)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(m(x))
    dx = np.asarray(tape.gradient(y, x))
    np.testing.assert_allclose(dx, (ref > 0).astype("float32") @ (qk / sk).T, rtol=1e-5, atol=1e-6)
    # written as Keras writes it, and refused on reading by name (corenn reads default configs only)
    cfg = m.layers[0].get_config()
    assert cfg["quantization_config"]["config"]["activation_quantizer"]["class_name"] == "Half"
    with pytest.raises(ValueError, match="quantization_config"):
        keras.layers.Dense.from_config(cfg)


def test_int4_configs_as_keras_3_15():
    with pytest.raises(ValueError, match="sub-channel"):   # block_size 128 takes no custom quantizer
        Int4QuantizationConfig(weight_quantizer=AbsMaxQuantizer(value_range=(-8, 7), axis=0))
    with pytest.raises(ValueError, match=r"value_range=\(-8, 7\)"):
        Int4QuantizationConfig(weight_quantizer=AbsMaxQuantizer(axis=0), block_size=None)
    m = _dense_model()
    m.quantize(config=Int4QuantizationConfig(weight_quantizer=AbsMaxQuantizer(value_range=(-8, 7), axis=0),
                                             activation_quantizer=None, block_size=-1))
    layer = m.layers[0]
    assert layer.dtype_policy.name == "int4/-1_from_float32" and layer.inputs_quantizer is None
    qk, sk = _abs_max(_W, 7, 0)
    qk = np.clip(qk, -8, 7)
    np.testing.assert_allclose(layer.int4_dequantized(), qk / sk, rtol=1e-6)
    np.testing.assert_allclose(m.predict(_X, verbose=0), np.maximum(_X @ (qk / sk) + _B, 0), rtol=1e-5, atol=1e-6)


def test_quantize_config_mode_checks():
    m = _dense_model()
    with pytest.raises(ValueError, match="Contradictory arguments"):
        m.quantize("int4", config=Int8QuantizationConfig())
    with pytest.raises(ValueError, match="output_dtype='int8'"):
        Int8QuantizationConfig(weight_quantizer=AbsMaxQuantizer(axis=0, output_dtype="int32"))
    # custom quantizers reach Dense only; an Embedding is refused by name, not skipped silently
    e = keras.Sequential([keras.Input((3,), dtype="int32"), keras.layers.Embedding(10, 4)])
    with pytest.raises(ValueError, match="Dense only"):
        e.quantize(config=Int8QuantizationConfig(weight_quantizer=AbsMaxQuantizer(axis=-1)))


def test_onnx_export_refuses_custom_quantizers(tmp_path):
    pytest.importorskip("onnx")
    m = _dense_model()
    m.quantize(config=Int8QuantizationConfig(activation_quantizer=AbsMaxQuantizer(value_range=(-10, 10))))
    with pytest.raises(ValueError, match="custom QuantizationConfig"):
        m.export(str(tmp_path / "m.onnx"), format="onnx")


def test_sparse_categorical_crossentropy_truncates_float_labels_as_keras():
    # the FCN example's masks are resized bilinearly (1.6 between classes 1 and 2); Keras 3.15
    # and TF 2.21 cast them to int64: [1, 1, 2, 0] -> these values (both frameworks)
    y = np.array([[1.0], [1.6], [2.9], [0.4]], "float32")
    p = np.array([[0.1, 0.2, 0.3, 0.4]] * 4, "float32")
    keras_values = [1.609438, 1.609438, 1.2039728, 2.3025851]
    np.testing.assert_allclose(keras.losses.SparseCategoricalCrossentropy(reduction=None)(y, p), keras_values,
                               rtol=1e-6)
    np.testing.assert_allclose(keras.losses.sparse_categorical_crossentropy(y, p), keras_values, rtol=1e-6)
    # and in fit, through the fused kernel
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4, activation="softmax")])
    m.compile(loss="sparse_categorical_crossentropy")
    x = np.ones((4, 2), "float32")
    assert np.isclose(m.evaluate(x, y, verbose=0), m.evaluate(x, np.trunc(y).astype("int64"), verbose=0))
    with pytest.raises(ValueError, match="integer class indices"):
        keras.losses.SparseCategoricalCrossentropy()(np.array([np.inf]), p[:1])


def test_saved_model_options_in_tf_keras_2_save_and_load_model(tmp_path):
    # TF-Keras 2's model.save(path, options=SaveOptions(...)) / load_model(path, options=
    # LoadOptions(...)) (the distributed save / load tutorial): the fields are TensorFlow's,
    # the files are the same as without them
    so = tf.saved_model.SaveOptions(experimental_io_device="/job:localhost")
    lo = tf.saved_model.LoadOptions(experimental_io_device="/job:localhost")
    assert so.experimental_io_device == lo.experimental_io_device == "/job:localhost"
    assert so.namespace_whitelist == [] and lo.allow_partial_checkpoint is False
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    x = np.ones((2, 3), "float32")
    m.save(str(tmp_path / "model"), options=so)
    back = keras.models.load_model(str(tmp_path / "model"), options=lo)
    np.testing.assert_allclose(back.predict(x, verbose=0), m.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(TypeError, match="SaveOptions"):
        m.save(str(tmp_path / "m.keras"), options={"experimental_io_device": "/job:localhost"})
    with pytest.raises(TypeError, match="LoadOptions"):
        keras.models.load_model(str(tmp_path / "model"), options=so)
    with pytest.raises(NotImplementedError, match="signatures"):
        m.save(str(tmp_path / "model2"), signatures={"serving_default": None})


def test_dense_build_from_the_feature_count_alone():
    # Keras 3.15: Dense(32).build((10,)) makes a (10, 32) kernel (the quantization guide's
    # layer-wise example), and the layer then takes (batch, 10) inputs (min_ndim=2)
    layer = keras.layers.Dense(3, activation="relu")
    layer.build((4,))
    assert tuple(layer.kernel.shape) == (4, 3)
    x = np.arange(8, dtype="float32").reshape(2, 4)
    ref = np.maximum(x @ np.asarray(layer.kernel) + np.asarray(layer.bias), 0)
    np.testing.assert_allclose(np.asarray(layer(x)), ref, rtol=1e-6)
    layer.quantize("int4")
    assert tuple(layer.kernel.shape) == (4, 2) and tuple(layer(x).shape) == (2, 3)
    with pytest.raises(ValueError, match="known last axis"):
        keras.layers.Dense(3).build((None,))


def test_add_weight_without_shape_is_a_scalar():
    # Keras 3.15: add_weight(shape=None) makes a scalar weight (the quantization guides'
    # add_weight(name="scale", initializer="ones", trainable=False)); glorot on it as Keras'
    # fans of 1 give: uniform in +-sqrt(6 / 2)
    layer = keras.layers.Layer()
    s = layer.add_weight(name="scale", initializer="ones", trainable=False)
    assert tuple(s.shape) == () and float(np.asarray(s)) == 1.0 and s.name == "scale"
    g = layer.add_weight()
    assert tuple(g.shape) == () and abs(float(np.asarray(g))) <= np.sqrt(3.0)
    assert len(layer.weights) == 2 and len(layer.trainable_weights) == 1
