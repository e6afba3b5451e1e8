"""A TensorFlow-tutorial-style program ("Load NumPy data" with a tf.data pipeline), imports
changed only: train, validate and evaluate from Dataset pipelines on a Fashion-MNIST subset."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras


@pytest.fixture(scope="module")
def fashion():
    try:
        return tf.keras.datasets.fashion_mnist.load_data()
    except (OSError, ValueError) as exc:  # pragma: no cover - the README's set-up installs it
        pytest.fail(f"Fashion-MNIST is missing ({exc}); install dataset-fashion-mnist as the README says")


def test_fit_from_a_tf_data_pipeline_learns_fashion_mnist(fashion):
    (train_examples, train_labels), (test_examples, test_labels) = fashion
    tf.keras.utils.set_random_seed(0)

    train_dataset = tf.data.Dataset.from_tensor_slices((train_examples[:6000], train_labels[:6000]))
    test_dataset = tf.data.Dataset.from_tensor_slices((test_examples[:2000], test_labels[:2000]))

    BATCH_SIZE = 64
    SHUFFLE_BUFFER_SIZE = 1000
    AUTOTUNE = tf.data.AUTOTUNE

    def add_channel(images, labels):
        return keras.ops.expand_dims(images, -1), labels

    train_dataset = (train_dataset.cache()
                     .shuffle(SHUFFLE_BUFFER_SIZE)
                     .batch(BATCH_SIZE)
                     .map(add_channel, num_parallel_calls=AUTOTUNE)
                     .prefetch(AUTOTUNE))
    test_dataset = test_dataset.batch(BATCH_SIZE).map(add_channel).prefetch(AUTOTUNE)

    for images, labels in train_dataset.take(1):
        assert images.numpy().shape == (BATCH_SIZE, 28, 28, 1)
        assert labels.numpy().shape == (BATCH_SIZE,)
    assert tf.data.experimental.cardinality(train_dataset).numpy() == 6000 // BATCH_SIZE + 1

    model = tf.keras.Sequential([
        tf.keras.layers.Input(shape=(28, 28, 1)),
        tf.keras.layers.Rescaling(1.0 / 255),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dense(10),
    ])
    model.compile(optimizer=tf.keras.optimizers.RMSprop(),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["sparse_categorical_accuracy"])
    history = model.fit(train_dataset, epochs=2, validation_data=test_dataset, verbose=0)

    loss, accuracy = model.evaluate(test_dataset, verbose=0)
    assert accuracy >= 0.75, accuracy
    assert history.history["loss"][1] < history.history["loss"][0]
    assert history.history["val_sparse_categorical_accuracy"][-1] == pytest.approx(accuracy)
    predictions = model.predict(test_dataset.take(2))
    assert predictions.shape == (2 * BATCH_SIZE, 10)
    assert np.mean(np.argmax(predictions, -1) == test_labels[:2 * BATCH_SIZE]) >= 0.6
