"""A Keras layer written with ``call`` that holds a Sequential (a Transformer block's feed-forward
``dense_proj``) is written to a Keras 3 ``.weights.h5`` file and read back (before: refused, its
weights were not 'its own followed by its layers'')."""
import numpy as np
import pytest

import corenn as keras
from corenn.keras import layers

h5py = pytest.importorskip("h5py")


class Block(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.attention = layers.MultiHeadAttention(num_heads=1, key_dim=4)
        self.dense_proj = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(4)])
        self.layernorm = layers.LayerNormalization()

    def call(self, x):
        return self.layernorm(self.dense_proj(x + self.attention(x, x)))


def _model():
    inp = keras.Input((3, 4))
    return keras.Model(inp, Block(name="block")(inp))


def test_layer_holding_a_sequential_round_trips_through_weights_h5(tmp_path):
    path = str(tmp_path / "m.weights.h5")
    model = _model()
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        groups = []
        f.visit(groups.append)
    # the Sequential's layers sit under the attribute's name, as Keras 3 writes them
    assert "layers/block/dense_proj/layers/dense/vars/0" in groups
    assert "layers/block/dense_proj/layers/dense_1/vars/1" in groups
    other = _model()
    other.load_weights(path)
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
    np.testing.assert_allclose(other.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
