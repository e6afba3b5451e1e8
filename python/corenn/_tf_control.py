"""More of TensorFlow 2's top-level names (``import corenn as tf``): trigonometry, indexing and
scatter ops, and the control flow of custom loops (``tf.cond``, ``tf.while_loop``, ``tf.map_fn``,
``tf.scan``, ``tf.TensorArray``), plus the graph-building scopes that are no-ops when running
eagerly (``tf.name_scope``, ``tf.control_dependencies``, ``tf.init_scope``).

corenn runs eagerly, so the control flow is Python control flow over corenn.ops: every op a
branch or loop body runs is recorded on an active GradientTape, and gradients flow through
loops and TensorArrays as TensorFlow 2's do in eager mode. Structures (lists, tuples, dicts,
namedtuples) are flattened and rebuilt with ``tf.nest``; a body that returns a different
structure than its loop variables is an error naming the op.
"""
from __future__ import annotations

import builtins
import contextlib
import threading

import numpy as np

from . import ops
from ._tf_api import _dtype_name, _tensor, nest
from .kernels import Tensor

__all__ = ["acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "cos", "cosh", "sin", "sinh", "tan",
           "eye", "floordiv", "truediv", "realdiv", "logical_xor", "meshgrid", "negative", "repeat",
           "scatter_nd", "slice", "strided_slice", "tensor_scatter_nd_update", "tensor_scatter_nd_add",
           "tensor_scatter_nd_sub", "tensor_scatter_nd_max", "tensor_scatter_nd_min", "tensordot",
           "histogram_fixed_width", "cond", "while_loop", "case", "switch_case", "map_fn", "vectorized_map",
           "foldl", "foldr", "scan", "TensorArray", "name_scope", "control_dependencies", "init_scope",
           "no_gradient", "get_static_value", "recompute_grad", "complex", "zeros_initializer",
           "ones_initializer", "constant_initializer", "random_normal_initializer", "random_uniform_initializer"]


def _unary(name, op):
    def fn(x, name=None):
        return op(x)
    fn.__name__ = fn.__qualname__ = name
    return fn


acos, acosh, asin, asinh = (_unary(n, getattr(ops, o)) for n, o in
                            (("acos", "arccos"), ("acosh", "arccosh"), ("asin", "arcsin"), ("asinh", "arcsinh")))
atan, atanh = _unary("atan", ops.arctan), _unary("atanh", ops.arctanh)
cos, cosh, sin, sinh, tan = (_unary(n, getattr(ops, n)) for n in ("cos", "cosh", "sin", "sinh", "tan"))
negative = _unary("negative", ops.negative)


def atan2(y, x, name=None):
    """The angle of (x, y), TensorFlow's argument order (y first)."""
    return ops.arctan2(y, x)


def floordiv(x, y, name=None):
    return ops.floor_divide(x, y)


def truediv(x, y, name=None):
    return ops.divide(x, y)


realdiv = truediv


def logical_xor(x, y, name=None):
    return ops.logical_xor(x, y)


def eye(num_rows, num_columns=None, batch_shape=None, dtype="float32", name=None):
    """The identity matrix (num_rows, num_columns), repeated over ``batch_shape``."""
    rows = int(num_rows)
    cols = rows if num_columns is None else int(num_columns)
    if rows < 0 or cols < 0:
        raise ValueError(f"tf.eye: num_rows and num_columns must be >= 0, got {rows}, {cols}")
    m = np.eye(rows, cols, dtype=_dtype_name(dtype) or "float32")
    if batch_shape is not None:
        batch = tuple(int(b) for b in np.asarray(batch_shape).reshape(-1))
        m = np.broadcast_to(m, batch + m.shape)
    return _tensor(np.ascontiguousarray(m))


def meshgrid(*args, **kwargs):
    """Coordinate grids of the 1-D inputs; indexing 'xy' (default) or 'ij'."""
    indexing = kwargs.pop("indexing", "xy")
    kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"tf.meshgrid: unexpected arguments {sorted(kwargs)}")
    return ops.meshgrid(*args, indexing=indexing)


def repeat(input, repeats, axis=None, name=None):  # noqa: A002 - TensorFlow's names
    """Each element repeated (flattened first when axis is None, as TensorFlow)."""
    r = np.asarray(repeats)
    return ops.repeat(input, int(r) if r.ndim == 0 else r.astype(np.int64).tolist(), axis=axis)


def tensordot(a, b, axes, name=None):
    return ops.tensordot(a, b, axes=axes)


def scatter_nd(indices, updates, shape, name=None):
    """A zeros tensor of ``shape`` with ``updates`` summed in at ``indices`` (duplicates add);
    differentiable in updates."""
    return ops.scatter(indices, updates, [int(s) for s in np.asarray(shape).reshape(-1)])


def _scatter_parts(op, tensor, indices, updates):
    x = ops._to_tensor(tensor)
    u = ops._to_tensor(updates)
    if u.dtype != x.dtype:
        u = ops.cast(u, x.dtype)
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"tf.{op}: indices must be integers, got dtype {idx.dtype}")
    if idx.ndim == 0 or idx.shape[-1] > x.ndim:
        raise ValueError(f"tf.{op}: indices of shape {idx.shape} need a last axis of at most the tensor's rank "
                         f"{x.ndim}")
    want = idx.shape[:-1] + tuple(x.shape[idx.shape[-1]:])
    if tuple(u.shape) != want:
        raise ValueError(f"tf.{op}: updates of shape {tuple(u.shape)} do not match indices {idx.shape} and tensor "
                         f"{tuple(x.shape)} (expected {want})")
    for d in builtins.range(idx.shape[-1]):
        col = idx[..., d]
        if col.size and (col.min() < 0 or col.max() >= x.shape[d]):
            raise ValueError(f"tf.{op}: an index on axis {d} is outside [0, {x.shape[d]}) of shape {tuple(x.shape)}")
    return x, idx, u


def tensor_scatter_nd_update(tensor, indices, updates, name=None):
    """tensor with the entries at indices replaced by updates (a new tensor; differentiable)."""
    x, idx, u = _scatter_parts("tensor_scatter_nd_update", tensor, indices, updates)
    return ops.scatter_update(x, idx, u)


def tensor_scatter_nd_add(tensor, indices, updates, name=None):
    """tensor + scatter_nd(indices, updates) (duplicates add; differentiable)."""
    x, idx, u = _scatter_parts("tensor_scatter_nd_add", tensor, indices, updates)
    return ops.add(x, ops.scatter(idx, u, list(x.shape)))


def tensor_scatter_nd_sub(tensor, indices, updates, name=None):
    x, idx, u = _scatter_parts("tensor_scatter_nd_sub", tensor, indices, updates)
    return ops.subtract(x, ops.scatter(idx, u, list(x.shape)))


def _scatter_extreme(op, tensor, indices, updates, pick):
    # out = pick(x, every update to the same cell): written as a gather of the winners, so the
    # gradient reaches the tensor entry or the update that was kept
    x, idx, u = _scatter_parts(op, tensor, indices, updates)
    depth = idx.shape[-1]
    inner = tuple(x.shape[depth:])
    cells = int(np.prod(x.shape[:depth], dtype=np.int64))
    inner_n = int(np.prod(inner, dtype=np.int64))
    flat_cell = np.ravel_multi_index(tuple(idx.reshape(-1, depth).T), tuple(x.shape[:depth])) if depth else \
        np.zeros(int(np.prod(idx.shape[:-1], dtype=np.int64)), np.int64)
    xv = np.asarray(x).reshape(cells, inner_n)
    uv = np.asarray(u).reshape(-1, inner_n)
    # candidates: column 0 of `source` is the tensor itself, then each update
    best = xv.copy()
    source = np.zeros((cells, inner_n), np.int64)   # 0 = tensor, k + 1 = update k
    for k, c in enumerate(flat_cell):
        better = pick(uv[k], best[c])
        best[c] = np.where(better, uv[k], best[c])
        source[c] = np.where(better, k + 1, source[c])
    both = ops.concatenate([ops.reshape(x, [cells * inner_n]), ops.reshape(u, [-1])], axis=0)
    gather_at = np.where(source == 0, np.arange(cells * inner_n).reshape(cells, inner_n),
                         cells * inner_n + (source - 1) * inner_n + np.arange(inner_n))
    return ops.reshape(ops.take(both, gather_at.reshape(-1), axis=0), list(x.shape))


def tensor_scatter_nd_max(tensor, indices, updates, name=None):
    return _scatter_extreme("tensor_scatter_nd_max", tensor, indices, updates, np.greater)


def tensor_scatter_nd_min(tensor, indices, updates, name=None):
    return _scatter_extreme("tensor_scatter_nd_min", tensor, indices, updates, np.less)


def slice(input_, begin, size, name=None):  # noqa: A001 - TensorFlow's name
    """input_[begin : begin + size] on every axis; a size of -1 takes the rest of that axis."""
    x = ops._to_tensor(input_)
    b = [int(v) for v in np.asarray(begin).reshape(-1)]
    s = [int(v) for v in np.asarray(size).reshape(-1)]
    if len(b) != x.ndim or len(s) != x.ndim:
        raise ValueError(f"tf.slice: begin {b} and size {s} need one entry per axis of shape {tuple(x.shape)}")
    s = [d - bb if k == -1 else k for bb, k, d in zip(b, s, x.shape)]
    for bb, k, d in zip(b, s, x.shape):
        if bb < 0 or k < 0 or bb + k > d:
            raise ValueError(f"tf.slice: begin {b} size {list(size)} does not fit in shape {tuple(x.shape)}")
    return ops.slice(x, b, s)


def strided_slice(input_, begin, end, strides=None, begin_mask=0, end_mask=0, ellipsis_mask=0,
                  new_axis_mask=0, shrink_axis_mask=0, var=None, name=None):
    """TensorFlow's strided_slice: the Python index its arguments describe (bit i of a mask
    refers to entry i of begin / end / strides), applied as ``input_[index]`` (a copy;
    differentiable)."""
    b = [int(v) for v in np.asarray(begin).reshape(-1)]
    e = [int(v) for v in np.asarray(end).reshape(-1)]
    st = [1] * len(b) if strides is None else [int(v) for v in np.asarray(strides).reshape(-1)]
    if not (len(b) == len(e) == len(st)):
        raise ValueError(f"tf.strided_slice: begin {b}, end {e} and strides {st} must have one length")
    if 0 in st:
        raise ValueError("tf.strided_slice: strides must be non-zero")
    key = []
    for i in builtins.range(len(b)):
        bit = 1 << i
        if ellipsis_mask & bit:
            key.append(Ellipsis)
        elif new_axis_mask & bit:
            key.append(None)
        elif shrink_axis_mask & bit:
            key.append(b[i])
        else:
            key.append(builtins.slice(None if begin_mask & bit else b[i], None if end_mask & bit else e[i], st[i]))
    x = ops._to_tensor(input_)
    try:
        return x[tuple(key)]
    except IndexError as exc:
        raise ValueError(f"tf.strided_slice: index {tuple(key)} does not fit shape {tuple(x.shape)}: {exc}") from None


def histogram_fixed_width(values, value_range, nbins=100, dtype="int32", name=None):
    """Counts of values in nbins equal bins over value_range; values outside go to the end bins."""
    v = np.asarray(values, np.float64).reshape(-1)
    lo, hi = (float(a) for a in np.asarray(value_range, np.float64).reshape(-1)[:2])
    n = int(nbins)
    if n <= 0 or not hi > lo:
        raise ValueError(f"tf.histogram_fixed_width: needs nbins > 0 and value_range[0] < value_range[1], got "
                         f"nbins={nbins}, value_range={[lo, hi]}")
    bins = np.clip(np.floor((v - lo) / (hi - lo) * n), 0, n - 1).astype(np.int64)
    return _tensor(np.bincount(bins, minlength=n).astype(_dtype_name(dtype)))


def complex(real, imag, name=None):  # noqa: A001 - TensorFlow's name
    """tf.complex: the (real, imag) pair that is corenn's complex tensor (see corenn.signal)."""
    re, im = ops._to_tensor(real), ops._to_tensor(imag)
    if tuple(re.shape) != tuple(im.shape):
        raise ValueError(f"tf.complex: real {tuple(re.shape)} and imag {tuple(im.shape)} must have one shape")
    return ops.ComplexPair((re, im))


# -- control flow -----------------------------------------------------------------------------------

def _truth(op, pred):
    a = np.asarray(pred)
    if a.size != 1:
        raise ValueError(f"tf.{op}: the predicate must be a scalar, got shape {a.shape}")
    return builtins.bool(a.reshape(()))


def cond(pred, true_fn=None, false_fn=None, name=None):
    """true_fn() if pred else false_fn()."""
    if not callable(true_fn) or not callable(false_fn):
        raise TypeError("tf.cond: true_fn and false_fn must be callables")
    return true_fn() if _truth("cond", pred) else false_fn()


def case(pred_fn_pairs, default=None, exclusive=False, strict=False, name=None):
    """The fn of the first pair whose predicate is true (with exclusive, at most one may be);
    default() when none is."""
    pairs = list(pred_fn_pairs.items()) if isinstance(pred_fn_pairs, dict) else list(pred_fn_pairs)
    for p in pairs:
        if not (isinstance(p, tuple) and len(p) == 2 and callable(p[1])):
            raise TypeError("tf.case: pred_fn_pairs must be (predicate, callable) pairs")
    truths = [_truth("case", p) for p, _ in pairs]
    if exclusive and builtins.sum(truths) > 1:
        raise ValueError(f"tf.case: exclusive=True but {builtins.sum(truths)} predicates are true")
    for t, (_, fn) in zip(truths, pairs):
        if t:
            return fn()
    if default is None:
        if not pairs:
            raise ValueError("tf.case: no predicates and no default")
        return pairs[-1][1]()   # TensorFlow: the last branch is the default when none is given
    return default()


def switch_case(branch_index, branch_fns, default=None, name=None):
    """branch_fns[branch_index]() (a list or an int-keyed dict); out of range runs default, or
    the last branch without one, as TensorFlow."""
    fns = dict(branch_fns) if isinstance(branch_fns, dict) else dict(enumerate(branch_fns))
    if not fns or not all(callable(f) for f in fns.values()):
        raise TypeError("tf.switch_case: branch_fns must be a non-empty list or dict of callables")
    a = np.asarray(branch_index)
    if a.size != 1 or a.dtype.kind not in "iu":
        raise TypeError(f"tf.switch_case: branch_index must be an integer scalar, got {a.dtype} of shape {a.shape}")
    i = int(a.reshape(()))
    if i in fns:
        return fns[i]()
    return default() if default is not None else fns[max(fns)]()


def _same_structure(op, want, got):
    fw, fg = nest.flatten(want), nest.flatten(got)
    if len(fw) != len(fg):
        raise ValueError(f"tf.{op}: the body returned {len(fg)} values for {len(fw)} loop variables "
                         f"(the structures must match)")
    for a, b in zip(fw, fg):
        sa, sb = np.shape(a) if not isinstance(a, TensorArray) else None, \
            np.shape(b) if not isinstance(b, TensorArray) else None
        if sa is not None and sb is not None and len(sa) != len(sb):
            raise ValueError(f"tf.{op}: a loop variable of shape {sa} came back with shape {sb}; use "
                             f"shape_invariants for changing shapes")


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10, back_prop=True,  # noqa: A002
               swap_memory=False, maximum_iterations=None, name=None):
    """Repeat ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)``, at most
    maximum_iterations times; loop_vars a (nested) list / tuple, or a single tensor."""
    if not callable(cond) or not callable(body):
        raise TypeError("tf.while_loop: cond and body must be callables")
    single = not isinstance(loop_vars, (list, tuple))
    current = [loop_vars] if single else loop_vars
    n = 0
    limit = None if maximum_iterations is None else int(np.asarray(maximum_iterations))
    while (limit is None or n < limit) and _truth("while_loop", cond(*current)):
        out = body(*current)
        if single or (len(current) == 1 and not isinstance(out, (list, tuple))):
            out = [out]
        if shape_invariants is None:
            _same_structure("while_loop", current, out)
        elif len(nest.flatten(out)) != len(nest.flatten(current)):
            _same_structure("while_loop", current, out)
        current = nest.pack_sequence_as(current, nest.flatten(out)) if isinstance(current, (list, tuple)) else out
        n += 1
    return current[0] if single else current


def _elements(op, elems):
    """(flat list of tensors, their structure, leading size)."""
    flat = [e if isinstance(e, Tensor) or isinstance(e, np.ndarray) and e.dtype.kind in "OUS"
            else ops._to_tensor(e) for e in nest.flatten(elems)]
    if not flat:
        raise ValueError(f"tf.{op}: elems is empty")
    sizes = {int(np.shape(e)[0]) if np.ndim(e) else -1 for e in flat}
    if -1 in sizes:
        raise ValueError(f"tf.{op}: every element tensor needs a leading axis to unstack, got a scalar")
    if len(sizes) != 1:
        raise ValueError(f"tf.{op}: the element tensors have different leading sizes {sorted(sizes)}")
    return flat, sizes.pop()


def _stack_structure(op, results):
    """Stack a list of equally structured results along a new axis 0."""
    if not results:
        return None
    flats = [nest.flatten(r) for r in results]
    if len({len(f) for f in flats}) != 1:
        raise ValueError(f"tf.{op}: fn returned structures of different sizes")
    stacked = [ops.stack([ops._to_tensor(v) for v in column], axis=0) for column in zip(*flats)]
    return nest.pack_sequence_as(results[0], stacked)


def map_fn(fn, elems, dtype=None, parallel_iterations=None, back_prop=True, swap_memory=False,
           infer_shape=True, name=None, fn_output_signature=None):
    """fn applied to each slice along axis 0 of elems (a tensor or a structure of tensors),
    the results stacked (a structure of results stacks field by field)."""
    from .strings import RaggedTensor
    if isinstance(elems, RaggedTensor):
        # fn on each row (a 1-D tensor); results of different lengths make a RaggedTensor
        outs = [fn(row) for row in elems]
        arrays = [np.asarray(o) for o in outs]
        if arrays and all(a.ndim == 1 for a in arrays) and len({a.shape for a in arrays}) > 1:
            return RaggedTensor._from_rows(arrays)
        if not outs:
            return RaggedTensor._from_rows([])
        return _stack_structure("map_fn", outs)
    flat, n = _elements("map_fn", elems)
    results = []
    for i in builtins.range(n):
        item = nest.pack_sequence_as(elems, [e[i] for e in flat]) if nest.is_nested(elems) else flat[0][i]
        results.append(fn(item))
    if n == 0:
        raise ValueError("tf.map_fn: elems has no entries along axis 0 (the result's shape is unknown)")
    return _stack_structure("map_fn", results)


def vectorized_map(fn, elems, fallback_to_while_loop=True, warn=True):
    """map_fn's result (corenn runs the slices one after another)."""
    return map_fn(fn, elems)


def _fold(op, fn, elems, initializer, reverse):
    flat, n = _elements(op, elems)
    order = list(builtins.range(n - 1, -1, -1)) if reverse else list(builtins.range(n))

    def item(i):
        return nest.pack_sequence_as(elems, [e[i] for e in flat]) if nest.is_nested(elems) else flat[0][i]
    if initializer is None:
        if n == 0:
            raise ValueError(f"tf.{op}: elems is empty and there is no initializer")
        acc, order = item(order[0]), order[1:]
    else:
        acc = initializer
    return acc, order, item


def foldl(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, name=None):
    """acc = fn(acc, x) over elems from the first; the first element starts acc when no initializer."""
    acc, order, item = _fold("foldl", fn, elems, initializer, False)
    for i in order:
        acc = fn(acc, item(i))
    return acc


def foldr(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, name=None):
    acc, order, item = _fold("foldr", fn, elems, initializer, True)
    for i in order:
        acc = fn(acc, item(i))
    return acc


def scan(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False,
         infer_shape=True, reverse=False, name=None):
    """The accumulators acc_i = fn(acc_{i-1}, x_i), stacked (TensorFlow's tf.scan; without an
    initializer the first element is acc_0 and the first output)."""
    flat, n = _elements("scan", elems)
    acc, order, item = _fold("scan", fn, elems, initializer, reverse)
    outs = {}
    if initializer is None:
        outs[(n - 1) if reverse else 0] = acc
    for i in order:
        acc = fn(acc, item(i))
        outs[i] = acc
    return _stack_structure("scan", [outs[i] for i in builtins.range(n)])


class TensorArray:
    """TensorFlow's TensorArray as eager TensorFlow 2 runs it: a list of tensors written by
    index, read back or stacked; differentiable through stack / read / gather / concat.
    ``write`` returns the array (TensorFlow's loops write ``ta = ta.write(i, x)``)."""

    def __init__(self, dtype, size=None, dynamic_size=None, clear_after_read=None, tensor_array_name=None,
                 handle=None, flow=None, infer_shape=True, element_shape=None, colocate_with_first_write_call=True,
                 name=None):
        self._dtype = _dtype_name(dtype) or "float32"
        self._size = 0 if size is None else int(np.asarray(size))
        if self._size < 0:
            raise ValueError(f"tf.TensorArray: size must be >= 0, got {self._size}")
        self._dynamic = builtins.bool(dynamic_size)
        self._items = [None] * self._size
        self._infer = infer_shape
        self._element_shape = None if element_shape is None else tuple(
            element_shape.as_list() if hasattr(element_shape, "as_list") else element_shape)

    @property
    def dtype(self):
        return self._dtype

    @property
    def dynamic_size(self):
        return self._dynamic

    @property
    def element_shape(self):
        from .kernels import TensorShape
        return TensorShape(self._element_shape) if self._element_shape is not None else TensorShape(None)

    def size(self, name=None):
        return _tensor(np.asarray(len(self._items), np.int32))

    def _index(self, index, writing):
        i = int(np.asarray(index))
        if i < 0:
            raise ValueError(f"tf.TensorArray: index {i} is negative")
        if i >= len(self._items):
            if writing and self._dynamic:
                self._items.extend([None] * (i + 1 - len(self._items)))
            else:
                raise ValueError(f"tf.TensorArray: index {i} is out of range for a TensorArray of size "
                                 f"{len(self._items)}" + ("" if self._dynamic else " (dynamic_size=False)"))
        return i

    def _value(self, value):
        t = value if isinstance(value, Tensor) else ops._to_tensor(np.asarray(value))
        if str(t.dtype) != self._dtype:
            if np.dtype(str(t.dtype)).kind != np.dtype(self._dtype).kind:
                raise TypeError(f"tf.TensorArray: the array holds {self._dtype}, a value of dtype {t.dtype} was "
                                f"written")
            t = ops.cast(t, self._dtype)
        shape = tuple(t.shape)
        if self._element_shape is not None and self._infer:
            want = self._element_shape
            if len(want) != len(shape) or any(w is not None and w != g for w, g in zip(want, shape)):
                raise ValueError(f"tf.TensorArray: a value of shape {shape} does not match the element shape "
                                 f"{want}")
        if self._infer and self._element_shape is None:
            self._element_shape = shape
        return t

    def write(self, index, value, name=None):
        i = self._index(index, True)
        self._items[i] = self._value(value)
        return self

    def read(self, index, name=None):
        i = self._index(index, False)
        if self._items[i] is None:
            if self._element_shape is None or None in self._element_shape:
                raise ValueError(f"tf.TensorArray: read of index {i}, which was never written")
            return ops.zeros(self._element_shape, self._dtype)
        return self._items[i]

    def _filled(self):
        out = []
        for i, t in enumerate(self._items):
            if t is None:
                if self._element_shape is None or None in self._element_shape:
                    raise ValueError(f"tf.TensorArray: index {i} was never written and the element shape is "
                                     f"unknown")
                t = ops.zeros(self._element_shape, self._dtype)
            out.append(t)
        return out

    def stack(self, name=None):
        items = self._filled()
        if not items:
            shape = (0,) + tuple(self._element_shape or ())
            if None in shape:
                raise ValueError("tf.TensorArray: stack of an empty array with an unknown element shape")
            return ops.zeros(shape, self._dtype)
        return ops.stack(items, axis=0)

    def gather(self, indices, name=None):
        idx = [self._index(i, False) for i in np.asarray(indices).reshape(-1)]
        items = self._filled()
        return ops.stack([items[i] for i in idx], axis=0)

    def concat(self, name=None):
        items = self._filled()
        if not items:
            raise ValueError("tf.TensorArray: concat of an empty array")
        return ops.concatenate(items, axis=0)

    def unstack(self, value, name=None):
        t = ops._to_tensor(value)
        if t.ndim == 0:
            raise ValueError("tf.TensorArray.unstack: the value must have a leading axis")
        n = int(t.shape[0])
        if n > len(self._items) and not self._dynamic and len(self._items):
            raise ValueError(f"tf.TensorArray.unstack: {n} rows for an array of size {len(self._items)}")
        if n > len(self._items):
            self._items.extend([None] * (n - len(self._items)))
        for i, row in enumerate(ops.unstack(t, axis=0)):
            self._items[i] = self._value(row)
        return self

    def scatter(self, indices, value, name=None):
        t = ops._to_tensor(value)
        idx = [int(i) for i in np.asarray(indices).reshape(-1)]
        if len(idx) != int(t.shape[0]):
            raise ValueError(f"tf.TensorArray.scatter: {len(idx)} indices for {int(t.shape[0])} rows")
        for i, row in zip(idx, ops.unstack(t, axis=0)):
            self._items[self._index(i, True)] = self._value(row)
        return self

    def split(self, value, lengths, name=None):
        t = ops._to_tensor(value)
        bounds = np.cumsum([int(v) for v in np.asarray(lengths).reshape(-1)]).tolist()
        if not bounds or bounds[-1] != int(t.shape[0]):
            raise ValueError(f"tf.TensorArray.split: lengths {list(np.asarray(lengths).reshape(-1))} do not add up "
                             f"to the value's {int(t.shape[0])} rows")
        self._element_shape = None
        for i, part in enumerate(ops.split(t, bounds[:-1], axis=0)):
            self._items[self._index(i, True)] = part
        return self

    def close(self, name=None):
        self._items = []

    def identity(self):
        return self

    def __repr__(self):
        return f"<TensorArray dtype={self._dtype} size={len(self._items)}>"


# -- graph-building scopes: no-ops when running eagerly ------------------------------------------------

_SCOPES = threading.local()


def _scope_stack():
    """The names of this thread's open name_scope blocks (tf.get_current_name_scope)."""
    if not hasattr(_SCOPES, "names"):
        _SCOPES.names = []
    return _SCOPES.names


class name_scope:
    """``with tf.name_scope("block"):``: names ops in a graph; eagerly it only holds the name
    (and the stack ``tf.get_current_name_scope`` reads)."""

    def __init__(self, name):
        if not isinstance(name, str):
            raise TypeError(f"tf.name_scope: the name must be a string, got {type(name).__name__}")
        self.name = name

    def __enter__(self):
        _scope_stack().append(self.name.rstrip("/"))
        return self.name

    def __exit__(self, *exc):
        _scope_stack().pop()
        return False


@contextlib.contextmanager
def control_dependencies(control_inputs):
    """Eagerly every op has run when its line returns, so the dependencies already hold."""
    if control_inputs is not None and not isinstance(control_inputs, (list, tuple)):
        raise TypeError("tf.control_dependencies: control_inputs must be a list")
    yield


@contextlib.contextmanager
def init_scope():
    yield


def no_gradient(op_type):
    """Registers no gradient for a graph op type; nothing to register eagerly."""
    if not isinstance(op_type, str):
        raise TypeError("tf.no_gradient: op_type must be a string")


def get_static_value(tensor, partial=False):
    """The value as a NumPy array (every eager tensor's value is known)."""
    if tensor is None:
        return None
    return np.asarray(tensor)


def recompute_grad(f):
    """f itself: corenn keeps the forward values the tape needs (no recomputation)."""
    return f


def _initializer(name, cls_name, **fixed):
    def make(*args, **kwargs):
        from . import initializers
        kwargs.pop("dtype", None)
        return getattr(initializers, cls_name)(*args, **kwargs, **fixed)
    make.__name__ = make.__qualname__ = name
    return make


zeros_initializer = _initializer("zeros_initializer", "Zeros")
ones_initializer = _initializer("ones_initializer", "Ones")
constant_initializer = _initializer("constant_initializer", "Constant")
random_normal_initializer = _initializer("random_normal_initializer", "RandomNormal")
random_uniform_initializer = _initializer("random_uniform_initializer", "RandomUniform")


# a bool tensor stays bool through these, as through ops' shape ops (ops._BOOL_KEEPING)
for _name in ("slice", "strided_slice", "tensor_scatter_nd_update"):
    globals()[_name] = ops._keeps_bool(globals()[_name])
