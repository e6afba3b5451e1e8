"""save_weights('....weights.h5') writes what Keras 3 writes: for every Keras-made fixture, the
model loaded from its .keras archive and saved by corenn gives the same HDF5 tree (groups,
dataset paths and values) as Keras' own .weights.h5 of that model."""
import glob
import os

import numpy as np
import pytest

import corenn

h5py = pytest.importorskip("h5py")

FIXTURES = os.path.join(os.path.dirname(__file__), "keras_fixtures")
NAMES = sorted(os.path.basename(p)[:-len(".weights.h5")]
               for p in glob.glob(os.path.join(FIXTURES, "*.weights.h5"))
               if os.path.exists(p[:-len(".weights.h5")] + ".keras"))


def _tree(path):
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(
            name, np.array(obj) if isinstance(obj, h5py.Dataset) else "group"))
    return {k: v for k, v in found.items() if not k.startswith("optimizer")}   # Keras' optimizer state


@pytest.mark.parametrize("name", NAMES)
def test_weights_file_matches_keras(tmp_path, name):
    model = corenn.models.load_model(os.path.join(FIXTURES, name + ".keras"))
    out = str(tmp_path / "w.weights.h5")
    model.save_weights(out)
    expected, got = _tree(os.path.join(FIXTURES, name + ".weights.h5")), _tree(out)
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        if isinstance(value, str):
            assert got[key] == "group"
        else:
            np.testing.assert_array_equal(got[key], value, err_msg=key)
    fresh = corenn.models.load_model(os.path.join(FIXTURES, name + ".keras"))
    for w in fresh.weights:
        w.assign(np.zeros(tuple(w.shape)))
    fresh.load_weights(out)
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_nested_models_are_refused_before_writing(tmp_path):
    inner = corenn.keras.Sequential([corenn.keras.Input((3,)), corenn.keras.layers.Dense(2)])
    x = corenn.keras.Input((3,))
    model = corenn.keras.Model(x, inner(x))
    out = tmp_path / "nested.weights.h5"
    try:
        model.save_weights(str(out))
    except NotImplementedError as exc:
        assert "nested" in str(exc) and not out.exists()
    else:   # inlined inner models may list their layers flat; then the file must load back
        twin = corenn.keras.Model(x, inner(x))
        twin.load_weights(str(out))
        for a, b in zip(twin.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(a, b)
