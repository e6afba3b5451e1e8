"""The float64 forms of more built-in layers (see layers/_float64.py), registered the same way:

    EinsumDense           activation(einsum(equation, x, kernel) + bias)
    Embedding             take(embeddings, ids) (the mask of mask_zero from the ids, as float32)
    Rescaling             x * scale + offset
    Normalization         (x - mean) / max(sqrt(variance), 1e-7)  (invert: mean + x * std);
                          adapt computes in float64 and stores into the float64 weights
    BatchNormalization    training: batch mean / biased variance (Keras 3's masked moments under a
                          mask), the moving statistics assigned moving * momentum + batch *
                          (1 - momentum) in float64; else the moving ones (axis -1, or 1 channels-first)
    GroupNormalization    per sample and group of channels;  UnitNormalization  x / sqrt(max(s, 1e-12))
    RMSNormalization      x / sqrt(mean(x^2) + epsilon) * scale
    GaussianNoise / GaussianDropout / AlphaDropout / SpatialDropout1D/2D/3D: the float32 layers'
                          formulas with NumPy float64 draws (training only)
    Identity, ActivityRegularization (the penalty is the graph's: Regularizer.penalty in float64), RepeatVector,
    Permute, Masking, PReLU (alpha broadcast; float64 weight)
    RNN (SimpleRNN, LSTM, GRU, RNN(cell)): the cell's call per step on float64
                          states (the cells' call is written with ops), go_backwards, masks,
                          return_sequences / return_state, initial_state, stateful, dropout
    TimeDistributed, Bidirectional: the wrapped layers' float64 calls

A form sees the user's layout (channels-first data stays channels-first: base._float64_forward).
The layers whose outputs are not float computations (Discretization, CategoryEncoding, Hashing,
StringLookup, IntegerLookup, TextVectorization) are exempt (``_float64_exempt``, base.py).
"""
from __future__ import annotations

import numpy as np

from ._float64 import _form, _ops, _wide   # (imported at _float64's end: defined by then)
from .activation import PReLU
from .core import Identity, Masking, resolve_noise_shape
from .einsum_dense import EinsumDense
from .embedding import Embedding
from .normalization import BatchNormalization, GroupNormalization, RMSNormalization, UnitNormalization
from .preprocessing import _EPSILON, Normalization, Rescaling
from .regularization import (ActivityRegularization, AlphaDropout, GaussianDropout, GaussianNoise,
                             SpatialDropout2D)
from .reshaping import Permute, RepeatVector


def _inv_sqrt(v):
    """1 / sqrt(v) with ops whose gradients differentiate again (a PINN's u_xx through the layer;
    ops.rsqrt's float64 gradient rule does not)."""
    ops = _ops()
    return ops.divide(1.0, ops.sqrt(v))


def _const(a):
    """A float64 constant Tensor (no gradient): masks, scales."""
    from .. import kernels
    return kernels.Tensor.from_numpy(np.ascontiguousarray(a, dtype=np.float64))


def _mask_tensor(flags):
    """A graph mask as the layers hand it on (output_mask_value): float32 1 / 0."""
    from .. import kernels
    return kernels.Tensor.from_numpy(np.ascontiguousarray(flags, dtype=np.float32))


# -- lookups and preprocessing ------------------------------------------------------------------

@_form(EinsumDense)
def _einsum_dense(self, inputs, training=None):
    """activation(einsum(equation, x, kernel) + bias): the bias has the output's trailing shape (1
    along the labels it is not added along), so it broadcasts as it is."""
    if self.__dict__.get("lora_enabled") or getattr(self, "_quantized", None) is not None:
        raise NotImplementedError(f"EinsumDense '{self.name}': a float64 EinsumDense with LoRA or quantized "
                                  "weights is not supported")
    ops = _ops()
    z = ops.einsum(self.equation, _wide(inputs), self.kernel)
    if self.bias is not None:
        z = ops.add(z, self.bias)
    return self.activation(z)


@_form(Embedding)
def _embedding(self, inputs, training=None):
    if getattr(self, "_quantized", None) is not None or self.__dict__.get("lora_enabled"):
        raise NotImplementedError(f"Embedding '{self.name}': a float64 Embedding with LoRA or quantized weights "
                                  "is not supported")
    ids = np.asarray(inputs)
    if ids.dtype.kind == "f":
        if not np.all(np.isfinite(ids)) or np.any(ids != np.floor(ids)):
            raise ValueError(f"Embedding '{self.name}': indices must be whole numbers, got non-integer values")
    ids = ids.astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
        raise ValueError(f"Embedding '{self.name}': index out of range [0, {self.input_dim}): got values in "
                         f"[{ids.min()}, {ids.max()}]")
    if self.mask_zero:   # what output_mask_value hands the graph (the float32 forward sets it too)
        self._mask = _mask_tensor(ids != 0)
    return _ops().take(self.embeddings, ids, axis=0)


@_form(Rescaling)
def _rescaling(self, inputs, training=None):
    ops = _ops()
    y = ops.multiply(_wide(inputs), _const(self.scale))
    offset = np.asarray(self.offset, np.float64)
    return ops.add(y, _const(offset)) if offset.any() else y


@_form(Normalization)
def _normalization(self, inputs, training=None):
    ops = _ops()
    x = _wide(inputs)
    if self.input_mean is None:
        mean = np.asarray(self.mean, np.float64).reshape(self._broadcast)
        var = np.asarray(self.variance, np.float64).reshape(self._broadcast)
    else:   # the fixed statistics in float64 (the float32 layer's _fixed are rounded to float32)
        mean, var = (np.broadcast_to(np.asarray(v, np.float64), self._broadcast)
                     for v in (self.input_mean, self.input_variance))
    std = np.maximum(np.sqrt(var), _EPSILON)
    if self.invert:
        return ops.add(_const(mean), ops.multiply(x, _const(std)))
    return ops.divide(ops.subtract(x, _const(mean)), _const(std))


# -- normalization ------------------------------------------------------------------------------

@_form(BatchNormalization)
def _batch_norm(self, inputs, training=None, mask=None):
    ops = _ops()
    x = _wide(inputs)
    # the channel axis: the last, or axis 1 of channels-first data (the form sees the user's layout)
    ch = 1 if x.ndim >= 3 and self._channels_first(x.ndim) else x.ndim - 1
    axes = tuple(a for a in range(x.ndim) if a != ch)
    kept = tuple(int(x.shape[ch]) if a == ch else 1 for a in range(x.ndim))   # (C,) statistics' broadcast
    if training and self.trainable and mask is not None:
        # Keras 3's masked moments: the statistics over the unmasked positions (the mask has one
        # axis fewer than x: a flag per step, broadcast over the channels)
        m = np.asarray(mask).astype(np.float64)
        if m.ndim != x.ndim - 1:
            raise ValueError(f"BatchNormalization '{self.name}': the mask must have one axis fewer than the inputs, "
                             f"got mask shape {m.shape} for inputs {tuple(x.shape)}")
        mb = np.broadcast_to(m[..., None], tuple(x.shape))
        weight = _const(mb.sum(axis=axes) + 1e-7)   # Keras: + epsilon
        mbt = _const(mb)
        mean = ops.divide(ops.sum(ops.multiply(x, mbt), axis=axes), weight)
        var = ops.divide(ops.sum(ops.square(ops.multiply(ops.subtract(x, ops.reshape(mean, kept)), mbt)), axis=axes),
                         weight)
    elif training and self.trainable:
        mean = ops.mean(x, axis=axes)
        var = ops.mean(ops.square(ops.subtract(x, ops.reshape(mean, kept))), axis=axes)   # biased, as Keras 3
    if training and self.trainable:
        mom = self.momentum
        # the moving statistics: state, assigned (no gradient), in float64 as the weights are
        self.moving_mean.assign(np.asarray(self.moving_mean, np.float64) * mom
                                + np.asarray(mean, np.float64) * (1.0 - mom))
        self.moving_variance.assign(np.asarray(self.moving_variance, np.float64) * mom
                                    + np.asarray(var, np.float64) * (1.0 - mom))
    else:
        mean, var = self.moving_mean, self.moving_variance
    inv = _inv_sqrt(ops.add(var, float(self.epsilon)))
    if self.scale:
        inv = ops.multiply(inv, self.gamma)
    y = ops.multiply(ops.subtract(x, ops.reshape(mean, kept)), ops.reshape(inv, kept))
    if self.center:
        y = ops.add(y, ops.reshape(self.beta, kept))
    return y


@_form(GroupNormalization)
def _group_norm(self, inputs, training=None):
    ops = _ops()
    x = _wide(inputs)
    ax, g = self._channel_axis, self.groups
    shape = tuple(int(d) for d in x.shape)
    c = shape[ax]
    grouped = shape[:ax] + (g, c // g) + shape[ax + 1:]
    xg = ops.reshape(x, grouped)
    red = tuple(a for a in range(1, len(grouped)) if a != ax)   # all but the batch and the group axes
    mean = ops.mean(xg, axis=red, keepdims=True)
    var = ops.mean(ops.square(ops.subtract(xg, mean)), axis=red, keepdims=True)
    y = ops.reshape(ops.multiply(ops.subtract(xg, mean), _inv_sqrt(ops.add(var, float(self.epsilon)))), shape)
    kept = tuple(c if a == ax else 1 for a in range(len(shape)))
    if self.scale:
        y = ops.multiply(y, ops.reshape(self.gamma, kept))
    if self.center:
        y = ops.add(y, ops.reshape(self.beta, kept))
    return y


@_form(RMSNormalization)
def _rms_norm(self, inputs, training=None):
    """Keras 3's RMSNormalization: x / sqrt(mean(x^2) + epsilon) * scale (the mean of squares, not
    LayerNormalization(rms_scaling=True)'s centred variance, whose form the class would inherit)."""
    ops = _ops()
    x = _wide(inputs)
    axes = tuple(self._normalized_axes(tuple(x.shape)))
    kept = tuple(int(d) if a in axes else 1 for a, d in enumerate(x.shape))
    ms = ops.mean(ops.square(x), axis=axes, keepdims=True)
    return ops.multiply(ops.multiply(x, _inv_sqrt(ops.add(ms, float(self.epsilon)))), ops.reshape(self.gamma, kept))


@_form(UnitNormalization)
def _unit_norm(self, inputs, training=None):
    ops = _ops()
    x = _wide(inputs)
    axes = tuple(self.axis) if isinstance(self.axis, list) else self.axis
    s = ops.sum(ops.square(x), axis=axes, keepdims=True)
    return ops.multiply(x, _inv_sqrt(ops.maximum(s, 1e-12)))


# -- noise and regularization -------------------------------------------------------------------

def _rng(self):
    return np.random.default_rng(self._next_seed())


@_form(GaussianNoise)
def _gaussian_noise(self, inputs, training=None):
    x = _wide(inputs)
    if not training or self.stddev == 0.0:
        return x
    return _ops().add(x, _const(self.stddev * _rng(self).standard_normal(tuple(x.shape))))


@_form(GaussianDropout)
def _gaussian_dropout(self, inputs, training=None):
    x = _wide(inputs)
    if not training or self.rate == 0.0:
        return x
    mask = 1.0 + np.sqrt(self.rate / (1.0 - self.rate)) * _rng(self).standard_normal(tuple(x.shape))
    return _ops().multiply(x, _const(mask))


_ALPHA_P = -1.7580993408473766   # SELU's -scale * alpha


@_form(AlphaDropout)
def _alpha_dropout(self, inputs, training=None):
    ops = _ops()
    x = _wide(inputs)
    if not training or self.rate == 0.0:
        return x
    shape = tuple(x.shape) if self.noise_shape is None else \
        tuple(resolve_noise_shape(self, self.noise_shape, x.shape))
    keep = _rng(self).random(shape) >= self.rate
    a = ((1.0 - self.rate) * (1.0 + self.rate * _ALPHA_P ** 2)) ** -0.5
    b = -a * _ALPHA_P * self.rate
    # y = a * (keep ? x : alpha') + b  ==  x * (a keep) + (keep ? b : a alpha' + b)
    return ops.add(ops.multiply(x, _const(a * keep)), _const(np.where(keep, b, a * _ALPHA_P + b)))


@_form(SpatialDropout2D)   # and its subclasses SpatialDropout1D / 3D
def _spatial_dropout(self, inputs, training=None):
    x = _wide(inputs)
    if not training or self.rate == 0.0:
        return x
    # one draw per sample and channel (the form sees the user's layout: channels at axis 1 or last)
    n, rest = int(x.shape[0]), (1,) * (x.ndim - 2)
    shape = (n, int(x.shape[1])) + rest if self._channels_first(x.ndim) else (n,) + rest + (int(x.shape[-1]),)
    keep = _rng(self).random(shape) >= self.rate
    return _ops().multiply(x, _const(keep / (1.0 - self.rate)))


@_form(Identity, ActivityRegularization)
def _identity(self, inputs, training=None):
    return _wide(inputs)


# -- shapes -------------------------------------------------------------------------------------

@_form(RepeatVector)
def _repeat_vector(self, inputs, training=None):
    ops = _ops()
    x = _wide(inputs)
    return ops.repeat(ops.expand_dims(x, 1), self.n, axis=1)


@_form(Permute)
def _permute(self, inputs, training=None):
    return _ops().transpose(_wide(inputs), self._perm)


@_form(Masking)
def _masking(self, inputs, training=None):
    x = _wide(inputs)
    kept = self._kept(x.ndim)
    keep = np.any(np.asarray(x) != self.mask_value, axis=tuple(range(kept, x.ndim)))
    self._mask = _mask_tensor(keep)   # output_mask_value's, as the float32 forward's
    return _ops().multiply(x, _const(keep.reshape(keep.shape + (1,) * (x.ndim - kept))))


@_form(PReLU)
def _prelu(self, inputs, training=None):
    ops = _ops()
    x = _wide(inputs)
    # x > 0 ? x : alpha * x (dx = alpha at 0, as the float32 kernel)
    return ops.where(np.asarray(x) > 0, x, ops.multiply(self.alpha, x))


# -- recurrent ----------------------------------------------------------------------------------

def _rnn_run(self, inputs, training=None, mask=None):
    """The RNN's computation on float64 (see _rnn): (outputs as the layer returns them, final
    states)."""
    from .rnn_cells import _draw_dropout_masks, _state_sizes, _step
    ops = _ops()
    xs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if self._n_inputs > 1:
        raise NotImplementedError(f"{type(self).__name__} '{self.name}': nested inputs (several sequences) "
                                  "are not supported under a float64 policy")
    x, states = _wide(xs[0]), [_wide(s) for s in xs[1:]]
    cell = self.cell
    n, t = int(x.shape[0]), int(x.shape[1])
    sizes = _state_sizes(cell)
    if isinstance(mask, (list, tuple)):
        mask = mask[0] if mask else None
    if mask is not None and tuple(np.shape(mask)) != (n, t):
        raise ValueError(f"{type(self).__name__} '{self.name}': mask must have shape ({n}, {t}) for inputs "
                         f"{tuple(x.shape)}, got {tuple(np.shape(mask))}")
    for s, size in zip(states, sizes):
        if tuple(s.shape) != (n, size):
            raise ValueError(f"{type(self).__name__} '{self.name}': an initial state must have shape ({n}, {size}), "
                             f"got {tuple(s.shape)}")
    if self.stateful:
        carried = self._carried_states(n)
        if not states:
            states = [_wide(s) for s in carried]
    if not states:
        states = [_const(np.zeros((n, s))) for s in sizes]
    if training:
        _draw_dropout_masks(cell, n, int(x.shape[-1]))
    m = None if mask is None else np.asarray(mask).astype(np.float64)
    order = range(t - 1, -1, -1) if self.go_backwards else range(t)
    outputs, prev_out = [], None
    for step in order:
        out, new = _step(cell, x[:, step], states, training)
        if len(new) != len(sizes):
            raise ValueError(f"{type(self).__name__} '{self.name}': {type(cell).__name__}.call returned "
                             f"{len(new)} state(s), its state_size lists {len(sizes)}")
        if m is not None:   # Keras: a masked sample keeps its states and repeats its output (0 at first)
            keep, skip = _const(m[:, step:step + 1]), _const(1.0 - m[:, step:step + 1])
            new = [ops.add(ops.multiply(s_new, keep), ops.multiply(s_old, skip)) for s_new, s_old in zip(new, states)]
            if prev_out is None:
                prev_out = _const(np.zeros(tuple(out.shape)))
            out = ops.add(ops.multiply(out, keep), ops.multiply(prev_out, skip))
        states, prev_out = new, out
        outputs.append(out)
    if self.return_sequences and self._reversed_output():
        outputs.reverse()
    y = ops.stack(outputs, axis=1) if self.return_sequences else outputs[-1]
    if self.zero_output_for_mask and m is not None and self.return_sequences:
        mo = m[:, ::-1] if self.go_backwards and not self._output_in_input_order else m
        y = ops.multiply(y, _const(mo[:, :, None]))
    if self.stateful:   # the next call's initial states: float64 constants (no gradient across batches)
        self._keep_states(states)
    return ([y] + list(states) if self.return_state else y), list(states)


def _rnn(self, inputs, training=None, mask=None):
    """SimpleRNN / LSTM / GRU / RNN: the cell's call (written with ops) once per step, as the
    float32 layer's stepwise path, on float64 inputs and states."""
    return _rnn_run(self, inputs, training, mask)[0]


def _register_recurrent():
    from .recurrent import Bidirectional
    from .rnn_cells import RNN
    from .wrappers import TimeDistributed
    _form(RNN)(_rnn)

    @_form(TimeDistributed)
    def _time_distributed(self, inputs, training=None, mask=None):
        ops = _ops()
        x = _wide(inputs)
        n, t = int(x.shape[0]), int(x.shape[1])
        y = self.layer(ops.reshape(x, (n * t,) + tuple(x.shape[2:])), training=training)
        return ops.reshape(y, (n, t) + tuple(y.shape[1:]))

    @_form(Bidirectional)
    def _bidirectional(self, inputs, training=None, mask=None):
        ops = _ops()
        xs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        x, fs, bs = self._split(xs) if len(xs) > 1 else (xs[0], [], [])
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        outs_f, _ = _rnn_run(self.forward_layer, [x] + fs if fs else x, training, mask)
        outs_b, _ = _rnn_run(self.backward_layer, [x] + bs if bs else x, training, mask)
        (yf, *sf) = outs_f if self.return_state else [outs_f]
        (yb, *sb) = outs_b if self.return_state else [outs_b]
        if mask is not None and self.return_sequences:   # Keras: masked steps output 0 in both directions
            m = _const(np.asarray(mask).astype(np.float64)[:, :, None])
            yf, yb = ops.multiply(yf, m), ops.multiply(yb, m)
        if self.merge_mode is None:
            ys = [yf, yb]
        elif self.merge_mode == "concat":
            ys = [ops.concatenate([yf, yb], axis=-1)]
        elif self.merge_mode == "mul":
            ys = [ops.multiply(yf, yb)]
        elif self.merge_mode == "sum":
            ys = [ops.add(yf, yb)]
        else:
            ys = [ops.multiply(ops.add(yf, yb), 0.5)]
        if not self.return_state and len(ys) == 1:
            return ys[0]
        return ys + sf + sb


_register_recurrent()
