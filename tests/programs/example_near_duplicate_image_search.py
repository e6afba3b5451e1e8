"""keras.io example "Near-duplicate image search" (Sayak Paul), imports changed only: an
embedding model (a convolutional backbone with a GlobalAveragePooling head; the example's
pretrained BiT model is replaced by a small network trained here), locality-sensitive hashing
with random projections (hash_func, the Table and LSH classes, BuildLSHTable), building the
tables from tf.data batches of embeddings, and querying near duplicates (a brightened, noisy
copy of an indexed image finds its original among the candidates, and images of its kind on
top)."""
import time

import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(7)

IMAGE_SIZE = 16
NUM_IMAGES = 96
NUM_CLASSES = 4
AUTO = tf.data.AUTOTUNE


def make_images(n, rng):
    labels = rng.integers(0, NUM_CLASSES, size=n)
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE] / (IMAGE_SIZE - 1)
    images = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE, 3), "float32")
    for i, c in enumerate(labels):
        f = rng.uniform(1, 3)
        phase = rng.uniform(0, 2 * np.pi)
        base = [np.sin(f * 6 * xx + phase), np.sin(f * 6 * yy + phase), np.sin(f * 4 * (xx + yy) + phase),
                np.cos(f * 5 * np.hypot(xx - 0.5, yy - 0.5) + phase)][c]
        images[i] = 0.5 + 0.4 * base[..., None] * rng.uniform(0.5, 1.0, size=3)
    return images, labels


rng = np.random.default_rng(0)
images, labels = make_images(NUM_IMAGES, rng)

# -- An embedding model (trained briefly as a classifier, then cut below its head) ---------------
bit_model = keras.Sequential(
    [
        layers.Input((IMAGE_SIZE, IMAGE_SIZE, 3)),
        layers.Conv2D(16, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, activation="relu", padding="same"),
        layers.GlobalAveragePooling2D(),
    ],
    name="backbone",
)
classifier = keras.Sequential([layers.Input((IMAGE_SIZE, IMAGE_SIZE, 3)), bit_model, layers.Dense(NUM_CLASSES)])
classifier.compile(optimizer=keras.optimizers.Adam(3e-3),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
classifier.fit(images, labels, epochs=10, batch_size=16, verbose=0)

inputs = layers.Input((IMAGE_SIZE, IMAGE_SIZE, 3))
x = layers.Rescaling(scale=1.0)(inputs)   # the example's Rescaling(1/255) with images in [0, 1] here
x = bit_model(x)
# (the example normalizes BiT's features with fixed statistics; these ReLU features are centred
# with statistics adapted on the indexed images, so that random hyperplanes split them)
normalization = layers.Normalization()
normalization.adapt(bit_model.predict(images, verbose=0))
x = normalization(x)
embedding_model = keras.Model(inputs, x, name="embedding_model")
embedding_dim = embedding_model.output_shape[-1]
print("embedding dim", embedding_dim)
assert embedding_dim == 32


def hash_func(embedding, random_vectors):
    embedding = np.array(embedding)
    random_vectors = np.array(random_vectors)

    # Random projection.
    bools = np.dot(embedding, random_vectors) > 0
    return [bool2int(bool_vec) for bool_vec in bools]


def bool2int(x):
    y = 0
    for i, j in enumerate(x):
        if j:
            y += 1 << i
    return y


class Table:
    def __init__(self, hash_size, dim):
        self.table = {}
        self.hash_size = hash_size
        self.random_vectors = np.random.randn(hash_size, dim).T

    def add(self, id, vectors, label):
        # Create a unique indentifier.
        entry = {"id_label": str(id) + "_" + str(label)}

        # Compute the hash values.
        hashes = hash_func(vectors, self.random_vectors)

        # Add the hash values to the current table.
        for h in hashes:
            if h in self.table:
                self.table[h].append(entry)
            else:
                self.table[h] = [entry]

    def query(self, vectors):
        # Compute hash value for the query vector.
        hashes = hash_func(vectors, self.random_vectors)
        results = []

        # Loop over the query hashes and determine if they exist in
        # the current table.
        for h in hashes:
            if h in self.table:
                results.extend(self.table[h])
        return results


class LSH:
    def __init__(self, hash_size, dim, num_tables):
        self.num_tables = num_tables
        self.tables = []
        for i in range(self.num_tables):
            self.tables.append(Table(hash_size, dim))

    def add(self, id, vectors, label):
        for table in self.tables:
            table.add(id, vectors, label)

    def query(self, vectors):
        results = []
        for table in self.tables:
            results.extend(table.query(vectors))
        return results


class BuildLSHTable:
    def __init__(self, prediction_model, concrete_function=False, hash_size=8, dim=embedding_dim,
                 num_tables=10):
        self.hash_size = hash_size
        self.dim = dim
        self.num_tables = num_tables
        self.lsh = LSH(self.hash_size, self.dim, self.num_tables)

        self.prediction_model = prediction_model
        self.concrete_function = concrete_function

    def train(self, training_files):
        for id, training_file in enumerate(training_files):
            # Unpack the data.
            image, label = training_file
            if len(image.shape) < 4:
                image = image[None, ...]

            # Compute embeddings and update the LSH tables.
            # More on `self.concrete_function()` later.
            if self.concrete_function:
                features = self.prediction_model(tf.constant(image))["normalization"].numpy()
            else:
                features = self.prediction_model.predict(image, verbose=0)
            self.lsh.add(id, features, label)

    def query(self, image, verbose=True):
        # Compute the embeddings of the query image and fetch the results.
        if len(image.shape) < 4:
            image = image[None, ...]

        if self.concrete_function:
            features = self.prediction_model(tf.constant(image))["normalization"].numpy()
        else:
            features = self.prediction_model.predict(image, verbose=0)

        results = self.lsh.query(features)
        if verbose:
            print("Matches:", len(results))

        # Calculate Jaccard index to quantify the similarity.
        counts = {}
        for r in results:
            if r["id_label"] in counts:
                counts[r["id_label"]] += 1
            else:
                counts[r["id_label"]] = 1
        for k in counts:
            counts[k] = float(counts[k]) / self.dim
        return counts


# Utility to warm up the GPU.
def warmup():
    dummy_sample = tf.ones((1, IMAGE_SIZE, IMAGE_SIZE, 3))
    for _ in range(3):
        _ = embedding_model.predict(dummy_sample, verbose=0)


warmup()
np.random.seed(0)   # the tables' random projections
training_files = zip(images, labels)
lsh_builder = BuildLSHTable(embedding_model)
lsh_builder.train(training_files)
n_entries = sum(len(v) for v in lsh_builder.lsh.tables[0].table.values())
assert n_entries == NUM_IMAGES
assert all(0 <= h < 2 ** 8 for h in lsh_builder.lsh.tables[0].table)

# -- Querying: a slightly brightened, noisy copy finds its original ------------------------------
idx_to_query = [3, 17, 40, 71]
found = 0
for idx in idx_to_query:
    noise = tf.random.stateless_normal((IMAGE_SIZE, IMAGE_SIZE, 3), seed=[idx, 0], stddev=0.01)
    query = (tf.image.adjust_brightness(images[idx], 0.03) + noise).numpy()
    start = time.time()
    counts = lsh_builder.query(query)
    ranked = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)
    print(idx, "top matches:", ranked[:3])
    assert f"{idx}_{labels[idx]}" in counts
    # the original is among the candidates, and the best matches are of its kind
    assert f"{idx}_{labels[idx]}" in counts, (idx, ranked[:5])
    found += int(ranked[0][0].split("_")[1]) == labels[idx]
assert found >= 3, found

# the tf.data route of the example's "validation" images: embeddings of batches at once
ds = tf.data.Dataset.from_tensor_slices(images[:32]).batch(8).prefetch(AUTO)
batch_features = np.concatenate([embedding_model.predict(b, verbose=0) for b in ds])
np.testing.assert_allclose(batch_features, embedding_model.predict(images[:32], verbose=0), rtol=1e-5, atol=1e-5)
