"""Wrappers: TimeDistributed, SpectralNormalization, and Wrapper, the base class of a user's own
wrappers.

Shape legend: N batch, T steps, ... the per-step shape the wrapped layer takes.

TimeDistributed(layer) applies one layer, with one set of weights, to every step of a sequence:
    forward   y[:, t] = layer(x[:, t])        x (N, T, ...) -> y (N, T, ...')
    backward  dx[:, t] = layer'(dy[:, t]); the weight gradients sum over n and t
Since x is contiguous, (N, T, ...) is the same memory as (N*T, ...): the wrapped layer runs once
on that zero-copy view, as one batch of N*T samples, and its gradients come out summed over steps
for free. (Layers whose output mixes samples, like BatchNormalization in training, then see
statistics over N*T rows, as Keras' reshape path computes them too.)

Reference: keras.layers.TimeDistributed (Keras 3).
"""
from __future__ import annotations

import numpy as np

from .base import Layer, shape_str
from .input_spec import InputSpec

__all__ = ["TimeDistributed", "Wrapper", "SpectralNormalization"]


class TimeDistributed(Layer):
    """Applies ``layer`` to each step of (N, T, ...) inputs.

    The weights, gradients and regularization are the wrapped layer's; ``trainable`` set here is
    passed on to it.

    Args:
        layer: a Layer instance (not yet used elsewhere), e.g. Dense(10).
    """

    _sublayer_attrs = ("layer",)

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: layer must be a corenn Layer instance, got {layer!r}")
        self.layer = layer
        # a frozen inner layer stays frozen unless trainable=True is asked for here
        kwargs["trainable"] = kwargs.get("trainable", layer.trainable)
        super().__init__(**kwargs)

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        self.layer.trainable = self._trainable

    # -- weights are the wrapped layer's ------------------------------------------------------

    @property
    def weights(self):
        return self.layer.weights

    @property
    def trainable_weights(self):
        return self.layer.trainable_weights

    @property
    def non_trainable_weights(self):
        return self.layer.non_trainable_weights

    @property
    def gradients(self):
        return self.layer.gradients

    def get_weights(self):
        return self.layer.get_weights()

    def set_weights(self, weights):
        self.layer.set_weights(weights)

    def count_params(self):
        return self.layer.count_params()

    def regularization(self, add_grads=False):
        return self.layer.regularization(add_grads)

    # -- the layer contract ---------------------------------------------------------------------

    def _check_rank(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed '{self.name}' needs inputs of shape (batch, steps, ...) "
                             f"(rank >= 3), got {shape_str(input_shape)}")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self._check_rank(input_shape)
        inner = (None,) + input_shape[2:]
        if self.layer.built:
            self.layer.check_input_shape(inner)
        else:
            self.layer.build(inner)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])

    def forward(self, x, training=False):
        n, t = x.shape[0], x.shape[1]
        self._x_shape = list(x.shape)
        y = self.layer.forward(x.reshape([n * t, *x.shape[2:]]), training=training)
        return y.reshape([n, t, *y.shape[1:]])

    def backward(self, dy):
        n, t = dy.shape[0], dy.shape[1]
        self.layer.needs_input_grad = self.needs_input_grad
        dx = self.layer.backward(dy.reshape([n * t, *dy.shape[2:]]))
        return None if dx is None else dx.reshape(self._x_shape)

    def flops(self, input_shape):
        return (input_shape[1] or 1) * self.layer.flops((None,) + tuple(input_shape[2:]))

    def get_config(self):
        from . import serialize
        cfg = super().get_config()
        cfg["layer"] = serialize(self.layer)
        return cfg

    @classmethod
    def from_config(cls, config):
        from . import deserialize
        config = dict(config)
        config["layer"] = deserialize(config["layer"])
        return cls(**config)


class Wrapper(Layer):
    """Base class of layers that wrap another layer (Keras 3's ``keras.layers.Wrapper``): it holds
    ``self.layer``, builds it with the wrapper, tracks its weights as its own and saves it inside
    its config. A subclass writes ``call`` (and usually ``build``) in terms of ``self.layer``.

    Args:
        layer: the Layer instance to wrap.
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"{type(self).__name__}: layer must be a Layer instance, got {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None):
        self.layer._maybe_build(input_shape)
        self.built = True

    def get_config(self):
        from . import serialize
        config = super().get_config()
        config["layer"] = serialize(self.layer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from . import deserialize
        config = dict(config)
        layer = deserialize(config.pop("layer"), custom_objects=custom_objects)
        return cls(layer, **config)


def _l2_normalize(v, eps=1e-12):
    return v / np.sqrt(max(float(np.sum(v * v)), eps))


class SpectralNormalization(Wrapper):
    """Spectral normalization of a layer's kernel (Miyato et al. 2018; Keras 3's wrapper), which
    keeps a GAN discriminator's Lipschitz constant near 1.

    Math, on every training call (W the kernel as a (fan_in, units) matrix, u the kept estimate of
    its leading right singular vector, a (1, units) row):
        repeat power_iterations times:  v = normalize(u W^T);  u = normalize(v W)
        sigma = v W u^T                 the estimate of W's largest singular value
        W := W / sigma;  u kept for the next call
    then the wrapped layer runs on the rescaled kernel. As in Keras, the rescaling is an
    assignment made before the forward pass (gradients reach W through the layer, not through
    sigma), an all-zero kernel is left as it is, and inference calls use the kernel as it stands.

    Args:
        layer: a layer with a ``kernel`` (Dense, Conv*) or ``embeddings`` (Embedding) weight.
        power_iterations: power-method steps per training call, >= 1.
    """

    _stand_in_runs_call = True   # saving's load-time check builds it with real (zero) weights

    def __init__(self, layer, power_iterations=1, **kwargs):
        super().__init__(layer, **kwargs)
        if isinstance(power_iterations, bool) or not isinstance(power_iterations, (int, np.integer)) \
                or power_iterations <= 0:
            raise ValueError(f"SpectralNormalization '{self.name}': power_iterations must be a positive "
                             f"integer, got {power_iterations!r}")
        self.power_iterations = int(power_iterations)

    def build(self, input_shape):
        super().build(input_shape)
        self.input_spec = InputSpec(min_ndim=1, axes={-1: input_shape[-1]})
        kernel = getattr(self.layer, "kernel", None)
        if kernel is None:
            kernel = getattr(self.layer, "embeddings", None)
        if kernel is None:
            raise ValueError(f"SpectralNormalization '{self.name}': {type(self.layer).__name__} "
                             f"'{self.layer.name}' has no `kernel` or `embeddings` weight to normalize")
        self._kernel = kernel
        self.vector_u = self.add_weight(name="vector_u", shape=(1, int(kernel.shape[-1])),
                                        initializer=_truncated_normal_002(), trainable=False)

    def _all_params(self):
        """Keras' order: the kernel first (Keras' build assigns it to the wrapper, which makes it
        the wrapper's own first variable), then ``vector_u``, then the wrapped layer's others
        (bias), so get_weights / set_weights line up with Keras'."""
        params = super()._all_params()
        kernel, u = self.__dict__.get("_kernel"), self.__dict__.get("vector_u")
        if kernel is None or u is None:
            return params
        first = [p for p in params if p.value is kernel] + [p for p in params if p.value is u]
        return first + [p for p in params if p.value is not kernel and p.value is not u]

    def normalized_weights(self):
        """(new u, W / sigma) from the current kernel and u, as NumPy arrays."""
        kernel = np.asarray(self._kernel)
        w = kernel.reshape(-1, kernel.shape[-1]).astype(np.float64)
        u = np.asarray(self.vector_u, dtype=np.float64)
        for _ in range(self.power_iterations):
            v = _l2_normalize(u @ w.T)
            u = _l2_normalize(v @ w)
        sigma = float((v @ w @ u.T)[0, 0])
        return u.astype(np.float32), (kernel / np.float32(sigma)).astype(np.float32)

    def call(self, inputs, training=False):
        if training and np.any(np.asarray(self._kernel)):
            new_u, new_kernel = self.normalized_weights()
            self.vector_u.assign(new_u)
            self._kernel.assign(new_kernel)
        return self.layer(inputs)

    def get_config(self):
        config = super().get_config()
        config["power_iterations"] = self.power_iterations
        return config


def _truncated_normal_002():
    from .. import initializers
    return initializers.TruncatedNormal(stddev=0.02)
