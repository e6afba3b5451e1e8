"""More of ``tf.linalg``: sqrtm (= tf.matrix_square_root). Float64 NumPy evaluation, float32
results, gradients recorded with their closed forms."""
from __future__ import annotations

import numpy as np

from . import ops

__all__ = ["sqrtm", "matrix_square_root"]


def _square(op, x):
    t = ops._f32(x, op)
    if t.ndim < 2 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"tf.linalg.{op}: needs square matrices (..., N, N), got shape {tuple(t.shape)}")
    return t


def _sylvester_sym(s, g):
    """Y with S^T Y + Y S^T = G (batched), through the eigenvectors of S^T."""
    lam, u = np.linalg.eig(np.swapaxes(s, -1, -2))
    ui = np.linalg.inv(u)
    gp = ui @ g @ u
    yp = gp / (lam[..., :, None] + lam[..., None, :])
    return np.real(u @ yp @ ui)


def sqrtm(input, name=None):  # noqa: A002
    """The principal square root S of each matrix (S @ S = A) by the Denman-Beavers iteration in
    float64 (A must have no eigenvalue on the closed negative real axis: nan otherwise, where
    there is no real root). Gradient: dA = Y with S^T Y + Y S^T = dS."""
    t = _square("sqrtm", input)
    a = np.asarray(t, np.float64)
    n = a.shape[-1]
    y, z = a.copy(), np.broadcast_to(np.eye(n), a.shape).copy()
    with np.errstate(all="ignore"):
        try:
            for _ in range(60):
                yi, zi = np.linalg.inv(y), np.linalg.inv(z)
                y_next, z = 0.5 * (y + zi), 0.5 * (z + yi)
                done = np.allclose(y_next, y, rtol=1e-15, atol=1e-300)
                y = y_next
                if done:
                    break
        except np.linalg.LinAlgError:
            y = np.full(a.shape, np.nan)
        bad = ~np.isfinite(y).all(axis=(-1, -2)) | (np.abs(y @ y - a).max(axis=(-1, -2))
                                                     > 1e-6 * (1 + np.abs(a).max(axis=(-1, -2))))
    y = np.where(bad[..., None, None], np.nan, y)
    out = ops._t(y)

    def rule(dys):
        with np.errstate(all="ignore"):
            return [ops._t(_sylvester_sym(y, np.asarray(dys[0], np.float64)))]
    ops._record(rule, [t], [out])
    return out


matrix_square_root = sqrtm


# -- LU -----------------------------------------------------------------------------------------------

__all__ += ["lu", "lu_reconstruct", "lu_solve", "lu_matrix_inverse", "logm", "tridiagonal_solve",
            "tridiagonal_matmul", "tensor_diag", "tensor_diag_part", "banded_triangular_solve"]


def lu(input, output_idx_type="int32", name=None):  # noqa: A002
    """(lower_upper, perm): partial-pivoting LU with input[..., perm, :] = L @ U, L unit lower
    (below the diagonal of lower_upper) and U upper. No gradient (a constant), as corenn's
    keras.ops.lu_factor."""
    packed, piv = ops.lu_factor(input)
    pv = np.asarray(piv).astype(np.int64)
    n = pv.shape[-1]
    perm = np.broadcast_to(np.arange(n), pv.shape).copy().reshape(-1, n)
    for b, row in enumerate(pv.reshape(-1, n)):
        for i, p in enumerate(row):
            perm[b, [i, p]] = perm[b, [p, i]]
    from ._tf_api import constant
    return packed, constant(perm.reshape(pv.shape), dtype=str(output_idx_type))


def _unpack(lower_upper):
    """(L with a unit diagonal, U) as recorded ops of lower_upper."""
    t = ops._to_tensor(lower_upper)
    n = int(t.shape[-1])
    low = np.tril(np.ones((n, n), np.float32), -1)
    L = ops.add(ops.multiply(t, low), np.eye(n, dtype=np.float32))
    U = ops.multiply(t, np.triu(np.ones((n, n), np.float32)))
    return L, U


def _inverse_perm(perm):
    p = np.asarray(perm).astype(np.int64)
    inv = np.empty_like(p)
    np.put_along_axis(inv, p, np.broadcast_to(np.arange(p.shape[-1]), p.shape), axis=-1)
    return inv


def _rows(x, perm):
    """x[..., perm[...], :] per batch entry (recorded)."""
    from ._tf_api import gather
    p = np.asarray(perm).astype(np.int64)
    return gather(x, p, axis=x.ndim - 2, batch_dims=p.ndim - 1)


def lu_reconstruct(lower_upper, perm, validate_args=False, name=None):
    """The matrix of an LU decomposition: (L @ U) with its rows put back (differentiable)."""
    L, U = _unpack(lower_upper)
    return _rows(ops.matmul(L, U), _inverse_perm(perm))


def lu_solve(lower_upper, perm, rhs, validate_args=False, name=None):
    """X with A X = rhs from A's LU: two triangular solves of the permuted rhs (differentiable
    in lower_upper and rhs)."""
    L, U = _unpack(lower_upper)
    b = ops._to_tensor(rhs)
    y = ops.solve_triangular(L, _rows(b, perm), lower=True)
    return ops.solve_triangular(U, y, lower=False)


def lu_matrix_inverse(lower_upper, perm, validate_args=False, name=None):
    n = int(ops._to_tensor(lower_upper).shape[-1])
    shape = tuple(ops._to_tensor(lower_upper).shape)
    return lu_solve(lower_upper, perm, np.broadcast_to(np.eye(n, dtype=np.float32), shape).copy())


def logm(input, name=None):  # noqa: A002
    """The principal matrix logarithm of real matrices whose logarithm is real (no eigenvalue on
    the closed negative real axis; nan otherwise): inverse scaling and squaring, square roots
    until ||A - I|| < 1/4, then the series of log(I + X). TensorFlow's logm takes only complex
    matrices; this is its real case. No gradient."""
    t = _square("logm", input)
    a = np.asarray(t, np.float64)
    n = a.shape[-1]
    eye = np.eye(n)
    out = np.empty_like(a)
    flat, res = a.reshape(-1, n, n), out.reshape(-1, n, n)
    for b, m in enumerate(flat):
        with np.errstate(all="ignore"):
            w = np.linalg.eigvals(m) if np.isfinite(m).all() else np.array([np.nan])
        if not np.isfinite(w).all() or np.any((np.abs(w.imag) < 1e-12 * (1 + np.abs(w.real))) & (w.real <= 0)):
            res[b] = np.nan
            continue
        k = 0
        x = m.copy()
        while np.abs(x - eye).sum(axis=1).max() > 0.25 and k < 60:
            x = _sqrtm64(x)
            k += 1
        d = x - eye
        term, acc = eye.copy(), np.zeros_like(x)
        for j in range(1, 60):
            term = term @ d
            acc += term * ((-1) ** (j + 1) / j)
        res[b] = acc * 2.0 ** k
    return ops._t(out)


def _sqrtm64(a):
    y, z = a.copy(), np.eye(a.shape[-1])
    for _ in range(100):
        y_next, z = 0.5 * (y + np.linalg.inv(z)), 0.5 * (z + np.linalg.inv(y))
        if np.allclose(y_next, y, rtol=1e-15, atol=1e-300):
            return y_next
        y = y_next
    return y


# -- tridiagonal and banded systems, tensor diagonals ------------------------------------------------

def _tridiagonal_dense(op, diagonals, diagonals_format):
    """The (..., M, M) matrix of the diagonals, built with a recorded scatter (differentiable)."""
    if diagonals_format == "matrix":
        return ops._to_tensor(diagonals)
    if diagonals_format == "sequence":
        sup, diag, sub = (ops.cast(ops._to_tensor(d), "float32") for d in diagonals)
        three = ops.stack([sup, diag, sub], axis=-2)
    elif diagonals_format == "compact":
        three = ops.cast(ops._to_tensor(diagonals), "float32")
    else:
        raise ValueError(f"tf.linalg.{op}: diagonals_format must be 'compact', 'sequence' or 'matrix', got "
                         f"{diagonals_format!r}")
    if three.ndim < 2 or int(three.shape[-2]) != 3:
        raise ValueError(f"tf.linalg.{op}: compact diagonals must have shape (..., 3, M), got {tuple(three.shape)}")
    m = int(three.shape[-1])
    batch = tuple(int(d) for d in three.shape[:-2])
    nb = int(np.prod(batch)) if batch else 1
    i = np.arange(m)
    cols = np.stack([i + 1, i, i - 1])                     # super, main, sub diagonals' columns
    ok = (cols >= 0) & (cols < m)
    local = np.where(ok, i[None, :] * m + cols, -1)
    idx = (np.arange(nb)[:, None, None] * m * m + local[None]).reshape(-1)
    idx = np.where(np.tile(ok.reshape(-1), nb), idx, -1)
    dense = ops._scatter_flat(ops.reshape(three, [-1]), idx, (nb * m * m,))
    return ops.reshape(dense, list(batch) + [m, m])


def tridiagonal_solve(diagonals, rhs, diagonals_format="compact", transpose_rhs=False, conjugate_rhs=False,
                      name=None, partial_pivoting=True, perturb_singular=False):
    """X with A X = rhs for tridiagonal A given as 'compact' (..., 3, M) rows (superdiagonal,
    diagonal, subdiagonal; the superdiagonal's last and the subdiagonal's first entries unused),
    'sequence' (three (..., M) tensors) or 'matrix'; rhs (..., M, K), or (..., M) as a vector,
    or (..., K, M) with transpose_rhs. Differentiable in the diagonals and rhs."""
    a = _tridiagonal_dense("tridiagonal_solve", diagonals, diagonals_format)
    b = ops._to_tensor(rhs)
    if transpose_rhs:
        b = ops.swapaxes(b, -1, -2)
    x = ops.solve(a, b)
    return ops.swapaxes(x, -1, -2) if transpose_rhs else x


def tridiagonal_matmul(diagonals, rhs, diagonals_format="compact", name=None):
    """A @ rhs for tridiagonal A (the formats of tridiagonal_solve). Differentiable."""
    return ops.matmul(_tridiagonal_dense("tridiagonal_matmul", diagonals, diagonals_format), ops._to_tensor(rhs))


def banded_triangular_solve(bands, rhs, lower=True, adjoint=False, name=None):
    """X with A X = rhs for a banded triangular A given by its K bands (..., K, M): lower: row k
    the k-th subdiagonal, left-padded (A[i, i - k] = bands[k, i]); upper: the bottom row the
    diagonal, row K - 1 - k the k-th superdiagonal, right-padded (A[i, i + k] = bands[K-1-k, i]).
    adjoint solves with A^T. Differentiable."""
    t = ops.cast(ops._to_tensor(bands), "float32")
    if t.ndim < 2:
        raise ValueError(f"tf.linalg.banded_triangular_solve: bands must be (..., K, M), got {tuple(t.shape)}")
    k_count, m = int(t.shape[-2]), int(t.shape[-1])
    batch = tuple(int(d) for d in t.shape[:-2])
    nb = int(np.prod(batch)) if batch else 1
    idx = np.full((k_count, m), -1, np.int64)
    for k in range(k_count):
        for i in range(m):
            if lower and i - k >= 0:
                idx[k, i] = i * m + (i - k)
            elif not lower and i + (k_count - 1 - k) < m:
                idx[k, i] = i * m + i + (k_count - 1 - k)
    full = (np.arange(nb)[:, None, None] * m * m + idx[None]).reshape(-1)
    full = np.where(np.tile(idx.reshape(-1) >= 0, nb), full, -1)
    a = ops.reshape(ops._scatter_flat(ops.reshape(t, [-1]), full, (nb * m * m,)), list(batch) + [m, m])
    if adjoint:
        a = ops.swapaxes(a, -1, -2)
    return ops.solve_triangular(a, rhs, lower=lower != bool(adjoint))


def tensor_diag(diagonal, name=None):
    """out[i1..ik, i1..ik] = diagonal[i1..ik], zeros elsewhere: shape diagonal.shape * 2."""
    t = ops._to_tensor(diagonal)
    shape = tuple(int(d) for d in t.shape)
    n = int(np.prod(shape)) if shape else 1
    dense = ops._scatter_flat(ops.reshape(t, [-1]), np.arange(n, dtype=np.int64) * (n + 1), (n * n,))
    return ops.reshape(dense, list(shape) * 2)


def tensor_diag_part(input, name=None):  # noqa: A002
    """The inverse of tensor_diag: input of shape s + s -> its diagonal of shape s."""
    t = ops._to_tensor(input)
    if t.ndim % 2 or tuple(t.shape[:t.ndim // 2]) != tuple(t.shape[t.ndim // 2:]):
        raise ValueError(f"tf.linalg.tensor_diag_part: input must have shape s + s, got {tuple(t.shape)}")
    shape = tuple(int(d) for d in t.shape[:t.ndim // 2])
    n = int(np.prod(shape)) if shape else 1
    return ops.reshape(ops._gather_flat(ops.reshape(t, [-1]), np.arange(n, dtype=np.int64) * (n + 1)), list(shape))


__all__ += ["eigh_tridiagonal"]


def eigh_tridiagonal(alpha, beta, eigvals_only=True, select="a", select_range=None, tol=None, name=None):
    """Eigenvalues (ascending), and with eigvals_only=False eigenvectors (columns), of the
    symmetric tridiagonal matrix of diagonal alpha (n,) and off-diagonal beta (n - 1,).
    select 'a' all, 'v' those in the half-open range (lo, hi], 'i' the indices lo..hi. No
    gradient (as TensorFlow)."""
    a = np.asarray(alpha, np.float64).reshape(-1)
    b = np.asarray(beta, np.float64).reshape(-1)
    if b.size != max(a.size - 1, 0):
        raise ValueError(f"tf.linalg.eigh_tridiagonal: beta must have {max(a.size - 1, 0)} entries, got {b.size}")
    m = np.diag(a) + np.diag(b, 1) + np.diag(b, -1)
    w, v = np.linalg.eigh(m)
    if select == "v":
        lo, hi = (float(x) for x in select_range)
        keep = (w > lo) & (w <= hi)
    elif select == "i":
        lo, hi = (int(x) for x in select_range)
        keep = (np.arange(w.size) >= lo) & (np.arange(w.size) <= hi)
    elif select == "a":
        keep = np.ones(w.size, bool)
    else:
        raise ValueError(f"tf.linalg.eigh_tridiagonal: select must be 'a', 'v' or 'i', got {select!r}")
    wt = ops._t(w[keep])
    return wt if eigvals_only else (wt, ops._t(v[:, keep]))


# float64 inputs compute in float64 (ops._numpy_float64: NumPy formulas, no C++ kernel)
sqrtm = matrix_square_root = ops._numpy_float64(sqrtm)
tensor_diag_part = ops._numpy_float64(tensor_diag_part)
