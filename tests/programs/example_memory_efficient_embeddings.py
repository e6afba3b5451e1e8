"""keras-io examples/keras_recipes/memory_efficient_embeddings ("Memory-efficient embeddings for
recommendation systems"), imports changed: a quotient-remainder embedding (StringLookup, then
tf.math.floordiv / floormod indices into two small Embeddings, multiplied) and a
mixed-dimension embedding (a tf.lookup.StaticHashTable from item to block, one StringLookup +
Embedding per block, projections to a base dimension, masks from block_indices == idx) in a
matrix-factorisation model on string ids. MovieLens replaced by synthetic ratings from hidden
user and movie factors; checks: each embedding against its tables, the parameter counts, and
the validation loss well below the variance of the ratings."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers
from corenn.keras.layers import StringLookup

keras.utils.set_random_seed(7)
rng = np.random.default_rng(7)

num_users, num_movies = 60, 200
user_factors = rng.normal(size=(num_users, 3))
movie_factors = rng.normal(size=(num_movies, 3))
n = 6000
u_idx = rng.integers(0, num_users, n)
m_idx = rng.integers(0, num_movies, n)
ratings = np.clip(3 + (user_factors[u_idx] * movie_factors[m_idx]).sum(1) * 0.6 + rng.normal(0, 0.2, n), 0.5, 5)
user_id = np.array([f"user_{i}" for i in u_idx])
movie_id = np.array([f"movie_{i}" for i in m_idx])
split = int(0.85 * n)

user_vocabulary = [f"user_{i}" for i in range(num_users)]
# movies sorted by frequency: the popular ones get the wider block below
counts = np.bincount(m_idx, minlength=num_movies)
movie_vocabulary = [f"movie_{i}" for i in np.argsort(-counts, kind="stable")]

base_embedding_dim = 16


def get_dataset_from_arrays(lo, hi, batch_size=128, shuffle=True):
    dataset = tf.data.Dataset.from_tensor_slices(
        ({"user_id": user_id[lo:hi], "movie_id": movie_id[lo:hi]}, ratings[lo:hi].astype("float32")))
    if shuffle:
        dataset = dataset.shuffle(1000)
    return dataset.batch(batch_size)


def embedding_encoder(vocabulary, embedding_dim, num_oov_indices=0, name=None):
    return keras.Sequential(
        [
            StringLookup(vocabulary=vocabulary, mask_token=None, num_oov_indices=num_oov_indices),
            layers.Embedding(input_dim=len(vocabulary) + num_oov_indices, output_dim=embedding_dim),
        ],
        name=f"{name}_embedding" if name else None,
    )


class QREmbedding(keras.layers.Layer):
    def __init__(self, vocabulary, embedding_dim, num_buckets, name=None):
        super().__init__(name=name)
        self.num_buckets = num_buckets

        self.index_lookup = StringLookup(vocabulary=vocabulary, mask_token=None, num_oov_indices=0)
        self.q_embeddings = layers.Embedding(num_buckets, embedding_dim)
        self.r_embeddings = layers.Embedding(num_buckets, embedding_dim)

    def call(self, inputs):
        # Get the item index.
        embedding_index = self.index_lookup(inputs)
        # Get the quotient index.
        quotient_index = tf.math.floordiv(embedding_index, self.num_buckets)
        # Get the reminder index.
        remainder_index = tf.math.floormod(embedding_index, self.num_buckets)
        # Lookup the quotient_embedding using the quotient_index.
        quotient_embedding = self.q_embeddings(quotient_index)
        # Lookup the remainder_embedding using the remainder_index.
        remainder_embedding = self.r_embeddings(remainder_index)
        # Use multiplication as a combiner operation
        return quotient_embedding * remainder_embedding


class MDEmbedding(keras.layers.Layer):
    def __init__(self, blocks_vocabulary, blocks_embedding_dims, base_embedding_dim, name=None):
        super().__init__(name=name)
        self.num_blocks = len(blocks_vocabulary)

        # Create vocab to block lookup.
        keys = []
        values = []
        for block_idx, block_vocab in enumerate(blocks_vocabulary):
            keys.extend(block_vocab)
            values.extend([block_idx] * len(block_vocab))
        self.vocab_to_block = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(keys, values), default_value=-1
        )

        self.block_embedding_encoders = []
        self.block_embedding_projectors = []

        # Create block embedding encoders and projectors.
        for idx in range(self.num_blocks):
            vocabulary = blocks_vocabulary[idx]
            embedding_dim = blocks_embedding_dims[idx]
            block_embedding_encoder = embedding_encoder(vocabulary, embedding_dim, num_oov_indices=1)
            self.block_embedding_encoders.append(block_embedding_encoder)
            if embedding_dim == base_embedding_dim:
                self.block_embedding_projectors.append(layers.Lambda(lambda x: x))
            else:
                self.block_embedding_projectors.append(layers.Dense(units=base_embedding_dim))

    def call(self, inputs):
        # Get block index for each input item.
        block_indicies = self.vocab_to_block.lookup(inputs)
        # Initialize output embeddings to zeros.
        embeddings = tf.zeros(shape=(tf.shape(inputs)[0], base_embedding_dim))
        # Generate embeddings from blocks.
        for idx in range(self.num_blocks):
            # Lookup embeddings from the current block.
            block_embeddings = self.block_embedding_encoders[idx](inputs)
            # Project embeddings to base_embedding_dim.
            block_embeddings = self.block_embedding_projectors[idx](block_embeddings)
            # Create a mask to filter out embeddings of items that do not belong to the current block.
            mask = tf.expand_dims(tf.cast(block_indicies == idx, tf.dtypes.float32), 1)
            # Set the embeddings for the items not belonging to the current block to zeros.
            block_embeddings = block_embeddings * mask
            # Add the block embeddings to the final embeddings.
            embeddings += block_embeddings

        return embeddings


def create_memory_efficient_model():
    # Take the user as an input.
    user_input = layers.Input(name="user_id", shape=(), dtype="string")
    # Get user embedding.
    user_embedding = QREmbedding(
        vocabulary=user_vocabulary,
        embedding_dim=base_embedding_dim,
        num_buckets=8,
        name="user_embedding",
    )(user_input)

    # Take the movie as an input.
    movie_input = layers.Input(name="movie_id", shape=(), dtype="string")
    # Get embedding.
    movie_embedding = MDEmbedding(
        blocks_vocabulary=movie_blocks_vocabulary,
        blocks_embedding_dims=[16, 8, 4],
        base_embedding_dim=base_embedding_dim,
        name="movie_embedding",
    )(movie_input)

    # Compute dot product similarity between user and movie embeddings.
    logits = layers.Dot(axes=1, name="dot_similarity")([user_embedding, movie_embedding])
    # Convert to rating scale.
    prediction = keras.activations.sigmoid(logits) * 5
    # Create the model.
    model = keras.Model(inputs=[user_input, movie_input], outputs=prediction)
    return model


movie_blocks_vocabulary = [movie_vocabulary[:40], movie_vocabulary[40:120], movie_vocabulary[120:]]

# the two embeddings on their own, against their tables
qr = QREmbedding(vocabulary=user_vocabulary, embedding_dim=4, num_buckets=8)
ids = np.array(["user_0", "user_13", "user_59"])
out = qr(ids).numpy()
q_table, r_table = qr.q_embeddings.get_weights()[0], qr.r_embeddings.get_weights()[0]
for row, i in zip(out, [0, 13, 59]):
    np.testing.assert_allclose(row, q_table[i // 8] * r_table[i % 8], rtol=1e-6)
table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(["a", "b", "c"], [0, 1, 1]), default_value=-1)
assert table.lookup(tf.constant(["b", "z", "a"])).numpy().tolist() == [1, -1, 0]

md = MDEmbedding(movie_blocks_vocabulary, [16, 8, 4], base_embedding_dim)
some = np.array([movie_vocabulary[3], movie_vocabulary[50], movie_vocabulary[150]])
out = md(some).numpy()
enc_tables = [enc.layers[-1].get_weights()[0] for enc in md.block_embedding_encoders]
np.testing.assert_allclose(out[0], enc_tables[0][1 + 3], rtol=1e-6)          # identity projection, OOV index 0
w, b = md.block_embedding_projectors[1].get_weights()
np.testing.assert_allclose(out[1], enc_tables[1][1 + 10] @ w + b, rtol=1e-5, atol=1e-6)
w, b = md.block_embedding_projectors[2].get_weights()
np.testing.assert_allclose(out[2], enc_tables[2][1 + 30] @ w + b, rtol=1e-5, atol=1e-6)

model = create_memory_efficient_model()
model.summary()
assert model.get_layer("user_embedding").count_params() == 2 * 8 * 16
assert model.get_layer("movie_embedding").count_params() == (41 * 16 + 81 * 8 + 81 * 4 + (8 * 16 + 16) + (4 * 16 + 16))

model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=0.01),
    loss=keras.losses.MeanSquaredError(),
    metrics=[keras.metrics.MeanAbsoluteError(name="mae")],
)
history = model.fit(get_dataset_from_arrays(0, split), epochs=10,
                    validation_data=get_dataset_from_arrays(split, n, shuffle=False), verbose=0)
print("val loss per epoch:", np.round(history.history["val_loss"], 3))
print("variance of the ratings:", ratings[split:].var())
assert history.history["val_loss"][-1] < 0.5 * ratings[split:].var()
