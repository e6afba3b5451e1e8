"""Reshaping layers: ZeroPadding1D/2D/3D, Cropping1D/2D/3D, UpSampling1D, UpSampling2D, Permute,
RepeatVector.

Shape legend: N batch, T steps, H x W image, C channels (channels_last), D features.
Cropping is the gradient of zero padding and the other way round, so both run on the zero_pad2d
kernels (a 1-D sequence (N, T, C) is viewed as the image (N, T, 1, C), without a copy).
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ._channels_first import ChannelsFirst, data_format_arg
from .base import Layer, shape_str

__all__ = ["ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D", "Permute",
           "RepeatVector", "ZeroPadding3D", "Cropping3D",
           "UpSampling3D"]


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _pairs(layer, arg, value, what):
    """((a, b), (c, d)) from an int, (h, w) or ((a, b), (c, d)), all >= 0; ValueError naming the
    layer otherwise."""
    p = None
    if _is_int(value):
        p = ((int(value),) * 2,) * 2
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        if all(_is_int(v) for v in value):
            p = tuple((int(v), int(v)) for v in value)
        elif all(isinstance(v, (tuple, list)) and len(v) == 2 and all(_is_int(u) for u in v)
                 for v in value):
            p = tuple(tuple(int(u) for u in v) for v in value)
    if p is None or any(v < 0 for pair in p for v in pair):
        raise ValueError(f"{type(layer).__name__} '{layer.name}': {arg} must be a non-negative int, "
                         f"{what}, got {value!r}")
    return p


def _channels_last(layer, data_format):
    # channels_first runs the same kernels between two transposes (ChannelsFirst)
    layer.data_format = data_format_arg(layer, data_format)


def _check_rank(layer, input_shape, rank, legend):
    if len(input_shape) != rank:
        raise ValueError(f"{type(layer).__name__} '{layer.name}' expects inputs of shape {legend} "
                         f"(rank {rank}), got {shape_str(input_shape)}")


def _image(t):
    """(N, T, C) -> the (N, T, 1, C) view."""
    return t.reshape([t.shape[0], t.shape[1], 1, t.shape[2]])


class ZeroPadding2D(ChannelsFirst, Layer):
    """Pads images with zeros along H and W.

        forward   y = x surrounded by zeros: (N, top + H + bottom, left + W + right, C)
        backward  dx = dy cropped back to (N, H, W, C)

    Args:
        padding: int (all four sides), (h, w) (h rows top and bottom, w columns left and right)
            or ((top, bottom), (left, right)).
        data_format: None or 'channels_last'.
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        _channels_last(self, data_format)
        self.padding = _pairs(self, "padding", padding, "(h, w) or ((top, bottom), (left, right))")

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, 4, "(batch, height, width, channels)")
        n, h, w, c = input_shape
        (t, b), (l, r) = self.padding
        return (n, None if h is None else h + t + b, None if w is None else w + l + r, c)

    def forward(self, x, training=False):
        self._x_shape = tuple(x.shape)
        shape = self.compute_output_shape(self._x_shape)
        return kernels.zero_pad2d_forward(x, self.padding, out=self._buffer("y", shape))

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        return kernels.zero_pad2d_backward(dy, self.padding, out=self._buffer("dx", self._x_shape))

    def get_config(self):
        cfg = super().get_config()
        cfg.update(padding=self.padding, data_format=self.data_format)
        return cfg


class ZeroPadding1D(Layer):
    """Pads sequences with zero steps: (N, T, C) -> (N, left + T + right, C), on ZeroPadding2D's
    kernels (the sequence seen as (N, T, 1, C); channels_first (N, C, T) as (N, C, T, 1) padded
    on its second spatial axis).

    Args:
        padding: int (both ends) or (left, right).
        data_format: 'channels_last' (default: the global image_data_format) or 'channels_first'
            (Keras 3.15).
    """

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        pad = (padding, padding) if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool) else padding
        if (not isinstance(pad, (tuple, list)) or len(pad) != 2
                or not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) and p >= 0 for p in pad)):
            raise ValueError(f"ZeroPadding1D '{self.name}': padding must be a non-negative int or "
                             f"(left, right), got {padding!r}")
        self.padding = (int(pad[0]), int(pad[1]))
        from ._channels_first import data_format_arg
        self.data_format = data_format_arg(self, data_format)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, 3, "(batch, steps, channels)" if self.data_format == "channels_last"
                    else "(batch, channels, steps)")
        n, a, b = input_shape
        if self.data_format == "channels_first":
            return (n, a, None if b is None else b + sum(self.padding))
        return (n, None if a is None else a + sum(self.padding), b)

    def _as_image(self, shape, t):
        """(the 4-D NHWC view of a sequence of length t, the 2-D padding of that view)."""
        n, a, b = shape
        if self.data_format == "channels_first":
            return [n, a, t, 1], ((0, 0), self.padding)
        return [n, t, 1, b], (self.padding, (0, 0))

    def forward(self, x, training=False):
        self._x_shape = tuple(x.shape)
        t = self._x_shape[2 if self.data_format == "channels_first" else 1]
        out_shape = self.compute_output_shape(self._x_shape)
        view, pads = self._as_image(self._x_shape, t)
        out = self._buffer("y", self._as_image(out_shape, t + sum(self.padding))[0])
        y = kernels.zero_pad2d_forward(x.reshape(view), pads, out=out)
        return y.reshape(list(out_shape))

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        t = self._x_shape[2 if self.data_format == "channels_first" else 1]
        view, pads = self._as_image(self._x_shape, t)
        dx = self._buffer("dx", view)
        kernels.zero_pad2d_backward(dy.reshape(self._as_image(self._x_shape, t + sum(self.padding))[0]), pads,
                                    out=dx)
        return dx.reshape(list(self._x_shape))

    def get_config(self):
        cfg = super().get_config()
        cfg.update(padding=self.padding, data_format=self.data_format)
        return cfg


class Cropping2D(ChannelsFirst, Layer):
    """Crops images along H and W (the adjoint of ZeroPadding2D).

        forward   y = x[:, top:H - bottom, left:W - right, :]
        backward  dx = dy surrounded by zeros (zero_pad2d_forward)

    Args:
        cropping: int, (h, w) (symmetric) or ((top, bottom), (left, right)).
        data_format: None or 'channels_last'.
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        _channels_last(self, data_format)
        self.cropping = _pairs(self, "cropping", cropping, "(h, w) or ((top, bottom), (left, right))")

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, 4, "(batch, height, width, channels)")
        n, h, w, c = input_shape
        out = []
        for size, (a, b), axis in ((h, self.cropping[0], "height"), (w, self.cropping[1], "width")):
            if size is not None and size - a - b <= 0:
                raise ValueError(f"Cropping2D '{self.name}': cropping {self.cropping} leaves no "
                                 f"{axis} of inputs {shape_str(input_shape)}")
            out.append(None if size is None else size - a - b)
        return (n, out[0], out[1], c)

    def forward(self, x, training=False):
        self._x_shape = tuple(x.shape)
        y = self._buffer("y", self.compute_output_shape(self._x_shape))
        return kernels.zero_pad2d_backward(x, self.cropping, out=y)

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        return kernels.zero_pad2d_forward(dy, self.cropping, out=self._buffer("dx", self._x_shape))

    def get_config(self):
        cfg = super().get_config()
        cfg.update(cropping=self.cropping, data_format=self.data_format)
        return cfg


class Cropping1D(Layer):
    """Crops sequences (N, T, C) along T: y = x[:, start:T - end, :]; backward pads dy with zeros.

    Args:
        cropping: int (both ends) or (start, end).
    """

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        c = (cropping, cropping) if _is_int(cropping) else cropping
        if not (isinstance(c, (tuple, list)) and len(c) == 2 and all(_is_int(v) and v >= 0 for v in c)):
            raise ValueError(f"Cropping1D '{self.name}': cropping must be a non-negative int or "
                             f"(start, end), got {cropping!r}")
        self.cropping = tuple(int(v) for v in c)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, 3, "(batch, steps, channels)")
        n, t, c = input_shape
        if t is not None and t - sum(self.cropping) <= 0:
            raise ValueError(f"Cropping1D '{self.name}': cropping {self.cropping} leaves no steps "
                             f"of inputs {shape_str(input_shape)}")
        return (n, None if t is None else t - sum(self.cropping), c)

    def forward(self, x, training=False):
        self._x_shape = tuple(x.shape)
        y = self._buffer("y", self.compute_output_shape(self._x_shape))
        kernels.zero_pad2d_backward(_image(x), (self.cropping, (0, 0)), out=_image(y))
        return y

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        dx = self._buffer("dx", self._x_shape)
        kernels.zero_pad2d_forward(_image(dy), (self.cropping, (0, 0)), out=_image(dx))
        return dx

    def get_config(self):
        cfg = super().get_config()
        cfg["cropping"] = self.cropping
        return cfg


class UpSampling2D(ChannelsFirst, Layer):
    """Upsamples images by integer factors: (N, H, W, C) -> (N, H*sh, W*sw, C).

        nearest   y[n, i, j, c] = x[n, i // sh, j // sw, c]; dx sums dy over each sh x sw block
        bilinear  half-pixel centres, edges clamped (Keras / TF image resize, torch
                  align_corners=False); dx is the transposed interpolation
    Args:
        size: int or (sh, sw), positive.
        data_format: None or 'channels_last'.
        interpolation: 'nearest' or 'bilinear'.
    """

    # Keras' input spec is the rank only: one layer upsamples inputs of any channel count (the
    # focal modulation example's monitor runs one UpSampling2D on gates and modulators)
    accepts_any_shape = True

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        _channels_last(self, data_format)
        size = (size, size) if _is_int(size) else size
        if not (isinstance(size, (tuple, list)) and len(size) == 2 and all(_is_int(v) and v > 0 for v in size)):
            raise ValueError(f"UpSampling2D '{self.name}': size must be a positive int or (sh, sw), "
                             f"got {size!r}")
        if interpolation not in kernels.UPSAMPLING_INTERPOLATIONS:
            raise NotImplementedError(f"UpSampling2D '{self.name}': interpolation must be one of "
                                      f"{', '.join(kernels.UPSAMPLING_INTERPOLATIONS)}; got "
                                      f"{interpolation!r}")
        self.size = tuple(int(v) for v in size)
        self.interpolation = interpolation

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, 4, "(batch, height, width, channels)")
        n, h, w, c = input_shape
        sh, sw = self.size
        return (n, None if h is None else h * sh, None if w is None else w * sw, c)

    def forward(self, x, training=False):
        self._x_shape = tuple(x.shape)
        y = self._buffer("y", self.compute_output_shape(self._x_shape))
        return kernels.upsample2d_forward(x, self.size, self.interpolation, out=y)

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        return kernels.upsample2d_backward(dy, self.size, self.interpolation,
                                           out=self._buffer("dx", self._x_shape))

    def get_config(self):
        cfg = super().get_config()
        cfg.update(size=self.size, data_format=self.data_format, interpolation=self.interpolation)
        return cfg


class UpSampling1D(Layer):
    """Repeats each step of a sequence ``size`` times: (N, T, C) -> (N, T*size, C); backward sums
    dy over each step's repeats.

    Args:
        size: positive int.
    """

    # Keras' input spec is the rank only: one layer upsamples inputs of any channel count (the
    # focal modulation example's monitor runs one UpSampling2D on gates and modulators)
    accepts_any_shape = True

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if not _is_int(size) or size <= 0:
            raise ValueError(f"UpSampling1D '{self.name}': size must be a positive int, got {size!r}")
        self.size = int(size)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, 3, "(batch, steps, channels)")
        n, t, c = input_shape
        return (n, None if t is None else t * self.size, c)

    def forward(self, x, training=False):
        self._x_shape = tuple(x.shape)
        y = self._buffer("y", self.compute_output_shape(self._x_shape))
        kernels.upsample2d_forward(_image(x), (self.size, 1), out=_image(y))
        return y

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        dx = self._buffer("dx", self._x_shape)
        kernels.upsample2d_backward(_image(dy), (self.size, 1), out=_image(dx))
        return dx

    def get_config(self):
        cfg = super().get_config()
        cfg["size"] = self.size
        return cfg


class Permute(Layer):
    """Permutes the non-batch axes: y.shape[1 + i] = x.shape[dims[i]] (dims count from 1, as
    Keras); backward transposes dy by the inverse permutation.

    Args:
        dims: a permutation of 1..rank-1.
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        ok = isinstance(dims, (tuple, list)) and all(_is_int(d) for d in dims)
        if not ok or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute '{self.name}': dims must be a permutation of 1..{len(dims) if ok else 'rank-1'} "
                             f"(the batch axis stays first), got {dims!r}")
        self.dims = tuple(int(d) for d in dims)
        self._perm = [0, *self.dims]
        self._inverse = kernels.inverse_permutation(self._perm)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != len(self.dims) + 1:
            raise ValueError(f"Permute '{self.name}': dims {self.dims} need inputs of rank "
                             f"{len(self.dims) + 1}, got {shape_str(input_shape)}")
        return tuple(input_shape[p] for p in self._perm)

    def forward(self, x, training=False):
        self._x_shape = tuple(x.shape)
        y = self._buffer("y", self.compute_output_shape(self._x_shape))
        return kernels.transpose(x, self._perm, out=y)

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        return kernels.transpose(dy, self._inverse, out=self._buffer("dx", self._x_shape))

    def get_config(self):
        cfg = super().get_config()
        cfg["dims"] = self.dims
        return cfg


class RepeatVector(Layer):
    """Repeats each sample's vector n times: (N, D) -> (N, n, D); backward sums over the repeats.

    Args:
        n: positive int.
    """

    scalar_input = "refuse"  # Keras raises

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not _is_int(n) or n <= 0:
            raise ValueError(f"RepeatVector '{self.name}': n must be a positive int, got {n!r}")
        self.n = int(n)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, 2, "(batch, features)")
        return (input_shape[0], self.n, input_shape[1])

    def forward(self, x, training=False):
        self._x_shape = tuple(x.shape)
        y = self._buffer("y", self.compute_output_shape(self._x_shape))
        return kernels.repeat_vector_forward(x, self.n, out=y)

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        return kernels.repeat_vector_backward(dy, out=self._buffer("dx", self._x_shape))

    def get_config(self):
        cfg = super().get_config()
        cfg["n"] = self.n
        return cfg


# ---- 3-D volumes (N, D, H, W, C): two zero_pad2d passes on views, no new kernel ----------------

def _triples(layer, arg, value):
    """((a, b), (c, d), (e, f)) from an int or three entries, each an int or a pair; all >= 0."""
    p = None
    if _is_int(value):
        p = ((int(value),) * 2,) * 3
    elif isinstance(value, (tuple, list)) and len(value) == 3:
        # each axis an int (symmetric) or a pair, as Keras' standardize_tuple per entry
        if all(_is_int(v) or (isinstance(v, (tuple, list)) and len(v) == 2 and all(_is_int(u) for u in v))
               for v in value):
            p = tuple((int(v), int(v)) if _is_int(v) else tuple(int(u) for u in v) for v in value)
    if p is None or any(v < 0 for pair in p for v in pair):
        raise ValueError(f"{type(layer).__name__} '{layer.name}': {arg} must be a non-negative int, "
                         f"(d, h, w) or ((front, back), (top, bottom), (left, right)), got {value!r}")
    return p


def _pad3d(layer, x, pads, out_shape, key):
    """y (out_shape) = x (N, D, H, W, C) zero-padded by pads: D and H as the image axes of the
    (N, D, H, W*C) view, then W as the width of the (N*D', H', W, C) view."""
    n, d, h, w, c = x.shape
    (d0, d1), (h0, h1), (w0, w1) = pads
    dd, hh = d + d0 + d1, h + h0 + h1
    mid = layer._buffer(key + "_mid", (n, dd, hh, w * c))
    kernels.zero_pad2d_forward(x.reshape([n, d, h, w * c]), ((d0, d1), (h0, h1)), out=mid)
    y = layer._buffer(key, out_shape)
    kernels.zero_pad2d_forward(mid.reshape([n * dd, hh, w, c]), ((0, 0), (w0, w1)),
                               out=y.reshape([n * dd, hh, out_shape[3], c]))
    return y


def _crop3d(layer, x, crops, out_shape, key):
    """y (out_shape) = x (N, D, H, W, C) with crops removed: the two passes of _pad3d undone."""
    n, d, h, w, c = x.shape
    (d0, d1), (h0, h1), (w0, w1) = crops
    wo = out_shape[3]
    mid = layer._buffer(key + "_mid", (n * d, h, wo, c))
    kernels.zero_pad2d_backward(x.reshape([n * d, h, w, c]), ((0, 0), (w0, w1)), out=mid)
    y = layer._buffer(key, out_shape)
    kernels.zero_pad2d_backward(mid.reshape([n, d, h, wo * c]), ((d0, d1), (h0, h1)),
                                out=y.reshape([n, out_shape[1], out_shape[2], wo * c]))
    return y


class ZeroPadding3D(ChannelsFirst, Layer):
    """Pads volumes with zeros along D, H and W (Keras 3 ZeroPadding3D, channels_last).

        forward   y = x surrounded by zeros: (N, D + front + back, H + top + bottom,
                  W + left + right, C)
        backward  dx = dy cropped back to (N, D, H, W, C)

    Args:
        padding: int (every side), (d, h, w) (symmetric per axis) or
            ((front, back), (top, bottom), (left, right)).
        data_format: None or 'channels_last'.
    """

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        _channels_last(self, data_format)
        self.padding = _triples(self, "padding", padding)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, 5, "(batch, depth, height, width, channels)")
        dims = [None if size is None else size + a + b
                for size, (a, b) in zip(input_shape[1:4], self.padding)]
        return (input_shape[0], *dims, input_shape[4])

    def forward(self, x, training=False):
        self._x_shape = tuple(x.shape)
        return _pad3d(self, x, self.padding, self.compute_output_shape(self._x_shape), "y")

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        return _crop3d(self, dy, self.padding, self._x_shape, "dx")

    def get_config(self):
        cfg = super().get_config()
        cfg.update(padding=self.padding, data_format=self.data_format)
        return cfg


class Cropping3D(ChannelsFirst, Layer):
    """Crops volumes along D, H and W (Keras 3 Cropping3D, channels_last; the adjoint of
    ZeroPadding3D).

        forward   y = x[:, front:D - back, top:H - bottom, left:W - right, :]
        backward  dx = dy surrounded by zeros

    Args:
        cropping: int, (d, h, w) (symmetric per axis) or
            ((front, back), (top, bottom), (left, right)).
        data_format: None or 'channels_last'.
    """

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        _channels_last(self, data_format)
        self.cropping = _triples(self, "cropping", cropping)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, 5, "(batch, depth, height, width, channels)")
        out = []
        for size, (a, b), axis in zip(input_shape[1:4], self.cropping, ("depth", "height", "width")):
            if size is not None and size - a - b <= 0:
                raise ValueError(f"Cropping3D '{self.name}': cropping {self.cropping} leaves no "
                                 f"{axis} of inputs {shape_str(input_shape)}")
            out.append(None if size is None else size - a - b)
        return (input_shape[0], *out, input_shape[4])

    def forward(self, x, training=False):
        self._x_shape = tuple(x.shape)
        return _crop3d(self, x, self.cropping, self.compute_output_shape(self._x_shape), "y")

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        return _pad3d(self, dy, self.cropping, self._x_shape, "dx")

    def get_config(self):
        cfg = super().get_config()
        cfg.update(cropping=self.cropping, data_format=self.data_format)
        return cfg


class UpSampling3D(ChannelsFirst, Layer):
    """Repeats each cell of a volume: (N, D, H, W, C) -> (N, D*sd, H*sh, W*sw, C) (Keras 3
    UpSampling3D, nearest only, as Keras).

        forward   y[n, i, j, k, c] = x[n, i // sd, j // sh, k // sw, c]
        backward  dx sums dy over each sd x sh x sw block
    Two passes of the 2-D nearest kernels, no kernel of its own: (sh, sw) on the (N*D, H, W, C)
    view, then (sd, 1) on the (N, D, 1, H*sh*W*sw*C) view of that result (a whole upsampled
    slice is one "pixel" of channels); backward runs their gradients in reverse order.

    Args:
        size: int or (sd, sh, sw), positive.
        data_format: None, 'channels_last' or 'channels_first'.
    """

    # Keras' input spec is the rank only: one layer upsamples inputs of any channel count (the
    # focal modulation example's monitor runs one UpSampling2D on gates and modulators)
    accepts_any_shape = True

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        _channels_last(self, data_format)
        size = (size,) * 3 if _is_int(size) else size
        if not (isinstance(size, (tuple, list)) and len(size) == 3 and all(_is_int(v) and v > 0 for v in size)):
            raise ValueError(f"UpSampling3D '{self.name}': size must be a positive int or (sd, sh, sw), "
                             f"got {size!r}")
        self.size = tuple(int(v) for v in size)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, 5, "(batch, depth, height, width, channels)")
        dims = [None if v is None else v * s for v, s in zip(input_shape[1:4], self.size)]
        return (input_shape[0], *dims, input_shape[4])

    def _slices(self, t, rows):
        """The (N, rows, 1, H*W*C) view of a volume: each slice one pixel of channels."""
        return t.reshape([t.shape[0], rows, 1, int(np.prod(t.shape[2:]))])

    def forward(self, x, training=False):
        self._x_shape = n, d, h, w, c = tuple(x.shape)
        sd, sh, sw = self.size
        wide = self._buffer("wide", (n * d, h * sh, w * sw, c))
        kernels.upsample2d_forward(x.reshape([n * d, h, w, c]), (sh, sw), out=wide)
        y = self._buffer("y", self.compute_output_shape(self._x_shape))
        kernels.upsample2d_forward(self._slices(wide.reshape([n, d, h * sh, w * sw, c]), d), (sd, 1),
                                   out=self._slices(y, d * sd))
        return y

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        n, d, h, w, c = self._x_shape
        sd, sh, sw = self.size
        dwide = self._buffer("dwide", (n, d, h * sh, w * sw, c))
        kernels.upsample2d_backward(self._slices(dy, d * sd), (sd, 1), out=self._slices(dwide, d))
        dx = self._buffer("dx", self._x_shape)
        kernels.upsample2d_backward(dwide.reshape([n * d, h * sh, w * sw, c]), (sh, sw),
                                    out=dx.reshape([n * d, h, w, c]))
        return dx

    def get_config(self):
        cfg = super().get_config()
        cfg.update(size=self.size, data_format=self.data_format)
        return cfg
