"""Issue 13 (the Keras surface), leftovers of session 23: variable paths, ``trainable`` on a custom
layer, the default names of metrics, and Concatenate's mask with an unmasked input. Every expected
value below is what Keras 3.15 (torch backend) gives for the same program."""
import contextlib
import io

import numpy as np
import pytest

import corenn.keras as keras
from corenn.keras import layers


def _paths(model):
    return [w.path for w in model.weights]


# -- variable paths -----------------------------------------------------------------------------

def test_sequential_paths_nest_under_the_model_name():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2, name="d1"), layers.Dense(1, name="d2")],
                             name="seq")
    assert _paths(model) == ["seq/d1/kernel", "seq/d1/bias", "seq/d2/kernel", "seq/d2/bias"]
    assert [w.name for w in model.weights] == ["kernel", "bias", "kernel", "bias"]
    assert [layer.path for layer in model.layers] == ["seq/d1", "seq/d2"]
    # built by fit (no declared input): the same, and a layer added later too
    lazy = keras.Sequential([layers.Dense(2, name="l1")], name="lazy")
    lazy.compile("sgd", "mse")
    lazy.fit(np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32), verbose=0)
    assert _paths(lazy) == ["lazy/l1/kernel", "lazy/l1/bias"]
    lazy.add(layers.Dense(1, name="l2"))
    assert _paths(lazy)[2:] == ["lazy/l2/kernel", "lazy/l2/bias"]
    # a layer built before it joined keeps the path it was built with
    pre = layers.Dense(2, name="pre")
    pre.build((None, 3))
    joined = keras.Sequential([keras.Input((3,)), pre, layers.Dense(1, name="post")], name="joined")
    assert _paths(joined) == ["pre/kernel", "pre/bias", "joined/post/kernel", "joined/post/bias"]


def test_functional_paths_are_the_layers_and_a_nested_sequential_nests():
    inp = keras.Input((3,))
    block = keras.Sequential([layers.Dense(4, name="b1"), layers.BatchNormalization(name="bn")], name="block")
    out = layers.Dense(1, name="head")(block(inp))
    model = keras.Model(inp, out, name="func")
    # Keras 3 builds a functional model's layers when they are called on KerasTensors, outside
    # any model's scope: no 'func/' prefix; the Sequential builds its layers in its own
    assert _paths(model) == ["block/b1/kernel", "block/b1/bias", "block/bn/gamma", "block/bn/beta",
                             "block/bn/moving_mean", "block/bn/moving_variance", "head/kernel", "head/bias"]
    assert model.path == "func" and block.path == "block"


class _Inner(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first = layers.Dense(2, name="first")
        self.stack = [layers.Dense(2, name="s0"), layers.Dense(3, name="s1")]
        self.scale = self.add_weight(shape=(2,), name="scale", initializer="ones")

    def call(self, x):
        return self.stack[1](self.stack[0](self.first(x) * self.scale))


class _Sub(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = _Inner(name="inner")
        self.block = keras.Sequential([layers.Dense(3, name="q")], name="qseq")
        self.out = layers.Dense(1, name="o")

    def build(self, input_shape):
        self.latent = self.add_weight(shape=(3,), name="latent", initializer="ones")

    def call(self, x):
        return self.out(self.block(self.inner(x * self.latent)))


def test_subclassed_model_and_custom_layer_paths():
    model = _Sub(name="sub")
    model.compile("sgd", "mse")
    model.fit(np.ones((4, 3), np.float32), np.zeros((4, 1), np.float32), verbose=0)
    paths = {w.path for w in model.weights}
    # the weight made in _Inner.__init__ is in _Inner's scope only (no model call is running);
    # the Dense layers are built by the model's call, inside both scopes
    assert paths == {"sub/latent", "inner/scale", "sub/inner/first/kernel", "sub/inner/first/bias",
                     "sub/inner/s0/kernel", "sub/inner/s0/bias", "sub/inner/s1/kernel", "sub/inner/s1/bias",
                     "sub/qseq/q/kernel", "sub/qseq/q/bias", "sub/o/kernel", "sub/o/bias"}
    assert model.inner.stack[1].path == "sub/inner/s1" and model.block.layers[0].path == "sub/qseq/q"
    # a standalone custom layer: its own name first
    alone = _Inner(name="alone")
    alone(np.ones((1, 3), np.float32))
    assert _paths(alone) == ["alone/scale", "alone/first/kernel", "alone/first/bias", "alone/s0/kernel",
                             "alone/s0/bias", "alone/s1/kernel", "alone/s1/bias"]
    # keras.Variable made in a build has the layer's path, in __init__ its name only
    holder = _VariableLayer(name="vl")
    holder(np.ones((1, 3), np.float32))
    assert [(w.name, w.path) for w in holder.weights] == [("in_init", "in_init"), ("in_build", "vl/in_build")]


class _VariableLayer(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.a = keras.Variable(np.zeros(3, np.float32), name="in_init")

    def build(self, input_shape):
        self.b = keras.Variable(np.zeros(3, np.float32), name="in_build")

    def call(self, x):
        return x + self.a + self.b


def test_rnn_wrapper_and_attention_paths_and_names():
    model = keras.Sequential([keras.Input((4, 3)), layers.Bidirectional(layers.LSTM(2, name="rnn"), name="bi"),
                              layers.Dense(1, name="d")], name="seq")
    assert _paths(model) == [
        "seq/bi/forward_rnn/lstm_cell/kernel", "seq/bi/forward_rnn/lstm_cell/recurrent_kernel",
        "seq/bi/forward_rnn/lstm_cell/bias", "seq/bi/backward_rnn/lstm_cell/kernel",
        "seq/bi/backward_rnn/lstm_cell/recurrent_kernel", "seq/bi/backward_rnn/lstm_cell/bias",
        "seq/d/kernel", "seq/d/bias"]
    att = layers.MultiHeadAttention(2, 4, name="att")
    q = np.zeros((2, 3, 8), np.float32)
    att(q, q)
    assert [(w.name, w.path) for w in att.weights[:3]] == [
        ("kernel", "att/query/kernel"), ("bias", "att/query/bias"), ("kernel", "att/key/kernel")]
    # the optimizer's slot variables are named after the paths, as Keras names them
    model.compile(keras.optimizers.Adam(), "mse")
    model.fit(np.zeros((4, 4, 3), np.float32), np.zeros((4, 1), np.float32), verbose=0)
    names = [v.name for v in model.optimizer.variables]
    assert names[:4] == ["iteration", "learning_rate", "seq_bi_forward_rnn_lstm_cell_kernel_momentum",
                         "seq_bi_forward_rnn_lstm_cell_kernel_velocity"]


def test_weights_added_after_the_build_keep_the_layers_path():
    # Keras 3 enters a built layer's scope under the path it was built at, wherever from
    model = keras.Sequential([keras.Input((3,)), layers.Dense(4, name="d"), layers.Dense(2, name="e")], name="seq")
    model.layers[0].enable_lora(2)
    assert _paths(model) == ["seq/d/kernel", "seq/d/bias", "seq/d/lora_kernel_a", "seq/d/lora_kernel_b",
                             "seq/e/kernel", "seq/e/bias"]
    quantized = keras.Sequential([keras.Input((3,)), layers.Dense(4, name="qd")], name="qs")
    quantized.quantize("int8")
    assert sorted(_paths(quantized)) == ["qs/qd/bias", "qs/qd/kernel", "qs/qd/kernel_scale"]


def test_files_round_trip_with_the_new_paths(tmp_path):
    model = keras.Sequential([keras.Input((3,)), layers.Dense(4, name="a"), layers.Dense(2, name="b")], name="rt")
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    want = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), want, rtol=1e-6)
    model.save_weights(tmp_path / "w.weights.h5")
    other = keras.Sequential([keras.Input((3,)), layers.Dense(4), layers.Dense(2)], name="other")
    other.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_allclose(other.predict(x, verbose=0), want, rtol=1e-6)


# -- trainable on a custom layer ----------------------------------------------------------------

class _Holder(layers.Layer):
    """A Dense, a list of Dense layers and a Sequential, and a weight of its own."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.a = layers.Dense(4)
        self.stack = [layers.Dense(4), layers.Dense(4)]
        self.seq = keras.Sequential([layers.Dense(4), layers.Dense(4)])
        self.v = self.add_weight(shape=(4,), name="v", initializer="ones")

    def call(self, x):
        h = self.a(x)
        for layer in self.stack:
            h = layer(h)
        return self.seq(h) * self.v


def _summary_counts(model):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        model.summary()
    return [line.split("(")[0].strip() for line in buf.getvalue().splitlines()
            if line.startswith(("Total params", "Trainable params", "Non-trainable params", "Optimizer params"))]


def _frozen_model():
    holder = _Holder(name="holder")
    inp = keras.Input((3,))
    model = keras.Model(inp, layers.Dense(1, name="head")(holder(inp)))
    return holder, model


def test_freezing_a_custom_layer_freezes_what_it_holds():
    holder, model = _frozen_model()
    holder.trainable = False
    # Keras 3: the flag is set on every layer and model the layer holds
    assert not holder.a.trainable and not any(l.trainable for l in holder.stack)
    assert not holder.seq.trainable and not any(l.trainable for l in holder.seq.layers)
    assert [len(l.trainable_weights) for l in (holder.a, holder.stack[0], holder.seq)] == [0, 0, 0]
    assert len(holder.trainable_weights) == 0 and len(holder.non_trainable_weights) == 11
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 11
    assert not holder.v.trainable and not holder.a.kernel.trainable   # the variables' flags too
    assert _summary_counts(model) == ["Total params: 105", "Trainable params: 5", "Non-trainable params: 100"]
    holder.trainable = True
    assert holder.a.trainable and all(l.trainable for l in holder.stack + holder.seq.layers)
    assert holder.seq.trainable and holder.v.trainable
    assert len(model.trainable_weights) == 13 and len(model.non_trainable_weights) == 0
    assert _summary_counts(model) == ["Total params: 105", "Trainable params: 105", "Non-trainable params: 0"]


def test_fit_keeps_a_frozen_custom_layer_and_trains_it_again_when_unfrozen():
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 3), np.float32), rng.random((16, 1), np.float32)
    holder, model = _frozen_model()
    holder.trainable = False
    model.compile("sgd", "mse")
    before = [np.array(w) for w in holder.weights]
    head = np.array(model.get_layer("head").kernel)
    model.fit(x, y, epochs=2, verbose=0)
    assert all(np.array_equal(a, np.array(w)) for a, w in zip(before, holder.weights))
    assert not np.array_equal(head, np.array(model.get_layer("head").kernel))
    holder.trainable = True
    model.compile("sgd", "mse")
    model.fit(x, y, epochs=2, verbose=0)
    changed = [not np.array_equal(a, np.array(w)) for a, w in zip(before, holder.weights)]
    assert all(changed), changed
    # once the optimizer has made its variables (SGD: iteration, learning_rate) Keras 3's summary
    # counts them in the total and on a line of their own
    assert _summary_counts(model) == ["Total params: 107", "Trainable params: 105", "Non-trainable params: 0",
                                      "Optimizer params: 2"]


def test_freezing_one_layer_inside_a_custom_layer_after_a_model_read_its_weights():
    """The model's cached weight lists saw only its own layers' flags: freezing a Dense inside a
    custom layer left model.trainable_weights stale, and fit stopped with 'got 4 gradients for 6
    variables'."""
    holder = _Holder(name="holder")
    inp = keras.Input((3,))
    model = keras.Model(inp, layers.Dense(1, name="head")(holder(inp)))
    assert len(model.trainable_weights) == 13
    holder.a.trainable = False
    assert len(model.trainable_weights) == 11 and len(model.non_trainable_weights) == 2
    rng = np.random.default_rng(1)
    x, y = rng.random((8, 3), np.float32), rng.random((8, 1), np.float32)
    model.compile("sgd", "mse")
    frozen, other = np.array(holder.a.kernel), np.array(holder.stack[0].kernel)
    model.fit(x, y, epochs=1, verbose=0)
    assert np.array_equal(frozen, np.array(holder.a.kernel))
    assert not np.array_equal(other, np.array(holder.stack[0].kernel))


def test_wrapper_given_trainable_false_freezes_its_layer():
    inner = layers.Dense(2)
    wrapped = layers.TimeDistributed(inner, trainable=False)
    wrapped.build((None, 4, 3))
    assert not inner.trainable and wrapped.trainable_weights == []


# -- metric names -------------------------------------------------------------------------------

def test_metrics_without_a_name_get_unique_names():
    keras.backend.clear_session()
    m = keras.metrics
    assert [m.Precision().name for _ in range(3)] == ["precision", "precision_1", "precision_2"]
    assert [m.AUC().name, m.AUC().name] == ["auc", "auc_1"]
    for cls, base in ((m.Recall, "recall"), (m.TruePositives, "true_positives"),
                      (m.FalseNegatives, "false_negatives"), (m.TrueNegatives, "true_negatives"),
                      (m.FalsePositives, "false_positives")):
        assert [cls().name, cls().name] == [base, base + "_1"]
    assert [m.PrecisionAtRecall(0.5).name, m.PrecisionAtRecall(0.5).name] == [
        "precision_at_recall", "precision_at_recall_1"]
    assert [m.MeanIoU(2).name, m.MeanIoU(2).name] == ["mean_io_u", "mean_io_u_1"]
    assert [m.BinaryIoU().name, m.BinaryIoU().name] == ["binary_io_u", "binary_io_u_1"]
    # metrics with a fixed default name keep it, as in Keras
    assert [m.Mean().name, m.Mean().name] == ["mean", "mean"]
    assert [m.BinaryAccuracy().name, m.BinaryAccuracy().name] == ["binary_accuracy"] * 2
    assert m.Precision(name="p").name == "p"
    # a MeanMetricWrapper made without a name is 'mean_metric_wrapper', not its function's name
    assert [m.MeanMetricWrapper(m.mean_squared_error).name for _ in range(2)] == [
        "mean_metric_wrapper", "mean_metric_wrapper_1"]


def test_compile_logs_keep_repeated_metrics_apart():
    keras.backend.clear_session()
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 3), np.float32), (rng.random((32, 1)) > 0.5).astype(np.float32)

    def keys(metrics):
        model = keras.Sequential([keras.Input((3,)), layers.Dense(1, activation="sigmoid")])
        model.compile("sgd", "binary_crossentropy", metrics=metrics)
        history = model.fit(x, y, validation_data=(x, y), epochs=1, verbose=0)
        return sorted(history.history), sorted(model.evaluate(x, y, verbose=0, return_dict=True))

    m = keras.metrics
    hist, ev = keys([m.Precision(), m.Precision(), m.Recall(), m.AUC()])
    assert hist == ["auc", "loss", "precision", "precision_1", "recall", "val_auc", "val_loss",
                    "val_precision", "val_precision_1", "val_recall"]
    assert ev == ["auc", "loss", "precision", "precision_1", "recall"]
    # a string keeps its name (and takes a number of the counter, as in Keras)
    hist, _ = keys(["precision", "auc"])
    assert hist == ["auc", "loss", "precision", "val_auc", "val_loss", "val_precision"]
    hist, _ = keys([m.Precision(name="p"), m.Precision(thresholds=0.7)])
    assert hist == ["loss", "p", "precision_3", "val_loss", "val_p", "val_precision_3"]
    hist, _ = keys([m.TruePositives(), m.TruePositives()])
    assert hist == ["loss", "true_positives", "true_positives_1", "val_loss", "val_true_positives",
                    "val_true_positives_1"]


# -- Concatenate with one masked and one unmasked input ------------------------------------------

class _MaskProbe(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.seen = "not called"

    def call(self, x, mask=None):
        self.seen = None if mask is None else np.asarray(mask).astype(bool)
        return x


def test_concatenate_of_a_masked_and_an_unmasked_input_has_an_all_true_mask():
    tok = np.array([[1, 2, 0, 0], [3, 0, 0, 0]], np.int32)
    dense = np.random.default_rng(0).random((2, 4, 3), np.float32)
    ti, di = keras.Input((4,), dtype="int32"), keras.Input((4, 3))
    merged = layers.Concatenate()([layers.Embedding(5, 3, mask_zero=True)(ti), di])
    assert merged._keras_mask is not None
    probe = _MaskProbe()
    model = keras.Model([ti, di], probe(merged))
    out = model([tok, dense])
    np.testing.assert_array_equal(probe.seen, np.ones((2, 4), bool))
    np.testing.assert_array_equal(np.asarray(out._keras_mask).astype(bool), np.ones((2, 4), bool))
    # along the steps: the unmasked input's part is all True, the masked one's kept
    emb = layers.Embedding(5, 3, mask_zero=True)
    e = emb(tok)
    time = layers.Concatenate(axis=1)
    np.testing.assert_array_equal(np.asarray(time.compute_mask([dense, e], [None, e._keras_mask])).astype(int),
                                  [[1, 1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 0, 0, 0]])
    assert layers.Concatenate().compute_mask([dense, dense], [None, None]) is None
