"""MultiHeadAttention (Keras 3 semantics and weight layout).

Shape legend: N batch, Tq query steps, Tv value/key steps, Dq / Dv / Dk feature sizes of query,
value, key, H heads, K key_dim, V value_dim, Do output features (output_shape, default Dq).
Weights (Keras 3 order and shapes; names as Keras' EinsumDense sublayers):
    query/kernel (Dq, H, K)  query/bias (H, K)       key/kernel (Dk, H, K)   key/bias (H, K)
    value/kernel (Dv, H, V)  value/bias (H, V)       attention_output/kernel (H, V, Do)
    attention_output/bias (Do,)
Math:
    q = query Wq + bq,  k = key Wk + bk,  v = value Wv + bv      GEMMs over N*T rows (H*K columns)
    scores[n,h,i,j] = q[n,i,h] . k[n,j,h]                         batched GEMM per (n, h)
    P = masked_softmax(scores / sqrt(K))                         one fused kernel: the scale, the
        attention_mask / query and key padding masks / causal mask, then dropout on P (training)
    ctx[n,i,h] = sum_j P[n,h,i,j] v[n,j,h]                        batched GEMM
    out = ctx Wo + bo                                            GEMM (H*V -> Do)
Backward is the same products transposed (csrc/ops/attention.h gives the softmax's); when key is
omitted (key = value) both of value's gradients are summed into one buffer; when the same tensor is
query and value (self-attention) the graph / tape sums the two input gradients it returns.
"""
from __future__ import annotations

import math

import numpy as np

from .. import initializers, kernels, regularizers
from .base import Layer, shape_str

__all__ = ["MultiHeadAttention"]

_QKV = (0, 2, 1, 3)   # (N, T, H, K) <-> (N, H, T, K); the permutation is its own inverse


def _rows(t, cols):
    return t.reshape([-1, cols])


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al., "Attention is all you need", 2017), as keras.layers.

    Args (Keras 3): num_heads, key_dim, value_dim (default key_dim), dropout (on the attention
    probabilities, training only), use_bias, output_shape (an int or a 1-tuple: the output's last
    dimension; default the query's), attention_axes (None only: attention over the steps axis),
    kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, seed.
    Call: ``mha(query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
    attention_mask=None, return_attention_scores=False, training=None, use_causal_mask=False)``; query (N, Tq, Dq), value (N, Tv, Dv), key (N, Tv, Dk),
    attention_mask (N, Tq, Tv) (nonzero / True = attend). Padding masks of query / value / key
    (Embedding(mask_zero=True), Masking) are combined into the attention mask, as Keras does; the
    output carries the query's mask. With return_attention_scores the call returns
    [output, scores] (scores (N, H, Tq, Tv), before dropout). In a graph model the call options
    (which inputs are given, use_causal_mask, return_attention_scores) are those of the layer's
    first symbolic call; a second call with other options raises.
    """

    supports_masking = True
    consumes_mask = True

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 seed=None, flash_attention=None, **kwargs):
        super().__init__(**kwargs)
        kind = f"MultiHeadAttention '{self.name}'"
        for arg, v in (("num_heads", num_heads), ("key_dim", key_dim)) + \
                (() if value_dim is None else (("value_dim", value_dim),)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"{kind}: {arg} must be a positive integer, got {v!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"{kind}: dropout must be in [0, 1), got {dropout!r}")
        if attention_axes is not None:
            axes = (attention_axes,) if isinstance(attention_axes, int) else tuple(attention_axes)
            if axes not in ((1,), (-2,)):
                raise NotImplementedError(f"{kind}: attention_axes={attention_axes!r} is not supported; "
                                          "attention runs over the steps axis (None, 1 or -2)")
        for arg, v in (("activity_regularizer", activity_regularizer),
                       ("kernel_constraint", kernel_constraint), ("bias_constraint", bias_constraint)):
            if v is not None:
                raise NotImplementedError(f"{kind}: {arg} is not supported")
        if output_shape is not None:
            dims = (output_shape,) if isinstance(output_shape, (int, np.integer)) else tuple(output_shape)
            if len(dims) != 1 or isinstance(dims[0], bool) or not isinstance(dims[0], (int, np.integer)) \
                    or dims[0] <= 0:
                raise ValueError(f"{kind}: output_shape must be a positive int or a 1-tuple of one, "
                                 f"got {output_shape!r}")
            output_shape = int(dims[0])
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.value_dim = int(value_dim) if value_dim is not None else self.key_dim
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        self._output_dim = output_shape
        self.attention_axes = attention_axes
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)
        # (key given, attention_mask given, use_causal_mask, return_attention_scores)
        self._options = None

    # -- calling -----------------------------------------------------------------------------

    def __call__(self, query, value=None, key=None, query_mask=None, value_mask=None, key_mask=None,
                 attention_mask=None, return_attention_scores=False, training=None,
                 use_causal_mask=False, mask=None, **kwargs):
        if isinstance(query, (list, tuple)) and value is None:
            # mha([query, value(, key)(, attention_mask)]): a model file rebuilding the call, which
            # keeps the options in the config (_call_options)
            items = list(query)
            opts = self._options or (len(items) > 2, False, False, False)
            query, value = items[0], items[1] if len(items) > 1 else None
            rest = items[2:]
            if opts[0] and rest:
                key = rest.pop(0)
            if opts[1] and rest:
                attention_mask = rest.pop(0)
            use_causal_mask = use_causal_mask or opts[2]
            return_attention_scores = return_attention_scores or opts[3]
        if value is None:
            raise TypeError(f"MultiHeadAttention '{self.name}': call it as mha(query, value, key=None, "
                            "attention_mask=None, ...); value is required")
        options = (key is not None, attention_mask is not None, bool(use_causal_mask),
                   bool(return_attention_scores))
        from ..models.graph import is_symbolic
        inputs = [query, value] + ([key] if key is not None else []) + \
                 ([attention_mask] if attention_mask is not None else [])
        if is_symbolic(inputs):
            if self._options is not None and self._options != options:
                raise ValueError(f"MultiHeadAttention '{self.name}': every call in a model must pass the "
                                 f"same inputs and options as its first (key, attention_mask, "
                                 f"use_causal_mask, return_attention_scores): {self._options} vs {options}")
        if mask is not None:  # Keras' per-input masks [query_mask, value_mask(, key_mask)]
            mask = list(mask) if isinstance(mask, (list, tuple)) else [mask]
        if query_mask is not None or value_mask is not None or key_mask is not None:
            if mask is not None:
                raise TypeError(f"MultiHeadAttention '{self.name}': pass query_mask / value_mask / "
                                "key_mask or mask=, not both")
            mask = [query_mask, value_mask] + ([key_mask] if key is not None else [])
        self._options = options
        return super().__call__(inputs, training=training, mask=mask, **kwargs)

    def _split(self, xs):
        has_key, has_mask = self._options[0], self._options[1]
        query, value = xs[0], xs[1]
        key = xs[2] if has_key else None
        am = xs[2 + has_key] if has_mask else None
        return query, value, key, am

    # -- weights ---------------------------------------------------------------------------

    def build(self, input_shape):
        shapes = list(input_shape) if isinstance(input_shape, list) else [input_shape]
        if self._options is None:
            self._options = (len(shapes) > 2, False, False, False)
        q, v, k, _ = self._split(shapes)
        k = v if k is None else k
        for what, s in (("query", q), ("value", v), ("key", k)):
            if len(s) != 3 or s[-1] is None:
                raise ValueError(f"MultiHeadAttention '{self.name}': {what} must have shape (batch, steps, "
                                 f"features) with known features, got {shape_str(s)}")
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        do = self._output_dim or q[-1]
        reg_k, reg_b = self.kernel_regularizer, self.bias_regularizer
        self.query_kernel = self.add_weight("query/kernel", (q[-1], h, kd), self.kernel_initializer, reg_k)
        self.query_bias = self.add_weight("query/bias", (h, kd), self.bias_initializer, reg_b) if self.use_bias else None
        self.key_kernel = self.add_weight("key/kernel", (k[-1], h, kd), self.kernel_initializer, reg_k)
        self.key_bias = self.add_weight("key/bias", (h, kd), self.bias_initializer, reg_b) if self.use_bias else None
        self.value_kernel = self.add_weight("value/kernel", (v[-1], h, vd), self.kernel_initializer, reg_k)
        self.value_bias = self.add_weight("value/bias", (h, vd), self.bias_initializer, reg_b) if self.use_bias else None
        self.output_kernel = self.add_weight("attention_output/kernel", (h, vd, do), self.kernel_initializer, reg_k)
        self.output_bias = self.add_weight("attention_output/bias", (do,), self.bias_initializer, reg_b) \
            if self.use_bias else None
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        shapes = list(input_shape) if isinstance(input_shape, list) else [input_shape]
        if self._options is None:
            self._options = (len(shapes) > 2, False, False, False)
        need = 2 + self._options[0] + self._options[1]
        if len(shapes) != need:
            raise ValueError(f"MultiHeadAttention '{self.name}': expected {need} inputs (query, value"
                             f"{', key' if self._options[0] else ''}"
                             f"{', attention_mask' if self._options[1] else ''}), got {len(shapes)}")
        q, v, k, am = self._split(shapes)
        k = v if k is None else k
        if len(q) != 3 or len(v) != 3 or len(k) != 3:
            raise ValueError(f"MultiHeadAttention '{self.name}': query, value and key must be 3-D (batch, "
                             f"steps, features), got {', '.join(shape_str(s) for s in (q, v, k))}")
        if self.built:
            for what, s, w in (("query", q, self.query_kernel), ("value", v, self.value_kernel),
                               ("key", k, self.key_kernel)):
                if s[-1] is not None and s[-1] != w.shape[0]:
                    raise ValueError(f"MultiHeadAttention '{self.name}': {what} has {s[-1]} features, the "
                                     f"layer was built for {w.shape[0]} ({what} {shape_str(s)})")
        if k[1] is not None and v[1] is not None and k[1] != v[1]:
            raise ValueError(f"MultiHeadAttention '{self.name}': key and value must have the same number "
                             f"of steps, got key {shape_str(k)} and value {shape_str(v)}")
        if am is not None:
            want = (q[1], v[1])
            if len(am) != 3 or any(a is not None and w is not None and a != w for a, w in zip(am[1:], want)):
                raise ValueError(f"MultiHeadAttention '{self.name}': attention_mask must have shape (batch, "
                                 f"{q[1]}, {v[1]}) (batch, query steps, value steps), got {shape_str(am)}")
        do = self._output_dim or q[-1]
        out = (q[0], q[1], do)
        if self._options[3]:
            return [out, (q[0], self.num_heads, q[1], v[1])]
        return out

    def compute_mask(self, inputs, mask=None):
        """The output's mask: the query's (Keras)."""
        if mask is None:
            return None
        return mask[0] if isinstance(mask, (list, tuple)) else mask

    # -- forward / backward ------------------------------------------------------------------

    def _next_seed(self):
        if self._rng is not None:
            return int(self._rng.integers(0, 2**63, dtype=np.int64))
        from ..utils.random import next_seed
        return int(next_seed())

    def _project(self, x, w, b, cols, name):
        """x (N, T, D) -> (N, H, T, cols) through x W + b."""
        n, t, d = x.shape
        h = self.num_heads
        y = self._buffer(name, (n, t, h, cols))
        kernels.gemm(_rows(x, d), w.reshape([d, h * cols]), _rows(y, h * cols),
                     bias=None if b is None else b.reshape([h * cols]))
        return kernels.transpose(y, _QKV, out=self._buffer(name + "_h", (n, h, t, cols)))

    def forward(self, xs, training=False):
        query, value, key, am = self._split(xs)
        has_key = key is not None
        key = value if key is None else key
        n, tq, _ = query.shape
        tv = value.shape[1]
        if key.shape[1] != tv or key.shape[0] != n or value.shape[0] != n:
            raise ValueError(f"MultiHeadAttention '{self.name}': query {tuple(query.shape)}, value "
                             f"{tuple(value.shape)} and key {tuple(key.shape)} must share the batch size, "
                             "and key and value their steps")
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        masks = self.__dict__.get("_call_mask") or []
        masks = list(masks) + [None] * 3
        qm, vm, km = masks[0], masks[1], masks[2] if has_key else masks[1]
        key_mask = vm if km is None else (km if vm is None else
                                          kernels.binary_forward("multiply", vm, km))
        qh = self._project(query, self.query_kernel, self.query_bias, kd, "q")
        kh = self._project(key, self.key_kernel, self.key_bias, kd, "k")
        vh = self._project(value, self.value_kernel, self.value_bias, vd, "v")
        probs = kernels.batched_matmul(qh, kh, trans_b=True, out=self._buffer("probs", (n, h, tq, tv)))
        rate = self.dropout if training else 0.0
        self._scale = 1.0 / math.sqrt(kd)
        self._rate = rate
        probs, dropped = kernels.masked_softmax_forward(
            probs, attention_mask=am, query_mask=qm, key_mask=key_mask, causal=self._options[2],
            scale=self._scale, dropout_rate=rate, seed=self._next_seed() if rate > 0 else 0,
            out=probs, dropped=self._buffer("dropped", (n, h, tq, tv)) if rate > 0 else None)
        ctx_h = kernels.batched_matmul(dropped if rate > 0 else probs, vh,
                                       out=self._buffer("ctx_h", (n, h, tq, vd)))
        ctx = kernels.transpose(ctx_h, _QKV, out=self._buffer("ctx", (n, tq, h, vd)))
        do = self.output_kernel.shape[-1]
        y = self._buffer("y", (n, tq, do))
        kernels.gemm(_rows(ctx, h * vd), self.output_kernel.reshape([h * vd, do]), _rows(y, do),
                     bias=self.output_bias)
        self._saved = (query, value, key if has_key else None, qh, kh, vh, probs, dropped, ctx)
        if self._options[3]:
            return [y, probs]
        return y

    def _input_grads(self, x, dh, w_name, b_name, w, cols, name, acc=None):
        """From d(N, H, T, cols): the weight grads of one projection and (if wanted) dx; ``acc``:
        a dx buffer to add into (key = value)."""
        n, hh, t, _ = dh.shape
        d = x.shape[-1]
        dflat = kernels.transpose(dh, _QKV, out=self._buffer("d" + name, (n, t, hh, cols)))
        d2 = _rows(dflat, hh * cols)
        if self.trainable:
            kernels.gemm(_rows(x, d), d2, self._grad_of(w_name).reshape([d, hh * cols]), trans_a=True)
            if self.use_bias:
                kernels.bias_grad(d2, out=self._grad_of(b_name).reshape([hh * cols]))
        if not self.needs_input_grad:
            return None
        if acc is not None:
            kernels.gemm(d2, w.reshape([d, hh * cols]), _rows(acc, d), trans_b=True, beta=1.0)
            return acc
        dx = self._buffer("dx_" + name, x.shape)
        kernels.gemm(d2, w.reshape([d, hh * cols]), _rows(dx, d), trans_b=True)
        return dx

    def backward(self, dy):
        if isinstance(dy, list):  # [d output, d scores]: the scores are not differentiated
            dy = dy[0]
        query, value, key, qh, kh, vh, probs, dropped, ctx = self._saved
        n, h, tq, tv = probs.shape
        kd, vd = self.key_dim, self.value_dim
        do = self.output_kernel.shape[-1]
        dy2 = _rows(dy, do)
        if self.trainable:
            kernels.gemm(_rows(ctx, h * vd), dy2, self._grad_of("attention_output/kernel").reshape([h * vd, do]),
                         trans_a=True)
            if self.use_bias:
                kernels.bias_grad(dy2, out=self._grad_of("attention_output/bias"))
        dctx = self._buffer("dctx", (n, tq, h, vd))
        kernels.gemm(dy2, self.output_kernel.reshape([h * vd, do]), _rows(dctx, h * vd), trans_b=True)
        dctx_h = kernels.transpose(dctx, _QKV, out=self._buffer("dctx_h", (n, h, tq, vd)))
        used = dropped if self._rate > 0 else probs
        dvh = kernels.batched_matmul(used, dctx_h, trans_a=True, out=self._buffer("dvh", (n, h, tv, vd)))
        dp = kernels.batched_matmul(dctx_h, vh, trans_b=True, out=self._buffer("dp", (n, h, tq, tv)))
        ds = kernels.masked_softmax_backward(probs, dp, scale=self._scale, dropout_rate=self._rate,
                                             dropped=dropped, out=dp)
        dqh = kernels.batched_matmul(ds, kh, out=self._buffer("dqh", (n, h, tq, kd)))
        dkh = kernels.batched_matmul(ds, qh, trans_a=True, out=self._buffer("dkh", (n, h, tv, kd)))
        dq = self._input_grads(query, dqh, "query/kernel", "query/bias", self.query_kernel, kd, "q")
        dv = self._input_grads(value, dvh, "value/kernel", "value/bias", self.value_kernel, vd, "v")
        if key is None:
            dk = self._input_grads(value, dkh, "key/kernel", "key/bias", self.key_kernel, kd, "k", acc=dv)
        else:
            dk = self._input_grads(key, dkh, "key/kernel", "key/bias", self.key_kernel, kd, "k")
        if not self.needs_input_grad:
            return None
        grads = [dq, dv] + ([dk] if key is not None else [])
        if self._options[1]:
            grads.append(None)  # the attention mask
        return grads

    # -- config ----------------------------------------------------------------------------

    def flops(self, input_shape):
        shapes = list(input_shape) if isinstance(input_shape, list) else [input_shape]
        q, v, k, _ = self._split(shapes)
        k = v if k is None else k
        tq, tv = q[1] or 1, v[1] or 1
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        do = self._output_dim or q[-1]
        proj = 2 * h * (tq * q[-1] * kd + tv * k[-1] * kd + tv * v[-1] * vd + tq * vd * do)
        return proj + 2 * h * tq * tv * (kd + vd) + 5 * h * tq * tv

    def get_config(self):
        cfg = super().get_config()
        cfg.update(num_heads=self.num_heads, key_dim=self.key_dim, value_dim=self.value_dim,
                   dropout=self.dropout, use_bias=self.use_bias,
                   output_shape=None if self._output_dim is None else (self._output_dim,),
                   attention_axes=self.attention_axes,
                   kernel_initializer=initializers.serialize(self.kernel_initializer),
                   bias_initializer=initializers.serialize(self.bias_initializer),
                   kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
                   bias_regularizer=regularizers.serialize(self.bias_regularizer),
                   activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                   seed=self.seed)
        if self._options is not None and any(self._options[1:]):
            # not a Keras argument: how a graph model calls it (attention_mask given, causal, scores)
            cfg["_call_options"] = list(self._options)
        return cfg

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        options = config.pop("_call_options", None)
        layer = cls(**config)
        if options is not None:
            layer._options = tuple(bool(o) for o in options)
        return layer
