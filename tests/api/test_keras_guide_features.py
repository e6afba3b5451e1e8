"""Unit tests of the Keras features the guide programs (tests/programs) needed: each against an
independent NumPy float64 computation (tests/reference.py style) or an exact expectation."""
import json
import os
import struct

import numpy as np
import pytest

import corenn
from corenn import keras, layers, ops


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)


# -- variables and comparisons ------------------------------------------------------------------

def test_assign_methods_write_in_place():
    layer = layers.Dense(3)
    layer.build((None, 2))
    w = layer.kernel
    w.assign(np.ones((2, 3)))
    np.testing.assert_array_equal(layer.get_weights()[0], np.ones((2, 3)))
    w.assign_add(np.full((2, 3), 2.0))
    w.assign_sub(np.array([1.0, 0.0, 0.5]))          # broadcast, as NumPy
    np.testing.assert_array_equal(layer.get_weights()[0], [[2.0, 3.0, 2.5]] * 2)
    assert w.value is w
    with pytest.raises(ValueError, match=r"Tensor.assign: .*\(4,\).*\(2, 3\)"):
        w.assign(np.zeros(4))
    ro = np.zeros(3, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError):
        corenn.Tensor.from_numpy(ro).assign(np.ones(3))


def test_tensor_equality_is_elementwise_and_hash_is_identity():
    a = ops.convert_to_tensor(np.array([1.0, 2.0, 3.0], np.float32))
    b = ops.convert_to_tensor(np.array([1.0, 0.0, 3.0], np.float32))
    np.testing.assert_array_equal(np.asarray(a == b), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(np.asarray(a != b), [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(np.asarray(a == 2.0), [0.0, 1.0, 0.0])
    assert (a == "a") is False and (a != None) is True   # noqa: E711 - not numeric data: unequal
    assert {a: 1}[a] == 1 and a in [a]


# -- losses written in Python -------------------------------------------------------------------

class WeightedSquare(keras.losses.Loss):
    def __init__(self, factor=0.5, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, y_true, y_pred):
        return self.factor * ops.mean(ops.square(y_true - y_pred), axis=-1)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", None])
def test_loss_subclass_reductions_and_gradient(rng, reduction):
    y = rng.normal(size=(6, 4)).astype(np.float32)
    p = rng.normal(size=(6, 4)).astype(np.float32)
    sw = rng.random(6).astype(np.float32)
    loss = WeightedSquare(reduction=reduction)
    assert loss.name == "weighted_square"
    per = 0.5 * np.mean((y.astype(np.float64) - p) ** 2, axis=-1) * sw
    expected = {"sum_over_batch_size": per.sum() / 6, "sum": per.sum(), None: per}[reduction]
    pt = corenn.convert_to_tensor(p)
    with corenn.GradientTape() as tape:
        tape.watch(pt)
        value = loss(y, pt, sample_weight=sw)
        total = ops.sum(value)
    np.testing.assert_allclose(np.asarray(value), expected, rtol=1e-5)
    scale = {"sum_over_batch_size": 1 / 6, "sum": 1.0, None: 1.0}[reduction]
    grad_ref = scale * sw[:, None] * 0.5 * 2 * (p - y.astype(np.float64)) / 4
    np.testing.assert_allclose(np.asarray(tape.gradient(total, pt)), grad_ref, rtol=1e-4, atol=1e-7)


def _mse_fn(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


def test_function_loss_trains_like_the_built_in_one(rng):
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = rng.normal(size=(64, 2)).astype(np.float32)

    def model():
        keras.utils.set_random_seed(3)
        m = keras.Sequential([keras.Input((5,)), layers.Dense(8, activation="tanh"), layers.Dense(2)])
        return m
    a, b = model(), model()
    a.compile(optimizer="sgd", loss=_mse_fn)
    b.compile(optimizer="sgd", loss="mse")
    la, ga = a.compute_gradients(x, y)
    lb, gb = b.compute_gradients(x, y)
    np.testing.assert_allclose(float(la), float(lb), rtol=1e-5)
    for u, v in zip(ga, gb):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-4, atol=1e-6)
    assert keras.losses.get(_mse_fn) is _mse_fn   # Keras 3: a callable comes back as it is
    assert keras.losses._to_loss(_mse_fn).name == "_mse_fn"   # compile wraps it, named after it


# -- metrics with variables ---------------------------------------------------------------------

class CountAbove(keras.metrics.Metric):
    def __init__(self, threshold=0.5, **kwargs):
        super().__init__(**kwargs)
        self.threshold = threshold
        self.hits = self.add_variable(shape=(), initializer="zeros", name="hits")
        self.seen = self.add_weight(name="seen", shape=(), initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.hits.assign_add(ops.sum(ops.cast(ops.convert_to_tensor(y_pred) > self.threshold, "float32")))
        self.seen.assign_add(float(np.size(y_pred)))

    def result(self):
        return self.hits / self.seen


def test_metric_variables_update_and_reset():
    m = CountAbove(name="above")
    assert m.name == "above" and len(m.variables) == 2
    m.update_state(None, np.array([0.1, 0.7, 0.9, 0.2]))
    m.update_state(None, np.array([0.6, 0.6]))
    np.testing.assert_allclose(float(m.result()), 4 / 6)
    m.reset_state()                          # the default: every variable back to its initial value
    assert float(np.asarray(m.hits)) == 0.0 and float(np.asarray(m.seen)) == 0.0


def test_metric_subclass_logged_by_fit(rng):
    x = rng.random((40, 3)).astype(np.float32)
    model = keras.Sequential([keras.Input((3,)), layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", "mse", metrics=[CountAbove(0.5, name="above")])
    history = model.fit(x, np.zeros((40, 1)), batch_size=40, epochs=1, verbose=0)
    assert 0.0 <= history.history["above"][0] <= 1.0
    assert isinstance(history.history["above"][0], float)


# -- activations written in Python ---------------------------------------------------------------

def test_dense_with_a_python_activation_matches_float64(rng):
    x = rng.normal(size=(5, 3)).astype(np.float32)
    layer = layers.Dense(4, activation=lambda t: t * ops.sigmoid(2.0 * t))
    xt = corenn.convert_to_tensor(x)
    with corenn.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt)
        total = ops.sum(ops.square(y))
    w, b = (v.astype(np.float64) for v in layer.get_weights())
    z = x.astype(np.float64) @ w + b
    s = 1 / (1 + np.exp(-2 * z))
    y_ref = z * s
    np.testing.assert_allclose(np.asarray(y), y_ref, rtol=1e-5, atol=1e-6)
    dz = 2 * y_ref * (s + z * 2 * s * (1 - s))
    gx, gw = tape.gradient(total, [xt, layer.kernel])
    np.testing.assert_allclose(np.asarray(gx), dz @ w.T, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(gw), x.astype(np.float64).T @ dz, rtol=1e-4, atol=1e-5)


# -- several tensors in, several out ------------------------------------------------------------

class Blend(layers.Layer):
    def call(self, a, b, weight=0.25):
        return a * (1 - weight) + b * weight, a - b


def test_layer_called_with_two_tensors_and_returning_two(rng):
    a = rng.normal(size=(4, 3)).astype(np.float32)
    b = rng.normal(size=(4, 3)).astype(np.float32)
    blend, diff = Blend()(a, b)
    np.testing.assert_allclose(np.asarray(blend), 0.75 * a + 0.25 * b, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(diff), a - b, rtol=1e-6)
    ia, ib = keras.Input((3,)), keras.Input((3,))
    s, d = Blend()(ia, ib, weight=0.5)
    out = layers.Dense(1)(layers.concatenate([s, d]))
    model = keras.Model([ia, ib], out)
    w, bias = (v.astype(np.float64) for v in model.layers[-1].get_weights())
    feats = np.concatenate([0.5 * a + 0.5 * b, a - b], axis=1).astype(np.float64)
    np.testing.assert_allclose(model.predict([a, b], verbose=0), feats @ w + bias, rtol=1e-5)
    model.compile("sgd", "mse")
    loss, grads = model.compute_gradients([a, b], np.ones((4, 1), np.float32))
    dy = 2 * (feats @ w + bias - 1) / 4
    np.testing.assert_allclose(np.asarray(grads[0]), feats.T @ dy, rtol=1e-4, atol=1e-6)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        Blend()(a, b, nonsense=1)
    with pytest.raises(TypeError, match="takes one input"):
        layers.Dense(2)(a, b)


def test_compile_without_a_loss():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="no loss to compute"):
        model.fit(np.ones((4, 3)), np.ones((4, 1)), verbose=0)


def test_model_called_with_training_false_keeps_inference_mode(rng):
    base = keras.Sequential([keras.Input((4,)), layers.BatchNormalization(), layers.Dropout(0.9)])
    inputs = keras.Input((4,))
    outputs = layers.Dense(1)(base(inputs, training=False))
    model = keras.Model(inputs, outputs)
    model.compile("sgd", "mse")
    x = rng.normal(loc=3.0, size=(32, 4)).astype(np.float32)
    model.fit(x, np.ones((32, 1)), epochs=2, verbose=0)
    bn = base.layers[0]
    np.testing.assert_array_equal(np.asarray(bn.moving_mean), np.zeros(4))   # never updated
    # the training step saw no dropout: its loss is the evaluation loss of the same weights
    before = model.get_weights()
    loss = model.train_on_batch(x, np.ones((32, 1)))
    model.set_weights(before)
    np.testing.assert_allclose(loss, model.evaluate(x, np.ones((32, 1)), verbose=0), rtol=1e-5)


# -- masks on eager outputs ----------------------------------------------------------------------

class ZeroMask(layers.Layer):
    def call(self, inputs):
        return ops.cast(ops.expand_dims(inputs, -1), "float32")

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs, 0)


class MaskedMean(layers.Layer):
    def call(self, inputs, mask=None):
        m = ops.expand_dims(ops.cast(mask, "float32"), -1)
        return ops.sum(inputs * m, axis=1) / ops.sum(m, axis=1)


def test_user_masks_eager_and_in_a_graph():
    seq = np.array([[3, 4, 0, 0], [1, 2, 5, 0]])
    y = ZeroMask()(seq)
    np.testing.assert_array_equal(np.asarray(y._keras_mask), seq != 0)
    np.testing.assert_allclose(np.asarray(MaskedMean()(y)), [[3.5], [8 / 3]], rtol=1e-6)
    inputs = keras.Input((None,), dtype="int32")
    outputs = MaskedMean()(ZeroMask()(inputs))
    model = keras.Model(inputs, outputs)
    np.testing.assert_allclose(model.predict(seq, verbose=0), [[3.5], [8 / 3]], rtol=1e-6)


# -- saving: custom objects, JSON, Keras weights files ---------------------------------------------

def test_registered_functions_and_scopes():
    @keras.saving.register_keras_serializable(package="unit", name="cube")
    def cube(x):
        return x * x * x
    assert keras.saving.get_registered_name(cube) == "unit>cube"
    spec = keras.saving.serialize_keras_object(cube)
    assert keras.saving.deserialize_keras_object(spec) is cube
    layer = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layers.Dense(3, activation=cube)))
    np.testing.assert_allclose(np.asarray(layer.activation(np.array([2.0]))), [8.0])

    def private(x):
        return x
    with pytest.raises(ValueError, match="private"):
        keras.activations.get("private")
    with keras.saving.custom_object_scope({"private": private}):
        assert keras.activations.get("private").fn is private


def test_to_json_and_model_from_json(rng):
    inputs = keras.Input((3,))
    outputs = layers.Dense(2, activation="relu")(layers.Dense(4)(inputs))
    model = keras.Model(inputs, outputs)
    spec = json.loads(model.to_json())
    assert spec["class_name"] == "Functional"
    clone = keras.models.model_from_json(model.to_json())
    clone.set_weights(model.get_weights())
    x = rng.normal(size=(3, 3)).astype(np.float32)
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    fresh = keras.models.clone_model(model)
    assert [w.shape for w in fresh.get_weights()] == [w.shape for w in model.get_weights()]


def test_weights_h5_round_trip_with_recurrent_wrappers(tmp_path, rng):
    pytest.importorskip("h5py")

    def build():
        return keras.Sequential([keras.Input((5, 3)), layers.Bidirectional(layers.LSTM(4, return_sequences=True)),
                                 layers.GRU(2), layers.Dense(1)])
    a, b = build(), build()
    path = str(tmp_path / "rnn.weights.h5")
    a.save_weights(path)
    b.load_weights(path)
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)
    import h5py
    with h5py.File(path, "r") as f:
        assert set(f["layers/bidirectional"]) == {"vars", "forward_layer", "backward_layer"}
        np.testing.assert_array_equal(np.asarray(f["layers/gru/cell/vars/0"]), a.layers[1].get_weights()[0])
    # a legacy .h5 name writes TF-Keras 2's layout (sweep 27), recurrent wrappers under TF-Keras 2's
    # names, and reads back
    a.save_weights(str(tmp_path / "legacy.h5"))
    with h5py.File(str(tmp_path / "legacy.h5"), "r") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f["bidirectional"].attrs["weight_names"]]
        assert names[0] == "bidirectional/forward_lstm/lstm_cell/kernel:0", names
    c = build()
    c.load_weights(str(tmp_path / "legacy.h5"))
    for u, v in zip(a.get_weights(), c.get_weights()):
        np.testing.assert_array_equal(u, v)


# -- TensorBoard event files -------------------------------------------------------------------

def _crc32c_bitwise(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def _records(path):
    with open(path, "rb") as f:
        data = f.read()
    out, pos = [], 0
    while pos < len(data):
        header = data[pos:pos + 8]
        (n,) = struct.unpack("<Q", header)
        (hcrc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        body = data[pos + 12:pos + 12 + n]
        (bcrc,) = struct.unpack("<I", data[pos + 12 + n:pos + 16 + n])
        for raw, masked in ((header, hcrc), (body, bcrc)):
            c = _crc32c_bitwise(raw)
            assert masked == (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF
        out.append(body)
        pos += 16 + n
    return out


def _scalars(event):
    """{tag: value} and step of an Event (a minimal protobuf reader for the fields written)."""
    def varint(buf, i):
        shift = value = 0
        while True:
            b = buf[i]
            value |= (b & 0x7F) << shift
            i += 1
            if not b & 0x80:
                return value, i
            shift += 7

    def fields(buf):
        i = 0
        while i < len(buf):
            key, i = varint(buf, i)
            kind = key & 7
            if kind == 0:
                v, i = varint(buf, i)
            elif kind == 1:
                v, i = buf[i:i + 8], i + 8
            elif kind == 5:
                v, i = buf[i:i + 4], i + 4
            else:
                n, i = varint(buf, i)
                v, i = buf[i:i + n], i + n
            yield key >> 3, v
    step, values = None, {}
    for num, v in fields(event):
        if num == 2:
            step = v
        elif num == 5:
            for _, value in fields(v):
                f = dict(fields(value))
                values[f[1].decode()] = struct.unpack("<f", f[2])[0]
    return step, values


def test_tensorboard_writes_event_files_tensorboard_reads(tmp_path, rng):
    x = rng.random((64, 3)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0,
                        callbacks=[keras.callbacks.TensorBoard(log_dir=str(tmp_path))])
    for sub, prefix in (("train", ""), ("validation", "val_")):
        (name,) = os.listdir(tmp_path / sub)
        assert name.startswith("events.out.tfevents.")
        records = _records(str(tmp_path / sub / name))
        assert b"brain.Event:2" in records[0]
        for epoch, rec in enumerate(records[1:]):
            step, values = _scalars(rec)
            assert step == epoch
            assert set(values) == {"epoch_loss", "epoch_mae"}
            np.testing.assert_allclose(values["epoch_loss"], history.history[prefix + "loss"][epoch], rtol=1e-6)


class Countdown(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size):
        super().__init__(workers=2)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.epochs_done = 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[s], self.y[s]

    def on_epoch_end(self):
        self.epochs_done += 1


def test_py_dataset_batches_and_epoch_end(rng):
    x = rng.random((50, 3)).astype(np.float32)
    y = rng.random((50, 1)).astype(np.float32)
    data = Countdown(x, y, 16)
    assert data.num_batches == 4 and data.workers == 2
    model = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    seen = []
    cb = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))
    model.fit(data, epochs=2, verbose=0, callbacks=[cb])
    assert seen == [0, 1, 2, 3] * 2 and data.epochs_done == 2
    np.testing.assert_allclose(model.evaluate(data, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-5)


def test_tf_names_for_tensor_ops():
    t = corenn.concat([corenn.ones((2, 2)), corenn.zeros((1, 2))], axis=0)
    assert tuple(corenn.shape(t)) == (3, 2)
    assert float(corenn.reduce_sum(t)) == 4.0 and float(corenn.reduce_mean(t)) == pytest.approx(4 / 6)
    assert tuple(corenn.stack([t, t], axis=1).shape) == (3, 2, 2)
    np.testing.assert_allclose(np.asarray(corenn.matmul(corenn.ones((1, 2)), corenn.ones((2, 3)))), 2.0)
    assert tuple(corenn.random.normal(shape=(2, 5)).shape) == (2, 5)


def test_summary_show_trainable_column(capsys):
    base = keras.Sequential([keras.Input((4,)), layers.Dense(3)], name="base")
    inputs = keras.Input((4,))
    outputs = layers.Dense(2, name="head")(layers.Dropout(0.1, name="drop")(base(inputs, training=False)))
    model = keras.Model(inputs, outputs)
    base.trainable = False
    model.summary(show_trainable=True)
    lines = capsys.readouterr().out.splitlines()
    assert "Trainable" in next(line for line in lines if "Layer (type)" in line)
    row = {line.split()[0]: line.split()[-1] for line in lines if line.split() and line.split()[0] in
           ("base", "head", "drop")}
    assert row == {"base": "N", "head": "Y", "drop": "-"}, row


def test_call_options_belong_to_their_call_and_survive_a_config_round_trip(rng):
    a = rng.normal(size=(4, 3)).astype(np.float32)
    b = rng.normal(size=(4, 3)).astype(np.float32)
    layer = Blend()
    np.testing.assert_allclose(np.asarray(layer(a, b, weight=0.5)[0]), 0.5 * (a + b), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(layer(a, b)[0]), 0.75 * a + 0.25 * b, rtol=1e-6)   # the default again
    ia, ib = keras.Input((3,)), keras.Input((3,))
    base = keras.Sequential([keras.Input((3,)), layers.Dropout(0.5)])
    s, _ = Blend(name="blend")(base(ia, training=False), ib, weight=0.5)
    model = keras.Model([ia, ib], s)
    config = model.get_config()
    node = next(e for e in config["layers"] if e["name"] == "blend")["inbound_nodes"][0]
    assert len(node["args"]) == 2 and node["kwargs"] == {"weight": 0.5}
    assert next(e for e in config["layers"] if e["class_name"] == "Sequential")["inbound_nodes"][0]["kwargs"] \
        == {"training": False}
    again = keras.Model.from_config(config, custom_objects={"Blend": Blend})
    for m in (model, again):
        m.compile("sgd", "mse")
        np.testing.assert_allclose(m.predict([a, b], verbose=0), 0.5 * (a + b), rtol=1e-6)
        # training=True for the outer model leaves the inner Dropout off (its call fixed False)
        loss = m.train_on_batch([a, b], np.zeros((4, 3), np.float32))
        np.testing.assert_allclose(loss, np.mean((0.5 * (a + b)) ** 2), rtol=1e-5)


class Hits(keras.metrics.Metric):
    def __init__(self, name="hits", **kwargs):
        super().__init__(name=name, **kwargs)
        self.n = self.add_variable(shape=(), initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.n.assign_add(float(np.size(y_pred)))

    def result(self):
        return self.n


@pytest.mark.parametrize("loss", [WeightedSquare(0.25), _mse_fn], ids=["Loss subclass", "function"])
def test_model_compiled_with_python_loss_and_metric_saves_and_loads(tmp_path, rng, loss):
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = rng.normal(size=(8, 2)).astype(np.float64)           # float64 labels are cast, as in Keras
    inputs = keras.Input((3,))
    model = keras.Model(inputs, layers.Dense(2)(inputs))
    model.compile("adam", loss, metrics=[Hits()])
    model.fit(x, y, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    with pytest.raises(ValueError, match="compile"):
        keras.models.load_model(path)                        # the classes are the user's: named, not found
    again = keras.models.load_model(path, custom_objects={"WeightedSquare": WeightedSquare, "_mse_fn": _mse_fn,
                                                          "Hits": Hits})
    np.testing.assert_allclose(again.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-6)
    assert again.evaluate(x, y, verbose=0)[1] == 16.0
