"""A Keras layer whose compute_mask returns one mask per output works in a functional model as it
does eagerly (Keras 3): each output carries its own mask to the layers that read it, checked
against the float64 reference RNN loop with those masks."""
import numpy as np
import pytest

from corenn import keras, ops
from corenn.keras import layers
from tests import reference as ref


class TwoWays(layers.Layer):
    """Two scaled copies of x; the first masks all-zero steps, the second the steps from 3 on
    (None for the second when ``second=False``)."""

    def __init__(self, second=True, **kwargs):
        super().__init__(**kwargs)
        self.second = second

    def call(self, x):
        return x * 2.0, x * 3.0

    def compute_mask(self, inputs, mask=None):
        nonzero = ops.not_equal(ops.sum(ops.abs(inputs), axis=-1), 0)
        early = np.arange(inputs.shape[1])[None, :] < 3
        first_steps = ops.convert_to_tensor(np.broadcast_to(early, tuple(inputs.shape[:2])).astype("float32"))
        return [nonzero, first_steps if self.second else None]


def _data():
    x = np.random.default_rng(0).normal(size=(3, 5, 2)).astype(np.float32)
    x[0, 2:] = 0.0
    x[2, 4:] = 0.0
    return x


def _reference(cell, weights, x, mask):
    k, rk, b = weights
    step = lambda xt, st: ref.rnn_cell_step(cell, xt, st, k, rk, b)  # noqa: E731
    states = [np.zeros((x.shape[0], rk.shape[0]))] * (2 if cell == "lstm" else 1)
    y, _ = ref.rnn_sequence(step, x, states, mask=mask)
    return y


def test_each_output_carries_its_own_mask_in_a_graph():
    x = _data()
    inp = keras.Input((5, 2))
    a, b = TwoWays()(inp)
    assert a._keras_mask is not None and b._keras_mask is not None and a._keras_mask is not b._keras_mask
    lstm, gru = layers.LSTM(3), layers.GRU(4)
    model = keras.Model(inp, [lstm(a), gru(b)])
    ya, yb = (np.asarray(v) for v in model.predict(x, verbose=0))
    mask_a = (np.abs(x).sum(-1) != 0).astype(np.float64)
    mask_b = np.broadcast_to(np.arange(5) < 3, (3, 5)).astype(np.float64)
    np.testing.assert_allclose(ya, _reference("lstm", lstm.get_weights(), 2.0 * x, mask_a), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(yb, _reference("gru", gru.get_weights(), 3.0 * x, mask_b), rtol=1e-4, atol=1e-5)
    # the eager call of the same layers agrees with the graph
    ea, eb = TwoWays()(x)
    np.testing.assert_allclose(np.asarray(lstm(ea)), ya, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(gru(eb)), yb, rtol=1e-5, atol=1e-6)


def test_an_output_without_a_mask_and_training_through_the_masks():
    x = _data()
    inp = keras.Input((5, 2))
    a, b = TwoWays(second=False)(inp)
    assert a._keras_mask is not None and b._keras_mask is None
    lstm = layers.LSTM(3)
    pooled = layers.GlobalAveragePooling1D()(b)
    model = keras.Model(inp, layers.Concatenate()([lstm(a), pooled]))
    y = np.asarray(model.predict(x, verbose=0))
    mask_a = (np.abs(x).sum(-1) != 0).astype(np.float64)
    np.testing.assert_allclose(y[:, :3], _reference("lstm", lstm.get_weights(), 2.0 * x, mask_a), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(y[:, 3:], (3.0 * x.astype(np.float64)).mean(axis=1), rtol=1e-5, atol=1e-6)
    model.compile("adam", "mse")
    target = np.ones((3, 5), np.float32)
    hist = model.fit(x, target, epochs=30, verbose=0, batch_size=3)
    assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_wrong_number_of_masks_is_named():
    class Bad(TwoWays):
        def compute_mask(self, inputs, mask=None):
            return [ops.not_equal(ops.sum(inputs, axis=-1), 0)] * 3
    with pytest.raises(ValueError, match="compute_mask returned 3 masks for 2 output"):
        Bad()(keras.Input((5, 2)))
