"""Preprocessing layers (Keras layers/preprocessing): Rescaling, Normalization.

Both compute y = x * scale + offset with scale / offset broadcast against x (a scalar, or one
value per kept axis), on the elementwise binary kernels (corenn.kernels.binary_forward, one
multiply and one add), and backward dx = dy * scale, so they can sit anywhere in a model (a model's
front end, or inside one differentiated by a GradientTape). Neither has trainable weights.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from .base import Layer, sample_size, shape_str

__all__ = ["Rescaling", "Normalization"]

_EPSILON = 1e-7  # keras.backend.epsilon(): the floor of Normalization's standard deviation


def _as_float32(t):
    # keeps a scalar 0-d (np.ascontiguousarray would make it (1,), which then no longer
    # broadcasts against rank-1 inputs: a batch of scalars, shape (None,))
    a = np.asarray(t, dtype=np.float32)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


class _Affine(Layer):
    """y = x * scale + offset; subclasses provide _scale_offset() (float32 arrays that broadcast
    against one sample, i.e. x's shape without the batch axis, or scalars)."""

    def _scale_offset(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x, training=False):
        scale, offset = self._scale_offset()
        shape = tuple(np.broadcast_shapes(tuple(x.shape), (1,) + scale.shape, (1,) + offset.shape))
        if shape != tuple(x.shape):
            raise ValueError(f"{type(self).__name__} '{self.name}': scale {scale.shape} / offset "
                             f"{offset.shape} do not broadcast against inputs of shape "
                             f"{shape_str((None,) + tuple(x.shape[1:]))}")
        y = kernels.binary_forward("multiply", x, scale, out=self._buffer("y", x.shape))
        if offset.any():
            kernels.binary_forward("add", y, offset, out=y)
        self._scale = scale
        return y

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        return kernels.binary_forward("multiply", dy, self._scale, out=self._buffer("dx", dy.shape))

    def flops(self, input_shape):
        return 2 * sample_size(input_shape)


class Rescaling(_Affine):
    """y = x * scale + offset, e.g. Rescaling(1 / 255) maps pixels to [0, 1].

    Args:
        scale: a float, or an array broadcastable against one sample (e.g. one per channel).
        offset: a float or such an array (default 0).
    """

    scalar_input = "batch"  # elementwise: a 0-d input gives a 0-d output, as in Keras 3

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        for arg, value in (("scale", scale), ("offset", offset)):
            a = np.asarray(value, dtype=np.float64) if not isinstance(value, kernels.Tensor) else \
                np.asarray(value, dtype=np.float64)
            if a.dtype.kind not in "fiu" or not np.all(np.isfinite(a)):
                raise ValueError(f"Rescaling '{self.name}': {arg} must be finite numbers, got {value!r}")
        self.scale = scale if np.ndim(scale) == 0 else np.asarray(scale).tolist()
        self.offset = offset if np.ndim(offset) == 0 else np.asarray(offset).tolist()
        self.scale = float(self.scale) if np.ndim(self.scale) == 0 else self.scale
        self.offset = float(self.offset) if np.ndim(self.offset) == 0 else self.offset
        self._arrays = (_as_float32(self.scale), _as_float32(self.offset))

    def build(self, input_shape):
        s, o = self._arrays
        try:
            np.broadcast_shapes(tuple(1 if d is None else d for d in input_shape), (1,) + s.shape,
                                (1,) + o.shape)
        except ValueError:
            raise ValueError(f"Rescaling '{self.name}': scale {s.shape} / offset {o.shape} do not "
                             f"broadcast against inputs of shape {shape_str(input_shape)}") from None
        super().build(input_shape)

    def check_input_shape(self, shape):
        # elementwise: any shape the scale and offset broadcast against (Keras calls it on one
        # image and on batches of another size alike)
        s, o = self._arrays
        try:
            np.broadcast_shapes(tuple(1 if d is None else d for d in shape), (1,) + s.shape, (1,) + o.shape)
        except ValueError:
            raise ValueError(f"Rescaling '{self.name}': scale {s.shape} / offset {o.shape} do not "
                             f"broadcast against inputs of shape {shape_str(shape)}") from None

    def _scale_offset(self):
        return self._arrays

    def get_config(self):
        cfg = super().get_config()
        cfg.update(scale=self.scale, offset=self.offset)
        return cfg


class Normalization(_Affine):
    """Feature-wise normalization with statistics given or learned by ``adapt``:
        y = (x - mean) / max(sqrt(variance), 1e-7)       (invert: y = mean + x * max(...))
    mean and variance are per position of the kept ``axis`` and broadcast over the others.

    Args:
        axis: the axis or axes that keep their own statistics (default -1: per feature /
            channel); None: one mean and variance for everything.
        mean, variance: fixed statistics (both or neither). Without them the layer has the
            non-trainable weights mean, variance (shape: x's sizes on the kept axes) and count
            (Keras 3 keeps it for compatibility; here it holds the number of values adapt saw per
            statistic), set by ``adapt``, saved and loaded with the model.
        invert: map normalized values back (y = mean + x * std).

    ``adapt(data, batch_size=None, steps=None)`` computes the population mean and variance over
    every axis but the kept ones, from an array / Tensor, or from an iterable of batches (a
    generator, a list of arrays is an array) whose items are arrays or (x, y[, w]) tuples, as fit
    accepts them; batches are combined exactly (Chan et al.'s parallel update, in float64).
    """

    scalar_input = "refuse"  # Keras raises

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            axis = (int(axis),)
        else:
            axis = tuple(axis)
            if not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis):
                raise ValueError(f"Normalization '{self.name}': axis must be None, an int or ints, "
                                 f"got {axis!r}")
        self.axis = tuple(int(a) for a in axis)
        if (mean is None) != (variance is None):
            raise ValueError(f"Normalization '{self.name}': pass both mean and variance or neither, "
                             f"got mean={mean!r}, variance={variance!r}")
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self.mean = self.variance = self.count = None

    # -- shapes ----------------------------------------------------------------------------

    def _axes(self, input_shape):
        ndim = len(input_shape)
        for a in self.axis:
            if not -ndim <= a < ndim:
                raise ValueError(f"Normalization '{self.name}': axis {self.axis} is out of range "
                                 f"for inputs of shape {shape_str(input_shape)}")
        keep = tuple(sorted({a % ndim for a in self.axis}))
        if 0 in keep:
            raise ValueError(f"Normalization '{self.name}': axis {self.axis} includes the batch axis")
        for a in keep:
            if input_shape[a] is None:
                raise ValueError(f"Normalization '{self.name}': axis {a} of inputs "
                                 f"{shape_str(input_shape)} must have a known size")
        return keep

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        keep = self._axes(input_shape)
        self._keep = keep
        # axis=None: one scalar mean and variance, which fit inputs of any shape
        self._broadcast = tuple(input_shape[d] if d in keep else 1 for d in range(1, len(input_shape))) \
            if keep else ()
        stat_shape = tuple(input_shape[d] for d in keep)
        if self.input_mean is None:
            self.mean = self.add_weight("mean", stat_shape, "zeros", trainable=False)
            self.variance = self.add_weight("variance", stat_shape, "ones", trainable=False)
            self.count = self.add_weight("count", (), "zeros", trainable=False)
        else:
            try:
                self._fixed = tuple(_as_float32(np.broadcast_to(np.asarray(v, np.float64), self._broadcast))
                                    for v in (self.input_mean, self.input_variance))
            except ValueError:
                raise ValueError(f"Normalization '{self.name}': mean / variance of shape "
                                 f"{np.shape(self.input_mean)} / {np.shape(self.input_variance)} do "
                                 f"not broadcast to {self._broadcast} for inputs "
                                 f"{shape_str(input_shape)}") from None
        super().build(input_shape)

    def check_input_shape(self, shape):
        if self.built and not self._keep:   # axis=None: any shape (the regression tutorial
            return                          # adapts on (n,) and declares input_shape=[1])
        super().check_input_shape(shape)

    # -- adapt -----------------------------------------------------------------------------

    def adapt(self, data, batch_size=None, steps=None):
        """Set mean and variance (and count) from ``data``; see the class docstring."""
        if self.input_mean is not None:
            raise ValueError(f"Normalization '{self.name}': adapt needs a layer without fixed "
                             "mean and variance")
        from ..models._data import is_batch_iterable
        if is_batch_iterable(data):
            batches = data
        else:
            arr = np.asarray(data)
            if batch_size is None:
                batches = [arr]
            else:
                batches = (arr[i:i + int(batch_size)] for i in range(0, len(arr), int(batch_size)))
        n_total, mean, m2 = 0, None, None
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            if isinstance(batch, tuple):
                batch = batch[0]
            b = np.asarray(batch, dtype=np.float64)
            if b.ndim == 0 or b.dtype.kind not in "fiub":
                raise ValueError(f"Normalization '{self.name}': adapt needs numeric arrays with a "
                                 f"batch axis, got {type(batch).__name__} of shape {np.shape(b)}")
            if not self.built:
                declared = self._declared_input_shape
                self._maybe_build((None,) + (tuple(declared) if declared is not None and not self._axes(
                    (None,) + b.shape[1:]) else b.shape[1:]))
            keep = self._axes((None,) + b.shape[1:])
            if b.shape[1:] != tuple(1 if d is None else d for d in self.input_shape[1:]) and \
                    any(b.shape[d] != self.input_shape[d] for d in keep):
                raise ValueError(f"Normalization '{self.name}': adapt batch of shape {b.shape} does "
                                 f"not match the layer's input {shape_str(self.input_shape)}")
            reduce = tuple(d for d in range(b.ndim) if d not in keep)
            n = int(np.prod([b.shape[d] for d in reduce]))
            if n == 0:
                continue
            bm = b.mean(axis=reduce)
            bm2 = ((b - b.mean(axis=reduce, keepdims=True)) ** 2).sum(axis=reduce)
            if mean is None:
                n_total, mean, m2 = n, bm, bm2
            else:  # Chan et al.: combine (n, mean, M2) of two parts exactly
                delta = bm - mean
                tot = n_total + n
                mean = mean + delta * n / tot
                m2 = m2 + bm2 + delta ** 2 * n_total * n / tot
                n_total = tot
        if mean is None:
            raise ValueError(f"Normalization '{self.name}': adapt got no data")
        np.asarray(self.mean)[...] = mean
        np.asarray(self.variance)[...] = m2 / n_total
        np.asarray(self.count)[...] = n_total

    # -- forward ---------------------------------------------------------------------------

    def _scale_offset(self):
        if self.input_mean is None:
            mean = np.asarray(self.mean, np.float64)
            var = np.asarray(self.variance, np.float64)
            # stats (kept axes) -> one sample's broadcast shape
            mean, var = mean.reshape(self._broadcast), var.reshape(self._broadcast)
        else:
            mean, var = (np.asarray(v, np.float64) for v in self._fixed)
        std = np.maximum(np.sqrt(var), _EPSILON)
        if self.invert:
            return _as_float32(std), _as_float32(mean)
        return _as_float32(1.0 / std), _as_float32(-mean / std)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(axis=self.axis, invert=self.invert,  # a tuple, as Keras 3 stores it
                   mean=None if self.input_mean is None else np.asarray(self.input_mean).tolist(),
                   variance=None if self.input_variance is None else np.asarray(self.input_variance).tolist())
        return cfg
