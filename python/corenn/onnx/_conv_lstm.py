"""ConvLSTM1D / 2D / 3D -> ONNX Conv nodes unrolled over the (static) steps.

ONNX has no convolutional LSTM, so the recurrence is written out step by step, as corenn's layer
computes it (layers/conv_lstm.py), channels-first inside:
    z_all = Conv(x viewed (N*T, C, *S), kernel (4F, C, *K)) + bias   one Conv for all T steps
    step s reads t = s (T-1-s with go_backwards):
        z = z_all[:, t] + Conv(h, recurrent_kernel (4F, F, *K); 'same', stride 1)  (no recurrent
            conv at the first step, where h = 0, unless initial states are given)
        [i f g o] = [ract(zi) ract(zf) act(zg) ract(zo)]    Keras' gate order i, f, c, o
        c' = f c + i g,  h' = o act(c')
return_sequences stacks the h of the steps in processing order (reversed with go_backwards, as
Keras returns them); return_state adds the last h and c; initial_state (the node's extra inputs
[h0, c0]) seeds the first step. A Keras mask (from Masking) is corenn's RNN masking: at a masked
step a sample keeps its h and c (Where on the step's mask) and repeats its previous output (zeros
before its first real step, even from a given h0). Refused by name: stateful=True (states kept
between predict calls), channels_first (the generic check).
"""
from __future__ import annotations

import numpy as np

from ._builder import Value, channels_first
from ._convert import _pads, _same_pads, activation, unsupported


def convert_conv_lstm(b, layer, xs, node):
    if layer.stateful:
        raise unsupported(layer, "stateful=True carries states between predict calls, which an ONNX graph "
                                 "cannot keep; export a copy with stateful=False and pass initial_state inputs")
    v = xs[0]
    rank = v.rank                          # Keras (N, T, *S, C)
    steps = v.shape[1]
    if steps is None:
        raise unsupported(layer, "the number of steps must be known at export (the steps are unrolled)")
    spatial, c, f = v.shape[2:-1], v.shape[-1], layer.filters
    base = layer.name
    k = np.asarray(layer.kernel, np.float32)            # (*K, C, 4F)
    rk = np.asarray(layer.recurrent_kernel, np.float32)  # (*K, F, 4F)
    ns = len(spatial)
    to_onnx = (ns + 1, ns) + tuple(range(ns))           # -> (4F, C, *K)
    bias = np.asarray(layer.bias, np.float32) if layer.use_bias else np.zeros(4 * f, np.float32)
    kernel = list(layer.kernel_size)
    # all steps' input convolutions at once: (N, T, *S, C) -> (N*T, C, *S) -> (N*T, 4F, *OS)
    x = b.op("Transpose", [b.plain(v)], base, perm=[0, 1, rank - 1] + list(range(2, rank - 1)))
    x = b.op("Reshape", [x, b.ints([-1, c] + list(spatial), f"{base}/frames")], base)
    z_all = b.op("Conv", [x, b.const(np.transpose(k, to_onnx), f"{base}/kernel"), b.const(bias, f"{base}/bias")],
                 base, kernel_shape=kernel, strides=list(layer.strides), dilations=list(layer.dilation_rate),
                 pads=_pads(layer, spatial, kernel, layer.strides, layer.dilation_rate))
    out_spatial = tuple(node.outputs[0].shape[-1 - ns:-1])
    z_all = b.op("Reshape", [z_all, b.ints([-1, steps, 4 * f] + list(out_spatial), f"{base}/steps")], base)
    rpairs = [_same_pads(n, kk, 1, 1) for n, kk in zip(out_spatial, kernel)]
    rpads = [p[0] for p in rpairs] + [p[1] for p in rpairs]
    rkernel = b.const(np.transpose(rk, to_onnx), f"{base}/recurrent_kernel")
    cf = channels_first(ns + 2)
    state_shape = (None,) + out_spatial + (f,)
    h = c_state = None
    if len(xs) > 1:   # initial_state [h0, c0], Keras (N, *OS, F)
        h, c_state = b.in_layout(xs[1], cf), b.in_layout(xs[2], cf)
    split = b.ints([f] * 4, f"{base}/gate_sizes")

    def act(name, t, what):
        return activation(b, name, 0.0, Value(t, state_shape, cf), f"{base}/{what}", layer).name

    ract, cact = layer.recurrent_activation.name, layer.activation.name
    keep = None
    if b.mask_slots and b.mask_slots[0] is not None:   # a Keras mask (N, T) on x: bool, per step below
        keep = b.op("Cast", [b.plain(b.mask_slots[0])], f"{base}/mask", to=b.TensorProto.BOOL)
        zero = b.const(np.float32(0.0), f"{base}/zero")
    hs, y_prev = [], None
    for s in range(steps):
        t = steps - 1 - s if layer.go_backwards else s
        z = b.op("Gather", [z_all, b.ints([t], f"{base}/t{t}")], base, axis=1)
        z = b.squeeze(z, [1], base)                                              # (N, 4F, *OS)
        if h is not None:
            r = b.op("Conv", [h, rkernel], base, kernel_shape=kernel, pads=rpads)
            z = b.op("Add", [z, r], base)
        zi, zf, zg, zo = b.op("Split", [z, split], base, n_out=4, axis=1)
        i, g, o = act(ract, zi, "i"), act(cact, zg, "g"), act(ract, zo, "o")
        ig = b.op("Mul", [i, g], base)
        c_new = ig if c_state is None else b.op("Add", [b.op("Mul", [act(ract, zf, "f"), c_state], base), ig], base)
        h_new = b.op("Mul", [o, act(cact, c_new, "c")], base)
        if keep is None:
            h, c_state = h_new, c_new
            hs.append(h)
            continue
        # masked samples keep their states; their output repeats the last one (zeros before the first)
        k = b.unsqueeze(b.op("Gather", [keep, b.ints([t], f"{base}/m{t}")], base, axis=1), list(range(2, ns + 2)),
                        base)                                                    # (N, 1, 1, ...)
        h = b.op("Where", [k, h_new, zero if h is None else h], base)
        c_state = b.op("Where", [k, c_new, zero if c_state is None else c_state], base)
        y_prev = b.op("Where", [k, h_new, zero if y_prev is None else y_prev], base)
        hs.append(y_prev)
    if layer.return_sequences:
        y = b.op("Concat", [b.unsqueeze(hh, [1], base) for hh in hs], base, axis=1)   # (N, T, F, *OS)
        out = Value(y, node.outputs[0].shape, (0, 1, rank - 1) + tuple(range(2, rank - 1)))
    else:
        out = Value(hs[-1], node.outputs[0].shape, cf)
    if layer.return_state:
        return [out, Value(h, node.outputs[1].shape, cf), Value(c_state, node.outputs[2].shape, cf)]
    return [out]


__all__ = ["convert_conv_lstm"]
