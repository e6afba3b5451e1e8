"""Input plumbing for fit / evaluate / predict: per-sample weights and iterables of batches.

Sample weights (Keras semantics): the batch loss is sum_i w_i * loss_i / N, i.e. the mean over
the batch of the weighted per-sample losses; the loss kernel applies w_i to the value and to
row i of dL/dy_pred in the same pass. ``class_weight`` {class: weight} turns into the same
per-sample weights: w_i = class_weight.get(class of sample i, 1.0), the class being the label
(sparse targets), the argmax (one-hot rows) or the rounded value (a single binary column).
Metrics stay unweighted: Keras weights only ``weighted_metrics``, which corenn does not have.

Iterables: x may be a generator, iterator or any other iterable (not an array, list or tuple)
yielding (x, y) or (x, y, sample_weight) batches (x-only batches for predict). A one-shot
iterator (a generator) is consumed across epochs; a re-iterable object (whose ``__iter__``
returns a fresh iterator) starts over every epoch. ``steps`` caps the batches per epoch; without
it an epoch is one pass to the end. Running out of data ends training with a warning, as Keras.
"""
from __future__ import annotations

import itertools
import math
import numbers
import warnings

import numpy as np

from .. import kernels


def is_batch_iterable(x) -> bool:
    """A Python iterable of batches, as opposed to array data (arrays, lists, tuples, Tensors)."""
    if x is None or isinstance(x, (np.ndarray, kernels.Tensor, list, tuple, dict, str, bytes)):
        return False
    if hasattr(x, "__array__") or hasattr(x, "__array_interface__"):
        return False  # array-likes (pandas, torch, ...) are data, not batches
    return hasattr(x, "__iter__") or hasattr(x, "__next__")


def _class_labels(where, y):
    y = np.asarray(y)
    if y.ndim > 1:
        y = y[..., 0] if y.shape[-1] == 1 else np.argmax(y, axis=-1)
    if y.ndim != 1:
        raise ValueError(f"{where}: class_weight needs one class per sample, but y has shape "
                         f"{np.shape(y)}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError(f"{where}: class_weight needs finite targets")
    return np.round(y).astype(np.int64)


def check_class_weight(where, class_weight):
    """{int class: float weight} from a dict; ValueError naming ``where`` otherwise."""
    if not isinstance(class_weight, dict):
        raise ValueError(f"{where}: class_weight must be a dict {{class index: weight}}, got "
                         f"{type(class_weight).__name__}")
    table = {}
    for cls, weight in class_weight.items():
        if isinstance(cls, bool) or not isinstance(cls, numbers.Integral):
            raise ValueError(f"{where}: class_weight keys must be integer class indices, got "
                             f"{cls!r}")
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) \
                or not np.isfinite(weight):
            raise ValueError(f"{where}: class_weight[{cls}] must be a finite number, got "
                             f"{weight!r}")
        table[int(cls)] = float(weight)
    return table


def class_sample_weights(where, y, table):
    labels = _class_labels(where, y)
    weights = np.ones(len(labels), np.float32)
    for cls, weight in table.items():
        weights[labels == cls] = weight
    return weights


def sample_weights(where, n, y, sample_weight=None, class_weight=None):
    """The (n,) float32 weights for targets y, or None when neither argument is given."""
    if sample_weight is not None and class_weight is not None:
        raise ValueError(f"{where}: pass class_weight or sample_weight, not both (fold the class "
                         f"weights into sample_weight)")
    if class_weight is not None:
        return class_sample_weights(where, y, check_class_weight(where, class_weight))
    if sample_weight is None:
        return None
    if isinstance(sample_weight, kernels.Tensor):
        sample_weight = np.asarray(sample_weight)
    sw = np.asarray(sample_weight)
    if sw.dtype.kind not in "biuf":
        raise TypeError(f"{where}: sample_weight must be numeric, got dtype {sw.dtype}")
    if sw.ndim == 2 and sw.shape[1] == 1:
        sw = sw[:, 0]
    if sw.ndim != 1 or len(sw) != n:
        raise ValueError(f"{where}: sample_weight must have shape ({n},), one weight per sample, "
                         f"got shape {sw.shape}")
    sw = np.ascontiguousarray(sw, dtype=np.float32)
    if not np.all(np.isfinite(sw)):
        raise ValueError(f"{where}: sample_weight contains NaN or infinite values")
    return sw


def split_batch(where, batch, index, targets=True):
    """(x, y, sample_weight) of one batch from an iterable; x alone (as (x,)) for predict."""
    if not targets:
        if isinstance(batch, (tuple, list)):
            if not 1 <= len(batch) <= 3:
                raise ValueError(f"{where}: batch {index} must be x or a tuple (x,), (x, y) or "
                                 f"(x, y, sample_weight); got a {type(batch).__name__} of "
                                 f"{len(batch)} items")
            return batch[0], None, None
        return batch, None, None
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        what = (f"a {type(batch).__name__} of {len(batch)} items"
                if isinstance(batch, (tuple, list)) else f"a {type(batch).__name__}")
        raise ValueError(f"{where}: batch {index} from the data iterable must be a tuple (x, y) or "
                         f"(x, y, sample_weight), got {what}")
    return batch[0], batch[1], (batch[2] if len(batch) == 3 else None)


class BatchStream:
    """Raw batches from an iterable, one epoch at a time (see the module docstring)."""

    def __init__(self, data, steps):
        self.data = data
        self.steps = None if steps is None else int(steps)
        self.one_shot = hasattr(data, "__next__")  # an iterator: calling iter() would not restart it
        self._it = None
        self.ran_out = False  # the data ended before an epoch got its batches

    def epoch(self):
        """Iterator over this epoch's batches; sets ``ran_out`` if the data ended early."""
        if self._it is None or not self.one_shot:
            self._it = iter(self.data) if hasattr(self.data, "__iter__") else self.data
        count = 0
        while self.steps is None or count < self.steps:
            try:
                batch = next(self._it)
            except StopIteration:
                if count == 0 or self.steps is not None:
                    self.ran_out = True
                return
            count += 1
            yield batch


def positive_or_none(where, name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{where}: {name} must be a positive integer, got {value!r}")
    return int(value)


def peek(iterator):
    """The iterator with its first item put back, or None if it is empty."""
    for first in iterator:
        return itertools.chain([first], iterator)
    return None


def warn_ran_out(where, steps, epochs):
    need = f"steps_per_epoch * epochs = {steps * epochs} batches" if steps else "one pass per epoch"
    warnings.warn(f"{where}: the data iterable ran out of data; interrupting training. Make sure it "
                  f"can produce {need} (a generator is consumed once: use a re-iterable object or "
                  "repeat it)", UserWarning, stacklevel=3)


def tensor_or_none(a):
    return None if a is None else kernels.as_tensor(a)


def row_weights(sample_weight, h):
    """Per-sample weights over the rows the loss kernel sees: an (N, T, C) output has N*T rows."""
    if sample_weight is None:
        return None
    n = sample_weight.shape[0]
    rows = math.prod(h.shape[:-1])
    if rows == n:
        return sample_weight
    return np.repeat(np.asarray(sample_weight), rows // n)
