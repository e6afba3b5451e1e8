"""Keras 3's post-training int8 quantization: ``model.quantize("int8")`` / ``layer.quantize("int8")``
for Dense and Embedding (the layers Keras quantizes that corenn quantizes; others stay float).

Math (all float32, in the order Keras computes it, so results agree to the bit where Keras'
float32 does):
    abs-max quantizer along an axis:  s = 127 / (max |w| + 1e-7),  q = clip(round(w s), -127, 127)
                                      (round half to even)
    Dense       kernel W (D, U) -> q (D, U), kernel_scale s (U,) per output column (axis 0);
                call: x (..., D) quantized per row the same way (s_x), acc = q(x) q (int32, exact),
                z = acc / (s * s_x) + bias, y = act(z): kernels.quantized_matmul, one C++ pass.
                backward (the kernel is frozen): dx = dz (q / s)^T, Keras' custom gradient.
    Embedding   table E (V, D) -> q (V, D), embeddings_scale s (V,) per row (axis -1);
                call: y[..., :] = q[i, :] / s[i]. No gradient (the table is frozen; indices have none).

Storage: corenn Tensors hold no int8 (core/tensor.h), so the int8 kernel / table is a float32
weight holding the integers -127..127 (exact in float32); the C++ entry narrows it to int8 before
its integer product and refuses anything else. The quantized weights are not trainable (Keras).
Weights, in Keras' file order (its ``variable_serialization_spec``): Dense [kernel, bias,
kernel_scale], Embedding [embeddings, embeddings_scale]. The layer's dtype policy becomes
``QuantizedDTypePolicy`` "int8_from_float32", which get_config writes as Keras does, so
``from_config`` / ``load_model`` build the quantized form directly.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..mixed_precision import (QUANTIZATION_MODES, SUPPORTED_QUANTIZATION_MODES, QuantizedDTypePolicy,
                               quantized_policy)
from .base import Param

__all__ = ["abs_max_quantize", "Int8Quantizable"]

_EPSILON = np.float32(1e-7)   # keras.config.epsilon(), Keras' default


def abs_max_quantize(w, axis):
    """(q, scale): Keras' AbsMaxQuantizer on a float32 array along ``axis`` (keepdims scale);
    q holds the integers -127..127 as float32."""
    w = np.asarray(w, np.float32)
    scale = np.float32(127.0) / (np.max(np.abs(w), axis=axis, keepdims=True) + _EPSILON)
    q = np.clip(np.round(w * scale), -127, 127).astype(np.float32)
    return q, scale.astype(np.float32)


def _default_config(config):
    """True for Keras' serialized default int8 config (what get_config writes): abs-max
    quantizers with Keras' range and epsilon, or none."""
    if config is None:
        return True
    if not isinstance(config, dict) or config.get("class_name") != "Int8QuantizationConfig":
        return False
    for key in ("weight_quantizer", "activation_quantizer"):
        q = (config.get("config") or {}).get(key)
        if q is None:
            continue
        c = q.get("config") if isinstance(q, dict) else None
        if not (isinstance(q, dict) and q.get("class_name") == "AbsMaxQuantizer" and isinstance(c, dict)
                and list(c.get("value_range", [-127, 127])) == [-127, 127]
                and float(c.get("epsilon", 1e-7)) == 1e-7 and c.get("output_dtype", "int8") == "int8"
                and c.get("axis") in (None, 0, -1, [0], [-1])):
            return False
    return True


class Int8Quantizable:
    """Mixin (before the layer class) of the layers with an int8 form. The layer calls
    ``_pop_quantized_dtype(kwargs, quantization_config)`` before ``Layer.__init__`` and
    ``_set_quantized_dtype`` after it, builds ``_int8_weights`` in place of its float weights when
    ``quantization_mode`` is set, and implements ``_quantize_int8()`` (convert a built layer)."""

    _quantizes = None   # the one class whose instances quantize (Keras refuses subclasses)
    _quantized = None   # "int8" once quantized: a plain attribute, read by every forward

    def _pop_quantized_dtype(self, kwargs, quantization_config):
        policy = quantized_policy(kwargs.get("dtype"))
        if policy is not None:
            kwargs["dtype"] = None if policy.get_config()["source_name"] == "float32" else \
                policy.get_config()["source_name"]
        if not _default_config(quantization_config):
            raise ValueError(f"{type(self).__name__}: quantization_config {str(quantization_config)[:200]} is not "
                             "supported; corenn quantizes with Keras' default int8 abs-max quantizers only "
                             "(quantization_config=None)")
        return policy

    def _set_quantized_dtype(self, policy):
        if policy is not None:
            self._dtype_policy = policy
            self._quantized = policy.quantization_mode

    @property
    def quantization_mode(self):
        return self.dtype_policy.quantization_mode

    def quantize(self, mode=None, type_check=True, config=None):
        """Convert this built layer's weights to int8 (Keras 3's ``Layer.quantize``)."""
        cls = type(self).__name__
        if type_check and type(self) is not self._quantizes:
            raise NotImplementedError(f"Layer {cls} does not have a `quantize` method implemented.")
        check_quantize_args(self, mode, config)
        if getattr(self, "lora_enabled", False):
            raise ValueError(f"{cls} '{self.name}': quantizing a layer with LoRA enabled is not supported "
                             "in corenn; quantize before enabling LoRA or merge it first")
        self._quantize_int8()
        self._dtype_policy = QuantizedDTypePolicy("int8", self.dtype_policy.name)
        self._quantized = "int8"
        self._buffers.clear()

    def _frozen_weight(self, name, values, int8=False):
        """A non-trainable weight (a Param) holding ``values`` as float32; ``int8``: it holds the
        int8 values (Keras' int8 variable; its Keras files store it as int8)."""
        values = np.asarray(values, np.float32)
        t = kernels.empty(values.shape)   # owned memory, as add_weight's weights
        np.asarray(t)[...] = values
        # made after the build, under the path the layer was built at (Keras' add_weight here)
        from .base import name_scope, variable_path
        with name_scope(self):
            path = variable_path(name)
        t.__dict__.update(name=name, path=path, trainable=False, _is_variable=True, _int8=int8)
        return Param(name, t, kernels.zeros(tuple(t.shape)), None, False)

    def _quantized_config(self, cfg):
        """get_config with Keras' serialized QuantizedDTypePolicy as ``dtype``."""
        if self.quantization_mode is not None:
            from ..keras.dtype_policies import serialize
            cfg["dtype"] = serialize(self.dtype_policy)
        return cfg


def check_quantize_args(layer, mode, config):
    """Keras' checks before quantizing, with corenn's supported modes named."""
    cls = type(layer).__name__
    if config is not None and mode is None:
        mode = "int8" if _default_config(config) or type(config).__name__ == "Int8QuantizationConfig" else None
    if not _default_config(config):
        raise ValueError(f"{cls} '{layer.name}': quantization config {config!r} is not supported; corenn "
                         "quantizes with Keras' default int8 abs-max quantizers (config=None)")
    if not layer.built:
        raise ValueError(f"Cannot quantize a layer that isn't yet built. Layer '{layer.name}' (of type "
                         f"'{cls}') is not built yet.")
    if layer.quantization_mode is not None:
        raise ValueError(f"Layer '{layer.name}' is already quantized with dtype_policy="
                         f"'{layer.dtype_policy.name}'. Received: mode={mode}")
    check_mode(mode)


def check_mode(mode):
    """ValueError for a mode corenn does not quantize to, naming the supported ones."""
    supported = ", ".join(repr(m) for m in SUPPORTED_QUANTIZATION_MODES)
    if mode not in QUANTIZATION_MODES:
        raise ValueError(f"Invalid quantization mode. Expected one of {supported} (Keras 3 also names "
                         f"{', '.join(repr(m) for m in QUANTIZATION_MODES if m not in SUPPORTED_QUANTIZATION_MODES)}"
                         f", which corenn does not implement). Received: mode={mode!r}")
    if mode not in SUPPORTED_QUANTIZATION_MODES:
        raise ValueError(f"Quantization mode {mode!r} is not supported by corenn; supported modes: {supported}")


def quantize_model(model, mode=None, config=None, filters=None, **kwargs):
    """``Model.quantize``: quantize every leaf layer that has an int8 form and passes ``filters``
    (a regex on the layer name, a list of them, or a callable); a layer whose class refuses
    (a subclass of Dense) is skipped with a warning, as in Keras; layers without a quantized form
    stay float."""
    import re
    import warnings
    kwargs.pop("type_check", None)
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments passed to {type(model).__name__}: {kwargs}")
    if filters is not None and not (isinstance(filters, (str, list, tuple)) or callable(filters)):
        raise ValueError("The `filters` argument must be a regex string, a list of regex strings, or a "
                         f"callable. Received: {type(filters)}")
    if config is not None and mode is None:
        mode = "int8"
    check_mode(mode)
    if not _default_config(config):
        raise ValueError(f"{type(model).__name__}.quantize: quantization config {config!r} is not supported; "
                         "corenn quantizes with Keras' default int8 abs-max quantizers (config=None)")

    def wanted(layer):
        if filters is None:
            return True
        if isinstance(filters, str):
            return re.search(filters, layer.name) is not None
        if isinstance(filters, (list, tuple)):
            return any(re.search(f, layer.name) for f in filters)
        return bool(filters(layer))

    changed = False
    for layer in model.submodules:
        if getattr(layer, "_is_corenn_model", False) or not hasattr(layer, "quantize") or layer._sublayers():
            continue
        if not wanted(layer):
            continue
        try:
            layer.quantize(mode, config=config)
            changed = True
        except NotImplementedError as exc:
            warnings.warn(str(exc), stacklevel=3)
    # a built optimizer held state for the float kernels, which are gone: its state is made
    # afresh for the weights that still train (the biases), so fit and save see one list
    opt = getattr(model, "optimizer", None)
    if changed and opt is not None and getattr(opt, "built", False):
        opt.build(model.trainable_weights)
