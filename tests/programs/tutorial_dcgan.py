"""TensorFlow tutorial "Deep Convolutional Generative Adversarial Network"
(tensorflow.org/tutorials/generative/dcgan), imports changed (`import corenn as tf`,
`from corenn.keras import layers`): the Sequential generator (Dense without bias, BatchNorm,
LeakyReLU, Reshape, Conv2DTranspose with `output_shape` asserts after each add) and discriminator
(Conv2D, LeakyReLU, Dropout, Flatten, Dense(1)), `BinaryCrossentropy(from_logits=True)` with
`tf.ones_like` / `tf.zeros_like` targets, two Adam optimizers, a `tf.train.Checkpoint` of both
models and both optimizers, a `@tf.function` train step with two GradientTapes opened in one `with`,
the epoch loop that saves every few epochs with `checkpoint.save(file_prefix=...)`, image generation
from a fixed seed with `training=False`, and `checkpoint.restore(tf.train.latest_checkpoint(...))`.
MNIST is replaced by 512 synthetic 16x16 "digits" (a bright vertical stroke at a random column on a
dark background, scaled to [-1, 1]); the networks are narrowed (7x7 -> 4x4 start, 16x16 images),
the noise size is 16, the learning rates 1e-3 to learn in 30 short epochs, and matplotlib / imageio
(figures and the GIF) are replaced by keeping the generated arrays."""
import glob
import numpy as np
import os
from corenn.keras import layers
import time

import corenn as tf

tf.keras.utils.set_random_seed(11)
rng = np.random.default_rng(11)


def make_digits(n):
    images = np.zeros((n, 16, 16), "uint8")
    for i in range(n):
        col = rng.integers(3, 12)
        images[i, 2:14, col:col + 2] = 255
    return images, np.zeros(n, "int64")


(train_images, train_labels) = make_digits(512)

train_images = train_images.reshape(train_images.shape[0], 16, 16, 1).astype('float32')
train_images = (train_images - 127.5) / 127.5  # Normalize the images to [-1, 1]

BUFFER_SIZE = 512
BATCH_SIZE = 64

# Batch and shuffle the data
train_dataset = tf.data.Dataset.from_tensor_slices(train_images).shuffle(BUFFER_SIZE).batch(BATCH_SIZE)


def make_generator_model():
    model = tf.keras.Sequential()
    model.add(layers.Dense(4*4*32, use_bias=False, input_shape=(16,)))
    model.add(layers.BatchNormalization())
    model.add(layers.LeakyReLU())

    model.add(layers.Reshape((4, 4, 32)))
    assert model.output_shape == (None, 4, 4, 32)  # Note: None is the batch size

    model.add(layers.Conv2DTranspose(16, (5, 5), strides=(1, 1), padding='same', use_bias=False))
    assert model.output_shape == (None, 4, 4, 16)
    model.add(layers.BatchNormalization())
    model.add(layers.LeakyReLU())

    model.add(layers.Conv2DTranspose(8, (5, 5), strides=(2, 2), padding='same', use_bias=False))
    assert model.output_shape == (None, 8, 8, 8)
    model.add(layers.BatchNormalization())
    model.add(layers.LeakyReLU())

    model.add(layers.Conv2DTranspose(1, (5, 5), strides=(2, 2), padding='same', use_bias=False, activation='tanh'))
    assert model.output_shape == (None, 16, 16, 1)

    return model


generator = make_generator_model()

noise = tf.random.normal([1, 16])
generated_image = generator(noise, training=False)
assert generated_image.shape == (1, 16, 16, 1)
print("generated", generated_image[0, :, :, 0].shape)


def make_discriminator_model():
    model = tf.keras.Sequential()
    model.add(layers.Conv2D(16, (5, 5), strides=(2, 2), padding='same',
                                     input_shape=[16, 16, 1]))
    model.add(layers.LeakyReLU())
    model.add(layers.Dropout(0.3))

    model.add(layers.Conv2D(32, (5, 5), strides=(2, 2), padding='same'))
    model.add(layers.LeakyReLU())
    model.add(layers.Dropout(0.3))

    model.add(layers.Flatten())
    model.add(layers.Dense(1))

    return model


discriminator = make_discriminator_model()
decision = discriminator(generated_image)
print (decision)
assert decision.shape == (1, 1)

# This method returns a helper function to compute cross entropy loss
cross_entropy = tf.keras.losses.BinaryCrossentropy(from_logits=True)


def discriminator_loss(real_output, fake_output):
    real_loss = cross_entropy(tf.ones_like(real_output), real_output)
    fake_loss = cross_entropy(tf.zeros_like(fake_output), fake_output)
    total_loss = real_loss + fake_loss
    return total_loss


def generator_loss(fake_output):
    return cross_entropy(tf.ones_like(fake_output), fake_output)


# the losses match NumPy's log-sigmoid cross entropy
logits = np.array([[2.0], [-1.0]], "float32")
np.testing.assert_allclose(float(generator_loss(tf.constant(logits))),
                           np.mean(np.log1p(np.exp(-logits))), rtol=1e-5)
np.testing.assert_allclose(float(discriminator_loss(tf.constant(logits), tf.constant(logits))),
                           np.mean(np.log1p(np.exp(-logits))) + np.mean(np.log1p(np.exp(logits))),
                           rtol=1e-5)

generator_optimizer = tf.keras.optimizers.Adam(1e-3)
discriminator_optimizer = tf.keras.optimizers.Adam(1e-3)

checkpoint_dir = './training_checkpoints'
checkpoint_prefix = os.path.join(checkpoint_dir, "ckpt")
checkpoint = tf.train.Checkpoint(generator_optimizer=generator_optimizer,
                                 discriminator_optimizer=discriminator_optimizer,
                                 generator=generator,
                                 discriminator=discriminator)

EPOCHS = 30
noise_dim = 16
num_examples_to_generate = 16

# You will reuse this seed overtime (so it's easier)
# to visualize progress in the animated GIF)
seed = tf.random.normal([num_examples_to_generate, noise_dim])

losses = []


# Notice the use of `tf.function`
# This annotation causes the function to be "compiled".
@tf.function
def train_step(images):
    noise = tf.random.normal([BATCH_SIZE, noise_dim])

    with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
      generated_images = generator(noise, training=True)

      real_output = discriminator(images, training=True)
      fake_output = discriminator(generated_images, training=True)

      gen_loss = generator_loss(fake_output)
      disc_loss = discriminator_loss(real_output, fake_output)

    gradients_of_generator = gen_tape.gradient(gen_loss, generator.trainable_variables)
    gradients_of_discriminator = disc_tape.gradient(disc_loss, discriminator.trainable_variables)

    generator_optimizer.apply_gradients(zip(gradients_of_generator, generator.trainable_variables))
    discriminator_optimizer.apply_gradients(zip(gradients_of_discriminator, discriminator.trainable_variables))
    return gen_loss, disc_loss


generated = {}


def generate_and_save_images(model, epoch, test_input):
  # Notice `training` is set to False.
  # This is so all layers run in inference mode (batchnorm).
  predictions = model(test_input, training=False)

  # (the tutorial plots the 16 images and saves a PNG per epoch)
  generated[epoch] = np.asarray(predictions[:, :, :, 0] * 127.5 + 127.5)


def train(dataset, epochs):
  for epoch in range(epochs):
    start = time.time()

    for image_batch in dataset:
      losses.append([float(v) for v in train_step(image_batch)])

    # Produce images for the GIF as you go
    generate_and_save_images(generator,
                             epoch + 1,
                             seed)

    # Save the model every 15 epochs
    if (epoch + 1) % 15 == 0:
      checkpoint.save(file_prefix = checkpoint_prefix)

    print ('Time for epoch {} is {} sec'.format(epoch + 1, time.time()-start))

  # Generate after the final epoch
  generate_and_save_images(generator,
                           epochs,
                           seed)


generate_and_save_images(generator, 0, seed)
train(train_dataset, EPOCHS)
print("gen/disc loss first", losses[0], "last", losses[-1])
assert all(np.isfinite(losses).ravel())

# two saves: ckpt-1 and ckpt-2, the latest being ckpt-2
latest = tf.train.latest_checkpoint(checkpoint_dir)
print("latest", latest, sorted(os.path.basename(p) for p in glob.glob(checkpoint_dir + "/*")))
assert latest is not None and latest.endswith("ckpt-2"), latest

# restoring brings back the saved generator after its weights are overwritten
saved = [np.array(w) for w in generator.weights]
saved_iters = int(generator_optimizer.iterations)
for w in generator.weights:
  w.assign(np.zeros(w.shape, "float32"))
generator_optimizer.iterations.assign(0)
checkpoint.restore(latest)
for before, w in zip(saved, generator.weights):
  np.testing.assert_allclose(np.array(w), before, err_msg=w.name)
assert int(generator_optimizer.iterations) == saved_iters == EPOCHS * (512 // BATCH_SIZE)
np.testing.assert_allclose(generator(seed, training=False).numpy()[:, :, :, 0] * 127.5 + 127.5,
                           generated[EPOCHS], rtol=1e-4, atol=1e-3)

# the check: the generated images moved toward the data. Real digits are dark (0) except one
# two-pixel-wide bright column from row 2 to 13; the border rows (0, 1, 14, 15) are always dark,
# and each image's brightest column inside is bright.
def stats(imgs):
  imgs = np.asarray(imgs)
  border = np.concatenate([imgs[:, :2], imgs[:, 14:]], 1).mean()
  col_peak = imgs[:, 2:14].mean(1).max(-1).mean()
  return border, col_peak

real = stats(train_images[:16, :, :, 0] * 127.5 + 127.5)
before, after = stats(generated[0]), stats(generated[EPOCHS])
print("real border/peak", real, "before", before, "after", after)
assert after[0] < before[0] - 40, (before, after)          # the border darkened
assert after[1] - after[0] > before[1] - before[0] + 40, (before, after)  # a bright column stands out
