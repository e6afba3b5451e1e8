"""Recurrent layers: SimpleRNN, LSTM, GRU and the Bidirectional wrapper.

Shape legend: N batch, T timesteps, F features, U units. Inputs are (N, T, F), batch-major as in
Keras. Weights use the Keras layouts and order, so Keras weights load with ``set_weights``:
    SimpleRNN  kernel (F, U),  recurrent_kernel (U, U),  bias (U,)
    LSTM       kernel (F, 4U), recurrent_kernel (U, 4U), bias (4U,)    gates i, f, c, o
    GRU        kernel (F, 3U), recurrent_kernel (U, 3U), bias (2, 3U)  gates z, r, h (reset_after)
                                                           bias (3U,)     (reset_after=False)
As in Keras 3, each layer is an ``RNN`` (rnn_cells.py) of its cell (SimpleRNNCell, LSTMCell,
GRUCell), which owns the weights; the layer reads the cell's options and weights as its own
attributes (``lstm.units``, ``lstm.kernel``). So there is one implementation of everything
around the cell: the fused path (the whole sequence in one kernel call,
corenn.kernels.rnn_forward, and backpropagation through time in one more, rnn_backward; the math
is in csrc/ops/rnn.h), initial_state and its gradients, return_state, masks, stateful, dropout;
and the stepwise path (the cell's call per step under a tape) for what the kernels lack
(recurrent_dropout in training, other activations).
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from .base import Layer, snake_case, unique_name
from .rnn_cells import RNN, GRUCell, LSTMCell, SimpleRNNCell, _as_state_list, _state_sizes

__all__ = ["SimpleRNN", "LSTM", "GRU", "Bidirectional"]

# Layer (not cell) keyword arguments of SimpleRNN / LSTM / GRU
_LAYER_ARGS = ("name", "trainable", "dtype", "input_shape", "input_dim", "batch_size",
               "batch_input_shape", "activity_regularizer")
_RNN_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
             "zero_output_for_mask")


def _cell_property(name):
    """``layer.<name>`` reads the cell's (Keras 3's LSTM.units, ... are the same properties)."""
    return property(lambda self: getattr(self.cell, name), doc=f"The cell's {name}.")


class _CellRNN(RNN):
    """Shared body of SimpleRNN / LSTM / GRU: an RNN of a new ``_cell_class`` cell, built from the
    layer's cell arguments. Its config is Keras' flat one (no 'cell' entry)."""

    _cell_class = None

    def __init__(self, units, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        layer_kwargs = {k: kwargs.pop(k) for k in _LAYER_ARGS if k in kwargs}
        # Keras' choices of implementation: the fused kernels or the stepwise path are picked here
        kwargs.pop("implementation", None)
        kwargs.pop("use_cudnn", None)
        kind, cell_kind = type(self).__name__, self._cell_class.__name__
        # named first, so that an error of the cell's arguments names this layer
        name = layer_kwargs["name"] = layer_kwargs.get("name") or unique_name(snake_case(kind))
        try:
            if layer_kwargs.get("dtype") is not None:   # the cell owns the weights: their dtype (float64)
                kwargs["dtype"] = layer_kwargs["dtype"]
            cell = self._cell_class(units, name=snake_case(cell_kind),
                                    trainable=layer_kwargs.get("trainable", True), **kwargs)
        except (TypeError, ValueError, NotImplementedError) as exc:
            msg = str(exc).replace(f"{cell_kind} '{snake_case(cell_kind)}'", f"{kind} '{name}'")
            raise type(exc)(msg.replace(f"{cell_kind}:", f"{kind} '{name}':")) from None
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask, **layer_kwargs)

    units = _cell_property("units")
    activation = _cell_property("activation")
    recurrent_activation = _cell_property("recurrent_activation")
    use_bias = _cell_property("use_bias")
    kernel_initializer = _cell_property("kernel_initializer")
    recurrent_initializer = _cell_property("recurrent_initializer")
    bias_initializer = _cell_property("bias_initializer")
    kernel_regularizer = _cell_property("kernel_regularizer")
    recurrent_regularizer = _cell_property("recurrent_regularizer")
    bias_regularizer = _cell_property("bias_regularizer")
    kernel_constraint = _cell_property("kernel_constraint")
    recurrent_constraint = _cell_property("recurrent_constraint")
    bias_constraint = _cell_property("bias_constraint")
    dropout = _cell_property("dropout")
    recurrent_dropout = _cell_property("recurrent_dropout")
    seed = _cell_property("seed")
    kernel = _cell_property("kernel")
    recurrent_kernel = _cell_property("recurrent_kernel")
    bias = _cell_property("bias")

    def get_config(self):
        cfg = Layer.get_config(self)
        cell_cfg = self.cell.get_config()
        for k in ("name", "trainable"):
            cell_cfg.pop(k, None)
        cfg.update(cell_cfg)
        cfg.update({k: getattr(self, k) for k in _RNN_ARGS})
        return cfg

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class SimpleRNN(_CellRNN):
    """Fully connected recurrent layer: h_t = act(x_t W + h_{t-1} R + b), h_0 = 0 or the
    initial state.

    Args (Keras): units, activation ('tanh'), use_bias, kernel_initializer ('glorot_uniform'),
    recurrent_initializer ('orthogonal'), bias_initializer, *_regularizer, activity_regularizer,
    dropout (on the inputs, one mask per sequence), recurrent_dropout (on h in the recurrent
    product, one mask per sequence; training only), return_sequences (all h_t, else the last),
    return_state ([output, h]), go_backwards (read the sequence from the end; the output
    sequence comes out reversed, as in Keras), stateful, seed (of the dropout masks).
    Call: ``layer(x, initial_state=[h0], mask=m, training=...)``.
    Reference: Elman, "Finding structure in time", 1990.
    """

    _cell_class = SimpleRNNCell


class LSTM(_CellRNN):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997), Keras formulation:

        [zi zf zg zo] = x_t W + h_{t-1} R + b
        i, f, o = recurrent_activation(zi, zf, zo),  g = activation(zg)
        c_t = f c_{t-1} + i g,  h_t = o activation(c_t)

    Args: as SimpleRNN, plus recurrent_activation ('sigmoid') and unit_forget_bias (True: the
    forget-gate bias starts at 1, Jozefowicz et al. 2015). return_state gives [output, h, c];
    initial_state is [h0, c0].
    """

    _cell_class = LSTMCell
    unit_forget_bias = _cell_property("unit_forget_bias")


class GRU(_CellRNN):
    """Gated recurrent unit (Cho et al., 2014). Keras' reset_after=True (cuDNN, the default):

        [xz xr xh] = x_t W + b[0],  [rz rr rh] = h_{t-1} R + b[1]
        z = recurrent_activation(xz + rz),  r = recurrent_activation(xr + rr)
        hh = activation(xh + r * rh),  h_t = z h_{t-1} + (1 - z) hh

    reset_after=False (Keras 2's original GRU): bias (3U,), no recurrent bias, and the reset gate
    multiplies h before the recurrent product:

        [xz xr xh] = x_t W + b,  z = ract(xz + h Rz),  r = ract(xr + h Rr)
        hh = activation(xh + (r * h) Rh),  h_t = z h_{t-1} + (1 - z) hh

    Args: as LSTM without unit_forget_bias, plus reset_after.
    """

    _cell_class = GRUCell
    reset_after = _cell_property("reset_after")


_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _deserialize(config):
    cls = {c.__name__: c for c in (SimpleRNN, LSTM, GRU, RNN)}.get(config.get("class_name"))
    if cls is not None:
        return cls.from_config(dict(config.get("config", {})))
    from . import deserialize
    return deserialize(config)


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards over the sequence and merges
    the two outputs (Keras semantics).

    The backward copy has go_backwards=True; with return_sequences its output is put back in
    input order before merging, so y[:, t] pairs both directions at timestep t.
        concat  [y_f, y_b] on the last axis (2U)     sum  y_f + y_b
        mul     y_f * y_b                            ave  (y_f + y_b) / 2
        None    the two outputs [y_f, y_b]
    With return_state the call returns the merged output(s), then the forward layer's final
    states, then the backward layer's ([y, h_f, c_f, h_b, c_b] for an LSTM). ``initial_state``
    lists the forward layer's initial states, then the backward layer's.
    Weights: the forward layer's, then the backward layer's (Keras order).

    Args:
        layer: any RNN (SimpleRNN, LSTM, GRU, RNN(cell), a stateful one) with go_backwards=False.
        merge_mode: 'concat' | 'sum' | 'mul' | 'ave' | None.
        backward_layer: optional RNN to use as the backward direction (go_backwards=True, the
            same return_sequences / return_state as ``layer``).
    """

    _sublayer_attrs = ("forward_layer", "backward_layer")
    consumes_mask = True

    def _call_context(self, snapshot=False):
        ctx = super()._call_context(snapshot)
        ctx._params = ctx.forward_layer._params + ctx.backward_layer._params
        return ctx

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, RNN):
            raise ValueError(f"Bidirectional: layer must be a recurrent layer (SimpleRNN, LSTM, GRU, "
                             f"RNN), got {layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {_MERGE_MODES}, got "
                             f"{merge_mode!r}")
        if layer.go_backwards:
            raise ValueError("Bidirectional: the wrapped layer must have go_backwards=False (the "
                             "backward direction is made from it, or passed as backward_layer)")
        super().__init__(**kwargs)
        self.merge_mode = merge_mode
        self._given_backward = backward_layer is not None
        config = layer.get_config()
        # a config Keras 3 wrote names the wrapped layer "forward_<name>" already: not prefixed twice
        self.forward_layer = type(layer).from_config(dict(config, name="forward_" + layer.name.removeprefix("forward_")))
        if backward_layer is None:
            backward_layer = type(layer).from_config(dict(config, name="backward_" + layer.name,
                                                          go_backwards=True))
        elif not isinstance(backward_layer, RNN) or not backward_layer.go_backwards:
            raise ValueError("Bidirectional: backward_layer must be a recurrent layer with "
                             "go_backwards=True")
        for attr in ("return_sequences", "return_state", "stateful"):
            if getattr(backward_layer, attr) != getattr(layer, attr):
                raise ValueError(f"Bidirectional: backward_layer.{attr}={getattr(backward_layer, attr)} "
                                 f"differs from the forward layer's {getattr(layer, attr)}")
        self.backward_layer = backward_layer
        self.backward_layer._output_in_input_order = True
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.stateful = layer.stateful
        self._initial_weights = weights

    def __call__(self, inputs, initial_state=None, training=None, mask=None):
        states = _as_state_list(initial_state)
        if states:
            n_f, n_b = (len(_state_sizes(l.cell)) for l in (self.forward_layer, self.backward_layer))
            if len(states) != n_f + n_b:
                raise ValueError(f"Bidirectional '{self.name}': initial_state must hold {n_f + n_b} "
                                 f"tensors (the forward layer's {n_f}, then the backward layer's {n_b}), "
                                 f"got {len(states)}")
            inputs = [inputs] + states
            if mask is not None and not isinstance(mask, (list, tuple)):
                mask = [mask] + [None] * len(states)
        return super().__call__(inputs, training=training, mask=mask)

    def _split(self, items):
        """(x, forward states, backward states) of a packed input (or of its shapes)."""
        if not isinstance(items, list):
            return items, [], []
        n_f = len(_state_sizes(self.forward_layer.cell))
        return items[0], items[1:1 + n_f], items[1 + n_f:]

    def build(self, input_shape):
        x_shape, _, _ = self._split(input_shape)
        self.forward_layer.build(x_shape)
        self.backward_layer.build(x_shape)
        self._params = self.forward_layer._params + self.backward_layer._params
        super().build(input_shape)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def compute_output_shape(self, input_shape):
        x_shape, fs, bs = self._split(input_shape)
        f_out = self.forward_layer.compute_output_shape([x_shape] + fs if fs else x_shape)
        b_out = self.backward_layer.compute_output_shape([x_shape] + bs if bs else x_shape)
        (yf, *sf) = f_out if self.return_state else [f_out]
        (yb, *sb) = b_out if self.return_state else [b_out]
        if self.merge_mode is None:
            ys = [tuple(yf), tuple(yb)]
        elif self.merge_mode == "concat":
            ys = [tuple(yf[:-1]) + (yf[-1] + yb[-1],)]
        else:
            ys = [tuple(yf)]
        if not self.return_state and len(ys) == 1:
            return ys[0]
        return ys + [tuple(s) for s in sf + sb]

    def check_input_shape(self, shape):
        self.forward_layer.check_input_shape(shape)

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        return mask if self.return_sequences else None

    def reset_states(self, states=None):
        """Keras: reset both directions' carried states (``states``: the forward layer's, then
        the backward layer's)."""
        if states is None:
            self.forward_layer.reset_states()
            self.backward_layer.reset_states()
            return
        states = _as_state_list(states)
        n_f = len(_state_sizes(self.forward_layer.cell))
        self.forward_layer.reset_states(states[:n_f])
        self.backward_layer.reset_states(states[n_f:])

    reset_state = reset_states

    def forward(self, x, training=False):
        mask = self.__dict__.get("_call_mask")
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        x, fs, bs = self._split(x)
        self._packed = bool(fs)
        for sub in (self.forward_layer, self.backward_layer):
            sub.trainable = self.trainable
            sub.needs_input_grad = self.needs_input_grad
            if mask is not None:  # the kernels index the mask by input time: both directions fit
                sub.__dict__["_call_mask"] = mask
            else:
                sub.__dict__.pop("_call_mask", None)
        outs_f = self.forward_layer.forward([x] + fs if fs else x, training)
        outs_b = self.backward_layer.forward([x] + bs if bs else x, training)
        (yf, *sf) = outs_f if self.return_state else [outs_f]
        (yb, *sb) = outs_b if self.return_state else [outs_b]
        self._n_states = (len(sf), len(sb))
        self._x_shape = tuple(x.shape)
        # Keras sets zero_output_for_mask on both directions of a Bidirectional with
        # return_sequences: masked steps output 0 (a lone RNN repeats the previous h there)
        self._zero_mask = None
        if mask is not None and self.return_sequences:
            n, t = mask.shape
            self._zero_mask = mask.reshape([n, t, 1])
            kernels.binary_forward("multiply", yf, self._zero_mask, out=yf)
            kernels.binary_forward("multiply", yb, self._zero_mask, out=yb)
        if self.merge_mode is None:
            ys = [yf, yb]
        else:
            # the merge runs on the tensor-math kernels (concat / multiply / add / scale)
            shape = tuple(yf.shape[:-1]) + ((2 * yf.shape[-1],) if self.merge_mode == "concat" else (yf.shape[-1],))
            y = self._buffer("y", shape)
            if self.merge_mode == "concat":
                kernels.concat([yf, yb], axis=-1, out=y)
            elif self.merge_mode == "mul":
                kernels.binary_forward("multiply", yf, yb, out=y)
            else:
                kernels.binary_forward("add", yf, yb, out=y)
                if self.merge_mode == "ave":
                    kernels.scale(y, 0.5, out=y)
            ys = [y]
        self._yf, self._yb = yf, yb
        if not self.return_state and len(ys) == 1:
            return ys[0]
        return ys + sf + sb

    def backward(self, dy):
        dys = list(dy) if isinstance(dy, list) else [dy]
        n_y = 2 if self.merge_mode is None else 1
        dy_out, d_states = dys[:n_y], dys[n_y:]
        ns_f, ns_b = self.__dict__.get("_n_states", (0, 0))
        dsf, dsb = d_states[:ns_f], d_states[ns_f:ns_f + ns_b]
        shape = tuple(self._yf.shape)
        u = shape[-1]
        if self.merge_mode is not None and dy_out[0] is None:   # only the states were differentiated
            merged = shape[:-1] + ((u + self._yb.shape[-1],) if self.merge_mode == "concat" else (u,))
            dy_out = [kernels.zeros(merged)]
        if self.merge_mode is None:
            dyf, dyb = (d if d is not None else kernels.zeros(tuple(y.shape))
                        for d, y in zip(dy_out, (self._yf, self._yb)))
        elif self.merge_mode == "concat":   # the two directions may differ in units (backward_layer)
            ub = self._yb.shape[-1]
            dyf, dyb = kernels.split(dy_out[0], -1, [u, ub],
                                     outs=[self._buffer("dyf", shape), self._buffer("dyb", shape[:-1] + (ub,))])
        elif self.merge_mode == "mul":
            dyf = kernels.binary_forward("multiply", dy_out[0], self._yb, out=self._buffer("dyf", shape))
            dyb = kernels.binary_forward("multiply", dy_out[0], self._yf, out=self._buffer("dyb", shape))
        elif self.merge_mode == "ave":
            dyf = dyb = kernels.scale(dy_out[0], 0.5, out=self._buffer("dyf", shape))
        else:
            dyf = dyb = dy_out[0]
        if self._zero_mask is not None:
            dyf = kernels.binary_forward("multiply", dyf, self._zero_mask, out=self._buffer("dyf_m", shape))
            dyb = kernels.binary_forward("multiply", dyb, self._zero_mask,
                                         out=self._buffer("dyb_m", tuple(self._yb.shape)))
        gf = self.forward_layer.backward([dyf] + dsf if self.return_state else dyf)
        gb = self.backward_layer.backward([dyb] + dsb if self.return_state else dyb)
        if gf is None:
            return None
        (dxf, *dfs) = gf if isinstance(gf, list) else [gf]
        (dxb, *dbs) = gb if isinstance(gb, list) else [gb]
        dx = kernels.sum_n([dxf, dxb], out=self._buffer("dx", self._x_shape))
        return [dx] + dfs + dbs if self._packed else dx

    def flops(self, input_shape):
        x_shape = self._split(input_shape)[0]
        return self.forward_layer.flops(x_shape) + self.backward_layer.flops(x_shape)

    def get_config(self):
        from . import serialize
        cfg = super().get_config()
        layer_cfg = self.forward_layer.get_config()
        layer_cfg["name"] = layer_cfg["name"][len("forward_"):]
        cfg["layer"] = {"class_name": type(self.forward_layer).__name__, "config": layer_cfg}
        cfg["merge_mode"] = self.merge_mode
        if self._given_backward:
            cfg["backward_layer"] = serialize(self.backward_layer)
        return cfg

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = _deserialize(config["layer"])
        if "backward_layer" in config:
            config["backward_layer"] = _deserialize(config["backward_layer"])
        return cls(**config)
