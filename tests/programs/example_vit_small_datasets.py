"""keras.io example "Train a Vision Transformer on small-size datasets" (Shifted Patch
Tokenization + Locality Self Attention), imports changed: a `ShiftedPatchTokenization` layer
(`ops.image.crop_images` / `pad_images` for the four diagonal shifts, `ops.image.extract_patches`,
a `Reshape` held by the layer) returning a (tokens, patches) tuple, a `PatchEncoder` with
`ops.arange` positions made in `__init__`, `MultiHeadAttentionLSA`: a `layers.MultiHeadAttention`
subclass with a trainable temperature `keras.Variable` overriding `_compute_attention`
(`self._key_dim`, `_dot_product_equation`, `_masked_softmax`, `_dropout_layer`,
`_combine_equation`) called with a constant diagonal `attention_mask` (`ops.cast([1 - ops.eye(n)],
"int8")`), a `WarmUpCosine` LearningRateSchedule, AdamW and top-5 accuracy; the vanilla ViT is
built too. CIFAR-100 is replaced by 16x16 synthetic images of 6 classes; sizes are cut down."""
import math

import numpy as np

import corenn as keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(12)
rng = np.random.default_rng(12)

NUM_CLASSES = 6
INPUT_SHAPE = (16, 16, 3)


def make_images(n):
    y = rng.integers(0, NUM_CLASSES, n)
    x = rng.uniform(0, 90, (n, 16, 16, 3))
    for img, label in zip(x, y):
        row, colour = divmod(int(label), 3)
        img[8 * row + 1: 8 * row + 7, 2:14, colour] += 150
    return x.astype("float32"), y.reshape(-1, 1)


(x_train, y_train), (x_test, y_test) = make_images(480), make_images(120)
print(f"x_train shape: {x_train.shape} - y_train shape: {y_train.shape}")

# DATA
BUFFER_SIZE = 512
BATCH_SIZE = 64

# AUGMENTATION
IMAGE_SIZE = 24
PATCH_SIZE = 6
NUM_PATCHES = (IMAGE_SIZE // PATCH_SIZE) ** 2

# OPTIMIZER
LEARNING_RATE = 0.003
WEIGHT_DECAY = 0.0001

# TRAINING
EPOCHS = 8

# ARCHITECTURE
LAYER_NORM_EPS = 1e-6
TRANSFORMER_LAYERS = 2
PROJECTION_DIM = 16
NUM_HEADS = 2
TRANSFORMER_UNITS = [
    PROJECTION_DIM * 2,
    PROJECTION_DIM,
]
MLP_HEAD_UNITS = [32, 16]

data_augmentation = keras.Sequential(
    [
        layers.Normalization(),
        layers.Resizing(IMAGE_SIZE, IMAGE_SIZE),
        layers.RandomFlip("horizontal"),
        layers.RandomRotation(factor=0.02),
        layers.RandomZoom(height_factor=0.2, width_factor=0.2),
    ],
    name="data_augmentation",
)
# Compute the mean and the variance of the training data for normalization.
data_augmentation.layers[0].adapt(x_train)


class ShiftedPatchTokenization(layers.Layer):
    def __init__(self, image_size=IMAGE_SIZE, patch_size=PATCH_SIZE, num_patches=NUM_PATCHES,
                 projection_dim=PROJECTION_DIM, vanilla=False, **kwargs):
        super().__init__(**kwargs)
        self.vanilla = vanilla  # Flag to swtich to vanilla patch extractor
        self.image_size = image_size
        self.patch_size = patch_size
        self.half_patch = patch_size // 2
        self.flatten_patches = layers.Reshape((num_patches, -1))
        self.projection = layers.Dense(units=projection_dim)
        self.layer_norm = layers.LayerNormalization(epsilon=LAYER_NORM_EPS)

    def crop_shift_pad(self, images, mode):
        # Build the diagonally shifted images
        if mode == "left-up":
            crop_height = self.half_patch
            crop_width = self.half_patch
            shift_height = 0
            shift_width = 0
        elif mode == "left-down":
            crop_height = 0
            crop_width = self.half_patch
            shift_height = self.half_patch
            shift_width = 0
        elif mode == "right-up":
            crop_height = self.half_patch
            crop_width = 0
            shift_height = 0
            shift_width = self.half_patch
        else:
            crop_height = 0
            crop_width = 0
            shift_height = self.half_patch
            shift_width = self.half_patch

        # Crop the shifted images and pad them
        crop = ops.image.crop_images(images, top_cropping=crop_height, left_cropping=crop_width,
                                     target_height=self.image_size - self.half_patch,
                                     target_width=self.image_size - self.half_patch)
        shift_pad = ops.image.pad_images(crop, top_padding=shift_height, left_padding=shift_width,
                                         target_height=self.image_size, target_width=self.image_size)
        return shift_pad

    def call(self, images):
        if not self.vanilla:
            # Concat the shifted images with the original image
            images = ops.concatenate(
                [
                    images,
                    self.crop_shift_pad(images, mode="left-up"),
                    self.crop_shift_pad(images, mode="left-down"),
                    self.crop_shift_pad(images, mode="right-up"),
                    self.crop_shift_pad(images, mode="right-down"),
                ],
                axis=-1,
            )
        # Patchify the images and flatten it
        patches = ops.image.extract_patches(images=images, size=(self.patch_size, self.patch_size),
                                            strides=[1, self.patch_size, self.patch_size, 1],
                                            dilation_rate=1, padding="VALID")
        flat_patches = self.flatten_patches(patches)
        if not self.vanilla:
            # Layer normalize the flat patches and linearly project it
            tokens = self.layer_norm(flat_patches)
            tokens = self.projection(tokens)
        else:
            # Linearly project the flat patches
            tokens = self.projection(flat_patches)
        return (tokens, patches)


# the shifted images are crops padded back: the "left-up" shift moves the image half a patch up-left
probe = rng.uniform(size=(1, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")
shifted = np.asarray(ShiftedPatchTokenization().crop_shift_pad(probe, mode="left-up"))
h = PATCH_SIZE // 2
np.testing.assert_allclose(shifted[0, :-h, :-h], probe[0, h:, h:], rtol=1e-6)
assert np.all(shifted[0, -h:] == 0) and np.all(shifted[0, :, -h:] == 0)
tokens, patches = ShiftedPatchTokenization()(probe)
assert tuple(tokens.shape) == (1, NUM_PATCHES, PROJECTION_DIM)
assert tuple(patches.shape) == (1, IMAGE_SIZE // PATCH_SIZE, IMAGE_SIZE // PATCH_SIZE, PATCH_SIZE * PATCH_SIZE * 15)


class PatchEncoder(layers.Layer):
    def __init__(self, num_patches=NUM_PATCHES, projection_dim=PROJECTION_DIM, **kwargs):
        super().__init__(**kwargs)
        self.num_patches = num_patches
        self.position_embedding = layers.Embedding(input_dim=num_patches, output_dim=projection_dim)
        self.positions = ops.arange(start=0, stop=self.num_patches, step=1)

    def call(self, encoded_patches):
        encoded_positions = self.position_embedding(self.positions)
        encoded_patches = encoded_patches + encoded_positions
        return encoded_patches


class MultiHeadAttentionLSA(layers.MultiHeadAttention):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # The trainable temperature term. The initial value is
        # the square root of the key dimension.
        self.tau = keras.Variable(math.sqrt(float(self._key_dim)), trainable=True)

    def _compute_attention(self, query, key, value, attention_mask=None, training=None):
        query = ops.multiply(query, 1.0 / self.tau)
        attention_scores = ops.einsum(self._dot_product_equation, key, query)
        attention_scores = self._masked_softmax(attention_scores, attention_mask)
        attention_scores_dropout = self._dropout_layer(attention_scores, training=training)
        attention_output = ops.einsum(self._combine_equation, attention_scores_dropout, value)
        return attention_output, attention_scores


def mlp(x, hidden_units, dropout_rate):
    for units in hidden_units:
        x = layers.Dense(units, activation="gelu")(x)
        x = layers.Dropout(dropout_rate)(x)
    return x


# Build the diagonal attention mask
diag_attn_mask = 1 - ops.eye(NUM_PATCHES)
diag_attn_mask = ops.cast([diag_attn_mask], dtype="int8")


def create_vit_classifier(vanilla=False):
    inputs = layers.Input(shape=INPUT_SHAPE)
    # Augment data.
    augmented = data_augmentation(inputs)
    # Create patches.
    (tokens, _) = ShiftedPatchTokenization(vanilla=vanilla)(augmented)
    # Encode patches.
    encoded_patches = PatchEncoder()(tokens)

    # Create multiple layers of the Transformer block.
    for _ in range(TRANSFORMER_LAYERS):
        # Layer normalization 1.
        x1 = layers.LayerNormalization(epsilon=1e-6)(encoded_patches)
        # Create a multi-head attention layer.
        if not vanilla:
            attention_output = MultiHeadAttentionLSA(num_heads=NUM_HEADS, key_dim=PROJECTION_DIM, dropout=0.1)(
                x1, x1, attention_mask=diag_attn_mask)
        else:
            attention_output = layers.MultiHeadAttention(num_heads=NUM_HEADS, key_dim=PROJECTION_DIM, dropout=0.1)(
                x1, x1)
        # Skip connection 1.
        x2 = layers.Add()([attention_output, encoded_patches])
        # Layer normalization 2.
        x3 = layers.LayerNormalization(epsilon=1e-6)(x2)
        # MLP.
        x3 = mlp(x3, hidden_units=TRANSFORMER_UNITS, dropout_rate=0.1)
        # Skip connection 2.
        encoded_patches = layers.Add()([x3, x2])

    # Create a [batch_size, projection_dim] tensor.
    representation = layers.LayerNormalization(epsilon=1e-6)(encoded_patches)
    representation = layers.Flatten()(representation)
    representation = layers.Dropout(0.5)(representation)
    # Add MLP.
    features = mlp(representation, hidden_units=MLP_HEAD_UNITS, dropout_rate=0.5)
    # Classify outputs.
    logits = layers.Dense(NUM_CLASSES)(features)
    # Create the Keras model.
    model = keras.Model(inputs=inputs, outputs=logits)
    return model


# Some code is taken from:
# https://www.kaggle.com/ashusma/training-rfcx-tensorflow-tpu-effnet-b2.
class WarmUpCosine(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, learning_rate_base, total_steps, warmup_learning_rate, warmup_steps):
        super().__init__()

        self.learning_rate_base = learning_rate_base
        self.total_steps = total_steps
        self.warmup_learning_rate = warmup_learning_rate
        self.warmup_steps = warmup_steps
        self.pi = np.pi

    def __call__(self, step):
        if self.total_steps < self.warmup_steps:
            raise ValueError("Total_steps must be larger or equal to warmup_steps.")

        cos_annealed_lr = ops.cos(self.pi * (ops.cast(step, "float32") - self.warmup_steps)
                                  / float(self.total_steps - self.warmup_steps))
        learning_rate = 0.5 * self.learning_rate_base * (1 + cos_annealed_lr)

        if self.warmup_steps > 0:
            if self.learning_rate_base < self.warmup_learning_rate:
                raise ValueError("Learning_rate_base must be larger or equal to warmup_learning_rate.")
            slope = (self.learning_rate_base - self.warmup_learning_rate) / self.warmup_steps
            warmup_rate = slope * ops.cast(step, "float32") + self.warmup_learning_rate
            learning_rate = ops.where(step < self.warmup_steps, warmup_rate, learning_rate)
        return ops.where(step > self.total_steps, 0.0, learning_rate)


def run_experiment(model):
    total_steps = int((len(x_train) / BATCH_SIZE) * EPOCHS)
    warmup_epoch_percentage = 0.10
    warmup_steps = int(total_steps * warmup_epoch_percentage)
    scheduled_lrs = WarmUpCosine(learning_rate_base=LEARNING_RATE, total_steps=total_steps,
                                 warmup_learning_rate=0.0, warmup_steps=warmup_steps)

    optimizer = keras.optimizers.AdamW(learning_rate=scheduled_lrs, weight_decay=WEIGHT_DECAY)

    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            keras.metrics.SparseTopKCategoricalAccuracy(5, name="top-5-accuracy"),
        ],
    )

    history = model.fit(x=x_train, y=y_train, batch_size=BATCH_SIZE, epochs=EPOCHS, validation_split=0.1,
                        verbose=0)
    _, accuracy, top_5_accuracy = model.evaluate(x_test, y_test, batch_size=BATCH_SIZE, verbose=0)
    print(f"Test accuracy: {round(accuracy * 100, 2)}%")
    print(f"Test top 5 accuracy: {round(top_5_accuracy * 100, 2)}%")

    return history, scheduled_lrs, accuracy


# Run experiments with the vanilla ViT
vit = create_vit_classifier(vanilla=True)
assert vit.predict(x_test[:4], verbose=0).shape == (4, NUM_CLASSES)

# Run experiments with the Shifted Patch Tokenization and
# Locality Self Attention modified ViT
vit_sl = create_vit_classifier(vanilla=False)
lsa_layers = [l for l in vit_sl.layers if isinstance(l, MultiHeadAttentionLSA)]
taus_before = [float(l.tau.numpy()) for l in lsa_layers]
history, scheduled_lrs, accuracy = run_experiment(vit_sl)

assert history.history["loss"][-1] < history.history["loss"][0], history.history["loss"]
assert accuracy > 0.5, accuracy   # chance is 1/6
# the temperatures trained, from sqrt(key_dim)
assert len(lsa_layers) == TRANSFORMER_LAYERS and taus_before == [math.sqrt(PROJECTION_DIM)] * TRANSFORMER_LAYERS
assert all(float(l.tau.numpy()) != t for l, t in zip(lsa_layers, taus_before))
# the schedule: linear warm-up, then cosine decay to 0 at total_steps
total = scheduled_lrs.total_steps
lrs = [float(scheduled_lrs(s)) for s in (0, scheduled_lrs.warmup_steps, total, total + 1)]
np.testing.assert_allclose(lrs, [0.0, LEARNING_RATE, 0.0, 0.0], atol=1e-7)

# the locality self-attention never attends a token to itself: with an identity value projection
# and a zero output bias the diagonal of the scores is 0
lsa = lsa_layers[0]
x = rng.normal(size=(2, NUM_PATCHES, PROJECTION_DIM)).astype("float32")
out, scores = lsa(x, x, attention_mask=diag_attn_mask, return_attention_scores=True)
scores = np.asarray(scores)
assert scores.shape == (2, NUM_HEADS, NUM_PATCHES, NUM_PATCHES)
np.testing.assert_allclose(np.diagonal(scores, axis1=2, axis2=3), 0.0, atol=1e-7)
np.testing.assert_allclose(scores.sum(-1), 1.0, rtol=1e-5)
