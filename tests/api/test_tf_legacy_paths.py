"""TensorFlow 2.3-2.5 scripts reach the preprocessing layers through
``tf.keras.layers.experimental.preprocessing``; those paths name the same classes, and a
tutorial of that time (augmentation + rescaling in the model) trains unchanged."""
import numpy as np

import corenn as tf
from corenn.keras import layers


def test_the_old_paths_are_the_same_classes():
    from corenn.keras.layers.experimental import preprocessing
    from corenn.keras.layers.experimental.preprocessing import Normalization, Rescaling
    assert Rescaling is layers.Rescaling and Normalization is layers.Normalization
    assert preprocessing.TextVectorization is layers.TextVectorization
    assert tf.keras.layers.experimental.preprocessing.RandomFlip is layers.RandomFlip


def test_a_tf24_augmentation_script_runs(rng):
    preprocessing = tf.keras.layers.experimental.preprocessing
    data_augmentation = tf.keras.Sequential([
        preprocessing.RandomFlip("horizontal"),
        preprocessing.RandomRotation(0.1),
    ])
    model = tf.keras.Sequential([
        tf.keras.Input((16, 16, 3)),
        data_augmentation,
        preprocessing.Rescaling(1.0 / 255),
        layers.Conv2D(8, 3, activation="relu"),
        layers.GlobalAveragePooling2D(),
        layers.Dense(2),
    ])
    model.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    x = (rng.random((64, 16, 16, 3)) * 255).astype(np.float32)
    y = (x[..., 0].mean(axis=(1, 2)) > 127.5).astype(np.int64)
    hist = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert len(hist.history["loss"]) == 2 and np.isfinite(hist.history["loss"]).all()
    # augmentation is off at inference: the same input gives the same prediction
    np.testing.assert_array_equal(model.predict(x[:4], verbose=0), model.predict(x[:4], verbose=0))
