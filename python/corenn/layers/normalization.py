"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization,
UnitNormalization.

Shape legend: N batch, C channels (the last axis). x is (N, ..., C): (N, C) after Dense, NHWC
after Conv2D; every position of every sample is one "row" of the statistics.
"""
from __future__ import annotations

import numpy as np

from .. import constraints, initializers, kernels, regularizers
from ._channels_first import ChannelsFirst
from .base import Layer, sample_size, shape_str

__all__ = ["BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization"]


class BatchNormalization(ChannelsFirst, Layer):
    """Normalizes each channel with batch statistics in training, moving ones in inference.

    Math (rows r of x viewed as (R, C); gamma, beta, moving_* are (C,)):
        training   mean = sum_r x / R,  var = sum_r (x - mean)^2 / R (biased, as Keras 3)
                   y = gamma * (x - mean) / sqrt(var + epsilon) + beta
                   moving_mean = moving_mean * momentum + mean * (1 - momentum)   (same for var)
        inference  y = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta
        backward   xhat = (x - mean) / sqrt(var + epsilon),  dbeta = sum_r dy,
                   dgamma = sum_r dy * xhat,
                   dx = gamma / sqrt(var + epsilon) * (dy - dbeta / R - xhat * dgamma / R)
    Training mode needs ``training=True`` and ``trainable``: as in Keras, a frozen layer always
    runs in inference mode (fine-tuning keeps the learned statistics).

    Args:
        axis: the channel axis: the last one (-1), or 1 on (N, C, ...) inputs of rank 3 or more
            (channels-first models: the channels-last kernels run between two transposes,
            layers/_channels_first.py).
        momentum: decay of the moving statistics.
        epsilon: added to the variance.
        center / scale: learn beta / gamma (off: beta = 0 / gamma = 1, no weight).
        beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer,
        beta_regularizer, gamma_regularizer: see corenn.initializers / corenn.regularizers.

    Weights, Keras order: [gamma, beta, moving_mean, moving_variance] (gamma / beta only when
    scale / center); the moving statistics are non-trainable.

    Reference: Ioffe & Szegedy, "Batch Normalization: Accelerating Deep Network Training by
    Reducing Internal Covariate Shift", ICML 2015.
    """

    scalar_input = "refuse"  # Keras raises

    supports_masking = True

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, synchronized=False, fused=None, renorm=False, virtual_batch_size=None,
                 adjustment=None, **kwargs):
        super().__init__(**kwargs)
        # tf.keras 2's options: fused is a speed hint (corenn's kernel is always one fused pass);
        # the others change the math and are refused by name unless left at their defaults
        for arg, value, default in (("renorm", renorm, False), ("virtual_batch_size", virtual_batch_size, None),
                                    ("adjustment", adjustment, None)):
            if value != default:
                raise NotImplementedError(f"BatchNormalization '{self.name}': {arg} is not supported")
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"BatchNormalization '{self.name}': axis must be an int, got {axis!r}")
        if synchronized:
            raise NotImplementedError(f"BatchNormalization '{self.name}': synchronized is not supported")
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"BatchNormalization '{self.name}': momentum must be in [0, 1], got {momentum!r}")
        if not float(epsilon) > 0.0:
            raise ValueError(f"BatchNormalization '{self.name}': epsilon must be > 0, got {epsilon!r}")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)   # applied by the optimizer
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def _channels_first(self, rank):
        return self.axis in (1, 1 - rank)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"BatchNormalization '{self.name}' needs inputs of shape (batch, ..., "
                             f"channels) with a known channel axis, got {shape_str(input_shape)}")
        inside = self.__dict__.get("_cf_inside")   # axis 1, moved last by ChannelsFirst
        if self.axis not in (-1, len(input_shape) - 1) and not inside:
            raise NotImplementedError(f"BatchNormalization '{self.name}': only axis=-1 (channels last) "
                                      f"or axis=1 (channels first) is supported, got axis={self.axis} for "
                                      f"input {shape_str(input_shape)}")
        c = (input_shape[-1],)
        if self.scale:
            self.gamma = self.add_weight("gamma", c, self.gamma_initializer, self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight("beta", c, self.beta_initializer, self.beta_regularizer,
                                        constraint=self.beta_constraint)
        self.moving_mean = self.add_weight("moving_mean", c, self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", c, self.moving_variance_initializer,
                                               trainable=False)
        super().build(input_shape)

    def forward(self, x, training=False):
        c = (x.shape[-1],)
        self._training = bool(training) and self.trainable
        y = self._buffer("y", x.shape)
        if self._training:
            _, self._mean, self._inv_std = kernels.batch_norm_forward_train(
                x, self.gamma, self.beta, moving_mean=self.moving_mean,
                moving_variance=self.moving_variance, momentum=self.momentum, epsilon=self.epsilon,
                out=y, mean=self._buffer("mean", c), inv_std=self._buffer("inv_std", c))
        else:
            kernels.batch_norm_forward_infer(x, self.gamma, self.beta, self.moving_mean,
                                         self.moving_variance, epsilon=self.epsilon, out=y)
        self._x = x
        return y

    def _inference_stats(self):
        """mean and inv_std of inference mode (the moving statistics), for backward."""
        inv = self._buffer("inv_std_moving", (self.moving_variance.shape[0],))
        np.asarray(inv)[...] = 1.0 / np.sqrt(np.asarray(self.moving_variance, np.float64) + self.epsilon)
        return self.moving_mean, inv

    def backward(self, dy):
        x = self._x
        mean, inv_std = (self._mean, self._inv_std) if self._training else self._inference_stats()
        learn = self.trainable
        dgamma = self._grad_of("gamma") if learn and self.scale else None
        dbeta = self._grad_of("beta") if learn and self.center else None
        if not self.needs_input_grad and dgamma is None and dbeta is None:
            return None
        return kernels.batch_norm_backward(dy, x, self.gamma, mean, inv_std,
                                       dx=self._buffer("dx", x.shape) if self.needs_input_grad else None,
                                       dgamma=dgamma, dbeta=dbeta, training=self._training,
                                       need_dx=self.needs_input_grad)

    def flops(self, input_shape):
        """(x - mean) * inv_std * gamma + beta: 4 per value."""
        return 4 * sample_size(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(axis=self.axis, momentum=self.momentum, epsilon=self.epsilon, center=self.center,
                   scale=self.scale,
                   beta_initializer=initializers.serialize(self.beta_initializer),
                   gamma_initializer=initializers.serialize(self.gamma_initializer),
                   moving_mean_initializer=initializers.serialize(self.moving_mean_initializer),
                   moving_variance_initializer=initializers.serialize(self.moving_variance_initializer),
                   beta_regularizer=regularizers.serialize(self.beta_regularizer),
                   gamma_regularizer=regularizers.serialize(self.gamma_regularizer),
                   beta_constraint=constraints.serialize(self.beta_constraint),
                   gamma_constraint=constraints.serialize(self.gamma_constraint))
        return cfg


class _AffineNormalization(Layer):
    """What LayerNormalization and GroupNormalization share: the learnt per-feature affine
    y = gamma * xhat + beta (options, weights, their gradients and config). Subclasses compute
    xhat and the statistics with their own kernels."""

    def _set_affine_options(self, epsilon, center, scale, beta_initializer, gamma_initializer,
                            beta_regularizer, gamma_regularizer, beta_constraint=None, gamma_constraint=None):
        if not float(epsilon) > 0.0:
            raise ValueError(f"{type(self).__name__} '{self.name}': epsilon must be > 0, got {epsilon!r}")
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)   # applied by the optimizer
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = self.beta = None

    def _add_affine_weights(self, shape):
        """gamma then beta (Keras' weight order), each only when scale / center."""
        if self.scale:
            self.gamma = self.add_weight("gamma", shape, self.gamma_initializer, self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight("beta", shape, self.beta_initializer, self.beta_regularizer,
                                        constraint=self.beta_constraint)

    def _affine_grads(self):
        """This call's (dgamma, dbeta) Tensors, None for a weight that is absent or not trained."""
        learn = self.trainable
        return (self._grad_of("gamma") if learn and self.scale else None,
                self._grad_of("beta") if learn and self.center else None)

    def _affine_config(self):
        return dict(beta_initializer=initializers.serialize(self.beta_initializer),
                    gamma_initializer=initializers.serialize(self.gamma_initializer),
                    beta_regularizer=regularizers.serialize(self.beta_regularizer),
                    gamma_regularizer=regularizers.serialize(self.gamma_regularizer),
                    beta_constraint=constraints.serialize(self.beta_constraint),
                    gamma_constraint=constraints.serialize(self.gamma_constraint))


class LayerNormalization(_AffineNormalization):
    """Normalizes each sample over its trailing axes (one mean / variance per row, any batch).

    Math (x viewed as (R, D): D the product of the normalised axes, gamma / beta their shape):
        forward   mean_r = sum_j x / D,  var_r = sum_j (x - mean_r)^2 / D (biased, as Keras 3)
                  y = gamma * (x - mean) / sqrt(var + epsilon) + beta
        backward  xhat = (x - mean) / sqrt(var + epsilon),  g = dy * gamma,
                  dx = (g - mean_j g - xhat * mean_j(g * xhat)) / sqrt(var + epsilon)
                  dgamma = sum_r dy * xhat,  dbeta = sum_r dy
    Training and inference compute the same thing (no moving statistics).

    Args:
        axis: an int or a list of ints, any axes but the batch axis (-1, [-2, -1], 1 of
            (batch, steps, features): each feature normalised over the steps).
        epsilon: added to the variance.
        center / scale: learn beta / gamma (off: beta = 0 / gamma = 1, no weight).
        rms_scaling: Keras 3's deprecated scaling without centering: no beta, gamma learnt even
            when scale=False, center ignored, and, as Keras 3.15 computes it, the uncentred x
            divided by the standard deviation: y = x * s * gamma, s = rsqrt(var_j x + epsilon)
            (Keras' own warning calls this incorrect and points to ``RMSNormalization``, which
            divides by the root mean square; corenn follows Keras here so that a model trained
            or saved with this flag predicts the same). Forward reuses the layer-norm kernel
            ((x - m) * s * gamma, plus m * s * gamma); backward, with u = dy * gamma:
            dx = s * u - s^3 * (x - m) * mean_j(u * x),  dgamma = sum_rows dy * x * s (NumPy,
            float64 sums).
        beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer: see
            corenn.initializers / corenn.regularizers.

    Weights, Keras order: [gamma, beta] (each only when scale / center), of the normalised axes'
    shape.

    Reference: Ba, Kiros & Hinton, "Layer Normalization", arXiv:1607.06450, 2016.
    """

    scalar_input = "refuse"  # Keras raises
    vector_input = "row"     # Keras 3 normalises a rank-1 input's one axis (axis 0 or -1)

    supports_masking = True
    _to_trailing = None   # set by build when the normalised axes are not the trailing ones
    _rms_weight_name = "gamma"   # RMSNormalization's is "scale", as Keras names it
    _keras_std_scaling = True    # rms_scaling divides by the std (Keras 3.15); RMSNormalization: by the RMS

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, rms_scaling=False,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
            raise TypeError(f"{type(self).__name__} '{self.name}': axis must be an int or a list of "
                            f"ints, got {axis!r}")
        self._set_affine_options(epsilon, center, scale, beta_initializer, gamma_initializer,
                                 beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint)
        self.axis = int(axes[0]) if not isinstance(axis, (list, tuple)) else [int(a) for a in axes]
        self.rms_scaling = bool(rms_scaling)
        self._norm_ndim = None

    def _normalized_axes(self, input_shape):
        """The axes ``axis`` names for inputs of ``input_shape``, as sorted positive ints."""
        rank = len(input_shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if self.__dict__.get("_vector_view"):
            # a rank-1 input seen as one row (Layer._vector_call): its axis 0 (= -1) is the
            # row's last axis; any other axis is out of range for the rank-1 input, as in Keras
            if any(a not in (0, -1) for a in axes) or len(axes) != 1:
                raise ValueError(f"{type(self).__name__} '{self.name}': axis {self.axis} is out of "
                                 f"range for a rank-1 input of shape ({input_shape[-1]},)")
            axes = [-1]
        if any(not -rank <= a < rank for a in axes):
            raise ValueError(f"{type(self).__name__} '{self.name}': axis {self.axis} is out of range "
                             f"for inputs of shape {shape_str(input_shape)}")
        pos = sorted({a % rank for a in axes})
        if len(pos) != len(axes):
            raise ValueError(f"{type(self).__name__} '{self.name}': axis {self.axis} repeats an axis")
        if 0 in pos:
            raise ValueError(f"{type(self).__name__} '{self.name}': axis {self.axis} names the batch "
                             f"axis of inputs of shape {shape_str(input_shape)}")
        return pos

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 2:
            raise ValueError(f"{type(self).__name__} '{self.name}' needs inputs of shape (batch, ...), "
                             f"got {shape_str(input_shape)}")
        rank = len(input_shape)
        axes = self._normalized_axes(input_shape)
        shape = tuple(input_shape[a] for a in axes)
        if any(d is None for d in shape):
            raise ValueError(f"{type(self).__name__} '{self.name}': the normalised axes of "
                             f"{shape_str(input_shape)} must have known sizes")
        self._norm_axes, self._norm_ndim = axes, len(axes)
        # axes other than the trailing ones (Keras' axis=1 of (batch, steps, features)): the
        # kernels normalise trailing axes, so those axes are moved to the end and back with the
        # C++ transpose kernel, in both passes
        kept = [a for a in range(rank) if a not in axes]
        self._to_trailing = None if axes == list(range(rank - len(axes), rank)) else kept + axes
        if self.rms_scaling:   # Keras: gamma always, never beta
            self.gamma = self.add_weight(self._rms_weight_name, shape, self.gamma_initializer, self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        else:
            self._add_affine_weights(shape)
        super().build(input_shape)

    def _moved(self, key, t, perm):
        return kernels.transpose(t, perm, out=self._buffer(key, [t.shape[p] for p in perm]))

    def forward(self, x, training=False):
        perm = self._to_trailing
        if perm is None:
            return self._trailing_forward(x)
        y = self._trailing_forward(self._moved("x_moved", x, perm))
        return self._moved("y_back", y, list(np.argsort(perm)))

    def backward(self, dy):
        perm = self._to_trailing
        if perm is None:
            return self._trailing_backward(dy)
        dx = self._trailing_backward(self._moved("dy_moved", dy, perm))
        return None if dx is None else self._moved("dx_back", dx, list(np.argsort(perm)))

    def _rms_forward(self, x):
        rows = (int(np.prod(x.shape[:x.ndim - self._norm_ndim], dtype=np.int64)),)
        y, self._inv_rms = kernels.rms_norm_forward(
            x, self.gamma, norm_ndim=self._norm_ndim, epsilon=self.epsilon,
            out=self._buffer("y", x.shape), inv_rms=self._buffer("inv_rms", rows))
        self._x = x
        return y

    def _rms_backward(self, dy):
        learn = self.trainable
        if not self.needs_input_grad and not learn:
            return None
        x = self._x
        return kernels.rms_norm_backward(
            dy, x, self.gamma, self._inv_rms, norm_ndim=self._norm_ndim,
            dx=self._buffer("dx", x.shape) if self.needs_input_grad else None,
            dgamma=self._grad_of(self._rms_weight_name) if learn else None, need_dx=self.needs_input_grad)

    def _std_forward(self, x):
        """rms_scaling=True in LayerNormalization: Keras' x * rsqrt(var + eps) * gamma."""
        n = int(np.prod(x.shape[x.ndim - self._norm_ndim:], dtype=np.int64))
        rows = (int(np.prod(x.shape[:x.ndim - self._norm_ndim], dtype=np.int64)),)
        y, mean, inv_std = kernels.layer_norm_forward(
            x, self.gamma, None, norm_ndim=self._norm_ndim, epsilon=self.epsilon,
            out=self._buffer("y", x.shape), mean=self._buffer("mean", rows),
            inv_std=self._buffer("inv_std", rows))
        ya = np.asarray(y).reshape(-1, n)
        ya += (np.asarray(mean) * np.asarray(inv_std))[:, None] * np.asarray(self.gamma).reshape(1, n)
        self._x, self._mean, self._inv_std = x, mean, inv_std
        return y

    def _std_backward(self, dy):
        learn = self.trainable
        if not self.needs_input_grad and not learn:
            return None
        n = int(np.prod(dy.shape[dy.ndim - self._norm_ndim:], dtype=np.int64))
        x = np.asarray(self._x, np.float64).reshape(-1, n)
        g = np.asarray(dy, np.float64).reshape(-1, n)
        s = np.asarray(self._inv_std, np.float64)[:, None]
        if learn:
            np.copyto(np.asarray(self._grad_of(self._rms_weight_name)).reshape(n),
                      (g * x * s).sum(axis=0), casting="same_kind")
        if not self.needs_input_grad:
            return None
        u = g * np.asarray(self.gamma, np.float64).reshape(1, n)
        m = np.asarray(self._mean, np.float64)[:, None]
        dx = s * u - s ** 3 * (x - m) * (u * x).mean(axis=1, keepdims=True)
        out = self._buffer("dx", dy.shape)
        np.copyto(np.asarray(out).reshape(-1, n), dx, casting="same_kind")
        return out

    def _trailing_forward(self, x):
        if self.rms_scaling:
            return self._std_forward(x) if self._keras_std_scaling else self._rms_forward(x)
        rows = (int(np.prod(x.shape[:x.ndim - self._norm_ndim], dtype=np.int64)),)
        y, self._mean, self._inv_std = kernels.layer_norm_forward(
            x, self.gamma, self.beta, norm_ndim=self._norm_ndim, epsilon=self.epsilon,
            out=self._buffer("y", x.shape), mean=self._buffer("mean", rows),
            inv_std=self._buffer("inv_std", rows))
        self._x = x
        return y

    def _trailing_backward(self, dy):
        if self.rms_scaling:
            return self._std_backward(dy) if self._keras_std_scaling else self._rms_backward(dy)
        dgamma, dbeta = self._affine_grads()
        if not self.needs_input_grad and dgamma is None and dbeta is None:
            return None
        x = self._x
        return kernels.layer_norm_backward(
            dy, x, self.gamma, self._mean, self._inv_std, norm_ndim=self._norm_ndim,
            dx=self._buffer("dx", x.shape) if self.needs_input_grad else None,
            dgamma=dgamma, dbeta=dbeta, need_dx=self.needs_input_grad)

    def flops(self, input_shape):
        """Statistics (3 per value) and (x - mean) * inv_std * gamma + beta (4 per value)."""
        return 7 * sample_size(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(axis=self.axis, epsilon=self.epsilon, center=self.center, scale=self.scale,
                   rms_scaling=self.rms_scaling, **self._affine_config())
        return cfg


class RMSNormalization(LayerNormalization):
    """Keras 3's RMS normalization layer: y = x * rsqrt(mean_j x^2 + epsilon) * scale over the
    ``axis`` features, with one learnt ``scale`` per feature and no centering (Zhang & Sennrich,
    "Root Mean Square Layer Normalization", 2019), on fused C++ kernels (csrc/ops/rms_norm.h:
    one pass per row each way, sums in double, the scale gradient reduced in a fixed chunk order,
    the same bits on any thread count). Backward, with r = rsqrt(mean_j x^2 + epsilon) and
    g = dy * scale:  dx = r * (g - x * r^2 * mean_j(g * x)),  dscale = sum_rows dy * x * r.
    The weight is called ``scale`` and ``layer.scale`` is that weight, epsilon defaults to 1e-6,
    and the config holds only ``axis`` and ``epsilon``. (Keras' deprecated
    ``LayerNormalization(rms_scaling=True)`` divides by the standard deviation instead.)"""

    _rms_weight_name = "scale"
    _keras_std_scaling = False

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        for option in ("center", "scale", "rms_scaling", "beta_initializer", "beta_regularizer",
                       "beta_constraint", "gamma_initializer", "gamma_regularizer", "gamma_constraint"):
            if option in kwargs:
                raise TypeError(f"RMSNormalization: unexpected keyword argument {option!r}")
        super().__init__(axis=axis, epsilon=epsilon, center=False, scale=True, rms_scaling=True, **kwargs)

    # the base class keeps its ``scale`` flag apart; Keras' ``layer.scale`` is the weight
    @property
    def scale(self):
        return self.gamma

    @scale.setter
    def scale(self, flag):
        if flag is not True:
            raise AttributeError("RMSNormalization.scale is its learnt weight; it cannot be switched off")

    def get_config(self):
        cfg = super().get_config()
        for key in ("center", "scale", "rms_scaling", "beta_initializer", "beta_regularizer",
                    "beta_constraint", "gamma_initializer", "gamma_regularizer", "gamma_constraint"):
            cfg.pop(key, None)
        return cfg


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


class GroupNormalization(_AffineNormalization):
    """Normalizes each sample over groups of channels (one mean / variance per sample and group).

    Math (C channels at ``axis`` in G groups of C / G consecutive channels; M the values of one
    (sample, group): every position of those channels):
        forward   mean = sum x / M,  var = sum (x - mean)^2 / M (biased, as Keras 3)
                  y = gamma_c * (x - mean) / sqrt(var + epsilon) + beta_c
        backward  xhat = (x - mean) / sqrt(var + epsilon),  g = dy * gamma_c,
                  dx = (g - mean_group g - xhat * mean_group(g * xhat)) / sqrt(var + epsilon)
                  dgamma_c = sum dy * xhat,  dbeta_c = sum dy  (over samples and positions)
    Training and inference compute the same thing. groups=1 is layer normalization over all
    non-batch axes; groups=C (``groups=-1``) is instance normalization.

    Args:
        groups: number of groups, dividing the channel count; -1 means one group per channel.
        axis: the channel axis (an int, not the batch axis).
        epsilon: added to the variance.
        center / scale: learn beta / gamma (off: beta = 0 / gamma = 1, no weight).
        beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer: see
            corenn.initializers / corenn.regularizers; beta_constraint, gamma_constraint: see
            corenn.constraints (applied by the optimizer after each update).

    Weights, Keras order: [gamma, beta] (each only when scale / center), shape (C,).

    Reference: Wu & He, "Group Normalization", ECCV 2018 (arXiv:1803.08494).
    """

    supports_masking = True

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and len(axis) == 1:
            axis = axis[0]
        if not _is_int(axis):
            raise TypeError(f"GroupNormalization '{self.name}': axis must be an int, got {axis!r}")
        if not _is_int(groups) or not (groups >= 1 or groups == -1):
            raise ValueError(f"GroupNormalization '{self.name}': groups must be a positive int or "
                             f"-1 (one group per channel), got {groups!r}")
        self._set_affine_options(epsilon, center, scale, beta_initializer, gamma_initializer,
                                 beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint)
        self.groups = int(groups)
        self.axis = int(axis)
        self._channel_axis = None

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        rank = len(input_shape)
        if rank < 2:
            raise ValueError(f"GroupNormalization '{self.name}' needs inputs of shape (batch, ...), "
                             f"got {shape_str(input_shape)}")
        if not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ValueError(f"GroupNormalization '{self.name}': axis {self.axis} is not a channel "
                             f"axis of inputs of shape {shape_str(input_shape)}")
        self._channel_axis = self.axis % rank
        dim = input_shape[self._channel_axis]
        if dim is None:
            raise ValueError(f"GroupNormalization '{self.name}': axis {self.axis} of the input must "
                             f"have a known size, got inputs of shape {shape_str(input_shape)}")
        if self.groups == -1:
            self.groups = int(dim)
        if dim < self.groups:
            raise ValueError(f"GroupNormalization '{self.name}': the number of groups ({self.groups}) "
                             f"cannot be more than the number of channels ({dim})")
        if dim % self.groups:
            raise ValueError(f"GroupNormalization '{self.name}': the number of channels ({dim}) must "
                             f"be a multiple of the number of groups ({self.groups})")
        self._add_affine_weights((dim,))
        super().build(input_shape)

    def forward(self, x, training=False):
        stats = (x.shape[0], self.groups)
        y, self._mean, self._inv_std = kernels.group_norm_forward(
            x, self.gamma, self.beta, axis=self._channel_axis, groups=self.groups,
            epsilon=self.epsilon, out=self._buffer("y", x.shape), mean=self._buffer("mean", stats),
            inv_std=self._buffer("inv_std", stats))
        self._x = x
        return y

    def backward(self, dy):
        dgamma, dbeta = self._affine_grads()
        if not self.needs_input_grad and dgamma is None and dbeta is None:
            return None
        x = self._x
        return kernels.group_norm_backward(
            dy, x, self.gamma, self._mean, self._inv_std, axis=self._channel_axis,
            groups=self.groups, dx=self._buffer("dx", x.shape) if self.needs_input_grad else None,
            dgamma=dgamma, dbeta=dbeta, need_dx=self.needs_input_grad)

    def flops(self, input_shape):
        """Statistics (3 per value) and (x - mean) * scale + shift (3 per value)."""
        return 6 * sample_size(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(groups=self.groups, axis=self.axis, epsilon=self.epsilon, center=self.center,
                   scale=self.scale, **self._affine_config())
        return cfg


class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over ``axis`` (Keras 3 UnitNormalization).

    Math (s the sum of squares over the normalised axes, one per remaining position):
        forward   y = x / sqrt(max(s, 1e-12))
        backward  dx = (dy - y * sum(dy * y)) / sqrt(s)   (dy / 1e-6 where s is under the floor)

    Args:
        axis: an int or a list of adjacent ints (the normalised axes); -1 by default.

    No weights.
    """

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            if not axis or not all(_is_int(a) for a in axis):
                raise TypeError(f"UnitNormalization '{self.name}': axis must be an int or a list of "
                                f"ints, got {axis!r}")
            self.axis = [int(a) for a in axis]
        elif _is_int(axis):
            self.axis = int(axis)
        else:
            raise TypeError(f"UnitNormalization '{self.name}': axis must be an int or a list of ints, "
                            f"got {axis!r}")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        rank = len(input_shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if any(not -rank <= a < rank for a in axes):
            raise ValueError(f"UnitNormalization '{self.name}': axis {self.axis} is out of range for "
                             f"inputs of shape {shape_str(input_shape)}")
        pos = sorted({a % rank for a in axes})
        if len(pos) != len(axes):
            raise ValueError(f"UnitNormalization '{self.name}': axis {self.axis} repeats an axis")
        if pos != list(range(pos[0], pos[0] + len(pos))):
            raise NotImplementedError(f"UnitNormalization '{self.name}': the normalised axes must be "
                                      f"adjacent, got axis={self.axis}")
        super().build(input_shape)

    def forward(self, x, training=False):
        self._x = x
        return kernels.unit_norm_forward(x, axis=self.axis, out=self._buffer("y", x.shape))

    def backward(self, dy):
        if not self.needs_input_grad:
            return None
        return kernels.unit_norm_backward(dy, self._x, axis=self.axis,
                                          out=self._buffer("dx", dy.shape))

    def flops(self, input_shape):
        """Sum of squares (2 per value) and the scaling (1 per value)."""
        return 3 * sample_size(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(axis=self.axis)
        return cfg
