"""keras.io example "Semantic Image Clustering" (SCAN), imports changed: an encoder trained by
self-supervised representation learning (two augmented views, a ReprensentationLearner
keras.Model whose call computes a contrastive loss with add_loss over the cosine similarities),
k nearest neighbours of each image mined with keras.ops.top_k over the embedding similarities,
then a clustering model applied to an anchor and its neighbours through TimeDistributed, trained
with a ClustersConsistencyLoss (cross entropy of anchor-neighbour agreement) and a
ClustersEntropyLoss (keeping the clusters used evenly) passed as a list of losses with
loss_weights. CIFAR-10 becomes small synthetic images of four visual classes."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(4)
rng = np.random.default_rng(4)

num_classes = 4
input_shape = (12, 12, 3)
n = 256
classes = rng.integers(0, num_classes, n)
x_data = rng.normal(0, 0.3, (n,) + input_shape)
for i, c in enumerate(classes):
    x_data[i, 3 * c:3 * c + 3, :, c % 3] += 2.0                   # a stripe whose row and colour mark the class
x_data = ((x_data + 1) * 80).clip(0, 255).astype("float32")

target_size = 12
representation_dim = 16
projection_units = 16
num_clusters = 4
k_neighbours = 5
tune_encoder_during_clustering = False

data_preprocessing = keras.Sequential([layers.Resizing(target_size, target_size), layers.Normalization()])
data_preprocessing.layers[-1].adapt(x_data)
data_augmentation = keras.Sequential([
    layers.RandomTranslation(height_factor=(-0.1, 0.1), width_factor=(-0.1, 0.1), fill_mode="nearest"),
    layers.RandomFlip(mode="horizontal"),
    layers.RandomZoom(height_factor=(-0.1, 0.1), width_factor=(-0.1, 0.1), fill_mode="nearest"),
])


def create_encoder(representation_dim):
    encoder = keras.Sequential([
        layers.Conv2D(16, 3, activation="relu"),
        layers.Conv2D(16, 3, activation="relu"),
        layers.GlobalAveragePooling2D(),
        layers.Dense(representation_dim),
    ])
    return encoder


class RepresentationLearner(keras.Model):
    def __init__(self, encoder, projection_units, num_augmentations, temperature=1.0, dropout_rate=0.1,
                 l2_normalize=False, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        # Create projection head.
        self.projector = keras.Sequential([
            layers.Dropout(dropout_rate),
            layers.Dense(units=projection_units, use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
        ])
        self.num_augmentations = num_augmentations
        self.temperature = temperature
        self.l2_normalize = l2_normalize
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def compute_contrastive_loss(self, feature_vectors, batch_size):
        num_augmentations = ops.shape(feature_vectors)[0] // batch_size
        if self.l2_normalize:
            feature_vectors = keras.utils.normalize(feature_vectors)
        # The logits shape is [num_augmentations * batch_size, num_augmentations * batch_size].
        logits = (ops.matmul(feature_vectors, ops.transpose(feature_vectors)) / self.temperature)
        # Apply log-max trick for numerical stability.
        logits_max = ops.max(logits, axis=1)
        logits = logits - logits_max
        # The shape of targets is [num_augmentations * batch_size, num_augmentations * batch_size].
        # targets is a matrix consits of num_augmentations submatrices of shape [batch_size * batch_size].
        # Each [batch_size * batch_size] submatrix is an identity matrix (diagonal entries are ones).
        targets = ops.tile(ops.eye(batch_size), [num_augmentations, num_augmentations])
        # Compute cross entropy loss
        return keras.losses.categorical_crossentropy(y_true=targets, y_pred=logits, from_logits=True)

    def call(self, inputs):
        # Preprocess the input images.
        preprocessed = data_preprocessing(inputs)
        # Create augmented versions of the images.
        augmented = []
        for _ in range(self.num_augmentations):
            augmented.append(data_augmentation(preprocessed))
        augmented = layers.Concatenate(axis=0)(augmented)
        # Generate embedding representations of the images.
        features = self.encoder(augmented)
        # Apply projection head.
        return self.projector(features)

    def train_step(self, inputs):
        batch_size = ops.shape(inputs)[0]
        # Run the forward pass and compute the contrastive loss
        with tf.GradientTape() as tape:
            feature_vectors = self(inputs, training=True)
            loss = self.compute_contrastive_loss(feature_vectors, batch_size)
        # Compute gradients
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        # Update weights
        self.optimizer.apply_gradients(zip(gradients, trainable_vars))
        # Update loss tracker metric
        self.loss_tracker.update_state(loss)
        # Return a dict mapping metric names to current value
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, inputs):
        batch_size = ops.shape(inputs)[0]
        feature_vectors = self(inputs, training=False)
        loss = self.compute_contrastive_loss(feature_vectors, batch_size)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


# -- train the encoder on the contrastive task ------------------------------------------------------
encoder = create_encoder(representation_dim)
representation_learner = RepresentationLearner(encoder, projection_units, num_augmentations=2, temperature=0.1)
lr_scheduler = keras.optimizers.schedules.CosineDecay(initial_learning_rate=0.003, decay_steps=400, alpha=0.1)
representation_learner.compile(optimizer=keras.optimizers.AdamW(learning_rate=lr_scheduler, weight_decay=0.0001),
                               jit_compile=False)
history = representation_learner.fit(x=x_data, batch_size=64, epochs=10, verbose=0)
losses = history.history["loss"]
print("contrastive loss", losses[0], "->", losses[-1])
assert losses[-1] < losses[0], losses

# -- mine the nearest neighbours ---------------------------------------------------------------------
batch_size = 64
# Get the feature vector representations of the images.
feature_vectors = encoder.predict(data_preprocessing(x_data), batch_size=batch_size, verbose=0)
# Normalize the feature vectores.
feature_vectors = keras.utils.normalize(feature_vectors)
np.testing.assert_allclose(np.linalg.norm(np.asarray(feature_vectors), axis=1), 1.0, rtol=1e-5)
neighbours = []
num_batches = feature_vectors.shape[0] // batch_size
for batch_idx in range(num_batches):
    start_idx = batch_idx * batch_size
    end_idx = start_idx + batch_size
    current_batch = feature_vectors[start_idx:end_idx]
    similarities = ops.matmul(current_batch, ops.transpose(feature_vectors))
    _, indices = ops.top_k(similarities, k=k_neighbours + 1, sorted=True)
    neighbours.append(indices[..., 1:])
neighbours = np.reshape(np.array(neighbours), (-1, k_neighbours))
assert neighbours.shape == (n, k_neighbours)
# top_k against NumPy on the first batch: each image's most similar other images
fv = np.asarray(feature_vectors)
ref = np.argsort(-(fv[:batch_size] @ fv.T), axis=1)[:, 1:k_neighbours + 1]
assert (np.sort(ref, 1) == np.sort(neighbours[:batch_size], 1)).mean() > 0.95
same = (classes[neighbours] == classes[:, None]).mean()
print("neighbours of the same class", same)
assert same > 0.6, same


class ClustersConsistencyLoss(keras.losses.Loss):
    def __init__(self):
        super().__init__()

    def __call__(self, target, similarity, sample_weight=None):
        # Set targets to be ones.
        target = ops.ones_like(similarity)
        # Compute cross entropy loss.
        loss = keras.losses.binary_crossentropy(y_true=target, y_pred=similarity, from_logits=True)
        return ops.mean(loss)


class ClustersEntropyLoss(keras.losses.Loss):
    def __init__(self, entropy_loss_weight=1.0):
        super().__init__()
        self.entropy_loss_weight = entropy_loss_weight

    def __call__(self, target, cluster_probabilities, sample_weight=None):
        # Ideal entropy = log(num_clusters).
        num_clusters = ops.cast(ops.shape(cluster_probabilities)[-1], "float32")
        target = ops.log(num_clusters)
        # Compute the overall clusters distribution.
        cluster_probabilities = ops.mean(cluster_probabilities, axis=0)
        # Replacing zero probabilities - if any - with a very small value.
        cluster_probabilities = ops.clip(cluster_probabilities, 1e-8, 1.0)
        # Compute the entropy over the clusters.
        entropy = -ops.sum(cluster_probabilities * ops.log(cluster_probabilities))
        # Compute the difference between the target and the actual.
        loss = target - entropy
        return loss


def create_clustering_model(encoder, num_clusters, name=None):
    inputs = keras.Input(shape=input_shape)
    # Preprocess the input images.
    preprocessed = data_preprocessing(inputs)
    # Apply data augmentation to the images.
    augmented = data_augmentation(preprocessed)
    # Generate embedding representations of the images.
    features = encoder(augmented)
    # Assign the images to clusters.
    outputs = layers.Dense(units=num_clusters, activation="softmax")(features)
    # Create the model.
    model = keras.Model(inputs=inputs, outputs=outputs, name=name)
    return model


def create_clustering_learner(clustering_model):
    anchor = keras.Input(shape=input_shape, name="anchors")
    neighbours = keras.Input(shape=tuple([k_neighbours]) + input_shape, name="neighbours")
    # Changes neighbours shape to [batch_size * k_neighbours, width, height, channels]
    neighbours_reshaped = ops.reshape(neighbours, tuple([-1]) + input_shape)
    # anchor_clustering shape: [batch_size, num_clusters]
    anchor_clustering = clustering_model(anchor)
    # neighbours_clustering shape: [batch_size * k_neighbours, num_clusters]
    neighbours_clustering = clustering_model(neighbours_reshaped)
    # Convert neighbours_clustering shape to [batch_size, k_neighbours, num_clusters]
    neighbours_clustering = ops.reshape(neighbours_clustering, (-1, k_neighbours, ops.shape(neighbours_clustering)[-1]))
    # similarity shape: [batch_size, 1, k_neighbours]
    similarity = ops.einsum("bij,bkj->bik", ops.expand_dims(anchor_clustering, axis=1), neighbours_clustering)
    # similarity shape:  [batch_size, k_neighbours]
    similarity = layers.Lambda(lambda x: ops.squeeze(x, axis=1), name="similarity")(similarity)
    # Create the model.
    model = keras.Model(inputs=[anchor, neighbours], outputs=[similarity, anchor_clustering],
                        name="clustering_learner")
    return model


# If tune_encoder_during_clustering is set to False, then freeze the encoder weights.
for layer in encoder.layers:
    layer.trainable = tune_encoder_during_clustering
# Create the clustering model and learner.
clustering_model = create_clustering_model(encoder, num_clusters, name="clustering")
clustering_learner = create_clustering_learner(clustering_model)
# Instantiate the model losses.
losses = [ClustersConsistencyLoss(), ClustersEntropyLoss(entropy_loss_weight=5)]
# Create the model inputs and labels.
inputs = {"anchors": x_data, "neighbours": ops.take(x_data, neighbours, axis=0)}
labels = np.ones(shape=(x_data.shape[0]))
# Compile the model.
clustering_learner.compile(optimizer=keras.optimizers.AdamW(learning_rate=0.005, weight_decay=0.0001),
                           loss=losses, jit_compile=False)
frozen = [np.array(w) for w in encoder.get_weights()]
history = clustering_learner.fit(x=inputs, y=(labels, labels), batch_size=64, epochs=15, verbose=0)
h = history.history
print("clustering loss", h["loss"][0], "->", h["loss"][-1])
assert h["loss"][-1] < h["loss"][0], h["loss"]
for a, b in zip(frozen, encoder.get_weights()):
    np.testing.assert_array_equal(a, np.asarray(b))           # the frozen encoder stayed

# -- the clusters against the hidden classes ------------------------------------------------------
clustering_probs = clustering_model.predict(x_data, batch_size=batch_size, verbose=0)
cluster_assignments = ops.argmax(clustering_probs, axis=-1)
assignments = np.asarray(cluster_assignments)
used = len(np.unique(assignments))
purity = sum(np.bincount(classes[assignments == c]).max() for c in np.unique(assignments)) / n
print("clusters used", used, "purity", purity)
assert used >= 3 and purity > 0.5, (used, purity)
