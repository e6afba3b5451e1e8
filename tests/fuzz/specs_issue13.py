"""Valid-call builders (see specs.py) for the issue-13 kernels: conv2d_transpose*,
depthwise_conv2d*, prelu_*. specs.py merges them into SPECS."""
from __future__ import annotations

import numpy as np

import reference as ref
from corenn import kernels

from .specs import Call, _close, _dims, _opt_out, _shape
from .values import f32


def _transpose_setup(r):
    n, h, w = int(r.integers(1, 3)), int(r.integers(1, 5)), int(r.integers(1, 5))
    cin, cout = _dims(r, 2, 1, 3)
    k = (int(r.integers(1, 4)), int(r.integers(1, 4)))
    s = int(r.integers(1, 3))
    p = str(r.choice(["valid", "same"]))
    op = None if r.random() < 0.5 else int(r.integers(0, s))
    x, wt = f32(r, n, h, w, cin), f32(r, k[0], k[1], cout, cin)
    try:
        shape, _ = kernels.conv2d_transpose_output_shape(x.shape, k, cout, s, p, op)
    except ValueError:  # an empty output ('same', kernel 2, one pixel): take the plain case
        op = None
        shape, _ = kernels.conv2d_transpose_output_shape(x.shape, k, cout, s, p, op)
    return x, wt, s, p, op, shape


def conv2d_transpose(r):
    x, w, s, p, op, shape = _transpose_setup(r)
    bias = f32(r, w.shape[2]) if r.random() < 0.5 else None

    def check(y, k):
        if (k["strides"], k["padding"], k["output_padding"]) != (s, p, op) or \
                np.shape(k["x"]) != x.shape or np.shape(k["w"]) != w.shape:
            return []
        want = ref.conv2d_transpose(k["x"], k["w"], k["bias"], (s, s), p,
                                    None if op is None else (op, op))
        return _close(y.numpy(), want, "conv2d_transpose", 1e-3, 1e-4)
    return Call(kernels.conv2d_transpose, dict(x=x, w=w, bias=bias, out=_opt_out(r, shape), strides=s,
                                               padding=p, output_padding=op),
                dict(x="in", w="in", bias="in", out="out", strides="param", padding="param",
                     output_padding="param"), ("conv2d_transpose",), check)


def conv2d_transpose_backward_data(r):
    x, w, s, p, op, shape = _transpose_setup(r)
    return Call(kernels.conv2d_transpose_backward_data,
                dict(dy=f32(r, *shape), w=w, input_shape=x.shape, out=_opt_out(r, x.shape), strides=s,
                     padding=p, output_padding=op),
                dict(dy="in", w="in", input_shape="param", out="out", strides="param",
                     padding="param", output_padding="param"), ("conv2d_transpose",),
                lambda dx, k: _shape(dx, k["input_shape"]) if isinstance(k["input_shape"], tuple) else [])


def conv2d_transpose_backward_weights(r):
    x, w, s, p, op, shape = _transpose_setup(r)
    return Call(kernels.conv2d_transpose_backward_weights,
                dict(x=x, dy=f32(r, *shape), kernel_shape=w.shape, out=_opt_out(r, w.shape), strides=s,
                     padding=p, output_padding=op, bias=bool(r.integers(2))),
                dict(x="in", dy="in", kernel_shape="param", out="out", strides="param",
                     padding="param", output_padding="param", bias="param"), ("conv2d_transpose",))


def conv2d_transpose_output_shape(r):
    x, w, s, p, op, _ = _transpose_setup(r)
    return Call(kernels.conv2d_transpose_output_shape,
                dict(input_shape=x.shape, kernel_size=w.shape[:2], filters=w.shape[2], strides=s,
                     padding=p, output_padding=op),
                dict(input_shape="param", kernel_size="param", filters="param", strides="param",
                     padding="param", output_padding="param"), ("conv2d_transpose",))


def conv_transpose_output_length(r):
    s = int(r.integers(1, 4))
    return Call(kernels.conv_transpose_output_length,
                dict(size=int(r.integers(1, 9)), kernel=int(r.integers(1, 4)), stride=s,
                     padding=str(r.choice(["valid", "same"])), output_padding=None, dilation=1),
                dict(size="param", kernel="param", stride="param", padding="param",
                     output_padding="param", dilation="param"), ("conv_transpose", "conv2d_transpose"))


def _depthwise_setup(r):
    n, h, w = int(r.integers(1, 3)), int(r.integers(2, 7)), int(r.integers(2, 7))
    c, dm = int(r.integers(1, 10)), int(r.integers(1, 3))
    kh, kw = int(r.integers(1, min(h, 3) + 1)), int(r.integers(1, min(w, 3) + 1))
    s = int(r.integers(1, 3))
    p = str(r.choice(["valid", "same"]))
    x, wt = f32(r, n, h, w, c), f32(r, kh, kw, c, dm)
    shape, _ = kernels.depthwise_conv2d_output_shape(x.shape, (kh, kw), dm, s, p)
    return x, wt, s, p, shape


def depthwise_conv2d(r):
    x, w, s, p, shape = _depthwise_setup(r)
    bias = f32(r, shape[3]) if r.random() < 0.5 else None

    def check(y, k):
        if (k["strides"], k["padding"], k["dilation_rate"]) != (s, p, 1) or \
                np.shape(k["x"]) != x.shape or np.shape(k["w"]) != w.shape:
            return []
        return _close(y.numpy(), ref.depthwise_conv2d(k["x"], k["w"], k["bias"], (s, s), p),
                      "depthwise_conv2d", 1e-3, 1e-4)
    return Call(kernels.depthwise_conv2d, dict(x=x, w=w, bias=bias, out=_opt_out(r, shape), strides=s,
                                               padding=p, dilation_rate=1),
                dict(x="in", w="in", bias="in", out="out", strides="param", padding="param",
                     dilation_rate="param"), ("depthwise_conv2d",), check)


def depthwise_conv2d_backward_data(r):
    x, w, s, p, shape = _depthwise_setup(r)
    return Call(kernels.depthwise_conv2d_backward_data,
                dict(dy=f32(r, *shape), w=w, input_shape=x.shape, out=_opt_out(r, x.shape), strides=s,
                     padding=p),
                dict(dy="in", w="in", input_shape="param", out="out", strides="param",
                     padding="param"), ("depthwise_conv2d",),
                lambda dx, k: _shape(dx, k["input_shape"]) if isinstance(k["input_shape"], tuple) else [])


def depthwise_conv2d_backward_weights(r):
    x, w, s, p, shape = _depthwise_setup(r)
    return Call(kernels.depthwise_conv2d_backward_weights,
                dict(x=x, dy=f32(r, *shape), kernel_shape=w.shape, out=_opt_out(r, w.shape),
                     strides=s, padding=p, bias=bool(r.integers(2))),
                dict(x="in", dy="in", kernel_shape="param", out="out", strides="param",
                     padding="param", bias="param"), ("depthwise_conv2d",))


def depthwise_conv2d_output_shape(r):
    x, w, s, p, _ = _depthwise_setup(r)
    return Call(kernels.depthwise_conv2d_output_shape,
                dict(input_shape=x.shape, kernel_size=w.shape[:2], depth_multiplier=w.shape[3],
                     strides=s, padding=p),
                dict(input_shape="param", kernel_size="param", depth_multiplier="param",
                     strides="param", padding="param"), ("depthwise_conv2d",))


def _prelu_setup(r):
    shape = _dims(r, int(r.integers(2, 5)), 1, 5)
    alpha = [d if r.random() < 0.6 else 1 for d in shape[1:]]
    return f32(r, *shape), f32(r, *alpha)


def prelu_forward(r):
    x, a = _prelu_setup(r)

    def check(y, k):
        if np.shape(k["x"]) != x.shape or np.shape(k["alpha"]) != a.shape:
            return []
        return _close(y.numpy(), ref.prelu(k["x"], k["alpha"]), "prelu_forward")
    return Call(kernels.prelu_forward, dict(x=x, alpha=a, out=_opt_out(r, x.shape)),
                dict(x="in", alpha="in", out="out"), ("prelu",), check)


def prelu_backward(r):
    x, a = _prelu_setup(r)
    return Call(kernels.prelu_backward,
                dict(x=x, alpha=a, dy=f32(r, *x.shape), dx_out=_opt_out(r, x.shape),
                     dalpha_out=_opt_out(r, a.shape), need_dx=bool(r.integers(2)),
                     need_dalpha=bool(r.integers(2))),
                dict(x="in", alpha="in", dy="in", dx_out="out", dalpha_out="out", need_dx="param",
                     need_dalpha="param"), ("prelu",))


def issue13_specs():
    names = ("conv2d_transpose", "conv2d_transpose_backward_data", "conv2d_transpose_backward_weights",
             "conv2d_transpose_output_shape", "conv_transpose_output_length", "depthwise_conv2d",
             "depthwise_conv2d_backward_data", "depthwise_conv2d_backward_weights",
             "depthwise_conv2d_output_shape", "prelu_forward", "prelu_backward")
    return {n: globals()[n] for n in names}
