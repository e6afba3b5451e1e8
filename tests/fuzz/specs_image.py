"""Valid-call builders (see specs.py) for the image preprocessing kernels: resize2d_* and
image_transform_*. specs.py merges them into SPECS."""
from __future__ import annotations

import numpy as np

import reference as ref
from corenn import kernels

from .specs import Call, _close, _dims, _opt_out
from .values import f32


def _finite(*arrays):
    return all(np.isfinite(np.asarray(a, np.float64)).all() for a in arrays)


def resize2d(r, direction):
    n, h, w, c = _dims(r, 4, 1, 5)
    size = (int(r.integers(1, 7)), int(r.integers(1, 7)))
    mode = str(r.choice(list(kernels.RESIZE_INTERPOLATIONS)))
    window = None
    if r.random() < 0.5:
        wh, ww = int(r.integers(1, h + 1)), int(r.integers(1, w + 1))
        window = (int(r.integers(0, h - wh + 1)), int(r.integers(0, w - ww + 1)), wh, ww)
    x_shape, y_shape = (n, h, w, c), (n,) + size + (c,)
    if direction == "forward":
        x = f32(r, *x_shape)

        def check(y, k):
            if np.shape(k["x"]) != x_shape or k["size"] != size or k["interpolation"] != mode \
                    or k["window"] != window or not _finite(k["x"]):
                return []  # the einsum reference spreads NaN through zero weights: finite only
            return _close(y.numpy(), ref.resize2d(k["x"], size, mode, window), "resize2d_forward")
        return Call(kernels.resize2d_forward, dict(x=x, size=size, interpolation=mode, window=window,
                                                   out=_opt_out(r, y_shape)),
                    dict(x="in", size="param", interpolation="param", window="param", out="out"),
                    ("resize2d",), check)
    dy = f32(r, *y_shape)

    def check_grad(dx, k):
        if np.shape(k["dy"]) != y_shape or k["input_shape"] != x_shape or k["interpolation"] != mode \
                or k["window"] != window or not _finite(k["dy"]):
            return []
        return _close(dx.numpy(), ref.resize2d_grad(k["dy"], x_shape, mode, window),
                      "resize2d_backward", 1e-4, 1e-4)
    return Call(kernels.resize2d_backward, dict(dy=dy, input_shape=x_shape, interpolation=mode,
                                                window=window, out=_opt_out(r, x_shape)),
                dict(dy="in", input_shape="param", interpolation="param", window="param", out="out"),
                ("resize2d",), check_grad)


def _transforms(r, n):
    t = np.zeros((n, 8), np.float32)
    t[:, [0, 1, 3, 4]] = r.uniform(-1.5, 1.5, (n, 4))
    t[:, [2, 5]] = r.uniform(-4, 4, (n, 2))
    return t


def image_transform(r, direction):
    n, h, w, c = _dims(r, 4, 1, 4)
    size = (int(r.integers(1, 5)), int(r.integers(1, 5)))
    mode = str(r.choice(list(kernels.RESIZE_INTERPOLATIONS)))
    fill = str(r.choice(list(kernels.FILL_MODES)))
    t = _transforms(r, n)
    x_shape, y_shape = (n, h, w, c), (n,) + size + (c,)
    if direction == "forward":
        def check(y, k):
            if np.shape(k["x"]) != x_shape or k["output_size"] != size or \
                    (k["interpolation"], k["fill_mode"]) != (mode, fill) or \
                    np.shape(k["transforms"]) != t.shape or not _finite(k["x"], k["transforms"]):
                return []
            want = ref.image_transform(k["x"], np.asarray(k["transforms"]), size, mode, fill,
                                       k["fill_value"])
            return _close(y.numpy(), want, "image_transform_forward", 1e-4, 1e-4)
        return Call(kernels.image_transform_forward,
                    dict(x=f32(r, *x_shape), transforms=t, output_size=size, interpolation=mode,
                         fill_mode=fill, fill_value=float(r.normal()), out=_opt_out(r, y_shape)),
                    dict(x="in", transforms="in", output_size="param", interpolation="param",
                         fill_mode="param", fill_value="param", out="out"),
                    ("image_transform",), check)

    def check_grad(dx, k):
        if np.shape(k["dy"]) != y_shape or k["input_shape"] != x_shape or \
                (k["interpolation"], k["fill_mode"]) != (mode, fill) or \
                np.shape(k["transforms"]) != t.shape or not _finite(k["dy"], k["transforms"]):
            return []
        want = ref.image_transform_grad(k["dy"], np.asarray(k["transforms"]), x_shape, mode, fill)
        return _close(dx.numpy(), want, "image_transform_backward", 1e-4, 1e-4)
    return Call(kernels.image_transform_backward,
                dict(dy=f32(r, *y_shape), transforms=t, input_shape=x_shape, interpolation=mode,
                     fill_mode=fill, out=_opt_out(r, x_shape)),
                dict(dy="in", transforms="in", input_shape="param", interpolation="param",
                     fill_mode="param", out="out"),
                ("image_transform",), check_grad)


def image_specs():
    return {"resize2d_forward": lambda r: resize2d(r, "forward"),
            "resize2d_backward": lambda r: resize2d(r, "backward"),
            "image_transform_forward": lambda r: image_transform(r, "forward"),
            "image_transform_backward": lambda r: image_transform(r, "backward")}
