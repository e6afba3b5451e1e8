"""model.save('m.h5') writes TF-Keras 2's HDF5 model file.

Round trips: corenn models of each family (Sequential, functional with residual / multi-input /
shared layers; Dense, Conv2D, BatchNormalization, pooling, Dropout, Flatten, Embedding, LSTM,
GRU, Bidirectional, merge layers) written and loaded back predict exactly as before. Structure:
every Keras-made legacy fixture (tests/interop/keras_fixtures/*.h5), loaded and written by
corenn, gives the file Keras wrote: the same attributes, layer groups in the same order (Keras'
functional layer order), the same variables per layer under TF-Keras 2's names, the same
values. Refusals happen before anything is written.
"""
import glob
import json
import os
import sys

import numpy as np
import pytest

import corenn
from corenn import layers

h5py = pytest.importorskip("h5py")

FIXTURES = os.path.join(os.path.dirname(__file__), "keras_fixtures")
# the files Keras 3 wrote, but for nested models (Keras 3 numbers their calls otherwise); tf_*.h5
# are tf_keras's, which names variables otherwise (read by test_keras_files_*.py)
LEGACY_FIXTURES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(FIXTURES, "*.h5"))
                         if not p.endswith(".weights.h5") and not os.path.basename(p).startswith(("tf_", "nested")))
RNG = np.random.default_rng(7)


def randomized(model):
    """Every weight from a seeded generator (variances positive), so a swap would show."""
    model.set_weights([RNG.uniform(0.5, 1.5, w.shape).astype("float32") if "variance" in w.name
                       else RNG.normal(0, 0.5, w.shape).astype("float32") for w in model.weights])
    return model


def mlp():
    return corenn.Sequential([layers.Input((6,)), layers.Dense(8, activation="relu"), layers.Dropout(0.3),
                              layers.Dense(3, activation="softmax")], name="mlp"), [(4, 6)]


def cnn():
    return corenn.Sequential([
        layers.Input((8, 8, 2)), layers.Conv2D(3, 3, padding="same", activation="relu"),
        layers.BatchNormalization(), layers.MaxPooling2D(2), layers.Conv2D(4, (2, 3), use_bias=False),
        layers.AveragePooling2D((1, 2)), layers.Flatten(), layers.Dense(2),
        layers.LeakyReLU(negative_slope=0.2)], name="cnn"), [(2, 8, 8, 2)]


def recurrent():
    return corenn.Sequential([
        layers.Input((5,), dtype="int32"), layers.Embedding(12, 4, mask_zero=True),
        layers.LSTM(3, return_sequences=True), layers.GRU(3, return_sequences=True, reset_after=False),
        layers.Bidirectional(layers.GRU(2)), layers.Dense(2)], name="recurrent"), "tokens"


def residual():
    a, b = layers.Input((6,), name="a"), layers.Input((4,), name="b")
    h = layers.Dense(6, activation="tanh", name="hidden")(a)
    h = layers.BatchNormalization(name="bn")(layers.Add(name="skip")([h, a]))
    c = layers.Concatenate(name="join")([h, b])
    gated = layers.Multiply(name="gate")([layers.Dense(10, activation="sigmoid")(c), c])
    return corenn.Model([a, b], layers.Dense(2, name="out")(gated), name="residual"), [(3, 6), (3, 4)]


def siamese():
    a, b = layers.Input((5,), name="left"), layers.Input((5,), name="right")
    tower = layers.Dense(4, activation="relu", name="tower")
    ta, tb = tower(a), tower(b)
    mixed = layers.Average(name="mean")([layers.Subtract(name="diff")([ta, tb]), layers.Maximum()([ta, tb])])
    return corenn.Model([a, b], layers.Dense(2, name="out")(mixed), name="siamese"), [(3, 5), (3, 5)]


def inputs_for(model, shapes):
    if shapes == "tokens":
        tokens = RNG.integers(1, 12, size=(3, 5))
        tokens[0, 3:] = 0   # padding, masked
        return [tokens.astype("int32")]
    return [RNG.normal(size=s).astype("float32") for s in shapes]


def predict(model, xs):
    return np.asarray(model.predict(xs if len(xs) > 1 else xs[0], verbose=0))


@pytest.mark.parametrize("make", [mlp, cnn, recurrent, residual, siamese])
def test_round_trip_predicts_the_same(tmp_path, make):
    model, shapes = make()
    randomized(model)
    xs = inputs_for(model, shapes)
    path = tmp_path / "m.h5"
    model.save(path)
    back = corenn.models.load_model(path)
    assert [l.name for l in back.layers if l.weights] == [l.name for l in model.layers if l.weights]
    for a, b in zip(back.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(predict(back, xs), predict(model, xs))
    with h5py.File(path, "r") as f:   # TF-Keras 2's config form: batch_input_shape, nested-list nodes
        config = json.loads(f.attrs["model_config"])
    first = config["config"]["layers"][0]
    assert first["class_name"] == "InputLayer" and first["config"]["batch_input_shape"][0] is None
    if config["class_name"] == "Functional":
        node = next(l for l in config["config"]["layers"] if l["inbound_nodes"])["inbound_nodes"][0]
        assert isinstance(node, list) and isinstance(node[0], list) and node[0][1:] == [0, 0, {}]


def _tree(path):
    """{path: ('group' | value, {attribute: value})} of an HDF5 file."""
    found = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            attrs = {k: v for k, v in obj.attrs.items()}
            found[name] = (np.array(obj) if isinstance(obj, h5py.Dataset) else "group", attrs)
        visit("/", f)
        f.visititems(visit)
    return found


def _names(value):
    return [v.decode() if isinstance(v, bytes) else v for v in np.asarray(value).tolist()]


@pytest.mark.parametrize("name", LEGACY_FIXTURES)
def test_written_file_has_the_layout_keras_wrote(tmp_path, name):
    keras_file = os.path.join(FIXTURES, name + ".h5")
    model = corenn.models.load_model(keras_file)
    with h5py.File(keras_file, "r") as f:
        keras_training = json.loads(f.attrs["training_config"]) if "training_config" in f.attrs else None
    if keras_training is not None:   # compiled as the fixture was: the training_config is written
        model.compile(optimizer=keras_training["optimizer_config"]["class_name"].lower(),
                      loss=keras_training["loss"], metrics=keras_training["metrics"])
    out = tmp_path / "m.h5"
    model.save(out)
    want, got = _tree(keras_file), _tree(out)
    assert set(got["/"][1]) == set(want["/"][1])
    mw_want, mw_got = want["model_weights"][1], got["model_weights"][1]
    assert set(mw_got) == set(mw_want)
    assert _names(mw_got["layer_names"]) == _names(mw_want["layer_names"])   # Keras' layer order
    for layer in _names(mw_want["layer_names"]) + ["top_level_model_weights"]:
        keras_names = _names(want[f"model_weights/{layer}"][1]["weight_names"])
        ours = _names(got[f"model_weights/{layer}"][1]["weight_names"])
        assert len(ours) == len(keras_names), layer
        for mine, theirs in zip(ours, keras_names):
            # TF-Keras 2 names a variable <layer>/<cell or wrapped layer>/<name>:0; Keras 3
            # scopes the same path by the Sequential model's name and drops the ":0"
            assert mine.endswith(":0") and ("/" + theirs).endswith("/" + mine[:-2]), (mine, theirs)
            np.testing.assert_array_equal(got[f"model_weights/{layer}/{mine}"][0],
                                          want[f"model_weights/{layer}/{theirs}"][0])
    with h5py.File(out, "r") as f:
        config = json.loads(f.attrs["model_config"])
        training = json.loads(f.attrs["training_config"]) if keras_training is not None else None
    with h5py.File(keras_file, "r") as f:
        keras_config = json.loads(f.attrs["model_config"])
    assert config["class_name"] == keras_config["class_name"]
    classes = lambda c: [l["class_name"] for l in c["config"]["layers"]]   # noqa: E731
    assert classes(config) == classes(keras_config)
    if config["class_name"] == "Functional":
        assert [l["name"] for l in config["config"]["layers"]] == \
            [l["name"] for l in keras_config["config"]["layers"]]
    if training is not None:
        assert set(training) <= set(keras_training)
        assert training["loss"] == keras_training["loss"] and training["metrics"] == keras_training["metrics"]
        # TF-Keras 2 needs is_legacy_optimizer=False to build the optimizer class these options belong to
        assert set(training["optimizer_config"]["config"]) - {"is_legacy_optimizer"} <= \
            set(keras_training["optimizer_config"]["config"])
    xs = [RNG.normal(size=(2,) + tuple(t.shape[1:])).astype("float32") for t in model.inputs]
    np.testing.assert_array_equal(predict(corenn.models.load_model(out), xs), predict(model, xs))


def test_save_format_and_save_model(tmp_path):
    model = randomized(mlp()[0])
    corenn.models.save_model(model, tmp_path / "a.h5")
    model.save(tmp_path / "b.h5", save_format="h5")
    for name in ("a.h5", "b.h5"):
        for x, y in zip(corenn.models.load_model(tmp_path / name).get_weights(), model.get_weights()):
            np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="save_format='h5' does not match"):
        model.save(tmp_path / "c.keras", save_format="h5")
    with pytest.raises(ValueError, match="save_format='tf' is not supported"):
        model.save(tmp_path / "c.h5", save_format="tf")
    with pytest.raises(ValueError, match=r"\.weights\.h5 name is for weights alone"):
        model.save(tmp_path / "c.weights.h5")
    assert sorted(os.listdir(tmp_path)) == ["a.h5", "b.h5"]


def test_lambda_is_refused_by_name_and_nothing_is_written(tmp_path):
    model = corenn.Sequential([layers.Input((3,)), layers.Lambda(lambda x: x * 2.0, name="doubler"),
                               layers.Dense(2)])
    with pytest.raises(ValueError, match=r"'doubler' \(Lambda\).*Python code"):
        model.save(tmp_path / "m.h5")
    assert os.listdir(tmp_path) == []


def test_custom_and_unsupported_classes_are_refused_by_name(tmp_path):
    class Scale(layers.Layer):
        def call(self, x):
            return x * 2.0

    class MyDense(layers.Dense):
        pass

    x = layers.Input((3,))
    for layer, message in ((Scale(name="scale"), r"layer 'scale' \(Scale\).*written to Keras 3 archives"),
                           (MyDense(2, name="mine"), r"layer 'mine'.*MyDense.*not one of corenn's Keras layers")):
        model = corenn.Model(x, layer(x))
        with pytest.raises(ValueError, match=message):
            model.save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match=r"'multiply(_\d+)?'.*OpLayer is not one of corenn's Keras layers"):   # x * 2.0, recorded
        corenn.Model(x, layers.Dense(2)(x * 2.0)).save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match="no input shape yet"):
        corenn.Sequential([layers.Dense(2)]).save(tmp_path / "m.h5")
    assert os.listdir(tmp_path) == []


def test_options_tf_keras_2_lacks_are_refused(tmp_path):
    norm = corenn.Sequential([layers.Input((3,)), layers.LayerNormalization(rms_scaling=True, name="rms")])
    with pytest.raises(ValueError, match=r"'rms' \(LayerNormalization\).*rms_scaling=True has no TF-Keras 2"):
        norm.save(tmp_path / "m.h5")
    model = corenn.Sequential([layers.Input((3,)), layers.Dense(2)])
    model.compile(optimizer=corenn.optimizers.Adam(gradient_accumulation_steps=2), loss="mse")
    with pytest.raises(ValueError, match=r"gradient_accumulation_steps=2 has no TF-Keras 2.*include_optimizer=False"):
        model.save(tmp_path / "m.h5")
    assert os.listdir(tmp_path) == []
    model.save(tmp_path / "m.h5", include_optimizer=False)
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert "training_config" not in f.attrs


def test_training_config_is_tf_keras_2s(tmp_path):
    model = corenn.Sequential([layers.Input((3,)), layers.Dense(2)])
    model.compile(optimizer=corenn.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r") as f:
        training = json.loads(f.attrs["training_config"])
        assert f.attrs["keras_version"].startswith("2.") and f.attrs["backend"] == "tensorflow"
    assert training["loss"] == "mse" and training["metrics"] == ["mae"]
    optimizer = training["optimizer_config"]
    assert optimizer["class_name"] == "Adam" and optimizer["config"]["learning_rate"] == pytest.approx(0.01)
    assert "loss_scale_factor" not in optimizer["config"]   # Keras 3 only: TF-Keras 2 would refuse it
    assert optimizer["config"]["is_legacy_optimizer"] is False


def test_overwrite_false_keeps_the_file(tmp_path):
    path = tmp_path / "m.h5"
    path.write_bytes(b"old")
    model = mlp()[0]
    with pytest.raises(FileExistsError, match="overwrite=False"):
        model.save(path, overwrite=False)
    with pytest.raises(FileExistsError, match="overwrite=False"):
        corenn.models.save_model(model, path, overwrite=False)
    assert path.read_bytes() == b"old"
    model.save(path)
    assert corenn.models.load_model(path).count_params() == model.count_params()


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_file_mode_follows_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        mlp()[0].save(tmp_path / "m.h5")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "m.h5").st_mode & 0o777 == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["m.h5"]   # no temporary file left


def test_missing_h5py_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"pip install 'corenn\[keras\]'"):
        mlp()[0].save(tmp_path / "m.h5")
    assert os.listdir(tmp_path) == []


def test_options_tf_keras_2_names_otherwise_are_renamed_both_ways(tmp_path):
    model = corenn.Sequential([layers.Input((3,)), layers.Dense(2), layers.LeakyReLU(negative_slope=0.2)])
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r") as f:
        written = json.loads(f.attrs["model_config"])["config"]["layers"][-1]["config"]
    assert written["alpha"] == 0.2 and "negative_slope" not in written
    assert corenn.models.load_model(tmp_path / "m.h5").layers[-1].negative_slope == 0.2


def test_model_checkpoint_writes_h5(tmp_path):
    model = mlp()[0]
    model.compile(optimizer="sgd", loss="mse")
    x, y = RNG.normal(size=(8, 6)).astype("float32"), RNG.normal(size=(8, 3)).astype("float32")
    model.fit(x, y, epochs=2, verbose=0,
              callbacks=[corenn.callbacks.ModelCheckpoint(str(tmp_path / "ck-{epoch}.h5"))])
    assert sorted(os.listdir(tmp_path)) == ["ck-1.h5", "ck-2.h5"]
    np.testing.assert_array_equal(predict(corenn.models.load_model(tmp_path / "ck-2.h5"), [x]),
                                  predict(model, [x]))
