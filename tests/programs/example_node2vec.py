"""keras.io example "Graph representation learning with node2vec" (Khalid Salama), imports
changed only: biased second-order random walks (p, q) over a movie graph, skip-gram pairs from
keras.preprocessing.sequence.skipgrams with negative sampling, example weights from pair
counts, a tf.data pipeline of dict inputs with weights, one shared Embedding with an L2
regularizer, a Dot similarity, and nearest-neighbour queries of the learned embeddings. The
MovieLens co-rating graph (networkx) is replaced by a small graph of three dense communities."""
from collections import defaultdict
import random

import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers
from corenn import ops

keras.utils.set_random_seed(11)
random.seed(11)

# -- The graph: three "genres" of 12 movies, dense inside, a few edges across --------------------
n_per, n_groups = 12, 3
movies = [f"movie_{i}" for i in range(n_per * n_groups)]
group = {m: i // n_per for i, m in enumerate(movies)}
rng = np.random.default_rng(0)
edges = defaultdict(float)
for i, a in enumerate(movies):
    for j, b in enumerate(movies[:i]):
        same = group[a] == group[b]
        if rng.uniform() < (0.6 if same else 0.03):
            edges[(a, b)] = edges[(b, a)] = float(rng.integers(1, 5))
neighbors_of = defaultdict(list)
for (a, b), w in edges.items():
    neighbors_of[a].append(b)

vocabulary = ["NA"] + movies
vocabulary_lookup = {token: idx for idx, token in enumerate(vocabulary)}


def next_step(previous, current, p, q):
    neighbors = list(neighbors_of[current])
    weights = []
    for neighbor in neighbors:
        if neighbor == previous:
            weights.append(edges[(current, neighbor)] / p)
        elif (neighbor, previous) in edges:
            weights.append(edges[(current, neighbor)])
        else:
            weights.append(edges[(current, neighbor)] / q)
    weight_sum = sum(weights)
    probabilities = [weight / weight_sum for weight in weights]
    next = np.random.choice(neighbors, size=1, p=probabilities)[0]
    return next


def random_walk(num_walks, num_steps, p, q):
    walks = []
    nodes = list(neighbors_of)
    for walk_iteration in range(num_walks):
        random.shuffle(nodes)
        for node in nodes:
            walk = [node]
            while len(walk) < num_steps:
                current = walk[-1]
                previous = walk[-2] if len(walk) > 1 else None
                next = next_step(previous, current, p, q)
                walk.append(next)
            walk = [vocabulary_lookup[token] for token in walk]
            walks.append(walk)
    return walks


np.random.seed(11)
p = 1
q = 1
num_walks = 5
num_steps = 10
walks = random_walk(num_walks, num_steps, p, q)
print("Number of walks generated:", len(walks))
assert len(walks) == num_walks * len(neighbors_of) and all(len(w) == num_steps for w in walks)


def generate_examples(sequences, window_size, num_negative_samples, vocabulary_size):
    example_weights = defaultdict(int)
    for sequence in sequences:
        pairs, labels = keras.preprocessing.sequence.skipgrams(
            sequence,
            vocabulary_size=vocabulary_size,
            window_size=window_size,
            negative_samples=num_negative_samples,
        )
        for idx in range(len(pairs)):
            pair = pairs[idx]
            label = labels[idx]
            target, context = min(pair[0], pair[1]), max(pair[0], pair[1])
            if target == context:
                continue
            entry = (target, context, label)
            example_weights[entry] += 1

    targets, contexts, labels, weights = [], [], [], []
    for entry in example_weights:
        weight = example_weights[entry]
        target, context, label = entry
        targets.append(target)
        contexts.append(context)
        labels.append(label)
        weights.append(weight)

    return np.array(targets), np.array(contexts), np.array(labels), np.array(weights)


num_negative_samples = 4
targets, contexts, labels, weights = generate_examples(
    sequences=walks,
    window_size=num_steps,
    num_negative_samples=num_negative_samples,
    vocabulary_size=len(vocabulary),
)
print(f"Targets shape: {targets.shape}")
print(f"Contexts shape: {contexts.shape}")
print(f"Labels shape: {labels.shape}")
print(f"Weights shape: {weights.shape}")
assert set(np.unique(labels)) == {0, 1} and weights.min() >= 1

batch_size = 256


def create_dataset(targets, contexts, labels, weights, batch_size):
    inputs = {
        "target": targets,
        "context": contexts,
    }
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels, weights))
    dataset = dataset.shuffle(buffer_size=batch_size * 2)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    return dataset


dataset = create_dataset(targets=targets, contexts=contexts, labels=labels, weights=weights,
                         batch_size=batch_size)

learning_rate = 0.01
embedding_dim = 16
num_epochs = 10


def create_model(vocabulary_size, embedding_dim):
    inputs = {
        "target": layers.Input(name="target", shape=(), dtype="int32"),
        "context": layers.Input(name="context", shape=(), dtype="int32"),
    }
    embed_item = layers.Embedding(
        input_dim=vocabulary_size,
        output_dim=embedding_dim,
        embeddings_initializer="he_normal",
        embeddings_regularizer=keras.regularizers.l2(1e-6),
        name="item_embeddings",
    )
    target_embeddings = embed_item(inputs["target"])
    context_embeddings = embed_item(inputs["context"])
    logits = layers.Dot(axes=1, normalize=False, name="dot_similarity")(
        [target_embeddings, context_embeddings]
    )
    model = keras.Model(inputs=inputs, outputs=logits)
    return model


model = create_model(len(vocabulary), embedding_dim)
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate),
    loss=keras.losses.BinaryCrossentropy(from_logits=True),
)
history = model.fit(dataset, epochs=num_epochs, verbose=0)
print([round(v, 4) for v in history.history["loss"]])
assert history.history["loss"][-1] < history.history["loss"][0]   # (TF 2.21 Keras: 47.7 -> 45.6)

movie_embeddings = model.get_layer("item_embeddings").get_weights()[0]
print("Embeddings shape:", movie_embeddings.shape)
assert movie_embeddings.shape == (len(vocabulary), embedding_dim)

query_movies = ["movie_0", "movie_13", "movie_30"]
query_embeddings = []
for movie_title in query_movies:
    token_id = vocabulary_lookup[movie_title]
    movie_embedding = movie_embeddings[token_id]
    query_embeddings.append(movie_embedding)
query_embeddings = np.array(query_embeddings)

similarities = ops.matmul(
    ops.normalize(query_embeddings),
    ops.transpose(ops.normalize(movie_embeddings)),
)
_, indices = ops.top_k(similarities, k=6)
indices = ops.convert_to_numpy(indices).tolist()

hits = 0
for idx, title in enumerate(query_movies):
    print(title)
    print("".rjust(len(title), "-"))
    similar_tokens = indices[idx]
    for token in similar_tokens[1:]:
        similar_movie = vocabulary[token]
        print(f"- {similar_movie}")
        hits += similar_movie != "NA" and group[similar_movie] == group[title]
    print()
    assert vocabulary[similar_tokens[0]] == title     # a movie is most similar to itself
print("same-genre neighbours:", hits, "of", 5 * len(query_movies))
assert hits >= 8, hits   # chance: about 11 of 35 neighbours share the genre (4.7 of 15)
