"""A custom layer holding a Sequential of custom layers that hold Sequentials (the TensorFlow
(2+1)D video tutorial: ResidualMain > Sequential > Conv2Plus1D > Sequential > Conv3D): fit
trains every weight on every step, with the gradients a GradientTape gives. The call context of
the inner custom layer used to read no sublayers (its attributes are read through the layer), so
from the second step on its Conv3D kernels got zero gradients and stopped moving."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers


class Inner(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.seq = keras.Sequential([layers.Conv3D(4, (1, 3, 3), padding="same"),
                                     layers.Conv3D(4, (3, 1, 1), padding="same")])

    def call(self, x):
        return self.seq(x)


class Outer(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.seq = keras.Sequential([Inner(), layers.LayerNormalization(), layers.ReLU(), Inner()])

    def call(self, x):
        return self.seq(x)


def _model():
    keras.utils.set_random_seed(0)
    inp = layers.Input((3, 5, 5, 2))
    return keras.Model(inp, layers.Dense(1)(layers.GlobalAveragePooling3D()(Outer()(inp))))


def test_every_step_moves_the_nested_kernels_by_the_tape_gradient():
    rng = np.random.default_rng(0)
    x = rng.random((4, 3, 5, 5, 2)).astype("float32")
    y = rng.random((4, 1)).astype("float32")
    model = _model()
    lr = 1e-2
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    tv = model.trainable_variables
    assert len(tv) == 4 + 2 + 4 + 2   # two Inner (two Conv3D each), LayerNormalization, Dense
    for step in range(3):
        with tf.GradientTape() as tape:
            loss = keras.losses.MeanSquaredError()(y, model(x, training=True))
        grads = [np.asarray(g).copy() for g in tape.gradient(loss, tv)]
        before = [v.numpy().copy() for v in tv]
        model.train_on_batch(x, y)
        for v, g, b in zip(tv, grads, before):
            np.testing.assert_allclose((b - v.numpy()) / lr, g, rtol=2e-3, atol=1e-5,
                                       err_msg=f"step {step}: {v.path}")
            assert np.any(g != 0), (step, v.path)


def test_fit_trains_the_nested_kernels():
    rng = np.random.default_rng(1)
    x = rng.random((16, 3, 5, 5, 2)).astype("float32")
    y = x.mean(axis=(1, 2, 3, 4))[:, None] * 3.0
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    kernel = model.trainable_variables[0]
    first = kernel.numpy().copy()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    second = kernel.numpy().copy()
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.any(first != second) and np.any(second != kernel.numpy())
    assert history.history["loss"][-1] < history.history["loss"][0]
