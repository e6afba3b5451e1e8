"""Sweep 22 (keras.io FNet image classification): a custom layer holding a Sequential (FNet's
feed-forward block) trains in fit exactly as the same steps by train_on_batch -- fit cached the
gradient Tensors of the first step, which the nested graph's backward replaced from the second
step on, so fit applied stale gradients to the Sequential's weights (training stalled)."""
import numpy as np

from corenn import keras
from corenn.keras import layers


class Block(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.ffn = keras.Sequential([layers.Dense(8, activation="gelu"), layers.Dense(8)])
        self.norm = layers.LayerNormalization()

    def call(self, x):
        x = self.norm(x)
        return x + self.ffn(x)


def _trained(how, optimizer):
    keras.utils.set_random_seed(0)
    inp = keras.Input((4, 8))
    model = keras.Model(inp, layers.Dense(3)(layers.GlobalAveragePooling1D()(Block()(inp))))
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4, 8)).astype("float32")
    y = rng.integers(0, 3, 64)
    if how == "fit":
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    else:
        for _ in range(2):
            for i in range(4):
                model.train_on_batch(x[16 * i:16 * i + 16], y[16 * i:16 * i + 16])
    return model.get_weights()


def test_fit_matches_train_on_batch_for_a_sequential_inside_a_custom_layer():
    for make in (lambda: keras.optimizers.SGD(0.1), lambda: keras.optimizers.Adam(0.01)):
        a, b = _trained("fit", make()), _trained("steps", make())
        assert len(a) == len(b) == 2 + 4 + 2
        for p, q in zip(a, b):
            np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)
