"""Sweep 28: what the programs added to tests/programs in sweep 28 found missing, each checked on
its own against NumPy references or TensorFlow 2.21's behaviour (the values written here are what
tf.keras gave for the same calls)."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras


# ---- keras.io multivariate LSTM forecasting (example_multivariate_lstm_forecasting.py):
#      tf.keras.preprocessing.sequence.TimeseriesGenerator ----

def _batches(gen):
    return [(x.tolist(), y.tolist()) for x, y in (gen[i] for i in range(len(gen)))]


def test_timeseries_generator_windows_precede_their_targets():
    G = keras.preprocessing.sequence.TimeseriesGenerator
    # the example's own illustration: the first two days' features predict the third day's target
    g = G(np.arange(10), np.arange(10) * 10, length=3, batch_size=4, start_index=1, end_index=8)
    assert len(g) == 2
    assert _batches(g) == [([[1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 6]], [40, 50, 60, 70]),
                           ([[5, 6, 7]], [80])]
    # sampling_rate, stride and reverse (TF 2.21: one batch, rows 4 and 7)
    g = G(np.arange(20).reshape(10, 2), np.arange(10), length=4, sampling_rate=2, stride=3, batch_size=2,
          reverse=True)
    assert len(g) == 1
    assert _batches(g) == [([[[4, 5], [0, 1]], [[10, 11], [6, 7]]], [4, 7])]
    # the default end_index is the last row; every row from `length` on is a sample exactly once
    x = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    g = G(x, x[:, 0], length=7, batch_size=8)
    rows = np.concatenate([g[i][1] for i in range(len(g))])
    np.testing.assert_array_equal(rows, x[7:, 0])
    np.testing.assert_array_equal(g[0][0][2], x[2:9])


def test_timeseries_generator_shuffle_draws_full_batches_in_range():
    G = keras.preprocessing.sequence.TimeseriesGenerator
    data = np.arange(30)
    g = G(data, data, length=5, batch_size=6, shuffle=True)
    x, y = g[0]
    assert x.shape == (6, 5) and y.shape == (6,)
    assert ((y >= 5) & (y <= 29)).all()
    np.testing.assert_array_equal(x[:, -1] + 1, y)   # each window still ends right before its target


def test_timeseries_generator_refuses_bad_arguments():
    G = keras.preprocessing.sequence.TimeseriesGenerator
    with pytest.raises(ValueError, match="same length"):
        G(np.arange(5), np.arange(4), length=2)
    with pytest.raises(ValueError, match="start_index \\+ length = 3 > end_index = 2"):
        G(np.arange(3), np.arange(3), length=3)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        G(np.arange(9), np.arange(9), length=3, batch_size=0)
    with pytest.raises(IndexError, match="batch index 2 out of range"):
        G(np.arange(9), np.arange(9), length=3, batch_size=4)[2]


def test_timeseries_generator_feeds_fit_evaluate_and_predict():
    keras.utils.set_random_seed(0)
    series = np.sin(np.arange(120) * 0.3).astype(np.float32)
    x = np.stack([series, np.cos(np.arange(120) * 0.3).astype(np.float32)], axis=-1)
    gen = keras.preprocessing.sequence.TimeseriesGenerator(x, series, length=6, batch_size=16)
    model = keras.Sequential([keras.Input((6, 2)), keras.layers.LSTM(8), keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(0.02))
    history = model.fit(gen, epochs=6, verbose=0, shuffle=False)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(gen, verbose=0).shape == (114, 1)
    assert np.isfinite(model.evaluate(gen, verbose=0))


# ---- TF guide "Migrate metrics and optimizers" (tutorial_migrate_metrics_optimizers.py): a
#      model whose output is tf.math.argmax, evaluated with loss='mse' ----

def test_losses_take_integer_predictions_as_float32_like_keras():
    # Keras 3 (torch backend): 0.33333334 and 1.5
    mse = keras.losses.MeanSquaredError()
    value = mse(np.array([0, 1, 1]), tf.constant(np.array([0, 0, 1], np.int64)))
    np.testing.assert_allclose(float(value), 1 / 3, rtol=1e-6)
    mae = keras.losses.MeanAbsoluteError()
    np.testing.assert_allclose(float(mae(np.array([[0], [3]]), tf.constant(np.array([[1], [1]], np.int32)))), 1.5)


def test_evaluate_a_model_with_an_argmax_output():
    # Keras 3 (torch backend), same weights and data: predict [0 0 1],
    # evaluate {'accuracy': 0.6666667, 'loss': 0.33333334}
    inp = keras.Input((2,))
    logits = keras.layers.Dense(2, kernel_initializer=keras.initializers.Constant([[1., -1.], [0.5, 0.2]]))(inp)
    model = keras.Model(inp, tf.math.argmax(logits, axis=1))
    model.compile("adagrad", loss="mse", metrics=[keras.metrics.Accuracy()])
    x = np.array([[4, 4.5], [5, 5.5], [-6, 6.5]], np.float32)
    y = np.array([0, 1, 1])
    np.testing.assert_array_equal(np.asarray(model.predict(x, verbose=0)), [0, 0, 1])
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(result["accuracy"], 2 / 3, rtol=1e-6)
    np.testing.assert_allclose(result["loss"], 1 / 3, rtol=1e-6)


# ---- TF guide "Migrate tf.feature_column to Keras preprocessing layers"
#      (tutorial_migrate_feature_columns.py) ----

def test_category_encoding_sparse_gives_a_sparse_tensor():
    # TF 2.21: SparseTensor indices [[0, 5], [0, 11], [0, 17]], values [1.2, 1.5, 2.0], shape [1, 20]
    ids = tf.constant([[5, 11, 5, 17, 17]])
    weights = tf.constant([[0.5, 1.5, 0.7, 1.8, 0.2]])
    out = keras.layers.CategoryEncoding(num_tokens=20, output_mode="count", sparse=True)(ids, count_weights=weights)
    assert isinstance(out, tf.SparseTensor)
    assert out.indices.tolist() == [[0, 5], [0, 11], [0, 17]]
    np.testing.assert_allclose(np.asarray(out.values), [1.2, 1.5, 2.0], rtol=1e-6)
    assert out.dense_shape.tolist() == [1, 20] and out.dtype == np.float32
    # TF 2.21: multi_hot [[0, 3], [1, 1]] -> indices [[0, 0], [0, 3], [1, 1]], values 1.0
    multi = keras.layers.CategoryEncoding(num_tokens=4, output_mode="multi_hot", sparse=True)([[0, 3], [1, 1]])
    assert multi.indices.tolist() == [[0, 0], [0, 3], [1, 1]]
    np.testing.assert_array_equal(np.asarray(tf.sparse.to_dense(multi)), [[1, 0, 0, 1], [0, 1, 0, 0]])
    layer = keras.layers.CategoryEncoding(num_tokens=4, sparse=True)
    assert keras.layers.CategoryEncoding.from_config(layer.get_config()).sparse is True


def test_builtin_layers_take_a_sparse_tensor_densified():
    # TF 2.21: Dense(2, use_bias=False, kernel 0.5) on the sparse counts above gives [[2.35, 2.35]]
    counts = tf.SparseTensor([[0, 5], [0, 11], [0, 17]], [1.2, 1.5, 2.0], [1, 20])
    dense = keras.layers.Dense(2, use_bias=False, kernel_initializer=keras.initializers.Constant(0.5))
    np.testing.assert_allclose(np.asarray(dense(counts)), [[2.35, 2.35]], rtol=1e-6)

    np.testing.assert_allclose(np.asarray(keras.layers.Flatten()(counts)), [[0, 0, 0, 0, 0, 1.2, 0, 0, 0, 0, 0, 1.5,
                                                                        0, 0, 0, 0, 0, 2.0, 0, 0]], rtol=1e-6)


def test_model_input_keeps_a_dict_of_inputs_and_composes():
    # Keras 3: Model(dict_of_inputs, ...).input is that dict (same tensors, same keys)
    inputs = {"a": keras.Input((2,)), "b": keras.Input((3,))}
    model = keras.Model(inputs, keras.layers.Concatenate()([inputs["a"], inputs["b"]]))
    assert isinstance(model.input, dict) and list(model.input) == ["a", "b"]
    assert model.input["a"] is inputs["a"] and model.input["b"] is inputs["b"]
    outer = keras.Model(model.input, keras.layers.Dense(1)(model(model.input)))
    x = {"a": np.ones((2, 2), np.float32), "b": np.zeros((2, 3), np.float32)}
    assert outer.predict(x, verbose=0).shape == (2, 1)
    x_in = keras.Input((2,))
    assert keras.Model(x_in, keras.layers.Dense(1)(x_in)).input is x_in   # one Input: itself


def test_saved_model_calling_a_dict_output_model_reloads(tmp_path):
    # the guide's inference model: training_model(preprocessing_model(inputs)), where the
    # preprocessing model returns a dict; its .keras file reloads to the same predictions
    inputs = {"type": keras.Input(shape=(), dtype="int64"), "weight": keras.Input(shape=(), dtype="float32")}
    pre = keras.Model(inputs, {"type": keras.layers.CategoryEncoding(3, output_mode="one_hot")(inputs["type"]),
                               "weight": keras.layers.Normalization(axis=None, mean=2.0, variance=1.0)(inputs["weight"])})
    t_in = {"type": keras.Input(shape=(3,)), "weight": keras.Input(shape=())}
    t_out = keras.layers.Dense(1)(keras.layers.Concatenate()([t_in["type"], tf.expand_dims(t_in["weight"], -1)]))
    train = keras.Model(t_in, t_out)
    model = keras.Model(pre.input, train(pre(pre.input)))
    x = {"type": np.array([0, 2]), "weight": np.array([-0.7, 3.0], np.float32)}
    expected = model.predict(x, verbose=0)
    # by hand: one-hot type, normalized weight, the Dense's kernel and bias
    k, b = train.layers[-1].get_weights()
    feats = np.column_stack([np.eye(3)[[0, 2]], [[-2.7], [1.0]]])
    np.testing.assert_allclose(expected, feats @ k + b, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(restored.predict(x, verbose=0), expected, rtol=1e-6)


# ---- TF guide "Effective TensorFlow 2" (tutorial_effective_tf2.py): DynamicRNN's
#      cell.get_initial_state(batch_size=..., dtype=tf.float32) ----

def test_builtin_cells_get_initial_state():
    # Keras 3: LSTMCell -> [(2, 3), (2, 3)] zeros, GRUCell / SimpleRNNCell -> [(2, 3)], float32
    for cell, count in ((keras.layers.LSTMCell(3), 2), (keras.layers.GRUCell(3), 1),
                        (keras.layers.SimpleRNNCell(3), 1)):
        states = cell.get_initial_state(batch_size=2)
        assert len(states) == count
        for s in states:
            assert tuple(s.shape) == (2, 3) and s.dtype == "float32"
            np.testing.assert_array_equal(np.asarray(s), np.zeros((2, 3)))
    # tf.keras 2's spellings: the batch taken from inputs, dtype given
    states = keras.layers.LSTMCell(4).get_initial_state(inputs=np.ones((5, 7)), dtype=tf.float32)
    assert [tuple(s.shape) for s in states] == [(5, 4), (5, 4)]
    with pytest.raises(ValueError, match="pass batch_size"):
        keras.layers.GRUCell(2).get_initial_state()
    # the states feed the cell: one step from zeros equals the RNN layer's first output
    cell = keras.layers.GRUCell(3)
    x = np.random.default_rng(1).normal(size=(2, 1, 4)).astype(np.float32)
    out, _ = cell(tf.constant(x[:, 0]), cell.get_initial_state(batch_size=2))
    np.testing.assert_allclose(np.asarray(out), np.asarray(keras.layers.RNN(cell)(x)), rtol=1e-5, atol=1e-6)


# ---- keras.io "Drug Molecule Generation with VAE" (example_molecule_generation_vae.py) ----

def _two_input_encoder():
    a, b = keras.Input((3,)), keras.Input((2,))
    return keras.Model([a, b], keras.layers.Concatenate()([a, b]))


def test_train_step_data_is_packed_as_keras_packs_it():
    # TF 2.21: fit([x1, x2, x3]) with no y gives train_step the tuple (x,), x a tuple of the three
    # batches (data[0] is the inputs; Keras 3 on torch keeps x a list); fit(x) of one array gives
    # the array itself
    seen = []

    class Net(keras.Model):
        def __init__(self, encoder):
            super().__init__()
            self.encoder, self.head = encoder, keras.layers.Dense(1)

        def call(self, inputs):
            return self.head(self.encoder(inputs))

        def train_step(self, data):
            seen.append(data)
            return {"loss": 0.0}

    net = Net(_two_input_encoder())
    net.compile("adam")
    net([np.ones((1, 3), np.float32), np.zeros((1, 2), np.float32)])   # built on the two inputs
    net.fit([np.ones((4, 3)), np.zeros((4, 2)), np.arange(4.0)], epochs=1, batch_size=2, verbose=0)
    assert len(seen) == 2
    assert isinstance(seen[0], tuple) and len(seen[0]) == 1
    assert isinstance(seen[0][0], tuple) and len(seen[0][0]) == 3
    assert [tuple(np.shape(v)) for v in seen[0][0]] == [(2, 3), (2, 2), (2,)]

    seen.clear()

    class Single(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(1)

        def call(self, x):
            return self.d(x)

        def train_step(self, data):
            seen.append(data)
            return {"loss": 0.0}

    single = Single()
    single.compile("adam")
    single.fit(np.ones((4, 3), np.float32), epochs=1, batch_size=4, verbose=0)
    assert tuple(np.shape(seen[0])) == (4, 3)


def test_second_order_penalty_skips_calls_off_the_differentiated_path():
    # the VAE's gradient penalty: d(property head of z_mean)/d(inputs), differentiated again
    # w.r.t. the weights, inside a model whose call also samples z (random) and decodes it
    class Sampling(keras.layers.Layer):
        def call(self, inputs):
            return inputs + tf.random.normal(tf.shape(inputs))

    class Vae(keras.Model):
        def __init__(self, sample):
            super().__init__()
            self.enc = keras.layers.Dense(3, activation="tanh")
            self.head = keras.layers.Dense(1)
            self.dec = keras.layers.Dense(2)
            self.sample = sample

        def call(self, x):
            z = self.enc(x)
            outs = [self.head(z)]
            if self.sample:
                outs.append(self.dec(Sampling()(z)))
            return outs

    x = tf.constant(np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32))

    def penalty_grads(model):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(x)
                logits = model(x, training=True)[0]
            g = inner.gradient(logits, x)
            penalty = tf.reduce_mean((1.0 - tf.norm(g, axis=1)) ** 2)
        # (the head's bias does not reach d(logits)/dx: TF gives None for it, so it is left out)
        weights = model.enc.trainable_weights + [model.head.kernel]
        return float(penalty), [np.asarray(w) for w in outer.gradient(penalty, weights)]

    with_sampling, plain = Vae(True), Vae(False)
    with_sampling(x), plain(x)
    plain.enc.set_weights(with_sampling.enc.get_weights())
    plain.head.set_weights(with_sampling.head.get_weights())
    p1, g1 = penalty_grads(with_sampling)
    p2, g2 = penalty_grads(plain)
    assert abs(p1 - p2) < 1e-6
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # and the penalty's gradient is right: central differences on one weight of the encoder
    w0 = with_sampling.enc.get_weights()
    for idx in [(0, 0), (2, 1)]:
        vals = []
        for h in (1e-3, -1e-3):
            w = [v.copy() for v in w0]
            w[0][idx] += h
            plain.enc.set_weights(w)
            vals.append(penalty_grads(plain)[0])
        np.testing.assert_allclose(g1[0][idx], (vals[0] - vals[1]) / 2e-3, rtol=2e-2, atol=1e-4)


# ---- keras.io "FeatureSpace advanced use cases" (example_feature_space_advanced.py):
#      FeatureSpace.save and keras.saving.load_model ----

def test_feature_space_saves_and_loads_back_adapted(tmp_path):
    from corenn.keras.utils import FeatureSpace
    data = {"color": np.array(["red", "blue", "red", "green"] * 5),
            "size": np.array([1, 2, 3, 2] * 5),
            "price": np.linspace(0.0, 10.0, 20).astype(np.float32)}
    space = FeatureSpace(features={"color": FeatureSpace.string_categorical(num_oov_indices=1),
                                   "size": FeatureSpace.integer_hashed(num_bins=3),
                                   "price": FeatureSpace.float_normalized()},
                         crosses=[FeatureSpace.cross(("color", "size"), crossing_dim=4)], output_mode="concat")
    space.adapt(tf.data.Dataset.from_tensor_slices(data).batch(8))
    sample = {"color": np.array(["blue", "purple"]), "size": np.array([2, 7]), "price": np.array([5.0, 0.0], np.float32)}
    before = np.asarray(space(sample))
    # features in name order, then the cross: color one-hot (OOV, then blue / green / red by
    # frequency then name as Keras' StringLookup orders them), normalized price, size bins, cross
    assert before.shape == (2, 4 + 1 + 3 + 4)
    np.testing.assert_array_equal(before[:, :4].argmax(1), [np.asarray(space.preprocessors["color"](["blue"]))[0], 0])
    np.testing.assert_allclose(before[:, 4], (np.array([5.0, 0.0]) - data["price"].mean()) / data["price"].std(),
                               rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="must end in .keras"):
        space.save(tmp_path / "space.h5")
    space.save(tmp_path / "space.keras")
    loaded = keras.saving.load_model(tmp_path / "space.keras")
    assert isinstance(loaded, FeatureSpace)
    np.testing.assert_allclose(np.asarray(loaded(sample)), before, rtol=1e-6)
    assert sorted(loaded.get_inputs()) == ["color", "price", "size"]
    # its inputs and encoded features build a serving model, as the example does
    model = keras.Model(loaded.get_inputs(), keras.layers.Dense(1)(loaded.get_encoded_features()))
    assert model.predict({k: v[:, None] for k, v in sample.items()}, verbose=0).shape == (2, 1)


# ---- TF guide "Distributed training with TensorFlow" (tutorial_guide_distributed_training.py) ----

def test_strategies_of_the_distributed_training_guide(monkeypatch):
    # TF 2.21 on a machine without GPUs: MultiWorkerMirroredStrategy() (no TF_CONFIG) and
    # CentralStorageStrategy() have one replica; cross-device ops and communication options are
    # plain objects the strategy takes
    monkeypatch.delenv("TF_CONFIG", raising=False)
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.NCCL)
    assert options.implementation == "NCCL"
    for strategy in (tf.distribute.MultiWorkerMirroredStrategy(),
                     tf.distribute.MultiWorkerMirroredStrategy(communication_options=options),
                     tf.distribute.experimental.CentralStorageStrategy(),
                     tf.distribute.MirroredStrategy(cross_device_ops=tf.distribute.HierarchicalCopyAllReduce()),
                     tf.distribute.MirroredStrategy(cross_device_ops=tf.distribute.NcclAllReduce())):
        assert strategy.num_replicas_in_sync == 1
        with strategy.scope():
            assert tf.distribute.get_strategy() is strategy
        assert float(strategy.reduce("SUM", 1., axis=None)) == 1.0
    # a TF_CONFIG cluster of one worker is still this one process
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["localhost:12345"]}, '
                                    '"task": {"type": "worker", "index": 0}}')
    assert tf.distribute.MultiWorkerMirroredStrategy().num_replicas_in_sync == 1
    # several workers: corenn has no multi-worker runtime behind tf.distribute
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}')
    with pytest.raises(NotImplementedError, match="corenn.distributed"):
        tf.distribute.MultiWorkerMirroredStrategy()
    monkeypatch.setenv("TF_CONFIG", "not json")
    with pytest.raises(ValueError, match="TF_CONFIG"):
        tf.distribute.MultiWorkerMirroredStrategy()
