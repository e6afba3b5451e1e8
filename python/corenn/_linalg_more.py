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
