"""Dropout(noise_shape=...) and AlphaDropout(noise_shape=...) (Keras 3): the mask is drawn at the
noise shape (None entries take the input's size) and broadcast over the input. Checked against the
float64 reference mask of the same counter-based stream, gradients (layer backward and a tape)
against dy times the broadcast mask, inference as identity, config round trip and errors."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras, kernels
from corenn.keras import layers

import reference as ref

SELU_ALPHA_P = -1.6732632423543772 * 1.0507009873554805


@pytest.mark.parametrize("x_shape,noise_shape", [((4, 5, 6), (None, 1, 6)), ((4, 5, 6), (None, 1, None)),
                                                 ((3, 4, 4, 2), (None, 1, 1, 1)), ((3, 4, 4, 2), (1, 4, 4, 1)),
                                                 ((6, 7), (None, 7)), ((6, 7), (1, None))])
def test_dropout_broadcast_mask_matches_reference(rng, x_shape, noise_shape):
    x = (rng.standard_normal(x_shape) + 3.0).astype(np.float32)   # nonzero: y / x shows the mask
    dy = rng.standard_normal(x_shape).astype(np.float32)
    layer = layers.Dropout(0.4, noise_shape=noise_shape)
    layer.build((None,) + x_shape[1:])
    layer._next_seed = lambda: 1234
    y = np.asarray(layer.forward(kernels.as_tensor(x), training=True)).copy()
    small = tuple(s if d is None else d for d, s in zip(noise_shape, x_shape))
    mask = np.broadcast_to(ref.dropout_mask(small, 0.4, 1234), x_shape)
    np.testing.assert_allclose(y, ref.f64(x) * mask, rtol=1e-6)
    dx = np.asarray(layer.backward(kernels.as_tensor(dy)))
    np.testing.assert_allclose(dx, ref.f64(dy) * mask, rtol=1e-6)
    # inference: identity
    np.testing.assert_array_equal(np.asarray(layer.forward(kernels.as_tensor(x), training=False)), x)


def test_dropout_shared_mask_statistics():
    """(None, 1, C): within a sample every step has the same kept channels; about rate dropped."""
    x = np.ones((64, 10, 32), np.float32)
    y = np.asarray(layers.Dropout(0.3, noise_shape=(None, 1, 32), seed=5)(x, training=True))
    assert np.all(y == y[:, :1, :])
    dropped = (y[:, 0, :] == 0).mean()
    assert 0.25 < dropped < 0.35
    np.testing.assert_allclose(y.mean(), 1.0, atol=0.06)   # inverted dropout keeps the mean


def test_drop_path_gradient_under_a_tape(rng):
    """Stochastic depth (ConvNeXt's DropPath) through noise_shape=(None, 1, 1, 1): whole samples
    are dropped, and the tape's gradient is r times the same per-sample mask."""
    x = (rng.standard_normal((16, 3, 3, 4)) + 3.0).astype(np.float32)
    r = rng.standard_normal(x.shape).astype(np.float32)
    v = tf.Variable(x)
    drop = layers.Dropout(0.5, noise_shape=(None, 1, 1, 1), seed=3)
    with tf.GradientTape() as tape:
        y = drop(v, training=True)
        loss = tf.reduce_sum(y * r)
    mask = np.asarray(y) / x
    per_sample = mask.reshape(16, -1)
    assert np.all(per_sample == per_sample[:, :1]) and set(np.unique(per_sample.round(5))) <= {0.0, 2.0}
    assert 0 < (per_sample[:, 0] == 0).sum() < 16
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, v)), r * mask, rtol=1e-6)


def test_alpha_dropout_broadcast_matches_reference(rng):
    x = rng.standard_normal((5, 6, 3)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    rate = 0.25
    layer = layers.AlphaDropout(rate, noise_shape=(None, 1, 3))
    layer.build((None, 6, 3))
    layer._next_seed = lambda: 77
    y = np.asarray(layer.forward(kernels.as_tensor(x), training=True)).copy()
    keep = np.broadcast_to(ref.uniform01(77, 5 * 3).reshape(5, 1, 3) >= rate, x.shape)
    a = ((1 - rate) * (1 + rate * SELU_ALPHA_P ** 2)) ** -0.5
    b = -a * SELU_ALPHA_P * rate
    want = a * np.where(keep, ref.f64(x), SELU_ALPHA_P) + b
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    dx = np.asarray(layer.backward(kernels.as_tensor(dy)))
    np.testing.assert_allclose(dx, np.where(keep, a * ref.f64(dy), 0.0), rtol=1e-5, atol=1e-7)
    assert not keep.all() and keep.any()


def test_models_train_and_configs_round_trip(rng, tmp_path):
    keras.utils.set_random_seed(4)   # the masks and the initial weights: not what earlier tests drew
    x = rng.standard_normal((64, 8, 4)).astype(np.float32)
    y = x.sum(axis=(1, 2))[:, None].astype(np.float32)
    model = keras.Sequential([keras.Input((8, 4)), layers.Dense(16, activation="selu"),
                              layers.AlphaDropout(0.1, noise_shape=(None, 1, 16)),
                              layers.Dropout(0.2, noise_shape=(None, 1, 16)), layers.Flatten(), layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    hist = model.fit(x, y, epochs=12, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < 0.6 * hist.history["loss"][0], hist.history["loss"]
    model.save(tmp_path / "d.keras")
    again = keras.models.load_model(tmp_path / "d.keras")
    assert again.layers[1].noise_shape == (None, 1, 16) and again.layers[2].noise_shape == (None, 1, 16)
    assert layers.Dropout.from_config(model.layers[2].get_config()).noise_shape == (None, 1, 16)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_bad_noise_shapes_are_named():
    with pytest.raises(ValueError, match="Dropout 'd1'.*noise_shape"):
        layers.Dropout(0.1, noise_shape=(None, -2), name="d1")
    with pytest.raises(ValueError, match="Dropout 'd2'.*noise_shape"):
        layers.Dropout(0.1, noise_shape="channels", name="d2")
    with pytest.raises(ValueError, match="Dropout 'd3'.*one entry per input axis"):
        layers.Dropout(0.1, noise_shape=(None, 1), name="d3")(np.ones((2, 3, 4), np.float32), training=True)
    with pytest.raises(ValueError, match="Dropout 'd4'.*does not broadcast"):
        layers.Dropout(0.1, noise_shape=(None, 2, 4), name="d4")(np.ones((2, 3, 4), np.float32), training=True)
    with pytest.raises(ValueError, match="AlphaDropout 'a1'.*does not broadcast"):
        layers.AlphaDropout(0.1, noise_shape=(None, 5), name="a1")(np.ones((2, 3), np.float32), training=True)


def test_keras_random_dropout_noise_shape_and_gradient(rng):
    """keras.random.dropout (what custom layers call): None entries of noise_shape come from the
    input, the mask broadcasts, and a tape differentiates it (before, its gradient was None)."""
    x = (rng.standard_normal((8, 5, 3)) + 3.0).astype(np.float32)
    r = rng.standard_normal(x.shape).astype(np.float32)
    v = tf.Variable(x)
    with tf.GradientTape() as tape:
        y = keras.random.dropout(v, 0.4, noise_shape=(None, 1, 3), seed=keras.random.SeedGenerator(3))
        loss = tf.reduce_sum(y * r)
    mask = np.asarray(y) / x
    assert np.allclose(mask, mask[:, :1, :]) and np.all(np.isclose(mask, 0.0) | np.isclose(mask, 1 / 0.6))
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, v)), r * mask, rtol=1e-6)
    with pytest.raises(ValueError, match="noise_shape"):
        keras.random.dropout(x, 0.4, noise_shape=(None, 1))
