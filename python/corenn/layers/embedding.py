"""Embedding: turns integer indices into dense vectors by looking them up in a table.

Shape legend: N batch, ... any further index axes (usually T steps), V = input_dim (vocabulary
size), D = output_dim.

Math (W is (V, D)):
    forward   y[n, ..., :] = W[x[n, ...], :]                 x (N, ...) -> y (N, ..., D)
    backward  dW = 0, dW[x[i], :] += dy[i, :] for every position i (repeated indices add up)
The input is indices, not a differentiable value: backward returns None (no dL/dx).
int8 (after ``quantize("int8")``, layers/quantization.py): W holds the integers q of each row and
s (V,) the rows' scales; y[n, ..., :] = q[x] / s[x]; nothing is trained.

Indices may be int32/int64 or float32 holding whole numbers (Sequential hands every layer float32
x; Keras casts an Embedding's input to int). A non-integer, negative or >= input_dim index raises
ValueError before anything is written. float32 holds every whole number below 2**24 exactly, so
vocabularies beyond 16.7M rows need int inputs.

Reference: keras.layers.Embedding (Keras 3); ``input_length`` is Keras 2's argument.
"""
from __future__ import annotations

import numpy as np

from .. import constraints, initializers, kernels, regularizers
from .base import Layer, shape_str, user_mask
from .quantization import Int8Quantizable, abs_max_quantize, int4_quantize

__all__ = ["Embedding", "ReversibleEmbedding"]


def _positive_int(layer_name, arg, value):
    if isinstance(value, kernels.Tensor) and value.ndim == 0 and value.dtype in ("int32", "int64"):
        # tf.keras 2 took a size read from tf.shape(...) (the CCT example's positional embedding)
        value = int(np.asarray(value))
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"Embedding '{layer_name}': {arg} must be a positive integer, got {value!r}")
    return int(value)


class Embedding(Int8Quantizable, Layer):
    """Maps indices in [0, input_dim) to rows of a trainable (input_dim, output_dim) table.

    Args:
        input_dim: V, the vocabulary size (largest index + 1).
        output_dim: D, the size of each vector.
        embeddings_initializer: Keras' default 'uniform' is RandomUniform(-0.05, 0.05).
        embeddings_regularizer: see corenn.regularizers.
        mask_zero: index 0 is padding: the output carries a Keras mask (index != 0) that the next
            layers read (RNNs skip those steps, GlobalAveragePooling1D and MultiHeadAttention
            leave them out); eagerly, ``compute_mask(indices)`` gives it. Index 0 still looks up
            row 0 (as Keras), so input_dim counts it.
        input_length: Keras 2's fixed sequence length; sets input_shape=(input_length,) when
            input_shape is not given.
        quantization_config: None (Keras' default). ``quantize("int8")`` converts a built layer to
            an int8 table with a scale per row (layers/quantization.py): weights [embeddings,
            embeddings_scale], both frozen; y = q[i] / s[i].
    """

    scalar_input = "batch"  # a 0-d id gives its (output_dim,) vector, as in Keras 3

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, activity_regularizer=None, embeddings_constraint=None,
                 mask_zero=False, input_length=None, quantization_config=None, **kwargs):
        if input_length is not None and kwargs.get("input_shape") is None:
            length = input_length if isinstance(input_length, (tuple, list)) else (input_length,)
            kwargs["input_shape"] = tuple(length)
        policy = self._pop_quantized_dtype(kwargs, quantization_config)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._set_quantized_dtype(policy)
        if policy is not None and type(self) is not Embedding:
            raise ValueError(f"{type(self).__name__} '{self.name}': a quantized dtype policy is supported on "
                             "Embedding itself only")
        self.input_dim = _positive_int(self.name, "input_dim", input_dim)
        self.output_dim = _positive_int(self.name, "output_dim", output_dim)
        self.mask_zero = bool(mask_zero)
        self.produces_mask = self.mask_zero
        self.input_length = input_length
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)   # applied by the optimizer
        self.embeddings = None

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 1:
            raise ValueError(f"Embedding '{self.name}' needs inputs of shape (batch, ...), got "
                             f"{shape_str(input_shape)}")
        if self._quantized == "int4":   # read back: zeros until its weights are loaded
            self._params = self._int4_params("embeddings", shape=(self.output_dim, self.input_dim), transposed=True)
            self._set_int4_attributes()
        elif self._quantized is None:
            self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                              self.embeddings_initializer, self.embeddings_regularizer,
                                              constraint=self.embeddings_constraint)
        else:   # the int8 form (a quantized layer read back): set when its weights are loaded
            self._params = [self._frozen_weight("embeddings", np.zeros((self.input_dim, self.output_dim)), int8=True),
                            self._frozen_weight("embeddings_scale", np.ones(self.input_dim))]
            self.embeddings, self.embeddings_scale = (p.value for p in self._params)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def check_input_shape(self, shape):
        """Indices of any shape, whatever the first call had: a lookup per index (Keras: no
        input spec; the word-embeddings tutorial calls one layer on (3,) and then (2, 3))."""

    def compute_mask(self, inputs, mask=None):
        """With mask_zero, the mask of data ``inputs``: bool (as Keras), True where the index is
        not 0 (the graph's own mask value, ``output_mask_value``, is the float32 one the kernels
        read)."""
        if not self.mask_zero:
            return None
        return user_mask(np.asarray(inputs) != 0)

    def output_mask_value(self):
        return self._mask

    def forward(self, x, training=False):
        y = self._buffer("y", tuple(x.shape) + (self.output_dim,))
        if self._quantized == "int4":   # Keras 3.15: rows of the dequantized table
            table = self._buffer("dequantized", (self.input_dim, self.output_dim))
            np.copyto(np.asarray(table), self._int4_matrix_values("embeddings"))
            kernels.embedding_forward(x, table, out=y)
        else:
            kernels.embedding_forward(x, self.embeddings, out=y)
        if self._quantized == "int8":   # y = q[i] / s[i]
            s = kernels.embedding_forward(x, kernels._reshape(self.embeddings_scale, [-1, 1]),
                                          out=self._buffer("scale", tuple(x.shape) + (1,)))
            kernels.binary_forward("divide", y, s, out=y)
        self._x = x
        if self.mask_zero:  # N*T flags: bookkeeping, not math
            self._mask = self._buffer("mask", tuple(x.shape))
            np.not_equal(np.asarray(x), 0, out=np.asarray(self._mask), casting="unsafe")
        return y

    def backward(self, dy):
        if self.trainable and self._quantized is None:   # the int8 table is frozen
            kernels.embedding_backward(self._x, dy, out=self.gradients[0])
        return None  # indices have no gradient

    def _quantize_int8(self):
        """embeddings -> int8 values per row (axis -1) and embeddings_scale (V,); frozen."""
        q, scale = abs_max_quantize(self.embeddings._copy_array(), axis=-1)
        self._params = [self._frozen_weight("embeddings", q, int8=True), self._frozen_weight("embeddings_scale", scale[:, 0])]
        self.embeddings, self.embeddings_scale = (p.value for p in self._params)

    def _quantize_int4(self):
        """embeddings -> int4, grouped along each row's features (layers/quantization.py, M the
        table transposed): packed (V, ceil(D / 2)), embeddings_scale (V,) per row or (V, groups),
        embeddings_zero (V, groups), g_idx (D,); frozen."""
        q, scale, zero = int4_quantize(self.embeddings._copy_array().T, self._int4_block)
        self._params = self._int4_params("embeddings", q, scale, zero, transposed=True)
        self._set_int4_attributes()

    def _set_int4_attributes(self):
        self.embeddings, self.embeddings_scale = self._params[0].value, self._params[1].value
        if len(self._params) > 2:
            self.embeddings_zero, self.g_idx = self._params[2].value, self._params[3].value

    def get_config(self):
        cfg = super().get_config()
        cfg.update(input_dim=self.input_dim, output_dim=self.output_dim,
                   embeddings_initializer=initializers.serialize(self.embeddings_initializer),
                   embeddings_regularizer=regularizers.serialize(self.embeddings_regularizer),
                   embeddings_constraint=constraints.serialize(self.embeddings_constraint),
                   mask_zero=self.mask_zero)
        if self.input_length is not None:
            cfg["input_length"] = self.input_length
        return self._quantized_config(cfg)


Embedding._quantizes = Embedding   # Keras quantizes Embedding itself, not its subclasses


class ReversibleEmbedding(Embedding):
    """An Embedding that also maps hidden states back to vocabulary logits (Keras 3.15's
    ``keras.layers.ReversibleEmbedding``, keras_hub's tied input / output embedding).

    ``layer(ids)`` looks up rows as Embedding does; ``layer(h, reverse=True)`` returns
    ``h @ W^T`` (h (..., D) -> logits (..., V)) with W the embeddings, or ``h @ R`` with a separate
    trainable R (D, V) when ``tie_weights=False``. ``logit_soft_cap=c`` gives ``c tanh(logits / c)``.
    Both directions are recorded ops (take, matmul, tanh), so a model that calls the layer both
    ways accumulates the tied table's gradient from both uses.

    Args:
        input_dim, output_dim, embeddings_initializer, embeddings_regularizer,
        embeddings_constraint, mask_zero: as Embedding.
        tie_weights: reverse through the transposed embeddings (True) or a separate
            "reverse_embeddings" weight (False, initialized as the embeddings).
        reverse_dtype: the dtype of the reverse product; corenn computes in float32, so only None
            or "float32" are accepted.
        logit_soft_cap: None, or c > 0 capping the reverse logits to (-c, c).
    """

    def __init__(self, input_dim, output_dim, tie_weights=True, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False, reverse_dtype=None,
                 logit_soft_cap=None, **kwargs):
        super().__init__(input_dim, output_dim, embeddings_initializer=embeddings_initializer,
                         embeddings_regularizer=embeddings_regularizer,
                         embeddings_constraint=embeddings_constraint, mask_zero=mask_zero, **kwargs)
        if reverse_dtype not in (None, "float32"):
            raise ValueError(f"ReversibleEmbedding '{self.name}': reverse_dtype {reverse_dtype!r} is not "
                             "supported: corenn computes in float32 (use None or 'float32')")
        if logit_soft_cap is not None and not float(logit_soft_cap) > 0:
            raise ValueError(f"ReversibleEmbedding '{self.name}': logit_soft_cap must be None or positive, "
                             f"got {logit_soft_cap!r}")
        self.tie_weights = bool(tie_weights)
        self.reverse_dtype = reverse_dtype
        self.logit_soft_cap = logit_soft_cap
        self.reverse_embeddings = None

    def build(self, input_shape=None):
        super().build(tuple(input_shape) if input_shape is not None else (None,))
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight("reverse_embeddings", (self.output_dim, self.input_dim),
                                                      self.embeddings_initializer)

    def call(self, inputs, reverse=False):
        from .. import ops
        if not reverse:
            return ops.take(self.embeddings, ops.cast(inputs, "int32"), axis=0)
        if tuple(inputs.shape)[-1] != self.output_dim:
            raise ValueError(f"ReversibleEmbedding '{self.name}': reverse=True needs inputs whose last axis "
                             f"is output_dim={self.output_dim}, got shape {shape_str(tuple(inputs.shape))}")
        kernel = ops.transpose(self.embeddings) if self.tie_weights else self.reverse_embeddings
        logits = ops.matmul(inputs, kernel)
        if self.logit_soft_cap is not None:
            cap = float(self.logit_soft_cap)
            logits = ops.multiply(ops.tanh(ops.divide(logits, cap)), cap)
        return logits

    def _reverse_call(self, reverse):
        # a call's keyword options sit on the layer while it is called (a graph node's too)
        return bool(reverse or (self.__dict__.get("_call_kwargs") or {}).get("reverse", False))

    def compute_mask(self, inputs, mask=None):
        """Embedding's mask (mask_zero) for a lookup; a reverse call makes none (Keras)."""
        return None if self._reverse_call(False) else super().compute_mask(inputs, mask)

    def output_mask_value(self):
        # Embedding's forward keeps its mask in _mask; this class computes through call
        return Layer.output_mask_value(self)

    def compute_output_shape(self, input_shape, reverse=False):
        input_shape = tuple(input_shape)
        if self._reverse_call(reverse):
            return input_shape[:-1] + (self.input_dim,)
        return input_shape + (self.output_dim,)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(tie_weights=self.tie_weights, reverse_dtype=self.reverse_dtype,
                   logit_soft_cap=self.logit_soft_cap)
        return cfg
