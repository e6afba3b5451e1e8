"""More of ``tf.nn`` (continued from ``_nn_more``): the sampled losses (nce_loss,
sampled_softmax_loss) and candidate-sampler aliases, sufficient statistics, embeddings of sparse
ids, isotonic regression, depthwise backprop entry points, fractional pooling. Differentiable
where TensorFlow's are."""
from __future__ import annotations

import numpy as np

from . import ops
from .nn import _filters, _tf_ints, _tf_padding

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
    w = ops.concatenate([ops._to_tensor(p) for p in weights], axis=0) \
        if isinstance(weights, (list, tuple)) else ops._to_tensor(weights)
    b = ops._to_tensor(biases)
    x = ops.cast(ops._to_tensor(inputs), "float32")
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

__all__ = ["compute_accidental_hits", "nce_loss", "sampled_softmax_loss", "uniform_candidate_sampler",
            "fixed_unigram_candidate_sampler", "learned_unigram_candidate_sampler", "all_candidate_sampler",
            "log_uniform_candidate_sampler"]


# -- statistics, embeddings of sparse ids, isotonic regression, backprop entry points ------------------

__all__ += ["sufficient_statistics", "batch_norm_with_global_normalization", "atrous_conv2d_transpose",
            "depthwise_conv2d_backprop_input", "depthwise_conv2d_backprop_filter", "embedding_lookup_sparse",
            "safe_embedding_lookup_sparse", "isotonic_regression", "ctc_unique_labels"]


def sufficient_statistics(x, axes, shift=None, keepdims=False, name=None):
    """(count, sum(x - shift), sum((x - shift)^2), shift) over axes (normalize_moments' inputs)."""
    from ._tf_api import _axis
    t = ops.cast(ops._to_tensor(x), "float32")
    ax = _axis(axes)
    axs = [a % t.ndim for a in (ax if isinstance(ax, (list, tuple)) else [ax])]
    count = float(np.prod([int(t.shape[a]) for a in axs]))
    d = t if shift is None else ops.subtract(t, shift)
    m = ops.sum(d, axis=ax, keepdims=keepdims)
    v = ops.sum(ops.square(d), axis=ax, keepdims=keepdims)
    return ops._to_tensor(np.float32(count)), m, v, shift


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
    dy = ops.cast(ops._to_tensor(out_backprop), "float32")
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
    x = ops.cast(ops._to_tensor(input), "float32")
    dy = ops.cast(ops._to_tensor(out_backprop), "float32")
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
    p = ops._to_tensor(params) if not isinstance(params, (list, tuple)) else \
        ops.concatenate([ops._to_tensor(q) for q in params], axis=0)
    ids = np.asarray(sp_ids.values).astype(np.int64)
    rows = sp_ids.indices[:, 0].astype(np.int64)
    n = sp_ids.shape[0]
    emb = gather(p, ids)
    if max_norm is not None:
        norms = ops.sqrt(ops.sum(ops.square(emb), axis=-1, keepdims=True))
        emb = ops.multiply(emb, ops.minimum(1.0, ops.divide(float(max_norm), ops.maximum(norms, 1e-12))))
    if sp_weights is None:
        w = ops._to_tensor(np.ones(ids.size, np.float32))
    else:
        w = sp_weights.values if isinstance(sp_weights, SparseTensor) else sp_weights
        w = ops.cast(ops._to_tensor(w), "float32")
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
        p = ops._to_tensor(embedding_weights) if not isinstance(embedding_weights, (list, tuple)) else \
            ops.concatenate([ops._to_tensor(q) for q in embedding_weights], axis=0)
        fill = ops.zeros((sp.shape[0], int(p.shape[1]))) if default_id is None else \
            ops.multiply(ops.ones((sp.shape[0], 1)), ops.take(p, np.array([int(default_id)], np.int64), axis=0))
        out = ops.where(np.broadcast_to(empty[:, None], tuple(out.shape)), fill, out)
    return out


def isotonic_regression(inputs, decreasing=True, axis=-1, name=None):
    """(output, segments): the least-squares fit of each vector along ``axis`` that is
    non-increasing (decreasing=True) or non-decreasing, by pool-adjacent-violators; segments
    numbers each entry's pooled block. Differentiable: the gradient averages dy over each block."""
    t = ops.cast(ops._to_tensor(inputs), "float32")
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
    t = ops.cast(ops._to_tensor(value), "float32")
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


__all__ += ["with_space_to_batch"]


def with_space_to_batch(input, dilation_rate, padding, op, filter_shape=None, spatial_dims=None,  # noqa: A002
                        data_format=None):
    """``op(converted, num_spatial_dims, "VALID")`` run on the input rearranged by
    space_to_batch_nd with block ``dilation_rate`` (padded for 'SAME' from ``filter_shape``, and
    to a multiple of the block), then batch_to_space_nd back: a dilated operation written with
    an undilated ``op``, as TensorFlow. Spatial axes 1..N (channels last)."""
    from ._tf_more import batch_to_space, space_to_batch_nd
    from ._tf_small import required_space_to_batch_paddings
    rate = np.asarray(dilation_rate, np.int64).reshape(-1)
    n = rate.size
    if spatial_dims is not None and list(np.asarray(spatial_dims).reshape(-1)) != list(range(1, n + 1)):
        raise ValueError("tf.nn.with_space_to_batch: only spatial_dims 1..N (channels last) are supported")
    if data_format not in (None, "NWC", "NHWC", "NDHWC"):
        raise ValueError(f"tf.nn.with_space_to_batch: data_format must be channels last, got {data_format!r}")
    x = ops._to_tensor(input)
    pad = str(padding).upper()
    if pad == "SAME":
        if filter_shape is None:
            raise ValueError("tf.nn.with_space_to_batch: padding 'SAME' needs filter_shape")
        total = (np.asarray(filter_shape, np.int64).reshape(-1)[:n] - 1) * rate
        base = np.stack([total // 2, total - total // 2], axis=1)
    elif pad == "VALID":
        base = np.zeros((n, 2), np.int64)
    else:
        raise ValueError(f"tf.nn.with_space_to_batch: padding must be 'SAME' or 'VALID', got {padding!r}")
    if (rate == 1).all():
        return op(x, n, pad)
    paddings, crops = required_space_to_batch_paddings([int(d) for d in x.shape[1:n + 1]], rate, base)
    y = op(space_to_batch_nd(x, rate, np.asarray(paddings)), n, "VALID")
    return batch_to_space(y, rate, np.asarray(crops))
