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
conv, explicit ``pads=(pad_top, pad_left)`` and ``out_hw``, the size of the conv's output.
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


def _pair(v):
    return (int(v), int(v)) if np.ndim(v) == 0 else tuple(int(u) for u in v)


def _geometry(kw, x_shape, w_shape, out_hw=None):
    """(sh, sw), (pt, pl), (dh, dw), groups, (OH, OW) of the conv of NHWC x_shape with an HWIO
    kernel of w_shape; ``out_hw``: the output size when it is known (a gradient's dy)."""
    strides, dil = _pair(kw.get("strides", 1)), _pair(kw.get("dilation_rate", 1))
    groups = int(kw.get("groups", 1) or 1)
    if out_hw is None:
        out_hw = kw.get("out_hw")
    if "pads" in kw:
        if out_hw is None:
            raise ValueError("conv: a conv of explicit pads needs its output size")
        pads = tuple(int(p) for p in kw["pads"])
    else:
        out, pads = kernels.conv2d_output_shape(tuple(x_shape), tuple(w_shape[:2]), w_shape[3], strides,
                                                kw.get("padding", "valid"), dil, op="conv")
        if out_hw is None:
            out_hw = out[1:3]
    return strides, pads, dil, groups, tuple(int(v) for v in out_hw)


def _extent(o, k, s, d):
    return (o - 1) * s + (k - 1) * d + 1 if o > 0 else 0


def _padded(a, pt, pl, hn, wn, fill=0.0):
    """(N, hn, wn, C): row r, column q of it is a's row r - pt, column q - pl, ``fill`` outside
    (negative pads crop)."""
    n, h, w, c = a.shape
    out = np.full((n, hn, wn, c), fill, dtype=np.float64)
    r0, r1 = max(pt, 0), min(pt + h, hn)
    q0, q1 = max(pl, 0), min(pl + w, wn)
    if r1 > r0 and q1 > q0:
        out[:, r0:r1, q0:q1] = a[:, r0 - pt:r1 - pt, q0 - pl:q1 - pl]
    return out


def _unpadded(a, pt, pl, h, w):
    """The inverse read of _padded: (N, h, w, C) whose cell (r, q) is a's (r + pt, q + pl), 0 outside."""
    n, hn, wn, c = a.shape
    out = np.zeros((n, h, w, c), dtype=np.float64)
    r0, r1 = max(-pt, 0), min(hn - pt, h)
    q0, q1 = max(-pl, 0), min(wn - pl, w)
    if r1 > r0 and q1 > q0:
        out[:, r0:r1, q0:q1] = a[:, r0 + pt:r1 + pt, q0 + pl:q1 + pl]
    return out


def _windows(xp, oh, ow, kh, kw_, s, d):
    """(N, OH, OW, KH, KW, C) read-only view of the windows of padded xp."""
    n, _, _, c = xp.shape
    bn, bh, bw, bc = xp.strides
    return np.lib.stride_tricks.as_strided(
        xp, (n, oh, ow, kh, kw_, c), (bn, bh * s[0], bw * s[1], bh * d[0], bw * d[1], bc), writeable=False)


def _patches(x, w_shape, strides, pads, dil, out_hw):
    kh, kw_ = w_shape[:2]
    oh, ow = out_hw
    hn = max(_extent(oh, kh, strides[0], dil[0]), 1)
    wn = max(_extent(ow, kw_, strides[1], dil[1]), 1)
    return _windows(_padded(x, pads[0], pads[1], hn, wn), oh, ow, kh, kw_, strides, dil)


def _conv_np(X, W, kw):
    strides, pads, dil, g, out_hw = _geometry(kw, X.shape, W.shape)
    P = _patches(X, W.shape, strides, pads, dil, out_hw)
    kh, kw_, cg, f = W.shape
    n, oh, ow = P.shape[:3]
    if g == 1:
        return np.tensordot(P, W, axes=([3, 4, 5], [0, 1, 2]))
    P = P.reshape(n, oh, ow, kh, kw_, g, cg)
    y = np.einsum("nhwabgc,abcgf->nhwgf", P, W.reshape(kh, kw_, cg, g, f // g), optimize=True)
    return y.reshape(n, oh, ow, f)


def _data_np(DY, W, x_shape, kw):
    strides, pads, dil, g, out_hw = _geometry(kw, x_shape, W.shape, DY.shape[1:3])
    kh, kw_, cg, f = W.shape
    n, oh, ow, _ = DY.shape
    if g == 1:
        dp = np.tensordot(DY, W, axes=([3], [3]))   # (n, oh, ow, kh, kw, c)
    else:
        dp = np.einsum("nhwgf,abcgf->nhwabgc", DY.reshape(n, oh, ow, g, f // g),
                       W.reshape(kh, kw_, cg, g, f // g), optimize=True).reshape(n, oh, ow, kh, kw_, g * cg)
    hn = max(_extent(oh, kh, strides[0], dil[0]), 1)
    wn = max(_extent(ow, kw_, strides[1], dil[1]), 1)
    dxp = np.zeros((n, hn, wn, dp.shape[-1]), np.float64)
    for a in range(kh):
        for b in range(kw_):
            r, q = a * dil[0], b * dil[1]
            dxp[:, r:r + (oh - 1) * strides[0] + 1:strides[0], q:q + (ow - 1) * strides[1] + 1:strides[1]] += dp[:, :, :, a, b]
    return _unpadded(dxp, pads[0], pads[1], x_shape[1], x_shape[2])


def _weights_np(X, DY, w_shape, kw):
    strides, pads, dil, g, out_hw = _geometry(kw, X.shape, w_shape, DY.shape[1:3])
    P = _patches(X, w_shape, strides, pads, dil, out_hw)
    kh, kw_, cg, f = w_shape
    n, oh, ow = P.shape[:3]
    if g == 1:
        return np.tensordot(P, DY, axes=([0, 1, 2], [0, 1, 2]))
    dw = np.einsum("nhwabgc,nhwgf->abcgf", P.reshape(n, oh, ow, kh, kw_, g, cg),
                   DY.reshape(n, oh, ow, g, f // g), optimize=True)
    return dw.reshape(kh, kw_, cg, f)


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
    s, d = _pair(_arg(strides, one_d)), _pair(_arg(dilation_rate, one_d))
    shape, pads = kernels.conv2d_transpose_output_shape(tuple(x.shape), tuple(w.shape[:2]), w.shape[2], s,
                                                        padding, op_, d, op="conv_transpose")
    # explicit pads and the conv's output size (x's): the geometry of the conv it transposes
    kw = dict(strides=s, pads=tuple(int(p) for p in pads), dilation_rate=d, out_hw=tuple(int(v) for v in x.shape[1:3]))
    return undo(conv2d_data_gradient(x, w, tuple(shape), kw))


# -- pooling --------------------------------------------------------------------------------------

def _pool_geometry(op, x_shape, size, stride, padding):
    (kh, kw_), (sh, sw) = _pair(size), _pair(stride)
    if padding not in ("valid", "same"):
        raise ValueError(f"ops.{op}: padding must be 'valid' or 'same', got {padding!r}")
    (_, oh, ow, _), (pt, pl) = kernels.conv2d_output_shape(tuple(x_shape), (kh, kw_), x_shape[3], (sh, sw),
                                                           padding, 1, op=op)
    return (kh, kw_), (sh, sw), (pt, pl), (oh, ow)


def _valid_window_mask(x_shape, k, s, pads, out_hw):
    """(OH, OW, KH, KW) bool: the window cells inside x (not padding)."""
    def axis(size, kk, ss, p, o):
        pos = np.arange(o)[:, None] * ss + np.arange(kk)[None, :] - p
        return (pos >= 0) & (pos < size)
    rows = axis(x_shape[1], k[0], s[0], pads[0], out_hw[0])
    cols = axis(x_shape[2], k[1], s[1], pads[1], out_hw[1])
    return rows[:, None, :, None] & cols[None, :, None, :]


def _max_pool2d(x, size, stride, padding):
    X = _np64(x)
    n, h, w, c = X.shape
    k, s, pads, out_hw = _pool_geometry("max_pool", X.shape, size, stride, padding)
    oh, ow = out_hw
    hn, wn = max(_extent(oh, k[0], s[0], 1), 1), max(_extent(ow, k[1], s[1], 1), 1)
    # each cell's flat index in x, -1 in the padding, read through the same windows as the values
    idx = np.arange(X.size, dtype=np.int64).reshape(X.shape)
    idx_w = _windows(_padded(idx.astype(np.float64), pads[0], pads[1], hn, wn, -1.0), oh, ow, k[0], k[1], s, (1, 1))
    val_w = _windows(_padded(X, pads[0], pads[1], hn, wn, -np.inf), oh, ow, k[0], k[1], s, (1, 1))
    valid = idx_w >= 0
    vals = val_w.reshape(n, oh, ow, k[0] * k[1], c)
    ok = valid.reshape(n, oh, ow, k[0] * k[1], c)
    # the first NaN, else the first maximum, among the real cells (csrc/cpu/pool2d.cpp's rule)
    nan = np.isnan(vals) & ok
    best = np.where(ok, vals, -np.inf)
    first_max = np.argmax(np.where(ok & (best == np.max(best, axis=3, keepdims=True)), 1, 0), axis=3)
    pick = np.where(np.any(nan, axis=3), np.argmax(nan, axis=3), first_max)
    arg = np.take_along_axis(idx_w.reshape(n, oh, ow, k[0] * k[1], c), pick[:, :, :, None, :], axis=3)[:, :, :, 0, :]
    arg = arg.astype(np.int64)
    y = _t64(X.reshape(-1)[arg])

    def rule(dys):
        g = np.bincount(arg.reshape(-1), weights=_np64(dys[0]).reshape(-1), minlength=X.size)
        return [_t64(g.reshape(X.shape))]
    autodiff.record_op(rule, [x], [y], ("gather", arg))
    return y


def _avg_np(X, k, s, pads, out_hw):
    n, h, w, c = X.shape
    oh, ow = out_hw
    hn, wn = max(_extent(oh, k[0], s[0], 1), 1), max(_extent(ow, k[1], s[1], 1), 1)
    win = _windows(_padded(X, pads[0], pads[1], hn, wn), oh, ow, k[0], k[1], s, (1, 1))
    count = _valid_window_mask(X.shape, k, s, pads, out_hw).sum(axis=(2, 3))
    return win.sum(axis=(3, 4)) / count[None, :, :, None]


def _avg_grad_np(DY, x_shape, k, s, pads):
    n, oh, ow, c = DY.shape
    count = _valid_window_mask(x_shape, k, s, pads, (oh, ow)).sum(axis=(2, 3))
    share = DY / count[None, :, :, None]
    hn, wn = max(_extent(oh, k[0], s[0], 1), 1), max(_extent(ow, k[1], s[1], 1), 1)
    dxp = np.zeros((n, hn, wn, c), np.float64)
    for a in range(k[0]):
        for b in range(k[1]):
            dxp[:, a:a + (oh - 1) * s[0] + 1:s[0], b:b + (ow - 1) * s[1] + 1:s[1]] += share
    return _unpadded(dxp, pads[0], pads[1], x_shape[1], x_shape[2])


def average_pool2d(x, size, stride, padding):
    """average pooling of float64 NHWC x, recorded with ("avg_pool2d", size, stride, padding)."""
    X = _np64(x)
    k, s, pads, out_hw = _pool_geometry("average_pool", X.shape, size, stride, padding)
    y = _t64(_avg_np(X, k, s, pads, out_hw))
    shape = tuple(X.shape)
    autodiff.record_op(lambda dys: [_t64(_avg_grad_np(_np64(dys[0]), shape, k, s, pads))], [x], [y],
                       ("avg_pool2d", size, stride, padding))
    return y


def average_pool2d_gradient(dy, x_shape, size, stride, padding):
    """average pooling's input gradient of float64 dy, recorded with ("avg_pool2d_data", ...)."""
    k, s, pads, out_hw = _pool_geometry("average_pool", tuple(x_shape), size, stride, padding)
    dx = _t64(_avg_grad_np(_np64(dy), tuple(x_shape), k, s, pads))
    autodiff.record_op(lambda dys: [_t64(_avg_np(_np64(dys[0]), k, s, pads, out_hw))], [dy], [dx],
                       ("avg_pool2d_data", size, stride, padding))
    return dx


def _pool_args(op, inputs, pool_size, strides, padding, data_format):
    x, undo, one_d = _spatial(op, inputs, data_format)
    size = _arg(pool_size, one_d)
    stride = size if strides is None else _arg(strides, one_d)
    return x, undo, size, stride


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    x, undo, size, stride = _pool_args("max_pool", inputs, pool_size, strides, padding, data_format)
    return undo(_max_pool2d(x, size, stride, padding))


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    x, undo, size, stride = _pool_args("average_pool", inputs, pool_size, strides, padding, data_format)
    return undo(average_pool2d(x, size, stride, padding))
