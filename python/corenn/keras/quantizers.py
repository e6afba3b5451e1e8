"""``keras.quantizers``: Keras 3's quantization helpers, computed as Keras computes them (float32,
the same operations in the same order, so the values agree with Keras to the bit).

    abs_max_quantize      s = value_range[1] / (max |x| along axis + epsilon)  (keepdims),
                          q = clip(round(x s), value_range)   (round half to even), cast to dtype
    quantize_and_dequantize
                          x / scale clipped to +-max of quantized_dtype, rounded to that float
                          format (nearest, ties to even), times scale
    fake_quant_with_min_max_vars
                          the range [min, max] nudged so that 0 is on the grid of 2^bits - 1
                          steps (1 step fewer with narrow_range); x clamped to it and rounded to
                          the grid. Gradient: the straight-through estimator (dy where x lies in
                          the nudged range, else 0; what is clamped below / above goes to min /
                          max, summed per channel), Keras' custom gradient.
    compute_float8_scale  1 / (dtype_max / amax / 2^margin), the old scale where amax is 0 or
                          not finite
    compute_float8_amax_history
                          the history rolled by one, max |x| written at position 0
    pack_int4 / unpack_int4
                          two int4 values per byte along an axis, the first in the low nibble

corenn Tensors hold float32 and int32 / int64 only (core/tensor.h), so an int8 / uint8 result
(the quantized values of abs_max_quantize, pack_int4, unpack_int4) is a NumPy array of that
dtype, exactly Keras' values; float results are corenn Tensors. float8 / bfloat16 rounding is
done here in NumPy (no ml_dtypes dependency).
"""
from __future__ import annotations

import inspect

import numpy as np

from .. import kernels

__all__ = ["Quantizer", "AbsMaxQuantizer", "QuantizationConfig", "Int8QuantizationConfig",
           "Int4QuantizationConfig", "abs_max_quantize", "quantize_and_dequantize",
           "fake_quant_with_min_max_vars", "compute_float8_scale", "compute_float8_amax_history", "pack_int4",
           "unpack_int4", "get", "serialize", "deserialize"]

_EPSILON = 1e-7   # keras.config.epsilon()'s default

# (mantissa bits, smallest normal exponent, largest finite value) of the float formats
# quantize_and_dequantize rounds to
_FLOAT_FORMATS = {
    "float8_e4m3fn": (3, -6, 448.0),
    "float8_e5m2": (2, -14, 57344.0),
    "float16": (10, -14, 65504.0),
    "bfloat16": (7, -126, float(np.finfo(np.float32).max) * (1 - 2.0 ** -8)),
    "float32": (23, -126, float(np.finfo(np.float32).max)),
}


def _f32(x):
    return np.asarray(x, dtype=np.float32)


def _out(a):
    """Float results as a corenn Tensor; integer ones (int8, uint8) as NumPy arrays."""
    a = np.asarray(a)
    if a.dtype == np.float32:
        return kernels.as_tensor(np.ascontiguousarray(a))
    return a


def _axes(axis, ndim):
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(int(a) % ndim for a in axes) if ndim else None


# -- int8 ----------------------------------------------------------------------------------------

class Quantizer:
    """Base class of quantizers: ``__call__(x)`` returns x; subclasses quantize."""

    def __init__(self, output_dtype="int8"):
        self.output_dtype = output_dtype

    def __call__(self, x):
        return x

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_config(self):
        raise NotImplementedError(f"{self} does not implement get_config()")


def abs_max_quantize(inputs, axis, value_range=(-127, 127), dtype="int8", epsilon=_EPSILON, to_numpy=False):
    """(quantized, scale): x scaled by ``value_range[1] / (max |x| + epsilon)`` along ``axis``
    (the scale keeps the reduced axes), rounded and clipped to ``value_range``, cast to ``dtype``.
    ``to_numpy`` is accepted (corenn computes on the CPU either way)."""
    x = _f32(inputs)
    if x.ndim == 0:
        raise ValueError(f"abs_max_quantize: inputs must have at least one dimension, got shape {x.shape}")
    axes = _axes(axis, x.ndim)
    scale = (np.float32(value_range[1]) / (np.max(np.abs(x), axis=axes, keepdims=True) + np.float32(epsilon)))
    scale = scale.astype(np.float32)
    q = np.clip(np.round(x * scale), value_range[0], value_range[1]).astype(np.dtype(dtype))
    return _out(q), _out(scale)


class AbsMaxQuantizer(Quantizer):
    """Abs-max quantization (``abs_max_quantize``) along ``axis`` given to ``__call__`` (or to the
    constructor, Keras' deprecated place; default -1) into ``value_range`` of ``output_dtype``."""

    def __init__(self, axis=None, value_range=(-127, 127), epsilon=_EPSILON, output_dtype="int8"):
        Quantizer.__init__(self, output_dtype=output_dtype)
        self.axis = None if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
        self.value_range = value_range
        self.epsilon = epsilon
        if output_dtype == "int8" and (value_range[0] < -128 or value_range[1] > 127):
            raise ValueError(f"Quantizer with output_dtype='int8' requires value_range to be within the interval "
                             f"[-128, 127]. Received: value_range={value_range}")

    def __call__(self, x, axis=None, to_numpy=False):
        axis = self.axis if axis is None else axis
        axis = -1 if axis is None else axis
        return abs_max_quantize(x, axis, self.value_range, self.output_dtype, self.epsilon, to_numpy)

    def get_config(self):
        config = {"value_range": self.value_range, "epsilon": self.epsilon, "output_dtype": self.output_dtype}
        if self.axis is not None:
            config["axis"] = self.axis
        return config


# -- quantization configs (Keras 3.15's keras.quantizers.*QuantizationConfig) --------------------

class QuantizationConfig:
    """Base class of ``model.quantize(config=...)``'s configs: a ``weight_quantizer`` (None: the
    layer's default) and an ``activation_quantizer`` (None: inputs are not quantized). Subclasses
    name their ``mode``."""

    def __init__(self, weight_quantizer=None, activation_quantizer=None):
        self.weight_quantizer = weight_quantizer
        self.activation_quantizer = activation_quantizer

    @property
    def mode(self):
        raise NotImplementedError("Subclasses must implement this property. Do not instantiate "
                                  "QuantizationConfig directly.")

    def get_config(self):
        def ser(q):
            return None if q is None else serialize(q)
        return {"weight_quantizer": ser(self.weight_quantizer), "activation_quantizer": ser(self.activation_quantizer)}

    @classmethod
    def from_config(cls, config):
        def de(q):
            return None if q is None else deserialize(q)
        return cls(weight_quantizer=de(config.get("weight_quantizer")),
                   activation_quantizer=de(config.get("activation_quantizer")))

    @staticmethod
    def weight_quantizer_or_default(config, default):
        if config is not None and config.weight_quantizer is not None:
            return config.weight_quantizer
        return default

    @staticmethod
    def activation_quantizer_or_default(config, default):
        # a config's None means "no activation quantization", not "the default"
        return config.activation_quantizer if config is not None else default


class Int8QuantizationConfig(QuantizationConfig):
    """int8: ``activation_quantizer="default"`` is AbsMaxQuantizer() (per row, -127..127); a
    weight quantizer must give int8."""

    def __init__(self, weight_quantizer=None, activation_quantizer="default"):
        if isinstance(activation_quantizer, str) and activation_quantizer == "default":
            activation_quantizer = AbsMaxQuantizer()
        super().__init__(weight_quantizer, activation_quantizer)
        if weight_quantizer is not None and weight_quantizer.output_dtype != "int8":
            raise ValueError("Int8QuantizationConfig requires a weight_quantizer with output_dtype='int8'. "
                             f"Received: output_dtype={weight_quantizer.output_dtype}")

    @property
    def mode(self):
        return "int8"


class Int4QuantizationConfig(QuantizationConfig):
    """int4 (weight-only by default: ``activation_quantizer="default"`` is None). ``block_size``
    128 (Keras' default): per group of 128 input rows, asymmetric, which takes no custom
    quantizer (ValueError, as Keras 3.15); None / -1: per output channel, where a
    ``weight_quantizer`` must have value_range (-8, 7) and output_dtype 'int8'."""

    def __init__(self, weight_quantizer=None, activation_quantizer="default", block_size=128):
        if isinstance(activation_quantizer, str) and activation_quantizer == "default":
            activation_quantizer = None
        super().__init__(weight_quantizer, activation_quantizer)
        if block_size is not None and block_size != -1 and block_size <= 0:
            raise ValueError(f"block_size must be None, -1, or a positive integer. Received: block_size={block_size}")
        self.block_size = block_size
        if block_size is not None and block_size > 0 and (weight_quantizer is not None
                                                          or activation_quantizer is not None):
            raise ValueError("Int4 sub-channel quantization (block_size > 0) does not support custom quantizers. "
                             "Either set block_size to None or -1 for per-channel quantization, or remove the "
                             f"custom quantizer arguments. Received: block_size={block_size}")
        if weight_quantizer is not None:
            if tuple(weight_quantizer.value_range) != (-8, 7):
                raise ValueError("Int4QuantizationConfig requires a weight_quantizer with value_range=(-8, 7). "
                                 f"Received: value_range={weight_quantizer.value_range}")
            if weight_quantizer.output_dtype != "int8":
                raise ValueError("Int4QuantizationConfig requires a weight_quantizer with output_dtype='int8'. "
                                 f"Received: output_dtype={weight_quantizer.output_dtype}")

    @property
    def mode(self):
        return "int4"

    def get_config(self):
        config = super().get_config()
        config["block_size"] = self.block_size
        return config

    @classmethod
    def from_config(cls, config):
        def de(q):
            return None if q is None else deserialize(q)
        return cls(weight_quantizer=de(config.get("weight_quantizer")),
                   activation_quantizer=de(config.get("activation_quantizer")),
                   block_size=config.get("block_size", None))


def is_default_abs_max(q, axis=-1):
    """Whether ``q`` is Keras' default AbsMaxQuantizer (-127..127, epsilon 1e-7, int8) along
    ``axis`` (its own axis unset, or that one): what corenn's fused int8 kernels compute."""
    return (type(q) is AbsMaxQuantizer and tuple(q.value_range) == (-127, 127) and float(q.epsilon) == _EPSILON
            and q.output_dtype == "int8" and q.axis in (None, (axis,)))


# -- float8 --------------------------------------------------------------------------------------

def _round_to_format(x, mantissa_bits, min_exponent):
    """x (float64, finite within the format's range) rounded to the nearest value of a binary
    float format with ``mantissa_bits`` and normals from 2^min_exponent, ties to even."""
    magnitude = np.abs(x)
    with np.errstate(divide="ignore"):
        exponent = np.floor(np.log2(np.where(magnitude > 0, magnitude, 1.0)))
    exponent = np.maximum(exponent, min_exponent)   # below the normals: the subnormal step
    quantum = np.exp2(exponent - mantissa_bits)
    return np.round(x / quantum) * quantum


def quantize_and_dequantize(inputs, scale, quantized_dtype, compute_dtype):
    """``inputs / scale`` clipped to the largest finite value of ``quantized_dtype`` ('float8_e4m3fn',
    'float8_e5m2', 'float16', 'bfloat16'), rounded to that format, times ``scale``. The arithmetic
    is float32 whatever ``compute_dtype`` (a float dtype) says, as corenn computes under a
    float16 / bfloat16 policy."""
    if quantized_dtype not in _FLOAT_FORMATS:
        raise ValueError(f"quantize_and_dequantize: quantized_dtype must be one of {sorted(_FLOAT_FORMATS)}, got "
                         f"{quantized_dtype!r}")
    from .backend import standardize_dtype
    if standardize_dtype(compute_dtype) not in ("float32", "float16", "bfloat16", "float64"):
        raise ValueError(f"quantize_and_dequantize: compute_dtype must be a float dtype, got {compute_dtype!r}")
    mantissa_bits, min_exponent, largest = _FLOAT_FORMATS[quantized_dtype]
    s = _f32(scale)
    x = np.clip(_f32(inputs) / s, np.float32(-largest), np.float32(largest))
    finite = np.isfinite(x)
    rounded = np.where(finite, _round_to_format(np.where(finite, x, 0).astype(np.float64), mantissa_bits,
                                                min_exponent), x)
    return _out(rounded.astype(np.float32) * s)


def compute_float8_scale(amax, scale, dtype_max, margin=0):
    """The new float8 scale from ``amax``: ``1 / (dtype_max / amax / 2^margin)``; where amax is
    not positive or not finite, the old ``scale``."""
    amax, old = _f32(amax), np.float32(1.0) / _f32(scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        sf = np.float32(dtype_max) / amax / np.float32(2.0 ** margin)
    sf = np.where(amax > 0.0, sf, old)
    sf = np.where(np.isfinite(amax), sf, old)
    return _out((np.float32(1.0) / sf).astype(np.float32))


def compute_float8_amax_history(x, amax_history):
    """``amax_history`` rolled left by one with ``max |x|`` written at position 0."""
    history = _f32(amax_history)
    new = np.roll(history, -1)
    new[0] = np.max(np.abs(_f32(x)))
    return _out(new)


# -- fake quantization ---------------------------------------------------------------------------

def _nudge(min_range, max_range, num_bits, narrow_range):
    """Keras' adjust_and_nudge in float32: (nudged_min, nudged_max, scale, inv_scale)."""
    quant_max = np.float32((1 << num_bits) - 1)
    quant_min = np.float32(1 if narrow_range else 0)
    diff = max_range - min_range
    scale = diff / (quant_max - quant_min)
    inv_scale = (quant_max - quant_min) / diff
    zero_point = np.clip(quant_min - min_range / scale, quant_min, quant_max)
    nudged_zero = np.round(zero_point)
    return (quant_min - nudged_zero) * scale, (quant_max - nudged_zero) * scale, scale, inv_scale


def fake_quant_with_min_max_vars(inputs, min_vals, max_vals, num_bits=8, narrow_range=False, axis=None):
    """Quantize ``inputs`` to ``num_bits`` over [min_vals, max_vals] (per tensor, or per channel of
    ``axis`` with min/max of that axis' length) and back to floats; differentiable in all three
    (straight-through, see the module docstring)."""
    from .. import ops
    from ..models.graph import KerasTensor
    if isinstance(inputs, KerasTensor):
        raise TypeError("fake_quant_with_min_max_vars: call it on tensors (inside a layer's call), not on a "
                        "keras.Input")
    num_bits = int(num_bits)
    ndim = len(np.shape(inputs))
    if axis is not None:
        if not -ndim <= axis < ndim:
            raise ValueError(f"fake_quant_with_min_max_vars: axis {axis} is out of range for inputs of rank {ndim}")
        axis = axis % ndim

    def per_channel(v, x_shape):
        v = _f32(v)
        if axis is None or v.ndim == 0:
            return v
        shape = [1] * len(x_shape)
        shape[axis] = -1
        return v.reshape(shape)

    @ops.custom_gradient
    def _fake_quant(x, min_val, max_val):
        xv, lo, hi = _f32(x), _f32(min_val), _f32(max_val)
        nudged_min, nudged_max, scale, inv_scale = _nudge(per_channel(lo, xv.shape), per_channel(hi, xv.shape),
                                                          num_bits, narrow_range)
        quant_zero = np.floor(-nudged_min * inv_scale + np.float32(0.5))
        shifted = np.clip(xv, nudged_min, nudged_max) - nudged_min
        result = (np.floor(shifted * inv_scale - quant_zero + np.float32(0.5)) * scale).astype(np.float32)
        inside = (xv >= nudged_min) & (xv <= nudged_max)
        below, above = xv <= nudged_min, xv >= nudged_max
        reduce = None if axis is None else tuple(i for i in range(xv.ndim) if i != axis)

        def grad(*args, upstream=None):
            up = _f32(args[0] if upstream is None else upstream)
            dx = np.where(inside, up, np.float32(0))
            d_min = np.sum(np.where(below, up, np.float32(0)), axis=reduce).reshape(lo.shape)
            d_max = np.sum(np.where(above, up, np.float32(0)), axis=reduce).reshape(hi.shape)
            return dx, d_min, d_max

        return result, grad

    return _fake_quant(inputs, min_vals, max_vals)


# -- int4 packing --------------------------------------------------------------------------------

def pack_int4(arr, axis=0, dtype="int8"):
    """(packed, packed_shape, orig_len): pairs of int4 values (int8 in [-8, 7], or uint8) along
    ``axis`` in one byte each, the first of the pair in the low nibble; an odd length is padded
    with a zero."""
    if dtype not in ("int8", "uint8"):
        raise ValueError(f"Expected dtype to be 'int8' or 'uint8', but got '{dtype}'.")
    a = np.asarray(arr)
    if str(a.dtype) != dtype:
        raise TypeError(f"Expected {dtype} tensor for packing, got {a.dtype}.")
    if a.ndim == 0:
        raise ValueError("pack_int4: needs an array of at least one dimension")
    axis = axis % a.ndim
    a = np.moveaxis(a, axis, 0)
    n = a.shape[0]
    if n % 2:
        a = np.concatenate([a, np.zeros((1,) + a.shape[1:], a.dtype)], axis=0)
    np_dtype = np.dtype(dtype)
    low = a[::2].astype(np.uint8) & np.uint8(0x0F)
    high = a[1::2].astype(np.uint8) & np.uint8(0x0F)
    packed = np.ascontiguousarray(np.moveaxis((low | (high << np.uint8(4))).view(np_dtype), 0, axis))
    return packed, tuple(packed.shape), n


def unpack_int4(packed, orig_len, axis=0, dtype="int8"):
    """``pack_int4`` undone: each byte's low then high nibble along ``axis``, signed (int8: -8..7)
    or not (uint8: 0..15), cut back to ``orig_len``."""
    if dtype not in ("int8", "uint8"):
        raise ValueError(f"Expected dtype to be 'int8' or 'uint8', but got '{dtype}'.")
    p = np.asarray(packed)
    if str(p.dtype) not in ("int8", "uint8"):
        raise TypeError(f"Expected int8 or uint8 tensor for unpacking, got {p.dtype}")
    if p.ndim == 0:
        raise ValueError("unpack_int4: needs an array of at least one dimension")
    axis = axis % p.ndim
    t = np.moveaxis(p, axis, 0).view(np.uint8)
    low, high = t & np.uint8(0x0F), (t >> np.uint8(4)) & np.uint8(0x0F)
    if dtype == "int8":   # nibble 8..15 -> -8..-1
        low = (low.astype(np.int16) ^ 8) - 8
        high = (high.astype(np.int16) ^ 8) - 8
    out = np.stack([low, high], axis=1).reshape((-1,) + t.shape[1:])[:orig_len].astype(np.dtype(dtype))
    return np.ascontiguousarray(np.moveaxis(out, 0, axis))


# -- registry ------------------------------------------------------------------------------------

_OBJECTS = {"Quantizer": Quantizer, "AbsMaxQuantizer": AbsMaxQuantizer,
            "Int8QuantizationConfig": Int8QuantizationConfig, "Int4QuantizationConfig": Int4QuantizationConfig,
            "quantizer": Quantizer, "abs_max_quantizer": AbsMaxQuantizer}


def serialize(quantizer):
    """{'module': 'keras.quantizers', 'class_name', 'config', 'registered_name': None}, as Keras'
    serialize_keras_object writes a quantizer."""
    if not isinstance(quantizer, Quantizer):
        raise TypeError(f"keras.quantizers.serialize: expected a Quantizer, got {type(quantizer).__name__}")
    return {"module": "keras.quantizers", "class_name": type(quantizer).__name__, "config": quantizer.get_config(),
            "registered_name": None}


def deserialize(config, custom_objects=None):
    """A quantizer from ``serialize``'s dict (class looked up in this module, then custom_objects)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"keras.quantizers.deserialize: expected a dict with 'class_name', got {config!r}")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _OBJECTS.get(name)
    if cls is None:
        raise ValueError(f"keras.quantizers.deserialize: unknown quantizer {name!r}; corenn has "
                         f"Quantizer, AbsMaxQuantizer (others: pass them in custom_objects)")
    cfg = dict(config.get("config") or {})
    if isinstance(cfg.get("value_range"), list):
        cfg["value_range"] = tuple(cfg["value_range"])   # a JSON round trip makes tuples lists
    return cls.from_config(cfg)


def get(identifier, **kwargs):
    """None -> None; a dict -> deserialize; a class name -> an instance made with ``kwargs``; a
    Quantizer or other callable -> itself."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = _OBJECTS.get(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj(**kwargs) if inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret quantizer identifier: {identifier}")
