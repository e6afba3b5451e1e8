"""Convolution and pooling on float64 tensors: float64 NumPy values, float64 gradient rules.

The C++ conv / pool kernels are float32 (csrc/cpu/conv2d.cpp, pool2d.cpp). On float64 operands
(``_ops_wide.result_float(...) == "float64"``) ops.conv, conv_transpose, depthwise_conv,
separable_conv, max_pool and average_pool come here instead and return float64 Tensors. As the
float32 ops, everything runs on NHWC data with HWIO kernels (1-D inputs as height-1 images,
channels_first moved last with recorded float64 moves), with TensorFlow's / Keras' geometry
(kernels.conv2d_output_shape, conv2d_transpose_output_shape: the same shape rules and checks):

    conv2d(x, w)      patches of the zero-padded x (a strided view: N, OH, OW, KH, KW, C) contracted
                      with w per group: y[n,i,j,g,f] = sum_{a,b,c} P[n,i,j,a,b,g,c] w[a,b,c,g,f]
    data gradient     D(dy, w): dy contracted with w into patch gradients, added back window by
                      window (KH * KW strided slice adds), the padding cut off
    weight gradient   W(x, dy): the patches contracted with dy over (n, i, j)
    conv_transpose    D(x, w) with the transposed conv's geometry (Keras' output shape)
    depthwise_conv    conv2d with groups = C on the kernel reshaped (KH, KW, 1, C * DM): output
                      channel c * DM + m, as Keras
    max_pool          the window's first maximum (NaN wins, padding never: the float32 kernel's
                      rule), y = x.flat[argmax]: recorded as a gather
    average_pool      the mean over the window's real cells ('same' padding not counted)

conv2d, D and W are bilinear and each one's partial derivatives are the other two, so they record
the float32 ops' descriptors (("conv2d", kw), ("conv2d_data", kw), ("conv2d_weights", kw)) and
op_gradients._conv differentiates them again through ops._conv2d / nn._conv2d_data_gradient /
nn._conv2d_weight_gradient, which come back here on float64 operands: a nested tape through a
float64 Conv1D / Conv2D / Conv2DTranspose / DepthwiseConv2D gives float64 second derivatives.
Average pooling records ("avg_pool2d", ...) and its input gradient ("avg_pool2d_data", ...), max
pooling ("gather", argmax): both differentiable again too.

``kw`` is the float32 ops' dict (strides, padding, dilation_rate, groups) or, for a transposed
conv, explicit ``pads`` (before, per axis) and ``out_sp``, the size of the conv's output.
"""
from __future__ import annotations

import numpy as np

from . import autodiff, kernels
from .kernels import Tensor

__all__ = ["conv2d", "conv2d_data_gradient", "conv2d_weight_gradient", "conv", "conv_transpose",
           "depthwise_conv", "separable_conv", "max_pool", "average_pool",
           "average_pool2d", "average_pool2d_gradient"]


def _t64(a):
    return Tensor.from_numpy(np.array(a, dtype=np.float64, order="C", copy=True))


def _np64(x):
    return np.asarray(x, dtype=np.float64)


def _tuple(v, n):
    return (int(v),) * n if np.ndim(v) == 0 else tuple(int(u) for u in v)


def _geometry(kw, x_shape, w_shape, out_sp=None):
    """strides, pads before, dilations, groups and the output's spatial size of the conv of
    channels-last x_shape (N, *S, C) with a (*K, C / groups, F) kernel; ``out_sp``: the output
    size when it is known (a gradient's dy)."""
    nsp = len(x_shape) - 2
    strides, dil = _tuple(kw.get("strides", 1), nsp), _tuple(kw.get("dilation_rate", 1), nsp)
    groups = int(kw.get("groups", 1) or 1)
    if out_sp is None:
        out_sp = kw.get("out_sp")
    if "pads" in kw:
        if out_sp is None:
            raise ValueError("conv: a conv of explicit pads needs its output size")
        pads = tuple(int(p) for p in kw["pads"])
    else:
        axes = [kernels.conv_output_length(int(x_shape[1 + a]), int(w_shape[a]), strides[a],
                                           kw.get("padding", "valid"), dil[a], op="conv") for a in range(nsp)]
        pads = tuple(int(p) for _, p in axes)
        if out_sp is None:
            out_sp = tuple(o for o, _ in axes)
    return strides, pads, dil, groups, tuple(int(v) for v in out_sp)


def _extent(o, k, s, d):
    return (o - 1) * s + (k - 1) * d + 1 if o > 0 else 0


def _extents(out_sp, k, s, d):
    return tuple(max(_extent(o, kk, ss, dd), 1) for o, kk, ss, dd in zip(out_sp, k, s, d))


def _padded(a, pads, sizes, fill=0.0):
    """(N, *sizes, C): cell i of it is a's cell i - pads, ``fill`` outside (negative pads crop)."""
    out = np.full((a.shape[0],) + tuple(sizes) + (a.shape[-1],), fill, dtype=np.float64)
    dst, src = [slice(None)], [slice(None)]
    for p, size, new in zip(pads, a.shape[1:-1], sizes):
        lo, hi = max(p, 0), min(p + size, new)
        if hi <= lo:
            return out
        dst.append(slice(lo, hi))
        src.append(slice(lo - p, hi - p))
    out[tuple(dst)] = a[tuple(src)]
    return out


def _unpadded(a, pads, sizes):
    """The inverse read of _padded: (N, *sizes, C) whose cell i is a's i + pads, 0 outside."""
    out = np.zeros((a.shape[0],) + tuple(sizes) + (a.shape[-1],), dtype=np.float64)
    dst, src = [slice(None)], [slice(None)]
    for p, have, size in zip(pads, a.shape[1:-1], sizes):
        lo, hi = max(-p, 0), min(have - p, size)
        if hi <= lo:
            return out
        dst.append(slice(lo, hi))
        src.append(slice(lo + p, hi + p))
    out[tuple(dst)] = a[tuple(src)]
    return out


def _windows(xp, out_sp, k, s, d):
    """(N, *out, *K, C) read-only view of the windows of padded xp."""
    sp = xp.strides[1:-1]
    return np.lib.stride_tricks.as_strided(
        xp, (xp.shape[0],) + tuple(out_sp) + tuple(k) + (xp.shape[-1],),
        (xp.strides[0],) + tuple(b * ss for b, ss in zip(sp, s)) + tuple(b * dd for b, dd in zip(sp, d))
        + (xp.strides[-1],), writeable=False)


def _patches(x, k, strides, pads, dil, out_sp):
    return _windows(_padded(x, pads, _extents(out_sp, k, strides, dil)), out_sp, k, strides, dil)


def _letters(nsp):
    """einsum letters: the output's spatial axes, the kernel's."""
    return "xyz"[:nsp], "klm"[:nsp]


def _conv_np(X, W, kw):
    strides, pads, dil, g, out_sp = _geometry(kw, X.shape, W.shape)
    nsp = len(out_sp)
    k, cg, f = W.shape[:nsp], W.shape[-2], W.shape[-1]
    P = _patches(X, k, strides, pads, dil, out_sp)
    if g == 1:
        return np.tensordot(P, W, axes=(list(range(1 + nsp, 2 + 2 * nsp)), list(range(nsp + 1))))
    o, q = _letters(nsp)
    P = P.reshape(P.shape[:-1] + (g, cg))
    y = np.einsum(f"n{o}{q}gc,{q}cgf->n{o}gf", P, W.reshape(k + (cg, g, f // g)), optimize=True)
    return y.reshape(y.shape[:-2] + (f,))


def _data_np(DY, W, x_shape, kw):
    nsp = DY.ndim - 2
    strides, pads, dil, g, out_sp = _geometry(kw, x_shape, W.shape, DY.shape[1:-1])
    k, cg, f = W.shape[:nsp], W.shape[-2], W.shape[-1]
    if g == 1:
        dp = np.tensordot(DY, W, axes=([nsp + 1], [nsp + 1]))   # (n, *out, *k, c)
    else:
        o, q = _letters(nsp)
        dp = np.einsum(f"n{o}gf,{q}cgf->n{o}{q}gc", DY.reshape(DY.shape[:-1] + (g, f // g)),
                       W.reshape(k + (cg, g, f // g)), optimize=True)
        dp = dp.reshape(dp.shape[:-2] + (g * cg,))
    dxp = np.zeros((DY.shape[0],) + _extents(out_sp, k, strides, dil) + (dp.shape[-1],), np.float64)
    for tap in np.ndindex(*k):   # each tap's patch gradients, added back at its strided cells
        dst = (slice(None),) + tuple(slice(t * d, t * d + (o - 1) * s + 1, s)
                                     for t, d, o, s in zip(tap, dil, out_sp, strides))
        dxp[dst] += dp[(slice(None),) * (1 + nsp) + tap]
    return _unpadded(dxp, pads, x_shape[1:-1])


def _weights_np(X, DY, w_shape, kw):
    nsp = X.ndim - 2
    strides, pads, dil, g, out_sp = _geometry(kw, X.shape, w_shape, DY.shape[1:-1])
    k, cg, f = tuple(w_shape[:nsp]), w_shape[-2], w_shape[-1]
    P = _patches(X, k, strides, pads, dil, out_sp)
    if g == 1:
        return np.tensordot(P, DY, axes=(list(range(nsp + 1)), list(range(nsp + 1))))
    o, q = _letters(nsp)
    dw = np.einsum(f"n{o}{q}gc,n{o}gf->{q}cgf", P.reshape(P.shape[:-1] + (g, cg)),
                   DY.reshape(DY.shape[:-1] + (g, f // g)), optimize=True)
    return dw.reshape(k + (cg, f))


def _tape_needs(tape, t):
    return tape is not None and tape.needs_grad(t)


def conv2d(x, w, kw):
    """conv2d of float64 NHWC x with an HWIO kernel (kw: strides, padding or pads, dilation_rate,
    groups), recorded with ("conv2d", kw)."""
    y = _t64(_conv_np(_np64(x), _np64(w), kw))
    tape = autodiff.recording_tape()
    if tape is not None:
        need_x, need_w = _tape_needs(tape, x), _tape_needs(tape, w)

        def rule(dys):
            dy = _np64(dys[0])
            return [_t64(_data_np(dy, _np64(w), tuple(x.shape), kw)) if need_x else None,
                    _t64(_weights_np(_np64(x), dy, tuple(w.shape), kw)) if need_w else None]
        tape.record(rule, [x, w], [y], ("conv2d", kw))
    return y


def conv2d_data_gradient(dy, w, x_shape, kw):
    """D(dy, w): conv2d's data gradient as an op of its own, recorded with ("conv2d_data", kw)."""
    y = _t64(_data_np(_np64(dy), _np64(w), tuple(x_shape), kw))
    tape = autodiff.recording_tape()
    if tape is not None:
        need_dy, need_w = _tape_needs(tape, dy), _tape_needs(tape, w)

        def rule(dys):
            g = _np64(dys[0])
            return [_t64(_conv_np(g, _np64(w), kw)) if need_dy else None,
                    _t64(_weights_np(g, _np64(dy), tuple(w.shape), kw)) if need_w else None]
        tape.record(rule, [dy, w], [y], ("conv2d_data", kw))
    return y


def conv2d_weight_gradient(x, dy, w_shape, kw):
    """W(x, dy): conv2d's weight gradient as an op of its own, recorded with ("conv2d_weights", kw)."""
    y = _t64(_weights_np(_np64(x), _np64(dy), tuple(w_shape), kw))
    tape = autodiff.recording_tape()
    if tape is not None:
        need_x, need_dy = _tape_needs(tape, x), _tape_needs(tape, dy)

        def rule(dys):
            g = _np64(dys[0])
            return [_t64(_data_np(_np64(dy), g, tuple(x.shape), kw)) if need_x else None,
                    _t64(_conv_np(_np64(x), g, kw)) if need_dy else None]
        tape.record(rule, [x, dy], [y], ("conv2d_weights", kw))
    return y


# -- the ops' float64 entries (NHWC / HWIO; layouts as ops._spatial) -----------------------------

def _operand(x, op):
    from . import _ops_wide
    return _ops_wide._operand(x, op)


def _spatial(op, inputs, data_format):
    """x as a float64 (N, H, W, C) Tensor (channels_first moved last, 1-D as height 1, with
    recorded moves), its undo, and whether it was 1-D."""
    from . import ops
    x = _operand(inputs, op)
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(f"ops.{op}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    if len(x.shape) not in (3, 4):
        raise ValueError(f"ops.{op}: supports 1-D and 2-D inputs (rank 3 or 4, batch and channels "
                         f"included), got shape {tuple(x.shape)}")
    first = data_format == "channels_first"
    one_d = len(x.shape) == 3
    if first:
        x = ops.moveaxis(x, 1, -1)
    if one_d:
        x = ops.expand_dims(x, 1)

    def undo(y):
        if one_d:
            y = ops.squeeze(y, axis=1)
        return ops.moveaxis(y, -1, 1) if first else y
    return x, undo, one_d


def _arg(v, one_d):
    if one_d:
        v = v[0] if isinstance(v, (list, tuple)) else v
        return (1, int(v))
    return v


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """ops.conv on float64 operands (grouped when the kernel's input channels divide the input's)."""
    from . import ops
    x, undo, one_d = _spatial("conv", inputs, data_format)
    w = _operand(kernel, "conv")
    if one_d:
        if len(w.shape) != 3:
            raise ValueError(f"ops.conv: a 1-D convolution needs a kernel (width, in, out), got shape {tuple(w.shape)}")
        w = ops.expand_dims(w, 0)
    c = x.shape[3]
    if len(w.shape) != 4 or c % w.shape[2] or w.shape[3] % (c // w.shape[2]):
        raise ValueError(f"ops.conv: kernel of shape {tuple(w.shape)} does not fit input channels {c} "
                         f"(input shape {tuple(x.shape)}; a grouped kernel's input and output channels must "
                         f"divide evenly into input channels / kernel input channels groups)")
    kw = dict(strides=_arg(strides, one_d), padding=padding, dilation_rate=_arg(dilation_rate, one_d))
    if c != w.shape[2]:
        kw["groups"] = c // w.shape[2]
    return undo(conv2d(x, w, kw))


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """ops.depthwise_conv on float64 operands: conv2d with groups = C of the kernel reshaped
    (KH, KW, 1, C * DM), whose output channel c * DM + m is Keras' depthwise one."""
    from . import ops
    x, undo, one_d = _spatial("depthwise_conv", inputs, data_format)
    w = _operand(kernel, "depthwise_conv")
    if one_d and len(w.shape) == 3:
        w = ops.expand_dims(w, 0)
    if len(w.shape) != 4 or w.shape[2] != x.shape[3]:
        raise ValueError(f"ops.depthwise_conv: kernel of shape {tuple(w.shape)} does not fit input channels "
                         f"{x.shape[3]} (input shape {tuple(x.shape)})")
    kh, kw_, c, dm = (int(v) for v in w.shape)
    kw = dict(strides=_arg(strides, one_d), padding=padding, dilation_rate=_arg(dilation_rate, one_d), groups=c)
    return undo(conv2d(x, ops.reshape(w, (kh, kw_, 1, c * dm)), kw))


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    y = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(y, pointwise_kernel, 1, "valid", data_format, 1)


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    """ops.conv_transpose on float64 operands: the data gradient of the conv whose HWIO kernel is
    w (KH, KW, out, in), at Keras' output size (kernels.conv2d_transpose_output_shape)."""
    from . import ops
    x, undo, one_d = _spatial("conv_transpose", inputs, data_format)
    w = _operand(kernel, "conv_transpose")
    if one_d and len(w.shape) == 3:
        w = ops.expand_dims(w, 0)
    if len(w.shape) != 4 or w.shape[3] != x.shape[3]:
        raise ValueError(f"ops.conv_transpose: kernel of shape {tuple(w.shape)} (..., out, in) does not fit input "
                         f"channels {x.shape[3]} (input shape {tuple(x.shape)})")
    op_ = output_padding
    if one_d and op_ is not None:
        op_ = (0, op_[0] if isinstance(op_, (list, tuple)) else int(op_))
    s, d = _tuple(_arg(strides, one_d), 2), _tuple(_arg(dilation_rate, one_d), 2)
    shape, pads = kernels.conv2d_transpose_output_shape(tuple(x.shape), tuple(w.shape[:2]), w.shape[2], s,
                                                        padding, op_, d, op="conv_transpose")
    # explicit pads and the conv's output size (x's): the geometry of the conv it transposes
    kw = dict(strides=s, pads=tuple(int(p) for p in pads), dilation_rate=d, out_sp=tuple(int(v) for v in x.shape[1:3]))
    return undo(conv2d_data_gradient(x, w, tuple(shape), kw))


# -- pooling --------------------------------------------------------------------------------------

def _pool_geometry(op, x_shape, size, stride, padding):
    nsp = len(x_shape) - 2
    k, s = _tuple(size, nsp), _tuple(stride, nsp)
    if padding not in ("valid", "same"):
        raise ValueError(f"ops.{op}: padding must be 'valid' or 'same', got {padding!r}")
    axes = [kernels.conv_output_length(int(x_shape[1 + a]), k[a], s[a], padding, 1, op=op) for a in range(nsp)]
    return k, s, tuple(p for _, p in axes), tuple(o for o, _ in axes)


def _window_counts(x_shape, k, s, pads, out_sp):
    """(*out): how many of each window's cells are inside x (not padding)."""
    count = np.ones((), np.float64)
    for size, kk, ss, p, o in zip(x_shape[1:-1], k, s, pads, out_sp):
        start = np.arange(o) * ss - p
        inside = np.minimum(start + kk, size) - np.maximum(start, 0)
        count = np.multiply.outer(count, inside.astype(np.float64))
    return count


def _max_pool(x, size, stride, padding):
    X = _np64(x)
    nsp = X.ndim - 2
    k, s, pads, out_sp = _pool_geometry("max_pool", X.shape, size, stride, padding)
    ones = (1,) * nsp
    ext = _extents(out_sp, k, s, ones)
    # each cell's flat index in x, -1 in the padding, read through the same windows as the values
    idx = np.arange(X.size, dtype=np.int64).reshape(X.shape).astype(np.float64)
    idx_w = _windows(_padded(idx, pads, ext, -1.0), out_sp, k, s, ones)
    val_w = _windows(_padded(X, pads, ext, -np.inf), out_sp, k, s, ones)
    cells = (X.shape[0],) + out_sp + (int(np.prod(k)), X.shape[-1])
    vals, where = val_w.reshape(cells), idx_w.reshape(cells)
    ok = where >= 0
    axis = nsp + 1
    # the first NaN, else the first maximum, among the real cells (csrc/cpu/pool2d.cpp's rule)
    nan = np.isnan(vals) & ok
    best = np.where(ok, vals, -np.inf)
    top = ok & (best == np.max(best, axis=axis, keepdims=True))
    pick = np.where(np.any(nan, axis=axis), np.argmax(nan, axis=axis), np.argmax(top, axis=axis))
    arg = np.take_along_axis(where, np.expand_dims(pick, axis), axis=axis).squeeze(axis).astype(np.int64)
    y = _t64(X.reshape(-1)[arg])

    def rule(dys):
        g = np.bincount(arg.reshape(-1), weights=_np64(dys[0]).reshape(-1), minlength=X.size)
        return [_t64(g.reshape(X.shape))]
    autodiff.record_op(rule, [x], [y], ("gather", arg))   # y = x.flat[arg]: vjp scatters, and again
    return y


def _avg_np(X, k, s, pads, out_sp):
    nsp = X.ndim - 2
    ones = (1,) * nsp
    win = _windows(_padded(X, pads, _extents(out_sp, k, s, ones)), out_sp, k, s, ones)
    total = win.sum(axis=tuple(range(1 + nsp, 1 + 2 * nsp)))
    return total / _window_counts(X.shape, k, s, pads, out_sp)[None, ..., None]


def _avg_grad_np(DY, x_shape, k, s, pads):
    nsp = DY.ndim - 2
    out_sp = DY.shape[1:-1]
    share = DY / _window_counts(x_shape, k, s, pads, out_sp)[None, ..., None]
    dxp = np.zeros((DY.shape[0],) + _extents(out_sp, k, s, (1,) * nsp) + (DY.shape[-1],), np.float64)
    for tap in np.ndindex(*k):
        dxp[(slice(None),) + tuple(slice(t, t + (o - 1) * ss + 1, ss) for t, o, ss in zip(tap, out_sp, s))] += share
    return _unpadded(dxp, pads, x_shape[1:-1])


def average_pool2d(x, size, stride, padding):
    """average pooling of float64 channels-last x, recorded with ("avg_pool2d", size, stride,
    padding) (any number of spatial axes: the descriptor's rules come back here)."""
    X = _np64(x)
    k, s, pads, out_sp = _pool_geometry("average_pool", X.shape, size, stride, padding)
    y = _t64(_avg_np(X, k, s, pads, out_sp))
    shape = tuple(X.shape)
    autodiff.record_op(lambda dys: [_t64(_avg_grad_np(_np64(dys[0]), shape, k, s, pads))], [x], [y],
                       ("avg_pool2d", size, stride, padding))
    return y


def average_pool2d_gradient(dy, x_shape, size, stride, padding):
    """average pooling's input gradient of float64 dy, recorded with ("avg_pool2d_data", ...)."""
    k, s, pads, out_sp = _pool_geometry("average_pool", tuple(x_shape), size, stride, padding)
    dx = _t64(_avg_grad_np(_np64(dy), tuple(x_shape), k, s, pads))
    autodiff.record_op(lambda dys: [_t64(_avg_np(_np64(dys[0]), k, s, pads, out_sp))], [dy], [dx],
                       ("avg_pool2d_data", size, stride, padding))
    return dx


def _pool_args(op, inputs, pool_size, strides, padding, data_format):
    x, undo, one_d = _spatial(op, inputs, data_format)
    size = _arg(pool_size, one_d)
    stride = size if strides is None else _arg(strides, one_d)
    return x, undo, size, stride


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    x, undo, size, stride = _pool_args("max_pool", inputs, pool_size, strides, padding, data_format)
    return undo(_max_pool(x, size, stride, padding))


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    x, undo, size, stride = _pool_args("average_pool", inputs, pool_size, strides, padding, data_format)
    return undo(average_pool2d(x, size, stride, padding))


# -- 3-D (the layers' entries: ops.conv / *_pool are 1-D and 2-D, as their float32 kernels) ------

def _volume(op, inputs, data_format):
    """x as a float64 (N, D, H, W, C) Tensor (channels_first moved last) and its undo."""
    from . import ops
    x = _operand(inputs, op)
    if len(x.shape) != 5:
        raise ValueError(f"{op}: needs inputs of rank 5 (batch, 3 spatial axes, channels), got shape "
                         f"{tuple(x.shape)}")
    first = data_format == "channels_first"
    if first:
        x = ops.moveaxis(x, 1, -1)
    return x, (lambda y: ops.moveaxis(y, -1, 1) if first else y)


def conv3d(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Conv3D's float64 convolution: kernel (KD, KH, KW, C / groups, F), groups from its shape."""
    x, undo = _volume("conv3d", inputs, data_format)
    w = _operand(kernel, "conv3d")
    c = int(x.shape[-1])
    if len(w.shape) != 5 or c % w.shape[3] or w.shape[4] % (c // w.shape[3]):
        raise ValueError(f"conv3d: kernel of shape {tuple(w.shape)} does not fit input channels {c}")
    kw = dict(strides=_tuple(strides, 3), padding=padding, dilation_rate=_tuple(dilation_rate, 3))
    if c != w.shape[3]:
        kw["groups"] = c // int(w.shape[3])
    return undo(conv2d(x, w, kw))   # (the conv family's records: any number of spatial axes)


def conv3d_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                     dilation_rate=1):
    """Conv3DTranspose's float64 op: the data gradient of the conv whose kernel is w (KD, KH, KW,
    out, in), at Keras' output size per axis (kernels.conv_transpose_output_length)."""
    x, undo = _volume("conv3d_transpose", inputs, data_format)
    w = _operand(kernel, "conv3d_transpose")
    if len(w.shape) != 5 or w.shape[4] != x.shape[4]:
        raise ValueError(f"conv3d_transpose: kernel of shape {tuple(w.shape)} (..., out, in) does not fit input "
                         f"channels {x.shape[4]}")
    s, d = _tuple(strides, 3), _tuple(dilation_rate, 3)
    op_ = (None,) * 3 if output_padding is None else _tuple(output_padding, 3)
    axes = [kernels.conv_transpose_output_length(int(x.shape[1 + a]), int(w.shape[a]), s[a], padding, op_[a], d[a],
                                                 op="conv3d_transpose") for a in range(3)]
    kw = dict(strides=s, pads=tuple(int(p) for _, p in axes), dilation_rate=d,
              out_sp=tuple(int(v) for v in x.shape[1:4]))
    shape = (int(x.shape[0]),) + tuple(int(n) for n, _ in axes) + (int(w.shape[3]),)
    return undo(conv2d_data_gradient(x, w, shape, kw))


def pool3d(kind, inputs, pool_size, strides=None, padding="valid", data_format=None):
    """MaxPooling3D / AveragePooling3D's float64 op (kind 'max' or 'avg')."""
    x, undo = _volume(f"{kind}_pool3d", inputs, data_format)
    size = _tuple(pool_size, 3)
    stride = size if strides is None else _tuple(strides, 3)
    pool = _max_pool if kind == "max" else average_pool2d
    return undo(pool(x, size, stride, padding))
