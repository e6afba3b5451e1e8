"""Plain NumPy implementations of every kernel: the test oracle.

Everything here is written the obvious way, in float64, straight from the math (and from the
Keras source where Keras semantics are the spec), with no attempt at speed. Tests compare the
compiled kernels against these functions and check these functions themselves against finite
differences where a gradient is involved.
"""
from __future__ import annotations

import numpy as np


def f64(x):
    return np.asarray(x, dtype=np.float64)


def numerical_grad(f, x, eps=1e-6):
    """Central finite differences of the scalar function f at x (float64)."""
    x = f64(x).copy()
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f(x)
        flat[i] = old - eps
        down = f(x)
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


# =============================================================================================
# GEMM
# =============================================================================================

def gemm(a, b, c=None, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, bias=None,
         activation="none"):
    a, b = f64(a), f64(b)
    a = a.T if trans_a else a
    b = b.T if trans_b else b
    out = alpha * (a @ b)
    if beta != 0.0:
        out = out + beta * f64(c)
    if bias is not None:
        out = out + f64(bias)
    if activation == "relu":
        out = np.maximum(out, 0.0)
    return out


# =============================================================================================
# Activations, bias gradient, dropout, regularizers
# =============================================================================================


# =============================================================================================
# Losses and metrics
# =============================================================================================


# =============================================================================================
# Optimizers
# =============================================================================================
