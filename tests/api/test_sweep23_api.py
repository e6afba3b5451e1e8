"""Sweep 23 of issue 13 (keras.io examples run with only their imports changed): what the
programs in tests/programs/ added in sweep 23 found missing, each checked on its own against
NumPy or Keras 3's documented behaviour."""
import warnings

import numpy as np
import pytest

import corenn as tf
from corenn import keras, ops


# ---- GCViT (example_gcvit.py) ----------------------------------------------------------------

def test_layer_dtype_is_the_variable_dtype():
    # Keras 3: Layer.dtype is the dtype of its variables; custom layers pass
    # add_weight(..., dtype=self.dtype) (GCViT's WindowAttention bias table, layer scale gammas)
    class Table(keras.layers.Layer):
        def build(self, input_shape):
            self.table = self.add_weight(shape=(3, 2), initializer="ones", dtype=self.dtype)

        def call(self, x):
            return x + ops.sum(self.table)

    layer = Table()
    assert layer.dtype == "float32" == layer.variable_dtype
    np.testing.assert_allclose(np.asarray(layer(np.zeros((2, 2), "float32"))), np.full((2, 2), 6.0))
    assert keras.Sequential([keras.layers.Dense(1)]).dtype == "float32"


def _two_headed(n_out, name="net"):
    inp = keras.Input((3,))
    h = keras.layers.Dense(4, name="body")(inp)
    h = keras.layers.LayerNormalization(name="norm")(h)
    return keras.Model(inp, keras.layers.Dense(n_out, name="head")(h), name=name)


def test_load_weights_skip_mismatch_skips_only_what_does_not_fit(tmp_path):
    # Keras 3: skip_mismatch=True loads every object whose variables fit and leaves the others
    # (a new classifier head) as they are, with a warning; without it the mismatch is an error
    keras.utils.set_random_seed(1)
    source = _two_headed(2)
    path = str(tmp_path / "src.weights.h5")
    source.save_weights(path)
    target = _two_headed(5)
    head_before = [np.array(w) for w in target.get_layer("head").get_weights()]
    with pytest.raises(ValueError, match="head"):
        target.load_weights(path)
    for a, b in zip(target.get_layer("head").get_weights(), head_before):   # left untouched
        np.testing.assert_array_equal(a, b)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        target.load_weights(path, skip_mismatch=True)
    messages = [str(w.message) for w in caught]
    assert any("skip_mismatch" in m and "head" in m for m in messages), messages
    assert all(w.filename == __file__ for w in caught if "skip_mismatch" in str(w.message))
    for name in ("body", "norm"):
        for a, b in zip(target.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(target.get_layer("head").get_weights(), head_before):
        np.testing.assert_array_equal(a, b)
    # the loaded body computes what the source's does
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    probe_src = keras.Model(source.inputs, source.get_layer("norm").output)
    probe_dst = keras.Model(target.inputs, target.get_layer("norm").output)
    np.testing.assert_allclose(probe_dst.predict(x, verbose=0), probe_src.predict(x, verbose=0), rtol=1e-6)


def test_load_weights_skip_mismatch_in_a_nested_layer_skips_that_object_only(tmp_path):
    # the object is a layer's own variables: in a subclassed model whose block holds two Dense
    # layers, only the one that does not fit keeps its values
    class Block(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.a = keras.layers.Dense(4, name="a")
            self.b = keras.layers.Dense(units, name="b")

        def call(self, x):
            return self.b(self.a(x))

    class Net(keras.Model):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.block = Block(units, name="block")

        def call(self, x):
            return self.block(x)

    x = np.ones((2, 3), "float32")
    src, dst = Net(2), Net(6)
    src(x), dst(x)
    path = str(tmp_path / "nested.weights.h5")
    src.save_weights(path)
    b_before = [np.array(w) for w in dst.block.b.get_weights()]
    with pytest.warns(UserWarning, match="skip_mismatch"):
        dst.load_weights(path, skip_mismatch=True)
    for a, b in zip(dst.block.a.get_weights(), src.block.a.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(dst.block.b.get_weights(), b_before):
        np.testing.assert_array_equal(a, b)


def test_load_weights_skip_mismatch_needs_a_keras_weights_file(tmp_path):
    # corenn's own .weights.npz lists weights by position only: nothing names the object a
    # weight belongs to, so skip_mismatch there is refused rather than guessed
    source = _two_headed(2)
    path = str(tmp_path / "src.weights.npz")
    source.save_weights(path)
    with pytest.raises(NotImplementedError, match="skip_mismatch=True needs a Keras weights file"):
        _two_headed(5).load_weights(path, skip_mismatch=True)
