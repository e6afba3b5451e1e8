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

SELU_ALPHA = 1.67326324
SELU_SCALE = 1.05070098


def _sigmoid(x):
    x = f64(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _normal_cdf(x):
    """Phi(x) = erfc(-x / sqrt 2) / 2: no cancellation in the negative tail (1 + erf would)."""
    from math import erfc
    return 0.5 * np.vectorize(erfc, otypes=[np.float64])(-f64(x) / np.sqrt(2.0))


def _softmax(x):
    x = f64(x)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(x):
    x = f64(x)
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def activation(kind, x, alpha=0.0):
    """y = f(x) for every corenn activation kind (Keras definitions)."""
    x = f64(x)
    if kind == "linear":
        return x.copy()
    if kind == "relu":
        return np.maximum(x, 0.0)
    if kind == "relu6":   # alpha: the ceiling (6 for Keras' relu6)
        return np.minimum(np.maximum(x, 0.0), alpha)
    if kind == "leaky_relu":
        return np.where(x > 0, x, alpha * x)
    if kind == "elu":
        return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))
    if kind == "selu":
        return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))
    if kind == "sigmoid":
        return _sigmoid(x)
    if kind == "tanh":
        return np.tanh(x)
    if kind == "gelu":
        return x * _normal_cdf(x)
    if kind == "swish":
        return x * _sigmoid(x)
    if kind == "softplus":
        return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))
    if kind == "softmax":
        return _softmax(x)
    if kind == "log_softmax":
        return _log_softmax(x)
    if kind in _KERAS3_ACTIVATIONS:
        return _KERAS3_ACTIVATIONS[kind][0](x, alpha)
    raise ValueError(kind)


def _softplus(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _at_kinks_zero(cond, x):
    """1 where cond, 0 elsewhere, NaN where x is NaN."""
    return np.where(np.isnan(x), np.nan, np.where(cond, 1.0, 0.0))


# Keras 3's definitions (keras/src/activations): (f(x, alpha), f'(x, alpha)); alpha is the celu
# scale, the shrink threshold, squareplus' b. Derivatives at the kinks as TensorFlow's relu6 / where.
_KERAS3_ACTIVATIONS = {
    "hard_sigmoid": (lambda x, a: np.clip(x + 3.0, 0.0, 6.0) / 6.0,
                     lambda x, a: _at_kinks_zero((x > -3) & (x < 3), x) / 6.0),
    "hard_silu": (lambda x, a: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0,
                  lambda x, a: np.where(x <= -3, 0.0, np.where(x >= 3, 1.0, (2 * x + 3) / 6.0))),
    "mish": (lambda x, a: x * np.tanh(_softplus(x)),
             lambda x, a: np.tanh(_softplus(x)) + x * _sigmoid(x) * (1 - np.tanh(_softplus(x)) ** 2)),
    "softsign": (lambda x, a: x / (1.0 + np.abs(x)), lambda x, a: 1.0 / (1.0 + np.abs(x)) ** 2),
    "log_sigmoid": (lambda x, a: -_softplus(-x), lambda x, a: _sigmoid(-x)),
    "hard_tanh": (lambda x, a: np.clip(x, -1.0, 1.0), lambda x, a: _at_kinks_zero((x >= -1) & (x <= 1), x)),
    "celu": (lambda x, a: np.where(x > 0, x, a * np.expm1(np.minimum(x, 0.0) / a)),
             lambda x, a: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0) / a))),
    "exponential": (lambda x, a: np.exp(x), lambda x, a: np.exp(x)),
    "tanh_shrink": (lambda x, a: x - np.tanh(x), lambda x, a: np.tanh(x) ** 2),
    "soft_shrink": (lambda x, a: np.where(x > a, x - a, np.where(x < -a, x + a, 0.0 * x)),
                    lambda x, a: _at_kinks_zero(np.abs(x) > a, x)),
    "hard_shrink": (lambda x, a: np.where(np.abs(x) > a, x, 0.0 * x),
                    lambda x, a: _at_kinks_zero(np.abs(x) > a, x)),
    # squareplus in the cancellation-free form (x < 0: b / (2 (r - x)), r = hypot(x, sqrt b)): the
    # same function as Keras' (x + sqrt(x^2 + b)) / 2, with the limit 0 at -inf instead of inf - inf
    "squareplus": (lambda x, a: np.where(x >= 0, (x + np.hypot(x, np.sqrt(a))) / 2.0,
                                         a / (2.0 * (np.hypot(x, np.sqrt(a)) - x))),
                   lambda x, a: np.where(x >= 0, (np.hypot(x, np.sqrt(a)) + x) / (2.0 * np.hypot(x, np.sqrt(a))),
                                         a / (2.0 * np.hypot(x, np.sqrt(a)) * (np.hypot(x, np.sqrt(a)) - x)))),
    "sparse_plus": (lambda x, a: np.where(x <= -1, 0.0, np.where(x >= 1, x, (x + 1) ** 2 / 4.0)),
                    lambda x, a: np.where(x <= -1, 0.0, np.where(x >= 1, 1.0, (x + 1) / 2.0))),
}


def _step(x, below=0.0):
    """1 where x > 0, `below` where x <= 0, NaN where x is NaN: f'(NaN) = NaN for the relu family,
    so a NaN input reaches the gradient as the math says (dy * f'(x))."""
    return np.where(x > 0, 1.0, np.where(x <= 0, below, np.nan))


def activation_grad(kind, x, dy, alpha=0.0):
    """dx = dy * f'(x) (softmax kinds: the vector-Jacobian product over the last axis)."""
    x, dy = f64(x), f64(dy)
    if kind == "linear":
        return dy.copy()
    if kind == "relu":
        return dy * _step(x)
    if kind == "relu6":   # 1 strictly between the kinks, 0 at and beyond them (TensorFlow's)
        return dy * np.where((x > 0) & (x < alpha), 1.0, np.where(np.isnan(x), np.nan, 0.0))
    if kind == "leaky_relu":
        return dy * _step(x, alpha)
    if kind == "elu":
        return dy * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))
    if kind == "selu":
        return dy * SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0.0)))
    if kind == "sigmoid":
        s = _sigmoid(x)
        return dy * s * (1.0 - s)
    if kind == "tanh":
        return dy * (1.0 - np.tanh(x) ** 2)
    if kind == "gelu":
        pdf = np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)
        return dy * (_normal_cdf(x) + x * pdf)
    if kind == "swish":
        s = _sigmoid(x)
        return dy * (s + x * s * (1.0 - s))
    if kind == "softplus":
        return dy * _sigmoid(x)
    if kind == "softmax":
        y = _softmax(x)
        return y * (dy - (dy * y).sum(axis=-1, keepdims=True))
    if kind == "log_softmax":
        return dy - _softmax(x) * dy.sum(axis=-1, keepdims=True)
    if kind in _KERAS3_ACTIVATIONS:
        return dy * _KERAS3_ACTIVATIONS[kind][1](x, alpha)
    raise ValueError(kind)


def bias_grad(dy):
    dy = f64(dy)
    return dy.reshape(-1, dy.shape[-1]).sum(axis=0)


def uniform01(seed, n):
    """core/rng.h in NumPy: SplitMix64 finaliser of seed + golden * (i + 1), top 24 bits."""
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(seed) + np.uint64(0x9E3779B97F4A7C15) * i
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float64) / 16777216.0


def dropout_mask(shape, rate, seed):
    u = uniform01(seed, int(np.prod(shape))).reshape(shape)
    return np.where(u >= rate, 1.0 / (1.0 - rate), 0.0)


def regularizer_penalty(w, l1=0.0, l2=0.0):
    w = f64(w)
    return l1 * np.abs(w).sum() + l2 * (w * w).sum()


def regularizer_grad(w, l1=0.0, l2=0.0):
    w = f64(w)
    return l1 * np.sign(w) + 2.0 * l2 * w


# =============================================================================================
# Losses and metrics
# =============================================================================================

EPSILON = 1e-7  # keras.config.epsilon()


def one_hot(labels, classes):
    labels = np.asarray(labels).reshape(-1)
    out = np.zeros((labels.size, classes))
    out[np.arange(labels.size), labels] = 1.0
    return out


def loss_per_sample(kind, y_pred, y_true, from_logits=False, delta=1.0):
    """Keras 3 per-sample losses: reduce the last axis (mean, or sum over classes for CE)."""
    p = f64(y_pred)
    if kind == "sparse_categorical_crossentropy":
        t = one_hot(y_true, p.shape[-1]).reshape(p.shape)
        kind = "categorical_crossentropy"
    else:
        t = f64(y_true)
    if kind == "mean_squared_error":
        return ((p - t) ** 2).mean(axis=-1)
    if kind == "mean_absolute_error":
        return np.abs(p - t).mean(axis=-1)
    if kind == "huber":
        e = p - t
        a = np.abs(e)
        return np.where(a <= delta, 0.5 * e * e, delta * a - 0.5 * delta * delta).mean(axis=-1)
    if kind == "binary_crossentropy":
        if from_logits:
            return (np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p)))).mean(axis=-1)
        c = np.clip(p, EPSILON, 1 - EPSILON)
        return (-(t * np.log(c) + (1 - t) * np.log(1 - c))).mean(axis=-1)
    if kind == "categorical_crossentropy":
        if from_logits:
            return -(t * _log_softmax(p)).sum(axis=-1)
        c = np.clip(p / p.sum(axis=-1, keepdims=True), EPSILON, 1 - EPSILON)
        return -(t * np.log(c)).sum(axis=-1)
    raise ValueError(kind)


def constraint(kind, w, axis=0, max_value=2.0, min_value=0.0, rate=1.0, eps=1e-7):
    """Keras' weight constraints in float64: 'max_norm', 'min_max_norm', 'unit_norm', 'non_neg'
    (norms are L2 over ``axis``, kept as size-1 axes)."""
    w = f64(w)
    if kind == "non_neg":
        return np.where(w >= 0, w, 0.0)
    norms = np.sqrt((w * w).sum(axis=tuple(np.atleast_1d(axis)), keepdims=True))
    if kind == "unit_norm":
        return w / (eps + norms)
    if kind == "max_norm":
        return w * np.clip(norms, 0.0, max_value) / (eps + norms)
    if kind == "min_max_norm":
        desired = rate * np.clip(norms, min_value, max_value) + (1.0 - rate) * norms
        return w * desired / (eps + norms)
    raise ValueError(kind)


def smoothed_labels(y_true, label_smoothing, binary=False):
    """Keras' label smoothing in float64: y (1 - s) + s / C over the last axis' C classes, or
    y (1 - s) + s / 2 for binary targets."""
    t = f64(y_true)
    return t * (1.0 - label_smoothing) + label_smoothing / (2.0 if binary else t.shape[-1])


def loss(kind, y_pred, y_true, from_logits=False, delta=1.0, sample_weight=None):
    """sum_i w_i loss_i / N, Keras' 'sum_over_batch_size' reduction."""
    per = loss_per_sample(kind, y_pred, y_true, from_logits, delta).reshape(-1)
    w = np.ones_like(per) if sample_weight is None else f64(sample_weight).reshape(-1)
    return float((w * per).sum() / per.size)


def loss_grad(kind, y_pred, y_true, from_logits=False, delta=1.0, sample_weight=None):
    """d loss(...) / d y_pred, written from the derivative of each formula above."""
    p = f64(y_pred)
    C = p.shape[-1]
    n = p.size // C
    w = np.ones(n) if sample_weight is None else f64(sample_weight).reshape(-1)
    scale = (w / n).reshape(p.shape[:-1] + (1,))
    if kind == "sparse_categorical_crossentropy":
        t = one_hot(y_true, C).reshape(p.shape)
        kind = "categorical_crossentropy"
    else:
        t = f64(y_true)
    e = p - t
    if kind == "mean_squared_error":
        return 2 * e / C * scale
    if kind == "mean_absolute_error":
        return np.sign(e) / C * scale
    if kind == "huber":
        return np.where(np.abs(e) <= delta, e, delta * np.sign(e)) / C * scale
    if kind == "binary_crossentropy":
        if from_logits:
            return (_sigmoid(p) - t) / C * scale
        inside = (p >= EPSILON) & (p <= 1 - EPSILON)
        c = np.clip(p, EPSILON, 1 - EPSILON)
        return np.where(inside, -(t / c - (1 - t) / (1 - c)), 0.0) / C * scale
    if kind == "categorical_crossentropy":
        if from_logits:
            return (_softmax(p) * t.sum(axis=-1, keepdims=True) - t) * scale
        s = p.sum(axis=-1, keepdims=True)
        q = p / s
        inside = (q >= EPSILON) & (q <= 1 - EPSILON)
        g = np.where(inside, -t / np.clip(q, EPSILON, 1 - EPSILON), 0.0)  # d loss / d q
        return (g - (g * q).sum(axis=-1, keepdims=True)) / s * scale
    raise ValueError(kind)


def sparse_ce_ignore_class(y_pred, y_true, ignore_class, from_logits=False, sample_weight=None):
    """Keras 3's SparseCategoricalCrossentropy(ignore_class=c), sum_over_batch_size: positions
    labelled c are dropped (their label read as 0, their loss zeroed) and the mean is over the
    others: sum_i w_i [y_i != c] l_i / #(y_i != c); 0 when every position is ignored."""
    y = np.asarray(y_true).reshape(-1)
    valid = y != ignore_class
    labels = np.where(valid, y, 0)
    per = loss_per_sample("sparse_categorical_crossentropy", y_pred, labels, from_logits).reshape(-1)
    w = np.ones_like(per) if sample_weight is None else f64(sample_weight).reshape(-1)
    kept = valid.sum()
    return float((w * valid * per).sum() / kept) if kept else 0.0


def sparse_ce_ignore_class_grad(y_pred, y_true, ignore_class, from_logits=False, sample_weight=None):
    """d sparse_ce_ignore_class / d y_pred: loss_grad with the weights rows * w_i [y_i != c] / kept."""
    p = f64(y_pred)
    y = np.asarray(y_true).reshape(-1)
    valid = y != ignore_class
    rows = valid.size
    kept = valid.sum()
    w = np.ones(rows) if sample_weight is None else f64(sample_weight).reshape(-1)
    if not kept:
        return np.zeros_like(p)
    return loss_grad("sparse_categorical_crossentropy", p, np.where(valid, y, 0).reshape(p.shape[:-1]),
                     from_logits, sample_weight=w * valid * rows / kept)


def accuracy_count(kind, y_pred, y_true, threshold=0.5):
    p = f64(y_pred)
    if kind == "sparse_categorical":
        return int((p.reshape(-1, p.shape[-1]).argmax(-1) == np.asarray(y_true).reshape(-1)).sum())
    if kind == "categorical":
        return int((p.argmax(-1) == f64(y_true).argmax(-1)).sum())
    if kind == "binary":
        return int(((p > threshold) == (f64(y_true) > 0.5)).sum())
    raise ValueError(kind)


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


def adamax_step(params, grads, ms, us, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7, step=0, **clip):
    """Returns (params, m, u) after one Keras 3 Adamax step; ``step`` = iterations so far."""
    wd = clip.pop("weight_decay", 0.0)
    grads = _clip_grads(grads, **clip)
    params = _decay(params, lr, wd)
    t = step + 1
    out = ([], [], [])
    for p, g, m, u in zip(params, grads, ms, us):
        m = f64(m) + (g - f64(m)) * (1 - beta_1)
        u = np.maximum(beta_2 * f64(u), np.abs(g))
        out[0].append(p - lr / (1 - beta_1 ** t) * m / (u + epsilon))
        out[1].append(m)
        out[2].append(u)
    return out


def nadam_step(params, grads, ms, vs, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7, step=0, **clip):
    """Returns (params, m, v) after one Keras 3 Nadam step: the momentum schedule
    mu_k = beta_1 (1 - 0.5 * 0.96^k) and its product over k = 1..t, computed afresh here."""
    wd = clip.pop("weight_decay", 0.0)
    grads = _clip_grads(grads, **clip)
    params = _decay(params, lr, wd)
    t = step + 1
    mu = [beta_1 * (1 - 0.5 * 0.96 ** k) for k in range(1, t + 2)]   # mu[k - 1] = mu_k
    prod_t = float(np.prod(mu[:t]))
    out = ([], [], [])
    for p, g, m, v in zip(params, grads, ms, vs):
        m = f64(m) + (g - f64(m)) * (1 - beta_1)
        v = f64(v) + (g * g - f64(v)) * (1 - beta_2)
        m_hat = mu[t] * m / (1 - prod_t * mu[t]) + (1 - mu[t - 1]) * g / (1 - prod_t)
        v_hat = v / (1 - beta_2 ** t)
        out[0].append(p - lr * m_hat / (np.sqrt(v_hat) + epsilon))
        out[1].append(m)
        out[2].append(v)
    return out


def lion_step(params, grads, ms, lr, beta_1=0.9, beta_2=0.99, **clip):
    """Returns (params, m) after one Lion step."""
    wd = clip.pop("weight_decay", 0.0)
    grads = _clip_grads(grads, **clip)
    params = _decay(params, lr, wd)
    out = ([], [])
    for p, g, m in zip(params, grads, ms):
        out[0].append(p - lr * np.sign(beta_1 * f64(m) + (1 - beta_1) * g))
        out[1].append(beta_2 * f64(m) + (1 - beta_2) * g)
    return out


def adadelta_step(params, grads, acc_g, acc_d, lr, rho=0.95, epsilon=1e-7, **clip):
    """Returns (params, accumulated grads, accumulated deltas) after one Keras 3 Adadelta step."""
    wd = clip.pop("weight_decay", 0.0)
    grads = _clip_grads(grads, **clip)
    params = _decay(params, lr, wd)
    out = ([], [], [])
    for p, g, ag, ad in zip(params, grads, acc_g, acc_d):
        ag = rho * f64(ag) + (1 - rho) * g * g
        d = g * np.sqrt(f64(ad) + epsilon) / np.sqrt(ag + epsilon)
        out[0].append(p - lr * d)
        out[1].append(ag)
        out[2].append(rho * f64(ad) + (1 - rho) * d * d)
    return out



def ftrl_step(params, grads, accumulators, linears, lr, learning_rate_power=-0.5, l1=0.0, l2=0.0,
              l2_shrinkage=0.0, beta=0.0, **clip):
    """Returns (params, accumulators, linears) after one Keras 3 Ftrl step."""
    wd = clip.pop("weight_decay", 0.0)
    grads = _clip_grads(grads, **clip)
    params = _decay(params, lr, wd)
    out = ([], [], [])
    for p, g, acc, lin in zip(params, grads, accumulators, linears):
        acc, lin = f64(acc), f64(lin)
        new_acc = acc + g * g
        power = -learning_rate_power
        lin = lin + g + 2 * l2_shrinkage * p - (new_acc ** power - acc ** power) / lr * p
        quadratic = new_acc ** power / lr + 2 * (l2 + beta / (2 * lr))
        out[0].append((np.clip(lin, -l1, l1) - lin) / quadratic)
        out[1].append(new_acc)
        out[2].append(lin)
    return out


def lamb_step(params, grads, ms, vs, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7, step=0, **clip):
    """Returns (params, m, v) after one Keras 3 Lamb step; ``step`` = iterations so far."""
    wd = clip.pop("weight_decay", 0.0)
    grads = _clip_grads(grads, **clip)
    params = _decay(params, lr, wd)
    t = step + 1
    out = ([], [], [])
    for p, g, m, v in zip(params, grads, ms, vs):
        m = f64(m) + (g - f64(m)) * (1 - beta_1)
        v = f64(v) + (g * g - f64(v)) * (1 - beta_2)
        u = m / (1 - beta_1 ** t) / (np.sqrt(v / (1 - beta_2 ** t)) + epsilon)
        w_norm, u_norm = np.linalg.norm(p), np.linalg.norm(u)
        ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
        out[0].append(p - ratio * lr * u)
        out[1].append(m)
        out[2].append(v)
    return out


def _rms(x):
    return np.sqrt(np.mean(x * x))


def adafactor_step(params, grads, rows, cols, velocities, lr, beta_2_decay=-0.8, epsilon_1=1e-30,
                   epsilon_2=1e-3, clip_threshold=1.0, step=0, **clip):
    """Returns (params, rows, cols, velocities) after one Keras 3 Adafactor step: a variable of
    rank >= 2 has factored second moments (rows: mean over the last axis, cols: over the one
    before it; its velocity entry is None), any other a full velocity (rows / cols None)."""
    wd = clip.pop("weight_decay", 0.0)
    grads = _clip_grads(grads, **clip)
    params = _decay(params, lr, wd)
    t = step + 1
    rho = min(lr, 1 / np.sqrt(t))
    b = 1 - t ** beta_2_decay
    out = ([], [], [], [])
    for p, g, r, c, v in zip(params, grads, rows, cols, velocities):
        q = g * g + epsilon_1
        if p.ndim >= 2:
            r = b * f64(r) + (1 - b) * q.mean(axis=-1)
            c = b * f64(c) + (1 - b) * q.mean(axis=-2)
            v_now = (r / r.mean(axis=-1, keepdims=True))[..., None] * c[..., None, :]
            v = None
        else:
            v = v_now = b * f64(v) + (1 - b) * q
        u = g / np.sqrt(v_now)
        alpha = max(epsilon_2, _rms(p)) * rho
        out[0].append(p - alpha * u / max(1.0, _rms(u) / clip_threshold))
        out[1].append(r if p.ndim >= 2 else None)
        out[2].append(c if p.ndim >= 2 else None)
        out[3].append(v)
    return out

# =============================================================================================
# Normalization: batch normalization over the last axis, spatial dropout
# ======================================================================================

def batch_norm_train(x, gamma=None, beta=None, epsilon=1e-3):
    """Training-mode batch norm over the last axis: (y, batch mean, biased batch variance)."""
    x = f64(x)
    c = x.shape[-1]
    rows = x.reshape(-1, c)
    mean, var = rows.mean(axis=0), rows.var(axis=0)
    y = (x - mean) / np.sqrt(var + epsilon)
    y = y * (1.0 if gamma is None else f64(gamma)) + (0.0 if beta is None else f64(beta))
    return y, mean, var


def batch_norm_infer(x, gamma, beta, moving_mean, moving_var, epsilon=1e-3):
    y = (f64(x) - f64(moving_mean)) / np.sqrt(f64(moving_var) + epsilon)
    return y * (1.0 if gamma is None else f64(gamma)) + (0.0 if beta is None else f64(beta))


def batch_norm_train_grads(dy, x, gamma=None, epsilon=1e-3):
    """(dx, dgamma, dbeta) of training-mode batch norm, from the textbook closed form."""
    x, dy = f64(x), f64(dy)
    c = x.shape[-1]
    xr, gr = x.reshape(-1, c), dy.reshape(-1, c)
    n = xr.shape[0]
    mean, var = xr.mean(axis=0), xr.var(axis=0)
    inv = 1.0 / np.sqrt(var + epsilon)
    xhat = (xr - mean) * inv
    g = 1.0 if gamma is None else f64(gamma)
    dbeta, dgamma = gr.sum(axis=0), (gr * xhat).sum(axis=0)
    dx = g * inv / n * (n * gr - dbeta - xhat * dgamma)
    return dx.reshape(x.shape), dgamma, dbeta


def batch_norm_add_relu_train(x, r, gamma=None, beta=None, epsilon=1e-3):
    """relu(batch_norm_train(x) + r), a residual block's tail: (y, batch mean, biased variance)."""
    y, mean, var = batch_norm_train(x, gamma, beta, epsilon)
    return np.maximum(y + f64(r), 0.0), mean, var


def batch_norm_add_relu_train_grads(dy, x, y, gamma=None, epsilon=1e-3):
    """(dr, dx, dgamma, dbeta) of batch_norm_add_relu_train given its output y: dr = dy where
    y > 0 (the residual's gradient), then batch_norm_train_grads of dr."""
    dr = f64(dy) * (f64(y) > 0)
    return (dr,) + batch_norm_train_grads(dr, x, gamma, epsilon)


def moving_average(moving, batch, momentum):
    """Keras 3's update of BatchNormalization's moving statistics."""
    return f64(moving) * momentum + f64(batch) * (1.0 - momentum)


def spatial_dropout_mask(batch, channels, rate, seed):
    """(N, C) mask of spatial dropout: element n*C + c of the dropout stream."""
    return dropout_mask((batch, channels), rate, seed)


# =============================================================================================
# Convolution (NHWC, kernel (KH, KW, Cin, Cout)); direct loops in float64
# =============================================================================================

def conv2d_padding(size, k, stride, padding, dilation):
    """(output length, pad before) along one axis, TensorFlow's rules, written independently."""
    eff = (k - 1) * dilation + 1
    if padding == "valid":
        return (size - eff) // stride + 1, 0
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + eff - size, 0)
    return out, total // 2


def _conv_geometry(x_shape, w_shape, strides, padding, dilation):
    n, h, wd, cin = x_shape
    kh, kw, _, cout = w_shape
    oh, pt = conv2d_padding(h, kh, strides[0], padding, dilation[0])
    ow, pl = conv2d_padding(wd, kw, strides[1], padding, dilation[1])
    return oh, ow, pt, pl


def _taps(x_shape, w_shape, strides, padding, dilation):
    """Yields (oh, ow, kh, kw, ih, iw) for every in-bounds tap."""
    _, h, wd, _ = x_shape
    kh_, kw_ = w_shape[:2]
    oh_, ow_, pt, pl = _conv_geometry(x_shape, w_shape, strides, padding, dilation)
    for oh in range(oh_):
        for ow in range(ow_):
            for kh in range(kh_):
                ih = oh * strides[0] - pt + kh * dilation[0]
                if not 0 <= ih < h:
                    continue
                for kw in range(kw_):
                    iw = ow * strides[1] - pl + kw * dilation[1]
                    if 0 <= iw < wd:
                        yield oh, ow, kh, kw, ih, iw


def conv2d_forward(x, w, b=None, strides=(1, 1), padding="valid", dilation=(1, 1)):
    x, w = f64(x), f64(w)
    oh_, ow_, _, _ = _conv_geometry(x.shape, w.shape, strides, padding, dilation)
    y = np.zeros((x.shape[0], oh_, ow_, w.shape[3]))
    for oh, ow, kh, kw, ih, iw in _taps(x.shape, w.shape, strides, padding, dilation):
        y[:, oh, ow, :] += x[:, ih, iw, :] @ w[kh, kw]
    if b is not None:
        y += f64(b)
    return y


def conv2d_backward_data(dy, w, x_shape, strides=(1, 1), padding="valid", dilation=(1, 1)):
    dy, w = f64(dy), f64(w)
    dx = np.zeros(x_shape)
    for oh, ow, kh, kw, ih, iw in _taps(x_shape, w.shape, strides, padding, dilation):
        dx[:, ih, iw, :] += dy[:, oh, ow, :] @ w[kh, kw].T
    return dx


def conv2d_backward_weights(x, dy, w_shape, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """Returns (dw, db)."""
    x, dy = f64(x), f64(dy)
    dw = np.zeros(w_shape)
    for oh, ow, kh, kw, ih, iw in _taps(x.shape, w_shape, strides, padding, dilation):
        dw[kh, kw] += x[:, ih, iw, :].T @ dy[:, oh, ow, :]
    return dw, dy.sum(axis=(0, 1, 2))


# =============================================================================================
# Pooling and zero padding (NHWC)
# =============================================================================================
# Direct loops over output cells; 'same' padding follows TensorFlow (pad_before = total // 2);
# padded cells are simply absent from each window (never the max, not counted by the mean).

def _pool_windows(h, w, pool_size, strides, padding):
    """[(i, j, rows, cols)] of each output cell's real input rows/cols, and (OH, OW)."""
    (kh, kw), (sh, sw) = pool_size, strides
    if padding == "valid":
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        pt = pl = 0
    else:
        oh, ow = -(-h // sh), -(-w // sw)
        pt = max((oh - 1) * sh + kh - h, 0) // 2
        pl = max((ow - 1) * sw + kw - w, 0) // 2
    cells = []
    for i in range(oh):
        rows = [r for r in range(i * sh - pt, i * sh - pt + kh) if 0 <= r < h]
        for j in range(ow):
            cols = [c for c in range(j * sw - pl, j * sw - pl + kw) if 0 <= c < w]
            cells.append((i, j, rows, cols))
    return cells, (oh, ow)


def max_pool2d(x, pool_size, strides, padding):
    """Returns (y, argmax) with argmax = h*W + w of the first maximum in row-major window order."""
    x = f64(x)
    n, h, w, c = x.shape
    cells, (oh, ow) = _pool_windows(h, w, pool_size, strides, padding)
    y = np.zeros((n, oh, ow, c))
    am = np.zeros((n, oh, ow, c), dtype=np.int64)
    for i, j, rows, cols in cells:
        win = x[:, rows][:, :, cols].reshape(n, -1, c)            # (n, cells, c), row-major
        k = win.argmax(axis=1)                                    # first max
        y[:, i, j] = win.max(axis=1)
        am[:, i, j] = np.array(rows)[k // len(cols)] * w + np.array(cols)[k % len(cols)]
    return y, am


def max_pool2d_grad(x, dy, pool_size, strides, padding):
    x, dy = f64(x), f64(dy)
    n, h, w, c = x.shape
    _, am = max_pool2d(x, pool_size, strides, padding)
    dx = np.zeros_like(x).reshape(n, h * w, c)
    for b in range(n):
        for ch in range(c):
            np.add.at(dx[b, :, ch], am[b, ..., ch].ravel(), dy[b, ..., ch].ravel())
    return dx.reshape(x.shape)


def avg_pool2d(x, pool_size, strides, padding):
    x = f64(x)
    n, h, w, c = x.shape
    cells, (oh, ow) = _pool_windows(h, w, pool_size, strides, padding)
    y = np.zeros((n, oh, ow, c))
    for i, j, rows, cols in cells:
        y[:, i, j] = x[:, rows][:, :, cols].mean(axis=(1, 2))
    return y


def avg_pool2d_grad(x_shape, dy, pool_size, strides, padding):
    dy = f64(dy)
    n, h, w, c = x_shape
    cells, _ = _pool_windows(h, w, pool_size, strides, padding)
    dx = np.zeros(x_shape)
    for i, j, rows, cols in cells:
        share = dy[:, i, j] / (len(rows) * len(cols))
        for r in rows:
            for q in cols:
                dx[:, r, q] += share
    return dx


def global_avg_pool2d(x):
    return f64(x).mean(axis=(1, 2))


def global_max_pool2d(x):
    """Returns (y (N, C), argmax (N, C) = h*W + w of the first maximum)."""
    x = f64(x)
    n, h, w, c = x.shape
    flat = x.reshape(n, h * w, c)
    return flat.max(axis=1), flat.argmax(axis=1)


def zero_pad2d(x, top, bottom, left, right):
    return np.pad(f64(x), ((0, 0), (top, bottom), (left, right), (0, 0)))


# =============================================================================================
# Embedding
# =============================================================================================

def embedding(indices, w):
    """y[..., :] = w[indices[...], :] by an explicit loop over index positions."""
    w = f64(w)
    idx = np.asarray(indices)
    flat = idx.reshape(-1)
    y = np.zeros((flat.size, w.shape[1]))
    for i, r in enumerate(flat):
        y[i] = w[int(r)]
    return y.reshape(idx.shape + (w.shape[1],))


def embedding_grad(indices, dy, input_dim):
    """dw (input_dim, D): dw[r] = sum of dy at every position whose index is r (explicit loop)."""
    dy = f64(dy)
    flat = np.asarray(indices).reshape(-1)
    g = dy.reshape(flat.size, -1)
    dw = np.zeros((input_dim, g.shape[1]))
    for i, r in enumerate(flat):
        dw[int(r)] += g[i]
    return dw


# =============================================================================================
# Recurrent (SimpleRNN, LSTM, GRU reset_after=True), explicit per-step loops, Keras semantics
# =============================================================================================

_RNN_ACTS = {
    "tanh": (np.tanh, lambda y: 1.0 - y * y),
    "sigmoid": (lambda v: 1.0 / (1.0 + np.exp(-v)), lambda y: y * (1.0 - y)),
    "relu": (lambda v: np.maximum(v, 0.0), lambda y: _step(y)),
    "linear": (lambda v: v, lambda y: np.ones_like(y)),
}


def _rnn_order(t, go_backwards):
    return list(range(t - 1, -1, -1)) if go_backwards else list(range(t))


def rnn_forward(cell, x, w, r, b=None, return_sequences=False, go_backwards=False,
                activation="tanh", recurrent_activation="sigmoid", mask=None, reset_after=True):
    """Returns (y, h_n, c_n, cache); y (N, T, U) in processing order (Keras) or (N, U).
    mask (N, T): a sample skips its masked steps (h, c carried; Keras' masked rnn loop).
    reset_after=False: the Keras-2 GRU (bias (3U,), r multiplies h before Rh)."""
    x, w, r = f64(x), f64(w), f64(r)
    n, t, _ = x.shape
    u = r.shape[0]
    act, ract = _RNN_ACTS[activation][0], _RNN_ACTS[recurrent_activation][0]
    h, c = np.zeros((n, u)), np.zeros((n, u))
    if cell == "gru" and not reset_after:
        b0, b1 = (np.zeros(3 * u) if b is None else f64(b)), np.zeros(3 * u)
    elif cell == "gru":
        b0, b1 = (np.zeros(3 * u), np.zeros(3 * u)) if b is None else (f64(b)[0], f64(b)[1])
    else:
        b0 = np.zeros(w.shape[1]) if b is None else f64(b)
    ys, cache = [], []
    for ti in _rnn_order(t, go_backwards):
        xt = x[:, ti]
        h_before, c_before = h, c
        if cell == "simple_rnn":
            hn = act(xt @ w + h @ r + b0)
            cache.append((ti, h, hn))
            h = hn
        elif cell == "lstm":
            z = xt @ w + h @ r + b0
            i, f = ract(z[:, :u]), ract(z[:, u:2 * u])
            g, o = act(z[:, 2 * u:3 * u]), ract(z[:, 3 * u:])
            cn = f * c + i * g
            hn = o * act(cn)
            cache.append((ti, h, c, i, f, g, o, cn))
            h, c = hn, cn
        elif not reset_after:
            xz = xt @ w + b0
            z = ract(xz[:, :u] + h @ r[:, :u])
            rr = ract(xz[:, u:2 * u] + h @ r[:, u:2 * u])
            hh = act(xz[:, 2 * u:] + (rr * h) @ r[:, 2 * u:])
            hn = z * h + (1.0 - z) * hh
            cache.append((ti, h, z, rr, hh, None))
            h = hn
        else:
            xz = xt @ w + b0
            rz = h @ r + b1
            z = ract(xz[:, :u] + rz[:, :u])
            rr = ract(xz[:, u:2 * u] + rz[:, u:2 * u])
            hh = act(xz[:, 2 * u:] + rr * rz[:, 2 * u:])
            hn = z * h + (1.0 - z) * hh
            cache.append((ti, h, z, rr, hh, rz[:, 2 * u:]))
            h = hn
        if mask is not None:
            keep = (np.asarray(mask)[:, ti] != 0)[:, None]
            h = np.where(keep, h, h_before)
            c = np.where(keep, c, c_before)
            cache[-1] = cache[-1] + (keep,)
        ys.append(h)
    y = np.stack(ys, axis=1) if return_sequences else h
    return y, h, (c if cell == "lstm" else None), cache


def rnn_backward(cell, dy, x, w, r, b=None, go_backwards=False, activation="tanh",
                 recurrent_activation="sigmoid", mask=None, reset_after=True):
    """BPTT of rnn_forward; dy is (N, T, U) (return_sequences) or (N, U).
    Returns (dx, dw, dr, db) in float64 (db shaped like b: (2, 3U) for the GRU, (3U,) without
    reset_after). A masked step passes dh (and dc) through and gets no gradient."""
    x, w, r, dy = f64(x), f64(w), f64(r), f64(dy)
    n, t, _ = x.shape
    u = r.shape[0]
    act_d, ract_d = _RNN_ACTS[activation][1], _RNN_ACTS[recurrent_activation][1]
    act = _RNN_ACTS[activation][0]
    _, _, _, cache = rnn_forward(cell, x, w, r, b, True, go_backwards, activation,
                                 recurrent_activation, mask, reset_after)
    dx, dw, dr = np.zeros_like(x), np.zeros_like(w), np.zeros_like(r)
    db = np.zeros((2, w.shape[1])) if cell == "gru" and reset_after else np.zeros(w.shape[1])
    dh, dc = np.zeros((n, u)), np.zeros((n, u))
    for s in range(t - 1, -1, -1):
        if dy.ndim == 3:
            dh = dh + dy[:, s]
        elif s == t - 1:
            dh = dh + dy
        entry = cache[s]
        ti = entry[0]
        if mask is not None:
            keep, entry = entry[-1], entry[:-1]
            dh_skip, dc_skip = dh, dc
            dh, dc = dh * keep, dc * keep   # a skipped step's gates get no gradient
        if cell == "simple_rnn":
            _, hp, hn = entry
            dz = dh * act_d(hn)
            dzr = dz
            dh = dz @ r.T
            db += dz.sum(0)
        elif cell == "lstm":
            _, hp, cp, i, f, g, o, cn = entry
            tc = act(cn)
            dct = dc + dh * o * act_d(tc)
            dz = np.concatenate([dct * g * ract_d(i), dct * cp * ract_d(f), dct * i * act_d(g),
                                 dh * tc * ract_d(o)], axis=1)
            dzr = dz
            dc = dct * f
            dh = dz @ r.T
            db += dz.sum(0)
        elif not reset_after:
            _, hp, z, rr, hh, _ = entry
            dah = dh * (1.0 - z) * act_d(hh)
            daz = dh * (hp - hh) * ract_d(z)
            drh = dah @ r[:, 2 * u:].T
            dar = drh * hp * ract_d(rr)
            dz = np.concatenate([daz, dar, dah], axis=1)
            dzr = None
            dh = dh * z + drh * rr + dz[:, :2 * u] @ r[:, :2 * u].T
            db += dz.sum(0)
            dr[:, :2 * u] += hp.T @ dz[:, :2 * u]
            dr[:, 2 * u:] += (rr * hp).T @ dah
        else:
            _, hp, z, rr, hh, rh = entry
            dah = dh * (1.0 - z) * act_d(hh)
            daz = dh * (hp - hh) * ract_d(z)
            dar = dah * rh * ract_d(rr)
            dz = np.concatenate([daz, dar, dah], axis=1)
            dzr = np.concatenate([daz, dar, dah * rr], axis=1)
            dh = dh * z + dzr @ r.T
            db[0] += dz.sum(0)
            db[1] += dzr.sum(0)
        if mask is not None:
            # where the sample skipped the step, dh and dc pass through it unchanged
            dh = np.where(keep, dh, dh_skip)
            dc = np.where(keep, dc, dc_skip)
        dx[:, ti] = dz @ w.T
        dw += x[:, ti].T @ dz
        if dzr is not None:
            dr += hp.T @ dzr
    return dx, dw, dr, db


# =============================================================================================
# Layer normalization, transpose, repeat, upsampling
# =============================================================================================

def layer_norm(x, gamma=None, beta=None, norm_ndim=1, epsilon=1e-3):
    """(y, mean, inv_std) over the last norm_ndim axes; mean / inv_std flat per row."""
    x = f64(x)
    axes = tuple(range(x.ndim - norm_ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    inv = 1.0 / np.sqrt(var + epsilon)
    y = (x - mean) * inv
    if gamma is not None:
        y = y * f64(gamma)
    if beta is not None:
        y = y + f64(beta)
    return y, mean.reshape(-1), inv.reshape(-1)


def layer_norm_grads(dy, x, gamma=None, norm_ndim=1, epsilon=1e-3):
    """(dx, dgamma, dbeta) of layer_norm, written from the chain rule per row."""
    dy, x = f64(dy), f64(x)
    d = int(np.prod(x.shape[x.ndim - norm_ndim:]))
    x2, dy2 = x.reshape(-1, d), dy.reshape(-1, d)
    g2 = dy2 * (f64(gamma).reshape(-1) if gamma is not None else 1.0)
    mean = x2.mean(1, keepdims=True)
    inv = 1.0 / np.sqrt(((x2 - mean) ** 2).mean(1, keepdims=True) + epsilon)
    xhat = (x2 - mean) * inv
    dx = inv * (g2 - g2.mean(1, keepdims=True) - xhat * (g2 * xhat).mean(1, keepdims=True))
    tshape = x.shape[x.ndim - norm_ndim:]
    return dx.reshape(x.shape), (dy2 * xhat).sum(0).reshape(tshape), dy2.sum(0).reshape(tshape)


def repeat_vector(x, n):
    return np.repeat(f64(x)[:, None, :], n, axis=1)


def repeat_vector_grad(dy):
    return f64(dy).sum(axis=1)


def _bilinear_matrix(size, scale):
    """(size*scale, size) interpolation matrix: half-pixel centres, clamped at the edges."""
    m = np.zeros((size * scale, size))
    for o in range(size * scale):
        src = max((o + 0.5) / scale - 0.5, 0.0)
        i0 = min(int(np.floor(src)), size - 1)
        i1 = min(i0 + 1, size - 1)
        a = src - i0
        m[o, i0] += 1.0 - a
        m[o, i1] += a
    return m


def _nearest_matrix(size, scale):
    return np.repeat(np.eye(size), scale, axis=0)


def upsample2d(x, sh, sw, interpolation="nearest"):
    """y[n, i, j, c] = sum_{h, w} Rh[i, h] Rw[j, w] x[n, h, w, c] (Rh, Rw per interpolation)."""
    mat = _bilinear_matrix if interpolation == "bilinear" else _nearest_matrix
    x = f64(x)
    return np.einsum("ih,jw,nhwc->nijc", mat(x.shape[1], sh), mat(x.shape[2], sw), x)


def upsample2d_grad(dy, sh, sw, interpolation="nearest"):
    """The transpose of upsample2d's linear map."""
    mat = _bilinear_matrix if interpolation == "bilinear" else _nearest_matrix
    dy = f64(dy)
    h, w = dy.shape[1] // sh, dy.shape[2] // sw
    return np.einsum("ih,jw,nijc->nhwc", mat(h, sh), mat(w, sw), dy)


def crop2d(x, top, bottom, left, right):
    x = f64(x)
    return x[:, top:x.shape[1] - bottom, left:x.shape[2] - right]
# Tensor math: binary / unary elementwise, reductions, concat, batched matmul
# =============================================================================================

def sum_to_shape(g, shape):
    """Sum g over the axes along which an operand of ``shape`` was broadcast to g's shape."""
    g = f64(g)
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead else g
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape) if axes else g.reshape(shape)


def binary(kind, a, b):
    a, b = f64(a), f64(b)
    with np.errstate(all="ignore"):
        return {"add": np.add, "subtract": np.subtract, "multiply": np.multiply,
                "divide": np.divide, "maximum": np.maximum, "minimum": np.minimum,
                "power": np.power}[kind](a, b)


def binary_grads(kind, a, b, dy):
    """(da, db) of y = a (kind) b, each summed back to its operand's shape."""
    a, b, dy = f64(a), f64(b), f64(dy)
    a_, b_ = np.broadcast_arrays(a, b)
    with np.errstate(all="ignore"):
        if kind == "add":
            ga, gb = dy, dy
        elif kind == "subtract":
            ga, gb = dy, -dy
        elif kind == "multiply":
            ga, gb = dy * b_, dy * a_
        elif kind == "divide":
            ga, gb = dy / b_, -dy * a_ / b_ ** 2
        elif kind in ("maximum", "minimum"):
            wins = (a_ >= b_) if kind == "maximum" else (a_ <= b_)
            wins = wins | np.isnan(a_)
            ga, gb = dy * wins, dy * ~wins
        elif kind == "power":
            ga = dy * np.where(b_ == 0, 0.0, b_ * a_ ** (b_ - 1))
            gb = dy * np.where((a_ == 0) & (b_ >= 0), 0.0, a_ ** b_ * np.log(a_))
        else:
            raise ValueError(kind)
    return sum_to_shape(ga, a.shape), sum_to_shape(gb, b.shape)


UNARY = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "square": np.square, "abs": np.abs,
         "negative": np.negative, "reciprocal": lambda x: 1.0 / x, "sin": np.sin, "cos": np.cos}
UNARY_GRAD = {"exp": np.exp, "log": lambda x: 1.0 / x, "sqrt": lambda x: 0.5 / np.sqrt(x),
              "square": lambda x: 2.0 * x, "abs": np.sign, "negative": lambda x: -np.ones_like(x),
              "reciprocal": lambda x: -1.0 / x ** 2, "sin": np.cos, "cos": lambda x: -np.sin(x)}


def unary(kind, x):
    with np.errstate(all="ignore"):
        return UNARY[kind](f64(x))


def unary_grad(kind, x, dy):
    with np.errstate(all="ignore"):
        return f64(dy) * UNARY_GRAD[kind](f64(x))


def _axes_tuple(axes, ndim):
    if axes is None:
        return tuple(range(ndim))
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    return tuple(a % ndim for a in axes)


def reduce(kind, x, axes=None, keepdims=False):
    x = f64(x)
    fn = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}[kind]
    with np.errstate(all="ignore"):
        return fn(x, axis=_axes_tuple(axes, x.ndim), keepdims=keepdims)


def reduce_grad(kind, x, dy, axes=None, keepdims=False):
    """dx of reduce: sum / mean broadcast back; max / min split evenly among tied extremes."""
    x = f64(x)
    axes = _axes_tuple(axes, x.ndim)
    dyk = f64(dy).reshape([1 if i in axes else d for i, d in enumerate(x.shape)])
    if kind == "sum":
        return np.broadcast_to(dyk, x.shape).copy()
    if kind == "mean":
        return np.broadcast_to(dyk / max(1, int(np.prod([x.shape[a] for a in axes]))), x.shape).copy()
    y = reduce(kind, x, axes, keepdims=True)
    mask = (x == y) | (np.isnan(x) & np.isnan(y))
    ties = mask.sum(axis=axes, keepdims=True)
    return mask * dyk / np.maximum(ties, 1)


def concat(xs, axis):
    return np.concatenate([f64(x) for x in xs], axis=axis)


def batched_matmul(a, b, trans_a=False, trans_b=False):
    a, b = f64(a), f64(b)
    a = np.swapaxes(a, -1, -2) if trans_a else a
    b = np.swapaxes(b, -1, -2) if trans_b else b
    return np.matmul(a, b)


# =============================================================================================
# Conv2DTranspose, depthwise conv, PReLU, Rescaling / Normalization (issue 13)
# =============================================================================================

def conv_transpose_length(size, k, stride, padding, output_padding=None, dilation=1):
    """(output length, leading padding of the transposed conv) along one axis: Keras 3's
    compute_conv_transpose_output_length, and TensorFlow's conv2d_transpose padding (the padding
    of the conv whose data gradient this is: 0 for 'valid', total // 2 for 'same')."""
    ek = (k - 1) * dilation + 1
    if output_padding is None:
        length = size * stride + max(ek - stride, 0) if padding == "valid" else size * stride
    else:
        pad = ek // 2 if padding == "same" else 0
        length = (size - 1) * stride + ek - 2 * pad + output_padding
    pt = 0 if padding == "valid" else max((size - 1) * stride + ek - length, 0) // 2
    return length, pt


def _transpose_taps(x_shape, w_shape, strides, padding, output_padding, dilation):
    """(OH, OW) and the in-bounds scatter taps (ih, iw, kh, kw, oh, ow): input pixel (ih, iw)
    sends x @ w[kh, kw]^T to output pixel (ih*s - pt + kh*d, iw*s - pl + kw*d)."""
    _, h, wd, _ = x_shape
    op = (None, None) if output_padding is None else tuple(output_padding)
    oh_, pt = conv_transpose_length(h, w_shape[0], strides[0], padding, op[0], dilation[0])
    ow_, pl = conv_transpose_length(wd, w_shape[1], strides[1], padding, op[1], dilation[1])
    taps = []
    for ih in range(h):
        for iw in range(wd):
            for kh in range(w_shape[0]):
                oh = ih * strides[0] - pt + kh * dilation[0]
                for kw in range(w_shape[1]):
                    ow = iw * strides[1] - pl + kw * dilation[1]
                    if 0 <= oh < oh_ and 0 <= ow < ow_:
                        taps.append((ih, iw, kh, kw, oh, ow))
    return (oh_, ow_), taps


def conv2d_transpose(x, w, b=None, strides=(1, 1), padding="valid", output_padding=None,
                     dilation=(1, 1)):
    """x (N, H, W, Cin), w (KH, KW, Cout, Cin) as Keras -> (N, OH, OW, Cout), by scattering."""
    x, w = f64(x), f64(w)
    (oh_, ow_), taps = _transpose_taps(x.shape, w.shape, strides, padding, output_padding, dilation)
    y = np.zeros((x.shape[0], oh_, ow_, w.shape[2]))
    for ih, iw, kh, kw, oh, ow in taps:
        y[:, oh, ow, :] += x[:, ih, iw, :] @ w[kh, kw].T
    return y + f64(b) if b is not None else y


def conv2d_transpose_grads(x, w, dy, strides=(1, 1), padding="valid", output_padding=None,
                           dilation=(1, 1)):
    """(dx, dw, db) of conv2d_transpose given dy, from the same scatter taps."""
    x, w, dy = f64(x), f64(w), f64(dy)
    _, taps = _transpose_taps(x.shape, w.shape, strides, padding, output_padding, dilation)
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for ih, iw, kh, kw, oh, ow in taps:
        dx[:, ih, iw, :] += dy[:, oh, ow, :] @ w[kh, kw]
        dw[kh, kw] += dy[:, oh, ow, :].T @ x[:, ih, iw, :]
    return dx, dw, dy.sum(axis=(0, 1, 2))


def depthwise_conv2d(x, w, b=None, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """x (N, H, W, C), w (KH, KW, C, DM) -> (N, OH, OW, C*DM), output channel c*DM + m."""
    x, w = f64(x), f64(w)
    c, dm = w.shape[2], w.shape[3]
    oh_, ow_, _, _ = _conv_geometry(x.shape, w.shape, strides, padding, dilation)
    y = np.zeros((x.shape[0], oh_, ow_, c, dm))
    for oh, ow, kh, kw, ih, iw in _taps(x.shape, w.shape, strides, padding, dilation):
        y[:, oh, ow] += x[:, ih, iw, :, None] * w[kh, kw]
    y = y.reshape(x.shape[0], oh_, ow_, c * dm)
    return y + f64(b) if b is not None else y


def depthwise_conv2d_grads(x, w, dy, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """(dx, dw, db) of depthwise_conv2d given dy (N, OH, OW, C*DM)."""
    x, w, dy = f64(x), f64(w), f64(dy)
    c, dm = w.shape[2], w.shape[3]
    dy5 = dy.reshape(dy.shape[:3] + (c, dm))
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for oh, ow, kh, kw, ih, iw in _taps(x.shape, w.shape, strides, padding, dilation):
        dx[:, ih, iw] += (dy5[:, oh, ow] * w[kh, kw]).sum(axis=-1)
        dw[kh, kw] += (x[:, ih, iw, :, None] * dy5[:, oh, ow]).sum(axis=0)
    return dx, dw, dy.sum(axis=(0, 1, 2))


def prelu(x, alpha):
    """y = x for x > 0, alpha * x otherwise; alpha broadcasts over the batch and size-1 axes."""
    x, alpha = f64(x), f64(alpha)
    return np.where(x > 0, x, alpha * x)


def prelu_grads(x, alpha, dy):
    """(dx, dalpha): dalpha summed over the axes alpha is broadcast along."""
    x, alpha, dy = f64(x), f64(alpha), f64(dy)
    dx = np.where(x > 0, dy, alpha * dy)
    da = np.where(x > 0, 0.0, dy * x)
    return dx, sum_to_shape(da, alpha.shape)


def normalization(x, mean, variance, invert=False, epsilon=1e-7):
    """Keras 3 Normalization: (x - mean) / max(sqrt(var), eps); inverted: mean + x * max(...)."""
    x, mean, variance = f64(x), f64(mean), f64(variance)
    std = np.maximum(np.sqrt(variance), epsilon)
    return mean + x * std if invert else (x - mean) / std
# More Keras 3 losses (keras/src/losses/losses.py), their gradients, and the confusion-count
# metrics (keras/src/metrics/confusion_metrics.py): float64, written straight from the formulas.
# =============================================================================================

KERAS_EXTRA_LOSSES = ("kl_divergence", "cosine_similarity", "hinge", "squared_hinge",
                      "categorical_hinge", "log_cosh", "poisson", "mean_squared_logarithmic_error",
                      "mean_absolute_percentage_error")


def _hinge_labels(t):
    """Keras' convert_binary_labels_to_hinge: 0/1 labels (the whole batch) become -1/1."""
    return 2.0 * t - 1.0 if np.all((t == 0) | (t == 1)) else t


def extra_loss_per_sample(kind, y_pred, y_true):
    p, t = f64(y_pred), f64(y_true)
    if kind == "kl_divergence":
        tc, pc = np.clip(t, EPSILON, 1.0), np.clip(p, EPSILON, 1.0)
        return (tc * np.log(tc / pc)).sum(axis=-1)
    if kind == "cosine_similarity":
        def normalize(x):
            return x / np.maximum(np.sqrt((x * x).sum(axis=-1, keepdims=True)), EPSILON)
        return -(normalize(t) * normalize(p)).sum(axis=-1)
    if kind == "hinge":
        return np.maximum(1.0 - _hinge_labels(t) * p, 0.0).mean(axis=-1)
    if kind == "squared_hinge":
        return (np.maximum(1.0 - _hinge_labels(t) * p, 0.0) ** 2).mean(axis=-1)
    if kind == "categorical_hinge":
        pos = (t * p).sum(axis=-1)
        neg = ((1.0 - t) * p).max(axis=-1)
        return np.maximum(neg - pos + 1.0, 0.0)
    if kind == "log_cosh":
        return np.log(np.cosh(p - t)).mean(axis=-1)
    if kind == "poisson":
        return (p - t * np.log(p + EPSILON)).mean(axis=-1)
    if kind == "mean_squared_logarithmic_error":
        return ((np.log(np.maximum(p, EPSILON) + 1.0) - np.log(np.maximum(t, EPSILON) + 1.0)) ** 2).mean(axis=-1)
    if kind == "mean_absolute_percentage_error":
        return 100.0 * (np.abs(t - p) / np.maximum(np.abs(t), EPSILON)).mean(axis=-1)
    raise ValueError(kind)


def extra_loss(kind, y_pred, y_true, sample_weight=None):
    per = extra_loss_per_sample(kind, y_pred, y_true).reshape(-1)
    w = np.ones_like(per) if sample_weight is None else f64(sample_weight).reshape(-1)
    return float((w * per).sum() / per.size)


def extra_loss_grad(kind, y_pred, y_true, sample_weight=None):
    """d extra_loss / d y_pred, from the derivative of each formula (subgradient 0 at kinks)."""
    p, t = f64(y_pred), f64(y_true)
    C = p.shape[-1]
    n = p.size // C
    w = np.ones(n) if sample_weight is None else f64(sample_weight).reshape(-1)
    scale = (w / n).reshape(p.shape[:-1] + (1,))
    if kind == "kl_divergence":
        tc = np.clip(t, EPSILON, 1.0)
        inside = (p >= EPSILON) & (p <= 1.0)
        return np.where(inside, -tc / np.clip(p, EPSILON, 1.0), 0.0) * scale
    if kind == "cosine_similarity":
        pn = np.sqrt((p * p).sum(axis=-1, keepdims=True))
        tn = np.maximum(np.sqrt((t * t).sum(axis=-1, keepdims=True)), EPSILON)
        u = p / np.maximum(pn, EPSILON)
        th = t / tn
        # d(-th.u)/dp: (I - u u^T) / |p| above eps, I / eps below (the norm is clamped)
        g = np.where(pn >= EPSILON, -(th - u * (u * th).sum(axis=-1, keepdims=True)) / np.maximum(pn, EPSILON),
                     -th / EPSILON)
        return g * scale
    if kind in ("hinge", "squared_hinge"):
        y = _hinge_labels(t)
        m = 1.0 - y * p
        g = np.where(m > 0, -y, 0.0) if kind == "hinge" else -2.0 * y * np.maximum(m, 0.0)
        return g / C * scale
    if kind == "categorical_hinge":
        v = (1.0 - t) * p
        k = v.argmax(axis=-1)
        onehot_k = np.zeros_like(p)
        np.put_along_axis(onehot_k, k[..., None], 1.0, axis=-1)
        active = (v.max(axis=-1) - (t * p).sum(axis=-1) + 1.0 > 0)[..., None]
        return np.where(active, onehot_k * (1.0 - t) - t, 0.0) * scale
    if kind == "log_cosh":
        return np.tanh(p - t) / C * scale
    if kind == "poisson":
        return (1.0 - t / (p + EPSILON)) / C * scale
    if kind == "mean_squared_logarithmic_error":
        d = np.log(np.maximum(p, EPSILON) + 1.0) - np.log(np.maximum(t, EPSILON) + 1.0)
        return np.where(p >= EPSILON, 2.0 * d / (np.maximum(p, EPSILON) + 1.0), 0.0) / C * scale
    if kind == "mean_absolute_percentage_error":
        return 100.0 * np.sign(p - t) / np.maximum(np.abs(t), EPSILON) / C * scale
    raise ValueError(kind)


def top_k_hits(y_pred, labels, k):
    """Per row: the label's score is >= the k-th largest score (Keras' in_top_k, NumPy backend)."""
    p = f64(y_pred).reshape(-1, np.shape(y_pred)[-1])
    labels = np.asarray(labels).reshape(-1)
    kth = -np.sort(-p, axis=-1)[:, k - 1] if k <= p.shape[1] else np.full(len(p), -np.inf)
    return p[np.arange(len(p)), labels] >= kth


def auc_thresholds(num_thresholds=200):
    """Keras' AUC thresholds: -eps, 1/(n-1), ..., (n-2)/(n-1), 1 + eps (compared in float32)."""
    inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    return np.asarray([-EPSILON] + inner + [1.0 + EPSILON], np.float32)


def confusion_counts(y_pred, y_true, thresholds, soft_labels=False, sample_weight=None):
    """(T, 4) [tp, fp, tn, fn]: every element against every threshold (the plain O(n T) way)."""
    p = np.asarray(y_pred, np.float32).reshape(-1)
    t = f64(y_true).reshape(-1)
    rows = p.size // max(1, np.shape(y_pred)[-1]) if np.ndim(y_pred) > 1 else p.size
    w = np.ones(p.size) if sample_weight is None else np.repeat(f64(sample_weight).reshape(-1), p.size // rows)
    pos = t if soft_labels else (t != 0).astype(np.float64)
    above = p[None, :] > np.asarray(thresholds, np.float32)[:, None]
    tp = np.where(above, w * pos, 0.0).sum(axis=1)  # an element below a threshold adds nothing there
    fp = np.where(above, w * (1 - pos), 0.0).sum(axis=1)
    return np.stack([tp, fp, (w * (1 - pos)).sum() - fp, (w * pos).sum() - tp], axis=1)


def _no_nan(a, b):
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b != 0)


def auc_from_counts(counts, curve="ROC", summation_method="interpolation"):
    """Keras AUC.result(): a Riemann sum over the thresholds; PR + interpolation follows Davis &
    Goadrich (keras' interpolate_pr_auc)."""
    tp, fp, tn, fn = (counts[:, i] for i in range(4))
    if curve == "PR" and summation_method == "interpolation":
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        ratio = np.where((p[:-1] > 0) & (p[1:] > 0), _no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        return float(np.sum(_no_nan(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0))))
    recall = _no_nan(tp, tp + fn)
    if curve == "ROC":
        x, y = _no_nan(fp, fp + tn), recall
    else:
        x, y = recall, _no_nan(tp, tp + fp)
    heights = {"interpolation": (y[:-1] + y[1:]) / 2, "minoring": np.minimum(y[:-1], y[1:]),
               "majoring": np.maximum(y[:-1], y[1:])}[summation_method]
    return float(np.sum((x[:-1] - x[1:]) * heights))


def roc_auc_exact(scores, labels):
    """The exact ROC AUC: P(score of a positive > score of a negative) + P(tie) / 2."""
    s, l = f64(scores).reshape(-1), np.asarray(labels).reshape(-1) != 0
    pos, neg = s[l], s[~l]
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (pos.size * neg.size))
# MultiHeadAttention (Keras 3), einsum form in float64
# =============================================================================================

def attention_allowed(n, tq, tk, attention_mask=None, query_mask=None, key_mask=None, causal=False):
    """(N, Tq, Tk) booleans: which keys each query may attend to (Keras' combined mask)."""
    ok = np.ones((n, tq, tk), bool)
    if attention_mask is not None:
        ok &= np.asarray(attention_mask) != 0
    if query_mask is not None:
        ok &= (np.asarray(query_mask) != 0)[:, :, None]
    if key_mask is not None:
        ok &= (np.asarray(key_mask) != 0)[:, None, :]
    if causal:
        ok &= np.tril(np.ones((tq, tk), bool))[None]
    return ok


def masked_softmax(scores, allowed, scale):
    """softmax(scale * scores) over the allowed keys (allowed (N, Tq, Tk), shared by the heads,
    or (N, H, Tq, Tk), one per head); 0 elsewhere; a row with nothing allowed is uniform over all
    keys (Keras' -1e9 adder on every score of the row leaves them equal)."""
    s = f64(scores) * scale
    ok = np.broadcast_to(allowed if allowed.ndim == 4 else allowed[:, None], s.shape)
    s = np.where(ok, s, -np.inf)
    mx = np.max(s, axis=-1, keepdims=True)
    mx = np.where(np.isfinite(mx), mx, 0.0)
    e = np.where(ok, np.exp(s - mx), 0.0)
    tot = e.sum(-1, keepdims=True)
    return np.where(tot > 0, e / np.where(tot > 0, tot, 1.0), 1.0 / s.shape[-1])


def masked_softmax_grad(p, dp, scale):
    p, dp = f64(p), f64(dp)
    return scale * p * (dp - (p * dp).sum(-1, keepdims=True))


def mha_forward(query, value, key, weights, allowed, keep=None):
    """Keras 3 MultiHeadAttention. weights = [Wq (Dq,H,K), bq (H,K), Wk, bk, Wv (Dv,H,V), bv,
    Wo (H,V,Do), bo (Do,)]; allowed (N, Tq, Tk) or per head (N, H, Tq, Tk); keep: dropout
    multipliers on the probs.
    Returns (out, probs, cache)."""
    q_in, v_in = f64(query), f64(value)
    k_in = v_in if key is None else f64(key)
    wq, bq, wk, bk, wv, bv, wo, bo = [f64(w) for w in weights]
    q = np.einsum("ntd,dhk->nthk", q_in, wq) + bq
    k = np.einsum("ntd,dhk->nthk", k_in, wk) + bk
    v = np.einsum("ntd,dhk->nthk", v_in, wv) + bv
    scale = 1.0 / np.sqrt(wq.shape[-1])
    scores = np.einsum("nihk,njhk->nhij", q, k)
    p = masked_softmax(scores, allowed, scale)
    pu = p if keep is None else p * keep
    ctx = np.einsum("nhij,njhv->nihv", pu, v)
    out = np.einsum("nihv,hvo->nio", ctx, wo) + bo
    return out, p, (q_in, v_in, k_in, q, k, v, p, pu, ctx, scale)


def mha_backward(dy, query, value, key, weights, allowed, keep=None):
    """Gradients of sum(dy * mha_forward): (dquery, dvalue, dkey or None, [dW...] Keras order).
    With key None the key projection's input gradient is added to dvalue."""
    _, _, cache = mha_forward(query, value, key, weights, allowed, keep)
    q_in, v_in, k_in, q, k, v, p, pu, ctx, scale = cache
    wq, bq, wk, bk, wv, bv, wo, bo = [f64(w) for w in weights]
    dy = f64(dy)
    dwo = np.einsum("nihv,nio->hvo", ctx, dy)
    dbo = dy.sum((0, 1))
    dctx = np.einsum("nio,hvo->nihv", dy, wo)
    dpu = np.einsum("nihv,njhv->nhij", dctx, v)
    dv = np.einsum("nhij,nihv->njhv", pu, dctx)
    dp = dpu if keep is None else dpu * keep
    ds = masked_softmax_grad(p, dp, scale)
    dq = np.einsum("nhij,njhk->nihk", ds, k)
    dk = np.einsum("nhij,nihk->njhk", ds, q)
    grads = []
    dxs = []
    for x, d, w in ((q_in, dq, wq), (k_in, dk, wk), (v_in, dv, wv)):
        grads += [np.einsum("ntd,nthk->dhk", x, d), d.sum((0, 1))]
        dxs.append(np.einsum("nthk,dhk->ntd", d, w))
    dquery, dkey, dvalue = dxs
    if key is None:
        dvalue, dkey = dvalue + dkey, None
    return dquery, dvalue, dkey, grads[:2] + grads[2:4] + grads[4:6] + [dwo, dbo]


# =============================================================================================
# Image preprocessing (issue 13): resize2d (Resizing, CenterCrop) and image_transform (the
# random affine layers), as explicit float64 linear maps.
# =============================================================================================

def resize_matrix(in_size, out_size, interpolation="bilinear"):
    """(out_size, in_size) matrix of TF's half-pixel resize along one axis (edges clamped)."""
    m = np.zeros((out_size, in_size))
    scale = in_size / out_size
    for o in range(out_size):
        if interpolation == "bilinear":
            src = min(max((o + 0.5) * scale - 0.5, 0.0), in_size - 1)
            i0 = int(np.floor(src))
            i1 = min(i0 + 1, in_size - 1)
            m[o, i0] += 1.0 - (src - i0)
            m[o, i1] += src - i0
        else:
            m[o, min(int(np.floor((o + 0.5) * scale)), in_size - 1)] = 1.0
    return m


def resize2d(x, size, interpolation="bilinear", window=None):
    """The window (top, left, height, width) of x (N, H, W, C) resized to size (OH, OW)."""
    x = f64(x)
    top, left, wh, ww = window or (0, 0, x.shape[1], x.shape[2])
    part = x[:, top:top + wh, left:left + ww]
    return np.einsum("ih,jw,nhwc->nijc", resize_matrix(wh, size[0], interpolation),
                     resize_matrix(ww, size[1], interpolation), part)


def resize2d_grad(dy, input_shape, interpolation="bilinear", window=None):
    dy = f64(dy)
    dx = np.zeros(input_shape)
    top, left, wh, ww = window or (0, 0, input_shape[1], input_shape[2])
    dx[:, top:top + wh, left:left + ww] = np.einsum(
        "ih,jw,nijc->nhwc", resize_matrix(wh, dy.shape[1], interpolation),
        resize_matrix(ww, dy.shape[2], interpolation), dy)
    return dx


def _fill_index(i, n, mode):
    """The source index fill_mode reads for index i on an axis of n pixels (None: fill value)."""
    if 0 <= i < n:
        return i
    if mode == "reflect":  # ... c b a | a b c ... : period 2n, mirrored in its second half
        m = i % (2 * n)
        return 2 * n - 1 - m if m >= n else m
    if mode == "wrap":
        return i % n
    if mode == "nearest":
        return 0 if i < 0 else n - 1
    return None


def image_transform_matrix(shape, transform, out_size, interpolation="bilinear", fill_mode="constant"):
    """For one image (H, W): (A, b) with y_flat = A @ x_flat + b * fill_value, the warp by one
    projective transform (output pixel (X, Y) -> input point), pixels flattened row-major. b is
    the summed weight of each pixel's fill taps, NaN where it has none, so that a NaN fill_value
    reaches only the pixels with a fill tap (see image_transform)."""
    h, w = shape
    oh, ow = out_size
    a0, a1, a2, b0, b1, b2, c0, c1 = (float(v) for v in transform)
    A = np.zeros((oh * ow, h * w))
    fill = np.full(oh * ow, np.nan)  # NaN: this pixel has no fill tap
    for Y in range(oh):
        for X in range(ow):
            row = Y * ow + X
            k = c0 * X + c1 * Y + 1.0
            if k == 0.0:
                fill[row] = 1.0
                continue
            xin, yin = (a0 * X + a1 * Y + a2) / k, (b0 * X + b1 * Y + b2) / k
            if interpolation == "nearest":
                rx = np.floor(abs(xin) + 0.5) * np.sign(xin)  # half away from zero, as std::round
                ry = np.floor(abs(yin) + 0.5) * np.sign(yin)
                taps = [(int(ry), int(rx), 1.0)]
            else:
                x0, y0 = np.floor(xin), np.floor(yin)
                ax, ay = xin - x0, yin - y0
                x0, y0 = int(x0), int(y0)
                taps = [(y0, x0, (1 - ay) * (1 - ax)), (y0, x0 + 1, (1 - ay) * ax),
                        (y0 + 1, x0, ay * (1 - ax)), (y0 + 1, x0 + 1, ay * ax)]
            for yi, xi, wt in taps:
                fy, fx = _fill_index(yi, h, fill_mode), _fill_index(xi, w, fill_mode)
                if fy is None or fx is None:
                    fill[row] = wt if np.isnan(fill[row]) else fill[row] + wt
                else:
                    A[row, fy * w + fx] += wt
    return A, fill


def image_transform(x, transforms, out_size=None, interpolation="bilinear", fill_mode="constant",
                    fill_value=0.0):
    x = f64(x)
    n, h, w, c = x.shape
    out_size = out_size or (h, w)
    y = np.zeros((n,) + tuple(out_size) + (c,))
    for b in range(n):
        A, fill = image_transform_matrix((h, w), transforms[b], out_size, interpolation, fill_mode)
        fill_term = np.where(np.isnan(fill), 0.0, fill * fill_value)  # only pixels with a fill tap
        y[b] = (A @ x[b].reshape(h * w, c) + fill_term[:, None]).reshape(y.shape[1:])
    return y


def image_transform_grad(dy, transforms, input_shape, interpolation="bilinear", fill_mode="constant"):
    dy = f64(dy)
    n, h, w, c = input_shape
    dx = np.zeros(input_shape)
    for b in range(n):
        A, _ = image_transform_matrix((h, w), transforms[b], dy.shape[1:3], interpolation, fill_mode)
        dx[b] = (A.T @ dy[b].reshape(-1, c)).reshape(h, w, c)
    return dx

# Issue 13, part A: GroupNormalization, UnitNormalization, AlphaDropout
# =============================================================================================

def _grouped(x, axis, groups):
    """x (N, ..., C at axis, ...) as (N, A, G, C/G, B) (a view in float64)."""
    x = f64(x)
    axis %= x.ndim
    a = int(np.prod(x.shape[1:axis], dtype=np.int64))
    b = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
    c = x.shape[axis]
    return x.reshape(x.shape[0], a, groups, c // groups, b)


def group_norm(x, gamma=None, beta=None, axis=-1, groups=1, epsilon=1e-3):
    """(y, mean, inv_std) of group normalization, written as Keras 3 computes it: moments over
    each (sample, group), mean / inv_std of shape (N, groups)."""
    xg = _grouped(x, axis, groups)
    mean = xg.mean(axis=(1, 3, 4), keepdims=True)
    var = ((xg - mean) ** 2).mean(axis=(1, 3, 4), keepdims=True)
    inv = 1.0 / np.sqrt(var + epsilon)
    y = (xg - mean) * inv
    cshape = (1, 1, groups, -1, 1)
    if gamma is not None:
        y = y * f64(gamma).reshape(cshape)
    if beta is not None:
        y = y + f64(beta).reshape(cshape)
    n = xg.shape[0]
    return y.reshape(np.shape(x)), mean.reshape(n, groups), inv.reshape(n, groups)


def group_norm_grads(dy, x, gamma=None, axis=-1, groups=1, epsilon=1e-3):
    """(dx, dgamma, dbeta) of group_norm from the chain rule per (sample, group)."""
    xg, dyg = _grouped(x, axis, groups), _grouped(dy, axis, groups)
    cshape = (1, 1, groups, -1, 1)
    g = dyg * (f64(gamma).reshape(cshape) if gamma is not None else 1.0)
    red = (1, 3, 4)
    mean = xg.mean(axis=red, keepdims=True)
    inv = 1.0 / np.sqrt(((xg - mean) ** 2).mean(axis=red, keepdims=True) + epsilon)
    xhat = (xg - mean) * inv
    dx = inv * (g - g.mean(axis=red, keepdims=True) - xhat * (g * xhat).mean(axis=red, keepdims=True))
    dgamma = (dyg * xhat).sum(axis=(0, 1, 4)).reshape(-1)
    dbeta = dyg.sum(axis=(0, 1, 4)).reshape(-1)
    return dx.reshape(np.shape(x)), dgamma, dbeta


def unit_norm(x, axis=-1):
    """Keras 3 UnitNormalization: x * rsqrt(max(sum x^2, 1e-12)) over axis (int or tuple)."""
    x = f64(x)
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    s = (x * x).sum(axis=axis, keepdims=True)
    return x / np.sqrt(np.maximum(s, 1e-12))


def unit_norm_grad(dy, x, axis=-1):
    """dx of unit_norm from the chain rule (the clamp contributes nothing where it holds)."""
    x, dy = f64(x), f64(dy)
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    s = (x * x).sum(axis=axis, keepdims=True)
    inv = 1.0 / np.sqrt(np.maximum(s, 1e-12))
    dot = (x * dy).sum(axis=axis, keepdims=True)
    return inv * dy - np.where(s > 1e-12, x * dot * inv ** 3, 0.0)


SELU_ALPHA_PRIME = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946


def alpha_dropout(x, keep, rate):
    """Keras 3 AlphaDropout given the keep pattern: a * where(keep, x, alpha') + b."""
    a = ((1 - rate) * (1 + rate * SELU_ALPHA_PRIME ** 2)) ** -0.5
    b = -a * SELU_ALPHA_PRIME * rate
    return a * np.where(keep, f64(x), SELU_ALPHA_PRIME) + b, a


def conv1d_transpose(x, w, b=None, stride=1, padding="valid", output_padding=None, dilation=1):
    """x (N, L, Cin), w (K, Cout, Cin) as Keras' Conv1DTranspose -> (N, OL, Cout): input step i
    sends x[:, i] @ w[k]^T to output step i*stride - pad + k*dilation."""
    x, w = f64(x), f64(w)
    length, pad = conv_transpose_length(x.shape[1], w.shape[0], stride, padding, output_padding,
                                        dilation)
    y = np.zeros((x.shape[0], length, w.shape[1]))
    for i in range(x.shape[1]):
        for k in range(w.shape[0]):
            o = i * stride - pad + k * dilation
            if 0 <= o < length:
                y[:, o, :] += x[:, i, :] @ w[k].T
    return y + f64(b) if b is not None else y


def keras_attention(query, value, key=None, scale=1.0, query_mask=None, value_mask=None,
                    causal=False):
    """Keras 3 Attention (score_mode='dot') in float64, as Keras computes it: masked scores get
    -1e9, softmax over the keys, weights @ value, then the query mask. Returns (out, weights)."""
    q, v = f64(query), f64(value)
    k = v if key is None else f64(key)
    scores = f64(scale) * (q @ k.transpose(0, 2, 1))
    allowed = np.ones(scores.shape, bool)
    if value_mask is not None:
        allowed &= np.asarray(value_mask, bool)[:, None, :]
    if causal:
        allowed &= np.tril(np.ones(scores.shape[1:], bool))[None]
    scores = scores - 1e9 * (~allowed)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = e / e.sum(axis=-1, keepdims=True)
    out = weights @ v
    if query_mask is not None:
        out = out * np.asarray(query_mask, np.float64)[:, :, None]
    return out, weights


def additive_scores(query, key, w, alpha=1.0):
    """scores[n, i, j] = sum_d w[d] tanh(alpha (query[n, i, d] + key[n, j, d])) in float64."""
    t = np.tanh(f64(alpha) * (f64(query)[:, :, None, :] + f64(key)[:, None, :, :]))
    return (t * f64(w)).sum(axis=-1)


def keras_additive_attention(query, value, key=None, scale=None, query_mask=None,
                             value_mask=None, causal=False):
    """Keras 3 AdditiveAttention in float64 (scale None: use_scale=False), as keras_attention."""
    q, v = f64(query), f64(value)
    k = v if key is None else f64(key)
    scores = additive_scores(q, k, np.ones(q.shape[-1]) if scale is None else scale)
    allowed = np.ones(scores.shape, bool)
    if value_mask is not None:
        allowed &= np.asarray(value_mask, bool)[:, None, :]
    if causal:
        allowed &= np.tril(np.ones(scores.shape[1:], bool))[None]
    scores = scores - 1e9 * (~allowed)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = e / e.sum(axis=-1, keepdims=True)
    out = weights @ v
    if query_mask is not None:
        out = out * np.asarray(query_mask, np.float64)[:, :, None]
    return out, weights


# -- added losses (add_loss, activity regularizers: tests/models/test_add_loss.py) ---------------

def l1l2_penalty(x, l1=0.0, l2=0.0):
    """Keras 3's L1L2 regularizer of an activation: l1 * sum|x| + l2 * sum x^2 over every entry
    (the whole batch; Keras 3 does not divide an activity penalty by the batch size)."""
    x = f64(x)
    return l1 * np.abs(x).sum() + l2 * np.square(x).sum()


def vae_kl(z_mean, z_log_var):
    """The Keras VAE example's KL term: -0.5 * mean(1 + log_var - mean^2 - exp(log_var))."""
    z_mean, z_log_var = f64(z_mean), f64(z_log_var)
    return -0.5 * np.mean(1.0 + z_log_var - np.square(z_mean) - np.exp(z_log_var))


def binary_crossentropy(y, p, eps=1e-7):
    """Keras 'binary_crossentropy' of probabilities: clipped to [eps, 1 - eps], mean of all."""
    y, p = f64(y), np.clip(f64(p), eps, 1.0 - eps)
    return float(np.mean(-(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))))

# =============================================================================================
# RNN cells (issue 13): one float64 step of each built-in cell, and a sequence loop from given
# initial states (the fused references above start from zeros)
# =============================================================================================

def rnn_cell_step(cell, x, states, w, r, b=None, activation="tanh", recurrent_activation="sigmoid",
                  reset_after=True, input_masks=None, recurrent_masks=None):
    """One step of 'simple_rnn' | 'lstm' | 'gru' (Keras math and layouts, as rnn_forward):
    x (N, F), states [h] or [h, c] (LSTM). Returns (output, new_states) in float64.
    ``input_masks`` / ``recurrent_masks``: Keras 3's dropout masks (its implementation 1): one
    (N, F) / (N, U) array per gate (or a single one for all gates); gate g reads x * m[g] and
    h * m[g] in its products, while the GRU's update mixes the unmasked h."""
    x, w, r = f64(x), f64(w), f64(r)
    u = r.shape[0]
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3}[cell]
    act, ract = _RNN_ACTS[activation][0], _RNN_ACTS[recurrent_activation][0]
    h = f64(states[0])

    def per_gate(v, masks):
        if masks is None:
            return [v] * gates
        masks = list(masks) * (gates if len(masks) == 1 else 1)
        return [v * f64(m) for m in masks]
    xs, hs = per_gate(x, input_masks), per_gate(h, recurrent_masks)
    xw = np.concatenate([xs[g] @ w[:, g * u:(g + 1) * u] for g in range(gates)], axis=1)
    hr = np.concatenate([hs[g] @ r[:, g * u:(g + 1) * u] for g in range(gates)], axis=1)
    if cell == "simple_rnn":
        hn = act(xw + hr + (0.0 if b is None else f64(b)))
        return hn, [hn]
    if cell == "lstm":
        c = f64(states[1])
        z = xw + hr + (0.0 if b is None else f64(b))
        i, f = ract(z[:, :u]), ract(z[:, u:2 * u])
        g, o = act(z[:, 2 * u:3 * u]), ract(z[:, 3 * u:])
        cn = f * c + i * g
        hn = o * act(cn)
        return hn, [hn, cn]
    if reset_after:
        b0, b1 = (0.0, 0.0) if b is None else (f64(b)[0], f64(b)[1])
        xz, rz = xw + b0, hr + b1
        z = ract(xz[:, :u] + rz[:, :u])
        rr = ract(xz[:, u:2 * u] + rz[:, u:2 * u])
        hh = act(xz[:, 2 * u:] + rr * rz[:, 2 * u:])
    else:
        xz = xw + (0.0 if b is None else f64(b))
        z = ract(xz[:, :u] + hr[:, :u])
        rr = ract(xz[:, u:2 * u] + hr[:, u:2 * u])
        hh = act(xz[:, 2 * u:] + (rr * hs[2]) @ r[:, 2 * u:])
    hn = z * h + (1.0 - z) * hh
    return hn, [hn]


def rnn_sequence(step, x, states, return_sequences=False, go_backwards=False, mask=None):
    """Keras' RNN loop over x (N, T, F) with any step(x_t, states) -> (output, states), from the
    given initial states (float64). A masked step keeps the states and repeats the previous
    output (zeros before the first). Returns (y, final_states); y in processing order."""
    x = f64(x)
    n, t, _ = x.shape
    states = [f64(s) for s in states]
    outputs, prev = [], None
    for ti in _rnn_order(t, go_backwards):
        out, new = step(x[:, ti], states)
        if mask is not None:
            keep = (np.asarray(mask)[:, ti] != 0)[:, None]
            new = [np.where(keep, a, b) for a, b in zip(new, states)]
            out = np.where(keep, out, np.zeros_like(out) if prev is None else prev)
        states, prev = new, out
        outputs.append(out)
    return (np.stack(outputs, axis=1) if return_sequences else outputs[-1]), states


# =============================================================================================
# Discretization (Keras 3): bucket indices and adapt's approximate quantile boundaries
# =============================================================================================

def discretize(x, boundaries):
    """Bucket i holds boundaries[i-1] <= x < boundaries[i] (0 below the first)."""
    x = f64(x)
    out = np.zeros(x.shape, np.int64)
    for b in boundaries:
        out += (x >= b)
    return out


def _summary_resample(values, weights, eps):
    if len(values) * eps < 1:
        return values, weights
    cum = np.cumsum(weights)
    frac = cum / cum[-1]
    at = eps + np.arange(0.0, 1.0, eps)
    new_values = np.interp(at, frac, values)
    new_cum = np.interp(at, frac, cum)
    return new_values, np.concatenate([[new_cum[0]], new_cum[1:] - new_cum[:-1]])


def discretization_boundaries(batches, num_bins, epsilon=0.01):
    """Keras 3's Discretization.adapt over ``batches``: each batch sorted and thinned to every
    k-th value (k = max(n * epsilon, 1), starting at int(n * epsilon)) with weight k; merged into
    the running summary by sorting both together and re-sampling at cumulative-weight fractions
    epsilon, 2 epsilon, ...; the boundaries re-sample that at 1 / num_bins and drop the last."""
    values, weights = np.zeros(0), np.zeros(0)
    for batch in batches:
        v = np.sort(f64(batch).reshape(-1))
        inc = v.size * epsilon
        start, step = int(inc), int(max(inc, 1.0))
        picked = v[start::step]
        values = np.concatenate([picked, values])
        weights = np.concatenate([np.full(picked.size, float(step)), weights])
        order = np.argsort(values, kind="stable")
        values, weights = _summary_resample(values[order], weights[order], epsilon)
    return list(_summary_resample(values, weights, 1.0 / num_bins)[0][:-1])


def fbeta_score(y_true, y_pred, beta=1.0, threshold=None, average=None, sample_weight=None, eps=1e-7):
    """Keras 3's FBetaScore from scratch in float64: the predicted classes (the row's maximum
    when threshold is None, never an all-zero row; else y_pred > threshold), weighted counts
    per class (pooled for 'micro'), then (1 + b^2) P R / (b^2 P + R) with Keras' epsilons."""
    y = np.asarray(y_true, np.float64)
    p = np.asarray(y_pred, np.float64)
    if threshold is None:
        hard = (p >= p.max(axis=-1, keepdims=True)) & (np.abs(p) > 1e-9)
    else:
        hard = p > threshold
    hard = hard.astype(np.float64)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    axis = None if average == "micro" else 0
    tp = (hard * y * w[:, None]).sum(axis=axis)
    fp = (hard * (1 - y) * w[:, None]).sum(axis=axis)
    fn = ((1 - hard) * y * w[:, None]).sum(axis=axis)
    support = (y * w[:, None]).sum(axis=axis)
    precision, recall = tp / (tp + fp + eps), tp / (tp + fn + eps)
    score = (1 + beta ** 2) * precision * recall / (beta ** 2 * precision + recall + eps)
    if average == "weighted":
        return float((score * support / (support.sum() + eps)).sum())
    if average in ("micro", "macro"):
        return float(np.mean(score))
    return score


def ctc_loss(logits, labels, label_lengths, logit_lengths, blank=0):
    """CTC loss per sample and its gradient w.r.t. the logits, float64: log-softmax, then the
    alpha / beta recursions over the blank-extended label in log space (Graves et al. 2006);
    gradient = softmax - occupancy. Steps past a sample's length get zero; an impossible label
    has loss inf and gradient zero."""
    x = np.asarray(logits, np.float64)
    B, T, K = x.shape
    losses, grads = np.zeros(B), np.zeros((B, T, K))
    for b in range(B):
        n, L = int(logit_lengths[b]), int(label_lengths[b])
        if n == 0:
            losses[b] = np.inf
            continue
        if np.isnan(x[b, :n]).any():
            losses[b], grads[b, :n] = np.nan, np.nan
            continue
        z = x[b, :n] - x[b, :n].max(-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        ext = np.full(2 * L + 1, blank, np.int64)
        ext[1::2] = np.asarray(labels[b][:L])
        S = len(ext)
        skip = np.zeros(S, bool)
        skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
        alpha = np.full((n, S), -np.inf)
        beta = np.full((n, S), -np.inf)
        alpha[0, :min(2, S)] = logp[0, ext[:min(2, S)]]
        for t in range(1, n):
            a = alpha[t - 1].copy()
            a[1:] = np.logaddexp(a[1:], alpha[t - 1, :-1])
            a[2:] = np.where(skip[2:], np.logaddexp(a[2:], alpha[t - 1, :-2]), a[2:])
            alpha[t] = a + logp[t, ext]
        beta[n - 1, -min(2, S):] = logp[n - 1, ext[-min(2, S):]]
        for t in range(n - 2, -1, -1):
            c = beta[t + 1].copy()
            c[:-1] = np.logaddexp(c[:-1], beta[t + 1, 1:])
            c[:-2] = np.where(skip[2:], np.logaddexp(c[:-2], beta[t + 1, 2:]), c[:-2])
            beta[t] = c + logp[t, ext]
        ll = np.logaddexp(alpha[n - 1, -1], alpha[n - 1, -2]) if S > 1 else alpha[n - 1, 0]
        if not np.isfinite(ll):
            losses[b] = np.inf
            continue
        losses[b] = -ll
        occ = np.zeros((n, K))
        for s in range(S):
            occ[:, ext[s]] += np.exp(alpha[:, s] + beta[:, s] - logp[:, ext[s]] - ll)
        grads[b, :n] = np.exp(logp) * occ.sum(-1, keepdims=True) - occ
    return losses, grads


# =============================================================================================
# Sweep 6 (tutorial programs): pixel shuffle, image metrics, target gradients of losses
# =============================================================================================

def depth_to_space(x, b):
    """NHWC, TensorFlow's DCR order: y[n, i*b + di, j*b + dj, k] = x[n, i, j, (di*b + dj)*C' + k]."""
    x = f64(x)
    n, h, w, c = x.shape
    co = c // (b * b)
    y = np.zeros((n, h * b, w * b, co))
    for di in range(b):
        for dj in range(b):
            y[:, di::b, dj::b, :] = x[:, :, :, (di * b + dj) * co:(di * b + dj + 1) * co]
    return y


def space_to_depth(x, b):
    x = f64(x)
    n, h, w, c = x.shape
    y = np.zeros((n, h // b, w // b, b * b * c))
    for di in range(b):
        for dj in range(b):
            y[:, :, :, (di * b + dj) * c:(di * b + dj + 1) * c] = x[:, di::b, dj::b, :]
    return y


def total_variation(x):
    """Per image of a batch (N, H, W, C): sum |vertical| + |horizontal| neighbour differences."""
    x = f64(x)
    return (np.abs(np.diff(x, axis=1)).sum(axis=(1, 2, 3)) + np.abs(np.diff(x, axis=2)).sum(axis=(1, 2, 3)))


def psnr(a, b, max_val):
    mse = ((f64(a) - f64(b)) ** 2).mean(axis=(-3, -2, -1))
    return 20 * np.log10(max_val) - 10 * np.log10(mse)


def resize_area(x, oh, ow):
    """TensorFlow's 'area' resize of a batch (N, H, W, C): each output pixel the overlap-weighted
    mean of the input box it covers, written as a loop over boxes."""
    x = f64(x)
    n, h, w, c = x.shape
    y = np.zeros((n, oh, ow, c))
    sh, sw = h / oh, w / ow
    for o in range(oh):
        for q in range(ow):
            total = np.zeros((n, c))
            for i in range(h):
                wi = max(0.0, min((o + 1) * sh, i + 1) - max(o * sh, i))
                for j in range(w):
                    wj = max(0.0, min((q + 1) * sw, j + 1) - max(q * sw, j))
                    total += wi * wj * x[:, i, j, :]
            y[:, o, q, :] = total / (sh * sw)
    return y


def loss_of_target(kind, y_true, y_pred, from_logits=False, sample_weight=None, reduction="mean"):
    """The reduced Keras loss as a function of y_true (float64), for finite differences of its
    gradient with respect to the target."""
    t, p = f64(y_true), f64(y_pred)
    eps = EPSILON
    if kind in ("mean_squared_error", "mean_absolute_error", "huber", "binary_crossentropy",
                "categorical_crossentropy"):
        per = loss_per_sample(kind, p, t, from_logits)
    elif kind == "log_cosh":
        per = np.log(np.cosh(p - t)).mean(axis=-1)
    elif kind == "kl_divergence":
        tc, pc = np.clip(t, eps, 1), np.clip(p, eps, 1)
        per = (tc * np.log(tc / pc)).sum(axis=-1)
    elif kind == "poisson":
        per = (p - t * np.log(p + eps)).mean(axis=-1)
    else:
        raise ValueError(kind)
    per = per.reshape(-1)
    w = np.ones_like(per) if sample_weight is None else f64(sample_weight).reshape(-1)
    total = (w * per).sum()
    return total / per.size if reduction == "mean" else total


def rms_norm(x, gamma, norm_ndim=1, epsilon=1e-3):
    """Keras 3's RMSNormalization: x / sqrt(mean x^2 + eps) * gamma over the last norm_ndim axes
    (no centering, no beta)."""
    x = f64(x)
    axes = tuple(range(x.ndim - norm_ndim, x.ndim))
    return x / np.sqrt((x * x).mean(axis=axes, keepdims=True) + epsilon) * f64(gamma)


def rms_norm_grads(dy, x, gamma, norm_ndim=1, epsilon=1e-3):
    """(dx, dgamma) of rms_norm from the chain rule per row: with s = mean x^2 + eps and
    u = x / sqrt(s), du_j/dx_k = (delta_jk - x_j x_k / (D s)) / sqrt(s)."""
    dy, x = f64(dy), f64(x)
    d = int(np.prod(x.shape[x.ndim - norm_ndim:]))
    x2, dy2 = x.reshape(-1, d), dy.reshape(-1, d)
    g2 = dy2 * f64(gamma).reshape(-1)
    s = (x2 * x2).mean(1, keepdims=True) + epsilon
    dx = g2 / np.sqrt(s) - x2 * (g2 * x2).sum(1, keepdims=True) / (d * s ** 1.5)
    dgamma = (dy2 * x2 / np.sqrt(s)).sum(0)
    return dx.reshape(x.shape), dgamma.reshape(x.shape[x.ndim - norm_ndim:])


def std_scaling_norm(x, gamma, norm_ndim=1, epsilon=1e-3):
    """Keras 3.15's LayerNormalization(rms_scaling=True): the uncentred x divided by the standard
    deviation, x / sqrt(var x + eps) * gamma over the last norm_ndim axes (no beta)."""
    x = f64(x)
    axes = tuple(range(x.ndim - norm_ndim, x.ndim))
    return x / np.sqrt(x.var(axis=axes, keepdims=True) + epsilon) * f64(gamma)


def std_scaling_norm_grads(dy, x, gamma, norm_ndim=1, epsilon=1e-3):
    """(dx, dgamma) of std_scaling_norm from each row's full Jacobian: y_j = x_j g_j s with
    s = (var + eps)^-1/2, ds/dx_k = -s^3 (x_k - mean) / D, so
    dy_j/dx_k = g_j (s delta_jk + x_j ds/dx_k)."""
    dy, x = f64(dy), f64(x)
    d = int(np.prod(x.shape[x.ndim - norm_ndim:]))
    x2, dy2, g = x.reshape(-1, d), dy.reshape(-1, d), f64(gamma).reshape(-1)
    dx = np.empty_like(x2)
    for r in range(x2.shape[0]):
        row = x2[r]
        s = 1.0 / np.sqrt(row.var() + epsilon)
        ds = -s ** 3 * (row - row.mean()) / d
        jac = g[:, None] * (s * np.eye(d) + row[:, None] * ds[None, :])
        dx[r] = jac.T @ dy2[r]
    s_rows = 1.0 / np.sqrt(x2.var(axis=1, keepdims=True) + epsilon)
    dgamma = (dy2 * x2 * s_rows).sum(0)
    return dx.reshape(x.shape), dgamma.reshape(x.shape[x.ndim - norm_ndim:])


def softmax_axes(x, axes):
    """Softmax normalised over all of ``axes`` together (float64)."""
    x = f64(x)
    axes = tuple(np.atleast_1d(axes))
    e = np.exp(x - x.max(axis=axes, keepdims=True))
    return e / e.sum(axis=axes, keepdims=True)


def softmax_axes_grad(x, dy, axes):
    y = softmax_axes(x, axes)
    dy = f64(dy)
    return y * (dy - (dy * y).sum(axis=tuple(np.atleast_1d(axes)), keepdims=True))


# =============================================================================================
# Grouped convolution (Keras groups=G) and channels-first (NCHW) convolution
# =============================================================================================
# Keras' grouped kernel is (KH, KW, C / G, F): group g's outputs [g*F/G, (g+1)*F/G) read only
# its inputs [g*C/G, (g+1)*C/G). Written per group on the ungrouped loops above; the NCHW form is
# written again, directly in NCHW indexing, so channels-first layers meet an oracle that never
# transposes.

def conv2d_grouped(x, w, b=None, strides=(1, 1), padding="valid", dilation=(1, 1), groups=1):
    x, w = f64(x), f64(w)
    cg, fg = x.shape[3] // groups, w.shape[3] // groups
    y = np.concatenate([conv2d_forward(x[..., g * cg:(g + 1) * cg], w[..., g * fg:(g + 1) * fg],
                                       None, strides, padding, dilation) for g in range(groups)], axis=-1)
    return y + f64(b) if b is not None else y


def conv2d_grouped_grads(x, w, dy, strides=(1, 1), padding="valid", dilation=(1, 1), groups=1):
    """(dx, dw, db) of conv2d_grouped given dy (N, OH, OW, F)."""
    x, w, dy = f64(x), f64(w), f64(dy)
    cg, fg = x.shape[3] // groups, w.shape[3] // groups
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for g in range(groups):
        xs, ws, dys = x[..., g * cg:(g + 1) * cg], w[..., g * fg:(g + 1) * fg], dy[..., g * fg:(g + 1) * fg]
        dx[..., g * cg:(g + 1) * cg] = conv2d_backward_data(dys, ws, xs.shape, strides, padding, dilation)
        dw[..., g * fg:(g + 1) * fg] = conv2d_backward_weights(xs, dys, ws.shape, strides, padding, dilation)[0]
    return dx, dw, dy.sum(axis=(0, 1, 2))


def conv2d_nchw(x, w, b=None, strides=(1, 1), padding="valid", dilation=(1, 1), groups=1):
    """x (N, C, H, W), w (KH, KW, C / G, F) as Keras keeps it for either layout -> (N, F, OH, OW)."""
    x, w = f64(x), f64(w)
    n, c, h, wd = x.shape
    kh_, kw_, cg, f = w.shape
    fg = f // groups
    oh_, pt = conv2d_padding(h, kh_, strides[0], padding, dilation[0])
    ow_, pl = conv2d_padding(wd, kw_, strides[1], padding, dilation[1])
    y = np.zeros((n, f, oh_, ow_))
    for co in range(f):
        g = co // fg
        for oh in range(oh_):
            for ow in range(ow_):
                acc = np.zeros(n)
                for kh in range(kh_):
                    ih = oh * strides[0] - pt + kh * dilation[0]
                    for kw in range(kw_):
                        iw = ow * strides[1] - pl + kw * dilation[1]
                        if 0 <= ih < h and 0 <= iw < wd:
                            acc += x[:, g * cg:(g + 1) * cg, ih, iw] @ w[kh, kw, :, co]
                y[:, co, oh, ow] = acc
    if b is not None:
        y += f64(b)[None, :, None, None]
    return y


# =============================================================================================
# 3-D convolution, transposed convolution, pooling and upsampling (NDHWC volumes)
# =============================================================================================
# Loops over output cells and kernel taps; the per-axis size and padding rules are the 2-D ones
# above (conv2d_padding, conv_transpose_length), applied to D, H and W.

def _conv3d_taps(x_shape, k_shape, strides, padding, dilation):
    """(OD, OH, OW) and every in-bounds tap (o, k, i): output cell o reads input cell
    i = o * s - pad + k * d through kernel tap k (each a (d, h, w) triple)."""
    sizes = x_shape[1:4]
    geo = [conv2d_padding(sizes[a], k_shape[a], strides[a], padding, dilation[a]) for a in range(3)]
    out, pads = tuple(o for o, _ in geo), [p for _, p in geo]
    taps = []
    for o in np.ndindex(*out):
        for k in np.ndindex(*k_shape[:3]):
            i = tuple(o[a] * strides[a] - pads[a] + k[a] * dilation[a] for a in range(3))
            if all(0 <= i[a] < sizes[a] for a in range(3)):
                taps.append((o, k, i))
    return out, taps


def _group_slices(c, f, groups):
    """[(input channel slice, output channel slice)] of each group."""
    cg, fg = c // groups, f // groups
    return [(slice(g * cg, (g + 1) * cg), slice(g * fg, (g + 1) * fg)) for g in range(groups)]


def conv3d(x, w, b=None, strides=(1, 1, 1), padding="valid", dilation=(1, 1, 1), groups=1):
    """x (N, D, H, W, C), w (KD, KH, KW, C / groups, F) -> (N, OD, OH, OW, F)."""
    x, w = f64(x), f64(w)
    out, taps = _conv3d_taps(x.shape, w.shape, strides, padding, dilation)
    y = np.zeros((x.shape[0],) + out + (w.shape[4],))
    for o, k, i in taps:
        for cs, fs in _group_slices(x.shape[4], w.shape[4], groups):
            y[(slice(None),) + o + (fs,)] += x[(slice(None),) + i + (cs,)] @ w[k][:, fs]
    return y if b is None else y + f64(b)


def conv3d_grads(x, w, dy, strides=(1, 1, 1), padding="valid", dilation=(1, 1, 1), groups=1):
    """(dx, dw, db) of conv3d given dy (N, OD, OH, OW, F)."""
    x, w, dy = f64(x), f64(w), f64(dy)
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    _, taps = _conv3d_taps(x.shape, w.shape, strides, padding, dilation)
    for o, k, i in taps:
        for cs, fs in _group_slices(x.shape[4], w.shape[4], groups):
            g_out = dy[(slice(None),) + o + (fs,)]
            dx[(slice(None),) + i + (cs,)] += g_out @ w[k][:, fs].T
            dw[k + (slice(None), fs)] += x[(slice(None),) + i + (cs,)].T @ g_out
    return dx, dw, dy.sum(axis=(0, 1, 2, 3))


def _transpose3d_taps(x_shape, w_shape, strides, padding, output_padding, dilation):
    """(OD, OH, OW) and the in-bounds scatter taps (i, k, o): input cell i sends x[i] @ w[k]^T
    to output cell o = i * s - pad + k * d."""
    op = (None,) * 3 if output_padding is None else tuple(output_padding)
    geo = [conv_transpose_length(x_shape[1 + a], w_shape[a], strides[a], padding, op[a], dilation[a])
           for a in range(3)]
    out, pads = tuple(o for o, _ in geo), [p for _, p in geo]
    taps = []
    for i in np.ndindex(*x_shape[1:4]):
        for k in np.ndindex(*w_shape[:3]):
            o = tuple(i[a] * strides[a] - pads[a] + k[a] * dilation[a] for a in range(3))
            if all(0 <= o[a] < out[a] for a in range(3)):
                taps.append((i, k, o))
    return out, taps


def conv3d_transpose(x, w, b=None, strides=(1, 1, 1), padding="valid", output_padding=None,
                     dilation=(1, 1, 1)):
    """x (N, D, H, W, Cin), w (KD, KH, KW, Cout, Cin) as Keras -> (N, OD, OH, OW, Cout)."""
    x, w = f64(x), f64(w)
    out, taps = _transpose3d_taps(x.shape, w.shape, strides, padding, output_padding, dilation)
    y = np.zeros((x.shape[0],) + out + (w.shape[3],))
    for i, k, o in taps:
        y[(slice(None),) + o] += x[(slice(None),) + i] @ w[k].T
    return y if b is None else y + f64(b)


def conv3d_transpose_grads(x, w, dy, strides=(1, 1, 1), padding="valid", output_padding=None,
                           dilation=(1, 1, 1)):
    """(dx, dw, db) of conv3d_transpose given dy."""
    x, w, dy = f64(x), f64(w), f64(dy)
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    _, taps = _transpose3d_taps(x.shape, w.shape, strides, padding, output_padding, dilation)
    for i, k, o in taps:
        g_out = dy[(slice(None),) + o]
        dx[(slice(None),) + i] += g_out @ w[k]
        dw[k] += g_out.T @ x[(slice(None),) + i]
    return dx, dw, dy.sum(axis=(0, 1, 2, 3))


def _pool3d_windows(sizes, pool_size, strides, padding):
    """(OD, OH, OW) and [(o, cells)]: each output cell's real input cells, in window order."""
    out, pads = [], []
    for size, k, s in zip(sizes, pool_size, strides):
        o = (size - k) // s + 1 if padding == "valid" else -(-size // s)
        out.append(o)
        pads.append(0 if padding == "valid" else max((o - 1) * s + k - size, 0) // 2)
    windows = []
    for o in np.ndindex(*out):
        ranges = [[c for c in range(o[a] * strides[a] - pads[a], o[a] * strides[a] - pads[a] + pool_size[a])
                   if 0 <= c < sizes[a]] for a in range(3)]
        windows.append((o, [(d, h, w) for d in ranges[0] for h in ranges[1] for w in ranges[2]]))
    return tuple(out), windows


def max_pool3d(x, pool_size, strides, padding):
    """Returns (y, argmax) with argmax = (d*H + h)*W + w of the first maximum in window order."""
    x = f64(x)
    n, _, hh, ww, c = x.shape
    out, windows = _pool3d_windows(x.shape[1:4], pool_size, strides, padding)
    y = np.zeros((n,) + out + (c,))
    am = np.zeros((n,) + out + (c,), dtype=np.int64)
    for o, cells in windows:
        vals = np.stack([x[(slice(None),) + cell] for cell in cells], axis=1)   # (n, cells, c)
        k = vals.argmax(axis=1)
        y[(slice(None),) + o] = vals.max(axis=1)
        flat = np.array([(d * hh + h) * ww + w for d, h, w in cells])
        am[(slice(None),) + o] = flat[k]
    return y, am


def max_pool3d_grad(x, dy, pool_size, strides, padding):
    x, dy = f64(x), f64(dy)
    n, d, h, w, c = x.shape
    _, am = max_pool3d(x, pool_size, strides, padding)
    dx = np.zeros((n, d * h * w, c))
    for b in range(n):
        for ch in range(c):
            np.add.at(dx[b, :, ch], am[b, ..., ch].ravel(), dy[b, ..., ch].ravel())
    return dx.reshape(x.shape)


def avg_pool3d(x, pool_size, strides, padding):
    x = f64(x)
    out, windows = _pool3d_windows(x.shape[1:4], pool_size, strides, padding)
    y = np.zeros((x.shape[0],) + out + (x.shape[4],))
    for o, cells in windows:
        y[(slice(None),) + o] = np.mean([x[(slice(None),) + cell] for cell in cells], axis=0)
    return y


def avg_pool3d_grad(x_shape, dy, pool_size, strides, padding):
    dy = f64(dy)
    _, windows = _pool3d_windows(x_shape[1:4], pool_size, strides, padding)
    dx = np.zeros(x_shape)
    for o, cells in windows:
        share = dy[(slice(None),) + o] / len(cells)
        for cell in cells:
            dx[(slice(None),) + cell] += share
    return dx


def upsample3d(x, size):
    """Nearest: every cell repeated size[0] x size[1] x size[2] times."""
    y = f64(x)
    for axis, s in zip((1, 2, 3), size):
        y = np.repeat(y, s, axis=axis)
    return y


def upsample3d_grad(dy, size):
    dy = f64(dy)
    n, d, h, w, c = dy.shape
    sd, sh, sw = size
    return dy.reshape(n, d // sd, sd, h // sh, sh, w // sw, sw, c).sum(axis=(2, 4, 6))


# =============================================================================================
# Image augmentation (issue 13): the colour / mixing layers' math per pixel, written plainly
# (loops, colorsys) so the vectorized layers are checked against something independent.
# =============================================================================================

def luma(x):
    """(N, H, W, 3) -> (N, H, W, 1): 0.2989 R + 0.587 G + 0.114 B (ITU-R 601, as Keras)."""
    x = f64(x)
    return (0.2989 * x[..., 0] + 0.5870 * x[..., 1] + 0.1140 * x[..., 2])[..., None]


def map_hsv(x, fn):
    """Each RGB pixel of x (N, H, W, 3) through colorsys' HSV: fn(h, s, v) -> (h, s, v)."""
    import colorsys
    x = f64(x)
    y = np.empty_like(x)
    for idx in np.ndindex(x.shape[:-1]):
        h, s, v = colorsys.rgb_to_hsv(*x[idx])
        y[idx] = colorsys.hsv_to_rgb(*fn(h, s, v))
    return y


def conv2d_same_zero(x, kernel):
    """Each channel of x (N, H, W, C) correlated with kernel (KH, KW) (odd sizes), 'same' output
    with zero padding."""
    x = f64(x)
    kh, kw = kernel.shape
    n, h, w, c = x.shape
    y = np.zeros_like(x)
    for i in range(h):
        for j in range(w):
            for a in range(kh):
                for b in range(kw):
                    si, sj = i + a - kh // 2, j + b - kw // 2
                    if 0 <= si < h and 0 <= sj < w:
                        y[:, i, j] += kernel[a, b] * x[:, si, sj]
    return y


def gaussian_kernel2d(size, sigma):
    """(KH, KW) normalized Gaussian, sizes (KH, KW), sigmas (sigma_h, sigma_w)."""
    def one(k, s):
        t = np.arange(k) - (k - 1) / 2.0
        g = np.exp(-t * t / (2.0 * s * s))
        return g / g.sum()
    return np.outer(one(size[0], sigma[0]), one(size[1], sigma[1]))


def equalize(x, bins=256):
    """Histogram equalization of each channel of each image of x (N, H, W, C) on [0, 255] (Keras'
    Equalization): bin int(v (bins - 1) / 255), lut round(255 (cdf - cdf_min) / (total - cdf_min))."""
    x = f64(x)
    y = x.copy()
    n, h, w, c = x.shape
    for b in range(n):
        for ch in range(c):
            v = x[b, :, :, ch]
            idx = np.clip((v * (bins - 1) / 255.0).astype(int), 0, bins - 1)
            hist = np.array([(idx == k).sum() for k in range(bins)])
            if (hist > 0).sum() <= 1:
                continue
            cdf = np.cumsum(hist)
            cdf_min = cdf[hist > 0][0]
            lut = np.clip(np.round((cdf - cdf_min) * 255.0 / (cdf[-1] - cdf_min)), 0, 255)
            y[b, :, :, ch] = lut[idx]
    return y


# EinsumDense, 1-D depthwise / separable convolutions, ConvLSTM2D / 3D
# =============================================================================================

def einsum_dense(x, w, b, equation):
    """Keras' EinsumDense before its activation: einsum(equation, x, w) (+ b, broadcast against
    the output's trailing axes)."""
    y = np.einsum(equation, f64(x), f64(w))
    return y if b is None else y + f64(b)


def lora_kernel(kernel, a, b, alpha, rank):
    """Keras' LoRA effective kernel W + (alpha / rank) * A @ B: W (*P, N), A (*P, r), B (r, N)."""
    return f64(kernel) + (alpha / rank) * (f64(a) @ f64(b))


def depthwise_conv1d(x, w, b=None, stride=1, padding="valid", dilation=1):
    """x (N, L, C), w (K, C, DM) -> (N, OL, C*DM), output channel c*DM + m; TensorFlow's 'valid'
    / 'same' lengths (the odd padding cell after)."""
    x, w = f64(x), f64(w)
    n, length, c = x.shape
    k, _, dm = w.shape
    extent = (k - 1) * dilation + 1
    if padding == "same":
        out = -(-length // stride)
        before = max((out - 1) * stride + extent - length, 0) // 2
    else:
        out, before = (length - extent) // stride + 1, 0
    y = np.zeros((n, out, c, dm))
    for o in range(out):
        for tap in range(k):
            i = o * stride - before + tap * dilation
            if 0 <= i < length:
                y[:, o] += x[:, i, :, None] * w[tap]
    y = y.reshape(n, out, c * dm)
    return y + f64(b) if b is not None else y


def separable_conv1d(x, depthwise, pointwise, b=None, stride=1, padding="valid", dilation=1):
    """depthwise_conv1d, then the pointwise (1, C*DM, F) kernel mixing channels (+ b)."""
    y = depthwise_conv1d(x, depthwise, None, stride, padding, dilation) @ f64(pointwise)[0]
    return y + f64(b) if b is not None else y


def conv_lstm(x, kernel, recurrent_kernel, bias=None, strides=None, padding="valid",
              dilation=None, activation="tanh", recurrent_activation="sigmoid",
              go_backwards=False, h0=None, c0=None, mask=None):
    """Keras 3's ConvLSTM2D / ConvLSTM3D cell over a sequence, written as Keras writes it: the
    kernel split into its four gate blocks i, f, c, o along the last axis, each an input conv
    (+ its bias block) plus a 'same', stride-1 recurrent conv of h. x (N, T, *S, C), channels
    last, S two or three spatial axes (conv2d_forward / conv3d). ``mask`` (N, T), Keras' RNN
    masking: a masked step keeps a sample's h and c and repeats its previous output (zeros
    before its first real step). Returns (hs, h_n, c_n): hs (N, T, *OS, F) the outputs in
    processing order (Keras' output sequence)."""
    x = f64(x)
    rank = x.ndim - 3
    conv = conv2d_forward if rank == 2 else conv3d
    ones = (1,) * rank
    strides, dilation = strides or ones, dilation or ones
    act, ract = _RNN_ACTS[activation][0], _RNN_ACTS[recurrent_activation][0]
    ks, rks = np.split(f64(kernel), 4, axis=-1), np.split(f64(recurrent_kernel), 4, axis=-1)
    bs = [None] * 4 if bias is None else np.split(f64(bias), 4)
    n, t = x.shape[:2]
    h = c = None
    hs = []
    for s in range(t):
        step = t - 1 - s if go_backwards else s
        zs = [conv(x[:, step], k, b, strides, padding, dilation) for k, b in zip(ks, bs)]
        if h is None:
            h = np.zeros(zs[0].shape) if h0 is None else f64(h0)
            c = np.zeros(zs[0].shape) if c0 is None else f64(c0)
            out = np.zeros(zs[0].shape)
        zs = [z + conv(h, rk, None, ones, "same") for z, rk in zip(zs, rks)]
        i, f, g, o = ract(zs[0]), ract(zs[1]), act(zs[2]), ract(zs[3])
        c_new = f * c + i * g
        h_new = o * act(c_new)
        keep = np.ones(n, bool) if mask is None else np.asarray(mask, bool)[:, step]
        keep = keep.reshape((n,) + (1,) * (h.ndim - 1))
        h, c, out = np.where(keep, h_new, h), np.where(keep, c_new, c), np.where(keep, h_new, out)
        hs.append(out)
    return np.stack(hs, axis=1), h, c


def random_fourier_features(x, unscaled_kernel, bias, kernel_scale):
    """tf.keras 2's RandomFourierFeatures: cos(x @ W / s + b), s = kernel_scale[0]."""
    return np.cos(f64(x) @ (f64(unscaled_kernel) / f64(kernel_scale)[0]) + f64(bias))
