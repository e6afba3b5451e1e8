"""keras-io examples/vision/semisupervised_simclr (semi-supervised image classification with
contrastive pretraining, SimCLR), imports changed only (`import keras`, `from keras import layers,
ops`, `import tensorflow as tf` -> corenn). STL-10 is replaced by synthetic 24x24 RGB images of
four classes (a colour blob in one quadrant), many unlabeled and a few labeled; the encoder has
three strided convolutions. What the example exercises runs as written: a custom augmentation
layer (`RandomColorAffine`, keras.random with a SeedGenerator, batched ops.matmul), a Model
overriding `compile(contrastive_optimizer, probe_optimizer)`, the `metrics` property, a
`train_step` that draws two augmented views and makes two GradientTape updates with two
optimizers, a contrastive loss written with keras.ops, `test_step`, and fit on a zipped pair of
datasets; then the encoder is fine-tuned inside a Sequential."""
import math

import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(5)
rng = np.random.default_rng(5)

# Dataset hyperparameters
unlabeled_dataset_size = 480
labeled_dataset_size = 96
image_size = 24
image_channels = 3

# Algorithm hyperparameters
num_epochs = 4
batch_size = 48  # Corresponds to 8 steps per epoch
width = 32
temperature = 0.1
# Stronger augmentations for contrastive, weaker ones for supervised training
contrastive_augmentation = {"min_area": 0.5, "brightness": 0.6, "jitter": 0.2}
classification_augmentation = {"min_area": 0.75, "brightness": 0.3, "jitter": 0.1}

colours = np.array([[230, 40, 40], [40, 200, 40], [40, 40, 230], [220, 220, 30]], np.float32)


def make_images(n):
    labels = rng.integers(0, 4, n)
    images = rng.normal(60, 20, (n, image_size, image_size, image_channels))
    for i, c in enumerate(labels):
        r0, c0 = (c // 2) * 12 + rng.integers(0, 4), (c % 2) * 12 + rng.integers(0, 4)
        images[i, r0:r0 + 8, c0:c0 + 8] = colours[c] + rng.normal(0, 15, 3)
    return np.clip(images, 0, 255).astype("uint8"), labels


def prepare_dataset():
    # Labeled and unlabeled samples are loaded synchronously
    # with batch sizes selected accordingly
    steps_per_epoch = (unlabeled_dataset_size + labeled_dataset_size) // batch_size
    unlabeled_batch_size = unlabeled_dataset_size // steps_per_epoch
    labeled_batch_size = labeled_dataset_size // steps_per_epoch
    print(f"batch size is {unlabeled_batch_size} (unlabeled) + {labeled_batch_size} (labeled)")

    unlabeled_train_dataset = (tf.data.Dataset.from_tensor_slices(make_images(unlabeled_dataset_size))
                               .shuffle(buffer_size=10 * unlabeled_batch_size).batch(unlabeled_batch_size))
    labeled_train_dataset = (tf.data.Dataset.from_tensor_slices(make_images(labeled_dataset_size))
                             .shuffle(buffer_size=10 * labeled_batch_size).batch(labeled_batch_size))
    test_dataset = tf.data.Dataset.from_tensor_slices(make_images(240)).batch(batch_size).prefetch(
        buffer_size=tf.data.AUTOTUNE)

    # Labeled and unlabeled datasets are zipped together
    train_dataset = tf.data.Dataset.zip((unlabeled_train_dataset, labeled_train_dataset)).prefetch(
        buffer_size=tf.data.AUTOTUNE)

    return train_dataset, labeled_train_dataset, test_dataset


# Load STL10 dataset
train_dataset, labeled_train_dataset, test_dataset = prepare_dataset()


# Distorts the color distibutions of images
class RandomColorAffine(layers.Layer):
    def __init__(self, brightness=0, jitter=0, **kwargs):
        super().__init__(**kwargs)

        self.seed_generator = keras.random.SeedGenerator(1337)
        self.brightness = brightness
        self.jitter = jitter

    def get_config(self):
        config = super().get_config()
        config.update({"brightness": self.brightness, "jitter": self.jitter})
        return config

    def call(self, images, training=True):
        if training:
            batch_size = ops.shape(images)[0]

            # Same for all colors
            brightness_scales = 1 + keras.random.uniform((batch_size, 1, 1, 1), minval=-self.brightness,
                                                         maxval=self.brightness, seed=self.seed_generator)
            # Different for all colors
            jitter_matrices = keras.random.uniform((batch_size, 1, 3, 3), minval=-self.jitter, maxval=self.jitter,
                                                   seed=self.seed_generator)

            color_transforms = (ops.tile(ops.expand_dims(ops.eye(3), axis=0), (batch_size, 1, 1, 1))
                                * brightness_scales + jitter_matrices)
            images = ops.clip(ops.matmul(images, color_transforms), 0, 1)
        return images


# Image augmentation module
def get_augmenter(min_area, brightness, jitter):
    zoom_factor = 1.0 - math.sqrt(min_area)
    return keras.Sequential(
        [
            layers.Rescaling(1 / 255),
            layers.RandomFlip("horizontal"),
            layers.RandomTranslation(zoom_factor / 2, zoom_factor / 2),
            layers.RandomZoom((-zoom_factor, 0.0), (-zoom_factor, 0.0)),
            RandomColorAffine(brightness, jitter),
        ]
    )


# the colour augmentation really draws: two calls differ, training=False is the identity
probe = np.full((2, 4, 4, 3), 0.5, np.float32)
color = RandomColorAffine(0.5, 0.2)
a, b = np.asarray(color(probe)), np.asarray(color(probe))
assert not np.allclose(a, b) and a.min() >= 0 and a.max() <= 1
np.testing.assert_array_equal(np.asarray(color(probe, training=False)), probe)


# Define the encoder architecture
def get_encoder():
    return keras.Sequential(
        [
            layers.Conv2D(width, kernel_size=3, strides=2, activation="relu"),
            layers.Conv2D(width, kernel_size=3, strides=2, activation="relu"),
            layers.Conv2D(width, kernel_size=3, strides=2, activation="relu"),
            layers.Flatten(),
            layers.Dense(width, activation="relu"),
        ],
        name="encoder",
    )


# Define the contrastive model with model-subclassing
class ContrastiveModel(keras.Model):
    def __init__(self):
        super().__init__()

        self.temperature = temperature
        self.contrastive_augmenter = get_augmenter(**contrastive_augmentation)
        self.classification_augmenter = get_augmenter(**classification_augmentation)
        self.encoder = get_encoder()
        # Non-linear MLP as projection head
        self.projection_head = keras.Sequential(
            [
                keras.Input(shape=(width,)),
                layers.Dense(width, activation="relu"),
                layers.Dense(width),
            ],
            name="projection_head",
        )
        # Single dense layer for linear probing
        self.linear_probe = keras.Sequential([layers.Input(shape=(width,)), layers.Dense(4)], name="linear_probe")

        self.encoder.summary()
        self.projection_head.summary()
        self.linear_probe.summary()

    def compile(self, contrastive_optimizer, probe_optimizer, **kwargs):
        super().compile(**kwargs)

        self.contrastive_optimizer = contrastive_optimizer
        self.probe_optimizer = probe_optimizer

        # self.contrastive_loss will be defined as a method
        self.probe_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

        self.contrastive_loss_tracker = keras.metrics.Mean(name="c_loss")
        self.contrastive_accuracy = keras.metrics.SparseCategoricalAccuracy(name="c_acc")
        self.probe_loss_tracker = keras.metrics.Mean(name="p_loss")
        self.probe_accuracy = keras.metrics.SparseCategoricalAccuracy(name="p_acc")

    @property
    def metrics(self):
        return [
            self.contrastive_loss_tracker,
            self.contrastive_accuracy,
            self.probe_loss_tracker,
            self.probe_accuracy,
        ]

    def contrastive_loss(self, projections_1, projections_2):
        # InfoNCE loss (information noise-contrastive estimation)
        # NT-Xent loss (normalized temperature-scaled cross entropy)

        # Cosine similarity: the dot product of the l2-normalized feature vectors
        projections_1 = ops.normalize(projections_1, axis=1)
        projections_2 = ops.normalize(projections_2, axis=1)
        similarities = ops.matmul(projections_1, ops.transpose(projections_2)) / self.temperature

        # The similarity between the representations of two augmented views of the
        # same image should be higher than their similarity with other views
        batch_size = ops.shape(projections_1)[0]
        contrastive_labels = ops.arange(batch_size)
        self.contrastive_accuracy.update_state(contrastive_labels, similarities)
        self.contrastive_accuracy.update_state(contrastive_labels, ops.transpose(similarities))

        # The temperature-scaled similarities are used as logits for cross-entropy
        # a symmetrized version of the loss is used here
        loss_1_2 = keras.losses.sparse_categorical_crossentropy(contrastive_labels, similarities, from_logits=True)
        loss_2_1 = keras.losses.sparse_categorical_crossentropy(contrastive_labels, ops.transpose(similarities),
                                                                from_logits=True)
        return (loss_1_2 + loss_2_1) / 2

    def train_step(self, data):
        (unlabeled_images, _), (labeled_images, labels) = data

        # Both labeled and unlabeled images are used, without labels
        images = ops.concatenate((unlabeled_images, labeled_images), axis=0)
        # Each image is augmented twice, differently
        augmented_images_1 = self.contrastive_augmenter(images, training=True)
        augmented_images_2 = self.contrastive_augmenter(images, training=True)
        with tf.GradientTape() as tape:
            features_1 = self.encoder(augmented_images_1, training=True)
            features_2 = self.encoder(augmented_images_2, training=True)
            # The representations are passed through a projection mlp
            projections_1 = self.projection_head(features_1, training=True)
            projections_2 = self.projection_head(features_2, training=True)
            contrastive_loss = self.contrastive_loss(projections_1, projections_2)
        gradients = tape.gradient(
            contrastive_loss,
            self.encoder.trainable_weights + self.projection_head.trainable_weights,
        )
        self.contrastive_optimizer.apply_gradients(
            zip(
                gradients,
                self.encoder.trainable_weights + self.projection_head.trainable_weights,
            )
        )
        self.contrastive_loss_tracker.update_state(contrastive_loss)

        # Labels are only used in evalutation for an on-the-fly logistic regression
        preprocessed_images = self.classification_augmenter(labeled_images, training=True)
        with tf.GradientTape() as tape:
            # the encoder is used in inference mode here to avoid regularization
            # and updating the batch normalization paramers if they are used
            features = self.encoder(preprocessed_images, training=False)
            class_logits = self.linear_probe(features, training=True)
            probe_loss = self.probe_loss(labels, class_logits)
        gradients = tape.gradient(probe_loss, self.linear_probe.trainable_weights)
        self.probe_optimizer.apply_gradients(zip(gradients, self.linear_probe.trainable_weights))
        self.probe_loss_tracker.update_state(probe_loss)
        self.probe_accuracy.update_state(labels, class_logits)

        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        labeled_images, labels = data

        # For testing the components are used with a training=False flag
        preprocessed_images = self.classification_augmenter(labeled_images, training=False)
        features = self.encoder(preprocessed_images, training=False)
        class_logits = self.linear_probe(features, training=False)
        probe_loss = self.probe_loss(labels, class_logits)
        self.probe_loss_tracker.update_state(probe_loss)
        self.probe_accuracy.update_state(labels, class_logits)

        # Only the probe metrics are logged at test time
        return {m.name: m.result() for m in self.metrics[2:]}


# Contrastive pretraining
pretraining_model = ContrastiveModel()
pretraining_model.compile(
    contrastive_optimizer=keras.optimizers.Adam(learning_rate=3e-3),
    probe_optimizer=keras.optimizers.Adam(learning_rate=1e-2),
)

pretraining_history = pretraining_model.fit(train_dataset, epochs=num_epochs, validation_data=test_dataset, verbose=0)
history = pretraining_history.history
print({k: [round(v, 3) for v in vs] for k, vs in history.items()})
print("Maximal validation accuracy: {:.2f}%".format(max(history["val_p_acc"]) * 100))
assert set(history) == {"c_loss", "c_acc", "p_loss", "p_acc", "val_p_loss", "val_p_acc"}, sorted(history)
# the metrics are reset every epoch, and the contrastive task is learned: its loss falls from
# about log(batch size) and the two views of an image find each other well above chance (1/48)
assert history["c_loss"][-1] < 0.85 * history["c_loss"][0], history["c_loss"]
assert history["c_acc"][-1] > 3 / batch_size, history["c_acc"]
assert max(history["val_p_acc"]) > 0.6, history["val_p_acc"]

# Supervised finetuning of the pretrained encoder
finetuning_model = keras.Sequential(
    [
        get_augmenter(**classification_augmentation),
        pretraining_model.encoder,
        layers.Dense(4),
    ],
    name="finetuning_model",
)
finetuning_model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=3e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")],
)

finetuning_history = finetuning_model.fit(labeled_train_dataset, epochs=num_epochs, validation_data=test_dataset,
                                          verbose=0)
print("Maximal validation accuracy: {:.2f}%".format(max(finetuning_history.history["val_acc"]) * 100))
assert max(finetuning_history.history["val_acc"]) > 0.6, finetuning_history.history["val_acc"]
