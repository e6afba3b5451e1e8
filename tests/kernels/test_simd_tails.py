"""Masked vector tails of the kernels written once over the ISA traits (csrc/cpu/simd/: pool
cells, layer norm and RMS norm rows, attention softmax rows, dropout, activations): every length 1..33 (whole
8- and 16-lane blocks and every tail after them) under every ISA, against the float64 reference
(tests/reference.py). Outputs are written into views of larger buffers whose trailing guard
values must survive the call (a masked store never writes past the caller's buffer), and inputs
are followed by NaN, which would reach a sum, a max or an output if a tail read past its span."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref

SIZES = list(range(1, 34))
GUARD = 32  # two 16-lane vectors past the end
SENTINEL = -12345.5


def _out(shape, dtype=np.float32):
    """(buffer, view): the view, of `shape`, is the output; the GUARD entries after it hold the
    sentinel."""
    n = int(np.prod(shape))
    buf = np.full(n + GUARD, SENTINEL, dtype)
    return buf, buf[:n].reshape(shape)


def _in(a, dtype=np.float32):
    """A view of `a` (as dtype) followed in memory by GUARD NaNs (int32: an index no window has,
    which would also count as a stray argmax)."""
    a = np.asarray(a, dtype)
    buf = np.full(a.size + GUARD, np.nan if dtype == np.float32 else -7, dtype)
    buf[:a.size] = a.ravel()
    return buf[:a.size].reshape(a.shape)


def _intact(buf, n):
    np.testing.assert_array_equal(buf[n:], np.full(GUARD, SENTINEL, buf.dtype))


def _close(got, want, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("n", SIZES)
def test_dropout(n, isa, rng):
    x = _in(rng.standard_normal(n))
    ybuf, y = _out((n,))
    mbuf, mask = _out((n,))
    kernels.dropout_forward(x, 0.4, seed=17, out=y, mask=mask)
    want = ref.dropout_mask((n,), 0.4, 17)
    np.testing.assert_array_equal(mask, want.astype(np.float32))
    _close(y, ref.f64(x) * want)
    dy = _in(rng.standard_normal(n))
    dbuf, dx = _out((n,))
    kernels.dropout_backward(dy, _in(mask), out=dx)
    _close(dx, ref.f64(dy) * want)
    for buf in (ybuf, mbuf, dbuf):
        _intact(buf, n)


@pytest.mark.parametrize("n", SIZES)
def test_layer_norm(n, isa, rng):
    rows = 2
    x = _in(rng.normal(size=(rows, n)) * 3 + 2)
    gamma, beta = _in(rng.uniform(0.5, 2, n)), _in(rng.normal(size=n))
    ybuf, y = _out((rows, n))
    kernels.layer_norm_forward(x, gamma, beta, out=y)
    want, wmean, winv = ref.layer_norm(x, gamma, beta, 1)
    _close(y, want, rtol=1e-4, atol=1e-4)
    dy = _in(rng.normal(size=(rows, n)))
    _, mean, inv = kernels.layer_norm_forward(x, gamma, beta)
    dxbuf, dx = _out((rows, n))
    dgbuf, dgamma = _out((n,))
    dbbuf, dbeta = _out((n,))
    kernels.layer_norm_backward(dy, x, gamma, mean, inv, dx=dx, dgamma=dgamma, dbeta=dbeta)
    wdx, wdg, wdb = ref.layer_norm_grads(dy, x, gamma, 1)
    _close(dx, wdx, rtol=1e-3, atol=1e-4)
    _close(dgamma, wdg, rtol=1e-4, atol=1e-4)
    _close(dbeta, wdb, rtol=1e-4, atol=1e-4)
    for buf, size in ((ybuf, rows * n), (dxbuf, rows * n), (dgbuf, n), (dbbuf, n)):
        _intact(buf, size)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("scaled", [True, False])
def test_rms_norm(n, scaled, isa, rng):
    rows = 2
    x = _in(rng.normal(size=(rows, n)) * 3 + 2)
    gamma = _in(rng.uniform(0.5, 2, n)) if scaled else None
    g = gamma if scaled else np.ones(n)
    ybuf, y = _out((rows, n))
    ibuf, inv = _out((rows,))
    kernels.rms_norm_forward(x, gamma, out=y, inv_rms=inv)
    _close(y, ref.rms_norm(x, g, 1), rtol=1e-5, atol=1e-5)
    _close(inv, 1 / np.sqrt((ref.f64(x) ** 2).mean(1) + 1e-3))
    dy = _in(rng.normal(size=(rows, n)))
    dxbuf, dx = _out((rows, n))
    dgbuf, dgamma = _out((n,))
    kernels.rms_norm_backward(dy, x, gamma, _in(inv), dx=dx, dgamma=dgamma)
    wdx, wdg = ref.rms_norm_grads(dy, x, g, 1)
    _close(dx, wdx, rtol=1e-4, atol=1e-5)
    _close(dgamma, wdg, rtol=1e-5, atol=1e-5)
    for buf, size in ((ybuf, rows * n), (ibuf, rows), (dxbuf, rows * n), (dgbuf, n)):
        _intact(buf, size)


@pytest.mark.parametrize("n", SIZES)
def test_attention_softmax_rows(n, isa, rng):
    # one query row per head, so the last row ends at the buffer's end; causal off, a key mask
    # with the last key dropped (an exact 0 inside the row) when there are two or more
    scores = _in(rng.standard_normal((1, 2, 1, n)) * 3)
    key_mask = np.ones((1, n), np.float32)
    if n > 1:
        key_mask[0, -1] = 0
    pbuf, probs = _out(scores.shape)
    kernels.masked_softmax_forward(scores, key_mask=key_mask, scale=0.7, out=probs)
    allowed = np.broadcast_to(key_mask[:, None, :] != 0, (1, 1, n))
    want = ref.masked_softmax(scores, allowed, 0.7)
    _close(probs, want)
    dp = _in(rng.standard_normal(scores.shape))
    dbuf, ds = _out(scores.shape)
    kernels.masked_softmax_backward(_in(probs), dp, scale=0.7, out=ds)
    _close(ds, ref.masked_softmax_grad(probs, dp, 0.7), atol=1e-5)
    _intact(pbuf, probs.size)
    _intact(dbuf, ds.size)


FORWARD_KINDS = ["sigmoid", "tanh", "gelu", "swish", "softplus", "elu", "selu", "softmax",
                 "log_softmax", "relu", "leaky_relu"]
ALPHA = {"leaky_relu": 0.2, "elu": 1.3}


@pytest.mark.parametrize("n", SIZES)
def test_activations(n, isa, rng):
    # two rows: softmax's row loop ends at the buffer's end, the spans cover both rows
    shape = (2, n)
    for kind in FORWARD_KINDS:
        alpha = ALPHA.get(kind, 0.0)
        x = _in(rng.standard_normal(shape) * 3)
        ybuf, y = _out(shape)
        kernels.activation_forward(kind, x, out=y, alpha=alpha)
        _close(y, ref.activation(kind, x, alpha), rtol=1e-5, atol=1e-6)
        dy = _in(rng.standard_normal(shape))
        dbuf, dx = _out(shape)
        kernels.activation_backward(kind, x, _in(y), dy, out=dx, alpha=alpha)
        _close(dx, ref.activation_grad(kind, x, dy, alpha), rtol=1e-5, atol=1e-5)
        _intact(ybuf, y.size)
        _intact(dbuf, dx.size)


def _distinct(rng, shape):
    """Random values without ties (max pooling's argmax and gradient are then unique)."""
    return rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float32) / 7.0 - 3.0


@pytest.mark.parametrize("c", SIZES)
def test_pool_channels(c, isa, rng):
    shape = (1, 5, 7, c)  # odd H and W: 'same' padding, uncovered last column when tiling
    x = _in(_distinct(rng, shape))
    for pool, strides, padding in (((3, 3), (2, 2), "same"), ((2, 2), (2, 2), "valid"),
                                   ((2, 3), (1, 2), "valid")):
        y_ref, am_ref = ref.max_pool2d(x, pool, strides, padding)
        ybuf, y = _out(y_ref.shape)
        abuf, am = _out(y_ref.shape, np.int32)
        kernels.max_pool2d_forward(x, pool, strides, padding, out=y, argmax=am)
        np.testing.assert_array_equal(y, y_ref.astype(np.float32))
        np.testing.assert_array_equal(am, am_ref)
        dy = _in(rng.standard_normal(y_ref.shape))
        dbuf, dx = _out(shape)
        kernels.max_pool2d_backward(dy, _in(am, np.int32), shape, pool, strides, padding, out=dx)
        _close(dx, ref.max_pool2d_grad(x, dy, pool, strides, padding))
        abuf2, ay = _out(y_ref.shape)
        kernels.avg_pool2d_forward(x, pool, strides, padding, out=ay)
        _close(ay, ref.avg_pool2d(x, pool, strides, padding))
        adbuf, adx = _out(shape)
        kernels.avg_pool2d_backward(dy, shape, pool, strides, padding, out=adx)
        _close(adx, ref.avg_pool2d_grad(shape, dy, pool, strides, padding))
        for buf, size in ((ybuf, y.size), (abuf, am.size), (dbuf, dx.size), (abuf2, ay.size),
                          (adbuf, adx.size)):
            _intact(buf, size)
