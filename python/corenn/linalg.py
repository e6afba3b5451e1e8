"""``tf.linalg``: TensorFlow's linear-algebra names over ``corenn.ops`` (differentiable where the
Keras op is)."""
from __future__ import annotations

from . import ops
from ._tf_api import matmul, norm  # noqa: F401

__all__ = ["matmul", "norm", "inv", "det", "slogdet", "logdet", "solve", "cholesky", "qr", "eigh",
           "triangular_solve", "lstsq", "trace", "diag_part", "matrix_transpose", "band_part"]


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
