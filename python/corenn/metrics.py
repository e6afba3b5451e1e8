"""Metrics: running values over an epoch (Keras semantics).

A metric accumulates ``update_state(y_true, y_pred)`` calls and reports ``result()``; the model
resets it at the start of each epoch, so logged values are means over the epoch so far.

Counting is done by the kernels (``kernels.accuracy_count``, ``kernels.loss_forward``); the metric only
keeps two Python scalars (total, count), read back as MetricResult floats so that
``m.count.numpy()`` works as on Keras' state variables. ``result()`` of a built-in metric is a
float32 Tensor, as Keras 3's (a scalar; one value per threshold or class where there are several);
fit, evaluate and the callbacks' logs hold Python floats made from it, as Keras' logs do.

``compile(metrics=['accuracy'])`` resolves 'accuracy' / 'acc' the way Keras does, once the
label and prediction shapes are known: binary when the loss is binary cross-entropy or the
output has one unit; sparse categorical when labels have lower rank than predictions (or the
loss is sparse CE); otherwise categorical. The metric keeps the name the user wrote.

Predictions of shape (N, ..., C) are counted per row of C scores: an (N, T, C) sequence output
has N*T predictions per batch, and the accuracies are fractions of those (as in Keras).

AUC, Precision and Recall keep confusion counts per threshold (tp, fp, tn, fn), counted by
``kernels.confusion_counts`` in C++ each batch; result() turns the accumulated counts into the
value. TopKCategoricalAccuracy counts with ``kernels.accuracy_count('top_k', ...)``.

The function forms (``metrics.categorical_accuracy(y_true, y_pred)``, ``metrics.mae``, ...)
return per-sample values as a Tensor shaped like y_pred without its last axis, as Keras'.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from . import kernels
from . import losses as _losses

__all__ = ["Metric", "Mean", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
           "MeanAbsoluteError", "MeanSquaredError", "MeanAbsolutePercentageError",
           "MeanSquaredLogarithmicError", "KLDivergence", "Poisson", "LogCoshError", "Hinge",
           "SquaredHinge", "CategoricalHinge", "CosineSimilarity", "AUC", "Precision", "Recall",
           "TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives",
           "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
           "RootMeanSquaredError", "Sum", "FBetaScore", "F1Score", "MeanMetricWrapper", "R2Score", "IoU", "MeanIoU", "BinaryIoU",
           "OneHotIoU", "OneHotMeanIoU", "PrecisionAtRecall", "RecallAtPrecision", "SensitivityAtSpecificity",
           "SpecificityAtSensitivity", "PearsonCorrelation", "ConcordanceCorrelation", "pearson_correlation",
           "concordance_correlation",
           "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
           "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "mean_absolute_error",
           "mean_squared_error", "mean_absolute_percentage_error", "mean_squared_logarithmic_error",
           "mae", "mse", "mape", "msle", "kl_divergence", "kld", "poisson", "log_cosh", "logcosh", "hinge",
           "squared_hinge", "categorical_hinge", "binary_crossentropy", "categorical_crossentropy",
           "sparse_categorical_crossentropy", "get", "resolve"]

_EPSILON = 1e-7


def _as_pred(y):
    """Predictions (or float targets) as the kernels read them: float32. A float64 Tensor (a
    float64 model's output) is narrowed: a metric is a report, computed in float32 where it has
    no float64 form (_LossMean's regression means have one)."""
    if isinstance(y, kernels.Tensor):
        return y if y.dtype != "float64" else kernels.Tensor.from_numpy(np.asarray(y, np.float32))
    return np.asarray(y, dtype=np.float32, order="C")


class MetricResult(float):
    """A metric's result: a Python float (formatting, arithmetic and logs as before) that also
    answers ``numpy()`` and ``dtype`` as the scalar tensor Keras returns (``m.result().numpy()``,
    ``cosine_similarity(a, b).numpy()``)."""

    __slots__ = ()
    dtype = "float32"
    shape = ()

    def numpy(self):
        return np.float32(self)

    def __reduce__(self):
        return (float, (float(self),))


def _numpy_result(fn):
    """A user's ``result()``: a float it returns also answers ``numpy()`` (what it returns
    otherwise is kept as it is, as Keras keeps it)."""
    @functools.wraps(fn)
    def result(self):
        value = fn(self)
        return MetricResult(value) if type(value) is float else value
    return result


def _result_tensor(value):
    """A built-in metric's value as the float32 Tensor Keras 3 returns from ``result()`` (a
    scalar, or one value per threshold / class): ``m.result().numpy()``, ``float(m.result())``
    and printing work as on Keras' tensor. A dict (CompileMetrics) or a Tensor is kept."""
    if isinstance(value, (kernels.Tensor, dict)):
        return value
    return kernels.as_tensor(np.array(value, dtype=np.float32))


def _tensor_result(fn):
    @functools.wraps(fn)
    def result(self):
        return _result_tensor(fn(self))
    return result


def _state_scalar(attr):
    """``total`` / ``count`` of a metric: kept as a Python float (or whatever a subclass stores
    there), read back as a MetricResult so that ``m.count.numpy()`` works as on Keras' state
    variables. The value lives in the instance ``__dict__`` under the same name."""
    def get(self):
        value = self.__dict__.get(attr, 0.0)
        return MetricResult(value) if type(value) is float else value

    def set(self, value):
        self.__dict__[attr] = value
    return property(get, set)


class Metric:
    """Base class: ``total / count`` of what ``update_state`` adds."""

    total = _state_scalar("total")
    count = _state_scalar("count")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "result" in cls.__dict__:
            # corenn's own metrics return a Tensor as Keras 3's do; a user's result() keeps what
            # it returns (a float of theirs answers numpy() too). fit converts to floats for logs.
            own = cls.__module__.split(".")[0] == __name__.split(".")[0]
            cls.result = (_tensor_result if own else _numpy_result)(cls.__dict__["result"])

    def __init__(self, name=None, dtype=None):
        # Keras 3: a metric made without a name gets its class's name made unique, as layers
        # get theirs (a second Precision() is 'precision_1', which keeps the two apart in fit's
        # logs); metrics whose class has a fixed default name (Mean: 'mean') keep it
        self.name = name or _auto_name(type(self).__name__)
        self._dtype = "float32" if dtype is None else str(getattr(dtype, "name", dtype))
        self._variables = []   # (Tensor, its initial values): add_variable, reset by reset_state
        if type(self).reset_state.__module__ == __name__:
            self.reset_state()
        else:   # a user's reset_state reads the variables its __init__ has not made yet (Keras)
            Metric.reset_state(self)

    @property
    def dtype(self):
        """The dtype the metric computes in (Keras 3: float32 unless given; a custom metric's
        ``update_state`` casts to ``self.dtype``)."""
        return self.__dict__.get("_dtype", "float32")

    def reset_state(self):
        # a user's metric may keep its own state variables under these names (add_weight
        # into self.total, as Keras' guides write): those are reset below, not replaced
        mine = {id(value) for value, _ in self.__dict__.get("_variables", ())}
        for attr in ("total", "count"):
            if id(self.__dict__.get(attr)) not in mine:
                setattr(self, attr, 0.0)
        for value, initial in self.__dict__.get("_variables", ()):
            np.copyto(np.asarray(value), initial)

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None):
        """A state Tensor of the metric (Keras 3's ``Metric.add_variable``), set back to its
        initial value by the default ``reset_state``; update it with ``assign`` / ``assign_add``."""
        from . import initializers
        from .dtypes import storage_dtype
        # any real dtype (an int32 hit count, float64 sums), held as it is
        store = np.dtype(np.float32) if dtype is None else storage_dtype(dtype, f"metric '{self.name}'.add_variable")
        value = kernels.empty(tuple(int(d) for d in shape), store.name)
        if isinstance(initializer, (int, float)):
            value.fill_(initializer if store.kind in "iu" and float(initializer).is_integer() else float(initializer))
        else:
            initializers.get(initializer).fill(value)
        self._variables.append((value, np.array(value, copy=True)))
        return value

    def add_weight(self, name=None, shape=(), initializer="zeros", dtype=None, aggregation="sum"):
        """tf.keras 2's name for add_variable."""
        return self.add_variable(shape=shape, initializer=initializer, dtype=dtype, aggregation=aggregation,
                                 name=name)

    @property
    def variables(self):
        return [v for v, _ in self.__dict__.get("_variables", ())]

    def reset_states(self):
        """tf.keras 2's name for reset_state."""
        self.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def result(self):
        return _result_tensor(self.total / self.count if self.count else 0.0)

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
        return f"<{type(self).__name__} name={self.name!r} result={float(self.result()):.4g}>"


def _auto_name(class_name):
    """'precision', 'precision_1', ...: Keras 3's ``auto_name``, on the same counter as layer
    names (``backend.clear_session`` resets both)."""
    from .layers.base import snake_case, unique_name
    return unique_name(snake_case(class_name))


def _snake(name):
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out


def _weights_like(owner, values, sample_weight):
    """sample_weight broadcast to ``values`` the Keras way: squeezed or expanded at the end to the
    values' rank (an (N,) weight weights every value of sample n), then broadcast."""
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim == values.ndim + 1 and w.shape[-1] == 1:
        w = w.reshape(w.shape[:-1])
    while w.ndim < values.ndim:
        w = w[..., None]
    try:
        return np.broadcast_to(w, values.shape)
    except ValueError:
        raise ValueError(f"{owner}: sample_weight of shape {np.shape(sample_weight)} does not broadcast "
                         f"to the values' shape {values.shape}") from None


class Mean(Metric):
    """Weighted mean of the values passed to ``update_state(values, sample_weight=None)``:
    sum(w * v) / sum(w) with w broadcast to v as Keras does (an (N,) weight per sample)."""

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
            w = _weights_like(type(self).__name__, v, sample_weight)
            self.total += float((v * w).sum())
            self.count += float(w.sum())


class MeanMetricWrapper(Mean):
    """The weighted mean of ``fn(y_true, y_pred, **kwargs)`` (per-sample values) over the batches
    seen: Keras' wrapper that turns a function into a stateful metric."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"MeanMetricWrapper: fn must be callable, got {fn!r}")
        super().__init__(name)   # unnamed: Keras 3's 'mean_metric_wrapper', numbered as other metrics
        self._fn, self._fn_kwargs = fn, kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = np.asarray(self._fn(y_true, y_pred, **self._fn_kwargs), np.float64)
        super().update_state(values, sample_weight)

    def get_config(self):
        from . import saving
        fn = self._fn
        name = getattr(fn, "__name__", None)
        if name is None or (getattr(fn, "_corenn_metric", None) is None and saving.custom_class(name) is not fn):
            raise ValueError(f"MeanMetricWrapper '{self.name}': its fn {fn!r} cannot be saved; register it "
                             f"with keras.saving.register_keras_serializable")
        return {"name": self.name, "fn": name, **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        name = config.pop("fn")
        fn = globals().get(name)
        if getattr(fn, "_corenn_metric", None) is None:
            from . import saving
            fn = saving.custom_class(name)
        if not callable(fn):
            raise ValueError(f"MeanMetricWrapper: unknown function {name!r}")
        return cls(fn, **config)


class _Counting(Metric):
    """Fraction of correct predictions counted by kernels.accuracy_count(kind, ...)."""

    kind = ""

    def _labels(self, y_true):
        return _as_pred(y_true)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _as_pred(y_pred)
        y_true = self._labels(y_true)
        if self.kind == "binary" and np.size(y_true) < y_pred.size:
            # a label that broadcasts (the GAN examples' update_state(1.0, predictions)), as in Keras
            try:
                y_true = np.asarray(np.broadcast_to(np.asarray(y_true, np.float32), tuple(y_pred.shape)), order="C")
            except ValueError:
                pass   # the kernel names the shapes
        if sample_weight is None:
            self.total += kernels.accuracy_count(self.kind, y_pred, y_true, **self._kwargs())
            self.count += self._n(y_pred)
            return
        # weighted: the kernel's per-row scores, then sum_i w_i score_i / sum_i w_i
        elements = _element_weights(sample_weight, y_pred, type(self).__name__) if self.kind == "binary" else None
        if elements is not None:   # BinaryAccuracy is elementwise: Keras weighs each prediction
            y_true = np.broadcast_to(np.asarray(y_true, np.float32), elements.shape)
            y_pred = np.asarray(np.asarray(y_pred, np.float32).reshape(-1, 1), order="C")
            y_true = np.asarray(y_true.reshape(-1, 1), order="C")
            sample_weight = elements.reshape(-1)
        if len(y_pred.shape) == 1:  # (N,) binary predictions: one sample per element
            y_pred = np.asarray(np.asarray(y_pred).reshape(-1, 1), order="C")
            y_true = np.asarray(np.asarray(y_true).reshape(-1, 1), order="C")
        rows = _rows(y_pred)
        per = np.empty(rows, np.float32)
        kernels.accuracy_count(self.kind, y_pred, y_true, per_row=per, **self._kwargs())
        w = _row_weights(sample_weight, rows).astype(np.float64)
        if w.size != rows:
            raise ValueError(f"{type(self).__name__}: sample_weight has {w.size} values for {rows} predictions")
        # the unweighted count is in the metric's own unit (BinaryAccuracy: elements, so a row
        # of C predictions counts C); a weighted row counts the same, times its weight
        per_row_n = self._n(y_pred) / rows if rows else 1.0
        self.total += float(per @ w) * per_row_n
        self.count += float(w.sum()) * per_row_n

    def _kwargs(self):
        return {}

    def _n(self, y_pred):
        return _rows(y_pred)


def _rows(y_pred):
    """Predictions in a batch: one per row of the last axis, so (N, T, C) holds N*T of them."""
    shape = tuple(y_pred.shape)
    return math.prod(shape[:-1]) if len(shape) > 1 else (shape[0] if shape else 1)


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
        return y_true if isinstance(y_true, kernels.Tensor) else np.asarray(y_true, np.float32, order="C")

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

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = _fractional_labels(y_true)
        if labels is None:
            return super().update_state(y_true, y_pred, sample_weight)
        hits = _fractional_hits(labels, y_pred)
        if sample_weight is None:
            self.total += float(hits.sum())
            self.count += hits.size
            return
        w = _row_weights(sample_weight, hits.size).astype(np.float64)
        self.total += float(hits @ w)
        self.count += float(w.sum())

    def _labels(self, y_true):
        if isinstance(y_true, kernels.Tensor):
            if str(y_true.dtype) in ("int32", "int64"):
                return y_true
            # float labels (a model compiled without a loss keeps y as float32): Keras casts them
            y_true = np.asarray(y_true)
        y = np.asarray(y_true)
        if y.dtype not in (np.int32, np.int64):
            y = y.astype(np.int64)
        return np.asarray(y, order="C")


class TopKCategoricalAccuracy(_Counting):
    """Mean of [argmax(y_true) is among the k highest scores of y_pred] (one-hot labels)."""

    kind = "top_k"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        if int(k) < 1:
            raise ValueError(f"{type(self).__name__}: k must be >= 1, got {k}")
        self.k = int(k)
        super().__init__(name)

    def _kwargs(self):
        return {"k": self.k}

    def get_config(self):
        return {"name": self.name, "k": self.k}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """Mean of [y_true is among the k highest scores of y_pred] (integer labels). With
    ``from_sorted_ids=True`` (Keras 3) y_pred holds class ids already sorted by score, (N, >= k):
    the sample counts when y_true is among its first k."""

    kind = "sparse_top_k"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False):
        super().__init__(k, name)
        self.from_sorted_ids = bool(from_sorted_ids)

    _labels = SparseCategoricalAccuracy._labels

    def update_state(self, y_true, y_pred, sample_weight=None):
        if not self.from_sorted_ids:
            return super().update_state(y_true, y_pred, sample_weight)
        ids = np.asarray(y_pred)
        labels = np.asarray(y_true).reshape(ids.shape[:-1])
        hit = (ids[..., :self.k] == labels[..., None]).any(-1).reshape(-1).astype(np.float64)
        w = np.ones(hit.size) if sample_weight is None else _row_weights(sample_weight, hit.size).astype(np.float64)
        if w.size != hit.size:
            raise ValueError(f"{type(self).__name__}: sample_weight has {w.size} values for {hit.size} predictions")
        self.total += float(hit @ w)
        self.count += float(w.sum())

    def get_config(self):
        cfg = super().get_config()
        if self.from_sorted_ids:
            cfg["from_sorted_ids"] = True
        return cfg


class Accuracy(Metric):
    """Fraction of elements where y_pred == y_true exactly (Keras' plain Accuracy); with
    sample_weight the Keras weighted mean sum(w * [y_true == y_pred]) / sum(w), an (N,) weight
    weighting every element of sample n."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name)

    def update_state(self, y_true, y_pred, sample_weight=None):
        # an exact-equality count is bookkeeping at the API edge, not model math
        yt, yp = np.asarray(y_true), np.asarray(y_pred)
        if yt.ndim == yp.ndim + 1 and yt.shape[-1] == 1:
            yt = yt.reshape(yt.shape[:-1])
        elif yp.ndim == yt.ndim + 1 and yp.shape[-1] == 1:
            yp = yp.reshape(yp.shape[:-1])
        if yt.size != yp.size:
            raise ValueError(f"Accuracy: y_true of shape {np.shape(y_true)} and y_pred of shape "
                             f"{np.shape(y_pred)} do not match")
        equal = yt.reshape(yp.shape) == yp
        if sample_weight is None:
            self.total += int(np.count_nonzero(equal))
            self.count += yp.size
            return
        w = _weights_like("Accuracy", equal, sample_weight)
        self.total += float((w * equal).sum())
        self.count += float(w.sum())


class _LossMean(Metric):
    """Mean of a per-sample loss over all rows seen (sample weights weight the rows)."""

    kind = ""
    sign = 1.0

    def _float64_update(self, y_true, y_pred, sample_weight):
        """A float64 prediction: the loss's float64 ops form (losses.Loss._float64_per_sample), so
        a small error is not lost to float32 rounding of y_pred - y_true. False where the loss has
        no float64 form (then the float32 kernel reports it)."""
        try:
            loss = _losses.get(self.kind)
        except (ValueError, TypeError):
            return False
        if not isinstance(loss, _losses.Loss) or type(loss)._ops_per_sample is _losses.Loss._ops_per_sample:
            return False
        per = np.asarray(loss._float64_per_sample(y_true, y_pred), np.float64).reshape(-1)
        if sample_weight is not None:
            w = _row_weights(sample_weight, per.size).astype(np.float64)
            self.total += self.sign * float(np.sum(per * w))
            self.count += float(np.sum(w))
        else:
            self.total += self.sign * float(np.sum(per))
            self.count += per.size
        return True

    def update_state(self, y_true, y_pred, sample_weight=None):
        if isinstance(y_pred, kernels.Tensor) and y_pred.dtype == "float64" and self._float64_update(
                y_true, y_pred, sample_weight):
            return
        y_pred = _as_pred(y_pred)
        y_true = _as_pred(y_true)
        n = _rows(y_pred)
        if sample_weight is not None:
            sample_weight = _row_weights(sample_weight, n)
            w = float(np.sum(sample_weight, dtype=np.float64))
        else:
            w = n
        # the kernel returns sum_i w_i l_i / n: times n is the weighted sum
        self.total += self.sign * kernels.loss_forward(self.kind, y_pred, y_true, None,
                                                       sample_weight=sample_weight) * n
        self.count += w


def _element_weights(sample_weight, y_pred, owner):
    """Keras broadcasts sample_weight to y_pred's shape: weights with more values than rows of
    predictions (one per label of a multi-label batch, (N, C)) as a float32 array of y_pred's
    shape; None for per-sample weights (one per row, or per sample of (N, T, C))."""
    w = np.asarray(sample_weight, dtype=np.float32)
    shape = tuple(y_pred.shape)
    rows = _rows(y_pred)
    if w.size <= rows or w.size == 0:
        return None
    if w.ndim < len(shape):
        w = w.reshape(w.shape + (1,) * (len(shape) - w.ndim))
    try:
        return np.asarray(np.broadcast_to(w, shape), order="C")
    except ValueError:
        raise ValueError(f"{owner}: sample_weight of shape {np.shape(sample_weight)} does not broadcast to "
                         f"predictions of shape {shape}") from None


def _row_weights(sample_weight, rows):
    """(N,) sample weights as one weight per row: (N, T, C) predictions repeat each T times."""
    w = np.asarray(np.asarray(sample_weight, dtype=np.float32).reshape(-1), order="C")
    if w.size != rows and w.size and rows % w.size == 0:
        w = np.repeat(w, rows // w.size)
    return w


class MeanAbsoluteError(_LossMean):
    kind = "mean_absolute_error"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(name)


class MeanSquaredError(_LossMean):
    kind = "mean_squared_error"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(name)


def _loss_metric(cls_name, kind, default_name, doc, sign=1.0):
    def __init__(self, name=default_name, dtype=None):
        Metric.__init__(self, name)
    cls = type(cls_name, (_LossMean,), {"kind": kind, "sign": sign, "__init__": __init__, "__doc__": doc})
    cls.__module__ = __name__
    return cls


MeanAbsolutePercentageError = _loss_metric(
    "MeanAbsolutePercentageError", "mean_absolute_percentage_error", "mean_absolute_percentage_error",
    "Mean of 100 |t - p| / max(|t|, 1e-7).")
MeanSquaredLogarithmicError = _loss_metric(
    "MeanSquaredLogarithmicError", "mean_squared_logarithmic_error", "mean_squared_logarithmic_error",
    "Mean of (log(max(p, 1e-7) + 1) - log(max(t, 1e-7) + 1))^2.")
KLDivergence = _loss_metric("KLDivergence", "kl_divergence", "kl_divergence",
                            "Mean of sum_j t log(t / p) (t, p clipped to [1e-7, 1]).")
Poisson = _loss_metric("Poisson", "poisson", "poisson", "Mean of p - t log(p + 1e-7).")
LogCoshError = _loss_metric("LogCoshError", "log_cosh", "logcosh", "Mean of log cosh(p - t).")
Hinge = _loss_metric("Hinge", "hinge", "hinge", "Mean of max(1 - t p, 0) (0/1 labels as -1/1).")
SquaredHinge = _loss_metric("SquaredHinge", "squared_hinge", "squared_hinge",
                            "Mean of max(1 - t p, 0)^2 (0/1 labels as -1/1).")
CategoricalHinge = _loss_metric("CategoricalHinge", "categorical_hinge", "categorical_hinge",
                                "Mean of max(max_j (1 - t_j) p_j - sum_j t_j p_j + 1, 0).")


class _CrossentropyMean(_LossMean):
    """Mean cross-entropy of the rows seen, on the loss's fused kernel (its value only)."""

    sparse = False

    def __init__(self, name, dtype=None, from_logits=False, **kw):
        super().__init__(name)
        self.from_logits = bool(from_logits)
        self._kw = kw

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _as_pred(y_pred)
        y_true = _sparse_labels(y_true) if self.sparse else _as_pred(y_true)
        if not self.sparse and y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
            y_true = y_true.reshape(y_true.shape + (1,))
        if self.label_smoothing:
            y_true = _losses.smooth_labels(y_true, self.label_smoothing, self.kind == "binary_crossentropy")
        n = _rows(y_pred)
        w = n
        if sample_weight is not None:
            sample_weight = _row_weights(sample_weight, n)
            w = float(np.sum(sample_weight, dtype=np.float64))
        self.total += kernels.loss_forward(self.kind, y_pred, y_true, None, sample_weight=sample_weight,
                                           from_logits=self.from_logits, **self._kw) * n
        self.count += w

    label_smoothing = 0.0

    def get_config(self):
        config = {"name": self.name, "from_logits": self.from_logits, **self._kw}
        if type(self) in (BinaryCrossentropy, CategoricalCrossentropy):
            config["label_smoothing"] = self.label_smoothing
        return config


class BinaryCrossentropy(_CrossentropyMean):
    """Mean binary cross-entropy (probabilities, or logits with from_logits=True)."""

    kind = "binary_crossentropy"

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0):
        super().__init__(name, dtype, from_logits)
        self.label_smoothing = _losses.check_label_smoothing("metrics.BinaryCrossentropy", label_smoothing)


class CategoricalCrossentropy(_CrossentropyMean):
    """Mean categorical cross-entropy of one-hot (or soft) labels."""

    kind = "categorical_crossentropy"

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0,
                 axis=-1):
        if axis != -1:
            raise NotImplementedError("metrics.CategoricalCrossentropy: axis != -1 is not supported")
        super().__init__(name, dtype, from_logits)
        self.label_smoothing = _losses.check_label_smoothing("metrics.CategoricalCrossentropy", label_smoothing)


class SparseCategoricalCrossentropy(_CrossentropyMean):
    """Mean cross-entropy of integer class labels."""

    kind = "sparse_categorical_crossentropy"
    sparse = True

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 ignore_class=None, axis=-1):
        if ignore_class is not None or axis != -1:
            raise NotImplementedError("metrics.SparseCategoricalCrossentropy: ignore_class and axis != -1 "
                                      "are not supported")
        super().__init__(name, dtype, from_logits)


class RootMeanSquaredError(MeanSquaredError):
    """sqrt of the mean squared error over all rows seen."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name)

    def result(self):
        return float(np.sqrt(super().result()))


class Sum(Mean):
    """The (weighted) sum of the values seen."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name)

    def result(self):
        return float(self.total)


class CosineSimilarity(_LossMean):
    """Mean cosine similarity t.p / (|t| |p|) along ``axis`` (the loss with its sign flipped): one
    value per position of the other axes, sample weights broadcast to those values as Keras'."""

    kind = "cosine_similarity"
    sign = -1.0

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"CosineSimilarity: axis must be an int, got {axis!r}")
        super().__init__(name)
        self.axis = int(axis)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.axis == -1:
            return super().update_state(y_true, y_pred, sample_weight)
        # another axis: move it last, so each value is one row of the kernel's
        pred, true = np.asarray(y_pred, np.float32), np.asarray(y_true, np.float32)
        if not -pred.ndim <= self.axis < pred.ndim:
            raise ValueError(f"CosineSimilarity: axis {self.axis} is out of range for y_pred of shape {pred.shape}")
        if true.shape != pred.shape:
            raise ValueError(f"CosineSimilarity: y_true shape {true.shape} differs from y_pred shape {pred.shape}")
        pred = np.asarray(np.moveaxis(pred, self.axis, -1), order="C")
        true = np.asarray(np.moveaxis(true, self.axis, -1), order="C")
        if sample_weight is not None:
            w = np.asarray(sample_weight, np.float32)
            try:
                w = np.broadcast_to(w.reshape(w.shape + (1,) * max(0, pred.ndim - 1 - w.ndim)), pred.shape[:-1])
            except ValueError:
                raise ValueError(f"CosineSimilarity: sample_weight of shape {w.shape} does not broadcast to the "
                                 f"values' shape {pred.shape[:-1]}") from None
            sample_weight = np.asarray(w.reshape(-1), order="C")
        return super().update_state(true, pred, sample_weight)

    def get_config(self):
        return {"name": self.name, "axis": self.axis}


# -- confusion-count metrics ---------------------------------------------------------------------

def _divide_no_nan(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    out = np.zeros(np.broadcast(a, b).shape)
    np.divide(a, b, out=out, where=b != 0)
    return out


class _Confusion(Metric):
    """Accumulates tp, fp, tn, fn at ascending thresholds (kernels.confusion_counts)."""

    soft_labels = False

    def reset_state(self):
        n = len(getattr(self, "_sorted", ()))
        self.true_positives = np.zeros(n)
        self.false_positives = np.zeros(n)
        self.true_negatives = np.zeros(n)
        self.false_negatives = np.zeros(n)

    def _preprocess(self, y_true, y_pred):
        return y_true, y_pred

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _as_pred(y_pred)
        y_true = y_true if isinstance(y_true, kernels.Tensor) else np.asarray(y_true)
        y_true, y_pred = self._preprocess(y_true, y_pred)
        if sample_weight is not None:
            elements = _element_weights(sample_weight, y_pred, type(self).__name__)
            if elements is None:
                sample_weight = _row_weights(sample_weight, _rows(y_pred))
            else:   # one weight per prediction: each prediction its own row
                yp = np.asarray(y_pred, np.float32)
                y_true = np.asarray(np.broadcast_to(np.asarray(y_true, np.float32), yp.shape).reshape(-1, 1), order="C")
                y_pred, sample_weight = np.asarray(yp.reshape(-1, 1), order="C"), elements.reshape(-1)
        c = kernels.confusion_counts(y_pred, y_true, self._sorted, soft_labels=self.soft_labels,
                                     sample_weight=sample_weight)
        self.true_positives += c[:, 0]
        self.false_positives += c[:, 1]
        self.true_negatives += c[:, 2]
        self.false_negatives += c[:, 3]

    def result(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


_NEG_INF = -1e10   # Keras' score for the entries top_k filters out


def _filter_top_k(owner, y_pred, k):
    """y_pred with all but the k highest scores of each row (last axis) set to -1e10 (Keras'
    _filter_top_k; ties go to the lower index, as top_k's)."""
    yp = np.asarray(y_pred, np.float32)
    if yp.ndim == 0 or k > yp.shape[-1]:
        raise ValueError(f"{owner}: top_k={k} needs y_pred with at least {k} scores on its last axis, "
                         f"got shape {yp.shape}")
    order = np.argsort(-yp, axis=-1, kind="stable")[..., :k]
    out = np.full(yp.shape, _NEG_INF, np.float32)
    np.put_along_axis(out, order, np.take_along_axis(yp, order, axis=-1), axis=-1)
    return out


class _PrecisionRecall(_Confusion):
    """Precision / Recall at one threshold (a float result) or several (a list, in the order given).
    ``top_k``: only each row's k highest scores can count as positive predictions (the others
    become -1e10 first; the default threshold is then -1e10, so the top k are the predictions);
    ``class_id``: only that column of (N, C) labels and predictions is counted (after top_k)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1):
            raise ValueError(f"{type(self).__name__}: top_k must be a positive int or None, got {top_k!r}")
        self.init_thresholds = thresholds
        self.top_k = None if top_k is None else int(top_k)
        self.class_id = class_id
        default = 0.5 if top_k is None else _NEG_INF
        thr = [default] if thresholds is None else ([thresholds] if np.isscalar(thresholds) else list(thresholds))
        thr = np.asarray(thr, np.float32).reshape(-1)
        if thr.size == 0 or not np.all(np.isfinite(thr)):
            raise ValueError(f"{type(self).__name__}: thresholds must be finite numbers, got {thresholds!r}")
        self._single = thr.size == 1   # Keras: one threshold, given alone or in a list, is a scalar result
        self._order = np.argsort(thr, kind="stable")
        self._sorted = thr[self._order]
        super().__init__(name)

    def _preprocess(self, y_true, y_pred):
        if self.top_k is not None:
            y_pred = _filter_top_k(type(self).__name__, y_pred, self.top_k)
        if self.class_id is None:
            return y_true, y_pred
        k = int(self.class_id)
        yt, yp = np.asarray(y_true), np.asarray(y_pred)
        if not 0 <= k < yp.shape[-1]:
            raise ValueError(f"{type(self).__name__}: class_id {k} is out of range for y_pred of shape {yp.shape}")
        return np.asarray(yt[..., k], np.float32, order="C"), np.asarray(yp[..., k], order="C")

    def _value(self, sorted_values):
        v = np.empty_like(sorted_values)
        v[self._order] = sorted_values
        return float(v[0]) if self._single else [float(x) for x in v]

    def get_config(self):
        return {"name": self.name, "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """tp / (tp + fp) with y_pred > threshold as the positive prediction (0 before any positive)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(thresholds, top_k, class_id, name)

    def result(self):
        return self._value(_divide_no_nan(self.true_positives, self.true_positives + self.false_positives))


class Recall(_PrecisionRecall):
    """tp / (tp + fn) with y_pred > threshold as the positive prediction."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(thresholds, top_k, class_id, name)

    def result(self):
        return self._value(_divide_no_nan(self.true_positives, self.true_positives + self.false_negatives))


class _ConfusionCount(_Confusion):
    """One of the confusion counts at one threshold (a float result) or several (a list), with
    y_pred > threshold the positive prediction and a nonzero y_true the positive label; weighted by
    sample_weight. Keras' TruePositives ... FalseNegatives."""

    _count = ""   # the attribute of _Confusion that holds it

    def __init__(self, thresholds=None, name=None, dtype=None):
        self.init_thresholds = thresholds
        thr = [0.5] if thresholds is None else ([thresholds] if np.isscalar(thresholds) else list(thresholds))
        thr = np.asarray(thr, np.float32).reshape(-1)
        if thr.size == 0 or not np.all(np.isfinite(thr)):
            raise ValueError(f"{type(self).__name__}: thresholds must be finite numbers, got {thresholds!r}")
        self._single = thr.size == 1   # Keras: one threshold, given alone or in a list, is a scalar result
        self._order = np.argsort(thr, kind="stable")
        self._sorted = thr[self._order]
        super().__init__(name)

    def result(self):
        counts = getattr(self, self._count)
        v = np.empty_like(counts)
        v[self._order] = counts
        return float(v[0]) if self._single else [float(x) for x in v]

    def get_config(self):
        return {"name": self.name, "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    """How many (weighted) predictions are positive with a positive label."""
    _count = "true_positives"


class FalsePositives(_ConfusionCount):
    """How many (weighted) predictions are positive with a negative label."""
    _count = "false_positives"


class TrueNegatives(_ConfusionCount):
    """How many (weighted) predictions are negative with a negative label."""
    _count = "true_negatives"


class FalseNegatives(_ConfusionCount):
    """How many (weighted) predictions are negative with a positive label."""
    _count = "false_negatives"


class AUC(_Confusion):
    """Area under the ROC or precision-recall curve, Keras' Riemann sum over ``num_thresholds``
    thresholds (-1e-7, 1/(n-1), ..., (n-2)/(n-1), 1 + 1e-7); PR with 'interpolation' uses
    Davis & Goadrich's interpolation, as Keras does. Labels may be soft (y counts as positive,
    1 - y as negative).

    multi_label=True: (N, L) labels and predictions keep counts per label (one C++ confusion
    count per column); the result is the mean of the L areas, or their label_weights-weighted
    mean. label_weights without multi_label weight each column's elements in the pooled counts
    (times sample_weight), as Keras does."""

    soft_labels = True

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None,
                 dtype=None, thresholds=None, multi_label=False, num_labels=None, label_weights=None,
                 from_logits=False):
        curve = str(curve).upper()
        if curve not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', got {curve!r}")
        summation_method = str(summation_method).lower()
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f"AUC: summation_method must be 'interpolation', 'minoring' or 'majoring', "
                             f"got {summation_method!r}")
        self.curve, self.summation_method = curve, summation_method
        self.multi_label = bool(multi_label)
        if num_labels is not None and (isinstance(num_labels, bool) or not isinstance(num_labels, (int, np.integer))
                                       or num_labels < 1):
            raise ValueError(f"AUC: num_labels must be a positive int or None, got {num_labels!r}")
        self.num_labels = None if num_labels is None else int(num_labels)
        if label_weights is not None:
            lw = np.asarray(label_weights, np.float64).reshape(-1)
            if lw.size == 0 or not np.all(np.isfinite(lw)) or np.any(lw < 0):
                raise ValueError(f"AUC: label_weights must be non-negative numbers, got {label_weights!r}")
            if self.num_labels is not None and lw.size != self.num_labels:
                raise ValueError(f"AUC: {lw.size} label_weights for num_labels={self.num_labels}")
            self.label_weights = lw
        else:
            self.label_weights = None
        self._from_logits = bool(from_logits)
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            self.num_thresholds = len(inner) + 2
        else:
            if int(num_thresholds) <= 1:
                raise ValueError(f"AUC: num_thresholds must be > 1, got {num_thresholds}")
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
        self.thresholds = [0.0 - _EPSILON] + inner + [1.0 + _EPSILON]
        self._sorted = np.asarray(self.thresholds, np.float32)
        super().__init__(name)

    def _preprocess(self, y_true, y_pred):
        if self._from_logits:
            y_pred = kernels.activation_forward("sigmoid", y_pred)
        return y_true, y_pred

    def reset_state(self):
        if self.multi_label and self.num_labels is not None:   # counts per threshold and label
            shape = (len(self._sorted), self.num_labels)
            self.true_positives, self.false_positives = np.zeros(shape), np.zeros(shape)
            self.true_negatives, self.false_negatives = np.zeros(shape), np.zeros(shape)
        else:
            super().reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None):
        if not self.multi_label and self.label_weights is None:
            return super().update_state(y_true, y_pred, sample_weight)
        yt, yp = self._preprocess(np.asarray(y_true, np.float32), _as_pred(y_pred))
        yt, yp = np.asarray(yt, np.float32), np.asarray(yp, np.float32)
        if yp.ndim < 2 or yt.shape != yp.shape:
            raise ValueError(f"AUC: multi_label and label_weights need labels and predictions of the same "
                             f"shape (batch, ..., labels), got y_true {yt.shape} and y_pred {yp.shape}")
        labels = yp.shape[-1]
        yt2, yp2 = yt.reshape(-1, labels), yp.reshape(-1, labels)
        rows = yp2.shape[0]
        elements = None if sample_weight is None else _element_weights(sample_weight, yp, "AUC")
        if elements is not None:   # one weight per label of each row
            w2 = elements.reshape(-1, labels)
        else:
            w = np.ones(rows, np.float32) if sample_weight is None else _row_weights(sample_weight, rows)
            if w.size != rows:
                raise ValueError(f"AUC: sample_weight has {w.size} values for {rows} rows of predictions")
            w2 = np.broadcast_to(w[:, None], (rows, labels))
        if self.label_weights is not None and self.label_weights.size != labels:
            raise ValueError(f"AUC: {self.label_weights.size} label_weights for predictions of {labels} labels")
        if self.multi_label:
            if self.num_labels is None:   # fixed by the first batch, as Keras builds its variables
                self.num_labels = labels
                self.reset_state()
            elif labels != self.num_labels:
                raise ValueError(f"AUC: expected {self.num_labels} labels, got predictions of shape {yp.shape}")
            for j in range(labels):
                c = kernels.confusion_counts(np.asarray(yp2[:, j], order="C"), np.asarray(yt2[:, j], order="C"),
                                             self._sorted, soft_labels=True,
                                             sample_weight=np.asarray(w2[:, j], order="C"))
                self._add_counts(c, j)
            return
        # one pool of counts, each element weighted by its row's weight times its label's
        ew = np.asarray((w2 * self.label_weights[None, :].astype(np.float32)).reshape(-1), order="C")
        c = kernels.confusion_counts(np.asarray(yp2.reshape(-1), order="C"), np.asarray(yt2.reshape(-1), order="C"),
                                     self._sorted, soft_labels=True, sample_weight=ew)
        self._add_counts(c, None)

    def _add_counts(self, c, column):
        at = slice(None) if column is None else (slice(None), column)
        self.true_positives[at] += c[:, 0]
        self.false_positives[at] += c[:, 1]
        self.true_negatives[at] += c[:, 2]
        self.false_negatives[at] += c[:, 3]

    def result(self):
        if self.multi_label and self.true_positives.ndim == 1:   # no batch seen yet
            return 0.0
        areas = self._areas()
        if not self.multi_label:
            return float(areas)
        if self.label_weights is None:
            return float(np.mean(areas))
        return float(_divide_no_nan(np.sum(areas * self.label_weights), np.sum(self.label_weights)))

    def _areas(self):
        """The area under the curve of each label's counts (axis 0 runs over the thresholds)."""
        tp, fp = self.true_positives, self.false_positives
        tn, fn = self.true_negatives, self.false_negatives
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return np.sum((x[:-1] - x[1:]) * heights, axis=0)

    def _interpolate_pr_auc(self):
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        prec_slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - prec_slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        log_ratio = np.log(np.where(ratio > 0, ratio, 1.0))
        increment = _divide_no_nan(prec_slope * (dtp + intercept * log_ratio), np.maximum(tp[1:] + fn[1:], 0))
        return np.sum(increment, axis=0)

    def get_config(self):
        config = {"name": self.name, "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None else [float(v) for v in self.label_weights],
                  "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


# -- function forms (Keras' keras.metrics.<name>(y_true, y_pred) -> per-sample values) ---------

class FBetaScore(Metric):
    """F-beta score per class (Keras 3's ``FBetaScore``): (1 + b^2) P R / (b^2 P + R) from true and
    false positives and false negatives summed over the epoch, for (batch, classes) labels and
    predictions. ``threshold=None`` counts the row's highest score(s) as the predicted class(es)
    (never an all-zero row); a float counts y_pred > threshold (multi-label). ``average``: None (one
    score per class, an array), 'micro' (counts pooled over classes), 'macro' (mean of the class
    scores) or 'weighted' (their mean weighted by each class's count of true labels)."""

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"{type(self).__name__}: average must be None, 'micro', 'macro' or 'weighted', "
                             f"got {average!r}")
        if not isinstance(beta, (int, float)) or isinstance(beta, bool) or not beta > 0:
            raise ValueError(f"{type(self).__name__}: beta must be a float > 0, got {beta!r}")
        if threshold is not None and (not isinstance(threshold, (int, float)) or not 0 < threshold <= 1):
            raise ValueError(f"{type(self).__name__}: threshold must be a float in (0, 1], got {threshold!r}")
        self.average, self.beta, self.threshold = average, float(beta), threshold
        self._classes = None   # fixed by the first update, as Keras builds its variables
        super().__init__(name)

    def reset_state(self):
        shape = () if self.average == "micro" or self._classes is None else (self._classes,)
        self.true_positives, self.false_positives = np.zeros(shape), np.zeros(shape)
        self.false_negatives, self.intermediate_weights = np.zeros(shape), np.zeros(shape)

    def update_state(self, y_true, y_pred, sample_weight=None):
        yt = np.asarray(y_true, np.float64)
        yp = np.asarray(y_pred, np.float64)
        op = type(self).__name__
        if yp.ndim != 2 or yt.shape != yp.shape:
            raise ValueError(f"{op}: y_true and y_pred must both be (batch, num_classes), got y_true "
                             f"{yt.shape} and y_pred {yp.shape}")
        if self._classes is None:
            self._classes = yp.shape[1]
            self.reset_state()
        elif yp.shape[1] != self._classes:
            raise ValueError(f"{op}: expected {self._classes} classes (the first batch's), got y_pred {yp.shape}")
        if self.threshold is None:
            # the row's best class; an all-zero row predicts nothing (Keras' abs > 1e-9 test)
            pred = (yp >= yp.max(axis=-1, keepdims=True)) & (np.abs(yp) > 1e-9)
        else:
            pred = yp > self.threshold
        pred = pred.astype(np.float64)
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, np.float64).reshape(-1)
            if w.size == 1:
                w = np.full(yp.shape[0], w[0])
            if w.shape[0] != yp.shape[0]:
                raise ValueError(f"{op}: sample_weight needs one weight per row ({yp.shape[0]}), got {w.shape}")
        axis = None if self.average == "micro" else 0

        def total(v):
            return (v if w is None else v * w[:, None]).sum(axis=axis)
        self.true_positives = self.true_positives + total(pred * yt)
        self.false_positives = self.false_positives + total(pred * (1 - yt))
        self.false_negatives = self.false_negatives + total((1 - pred) * yt)
        self.intermediate_weights = self.intermediate_weights + total(yt)

    def result(self):
        eps = _EPSILON
        tp = self.true_positives
        precision = tp / (tp + self.false_positives + eps)
        recall = tp / (tp + self.false_negatives + eps)
        b2 = self.beta ** 2
        score = (1 + b2) * precision * recall / (b2 * precision + recall + eps)
        if self.average == "weighted":
            weights = self.intermediate_weights / (self.intermediate_weights.sum() + eps)
            return float((score * weights).sum())
        if self.average is not None:
            return float(np.mean(score))
        return np.asarray(score, np.float32)

    def get_config(self):
        return {"name": self.name, "average": self.average, "beta": self.beta, "threshold": self.threshold}

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} average={self.average!r}>"


class F1Score(FBetaScore):
    """FBetaScore with beta = 1: 2 P R / (P + R)."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config


# -- operating-point metrics (Keras' SensitivitySpecificityBase) ----------------------------------

class _AtConstraint(_Confusion):
    """The best value of one rate among the thresholds where another rate reaches ``value``:
    counts at num_thresholds thresholds (0, 1/(n-1), ..., (n-2)/(n-1), 1; [0.5] for n = 1) with
    y_pred > threshold the positive prediction, then max(dependent[t] for t where
    constrained[t] >= value), 0 when no threshold qualifies (Keras' _find_max_under_constraint)."""

    _value_arg = ""

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        kind = type(self).__name__
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{kind}: {self._value_arg} must be a float in [0, 1], got {value!r}")
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)) or num_thresholds < 1:
            raise ValueError(f"{kind}: num_thresholds must be a positive int, got {num_thresholds!r}")
        self.value, self.num_thresholds, self.class_id = float(value), int(num_thresholds), class_id
        n = self.num_thresholds
        self.thresholds = [0.5] if n == 1 else [0.0] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1.0]
        self._sorted = np.asarray(self.thresholds, np.float32)
        super().__init__(name)

    _preprocess = _PrecisionRecall._preprocess
    top_k = None

    def _rates(self):
        tp, fp = self.true_positives, self.false_positives
        tn, fn = self.true_negatives, self.false_negatives
        return {"recall": _divide_no_nan(tp, tp + fn), "precision": _divide_no_nan(tp, tp + fp),
                "specificity": _divide_no_nan(tn, tn + fp)}

    def _best(self, constrained, dependent):
        feasible = constrained >= self.value
        return float(dependent[feasible].max()) if feasible.any() else 0.0

    def get_config(self):
        return {"name": self.name, self._value_arg: self.value, "num_thresholds": self.num_thresholds,
                "class_id": self.class_id}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(config.pop(cls._value_arg), **config)


class SensitivityAtSpecificity(_AtConstraint):
    """The best sensitivity (recall) among the thresholds whose specificity tn / (tn + fp) is
    >= ``specificity``."""

    _value_arg = "specificity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name)

    def result(self):
        r = self._rates()
        return self._best(r["specificity"], r["recall"])


class SpecificityAtSensitivity(_AtConstraint):
    """The best specificity among the thresholds whose sensitivity (recall) is >= ``sensitivity``."""

    _value_arg = "sensitivity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name)

    def result(self):
        r = self._rates()
        return self._best(r["recall"], r["specificity"])


class PrecisionAtRecall(_AtConstraint):
    """The best precision among the thresholds whose recall is >= ``recall``."""

    _value_arg = "recall"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name)

    def result(self):
        r = self._rates()
        return self._best(r["recall"], r["precision"])


class RecallAtPrecision(_AtConstraint):
    """The best recall among the thresholds whose precision is >= ``precision``."""

    _value_arg = "precision"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name)

    def result(self):
        r = self._rates()
        return self._best(r["precision"], r["recall"])


# -- intersection over union (Keras' iou_metrics) ------------------------------------------------

class IoU(Metric):
    """Intersection over union of the ``target_class_ids`` from a (num_classes, num_classes)
    confusion matrix cm[true, pred] summed over the epoch (weighted by sample_weight):

        iou_c = cm[c, c] / (sum_p cm[c, p] + sum_t cm[t, c] - cm[c, c] + 1e-7)
        result = sum_{c in targets} iou_c / (#targets with a nonzero denominator + 1e-7)

    Labels (and predictions) are class ids, or scores whose argmax over ``axis`` is taken when
    sparse_y_true (sparse_y_pred) is False; everything is flattened, so (N, H, W) masks count
    every pixel. ``ignore_class``: labels equal to it are left out. sample_weight: one per
    element, or per sample (broadcast over the rest). The matrix is a NumPy bincount: one pass
    over the batch, cheap next to the model that made the predictions."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        kind = type(self).__name__
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"{kind}: num_classes must be a positive int, got {num_classes!r}")
        ids = [target_class_ids] if isinstance(target_class_ids, (int, np.integer)) else list(target_class_ids)
        if not ids or any(isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < num_classes
                          for i in ids):
            raise ValueError(f"{kind}: target_class_ids must be class ids in [0, {num_classes}), "
                             f"got {target_class_ids!r}")
        self.num_classes = int(num_classes)
        self.target_class_ids = [int(i) for i in ids]
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        self.sparse_y_true, self.sparse_y_pred = bool(sparse_y_true), bool(sparse_y_pred)
        self.axis = int(axis)
        super().__init__(name)

    def reset_state(self):
        self.total_cm = np.zeros((self.num_classes, self.num_classes))

    def _class_ids(self, y, sparse, what):
        a = np.asarray(y)
        if not sparse:
            a = np.argmax(a, axis=self.axis)
        a = a.reshape(-1)
        if a.dtype.kind == "f":
            a = a.astype(np.int64)
        return a.astype(np.int64, copy=False)

    def _predictions(self, y_pred):
        return self._class_ids(y_pred, self.sparse_y_pred, "y_pred")

    def update_state(self, y_true, y_pred, sample_weight=None):
        kind = type(self).__name__
        t = self._class_ids(y_true, self.sparse_y_true, "y_true")
        p = self._predictions(y_pred)
        if t.size != p.size:
            raise ValueError(f"{kind}: y_true gives {t.size} labels and y_pred {p.size} predictions "
                             f"(shapes {np.shape(y_true)} and {np.shape(y_pred)})")
        if sample_weight is None:
            w = np.ones(t.size)
        else:
            w = np.asarray(sample_weight, np.float64).reshape(-1)
            if w.size not in (1, t.size):
                if w.size and t.size % w.size == 0:   # one weight per sample, shared by its elements
                    w = np.repeat(w, t.size // w.size)
                else:
                    raise ValueError(f"{kind}: sample_weight has {w.size} values for {t.size} labels")
            w = np.broadcast_to(w, t.shape)
        if self.ignore_class is not None:
            keep = t != self.ignore_class
            t, p, w = t[keep], p[keep], w[keep]
        n = self.num_classes
        for what, ids in (("y_true", t), ("y_pred", p)):
            if ids.size and (ids.min() < 0 or ids.max() >= n):
                raise ValueError(f"{kind}: {what} holds class ids outside [0, {n}): "
                                 f"min {ids.min()}, max {ids.max()}")
        self.total_cm += np.bincount(t * n + p, weights=w, minlength=n * n).reshape(n, n)

    def result(self):
        cm = self.total_cm
        tp = np.diag(cm)
        denominator = cm.sum(axis=0) + cm.sum(axis=1) - tp
        ids = self.target_class_ids
        tp, denominator = tp[ids], denominator[ids]
        valid = float(np.sum(denominator > 1e-9))
        iou = tp / (denominator + _EPSILON)
        return float(np.sum(iou) / (valid + _EPSILON))

    def get_config(self):
        return {"name": self.name, "num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} num_classes={self.num_classes}>"


class MeanIoU(IoU):
    """IoU averaged over all num_classes classes (those that appear in labels or predictions)."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"MeanIoU: num_classes must be a positive int, got {num_classes!r}")
        super().__init__(num_classes, list(range(int(num_classes))), name, dtype, ignore_class,
                         sparse_y_true, sparse_y_pred, axis)

    def get_config(self):
        config = super().get_config()
        del config["target_class_ids"]
        return config


class BinaryIoU(IoU):
    """IoU of classes 0 / 1 with predictions y_pred >= threshold as class 1 (Keras' BinaryIoU)."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(2, target_class_ids, name, dtype)
        self.threshold = float(threshold)

    def _predictions(self, y_pred):
        return (np.asarray(y_pred, np.float32) >= self.threshold).astype(np.int64).reshape(-1)

    def get_config(self):
        return {"name": self.name, "target_class_ids": self.target_class_ids, "threshold": self.threshold}


class OneHotIoU(IoU):
    """IoU with one-hot labels (and score predictions): both argmax'd over ``axis`` first."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, target_class_ids, name, dtype, ignore_class, False, sparse_y_pred, axis)

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """MeanIoU with one-hot labels (and score predictions): both argmax'd over ``axis`` first."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name, dtype, ignore_class, False, sparse_y_pred, axis)

    def get_config(self):
        config = super().get_config()
        del config["sparse_y_true"]
        return config


# -- regression -----------------------------------------------------------------------------------

class R2Score(Metric):
    """Coefficient of determination over the epoch (Keras 3's R2Score), per output column j of
    (N, D) targets (an (N,) target is one column), with weights w (per sample or per element):

        mean_j = sum w y / sum w,  total_j = sum w y^2 - (sum w y) mean_j,  res_j = sum w (y - p)^2
        r2_j = 1 - res_j / total_j   (0 where that is infinite: a constant target)

    class_aggregation: 'uniform_average' (mean of r2_j), 'variance_weighted_average' (weighted
    by total_j) or None (the vector). num_regressors p > 0 gives the adjusted score
    1 - (1 - r2) (n - 1) / (n - p - 1), n the number of target values seen."""

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError(f"R2Score: class_aggregation must be None, 'uniform_average' or "
                             f"'variance_weighted_average', got {class_aggregation!r}")
        if isinstance(num_regressors, bool) or not isinstance(num_regressors, (int, np.integer)) or num_regressors < 0:
            raise ValueError(f"R2Score: num_regressors must be an int >= 0, got {num_regressors!r}")
        self.class_aggregation, self.num_regressors = class_aggregation, int(num_regressors)
        self._outputs = None   # fixed by the first batch, as Keras builds its variables
        super().__init__(name)

    def reset_state(self):
        shape = (self._outputs or 0,)
        self.sum, self.squared_sum = np.zeros(shape), np.zeros(shape)
        self.total_mse, self.count = np.zeros(shape), np.zeros(shape)
        self.num_samples = 0

    def update_state(self, y_true, y_pred, sample_weight=None):
        yt = np.asarray(y_true, np.float64)
        yp = np.asarray(y_pred, np.float64)
        yt = yt[:, None] if yt.ndim == 1 else yt
        yp = yp[:, None] if yp.ndim == 1 else yp
        if yt.ndim != 2 or yt.shape != yp.shape:
            raise ValueError(f"R2Score: y_true and y_pred must both be (batch, outputs) (or (batch,)), got "
                             f"y_true {np.shape(y_true)} and y_pred {np.shape(y_pred)}")
        if self._outputs is None:
            self._outputs = yt.shape[1]
            self.reset_state()
        elif yt.shape[1] != self._outputs:
            raise ValueError(f"R2Score: expected {self._outputs} outputs (the first batch's), got {yt.shape}")
        w = np.ones_like(yt) if sample_weight is None else _weights_like("R2Score", yt, sample_weight)
        wy = yt * w
        self.sum = self.sum + wy.sum(axis=0)
        self.squared_sum = self.squared_sum + (yt * wy).sum(axis=0)
        self.total_mse = self.total_mse + ((yt - yp) ** 2 * w).sum(axis=0)
        self.count = self.count + w.sum(axis=0)
        self.num_samples += yt.size

    def result(self):
        if not self._outputs:
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum / self.count
            total = self.squared_sum - self.sum * mean
            raw = 1.0 - self.total_mse / total
        raw = np.where(np.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            r2 = np.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            r2 = np.sum(total * raw) / np.sum(total)
        else:
            r2 = raw
        n, p = self.num_samples, self.num_regressors
        if p and p < n - 1:   # Keras warns and keeps the plain score otherwise
            r2 = 1.0 - (1.0 - r2) * (n - 1) / (n - p - 1)
        return float(r2) if np.ndim(r2) == 0 else np.asarray(r2, np.float32)

    def get_config(self):
        return {"name": self.name, "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}

    def __repr__(self):
        return f"<R2Score name={self.name!r}>"


# -- correlations (Keras 3's correlation metrics: per-sample values averaged over the batches) ----

def _same_rank(y_true, y_pred):
    yt, yp = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    if yt.ndim == yp.ndim + 1 and yt.shape[-1] == 1:
        yt = yt.reshape(yt.shape[:-1])
    elif yp.ndim == yt.ndim + 1 and yp.shape[-1] == 1:
        yp = yp.reshape(yp.shape[:-1])
    return yt, yp


def _axes(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def pearson_correlation(y_true, y_pred, axis=-1):
    """Per sample: the Pearson correlation of y_true and y_pred along ``axis``,
    mean((t - mean t) / std t * (p - mean p) / std p) (population std; a constant row is NaN,
    as in Keras)."""
    yt, yp = _same_rank(y_true, y_pred)
    ax = _axes(axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = yt - yt.mean(axis=ax, keepdims=True)
        p = yp - yp.mean(axis=ax, keepdims=True)
        t = t / t.std(axis=ax, keepdims=True)
        p = p / p.std(axis=ax, keepdims=True)
        return kernels.Tensor.from_numpy(np.asarray((t * p).mean(axis=ax), np.float32, order="C"))


def concordance_correlation(y_true, y_pred, axis=-1):
    """Per sample: Lin's concordance correlation along ``axis``,
    2 cov(t, p) / (var t + var p + (mean t - mean p)^2 + 1e-7)."""
    yt, yp = _same_rank(y_true, y_pred)
    ax = _axes(axis)
    mt, mp = yt.mean(axis=ax, keepdims=True), yp.mean(axis=ax, keepdims=True)
    norm = yt.var(axis=ax, keepdims=True) + yp.var(axis=ax, keepdims=True) + (mt - mp) ** 2
    value = (2.0 * (yt - mt) * (yp - mp) / (norm + _EPSILON)).mean(axis=ax)
    return kernels.Tensor.from_numpy(np.asarray(value, np.float32, order="C"))


class PearsonCorrelation(MeanMetricWrapper):
    """Mean over samples of pearson_correlation along ``axis`` (Keras 3)."""

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name=name, axis=axis)
        self.axis = axis

    def get_config(self):
        return {"name": self.name, "axis": self.axis}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class ConcordanceCorrelation(MeanMetricWrapper):
    """Mean over samples of concordance_correlation along ``axis`` (Keras 3)."""

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name=name, axis=axis)
        self.axis = axis

    def get_config(self):
        return {"name": self.name, "axis": self.axis}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


pearson_correlation._corenn_metric = PearsonCorrelation
concordance_correlation._corenn_metric = ConcordanceCorrelation


def _lead_shape(y_pred):
    shape = tuple(y_pred.shape)
    return shape[:-1] if len(shape) > 1 else shape


def _per_row_accuracy(kind, y_true, y_pred, **kw):
    y_pred = _as_pred(y_pred)
    out = np.empty(_lead_shape(y_pred), np.float32)
    kernels.accuracy_count(kind, y_pred, y_true, per_row=out, **kw)
    return kernels.Tensor.from_numpy(out)


def _sparse_labels(y_true):
    return SparseCategoricalAccuracy._labels(None, y_true)


def _fractional_labels(y_true):
    """Float class labels with a fractional part (a resized mask's 1.5), as float64, else None.
    Keras' sparse accuracy compares the label with the argmax cast to the label's dtype, so such
    a label never matches (its cross-entropy truncates it instead: losses.prepare_labels)."""
    if isinstance(y_true, kernels.Tensor) and not y_true.dtype.is_floating:
        return None
    y = np.asarray(y_true)
    if y.dtype.kind != "f":
        return None
    y = y.astype(np.float64)
    return y if np.any(np.isfinite(y) & (y != np.trunc(y))) else None


def _fractional_hits(labels, y_pred):
    """1.0 per row where argmax(y_pred) equals the (float) label, as Keras compares them."""
    pred = np.asarray(y_pred, np.float32)
    guess = np.argmax(pred, axis=-1).reshape(-1)
    if labels.size != guess.size:
        raise ValueError(f"sparse_categorical_accuracy: {labels.size} labels for {guess.size} predictions "
                         f"(y_pred of shape {pred.shape})")
    return (guess.astype(np.float64) == labels.reshape(-1)).astype(np.float64)


def accuracy(y_true, y_pred):
    """Elementwise y_true == y_pred as 1.0 / 0.0 (Keras' plain accuracy)."""
    yp = np.asarray(y_pred)
    yt = np.asarray(y_true)
    if yt.ndim == yp.ndim + 1 and yt.shape[-1] == 1:
        yt = yt.reshape(yt.shape[:-1])
    elif yp.ndim == yt.ndim + 1 and yp.shape[-1] == 1:
        yp = yp.reshape(yp.shape[:-1])
    return kernels.Tensor.from_numpy(np.asarray(yt == yp, dtype=np.float32, order="C"))


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Per sample: mean over the last axis of (y_pred > threshold) == (y_true > 0.5)."""
    y_pred = _as_pred(y_pred)
    y_true = np.asarray(np.asarray(y_true), np.float32, order="C")
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape + (1,))
    return _per_row_accuracy("binary", y_true, y_pred, threshold=float(threshold))


def categorical_accuracy(y_true, y_pred):
    """Per sample: 1.0 where argmax(y_pred) == argmax(y_true)."""
    return _per_row_accuracy("categorical", y_true, y_pred)


def sparse_categorical_accuracy(y_true, y_pred):
    """Per sample: 1.0 where argmax(y_pred) == y_true (integer labels; a fractional float label
    never matches, as in Keras)."""
    labels = _fractional_labels(y_true)
    if labels is not None:
        return kernels.Tensor.from_numpy(np.asarray(
            _fractional_hits(labels, y_pred).reshape(_lead_shape(_as_pred(y_pred))), np.float32, order="C"))
    return _per_row_accuracy("sparse_categorical", _sparse_labels(y_true), y_pred)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Per sample: 1.0 where argmax(y_true) is among the k highest scores."""
    return _per_row_accuracy("top_k", y_true, y_pred, k=int(k))


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Per sample: 1.0 where the label y_true is among the k highest scores."""
    return _per_row_accuracy("sparse_top_k", _sparse_labels(y_true), y_pred, k=int(k))


def _per_sample_loss(kind, name, metric_cls, sparse=False, sign=1.0, **kw):
    def fn(y_true, y_pred):
        y_pred = _as_pred(y_pred)
        if sparse:
            y_true = _sparse_labels(y_true)
        else:
            y_true = np.asarray(np.asarray(y_true), np.float32, order="C")
            if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
                y_true = y_true.reshape(y_true.shape + (1,))
        out = np.empty(_lead_shape(y_pred), np.float32)
        kernels.loss_forward(kind, y_pred, y_true, None, per_sample=out, **kw)
        return kernels.Tensor.from_numpy(out if sign == 1.0 else np.negative(out))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Per-sample {kind} (one value per row of y_pred's last axis)."
    fn._corenn_metric = metric_cls
    return fn


mean_absolute_error = mae = _per_sample_loss("mean_absolute_error", "mean_absolute_error", MeanAbsoluteError)
mean_squared_error = mse = _per_sample_loss("mean_squared_error", "mean_squared_error", MeanSquaredError)
mean_absolute_percentage_error = mape = _per_sample_loss(
    "mean_absolute_percentage_error", "mean_absolute_percentage_error", MeanAbsolutePercentageError)
mean_squared_logarithmic_error = msle = _per_sample_loss(
    "mean_squared_logarithmic_error", "mean_squared_logarithmic_error", MeanSquaredLogarithmicError)
kl_divergence = kld = _per_sample_loss("kl_divergence", "kl_divergence", KLDivergence)
poisson = _per_sample_loss("poisson", "poisson", Poisson)
log_cosh = logcosh = _per_sample_loss("log_cosh", "log_cosh", LogCoshError)
hinge = _per_sample_loss("hinge", "hinge", Hinge)
squared_hinge = _per_sample_loss("squared_hinge", "squared_hinge", SquaredHinge)
categorical_hinge = _per_sample_loss("categorical_hinge", "categorical_hinge", CategoricalHinge)
binary_crossentropy = _per_sample_loss("binary_crossentropy", "binary_crossentropy", BinaryCrossentropy)
categorical_crossentropy = _per_sample_loss("categorical_crossentropy", "categorical_crossentropy",
                                            CategoricalCrossentropy)
sparse_categorical_crossentropy = _per_sample_loss("sparse_categorical_crossentropy",
                                                   "sparse_categorical_crossentropy",
                                                   SparseCategoricalCrossentropy, sparse=True)
for _fn, _cls in ((accuracy, Accuracy), (binary_accuracy, BinaryAccuracy),
                  (categorical_accuracy, CategoricalAccuracy),
                  (sparse_categorical_accuracy, SparseCategoricalAccuracy),
                  (top_k_categorical_accuracy, TopKCategoricalAccuracy),
                  (sparse_top_k_categorical_accuracy, SparseTopKCategoricalAccuracy)):
    _fn._corenn_metric = _cls
del _fn, _cls


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "mean": Mean,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError, "mape": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError, "msle": MeanSquaredLogarithmicError,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "poisson": Poisson, "logcosh": LogCoshError,
    "log_cosh": LogCoshError, "hinge": Hinge, "squared_hinge": SquaredHinge,
    "categorical_hinge": CategoricalHinge, "cosine_similarity": CosineSimilarity,
    "auc": AUC, "precision": Precision, "recall": Recall, "f1_score": F1Score, "fbeta_score": FBetaScore,
    "true_positives": TruePositives, "false_positives": FalsePositives,
    "true_negatives": TrueNegatives, "false_negatives": FalseNegatives,
    "binary_crossentropy": BinaryCrossentropy, "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "root_mean_squared_error": RootMeanSquaredError, "r2_score": R2Score,
    "pearson_correlation": PearsonCorrelation, "concordance_correlation": ConcordanceCorrelation,
}
_CLASSES = {c.__name__: c for c in list(_BY_NAME.values()) + [
    Accuracy, Sum, MeanMetricWrapper, R2Score, IoU, MeanIoU, BinaryIoU, OneHotIoU, OneHotMeanIoU, PrecisionAtRecall,
    RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity, PearsonCorrelation,
    ConcordanceCorrelation]}


def get(identifier):
    """Keras 3's ``metrics.get``: a metric name or alias ('mae', 'binary_accuracy', 'auc'), class
    name, class or ``{class_name, config}`` dict gives a Metric instance under its own default
    name; a Metric instance or a function (``metrics.mean_squared_error``, a user's fn) comes
    back as it is; None gives None. ``compile(metrics=[...])`` resolves its entries with
    :func:`resolve` instead, which names each metric after the string it was given and turns
    function forms into stateful metrics."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            return Accuracy()
        cls = _BY_NAME.get(identifier.lower()) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"metrics.get: unknown metric {identifier!r}; expected 'accuracy', "
                             f"'acc' or one of {', '.join(sorted(_BY_NAME))}")
        return cls()
    if isinstance(identifier, dict) and identifier.get("class_name") == "function":
        fn = globals().get(str(identifier.get("config")))   # Keras' serialized form of a metric function
        if callable(fn) and not isinstance(fn, type):
            return fn
        raise ValueError(f"metrics.get: unknown metric function {identifier.get('config')!r}")
    if isinstance(identifier, (dict, type)):
        return _to_metric(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(f"metrics.get: cannot interpret {identifier!r} as a metric")


def _function_metric_name(fn):
    """Keras 3's name of a compiled metric function: its __name__ without non-word characters,
    in snake case (``PSNR`` -> ``psnr``, ``myMetric`` -> ``my_metric``, a lambda -> ``lambda``)."""
    import re
    from .layers.base import snake_case
    name = getattr(fn, "__name__", None)
    return None if name is None else snake_case(re.sub(r"\W+", "", name))


def _to_metric(identifier, count_name=False) -> Metric:
    """A compile() metric entry as a Metric: names keep the string as the metric's name (its key
    in the logs), function forms become their stateful metric, a user's function a
    MeanMetricWrapper, as Keras' compile does. ``count_name``: a metric class that names itself
    ('auc' -> AUC) takes a number of its name's counter, as Keras' compile makes the metric
    unnamed and then renames it (compile asks once per entry; fit's fresh copies do not)."""
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
        if not count_name:
            try:
                return cls(name=identifier)
            except TypeError:   # a class without a name argument
                pass
        m = cls()
        m.name = identifier
        return m
    if isinstance(identifier, dict) and identifier.get("class_name") == "function":
        return _to_metric(identifier.get("config"))
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _CLASSES.get(identifier["class_name"])
        if cls is None:   # a user's Metric class, registered or passed as a custom object
            from .saving import custom_class
            found = custom_class(identifier.get("registered_name")) or custom_class(identifier["class_name"])
            cls = found if isinstance(found, type) and issubclass(found, Metric) else None
        if cls is None:
            raise ValueError(f"metrics.get: unknown metric class {identifier['class_name']!r}")
        return cls.from_config(identifier.get("config", {}))
    cls = getattr(identifier, "_corenn_metric", None)
    if cls is not None:  # a function form: its stateful metric, named after the function
        m = cls()
        m.name = identifier.__name__
        return m
    if callable(identifier) and not isinstance(identifier, type):
        # a function fn(y_true, y_pred) -> per-sample values (compile(metrics=[my_fn])): Keras
        # wraps it in a MeanMetricWrapper named after it, in snake case (PSNR -> psnr)
        return MeanMetricWrapper(identifier, name=_function_metric_name(identifier))
    raise TypeError(f"metrics.get: cannot interpret {identifier!r} as a metric")


def by_name(spec):
    """compile()'s metrics argument with the function forms (metrics.mae) replaced by their
    names, walking lists and dicts: what a saved model records."""
    if isinstance(spec, dict):
        return {k: by_name(v) for k, v in spec.items()}
    if isinstance(spec, (list, tuple)):
        return type(spec)(by_name(v) for v in spec)
    if getattr(spec, "_corenn_metric", None) is not None and not isinstance(spec, (Metric, type)):
        return spec.__name__
    return spec


def resolve(identifier, loss=None, y_true_ndim=None, y_pred_shape=None, y_true_last_dim=None,
            count_name=False) -> Metric:
    """compile()'s resolution of a metric spec, given the loss and the label/output shapes
    (Keras 3's rule for 'accuracy': labels of one column against several outputs are sparse);
    ``count_name``: see _to_metric."""
    if isinstance(identifier, str) and identifier in ("accuracy", "acc"):
        kind = getattr(loss, "kind", "")
        if kind == "binary_crossentropy" or (y_pred_shape is not None and y_pred_shape[-1] == 1):
            cls = BinaryAccuracy
        elif kind == "sparse_categorical_crossentropy" or (
                y_true_ndim is not None and y_pred_shape is not None and y_true_ndim < len(y_pred_shape)) or (
                y_true_last_dim == 1 and y_pred_shape is not None and (y_pred_shape[-1] or 0) > 1):
            cls = SparseCategoricalAccuracy
        else:
            cls = CategoricalAccuracy
        return cls(name=identifier)
    if isinstance(identifier, Metric):
        # a fresh copy per use so training and validation keep separate totals
        try:
            config = identifier.get_config()
        except (ValueError, TypeError, NotImplementedError):
            # a metric that cannot be saved (a MeanMetricWrapper of an unregistered function) still
            # compiles, as in Keras: an emptied copy of the instance
            import copy
            fresh = copy.deepcopy(identifier)
            fresh.reset_state()
            return fresh
        return type(identifier).from_config(config)
    return _to_metric(identifier, count_name)


# Keras 3's metrics module also exports these per-sample loss functions (keyword options as the
# losses take them: delta=, alpha=, gamma=, from_logits=, ...)
binary_focal_crossentropy = _losses.binary_focal_crossentropy
categorical_focal_crossentropy = _losses.categorical_focal_crossentropy
huber = _losses.huber


def serialize(metric) -> dict:
    """Keras' ``metrics.serialize``: {'class_name', 'config'} of a metric (a name or function
    form is resolved first, as ``get`` does)."""
    metric = _to_metric(metric)
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config, custom_objects=None) -> Metric:
    """Keras' ``metrics.deserialize``: a metric from ``serialize``'s dict (or a name); classes
    of the user's are found through ``custom_objects`` or the registry."""
    from .saving import CustomObjectScope
    with CustomObjectScope(custom_objects):
        return get(config)


__all__ += ["binary_focal_crossentropy", "categorical_focal_crossentropy", "huber", "serialize", "deserialize"]
