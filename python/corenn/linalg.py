"""``tf.linalg``: TensorFlow's linear-algebra names over ``corenn.ops`` (differentiable where the
Keras op is)."""
from __future__ import annotations

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


def qr(input, full_matrices=False, name=None):  # noqa: A002
    return ops.qr(input, mode="complete" if full_matrices else "reduced")


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
    t = ops.convert_to_tensor(tensor)
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
