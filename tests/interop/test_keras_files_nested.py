"""A model used as a layer of a model, in Keras files: a Sequential block and a functional base
inside a functional model, a Sequential inside a Sequential; Keras 3 archives, Keras 3's legacy
.h5 and TF-Keras 2's .h5 (tf_nested.h5, written by tf_keras: its node numbers count a nested
model's own first node, and its weights list trainable ones first), against Keras' predictions."""
import json

import numpy as np

import pytest

h5py = pytest.importorskip("h5py")

import corenn  # noqa: E402
from corenn import layers  # noqa: E402

from test_keras_files import assert_matches_keras, edit_h5, fixture, rewrite_archive  # noqa: E402


@pytest.mark.parametrize("name,ext", [("nested", "keras"), ("nested", "h5"), ("nested_sequential", "keras"),
                                      ("nested_sequential", "h5"), ("tf_nested", "h5")])
def test_nested_models_predict_as_keras_did(name, ext):
    assert_matches_keras(corenn.models.load_model(fixture(f"{name}.{ext}")), name)


def test_inner_models_stay_layers_of_the_outer_model(tmp_path):
    model = corenn.models.load_model(fixture("nested.keras"))
    base, block = model.get_layer("base"), model.get_layer("block")
    assert isinstance(base, corenn.Model) and isinstance(block, corenn.Model)
    assert isinstance(base.layers[1], layers.BatchNormalization) and len(base.weights) == 6
    outer = corenn.models.load_model(fixture("nested_sequential.keras"))   # a chain holding a model
    assert isinstance(outer.get_layer("inner"), corenn.Model)
    model.save(tmp_path / "again.keras")   # corenn's own format keeps the nesting
    assert_matches_keras(corenn.models.load_model(tmp_path / "again.keras"), "nested")


def test_a_frozen_base_stays_frozen(tmp_path):
    def freeze(config):
        next(s for s in config["config"]["layers"] if s["name"] == "base")["config"]["trainable"] = False
    model = corenn.models.load_model(rewrite_archive(fixture("nested.keras"), tmp_path / "m.keras", freeze))
    assert not model.get_layer("base").trainable
    assert len(model.trainable_weights) == 4   # block's and head's kernels and biases


def nested_spec(config, name):
    return next(s for s in config["config"]["layers"] if s["name"] == name)


@pytest.mark.parametrize("edit,message", [
    (lambda c: nested_spec(c, "base")["config"]["layers"][1].update(class_name="Lambda"), r"Lambda"),
    (lambda c: nested_spec(c, "block")["config"]["layers"][1]["config"].update(units=7), r"expects input of shape"),
    (lambda c: nested_spec(c, "base").update(class_name="MyModel", registered_name="MyModel"), r"'MyModel' is not one corenn has"),
    (lambda c: nested_spec(c, "block")["config"]["layers"].__setitem__(0, {"class_name": "Dense"}), r"'config' is not a JSON object"),
])
def test_tampered_nested_models_are_refused(tmp_path, edit, message):
    path = rewrite_archive(fixture("nested.keras"), tmp_path / "m.keras", edit)
    with pytest.raises(ValueError, match=message):
        corenn.models.load_model(path)


def test_nested_weights_missing_from_the_archive_are_refused(tmp_path):
    def drop(f):
        del f["layers/functional/layers/dense/vars/1"]
    import io
    import zipfile
    with zipfile.ZipFile(fixture("nested.keras")) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    buf = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buf, "r+") as f:
        drop(f)
    members["model.weights.h5"] = buf.getvalue()
    with zipfile.ZipFile(tmp_path / "m.keras", "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(ValueError, match=r"shapes|numbered"):
        corenn.models.load_model(tmp_path / "m.keras")


def test_tf_keras2_node_of_a_nested_model_before_its_first_call_is_refused(tmp_path):
    def edit(f):
        config = json.loads(f.attrs["model_config"])
        nested_spec(config, "head")["inbound_nodes"][0][0][1] = 0   # TF-Keras 2 counts from 1
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(ValueError, match=r"node 0 of model 'base'"):
        corenn.models.load_model(edit_h5(fixture("tf_nested.h5"), tmp_path / "m.h5", edit))


@pytest.mark.parametrize("outer", ["functional", "sequential"])
def test_models_used_as_layers_are_written_to_keras3_archives(tmp_path, outer):
    """Transfer learning's shape: a functional base (and a Sequential block) used as layers, in a
    functional or a Sequential model, written to Keras 3's archive as Keras nests them (the inner
    model's config in the entry, its weights below layers/functional/layers/...). Keras 3.15 loads
    such files with corenn's predictions (checked by hand: 2.4e-7 / 9.5e-7); here corenn reads
    them back."""
    import zipfile
    base_in = layers.Input((6, 6, 2))
    base = corenn.Model(base_in, layers.Conv2D(3, 3, activation="relu", name="bconv")(
        layers.BatchNormalization(name="bbn")(base_in)), name="base")
    block = corenn.Sequential([layers.Input((3,)), layers.Dense(4, activation="tanh", name="bd")], name="block")
    if outer == "functional":
        inp = layers.Input((6, 6, 2))
        model = corenn.Model(inp, layers.Dense(2, name="head")(block(layers.GlobalAveragePooling2D()(
            base(inp, training=False)))))
    else:
        model = corenn.Sequential([layers.Input((6, 6, 2)), base, layers.GlobalAveragePooling2D(), block,
                                   layers.Dense(2, name="head")])
    rng = np.random.default_rng(4)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) * 0.5 + 1.0 for w in model.get_weights()])
    x = rng.normal(size=(3, 6, 6, 2)).astype(np.float32)
    want = np.asarray(model.predict(x, verbose=0))
    path = tmp_path / "m.keras"
    model.save(path, save_format="keras3")
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read("config.json"))
        (tmp_path / "w.h5").write_bytes(zf.read("model.weights.h5"))
    if outer == "functional":   # (corenn's Sequential lays a model it is given out as its layers)
        entries = {e["config"]["name"]: e for e in config["config"]["layers"] if e["class_name"] != "InputLayer"}
        assert entries["base"]["class_name"] == "Functional"
        assert entries["base"]["build_config"]["input_shape"] == [None, 6, 6, 2]
        assert entries["block"]["class_name"] == "Sequential"
        with h5py.File(tmp_path / "w.h5", "r") as h5:
            assert h5["layers/functional/layers/conv2d/vars/0"].shape == (3, 3, 2, 3)
            assert h5["layers/sequential/layers/dense/vars/0"].shape == (3, 4)
    np.testing.assert_allclose(np.asarray(corenn.models.load_model(path).predict(x, verbose=0)), want,
                               rtol=1e-6, atol=1e-6)
    if outer == "functional":   # TF-Keras 2 files hold them too (calls numbered from 1, as TF-Keras 2)
        model.save(tmp_path / "m.h5")
        np.testing.assert_allclose(np.asarray(corenn.models.load_model(tmp_path / "m.h5").predict(x, verbose=0)),
                                   want, rtol=1e-6, atol=1e-6)
