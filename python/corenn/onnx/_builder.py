"""The ONNX graph under construction, and the layout of every tensor in it.

corenn (like Keras) keeps images channels-last (N, H, W, C) and sequences batch-major (N, T, F);
ONNX's Conv / pooling ops want channels-first (N, C, H, W) and its RNN ops time-major (T, N, F).
Rather than wrap every layer in a pair of Transposes, each tensor of the ONNX graph carries its
*layout* relative to the Keras tensor it stands for:

    perm    ONNX axis j holds Keras axis perm[j]       (identity: the Keras layout itself)
    fperm   (rank 2 only) ONNX column j holds Keras column fperm[j]: what a Flatten of a
            channels-first tensor makes; a Dense after it permutes its kernel rows instead

A converter asks for the layout it needs (``Builder.in_layout``), which emits a Transpose (or a
Gather of columns) only when the tensor is not in it already, once per tensor and layout. Layout
agnostic ops (elementwise, padding, reductions, concatenation) work in whatever layout their
input has and remap axes and constants instead. Graph inputs and outputs are in the Keras layout,
so transposes appear at the edges of the graph and where a layer of one family feeds one of
another (a Conv1D after an LSTM).
"""
from __future__ import annotations

import numpy as np


class Value:
    """A tensor of the ONNX graph standing for a Keras tensor of ``shape`` (batch axis None)."""

    __slots__ = ("name", "shape", "perm", "fperm", "dtype")

    def __init__(self, name, shape, perm=None, fperm=None, dtype="float32"):
        self.name, self.shape = name, tuple(shape)
        self.perm = tuple(range(len(self.shape))) if perm is None else tuple(perm)
        self.fperm, self.dtype = fperm, dtype

    @property
    def rank(self):
        return len(self.shape)

    @property
    def is_plain(self):
        return self.perm == tuple(range(self.rank)) and self.fperm is None

    def axis(self, keras_axis):
        """The ONNX axis holding Keras axis ``keras_axis`` (negative counts from the end)."""
        return self.perm.index(keras_axis % self.rank)

    def onnx_shape(self):
        return [self.shape[p] for p in self.perm]


def identity(rank):
    return tuple(range(rank))


def channels_first(rank):
    """(N, spatial..., C) -> (N, C, spatial...)."""
    return (0, rank - 1) + tuple(range(1, rank - 1))


TIME_MAJOR = (1, 0, 2)


class Builder:
    """Collects nodes and initializers; names are unique; layout changes are cached."""

    def __init__(self, helper, numpy_helper, tensor_proto, opset):
        self.helper, self.numpy_helper, self.TensorProto = helper, numpy_helper, tensor_proto
        self.opset = opset
        self.nodes, self.initializers = [], []
        self._used, self._layouts = set(), {}

    # -- names, nodes, constants ------------------------------------------------------------

    def fresh(self, base):
        base = "".join(c if c.isalnum() or c in "_./-" else "_" for c in str(base)) or "t"
        name, k = base, 1
        while name in self._used:
            name, k = f"{base}_{k}", k + 1
        self._used.add(name)
        return name

    def op(self, op_type, inputs, base, n_out=1, **attrs):
        """Add one node; returns its output name (or list of names when n_out > 1)."""
        outs = [self.fresh(f"{base}/{op_type}" + (f"_{i}" if n_out > 1 else "")) for i in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs,
                                                name=self.fresh(f"{base}/{op_type}_node"), **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, array, base, dtype=np.float32):
        name = self.fresh(base)
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(array, dtype), name))
        return name

    def ints(self, values, base):
        return self.const(np.asarray(values, np.int64), base, np.int64)

    # -- opset-dependent spellings ----------------------------------------------------------

    def reduce(self, op_type, x, axes, keepdims, base):
        """ReduceMean / ReduceMax / ReduceSum over ``axes``: an attribute before opset 18 (13 for
        ReduceSum), an input from then on."""
        axes = [int(a) for a in axes]
        input_since = 13 if op_type == "ReduceSum" else 18
        if self.opset >= input_since:
            return self.op(op_type, [x, self.ints(axes, f"{base}/axes")], base, keepdims=int(keepdims))
        return self.op(op_type, [x], base, axes=axes, keepdims=int(keepdims))

    def squeeze(self, x, axes, base):
        return self.op("Squeeze", [x, self.ints(axes, f"{base}/axes")], base)

    def unsqueeze(self, x, axes, base):
        return self.op("Unsqueeze", [x, self.ints(axes, f"{base}/axes")], base)

    def slice(self, x, starts, ends, axes, base, steps=None):
        ins = [x, self.ints(starts, f"{base}/starts"), self.ints(ends, f"{base}/ends"),
               self.ints(axes, f"{base}/axes")]
        if steps is not None:
            ins.append(self.ints(steps, f"{base}/steps"))
        return self.op("Slice", ins, base)

    # -- layouts ----------------------------------------------------------------------------

    def in_layout(self, v: Value, perm):
        """The name of ``v``'s tensor in layout ``perm`` (no feature permutation)."""
        perm = tuple(perm)
        if v.fperm is None and v.perm == perm:
            return v.name
        key = (v.name, perm)
        if key not in self._layouts:
            name, have = v.name, v.perm
            if v.fperm is not None:   # back to Keras' column order: keras col k = onnx col inv[k]
                inv = np.argsort(v.fperm)
                name = self.op("Gather", [name, self.ints(inv, f"{v.name}/unpermute")], v.name, axis=1)
                have = identity(2)
            if have != perm:
                name = self.op("Transpose", [name], v.name, perm=[have.index(k) for k in perm])
            self._layouts[key] = name
        return self._layouts[key]

    def plain(self, v: Value):
        return self.in_layout(v, identity(v.rank))

    def keras_const(self, array, v: Value, base):
        """A constant given in Keras layout at ``v``'s rank (size 1 on broadcast axes), laid out
        like ``v`` so it broadcasts against it in the ONNX graph."""
        a = np.asarray(array, np.float32)
        a = a.reshape((1,) * (v.rank - a.ndim) + a.shape)
        a = np.transpose(a, v.perm)
        if v.fperm is not None and a.shape[1] != 1:
            a = a[:, v.fperm]
        return self.const(a, base)
