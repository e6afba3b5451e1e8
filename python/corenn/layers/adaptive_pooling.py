"""Adaptive pooling (Keras 3.15's AdaptiveAveragePooling1D/2D/3D, AdaptiveMaxPooling1D/2D/3D):
the output has a fixed spatial size whatever the input's.

Shape legend: N batch, C channels; spatial axes L (1-D), H W (2-D), D H W (3-D), channels last
unless data_format="channels_first".

Math, along each spatial axis of length L pooled to o outputs: output i pools the bin
[floor(i L / o), ceil((i + 1) L / o)) (Keras' and torch's rule; bins overlap when o does not
divide L); average takes the box's mean, max its maximum. Both are ops.adaptive_average_pool /
ops.adaptive_max_pool, recorded ops, so the layers train through the graph and a tape; they have
no weights.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from .base import Layer, shape_str

__all__ = ["AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
           "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D"]


class _AdaptivePooling(Layer):
    """Shared by the six layers: ``output_size`` an int or ``_rank`` ints."""

    _rank = 2
    _op = None

    def __init__(self, output_size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        if isinstance(output_size, (int, np.integer)) and not isinstance(output_size, bool):
            size = (int(output_size),) * self._rank
        elif isinstance(output_size, (tuple, list)) and len(output_size) == self._rank:
            size = tuple(output_size)
        else:
            raise TypeError(f"{name}: output_size must be an integer or a tuple of {self._rank} integers, "
                            f"got {output_size!r}")
        if any(isinstance(o, bool) or not isinstance(o, (int, np.integer)) or o <= 0 for o in size):
            raise ValueError(f"{name}: output_size must hold positive integers, got {output_size!r}")
        self.output_size = tuple(int(o) for o in size)
        if data_format is None:   # the global keras.config.image_data_format(), as in Keras
            from ..keras.backend import image_data_format
            data_format = image_data_format()
        self.data_format = data_format
        if self.data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"{name}: invalid data_format {data_format!r}; expected 'channels_first' or "
                             "'channels_last'")

    def build(self, input_shape):
        if len(tuple(input_shape)) != self._rank + 2:
            raise ValueError(f"{type(self).__name__} '{self.name}' needs {self._rank + 2}-D inputs (batch, "
                             f"{self._rank} spatial axes, channels), got {shape_str(tuple(input_shape))}")
        super().build(input_shape)

    def call(self, inputs):
        return type(self)._op(inputs, self.output_size, data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.data_format == "channels_last":
            return (input_shape[0], *self.output_size, input_shape[-1])
        return (input_shape[0], input_shape[1], *self.output_size)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(output_size=self.output_size, data_format=self.data_format)
        return cfg


class _AdaptiveAverage(_AdaptivePooling):
    _op = staticmethod(ops.adaptive_average_pool)


class _AdaptiveMax(_AdaptivePooling):
    _op = staticmethod(ops.adaptive_max_pool)


class AdaptiveAveragePooling1D(_AdaptiveAverage):
    """Mean over adaptive bins of a sequence: (N, L, C) -> (N, output_size, C)."""
    _rank = 1


class AdaptiveAveragePooling2D(_AdaptiveAverage):
    """Mean over adaptive bins of an image: (N, H, W, C) -> (N, oh, ow, C)."""
    _rank = 2


class AdaptiveAveragePooling3D(_AdaptiveAverage):
    """Mean over adaptive bins of a volume: (N, D, H, W, C) -> (N, od, oh, ow, C)."""
    _rank = 3


class AdaptiveMaxPooling1D(_AdaptiveMax):
    """Maximum over adaptive bins of a sequence: (N, L, C) -> (N, output_size, C)."""
    _rank = 1


class AdaptiveMaxPooling2D(_AdaptiveMax):
    """Maximum over adaptive bins of an image: (N, H, W, C) -> (N, oh, ow, C)."""
    _rank = 2


class AdaptiveMaxPooling3D(_AdaptiveMax):
    """Maximum over adaptive bins of a volume: (N, D, H, W, C) -> (N, od, oh, ow, C)."""
    _rank = 3
