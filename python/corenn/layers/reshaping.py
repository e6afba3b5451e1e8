"""Reshaping layers: ZeroPadding2D.

Shape legend: N batch, H x W image, C channels (channels_last).
    forward   y = x surrounded by zeros: (N, top + H + bottom, left + W + right, C)
    backward  dx = dy cropped back to (N, H, W, C)
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from .base import Layer, shape_str

__all__ = ["ZeroPadding2D"]


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


class ZeroPadding2D(Layer):
    """Pads images with zeros along H and W.

    Args:
        padding: int (all four sides), (h, w) (h rows top and bottom, w columns left and right)
            or ((top, bottom), (left, right)).
        data_format: None or 'channels_last'.
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise NotImplementedError(f"ZeroPadding2D '{self.name}': only channels_last data is supported")
        self.padding = self._normalize(padding)

    def _normalize(self, padding):
        p = None
        if _is_int(padding):
            p = ((int(padding),) * 2,) * 2
        elif isinstance(padding, (tuple, list)) and len(padding) == 2:
            if all(_is_int(v) for v in padding):
                p = tuple((int(v), int(v)) for v in padding)
            elif all(isinstance(v, (tuple, list)) and len(v) == 2 and all(_is_int(u) for u in v)
                     for v in padding):
                p = tuple(tuple(int(u) for u in v) for v in padding)
        if p is None or any(v < 0 for pair in p for v in pair):
            raise ValueError(f"ZeroPadding2D '{self.name}': padding must be a non-negative int, (h, w) "
                             f"or ((top, bottom), (left, right)), got {padding!r}")
        return p

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"ZeroPadding2D '{self.name}' expects inputs of shape (batch, height, "
                             f"width, channels) (rank 4), got {shape_str(input_shape)}")
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
        cfg.update(padding=self.padding, data_format="channels_last")
        return cfg
