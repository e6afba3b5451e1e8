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


class Encoder(corenn.keras.layers.Layer):
    """A Keras layer written with call that holds layers: one as an attribute, two in a list,
    and a weight of its own (a ViT PatchEncoder with an extra scale)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.projection = corenn.keras.layers.Dense(4)
        self.blocks = [corenn.keras.layers.Dense(4), corenn.keras.layers.Dense(4, use_bias=False)]

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(4,), initializer="ones", name="scale")

    def call(self, x):
        x = self.projection(x) * self.scale
        for block in self.blocks:
            x = block(x)
        return x


def _nested_model(seed):
    corenn.utils.set_random_seed(seed)
    keras, layers = corenn.keras, corenn.keras.layers
    norm = layers.Normalization()
    norm.adapt(np.random.default_rng(seed).normal(size=(20, 3)))   # mean, variance, count
    front = keras.Sequential([norm, layers.Dense(3)], name="front")
    x = keras.Input((3,))
    return keras.Model(x, layers.Dense(2)(Encoder()(front(x))))


def test_nested_models_and_layers_holding_layers_write_keras_3_groups(tmp_path):
    model = _nested_model(1)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    out = str(tmp_path / "nested.weights.h5")
    model.save_weights(out)
    tree = _tree(out)
    # Keras 3's saving walk: a model's layers under layers/<class, numbered>, a layer's
    # attribute sublayers under the attribute (lists numbered by class), its own weights in vars
    for path, shape in [("layers/sequential/layers/dense/vars/0", (3, 3)),
                        ("layers/sequential/layers/normalization/vars/2", ()),
                        ("layers/encoder/vars/0", (4,)),
                        ("layers/encoder/projection/vars/0", (3, 4)),
                        ("layers/encoder/blocks/dense/vars/1", (4,)),
                        ("layers/encoder/blocks/dense_1/vars/0", (4, 4)),
                        ("layers/dense/vars/0", (4, 2))]:
        assert path in tree, sorted(tree)
        assert shape is None or tree[path].shape == shape, (path, tree[path].shape)
    assert "layers/encoder/blocks/dense_1/vars/1" not in tree
    twin = _nested_model(2)
    assert not np.allclose(twin.predict(x, verbose=0), model.predict(x, verbose=0))
    twin.load_weights(out)
    np.testing.assert_array_equal(twin.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(twin.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # a file whose nested group holds something the layer does not have is refused
    with h5py.File(out, "a") as f:
        f["layers/encoder/stray/vars/0"] = np.zeros(2, np.float32)
    with pytest.raises(ValueError, match="stray"):
        twin.load_weights(out)
