"""The rest of ``keras.ops.linalg`` (Keras 3.15) for corenn.ops: the pseudo-inverse and what is
built on it (the minimum-norm ``lstsq``, ``matrix_rank``), ``cholesky_inverse``, ``lu_factor``,
``eig``, ``cdist`` and forward-mode ``jvp``.

Each op computes in float64 NumPy and records a float64 backward rule on the tape, as the NumPy
section of corenn.ops does; its names are served by corenn.ops (and keras.ops.linalg).

    pinv:   A+ = V diag(1/s_i, s_i > rcond max s) U^T                (A = U diag(s) V^T)
            dA = -A+^T G A+^T + (I - A A+) G^T A+ A+^T + A+^T A+ G^T (I - A+ A)
            (Golub & Pereyra 1973; holds where the rank is locally constant)
    lstsq:  X = A+ B, the minimum-norm least-squares solution (NumPy's, Keras')
"""
from __future__ import annotations

import numpy as np

from . import autodiff
from . import ops as _o
from .kernels import Tensor

__all__ = ["pinv", "lstsq", "matrix_rank", "cholesky_inverse", "lu_factor", "eig", "cdist", "jvp"]

_EPS32 = float(np.finfo(np.float32).eps)


def _matrices(op, x):
    t = _o._f32(x, op)
    if t.ndim < 2:
        raise ValueError(f"ops.{op}: needs matrices (..., m, n), got shape {tuple(t.shape)}")
    return t


def _pinv64(a, rcond):
    """A+ of float64 matrices (..., m, n), singular values below rcond * max(s) dropped."""
    m, n = a.shape[-2:]
    rc = _EPS32 * max(m, n) if rcond is None else float(rcond)
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    cut = rc * (s.max(axis=-1, keepdims=True) if s.size else 0.0)
    inv_s = np.where(s > cut, 1.0 / np.where(s > cut, s, 1.0), 0.0)
    return _o._mT(vh) @ (inv_s[..., :, None] * _o._mT(u))


def pinv(x, rcond=None):
    """The Moore-Penrose pseudo-inverse A+ of (..., m, n) matrices: V diag(1/s) U^T over the
    singular values s_i > rcond * max(s) (rcond default: float32 eps * max(m, n), as Keras /
    torch.linalg.pinv). Gradient (constant rank):
    dA = -A+^T G A+^T + (I - A A+) G^T A+ A+^T + A+^T A+ G^T (I - A+ A)."""
    t = _matrices("pinv", x)
    a = _o._np64(t)
    p = _pinv64(a, rcond)
    y = _o._t(p)

    def rule(dys):
        g = _o._np64(dys[0])
        pT, gT = _o._mT(p), _o._mT(g)
        m, n = a.shape[-2:]
        q = np.eye(m) - a @ p                  # I - A A+ (m, m)
        r = np.eye(n) - p @ a                  # I - A+ A (n, n)
        return [_o._t(-pT @ g @ pT + q @ gT @ p @ pT + pT @ p @ gT @ r)]
    _o._record(rule, [t], [y])
    return y


def lstsq(a, b, rcond=None):
    """The least-squares solution of A X = B of least norm (NumPy's and Keras'): X = A+ B, for
    A (m, n) of any shape and rank (over- or under-determined, rank deficient) and B (m,) or
    (m, k); singular values below rcond * max(s) count as zero (default float32 eps * max(m, n)).
    Differentiable in A (through pinv, at constant rank) and B."""
    A, B = _o._f32(a, "lstsq"), _o._f32(b, "lstsq")
    if A.ndim != 2 or B.ndim not in (1, 2) or B.shape[0] != A.shape[0]:
        raise ValueError(f"ops.lstsq: needs a (m, n) and b (m,) or (m, k), got {tuple(A.shape)} and {tuple(B.shape)}")
    return _o.matmul(pinv(A, rcond), B)


def matrix_rank(x, tol=None):
    """The number of singular values above tol (default max(s) * max(m, n) * float32 eps), as
    NumPy's matrix_rank; int32 (Keras), no gradient."""
    t = _matrices("matrix_rank", x)
    s = np.linalg.svd(_o._np64(t), compute_uv=False)
    m, n = t.shape[-2:]
    cut = (s.max(axis=-1, keepdims=True) * max(m, n) * _EPS32 if s.size else 0.0) if tol is None else float(tol)
    return _o._t(np.sum(s > cut, axis=-1).astype(np.int32))


def cholesky_inverse(x, upper=False):
    """A^-1 from A's Cholesky factor: (L L^T)^-1 for lower L, (U^T U)^-1 with upper=True
    (torch.cholesky_inverse); only the factor's triangle is read. Differentiable (the product's
    inverse: dF from d(A^-1) through matmul and inv)."""
    t = _o._square_matrices("cholesky_inverse", x)
    tri = np.triu if upper else np.tril
    f = _o._gather("cholesky_inverse", t, lambda i: tri(i + 1) - 1, lambda m: tri(m))
    ft = _o.swapaxes(f, -1, -2)
    return _o.inv(_o.matmul(ft, f) if upper else _o.matmul(f, ft))


def lu_factor(x):
    """(LU, pivots) of square matrices, partial pivoting (LAPACK getrf, scipy.linalg.lu_factor):
    L (unit lower, below the diagonal) and U (upper) packed in one matrix; pivots[i] = the row
    swapped with row i at step i (0-based, int32, as Keras). No gradient (a constant)."""
    t = _o._square_matrices("lu_factor", x)
    a = _o._np64(t).copy()
    n = a.shape[-1]
    flat = a.reshape(-1, n, n)
    piv = np.zeros((flat.shape[0], n), np.int32)
    for b, m in enumerate(flat):
        for k in range(n):
            p = k + int(np.argmax(np.abs(m[k:, k])))
            piv[b, k] = p
            if p != k:
                m[[k, p]] = m[[p, k]]
            if m[k, k] != 0:
                m[k + 1:, k] /= m[k, k]
                m[k + 1:, k + 1:] -= np.outer(m[k + 1:, k], m[k, k + 1:])
    return _o._t(flat.reshape(a.shape)), _o._t(piv.reshape(a.shape[:-1]))


def eig(x):
    """Eigenvalues w and right eigenvectors V (columns, unit norm) of real square matrices,
    A V = V diag(w). They are complex in general, so each comes back as corenn's complex
    value, a ComplexPair (real, imag) of float32 Tensors as rfft / stft / view_as_complex
    return (Keras returns complex64 tensors). No gradient: corenn's tape carries no complex
    cotangents (use eigh for symmetric matrices, which is differentiable)."""
    t = _o._square_matrices("eig", x)
    w, v = _o._linalg("eig", np.linalg.eig, _o._np64(t))
    w, v = np.asarray(w, complex), np.asarray(v, complex)
    return (_o.ComplexPair((_o._t(w.real), _o._t(w.imag))),
            _o.ComplexPair((_o._t(v.real), _o._t(v.imag))))


def cdist(x, y, p=2.0):
    """Pairwise p-norm distances: out[..., i, j] = (sum_k |x[..., i, k] - y[..., j, k]|^p)^(1/p)
    for x (..., P, M), y (..., R, M): Keras' cdist is p = 2; other p as torch.cdist (0 counts
    differing entries, inf the largest difference). Differentiable (p > 0, away from coincident
    points)."""
    a, b = _o._f32(x, "cdist"), _o._f32(y, "cdist")
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-1]:
        raise ValueError(f"ops.cdist: needs x (..., P, M) and y (..., R, M) with one M, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    d = _o.subtract(_o.expand_dims(a, -2), _o.expand_dims(b, -3))    # (..., P, R, M)
    p = float(p)
    if p == 0:
        return _o.sum(_o.cast(_o.not_equal(d, 0.0), "float32"), axis=-1)
    if p == np.inf:
        return _o.max(_o.abs(d), axis=-1)
    if p == 2:
        return _o.sqrt(_o.sum(_o.square(d), axis=-1))
    if p == 1:
        return _o.sum(_o.abs(d), axis=-1)
    return _o.power(_o.sum(_o.power(_o.abs(d), p), axis=-1), 1.0 / p)


def jvp(fun, primals, tangents, has_aux=False):
    """Forward mode: (fun(*primals), J(primals) . tangents), and aux when has_aux (fun then
    returns (output, aux)). Computed by the double-vjp trick on corenn's higher-order tape:
    u -> vjp(u) = J^T u is linear in u, so differentiating <vjp(u), tangents> in u gives J t.
    ``primals`` and ``tangents`` are sequences of one structure (float tensors)."""
    if not isinstance(primals, (list, tuple)) or not isinstance(tangents, (list, tuple)) or len(primals) != len(tangents):
        raise ValueError("ops.jvp: primals and tangents must be sequences of the same length, got "
                         f"{type(primals).__name__} and {type(tangents).__name__}")
    xs = [_o._f32(p, "jvp") for p in primals]
    ts = [_o._f32(t, "jvp") for t in tangents]
    for x, t in zip(xs, ts):
        if tuple(x.shape) != tuple(t.shape):
            raise ValueError(f"ops.jvp: a tangent of shape {tuple(t.shape)} does not match its primal's {tuple(x.shape)}")
    with autodiff.GradientTape(persistent=True) as outer:
        outer.watch(xs)
        with autodiff.GradientTape(persistent=True) as inner:
            inner.watch(xs)
            res = fun(*xs)
            out, aux = (res if has_aux else (res, None))
            flat = list(out) if isinstance(out, (list, tuple)) else [out]
            flat = [_o._f32(o, "jvp") for o in flat]
            us = [Tensor.from_numpy(np.zeros(tuple(o.shape), np.float32)) for o in flat]
        outer.watch(us)
        try:
            g = inner.gradient(flat, xs, output_gradients=us)
        except NotImplementedError as exc:
            raise _jvp_refused(exc) from None
        pairing = [_o.sum(_o.multiply(gi, ti)) for gi, ti in zip(g, ts) if gi is not None]
        total = _o.sum(_o.stack(pairing)) if pairing else None
    if total is None:
        tangent_out = [_o.zeros_like(o) for o in flat]
    else:
        try:
            tangent_out = outer.gradient(total, us)
        except NotImplementedError as exc:
            raise _jvp_refused(exc) from None
        tangent_out = [_o.zeros_like(o) if d is None else d for o, d in zip(flat, tangent_out)]
    primal_out = out if isinstance(out, (list, tuple)) else flat[0]
    tan = type(out)(tangent_out) if isinstance(out, (list, tuple)) else tangent_out[0]
    return (primal_out, tan, aux) if has_aux else (primal_out, tan)


def _jvp_refused(exc):
    return NotImplementedError(f"ops.jvp: forward mode runs two reverse passes, the second through the first; {exc}")
