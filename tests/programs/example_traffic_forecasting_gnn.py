"""keras.io example "Traffic forecasting using graph neural networks and LSTM", imports changed:
an adjacency matrix from road distances (thresholded Gaussian kernel), windows made with
`keras.utils.timeseries_dataset_from_array` and joined by `tf.data.Dataset.zip`, then
`.shuffle().prefetch().cache()`; a `GraphConv` layer (`tf.gather` of neighbours,
`tf.math.unsorted_segment_mean`, `add_weight` in `__init__`) inside an `LSTMGC` layer that reshapes
(num_nodes * batch, T, F) for an LSTM with the batch size read from `ops.shape`, RMSprop and
EarlyStopping, and the example's comparison with the naive forecast. The PeMSD7 speeds are
replaced by synthetic speeds on 10 road sections (daily waves travelling along the road)."""
import typing

import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers, ops
from corenn.keras.utils import timeseries_dataset_from_array

keras.utils.set_random_seed(5)
rng = np.random.default_rng(5)

# --- synthetic data: 10 sections along a road, a daily wave reaching each section later -------
num_routes, num_steps, day = 10, 1200, 48
positions = np.cumsum(rng.uniform(0.5, 1.5, num_routes))
route_distances = np.abs(positions[:, None] - positions[None, :]) * 1000.0
tt = np.arange(num_steps)[:, None]
speeds_array = (60 - 15 * np.sin(2 * np.pi * (tt - 2 * positions[None, :]) / day) ** 2
                + rng.normal(0, 1.0, (num_steps, num_routes))).astype("float32")
print(f"route_distances shape={route_distances.shape}")
print(f"speeds_array shape={speeds_array.shape}")

train_size, val_size = 0.5, 0.2


def preprocess(data_array: np.ndarray, train_size: float, val_size: float):
    num_time_steps = data_array.shape[0]
    num_train, num_val = (int(num_time_steps * train_size), int(num_time_steps * val_size))
    train_array = data_array[:num_train]
    mean, std = train_array.mean(axis=0), train_array.std(axis=0)

    train_array = (train_array - mean) / std
    val_array = (data_array[num_train: (num_train + num_val)] - mean) / std
    test_array = (data_array[(num_train + num_val):] - mean) / std

    return train_array, val_array, test_array


train_array, val_array, test_array = preprocess(speeds_array, train_size, val_size)
print(f"train set size: {train_array.shape}")
print(f"validation set size: {val_array.shape}")
print(f"test set size: {test_array.shape}")

batch_size = 64
input_sequence_length = 12
forecast_horizon = 3
multi_horizon = False


def create_tf_dataset(data_array: np.ndarray, input_sequence_length: int, forecast_horizon: int,
                      batch_size: int = 128, shuffle=True, multi_horizon=True):
    inputs = timeseries_dataset_from_array(np.expand_dims(data_array[:-forecast_horizon], axis=-1), None,
                                           sequence_length=input_sequence_length, shuffle=False,
                                           batch_size=batch_size)

    target_offset = (input_sequence_length if multi_horizon else input_sequence_length + forecast_horizon - 1)
    target_seq_length = forecast_horizon if multi_horizon else 1
    targets = timeseries_dataset_from_array(data_array[target_offset:], None, sequence_length=target_seq_length,
                                            shuffle=False, batch_size=batch_size)

    dataset = tf.data.Dataset.zip((inputs, targets))
    if shuffle:
        dataset = dataset.shuffle(100)

    return dataset.prefetch(16).cache()


train_dataset, val_dataset = (
    create_tf_dataset(data_array, input_sequence_length, forecast_horizon, batch_size, multi_horizon=multi_horizon)
    for data_array in [train_array, val_array])

test_dataset = create_tf_dataset(test_array, input_sequence_length, forecast_horizon, batch_size=test_array.shape[0],
                                 shuffle=False, multi_horizon=multi_horizon)


def compute_adjacency_matrix(route_distances: np.ndarray, sigma2: float, epsilon: float):
    num_routes = route_distances.shape[0]
    route_distances = route_distances / 10000.0
    w2, w_mask = (route_distances * route_distances, np.ones([num_routes, num_routes]) - np.identity(num_routes))
    return (np.exp(-w2 / sigma2) >= epsilon) * w_mask


class GraphInfo:
    def __init__(self, edges: typing.Tuple[list, list], num_nodes: int):
        self.edges = edges
        self.num_nodes = num_nodes


sigma2 = 0.1
epsilon = 0.5
adjacency_matrix = compute_adjacency_matrix(route_distances, sigma2, epsilon)
node_indices, neighbor_indices = np.where(adjacency_matrix == 1)
graph = GraphInfo(edges=(node_indices.tolist(), neighbor_indices.tolist()), num_nodes=adjacency_matrix.shape[0])
print(f"number of nodes: {graph.num_nodes}, number of edges: {len(graph.edges[0])}")
assert len(graph.edges[0]) > 0


class GraphConv(layers.Layer):
    def __init__(self, in_feat, out_feat, graph_info: GraphInfo, aggregation_type="mean", combination_type="concat",
                 activation: typing.Optional[str] = None, **kwargs):
        super().__init__(**kwargs)
        self.in_feat = in_feat
        self.out_feat = out_feat
        self.graph_info = graph_info
        self.aggregation_type = aggregation_type
        self.combination_type = combination_type
        self.weight = self.add_weight(initializer=keras.initializers.GlorotUniform(), shape=(in_feat, out_feat),
                                      dtype="float32", trainable=True)
        self.activation = layers.Activation(activation)

    def aggregate(self, neighbour_representations):
        aggregation_func = {
            "sum": tf.math.unsorted_segment_sum,
            "mean": tf.math.unsorted_segment_mean,
            "max": tf.math.unsorted_segment_max,
        }.get(self.aggregation_type)

        if aggregation_func:
            return aggregation_func(neighbour_representations, self.graph_info.edges[0],
                                    num_segments=self.graph_info.num_nodes)

        raise ValueError(f"Invalid aggregation type: {self.aggregation_type}")

    def compute_nodes_representation(self, features):
        return ops.matmul(features, self.weight)

    def compute_aggregated_messages(self, features):
        neighbour_representations = tf.gather(features, self.graph_info.edges[1])
        aggregated_messages = self.aggregate(neighbour_representations)
        return ops.matmul(aggregated_messages, self.weight)

    def update(self, nodes_representation, aggregated_messages):
        if self.combination_type == "concat":
            h = ops.concatenate([nodes_representation, aggregated_messages], axis=-1)
        elif self.combination_type == "add":
            h = nodes_representation + aggregated_messages
        else:
            raise ValueError(f"Invalid combination type: {self.combination_type}.")

        return self.activation(h)

    def call(self, features):
        nodes_representation = self.compute_nodes_representation(features)
        aggregated_messages = self.compute_aggregated_messages(features)
        return self.update(nodes_representation, aggregated_messages)


class LSTMGC(layers.Layer):
    """Layer comprising a convolution layer followed by LSTM and dense layers."""

    def __init__(self, in_feat, out_feat, lstm_units: int, input_seq_len: int, output_seq_len: int,
                 graph_info: GraphInfo, graph_conv_params: typing.Optional[dict] = None, **kwargs):
        super().__init__(**kwargs)

        # graph conv layer
        if graph_conv_params is None:
            graph_conv_params = {"aggregation_type": "mean", "combination_type": "concat", "activation": None}
        self.graph_conv = GraphConv(in_feat, out_feat, graph_info, **graph_conv_params)

        self.lstm = layers.LSTM(lstm_units, activation="relu")
        self.dense = layers.Dense(output_seq_len)

        self.input_seq_len, self.output_seq_len = input_seq_len, output_seq_len

    def call(self, inputs):
        # convert shape to  (num_nodes, batch_size, input_seq_len, in_feat)
        inputs = ops.transpose(inputs, [2, 0, 1, 3])

        gcn_out = self.graph_conv(inputs)  # gcn_out has shape: (num_nodes, batch_size, input_seq_len, out_feat)
        shape = ops.shape(gcn_out)
        num_nodes, batch_size, input_seq_len, out_feat = (shape[0], shape[1], shape[2], shape[3])

        # LSTM takes only 3D tensors as input
        gcn_out = ops.reshape(gcn_out, (batch_size * num_nodes, input_seq_len, out_feat))
        lstm_out = self.lstm(gcn_out)  # lstm_out has shape: (batch_size * num_nodes, lstm_units)

        dense_output = self.dense(lstm_out)  # dense_output has shape: (batch_size * num_nodes, output_seq_len)
        output = ops.reshape(dense_output, (num_nodes, batch_size, self.output_seq_len))
        return ops.transpose(output, [1, 2, 0])  # returns Tensor of shape (batch_size, output_seq_len, num_nodes)


in_feat = 1
batch_size = 64
epochs = 12
input_sequence_length = 12
forecast_horizon = 3
multi_horizon = False
out_feat = 10
lstm_units = 32
graph_conv_params = {"aggregation_type": "mean", "combination_type": "concat", "activation": None}

st_gcn = LSTMGC(in_feat, out_feat, lstm_units, input_sequence_length, forecast_horizon, graph, graph_conv_params)
inputs = layers.Input((input_sequence_length, graph.num_nodes, in_feat))
outputs = st_gcn(inputs)

model = keras.models.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.002), loss=keras.losses.MeanSquaredError())
history = model.fit(train_dataset, validation_data=val_dataset, epochs=epochs,
                    callbacks=[keras.callbacks.EarlyStopping(patience=10)], verbose=0)
print(history.history["loss"])
assert history.history["loss"][-1] < 0.5 * history.history["loss"][0], history.history["loss"]

x_test, y = next(test_dataset.as_numpy_iterator())
y_pred = model.predict(x_test)
print(y_pred.shape, y.shape)
# the model forecasts forecast_horizon steps, the single-horizon targets have one: the MSE broadcasts
# them (Keras' elementwise losses do), and the example reads the first predicted step
assert y_pred.shape == (x_test.shape[0], forecast_horizon, graph.num_nodes) and y.shape == (x_test.shape[0], 1, graph.num_nodes)
np.testing.assert_allclose(model.evaluate(x_test, y, verbose=0), np.mean((y_pred - y) ** 2), rtol=1e-4)

naive_mse, model_mse = (np.square(x_test[:, -1, :, 0] - y[:, 0, :]).mean(), np.square(y_pred[:, 0, :] - y[:, 0, :]).mean())
print(f"naive MAE: {naive_mse}, model MAE: {model_mse}")
assert model_mse < naive_mse, (model_mse, naive_mse)   # the wave's phase 3 steps ahead beats persistence

# the graph convolution against NumPy: segment means of the neighbours' rows
gc = st_gcn.graph_conv
feats = rng.normal(size=(graph.num_nodes, 2, 3, in_feat)).astype("float32")
w = gc.weight.numpy()
agg = np.zeros_like(feats)
src, dst = np.array(graph.edges[0]), np.array(graph.edges[1])
for node in range(graph.num_nodes):
    if (src == node).any():
        agg[node] = feats[dst[src == node]].mean(axis=0)
expect = np.concatenate([feats @ w, agg @ w], axis=-1)
np.testing.assert_allclose(np.asarray(gc(feats)), expect, rtol=1e-5, atol=1e-5)
