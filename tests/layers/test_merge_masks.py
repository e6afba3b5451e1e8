"""The masks of merge layers follow Keras 3 (layers/merging.py, MERGED): an elementwise merge has
one only when every input has one (their OR); Concatenate along the features ORs the inputs' masks
(an unmasked input keeps every step: an all-True mask), along time concatenates them (an unmasked
input: all True).
Checked through what the masks change: a masked GlobalAveragePooling1D after the merge, against
NumPy, in a graph (predict, fit, a saved and reloaded model) and eagerly (compute_mask)."""
import numpy as np
import pytest

import corenn.keras as keras
from corenn.keras import layers

TOK = np.array([[3, 5, 0, 0], [2, 0, 0, 0], [7, 7, 7, 7]])
TOK2 = np.array([[1, 0, 0, 0], [4, 4, 4, 0], [0, 0, 0, 0]])


def _model(kind):
    inp, inp2 = keras.Input((4,), dtype="int32"), keras.Input((4,), dtype="int32")
    e1, e2 = layers.Embedding(10, 3, mask_zero=True), layers.Embedding(10, 3, mask_zero=True)
    e3 = layers.Embedding(10, 3)
    a, b, c = e1(inp), e2(inp2), e3(inp)
    merged = {"add_same": lambda: layers.Add()([a, a]), "add_two": lambda: layers.Multiply()([a, b]),
              "add_unmasked": lambda: layers.Add()([a, c]), "concat_two": lambda: layers.Concatenate()([a, b]),
              "concat_unmasked": lambda: layers.Concatenate()([a, c]),
              "concat_time": lambda: layers.Concatenate(axis=1)([a, c])}[kind]()
    model = keras.Model([inp, inp2], layers.GlobalAveragePooling1D()(merged))
    rng = np.random.default_rng(1)
    tables = [rng.standard_normal((10, 3)).astype(np.float32) for _ in range(3)]
    for e, t in zip((e1, e2, e3), tables):
        e.set_weights([t])
    return model, merged, tables


def _expected(kind, tables):
    t1, t2, t3 = tables
    a, b, c = t1[TOK], t2[TOK2], t3[TOK]
    ma, mb = TOK != 0, TOK2 != 0
    values, mask = {
        "add_same": (a + a, ma), "add_two": (a * b, ma | mb), "add_unmasked": (a + c, None),
        "concat_two": (np.concatenate([a, b], -1), ma | mb),
        "concat_unmasked": (np.concatenate([a, c], -1), None),
        "concat_time": (np.concatenate([a, c], 1), np.concatenate([ma, np.ones_like(ma)], 1)),
    }[kind]
    if mask is None:
        return values.mean(1)
    w = mask[..., None].astype(np.float64)
    return (values * w).sum(1) / np.maximum(w.sum(1), 1)   # an all-masked row averages to 0


KINDS = ["add_same", "add_two", "add_unmasked", "concat_two", "concat_unmasked", "concat_time"]


@pytest.mark.parametrize("kind", KINDS)
def test_merged_mask_in_a_graph(kind, tmp_path):
    model, merged, tables = _model(kind)
    want = _expected(kind, tables)
    np.testing.assert_allclose(model.predict([TOK, TOK2], verbose=0), want, rtol=1e-5, atol=1e-6)
    # Keras 3: an elementwise merge with an unmasked input has no mask; Concatenate gives the
    # unmasked input's part an all-True mask, so its output has one (all True here)
    assert (merged._keras_mask is None) == (kind == "add_unmasked")
    path = str(tmp_path / "m.keras")
    model.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_allclose(again.predict([TOK, TOK2], verbose=0), want, rtol=1e-5, atol=1e-6)


def test_eager_compute_mask_keras_rules():
    a, b = np.zeros((3, 4, 3), np.float32), np.zeros((3, 4, 2), np.float32)
    ma, mb = TOK != 0, TOK2 != 0
    assert layers.Add().compute_mask([a, a], [ma, None]) is None
    np.testing.assert_array_equal(layers.Maximum().compute_mask([a, a], [ma, mb]), ma | mb)
    np.testing.assert_array_equal(layers.Concatenate().compute_mask([a, b], [ma, mb]), ma | mb)
    np.testing.assert_array_equal(layers.Concatenate().compute_mask([a, b], [ma, None]), np.ones_like(ma))
    np.testing.assert_array_equal(layers.Concatenate(axis=1).compute_mask([a, a], [None, mb]),
                                  np.concatenate([np.ones_like(mb), mb], 1))
    got = layers.Concatenate().compute_mask([a, b], [ma, mb])
    assert got.dtype == np.bool_ and got.numpy().dtype == np.bool_
    assert layers.Concatenate().compute_mask([a, b], [None, None]) is None


def test_fit_through_a_merged_mask_trains_and_ignores_padding():
    """Two masked embeddings concatenated into an LSTM: the padded steps of both are skipped, so
    appending more padding changes nothing, and fit lowers the loss."""
    inp, inp2 = keras.Input((None,), dtype="int32"), keras.Input((None,), dtype="int32")
    x = layers.Concatenate()([layers.Embedding(10, 4, mask_zero=True)(inp),
                              layers.Embedding(10, 4, mask_zero=True)(inp2)])
    model = keras.Model([inp, inp2], layers.Dense(1)(layers.LSTM(5)(x)))
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 6, 64)
    t1 = np.where(np.arange(6)[None] < lengths[:, None], rng.integers(1, 10, (64, 6)), 0)
    t2 = np.where(np.arange(6)[None] < lengths[:, None], rng.integers(1, 10, (64, 6)), 0)
    y = (t1.sum(1) % 3).astype(np.float32)[:, None]
    first = model.evaluate([t1, t2], y, verbose=0)
    model.fit([t1, t2], y, epochs=15, batch_size=16, verbose=0)
    assert model.evaluate([t1, t2], y, verbose=0) < first
    pad = np.zeros((64, 3), t1.dtype)
    np.testing.assert_allclose(model.predict([np.hstack([t1, pad]), np.hstack([t2, pad])], verbose=0),
                               model.predict([t1, t2], verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["add_two", "add_unmasked", "concat_two", "concat_unmasked"])
def test_merged_mask_in_a_subclassed_call(kind):
    """Inside a subclassed model's call (eager calls and predict) the merge hands the pooling the
    same mask as in a functional graph."""
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.e1 = layers.Embedding(10, 3, mask_zero=True)
            self.e2 = layers.Embedding(10, 3, mask_zero=True)
            self.e3 = layers.Embedding(10, 3)
            self.merge = layers.Concatenate() if kind.startswith("concat") else layers.Multiply() \
                if kind == "add_two" else layers.Add()
            self.pool = layers.GlobalAveragePooling1D()

        def call(self, inputs):
            a, b = inputs
            other = self.e3(a) if kind.endswith("unmasked") else self.e2(b)
            return self.pool(self.merge([self.e1(a), other]))

    net = Net()
    net.e1(TOK), net.e2(TOK2), net.e3(TOK)
    rng = np.random.default_rng(1)
    tables = [rng.standard_normal((10, 3)).astype(np.float32) for _ in range(3)]
    for e, t in zip((net.e1, net.e2, net.e3), tables):
        e.set_weights([t])
    want = _expected(kind, tables)
    np.testing.assert_allclose(np.asarray(net([TOK, TOK2])), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net.predict([TOK, TOK2], verbose=0), want, rtol=1e-5, atol=1e-6)
