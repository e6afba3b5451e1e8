"""Keras 3's post-training int8 and int4 quantization: ``model.quantize("int8" | "int4")`` /
``layer.quantize(...)`` for Dense, EinsumDense and Embedding (the layers Keras quantizes that
corenn quantizes; others stay float).

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

Storage: the int8 kernel / table is an int8 weight, one byte a value, as Keras' int8 variable (it
was a float32 weight of the integers until the twentieth session, before a Tensor could hold
int8): quantized_matmul reads it as it is (the AVX2 / AVX-512 kernels keep it packed into their
16-bit pair panels beside it, cpu/int8_kept_kernel.cpp), the Embedding's lookup widens its rows.
get_weights gives int8 arrays; set_weights and the loaders take int8 arrays, or any integer /
float array of whole numbers in -128..127 (a Keras file, an older corenn file's float32 kernel),
converted exactly, and refuse anything else by name (``kernels.int8_values``; Keras would
truncate or wrap it). An int8 weight has no gradient Tensor. The quantized weights are not
trainable (Keras).
Weights, in Keras' file order (its ``variable_serialization_spec``): Dense [kernel, bias,
kernel_scale], Embedding [embeddings, embeddings_scale]. The layer's dtype policy becomes
``QuantizedDTypePolicy`` "int8_from_float32", which get_config writes as Keras does, so
``from_config`` / ``load_model`` build the quantized form directly.

int4 (Keras 3.15's, weight-only: x is not quantized; the layer computes with the dequantized
float32 kernel, so there is no integer product, only 8x less kernel storage in files):
    The kernel is seen as a matrix M (rows = the contracted input axes, columns = the outputs;
    Dense: the kernel; EinsumDense: the kernel reshaped as stored, its contracted axes' sizes
    first; Embedding: the table transposed, so a group runs along a row's features).
    block_size -1 (per channel, symmetric): s = 7 / (max_rows |M| + 1e-7) per column,
        q = clip(round(M s), -8, 7), M' = q / s.
    block_size b > 0 (Keras' default, 128; asymmetric): the rows in groups of b (the last group
        padded with zero rows, which count in its min and max), per group and column
        s = (max - min + 1e-7) / 15,  z = clip(round(-min / s) - 8, -8, 7),
        q = clip(round(M / s) + z, -8, 7),  M' = (q - z) s  (s, z looked up per row by g_idx =
        row // b).
    Storage, as Keras: q packed two to a byte along the columns (pack_int4: the first of a pair
    in the low nibble), so the kernel weight is (rows, ceil(cols / 2)) int8 bytes; kernel_scale
    (cols,) per channel or (groups, cols) float32;
    kernel_zero (groups, cols) (int8) and g_idx (rows,) (float32) per group (Embedding's scale and
    zero are transposed back: (V, groups)). Weights [bias, kernel, kernel_scale, kernel_zero,
    g_idx] (Embedding [embeddings, embeddings_scale, embeddings_zero, g_idx]); Keras' file order
    puts the kernel first. Policy ``Int4DTypePolicy`` "int4/<block_size>_from_float32".
    Backward: dx through M' (Keras' custom gradient); the bias trains, the int4 weights do not.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..kernels import int8_values   # (set_weights and the loaders check int8 weights with it too)
from ..mixed_precision import (QUANTIZATION_MODES, SUPPORTED_QUANTIZATION_MODES, Int4DTypePolicy,
                               QuantizedDTypePolicy, quantized_policy)
from .base import Param

__all__ = ["abs_max_quantize", "Int8Quantizable", "int4_quantize", "int4_dequantize", "dequantize"]

_EPSILON = np.float32(1e-7)   # keras.config.epsilon(), Keras' default
INT4_DEFAULT_BLOCK = 128      # Keras 3.15's Int4QuantizationConfig() / model.quantize("int4")


def abs_max_quantize(w, axis):
    """(q, scale): Keras' AbsMaxQuantizer on a float32 array along ``axis`` (keepdims scale);
    q holds the integers -127..127 as float32."""
    w = np.asarray(w, np.float32)
    scale = np.float32(127.0) / (np.max(np.abs(w), axis=axis, keepdims=True) + _EPSILON)
    q = np.clip(np.round(w * scale), -127, 127).astype(np.float32)
    return q, scale.astype(np.float32)


def dequantize(kernel, scale, out):
    """out (float32 Tensor) = kernel / scale: an int8 kernel (K, N) Tensor widened exactly and
    divided by its per-column scale (N,) in float32, one correctly rounded division a value (the
    bits binary_forward("divide") gave on the float32 kernel); the backward's dequantized kernel."""
    np.divide(kernel._copy_array(), scale._copy_array(), out=np.asarray(out), dtype=np.float32)
    return out


def int4_quantize(m, block_size):
    """(q, scale, zero) of a float32 matrix ``m`` (rows, cols), Keras 3.15's int4 quantizers (the
    module docstring): q (rows, cols) int8 in -8..7; per channel (block_size -1 / None) scale
    (cols,) and zero None; per group scale and zero (groups, cols), zero int8."""
    m = np.asarray(m, np.float32)
    if block_size is None or block_size == -1:
        scale = np.float32(7.0) / (np.max(np.abs(m), axis=0, keepdims=True) + _EPSILON)
        q = np.clip(np.round(m * scale), -8, 7).astype(np.int8)
        return q, scale[0].astype(np.float32), None
    rows, cols = m.shape
    groups = -(-rows // block_size)
    padded = np.concatenate([m, np.zeros((groups * block_size - rows, cols), np.float32)]) \
        if groups * block_size > rows else m
    g = padded.reshape(groups, block_size, cols)
    lo, hi = g.min(axis=1, keepdims=True), g.max(axis=1, keepdims=True)
    scale = ((hi - lo) + _EPSILON) / np.float32(15.0)
    zero = np.clip(np.round(-lo / scale) + np.float32(-8.0), -8, 7)
    q = np.clip(np.round(g / scale) + zero, -8, 7).astype(np.int8)
    return (q.reshape(groups * block_size, cols)[:rows], scale[:, 0].astype(np.float32),
            zero[:, 0].astype(np.int8))


def int4_dequantize(q, scale, zero=None, block_size=None):
    """M' (rows, cols) float32 from ``int4_quantize``'s q, scale, zero: q / scale per channel,
    (q - zero[g]) * scale[g] per group (g = row // block_size, Keras' g_idx)."""
    q = np.asarray(q, np.float32)
    if zero is None:
        return q / np.asarray(scale, np.float32).reshape(1, -1)
    g_idx = np.arange(q.shape[0]) // int(block_size)
    return (q - np.asarray(zero, np.float32)[g_idx]) * np.asarray(scale, np.float32)[g_idx]


def int4_block_size(config):
    """The block size a quantize("int4") ``config`` asks for: None (Keras' default config) 128;
    Keras' Int4QuantizationConfig (serialized or an object with ``block_size``) its block size
    (-1 for None / -1: per channel). A config with its own quantizers is refused."""
    if config is None:
        return INT4_DEFAULT_BLOCK
    if isinstance(config, dict):
        if config.get("class_name") != "Int4QuantizationConfig":
            raise ValueError(f"quantize('int4'): config {str(config)[:200]} is not an Int4QuantizationConfig")
        c = config.get("config") or {}
        quantizers, block = (c.get("weight_quantizer"), c.get("activation_quantizer")), c.get("block_size", 128)
    else:
        quantizers = (getattr(config, "weight_quantizer", None), getattr(config, "activation_quantizer", None))
        block = getattr(config, "block_size", 0)
        if quantizers[1] is not None:
            raise ValueError("quantize('int4'): an activation_quantizer is not supported in corenn (Keras' "
                             "int4 is weight-only by default: activation_quantizer=None)")
        if _is_config_object(config) and block in (None, -1):
            # per channel, where Keras 3.15 takes a weight quantizer (Int4QuantizationConfig
            # checked its value_range (-8, 7) and int8 output); the layer calls it
            quantizers = ()
    if any(q is not None for q in quantizers):
        raise ValueError("quantize('int4'): custom weight / activation quantizers are not supported in corenn "
                         "(Keras' default int4: weight-only, abs-max per channel or per group)")
    block = -1 if block is None else block
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or not (block == -1 or block > 0):
        raise ValueError(f"quantize('int4'): block_size must be None, -1, or a positive integer. "
                         f"Received: block_size={block!r}")
    return int(block)


def _is_config_object(config):
    """A keras.quantizers.QuantizationConfig object (not a serialized dict from a file)."""
    from ..keras.quantizers import QuantizationConfig
    return isinstance(config, QuantizationConfig)


def custom_int8_config(config):
    """An Int8QuantizationConfig object whose quantizers are not Keras' defaults (a weight
    quantizer, or an activation quantizer other than AbsMaxQuantizer() per row, or None): the
    layer quantizes with them (Dense) instead of the fused default kernels."""
    from ..keras.quantizers import Int8QuantizationConfig, is_default_abs_max
    if not isinstance(config, Int8QuantizationConfig):
        return False
    a = config.activation_quantizer
    return config.weight_quantizer is not None or a is None or not is_default_abs_max(a)


def _default_config(config):
    """True for Keras' serialized default int8 config (what get_config writes): abs-max
    quantizers with Keras' range and epsilon, or none."""
    if config is None:
        return True
    from ..keras.quantizers import Int8QuantizationConfig
    if isinstance(config, Int8QuantizationConfig):
        return not custom_int8_config(config)
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
    _quantized = None   # "int8" / "int4" once quantized: a plain attribute, read by every forward
    _int4_block = None  # int4: the group size, None per channel

    def _pop_quantized_dtype(self, kwargs, quantization_config):
        policy = quantized_policy(kwargs.get("dtype"))
        if policy is not None:
            kwargs["dtype"] = None if policy.get_config()["source_name"] == "float32" else \
                policy.get_config()["source_name"]
        if policy is not None and policy.quantization_mode == "int4" and quantization_config is not None:
            # Keras writes the int4 layer's config next to its policy: they must agree
            if int4_block_size(quantization_config) != policy.block_size:
                raise ValueError(f"{type(self).__name__}: quantization_config {str(quantization_config)[:200]} "
                                 f"does not match the dtype policy {policy.name!r}")
            return policy
        if not _default_config(quantization_config):
            raise ValueError(f"{type(self).__name__}: quantization_config {str(quantization_config)[:200]} is not "
                             "supported; corenn quantizes with Keras' default int8 abs-max quantizers only "
                             "(quantization_config=None)")
        return policy

    def _set_quantized_dtype(self, policy):
        if policy is not None:
            self._dtype_policy = policy
            self._quantized = policy.quantization_mode
            if self._quantized == "int4":
                self._int4_block = None if policy.block_size == -1 else policy.block_size
            # Keras' attribute: what quantizes the inputs (int8: abs-max per row; int4: none)
            from ..keras.quantizers import AbsMaxQuantizer
            self.__dict__["inputs_quantizer"] = None if self._quantized == "int4" else AbsMaxQuantizer()

    @property
    def quantization_mode(self):
        return self.dtype_policy.quantization_mode

    def quantize(self, mode=None, type_check=True, config=None):
        """Convert this built layer's weights to int8 or int4 (Keras 3's ``Layer.quantize``)."""
        cls = type(self).__name__
        if getattr(type(self), "_float64_of", None) is not None:
            raise NotImplementedError(f"{cls} '{self.name}' computes in float64: corenn quantizes float32 layers "
                                      "(their int8 / int4 kernels dequantize to float32)")
        if type_check and type(self) is not self._quantizes:
            raise NotImplementedError(f"Layer {cls} does not have a `quantize` method implemented.")
        check_quantize_args(self, mode, config)
        if getattr(self, "lora_enabled", False):
            raise ValueError(f"{cls} '{self.name}': quantizing a layer with LoRA enabled is not supported "
                             "in corenn; quantize before enabling LoRA or merge it first")
        custom = custom_int8_config(config) if mode != "int4" else \
            getattr(config, "weight_quantizer", None) is not None
        if custom and not getattr(type(self), "_takes_custom_quantizers", False):
            raise ValueError(f"{cls} '{self.name}': custom quantizers in {type(config).__name__} are supported "
                             "on Dense only in corenn; quantize this layer with config=None")
        if mode == "int4":
            block = int4_block_size(config)
            self._int4_block = None if block == -1 else block
            wq = getattr(config, "weight_quantizer", None)
            self._quantize_int4(wq) if wq is not None else self._quantize_int4()
            self._dtype_policy = Int4DTypePolicy(f"int4/{block}", self.dtype_policy.name)
            self.__dict__["inputs_quantizer"] = None   # weight-only (Keras' int4 default)
        else:
            wq = getattr(config, "weight_quantizer", None) if custom else None
            self._quantize_int8(wq) if wq is not None else self._quantize_int8()
            self._dtype_policy = QuantizedDTypePolicy("int8", self.dtype_policy.name)
            from ..keras.quantizers import AbsMaxQuantizer
            self.__dict__["inputs_quantizer"] = config.activation_quantizer if custom else AbsMaxQuantizer()
        if custom:
            self.__dict__["_custom_quantizers"] = config
        self._quantized = mode
        self._buffers.clear()

    def _frozen_weight(self, name, values, int8=False):
        """A non-trainable weight (a Param) holding ``values``: float32, or with ``int8`` an int8
        Tensor (Keras' int8 variable: the int8 kernel / table, int4's packed bytes and zero
        points), one byte a value; ``values`` must then be integers in -128..127 (int8_values)."""
        values = int8_values(values, f"{type(self).__name__} '{self.name}': weight {name!r}") if int8 \
            else np.asarray(values, np.float32)
        t = kernels.empty(values.shape, "int8" if int8 else "float32")   # owned memory, as add_weight's
        np.asarray(t)[...] = values
        # made after the build, under the path the layer was built at (Keras' add_weight here)
        from .base import name_scope, variable_path
        with name_scope(self):
            path = variable_path(name)
        t.__dict__.update(name=name, path=path, trainable=False, _is_variable=True)
        # no gradient Tensor for an int8 weight: it never trains, and a float32 one of its shape
        # would hold 4 bytes a value, four times the weight
        return Param(name, t, None if int8 else kernels.zeros(tuple(t.shape)), None, False)

    # -- int4 ----------------------------------------------------------------------------------

    def _set_int4_params(self, params):
        """A kernel layer's (Dense, EinsumDense) int4 weights from _int4_params, after the bias as
        Keras 3 makes them: [bias, kernel, kernel_scale(, kernel_zero, g_idx)]."""
        self._params += params
        self.kernel, self.kernel_scale = params[0].value, params[1].value
        if len(params) > 2:
            self.kernel_zero, self.g_idx = params[2].value, params[3].value

    def _int4_params(self, base, q=None, scale=None, zero=None, shape=None, transposed=False):
        """The frozen int4 weights of the matrix M (module docstring) named ``base``: from
        int4_quantize's (q, scale, zero), or zeros of M's ``shape`` (rows, cols) for a layer read
        back; ``transposed``: the layer's weight is M transposed (Embedding). Sets the
        attributes ``<base>`` (packed), ``<base>_scale``, ``<base>_zero``, ``g_idx``, and keeps M's
        shape for the forward; returns the Params."""
        from ..keras.quantizers import pack_int4
        rows, cols = q.shape if q is not None else shape
        block = self._int4_block
        groups = None if block is None else -(-rows // block)
        if q is None:
            q = np.zeros((rows, cols), np.int8)
            scale = np.ones((cols,) if block is None else (groups, cols), np.float32)
            zero = None if block is None else np.zeros((groups, cols), np.int8)
        t = (lambda a: a.T) if transposed else (lambda a: a)  # noqa: E731
        packed = pack_int4(t(q), axis=-1)[0]
        params = [self._frozen_weight(base, packed, int8=True),
                  self._frozen_weight(f"{base}_scale", t(scale) if scale.ndim == 2 else scale)]
        if block is not None:
            params += [self._frozen_weight(f"{base}_zero", t(zero), int8=True),
                       self._frozen_weight("g_idx", (np.arange(rows) // block).astype(np.float32))]
        self.__dict__["_int4_matrix"] = (rows, cols, transposed)
        return params

    def _int4_matrix_values(self, base):
        """The layer's int4 weights dequantized (int4_dequantize), float32, in the layer's own
        layout (M', or M' transposed back for Embedding's table); read from its weights as they
        are now, so a load or set_weights reaches the next call."""
        from ..keras.quantizers import unpack_int4
        rows, cols, transposed = self._int4_matrix
        packed = getattr(self, base)._copy_array()   # int8 bytes (the Tensor's dtype)
        q = unpack_int4(packed, rows if transposed else cols, axis=-1)
        scale, zero = getattr(self, f"{base}_scale")._copy_array(), None
        if self._int4_block is not None:
            zero = getattr(self, f"{base}_zero")._copy_array()
        if transposed:   # the weights hold M transposed: (V, D), scale / zero (V, groups)
            q, scale, zero = q.T, scale.T, None if zero is None else zero.T
        m = int4_dequantize(q, scale, zero, self._int4_block)
        return m.T if transposed else m

    def int4_dequantized(self, base="kernel"):
        """The int4 weight ``base`` dequantized, float32, in the float layer's shape (EinsumDense:
        its kernel's; Embedding: the table): what the layer computes with (ONNX export)."""
        m = self._int4_matrix_values(base)
        shape = getattr(self, "_int4_kernel_shape", None)
        return m.reshape(shape) if shape is not None else m

    def _quantized_config(self, cfg):
        """get_config with Keras' serialized QuantizedDTypePolicy as ``dtype``."""
        if self.quantization_mode is not None:
            from ..keras.dtype_policies import serialize
            cfg["dtype"] = serialize(self.dtype_policy)
            config = self.__dict__.get("_custom_quantizers")
            if self.quantization_mode == "int8" and config is not None and custom_int8_config(
                    type(config)(activation_quantizer=config.activation_quantizer)):
                # an activation quantizer of its own: written as Keras writes it, so that a
                # reader refuses the layer by name (corenn's reader takes the default config
                # only) rather than reading it back with the default per-row quantizer
                from ..keras.quantizers import serialize
                cfg["quantization_config"] = {"module": "keras.quantizers", "class_name": type(config).__name__,
                                              "config": {"weight_quantizer": None, "activation_quantizer":
                                                         None if config.activation_quantizer is None
                                                         else serialize(config.activation_quantizer)},
                                              "registered_name": None}
            if self.quantization_mode == "int4":   # Keras 3.15 writes the int4 config beside it
                cfg["quantization_config"] = {
                    "module": "keras.quantizers", "class_name": "Int4QuantizationConfig",
                    "config": {"weight_quantizer": None, "activation_quantizer": None,
                               "block_size": self.dtype_policy.block_size}, "registered_name": None}
        return cfg


def _refresh_graph_contexts(model, changed):
    """The call contexts that the graphs of ``model`` and the models inside it hold for the
    quantized layers (a shared layer's second call, a tape's graph copy) take the layers' new
    weights (Layer._refresh_context); made before ``quantize``, they still held the float
    kernel's Params."""
    from ..models.fusion import weights_context
    from ..models.graph import _ActivityRegularized, _FixedTraining, _MaskedCall
    wrappers = (_ActivityRegularized, _FixedTraining, _MaskedCall)   # each holds its call's context in .inner
    graphs = []
    for m in [model, *model.submodules]:
        d = getattr(m, "__dict__", {})
        if not getattr(m, "_is_corenn_model", False):
            continue
        graphs.append(d.get("_graph"))
        graphs += list((d.get("_captures") or {}).values())
        for copies in (d.get("_capture_copies") or {}).values():
            graphs += list(copies)
    for graph in graphs:
        for step in list(getattr(graph, "steps", ())) + list(getattr(graph, "run", ())):
            ctx = step.ctx
            while type(ctx) in wrappers:
                ctx = object.__getattribute__(ctx, "inner")
            ctx = weights_context(ctx)
            owner = getattr(ctx, "__dict__", {}).get("_owner")
            if owner is not None and id(owner) in changed:
                ctx._refresh_context()


def check_quantize_args(layer, mode, config):
    """Keras' checks before quantizing, with corenn's supported modes named."""
    cls = type(layer).__name__
    if config is not None and mode is None:
        mode = "int8" if _default_config(config) or type(config).__name__ == "Int8QuantizationConfig" else \
            "int4" if _config_name(config) == "Int4QuantizationConfig" else None
    if mode == "int4":
        int4_block_size(config)   # raises for a config corenn cannot follow
    elif not (_default_config(config) or custom_int8_config(config)):
        raise ValueError(f"{cls} '{layer.name}': quantization config {config!r} is not supported; corenn "
                         "quantizes with Keras' default int8 abs-max quantizers (config=None)")
    if not layer.built:
        raise ValueError(f"Cannot quantize a layer that isn't yet built. Layer '{layer.name}' (of type "
                         f"'{cls}') is not built yet.")
    if layer.quantization_mode is not None:
        raise ValueError(f"Layer '{layer.name}' is already quantized with dtype_policy="
                         f"'{layer.dtype_policy.name}'. Received: mode={mode}")
    check_mode(mode)


def check_user_quantize_args(layer, mode, config):
    """Keras 3's checks before a layer class's own ``quantize`` runs (its quantize_wrapper), as
    (mode, config): a string config names the mode, a missing one is the mode's default config
    object (Int8QuantizationConfig() ...); then the mode must be one Keras names, the layer built
    and not yet quantized (``_is_quantized``, which the layer's quantize sets)."""
    if isinstance(config, str):
        mode, config = config, None
    if config is not None and mode is None:
        mode = getattr(config, "mode", None)
    if mode not in QUANTIZATION_MODES:
        raise ValueError(f"Invalid quantization mode. Expected one of {QUANTIZATION_MODES}. Received: mode={mode}")
    if config is None and mode in ("int8", "int4"):
        from ..keras.quantizers import Int4QuantizationConfig, Int8QuantizationConfig
        config = Int8QuantizationConfig() if mode == "int8" else Int4QuantizationConfig()
    if not layer.built:
        raise ValueError(f"Cannot quantize a layer that isn't yet built. Layer '{layer.name}' (of type "
                         f"'{type(layer).__name__}') is not built yet.")
    if layer.__dict__.get("_is_quantized"):
        raise ValueError(f"Layer '{layer.name}' is already quantized with dtype_policy="
                         f"'{layer.dtype_policy.name}'. Received: mode={mode}")
    return mode, config


def policy_config(policy):
    """The quantize() config that gives a built-in layer ``policy`` (its int4 block size)."""
    if policy.quantization_mode != "int4":
        return None
    from ..keras.quantizers import Int4QuantizationConfig
    return Int4QuantizationConfig(block_size=policy.block_size)


def _config_name(config):
    return config.get("class_name") if isinstance(config, dict) else type(config).__name__


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
    type_check = kwargs.pop("type_check", True)   # passed on to each layer's quantize, as Keras does
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments passed to {type(model).__name__}: {kwargs}")
    if filters is not None and not (isinstance(filters, (str, list, tuple)) or callable(filters)):
        raise ValueError("The `filters` argument must be a regex string, a list of regex strings, or a "
                         f"callable. Received: {type(filters)}")
    if isinstance(config, str):   # Keras: quantize(config="int8") names the mode
        mode, config = config, None
    if config is not None and mode is None:
        mode = "int4" if _config_name(config) == "Int4QuantizationConfig" else "int8"
    if mode is None:
        raise ValueError("You must provide either `mode` or `config` to `quantize`.")
    if _is_config_object(config) and mode in QUANTIZATION_MODES and config.mode != mode:
        raise ValueError(f"Contradictory arguments: mode='{mode}' but config.mode='{config.mode}'")
    check_mode(mode)
    if mode == "int4":
        int4_block_size(config)
    elif not (_default_config(config) or custom_int8_config(config)):
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

    from .base import Layer
    changed = set()
    for layer in model.submodules:
        if getattr(layer, "_is_corenn_model", False) or not hasattr(layer, "quantize") or layer._sublayers():
            continue
        if not wanted(layer):
            continue
        if type(layer).quantize is Layer.quantize:
            # no quantized form: Keras warns for every such layer and goes on; corenn warns for
            # a user's layer only (its built-in ones, Dropout, Flatten ..., stay float silently)
            if not type(layer).__module__.startswith("corenn."):
                warnings.warn(f"Layer {type(layer).__name__} does not have a `quantize` method implemented.",
                              stacklevel=3)
            continue
        try:
            layer.quantize(mode, type_check=type_check, config=config)
            changed.add(id(layer))
        except NotImplementedError as exc:
            warnings.warn(str(exc), stacklevel=3)
    if changed:
        _refresh_graph_contexts(model, changed)
    # a built optimizer held state for the float kernels, which are gone: its state is made
    # afresh for the weights that still train (the biases), so fit and save see one list
    opt = getattr(model, "optimizer", None)
    if changed and opt is not None and getattr(opt, "built", False):
        opt.build(model.trainable_weights)
