"""NaN and +-inf through every kernel that applies an activation or a max, on every ISA path.

The contract (as NumPy and PyTorch): f(NaN) = NaN for every elementwise activation; softmax /
log_softmax of a row holding a NaN (or a +inf, whose x - max is inf - inf) is NaN over that row
and leaves the other rows alone; a NaN in dy reaches dx wherever dx = dy * f'(x) reads it (relu
included: NaN * 0 = NaN), and so does a NaN in x (f'(NaN) = NaN); a max (pooling, fused conv +
relu + pool) with a NaN in its window is NaN and its argmax is the first NaN (NumPy's argmax).
+-inf give what the float64 formulas of tests/reference.py give (relu(inf) = inf,
sigmoid(-inf) = 0, tanh(+-inf) = +-1; where a formula meets inf * 0, as gelu(-inf), swish(-inf)
and the gelu / swish derivatives at +-inf, NaN, as in NumPy and PyTorch).
Every comparison holds NaN positions exactly (assert_allclose's equal_nan)."""
import numpy as np
import pytest

from corenn import kernels
from reference import (activation, activation_grad, conv2d_forward, gemm, global_max_pool2d,
                       max_pool2d, rnn_forward)

KINDS = kernels.ACTIVATIONS
ALPHA = {"leaky_relu": 0.2, "elu": 1.0, "relu6": 6.0, "celu": 1.0, "soft_shrink": 0.5, "hard_shrink": 0.5,
         "squareplus": 4.0}
NAN, INF = np.float32(np.nan), np.float32(np.inf)


def _close(got, want, rtol=1e-4, atol=1e-5):
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol, atol=atol)


def _ref(fn, *args, **kw):
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, inf * 0 are the point here
        return fn(*args, **kw)


def _special_x(rng):
    """(5, 19) rows: NaN in a full vector and in the tail, +inf, -inf, both infs, none; the
    specials sit at lane 0, 7 (end of a vector), 8 (start of the next) and in the 3-lane tail."""
    x = rng.standard_normal((5, 19)).astype(np.float32) * 2
    x[0, 3] = x[0, 17] = NAN
    x[1, 8] = INF
    x[2, 0] = x[2, 18] = -INF
    x[3, 7], x[3, 9] = INF, -INF
    x[4, 5] = 0.0
    return x


@pytest.mark.parametrize("kind", KINDS)
def test_forward_with_nan_and_inf_inputs(kind, isa, rng):
    alpha = ALPHA.get(kind, 0.0)
    x = _special_x(rng)
    y = kernels.activation_forward(kind, x, alpha=alpha).numpy()
    want = _ref(activation, kind, x, alpha)
    _close(y, want)
    if kind in ("softmax", "log_softmax"):
        assert np.isnan(y[0]).all() and np.isnan(y[1]).all() and not np.isnan(y[4]).any()
    else:
        assert np.isnan(y[0, [3, 17]]).all()


@pytest.mark.parametrize("kind", KINDS)
def test_forward_nan_survives_the_threaded_chunks(kind, isa, rng):
    alpha = ALPHA.get(kind, 0.0)
    x = rng.standard_normal((64, 1000)).astype(np.float32)
    rows, cols = rng.integers(0, 64, 40), rng.integers(0, 1000, 40)
    x[rows, cols] = NAN
    y = kernels.activation_forward(kind, x, alpha=alpha).numpy()
    if kind in ("softmax", "log_softmax"):
        want = np.zeros(64, bool)
        want[rows] = True
        np.testing.assert_array_equal(np.isnan(y).all(axis=1), want)
        np.testing.assert_array_equal(np.isnan(y).any(axis=1), want)
    else:
        np.testing.assert_array_equal(np.isnan(y), np.isnan(x))


@pytest.mark.parametrize("kind", KINDS)
def test_backward_with_nan_and_inf_in_x(kind, isa, rng):
    alpha = ALPHA.get(kind, 0.0)
    x = _special_x(rng)
    y = kernels.activation_forward(kind, x, alpha=alpha).numpy()
    dy = rng.standard_normal(x.shape).astype(np.float32)
    dx = kernels.activation_backward(kind, x, y, dy, alpha=alpha).numpy()
    _close(dx, _ref(activation_grad, kind, x, dy, alpha))
    if kind != "linear":  # f'(NaN) = NaN; linear's derivative is 1 whatever x is
        assert np.isnan(dx[0, 3])


@pytest.mark.parametrize("kind", KINDS)
def test_backward_with_nan_and_inf_in_dy(kind, isa, rng):
    alpha = ALPHA.get(kind, 0.0)
    x = rng.standard_normal((5, 19)).astype(np.float32)
    x[:, :6] = -np.abs(x[:, :6])  # dead relu units under the specials
    x[0, 0] = 0.0
    dy = rng.standard_normal(x.shape).astype(np.float32)
    dy[0, 0] = dy[0, 3] = dy[1, 17] = NAN
    dy[2, 4], dy[3, 8] = INF, -INF
    y = kernels.activation_forward(kind, x, alpha=alpha).numpy()
    dx = kernels.activation_backward(kind, x, y, dy, alpha=alpha).numpy()
    _close(dx, _ref(activation_grad, kind, x, dy, alpha))
    assert np.isnan(dx[0, [0, 3]]).all() and np.isnan(dx[1, 17])  # relu'(x <= 0) * NaN = NaN


def test_special_values_pinned():
    """The headline cases, written out, so the reference cannot drift with the kernels."""
    x = np.array([NAN, INF, -INF], np.float32)
    for isa in _isas():
        with _forced(isa):
            f = lambda k: kernels.activation_forward(k, x, alpha=ALPHA.get(k, 0.0)).numpy()
            for kind in KINDS:
                if kind not in ("softmax", "log_softmax"):
                    assert np.isnan(f(kind)[0]), (isa, kind)
            np.testing.assert_array_equal(f("relu")[1:], [INF, 0.0])
            np.testing.assert_array_equal(f("sigmoid")[1:], [1.0, 0.0])
            np.testing.assert_array_equal(f("tanh")[1:], [1.0, -1.0])
            np.testing.assert_array_equal(f("elu")[1:], [INF, -1.0])
            # the vector exp floors at ~1.2e-38 (cpu/simd/vec_math.h): softplus(-inf) is that, not 0
            np.testing.assert_allclose(f("softplus")[1:], [INF, 0.0], rtol=0, atol=1e-37)
            sm = kernels.activation_forward("softmax", np.array([[NAN, 1.0], [0.0, 1.0]], np.float32)).numpy()
            assert np.isnan(sm[0]).all() and np.isfinite(sm[1]).all()
            d = kernels.activation_backward("relu", x, f("relu"), np.ones(3, np.float32)).numpy()
            assert np.isnan(d[0]) and d[1] == 1.0 and d[2] == 0.0
            d = kernels.activation_backward("relu", -np.ones(3, np.float32), np.zeros(3, np.float32),
                                        np.array([NAN, 1.0, 1.0], np.float32)).numpy()
            assert np.isnan(d[0]) and (d[1:] == 0).all()


def _isas():
    from conftest import ISAS
    return ISAS


class _forced:
    def __init__(self, isa):
        self.isa = isa

    def __enter__(self):
        from corenn import _C
        self.old = _C.get_isa()
        _C.set_isa(self.isa)

    def __exit__(self, *exc):
        from corenn import _C
        _C.set_isa(self.old)


# ---- GEMM with the fused relu epilogue ---------------------------------------------------------

@pytest.mark.parametrize("m,k,n", [(3, 20, 40), (13, 9, 21), (37, 50, 45), (130, 70, 300)])
def test_gemm_relu_epilogue_keeps_nan(m, k, n, isa, rng):
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    bias = (rng.standard_normal(n) - 5.0).astype(np.float32)  # most outputs negative: relu -> 0
    a[m // 2, k // 3] = NAN
    bias[n - 1] = NAN  # last column: in the masked / scalar edge of the tile when n % 16 != 0
    c = kernels.gemm(a, b, bias=bias, activation="relu").numpy()
    want = gemm(a, b, bias=bias, activation="relu")
    _close(c, want)
    assert np.isnan(c[m // 2]).all() and np.isnan(c[:, n - 1]).all()
    assert np.isfinite(np.delete(np.delete(c, m // 2, 0), n - 1, 1)).all()


def test_gemm_beta_zero_never_reads_c_but_beta_one_propagates(isa, rng):
    a = rng.standard_normal((7, 5)).astype(np.float32)
    b = rng.standard_normal((5, 18)).astype(np.float32)
    c = np.full((7, 18), NAN, np.float32)
    assert np.isfinite(kernels.gemm(a, b, c, beta=0.0, activation="relu").numpy()).all()
    c = np.zeros((7, 18), np.float32)
    c[2, 17] = NAN
    out = kernels.gemm(a, b, c, beta=1.0, activation="relu").numpy()
    assert np.isnan(out[2, 17]) and np.isnan(out).sum() == 1


# ---- convolution (+ relu) (+ 2x2 max pool) -----------------------------------------------------

# (N, H, W, Cin, KH, KW, Cout): on AVX2 these run direct, Winograd, implicit GEMM, pointwise GEMM
CONV_CASES = [(2, 12, 12, 1, 3, 3, 32), (2, 9, 9, 32, 3, 3, 64), (2, 9, 9, 8, 2, 2, 24),
              (2, 6, 7, 8, 1, 1, 20)]


@pytest.mark.parametrize("shape", CONV_CASES)
def test_conv2d_fused_relu_keeps_nan(shape, isa, rng):
    n, h, w, cin, kh, kw, cout = shape
    x = rng.standard_normal((n, h, w, cin)).astype(np.float32)
    k = (rng.standard_normal((kh, kw, cin, cout)) * 0.3).astype(np.float32)
    bias = np.full(cout, -3.0, np.float32)  # almost every output negative
    x[1, 4, 5, 0] = NAN
    y = kernels.conv2d(x, k, bias, activation="relu").numpy()
    want = np.maximum(conv2d_forward(x, k, bias), 0.0)
    nan_want = np.isnan(want)
    assert nan_want.any()
    algo = kernels.conv2d_algorithms(x.shape, k.shape)["forward"] if isa != "ref" else "implicit_gemm"
    if algo.startswith("winograd"):
        # a NaN reaches every output of the 2x2 (4x4) tiles whose 4x4 (6x6) input block holds it
        # (the transforms multiply it by zeros), a superset of the direct conv's NaNs: at most 4
        # tiles of 4 (16) outputs against the direct conv's 3x3 per channel
        assert np.isnan(y[nan_want]).all()
        finite = ~np.isnan(y)
        _close(y[finite], want[finite])
        assert np.isnan(y).sum() <= (4 if algo == "winograd_f2x2_3x3" else 8) * nan_want.sum()
    else:
        _close(y, want)


@pytest.mark.parametrize("shape", [(2, 10, 10, 1, 3, 3, 16), (2, 8, 8, 3, 3, 3, 32), (2, 8, 8, 6, 3, 3, 8)])
def test_conv2d_relu_max_pool2d_keeps_nan(shape, isa, rng):
    n, h, w, cin, kh, kw, cout = shape
    x = rng.standard_normal((n, h, w, cin)).astype(np.float32)
    k = (rng.standard_normal((kh, kw, cin, cout)) * 0.3).astype(np.float32)
    bias = np.full(cout, -2.0, np.float32)
    x[0, 3, 4, cin - 1] = NAN  # the conv outputs around (3, 4) are NaN, the rest mostly negative
    x[1, 6, 2, 0] = NAN
    y, am = kernels.conv2d_relu_max_pool2d(x, k, bias)
    z = np.maximum(conv2d_forward(x, k, bias), 0.0)
    want, want_am = max_pool2d(z, (2, 2), (2, 2), "valid")
    assert np.isnan(want).any()
    _close(y.numpy(), want)
    np.testing.assert_array_equal(am.numpy(), want_am)


def test_conv2d_relu_max_pool2d_weight_gradient_keeps_nan_dy(isa, rng):
    n, h, w, cin, cout = 2, 10, 10, 1, 16
    x = rng.standard_normal((n, h, w, cin)).astype(np.float32)
    k = (rng.standard_normal((3, 3, cin, cout)) * 0.3).astype(np.float32)
    bias = np.full(cout, -2.0, np.float32)
    y, am = kernels.conv2d_relu_max_pool2d(x, k, bias)
    y = y.numpy()
    dead = np.argwhere(y == 0.0)
    assert len(dead)
    b, py, px, ch = dead[0]
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dy[b, py, px, ch] = NAN  # dead unit: relu' = 0, and 0 * NaN = NaN
    dw, db = kernels.conv2d_relu_max_pool2d_backward_weights(x, dy, y, am, k.shape, bias=True)
    dw, db = dw.numpy(), db.numpy()
    assert np.isnan(db[ch]) and np.isnan(dw[..., ch]).all()
    assert np.isfinite(np.delete(db, ch)).all() and np.isfinite(np.delete(dw, ch, axis=3)).all()


# ---- pooling -----------------------------------------------------------------------------------

@pytest.mark.parametrize("pool,strides,padding", [((2, 2), (2, 2), "valid"), ((3, 3), (2, 2), "same"),
                                                  ((2, 3), (1, 1), "valid")])
def test_max_pool2d_keeps_nan_and_points_at_it(pool, strides, padding, isa, rng):
    x = rng.standard_normal((2, 7, 8, 11)).astype(np.float32)
    x[0, 1, 1, :] = NAN      # last cell of a 2x2 window: a strict > would never take it
    x[1, 4, 5, 3] = NAN
    x[1, 4, 4, 3] = NAN      # two NaNs in one window: the first one is the argmax
    y, am = kernels.max_pool2d_forward(x, pool, strides, padding)
    want, want_am = max_pool2d(x, pool, strides, padding)
    _close(y.numpy(), want)
    np.testing.assert_array_equal(am.numpy(), want_am)
    dy = np.ones(want.shape, np.float32)
    dx = kernels.max_pool2d_backward(dy, am, x.shape, pool, strides, padding).numpy()
    assert (dx[0, 1, 1, :] > 0).all()  # the gradient is routed to the NaN cells


def test_global_max_pool2d_keeps_nan(isa, rng):
    x = rng.standard_normal((3, 5, 4, 19)).astype(np.float32)
    x[0, 4, 3, :] = NAN  # the last cell of the image
    x[2, 2, 1, 17] = NAN
    y, am = kernels.global_max_pool2d_forward(x)
    want, want_am = global_max_pool2d(x)
    _close(y.numpy(), want)
    np.testing.assert_array_equal(am.numpy(), want_am)


# ---- recurrent layers' kernels -----------------------------------------------------------------

@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("act,ract", [("tanh", "sigmoid"), ("relu", "sigmoid"), ("tanh", "relu")])
def test_rnn_forward_keeps_nan(cell, act, ract, isa, rng):
    g = {"simple_rnn": 1, "lstm": 4, "gru": 3}[cell]
    n, t, f, u = 9, 4, 5, 11
    x = rng.standard_normal((n, t, f)).astype(np.float32)
    w = (rng.standard_normal((f, g * u)) * 0.4).astype(np.float32)
    r = (rng.standard_normal((u, g * u)) * 0.4).astype(np.float32)
    x[2, 1, 3] = NAN
    kw = dict(activation=act, recurrent_activation=ract)
    y = kernels.rnn_forward(cell, x, w, r, None, return_sequences=True, **kw)[0].numpy()
    want = _ref(rnn_forward, cell, x, w, r, None, True, **kw)[0]
    assert np.isnan(want[2, 1:]).all()
    _close(y, want, atol=1e-4)


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_rnn_backward_keeps_nan_dy(cell, act, isa, rng):
    """A NaN in dy at one (sample, step) reaches that sample's dx at that step and before, and
    every weight gradient the step touches; the other samples' dx stay finite."""
    from reference import rnn_backward
    g = {"simple_rnn": 1, "lstm": 4, "gru": 3}[cell]
    n, t, f, u = 9, 4, 5, 11
    x = rng.standard_normal((n, t, f)).astype(np.float32)
    w = (rng.standard_normal((f, g * u)) * 0.4).astype(np.float32)
    r = (rng.standard_normal((u, g * u)) * 0.4).astype(np.float32)
    b = np.zeros((2, g * u) if cell == "gru" else (g * u,), np.float32)
    kw = dict(activation=act)
    y, _, _, stash = kernels.rnn_forward(cell, x, w, r, b, return_sequences=True, **kw)
    dy = rng.standard_normal(np.shape(y)).astype(np.float32)
    dy[4, 2, 0] = NAN
    got = kernels.rnn_backward(cell, dy, x, w, r, stash, **kw)
    want = _ref(rnn_backward, cell, dy, x, w, r, b, **kw)
    dx = np.asarray(got[0])
    assert np.isnan(dx[4, :3]).all() and np.isfinite(np.delete(dx, 4, axis=0)).all()
    for g_, w_ in zip(got, want):
        _close(g_, w_, atol=1e-4)


@pytest.mark.parametrize("kind, from_logits", [
    ("mean_squared_error", False), ("mean_absolute_error", False), ("huber", False),
    ("binary_crossentropy", False), ("binary_crossentropy", True),
    ("categorical_crossentropy", False), ("categorical_crossentropy", True),
])
def test_a_nan_prediction_gives_a_nan_loss_and_gradient_row(kind, from_logits):
    # sign(NaN) and the probability clip used to turn a NaN prediction's gradient into 0.
    rng = np.random.default_rng(7)
    y_pred = rng.uniform(0.1, 0.9, (4, 3)).astype(np.float32)
    y_true = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    y_pred[1, 2] = np.nan
    grad = np.zeros_like(y_pred)
    loss = kernels.loss_forward(kind, y_pred, y_true, grad, from_logits=from_logits)
    assert np.isnan(loss)
    assert np.isnan(grad[1, 2])
    assert np.isfinite(np.delete(grad, 1, axis=0)).all()  # the other rows are untouched by it
