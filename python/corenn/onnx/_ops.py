"""ONNX for the op nodes of a functional model (layers/op_layer.py): the tensor ops Keras
programs call on symbolic tensors (``x + table``, ``ops.expand_dims``, ``x[:, 0]``,
``tf.reduce_mean``). Each op's arguments are bound to the signature of the corenn op it calls (an
alias such as ``tf.reduce_mean`` is ``ops.mean``), its tensors taken in Keras' layout, its
constants written as initializers. An op outside the table raises, naming the layer and the op.
"""
from __future__ import annotations

import inspect

import numpy as np

from ._builder import Value
from ._convert import unsupported

_INT64_MAX = np.iinfo(np.int64).max


def convert_op_layer(b, layer, xs, node):
    from ..layers.op_layer import _filled
    name = layer._fn.__name__
    build = _TABLE.get(name)
    if build is None:
        raise unsupported(layer, f"the op {layer.function} is not exported (exported ops: "
                                 f"{', '.join(sorted(_TABLE))})")
    values = [Value(b.plain(v), v.shape, dtype=v.dtype) for v in xs]
    try:
        bound = inspect.signature(layer._fn).bind(*_filled(layer._args, values), **_filled(layer._kwargs, values))
    except TypeError as exc:
        raise unsupported(layer, f"its arguments do not fit {layer.function}: {exc}") from None
    bound.apply_defaults()
    args = list(bound.arguments.values())
    out = node.outputs[0]
    y = build(b, layer, args, layer.name)
    return [Value(y, out.shape, dtype="float32" if str(out.dtype).startswith("float") else str(out.dtype))]


def _operand(b, x, base, like=None):
    """An argument as an ONNX tensor name: a Value's, or a constant of a number / array, in the
    dtype of the Value it meets (``like``: ``ids > 0`` compares int64 with int64; ONNX does not
    promote), else float32."""
    if isinstance(x, Value):
        return x.name
    dtype = {"int32": np.int32, "int64": np.int64, "bool": np.bool_}.get(str(getattr(like, "dtype", "")), np.float32)
    return b.const(np.asarray(x, dtype), f"{base}/const", dtype)


def _compare(op_type):
    """A comparison, a bool result (ONNX has Greater, Less, GreaterOrEqual, LessOrEqual and
    Equal; not_equal is Not(Equal))."""
    def build(b, layer, args, base):
        x, y = args[0], args[1]
        like = x if isinstance(x, Value) else y
        return b.op(op_type, [_operand(b, x, base, like), _operand(b, y, base, like)], base)
    return build


def _not_equal(b, layer, args, base):
    return b.op("Not", [_compare("Equal")(b, layer, args, base)], base)


def _as_bool(b, x, base):
    """A logical op's operand as ONNX bool: a bool Value as it is, numbers != 0."""
    if isinstance(x, Value):
        return x.name if str(x.dtype) == "bool" else b.op("Cast", [x.name], base, to=b.TensorProto.BOOL)
    return b.const(np.asarray(x) != 0, f"{base}/const", np.bool_)


def _logical(op_type):
    def build(b, layer, args, base):
        return b.op(op_type, [_as_bool(b, args[0], base), _as_bool(b, args[1], base)], base)
    return build


def _logical_not(b, layer, args, base):
    return b.op("Not", [_as_bool(b, args[0], base)], base)


def _any_all(op_type):
    """any / all over axes: the truth values as 0 / 1, ReduceMax / ReduceMin, back to bool (ONNX
    reductions take no bools before opset 20)."""
    def build(b, layer, args, base):
        x, axis, keepdims = args[0], args[1], bool(args[2])
        ones = b.op("Cast", [_as_bool(b, x, base)], base, to=b.TensorProto.FLOAT)
        reduced = b.reduce(op_type, ones, _axes(axis, x.rank), keepdims, base)
        return b.op("Cast", [reduced], base, to=b.TensorProto.BOOL)
    return build


def _where(b, layer, args, base):
    cond, x, y = args[0], args[1], args[2]
    if x is None or y is None:
        raise unsupported(layer, "ops.where(condition) alone (the indices) is not exported")
    like = x if isinstance(x, Value) else y
    return b.op("Where", [_as_bool(b, cond, base), _operand(b, x, base, like), _operand(b, y, base, like)], base)


def _rank(x):
    return x.rank if isinstance(x, Value) else np.ndim(x)


def _binary(op_type):
    def build(b, layer, args, base):
        return b.op(op_type, [_operand(b, args[0], base), _operand(b, args[1], base)], base)
    return build


def _unary(op_type):
    def build(b, layer, args, base):
        return b.op(op_type, [_operand(b, args[0], base)], base)
    return build


def _square(b, layer, args, base):
    x = _operand(b, args[0], base)
    return b.op("Mul", [x, x], base)


def _axes(axis, rank):
    if axis is None:
        return list(range(rank))
    return [int(a) % rank for a in (axis if isinstance(axis, (list, tuple)) else [axis])]


def _reduce(op_type):
    def build(b, layer, args, base):
        x, axis, keepdims = args[0], args[1], bool(args[2])
        return b.reduce(op_type, x.name, _axes(axis, x.rank), keepdims, base)
    return build


def _softmax(b, layer, args, base):
    x, axis = args[0], args[1]
    if isinstance(axis, (list, tuple)):
        raise unsupported(layer, "softmax over several axes is not exported")
    return b.op("Softmax", [x.name], base, axis=int(axis))


def _transpose(b, layer, args, base):
    x, axes = args[0], args[1]
    perm = list(range(x.rank))[::-1] if axes is None else [int(a) % x.rank for a in axes]
    return b.op("Transpose", [x.name], base, perm=perm)


def _expand_dims(b, layer, args, base):
    x, axis = args[0], args[1]
    out_rank = x.rank + (len(axis) if isinstance(axis, (list, tuple)) else 1)
    return b.unsqueeze(x.name, _axes(axis, out_rank), base)


def _squeeze(b, layer, args, base):
    x, axis = args[0], args[1]
    if axis is None:
        axis = [i for i, d in enumerate(x.shape) if d == 1]
    return b.squeeze(x.name, _axes(axis, x.rank), base)


def _reshape(b, layer, args, base):
    x, shape = args[0], args[1]
    dims = [-1 if d is None else int(d) for d in (shape if isinstance(shape, (list, tuple)) else [shape])]
    return b.op("Reshape", [x.name, b.ints(dims, f"{base}/shape")], base)


def _concatenate(b, layer, args, base):
    xs, axis = args[0], args[1]
    rank = max(_rank(x) for x in xs)
    return b.op("Concat", [_operand(b, x, base) for x in xs], base, axis=int(axis) % rank)


def _clip(b, layer, args, base):
    x, lo, hi = args[0], args[1], args[2]
    return b.op("Clip", [x.name, _operand(b, np.float32(lo), f"{base}/min"),
                         _operand(b, np.float32(hi), f"{base}/max")], base)


def _cast(b, layer, args, base):
    x, dtype = args[0], str(args[1])
    to = {"float32": 1, "float16": 1, "float64": 1, "int32": 6, "int64": 7, "bool": 9}.get(dtype)
    if to is None:
        raise unsupported(layer, f"a cast to {dtype} is not exported")
    return b.op("Cast", [x.name], base, to=to)


def _getitem(b, layer, args, base):
    """x[key] for keys of ints, slices with positive steps, Ellipsis and None: one Slice, then
    the Squeeze of the int axes and the Unsqueeze of the None ones."""
    x, key = args[0], args[1]
    key = list(key) if isinstance(key, tuple) else [key]
    if any(isinstance(k, Value) for k in key):
        raise unsupported(layer, "indexing with a tensor is not exported (use ops.take)")
    if Ellipsis in key:
        at = key.index(Ellipsis)
        fill = x.rank - sum(k is not None for k in key if k is not Ellipsis)
        key = key[:at] + [slice(None)] * fill + key[at + 1:]
    starts, ends, axes, steps, squeezed, added = [], [], [], [], [], []
    axis = 0
    for k in key:
        if k is None:
            added.append(axis + len(added))
            continue
        if isinstance(k, (int, np.integer)):
            k = int(k)
            starts.append(k), ends.append(k + 1 if k != -1 else _INT64_MAX), axes.append(axis), steps.append(1)
            squeezed.append(axis)
        elif isinstance(k, slice):
            step = 1 if k.step is None else int(k.step)
            if step <= 0:
                raise unsupported(layer, "a slice with a negative step is not exported")
            if not (k.start is None and k.stop is None and step == 1):
                starts.append(0 if k.start is None else int(k.start))
                ends.append(_INT64_MAX if k.stop is None else int(k.stop))
                axes.append(axis), steps.append(step)
        else:
            raise unsupported(layer, f"the index {k!r} is not exported")
        axis += 1
    y = x.name
    if axes:
        y = b.slice(y, starts, ends, axes, base, steps=steps)
    if squeezed:
        y = b.squeeze(y, squeezed, base)
    if added:   # positions in the result: the kept axes before each None, plus the Nones before
        kept = 0
        positions, count = [], 0
        for k in key:
            if k is None:
                positions.append(kept + count)
                count += 1
            elif not isinstance(k, (int, np.integer)):
                kept += 1
        y = b.unsqueeze(y, positions, base)
    return y


_TABLE = {
    "add": _binary("Add"), "subtract": _binary("Sub"), "multiply": _binary("Mul"),
    "divide": _binary("Div"), "true_divide": _binary("Div"), "power": _binary("Pow"),
    "maximum": _binary("Max"), "minimum": _binary("Min"), "matmul": _binary("MatMul"),
    "negative": _unary("Neg"), "abs": _unary("Abs"), "absolute": _unary("Abs"), "exp": _unary("Exp"),
    "log": _unary("Log"), "sqrt": _unary("Sqrt"), "tanh": _unary("Tanh"), "sigmoid": _unary("Sigmoid"),
    "relu": _unary("Relu"), "sin": _unary("Sin"), "cos": _unary("Cos"), "reciprocal": _unary("Reciprocal"),
    "sign": _unary("Sign"), "square": _square,
    "sum": _reduce("ReduceSum"), "mean": _reduce("ReduceMean"), "max": _reduce("ReduceMax"),
    "min": _reduce("ReduceMin"),
    "softmax": _softmax, "transpose": _transpose, "expand_dims": _expand_dims, "squeeze": _squeeze,
    "reshape": _reshape, "concatenate": _concatenate, "clip": _clip, "cast": _cast, "getitem": _getitem,
    # the tf.* functions of their own, whose arguments come in the same order
    "reduce_sum": _reduce("ReduceSum"), "reduce_mean": _reduce("ReduceMean"), "reduce_max": _reduce("ReduceMax"),
    "reduce_min": _reduce("ReduceMin"), "concat": _concatenate, "clip_by_value": _clip,
    # truth values (bool tensors, as the ops give them) and the choice between tensors they make
    "greater": _compare("Greater"), "less": _compare("Less"), "greater_equal": _compare("GreaterOrEqual"),
    "less_equal": _compare("LessOrEqual"), "equal": _compare("Equal"), "not_equal": _not_equal,
    "logical_and": _logical("And"), "logical_or": _logical("Or"), "logical_xor": _logical("Xor"),
    "logical_not": _logical_not, "where": _where, "any": _any_all("ReduceMax"), "all": _any_all("ReduceMin"),
    "reduce_any": _any_all("ReduceMax"), "reduce_all": _any_all("ReduceMin"),
}
