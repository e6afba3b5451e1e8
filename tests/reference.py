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

def _clip_grads(grads, clipnorm=0.0, clipvalue=0.0, global_clipnorm=0.0):
    """Keras 3 gradient clipping (base_optimizer._clip_gradients), in float64."""
    out = [f64(g) for g in grads]
    if clipvalue:
        out = [np.clip(g, -clipvalue, clipvalue) for g in out]
    if clipnorm:
        out = [g * clipnorm / max(np.sqrt(np.sum(g * g)), clipnorm) for g in out]
    if global_clipnorm:
        norm = np.sqrt(sum(np.sum(g * g) for g in out))
        out = [g * global_clipnorm / max(norm, global_clipnorm) for g in out]
    return out


def _decay(params, lr, weight_decay):
    return [f64(p) - f64(p) * weight_decay * lr for p in params]


def sgd_step(params, grads, momentums, lr, momentum=0.0, nesterov=False, weight_decay=0.0,
             clipnorm=0.0, clipvalue=0.0, global_clipnorm=0.0):
    """Returns (params, momentums) after one Keras 3 SGD step."""
    grads = _clip_grads(grads, clipnorm, clipvalue, global_clipnorm)
    params = _decay(params, lr, weight_decay)
    if momentum == 0:
        return [p - lr * g for p, g in zip(params, grads)], []
    new_p, new_m = [], []
    for p, g, m in zip(params, grads, momentums):
        m = momentum * f64(m) - lr * g
        p = p + (momentum * m - lr * g if nesterov else m)
        new_p.append(p)
        new_m.append(m)
    return new_p, new_m


def adam_step(params, grads, ms, vs, vhats, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7, step=0,
              amsgrad=False, weight_decay=0.0, clipnorm=0.0, clipvalue=0.0, global_clipnorm=0.0):
    """Returns (params, m, v, vhat) after one Keras 3 Adam step; ``step`` = iterations so far."""
    grads = _clip_grads(grads, clipnorm, clipvalue, global_clipnorm)
    params = _decay(params, lr, weight_decay)
    t = step + 1
    alpha = lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    out_p, out_m, out_v, out_vh = [], [], [], []
    for i, (p, g) in enumerate(zip(params, grads)):
        m = f64(ms[i]) + (g - f64(ms[i])) * (1 - beta_1)
        v = f64(vs[i]) + (g * g - f64(vs[i])) * (1 - beta_2)
        denom_v = v
        if amsgrad:
            denom_v = np.maximum(f64(vhats[i]), v)
            out_vh.append(denom_v)
        out_p.append(p - alpha * m / (np.sqrt(denom_v) + epsilon))
        out_m.append(m)
        out_v.append(v)
    return out_p, out_m, out_v, out_vh


def rmsprop_step(params, grads, velocities, momentums, average_grads, lr, rho=0.9, momentum=0.0,
                 epsilon=1e-7, centered=False, weight_decay=0.0, clipnorm=0.0, clipvalue=0.0,
                 global_clipnorm=0.0):
    """Returns (params, velocities, momentums, average_grads) after one Keras 3 RMSprop step."""
    grads = _clip_grads(grads, clipnorm, clipvalue, global_clipnorm)
    params = _decay(params, lr, weight_decay)
    out_p, out_vel, out_mom, out_avg = [], [], [], []
    for i, (p, g) in enumerate(zip(params, grads)):
        vel = rho * f64(velocities[i]) + (1 - rho) * g * g
        denom = vel
        if centered:
            avg = rho * f64(average_grads[i]) + (1 - rho) * g
            denom = vel - avg * avg
            out_avg.append(avg)
        inc = lr * g / np.sqrt(denom + epsilon)
        if momentum > 0:
            mom = momentum * f64(momentums[i]) + inc
            out_mom.append(mom)
            p = p - mom
        else:
            p = p - inc
        out_p.append(p)
        out_vel.append(vel)
    return out_p, out_vel, out_mom, out_avg


def adagrad_step(params, grads, accumulators, lr, epsilon=1e-7, weight_decay=0.0, clipnorm=0.0,
                 clipvalue=0.0, global_clipnorm=0.0):
    """Returns (params, accumulators) after one Keras 3 Adagrad step."""
    grads = _clip_grads(grads, clipnorm, clipvalue, global_clipnorm)
    params = _decay(params, lr, weight_decay)
    out_p, out_a = [], []
    for p, g, a in zip(params, grads, accumulators):
        a = f64(a) + g * g
        out_p.append(p - lr * g / np.sqrt(a + epsilon))
        out_a.append(a)
    return out_p, out_a
