"""Sweep 27: what the programs added to tests/programs in sweep 27 found missing, each checked on
its own against NumPy references, finite differences, or TensorFlow's documented behaviour."""
import numpy as np
import pytest

import corenn as tf
from corenn.kernels import Tensor


# ---- TF actor-critic tutorial (tutorial_actor_critic_cartpole.py): tf.numpy_function's outputs ----

def test_numpy_function_gives_tensors_of_its_declared_dtypes():
    # the tutorial's env step: state.set_shape(...) on the first result, tf.cast(done, tf.bool)
    def env_step(action):
        assert isinstance(action, np.ndarray) and action.dtype == np.int64
        return (np.full(4, float(action), np.float32), np.array(1, np.int32), np.array(action == 1, np.int32))

    state, reward, done = tf.numpy_function(env_step, [tf.constant(1, dtype=tf.int64)],
                                            [tf.float32, tf.int32, tf.int32])
    assert all(isinstance(t, Tensor) for t in (state, reward, done))
    state.set_shape([4])
    np.testing.assert_array_equal(np.asarray(state), np.ones(4, np.float32))
    assert state.dtype == "float32" and reward.dtype == "int32" and int(reward) == 1
    assert bool(tf.cast(done, tf.bool))
    # one dtype (not a list): one Tensor; an empty list: nothing
    one = tf.numpy_function(np.sinh, [np.array([0.5], np.float32)], tf.float32)
    assert isinstance(one, Tensor)
    np.testing.assert_allclose(np.asarray(one), np.sinh(np.float32([0.5])), rtol=1e-6)
    assert tf.numpy_function(lambda: None, [], []) is None


def test_numpy_function_refuses_a_result_of_another_dtype_as_tensorflow_does():
    # TensorFlow: "0-th value returned by pyfunc_0 is double, but expects float"
    with pytest.raises(TypeError, match=r"numpy_function: value 0 .* float64, but Tout declares float32"):
        tf.numpy_function(lambda x: x * 2.0, [np.array([1.0])], tf.float32)
    with pytest.raises(ValueError, match="returned 1 value"):
        tf.numpy_function(lambda x: x, [np.array([1.0], np.float32)], [tf.float32, tf.int32])


def test_numpy_function_inputs_are_converted_as_tensorflow_converts_them():
    # Python numbers become TensorFlow's default dtypes first; NumPy arrays keep theirs
    dts = tf.numpy_function(lambda a, b, c, d: np.array([str(x.dtype) for x in (a, b, c, d)]),
                            [1, 2.0, True, np.zeros(2)], tf.string)
    assert list(dts) == ["int32", "float32", "bool", "float64"]


def test_py_function_converts_results_to_tout_and_keeps_tensors_differentiable():
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = tf.py_function(lambda v: v * v, [x], tf.float32)
        loss = tf.reduce_sum(y)
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, x)), [2.0, 4.0])
    # Python and NumPy results are converted (float64 values to a float32 Tensor), lists give lists
    a, b = tf.py_function(lambda: (np.arange(3.0), 7), [], [tf.float32, tf.int32])
    assert isinstance(a, Tensor) and a.dtype == "float32" and b.dtype == "int32" and int(b) == 7
    with pytest.raises(TypeError, match="py_function: value 0 .* int32 Tensor, but Tout declares float32"):
        tf.py_function(lambda: tf.constant([1, 2]), [], tf.float32)


# ---- IIC clustering (example_iic_clustering.py): tf.reduce_mean of a list, legacy .h5 weights ----

def test_reduce_mean_of_a_list_of_tensors_is_differentiable():
    # IIC's train_step: tf.reduce_mean([self.loss_fn(x, y) for (x, y) in zip(m1, m2)]); the list
    # lost the tape (every gradient None: "no gradients provided for any variable")
    v = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        m = tf.reduce_mean([v * v, v * 3.0, tf.constant(1.0)])
    assert float(m) == pytest.approx((4.0 + 6.0 + 1.0) / 3)
    assert float(tape.gradient(m, v)) == pytest.approx((2 * 2.0 + 3.0) / 3)   # d/dv (v^2 + 3v + 1)/3
    # a list of plain numbers still reduces as TensorFlow converts it (int32 stays integer)
    assert int(tf.reduce_mean([1, 2, 4])) == 2 and tf.reduce_mean([1, 2, 4]).dtype == "int32"


def _autoencoder():
    from corenn import keras
    from corenn.keras import layers
    inp = keras.Input((6,))
    enc = keras.Model(inp, layers.Dense(2, name="code")(inp), name="encoder")
    dec_in = keras.Input((2,))
    dec = keras.Model(dec_in, layers.Dense(6, name="out")(layers.BatchNormalization(name="bn")(dec_in)),
                      name="decoder")
    x = keras.Input((6,))
    return keras.Model(x, dec(enc(x)), name="ae")


def test_save_weights_to_a_legacy_h5_name_writes_tf_keras_2_weights(tmp_path):
    # tf.keras 2 wrote TF-Keras 2's HDF5 weights for save_weights('w.h5') (Keras 3 refuses the
    # name); the layout is the model file's `model_weights` group (checked against Keras' files in
    # tests/interop/test_keras_h5_writer.py) at the file's root
    h5py = pytest.importorskip("h5py")
    from corenn import keras
    from corenn.keras import layers
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, name="d1"), layers.BatchNormalization(name="bn"),
                              layers.Dense(2, name="d2")])
    model.save_weights(tmp_path / "w.h5")
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "w.h5", "r") as w, h5py.File(tmp_path / "m.h5", "r") as m:
        ref = m["model_weights"]
        assert list(w.attrs["layer_names"]) == list(ref.attrs["layer_names"])
        for name in ref.attrs["layer_names"]:
            name = name.decode() if isinstance(name, bytes) else name
            assert list(w[name].attrs["weight_names"]) == list(ref[name].attrs["weight_names"])
            for wname in ref[name].attrs["weight_names"]:
                wname = wname.decode() if isinstance(wname, bytes) else wname
                np.testing.assert_array_equal(w[name][wname][()], ref[name][wname][()])
        assert [n.decode() if isinstance(n, bytes) else n for n in w["bn"].attrs["weight_names"]] == \
            ["bn/gamma:0", "bn/beta:0", "bn/moving_mean:0", "bn/moving_variance:0"]
    other = keras.Sequential([keras.Input((4,)), layers.Dense(3), layers.BatchNormalization(), layers.Dense(2)])
    other.load_weights(tmp_path / "w.h5")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_legacy_h5_weights_of_nested_models_and_a_checkpoint_read_back(tmp_path):
    pytest.importorskip("h5py")
    from corenn import callbacks
    model = _autoencoder()
    model.save_weights(tmp_path / "ae.hdf5")
    other = _autoencoder()
    other.load_weights(tmp_path / "ae.hdf5")
    x = np.random.default_rng(0).normal(size=(5, 6)).astype("float32")
    np.testing.assert_allclose(other.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    # ModelCheckpoint(save_weights_only=True) with a .h5 name, as tf.keras 2 programs write it
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, x, epochs=2, verbose=0,
              callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "ck-{epoch}.h5"), save_weights_only=True)])
    other.load_weights(tmp_path / "ck-2.h5")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_legacy_h5_weights_refuse_a_model_weight_outside_its_layers(tmp_path):
    pytest.importorskip("h5py")
    from corenn import keras
    from corenn.keras import layers

    class Scaled(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)
            self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

        def call(self, x):
            return self.dense(x) * self.scale

    model = Scaled()
    model(np.ones((1, 3), "float32"))
    with pytest.raises(NotImplementedError, match=r"belong to no layer.*'\.weights\.h5'"):
        model.save_weights(tmp_path / "s.h5")
    model.save_weights(tmp_path / "s.weights.h5")   # Keras 3's layout holds them


def test_legacy_h5_weights_of_a_nested_model_keep_each_statistic_in_its_place(tmp_path):
    # a nested model's weights are listed trainable first in a legacy file (TF-Keras 2's
    # writer); load_weights once put them back by position, so two BatchNormalizations of one
    # size swapped gamma/beta with moving mean/variance without a shape error
    pytest.importorskip("h5py")
    from corenn import keras
    from corenn.keras import layers

    def build():
        inner = keras.Sequential([keras.Input((3,)), layers.BatchNormalization(name="bn1"),
                                  layers.BatchNormalization(name="bn2")], name="inner")
        x = keras.Input((3,))
        return keras.Model(x, layers.Dense(2, name="head")(inner(x)))

    model = build()
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(size=w.shape).astype("float32") + 5 * i for i, w in enumerate(model.get_weights())])
    model.save_weights(tmp_path / "bn.h5")
    other = build()
    other.load_weights(tmp_path / "bn.h5")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---- feature preprocessor example (keras.io structured_data/feature_preprocessing_layer) ----

def _small_compiled():
    from corenn import keras
    from corenn.keras import layers
    x = keras.Input((3,))
    model = keras.Model(x, layers.Dense(2, name="d")(x))
    model.compile(optimizer="adam", loss="mse")
    return model


def test_save_model_and_load_model_take_keras_parameter_names_and_order(tmp_path):
    # Keras / TF-Keras 2: save_model(model, filepath, overwrite=True, ...) and
    # load_model(filepath, custom_objects=None, compile=True, ...): the page calls
    # save_model(model=..., filepath=...), and load_model(path, {"Name": cls}) passes custom objects
    from corenn import keras
    from corenn.keras import layers

    class Doubler(layers.Layer):
        def call(self, x):
            return 2.0 * x

    x = keras.Input((3,))
    model = keras.Model(x, Doubler(name="doubler")(layers.Dense(2, name="d")(x)))
    keras.models.save_model(model=model, filepath=str(tmp_path / "m.keras"))
    back = keras.models.load_model(str(tmp_path / "m.keras"), {"Doubler": Doubler})
    assert type(back.get_layer("doubler")) is Doubler
    data = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    np.testing.assert_allclose(back.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-6)
    assert tf.keras.saving.load_model(filepath=str(tmp_path / "m.keras"), custom_objects={"Doubler": Doubler},
                                      compile=False) is not None


@pytest.mark.parametrize("how", ["model.save", "save_model", "save_format_tf"])
def test_a_name_without_an_extension_is_a_model_directory(tmp_path, how):
    # TF-Keras 2 wrote a SavedModel directory for model.save("model"); corenn writes its own model
    # directory there (Keras 3's zipped=False layout), which load_model reads back
    from corenn import keras
    model = _small_compiled()
    data = np.random.default_rng(1).normal(size=(5, 3)).astype("float32")
    model.fit(data, data[:, :2], epochs=1, verbose=0)
    target = tmp_path / ("dir.tf" if how == "save_format_tf" else "model")
    if how == "model.save":
        model.save(str(target))
    elif how == "save_model":
        keras.models.save_model(model, str(target))
    else:
        model.save(str(target), save_format="tf")
    assert target.is_dir() and (target / "config.json").is_file()
    back = keras.models.load_model(str(target))
    np.testing.assert_allclose(back.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-6)
    assert back.optimizer is not None and back.compiled
    # a file name with another extension is still refused, naming the formats
    with pytest.raises(ValueError, match=r"must end in \.keras"):
        model.save(str(tmp_path / "m.zip"))


# ---- AOD-Net (example_aodnet_dehazing.py): decoders across formats, integer rescaling, free shapes ----

def _encoded(fmt, a):
    import io
    Image = pytest.importorskip("PIL.Image")
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


def test_decode_png_and_decode_jpeg_take_each_others_files_as_tensorflow_documents():
    # TF: decode_png "also supports decoding JPEGs and non-animated GIFs since the interface is the
    # same" and decode_jpeg PNGs and GIFs; AOD-Net reads its .jpg files with decode_png
    a = np.random.default_rng(0).integers(0, 256, (8, 10, 3)).astype(np.uint8)
    jpeg, png, gif = _encoded("JPEG", a), _encoded("PNG", a), _encoded("GIF", a)
    np.testing.assert_array_equal(tf.io.decode_png(jpeg, channels=3), tf.io.decode_jpeg(jpeg, channels=3))
    assert tf.image.decode_png(jpeg, channels=1).shape == (8, 10, 1)
    np.testing.assert_array_equal(tf.io.decode_jpeg(png), a)
    np.testing.assert_array_equal(tf.io.decode_png(gif), tf.io.decode_gif(gif)[0])
    np.testing.assert_array_equal(tf.io.decode_jpeg(gif), tf.io.decode_gif(gif)[0])
    with pytest.raises(ValueError, match="JPEG does not support 4 channels"):
        tf.io.decode_png(jpeg, channels=4)
    # uint16: libpng repeats an 8-bit PNG's byte (x 257); a JPEG is rescaled (x 256), as TF 2.21
    np.testing.assert_array_equal(np.asarray(tf.io.decode_png(png, dtype=tf.uint16)), a.astype(np.uint16) * 257)
    np.testing.assert_array_equal(np.asarray(tf.io.decode_png(jpeg, dtype=tf.uint16)),
                                  np.asarray(tf.io.decode_jpeg(jpeg)).astype(np.int64) * 256)


@pytest.mark.parametrize("values, src, dst, want", [
    # TensorFlow 2.21's values: integer rescaling by the power-of-two ratio of the ranges
    ([0, 255, 256, 300, 420, 511, 65535], "uint16", "uint8", [0, 0, 1, 1, 1, 1, 255]),
    ([0, 1, 128, 255], "uint8", "uint16", [0, 256, 32768, 65280]),
    ([0, 2**23, 2**31 - 1, -5], "int32", "uint8", [0, 1, 255, 255]),
    ([0, 1, 255], "uint8", "int32", [0, 8388608, 2139095040]),
    ([0, 128, 32767, -300], "int16", "uint8", [0, 1, 255, 253]),
    ([0, 1, 255, 128], "uint8", "int8", [0, 0, 127, 64]),
])
def test_convert_image_dtype_between_integer_types_as_tensorflow(values, src, dst, want):
    out = tf.image.convert_image_dtype(np.array(values, src), getattr(tf, dst))
    np.testing.assert_array_equal(np.asarray(out).astype(np.int64), want)


def test_a_subclassed_conv_model_evaluates_on_another_image_size_than_it_trained_on():
    # AOD-Net trains on 32x32 crops and is evaluated on 64x64 images: the output shape probed on
    # the first batch (32x32) refused the 64x64 targets
    from corenn import keras
    from corenn.keras import layers

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = layers.Conv2D(3, 3, padding="same")

        def call(self, x):
            return self.conv(x)

    model = Net()
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    small = rng.normal(size=(4, 8, 8, 3)).astype("float32")
    model.fit(small, small, epochs=1, verbose=0)
    big = rng.normal(size=(2, 16, 16, 3)).astype("float32")
    loss = model.evaluate(big, big, verbose=0)
    np.testing.assert_allclose(loss, np.mean((model.predict(big, verbose=0) - big) ** 2), rtol=1e-5)
    model.fit(big, big, epochs=1, verbose=0)   # and trains on them
    # the sizes that changed between the probes are unknown now; targets that do not fit the
    # predictions are still refused, by the loss, naming both shapes
    with pytest.raises(ValueError, match=r"targets of shape \(2, 8, 16, 3\) do not broadcast against "
                                         r"predictions of shape \(2, 16, 16, 3\)"):
        model.evaluate(big, big[:, :8], verbose=0)


def test_model_checkpoint_to_a_name_without_an_extension_writes_a_model_directory(tmp_path):
    # TF-Keras 2 tutorials: ModelCheckpoint("best_model", save_best_only=True), then
    # load_model("best_model") (a SavedModel there; corenn's model directory here)
    from corenn import callbacks, keras
    model = _small_compiled()
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")
    target = tmp_path / "best_model"
    model.fit(x, y, epochs=3, verbose=0, validation_data=(x, y),
              callbacks=[callbacks.ModelCheckpoint(str(target), monitor="val_loss", save_best_only=True)])
    assert target.is_dir()
    back = keras.models.load_model(str(target))
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    # a template whose only dot comes before format fields has no extension either (TF-Keras 2
    # wrote SavedModels m.01-0.83, m.02-0.79, ...): a model directory per save
    model.fit(x, y, epochs=2, verbose=0, validation_data=(x, y),
              callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "m.{epoch:02d}-{val_loss:.2f}"))])
    saved = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("m."))
    assert len(saved) == 2 and all((tmp_path / n).is_dir() for n in saved) and saved[0].startswith("m.01-")
    back = keras.models.load_model(str(tmp_path / saved[1]))
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match=r"ModelCheckpoint.*\.keras"):   # a real other extension
        callbacks.ModelCheckpoint(str(tmp_path / "m.{epoch:02d}.pt"))


# ---- distributed input (tutorial_distribute_input.py): iterators, Optional, ValueContext ----

def test_dataset_iterators_have_get_next_optional_and_element_spec():
    ds = tf.data.Dataset.range(5).batch(2)
    it = iter(ds)
    assert iter(it) is it and repr(it.element_spec) == repr(ds.element_spec)
    np.testing.assert_array_equal(np.asarray(it.get_next()), [0, 1])
    np.testing.assert_array_equal(np.asarray(next(it)), [2, 3])
    opt = it.get_next_as_optional()
    assert isinstance(opt, tf.experimental.Optional) and bool(opt.has_value())
    np.testing.assert_array_equal(np.asarray(opt.get_value()), [4])
    empty = it.get_next_as_optional()   # the end: an empty Optional, no exception
    assert not empty.has_value() and empty.has_value().dtype == "bool"
    with pytest.raises(ValueError, match="has no value"):
        empty.get_value()
    with pytest.raises(tf.errors.OutOfRangeError, match="End of sequence"):
        it.get_next()
    with pytest.raises(StopIteration):
        next(it)
    assert [int(np.asarray(x)[0]) for x in ds] == [0, 2, 4]   # for-loops unchanged
    made = tf.experimental.Optional.from_value(tf.constant([1.0, 2.0]))
    assert made.has_value() and made.element_spec.shape == (2,)


def test_distribute_values_from_function_gives_each_replica_its_context():
    strategy = tf.distribute.MirroredStrategy()
    seen = []

    def value_fn(ctx):
        seen.append((ctx.replica_id_in_sync_group, ctx.num_replicas_in_sync))
        return tf.constant(ctx.replica_id_in_sync_group)

    values = strategy.experimental_distribute_values_from_function(value_fn)
    assert seen == [(0, 1)] and int(strategy.run(lambda x: x, args=(values,))) == 0
    assert tf.distribute.experimental.ValueContext is tf.distribute.ValueContext


def test_a_model_directory_may_be_an_existing_empty_directory(tmp_path):
    # TF guide "Migrate checkpoint saving": ModelCheckpoint(filepath=tempfile.mkdtemp()), an
    # empty directory made beforehand; one holding other files is still not replaced
    from corenn import callbacks, keras
    model = _small_compiled()
    x = np.random.default_rng(3).normal(size=(8, 3)).astype("float32")
    empty = tmp_path / "made_by_mkdtemp"
    empty.mkdir()
    model.fit(x, x[:, :2], epochs=1, verbose=0, callbacks=[callbacks.ModelCheckpoint(filepath=str(empty))])
    np.testing.assert_allclose(keras.models.load_model(str(empty)).predict(x, verbose=0),
                               model.predict(x, verbose=0), rtol=1e-6)
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a model directory"):
        model.save(str(other))
    assert (other / "keep.txt").read_text() == "keep me"


def test_load_checkpoint_reads_a_checkpoint_by_name(tmp_path):
    # TF guide "Migrate the fault tolerance mechanism": tf.train.load_checkpoint(save_path) each
    # epoch; list_variables / load_variable beside it (a directory means its latest checkpoint)
    v = tf.Variable([1.0, 2.0, 3.0])
    step = tf.Variable(7, dtype=tf.int64)
    ckpt = tf.train.Checkpoint(v=v, step=step)
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=2)
    first = manager.save()
    v.assign([4.0, 5.0, 6.0])
    second = manager.save()
    reader = tf.train.load_checkpoint(first)
    np.testing.assert_array_equal(reader.get_tensor("v"), [1.0, 2.0, 3.0])
    assert reader.get_variable_to_shape_map()["v"] == [3] and reader.has_tensor("step")
    assert reader.get_variable_to_dtype_map()["step"] == tf.int64
    np.testing.assert_array_equal(tf.train.load_variable(str(tmp_path), "v"), [4.0, 5.0, 6.0])   # the latest
    assert [n for n, _ in tf.train.list_variables(second)] == ["save_counter", "step", "v"]
    with pytest.raises(KeyError, match="'w' is not in"):
        reader.get_tensor("w")
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        tf.train.load_checkpoint(str(tmp_path / "nothing"))
