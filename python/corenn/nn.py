"""``tf.nn``: TensorFlow's neural-network functions over ``corenn.ops`` (differentiable on float
Tensors under a GradientTape)."""
from __future__ import annotations

import numpy as np

from . import ops
from .kernels import Tensor
from .math import l2_normalize  # noqa: F401

__all__ = ["softmax", "log_softmax", "relu", "relu6", "sigmoid", "tanh", "elu", "selu", "gelu",
           "silu", "swish", "softplus", "softsign", "leaky_relu", "l2_normalize", "moments",
           "bias_add", "embedding_lookup", "dropout", "sigmoid_cross_entropy_with_logits",
           "softmax_cross_entropy_with_logits", "sparse_softmax_cross_entropy_with_logits",
           "depth_to_space", "space_to_depth"]


def depth_to_space(input, block_size, data_format="NHWC", name=None):  # noqa: A002 - TensorFlow's names
    """Pixel shuffle: (N, H, W, b*b*C) -> (N, H*b, W*b, C) (TensorFlow's DCR channel order;
    ``data_format='NCHW'`` for channels first). Differentiable."""
    return ops.depth_to_space(input, block_size, data_format=data_format)


def space_to_depth(input, block_size, data_format="NHWC", name=None):  # noqa: A002
    """(N, H, W, C) -> (N, H/b, W/b, b*b*C), the inverse of ``depth_to_space``. Differentiable."""
    return ops.space_to_depth(input, block_size, data_format=data_format)


def softmax(logits, axis=None, name=None):
    return ops.softmax(logits, axis=-1 if axis is None else axis)


def log_softmax(logits, axis=None, name=None):
    return ops.log_softmax(logits, axis=-1 if axis is None else axis)


def _unary(name, op):
    def fn(features, name=None):
        return op(features)
    fn.__name__ = fn.__qualname__ = name
    return fn


relu, relu6, sigmoid, tanh = (_unary(n, getattr(ops, n)) for n in ("relu", "relu6", "sigmoid", "tanh"))
elu, selu, silu, softplus = (_unary(n, getattr(ops, n)) for n in ("elu", "selu", "silu", "softplus"))
softsign = _unary("softsign", ops.softsign)
swish = silu


def gelu(features, approximate=False, name=None):
    return ops.gelu(features, approximate=approximate)


def leaky_relu(features, alpha=0.2, name=None):
    return ops.leaky_relu(features, negative_slope=alpha)


def moments(x, axes, shift=None, keepdims=False, name=None):
    """(mean, variance) over ``axes``."""
    return ops.moments(x, list(axes), keepdims=keepdims)


def bias_add(value, bias, data_format=None, name=None):
    if data_format == "NCHW":
        shape = [1, -1] + [1] * (len(value.shape) - 2)
        return ops.add(value, ops.reshape(bias, shape))
    return ops.add(value, bias)


def embedding_lookup(params, ids, max_norm=None, name=None):
    """``params[ids]`` along axis 0. A RaggedTensor of ids gives a RaggedTensor whose rows are
    (row length, dim) arrays of the embeddings (data: no gradient flows through ragged rows)."""
    from .strings import RaggedTensor
    if isinstance(ids, RaggedTensor):
        table = np.asarray(params)
        return RaggedTensor._from_rows([table[np.asarray(r, np.int64).reshape(-1)] for r in np.asarray(ids)])
    return ops.take(params, ids, axis=0)


def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """Zero each entry with probability ``rate``, scale the rest by 1 / (1 - rate)."""
    from . import random
    return random.dropout(x, rate, noise_shape=noise_shape, seed=seed)


def _labels(labels):
    """Labels as a float Tensor: a float Tensor (float64 with float64 logits, as TensorFlow
    requires) keeps its dtype and digits; other data becomes float32."""
    if isinstance(labels, Tensor) and labels.dtype.is_floating:
        return labels
    return ops._to_tensor(np.asarray(labels, np.float32))


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Elementwise max(z, 0) - z y + log(1 + exp(-|z|)), stable for any logit z."""
    z, y = ops._to_tensor(logits), _labels(labels)
    return ops.add(ops.subtract(ops.relu(z), ops.multiply(z, y)), ops.log1p(ops.exp(ops.negative(ops.abs(z)))))


def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """Per row: -sum(labels * log_softmax(logits))."""
    y = _labels(labels)
    return ops.negative(ops.sum(ops.multiply(y, ops.log_softmax(logits, axis=axis)), axis=axis))


def sparse_softmax_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Per row: -log_softmax(logits)[label]."""
    lab = np.asarray(labels).astype(np.int64)
    depth = int(logits.shape[-1])
    if lab.size and (lab.min() < 0 or lab.max() >= depth):
        raise ValueError(f"tf.nn.sparse_softmax_cross_entropy_with_logits: labels must be in "
                         f"[0, {depth}), got {lab.min()}..{lab.max()}")
    onehot = np.eye(depth, dtype=np.float32)[lab]
    return softmax_cross_entropy_with_logits(onehot, logits)


# As a layer's activation= (Dense(10, activation=tf.nn.relu)), these are the fused kernels'
# activations of the same name (the layer runs its explicit backward pass, not this function).
for _fn, _name in ((relu, "relu"), (sigmoid, "sigmoid"), (tanh, "tanh"), (elu, "elu"),
                   (selu, "selu"), (silu, "swish"), (softplus, "softplus"), (softmax, "softmax"),
                   (log_softmax, "log_softmax"), (leaky_relu, "leaky_relu")):
    _fn._corenn_activation = _name
del _fn, _name


# -- TensorFlow's low-level convolution and pooling (tf.nn.conv2d & co.) ------------------------
# NHWC (or NCHW / NWC / NCW), filters in TF's layout (HWIO; depthwise HW-C-multiplier; transposed
# HW-out-in), strides / dilations as an int or a list of 1, N or N + 2 entries, padding 'SAME',
# 'VALID' or explicit pads. All run corenn's conv2d / pooling C++ kernels (1-D as height 1),
# forward and backward, through corenn.ops, so a GradientTape differentiates them.

__all__ += ["conv2d", "conv1d", "convolution", "conv2d_transpose", "conv1d_transpose", "depthwise_conv2d",
            "separable_conv2d", "atrous_conv2d", "max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d",
            "max_pool", "avg_pool", "pool", "compute_average_loss", "scale_regularization_loss", "l2_loss",
            "batch_normalization", "normalize_moments", "weighted_cross_entropy_with_logits",
            "log_poisson_loss", "crelu", "top_k", "local_response_normalization", "lrn"]

_CHANNELS_FIRST = ("NCHW", "NCW", "NCDHW")


def _tf_ints(op, arg, value, n, data_format=None):
    """TF's stride / dilation / ksize argument as a tuple of n spatial ints: an int, or a list of
    1, n or n + 2 entries (the batch and channel entries of the n + 2 form must be 1)."""
    vals = [int(v) for v in np.asarray(value).reshape(-1)]
    if len(vals) == 1:
        vals = vals * n
    elif len(vals) == n + 2:
        outer = (vals[0], vals[1]) if data_format in _CHANNELS_FIRST else (vals[0], vals[-1])
        if outer != (1, 1):
            raise ValueError(f"tf.nn.{op}: {arg} {list(np.asarray(value).reshape(-1))} must be 1 on the batch and "
                             f"channel axes")
        vals = vals[2:] if data_format in _CHANNELS_FIRST else vals[1:-1]
    if len(vals) != n or any(v < 1 for v in vals):
        raise ValueError(f"tf.nn.{op}: {arg} must be a positive int or a list of 1, {n} or {n + 2} positive "
                         f"ints, got {value!r}")
    return tuple(vals)


def _tf_input(op, input, rank, data_format):  # noqa: A002
    x = ops._to_tensor(input)
    if x.dtype != "float32" and x.dtype != "float64":   # float64 stays: the ops compute in float64 on it
        x = ops.cast(x, "float32")
    if x.ndim != rank:
        raise ValueError(f"tf.nn.{op}: input must have rank {rank} (batch, spatial..., channels), got shape "
                         f"{tuple(x.shape)}")
    if data_format is not None and data_format not in ("NHWC", "NCHW", "NWC", "NCW"):
        raise ValueError(f"tf.nn.{op}: data_format must be 'NHWC' / 'NCHW' (2-D) or 'NWC' / 'NCW' (1-D), got "
                         f"{data_format!r}")
    if data_format in _CHANNELS_FIRST:
        x = ops.moveaxis(x, 1, -1)
    return x


def _tf_output(y, data_format):
    return ops.moveaxis(y, -1, 1) if data_format in _CHANNELS_FIRST else y


def _tf_padding(op, padding, n, data_format, pad_value=0.0):
    """('same' | 'valid', explicit pads [(before, after)] per spatial axis or None)."""
    if isinstance(padding, str):
        p = padding.upper()
        if p not in ("SAME", "VALID"):
            raise ValueError(f"tf.nn.{op}: padding must be 'SAME', 'VALID' or a list of explicit pads, got {padding!r}")
        return p.lower(), None
    pads = np.asarray(padding, dtype=np.int64)
    if pads.shape == (n, 2):
        spatial = pads
    elif pads.shape == (n + 2, 2):
        outer = pads[[0, 1]] if data_format in _CHANNELS_FIRST else pads[[0, -1]]
        if outer.any():
            raise ValueError(f"tf.nn.{op}: explicit padding of the batch and channel axes must be 0, got "
                             f"{pads.tolist()}")
        spatial = pads[2:] if data_format in _CHANNELS_FIRST else pads[1:-1]
    else:
        raise ValueError(f"tf.nn.{op}: explicit padding must be [[before, after]] for each of the {n + 2} axes, "
                         f"got {np.asarray(padding).tolist()}")
    if (spatial < 0).any():
        raise ValueError(f"tf.nn.{op}: explicit pads must be >= 0, got {pads.tolist()}")
    return "valid", [tuple(int(v) for v in row) for row in spatial]


def _pad_spatial(x, pads, value=0.0):
    if not pads or not any(a or b for a, b in pads):
        return x
    return ops.pad(x, [(0, 0)] + list(pads) + [(0, 0)], constant_values=value)


def _filters(op, filters, rank):
    w = ops._to_tensor(filters)
    if w.dtype != "float32" and w.dtype != "float64":
        w = ops.cast(w, "float32")
    if w.ndim != rank:
        raise ValueError(f"tf.nn.{op}: filters must have rank {rank}, got shape {tuple(w.shape)}")
    return w


def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None, name=None):  # noqa: A002
    """TF's conv2d: input (N, H, W, Cin), filters (KH, KW, Cin, Cout). As TensorFlow, filters with
    fewer input channels that divide the input's, (KH, KW, Cin / G, Cout), are a grouped
    convolution with G groups (Cout divisible by G); keras.io's MelGAN calls conv1d so."""
    x = _tf_input("conv2d", input, 4, data_format)
    w = _filters("conv2d", filters, 4)
    cin, win, wout = int(x.shape[3]), int(w.shape[2]), int(w.shape[3])
    if win == 0 or cin % win or wout % (cin // win):
        why = (f"input depth {cin} is not divisible by the filters' input depth {win}" if win == 0 or cin % win else
               f"output depth {wout} is not divisible by the number of groups {cin // win}")
        raise ValueError(f"tf.nn.conv2d: filters of shape {tuple(w.shape)} do not fit the input of shape "
                         f"{tuple(np.shape(input))} ({data_format}): {why}")
    s = _tf_ints("conv2d", "strides", strides, 2, data_format)
    d = _tf_ints("conv2d", "dilations", 1 if dilations is None else dilations, 2, data_format)
    if max(s) > 1 and max(d) > 1:
        raise ValueError(f"tf.nn.conv2d: strides {s} and dilations {d} cannot both be > 1 (as in TensorFlow)")
    pad, pads = _tf_padding("conv2d", padding, 2, data_format)
    y = ops.conv(_pad_spatial(x, pads), w, strides=s, padding=pad, dilation_rate=d)
    return _tf_output(y, data_format)


def conv1d(input, filters, stride, padding, data_format="NWC", dilations=None, name=None):  # noqa: A002
    """TF's conv1d: input (N, W, Cin), filters (KW, Cin, Cout); the 2-D kernel with height 1."""
    fmt = {"NWC": "NHWC", "NCW": "NCHW", None: "NHWC"}.get(data_format)
    if fmt is None:
        raise ValueError(f"tf.nn.conv1d: data_format must be 'NWC' or 'NCW', got {data_format!r}")
    x = ops._to_tensor(input)
    if x.ndim != 3:
        raise ValueError(f"tf.nn.conv1d: input must have rank 3 (batch, width, channels), got shape {tuple(x.shape)}")
    w = _filters("conv1d", filters, 3)
    s = _tf_ints("conv1d", "stride", stride, 1, data_format)[0]
    d = _tf_ints("conv1d", "dilations", 1 if dilations is None else dilations, 1, data_format)[0]
    if not isinstance(padding, str):
        padding = [[0, 0], list(_tf_padding("conv1d", padding, 1, data_format)[1][0])]   # (H, W) pads
    y = conv2d(ops.expand_dims(x, 2 if fmt == "NCHW" else 1), ops.expand_dims(w, 0), [1, s], padding,
               data_format=fmt, dilations=[1, d])
    return ops.squeeze(y, axis=2 if fmt == "NCHW" else 1)


def convolution(input, filters, strides=None, padding="VALID", data_format=None, dilations=None, name=None):  # noqa: A002
    """tf.nn.convolution: conv1d or conv2d by the input's rank."""
    rank = len(np.shape(input))
    if rank == 3:
        return conv1d(input, filters, 1 if strides is None else strides, padding, data_format or "NWC", dilations)
    if rank == 4:
        return conv2d(input, filters, 1 if strides is None else strides, padding, data_format or "NHWC", dilations)
    if rank == 5:
        from ._nn_more import conv3d
        return conv3d(input, filters, 1 if strides is None else strides, padding, data_format or "NDHWC", dilations)
    raise ValueError(f"tf.nn.convolution: supports 1-D, 2-D and 3-D inputs (rank 3, 4 or 5), got shape "
                     f"{tuple(np.shape(input))}")


def atrous_conv2d(value, filters, rate, padding, name=None):
    return conv2d(value, filters, 1, padding, dilations=rate)


def conv2d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NHWC",  # noqa: A002
                     dilations=None, name=None):
    """TF's conv2d_transpose: the input gradient of conv2d for an input of ``output_shape``;
    filters (KH, KW, out_channels, in_channels). Differentiable in input and filters."""
    from . import autodiff, kernels
    x = _tf_input("conv2d_transpose", input, 4, data_format)
    w = _filters("conv2d_transpose", filters, 4)
    out = [int(v) for v in np.asarray(output_shape).reshape(-1)]
    if len(out) != 4:
        raise ValueError(f"tf.nn.conv2d_transpose: output_shape must have 4 entries, got {out}")
    if data_format in _CHANNELS_FIRST:
        out = [out[0], out[2], out[3], out[1]]
    if int(w.shape[3]) != int(x.shape[3]) or int(w.shape[2]) != out[3] or out[0] != int(x.shape[0]):
        raise ValueError(f"tf.nn.conv2d_transpose: filters of shape {tuple(w.shape)} (h, w, out, in) do not fit an "
                         f"input of shape {tuple(x.shape)} and output_shape {out} (NHWC)")
    s = _tf_ints("conv2d_transpose", "strides", strides, 2, data_format)
    d = _tf_ints("conv2d_transpose", "dilations", 1 if dilations is None else dilations, 2, data_format)
    pad, pads = _tf_padding("conv2d_transpose", padding, 2, data_format)
    full = list(out)
    if pads:   # the gradient of conv2d over the padded input, cropped to the unpadded output
        full[1] += pads[0][0] + pads[0][1]
        full[2] += pads[1][0] + pads[1][1]
    kw = dict(strides=s, padding=pad, dilation_rate=d)
    # the conv2d this is the input gradient of must map `full` onto x's spatial shape
    expect = kernels.conv2d(kernels.zeros((1, full[1], full[2], full[3]), "float32"),
                            kernels.zeros(tuple(w.shape), "float32"), **kw).shape if min(full[1:3]) > 0 else None
    if expect is None or tuple(expect[1:3]) != tuple(x.shape[1:3]):
        raise ValueError(f"tf.nn.conv2d_transpose: output_shape {out} with strides {s}, padding {padding!r} does not "
                         f"give back the input's spatial shape {tuple(x.shape[1:3])} (conv2d of it gives "
                         f"{None if expect is None else tuple(expect[1:3])})")
    y = _conv2d_data_gradient(x, w, full, kw)
    if pads:
        y = y[:, pads[0][0]:pads[0][0] + out[1], pads[1][0]:pads[1][0] + out[2], :]
    return _tf_output(y, data_format)


def _conv2d_data_gradient(dy, w, x_shape, kw):
    """The data gradient of conv2d(x, w, **kw) for an output gradient ``dy`` and inputs of
    ``x_shape``, recorded on the tape as an op of its own (differentiable in dy and w: its rule is
    the conv forward and the weight-gradient kernel). conv2d_transpose is this op; a second-order
    gradient through a Conv2D uses it too (models/second_order.py)."""
    from . import _ops_wide, _ops_wide_conv, autodiff, kernels
    if _ops_wide.result_float(dy, w) == "float64":   # float64 NumPy, recorded the same way
        return _ops_wide_conv.conv2d_data_gradient(_ops_wide._operand(dy, "conv"), _ops_wide._operand(w, "conv"),
                                                   x_shape, kw)
    y = kernels.conv2d_backward_data(dy, w, tuple(x_shape), **kw)
    tape = autodiff.recording_tape()
    if tape is not None:
        need_dy, need_w = tape.needs_grad(dy), tape.needs_grad(w)

        def rule(dys):
            g = dys[0]
            return [kernels.conv2d(g, w, **kw) if need_dy else None,
                    kernels.conv2d_backward_weights(g, dy, tuple(w.shape), **kw) if need_w else None]
        tape.record(rule, [dy, w], [y], ("conv2d_data", kw))
    return y


def _conv2d_weight_gradient(x, dy, w_shape, kw):
    """The weight gradient of conv2d(x, w, **kw) for an output gradient ``dy`` and weights of
    ``w_shape``, recorded as an op of its own (its rule: the data-gradient and conv kernels), for
    a second-order gradient w.r.t. a Conv2D's kernel (models/second_order.py)."""
    from . import _ops_wide, _ops_wide_conv, autodiff, kernels
    if _ops_wide.result_float(x, dy) == "float64":
        return _ops_wide_conv.conv2d_weight_gradient(_ops_wide._operand(x, "conv"), _ops_wide._operand(dy, "conv"),
                                                     w_shape, kw)
    y = kernels.conv2d_backward_weights(x, dy, tuple(w_shape), **kw)
    tape = autodiff.recording_tape()
    if tape is not None:
        need_x, need_dy = tape.needs_grad(x), tape.needs_grad(dy)

        def rule(dys):
            g = dys[0]
            return [kernels.conv2d_backward_data(dy, g, tuple(x.shape), **kw) if need_x else None,
                    kernels.conv2d(x, g, **kw) if need_dy else None]
        tape.record(rule, [x, dy], [y], ("conv2d_weights", kw))
    return y


def conv1d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NWC",  # noqa: A002
                     dilations=None, name=None):
    first = data_format == "NCW"
    out = [int(v) for v in np.asarray(output_shape).reshape(-1)]
    if len(out) != 3:
        raise ValueError(f"tf.nn.conv1d_transpose: output_shape must have 3 entries, got {out}")
    s = _tf_ints("conv1d_transpose", "strides", strides, 1, data_format)[0]
    d = _tf_ints("conv1d_transpose", "dilations", 1 if dilations is None else dilations, 1, data_format)[0]
    ax = 2 if first else 1
    out4 = out[:ax] + [1] + out[ax:]
    y = conv2d_transpose(ops.expand_dims(ops._to_tensor(input), ax), ops.expand_dims(_filters(
        "conv1d_transpose", filters, 3), 0), out4, [1, s], padding, "NCHW" if first else "NHWC", [1, d])
    return ops.squeeze(y, axis=ax)


def depthwise_conv2d(input, filter, strides, padding, data_format=None, dilations=None, name=None):  # noqa: A002
    """TF's depthwise_conv2d: filter (KH, KW, Cin, channel_multiplier); output channels Cin * multiplier."""
    x = _tf_input("depthwise_conv2d", input, 4, data_format)
    w = _filters("depthwise_conv2d", filter, 4)
    if int(w.shape[2]) != int(x.shape[3]):
        raise ValueError(f"tf.nn.depthwise_conv2d: filter of shape {tuple(w.shape)} expects {int(w.shape[2])} input "
                         f"channels, the input has {int(x.shape[3])}")
    s = _tf_ints("depthwise_conv2d", "strides", strides, 2, data_format)
    d = _tf_ints("depthwise_conv2d", "dilations", 1 if dilations is None else dilations, 2, data_format)
    pad, pads = _tf_padding("depthwise_conv2d", padding, 2, data_format)
    y = ops.depthwise_conv(_pad_spatial(x, pads), w, strides=s, padding=pad, dilation_rate=d)
    return _tf_output(y, data_format)


def separable_conv2d(input, depthwise_filter, pointwise_filter, strides, padding, data_format=None,  # noqa: A002
                     dilations=None, name=None):
    y = depthwise_conv2d(input, depthwise_filter, strides, padding, data_format, dilations)
    return conv2d(y, pointwise_filter, 1, "VALID", data_format or "NHWC")


def _pool2d(op, input, ksize, strides, padding, data_format):  # noqa: A002
    x = _tf_input(op, input, 4, data_format)
    k = _tf_ints(op, "ksize", ksize, 2, data_format)
    s = _tf_ints(op, "strides", strides, 2, data_format)
    pad, pads = _tf_padding(op, padding, 2, data_format)
    if pads and op.startswith("avg"):
        raise ValueError(f"tf.nn.{op}: explicit padding is not supported for average pooling (as in TensorFlow); "
                         f"use 'SAME' or 'VALID'")
    # a max over windows never picks the lowest float32, so explicit pads never win
    x = _pad_spatial(x, pads, value=float(np.finfo(np.float32).min))
    pool = ops.max_pool if op.startswith("max") else ops.average_pool
    return _tf_output(pool(x, k, strides=s, padding=pad), data_format)


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    return _pool2d("max_pool2d", input, ksize, strides, padding, data_format)


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    return _pool2d("avg_pool2d", input, ksize, strides, padding, data_format)


def _pool1d(op, input, ksize, strides, padding, data_format):  # noqa: A002
    first = data_format == "NCW"
    if data_format not in (None, "NWC", "NCW"):
        raise ValueError(f"tf.nn.{op}: data_format must be 'NWC' or 'NCW', got {data_format!r}")
    x = ops._to_tensor(input)
    if x.ndim != 3:
        raise ValueError(f"tf.nn.{op}: input must have rank 3 (batch, width, channels), got shape {tuple(x.shape)}")
    k = _tf_ints(op, "ksize", ksize, 1, data_format)[0]
    s = _tf_ints(op, "strides", strides, 1, data_format)[0]
    if not isinstance(padding, str):
        padding = [[0, 0], list(_tf_padding(op, padding, 1, data_format)[1][0])]   # (H, W) pads
    ax = 2 if first else 1
    y = _pool2d(op.replace("1d", "2d"), ops.expand_dims(x, ax), [1, k], [1, s], padding, "NCHW" if first else "NHWC")
    return ops.squeeze(y, axis=ax)


def max_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):  # noqa: A002
    return _pool1d("max_pool1d", input, ksize, strides, padding, data_format)


def avg_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):  # noqa: A002
    return _pool1d("avg_pool1d", input, ksize, strides, padding, data_format)


def _pool_nd(kind, input, ksize, strides, padding, data_format):  # noqa: A002
    rank = len(np.shape(input))
    if rank == 3:
        return _pool1d(f"{kind}_pool1d", input, ksize, strides, padding, data_format or "NWC")
    if rank == 4:
        return _pool2d(f"{kind}_pool2d", input, ksize, strides, padding, data_format or "NHWC")
    if rank == 5:
        from ._nn_more import _pool3d
        return _pool3d(f"{kind}_pool3d", input, ksize, strides, padding, data_format or "NDHWC")
    raise ValueError(f"tf.nn.{kind}_pool: supports 1-D, 2-D and 3-D inputs (rank 3, 4 or 5), got shape "
                     f"{tuple(np.shape(input))}")


def max_pool(input, ksize, strides, padding, data_format=None, name=None):  # noqa: A002
    return _pool_nd("max", input, ksize, strides, padding, data_format)


def avg_pool(input, ksize, strides, padding, data_format=None, name=None):  # noqa: A002
    return _pool_nd("avg", input, ksize, strides, padding, data_format)


def pool(input, window_shape, pooling_type, strides=None, padding="VALID", data_format=None,  # noqa: A002
         dilations=None, name=None):
    kind = {"MAX": "max", "AVG": "avg"}.get(str(pooling_type).upper())
    if kind is None:
        raise ValueError(f"tf.nn.pool: pooling_type must be 'MAX' or 'AVG', got {pooling_type!r}")
    if dilations is not None and max(np.asarray(dilations).reshape(-1)) > 1:
        raise ValueError("tf.nn.pool: dilations > 1 are not supported")
    return _pool_nd(kind, input, window_shape, window_shape if strides is None else strides, padding, data_format)


def compute_average_loss(per_example_loss, sample_weight=None, global_batch_size=None):
    """sum(per_example_loss * sample_weight) / global_batch_size (default: the batch size times
    the number of replicas, 1 here): the loss scaling of TF's custom training loops."""
    loss = ops._to_tensor(per_example_loss)
    if sample_weight is not None:
        loss = ops.multiply(loss, ops._to_tensor(np.asarray(sample_weight, np.float32)))
    if global_batch_size is None:
        global_batch_size = int(loss.shape[0]) if loss.ndim else 1
    if int(global_batch_size) <= 0:
        raise ValueError(f"tf.nn.compute_average_loss: global_batch_size must be > 0, got {global_batch_size}")
    return ops.divide(ops.sum(loss), float(global_batch_size))


def scale_regularization_loss(regularization_loss):
    """The regularization loss divided by the number of replicas (1 here)."""
    losses = regularization_loss if isinstance(regularization_loss, (list, tuple)) else [regularization_loss]
    total = ops._to_tensor(losses[0])
    for t in losses[1:]:
        total = ops.add(total, t)
    return ops.sum(total)


def l2_loss(t, name=None):
    """sum(t ** 2) / 2."""
    return ops.multiply(ops.sum(ops.square(t)), 0.5)


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """(x - mean) * scale / sqrt(variance + eps) + offset (offset / scale may be None)."""
    inv = ops.rsqrt(ops.add(variance, variance_epsilon))
    if scale is not None:
        inv = ops.multiply(inv, scale)
    y = ops.multiply(ops.subtract(x, mean), inv)
    return y if offset is None else ops.add(y, offset)


def normalize_moments(counts, mean_ss, variance_ss, shift, name=None):
    """(mean, variance) from sufficient statistics."""
    divisor = ops.divide(1.0, counts)
    shifted_mean = ops.multiply(mean_ss, divisor)
    mean = shifted_mean if shift is None else ops.add(shifted_mean, shift)
    variance = ops.subtract(ops.multiply(variance_ss, divisor), ops.square(shifted_mean))
    return mean, variance


def weighted_cross_entropy_with_logits(labels, logits, pos_weight, name=None):
    """(1 - z) x + (1 + (q - 1) z) log(1 + exp(-x)), written stably as TensorFlow does."""
    x, z = ops._to_tensor(logits), _labels(labels)
    lw = ops.add(1.0, ops.multiply(ops.subtract(pos_weight, 1.0), z))
    soft = ops.add(ops.log1p(ops.exp(ops.negative(ops.abs(x)))), ops.relu(ops.negative(x)))
    return ops.add(ops.multiply(ops.subtract(1.0, z), x), ops.multiply(lw, soft))


def log_poisson_loss(targets, log_input, compute_full_loss=False, name=None):
    """exp(log_input) - targets * log_input (+ Stirling's term for targets > 1 when asked)."""
    c = ops._to_tensor(log_input)
    zt = _labels(targets)
    z = np.asarray(zt)
    loss = ops.subtract(ops.exp(c), ops.multiply(zt, c))
    if compute_full_loss:
        # Stirling's term, differentiable in the targets (as TensorFlow's); 1 stands in where
        # t <= 1 so its log stays finite
        big = z > 1
        zs = ops.where(big, zt, ops.ones_like(zt))
        stirling = ops.add(ops.subtract(ops.multiply(zs, ops.log(zs)), zs),
                           ops.multiply(0.5, ops.log(ops.multiply(2 * np.pi, zs))))
        loss = ops.add(loss, ops.where(big, stirling, ops.zeros_like(stirling)))
    return loss


def crelu(features, axis=-1, name=None):
    return ops.concatenate([ops.relu(features), ops.relu(ops.negative(features))], axis=axis)


def top_k(input, k=1, sorted=True, name=None):  # noqa: A002
    from .math import top_k as _top_k
    return _top_k(input, k, sorted=sorted)


def local_response_normalization(input, depth_radius=5, bias=1.0, alpha=1.0, beta=0.5, name=None):  # noqa: A002
    """x / (bias + alpha * sum of x^2 over the channels within depth_radius) ** beta (NHWC;
    differentiable)."""
    x = ops._to_tensor(input)
    if x.ndim != 4:
        raise ValueError(f"tf.nn.local_response_normalization: input must be 4-D (NHWC), got shape {tuple(x.shape)}")
    r = int(depth_radius)
    if r < 0:
        raise ValueError(f"tf.nn.local_response_normalization: depth_radius must be >= 0, got {depth_radius}")
    c = int(x.shape[-1])
    sq = ops.pad(ops.square(x), [(0, 0), (0, 0), (0, 0), (r, r)])
    window = sq[..., 0:c]
    for k in range(1, 2 * r + 1):
        window = ops.add(window, sq[..., k:k + c])
    return ops.divide(x, ops.power(ops.add(bias, ops.multiply(alpha, window)), beta))


lrn = local_response_normalization


# 3-D convolution and pooling, conv_transpose, max_pool_with_argmax, CTC, morphology ...
from ._nn_more import (approx_max_k, approx_min_k, avg_pool3d, collapse_repeated, conv3d,  # noqa: E402,F401
                       conv3d_transpose, conv_transpose, ctc_beam_search_decoder, ctc_greedy_decoder, ctc_loss,
                       dilation2d, erosion2d, in_top_k, max_pool3d, max_pool_with_argmax, space_to_batch,
                       weighted_moments, zero_fraction)
from ._nn_extra import (all_candidate_sampler, compute_accidental_hits, fixed_unigram_candidate_sampler,  # noqa: E402,F401
                       learned_unigram_candidate_sampler, log_uniform_candidate_sampler, nce_loss, sampled_softmax_loss,
                       uniform_candidate_sampler)
from ._nn_extra import (atrous_conv2d_transpose, batch_norm_with_global_normalization, ctc_unique_labels,  # noqa: E402,F401
                       depthwise_conv2d_backprop_filter, depthwise_conv2d_backprop_input, embedding_lookup_sparse,
                       fractional_avg_pool, fractional_max_pool, isotonic_regression, safe_embedding_lookup_sparse,
                       sufficient_statistics, with_space_to_batch)
from ._nn_extra import __all__ as _extra  # noqa: E402
from ._nn_more import __all__ as _more  # noqa: E402

__all__ += _more + _extra
