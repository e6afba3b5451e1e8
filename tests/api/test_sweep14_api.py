"""Gaps found by sweep 14's programs (keras.io examples ported with their imports changed)."""
import numpy as np

import corenn as tf


def test_tape_gradient_takes_nested_sources():
    # the MAE example: tape.gradient(loss, [model_a.trainable_variables, model_b...]) and
    # zips the nested result back with the nested variables
    a, b, c = tf.Variable([1.0, 2.0]), tf.Variable(3.0), tf.Variable([[0.5]])
    with tf.GradientTape(persistent=True) as tape:
        y = tf.reduce_sum(a * a) * b + tf.reduce_sum(c * c)
    g = tape.gradient(y, [[a, b], [], (c,), {"k": [a]}])
    assert isinstance(g, list) and isinstance(g[2], tuple) and g[1] == [] and list(g[3]) == ["k"]
    np.testing.assert_allclose(np.asarray(g[0][0]), 2 * np.array([1.0, 2.0]) * 3.0)
    np.testing.assert_allclose(float(g[0][1]), 5.0)
    np.testing.assert_allclose(np.asarray(g[2][0]), [[1.0]])
    np.testing.assert_allclose(np.asarray(g[3]["k"][0]), np.asarray(g[0][0]))
    d = tape.gradient(y, {"x": a, "y": (b, [c])})
    np.testing.assert_allclose(float(d["y"][0]), 5.0)
    np.testing.assert_allclose(np.asarray(d["y"][1][0]), [[1.0]])


def test_tape_gradient_nested_model_variables_train():
    from corenn import keras
    m1, m2 = keras.layers.Dense(3), keras.layers.Dense(1)
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    opt = keras.optimizers.SGD(0.1)
    losses = []
    for _ in range(5):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(m2(m1(x)) - 1.0))
        train_vars = [m1.trainable_variables, m2.trainable_variables]
        grads = tape.gradient(loss, train_vars)
        assert [len(g) for g in grads] == [2, 2]
        opt.apply_gradients([(g, v) for gs, vs in zip(grads, train_vars) for g, v in zip(gs, vs)])
        losses.append(float(loss))
    assert losses[-1] < losses[0]


def _custom_step_model(step_returns):
    from corenn import keras

    class M(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(1)

        def call(self, x):
            return self.d(x)

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            return step_returns(self, x, y, y_pred, loss)
    return M()


def test_custom_train_step_metrics_before_compiled_metrics_exist():
    # Keras 3: model.metrics holds a compile_metrics entry that a custom step's
    # ``metric.update_state(y, y_pred)`` builds; its results land in the logs by their own names
    def step(model, x, y, y_pred, loss):
        out = {}
        for metric in model.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
            out[metric.name] = metric.result()
        return out
    model = _custom_step_model(step)
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    assert [m.name for m in model.metrics] == ["loss", "compile_metrics"]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], "float32")).astype("float32")
    h = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    assert list(h.history) == ["loss", "mae"]
    assert [m.name for m in model.metrics] == ["loss", "mae"]
    pred = model.predict(x, verbose=0)
    # the last epoch's mae is the mean over its batches (metrics reset each epoch), so it lies
    # near the final model's error
    assert abs(h.history["mae"][-1] - float(np.mean(np.abs(pred - y)))) < 0.5 * h.history["mae"][-1] + 0.05


def test_custom_train_step_logs_keep_non_scalar_values():
    # NNCLR logs its per-sample loss vector; Keras keeps it as an array, nested dicts flatten
    def step(model, x, y, y_pred, loss):
        return {"vec": tf.reduce_sum(tf.square(y_pred - y), axis=1), "inner": {"loss": loss}}
    model = _custom_step_model(step)
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((8, 3), "float32")
    h = model.fit(x, np.zeros((8, 1), "float32"), batch_size=4, epochs=2, verbose=0)
    assert set(h.history) == {"vec", "loss"}
    assert np.shape(h.history["vec"][0]) == (4,) and isinstance(h.history["loss"][0], float)


class _PatchEmbed(tf.keras.layers.Layer):
    """keras.io focal modulation's PatchEmbed: a tensor and Python ints from one call."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.proj = tf.keras.layers.Conv2D(4, 2, strides=2)

    def call(self, x):
        x = self.proj(x)
        h, w, c = x.shape[1], x.shape[2], x.shape[3]
        return tf.reshape(x, (-1, h * w, c)), h, w, c


def test_call_returning_python_values_next_to_tensors():
    layer = _PatchEmbed()
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 3)).astype("float32")
    out = layer(x)
    assert isinstance(out, tuple) and len(out) == 4 and out[1:] == (3, 3, 4)
    assert tuple(out[0].shape) == (2, 9, 4)
    # under a tape: the tensor is differentiated, the ints pass through
    with tf.GradientTape() as tape:
        y, h, w, c = layer(x)
        loss = tf.reduce_sum(y * y)
    grads = tape.gradient(loss, layer.trainable_variables)
    assert (h, w, c) == (3, 3, 4) and all(g is not None for g in grads)
    # finite difference on the bias of the conv
    b = layer.proj.bias
    eps = 1e-2
    base = np.asarray(b).copy()
    fd = []
    for sign in (1, -1):
        b.assign(base + sign * eps * np.eye(4, dtype="float32")[0])
        fd.append(float(np.sum(np.asarray(layer(x)[0], np.float64) ** 2)))
    b.assign(base)
    np.testing.assert_allclose(float(np.asarray(grads[1])[0]), (fd[0] - fd[1]) / (2 * eps), rtol=2e-3)


def test_call_returning_python_values_inside_a_subclassed_model_trains():
    from corenn import keras

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.embed = _PatchEmbed()
            self.head = keras.layers.Dense(2)

        def call(self, x):
            x, h, w, c = self.embed(x)
            return self.head(tf.reshape(x, (-1, h * w * c)))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 6, 6, 3)).astype("float32")
    y = (x.mean(axis=(1, 2, 3)) > 0).astype("int32")
    m = Net()
    m.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    h = m.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]


def test_upsampling_takes_any_channel_count_and_checks_rank():
    import pytest
    from corenn import layers
    up = layers.UpSampling2D(size=(2, 2), interpolation="bilinear")
    a = np.random.default_rng(0).normal(size=(1, 2, 2, 3)).astype("float32")
    b = np.random.default_rng(1).normal(size=(1, 2, 2, 5)).astype("float32")
    assert tuple(up(a).shape) == (1, 4, 4, 3)
    np.testing.assert_allclose(np.asarray(up(b))[..., 4], np.asarray(up(b[..., 4:]))[..., 0], rtol=1e-6)
    with pytest.raises(ValueError, match="rank 4"):
        up(np.ones((1, 2, 2), "float32"))


def test_accuracy_resolved_from_custom_step_predictions():
    # keras.io consistency training: compile(metrics=["accuracy"]) without a loss, labels (n, 1),
    # compiled_metrics.update_state(y, softmax(logits)) with 4 classes -> sparse accuracy (Keras 3)
    from corenn import keras

    class Student(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(4)

        def call(self, x):
            return self.d(x)

        def train_step(self, data):
            x, y = data
            loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            with tf.GradientTape() as tape:
                logits = self(x, training=True)
                loss = loss_fn(y, logits)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            self.compiled_metrics.update_state(y, tf.nn.softmax(logits, axis=1))
            return {m.name: m.result() for m in self.metrics}

    model = Student()
    model.compile(optimizer=keras.optimizers.Adam(0.05), metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = np.argmax(x @ rng.normal(size=(3, 4)), axis=1).reshape(-1, 1)
    h = model.fit(x, y, batch_size=16, epochs=20, verbose=0)
    acc = [m for m in model.metrics if m.name == "accuracy"][0]
    assert type(acc).__name__ == "SparseCategoricalAccuracy"
    ref = float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y[:, 0]))
    assert abs(h.history["accuracy"][-1] - ref) < 0.2
    assert ref > 0.5


def test_resolve_accuracy_keras3_rule():
    from corenn import metrics
    assert type(metrics.resolve("accuracy", None, 2, (None, 4), 1)).__name__ == "SparseCategoricalAccuracy"
    assert type(metrics.resolve("accuracy", None, 2, (None, 4), 4)).__name__ == "CategoricalAccuracy"
    assert type(metrics.resolve("accuracy", None, 2, (None, 1), 1)).__name__ == "BinaryAccuracy"


def test_top_k_is_a_named_tuple():
    x = np.array([[0.1, 0.9, 0.5], [0.7, 0.2, 0.3]], "float32")
    r = tf.math.top_k(x, k=2)
    np.testing.assert_array_equal(r.indices.numpy(), np.argsort(-x, axis=1)[:, :2])
    np.testing.assert_allclose(r.values.numpy(), -np.sort(-x, axis=1)[:, :2])
    values, indices = tf.nn.top_k(x, 1)
    np.testing.assert_array_equal(np.asarray(indices)[:, 0], [1, 0])
    assert type(r).__name__ == "TopKV2" and r[0] is r.values


def test_ragged_from_row_starts_and_limits():
    import pytest
    v = [3, 1, 4, 1, 5, 9, 2]
    assert tf.RaggedTensor.from_row_starts(values=v, row_starts=[0, 4, 4, 6]).to_list() == [[3, 1, 4, 1], [], [5, 9], [2]]
    assert tf.RaggedTensor.from_row_limits(values=v, row_limits=[4, 4, 6, 7]).to_list() == [[3, 1, 4, 1], [], [5, 9], [2]]
    words = tf.RaggedTensor.from_row_starts(values=tf.constant(["a", "b", "c"]), row_starts=[0, 2])
    assert words.to_list() == [[b"a", b"b"], [b"c"]]
    with pytest.raises(ValueError, match="row_splits must rise"):
        tf.RaggedTensor.from_row_starts(values=[1, 2], row_starts=[1])
