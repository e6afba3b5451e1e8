"""The float64 forms of the built-in layers: what a layer computes under a 'float64' dtype policy
(``Dense(8, dtype="float64")``, ``keras.config.set_floatx("float64")``).

The layers' kernels are float32. Under a float64 policy a layer's weights are float64 and the
layer computes with the corenn.ops its float32 kernels implement; those ops compute in float64
NumPy on float64 operands (ops.py / _ops_wide.py), with float64 gradient rules that nested tapes
differentiate again (op_gradients.py), so a physics-informed network's u_xx is float64 too.
base._float64_layer makes the layer run the form below as its ``call`` (a layer written with call,
differentiated by its private tape); this module registers each form on its class:

    Dense                 activation(cast(x) @ kernel + bias)
    Activation            activation(x)
    ReLU / LeakyReLU /    the activation with the layer's parameter (ReLU with a threshold or a
    ELU                   max_value: the general formula, min / max / where)
    Softmax               softmax over the layer's axis (a mask: -1e9 there, the output zeroed)
    Dropout               x * mask / (1 - rate), the mask drawn per call in training
    Flatten / Reshape     reshape
    Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate
    LayerNormalization    gamma * (x - mean) / sqrt(var + epsilon) + beta over the layer's axes

Every input is cast to float64 first (Keras casts a layer's inputs to its compute dtype).
layers/_float64_more.py registers the preprocessing, normalization, noise, shape and recurrent
layers' forms, layers/_float64_conv.py the convolutions' and pooling's.
"""
from __future__ import annotations

import numpy as np

from . import base
from .activation import ELU, LeakyReLU, ReLU, Softmax
from .core import Activation, Dense, Dropout, Flatten, Reshape, resolve_noise_shape
from .merging import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from .normalization import LayerNormalization


def _ops():
    from .. import ops
    return ops


def _wide(x):
    return _ops().cast(x, "float64")


def _form(*classes):
    def register(fn):
        for cls in classes:
            base.FLOAT64_FORMS[cls] = fn
        return fn
    return register


@_form(Dense)
def _dense(self, inputs, training=None):
    if self.__dict__.get("lora_enabled") or getattr(self, "_quantized", None) is not None:
        raise NotImplementedError(f"Dense '{self.name}': a float64 Dense with LoRA or quantized weights is "
                                  "not supported")
    ops = _ops()
    z = ops.matmul(_wide(inputs), self.kernel)
    if self.use_bias:
        z = ops.add(z, self.bias)
    return self.activation(z)


@_form(Activation)
def _activation(self, inputs, training=None):
    return self.activation(_wide(inputs))


@_form(LeakyReLU, ELU)
def _parametric(self, inputs, training=None):
    return _ops()._activation(self._kind, _wide(inputs), alpha=self._alpha)


@_form(ReLU)
def _relu(self, inputs, training=None):
    ops = _ops()
    x = _wide(inputs)
    if self._kind is not None:
        return ops._activation(self._kind, x, alpha=self._alpha)
    # the general formula (Keras' relu with threshold / max_value / negative_slope)
    t = float(self.threshold)
    y = ops.where(np.asarray(x) > t, x, 0.0)
    if self.max_value is not None:
        y = ops.minimum(y, float(self.max_value))
    if self.negative_slope:
        y = ops.subtract(y, ops.multiply(float(self.negative_slope), ops.relu(ops.subtract(t, x))))
    return y


@_form(Softmax)
def _softmax(self, inputs, training=None, mask=None):
    ops = _ops()
    x = _wide(inputs)
    if mask is None:
        return ops.softmax(x, axis=self.axis)
    # as the float32 layer (Keras): -1e9 added where the mask is 0, the output zeroed there
    m = np.asarray(self._mask_like(mask, tuple(x.shape)), np.float64)
    from .. import kernels
    m = kernels.Tensor.from_numpy(np.ascontiguousarray(m))
    return ops.multiply(ops.softmax(ops.add(x, ops.multiply(ops.subtract(1.0, m), -1e9)), axis=self.axis), m)


@_form(Dropout)
def _dropout(self, inputs, training=None):
    x = _wide(inputs)
    if not training or self.rate == 0.0:
        return x
    shape = tuple(x.shape) if self.noise_shape is None else \
        tuple(resolve_noise_shape(self, self.noise_shape, x.shape))
    keep = np.random.default_rng(self._next_seed()).random(shape) >= self.rate
    return _ops().multiply(x, keep / (1.0 - self.rate))


@_form(Flatten)
def _flatten(self, inputs, training=None):
    ops = _ops()
    x = _wide(inputs)
    if self.data_format == "channels_first" and len(x.shape) > 2:
        x = ops.transpose(x, [0] + list(range(2, len(x.shape))) + [1])
    return ops.reshape(x, (x.shape[0], -1))


@_form(Reshape)
def _reshape(self, inputs, training=None):
    x = _wide(inputs)
    return _ops().reshape(x, (x.shape[0],) + tuple(self.compute_output_shape(tuple(x.shape))[1:]
                                                   if -1 not in self.target_shape else self.target_shape))


_MERGES = {Add: "add", Subtract: "subtract", Multiply: "multiply", Maximum: "maximum", Minimum: "minimum"}


@_form(*_MERGES, Average)
def _merge(self, inputs, training=None):
    ops = _ops()
    xs = [_wide(x) for x in inputs]
    if isinstance(self, Average):
        total = xs[0]
        for x in xs[1:]:
            total = ops.add(total, x)
        return ops.divide(total, float(len(xs)))
    op = getattr(ops, next(kind for cls, kind in _MERGES.items() if isinstance(self, cls)))
    y = xs[0]
    for x in xs[1:]:
        y = op(y, x)
    return y


@_form(Concatenate)
def _concatenate(self, inputs, training=None):
    return _ops().concatenate([_wide(x) for x in inputs], axis=self.axis)


@_form(LayerNormalization)
def _layer_norm(self, inputs, training=None):
    ops = _ops()
    x = _wide(inputs)
    axes = tuple(self._normalized_axes(tuple(x.shape)))
    kept = tuple(int(d) if a in axes else 1 for a, d in enumerate(x.shape))   # gamma's broadcast shape
    mean = ops.mean(x, axis=axes, keepdims=True)
    var = ops.mean(ops.square(ops.subtract(x, mean)), axis=axes, keepdims=True)
    # 1 / sqrt, not ops.rsqrt: sqrt and divide are differentiated again by nested tapes (u_xx
    # through the normalization), rsqrt's float64 rule is not
    inv = ops.divide(1.0, ops.sqrt(ops.add(var, float(self.epsilon))))
    if self.rms_scaling:   # Keras 3.15's: the uncentred x over the standard deviation, times gamma
        return ops.multiply(ops.multiply(x, inv), ops.reshape(self.gamma, kept))
    y = ops.multiply(ops.subtract(x, mean), inv)
    if self.scale:
        y = ops.multiply(y, ops.reshape(self.gamma, kept))
    if self.center:
        y = ops.add(y, ops.reshape(self.beta, kept))
    return y


# the other families' forms, registered the same way
from . import _float64_conv, _float64_more  # noqa: E402,F401
