"""More of ``tf.nn``: 3-D convolution and pooling (corenn's conv3d / pool3d kernels, TF's NDHWC
layout and argument forms), conv_transpose, max_pool_with_argmax, CTC in TensorFlow's
conventions over corenn's CTC kernel and decoders, weighted_moments, collapse_repeated,
dilation2d / erosion2d. Differentiable where TensorFlow's are."""
from __future__ import annotations

import numpy as np

from . import ops
from .nn import _CHANNELS_FIRST, _filters, _pad_spatial, _tf_ints, _tf_padding

__all__ = ["conv3d", "conv3d_transpose", "conv_transpose", "max_pool3d", "avg_pool3d", "max_pool_with_argmax",
           "in_top_k", "zero_fraction", "weighted_moments", "ctc_loss", "ctc_greedy_decoder",
           "ctc_beam_search_decoder", "collapse_repeated", "space_to_batch", "dilation2d", "erosion2d",
           "approx_max_k", "approx_min_k"]


def _input5(op, input, data_format):  # noqa: A002
    x = ops._to_tensor(input)
    if x.dtype != "float32":
        x = ops.cast(x, "float32")
    if x.ndim != 5:
        raise ValueError(f"tf.nn.{op}: input must have rank 5 (batch, depth, height, width, channels), got shape "
                         f"{tuple(x.shape)}")
    if data_format not in ("NDHWC", "NCDHW"):
        raise ValueError(f"tf.nn.{op}: data_format must be 'NDHWC' or 'NCDHW', got {data_format!r}")
    return ops.moveaxis(x, 1, -1) if data_format == "NCDHW" else x


def _out5(y, data_format):
    return ops.moveaxis(y, -1, 1) if data_format in _CHANNELS_FIRST else y


def conv3d(input, filters, strides, padding, data_format="NDHWC", dilations=None, name=None):  # noqa: A002
    """TF's conv3d: input (N, D, H, W, Cin), filters (KD, KH, KW, Cin, Cout); strides / dilations
    as an int or a list of 1, 3 or 5; 'SAME', 'VALID' or explicit pads. Differentiable."""
    from . import kernels
    x = _input5("conv3d", input, data_format)
    w = _filters("conv3d", filters, 5)
    if int(w.shape[3]) != int(x.shape[4]):
        raise ValueError(f"tf.nn.conv3d: filters of shape {tuple(w.shape)} expect {int(w.shape[3])} input channels, "
                         f"the input has {int(x.shape[4])}")
    s = _tf_ints("conv3d", "strides", strides, 3, data_format)
    d = _tf_ints("conv3d", "dilations", 1 if dilations is None else dilations, 3, data_format)
    pad, pads = _tf_padding("conv3d", padding, 3, data_format)
    x = _pad_spatial(x, pads)
    kw = dict(strides=s, padding=pad, dilation_rate=d)
    y = kernels.conv3d(x, w, **kw)
    ops._record_conv(kernels.conv3d_backward_data, kernels.conv3d_backward_weights, x, w, y, kw)
    return _out5(y, data_format)


def conv3d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NDHWC",  # noqa: A002
                     dilations=None, name=None):
    """The input gradient of conv3d for an input of ``output_shape``; filters (KD, KH, KW,
    out_channels, in_channels). Differentiable in input and filters."""
    from . import autodiff, kernels
    x = _input5("conv3d_transpose", input, data_format)
    w = _filters("conv3d_transpose", filters, 5)
    out = [int(v) for v in np.asarray(output_shape).reshape(-1)]
    if len(out) != 5:
        raise ValueError(f"tf.nn.conv3d_transpose: output_shape must have 5 entries, got {out}")
    if data_format == "NCDHW":
        out = [out[0], out[2], out[3], out[4], out[1]]
    if int(w.shape[4]) != int(x.shape[4]) or int(w.shape[3]) != out[4] or out[0] != int(x.shape[0]):
        raise ValueError(f"tf.nn.conv3d_transpose: filters of shape {tuple(w.shape)} (d, h, w, out, in) do not fit "
                         f"an input of shape {tuple(x.shape)} and output_shape {out} (NDHWC)")
    s = _tf_ints("conv3d_transpose", "strides", strides, 3, data_format)
    d = _tf_ints("conv3d_transpose", "dilations", 1 if dilations is None else dilations, 3, data_format)
    pad, pads = _tf_padding("conv3d_transpose", padding, 3, data_format)
    full = list(out)
    for i, p in enumerate(pads or []):
        full[1 + i] += p[0] + p[1]
    kw = dict(strides=s, padding=pad, dilation_rate=d)
    expect = kernels.conv3d_output_shape(tuple(full), tuple(int(v) for v in w.shape[:3]), int(w.shape[4]), **kw)[0] \
        if min(full[1:4]) > 0 else None
    if expect is None or tuple(expect[1:4]) != tuple(int(v) for v in x.shape[1:4]):
        raise ValueError(f"tf.nn.conv3d_transpose: output_shape {out} with strides {s}, padding {padding!r} does not "
                         f"give back the input's spatial shape {tuple(x.shape[1:4])}")
    # filters (KD, KH, KW, out, in) are the kernel of the conv3d whose input gradient this is
    y = kernels.conv3d_backward_data(x, w, tuple(full), **kw)
    tape = autodiff.recording_tape()
    if tape is not None:
        need_x, need_w = tape.needs_grad(x), tape.needs_grad(w)

        def rule(dys):
            g = dys[0]
            return [kernels.conv3d(g, w, **kw) if need_x else None,
                    kernels.conv3d_backward_weights(g, x, tuple(w.shape), **kw) if need_w else None]
        tape.record(rule, [x, w], [y])
    if pads:
        y = ops.slice(y, [0] + [p[0] for p in pads] + [0], out)
    return _out5(y, data_format)


def conv_transpose(input, filters, output_shape, strides, padding="SAME", data_format=None, dilations=None,  # noqa: A002
                   name=None):
    """conv1d / conv2d / conv3d_transpose by the input's rank (3, 4, 5)."""
    from .nn import conv1d_transpose, conv2d_transpose
    rank = len(np.shape(input))
    if rank == 3:
        return conv1d_transpose(input, filters, output_shape, strides, padding, data_format or "NWC", dilations)
    if rank == 4:
        return conv2d_transpose(input, filters, output_shape, strides, padding, data_format or "NHWC", dilations)
    if rank == 5:
        return conv3d_transpose(input, filters, output_shape, strides, padding, data_format or "NDHWC", dilations)
    raise ValueError(f"tf.nn.conv_transpose: input must have rank 3, 4 or 5, got shape {tuple(np.shape(input))}")


def _pool3d(op, input, ksize, strides, padding, data_format):  # noqa: A002
    from . import kernels
    x = _input5(op, input, data_format)
    k = _tf_ints(op, "ksize", ksize, 3, data_format)
    s = _tf_ints(op, "strides", strides, 3, data_format)
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"tf.nn.{op}: padding must be 'SAME' or 'VALID', got {padding!r}")
    pad = padding.lower()
    shape = tuple(x.shape)
    if op.startswith("max"):
        y, argmax = kernels.max_pool3d_forward(x, k, s, pad)
        ops._record(lambda dys: [kernels.max_pool3d_backward(dys[0], argmax, shape, k, s, pad)], [x], [y])
    else:
        y = kernels.avg_pool3d_forward(x, k, s, pad)
        ops._record(lambda dys: [kernels.avg_pool3d_backward(dys[0], shape, k, s, pad)], [x], [y])
    return _out5(y, data_format)


def max_pool3d(input, ksize, strides, padding, data_format="NDHWC", name=None):  # noqa: A002
    return _pool3d("max_pool3d", input, ksize, strides, padding, data_format)


def avg_pool3d(input, ksize, strides, padding, data_format="NDHWC", name=None):  # noqa: A002
    """Mean over each window's real cells ('SAME' padding is not counted, as TensorFlow)."""
    return _pool3d("avg_pool3d", input, ksize, strides, padding, data_format)


def max_pool_with_argmax(input, ksize, strides, padding, data_format="NHWC", output_dtype="int64",  # noqa: A002
                         include_batch_in_index=False, name=None):
    """(output, argmax) of 2-D max pooling on NHWC input: argmax is the flat index
    (y * W + x) * C + c of each window's maximum (with include_batch_in_index, ((b * H + y) * W
    + x) * C + c); ties take the first in row-major window order. The values are
    differentiable."""
    from .nn import max_pool2d
    if data_format != "NHWC":
        raise ValueError(f"tf.nn.max_pool_with_argmax: data_format must be 'NHWC', got {data_format!r}")
    if not isinstance(padding, str):
        raise ValueError("tf.nn.max_pool_with_argmax: padding must be 'SAME' or 'VALID'")
    out = max_pool2d(input, ksize, strides, padding)
    a = np.asarray(ops._to_tensor(input), np.float64)
    n, h, w, c = a.shape
    k = _tf_ints("max_pool_with_argmax", "ksize", ksize, 2, "NHWC")
    s = _tf_ints("max_pool_with_argmax", "strides", strides, 2, "NHWC")
    oh, ow = int(out.shape[1]), int(out.shape[2])
    if padding.upper() == "SAME":
        ph = max((oh - 1) * s[0] + k[0] - h, 0) // 2
        pw = max((ow - 1) * s[1] + k[1] - w, 0) // 2
    else:
        ph = pw = 0
    idx = np.zeros((n, oh, ow, c), np.int64)
    for i in range(oh):
        for j in range(ow):
            y0, x0 = i * s[0] - ph, j * s[1] - pw
            ys = np.arange(max(y0, 0), min(y0 + k[0], h))
            xs = np.arange(max(x0, 0), min(x0 + k[1], w))
            win = a[:, ys][:, :, xs].reshape(n, -1, c)
            best = win.argmax(axis=1)
            yy, xx = ys[best // xs.size], xs[best % xs.size]
            idx[:, i, j, :] = (yy * w + xx) * c + np.arange(c)
    if include_batch_in_index:
        idx += (np.arange(n) * h * w * c)[:, None, None, None]
    from ._tf_api import constant
    return out, constant(idx, dtype=str(output_dtype))


def in_top_k(targets, predictions, k, name=None):
    from .math import in_top_k as _in
    return _in(targets, predictions, k)


def zero_fraction(value, name=None):
    from .math import zero_fraction as _z
    return _z(value)


def weighted_moments(x, axes, frequency_weights, keepdims=False, name=None):
    """(mean, variance) of x over axes with frequency weights broadcast against x:
    mean = sum(w x) / sum(w), variance = sum(w (x - mean)^2) / sum(w). Differentiable."""
    from ._tf_api import _axis
    t = ops.cast(ops._to_tensor(x), "float32")
    w = ops.multiply(ops.ones_like(t), ops.cast(ops._to_tensor(frequency_weights), "float32"))
    ax = _axis(axes)
    total = ops.sum(w, axis=ax, keepdims=True)
    mean = ops.divide(ops.sum(ops.multiply(w, t), axis=ax, keepdims=True), total)
    var = ops.divide(ops.sum(ops.multiply(w, ops.square(ops.subtract(t, mean))), axis=ax, keepdims=True), total)
    if not keepdims:
        mean, var = ops.squeeze(mean, axis=ax), ops.squeeze(var, axis=ax)
    return mean, var


# -- CTC in TensorFlow's conventions ---------------------------------------------------------------

def _dense_labels(labels, batch):
    from .sparse import SparseTensor
    if isinstance(labels, SparseTensor):
        dense = np.zeros(labels.shape, np.int64)
        dense[tuple(labels.indices.T)] = labels.values
        lengths = np.zeros(batch, np.int64)
        if len(labels.indices):
            np.maximum.at(lengths, labels.indices[:, 0], labels.indices[:, 1] + 1)
        return dense, lengths
    return np.asarray(labels).astype(np.int64), None


def ctc_loss(labels, logits, label_length, logit_length, logits_time_major=True, unique=None, blank_index=None,
             name=None):
    """Per-example negative log-likelihood (batch,) of ``labels`` under CTC on unnormalized
    ``logits`` (frames, batch, classes) (or batch-major with logits_time_major=False). Labels are
    dense (batch, max_label_length) with ``label_length``, or a SparseTensor (label_length may
    be None). ``blank_index`` defaults to 0; a negative one counts from num_classes.
    Differentiable in the logits."""
    t = ops.cast(ops._to_tensor(logits), "float32")
    if t.ndim != 3:
        raise ValueError(f"tf.nn.ctc_loss: logits must be (frames, batch, classes), got shape {tuple(t.shape)}")
    if logits_time_major:
        t = ops.transpose(t, [1, 0, 2])
    batch, classes = int(t.shape[0]), int(t.shape[2])
    dense, sparse_len = _dense_labels(labels, batch)
    lengths = sparse_len if label_length is None else np.asarray(label_length).astype(np.int64).reshape(-1)
    if lengths is None:
        raise ValueError("tf.nn.ctc_loss: label_length is required for dense labels")
    blank = 0 if blank_index is None else int(blank_index) % classes
    return ops.ctc_loss(dense, t, lengths, logit_length, mask_index=blank)


def _sparse_paths(decoded, batch):
    from .sparse import SparseTensor
    out = []
    for path in decoded:
        rows = [np.flatnonzero(path[b] >= 0) for b in range(batch)]
        idx = np.array([[b, i] for b in range(batch) for i in rows[b]], np.int64).reshape(-1, 2)
        vals = np.array([path[b, i] for b, i in idx], np.int64)
        width = max((len(r) for r in rows), default=0)
        out.append(SparseTensor(idx, vals, [batch, width]))
    return out


def ctc_greedy_decoder(inputs, sequence_length, merge_repeated=True, blank_index=None):
    """([SparseTensor of the best paths], neg_sum_logits (batch, 1)) of time-major logits
    (max_time, batch, classes); blank = num_classes - 1 unless ``blank_index``."""
    x = ops._to_tensor(inputs)
    if x.ndim != 3:
        raise ValueError(f"tf.nn.ctc_greedy_decoder: inputs must be (max_time, batch, classes), got {tuple(x.shape)}")
    classes = int(x.shape[2])
    blank = classes - 1 if blank_index is None else int(blank_index) % classes
    dec, scores = ops.ctc_decode(ops.transpose(x, [1, 0, 2]), sequence_length, strategy="greedy",
                                 merge_repeated=merge_repeated, mask_index=blank)
    return _sparse_paths(np.asarray(dec), int(x.shape[1])), scores


def ctc_beam_search_decoder(inputs, sequence_length, beam_width=100, top_paths=1):
    """([top_paths SparseTensors], log_probabilities (batch, top_paths)) by prefix beam search
    over time-major logits (max_time, batch, classes); blank = num_classes - 1."""
    x = ops._to_tensor(inputs)
    if x.ndim != 3:
        raise ValueError(f"tf.nn.ctc_beam_search_decoder: inputs must be (max_time, batch, classes), got "
                         f"{tuple(x.shape)}")
    dec, scores = ops.ctc_decode(ops.transpose(x, [1, 0, 2]), sequence_length, strategy="beam_search",
                                 beam_width=beam_width, top_paths=top_paths, mask_index=int(x.shape[2]) - 1)
    return _sparse_paths(np.asarray(dec), int(x.shape[1])), scores


def collapse_repeated(labels, seq_length, name=None):
    """(labels with runs of a repeated label merged, padded with 0 to the longest; new lengths)."""
    lab = np.asarray(labels).astype(np.int64)
    lens = np.asarray(seq_length).astype(np.int64).reshape(-1)
    if lab.ndim != 2 or lens.shape[0] != lab.shape[0]:
        raise ValueError(f"tf.nn.collapse_repeated: labels (batch, max_len) and seq_length (batch,) needed, got "
                         f"{lab.shape} and {lens.shape}")
    rows = []
    for b in range(lab.shape[0]):
        seq = lab[b, :lens[b]]
        keep = np.ones(seq.size, bool)
        keep[1:] = seq[1:] != seq[:-1]
        rows.append(seq[keep])
    width = lab.shape[1] if lab.shape[0] == 0 else max(len(r) for r in rows)
    out = np.zeros((lab.shape[0], width), np.int32)
    for b, r in enumerate(rows):
        out[b, :len(r)] = r
    from ._tf_api import constant
    return constant(out), constant(np.array([len(r) for r in rows], np.int32))


def space_to_batch(input, block_shape, paddings, name=None):  # noqa: A002
    from ._tf_more import space_to_batch_nd
    return space_to_batch_nd(input, block_shape, paddings)


# -- grayscale morphology --------------------------------------------------------------------------

def _morph(op, x, filters, strides, rates, padding, sign):
    """out[b, i, j, c] = max over (di, dj) of x[b, i s + di r, j s + dj r, c] + f[di, dj, c]
    (erosion: the min of x - f, mirrored); gradient to each maximum's input and filter cell."""
    t = ops.cast(ops._to_tensor(x), "float32")
    f = _filters(op, filters, 3)
    if t.ndim != 4 or int(f.shape[2]) != int(t.shape[3]):
        raise ValueError(f"tf.nn.{op}: needs input (N, H, W, C) and filters (KH, KW, C), got {tuple(t.shape)} and "
                         f"{tuple(f.shape)}")
    s = _tf_ints(op, "strides", strides, 2, "NHWC")
    r = _tf_ints(op, "dilations", rates, 2, "NHWC")
    a, w = np.asarray(t, np.float64) * sign, np.asarray(f, np.float64)
    if sign < 0:
        w = w[::-1, ::-1]
    n, h, wd, c = a.shape
    kh, kw = (w.shape[0] - 1) * r[0] + 1, (w.shape[1] - 1) * r[1] + 1
    if str(padding).upper() == "SAME":
        oh, ow = -(-h // s[0]), -(-wd // s[1])
        ph, pw = max((oh - 1) * s[0] + kh - h, 0) // 2, max((ow - 1) * s[1] + kw - wd, 0) // 2
    elif str(padding).upper() == "VALID":
        oh, ow = (h - kh) // s[0] + 1, (wd - kw) // s[1] + 1
        ph = pw = 0
    else:
        raise ValueError(f"tf.nn.{op}: padding must be 'SAME' or 'VALID', got {padding!r}")
    if oh < 1 or ow < 1:
        raise ValueError(f"tf.nn.{op}: the filter does not fit the input {tuple(t.shape)}")
    best = np.full((n, oh, ow, c), -np.inf)
    src = np.zeros((n, oh, ow, c), np.int64)        # flat index into x
    fsrc = np.zeros((n, oh, ow, c), np.int64)       # flat index into the (unmirrored) filter
    ii, jj = np.arange(oh) * s[0] - ph, np.arange(ow) * s[1] - pw
    for di in range(w.shape[0]):
        for dj in range(w.shape[1]):
            yi, xj = ii + di * r[0], jj + dj * r[1]
            ok = ((yi >= 0) & (yi < h))[:, None] & ((xj >= 0) & (xj < wd))[None, :]
            yc, xc = np.clip(yi, 0, h - 1), np.clip(xj, 0, wd - 1)
            val = a[:, yc][:, :, xc] + w[di, dj][None, None, None, :]
            val = np.where(ok[None, :, :, None], val, -np.inf)
            take = val > best
            best = np.where(take, val, best)
            xi = ((np.arange(n)[:, None, None, None] * h + yc[None, :, None, None]) * wd
                  + xc[None, None, :, None]) * c + np.arange(c)
            src = np.where(take, xi, src)
            fi, fj = (w.shape[0] - 1 - di, w.shape[1] - 1 - dj) if sign < 0 else (di, dj)
            fsrc = np.where(take, (fi * w.shape[1] + fj) * c + np.arange(c), fsrc)
    y = ops._t(best * sign)

    def rule(dys):
        g = np.asarray(dys[0], np.float64).reshape(-1)
        dx = np.bincount(src.reshape(-1), weights=g, minlength=a.size).reshape(a.shape)
        df = np.bincount(fsrc.reshape(-1), weights=g * sign, minlength=w.size).reshape(w.shape)
        return [ops._t(dx), ops._t(df)]
    ops._record(rule, [t, f], [y])
    return y


def dilation2d(input, filters, strides, padding, data_format="NHWC", dilations=None, name=None):  # noqa: A002
    """Grayscale dilation: the max over the window of input + filters (filters (KH, KW, C))."""
    if data_format != "NHWC":
        raise ValueError(f"tf.nn.dilation2d: data_format must be 'NHWC', got {data_format!r}")
    return _morph("dilation2d", input, filters, strides, 1 if dilations is None else dilations, padding, 1.0)


def erosion2d(value, filters, strides, padding, data_format="NHWC", dilations=None, name=None):
    """Grayscale erosion: the min over the window of value - mirrored filters."""
    if data_format != "NHWC":
        raise ValueError(f"tf.nn.erosion2d: data_format must be 'NHWC', got {data_format!r}")
    return _morph("erosion2d", value, filters, strides, 1 if dilations is None else dilations, padding, -1.0)


def approx_max_k(operand, k, reduction_dimension=-1, recall_target=0.95, reduction_input_size_override=-1,
                 aggregate_to_topk=True, name=None):
    from .math import approx_max_k as _f
    return _f(operand, k, reduction_dimension)


def approx_min_k(operand, k, reduction_dimension=-1, recall_target=0.95, reduction_input_size_override=-1,
                 aggregate_to_topk=True, name=None):
    from .math import approx_min_k as _f
    return _f(operand, k, reduction_dimension)
