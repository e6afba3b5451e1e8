"""keras.layers.RNN over nested inputs (the "Working with RNNs" guide's NestedCell): a tuple of
sequences in, a cell with two outputs and a state of shape (unit_2, unit_3); values and
gradients against NumPy, masks, return_state, and a saved functional config replayed."""
import numpy as np
import pytest

from corenn import GradientTape, keras, ops
from corenn.keras import layers

U1, U2, U3, I1, I2, I3 = 3, 2, 4, 5, 3, 2


class NestedCell(layers.Layer):
    def __init__(self, unit_1, unit_2, unit_3, **kwargs):
        self.unit_1, self.unit_2, self.unit_3 = unit_1, unit_2, unit_3
        self.state_size = [unit_1, [unit_2, unit_3]]
        self.output_size = [unit_1, [unit_2, unit_3]]
        super().__init__(**kwargs)

    def build(self, input_shapes):
        i1, i2, i3 = input_shapes[0][1], input_shapes[1][1], input_shapes[1][2]
        self.kernel_1 = self.add_weight(shape=(i1, self.unit_1), initializer="uniform", name="kernel_1")
        self.kernel_2_3 = self.add_weight(shape=(i2, i3, self.unit_2, self.unit_3), initializer="uniform",
                                          name="kernel_2_3")

    def call(self, inputs, states):
        input_1, input_2 = inputs
        s1, s2 = states
        output_1 = ops.matmul(input_1, self.kernel_1)
        output_2_3 = ops.einsum("bij,ijkl->bkl", input_2, self.kernel_2_3)
        return (output_1, output_2_3), (s1 + output_1, s2 + output_2_3)

    def get_config(self):
        return {**super().get_config(), "unit_1": self.unit_1, "unit_2": self.unit_2, "unit_3": self.unit_3}


def _data(n=4, t=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, t, I1)).astype(np.float32), rng.normal(size=(n, t, I2, I3)).astype(np.float32)


def _reference(a, b, k1, k23, mask=None):
    """Per step products; the states sum the products of the real steps; a masked step repeats
    the previous output (zeros before the first)."""
    p1 = np.einsum("nti,iu->ntu", a.astype(np.float64), k1)
    p2 = np.einsum("ntij,ijkl->ntkl", b.astype(np.float64), k23)
    if mask is None:
        return p1, p2, p1.sum(1), p2.sum(1)
    o1, o2 = p1.copy(), p2.copy()
    for t in range(a.shape[1]):
        for i in range(a.shape[0]):
            if not mask[i, t]:
                o1[i, t] = o1[i, t - 1] if t else 0.0
                o2[i, t] = o2[i, t - 1] if t else 0.0
    w = mask.astype(np.float64)
    return o1, o2, (p1 * w[:, :, None]).sum(1), (p2 * w[:, :, None, None]).sum(1)


def _model(**rnn_kwargs):
    cell = NestedCell(U1, U2, U3)
    rnn = layers.RNN(cell, **rnn_kwargs)
    in1, in2 = keras.Input((None, I1)), keras.Input((None, I2, I3))
    return keras.Model([in1, in2], rnn((in1, in2))), cell


def test_values_sequences_and_states_against_numpy():
    model, cell = _model(return_sequences=True, return_state=True)
    a, b = _data()
    o1, o2, s1, s2 = model.predict([a, b], verbose=0)
    k1, k23 = cell.get_weights()
    r1, r2, rs1, rs2 = _reference(a, b, k1, k23)
    for got, want in ((o1, r1), (o2, r2), (s1, rs1), (s2, rs2)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert [tuple(t.shape) for t in model.outputs] == [(None, None, U1), (None, None, U2, U3), (None, U1),
                                                      (None, U2, U3)]


def test_gradients_against_numpy():
    model, cell = _model()
    a, b = _data(seed=1)
    w1 = np.random.default_rng(2).normal(size=(4, U1)).astype(np.float32)
    w2 = np.random.default_rng(3).normal(size=(4, U2, U3)).astype(np.float32)
    with GradientTape() as tape:
        o1, o2 = model([a, b])
        loss = ops.sum(o1 * w1) + ops.sum(o2 * w2)
    g1, g23 = tape.gradient(loss, [cell.kernel_1, cell.kernel_2_3])
    # the last output is the last step's product: d/dk1 = x_T^T w1, d/dk23 = sum_n x_T (x) w2
    np.testing.assert_allclose(np.asarray(g1), a[:, -1].astype(np.float64).T @ w1, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(g23), np.einsum("nij,nkl->ijkl", b[:, -1].astype(np.float64), w2),
                               rtol=1e-4, atol=1e-5)


def test_masked_steps_keep_states_and_repeat_outputs():
    cell = NestedCell(U1, U2, U3)
    rnn = layers.RNN(cell, return_sequences=True, return_state=True)
    a, b = _data(seed=4)
    mask = np.ones((4, 6), bool)
    mask[0, 3:] = False
    mask[1, :2] = False
    o1, o2, s1, s2 = rnn((a, b), mask=mask.astype(np.float32))
    k1, k23 = cell.get_weights()
    for got, want in zip((o1, o2, s1, s2), _reference(a, b, k1, k23, mask)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)


def test_initial_state_of_any_shape_and_get_initial_state():
    cell = NestedCell(U1, U2, U3)
    rnn = layers.RNN(cell, return_state=True)
    a, b = _data(seed=5)
    zeros = rnn.get_initial_state(4)
    assert [tuple(np.asarray(z).shape) for z in zeros] == [(4, U1), (4, U2, U3)]
    # the batch size as a 0-d tensor (the NMT tutorial's tf.shape(context)[0])
    import corenn as tf
    zeros = rnn.get_initial_state(tf.shape(np.zeros((3, 7)))[0])
    assert [tuple(np.asarray(z).shape) for z in zeros] == [(3, U1), (3, U2, U3)]
    assert not any(np.asarray(z).any() for z in zeros)
    h1 = np.ones((4, U1), np.float32)
    h2 = np.full((4, U2, U3), 2.0, np.float32)
    _, _, s1, s2 = rnn((a, b), initial_state=[h1, h2])
    k1, k23 = cell.get_weights()
    _, _, rs1, rs2 = _reference(a, b, k1, k23)
    np.testing.assert_allclose(np.asarray(s1), rs1 + 1.0, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(s2), rs2 + 2.0, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"initial state must be \(batch, 2, 4\), got \(None, 2\)"):
        rnn((a, b), initial_state=[h1, np.zeros((4, U2), np.float32)])


def test_fit_and_config_round_trip():
    model, _ = _model()
    a, b = _data(n=16, seed=6)
    model.compile("adam", "mse")
    hist = model.fit([a, b], [np.zeros((16, U1)), np.zeros((16, U2, U3))], epochs=3, batch_size=8, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    clone = keras.Model.from_config(model.get_config(), custom_objects={"NestedCell": NestedCell})
    clone.set_weights(model.get_weights())
    for got, want in zip(clone.predict([a, b], verbose=0), model.predict([a, b], verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
