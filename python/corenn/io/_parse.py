"""``tf.io.parse_single_example`` / ``parse_example``: serialized ``tf.train.Example`` protos
into arrays by a feature spec, with TensorFlow's rules:

- ``FixedLenFeature(shape, dtype, default_value)``: exactly prod(shape) values, reshaped; a missing
  feature takes ``default_value`` or is an error when there is none.
- ``VarLenFeature(dtype)``: any number of values, as a ``tf.SparseTensor`` (indices (n, 1) for one
  example, (n, 2) [example, position] for a batch).
- ``FixedLenSequenceFeature(shape, dtype, allow_missing=True)``: a multiple of prod(shape) values,
  (n,) + shape; a batch is padded with ``default_value`` (0) to its longest example.

dtype is tf.float32 (float_list), tf.int64 (int64_list) or tf.string (bytes_list); a feature
stored in another list is an error naming it. Numbers come back as corenn Tensors (float32,
int64), strings as object arrays of bytes (a 0-d one as a bytes scalar).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import dtypes, kernels
from ..sparse import SparseTensor
from ._bytes import as_bytes, wrap_bytes
from ._example import Example, Features, SequenceExample

FixedLenFeature = namedtuple("FixedLenFeature", ["shape", "dtype", "default_value"])
FixedLenFeature.__new__.__defaults__ = (None,)
VarLenFeature = namedtuple("VarLenFeature", ["dtype"])
FixedLenSequenceFeature = namedtuple("FixedLenSequenceFeature", ["shape", "dtype", "allow_missing", "default_value"])
FixedLenSequenceFeature.__new__.__defaults__ = (False, None)

_LISTS = {"float32": ("float_list", np.float32), "int64": ("int64_list", np.int64), "string": ("bytes_list", object)}


def _kind(spec, key):
    name = "string" if dtypes.is_string_dtype(spec.dtype) else np.dtype(str(spec.dtype)).name
    if name not in _LISTS:
        raise ValueError(f"tf.io.parse_example: feature {key!r}: dtype must be tf.float32, tf.int64 or tf.string, "
                         f"got {spec.dtype}")
    return name


def _values(example, key, kind):
    """The stored values of ``key`` as an array, or None when the example lacks it."""
    feature = example.features.feature.get(key)
    if feature is None or feature.WhichOneof("kind") is None:
        return None
    list_name, np_dtype = _LISTS[kind]
    if feature.WhichOneof("kind") != list_name:
        raise ValueError(f"tf.io.parse_example: feature {key!r} holds a {feature.WhichOneof('kind')}, "
                         f"the spec asks for {kind} ({list_name})")
    values = getattr(feature, list_name).value
    if np_dtype is object:
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    return np.asarray(values, np_dtype)


def _default(spec, key, kind, shape):
    if spec.default_value is None:
        raise ValueError(f"tf.io.parse_example: feature {key!r} is missing and its FixedLenFeature has no default_value")
    d = np.asarray(spec.default_value, dtype=object if kind == "string" else _LISTS[kind][1])
    if kind == "string":
        d = np.vectorize(lambda v: v.encode("utf-8") if isinstance(v, str) else v, otypes=[object])(d) if d.size else d
    return np.broadcast_to(d.reshape(shape) if d.size == int(np.prod(shape)) else d, shape).copy()


def _shape(spec):
    return tuple(int(d) for d in (spec.shape if spec.shape is not None else ()))


def _out(a):
    if a.dtype == object:
        return wrap_bytes(a[()]) if a.ndim == 0 else a
    return kernels.as_tensor(np.require(a, requirements="C"))


def _parse_one(example, features):
    out = {}
    for key, spec in features.items():
        kind = _kind(spec, key)
        vals = _values(example, key, kind)
        if isinstance(spec, VarLenFeature):
            vals = np.empty(0, dtype=_LISTS[kind][1]) if vals is None else vals
            out[key] = ("var", vals)
        elif isinstance(spec, FixedLenSequenceFeature):
            shape = _shape(spec)
            if vals is None:
                if not spec.allow_missing:
                    raise ValueError(f"tf.io.parse_example: feature {key!r} is missing (FixedLenSequenceFeature "
                                     "needs allow_missing=True to allow that)")
                vals = np.empty(0, dtype=_LISTS[kind][1])
            size = int(np.prod(shape))
            if size == 0 or len(vals) % size:
                raise ValueError(f"tf.io.parse_example: feature {key!r} has {len(vals)} values, not a multiple of "
                                 f"the shape {shape}")
            out[key] = ("seq", vals.reshape((-1,) + shape))
        elif isinstance(spec, FixedLenFeature):
            shape = _shape(spec)
            if vals is None:
                out[key] = ("fixed", _default(spec, key, kind, shape))
            elif len(vals) != int(np.prod(shape)):
                raise ValueError(f"tf.io.parse_example: feature {key!r} has {len(vals)} values; its FixedLenFeature "
                                 f"shape {shape} needs {int(np.prod(shape))}")
            else:
                out[key] = ("fixed", vals.reshape(shape))
        else:
            raise TypeError(f"tf.io.parse_example: feature {key!r}: expected FixedLenFeature, VarLenFeature or "
                            f"FixedLenSequenceFeature, got {type(spec).__name__}")
    return out


def _example(serialized):
    return Example.FromString(as_bytes(serialized, "parse_example"))


def parse_single_example(serialized, features, name=None, example_names=None):
    """A dict of the features of one serialized Example, by the spec ``features``."""
    return parse_single_example_from(_example(serialized), features)


def parse_example(serialized, features, name=None, example_names=None):
    """A dict of the features of a batch (1-D array / list) of serialized Examples."""
    batch = np.asarray(serialized, dtype=object).reshape(-1)
    rows = [_parse_one(_example(s), features) for s in batch]
    out = {}
    for key, spec in features.items():
        parts = [r[key][1] for r in rows]
        kind = _kind(spec, key)
        dtype = _LISTS[kind][1]
        if isinstance(spec, VarLenFeature):
            idx = [(i, j) for i, p in enumerate(parts) for j in range(len(p))]
            vals = np.concatenate(parts) if parts else np.empty(0, dtype)
            out[key] = SparseTensor(np.asarray(idx, np.int64).reshape(-1, 2), vals.astype(dtype),
                                    [len(parts), max((len(p) for p in parts), default=0)])
        elif isinstance(spec, FixedLenSequenceFeature):
            shape = _shape(spec)
            longest = max((len(p) for p in parts), default=0)
            fill = 0 if spec.default_value is None else spec.default_value
            a = np.empty((len(parts), longest) + shape, dtype)
            a[...] = fill if kind != "string" else (fill if isinstance(fill, bytes) else str(fill or "").encode())
            for i, p in enumerate(parts):
                a[i, :len(p)] = p
            out[key] = _out(a)
        else:
            a = np.stack(parts) if parts else np.empty((0,) + _shape(spec), dtype)
            out[key] = _out(a.astype(dtype))
    return out


def parse_single_sequence_example(serialized, context_features=None, sequence_features=None,
                                  example_name=None, name=None):
    """(context, sequences) of one serialized ``tf.train.SequenceExample``: the context by the
    ``parse_single_example`` rules; each sequence feature is one Feature per step, a
    ``FixedLenSequenceFeature`` giving (steps,) + shape and a ``VarLenFeature`` a SparseTensor
    with indices [step, position]."""
    seq = SequenceExample.FromString(as_bytes(serialized, "parse_single_sequence_example"))
    context = parse_single_example_from(Example(seq.context), context_features or {})
    out = {}
    for key, spec in (sequence_features or {}).items():
        kind = _kind(spec, key)
        fl = seq.feature_lists.feature_list.get(key)
        steps = [] if fl is None else [_values(Example(Features({key: f})), key, kind) for f in fl.feature]
        steps = [np.empty(0, _LISTS[kind][1]) if v is None else v for v in steps]
        if isinstance(spec, VarLenFeature):
            idx = [(t, j) for t, v in enumerate(steps) for j in range(len(v))]
            vals = np.concatenate(steps) if steps else np.empty(0, _LISTS[kind][1])
            out[key] = SparseTensor(np.asarray(idx, np.int64).reshape(-1, 2), vals,
                                    [len(steps), max((len(v) for v in steps), default=0)])
        elif isinstance(spec, FixedLenSequenceFeature):
            shape = _shape(spec)
            if fl is None and not spec.allow_missing:
                raise ValueError(f"tf.io.parse_single_sequence_example: sequence feature {key!r} is missing "
                                 "(allow_missing=True allows that)")
            size = int(np.prod(shape))
            for t, v in enumerate(steps):
                if len(v) != size:
                    raise ValueError(f"tf.io.parse_single_sequence_example: step {t} of {key!r} has {len(v)} values; "
                                     f"the shape {shape} needs {size}")
            a = np.stack([v.reshape(shape) for v in steps]) if steps else np.empty((0,) + shape, _LISTS[kind][1])
            out[key] = _out(a)
        else:
            raise TypeError(f"tf.io.parse_single_sequence_example: sequence feature {key!r} must be a "
                            f"FixedLenSequenceFeature or VarLenFeature, got {type(spec).__name__}")
    return context, out


def parse_single_example_from(example, features):
    """parse_single_example on an already decoded Example."""
    parsed = _parse_one(example, features)
    return {key: SparseTensor(np.arange(len(a))[:, None], a, [len(a)]) if how == "var" else _out(a)
            for key, (how, a) in parsed.items()}
