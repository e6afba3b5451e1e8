"""keras.io example "Metric learning for image similarity search", imports changed: a
keras.utils.PyDataset of anchor/positive pairs (one image per class per batch), an
EmbeddingModel overriding train_step (the model called twice under one tape, einsum
similarities / temperature, compute_loss with arange labels, metrics updated by hand), L2
normalised embeddings (UnitNormalization, tf.linalg.normalize). Synthetic 10-class 8x8 images
stand in for CIFAR-10; the check: nearest neighbours in the embedding share the query's class
far more often than chance."""
import random

import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(0)
random.seed(0)
rng = np.random.default_rng(0)
num_classes = 10
prototypes = rng.uniform(0, 1, size=(num_classes, 8, 8, 3))
y_train = np.repeat(np.arange(num_classes), 30)
x_train = np.clip(prototypes[y_train] + 0.25 * rng.normal(size=(300, 8, 8, 3)), 0, 1).astype("float32")
y_test = np.repeat(np.arange(num_classes), 10)
x_test = np.clip(prototypes[y_test] + 0.25 * rng.normal(size=(100, 8, 8, 3)), 0, 1).astype("float32")

class_idx_to_train_idxs = {c: list(np.flatnonzero(y_train == c)) for c in range(num_classes)}
height_width = 8


class AnchorPositivePairs(keras.utils.PyDataset):
    def __init__(self, num_batches):
        super().__init__()
        self.num_batches = num_batches

    def __len__(self):
        return self.num_batches

    def __getitem__(self, _idx):
        x = np.empty((2, num_classes, height_width, height_width, 3), dtype=np.float32)
        for class_idx in range(num_classes):
            examples_for_class = class_idx_to_train_idxs[class_idx]
            anchor_idx = random.choice(examples_for_class)
            positive_idx = random.choice(examples_for_class)
            while positive_idx == anchor_idx:
                positive_idx = random.choice(examples_for_class)
            x[0, class_idx] = x_train[anchor_idx]
            x[1, class_idx] = x_train[positive_idx]
        return x


class EmbeddingModel(keras.Model):
    def train_step(self, data):
        # Note: Workaround for open issue, to be removed.
        if isinstance(data, tuple):
            data = data[0]
        anchors, positives = data[0], data[1]

        with tf.GradientTape() as tape:
            # Run both anchors and positives through model.
            anchor_embeddings = self(anchors, training=True)
            positive_embeddings = self(positives, training=True)

            # Calculate cosine similarity between anchors and positives. As they have
            # been normalised this is just the pair wise dot products.
            similarities = keras.ops.einsum(
                "ae,pe->ap", anchor_embeddings, positive_embeddings
            )

            # Since we intend to use these as logits we scale them by a temperature.
            # This value would normally be chosen as a hyper parameter.
            temperature = 0.2
            similarities /= temperature

            # We use these similarities as logits for a softmax. The labels for
            # this call are just the sequence [0, 1, 2, ..., num_classes] since we
            # want the main diagonal values, which correspond to the anchor/positive
            # pairs, to be high. This loss will move embeddings for the
            # anchor/positive pairs together and move all other pairs apart.
            sparse_labels = keras.ops.arange(num_classes)
            loss = self.compute_loss(y=sparse_labels, y_pred=similarities)

        # Calculate gradients and apply via optimizer.
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))

        # Update and return metrics (specifically the one for the loss value).
        for metric in self.metrics:
            # Calling `self.compile` will by default add a `keras.metrics.Mean` loss
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(sparse_labels, similarities)

        return {m.name: m.result() for m in self.metrics}


inputs = layers.Input(shape=(height_width, height_width, 3))
x = layers.Conv2D(filters=16, kernel_size=3, strides=2, activation="relu")(inputs)
x = layers.Conv2D(filters=32, kernel_size=3, strides=1, activation="relu")(x)
x = layers.GlobalAveragePooling2D()(x)
embeddings = layers.Dense(units=8, activation=None)(x)
embeddings = layers.UnitNormalization()(embeddings)

model = EmbeddingModel(inputs, embeddings)
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=1e-2),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
)
history = model.fit(AnchorPositivePairs(num_batches=20), epochs=6, verbose=0)
print("loss", [round(v, 3) for v in history.history["loss"]])
assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]

near_neighbours_per_example = 5
embeddings = model.predict(x_test, verbose=0)
# the embeddings are unit vectors: tf.linalg.normalize leaves them unchanged
normalized, norms = tf.linalg.normalize(embeddings, axis=1)
np.testing.assert_allclose(norms.numpy(), 1.0, rtol=1e-5)
gram_matrix = np.einsum("ae,be->ab", embeddings, embeddings)
near_neighbours = np.argsort(gram_matrix.T)[:, -(near_neighbours_per_example + 1) :]

confusion_matrix = np.zeros((num_classes, num_classes))
# For each class.
for class_idx in range(num_classes):
    # Consider 10 examples.
    example_idxs = np.flatnonzero(y_test == class_idx)[:10]
    for y_test_idx in example_idxs:
        # And count the classes of its near neighbours.
        for nn_idx in near_neighbours[y_test_idx][:-1]:
            nn_class_idx = y_test[nn_idx]
            confusion_matrix[class_idx, nn_class_idx] += 1
precision = np.trace(confusion_matrix) / confusion_matrix.sum()
print("neighbours of the same class:", precision)
assert precision > 0.7        # chance: 0.1
