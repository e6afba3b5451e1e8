"""Activation layers (Keras layers/activations): ReLU, LeakyReLU, ELU, Softmax, PReLU.

Each runs on the activation kernels of corenn.kernels (relu, leaky_relu, elu, softmax): forward
y = f(x), backward dx = dy * f'(x) from the saved x and y. Shapes are unchanged.
"""
from __future__ import annotations

import numpy as np

from .. import constraints, initializers, kernels, regularizers
from .base import Layer, sample_size, shape_str

__all__ = ["ReLU", "LeakyReLU", "ELU", "Softmax", "PReLU"]


class _KernelActivation(Layer):
    """y = kernels.activation_forward(self._kind, x, alpha=self._alpha) and its gradient."""

    scalar_input = "batch"  # elementwise: a 0-d input gives a 0-d output, as in Keras 3

    accepts_any_shape = True   # elementwise, no weights: no input spec (Keras)

    _kind = "linear"
    _alpha = 0.0

    def forward(self, x, training=False):
        y = kernels.activation_forward(self._kind, x, self._buffer("y", x.shape), alpha=self._alpha)
        self._x, self._y = x, y
        return y

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        return kernels.activation_backward(self._kind, self._x, self._y, dy,
                                           self._buffer("dx", dy.shape), alpha=self._alpha)

    def flops(self, input_shape):
        return sample_size(input_shape)


def _number(layer, arg, value, low=None):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or (low is not None and value < low):
        bound = "" if low is None else f" >= {low}"
        raise ValueError(f"{type(layer).__name__} '{layer.name}': {arg} must be a finite number{bound}, "
                         f"got {value!r}")
    return float(value)


class ReLU(_KernelActivation):
    """Rectified linear unit, Keras' general form (keras.activations.relu):
        a = x * [x > threshold]  (threshold != 0),  else max(x, 0)
        a = min(max(a, 0), max_value)  when max_value is given
        f(x) = a - negative_slope * max(threshold - x, 0)
    i.e. x between threshold and max_value, max_value above, negative_slope * (x - threshold)
    below the threshold. threshold = 0 runs on the kernels: with a max_value (the relu6 kernel
    with that ceiling: MobileNet's ReLU(6.)) or a negative_slope (relu, or leaky_relu's when
    negative_slope > 0). Other settings (a threshold, or a ceiling with a slope) compute the
    formula above and its gradient in NumPy:
        f'(x) = [x > threshold] * [0 < a < max_value] + negative_slope * [x < threshold].

    Args:
        max_value: None (no ceiling) or a number >= 0.
        negative_slope: >= 0.
        threshold: any number.
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = None if max_value is None else _number(self, "max_value", max_value, 0.0)
        self.negative_slope = _number(self, "negative_slope", negative_slope, 0.0)
        self.threshold = _number(self, "threshold", threshold)
        if self.threshold != 0.0 or (self.max_value is not None and self.negative_slope):
            self._kind = None   # the general formula (forward / backward below)
        elif self.max_value is not None:
            self._kind, self._alpha = "relu6", self.max_value
        else:
            self._kind = "leaky_relu" if self.negative_slope else "relu"
            self._alpha = self.negative_slope

    def _general(self, x):
        """(f(x), f'(x)) of the general formula, float32."""
        x = np.asarray(x)
        a = x * (x > self.threshold) if self.threshold != 0.0 else np.maximum(x, 0)
        slope = (x > self.threshold).astype(np.float32)
        if self.max_value is not None:
            slope *= (a > 0) & (a < self.max_value)
            a = np.clip(a, 0, self.max_value)
        if self.negative_slope:
            a = a - self.negative_slope * np.maximum(self.threshold - x, 0)
            slope += self.negative_slope * (x < self.threshold)
        return a.astype(np.float32), slope

    def forward(self, x, training=False):
        if self._kind is not None:
            return super().forward(x, training)
        y, self._slope = self._general(x)
        out = self._buffer("y", x.shape)
        np.asarray(out)[...] = y
        return out

    def backward(self, dy):
        if self._kind is not None:
            return super().backward(dy)
        if not self.needs_input_grad:
            return None
        dx = self._buffer("dx", dy.shape)
        np.asarray(dx)[...] = np.asarray(dy) * self._slope
        return dx

    def get_config(self):
        cfg = super().get_config()
        cfg.update(max_value=self.max_value, negative_slope=self.negative_slope,
                   threshold=self.threshold)
        return cfg


class LeakyReLU(_KernelActivation):
    """f(x) = x if x >= 0 else negative_slope * x.

    Args:
        negative_slope: >= 0 (Keras 3 default 0.3). ``alpha`` is accepted as its old name.
    """

    _kind = "leaky_relu"

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.negative_slope = _number(self, "negative_slope", negative_slope, 0.0)
        self._alpha = self.negative_slope

    def get_config(self):
        cfg = super().get_config()
        cfg["negative_slope"] = self.negative_slope
        return cfg


class ELU(_KernelActivation):
    """f(x) = x if x > 0 else alpha * (exp(x) - 1).

    Args:
        alpha: scale of the negative part (default 1.0).
    """

    _kind = "elu"

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _number(self, "alpha", alpha)
        self._alpha = self.alpha

    def get_config(self):
        cfg = super().get_config()
        cfg["alpha"] = self.alpha
        return cfg


class Softmax(_KernelActivation):
    """y = exp(x) / sum exp(x) over ``axis``; backward dx = y * (dy - sum(dy * y)).

    Args:
        axis: an int or a list of ints (not the batch axis): the softmax normalises over all of
            them together (Keras 3). The last axis runs the kernel on x directly; any other set
            of axes is moved to the end (one contiguous copy), run through the same kernel as
            rows of their flattened size, and moved back, so every axis has one implementation.

    Call: ``layer(x, mask=m)`` (Keras 3): where m is 0 the score gets -1e9 before the softmax
    and the output is set to 0 after it; m has x's shape, or one axis fewer (one flag per
    position). A mask carried by the input (Embedding(mask_zero=True), Masking) is read the
    same way and passed on.
    """

    scalar_input = "refuse"  # Keras' TensorFlow backend raises (no axis to normalise)

    _kind = "softmax"
    supports_masking = True
    consumes_mask = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
            raise ValueError(f"Softmax '{self.name}': axis must be an int or a list of ints, got {axis!r}")
        self.axis = [int(a) for a in axes] if isinstance(axis, (list, tuple)) else int(axis)
        self._perm = None   # transpose that moves the softmax axes last (None: already last)

    def build(self, input_shape):
        rank = len(input_shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if rank < 2 or any(not -rank <= a < rank for a in axes):
            raise ValueError(f"Softmax '{self.name}': axis {self.axis} is out of range for inputs of "
                             f"shape {shape_str(input_shape)}")
        pos = [a % rank for a in axes]
        if 0 in pos or len(set(pos)) != len(pos):
            raise ValueError(f"Softmax '{self.name}': axis {self.axis} must name distinct non-batch axes "
                             f"of inputs of shape {shape_str(input_shape)}")
        rest = [d for d in range(rank) if d not in pos]
        perm = rest + sorted(pos)
        self._perm = None if pos == [rank - 1] else perm
        self._count = len(pos)
        super().build(input_shape)

    def _to_rows(self, t):
        """t with the softmax axes moved last and flattened: a contiguous (..., D) array."""
        moved = np.transpose(np.asarray(t), self._perm)
        lead = moved.shape[:moved.ndim - self._count]
        return np.ascontiguousarray(moved).reshape(lead + (-1,)), moved.shape

    def _from_rows(self, rows, moved_shape, out):
        np.copyto(np.asarray(out), np.transpose(rows.reshape(moved_shape), np.argsort(self._perm)))
        return out

    def _mask_like(self, mask, shape):
        """The call's mask as float32 1 / 0 of x's shape: the same shape, or one axis fewer (a
        mask per position of a sequence: all of that position's scores)."""
        m = np.asarray(mask, np.float32)
        if m.ndim == len(shape) - 1:
            m = m[..., None]
        try:
            return np.ascontiguousarray(np.broadcast_to(m, shape))
        except ValueError:
            raise ValueError(f"Softmax '{self.name}': the mask of shape {np.shape(mask)} does not match "
                             f"inputs of shape {tuple(shape)}") from None

    def forward(self, x, training=False):
        mask = self.__dict__.get("_call_mask")
        self._m = None
        if mask is not None:
            # Keras: a large negative score where the mask is 0, and the output zeroed there (a
            # row masked throughout gives 0, not a uniform distribution)
            self._m = self._mask_like(mask, tuple(x.shape))
            x = kernels.Tensor.from_numpy(np.asarray(x) + (np.float32(1.0) - self._m) * np.float32(-1e9))
        key = "y" if self._m is None else "s"
        if self._perm is None:
            s = kernels.activation_forward("softmax", x, self._buffer(key, x.shape))
        else:
            rows, moved_shape = self._to_rows(x)
            self._s_rows, self._moved_shape = kernels.activation_forward(
                "softmax", kernels.Tensor.from_numpy(rows)), moved_shape
            s = self._from_rows(np.asarray(self._s_rows), moved_shape, self._buffer(key, x.shape))
        self._s = s
        if self._m is None:
            return s
        y = self._buffer("y", x.shape)
        np.multiply(np.asarray(s), self._m, out=np.asarray(y))
        return y

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        if self._m is not None:   # y = s * m: the softmax sees dy * m
            dy = kernels.Tensor.from_numpy(np.asarray(dy) * self._m)
        if self._perm is None:
            # the softmax gradient reads only y and dy (y stands in for x in the kernel's signature)
            return kernels.activation_backward("softmax", self._s, self._s, dy, self._buffer("dx", dy.shape))
        dy_rows, _ = self._to_rows(dy)
        dx_rows = kernels.activation_backward("softmax", self._s_rows, self._s_rows,
                                              kernels.Tensor.from_numpy(dy_rows))
        return self._from_rows(np.asarray(dx_rows), self._moved_shape, self._buffer("dx", dy.shape))

    def flops(self, input_shape):
        return 3 * sample_size(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg["axis"] = self.axis
        return cfg


class PReLU(Layer):
    """Parametric ReLU with a learned slope per position: f(x) = x if x > 0 else alpha * x.

    Math (fused kernels, csrc/cpu/prelu.cpp; alpha broadcast over the batch and shared_axes):
        forward   y = x > 0 ? x : alpha * x
        backward  dx = dy * (x > 0 ? 1 : alpha),  dalpha = sum over broadcast positions of
                  dy * x * [x <= 0]   (reduced in C++, in a fixed order)

    Args:
        alpha_initializer: initial slopes (Keras default "Zeros": the layer starts as a ReLU).
        alpha_regularizer: regularizer of alpha.
        alpha_constraint: constraint of alpha (e.g. NonNeg), applied by the optimizer.
        shared_axes: axes (1-based, the batch is axis 0) along which one slope is shared, e.g.
            [1, 2] for one slope per channel of NHWC images.

    Weights: alpha, of the input's shape without the batch axis, with 1 on the shared axes.
    """

    scalar_input = "batch"  # elementwise: a 0-d input gives a 0-d output, as in Keras 3

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)   # applied by the optimizer
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = [shared_axes] if isinstance(shared_axes, (int, np.integer)) else list(shared_axes)
            if not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
                raise ValueError(f"PReLU '{self.name}': shared_axes must be ints, got {shared_axes!r}")
            self.shared_axes = [int(a) for a in axes]
        self.alpha = None

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        rank = len(input_shape)
        param_shape = list(input_shape[1:])
        for a in self.shared_axes or []:
            if not 1 <= a < rank:
                raise ValueError(f"PReLU '{self.name}': shared_axes {self.shared_axes} must lie in "
                                 f"[1, {rank - 1}] for inputs of shape {shape_str(input_shape)}")
            param_shape[a - 1] = 1
        if rank < 1 or any(d is None for d in param_shape):   # (batch,): one alpha of shape ()
            raise ValueError(f"PReLU '{self.name}' needs every non-shared axis known, got inputs "
                             f"{shape_str(input_shape)} with shared_axes={self.shared_axes}")
        self.alpha = self.add_weight("alpha", tuple(param_shape), self.alpha_initializer,
                                     self.alpha_regularizer, constraint=self.alpha_constraint)
        super().build(input_shape)

    @staticmethod
    def _col(t):
        """(batch,) inputs (a 0-d input is run as a batch of one) and their () alpha as the kernel's
        (batch, 1) and (1,) views: the kernels take a feature axis."""
        return None if t is None else t.reshape(list(t.shape) + [1] if len(t.shape) == 1 else [1])

    def forward(self, x, training=False):
        y = self._buffer("y", x.shape)
        if len(x.shape) == 1:
            kernels.prelu_forward(self._col(x), self._col(self.alpha), out=self._col(y))
        else:
            kernels.prelu_forward(x, self.alpha, out=y)
        self._x = x
        return y

    def backward(self, dy):
        learn = self.trainable
        if not self.needs_input_grad and not learn:
            return None
        dx = self._buffer("dx", dy.shape) if self.needs_input_grad else None
        da = self._grad_of("alpha") if learn else None
        view = self._col if len(dy.shape) == 1 else (lambda t: t)
        kernels.prelu_backward(view(self._x), view(self.alpha), view(dy), dx_out=view(dx), dalpha_out=view(da),
                               need_dx=self.needs_input_grad, need_dalpha=learn)
        return dx

    def flops(self, input_shape):
        return sample_size(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(alpha_initializer=initializers.serialize(self.alpha_initializer),
                   alpha_regularizer=regularizers.serialize(self.alpha_regularizer),
                   alpha_constraint=constraints.serialize(self.alpha_constraint), shared_axes=self.shared_axes)
        return cfg
