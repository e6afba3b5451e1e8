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
    x = ops.convert_to_tensor(input)
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
    a = np.asarray(ops.convert_to_tensor(input), np.float64)
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
    t = ops.cast(ops.convert_to_tensor(x), "float32")
    w = ops.multiply(ops.ones_like(t), ops.cast(ops.convert_to_tensor(frequency_weights), "float32"))
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
    t = ops.cast(ops.convert_to_tensor(logits), "float32")
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
    x = ops.convert_to_tensor(inputs)
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
    x = ops.convert_to_tensor(inputs)
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
    t = ops.cast(ops.convert_to_tensor(x), "float32")
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


# -- sampled losses (word2vec, large vocabularies) ----------------------------------------------------

def compute_accidental_hits(true_classes, sampled_candidates, num_true, seed=None, name=None):
    """(indices, ids, weights): for each sampled candidate equal to one of a row's true classes,
    the row, the candidate's position and -FLT_MAX (the logit adjustment that removes it)."""
    true = np.asarray(true_classes).astype(np.int64)
    sampled = np.asarray(sampled_candidates).astype(np.int64).reshape(-1)
    rows, ids = np.nonzero((true[:, :, None] == sampled[None, None, :]).any(axis=1))
    from ._tf_api import constant
    return (constant(rows.astype(np.int32)), constant(ids.astype(np.int64), dtype="int64"),
            constant(np.full(rows.size, np.finfo(np.float32).min, np.float32)))


def _sampled_logits(op, weights, biases, labels, inputs, num_sampled, num_classes, num_true, sampled_values,
                    subtract_log_q, remove_accidental_hits, seed=None):
    """(logits (batch, num_true + num_sampled), labels of the same shape) as TensorFlow builds
    them: the true classes' and the sampled classes' logits, minus log(expected count)."""
    from . import random as _random
    from ._tf_api import gather
    w = ops.concatenate([ops.convert_to_tensor(p) for p in weights], axis=0) \
        if isinstance(weights, (list, tuple)) else ops.convert_to_tensor(weights)
    b = ops.convert_to_tensor(biases)
    x = ops.cast(ops.convert_to_tensor(inputs), "float32")
    lab = np.asarray(labels).astype(np.int64).reshape(-1, int(num_true))
    if x.ndim != 2 or int(x.shape[0]) != lab.shape[0] or int(w.shape[1]) != int(x.shape[1]):
        raise ValueError(f"tf.nn.{op}: needs inputs (batch, dim), weights (num_classes, dim) and labels (batch, "
                         f"num_true), got {tuple(x.shape)}, {tuple(w.shape)}, {np.shape(labels)}")
    if sampled_values is None:
        sampled_values = _random.log_uniform_candidate_sampler(lab, int(num_true), int(num_sampled), True,
                                                                int(num_classes), seed=seed)
    sampled, true_expected, sampled_expected = sampled_values
    sampled = np.asarray(sampled).astype(np.int64).reshape(-1)
    batch, dim = lab.shape[0], int(x.shape[1])
    true_w = ops.reshape(gather(w, lab.reshape(-1)), [batch, int(num_true), dim])
    true_logits = ops.add(ops.sum(ops.multiply(ops.expand_dims(x, 1), true_w), axis=-1),
                          ops.reshape(gather(b, lab.reshape(-1)), [batch, int(num_true)]))
    sampled_logits = ops.add(ops.matmul(x, ops.transpose(gather(w, sampled))), gather(b, sampled))
    if remove_accidental_hits:
        hit = (lab[:, :, None] == sampled[None, None, :]).any(axis=1)
        sampled_logits = ops.add(sampled_logits, np.where(hit, np.finfo(np.float32).min, 0.0).astype(np.float32))
    if subtract_log_q:
        true_logits = ops.subtract(true_logits, np.log(np.asarray(true_expected, np.float64)).astype(np.float32))
        sampled_logits = ops.subtract(sampled_logits,
                                      np.log(np.asarray(sampled_expected, np.float64)).astype(np.float32))
    logits = ops.concatenate([true_logits, sampled_logits], axis=1)
    targets = np.concatenate([np.full((batch, int(num_true)), 1.0 / int(num_true)),
                              np.zeros((batch, sampled.size))], axis=1).astype(np.float32)
    return logits, targets


def nce_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1, sampled_values=None,
             remove_accidental_hits=False, name="nce_loss"):
    """Noise-contrastive estimation loss (batch,): the sigmoid cross-entropy of the true classes
    (target 1 / num_true) and ``num_sampled`` negative classes (target 0), on logits
    w_c . x + b_c - log(expected count of c). Differentiable in weights, biases and inputs."""
    from .nn import sigmoid_cross_entropy_with_logits
    logits, targets = _sampled_logits("nce_loss", weights, biases, labels, inputs, num_sampled, num_classes,
                                      num_true, sampled_values, True, remove_accidental_hits)
    return ops.sum(sigmoid_cross_entropy_with_logits(labels=targets, logits=logits), axis=1)


def sampled_softmax_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1, sampled_values=None,
                         remove_accidental_hits=True, seed=None, name="sampled_softmax_loss"):
    """The softmax cross-entropy (batch,) over the true classes and ``num_sampled`` sampled
    classes (log-uniform by default), logits corrected by log(expected count)."""
    from .nn import softmax_cross_entropy_with_logits
    logits, targets = _sampled_logits("sampled_softmax_loss", weights, biases, labels, inputs, num_sampled,
                                      num_classes, num_true, sampled_values, True, remove_accidental_hits, seed)
    return softmax_cross_entropy_with_logits(targets, logits)


def _sampler(name):
    def fn(*args, **kwargs):
        from . import random as _random
        return getattr(_random, name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    return fn


uniform_candidate_sampler = _sampler("uniform_candidate_sampler")
fixed_unigram_candidate_sampler = _sampler("fixed_unigram_candidate_sampler")
learned_unigram_candidate_sampler = _sampler("learned_unigram_candidate_sampler")
all_candidate_sampler = _sampler("all_candidate_sampler")
log_uniform_candidate_sampler = _sampler("log_uniform_candidate_sampler")

__all__ += ["compute_accidental_hits", "nce_loss", "sampled_softmax_loss", "uniform_candidate_sampler",
            "fixed_unigram_candidate_sampler", "learned_unigram_candidate_sampler", "all_candidate_sampler",
            "log_uniform_candidate_sampler"]


# -- statistics, embeddings of sparse ids, isotonic regression, backprop entry points ------------------

__all__ += ["sufficient_statistics", "batch_norm_with_global_normalization", "atrous_conv2d_transpose",
            "depthwise_conv2d_backprop_input", "depthwise_conv2d_backprop_filter", "embedding_lookup_sparse",
            "safe_embedding_lookup_sparse", "isotonic_regression", "ctc_unique_labels"]


def sufficient_statistics(x, axes, shift=None, keepdims=False, name=None):
    """(count, sum(x - shift), sum((x - shift)^2), shift) over axes (normalize_moments' inputs)."""
    from ._tf_api import _axis
    t = ops.cast(ops.convert_to_tensor(x), "float32")
    ax = _axis(axes)
    axs = [a % t.ndim for a in (ax if isinstance(ax, (list, tuple)) else [ax])]
    count = float(np.prod([int(t.shape[a]) for a in axs]))
    d = t if shift is None else ops.subtract(t, shift)
    m = ops.sum(d, axis=ax, keepdims=keepdims)
    v = ops.sum(ops.square(d), axis=ax, keepdims=keepdims)
    return ops.convert_to_tensor(np.float32(count)), m, v, shift


def batch_norm_with_global_normalization(t=None, m=None, v=None, beta=None, gamma=None, variance_epsilon=None,
                                         scale_after_normalization=None, name=None, input=None, mean=None,  # noqa: A002
                                         variance=None):
    """(t - m) / sqrt(v + eps) * (gamma if scale_after_normalization) + beta (the old op)."""
    t = input if t is None else t
    m = mean if m is None else m
    v = variance if v is None else v
    y = ops.multiply(ops.subtract(t, m), ops.rsqrt(ops.add(v, float(variance_epsilon))))
    if scale_after_normalization:
        y = ops.multiply(y, gamma)
    return ops.add(y, beta)


def atrous_conv2d_transpose(value, filters, output_shape, rate, padding, name=None):
    from .nn import conv2d_transpose
    return conv2d_transpose(value, filters, output_shape, 1, padding, dilations=int(rate))


def depthwise_conv2d_backprop_input(input_sizes, filter, out_backprop, strides, padding, data_format="NHWC",  # noqa: A002
                                    dilations=[1, 1, 1, 1], name=None):  # noqa: B006 - TensorFlow's default
    """The gradient of depthwise_conv2d with respect to its input (of shape input_sizes)."""
    from . import kernels
    if data_format != "NHWC":
        raise ValueError("tf.nn.depthwise_conv2d_backprop_input: data_format must be 'NHWC'")
    s = _tf_ints("depthwise_conv2d_backprop_input", "strides", strides, 2, "NHWC")
    d = _tf_ints("depthwise_conv2d_backprop_input", "dilations", dilations, 2, "NHWC")
    pad, pads = _tf_padding("depthwise_conv2d_backprop_input", padding, 2, "NHWC")
    if pads:
        raise ValueError("tf.nn.depthwise_conv2d_backprop_input: explicit padding is not supported")
    dy = ops.cast(ops.convert_to_tensor(out_backprop), "float32")
    w = _filters("depthwise_conv2d_backprop_input", filter, 4)
    return kernels.depthwise_conv2d_backward_data(dy, w, tuple(int(v) for v in np.asarray(input_sizes).reshape(-1)),
                                                  strides=s, padding=pad, dilation_rate=d)


def depthwise_conv2d_backprop_filter(input, filter_sizes, out_backprop, strides, padding, data_format="NHWC",  # noqa: A002
                                     dilations=[1, 1, 1, 1], name=None):  # noqa: B006
    """The gradient of depthwise_conv2d with respect to its filter (of shape filter_sizes)."""
    from . import kernels
    if data_format != "NHWC":
        raise ValueError("tf.nn.depthwise_conv2d_backprop_filter: data_format must be 'NHWC'")
    s = _tf_ints("depthwise_conv2d_backprop_filter", "strides", strides, 2, "NHWC")
    d = _tf_ints("depthwise_conv2d_backprop_filter", "dilations", dilations, 2, "NHWC")
    pad, pads = _tf_padding("depthwise_conv2d_backprop_filter", padding, 2, "NHWC")
    if pads:
        raise ValueError("tf.nn.depthwise_conv2d_backprop_filter: explicit padding is not supported")
    x = ops.cast(ops.convert_to_tensor(input), "float32")
    dy = ops.cast(ops.convert_to_tensor(out_backprop), "float32")
    return kernels.depthwise_conv2d_backward_weights(x, dy, tuple(int(v) for v in np.asarray(filter_sizes).reshape(-1)),
                                                     strides=s, padding=pad, dilation_rate=d)


def embedding_lookup_sparse(params, sp_ids, sp_weights, combiner="mean", max_norm=None, name=None,
                            allow_fast_lookup=False):
    """For each row of the SparseTensor sp_ids, the embeddings params[id] combined with the
    weights sp_weights (None: 1): 'sum', 'mean' (sum / sum of weights) or 'sqrtn' (sum /
    sqrt(sum of squared weights)). (rows, dim); differentiable in params (and Tensor weights)."""
    from ._tf_api import gather
    from .sparse import SparseTensor
    if combiner not in ("sum", "mean", "sqrtn"):
        raise ValueError(f"tf.nn.embedding_lookup_sparse: combiner must be 'sum', 'mean' or 'sqrtn', got {combiner!r}")
    if not isinstance(sp_ids, SparseTensor):
        raise TypeError("tf.nn.embedding_lookup_sparse: sp_ids must be a SparseTensor")
    p = ops.convert_to_tensor(params) if not isinstance(params, (list, tuple)) else \
        ops.concatenate([ops.convert_to_tensor(q) for q in params], axis=0)
    ids = np.asarray(sp_ids.values).astype(np.int64)
    rows = sp_ids.indices[:, 0].astype(np.int64)
    n = sp_ids.shape[0]
    emb = gather(p, ids)
    if max_norm is not None:
        norms = ops.sqrt(ops.sum(ops.square(emb), axis=-1, keepdims=True))
        emb = ops.multiply(emb, ops.minimum(1.0, ops.divide(float(max_norm), ops.maximum(norms, 1e-12))))
    if sp_weights is None:
        w = ops.convert_to_tensor(np.ones(ids.size, np.float32))
    else:
        w = sp_weights.values if isinstance(sp_weights, SparseTensor) else sp_weights
        w = ops.cast(ops.convert_to_tensor(w), "float32")
    total = ops.segment_sum(ops.multiply(emb, ops.expand_dims(w, -1)), rows, num_segments=n)
    if combiner == "sum":
        return total
    wn = np.asarray(w, np.float64)
    denom = np.zeros(n)
    np.add.at(denom, rows, wn if combiner == "mean" else wn * wn)
    if combiner == "sqrtn":
        denom = np.sqrt(denom)
    denom = np.where(denom == 0, 1.0, denom).astype(np.float32)
    return ops.divide(total, denom[:, None])


def safe_embedding_lookup_sparse(embedding_weights, sparse_ids, sparse_weights=None, combiner="mean",
                                 default_id=None, max_norm=None, name=None, allow_fast_lookup=False):
    """embedding_lookup_sparse that drops invalid ids (< 0) and gives empty rows
    embedding_weights[default_id] (or zeros). A 2-D sparse_ids; (rows, dim)."""
    from .sparse import SparseTensor
    ids = np.asarray(sparse_ids.values).astype(np.int64)
    keep = ids >= 0
    if sparse_weights is not None:
        wv = np.asarray(sparse_weights.values if isinstance(sparse_weights, SparseTensor) else sparse_weights)
        keep &= wv > 0
    sp = SparseTensor(sparse_ids.indices[keep], ids[keep], sparse_ids.dense_shape)
    sw = None if sparse_weights is None else SparseTensor(sparse_ids.indices[keep], wv[keep].astype(np.float32),
                                                          sparse_ids.dense_shape)
    out = embedding_lookup_sparse(embedding_weights, sp, sw, combiner=combiner, max_norm=max_norm)
    empty = np.ones(sp.shape[0], bool)
    empty[sp.indices[:, 0]] = False
    if empty.any():
        p = ops.convert_to_tensor(embedding_weights) if not isinstance(embedding_weights, (list, tuple)) else \
            ops.concatenate([ops.convert_to_tensor(q) for q in embedding_weights], axis=0)
        fill = ops.zeros((sp.shape[0], int(p.shape[1]))) if default_id is None else \
            ops.multiply(ops.ones((sp.shape[0], 1)), ops.take(p, np.array([int(default_id)], np.int64), axis=0))
        out = ops.where(np.broadcast_to(empty[:, None], tuple(out.shape)), fill, out)
    return out


def isotonic_regression(inputs, decreasing=True, axis=-1, name=None):
    """(output, segments): the least-squares fit of each vector along ``axis`` that is
    non-increasing (decreasing=True) or non-decreasing, by pool-adjacent-violators; segments
    numbers each entry's pooled block. Differentiable: the gradient averages dy over each block."""
    t = ops.cast(ops.convert_to_tensor(inputs), "float32")
    ax = int(axis) % t.ndim
    a = np.moveaxis(np.asarray(t, np.float64), ax, -1)
    flat = a.reshape(-1, a.shape[-1])
    out, seg = np.empty_like(flat), np.zeros(flat.shape, np.int32)
    for r, row in enumerate(flat):
        v = -row if decreasing else row
        blocks = []          # [sum, count]
        for x in v:
            blocks.append([x, 1])
            while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
                s, c = blocks.pop()
                blocks[-1][0] += s
                blocks[-1][1] += c
        pos = 0
        for b, (s, c) in enumerate(blocks):
            out[r, pos:pos + c] = s / c
            seg[r, pos:pos + c] = b
            pos += c
        if decreasing:
            out[r] = -out[r]
    y = ops._t(np.moveaxis(out.reshape(a.shape), -1, ax))

    def rule(dys):
        g = np.moveaxis(np.asarray(dys[0], np.float64), ax, -1).reshape(flat.shape)
        res = np.empty_like(g)
        for r in range(g.shape[0]):
            nb = int(seg[r].max()) + 1 if seg.shape[1] else 0
            sums = np.bincount(seg[r], weights=g[r], minlength=nb)
            counts = np.bincount(seg[r], minlength=nb)
            res[r] = (sums / np.maximum(counts, 1))[seg[r]]
        return [ops._t(np.moveaxis(res.reshape(a.shape), -1, ax))]
    ops._record(rule, [t], [y])
    from ._tf_api import constant
    return y, constant(np.ascontiguousarray(np.moveaxis(seg.reshape(a.shape), -1, ax)))


def ctc_unique_labels(labels, name=None):
    """(unique labels of each row in order of first appearance, padded with 0 to the row length;
    each label's index into its row's unique labels), as TensorFlow."""
    lab = np.asarray(labels).astype(np.int64)
    if lab.ndim != 2:
        raise ValueError(f"tf.nn.ctc_unique_labels: labels must be (batch, max_len), got shape {lab.shape}")
    uniq, idx = np.zeros_like(lab), np.zeros_like(lab)
    for b, row in enumerate(lab):
        seen = {}
        for i, v in enumerate(row.tolist()):
            if v not in seen:
                seen[v] = len(seen)
            idx[b, i] = seen[v]
        uniq[b, :len(seen)] = list(seen)
    from ._tf_api import constant
    return constant(uniq, dtype="int64"), constant(idx.astype(np.int32))


# -- fractional pooling (Graham, 2014) -----------------------------------------------------------------

__all__ += ["fractional_max_pool", "fractional_avg_pool"]


def _pooling_sequence(rng, n_in, ratio, pseudo_random):
    """Boundaries 0 = s_0 < ... < s_out = n_in of out = floor(n_in / ratio) regions: random
    interval lengths floor / ceil of alpha = n_in / out in random order, or (pseudo_random)
    s_i = ceil(alpha (i + u)) - ceil(alpha u) for one uniform u."""
    out = int(n_in // ratio)
    if out < 1:
        raise ValueError(f"tf.nn.fractional_*_pool: pooling_ratio {ratio} leaves no output for a size of {n_in}")
    alpha = n_in / out
    if pseudo_random:
        u = rng.random()
        s = np.ceil(alpha * (np.arange(out + 1) + u)) - np.ceil(alpha * u)
        s[-1] = n_in
        return s.astype(np.int64)
    small, big = int(np.floor(alpha)), int(np.ceil(alpha))
    n_big = n_in - small * out
    lengths = np.array([big] * n_big + [small] * (out - n_big))
    rng.shuffle(lengths)
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def _fractional_pool(kind, value, pooling_ratio, pseudo_random, overlapping, seed):
    t = ops.cast(ops.convert_to_tensor(value), "float32")
    if t.ndim != 4:
        raise ValueError(f"tf.nn.fractional_{kind}_pool: value must be (batch, height, width, channels), got "
                         f"{tuple(t.shape)}")
    r = np.asarray(pooling_ratio, np.float64).reshape(-1)
    r = np.array([1.0, r[0], r[0], 1.0]) if r.size == 1 else (np.array([1.0, r[0], r[1], 1.0]) if r.size == 2 else r)
    if r.size != 4 or r[0] != 1 or r[3] != 1 or (r[1:3] < 1).any():
        raise ValueError(f"tf.nn.fractional_{kind}_pool: pooling_ratio must be [1, >= 1, >= 1, 1], got "
                         f"{np.asarray(pooling_ratio).tolist()}")
    from .utils.random import get_generator
    rng = np.random.default_rng(int(seed)) if seed else get_generator()
    a = np.asarray(t, np.float64)
    n, h, w, c = a.shape
    rows = _pooling_sequence(rng, h, r[1], pseudo_random)
    cols = _pooling_sequence(rng, w, r[2], pseudo_random)
    oh, ow = rows.size - 1, cols.size - 1
    out = np.empty((n, oh, ow, c))
    src = np.zeros((n, oh, ow, c), np.int64)
    cells = {}
    for i in range(oh):
        r0, r1 = rows[i], min(rows[i + 1] + (1 if overlapping else 0), h)
        for j in range(ow):
            c0, c1 = cols[j], min(cols[j + 1] + (1 if overlapping else 0), w)
            win = a[:, r0:r1, c0:c1, :].reshape(n, -1, c)
            if kind == "max":
                k = win.argmax(axis=1)
                out[:, i, j] = np.take_along_axis(win, k[:, None, :], axis=1)[:, 0]
                yy, xx = r0 + k // (c1 - c0), c0 + k % (c1 - c0)
                src[:, i, j] = ((np.arange(n)[:, None] * h + yy) * w + xx) * c + np.arange(c)
            else:
                out[:, i, j] = win.mean(axis=1)
                cells[(i, j)] = (r0, r1, c0, c1)
    y = ops._t(out)

    def rule(dys):
        g = np.asarray(dys[0], np.float64)
        if kind == "max":
            dx = np.bincount(src.reshape(-1), weights=g.reshape(-1), minlength=a.size).reshape(a.shape)
        else:
            dx = np.zeros_like(a)
            for (i, j), (r0, r1, c0, c1) in cells.items():
                dx[:, r0:r1, c0:c1, :] += g[:, i, j][:, None, None, :] / ((r1 - r0) * (c1 - c0))
        return [ops._t(dx)]
    ops._record(rule, [t], [y])
    from ._tf_api import constant
    return y, constant(rows, dtype="int64"), constant(cols, dtype="int64")


def fractional_max_pool(value, pooling_ratio, pseudo_random=False, overlapping=False, seed=0, name=None):
    """(output, row_pooling_sequence, col_pooling_sequence): max pooling over regions whose
    boundaries are the sequences (random region sizes between floor and ceil of the ratio;
    overlapping: each region also takes its right / bottom boundary cell). The draws come from
    corenn's generator (or ``seed``), not TensorFlow's. Differentiable in value."""
    return _fractional_pool("max", value, pooling_ratio, pseudo_random, overlapping, seed)


def fractional_avg_pool(value, pooling_ratio, pseudo_random=False, overlapping=False, seed=0, name=None):
    """As fractional_max_pool with the mean of each region."""
    return _fractional_pool("avg", value, pooling_ratio, pseudo_random, overlapping, seed)
