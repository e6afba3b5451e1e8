"""Keras masks in the ONNX graph: Embedding(mask_zero=True) and Masking make one, recurrent
layers, GlobalAveragePooling1D and the attention layers read it (the attention converters in
_convert block masked query rows / key steps before their Softmax, as corenn's masked softmax).

A mask is a float (N, T) tensor, 1 for a real step, as in corenn's graph (models/graph.py).
Made from the producer's input: Embedding ``ids != 0``; Masking ``any(x != mask_value)`` over the
features ((N,) for an (N, F) input).

A masked recurrent layer skips the masked steps (its state carries over them) and, with
return_sequences, repeats its last output there (zeros before the first real step): Keras'
semantics, which corenn's kernels follow. ONNX's RNN / LSTM / GRU take per-sample lengths
(sequence_lens) of sequences that start at step 0, so the real steps are first packed to the
front in their order (ScatterElements to position cumsum(mask) - 1; masked steps to a spare step
T, dropped), run with sequence_lens = sum(mask), and the outputs are gathered back: step t takes
the packed output cumsum(mask)[t] - 1 (none before the first real step). Bidirectional's halves
are zeros at masked steps, as Keras makes them (its wrapped layers zero masked outputs), and its
backward direction (ONNX's reverse direction over the packed steps) is read at the same packed
index as the forward one. A sample with no real step
gets zero states and outputs (it runs one zero step, whose results are multiplied by 0).
"""
from __future__ import annotations

import numpy as np

from ._builder import Value

MASK_READERS = ("SimpleRNN", "LSTM", "GRU", "RNN", "Bidirectional", "GlobalAveragePooling1D",
                "MultiHeadAttention", "GroupedQueryAttention", "Attention", "AdditiveAttention",
                "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")


def mask_value(b, layer, xs, node):
    """The (N, T) float mask ``layer`` makes from its inputs."""
    base = f"{layer.name}/mask"
    kind = type(layer).__name__
    if kind == "Embedding":
        ids = b.plain(xs[0])
        kind_of = {"int32": np.int32, "int64": np.int64}.get(str(xs[0].dtype), np.float32)
        zero = b.const(np.zeros((), kind_of), f"{base}/zero", kind_of)
        real = b.op("Not", [b.op("Equal", [ids, zero], base)], base)
    elif kind == "Masking":
        x = b.plain(xs[0])
        differs = b.op("Cast", [b.op("Not", [b.op("Equal", [x, b.const(np.float32(layer.mask_value), f"{base}/value")],
                                                   base)], base)], base, to=b.TensorProto.FLOAT)
        kept = _masking_kept(xs[0].rank)
        axes = list(range(kept, xs[0].rank))
        return Value(b.reduce("ReduceMax", differs, axes, False, base), node.outputs[0].shape[:kept])
    else:
        raise NotImplementedError(f"ONNX export: layer '{layer.name}' ({kind}) makes a Keras mask, which is "
                                  "exported for Embedding(mask_zero=True) and Masking only")
    return Value(b.op("Cast", [real], base, to=b.TensorProto.FLOAT), node.outputs[0].shape[:2])


class Packed:
    """The real steps of each sample moved to the front: ``x`` (T, N, F) time-major, ``lens``
    (N,) int32 for sequence_lens, and what unpacking needs."""

    def __init__(self, b, v, mask, base, reverse=False):
        self.b, self.base = b, base
        x = b.plain(v)                                   # (N, T, F)
        m = b.plain(mask)                                # (N, T)
        if reverse:                                      # go_backwards: the steps (and mask) reversed first
            x = b.slice(x, [-1], [-(2 ** 63)], [1], f"{base}/reverse", steps=[-1])
            m = b.slice(m, [-1], [-(2 ** 63)], [1], f"{base}/reverse_mask", steps=[-1])
        t = v.shape[1]
        if t is None:
            raise NotImplementedError(f"ONNX export: layer '{base}': a masked sequence needs its length "
                                      "known at export")
        self.t, self.m = t, m
        one = b.const(np.float32(1.0), f"{base}/one")
        # real steps up to step t, inclusive
        self.pos = b.op("CumSum", [m, b.const(np.int64(1), f"{base}/axis", np.int64)], base)
        keep = b.op("Mul", [m, b.op("Sub", [self.pos, one], base)], base)
        dump = b.op("Mul", [b.op("Sub", [one, m], base), b.const(np.float32(t), f"{base}/spare")], base)
        idx = b.op("Cast", [b.op("Add", [keep, dump], base)], base, to=b.TensorProto.INT64)
        shape = b.op("Shape", [x], base)
        idx3 = b.op("Expand", [b.unsqueeze(idx, [2], base), shape], base)
        spare = b.op("ConstantOfShape", [b.op("Add", [shape, b.ints([0, 1, 0], f"{base}/plus_one")], base)], base)
        packed = b.op("ScatterElements", [spare, idx3, x], base, axis=1)
        packed = b.slice(packed, [0], [t], [1], f"{base}/packed")
        self.x = b.op("Transpose", [packed], base, perm=[1, 0, 2])   # (T, N, F)
        count = b.reduce("ReduceSum", m, [1], False, base)            # (N,)
        self.any = b.op("Cast", [b.op("Greater", [count, b.const(np.float32(0.0), f"{base}/zero")], base)],
                        base, to=b.TensorProto.FLOAT)
        self.lens = b.op("Cast", [b.op("Max", [count, one], base)], base, to=b.TensorProto.INT32)
        self.count = count

    def final(self, h):
        """A final state (D, N, U): zero for a sample without real steps."""
        b = self.b
        return b.op("Mul", [h, b.unsqueeze(self.any, [0, 2], self.base)], self.base)

    def unpack(self, y_dir, zero_masked=False):
        """One direction's packed outputs (T, N, U) time-major -> (N, T, U) at the original steps:
        step t takes packed output pos[t] - 1, the last real step's (zeros before the first);
        with ``zero_masked`` (Bidirectional's halves, as Keras) masked steps are zeros."""
        b, base = self.b, self.base
        yb = b.op("Transpose", [y_dir], base, perm=[1, 0, 2])        # (N, T, U)
        src = b.op("Sub", [self.pos, b.const(np.float32(1.0), f"{base}/one_u")], base)
        valid = self.m if zero_masked else b.op(
            "Cast", [b.op("Greater", [self.pos, b.const(np.float32(0.0), f"{base}/zero_u")], base)], base,
            to=b.TensorProto.FLOAT)
        src = b.op("Max", [src, b.const(np.float32(0.0), f"{base}/floor")], base)
        idx = b.op("Cast", [src], base, to=b.TensorProto.INT64)
        idx3 = b.op("Expand", [b.unsqueeze(idx, [2], base), b.op("Shape", [yb], base)], base)
        y = b.op("GatherElements", [yb, idx3], base, axis=1)
        return b.op("Mul", [y, b.unsqueeze(valid, [2], base)], base)


def _masking_kept(rank):
    """The axes a Masking mask keeps: (N,) of an (N, F) input, (N, T) of longer ones (layers/core.py)."""
    return 1 if rank == 2 else 2


def convert_masking(b, layer, xs, node):
    """Masking: x with its masked steps zeroed (Keras multiplies by the mask it makes)."""
    v = xs[0]
    m = mask_value(b, layer, xs, node)
    b.made_masks[id(node)] = m   # the node's mask output: _build takes it instead of making it again
    axes = list(range(_masking_kept(v.rank), v.rank))
    y = b.op("Mul", [b.plain(v), b.unsqueeze(m.name, axes, f"{layer.name}/steps")], layer.name)
    return [Value(y, node.outputs[0].shape)]


def masked_average_pool(b, v, mask, base):
    """GlobalAveragePooling1D over the real steps: sum(x m) / sum(m) (0 for no real step)."""
    x, m = b.plain(v), b.unsqueeze(b.plain(mask), [2], base)
    total = b.reduce("ReduceSum", b.op("Mul", [x, m], base), [1], False, base)
    count = b.op("Max", [b.reduce("ReduceSum", m, [1], False, base), b.const(np.float32(1.0), f"{base}/one")], base)
    return b.op("Div", [total, count], base)


__all__ = ["MASK_READERS", "Packed", "convert_masking", "mask_value", "masked_average_pool"]
