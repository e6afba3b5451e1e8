"""keras-io examples/graph/gat_node_classification (Graph attention network (GAT) for node
classification), imports changed only (`import keras`, `from keras import layers, ops` ->
corenn). The Cora download and its pandas tables are replaced by a synthetic citation graph of
the same form (papers with bag-of-words features and one of 7 subjects; papers mostly cite
papers of their own subject), and the network is narrowed (8 units x 2 heads, 2 layers)."""
import numpy as np
import corenn as keras
from corenn.keras import layers
from corenn.keras import ops

keras.utils.set_random_seed(2)

# synthetic Cora: 350 papers, 7 subjects, 60 terms (a subject's papers use its terms more often)
num_papers, num_terms, num_subjects = 350, 60, 7
rng = np.random.default_rng(2)
subjects = rng.integers(0, num_subjects, num_papers)
term_rates = np.full((num_subjects, num_terms), 0.03)
for s in range(num_subjects):
    term_rates[s, 8 * s: 8 * s + 8] = 0.4
terms = (rng.random((num_papers, num_terms)) < term_rates[subjects]).astype("float32")
targets, sources = [], []
for paper in range(num_papers):
    same = np.flatnonzero(subjects == subjects[paper])
    for cited in rng.choice(same, 4):
        targets.append(paper)
        sources.append(int(cited))
    targets.append(paper)
    sources.append(int(rng.integers(0, num_papers)))   # some citations cross subjects
class_values = [f"subject_{s}" for s in range(num_subjects)]
class_idx = {name: id for id, name in enumerate(class_values)}

# Obtain random indices
random_indices = np.random.permutation(range(num_papers))

# 50/50 split
train_indices = random_indices[: len(random_indices) // 2]
test_indices = random_indices[len(random_indices) // 2:]

# Obtain ground truth labels corresponding to each paper_id
train_labels = subjects[train_indices]
test_labels = subjects[test_indices]

# Define graph, namely an edge tensor and a node feature tensor
edges = ops.convert_to_tensor(np.stack([targets, sources], axis=1), dtype="int32")
node_states = ops.convert_to_tensor(terms, dtype="float32")

print("Edges shape:\t\t", edges.shape)
print("Node features shape:", node_states.shape)


class GraphAttention(layers.Layer):
    def __init__(
        self,
        units,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[0][-1], self.units),
            trainable=True,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            name="kernel",
        )
        self.kernel_attention = self.add_weight(
            shape=(self.units * 2, 1),
            trainable=True,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            name="kernel_attention",
        )
        self.built = True

    def call(self, inputs):
        node_states, edges = inputs

        z = ops.matmul(node_states, self.kernel)

        source_indices = edges[:, 1]
        target_indices = edges[:, 0]

        z_target = ops.take(z, target_indices, axis=0)
        z_source = ops.take(z, source_indices, axis=0)

        z_concat = ops.concatenate([z_target, z_source], axis=-1)
        attention_scores = ops.leaky_relu(ops.matmul(z_concat, self.kernel_attention))
        attention_scores = ops.squeeze(attention_scores, -1)

        attention_scores = ops.exp(ops.clip(attention_scores, -2, 2))

        num_nodes = ops.shape(node_states)[0]
        attention_sum = ops.segment_sum(
            attention_scores, target_indices, num_segments=num_nodes
        )

        # Broadcast sum back to edges to normalize
        attention_sum_per_edge = ops.take(attention_sum, target_indices, axis=0)
        attention_norm = attention_scores / (attention_sum_per_edge + 1e-8)

        node_states_neighbors = ops.take(z, source_indices, axis=0)
        weighted_neighbors = node_states_neighbors * ops.expand_dims(
            attention_norm, axis=-1
        )

        return ops.segment_sum(
            weighted_neighbors, target_indices, num_segments=num_nodes
        )


class MultiHeadGraphAttention(layers.Layer):
    def __init__(self, units, num_heads=8, merge_type="concat", **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.merge_type = merge_type
        self.attention_layers = [GraphAttention(units) for _ in range(num_heads)]

    def call(self, inputs):
        node_states, edges = inputs
        outputs = [layer([node_states, edges]) for layer in self.attention_layers]

        if self.merge_type == "concat":
            outputs = ops.concatenate(outputs, axis=-1)
        else:
            outputs = ops.mean(ops.stack(outputs, axis=0), axis=0)

        return ops.relu(outputs)


class GraphAttentionNetwork(keras.Model):
    def __init__(
        self,
        node_states,
        edges,
        hidden_units,
        num_heads,
        num_layers,
        output_dim,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.node_states = node_states
        self.edges = edges
        self.preprocess = layers.Dense(hidden_units * num_heads, activation="relu")
        self.attention_layers = [
            MultiHeadGraphAttention(hidden_units, num_heads) for _ in range(num_layers)
        ]
        self.output_layer = layers.Dense(output_dim)

    def call(self, inputs, training=False):
        # inputs here are the indices of nodes we want predictions for
        indices = inputs

        x = self.preprocess(self.node_states)
        for attention_layer in self.attention_layers:
            x = attention_layer([x, self.edges]) + x

        # Return only the requested node states
        outputs = self.output_layer(x)
        return ops.take(outputs, indices, axis=0)


HIDDEN_UNITS = 8
NUM_HEADS = 2
NUM_LAYERS = 2
OUTPUT_DIM = len(class_values)

# Build and compile model
gat_model = GraphAttentionNetwork(
    node_states, edges, HIDDEN_UNITS, NUM_HEADS, NUM_LAYERS, OUTPUT_DIM
)

gat_model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=keras.optimizers.SGD(learning_rate=0.03, momentum=0.9),
    metrics=["accuracy"],
)

history = gat_model.fit(
    x=train_indices,
    y=train_labels,
    validation_split=0.1,
    batch_size=64,
    epochs=30,
    callbacks=[
        keras.callbacks.EarlyStopping(
            monitor="val_accuracy", patience=5, restore_best_weights=True
        )
    ],
    verbose=0,
)
_, test_accuracy = gat_model.evaluate(x=test_indices, y=test_labels, verbose=0)

print("--" * 38 + f"\nTest Accuracy {test_accuracy*100:.1f}%")
print(history.history["val_accuracy"])
assert test_accuracy > 0.7, test_accuracy
# 2 attention layers x 2 heads, each with a kernel and an attention kernel, plus two Dense
assert len(gat_model.trainable_weights) == 2 * 2 * 2 + 4

test_logits = gat_model.predict(x=test_indices, verbose=0)

test_probs = ops.softmax(test_logits)

test_probs_np = ops.convert_to_numpy(test_probs)
assert test_probs_np.shape == (len(test_indices), num_subjects)
np.testing.assert_allclose(test_probs_np.sum(axis=1), 1.0, rtol=1e-5)
assert abs(np.mean(test_probs_np.argmax(axis=1) == test_labels) - test_accuracy) < 1e-6

mapping = {v: k for (k, v) in class_idx.items()}

for i, (probs, label) in enumerate(zip(test_probs_np[:3], test_labels[:3])):
    print(f"Example {i+1}: {mapping[label]}")
    for j, c in zip(probs, class_idx.keys()):
        print(f"\tProbability of {c: <24} = {j*100:7.3f}%")
    print("---" * 20)
