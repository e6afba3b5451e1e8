"""Keras files holding a program's own layer classes (tests/interop/keras_fixtures/custom_layers,
written by real Keras 3.15: a Scale registered as 'CorennFixtures>Scale', an unregistered Block
holding Dense / LayerNormalization layers, whose weights Keras groups by attribute name).

As in Keras, the loading program provides the classes: registered with
register_keras_serializable or passed in custom_objects. Nothing from the file is executed: the
class is the program's own, called with the file's config; a file naming a class the program
does not provide is refused, with what to do."""
import json
import zipfile

import h5py
import numpy as np
import pytest

import corenn
from corenn import keras
from corenn.keras import layers

from test_keras_files import assert_matches_keras, fixture


@keras.saving.register_keras_serializable(package="CorennFixtures")
class Scale(layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, x):
        return x * self.w * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class Block(layers.Layer):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.d1 = layers.Dense(units, activation="relu")
        self.d2 = layers.Dense(3)
        self.norm = layers.LayerNormalization()

    def call(self, x):
        return self.norm(self.d2(self.d1(x)) + x[..., :3])

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_custom_layers_load_with_the_programs_classes():
    model = corenn.models.load_model(fixture("custom_layers.keras"), custom_objects={"Block": Block})
    assert isinstance(model.get_layer("block"), Block) and model.get_layer("block").units == 6
    assert isinstance(model.get_layer("scale"), Scale) and model.get_layer("scale").factor == 3.0
    assert_matches_keras(model, "custom_layers")


def test_a_class_the_program_does_not_provide_is_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"'Block'.*custom_objects"):
        corenn.models.load_model(fixture("custom_layers.keras"))


def test_custom_layers_written_to_a_keras3_archive_as_keras_writes_them(tmp_path):
    model = corenn.models.load_model(fixture("custom_layers.keras"), custom_objects={"Block": Block})
    out = tmp_path / "again.keras"
    model.save(out, save_format="keras3")
    with zipfile.ZipFile(out) as zf, zipfile.ZipFile(fixture("custom_layers.keras")) as theirs:
        specs = {s["config"].get("name"): s for s in json.loads(zf.read("config.json"))["config"]["layers"]}
        ours_h5, keras_h5 = zf.read("model.weights.h5"), theirs.read("model.weights.h5")
    assert specs["scale"]["registered_name"] == "CorennFixtures>Scale"
    assert specs["block"]["class_name"] == "Block" and specs["block"]["config"]["units"] == 6
    (tmp_path / "ours.h5").write_bytes(ours_h5)
    (tmp_path / "keras.h5").write_bytes(keras_h5)

    def tree(path):
        found = {}
        with h5py.File(path, "r") as f:
            f.visititems(lambda n, o: found.__setitem__(n, np.array(o) if isinstance(o, h5py.Dataset) else None))
        return found
    ours, keras_tree = tree(tmp_path / "ours.h5"), tree(tmp_path / "keras.h5")
    assert sorted(ours) == sorted(keras_tree)          # layers/block/d1/vars/0, ...
    for key, value in keras_tree.items():
        if value is not None:
            np.testing.assert_array_equal(ours[key], value, err_msg=key)
    back = corenn.models.load_model(out, custom_objects={"Block": Block})
    assert_matches_keras(back, "custom_layers")


def test_custom_layers_are_not_written_to_tf_keras2_files(tmp_path):
    model = corenn.models.load_model(fixture("custom_layers.keras"), custom_objects={"Block": Block})
    with pytest.raises(ValueError, match="Keras 3 archives"):
        model.save(tmp_path / "m.h5")
    assert not list(tmp_path.iterdir())
