"""Valid-call builders (see specs.py) for the volume kernels: conv3d*, conv3d_transpose*,
max_pool3d_*, avg_pool3d_*, pool3d_output_shape. specs.py merges them into SPECS."""
from __future__ import annotations

import numpy as np

import reference as ref
from corenn import kernels

from .specs import Call, _close, _opt_out, _shape
from .values import f32


def _conv_setup(r):
    """x (N, D, H, W, Cin), w (K..., Cin / G, Cout), stride, padding, groups with a valid output."""
    groups = int(r.choice([1, 1, 2]))
    n, cg, fg = int(r.integers(1, 3)), int(r.integers(1, 3)), int(r.integers(1, 3))
    k = tuple(int(r.integers(1, 4)) for _ in range(3))
    p = str(r.choice(["valid", "same"]))
    sizes = [int(r.integers(kk if p == "valid" else 1, 5)) for kk in k]
    x, w = f32(r, n, *sizes, cg * groups), f32(r, *k, cg, fg * groups)
    return x, w, int(r.integers(1, 3)), p, groups


def _out_shape(x, w, s, p):
    return kernels.conv3d_output_shape(x.shape, w.shape[:3], w.shape[4], s, p)[0]


_CONV_ROLES = dict(strides="param", padding="param", groups="param", out="out")


def conv3d(r):
    x, w, s, p, groups = _conv_setup(r)
    bias = f32(r, w.shape[4]) if r.random() < 0.5 else None

    def check(y, k):
        if (k["strides"], k["padding"], k["groups"]) != (s, p, groups) or \
                np.shape(k["x"]) != x.shape or np.shape(k["w"]) != w.shape:
            return []
        want = ref.conv3d(k["x"], k["w"], k["bias"], (s,) * 3, p, groups=groups)
        return _close(y.numpy(), want, "conv3d", 1e-3, 1e-4)
    return Call(kernels.conv3d, dict(x=x, w=w, bias=bias, out=_opt_out(r, _out_shape(x, w, s, p)),
                                     strides=s, padding=p, groups=groups),
                dict(x="in", w="in", bias="in", **_CONV_ROLES), ("conv3d",), check)


def conv3d_backward_data(r):
    x, w, s, p, groups = _conv_setup(r)
    return Call(kernels.conv3d_backward_data,
                dict(dy=f32(r, *_out_shape(x, w, s, p)), w=w, input_shape=x.shape,
                     out=_opt_out(r, x.shape), strides=s, padding=p, groups=groups),
                dict(dy="in", w="in", input_shape="param", **_CONV_ROLES), ("conv3d",),
                lambda dx, k: _shape(dx, k["input_shape"]) if isinstance(k["input_shape"], tuple) else [])


def conv3d_backward_weights(r):
    x, w, s, p, groups = _conv_setup(r)
    return Call(kernels.conv3d_backward_weights,
                dict(x=x, dy=f32(r, *_out_shape(x, w, s, p)), kernel_shape=w.shape,
                     out=_opt_out(r, w.shape), strides=s, padding=p, groups=groups,
                     bias=bool(r.integers(2))),
                dict(x="in", dy="in", kernel_shape="param", bias="param", **_CONV_ROLES), ("conv3d",))


def conv3d_output_shape(r):
    x, w, s, p, _ = _conv_setup(r)
    return Call(kernels.conv3d_output_shape,
                dict(input_shape=x.shape, kernel_size=w.shape[:3], filters=w.shape[4], strides=s,
                     padding=p),
                dict(input_shape="param", kernel_size="param", filters="param", strides="param",
                     padding="param"), ("conv3d",))


def _transpose_setup(r):
    n, cin, cout = int(r.integers(1, 3)), int(r.integers(1, 4)), int(r.integers(1, 4))
    k = tuple(int(r.integers(1, 4)) for _ in range(3))
    s = int(r.integers(1, 3))
    p = str(r.choice(["valid", "same"]))
    op = None if r.random() < 0.5 else int(r.integers(0, s))
    x, w = f32(r, n, *(int(r.integers(1, 4)) for _ in range(3)), cin), f32(r, *k, cout, cin)
    try:
        shape, _ = kernels.conv3d_transpose_output_shape(x.shape, k, cout, s, p, op)
    except ValueError:  # an empty output ('same', kernel 2, one cell): take the plain case
        op = None
        shape, _ = kernels.conv3d_transpose_output_shape(x.shape, k, cout, s, p, op)
    return x, w, s, p, op, shape


_TRANSPOSE_ROLES = dict(strides="param", padding="param", output_padding="param", out="out")


def conv3d_transpose(r):
    x, w, s, p, op, shape = _transpose_setup(r)
    bias = f32(r, w.shape[3]) if r.random() < 0.5 else None

    def check(y, k):
        if (k["strides"], k["padding"], k["output_padding"]) != (s, p, op) or \
                np.shape(k["x"]) != x.shape or np.shape(k["w"]) != w.shape:
            return []
        want = ref.conv3d_transpose(k["x"], k["w"], k["bias"], (s,) * 3, p,
                                    None if op is None else (op,) * 3)
        return _close(y.numpy(), want, "conv3d_transpose", 1e-3, 1e-4)
    return Call(kernels.conv3d_transpose, dict(x=x, w=w, bias=bias, out=_opt_out(r, shape), strides=s,
                                               padding=p, output_padding=op),
                dict(x="in", w="in", bias="in", **_TRANSPOSE_ROLES), ("conv3d_transpose",), check)


def conv3d_transpose_backward_data(r):
    x, w, s, p, op, shape = _transpose_setup(r)
    return Call(kernels.conv3d_transpose_backward_data,
                dict(dy=f32(r, *shape), w=w, input_shape=x.shape, out=_opt_out(r, x.shape), strides=s,
                     padding=p, output_padding=op),
                dict(dy="in", w="in", input_shape="param", **_TRANSPOSE_ROLES), ("conv3d_transpose",),
                lambda dx, k: _shape(dx, k["input_shape"]) if isinstance(k["input_shape"], tuple) else [])


def conv3d_transpose_backward_weights(r):
    x, w, s, p, op, shape = _transpose_setup(r)
    return Call(kernels.conv3d_transpose_backward_weights,
                dict(x=x, dy=f32(r, *shape), kernel_shape=w.shape, out=_opt_out(r, w.shape), strides=s,
                     padding=p, output_padding=op, bias=bool(r.integers(2))),
                dict(x="in", dy="in", kernel_shape="param", bias="param", **_TRANSPOSE_ROLES),
                ("conv3d_transpose",))


def conv3d_transpose_output_shape(r):
    x, w, s, p, op, _ = _transpose_setup(r)
    return Call(kernels.conv3d_transpose_output_shape,
                dict(input_shape=x.shape, kernel_size=w.shape[:3], filters=w.shape[3], strides=s,
                     padding=p, output_padding=op),
                dict(input_shape="param", kernel_size="param", filters="param", strides="param",
                     padding="param", output_padding="param"), ("conv3d_transpose",))


def _pool_setup(r):
    x = f32(r, int(r.integers(1, 3)), *(int(r.integers(2, 5)) for _ in range(3)), int(r.integers(1, 4)))
    return x, int(r.integers(1, 3)), int(r.integers(1, 3)), str(r.choice(["valid", "same"]))


_POOL_ROLES = dict(pool_size="param", strides="param", padding="param", out="out")


def max_pool3d_forward(r):
    x, ps, st, p = _pool_setup(r)

    def check(res, k):
        if (k["pool_size"], k["strides"], k["padding"]) != (ps, st, p) or np.shape(k["x"]) != x.shape:
            return []
        return _close(res[0].numpy(), ref.max_pool3d(k["x"], (ps,) * 3, (st,) * 3, p)[0], "max_pool3d_forward")
    return Call(kernels.max_pool3d_forward, dict(x=x, pool_size=ps, strides=st, padding=p),
                dict(x="in", argmax="out", **_POOL_ROLES), ("max_pool3d", "pool3d"), check)


def max_pool3d_backward(r):
    x, ps, st, p = _pool_setup(r)
    y, am = kernels.max_pool3d_forward(x, ps, st, p)
    return Call(kernels.max_pool3d_backward, dict(dy=f32(r, *y.shape), argmax=am.numpy().copy(),
                                                  x_shape=x.shape, pool_size=ps, strides=st, padding=p),
                dict(dy="in", argmax="index", x_shape="param", **_POOL_ROLES), ("max_pool3d", "pool3d"))


def avg_pool3d_forward(r):
    x, ps, st, p = _pool_setup(r)

    def check(y, k):
        if (k["pool_size"], k["strides"], k["padding"]) != (ps, st, p) or np.shape(k["x"]) != x.shape:
            return []
        return _close(y.numpy(), ref.avg_pool3d(k["x"], (ps,) * 3, (st,) * 3, p), "avg_pool3d_forward")
    return Call(kernels.avg_pool3d_forward, dict(x=x, pool_size=ps, strides=st, padding=p),
                dict(x="in", **_POOL_ROLES), ("avg_pool3d", "pool3d"), check)


def avg_pool3d_backward(r):
    x, ps, st, p = _pool_setup(r)
    shape = kernels.pool3d_output_shape(x.shape, ps, st, p)
    return Call(kernels.avg_pool3d_backward, dict(dy=f32(r, *shape), x_shape=x.shape, pool_size=ps,
                                                  strides=st, padding=p),
                dict(dy="in", x_shape="param", **_POOL_ROLES), ("avg_pool3d", "pool3d"))


def pool3d_output_shape(r):
    x, ps, st, p = _pool_setup(r)
    return Call(kernels.pool3d_output_shape, dict(x_shape=x.shape, pool_size=ps, strides=st, padding=p),
                dict(x_shape="param", pool_size="param", strides="param", padding="param"), ("pool3d",))


def volume_specs():
    names = ("conv3d", "conv3d_backward_data", "conv3d_backward_weights", "conv3d_output_shape",
             "conv3d_transpose", "conv3d_transpose_backward_data", "conv3d_transpose_backward_weights",
             "conv3d_transpose_output_shape", "max_pool3d_forward", "max_pool3d_backward",
             "avg_pool3d_forward", "avg_pool3d_backward", "pool3d_output_shape")
    return {n: globals()[n] for n in names}
