"""Regularization layers: SpatialDropout2D (Dropout itself lives in core.py).

Shape legend: N batch, H height, W width, C channels; inputs are NHWC.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from .base import Layer, shape_str

__all__ = ["SpatialDropout1D", "SpatialDropout2D"]


class SpatialDropout2D(Layer):
    """Drops whole feature maps: one keep/drop draw per (sample, channel), active only in training.

    forward  mask[n, c] = [u(n, c) >= rate] / (1 - rate),  y[n, h, w, c] = x[n, h, w, c] * mask[n, c]
    backward dx = dy * mask (the same mask, broadcast over H and W)

    Adjacent pixels of a feature map are strongly correlated, so element-wise dropout hardly
    regularizes convolutions; dropping entire channels does (Tompson et al., "Efficient Object
    Localization Using Convolutional Networks", CVPR 2015).

    Args:
        rate: fraction of channels dropped, in [0, 1).
        data_format: 'channels_last' (or None); channels_first is not supported.
        seed: fixes this layer's masks independently of the global seed
            (otherwise ``corenn.utils.set_random_seed`` makes them reproducible).
    """

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) \
                or not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"SpatialDropout2D '{self.name}': rate must be in [0, 1), got {rate!r}")
        if data_format not in (None, "channels_last"):
            raise NotImplementedError(f"SpatialDropout2D '{self.name}': only channels_last data is supported")
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
        cfg.update(rate=self.rate, data_format="channels_last", seed=self.seed)
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
