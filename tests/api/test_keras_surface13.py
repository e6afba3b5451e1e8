"""The Keras surface (issue 13): gaps found by comparing corenn with Keras 3 (torch backend) and
TF 2.21, each value below checked against them when the test was written:

1. ``metric.result()`` is a Tensor (Keras 3 returns a backend tensor), while fit / evaluate /
   callbacks' logs and History hold Python floats (Keras 3 converts them).
2. The loss tracker is weighted by the batch size (Keras 3's train_step / test_step call
   ``update_state(loss, sample_weight=batch_size)``): an epoch with a short last batch reports
   the mean over samples, also through ``super().train_step`` and an overridden compute_metrics.
3. ``tf.convert_to_tensor`` / ``tf.constant`` infer TF's dtypes: Python / NumPy bools give bool
   (corenn's Tensors hold no bools: the bool array scripts see, as Keras masks are), Python ints
   int32 unless a value needs int64.
4. ``save_weights("x.weights.h5")`` of a subclassed model writes Keras 3's layout (its own
   add_weight variables under ``vars``, its layers by attribute name), which Keras loads; corenn
   loads Keras' file, and its own files of the layout before the fix (or names what they lack).
5. An inner layer set back to trainable in a frozen custom layer trains (Keras 3's variable
   flags: ``outer.trainable = False; outer.inner.trainable = True``).
"""
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import corenn
from corenn import keras
from corenn.keras import layers, metrics


# -- 1. metric.result() is a Tensor ------------------------------------------------------------

def test_metric_result_is_a_tensor_like_keras():
    m = metrics.Mean()
    m.update_state([1.0, 2.0, 4.0])
    r = m.result()
    assert isinstance(r, corenn.Tensor)          # the class model(x) returns
    assert tuple(r.shape) == () and str(r.dtype) == "float32"
    assert float(r) == pytest.approx(7 / 3, rel=1e-6)
    assert r.numpy() == pytest.approx(7 / 3, rel=1e-6)
    assert f"{r:.3f}" == "2.333"
    assert f"{r}" == "2.3333333"                 # TF and torch format a scalar tensor as its value
    assert "2.333" in str(r) and "Tensor" in str(r)   # printing shows a tensor, as Keras'


@pytest.mark.parametrize("make, y, p, expected", [
    (metrics.BinaryAccuracy, [[1.0], [0.0], [1.0], [1.0]], [[0.9], [0.2], [0.3], [0.6]], 0.75),
    (metrics.RootMeanSquaredError, [[1.0], [2.0]], [[2.0], [4.0]], np.sqrt(2.5)),
    (metrics.AUC, [[1.0], [0.0], [1.0], [0.0]], [[0.9], [0.2], [0.8], [0.1]], 1.0),
    (metrics.Sum, [1.0, 2.0, 3.5], None, 6.5),
])
def test_builtin_metric_results_are_scalar_tensors(make, y, p, expected):
    m = make()
    m.update_state(np.array(y, np.float32)) if p is None else \
        m.update_state(np.array(y, np.float32), np.array(p, np.float32))
    r = m.result()
    assert isinstance(r, corenn.Tensor) and tuple(r.shape) == ()
    assert float(r) == pytest.approx(expected, rel=1e-5)


def test_per_threshold_results_are_tensors_and_one_threshold_in_a_list_is_a_scalar():
    y = np.array([[1.0], [0.0]], np.float32)
    p = np.array([[0.7], [0.6]], np.float32)
    # Keras 3: Precision(thresholds=[0.5]) -> tensor(0.5); TruePositives([0.3, 0.5]) -> [1., 1.]
    one = metrics.Precision(thresholds=[0.5])
    one.update_state(y, p)
    assert isinstance(one.result(), corenn.Tensor) and tuple(one.result().shape) == ()
    assert float(one.result()) == pytest.approx(0.5)
    two = metrics.TruePositives(thresholds=[0.3, 0.5])
    two.update_state(y, p)
    assert isinstance(two.result(), corenn.Tensor)
    np.testing.assert_array_equal(two.result().numpy(), [1.0, 1.0])


def test_a_users_metric_result_is_kept_as_the_user_returns_it():
    class Last(metrics.Metric):
        def update_state(self, y_true, y_pred, sample_weight=None):
            self.last = float(np.asarray(y_pred).sum())

        def result(self):
            return self.last

    m = Last()
    m.update_state(None, [1.0, 2.0])
    assert isinstance(m.result(), float) and m.result() == 3.0   # Keras returns the user's float


def _mlp():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", "sparse_categorical_crossentropy"])
    return model


def test_logs_history_and_evaluate_hold_python_floats():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(10, 3)).astype(np.float32), rng.integers(0, 2, 10)
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(dict(logs))

        def on_epoch_end(self, epoch, logs=None):
            seen.append(dict(logs))

        def on_test_end(self, logs=None):
            seen.append(dict(logs))

    model = _mlp()
    history = model.fit(x, y, batch_size=4, epochs=2, validation_data=(x, y), callbacks=[Record()], verbose=0)
    assert seen and all(type(v) is float for logs in seen for v in logs.values()), seen
    assert all(type(v) is float for values in history.history.values() for v in values)
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert all(type(v) is float for v in result.values())
    acc = float(np.mean(np.argmax(np.asarray(model.predict(x, verbose=0)), 1) == y))
    assert result["accuracy"] == pytest.approx(acc)   # the logged value is the metric's
    assert all(type(v) is float for v in model.evaluate(x, y, verbose=0))
    assert all(type(v) is float for v in model.train_on_batch(x, y))
    # model.metrics' results are Tensors, their dict from get_metrics_result too (Keras 3)
    assert isinstance(model.metrics[0].result(), corenn.Tensor)
    assert all(isinstance(v, corenn.Tensor) for v in model.get_metrics_result().values())


# -- 2. the loss tracker is weighted by the batch size ----------------------------------------

# five samples in batches of 2: the last batch holds one. With a frozen model (SGD at rate 0) the
# per-sample squared errors are fixed: 0.81, 2.25, 4.41, 7.29, 68.89; Keras 3 (torch) reports
# their mean 16.73 for fit and evaluate, however the data is shuffled, and 17.73 with the
# kernel's L2(0.5) penalty (0.5 * (1 + 1)); the mean over batches would be 25.42.
_X = np.arange(10, dtype=np.float32).reshape(5, 2) / 10
_Y = np.array([[1.0], [2.0], [3.0], [4.0], [10.0]], np.float32)


def _expected(l2=0.0):
    per_sample = ((_X.sum(1) - _Y[:, 0]) ** 2).astype(np.float64)
    return per_sample.mean() + l2 * 2.0   # kernel of ones, shape (2, 1)


class _SuperSteps(keras.Model):
    def train_step(self, data):
        return super().train_step(data)

    def test_step(self, data):
        return super().test_step(data)


class _OwnComputeMetrics(keras.Model):
    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, y, y_pred, sample_weight)


@pytest.mark.parametrize("cls", [keras.Model, _SuperSteps, _OwnComputeMetrics])
@pytest.mark.parametrize("l2", [0.0, 0.5])
def test_epoch_loss_is_the_mean_over_samples_with_a_short_last_batch(cls, l2):
    inp = keras.Input((2,))
    reg = keras.regularizers.L2(l2) if l2 else None
    out = layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros", kernel_regularizer=reg)(inp)
    model = cls(inp, out)
    model.compile(keras.optimizers.SGD(0.0), "mse")
    history = model.fit(_X, _Y, batch_size=2, epochs=2, shuffle=True, verbose=0)
    np.testing.assert_allclose(history.history["loss"], [_expected(l2)] * 2, rtol=1e-6)
    assert model.evaluate(_X, _Y, batch_size=2, verbose=0) == pytest.approx(_expected(l2), rel=1e-6)


def test_train_step_called_directly_weights_the_tracker_by_batch_size():
    inp = keras.Input((2,))
    model = keras.Model(inp, layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")(inp))
    model.compile(keras.optimizers.SGD(0.0), "mse")
    model.train_step((_X[:4], _Y[:4]))
    logs = model.train_step((_X[4:], _Y[4:]))
    assert float(logs["loss"]) == pytest.approx(_expected(), rel=1e-6)


# -- 3. tf.convert_to_tensor / tf.constant dtypes -------------------------------------------------

# (value, TF 2.21's dtype, its values): checked with tensorflow 2.21 when written
_TF_DTYPES = [
    ([True], "bool", [True]),
    (True, "bool", True),
    ([[True, False]], "bool", [[True, False]]),
    (np.array([True, False]), "bool", [True, False]),
    ([1, 2], "int32", [1, 2]),
    (3, "int32", 3),
    ([[1], [2]], "int32", [[1], [2]]),
    (2 ** 40, "int64", 2 ** 40),                  # too big for int32: TF makes it int64
    ([1, 2 ** 40], "int64", [1, 2 ** 40]),
    (np.array([1, 2]), "int64", [1, 2]),          # NumPy arrays keep their dtype
    (np.int64(3), "int64", 3),
    ([np.int64(3)], "int32", [3]),
    (1.5, "float32", 1.5),
    ([1, 2.5], "float32", [1.0, 2.5]),
    (np.float64(1.5), "float32", 1.5),           # corenn's floats are float32 (TF: float64)
]


@pytest.mark.parametrize("fn", ["convert_to_tensor", "constant"])
@pytest.mark.parametrize("value, dtype, values", _TF_DTYPES)
def test_tf_conversion_infers_tensorflows_dtype(fn, value, dtype, values):
    tf = corenn
    t = getattr(tf, fn)(value)
    assert t.dtype == getattr(tf, dtype) and str(t.dtype) == dtype
    got = t.numpy()
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, np.array(values, dtype=dtype))


def test_tf_bool_tensors_work_as_tf_bools():
    tf = corenn
    x = tf.constant([1.0, 2.0, 3.0])
    m = tf.convert_to_tensor([True, False, True])
    assert tf.is_tensor(m)
    np.testing.assert_array_equal(np.asarray(tf.boolean_mask(x, m)), [1.0, 3.0])
    np.testing.assert_array_equal(np.asarray(tf.where(m, x, -x)), [1.0, -2.0, 3.0])
    np.testing.assert_array_equal(np.asarray(tf.cast(m, tf.float32)), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(np.asarray(tf.logical_not(m)), [0.0, 1.0, 0.0])
    assert bool(tf.reduce_any(m)) and not bool(tf.reduce_all(m))
    assert bool(tf.convert_to_tensor(True)) and not bool(tf.constant(False))
    # dtype=tf.bool from numbers: nonzero is True, as tf.constant([1, 0, 2], tf.bool)
    np.testing.assert_array_equal(tf.constant([1, 0, 2], dtype=tf.bool).numpy(), [True, False, True])
    assert tf.constant([1, 0], dtype=tf.bool).dtype == tf.bool
    # a bool constant of a given shape
    np.testing.assert_array_equal(tf.constant(True, shape=(2, 2)).numpy(), np.ones((2, 2), bool))


# -- 4. a subclassed model's .weights.h5 is Keras 3's layout --------------------------------------

h5py = pytest.importorskip("h5py")

# The same source runs with corenn here and with Keras 3 in the cross check below.
MODEL_SRC = """
class Block(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = keras.layers.Dense(3)
        self.drop = keras.layers.Dropout(0.5)

    def build(self, input_shape):
        self.gain = self.add_weight(name="gain", shape=(3,), initializer="ones")

    def call(self, x, training=None):
        return self.drop(self.inner(x), training=training) * self.gain


class Net(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.offset = self.add_weight(name="offset", shape=(), initializer="zeros", trainable=False)
        self.dense1 = keras.layers.Dense(4, activation="relu")
        self.block = Block()
        self.heads = [keras.layers.Dense(2), keras.layers.Dense(2)]
        self.bn = keras.layers.BatchNormalization()
        self.zeta = keras.layers.Dense(2)
        self.seq = keras.Sequential([keras.layers.Dense(2)])
        self.scale = self.add_weight(name="scale", shape=(2,), initializer="ones")

    def call(self, x, training=None):
        h = self.block(self.bn(self.dense1(x), training=training), training=training)
        h = self.heads[0](h) + self.heads[1](h)
        return self.seq(self.zeta(h)) * self.scale + self.offset


def make():
    model = Net()
    model(np.zeros((1, 5), "float32"))
    return model
"""

# What Keras 3.15 (torch backend) writes for Net after clear_session: {group: name attribute of its
# vars} and {dataset: shape}. Keras' saving walk: the model's own variables (trainable first:
# scale, then offset) in vars; its attributes and its `layers` list in sorted name order, each
# layer once -- block, bn, dense1, heads (a list: items by class, numbered) come before
# 'layers', so zeta (the fourth Dense of model.layers) and seq are reached through it.
KERAS3_VARS_GROUPS = {
    "vars": "net", "block/vars": "block", "block/inner/vars": "dense_1", "block/drop/vars": "dropout",
    "bn/vars": "batch_normalization", "dense1/vars": "dense", "heads/dense/vars": "dense_2",
    "heads/dense_1/vars": "dense_3", "layers/dense_3/vars": "dense_4", "layers/sequential/vars": "sequential",
    "layers/sequential/layers/dense/vars": "dense_5",
}
KERAS3_DATASETS = {
    "vars/0": (2,), "vars/1": (),
    "block/vars/0": (3,), "block/inner/vars/0": (4, 3), "block/inner/vars/1": (3,),
    "bn/vars/0": (4,), "bn/vars/1": (4,), "bn/vars/2": (4,), "bn/vars/3": (4,),
    "dense1/vars/0": (5, 4), "dense1/vars/1": (4,),
    "heads/dense/vars/0": (3, 2), "heads/dense/vars/1": (2,),
    "heads/dense_1/vars/0": (3, 2), "heads/dense_1/vars/1": (2,),
    "layers/dense_3/vars/0": (2, 2), "layers/dense_3/vars/1": (2,),
    "layers/sequential/layers/dense/vars/0": (2, 2), "layers/sequential/layers/dense/vars/1": (2,),
}


def _corenn_net():
    keras.backend.clear_session()   # the layers' names, as in Keras' file
    ns = {"keras": keras, "np": np}
    exec(MODEL_SRC, ns)
    model = ns["make"]()
    rng = np.random.default_rng(7)
    # positive values: the moving variance must be one
    model.set_weights([rng.uniform(0.5, 1.5, size=tuple(w.shape)).astype(np.float32) for w in model.weights])
    return model


def _dataset_values(model):
    """Each dataset of KERAS3_DATASETS: the corenn weight it must hold."""
    heads = model.heads
    per_layer = {"dense1": model.dense1, "block/inner": model.block.inner, "bn": model.bn,
                 "heads/dense": heads[0], "heads/dense_1": heads[1], "layers/dense_3": model.zeta,
                 "layers/sequential/layers/dense": model.seq.layers[0]}
    out = {"vars/0": model.scale, "vars/1": model.offset, "block/vars/0": model.block.gain}
    for group, layer in per_layer.items():
        for i, w in enumerate(layer.weights):
            out[f"{group}/vars/{i}"] = w
    return out


def _h5_tree(path):
    groups, datasets = {}, {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            datasets[name] = np.array(obj)
        elif name == "vars" or name.endswith("/vars"):
            groups[name] = obj.attrs.get("name")
    with h5py.File(path, "r") as f:
        f.visititems(visit)
        if "vars" in f:
            groups["vars"] = f["vars"].attrs.get("name")
    return groups, datasets


def _x():
    return np.random.default_rng(3).normal(size=(4, 5)).astype(np.float32)


def test_subclassed_model_weights_file_has_keras3_layout(tmp_path):
    model = _corenn_net()
    path = str(tmp_path / "net.weights.h5")
    model.save_weights(path)
    groups, datasets = _h5_tree(path)
    assert groups == KERAS3_VARS_GROUPS
    assert {k: v.shape for k, v in datasets.items()} == KERAS3_DATASETS
    for key, weight in _dataset_values(model).items():   # each dataset holds its weight
        np.testing.assert_array_equal(datasets[key], np.asarray(weight), err_msg=key)
    # and it loads back into a fresh model: the same outputs
    fresh = _corenn_net()
    for w in fresh.weights:
        w.assign(np.zeros(tuple(w.shape), np.float32))
    fresh.load_weights(path)
    np.testing.assert_array_equal(np.asarray(fresh(_x(), training=False)), np.asarray(model(_x(), training=False)))
    assert float(np.asarray(fresh.offset)) == float(np.asarray(model.offset)) != 0.0


def _old_layout_file(path, model, with_own=False):
    """The file corenn wrote for a subclassed model before issue 13: layers/<class numbered over
    model.layers>/vars/<i> (a custom layer's own variables, then its layers by attribute), an
    empty root vars group: the model's own variables left out."""
    with h5py.File(path, "w") as f:
        f.create_group("vars").attrs["name"] = model.name
        seen = {}
        for layer in model.layers:
            base = {"Dense": "dense", "BatchNormalization": "batch_normalization", "Block": "block",
                    "Sequential": "sequential"}[type(layer).__name__]
            n = seen.get(base, 0)
            seen[base] = n + 1
            group = f"layers/{base}" if n == 0 else f"layers/{base}_{n}"
            if type(layer).__name__ == "Block":
                f.create_dataset(f"{group}/vars/0", data=np.asarray(layer.gain))
                for i, w in enumerate(layer.inner.weights):
                    f.create_dataset(f"{group}/inner/vars/{i}", data=np.asarray(w))
                f.create_group(f"{group}/drop/vars")
            elif type(layer).__name__ == "Sequential":
                for i, w in enumerate(layer.layers[0].weights):
                    f.create_dataset(f"{group}/layers/dense/vars/{i}", data=np.asarray(w))
            else:
                for i, w in enumerate(layer.weights):
                    f.create_dataset(f"{group}/vars/{i}", data=np.asarray(w))


def test_a_file_of_the_old_layout_loads_or_names_the_missing_own_variables(tmp_path):
    model = _corenn_net()
    path = str(tmp_path / "old.weights.h5")
    _old_layout_file(path, model)
    fresh = _corenn_net()
    for w in fresh.weights:
        w.assign(np.zeros(tuple(w.shape), np.float32))
    # the model's own scale and offset are not in the file: never loaded silently
    with pytest.raises(ValueError, match=r"before issue 13.*net/scale, net/offset are not in the file"):
        fresh.load_weights(path)
    assert not np.asarray(fresh.dense1.kernel).any()   # nothing was loaded
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fresh.load_weights(path, skip_mismatch=True)
    assert any("issue 13" in str(w.message) for w in caught)
    for mine, theirs in zip(fresh.layers, model.layers):   # every layer's weights loaded
        for a, b in zip(mine.weights, theirs.weights):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.asarray(fresh.scale).any()   # kept its value


def test_a_file_of_the_old_layout_loads_when_the_model_has_no_own_variables(tmp_path):
    keras.backend.clear_session()

    class Plain(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense1 = keras.layers.Dense(4)
            self.out = keras.layers.Dense(2)

        def call(self, x):
            return self.out(self.dense1(x))

    model = Plain()
    model(_x())
    path = str(tmp_path / "old.weights.h5")
    with h5py.File(path, "w") as f:   # what corenn wrote before: layers/dense, layers/dense_1
        f.create_group("vars").attrs["name"] = model.name
        for group, layer in (("layers/dense", model.dense1), ("layers/dense_1", model.out)):
            for i, w in enumerate(layer.weights):
                f.create_dataset(f"{group}/vars/{i}", data=np.asarray(w) + 1.0)
    model.load_weights(path)
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(np.asarray(model.out.kernel), f["layers/dense_1/vars/0"][()])
        np.testing.assert_array_equal(np.asarray(model.dense1.bias), f["layers/dense/vars/1"][()])
    # a file of neither layout is refused, naming what is left over
    with h5py.File(path, "a") as f:
        f.create_dataset("stray/vars/0", data=np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="stray"):
        model.load_weights(path)


def _keras_python():
    """An interpreter with Keras 3 for the cross check: CORENN_KERAS_PYTHON, or this one if it
    imports keras; None skips the check (Keras is no dependency of corenn)."""
    exe = os.environ.get("CORENN_KERAS_PYTHON")
    if exe:
        return exe
    import importlib.util
    return sys.executable if importlib.util.find_spec("keras") is not None else None


def test_keras3_loads_corenns_file_and_corenn_loads_keras3s(tmp_path):
    exe = _keras_python()
    if exe is None:
        pytest.skip("no Keras 3 to cross-check with (set CORENN_KERAS_PYTHON to an interpreter that has it)")
    model = _corenn_net()
    mine, theirs = str(tmp_path / "corenn.weights.h5"), str(tmp_path / "keras.weights.h5")
    model.save_weights(mine)
    np.save(str(tmp_path / "x.npy"), _x())
    script = textwrap.dedent("""
        import sys, numpy as np
        import keras
        ns = {"keras": keras, "np": np}
        exec(sys.argv[1], ns)
        x = np.load(sys.argv[2] + "/x.npy")
        model = ns["make"]()
        model.load_weights(sys.argv[2] + "/corenn.weights.h5")
        np.save(sys.argv[2] + "/keras_on_corenn.npy", keras.ops.convert_to_numpy(model(x, training=False)))
        keras.utils.set_random_seed(1)
        other = ns["make"]()
        other.set_weights([np.abs(w) + 0.5 for w in other.get_weights()])
        other.save_weights(sys.argv[2] + "/keras.weights.h5")
        np.save(sys.argv[2] + "/keras_own.npy", keras.ops.convert_to_numpy(other(x, training=False)))
    """)
    env = dict(os.environ, KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "torch"))
    done = subprocess.run([exe, "-c", script, MODEL_SRC, str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    np.testing.assert_allclose(np.load(str(tmp_path / "keras_on_corenn.npy")),
                               np.asarray(model(_x(), training=False)), rtol=1e-5, atol=1e-6)
    fresh = _corenn_net()
    fresh.load_weights(theirs)
    np.testing.assert_allclose(np.asarray(fresh(_x(), training=False)), np.load(str(tmp_path / "keras_own.npy")),
                               rtol=1e-5, atol=1e-6)


# -- 5. an inner layer set back to trainable inside a frozen custom layer trains ------------------

class _Outer(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = layers.Dense(3)
        self.other = layers.Dense(3)

    def build(self, input_shape):
        self.w = self.add_weight(name="w", shape=(3,), initializer="ones")

    def call(self, x):
        return self.other(self.inner(x)) * self.w


def _frozen_outer_model():
    inp = keras.Input((4,))
    outer, head = _Outer(), layers.Dense(1)
    model = keras.Model(inp, head(outer(inp)))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=tuple(w.shape)).astype(np.float32) for w in model.weights])
    outer.trainable = False
    outer.inner.trainable = True
    x, y = rng.normal(size=(8, 4)).astype(np.float32), rng.normal(size=(8, 1)).astype(np.float32)
    return model, outer, head, x, y


def _one_sgd_step_reference(outer, head, x, y, lr):
    """The weights after one SGD step on mean squared error, in float64, with only the inner
    Dense and the head trained (what Keras 3 does: its variables are the trainable ones)."""
    a = lambda t: np.asarray(t, np.float64)   # noqa: E731
    wi, bi, wo, bo = a(outer.inner.kernel), a(outer.inner.bias), a(outer.other.kernel), a(outer.other.bias)
    w, wh, bh = a(outer.w), a(head.kernel), a(head.bias)
    h1 = x @ wi + bi
    h3 = (h1 @ wo + bo) * w
    dyp = 2.0 * (h3 @ wh + bh - y) / y.size
    dh1 = ((dyp @ wh.T) * w) @ wo.T
    return {"inner_kernel": wi - lr * x.T @ dh1, "inner_bias": bi - lr * dh1.sum(0),
            "head_kernel": wh - lr * h3.T @ dyp, "head_bias": bh - lr * dyp.sum(0)}


def _check_step(model, outer, head, before, expected):
    np.testing.assert_allclose(np.asarray(outer.inner.kernel), expected["inner_kernel"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(outer.inner.bias), expected["inner_bias"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(head.kernel), expected["head_kernel"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(head.bias), expected["head_bias"], rtol=1e-5, atol=1e-6)
    for name in ("w", "other_kernel", "other_bias"):   # frozen: unchanged
        now = {"w": outer.w, "other_kernel": outer.other.kernel, "other_bias": outer.other.bias}[name]
        np.testing.assert_array_equal(np.asarray(now), before[name], err_msg=name)


def test_inner_layer_set_back_to_trainable_trains_in_a_frozen_custom_layer():
    model, outer, head, x, y = _frozen_outer_model()
    # Keras 3.15: the frozen layer lists none, the model its inner layer's and the head's
    assert outer.trainable_weights == [] and outer.inner.trainable and not outer.other.trainable
    ids = lambda ws: [id(w) for w in ws]   # noqa: E731
    assert ids(model.trainable_weights) == ids([outer.inner.kernel, outer.inner.bias, head.kernel, head.bias])
    assert ids(model.non_trainable_weights) == ids([outer.w, outer.other.kernel, outer.other.bias])
    before = {"w": np.array(outer.w), "other_kernel": np.array(outer.other.kernel),
              "other_bias": np.array(outer.other.bias)}
    expected = _one_sgd_step_reference(outer, head, x, y, 0.1)
    model.compile(keras.optimizers.SGD(0.1), "mse")
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    _check_step(model, outer, head, before, expected)
    # and all of it trains again once the outer layer is unfrozen (Keras sets every flag inside)
    outer.trainable = True
    assert len(model.trainable_weights) == len(model.weights)


def test_inner_layer_set_back_to_trainable_trains_under_a_gradient_tape():
    model, outer, head, x, y = _frozen_outer_model()
    before = {"w": np.array(outer.w), "other_kernel": np.array(outer.other.kernel),
              "other_bias": np.array(outer.other.bias)}
    expected = _one_sgd_step_reference(outer, head, x, y, 0.1)
    with corenn.GradientTape() as tape:
        loss = keras.losses.MeanSquaredError()(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_weights)
    assert all(g is not None for g in grads)
    keras.optimizers.SGD(0.1).apply_gradients(zip(grads, model.trainable_weights))
    _check_step(model, outer, head, before, expected)
