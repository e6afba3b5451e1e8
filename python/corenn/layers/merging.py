"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot, and the
functional helpers add(), subtract(), ... (Keras 3: ``layers.add([a, b])`` is ``Add()([a, b])``).

Multi-input layer contract (what the graph engine calls):
    build(input_shapes)                 a list of shapes, batch axis None
    compute_output_shape(input_shapes)  the list -> one shape
    forward(inputs, training) -> y      a list of Tensors -> one Tensor (a layer buffer)
    backward(dy) -> [dx_0, dx_1, ...]   one gradient per input, each of that input's shape, each
                                        its own buffer (never dy itself, never shared)
Per-call state lives on the layer under underscore names, as in the single-input layers.

Elementwise merges follow Keras 3: the batch axes line up (an input of batch 1 broadcasts, as
Keras 3's ops.add does: a Perceiver adds its batch-1 latent array to a batch), the other axes
broadcast NumPy-style from the right (a lower-rank input gets size-1 axes inserted after its batch axis), so
(None, 4, 5) + (None, 5) is (None, 4, 5). y = x_0 (op) x_1 (op) ... left to right; the
backward walks that chain in reverse with binary_backward, which sums each gradient back over the
axes its operand was broadcast along. All math is in corenn.kernels.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from .base import Layer, shape_str, user_mask

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
           "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot"]


def _shapes_str(shapes):
    return ", ".join(shape_str(s) for s in shapes)



def _as_float32(inputs):
    """The inputs as float32 Tensors: an index output (Discretization, a lookup: int64) merged
    with float features is promoted, as Keras' merges promote to the result dtype."""
    return [x if getattr(x, "dtype", None) == "float32" else kernels.as_tensor(np.asarray(x, np.float32))
            for x in inputs]

# The mask of a merge (Keras 3): an elementwise merge has one only when every input has one, the
# OR of theirs (base_merge.compute_mask); Concatenate along the features joins the masks of the
# inputs that have one with all-True for the others and keeps a step where any is True (so with
# an unmasked input no step is masked: corenn then carries no mask), and along the time (or batch)
# axis concatenates them. In a graph, ``_graph_mask`` decides it while the graph is built: no
# mask, the one mask slot every input shares (passed on as is), or MERGED: the node makes a new
# mask at run time (``output_mask_value`` from the masks the call was given, float32 as the kernels
# read them). ``compute_mask`` is the same rule on concrete masks (an eager call).
MERGED = "merged"


def _or_masks(masks):
    """The steps any of ``masks`` keeps (bool; a mask is bool or float32 0 / 1)."""
    out = np.asarray(masks[0]) != 0
    for m in masks[1:]:
        out = out | (np.asarray(m) != 0)
    return out


class _Merge(Layer):
    """Base of the merge layers: list-of-inputs build / call / shape checks."""

    def _graph_mask(self, inputs, masks):
        return None   # Dot (and a merge without masking): Keras gives no mask

    def output_mask_value(self):
        masks = self.__dict__.get("_call_mask")
        masks = list(masks) if isinstance(masks, (list, tuple)) else [masks]
        return kernels.Tensor.from_numpy(np.asarray(self._merge_masks(masks), np.float32, order="C"))

    _min_inputs = 1
    _max_inputs = None
    _same_batch = True  # Concatenate checks its axes itself (it may join along the batch axis)
    _broadcast_batch = False  # elementwise merges: an input of batch 1 broadcasts against the others

    def _check_list(self, input_shapes):
        if not isinstance(input_shapes, (list, tuple)) or not input_shapes or \
                not all(isinstance(s, (list, tuple)) for s in input_shapes):
            raise ValueError(f"{type(self).__name__} '{self.name}' should be called on a list of "
                             f"inputs, got {input_shapes!r}"[:300])
        n = len(input_shapes)
        if n < self._min_inputs or (self._max_inputs is not None and n > self._max_inputs):
            want = (f"exactly {self._min_inputs}" if self._min_inputs == self._max_inputs
                    else f"at least {self._min_inputs}")
            raise ValueError(f"{type(self).__name__} '{self.name}' should be called on {want} "
                             f"inputs, got {n}: {_shapes_str(input_shapes)}")
        if any(len(s) < 1 for s in input_shapes):
            raise ValueError(f"{type(self).__name__} '{self.name}': every input needs a batch axis, "
                             f"got shapes {_shapes_str(input_shapes)}")
        batches = {s[0] for s in input_shapes} - {None}
        if self._broadcast_batch:   # a batch of 1 broadcasts, as Keras 3's ops.add does
            batches -= {1} if len(batches) > 1 else set()
        if len(batches) > 1 and self._same_batch:
            raise ValueError(f"{type(self).__name__} '{self.name}': inputs have different batch "
                             f"sizes: {_shapes_str(input_shapes)}")
        return [tuple(s) for s in input_shapes]

    def build(self, input_shapes):
        shapes = self._check_list(input_shapes)
        self.input_shape = shapes
        self.output_shape = tuple(self.compute_output_shape(shapes))
        self.built = True

    def __call__(self, inputs, training=None, **kwargs):
        """On a list of KerasTensors: a graph node; on data: NumPy in -> NumPy out, Tensors in ->
        Tensor out (Layer.__call__)."""
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{type(self).__name__} '{self.name}' should be called on a list of "
                             f"inputs, got {type(inputs).__name__}")
        return super().__call__(list(inputs), training=training, **kwargs)

    def _buffers_list(self, key, shapes):
        return [self._buffer((key, i), s) for i, s in enumerate(shapes)]


class _ElementwiseMerge(_Merge):
    """y = x_0 (kind) x_1 (kind) ... with Keras' broadcasting (see the module docstring)."""

    _kind = None
    supports_masking = True  # Keras masks: the OR of the inputs' when every input has one
    _broadcast_batch = True

    def _graph_mask(self, inputs, masks):
        if any(m is None for m in masks):
            return None
        return masks[0] if all(m is masks[0] for m in masks) else MERGED

    def _merge_masks(self, masks):
        return _or_masks(masks)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        masks = list(mask) if isinstance(mask, (list, tuple)) else [mask]
        if any(m is None for m in masks):
            return None
        return user_mask(_or_masks(masks))

    def compute_output_shape(self, input_shapes):
        shapes = self._check_list(input_shapes)
        rank = max(len(s) for s in shapes)
        out = [None if any(s[0] is None for s in shapes) else max(s[0] for s in shapes)]
        for i in range(1, rank):  # non-batch axes, right-aligned
            dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 1]
            known = {d for d in dims if d is not None and d != 1}
            if len(known) > 1:
                raise ValueError(f"{type(self).__name__} '{self.name}': inputs have incompatible "
                                 f"shapes {_shapes_str(shapes)}")
            out.append(known.pop() if known else (None if None in dims else 1))
        return tuple(out)

    def _aligned(self, xs):
        """Views with the batch axis first and size-1 axes inserted after it up to one rank."""
        rank = max(x.ndim for x in xs)
        return [x if x.ndim == rank else
                x.reshape([x.shape[0]] + [1] * (rank - x.ndim) + list(x.shape[1:])) for x in xs]

    def forward(self, inputs, training=False):
        xs = _as_float32(inputs)
        self.compute_output_shape([tuple(x.shape) for x in xs])
        self._in_shapes = [tuple(x.shape) for x in xs]
        xs = self._aligned(xs)
        self._xs, self._accs = xs, [xs[0]]
        if len(xs) == 1:
            y = kernels.scale(xs[0], 1.0, out=self._buffer("y", xs[0].shape))
        elif self._kind == "add" and all(tuple(x.shape) == tuple(xs[0].shape) for x in xs):
            y = kernels.sum_n(xs, out=self._buffer("y", xs[0].shape))  # one pass
        else:
            acc = xs[0]
            for k, x in enumerate(xs[1:], 1):  # every partial result is kept for backward
                shape = kernels.broadcast_shape(acc.shape, x.shape)
                key = "y" if k == len(xs) - 1 else ("acc", k)
                acc = kernels.binary_forward(self._kind, acc, x, out=self._buffer(key, shape))
                self._accs.append(acc)
            y = acc
        return self._finish(y)

    def _finish(self, y):  # Average divides here
        return y

    def backward(self, dy):
        dy = self._start_backward(dy)
        xs, grads = self._xs, [None] * len(self._xs)
        if len(xs) == 1 or (self._kind == "add" and all(tuple(x.shape) == tuple(dy.shape) for x in xs)):
            # d(x_0 + x_1 + ...)/dx_i = 1: every input's gradient is dy itself, no copy (the graph
            # and the tape sum gradients into buffers of their own, never into one they received)
            grads = [dy] * len(xs)
        else:
            g = dy
            for k in range(len(xs) - 1, 0, -1):  # y_k = y_{k-1} (kind) x_k, in reverse
                prev = self._accs[k - 1]
                prev_out = self._buffer(("dx", 0) if k == 1 else ("dacc", k - 1), prev.shape)
                g, grads[k] = kernels.binary_backward(
                    self._kind, prev, xs[k], g, da_out=prev_out,
                    db_out=self._buffer(("dx", k), xs[k].shape))
            grads[0] = g
        return [g.reshape(list(s)) if tuple(g.shape) != s else g
                for g, s in zip(grads, self._in_shapes)]

    def _start_backward(self, dy):
        return dy


class Add(_ElementwiseMerge):
    """y = x_0 + x_1 + ... (Keras ``Add``); equal shapes take one sum_n pass."""
    _kind = "add"


class Subtract(_ElementwiseMerge):
    """y = x_0 - x_1; exactly two inputs (Keras ``Subtract``)."""
    _kind = "subtract"
    _min_inputs = _max_inputs = 2


class Multiply(_ElementwiseMerge):
    """y = x_0 * x_1 * ... (Keras ``Multiply``)."""
    _kind = "multiply"


class Maximum(_ElementwiseMerge):
    """y = max(x_0, x_1, ...) elementwise (Keras ``Maximum``); a tie sends the gradient to the
    earlier input (TensorFlow's rule for each max in the chain)."""
    _kind = "maximum"


class Minimum(_ElementwiseMerge):
    """y = min(x_0, x_1, ...) elementwise (Keras ``Minimum``); ties as in Maximum."""
    _kind = "minimum"


class Average(_ElementwiseMerge):
    """y = (x_0 + x_1 + ... + x_{n-1}) / n (Keras ``Average``)."""
    _kind = "add"

    def _finish(self, y):
        return kernels.scale(y, 1.0 / len(self._xs), out=y)

    def _start_backward(self, dy):
        return kernels.scale(dy, 1.0 / len(self._xs), out=self._buffer("dy_scaled", dy.shape))


class Concatenate(_Merge):
    """y = the inputs joined along ``axis`` (Keras ``Concatenate``); they agree on every other
    axis. Backward splits dy back into the inputs' sizes.

    Args:
        axis: the axis to join along (negative counts from the end; default -1).
    """

    _same_batch = False
    supports_masking = True  # Keras masks: see MERGED above

    def _mask_axis(self, rank):
        ax = self.axis % rank
        return ax if ax < 2 else None   # None: along the features (the masks are OR-ed)

    def _graph_mask(self, inputs, masks):
        if all(m is None for m in masks):
            return None
        if self._mask_axis(len(inputs[0].shape)) is None and all(m is masks[0] for m in masks):
            return masks[0]
        # along the steps the masks join; along the features an unmasked input keeps every step,
        # so the output has Keras' all-True mask (not none: a layer after it sees a mask)
        return MERGED

    def _merge_masks(self, masks, shapes=None):
        shapes = shapes or self._in_shapes
        ax = self._mask_axis(len(shapes[0]))
        if ax is None:   # along the features: the OR of the masks, an unmasked input all True
            given = [np.asarray(m) != 0 for m in masks if m is not None]
            return given[0] | True if len(given) < len(masks) else _or_masks(given)
        full = [np.ones(s[:2], bool) if m is None else np.asarray(m) != 0 for m, s in zip(masks, shapes)]
        return np.concatenate(full, axis=ax)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        masks = list(mask) if isinstance(mask, (list, tuple)) else [mask]
        if all(m is None for m in masks):
            return None
        shapes = [tuple(np.shape(x)) for x in inputs]
        if self._mask_axis(len(shapes[0])) is None and any(m is None for m in masks):
            return user_mask(np.ones(shapes[0][:2], bool))   # Keras: all True
        return user_mask(self._merge_masks(masks, shapes))

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"Concatenate '{self.name}': axis must be an int, got {axis!r}")
        self.axis = axis

    def compute_output_shape(self, input_shapes):
        shapes = self._check_list(input_shapes)
        rank = len(shapes[0])
        if not -rank <= self.axis < rank or any(len(s) != rank for s in shapes):
            raise ValueError(f"Concatenate '{self.name}' (axis={self.axis}) needs inputs of one "
                             f"rank with that axis, got shapes {_shapes_str(shapes)}")
        ax = self.axis % rank
        out = []
        for d in range(rank):
            dims = [s[d] for s in shapes]
            if d == ax:
                out.append(None if None in dims else sum(dims))
                continue
            known = {v for v in dims if v is not None}
            if len(known) > 1:
                raise ValueError(f"Concatenate '{self.name}' (axis={self.axis}) needs inputs that "
                                 f"match on every other axis, got shapes {_shapes_str(shapes)}")
            out.append(known.pop() if known else None)
        return tuple(out)

    def forward(self, inputs, training=False):
        xs = _as_float32(inputs)
        shape = self.compute_output_shape([tuple(x.shape) for x in xs])
        self._in_shapes = [tuple(x.shape) for x in xs]
        return kernels.concat(xs, self.axis, out=self._buffer("y", shape))

    def backward(self, dy):
        ax = self.axis % len(self._in_shapes[0])
        return kernels.split(dy, self.axis, [s[ax] for s in self._in_shapes],
                             outs=self._buffers_list("dx", self._in_shapes))

    def get_config(self):
        cfg = super().get_config()
        cfg["axis"] = self.axis
        return cfg


class Dot(_Merge):
    """Dot product of two samples along ``axes`` (Keras ``Dot``), per batch item.

    For x (B, ..., i) and y (B, ..., j) the contracted axes pair up (``axes`` an int for both or a
    pair), the batch axis stays, and the remaining axes of x then of y form the output; a result
    of rank 1 gets a trailing 1: (B, n)·(B, n) -> (B, 1); (B, m, k)·(B, k, n) with axes (2, 1)
    -> (B, m, n). Inputs of rank 2 or 3 (one batched_matmul; the contraction is absorbed as a
    transpose). ``normalize``: each input is first L2-normalized along its contracted axis,
    x / sqrt(max(sum x^2, 1e-12)) (cosine proximity).
    """
    _min_inputs = _max_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        ok = isinstance(axes, int) and not isinstance(axes, bool) or (
            isinstance(axes, (list, tuple)) and len(axes) == 2 and
            all(isinstance(a, int) and not isinstance(a, bool) for a in axes))
        if not ok:
            raise TypeError(f"Dot '{self.name}': axes must be an int or a pair of ints, got {axes!r}")
        self.axes = axes if isinstance(axes, int) else tuple(axes)
        self.normalize = bool(normalize)

    def _plan(self, shapes):
        shapes = self._check_list(shapes)
        ranks = [len(s) for s in shapes]
        if any(r not in (2, 3) for r in ranks):
            raise NotImplementedError(f"Dot '{self.name}': inputs of rank 2 or 3 are supported, "
                                      f"got shapes {_shapes_str(shapes)}")
        axes = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        axes = tuple(a % r for a, r in zip(axes, ranks))
        if 0 in axes:
            raise ValueError(f"Dot '{self.name}': cannot contract the batch axis (axes={self.axes})")
        k1, k2 = shapes[0][axes[0]], shapes[1][axes[1]]
        if k1 is not None and k2 is not None and k1 != k2:
            raise ValueError(f"Dot '{self.name}': axes {self.axes} have sizes {k1} and {k2} in "
                             f"shapes {_shapes_str(shapes)}; they must be equal")
        return shapes, axes

    def compute_output_shape(self, input_shapes):
        (s1, s2), (a1, a2) = self._plan(input_shapes)
        out = [d for i, d in enumerate(s1) if i != a1] + [d for i, d in enumerate(s2) if i not in (0, a2)]
        return tuple(out + [1] if len(out) == 1 else out)

    @staticmethod
    def _view(t, axis, left):
        """(B, M, K) for the left operand / (B, K, N) for the right one, with its transpose flag."""
        if t.ndim == 2:  # (B, k): a row (1, k) on the left, a column (k, 1) on the right
            return t.reshape([t.shape[0], 1, t.shape[1]] if left else [t.shape[0], t.shape[1], 1]), False
        # rank 3: left wants K last (axis 2: as stored); right wants K first (axis 1: as stored)
        return t, (axis == 1) if left else (axis == 2)

    def forward(self, inputs, training=False):
        x1, x2 = _as_float32(inputs)
        shapes, (a1, a2) = self._plan([tuple(x1.shape), tuple(x2.shape)])
        self._in_shapes, self._axes_used = shapes, (a1, a2)
        if self.normalize:
            x1, x2 = self._l2_normalize(x1, a1, 0), self._l2_normalize(x2, a2, 1)
        (v1, t1), (v2, t2) = self._view(x1, a1, True), self._view(x2, a2, False)
        self._ops = (v1, t1, v2, t2)
        out_shape = self.compute_output_shape(shapes)
        y = kernels.batched_matmul(v1, v2, trans_a=t1, trans_b=t2,
                                   out=self._buffer("y", [v1.shape[0]] + self._mn(v1, t1, v2, t2)))
        return y.reshape([x1.shape[0]] + list(out_shape[1:]))

    @staticmethod
    def _mn(v1, t1, v2, t2):
        return [v1.shape[2] if t1 else v1.shape[1], v2.shape[1] if t2 else v2.shape[2]]

    def backward(self, dy):
        v1, t1, v2, t2 = self._ops
        g = dy.reshape([v1.shape[0]] + self._mn(v1, t1, v2, t2))
        bm = kernels.batched_matmul
        # y = op(A) op(B): d op(A) = g op(B)^T, d op(B) = op(A)^T g, stored back as A / B are
        d1 = (bm(v2, g, trans_a=t2, trans_b=True, out=self._buffer(("dv", 0), v1.shape)) if t1 else
              bm(g, v2, trans_b=not t2, out=self._buffer(("dv", 0), v1.shape)))
        d2 = (bm(g, v1, trans_a=True, trans_b=t1, out=self._buffer(("dv", 1), v2.shape)) if t2 else
              bm(v1, g, trans_a=not t1, out=self._buffer(("dv", 1), v2.shape)))
        grads = [d1.reshape(list(self._in_shapes[0])), d2.reshape(list(self._in_shapes[1]))]
        if self.normalize:
            grads = [self._l2_normalize_backward(g_, i) for i, g_ in enumerate(grads)]
        return grads

    # x_n = x / n, n = sqrt(max(sum_axis x^2, 1e-12)); dx = (g - x_n sum_axis(g x_n)) / n
    # (where the clamp is active n does not depend on x: the formula's second term is then
    # dropped by Keras' gradient too, up to the 1e-12 floor; not special-cased here)
    def _l2_normalize(self, x, axis, i):
        sq = kernels.unary_forward("square", x, out=self._buffer(("sq", i), x.shape))
        kshape = kernels.reduce_output_shape(x.shape, axis, keepdims=True)
        s = kernels.reduce_forward("sum", sq, axis, keepdims=True, out=self._buffer(("norm", i), kshape))
        kernels.binary_forward("maximum", s, kernels.as_tensor(_EPS), out=s)
        n = kernels.unary_forward("sqrt", s, out=s)
        xn = kernels.binary_forward("divide", x, n, out=self._buffer(("xn", i), x.shape))
        setattr(self, f"_norm{i}", (axis, n, xn))
        return xn

    def _l2_normalize_backward(self, g, i):
        axis, n, xn = getattr(self, f"_norm{i}")
        gx = kernels.binary_forward("multiply", g, xn, out=self._buffer(("gx", i), g.shape))
        s = kernels.reduce_forward("sum", gx, axis, keepdims=True, out=self._buffer(("gs", i), n.shape))
        t = kernels.binary_forward("multiply", xn, s, out=gx)
        d = kernels.binary_forward("subtract", g, t, out=self._buffer(("dn", i), g.shape))
        return kernels.binary_forward("divide", d, n, out=d)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(axes=self.axes, normalize=self.normalize)
        return cfg


_EPS = np.array([1e-12], np.float32)  # the squared-norm floor of Keras' l2_normalize
_EPS.flags.writeable = False


# ---- functional helpers (Keras: layers.add([a, b]) == Add()([a, b]))

def add(inputs, **kwargs):
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
