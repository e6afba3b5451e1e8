"""keras.utils' data helpers and the regularizers / constraints / initializers registries, as
their API documentation uses them: to_categorical, normalize, pad_sequences (padding,
truncating, maxlen, value, dtype), split_dataset, timeseries_dataset_from_array (sequence_stride,
sampling_rate, targets), and get / serialize / deserialize of configured objects, each checked
against NumPy. Only the imports changed."""
import numpy as np

from corenn import keras

# to_categorical
onehot = keras.utils.to_categorical([0, 2, 1, 2], num_classes=4)
np.testing.assert_array_equal(onehot, np.eye(4)[[0, 2, 1, 2]])
assert keras.utils.to_categorical(np.array([[1], [0]])).shape == (2, 2)

# normalize: unit L2 (and L1) norm along an axis
a = np.array([[3.0, 4.0], [1.0, 1.0]])
np.testing.assert_allclose(keras.utils.normalize(a, axis=-1, order=2), a / np.linalg.norm(a, axis=-1, keepdims=True),
                           rtol=1e-6)
np.testing.assert_allclose(keras.utils.normalize(a, axis=0, order=1), a / np.abs(a).sum(0, keepdims=True), rtol=1e-6)

# pad_sequences: pre/post padding and truncating, value, dtype
seqs = [[1], [2, 3], [4, 5, 6, 7]]
np.testing.assert_array_equal(keras.utils.pad_sequences(seqs), [[0, 0, 0, 1], [0, 0, 2, 3], [4, 5, 6, 7]])
np.testing.assert_array_equal(keras.utils.pad_sequences(seqs, value=-1), [[-1, -1, -1, 1], [-1, -1, 2, 3],
                                                                          [4, 5, 6, 7]])
np.testing.assert_array_equal(keras.utils.pad_sequences(seqs, padding="post"), [[1, 0, 0, 0], [2, 3, 0, 0],
                                                                                [4, 5, 6, 7]])
np.testing.assert_array_equal(keras.utils.pad_sequences(seqs, maxlen=2), [[0, 1], [2, 3], [6, 7]])
np.testing.assert_array_equal(keras.utils.pad_sequences(seqs, maxlen=2, truncating="post"), [[0, 1], [2, 3], [4, 5]])
floats = keras.utils.pad_sequences([[0.5], [1.5, 2.5]], dtype="float32", padding="post", value=9.0)
assert floats.dtype == np.float32
np.testing.assert_array_equal(floats, [[0.5, 9.0], [1.5, 2.5]])

# split_dataset on NumPy arrays
data = np.arange(100).reshape(50, 2).astype("float32")
labels = np.arange(50)
left, right = keras.utils.split_dataset((data, labels), left_size=0.8, shuffle=False)
left_x = np.concatenate([np.asarray(bx) for bx, _ in left.batch(16)])
right_y = np.concatenate([np.asarray(by) for _, by in right.batch(16)])
assert len(left_x) == 40 and len(right_y) == 10
np.testing.assert_array_equal(left_x, data[:40])
np.testing.assert_array_equal(right_y, labels[40:])
left, right = keras.utils.split_dataset(data, right_size=5, shuffle=True, seed=3)
got = np.concatenate([np.asarray(b) for b in left.batch(64)] + [np.asarray(b) for b in right.batch(64)])
assert len(got) == 50
np.testing.assert_array_equal(np.sort(got[:, 0]), data[:, 0])

# timeseries_dataset_from_array: the documented forecasting layout
series = np.arange(100)
ds = keras.utils.timeseries_dataset_from_array(series[:-10], targets=series[10:], sequence_length=10,
                                               sequence_stride=3, sampling_rate=1, batch_size=8)
windows, targets = [], []
for bx, by in ds:
    windows.append(np.asarray(bx))
    targets.append(np.asarray(by))
windows, targets = np.concatenate(windows), np.concatenate(targets)
starts = np.arange(0, 90 - 10 + 1, 3)
np.testing.assert_array_equal(windows, np.stack([series[s:s + 10] for s in starts]))
np.testing.assert_array_equal(targets, series[starts + 10])
ds = keras.utils.timeseries_dataset_from_array(series, None, sequence_length=4, sampling_rate=2,
                                               sequence_stride=5, batch_size=100)
first = np.asarray(next(iter(ds)))
starts = np.arange(0, 100 - (4 - 1) * 2, 5)
np.testing.assert_array_equal(first, np.stack([series[s:s + 8:2] for s in starts]))

# regularizers: get / serialize / deserialize, and the penalty they add
w = np.array([[1.0, -2.0], [0.5, 0.0]], "float32")
reg = keras.regularizers.L1L2(l1=0.01, l2=0.1)
np.testing.assert_allclose(float(reg(w)), 0.01 * np.abs(w).sum() + 0.1 * (w.astype("float64") ** 2).sum(),
                           rtol=1e-6)
again = keras.regularizers.deserialize(keras.regularizers.serialize(reg))
assert isinstance(again, keras.regularizers.L1L2)
np.testing.assert_allclose(float(again(w)), float(reg(w)), rtol=1e-6)
l2 = keras.regularizers.get("l2")
np.testing.assert_allclose(float(l2(w)), 0.01 * (w.astype("float64") ** 2).sum(), rtol=1e-6)
ortho = keras.regularizers.get({"class_name": "OrthogonalRegularizer", "config": {"factor": 0.1, "mode": "rows"}})
assert float(ortho(np.eye(3, dtype="float32"))) < 1e-6
assert float(ortho(np.ones((3, 3), "float32"))) > 0

# constraints
v = np.array([[3.0, 0.1], [4.0, 0.1]], "float32")
np.testing.assert_allclose(keras.constraints.MaxNorm(max_value=2, axis=0)(v), v * np.minimum(
    1, 2 / np.linalg.norm(v, axis=0, keepdims=True)), rtol=1e-5)
np.testing.assert_allclose(keras.constraints.get("non_neg")(np.array([-1.0, 2.0], "float32")), [0.0, 2.0])
np.testing.assert_allclose(keras.constraints.UnitNorm(axis=0)(v), v / np.linalg.norm(v, axis=0, keepdims=True),
                           rtol=1e-5)
mm = keras.constraints.deserialize(keras.constraints.serialize(
    keras.constraints.MinMaxNorm(min_value=0.5, max_value=1.0, rate=1.0, axis=0)))
norms = np.linalg.norm(np.asarray(mm(v)), axis=0)
np.testing.assert_allclose(norms, np.clip(np.linalg.norm(v, axis=0), 0.5, 1.0), rtol=1e-5)

# initializers: seeded initializers repeat, configs round-trip
init = keras.initializers.get({"class_name": "RandomNormal", "config": {"mean": 1.0, "stddev": 0.5, "seed": 7}})
s1, s2 = np.asarray(init((200, 50))), np.asarray(keras.initializers.deserialize(
    keras.initializers.serialize(init))((200, 50)))
np.testing.assert_array_equal(s1, s2)
assert abs(s1.mean() - 1.0) < 0.02 and abs(s1.std() - 0.5) < 0.02
glorot = np.asarray(keras.initializers.GlorotUniform(seed=1)((100, 60)))
assert np.abs(glorot).max() <= np.sqrt(6 / 160) + 1e-6
np.testing.assert_array_equal(keras.initializers.get("ones")((2, 2)), np.ones((2, 2)))
const = keras.initializers.Constant(3.0)
np.testing.assert_array_equal(keras.initializers.deserialize(keras.initializers.serialize(const))((2,)), [3.0, 3.0])
vs = np.asarray(keras.initializers.VarianceScaling(scale=2.0, mode="fan_in", distribution="untruncated_normal",
                                                   seed=0)((400, 100)))
assert abs(vs.std() - np.sqrt(2.0 / 400)) < 0.003

# all of them configured on a layer, saved with the model config and rebuilt
layer = keras.layers.Dense(3, kernel_initializer=init, kernel_regularizer=reg,
                           kernel_constraint=keras.constraints.MaxNorm(2.0), bias_initializer="zeros")
config = layer.get_config()
rebuilt = keras.layers.Dense.from_config(config)
assert isinstance(rebuilt.kernel_regularizer, keras.regularizers.L1L2)
assert isinstance(rebuilt.kernel_constraint, keras.constraints.MaxNorm)
model = keras.Sequential([keras.Input((4,)), rebuilt])
model.compile("sgd", loss="mse")
xs = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
model.fit(xs, np.zeros((16, 3), "float32"), epochs=1, verbose=0)
assert len(model.losses) == 1
assert np.linalg.norm(np.asarray(model.layers[0].kernel), axis=0).max() <= 2.0 + 1e-5
print("utils and config objects OK")
