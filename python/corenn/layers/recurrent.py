"""Recurrent layers: SimpleRNN, LSTM, GRU and the Bidirectional wrapper.

Shape legend: N batch, T timesteps, F features, U units. Inputs are (N, T, F), batch-major as in
Keras. Weights use the Keras layouts and order, so Keras weights load with ``set_weights``:
    SimpleRNN  kernel (F, U),  recurrent_kernel (U, U),  bias (U,)
    LSTM       kernel (F, 4U), recurrent_kernel (U, 4U), bias (4U,)    gates i, f, c, o
    GRU        kernel (F, 3U), recurrent_kernel (U, 3U), bias (2, 3U)  gates z, r, h (reset_after)
                                                           bias (3U,)     (reset_after=False)
Each layer runs the whole sequence in one kernel call (corenn.kernels.rnn_forward) and
backpropagates through time in one more (corenn.kernels.rnn_backward); the math is in
csrc/ops/rnn.h. States start at zero (no initial_state, no stateful mode). With a Keras mask
(Embedding(mask_zero=True), Masking, or ``mask=`` (N, T)) a sample skips its masked steps: state
and output carry over (the kernels take the mask per step and sample); with return_sequences the
output keeps the mask.
"""
from __future__ import annotations

import numpy as np

from .. import activations as _activations
from .. import initializers, kernels, regularizers
from .base import Layer, shape_str

__all__ = ["SimpleRNN", "LSTM", "GRU", "Bidirectional"]

_KERNEL_ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear")


class _RNN(Layer):
    """Shared body of SimpleRNN / LSTM / GRU (``_cell`` names the kernel, ``_gates`` its G)."""

    _cell = ""
    _gates = 1
    consumes_mask = True
    _reset_after = True

    def compute_mask(self, inputs, mask=None):
        """Keras: a sequence output keeps the input's mask; the last state has none."""
        return mask if self.return_sequences else None

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{kind} '{self.name}': units must be a positive integer, got {units!r}")
        for arg, value in (("activity_regularizer", activity_regularizer),
                           ("kernel_constraint", kernel_constraint),
                           ("recurrent_constraint", recurrent_constraint),
                           ("bias_constraint", bias_constraint)):
            if value is not None:
                raise NotImplementedError(f"{kind} '{self.name}': {arg} is not supported")
        if stateful:
            raise NotImplementedError(f"{kind} '{self.name}': stateful=True is not supported")
        if recurrent_dropout:
            raise NotImplementedError(f"{kind} '{self.name}': recurrent_dropout is not supported "
                                      f"(dropout on the inputs is)")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"{kind} '{self.name}': dropout must be in [0, 1), got {dropout!r}")
        self.units = int(units)
        self.activation = _activations.get(activation)
        self.recurrent_activation = _activations.get(recurrent_activation)
        for arg, act in (("activation", self.activation),
                         ("recurrent_activation", self.recurrent_activation)):
            if act.name not in _KERNEL_ACTIVATIONS:
                raise NotImplementedError(
                    f"{kind} '{self.name}': {arg}={act.name!r} is not supported by the recurrent "
                    f"kernels; use one of {', '.join(_KERNEL_ACTIVATIONS)}")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.dropout = float(dropout)
        self.recurrent_dropout = 0.0
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)  # accepted for Keras compatibility: the kernel never unrolls
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)
        self._output_in_input_order = False  # set by Bidirectional on its backward layer
        self.kernel = self.recurrent_kernel = self.bias = None

    # -- weights ---------------------------------------------------------------------------

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _init_bias(self, bias):
        """Hook for LSTM's unit_forget_bias."""

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} '{self.name}' needs inputs of shape (batch, "
                             f"timesteps, features) with known features, got {shape_str(input_shape)}")
        gu = self._gates * self.units
        self.kernel = self.add_weight("kernel", (input_shape[-1], gu), self.kernel_initializer,
                                      self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, gu),
                                                self.recurrent_initializer,
                                                self.recurrent_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", self._bias_shape(), self.bias_initializer,
                                        self.bias_regularizer)
            self._init_bias(self.bias)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        n, t = input_shape[0], input_shape[1]
        y = (n, t, self.units) if self.return_sequences else (n, self.units)
        if self.return_state:  # [output, h] (+ c for an LSTM), as forward returns them
            return [y] + [(n, self.units)] * (2 if self._cell == "lstm" else 1)
        return y

    # -- forward / backward ------------------------------------------------------------------

    def _next_seed(self):
        if self._rng is not None:
            return int(self._rng.integers(0, 2**63, dtype=np.int64))
        from ..utils.random import next_seed
        return int(next_seed())

    def _options(self):
        return dict(go_backwards=self.go_backwards, activation=self.activation.name,
                    recurrent_activation=self.recurrent_activation.name,
                    output_in_input_order=self._output_in_input_order,
                    reset_after=self._reset_after, mask=self._mask_steps)

    def forward(self, x, training=False):
        n, t, f = x.shape
        u, gu = self.units, self._gates * self.units
        self._mask_steps = self.__dict__.get("_call_mask")
        if self._mask_steps is not None and tuple(self._mask_steps.shape) != (n, t):
            raise ValueError(f"{type(self).__name__} '{self.name}': mask must have shape ({n}, {t}) for "
                             f"inputs {tuple(x.shape)}, got {tuple(self._mask_steps.shape)}")
        self._dropped = bool(training) and self.dropout > 0.0
        if self._dropped:  # Keras: one mask per sample, the same at every timestep
            x, self._mask = kernels.spatial_dropout_forward(
                x, self.dropout, self._next_seed(), out=self._buffer("x_dropped", x.shape),
                mask=self._buffer("mask", (n, f)))
        stash = (self._buffer("gates", (n, t, gu)), self._buffer("hprev", (n, t, u)),
                 None if self._cell == "simple_rnn" else self._buffer("cells", (n, t, u)))
        y_shape = (n, t, u) if self.return_sequences else (n, u)
        y, h_n, c_n, self._stash = kernels.rnn_forward(
            self._cell, x, self.kernel, self.recurrent_kernel, self.bias,
            return_sequences=self.return_sequences, out=self._buffer("y", y_shape),
            states=self.return_state,
            h_n=self._buffer("h_n", (n, u)) if self.return_state else None,
            c_n=self._buffer("c_n", (n, u)) if self.return_state and self._cell == "lstm" else None,
            stash=stash, **self._options())
        self._x = x
        if self.return_state:
            return [y, h_n] + ([c_n] if c_n is not None else [])
        return y

    def backward(self, dy):
        x = self._x
        n, t, _ = x.shape
        gu = self._gates * self.units
        workspace = (self._buffer("dgates", (n, t, gu)),
                     self._buffer("dgates_rec", (n, t, gu)) if self._cell == "gru" and self._reset_after else None)
        grads = self.gradients if self.trainable else []
        dx, *_ = kernels.rnn_backward(
            self._cell, dy, x, self.kernel, self.recurrent_kernel, self._stash,
            dx=self._buffer("dx", x.shape), dkernel=grads[0] if grads else None,
            drecurrent_kernel=grads[1] if grads else None,
            dbias=grads[2] if grads and self.use_bias else None,
            input_grad=self.needs_input_grad, weight_grads=bool(grads), use_bias=self.use_bias,
            workspace=workspace, **self._options())
        if dx is None:
            return None
        if self._dropped:
            dx = kernels.spatial_dropout_backward(dx, self._mask, out=self._buffer("dx_in", x.shape))
        return dx

    # -- config ----------------------------------------------------------------------------

    def flops(self, input_shape):
        """Per step: the input and recurrent GEMMs (2*(D+U)*G*U), the bias and roughly 4 per
        gate value for the gate activations and state update."""
        steps, d = input_shape[1] or 1, input_shape[-1]
        g = self._gates * self.units
        return steps * (2 * (d + self.units) * g + (g if self.use_bias else 0) + 4 * g)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(units=self.units, activation=_activations.serialize(self.activation),
                   recurrent_activation=_activations.serialize(self.recurrent_activation),
                   use_bias=self.use_bias,
                   kernel_initializer=initializers.serialize(self.kernel_initializer),
                   recurrent_initializer=initializers.serialize(self.recurrent_initializer),
                   bias_initializer=initializers.serialize(self.bias_initializer),
                   kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
                   recurrent_regularizer=regularizers.serialize(self.recurrent_regularizer),
                   bias_regularizer=regularizers.serialize(self.bias_regularizer),
                   dropout=self.dropout, recurrent_dropout=self.recurrent_dropout,
                   return_sequences=self.return_sequences, return_state=self.return_state,
                   go_backwards=self.go_backwards, stateful=self.stateful, unroll=self.unroll,
                   seed=self.seed)
        return cfg


class SimpleRNN(_RNN):
    """Fully connected recurrent layer: h_t = act(x_t W + h_{t-1} R + b), h_0 = 0.

    Args (Keras): units, activation ('tanh'; also 'relu', 'sigmoid', 'linear'), use_bias,
    kernel_initializer ('glorot_uniform'), recurrent_initializer ('orthogonal'),
    bias_initializer, *_regularizer, dropout (on the inputs, one mask per sequence),
    return_sequences (all h_t, else the last), return_state ([output, h] when called eagerly),
    go_backwards (read the sequence from the end; the output sequence comes out reversed, as in
    Keras), seed (of the dropout masks).
    Reference: Elman, "Finding structure in time", 1990.
    """

    _cell = "simple_rnn"
    _gates = 1

    def __init__(self, units, activation="tanh", **kwargs):
        if "recurrent_activation" in kwargs:
            raise TypeError("SimpleRNN: unexpected keyword argument recurrent_activation")
        super().__init__(units, activation=activation, **kwargs)

    def get_config(self):
        cfg = super().get_config()
        del cfg["recurrent_activation"]
        return cfg


class LSTM(_RNN):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997), Keras formulation:

        [zi zf zg zo] = x_t W + h_{t-1} R + b
        i, f, o = recurrent_activation(zi, zf, zo),  g = activation(zg)
        c_t = f c_{t-1} + i g,  h_t = o activation(c_t)

    Args: as SimpleRNN, plus recurrent_activation ('sigmoid') and unit_forget_bias (True: the
    forget-gate bias starts at 1, Jozefowicz et al. 2015). return_state gives [output, h, c].
    """

    _cell = "lstm"
    _gates = 4

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _init_bias(self, bias):
        if self.unit_forget_bias:
            np.asarray(bias)[self.units:2 * self.units] = 1.0

    def get_config(self):
        cfg = super().get_config()
        cfg["unit_forget_bias"] = self.unit_forget_bias
        return cfg


class GRU(_RNN):
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

    _cell = "gru"
    _gates = 3

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = self._reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def get_config(self):
        cfg = super().get_config()
        cfg["reset_after"] = self.reset_after
        return cfg


_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _deserialize(config):
    cls = {c.__name__: c for c in (SimpleRNN, LSTM, GRU)}.get(config.get("class_name"))
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
        None    the list [y_f, y_b] (eager calls only)
    Weights: the forward layer's, then the backward layer's (Keras order).

    Args:
        layer: a SimpleRNN, LSTM or GRU instance (go_backwards=False, return_state=False).
        merge_mode: 'concat' | 'sum' | 'mul' | 'ave' | None.
        backward_layer: optional layer to use as the backward direction (go_backwards=True).
    """

    _sublayer_attrs = ("forward_layer", "backward_layer")

    def _call_context(self, snapshot=False):
        ctx = super()._call_context(snapshot)
        ctx._params = ctx.forward_layer._params + ctx.backward_layer._params
        return ctx

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, _RNN):
            raise ValueError(f"Bidirectional: layer must be a SimpleRNN, LSTM or GRU, got {layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {_MERGE_MODES}, got "
                             f"{merge_mode!r}")
        if layer.go_backwards or layer.return_state:
            raise NotImplementedError("Bidirectional: the wrapped layer must have go_backwards=False "
                                      "and return_state=False")
        super().__init__(**kwargs)
        self.merge_mode = merge_mode
        self._given_backward = backward_layer is not None
        config = layer.get_config()
        self.forward_layer = type(layer).from_config(dict(config, name="forward_" + layer.name))
        if backward_layer is None:
            backward_layer = type(layer).from_config(dict(config, name="backward_" + layer.name,
                                                          go_backwards=True))
        elif not isinstance(backward_layer, _RNN) or not backward_layer.go_backwards:
            raise ValueError("Bidirectional: backward_layer must be a recurrent layer with "
                             "go_backwards=True")
        self.backward_layer = backward_layer
        self.backward_layer._output_in_input_order = True
        self.return_sequences = layer.return_sequences
        self._initial_weights = weights

    def build(self, input_shape):
        self.forward_layer.build(input_shape)
        self.backward_layer.build(input_shape)
        self._params = self.forward_layer._params + self.backward_layer._params
        super().build(input_shape)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.compute_output_shape(input_shape)
        if self.merge_mode == "concat":
            return tuple(shape[:-1]) + (2 * shape[-1],)
        return tuple(shape)

    consumes_mask = True

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def forward(self, x, training=False):
        mask = self.__dict__.get("_call_mask")
        for sub in (self.forward_layer, self.backward_layer):
            sub.trainable = self.trainable
            sub.needs_input_grad = self.needs_input_grad
            if mask is not None:  # the kernels index the mask by input time: both directions fit
                sub.__dict__["_call_mask"] = mask
            else:
                sub.__dict__.pop("_call_mask", None)
        yf = self.forward_layer.forward(x, training)
        yb = self.backward_layer.forward(x, training)
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
            return [yf, yb]
        # the merge runs on the tensor-math kernels (concat / multiply / add / scale)
        y = self._buffer("y", self.compute_output_shape(tuple(x.shape)))
        if self.merge_mode == "concat":
            kernels.concat([yf, yb], axis=-1, out=y)
        elif self.merge_mode == "mul":
            kernels.binary_forward("multiply", yf, yb, out=y)
        else:
            kernels.binary_forward("add", yf, yb, out=y)
            if self.merge_mode == "ave":
                kernels.scale(y, 0.5, out=y)
        self._yf, self._yb = yf, yb
        return y

    def backward(self, dy):
        u = self.forward_layer.units
        shape = tuple(dy.shape[:-1]) + (u,)
        if self.merge_mode == "concat":
            dyf, dyb = kernels.split(dy, -1, [u, u], outs=[self._buffer("dyf", shape), self._buffer("dyb", shape)])
        elif self.merge_mode == "mul":
            dyf = kernels.binary_forward("multiply", dy, self._yb, out=self._buffer("dyf", shape))
            dyb = kernels.binary_forward("multiply", dy, self._yf, out=self._buffer("dyb", shape))
        elif self.merge_mode == "ave":
            dyf = dyb = kernels.scale(dy, 0.5, out=self._buffer("dyf", shape))
        else:
            dyf = dyb = dy
        if self._zero_mask is not None:
            dyf = kernels.binary_forward("multiply", dyf, self._zero_mask, out=self._buffer("dyf_m", shape))
            dyb = kernels.binary_forward("multiply", dyb, self._zero_mask, out=self._buffer("dyb_m", shape))
        dxf = self.forward_layer.backward(dyf)
        dxb = self.backward_layer.backward(dyb)
        if dxf is None:
            return None
        return kernels.sum_n([dxf, dxb], out=self._buffer("dx", self._x_shape))

    def flops(self, input_shape):
        return self.forward_layer.flops(input_shape) + self.backward_layer.flops(input_shape)

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
