"""``keras.dtype_policies``: Keras 3's dtype-policy module over corenn's mixed_precision
policies (corenn computes in float32: a float16 / bfloat16 policy is accepted and runs float32,
saying so once; see mixed_precision.py). Of Keras' quantized policies corenn has int8's,
``QuantizedDTypePolicy`` ("int8_from_float32", what ``model.quantize("int8")`` gives a layer), and
int4's, ``Int4DTypePolicy`` ("int4/128_from_float32"); the float8, GPTQ and AWQ ones and
DTypePolicyMap are refused by name."""
from __future__ import annotations

from ..mixed_precision import DTypePolicy, Int4DTypePolicy, QuantizedDTypePolicy, global_policy, quantized_policy

__all__ = ["DTypePolicy", "FloatDTypePolicy", "QuantizedDTypePolicy", "Int4DTypePolicy", "get", "serialize", "deserialize"]

_QUANTIZED = ("int8", "int4", "float8", "gptq", "awq")


class FloatDTypePolicy(DTypePolicy):
    """Keras 3's older name of a float DTypePolicy (kept by Keras as a subclass)."""


_CLASSES = {"DTypePolicy": DTypePolicy, "FloatDTypePolicy": FloatDTypePolicy,
            "QuantizedDTypePolicy": QuantizedDTypePolicy, "Int4DTypePolicy": Int4DTypePolicy}


def serialize(dtype_policy):
    """{'module', 'class_name', 'config', 'registered_name'}, as Keras' serialize_keras_object
    writes a policy."""
    if not isinstance(dtype_policy, DTypePolicy):
        raise TypeError(f"dtype_policies.serialize: expected a DTypePolicy, got {dtype_policy!r}")
    module = "keras.dtype_policies" if isinstance(dtype_policy, QuantizedDTypePolicy) else "keras"
    return {"module": module, "class_name": type(dtype_policy).__name__, "config": dtype_policy.get_config(),
            "registered_name": None}


def deserialize(config, custom_objects=None):
    """A policy from ``serialize``'s dict (or a bare {'name': ...} config, or a name)."""
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict):
        raise TypeError(f"dtype_policies.deserialize: expected a dict, got {config!r}")
    if "class_name" not in config:
        return DTypePolicy(**config)
    cls = _CLASSES.get(config["class_name"]) or (custom_objects or {}).get(config["class_name"])
    if cls is None:
        raise ValueError(f"dtype_policies.deserialize: unknown policy class {config['class_name']!r}; corenn has "
                         f"{', '.join(_CLASSES)}")
    return cls.from_config(config.get("config") or {})


def get(identifier):
    """None: the global policy; a DTypePolicy: itself; a dict: deserialize; a name or dtype: a
    DTypePolicy of it."""
    if identifier is None:
        return global_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier.startswith(_QUANTIZED):
            try:
                policy = quantized_policy(identifier)
            except ValueError as exc:
                raise ValueError(f"dtype_policies.get: {identifier!r}: {exc}") from None
            if policy is None:
                raise ValueError(f"dtype_policies.get: {identifier!r} is not a policy name; a quantized "
                                 "policy is named '<mode>_from_<source>' (corenn has 'int8_from_float32', 'int4/<block_size>_from_float32')")
            return policy
        return DTypePolicy(identifier)
    from .backend import standardize_dtype
    try:
        name = standardize_dtype(identifier)
    except ValueError:
        raise ValueError(f"dtype_policies.get: cannot interpret {identifier!r} as a dtype policy; expected a "
                         "name, a dict or a DTypePolicy") from None
    return DTypePolicy(name)
