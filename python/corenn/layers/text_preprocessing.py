"""Category and text preprocessing layers (Keras layers/preprocessing): CategoryEncoding,
StringLookup, IntegerLookup, TextVectorization.

They map tokens to indices and indices to encodings with NumPy in Python (a dictionary lookup
has no FLOPs for a kernel to own, and no gradient). The lookups keep their vocabulary in their
config (a JSON list), so it saves and loads with the model; nothing is pickled.

Index layout (Keras'): [mask token (if any)] [OOV indices] [vocabulary...].
    StringLookup(vocabulary=["a", "b"])                -> "[UNK]" 0, "a" 1, "b" 2
    StringLookup(vocabulary=["a", "b"], mask_token="") -> "" 0, "[UNK]" 1, "a" 2, "b" 3
adapt() keeps the most frequent tokens, ties broken as Keras does (count descending, then token
descending), up to max_tokens entries including the mask and OOV entries.

Hashing bins strings (and integers, as their decimal strings) with FarmHash Fingerprint64, as
Keras does (tf.strings.to_hash_bucket_fast); _farmhash.py is checked against the C++ library.

Strings are not Tensors (those hold numbers): a batch of strings is a NumPy array of str
(dtype object). The string layers take such arrays eagerly, and are nodes of a model on an
``Input(dtype='string')`` (or first in a Sequential fed raw text): the graph hands them the batch's
array in that input's slot, and their outputs are Tensors again. tf_idf: counts times
log(1 + documents / (1 + documents holding the token)) learned by adapt (the OOV entry gets the
mean weight), as Keras.

Hashing's salt switches to SipHash-2-4 keyed by the salt (tf.strings.to_hash_bucket_strong), as
Keras. Not built: sparse / ragged outputs.
"""
from __future__ import annotations

import collections
import re

import numpy as np

from .. import kernels, strings
from .base import Layer, shape_str

__all__ = ["CategoryEncoding", "Hashing", "HashedCrossing", "StringLookup", "IntegerLookup", "TextVectorization"]

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")
LOOKUP_MODES = OUTPUT_MODES + ("tf_idf",)


def _encode_kept(indices, depth, output_mode, name):
    """_encode of a lookup's indices, where -1 marks a masked input that adds nothing."""
    idx = np.asarray(indices)
    dropped = idx < 0
    if not dropped.any():
        return _encode(idx, depth, output_mode, name)
    safe = np.where(dropped, 0, idx)
    if output_mode == "one_hot":
        out = _encode(safe, depth, output_mode, name)
        keep = ~dropped
        if out.ndim == keep.ndim + 1:
            return out * keep[..., None]
        return out * keep.reshape(out.shape[:-1] + (1,))
    counted = _encode(safe, depth, "count", name, count_weights=(~dropped).astype(np.float32))
    return (counted > 0).astype(np.float32) if output_mode == "multi_hot" else counted


def _encode(indices, depth, output_mode, name, count_weights=None):
    """one_hot / multi_hot / count of integer indices (N,) or (N, k) over ``depth`` bins,
    float32 (N, depth) (one_hot of (N, k) with k > 1: (N, k, depth)), as Keras encodes them."""
    idx = np.asarray(indices)
    if idx.ndim == 0:
        idx = idx.reshape(1)
    if idx.size and (idx.min() < 0 or idx.max() >= depth):
        bad = idx[(idx < 0) | (idx >= depth)].reshape(-1)[0]
        raise ValueError(f"{name}: index {bad} is outside [0, {depth}) (num_tokens={depth})")
    idx = idx.astype(np.int64)
    if output_mode == "one_hot":
        squeeze = idx.ndim == 2 and idx.shape[1] == 1
        flat = idx[:, 0] if squeeze else idx
        out = np.zeros(flat.shape + (depth,), np.float32)
        np.put_along_axis(out, flat[..., None], 1.0, axis=-1)
        return out
    if idx.ndim == 1:
        idx = idx[:, None]
    if idx.ndim != 2:
        raise ValueError(f"{name}: {output_mode} needs inputs of rank 1 or 2, got shape {idx.shape}")
    out = np.zeros((idx.shape[0], depth), np.float32)
    rows = np.repeat(np.arange(idx.shape[0]), idx.shape[1])
    if output_mode == "multi_hot":
        out[rows, idx.reshape(-1)] = 1.0
    else:
        w = np.ones(idx.shape, np.float32) if count_weights is None else \
            np.broadcast_to(np.asarray(count_weights, np.float32), idx.shape)
        np.add.at(out, (rows, idx.reshape(-1)), w.reshape(-1))
    return out


def _whole_numbers(x, name):
    a = np.asarray(x)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise ValueError(f"{name}: inputs must be whole numbers, got {a.reshape(-1)[:5]}...")
        a = a.astype(np.int64)
    elif a.dtype.kind not in "iu":
        raise TypeError(f"{name}: inputs must be integers, got dtype {a.dtype}")
    return a


class CategoryEncoding(Layer):
    """Encodes integer category indices in [0, num_tokens) as one_hot, multi_hot (a 1 for each
    index present in a row) or count vectors (how often; optionally weighted by count_weights).

    Args:
        num_tokens: the number of categories.
        output_mode: 'one_hot', 'multi_hot' or 'count'.
    """

    # its outputs are indices / counts, not float arithmetic: the same under a float64 policy
    # (base._float64_layer runs it as it is)
    _float64_exempt = True

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(num_tokens, bool) or not isinstance(num_tokens, (int, np.integer)) or num_tokens < 1:
            raise ValueError(f"CategoryEncoding '{self.name}': num_tokens must be a positive int, "
                             f"got {num_tokens!r}")
        if output_mode not in ("one_hot", "multi_hot", "count"):
            raise ValueError(f"CategoryEncoding '{self.name}': output_mode must be one_hot, "
                             f"multi_hot or count, got {output_mode!r}")
        self.num_tokens, self.output_mode = int(num_tokens), output_mode
        self.sparse = bool(sparse)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.output_mode == "one_hot" and len(input_shape) == 2 and input_shape[1] not in (1,):
            return input_shape + (self.num_tokens,)
        return (input_shape[0], self.num_tokens)

    def __call__(self, inputs, count_weights=None, **kwargs):
        if count_weights is not None:
            if self.output_mode != "count":
                raise ValueError(f"CategoryEncoding '{self.name}': count_weights needs output_mode='count'")
            out = kernels.as_tensor(_encode(_whole_numbers(inputs, self.name), self.num_tokens,
                                            "count", self.name, count_weights))
        else:
            out = super().__call__(inputs, **kwargs)
        if self.sparse and isinstance(out, kernels.Tensor):
            # sparse=True called on data: a tf.SparseTensor of the non-zero entries, as Keras
            # gives (tf.sparse.to_dense reads it back). Inside a functional model the output
            # stays dense: corenn's kernels are dense, and the values are the same
            from .. import sparse as _sparse
            return _sparse.from_dense(out)
        return out

    def forward(self, x, training=False):
        return kernels.as_tensor(_encode(_whole_numbers(x, self.name), self.num_tokens,
                                         self.output_mode, self.name))

    def backward(self, dy):
        return None  # integer inputs: nothing upstream to differentiate

    def get_config(self):
        cfg = super().get_config()
        cfg.update(num_tokens=self.num_tokens, output_mode=self.output_mode, sparse=self.sparse)
        return cfg


class Hashing(Layer):
    """Hashes each value into one of ``num_bins`` bins: FarmHash Fingerprint64 of its UTF-8 text
    (an integer hashes as its decimal string, a float as its truncated integer's), modulo
    num_bins, as Keras. With ``mask_value``
    that value goes to bin 0 and the others to 1 + hash % (num_bins - 1). output_mode 'int'
    gives the bins (int64, the input's shape); one_hot / multi_hot / count encode them.

    Args:
        num_bins: number of bins (including the mask bin when mask_value is set).
        mask_value: a value mapped to bin 0, or None.
        salt: None (FarmHash), or an int / a pair of ints: then SipHash-2-4 keyed by the pair
            ([salt, salt] for an int), Keras' and tf.strings.to_hash_bucket_strong's hash.
        output_mode: 'int', 'one_hot', 'multi_hot' or 'count'.
    """

    # its outputs are indices / counts, not float arithmetic: the same under a float64 policy
    # (base._float64_layer runs it as it is)
    _float64_exempt = True

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) or num_bins < 1 \
                or (mask_value is not None and num_bins < 2):
            raise ValueError(f"Hashing '{self.name}': num_bins must be a positive int (>= 2 with a "
                             f"mask_value), got {num_bins!r}")
        if sparse:
            raise NotImplementedError(f"Hashing '{self.name}': sparse outputs are not supported")
        if salt is not None:
            if isinstance(salt, (int, np.integer)) and not isinstance(salt, bool):
                salt = [int(salt), int(salt)]
            elif isinstance(salt, (list, tuple)) and len(salt) == 2 and all(
                    isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in salt):
                salt = [int(v) for v in salt]
            else:
                raise ValueError(f"Hashing '{self.name}': salt must be an int or a pair of ints, got {salt!r}")
        self.salt = salt
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"Hashing '{self.name}': output_mode must be one of "
                             f"{', '.join(OUTPUT_MODES)}, got {output_mode!r}")
        self.num_bins, self.mask_value, self.output_mode = int(num_bins), mask_value, output_mode

    @property
    def output_dtype(self):
        return "int64" if self.output_mode == "int" else "float32"

    def _text(self, v):
        if isinstance(v, bytes):
            return v
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return str(int(v)).encode()
        if isinstance(v, (float, np.floating)) and np.isfinite(v):
            return str(int(v)).encode()  # Keras casts floats to int64 (truncating) first
        if isinstance(v, str):
            return v.encode("utf-8")
        raise TypeError(f"Hashing '{self.name}': values must be strings or integers, got {v!r}"[:200])

    def _bins(self, values):
        from ._farmhash import fingerprint64
        if self.salt is not None:
            from .._strings_more import siphash24
            k0, k1 = self.salt

            def fingerprint64(text):  # noqa: F811 - the salted hash replaces FarmHash
                return siphash24(k0, k1, text)
        arr = np.asarray(values, dtype=object)
        out = np.empty(arr.shape, np.int64)
        mask = None if self.mask_value is None else self._text(self.mask_value)
        for i, v in enumerate(arr.reshape(-1)):
            text = self._text(v)
            if mask is None:
                out.reshape(-1)[i] = fingerprint64(text) % self.num_bins
            else:
                out.reshape(-1)[i] = 0 if text == mask else 1 + fingerprint64(text) % (self.num_bins - 1)
        return out

    def __call__(self, inputs, training=None, **kwargs):
        from ..models.graph import KerasTensor
        if isinstance(inputs, (KerasTensor, kernels.Tensor)):
            return super().__call__(inputs, training=training, **kwargs)
        return self._apply(inputs)

    def _apply(self, values):
        bins = self._bins(values)
        if self.output_mode == "int":
            return kernels.as_tensor(bins)
        return kernels.as_tensor(_encode(bins, self.num_bins, self.output_mode, self.name))

    def forward(self, x, training=False):  # a graph node: numeric inputs
        return self._apply(np.asarray(x).tolist())

    def backward(self, dy):
        return None

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        return (input_shape[0], self.num_bins)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(num_bins=self.num_bins, mask_value=self.mask_value, salt=self.salt,
                   output_mode=self.output_mode, sparse=False)
        return cfg


_MASK64 = 0xFFFFFFFFFFFFFFFF
_CROSS_HASH_KEY = 0xDECAFCAFFE   # TensorFlow's default key for tf.sparse.cross_hashed
_CROSS_MUL = 0xC6A4A7935BD1E995


def _shift_mix(v):
    return v ^ (v >> 47)


def _fingerprint_cat64(fp1, fp2):
    """TensorFlow's FingerprintCat64 (tensorflow/core/platform/fingerprint.h): combines two
    64-bit fingerprints, in unsigned 64-bit arithmetic."""
    result = (fp1 ^ _CROSS_MUL) & _MASK64
    result ^= (_shift_mix((fp2 * _CROSS_MUL) & _MASK64) * _CROSS_MUL) & _MASK64
    result = (result * _CROSS_MUL) & _MASK64
    result = (_shift_mix(result) * _CROSS_MUL) & _MASK64
    return _shift_mix(result)


class HashedCrossing(Layer):
    """Crosses two or more categorical features into one of ``num_bins`` bins (Keras 3's
    HashedCrossing, used by FeatureSpace's crosses). Each sample's values are combined with
    TensorFlow's recipe for tf.sparse.cross_hashed, which Keras calls: a string contributes its
    FarmHash Fingerprint64, an integer its own value (as uint64); starting from the key
    0xDECAFCAFFE, FingerprintCat64 folds them in order; the bin is the result modulo num_bins.
    (The recipe is TensorFlow's sparse_cross_op; tf.sparse.cross_hashed, built on the same
    functions, gives TensorFlow 2.21's buckets: tests/api/test_tf_more_names.py.)

    Args:
        num_bins: number of bins.
        output_mode: 'int' (int64 bins, the inputs' shape) or 'one_hot' ((batch, num_bins)).
    """

    def __init__(self, num_bins, output_mode="int", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) or num_bins < 1:
            raise ValueError(f"HashedCrossing '{self.name}': num_bins must be a positive int, got {num_bins!r}")
        if output_mode not in ("int", "one_hot"):
            raise ValueError(f"HashedCrossing '{self.name}': output_mode must be 'int' or 'one_hot', "
                             f"got {output_mode!r}")
        if sparse:
            raise NotImplementedError(f"HashedCrossing '{self.name}': sparse outputs are not supported")
        self.num_bins, self.output_mode = int(num_bins), output_mode

    @property
    def output_dtype(self):
        return "int64" if self.output_mode == "int" else "float32"

    def _check_inputs(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"HashedCrossing '{self.name}': takes a list or tuple of at least two inputs, "
                             f"got {type(inputs).__name__}")

    def __call__(self, inputs, training=None, **kwargs):
        from ..models.graph import KerasTensor
        self._check_inputs(inputs)
        if any(isinstance(t, (KerasTensor, kernels.Tensor)) for t in inputs):
            return super().__call__(list(inputs), training=training, **kwargs)
        return self._apply(inputs)

    def _value_hash(self, v):
        if isinstance(v, bytes):
            v = v.decode("utf-8")
        if isinstance(v, str):
            from ._farmhash import fingerprint64
            return fingerprint64(v.encode("utf-8"))
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return int(v) & _MASK64
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return int(v) & _MASK64   # integer ids that arrived as floats (a Tensor slot)
        raise TypeError(f"HashedCrossing '{self.name}': values must be strings or integers, got {v!r}"[:200])

    def _apply(self, values):
        arrays = [np.asarray(v.tolist() if isinstance(v, np.ndarray) and v.dtype == object else v, dtype=object)
                  for v in values]
        shape = arrays[0].shape
        if any(a.shape != shape for a in arrays):
            raise ValueError(f"HashedCrossing '{self.name}': all inputs must have the same shape, got "
                             f"{[a.shape for a in arrays]}")
        flat = [a.reshape(-1) for a in arrays]
        bins = np.empty(len(flat[0]), np.int64)
        for i in range(len(bins)):
            h = _CROSS_HASH_KEY
            for column in flat:
                h = _fingerprint_cat64(h, self._value_hash(column[i]))
            bins[i] = h % self.num_bins
        bins = bins.reshape(shape)
        if self.output_mode == "int":
            return kernels.as_tensor(np.ascontiguousarray(bins))
        return kernels.as_tensor(_encode(bins, self.num_bins, "one_hot", self.name))

    def forward(self, inputs, training=False):   # a graph node: a list of numeric (or str) slots
        self._n_inputs = len(inputs)
        return self._apply([x if isinstance(x, np.ndarray) and x.dtype == object else np.asarray(x).tolist()
                            for x in inputs])

    def backward(self, dy):
        return [None] * self._n_inputs   # categories: nothing upstream to differentiate

    def compute_output_shape(self, input_shapes):
        first = tuple(input_shapes[0])
        if self.output_mode == "int":
            return first
        return (first[0], self.num_bins)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(num_bins=self.num_bins, output_mode=self.output_mode, sparse=False)
        return cfg


def _ragged_rows(inputs):
    """The rows of a ragged batch (an object array or list whose items are lists or arrays, as
    tf.strings.split gives them), else None."""
    if isinstance(inputs, (kernels.Tensor, str, bytes)) or not isinstance(inputs, (list, tuple, np.ndarray)):
        return None
    if isinstance(inputs, np.ndarray) and (inputs.dtype != object or inputs.ndim != 1):
        return None
    items = list(np.asarray(inputs)) if isinstance(inputs, np.ndarray) else list(inputs)   # raw rows
    if items and all(isinstance(r, (list, tuple, np.ndarray)) for r in items) and \
            len({len(r) for r in items}) > 1:
        return items
    if isinstance(inputs, np.ndarray) and items and all(isinstance(r, (list, tuple)) for r in items):
        return items   # an object array of lists: ragged by construction, even if equally long
    return None


def _check_symbolic_dtype(layer, t, wanted):
    """A text layer called on a KerasTensor: strings must come from an Input(dtype='string')."""
    is_text = t.dtype == "string"
    if (wanted == "string") != is_text:
        want = "strings: an Input(shape=..., dtype='string')" if wanted == "string" else "numbers"
        raise TypeError(f"{type(layer).__name__} '{layer.name}': takes {want}, got {t!r}")


# ---------------------------------------------------------------------------------------------
# Lookups


class _IndexLookup(Layer):
    """Token -> index (and back with invert) over a vocabulary; see the module docstring."""

    # its outputs are indices / counts, not float arithmetic: the same under a float64 policy
    # (base._float64_layer runs it as it is)
    _float64_exempt = True

    _token_kind = "string"

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, invert,
                 output_mode, pad_to_max_tokens, sparse, idf_weights, **kwargs):
        super().__init__(**kwargs)
        cls = f"{type(self).__name__} '{self.name}'"
        if max_tokens is not None and (isinstance(max_tokens, bool) or int(max_tokens) < 1):
            raise ValueError(f"{cls}: max_tokens must be None or a positive int, got {max_tokens!r}")
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices, (int, np.integer)) \
                or num_oov_indices < 0:
            raise ValueError(f"{cls}: num_oov_indices must be an int >= 0, got {num_oov_indices!r}")
        # Keras still takes the TF 2.x names of two modes (the structured-data example uses "binary")
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if output_mode not in LOOKUP_MODES:
            raise NotImplementedError(f"{cls}: output_mode must be one of {', '.join(LOOKUP_MODES)}, "
                                      f"got {output_mode!r}")
        if output_mode != "int" and invert:
            raise NotImplementedError(f"{cls}: invert works with output_mode='int' only")
        if sparse:
            raise NotImplementedError(f"{cls}: sparse outputs are not supported")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"{cls}: idf_weights needs output_mode='tf_idf'")
        self.idf_weights = None   # (depth,) float32 once known: set_vocabulary or adapt
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token, self.oov_token = mask_token, oov_token
        self.invert, self.output_mode = bool(invert), output_mode
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"{cls}: pad_to_max_tokens needs max_tokens")
        self._tokens = []
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # -- vocabulary ------------------------------------------------------------------------

    def _token(self, t):
        return str(t) if self._token_kind == "string" else int(t)

    def _masks_to_zero(self):
        """The mask token takes index 0 (output_mode 'int'); in the encoding modes it has no
        column and masked inputs are dropped, as in Keras."""
        return self.mask_token is not None and self.output_mode == "int"

    def _reserved(self):
        return ([self.mask_token] if self._masks_to_zero() else []) + \
            [self.oov_token] * self.num_oov_indices

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Use ``vocabulary`` (a list or 1-D array of tokens, without the mask and OOV entries;
        a leading mask / OOV token is accepted and dropped, as Keras does)."""
        tokens = [self._token(t) for t in np.asarray(vocabulary, dtype=object).reshape(-1)]
        given = len(tokens)
        reserved = self._reserved()
        found_reserved = tokens[:len(reserved)] == reserved and bool(reserved)
        if found_reserved:
            tokens = tokens[len(reserved):]
        if len(set(tokens)) != len(tokens):
            dup = next(t for t, n in collections.Counter(tokens).items() if n > 1)
            raise ValueError(f"{type(self).__name__} '{self.name}': the vocabulary repeats {dup!r}")
        if any(t in (self.mask_token, self.oov_token) for t in tokens if t is not None):
            raise ValueError(f"{type(self).__name__} '{self.name}': the vocabulary contains the "
                             f"mask or OOV token inside it")
        if self.max_tokens is not None and len(tokens) + len(reserved) > self.max_tokens:
            raise ValueError(f"{type(self).__name__} '{self.name}': a vocabulary of {len(tokens)} "
                             f"tokens plus {len(reserved)} mask/OOV entries exceeds max_tokens="
                             f"{self.max_tokens}")
        self._tokens = tokens
        self._index = {t: i + len(reserved) for i, t in enumerate(tokens)}
        self.idf_weights = None   # weights of an earlier vocabulary no longer apply
        if self.output_mode == "tf_idf" and idf_weights is not None:
            w = np.asarray(idf_weights, np.float64).reshape(-1)
            if w.size != given or not np.all(np.isfinite(w)):
                raise ValueError(f"{type(self).__name__} '{self.name}': idf_weights must be {given} "
                                 f"finite numbers, one per vocabulary entry, got {w.size}")
            # no document frequency for the OOV entry: Keras gives it the mean weight
            front = [] if found_reserved else [float(np.mean(w))] * len(reserved) if w.size else []
            self.idf_weights = self._pad_idf(np.concatenate([front, w]))

    def _pad_idf(self, w):
        """idf weights (vocabulary order) padded with zeros to the output depth."""
        depth = self._depth()
        if w.size < depth:
            w = np.concatenate([w, np.zeros(depth - w.size)])
        return np.ascontiguousarray(w, np.float32)

    def get_vocabulary(self, include_special_tokens=True):
        return (self._reserved() if include_special_tokens else []) + list(self._tokens)

    def vocabulary_size(self):
        return len(self._reserved()) + len(self._tokens)

    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary: the most frequent tokens of ``data`` (an array, or an iterable
        of batches), up to max_tokens entries with the mask and OOV ones. tf_idf also learns
        idf weights, each row of a batch being a document (a 1-D array: one token each)."""
        documents = []
        for batch in self._batches(data, steps):
            rows = _ragged_rows(batch)
            if rows is not None:   # token lists of different lengths (tf.ragged-style): one document a row
                documents.extend([self._token(t) for t in row] for row in rows)
                continue
            b = np.asarray(batch, dtype=object)
            rows = b.reshape(-1, 1) if b.ndim <= 1 else b.reshape(b.shape[0], -1)
            documents.extend([self._token(t) for t in row] for row in rows)
        self._adapt_documents(documents)

    def _adapt_documents(self, documents):
        """The vocabulary (and tf_idf's weights) from documents, each a list of tokens."""
        counts = collections.Counter()
        doc_counts = collections.Counter()
        for doc in documents:
            counts.update(doc)
            if self.output_mode == "tf_idf":
                doc_counts.update(set(doc))
        counts.pop(self.mask_token, None)
        ranked = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        room = None if self.max_tokens is None else self.max_tokens - len(self._reserved())
        vocab = [t for t, _ in ranked[:room]]
        self.set_vocabulary(vocab)
        if self.output_mode == "tf_idf":
            # Keras' weights: log(1 + documents / (1 + documents holding the token)), the OOV
            # entry the mean of the vocabulary's
            n_docs = len(documents)
            w = np.log1p(n_docs / (1.0 + np.asarray([doc_counts[t] for t in vocab], np.float64)))
            oov = [float(np.mean(w))] * len(self._reserved()) if w.size else [0.0] * len(self._reserved())
            self.idf_weights = self._pad_idf(np.concatenate([oov, w]))

    @staticmethod
    def _batches(data, steps):
        if isinstance(data, (list, tuple, np.ndarray)) or not hasattr(data, "__iter__"):
            return [data]
        return (b for i, b in enumerate(data) if steps is None or i < steps)

    # -- lookup ----------------------------------------------------------------------------

    def _lookup(self, tokens):
        """int64 indices of an array of tokens; OOV -> the OOV index (or an error without one)."""
        flat = np.asarray(tokens, dtype=object).reshape(-1)
        oov = 1 if self._masks_to_zero() else 0
        masked = 0 if self._masks_to_zero() else -1   # -1: dropped by the encoding modes
        out = np.empty(flat.shape, np.int64)
        for i, t in enumerate(flat):
            t = self._token(t)
            if self.mask_token is not None and t == self.mask_token:
                out[i] = masked
                continue
            j = self._index.get(t)
            if j is None:
                if self.num_oov_indices == 0:
                    from .. import ops
                    if ops.SHAPE_PROBE.depth:   # a shape probe's placeholder strings: any index
                        out[i] = 0
                        continue
                    raise ValueError(f"{type(self).__name__} '{self.name}': {t!r} is not in the "
                                     f"vocabulary and num_oov_indices=0")
                j = oov + self._oov_bucket(t) if self.num_oov_indices > 1 else oov
            out[i] = j
        return out.reshape(np.shape(tokens))

    def _oov_bucket(self, token):
        """Which of the num_oov_indices OOV buckets an unknown token takes, as Keras: FarmHash64
        of a string's UTF-8 bytes (TensorFlow's to_hash_bucket_fast), an integer modulo n."""
        n = self.num_oov_indices
        if self._token_kind == "string":
            from ._farmhash import fingerprint64
            return fingerprint64(str(token).encode("utf-8")) % n
        return int(token) % n

    def _invert(self, indices):
        vocab = self.get_vocabulary()
        idx = _whole_numbers(indices, self.name)
        # an index outside the vocabulary gives the OOV token, as Keras' inverse table's default
        # (ctc_decode pads its results with -1: num_to_char of them gives "")
        table = np.asarray(list(vocab) + [self.oov_token], dtype=object if self._token_kind == "string" else np.int64)
        return table[np.where((idx < 0) | (idx >= len(vocab)), len(vocab), idx)]

    def _depth(self):
        return self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()

    def __call__(self, inputs, training=None, **kwargs):
        """On a KerasTensor (an Input(dtype='string') or an integer input) a node of the model;
        on data it runs now: strings are arrays of str, never Tensors."""
        from ..models.graph import KerasTensor
        if isinstance(inputs, KerasTensor):
            _check_symbolic_dtype(self, inputs, "string" if self._token_kind == "string" and not self.invert
                                  else "number")
            return super().__call__(inputs, training=training, **kwargs)
        if self._token_kind != "string" and isinstance(inputs, kernels.Tensor):
            return super().__call__(inputs, training=training, **kwargs)
        return strings.wrap(self._apply(inputs))   # TensorFlow's methods on strings / ragged rows

    @property
    def output_dtype(self):
        if self.invert:
            return "string" if self._token_kind == "string" else "int64"
        return "int64" if self.output_mode == "int" else "float32"

    def check_input_shape(self, shape):
        pass   # a lookup maps each element: any shape

    def _apply(self, inputs):
        rows = _ragged_rows(inputs)
        if rows is not None:
            # token lists of different lengths (tf.strings.split / unicode_split): one result
            # per row, in an object array, as TensorFlow gives a RaggedTensor; multi_hot / count /
            # tf_idf encode each row into one dense (rows, depth) row (Keras' multi-label targets)
            if self.output_mode in ("multi_hot", "count", "tf_idf") and not self.invert:
                depth = self._depth()
                dense = np.zeros((len(rows), depth), np.float32)
                mode = "multi_hot" if self.output_mode == "multi_hot" else "count"
                for i, row in enumerate(rows):
                    idx = self._lookup(np.asarray(list(row) + [None], dtype=object)[:-1])
                    if idx.size:
                        dense[i] = _encode_kept(idx[None, :], depth, mode, self.name)[0]
                if self.output_mode == "tf_idf":
                    dense *= self._idf()
                return kernels.as_tensor(dense)
            if self.output_mode != "int":
                raise ValueError(f"{type(self).__name__} '{self.name}': rows of different lengths "
                                 f"need output_mode='int', 'multi_hot', 'count' or 'tf_idf', got "
                                 f"{self.output_mode!r}")
            out = np.empty(len(rows), dtype=object)
            for i, row in enumerate(rows):
                out[i] = self._invert(np.asarray(row)) if self.invert else \
                    self._lookup(np.asarray(list(row) + [None], dtype=object)[:-1])
            return out
        if self.invert:
            return self._invert(inputs)
        indices = self._lookup(inputs)
        if self.output_mode == "int":   # (one string gives a 0-d index, as TensorFlow's)
            return kernels.as_tensor(np.ascontiguousarray(indices).reshape(np.shape(indices)))
        if self.output_mode == "tf_idf":
            return kernels.as_tensor(_encode_kept(indices, self._depth(), "count", self.name) * self._idf())
        return kernels.as_tensor(_encode_kept(indices, self._depth(), self.output_mode, self.name))

    def _idf(self):
        if self.idf_weights is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': output_mode='tf_idf' needs idf "
                             "weights: call adapt(data), or pass vocabulary= with idf_weights=")
        return self.idf_weights

    def forward(self, x, training=False):  # a graph node: x is a Tensor, or an array of str
        return self._apply(x if isinstance(x, np.ndarray) else np.asarray(x))

    def backward(self, dy):
        return None

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        return (input_shape[0], self._depth())

    def get_config(self):
        cfg = super().get_config()
        cfg.update(max_tokens=self.max_tokens, num_oov_indices=self.num_oov_indices,
                   mask_token=self.mask_token, oov_token=self.oov_token,
                   vocabulary=list(self._tokens) or None, invert=self.invert,
                   output_mode=self.output_mode, pad_to_max_tokens=self.pad_to_max_tokens,
                   sparse=False, idf_weights=self._idf_config())
        return cfg

    def _idf_config(self):
        """idf weights for the config (with the vocabulary above: one per reserved and vocabulary
        entry, so set_vocabulary finds the reserved entries and takes them as they are)."""
        if self.idf_weights is None or not self._tokens:
            return None
        return [float(v) for v in self.idf_weights[:self.vocabulary_size()]]

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        vocab, idf = config.get("vocabulary"), config.get("idf_weights")
        if vocab is not None and idf is not None:
            layer = cls(**{k: v for k, v in config.items() if k not in ("vocabulary", "idf_weights")})
            reserved = layer._reserved()
            if len(idf) == len(vocab) + len(reserved):
                layer.set_vocabulary(reserved + list(vocab), idf)
                return layer
        return cls(**config)


class StringLookup(_IndexLookup):
    """Maps strings to integer indices (or, with invert, indices to strings), or encodes them
    (one_hot / multi_hot / count); see the module docstring for the index layout.

    Args:
        max_tokens: the most entries (mask and OOV included) adapt keeps; None: no limit.
        num_oov_indices: how many OOV indices (0: an unknown token is an error; n > 1: an unknown
            string goes to bucket FarmHash64(token) % n, an integer to token % n, as Keras).
        mask_token: a token mapped to index 0 (None: no mask).
        oov_token: the vocabulary entry of the OOV index (returned by invert).
        vocabulary: a list of strings (else learn one with adapt).
        invert, output_mode, pad_to_max_tokens: as Keras.
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, encoding="utf-8", **kwargs):
        if encoding != "utf-8":
            raise NotImplementedError("StringLookup: only utf-8 is supported")
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, invert,
                         output_mode, pad_to_max_tokens, sparse, idf_weights, **kwargs)

    def _token(self, t):
        return t.decode("utf-8") if isinstance(t, bytes) else str(t)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(encoding="utf-8")
        return cfg


class IntegerLookup(_IndexLookup):
    """Maps integers to contiguous indices (or back, with invert), or encodes them; as
    StringLookup with integer tokens (oov_token -1, mask_token None or an int). Works as a graph
    node too (its inputs are numbers)."""

    _token_kind = "int"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 output_mode="int", sparse=False, vocabulary=None, vocabulary_dtype="int64",
                 idf_weights=None, invert=False, pad_to_max_tokens=False, **kwargs):
        if vocabulary_dtype not in ("int64", "int32"):
            raise NotImplementedError("IntegerLookup: vocabulary_dtype must be int64 or int32")
        self.vocabulary_dtype = vocabulary_dtype
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, invert,
                         output_mode, pad_to_max_tokens, sparse, idf_weights, **kwargs)

    def _token(self, t):
        if isinstance(t, (float, np.floating)) and float(t) != round(float(t)):
            raise ValueError(f"IntegerLookup '{self.name}': token {t!r} is not a whole number")
        return int(t)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(vocabulary_dtype=self.vocabulary_dtype)
        return cfg


# ---------------------------------------------------------------------------------------------
# TextVectorization

# Keras' default punctuation set for "lower_and_strip_punctuation" (ASCII punctuation).
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~\']')
STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
SPLIT = ("whitespace", "character")


class TextVectorization(Layer):
    """Turns strings into token indices (or multi_hot / count / tf_idf vectors):
    standardize (lower-case and/or strip ASCII punctuation, or a callable), split (whitespace,
    characters, or a callable), optionally add ngrams, then look each token up in a StringLookup
    whose vocabulary is set or learned by ``adapt``. Index 0 is padding ("" mask), 1 is "[UNK]"
    (output_mode 'int'); other modes have no mask entry, as in Keras.

    A callable ``standardize`` / ``split`` is called on the whole batch, as in Keras: an object
    array of str (N,), which the ``tf.strings`` functions (corenn.strings) map over; ``split``
    returns one token list per string. The layer runs on arrays of strings, or as a node of a
    model on an ``Input(dtype='string')`` (also first in a Sequential fed raw strings).

    Args:
        max_tokens: vocabulary size limit (mask and OOV included).
        standardize: None, 'lower_and_strip_punctuation', 'lower', 'strip_punctuation' or a callable.
        split: None, 'whitespace', 'character' or a callable.
        ngrams: None, n (ngrams of 1..n tokens) or a tuple of sizes; an ngram is its tokens
            joined by a space, all ngrams of one size following those of the size before.
        output_mode: 'int', 'multi_hot', 'count' or 'tf_idf' (counts times the idf weights
            adapt learns: log(1 + documents / (1 + documents holding the token))).
        output_sequence_length: 'int' mode: pad with 0 / truncate to this length (None: the
            longest in the batch).
        vocabulary, idf_weights: a list of tokens (else adapt), and for tf_idf their weights.
    """

    # its outputs are indices / counts, not float arithmetic: the same under a float64 policy
    # (base._float64_layer runs it as it is)
    _float64_exempt = True

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation",
                 split="whitespace", ngrams=None, output_mode="int", output_sequence_length=None,
                 pad_to_max_tokens=False, vocabulary=None, idf_weights=None, sparse=False,
                 ragged=False, encoding="utf-8", **kwargs):
        super().__init__(**kwargs)
        cls = f"TextVectorization '{self.name}'"
        if not (standardize is None or callable(standardize) or standardize in STANDARDIZE):
            raise ValueError(f"{cls}: standardize must be None, a callable or one of "
                             f"{', '.join(STANDARDIZE)}, got {standardize!r}")
        if not (split is None or callable(split) or split in SPLIT):
            raise ValueError(f"{cls}: split must be None, a callable or one of {', '.join(SPLIT)}, "
                             f"got {split!r}")
        if encoding != "utf-8":
            raise NotImplementedError(f"{cls}: encodings other than utf-8 are not supported")
        if ragged and (output_mode != "int" or output_sequence_length is not None):
            raise ValueError(f"{cls}: ragged=True needs output_mode='int' and no output_sequence_length "
                             f"(got output_mode={output_mode!r}, output_sequence_length={output_sequence_length!r})")
        self.ragged = bool(ragged)
        if output_mode not in ("int", "multi_hot", "count", "tf_idf", "one_hot"):
            raise ValueError(f"{cls}: output_mode must be 'int', 'multi_hot', 'count' or 'tf_idf', "
                             f"got {output_mode!r}")
        self.ngrams = _ngram_sizes(ngrams, cls)
        if self.ngrams is not None and split is None:
            raise ValueError(f"{cls}: ngrams need split (tokens to join)")
        if output_sequence_length is not None and (output_mode != "int" or int(output_sequence_length) < 1):
            raise ValueError(f"{cls}: output_sequence_length must be a positive int and needs "
                             f"output_mode='int', got {output_sequence_length!r}")
        self.standardize, self.split = standardize, split
        self.output_mode = output_mode
        self.output_sequence_length = None if output_sequence_length is None else int(output_sequence_length)
        self._lookup = StringLookup(max_tokens=max_tokens, mask_token="" if output_mode == "int" else None,
                                    output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens,
                                    vocabulary=vocabulary, idf_weights=idf_weights, sparse=sparse,
                                    name=f"{self.name}_lookup")

    @property
    def output_dtype(self):
        return "int64" if self.output_mode == "int" else "float32"

    # -- text to tokens --------------------------------------------------------------------

    def _standardize(self, texts):
        """Standardized copies of ``texts`` (an object array of str (N,))."""
        if self.standardize is None:
            return texts
        if callable(self.standardize):
            from ..strings import as_string_array
            out = as_string_array(self.standardize(texts), "standardize")
            if out.shape != texts.shape:
                raise ValueError(f"TextVectorization '{self.name}': standardize returned shape "
                                 f"{out.shape} for a batch of shape {texts.shape}")
            return out
        lower, strip = "lower" in self.standardize, "strip" in self.standardize
        out = np.empty(texts.shape, dtype=object)
        for i, text in enumerate(texts):
            if lower:
                text = text.lower()
            out[i] = _PUNCTUATION.sub("", text) if strip else text
        return out

    def _split(self, texts):
        """One token list per string."""
        if self.split is None:
            return [[t] for t in texts]
        if callable(self.split):
            rows = self.split(texts)
            rows = [[_as_text(t) for t in (r if not isinstance(r, (str, bytes)) else [r])] for r in rows]
            if len(rows) != len(texts):
                raise ValueError(f"TextVectorization '{self.name}': split returned {len(rows)} rows "
                                 f"for {len(texts)} strings")
            return rows
        return [t.split() for t in texts] if self.split == "whitespace" else [list(t) for t in texts]

    def _with_ngrams(self, tokens):
        if self.ngrams is None:
            return tokens
        return [" ".join(tokens[i:i + n]) for n in self.ngrams for i in range(len(tokens) - n + 1)]

    def _tokens(self, inputs):
        texts = np.asarray(inputs, dtype=object)
        if texts.ndim == 0:
            texts = texts.reshape(1)
        if texts.ndim == 2 and texts.shape[1] == 1:
            texts = texts[:, 0]
        if texts.ndim != 1:
            raise ValueError(f"TextVectorization '{self.name}': expects a batch of strings (N,) or "
                             f"(N, 1), got shape {texts.shape}")
        texts = np.asarray([_as_text(t) for t in texts] + [None], dtype=object)[:-1]
        return [self._with_ngrams(row) for row in self._split(self._standardize(texts))]

    # -- vocabulary ------------------------------------------------------------------------

    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary (and tf_idf's weights) from strings (an array, or an iterable
        of batches); each string is one document."""
        batches = _IndexLookup._batches(data, steps)
        self._lookup._adapt_documents([row for batch in batches for row in self._tokens(batch)])

    def set_vocabulary(self, vocabulary, idf_weights=None):
        self._lookup.set_vocabulary(vocabulary, idf_weights)

    def get_vocabulary(self, include_special_tokens=True):
        return self._lookup.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return self._lookup.vocabulary_size()

    # -- call ------------------------------------------------------------------------------

    def __call__(self, inputs, training=None, **kwargs):
        """Strings (N,) or (N, 1) -> int64 (N, length) indices, or float32 (N, depth) vectors
        (one string: (length,) / (depth,)); on an Input(dtype='string') a node of the model."""
        from ..models.graph import KerasTensor
        if isinstance(inputs, KerasTensor):
            _check_symbolic_dtype(self, inputs, "string")
            return super().__call__(inputs, training=training, **kwargs)
        if isinstance(inputs, kernels.Tensor):
            raise TypeError(f"TextVectorization '{self.name}': takes strings (an array of str), "
                            f"got a Tensor of {inputs.dtype}")
        if np.ndim(inputs) == 0:
            # one string (a Dataset.map over unbatched text): its vector without a batch axis, as
            # TensorFlow gives for a scalar string
            return self._vectorize(inputs)[0]
        return self._vectorize(inputs)

    def forward(self, x, training=False):   # a graph node: x is the batch's array of str
        return self._vectorize(x)

    def backward(self, dy):
        return None

    def check_input_shape(self, shape):
        if not (len(shape) == 1 or len(shape) == 2 and shape[1] in (1, None)):
            raise ValueError(f"layer '{self.name}' (TextVectorization) expects strings of shape "
                             f"(None,) or (None, 1), got {shape_str((None,) + tuple(shape[1:]))}")

    def build(self, input_shape):
        self.check_input_shape(tuple(input_shape))
        super().build(input_shape)

    def _vectorize(self, inputs):
        rows = self._tokens(inputs)
        lookup = self._lookup
        if self.output_mode == "int" and self.ragged:   # one row of ids per string, unpadded
            from ..strings import RaggedTensor
            out = np.empty(len(rows), dtype=object)
            for i, r in enumerate(rows):
                out[i] = lookup._lookup(np.asarray(r + [None], dtype=object)[:-1]).astype(np.int64)
            return out.view(RaggedTensor)
        if self.output_mode == "int":
            length = self.output_sequence_length or max([len(r) for r in rows] + [0])
            out = np.zeros((len(rows), length), np.int64)  # 0 pads: the mask index
            for i, r in enumerate(rows):
                out[i, :min(len(r), length)] = lookup._lookup(np.asarray(r[:length] + [None], dtype=object)[:-1])
            return kernels.as_tensor(out)
        if self.output_mode == "one_hot" and any(len(r) != 1 for r in rows):
            raise ValueError(f"TextVectorization '{self.name}': output_mode='one_hot' needs one "
                             "token per string")
        depth = lookup._depth()
        out = np.zeros((len(rows), depth), np.float32)
        for i, r in enumerate(rows):
            idx = lookup._lookup(np.asarray(r + [None], dtype=object)[:-1])
            if self.output_mode in ("count", "tf_idf"):
                np.add.at(out[i], idx, 1.0)
            else:
                out[i, idx] = 1.0
        if self.output_mode == "tf_idf":
            out *= lookup._idf()
        return kernels.as_tensor(out)

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return (input_shape[0], self.output_sequence_length)
        return (input_shape[0], self._lookup._depth())

    def get_config(self):
        if callable(self.standardize) or callable(self.split):
            raise ValueError(f"TextVectorization '{self.name}': a callable standardize / split "
                             "cannot be saved (Python code); pass a named option")
        cfg = super().get_config()
        cfg.update(max_tokens=self._lookup.max_tokens, standardize=self.standardize,
                   split=self.split, ngrams=self._ngrams_config(), output_mode=self.output_mode,
                   output_sequence_length=self.output_sequence_length,
                   pad_to_max_tokens=self._lookup.pad_to_max_tokens,
                   vocabulary=list(self._lookup._tokens) or None,
                   idf_weights=self._lookup._idf_config(), sparse=False, ragged=self.ragged,
                   encoding="utf-8")
        return cfg

    def _ngrams_config(self):
        return None if self.ngrams is None else list(self.ngrams)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        vocab, idf = config.pop("vocabulary", None), config.pop("idf_weights", None)
        layer = cls(**config)
        if vocab is not None:
            # idf weights in the config cover the OOV entry too: give the vocabulary with it
            layer.set_vocabulary(layer._lookup._reserved() + list(vocab) if idf is not None else vocab, idf)
        return layer


def _as_text(t):
    return t.decode("utf-8") if isinstance(t, bytes) else str(t)


def _ngram_sizes(ngrams, cls):
    """None, or the tuple of ngram sizes (n: 1..n)."""
    if ngrams is None:
        return None
    if isinstance(ngrams, (int, np.integer)) and not isinstance(ngrams, bool):
        if ngrams < 1:
            raise ValueError(f"{cls}: ngrams must be a positive int or a tuple of them, got {ngrams!r}")
        return tuple(range(1, int(ngrams) + 1))
    if isinstance(ngrams, (list, tuple)) and ngrams and all(
            isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1 for n in ngrams):
        return tuple(int(n) for n in ngrams)
    raise ValueError(f"{cls}: ngrams must be None, a positive int or a tuple of them, got {ngrams!r}")
