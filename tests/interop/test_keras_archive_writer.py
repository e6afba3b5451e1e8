"""corenn.saving.save_model(model, 'm.keras', save_format='keras3') writes Keras 3's own archive:
for every Keras-made fixture (tests/interop/keras_fixtures/*.keras), the model loaded by corenn
and written this way gives Keras' members, Keras' weights tree with the same values, a config
with Keras' classes, modules and layer names, and loads back in corenn predicting as Keras did."""
import glob
import io
import json
import os
import zipfile

import numpy as np
import pytest

import corenn
from corenn import layers

h5py = pytest.importorskip("h5py")

FIXTURES = os.path.join(os.path.dirname(__file__), "keras_fixtures")
# recorded ops are read from Keras files, not written to them; nested models (read back as functional
# chains), custom classes and vocabularies have tests of their own
NAMES = sorted(os.path.basename(p)[:-len(".keras")] for p in glob.glob(os.path.join(FIXTURES, "*.keras"))
               if not os.path.basename(p).startswith(("lambda_model", "ops_model", "nested", "custom", "text_model")))


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _weights(data):
    found = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(
            name, np.array(obj) if isinstance(obj, h5py.Dataset) else "group"))
    return {k: v for k, v in found.items() if not k.startswith("optimizer")}   # Keras' optimizer state


def _layers(config):
    return [(l["module"], l["class_name"], l["config"]["name"] if l["class_name"] != "InputLayer" else None)
            for l in config["config"]["layers"]]


@pytest.mark.parametrize("name", NAMES)
def test_archive_matches_keras(tmp_path, name):
    keras_file = os.path.join(FIXTURES, name + ".keras")
    model = corenn.models.load_model(keras_file)
    out = tmp_path / "m.keras"
    corenn.saving.save_model(model, out, save_format="keras3")
    want, got = _members(keras_file), _members(out)
    assert set(got) == set(want)
    assert json.loads(got["metadata.json"])["keras_version"].startswith("3.")
    expected, written = _weights(want["model.weights.h5"]), _weights(got["model.weights.h5"])
    assert sorted(written) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(written[key], value, err_msg=key)
    config, keras_config = json.loads(got["config.json"]), json.loads(want["config.json"])
    assert (config["module"], config["class_name"]) == (keras_config["module"], keras_config["class_name"])
    assert _layers(config) == _layers(keras_config)
    with np.load(os.path.join(FIXTURES, name + ".expected.npz")) as data:
        xs = [data[k] for k in sorted(k for k in data.files if k.startswith("x"))]
        y = data["y"]
    back = corenn.models.load_model(out)
    got = back.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    got = next(iter(got.values())) if isinstance(got, dict) else got   # a dict model: y is its first output
    np.testing.assert_allclose(np.asarray(got), y, rtol=1e-5, atol=1e-6)


def test_archive_refusals_come_before_writing(tmp_path):
    model = corenn.Sequential([layers.Input((3,)), layers.Lambda(lambda x: x + 1.0, name="plus_one")])
    with pytest.raises(ValueError, match=r"'plus_one' \(Lambda\).*Python code"):
        corenn.saving.save_model(model, tmp_path / "m.keras", save_format="keras3")
    with pytest.raises(ValueError, match="save_format='keras3' does not match"):
        corenn.saving.save_model(model, tmp_path / "m.h5", save_format="keras3")
    assert os.listdir(tmp_path) == []


@corenn.saving.register_keras_serializable(package="archive_writer_test")
class _ScaleFloat64(layers.Layer):
    def build(self, shape):
        self.w = self.add_weight(shape=(shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.w


def test_float64_layers_are_written_with_keras_float64_policy(tmp_path):
    """A built-in and a user's float64 layer are written with Keras' DTypePolicy float64 (a user
    layer's dtype was written as float32) and load back as float64 layers, bit-exactly."""
    x = corenn.Input((3,), dtype="float64")
    model = corenn.Model(x, layers.Dense(2, dtype="float64", name="wide")(_ScaleFloat64(dtype="float64", name="scale")(x)))
    out = tmp_path / "m.keras"
    corenn.saving.save_model(model, out, save_format="keras3")
    config = json.loads(_members(out)["config.json"])
    policies = {l["config"]["name"]: l["config"].get("dtype") for l in config["config"]["layers"]}
    for name in ("wide", "scale"):
        assert policies[name]["class_name"] == "DTypePolicy" and policies[name]["config"]["name"] == "float64"
    back = corenn.models.load_model(out)
    assert {str(w.dtype) for w in back.weights} == {"float64"}
    data = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_array_equal(back.predict(data, verbose=0), model.predict(data, verbose=0))
