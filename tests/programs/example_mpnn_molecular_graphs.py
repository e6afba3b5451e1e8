"""keras.io example "Message-passing neural network (MPNN) for molecular property prediction"
(graph/mpnn-molecular-graphs), imports changed: molecules as ragged tensors
(tf.ragged.constant of per-molecule feature arrays), a tf.data pipeline whose map merges a
batch of graphs into one disconnected graph (row_lengths, tf.repeat, tf.cumsum, tf.pad,
merge_dims(...).to_tensor()), an EdgeNetwork layer (tf.gather, batched tf.matmul,
tf.math.unsorted_segment_sum), message passing with a GRUCell, a PartitionPadding layer
(tf.dynamic_partition) and a Transformer readout with a padding attention mask, trained with
class_weight and an AUC metric. The BBBP molecules (parsed with RDKit in the example) are
replaced by random graphs whose label depends on their atoms; sizes are cut to run in seconds."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

np.random.seed(42)
tf.random.set_seed(42)

ATOM_DIM, BOND_DIM = 6, 3


def random_molecule(rng):
    """Atom one-hot features, bond features and directed bond (pair) indices of a random chain
    molecule with a few rings; its label: whether it holds more 'type 0' than 'type 1' atoms."""
    n = int(rng.integers(3, 9))
    kinds = rng.integers(0, ATOM_DIM, n)
    atom_features = np.eye(ATOM_DIM, dtype="float32")[kinds]
    pairs = [(i, i + 1) for i in range(n - 1)] + ([(0, n - 1)] if n > 4 else [])
    pair_indices, bond_features = [], []
    for a, b in pairs:
        feature = np.eye(BOND_DIM, dtype="float32")[int(rng.integers(0, BOND_DIM))]
        pair_indices += [[a, b], [b, a]]
        bond_features += [feature, feature]
    label = float((kinds == 0).sum() > (kinds == 1).sum())
    return atom_features, np.array(bond_features), np.array(pair_indices), label


def graphs_from_molecules(molecules):
    atom_features_list = []
    bond_features_list = []
    pair_indices_list = []
    for atom_features, bond_features, pair_indices, _ in molecules:
        atom_features_list.append(atom_features)
        bond_features_list.append(bond_features)
        pair_indices_list.append(pair_indices)
    # Convert lists to ragged tensors for tf.data.Dataset later on
    return (
        tf.ragged.constant(atom_features_list, dtype=tf.float32),
        tf.ragged.constant(bond_features_list, dtype=tf.float32),
        tf.ragged.constant(pair_indices_list, dtype=tf.int64),
    )


rng = np.random.default_rng(0)
molecules = [random_molecule(rng) for _ in range(160)]
labels = np.array([m[3] for m in molecules], "float32")
train_index, valid_index = np.arange(128), np.arange(128, 160)
x_train = graphs_from_molecules([molecules[i] for i in train_index])
y_train = labels[train_index]
x_valid = graphs_from_molecules([molecules[i] for i in valid_index])
y_valid = labels[valid_index]
print(x_train[0].shape, x_train[1].shape, x_train[2].shape)
assert x_train[0].shape.as_list() == [128, None, None]
assert x_train[0][0][0].shape[0] == ATOM_DIM


def prepare_batch(x_batch, y_batch):
    """Merges (sub)graphs of batch into a single global (disconnected) graph
    """

    atom_features, bond_features, pair_indices = x_batch

    # Obtain number of atoms and bonds for each graph (molecule)
    num_atoms = atom_features.row_lengths()
    num_bonds = bond_features.row_lengths()

    # Obtain partition indices (molecule_indicator), which will be used to
    # gather (sub)graphs from global graph in model later on
    molecule_indices = tf.range(len(num_atoms))
    molecule_indicator = tf.repeat(molecule_indices, num_atoms)

    # Merge (sub)graphs into a global (disconnected) graph. Adding 'increment' to
    # 'pair_indices' (and merging ragged tensors) actualizes the global graph
    gather_indices = tf.repeat(molecule_indices[:-1], num_bonds[1:])
    increment = tf.cumsum(num_atoms[:-1])
    increment = tf.pad(tf.gather(increment, gather_indices), [(num_bonds[0], 0)])
    pair_indices = pair_indices.merge_dims(outer_axis=0, inner_axis=1).to_tensor()
    pair_indices = pair_indices + increment[:, tf.newaxis]
    atom_features = atom_features.merge_dims(outer_axis=0, inner_axis=1).to_tensor()
    bond_features = bond_features.merge_dims(outer_axis=0, inner_axis=1).to_tensor()

    return (atom_features, bond_features, pair_indices, molecule_indicator), y_batch


def MPNNDataset(X, y, batch_size=32, shuffle=False):
    dataset = tf.data.Dataset.from_tensor_slices((X, (y)))
    if shuffle:
        dataset = dataset.shuffle(1024)
    return dataset.batch(batch_size).map(prepare_batch, -1).prefetch(-1)


# the merged graph of the first batch against the molecules it came from
(atoms, bonds, pairs, indicator), y0 = next(iter(MPNNDataset(x_train, y_train)))
sizes = [len(molecules[i][0]) for i in range(32)]
np.testing.assert_array_equal(np.asarray(atoms), np.concatenate([molecules[i][0] for i in range(32)]))
np.testing.assert_array_equal(np.asarray(indicator), np.repeat(np.arange(32), sizes))
offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
np.testing.assert_array_equal(np.asarray(pairs), np.concatenate([molecules[i][2] + offsets[i] for i in range(32)]))
assert bonds.shape == (len(pairs), BOND_DIM)


class EdgeNetwork(layers.Layer):
    def build(self, input_shape):
        self.atom_dim = input_shape[0][-1]
        self.bond_dim = input_shape[1][-1]
        self.kernel = self.add_weight(
            shape=(self.bond_dim, self.atom_dim * self.atom_dim),
            initializer="glorot_uniform",
            name="kernel",
        )
        self.bias = self.add_weight(
            shape=(self.atom_dim * self.atom_dim), initializer="zeros", name="bias",
        )
        self.built = True

    def call(self, inputs):
        atom_features, bond_features, pair_indices = inputs

        # Apply linear transformation to bond features
        bond_features = tf.matmul(bond_features, self.kernel) + self.bias

        # Reshape for neighborhood aggregation later
        bond_features = tf.reshape(bond_features, (-1, self.atom_dim, self.atom_dim))

        # Obtain atom features of neighbors
        atom_features_neighbors = tf.gather(atom_features, pair_indices[:, 1])
        atom_features_neighbors = tf.expand_dims(atom_features_neighbors, axis=-1)

        # Apply neighborhood aggregation
        transformed_features = tf.matmul(bond_features, atom_features_neighbors)
        transformed_features = tf.squeeze(transformed_features, axis=-1)
        aggregated_features = tf.math.unsorted_segment_sum(
            transformed_features,
            pair_indices[:, 0],
            num_segments=tf.shape(atom_features)[0],
        )
        return aggregated_features


class MessagePassing(layers.Layer):
    def __init__(self, units, steps=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.steps = steps

    def build(self, input_shape):
        self.atom_dim = input_shape[0][-1]
        self.message_step = EdgeNetwork()
        self.pad_length = max(0, self.units - self.atom_dim)
        self.update_step = layers.GRUCell(self.atom_dim + self.pad_length)
        self.built = True

    def call(self, inputs):
        atom_features, bond_features, pair_indices = inputs

        # Pad atom features if number of desired units exceeds atom_features dim.
        # Alternatively, a dense layer could be used here.
        atom_features_updated = tf.pad(atom_features, [(0, 0), (0, self.pad_length)])

        # Perform a number of steps of message passing
        for i in range(self.steps):
            # Aggregate information from neighbors
            atom_features_aggregated = self.message_step(
                [atom_features_updated, bond_features, pair_indices]
            )

            # Update node state via a step of GRU
            atom_features_updated, _ = self.update_step(
                atom_features_aggregated, atom_features_updated
            )
        return atom_features_updated


class PartitionPadding(layers.Layer):
    def __init__(self, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.batch_size = batch_size

    def call(self, inputs):

        atom_features, molecule_indicator = inputs

        # Obtain subgraphs
        atom_features_partitioned = tf.dynamic_partition(
            atom_features, molecule_indicator, self.batch_size
        )

        # Pad and stack subgraphs
        num_atoms = [tf.shape(f)[0] for f in atom_features_partitioned]
        max_num_atoms = tf.reduce_max(num_atoms)
        atom_features_stacked = tf.stack(
            [
                tf.pad(f, [(0, max_num_atoms - n), (0, 0)])
                for f, n in zip(atom_features_partitioned, num_atoms)
            ],
            axis=0,
        )

        # Remove empty subgraphs (usually for last batch in dataset)
        gather_indices = tf.where(tf.reduce_sum(atom_features_stacked, (1, 2)) != 0)
        gather_indices = tf.squeeze(gather_indices, axis=-1)
        return tf.gather(atom_features_stacked, gather_indices, axis=0)


class TransformerEncoderReadout(layers.Layer):
    def __init__(
        self, num_heads=8, embed_dim=64, dense_dim=512, batch_size=32, **kwargs
    ):
        super().__init__(**kwargs)

        self.partition_padding = PartitionPadding(batch_size)
        self.attention = layers.MultiHeadAttention(num_heads, embed_dim)
        self.dense_proj = keras.Sequential(
            [layers.Dense(dense_dim, activation="relu"), layers.Dense(embed_dim),]
        )
        self.layernorm_1 = layers.LayerNormalization()
        self.layernorm_2 = layers.LayerNormalization()
        self.average_pooling = layers.GlobalAveragePooling1D()

    def call(self, inputs):
        x = self.partition_padding(inputs)
        padding_mask = tf.reduce_any(tf.not_equal(x, 0.0), axis=-1)
        padding_mask = padding_mask[:, tf.newaxis, tf.newaxis, :]
        attention_output = self.attention(x, x, attention_mask=padding_mask)
        proj_input = self.layernorm_1(x + attention_output)
        proj_output = self.layernorm_2(proj_input + self.dense_proj(proj_input))
        return self.average_pooling(proj_output)


def MPNNModel(
    atom_dim,
    bond_dim,
    batch_size=32,
    message_units=64,
    message_steps=4,
    num_attention_heads=8,
    dense_units=512,
):

    atom_features = layers.Input((atom_dim), dtype="float32", name="atom_features")
    bond_features = layers.Input((bond_dim), dtype="float32", name="bond_features")
    pair_indices = layers.Input((2), dtype="int32", name="pair_indices")
    molecule_indicator = layers.Input((), dtype="int32", name="molecule_indicator")

    x = MessagePassing(message_units, message_steps)(
        [atom_features, bond_features, pair_indices]
    )

    x = TransformerEncoderReadout(
        num_attention_heads, message_units, dense_units, batch_size
    )([x, molecule_indicator])

    x = layers.Dense(dense_units, activation="relu")(x)
    x = layers.Dense(1, activation="sigmoid")(x)

    model = keras.Model(
        inputs=[atom_features, bond_features, pair_indices, molecule_indicator],
        outputs=[x],
    )
    return model


mpnn = MPNNModel(
    atom_dim=x_train[0][0][0].shape[0], bond_dim=x_train[1][0][0].shape[0],
    message_units=16, message_steps=2, num_attention_heads=2, dense_units=32,
)

mpnn.compile(
    loss=keras.losses.BinaryCrossentropy(),
    optimizer=keras.optimizers.Adam(learning_rate=5e-3),
    metrics=[keras.metrics.AUC(name="AUC")],
)

train_dataset = MPNNDataset(x_train, y_train)
valid_dataset = MPNNDataset(x_valid, y_valid)

history = mpnn.fit(
    train_dataset,
    validation_data=valid_dataset,
    epochs=8,
    verbose=2,
    class_weight={0: 2.0, 1: 0.5},
)
print({k: [round(v, 3) for v in vals[::5]] for k, vals in history.history.items()})
assert history.history["loss"][-1] < history.history["loss"][0]
assert history.history["AUC"][-1] > 0.8

test_dataset = MPNNDataset(x_valid, y_valid)
y_pred = tf.squeeze(mpnn.predict(test_dataset, verbose=0), axis=1)
assert y_pred.shape == (32,)
