"""The Keras RNN cell API: SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells and the generic
``RNN(cell)`` layer.

A cell is the math of one timestep: ``cell(x_t, states) -> (output, new_states)`` with x_t (N, F)
and states a list of (N, S) Tensors (``state_size`` lists S per state). The three built-in cells own
kernel / recurrent_kernel / bias in the same layouts as SimpleRNN / LSTM / GRU (recurrent.py), so
``RNN(LSTMCell(u))`` with an LSTM's weights computes what ``LSTM(u)`` does.

``RNN`` runs a sequence through its cell in one of two ways:
- fused: a single built-in cell with kernel-supported activations runs the same one-call C++
  sequence kernels as LSTM / GRU / SimpleRNN (kernels.rnn_forward and rnn_backward) on the
  cell's own weights, from ``initial_state`` (the kernels' h0 / c0) when given; the backward
  returns the initial states' gradients (dh0 / dc0) and takes those of the returned final states
  (dL/dh_n joins dy at the last output, which is h_n; dL/dc_n seeds the LSTM's c chain);
- stepwise: anything else (a user-defined cell, StackedRNNCells, an activation the kernels lack,
  a training call with recurrent_dropout)
  runs the cell's ``call`` once per timestep in Python under a private GradientTape; its
  backward differentiates that record (every op of every step), so gradients reach the
  weights, the inputs and the initial states.
A single ``cell(x_t, states)`` call evaluates the cell's ``call`` with corenn.ops, eagerly or
recorded by an enclosing GradientTape.
"""
from __future__ import annotations

import numpy as np

from .. import activations as _activations
from .. import constraints, initializers, kernels, ops, regularizers
from .base import Layer, _keep_weight_grad_parts, shape_str

__all__ = ["SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells", "RNN"]

# the activations the fused sequence kernels implement (csrc/ops/rnn.h); any other runs stepwise
_KERNEL_ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear")


def _apply(activation, x):
    """An activation on a Tensor, recorded by the tape (ActivationFunction.__call__ is not)."""
    if activation.is_linear:
        return x
    return ops._activation(activation.name, x, alpha=activation.alpha)


def _state_sizes(cell):
    """A cell's state sizes as a flat list of ints (Keras: an int, or a list of them)."""
    size = getattr(cell, "state_size", None)
    if size is None:
        raise ValueError(f"RNN: the cell {type(cell).__name__} has no state_size attribute")
    sizes = list(size) if isinstance(size, (list, tuple)) else [size]
    flat = []
    for s in sizes:
        flat += _state_sizes_of(s)
    return flat


def _state_sizes_of(s):
    if isinstance(s, (list, tuple)):
        return [v for item in s for v in _state_sizes_of(item)]
    if not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s <= 0:
        raise ValueError(f"RNN: a cell's state_size entries must be positive integers, got {s!r}")
    return [int(s)]


def _output_size(cell):
    size = getattr(cell, "output_size", None)
    return int(size) if size is not None else _state_sizes(cell)[0]


def _shape_of(entry, what):
    """One state's (or output's) shape without the batch axis: an int, or a list / tuple /
    TensorShape-like of ints (a state of more than one axis, as Keras' nested cells have)."""
    if hasattr(entry, "as_list"):
        entry = entry.as_list()
    dims = list(entry) if isinstance(entry, (list, tuple)) else [entry]
    for d in dims:
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d <= 0:
            raise ValueError(f"RNN: a cell's {what} entries must be positive integers or shapes of them, "
                             f"got {entry!r}")
    return tuple(int(d) for d in dims)


def _state_shapes(cell):
    """A cell's states' shapes without the batch axis, one tuple per state. Keras: state_size is
    an int, or a list with one entry per state, each an int or a shape (a list of ints)."""
    size = getattr(cell, "state_size", None)
    if size is None:
        raise ValueError(f"RNN: the cell {type(cell).__name__} has no state_size attribute")
    if isinstance(cell, (StackedRNNCells, _Cell)) or not isinstance(size, (list, tuple)) or hasattr(size, "as_list"):
        return [(s,) for s in _state_sizes(cell)] if not hasattr(size, "as_list") else [_shape_of(size, "state_size")]
    return [_shape_of(s, "state_size") for s in size]


def _output_shapes(cell):
    """The shapes (without batch) of a cell's outputs: one tuple, or a list of them when its
    output_size is nested (a cell returning several outputs)."""
    size = getattr(cell, "output_size", None)
    if size is None:
        return _state_shapes(cell)[0]
    if isinstance(size, (list, tuple)) and not hasattr(size, "as_list") and \
            any(isinstance(e, (list, tuple)) or hasattr(e, "as_list") for e in size):
        return [_shape_of(e, "output_size") for e in size]
    if isinstance(size, (list, tuple)) and len(size) > 1 and not isinstance(cell, (StackedRNNCells, _Cell)):
        return [_shape_of(e, "output_size") for e in size]
    return _shape_of(size, "output_size")


def _as_state_list(states):
    if states is None:
        return None
    if isinstance(states, (list, tuple)):
        return list(states)
    return [states]


class _Cell(Layer):
    """Shared body of the three built-in cells (``_gates`` per unit, ``_kind`` the kernel name)."""

    _kind = ""
    _gates = 1
    _reset_after = True

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{kind} '{self.name}': units must be a positive integer, got {units!r}")
        for arg, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= float(rate) < 1.0:
                raise ValueError(f"{kind} '{self.name}': {arg} must be in [0, 1), got {rate!r}")
        self.units = int(units)
        self.activation = _activations.get(activation)
        self.recurrent_activation = _activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        # projections the optimizer applies after each update (Keras' variable.constraint)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)
        self.kernel = self.recurrent_kernel = self.bias = None

    # -- dropout masks (Keras' DropoutRNNCell) -------------------------------------------------
    # One set of masks per sequence, the same at every step, drawn when the RNN starts a
    # training call (``_draw_dropout_masks``) and read by ``call`` in training only. With
    # recurrent_dropout, Keras 3 switches to implementation 1: every gate reads the input and h
    # through a mask of its own (G masks each); without it, one input mask for all gates.

    def _mask_count(self):
        return self._gates if self.recurrent_dropout > 0.0 else 1

    def _next_seed(self):
        if self._rng is not None:
            return int(self._rng.integers(0, 2**63, dtype=np.int64))
        from ..utils.random import next_seed
        return int(next_seed())

    def _draw_dropout_masks(self, n, features):
        """Draw this sequence's masks into the cell (its call context): lists of (N, F) input
        and (N, U) recurrent masks, 0 or 1 / (1 - rate), or None for a rate of 0."""
        rng = np.random.default_rng(self._next_seed())

        def draw(rate, width):
            if rate <= 0.0:
                return None
            keep = 1.0 - rate
            dt = np.float64 if self.variable_dtype == "float64" else np.float32   # a float64 cell's 1 / keep exact
            return [kernels.Tensor.from_numpy((rng.random((n, width)) < keep).astype(dt) / dt(keep))
                    for _ in range(self._mask_count())]
        masks = (draw(self.dropout, features), draw(self.recurrent_dropout, self.units))
        self.__dict__["_dropout_masks"] = masks
        # the cell itself shows the last call's masks too (a call context's are its own)
        self.__dict__.get("_owner", self).__dict__["_dropout_masks"] = masks
        return masks

    def _masks(self, training):
        """(input masks, recurrent masks) for this step: the drawn ones in training, else None."""
        if not training or (self.dropout <= 0.0 and self.recurrent_dropout <= 0.0):
            return None, None
        return self.__dict__.get("_dropout_masks") or (None, None)

    def _per_gate(self, v, masks, weight, gates):
        """v @ weight (all of ``gates``' column blocks) with gate g's block reading v * masks[g],
        concatenated."""
        if len(masks) == 1:   # one mask for every gate: one product
            return ops.matmul(v * masks[0], weight)
        u = self.units
        parts = [ops.matmul(v * masks[g], weight[:, k * u:(k + 1) * u])
                 for g, k in enumerate(gates)]
        return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=1)

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def get_initial_state(self, batch_size=None, inputs=None, dtype=None):
        """Zero states, one (batch_size, size) Tensor per state (LSTM: [h, c]; GRU and
        SimpleRNN: [h]), Keras 3's ``cell.get_initial_state(batch_size)``. tf.keras 2's
        ``inputs=`` (its first dimension is the batch) and ``dtype=`` are accepted as well, as
        AbstractRNNCell accepts them, so TF 2 pages written for them (Effective TF2's
        DynamicRNN) run."""
        if batch_size is None:
            if inputs is None:
                raise ValueError(f"{type(self).__name__}.get_initial_state: pass batch_size (or inputs)")
            batch_size = np.shape(inputs)[0]
        return [ops.zeros((int(batch_size),) + shape, dtype or "float32") for shape in _state_shapes(self)]

    def _fusable(self):
        """Whether the C++ sequence kernels implement this cell's activations."""
        return (self.activation.name in _KERNEL_ACTIVATIONS
                and self.recurrent_activation.name in _KERNEL_ACTIVATIONS)

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _init_bias(self, bias):
        """Hook for LSTMCell's unit_forget_bias."""

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} '{self.name}' needs step inputs of shape (batch, "
                             f"features) with known features, got {shape_str(input_shape)}")
        gu = self._gates * self.units
        self.kernel = self.add_weight("kernel", (input_shape[-1], gu), self.kernel_initializer,
                                      self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, gu),
                                                self.recurrent_initializer,
                                                self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", self._bias_shape(), self.bias_initializer,
                                        self.bias_regularizer, constraint=self.bias_constraint)
            self._init_bias(self.bias)
        self.input_shape = input_shape
        self.output_shape = (input_shape[0], self.units)
        self.built = True

    def compute_output_shape(self, input_shape):
        return (tuple(input_shape)[0], self.units)

    def __call__(self, inputs, states=None, training=None):
        """``cell(x_t, states)`` -> ``(output, new_states)`` (Keras 3). x_t (N, F); states a list
        of (N, U) Tensors (a single Tensor is taken as a one-element list); None means zeros."""
        from ..models import graph
        if graph.is_symbolic(inputs):
            raise NotImplementedError(f"{type(self).__name__} '{self.name}': a cell cannot be called on "
                                      f"symbolic inputs; wrap it in layers.RNN(cell)")
        x = ops._to_tensor(inputs)
        if x.ndim != 2:
            raise ValueError(f"{type(self).__name__} '{self.name}': inputs must be (batch, features), "
                             f"got shape {tuple(x.shape)}")
        if not self.built:
            self.build((None, x.shape[1]))
        n = x.shape[0]
        sizes = _state_sizes(self)
        states = _as_state_list(states)
        if states is None:
            states = [kernels.zeros((n, s)) for s in sizes]
        states = [ops._to_tensor(s) for s in states]
        if len(states) != len(sizes) or any(tuple(s.shape) != (n, size) for s, size in zip(states, sizes)):
            raise ValueError(f"{type(self).__name__} '{self.name}': states must be {len(sizes)} tensor(s) of "
                             f"shape {[(n, s) for s in sizes]} for inputs {tuple(x.shape)}, got "
                             f"{[tuple(s.shape) for s in states]}")
        if training and (self.dropout > 0.0 or self.recurrent_dropout > 0.0):
            masks = self.__dict__.get("_dropout_masks")
            drawn = next((m[0] for m in masks or () if m is not None), None)
            if drawn is None or drawn.shape[0] != n:   # a lone cell keeps its masks, as in Keras
                self._draw_dropout_masks(n, x.shape[1])
        return self.call(x, states, training=training)

    def _linear(self, x, h, training=None):
        """x W + h R (+ b): the fused pre-activations of LSTM / SimpleRNN (with the dropout
        masks in training: gate g reads x * dm[g] and h * rm[g])."""
        dm, rm = self._masks(training)
        gates = range(self._gates)
        xw = ops.matmul(x, self.kernel) if dm is None else self._per_gate(x, dm, self.kernel, gates)
        hr = (ops.matmul(h, self.recurrent_kernel) if rm is None
              else self._per_gate(h, rm, self.recurrent_kernel, gates))
        z = xw + hr
        return z + self.bias if self.use_bias else z

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
                   kernel_constraint=constraints.serialize(self.kernel_constraint),
                   recurrent_constraint=constraints.serialize(self.recurrent_constraint),
                   bias_constraint=constraints.serialize(self.bias_constraint),
                   dropout=self.dropout, recurrent_dropout=self.recurrent_dropout, seed=self.seed)
        return cfg


class SimpleRNNCell(_Cell):
    """One step of SimpleRNN: h' = activation(x W + h R + b); output and state are h'.
    Weights as SimpleRNN: kernel (F, U), recurrent_kernel (U, U), bias (U,)."""

    _kind = "simple_rnn"
    _gates = 1

    def __init__(self, units, activation="tanh", **kwargs):
        if "recurrent_activation" in kwargs:
            raise TypeError("SimpleRNNCell: unexpected keyword argument recurrent_activation")
        super().__init__(units, activation=activation, **kwargs)

    def call(self, inputs, states, training=None):
        h = _apply(self.activation, self._linear(inputs, states[0], training))
        return h, [h]

    def get_config(self):
        cfg = super().get_config()
        del cfg["recurrent_activation"]
        return cfg


class LSTMCell(_Cell):
    """One step of LSTM (gate order i, f, c, o, as LSTM): states [h, c] -> output h', [h', c'].
    Weights as LSTM: kernel (F, 4U), recurrent_kernel (U, 4U), bias (4U,); unit_forget_bias
    (True) starts the forget-gate bias at 1."""

    _kind = "lstm"
    _gates = 4

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def _init_bias(self, bias):
        if self.unit_forget_bias:
            np.asarray(bias)[self.units:2 * self.units] = 1.0

    def call(self, inputs, states, training=None):
        u = self.units
        h, c = states[0], states[1]
        z = self._linear(inputs, h, training)
        ract, act = self.recurrent_activation, self.activation
        i = _apply(ract, z[:, :u])
        f = _apply(ract, z[:, u:2 * u])
        g = _apply(act, z[:, 2 * u:3 * u])
        o = _apply(ract, z[:, 3 * u:])
        c_new = f * c + i * g
        h_new = o * _apply(act, c_new)
        return h_new, [h_new, c_new]

    def get_config(self):
        cfg = super().get_config()
        cfg["unit_forget_bias"] = self.unit_forget_bias
        return cfg


class GRUCell(_Cell):
    """One step of GRU (gates z, r, h), reset_after=True (bias (2, 3U)) or False (bias (3U,)),
    the same math and weights as GRU: states [h] -> output h', [h']."""

    _kind = "gru"
    _gates = 3

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = self._reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs, states, training=None):
        u = self.units
        h = states[0]
        ract, act = self.recurrent_activation, self.activation
        dm, rm = self._masks(training)
        # with recurrent dropout gate g reads h * rm[g]; the update below mixes the unmasked h
        hz, hr, hh_in = (h, h, h) if rm is None else (h * rm[0], h * rm[1], h * rm[2])
        xg = ops.matmul(inputs, self.kernel) if dm is None else self._per_gate(inputs, dm, self.kernel, range(3))
        if self.use_bias:
            xg = xg + (self.bias[0] if self.reset_after else self.bias)
        rk = self.recurrent_kernel
        if self.reset_after:
            rec = ops.matmul(h, rk) if rm is None else ops.concatenate(
                [ops.matmul(v, rk[:, k * u:(k + 1) * u]) for k, v in enumerate((hz, hr, hh_in))], axis=1)
            if self.use_bias:
                rec = rec + self.bias[1]
            z = _apply(ract, xg[:, :u] + rec[:, :u])
            r = _apply(ract, xg[:, u:2 * u] + rec[:, u:2 * u])
            hh = _apply(act, xg[:, 2 * u:] + r * rec[:, 2 * u:])
        else:
            z = _apply(ract, xg[:, :u] + ops.matmul(hz, rk[:, :u]))
            r = _apply(ract, xg[:, u:2 * u] + ops.matmul(hr, rk[:, u:2 * u]))
            hh = _apply(act, xg[:, 2 * u:] + ops.matmul(r * hh_in, rk[:, 2 * u:]))
        h_new = z * h + (1.0 - z) * hh
        return h_new, [h_new]

    def get_config(self):
        cfg = super().get_config()
        cfg["reset_after"] = self.reset_after
        return cfg


class AbstractRNNCell(Layer):
    """tf.keras 2's base class for a user's RNN cell: a Layer whose subclass defines the
    ``state_size`` (and ``output_size``) properties and ``call(inputs, states)`` returning
    ``(output, new_states)``; ``RNN(cell)`` runs it over time. ``get_initial_state`` gives zeros."""

    @property
    def state_size(self):
        raise NotImplementedError(f"{type(self).__name__} must define the state_size property")

    @property
    def output_size(self):
        raise NotImplementedError(f"{type(self).__name__} must define the output_size property")

    def call(self, inputs, states):
        raise NotImplementedError(f"{type(self).__name__} must define call(inputs, states)")

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        if batch_size is None:
            if inputs is None:
                raise ValueError(f"{type(self).__name__}.get_initial_state: pass inputs or batch_size")
            batch_size = np.shape(inputs)[0]
        return [ops.zeros((int(batch_size),) + shape, dtype or "float32") for shape in _state_shapes(self)]


class StackedRNNCells(Layer):
    """Several cells run as one (Keras): cell k reads cell k-1's output; the states are the
    cells' states concatenated in order, the output the last cell's."""

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells)
        if not cells:
            raise ValueError(f"StackedRNNCells '{self.name}': cells must be a non-empty list")
        for c in cells:
            if not hasattr(c, "state_size") or not hasattr(c, "call"):
                raise ValueError(f"StackedRNNCells '{self.name}': every cell needs state_size and "
                                 f"call(inputs, states), got {c!r}")
        self.cells = cells

    @property
    def state_size(self):
        return [s for c in self.cells for s in _state_sizes(c)]

    @property
    def output_size(self):
        return _output_size(self.cells[-1])

    def build(self, input_shape):
        shape = tuple(input_shape)
        for c in self.cells:
            if not c.built:
                c.build(shape)
                c.built = True
            shape = (shape[0], _output_size(c))
        self._params = [p for c in self.cells for p in c._all_params()]
        self.input_shape = tuple(input_shape)
        self.output_shape = shape
        self.built = True

    def _all_params(self):
        """The cells' weights, gathered in build (a call context holds its own copies with
        gradient Tensors of its own, as for any layer)."""
        return self._params

    def call(self, inputs, states, training=None):
        x, new_states, i = inputs, [], 0
        for c in self.cells:
            k = len(_state_sizes(c))
            x, s = _step(c, x, states[i:i + k], training)
            new_states += s
            i += k
        return x, new_states

    __call__ = _Cell.__call__

    def get_config(self):
        from . import serialize
        cfg = super().get_config()
        cfg["cells"] = [serialize(c) for c in self.cells]
        return cfg

    @classmethod
    def from_config(cls, config):
        from . import deserialize
        config = dict(config)
        config["cells"] = [deserialize(c) for c in config["cells"]]
        return cls(**config)


def _step(cell, x, states, training):
    """One call of a cell's ``call``, its states normalised to a list."""
    if _accepts(cell.call, "training"):
        out, new = cell.call(x, list(states), training=training)
    else:
        out, new = cell.call(x, list(states))
    new = _as_state_list(new)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    if not outs or not all(isinstance(o, kernels.Tensor) for o in outs):
        raise TypeError(f"RNN: the cell {type(cell).__name__}.call must return (output Tensor or tuple of "
                        f"them, states), got {type(out).__name__}")
    return out, new


def _accepts(fn, arg):
    import inspect
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return arg in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


class RNN(Layer):
    """Runs a cell over the time axis of (N, T, F) inputs (Keras 3 ``keras.layers.RNN``), and
    the body of SimpleRNN / LSTM / GRU (recurrent.py), which are RNNs of the built-in cells.

    Args: cell (a cell, a list of cells -> StackedRNNCells, or any Layer with ``state_size`` and
    ``call(inputs, states)``), return_sequences, return_state (the output, then the final
    states), go_backwards (read the sequence from its end; a returned sequence comes out
    reversed, as in Keras), zero_output_for_mask (masked steps of a returned sequence are 0
    rather than the previous output), stateful (the final states of a call are the initial states of the
    next: ``reset_states()`` zeros them; every batch must have the same size), unroll (accepted;
    no effect).
    Call: ``rnn(x, initial_state=[...], mask=m, training=...)``. With a mask a sample skips its
    masked steps (states and output carry over), as LSTM / GRU do.
    Weights: the cell's (the same Tensors: ``rnn.weights`` are ``cell.weights``).
    """

    consumes_mask = True
    _sublayer_attrs = ("cell",)
    _output_in_input_order = False   # Bidirectional's backward layer: outputs in input order
    # Keras' nested inputs: ``rnn((a, b))`` (a tuple) gives the cell (a_t, b_t) at each step; the
    # number of input sequences is fixed by the first call (and kept in the config)
    _n_inputs = 1

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not isinstance(cell, Layer) or not hasattr(cell, "state_size"):
            raise ValueError(f"{type(self).__name__} '{self.name}': cell must be a Layer with a state_size "
                             f"attribute and call(inputs, states), got {cell!r}")
        self.cell = cell
        # Keras: masked steps of a returned sequence output zeros instead of repeating the last
        # output (Keras sets it on the layers inside Bidirectional)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)  # accepted for Keras compatibility
        # stateful: the states carried to the next call (None until the first call: zeros)
        self.states = None
        self._stateful_batch = self.__dict__.get("_batch_size")

    def _call_context(self, snapshot=False):
        ctx = super()._call_context(snapshot)
        ctx._params = ctx.cell._all_params()
        return ctx

    def _build_cell_layers(self, step_shapes):
        """A cell written with ``call`` whose layers build on their first call (a Keras cell
        holding Dense / MultiHeadAttention layers, its own build only setting ``built``): one
        step on zeros, unrecorded, makes their weights now, so that the model lists and trains
        them from its first step (a graph takes its layers' weights when it is built)."""
        cell = self.cell
        if not _holds_unbuilt_layers(cell):
            return
        from .. import ops as _ops
        from ..autodiff import stop_recording
        from .base import _restore_variable_values, _variable_values
        xs = [kernels.zeros((1,) + tuple(shape)) for shape in step_shapes]
        states = [kernels.zeros((1,) + shape) for shape in _state_shapes(cell)]
        saved = _variable_values(cell)   # a step that updates a variable must not count
        _ops.SHAPE_PROBE.depth += 1
        try:
            with stop_recording():
                _step(cell, xs[0] if len(xs) == 1 else tuple(xs), states, False)
        finally:
            _ops.SHAPE_PROBE.depth -= 1
            _restore_variable_values(saved)
        if isinstance(cell, StackedRNNCells):   # its weight list was gathered at its build
            cell._params = [p for c in cell.cells for p in c._all_params()]

    def _all_params(self):
        """The cell's weights. A cell written with ``call`` may make them on its first step (the
        layers it holds build when first called): read them from the cell each time (in a call
        context, from the context's cell), as Keras tracks them, not as they were at build."""
        cell = self.__dict__.get("cell")
        if cell is None or isinstance(cell, (_Cell, StackedRNNCells)) or self.__dict__.get("_params") is None:
            return self._params
        return cell._all_params()

    def compute_mask(self, inputs, mask=None):
        """Keras: a sequence output keeps the input's mask; the last output and states have none
        (the graph gives a mask only to the outputs shaped like the sequence)."""
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        return mask if self.return_sequences else None

    # -- shapes and weights --------------------------------------------------------------------

    def __call__(self, inputs, initial_state=None, training=None, mask=None):
        states = _as_state_list(initial_state)
        if isinstance(inputs, tuple) and len(inputs) > 1 or \
                isinstance(inputs, list) and self._n_inputs > 1 and len(inputs) >= self._n_inputs:
            # nested inputs (TF-Keras: a tuple; a list once the layer knows its number of inputs,
            # as a saved config replays it): several sequences, then any initial states
            if isinstance(inputs, tuple):
                self._n_inputs = len(inputs)
            inputs = list(inputs) + (states or [])
            if mask is not None and not isinstance(mask, (list, tuple)):
                mask = [mask] + [None] * (len(inputs) - 1)
            return super().__call__(inputs, training=training, mask=mask)
        if states:
            inputs = [inputs] + states
            if mask is not None and not isinstance(mask, (list, tuple)):
                mask = [mask] + [None] * len(states)
        return super().__call__(inputs, training=training, mask=mask)

    def _split_shapes(self, input_shape):
        if isinstance(input_shape, list):
            k = self._n_inputs
            if k > 1:
                return [tuple(s) for s in input_shape[:k]], [tuple(s) for s in input_shape[k:]]
            return tuple(input_shape[0]), [tuple(s) for s in input_shape[1:]]
        return tuple(input_shape), []

    def build(self, input_shape):
        x_shape, _ = self._split_shapes(input_shape)
        if self._n_inputs > 1:   # nested inputs: the cell gets one (batch, ...) slice of each per step
            for shp in x_shape:
                if len(shp) < 3 or any(d is None for d in shp[2:]):
                    raise ValueError(f"{type(self).__name__} '{self.name}': each nested input must be (batch, "
                                     f"timesteps, ...) with known feature axes, got {shape_str(shp)}")
            if not self.cell.built:
                self.cell.build([(shp[0],) + tuple(shp[2:]) for shp in x_shape])
                self.cell.built = True
            self._build_cell_layers([tuple(shp[2:]) for shp in x_shape])
            self._params = self.cell._all_params()
            super().build(input_shape)
            return
        # Keras 3: a custom cell may take steps of any shape, (batch, timesteps, *step_shape)
        # (a chunk of tokens per step); the built-in cells read (batch, features) steps
        builtin = isinstance(self.cell, (_Cell, StackedRNNCells))
        if len(x_shape) < 3 or any(d is None for d in x_shape[2:]) or (builtin and len(x_shape) != 3):
            raise ValueError(f"{type(self).__name__} '{self.name}' needs inputs of shape (batch, timesteps, "
                             f"features){'' if builtin else ' (or (batch, timesteps, ...) for a custom cell)'} "
                             f"with known features, got {shape_str(x_shape)}")
        if not self.cell.built:
            self.cell.build((x_shape[0],) + tuple(x_shape[2:]))
            self.cell.built = True
        if not isinstance(self.cell, _Cell):   # a user cell, or a stack holding one
            self._build_cell_layers([tuple(x_shape[2:])])
        self._params = self.cell._all_params()
        if self.stateful and x_shape[0] is not None and self._owner_dict().get("_stateful_batch") is None:
            # Keras: Input(batch_shape=(B, T, F)) fixes how many sequences a stateful RNN carries
            self._owner_dict()["_stateful_batch"] = int(x_shape[0])
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        x_shape, state_shapes = self._split_shapes(input_shape)
        first = x_shape[0] if self._n_inputs > 1 else x_shape
        n, t = first[0], first[1]
        shapes = _state_shapes(self.cell)
        if state_shapes and len(state_shapes) != len(shapes):
            raise ValueError(f"{type(self).__name__} '{self.name}': initial_state must hold {len(shapes)} "
                             f"tensor(s) (the cell's state_size {self.cell.state_size}), got {len(state_shapes)}")
        for shp, want in zip(state_shapes, shapes):
            if tuple(shp[1:]) != want:
                raise ValueError(f"{type(self).__name__} '{self.name}': an initial state must be "
                                 f"(batch, {', '.join(str(d) for d in want)}), got {shape_str(shp)}")
        outs = _output_shapes(self.cell)
        step = (n, t) if self.return_sequences else (n,)
        y = [step + o for o in outs] if isinstance(outs, list) else step + outs
        if self.return_state:
            return (y if isinstance(y, list) else [y]) + [(n,) + s for s in shapes]
        return y

    def check_input_shape(self, shape):
        step = None if self.input_shape is None else tuple(self._split_shapes(self.input_shape)[0][2:])
        if len(shape) < 3 or (step is not None and tuple(shape[2:]) != step):
            want = "features" if step is None else ", ".join(str(d) for d in step)
            raise ValueError(f"layer '{self.name}' ({type(self).__name__}) expects input of shape (batch, "
                             f"timesteps, {want}), got {shape_str(shape)}")

    def flops(self, input_shape):
        """The fused cells' count: per step the input and recurrent GEMMs (2*(D+U)*G*U), the bias
        and roughly 4 per gate value for the activations and state update; 0 (unknown) for
        other cells."""
        cell = self.cell
        if not isinstance(cell, _Cell) or isinstance(input_shape, list):
            return 0
        steps, d, g = input_shape[1] or 1, input_shape[-1], cell._gates * cell.units
        return steps * (2 * (d + cell.units) * g + (g if cell.use_bias else 0) + 4 * g)

    # -- stateful: the states carried from one call to the next --------------------------------

    def _owner_dict(self):
        return self.__dict__.get("_owner", self).__dict__

    def _carried_states(self, n):
        """The initial states of a stateful call of batch size ``n`` ([] = zeros)."""
        owner = self._owner_dict()
        batch = owner.get("_stateful_batch")
        if batch is not None and n != batch:
            raise ValueError(f"{type(self).__name__} '{self.name}': stateful=True carries the states of "
                             f"{batch} samples from one batch to the next, got a batch of {n}; give fit / "
                             f"predict / evaluate batch_size={batch} and a number of samples it divides")
        owner["_stateful_batch"] = n
        kept = owner.get("states")
        return [] if kept is None else list(kept)

    def _keep_states(self, final):
        """Keep copies of a stateful call's final states for the next call (constants there:
        no gradient flows from one batch into the previous one, as in Keras)."""
        dt = np.float64 if self.variable_dtype == "float64" else np.float32   # a float64 RNN's states stay float64
        self._owner_dict()["states"] = [kernels.Tensor.from_numpy(np.array(s, dtype=dt, copy=True))
                                        for s in final]

    def reset_states(self, states=None):
        """Keras: zero the carried states of a stateful RNN (or set them to ``states``, a list of
        (batch, size) arrays, one per cell state). No effect on an RNN that is not stateful."""
        if not self.stateful:
            return
        shapes = _state_shapes(self.cell)
        owner = self._owner_dict()
        batch = owner.get("_stateful_batch")
        if states is None:
            owner["states"] = None if batch is None else [kernels.zeros((batch,) + shp) for shp in shapes]
            return
        states = [np.asarray(s, np.float64 if self.variable_dtype == "float64" else np.float32)
                  for s in _as_state_list(states)]
        n = states[0].shape[0] if states and states[0].ndim >= 2 else None
        if len(states) != len(shapes) or any(s.shape != (n,) + shp for s, shp in zip(states, shapes)) or \
                (batch is not None and n != batch):
            want = [("batch" if batch is None else batch,) + shp for shp in shapes]
            raise ValueError(f"{type(self).__name__} '{self.name}'.reset_states: states must be {len(shapes)} "
                             f"array(s) of shape {want}, got {[s.shape for s in states]}")
        owner["_stateful_batch"] = n
        self._keep_states(states)

    reset_state = reset_states   # Keras 3's name

    def get_initial_state(self, batch_size):
        """Zero states, one (batch, size) Tensor per cell state (Keras 3 takes the batch size;
        tf.keras 2 took the inputs, whose first dimension it used: both are accepted, so the
        TF text-generation tutorial's ``gru.get_initial_state(x)`` runs). On a symbolic input
        (a traced ``call``) the states are the outputs of a node that makes zeros of its batch."""
        from ..models.graph import KerasTensor
        shapes = _state_shapes(self.cell)
        if isinstance(batch_size, KerasTensor):
            return [_ZeroState(shape)(batch_size) for shape in shapes]
        if not isinstance(batch_size, (int, np.integer)):
            shape = np.shape(batch_size)
            if not shape and np.asarray(batch_size).dtype.kind in "iu":   # tf.shape(x)[0]: a 0-d tensor
                shape = (int(np.asarray(batch_size)),)
            if not shape:
                raise ValueError(f"{type(self).__name__} '{self.name}'.get_initial_state: pass the batch size "
                                 f"or the inputs, got {batch_size!r}"[:200])
            batch_size = shape[0]
        return [kernels.zeros((int(batch_size),) + shape) for shape in shapes]

    # -- forward / backward --------------------------------------------------------------------

    def _is_fused(self):
        cell = self.cell
        return isinstance(cell, _Cell) and cell._fusable()

    def forward(self, x, training=False):
        xs = list(x) if isinstance(x, list) else [x]
        k = self._n_inputs
        x, states = (xs[:k], xs[k:]) if k > 1 else (xs[0], xs[1:])
        if k > 1:   # nested inputs: the stepwise path with a tuple of step slices
            return self._nested_forward(x, states, training)
        mask = self.__dict__.get("_call_mask")
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        n, t = x.shape[0], x.shape[1]
        if mask is not None and tuple(mask.shape) != (n, t):
            raise ValueError(f"{type(self).__name__} '{self.name}': mask must have shape ({n}, {t}) for "
                             f"inputs {tuple(x.shape)}, got {tuple(mask.shape)}")
        for s, size in zip(states, _state_sizes(self.cell) if states else ()):
            if tuple(s.shape) != (n, size):
                raise ValueError(f"{type(self).__name__} '{self.name}': an initial state must have shape "
                                 f"({n}, {size}), got {tuple(s.shape)}")
        self._packed = len(xs) > 1
        if self.stateful:
            carried = self._carried_states(n)
            if not states:
                states = carried
        # recurrent dropout runs the cell's call per step (Keras 3 leaves cuDNN for it too)
        self._fused = self._is_fused() and not (training and self.cell.recurrent_dropout > 0.0)
        if self._fused:
            out, final = self._fused_forward(x, states, mask, training)
        else:
            out, final = self._step_forward(x, states, mask, training)
        if self.stateful:
            self._keep_states(final)
        self._zero_out = None
        if self.zero_output_for_mask and mask is not None and self.return_sequences:
            m = np.asarray(mask, np.float32)
            if self.go_backwards and not self._output_in_input_order:   # outputs in processing order
                m = m[:, ::-1]
            self._zero_out = kernels.Tensor.from_numpy(np.asarray(m[:, :, None], order="C"))
            y = out[0] if isinstance(out, list) else out
            kernels.binary_forward("multiply", y, self._zero_out, out=y)
        return out

    def backward(self, dy):
        if self._zero_out is not None:   # y = y_rnn * mask: those outputs were constants
            first = dy[0] if isinstance(dy, list) else dy
            if first is not None:
                first = kernels.binary_forward("multiply", first, self._zero_out,
                                               out=self._buffer("dy_zeroed", tuple(first.shape)))
                dy = [first] + list(dy[1:]) if isinstance(dy, list) else first
        if self._fused:
            return self._fused_backward(dy)
        return self._step_backward(dy)

    # The fused path: one kernel call per direction, the same as LSTM / GRU / SimpleRNN.

    def _fused_options(self, mask):
        cell = self.cell
        return dict(go_backwards=self.go_backwards, activation=cell.activation.name,
                    recurrent_activation=cell.recurrent_activation.name,
                    output_in_input_order=self._output_in_input_order, reset_after=cell._reset_after,
                    mask=mask)

    def _fused_forward(self, x, states, mask, training):
        cell = self.cell
        n, t, f = x.shape
        u, gu, kind = cell.units, cell._gates * cell.units, cell._kind
        self._dropped = bool(training) and cell.dropout > 0.0
        if self._dropped:  # Keras: one dropout mask per sample, the same at every timestep
            x, self._drop_mask = kernels.spatial_dropout_forward(
                x, cell.dropout, cell._next_seed(), out=self._buffer("x_dropped", x.shape),
                mask=self._buffer("drop_mask", (n, f)))
        stash = (self._buffer("gates", (n, t, gu)), self._buffer("hprev", (n, t, u)),
                 None if kind == "simple_rnn" else self._buffer("cells", (n, t, u)))
        y_shape = (n, t, u) if self.return_sequences else (n, u)
        h0 = states[0] if states else None
        c0 = states[1] if len(states) > 1 else None
        if c0 is not None and np.shares_memory(np.asarray(h0), np.asarray(c0)):
            c0 = kernels.Tensor.from_numpy(np.array(c0, copy=True))  # the op takes distinct inputs
        self._h0, self._c0 = h0, c0
        want = self.return_state or self.stateful
        if mask is None and h0 is None:
            # the usual call (no mask, states from zero): the bound kernel entry with the
            # Tensors at hand, without rnn_forward's conversions (the C++ entry checks them all)
            y = self._buffer("y", y_shape)
            h_n = self._buffer("h_n", (n, u)) if want else None
            c_n = self._buffer("c_n", (n, u)) if want and kind == "lstm" else None
            kernels._rnn_forward[kind](
                x, cell.kernel, cell.recurrent_kernel, cell.bias, y, h_n, c_n, *stash,
                cell.activation.name, cell.recurrent_activation.name, self.go_backwards,
                self.return_sequences, self._output_in_input_order, cell._reset_after)
            self._stash = stash
        else:
            y, h_n, c_n, self._stash = kernels.rnn_forward(
                kind, x, cell.kernel, cell.recurrent_kernel, cell.bias,
                return_sequences=self.return_sequences, out=self._buffer("y", y_shape),
                states=want, h_n=self._buffer("h_n", (n, u)) if want else None,
                c_n=self._buffer("c_n", (n, u)) if want and kind == "lstm" else None,
                stash=stash, h0=h0, c0=c0, **self._fused_options(mask))
        self._x, self._mask_steps = x, mask
        self._leading = None
        if h0 is not None and mask is not None:
            # Keras: a masked step repeats the previous *output*, zeros before a sample's first
            # real step; the kernels repeat h, which is h0 there. Zero those outputs (and, in
            # backward, their gradients).
            self._leading = self._leading_masked(np.asarray(mask))
            out = np.asarray(y)
            if self.return_sequences:
                out[self._leading_in_output_order()] = 0.0
            else:
                out[self._leading[:, -1]] = 0.0
        final = [h_n] + ([c_n] if c_n is not None else []) if want else []
        if self.return_state:
            return [y] + final, final
        return y, final

    def _leading_masked(self, mask):
        """(N, T) bool, in processing order: the steps before a sample's first real step."""
        steps = mask[:, ::-1] if self.go_backwards else mask
        return np.cumsum(steps != 0, axis=1) == 0

    def _reversed_output(self):
        """Whether a returned sequence is in input order although read backwards
        (Bidirectional's backward layer), i.e. the last step processed is output 0."""
        return self.go_backwards and self._output_in_input_order

    def _leading_in_output_order(self):
        return self._leading[:, ::-1] if self._reversed_output() else self._leading

    def _fused_backward(self, dy):
        dh_n = dc_n = None
        if isinstance(dy, list):  # [dy, dh_n] (+ dc_n)
            dy, dh_n, dc_n = (list(dy) + [None])[:3]
        if self._leading is not None or dh_n is not None:
            dy = np.array(dy, dtype=np.float32, copy=True)
            if self._leading is not None:  # those outputs were constants (zeros)
                dy[self._leading_in_output_order() if dy.ndim == 3 else self._leading[:, -1]] = 0.0
            if dh_n is not None:  # h_n is the state after the last step, which y shows there
                # (unless still before the first real step: then y was zero and h_n is h0,
                # whose gradient the kernel passes through all the masked steps)
                last = (dy[:, 0] if self._reversed_output() else dy[:, -1]) if dy.ndim == 3 else dy
                last += np.asarray(dh_n)
            dy = kernels.Tensor.from_numpy(dy)
        cell, x = self.cell, self._x
        n, t, _ = x.shape
        grads = self.gradients if self.trainable else []
        # initial states given as inputs get gradients; a stateful layer's carried ones do not
        u, want_states = cell.units, self._packed and self.needs_input_grad and self._h0 is not None
        dh0 = self._buffer("dh0", (n, u)) if want_states else None
        dc0 = self._buffer("dc0", (n, u)) if want_states and self._c0 is not None else None
        dx, *_ = kernels.rnn_backward(
            cell._kind, dy, x, cell.kernel, cell.recurrent_kernel, self._stash,
            dx=self._buffer("dx", x.shape), dkernel=grads[0] if grads else None,
            drecurrent_kernel=grads[1] if grads else None,
            dbias=grads[2] if grads and cell.use_bias else None,
            input_grad=self.needs_input_grad, weight_grads=bool(grads), use_bias=cell.use_bias,
            h0=self._h0, c0=self._c0, dh0=dh0, dc0=dc0, dc_n=dc_n,
            **self._fused_options(self._mask_steps))
        if dx is None:
            return None
        if self._dropped:
            dx = kernels.spatial_dropout_backward(dx, self._drop_mask, out=self._buffer("dx_in", x.shape))
        if self._packed:
            return [dx, dh0] + ([dc0] if self._c0 is not None else [])
        return dx

    # The stepwise path: the cell's call once per timestep under a private tape.

    def _step_forward(self, x, states, mask, training):
        from ..autodiff import GradientTape
        cell = self.cell
        n, t, f = x.shape[0], x.shape[1], x.shape[-1]   # a custom cell's steps may be (n, ...)
        sizes = _state_sizes(cell)
        tape = GradientTape(persistent=True)
        sources = [x] + list(states)
        if training:
            _draw_dropout_masks(cell, n, f)
        with tape:
            for s in sources:
                tape.watch(s)
            if not states:
                states = [kernels.zeros((n, s)) for s in sizes]
            m = None if mask is None else np.asarray(mask, np.float32)
            order = range(t - 1, -1, -1) if self.go_backwards else range(t)
            outputs, prev_out = [], None
            for step in order:
                x_t = x[:, step]
                out, new = _step(cell, x_t, states, training)
                if len(new) != len(sizes):
                    raise ValueError(f"{type(self).__name__} '{self.name}': {type(cell).__name__}.call returned "
                                     f"{len(new)} state(s), its state_size lists {len(sizes)}")
                if m is not None:  # masked samples keep their states and repeat their output
                    keep_t = kernels.Tensor.from_numpy(np.asarray(m[:, step:step + 1], order="C"))
                    skip_t = kernels.Tensor.from_numpy(np.asarray(1.0 - m[:, step:step + 1], order="C"))
                    new = [s_new * keep_t + s_old * skip_t for s_new, s_old in zip(new, states)]
                    if prev_out is None:
                        prev_out = kernels.zeros(tuple(out.shape))
                    out = out * keep_t + prev_out * skip_t
                states, prev_out = new, out
                outputs.append(out)
            if self.return_sequences and self._reversed_output():
                outputs.reverse()
            y = ops.stack(outputs, axis=1) if self.return_sequences else outputs[-1]
        results = [y] + list(states) if self.return_state else [y]
        self._record = (tape, sources, results)
        self._track_cell_weights()
        return (results if self.return_state else y), list(states)

    def _track_cell_weights(self):
        """A cell written with ``call`` may make its weights on its first step (layers it holds,
        built when first called; Keras 3 tracks them when they appear): the RNN's weights are
        the cell's as they are now, or fit would not train them (nor the model list them)."""
        if isinstance(self.cell, _Cell):
            return
        owner = self.__dict__.get("_owner", self)
        if len(owner.cell._all_params()) != len(owner.__dict__.get("_params", ())):
            # a new list: a model's cached weight list sees the change
            owner.__dict__["_params"] = owner.cell._all_params()
        if self is not owner and len(self.cell._all_params()) != len(self.__dict__.get("_params", ())):
            self.__dict__["_params"] = self.cell._all_params()   # a call context: its cell's

    def _nested_forward(self, xs, states, training):
        """Nested inputs (a tuple of sequences): the cell's call per step on the tuple of step
        slices, under a private tape as _step_forward; outputs may be a tuple too (one
        sequence or last output each), states any shape the cell's state_size gives."""
        from ..autodiff import GradientTape
        cell = self.cell
        n, t = xs[0].shape[0], xs[0].shape[1]
        for i, xi in enumerate(xs):
            if len(xi.shape) < 3 or tuple(xi.shape[:2]) != (n, t):
                raise ValueError(f"{type(self).__name__} '{self.name}': nested input {i} must be ({n}, {t}, ...) "
                                 f"like input 0, got {tuple(xi.shape)}")
        shapes = _state_shapes(cell)
        for st, want in zip(states, shapes):
            if tuple(st.shape) != (n,) + want:
                raise ValueError(f"{type(self).__name__} '{self.name}': an initial state must have shape "
                                 f"{(n,) + want}, got {tuple(st.shape)}")
        mask = self.__dict__.get("_call_mask")
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        self._packed, self._zero_out, self._fused = True, None, False
        if self.stateful:
            carried = self._carried_states(n)
            if not states:
                states = carried
        tape = GradientTape(persistent=True)
        sources = list(xs) + list(states)
        with tape:
            for src in sources:
                tape.watch(src)
            if not states:
                states = [kernels.zeros((n,) + shp) for shp in shapes]
            m = None if mask is None else np.asarray(mask, np.float32)
            order = range(t - 1, -1, -1) if self.go_backwards else range(t)
            steps, prev = [], None
            for step in order:
                out, new = _step(cell, tuple(xi[:, step] for xi in xs), states, training)
                outs = list(out) if isinstance(out, (list, tuple)) else [out]
                if len(new) != len(shapes):
                    raise ValueError(f"{type(self).__name__} '{self.name}': {type(cell).__name__}.call returned "
                                     f"{len(new)} state(s), its state_size lists {len(shapes)}")
                if m is not None:   # masked samples keep their states and repeat their outputs
                    def blend(a, b):
                        keep = m[:, step].reshape((n,) + (1,) * (len(a.shape) - 1))
                        return a * kernels.Tensor.from_numpy(np.asarray(keep, order="C")) + \
                            b * kernels.Tensor.from_numpy(np.asarray(1.0 - keep, order="C"))
                    new = [blend(a, b) for a, b in zip(new, states)]
                    prev = prev or [kernels.zeros(tuple(o.shape)) for o in outs]
                    outs = [blend(a, b) for a, b in zip(outs, prev)]
                states, prev = new, outs
                steps.append(outs)
            if self.return_sequences and self._reversed_output():
                steps.reverse()
            ys = [ops.stack([s[j] for s in steps], axis=1) if self.return_sequences else steps[-1][j]
                  for j in range(len(steps[-1]))]
        results = ys + list(states) if self.return_state else ys
        self._record = (tape, sources, results)
        self._track_cell_weights()
        if self.stateful:
            self._keep_states(states)
        return results if len(results) > 1 else results[0]

    def _step_backward(self, dy):
        tape, sources, results = self._record
        dys = list(dy) if isinstance(dy, list) else [dy]
        pairs = [(r, g) for r, g in zip(results, dys) if g is not None]
        weights = self.trainable_weights if self.trainable else []
        grads = tape.gradient([r for r, _ in pairs], sources + weights,
                              output_gradients=[g for _, g in pairs])
        for g, dst in zip(grads[len(sources):], self.gradients if self.trainable else []):
            if g is None:
                np.asarray(dst)[...] = 0.0
            else:
                np.copyto(np.asarray(dst), np.asarray(g))
        _keep_weight_grad_parts(self, weights, grads[len(sources):])   # shared buffers: base.py
        if not self._packed:
            return grads[0] if grads[0] is not None else kernels.zeros(tuple(sources[0].shape))
        return [g if g is not None else kernels.zeros(tuple(s.shape))
                for g, s in zip(grads[:len(sources)], sources)]

    # -- config --------------------------------------------------------------------------------

    def get_config(self):
        from . import serialize
        cfg = super().get_config()
        cfg.update(cell=serialize(self.cell), return_sequences=self.return_sequences,
                   return_state=self.return_state, go_backwards=self.go_backwards,
                   stateful=self.stateful, unroll=self.unroll,
                   zero_output_for_mask=self.zero_output_for_mask)
        if self._n_inputs > 1:
            cfg["_nested_inputs"] = self._n_inputs   # how a saved graph's call is replayed
        return cfg

    @classmethod
    def from_config(cls, config):
        from . import deserialize
        config = dict(config)
        nested = int(config.pop("_nested_inputs", 1))
        cell = config["cell"]
        config["cell"] = [deserialize(c) for c in cell] if isinstance(cell, list) else deserialize(cell)
        layer = cls(**config)
        if nested > 1:
            layer._n_inputs = nested
        return layer


def _holds_unbuilt_layers(layer, seen=None):
    """Whether a layer written with ``call`` (or a stack of cells) holds a layer, at any depth,
    that has not built its weights yet."""
    seen = {id(layer)} if seen is None else seen
    for sub in (layer.cells if isinstance(layer, StackedRNNCells) else layer._sublayers()):
        if isinstance(sub, _Cell) or id(sub) in seen:
            continue
        seen.add(id(sub))
        if not getattr(sub, "built", True) or _holds_unbuilt_layers(sub, seen):
            return True
    return False


def _draw_dropout_masks(cell, n, features):
    """Draw a training call's dropout masks into the built-in cells (of a stack too)."""
    if isinstance(cell, _Cell):
        if cell.dropout > 0.0 or cell.recurrent_dropout > 0.0:
            cell._draw_dropout_masks(n, features)
    elif isinstance(cell, StackedRNNCells):
        for c in cell.cells:
            _draw_dropout_masks(c, n, features)
            features = _output_size(c)


class _ZeroState(Layer):
    """(N, ...) -> zeros (N, size): an RNN's zero initial state as a node of a traced graph
    (``get_initial_state`` on a symbolic input). Nothing flows back into the input."""

    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        self.size = tuple(int(d) for d in size) if isinstance(size, (list, tuple)) else (int(size),)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.size

    def check_input_shape(self, shape):
        pass   # any input: only its batch size is read

    def forward(self, x, training=False):
        return kernels.zeros((x.shape[0],) + self.size)

    def backward(self, dy):
        return None

    def get_config(self):
        cfg = super().get_config()
        cfg.update(size=list(self.size))
        return cfg
