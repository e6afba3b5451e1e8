"""Regularization layers: SpatialDropout2D (Dropout itself lives in core.py).

Shape legend: N batch, H height, W width, C channels; inputs are NHWC.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ._channels_first import ChannelsFirst, data_format_arg
from .base import Layer, shape_str
from .core import check_noise_shape, resolve_noise_shape

__all__ = ["SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
           "ActivityRegularization"]


class SpatialDropout2D(ChannelsFirst, Layer):
    """Drops whole feature maps: one keep/drop draw per (sample, channel), active only in training.

    forward  mask[n, c] = [u(n, c) >= rate] / (1 - rate),  y[n, h, w, c] = x[n, h, w, c] * mask[n, c]
    backward dx = dy * mask (the same mask, broadcast over H and W)

    Adjacent pixels of a feature map are strongly correlated, so element-wise dropout hardly
    regularizes convolutions; dropping entire channels does (Tompson et al., "Efficient Object
    Localization Using Convolutional Networks", CVPR 2015).

    Args:
        rate: fraction of channels dropped, in [0, 1).
        data_format: 'channels_last' (or None) or 'channels_first' (N, C, H, W).
        seed: fixes this layer's masks independently of the global seed
            (otherwise ``corenn.utils.set_random_seed`` makes them reproducible).
    """

    scalar_input = "refuse"  # Keras raises

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) \
                or not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"{type(self).__name__} '{self.name}': rate must be in [0, 1), got {rate!r}")
        # channels_first: the same kernels between two transposes (ChannelsFirst)
        self.data_format = data_format_arg(self, data_format)
        self.rate = float(rate)
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)
        self._active = False

    def build(self, input_shape):
        if len(tuple(input_shape)) != 4:
            raise ValueError(f"SpatialDropout2D '{self.name}' needs 4-D inputs (batch, height, width, "
                             f"channels), got {shape_str(tuple(input_shape))}")
        super().build(input_shape)

    def _next_seed(self):
        if self._rng is not None:
            return int(self._rng.integers(0, 2**63, dtype=np.int64))
        from ..utils.random import next_seed
        return int(next_seed())

    def forward(self, x, training=False):
        self._active = bool(training) and self.rate > 0.0
        if not self._active:
            return x
        y, self._mask = kernels.spatial_dropout_forward(
            x, self.rate, self._next_seed(), out=self._buffer("y", x.shape),
            mask=self._buffer("mask", (x.shape[0], x.shape[-1])))
        return y

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        if not self._active:
            return dy
        return kernels.spatial_dropout_backward(dy, self._mask, out=self._buffer("dx", dy.shape))

    def get_config(self):
        cfg = super().get_config()
        cfg.update(rate=self.rate, data_format=self.data_format, seed=self.seed)
        return cfg


class SpatialDropout1D(SpatialDropout2D):
    """Drops whole channels of a sequence (batch, steps, channels): one keep/drop draw per
    (sample, channel), active only in training; the same kernels as SpatialDropout2D, whose
    channel mask broadcasts over the steps here.

    Args:
        rate: fraction of channels dropped, in [0, 1).
        seed: fixes this layer's masks independently of the global seed.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)

    def build(self, input_shape):
        if len(tuple(input_shape)) != 3:
            raise ValueError(f"SpatialDropout1D '{self.name}' needs 3-D inputs (batch, steps, channels), "
                             f"got {shape_str(tuple(input_shape))}")
        Layer.build(self, input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("data_format", None)
        return cfg


class SpatialDropout3D(SpatialDropout2D):
    """Drops whole feature volumes of (batch, depth, height, width, channels) data: one keep/drop
    draw per (sample, channel), active only in training; the same kernels as SpatialDropout2D
    (their channel mask broadcasts over every axis between batch and channels).

    Args:
        rate: fraction of channels dropped, in [0, 1).
        data_format: 'channels_last' (or None) or 'channels_first' (N, C, D, H, W).
        seed: fixes this layer's masks independently of the global seed.
    """

    def build(self, input_shape):
        if len(tuple(input_shape)) != 5:
            raise ValueError(f"SpatialDropout3D '{self.name}' needs 5-D inputs (batch, depth, height, width, "
                             f"channels), got {shape_str(tuple(input_shape))}")
        Layer.build(self, input_shape)


def _number(value, layer, arg, low, high, high_open):
    """A float in [low, high] (or [low, high) when high_open), else a ValueError naming it."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    if ok:
        value = float(value)
        ok = low <= value and (value < high if high_open else value <= high)
    if not ok:
        bound = f"[{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{type(layer).__name__} '{layer.name}': {arg} must be a float in {bound}, "
                         f"got {value!r}")
    return value


class _NoiseLayer(Layer):
    """Shared plumbing of the noise layers: active only in training, one fresh stream seed per
    training call (from ``seed``'s own generator, else the run-wide one that
    ``corenn.utils.set_random_seed`` seeds), identity otherwise."""

    supports_masking = True

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or seed < 0):
            raise ValueError(f"{type(self).__name__} '{self.name}': seed must be a non-negative int "
                             f"or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self._rng = None if seed is None else np.random.default_rng(self.seed)
        self._active = False

    def _next_seed(self):
        if self._rng is not None:
            return int(self._rng.integers(0, 2**63, dtype=np.int64))
        from ..utils.random import next_seed
        return int(next_seed())

    def _strength(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x, training=False):
        self._active = bool(training) and self._strength() > 0.0
        if not self._active:
            return x
        return self._noisy(x)

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        if not self._active:
            return dy
        return kernels.dropout_backward(dy, self._mask, out=self._buffer("dx", dy.shape))


class GaussianNoise(_NoiseLayer):
    """Adds zero-mean Gaussian noise, active only in training (Keras 3 GaussianNoise).

    forward  y = x + stddev * z,  z ~ N(0, 1) per element (counter-based, seedable)
    backward dx = dy

    Args:
        stddev: standard deviation of the noise, in [0, 1] (Keras' range).
        seed: fixes this layer's noise independently of the global seed.
    """

    scalar_input = "batch"  # elementwise: a 0-d input gives a 0-d output, as in Keras 3

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.stddev = _number(stddev, self, "stddev", 0.0, 1.0, high_open=False)

    def _strength(self):
        return self.stddev

    def _noisy(self, x):
        return kernels.gaussian_noise_forward(x, self.stddev, self._next_seed(),
                                              out=self._buffer("y", x.shape))

    def backward(self, dy):
        return dy if self.needs_input_grad else None

    def get_config(self):
        cfg = super().get_config()
        cfg.update(stddev=self.stddev, seed=self.seed)
        return cfg


class GaussianDropout(_NoiseLayer):
    """Multiplies by one-centred Gaussian noise, active only in training (Keras 3 GaussianDropout).

    forward  mask = 1 + sqrt(rate / (1 - rate)) * z,  z ~ N(0, 1),  y = x * mask
    backward dx = dy * mask

    Args:
        rate: drop probability as in Dropout, in [0, 1); sets the noise's standard deviation.
        seed: fixes this layer's noise independently of the global seed.

    Reference: Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from
    Overfitting", JMLR 2014.
    """

    scalar_input = "batch"  # elementwise: a 0-d input gives a 0-d output, as in Keras 3

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _number(rate, self, "rate", 0.0, 1.0, high_open=True)

    def _strength(self):
        return self.rate

    def _noisy(self, x):
        y, self._mask = kernels.gaussian_dropout_forward(
            x, self.rate, self._next_seed(), out=self._buffer("y", x.shape),
            mask=self._buffer("mask", x.shape))
        return y

    def get_config(self):
        cfg = super().get_config()
        cfg.update(rate=self.rate, seed=self.seed)
        return cfg


class AlphaDropout(_NoiseLayer):
    """Dropout that keeps the mean and variance of SELU activations, active only in training
    (Keras 3 AlphaDropout).

    forward  keep ~ Bernoulli(1 - rate) per element; alpha' = -1.7580993408473766 (SELU's limit),
             a = ((1 - rate) (1 + rate alpha'^2))^-1/2,  b = -a alpha' rate,
             y = a * (keep ? x : alpha') + b
    backward dx = dy * a * keep
    With ``noise_shape`` keep is drawn at that shape (Keras 3) and broadcast: the C++ kernel on
    zeros gives t = keep ? b : a alpha' + b and mask = keep ? a : 0 at the small shape, then
    y = x * mask + t and dx = dy * mask with the broadcasting kernels (binary_forward).

    Args:
        rate: fraction of inputs dropped, in [0, 1).
        noise_shape: None (one draw per element) or the mask's shape: one entry per input axis,
            each 1, the axis' size, or None (the input's size there).
        seed: fixes this layer's masks independently of the global seed.

    Reference: Klambauer et al., "Self-Normalizing Neural Networks", NeurIPS 2017.
    """

    scalar_input = "batch"  # elementwise: a 0-d input gives a 0-d output, as in Keras 3

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _number(rate, self, "rate", 0.0, 1.0, high_open=True)
        self.noise_shape = check_noise_shape(self, noise_shape)
        self._broadcast = False

    def _strength(self):
        return self.rate

    def _noisy(self, x):
        shape = tuple(x.shape) if self.noise_shape is None else \
            resolve_noise_shape(self, self.noise_shape, x.shape)
        self._broadcast = shape != tuple(x.shape)
        if not self._broadcast:
            y, self._mask = kernels.alpha_dropout_forward(
                x, self.rate, self._next_seed(), out=self._buffer("y", x.shape),
                mask=self._buffer("mask", x.shape))
            return y
        zeros = self._buffer("zeros", shape)
        zeros.fill_(0.0)
        shift, self._mask = kernels.alpha_dropout_forward(
            zeros, self.rate, self._next_seed(), out=self._buffer("shift", shape),
            mask=self._buffer("small_mask", shape))
        y = kernels.binary_forward("multiply", x, self._mask, out=self._buffer("y", x.shape))
        return kernels.binary_forward("add", y, shift, out=y)

    def backward(self, dy):
        if self._active and self._broadcast and self.needs_input_grad:
            return kernels.binary_forward("multiply", dy, self._mask, out=self._buffer("dx", dy.shape))
        return super().backward(dy)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(rate=self.rate, noise_shape=None if self.noise_shape is None else list(self.noise_shape),
                   seed=self.seed)
        return cfg


class ActivityRegularization(Layer):
    """y = x; adds ``(l1 * sum|x| + l2 * sum x^2) / batch_size`` (summed over the whole batch
    and divided by its size, as Keras 3.15) to the training loss: Keras' layer, an identity
    whose ``activity_regularizer`` is L1L2(l1, l2).
    In a model the penalty's gradient joins dy in backward (models/graph.py)."""

    scalar_input = "batch"  # elementwise: a 0-d input gives a 0-d output, as in Keras 3

    supports_masking = True

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        from .. import regularizers
        kwargs.pop("activity_regularizer", None)   # fixed by l1 / l2, as Keras does
        super().__init__(**kwargs)
        self.activity_regularizer = regularizers.L1L2(l1=l1, l2=l2)
        self.l1, self.l2 = self.activity_regularizer.l1, self.activity_regularizer.l2

    def forward(self, x, training=False):
        return x

    def backward(self, dy):
        return dy if self.needs_input_grad else None

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("activity_regularizer", None)
        cfg.update(l1=self.l1, l2=self.l2)
        return cfg
