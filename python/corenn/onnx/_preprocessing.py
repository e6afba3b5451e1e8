"""Keras preprocessing layers inside a model: Discretization, CategoryEncoding, IntegerLookup and
StringLookup, as standard ONNX ops plus ai.onnx.ml's LabelEncoder (a table lookup ONNX Runtime
runs; the only op outside the default domain, imported at version 2).

    Discretization  x -> sum_i (boundary_i <= x): the bucket index (int32 out, as the layer), as np.digitize. The
                    comparison runs in float64 (x cast to DOUBLE), as corenn compares, so a value
                    on a boundary lands where corenn puts it.
    encodings       one_hot / multi_hot / count of int64 indices over ``depth`` bins: Equal of
                    indices[..., None] with arange(depth) (one_hot), then ReduceMax / ReduceSum
                    over the tokens of a row (multi_hot / count), shaped as corenn's _encode
                    (text_preprocessing.py). An index outside [0, depth) is an error in corenn;
                    in the ONNX graph it encodes as zeros (a graph cannot raise).
    IntegerLookup   LabelEncoder vocabulary -> index (mask token -> 0), unknown tokens -> the OOV
                    index (num_oov_indices > 1: oov + token mod n, Keras' integer rule); invert
                    is a Gather from the vocabulary (reserved entries first).
    StringLookup    the same over an ONNX string tensor; num_oov_indices > 1 hashes unknown
                    strings with FarmHash64, which no ONNX op computes: refused by name.
With num_oov_indices=0 an unknown token is an error in corenn and index -1 in the ONNX graph.
tf_idf is count times the idf weights.
"""
from __future__ import annotations

import numpy as np

from ._builder import Value
from ._convert import _out, unsupported

ML_DOMAIN, ML_OPSET = "ai.onnx.ml", 2


def _int64(b, v, base):
    """``v`` (Keras layout) as int64: float inputs hold whole numbers (corenn checks them)."""
    x = b.plain(v)
    if str(v.dtype) == "int64":
        return x
    return b.op("Cast", [x], base, to=b.TensorProto.INT64)


def encode(b, idx, shape, depth, mode, base, weights=None):
    """corenn's _encode on the int64 tensor ``idx`` of Keras ``shape`` -> float32 name."""
    rank = len(shape)
    if mode == "one_hot" and rank == 2 and shape[1] == 1:
        idx, rank = b.squeeze(idx, [1], base), 1
    if mode != "one_hot" and rank == 1:
        idx, rank = b.unsqueeze(idx, [1], base), 2
    if mode != "one_hot" and rank != 2:
        raise NotImplementedError(f"ONNX export: layer '{base}': {mode} of a rank-{len(shape)} input "
                                  "(corenn encodes ranks 1 and 2)")
    hot = b.op("Cast", [b.op("Equal", [b.unsqueeze(idx, [rank], base), b.ints(np.arange(depth), f"{base}/bins")],
                             base)], base, to=b.TensorProto.FLOAT)
    if mode == "one_hot":
        return hot
    if mode == "multi_hot":
        return b.reduce("ReduceMax", hot, [1], False, base)
    y = b.reduce("ReduceSum", hot, [1], False, base)
    if weights is not None:   # tf_idf
        y = b.op("Mul", [y, b.const(weights, f"{base}/idf")], base)
    return y


def _encoded(b, layer, idx, in_shape, depth, mode, node, weights=None):
    if mode == "int":
        return [Value(idx, _out(node), dtype="int64")]
    y = encode(b, idx, in_shape, depth, "count" if mode == "tf_idf" else mode, layer.name, weights)
    return [Value(y, _out(node))]


def convert_discretization(b, layer, xs, node):
    if layer.bin_boundaries is None:
        raise unsupported(layer, "no bin_boundaries yet (give them or call adapt before exporting)")
    base, v = layer.name, xs[0]
    x = b.op("Cast", [b.plain(v)], base, to=b.TensorProto.DOUBLE)
    bounds = np.asarray(layer.bin_boundaries, np.float64)
    if bounds.size:
        at_or_above = b.op("LessOrEqual", [b.const(bounds, f"{base}/boundaries", np.float64),
                                           b.unsqueeze(x, [v.rank], base)], base)
        idx = b.reduce("ReduceSum", b.op("Cast", [at_or_above], base, to=b.TensorProto.INT64), [v.rank], False, base)
    else:   # one bucket: every index is 0
        idx = b.op("ConstantOfShape", [b.op("Shape", [x], base)], base,
                   value=b.numpy_helper.from_array(np.zeros(1, np.int64)))
    if layer.output_mode == "int":   # int32 indices, as the layer (Keras 3.15) gives them
        return [Value(b.op("Cast", [idx], base, to=b.TensorProto.INT32), _out(node), dtype="int32")]
    return _encoded(b, layer, idx, v.shape, layer._depth(), layer.output_mode, node)


def convert_category_encoding(b, layer, xs, node):
    v = xs[0]
    return _encoded(b, layer, _int64(b, v, layer.name), v.shape, layer.num_tokens, layer.output_mode, node)


def _label_encoder(b, x, keys, values, default, base, string_keys):
    b.domains[ML_DOMAIN] = ML_OPSET
    attrs = {"keys_strings" if string_keys else "keys_int64s": list(keys),
             "values_int64s": [int(i) for i in values], "default_int64": int(default)}
    return b.op("LabelEncoder", [x], base, domain=ML_DOMAIN, **attrs)


def convert_lookup(b, layer, xs, node):
    """IntegerLookup / StringLookup (see the module docstring)."""
    base, v = layer.name, xs[0]
    strings = type(layer).__name__ == "StringLookup"
    if layer.invert:
        return _invert(b, layer, v, node, strings)
    if not layer._tokens and layer.mask_token is None:
        raise unsupported(layer, "no vocabulary yet (set one or call adapt before exporting)")
    n_oov = layer.num_oov_indices
    if strings and n_oov > 1:
        raise unsupported(layer, f"num_oov_indices={n_oov}: unknown strings go to FarmHash64 buckets, "
                                 "which no ONNX op computes (num_oov_indices 0 or 1 export)")
    oov = 1 if layer.mask_token is not None else 0
    keys = list(layer._tokens)
    values = [layer._index[t] for t in keys]
    if layer.mask_token is not None:
        keys, values = [layer.mask_token] + keys, [0] + values
    if strings:
        x = b.plain(v)
        keys = [str(k).encode("utf-8") for k in keys]
    else:
        x = _int64(b, v, base)
    default = oov if n_oov == 1 else -1
    idx = _label_encoder(b, x, keys, values, default, base, strings)
    if n_oov > 1:   # integers: oov + token mod n where the table has no entry
        bucket = b.op("Add", [b.op("Mod", [x, b.ints(n_oov, f"{base}/n_oov")], base), b.ints(oov, f"{base}/oov")],
                      base)
        unknown = b.op("Equal", [idx, b.ints(-1, f"{base}/missing")], base)
        idx = b.op("Where", [unknown, bucket, idx], base)
    weights = layer._idf() if layer.output_mode == "tf_idf" else None
    return _encoded(b, layer, idx, v.shape, layer._depth(), layer.output_mode, node, weights)


def _invert(b, layer, v, node, strings):
    """index -> vocabulary entry (the reserved mask / OOV entries first): a Gather."""
    base = layer.name
    vocab = layer.get_vocabulary()
    if strings:
        table = b.fresh(f"{base}/vocabulary")
        b.initializers.append(b.helper.make_tensor(table, b.TensorProto.STRING, [len(vocab)],
                                                   [str(t).encode("utf-8") for t in vocab]))
        dtype = "string"
    else:
        table = b.ints(vocab, f"{base}/vocabulary")
        dtype = "int64"
    y = b.op("Gather", [table, _int64(b, v, base)], base, axis=0)
    return [Value(y, _out(node), dtype=dtype)]


__all__ = ["convert_category_encoding", "convert_discretization", "convert_lookup", "encode"]
