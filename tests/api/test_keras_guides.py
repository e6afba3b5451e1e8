"""Short programs written the way Keras' guides and keras.io examples write them, with only the
imports changed (``from corenn import keras``; ``import corenn as tf``). Each trains and checks
a result against something independent of corenn (chance level, NumPy statistics, a
NumPy-computed accuracy)."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras, ops
from corenn.keras import layers


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)   # as the guides do: the initial weights are reproducible


def test_convolutional_autoencoder_with_conv2d_transpose():
    # keras.io "Convolutional autoencoder for image denoising", on synthetic 28x28 images
    rng = np.random.default_rng(0)
    x = rng.random((256, 28, 28, 1)).astype("float32") * 0.2
    for i, (r, c) in enumerate(rng.integers(2, 14, (256, 2))):
        x[i, r:r + 12, c:c + 12, :] += 0.75        # one bright square per image
    input = layers.Input(shape=(28, 28, 1))
    h = layers.Conv2D(16, (3, 3), activation="relu", padding="same")(input)
    h = layers.MaxPooling2D((2, 2), padding="same")(h)
    h = layers.Conv2D(16, (3, 3), activation="relu", padding="same")(h)
    h = layers.MaxPooling2D((2, 2), padding="same")(h)
    h = layers.Conv2DTranspose(16, (3, 3), strides=2, activation="relu", padding="same")(h)
    h = layers.Conv2DTranspose(16, (3, 3), strides=2, activation="relu", padding="same")(h)
    h = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(h)
    autoencoder = keras.Model(input, h)
    autoencoder.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    history = autoencoder.fit(x, x, epochs=8, batch_size=32, shuffle=True, verbose=0)
    pred = autoencoder.predict(x[:64], verbose=0)
    assert pred.shape == (64, 28, 28, 1)
    mse = float(np.mean((pred - x[:64]) ** 2))
    baseline = float(np.mean((x[:64] - x.mean(axis=0)) ** 2))   # the best image-independent guess
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert mse < 0.5 * baseline, (mse, baseline)


def test_sequence_to_sequence_with_repeat_vector_and_time_distributed():
    # keras.io "Sequence to sequence learning for performing number addition", as a reversal task
    rng = np.random.default_rng(1)
    symbols, steps = 6, 4
    seqs = rng.integers(0, symbols, (2000, steps))
    x = np.eye(symbols, dtype="float32")[seqs]
    y = np.eye(symbols, dtype="float32")[seqs[:, ::-1]]
    model = keras.Sequential()
    model.add(layers.Input((steps, symbols)))
    model.add(layers.LSTM(64))
    model.add(layers.RepeatVector(steps))
    model.add(layers.LSTM(64, return_sequences=True))
    model.add(layers.TimeDistributed(layers.Dense(symbols, activation="softmax")))
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.Adam(3e-3), metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=12, validation_split=0.1, verbose=0)
    pred = model.predict(x[-200:], verbose=0)
    per_step = float(np.mean(pred.argmax(-1) == seqs[-200:, ::-1]))
    assert per_step > 0.9, per_step                    # chance is 1/6
    assert abs(history.history["val_accuracy"][-1] - per_step) < 0.05   # the metric is per step, <= 1


def test_training_loop_from_scratch_with_metric_objects():
    # Keras guide "Writing a training loop from scratch"
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    x_train = np.reshape(x_train[:6000], (-1, 784)).astype("float32") / 255
    y_train = y_train[:6000]
    x_val = np.reshape(x_test[:1000], (-1, 784)).astype("float32") / 255
    y_val = y_test[:1000]
    inputs = keras.Input(shape=(784,), name="digits")
    x1 = layers.Dense(64, activation="relu")(inputs)
    x2 = layers.Dense(64, activation="relu")(x1)
    outputs = layers.Dense(10, name="predictions")(x2)
    model = keras.Model(inputs=inputs, outputs=outputs)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
    val_acc_metric = keras.metrics.SparseCategoricalAccuracy()
    loss_tracker = keras.metrics.Mean(name="loss")

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss_value = loss_fn(y, logits)
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        train_acc_metric.update_state(y, logits)
        loss_tracker.update_state(loss_value)
        return loss_value

    batch_size = 64
    for epoch in range(2):
        losses = [float(train_step(x_train[s:s + batch_size], y_train[s:s + batch_size]))
                  for s in range(0, len(x_train), batch_size)]
        np.testing.assert_allclose(float(loss_tracker.result()), np.mean(losses), rtol=1e-5)
        assert 0.0 < float(train_acc_metric.result()) <= 1.0
        train_acc_metric.reset_state()
        loss_tracker.reset_states()
    for s in range(0, len(x_val), batch_size):
        val_acc_metric.update_state(y_val[s:s + batch_size], model(x_val[s:s + batch_size], training=False))
    logits = model(x_val).numpy()
    np.testing.assert_allclose(float(val_acc_metric.result()), np.mean(logits.argmax(1) == y_val), rtol=1e-6)
    assert float(val_acc_metric.result()) > 0.75
    assert float(train_acc_metric.result()) == 0.0    # reset_state cleared it


def test_normalization_and_rescaling_front_ends():
    # Keras guide "Working with preprocessing layers"
    rng = np.random.default_rng(2)
    x = rng.normal(loc=50.0, scale=20.0, size=(1024, 8)).astype("float32")
    y = (x[:, 0] - 50 + 0.5 * (x[:, 1] - 50) > 0).astype("float32")
    norm = layers.Normalization()
    norm.adapt(x)
    np.testing.assert_allclose(np.asarray(norm(x)).mean(axis=0), 0.0, atol=1e-3)
    np.testing.assert_allclose(np.asarray(norm(x)).std(axis=0), 1.0, rtol=1e-3)
    model = keras.Sequential([keras.Input((8,)), norm, layers.Dense(16, activation="relu"),
                              layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy",
                  metrics=["accuracy", keras.metrics.AUC()])
    history = model.fit(x, y, epochs=10, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.9 and history.history["auc"][-1] > 0.95

    img = rng.integers(0, 256, size=(64, 16, 16, 3)).astype("float32")
    labels = (img[:, :8].mean(axis=(1, 2, 3)) > img[:, 8:].mean(axis=(1, 2, 3))).astype("int64")
    inputs = keras.Input(shape=(16, 16, 3))
    z = layers.Rescaling(1.0 / 255)(inputs)
    z = layers.Conv2D(8, 3, activation="relu")(z)
    z = layers.GlobalAveragePooling2D()(z)
    front = keras.Model(inputs, layers.Dense(2)(z))
    front.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    front.fit(img, labels, epochs=1, verbose=0)
    scaled_model = keras.Model(inputs, front.layers[1].output)     # the Rescaling output
    np.testing.assert_allclose(scaled_model.predict(img[:2], verbose=0), img[:2] / 255, rtol=1e-6)


def test_transformer_text_classifier():
    # keras.io "Text classification with Transformer", on synthetic tokens
    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
            super().__init__()
            self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = layers.Dropout(rate)
            self.dropout2 = layers.Dropout(rate)

        def call(self, inputs):
            attn_output = self.att(inputs, inputs)
            attn_output = self.dropout1(attn_output)
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.ffn(out1)
            ffn_output = self.dropout2(ffn_output)
            return self.layernorm2(out1 + ffn_output)

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim):
            super().__init__()
            self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x):
            maxlen = ops.shape(x)[-1]
            positions = ops.arange(start=0, stop=maxlen, step=1)
            positions = self.pos_emb(positions)
            x = self.token_emb(x)
            return x + positions

    vocab_size, maxlen = 200, 20
    rng = np.random.default_rng(3)
    lengths = rng.integers(8, maxlen + 1, 1200)
    seqs = [list(rng.integers(8, vocab_size, n)) for n in lengths]
    y = rng.integers(0, 2, 1200)
    for s, label in zip(seqs, y):      # class 1: a marker token somewhere in the text
        if label:
            s[rng.integers(0, len(s))] = 7
    x = keras.utils.pad_sequences(seqs, maxlen=maxlen)
    inputs = layers.Input(shape=(maxlen,))
    h = TokenAndPositionEmbedding(maxlen, vocab_size, 32)(inputs)
    h = TransformerBlock(32, 2, 32)(h)
    h = layers.GlobalAveragePooling1D()(h)
    h = layers.Dropout(0.1)(h)
    h = layers.Dense(20, activation="relu")(h)
    h = layers.Dropout(0.1)(h)
    outputs = layers.Dense(2, activation="softmax")(h)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x[:1000], y[:1000], batch_size=32, epochs=6, validation_split=0.2, verbose=0)
    test_acc = float(np.mean(model.predict(x[1000:], verbose=0).argmax(1) == y[1000:]))
    assert test_acc > 0.85, (test_acc, history.history)   # chance 0.5


def test_gan_train_step_fits_on_x_alone():
    # Keras guide "Customizing what happens in fit()": a GAN whose model has no call of its own;
    # fit(x) passes each batch of x alone to train_step
    latent_dim = 4
    discriminator = keras.Sequential([keras.Input(shape=(8,)), layers.Dense(16), layers.LeakyReLU(negative_slope=0.2),
                                      layers.Dense(1)], name="discriminator")
    generator = keras.Sequential([keras.Input(shape=(latent_dim,)), layers.Dense(16),
                                  layers.LeakyReLU(negative_slope=0.2), layers.Dense(8)], name="generator")
    seen = []

    class GAN(keras.Model):
        def __init__(self, discriminator, generator, latent_dim):
            super().__init__()
            self.discriminator, self.generator, self.latent_dim = discriminator, generator, latent_dim
            self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
            self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

        def train_step(self, real):
            seen.append(tuple(real.shape))
            batch_size = ops.shape(real)[0]
            z = keras.random.normal(shape=(batch_size, self.latent_dim))
            combined = ops.concatenate([self.generator(z), real], axis=0)
            labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
            with tf.GradientTape() as tape:
                d_loss = self.loss_fn(labels, self.discriminator(combined))
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
            z = keras.random.normal(shape=(batch_size, self.latent_dim))
            with tf.GradientTape() as tape:
                g_loss = self.loss_fn(ops.zeros((batch_size, 1)), self.discriminator(self.generator(z)))
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    gan = GAN(discriminator, generator, latent_dim)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3),
                loss_fn=keras.losses.BinaryCrossentropy(from_logits=True))
    before = [w.copy() for w in generator.get_weights()]
    real = (np.random.default_rng(5).normal(size=(96, 8)) + 3.0).astype("float32")
    history = gan.fit(real, epochs=2, batch_size=32, verbose=0)
    assert seen[:3] == [(32, 8)] * 3 and len(seen) == 6
    assert set(history.history) == {"d_loss", "g_loss"}
    assert all(np.isfinite(v) for vs in history.history.values() for v in vs)
    assert any(not np.array_equal(a, b) for a, b in zip(before, generator.get_weights()))
