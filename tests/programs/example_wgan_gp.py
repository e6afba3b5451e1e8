"""keras.io example "WGAN-GP overriding Model.train_step", imports changed: a WGAN subclass with
its own compile(d_optimizer, g_optimizer, d_loss_fn, g_loss_fn), gradient_penalty (interpolated
images, an inner GradientTape watching them, the norm of the critic's input gradient) and a
train_step running d_steps critic updates per generator update. The penalty's gradient w.r.t. the
critic's weights is a second-order derivative: corenn computes the inner gradient with ops the
outer tape records (models/second_order.py). This program trains the example as written, checks
the penalty against a float64 reference and its gradient w.r.t. the critic's weights against
float64 finite differences of that reference, and trains the weight-clipping WGAN too."""
import pathlib
import sys

import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(0)
IMG_SHAPE = (8, 8, 1)
BATCH_SIZE = 32
noise_dim = 16
rng = np.random.default_rng(0)
train_images = np.zeros((128,) + IMG_SHAPE, "float32") - 1.0
for img in train_images:   # "digits": a bright vertical bar at a random column
    c = rng.integers(1, 7)
    img[:, c - 1:c + 1] = 1.0


def get_discriminator_model():
    img_input = layers.Input(shape=IMG_SHAPE)
    x = layers.Conv2D(16, (3, 3), strides=(2, 2), padding="same")(img_input)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(1)(x)
    return keras.models.Model(img_input, x, name="discriminator")


def get_generator_model():
    noise = layers.Input(shape=(noise_dim,))
    x = layers.Dense(4 * 4 * 16, use_bias=False)(noise)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Reshape((4, 4, 16))(x)
    x = layers.UpSampling2D((2, 2))(x)
    x = layers.Conv2D(1, (3, 3), padding="same", activation="tanh")(x)
    return keras.models.Model(noise, x, name="generator")


class WGAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim, discriminator_extra_steps=3, gp_weight=10.0,
                 clip_value=None):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_steps = discriminator_extra_steps
        self.gp_weight = gp_weight
        self.clip_value = clip_value

    def compile(self, d_optimizer, g_optimizer, d_loss_fn, g_loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.d_loss_fn = d_loss_fn
        self.g_loss_fn = g_loss_fn

    def gradient_penalty(self, batch_size, real_images, fake_images):
        """Calculates the gradient penalty.

        This loss is calculated on an interpolated image
        and added to the discriminator loss.
        """
        # Get the interpolated image
        alpha = tf.random.normal([batch_size, 1, 1, 1], 0.0, 1.0)
        diff = fake_images - real_images
        interpolated = real_images + alpha * diff

        with tf.GradientTape() as gp_tape:
            gp_tape.watch(interpolated)
            # 1. Get the discriminator output for this interpolated image.
            pred = self.discriminator(interpolated, training=True)

        # 2. Calculate the gradients w.r.t to this interpolated image.
        grads = gp_tape.gradient(pred, [interpolated])[0]
        # 3. Calculate the norm of the gradients.
        norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))
        gp = tf.reduce_mean((norm - 1.0) ** 2)
        return gp

    def train_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]

        # Get the batch size
        batch_size = tf.shape(real_images)[0]

        for i in range(self.d_steps):
            # Get the latent vector
            random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
            with tf.GradientTape() as tape:
                # Generate fake images from the latent vector
                fake_images = self.generator(random_latent_vectors, training=True)
                # Get the logits for the fake images
                fake_logits = self.discriminator(fake_images, training=True)
                # Get the logits for the real images
                real_logits = self.discriminator(real_images, training=True)

                # Calculate the discriminator loss using the fake and real image logits
                d_cost = self.d_loss_fn(real_img=real_logits, fake_img=fake_logits)
                if self.gp_weight:
                    # Calculate the gradient penalty
                    gp = self.gradient_penalty(batch_size, real_images, fake_images)
                    # Add the gradient penalty to the original discriminator loss
                    d_loss = d_cost + gp * self.gp_weight
                else:
                    d_loss = d_cost

            # Get the gradients w.r.t the discriminator loss
            d_gradient = tape.gradient(d_loss, self.discriminator.trainable_variables)
            # Update the weights of the discriminator using the discriminator optimizer
            self.d_optimizer.apply_gradients(zip(d_gradient, self.discriminator.trainable_variables))
            if self.clip_value:
                for w in self.discriminator.trainable_variables:
                    w.assign(tf.clip_by_value(w, -self.clip_value, self.clip_value))

        # Train the generator
        # Get the latent vector
        random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
        with tf.GradientTape() as tape:
            # Generate fake images using the generator
            generated_images = self.generator(random_latent_vectors, training=True)
            # Get the discriminator logits for fake images
            gen_img_logits = self.discriminator(generated_images, training=True)
            # Calculate the generator loss
            g_loss = self.g_loss_fn(gen_img_logits)

        # Get the gradients w.r.t the generator loss
        gen_gradient = tape.gradient(g_loss, self.generator.trainable_variables)
        # Update the weights of the generator using the generator optimizer
        self.g_optimizer.apply_gradients(zip(gen_gradient, self.generator.trainable_variables))
        return {"d_loss": d_loss, "g_loss": g_loss}


# Define the loss functions for the discriminator,
# which should be (fake_loss - real_loss).
# We will add the gradient penalty later to this loss function.
def discriminator_loss(real_img, fake_img):
    real_loss = tf.reduce_mean(real_img)
    fake_loss = tf.reduce_mean(fake_img)
    return fake_loss - real_loss


# Define the loss functions for the generator.
def generator_loss(fake_img):
    return -tf.reduce_mean(fake_img)


def make_wgan(**kwargs):
    wgan = WGAN(discriminator=get_discriminator_model(), generator=get_generator_model(), latent_dim=noise_dim,
                discriminator_extra_steps=3, **kwargs)
    wgan.compile(d_optimizer=keras.optimizers.Adam(learning_rate=0.0005, beta_1=0.5, beta_2=0.9),
                 g_optimizer=keras.optimizers.Adam(learning_rate=0.0005, beta_1=0.5, beta_2=0.9),
                 g_loss_fn=generator_loss, d_loss_fn=discriminator_loss)
    return wgan


# 1. As written: the critic trains with the gradient penalty
wgan = make_wgan()
history = wgan.fit(train_images, batch_size=BATCH_SIZE, epochs=4, verbose=0)
d_losses = history.history["d_loss"]
print("WGAN-GP critic loss per epoch", [round(v, 4) for v in d_losses])
assert all(np.isfinite(d_losses))
assert d_losses[-1] < d_losses[0]   # the critic's loss, penalty included, falls

# the penalty itself (first order) is computed: against the critic's input gradient in float64
# (tests/reference.py: conv, LeakyReLU', Dense; finite differences would straddle LeakyReLU's kink)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import reference as ref  # noqa: E402

critic = wgan.discriminator
real = train_images[:4]
fake = np.asarray(wgan.generator(tf.random.normal((4, noise_dim)), training=False))
tf.random.set_seed(7)
gp = float(wgan.gradient_penalty(4, tf.constant(real), tf.constant(fake)))
tf.random.set_seed(7)
alpha = tf.random.normal([4, 1, 1, 1], 0.0, 1.0).numpy()
inter = (real + alpha * (fake - real)).astype(np.float64)
conv, dense = critic.layers[1], critic.layers[-1]
z = ref.conv2d_forward(inter, conv.kernel.numpy(), conv.bias.numpy(), strides=(2, 2), padding="same")
dz = np.where(z > 0, 1.0, 0.2) * ref.f64(dense.kernel.numpy())[:, 0].reshape(z.shape[1:])
dx = ref.conv2d_backward_data(dz, conv.kernel.numpy(), inter.shape, strides=(2, 2), padding="same")
norms = np.sqrt((dx ** 2).sum(axis=(1, 2, 3)))
expect = float(np.mean((norms - 1.0) ** 2))
assert abs(gp - expect) < 1e-5 + 1e-4 * expect, (gp, expect)


# the penalty's gradient w.r.t. the critic's kernels (second order) against float64 central
# differences of the reference penalty
def reference_penalty(conv_kernel, conv_bias, dense_kernel):
    z = ref.conv2d_forward(inter, conv_kernel, conv_bias, strides=(2, 2), padding="same")
    dz = np.where(z > 0, 1.0, 0.2) * dense_kernel[:, 0].reshape(z.shape[1:])
    dx = ref.conv2d_backward_data(dz, conv_kernel, inter.shape, strides=(2, 2), padding="same")
    return float(np.mean((np.sqrt((dx ** 2).sum(axis=(1, 2, 3))) - 1.0) ** 2))


params = [ref.f64(conv.kernel.numpy()), ref.f64(conv.bias.numpy()), ref.f64(dense.kernel.numpy())]
with tf.GradientTape() as tape:
    tf.random.set_seed(7)
    gp = wgan.gradient_penalty(4, tf.constant(real), tf.constant(fake))
# (the bias reaches the input gradient only through LeakyReLU's piecewise-constant slope: zero)
got = tape.gradient(gp, [conv.kernel, conv.bias, dense.kernel], unconnected_gradients="zero")
for k, g in enumerate(got):
    num = np.zeros_like(params[k])
    for i in np.ndindex(params[k].shape):
        hi, lo = [p.copy() for p in params], [p.copy() for p in params]
        hi[k][i] += 1e-6
        lo[k][i] -= 1e-6
        num[i] = (reference_penalty(*hi) - reference_penalty(*lo)) / 2e-6
    np.testing.assert_allclose(np.asarray(g), num, rtol=2e-3, atol=1e-4 * max(1.0, np.abs(num).max()))

# 2. The same WGAN with weight clipping (first-order only) trains: the critic separates real from fake
wgan = make_wgan(gp_weight=0.0, clip_value=0.05)
history = wgan.fit(train_images, batch_size=BATCH_SIZE, epochs=6, verbose=0)
d_losses = history.history["d_loss"]
print("critic loss per epoch", [round(v, 4) for v in d_losses])
assert d_losses[-1] < 0   # fake_loss - real_loss: the critic scores real images higher
assert all(np.abs(w.numpy()).max() <= 0.05 + 1e-7 for w in wgan.discriminator.trainable_variables)
