"""keras.io example "Semi-supervision and domain adaptation with AdaMatch" (examples/vision/adamatch,
Sayak Paul), imports changed only: weak augmentation with `tf.image.resize_with_pad`, `tf.tile`,
`random_flip_left_right` and `random_crop` inside `Dataset.map`, `tf.data.Dataset.zip` of zipped
datasets (so `train_step` receives ((source_w, source_s), (target_w, target_s)) of (image,
label) pairs), the AdaMatch keras.Model subclass (a `tf.Variable(0, dtype="int64")` step counter
advanced with `assign_add` inside the tape, two forward passes of the wrapped model with
training=True and training=False, random logit interpolation, distribution alignment with
`tf.math.l2_normalize`, relative confidence thresholding, a masked per-sample
CategoricalCrossentropy(reduction="none"), `tf.stop_gradient`, its `metrics` property), a Wide
ResNet built with `layers.experimental.preprocessing.Rescaling` and L2 kernel regularizers,
Adam on a CosineDecay schedule, then the wrapped model compiled with only a metric and
evaluated on both domains.
MNIST and SVHN (downloads) become synthetic digit-like domains: 10 class prototypes drawn as
grayscale 28 x 28 strokes (source) and as coloured, shifted 32 x 32 images on a textured
background (target, its labels never used in training). TensorFlow Models' RandAugment (the
tf-models-official package) becomes the stand-in below on keras.layers.RandAugment, with the
same `distort` method. The page calls `wide_resnet.get_network()`, a module the page never
defines; the program calls `get_network()`. Sizes are cut (WRN-10-1, batches of 8 and 24,
2 epochs over 240 source images, LEARNING_RATE 0.003).
One train_step matches TensorFlow 2.21 (same weights, a fixed lambda) in its losses while the
target weight mu is 0; past the warm-up the gradients differ by design: the pseudo labels
(l2-normalised, so they do not sum to 1) go into CategoricalCrossentropy(from_logits=True), whose
gradient under TensorFlow is its kernel's softmax - labels, while corenn (as Keras 3 on torch and
JAX) gives the gradient of the loss, softmax * sum(labels) - labels (tests/api/test_sweep25_api.py)."""
import corenn as tf

tf.random.set_seed(42)

import numpy as np

from corenn import keras
from corenn.keras import layers
from corenn.keras import regularizers


class RandAugment:
    """official.vision.image_classification.augment.RandAugment's interface: distort(image) of
    one uint8-range image, num_layers ops of strength magnitude (of 10)."""

    def __init__(self, num_layers=2, magnitude=10):
        self.layer = keras.layers.RandAugment(value_range=(0, 255), num_ops=num_layers,
                                              factor=magnitude / 10.0, seed=7)

    def distort(self, image):
        return self.layer(image[None], training=True)[0]


# ---- synthetic stand-ins for MNIST (source) and SVHN (target) ---------------------------------
rng = np.random.default_rng(0)
_PROTOS = []
for c in range(10):
    canvas = np.zeros((28, 28), "float32")
    pts = rng.uniform(6, 22, size=(4, 2))
    for a, b in zip(pts[:-1], pts[1:]):
        for t in np.linspace(0, 1, 40):
            r, q = (a + t * (b - a)).astype(int)
            canvas[max(r - 1, 0):r + 2, max(q - 1, 0):q + 2] = 255.0
    _PROTOS.append(canvas)


def _mnist_like(n):
    y = rng.integers(0, 10, n)
    x = np.stack([np.roll(_PROTOS[c], rng.integers(-2, 3, 2), (0, 1)) for c in y])
    x = np.clip(x * rng.uniform(0.7, 1.0, (n, 1, 1)) + rng.normal(0, 10, x.shape), 0, 255)
    return x.astype("uint8"), y.astype("uint8")


def _svhn_like(n):
    y = rng.integers(0, 10, n)
    x = np.zeros((n, 32, 32, 3), "float32")
    for i, c in enumerate(y):
        colour = rng.uniform(80, 255, 3)
        back = rng.uniform(0, 120, 3)
        digit = np.pad(np.roll(_PROTOS[c], rng.integers(-2, 3, 2), (0, 1)), 2)[..., None] / 255.0
        x[i] = back + digit * (colour - back) + rng.normal(0, 12, (32, 32, 3))
    return np.clip(x, 0, 255).astype("uint8"), y.astype("int64")


(mnist_x_train, mnist_y_train), (mnist_x_test, mnist_y_test) = _mnist_like(240), _mnist_like(120)

# Add a channel dimension
mnist_x_train = tf.expand_dims(mnist_x_train, -1)
mnist_x_test = tf.expand_dims(mnist_x_test, -1)

# Convert the labels to one-hot encoded vectors
mnist_y_train = tf.one_hot(mnist_y_train, 10).numpy()

## SVHN ##
svhn_train = tf.data.Dataset.from_tensor_slices(_svhn_like(720))
svhn_test = tf.data.Dataset.from_tensor_slices(_svhn_like(120))

RESIZE_TO = 32

SOURCE_BATCH_SIZE = 8
TARGET_BATCH_SIZE = 3 * SOURCE_BATCH_SIZE  # Reference: Section 3.2
EPOCHS = 2
STEPS_PER_EPOCH = len(mnist_x_train) // SOURCE_BATCH_SIZE
TOTAL_STEPS = EPOCHS * STEPS_PER_EPOCH
CURRENT_STEP = 0

AUTO = tf.data.AUTOTUNE
LEARNING_RATE = 0.003  # the page's 0.03, for 10 epochs of 937 steps

WEIGHT_DECAY = 0.0005
INIT = "he_normal"
DEPTH = 10
WIDTH_MULT = 1

# Initialize `RandAugment` object with 2 layers of
# augmentation transforms and strength of 5.
augmenter = RandAugment(num_layers=2, magnitude=5)


def weak_augment(image, source=True):
    if image.dtype != tf.float32:
        image = tf.cast(image, tf.float32)

    # MNIST images are grayscale, this is why we first convert them to
    # RGB images.
    if source:
        image = tf.image.resize_with_pad(image, RESIZE_TO, RESIZE_TO)
        image = tf.tile(image, [1, 1, 3])
    image = tf.image.random_flip_left_right(image)
    image = tf.image.random_crop(image, (RESIZE_TO, RESIZE_TO, 3))
    return image


def strong_augment(image, source=True):
    if image.dtype != tf.float32:
        image = tf.cast(image, tf.float32)

    if source:
        image = tf.image.resize_with_pad(image, RESIZE_TO, RESIZE_TO)
        image = tf.tile(image, [1, 1, 3])
    image = augmenter.distort(image)
    return image


def create_individual_ds(ds, aug_func, source=True):
    if source:
        batch_size = SOURCE_BATCH_SIZE
    else:
        # During training 3x more target unlabeled samples are shown
        # to the model in AdaMatch (Section 3.2 of the paper).
        batch_size = TARGET_BATCH_SIZE
    ds = ds.shuffle(batch_size * 10, seed=42)

    if source:
        ds = ds.map(lambda x, y: (aug_func(x), y), num_parallel_calls=AUTO)
    else:
        ds = ds.map(lambda x, y: (aug_func(x, False), y), num_parallel_calls=AUTO)

    ds = ds.batch(batch_size).prefetch(AUTO)
    return ds


source_ds = tf.data.Dataset.from_tensor_slices((mnist_x_train, mnist_y_train))
source_ds_w = create_individual_ds(source_ds, weak_augment)
source_ds_s = create_individual_ds(source_ds, strong_augment)
final_source_ds = tf.data.Dataset.zip((source_ds_w, source_ds_s))

target_ds_w = create_individual_ds(svhn_train, weak_augment, source=False)
target_ds_s = create_individual_ds(svhn_train, strong_augment, source=False)
final_target_ds = tf.data.Dataset.zip((target_ds_w, target_ds_s))

(_sw, _sy), (_ss, _) = next(iter(final_source_ds))
assert tuple(_sw.shape) == (SOURCE_BATCH_SIZE, 32, 32, 3) and tuple(_ss.shape) == tuple(_sw.shape)
assert tuple(_sy.shape) == (SOURCE_BATCH_SIZE, 10)
# resize_with_pad scales the square 28 x 28 digit up to 32 x 32 (no padding needed, as in
# TensorFlow); the weak crop of a 32 x 32 image is the whole image, flipped or not
_pad = weak_augment(tf.constant(np.full((28, 28, 1), 255, "uint8")))
assert tuple(_pad.shape) == (32, 32, 3) and float(tf.reduce_min(_pad)) == 255.0


def compute_loss_source(source_labels, logits_source_w, logits_source_s):
    loss_func = keras.losses.CategoricalCrossentropy(from_logits=True)
    # First compute the losses between original source labels and
    # predictions made on the weakly and strongly augmented versions
    # of the same images.
    w_loss = loss_func(source_labels, logits_source_w)
    s_loss = loss_func(source_labels, logits_source_s)
    return w_loss + s_loss


def compute_loss_target(target_pseudo_labels_w, logits_target_s, mask):
    loss_func = keras.losses.CategoricalCrossentropy(from_logits=True, reduction="none")
    target_pseudo_labels_w = tf.stop_gradient(target_pseudo_labels_w)
    # For calculating loss for the target samples, we treat the pseudo labels
    # as the ground-truth. These are not considered during backpropagation
    # which is a standard SSL practice.
    target_loss = loss_func(target_pseudo_labels_w, logits_target_s)

    # More on `mask` later.
    mask = tf.cast(mask, target_loss.dtype)
    target_loss *= mask
    return tf.reduce_mean(target_loss, 0)


class AdaMatch(keras.Model):
    def __init__(self, model, tau=0.9):
        super(AdaMatch, self).__init__()
        self.model = model
        self.tau = tau  # Denotes the confidence threshold
        self.loss_tracker = tf.keras.metrics.Mean(name="loss")
        self.total_steps = TOTAL_STEPS
        self.current_step = tf.Variable(0, dtype="int64")

    @property
    def metrics(self):
        return [self.loss_tracker]

    # This is a warmup schedule to update the weight of the
    # loss contributed by the target unlabeled samples. More
    # on this in the text.
    def compute_mu(self):
        pi = tf.constant(np.pi, dtype="float32")
        step = tf.cast(self.current_step, dtype="float32")
        return 0.5 - tf.cos(tf.math.minimum(pi, (2 * pi * step) / self.total_steps)) / 2

    def train_step(self, data):
        ## Unpack and organize the data ##
        source_ds, target_ds = data
        (source_w, source_labels), (source_s, _) = source_ds
        (
            (target_w, _),
            (target_s, _),
        ) = target_ds  # Notice that we are NOT using any labels here.

        combined_images = tf.concat([source_w, source_s, target_w, target_s], 0)
        combined_source = tf.concat([source_w, source_s], 0)

        total_source = tf.shape(combined_source)[0]
        total_target = tf.shape(tf.concat([target_w, target_s], 0))[0]

        with tf.GradientTape() as tape:
            ## Forward passes ##
            combined_logits = self.model(combined_images, training=True)
            z_d_prime_source = self.model(
                combined_source, training=False
            )  # No BatchNorm update.
            z_prime_source = combined_logits[:total_source]

            ## 1. Random logit interpolation for the source images ##
            lambd = tf.random.uniform((total_source, 10), 0, 1)
            final_source_logits = (lambd * z_prime_source) + (
                (1 - lambd) * z_d_prime_source
            )

            ## 2. Distribution alignment (only consider weakly augmented images) ##
            # Compute softmax for logits of the WEAKLY augmented SOURCE images.
            y_hat_source_w = tf.nn.softmax(final_source_logits[: tf.shape(source_w)[0]])

            # Extract logits for the WEAKLY augmented TARGET images and compute softmax.
            logits_target = combined_logits[total_source:]
            logits_target_w = logits_target[: tf.shape(target_w)[0]]
            y_hat_target_w = tf.nn.softmax(logits_target_w)

            # Align the target label distribution to that of the source.
            expectation_ratio = tf.reduce_mean(y_hat_source_w) / tf.reduce_mean(
                y_hat_target_w
            )
            y_tilde_target_w = tf.math.l2_normalize(
                y_hat_target_w * expectation_ratio, 1
            )

            ## 3. Relative confidence thresholding ##
            row_wise_max = tf.reduce_max(y_hat_source_w, axis=-1)
            final_sum = tf.reduce_mean(row_wise_max, 0)
            c_tau = self.tau * final_sum
            mask = tf.reduce_max(y_tilde_target_w, axis=-1) >= c_tau

            ## Compute losses (pay attention to the indexing) ##
            source_loss = compute_loss_source(
                source_labels,
                final_source_logits[: tf.shape(source_w)[0]],
                final_source_logits[tf.shape(source_w)[0] :],
            )
            target_loss = compute_loss_target(
                y_tilde_target_w, logits_target[tf.shape(target_w)[0] :], mask
            )

            t = self.compute_mu()  # Compute weight for the target loss
            total_loss = source_loss + (t * target_loss)
            self.current_step.assign_add(
                1
            )  # Update current training step for the scheduler

        gradients = tape.gradient(total_loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables))

        self.loss_tracker.update_state(total_loss)
        return {"loss": self.loss_tracker.result()}


def wide_basic(n_input_plane, n_output_plane, stride):
    def f(net):
        conv_params = [[3, 3, stride, "same"], [3, 3, (1, 1), "same"]]

        n_bottleneck_plane = n_output_plane

        # Residual block
        for i, v in enumerate(conv_params):
            if i == 0:
                if n_input_plane != n_output_plane:
                    net = layers.BatchNormalization()(net)
                    net = layers.Activation("relu")(net)
                    convs = net
                else:
                    convs = layers.BatchNormalization()(net)
                    convs = layers.Activation("relu")(convs)
                convs = layers.Conv2D(
                    n_bottleneck_plane,
                    (v[0], v[1]),
                    strides=v[2],
                    padding=v[3],
                    kernel_initializer=INIT,
                    kernel_regularizer=regularizers.l2(WEIGHT_DECAY),
                    use_bias=False,
                )(convs)
            else:
                convs = layers.BatchNormalization()(convs)
                convs = layers.Activation("relu")(convs)
                convs = layers.Conv2D(
                    n_bottleneck_plane,
                    (v[0], v[1]),
                    strides=v[2],
                    padding=v[3],
                    kernel_initializer=INIT,
                    kernel_regularizer=regularizers.l2(WEIGHT_DECAY),
                    use_bias=False,
                )(convs)

        # Shortcut connection: identity function or 1x1
        # convolutional
        #  (depends on difference between input & output shape - this
        #   corresponds to whether we are using the first block in
        #   each
        #   group; see `layer()`).
        if n_input_plane != n_output_plane:
            shortcut = layers.Conv2D(
                n_output_plane,
                (1, 1),
                strides=stride,
                padding="same",
                kernel_initializer=INIT,
                kernel_regularizer=regularizers.l2(WEIGHT_DECAY),
                use_bias=False,
            )(net)
        else:
            shortcut = net

        return layers.Add()([convs, shortcut])

    return f


# Stacking residual Units on the same stage
def layer(block, n_input_plane, n_output_plane, count, stride):
    def f(net):
        net = block(n_input_plane, n_output_plane, stride)(net)
        for i in range(2, int(count + 1)):
            net = block(n_output_plane, n_output_plane, stride=(1, 1))(net)
        return net

    return f


def get_network(image_size=32, num_classes=10):
    n = (DEPTH - 4) / 6
    n_stages = [16, 16 * WIDTH_MULT, 32 * WIDTH_MULT, 64 * WIDTH_MULT]

    inputs = layers.Input(shape=(image_size, image_size, 3))
    x = layers.experimental.preprocessing.Rescaling(scale=1.0 / 255)(inputs)

    conv1 = layers.Conv2D(
        n_stages[0],
        (3, 3),
        strides=1,
        padding="same",
        kernel_initializer=INIT,
        kernel_regularizer=regularizers.l2(WEIGHT_DECAY),
        use_bias=False,
    )(x)

    # Add wide residual blocks
    block_fn = wide_basic
    conv2 = layer(
        block_fn,
        n_input_plane=n_stages[0],
        n_output_plane=n_stages[1],
        count=n,
        stride=(1, 1),
    )(
        conv1
    )  # Stage 1
    conv3 = layer(
        block_fn,
        n_input_plane=n_stages[1],
        n_output_plane=n_stages[2],
        count=n,
        stride=(2, 2),
    )(
        conv2
    )  # Stage 2
    conv4 = layer(
        block_fn,
        n_input_plane=n_stages[2],
        n_output_plane=n_stages[3],
        count=n,
        stride=(2, 2),
    )(
        conv3
    )  # Stage 3

    batch_norm = layers.BatchNormalization()(conv4)
    relu = layers.Activation("relu")(batch_norm)

    # Classifier
    trunk_outputs = layers.GlobalAveragePooling2D()(relu)
    outputs = layers.Dense(
        num_classes, kernel_regularizer=regularizers.l2(WEIGHT_DECAY)
    )(trunk_outputs)

    return tf.keras.Model(inputs, outputs)


wrn_model = get_network()
print(f"Model has {wrn_model.count_params()/1e6} Million parameters.")

reduce_lr = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, TOTAL_STEPS, 0.25)
optimizer = keras.optimizers.Adam(reduce_lr)

adamatch_trainer = AdaMatch(wrn_model)
adamatch_trainer.compile(optimizer=optimizer)

total_ds = tf.data.Dataset.zip((final_source_ds, final_target_ds))
history = adamatch_trainer.fit(total_ds, epochs=EPOCHS)

# one step per source batch (the zip stops with the shorter dataset), counted by the model's own
# int64 variable; the warm-up weight mu has reached 1 (half the schedule)
assert int(adamatch_trainer.current_step.numpy()) == TOTAL_STEPS, adamatch_trainer.current_step
assert abs(float(adamatch_trainer.compute_mu()) - 1.0) < 1e-6
assert list(history.history) == ["loss"]

# Compile the AdaMatch model to yield accuracy
adamatch_trained_model = adamatch_trainer.model
adamatch_trained_model.compile(metrics=keras.metrics.SparseCategoricalAccuracy())

svhn_test = svhn_test.batch(TARGET_BATCH_SIZE).prefetch(AUTO)
_, accuracy = adamatch_trained_model.evaluate(svhn_test)
print(f"Accuracy on target test set: {accuracy * 100:.2f}%")


def prepare_test_ds_source(image, label):
    image = tf.image.resize_with_pad(image, RESIZE_TO, RESIZE_TO)
    image = tf.tile(image, [1, 1, 3])
    return image, label


source_test_ds = tf.data.Dataset.from_tensor_slices((mnist_x_test, mnist_y_test))
source_test_ds = (
    source_test_ds.map(prepare_test_ds_source, num_parallel_calls=AUTO)
    .batch(TARGET_BATCH_SIZE)
    .prefetch(AUTO)
)

_, source_accuracy = adamatch_trained_model.evaluate(source_test_ds)
print(f"Accuracy on source test set: {source_accuracy * 100:.2f}%")
# chance is 10 %: the labelled source domain must have been learnt (60 steps: 30-35 % here)
assert source_accuracy > 0.25, source_accuracy
