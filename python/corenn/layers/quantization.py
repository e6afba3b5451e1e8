"""int8 post-training quantization (Keras 3's ``layer.quantize("int8")`` / ``model.quantize``)
for Dense, EinsumDense and Embedding.

What Keras 3 computes, and what corenn computes:
  - The weight is quantized symmetrically with an abs-max scale per output unit (Dense: per
    column of the (D, U) kernel; EinsumDense: over the kernel's contracted axes; Embedding: per
    row of the (V, D) table):
        s = 127 / (max |W| + 1e-7),   q = clip(round(W * s), -127, 127)
    Keras stores q as an int8 variable and s as ``kernel_scale`` / ``embeddings_scale``. corenn's
    GEMM and gather kernels are float32, so the layer keeps the weight as the dequantized values
    q / s (exactly the values the int8 weight stands for) plus the scale as a non-trainable
    weight ``kernel_scale`` / ``embeddings_scale`` of the same shape as Keras'.
  - Dense and EinsumDense also quantize their inputs on each call (abs-max over the contracted
    axes: a Dense row), as Keras' int8 layers do; x is replaced by its fake-quantized value
    round(x * s_x) / s_x; both scales are constant along the contracted axes, so
    act((x_q / s_x) (q / s) + b) equals Keras' dequantized int8 product up to float32 rounding.
    This runs in NumPy (inference-time rounding, no kernel of its own); the GEMM is the usual one.
  - The quantized weight is frozen (not trainable, no regularizer or constraint, as Keras' int8
    variable); the bias stays trainable, and the gradient through the input rounding is the
    straight-through one (dx = dz W^T), as Keras' int8 training uses.
  - ``dtype_policy`` becomes ``QuantizedDTypePolicy("int8", source)`` named ``int8_from_float32``;
    get_config writes that name as ``dtype``, so from_config / load_model rebuild the layer
    quantized (its weights, scale included, then load as saved).
Only "int8" is implemented; other modes (int4, float8, gptq) raise NotImplementedError.
A LoRA-enabled layer cannot be quantized (quantize first, then enable_lora, as QLoRA does).
"""
from __future__ import annotations

import numpy as np

from .. import kernels

__all__ = ["Quantizable", "QUANTIZATION_MODES"]

QUANTIZATION_MODES = ("int8",)
_EPS = 1e-7


def abs_max_quantize(values, axis):
    """(q, scale) of float ``values``: scale = 127 / (max |v| over ``axis`` + eps), kept dims."""
    v = np.asarray(values, np.float32)
    scale = np.float32(127.0) / (np.max(np.abs(v), axis=axis, keepdims=True) + np.float32(_EPS))
    q = np.clip(np.round(v * scale), -127, 127)
    return q.astype(np.float32), scale.astype(np.float32)


def check_mode(who, mode):
    if mode not in QUANTIZATION_MODES:
        if mode in ("int4", "float8", "gptq", "awq"):
            raise NotImplementedError(f"{who}: quantization mode {mode!r} is not implemented in corenn; "
                                      f"supported: {', '.join(QUANTIZATION_MODES)}")
        raise ValueError(f"{who}: invalid quantization mode {mode!r}; expected one of "
                         f"{', '.join(QUANTIZATION_MODES)}")


class Quantizable:
    """Mixin for a layer with one weight to quantize; the class sets ``_quantized_weight`` (the
    attribute name) and ``_quantize_axis`` (the axes the scale reduces: 0 for a Dense kernel's
    input axis, -1 for an embedding row; EinsumDense overrides ``_weight_quant_axes``), and calls
    ``_quantized_build()`` at the end of build."""

    _quantized_weight = "kernel"
    _quantize_axis = 0
    _quantize_inputs = False

    @property
    def quantization_mode(self):
        return getattr(self.dtype_policy, "quantization_mode", None)

    def quantize(self, mode, type_check=True, config=None):
        """Quantize the built layer's weight in place (see the module docstring)."""
        who = f"{type(self).__name__} '{self.name}'.quantize"
        check_mode(who, mode)
        if not self.built:
            raise ValueError(f"{who}: the layer is not built yet; build or call it first")
        if self.quantization_mode is not None:
            raise ValueError(f"{who}: the layer is already quantized ({self.dtype_policy.name})")
        if getattr(self, "lora_enabled", False):
            raise ValueError(f"{who}: LoRA is enabled; quantize before enable_lora (the adapters then "
                             f"train on the frozen quantized weight)")
        weight = getattr(self, self._quantized_weight)
        q, scale = abs_max_quantize(np.asarray(weight), self._weight_quant_axes())
        self._set_quantized_policy(mode)
        self._quantized_build()
        target = np.asarray(weight)
        target[...] = q / scale
        scale_weight = np.asarray(getattr(self, self._scale_name()))
        scale_weight[...] = scale.reshape(scale_weight.shape)

    def _weight_quant_axes(self):
        """The weight's axes one scale covers (the contracted ones for a kernel)."""
        axis = self._quantize_axis
        return tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)

    def _scale_name(self):
        return f"{self._quantized_weight}_scale"

    def _set_quantized_policy(self, mode):
        from ..mixed_precision import QuantizedDTypePolicy
        self._dtype_policy = QuantizedDTypePolicy(mode, self.dtype_policy.name)

    def _quantized_build(self):
        """The quantized layout (at the end of build when the policy is quantized, or by
        quantize): the weight frozen, without regularizer or constraint; the scale added."""
        if self.quantization_mode is None or self.__dict__.get("_quantized_layout"):
            return
        weight = getattr(self, self._quantized_weight)
        for param in self._params:
            if param.value is weight:
                param.trainable = False
                param.regularizer = None
        marks = getattr(weight, "__dict__", None)
        if marks is not None:
            marks["trainable"] = False
            marks.pop("constraint", None)
        shape = tuple(weight.shape)
        reduced = {a % len(shape) for a in self._weight_quant_axes()}
        scale_shape = tuple(d for i, d in enumerate(shape) if i not in reduced) or (1,)
        setattr(self, self._scale_name(), self.add_weight(self._scale_name(), scale_shape, "ones", trainable=False))
        self.__dict__["_quantized_layout"] = True

    def _quantize_rows(self, x, axes=(-1,)):
        """The int8 inputs: x fake-quantized with abs-max over ``axes`` (a Dense row: the last)."""
        if not (self._quantize_inputs and self.__dict__.get("_quantized_layout")):
            return x
        q, scale = abs_max_quantize(np.asarray(x), tuple(axes))
        return kernels.as_tensor(np.ascontiguousarray(q / scale))

    def _quantized_config(self, cfg):
        if self.quantization_mode is not None:
            cfg["dtype"] = self.dtype_policy.name
        return cfg
