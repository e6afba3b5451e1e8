"""Sweep 25: what the programs added to tests/programs in sweep 25 found missing, each checked on
its own against NumPy references or Keras 3's behaviour (values printed by Keras 3.15, torch
backend, where noted)."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras
from corenn.keras import backend


@pytest.fixture
def channels_first():
    keras.config.set_image_data_format("channels_first")
    try:
        yield
    finally:
        keras.config.set_image_data_format("channels_last")


# ---- SSVEPFormer (example_eeg_bci_ssvepformer.py): K.set_image_data_format("channels_first") ----

def test_set_image_data_format_channels_first_reaches_layers_made_after_it(channels_first):
    assert keras.config.image_data_format() == backend.image_data_format() == "channels_first"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 10)).astype("float32")            # (batch, channels, steps)
    conv = keras.layers.Conv1D(4, 3, padding="same")
    conv.build((None, 3, 10))
    w = rng.normal(size=(3, 3, 4)).astype("float32")
    b = rng.normal(size=4).astype("float32")
    conv.set_weights([w, b])
    assert conv.data_format == "channels_first"
    y = np.asarray(conv(x))
    # NumPy: the same convolution on channels-last data, moved back to channels-first
    xl = np.pad(x.transpose(0, 2, 1), ((0, 0), (1, 1), (0, 0)))
    ref = np.stack([np.einsum("nkc,kcf->nf", xl[:, t:t + 3], w) for t in range(10)], 1) + b
    np.testing.assert_allclose(y, ref.transpose(0, 2, 1), rtol=1e-5, atol=1e-5)
    # Flatten with the global channels_first flattens in channels-last order (Keras 3: it moves
    # the channels last first, so weights keep their order across layouts)
    flat = keras.layers.Flatten()
    assert flat.data_format == "channels_first"
    np.testing.assert_allclose(np.asarray(flat(y)), y.transpose(0, 2, 1).reshape(2, -1), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(keras.layers.GlobalAveragePooling1D()(y)), y.mean(-1),
                               rtol=1e-5, atol=1e-6)
    x4 = rng.normal(size=(2, 3, 6, 6)).astype("float32")
    assert keras.layers.UpSampling2D(2)(x4).shape == (2, 3, 12, 12)
    np.testing.assert_allclose(np.asarray(keras.layers.MaxPooling2D(2)(x4)),
                               x4.reshape(2, 3, 3, 2, 3, 2).max((3, 5)), rtol=1e-6)
    assert keras.layers.BatchNormalization().axis == -1      # Keras' default whatever the layout


def test_layers_with_an_explicit_data_format_ignore_the_global_one(channels_first):
    conv = keras.layers.Conv2D(2, 3, data_format="channels_last")
    assert conv.data_format == "channels_last"
    assert conv(np.zeros((1, 5, 5, 3), "float32")).shape == (1, 3, 3, 2)
    keras.config.set_image_data_format("channels_last")
    assert keras.layers.Conv2D(2, 3).data_format == "channels_last"


def test_channels_last_only_layers_refuse_the_global_channels_first(channels_first):
    # corenn's geometric preprocessing kernels have no channels-first path: refuse by name, not
    # resize the wrong axes
    with pytest.raises(NotImplementedError, match="Resizing .*image_data_format\\(\\) is 'channels_first'"):
        keras.layers.Resizing(4, 4)
    resize = keras.layers.Resizing(4, 4, data_format="channels_last")   # asked for by name: fine
    assert resize(np.zeros((1, 8, 8, 3), "float32")).shape == (1, 4, 4, 3)


def test_set_image_data_format_rejects_unknown_layouts():
    with pytest.raises(ValueError, match="set_image_data_format.*'channels_first', 'channels_last'"):
        keras.config.set_image_data_format("NCHW")
    assert keras.config.image_data_format() == "channels_last"


def test_sequential_of_channels_first_conv1d_trains(channels_first):
    # the SSVEPFormer's path end to end: Input (channels, steps) -> Conv1D -> LayerNorm -> Flatten
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 4, 16)).astype("float32")
    y = (x[:, 0].mean(-1) > 0).astype("int32")
    model = keras.Sequential([keras.Input((4, 16)), keras.layers.Conv1D(8, 3, padding="same"),
                              keras.layers.LayerNormalization(), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    assert model.layers[0].output.shape == (None, 8, 16)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=40, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0], hist.history   # Keras 3: 1.31 -> 0.46


# ---- vocal track separation (example_vocal_track_separation.py) -------------------------------

class _Scaled(keras.layers.Layer):
    """A user's layer with no get_config that makes its sublayer in build(self, *_)."""

    def __init__(self, units, factor=2.0, scale=(2, 2), **kwargs):
        super().__init__(**kwargs)
        self.units, self.factor, self.scale = units, factor, scale

    def build(self, *_):
        self.dense = keras.layers.Dense(self.units)

    def call(self, x):
        return self.dense(x) * self.factor


def test_layer_without_get_config_has_keras_auto_config():
    # Keras 3.15 prints factor 0.5, name 'sc', scale (2, 2), trainable True, units 3 (and dtype)
    layer = _Scaled(3, factor=0.5, name="sc")
    cfg = layer.get_config()
    assert {k: cfg[k] for k in ("units", "factor", "scale", "name", "trainable")} == \
        {"units": 3, "factor": 0.5, "scale": (2, 2), "name": "sc", "trainable": True}
    again = _Scaled.from_config(cfg)
    assert (again.units, again.factor, again.scale, again.name) == (3, 0.5, (2, 2), "sc")

    class NoKwargs(keras.layers.Layer):
        def __init__(self, units):
            super().__init__()
            self.units = units
    # an __init__ without **kwargs gets only what it can take back
    assert NoKwargs(4).get_config() == {"units": 4}
    assert NoKwargs.from_config(NoKwargs(4).get_config()).units == 4
    # builtin layers keep their own configs (no constructor echo)
    assert "_auto_config" not in keras.layers.Dense(2).get_config()
    assert set(keras.layers.Dense(2).get_config()) >= {"units", "activation", "use_bias"}


def test_layer_with_non_json_arguments_gets_no_auto_config():
    class Holder(keras.layers.Layer):
        def __init__(self, inner, **kwargs):
            super().__init__(**kwargs)
            self.inner = inner
    # Keras 3 raises NotImplementedError here; corenn keeps the base config (see README)
    cfg = Holder(keras.layers.Dense(2), name="h").get_config()
    assert "inner" not in cfg and cfg["name"] == "h"


def test_model_of_unconfigured_layers_and_function_metric_saves_and_loads(tmp_path):
    @keras.saving.register_keras_serializable(package="Sweep25")
    class Unconfigured(_Scaled):
        pass

    @keras.saving.register_keras_serializable(package="Sweep25")
    def half_mae(y_true, y_pred):
        return 0.5 * keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=-1)

    inputs = keras.Input((4,))
    outputs = Unconfigured(2, factor=0.5)(inputs)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "mse", metrics=[half_mae])
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = np.random.default_rng(1).normal(size=(16, 2)).astype("float32")
    model.fit(x, y, epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)                      # the function metric was refused here before
    loaded = keras.saving.load_model(path)
    layer = loaded.layers[-1]
    assert type(layer) is Unconfigured and (layer.units, layer.factor) == (2, 0.5)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    ref = 0.5 * np.abs(y - model.predict(x, verbose=0)).mean(-1).mean()
    logs = loaded.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "half_mae"}
    np.testing.assert_allclose(logs["half_mae"], ref, rtol=1e-5)


def test_unregistered_function_metric_is_refused_by_name_when_saving(tmp_path):
    def local_metric(y_true, y_pred):
        return keras.ops.mean(y_pred, axis=-1)

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=[local_metric])
    with pytest.raises(ValueError, match="register_keras_serializable"):
        model.save(str(tmp_path / "m.keras"))


# ---- AdaMatch (example_adamatch.py) -----------------------------------------------------------

def test_categorical_crossentropy_from_logits_gradient_with_unnormalised_labels():
    # AdaMatch's pseudo labels are l2-normalised, not summing to 1. The gradient is the loss's
    # own, softmax(z) * sum(y) - y, as Keras 3 on torch gives ([0.5626, -0.8324, 0.4912, 0.3254,
    # -0.5468] for row 0 here); TensorFlow's fused kernel gives softmax(z) - y instead
    rng = np.random.default_rng(0)
    z0 = rng.normal(size=(4, 5)).astype("float32")
    y = np.abs(rng.normal(size=(4, 5))).astype("float32")
    p = np.exp(z0) / np.exp(z0).sum(1, keepdims=True)
    ref = p * y.sum(1, keepdims=True) - y
    z = tf.Variable(z0)
    with tf.GradientTape() as tape:
        s = tf.reduce_sum(keras.losses.categorical_crossentropy(y, z, from_logits=True))
    np.testing.assert_allclose(np.asarray(tape.gradient(s, z)), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ref[0], [0.5626, -0.8324, 0.4912, 0.3254, -0.5468], atol=1e-4)
    with tf.GradientTape() as tape:
        loss = keras.losses.CategoricalCrossentropy(from_logits=True, reduction="none")(y, z)
        s = tf.reduce_mean(loss * tf.constant([1.0, 0.0, 1.0, 1.0]))
    mask = np.array([1.0, 0.0, 1.0, 1.0])[:, None]
    np.testing.assert_allclose(np.asarray(tape.gradient(s, z)), ref * mask / 4, rtol=1e-5, atol=1e-6)
