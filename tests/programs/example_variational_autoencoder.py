"""keras-io examples/generative/vae (a convolutional variational autoencoder: a Sampling layer
with its own SeedGenerator, an encoder with three outputs, a Conv2DTranspose decoder, and a
Model subclass whose train_step differentiates reconstruction + KL loss with a GradientTape and
reports them through Mean trackers), imports changed. MNIST's 70,000 digits become 512
Fashion-MNIST images and 30 epochs become 4, with Adam's learning rate raised to 5e-3."""
import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import ops
from corenn.keras import layers

keras.utils.set_random_seed(0)


class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


latent_dim = 2

encoder_inputs = keras.Input(shape=(28, 28, 1))
x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
x = layers.Flatten()(x)
x = layers.Dense(16, activation="relu")(x)
z_mean = layers.Dense(latent_dim, name="z_mean")(x)
z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
z = Sampling()([z_mean, z_log_var])
encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")
encoder.summary()

latent_inputs = keras.Input(shape=(latent_dim,))
x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
x = layers.Reshape((7, 7, 64))(x)
x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
decoder = keras.Model(latent_inputs, decoder_outputs, name="decoder")
decoder.summary()


class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(
            name="reconstruction_loss"
        )
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [
            self.total_loss_tracker,
            self.reconstruction_loss_tracker,
            self.kl_loss_tracker,
        ]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(
                ops.sum(
                    keras.losses.binary_crossentropy(data, reconstruction),
                    axis=(1, 2),
                )
            )
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {
            "loss": self.total_loss_tracker.result(),
            "reconstruction_loss": self.reconstruction_loss_tracker.result(),
            "kl_loss": self.kl_loss_tracker.result(),
        }


(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
mnist_digits = np.concatenate([x_train[:448], x_test[:64]], axis=0)
mnist_digits = np.expand_dims(mnist_digits, -1).astype("float32") / 255

vae = VAE(encoder, decoder)
vae.compile(optimizer=keras.optimizers.Adam(5e-3))
history = vae.fit(mnist_digits, epochs=4, batch_size=32, verbose=0)   # the example: batch_size=128
print({k: [round(v, 2) for v in vals] for k, vals in history.history.items()})

# the trackers reset every epoch, so each epoch's value is that epoch's mean
rec = history.history["reconstruction_loss"]
assert set(history.history) == {"loss", "reconstruction_loss", "kl_loss"}
assert rec[-1] < 0.85 * rec[0], rec
np.testing.assert_allclose(history.history["loss"],
                           np.add(rec, history.history["kl_loss"]), rtol=1e-4)
assert all(k >= 0 for k in history.history["kl_loss"])   # a KL divergence

# "Display a grid of sampled digits": decode points of the latent plane
z_sample = np.array([[0.5, -0.5]])
x_decoded = vae.decoder.predict(z_sample, verbose=0)
assert x_decoded.shape == (1, 28, 28, 1) and 0 < x_decoded.min() and x_decoded.max() < 1
digit = x_decoded[0].reshape(28, 28)

# "Display how the latent space clusters different digit classes"
z_mean, _, _ = vae.encoder.predict(mnist_digits[:256], verbose=0)
assert z_mean.shape == (256, 2) and np.isfinite(z_mean).all()
# trained reconstructions are closer to their images than the mean image is
recon = vae.decoder.predict(z_mean, verbose=0)
images = mnist_digits[:256]
mean_image = np.broadcast_to(mnist_digits.mean(axis=0), images.shape)
err_model = np.mean((recon - images) ** 2)
err_mean = np.mean((mean_image - images) ** 2)
print("reconstruction MSE", err_model, "mean-image MSE", err_mean)
assert err_model < 0.9 * err_mean, (err_model, err_mean)
