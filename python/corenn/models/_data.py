"""Input plumbing for fit / evaluate / predict: per-sample weights and iterables of batches.

Sample weights (Keras semantics): the batch loss is sum_i w_i * loss_i / N, i.e. the mean over
the batch of the weighted per-sample losses; the loss kernel applies w_i to the value and to
row i of dL/dy_pred in the same pass. ``class_weight`` {class: weight} turns into the same
per-sample weights: w_i = class_weight.get(class of sample i, 1.0), the class being the label
(sparse targets), the argmax (one-hot rows) or the rounded value (a single binary column).
Metrics stay unweighted: as in Keras, only ``compile(weighted_metrics=...)`` get the weights.

Iterables: x may be a generator, iterator or any other iterable (not an array, list or tuple)
yielding (x, y) or (x, y, sample_weight) batches (x-only batches for predict). A one-shot
iterator (a generator) is consumed across epochs; a re-iterable object (whose ``__iter__``
returns a fresh iterator) starts over every epoch. ``steps`` caps the batches per epoch; without
it an epoch is one pass to the end. Running out of data ends training with a warning, as Keras.

Datasets (corenn.data.Dataset) and PyDatasets (utils.PyDataset / Sequence) are batch sources
too, read as Keras 3 reads them: a Dataset's elements are the batches as they are (one never
batched is refused, with the fix in the message), its cardinality is the epoch's step count, and
with ``steps_per_epoch`` one pass runs on across epochs (a new pass starts when it ends; an epoch
it ends early is cut short with a warning). A PyDataset's batches are ``ds[i]`` for i over
``num_batches``, in a shuffled order when ``fit(shuffle=True)``, with ``on_epoch_begin`` /
``on_epoch_end`` called around every epoch. An infinite source needs ``steps`` (steps_per_epoch,
validation_steps).
"""
from __future__ import annotations

import itertools
import math
import numbers
import warnings

import numpy as np

from .. import kernels


def is_dataset(x) -> bool:
    from ..data import Dataset
    return isinstance(x, Dataset)


def is_py_dataset(x) -> bool:
    from ..utils.py_dataset import PyDataset
    return isinstance(x, PyDataset)


def is_batch_source(x) -> bool:
    """Batches rather than arrays: a Dataset, a PyDataset, or another iterable of batches."""
    return is_batch_iterable(x) or is_py_dataset(x)


def source_kind(x) -> str:
    """How messages name a batch source."""
    if is_dataset(x):
        return "a Dataset"
    if is_py_dataset(x):
        return "a PyDataset"
    return "a generator/iterable of batches"


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
    """The (n,) float32 weights for targets y, or None when neither argument is given. Keras 3's
    temporal weights pass too: an (n, T, ...) array matching the targets' leading axes (a masked
    language model weighs each token) weighs each step's loss."""
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
    y_shape = tuple(np.shape(y)) if y is not None and hasattr(y, "shape") else None
    if sw.ndim >= 2 and len(sw) == n and y_shape is not None and y_shape[:sw.ndim] == sw.shape:
        sw = np.ascontiguousarray(sw, dtype=np.float32)   # per step (Keras 3's temporal weights)
        if not np.all(np.isfinite(sw)):
            raise ValueError(f"{where}: sample_weight contains NaN or infinite values")
        return sw
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
    if not isinstance(batch, (tuple, list)):
        # Keras 3: a batch that is not a tuple is x alone (a custom train_step takes it; the
        # built-in step then says there is no y)
        return batch, None, None
    if len(batch) not in (1, 2, 3):
        raise ValueError(f"{where}: batch {index} from the data iterable must be x or a tuple (x,), (x, y) or "
                         f"(x, y, sample_weight), got a {type(batch).__name__} of {len(batch)} items")
    return batch[0], (batch[1] if len(batch) > 1 else None), (batch[2] if len(batch) == 3 else None)


class BatchStream:
    """Raw batches from an iterable, a Dataset or a PyDataset, one epoch at a time (see the
    module docstring). ``known_steps``: the batches per epoch when known beforehand (for the
    progress bar), else None."""

    def __init__(self, data, steps, where="fit", steps_name="steps_per_epoch", shuffle=False):
        self.data = data
        self.steps = None if steps is None else int(steps)
        # an iterator: calling iter() would not restart it (a PyDataset that is also an iterator,
        # as ImageDataGenerator's, is read by index instead)
        self.one_shot = hasattr(data, "__next__") and not is_py_dataset(data)
        self._it = None
        self.ran_out = False  # the data ended before an epoch got its batches
        self._where = where
        self._shuffle = shuffle
        self._py_dataset = is_py_dataset(data)
        self._dataset = is_dataset(data)
        # Keras 3: a Dataset or PyDataset given steps_per_epoch runs one pass on across epochs
        self._continues = (self._dataset or self._py_dataset) and self.steps is not None
        self.known_steps = self.steps
        if self._dataset:
            count = self._check_dataset(data, steps_name)
        elif self._py_dataset:
            count = data.num_batches
            if count is not None and (isinstance(count, bool) or not isinstance(count, (int, np.integer))
                                      or count < 0):
                raise ValueError(f"{where}: {type(data).__name__}.num_batches (or len) must be a non-negative "
                                 f"integer or None (endless), got {count!r}")
        else:
            return
        if count is None and self.steps is None:
            raise ValueError(f"{where}: the data is an infinite {'Dataset' if self._dataset else 'PyDataset'}, so "
                             f"{steps_name} must be given (the number of batches to take from it)")
        if self.steps is None and count is not None and count >= 0:
            self.known_steps = int(count)
        self._count = count

    def _check_dataset(self, data, steps_name):
        from ..data import INFINITE_CARDINALITY
        if data._batched is False:
            spec = data.element_spec
            raise ValueError(f"{self._where}: the Dataset yields single samples (element_spec {spec}), not "
                             "batches; batch it first, e.g. dataset.batch(32): like Keras, fit takes a dataset's "
                             "elements as the batches")
        count = data._card()
        return None if count == INFINITE_CARDINALITY else count   # UNKNOWN (-2): one pass tells

    def _new_pass(self):
        if self._dataset:
            return self.data._elements()
        if self._py_dataset:
            from ..utils.py_dataset import batches
            count = self._count
            if count is None:
                order = itertools.count()
            elif self._shuffle:
                from ..utils.random import get_generator
                order = get_generator().permutation(count).tolist()
            else:
                order = range(count)
            return batches(self.data, order)
        return iter(self.data) if hasattr(self.data, "__iter__") else self.data

    def epoch(self):
        """Iterator over this epoch's batches; sets ``ran_out`` if the data ended early."""
        if self._py_dataset:
            self.data.on_epoch_begin()
        yield from self._epoch_batches()
        if self._py_dataset:
            self.data.on_epoch_end()

    def _epoch_batches(self):
        fresh = False
        if self._it is None or not (self.one_shot or self._continues):
            self._it, fresh = self._new_pass(), True
        count = 0
        while self.steps is None or count < self.steps:
            try:
                batch = next(self._it)
            except StopIteration:
                if self._continues and count == 0 and not fresh:
                    # the last pass ended exactly where the previous epoch did: start a new one
                    self._it, fresh = self._new_pass(), True
                    continue
                if self._continues and count > 0:
                    self._it = None
                    warnings.warn(f"{self._where}: the data ran out after {count} of the steps_per_epoch="
                                  f"{self.steps} batches of this epoch; the next epoch starts a new pass over "
                                  "it (make steps_per_epoch divide the number of batches, or repeat() the "
                                  "dataset)", UserWarning, stacklevel=3)
                elif count == 0 or self.steps is not None:
                    self.ran_out = True
                return
            fresh = False
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


def as_input(a):
    """A model input's batch as the graph takes it: a Tensor, or the object array of a string
    input as it is (corenn Tensors hold numbers only)."""
    if type(a) is np.ndarray and a.dtype is _FLOAT32 and a.flags.c_contiguous:
        return _from_numpy(a)   # the usual batch, wrapped without a copy
    if isinstance(a, np.ndarray) and a.dtype == object:
        return a
    return kernels.as_tensor(a)


_FLOAT32 = np.dtype(np.float32)
_from_numpy = kernels.Tensor.from_numpy


def tensor_or_none(a):
    """None, or a Tensor; a list (per-output sample weights) keeps its Nones."""
    if isinstance(a, list):
        return [tensor_or_none(b) for b in a]
    return None if a is None else kernels.as_tensor(a)


def row_weights(sample_weight, h):
    """Per-sample weights over the rows the loss kernel sees: an (N, T, C) output has N*T rows."""
    if sample_weight is None:
        return None
    n = sample_weight.shape[0]
    rows = math.prod(h.shape[:-1])
    if rows == n:
        return sample_weight
    if len(sample_weight.shape) > 1:   # per step: (N, T) weights are the N*T rows' own
        if math.prod(sample_weight.shape) == rows:
            return sample_weight.reshape([rows])
        raise ValueError(f"sample_weight of shape {tuple(sample_weight.shape)} does not fit an output of shape "
                         f"{tuple(h.shape)}: per-step weights need one weight per step, "
                         f"{tuple(h.shape[:-1])}")
    return np.repeat(np.asarray(sample_weight), rows // n)
