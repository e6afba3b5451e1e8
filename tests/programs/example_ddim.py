"""keras.io example "Denoising Diffusion Implicit Models" (DDIM), imports changed, at toy size: a
residual U-Net built with the functional API from closures (two inputs: noisy images and noise
variances; a Lambda sinusoidal embedding written with tf.exp / tf.linspace / tf.sin / tf.cos /
tf.concat; UpSampling2D nearest to the image size and bilinear in the up blocks; BatchNormalization
without center and scale; swish convolutions; Add and Concatenate skips; a zero-initialised last
conv), a DiffusionModel subclass with its own compile, a metrics property, a Normalization layer
adapted on the data, keras.models.clone_model for the EMA network, a train_step whose tape
differentiates the inner network only and then assigns the exponential moving average weight by
weight, a test_step on the EMA network, and deterministic reverse diffusion for sampling.
The KID metric (an InceptionV3 on real images) is left out."""
import math

import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(1)
image_size = 8
batch_size = 16
embedding_dims = 8
embedding_max_frequency = 100.0
min_signal_rate, max_signal_rate = 0.02, 0.95
ema = 0.9
widths, block_depth = [8, 16], 1

rng = np.random.default_rng(1)
yy, xx = np.mgrid[0:image_size, 0:image_size] / (image_size - 1)
images = []
for _ in range(256):   # smooth colour gradients: an easy image distribution
    a, b, c = rng.uniform(0.0, 1.0, 3)
    img = np.stack([a * xx + (1 - a) * yy, b * yy, c * np.ones_like(xx)], axis=-1)
    images.append(img)
images = np.clip(np.asarray(images, "float32"), 0.0, 1.0)


def sinusoidal_embedding(x):
    embedding_min_frequency = 1.0
    frequencies = tf.exp(tf.linspace(tf.math.log(embedding_min_frequency),
                                     tf.math.log(embedding_max_frequency), embedding_dims // 2))
    angular_speeds = 2.0 * math.pi * frequencies
    return tf.concat([tf.sin(angular_speeds * x), tf.cos(angular_speeds * x)], axis=3)


def ResidualBlock(width):
    def apply(x):
        input_width = x.shape[3]
        residual = x if input_width == width else layers.Conv2D(width, kernel_size=1)(x)
        x = layers.BatchNormalization(center=False, scale=False)(x)
        x = layers.Conv2D(width, kernel_size=3, padding="same", activation=keras.activations.swish)(x)
        x = layers.Conv2D(width, kernel_size=3, padding="same")(x)
        return layers.Add()([x, residual])
    return apply


def DownBlock(width, block_depth):
    def apply(x):
        x, skips = x
        for _ in range(block_depth):
            x = ResidualBlock(width)(x)
            skips.append(x)
        return layers.AveragePooling2D(pool_size=2)(x)
    return apply


def UpBlock(width, block_depth):
    def apply(x):
        x, skips = x
        x = layers.UpSampling2D(size=2, interpolation="bilinear")(x)
        for _ in range(block_depth):
            x = layers.Concatenate()([x, skips.pop()])
            x = ResidualBlock(width)(x)
        return x
    return apply


def get_network(image_size, widths, block_depth):
    noisy_images = keras.Input(shape=(image_size, image_size, 3))
    noise_variances = keras.Input(shape=(1, 1, 1))
    e = layers.Lambda(sinusoidal_embedding)(noise_variances)
    e = layers.UpSampling2D(size=image_size, interpolation="nearest")(e)
    x = layers.Conv2D(widths[0], kernel_size=1)(noisy_images)
    x = layers.Concatenate()([x, e])
    skips = []
    for width in widths[:-1]:
        x = DownBlock(width, block_depth)([x, skips])
    for _ in range(block_depth):
        x = ResidualBlock(widths[-1])(x)
    for width in reversed(widths[:-1]):
        x = UpBlock(width, block_depth)([x, skips])
    x = layers.Conv2D(3, kernel_size=1, kernel_initializer="zeros")(x)
    return keras.Model([noisy_images, noise_variances], x, name="residual_unet")


class DiffusionModel(keras.Model):
    def __init__(self, image_size, widths, block_depth):
        super().__init__()
        self.normalizer = layers.Normalization()
        self.network = get_network(image_size, widths, block_depth)
        self.ema_network = keras.models.clone_model(self.network)

    def compile(self, **kwargs):
        super().compile(**kwargs)
        self.noise_loss_tracker = keras.metrics.Mean(name="n_loss")
        self.image_loss_tracker = keras.metrics.Mean(name="i_loss")

    @property
    def metrics(self):
        return [self.noise_loss_tracker, self.image_loss_tracker]

    def denormalize(self, images):
        images = self.normalizer.mean + images * self.normalizer.variance ** 0.5
        return tf.clip_by_value(images, 0.0, 1.0)

    def diffusion_schedule(self, diffusion_times):
        start_angle = tf.acos(max_signal_rate)
        end_angle = tf.acos(min_signal_rate)
        diffusion_angles = start_angle + diffusion_times * (end_angle - start_angle)
        return tf.sin(diffusion_angles), tf.cos(diffusion_angles)

    def denoise(self, noisy_images, noise_rates, signal_rates, training):
        network = self.network if training else self.ema_network
        pred_noises = network([noisy_images, noise_rates ** 2], training=training)
        pred_images = (noisy_images - noise_rates * pred_noises) / signal_rates
        return pred_noises, pred_images

    def reverse_diffusion(self, initial_noise, diffusion_steps):
        num_images = initial_noise.shape[0]
        step_size = 1.0 / diffusion_steps
        next_noisy_images = initial_noise
        for step in range(diffusion_steps):
            noisy_images = next_noisy_images
            diffusion_times = tf.ones((num_images, 1, 1, 1)) - step * step_size
            noise_rates, signal_rates = self.diffusion_schedule(diffusion_times)
            pred_noises, pred_images = self.denoise(noisy_images, noise_rates, signal_rates, training=False)
            next_noise_rates, next_signal_rates = self.diffusion_schedule(diffusion_times - step_size)
            next_noisy_images = next_signal_rates * pred_images + next_noise_rates * pred_noises
        return pred_images

    def generate(self, num_images, diffusion_steps):
        initial_noise = tf.random.normal(shape=(num_images, image_size, image_size, 3))
        return self.denormalize(self.reverse_diffusion(initial_noise, diffusion_steps))

    def train_step(self, images):
        images = self.normalizer(images, training=True)
        noises = tf.random.normal(shape=(batch_size, image_size, image_size, 3))
        diffusion_times = tf.random.uniform(shape=(batch_size, 1, 1, 1), minval=0.0, maxval=1.0)
        noise_rates, signal_rates = self.diffusion_schedule(diffusion_times)
        noisy_images = signal_rates * images + noise_rates * noises
        with tf.GradientTape() as tape:
            pred_noises, pred_images = self.denoise(noisy_images, noise_rates, signal_rates, training=True)
            noise_loss = self.loss(noises, pred_noises)
            image_loss = self.loss(images, pred_images)
        gradients = tape.gradient(noise_loss, self.network.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.network.trainable_weights))
        self.noise_loss_tracker.update_state(noise_loss)
        self.image_loss_tracker.update_state(image_loss)
        for weight, ema_weight in zip(self.network.weights, self.ema_network.weights):
            ema_weight.assign(ema * ema_weight + (1 - ema) * weight)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, images):
        images = self.normalizer(images, training=False)
        noises = tf.random.normal(shape=(batch_size, image_size, image_size, 3))
        diffusion_times = tf.random.uniform(shape=(batch_size, 1, 1, 1), minval=0.0, maxval=1.0)
        noise_rates, signal_rates = self.diffusion_schedule(diffusion_times)
        noisy_images = signal_rates * images + noise_rates * noises
        pred_noises, pred_images = self.denoise(noisy_images, noise_rates, signal_rates, training=False)
        self.image_loss_tracker.update_state(self.loss(images, pred_images))
        self.noise_loss_tracker.update_state(self.loss(noises, pred_noises))
        return {m.name: m.result() for m in self.metrics}


model = DiffusionModel(image_size, widths, block_depth)
model.compile(optimizer=keras.optimizers.AdamW(learning_rate=2e-3, weight_decay=1e-4),
              loss=keras.losses.mean_absolute_error)
model.normalizer.adapt(images)
np.testing.assert_allclose(np.asarray(model.normalizer.mean).ravel(), images.mean(axis=(0, 1, 2)), rtol=1e-4)
assert model.network.output_shape == (None, image_size, image_size, 3)
assert len(model.network.inputs) == 2

# the zero-initialised last conv: the network starts by predicting zeros, so the noise loss
# (MAE against unit normals) starts near E|N(0,1)| = 0.80
history = model.fit(images, epochs=6, batch_size=batch_size, verbose=0)
losses = history.history["n_loss"]
assert 0.6 < losses[0] < 0.9, losses
assert losses[-1] < 0.8 * losses[0], losses

# the EMA network follows the trained one without equalling it
net_w, ema_w = model.network.get_weights(), model.ema_network.get_weights()
assert len(net_w) == len(ema_w)
gap = max(float(np.max(np.abs(a - b))) for a, b in zip(net_w, ema_w))
assert 0.0 < gap < 1.0, gap

val = model.evaluate(images[:64], batch_size=batch_size, verbose=0, return_dict=True)
assert set(val) >= {"n_loss", "i_loss"} and np.isfinite(val["n_loss"])

generated = np.asarray(model.generate(num_images=4, diffusion_steps=5))
assert generated.shape == (4, image_size, image_size, 3)
assert np.all(np.isfinite(generated)) and generated.min() >= 0.0 and generated.max() <= 1.0
