"""InputSpec: what a layer accepts, checked before every call (Keras 3's ``layer.input_spec``).

A custom layer states in ``__init__`` or ``build`` what its inputs must look like
(``self.input_spec = InputSpec(ndim=4)``, or ``InputSpec(axes={-1: 16})`` once the channel count
is known), and a call with anything else stops with a ValueError naming the layer, the input,
what was expected and the full shape received, before any kernel runs. The check works on the
shape alone, so it covers symbolic calls (building a functional model) and calls on data alike.

Reference: keras.InputSpec / keras.src.layers.input_spec.assert_input_compatibility (Keras 3).
"""
from __future__ import annotations

import numpy as np

__all__ = ["InputSpec", "assert_input_compatibility"]


def _rank_or_none(value, what):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"InputSpec: {what} must be a non-negative int, got {value!r}")
    return int(value)


class InputSpec:
    """The rank, shape, axis sizes and dtype a layer's input must have; None means any.

    Args:
        dtype: the expected dtype name ('float32', 'int32', ...).
        shape: the full expected shape (batch axis included); None entries match any size.
        ndim, max_ndim, min_ndim: the exact, largest or smallest rank.
        axes: {axis: size} for axes whose size is fixed (negative axes count from the end).
        allow_last_axis_squeeze: accept a rank one lower (or higher) when the last axis is 1,
            as Keras does for (N,) versus (N, 1) labels-like inputs.
        name: the input's name (for messages).
    """

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
                 allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = None if dtype is None else str(np.dtype(str(dtype)))
        self.shape = None if shape is None else tuple(None if d is None else int(d) for d in shape)
        self.ndim = len(self.shape) if self.shape is not None else _rank_or_none(ndim, "ndim")
        if self.shape is not None and ndim is not None and int(ndim) != self.ndim:
            raise ValueError(f"InputSpec: ndim={ndim} contradicts shape={self.shape}")
        self.max_ndim = _rank_or_none(max_ndim, "max_ndim")
        self.min_ndim = _rank_or_none(min_ndim, "min_ndim")
        self.allow_last_axis_squeeze = bool(allow_last_axis_squeeze)
        self.name = name
        self.optional = bool(optional)
        self.axes = {int(k): (None if v is None else int(v)) for k, v in dict(axes or {}).items()}
        if self.axes and (self.ndim is not None or self.max_ndim is not None):
            top = self.ndim if self.ndim is not None else self.max_ndim
            bad = [k for k in self.axes if k >= top or k < -top]
            if bad:
                raise ValueError(f"InputSpec: axes {bad} are out of range for rank {top}")

    def __repr__(self):
        parts = [f"{k}={v!r}" for k, v in (("dtype", self.dtype), ("shape", self.shape),
                                           ("ndim", self.ndim), ("max_ndim", self.max_ndim),
                                           ("min_ndim", self.min_ndim), ("axes", self.axes or None))
                 if v is not None]
        return f"InputSpec({', '.join(parts)})"

    def get_config(self):
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim, "max_ndim": self.max_ndim,
                "min_ndim": self.min_ndim, "axes": dict(self.axes)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _shape_and_dtype(x):
    shape = getattr(x, "shape", None)
    if shape is None:
        x = np.asarray(x)
        shape = x.shape
    dtype = getattr(x, "dtype", None)
    return tuple(None if d is None else int(d) for d in shape), (None if dtype is None else str(dtype))


def assert_input_compatibility(input_spec, inputs, layer_name):
    """Raise ValueError if ``inputs`` (one input or a list) does not meet ``input_spec`` (one
    InputSpec, a list of them, or None for anything)."""
    if input_spec is None:
        return
    specs = list(input_spec) if isinstance(input_spec, (list, tuple)) else [input_spec]
    given = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if isinstance(inputs, dict):
        given = list(inputs.values())
    if len(specs) != len(given):
        raise ValueError(f'Layer "{layer_name}" expects {len(specs)} input(s), but it received '
                         f"{len(given)} input tensors")
    for index, (spec, x) in enumerate(zip(specs, given)):
        if spec is None or (x is None and spec.optional):
            continue
        shape, dtype = _shape_and_dtype(x)
        rank = len(shape)
        where = f'Input {index} of layer "{layer_name}" is incompatible with the layer'
        received = f"Full shape received: {shape}"
        if spec.ndim is not None and not spec.allow_last_axis_squeeze and rank != spec.ndim:
            raise ValueError(f"{where}: expected ndim={spec.ndim}, found ndim={rank}. {received}")
        if spec.ndim is not None and spec.allow_last_axis_squeeze:
            squeezed = shape[:-1] if shape and shape[-1] == 1 else shape
            if rank != spec.ndim and len(squeezed) != spec.ndim and rank + 1 != spec.ndim:
                raise ValueError(f"{where}: expected ndim={spec.ndim}, found ndim={rank}. {received}")
        if spec.max_ndim is not None and rank > spec.max_ndim:
            raise ValueError(f"{where}: expected max_ndim={spec.max_ndim}, found ndim={rank}. {received}")
        if spec.min_ndim is not None and rank < spec.min_ndim:
            raise ValueError(f"{where}: expected min_ndim={spec.min_ndim}, found ndim={rank}. {received}")
        if spec.dtype is not None and dtype is not None and dtype != spec.dtype:
            raise ValueError(f"{where}: expected dtype={spec.dtype}, found dtype={dtype}. {received}")
        for axis, size in spec.axes.items():
            if size is None:
                continue
            if not -rank <= axis < rank:
                raise ValueError(f"{where}: expected axis {axis} of input shape to have value {size}, "
                                 f"but the input has rank {rank}. {received}")
            if shape[axis] is not None and shape[axis] != size:
                raise ValueError(f"{where}: expected axis {axis} of input shape to have value {size}, "
                                 f"but received input with shape {shape}")
        if spec.shape is not None and not spec.allow_last_axis_squeeze:
            for want, got in zip(spec.shape, shape):
                if want is not None and got is not None and want != got:
                    raise ValueError(f"{where}: expected shape={spec.shape}, found shape={shape}")
