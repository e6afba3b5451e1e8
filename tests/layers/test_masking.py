"""Keras masking (Embedding(mask_zero), Masking, masks through RNNs and GlobalAveragePooling1D,
in Sequential, functional models and eager calls) and GRU(reset_after=False): the recurrent
kernels against the float64 per-step reference (both ISAs), the reference against finite
differences and against a reference that drops the masked steps from each sequence."""
import numpy as np
import pytest

import corenn
import reference as ref
from corenn import kernels, layers

GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}
CASES = [("simple_rnn", True), ("lstm", True), ("gru", True), ("gru", False)]


def make(rng, cell, n, t, f, u, reset_after=True):
    g = GATES[cell]
    x = rng.standard_normal((n, t, f)).astype(np.float32)
    w = (rng.standard_normal((f, g * u)) * 0.4).astype(np.float32)
    r = (rng.standard_normal((u, g * u)) * 0.4).astype(np.float32)
    bshape = (2, g * u) if cell == "gru" and reset_after else (g * u,)
    b = (rng.standard_normal(bshape) * 0.5).astype(np.float32)
    return x, w, r, b


def step_mask(rng, n, t):
    m = (rng.random((n, t)) > 0.35).astype(np.float32)
    m[0] = 0          # a sample with no real step: h stays 0
    m[1] = 1
    m[2, 0] = 0       # a masked first step
    m[3, -1] = 0      # a masked last step
    return m


def close(got, want, tol=2e-5):
    got, want = np.asarray(got, np.float64), np.asarray(want)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=tol * max(1.0, np.abs(want).max()))


# ---- kernels ----------------------------------------------------------------------------------

# unmasked reset_after=True runs are tests/kernels/test_rnn.py's
@pytest.mark.parametrize("cell,reset_after,masked", [(c, ra, m) for c, ra in CASES for m in (False, True)
                                                     if m or not ra])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_kernels_match_reference(isa, rng, cell, reset_after, return_sequences, go_backwards, masked):
    x, w, r, b = make(rng, cell, 21, 6, 5, 11, reset_after)   # 21 rows: blocks and an edge
    m = step_mask(rng, 21, 6) if masked else None
    y, h_n, c_n, stash = kernels.rnn_forward(cell, x, w, r, b, return_sequences=return_sequences,
                                             go_backwards=go_backwards, reset_after=reset_after, mask=m)
    ry, rh, rc, _ = ref.rnn_forward(cell, x, w, r, b, return_sequences, go_backwards, mask=m,
                                    reset_after=reset_after)
    close(y, ry)
    close(h_n, rh)
    if cell == "lstm":
        close(c_n, rc)
    dy = rng.standard_normal(ry.shape).astype(np.float32)
    got = kernels.rnn_backward(cell, dy, x, w, r, stash, go_backwards=go_backwards,
                               reset_after=reset_after, mask=m)
    want = ref.rnn_backward(cell, dy, x, w, r, b, go_backwards, mask=m, reset_after=reset_after)
    for g_, w_ in zip(got, want):
        close(g_, w_)
    if masked:   # a skipped step gets no input gradient
        assert np.all(np.asarray(got[0])[m == 0] == 0.0)


@pytest.mark.parametrize("cell,reset_after", CASES)
def test_reference_skips_masked_steps(rng, cell, reset_after):
    """The masked reference equals the unmasked one run on each sample's real steps only."""
    x, w, r, b = make(rng, cell, 5, 7, 3, 4, reset_after)
    m = step_mask(rng, 5, 7)
    _, h, _, _ = ref.rnn_forward(cell, x, w, r, b, mask=m, reset_after=reset_after)
    for i in range(5):
        real = x[i:i + 1, m[i] != 0]
        want = np.zeros(4) if real.shape[1] == 0 else \
            ref.rnn_forward(cell, real, w, r, b, reset_after=reset_after)[1][0]
        np.testing.assert_allclose(h[i], want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell,reset_after", [("lstm", True), ("gru", False), ("gru", True)])
def test_reference_backward_matches_finite_differences(rng, cell, reset_after):
    x, w, r, b = (a.astype(np.float64) for a in make(rng, cell, 3, 4, 2, 3, reset_after))
    m = np.array([[1, 0, 1, 1], [0, 1, 1, 0], [1, 1, 1, 1]], np.float64)
    dy = rng.standard_normal((3, 4, 3))

    def loss(which):
        def f(v):
            args = dict(x=x, w=w, r=r, b=b)
            args[which] = v
            y = ref.rnn_forward(cell, args["x"], args["w"], args["r"], args["b"], True, mask=m,
                                reset_after=reset_after)[0]
            return float((y * dy).sum())
        return f
    dx, dw, dr, db = ref.rnn_backward(cell, dy, x, w, r, b, mask=m, reset_after=reset_after)
    for name, v, g in (("x", x, dx), ("w", w, dw), ("r", r, dr), ("b", b, db)):
        np.testing.assert_allclose(ref.numerical_grad(loss(name), v), g, rtol=1e-5, atol=1e-7)


def test_kernel_mask_errors_name_the_op(rng):
    x, w, r, b = make(rng, "lstm", 2, 3, 2, 2)
    with pytest.raises(ValueError, match="lstm_forward.*mask"):
        kernels.rnn_forward("lstm", x, w, r, b, mask=np.ones((2, 4), np.float32))
    x, w, r, b = make(rng, "gru", 2, 3, 2, 2)
    with pytest.raises(ValueError, match="gru_forward.*bias"):
        kernels.rnn_forward("gru", x, w, r, b, reset_after=False)


# ---- layers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("cls,cell", [(layers.SimpleRNN, "simple_rnn"), (layers.LSTM, "lstm"),
                                      (layers.GRU, "gru")])
def test_mask_zero_through_rnn_in_sequential_and_functional(rng, cls, cell):
    ids = rng.integers(1, 9, (6, 7))
    ids[0, 3:] = 0
    ids[4, :] = 0
    ids[5, ::2] = 0
    mask = (ids != 0).astype(np.float32)
    seq = corenn.Sequential([layers.Input(shape=(7,), dtype="int32"), layers.Embedding(9, 4, mask_zero=True),
                             cls(5, return_sequences=True), cls(3)])
    inp = layers.Input(shape=(7,), dtype="int32")
    emb, r1, r2 = layers.Embedding(9, 4, mask_zero=True), cls(5, return_sequences=True), cls(3)
    fun = corenn.Model(inp, r2(r1(emb(inp))))
    fun.set_weights(seq.get_weights())
    x = np.asarray(seq.layers[0](ids))
    ws = seq.get_weights()
    y1 = ref.rnn_forward(cell, x, ws[1], ws[2], ws[3], True, mask=mask)[0]
    want = ref.rnn_forward(cell, y1, ws[4], ws[5], ws[6], mask=mask)[0]
    close(seq.predict(ids, verbose=0), want)
    close(fun.predict(ids, verbose=0), want)
    # eager calls with mask=
    close(r2(r1(x, mask=mask), mask=mask), want)


def test_masked_training_step_matches_reference_gradients(rng):
    ids = rng.integers(1, 9, (4, 5))
    ids[1, 2:] = 0
    mask = (ids != 0).astype(np.float32)
    inp = layers.Input(shape=(5,), dtype="int32")
    emb, lstm = layers.Embedding(9, 3, mask_zero=True), layers.LSTM(4, return_sequences=True)
    pool = layers.GlobalAveragePooling1D()
    model = corenn.Model(inp, pool(lstm(emb(inp))))
    with corenn.GradientTape() as tape:
        y = model(ids)
    dy = rng.standard_normal(tuple(y.shape)).astype(np.float32)
    grads = tape.gradient(y, lstm.trainable_weights, output_gradients=corenn.Tensor.from_numpy(dy))
    x = np.asarray(emb(ids))
    w = lstm.get_weights()
    seq = ref.rnn_forward("lstm", x, *w, True, mask=mask)[0]
    wts = mask / mask.sum(1, keepdims=True)
    close(y, (seq * wts[:, :, None]).sum(1))
    dseq = wts[:, :, None] * dy[:, None, :]
    want = ref.rnn_backward("lstm", dseq, x, *w, mask=mask)[1:]
    for g, w_ in zip(grads, want):
        close(g, w_)


def test_global_average_pooling_1d_with_mask(rng):
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    m = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], np.float32)
    pool = layers.GlobalAveragePooling1D()
    xt = corenn.Tensor.from_numpy(x)
    with corenn.GradientTape() as tape:
        tape.watch(xt)
        y = pool(xt, mask=m)
    dy = rng.standard_normal((3, 4)).astype(np.float32)
    (dx,) = tape.gradient(y, [xt], output_gradients=corenn.Tensor.from_numpy(dy))
    cnt = np.maximum(m.sum(1, keepdims=True), 1)
    close(y, (x * m[:, :, None]).sum(1) / cnt)
    close(dx, m[:, :, None] * dy[:, None, :] / cnt[:, :, None])
    close(pool(x), x.mean(1))   # without a mask: the plain mean


def test_masking_layer(rng):
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    x[0, 3:] = -1.0
    x[2, 0] = -1.0
    mk = layers.Masking(mask_value=-1.0)
    want_mask = np.any(x != -1.0, axis=-1).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(mk.compute_mask(x)), want_mask)
    close(mk(x), x * want_mask[:, :, None])
    model = corenn.Sequential([layers.Input(shape=(5, 2)), layers.Masking(-1.0), layers.GRU(3)])
    gru = model.layers[-1]
    w = gru.get_weights()
    close(model.predict(x, verbose=0), ref.rnn_forward("gru", x * want_mask[:, :, None], *w, mask=want_mask)[0])


def test_bidirectional_takes_the_mask(rng):
    ids = rng.integers(1, 9, (3, 6))
    ids[0, 2:] = 0
    mask = (ids != 0).astype(np.float32)
    model = corenn.Sequential([layers.Input(shape=(6,), dtype="int32"), layers.Embedding(9, 3, mask_zero=True),
                               layers.Bidirectional(layers.LSTM(2))])
    x = np.asarray(model.layers[0](ids))
    w = model.get_weights()
    fwd = ref.rnn_forward("lstm", x, *w[1:4], mask=mask)[0]
    bwd = ref.rnn_forward("lstm", x, *w[4:7], go_backwards=True, mask=mask)[0]
    close(model.predict(ids, verbose=0), np.concatenate([fwd, bwd], -1))
    # return_sequences: Keras zeroes both directions' outputs at masked steps (zero_output_for_mask)
    bi = layers.Bidirectional(layers.LSTM(2, return_sequences=True), merge_mode="sum")
    xt = corenn.Tensor.from_numpy(x)
    with corenn.GradientTape() as tape:
        tape.watch(xt)
        y = bi(xt, mask=mask)
    w = bi.get_weights()
    fwd = ref.rnn_forward("lstm", x, *w[:3], True, mask=mask)[0]
    bwd = ref.rnn_forward("lstm", x, *w[3:], True, go_backwards=True, mask=mask)[0][:, ::-1]
    m3 = mask[:, :, None]
    close(y, (fwd + bwd) * m3)
    dy = rng.standard_normal(tuple(y.shape)).astype(np.float32)
    (dx,) = tape.gradient(y, [xt], output_gradients=corenn.Tensor.from_numpy(dy))
    want = ref.rnn_backward("lstm", dy * m3, x, *w[:3], mask=mask)[0] + \
        ref.rnn_backward("lstm", (dy * m3)[:, ::-1], x, *w[3:], go_backwards=True, mask=mask)[0]
    close(dx, want)


def test_gru_reset_after_false_layer_weights_config_and_saving(rng, tmp_path):
    gru = layers.GRU(4, reset_after=False, return_sequences=True)
    model = corenn.Sequential([layers.Input(shape=(5, 3)), gru])
    assert [tuple(w.shape) for w in gru.weights] == [(3, 12), (4, 12), (12,)]
    assert gru.get_config()["reset_after"] is False
    ws = [w + 0.3 * rng.standard_normal(w.shape).astype(np.float32) for w in gru.get_weights()]
    gru.set_weights(ws)
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    y = model.predict(x, verbose=0)
    close(y, ref.rnn_forward("gru", x, *ws, True, reset_after=False)[0])
    model.save(tmp_path / "gru.keras")
    again = corenn.models.load_model(tmp_path / "gru.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), y, rtol=1e-6)
    xt = corenn.Tensor.from_numpy(x)
    with corenn.GradientTape() as tape:
        tape.watch(xt)
        out = gru(xt)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    got = tape.gradient(out, [xt] + gru.trainable_weights, output_gradients=corenn.Tensor.from_numpy(dy))
    want = ref.rnn_backward("gru", dy, x, *ws, reset_after=False)
    for g, w_ in zip(got, want):
        close(g, w_)


def test_pytorch_parity_masked_lstm_final_state(rng):
    """Right-padded sequences: Keras' masked LSTM final h equals PyTorch's packed-sequence h_n."""
    torch = pytest.importorskip("torch")
    lens = np.array([5, 2, 4])
    x = rng.standard_normal((3, 5, 3)).astype(np.float32)
    m = (np.arange(5)[None] < lens[:, None]).astype(np.float32)
    lstm = layers.LSTM(4)
    y = lstm(x, mask=m)
    w, r, b = lstm.get_weights()
    net = torch.nn.LSTM(3, 4, batch_first=True)
    with torch.no_grad():   # PyTorch's gate order i, f, g, o is Keras' i, f, c, o
        net.weight_ih_l0.copy_(torch.tensor(w.T))
        net.weight_hh_l0.copy_(torch.tensor(r.T))
        net.bias_ih_l0.copy_(torch.tensor(b))
        net.bias_hh_l0.zero_()
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), torch.tensor(lens), batch_first=True,
                                                     enforce_sorted=False)
    _, (h, _) = net(packed)
    close(y, h[0].detach().numpy())


def test_loss_of_a_masked_sequence_output_averages_the_real_steps(rng):
    ids = rng.integers(1, 9, (4, 5))
    ids[1, 2:] = 0
    ids[3, 4:] = 0
    m = ids != 0
    model = corenn.Sequential([layers.Input(shape=(5,), dtype="int32"), layers.Embedding(9, 4, mask_zero=True),
                               layers.LSTM(6, return_sequences=True), layers.Dense(3, activation="softmax")])
    dense = model.layers[-1]
    dense.set_weights([5 * rng.standard_normal((6, 3)).astype(np.float32), np.zeros(3, np.float32)])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, (4, 5))]
    p = model.predict(ids, verbose=0)
    ce = -np.log(np.sum(p * y, -1))
    loss = model.evaluate(ids, y, verbose=0)
    np.testing.assert_allclose(loss, (ce * m).sum() / m.sum(), rtol=1e-5)
    assert abs(loss - ce.mean()) > 1e-4   # the unmasked mean is another number
    # targets at masked steps do not matter to the loss or the gradients
    y2 = y.copy()
    y2[~m] = np.eye(3, dtype=np.float32)[(np.argmax(y[~m], -1) + 1) % 3]
    l1, g1 = model.compute_gradients(ids, y)
    g1 = [np.array(g) for g in g1]
    l2, g2 = model.compute_gradients(ids, y2)
    np.testing.assert_allclose(l1, l2, rtol=1e-6)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-7)
