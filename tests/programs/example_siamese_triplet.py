"""keras.io example "Image similarity estimation using a Siamese Network with a triplet loss",
imports changed: zipped anchor / positive / negative datasets with a map, an embedding model on
a frozen-then-partly-trainable base (layer.trainable set by walking base_cnn.layers by name), a
DistanceLayer whose call takes three tensors, a functional siamese network on three Inputs, a
subclassed SiameseModel with a custom train_step / test_step (GradientTape over the network's
trainable_weights, tf.maximum of a per-sample triplet loss, a Mean loss tracker as its metrics
property), then CosineSimilarity between embeddings. The Totally Looks Like photos and ResNet50
are replaced by synthetic 32 x 32 uint8 image pairs (a random pattern, the positive a noisy copy)
and a small CNN base; sizes are cut down."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers, metrics, ops, optimizers
from corenn.keras import Model

keras.utils.set_random_seed(9)
target_shape = (32, 32)
image_count = 160
rng = np.random.default_rng(9)
patterns = rng.uniform(0, 255, (image_count, 8, 8, 3))
anchor_images = np.clip(np.repeat(np.repeat(patterns, 4, 1), 4, 2) + rng.normal(0, 25, (image_count, 32, 32, 3)), 0, 255).astype("uint8")
positive_images = np.clip(np.repeat(np.repeat(patterns, 4, 1), 4, 2) + rng.normal(0, 25, (image_count, 32, 32, 3)), 0, 255).astype("uint8")


def preprocess_image(image):
    """Convert the image to floats in [0, 1] and resize it to the target shape (the example reads
    and decodes a JPEG file first)."""
    image = tf.image.convert_image_dtype(image, tf.float32)
    image = tf.image.resize(image, target_shape)
    return image


def preprocess_triplets(anchor, positive, negative):
    return (
        preprocess_image(anchor),
        preprocess_image(positive),
        preprocess_image(negative),
    )


# We need to make sure both the anchor and positive images are loaded in
# sorted order so we can match them together.
anchor_dataset = tf.data.Dataset.from_tensor_slices(anchor_images)
positive_dataset = tf.data.Dataset.from_tensor_slices(positive_images)

# To generate the list of negative images, let's randomize the list of
# available images and concatenate them together.
negative_images = np.concatenate([anchor_images, positive_images])
np.random.RandomState(seed=32).shuffle(negative_images)

negative_dataset = tf.data.Dataset.from_tensor_slices(negative_images[:image_count])
negative_dataset = negative_dataset.shuffle(buffer_size=4096)

dataset = tf.data.Dataset.zip((anchor_dataset, positive_dataset, negative_dataset))
dataset = dataset.shuffle(buffer_size=1024, seed=1, reshuffle_each_iteration=False)
dataset = dataset.map(preprocess_triplets)

# Let's now split our dataset in train and validation.
train_dataset = dataset.take(round(image_count * 0.8))
val_dataset = dataset.skip(round(image_count * 0.8))

train_dataset = train_dataset.batch(16, drop_remainder=False)
train_dataset = train_dataset.prefetch(tf.data.AUTOTUNE)

val_dataset = val_dataset.batch(16, drop_remainder=False)
val_dataset = val_dataset.prefetch(tf.data.AUTOTUNE)

inputs = layers.Input(shape=target_shape + (3,))
x = layers.Conv2D(16, 3, activation="relu", name="conv1")(inputs)
x = layers.MaxPooling2D(name="pool1")(x)
x = layers.Conv2D(16, 3, activation="relu", name="conv5_block1_out")(x)
x = layers.MaxPooling2D(name="pool2")(x)
base_cnn = Model(inputs, x, name="base_cnn")

flatten = layers.Flatten()(base_cnn.output)
dense1 = layers.Dense(64, activation="relu")(flatten)
dense1 = layers.BatchNormalization()(dense1)
dense2 = layers.Dense(32, activation="relu")(dense1)
dense2 = layers.BatchNormalization()(dense2)
output = layers.Dense(32)(dense2)

embedding = Model(base_cnn.input, output, name="Embedding")

trainable = False
for layer in base_cnn.layers:
    if layer.name == "conv5_block1_out":
        trainable = True
    layer.trainable = trainable
frozen = base_cnn.get_layer("conv1").get_weights()[0].copy()


class DistanceLayer(layers.Layer):
    """
    This layer is responsible for computing the distance between the anchor
    embedding and the positive embedding, and the anchor embedding and the
    negative embedding.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def call(self, anchor, positive, negative):
        ap_distance = ops.sum(tf.square(anchor - positive), -1)
        an_distance = ops.sum(tf.square(anchor - negative), -1)
        return (ap_distance, an_distance)


anchor_input = layers.Input(name="anchor", shape=target_shape + (3,))
positive_input = layers.Input(name="positive", shape=target_shape + (3,))
negative_input = layers.Input(name="negative", shape=target_shape + (3,))

distances = DistanceLayer()(
    embedding(anchor_input),
    embedding(positive_input),
    embedding(negative_input),
)

siamese_network = Model(inputs=[anchor_input, positive_input, negative_input], outputs=distances)


class SiameseModel(Model):
    """The Siamese Network model with a custom training and testing loops.

    Computes the triplet loss using the three embeddings produced by the
    Siamese Network.

    The triplet loss is defined as:
       L(A, P, N) = max(‖f(A) - f(P)‖² - ‖f(A) - f(N)‖² + margin, 0)
    """

    def __init__(self, siamese_network, margin=0.5):
        super().__init__()
        self.siamese_network = siamese_network
        self.margin = margin
        self.loss_tracker = metrics.Mean(name="loss")

    def call(self, inputs):
        return self.siamese_network(inputs)

    def train_step(self, data):
        # GradientTape is a context manager that records every operation that
        # you do inside. We are using it here to compute the loss so we can get
        # the gradients and apply them using the optimizer specified in
        # `compile()`.
        with tf.GradientTape() as tape:
            loss = self._compute_loss(data)

        # Storing the gradients of the loss function with respect to the
        # weights/parameters.
        gradients = tape.gradient(loss, self.siamese_network.trainable_weights)

        # Applying the gradients on the model using the specified optimizer
        self.optimizer.apply_gradients(zip(gradients, self.siamese_network.trainable_weights))

        # Let's update and return the training loss metric.
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        loss = self._compute_loss(data)

        # Let's update and return the loss metric.
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def _compute_loss(self, data):
        # The output of the network is a tuple containing the distances
        # between the anchor and the positive example, and the anchor and
        # the negative example.
        ap_distance, an_distance = self.siamese_network(data)

        # Computing the Triplet Loss by subtracting both distances and
        # making sure we don't get a negative value.
        loss = ap_distance - an_distance
        loss = tf.maximum(loss + self.margin, 0.0)
        return loss

    @property
    def metrics(self):
        # We need to list our metrics here so the `reset_states()` can be
        # called automatically.
        return [self.loss_tracker]


siamese_model = SiameseModel(siamese_network)
siamese_model.compile(optimizer=optimizers.Adam(0.001))
history = siamese_model.fit(train_dataset, epochs=6, validation_data=val_dataset, verbose=0)
print(history.history)
assert history.history["loss"][-1] < 0.5 * history.history["loss"][0], history.history
assert history.history["val_loss"][-1] < history.history["val_loss"][0], history.history
# the layers before conv5_block1_out stayed frozen
np.testing.assert_array_equal(base_cnn.get_layer("conv1").get_weights()[0], frozen)

sample = next(iter(val_dataset))
anchor, positive, negative = sample
anchor_embedding, positive_embedding, negative_embedding = (
    embedding(anchor),
    embedding(positive),
    embedding(negative),
)

cosine_similarity = metrics.CosineSimilarity()

positive_similarity = cosine_similarity(anchor_embedding, positive_embedding)
print("Positive similarity:", positive_similarity.numpy())

negative_similarity = cosine_similarity(anchor_embedding, negative_embedding)
print("Negative similarity", negative_similarity.numpy())
a, p, n = (np.asarray(t, np.float64) for t in (anchor_embedding, positive_embedding, negative_embedding))
ap, an = ((a - p) ** 2).sum(-1), ((a - n) ** 2).sum(-1)
print("anchor-positive closer than anchor-negative:", np.mean(ap < an))
assert np.mean(ap < an) > 0.8, (ap, an)
