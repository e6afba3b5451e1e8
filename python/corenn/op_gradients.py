"""Tensor ops' gradients written again with tensor ops, for gradients that are differentiated.

Every differentiable op in ops.py records a fused kernel rule: ``rule(dys) -> dxs``, run by the
tape's ordinary backward and recorded by nothing. When a tape records *around* a gradient
computation (nested tapes: a physics-informed network's u_xx = d/dx (du/dx), a Hessian-vector
product, a gradient penalty of a gradient penalty), the gradient itself must be a function the
outer tape can differentiate. For that each op also records ``op=(name, *attributes)``, and
``vjp`` below computes the same dxs with recorded ops (GradientTape._backward_recorded). Every
rule here is built only from ops that have a rule here, so any order of differentiation works.

    op                     dx (dy: the output's gradient; unbroadcast = sum over broadcast axes)
    add / subtract         ±dy
    multiply               dy * b,  dy * a
    divide                 dy / b,  -dy * a / b^2
    power (y = a^b)        dy * b * a^(b-1),  dy * y * log a
    maximum / minimum      dy where a wins (ties and NaN to a, as the kernel), else to b
    unary f                dy * f'(x), f' from x or y (exp: y, tanh: 1 - y^2, ...); the NumPy-formula
                           ops (erf, sinh, log1p, rsqrt ...: ops._DIFFERENTIABLE_AGAIN) evaluate their
                           derivative formula on Tensors, its NumPy ufuncs as ops (unary_np)
    sum / mean             dy broadcast back (/ count)
    cumsum / logsumexp     dy's reversed cumulative sum / dy exp(x - y)
    max / min              dy to the positions holding the extreme, split among ties
    reshape / transpose    dy reshaped / transposed back
    concatenate            dy's slices
    matmul                 dy @ b^T, a^T @ dy, unbroadcast over leading batch axes
    gather (indexing)      dy scattered back; its own rule is the gather again (both linear)
    conv2d, its data and   each other (below, _conv)
    weight gradients
    average pooling and    each other (both linear; one is the other's adjoint)
    its input gradient

Constant masks (relu's x > 0, max's winners) are piecewise constants: their derivative is zero
where it exists, as in TensorFlow and PyTorch.
"""
from __future__ import annotations

import numpy as np


def _ops():
    from . import ops
    return ops


def _mask_dtype(t):
    """The NumPy dtype of a constant factor (a mask, 1 / count) multiplied into a gradient of
    ``t``: float64 for float64 tensors (their rules keep float64's precision), else float32."""
    return np.float64 if str(t.dtype) == "float64" else np.float32


def _sum_to(g, shape):
    """g summed over the axes along which an operand of ``shape`` was broadcast (with ops)."""
    ops = _ops()
    shape = tuple(int(d) for d in shape)
    if tuple(g.shape) == shape:
        return g
    lead = len(g.shape) - len(shape)
    axes = list(range(lead)) + [lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1]
    return ops.reshape(ops.sum(g, axis=tuple(axes), keepdims=False), list(shape))


# -- elementwise -----------------------------------------------------------------------------------

def _binary(kind, a, b, y, dy):
    ops = _ops()
    if kind == "add":
        da, db = dy, dy
    elif kind == "subtract":
        da, db = dy, ops.negative(dy)
    elif kind == "multiply":
        da, db = ops.multiply(dy, b), ops.multiply(dy, a)
    elif kind == "divide":
        da = ops.divide(dy, b)
        db = ops.negative(ops.divide(ops.multiply(dy, a), ops.square(b)))
    elif kind == "power":
        B = np.asarray(b)
        da = ops.multiply(dy, ops.multiply(b, ops.power(a, ops.subtract(b, 1.0))))
        da = ops.where(B == 0, 0.0, da)
        A = np.broadcast_to(np.asarray(a), np.broadcast_shapes(tuple(a.shape), tuple(b.shape)))
        safe = (A == 0) & (B >= 0)   # 0^b with b >= 0: the kernel's zero, not 0 * log 0
        db = ops.where(safe, 0.0, ops.multiply(dy, ops.multiply(y, ops.log(ops.where(safe, 1.0, a)))))
    elif kind in ("maximum", "minimum"):
        A, B = np.asarray(a), np.asarray(b)
        wins = np.isnan(A) | ((A >= B) if kind == "maximum" else (A <= B))
        da = ops.where(wins, dy, 0.0)
        db = ops.where(wins, 0.0, dy)
    else:
        raise NotImplementedError(kind)
    return [_sum_to(da, a.shape), _sum_to(db, b.shape)]


def _unary(kind, x, y, dy):
    ops = _ops()
    if kind == "negative":
        return ops.negative(dy)
    if kind == "exp":
        return ops.multiply(dy, y)
    if kind == "log":
        return ops.divide(dy, x)
    if kind == "sqrt":
        return ops.divide(ops.multiply(dy, 0.5), y)
    if kind == "square":
        return ops.multiply(dy, ops.multiply(x, 2.0))
    if kind == "abs":
        return ops.multiply(dy, np.sign(np.asarray(x)).astype(_mask_dtype(x)))
    if kind == "reciprocal":
        return ops.negative(ops.multiply(dy, ops.square(y)))
    if kind == "sin":
        return ops.multiply(dy, ops.cos(x))
    if kind == "cos":
        return ops.negative(ops.multiply(dy, ops.sin(x)))
    raise NotImplementedError(kind)


def _activation(kind, alpha, x, y, dy):
    ops = _ops()
    if kind == "linear":
        return dy
    if kind == "relu":
        return ops.multiply(dy, (np.asarray(x) > 0).astype(_mask_dtype(x)))
    if kind == "leaky_relu":
        return ops.multiply(dy, np.where(np.asarray(x) > 0, 1.0, alpha).astype(_mask_dtype(x)))
    if kind == "tanh":
        return ops.multiply(dy, ops.subtract(1.0, ops.square(y)))
    if kind == "sigmoid":
        return ops.multiply(dy, ops.multiply(y, ops.subtract(1.0, y)))
    if kind == "elu":   # x > 0: 1; else alpha exp(x) = y + alpha
        return ops.multiply(dy, ops.where(np.asarray(x) > 0, 1.0, ops.add(y, alpha)))
    if kind == "softplus":
        return ops.multiply(dy, ops.sigmoid(x))
    if kind == "swish":   # s + x s (1 - s)
        s = ops.sigmoid(x)
        return ops.multiply(dy, ops.add(s, ops.multiply(x, ops.multiply(s, ops.subtract(1.0, s)))))
    if kind == "exponential":
        return ops.multiply(dy, y)
    if kind == "gelu":   # exact: Phi(x) + x phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2
        cdf = ops.multiply(0.5, ops.add(1.0, ops.erf(ops.multiply(x, 1.0 / np.sqrt(2.0)))))
        pdf = ops.multiply(1.0 / np.sqrt(2.0 * np.pi), ops.exp(ops.multiply(-0.5, ops.square(x))))
        return ops.multiply(dy, ops.add(cdf, ops.multiply(x, pdf)))
    if kind == "softmax":   # over the last axis: y (dy - sum(dy y))
        return ops.multiply(y, ops.subtract(dy, ops.sum(ops.multiply(dy, y), axis=-1, keepdims=True)))
    if kind == "log_softmax":   # dy - softmax * sum(dy)
        return ops.subtract(dy, ops.multiply(ops.exp(y), ops.sum(dy, axis=-1, keepdims=True)))
    raise NotImplementedError(f"activation {kind}")


# -- reductions and layout -------------------------------------------------------------------------

def _kept_shape(shape, axes):
    ndim = len(shape)
    axes = range(ndim) if axes is None else [a % ndim for a in (axes if isinstance(axes, (list, tuple)) else [axes])]
    return [1 if i in set(axes) else int(d) for i, d in enumerate(shape)]


def _reduce(kind, axes, x, y, dy):
    ops = _ops()
    kept = _kept_shape(tuple(x.shape), axes)
    spread = np.ones(tuple(x.shape), _mask_dtype(x))
    if kind == "sum":
        return ops.multiply(spread, ops.reshape(dy, kept))
    if kind == "mean":
        count = max(1, int(np.prod(x.shape)) // max(1, int(np.prod(kept))))
        return ops.multiply(spread / count, ops.reshape(dy, kept))
    if kind in ("max", "min"):
        hit = (np.asarray(x) == np.asarray(y).reshape(kept)) | (np.isnan(np.asarray(x))
                                                               & np.isnan(np.asarray(y)).reshape(kept))
        share = hit / np.maximum(hit.sum(axis=tuple(i for i, d in enumerate(kept) if d == 1 and x.shape[i] != 1)
                                         or None, keepdims=True), 1)
        return ops.multiply(share.astype(_mask_dtype(x)), ops.reshape(dy, kept))
    raise NotImplementedError(f"reduction {kind}")


def _concatenate(axis, xs, dy):
    out, start = [], 0
    axis = axis % len(dy.shape)
    for x in xs:
        size = int(x.shape[axis])
        key = (slice(None),) * axis + (slice(start, start + size),)
        out.append(dy[key])
        start += size
    return out


def _matmul(a, b, dy):
    ops = _ops()
    swap = lambda t: ops.transpose(t, list(range(len(t.shape) - 2)) + [len(t.shape) - 1, len(t.shape) - 2])
    return [_sum_to(ops.matmul(dy, swap(b)), a.shape), _sum_to(ops.matmul(swap(a), dy), b.shape)]


def _conv(name, kw, inputs, g):
    """The conv family closes under differentiation: each of conv(x, w), its data gradient
    D(dy, w) and its weight gradient W(x, dy) is bilinear, and their partial derivatives are
    the other two: conv -> (D(g, w), W(x, g)); D(dy, w) -> (conv(g, w), W(g, dy));
    W(x, dy) -> (D(dy, g), conv(x, g))."""
    from .nn import _conv2d_data_gradient, _conv2d_weight_gradient
    conv = _ops()._conv2d
    a, b = inputs
    if name == "conv2d":     # a = x, b = w
        return [_conv2d_data_gradient(g, b, tuple(a.shape), kw), _conv2d_weight_gradient(a, g, tuple(b.shape), kw)]
    if name == "conv2d_data":   # a = dy, b = w
        return [conv(g, b, kw), _conv2d_weight_gradient(g, a, tuple(b.shape), kw)]
    return [_conv2d_data_gradient(b, g, tuple(a.shape), kw), conv(a, g, kw)]   # a = x, b = dy


# -- the table -------------------------------------------------------------------------------------

def _gather_parts(picks, sizes, shapes, dys):
    """Output k = the row of all inputs' entries at picks[k]: each dy scattered into the row (the
    sum of the scatters), the row cut back into the inputs."""
    ops = _ops()
    total = int(sum(sizes))
    row = None
    for idx, dy in zip(picks, dys):
        if dy is not None:
            part = ops._scatter_flat(dy, idx, (total,))
            row = part if row is None else ops.add(row, part)
    if row is None:
        return [None] * len(sizes)
    out, start = [], 0
    for size, shape in zip(sizes, shapes):
        out.append(ops.reshape(row[start:start + int(size)], list(shape)))
        start += int(size)
    return out


def vjp(op, inputs, outputs, dys):
    """The gradients of one recorded op's inputs, computed with recorded ops. ``op`` is the
    descriptor the op recorded; raises NotImplementedError naming it where none is written."""
    name, args = op[0], op[1:]
    if name == "gather_parts":   # outputs gathered from the inputs' entries laid in a row
        return _gather_parts(*args, dys)
    dy = dys[0]
    ops = _ops()
    if dy is None:
        return [None] * len(inputs)
    if name == "binary":
        return _binary(args[0], inputs[0], inputs[1], outputs[0], dy)
    if name == "unary":
        return [_unary(args[0], inputs[0], outputs[0], dy)]
    if name == "unary_np":   # dy * df(x, y), the op's NumPy derivative formula evaluated with ops
        from ._tensor_numpy import ufuncs_as_ops
        with ufuncs_as_ops():
            d = args[0](inputs[0], outputs[0])
        return [ops.multiply(dy, d)]
    if name == "activation":
        return [_activation(args[0], args[1], inputs[0], outputs[0], dy)]
    if name == "reduce":
        return [_reduce(args[0], args[1], inputs[0], outputs[0], dy)]
    if name == "identity":
        return [dy]
    if name == "cumsum":   # linear: dx_i = sum_{j >= i} dy_j, a reversed cumulative sum
        ax = args[0]
        return [ops.flip(ops.cumsum(ops.flip(dy, axis=ax), axis=ax), axis=ax)]
    if name == "logsumexp":   # dx = dy * exp(x - y) (softmax over the reduced axes)
        kept = list(args[0])
        return [ops.multiply(ops.reshape(dy, kept), ops.exp(ops.subtract(inputs[0], ops.reshape(outputs[0], kept))))]
    if name == "reshape":
        return [ops.reshape(dy, list(inputs[0].shape))]
    if name == "transpose":
        return [ops.transpose(dy, list(args[0]))]
    if name == "concatenate":
        return _concatenate(args[0], inputs, dy)
    if name == "matmul":
        return _matmul(inputs[0], inputs[1], dy)
    if name == "where":
        pick = args[0]
        a, b = inputs
        return [_sum_to(ops.where(pick, dy, 0.0), a.shape), _sum_to(ops.where(pick, 0.0, dy), b.shape)]
    if name == "getitem":   # x[key] is the gather of the entries key picks
        shape = tuple(inputs[0].shape)
        idx = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)[args[0]]
        return [ops._scatter_flat(dy, np.asarray(idx), shape)]
    if name == "gather":   # y = x.flat[idx]; dx = scatter of dy
        return [ops._scatter_flat(dy, args[0], tuple(inputs[0].shape))]
    if name == "scatter_flat":   # y = scatter of x; dx = gather of dy at the same index
        return [ops._gather_flat(dy, args[0])]
    if name in ("conv2d", "conv2d_data", "conv2d_weights"):
        return _conv(name, args[0], inputs, dy)
    if name == "avg_pool2d":   # y = pool(x): dx = pool's input gradient of dy (linear in dy)
        return [ops._average_pool2d_gradient(dy, tuple(inputs[0].shape), *args)]
    if name == "avg_pool2d_data":   # y = pool's input gradient of x: its adjoint, the pooling
        return [ops._average_pool2d(dy, *args)]
    raise NotImplementedError(name)
