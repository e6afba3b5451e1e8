"""keras-io examples/generative/dcgan_overriding_train_step, imports changed: images read with
image_dataset_from_directory(label_mode=None) and scaled in a map, a Conv2D / LeakyReLU
discriminator and a Conv2DTranspose generator, a GAN Model subclass with its own compile
(two optimizers, a loss function, Mean trackers) and a train_step with two GradientTapes, and a
callback that saves generated images with array_to_img. CelebA becomes 96 synthetic 16x16 PNG
"faces" (a bright oval on a dark background); widths are a quarter of the example's, latent
size 32, 2 epochs."""
import os

import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers
from corenn.keras import ops

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)

os.makedirs("celeba_gan/img", exist_ok=True)
yy, xx = np.mgrid[:16, :16]
for i in range(96):
    cy, cx = rng.uniform(6, 10, 2)
    face = (((yy - cy) / 5.5) ** 2 + ((xx - cx) / 4.0) ** 2 < 1)[..., None] * rng.uniform(0.6, 1.0, 3)
    img = np.clip(face + rng.normal(0, 0.05, (16, 16, 3)), 0, 1) * 255
    keras.utils.save_img(f"celeba_gan/img/{i:03d}.png", img, scale=False)

dataset = keras.utils.image_dataset_from_directory(
    "celeba_gan", label_mode=None, image_size=(16, 16), batch_size=32
)
dataset = dataset.map(lambda x: x / 255.0)

for x in dataset:
    assert x.shape == (32, 16, 16, 3) and 0.0 <= float(np.min(x)) and float(np.max(x)) <= 1.0
    break

discriminator = keras.Sequential(
    [
        keras.Input(shape=(16, 16, 3)),
        layers.Conv2D(16, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(32, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(32, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Flatten(),
        layers.Dropout(0.2),
        layers.Dense(1, activation="sigmoid"),
    ],
    name="discriminator",
)
discriminator.summary()

latent_dim = 32

generator = keras.Sequential(
    [
        keras.Input(shape=(latent_dim,)),
        layers.Dense(4 * 4 * 32),
        layers.Reshape((4, 4, 32)),
        layers.Conv2DTranspose(32, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(64, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(3, kernel_size=5, padding="same", activation="sigmoid"),
    ],
    name="generator",
)
generator.summary()


class GAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(1337)

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_metric, self.g_loss_metric]

    def train_step(self, real_images):
        # Sample random points in the latent space
        batch_size = ops.shape(real_images)[0]
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )

        # Decode them to fake images
        generated_images = self.generator(random_latent_vectors)

        # Combine them with real images
        combined_images = ops.concatenate([generated_images, real_images], axis=0)

        # Assemble labels discriminating real from fake images
        labels = ops.concatenate(
            [ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0
        )
        # Add random noise to the labels - important trick!
        labels += 0.05 * tf.random.uniform(tf.shape(labels))

        # Train the discriminator
        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(
            zip(grads, self.discriminator.trainable_weights)
        )

        # Sample random points in the latent space
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )

        # Assemble labels that say "all real images"
        misleading_labels = ops.zeros((batch_size, 1))

        # Train the generator (note that we should *not* update the weights
        # of the discriminator)!
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(random_latent_vectors))
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))

        # Update metrics
        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {
            "d_loss": self.d_loss_metric.result(),
            "g_loss": self.g_loss_metric.result(),
        }


class GANMonitor(keras.callbacks.Callback):
    def __init__(self, num_img=3, latent_dim=128):
        self.num_img = num_img
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(42)

    def on_epoch_end(self, epoch, logs=None):
        random_latent_vectors = keras.random.normal(
            shape=(self.num_img, self.latent_dim), seed=self.seed_generator
        )
        generated_images = self.model.generator(random_latent_vectors)
        generated_images *= 255
        generated_images.numpy()
        for i in range(self.num_img):
            img = keras.utils.array_to_img(generated_images[i])
            img.save("generated_img_%03d_%d.png" % (epoch, i))


epochs = 2  # In practice, use ~100 epochs

gan = GAN(discriminator=discriminator, generator=generator, latent_dim=latent_dim)
gan.compile(
    d_optimizer=keras.optimizers.Adam(learning_rate=0.0001),
    g_optimizer=keras.optimizers.Adam(learning_rate=0.0001),
    loss_fn=keras.losses.BinaryCrossentropy(),
)

d_before = [np.array(w) for w in discriminator.get_weights()]
g_before = [np.array(w) for w in generator.get_weights()]
history = gan.fit(
    dataset, epochs=epochs, callbacks=[GANMonitor(num_img=4, latent_dim=latent_dim)], verbose=0
)
print(history.history)
assert set(history.history) == {"d_loss", "g_loss"}
assert all(np.isfinite(v) for vals in history.history.values() for v in vals)
# each optimizer moved its own network
assert any(not np.array_equal(a, b) for a, b in zip(d_before, discriminator.get_weights()))
assert any(not np.array_equal(a, b) for a, b in zip(g_before, generator.get_weights()))
saved = sorted(f for f in os.listdir(".") if f.startswith("generated_img_"))
assert saved == [f"generated_img_{e:03d}_{i}.png" for e in range(epochs) for i in range(4)]
img = keras.utils.img_to_array(keras.utils.load_img(saved[0]))
assert img.shape == (16, 16, 3)
