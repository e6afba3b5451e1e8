"""keras-io examples/structured_data/collaborative_filtering_movielens, imports changed only
(`import keras`, `from keras import layers, ops` -> corenn). MovieLens is replaced by synthetic
ratings from hidden user / movie factors; the RecommenderNet subclass (embeddings and biases,
ops.tensordot, ops.nn.sigmoid) is the example's."""
import numpy as np
import corenn as keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(14)
rng = np.random.default_rng(14)
num_users, num_movies, n = 60, 80, 3000
user_taste = rng.normal(0, 1, (num_users, 3))
movie_kind = rng.normal(0, 1, (num_movies, 3))
user_ids = rng.integers(0, num_users, n)
movie_ids = rng.integers(0, num_movies, n)
raw = np.sum(user_taste[user_ids] * movie_kind[movie_ids], axis=1) + 0.5 * rng.normal(size=n)
rating = np.clip(np.round(3 + raw), 0.5, 5.0)

# the example's dataframe columns, as arrays
df = {"user": user_ids, "movie": movie_ids, "rating": rating.astype("float32")}
min_rating = min(df["rating"])
max_rating = max(df["rating"])
print(f"Number of users: {num_users}, Number of Movies: {num_movies}, Min rating: {min_rating}, "
      f"Max rating: {max_rating}")

x = np.stack([df["user"], df["movie"]], axis=1)
# Normalize the targets between 0 and 1. Makes it easy to train.
y = np.array([(r - min_rating) / (max_rating - min_rating) for r in df["rating"]])
train_indices = int(0.9 * n)
x_train, x_val, y_train, y_val = (x[:train_indices], x[train_indices:], y[:train_indices], y[train_indices:])

EMBEDDING_SIZE = 16


class RecommenderNet(keras.Model):
    def __init__(self, num_users, num_movies, embedding_size, **kwargs):
        super().__init__(**kwargs)
        self.num_users = num_users
        self.num_movies = num_movies
        self.embedding_size = embedding_size
        self.user_embedding = layers.Embedding(
            num_users, embedding_size, embeddings_initializer="he_normal",
            embeddings_regularizer=keras.regularizers.l2(1e-6),
        )
        self.user_bias = layers.Embedding(num_users, 1)
        self.movie_embedding = layers.Embedding(
            num_movies, embedding_size, embeddings_initializer="he_normal",
            embeddings_regularizer=keras.regularizers.l2(1e-6),
        )
        self.movie_bias = layers.Embedding(num_movies, 1)

    def call(self, inputs):
        user_vector = self.user_embedding(inputs[:, 0])
        user_bias = self.user_bias(inputs[:, 0])
        movie_vector = self.movie_embedding(inputs[:, 1])
        movie_bias = self.movie_bias(inputs[:, 1])
        dot_user_movie = ops.tensordot(user_vector, movie_vector, 2)
        # Add all the components (including bias)
        x = dot_user_movie + user_bias + movie_bias
        # The sigmoid activation forces the rating to between 0 and 1
        return ops.nn.sigmoid(x)


model = RecommenderNet(num_users, num_movies, EMBEDDING_SIZE)
model.compile(loss=keras.losses.BinaryCrossentropy(), optimizer=keras.optimizers.Adam(learning_rate=0.001))
history = model.fit(x=x_train, y=y_train, batch_size=64, epochs=5, verbose=0, validation_data=(x_val, y_val))
print(history.history)
# the batch-wide tensordot scalar makes the training loss noisy; the validation loss falls
assert history.history["val_loss"][-1] < history.history["val_loss"][0], history.history
assert len(model.trainable_weights) == 4

# Keras' tensordot over 2 axes of two (batch, 16) matrices is one scalar for the whole batch, so
# the model learns the biases; check the output against the same formula in NumPy
xs = x_val[:8]
u, ub, m, mb = [np.asarray(w) for w in (model.user_embedding.embeddings, model.user_bias.embeddings,
                                         model.movie_embedding.embeddings, model.movie_bias.embeddings)]
logits = np.sum(u[xs[:, 0]] * m[xs[:, 1]]) + ub[xs[:, 0]] + mb[xs[:, 1]]
np.testing.assert_allclose(model.predict(xs, verbose=0), 1 / (1 + np.exp(-logits)), rtol=1e-4, atol=1e-5)

# Show top movie recommendations to a user: the unrated movies with the highest predictions
user_id = int(df["user"][0])
movies_watched_by_user = set(df["movie"][df["user"] == user_id])
movies_not_watched = [m for m in range(num_movies) if m not in movies_watched_by_user]
user_movie_array = np.hstack(([[user_id]] * len(movies_not_watched), np.array(movies_not_watched)[:, None]))
ratings = model.predict(user_movie_array).flatten()
top_ratings_indices = ratings.argsort()[-10:][::-1]
recommended_movie_ids = [movies_not_watched[x] for x in top_ratings_indices]
print("Top 10 movie recommendations for user", user_id, recommended_movie_ids)
assert len(recommended_movie_ids) == 10
# the movie biases carry each movie's mean rating: the top pick is rated above the average
mean_by_movie = np.array([y[x[:, 1] == k].mean() if (x[:, 1] == k).any() else 0 for k in range(num_movies)])
assert mean_by_movie[recommended_movie_ids[0]] > np.mean(y), (mean_by_movie[recommended_movie_ids[0]], np.mean(y))
