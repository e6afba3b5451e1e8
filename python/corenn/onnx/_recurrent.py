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
initial_state (the node's extra inputs, (N, U) each) becomes initial_h / initial_c (D, N, U);
return_state reads Y_h / Y_c. A stateful layer is refused: its states live between predict
calls, which an ONNX graph does not keep. recurrent_dropout and dropout act in training only.
"""
from __future__ import annotations

import numpy as np

from ._builder import TIME_MAJOR, Value
from ._convert import unsupported

_ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu"}
_LSTM_ORDER = (0, 3, 1, 2)     # ONNX i, o, f, c taken from Keras i, f, c, o


def _check(layer):
    """The fused cell of ``layer`` (SimpleRNN / LSTM / GRU / RNN of a built-in cell)."""
    from ..layers.rnn_cells import _Cell
    cell = getattr(layer, "cell", None)
    if not isinstance(cell, _Cell):
        raise unsupported(layer, f"an RNN of {type(cell).__name__} has no ONNX recurrent op (RNN of "
                                 "SimpleRNNCell, LSTMCell or GRUCell has)")
    if layer.stateful:
        raise unsupported(layer, "stateful=True carries states between predict calls, which an ONNX "
                                 "graph cannot keep; export a copy with stateful=False and pass the "
                                 "states as initial_state inputs")
    return cell


def _cell_weights(layer):
    """(W, R, B) of one direction in ONNX layout: (G*U, F), (G*U, U), (2*G*U,)."""
    cell = _check(layer)
    u, g = cell.units, cell._gates
    layer = cell
    w = np.asarray(layer.kernel, np.float32).T
    r = np.asarray(layer.recurrent_kernel, np.float32).T
    if layer.use_bias:
        bias = np.asarray(layer.bias, np.float32)
        bias = bias.reshape(-1) if bias.ndim == 2 else np.concatenate([bias, np.zeros_like(bias)])
    else:
        bias = np.zeros(2 * g * u, np.float32)
    if layer._kind == "lstm":
        def order(a):
            return np.concatenate([a[k * u:(k + 1) * u] for k in _LSTM_ORDER])
        w, r = order(w), order(r)
        bias = np.concatenate([order(bias[:4 * u]), order(bias[4 * u:])])
    return w, r, bias


def _activations(layer):
    cell = _check(layer)
    names = [cell.activation.name] if cell._kind == "simple_rnn" else (
        [cell.recurrent_activation.name, cell.activation.name] +
        ([cell.activation.name] if cell._kind == "lstm" else []))
    for n in names:
        if n not in _ACTIVATIONS:
            raise unsupported(layer, f"recurrent activation {n!r} has no ONNX mapping "
                                     f"(one of {', '.join(_ACTIVATIONS)} is)")
    return [_ACTIVATIONS[n] for n in names]


def _rnn_node(b, layers, x, base, direction, initial=None, lens=None):
    """One ONNX recurrent node over time-major ``x`` for one layer or a (forward, backward)
    pair, from ``initial`` ([initial_h] or [initial_h, initial_c] names, (D, N, U)) when given.
    Returns (Y, Y_h, Y_c or None)."""
    first = _check(layers[0])
    parts = [_cell_weights(l) for l in layers]
    w = np.stack([p[0] for p in parts])
    r = np.stack([p[1] for p in parts])
    bias = np.stack([p[2] for p in parts])
    acts = sum((_activations(l) for l in layers), [])
    op_type = {"simple_rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[first._kind]
    attrs = dict(hidden_size=first.units, direction=direction, activations=acts)
    if first._kind == "gru":
        attrs["linear_before_reset"] = int(first._reset_after)
    n_out = 3 if first._kind == "lstm" else 2
    ins = [x, b.const(w, f"{base}/W"), b.const(r, f"{base}/R"), b.const(bias, f"{base}/B")]
    if initial or lens is not None:
        ins += [lens or ""] + list(initial or [])   # no sequence_lens: every sequence is T long
    outs = b.op(op_type, ins, base, n_out=n_out, **attrs)
    return outs[0], outs[1], outs[2] if n_out == 3 else None


def _initial(b, per_direction, base):
    """initial_h (and initial_c) (D, N, U) from each direction's (N, U) state Values."""
    if not per_direction or not per_direction[0]:
        return None
    out = []
    for k in range(len(per_direction[0])):
        parts = [b.unsqueeze(b.plain(states[k]), [0], f"{base}/state{k}") for states in per_direction]
        out.append(parts[0] if len(parts) == 1 else b.op("Concat", parts, f"{base}/state{k}", axis=0))
    return out


def _convert_masked_rnn(b, layer, xs, node):
    """A recurrent layer reading a Keras mask: packed real steps, sequence_lens, unpacked
    outputs (_masks.py)."""
    from ._masks import Packed
    base = layer.name
    packed = Packed(b, xs[0], b.masks[0], base, reverse=layer.go_backwards)
    y, h, c = _rnn_node(b, [layer], packed.x, base, "forward", _initial(b, [xs[1:]], base), packed.lens)
    h = packed.final(h)
    c = packed.final(c) if c is not None else None
    shapes = [o.shape for o in node.outputs]
    if layer.return_sequences:
        out = Value(packed.unpack(b.squeeze(y, [1], base)), shapes[0])
    else:
        out = Value(b.squeeze(h, [0], base), shapes[0])
    return _with_states(b, layer, out, h, c, shapes, base)


def _with_states(b, layer, out, h, c, shapes, base):
    """[out], plus the final h (and c) squeezed to (batch, units) when the layer returns states."""
    if not layer.return_state:
        return [out]
    states = [Value(b.squeeze(h, [0], f"{base}/h"), shapes[1])]
    if c is not None:
        states.append(Value(b.squeeze(c, [0], f"{base}/c"), shapes[2]))
    return [out] + states


def convert_rnn(b, layer, xs, node):
    if getattr(b, "masks", None):
        return _convert_masked_rnn(b, layer, xs, node)
    v = xs[0]
    base = layer.name
    x = b.in_layout(v, TIME_MAJOR)
    if layer.go_backwards:
        x = b.slice(x, [-1], [-(2 ** 63)], [0], f"{base}/reverse", steps=[-1])
    y, h, c = _rnn_node(b, [layer], x, base, "forward", _initial(b, [xs[1:]], base))
    shapes = [o.shape for o in node.outputs]
    if layer.return_sequences:
        out = Value(b.squeeze(y, [1], base), shapes[0], TIME_MAJOR)
    else:
        out = Value(b.squeeze(h, [0], base), shapes[0])
    return _with_states(b, layer, out, h, c, shapes, base)


def convert_bidirectional(b, layer, xs, node):
    v = xs[0]
    fwd, bwd = layer.forward_layer, layer.backward_layer
    kinds = [(type(_check(l)), _check(l).units, _activations(l), _check(l)._reset_after) for l in (fwd, bwd)]
    if kinds[0] != kinds[1]:
        raise unsupported(layer, "forward and backward layers of different kinds or settings")
    base = layer.name
    n_f = len(xs[1:]) // 2
    initial = _initial(b, [xs[1:1 + n_f], xs[1 + n_f:]], base) if len(xs) > 1 else None
    packed = None
    if getattr(b, "masks", None):   # packed real steps (_masks.py); each direction unpacked apart
        from ._masks import Packed
        packed = Packed(b, v, b.masks[0], base)
        y, h, c = _rnn_node(b, [fwd, bwd], packed.x, base, "bidirectional", initial, packed.lens)
        h = packed.final(h)
        c = packed.final(c) if c is not None else None
        if layer.return_sequences:   # back to (T, 2, N, U) at the original steps, time-major
            dirs = [packed.unpack(b.squeeze(b.slice(y, [k], [k + 1], [1], f"{base}/ydir{k}"), [1], f"{base}/ydir{k}"),
                                  zero_masked=True) for k in (0, 1)]
            y = b.op("Transpose", [b.op("Concat", [b.unsqueeze(d, [1], base) for d in dirs], base, axis=1)],
                     base, perm=[2, 1, 0, 3])
    else:
        y, h, c = _rnn_node(b, [fwd, bwd], b.in_layout(v, TIME_MAJOR), base, "bidirectional", initial)
    u = _check(fwd).units
    if layer.return_sequences:     # Y (T, 2, N, U)
        both, dir_axis, perm = y, 1, TIME_MAJOR
        concat_shape = [0, 0, 2 * u]
        to_concat = [0, 2, 1, 3]   # (T, N, 2, U)
    else:                          # Y_h (2, N, U)
        both, dir_axis, perm = h, 0, (0, 1)
        concat_shape = [0, 2 * u]
        to_concat = [1, 0, 2]      # (N, 2, U)
    shapes = [o.shape for o in node.outputs]
    states = []
    if layer.return_state:         # forward h (, c), then backward h (, c)
        n_y = 2 if layer.merge_mode is None else 1
        per_dir = [h] + ([c] if c is not None else [])
        for k in (0, 1):
            for j, t in enumerate(per_dir):
                name = b.squeeze(b.slice(t, [k], [k + 1], [0], f"{base}/state{k}{j}"), [0], f"{base}/state{k}{j}")
                states.append(Value(name, shapes[n_y + len(states)]))
    if layer.merge_mode == "concat":
        t = b.op("Transpose", [both], base, perm=to_concat)
        return [Value(b.op("Reshape", [t, b.ints(concat_shape, f"{base}/shape")], base), shapes[0], perm)] + states
    halves = [b.squeeze(b.slice(both, [k], [k + 1], [dir_axis], f"{base}/dir{k}"), [dir_axis], f"{base}/dir{k}")
              for k in (0, 1)]
    if layer.merge_mode is None:
        return [Value(halves[0], shapes[0], perm), Value(halves[1], shapes[1], perm)] + states
    if layer.merge_mode == "mul":
        y = b.op("Mul", halves, base)
    else:
        y = b.op("Add", halves, base)
        if layer.merge_mode == "ave":
            y = b.op("Mul", [y, b.const(np.float32(0.5), f"{base}/half")], base)
    return [Value(y, shapes[0], perm)] + states
