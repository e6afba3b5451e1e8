"""Convolution layers: Conv2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D (NHWC images),
Conv1D, Conv1DTranspose, DepthwiseConv1D, SeparableConv1D (sequences) and Conv3D,
Conv3DTranspose (NDHWC volumes), Keras semantics.

Shape legend: N batch, H x W image (Conv1D: L steps), C input channels, F filters,
KH x KW kernel (Conv1D: K). Kernels are (KH, KW, C, F) / (K, C, F) as in Keras.
Padding 'valid' (no padding) or 'same' (output = ceil(input / stride), TensorFlow's rule: the
odd padding row/column goes after). The 1-D layers run the 2-D kernels on (N, 1, L, C) views
(no copies, _HeightOneViews); the 3-D layers have kernels of their own (csrc/cpu/conv3d.cpp),
kernels (KD, KH, KW, C, F).
"""
from __future__ import annotations

import numpy as np

from .. import activations as _activations
from .. import constraints, initializers, kernels, regularizers
from ._channels_first import ChannelsFirst, data_format_arg
from .base import ActivatedLayer, Layer, activation_flops, sample_size, shape_str

__all__ = ["Conv1D", "Conv2D", "Conv2DTranspose", "DepthwiseConv1D", "DepthwiseConv2D",
           "SeparableConv1D", "SeparableConv2D", "Conv1DTranspose", "Conv3D", "Conv3DTranspose"]

# the input layout of each rank of spatial axes, for error messages
_AXES = {1: "(batch, steps, channels)", 2: "(batch, height, width, channels)",
         3: "(batch, depth, height, width, channels)"}

# input shapes whose conv geometry a layer keeps (train batch, last batch, predict sizes, ...)
_GEOMETRIES_PER_LAYER = 16


def _weights_then_data(layer, dz, weights_kernel, data_kernel):
    """Backward of a conv layer with one kernel weight and a bias (Conv2DTranspose,
    DepthwiseConv1D / 2D, on their height-one views) given dL/dz: dW and db into the layer's
    gradients when it trains, then dx when an input needs it. Both kernels take the layer's
    ``_conv_args()``."""
    x4, dz4, kernel4 = layer._view4(layer._x), layer._view4(dz), layer._kernel4(layer.kernel)
    args = layer._conv_args()
    if layer.trainable:
        grads = layer.gradients
        weights_kernel(x4, dz4, tuple(kernel4.shape), out=layer._kernel4(grads[0]),
                       bias_out=grads[1] if layer.use_bias else None, **args)
    if not layer.needs_input_grad:
        return None
    dx = layer._buffer("dx", layer._x.shape)
    data_kernel(dz4, kernel4, tuple(x4.shape), out=layer._view4(dx), **args)
    return dx


def _output_padding_arg(layer, output_padding):
    """Keras' output_padding of a transposed conv: None, or an int / ``layer.rank`` ints, each
    non-negative and smaller than the stride along its axis; returns None or a tuple."""
    if output_padding is None:
        return None
    rank = layer.rank
    op = output_padding
    op = (op,) * rank if isinstance(op, (int, np.integer)) and not isinstance(op, bool) else tuple(op)
    if len(op) != rank or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                  and 0 <= v < s for v, s in zip(op, layer.strides)):
        raise ValueError(f"{type(layer).__name__} '{layer.name}': output_padding must be None or "
                         f"{rank} non-negative ints smaller than the strides {layer.strides}, "
                         f"got {output_padding!r}")
    return tuple(int(v) for v in op)


def _check_channels_first_activation(layer):
    # Keras applies the activation to the channels-first output, so a softmax runs over its last
    # (spatial) axis; the kernels activate channels-last, where that axis is another one
    if layer.data_format == "channels_first" and layer.activation.name in ("softmax", "log_softmax"):
        raise NotImplementedError(
            f"{type(layer).__name__} '{layer.name}': activation '{layer.activation.name}' with "
            f"data_format='channels_first' is not supported (Keras would take it over the last, "
            f"spatial axis); put a Softmax layer with the axis you mean after the convolution")


class _HeightOneViews:
    """Rank-1 layers (Conv1D, DepthwiseConv1D, SeparableConv1D, ...) run the 2-D kernels on
    height-1 views, no copies: (N, L, C) as (N, 1, L, C), kernels (K, ...) as (1, K, ...), and
    strides / dilations (s,) as (1, s). For rank 2, and the 3-D layers (kernels of their own),
    every view is the tensor itself."""

    rank = 2

    def _pair(self, value):
        return value if self.rank != 1 else (1,) + value

    def _shape4(self, shape):
        shape = tuple(shape)
        return shape if self.rank != 1 else (shape[0], 1) + shape[1:]

    def _unshape4(self, shape4):
        """The layer's own rank of a 4-D shape the kernels work in."""
        return tuple(shape4) if self.rank != 1 else (shape4[0],) + tuple(shape4[2:])

    def _view4(self, t):
        return t if self.rank != 1 else t.reshape(list(self._shape4(t.shape)))

    def _kernel4(self, t):
        """(K, ...) kernels (and their gradients) as (1, K, ...)."""
        return t if self.rank != 1 else t.reshape([1] + list(t.shape))

    def _spatial_axes(self):
        return _AXES[self.rank]


class _Conv(ChannelsFirst, _HeightOneViews, ActivatedLayer):
    """Shared body of Conv1D / Conv2D (rank 1 or 2 spatial axes).

    Math (per output pixel, patch p = the input taps the kernel covers, zeros in the padding):
        forward   z = p . W + b, y = act(z)        implicit GEMM, bias (and relu) in its epilogue
        backward  dz = dy * act'(z)
                  dW = sum over pixels p^T dz,  db = sum dz,  dx = col2im(dz W^T)
    """

    causal_padding = False   # Conv1D sets it: Keras allows padding="causal" there only

    def __init__(self, filters, kernel_size, strides, padding, data_format, dilation_rate,
                 activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                 bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint,
                 groups=1, name=None, **kwargs):
        super().__init__(name=name, activity_regularizer=activity_regularizer, **kwargs)
        kind = type(self).__name__
        if not isinstance(filters, (int, np.integer)) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(f"{kind} '{self.name}': filters must be a positive integer, got {filters!r}")
        self.data_format = data_format_arg(self, data_format)
        if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups <= 0:
            raise ValueError(f"{kind} '{self.name}': groups must be a positive integer, got {groups!r}")
        if filters % groups:
            raise ValueError(f"{kind} '{self.name}': the number of filters must be evenly divisible by "
                             f"the number of groups; got groups={groups}, filters={filters}")
        self.groups = int(groups)
        padding = str(padding).lower()
        if padding not in ("valid", "same") and not (padding == "causal" and type(self).causal_padding):
            allowed = "'valid', 'same' or 'causal'" if type(self).causal_padding else "'valid' or 'same'"
            hint = " ('causal' is for Conv1D)" if padding == "causal" else ""
            raise ValueError(f"{kind} '{self.name}': padding must be {allowed}, got {padding!r}{hint}")
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
        self.kernel_constraint = constraints.get(kernel_constraint)   # applied by the optimizer
        self.bias_constraint = constraints.get(bias_constraint)
        self._fused = self.activation.name in ("linear", "relu")
        _check_channels_first_activation(self)
        if self.data_format == "channels_first" and self._custom_convolution():
            # Keras hands convolution_op the channels-first input; the layer runs channels-last
            raise NotImplementedError(f"{kind} '{self.name}': a convolution_op override with "
                                      f"data_format='channels_first' is not supported")
        self.kernel = self.bias = None
        self._geometries = {}   # see _geometry

    def _tuple(self, value, what):
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            value = (value,) * self.rank
        value = tuple(value)
        if len(value) != self.rank or not all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in value):
            raise ValueError(f"{type(self).__name__} '{self.name}': {what} must be a positive int or "
                             f"{self.rank} of them, got {value!r}")
        return tuple(int(v) for v in value)

    def _conv_args(self):
        return dict(strides=self._pair(self.strides), padding=self.padding,
                    dilation_rate=self._pair(self.dilation_rate))

    def _output_shape4(self, shape4):
        out, _ = kernels.conv2d_output_shape(shape4, self._pair(self.kernel_size), self.filters,
                                         op=f"{type(self).__name__} '{self.name}'", **self._conv_args())
        return out

    def _geometry(self, shape4):
        """(output shape (N, OH, OW, F), (sh, sw, pad_top, pad_left, dh, dw)) of the conv on an
        NHWC input of ``shape4`` (a tuple): the shape arithmetic and its checks run once per
        input shape; every forward and backward of that shape reads the result from a small
        cache (shared by the layer's call contexts: it depends on the config only)."""
        cache = self._geometries
        geometry = cache.get(shape4)
        if geometry is None:
            out, pads = kernels.conv2d_output_shape(shape4, self._pair(self.kernel_size), self.filters,
                                                    op=f"{type(self).__name__} '{self.name}'",
                                                    **self._conv_args())
            if len(cache) >= _GEOMETRIES_PER_LAYER:
                cache.clear()
            geometry = cache[shape4] = (out, self._pair(self.strides) + pads + self._pair(self.dilation_rate))
        return geometry

    # -- layer contract ------------------------------------------------------------------------

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2 or input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} '{self.name}' needs inputs of shape {_AXES[self.rank]} with "
                             f"known channels, got {shape_str(input_shape)}")
        self.compute_output_shape(input_shape)  # raises early when the kernel does not fit
        if input_shape[-1] % self.groups:
            raise ValueError(f"{type(self).__name__} '{self.name}': the number of input channels must be "
                             f"evenly divisible by the number of groups; got groups={self.groups}, input "
                             f"channels={input_shape[-1]}")
        # Keras' grouped kernel: (*kernel_size, C / groups, filters)
        self.kernel = self.add_weight("kernel", self.kernel_size + (input_shape[-1] // self.groups, self.filters),
                                      self.kernel_initializer, self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer,
                                        constraint=self.bias_constraint)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        out4 = self._output_shape4(self._shape4(input_shape))
        return out4 if self.rank == 2 else (out4[0],) + out4[2:]

    # -- Keras 3's convolution_op hook -------------------------------------------------------------

    def convolution_op(self, inputs, kernel):
        """The convolution of ``inputs`` with ``kernel`` (Keras 3's hook, ops.conv). A subclass
        that overrides it (keras.io's weight-standardized convolution) keeps the layer's bias,
        activation and gradients: its op runs on a private tape (_forward_custom)."""
        from .. import ops
        # a grouped kernel (*k, C / groups, F) makes ops.conv group as Keras 3's does
        return ops.conv(inputs, kernel, strides=self.strides, padding=self.padding,
                        dilation_rate=self.dilation_rate)

    def _custom_convolution(self):
        return type(self).convolution_op is not _Conv.convolution_op

    def _forward_custom(self, x):
        """z = convolution_op(x, kernel) + bias on a private tape, then the activation as usual;
        backward_from_preactivation differentiates the tape."""
        from .. import ops
        from ..autodiff import GradientTape, stop_recording
        tape = GradientTape(persistent=True)
        with tape:
            tape.watch(x)
            z = self.convolution_op(x, self.kernel)
            if self.use_bias:
                z = z + self.bias
        if not isinstance(z, kernels.Tensor):
            raise TypeError(f"{type(self).__name__} '{self.name}'.convolution_op must return a corenn Tensor "
                            f"(computed with corenn.ops), got {type(z).__name__}")
        self._custom_record = (tape, x, z)
        if self._fused and self.activation.name == "relu":   # _activate expects the epilogue's relu
            with stop_recording():
                return self._activate(x, ops.relu(z), tuple(z.shape))
        return self._activate(x, z, tuple(z.shape))

    def _backward_custom(self, dz):
        tape, x, z = self._custom_record
        weights = self.trainable_weights
        grads = tape.gradient(z, [x] + weights, output_gradients=dz)
        for g, dst in zip(grads[1:], self.gradients):
            if g is None:
                np.asarray(dst)[...] = 0.0
            else:
                np.copyto(np.asarray(dst), np.asarray(g))
        return grads[0] if self.needs_input_grad else None

    def forward(self, x, training=False):
        if self._custom_convolution():
            return self._forward_custom(x)
        act = "relu" if self.activation.name == "relu" else "none"
        if self.rank == 2:
            out_shape, args = self._geometry(x.shape)
            z = self._buffer("z", out_shape)
            # keep_w: what the kernel derives from the weight (packed panels, a Winograd
            # transform) is kept on it while its write version stands (core/kept_derived.h):
            # predict prepares it once; a training step, which changes it, never does
            kernels._conv2d_forward(x, self.kernel, self.bias, z, *args, act, self.groups, True)
        else:
            x4 = self._view4(x)
            out4, args = self._geometry(x4.shape)
            out_shape = (out4[0],) + out4[2:]
            z = self._buffer("z", out_shape)
            kernels._conv2d_forward(x4, self._kernel4(self.kernel), self.bias, self._view4(z), *args, act,
                                    self.groups, True)
        return self._activate(x, z, out_shape)

    def flops(self, input_shape):
        """2*KH*KW*C/groups multiply-adds per output value, + the bias, + the activation."""
        out = sample_size(self.compute_output_shape(input_shape))
        taps = int(np.prod(self.kernel_size)) * input_shape[-1] // self.groups
        return 2 * taps * out + (out if self.use_bias else 0) + activation_flops(self.activation, out)

    def can_fuse_max_pool(self, pool) -> bool:
        """Whether this conv and ``pool`` can run as one conv2d_relu_max_pool2d pass (the fusion
        pass, models/fusion.py, decides whether they do)."""
        from .pooling import MaxPooling2D
        return (self.rank == 2 and not self._custom_convolution() and self.activation.name == "relu"
                and self.groups == 1 and self.data_format == "channels_last"
                and getattr(pool, "data_format", "channels_last") == "channels_last"
                and self.strides == (1, 1)
                and self.dilation_rate == (1, 1) and type(pool) is MaxPooling2D
                and pool.pool_size == (2, 2) and pool.strides == (2, 2) and pool.padding == "valid")

    def backward_from_preactivation(self, dz, add=None, relu_of=None):
        """backward given dL/dz directly. With ``add`` / ``relu_of`` (finishes_relu_sum):
        dx = (dL/dx + add) * relu'(relu_of), in the data gradient's own pass."""
        if self._custom_convolution():
            return self._backward_custom(dz)
        x4, dz4, k4 = self._view4(self._x), self._view4(dz), self._kernel4(self.kernel)
        _, args = self._geometry(x4.shape)
        if self.trainable:
            grads = self.gradients
            kernels._conv2d_backward_weights(x4, dz4, self._kernel4(grads[0]),
                                             grads[1] if self.use_bias else None, *args, self.groups)
        if not self.needs_input_grad:
            return None
        dx = self._buffer("dx", self._x.shape)
        if relu_of is None and add is None:
            kernels._conv2d_backward_data(dz4, k4, self._view4(dx), *args, self.groups)
        else:
            kernels._conv2d_backward_data_relu_sum(dz4, k4, self._view4(dx), add, relu_of, *args,
                                                   self.groups)
        return dx

    def finishes_relu_sum(self) -> bool:
        """Whether this conv can be the last reader of a relu output read by several layers
        (fusion rule 5): take the other readers' gradient and the relu' into its data gradient
        (backward_relu_sum). A plain channels-last Conv2D or Conv1D (its views are 4-D too); not
        the subclasses with a backward of their own (transposed, 3-D)."""
        return (type(self).backward_from_preactivation is _Conv.backward_from_preactivation
                and not self._custom_convolution() and self.data_format == "channels_last"
                and self.needs_input_grad)

    def backward_relu_sum(self, dy, others, relu_of):
        """backward, returning dL/d(the producer's z) for an input that is relu_of = relu(z):
        dx = (dL/dx + others) * relu'(relu_of), ``others`` the other readers' gradient (a Tensor,
        a list of them summed first in order, or None). None when it cannot run here (another
        device, or shapes the views do not match): the caller then takes the plain backward."""
        x = self._x
        if not self.finishes_relu_sum() or x.device != "cpu" \
                or relu_of.device != "cpu" or tuple(relu_of.shape) != tuple(x.shape):
            return None   # before any work: the caller runs the plain backward instead
        if isinstance(others, list):
            others = kernels.sum_n(others, out=self._buffer("dx_others", tuple(x.shape)))
        relu4 = self._view4(relu_of)
        return self.backward_from_preactivation(self._preactivation_grad(dy),
                                                None if others is None else self._view4(others), relu4)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
                   padding=self.padding, data_format=self.data_format, groups=self.groups,
                   dilation_rate=self.dilation_rate,
                   activation=_activations.serialize(self.activation), use_bias=self.use_bias,
                   kernel_initializer=initializers.serialize(self.kernel_initializer),
                   bias_initializer=initializers.serialize(self.bias_initializer),
                   kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
                   bias_regularizer=regularizers.serialize(self.bias_regularizer),
                   kernel_constraint=constraints.serialize(self.kernel_constraint),
                   bias_constraint=constraints.serialize(self.bias_constraint))
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
    padding 'valid', 'same' or 'causal' (WaveNet's: (K - 1) * dilation zeros before the
    sequence and none after, so output t sees inputs up to t; OL = ceil(L / stride)). Causal
    padding is only a geometry: the conv kernels take the padding before each axis.
    """

    rank = 1
    causal_padding = True

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, groups, **kwargs)


class Conv2DTranspose(_Conv):
    """Transposed 2-D convolution ("deconvolution"): (N, H, W, C) -> (N, OH, OW, filters).

    Math: the data gradient of the Conv2D whose kernel is this layer's kernel, used as a layer:
        forward   z = conv2d_backward_data(x, W) + b, y = act(z)    (the conv2d kernels' col2im
                                                                     GEMM / flipped forward)
        backward  dz = dy * act'(z)
                  dx = conv2d(dz, W)                   (the conv2d forward engine)
                  dW = conv2d_backward_weights(dz, x)  (conv2d's weight gradient, roles swapped)
                  db = sum dz
    Kernel (KH, KW, filters, C) as in Keras, which is exactly the (KH, KW, Cin, Cout) conv2d layout
    of the transposed convolution (its Cin = filters, Cout = C): no conversion anywhere.
    Output size per axis (Keras 3's rule, ek = (K - 1) * dilation + 1):
        output_padding None: 'valid' H*s + max(ek - s, 0), 'same' H*s;
        else (H - 1)*s + ek - 2*pad + output_padding with pad = ek // 2 ('same') or 0.

    Args:
        filters, kernel_size, strides, padding ('valid' | 'same'), dilation_rate: as Conv2D.
        output_padding: None, an int or 2 ints, each < the stride along its axis.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer: as Conv2D (the activation runs after the kernel, none is fused).
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, groups=1, **kwargs):
        # TF-Keras 2 files write groups=1 for transposed convolutions (Keras 3 has no such argument)
        if groups != 1:
            raise NotImplementedError(f"{type(self).__name__}: groups={groups!r} is not supported "
                                      "(grouped transposed convolutions: only groups=1)")
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, 1, **kwargs)
        self.output_padding = _output_padding_arg(self, output_padding)
        self._fused = self.activation.is_linear

    def _conv_args(self):
        return dict(strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate,
                    output_padding=self.output_padding)

    def _output_shape4(self, shape4):
        if len(shape4) == 4 and shape4[3] is not None:  # the kernels' (cached) geometry
            w_shape = self.kernel_size + (self.filters, shape4[3])
            out, _ = kernels._transpose_geometry(f"Conv2DTranspose '{self.name}'", shape4, w_shape,
                                                 self.strides, self.padding, self.output_padding,
                                                 self.dilation_rate)
            return out
        out, _ = kernels.conv2d_transpose_output_shape(
            shape4, self.kernel_size, self.filters, op=f"Conv2DTranspose '{self.name}'",
            **self._conv_args())
        return out

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2 or input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} '{self.name}' needs inputs of shape {_AXES[self.rank]} "
                             f"with known channels, got {shape_str(input_shape)}")
        self.compute_output_shape(input_shape)
        self.kernel = self.add_weight("kernel", self.kernel_size + (self.filters, input_shape[-1]),
                                      self.kernel_initializer, self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer,
                                        self.bias_regularizer, constraint=self.bias_constraint)
        Layer.build(self, input_shape)  # not _Conv.build: the kernel shape differs

    def forward(self, x, training=False):
        out_shape = self._output_shape4(tuple(x.shape))
        z = self._buffer("z", out_shape)
        kernels.conv2d_transpose(x, self.kernel, self.bias, out=z, **self._conv_args())
        return self._activate(x, z, out_shape)

    def backward_from_preactivation(self, dz):
        return _weights_then_data(self, dz, kernels.conv2d_transpose_backward_weights,
                                  kernels.conv2d_transpose_backward_data)

    def flops(self, input_shape):
        """2*prod(kernel_size)*filters multiply-adds per input value, + the bias, + the activation."""
        out = sample_size(self.compute_output_shape(input_shape))
        macs = int(np.prod(self.kernel_size)) * self.filters * sample_size(input_shape)
        return 2 * macs + (out if self.use_bias else 0) + activation_flops(self.activation, out)

    def can_fuse_max_pool(self, pool) -> bool:
        return False

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("groups")
        cfg["output_padding"] = self.output_padding
        return cfg


def _depthwise_args(layer, kernel_size, strides, padding, data_format, dilation_rate):
    """Validates and stores the spatial arguments shared by DepthwiseConv2D / SeparableConv2D."""
    kind = type(layer).__name__
    layer.data_format = data_format_arg(layer, data_format)   # channels_first: ChannelsFirst
    padding = str(padding).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"{kind} '{layer.name}': padding must be 'valid' or 'same', got {padding!r}")
    layer.kernel_size = _Conv._tuple(layer, kernel_size, "kernel_size")
    layer.strides = _Conv._tuple(layer, strides, "strides")
    layer.dilation_rate = _Conv._tuple(layer, dilation_rate, "dilation_rate")
    if max(layer.strides) > 1 and max(layer.dilation_rate) > 1:  # Keras 3 refuses it too
        raise ValueError(f"{kind} '{layer.name}': strides > 1 not supported in conjunction with "
                         f"dilation_rate > 1, got strides={layer.strides} and "
                         f"dilation_rate={layer.dilation_rate}")
    layer.padding = padding


def _positive_int(layer, arg, value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{type(layer).__name__} '{layer.name}': {arg} must be a positive integer, "
                         f"got {value!r}")
    return int(value)


def _set_constraints(layer, **values):
    """layer.<arg> = the constraint (keras.constraints), projected by the optimizer after updates."""
    for arg, value in values.items():
        setattr(layer, arg, constraints.get(value))


class DepthwiseConv2D(ChannelsFirst, _HeightOneViews, ActivatedLayer):
    """Depthwise 2-D convolution: each input channel convolved with its own depth_multiplier
    filters, (N, H, W, C) -> (N, OH, OW, C * depth_multiplier); output channel c*DM + m.

    Math (direct NHWC kernel vectorized over channels, csrc/cpu/depthwise_conv2d*.cpp):
        z[n, oh, ow, c*DM + m] = b[c*DM + m] + sum_{kh, kw} x[n, oh*sh - pt + kh*dh,
                                                             ow*sw - pl + kw*dw, c] W[kh, kw, c, m]
        y = act(z);  dz = dy * act'(z);  dx, dW, db by the matching depthwise kernels.
    Output size as Conv2D ('valid' / TensorFlow's 'same').

    Args:
        kernel_size, strides, padding, dilation_rate: as Conv2D (strides > 1 together with
            dilation_rate > 1 is refused, as in Keras).
        depth_multiplier: DM >= 1.
        activation, use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer,
        bias_regularizer: as Conv2D's kernel_* / bias_*.

    Weights, Keras order: kernel (KH, KW, C, DM), bias (C*DM,).
    """

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        _set_constraints(self, depthwise_constraint=depthwise_constraint, bias_constraint=bias_constraint)
        _depthwise_args(self, kernel_size, strides, padding, data_format, dilation_rate)
        self.depth_multiplier = _positive_int(self, "depth_multiplier", depth_multiplier)
        self.activation = _activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self._fused = self.activation.is_linear
        _check_channels_first_activation(self)
        self.kernel = self.bias = None

    def _conv_args(self):
        return dict(strides=self._pair(self.strides), padding=self.padding,
                    dilation_rate=self._pair(self.dilation_rate))

    def _check_rank(self, input_shape):
        if len(input_shape) != self.rank + 2 or input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} '{self.name}' needs inputs of shape "
                             f"{self._spatial_axes()} with known channels, got {shape_str(input_shape)}")

    def _depthwise_shape(self, input_shape):
        """The depthwise step's output (N, OH, OW, C*DM) on the kernels' 4-D view."""
        out, _ = kernels.depthwise_conv2d_output_shape(
            self._shape4(input_shape), self._pair(self.kernel_size), self.depth_multiplier,
            op=f"{type(self).__name__} '{self.name}'", **self._conv_args())
        return out

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self._check_rank(input_shape)
        self.compute_output_shape(input_shape)
        c = input_shape[-1]
        self.kernel = self.add_weight("kernel", self.kernel_size + (c, self.depth_multiplier),
                                      self.depthwise_initializer, self.depthwise_regularizer,
                                      constraint=self.depthwise_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (c * self.depth_multiplier,), self.bias_initializer,
                                        self.bias_regularizer, constraint=self.bias_constraint)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return self._unshape4(self._depthwise_shape(input_shape))

    def forward(self, x, training=False):
        out_shape = self.compute_output_shape(tuple(x.shape))
        z = self._buffer("z", out_shape)
        kernels.depthwise_conv2d(self._view4(x), self._kernel4(self.kernel), self.bias, out=self._view4(z),
                                 **self._conv_args())
        return self._activate(x, z, out_shape)

    def backward_from_preactivation(self, dz):
        return _weights_then_data(self, dz, kernels.depthwise_conv2d_backward_weights,
                                  kernels.depthwise_conv2d_backward_data)

    def flops(self, input_shape):
        out = sample_size(self.compute_output_shape(input_shape))
        return 2 * int(np.prod(self.kernel_size)) * out + (out if self.use_bias else 0) + \
            activation_flops(self.activation, out)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(kernel_size=self.kernel_size, strides=self.strides, padding=self.padding,
                   depth_multiplier=self.depth_multiplier, data_format=self.data_format,
                   dilation_rate=self.dilation_rate,
                   activation=_activations.serialize(self.activation), use_bias=self.use_bias,
                   depthwise_initializer=initializers.serialize(self.depthwise_initializer),
                   bias_initializer=initializers.serialize(self.bias_initializer),
                   depthwise_regularizer=regularizers.serialize(self.depthwise_regularizer),
                   bias_regularizer=regularizers.serialize(self.bias_regularizer),
                   depthwise_constraint=constraints.serialize(self.depthwise_constraint),
                   bias_constraint=constraints.serialize(self.bias_constraint))
        return cfg


class SeparableConv2D(ChannelsFirst, _HeightOneViews, ActivatedLayer):
    """Depthwise separable 2-D convolution: a depthwise conv (no bias), then a 1x1 conv mixing the
    channels, (N, H, W, C) -> (N, OH, OW, filters).

    Math:
        u = depthwise_conv2d(x, Wd)                     (N, OH, OW, C*DM), depthwise kernel
        z = u @ Wp + b, y = act(z)                      the 1x1 conv2d: one GEMM over pixels,
                                                        bias and relu fused in its epilogue
        backward: du = dz @ Wp^T, dWp = u^T dz, db = sum dz  (conv2d's pointwise GEMMs),
                  dx, dWd from du by the depthwise kernels.
    Every step is a C++ kernel; the layer only passes buffers along.

    Args:
        filters: output channels. kernel_size, strides, padding, dilation_rate, depth_multiplier:
            as DepthwiseConv2D (they apply to the depthwise step).
        activation, use_bias, depthwise_initializer, pointwise_initializer, bias_initializer,
        depthwise_regularizer, pointwise_regularizer, bias_regularizer.

    Weights, Keras order: depthwise_kernel (KH, KW, C, DM), pointwise_kernel (1, 1, C*DM,
    filters), bias (filters,).
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        _set_constraints(self, depthwise_constraint=depthwise_constraint,
                         pointwise_constraint=pointwise_constraint, bias_constraint=bias_constraint)
        _depthwise_args(self, kernel_size, strides, padding, data_format, dilation_rate)
        self.filters = _positive_int(self, "filters", filters)
        self.depth_multiplier = _positive_int(self, "depth_multiplier", depth_multiplier)
        self.activation = _activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self._fused = self.activation.name in ("linear", "relu")
        _check_channels_first_activation(self)
        self.depthwise_kernel = self.pointwise_kernel = self.bias = None

    _conv_args = DepthwiseConv2D._conv_args
    _check_rank = DepthwiseConv2D._check_rank
    _depthwise_shape = DepthwiseConv2D._depthwise_shape

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self._check_rank(input_shape)
        self.compute_output_shape(input_shape)
        c = input_shape[-1]
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel", self.kernel_size + (c, self.depth_multiplier),
            self.depthwise_initializer, self.depthwise_regularizer, constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel", (1,) * self.rank + (c * self.depth_multiplier, self.filters),
            self.pointwise_initializer, self.pointwise_regularizer, constraint=self.pointwise_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer,
                                        self.bias_regularizer, constraint=self.bias_constraint)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return self._unshape4(self._depthwise_shape(input_shape)[:3] + (self.filters,))

    def forward(self, x, training=False):
        u_shape = self._depthwise_shape(tuple(x.shape))
        out_shape = self._unshape4(u_shape[:3] + (self.filters,))
        u = kernels.depthwise_conv2d(self._view4(x), self._kernel4(self.depthwise_kernel), None,
                                     out=self._buffer("u", u_shape), **self._conv_args())
        z = self._buffer("z", out_shape)
        act = "relu" if self.activation.name == "relu" else "none"
        kernels.conv2d(u, self._kernel4(self.pointwise_kernel), self.bias, out=self._view4(z), activation=act)
        self._u = u
        return self._activate(x, z, out_shape)

    def backward_from_preactivation(self, dz):
        u, dz4 = self._u, self._view4(dz)
        x4, depthwise4 = self._view4(self._x), self._kernel4(self.depthwise_kernel)
        pointwise4 = self._kernel4(self.pointwise_kernel)
        if self.trainable:
            grads = self.gradients
            kernels.conv2d_backward_weights(u, dz4, tuple(pointwise4.shape), out=self._kernel4(grads[1]),
                                            bias_out=grads[2] if self.use_bias else None)
        du = kernels.conv2d_backward_data(dz4, pointwise4, tuple(u.shape), out=self._buffer("du", u.shape))
        if self.trainable:
            kernels.depthwise_conv2d_backward_weights(x4, du, tuple(depthwise4.shape),
                                                      out=self._kernel4(self.gradients[0]), **self._conv_args())
        if not self.needs_input_grad:
            return None
        dx = self._buffer("dx", self._x.shape)
        kernels.depthwise_conv2d_backward_data(du, depthwise4, tuple(x4.shape), out=self._view4(dx),
                                               **self._conv_args())
        return dx

    def flops(self, input_shape):
        """2*KH*KW per depthwise output value, 2*filters per pointwise input value, + bias, act."""
        u = sample_size(self._depthwise_shape(input_shape))
        out = sample_size(self.compute_output_shape(input_shape))
        return 2 * int(np.prod(self.kernel_size)) * u + 2 * u * self.filters + \
            (out if self.use_bias else 0) + activation_flops(self.activation, out)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
                   padding=self.padding, data_format=self.data_format,
                   dilation_rate=self.dilation_rate, depth_multiplier=self.depth_multiplier,
                   activation=_activations.serialize(self.activation), use_bias=self.use_bias,
                   depthwise_initializer=initializers.serialize(self.depthwise_initializer),
                   pointwise_initializer=initializers.serialize(self.pointwise_initializer),
                   bias_initializer=initializers.serialize(self.bias_initializer),
                   depthwise_regularizer=regularizers.serialize(self.depthwise_regularizer),
                   pointwise_regularizer=regularizers.serialize(self.pointwise_regularizer),
                   bias_regularizer=regularizers.serialize(self.bias_regularizer),
                   depthwise_constraint=constraints.serialize(self.depthwise_constraint),
                   pointwise_constraint=constraints.serialize(self.pointwise_constraint),
                   bias_constraint=constraints.serialize(self.bias_constraint))
        return cfg


class DepthwiseConv1D(DepthwiseConv2D):
    """Depthwise 1-D convolution over sequences: (N, L, C) -> (N, OL, C * depth_multiplier),
    each channel convolved with its own depth_multiplier filters; output channel c*DM + m.

    Runs DepthwiseConv2D's kernels on height-1 views (x as (N, 1, L, C), the kernel as
    (1, K, C, DM), strides / dilation (1, s) / (1, d)); the math is DepthwiseConv2D's along the
    one axis. padding 'valid' or 'same' (Keras 3 has no 'causal' here); strides > 1 with
    dilation_rate > 1 is refused, as in Keras.

    Weights, Keras order: kernel (K, C, DM), bias (C*DM,).
    """

    rank = 1

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate,
                         activation, use_bias, depthwise_initializer, bias_initializer,
                         depthwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, bias_constraint, **kwargs)


class SeparableConv1D(SeparableConv2D):
    """Depthwise separable 1-D convolution: a depthwise conv (no bias), then a pointwise (size-1)
    conv mixing the channels, (N, L, C) -> (N, OL, filters).

    SeparableConv2D's kernels on height-1 views (see DepthwiseConv1D); args as SeparableConv2D
    with ints (or 1-tuples) for kernel_size, strides and dilation_rate.

    Weights, Keras order: depthwise_kernel (K, C, DM), pointwise_kernel (1, C*DM, filters),
    bias (filters,).
    """

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         depth_multiplier, activation, use_bias, depthwise_initializer,
                         pointwise_initializer, bias_initializer, depthwise_regularizer,
                         pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)


class Conv1DTranspose(Conv2DTranspose):
    """Transposed 1-D convolution over sequences: (N, L, C) -> (N, OL, filters); kernel
    (K, filters, C) as in Keras.

    Runs Conv2DTranspose's kernels on height-1 views: x as (N, 1, L, C), the kernel as
    (1, K, filters, C), strides / dilation (1, s) / (1, d), output_padding (0, p); the math and
    Keras' output-length rule are Conv2DTranspose's, along the one axis:
        output_padding None: 'valid' L*s + max(ek - s, 0), 'same' L*s;
        else (L - 1)*s + ek - 2*pad + output_padding, ek = (K - 1) * dilation + 1,
        pad = ek // 2 ('same') or 0.

    Args:
        filters, kernel_size, strides, padding ('valid' | 'same'), dilation_rate: ints (or
            1-tuples), as Conv1D.
        output_padding: None or an int (or 1-tuple) smaller than the stride.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer: as Conv1D.
    """

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, output_padding, data_format,
                         dilation_rate, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)

    def _conv_args(self):
        return dict(strides=self._pair(self.strides), padding=self.padding,
                    dilation_rate=self._pair(self.dilation_rate),
                    output_padding=None if self.output_padding is None else (0,) + self.output_padding)

    def _output_shape4(self, shape4):
        out, _ = kernels.conv2d_transpose_output_shape(
            shape4, self._pair(self.kernel_size), self.filters, op=f"Conv1DTranspose '{self.name}'",
            **self._conv_args())
        return out

    def forward(self, x, training=False):
        out_shape = self.compute_output_shape(tuple(x.shape))
        z = self._buffer("z", out_shape)
        kernels.conv2d_transpose(self._view4(x), self._kernel4(self.kernel), self.bias,
                                 out=self._view4(z), **self._conv_args())
        return self._activate(x, z, out_shape)

    def backward_from_preactivation(self, dz):
        x4, dz4, k4 = self._view4(self._x), self._view4(dz), self._kernel4(self.kernel)
        if self.trainable:
            grads = self.gradients
            kernels.conv2d_transpose_backward_weights(
                x4, dz4, tuple(k4.shape), out=self._kernel4(grads[0]),
                bias_out=grads[1] if self.use_bias else None, **self._conv_args())
        if not self.needs_input_grad:
            return None
        dx = self._buffer("dx", self._x.shape)
        kernels.conv2d_transpose_backward_data(dz4, k4, tuple(x4.shape), out=self._view4(dx),
                                               **self._conv_args())
        return dx


class Conv3D(_Conv):
    """3-D convolution over NDHWC volumes: (N, D, H, W, C) -> (N, OD, OH, OW, filters); kernel
    (KD, KH, KW, C / groups, filters) as Keras.

    Math (an implicit GEMM on corenn's GEMM engine, csrc/cpu/conv3d.cpp):
        forward   z = p . W + b (p: the patch of KD*KH*KW*C/groups taps), y = act(z)
        backward  dz = dy * act'(z);  dW = sum over pixels p^T dz,  db = sum dz,
                  dx = col2im(dz W^T)
    Output size per axis as Conv2D ('valid' / TensorFlow's 'same').

    Args:
        filters, padding, groups, activation, use_bias, initializers, regularizers, constraints:
            as Conv2D (no activation is fused into the kernel).
        kernel_size, strides, dilation_rate: int or 3 ints (D, H, W).
        data_format: None, 'channels_last' or 'channels_first' (N, C, D, H, W).
    """

    rank = 3

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, groups, **kwargs)
        if type(self).convolution_op is not _Conv.convolution_op:
            raise NotImplementedError(f"{type(self).__name__} '{self.name}': a convolution_op "
                                      f"override is not supported for 3-D convolutions")
        self._fused = self.activation.is_linear

    def _conv_args(self):
        return dict(strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate)

    def compute_output_shape(self, input_shape):
        out, _ = kernels.conv3d_output_shape(tuple(input_shape), self.kernel_size, self.filters,
                                             op=f"{type(self).__name__} '{self.name}'", **self._conv_args())
        return out

    def _custom_convolution(self):
        return False   # refused in __init__: corenn.ops.conv covers 1-D and 2-D convolutions

    def forward(self, x, training=False):
        out_shape = self.compute_output_shape(tuple(x.shape))
        z = self._buffer("z", out_shape)
        kernels.conv3d(x, self.kernel, self.bias, out=z, groups=self.groups, **self._conv_args())
        return self._activate(x, z, out_shape)

    def backward_from_preactivation(self, dz):
        x, args = self._x, self._conv_args()
        if self.trainable:
            grads = self.gradients
            kernels.conv3d_backward_weights(x, dz, tuple(self.kernel.shape), out=grads[0],
                                            bias_out=grads[1] if self.use_bias else None,
                                            groups=self.groups, **args)
        if not self.needs_input_grad:
            return None
        return kernels.conv3d_backward_data(dz, self.kernel, tuple(x.shape),
                                            out=self._buffer("dx", x.shape), groups=self.groups, **args)


class Conv3DTranspose(Conv2DTranspose):
    """Transposed 3-D convolution: (N, D, H, W, C) -> (N, OD, OH, OW, filters); kernel
    (KD, KH, KW, filters, C) as Keras.

    Math: the data gradient of the Conv3D whose kernel is this layer's kernel, used as a layer
    (Conv2DTranspose's scheme on the conv3d kernels):
        forward   z = conv3d_backward_data(x, W) + b, y = act(z)
        backward  dz = dy * act'(z);  dx = conv3d(dz, W);  dW = conv3d_backward_weights(dz, x);
                  db = sum dz
    Output size per axis: Keras 3's rule (see Conv2DTranspose).

    Args:
        filters, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
        initializers, regularizers, constraints: as Conv3D.
        output_padding: None, an int or 3 ints, each < the stride along its axis.
    """

    rank = 3

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, output_padding, data_format,
                         dilation_rate, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)

    def compute_output_shape(self, input_shape):
        out, _ = kernels.conv3d_transpose_output_shape(
            tuple(input_shape), self.kernel_size, self.filters,
            op=f"Conv3DTranspose '{self.name}'", **self._conv_args())
        return out

    def forward(self, x, training=False):
        out_shape = self.compute_output_shape(tuple(x.shape))
        z = self._buffer("z", out_shape)
        kernels.conv3d_transpose(x, self.kernel, self.bias, out=z, **self._conv_args())
        return self._activate(x, z, out_shape)

    def backward_from_preactivation(self, dz):
        return _weights_then_data(self, dz, kernels.conv3d_transpose_backward_weights,
                                  kernels.conv3d_transpose_backward_data)
