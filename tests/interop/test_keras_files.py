"""Reading files that real Keras 3 wrote (tests/interop/keras_fixtures, made by
tools/make_keras_fixtures.py): .keras archives, .weights.h5 files and legacy .h5 model files.

The reference is Keras itself: each fixture sits next to Keras' prediction on fixed inputs
(<name>.expected.npz), and corenn's prediction from the file must match it to 1e-5 relative.
Then the safety contract: Lambda layers, serialized code, classes from outside Keras and unknown
classes are refused by name; truncated and tampered files raise ValueError.
"""
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

import corenn  # noqa: E402
from corenn import layers  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "keras_fixtures")
MODEL_FILES = [("mlp", "keras"), ("mlp", "h5"), ("cnn", "keras"), ("cnn", "h5"),
               ("lstm", "keras"), ("lstm", "h5"), ("gru", "keras"), ("gru", "h5"),
               ("bidirectional", "keras"), ("bidirectional", "h5"), ("embedding", "keras"),
               ("conv1d", "keras"), ("conv1d", "h5"), ("residual", "keras"), ("residual", "h5"),
               ("siamese", "keras"), ("siamese", "h5"), ("trained", "keras"), ("trained", "h5")]


def fixture(name):
    return os.path.join(FIXTURES, name)


def expected(name):
    with np.load(fixture(f"{name}.expected.npz"), allow_pickle=False) as data:
        xs = [data[f"x{i}"] for i in range(sum(k.startswith("x") for k in data.files))]
        return xs, data["y"]


def predict(model, xs):
    return np.asarray(model.predict(xs if len(xs) > 1 else xs[0], verbose=0))


def assert_matches_keras(model, name):
    xs, y = expected(name)
    np.testing.assert_allclose(predict(model, xs), y, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,ext", MODEL_FILES)
def test_load_model_predicts_as_keras_did(name, ext):
    model = corenn.models.load_model(fixture(f"{name}.{ext}"))
    assert_matches_keras(model, name)


def test_loaded_model_keeps_keras_names_and_structure():
    model = corenn.models.load_model(fixture("residual.keras"))
    names = [layer.name for layer in model.layers]
    for name in ("a", "b", "hidden", "skip", "norm", "join", "gate", "out"):
        assert name in names
    assert isinstance(model.get_layer("skip"), layers.Add)
    assert len(model.inputs) == 2
    siamese = corenn.models.load_model(fixture("siamese.keras"))
    tower = siamese.get_layer("tower")
    assert len(siamese.inputs) == 2 and len(tower.weights) == 2   # one layer, called twice
    gru = corenn.models.load_model(fixture("gru.keras"))
    assert [l.reset_after for l in gru.layers if isinstance(l, layers.GRU)] == [True, False]
    emb = corenn.models.load_model(fixture("embedding.keras"))
    assert emb.layers[0].mask_zero   # the padding steps are masked, as in Keras


def test_loaded_model_trains():
    """The loaded model is a corenn model like any other: compile and fit work."""
    model = corenn.models.load_model(fixture("mlp.keras"))
    xs, y = expected("mlp")
    model.compile(optimizer="sgd", loss="mse")
    before = model.evaluate(xs[0], y * 0.5, verbose=0)
    model.fit(xs[0], y * 0.5, epochs=5, verbose=0)
    assert model.evaluate(xs[0], y * 0.5, verbose=0) < before


def hand_built(name):
    """The fixture's architecture written in corenn by hand (corenn's own layer names)."""
    if name == "mlp":
        return corenn.Sequential([layers.Input((8,)), layers.Dense(16, activation="relu"),
                                  layers.Dropout(0.2), layers.Dense(8, activation="tanh"),
                                  layers.Dense(4, activation="softmax")])
    if name == "gru":
        return corenn.Sequential([layers.Input((6, 3)), layers.GRU(5, return_sequences=True),
                                  layers.GRU(4, reset_after=False), layers.Dense(2)])
    if name == "cnn":
        return corenn.Sequential([
            layers.Input((8, 8, 2)), layers.Conv2D(4, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2), layers.BatchNormalization(),
            layers.Conv2D(3, (2, 3), strides=(1, 2), use_bias=False),
            layers.AveragePooling2D(pool_size=(1, 2), padding="same"), layers.Flatten(),
            layers.Dense(5), layers.Activation("sigmoid")])
    if name == "trained":
        return corenn.Sequential([layers.Input((4,)), layers.Dense(6, activation="relu"),
                                  layers.BatchNormalization(), layers.Dense(2)])
    if name == "bidirectional":
        return corenn.Sequential([
            layers.Input((5, 3)), layers.Bidirectional(layers.LSTM(4, return_sequences=True)),
            layers.Bidirectional(layers.GRU(3), merge_mode="sum"), layers.Dense(2)])
    if name == "siamese":
        a, b = corenn.Input((5,)), corenn.Input((5,))
        tower = layers.Dense(6, activation="tanh")
        ta, tb = tower(a), tower(b)
        mean = layers.Average()([layers.Subtract()([ta, tb]), layers.Maximum()([ta, tb])])
        return corenn.Model([a, b], layers.Dense(2, activation="softmax")(mean))
    a, b = corenn.Input((8,)), corenn.Input((6,))
    h = layers.LayerNormalization()(layers.Add()([layers.Dense(8, activation="relu")(a), a]))
    c = layers.Concatenate()([h, b])
    m = layers.Multiply()([layers.Dense(14, activation="sigmoid")(c), c])
    return corenn.Model([a, b], layers.Dense(3)(m))


@pytest.mark.parametrize("name", ["mlp", "gru", "cnn", "residual", "bidirectional", "siamese",
                                  "trained"])
@pytest.mark.parametrize("kind", ["weights.h5", "h5", "keras"])
def test_load_weights_into_a_hand_built_model(name, kind):
    model = hand_built(name)
    model.load_weights(fixture(f"{name}.{kind}"))
    assert_matches_keras(model, name)


def test_load_weights_of_another_architecture_fails_and_leaves_the_model():
    model = corenn.Sequential([layers.Input((8,)), layers.Dense(16), layers.Dense(5)])
    before = [w.copy() for w in model.get_weights()]
    for kind in ("weights.h5", "h5", "keras"):
        with pytest.raises(ValueError, match=r"shapes|layers with weights|no layer"):
            model.load_weights(fixture(f"mlp.{kind}"))
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_corenn_keras_files_still_load(tmp_path):
    model = corenn.Sequential([layers.Input((3,)), layers.Dense(2)])
    model.save(tmp_path / "m.keras")
    again = corenn.models.load_model(tmp_path / "m.keras")
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_missing_h5py_names_the_extra(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"h5py.*corenn\[keras\]"):
        corenn.models.load_model(fixture("mlp.keras"))


# ---- safety: code and foreign classes are refused by name ----------------------------------------

def test_lambda_layer_is_refused_by_name():
    with pytest.raises(ValueError, match=r"Lambda.*serialized Python code"):
        corenn.models.load_model(fixture("lambda_model.keras"))


def rewrite_archive(src, dst, edit_config=None, extra=None, drop=None):
    """A copy of a .keras archive with config.json edited / members added or dropped."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename == drop:
                continue
            data = zin.read(info)
            if info.filename == "config.json" and edit_config is not None:
                config = json.loads(data)
                edit_config(config)
                data = json.dumps(config).encode()
            zout.writestr(info, data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return dst


def dense_config(config, index=1):
    return config["config"]["layers"][index]


@pytest.mark.parametrize("edit,message", [
    (lambda c: dense_config(c).update(class_name="FancyDense"), r"'FancyDense' is not one corenn has"),
    (lambda c: dense_config(c).update(module="my_project.layers"), r"module 'my_project.layers'"),
    (lambda c: dense_config(c).update(registered_name="Custom>Dense"), r"registered class 'Custom>Dense'"),
    (lambda c: dense_config(c)["config"].update(
        activation={"class_name": "__lambda__", "config": {"code": "4wEAAAA="}}), r"__lambda__"),
    (lambda c: dense_config(c)["config"].update(
        activation={"module": "builtins", "class_name": "function", "config": "exec",
                    "registered_name": "function"}), r"'function'"),
    (lambda c: dense_config(c)["config"].update(kernel_constraint={
        "module": "my_project.constraints", "class_name": "Evil", "config": {"max_value": 2}}),
     r"Evil"),
    (lambda c: dense_config(c)["config"].update(units=17), r"shapes"),
    (lambda c: c.update(class_name="MyModel", module="my_models"), r"my_models"),
    (lambda c: dense_config(c)["config"].update(dtype="complex64"), r"complex64"),
])
def test_tampered_config_is_refused_by_name(tmp_path, edit, message):
    path = rewrite_archive(fixture("mlp.keras"), tmp_path / "m.keras", edit_config=edit)
    with pytest.raises(ValueError, match=message):
        corenn.models.load_model(path)


def test_a_keras_constraint_in_the_config_is_read(tmp_path):
    """Keras' own constraints (a MaxNorm on a kernel) are built and kept for further training."""
    edit = lambda c: dense_config(c)["config"].update(kernel_constraint={  # noqa: E731
        "module": "keras.constraints", "class_name": "MaxNorm", "config": {"max_value": 2, "axis": 0},
        "registered_name": None})
    path = rewrite_archive(fixture("mlp.keras"), tmp_path / "m.keras", edit_config=edit)
    model = corenn.models.load_model(path)
    constrained = [l for l in model.layers if getattr(l, "kernel_constraint", None) is not None]
    assert len(constrained) == 1 and constrained[0].kernel_constraint.max_value == 2.0


def test_stray_member_is_refused(tmp_path):
    path = rewrite_archive(fixture("mlp.keras"), tmp_path / "m.keras", extra={"payload.pkl": b"x"})
    with pytest.raises(ValueError, match=r"payload\.pkl"):
        corenn.models.load_model(path)


def test_missing_metadata_is_refused(tmp_path):
    path = rewrite_archive(fixture("mlp.keras"), tmp_path / "m.keras", drop="metadata.json")
    with pytest.raises(ValueError, match=r"metadata\.json"):
        corenn.models.load_model(path)


# ---- truncated and tampered HDF5 -----------------------------------------------------------------

@pytest.mark.parametrize("name", ["mlp.keras", "mlp.h5", "gru.weights.h5", "residual.keras"])
def test_truncated_files_raise_value_error(tmp_path, name):
    data = Path(fixture(name)).read_bytes()
    for cut in (0, 8, 100, len(data) // 3, len(data) // 2, len(data) - 200, len(data) - 1):
        path = tmp_path / name
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=str(path.name).replace(".", r"\.")):
            if name.endswith(".weights.h5"):
                hand_built("gru").load_weights(path)
            else:
                corenn.models.load_model(path)


def test_flipped_bytes_never_crash(tmp_path):
    """Damage anywhere: the file loads (a flipped bit in a weight) or raises ValueError."""
    rng = np.random.default_rng(7)
    for name in ("mlp.keras", "mlp.h5"):
        data = bytearray(Path(fixture(name)).read_bytes())
        for trial in range(25):
            damaged = bytearray(data)
            for pos in rng.integers(0, len(data), size=4):
                damaged[pos] ^= 1 << int(rng.integers(0, 8))
            path = tmp_path / f"{trial}-{name}"
            path.write_bytes(bytes(damaged))
            try:
                corenn.models.load_model(path)
            except ValueError:
                pass


def edit_h5(src, dst, edit):
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        edit(f)
    return dst


def replace_dataset(f, path, value):
    del f[path]
    f[path] = value


@pytest.mark.parametrize("edit,message", [
    (lambda f: replace_dataset(f, "model_weights/dense/mlp/dense/kernel", np.zeros((8, 16), np.int32)),
     r"type int32"),
    (lambda f: replace_dataset(f, "model_weights/dense/mlp/dense/kernel",
                               np.array(["x"] * 8, dtype=h5py.string_dtype())), r"only plain numbers"),
    (lambda f: replace_dataset(f, "model_weights/dense/mlp/dense/kernel",
                               np.zeros(8, dtype=[("a", "f4"), ("b", "f4")])), r"only plain numbers"),
    (lambda f: replace_dataset(f, "model_weights/dense/mlp/dense/kernel", np.zeros((9, 16), np.float32)),
     r"shapes"),
    (lambda f: f["model_weights/dense/mlp/dense"].__setitem__("extra", h5py.ExternalLink("/etc/passwd", "/")),
     r"ExternalLink"),
    (lambda f: f["model_weights/dense/mlp/dense"].__setitem__("alias", h5py.SoftLink("/model_weights")),
     r"SoftLink"),
    (lambda f: f.attrs.__setitem__("model_config", "{not json"), r"model_config is not valid JSON"),
    (lambda f: f.attrs.__setitem__("model_config", json.dumps(
        {"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {}}]}})),
     r"Lambda"),
    (lambda f: f["model_weights"].attrs.__setitem__("layer_names", ["dense", "ghost"]), r"ghost"),
])
def test_tampered_legacy_h5_is_refused(tmp_path, edit, message):
    path = edit_h5(fixture("mlp.h5"), tmp_path / "m.h5", edit)
    with pytest.raises(ValueError, match=message):
        corenn.models.load_model(path)


def test_external_storage_dataset_is_refused(tmp_path):
    outside = tmp_path / "outside.bin"
    outside.write_bytes(bytes(8 * 16 * 4))

    def edit(f):
        del f["layers/dense/vars/0"]
        f.create_dataset("layers/dense/vars/0", shape=(8, 16), dtype="f4",
                         external=[(str(outside), 0, 8 * 16 * 4)])
    path = edit_h5(fixture("mlp.weights.h5"), tmp_path / "w.weights.h5", edit)
    with pytest.raises(ValueError, match=r"outside the file"):
        hand_built("mlp").load_weights(path)


def test_weights_for_a_layer_the_model_lacks_are_refused(tmp_path):
    path = edit_h5(fixture("mlp.weights.h5"), tmp_path / "w.weights.h5",
                   lambda f: f.create_dataset("layers/dense_7/vars/0", data=np.zeros(3, np.float32)))
    with pytest.raises(ValueError, match=r"dense_7"):
        hand_built("mlp").load_weights(path)


def test_layer_name_mismatch_inside_an_archive_is_refused(tmp_path):
    def edit(config):
        dense_config(config)["config"]["name"] = "renamed"
    path = rewrite_archive(fixture("mlp.keras"), tmp_path / "m.keras", edit_config=edit)
    with pytest.raises(ValueError, match=r"renamed"):
        corenn.models.load_model(path)


def tf_keras2_config(config):
    """Keras 3's config rewritten as TF-Keras 2 wrote it: no module / registered_name, dtype
    names, batch_input_shape, inbound_nodes as [[[layer, node, tensor, kwargs], ...]]."""
    def strip(obj):
        if isinstance(obj, dict):
            if obj.get("class_name") == "DTypePolicy":
                return obj["config"]["name"]
            return {k: strip(v) for k, v in obj.items() if k not in ("module", "registered_name",
                                                                       "build_config")}
        return [strip(v) for v in obj] if isinstance(obj, list) else obj
    config = strip(config)
    layers_ = config["config"]["layers"]
    for spec in layers_:
        if spec["class_name"] == "InputLayer":
            spec["config"]["batch_input_shape"] = spec["config"].pop("batch_shape")
            spec["config"].pop("optional", None)
        nodes = spec.get("inbound_nodes")
        if nodes:
            def ref(t):
                return t["config"]["keras_history"] + [{}]
            spec["inbound_nodes"] = [[ref(t) for t in (n["args"][0] if isinstance(n["args"][0], list)
                                                       else [n["args"][0]])] for n in nodes]
    if config["class_name"] == "Sequential":   # TF-Keras 2 put the input shape on the first layer
        first = layers_.pop(0)
        layers_[0]["config"]["batch_input_shape"] = first["config"]["batch_input_shape"]
    else:
        config["config"]["output_layers"] = [config["config"]["output_layers"]]
    return config


@pytest.mark.parametrize("name", ["mlp", "residual", "lstm"])
def test_tf_keras2_style_config_loads(tmp_path, name):
    def edit(f):
        config = json.loads(f.attrs["model_config"])
        f.attrs["model_config"] = json.dumps(tf_keras2_config(config))
    path = edit_h5(fixture(f"{name}.h5"), tmp_path / f"{name}.h5", edit)
    assert_matches_keras(corenn.models.load_model(path), name)


def test_missing_files_are_file_not_found(tmp_path):
    for name in ("none.h5", "none.keras"):
        with pytest.raises(FileNotFoundError):
            corenn.models.load_model(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        hand_built("mlp").load_weights(tmp_path / "none.weights.h5")


def test_weights_only_file_given_to_load_model_says_so():
    with pytest.raises(ValueError, match=r"model_config.*load_weights"):
        corenn.models.load_model(fixture("mlp.weights.h5"))


def test_attribute_sizes_are_capped_before_reading(monkeypatch):
    from corenn import saving_keras
    monkeypatch.setattr(saving_keras, "_MAX_ATTR_BYTES", 1000)   # mlp.h5's model_config is larger
    with pytest.raises(ValueError, match=r"model_config.*bytes \(at most 1000\)"):
        corenn.models.load_model(fixture("mlp.h5"))


def test_hdf5_object_count_is_capped(monkeypatch):
    from corenn import saving_keras
    monkeypatch.setattr(saving_keras, "_MAX_H5_OBJECTS", 5)
    with pytest.raises(ValueError, match=r"more than 5 HDF5 objects"):
        corenn.models.load_model(fixture("mlp.keras"))


def test_archive_from_another_keras_version_is_refused(tmp_path):
    src = fixture("mlp.keras")
    dst = tmp_path / "m.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "metadata.json":
                data = json.dumps({"keras_version": "2.15.0"}).encode()
            zout.writestr(info, data)
    with pytest.raises(ValueError, match=r"keras_version '2\.15\.0'"):
        corenn.models.load_model(dst)


@pytest.mark.parametrize("name", ["bidirectional", "embedding", "siamese", "cnn"])
def test_a_keras_model_saved_by_corenn_loads_the_same(tmp_path, name):
    """Keras file -> corenn model -> corenn's own .keras -> the same predictions."""
    model = corenn.models.load_model(fixture(f"{name}.keras"))
    model.save(tmp_path / "converted.keras")
    assert_matches_keras(corenn.models.load_model(tmp_path / "converted.keras"), name)


def test_float64_keras_model_loads_and_predicts_in_float64():
    """A Keras 3 model of float64 layers (weights and computation): corenn's float64 layers read
    it and predict to float64's precision, far below float32's ~1e-7."""
    model = corenn.models.load_model(fixture("float64_mlp.keras"))
    assert {str(w.dtype) for w in model.weights} == {"float64"}
    assert all(layer.dtype_policy.name == "float64" for layer in model.layers)
    xs, y = expected("float64_mlp")
    assert y.dtype == np.float64 and xs[0].dtype == np.float64
    out = predict(model, xs)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, y, rtol=1e-13, atol=1e-15)
    # the weights file into a hand-built float64 model
    built = corenn.Sequential([corenn.Input((5,), dtype="float64"), layers.Dense(8, activation="tanh", dtype="float64"),
                               layers.Dropout(0.1, dtype="float64"), layers.Dense(6, activation="sigmoid", dtype="float64"),
                               layers.Dense(2, dtype="float64")])
    built.load_weights(fixture("float64_mlp.weights.h5"))
    np.testing.assert_allclose(predict(built, xs), y, rtol=1e-13, atol=1e-15)
