"""The float64 forms of the convolution and pooling layers (see layers/_float64.py).

Each form is the layer's computation written with corenn.ops in the caller's layout (data_format
is passed to the ops; base._float64_layer keeps ChannelsFirst's float32 transposes out of a
float64 layer). On float64 operands the conv / pool ops compute in float64 NumPy
(_ops_wide_conv.py) with float64 gradient rules that nested tapes differentiate again:

    Conv1D / Conv2D / Conv3D      activation(conv(x, kernel) + bias), groups from the kernel's
                                  shape, 'causal' (Conv1D) as the float32 geometry: all padding before
    Conv1D/2D/3DTranspose         activation(conv_transpose(x, kernel) + bias), output_padding
    DepthwiseConv1D / 2D          activation(depthwise_conv(x, kernel) + bias)
    SeparableConv1D / 2D          activation(separable_conv(x, depthwise, pointwise) + bias)
    MaxPooling1D / 2D / 3D        max_pool (the first maximum of a window, as the float32 kernel)
    AveragePooling1D / 2D / 3D    average_pool ('same': the mean over the window's real cells)
    GlobalAveragePooling1D/2D/3D  mean over the steps / pixels (1D with a mask: over the unmasked
                                  steps, 0 where all are masked, as the float32 layer)
    GlobalMaxPooling1D / 2D / 3D  max_pool over the whole input (its first maximum), reshaped
    UpSampling1D / 2D / 3D        repeat ('nearest'); 'bilinear' as two interpolation matrices
                                  (half-pixel centres, TensorFlow's resize) applied with einsum
    ZeroPadding1D / 2D / 3D       pad with zeros
    Cropping1D / 2D / 3D          a slice

The 3-D layers call _ops_wide_conv's conv3d / conv3d_transpose / pool3d (the same formulas over
three spatial axes; ops.conv and the pools take 1-D and 2-D inputs, as their float32 kernels).

Every input is cast to float64 first (Keras casts a layer's inputs to its compute dtype).
"""
from __future__ import annotations

import numpy as np

from ..kernels import Tensor
from ._float64 import _form, _ops, _wide
from .convolutional import (Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D, Conv3DTranspose,
                            DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D)
from .pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D, GlobalAveragePooling1D,
                      GlobalAveragePooling2D, GlobalAveragePooling3D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                      GlobalMaxPooling3D, MaxPooling1D, MaxPooling2D, MaxPooling3D)
from .reshaping import (Cropping1D, Cropping2D, Cropping3D, UpSampling1D, UpSampling2D, UpSampling3D, ZeroPadding1D,
                        ZeroPadding2D, ZeroPadding3D)


def _wide_conv():
    from .. import _ops_wide_conv
    return _ops_wide_conv


def _first(self):
    return getattr(self, "data_format", "channels_last") == "channels_first"


def _bias_act(self, z, bias):
    """activation(z + bias), the bias along the channel axis of the layer's layout."""
    ops = _ops()
    if bias is not None:
        if _first(self):
            bias = ops.reshape(bias, (int(bias.shape[0]),) + (1,) * (len(z.shape) - 2))
        z = ops.add(z, bias)
    return self.activation(z)


def _one(v, rank):
    """A layer's rank-length tuple as the ops take it (an int for 1-D)."""
    return v[0] if rank == 1 and isinstance(v, (tuple, list)) else v


@_form(Conv1D, Conv2D)
def _conv(self, inputs, training=None):
    x = _wide(inputs)
    if self._custom_convolution():   # Keras 3's convolution_op hook (channels_last only, as the layer)
        z = self.convolution_op(x, self.kernel)
    else:
        z = _ops().conv(x, self.kernel, strides=_one(self.strides, self.rank), padding=self.padding,
                        data_format=self.data_format, dilation_rate=_one(self.dilation_rate, self.rank))
    return _bias_act(self, z, self.bias if self.use_bias else None)


@_form(Conv1DTranspose, Conv2DTranspose)
def _conv_transpose(self, inputs, training=None):
    x = _wide(inputs)
    z = _ops().conv_transpose(x, self.kernel, strides=_one(self.strides, self.rank), padding=self.padding,
                              output_padding=self.output_padding, data_format=self.data_format,
                              dilation_rate=_one(self.dilation_rate, self.rank))
    return _bias_act(self, z, self.bias if self.use_bias else None)


@_form(DepthwiseConv1D, DepthwiseConv2D)
def _depthwise(self, inputs, training=None):
    x = _wide(inputs)
    z = _ops().depthwise_conv(x, self.kernel, strides=_one(self.strides, self.rank), padding=self.padding,
                              data_format=self.data_format, dilation_rate=_one(self.dilation_rate, self.rank))
    return _bias_act(self, z, self.bias if self.use_bias else None)


@_form(SeparableConv1D, SeparableConv2D)
def _separable(self, inputs, training=None):
    x = _wide(inputs)
    z = _ops().separable_conv(x, self.depthwise_kernel, self.pointwise_kernel, strides=_one(self.strides, self.rank),
                              padding=self.padding, data_format=self.data_format,
                              dilation_rate=_one(self.dilation_rate, self.rank))
    return _bias_act(self, z, self.bias if self.use_bias else None)


@_form(MaxPooling2D, AveragePooling2D)
def _pool2d(self, inputs, training=None):
    op = _ops().max_pool if isinstance(self, MaxPooling2D) else _ops().average_pool
    return op(_wide(inputs), self.pool_size, self.strides, self.padding, self.data_format)


@_form(MaxPooling1D, AveragePooling1D)
def _pool1d(self, inputs, training=None):
    # (the 1-D layers keep (1, k) windows: the height-1 view of the float32 kernels)
    op = _ops().max_pool if isinstance(self, MaxPooling1D) else _ops().average_pool
    return op(_wide(inputs), self.pool_size[-1], self.strides[-1], self.padding, self.data_format)


def _spatial_axes(self, rank):
    return tuple(range(2, rank)) if _first(self) else tuple(range(1, rank - 1))


@_form(Conv3D)
def _conv3d(self, inputs, training=None):
    z = _wide_conv().conv3d(_wide(inputs), self.kernel, self.strides, self.padding, self.data_format,
                            self.dilation_rate)
    return _bias_act(self, z, self.bias if self.use_bias else None)


@_form(Conv3DTranspose)
def _conv3d_transpose(self, inputs, training=None):
    z = _wide_conv().conv3d_transpose(_wide(inputs), self.kernel, self.strides, self.padding, self.output_padding,
                                      self.data_format, self.dilation_rate)
    return _bias_act(self, z, self.bias if self.use_bias else None)


@_form(MaxPooling3D, AveragePooling3D)
def _pool3d(self, inputs, training=None):
    kind = "max" if isinstance(self, MaxPooling3D) else "avg"
    return _wide_conv().pool3d(kind, _wide(inputs), self.pool_size, self.strides, self.padding, self.data_format)


@_form(GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D)
def _global_average(self, inputs, training=None):
    ops = _ops()
    x = _wide(inputs)
    rank = len(x.shape)
    axes = _spatial_axes(self, rank)
    mask = self.__dict__.get("_call_mask") if isinstance(self, GlobalAveragePooling1D) else None
    if mask is None:
        return ops.mean(x, axis=axes, keepdims=self.keepdims)
    n, steps = int(x.shape[0]), int(x.shape[axes[0]])
    m = np.asarray(mask, dtype=np.float64)
    if m.shape != (n, steps):
        raise ValueError(f"GlobalAveragePooling1D '{self.name}': mask must have shape ({n}, {steps}) for "
                         f"inputs {tuple(x.shape)}, got {m.shape}")
    # weights mask / count (a sample with every step masked gives 0, as the float32 layer)
    w = m / np.maximum(m.sum(axis=1, keepdims=True), 1.0)
    w = Tensor.from_numpy(np.ascontiguousarray(w[:, None, :] if _first(self) else w[:, :, None]))
    return ops.sum(ops.multiply(x, w), axis=axes, keepdims=self.keepdims)


@_form(GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D)
def _global_max(self, inputs, training=None):
    ops = _ops()
    x = _wide(inputs)
    rank = len(x.shape)
    axes = _spatial_axes(self, rank)
    window = tuple(int(x.shape[a]) for a in axes)
    # max_pool over the whole input: each channel's first maximum takes the gradient (the float32
    # kernel's argmax), where ops.max would split it among ties
    if rank == 5:
        y = _wide_conv().pool3d("max", x, window, None, "valid", self.data_format)
    else:
        y = ops.max_pool(x, window[0] if rank == 3 else window, None, "valid", self.data_format)
    if self.keepdims:
        return y
    return ops.reshape(y, (int(x.shape[0]), int(x.shape[1 if _first(self) else rank - 1])))


def _bilinear_matrix(n_in, scale):
    """(n_in * scale, n_in) float64: TensorFlow's half-pixel bilinear resize along one axis."""
    n_out = n_in * scale
    src = np.maximum((np.arange(n_out) + 0.5) / scale - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    a = np.zeros((n_out, n_in), np.float64)
    np.add.at(a, (np.arange(n_out), lo), 1.0 - frac)
    np.add.at(a, (np.arange(n_out), hi), frac)
    return Tensor.from_numpy(a)


@_form(UpSampling2D)
def _upsampling2d(self, inputs, training=None):
    ops = _ops()
    x = _wide(inputs)
    ah, aw = (2, 3) if _first(self) else (1, 2)
    sh, sw = self.size
    if self.interpolation == "nearest":
        return ops.repeat(ops.repeat(x, sh, axis=ah), sw, axis=aw)
    if self.interpolation != "bilinear":
        raise NotImplementedError(f"UpSampling2D '{self.name}': interpolation {self.interpolation!r} has no "
                                  "float64 form ('nearest' and 'bilinear' do)")
    mh, mw = _bilinear_matrix(int(x.shape[ah]), sh), _bilinear_matrix(int(x.shape[aw]), sw)
    spec = "ih,jw,nchw->ncij" if _first(self) else "ih,jw,nhwc->nijc"
    return ops.einsum(spec, mh, mw, x)


@_form(UpSampling3D)
def _upsampling3d(self, inputs, training=None):
    ops = _ops()
    y = _wide(inputs)
    first = 2 if _first(self) else 1
    for axis, size in enumerate(self.size):
        y = ops.repeat(y, size, axis=first + axis)
    return y


@_form(UpSampling1D)
def _upsampling1d(self, inputs, training=None):
    return _ops().repeat(_wide(inputs), self.size, axis=1)


@_form(ZeroPadding2D)
def _zero_padding2d(self, inputs, training=None):
    (t, b), (l, r) = self.padding
    pads = ((0, 0), (0, 0), (t, b), (l, r)) if _first(self) else ((0, 0), (t, b), (l, r), (0, 0))
    return _ops().pad(_wide(inputs), pads)


@_form(ZeroPadding1D)
def _zero_padding1d(self, inputs, training=None):
    pads = ((0, 0), (0, 0), self.padding) if _first(self) else ((0, 0), self.padding, (0, 0))
    return _ops().pad(_wide(inputs), pads)


@_form(Cropping2D)
def _cropping2d(self, inputs, training=None):
    x = _wide(inputs)
    (t, b), (l, r) = self.cropping
    ah = 2 if _first(self) else 1
    h, w = int(x.shape[ah]), int(x.shape[ah + 1])
    rows, cols = slice(t, h - b), slice(l, w - r)
    key = (slice(None), slice(None), rows, cols) if _first(self) else (slice(None), rows, cols, slice(None))
    return x[key]


@_form(ZeroPadding3D)
def _zero_padding3d(self, inputs, training=None):
    pads = ((0, 0),) + tuple(tuple(p) for p in self.padding)
    pads = pads[:1] + ((0, 0),) + pads[1:] if _first(self) else pads + ((0, 0),)
    return _ops().pad(_wide(inputs), pads)


@_form(Cropping3D)
def _cropping3d(self, inputs, training=None):
    x = _wide(inputs)
    first = 2 if _first(self) else 1
    key = [slice(None)] * len(x.shape)
    for axis, (lo, hi) in enumerate(self.cropping):
        key[first + axis] = slice(lo, int(x.shape[first + axis]) - hi)
    return x[tuple(key)]


@_form(Cropping1D)
def _cropping1d(self, inputs, training=None):
    x = _wide(inputs)
    left, right = self.cropping
    return x[:, left:int(x.shape[1]) - right, :]
