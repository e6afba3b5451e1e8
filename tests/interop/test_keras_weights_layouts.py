"""Keras 3 ``.weights.h5`` layouts of custom layers with variables of their own and of models cut
out of a backbone, both ways: the fixtures (tests/interop/keras_fixtures/<name>.weights.h5 and
<name>.expected.npz) were written by Keras 3.15 from the models of keras_weights_models.py
(tools/make_keras_fixtures.py --only <name>); the test builds the same class code with corenn,
loads Keras' file (predictions as Keras'), saves it again and compares the HDF5 trees: the same
groups, the same datasets (vars/0, vars/1, ... in Keras' order) with the same values."""
import os

import numpy as np
import pytest

import corenn
from corenn import keras

from keras_weights_models import builders

h5py = pytest.importorskip("h5py")

FIXTURES = os.path.join(os.path.dirname(__file__), "keras_fixtures")
NAMES = ["own_variables", "own_variables_subclassed", "backbone_cuts", "backbone_blocks"]


def _tree(path):
    """{HDF5 path: 'group' or the dataset's array}."""
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(
            name, np.array(obj) if isinstance(obj, h5py.Dataset) else "group"))
    return found


def _expected(name):
    with np.load(os.path.join(FIXTURES, f"{name}.expected.npz"), allow_pickle=False) as data:
        return data["x0"], data["y"]


def _predict(model, x):
    return np.asarray(model(x.astype(np.float32), training=False))


@pytest.mark.parametrize("name", NAMES)
def test_keras_file_loads_and_corenn_writes_it_back_the_same(tmp_path, name):
    keras_file = os.path.join(FIXTURES, f"{name}.weights.h5")
    x, y = _expected(name)
    model = builders(keras)[name][0]()
    model.load_weights(keras_file)
    np.testing.assert_allclose(_predict(model, x), y, rtol=1e-5, atol=1e-5)

    out = str(tmp_path / "corenn.weights.h5")
    model.save_weights(out)
    expected, got = _tree(keras_file), _tree(out)
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        if isinstance(value, str):
            assert got[key] == "group", key
        else:
            assert got[key].shape == value.shape, key
            np.testing.assert_array_equal(got[key], value, err_msg=key)

    fresh = builders(keras)[name][0]()
    fresh.load_weights(out)
    np.testing.assert_allclose(_predict(fresh, x), y, rtol=1e-5, atol=1e-5)


def test_non_trainable_variable_made_first_is_written_after_the_trainable_ones(tmp_path):
    # Keras 3 (Layer.save_own_variables): _trainable_variables + _non_trainable_variables
    model = builders(keras)["own_variables"][0]()
    layer = model.layers[1]
    assert [w.name for w in layer.weights] == ["count", "w", "b"]   # corenn lists them as made
    values = [np.full(tuple(w.shape), k + 1.0, np.float32) for k, w in enumerate(layer.weights)]
    layer.set_weights(values)
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        group = f["layers/non_trainable_first/vars"]
        assert sorted(group) == ["0", "1", "2"]
        np.testing.assert_array_equal(group["0"], values[1])   # w
        np.testing.assert_array_equal(group["1"], values[2])   # b
        np.testing.assert_array_equal(group["2"], values[0])   # count


def test_freezing_a_layer_keeps_its_variables_where_keras_writes_them(tmp_path):
    # the order is the trainable flag the variable was made with: layer.trainable = False
    # later moves nothing (Keras' lists are filled when the variable is made)
    model = builders(keras)["own_variables"][0]()
    model.load_weights(os.path.join(FIXTURES, "own_variables.weights.h5"))
    for layer in model.layers:
        layer.trainable = False
    path = str(tmp_path / "frozen.weights.h5")
    model.save_weights(path)
    expected, got = _tree(os.path.join(FIXTURES, "own_variables.weights.h5")), _tree(path)
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        if not isinstance(value, str):
            np.testing.assert_array_equal(got[key], value, err_msg=key)


def test_layers_two_cut_models_share_are_written_once(tmp_path):
    model = builders(keras)["backbone_cuts"][0]()
    path = str(tmp_path / "cuts.weights.h5")
    model.save_weights(path)
    tree = _tree(path)
    stem = [k for k in tree if k.endswith("/vars/0") and not isinstance(tree[k], str)
            and tree[k].shape == (3, 3, 3, 4)]
    assert stem == ["layers/functional/layers/conv2d/vars/0"]   # with the first model only
    # the second model numbers its groups counting the layers written with the first
    assert "layers/functional_1/layers/conv2d_2/vars/0" in tree
    assert "layers/functional_1/layers/conv2d" not in tree


def test_blocks_cut_out_of_a_branching_backbone_are_written_by_their_layers(tmp_path):
    # the block's weights run shortcut first (where it is called), Keras' file lists them by
    # the block's layers: corenn used to refuse to write such a model
    model = builders(keras)["backbone_blocks"][0]()
    block = model.get_layer("block1")
    by_layers = [w.path for layer in block.layers for w in layer.weights]
    assert [w.path for w in block.weights] != by_layers
    rng = np.random.default_rng(3)
    model.set_weights([(np.abs(rng.normal(size=tuple(w.shape))) + 0.5).astype(np.float32) for w in model.weights])
    path = str(tmp_path / "blocks.weights.h5")
    model.save_weights(path)
    fresh = builders(keras)["backbone_blocks"][0]()
    fresh.load_weights(path)
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_array_equal(_predict(fresh, x), _predict(model, x))


def test_a_built_in_layer_making_non_trainable_weights_first_writes_trainable_first(tmp_path):
    # tf.keras 2's RandomFourierFeatures makes unscaled_kernel and bias (not trainable) before
    # kernel_scale; TF-Keras 2's weights (trainable_weights + non_trainable_weights) and Keras 3's
    # files list kernel_scale first. corenn's legacy .h5 and .weights.h5 do too, and read back.
    inp = keras.Input((4,))
    rff = keras.layers.experimental.RandomFourierFeatures(8, name="rff")
    model = keras.Model(inp, keras.layers.Dense(2)(rff(inp)))
    rff.kernel_scale.assign(np.array([3.0], np.float32))
    x = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    y = _predict(model, x)
    legacy, weights = str(tmp_path / "m.h5"), str(tmp_path / "m.weights.h5")
    model.save(legacy)
    model.save_weights(weights)
    with h5py.File(legacy, "r") as f:
        assert [n.decode() if isinstance(n, bytes) else n for n in f["model_weights/rff"].attrs["weight_names"]] == \
            ["rff/kernel_scale:0", "rff/unscaled_kernel:0", "rff/bias:0"]
    with h5py.File(weights, "r") as f:
        np.testing.assert_array_equal(f["layers/random_fourier_features/vars/0"], [3.0])
        assert f["layers/random_fourier_features/vars/1"].shape == (4, 8)
    np.testing.assert_array_equal(_predict(keras.models.load_model(legacy), x), y)
    twin = keras.Model(inp, keras.layers.Dense(2)(keras.layers.experimental.RandomFourierFeatures(8)(inp)))
    twin.load_weights(weights)
    np.testing.assert_array_equal(_predict(twin, x), y)
