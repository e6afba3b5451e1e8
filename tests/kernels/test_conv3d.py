"""conv3d / conv3d_transpose kernels (csrc/cpu/conv3d.cpp, implicit GEMM on the GEMM engine).

Forward, data and weight gradients against the float64 reference (tests/reference.py) on every
ISA the GEMM micro-kernel has, the reference against finite differences, PyTorch's conv3d /
conv_transpose3d where installed, and bad calls for clear errors.
"""
import numpy as np
import pytest

from corenn import kernels
import reference as ref


def _close(got, want, tol=1e-4):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * (np.abs(want).max() + 1e-6))


# (x shape, kernel (KD, KH, KW), filters, strides, padding, dilation, groups)
CASES = [
    ((2, 4, 5, 4, 3), (3, 3, 3), 4, (1, 1, 1), "valid", (1, 1, 1), 1),
    ((1, 5, 4, 6, 2), (3, 2, 3), 3, (2, 1, 2), "same", (1, 1, 1), 1),      # odd 'same' padding
    ((2, 6, 5, 5, 4), (2, 3, 3), 6, (1, 2, 1), "same", (2, 1, 2), 2),      # dilation, groups
    ((1, 3, 3, 3, 20), (1, 1, 1), 17, (1, 1, 1), "valid", (1, 1, 1), 1),   # pointwise, wide
    ((3, 4, 4, 4, 6), (3, 3, 3), 6, (2, 2, 2), "valid", (1, 1, 1), 3),
]


def _data(case, rng):
    x_shape, k, f, _, _, _, groups = case
    x = rng.normal(size=x_shape).astype(np.float32)
    w = rng.normal(size=k + (x_shape[4] // groups, f)).astype(np.float32)
    b = rng.normal(size=(f,)).astype(np.float32)
    return x, w, b


def _args(case):
    return dict(strides=case[3], padding=case[4], dilation_rate=case[5])


@pytest.mark.parametrize("case", CASES)
def test_conv3d_forward_and_gradients_match_the_reference(case, rng, isa):
    x, w, b = _data(case, rng)
    a, groups = _args(case), case[6]
    ra = dict(strides=case[3], padding=case[4], dilation=case[5], groups=groups)
    y = kernels.conv3d(x, w, b, groups=groups, **a)
    _close(y, ref.conv3d(x, w, b, **ra))
    dy = rng.normal(size=tuple(y.shape)).astype(np.float32)
    dx_want, dw_want, db_want = ref.conv3d_grads(x, w, dy, **ra)
    _close(kernels.conv3d_backward_data(dy, w, x.shape, groups=groups, **a), dx_want)
    dw, db = kernels.conv3d_backward_weights(x, dy, w.shape, bias=True, groups=groups, **a)
    _close(dw, dw_want)
    _close(db, db_want)


# (x shape, kernel (KD, KH, KW), filters, strides, padding, output_padding, dilation)
TRANSPOSE_CASES = [
    ((2, 3, 4, 3, 3), (3, 3, 3), 2, (1, 1, 1), "valid", None, (1, 1, 1)),
    ((1, 2, 3, 3, 4), (3, 2, 3), 3, (2, 2, 1), "same", None, (1, 1, 1)),
    ((2, 2, 2, 3, 2), (2, 3, 2), 4, (2, 3, 2), "valid", (1, 2, 0), (1, 1, 1)),
    ((1, 3, 3, 3, 3), (3, 3, 3), 2, (1, 1, 1), "same", None, (2, 1, 2)),
    ((1, 2, 2, 2, 2), (1, 1, 1), 3, (3, 3, 3), "valid", None, (1, 1, 1)),   # kernel < stride: gaps
]


def _transpose_data(case, rng):
    x_shape, k, f = case[:3]
    x = rng.normal(size=x_shape).astype(np.float32)
    w = rng.normal(size=k + (f, x_shape[4])).astype(np.float32)
    b = rng.normal(size=(f,)).astype(np.float32)
    return x, w, b


def _transpose_args(case):
    return dict(strides=case[3], padding=case[4], output_padding=case[5], dilation_rate=case[6])


@pytest.mark.parametrize("case", TRANSPOSE_CASES)
def test_conv3d_transpose_matches_the_reference(case, rng, isa):
    x, w, b = _transpose_data(case, rng)
    a = _transpose_args(case)
    ra = dict(strides=case[3], padding=case[4], output_padding=case[5], dilation=case[6])
    y = kernels.conv3d_transpose(x, w, b, **a)
    _close(y, ref.conv3d_transpose(x, w, b, **ra))
    dy = rng.normal(size=tuple(y.shape)).astype(np.float32)
    dx_want, dw_want, db_want = ref.conv3d_transpose_grads(x, w, dy, **ra)
    _close(kernels.conv3d_transpose_backward_data(dy, w, x.shape, **a), dx_want)
    dw, db = kernels.conv3d_transpose_backward_weights(x, dy, w.shape, bias=True, **a)
    _close(dw, dw_want)
    _close(db, db_want)


def test_reference_gradients_match_finite_differences(rng):
    x = rng.normal(size=(1, 3, 3, 4, 2))
    w = rng.normal(size=(2, 2, 3, 1, 4))
    dy = rng.normal(size=ref.conv3d(x, w, strides=(1, 2, 1), padding="same", groups=2).shape)
    args = dict(strides=(1, 2, 1), padding="same", dilation=(1, 1, 1), groups=2)
    dx, dw, _ = ref.conv3d_grads(x, w, dy, **args)
    np.testing.assert_allclose(dx, ref.numerical_grad(lambda v: (ref.conv3d(v, w, **args) * dy).sum(), x),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dw, ref.numerical_grad(lambda v: (ref.conv3d(x, v, **args) * dy).sum(), w),
                               rtol=1e-6, atol=1e-8)
    wt = rng.normal(size=(2, 3, 2, 3, 2))
    targs = dict(strides=(2, 1, 2), padding="same", output_padding=None, dilation=(1, 1, 1))
    dyt = rng.normal(size=ref.conv3d_transpose(x, wt, **targs).shape)
    dx, dw, _ = ref.conv3d_transpose_grads(x, wt, dyt, **targs)
    np.testing.assert_allclose(
        dx, ref.numerical_grad(lambda v: (ref.conv3d_transpose(v, wt, **targs) * dyt).sum(), x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        dw, ref.numerical_grad(lambda v: (ref.conv3d_transpose(x, v, **targs) * dyt).sum(), wt), rtol=1e-6, atol=1e-8)


def test_conv3d_gradients_match_finite_differences_of_the_kernel(rng):
    """The compiled forward's own finite differences (float32: a loose tolerance) agree with
    the compiled gradients."""
    x = rng.normal(size=(1, 3, 3, 3, 2)).astype(np.float32)
    w = rng.normal(size=(2, 2, 2, 2, 2)).astype(np.float32)
    dy = rng.normal(size=(1, 2, 2, 2, 2)).astype(np.float32)
    loss = lambda xv, wv: float(np.sum(np.asarray(kernels.conv3d(xv.astype(np.float32), wv.astype(np.float32)),
                                                  np.float64) * dy))
    num_dx = ref.numerical_grad(lambda v: loss(v, w), x, eps=1e-2)
    num_dw = ref.numerical_grad(lambda v: loss(x, v), w, eps=1e-2)
    _close(kernels.conv3d_backward_data(dy, w, x.shape), num_dx, tol=2e-3)
    _close(kernels.conv3d_backward_weights(x, dy, w.shape), num_dw, tol=2e-3)


def test_large_volume_runs_in_several_column_blocks(rng):
    """A data gradient whose columns exceed one block (2^18 floats) scatters block by block."""
    x = rng.normal(size=(2, 10, 12, 12, 16)).astype(np.float32)
    w = rng.normal(size=(3, 3, 3, 16, 4)).astype(np.float32)
    dy = rng.normal(size=(2, 10, 12, 12, 4)).astype(np.float32)
    got = np.asarray(kernels.conv3d_backward_data(dy, w, x.shape, padding="same"))
    # the flipped-kernel forward conv of dy is the same data gradient for stride 1
    flipped = np.ascontiguousarray(w[::-1, ::-1, ::-1].transpose(0, 1, 2, 4, 3))
    _close(got, kernels.conv3d(dy, flipped, padding="same"))


# ---- PyTorch parity -------------------------------------------------------------------------

def _torch_same_pad(torch, x, k, s, d):
    """x (N, C, D, H, W) padded as TensorFlow's 'same' (the odd cell after)."""
    pads = []
    for a in (2, 1, 0):   # torch's pad lists the last axis first
        size, ek = x.shape[2 + a], (k[a] - 1) * d[a] + 1
        total = max((-(-size // s[a]) - 1) * s[a] + ek - size, 0)
        pads += [total // 2, total - total // 2]
    return torch.nn.functional.pad(x, pads)


@pytest.mark.parametrize("case", CASES)
def test_conv3d_matches_pytorch_forward_and_backward(case, rng):
    torch = pytest.importorskip("torch")
    x, w, b = _data(case, rng)
    a, groups = _args(case), case[6]
    tx, tw, tb = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (x, w, b))
    xt = tx.permute(0, 4, 1, 2, 3)
    if case[4] == "same":
        xt = _torch_same_pad(torch, xt, case[1], case[3], case[5])
    ty = torch.nn.functional.conv3d(xt, tw.permute(4, 3, 0, 1, 2), tb, stride=case[3], dilation=case[5],
                                    groups=groups).permute(0, 2, 3, 4, 1)
    y = kernels.conv3d(x, w, b, groups=groups, **a)
    _close(y, ty.detach().numpy())
    dy = rng.normal(size=tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.tensor(dy, dtype=torch.float64))
    _close(kernels.conv3d_backward_data(dy, w, x.shape, groups=groups, **a), tx.grad.numpy())
    dw, db = kernels.conv3d_backward_weights(x, dy, w.shape, bias=True, groups=groups, **a)
    _close(dw, tw.grad.numpy())
    _close(db, tb.grad.numpy())


@pytest.mark.parametrize("case", [c for c in TRANSPOSE_CASES if c[4] == "valid"])
def test_conv3d_transpose_matches_pytorch_forward_and_backward(case, rng):
    """'valid' transposed convs: torch's output_padding extends the output as Keras' does."""
    torch = pytest.importorskip("torch")
    x, w, b = _transpose_data(case, rng)
    a = _transpose_args(case)
    tx, tw, tb = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (x, w, b))
    lengths = [ref.conv_transpose_length(x.shape[1 + i], w.shape[i], case[3][i], "valid",
                                         None if case[5] is None else case[5][i], case[6][i])[0]
               for i in range(3)]
    full = [(x.shape[1 + i] - 1) * case[3][i] + (w.shape[i] - 1) * case[6][i] + 1 for i in range(3)]
    ty = torch.nn.functional.conv_transpose3d(
        tx.permute(0, 4, 1, 2, 3), tw.permute(4, 3, 0, 1, 2), tb, stride=case[3],
        output_padding=[L - f for L, f in zip(lengths, full)], dilation=case[6]).permute(0, 2, 3, 4, 1)
    y = kernels.conv3d_transpose(x, w, b, **a)
    _close(y, ty.detach().numpy())
    dy = rng.normal(size=tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.tensor(dy, dtype=torch.float64))
    _close(kernels.conv3d_transpose_backward_data(dy, w, x.shape, **a), tx.grad.numpy())
    dw, db = kernels.conv3d_transpose_backward_weights(x, dy, w.shape, bias=True, **a)
    _close(dw, tw.grad.numpy())
    _close(db, tb.grad.numpy())


# ---- bad calls ------------------------------------------------------------------------------

def test_bad_calls_raise_clear_errors():
    x = np.zeros((1, 4, 4, 4, 3), np.float32)
    w = np.zeros((2, 2, 2, 3, 5), np.float32)
    with pytest.raises(ValueError, match=r"conv3d_forward.*3 channels.*\(KD, KH, KW, 3, Cout\)"):
        kernels.conv3d(x, np.zeros((2, 2, 2, 4, 5), np.float32))
    with pytest.raises(ValueError, match=r"conv3d_forward.*5-D"):
        kernels.conv3d(x, np.zeros((2, 2, 3, 5), np.float32))
    with pytest.raises(ValueError, match=r"conv3d_forward.*5-D \(batch, depth"):
        kernels.conv3d(x[0], w)
    with pytest.raises(ValueError, match=r"conv3d_forward.*smaller than the \(dilated\) kernel"):
        kernels.conv3d(x, np.zeros((5, 2, 2, 3, 5), np.float32))
    with pytest.raises(ValueError, match=r"conv3d_forward.*groups=2 must divide"):
        kernels.conv3d(x, np.zeros((2, 2, 2, 1, 4), np.float32), groups=2)
    with pytest.raises(ValueError, match=r"conv3d_forward.*bias"):
        kernels.conv3d(x, w, np.zeros((4,), np.float32))
    with pytest.raises(ValueError, match=r"conv3d_forward.*y must have shape|out has shape"):
        kernels.conv3d(x, w, out=np.zeros((1, 3, 3, 3, 4), np.float32))
    with pytest.raises(TypeError, match=r"conv3d_forward.*x.*float32"):
        kernels.conv3d(x.astype(np.float64), w)
    with pytest.raises(ValueError, match=r"conv3d_backward_data.*dy"):
        kernels.conv3d_backward_data(np.zeros((1, 2, 2, 2, 5), np.float32), w, x.shape)
    with pytest.raises(ValueError, match=r"conv3d_backward_weights.*dy"):
        kernels.conv3d_backward_weights(x, np.zeros((1, 3, 3, 3, 4), np.float32), w.shape)
    with pytest.raises(ValueError, match=r"conv3d_transpose_forward.*\(KD, KH, KW, Cout, Cin\)"):
        kernels.conv3d_transpose(x, np.zeros((2, 2, 2, 5, 4), np.float32))
    with pytest.raises(ValueError, match=r"conv3d_transpose_forward.*output_padding"):
        kernels.conv3d_transpose(x, np.zeros((2, 2, 2, 5, 3), np.float32), strides=2, output_padding=(2, 0, 0))
    with pytest.raises(ValueError, match=r"conv3d_forward.*strides"):
        kernels.conv3d(x, w, strides=(1, 0, 1))
