"""Recurrent kernels (SimpleRNN, LSTM, GRU) against the float64 per-step reference, both ISAs."""
import numpy as np
import pytest

import corenn
from corenn import kernels
from reference import rnn_backward, rnn_forward

GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def make(rng, cell, n, t, f, u, bias=True):
    g = GATES[cell]
    x = rng.standard_normal((n, t, f)).astype(np.float32)
    w = (rng.standard_normal((f, g * u)) * 0.4).astype(np.float32)
    r = (rng.standard_normal((u, g * u)) * 0.4).astype(np.float32)
    b = None
    if bias:
        b = (rng.standard_normal((2, g * u) if cell == "gru" else (g * u,)) * 0.5).astype(np.float32)
    return x, w, r, b


def close(got, want, tol=2e-5):
    got, want = np.asarray(got, np.float64), np.asarray(want)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=tol * max(1.0, np.abs(want).max()))


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_parity_forward_backward(isa, rng, cell, return_sequences, go_backwards):
    x, w, r, b = make(rng, cell, 13, 5, 7, 11)  # 13 rows: two MR blocks and an edge; U = 11 < 16
    y, h_n, c_n, stash = kernels.rnn_forward(cell, x, w, r, b, return_sequences=return_sequences,
                                         go_backwards=go_backwards)
    ry, rh, rc, _ = rnn_forward(cell, x, w, r, b, return_sequences, go_backwards)
    close(y, ry)
    close(h_n, rh)
    if cell == "lstm":
        close(c_n, rc)
    dy = rng.standard_normal(ry.shape).astype(np.float32)
    got = kernels.rnn_backward(cell, dy, x, w, r, stash, go_backwards=go_backwards)
    want = rnn_backward(cell, dy, x, w, r, b, go_backwards)
    for g_, w_ in zip(got, want):
        close(g_, w_)


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("n,t,f,u", [(1, 1, 3, 5), (1, 6, 2, 17), (20, 1, 4, 9), (8, 3, 33, 40)])
def test_edge_sizes(isa, rng, cell, n, t, f, u):
    x, w, r, b = make(rng, cell, n, t, f, u)
    y, _, _, stash = kernels.rnn_forward(cell, x, w, r, b, return_sequences=True)
    close(y, rnn_forward(cell, x, w, r, b, True)[0])
    dy = rng.standard_normal(y.shape).astype(np.float32)
    for g_, w_ in zip(kernels.rnn_backward(cell, dy, x, w, r, stash), rnn_backward(cell, dy, x, w, r, b)):
        close(g_, w_)


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
def test_unit_tails_on_every_isa(isa, rng, cell):
    """Units 1..17 and around two 16-lane blocks (the gate math's masked tail), batch 1."""
    for u in list(range(1, 18)) + [31, 32, 33]:
        x, w, r, b = make(rng, cell, 1, 3, 4, u)
        y, _, _, stash = kernels.rnn_forward(cell, x, w, r, b, return_sequences=True)
        close(y, rnn_forward(cell, x, w, r, b, True)[0])
        dy = rng.standard_normal(y.shape).astype(np.float32)
        for g_, w_ in zip(kernels.rnn_backward(cell, dy, x, w, r, stash),
                          rnn_backward(cell, dy, x, w, r, b)):
            close(g_, w_)


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("act,ract", [("relu", "sigmoid"), ("linear", "tanh"), ("sigmoid", "relu")])
def test_other_activations(isa, rng, cell, act, ract):
    x, w, r, b = make(rng, cell, 7, 4, 5, 6)
    kw = dict(activation=act, recurrent_activation=ract)
    y, _, _, stash = kernels.rnn_forward(cell, x, w, r, b, return_sequences=True, **kw)
    close(y, rnn_forward(cell, x, w, r, b, True, **kw)[0])
    dy = rng.standard_normal(y.shape).astype(np.float32)
    got = kernels.rnn_backward(cell, dy, x, w, r, stash, **kw)
    for g_, w_ in zip(got, rnn_backward(cell, dy, x, w, r, b, **kw)):
        close(g_, w_)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_no_bias_and_partial_outputs(rng, cell):
    x, w, r, _ = make(rng, cell, 4, 3, 5, 6, bias=False)
    y, _, _, stash = kernels.rnn_forward(cell, x, w, r, None)
    close(y, rnn_forward(cell, x, w, r, None)[0])
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dk, dr, db = kernels.rnn_backward(cell, dy, x, w, r, stash, use_bias=False)
    want = rnn_backward(cell, dy, x, w, r, None)
    assert db is None
    close(dk, want[1])
    dx2, dk2, _, _ = kernels.rnn_backward(cell, dy, x, w, r, stash, weight_grads=False)
    assert dk2 is None
    close(dx2, want[0])
    assert kernels.rnn_backward(cell, dy, x, w, r, stash, input_grad=False)[0] is None


def test_output_in_input_order(rng):
    x, w, r, b = make(rng, "lstm", 3, 5, 4, 6)
    y_rev = np.asarray(kernels.lstm_forward(x, w, r, b, return_sequences=True, go_backwards=True)[0])
    y_in = np.asarray(kernels.lstm_forward(x, w, r, b, return_sequences=True, go_backwards=True,
                                       output_in_input_order=True)[0])
    np.testing.assert_array_equal(y_in, y_rev[:, ::-1])


def test_bad_inputs_raise(rng):
    x, w, r, b = make(rng, "lstm", 2, 3, 4, 5)
    with pytest.raises(ValueError, match="lstm_forward.*rank 3"):
        kernels.lstm_forward(x[0], w, r, b)
    with pytest.raises(ValueError, match=r"lstm_forward: kernel must have shape \(4, 4 \* units\)"):
        kernels.lstm_forward(x, w[:3], r, b)
    with pytest.raises(ValueError, match=r"lstm_forward: recurrent_kernel .*\(5, 20\)"):
        kernels.lstm_forward(x, w, r[:4], b)
    with pytest.raises(ValueError, match=r"lstm_forward: bias .*\(20,?\)"):
        kernels.lstm_forward(x, w, r, b[:7])
    with pytest.raises(ValueError, match="gru_forward: bias"):
        kernels.gru_forward(x, np.ascontiguousarray(w[:, :15]), np.ascontiguousarray(r[:, :15]), b[:15])
    with pytest.raises(TypeError, match="lstm_forward"):
        kernels.lstm_forward(x.astype(np.int32), w, r, b)
    with pytest.raises(NotImplementedError, match="lstm_forward: activation 'softmax'"):
        kernels.lstm_forward(x, w, r, b, activation="softmax")
    y, _, _, stash = kernels.lstm_forward(x, w, r, b)
    with pytest.raises(ValueError, match=r"lstm_backward: dy .*\(2, 5\)"):
        kernels.lstm_backward(np.zeros((2, 4), np.float32), x, w, r, stash)
    with pytest.raises(ValueError, match="lstm_forward: y"):
        kernels.lstm_forward(x, w, r, b, out=np.zeros((2, 4), np.float32))


def test_states_optional(rng):
    x, w, r, b = make(rng, "lstm", 3, 4, 2, 5)
    y, h_n, c_n, _ = kernels.lstm_forward(x, w, r, b, states=False)
    assert h_n is None and c_n is None
    np.testing.assert_array_equal(np.asarray(y), np.asarray(kernels.lstm_forward(x, w, r, b)[1]))


@pytest.fixture
def two_threads():
    old = corenn.get_num_threads()
    corenn.set_num_threads(2)
    yield
    corenn.set_num_threads(old)


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_per_step_input_products(isa, rng, two_threads, cell, go_backwards):
    """x_t W (forward) and dx_t = dgates_t W^T (backward) run per step on a block's rows, from W and
    W^T packed once per call: 61 rows (several blocks, chunks and both threads, a partial tile),
    F = 37 (a full and a partial 32-column panel of W^T), masked steps, against the float64
    reference."""
    x, w, r, b = make(rng, cell, 61, 9, 37, 20)
    mask = (rng.random((61, 9)) > 0.25).astype(np.float32)
    y, h_n, _, stash = kernels.rnn_forward(cell, x, w, r, b, return_sequences=True,
                                           go_backwards=go_backwards, mask=mask)
    ry, rh, _, _ = rnn_forward(cell, x, w, r, b, True, go_backwards, mask=mask)
    close(y, ry)
    close(h_n, rh)
    dy = rng.standard_normal(ry.shape).astype(np.float32)
    got = kernels.rnn_backward(cell, dy, x, w, r, stash, go_backwards=go_backwards, mask=mask)
    for g_, w_ in zip(got, rnn_backward(cell, dy, x, w, r, b, go_backwards, mask=mask)):
        close(g_, w_)


@pytest.mark.parametrize("cell, reset_after", [("simple_rnn", True), ("lstm", True), ("gru", True),
                                               ("gru", False)])
def test_backward_over_several_chunks_per_thread(isa, rng, two_threads, cell, reset_after):
    """Backward keeps dL/d(pre-activations) in one chunk-sized buffer per thread, reused chunk
    after chunk: 130 rows of 40 steps make chunks of 24 rows, so each thread's share runs through
    several full chunks and a partial one, with masked steps; every gradient against float64."""
    x, w, r, b = make(rng, cell, 130, 40, 7, 12)
    if not reset_after:
        b = b[0]
    mask = (rng.random((130, 40)) > 0.2).astype(np.float32)
    kw = dict(mask=mask, reset_after=reset_after)
    _, _, _, stash = kernels.rnn_forward(cell, x, w, r, b, return_sequences=True, **kw)
    dy = rng.standard_normal((130, 40, 12)).astype(np.float32)
    got = kernels.rnn_backward(cell, dy, x, w, r, stash, **kw)
    want = rnn_backward(cell, dy, x, w, r, b, **kw)
    for g_, w_ in zip(got, want):
        close(g_, w_)


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
def test_dx_matches_finite_differences(rng, cell):
    """dx of the kernel against central differences of the float64 reference forward of
    L = sum(y * dy) (independent of the reference's own backward)."""
    x, w, r, b = make(rng, cell, 3, 4, 5, 6)
    y, _, _, stash = kernels.rnn_forward(cell, x, w, r, b, return_sequences=True)
    dy = rng.standard_normal(np.asarray(y).shape)
    dx = np.asarray(kernels.rnn_backward(cell, dy.astype(np.float32), x, w, r, stash)[0])
    x64, eps = x.astype(np.float64), 1e-6
    for idx in [(0, 0, 0), (1, 2, 4), (2, 3, 1), (0, 3, 2), (2, 0, 3)]:
        xp, xm = x64.copy(), x64.copy()
        xp[idx] += eps
        xm[idx] -= eps
        fd = (np.sum(rnn_forward(cell, xp, w, r, b, True)[0] * dy)
              - np.sum(rnn_forward(cell, xm, w, r, b, True)[0] * dy)) / (2 * eps)
        assert abs(dx[idx] - fd) <= 1e-4 * max(1.0, abs(fd)), (idx, dx[idx], fd)


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("n", [3, 8, 16, 50])
def test_rows_do_not_depend_on_how_the_batch_is_split(isa, rng, two_threads, cell, n):
    """Small batches go in chunks of at least 4 rows (a 1-row tile waits on the FMA latency), big
    ones in blocks: each sample's outputs and states must equal, bit for bit, that sample run
    alone, however the rows were grouped."""
    x, w, r, b = make(rng, cell, n, 5, 6, 20)
    y, h, c, _ = kernels.rnn_forward(cell, x, w, r, b, return_sequences=True)
    for i in (0, n // 2, n - 1):
        yi, hi, ci, _ = kernels.rnn_forward(cell, np.ascontiguousarray(x[i:i + 1]), w, r, b,
                                            return_sequences=True)
        np.testing.assert_array_equal(yi.numpy(), y.numpy()[i:i + 1])
        np.testing.assert_array_equal(hi.numpy(), h.numpy()[i:i + 1])
        if cell == "lstm":
            np.testing.assert_array_equal(ci.numpy(), c.numpy()[i:i + 1])
    close(y, rnn_forward(cell, x, w, r, b, True)[0])


@pytest.mark.parametrize("cell, u", [("simple_rnn", 64), ("lstm", 16), ("lstm", 24), ("gru", 32),
                                     ("gru", 48)])
@pytest.mark.parametrize("n", [1, 2])
def test_one_or_two_sequences_read_the_weights_in_place(isa, rng, cell, u, n):
    """At batch 1-2 the forward reads W and R in place (the GEMM's wide small-M tile, then NR
    panels: G*U = 64, 96, 144 columns cover a whole wide group, a group and panels, panels only):
    the float64 reference, masked steps, and the same bits as those sequences inside a batch of 9,
    which runs on packed W and R."""
    x, w, r, b = make(rng, cell, 9, 7, 20, u)
    mask = (rng.random((9, 7)) > 0.25).astype(np.float32)
    for go_backwards in (False, True):
        kw = dict(return_sequences=True, go_backwards=go_backwards, mask=mask[:n])
        y, h_n, _, _ = kernels.rnn_forward(cell, x[:n], w, r, b, **kw)
        ry, rh, _, _ = rnn_forward(cell, x[:n], w, r, b, True, go_backwards, mask=mask[:n])
        close(y, ry)
        close(h_n, rh)
        kw["mask"] = mask
        y9, h9, _, _ = kernels.rnn_forward(cell, x, w, r, b, **kw)
        np.testing.assert_array_equal(np.asarray(y), np.asarray(y9)[:n])
        np.testing.assert_array_equal(np.asarray(h_n), np.asarray(h9)[:n])
