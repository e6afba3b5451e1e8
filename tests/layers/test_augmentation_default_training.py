"""Keras 3's augmentation layers default to training=True: called directly, or in a model called
without training=, they augment (the data-augmentation tutorials show images this way);
predict and training=False leave images alone."""
import numpy as np

import corenn as keras
from corenn import layers


def _images():
    x = np.zeros((8, 4, 4, 1), np.float32)
    x[:, :, 0, 0] = 1.0   # a bright left column: a horizontal flip moves it to the right
    return x


def test_direct_call_augments_and_training_false_does_not():
    x = _images()
    flip = layers.RandomFlip("horizontal", seed=3)
    out = flip(x).numpy()
    flipped = out[:, :, 3, 0].sum(axis=1) == 4.0
    kept = out[:, :, 0, 0].sum(axis=1) == 4.0
    assert flipped.any() and kept.any() and np.all(flipped | kept)
    np.testing.assert_array_equal(flip(x, training=False).numpy(), x)


def test_model_called_without_training_augments_but_predict_does_not():
    x = _images()
    augment = keras.Sequential([keras.Input(shape=(4, 4, 1)), layers.RandomFlip("horizontal", seed=5)])
    out = np.asarray(augment(x))
    assert not np.array_equal(out, x)
    np.testing.assert_array_equal(augment.predict(x, verbose=0), x)
    np.testing.assert_array_equal(np.asarray(augment(x, training=False)), x)
    # a model without augmentation layers keeps the fast inference path and its results
    plain = keras.Sequential([keras.Input(shape=(4, 4, 1)), layers.Flatten(), layers.Dense(2)])
    np.testing.assert_allclose(np.asarray(plain(x)), plain.predict(x, verbose=0), rtol=1e-6)
