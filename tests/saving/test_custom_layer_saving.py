"""Keras 3's saving customization hooks in corenn's model files: a layer's own store
(save_own_variables / load_own_variables), its assets (save_assets / load_assets), build
customization (get_build_config / build_from_config), and the checks a file passes before any of
the layer's code sees it."""
import json
import os
import zipfile

import numpy as np
import pytest

import corenn as keras
from corenn import layers


@keras.saving.register_keras_serializable(package="test_custom_saving")
class Counted(layers.Dense):
    """A Dense that also keeps a call counter and a float tag outside its weights."""

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        self.calls, self.tag, self.loaded_keys = 0, np.zeros(3, np.float32), None

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["calls"] = np.int64(self.calls)
        store["tag"] = self.tag

    def load_own_variables(self, store):
        self.loaded_keys = sorted(store)
        self.calls, self.tag = int(store["calls"]), np.asarray(store["tag"])
        super().load_own_variables({k: v for k, v in store.items() if k.isdigit()})


@keras.saving.register_keras_serializable(package="test_custom_saving")
class WithVocabulary(layers.Dense):
    def __init__(self, units, words=(), **kwargs):
        super().__init__(units, **kwargs)
        self.words = list(words)

    def save_assets(self, dir_path):
        os.makedirs(os.path.join(dir_path, "text"))
        with open(os.path.join(dir_path, "text", "vocab.txt"), "w") as f:
            f.write("\n".join(self.words))

    def load_assets(self, dir_path):
        with open(os.path.join(dir_path, "text", "vocab.txt")) as f:
            self.words = f.read().split("\n")


@keras.saving.register_keras_serializable(package="test_custom_saving")
class ScaledBuild(layers.Layer):
    """build takes an extra argument, recorded by get_build_config."""

    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape, scale):
        super().build(input_shape)
        self.scale, self.shape_seen = scale, input_shape
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones")

    def call(self, x):
        return keras.ops.matmul(x, self.w) * self.scale

    def get_config(self):
        return dict(super().get_config(), units=self.units)

    def get_build_config(self):
        return {"input_shape": self.shape_seen, "scale": self.scale}

    def build_from_config(self, config):
        self.build(config["input_shape"], config["scale"])


@keras.saving.register_keras_serializable(package="test_custom_saving")
class Holder(layers.Layer):
    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.inner = layers.Dense(units, activation="tanh")

    def call(self, x):
        return self.inner(x)

    def get_config(self):
        return dict(super().get_config(), units=self.units)


def _rewrite(path, member, edit):
    """The model file with one JSON member edited (as a tampered or hand-made file would be)."""
    with zipfile.ZipFile(path) as zf:
        items = [(i, zf.read(i.filename)) for i in zf.infolist()]
    with zipfile.ZipFile(path, "w") as zf:
        for info, data in items:
            if info.filename == member:
                data = json.dumps(edit(json.loads(data))).encode()
            zf.writestr(info, data)


def test_own_store_round_trip(tmp_path, rng):
    layer = Counted(2)
    model = keras.Sequential([keras.Input((4,)), layer])
    layer.calls, layer.tag = 7, np.array([1.5, -2.0, 0.25], np.float32)
    x = rng.normal(size=(3, 4)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        assert {"store/0/calls.npy", "store/0/tag.npy", "store/0/0.npy", "store/0/1.npy"} <= set(zf.namelist())
    back = keras.models.load_model(tmp_path / "m.keras")
    restored = back.layers[0]
    assert restored.loaded_keys == ["0", "1", "calls", "tag"] and restored.calls == 7
    np.testing.assert_array_equal(restored.tag, layer.tag)
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))


def test_default_load_own_variables_checks_what_it_gets():
    dense = layers.Dense(2)
    dense.build((None, 3))
    store = {}
    dense.save_own_variables(store)
    assert sorted(store) == ["0", "1"] and store["0"].shape == (3, 2)
    with pytest.raises(ValueError, match="expected 2 variables, but received 1"):
        dense.load_own_variables({"0": store["0"]})
    with pytest.raises(ValueError, match=r"variable 1 has shape \(2,\)"):
        dense.load_own_variables({"0": store["0"], "1": np.zeros(3)})
    dense.load_own_variables({"0": np.ones((3, 2)), "1": np.full(2, 3.0)})
    np.testing.assert_array_equal(dense.get_weights()[1], [3.0, 3.0])


def test_assets_round_trip_and_bad_names(tmp_path):
    model = keras.Sequential([keras.Input((2,)), WithVocabulary(2, words=["a", "b<unk>", "c"])])
    model.save(tmp_path / "v.keras")
    assert keras.models.load_model(tmp_path / "v.keras").layers[0].words == ["a", "b<unk>", "c"]

    class BadAsset(WithVocabulary):
        def save_assets(self, dir_path):
            with open(os.path.join(dir_path, "bad name!.txt"), "w") as f:
                f.write("x")
    bad = keras.Sequential([keras.Input((2,)), BadAsset(2)])
    with pytest.raises(ValueError, match="save_assets wrote 'bad name!.txt'"):
        bad.save(tmp_path / "bad.keras")
    assert not (tmp_path / "bad.keras").exists()


def test_stores_and_assets_of_missing_layers_are_refused(tmp_path):
    model = keras.Sequential([keras.Input((2,)), WithVocabulary(2, words=["a"])])
    model.save(tmp_path / "v.keras")
    with zipfile.ZipFile(tmp_path / "v.keras") as zf:
        items = [(i, zf.read(i.filename)) for i in zf.infolist()]
    with zipfile.ZipFile(tmp_path / "moved.keras", "w") as zf:
        for info, data in items:
            if info.filename.startswith("assets/0/"):
                info.filename = "assets/5/" + info.filename[len("assets/0/"):]
            zf.writestr(info, data)
    with pytest.raises(ValueError, match="layer 5, but the model has 1 layers"):
        keras.models.load_model(tmp_path / "moved.keras")


def test_build_config_round_trip_and_checks(tmp_path, rng):
    layer = ScaledBuild(units=3)
    layer.build((None, 4), 0.5)
    model = keras.Sequential([layer, layers.Dense(1)])
    x = rng.normal(size=(5, 4)).astype(np.float32)
    y = np.asarray(model(x))
    model.save(tmp_path / "b.keras")
    back = keras.models.load_model(tmp_path / "b.keras")
    assert back.layers[0].scale == 0.5 and back.built
    np.testing.assert_allclose(back.predict(x, verbose=0), y, rtol=1e-6)

    def huge(cfg):
        cfg["config"]["layers"][0]["build_config"]["input_shape"] = [None, -4]
        return cfg
    _rewrite(tmp_path / "b.keras", "config.json", huge)
    with pytest.raises(ValueError, match="bad build_config"):
        keras.models.load_model(tmp_path / "b.keras")


def test_call_layer_holding_a_dense_loads_and_is_bounded_by_the_file(tmp_path, rng):
    inp = keras.Input((4,))
    model = keras.Model(inp, Holder(3)(inp))
    x = rng.normal(size=(2, 4)).astype(np.float32)
    model.save(tmp_path / "h.keras")
    np.testing.assert_array_equal(keras.models.load_model(tmp_path / "h.keras").predict(x, verbose=0),
                                  model.predict(x, verbose=0))

    def bigger(cfg):   # the file's arrays stay (4, 3) + (3,); the config now asks for far more
        for entry in cfg["config"]["layers"]:
            if entry["class_name"] == "Holder":
                entry["config"]["units"] = 100_000_000
        return cfg
    _rewrite(tmp_path / "h.keras", "config.json", bigger)
    with pytest.raises(ValueError, match="larger than the weights the file holds"):
        keras.models.load_model(tmp_path / "h.keras")
