"""The Keras RNN cell API (issue 13): SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells, RNN.

RNN(cell) against the fused SimpleRNN / LSTM / GRU layers with the same weights (forward and
backward), a cell's step and RNN's stepwise path against float64 references, finite-difference
gradients of initial_state, a user-defined cell (the Keras guide's MinimalRNNCell) trained with
fit, StackedRNNCells, and config / save / load round trips."""
import numpy as np
import pytest

import corenn
from corenn import GradientTape, layers, ops
from reference import numerical_grad, rnn_cell_step, rnn_forward, rnn_sequence

# name: (cell class, fused layer class, reference cell name, extra arguments)
KINDS = {
    "lstm": (layers.LSTMCell, layers.LSTM, "lstm", {}),
    "gru": (layers.GRUCell, layers.GRU, "gru", {}),
    "gru_reset_before": (layers.GRUCell, layers.GRU, "gru", {"reset_after": False}),
    "simple_rnn": (layers.SimpleRNNCell, layers.SimpleRNN, "simple_rnn", {}),
}
N, T, F, U = 3, 5, 4, 6


def _random_weights(rng, layer):
    return [rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in layer.get_weights()]


def _pair(rng, kind, **kw):
    """(RNN(cell), the fused layer) built with the same random weights."""
    cell_cls, layer_cls, _, extra = KINDS[kind]
    fused = layer_cls(U, **extra, **kw)
    fused.build((None, T, F))
    rnn = layers.RNN(cell_cls(U, **extra), **kw)
    rnn.build((None, T, F))
    weights = _random_weights(rng, fused)
    fused.set_weights(weights)
    rnn.set_weights(weights)
    return rnn, fused, weights


def _run(layer, x, dys, initial_state=None, mask=None):
    """Outputs and the gradients (x, each initial state, each trainable weight) for output
    gradients ``dys`` (one per output; None for an output that gets none)."""
    xt = ops.convert_to_tensor(x)
    states = [ops.convert_to_tensor(s) for s in initial_state or []]
    with GradientTape() as tape:
        tape.watch([xt] + states)
        kwargs = {"initial_state": states} if states else {}
        if mask is not None:
            kwargs["mask"] = mask
        out = layer(xt, **kwargs)
    outs = out if isinstance(out, list) else [out]
    pairs = [(o, d) for o, d in zip(outs, dys) if d is not None]
    grads = tape.gradient([o for o, _ in pairs], [xt] + states + layer.trainable_weights,
                          output_gradients=[ops.convert_to_tensor(d) for _, d in pairs])
    return [np.asarray(o) for o in outs], [None if g is None else np.asarray(g) for g in grads]


def _output_shapes(rnn, return_sequences):
    y = (N, T, U) if return_sequences else (N, U)
    return [y] + [(N, U)] * len(rnn.cell.state_size if isinstance(rnn.cell.state_size, list) else [U])


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_rnn_of_cell_matches_fused_layer(rng, kind, return_sequences, go_backwards):
    rnn, fused, weights = _pair(rng, kind, return_sequences=return_sequences, go_backwards=go_backwards)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    dy = rng.standard_normal((N, T, U) if return_sequences else (N, U)).astype(np.float32)
    (y_rnn,), g_rnn = _run(rnn, x, [dy])
    (y_ref,), g_ref = _run(fused, x, [dy])
    np.testing.assert_allclose(y_rnn, y_ref, rtol=1e-5, atol=1e-6)
    for a, b in zip(g_rnn, g_ref):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # and both against the float64 reference
    _, _, ref_cell, extra = KINDS[kind]
    y64, *_ = rnn_forward(ref_cell, x, *weights, return_sequences=return_sequences,
                          go_backwards=go_backwards, reset_after=extra.get("reset_after", True))
    np.testing.assert_allclose(y_rnn, y64, rtol=1e-4, atol=1e-5)
    assert np.abs(g_rnn[0]).sum() > 0


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_return_state_matches_fused_layer_and_carries_gradients(rng, kind):
    rnn, fused, weights = _pair(rng, kind, return_sequences=True, return_state=True)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    shapes = _output_shapes(rnn, True)
    dys = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    outs_rnn, g_rnn = _run(rnn, x, dys)
    outs_ref = [np.asarray(o) for o in fused(x)]
    assert len(outs_rnn) == len(outs_ref) == len(shapes)
    for a, b in zip(outs_rnn, outs_ref):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # the gradient through the final states: finite differences of the float64 reference
    _, _, ref_cell, extra = KINDS[kind]
    ra = extra.get("reset_after", True)

    def loss(x64):
        step = lambda xt, s: rnn_cell_step(ref_cell, xt, s, *weights, reset_after=ra)  # noqa: E731
        zeros = [np.zeros((N, U))] * (len(shapes) - 1)
        y, states = rnn_sequence(step, x64, zeros, return_sequences=True)
        return sum(float((o * d).sum()) for o, d in zip([y] + states, dys))
    np.testing.assert_allclose(g_rnn[0], numerical_grad(loss, x), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("go_backwards", [False, True])
def test_initial_state_matches_reference_with_finite_difference_gradients(rng, kind, go_backwards):
    rnn, _, weights = _pair(rng, kind, return_sequences=True, go_backwards=go_backwards)
    _, _, ref_cell, extra = KINDS[kind]
    ra = extra.get("reset_after", True)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    n_states = 2 if kind == "lstm" else 1
    h0 = [rng.standard_normal((N, U)).astype(np.float32) for _ in range(n_states)]
    dy = rng.standard_normal((N, T, U)).astype(np.float32)
    (y,), grads = _run(rnn, x, [dy], initial_state=h0)

    def forward(x64, states):
        step = lambda xt, s: rnn_cell_step(ref_cell, xt, s, *weights, reset_after=ra)  # noqa: E731
        return rnn_sequence(step, x64, states, return_sequences=True, go_backwards=go_backwards)[0]
    np.testing.assert_allclose(y, forward(x, h0), rtol=1e-4, atol=1e-5)
    for k in range(n_states):
        def loss(s, k=k):
            states = list(h0)
            states[k] = s
            return float((forward(x, states) * dy).sum())
        np.testing.assert_allclose(grads[1 + k], numerical_grad(loss, h0[k]), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(grads[0], numerical_grad(lambda v: float((forward(v, h0) * dy).sum()), x),
                               rtol=1e-3, atol=1e-4)
    # with zero initial states the stepwise path equals the fused one
    (y_zero,), _ = _run(rnn, x, [dy], initial_state=[np.zeros((N, U), np.float32)] * n_states)
    (y_fused,), _ = _run(rnn, x, [dy])
    np.testing.assert_allclose(y_zero, y_fused, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_mask_skips_steps_as_the_fused_layers(rng, kind):
    rnn, fused, weights = _pair(rng, kind, return_sequences=True)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    mask = np.ones((N, T), np.float32)
    mask[0, 3:] = 0
    mask[1, :2] = 0
    dy = rng.standard_normal((N, T, U)).astype(np.float32)
    (y_rnn,), g_rnn = _run(rnn, x, [dy], mask=mask)
    (y_ref,), g_ref = _run(fused, x, [dy], mask=mask)
    np.testing.assert_allclose(y_rnn, y_ref, rtol=1e-5, atol=1e-6)
    for a, b in zip(g_rnn, g_ref):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # the stepwise path (initial_state) masks the same way
    _, _, ref_cell, extra = KINDS[kind]
    n_states = 2 if kind == "lstm" else 1
    h0 = [rng.standard_normal((N, U)).astype(np.float32) for _ in range(n_states)]
    (y_step,), _ = _run(rnn, x, [dy], initial_state=h0, mask=mask)
    step = lambda xt, s: rnn_cell_step(ref_cell, xt, s, *weights, reset_after=extra.get("reset_after", True))  # noqa: E731
    y64, _ = rnn_sequence(step, x, h0, return_sequences=True, mask=mask)
    np.testing.assert_allclose(y_step, y64, rtol=1e-4, atol=1e-5)


def test_mask_from_embedding_in_a_model(rng):
    tokens = np.array([[3, 1, 0, 0], [2, 2, 5, 0]])
    inp = corenn.Input((4,), dtype="int32")
    emb = layers.Embedding(8, F, mask_zero=True)
    y = layers.RNN(layers.GRUCell(U))(emb(inp))
    model = corenn.Model(inp, y)
    ref = corenn.Model(inp, layers.GRU(U)(emb(inp)))
    ref.layers[-1].set_weights(model.layers[-1].get_weights())
    out = np.asarray(model.predict(tokens, verbose=0))
    np.testing.assert_allclose(out, np.asarray(ref.predict(tokens, verbose=0)), rtol=1e-5, atol=1e-6)
    # the float64 reference skips the padded steps
    embedded = emb.get_weights()[0][tokens]
    y64, *_ = rnn_forward("gru", embedded, *model.layers[-1].get_weights(), mask=tokens != 0)
    np.testing.assert_allclose(out, y64, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_cell_alone_is_one_reference_step(rng, kind):
    cell_cls, _, ref_cell, extra = KINDS[kind]
    cell = cell_cls(U, **extra)
    x = rng.standard_normal((N, F)).astype(np.float32)
    n_states = 2 if kind == "lstm" else 1
    states = [rng.standard_normal((N, U)).astype(np.float32) for _ in range(n_states)]
    out, new = cell(x, states)
    weights = _random_weights(rng, cell)
    cell.set_weights(weights)
    out, new = cell(x, states)
    assert isinstance(new, list) and len(new) == n_states
    ref_out, ref_new = rnn_cell_step(ref_cell, x, states, *weights, reset_after=extra.get("reset_after", True))
    np.testing.assert_allclose(np.asarray(out), ref_out, rtol=1e-5, atol=1e-6)
    for a, b in zip(new, ref_new):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-5, atol=1e-6)
    # zero states: the first step of the fused sequence reference
    out0, _ = cell(x, [np.zeros((N, U), np.float32)] * n_states)
    y64, *_ = rnn_forward(ref_cell, x[:, None], *weights, reset_after=extra.get("reset_after", True))
    np.testing.assert_allclose(np.asarray(out0), y64, rtol=1e-5, atol=1e-6)
    # under a tape the step is differentiable: the state gradient matches finite differences
    h = ops.convert_to_tensor(states[0])
    with GradientTape() as tape:
        tape.watch(h)
        o, _ = cell(x, [h] + states[1:])
        total = ops.sum(o)
    g = np.asarray(tape.gradient(total, h))
    fd = numerical_grad(lambda s: float(rnn_cell_step(ref_cell, x, [s] + states[1:], *weights,
                                                      reset_after=extra.get("reset_after", True))[0].sum()),
                        states[0])
    np.testing.assert_allclose(g, fd, rtol=1e-3, atol=1e-4)


def test_cell_rejects_states_of_the_wrong_shape(rng):
    cell = layers.LSTMCell(U)
    x = rng.standard_normal((N, F)).astype(np.float32)
    with pytest.raises(ValueError, match=r"LSTMCell .*states must be 2 tensor"):
        cell(x, [np.zeros((N, U), np.float32)])
    with pytest.raises(ValueError, match=r"LSTMCell .*\(3, 6\)"):
        cell(x, [np.zeros((N, U + 1), np.float32)] * 2)


def test_rnn_rejects_a_bad_initial_state(rng):
    rnn = layers.RNN(layers.GRUCell(U))
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    with pytest.raises(ValueError, match="initial_state must hold 1"):
        rnn(x, initial_state=[np.zeros((N, U), np.float32)] * 2)
    with pytest.raises(ValueError, match=r"initial state must be \(batch, 6\)"):
        rnn(x, initial_state=[np.zeros((N, U + 2), np.float32)])
    with pytest.raises(ValueError, match="cell must be a Layer with a state_size"):
        layers.RNN(layers.Dense(3))


class MinimalRNNCell(layers.Layer):
    """The Keras guide's custom cell ("Working with RNNs", RNN layers and RNN cells)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform",
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                name="recurrent_kernel")
        self.built = True

    def call(self, inputs, states):
        prev_output = states[0]
        h = ops.matmul(inputs, self.kernel)
        output = h + ops.matmul(prev_output, self.recurrent_kernel)
        return output, [output]

    def get_config(self):
        return dict(super().get_config(), units=self.units)


def test_custom_cell_matches_numpy_and_trains_with_fit(rng):
    x = rng.standard_normal((32, T, F)).astype(np.float32)
    target = np.tanh(x.sum(axis=1)[:, :2])
    cell = MinimalRNNCell(U)
    model = corenn.Sequential([corenn.Input((T, F)), layers.RNN(cell), layers.Dense(2)])
    w, r = (np.array(v, copy=True) for v in cell.weights)
    step = lambda xt, s: (xt @ w + s[0] @ r, [xt @ w + s[0] @ r])  # noqa: E731
    y64, _ = rnn_sequence(step, x, [np.zeros((32, U))])
    np.testing.assert_allclose(np.asarray(model.layers[0](x)), y64, rtol=1e-4, atol=1e-5)
    # gradients of the weights: finite differences of the float64 reference
    dy = rng.standard_normal((4, U)).astype(np.float32)
    _, grads = _run(model.layers[0], x[:4], [dy])

    def loss_w(w64):
        st = lambda xt, s: (xt @ w64 + s[0] @ r, [xt @ w64 + s[0] @ r])  # noqa: E731
        return float((rnn_sequence(st, x[:4], [np.zeros((4, U))])[0] * dy).sum())
    np.testing.assert_allclose(grads[1], numerical_grad(loss_w, w), rtol=1e-3, atol=1e-4)
    model.compile(optimizer=corenn.optimizers.Adam(0.01), loss="mse")
    history = model.fit(x, target, epochs=15, batch_size=8, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0]
    assert not np.allclose(np.asarray(cell.kernel), w)


def test_stacked_cells_match_stacked_layers(rng):
    stacked = layers.RNN(layers.StackedRNNCells([layers.LSTMCell(U), layers.GRUCell(3)]),
                         return_sequences=True, return_state=True)
    stacked.build((None, T, F))
    lstm, gru = layers.LSTM(U, return_sequences=True), layers.GRU(3, return_sequences=True)
    lstm.build((None, T, F))
    gru.build((None, T, U))
    weights = _random_weights(rng, stacked)
    stacked.set_weights(weights)
    lstm.set_weights(weights[:3])
    gru.set_weights(weights[3:])
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    dy = rng.standard_normal((N, T, 3)).astype(np.float32)
    outs, g = _run(stacked, x, [dy, None, None, None])
    assert [o.shape for o in outs] == [(N, T, 3), (N, U), (N, U), (N, 3)]
    with GradientTape() as tape:
        xt = ops.convert_to_tensor(x)
        tape.watch(xt)
        y = gru(lstm(xt))
    ref_g = tape.gradient(y, [xt] + lstm.trainable_weights + gru.trainable_weights,
                          output_gradients=ops.convert_to_tensor(dy))
    np.testing.assert_allclose(outs[0], np.asarray(y), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outs[3], np.asarray(y)[:, -1], rtol=1e-5, atol=1e-6)
    for a, b in zip(g, ref_g):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-5)
    # a list of cells is a StackedRNNCells
    assert isinstance(layers.RNN([layers.GRUCell(2), layers.GRUCell(2)]).cell, layers.StackedRNNCells)


def test_functional_initial_state_and_return_state(rng):
    """An encoder's final states start a decoder (the Keras seq2seq pattern), trained by fit."""
    enc_in, dec_in = corenn.Input((T, F)), corenn.Input((T, F))
    _, h, c = layers.RNN(layers.LSTMCell(U), return_state=True)(enc_in)
    dec = layers.RNN(layers.LSTMCell(U), return_sequences=True)(dec_in, initial_state=[h, c])
    model = corenn.Model([enc_in, dec_in], layers.Dense(1)(dec))
    xe = rng.standard_normal((16, T, F)).astype(np.float32)
    xd = rng.standard_normal((16, T, F)).astype(np.float32)
    target = xe.mean(axis=(1, 2))[:, None, None] * np.ones((16, T, 1), np.float32)
    model.compile(optimizer=corenn.optimizers.Adam(0.01), loss="mse")
    enc_w0 = np.asarray(model.layers[1].get_weights()[0]).copy() if model.layers[1].weights else None
    history = model.fit([xe, xd], target, epochs=10, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    encoder = next(layer for layer in model.layers if isinstance(layer, layers.RNN) and layer.return_state)
    assert enc_w0 is None or not np.allclose(encoder.get_weights()[0], enc_w0)


def test_save_and_load_round_trip(rng, tmp_path):
    model = corenn.Sequential([corenn.Input((T, F)),
                               layers.RNN(layers.LSTMCell(U, dropout=0.1), return_sequences=True),
                               layers.RNN([layers.GRUCell(4, reset_after=False), layers.SimpleRNNCell(3)]),
                               layers.Dense(2)])
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    before = np.asarray(model.predict(x, verbose=0))
    path = tmp_path / "cells.keras"
    model.save(path)
    loaded = corenn.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)), before, rtol=1e-6, atol=1e-6)
    rnn = loaded.layers[1]
    assert isinstance(rnn.cell, layers.StackedRNNCells)
    assert rnn.cell.cells[0].reset_after is False and rnn.cell.cells[1].units == 3
    assert loaded.layers[0].cell.dropout == 0.1


def test_custom_cell_loads_with_custom_objects(rng, tmp_path):
    model = corenn.Sequential([corenn.Input((T, F)), layers.RNN(MinimalRNNCell(U))])
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    path = tmp_path / "custom.keras"
    model.save(path)
    loaded = corenn.models.load_model(path, custom_objects={"MinimalRNNCell": MinimalRNNCell})
    np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)),
                               np.asarray(model.predict(x, verbose=0)), rtol=1e-6, atol=1e-6)


def test_matches_torch_lstm_when_installed(rng):
    torch = pytest.importorskip("torch")
    rnn = layers.RNN(layers.LSTMCell(U), return_sequences=True)
    rnn.build((None, T, F))
    w, r, b = _random_weights(rng, rnn)
    rnn.set_weights([w, r, b])
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    h0 = rng.standard_normal((N, U)).astype(np.float32)
    c0 = rng.standard_normal((N, U)).astype(np.float32)
    dy = rng.standard_normal((N, T, U)).astype(np.float32)
    (y,), grads = _run(rnn, x, [dy], initial_state=[h0, c0])
    ref = torch.nn.LSTM(F, U, batch_first=True, dtype=torch.float64)
    with torch.no_grad():  # same gate order i, f, g(c), o; torch keeps weights transposed
        ref.weight_ih_l0.copy_(torch.from_numpy(w.T.astype(np.float64)))
        ref.weight_hh_l0.copy_(torch.from_numpy(r.T.astype(np.float64)))
        ref.bias_ih_l0.copy_(torch.from_numpy(b.astype(np.float64)))
        ref.bias_hh_l0.zero_()
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    th = torch.tensor(h0[None], dtype=torch.float64, requires_grad=True)
    tc = torch.tensor(c0[None], dtype=torch.float64, requires_grad=True)
    ty, _ = ref(tx, (th, tc))
    ty.backward(torch.from_numpy(dy.astype(np.float64)))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grads[0], tx.grad.numpy(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(grads[1], th.grad.numpy()[0], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(grads[2], tc.grad.numpy()[0], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_stepwise_path_equals_the_fused_kernels(rng, kind, monkeypatch):
    """The per-step tape path (user cells, stacks) and the fused kernels agree on everything:
    outputs, final states and the gradients of inputs, initial states and weights, with a mask."""
    rnn, _, _ = _pair(rng, kind, return_sequences=True, return_state=True, go_backwards=True)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    n_states = 2 if kind == "lstm" else 1
    h0 = [rng.standard_normal((N, U)).astype(np.float32) for _ in range(n_states)]
    mask = np.ones((N, T), np.float32)
    mask[2, :3] = 0   # read last (go_backwards)
    mask[1, 3:] = 0   # read first: outputs zero there (Keras), states stay h0
    mask[0, :] = 0    # all masked: the final states are the initial ones
    dys = [rng.standard_normal(s).astype(np.float32) for s in _output_shapes(rnn, True)]
    fused_outs, fused_grads = _run(rnn, x, dys, initial_state=h0, mask=mask)
    monkeypatch.setattr(layers.RNN, "_is_fused", lambda self: False)
    step_outs, step_grads = _run(rnn, x, dys, initial_state=h0, mask=mask)
    for a, b in zip(fused_outs, step_outs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert len(fused_grads) == len(step_grads) == 1 + n_states + len(rnn.trainable_weights)
    for a, b in zip(fused_grads, step_grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_kernel_initial_state_arguments_are_checked(rng):
    from corenn import kernels
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    w = rng.standard_normal((F, 3 * U)).astype(np.float32)
    r = rng.standard_normal((U, 3 * U)).astype(np.float32)
    with pytest.raises(ValueError, match=r"gru_forward.*h0"):
        kernels.rnn_forward("gru", x, w, r, h0=np.zeros((N, U + 1), np.float32))
    with pytest.raises(ValueError, match=r"gru_forward: c0 is for LSTM only"):
        kernels.rnn_forward("gru", x, w, r, h0=np.zeros((N, U), np.float32), c0=np.zeros((N, U), np.float32))
    y, _, _, stash = kernels.rnn_forward("gru", x, w, r, return_sequences=True)
    with pytest.raises(ValueError, match=r"gru_backward: dh0 .*needs h0"):
        kernels.rnn_backward("gru", y, x, w, r, stash, dh0=kernels.zeros((N, U)))
    with pytest.raises(ValueError, match=r"gru_backward: dc_n is for LSTM only"):
        kernels.rnn_backward("gru", y, x, w, r, stash, dc_n=kernels.zeros((N, U)))


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_fused_initial_state_on_every_isa(rng, isa, kind, activation):
    """The kernels' h0 / c0 and dh0 / dc0 on each micro-kernel ISA (tanh/sigmoid take the AVX2
    cell math, relu the portable one) against the float64 reference and finite differences."""
    cell_cls, _, ref_cell, extra = KINDS[kind]
    rnn = layers.RNN(cell_cls(U, activation=activation, **extra), return_sequences=True)
    rnn.build((None, T, F))
    weights = _random_weights(rng, rnn)
    rnn.set_weights(weights)
    ra = extra.get("reset_after", True)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    n_states = 2 if kind == "lstm" else 1
    h0 = [rng.standard_normal((N, U)).astype(np.float32) for _ in range(n_states)]
    dy = rng.standard_normal((N, T, U)).astype(np.float32)
    (y,), grads = _run(rnn, x, [dy], initial_state=h0)

    def forward(states):
        step = lambda xt, s: rnn_cell_step(ref_cell, xt, s, *weights, activation=activation,  # noqa: E731
                                           reset_after=ra)
        return rnn_sequence(step, x, states, return_sequences=True)[0]
    np.testing.assert_allclose(y, forward(h0), rtol=1e-4, atol=1e-4)
    for k in range(n_states):
        def loss(s, k=k):
            states = list(h0)
            states[k] = s
            return float((forward(states) * dy).sum())
        np.testing.assert_allclose(grads[1 + k], numerical_grad(loss, h0[k]), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("make_cell", [lambda: layers.StackedRNNCells([layers.LSTMCell(3), layers.GRUCell(2)]),
                                       lambda: layers.LSTMCell(3), lambda: MinimalRNNCell(3)],
                         ids=["stacked", "lstm", "custom"])
def test_two_calls_in_one_tape_sum_their_weight_gradients(rng, make_cell):
    rnn = layers.RNN(make_cell())
    x = rng.standard_normal((N, T, F)).astype(np.float32)

    def grads(*inputs):
        with GradientTape() as tape:
            total = sum(ops.sum(rnn(v)) for v in inputs)
        return [np.asarray(g) for g in tape.gradient(total, rnn.trainable_weights)]
    both, first, second = grads(x, 2 * x), grads(x), grads(2 * x)
    assert len(both) == len(rnn.cell.weights) > 0
    for g, a, b in zip(both, first, second):
        np.testing.assert_allclose(g, a + b, rtol=1e-5, atol=1e-5)
        assert np.abs(a - b).max() > 1e-4


def test_abstract_rnn_cell_subclass_runs_in_rnn_as_tf_keras_documents():
    """tf.keras 2's AbstractRNNCell example (a minimal cell: h_t = x_t K + h_{t-1} U) inside RNN,
    against the same recurrence in NumPy; an incomplete subclass names what it lacks."""
    from corenn import keras as _keras

    class MinimalRNNCell(_keras.layers.AbstractRNNCell):
        def __init__(self, units, **kwargs):
            self.units = units
            super().__init__(**kwargs)

        @property
        def state_size(self):
            return self.units

        @property
        def output_size(self):
            return self.units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                    name="recurrent_kernel")
            self.built = True

        def call(self, inputs, states):
            output = _keras.ops.matmul(inputs, self.kernel) + _keras.ops.matmul(states[0], self.recurrent_kernel)
            return output, output

    cell = MinimalRNNCell(4)
    x = np.random.default_rng(1).random((3, 5, 2)).astype(np.float32)
    y = np.asarray(_keras.layers.RNN(cell, return_sequences=True)(x))
    k, u = np.asarray(cell.kernel, np.float64), np.asarray(cell.recurrent_kernel, np.float64)
    h = np.zeros((3, 4))
    for t in range(5):
        h = x[:, t] @ k + h @ u
        np.testing.assert_allclose(y[:, t], h, rtol=1e-5, atol=1e-6)
    assert [tuple(s.shape) for s in cell.get_initial_state(batch_size=3)] == [(3, 4)]

    class NoState(_keras.layers.AbstractRNNCell):
        pass
    with pytest.raises(NotImplementedError, match="state_size"):
        NoState().state_size
