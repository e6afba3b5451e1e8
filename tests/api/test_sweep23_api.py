"""Sweep 23 of issue 13 (keras.io examples run with only their imports changed): what the
programs in tests/programs/ added in sweep 23 found missing, each checked on its own against
NumPy or Keras 3's documented behaviour."""
import warnings

import numpy as np
import pytest

import corenn as tf
from corenn import keras, ops


# ---- GCViT (example_gcvit.py) ----------------------------------------------------------------

def test_layer_dtype_is_the_variable_dtype():
    # Keras 3: Layer.dtype is the dtype of its variables; custom layers pass
    # add_weight(..., dtype=self.dtype) (GCViT's WindowAttention bias table, layer scale gammas)
    class Table(keras.layers.Layer):
        def build(self, input_shape):
            self.table = self.add_weight(shape=(3, 2), initializer="ones", dtype=self.dtype)

        def call(self, x):
            return x + ops.sum(self.table)

    layer = Table()
    assert layer.dtype == "float32" == layer.variable_dtype
    np.testing.assert_allclose(np.asarray(layer(np.zeros((2, 2), "float32"))), np.full((2, 2), 6.0))
    assert keras.Sequential([keras.layers.Dense(1)]).dtype == "float32"


def _two_headed(n_out, name="net"):
    inp = keras.Input((3,))
    h = keras.layers.Dense(4, name="body")(inp)
    h = keras.layers.LayerNormalization(name="norm")(h)
    return keras.Model(inp, keras.layers.Dense(n_out, name="head")(h), name=name)


def test_load_weights_skip_mismatch_skips_only_what_does_not_fit(tmp_path):
    # Keras 3: skip_mismatch=True loads every object whose variables fit and leaves the others
    # (a new classifier head) as they are, with a warning; without it the mismatch is an error
    keras.utils.set_random_seed(1)
    source = _two_headed(2)
    path = str(tmp_path / "src.weights.h5")
    source.save_weights(path)
    target = _two_headed(5)
    head_before = [np.array(w) for w in target.get_layer("head").get_weights()]
    with pytest.raises(ValueError, match="head"):
        target.load_weights(path)
    for a, b in zip(target.get_layer("head").get_weights(), head_before):   # left untouched
        np.testing.assert_array_equal(a, b)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        target.load_weights(path, skip_mismatch=True)
    messages = [str(w.message) for w in caught]
    assert any("skip_mismatch" in m and "head" in m for m in messages), messages
    assert all(w.filename == __file__ for w in caught if "skip_mismatch" in str(w.message))
    for name in ("body", "norm"):
        for a, b in zip(target.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(target.get_layer("head").get_weights(), head_before):
        np.testing.assert_array_equal(a, b)
    # the loaded body computes what the source's does
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    probe_src = keras.Model(source.inputs, source.get_layer("norm").output)
    probe_dst = keras.Model(target.inputs, target.get_layer("norm").output)
    np.testing.assert_allclose(probe_dst.predict(x, verbose=0), probe_src.predict(x, verbose=0), rtol=1e-6)


def test_load_weights_skip_mismatch_in_a_nested_layer_skips_that_object_only(tmp_path):
    # the object is a layer's own variables: in a subclassed model whose block holds two Dense
    # layers, only the one that does not fit keeps its values
    class Block(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.a = keras.layers.Dense(4, name="a")
            self.b = keras.layers.Dense(units, name="b")

        def call(self, x):
            return self.b(self.a(x))

    class Net(keras.Model):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.block = Block(units, name="block")

        def call(self, x):
            return self.block(x)

    x = np.ones((2, 3), "float32")
    src, dst = Net(2), Net(6)
    src(x), dst(x)
    path = str(tmp_path / "nested.weights.h5")
    src.save_weights(path)
    b_before = [np.array(w) for w in dst.block.b.get_weights()]
    with pytest.warns(UserWarning, match="skip_mismatch"):
        dst.load_weights(path, skip_mismatch=True)
    for a, b in zip(dst.block.a.get_weights(), src.block.a.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(dst.block.b.get_weights(), b_before):
        np.testing.assert_array_equal(a, b)


def test_load_weights_skip_mismatch_needs_a_keras_weights_file(tmp_path):
    # corenn's own .weights.npz lists weights by position only: nothing names the object a
    # weight belongs to, so skip_mismatch there is refused rather than guessed
    source = _two_headed(2)
    path = str(tmp_path / "src.weights.npz")
    source.save_weights(path)
    with pytest.raises(NotImplementedError, match="skip_mismatch=True needs a Keras weights file"):
        _two_headed(5).load_weights(path, skip_mismatch=True)


def test_load_weights_into_a_model_never_called_raises(tmp_path):
    # Keras 3: "You are loading weights into a model that has not yet been built"; a subclassed
    # model sharing one built layer used to load the file's weights by position into that layer
    class Net(keras.Model):
        def __init__(self, body, **kwargs):
            super().__init__(**kwargs)
            self.body = body
            self.head = keras.layers.Dense(3, name="head")

        def call(self, x):
            return self.head(self.body(x))

    body = keras.layers.Dense(4)
    net = Net(body)
    x = np.ones((2, 5), "float32")
    net(x)
    path = str(tmp_path / "net.weights.h5")
    net.save_weights(path)
    fresh = Net(body)
    kernel = np.array(body.kernel)
    with pytest.raises(ValueError, match="not yet been built"):
        fresh.load_weights(path)
    np.testing.assert_array_equal(np.asarray(body.kernel), kernel)
    fresh(x)   # built: now it loads
    fresh.load_weights(path)
    np.testing.assert_allclose(np.asarray(fresh(x)), np.asarray(net(x)), rtol=1e-6)


# ---- When Recurrence meets Transformers (example_temporal_latent_bottleneck.py) -------------

def _np_dense(x, w, b):
    return x @ w + b


def test_layer_called_twice_on_one_tape_gets_both_calls_weight_gradients():
    # a layer written with call, called twice on one tape (the attention block run on the fast
    # stream, then on the slow one): its sublayers' gradients are the sum over both calls. The
    # second call used to overwrite the first's gradient buffers before the tape summed them
    class Block(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.fast = keras.layers.Dense(3, name="fast")
            self.slow = keras.layers.Dense(3, name="slow")

        def call(self, query, key, value, stream="fast"):
            return {"fast": self.fast, "slow": self.slow}[stream](query) * key + value

    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=(2, 3)).astype("float32") for _ in range(3))
    block = Block()
    block(query=q, key=k, value=v)
    block(query=q, key=k, value=v, stream="slow")
    wf, bf = (np.asarray(w, np.float64) for w in block.fast.weights)
    ws, bs = (np.asarray(w, np.float64) for w in block.slow.weights)

    def loss_np(wf, bf, ws, bs):
        y1 = _np_dense(q, wf, bf) * k + v
        y2 = _np_dense(y1, wf, bf) * k + v          # the same sublayer twice
        y3 = _np_dense(y2, ws, bs) * k + v
        return (y3 ** 2).sum()

    qt, kt, vt = tf.constant(q), tf.constant(k), tf.constant(v)
    with tf.GradientTape() as tape:
        y1 = block(query=qt, key=kt, value=vt)
        y2 = block(y1, kt, vt)
        y3 = block(query=y2, key=kt, value=vt, stream="slow")
        loss = ops.sum(y3 * y3)
    grads = tape.gradient(loss, [block.fast.kernel, block.fast.bias, block.slow.kernel, block.slow.bias])
    params = [wf, bf, ws, bs]
    for i, g in enumerate(grads):   # central differences of the float64 NumPy loss
        num = np.zeros_like(params[i])
        for j in range(num.size):
            plus = [p.copy() for p in params]
            minus = [p.copy() for p in params]
            plus[i].flat[j] += 1e-5
            minus[i].flat[j] -= 1e-5
            num.flat[j] = (loss_np(*plus) - loss_np(*minus)) / 2e-5
        np.testing.assert_allclose(np.asarray(g), num, rtol=2e-4, atol=2e-4)


def test_one_tensor_passed_as_two_inputs_gets_its_gradient_once():
    # key=x, value=x: the layer's gradient of x is the sum over its two uses, counted once
    class KV(keras.layers.Layer):
        def call(self, query, key, value):
            return query * key + 2.0 * value

    layer = KV()
    q = tf.constant(np.array([[1.0, -2.0]], "float32"))
    x = tf.constant(np.array([[3.0, 0.5]], "float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        tape.watch(q)
        y = layer(query=q, key=x, value=x)
        loss = ops.sum(y)
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, x)), np.asarray(q) + 2.0)   # d/dx (q x + 2 x)
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, q)), np.asarray(x))


class _ChunkCell(keras.layers.Layer):
    """A cell over steps of shape (chunk, dims) whose state is a flat chunk * dims vector and
    whose Dense is built on its first step (as the example's cell builds its attention blocks)."""

    def __init__(self, chunk, dims, **kwargs):
        super().__init__(**kwargs)
        self.chunk, self.dims = chunk, dims
        self.state_size = chunk * dims
        self.mix = keras.layers.Dense(dims, name="mix")

    def build(self, input_shape):
        self.built = True

    def call(self, inputs, states):
        s = ops.reshape(states[0], (-1, self.chunk, self.dims))
        y = ops.tanh(self.mix(inputs + s))
        return y, [ops.reshape(y, (-1, self.chunk * self.dims))]


def test_rnn_runs_a_custom_cell_over_steps_of_any_shape():
    # Keras 3: RNN inputs (batch, timesteps, *step_shape); the cell gets (batch, *step_shape)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 3, 5)).astype("float32")
    cell = _ChunkCell(3, 5)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    y = np.asarray(rnn(x))
    assert y.shape == (2, 4, 3, 5)
    w, b = (np.asarray(t, np.float64) for t in cell.mix.weights)
    s = np.zeros((2, 3, 5))
    for t in range(4):
        s = np.tanh(_np_dense(x[:, t] + s, w, b))
        np.testing.assert_allclose(y[:, t], s, rtol=1e-5, atol=1e-6)
    # the last output only; and the built-in cells still want (batch, timesteps, features)
    np.testing.assert_allclose(np.asarray(keras.layers.RNN(cell)(x)), s, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="timesteps, features"):
        keras.layers.RNN(keras.layers.LSTMCell(4))(x)


def test_rnn_lists_and_trains_the_weights_its_cell_makes_on_its_first_step():
    # Keras tracks the cell's layers when they make their weights; corenn's RNN took the cell's
    # weights once, at build, before the cell's Dense existed: fit never trained it
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 4, 3, 5)).astype("float32")
    y = (x[:, :, 0, 0].sum(axis=1) > 0).astype("float32")
    cell = _ChunkCell(3, 5)
    inp = keras.Input((4, 3, 5))
    h = keras.layers.RNN(cell)(inp)
    out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(h))
    model = keras.Model(inp, out)
    model(x[:2])
    assert len(model.layers[1].trainable_weights) == 2   # the cell's Dense: kernel, bias
    assert len(model.trainable_weights) == 4
    before = np.array(cell.mix.kernel)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy")
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert not np.allclose(np.asarray(cell.mix.kernel), before)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]


def test_functional_model_calling_a_custom_layer_twice_sums_both_calls_gradients():
    # the graph's sum over a shared layer's calls read each call's gradients from the buffers
    # of the layer's Dense, which the other call had overwritten
    class Block(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.d = keras.layers.Dense(3, name="d")

        def call(self, x):
            return ops.tanh(self.d(x))

    block = Block()
    inp = keras.Input((3,))
    model = keras.Model(inp, block(block(inp)))
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 3)).astype("float32")
    y = rng.normal(size=(5, 3)).astype("float32")
    model(x)
    w, b = (np.asarray(t, np.float64) for t in block.d.weights)

    def loss_np(w, b):
        h = np.tanh(np.tanh(x @ w + b) @ w + b)
        return ((h - y) ** 2).mean()

    num = []
    for i, p in enumerate((w, b)):
        g = np.zeros_like(p)
        for j in range(p.size):
            args_p, args_m = [w.copy(), b.copy()], [w.copy(), b.copy()]
            args_p[i].flat[j] += 1e-6
            args_m[i].flat[j] -= 1e-6
            g.flat[j] = (loss_np(*args_p) - loss_np(*args_m)) / 2e-6
        num.append(g)
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    model.train_on_batch(x, y)   # one SGD step of rate 1: the new weights are w - dL/dw
    np.testing.assert_allclose(np.asarray(block.d.kernel), w - num[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(block.d.bias), b - num[1], rtol=1e-4, atol=1e-5)


def test_rnn_over_a_stack_of_custom_cells_trains_their_layers():
    # RNN([cell, cell]) of cells holding a Dense built on first call: the stack's weights were
    # gathered when it was built, before the Dense layers had any
    class Cell(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.state_size = units
            self.d = keras.layers.Dense(units)

        def build(self, input_shape):
            self.built = True

        def call(self, x, states):
            h = ops.tanh(self.d(ops.concatenate([x, states[0]], axis=-1)))
            return h, [h]

    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(64, 5, 3)).astype("float32")
    y = (x[:, :, 0].sum(axis=1) > 0).astype("float32")
    cells = [Cell(4), Cell(4)]
    inp = keras.Input((5, 3))
    rnn = keras.layers.RNN(cells)
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(rnn(inp)))
    assert len(rnn.trainable_weights) == 4 and len(model.trainable_weights) == 6
    # the stack's forward, in NumPy: cell 2 reads cell 1's output
    (w1, b1), (w2, b2) = ([np.asarray(t, np.float64) for t in c.d.weights] for c in cells)
    h1 = h2 = np.zeros((64, 4))
    for t in range(5):
        h1 = np.tanh(np.concatenate([x[:, t], h1], axis=-1) @ w1 + b1)
        h2 = np.tanh(np.concatenate([h1, h2], axis=-1) @ w2 + b2)
    probe = keras.Model(inp, rnn.output)
    np.testing.assert_allclose(probe.predict(x, verbose=0), h2, rtol=1e-5, atol=1e-6)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    history = model.fit(x, y, epochs=10, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
