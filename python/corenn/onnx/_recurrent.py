"""SimpleRNN / LSTM / GRU / Bidirectional -> ONNX RNN / LSTM / GRU.

ONNX's recurrent ops are time-major: X (T, N, F) -> Y (T, directions, N, U), Y_h (directions, N,
U). The input is brought to the time-major layout (a Transpose only where the tensor is not
already in it: a stacked LSTM feeds the next one directly), a sequence output stays time-major.

Weights (corenn keeps Keras' layouts, recurrent.py):
    kernel (F, G*U), recurrent_kernel (U, G*U) -> W (D, G*U, F), R (D, G*U, U): transposed, with
    LSTM's gate blocks reordered from Keras' i, f, c, o to ONNX's i, o, f, c; GRU's z, r, h are
    ONNX's order already. B (D, 2*G*U) = [input bias, recurrent bias]: GRU reset_after=True keeps
    both of its rows (and sets linear_before_reset=1, the reset gate multiplying R h + Rb, as
    Keras does); the other cells have one bias, the recurrent half is zero.
go_backwards (a lone layer): Keras emits the outputs in processing order, i.e. reversed; the
exporter reverses the input along time and runs the forward direction. Bidirectional uses
direction="bidirectional", whose reverse half is in input order, as corenn's backward layer is.
"""
from __future__ import annotations

import numpy as np

from ._builder import TIME_MAJOR, Value
from ._convert import unsupported

_ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu"}
_LSTM_ORDER = (0, 3, 1, 2)     # ONNX i, o, f, c taken from Keras i, f, c, o


def _cell_weights(layer):
    """(W, R, B) of one direction in ONNX layout: (G*U, F), (G*U, U), (2*G*U,)."""
    u, g = layer.units, layer._gates
    w = np.asarray(layer.kernel, np.float32).T
    r = np.asarray(layer.recurrent_kernel, np.float32).T
    if layer.use_bias:
        bias = np.asarray(layer.bias, np.float32)
        bias = bias.reshape(-1) if bias.ndim == 2 else np.concatenate([bias, np.zeros_like(bias)])
    else:
        bias = np.zeros(2 * g * u, np.float32)
    if layer._cell == "lstm":
        def order(a):
            return np.concatenate([a[k * u:(k + 1) * u] for k in _LSTM_ORDER])
        w, r = order(w), order(r)
        bias = np.concatenate([order(bias[:4 * u]), order(bias[4 * u:])])
    return w, r, bias


def _activations(layer):
    names = [layer.activation.name] if layer._cell == "simple_rnn" else (
        [layer.recurrent_activation.name, layer.activation.name] +
        ([layer.activation.name] if layer._cell == "lstm" else []))
    for n in names:
        if n not in _ACTIVATIONS:
            raise unsupported(layer, f"recurrent activation {n!r} has no ONNX mapping "
                                     f"(one of {', '.join(_ACTIVATIONS)} is)")
    return [_ACTIVATIONS[n] for n in names]


def _rnn_node(b, layers, x, base, direction):
    """One ONNX recurrent node over time-major ``x`` for one layer or a (forward, backward)
    pair. Returns (Y, Y_h, Y_c or None)."""
    first = layers[0]
    parts = [_cell_weights(l) for l in layers]
    w = np.stack([p[0] for p in parts])
    r = np.stack([p[1] for p in parts])
    bias = np.stack([p[2] for p in parts])
    acts = sum((_activations(l) for l in layers), [])
    op_type = {"simple_rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[first._cell]
    attrs = dict(hidden_size=first.units, direction=direction, activations=acts)
    if first._cell == "gru":
        attrs["linear_before_reset"] = int(first._reset_after)
    n_out = 3 if first._cell == "lstm" else 2
    outs = b.op(op_type, [x, b.const(w, f"{base}/W"), b.const(r, f"{base}/R"), b.const(bias, f"{base}/B")],
                base, n_out=n_out, **attrs)
    return outs[0], outs[1], outs[2] if n_out == 3 else None


def convert_rnn(b, layer, xs, node):
    v = xs[0]
    base = layer.name
    x = b.in_layout(v, TIME_MAJOR)
    if layer.go_backwards:
        x = b.slice(x, [-1], [-(2 ** 63)], [0], f"{base}/reverse", steps=[-1])
    y, h, c = _rnn_node(b, [layer], x, base, "forward")
    shapes = [o.shape for o in node.outputs]
    if layer.return_sequences:
        out = Value(b.squeeze(y, [1], base), shapes[0], TIME_MAJOR)
    else:
        out = Value(b.squeeze(h, [0], base), shapes[0])
    if not layer.return_state:
        return [out]
    states = [Value(b.squeeze(h, [0], f"{base}/h"), shapes[1])]
    if c is not None:
        states.append(Value(b.squeeze(c, [0], f"{base}/c"), shapes[2]))
    return [out] + states


def convert_bidirectional(b, layer, xs, node):
    v = xs[0]
    fwd, bwd = layer.forward_layer, layer.backward_layer
    if (type(fwd), fwd.units, _activations(fwd), getattr(fwd, "_reset_after", None)) != \
            (type(bwd), bwd.units, _activations(bwd), getattr(bwd, "_reset_after", None)):
        raise unsupported(layer, "forward and backward layers of different kinds or settings")
    base = layer.name
    y, h, _ = _rnn_node(b, [fwd, bwd], b.in_layout(v, TIME_MAJOR), base, "bidirectional")
    u = fwd.units
    if layer.return_sequences:     # Y (T, 2, N, U)
        both, dir_axis, perm = y, 1, TIME_MAJOR
        concat_shape = [0, 0, 2 * u]
        to_concat = [0, 2, 1, 3]   # (T, N, 2, U)
    else:                          # Y_h (2, N, U)
        both, dir_axis, perm = h, 0, (0, 1)
        concat_shape = [0, 2 * u]
        to_concat = [1, 0, 2]      # (N, 2, U)
    shapes = [o.shape for o in node.outputs]
    if layer.merge_mode == "concat":
        t = b.op("Transpose", [both], base, perm=to_concat)
        return [Value(b.op("Reshape", [t, b.ints(concat_shape, f"{base}/shape")], base), shapes[0], perm)]
    halves = [b.squeeze(b.slice(both, [k], [k + 1], [dir_axis], f"{base}/dir{k}"), [dir_axis], f"{base}/dir{k}")
              for k in (0, 1)]
    if layer.merge_mode is None:
        return [Value(halves[0], shapes[0], perm), Value(halves[1], shapes[1], perm)]
    if layer.merge_mode == "mul":
        y = b.op("Mul", halves, base)
    else:
        y = b.op("Add", halves, base)
        if layer.merge_mode == "ave":
            y = b.op("Mul", [y, b.const(np.float32(0.5), f"{base}/half")], base)
    return [Value(y, shapes[0], perm)]
