"""Tensor ops on symbolic tensors: ``x = ops.expand_dims(inputs, -1)``, ``x + positions``,
``x[:, 0]`` and ``tf.reduce_mean(x, axis=1)`` while a functional model is being built.

Keras 3 records such a call as a node of the graph, as TF-Keras 2 did (its ``TFOpLambda``
layer). Here every public op of corenn's op namespaces (``keras.ops`` and its families, the
``tf.*`` names, ``tf.math`` / ``tf.nn`` / ``tf.linalg`` / ``tf.image`` / ``tf.signal``) is
wrapped once, when ``import corenn`` finishes (``make_symbolic_aware``). The wrapper looks at the
arguments: with no KerasTensor among them (the common case: one type check per argument) it
calls the op; with one, it makes an ``OpLayer`` that calls the op on real tensors, and calls that
layer on the KerasTensors, which records the node:

    OpLayer(function="ops.expand_dims", args=[{"__tensor__": 0}, -1], kwargs={})

The layer is a layer written with ``call`` (a private tape differentiates the op in ``fit``), its
output shape and dtype come from running the op on a batch of one (and of two, to tell the batch
axis from fixed ones). Its config names the op by its public name and holds the other arguments
as JSON values (numbers, strings, lists, tuples, slices, small NumPy arrays); a model file is
rebuilt by looking the name up among the wrapped ops, never by importing or running anything it
names. An argument that cannot be written so (a Python function) keeps the layer usable in
memory and makes ``get_config`` raise, naming it, as a Lambda does. A layer's weight or a
``tf.Variable`` among the arguments is refused: the op would use its value as a constant and
never train it; a Layer subclass whose ``call`` uses both is the way to write that.
"""
from __future__ import annotations

import functools
import types

import numpy as np

from .. import kernels
from ..strings import is_string_array
from .base import TRACING, Layer, check_traceable

__all__ = ["OpLayer", "make_symbolic_aware", "symbolic_op"]

# public name ("ops.mean", "tf.math.reduce_mean") -> the wrapped op: what a config may name
_OPS: dict = {}
_WRAPPERS: dict = {}   # id(the op's function) -> its wrapper


_KT: list = []   # [KerasTensor], looked up on first use (models imports layers)


def _kt():
    if not _KT:
        from ..models.graph import KerasTensor
        _KT.append(KerasTensor)
    return _KT[0]


def _has_symbolic(values) -> bool:
    kt = _kt()
    for v in values:
        t = type(v)
        if t is kt:
            return True
        if t is list or t is tuple:
            if _has_symbolic(v):
                return True
        elif t is dict and _has_symbolic(v.values()):
            return True
    return False


def _has_variable(args, kwargs) -> bool:
    from ..autodiff import is_variable
    return any(isinstance(v, kernels.Tensor) and is_variable(v) for v in list(args) + list(kwargs.values()))


# names that keep their own meaning on a KerasTensor (a type test, tf.function, printing ...)
_NOT_OPS = frozenset(("is_tensor", "function", "convert_to_numpy", "get_static_value", "executing_eagerly",
                      "name_scope", "device", "init_scope", "control_dependencies", "print", "py_function",
                      "numpy_function", "set_num_threads", "get_num_threads", "show_config", "is_keras_tensor",
                      "Input", "custom_gradient", "recompute_grad", "no_gradient", "as_dtype"))


def make_symbolic_aware(namespace, prefix):
    """Wrap every public function of ``namespace`` (a module) that corenn defines, in place, so
    that a call on KerasTensors records an OpLayer node (see the module docstring); ``prefix``
    is how configs name the namespace ("ops", "tf.math", ...)."""
    for name in [n for n in vars(namespace) if not n.startswith("_")]:
        fn = getattr(namespace, name, None)
        if (not isinstance(fn, types.FunctionType) or not fn.__module__.startswith("corenn")
                or name in _NOT_OPS or name.endswith("_initializer")):
            continue
        original = fn.__dict__.get("__op_function__", fn)
        # one wrapper per op: the names of one op in several namespaces (ops.math.logsumexp,
        # ops.logsumexp; tf.reduce_mean, ops.mean) stay the same object, recorded by its first name
        wrapped = _WRAPPERS.get(id(original))
        if wrapped is None:
            wrapped = _WRAPPERS[id(original)] = _symbolic_aware(original, f"{prefix}.{name}")
        setattr(namespace, name, wrapped)
        _OPS[f"{prefix}.{name}"] = wrapped


def _symbolic_aware(fn, public_name):
    if public_name in ("ops.shape", "ops.numpy.shape", "ops.core.shape"):
        @functools.wraps(fn)
        def shape(x):   # Keras 3: a KerasTensor's shape is a tuple, None for the batch
            if type(x) is _kt():
                return tuple(x.shape)
            return fn(x)
        shape.__op_function__ = fn
        return shape

    from ..ops import complex_partwise
    eager = complex_partwise(fn, public_name.rsplit(".", 1)[-1])   # tf.expand_dims(complex) part by part

    @functools.wraps(fn)
    def op(*args, **kwargs):
        if _has_symbolic(args) or (kwargs and _has_symbolic(kwargs.values())):
            return _record(public_name, fn, args, kwargs)
        if TRACING.depth and _has_variable(args, kwargs):
            check_traceable(f"{public_name} on a weight")
        return eager(*args, **kwargs)
    op.__op_function__ = fn
    return op


def getitem(x, key):
    """``x[key]``: Python's indexing of a KerasTensor, recorded like an op."""
    return x[key]


_OPS["tensor.getitem"] = getitem


def symbolic_op(public_name, *args, **kwargs):
    """The node of the op ``public_name`` on arguments holding KerasTensors (the KerasTensor
    operators' way in)."""
    fn = _OPS[public_name]
    return _record(public_name, fn.__dict__.get("__op_function__", fn), args, kwargs)


def _record(public_name, fn, args, kwargs):
    """The node of ``fn(*args, **kwargs)`` for arguments holding KerasTensors."""
    tensors = []
    template = _template((list(args), kwargs), tensors, public_name)
    layer = OpLayer(public_name, template[0], template[1], _function=fn)
    return layer(tensors if len(tensors) > 1 else tensors[0])


def _template(value, tensors, where):
    """``value`` with each KerasTensor replaced by {"__tensor__": its index in ``tensors``}."""
    if type(value) is _kt():
        for i, t in enumerate(tensors):
            if t is value:
                return {"__tensor__": i}
        tensors.append(value)
        return {"__tensor__": len(tensors) - 1}
    if isinstance(value, list):
        return [_template(v, tensors, where) for v in value]
    if isinstance(value, tuple):
        return tuple(_template(v, tensors, where) for v in value)
    if isinstance(value, dict):
        return {k: _template(v, tensors, where) for k, v in value.items()}
    if isinstance(value, kernels.Tensor):
        from ..autodiff import is_variable
        if is_variable(value):
            raise TypeError(f"{where}: a layer's weight (or a tf.Variable) and a KerasTensor in one op is not "
                            "supported in a functional model: the weight would be a constant there and "
                            "never train. Write a Layer subclass whose call() uses both")
        return np.array(value, copy=True)   # a constant tensor: its value now
    return value


def _filled(template, xs):
    if isinstance(template, dict):
        if "__tensor__" in template and len(template) == 1:
            return xs[template["__tensor__"]]
        return {k: _filled(v, xs) for k, v in template.items()}
    if isinstance(template, list):
        return [_filled(v, xs) for v in template]
    if isinstance(template, tuple):
        return tuple(_filled(v, xs) for v in template)
    return template


# -- config: the arguments as JSON values --------------------------------------------------------

_MAX_ARRAY = 1 << 16   # elements of a NumPy argument written into the config


def _encoded(value, where):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return {"__float__": repr(float(value))}
        return float(value)
    if isinstance(value, dict):
        if "__tensor__" in value and len(value) == 1:
            return {"__tensor__": int(value["__tensor__"])}
        if not all(isinstance(k, str) for k in value):
            raise NotImplementedError(f"{where}: a dict argument with keys that are not strings cannot be saved")
        return {"__dict__": {k: _encoded(v, where) for k, v in value.items()}}
    if isinstance(value, list):
        return [_encoded(v, where) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [_encoded(v, where) for v in value]}
    if isinstance(value, slice):
        return {"__slice__": [_encoded(v, where) for v in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"__ellipsis__": True}
    if isinstance(value, np.ndarray):
        if value.size > _MAX_ARRAY or value.dtype.kind not in "biuf":
            raise NotImplementedError(f"{where}: a NumPy argument of shape {value.shape} and dtype {value.dtype} "
                                      f"is not saved in a model config (at most {_MAX_ARRAY} numbers); "
                                      "make it a layer's weight")
        return {"__array__": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, np.dtype) or type(value).__name__ in ("DType", "DTypeName"):
        return str(getattr(value, "name", value))
    raise NotImplementedError(f"{where}: the argument {value!r} ({type(value).__name__}) cannot be written into "
                              "a model file (corenn saves no Python code); write the computation as a Layer "
                              "subclass registered with corenn.saving.register_keras_serializable()")


def _decoded(value, where):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decoded(v, where) for v in value]
    if isinstance(value, dict) and len(value) >= 1:
        if set(value) == {"__tensor__"} and isinstance(value["__tensor__"], int):
            return {"__tensor__": value["__tensor__"]}
        if set(value) == {"__float__"} and value["__float__"] in ("inf", "-inf", "nan"):
            return float(value["__float__"])
        if set(value) == {"__dict__"} and isinstance(value["__dict__"], dict):
            return {str(k): _decoded(v, where) for k, v in value["__dict__"].items()}
        if set(value) == {"__tuple__"} and isinstance(value["__tuple__"], list):
            return tuple(_decoded(v, where) for v in value["__tuple__"])
        if set(value) == {"__slice__"} and isinstance(value["__slice__"], list) and len(value["__slice__"]) == 3:
            parts = [_decoded(v, where) for v in value["__slice__"]]
            if all(p is None or isinstance(p, int) for p in parts):
                return slice(*parts)
        if set(value) == {"__ellipsis__"}:
            return Ellipsis
        if set(value) == {"__array__", "dtype", "shape"} and value["dtype"] in _ARRAY_DTYPES:
            shape = value["shape"]
            if (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)
                    and int(np.prod(shape)) <= _MAX_ARRAY):
                a = np.asarray(value["__array__"], dtype=value["dtype"])
                if a.shape == tuple(shape):
                    return a
    raise ValueError(f"{where}: bad argument in the config: {str(value)[:100]!r}")


_ARRAY_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64")


class OpLayer(Layer):
    """One call of a tensor op in a graph being built (see the module docstring)."""

    def __init__(self, function, args=(), kwargs=None, _function=None, **layer_kwargs):
        if "name" not in layer_kwargs:
            from .base import unique_name
            layer_kwargs["name"] = unique_name(function.rsplit(".", 1)[-1])
        super().__init__(**layer_kwargs)
        fn = _function if _function is not None else _OPS.get(function)
        if fn is None:
            raise ValueError(f"OpLayer '{self.name}': unknown op {function!r} (a config may name only corenn's "
                             "public ops, such as 'ops.mean' or 'tf.math.reduce_sum')")
        self.function = function
        self._fn = fn.__dict__.get("__op_function__", fn)
        self._args, self._kwargs = list(args), dict(kwargs or {})

    def call(self, inputs):
        xs = inputs if isinstance(inputs, list) else [inputs]
        return self._fn(*_filled(self._args, xs), **_filled(self._kwargs, xs))

    # -- shapes ----------------------------------------------------------------------------

    def compute_output_shape(self, input_shape):
        """Run the op on zeros for a batch of one and of two (unknown axes 1 and 2): the output
        axes that change are unknown (None), the others fixed; the dtype is the op's."""
        from ..autodiff import stop_recording
        from .. import ops
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        sources = self.__dict__.get("_probe_sources") or [None] * len(shapes)

        def probe(sizes):
            runs, kept = [], {}
            for size in sizes:
                xs = [_probe_input(src, s, size) for src, s in zip(sources, shapes)]
                ops.SHAPE_PROBE.depth += 1
                try:
                    with stop_recording():
                        out = self.call(xs if len(xs) > 1 else xs[0])
                finally:
                    ops.SHAPE_PROBE.depth -= 1
                outs = list(out) if isinstance(out, (list, tuple)) else [out]
                # small results (a shape, a batch size) are what the next op's probe runs on:
                # tf.reshape(x, [tf.shape(x)[0], -1]) needs the probe's batch size, not a zero
                kept[size] = [o if isinstance(o, kernels.Tensor) and o.size <= _SMALL else None for o in outs]
                runs.append(outs)
            self.__dict__["_probe_values"] = kept
            return runs, out

        try:
            runs, out = probe((1, 2))
        except ValueError as first:
            # an unknown axis that is a multiple of a group size (ops.reshape(x, (-1, k, d)) of a
            # batch of batch * k rows, as Keras infers it symbolically): probe with multiples
            for k in _PROBE_MULTIPLES:
                try:
                    runs, out = probe((k, 2 * k))
                    break
                except ValueError:
                    continue
            else:
                raise first
        self.__dict__["_probe_multi"] = isinstance(out, (list, tuple))
        results = []
        for a, b in zip(*runs):
            sa, sb = tuple(np.shape(a)), tuple(np.shape(b))
            results.append(tuple(d if d == e else None for d, e in zip(sa, sb)) if len(sa) == len(sb) else sa)
        dtypes = ["string" if is_string_array(o) else str(getattr(o, "dtype", "float32")) for o in runs[0]]
        self.output_dtype = dtypes[0]
        # each output's own (ops.top_k(x, k): float32 values, int32 indices); the graph reads it
        self.__dict__["_output_dtypes"] = dtypes
        return results if self.__dict__["_probe_multi"] else results[0]

    def __call__(self, inputs, *args, **kwargs):
        from ..models.graph import is_symbolic
        if not is_symbolic(inputs):
            return super().__call__(inputs, *args, **kwargs)
        self.__dict__["_probe_sources"] = inputs if isinstance(inputs, list) else [inputs]
        try:
            return super().__call__(inputs, *args, **kwargs)
        finally:
            del self.__dict__["_probe_sources"]

    # -- config ----------------------------------------------------------------------------

    def get_config(self):
        where = f"OpLayer '{self.name}' ({self.function})"
        config = super().get_config()
        config.update(function=self.function, args=_encoded(self._args, where),
                      kwargs=_encoded(self._kwargs, where)["__dict__"])
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        where = f"OpLayer '{config.get('name')}'"
        function = config.pop("function", None)
        if not isinstance(function, str) or function not in _OPS:
            raise ValueError(f"{where}: unknown op {function!r} (a config may name only corenn's public ops)")
        args = _decoded(config.pop("args", []), where)
        kwargs = _decoded({"__dict__": config.pop("kwargs", {})}, where)
        if not isinstance(args, list):
            raise ValueError(f"{where}: args must be a list")
        return cls(function, args, kwargs, **config)


_SMALL = 64   # elements of a probe result kept for the ops that read it
_MAX_PROBE = 1 << 26   # elements of one probe input (256 MB of float32): what a build may allocate


# the unknown-axis sizes a failed (1, 2) probe is retried with (k and 2k)
_PROBE_MULTIPLES = (3, 4, 5, 6, 7, 8, 9, 10, 12, 16)


def _probe_input(source, shape, size):
    """What an op's probe runs on for input ``source`` (a KerasTensor): the probe result of the
    op that made it when that is small (a shape, a batch size), else zeros of its shape with
    ``size`` for the unknown axes, in its dtype."""
    layer = source.node.layer if source is not None and source.node is not None else None
    if isinstance(layer, OpLayer):
        kept = layer.__dict__.get("_probe_values", {}).get(size)
        if kept is not None and kept[source.index] is not None:
            return kept[source.index]
    dtype = str(source.dtype) if source is not None else "float32"
    dims = tuple(size if d is None else d for d in shape)
    if int(np.prod(dims, dtype=np.float64)) > _MAX_PROBE:   # a model file's shapes: checked first
        raise ValueError(f"op on a tensor of shape {tuple(shape)}: more than {_MAX_PROBE} elements")
    if dtype == "string":   # a string column (an Input(dtype="string")) probes as empty strings
        return np.full(dims, "", dtype=object)
    np_dtype = (np.int64 if dtype == "int64" else np.int32) if dtype.startswith(("int", "uint")) else np.float32
    return kernels.Tensor.from_numpy(np.zeros(dims, np_dtype))
