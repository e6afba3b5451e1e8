"""Metrics: running values over an epoch (Keras semantics).

A metric accumulates ``update_state(y_true, y_pred)`` calls and reports ``result()``; the model
resets it at the start of each epoch, so logged values are means over the epoch so far.

Counting is done by the kernels (``kernels.accuracy_count``, ``kernels.loss_forward``); the metric only
keeps two Python scalars (total, count).

``compile(metrics=['accuracy'])`` resolves 'accuracy' / 'acc' the way Keras does, once the
label and prediction shapes are known: binary when the loss is binary cross-entropy or the
output has one unit; sparse categorical when labels have lower rank than predictions (or the
loss is sparse CE); otherwise categorical. The metric keeps the name the user wrote.
"""
from __future__ import annotations

import numpy as np

from . import kernels

__all__ = ["Metric", "Mean", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "MeanAbsoluteError", "MeanSquaredError", "get", "resolve"]


def _as_pred(y):
    return y if isinstance(y, kernels.Tensor) else np.ascontiguousarray(y, dtype=np.float32)


class Metric:
    """Base class: ``total / count`` of what ``update_state`` adds."""

    def __init__(self, name=None, dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def result(self) -> float:
        return float(self.total / self.count) if self.count else 0.0

    def __call__(self, *args, **kwargs):
        """``metric(y_true, y_pred)`` / ``mean(values)``: update_state, then the running result
        (as Keras metrics do; TensorFlow's quickstart loops call them this way)."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} result={self.result():.4g}>"


def _snake(name):
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out


class Mean(Metric):
    """Weighted mean of the values passed to ``update_state(values, sample_weight=None)``."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name)

    def update_state(self, values, sample_weight=None):
        if isinstance(values, (int, float, np.floating)) :
            w = 1.0 if sample_weight is None else float(sample_weight)
            self.total += float(values) * w
            self.count += w
            return
        v = np.asarray(values, dtype=np.float64)
        if sample_weight is None:
            self.total += float(v.sum())
            self.count += v.size
        else:
            w = np.broadcast_to(np.asarray(sample_weight, dtype=np.float64), v.shape)
            self.total += float((v * w).sum())
            self.count += float(w.sum())


class _Counting(Metric):
    """Fraction of correct predictions counted by kernels.accuracy_count(kind, ...)."""

    kind = ""

    def _labels(self, y_true):
        return _as_pred(y_true)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise NotImplementedError(f"{type(self).__name__}: sample_weight is not supported")
        y_pred = _as_pred(y_pred)
        y_true = self._labels(y_true)
        self.total += kernels.accuracy_count(self.kind, y_pred, y_true, **self._kwargs())
        self.count += self._n(y_pred)

    def _kwargs(self):
        return {}

    def _n(self, y_pred):
        return y_pred.shape[0] if y_pred.ndim else 1


class BinaryAccuracy(_Counting):
    """Mean of (y_pred > threshold) == (y_true > 0.5), per element."""

    kind = "binary"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        self.threshold = float(threshold)
        super().__init__(name)

    def _kwargs(self):
        return {"threshold": self.threshold}

    def _n(self, y_pred):
        return y_pred.size

    def _labels(self, y_true):
        return y_true if isinstance(y_true, kernels.Tensor) else np.ascontiguousarray(y_true, np.float32)

    def get_config(self):
        return {"name": self.name, "threshold": self.threshold}


class CategoricalAccuracy(_Counting):
    """Mean of argmax(y_pred) == argmax(y_true) (one-hot labels)."""

    kind = "categorical"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(name)


class SparseCategoricalAccuracy(_Counting):
    """Mean of argmax(y_pred) == y_true (integer labels)."""

    kind = "sparse_categorical"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(name)

    def _labels(self, y_true):
        if isinstance(y_true, kernels.Tensor):
            return y_true
        y = np.asarray(y_true)
        if y.dtype not in (np.int32, np.int64):
            y = y.astype(np.int64)
        return np.ascontiguousarray(y)


class Accuracy(Metric):
    """Fraction of elements where y_pred == y_true exactly (Keras' plain Accuracy)."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise NotImplementedError("Accuracy: sample_weight is not supported")
        # an exact-equality count is bookkeeping at the API edge, not model math
        yt, yp = np.asarray(y_true), np.asarray(y_pred)
        self.total += int(np.count_nonzero(yt.reshape(yp.shape) == yp))
        self.count += yp.size


class _LossMean(Metric):
    kind = ""

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _as_pred(y_pred)
        y_true = _as_pred(y_true)
        n = y_pred.shape[0]
        self.total += kernels.loss_forward(self.kind, y_pred, y_true, None, sample_weight=sample_weight) * n
        self.count += n


class MeanAbsoluteError(_LossMean):
    kind = "mean_absolute_error"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(name)


class MeanSquaredError(_LossMean):
    kind = "mean_squared_error"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(name)


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "mean": Mean,
}
_CLASSES = {c.__name__: c for c in list(_BY_NAME.values()) + [Accuracy]}


def get(identifier) -> Metric:
    """A metric name ('mae', 'binary_accuracy'), class name, class or instance -> Metric.

    'accuracy' / 'acc' without shape information return the plain Accuracy; inside compile
    they are resolved by :func:`resolve` instead.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            return Accuracy(name=identifier)
        cls = _BY_NAME.get(identifier.lower()) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"metrics.get: unknown metric {identifier!r}; expected 'accuracy', "
                             f"'acc' or one of {', '.join(sorted(_BY_NAME))}")
        m = cls()
        m.name = identifier
        return m
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _CLASSES.get(identifier["class_name"])
        if cls is None:
            raise ValueError(f"metrics.get: unknown metric class {identifier['class_name']!r}")
        return cls.from_config(identifier.get("config", {}))
    raise TypeError(f"metrics.get: cannot interpret {identifier!r} as a metric")


def resolve(identifier, loss=None, y_true_ndim=None, y_pred_shape=None) -> Metric:
    """compile()'s resolution of a metric spec, given the loss and the label/output shapes."""
    if isinstance(identifier, str) and identifier in ("accuracy", "acc"):
        kind = getattr(loss, "kind", "")
        if kind == "binary_crossentropy" or (y_pred_shape is not None and y_pred_shape[-1] == 1):
            cls = BinaryAccuracy
        elif kind == "sparse_categorical_crossentropy" or (
                y_true_ndim is not None and y_pred_shape is not None and y_true_ndim < len(y_pred_shape)):
            cls = SparseCategoricalAccuracy
        else:
            cls = CategoricalAccuracy
        return cls(name=identifier)
    if isinstance(identifier, Metric):
        # a fresh copy per use so training and validation keep separate totals
        return type(identifier).from_config(identifier.get_config())
    return get(identifier)
