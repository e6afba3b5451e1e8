"""TensorFlow tutorial "pix2pix: Image-to-image translation with a conditional GAN", imports
changed (`import corenn as tf`): the tutorial's input pipeline functions (`tf.stack` of the pair,
`tf.image.resize(method=NEAREST_NEIGHBOR)`, `tf.image.random_crop` of the stacked pair, a flip under
`tf.random.uniform(()) > 0.5`, all inside `@tf.function()`), the U-Net generator built from
`downsample` / `upsample` Sequentials (Conv2D / Conv2DTranspose with
`tf.random_normal_initializer(0., 0.02)`, BatchNorm, LeakyReLU / ReLU, Dropout) with skip
`Concatenate`s, the PatchGAN discriminator (two named Inputs, `layers.concatenate`,
`ZeroPadding2D`), the GAN + L1 generator loss, a `@tf.function` train step with two
GradientTapes, `tf.summary` scalars, `tf.train.Checkpoint` save and restore, and the
`train_ds.repeat().take(steps).enumerate()` loop. The facades dataset (JPEG files) is replaced by
synthetic 16x16 pairs (a two-region colour map and the same scene recoloured); the networks are
narrowed and shortened, and the generator's learning rate raised to learn in 80 steps."""
import os
import time

import numpy as np

import corenn as tf

tf.keras.utils.set_random_seed(7)
rng = np.random.default_rng(7)

# The facade training set consist of 400 images
BUFFER_SIZE = 64
# The batch size of 1 produced better results for the U-Net in the original pix2pix experiment
BATCH_SIZE = 4
# Each image is 16x16 in size
IMG_WIDTH = 16
IMG_HEIGHT = 16
OUTPUT_CHANNELS = 3


def make_pairs(n):
    # input: a "label map" of two flat colour regions; target: the same scene in other colours
    # (each channel inverted and the channels reversed), as facades' labels map to photos
    inputs = np.empty((n, 18, 18, 3), "float32")
    for i in range(n):
        top, bottom = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        cut = rng.integers(5, 13)
        inputs[i, :cut], inputs[i, cut:] = top, bottom
    targets = (255.0 - inputs)[..., ::-1]
    return inputs, np.ascontiguousarray(targets, dtype="float32")


def resize(input_image, real_image, height, width):
    input_image = tf.image.resize(input_image, [height, width], method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)
    real_image = tf.image.resize(real_image, [height, width], method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)
    return input_image, real_image


def random_crop(input_image, real_image):
    stacked_image = tf.stack([input_image, real_image], axis=0)
    cropped_image = tf.image.random_crop(stacked_image, size=[2, IMG_HEIGHT, IMG_WIDTH, 3])
    return cropped_image[0], cropped_image[1]


# Normalizing the images to [-1, 1]
def normalize(input_image, real_image):
    input_image = (input_image / 127.5) - 1
    real_image = (real_image / 127.5) - 1
    return input_image, real_image


@tf.function()
def random_jitter(input_image, real_image):
    # Resizing to 18x18
    input_image, real_image = resize(input_image, real_image, 18, 18)

    # Random cropping back to 16x16
    input_image, real_image = random_crop(input_image, real_image)

    if tf.random.uniform(()) > 0.5:
        # Random mirroring
        input_image = tf.image.flip_left_right(input_image)
        real_image = tf.image.flip_left_right(real_image)

    return input_image, real_image


def load_image_train(input_image, real_image):
    input_image, real_image = random_jitter(input_image, real_image)
    input_image, real_image = normalize(input_image, real_image)
    return input_image, real_image


def load_image_test(input_image, real_image):
    input_image, real_image = resize(input_image, real_image, IMG_HEIGHT, IMG_WIDTH)
    input_image, real_image = normalize(input_image, real_image)
    return input_image, real_image


train_dataset = tf.data.Dataset.from_tensor_slices(make_pairs(64))
train_dataset = train_dataset.map(load_image_train, num_parallel_calls=tf.data.AUTOTUNE)
train_dataset = train_dataset.shuffle(BUFFER_SIZE)
train_dataset = train_dataset.batch(BATCH_SIZE)

test_dataset = tf.data.Dataset.from_tensor_slices(make_pairs(8))
test_dataset = test_dataset.map(load_image_test)
test_dataset = test_dataset.batch(BATCH_SIZE)


def downsample(filters, size, apply_batchnorm=True):
    initializer = tf.random_normal_initializer(0., 0.02)

    result = tf.keras.Sequential()
    result.add(tf.keras.layers.Conv2D(filters, size, strides=2, padding='same',
                                      kernel_initializer=initializer, use_bias=False))

    if apply_batchnorm:
        result.add(tf.keras.layers.BatchNormalization())

    result.add(tf.keras.layers.LeakyReLU())

    return result


inp, re_ = next(iter(test_dataset.unbatch().take(1)))
down_model = downsample(3, 4)
down_result = down_model(tf.expand_dims(inp, 0))
print(down_result.shape)
assert tuple(down_result.shape) == (1, 8, 8, 3)


def upsample(filters, size, apply_dropout=False):
    initializer = tf.random_normal_initializer(0., 0.02)

    result = tf.keras.Sequential()
    result.add(tf.keras.layers.Conv2DTranspose(filters, size, strides=2, padding='same',
                                               kernel_initializer=initializer, use_bias=False))

    result.add(tf.keras.layers.BatchNormalization())

    if apply_dropout:
        result.add(tf.keras.layers.Dropout(0.5))

    result.add(tf.keras.layers.ReLU())

    return result


up_model = upsample(3, 4)
up_result = up_model(down_result)
print(up_result.shape)
assert tuple(up_result.shape) == (1, 16, 16, 3)


def Generator():
    inputs = tf.keras.layers.Input(shape=[16, 16, 3])

    down_stack = [
        downsample(16, 4, apply_batchnorm=False),  # (batch_size, 8, 8, 16)
        downsample(32, 4),  # (batch_size, 4, 4, 32)
        downsample(32, 4),  # (batch_size, 2, 2, 32)
        downsample(32, 4),  # (batch_size, 1, 1, 32)
    ]

    up_stack = [
        upsample(32, 4, apply_dropout=True),  # (batch_size, 2, 2, 64)
        upsample(32, 4),  # (batch_size, 4, 4, 64)
        upsample(16, 4),  # (batch_size, 8, 8, 32)
    ]

    initializer = tf.random_normal_initializer(0., 0.02)
    last = tf.keras.layers.Conv2DTranspose(OUTPUT_CHANNELS, 4, strides=2, padding='same',
                                           kernel_initializer=initializer, activation='tanh')  # (batch_size, 16, 16, 3)

    x = inputs

    # Downsampling through the model
    skips = []
    for down in down_stack:
        x = down(x)
        skips.append(x)

    skips = reversed(skips[:-1])

    # Upsampling and establishing the skip connections
    for up, skip in zip(up_stack, skips):
        x = up(x)
        x = tf.keras.layers.Concatenate()([x, skip])

    x = last(x)

    return tf.keras.Model(inputs=inputs, outputs=x)


generator = Generator()
gen_output = generator(inp[tf.newaxis, ...], training=False)
assert tuple(gen_output.shape) == (1, 16, 16, 3)

LAMBDA = 100
loss_object = tf.keras.losses.BinaryCrossentropy(from_logits=True)


def generator_loss(disc_generated_output, gen_output, target):
    gan_loss = loss_object(tf.ones_like(disc_generated_output), disc_generated_output)

    # Mean absolute error
    l1_loss = tf.reduce_mean(tf.abs(target - gen_output))

    total_gen_loss = gan_loss + (LAMBDA * l1_loss)

    return total_gen_loss, gan_loss, l1_loss


def Discriminator():
    initializer = tf.random_normal_initializer(0., 0.02)

    inp = tf.keras.layers.Input(shape=[16, 16, 3], name='input_image')
    tar = tf.keras.layers.Input(shape=[16, 16, 3], name='target_image')

    x = tf.keras.layers.concatenate([inp, tar])  # (batch_size, 16, 16, channels*2)

    down1 = downsample(16, 4, False)(x)  # (batch_size, 8, 8, 16)
    down2 = downsample(32, 4)(down1)  # (batch_size, 4, 4, 32)

    zero_pad1 = tf.keras.layers.ZeroPadding2D()(down2)  # (batch_size, 6, 6, 32)
    conv = tf.keras.layers.Conv2D(32, 4, strides=1, kernel_initializer=initializer,
                                  use_bias=False)(zero_pad1)  # (batch_size, 3, 3, 32)

    batchnorm1 = tf.keras.layers.BatchNormalization()(conv)

    leaky_relu = tf.keras.layers.LeakyReLU()(batchnorm1)

    zero_pad2 = tf.keras.layers.ZeroPadding2D()(leaky_relu)  # (batch_size, 5, 5, 32)

    last = tf.keras.layers.Conv2D(1, 4, strides=1, kernel_initializer=initializer)(zero_pad2)  # (batch_size, 2, 2, 1)

    return tf.keras.Model(inputs=[inp, tar], outputs=last)


discriminator = Discriminator()
disc_out = discriminator([inp[tf.newaxis, ...], gen_output], training=False)
assert tuple(disc_out.shape) == (1, 2, 2, 1)


def discriminator_loss(disc_real_output, disc_generated_output):
    real_loss = loss_object(tf.ones_like(disc_real_output), disc_real_output)

    generated_loss = loss_object(tf.zeros_like(disc_generated_output), disc_generated_output)

    total_disc_loss = real_loss + generated_loss

    return total_disc_loss


generator_optimizer = tf.keras.optimizers.Adam(2e-3, beta_1=0.5)
discriminator_optimizer = tf.keras.optimizers.Adam(2e-4, beta_1=0.5)

checkpoint_dir = './training_checkpoints'
checkpoint_prefix = os.path.join(checkpoint_dir, "ckpt")
checkpoint = tf.train.Checkpoint(generator_optimizer=generator_optimizer,
                                 discriminator_optimizer=discriminator_optimizer,
                                 generator=generator,
                                 discriminator=discriminator)

log_dir = "logs/"
summary_writer = tf.summary.create_file_writer(log_dir + "fit/run")


@tf.function
def train_step(input_image, target, step):
    with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
        gen_output = generator(input_image, training=True)

        disc_real_output = discriminator([input_image, target], training=True)
        disc_generated_output = discriminator([input_image, gen_output], training=True)

        gen_total_loss, gen_gan_loss, gen_l1_loss = generator_loss(disc_generated_output, gen_output, target)
        disc_loss = discriminator_loss(disc_real_output, disc_generated_output)

    generator_gradients = gen_tape.gradient(gen_total_loss, generator.trainable_variables)
    discriminator_gradients = disc_tape.gradient(disc_loss, discriminator.trainable_variables)

    generator_optimizer.apply_gradients(zip(generator_gradients, generator.trainable_variables))
    discriminator_optimizer.apply_gradients(zip(discriminator_gradients, discriminator.trainable_variables))

    with summary_writer.as_default():
        tf.summary.scalar('gen_total_loss', gen_total_loss, step=step // 10)
        tf.summary.scalar('gen_gan_loss', gen_gan_loss, step=step // 10)
        tf.summary.scalar('gen_l1_loss', gen_l1_loss, step=step // 10)
        tf.summary.scalar('disc_loss', disc_loss, step=step // 10)
    return gen_l1_loss


def test_l1(model, test_ds):
    losses = [float(tf.reduce_mean(tf.abs(tar - model(test_input, training=True)))) for test_input, tar in test_ds]
    return float(np.mean(losses))


def fit(train_ds, test_ds, steps):
    example_input, example_target = next(iter(test_ds.take(1)))
    start = time.time()
    l1_losses = []

    for step, (input_image, target) in train_ds.repeat().take(steps).enumerate():
        if (step) % 40 == 0:
            if step != 0:
                print(f'Time taken for 40 steps: {time.time()-start:.2f} sec\n')
            start = time.time()
            print(f"Step: {step//40}")

        l1_losses.append(float(train_step(input_image, target, step)))

        # Training step
        if (step + 1) % 10 == 0:
            print('.', end='', flush=True)

        # Save (checkpoint) the model every 40 steps
        if (step + 1) % 40 == 0:
            checkpoint.save(file_prefix=checkpoint_prefix)
    return l1_losses


l1_before = test_l1(generator, test_dataset)
l1_losses = fit(train_dataset, test_dataset, steps=80)
l1_after = test_l1(generator, test_dataset)
print(f"\ntest L1: {l1_before:.3f} -> {l1_after:.3f}")
assert np.mean(l1_losses[-10:]) < 0.6 * np.mean(l1_losses[:10]), (l1_losses[:10], l1_losses[-10:])
assert l1_after < 0.7 * l1_before, (l1_before, l1_after)
assert os.path.isdir(os.path.join(log_dir, "fit", "run")) and os.listdir(os.path.join(log_dir, "fit", "run"))

# Restoring the latest checkpoint in checkpoint_dir (after spoiling the generator's weights; the
# trained ones: test_l1's training=True calls moved BatchNorm's moving statistics since the save)
saved = [np.array(w, copy=True) for w in generator.trainable_weights]
generator.set_weights([np.zeros_like(w) for w in generator.get_weights()])
checkpoint.restore(tf.train.latest_checkpoint(checkpoint_dir))
assert all(np.array_equal(np.asarray(a), b) for a, b in zip(generator.trainable_weights, saved))
assert int(generator_optimizer.iterations) == 80
