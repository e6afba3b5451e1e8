"""``tf.linalg``: TensorFlow's linear-algebra names over ``corenn.ops`` (differentiable where the
Keras op is)."""
from __future__ import annotations

import collections

import numpy as np

from . import ops
from ._tf_api import einsum, matmul, norm  # noqa: F401

__all__ = ["einsum", "matmul", "norm", "inv", "det", "slogdet", "logdet", "solve", "cholesky", "qr", "eigh",
           "triangular_solve", "lstsq", "trace", "diag_part", "matrix_transpose", "band_part", "normalize",
           "l2_normalize"]


def inv(input, adjoint=False, name=None):  # noqa: A002 - TensorFlow's names
    return ops.inv(ops.swapaxes(input, -1, -2) if adjoint else input)


def det(input, name=None):  # noqa: A002
    return ops.det(input)


def slogdet(input, name=None):  # noqa: A002
    return ops.slogdet(input)


def logdet(matrix, name=None):
    return ops.logdet(matrix)


def solve(matrix, rhs, adjoint=False, name=None):
    return ops.solve(ops.swapaxes(matrix, -1, -2) if adjoint else matrix, rhs)


def cholesky(input, name=None):  # noqa: A002
    return ops.cholesky(input)


Qr = collections.namedtuple("Qr", ["q", "r"])   # TensorFlow's result type: .q and .r


def qr(input, full_matrices=False, name=None):  # noqa: A002
    return Qr(*ops.qr(input, mode="complete" if full_matrices else "reduced"))


def eigh(tensor, name=None):
    return ops.eigh(tensor)


def triangular_solve(matrix, rhs, lower=True, adjoint=False, name=None):
    if adjoint:
        matrix, lower = ops.swapaxes(matrix, -1, -2), not lower
    return ops.solve_triangular(matrix, rhs, lower=lower)


def lstsq(matrix, rhs, l2_regularizer=0.0, fast=True, name=None):
    if l2_regularizer:
        raise NotImplementedError("tf.linalg.lstsq: l2_regularizer is not supported")
    return ops.lstsq(matrix, rhs)


def trace(x, name=None):
    return ops.trace(x, axis1=-2, axis2=-1)


def diag_part(input, k=0, name=None):  # noqa: A002
    return ops.diagonal(input, offset=k, axis1=-2, axis2=-1)


def matrix_transpose(a, name=None, conjugate=False):
    return ops.swapaxes(a, -1, -2)


def band_part(input, num_lower, num_upper, name=None):  # noqa: A002
    """Keep the band of ``num_lower`` sub- and ``num_upper`` super-diagonals (-1: all)."""
    x = input
    if num_lower >= 0:
        x = ops.triu(x, k=-int(num_lower))
    if num_upper >= 0:
        x = ops.tril(x, k=int(num_upper))
    return x


def normalize(tensor, ord="euclidean", axis=None, name=None):  # noqa: A002 - TensorFlow's names
    """(tensor / norm, norm): TensorFlow's tf.linalg.normalize; the norm keeps its axes (size 1),
    both differentiable. ord: 'euclidean' / 2, 1, np.inf or any p > 0, over the whole tensor
    (axis=None) or the given axis."""
    t = ops._to_tensor(tensor)
    if ord in ("euclidean", "fro", 2, 2.0):
        norm = ops.sqrt(ops.sum(ops.square(t), axis=axis, keepdims=True))
    elif ord in (1, 1.0):
        norm = ops.sum(ops.abs(t), axis=axis, keepdims=True)
    elif ord in (np.inf, "inf"):
        norm = ops.max(ops.abs(t), axis=axis, keepdims=True)
    elif isinstance(ord, (int, float)) and ord > 0:
        norm = ops.power(ops.sum(ops.power(ops.abs(t), float(ord)), axis=axis, keepdims=True), 1.0 / ord)
    else:
        raise ValueError(f"tf.linalg.normalize: ord must be 'euclidean', 'fro', 1, 2, np.inf or a p > 0, got {ord!r}")
    return ops.divide(t, norm), norm


def l2_normalize(x, axis=None, epsilon=1e-12, name=None):
    from .math import l2_normalize as _l2
    return _l2(x, axis=axis, epsilon=epsilon)


# -- more of tf.linalg (TensorFlow's argument orders: svd returns (s, u, v), v not v^T) -----------
from ._tf_control import eye, tensordot  # noqa: E402,F401

__all__ += ["adjoint", "diag", "set_diag", "eye", "svd", "matvec", "global_norm", "tensordot", "cross", "pinv",
            "matrix_rank", "eigvalsh", "cholesky_solve", "expm"]


def adjoint(matrix, name=None):
    """The conjugate transpose of the last two axes (the transpose: corenn's tensors are real)."""
    return ops.swapaxes(matrix, -1, -2)


def diag(diagonal, name=None, k=0, num_rows=-1, num_cols=-1, padding_value=0, align="RIGHT_LEFT"):
    """Matrices with ``diagonal``'s last axis on their k-th diagonal (batched over the leading
    axes; differentiable)."""
    d = ops._to_tensor(diagonal)
    if d.ndim < 1:
        raise ValueError(f"tf.linalg.diag: diagonal must have at least 1 axis, got shape {tuple(d.shape)}")
    if padding_value != 0 or int(num_rows) not in (-1,) or int(num_cols) not in (-1,):
        raise ValueError("tf.linalg.diag: num_rows, num_cols and padding_value are not supported")
    k = int(k)
    n = int(d.shape[-1])
    square = ops.multiply(ops.expand_dims(d, -1), np.eye(n, dtype=np.float32))
    if k == 0:
        return square
    pads = [(0, 0)] * (d.ndim - 1)
    # row i holds entry i at column i + k: shift by padding |k| columns before (k > 0) or rows before
    extra = [(0, abs(k)), (abs(k), 0)] if k > 0 else [(abs(k), 0), (0, abs(k))]
    return ops.pad(square, pads + extra)


def set_diag(input, diagonal, name=None, k=0, align="RIGHT_LEFT"):  # noqa: A002
    """input with its main diagonal replaced by ``diagonal`` (differentiable in both)."""
    if int(k) != 0:
        raise ValueError("tf.linalg.set_diag: only k=0 is supported")
    x, d = ops._to_tensor(input), ops._to_tensor(diagonal)
    m, n = int(x.shape[-2]), int(x.shape[-1])
    if tuple(d.shape) != tuple(x.shape[:-2]) + (min(m, n),):
        raise ValueError(f"tf.linalg.set_diag: diagonal of shape {tuple(d.shape)} does not fit matrices of shape "
                         f"{tuple(x.shape)} (expected {tuple(x.shape[:-2]) + (min(m, n),)})")
    mask = np.eye(m, n, dtype=np.float32)
    k_ = min(m, n)
    placed = ops.matmul(ops.multiply(ops.expand_dims(d, -1), np.eye(k_, dtype=np.float32)), np.eye(k_, n, dtype=np.float32))
    placed = ops.matmul(np.eye(m, k_, dtype=np.float32), placed)
    return ops.add(ops.multiply(x, 1.0 - mask), placed)


def svd(tensor, full_matrices=False, compute_uv=True, name=None):
    """(s, u, v) with tensor = u diag(s) v^T, s descending (TensorFlow's order and v); s alone
    without compute_uv. Differentiable (distinct singular values)."""
    if not compute_uv:
        return ops.svd(tensor, full_matrices=full_matrices, compute_uv=False)
    u, s, vh = ops.svd(tensor, full_matrices=full_matrices, compute_uv=True)
    return s, u, ops.swapaxes(vh, -1, -2)


def matvec(a, b, transpose_a=False, adjoint_a=False, a_is_sparse=False, b_is_sparse=False, name=None):
    """a @ b for matrices a (..., m, n) and vectors b (..., n)."""
    if transpose_a or adjoint_a:
        a = ops.swapaxes(a, -1, -2)
    return ops.squeeze(ops.matmul(a, ops.expand_dims(b, -1)), axis=-1)


def global_norm(t_list, name=None):
    """sqrt of the sum of squares of every entry of every tensor (None entries skipped)."""
    present = [ops._to_tensor(t) for t in t_list if t is not None]
    if not present:
        return ops._to_tensor(np.float32(0.0))
    total = ops.sum(ops.square(present[0]))
    for t in present[1:]:
        total = ops.add(total, ops.sum(ops.square(t)))
    return ops.sqrt(total)


def cross(a, b, name=None):
    return ops.cross(a, b)


def pinv(a, rcond=None, validate_args=False, name=None):
    """The Moore-Penrose pseudo-inverse through the SVD; singular values below
    rcond * max(s) (default 10 * max(m, n) * eps) count as 0."""
    t = ops._to_tensor(a)
    m, n = int(t.shape[-2]), int(t.shape[-1])
    u, s, vh = ops.svd(t, full_matrices=False)
    cut = (10.0 * max(m, n) * np.finfo(np.float32).eps if rcond is None else float(rcond)) * \
        np.max(np.asarray(s), axis=-1, keepdims=True)
    keep = (np.asarray(s) > cut).astype(np.float32)
    s_inv = ops.multiply(ops.divide(keep, ops.add(s, 1.0 - keep)), keep)
    return ops.matmul(ops.swapaxes(vh, -1, -2), ops.multiply(ops.expand_dims(s_inv, -1), ops.swapaxes(u, -1, -2)))


def matrix_rank(a, tol=None, validate_args=False, name=None):
    s = np.linalg.svd(np.asarray(a, np.float64), compute_uv=False)
    m, n = np.shape(a)[-2:]
    cut = (max(m, n) * np.finfo(np.float32).eps * s.max(axis=-1, keepdims=True)) if tol is None else float(tol)
    from .kernels import Tensor
    return Tensor.from_numpy(np.asarray(np.sum(s > cut, axis=-1).astype(np.int32), order="C"))


def eigvalsh(tensor, name=None):
    return ops.eigh(tensor)[0]


def cholesky_solve(chol, rhs, name=None):
    """Solve A X = rhs given A's lower Cholesky factor."""
    y = ops.solve_triangular(chol, rhs, lower=True)
    return ops.solve_triangular(ops.swapaxes(chol, -1, -2), y, lower=False)


def expm(input, name=None):  # noqa: A002
    """The matrix exponential by scaling and squaring with a Taylor series (differentiable)."""
    x = ops._to_tensor(input)
    n = int(x.shape[-1])
    norm = float(np.max(np.abs(np.asarray(x)).sum(axis=-1))) if np.asarray(x).size else 0.0
    squarings = max(0, int(np.ceil(np.log2(norm))) + 1) if norm > 0.5 else 0
    a = ops.multiply(x, 1.0 / (2 ** squarings))
    eye_ = np.broadcast_to(np.eye(n, dtype=np.float32), tuple(x.shape)).copy()
    term, total = ops._to_tensor(eye_), ops._to_tensor(eye_)
    for k in range(1, 19):
        term = ops.divide(ops.matmul(term, a), float(k))
        total = ops.add(total, term)
    for _ in range(squarings):
        total = ops.matmul(total, total)
    return total


from ._linalg_more import (banded_triangular_solve, eigh_tridiagonal, logm, lu, lu_matrix_inverse, lu_reconstruct,  # noqa: E402,F401
                           lu_solve, matrix_square_root, sqrtm, tensor_diag, tensor_diag_part, tridiagonal_matmul,
                           tridiagonal_solve)
from ._linalg_more import __all__ as _more  # noqa: E402

__all__ += [n for n in _more if n not in __all__] + ["eig", "eigvals"]


def eig(tensor, name=None):
    """(eigenvalues, eigenvectors) of square matrices, as corenn's complex pairs (no gradient)."""
    return ops.eig(tensor)


def eigvals(tensor, name=None):
    return ops.eig(tensor)[0]

from ._linalg_operators import *  # noqa: E402,F401,F403  (LinearOperator and its family)
from ._linalg_operators import __all__ as _operators  # noqa: E402

__all__ += _operators
