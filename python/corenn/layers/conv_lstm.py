"""ConvLSTM1D, ConvLSTM2D and ConvLSTM3D (Keras 3): LSTMs whose input and recurrent
transformations are convolutions. ConvLSTM1D ((N, T, L, C), kernels (K, C | F, 4F)) runs
ConvLSTM2D's code on height-1 views ((N, T, 1, L, C), kernels (1, K, ...)), as Conv1D runs on
Conv2D's kernels; ConvLSTM3D ((N, T, D, H, W, C), kernels (KD, KH, KW, C | F, 4F)) runs the same
code with the conv3d kernels in place of conv2d's (one code path over the spatial axes S).

Shapes (channels_last): x (N, T, H, W, C) -> y (N, T, OH, OW, F) with return_sequences, else the
last h (N, OH, OW, F); h and c are (N, OH, OW, F). data_format='channels_first' reads
(N, T, C, H, W) and writes (N, [T,] F, OH, OW). Weights, Keras' layout and gate order i, f, c, o:
kernel (KH, KW, C, 4F), recurrent_kernel (KH, KW, F, 4F), bias (4F,).

Math of step s (reading x_t, t = s, or T-1-s with go_backwards):
    z = conv(x_t, kernel; strides, padding, dilation) + bias + conv(h, recurrent_kernel; 'same')
    [i f g o] = [ract(zi) ract(zf) act(zg) ract(zo)],  c' = f c + i g,  h' = o act(c')
How it runs, every FLOP in corenn's kernels:
  - the input convolution of all T steps is one conv over the time-major (T*N, *S, C) batch;
  - per step, the recurrent conv of h (skipped at the first step, where h = 0) is added into
    that step's z, and the gate math runs on the LSTM cell kernels of csrc/cpu/rnn.cpp
    (lstm_cell_forward: one row of 4F gates per pixel and sample, the sequence LSTM's layout);
  - backward through time: per step (in reverse) lstm_cell_backward gives dz and carries dc, and
    the recurrent conv's data gradient carries dh to the previous step; then the weight
    gradients are single conv weight-gradient calls over all steps (x with dz; the h each
    step read with that step's dz) and dx is one conv data gradient.
Everything is stored time-major by input time t, so the pairs (h read by a step, its dz) are
two contiguous slices whatever the direction.
Dropout (training): one input mask (N, *S, C) and one recurrent mask (N, *OS, F) per call,
shared by the four gates and all steps (Keras draws per-gate masks; the expected value is the
same).
Call: ``layer(x, initial_state=[h0, c0], mask=m, training=...)`` (h0, c0 shaped like the returned
states; they get gradients). A mask m (N, T) (given, or from an upstream layer) is Keras' RNN
masking: at a masked step a sample keeps its h and c and repeats its previous output (zeros
before its first real step, even from a given h0). Forward copies the kept states over the cell's
for those samples; backward zeroes their dz and passes dh, dc through to the previous step.
"""
from __future__ import annotations

import numpy as np

from .. import activations as _activations
from .. import constraints, initializers, kernels, regularizers
from .base import Layer, shape_str
from .convolutional import _depthwise_args, _HeightOneViews
from .rnn_cells import RNN, _as_state_list

__all__ = ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]

_KERNEL_ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear")   # what the cell kernels compute


def _step(buf, t):
    """Step t of a time-major buffer (T, ...): a zero-copy Tensor view of its contiguous slice."""
    return kernels.as_tensor(np.asarray(buf)[t])


def _conv(x, w, bias, out, geometry):
    """out = conv(x, w) + bias, channels-last, of 2 or 3 spatial axes; geometry is
    (strides, pads before, dilations), one entry per axis."""
    strides, pads, dilations = geometry
    if len(strides) == 2:
        kernels._conv2d_forward(x, w, bias, out, *strides, *pads, *dilations, "none", 1)
    else:
        kernels._conv3d_forward(x, w, bias, out, strides, pads, dilations, 1)


def _conv_data_gradient(dy, w, dx, geometry):
    strides, pads, dilations = geometry
    if len(strides) == 2:
        kernels._conv2d_backward_data(dy, w, dx, *strides, *pads, *dilations, 1)
    else:
        kernels._conv3d_backward_data(dy, w, dx, strides, pads, dilations, 1)


def _conv_weight_gradient(x, dy, dw, db, geometry):
    strides, pads, dilations = geometry
    if len(strides) == 2:
        kernels._conv2d_backward_weights(x, dy, dw, db, *strides, *pads, *dilations, 1)
    else:
        kernels._conv3d_backward_weights(x, dy, dw, db, strides, pads, dilations, 1)


def _steps(buf, start, stop):
    """Steps start..stop-1 of a time-major buffer as one batch ((stop - start) * N, ...)."""
    part = np.asarray(buf)[start:stop]
    return kernels.as_tensor(part.reshape((-1,) + part.shape[2:]))


class _ConvLSTM(_HeightOneViews, Layer):
    """The convolutional LSTM of every rank (module docstring for the math and shapes); rank 1
    runs the same code on the 2-D view (N, T, 1, L, C), kernels (1, K, ...).

    Args:
        filters: F, the channels of h and c.
        kernel_size, strides, padding ('valid' | 'same'), dilation_rate: the input convolution's
            (strides > 1 with dilation_rate > 1 is refused, as in Keras); the recurrent one is
            always stride 1, 'same'.
        data_format: 'channels_last' (default) or 'channels_first'.
        activation ('tanh'), recurrent_activation ('sigmoid'): tanh, sigmoid, relu or linear.
        use_bias, unit_forget_bias (the forget gate's bias starts at 1).
        kernel_initializer, recurrent_initializer ('orthogonal'), bias_initializer, the
        *_regularizer / *_constraint of the three weights, activity_regularizer.
        dropout, recurrent_dropout, seed: see the module docstring.
        return_sequences, return_state (outputs [y, h, c]), go_backwards (y in processing
        order, as Keras), stateful (the final h and c start the next call; reset_states()).
    """

    consumes_mask = True
    compute_mask = RNN.compute_mask   # the sequence output keeps the input's mask, as any RNN's

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(filters, (int, np.integer)) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(f"{type(self).__name__} '{self.name}': filters must be a positive integer, "
                             f"got {filters!r}")
        self.filters = int(filters)
        # the spatial arguments as the depthwise convs check them (data_format too)
        _depthwise_args(self, kernel_size, strides, padding, data_format, dilation_rate)
        self.activation = _activations.get(activation)
        self.recurrent_activation = _activations.get(recurrent_activation)
        for what, act in (("activation", self.activation), ("recurrent_activation", self.recurrent_activation)):
            if act.name not in _KERNEL_ACTIVATIONS:
                raise NotImplementedError(f"{type(self).__name__} '{self.name}': {what} '{act.name}' is not "
                                          f"supported; use one of {', '.join(_KERNEL_ACTIVATIONS)}")
        for what, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= float(rate) < 1.0:
                raise ValueError(f"{type(self).__name__} '{self.name}': {what} must be in [0, 1), got {rate!r}")
        self.use_bias = bool(use_bias)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)   # applied by the optimizer
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful, self.unroll = bool(go_backwards), bool(stateful), bool(unroll)
        self.kernel = self.recurrent_kernel = self.bias = None
        self.states = None   # stateful: [h, c] (N, OH, OW, F) carried to the next call

    # -- shapes ------------------------------------------------------------------------------------

    def _first(self):
        return self.data_format == "channels_first"

    def _height_axis(self):
        """Where a rank-1 layer's height-1 axis goes in its 2-D view, counted from the end
        (before the steps axis: (N, T, 1, L, C), channels_first (N, T, C, 1, L))."""
        return -2 if self._first() else -3

    def _view_shape(self, shape):
        """A tensor shape of the layer's rank as the view's (ranks 2 and 3: itself)."""
        shape = list(shape)
        if self.rank == 1:
            shape.insert(len(shape) + 1 + self._height_axis(), 1)
        return tuple(shape)

    def _user_shape(self, shape):
        """A view's shape as the layer's (rank 1: without the height-1 axis)."""
        shape = list(shape)
        if self.rank == 1:
            del shape[len(shape) + self._height_axis()]
        return tuple(shape)

    def _view(self, t):
        return t if t is None or self.rank != 1 else t.reshape(list(self._view_shape(t.shape)))

    def _unview(self, t):
        return t if self.rank != 1 else t.reshape(list(self._user_shape(t.shape)))

    def _frame(self, view_shape):
        """(S, C) of one channels-last frame of the view: S its spatial sizes ((H, W) or (D, H, W))."""
        _, _, *frame = view_shape
        return (tuple(frame[1:]), frame[0]) if self._first() else (tuple(frame[:-1]), frame[-1])

    def _geometry(self, frames, spatial, c):
        """The input conv's output sizes OS and its geometry, and the recurrent conv's geometry
        ((strides, pads before, dilations), one entry per spatial axis)."""
        op = f"{type(self).__name__} '{self.name}'"
        output_shape = kernels.conv2d_output_shape if len(spatial) == 2 else kernels.conv3d_output_shape
        kernel, strides, dilations = (self._pair(v) for v in (self.kernel_size, self.strides, self.dilation_rate))
        out_shape, pads = output_shape((frames,) + tuple(spatial) + (c,), kernel, 4 * self.filters, strides,
                                       self.padding, dilations, op=op)
        out = tuple(out_shape[1:-1])
        _, rpads = output_shape((frames,) + out + (self.filters,), kernel, 4 * self.filters, 1, "same", 1, op=op)
        ones = (1,) * len(spatial)
        return out, (strides, tuple(pads), dilations), (ones, tuple(rpads), ones)

    def _layout(self, shape):
        """A channels-last (N, [T,] *OS, F) shape of the view in the layer's data format."""
        shape, spatial = tuple(shape), len(self._pair(self.kernel_size))
        return shape[:-1 - spatial] + (shape[-1],) + shape[-1 - spatial:-1] if self._first() else shape

    def __call__(self, inputs, initial_state=None, training=None, mask=None):
        states = _as_state_list(initial_state)
        if states:   # the states travel as inputs [x, h0, c0], so the graph and tape see them
            inputs = [inputs] + states
            if mask is not None and not isinstance(mask, (list, tuple)):
                mask = [mask] + [None] * len(states)
        return super().__call__(inputs, training=training, mask=mask)

    @staticmethod
    def _split_shapes(input_shape):
        """(x shape, [initial state shapes]) of a call's input shape(s)."""
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            return tuple(input_shape[0]), [tuple(shape) for shape in input_shape[1:]]
        return tuple(input_shape), []

    def compute_output_shape(self, input_shape):
        input_shape, state_shapes = self._split_shapes(input_shape)
        kind = f"{type(self).__name__} '{self.name}'"
        if len(input_shape) != self.rank + 3:
            space = {1: "steps", 2: "rows, cols", 3: "depth, rows, cols"}[self.rank]
            axes = f"(batch, time, channels, {space})" if self._first() else f"(batch, time, {space}, channels)"
            raise ValueError(f"{kind} needs inputs of shape {axes}, got {shape_str(input_shape)}")
        spatial, c = self._frame(self._view_shape(input_shape))
        if None in spatial + (c,):
            raise ValueError(f"{kind}: the spatial sizes and channels of the inputs must be known, got "
                             f"{shape_str(input_shape)}")
        out, _, _ = self._geometry(1, spatial, c)
        n, steps = input_shape[0], input_shape[1]
        state = self._user_shape(self._layout((n,) + out + (self.filters,)))
        y = self._user_shape(self._layout((n, steps) + out + (self.filters,))) if self.return_sequences else state
        if state_shapes and (len(state_shapes) != 2 or any(tuple(s[1:]) != state[1:] for s in state_shapes)):
            raise ValueError(f"{kind}: initial_state must be [h0, c0], each of shape {shape_str(state)}, got "
                             f"{[shape_str(s) for s in state_shapes]}")
        return [y, state, state] if self.return_state else y

    def check_input_shape(self, shape):
        """A later call's x must have the built rank and channels (the states are checked by
        compute_output_shape)."""
        if self.input_shape is None:
            return
        expected = self._split_shapes(self.input_shape)[0]
        if len(shape) != len(expected) or \
                self._frame(self._view_shape(shape))[1] != self._frame(self._view_shape(expected))[1]:
            raise ValueError(f"layer '{self.name}' ({type(self).__name__}) expects input of shape "
                             f"{shape_str(expected)}, got {shape_str((None,) + tuple(shape[1:]))}")

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        _, c = self._frame(self._view_shape(self._split_shapes(input_shape)[0]))
        f4 = 4 * self.filters
        self.kernel = self.add_weight("kernel", self.kernel_size + (c, f4), self.kernel_initializer,
                                      self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", self.kernel_size + (self.filters, f4),
                                                self.recurrent_initializer, self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (f4,), self.bias_initializer, self.bias_regularizer,
                                        constraint=self.bias_constraint)
            if self.unit_forget_bias:   # Keras: [init(F), ones(F), init(2F)]
                np.asarray(self.bias)[self.filters:2 * self.filters] = 1.0
        super().build(input_shape)

    def flops(self, input_shape):
        """Per step and output pixel: the input and recurrent convs (2 * taps * (C + F) * 4F),
        the bias and about 4 per gate value for the activations and the state update."""
        input_shape, _ = self._split_shapes(input_shape)
        spatial, c = self._frame(self._view_shape(input_shape))
        out, _, _ = self._geometry(1, spatial, c)
        taps, g = int(np.prod(self.kernel_size)), 4 * self.filters
        per_pixel = 2 * taps * (c + self.filters) * g + (g if self.use_bias else 0) + 4 * g
        return (input_shape[1] or 1) * int(np.prod(out)) * per_pixel

    # -- stateful --------------------------------------------------------------------------------

    def reset_states(self, states=None):
        """Zero the carried states (or set them to [h, c], channels-last (N, *OS, F);
        ConvLSTM1D: (N, OL, F))."""
        if not self.stateful:
            return
        self._owner_dict()["states"] = None if states is None else \
            [kernels.Tensor.from_numpy(self._channels_last_view(np.array(s, np.float32, copy=True)))
             for s in states]

    def _channels_last_view(self, state):
        """A channels-last state (N, OL, F) of ConvLSTM1D as the view's (N, 1, OL, F)."""
        return state if self.rank != 1 else state[:, None]

    def _owner_dict(self):
        """The layer's own __dict__ (a graph call context's reads through to its layer): the
        carried states belong to the layer, whichever call made them."""
        return self.__dict__.get("_owner", self).__dict__

    reset_state = reset_states   # Keras 3's name

    # -- forward / backward ----------------------------------------------------------------------

    def _mask(self, key, shape, rate):
        """A dropout mask (0 or 1 / (1 - rate)) of ``shape`` drawn by the dropout kernel."""
        from ..utils.random import next_seed
        seed = int(self._rng.integers(0, 2**63, dtype=np.int64)) if self._rng is not None else int(next_seed())
        ones = self._buffer(key + "_ones", shape)
        ones.fill_(1.0)
        mask, _ = kernels.dropout_forward(ones, rate, seed, out=self._buffer(key, shape),
                                          mask=self._buffer(key + "_bits", shape))
        return mask

    def forward(self, x, training=False):
        x, states = (x[0], x[1:]) if isinstance(x, list) else (x, [])
        self.compute_output_shape([tuple(x.shape)] + [tuple(s.shape) for s in states])   # checks the shapes
        self._x_shape, self._packed = tuple(x.shape), bool(states)
        mask = self.__dict__.get("_call_mask")
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        if mask is not None and tuple(mask.shape) != tuple(x.shape[:2]):
            raise ValueError(f"{type(self).__name__} '{self.name}': mask must have shape {tuple(x.shape[:2])} for "
                             f"inputs {tuple(x.shape)}, got {tuple(mask.shape)}")
        self._keep = None if mask is None else np.asarray(mask).astype(bool)
        h0, c0 = (self._from_layout(self._view(s), key) for s, key in zip(states, ("h0_in", "c0_in"))) \
            if states else (None, None)
        outs = self._forward_view(self._view(x), training, h0, c0)
        return [self._unview(o) for o in outs] if isinstance(outs, list) else self._unview(outs)

    def _skipped(self, t):
        """The samples a mask skips at input time t (None: none)."""
        if self._keep is None or self._keep[:, t].all():
            return None
        return ~self._keep[:, t]

    def _forward_view(self, x, training, h0, c0):
        """forward on the view (N, T, *S, C), or channels_first (N, T, C, *S), from the initial
        states h0, c0 (channels-last, or None)."""
        n, steps = x.shape[0], x.shape[1]
        spatial, c = self._frame(tuple(x.shape))
        f, rank = self.filters, len(spatial)
        out, args, rargs = self._geometry(steps * n, spatial, c)
        # time-major channels-last x (T, N, *S, C)
        self._x_perm = [1, 0] + (list(range(3, rank + 3)) + [2] if self._first() else list(range(2, rank + 3)))
        xs = kernels.transpose(x, self._x_perm, out=self._buffer("xs", (steps, n) + spatial + (c,)))
        self._in_mask = self._mask("in_mask", (n,) + spatial + (c,), self.dropout) \
            if training and self.dropout > 0.0 else None
        if self._in_mask is not None:
            kernels.binary_forward("multiply", xs, self._in_mask, out=xs)
        state = (n,) + out + (f,)
        self._rec_mask = self._mask("rec_mask", state, self.recurrent_dropout) \
            if training and self.recurrent_dropout > 0.0 else None
        gates = self._buffer("gates", (steps,) + state[:-1] + (4 * f,))
        _conv(xs.reshape([steps * n] + list(spatial) + [c]), self._kernel4(self.kernel), self.bias,
              gates.reshape([steps * n] + list(out) + [4 * f]), args)
        hs, cs = self._buffer("hs", (steps,) + state), self._buffer("cs", (steps,) + state)
        rec = self._buffer("rec", state[:-1] + (4 * f,))
        rows = n * int(np.prod(out))
        owner = self._owner_dict()
        if self.stateful and h0 is None and owner.get("states") is not None:   # given states win
            h0, c0 = owner["states"]
            if tuple(h0.shape) != state:
                raise ValueError(f"{type(self).__name__} '{self.name}': stateful=True carries states of shape "
                                 f"{tuple(h0.shape)}, got a batch needing {state}; call reset_states()")
        for s in range(steps):
            t = self._time(s, steps)
            z = _step(gates, t)
            h_prev, c_prev = self._prev(hs, h0, s, steps), self._prev(cs, c0, s, steps)
            if h_prev is not None:   # h = 0 at a first step without carried states
                _conv(self._dropped_h(h_prev), self._kernel4(self.recurrent_kernel), None, rec, rargs)
                kernels.binary_forward("add", z, rec, out=z)
            kernels.lstm_cell_forward(z.reshape([rows, 4 * f]),
                                      None if c_prev is None else c_prev.reshape([rows, f]),
                                      _step(cs, t).reshape([rows, f]), _step(hs, t).reshape([rows, f]),
                                      activation=self.activation.name,
                                      recurrent_activation=self.recurrent_activation.name)
            skipped = self._skipped(t)
            if skipped is not None:   # masked samples keep their states
                for buf, prev in ((hs, h_prev), (cs, c_prev)):
                    np.asarray(buf)[t][skipped] = 0.0 if prev is None else np.asarray(prev)[skipped]
        # Keras: a masked step repeats the previous output, zeros before a sample's first real
        # step; the states there are h0 (when given), so those outputs are zeroed on their own
        self._leading = None
        if self._keep is not None and h0 is not None:
            processed = self._keep[:, ::-1] if self.go_backwards else self._keep
            self._leading = np.cumsum(processed, axis=1) == 0   # (N, T) in processing order
        self._xs, self._gates, self._hs, self._cs, self._h0, self._c0 = xs, gates, hs, cs, h0, c0
        self._dims = (steps, n, spatial, c, out, args, rargs)
        last = self._time(steps - 1, steps)
        h_n, c_n = _step(hs, last), _step(cs, last)
        if self.stateful:   # copies: constants of the next call, no gradient crosses batches
            owner["states"] = [kernels.Tensor.from_numpy(np.array(s, np.float32, copy=True)) for s in (h_n, c_n)]
        if self.return_sequences:
            y = self._buffer("y", self._layout((n, steps) + out + (f,)))
            seq = [1, 0] + ([rank + 2] + list(range(2, rank + 2)) if self._first() else list(range(2, rank + 3)))
            if self.go_backwards:   # Keras returns the sequence in processing order: reversed
                np.copyto(np.asarray(y), np.asarray(hs)[::-1].transpose(seq))
            else:
                kernels.transpose(hs, seq, out=y)
            if self._leading is not None:
                np.asarray(y)[self._leading] = 0.0
        elif self.return_state or self._leading is not None:
            # a copy: h_n is also a returned state (a tape tells outputs apart by identity), and
            # leading masked outputs are zeros
            y = self._buffer("y_last", tuple(h_n.shape))
            np.copyto(np.asarray(y), np.asarray(h_n))
            if self._leading is not None:
                np.asarray(y)[self._leading[:, -1]] = 0.0
            y = self._to_layout(y, "y")
        else:
            y = self._to_layout(h_n, "y")
        if self.return_state:
            return [y, self._to_layout(h_n, "h_n"), self._to_layout(c_n, "c_n")]
        return y

    def _time(self, s, steps):
        return steps - 1 - s if self.go_backwards else s

    def _prev(self, buf, first, s, steps):
        """The state step s starts from: ``first`` (carried, or None: zeros) at step 0, else the
        previous step's, out of the time-major ``buf``."""
        return first if s == 0 else _step(buf, self._time(s - 1, steps))

    def _dropped_h(self, h):
        if self._rec_mask is None:
            return h
        return kernels.binary_forward("multiply", h, self._rec_mask, out=self._buffer("h_dropped", h.shape))

    def _to_layout(self, t, key):
        """A channels-last (N, *OS, F) state in the layer's format (a copy for channels_first)."""
        if not self._first():
            return t
        return kernels.transpose(t, [0, t.ndim - 1] + list(range(1, t.ndim - 1)),
                                 out=self._buffer(key, self._layout(t.shape)))

    def _from_layout(self, t, key):
        if t is None or not self._first():
            return t
        n, f, *out = t.shape
        return kernels.transpose(t, [0] + list(range(2, t.ndim)) + [1], out=self._buffer(key, (n, *out, f)))

    def backward(self, dy):
        dh_n = dc_n = None
        if isinstance(dy, (list, tuple)):
            dy, dh_n, dc_n = (list(dy) + [None, None])[:3]
        if self._leading is not None and dy is not None:   # those outputs were constants (zeros)
            dy = np.array(dy, np.float32, copy=True)
            dy[self._leading if self.return_sequences else self._leading[:, -1]] = 0.0
            dy = kernels.Tensor.from_numpy(dy)
        dx, dh0, dc0 = self._backward_view(self._view(dy), self._view(dh_n), self._view(dc_n))
        dx = None if dx is None else dx.reshape(list(self._x_shape))
        if not self._packed:
            return dx
        return [dx] + [None if d is None else self._unview(self._to_layout(d, key))
                       for d, key in ((dh0, "dh0"), (dc0, "dc0"))]

    def _backward_view(self, dy, dh_n, dc_n):
        """backward on the view, given the gradients of y and the final states there. Returns
        (dx, dh0, dc0), the state gradients channels-last, None unless the states were inputs."""
        steps, n, spatial, c, out, args, rargs = self._dims
        f, rows, rank = self.filters, n * int(np.prod(out)), len(spatial)
        state = (n,) + out + (f,)
        gates, hs, cs = self._gates, self._hs, self._cs
        dys = None
        if dy is not None and self.return_sequences:
            dys = self._buffer("dys", (steps,) + state)
            seq = [1, 0] + (list(range(3, rank + 3)) + [2] if self._first() else list(range(2, rank + 3)))
            if self.go_backwards:   # y[:, s] is the step reading t = T-1-s
                np.copyto(np.asarray(dys), np.asarray(dy).transpose(seq)[::-1])
            else:
                kernels.transpose(dy, seq, out=dys)
        dh, dc = self._buffer("dh", state), self._buffer("dc", state)
        dh.fill_(0.0)
        dc.fill_(0.0)
        last = [g for g in (None if self.return_sequences else dy, dh_n) if g is not None]
        for g in last:
            kernels.binary_forward("add", dh, self._from_layout(g, "dlast"), out=dh)
        if dc_n is not None:
            kernels.binary_forward("add", dc, self._from_layout(dc_n, "dc_n"), out=dc)
        dgates = self._buffer("dgates", (steps,) + state[:-1] + (4 * f,))
        state_grads = self._packed and self.needs_input_grad
        for s in range(steps - 1, -1, -1):
            t = self._time(s, steps)
            if dys is not None:
                kernels.binary_forward("add", dh, _step(dys, t), out=dh)
            skipped = self._skipped(t)
            if skipped is not None:   # those samples' states pass through the step unchanged
                kept_dh, kept_dc = np.asarray(dh)[skipped].copy(), np.asarray(dc)[skipped].copy()
            c_prev = self._prev(cs, self._c0, s, steps)
            dz = _step(dgates, t)
            kernels.lstm_cell_backward(_step(gates, t).reshape([rows, 4 * f]), _step(cs, t).reshape([rows, f]),
                                       None if c_prev is None else c_prev.reshape([rows, f]),
                                       dh.reshape([rows, f]), dc.reshape([rows, f]), dz.reshape([rows, 4 * f]),
                                       activation=self.activation.name,
                                       recurrent_activation=self.recurrent_activation.name)
            if skipped is not None:
                np.asarray(dz)[skipped] = 0.0
                np.asarray(dc)[skipped] = kept_dc
            if s > 0 or state_grads:   # dL/dh of the previous step (or h0), through the recurrent conv
                _conv_data_gradient(dz, self._kernel4(self.recurrent_kernel), dh, rargs)
                if self._rec_mask is not None:
                    kernels.binary_forward("multiply", dh, self._rec_mask, out=dh)
                if skipped is not None:
                    np.asarray(dh)[skipped] += kept_dh
        if self.trainable:
            self._weight_grads(dgates, steps, n, args, rargs)
        if not self.needs_input_grad:
            return None, None, None
        dxs = self._buffer("dxs", (steps, n) + spatial + (c,))
        _conv_data_gradient(dgates.reshape([steps * n] + list(out) + [4 * f]), self._kernel4(self.kernel),
                            dxs.reshape([steps * n] + list(spatial) + [c]), args)
        if self._in_mask is not None:
            kernels.binary_forward("multiply", dxs, self._in_mask, out=dxs)
        dx = self._buffer("dx", tuple(dxs.shape[i] for i in np.argsort(self._x_perm)))
        dx = kernels.transpose(dxs, [int(i) for i in np.argsort(self._x_perm)], out=dx)
        return (dx, dh, dc) if state_grads else (dx, None, None)

    def _weight_grads(self, dgates, steps, n, args, rargs):
        """dkernel, dbias: one weight-gradient conv over all steps; drecurrent_kernel: the h each
        step read (the previous step's, masked as forward used it; a carried h0 for step 0)
        against that step's dz, also one call for steps 1..T-1."""
        grads = self.gradients
        out = list(dgates.shape[2:-1])
        _conv_weight_gradient(self._xs.reshape([-1] + list(self._xs.shape[2:])),
                              dgates.reshape([steps * n] + out + [4 * self.filters]), self._kernel4(grads[0]),
                              grads[2] if self.use_bias else None, args)
        drec = self._kernel4(grads[1])
        drec.fill_(0.0)
        if steps > 1:
            # forward: step s reads h of t = s - 1; backwards: of t = s + 1
            read, at = ((0, steps - 1), (1, steps)) if not self.go_backwards else ((1, steps), (0, steps - 1))
            h_read = kernels.as_tensor(np.asarray(self._hs)[read[0]:read[1]])
            if self._rec_mask is not None:   # the masked h the recurrent conv read
                h_read = kernels.binary_forward("multiply", h_read, self._rec_mask,
                                                out=self._buffer("h_read", tuple(h_read.shape)))
            _conv_weight_gradient(h_read.reshape([(steps - 1) * n] + out + [self.filters]),
                                  _steps(dgates, *at), drec, None, rargs)
        if self._h0 is not None:
            part = self._buffer("drec_h0", tuple(drec.shape))
            _conv_weight_gradient(self._dropped_h(self._h0), _step(dgates, self._time(0, steps)), part, None,
                                  rargs)
            kernels.binary_forward("add", drec, part, out=drec)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
                   padding=self.padding, data_format=self.data_format, dilation_rate=self.dilation_rate,
                   activation=_activations.serialize(self.activation),
                   recurrent_activation=_activations.serialize(self.recurrent_activation),
                   use_bias=self.use_bias,
                   kernel_initializer=initializers.serialize(self.kernel_initializer),
                   recurrent_initializer=initializers.serialize(self.recurrent_initializer),
                   bias_initializer=initializers.serialize(self.bias_initializer),
                   unit_forget_bias=self.unit_forget_bias,
                   kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
                   recurrent_regularizer=regularizers.serialize(self.recurrent_regularizer),
                   bias_regularizer=regularizers.serialize(self.bias_regularizer),
                   kernel_constraint=constraints.serialize(self.kernel_constraint),
                   recurrent_constraint=constraints.serialize(self.recurrent_constraint),
                   bias_constraint=constraints.serialize(self.bias_constraint),
                   dropout=self.dropout, recurrent_dropout=self.recurrent_dropout, seed=self.seed,
                   return_sequences=self.return_sequences, return_state=self.return_state,
                   go_backwards=self.go_backwards, stateful=self.stateful, unroll=self.unroll)
        return cfg


class ConvLSTM2D(_ConvLSTM):
    """2-D convolutional LSTM: (N, T, H, W, C) -> (N, [T,] OH, OW, F); see _ConvLSTM."""

    rank = 2


class ConvLSTM1D(_ConvLSTM):
    """1-D convolutional LSTM over sequences of sequences: (N, T, L, C) -> (N, [T,] OL, F);
    kernel (K, C, 4F), recurrent_kernel (K, F, 4F). ConvLSTM2D's code on height-1 views."""

    rank = 1



class ConvLSTM3D(_ConvLSTM):
    """3-D convolutional LSTM over sequences of volumes: (N, T, D, H, W, C) -> (N, [T,] OD, OH,
    OW, F); kernel (KD, KH, KW, C, 4F), recurrent_kernel (KD, KH, KW, F, 4F). The same code with
    the conv3d kernels."""

    rank = 3
