"""keras.io example "Self-supervised contrastive learning with NNCLR" (Rishit Dagli), imports
changed only: the augmenters (RandomFlip, RandomTranslation, RandomZoom, a custom random colour
layer), a feature queue kept in a non-trainable Variable and refreshed with assign, nearest
neighbours by matmul + argmax + gather, the symmetric contrastive loss, and a model whose
compile takes two optimizers (contrastive encoder and linear probe) and whose train_step uses two
GradientTapes. STL-10 is replaced by small synthetic images of four classes."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers
from corenn import ops as kops   # the example imports keras.ops as ops; keep tf.* for the rest

keras.utils.set_random_seed(42)

AUTOTUNE = tf.data.AUTOTUNE
shuffle_buffer = 256
labelled_train_images = 128
unlabelled_images = 256

temperature = 0.1
queue_size = 64
contrastive_augmenter = {"brightness": 0.5, "name": "contrastive_augmenter", "scale": (0.2, 1.0)}
classification_augmenter = {"brightness": 0.2, "name": "classification_augmenter", "scale": (0.5, 1.0)}
input_shape = (16, 16, 3)
width = 32
num_epochs = 4
steps_per_epoch = 8
batch_size = 32


def make_images(n, rng):
    labels = rng.integers(0, 4, size=n)
    yy, xx = np.mgrid[0:16, 0:16]
    images = np.zeros((n, 16, 16, 3), "float32")
    for i, c in enumerate(labels):
        pattern = [(xx // 4) % 2, (yy // 4) % 2, ((xx + yy) // 4) % 2, (xx > 8) * (yy > 8)][c]
        images[i] = pattern[..., None] * rng.uniform(120, 255, size=3) + rng.uniform(0, 40, size=(16, 16, 3))
    return images.astype("float32"), labels.astype("int64")


rng = np.random.default_rng(0)
unlabelled_x, _ = make_images(unlabelled_images, rng)
train_x, train_y = make_images(labelled_train_images, rng)
test_x, test_y = make_images(128, rng)

# the example's tfds "unlabelled" split comes as (image, label) pairs with label -1
unlabeled_train_dataset = (tf.data.Dataset.from_tensor_slices((unlabelled_x, -np.ones(unlabelled_images, "int64")))
                           .shuffle(buffer_size=shuffle_buffer).batch(batch_size, drop_remainder=True))
labeled_train_dataset = (tf.data.Dataset.from_tensor_slices((train_x, train_y))
                         .shuffle(buffer_size=shuffle_buffer).batch(batch_size, drop_remainder=True))
test_dataset = tf.data.Dataset.from_tensor_slices((test_x, test_y)).batch(batch_size).prefetch(buffer_size=AUTOTUNE)
train_dataset = tf.data.Dataset.zip((unlabeled_train_dataset, labeled_train_dataset)).prefetch(buffer_size=AUTOTUNE)


class RandomBrightness(layers.Layer):
    """The example's own colour augmentation: one random brightness shift per image."""

    def __init__(self, brightness, **kwargs):
        super().__init__(**kwargs)
        self.brightness = brightness

    def call(self, images, training=True):
        if training:
            batch = kops.shape(images)[0]
            shift = tf.random.uniform((batch, 1, 1, 1), minval=-self.brightness, maxval=self.brightness)
            images = tf.clip_by_value(images + shift * 255.0, 0, 255)
        return images


def augmenter(brightness, name, scale):
    return keras.Sequential(
        [
            layers.Input(shape=input_shape),
            layers.Rescaling(1 / 255),
            layers.RandomFlip("horizontal"),
            layers.RandomTranslation(height_factor=0.1, width_factor=0.1),
            layers.RandomZoom(height_factor=(-scale[0], 0.0)),
            layers.Rescaling(255.0),
            RandomBrightness(brightness),
            layers.Rescaling(1 / 255),
        ],
        name=name,
    )


def encoder():
    return keras.Sequential(
        [
            layers.Input(shape=input_shape),
            layers.Conv2D(width, kernel_size=3, strides=2, activation="relu"),
            layers.Conv2D(width, kernel_size=3, strides=2, activation="relu"),
            layers.Flatten(),
            layers.Dense(width, activation="relu"),
        ],
        name="encoder",
    )


class NNCLR(keras.Model):
    def __init__(self, temperature, queue_size):
        super().__init__()
        self.probe_accuracy = keras.metrics.SparseCategoricalAccuracy()
        self.correlation_accuracy = keras.metrics.SparseCategoricalAccuracy()
        self.contrastive_accuracy = keras.metrics.SparseCategoricalAccuracy()
        self.probe_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

        self.contrastive_augmenter = augmenter(**contrastive_augmenter)
        self.classification_augmenter = augmenter(**classification_augmenter)
        self.encoder = encoder()
        self.projection_head = keras.Sequential(
            [
                layers.Input(shape=(width,)),
                layers.Dense(width, activation="relu"),
                layers.Dense(width),
            ],
            name="projection_head",
        )
        self.linear_probe = keras.Sequential(
            [layers.Input(shape=(width,)), layers.Dense(10)], name="linear_probe"
        )
        self.temperature = temperature

        feature_dimensions = self.encoder.output_shape[1]
        self.feature_queue = keras.Variable(
            keras.utils.normalize(
                keras.random.normal(shape=(queue_size, feature_dimensions)),
                axis=1,
                order=2,
            ),
            trainable=False,
        )

    def compile(self, contrastive_optimizer, probe_optimizer, **kwargs):
        super().compile(**kwargs)
        self.contrastive_optimizer = contrastive_optimizer
        self.probe_optimizer = probe_optimizer

    def nearest_neighbour(self, projections):
        support_similarities = kops.matmul(projections, kops.transpose(self.feature_queue))
        nn_projections = kops.take(
            self.feature_queue, kops.argmax(support_similarities, axis=1), axis=0
        )
        return projections + kops.stop_gradient(nn_projections - projections)

    def update_contrastive_accuracy(self, features_1, features_2):
        features_1 = keras.utils.normalize(features_1, axis=1, order=2)
        features_2 = keras.utils.normalize(features_2, axis=1, order=2)
        similarities = kops.matmul(features_1, kops.transpose(features_2))
        batch_size = kops.shape(features_1)[0]
        contrastive_labels = kops.arange(batch_size)
        self.contrastive_accuracy.update_state(
            kops.concatenate([contrastive_labels, contrastive_labels], axis=0),
            kops.concatenate([similarities, kops.transpose(similarities)], axis=0),
        )

    def update_correlation_accuracy(self, features_1, features_2):
        features_1 = (features_1 - kops.mean(features_1, axis=0)) / kops.std(features_1, axis=0)
        features_2 = (features_2 - kops.mean(features_2, axis=0)) / kops.std(features_2, axis=0)

        batch_size = kops.shape(features_1)[0]
        cross_correlation = (
            kops.matmul(kops.transpose(features_1), features_2) / batch_size
        )

        feature_dim = kops.shape(features_1)[1]
        correlation_labels = kops.arange(feature_dim)
        self.correlation_accuracy.update_state(
            kops.concatenate([correlation_labels, correlation_labels], axis=0),
            kops.concatenate(
                [cross_correlation, kops.transpose(cross_correlation)], axis=0
            ),
        )

    def contrastive_loss(self, projections_1, projections_2):
        projections_1 = keras.utils.normalize(projections_1, axis=1, order=2)
        projections_2 = keras.utils.normalize(projections_2, axis=1, order=2)

        similarities_1_2_1 = (
            kops.matmul(
                self.nearest_neighbour(projections_1), kops.transpose(projections_2)
            )
            / self.temperature
        )
        similarities_1_2_2 = (
            kops.matmul(
                projections_2, kops.transpose(self.nearest_neighbour(projections_1))
            )
            / self.temperature
        )

        similarities_2_1_1 = (
            kops.matmul(
                self.nearest_neighbour(projections_2), kops.transpose(projections_1)
            )
            / self.temperature
        )
        similarities_2_1_2 = (
            kops.matmul(
                projections_1, kops.transpose(self.nearest_neighbour(projections_2))
            )
            / self.temperature
        )

        batch_size = kops.shape(projections_1)[0]
        contrastive_labels = kops.arange(batch_size)
        loss = keras.losses.sparse_categorical_crossentropy(
            kops.concatenate(
                [
                    contrastive_labels,
                    contrastive_labels,
                    contrastive_labels,
                    contrastive_labels,
                ],
                axis=0,
            ),
            kops.concatenate(
                [
                    similarities_1_2_1,
                    similarities_1_2_2,
                    similarities_2_1_1,
                    similarities_2_1_2,
                ],
                axis=0,
            ),
            from_logits=True,
        )

        self.feature_queue.assign(
            kops.concatenate([projections_1, self.feature_queue[:-batch_size]], axis=0)
        )
        return loss

    def train_step(self, data):
        (unlabeled_images, _), (labeled_images, labels) = data
        images = kops.concatenate((unlabeled_images, labeled_images), axis=0)
        augmented_images_1 = self.contrastive_augmenter(images)
        augmented_images_2 = self.contrastive_augmenter(images)

        with tf.GradientTape() as tape:
            features_1 = self.encoder(augmented_images_1)
            features_2 = self.encoder(augmented_images_2)
            projections_1 = self.projection_head(features_1)
            projections_2 = self.projection_head(features_2)
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
        self.update_contrastive_accuracy(features_1, features_2)
        self.update_correlation_accuracy(features_1, features_2)
        preprocessed_images = self.classification_augmenter(labeled_images)

        with tf.GradientTape() as tape:
            features = self.encoder(preprocessed_images)
            class_logits = self.linear_probe(features)
            probe_loss = self.probe_loss(labels, class_logits)
        gradients = tape.gradient(probe_loss, self.linear_probe.trainable_weights)
        self.probe_optimizer.apply_gradients(
            zip(gradients, self.linear_probe.trainable_weights)
        )
        self.probe_accuracy.update_state(labels, class_logits)

        return {
            "c_loss": contrastive_loss,
            "c_acc": self.contrastive_accuracy.result(),
            "r_acc": self.correlation_accuracy.result(),
            "p_loss": probe_loss,
            "p_acc": self.probe_accuracy.result(),
        }

    def test_step(self, data):
        labeled_images, labels = data

        preprocessed_images = self.classification_augmenter(labeled_images, training=False)
        features = self.encoder(preprocessed_images, training=False)
        class_logits = self.linear_probe(features, training=False)
        probe_loss = self.probe_loss(labels, class_logits)

        self.probe_accuracy.update_state(labels, class_logits)
        return {"p_loss": probe_loss, "p_acc": self.probe_accuracy.result()}


model = NNCLR(temperature=temperature, queue_size=queue_size)
queue_before = np.array(model.feature_queue.numpy())
np.testing.assert_allclose(np.linalg.norm(queue_before, axis=1), 1.0, rtol=1e-5)
model.compile(
    contrastive_optimizer=keras.optimizers.Adam(),
    probe_optimizer=keras.optimizers.Adam(),
    jit_compile=False,
)
probe_before = [w.copy() for w in model.linear_probe.get_weights()]
pretrain_history = model.fit(train_dataset, epochs=num_epochs, validation_data=test_dataset, verbose=0)
print({k: [round(float(np.mean(v)), 3) for v in vs] for k, vs in pretrain_history.history.items()})

# c_loss is the per-sample loss vector the train_step returns: Keras keeps it as an array in
# the logs (it is not one number), the progress bar shows its mean
c_loss = [float(np.mean(v)) for v in pretrain_history.history["c_loss"]]
assert np.shape(pretrain_history.history["c_loss"][0]) == (4 * 2 * batch_size,)
assert np.all(np.isfinite(c_loss))
assert c_loss[-1] < c_loss[0], c_loss
assert "val_p_acc" in pretrain_history.history
# the queue was refreshed with new projections; the probe was trained by its own optimizer
assert not np.allclose(model.feature_queue.numpy(), queue_before)
assert any(not np.allclose(a, b) for a, b in zip(model.linear_probe.get_weights(), probe_before))
assert int(model.contrastive_optimizer.iterations) == int(model.probe_optimizer.iterations) > 0

# -- Fine-tuning: the pretrained encoder under a classifier --------------------------------------
finetuning_model = keras.Sequential(
    [
        layers.Input(shape=input_shape),
        augmenter(**classification_augmenter),
        model.encoder,
        layers.Dense(10),
    ],
    name="finetuning_model",
)
finetuning_model.compile(
    optimizer=keras.optimizers.Adam(),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")],
    jit_compile=False,
)
finetuning_history = finetuning_model.fit(labeled_train_dataset, epochs=15,
                                          validation_data=test_dataset, verbose=0)
acc = finetuning_history.history["val_acc"][-1]
print("finetuned val acc", acc)
assert acc > 0.5, finetuning_history.history
