"""``keras.mixed_precision``: dtype policies and loss scaling, as scripts set them.

corenn's kernels compute in float32 only. A script written for mixed precision
(``keras.mixed_precision.set_global_policy("mixed_float16")``) still runs: the policy is accepted
under its name, a warning says once that float32 runs instead, and every attribute that reports a
dtype reports the one that really runs (``policy.compute_dtype == "float32"``,
``layer.compute_dtype == "float32"``), so code that branches on them takes the float32 path. The
results are those of the same script in float32. A 'float64' policy (``dtype="float64"`` on a layer,
or ``keras.config.set_floatx("float64")``, whose name the global policy takes) is computed: float64
weights, and the layers' float64 forms (layers/_float64.py).

``LossScaleOptimizer`` keeps Keras 3's interface and arithmetic (dynamic loss scale starting at
2**15, halved and the step skipped on non-finite gradients, doubled after ``dynamic_growth_steps``
finite steps). Scaling by a power of two is exact in float32 unless it overflows, so it changes
nothing but the skipped steps. Both custom-loop spellings work: Keras 3's ``scale_loss`` then
``apply_gradients`` (which unscales), and TF-Keras 2's ``get_scaled_loss`` /
``get_unscaled_gradients`` then ``apply_gradients`` (gradients that ``get_unscaled_gradients``
returned are not unscaled twice); ``fit`` hands it unscaled gradients and it applies them as they are.
"""
from __future__ import annotations

import warnings
import weakref

import numpy as np

__all__ = ["DTypePolicy", "QuantizedDTypePolicy", "Int4DTypePolicy", "Policy", "set_global_policy", "global_policy",
           "dtype_policy", "set_dtype_policy", "LossScaleOptimizer"]

_FLOAT32_RUNS = {"mixed_float16", "mixed_bfloat16", "float16", "bfloat16"}
_warned = False


def _warn_once(name):
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(f"dtype policy {name!r}: corenn computes in float32 (its kernels have no float16 / "
                      "bfloat16 path), so layers run and keep their variables in float32; compute_dtype "
                      "and variable_dtype report 'float32'. Results equal a float32 run.",
                      UserWarning, stacklevel=3)


class DTypePolicy:
    """A dtype policy by name: 'float32'; 'float64' (float64 weights, and layers that compute
    in float64: layers/base.py ``_float64_layer``); or 'mixed_float16' / 'mixed_bfloat16' /
    'float16' / 'bfloat16', which corenn runs in float32 (``compute_dtype`` / ``variable_dtype``
    say so)."""

    def __init__(self, name="float32"):
        if isinstance(name, DTypePolicy):
            name = name.name
        name = str(getattr(name, "name", name))
        if name == "double":
            name = "float64"
        if name not in ("float32", "float64") and name not in _FLOAT32_RUNS:
            raise ValueError(f"DTypePolicy: unknown policy {name!r}; expected 'float32', 'float64', "
                             "'mixed_float16', 'mixed_bfloat16', 'float16' or 'bfloat16'")
        if name in _FLOAT32_RUNS:
            _warn_once(name)
        self._name = name

    @property
    def name(self):
        return self._name

    @property
    def compute_dtype(self):
        # what the layers run: float64 for 'float64' (the layers' float64 forms), else float32
        # (the kernels), whatever the mixed names asked for
        return "float64" if self._name == "float64" else "float32"

    @property
    def variable_dtype(self):
        return "float64" if self._name == "float64" else "float32"

    @property
    def quantization_mode(self):
        return None   # a QuantizedDTypePolicy's is its mode

    def get_config(self):
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        runs = "" if self._name == "float32" else " (runs float32)"
        return f'<DTypePolicy "{self._name}"{runs}>'


# Keras 3's quantization modes; corenn implements int8 and int4 (layers/quantization.py)
QUANTIZATION_MODES = ("int8", "float8", "int4", "gptq", "awq")
SUPPORTED_QUANTIZATION_MODES = ("int8", "int4")


def _source_name(source_name):
    source_name = str(getattr(source_name, "name", source_name) or "float32")
    if source_name != "float32" and source_name not in _FLOAT32_RUNS:
        raise ValueError(f"QuantizedDTypePolicy: source policy {source_name!r} is not supported "
                         "(corenn layers compute in float32)")
    return source_name


class QuantizedDTypePolicy(DTypePolicy):
    """The policy of a layer that ``quantize("int8")`` converted (Keras 3's class): name
    ``"int8_from_float32"``, ``quantization_mode`` "int8"; the layer still computes in float32
    around its int8 product. (int4's is Int4DTypePolicy, below.)"""

    def __init__(self, mode="int8", source_name="float32"):
        if mode != "int8":
            hint = " (int4: Int4DTypePolicy)" if str(mode).startswith("int4") else ""
            raise ValueError(f"QuantizedDTypePolicy: quantization mode {mode!r} is not supported{hint}; corenn "
                             f"supports {', '.join(map(repr, SUPPORTED_QUANTIZATION_MODES))}")
        self._mode, self._source = mode, _source_name(source_name)
        self._name = f"{mode}_from_{self._source}"

    @property
    def quantization_mode(self):
        return self._mode

    def get_config(self):
        return {"mode": self._mode, "source_name": self._source}

    def __repr__(self):
        return f'<{type(self).__name__} "{self._name}">'


class Int4DTypePolicy(QuantizedDTypePolicy):
    """Keras 3's policy of an int4-quantized layer: mode ``"int4/<block_size>"`` (-1: one scale
    per output channel, symmetric; a positive block size: groups of that many input rows, each
    with a scale and a zero point per output channel), name ``"int4/128_from_float32"``;
    ``quantization_mode`` is "int4" and ``block_size`` the number (-1 per channel)."""

    def __init__(self, mode="int4/128", source_name="float32"):
        mode = "int4/-1" if mode == "int4" else str(mode)   # Keras' "int4_from_float32": per channel
        base, _, size = mode.partition("/")
        try:
            block = int(size) if size else -1
        except ValueError:
            block = 0
        if base != "int4" or not (block == -1 or block > 0):
            raise ValueError(f"Int4DTypePolicy: invalid mode {mode!r}; expected 'int4/<block_size>' with "
                             "block_size -1 (per-channel) or a positive integer (sub-channel)")
        self.block_size = block
        self._mode, self._source = f"int4/{block}", _source_name(source_name)
        self._name = f"{self._mode}_from_{self._source}"

    @property
    def quantization_mode(self):
        return "int4"


def quantized_policy(dtype):
    """The QuantizedDTypePolicy ``dtype`` names (a name such as "int8_from_float32" or
    "int4/128_from_float32", Keras' serialized dict, or the policy), else None."""
    if isinstance(dtype, QuantizedDTypePolicy):
        return dtype
    if isinstance(dtype, dict) and dtype.get("class_name") in ("QuantizedDTypePolicy", "Int4DTypePolicy"):
        cls = Int4DTypePolicy if dtype["class_name"] == "Int4DTypePolicy" else QuantizedDTypePolicy
        return cls(**(dtype.get("config") or {}))
    if isinstance(dtype, str) and dtype.startswith(tuple(m + "_from_" for m in QUANTIZATION_MODES) + ("int4/",)):
        mode, _, source = dtype.partition("_from_")
        cls = Int4DTypePolicy if mode.startswith("int4") else QuantizedDTypePolicy
        return cls(mode, source or "float32")
    return None


Policy = DTypePolicy   # tf.keras.mixed_precision.Policy
_GLOBAL = [None]


# keras.config.floatx(): the default float type, the global policy's name until a policy is set
_FLOATX = ["float32"]


def global_policy():
    """The policy new layers get: the one ``set_global_policy`` set, else floatx's (float32
    unless ``keras.config.set_floatx`` changed it), as Keras 3."""
    if _GLOBAL[0] is None:   # (not cached: set_floatx may change it later)
        return _FLOATX_POLICIES.setdefault(_FLOATX[0], DTypePolicy(_FLOATX[0]))
    return _GLOBAL[0]


_FLOATX_POLICIES: dict = {}


def set_global_policy(policy):
    """Set the policy new layers get: a DTypePolicy or its name (None: back to float32)."""
    _GLOBAL[0] = None if policy is None else DTypePolicy(policy)   # None: floatx's again


dtype_policy = global_policy        # keras.config.dtype_policy()
set_dtype_policy = set_global_policy


def layer_policy(dtype, who):
    """The policy of a layer made with ``dtype=`` (None: the global one); raises TypeError naming
    the layer for a dtype it cannot run."""
    if dtype is None:
        return global_policy()
    if isinstance(dtype, DTypePolicy):
        return dtype
    quantized = quantized_policy(dtype)   # "int8_from_float32", Keras' serialized policy (a saved
    if quantized is not None:             # quantized user layer's config): the layer builds int8
        return quantized
    name = str(getattr(dtype, "name", None) or np.dtype(dtype).name if not isinstance(dtype, str) else dtype)
    if name == "double":
        name = "float64"
    if name not in ("float32", "float64") and name not in _FLOAT32_RUNS:
        raise TypeError(f"{who}: dtype={dtype!r} is not supported: corenn layers compute in float32 or float64")
    return DTypePolicy(name)


class LossScaleOptimizer:
    """Dynamic loss scaling around ``inner_optimizer`` (Keras 3's class). Everything it does not
    define (learning_rate, iterations, variables, get_config of the inner one ...) is the inner
    optimizer's."""

    def __init__(self, inner_optimizer, initial_scale=2.0 ** 15, dynamic_growth_steps=2000, name=None, **kwargs):
        from . import optimizers
        if isinstance(inner_optimizer, str):
            inner_optimizer = optimizers.get(inner_optimizer)
        if isinstance(inner_optimizer, LossScaleOptimizer):
            raise ValueError("LossScaleOptimizer: the inner optimizer is already a LossScaleOptimizer")
        if float(initial_scale) <= 0 or int(dynamic_growth_steps) < 1:
            raise ValueError(f"LossScaleOptimizer: initial_scale must be > 0 and dynamic_growth_steps >= 1, "
                             f"got {initial_scale!r} and {dynamic_growth_steps!r}")
        d = self.__dict__
        d["inner_optimizer"] = inner_optimizer
        d["initial_scale"] = float(initial_scale)
        d["dynamic_growth_steps"] = int(dynamic_growth_steps)
        d["_scale"] = float(initial_scale)
        d["_good_steps"] = 0
        d["_unscaled"] = {}   # id -> weakref of each gradient get_unscaled_gradients returned
        d["name"] = name or f"loss_scale_{getattr(inner_optimizer, 'name', 'optimizer')}"
        d["_scales_loss"] = True   # fit hands unscaled gradients to apply_unscaled (models/model.py)

    def __getattr__(self, name):
        return getattr(self.__dict__["inner_optimizer"], name)

    def __setattr__(self, name, value):
        if name in self.__dict__:
            self.__dict__[name] = value
        else:
            setattr(self.inner_optimizer, name, value)

    # -- the scale ---------------------------------------------------------------------------------

    @property
    def dynamic_scale(self):
        return self._scale

    loss_scale = dynamic_scale

    def scale_loss(self, loss):
        """``loss * scale`` (Keras 3): differentiate this, then ``apply_gradients`` unscales."""
        from . import ops
        return ops.multiply(loss, np.float32(self._scale))

    get_scaled_loss = scale_loss   # TF-Keras 2's name

    def get_unscaled_gradients(self, grads):
        """TF-Keras 2: the gradients of a scaled loss divided by the scale (None stays None);
        ``apply_gradients`` then applies them without unscaling again."""
        out = [None if g is None else self._divide(g) for g in grads]
        for g in out:
            if g is not None:
                self._unscaled[id(g)] = weakref.ref(g)
        return out

    def _divide(self, g):
        from . import kernels
        a = np.asarray(g)
        if a.dtype == np.float64:   # a float64 variable's gradient stays float64 (its optimizer steps in float64)
            return kernels.Tensor.from_numpy(np.asarray(a / self._scale, order="C"))
        return kernels.Tensor.from_numpy(np.asarray(np.asarray(g, np.float32) / np.float32(self._scale), order="C"))

    # -- steps -------------------------------------------------------------------------------------

    def apply_gradients(self, grads_and_vars):
        pairs = list(grads_and_vars)
        return self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def apply(self, grads, trainable_variables=None):
        """Unscale the gradients of a scaled loss (those from get_unscaled_gradients are already),
        then step the inner optimizer if they are all finite; otherwise skip the step and halve
        the scale. After ``dynamic_growth_steps`` finite steps in a row the scale doubles."""
        grads = [g if g is None or self._was_unscaled(g) else self._divide(g) for g in grads]
        self._unscaled.clear()
        return self.apply_unscaled(grads, trainable_variables)

    def _was_unscaled(self, g):
        ref = self._unscaled.get(id(g))
        return ref is not None and ref() is g

    def apply_unscaled(self, grads, trainable_variables=None):
        """The step for gradients that are already unscaled (``fit`` computes them from the
        unscaled loss)."""
        finite = all(g is None or bool(np.isfinite(np.asarray(g)).all()) for g in grads)
        if not finite:
            self.__dict__["_scale"] = self._scale / 2.0
            self.__dict__["_good_steps"] = 0
            return self.inner_optimizer.iterations
        out = self.inner_optimizer.apply(grads, trainable_variables)
        self.__dict__["_good_steps"] = self._good_steps + 1
        if self._good_steps >= self.dynamic_growth_steps:
            self.__dict__["_scale"] = self._scale * 2.0
            self.__dict__["_good_steps"] = 0
        return out

    def get_config(self):
        from . import optimizers
        return {"name": self.name, "inner_optimizer": optimizers.serialize(self.inner_optimizer),
                "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps}

    def __repr__(self):
        return f"<LossScaleOptimizer scale={self._scale:g} inner={self.inner_optimizer!r}>"
