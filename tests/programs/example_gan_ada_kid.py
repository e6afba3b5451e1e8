"""keras.io example "Data-efficient GANs with Adaptive Discriminator Augmentation", imports
changed: an AdaptiveAugmenter layer whose augmentation probability is a non-trainable weight
raised or lowered in train_step from the discriminator's accuracy on real images (tracked by a
BinaryAccuracy metric on sigmoid logits), augmentations written with ops (random flips and
integer translations applied per sample through ops.where of a probability draw), a KID metric
subclassing keras.metrics.Metric (a polynomial-kernel MMD of encoder features, its mean tracked
by an inner keras.metrics.Mean, reset_state overridden), an EMA generator updated with
assign, and a GAN keras.Model whose compile takes two optimizers and whose test_step generates
images for the KID. The CIFAR-10 birds and the InceptionV3 encoder become small synthetic images
and a small frozen ConvNet encoder."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(6)
rng = np.random.default_rng(6)

image_size = 8
kid_image_size = 8
noise_size = 16
width = 16
ema = 0.99
max_translation = 0.125
target_accuracy = 0.85
integration_steps = 100
batch_size = 32

yy, xx = np.meshgrid(np.linspace(-1, 1, image_size), np.linspace(-1, 1, image_size), indexing="ij")
blobs = []
for _ in range(192):
    cy, cx = rng.uniform(-0.4, 0.4, 2)
    r = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.15)
    blobs.append(np.stack([r, r * rng.uniform(0.3, 1), 1 - r], -1))
real_images = np.clip(np.asarray(blobs), 0, 1).astype("float32")
train_dataset = tf.data.Dataset.from_tensor_slices(real_images).shuffle(192).batch(batch_size, drop_remainder=True)
val_dataset = tf.data.Dataset.from_tensor_slices(real_images[:64]).batch(batch_size, drop_remainder=True)


def step(values):
    # negative values -> 0.0, positive values -> 1.0
    return 0.5 * (1.0 + ops.sign(values))


class AdaptiveAugmenter(keras.Model):
    def __init__(self):
        super().__init__()
        # stores the current probability of an image being augmented
        self.probability = keras.Variable(0.0)
        self.seed_generator = keras.random.SeedGenerator(42)

    def call(self, images, training):
        if training:
            batch_size = ops.shape(images)[0]
            # flip every image left-right with the probability
            flip = keras.random.uniform((batch_size, 1, 1, 1), seed=self.seed_generator) < 0.5
            augmented_images = ops.where(flip, ops.flip(images, axis=2), images)
            # shift each image by whole pixels in both directions
            shift = ops.cast(ops.round(keras.random.uniform((2,), -max_translation, max_translation,
                                                             seed=self.seed_generator) * image_size), "int32")
            augmented_images = ops.roll(augmented_images, shift=(int(shift[0]), int(shift[1])), axis=(1, 2))
            # during training either the original or the augmented images are selected based on
            # self.probability
            augmentation_values = keras.random.uniform(shape=(batch_size, 1, 1, 1), seed=self.seed_generator)
            augmentation_bools = ops.less(augmentation_values, self.probability)
            images = ops.where(augmentation_bools, augmented_images, images)
        return images

    def update(self, real_logits):
        current_accuracy = ops.mean(step(real_logits))
        # the augmentation probability is updated based on the discriminator's
        # accuracy on real images
        accuracy_error = current_accuracy - target_accuracy
        self.probability.assign(ops.clip(self.probability + accuracy_error / integration_steps, 0.0, 1.0))


class KID(keras.metrics.Metric):
    def __init__(self, name="kid", **kwargs):
        super().__init__(name=name, **kwargs)
        # KID is estimated per batch and is averaged across batches
        self.kid_tracker = keras.metrics.Mean()
        # a pretrained InceptionV3 is used without its classification layer in the example;
        # here a small frozen ConvNet
        self.encoder = keras.Sequential([
            layers.InputLayer(input_shape=(image_size, image_size, 3)),
            layers.Rescaling(255.0),
            layers.Resizing(height=kid_image_size, width=kid_image_size),
            layers.Rescaling(1.0 / 127.5, offset=-1.0),
            layers.Conv2D(16, 3, activation="relu"),
            layers.GlobalAveragePooling2D(),
        ], name="inception_encoder")

    def polynomial_kernel(self, features_1, features_2):
        feature_dimensions = ops.cast(ops.shape(features_1)[1], dtype="float32")
        return (features_1 @ ops.transpose(features_2) / feature_dimensions + 1.0) ** 3.0

    def update_state(self, real_images, generated_images, sample_weight=None):
        real_features = self.encoder(real_images, training=False)
        generated_features = self.encoder(generated_images, training=False)
        # compute polynomial kernels using the two sets of features
        kernel_real = self.polynomial_kernel(real_features, real_features)
        kernel_generated = self.polynomial_kernel(generated_features, generated_features)
        kernel_cross = self.polynomial_kernel(real_features, generated_features)
        # estimate the squared maximum mean discrepancy using the average kernel values
        batch_size = ops.shape(real_features)[0]
        batch_size_f = ops.cast(batch_size, dtype="float32")
        mean_kernel_real = ops.sum(kernel_real * (1.0 - ops.eye(batch_size))) / (batch_size_f * (batch_size_f - 1.0))
        mean_kernel_generated = ops.sum(kernel_generated * (1.0 - ops.eye(batch_size))) / (
            batch_size_f * (batch_size_f - 1.0))
        mean_kernel_cross = ops.mean(kernel_cross)
        kid = mean_kernel_real + mean_kernel_generated - 2.0 * mean_kernel_cross
        # update the average KID estimate
        self.kid_tracker.update_state(kid)

    def result(self):
        return self.kid_tracker.result()

    def reset_state(self):
        self.kid_tracker.reset_state()


def get_generator():
    noise_input = keras.Input(shape=(noise_size,))
    x = layers.Dense(4 * 4 * width, use_bias=False)(noise_input)
    x = layers.BatchNormalization(scale=False)(x)
    x = layers.ReLU()(x)
    x = layers.Reshape(target_shape=(4, 4, width))(x)
    x = layers.Conv2DTranspose(width, kernel_size=4, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(scale=False)(x)
    x = layers.ReLU()(x)
    image_output = layers.Conv2D(3, kernel_size=3, padding="same", activation="sigmoid")(x)
    return keras.Model(noise_input, image_output, name="generator")


def get_discriminator():
    image_input = keras.Input(shape=(image_size, image_size, 3))
    x = image_input
    x = layers.Conv2D(width, kernel_size=4, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(scale=False)(x)
    x = layers.LeakyReLU(negative_slope=0.2)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.2)(x)
    output_score = layers.Dense(1)(x)
    return keras.Model(image_input, output_score, name="discriminator")


class GAN_ADA(keras.Model):
    def __init__(self):
        super().__init__()
        self.seed_generator = keras.random.SeedGenerator(seed=42)
        self.augmenter = AdaptiveAugmenter()
        self.generator = get_generator()
        self.ema_generator = keras.models.clone_model(self.generator)
        self.discriminator = get_discriminator()

    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        super().compile(**kwargs)
        # separate optimizers for the two networks
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.generator_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.discriminator_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.real_accuracy = keras.metrics.BinaryAccuracy(name="real_acc")
        self.generated_accuracy = keras.metrics.BinaryAccuracy(name="gen_acc")
        self.augmentation_probability_tracker = keras.metrics.Mean(name="aug_p")
        self.kid = KID()

    @property
    def metrics(self):
        return [self.generator_loss_tracker, self.discriminator_loss_tracker, self.real_accuracy,
                self.generated_accuracy, self.augmentation_probability_tracker, self.kid]

    def generate(self, batch_size, training):
        latent_samples = keras.random.normal(shape=(batch_size, noise_size), seed=self.seed_generator)
        # use ema_generator during inference
        if training:
            generated_images = self.generator(latent_samples, training=training)
        else:
            generated_images = self.ema_generator(latent_samples, training=training)
        return generated_images

    def adversarial_loss(self, real_logits, generated_logits):
        # this is usually called the non-saturating GAN loss
        real_labels = ops.ones(shape=(batch_size, 1))
        generated_labels = ops.zeros(shape=(batch_size, 1))
        # the generator tries to produce images that the discriminator considers as real
        generator_loss = keras.losses.binary_crossentropy(real_labels, generated_logits, from_logits=True)
        # the discriminator tries to determine if images are real or generated
        discriminator_loss = keras.losses.binary_crossentropy(
            ops.concatenate([real_labels, generated_labels], axis=0),
            ops.concatenate([real_logits, generated_logits], axis=0), from_logits=True)
        return ops.mean(generator_loss), ops.mean(discriminator_loss)

    def train_step(self, real_images):
        real_images = self.augmenter(real_images, training=True)
        # use persistent gradient tape because gradients will be calculated twice
        with tf.GradientTape(persistent=True) as tape:
            generated_images = self.generate(batch_size, training=True)
            # gradient is calculated through the image augmentation
            generated_images = self.augmenter(generated_images, training=True)
            # separate forward passes for the real and generated images, meaning
            # that batch normalization is applied separately
            real_logits = self.discriminator(real_images, training=True)
            generated_logits = self.discriminator(generated_images, training=True)
            generator_loss, discriminator_loss = self.adversarial_loss(real_logits, generated_logits)
        # calculate gradients and update weights
        generator_gradients = tape.gradient(generator_loss, self.generator.trainable_weights)
        discriminator_gradients = tape.gradient(discriminator_loss, self.discriminator.trainable_weights)
        self.generator_optimizer.apply_gradients(zip(generator_gradients, self.generator.trainable_weights))
        self.discriminator_optimizer.apply_gradients(zip(discriminator_gradients, self.discriminator.trainable_weights))
        # update the augmentation probability based on the discriminator's performance
        self.augmenter.update(real_logits)
        self.generator_loss_tracker.update_state(generator_loss)
        self.discriminator_loss_tracker.update_state(discriminator_loss)
        self.real_accuracy.update_state(1.0, step(real_logits))
        self.generated_accuracy.update_state(0.0, step(generated_logits))
        self.augmentation_probability_tracker.update_state(self.augmenter.probability)
        # track the exponential moving average of the generator's weights to decrease
        # variance in the generation quality
        for weight, ema_weight in zip(self.generator.weights, self.ema_generator.weights):
            ema_weight.assign(ema * ema_weight + (1 - ema) * weight)
        # KID is not measured during the training phase for computational efficiency
        return {m.name: m.result() for m in self.metrics[:-1]}

    def test_step(self, real_images):
        generated_images = self.generate(batch_size, training=False)
        self.kid.update_state(real_images, generated_images)
        # only KID is measured during the evaluation phase for computational efficiency
        return {self.kid.name: self.kid.result()}


# the KID of a set against itself is about zero, against noise it is large
kid = KID()
kid.update_state(real_images[:32], real_images[32:64])
same = float(ops.convert_to_numpy(kid.result()))
kid.reset_state()
kid.update_state(real_images[:32], rng.uniform(size=(32, image_size, image_size, 3)).astype("float32"))
different = float(ops.convert_to_numpy(kid.result()))
print("KID same", same, "noise", different)
assert abs(same) < different and different > 0

model = GAN_ADA()
model.compile(generator_optimizer=keras.optimizers.Adam(learning_rate=2e-3, beta_1=0.5),
              discriminator_optimizer=keras.optimizers.Adam(learning_rate=2e-3, beta_1=0.5))
kid_before = model.evaluate(val_dataset, verbose=0, return_dict=True)["kid"]
history = model.fit(train_dataset, epochs=12, validation_data=val_dataset, verbose=0)
h = history.history
print("KID", kid_before, "->", h["val_kid"][-1], "aug_p", h["aug_p"][-1], "real_acc", h["real_acc"][-1])
assert {"g_loss", "d_loss", "real_acc", "gen_acc", "aug_p", "val_kid"} <= set(h), sorted(h)
assert h["val_kid"][-1] < kid_before, (kid_before, h["val_kid"])
assert 0.0 <= float(ops.convert_to_numpy(model.augmenter.probability)) <= 1.0
ema_w = [np.asarray(w) for w in model.ema_generator.weights]
gen_w = [np.asarray(w) for w in model.generator.weights]
assert any(not np.allclose(a, b) for a, b in zip(ema_w, gen_w))      # the EMA copy lags the generator
images = model.generate(8, training=False)
assert tuple(images.shape) == (8, image_size, image_size, 3)
