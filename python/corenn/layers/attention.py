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

from .. import autodiff, constraints, initializers, kernels, regularizers
from .base import Layer, shape_str

__all__ = ["MultiHeadAttention", "GroupQueryAttention", "GroupedQueryAttention", "Attention", "AdditiveAttention"]

_QKV = (0, 2, 1, 3)   # (N, T, H, K) <-> (N, H, T, K); the permutation is its own inverse


def _rows(t, cols):
    return t.reshape([-1, cols])


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al., "Attention is all you need", 2017), as keras.layers.

    Args (Keras 3): num_heads, key_dim, value_dim (default key_dim), dropout (on the attention
    probabilities, training only), use_bias, output_shape (an int or a 1-tuple: the output's last
    dimension; default the query's), attention_axes (the axes attention runs over, jointly;
    None: every axis between the batch and the features; inputs of any rank >= 3),
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
    _fold = None   # build: how inputs of rank > 3 / attention_axes are viewed as rank 3 (_folding)

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
            axes = (attention_axes,) if isinstance(attention_axes, (int, np.integer)) else tuple(attention_axes)
            if not axes or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
                raise ValueError(f"{kind}: attention_axes must be None, an int or a tuple of ints, "
                                 f"got {attention_axes!r}")
            attention_axes = tuple(int(a) for a in axes)
        if activity_regularizer is not None:
            raise NotImplementedError(f"{kind}: activity_regularizer is not supported")
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
        # applied by the optimizer to the four projections' kernels / biases (Keras' EinsumDense)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)
        # (key given, attention_mask given, use_causal_mask, return_attention_scores)
        self._options = None

    def __init_subclass__(cls, **kwargs):
        # Keras' hook: a subclass overriding _compute_attention (the locality self-attention of
        # "ViT on small datasets") runs the attention written with keras.ops (_ops_call) through
        # Layer.forward / backward, the private tape, instead of the fused kernels
        if "_compute_attention" in cls.__dict__ and "call" not in cls.__dict__ \
                and "forward" not in cls.__dict__:
            cls.call = MultiHeadAttention._ops_call
        super().__init_subclass__(**kwargs)

    # -- Keras' private attributes that _compute_attention overrides read ----------------------
    # (the einsum equations are those Keras builds for (batch, steps, features) inputs)
    _dot_product_equation = "aecd,abcd->acbe"   # key (N, S, H, K), query (N, T, H, K) -> (N, H, T, S)
    _combine_equation = "acbe,aecd->abcd"       # scores (N, H, T, S), value (N, S, H, V) -> (N, T, H, V)

    @property
    def _num_heads(self):
        return self.num_heads

    @property
    def _key_dim(self):
        return self.key_dim

    @property
    def _value_dim(self):
        return self.value_dim

    @property
    def _inverse_sqrt_key_dim(self):
        return 1.0 / math.sqrt(float(self.key_dim))

    @property
    def _dropout_layer(self):
        layer = self.__dict__.get("_dropout_layer_obj")
        if layer is None:
            from .core import Dropout
            layer = self.__dict__["_dropout_layer_obj"] = Dropout(self.dropout, seed=self.seed,
                                                                  name=f"{self.name}_attention_dropout")
        return layer

    def _masked_softmax(self, attention_scores, attention_mask=None):
        """Softmax over the value steps of (N, H, T, S) scores; a (N, T, S) mask (nonzero = attend)
        gets the heads axis and sends masked scores to a large negative number, as Keras."""
        from .. import ops
        if attention_mask is not None:
            m = ops.expand_dims(ops.cast(attention_mask, "float32"), -3)
            attention_scores = attention_scores + (1.0 - m) * -1e9
        return ops.softmax(attention_scores, axis=-1)

    def _compute_attention(self, query, key, value, attention_mask=None, training=None):
        """Keras' attention core on projected (N, T, H, K) query, (N, S, H, K) key, (N, S, H, V)
        value: scaled dot products, masked softmax, dropout, weighted sum of the values; returns
        (output (N, T, H, V), scores (N, H, T, S)). Written with keras.ops for subclasses to call
        or replace; the layer itself runs the fused kernels."""
        from .. import ops
        query = ops.multiply(query, self._inverse_sqrt_key_dim)
        attention_scores = ops.einsum(self._dot_product_equation, key, query)
        attention_scores = self._masked_softmax(attention_scores, attention_mask)
        dropped = self._dropout_layer(attention_scores, training=training) if self.dropout > 0 else attention_scores
        attention_output = ops.einsum(self._combine_equation, dropped, value)
        return attention_output, attention_scores

    def _ops_call(self, inputs, training=None, mask=None):
        """The whole layer with keras.ops around ``self._compute_attention``: the query / key /
        value projections, the combined attention mask (attention_mask, padding masks, causal),
        the hook, the output projection."""
        from .. import ops
        if self._fold is not None:
            raise NotImplementedError(f"MultiHeadAttention '{self.name}': a subclass overriding "
                                      "_compute_attention takes inputs of shape (batch, steps, features) only")
        query, value, key, am = self._split(inputs)
        key = value if key is None else key

        def project(x, w, b):
            y = ops.einsum("abc,cde->abde", x, w)
            return y if b is None else y + b
        q = project(query, self.query_kernel, self.query_bias)
        k = project(key, self.key_kernel, self.key_bias)
        v = project(value, self.value_kernel, self.value_bias)
        n, tq, tv = query.shape[0], query.shape[1], value.shape[1]
        full = None if am is None else np.broadcast_to(np.asarray(am, np.float32), (n, tq, tv))
        masks = list(mask) if isinstance(mask, (list, tuple)) else ([mask] if mask is not None else [])
        masks += [None] * 3
        qm, vm, km = masks[0], masks[1], masks[2]
        for m, axis in ((qm, 2), (vm, 1), (km, 1)):
            if m is not None:
                part = np.expand_dims(np.asarray(m, np.float32), axis)
                full = part if full is None else full * part
        if self._options[2]:
            causal = np.tril(np.ones((tq, tv), np.float32))[None]
            full = causal if full is None else full * causal
        if full is not None:
            full = kernels.as_tensor(np.ascontiguousarray(np.broadcast_to(full, (n, tq, tv))))
        out, scores = self._compute_attention(q, k, v, attention_mask=full, training=training)
        y = ops.einsum("abcd,cde->abe", out, self.output_kernel)
        if self.output_bias is not None:
            y = y + self.output_bias
        return [y, scores] if self._options[3] else y

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
        if attention_mask is not None and not is_symbolic(attention_mask) and \
                is_symbolic([query, value] + ([key] if key is not None else [])):
            # a constant mask in a symbolic call (ViT-on-small-datasets' diagonal mask, (1, T, T)):
            # the layer keeps it, as Keras keeps a constant argument of the node, and the node's
            # inputs are the tensors only
            self._constant_mask = np.asarray(attention_mask.numpy() if hasattr(attention_mask, "numpy")
                                             else attention_mask, np.float32)
            attention_mask = None
            options = (key is not None, False, bool(use_causal_mask), bool(return_attention_scores))
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
        if is_symbolic(inputs):
            self._graph_options = options   # what the model's node passes: its config keeps these
            return super().__call__(inputs, training=training, mask=mask, **kwargs)
        graph_options = self.__dict__.get("_graph_options")
        # an eager call uses the mask it is given, not the one a model's node keeps
        kept, self._constant_mask = self._constant_mask, None
        try:
            return super().__call__(inputs, training=training, mask=mask, **kwargs)
        finally:
            self._constant_mask = kept
            if graph_options is not None and autodiff.recording_tape() is None:
                # the model's node reads the options of its own call again (a taped eager call
                # keeps its own until its gradient is taken)
                self._options = graph_options

    _constant_mask = None   # an attention mask given as a constant in a symbolic call

    def _split(self, xs):
        has_key, has_mask = self._options[0], self._options[1]
        query, value = xs[0], xs[1]
        key = xs[2] if has_key else None
        am = xs[2 + has_key] if has_mask else self._constant_mask
        return query, value, key, am

    # -- weights ---------------------------------------------------------------------------

    def build(self, input_shape, value_shape=None, key_shape=None):
        if value_shape is not None:   # Keras' signature: build(query_shape, value_shape, key_shape=None)
            input_shape = [tuple(input_shape), tuple(value_shape)] + ([tuple(key_shape)] if key_shape else [])
        shapes = list(input_shape) if isinstance(input_shape, list) else [input_shape]
        if self._options is None:
            self._options = (len(shapes) > 2, False, False, False)
        q, v, k, _ = self._split(shapes)
        k = v if k is None else k
        for what, s in (("query", q), ("value", v), ("key", k)):
            if len(s) < 3 or s[-1] is None:
                raise ValueError(f"MultiHeadAttention '{self.name}': {what} must have shape (batch, steps, "
                                 f"features) (or more axes between) with known features, got {shape_str(s)}")
        self._fold = self._folding(q, v, k)
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        do = self._output_dim or q[-1]
        reg_k, reg_b = self.kernel_regularizer, self.bias_regularizer

        def kernel(name, shape, n_in=1):
            # Keras 3.15's EinsumDense fans: the first n_in axes are input units, the rest output
            init = self.kernel_initializer
            if isinstance(init, initializers.VarianceScaling):
                init = init.with_axes(list(range(n_in)), list(range(n_in, len(shape))))
            return self.add_weight(name, shape, init, reg_k, constraint=self.kernel_constraint)

        def bias(name, shape):
            return self.add_weight(name, shape, self.bias_initializer, reg_b,
                                   constraint=self.bias_constraint) if self.use_bias else None
        self.query_kernel = kernel("query/kernel", (q[-1], h, kd))
        self.query_bias = bias("query/bias", (h, kd))
        g = self._key_value_heads()
        self.key_kernel = kernel("key/kernel", (k[-1], g, kd))
        self.key_bias = bias("key/bias", (g, kd))
        self.value_kernel = kernel("value/kernel", (v[-1], g, vd))
        self.value_bias = bias("value/bias", (g, vd))
        self.output_kernel = kernel("attention_output/kernel", (h, vd, do), n_in=2)
        self.output_bias = bias("attention_output/bias", (do,))
        super().build(input_shape)

    def _key_value_heads(self):
        return self.num_heads

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
        if am is not None and am is self._constant_mask:
            am = tuple(am.shape)
        k = v if k is None else k
        fold = self._folding(q, v, k)
        if self.built:
            for what, s, w in (("query", q, self.query_kernel), ("value", v, self.value_kernel),
                               ("key", k, self.key_kernel)):
                if s[-1] is not None and s[-1] != w.shape[0]:
                    raise ValueError(f"MultiHeadAttention '{self.name}': {what} has {s[-1]} features, the "
                                     f"layer was built for {w.shape[0]} ({what} {shape_str(s)})")
        if any(a is not None and b is not None and a != b for a, b in zip(k[1:-1], v[1:-1])):
            raise ValueError(f"MultiHeadAttention '{self.name}': key and value must have the same number "
                             f"of steps, got key {shape_str(k)} and value {shape_str(v)}")
        do = self._output_dim or q[-1]
        if fold is not None:
            _, other, att = fold
            if am is not None:
                want = (q[0],) + tuple(q[a] for a in other + att) + tuple(v[a] for a in att)
                if len(am) != len(want) or any(a is not None and w is not None and a not in (w, 1)
                                               for a, w in zip(am[1:], want[1:])):
                    raise ValueError(f"MultiHeadAttention '{self.name}': attention_mask must have shape "
                                     f"{shape_str(want)} (batch, other axes, query attention axes, value "
                                     f"attention axes) or broadcast to it, got {shape_str(am)}")
            out = tuple(q[:-1]) + (do,)
            if self._options[3]:
                scores = ((q[0],) + tuple(q[a] for a in other) + (self.num_heads,)
                          + tuple(q[a] for a in att) + tuple(v[a] for a in att))
                return [out, scores]
            return out
        if am is not None:
            # Keras broadcasts the mask against the (batch, query, value) scores: a (batch, 1, value)
            # padding mask (the translation example's mask[:, None, :]) is one row for all queries
            want = (q[1], v[1])
            given = am
            if len(am) == 4 and am[1] in (1, None, self.num_heads):   # (batch, heads or 1, query, value)
                am = (am[0],) + tuple(am[2:])
            if len(am) != 3 or any(a is not None and w is not None and a != w and a != 1
                                   for a, w in zip(am[1:], want)):
                raise ValueError(f"MultiHeadAttention '{self.name}': attention_mask must have shape (batch, "
                                 f"{q[1]}, {v[1]}) (batch, query steps, value steps) or (batch, "
                                 f"{self.num_heads}, {q[1]}, {v[1]}) (one per head), got {shape_str(given)}")
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

    def _folding(self, q, v, k):
        """Keras' ``attention_axes`` for inputs of rank r (batch, d1 .. d(r-2), features): the
        attention runs jointly over the named axes (None: every axis but the batch and the
        features), each index of the other axes apart. Returns None for the plain case (rank 3,
        over axis 1), else (perm, other axes, attention axes): ``perm`` moves the batch, the other
        axes, the attention axes and the features into that order, so that an input viewed as
        (batch x other, attention positions, features) runs the rank-3 kernels unchanged."""
        r = len(q)
        if len(v) != r or len(k) != r:
            raise ValueError(f"MultiHeadAttention '{self.name}': query, value and key must have the same "
                             f"rank, got {', '.join(shape_str(s) for s in (q, v, k))}")
        axes = self.attention_axes
        att = tuple(range(1, r - 1)) if axes is None else tuple(sorted({a % r for a in axes}))
        if axes is not None and (len(att) != len(axes) or any(not 1 <= a <= r - 2 for a in att)
                                 or any(not -r <= a < r for a in axes)):
            raise ValueError(f"MultiHeadAttention '{self.name}': attention_axes={axes} must name distinct "
                             f"axes between the batch and the features of inputs of rank {r}")
        if att == (1,) and r == 3:
            return None
        other = tuple(a for a in range(1, r - 1) if a not in att)
        if any(q[a] is not None and v[a] is not None and q[a] != v[a] for a in other):
            raise ValueError(f"MultiHeadAttention '{self.name}': query {shape_str(q)} and value "
                             f"{shape_str(v)} must agree on the axes attention does not run over {other}")
        return (0,) + other + att + (r - 1,), other, att

    def _fold_in(self, x, perm, n_other, key):
        """(batch, ...) -> its (batch x other, attention positions, features) view, copied once."""
        shape = [x.shape[p] for p in perm]
        moved = kernels.transpose(x, list(perm), out=self._buffer(key, shape))
        return moved.reshape([int(np.prod(shape[:1 + n_other])), int(np.prod(shape[1 + n_other:-1])),
                              shape[-1]])

    def _fold_out(self, t, folded_shape, perm, key):
        """A (batch x other, attention positions, features) result back to the input's layout."""
        inv = list(np.argsort(perm))
        viewed = t.reshape(list(folded_shape))
        return kernels.transpose(viewed, inv, out=self._buffer(key, [folded_shape[i] for i in inv]))

    def forward(self, xs, training=False):
        fold = self._fold
        if fold is None:
            return self._forward3(xs, training)
        perm, other, att = fold
        query, value, key, am = self._split(xs)
        if self.__dict__.get("_call_mask") and any(m is not None for m in self._call_mask):
            raise NotImplementedError(f"MultiHeadAttention '{self.name}': padding masks are supported "
                                      "for inputs of shape (batch, steps, features) only")
        if self._options[2]:
            raise NotImplementedError(f"MultiHeadAttention '{self.name}': use_causal_mask is supported for "
                                      "inputs of shape (batch, steps, features) only")
        q3 = self._fold_in(query, perm, len(other), "fold_q")
        v3 = self._fold_in(value, perm, len(other), "fold_v")
        folded = [q3, v3]
        if key is not None:
            folded.append(self._fold_in(key, perm, len(other), "fold_k"))
        if am is not None:
            n, tq, tv = q3.shape[0], q3.shape[1], v3.shape[1]
            full = ((query.shape[0],) + tuple(query.shape[a] for a in other + att)
                    + tuple(value.shape[a] for a in att))
            a = np.asarray(am)
            if a.ndim != len(full) or any(g not in (1, w) for g, w in zip(a.shape, full)):
                raise ValueError(f"MultiHeadAttention '{self.name}': attention_mask must have shape {full} "
                                 f"(batch, other axes, query attention axes, value attention axes) or "
                                 f"broadcast to it, got {tuple(a.shape)}")
            folded.append(kernels.as_tensor(np.ascontiguousarray(np.broadcast_to(a, full)).reshape(n, tq, tv)))
        out = self._forward3(folded, training)
        y3, scores = (out[0], out[1]) if isinstance(out, list) else (out, None)
        # the moved shapes of query, value (and key): where their gradients go back from
        self._fold_shapes = [tuple(x.shape[p] for p in perm) for x in (query, value, key) if x is not None]
        y = self._fold_out(y3, self._fold_shapes[0][:-1] + (y3.shape[-1],), perm, "fold_y")
        if scores is None:
            return y
        shape = ((query.shape[0],) + tuple(query.shape[a] for a in other) + (self.num_heads,)
                 + tuple(query.shape[a] for a in att) + tuple(value.shape[a] for a in att))
        return [y, scores.reshape(list(shape))]

    def backward(self, dy):
        fold = self._fold
        if fold is None:
            return self._backward3(dy)
        if isinstance(dy, list):
            dy = dy[0]
        perm, other, _ = fold
        grads = self._backward3(self._fold_in(dy, perm, len(other), "fold_dy"))
        if grads is None:
            return None
        back = [None if g is None else self._fold_out(g, shape, perm, f"fold_d{i}")
                for i, (g, shape) in enumerate(zip(grads, self._fold_shapes))]
        if self._options[1]:
            back.append(None)   # the attention mask
        return back

    def _next_seed(self):
        if self._rng is not None:
            return int(self._rng.integers(0, 2**63, dtype=np.int64))
        from ..utils.random import next_seed
        return int(next_seed())

    def _project(self, x, w, b, cols, name):
        """x (N, T, D) -> (N, H, T, cols) through x W + b (H: the heads of W (D, H, cols))."""
        n, t, d = x.shape
        h = w.shape[1]
        y = self._buffer(name, (n, t, h, cols))
        kernels.gemm(_rows(x, d), w.reshape([d, h * cols]), _rows(y, h * cols),
                     bias=None if b is None else b.reshape([h * cols]))
        return kernels.transpose(y, _QKV, out=self._buffer(name + "_h", (n, h, t, cols)))

    def _shared_heads(self, xh, name):
        """Grouped-query attention: key / value heads (N, G, T, c) each serve H / G consecutive
        query heads, so they are repeated to (N, H, T, c) (the RepeatVector kernel on the
        (N G, T c) view). The identity when there is one key / value head per query head."""
        n, g, t, c = xh.shape
        r = self.num_heads // g
        if r == 1:
            return xh
        y = kernels.repeat_vector_forward(xh.reshape([n * g, t * c]), r,
                                          out=self._buffer(name + "_shared", (n * g, r, t * c)))
        return y.reshape([n, g * r, t, c])

    def _summed_heads(self, dh, name):
        """The gradient of _shared_heads: the sum over the query heads a key / value head serves."""
        g = self.key_kernel.shape[1]
        n, h, t, c = dh.shape
        if g == h:
            return dh
        dx = kernels.repeat_vector_backward(dh.reshape([n * g, h // g, t * c]),
                                            out=self._buffer("d" + name + "_shared", (n * g, t * c)))
        return dx.reshape([n, g, t, c])

    def _broadcast_attention_mask(self, am, n, tq, tv):
        """A mask of shape (batch or 1, query steps or 1, value steps or 1) spread over the scores'
        (batch, query steps, value steps), as Keras' masked softmax broadcasts it; or, 4-D,
        (batch or 1, heads or 1, query steps or 1, value steps or 1): spread over (batch, heads,
        query steps, value steps) when it differs between heads (Keras 3 expands a mask only up
        to the scores' rank, so such a mask masks each head its own way)."""
        a = np.asarray(am)
        h = self.num_heads
        if a.ndim == 4:   # (batch, heads, query, value), as Keras takes it
            if any(g not in (1, w) for g, w in zip(a.shape, (n, h, tq, tv))):
                raise ValueError(f"MultiHeadAttention '{self.name}': a 4-D attention_mask must have shape "
                                 f"({n}, {h}, {tq}, {tv}) (batch, heads, query steps, value steps) or one "
                                 f"that broadcasts to it, got {tuple(a.shape)}")
            if a.shape[1] != 1 and not (a == a[:, :1]).all():   # one mask per head
                return kernels.as_tensor(np.ascontiguousarray(np.broadcast_to(a, (n, h, tq, tv)),
                                                              dtype=np.float32))
            a = a[:, 0]
        if a.ndim != 3 or any(g not in (1, w) for g, w in zip(a.shape, (n, tq, tv))):
            raise ValueError(f"MultiHeadAttention '{self.name}': attention_mask must have shape ({n}, {tq}, "
                             f"{tv}) (batch, query steps, value steps) or one that broadcasts to it, got "
                             f"{tuple(a.shape)}")
        return kernels.as_tensor(np.ascontiguousarray(np.broadcast_to(a, (n, tq, tv))))

    def _forward3(self, xs, training):
        """The attention of (batch, steps, features) inputs."""
        query, value, key, am = self._split(xs)
        has_key = key is not None
        key = value if key is None else key
        n, tq, _ = query.shape
        tv = value.shape[1]
        if key.shape[1] != tv or key.shape[0] != n or value.shape[0] != n:
            raise ValueError(f"MultiHeadAttention '{self.name}': query {tuple(query.shape)}, value "
                             f"{tuple(value.shape)} and key {tuple(key.shape)} must share the batch size, "
                             "and key and value their steps")
        if am is not None and tuple(am.shape) != (n, tq, tv):
            am = self._broadcast_attention_mask(am, n, tq, tv)
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        masks = self.__dict__.get("_call_mask") or []
        masks = list(masks) + [None] * 3
        qm, vm, km = masks[0], masks[1], masks[2] if has_key else masks[1]
        key_mask = vm if km is None else (km if vm is None else
                                          kernels.binary_forward("multiply", vm, km))
        qh = self._project(query, self.query_kernel, self.query_bias, kd, "q")
        kh = self._shared_heads(self._project(key, self.key_kernel, self.key_bias, kd, "k"), "k")
        vh = self._shared_heads(self._project(value, self.value_kernel, self.value_bias, vd, "v"), "v")
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

    def _backward3(self, dy):
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
        dvh, dkh = self._summed_heads(dvh, "v"), self._summed_heads(dkh, "k")
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
        tq, tv = (int(np.prod([d or 1 for d in s[1:-1]])) for s in (q, v))
        fold = self._folding(q, v, k)
        # each query position attends to the value positions of its own attention axes
        tv_att = tv if fold is None else int(np.prod([v[a] or 1 for a in fold[2]]))
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        do = self._output_dim or q[-1]
        proj = 2 * h * (tq * q[-1] * kd + tv * k[-1] * kd + tv * v[-1] * vd + tq * vd * do)
        return proj + 2 * h * tq * tv_att * (kd + vd) + 5 * h * tq * tv_att

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
                   activity_regularizer=None,
                   kernel_constraint=constraints.serialize(self.kernel_constraint),
                   bias_constraint=constraints.serialize(self.bias_constraint), seed=self.seed)
        options = self.__dict__.get("_graph_options") or self._options
        if options is not None and any(options[1:]):
            # not a Keras argument: how a graph model calls it (attention_mask given, causal, scores)
            cfg["_call_options"] = list(options)
        if self._constant_mask is not None:
            if self._constant_mask.size > 65536:
                raise ValueError(f"MultiHeadAttention '{self.name}': its constant attention_mask of shape "
                                 f"{self._constant_mask.shape} is too large for a config; pass it as an Input")
            cfg["_constant_attention_mask"] = self._constant_mask.tolist()
        return cfg

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        options = config.pop("_call_options", None)
        constant = config.pop("_constant_attention_mask", None)
        layer = cls(**config)
        if options is not None:
            layer._options = tuple(bool(o) for o in options)
        if constant is not None:
            a = np.asarray(constant, np.float32)
            if a.ndim != 3 or a.size > 65536:
                raise ValueError(f"MultiHeadAttention: _constant_attention_mask must be a (batch or 1, "
                                 f"query steps, value steps) array, got shape {a.shape}")
            layer._constant_mask = a
        return layer


class GroupedQueryAttention(MultiHeadAttention):
    """Grouped-query attention (Ainslie et al., "GQA", 2023), Keras 3's
    ``layers.GroupQueryAttention``: ``num_query_heads`` query heads share ``num_key_value_heads``
    key / value heads, each serving num_query_heads / num_key_value_heads consecutive query
    heads (one: multi-query attention; as many: multi-head attention). The computation is
    MultiHeadAttention's (same kernels, masks, dropout and scores) with the key / value heads
    repeated after their projection and their gradients summed back (_shared_heads).

    Weights, Keras order: query/kernel (D, Hq, head_dim), query/bias, key/kernel
    (Dk, Hkv, head_dim), key/bias, value/kernel (Dv, Hkv, head_dim), value/bias,
    attention_output/kernel (Hq, head_dim, D), attention_output/bias (D,): D is the query's
    feature size, which the output has.
    """

    def __init__(self, head_dim, num_query_heads, num_key_value_heads, dropout=0.0, use_bias=True,
                 flash_attention=None, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, seed=None, **kwargs):
        super().__init__(num_heads=num_query_heads, key_dim=head_dim, dropout=dropout, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                         bias_constraint=bias_constraint, seed=seed, flash_attention=flash_attention, **kwargs)
        g = num_key_value_heads
        if isinstance(g, bool) or not isinstance(g, (int, np.integer)) or g <= 0 or self.num_heads % g:
            raise ValueError(f"GroupQueryAttention '{self.name}': num_key_value_heads must be a positive "
                             f"integer dividing num_query_heads ({self.num_heads}), got {g!r}")
        self.num_key_value_heads = int(g)

    @property
    def head_dim(self):
        return self.key_dim

    @property
    def num_query_heads(self):
        return self.num_heads

    def _key_value_heads(self):
        return self.num_key_value_heads

    def get_config(self):
        cfg = super().get_config()
        for key in ("num_heads", "key_dim", "value_dim", "output_shape", "attention_axes"):
            cfg.pop(key)
        cfg.update(head_dim=self.key_dim, num_query_heads=self.num_heads,
                   num_key_value_heads=self.num_key_value_heads)
        return cfg


GroupQueryAttention = GroupedQueryAttention   # Keras 3 exports the class under this name


class Attention(Layer):
    """Dot-product attention without projections (Keras 3 ``keras.layers.Attention``, Luong style).

    Call: ``layer([query, value])`` or ``layer([query, value, key])`` (key defaults to value),
    ``mask=[query_mask, value_mask]``, ``training``, ``return_attention_scores``,
    ``use_causal_mask``. query (N, Tq, D), value (N, Tv, Dv), key (N, Tv, D) -> (N, Tq, Dv).

    Math (one head of MultiHeadAttention's kernels, on (N, 1, T, D) views):
        scores = scale * query . key^T              batched GEMM; scale the learned scalar
                                                    (use_scale) or 1
        P = masked_softmax(scores)                  keys where value_mask is 0, and with
                                                    use_causal_mask the keys j > i, get weight 0;
                                                    dropout on P in training
        out = P value,  out *= query_mask           (masked query steps give 0, as Keras)
        backward: dP = dout value^T, dvalue = P^T dout, dz = softmax'(dP) (csrc/ops/attention.h),
                  dscale = sum dz * (query . key^T), dquery = scale dz key, dkey = scale dz^T query
    With return_attention_scores the call returns [out, P] (P after dropout, as Keras 3).
    score_mode="concat" replaces the scores by concat_score_weight * sum_d tanh(scale * (query + key))
    (the additive kernel of AdditiveAttention, csrc/ops/additive_attention.h; softmax unscaled).
    A query row whose keys are all masked gets uniform weights 1 / Tk, as Keras (its -1e9 adder
    leaves such a row's scores equal); the query mask then zeroes its output.

    Args:
        use_scale: learn a scalar ``scale`` (initialised to 1) multiplying the scores.
        score_mode: "dot" or "concat".
        dropout: fraction of attention weights dropped in training, in [0, 1).
        seed: fixes the dropout draws independently of the global seed.

    Weights: [scale] (shape ()) when use_scale, then [concat_score_weight] (shape ()) in concat mode.
    """

    supports_masking = True
    consumes_mask = True

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"Attention '{self.name}': score_mode must be 'dot' or 'concat', "
                             f"got {score_mode!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.integer, np.floating)) \
                or not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"Attention '{self.name}': dropout must be in [0, 1), got {dropout!r}")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = float(dropout)
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)
        self.scale = self.concat_score_weight = None
        self._options = None  # (use_causal_mask, return_attention_scores) of the first call

    # -- calling -----------------------------------------------------------------------------

    def __call__(self, inputs, mask=None, training=None, return_attention_scores=False,
                 use_causal_mask=False, **kwargs):
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise ValueError(f"Attention '{self.name}': call it on a list [query, value] or [query, "
                             f"value, key], got {type(inputs).__name__}"
                             + (f" of {len(inputs)}" if isinstance(inputs, (list, tuple)) else ""))
        options = (bool(use_causal_mask), bool(return_attention_scores))
        from ..models.graph import is_symbolic
        if self.__dict__.pop("_from_config_options", False) and options == (False, False):
            options = self._options  # a model file rebuilding the call: the stored options
        elif is_symbolic(list(inputs)) and self._options is not None and self._options != options:
            raise ValueError(f"Attention '{self.name}': every call in a model must pass the same "
                             f"options as its first (use_causal_mask, return_attention_scores): "
                             f"{self._options} vs {options}")
        self._options = options
        if mask is not None:
            mask = list(mask) if isinstance(mask, (list, tuple)) else [mask]
        return super().__call__(list(inputs), training=training, mask=mask, **kwargs)

    # -- weights -----------------------------------------------------------------------------

    def _shapes(self, input_shape):
        shapes = list(input_shape) if isinstance(input_shape, list) else [input_shape]
        if not 2 <= len(shapes) <= 3:
            raise ValueError(f"Attention '{self.name}': expected 2 or 3 inputs (query, value, key), "
                             f"got {len(shapes)}")
        q, v = tuple(shapes[0]), tuple(shapes[1])
        k = tuple(shapes[2]) if len(shapes) > 2 else v
        for what, s in (("query", q), ("value", v), ("key", k)):
            if len(s) != 3:
                raise ValueError(f"Attention '{self.name}': {what} must have shape (batch, steps, "
                                 f"features), got {shape_str(s)}")
        if q[-1] is not None and k[-1] is not None and q[-1] != k[-1]:
            raise ValueError(f"Attention '{self.name}': query and key must have the same number of "
                             f"features, got query {shape_str(q)} and key {shape_str(k)}")
        if k[1] is not None and v[1] is not None and k[1] != v[1]:
            raise ValueError(f"Attention '{self.name}': key and value must have the same number of "
                             f"steps, got key {shape_str(k)} and value {shape_str(v)}")
        return q, v, k

    def build(self, input_shape):
        self._shapes(input_shape)
        if self._options is None:
            self._options = (False, False)
        if self.use_scale:
            self.scale = self.add_weight("scale", (), initializers.get("ones"))
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight("concat_score_weight", (), initializers.get("ones"))
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        q, v, _ = self._shapes(input_shape)
        out = (q[0], q[1], v[-1])
        if self._options is not None and self._options[1]:
            return [out, (q[0], q[1], v[1])]
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

    def forward(self, xs, training=False):
        xs = self._broadcast_batch(list(xs))
        query, value = xs[0], xs[1]
        key = xs[2] if len(xs) > 2 else None
        k = value if key is None else key
        n, tq, d = query.shape
        tv, dv = value.shape[1], value.shape[2]
        if k.shape[0] != n or value.shape[0] != n or k.shape[1] != tv or k.shape[2] != d:
            raise ValueError(f"Attention '{self.name}': query {tuple(query.shape)}, value "
                             f"{tuple(value.shape)} and key {tuple(k.shape)} must share the batch "
                             "size, query and key their features, key and value their steps")
        masks = list(self.__dict__.get("_call_mask") or []) + [None, None]
        query_mask, value_mask = masks[0], masks[1]
        q4, k4, v4 = (t.reshape([n, 1] + list(t.shape[1:])) for t in (query, k, value))
        raw = self._buffer("raw", (n, 1, tq, tv))
        if self.score_mode == "dot":
            kernels.batched_matmul(q4, k4, trans_b=True, out=raw)
            scale = float(np.asarray(self.scale)) if self.use_scale else 1.0
        else:  # additive scores: the softmax takes them unscaled
            w, alpha = self._additive_params(d)
            kernels.additive_attention_scores_forward(query, k, w, alpha, out=raw.reshape([n, tq, tv]))
            scale = 1.0
        rate = self.dropout if training else 0.0
        causal, return_scores = self._options or (False, False)
        probs, dropped = kernels.masked_softmax_forward(
            raw, key_mask=value_mask, causal=causal, scale=scale, dropout_rate=rate,
            seed=self._next_seed() if rate > 0 else 0, out=self._buffer("probs", (n, 1, tq, tv)),
            dropped=self._buffer("dropped", (n, 1, tq, tv)) if rate > 0 else None)
        used = dropped if rate > 0 else probs
        y = self._buffer("y", (n, tq, dv))
        kernels.batched_matmul(used, v4, out=y.reshape([n, 1, tq, dv]))
        qm = None
        if query_mask is not None:
            qm = kernels.as_tensor(query_mask, f"Attention '{self.name}'", "query_mask").reshape([n, tq, 1])
            kernels.binary_forward("multiply", y, qm, out=y)
        self._saved = (query, value, key, raw, probs, dropped, qm, scale, rate)
        if return_scores:
            return [y, used.reshape([n, tq, tv])]
        return y

    def _broadcast_batch(self, xs):
        """Keras' attention is a batched matmul, whose batch axis broadcasts: a query of batch 1
        (a Perceiver's latent array) attends to each of a batch of keys / values, or one key /
        value set serves a batch of queries. Inputs of batch 1 among larger ones are repeated;
        backward sums their gradients back (``_broadcast``)."""
        sizes = [int(t.shape[0]) for t in xs]
        n = max(sizes)
        self._broadcast = [size == 1 and n > 1 for size in sizes]
        if not any(self._broadcast):
            return xs
        if any(size not in (1, n) for size in sizes):
            shapes = ", ".join(str(tuple(t.shape)) for t in xs)
            raise ValueError(f"Attention '{self.name}': the inputs' batch sizes must be equal or 1, got {shapes}")
        return [kernels.Tensor.from_numpy(np.asarray(np.broadcast_to(np.asarray(t), (n,) + tuple(t.shape[1:])), order="C"))
                if b else t for t, b in zip(xs, self._broadcast)]

    def backward(self, dy):
        dxs = self._backward_full(dy)
        flags = self.__dict__.get("_broadcast") or []
        if dxs is None or not any(flags):
            return dxs
        return [kernels.reduce_forward("sum", g, axes=(0,), keepdims=True) if b and g is not None else g
                for g, b in zip(dxs, flags)]

    def _backward_full(self, dy):
        if isinstance(dy, list):  # [d output, d scores]: the scores are not differentiated
            dy = dy[0]
        query, value, key, raw, probs, dropped, qm, scale, rate = self._saved
        k = value if key is None else key
        n, tq, d = query.shape
        tv, dv = value.shape[1], value.shape[2]
        if qm is not None:
            dy = kernels.binary_forward("multiply", dy, qm, out=self._buffer("dy_masked", (n, tq, dv)))
        dy4 = dy.reshape([n, 1, tq, dv])
        used = dropped if rate > 0 else probs
        dp = kernels.batched_matmul(dy4, value.reshape([n, 1, tv, dv]), trans_b=True,
                                    out=self._buffer("dp", (n, 1, tq, tv)))
        dz = kernels.masked_softmax_backward(probs, dp, scale=1.0, dropout_rate=rate,
                                             dropped=dropped, out=dp)
        if self.score_mode != "dot":
            return self._additive_backward(dz.reshape([n, tq, tv]), query, value, key, dy4, used)
        if self.use_scale and self.trainable:
            prod = kernels.binary_forward("multiply", dz, raw, out=self._buffer("dz_raw", (n, 1, tq, tv)))
            kernels.reduce_forward("sum", prod, out=self._grad_of("scale"))
        if not self.needs_input_grad:
            return None
        draw = kernels.scale(dz, scale, out=dz)
        dq = self._buffer("dq", (n, tq, d))
        kernels.batched_matmul(draw, k.reshape([n, 1, tv, d]), out=dq.reshape([n, 1, tq, d]))
        dvalue = self._buffer("dvalue", (n, tv, dv))
        kernels.batched_matmul(used, dy4, trans_a=True, out=dvalue.reshape([n, 1, tv, dv]))
        dk = self._buffer("dk", (n, tv, d))
        kernels.batched_matmul(draw, query.reshape([n, 1, tq, d]), trans_a=True,
                               out=dk.reshape([n, 1, tv, d]))
        if key is None:  # key = value: both of value's gradients
            kernels.binary_forward("add", dvalue, dk, out=dvalue)
            return [dq, dvalue]
        return [dq, dvalue, dk]

    # -- additive scores (score_mode="concat", AdditiveAttention) ----------------------------

    def _additive_params(self, d):
        """(w (D,), alpha) of additive_attention_scores_forward: concat mode is
        concat_score_weight * sum_d tanh(scale * (q + k))."""
        w = self._buffer("w", (d,))
        w.fill_(float(np.asarray(self.concat_score_weight)))
        return w, float(np.asarray(self.scale)) if self.use_scale else 1.0

    def _additive_weight_grads(self, d):
        """Buffers for (dw, dalpha) and, after the kernel wrote them, a function routing them into
        the weights' gradients."""
        if not self.trainable:
            return None, None, lambda: None
        dw = self._buffer("dw", (d,))
        dalpha = self._grad_of("scale") if self.use_scale else None

        def route():
            kernels.reduce_forward("sum", dw, out=self._grad_of("concat_score_weight"))
        return dw, dalpha, route

    def _additive_backward(self, dz, query, value, key, dy4, used):
        n, tq, d = query.shape
        tv, dv = value.shape[1], value.shape[2]
        k = value if key is None else key
        w, alpha = self._additive_params(d)
        dw, dalpha, route = self._additive_weight_grads(d)
        need = self.needs_input_grad
        dq = self._buffer("dq", (n, tq, d)) if need else None
        dk = self._buffer("dk", (n, tv, d)) if need else None
        kernels.additive_attention_scores_backward(dz, query, k, w, alpha, dquery=dq, dkey=dk, dw=dw,
                                                   dalpha=dalpha)
        route()
        if not need:
            return None
        dvalue = self._buffer("dvalue", (n, tv, dv))
        kernels.batched_matmul(used, dy4, trans_a=True, out=dvalue.reshape([n, 1, tv, dv]))
        if key is None:
            kernels.binary_forward("add", dvalue, dk, out=dvalue)
            return [dq, dvalue]
        return [dq, dvalue, dk]

    # -- config ----------------------------------------------------------------------------

    def flops(self, input_shape):
        q, v, _ = self._shapes(input_shape)
        tq, tv = q[1] or 1, v[1] or 1
        return 2 * tq * tv * ((q[-1] or 1) + (v[-1] or 1)) + 5 * tq * tv

    def get_config(self):
        cfg = super().get_config()
        cfg.update(use_scale=self.use_scale, score_mode=self.score_mode, dropout=self.dropout,
                   seed=self.seed)
        if self._options is not None and any(self._options):
            # not a Keras argument: how a graph model calls it (use_causal_mask, return scores)
            cfg["_call_options"] = list(self._options)
        return cfg

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        options = config.pop("_call_options", None)
        layer = cls(**config)
        if options is not None:
            layer._options = tuple(bool(o) for o in options)
            layer.__dict__["_from_config_options"] = True
        return layer


class AdditiveAttention(Attention):
    """Additive (Bahdanau-style) attention (Keras 3 ``keras.layers.AdditiveAttention``).

    Called as Attention: ``layer([query, value(, key)])``, ``mask=[query_mask, value_mask]``,
    ``return_attention_scores``, ``use_causal_mask``; query (N, Tq, D), key (N, Tv, D).

    Math: scores[n,i,j] = sum_d scale[d] * tanh(query[n,i,d] + key[n,j,d]) (one C++ kernel,
    csrc/ops/additive_attention.h; the (N, Tq, Tv, D) tanh is never stored), then Attention's
    masked softmax, dropout and weighted sum of value.

    Args:
        use_scale: learn the (D,) vector ``scale`` (glorot_uniform, as Keras); off: all ones.
        dropout: fraction of attention weights dropped in training, in [0, 1).
        seed: fixes the dropout draws independently of the global seed.

    Weights: [scale] (shape (D,)) when use_scale.
    Reference: Bahdanau, Cho & Bengio, "Neural Machine Translation by Jointly Learning to Align
    and Translate", ICLR 2015.
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        kwargs.pop("score_mode", None)
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)
        self.score_mode = "additive"

    def build(self, input_shape):
        q, _, _ = self._shapes(input_shape)
        if q[-1] is None:
            raise ValueError(f"AdditiveAttention '{self.name}': the query's features must be known, "
                             f"got {shape_str(q)}")
        if self._options is None:
            self._options = (False, False)
        if self.use_scale:
            self.scale = self.add_weight("scale", (q[-1],), initializers.get("glorot_uniform"))
        Layer.build(self, input_shape)

    def _additive_params(self, d):
        if self.use_scale:
            return self.scale, 1.0
        w = self._buffer("w", (d,))
        w.fill_(1.0)
        return w, 1.0

    def _additive_weight_grads(self, d):
        dw = self._grad_of("scale") if self.use_scale and self.trainable else None
        return dw, None, lambda: None

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("score_mode")
        return cfg
