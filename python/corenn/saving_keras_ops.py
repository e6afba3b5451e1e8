"""Tensor ops recorded in Keras model files, read as corenn ``OpLayer`` nodes (used by
saving_keras_config.py).

Keras records ``ops.mean(x, axis=1)``, ``x + 1.0`` or ``x[:, 0]`` on KerasTensors as graph nodes,
as corenn does (layers/op_layer.py), in two other spellings:

Keras 3 (``.keras``)
    A layer entry whose ``module`` is ``keras.src.ops.<family>`` and whose ``class_name`` is the
    operation's class (``Mean``, ``ExpandDims``, ``GetItem``); its ``config`` holds the
    operation's options (``axis``, ``keepdims``; ``name``) and its node's ``args`` the call's
    arguments, tensors as ``__keras_tensor__`` references among numbers, ``__slice__`` and
    ``__ellipsis__`` objects. Keras rebuilds it as ``Class(**config)(*args, **kwargs)``.
TF-Keras 2 (``.h5``)
    A ``TFOpLambda`` / ``SlicingOpLambda`` layer whose ``function`` is the name of a TF API
    symbol below ``tf.`` (``math.reduce_mean``, ``__operators__.add``); its node is the first
    argument (a tensor reference, or a list of them) with the other arguments as keywords in
    each reference's fourth element (``{"axis": 1}``; tensors there as ``[layer, node, tensor]``,
    ``getitem``'s ``slice_spec`` as ``{"start", "stop", "step"}`` objects). Keras calls
    ``function(first, **kwargs)``.

Both become ``OpLayer(function=<corenn op name>, args=[...], kwargs={...})`` with the tensors as
``{"__tensor__": i}``. Names resolve only through the tables below (op names, not code: nothing
is imported, looked up by attribute or run), and only to ops whose probe (OpLayer's output shape
run on zeros of the input shapes) allocates no more than its inputs: ops that make arrays of a
size the file chooses (``tile``, ``ones``, ``pad``, ``one_hot``) are refused by name with every
op not in the tables. The arguments must bind to the corenn op's signature, or the option is
refused by name.
"""
from __future__ import annotations

import inspect
import re

import numpy as np

from .saving import _BadConfig

__all__ = ["is_keras3_op", "is_tf_op_layer", "keras3_op_entry", "tf_op_entry"]

# Keras 3 operation classes read, as their keras.ops function names (the class in CamelCase);
# GetItem is indexing
_KERAS3_OPS = frozenset((
    "add subtract multiply divide true_divide floor_divide mod power negative absolute abs square "
    "sqrt rsqrt reciprocal exp log log1p tanh sin cos sign floor ceil round maximum minimum clip "
    "mean sum max min prod std var argmax argmin logsumexp cumsum reshape transpose expand_dims "
    "squeeze concatenate stack flip moveaxis swapaxes matmul dot einsum cast where relu relu6 "
    "sigmoid softmax log_softmax gelu silu swish softplus elu leaky_relu hard_sigmoid erf equal "
    "not_equal greater greater_equal less less_equal logical_and logical_or logical_not").split())
_KERAS3_FAMILIES = ("numpy", "nn", "math", "core", "linalg")

# TF-Keras 2 function names read (below ``tf.``), and the names TF records for operators and
# compat.v1 symbols whose corenn op is the TF 2 one of the same signature
_TF_OPS = frozenset((
    "math.add math.subtract math.multiply math.truediv math.divide math.negative math.pow "
    "math.reduce_mean math.reduce_sum math.reduce_max math.reduce_min math.reduce_prod "
    "math.reduce_std math.reduce_variance math.reduce_logsumexp reduce_mean reduce_sum reduce_max "
    "reduce_min expand_dims squeeze transpose reshape concat stack nn.relu nn.relu6 nn.softmax "
    "nn.log_softmax nn.gelu nn.silu nn.elu nn.leaky_relu nn.sigmoid math.sigmoid math.tanh "
    "math.exp math.log math.sqrt math.rsqrt math.square math.abs math.maximum math.minimum "
    "linalg.matmul matmul cast math.softplus math.l2_normalize nn.l2_normalize clip_by_value "
    "where math.argmax argmax math.cumsum math.equal math.greater math.less math.sign "
    "math.floor math.reciprocal math.floordiv math.floormod einsum").split())
_TF_ALIASES = {"__operators__.add": "tf.math.add", "__operators__.getitem": "tensor.getitem",
               "compat.v1.squeeze": "tf.squeeze", "compat.v1.transpose": "tf.transpose"}


def is_keras3_op(spec):
    """Whether a Keras 3 layer entry is a recorded operation (``keras.src.ops.*``)."""
    module = spec.get("module")
    return isinstance(module, str) and module.startswith("keras.src.ops.")


def is_tf_op_layer(spec):
    return spec.get("class_name") in ("TFOpLambda", "SlicingOpLambda")


def _snake_case(name):
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _op(name, where):
    """corenn's op function named ``name`` (layers/op_layer.py's table of wrapped ops)."""
    from .layers.op_layer import _OPS
    fn = _OPS.get(name)
    if fn is None:
        raise _BadConfig(f"{where}: corenn has no op {name!r}")
    return fn.__dict__.get("__op_function__", fn)


def _check_binds(name, args, kwargs, where):
    fn = _op(name, where)
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as exc:
        raise _BadConfig(f"{where}: corenn's {name} does not take these arguments "
                         f"({', '.join(kwargs) or 'positional only'}): {exc}") from None


class _Tensors:
    """The distinct tensor references of one call, numbered in order of appearance."""

    def __init__(self):
        self.refs, self.keys = [], []

    def index(self, history):
        key = tuple(history)
        if key not in self.keys:
            self.keys.append(key)
            self.refs.append({"class_name": "__keras_tensor__", "config": {"keras_history": list(history)}})
        return {"__tensor__": self.keys.index(key)}

    def node(self, where):
        if not self.refs:
            raise _BadConfig(f"{where}: an op call on no tensor")
        return {"args": [self.refs[0] if len(self.refs) == 1 else self.refs], "kwargs": {}}


def _history(ref, where):
    if not (isinstance(ref, list) and len(ref) == 3 and isinstance(ref[0], str)
            and all(type(v) is int and 0 <= v < 1 << 20 for v in ref[1:])):
        raise _BadConfig(f"{where}: bad tensor reference {str(ref)[:100]!r}")
    return ref


def _int_or_none(value, where):
    if value is None or type(value) is int:
        return value
    raise _BadConfig(f"{where}: slice bound {str(value)[:40]!r} is not an integer")


def _number(value, where):
    if isinstance(value, float) and not np.isfinite(value):
        raise _BadConfig(f"{where}: argument {value!r} is not finite")
    return value


# -- Keras 3 --------------------------------------------------------------------------------

def _keras3_value(value, tensors, where):
    """A Keras 3 serialized call argument as OpLayer's encoded argument."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return _number(value, where)
    if isinstance(value, list):
        return [_keras3_value(v, tensors, where) for v in value]
    if isinstance(value, dict):
        kind, config = value.get("class_name"), value.get("config")
        if kind == "__keras_tensor__" and isinstance(config, dict):
            return tensors.index(_history(config.get("keras_history"), where))
        if kind == "__slice__" and isinstance(config, dict):
            return {"__slice__": [_int_or_none(config.get(k), where) for k in ("start", "stop", "step")]}
        if kind == "__ellipsis__":
            return {"__ellipsis__": True}
        if kind == "__tuple__" and isinstance(config, dict) and isinstance(config.get("value"), list):
            return {"__tuple__": [_keras3_value(v, tensors, where) for v in config["value"]]}
        raise _BadConfig(f"{where}: argument of type {str(kind)[:60]!r} is not read")
    raise _BadConfig(f"{where}: bad argument {str(value)[:80]!r}")


def keras3_op_entry(spec, lname, where):
    """A Keras 3 operation's layer entry as corenn's OpLayer entry (with its inbound node)."""
    cls, config = spec.get("class_name"), spec.get("config")
    family = spec["module"][len("keras.src.ops."):]
    if not isinstance(cls, str) or not isinstance(config, dict):
        raise _BadConfig(f"{where}: bad operation entry")
    op = _snake_case(cls)
    if cls == "GetItem":
        name = "tensor.getitem"
    elif family in _KERAS3_FAMILIES and op in _KERAS3_OPS:
        name = f"ops.{op}"
    else:
        raise _BadConfig(f"{where}: Keras operation {cls!r} ({spec['module'][:60]}) is not one corenn reads")
    nodes = spec.get("inbound_nodes")
    if not isinstance(nodes, list) or len(nodes) != 1 or not isinstance(nodes[0], dict):
        raise _BadConfig(f"{where}: operation {cls!r} must have one call")
    node = nodes[0]
    args, call_kwargs = node.get("args"), node.get("kwargs") or {}
    if not isinstance(args, list) or not isinstance(call_kwargs, dict):
        raise _BadConfig(f"{where}: bad call of operation {cls!r}")
    tensors = _Tensors()
    args = [_keras3_value(a, tensors, where) for a in args]
    if cls == "GetItem" and len(args) == 2 and isinstance(args[1], list):
        args[1] = {"__tuple__": args[1]}   # JSON made Keras' index tuple a list
    kwargs = {k: _keras3_value(v, tensors, where) for k, v in {**config, **call_kwargs}.items() if k != "name"}
    return _entry(name, args, kwargs, tensors, lname, where)


def _entry(name, args, kwargs, tensors, lname, where):
    """The OpLayer entry, once its arguments decode as OpLayer decodes them and bind to the op."""
    from .layers.op_layer import _decoded
    try:
        _check_binds(name, _decoded(args, where), _decoded({"__dict__": kwargs}, where), where)
    except ValueError as exc:
        raise _BadConfig(str(exc)) from None
    return {"class_name": "OpLayer", "name": lname,
            "config": {"name": lname, "trainable": True, "function": name, "args": args, "kwargs": kwargs},
            "inbound_nodes": [tensors.node(where)]}


# -- TF-Keras 2 -----------------------------------------------------------------------------

def _is_ref(value):
    return (isinstance(value, list) and len(value) in (3, 4) and isinstance(value[0], str)
            and all(type(v) is int for v in value[1:3]))


def _tf_value(value, tensors, where):
    """A TF-Keras 2 keyword argument: tensors as [layer, node, tensor] lists (TF-Keras 2's
    convert_inner_node_data reads any such list as one)."""
    if _is_ref(value) and len(value) == 3:
        return tensors.index(_history(value, where))
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return _number(value, where)
    if isinstance(value, list):
        return [_tf_value(v, tensors, where) for v in value]
    raise _BadConfig(f"{where}: argument {str(value)[:80]!r} is not read")


def _slice_spec(value, where):
    """SlicingOpLambda's ``slice_spec``: {"start", "stop", "step"} objects for slices, the
    ellipsis as {"class_name": "__ellipsis__"}, a list for a tuple of them."""
    if isinstance(value, list):
        return {"__tuple__": [_slice_spec(v, where) for v in value]}
    if isinstance(value, dict):
        if value == {"class_name": "__ellipsis__"}:
            return {"__ellipsis__": True}
        if set(value) == {"start", "stop", "step"}:
            return {"__slice__": [_int_or_none(value[k], where) for k in ("start", "stop", "step")]}
    if value is None or type(value) is int:
        return value
    raise _BadConfig(f"{where}: bad slice_spec entry {str(value)[:80]!r}")


def tf_op_entry(spec, lname, where):
    """A TF-Keras 2 TFOpLambda / SlicingOpLambda entry as corenn's OpLayer entry."""
    config = spec.get("config")
    function = config.get("function") if isinstance(config, dict) else None
    if not isinstance(function, str):
        raise _BadConfig(f"{where}: the op layer names no function")
    if function in _TF_ALIASES:
        name = _TF_ALIASES[function]
    elif function in _TF_OPS:
        name = f"tf.{function}"
    else:
        raise _BadConfig(f"{where}: TF function {function[:80]!r} is not one corenn reads")
    nodes = spec.get("inbound_nodes")
    if not isinstance(nodes, list) or len(nodes) != 1:
        raise _BadConfig(f"{where}: op layer {function!r} must have one call")
    node = nodes[0]
    first = [node] if _is_ref(node) else node   # one tensor, or a list of them
    if not isinstance(first, list) or not first or not all(_is_ref(r) for r in first):
        raise _BadConfig(f"{where}: bad call of op layer {function!r}: {str(node)[:100]}")
    kwargs = first[-1][3] if len(first[-1]) == 4 else {}
    if not isinstance(kwargs, dict):
        raise _BadConfig(f"{where}: bad keyword arguments {str(kwargs)[:80]}")
    tensors = _Tensors()
    refs = [tensors.index(_history(r[:3], where)) for r in first]
    args = [refs[0] if _is_ref(node) else refs]
    kwargs = dict(kwargs)
    kwargs.pop("name", None)   # the TF op's name in a graph: no effect on the values
    if name == "tensor.getitem":
        if set(kwargs) != {"slice_spec"}:
            raise _BadConfig(f"{where}: getitem takes a slice_spec only, got {sorted(kwargs)}")
        args.append(_slice_spec(kwargs.pop("slice_spec"), where))
    kwargs = {k: _tf_value(v, tensors, where) for k, v in kwargs.items()}
    return _entry(name, args, kwargs, tensors, lname, where)
