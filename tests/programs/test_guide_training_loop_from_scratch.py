"""Keras guide "Writing a training loop from scratch" (TensorFlow flavour:
keras.io/guides/writing_a_custom_training_loop_in_tensorflow), imports changed only."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras, layers, ops

from guide_data import fashion


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(6)


def get_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x1 = keras.layers.Dense(64, activation="relu")(inputs)
    x2 = keras.layers.Dense(64, activation="relu")(x1)
    outputs = keras.layers.Dense(10, name="predictions")(x2)
    return keras.Model(inputs=inputs, outputs=outputs)


def _batches(x, y, batch_size, shuffle_seed=None):
    order = np.arange(len(x))
    if shuffle_seed is not None:
        np.random.default_rng(shuffle_seed).shuffle(order)
    for i in range(0, len(x), batch_size):
        idx = order[i:i + batch_size]
        yield x[idx], y[idx]


def _data():
    (x_train, y_train), (x_test, y_test) = fashion()
    x_train = np.reshape(x_train, (-1, 784)).astype("float32") / 255
    x_test = np.reshape(x_test, (-1, 784)).astype("float32") / 255
    return (x_train, y_train), (x_test, y_test)


def test_loop_with_metrics_and_tf_function():
    model = get_model()
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
    val_acc_metric = keras.metrics.SparseCategoricalAccuracy()
    (x_train, y_train), (x_val, y_val) = _data()

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss_value = loss_fn(y, logits)
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        train_acc_metric.update_state(y, logits)
        return loss_value

    @tf.function
    def test_step(x, y):
        val_logits = model(x, training=False)
        val_acc_metric.update_state(y, val_logits)

    accs, val_accs = [], []
    for epoch in range(2):
        for step, (x_batch_train, y_batch_train) in enumerate(_batches(x_train, y_train, 64, epoch)):
            loss_value = train_step(x_batch_train, y_batch_train)
            assert np.isfinite(float(loss_value))
        accs.append(float(train_acc_metric.result()))
        train_acc_metric.reset_state()
        for x_batch_val, y_batch_val in _batches(x_val, y_val, 64):
            test_step(x_batch_val, y_batch_val)
        val_accs.append(float(val_acc_metric.result()))
        val_acc_metric.reset_state()
    assert accs[-1] > accs[0]
    expected = np.mean(np.argmax(model.predict(x_val, verbose=0), -1) == y_val)
    np.testing.assert_allclose(val_accs[-1], expected, rtol=1e-6)
    assert val_accs[-1] > 0.7


class ActivityRegularizationLayer(keras.layers.Layer):
    def call(self, inputs):
        self.add_loss(1e-2 * tf.reduce_sum(inputs))
        return inputs


def test_loop_with_layer_losses():
    inputs = keras.Input(shape=(784,), name="digits")
    x = keras.layers.Dense(64, activation="relu")(inputs)
    x = ActivityRegularizationLayer()(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    outputs = keras.layers.Dense(10, name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    (x_train, y_train), _ = _data()
    first = last = None
    for step, (x, y) in enumerate(_batches(x_train[:3200], y_train[:3200], 64, 0)):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss_value = loss_fn(y, logits)
            loss_value += sum(model.losses)
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        first = float(loss_value) if first is None else first
        last = float(loss_value)
    assert len(model.losses) == 1
    assert last < first


def test_gan_loop_end_to_end():
    discriminator = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(16, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.GlobalMaxPooling2D(),
        layers.Dense(1),
    ], name="discriminator")
    latent_dim = 16
    generator = keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        layers.Dense(7 * 7 * 8),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Reshape((7, 7, 8)),
        layers.Conv2DTranspose(8, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(8, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, (7, 7), padding="same", activation="sigmoid"),
    ], name="generator")
    d_optimizer = keras.optimizers.Adam(learning_rate=0.0003)
    g_optimizer = keras.optimizers.Adam(learning_rate=0.0004)
    loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def train_step(real_images):
        random_latent_vectors = tf.random.normal(shape=(batch_size, latent_dim))
        generated_images = generator(random_latent_vectors)
        combined_images = tf.concat([generated_images, real_images], axis=0)
        labels = tf.concat([tf.ones((batch_size, 1)), tf.zeros((real_images.shape[0], 1))], axis=0)
        labels += 0.05 * tf.random.uniform(labels.shape)
        with tf.GradientTape() as tape:
            predictions = discriminator(combined_images)
            d_loss = loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, discriminator.trainable_weights)
        d_optimizer.apply_gradients(zip(grads, discriminator.trainable_weights))
        random_latent_vectors = tf.random.normal(shape=(batch_size, latent_dim))
        misleading_labels = tf.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            predictions = discriminator(generator(random_latent_vectors))
            g_loss = loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, generator.trainable_weights)
        g_optimizer.apply_gradients(zip(grads, generator.trainable_weights))
        return d_loss, g_loss, generated_images

    batch_size = 32
    (x_train, _), _ = fashion()
    all_digits = x_train[:320].astype("float32").reshape(-1, 28, 28, 1) / 255.0
    d_losses = []
    for step in range(0, len(all_digits), batch_size):
        d_loss, g_loss, generated_images = train_step(all_digits[step:step + batch_size])
        d_losses.append(float(d_loss))
    assert tuple(generated_images.shape) == (batch_size, 28, 28, 1)
    assert np.all(np.isfinite(d_losses))
    assert d_losses[-1] < d_losses[0]      # the discriminator learns to tell them apart
