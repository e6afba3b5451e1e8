"""Convolution layers: Conv2D (NHWC images) and Conv1D (sequences), Keras semantics.

Shape legend: N batch, H x W image (Conv1D: L steps), C input channels, F filters,
KH x KW kernel (Conv1D: K). Kernels are (KH, KW, C, F) / (K, C, F) as in Keras.
Padding 'valid' (no padding) or 'same' (output = ceil(input / stride), TensorFlow's rule: the
odd padding row/column goes after). Conv1D runs as a Conv2D on (N, 1, L, C) views (no copies).
"""
from __future__ import annotations

import numpy as np

from .. import activations as _activations
from .. import initializers, kernels, regularizers
from .base import ActivatedLayer, activation_flops, sample_size, shape_str

__all__ = ["Conv1D", "Conv2D"]


class _Conv(ActivatedLayer):
    """Shared body of Conv1D / Conv2D (rank 1 or 2 spatial axes).

    Math (per output pixel, patch p = the input taps the kernel covers, zeros in the padding):
        forward   z = p . W + b, y = act(z)        implicit GEMM, bias (and relu) in its epilogue
        backward  dz = dy * act'(z)
                  dW = sum over pixels p^T dz,  db = sum dz,  dx = col2im(dz W^T)
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides, padding, data_format, dilation_rate,
                 activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                 bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint,
                 groups=1, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        kind = type(self).__name__
        if not isinstance(filters, (int, np.integer)) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(f"{kind} '{self.name}': filters must be a positive integer, got {filters!r}")
        if data_format not in (None, "channels_last"):
            raise NotImplementedError(f"{kind} '{self.name}': only channels_last data is supported")
        for arg, value in (("activity_regularizer", activity_regularizer),
                           ("kernel_constraint", kernel_constraint), ("bias_constraint", bias_constraint)):
            if value is not None:
                raise NotImplementedError(f"{kind} '{self.name}': {arg} is not supported")
        if groups != 1:
            raise NotImplementedError(f"{kind} '{self.name}': grouped convolution is not supported")
        padding = str(padding).lower()
        if padding not in ("valid", "same"):
            if padding == "causal":
                raise NotImplementedError(f"{kind} '{self.name}': causal padding is not supported")
            raise ValueError(f"{kind} '{self.name}': padding must be 'valid' or 'same', got {padding!r}")
        self.filters = int(filters)
        self.kernel_size = self._tuple(kernel_size, "kernel_size")
        self.strides = self._tuple(strides, "strides")
        self.dilation_rate = self._tuple(dilation_rate, "dilation_rate")
        self.padding = padding
        self.activation = _activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self._fused = self.activation.name in ("linear", "relu")
        self.kernel = self.bias = None

    def _tuple(self, value, what):
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            value = (value,) * self.rank
        value = tuple(value)
        if len(value) != self.rank or not all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in value):
            raise ValueError(f"{type(self).__name__} '{self.name}': {what} must be a positive int or "
                             f"{self.rank} of them, got {value!r}")
        return tuple(int(v) for v in value)

    # -- rank-1 inputs run as (N, 1, L, C) images --------------------------------------------

    def _pair(self, value):
        return value if self.rank == 2 else (1,) + value

    def _shape4(self, shape):
        shape = tuple(shape)
        return shape if self.rank == 2 else (shape[0], 1) + shape[1:]

    def _view4(self, t):
        return t if self.rank == 2 else t.reshape(list(self._shape4(t.shape)))

    def _kernel4(self, t):
        """(K, C, F) kernels (and their gradients) as (1, K, C, F)."""
        return t if self.rank == 2 else t.reshape([1] + list(t.shape))

    def _conv_args(self):
        return dict(strides=self._pair(self.strides), padding=self.padding,
                    dilation_rate=self._pair(self.dilation_rate))

    def _output_shape4(self, shape4):
        out, _ = kernels.conv2d_output_shape(shape4, self._pair(self.kernel_size), self.filters,
                                         op=f"{type(self).__name__} '{self.name}'", **self._conv_args())
        return out

    # -- layer contract ------------------------------------------------------------------------

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2 or input_shape[-1] is None:
            axes = "(batch, height, width, channels)" if self.rank == 2 else "(batch, steps, channels)"
            raise ValueError(f"{type(self).__name__} '{self.name}' needs inputs of shape {axes} with "
                             f"known channels, got {shape_str(input_shape)}")
        self.compute_output_shape(input_shape)  # raises early when the kernel does not fit
        self.kernel = self.add_weight("kernel", self.kernel_size + (input_shape[-1], self.filters),
                                      self.kernel_initializer, self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        out4 = self._output_shape4(self._shape4(input_shape))
        return out4 if self.rank == 2 else (out4[0],) + out4[2:]

    def forward(self, x, training=False):
        x4 = self._view4(x)
        out4 = self._output_shape4(tuple(x4.shape))
        out_shape = out4 if self.rank == 2 else (out4[0],) + out4[2:]
        z = self._buffer("z", out_shape)
        act = "relu" if self.activation.name == "relu" else "none"
        kernels.conv2d(x4, self._kernel4(self.kernel), self.bias, out=self._view4(z), activation=act,
                   **self._conv_args())
        y = z if self._fused else self.activation.forward(z, self._buffer("y", out_shape))
        self._x, self._z, self._y = x, z, y
        return y

    def flops(self, input_shape):
        """2*KH*KW*C multiply-adds per output value, + the bias, + the activation."""
        out = sample_size(self.compute_output_shape(input_shape))
        taps = int(np.prod(self.kernel_size)) * input_shape[-1]
        return 2 * taps * out + (out if self.use_bias else 0) + activation_flops(self.activation, out)

    def can_fuse_max_pool(self, pool) -> bool:
        """Whether this conv and ``pool`` can run as one conv2d_relu_max_pool2d pass (the fusion
        pass, models/fusion.py, decides whether they do)."""
        from .pooling import MaxPooling2D
        return (self.rank == 2 and self.activation.name == "relu" and self.strides == (1, 1)
                and self.dilation_rate == (1, 1) and type(pool) is MaxPooling2D
                and pool.pool_size == (2, 2) and pool.strides == (2, 2) and pool.padding == "valid")

    def backward_from_preactivation(self, dz):
        """backward given dL/dz directly."""
        x4, dz4, k4 = self._view4(self._x), self._view4(dz), self._kernel4(self.kernel)
        if self.trainable:
            grads = self.gradients
            kernels.conv2d_backward_weights(x4, dz4, tuple(k4.shape), out=self._kernel4(grads[0]),
                                        bias_out=grads[1] if self.use_bias else None,
                                        **self._conv_args())
        if not self.needs_input_grad:
            return None
        dx = self._buffer("dx", self._x.shape)
        kernels.conv2d_backward_data(dz4, k4, tuple(x4.shape), out=self._view4(dx), **self._conv_args())
        return dx

    def get_config(self):
        cfg = super().get_config()
        cfg.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
                   padding=self.padding, data_format="channels_last", groups=1,
                   dilation_rate=self.dilation_rate,
                   activation=_activations.serialize(self.activation), use_bias=self.use_bias,
                   kernel_initializer=initializers.serialize(self.kernel_initializer),
                   bias_initializer=initializers.serialize(self.bias_initializer),
                   kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
                   bias_regularizer=regularizers.serialize(self.bias_regularizer))
        return cfg


class Conv2D(_Conv):
    """2-D convolution over NHWC images: (N, H, W, C) -> (N, OH, OW, filters).

    Args:
        filters: F, output channels.
        kernel_size: int or (KH, KW).
        strides: int or (SH, SW).
        padding: 'valid' or 'same' (case-insensitive).
        dilation_rate: int or (DH, DW); may be combined with strides.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer: as in Dense (relu and linear are fused into the convolution).
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, groups, **kwargs)


class Conv1D(_Conv):
    """1-D convolution over sequences: (N, L, C) -> (N, OL, filters); kernel (K, C, filters).

    Args as Conv2D with ints (or 1-tuples) for kernel_size, strides and dilation_rate;
    padding 'valid' or 'same' ('causal' is not supported).
    """

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, groups, **kwargs)
