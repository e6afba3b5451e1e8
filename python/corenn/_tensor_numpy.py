"""NumPy interoperation of corenn.Tensor, so code written for Keras tensors (and NumPy arrays)
runs on the Tensors that layers and models return.

- NumPy ufuncs on Tensors: the ones corenn.ops has (``np.exp(t)``, ``ndarray * t``,
  ``np.maximum(t, 0)``, ...) run as those ops, so they return Tensors and the GradientTape sees
  them; any other ufunc (or a call with ``out=``) runs in NumPy on the Tensors' data and returns
  what NumPy returns.
- NumPy-style methods, as PyTorch and NumPy users write them: ``t.sum()``, ``t.mean(axis=0)``,
  ``t.max()``, ``t.std()``, ``t.argmax(-1)``, ``t.reshape(-1, 3)``, ``t.astype('float64')``,
  ``t.any()``, ``t.all()``, ``t.tolist()``, ``t.T``, ``t.flatten()``. Reductions and reshapes
  are corenn.ops (differentiable); the rest read the data through NumPy.
- Keras variable methods, since a layer's weights are Tensors: ``w.assign(v)``,
  ``w.assign_add(v)``, ``w.assign_sub(v)`` write into the Tensor's own storage (so every holder of
  the weight sees the new value; a read-only Tensor refuses) and ``w.value`` is the Tensor itself.
  Writes are not differentiated, as in Keras.
"""
import threading

import numpy as np

from . import ops
from .kernels import Tensor, TensorShape

# ufunc -> corenn.ops function (called as fn(*inputs)); these record on a GradientTape
_UFUNC_OPS = {
    np.add: ops.add, np.subtract: ops.subtract, np.multiply: ops.multiply,
    np.true_divide: ops.divide, np.power: ops.power, np.maximum: ops.maximum,
    np.minimum: ops.minimum, np.negative: ops.negative, np.exp: ops.exp, np.log: ops.log,
    np.sqrt: ops.sqrt, np.square: ops.square, np.absolute: ops.abs, np.tanh: ops.tanh,
    np.matmul: ops.matmul, np.sin: ops.sin, np.cos: ops.cos, np.sinh: ops.sinh, np.cosh: ops.cosh,
}


def _plain(x):
    return np.asarray(x) if isinstance(x, Tensor) else x


class _UfuncMode(threading.local):
    strict = False


# op_gradients evaluates an op's NumPy derivative formula on Tensors (so a nested tape records it):
# there a ufunc with no op (which would give a constant array, a silently wrong derivative) raises
_UFUNC_MODE = _UfuncMode()


class ufuncs_as_ops:
    """``with ufuncs_as_ops():`` NumPy ufuncs on Tensors must be ops (recorded); any other raises
    NotImplementedError naming it."""

    def __enter__(self):
        self.was, _UFUNC_MODE.strict = _UFUNC_MODE.strict, True

    def __exit__(self, *exc):
        _UFUNC_MODE.strict = self.was
        return False


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    fn = _UFUNC_OPS.get(ufunc)
    if fn is not None and method == "__call__" and not kwargs:
        return fn(*inputs)
    if _UFUNC_MODE.strict:
        raise NotImplementedError(f"np.{ufunc.__name__}")
    inputs = tuple(_plain(x) for x in inputs)
    if "out" in kwargs:
        kwargs["out"] = tuple(_plain(x) for x in kwargs["out"])
    return getattr(ufunc, method)(*inputs, **kwargs)


def _reduction(op_fn, name):
    def method(self, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        # NumPy's np.sum(t) / np.mean(t) call t.sum(axis=, dtype=, out=, ...) on a non-ndarray
        if dtype is not None or out is not None or kwargs:
            return getattr(np, name)(np.asarray(self), axis=axis, dtype=dtype, out=out,
                                     keepdims=keepdims, **kwargs)
        return op_fn(self, axis=axis, keepdims=keepdims)
    method.__name__ = name
    method.__doc__ = f"corenn.ops.{op_fn.__name__}(self, axis, keepdims) (NumPy's spelling)."
    return method


_SHAPE_TYPES = (list, tuple, TensorShape)


def _reshape(self, *shape, order="C"):
    """t.reshape(2, 3) or t.reshape((2, 3)); -1 takes the rest (a view of the same data)."""
    if order != "C":
        raise ValueError(f"Tensor.reshape: only order='C' is supported, got {order!r}")
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = shape[0]
    if type(shape) in _SHAPE_TYPES:   # the layers' call: plain ints, as they are (or another Tensor's shape)
        for d in shape:
            if type(d) is not int:
                break
        else:
            return _C_RESHAPE(self, shape)
    if isinstance(shape, (list, tuple)) and all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in shape):
        shape = [int(d) for d in shape]   # NumPy integers too
    return _C_RESHAPE(self, shape)        # the C++ entry names what is wrong with anything else


def _arg(name):
    def method(self, axis=None, out=None, keepdims=False):
        """Over one axis a Tensor of indices; over all (``np.argmax(t)``) a NumPy integer, as
        NumPy's argmax gives and as ``np.argmax`` of a TensorFlow tensor does, so it works as a
        key (``index_lookup[np.argmax(predictions[0, i, :])]``)."""
        r = getattr(np, name)(np.asarray(self), axis=axis, out=out, keepdims=keepdims)
        if out is not None:
            return r
        if np.ndim(r) == 0:
            return np.int64(r)
        return Tensor.from_numpy(np.asarray(r, np.int64, order="C"))
    method.__name__ = name
    return method


def _truth(name):
    def method(self, axis=None, out=None, keepdims=False):
        return getattr(np, name)(np.asarray(self), axis=axis, out=out, keepdims=keepdims)
    method.__name__ = name
    return method


_C_RESHAPE = Tensor.reshape


def _assigner(name, combine):
    def method(self, value):
        sliced = self.__dict__.get("_slice_of")
        if sliced is not None:   # v[key].assign(value): TensorFlow writes into the variable's slice
            variable, key = sliced
            whole = np.asarray(variable)
            try:
                part = whole[key]
                whole[key] = np.broadcast_to(combine(part, np.asarray(value)), np.shape(part))
            except (ValueError, TypeError, IndexError) as exc:
                raise type(exc)(f"Variable[{key!r}].{name}: cannot write a value of shape {np.shape(value)} "
                                f"into a slice of shape {np.shape(part) if 'part' in locals() else '?'} ({exc})") from None
            np.asarray(self)[...] = whole[key]
            return variable
        target = np.asarray(self)
        try:
            new = np.asarray(value)
            result = combine(target, new)
            np.copyto(target, np.broadcast_to(result, target.shape), casting="unsafe")
        except (ValueError, TypeError) as exc:
            got = np.shape(value) if not isinstance(value, str) else "a string"
            raise type(exc)(f"Tensor.{name}: cannot write a value of shape {got} into a Tensor of "
                            f"shape {tuple(self.shape)} and dtype {self.dtype} ({exc})") from None
        return self
    method.__name__ = name
    method.__doc__ = f"Keras' ``variable.{name}(value)``: in place, returns the Tensor."
    return method


def _scatter_nd(name, combine):
    def method(self, indices, updates, name=None):
        """TensorFlow's ``variable.{name}(indices, updates)``: index rows (the last axis of
        ``indices`` addresses the leading axes) written in place, in order; returns the variable."""
        target = np.asarray(self)
        idx = np.asarray(indices)
        if idx.dtype.kind not in "iu" or idx.ndim < 1 or idx.shape[-1] > target.ndim:
            raise ValueError(f"Variable.{method.__name__}: indices must be integer rows of at most {target.ndim} "
                             f"entries, got shape {idx.shape}")
        rows = idx.reshape(-1, idx.shape[-1])
        upd = np.broadcast_to(np.asarray(updates, target.dtype), idx.shape[:-1] + target.shape[idx.shape[-1]:])
        upd = upd.reshape((len(rows),) + target.shape[idx.shape[-1]:])
        for r, u in zip(rows, upd):
            if np.any(r < 0) or np.any(r >= target.shape[:len(r)]):
                raise IndexError(f"Variable.{method.__name__}: index {r.tolist()} is outside the shape {target.shape}")
            target[tuple(r)] = combine(target[tuple(r)], u)
        return self
    method.__name__ = name
    return method


def _set_shape(self, shape):
    """TensorFlow's ``t.set_shape(shape)``: states what the shape is (None = any size) and raises
    when the Tensor's shape disagrees. A Tensor's shape is always fully known, so it changes
    nothing."""
    dims = list(shape.as_list() if hasattr(shape, "as_list") else shape) if shape is not None else None
    got = tuple(self.shape)
    if dims is not None and (len(dims) != len(got) or any(d is not None and int(d) != g for d, g in zip(dims, got))):
        raise ValueError(f"Tensor.set_shape: shape {tuple(dims)} is not compatible with the Tensor's shape {got}")


_C_NUMPY = Tensor.numpy


def _numpy(self):
    """``t.numpy()``: a zero-copy view of a Tensor; for a variable (``tf.Variable``, a layer
    weight) a snapshot, as TensorFlow's ``Variable.numpy()``, so a history collected with
    ``weights.append(v.numpy())`` keeps each value after ``assign_sub``. A 0-d Tensor or variable
    gives a NumPy scalar, as TensorFlow's ``numpy()`` does (hashable: the TF Core MLP guide keys a
    dict by ``accuracy.numpy()``)."""
    if self.__dict__.get("_is_variable"):
        a = self._copy_array()   # a snapshot made without exporting a view: the version stays
        return a[()] if a.ndim == 0 else a
    a = _C_NUMPY(self)
    return a[()] if a.ndim == 0 else a


# tf.experimental.numpy.experimental_enable_numpy_behavior() turns this on: then ``t.astype``
# returns a Tensor (a differentiable cast) as TensorFlow's tensors do; otherwise a NumPy array
NUMPY_BEHAVIOR = {"enabled": False}


def _astype(self, dtype, copy=True):
    if NUMPY_BEHAVIOR["enabled"]:
        d = np.dtype(getattr(dtype, "as_numpy_dtype", dtype))
        if d.kind in "biuf":    # float64 is computed as float32 (prefer_float32, corenn's float type)
            return ops.cast(self, "float32" if d.kind == "f" else d.name)
    return np.asarray(self).astype(dtype, copy=True)


class Reference:
    """What ``t.ref()`` returns (TensorFlow's ``Reference``): a hashable handle of one Tensor or
    Variable, equal to another only when both wrap the same object, so it keys a dict or fills a
    set by identity; ``deref()`` gives the object back."""

    __slots__ = ("_wrapped",)

    def __init__(self, wrapped):
        self._wrapped = wrapped

    def deref(self):
        return self._wrapped

    def __eq__(self, other):
        return isinstance(other, Reference) and self._wrapped is other._wrapped

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return id(self._wrapped)

    def __repr__(self):
        return f"<Reference wrapping {self._wrapped!r}>"


def _ref(self):
    """TensorFlow's ``t.ref()``: a hashable Reference to this Tensor (``ref.deref()`` is it)."""
    return Reference(self)


def _install():
    T = Tensor
    T.ref = T.experimental_ref = _ref
    T.numpy = _numpy
    T.set_shape = _set_shape
    T.get_shape = lambda self: tuple(self.shape)   # TensorFlow's name for .shape
    T.__array_ufunc__ = _array_ufunc
    for name, fn in (("sum", ops.sum), ("mean", ops.mean), ("max", ops.max), ("min", ops.min),
                     ("var", ops.var), ("std", ops.std)):
        setattr(T, name, _reduction(fn, name))
    T.argmax, T.argmin = _arg("argmax"), _arg("argmin")
    T.any, T.all = _truth("any"), _truth("all")
    T.reshape = _reshape
    T.astype = _astype
    T.tolist = lambda self: np.asarray(self).tolist()
    T.flatten = lambda self: ops.reshape(self, (-1,))
    T.T = property(lambda self: ops.transpose(self))
    T.__bool__ = _bool
    T.__repr__ = _repr
    T.assign = _assigner("assign", lambda old, new: new)
    T.assign_add = _assigner("assign_add", lambda old, new: old + new)
    T.assign_sub = _assigner("assign_sub", lambda old, new: old - new)
    T.scatter_nd_update = _scatter_nd("scatter_nd_update", lambda old, new: new)
    T.scatter_nd_add = _scatter_nd("scatter_nd_add", lambda old, new: old + new)
    T.scatter_nd_sub = _scatter_nd("scatter_nd_sub", lambda old, new: old - new)
    T.value = property(lambda self: self, doc="Keras' ``variable.value``: the Tensor itself.")
    T.__int__ = lambda self: int(np.asarray(self).item()) if self.size == 1 else _one_element("int")
    T.__index__ = _index


_C_REPR = Tensor.__repr__


def _index(self):
    """A one-element integer Tensor as an index (``names[np.argmax(scores)]``, ``range(t)``),
    as NumPy's integer scalars and TensorFlow's eager tensors are."""
    if not self.dtype.is_integer:
        raise TypeError(f"only an integer Tensor can be an index, got dtype {self.dtype}")
    if self.size != 1:
        raise TypeError(f"only a one-element Tensor can be an index, got shape {tuple(self.shape)}")
    return int(np.asarray(self).item())


def _repr(self):
    """The values too, as TensorFlow prints a tensor: ``Tensor([[1. 2.]], shape=(1, 2),
    dtype=float32)`` (NumPy's summarizing for big ones; the data of a device tensor stays there)."""
    if self.device != "cpu":
        return _C_REPR(self)
    values = np.array2string(np.asarray(self), separator=" ", threshold=60, prefix="Tensor(")
    return f"Tensor({values}, shape={tuple(self.shape)}, dtype={self.dtype})"


def _one_element(what):
    raise TypeError(f"{what}() of a Tensor needs exactly one element")


def _bool(self):
    """``if t:`` / ``assert t > 0.1``: the value of a one-element Tensor; ambiguous otherwise,
    as for NumPy arrays."""
    if self.size != 1:
        raise ValueError(f"the truth value of a Tensor of shape {tuple(self.shape)} is ambiguous; "
                         "use .any() or .all()")
    return bool(np.asarray(self).item())


_install()
