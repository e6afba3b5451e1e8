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


# ---- RetinaNet (example_retinanet.py) ---------------------------------------------------------

def test_model_inputs_given_as_a_list_holding_a_model_input_list():
    # get_backbone's keras.Model(inputs=[backbone.inputs], ...): tf.keras 2 and Keras 3 flatten it
    a = keras.Input((3,))
    base = keras.Model(a, keras.layers.Dense(2)(a))
    m = keras.Model(inputs=[base.inputs], outputs=[base.output])
    assert len(m.inputs) == 1 and m.inputs[0] is a
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(np.asarray(m.predict(x, verbose=0)), np.asarray(base.predict(x, verbose=0)))


def test_save_weights_to_a_prefix_is_a_checkpoint_latest_checkpoint_finds(tmp_path):
    # tf.keras 2: a weights name that is not an HDF5 / Keras file is TensorFlow's checkpoint format,
    # and the directory's 'checkpoint' file names it (tf.train.latest_checkpoint)
    def make():
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model, other = make(), make()
    prefix = str(tmp_path / "ckpt" / "weights_epoch_3")
    model.save_weights(prefix)
    assert tf.train.latest_checkpoint(str(tmp_path / "ckpt")) == prefix
    other.load_weights(tf.train.latest_checkpoint(str(tmp_path / "ckpt")))
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(FileExistsError):
        model.save_weights(prefix, overwrite=False)
    model.save_weights(str(tmp_path / "p2"), save_format="tf")   # tf.keras 2's explicit format
    wrong = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    with pytest.raises(ValueError, match="shape"):
        wrong.load_weights(prefix)
    # ModelCheckpoint(save_weights_only=True) to such a prefix, as RetinaNet's callback
    cb = keras.callbacks.ModelCheckpoint(str(tmp_path / "run" / "w_{epoch}"), save_weights_only=True)
    model.compile("sgd", "mse")
    model.fit(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"), epochs=2, verbose=0, callbacks=[cb])
    assert tf.train.latest_checkpoint(str(tmp_path / "run")) == str(tmp_path / "run" / "w_2")


def test_dataset_ignore_errors_skips_elements_a_map_fails_on():
    def f(x):
        if int(x) % 3 == 1:
            raise ValueError("bad element")
        return x * 10
    ds = tf.data.Dataset.range(7).map(f)
    got = [int(v) for v in ds.apply(tf.data.experimental.ignore_errors()).prefetch(2)]
    assert got == [0, 20, 30, 50, 60]     # 1 and 4 are skipped, as tf.data does
    assert [int(v) for v in ds.prefetch(1).ignore_errors()] == [0, 20, 30, 50, 60]
    with pytest.raises(ValueError, match="bad element"):
        list(ds)


def test_layer_whose_inputs_unknown_axes_are_tied_is_probed_through_the_graph():
    # DecodePredictions: anchors made from the image's size must match the predictions' count;
    # a probe of each unknown axis at 1 or 2 cannot satisfy both, a run from the Inputs can
    class TwoPerPixel(keras.layers.Layer):
        def call(self, image):
            n = tf.shape(image)[0]
            return tf.reshape(image[..., :2], [n, -1, 1]) * 2.0       # (N, 2*H*W, 1)

    class Join(keras.layers.Layer):
        def call(self, image, per_pixel):
            n, hw = tf.shape(image)[0], tf.shape(image)[1] * tf.shape(image)[2]
            anchors = tf.reshape(tf.range(tf.cast(2 * hw, tf.float32)), [1, -1, 1])
            return tf.concat([per_pixel, tf.tile(anchors, [n, 1, 1])], axis=-1)

    image = keras.Input((None, None, 3))
    per_pixel = TwoPerPixel()(image)
    assert per_pixel.shape == (None, None, 1)
    out = Join()(image, per_pixel)       # ValueError: concat of 2 and 1 rows before
    assert out.shape == (None, None, 2)
    model = keras.Model(image, out)
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 3)).astype("float32")
    ref = np.concatenate([x[..., :2].reshape(2, -1, 1) * 2.0,
                          np.tile(np.arange(30, dtype=np.float32).reshape(1, -1, 1), (2, 1, 1))], -1)
    np.testing.assert_allclose(model.predict(x, verbose=0), ref, rtol=1e-6)


def test_combined_non_max_suppression_result_is_a_namedtuple_through_layers_and_models():
    boxes = np.array([[[0, 0, 1, 1]], [[0, 0, 1.01, 1]], [[2, 2, 3, 3]]], "float32")[None]   # (1, 3, 1, 4)
    scores = np.array([[[0.9, 0.1], [0.8, 0.2], [0.1, 0.7]]], "float32")
    r = tf.image.combined_non_max_suppression(boxes, scores, 5, 5, 0.5, 0.3, clip_boxes=False)
    assert type(r).__name__ == "CombinedNonMaxSuppression"
    assert r._fields == ("nmsed_boxes", "nmsed_scores", "nmsed_classes", "valid_detections")
    assert int(r.valid_detections[0]) == 2      # the overlapping class-0 box is suppressed
    np.testing.assert_allclose(np.asarray(r.nmsed_scores)[0, :2], [0.9, 0.7])
    np.testing.assert_allclose(np.asarray(r.nmsed_classes)[0, :2], [0, 1])

    class Decode(keras.layers.Layer):
        def call(self, b, s):
            return tf.image.combined_non_max_suppression(b, s, 5, 5, 0.5, 0.3, clip_boxes=False)

    eager = Decode()(boxes, scores)            # Keras: the namedtuple from an eager call too
    assert int(eager.valid_detections[0]) == 2
    bi, si = keras.Input((3, 1, 4)), keras.Input((3, 2))
    sym = Decode()(bi, si)
    assert type(sym).__name__ == "CombinedNonMaxSuppression" and sym.nmsed_boxes.shape == (None, 5, 4)
    model = keras.Model([bi, si], sym)
    out = model.predict([boxes, scores], verbose=0)
    assert type(out).__name__ == "CombinedNonMaxSuppression"
    # predict keeps an integer output's dtype (Keras): usable as a slice bound
    assert out.valid_detections.dtype == np.int32 and out.nmsed_boxes.dtype == np.float32
    assert out.nmsed_boxes[0][:out.valid_detections[0]].shape == (2, 4)


# ---- BASNet (example_basnet_segmentation.py) --------------------------------------------------

def test_model_input_and_output_keep_the_structure_they_were_given():
    # Keras 3.15: Model([x], [y]).input / .output are lists; Model(x, y)'s are the tensors
    x = keras.Input((3,))
    y = keras.layers.Dense(2)(x)
    assert isinstance(keras.Model([x], [y]).input, list) and isinstance(keras.Model([x], [y]).output, list)
    assert keras.Model([x], [y]).input[0] is x
    m = keras.Model(x, y)
    assert m.input is x and m.output is y
    assert isinstance(keras.Model([x], y).input, list) and not isinstance(keras.Model([x], y).output, list)


class _ThreeHeads(keras.Model):
    """A functional model made in a subclass whose compute_loss names its arguments its own way
    and returns one loss per sample (BASNet's)."""

    def __init__(self):
        x = keras.Input((3,))
        outs = [keras.layers.Dense(2, kernel_initializer="ones", name=f"head{i}")(x) for i in range(3)]
        super().__init__(inputs=x, outputs=outs)

    def compute_loss(self, x, y_true, y_pred, sample_weight=None, training=False):
        total = 0.0
        for p in y_pred:
            total += keras.ops.mean(keras.ops.square(y_true - p), axis=-1)   # (batch,)
        return total


def test_subclass_of_a_functional_model_with_its_own_compute_loss():
    model = _ThreeHeads()
    assert "three_heads" in model.name     # Keras: named after the class, not "functional"
    model.compile(keras.optimizers.SGD(0.1), metrics=[keras.metrics.MeanAbsoluteError(name="mae")
                                                      for _ in model.outputs])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3)).astype("float32")
    y = rng.normal(size=(4, 2)).astype("float32")
    w0 = [w.copy() for w in model.get_weights()]
    preds = [x @ w0[2 * i] + w0[2 * i + 1] for i in range(3)]
    per_sample = sum(((y - p) ** 2).mean(-1) for p in preds)
    # one y for three outputs goes to compute_loss as it is (Keras 3); the logged loss is the mean
    # of the per-sample losses and the step follows the gradient of their sum (TensorFlow's tape)
    hist = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert sorted(hist.history) == ["head0_mae", "loss"]          # Keras 3.15's keys here
    np.testing.assert_allclose(hist.history["loss"][0], per_sample.mean(), rtol=1e-5)
    np.testing.assert_allclose(hist.history["head0_mae"][0], np.abs(y - preds[0]).mean(), rtol=1e-5)
    for i in range(3):
        dk = x.T @ (-(y - preds[i]))           # d/dW of sum over rows of mean over 2 columns
        np.testing.assert_allclose(model.get_weights()[2 * i], w0[2 * i] - 0.1 * dk, rtol=1e-4, atol=1e-6)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "head0_mae"}


def test_tf_image_ssim_broadcasts_batch_axes_and_takes_a_list():
    rng = np.random.default_rng(0)
    truth = rng.uniform(size=(2, 16, 16, 1)).astype("float32")
    preds = [rng.uniform(size=(2, 16, 16, 1)).astype("float32") for _ in range(3)]
    out = np.asarray(tf.image.ssim(truth, preds, max_val=1))          # (3, 2), as TensorFlow's
    assert out.shape == (3, 2)
    for k in range(3):
        np.testing.assert_allclose(out[k], np.asarray(tf.image.ssim(truth, preds[k], max_val=1)), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(tf.image.ssim(preds[0], preds[0], max_val=1)), [1.0, 1.0], rtol=1e-6)
    with pytest.raises(ValueError, match="last three axes"):
        tf.image.ssim(truth, np.zeros((2, 8, 8, 1), "float32"), max_val=1)
