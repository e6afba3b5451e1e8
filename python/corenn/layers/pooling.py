"""Pooling layers: MaxPooling1D/2D/3D, AveragePooling1D/2D/3D, GlobalAveragePooling1D/2D/3D,
GlobalMaxPooling1D/2D/3D (Keras semantics, channels_last).

Shape legend: N batch, H x W image (or S steps), C channels; windows pool_size, strides
(default: pool_size), padding 'valid' | 'same' (TensorFlow's rule: the extra padded row/column
goes after). Padded cells never win a max and are not counted by an average.

Math (per channel):
    max      y[i, j] = max over window(i, j) of x         dx = dy routed to each window's argmax
    average  y[i, j] = mean over window(i, j) of x        dx = dy / (real cells) over the window
    global   the window is the whole image; y is (N, C) (or (N, 1, 1, C) with keepdims)
Gradients sum where windows overlap (strides < pool_size). The 1-D layers run the 2-D kernels
on (N, 1, S, C) views; the 3-D windowed layers have kernels of their own (csrc/cpu/pool3d.cpp),
the 3-D global ones run the 2-D global kernels on (N, D, H*W, C) views.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ._channels_first import ChannelsFirst, data_format_arg
from .base import Layer, sample_size, shape_str

__all__ = ["MaxPooling2D", "AveragePooling2D", "MaxPooling1D", "AveragePooling1D",
           "GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
           "GlobalMaxPooling1D", "MaxPooling3D", "AveragePooling3D", "GlobalAveragePooling3D",
           "GlobalMaxPooling3D"]


def _int_tuple(layer, arg, value, n):
    """An int or a sequence of n positive ints -> tuple of n ints (Keras' conv_utils rule)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),) * n
    try:
        value = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        value = None
    if value is None or len(value) != n or any(v <= 0 for v in value):
        raise ValueError(f"{type(layer).__name__} '{layer.name}': {arg} must be a positive int or a "
                         f"tuple of {n} positive ints")
    return value


def _check_data_format(layer, data_format):
    # channels_first runs the same kernels between two transposes (ChannelsFirst)
    layer.data_format = data_format_arg(layer, data_format)


def _check_rank(layer, input_shape, rank, what):
    if len(input_shape) != rank:
        raise ValueError(f"{type(layer).__name__} '{layer.name}' expects inputs of shape {what} "
                         f"(rank {rank}), got {shape_str(input_shape)}")


def _pooled_len(layer, size, k, s, padding):
    if size is None:
        return None
    if padding == "same":
        return -(-size // s)
    if size < k:
        raise ValueError(f"{type(layer).__name__} '{layer.name}': pool_size {k} is larger than the "
                         f"input size {size} with padding 'valid'")
    return (size - k) // s + 1


class _Pooling2D(ChannelsFirst, Layer):
    """Windowed pooling of (N, H, W, C) images; subclasses pick max or average."""

    _max = True

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        _check_data_format(self, data_format)
        self.pool_size = self._window("pool_size", pool_size)
        self.strides = self.pool_size if strides is None else self._window("strides", strides)
        self.padding = str(padding).lower()
        if self.padding not in ("valid", "same"):
            raise ValueError(f"{type(self).__name__} '{self.name}': padding must be 'valid' or 'same', "
                             f"got {padding!r}")

    def _window(self, arg, value):
        return _int_tuple(self, arg, value, 2)

    def build(self, input_shape):
        _check_rank(self, tuple(input_shape), 4, "(batch, height, width, channels)")
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        _check_rank(self, tuple(input_shape), 4, "(batch, height, width, channels)")
        n, h, w, c = input_shape
        return (n, _pooled_len(self, h, self.pool_size[0], self.strides[0], self.padding),
                _pooled_len(self, w, self.pool_size[1], self.strides[1], self.padding), c)

    def _pool_forward(self, x):
        x_shape = tuple(x.shape)
        shape = _Pooling2D.compute_output_shape(self, x_shape)  # the 1-D layers pass 4-D views too
        args = (self.pool_size, self.strides, self.padding)
        if self._max:
            y, self._argmax = kernels.max_pool2d_forward(x, *args, out=self._buffer("y", shape),
                                                     argmax=self._buffer("argmax", shape, "int32"))
            self._y = y
        else:
            y = kernels.avg_pool2d_forward(x, *args, out=self._buffer("y", shape))
        self._x_shape = x_shape
        return y

    def _pool_backward(self, dy):
        args = (self.pool_size, self.strides, self.padding)
        dx = self._buffer("dx", self._x_shape)
        if self._max:
            if self.masks_relu_input:
                # The layer before applies relu and skips its own relu' pass (the model set both
                # flags): a window's gradient reaches its argmax, where relu' = [max > 0], so the
                # mask is applied here to dy, a quarter of the size of x.
                dy = kernels.activation_backward("relu", self._y, self._y, dy, self._buffer("dy_relu", dy.shape))
            return kernels.max_pool2d_backward(dy, self._argmax, self._x_shape, *args, out=dx)
        return kernels.avg_pool2d_backward(dy, self._x_shape, *args, out=dx)

    def forward(self, x, training=False):
        return self._pool_forward(x)

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        return self._pool_backward(dy)

    def flops(self, input_shape):
        """One compare (max) or add (average) per window tap of every output."""
        return int(np.prod(self.pool_size)) * sample_size(self.compute_output_shape(input_shape))

    def get_config(self):
        cfg = super().get_config()
        cfg.update(pool_size=self.pool_size, strides=self.strides, padding=self.padding,
                   data_format=self.data_format)
        return cfg


class MaxPooling2D(_Pooling2D):
    """Max over pool_size windows of (N, H, W, C) images; backward routes dy to each argmax
    (ties: the first maximum in row-major window order, as TensorFlow).

    Args:
        pool_size: int or (ph, pw), default (2, 2).
        strides: int, (sh, sw) or None (= pool_size).
        padding: 'valid' (windows inside the image) or 'same' (OH = ceil(H / sh)).
        data_format: None or 'channels_last'.
    """

    _max = True


class AveragePooling2D(_Pooling2D):
    """Mean over pool_size windows of (N, H, W, C) images ('same': over the real cells only).
    Arguments as MaxPooling2D."""

    _max = False


class _Pooling1D(_Pooling2D):
    """(N, S, C) sequences pooled along S through the 2-D kernels on (N, 1, S, C) views."""

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)

    def _window(self, arg, value):
        return (1,) + _int_tuple(self, arg, value, 1)

    def build(self, input_shape):
        _check_rank(self, tuple(input_shape), 3, "(batch, steps, channels)")
        Layer.build(self, input_shape)

    def compute_output_shape(self, input_shape):
        _check_rank(self, tuple(input_shape), 3, "(batch, steps, channels)")
        n, s, c = input_shape
        return (n, _pooled_len(self, s, self.pool_size[1], self.strides[1], self.padding), c)

    def forward(self, x, training=False):
        n, s, c = x.shape
        y = self._pool_forward(x.reshape([n, 1, s, c]))
        return y.reshape([n, y.shape[2], c])

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        n, s, c = dy.shape
        dx = self._pool_backward(dy.reshape([n, 1, s, c]))
        return dx.reshape([n, dx.shape[2], c])

    def get_config(self):
        cfg = super().get_config()
        cfg.update(pool_size=self.pool_size[1:], strides=self.strides[1:])
        return cfg


class MaxPooling1D(_Pooling1D):
    """Max over windows of pool_size steps of (N, S, C) sequences.

    Args:
        pool_size: int, default 2.  strides: int or None (= pool_size).
        padding: 'valid' or 'same'.  data_format: None or 'channels_last'.
    """

    _max = True


class AveragePooling1D(_Pooling1D):
    """Mean over windows of pool_size steps of (N, S, C) sequences. Arguments as MaxPooling1D."""

    _max = False


class _GlobalPooling(ChannelsFirst, Layer):
    """Pooling over every spatial axis: (N, H, W, C) or (N, S, C) -> (N, C)."""

    _max = True
    _rank = 4

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        _check_data_format(self, data_format)
        self.keepdims = bool(keepdims)

    def _check(self, input_shape):
        what = {3: "(batch, steps, channels)", 4: "(batch, height, width, channels)",
                5: "(batch, depth, height, width, channels)"}[self._rank]
        _check_rank(self, tuple(input_shape), self._rank, what)

    def build(self, input_shape):
        self._check(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        if self.keepdims:
            return (input_shape[0],) + (1,) * (self._rank - 2) + (input_shape[-1],)
        return (input_shape[0], input_shape[-1])

    def _as_image(self, t):
        """The (N, H, W, C) view the 2-D global kernels pool: (N, 1, S, C) for sequences,
        (N, D, H*W, C) for volumes."""
        if t.ndim == 3:
            return t.reshape([t.shape[0], 1, t.shape[1], t.shape[2]])
        if t.ndim == 5:
            return t.reshape([t.shape[0], t.shape[1], t.shape[2] * t.shape[3], t.shape[4]])
        return t

    def forward(self, x, training=False):
        self._x_shape = tuple(x.shape)
        x4 = self._as_image(x)
        shape = (x.shape[0], x.shape[-1])
        if self._max:
            y, self._argmax = kernels.global_max_pool2d_forward(
                x4, out=self._buffer("y", shape), argmax=self._buffer("argmax", shape, "int32"))
        else:
            y = kernels.global_avg_pool2d_forward(x4, out=self._buffer("y", shape))
        return y.reshape(list(self.compute_output_shape(self._x_shape))) if self.keepdims else y

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        dy = dy.reshape([self._x_shape[0], self._x_shape[-1]]) if dy.ndim != 2 else dy
        dx = self._buffer("dx", self._x_shape)
        x4_shape = tuple(self._as_image(dx).shape)
        if self._max:
            kernels.global_max_pool2d_backward(dy, self._argmax, x4_shape, out=self._as_image(dx))
        else:
            kernels.global_avg_pool2d_backward(dy, x4_shape, out=self._as_image(dx))
        return dx

    def flops(self, input_shape):
        return sample_size(input_shape)  # one compare / add per input value

    def get_config(self):
        cfg = super().get_config()
        cfg.update(data_format=self.data_format, keepdims=self.keepdims)
        return cfg


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over H and W: (N, H, W, C) -> (N, C) ((N, 1, 1, C) with keepdims=True)."""

    _max = False


class GlobalMaxPooling2D(_GlobalPooling):
    """Max over H and W: (N, H, W, C) -> (N, C) ((N, 1, 1, C) with keepdims=True); backward routes
    dy to the first maximum."""

    _max = True


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over steps: (N, S, C) -> (N, C) ((N, 1, C) with keepdims=True).

    With a Keras mask (N, S) (Embedding(mask_zero=True), Masking, or ``mask=``) the mean is over
    the unmasked steps only: y[n] = sum_s w[n, s] x[n, s] with w = mask / sum_s mask, one batched
    GEMM (N, 1, S) @ (N, S, C); backward dx[n, s] = w[n, s] dy[n] ((N, S, 1) @ (N, 1, C)). A
    sample with every step masked gives 0 (Keras divides 0 by 0).
    """

    _max = False
    _rank = 3
    consumes_mask = True

    def forward(self, x, training=False):
        mask = self.__dict__.get("_call_mask")
        self._w = None
        if mask is None:
            return super().forward(x, training)
        n, s, c = x.shape
        if tuple(mask.shape) != (n, s):
            raise ValueError(f"GlobalAveragePooling1D '{self.name}': mask must have shape ({n}, {s}) for "
                             f"inputs {tuple(x.shape)}, got {tuple(mask.shape)}")
        self._x_shape = tuple(x.shape)
        w = self._buffer("w", (n, 1, s))
        m = np.asarray(mask)
        np.divide(m, np.maximum(m.sum(axis=1, keepdims=True), 1.0), out=np.asarray(w).reshape(n, s))
        self._w = w
        y = kernels.batched_matmul(w, x, out=self._buffer("y3", (n, 1, c)))
        return y if self.keepdims else y.reshape([n, c])

    def backward(self, dy):
        if self._w is None:
            return super().backward(dy)
        if not self.needs_input_grad:
            return None
        n, s, c = self._x_shape
        return kernels.batched_matmul(self._w, dy.reshape([n, 1, c]), trans_a=True,
                                      out=self._buffer("dx", self._x_shape))


class GlobalMaxPooling1D(_GlobalPooling):
    """Max over steps: (N, S, C) -> (N, C) ((N, 1, C) with keepdims=True)."""

    _max = True
    _rank = 3


class _Pooling3D(_Pooling2D):
    """Windowed pooling of (N, D, H, W, C) volumes through the 3-D kernels; the arguments,
    flops and config are _Pooling2D's with (D, H, W) triples."""

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)

    def _window(self, arg, value):
        return _int_tuple(self, arg, value, 3)

    def build(self, input_shape):
        _check_rank(self, tuple(input_shape), 5, "(batch, depth, height, width, channels)")
        Layer.build(self, input_shape)

    def compute_output_shape(self, input_shape):
        _check_rank(self, tuple(input_shape), 5, "(batch, depth, height, width, channels)")
        dims = [_pooled_len(self, size, k, s, self.padding)
                for size, k, s in zip(input_shape[1:4], self.pool_size, self.strides)]
        return (input_shape[0], *dims, input_shape[4])

    def forward(self, x, training=False):
        self._x_shape = tuple(x.shape)
        shape = self.compute_output_shape(self._x_shape)
        args = (self.pool_size, self.strides, self.padding)
        if self._max:
            y, self._argmax = kernels.max_pool3d_forward(x, *args, out=self._buffer("y", shape),
                                                         argmax=self._buffer("argmax", shape, "int32"))
            return y
        return kernels.avg_pool3d_forward(x, *args, out=self._buffer("y", shape))

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        args = (self.pool_size, self.strides, self.padding)
        dx = self._buffer("dx", self._x_shape)
        if self._max:
            return kernels.max_pool3d_backward(dy, self._argmax, self._x_shape, *args, out=dx)
        return kernels.avg_pool3d_backward(dy, self._x_shape, *args, out=dx)


class MaxPooling3D(_Pooling3D):
    """Max over pool_size windows of (N, D, H, W, C) volumes; backward routes dy to each argmax
    (ties: the first maximum in window order).

    Args:
        pool_size: int or (pd, ph, pw), default (2, 2, 2).
        strides: int, (sd, sh, sw) or None (= pool_size).
        padding: 'valid' or 'same' (OD = ceil(D / sd), ...).
        data_format: None, 'channels_last' or 'channels_first'.
    """

    _max = True


class AveragePooling3D(_Pooling3D):
    """Mean over pool_size windows of (N, D, H, W, C) volumes ('same': over the real cells only).
    Arguments as MaxPooling3D."""

    _max = False


class GlobalAveragePooling3D(_GlobalPooling):
    """Mean over D, H and W: (N, D, H, W, C) -> (N, C) ((N, 1, 1, 1, C) with keepdims=True)."""

    _max = False
    _rank = 5


class GlobalMaxPooling3D(_GlobalPooling):
    """Max over D, H and W: (N, D, H, W, C) -> (N, C) ((N, 1, 1, 1, C) with keepdims=True);
    backward routes dy to the first maximum."""

    _max = True
    _rank = 5
