"""keras.io example "Self-supervised contrastive learning with SimSiam" (vision/simsiam), imports
changed: two tf.data streams of the same images through the example's augmentation
(`tf.image.random_flip_left_right`, `random_crop`, `random_brightness` / `contrast` /
`saturation` / `hue`, `rgb_to_grayscale` + `tf.tile`, applied at random with a Python `if` on
`tf.random.uniform([])`) joined with `Dataset.zip`, an encoder with an L2-regularized projection
head, the predictor Sequential, the symmetric negative-cosine loss with `tf.stop_gradient` and
`tf.math.l2_normalize`, a `tf.keras.Model` subclass with its own `train_step` and `metrics`
property, `CosineDecay` into SGD with momentum, `EarlyStopping` on the training loss, then the
linear evaluation on the frozen backbone (`backbone.trainable = False`, `get_layer(...).output`).
CIFAR-10 is replaced by synthetic 16x16 images of four classes (horizontal, vertical, checkered or
diagonal stripes of a random colour on noise); the ResNet20 of the example's downloaded `resnet_cifar10_v2.py` is a two-block
pre-activation residual stem + learner written here, and the sizes and epochs are shrunk."""
import numpy as np

import corenn as tf
from corenn.keras import layers
from corenn.keras import regularizers

tf.random.set_seed(26)
tf.keras.utils.set_random_seed(26)

AUTO = tf.data.AUTOTUNE
BATCH_SIZE = 32
EPOCHS = 4
CROP_TO = 16
SEED = 26

PROJECT_DIM = 64
LATENT_DIM = 16
WEIGHT_DECAY = 0.0005

rng = np.random.default_rng(26)


def make_images(n):
    yy, xx = np.mgrid[:CROP_TO, :CROP_TO]
    patterns = [(yy // 2) % 2, (xx // 2) % 2, ((yy // 2) + (xx // 2)) % 2, ((yy + xx) // 2) % 2]
    labels = rng.integers(0, 4, n)
    imgs = rng.uniform(0, 60, (n, CROP_TO, CROP_TO, 3)).astype("float32")
    for i, c in enumerate(labels):
        colour = rng.uniform(120, 250, 3)
        imgs[i] += patterns[c][..., None] * colour * rng.uniform(0.6, 0.8)
    return imgs, labels


x_train, y_train = make_images(320)
x_test, y_test = make_images(128)
print(f"Total training examples: {len(x_train)}")
print(f"Total test examples: {len(x_test)}")


def flip_random_crop(image):
    # With random crops we also apply horizontal flipping.
    image = tf.image.random_flip_left_right(image)
    image = tf.image.random_crop(image, (CROP_TO, CROP_TO, 3))
    return image


def color_jitter(x, strength=[0.4, 0.4, 0.4, 0.1]):
    x = tf.image.random_brightness(x, max_delta=0.8 * strength[0])
    x = tf.image.random_contrast(
        x, lower=1 - 0.8 * strength[1], upper=1 + 0.8 * strength[1]
    )
    x = tf.image.random_saturation(
        x, lower=1 - 0.8 * strength[2], upper=1 + 0.8 * strength[2]
    )
    x = tf.image.random_hue(x, max_delta=0.2 * strength[3])
    # Affine transformations can disturb the natural range of
    # RGB images, hence this is needed.
    x = tf.clip_by_value(x, 0, 255)
    return x


def color_drop(x):
    x = tf.image.rgb_to_grayscale(x)
    x = tf.tile(x, [1, 1, 3])
    return x


def random_apply(func, x, p):
    if tf.random.uniform([], minval=0, maxval=1) < p:
        return func(x)
    else:
        return x


def custom_augment(image):
    # As discussed in the SimCLR paper, the series of augmentation
    # transformations (except for random crops) need to be applied
    # randomly to impose translational invariance.
    image = flip_random_crop(image)
    image = random_apply(color_jitter, image, p=0.8)
    image = random_apply(color_drop, image, p=0.2)
    return image


aug = custom_augment(x_train[0]).numpy()
assert aug.shape == (CROP_TO, CROP_TO, 3) and aug.min() >= 0 and aug.max() <= 255
gray = color_drop(x_train[0]).numpy()
np.testing.assert_allclose(gray[..., 0], x_train[0] @ np.array([0.2989, 0.587, 0.114], "float32"), atol=0.05)
np.testing.assert_array_equal(gray[..., 0], gray[..., 2])

ssl_ds_one = tf.data.Dataset.from_tensor_slices(x_train)
ssl_ds_one = (
    ssl_ds_one.shuffle(1024, seed=SEED)
    .map(custom_augment, num_parallel_calls=AUTO)
    .batch(BATCH_SIZE)
    .prefetch(AUTO)
)

ssl_ds_two = tf.data.Dataset.from_tensor_slices(x_train)
ssl_ds_two = (
    ssl_ds_two.shuffle(1024, seed=SEED)
    .map(custom_augment, num_parallel_calls=AUTO)
    .batch(BATCH_SIZE)
    .prefetch(AUTO)
)

# We then zip both of these datasets.
ssl_ds = tf.data.Dataset.zip((ssl_ds_one, ssl_ds_two))
one, two = next(iter(ssl_ds))
assert tuple(one.shape) == tuple(two.shape) == (BATCH_SIZE, CROP_TO, CROP_TO, 3)


# the stem and learner of resnet_cifar10_v2.py, shrunk: pre-activation residual blocks
class resnet_cifar10_v2:
    @staticmethod
    def stem(inputs):
        x = layers.Conv2D(16, (3, 3), strides=(1, 1), padding="same", use_bias=False)(inputs)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    @staticmethod
    def learner(x, n_blocks):
        for filters in (16, 32):
            shortcut = layers.Conv2D(filters, (1, 1), strides=(2, 2))(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
            x = layers.Conv2D(filters, (3, 3), strides=(2, 2), padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
            x = layers.Conv2D(filters, (3, 3), padding="same", use_bias=False)(x)
            x = layers.Add()([shortcut, x])
        return x


N = 2
DEPTH = N * 9 + 2
NUM_BLOCKS = ((DEPTH - 2) // 9) - 1


def get_encoder():
    # Input and backbone.
    inputs = layers.Input((CROP_TO, CROP_TO, 3))
    x = layers.Rescaling(scale=1.0 / 127.5, offset=-1)(inputs)
    x = resnet_cifar10_v2.stem(x)
    x = resnet_cifar10_v2.learner(x, NUM_BLOCKS)
    x = layers.GlobalAveragePooling2D(name="backbone_pool")(x)

    # Projection head.
    x = layers.Dense(
        PROJECT_DIM, use_bias=False, kernel_regularizer=regularizers.l2(WEIGHT_DECAY)
    )(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Dense(
        PROJECT_DIM, use_bias=False, kernel_regularizer=regularizers.l2(WEIGHT_DECAY)
    )(x)
    outputs = layers.BatchNormalization()(x)
    return tf.keras.Model(inputs, outputs, name="encoder")


def get_predictor():
    model = tf.keras.Sequential(
        [
            # Note the AutoEncoder-like structure.
            layers.Input((PROJECT_DIM,)),
            layers.Dense(
                LATENT_DIM,
                use_bias=False,
                kernel_regularizer=regularizers.l2(WEIGHT_DECAY),
            ),
            layers.ReLU(),
            layers.BatchNormalization(),
            layers.Dense(PROJECT_DIM),
        ],
        name="predictor",
    )
    return model


def compute_loss(p, z):
    # The authors of SimSiam emphasize the impact of
    # the `stop_gradient` operator in the paper as it
    # has an important role in the overall optimization.
    z = tf.stop_gradient(z)
    p = tf.math.l2_normalize(p, axis=1)
    z = tf.math.l2_normalize(z, axis=1)
    # Negative cosine similarity (minimizing this is
    # equivalent to maximizing the similarity).
    return -tf.reduce_mean(tf.reduce_sum((p * z), axis=1))


# the loss is minus the mean cosine similarity, and no gradient flows into z
pa, za = tf.Variable(rng.normal(size=(4, 6)).astype("float32")), tf.Variable(rng.normal(size=(4, 6)).astype("float32"))
with tf.GradientTape(persistent=True) as tape:
    l_ab = compute_loss(pa, za)
pn, zn = pa.numpy(), za.numpy()
cos = np.sum(pn * zn, 1) / np.linalg.norm(pn, axis=1) / np.linalg.norm(zn, axis=1)
np.testing.assert_allclose(float(l_ab), -cos.mean(), rtol=1e-5)
assert tape.gradient(l_ab, za) is None or not np.any(np.asarray(tape.gradient(l_ab, za)))
assert np.any(np.asarray(tape.gradient(l_ab, pa)))


class SimSiam(tf.keras.Model):
    def __init__(self, encoder, predictor):
        super().__init__()
        self.encoder = encoder
        self.predictor = predictor
        self.loss_tracker = tf.keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        # Unpack the data.
        ds_one, ds_two = data

        # Forward pass through the encoder and predictor.
        with tf.GradientTape() as tape:
            z1, z2 = self.encoder(ds_one), self.encoder(ds_two)
            p1, p2 = self.predictor(z1), self.predictor(z2)
            # Note that here we are enforcing the symmetric loss.
            loss = compute_loss(p1, z2) / 2 + compute_loss(p2, z1) / 2

        # Compute gradients and update the parameters.
        learnable_params = (
            self.encoder.trainable_variables + self.predictor.trainable_variables
        )
        gradients = tape.gradient(loss, learnable_params)
        self.optimizer.apply_gradients(zip(gradients, learnable_params))

        # Monitor loss.
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


# Create a cosine decay learning scheduler.
num_training_samples = len(x_train)
steps = EPOCHS * (num_training_samples // BATCH_SIZE)
lr_decayed_fn = tf.keras.optimizers.schedules.CosineDecay(
    initial_learning_rate=0.03, decay_steps=steps
)

# Create an early stopping callback.
early_stopping = tf.keras.callbacks.EarlyStopping(
    monitor="loss", patience=5, restore_best_weights=True
)

# Compile model and start training.
simsiam = SimSiam(get_encoder(), get_predictor())
simsiam.compile(optimizer=tf.keras.optimizers.SGD(lr_decayed_fn, momentum=0.6))
history = simsiam.fit(ssl_ds, epochs=EPOCHS, callbacks=[early_stopping], verbose=0)
print("SimSiam loss:", [round(v, 4) for v in history.history["loss"]])
assert all(-1.0 <= v <= 1.0 for v in history.history["loss"])
assert history.history["loss"][-1] < history.history["loss"][0]

# We first create labeled `Dataset` objects.
train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train))
test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test))

# Then we shuffle, batch, and prefetch this dataset for performance. We
# also apply random resized crops as an augmentation but only to the
# training set.
train_ds = (
    train_ds.shuffle(1024)
    .map(lambda x, y: (flip_random_crop(x), y), num_parallel_calls=AUTO)
    .batch(BATCH_SIZE)
    .prefetch(AUTO)
)
test_ds = test_ds.batch(BATCH_SIZE).prefetch(AUTO)

# Extract the backbone ResNet20.
backbone = tf.keras.Model(
    simsiam.encoder.input, simsiam.encoder.get_layer("backbone_pool").output
)

# We then create our linear classifier and train it.
backbone.trainable = False
inputs = layers.Input((CROP_TO, CROP_TO, 3))
x = backbone(inputs, training=False)
outputs = layers.Dense(10, activation="softmax")(x)
linear_model = tf.keras.Model(inputs, outputs, name="linear_model")
assert len(linear_model.trainable_weights) == 2   # the Dense classifier only

before = [w.numpy().copy() for w in backbone.weights]
# Compile model and start training.
linear_model.compile(
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
    optimizer=tf.keras.optimizers.SGD(lr_decayed_fn, momentum=0.9),
)
history = linear_model.fit(
    train_ds, validation_data=test_ds, epochs=EPOCHS, callbacks=[early_stopping], verbose=0
)
_, test_acc = linear_model.evaluate(test_ds, verbose=0)
print("Test accuracy: {:.2f}%".format(test_acc * 100))
for w, b in zip(backbone.weights, before):
    np.testing.assert_array_equal(w.numpy(), b)   # the frozen backbone did not move
assert test_acc > 0.35, test_acc   # four classes: chance is 0.25 (128 test images: sd 0.04)
