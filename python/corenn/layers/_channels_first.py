"""data_format="channels_first" (N, C, ...) for layers whose kernels are channels-last.

Every image / sequence kernel of corenn reads channels-last data (NHWC, NLC). A layer built with
data_format="channels_first" (or BatchNormalization(axis=1)) keeps those kernels and its own
channels-last code, weights and config: ``ChannelsFirst`` wraps the class's forward, backward,
build, compute_output_shape and check_input_shape so that
    forward   x (N, C, *S) -> transpose -> (N, *S, C) -> the layer's forward -> y (N, *S', C')
              -> transpose -> (N, C', *S')          (an output of rank 2, (N, C), stays as it is)
    backward  dy the same way in, the layer's backward, dx transposed back to (N, C, *S)
with the C++ transpose kernel into buffers of the layer (one per direction), so the cost is two
transposes of each activation per pass and nothing else changes. Shapes are converted the same
way, so what the layer records (input_shape, output_shape) is in the user's layout.
A layer method that calls another wrapped one (a forward asking compute_output_shape, a subclass
calling super().forward) runs inside the outermost call: ``_cf_inside`` marks it so nothing is
transposed twice.
"""
from __future__ import annotations

from .. import kernels

__all__ = ["ChannelsFirst", "data_format_arg", "to_channels_last", "to_channels_first"]

_WRAPPED = ("forward", "backward", "build", "compute_output_shape", "check_input_shape", "flops")


def data_format_arg(layer, data_format):
    """Keras' data_format argument: None (the global image_data_format, channels_last here),
    'channels_last' or 'channels_first'; anything else is a ValueError naming the layer."""
    if data_format is None:
        from ..keras.backend import image_data_format
        return image_data_format()
    value = str(data_format).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"{type(layer).__name__} '{layer.name}': data_format must be 'channels_last' or "
                         f"'channels_first', got {data_format!r}")
    return value


def to_channels_last(shape):
    """(N, C, *S) -> (N, *S, C); shapes of rank < 3 are returned as they are."""
    shape = tuple(shape)
    return shape if len(shape) < 3 else (shape[0],) + shape[2:] + (shape[1],)


def to_channels_first(shape):
    """(N, *S, C) -> (N, C, *S); shapes of rank < 3 are returned as they are."""
    shape = tuple(shape)
    return shape if len(shape) < 3 else (shape[0], shape[-1]) + shape[1:-1]


def _last_perm(rank):
    return [0] + list(range(2, rank)) + [1]


def _first_perm(rank):
    return [0, rank - 1] + list(range(1, rank - 1))


def _active(layer, rank):
    return rank >= 3 and not layer.__dict__.get("_cf_inside") and layer._channels_first(rank)


def _moved(layer, key, t, perm):
    shape = [t.shape[p] for p in perm]
    return kernels.transpose(t, perm, out=layer._buffer(key, shape))


class _Inside:
    """Marks the layer (or call context) as running its channels-last code."""

    __slots__ = ("d", "was")

    def __init__(self, layer):
        self.d = layer.__dict__

    def __enter__(self):
        self.was = self.d.get("_cf_inside", False)
        self.d["_cf_inside"] = True

    def __exit__(self, *exc):
        self.d["_cf_inside"] = self.was


def _wrap_forward(fn):
    def forward(self, x, training=False):
        if isinstance(x, list) or not _active(self, x.ndim):
            return fn(self, x, training=training)
        with _Inside(self):
            y = fn(self, _moved(self, "cf_x", x, _last_perm(x.ndim)), training=training)
        return y if y.ndim < 3 else _moved(self, "cf_y", y, _first_perm(y.ndim))
    return forward


def _wrap_backward(fn):
    def backward(self, dy):
        rank = len(self.__dict__.get("_cf_in_shape") or ())
        if isinstance(dy, list) or not _active(self, rank):
            return fn(self, dy)
        with _Inside(self):
            dx = fn(self, dy if dy.ndim < 3 else _moved(self, "cf_dy", dy, _last_perm(dy.ndim)))
        return None if dx is None else _moved(self, "cf_dx", dx, _first_perm(dx.ndim))
    return backward


def _wrap_forward_recording(fn):
    """forward that also remembers the input rank its backward will need."""
    inner = _wrap_forward(fn)

    def forward(self, x, training=False):
        if not isinstance(x, list) and not self.__dict__.get("_cf_inside"):
            self.__dict__["_cf_in_shape"] = tuple(x.shape)
        return inner(self, x, training=training)
    return forward


def _wrap_build(fn):
    def build(self, input_shape):
        if isinstance(input_shape, list) and all(d is None or isinstance(d, int) for d in input_shape):
            input_shape = tuple(input_shape)   # one shape as a JSON list (a build config read back)
        if isinstance(input_shape, list) or not _active(self, len(input_shape)):
            return fn(self, input_shape)
        with _Inside(self):
            fn(self, to_channels_last(input_shape))
        # what the layer records is in the caller's layout
        self.input_shape = tuple(input_shape)
        if isinstance(self.output_shape, tuple):
            self.output_shape = to_channels_first(self.output_shape)
    return build


def _wrap_shape(fn):
    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list) or not _active(self, len(input_shape)):
            return fn(self, input_shape)
        with _Inside(self):
            out = fn(self, to_channels_last(input_shape))
        return to_channels_first(out) if isinstance(out, tuple) else out
    return compute_output_shape


def _wrap_check(fn):
    def check_input_shape(self, shape):
        if not _active(self, len(shape)):
            return fn(self, shape)
        d = self.__dict__
        own = "input_shape" in d   # a call context reads the layer's unless it holds its own
        expected, kept = self.input_shape, d.get("input_shape")
        with _Inside(self):
            d["input_shape"] = None if expected is None else to_channels_last(expected)
            try:
                return fn(self, to_channels_last(shape))
            finally:
                if own:
                    d["input_shape"] = kept
                else:
                    del d["input_shape"]
    return check_input_shape


def _wrap_flops(fn):
    def flops(self, input_shape):
        if not _active(self, len(input_shape)):
            return fn(self, input_shape)
        with _Inside(self):
            return fn(self, to_channels_last(input_shape))
    return flops


_WRAPPERS = {"forward": _wrap_forward_recording, "backward": _wrap_backward, "build": _wrap_build,
             "compute_output_shape": _wrap_shape, "check_input_shape": _wrap_check,
             "flops": _wrap_flops}


class ChannelsFirst:
    """Mixin (before the Layer base) for layers that take channels-first data through boundary
    transposes; see the module docstring. Subclasses define ``_channels_first(rank)``: whether a
    call on inputs of that rank is channels-first (default: ``data_format``)."""

    def _channels_first(self, rank):
        return getattr(self, "data_format", "channels_last") == "channels_first"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in _WRAPPED:
            fn = getattr(cls, name, None)
            if fn is not None and not getattr(fn, "_channels_first_wrapped", False):
                wrapped = _WRAPPERS[name](fn)
                wrapped._channels_first_wrapped = True
                wrapped.__name__, wrapped.__doc__ = fn.__name__, fn.__doc__
                setattr(cls, name, wrapped)
