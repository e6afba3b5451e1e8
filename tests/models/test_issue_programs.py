"""The programs that opened the graph-models issue, run as a user runs them (imports changed
only), on real Fashion-MNIST data (apt package dataset-fashion-mnist, as the README installs)."""
import numpy as np
import pytest

import corenn as tf


@pytest.fixture(scope="module")
def fashion():
    try:
        (x_train, y_train), (x_test, y_test) = tf.keras.datasets.fashion_mnist.load_data()
    except (OSError, ValueError) as exc:  # pragma: no cover - the README's set-up installs it
        pytest.fail(f"Fashion-MNIST is missing ({exc}); install dataset-fashion-mnist as the README says")
    x_train, x_test = x_train / 255.0, x_test / 255.0
    return (x_train[..., tf.newaxis].astype("float32"), y_train,
            x_test[..., tf.newaxis].astype("float32"), y_test)


class MyModel(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.flatten = tf.keras.layers.Flatten()
        self.dense1 = tf.keras.layers.Dense(units=64, activation="relu")
        self.dense2 = tf.keras.layers.Dense(units=10)

    def call(self, inputs):
        return self.dense2(self.dense1(self.flatten(inputs)))


def test_subclassed_model_with_gradient_tape_reaches_83_percent_in_two_epochs(fashion):
    x_train, y_train, x_test, y_test = fashion
    tf.utils.set_random_seed(0)
    model = MyModel()
    optimizer = tf.keras.optimizers.Adam()
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            predictions = model(images, training=True)
            loss = loss_fn(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    rng = np.random.default_rng(0)
    first_losses = []
    for epoch in range(2):
        order = rng.permutation(len(x_train))
        for lo in range(0, len(order), 32):
            idx = order[lo:lo + 32]
            loss = train_step(x_train[idx], y_train[idx])
            if epoch == 0 and lo < 32 * 20:
                first_losses.append(float(loss))
    assert len(model.trainable_variables) == 4
    accuracy = float((np.argmax(model.predict(x_test, batch_size=1000), -1) == y_test).mean())
    assert accuracy >= 0.83, accuracy
    assert first_losses[0] > 1.5  # it started from chance (ln 10 = 2.3) and learned
