"""Losses: Keras classes, function-style names and string aliases.

A loss is called Keras-style, ``loss(y_true, y_pred, sample_weight=None) -> float`` (mean over
the batch). Training uses ``forward_backward(y_true, y_pred, grad)``, which writes
d(loss)/d(y_pred) into ``grad`` in the same pass as the value (``kernels.loss_forward``; with
``from_logits`` the softmax/sigmoid is fused into the cross-entropy).

Per-sample losses (then averaged over the batch, weighted by sample_weight when given):
    mean_squared_error    mean_j (y - p)^2
    mean_absolute_error   mean_j |y - p|
    huber                 mean_j  0.5 e^2 if |e| <= d else d(|e| - d/2),  e = y - p
    binary_crossentropy   mean_j -(y log p + (1 - y) log(1 - p))
    categorical_ce        -sum_j y_j log p_j
    sparse_categorical_ce -log p_label
    kl_divergence         sum_j t log(t / p),  t, p clipped to [1e-7, 1]
    cosine_similarity     -(t . p) / (max(|t|, 1e-7) max(|p|, 1e-7))  (along `axis`, default the last)
    hinge                 mean_j max(1 - t p, 0)     (0/1 labels become -1/1, as in Keras)
    squared_hinge         mean_j max(1 - t p, 0)^2
    categorical_hinge     max(max_j (1 - t_j) p_j - sum_j t_j p_j + 1, 0)
    log_cosh              mean_j log cosh(p - t)
    poisson               mean_j p - t log(p + 1e-7)
    mean_squared_log_err  mean_j (log(max(p, 1e-7) + 1) - log(max(t, 1e-7) + 1))^2
    mean_abs_percentage   100 mean_j |t - p| / max(|t|, 1e-7)
Probabilities are clipped to [1e-7, 1 - 1e-7] as in Keras. Every loss has a fused C++ kernel
(csrc/cpu/loss.cpp) that writes the gradient in the pass that computes the value.

``reduction``: 'sum_over_batch_size' (the default; the mean over the rows of y_pred seen as
(rows, C), an (N, T, C) output having N*T rows), 'sum', or None / 'none' (one value per row,
shaped like y_pred without its last axis; a GradientTape differentiates it too).

The function-style names (``losses.mean_squared_error(y_true, y_pred)``, ``losses.mse``, ...)
return per-sample values, as Keras 3's: one per row of y_pred's last axis (shape y_pred.shape[:-1];
the class with ``reduction=None``), so ``ops.mean(losses.mse(y, p))`` is the batch loss.
"""
from __future__ import annotations

import math
import sys

import numpy as np

from . import autodiff, kernels

__all__ = ["Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "mean_squared_error",
           "mean_absolute_error", "huber", "binary_crossentropy", "categorical_crossentropy",
           "sparse_categorical_crossentropy", "mse", "mae", "KLDivergence", "CosineSimilarity", "Hinge",
           "SquaredHinge", "CategoricalHinge", "LogCosh", "Poisson", "MeanSquaredLogarithmicError",
           "MeanAbsolutePercentageError", "kl_divergence", "kld", "KLD", "cosine_similarity", "hinge",
           "squared_hinge", "categorical_hinge", "log_cosh", "logcosh", "poisson",
           "mean_squared_logarithmic_error", "msle", "MSLE", "mean_absolute_percentage_error", "mape",
           "MAPE", "MSE", "MAE", "CTC", "ctc", "get", "serialize", "deserialize", "BinaryFocalCrossentropy",
           "CategoricalFocalCrossentropy", "binary_focal_crossentropy", "categorical_focal_crossentropy",
           "Dice", "Tversky", "dice", "tversky", "Circle", "circle", "CategoricalGeneralizedCrossEntropy",
           "categorical_generalized_cross_entropy", "Reduction"]

_REDUCTIONS = ("sum_over_batch_size", "auto", "sum", None, "none")


class Reduction:
    """``tf.keras.losses.Reduction``: TF-Keras 2's reduction names as constants (TensorFlow 2.21
    still exports them), e.g. ``MeanSquaredError(reduction=tf.keras.losses.Reduction.NONE)``."""

    AUTO = "auto"
    NONE = "none"
    SUM = "sum"
    SUM_OVER_BATCH_SIZE = "sum_over_batch_size"

    @classmethod
    def all(cls):
        return (cls.AUTO, cls.NONE, cls.SUM, cls.SUM_OVER_BATCH_SIZE)

    @classmethod
    def validate(cls, key):
        if key not in cls.all():
            raise ValueError(f'Invalid Reduction Key: {key}. Expected keys are "{cls.all()}"')


def y_pred_dtype(wide):
    return "float64" if wide else "float32"


class Loss:
    """Base class. ``kind`` names the kernels.loss_forward kernel."""

    kind = ""
    sparse = False  # labels are class indices, not arrays shaped like y_pred

    def __init__(self, name=None, from_logits: bool = False, reduction="sum_over_batch_size"):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be 'sum_over_batch_size', 'sum' or "
                             f"None, got {reduction!r}")
        self.name = name or self.kind or "".join("_" + c.lower() if c.isupper() else c
                                                 for c in type(self).__name__).lstrip("_")
        self.from_logits = bool(from_logits)
        self.reduction = "none" if reduction is None else reduction

    def _kwargs(self):
        return {"from_logits": self.from_logits}

    def prepare_labels(self, y_true):
        """Labels as a contiguous NumPy array of the dtype the kernel takes."""
        if type(y_true) is not np.ndarray and isinstance(y_true, kernels.Tensor):
            return y_true
        if self._has_own_call:   # Keras casts the labels to y_pred's dtype for call
            return np.ascontiguousarray(y_true, dtype=np.float32)
        y = np.asarray(y_true)
        if self.sparse:
            if y.dtype.kind == "f":
                # Keras casts float labels to int64: a fraction is truncated toward zero (a mask
                # resized bilinearly, the FCN example); only NaN / inf have no class
                if not np.all(np.isfinite(y)):
                    raise ValueError(f"{self.name}: labels must be integer class indices (got NaN or inf)")
                return np.trunc(y).astype(np.int64)
            if y.dtype.kind not in "iu":
                raise TypeError(f"{self.name}: labels must be integers, got dtype {y.dtype}")
            return np.ascontiguousarray(y, dtype=np.int64 if y.dtype != np.int32 else np.int32)
        if y.dtype.kind not in "fiub":
            raise TypeError(f"{self.name}: labels must be numeric, got dtype {y.dtype}")
        return np.ascontiguousarray(y, dtype=np.float32)

    def forward_backward(self, y_true, y_pred, grad=None, sample_weight=None, logits=False) -> float:
        """The reduced loss ('sum' sums over the rows, anything else is the mean); when ``grad`` is
        given it also receives d(loss)/d(y_pred) (fused). ``logits=True``: y_pred holds the logits
        of a softmax/sigmoid output (the model's fused output + cross-entropy step)."""
        if self._has_own_call or (self._own_dunder_call and not self.__dict__.get("_in_own_dunder_call")):
            return self._python_forward_backward(y_true, y_pred, grad, sample_weight, logits)
        if isinstance(y_pred, kernels.Tensor) and y_pred.dtype == "float64":
            return self._float64_forward_backward(y_true, y_pred, grad, sample_weight, logits)
        if grad is None and np.dtype(str(getattr(y_pred, "dtype", "float32"))).kind in "iub":
            # integer / bool predictions (a model whose output is tf.math.argmax, evaluated with
            # loss='mse'): Keras converts y_pred to the loss's float32 dtype first; nothing can
            # differentiate them, so only the value is asked for
            y_pred = np.ascontiguousarray(np.asarray(y_pred), dtype=np.float32)
        if self.kind in _ELEMENTWISE and len(y_true.shape) == len(y_pred.shape) \
                and tuple(y_true.shape) != tuple(y_pred.shape):
            return self._broadcast_forward_backward(y_true, y_pred, grad, sample_weight, logits)
        if self.reduction == "sum":  # sum_i l_i = mean_i (rows * w_i) l_i: the same kernel pass
            rows = _rows(y_pred)
            base = np.ones(rows, np.float32) if sample_weight is None else \
                np.asarray(sample_weight, np.float32).reshape(-1)
            sample_weight = np.ascontiguousarray(base * np.float32(rows))
        kwargs = self._kernel_kwargs()
        if logits:
            kwargs["from_logits"] = True
        return kernels.loss_forward(self.kind, y_pred, y_true, grad, sample_weight=sample_weight, **kwargs)

    def _kernel_kwargs(self):
        return self._kwargs()

    def _broadcast_forward_backward(self, y_true, y_pred, grad, sample_weight, logits):
        """Targets and predictions of the same rank whose shapes differ but broadcast, which
        Keras' elementwise losses accept: (n, ..., C) targets for an (n, ..., 1) output (the
        saving guide fits a Dense(1) on (8, 10) targets), (n, 1, F) targets for an (n, T, F)
        output (the traffic-forecasting example). The loss is taken over the broadcast shape;
        where the output is the one broadcast, its gradient is summed back over the axes it was
        spread along (the chain rule of the broadcast)."""
        tshape, pshape = tuple(y_true.shape), tuple(y_pred.shape)
        try:
            shape = np.broadcast_shapes(tshape, pshape)
        except ValueError:
            raise ValueError(f"{self.name}: targets of shape {tshape} do not broadcast against "
                             f"predictions of shape {pshape}") from None
        if shape[0] != pshape[0]:
            raise ValueError(f"{self.name}: {tshape[0]} targets for {pshape[0]} predictions")
        if tshape != shape:
            y_true = kernels.as_tensor(np.ascontiguousarray(np.broadcast_to(np.asarray(y_true), shape)))
        if pshape == shape:
            return self.forward_backward(y_true, y_pred, grad, sample_weight, logits)
        spread = kernels.as_tensor(np.ascontiguousarray(np.broadcast_to(np.asarray(y_pred), shape)))
        g = None if grad is None else kernels.empty(shape)
        value = self.forward_backward(y_true, spread, g, sample_weight, logits)
        if grad is not None:
            axes = tuple(a for a, (p, d) in enumerate(zip(pshape, shape)) if p != d)
            np.copyto(np.asarray(grad), np.asarray(g).sum(axis=axes, keepdims=True))
        return value

    def _ops_per_sample(self, y_true, y_pred):
        """The per-sample loss written with corenn.ops, or None where the class has no such form.
        Used instead of the fused kernel when the loss's gradient will itself be differentiated
        (several tapes recording: a Hessian-vector product, MAML), because the ops are
        differentiable to any order (op_gradients.py) and the kernel's gradient is not."""
        return None

    # -- losses written in Python (a Keras Loss subclass with call, or a plain function) ---------

    def call(self, y_true, y_pred):
        """Keras' per-sample loss, for a subclass to write with corenn.ops: Tensors shaped like
        y_pred without its last axis (or any shape whose first axis is the batch)."""
        raise NotImplementedError(f"{type(self).__name__}.call")

    # whether the class writes the loss in Python (a Keras Loss subclass with call): decided
    # once per class, as every step asks
    _written_in_python = False
    _has_own_call = False

    # a subclass that overrides __call__ itself (keras.io's SupervisedContrastiveLoss computes its
    # value there from the labels and the whole batch's features): fit calls it as it is
    _own_dunder_call = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._own_dunder_call = cls.__call__ is not Loss.__call__
        cls._has_own_call = cls.call is not Loss.call
        cls._written_in_python = cls._has_own_call or cls._own_dunder_call

    def _reduce(self, per, sample_weight):
        """Keras' reduction of a call's per-sample values: weighted, then summed or averaged over
        every value (sum_over_batch_size divides by their number, not by the sum of weights)."""
        from . import ops
        mask = getattr(per, "_keras_mask", None)   # before weighting: the product has none
        if sample_weight is not None:
            w = np.asarray(sample_weight, np.float64 if per.dtype == "float64" else np.float32)
            shape = tuple(per.shape)
            if w.size == math.prod(shape):
                w = w.reshape(shape)
            else:   # per-sample weights of a per-step loss: broadcast over the trailing axes
                w = w.reshape((-1,) + (1,) * (len(shape) - 1))
            per = ops.multiply(per, kernels.Tensor.from_numpy(np.asarray(w, order="C")))
        if mask is not None:
            # Keras 3: a call's output mask weighs the values, and sum_over_batch_size averages
            # over the unmasked ones (Circle masks its zero losses)
            m = np.asarray(mask, np.float32)
            if self.reduction == "sum_over_batch_size":
                m = m * (m.size / (m.sum() + 1e-7))
            per = ops.multiply(per, kernels.Tensor.from_numpy(np.asarray(m, np.float32, order="C")))
        if self.reduction == "none":
            return per
        total = ops.sum(per)
        return total if self.reduction == "sum" else ops.divide(total, float(max(1, math.prod(per.shape))))

    def _python_call(self, y_true, y_pred, sample_weight):
        from . import ops
        wide = isinstance(y_pred, kernels.Tensor) and y_pred.dtype == "float64"
        if not isinstance(y_true, kernels.Tensor) or y_true.dtype != y_pred_dtype(wide):   # Keras: y_pred's dtype
            y_true = kernels.Tensor.from_numpy(np.asarray(np.asarray(y_true), np.float64 if wide else np.float32,
                                                          order="C"))
        if not isinstance(y_pred, kernels.Tensor):
            y_pred = kernels.Tensor.from_numpy(np.asarray(y_pred, np.float32, order="C"))
        per = self.call(y_true, y_pred)
        if not isinstance(per, kernels.Tensor):
            per = ops._to_tensor(per)
        if per.ndim == 0:   # a call that already reduced (Dice, Tversky with axis=None)
            if sample_weight is None:
                return per
            # Keras broadcasts the value to the weights, then reduces: value * mean(w) by default
            w = np.asarray(sample_weight, np.float32)
            per = ops.multiply(per, kernels.Tensor.from_numpy(np.ones(w.shape, np.float32)))
        return self._reduce(per, sample_weight)

    def _float64_labels(self, y_true):
        """Labels for a float64 prediction: class indices as the kernels take them (sparse), else
        float64 (Keras casts y_true to y_pred's dtype)."""
        if self.sparse:
            return kernels.Tensor.from_numpy(self.prepare_labels(np.asarray(y_true)))
        return kernels.Tensor.from_numpy(np.asarray(np.asarray(y_true), np.float64, order="C"))

    def _float64_per_sample(self, y_true, y_pred):
        """The per-sample loss of a float64 prediction with the loss's ops form (which computes in
        float64), or TypeError naming the loss where it has none."""
        per = self._ops_per_sample(self._float64_labels(y_true), y_pred)
        if per is None:
            raise TypeError(f"{self.name}: this loss computes in float32 only (a fused kernel with no float64 "
                            f"form), got float64 predictions; cast them to float32 or use a loss with one "
                            f"(mean squared / absolute error, Huber, the cross-entropies, ...)")
        return per

    def _float64_forward_backward(self, y_true, y_pred, grad, sample_weight, logits):
        """forward_backward of a float64 model output (a float64 layer's): the ops form on a
        private tape, so value and gradient are float64 as in Keras with float64 layers."""
        if logits:
            raise ValueError(f"{self.name}: a float64 output is not fused with its activation (logits=True)")
        from .autodiff import GradientTape
        with GradientTape() as tape:
            tape.watch(y_pred)
            value = self._reduce(self._float64_per_sample(y_true, y_pred), sample_weight)
        if grad is not None:
            g = tape.gradient(value, y_pred)
            np.copyto(np.asarray(grad), 0.0 if g is None else np.asarray(g))
        return float(np.asarray(value))

    def _python_forward_backward(self, y_true, y_pred, grad, sample_weight, logits):
        """forward_backward of a loss written in Python: its call on a private tape."""
        if logits:
            raise ValueError(f"{self.name}: a loss written in Python takes probabilities, not logits")
        from .autodiff import GradientTape
        pred = y_pred if isinstance(y_pred, kernels.Tensor) else kernels.Tensor.from_numpy(
            np.ascontiguousarray(y_pred, np.float32))
        with GradientTape() as tape:
            tape.watch(pred)
            if self._own_dunder_call:   # (a super().__call__ inside it runs the built-in loss)
                self.__dict__["_in_own_dunder_call"] = True
                try:
                    value = self(y_true, pred) if sample_weight is None else self(y_true, pred, sample_weight)
                finally:
                    self.__dict__.pop("_in_own_dunder_call", None)
                if not isinstance(value, kernels.Tensor):
                    from . import ops
                    value = ops._to_tensor(value)
            else:
                value = self._python_call(y_true, pred, sample_weight)
        if grad is not None:
            g = tape.gradient(value, pred)
            np.copyto(np.asarray(grad), 0.0 if g is None else np.asarray(g))
        return float(np.asarray(value))

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The mean loss as a scalar Tensor (``float(loss)`` or ``loss.numpy()`` reads it). Under
        a GradientTape whose sources ``y_pred`` depends on, the call is recorded: its gradient
        comes from the same fused kernel pass that computed the value."""
        if self._has_own_call:   # recorded op by op on an active tape
            return self._python_call(y_true, y_pred, sample_weight)
        if self._own_dunder_call and not self.__dict__.get("_in_own_dunder_call"):
            # reached by super().__call__ from a subclass's own __call__: the built-in loss
            self.__dict__["_in_own_dunder_call"] = True
            try:
                return Loss.__call__(self, y_true, y_pred, sample_weight)
            finally:
                self.__dict__.pop("_in_own_dunder_call", None)
        tensor = kernels.Tensor
        if isinstance(y_pred, tensor) and y_pred.dtype == "float64" and not (
                isinstance(y_true, tensor) and autodiff.recording_tape() is not None
                and autodiff.recording_tape().needs_grad(y_true)):
            # a float64 prediction: the ops form, recorded op by op (float64 value and gradient)
            return self._reduce(self._float64_per_sample(y_true, y_pred), sample_weight)
        tape = autodiff.recording_tape()
        # Keras differentiates both arguments: a target that is itself a tracked Tensor (an
        # actor-critic's critic value passed first to Huber) gets its gradient too
        true_tensor = y_true if tape is not None and isinstance(y_true, tensor) and y_true.dtype == "float32" \
            and tape.needs_grad(y_true) else None
        # (exact types first: a step's labels are an array and its predictions a Tensor)
        y_true = self.prepare_labels(np.asarray(y_true) if type(y_true) is not np.ndarray
                                     and isinstance(y_true, tensor) else y_true)
        pred_tensor = y_pred if type(y_pred) is tensor or isinstance(y_pred, tensor) else None
        if pred_tensor is None:
            y_pred = np.ascontiguousarray(y_pred, dtype=np.float32)
        if not self.sparse and y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
            y_true = y_true.reshape(y_true.shape + (1,))
        rows = None
        if sample_weight is not None:
            rows = _rows(y_pred)
            sample_weight = np.ascontiguousarray(sample_weight, dtype=np.float32).reshape(-1)
            if sample_weight.size not in (rows, 0) and rows % sample_weight.size == 0:
                # (N,) weights for (N, T, C) predictions weight each sample's T rows (Keras broadcasts)
                sample_weight = np.repeat(sample_weight, rows // sample_weight.size)
        record_pred = tape is not None and pred_tensor is not None and tape.needs_grad(pred_tensor)
        sources = ([pred_tensor] if record_pred else []) + ([true_tensor] if true_tensor is not None else [])
        if record_pred and true_tensor is None and autodiff.several_tapes_recording():
            per = self._ops_per_sample(y_true, pred_tensor)
            if per is not None:
                return self._reduce(per, sample_weight)
        if self.reduction == "none":
            return self._per_sample(y_true, y_pred, sample_weight, _rows(y_pred) if rows is None else rows,
                                    tape if sources else None, sources, record_pred)
        grad = self._grad_buffer(y_pred.shape) if sources else None
        value = tensor.from_numpy(np.array(self.forward_backward(y_true, y_pred, grad, sample_weight), np.float32))
        if sources:
            if true_tensor is None:
                tape._keep(autodiff._Record(None, autodiff._LossRule(grad), [pred_tensor], [value], True, True))
            else:
                rows = _rows(y_pred)
                w = np.ones(rows, np.float64) if sample_weight is None else np.asarray(sample_weight, np.float64)
                w = w / rows if self.reduction != "sum" else w

                def rule(dys):
                    g = autodiff.scaled(grad, dys[0])
                    if tuple(y_true.shape) != tuple(y_pred.shape):
                        gt = autodiff.scaled(self._broadcast_target_grad(y_true, y_pred, sample_weight), dys[0])
                    else:
                        gt = self._target_grad(y_true, y_pred, g, w * float(np.asarray(dys[0])))
                    return ([g] if record_pred else []) + [gt]
                tape.record(rule, sources, [value])
        return value

    def _grad_buffer(self, shape):
        """The Tensor a recorded call's fused kernel writes d(loss)/d(y_pred) into: the last
        call's again when nothing holds it any more (its tape differentiated and let go of it:
        a training loop's every step), else a new one."""
        g = self.__dict__.get("_last_grad")
        if g is not None and sys.getrefcount(g) == 3 and g._storage_refs == 1 and g.shape == shape:
            return g   # (held by this object, g and the argument only; no view or export)
        g = self.__dict__["_last_grad"] = kernels.Tensor.empty(shape)
        return g

    def _broadcast_target_grad(self, y_true, y_pred, sample_weight):
        """d(loss)/d(y_true) for a y_true the tape differentiates whose shape differs from
        y_pred's but broadcasts against it (keras.io's MelGAN matches the discriminator's feature
        maps of a real and a generated clip of different lengths, both computed under the
        tape). The losses of y_true - y_pred are even functions of the difference, so the loss
        is the same with the two swapped, and y_true's gradient is the prediction gradient of
        the swapped call: taken over the broadcast shape and summed back over the axes y_true
        was spread along (_broadcast_forward_backward)."""
        if self.kind not in _DIFFERENCE or sample_weight is not None or self.reduction == "sum":
            raise NotImplementedError(
                f"{self.name}: the gradient with respect to a y_true of shape {tuple(y_true.shape)} "
                f"broadcast against y_pred of shape {tuple(y_pred.shape)} is computed for the unweighted mean "
                "of mean_squared_error, mean_absolute_error, huber and log_cosh; pass tf.stop_gradient(y_true) "
                "if the target is a constant")
        swapped_true = kernels.as_tensor(np.ascontiguousarray(np.asarray(y_pred), np.float32))
        swapped_pred = kernels.as_tensor(np.ascontiguousarray(np.asarray(y_true), np.float32))
        g = kernels.empty(tuple(swapped_pred.shape))
        self.forward_backward(swapped_true, swapped_pred, g, None)
        return g

    def _target_grad(self, y_true, y_pred, pred_grad, row_weights):
        """d(loss)/d(y_true) for a y_true the tape differentiates (Keras differentiates both
        arguments): -d/dy_pred for the losses of y_true - y_pred, closed forms for the
        cross-entropies, KL divergence and Poisson; ``row_weights`` are each row's weight in the
        reduced loss (times the upstream gradient)."""
        if tuple(y_true.shape) != tuple(y_pred.shape):
            raise NotImplementedError(
                f"{self.name}: the gradient with respect to y_true needs y_true shaped like y_pred, got "
                f"{tuple(y_true.shape)} and {tuple(y_pred.shape)}; pass tf.stop_gradient(y_true) if the "
                "target is a constant")
        if self.kind in _DIFFERENCE:
            return kernels.Tensor.from_numpy(np.negative(np.asarray(pred_grad)))
        p = np.asarray(y_pred, np.float64)
        t = np.asarray(y_true, np.float64)
        eps = 1e-7
        logits = self.from_logits
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.kind == "categorical_crossentropy":
                if logits:
                    z = p - p.max(axis=-1, keepdims=True)
                    e = -(z - np.log(np.exp(z).sum(axis=-1, keepdims=True)))
                else:
                    e = -np.log(np.clip(p / p.sum(axis=-1, keepdims=True), eps, 1 - eps))
            elif self.kind == "binary_crossentropy":
                c = p.shape[-1]
                if logits:
                    e = -p / c
                else:
                    q = np.clip(p, eps, 1 - eps)
                    e = -(np.log(q) - np.log1p(-q)) / c
            elif self.kind == "kl_divergence":
                tc, pc = np.clip(t, eps, 1.0), np.clip(p, eps, 1.0)
                e = np.where((t > eps) & (t < 1.0), np.log(tc / pc) + 1.0, 0.0)
            elif self.kind == "poisson":
                e = -np.log(p + eps) / p.shape[-1]
            else:
                raise NotImplementedError(
                    f"{self.name}: the gradient with respect to y_true (a Tensor this GradientTape differentiates) "
                    "is not computed for this loss; pass tf.stop_gradient(y_true) if the target is a constant")
        # label smoothing made the kernel's targets y (1 - s) + s / C: the chain rule's 1 - s
        e = e * (1.0 - getattr(self, "label_smoothing", 0.0))
        rows = e.reshape(-1, e.shape[-1]) * np.asarray(row_weights, np.float64).reshape(-1, 1)
        return kernels.Tensor.from_numpy(np.asarray(rows.reshape(e.shape), np.float32, order="C"))

    def _per_sample(self, y_true, y_pred, sample_weight, rows, tape, sources, record_pred):
        """reduction=None: w_i loss_i per row, shaped like y_pred without its last axis. The
        backward reruns the kernel with weights rows * w_i * dy_i, whose mean-reduced gradient is
        sum_i w_i dy_i d(loss_i)/d(y_pred)."""
        lead = tuple(y_pred.shape[:-1])
        per = np.empty(lead, np.float32)
        kernels.loss_forward(self.kind, y_pred, y_true, None, sample_weight=None, per_sample=per,
                             **self._kernel_kwargs())
        if sample_weight is not None:
            per = per * sample_weight.reshape(lead)
        value = kernels.Tensor.from_numpy(np.asarray(per, np.float32, order="C"))
        if tape is not None:
            def backward(dys):
                w = np.asarray(dys[0], np.float32).reshape(-1) * np.float32(rows)
                if sample_weight is not None:
                    w = w * sample_weight
                g = kernels.empty(tuple(y_pred.shape))
                kernels.loss_forward(self.kind, y_pred, y_true, g, sample_weight=np.ascontiguousarray(w),
                                     **self._kernel_kwargs())
                out = [g] if record_pred else []
                if len(sources) > int(record_pred):   # y_true too: each row weighs w_i / rows here
                    out.append(self._target_grad(y_true, y_pred, g, w.astype(np.float64) / rows))
                return out
            tape.record(backward, sources, [value])
        return value

    def get_config(self):
        return {"name": self.name, "reduction": None if self.reduction == "none" else self.reduction,
                **self._kwargs()}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


# the losses that are a function of y_true - y_pred alone
_DIFFERENCE = frozenset({"mean_squared_error", "mean_absolute_error", "huber", "log_cosh"})


def _rows(y_pred):
    shape = tuple(y_pred.shape)
    return math.prod(shape[:-1]) if len(shape) > 1 else 1


# losses that average an elementwise term over the last axis: Keras broadcasts their targets
_ELEMENTWISE = frozenset({"mean_squared_error", "mean_absolute_error", "huber", "binary_crossentropy",
                          "log_cosh", "poisson", "mean_squared_logarithmic_error",
                          "mean_absolute_percentage_error"})


class MeanSquaredError(Loss):
    kind = "mean_squared_error"

    def __init__(self, name="mean_squared_error", reduction="sum_over_batch_size"):
        super().__init__(name, False, reduction)

    def _kwargs(self):
        return {}

    def _ops_per_sample(self, y_true, y_pred):
        from . import ops
        return ops.mean(ops.square(ops.subtract(y_pred, y_true)), axis=-1)


class MeanAbsoluteError(Loss):
    kind = "mean_absolute_error"

    def __init__(self, name="mean_absolute_error", reduction="sum_over_batch_size"):
        super().__init__(name, False, reduction)

    def _kwargs(self):
        return {}

    def _ops_per_sample(self, y_true, y_pred):
        from . import ops
        return ops.mean(ops.abs(ops.subtract(y_pred, y_true)), axis=-1)


class Huber(Loss):
    kind = "huber"

    def __init__(self, delta: float = 1.0, name="huber_loss", reduction="sum_over_batch_size"):
        super().__init__(name, False, reduction)
        if delta <= 0:
            raise ValueError(f"Huber: delta must be positive, got {delta}")
        self.delta = float(delta)

    def _kwargs(self):
        return {"delta": self.delta}

    def _ops_per_sample(self, y_true, y_pred):
        from . import ops
        e = ops.abs(ops.subtract(y_pred, y_true))
        small = np.asarray(e) <= self.delta
        d = self.delta
        return ops.mean(ops.where(small, ops.multiply(0.5, ops.square(e)),
                                  ops.subtract(ops.multiply(d, e), 0.5 * d * d)), axis=-1)


def check_label_smoothing(owner, value) -> float:
    """Keras' label_smoothing: a float in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{owner}: label_smoothing must be a float in [0, 1], got {value!r}")
    return float(value)


def smooth_labels(y, label_smoothing, binary):
    """Keras' label smoothing of float targets: y (1 - s) + s / C over the C classes of the last
    axis (categorical), or y (1 - s) + s / 2 (binary: each target is its own two-class problem)."""
    if not label_smoothing:
        return y
    classes = 2 if binary else y.shape[-1]
    s = np.float32(label_smoothing)
    return np.ascontiguousarray(y * (np.float32(1.0) - s) + s / np.float32(classes), dtype=np.float32)


class _SmoothedCrossentropy(Loss):
    """A cross-entropy with Keras' ``label_smoothing``: the targets are smoothed once, where the
    labels are prepared (fit prepares the whole label array once), and the kernel sees soft labels."""

    _binary = False

    def __init__(self, name, from_logits, reduction, label_smoothing):
        super().__init__(name, from_logits, reduction)
        self.label_smoothing = check_label_smoothing(type(self).__name__, label_smoothing)

    def prepare_labels(self, y_true):
        y = super().prepare_labels(y_true)
        if self.label_smoothing and type(y) is np.ndarray:
            y = smooth_labels(y, self.label_smoothing, self._binary)
        return y

    def _kwargs(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}

    def _kernel_kwargs(self):
        return {"from_logits": self.from_logits}


class BinaryCrossentropy(_SmoothedCrossentropy):
    kind = "binary_crossentropy"
    _binary = True

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, name="binary_crossentropy",
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, from_logits, reduction, label_smoothing)
        _last_axis_only(type(self).__name__, axis)

    def _ops_per_sample(self, y_true, y_pred):
        from . import ops
        if self.from_logits:   # max(z, 0) - z t + log(1 + exp(-|z|)): stable for any z
            per = ops.add(ops.subtract(ops.relu(y_pred), ops.multiply(y_pred, y_true)),
                          ops.softplus(ops.negative(ops.abs(y_pred))))
        else:
            per = ops.binary_crossentropy(y_true, y_pred)
        return ops.mean(per, axis=-1)


class CategoricalCrossentropy(_SmoothedCrossentropy):
    kind = "categorical_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, name="categorical_crossentropy",
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, from_logits, reduction, label_smoothing)
        _last_axis_only(type(self).__name__, axis)

    def _ops_per_sample(self, y_true, y_pred):
        from . import ops
        if not self.from_logits:   # Keras scales probabilities to sum to one first
            y_pred = ops.divide(y_pred, ops.sum(y_pred, axis=-1, keepdims=True))
        return ops.categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits)


def _last_axis_only(owner, axis):
    """Keras' ``axis`` argument of the cross-entropies: the fused kernels reduce the last axis."""
    if isinstance(axis, bool) or axis not in (-1,):
        raise NotImplementedError(f"{owner}: only axis=-1 (the last axis) is supported, got {axis!r}; "
                                  f"move the class axis last (ops.moveaxis) before the loss")


def _focal_options(owner, alpha, gamma, axis):
    if axis not in (-1, None):
        raise NotImplementedError(f"{owner}: only axis=-1 (the last axis) is supported, got {axis!r}")
    for arg, v in (("alpha", alpha), ("gamma", gamma)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v):
            raise ValueError(f"{owner}: {arg} must be a finite number, got {v!r}")
    if gamma < 0:
        raise ValueError(f"{owner}: gamma must be >= 0, got {gamma!r}")
    return float(alpha), float(gamma)


class BinaryFocalCrossentropy(_SmoothedCrossentropy):
    """Focal binary cross-entropy (Lin et al. 2017; Keras 3): each element's cross-entropy times
    (1 - p_t)^gamma, p_t the probability given to the true label, so easy examples weigh less;
    with ``apply_class_balancing`` also times alpha (positives) or 1 - alpha (negatives). One fused
    C++ pass gives the value and the gradient (csrc/cpu/loss.cpp)."""
    kind = "binary_focal_crossentropy"
    _binary = True

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                 label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_focal_crossentropy", dtype=None):
        super().__init__(name, from_logits, reduction, label_smoothing)
        self.alpha, self.gamma = _focal_options(type(self).__name__, alpha, gamma, axis)
        self.apply_class_balancing = bool(apply_class_balancing)
        self.axis = -1

    def _kwargs(self):
        return {**super()._kwargs(), "apply_class_balancing": self.apply_class_balancing,
                "alpha": self.alpha, "gamma": self.gamma, "axis": self.axis}

    def _kernel_kwargs(self):
        return {"from_logits": self.from_logits, "focal_alpha": self.alpha, "focal_gamma": self.gamma,
                "class_balancing": self.apply_class_balancing}


class CategoricalFocalCrossentropy(_SmoothedCrossentropy):
    """Focal categorical cross-entropy (Keras 3): -alpha sum_j t_j (1 - p_j)^gamma log p_j over the
    classes of the last axis (p the softmax of logits, or the rows renormalised to sum 1). One
    fused C++ pass gives the value and the gradient (csrc/cpu/loss.cpp)."""
    kind = "categorical_focal_crossentropy"

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy", dtype=None):
        super().__init__(name, from_logits, reduction, label_smoothing)
        self.alpha, self.gamma = _focal_options(type(self).__name__, alpha, gamma, axis)
        self.axis = -1

    def _kwargs(self):
        return {**super()._kwargs(), "alpha": self.alpha, "gamma": self.gamma, "axis": self.axis}

    def _kernel_kwargs(self):
        return {"from_logits": self.from_logits, "focal_alpha": self.alpha, "focal_gamma": self.gamma}


class _OverlapLoss(Loss):
    """Dice and Tversky (Keras 3): one minus an overlap ratio of y_true and y_pred, summed over
    ``axis`` (None: every axis, one value for the batch), written with corenn.ops (each a C++
    kernel on the tape)."""

    def __init__(self, reduction, name, axis):
        super().__init__(name, False, reduction)
        if axis is not None and not isinstance(axis, (int, np.integer, tuple, list)):
            raise ValueError(f"{type(self).__name__}: axis must be None, an int or a tuple, got {axis!r}")
        self.axis = None if axis is None else (int(axis) if isinstance(axis, (int, np.integer))
                                               else tuple(int(a) for a in axis))

    def _kwargs(self):
        return {"axis": list(self.axis) if isinstance(self.axis, tuple) else self.axis}


class Dice(_OverlapLoss):
    """1 - 2 sum(t p) / (sum t + sum p + eps)."""

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(reduction, name, axis)

    def call(self, y_true, y_pred):
        from . import ops
        inter = ops.sum(ops.multiply(y_true, y_pred), axis=self.axis)
        den = ops.add(ops.add(ops.sum(y_true, axis=self.axis), ops.sum(y_pred, axis=self.axis)), 1e-7)
        return ops.subtract(1.0, ops.divide(ops.multiply(2.0, inter), den))


class Tversky(_OverlapLoss):
    """1 - TP / (TP + alpha FN + beta FP + eps), TP = sum t p, FN = sum t (1 - p), FP = sum (1 - t) p
    (alpha = beta = 0.5 is Dice)."""

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky", axis=None,
                 dtype=None):
        super().__init__(reduction, name, axis)
        self.alpha, self.beta = float(alpha), float(beta)

    def _kwargs(self):
        return {**super()._kwargs(), "alpha": self.alpha, "beta": self.beta}

    def call(self, y_true, y_pred):
        from . import ops
        tp = ops.sum(ops.multiply(y_true, y_pred), axis=self.axis)
        fn = ops.sum(ops.multiply(y_true, ops.subtract(1.0, y_pred)), axis=self.axis)
        fp = ops.sum(ops.multiply(ops.subtract(1.0, y_true), y_pred), axis=self.axis)
        den = ops.add(ops.add(ops.add(tp, ops.multiply(self.alpha, fn)), ops.multiply(self.beta, fp)), 1e-7)
        return ops.subtract(1.0, ops.divide(tp, den))


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy of integer class labels. ``ignore_class`` (Keras 3): positions whose label
    is that class (a padding token) count for nothing, and sum_over_batch_size averages over the
    other positions only; their gradient is zero."""
    kind = "sparse_categorical_crossentropy"
    sparse = True

    def __init__(self, from_logits=False, name="sparse_categorical_crossentropy",
                 reduction="sum_over_batch_size", ignore_class=None, dtype=None):
        super().__init__(name, from_logits, reduction)
        if ignore_class is not None and (isinstance(ignore_class, bool) or int(ignore_class) != ignore_class):
            raise ValueError(f"SparseCategoricalCrossentropy: ignore_class must be None or an int, "
                             f"got {ignore_class!r}")
        self.ignore_class = None if ignore_class is None else int(ignore_class)

    def _kwargs(self):
        kw = {"from_logits": self.from_logits}
        if self.ignore_class is not None:
            kw["ignore_class"] = self.ignore_class
        return kw

    def _kernel_kwargs(self):
        return {"from_logits": self.from_logits}

    def _ignoring(self, y_true, sample_weight, rows):
        """(labels with the ignored ones replaced by class 0, per-row weights that drop them)."""
        y = np.asarray(y_true)
        valid = (y != self.ignore_class).reshape(-1)
        if valid.size != rows:
            raise ValueError(f"{self.name}: {y.size} labels for {rows} rows of predictions")
        labels = np.ascontiguousarray(np.where(valid.reshape(y.shape), y, 0).astype(y.dtype, copy=False))
        w = valid.astype(np.float32)
        if sample_weight is not None:
            w = w * np.asarray(sample_weight, np.float32).reshape(-1)
        return labels, w, int(valid.sum())

    def forward_backward(self, y_true, y_pred, grad=None, sample_weight=None, logits=False) -> float:
        if self.ignore_class is None:
            return super().forward_backward(y_true, y_pred, grad, sample_weight, logits)
        rows = _rows(y_pred)
        labels, w, valid = self._ignoring(y_true, sample_weight, rows)
        if self.reduction == "sum_over_batch_size" and valid:
            # Keras scales the kept rows' weights by rows / kept: a mean over the real positions
            w *= np.float32(rows / valid)
        return super().forward_backward(labels, y_pred, grad, np.ascontiguousarray(w), logits)

    def _per_sample(self, y_true, y_pred, sample_weight, rows, tape, sources, record_pred):
        if self.ignore_class is None:
            return super()._per_sample(y_true, y_pred, sample_weight, rows, tape, sources, record_pred)
        labels, w, _ = self._ignoring(y_true, sample_weight, rows)
        return super()._per_sample(labels, y_pred, np.ascontiguousarray(w), rows, tape, sources, record_pred)

    def _ops_per_sample(self, y_true, y_pred):
        from . import ops
        if self.ignore_class is not None:
            return None
        return ops.sparse_categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits)


class _Plain(Loss):
    """A loss with no options but reduction and name (Keras' LossFunctionWrapper subclasses)."""

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(name or self.kind, False, reduction)

    def _kwargs(self):
        return {}


class KLDivergence(_Plain):
    """sum_j t log(t / p) with t and p clipped to [1e-7, 1]."""
    kind = "kl_divergence"


class CosineSimilarity(Loss):
    """-(l2_normalize(t) . l2_normalize(p)) along ``axis`` (in [-1, 1]; -1 is best). The last axis
    (axis=-1) runs the fused kernel; any other axis (Keras' documented ``axis=1``, or ``axis=0``
    across the batch) is written with corenn.ops in ``call`` and yields the inputs' shape without
    that axis."""
    kind = "cosine_similarity"

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        super().__init__(name, False, reduction)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"CosineSimilarity: axis must be an int, got {axis!r}")
        self.axis = int(axis)
        if self.axis != -1:   # this instance takes the Python path (call), not the kernel's
            self._has_own_call = self._written_in_python = True

    def call(self, y_true, y_pred):
        from . import ops
        if not -y_pred.ndim <= self.axis < y_pred.ndim:
            raise ValueError(f"CosineSimilarity: axis {self.axis} is out of range for y_pred of shape "
                             f"{tuple(y_pred.shape)}")
        if tuple(y_true.shape) != tuple(y_pred.shape):
            raise ValueError(f"CosineSimilarity: y_true shape {tuple(y_true.shape)} differs from y_pred "
                             f"shape {tuple(y_pred.shape)}")

        def unit(v):   # v / max(|v|, 1e-7), as the kernel's
            norm = ops.sqrt(ops.maximum(ops.sum(ops.square(v), axis=self.axis, keepdims=True), 1e-14))
            return ops.divide(v, norm)
        return ops.negative(ops.sum(ops.multiply(unit(y_true), unit(y_pred)), axis=self.axis))

    def _kwargs(self):
        return {"axis": self.axis}

    def _kernel_kwargs(self):
        return {}


# the last axis runs the fused kernel; only an instance with another axis takes call (its __init__)
CosineSimilarity._has_own_call = CosineSimilarity._written_in_python = False


class Hinge(_Plain):
    """mean_j max(1 - t p, 0); labels that are all 0 or 1 are taken as -1 / 1."""
    kind = "hinge"


class SquaredHinge(_Plain):
    """mean_j max(1 - t p, 0)^2; labels that are all 0 or 1 are taken as -1 / 1."""
    kind = "squared_hinge"


class CategoricalHinge(_Plain):
    """max(max_j (1 - t_j) p_j - sum_j t_j p_j + 1, 0) for one-hot t."""
    kind = "categorical_hinge"


class LogCosh(_Plain):
    """mean_j log(cosh(p - t))."""
    kind = "log_cosh"


class Poisson(_Plain):
    """mean_j p - t log(p + 1e-7)."""
    kind = "poisson"


class MeanSquaredLogarithmicError(_Plain):
    """mean_j (log(max(p, 1e-7) + 1) - log(max(t, 1e-7) + 1))^2."""
    kind = "mean_squared_logarithmic_error"


class MeanAbsolutePercentageError(_Plain):
    """100 mean_j |t - p| / max(|t|, 1e-7)."""
    kind = "mean_absolute_percentage_error"


def ctc(y_true, y_pred):
    """Keras 3's ``keras.losses.ctc``: per-sample CTC loss of logits y_pred (batch, time, classes)
    for labels y_true (batch, max_label_length) padded with 0, class 0 the blank: every sample uses
    all its steps, and as many labels as it has non-zero entries (Keras 3.15: label_length =
    sum(y_true != 0)), through keras.ops.ctc_loss."""
    from . import ops
    yt = np.asarray(y_true)
    shape = tuple(y_pred.shape)
    if yt.ndim != 2:
        raise ValueError(f"ctc: y_true must be (batch, max_label_length), got shape {yt.shape}")
    if len(shape) != 3:
        raise ValueError(f"ctc: y_pred must be (batch, time, classes), got shape {shape}")
    batch = shape[0]
    return ops.ctc_loss(yt, y_pred, np.count_nonzero(yt, axis=-1).astype(np.int64),
                        np.full(batch, shape[1], np.int64), mask_index=0)


class CTC(Loss):
    """Connectionist temporal classification loss (Keras 3's ``keras.losses.CTC``): :func:`ctc`
    reduced over the batch; the C++ forward-backward kernel (csrc/ops/ctc.h) gives its gradient."""

    def __init__(self, reduction="sum_over_batch_size", name="ctc"):
        super().__init__(name=name, reduction=reduction)

    def prepare_labels(self, y_true):
        if isinstance(y_true, kernels.Tensor):
            return y_true
        y = np.asarray(y_true)
        if y.dtype.kind == "f" and (not np.all(np.isfinite(y)) or np.any(y != np.round(y))):
            raise ValueError(f"{self.name}: labels must be integer class indices")
        if y.dtype.kind not in "iuf":
            raise TypeError(f"{self.name}: labels must be integers, got dtype {y.dtype}")
        return np.ascontiguousarray(y, dtype=np.int64)

    def call(self, y_true, y_pred):
        return ctc(y_true, y_pred)

    def get_config(self):
        return {"name": self.name, "reduction": None if self.reduction == "none" else self.reduction}


def _function(cls, name):
    def fn(y_true, y_pred, **options):  # options as Keras' functions take them: axis=, delta=, from_logits=
        return cls(reduction=None, **options)(y_true, y_pred)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"Per-sample {name}(y_true, y_pred): a Tensor shaped like y_pred without its last "
                  f"axis (same as {cls.__name__}(reduction=None)(...)).")
    fn._corenn_loss = cls
    return fn


mean_squared_error = mse = _function(MeanSquaredError, "mean_squared_error")
mean_absolute_error = mae = _function(MeanAbsoluteError, "mean_absolute_error")
huber = _function(Huber, "huber")
binary_crossentropy = _function(BinaryCrossentropy, "binary_crossentropy")
categorical_crossentropy = _function(CategoricalCrossentropy, "categorical_crossentropy")
sparse_categorical_crossentropy = _function(SparseCategoricalCrossentropy,
                                            "sparse_categorical_crossentropy")
kl_divergence = kld = KLD = _function(KLDivergence, "kl_divergence")
cosine_similarity = _function(CosineSimilarity, "cosine_similarity")
hinge = _function(Hinge, "hinge")
squared_hinge = _function(SquaredHinge, "squared_hinge")
categorical_hinge = _function(CategoricalHinge, "categorical_hinge")
log_cosh = logcosh = _function(LogCosh, "log_cosh")
poisson = _function(Poisson, "poisson")
mean_squared_logarithmic_error = msle = MSLE = _function(MeanSquaredLogarithmicError,
                                                         "mean_squared_logarithmic_error")
mean_absolute_percentage_error = mape = MAPE = _function(MeanAbsolutePercentageError,
                                                         "mean_absolute_percentage_error")
MSE, MAE = mse, mae
binary_focal_crossentropy = _function(BinaryFocalCrossentropy, "binary_focal_crossentropy")
categorical_focal_crossentropy = _function(CategoricalFocalCrossentropy, "categorical_focal_crossentropy")


def dice(y_true, y_pred, axis=None):
    """1 - 2 sum(t p) / (sum t + sum p + eps) over ``axis`` (None: all)."""
    return Dice(reduction=None, axis=axis).call(_as_float_tensor(y_true), _as_float_tensor(y_pred))


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """1 - TP / (TP + alpha FN + beta FP + eps) over ``axis`` (None: all)."""
    return Tversky(alpha, beta, reduction=None, axis=axis).call(_as_float_tensor(y_true), _as_float_tensor(y_pred))


def _as_float_tensor(v):
    return v if isinstance(v, kernels.Tensor) and v.dtype == "float32" else \
        kernels.Tensor.from_numpy(np.asarray(np.asarray(v), np.float32, order="C"))

def _int_labels(y_true, name):
    y = np.asarray(y_true)
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError(f"{name}: labels must be integer class indices (got NaN or inf)")
    return np.trunc(y).astype(np.int64) if y.dtype.kind == "f" else y.astype(np.int64)   # Keras' cast


def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True, gamma=80, margin=0.4):
    """Circle loss (Sun et al., CVPR 2020, Keras 3.15's ``circle``) of L2-normalized embeddings
    y_pred (N, D) with integer labels y_true (N,), against ref_embeddings (M, D) / ref_labels (M,)
    (default: the batch itself). With d_ij = max(1 - y_pred_i . ref_j, 0), P the pairs of equal
    labels (without i == j when remove_diagonal), Q the others:
        loss_i = softplus(logsumexp_{j in P} -gamma max(m + d_ij, 0) (m - d_ij)
                          + logsumexp_{j in Q} gamma max(1 + m - d_ij, 0) (1 - m - d_ij)).
    A row with no positive pair has loss 0. The result carries Keras' mask loss > 0, so the
    class's mean runs over the rows with a loss."""
    from . import ops
    y_pred = _as_float_tensor(y_pred)
    if y_pred.ndim != 2:
        raise ValueError(f"circle: y_pred must be embeddings (batch, dim), got shape {tuple(y_pred.shape)}")
    labels = _int_labels(y_true, "circle").reshape(-1)
    ref = y_pred if ref_embeddings is None else _as_float_tensor(ref_embeddings)
    ref_lab = labels if ref_labels is None else _int_labels(ref_labels, "circle").reshape(-1)
    if labels.shape[0] != y_pred.shape[0] or ref_lab.shape[0] != ref.shape[0]:
        raise ValueError(f"circle: {labels.shape[0]} labels for {y_pred.shape[0]} embeddings, "
                         f"{ref_lab.shape[0]} reference labels for {ref.shape[0]} reference embeddings")
    positive = labels[:, None] == ref_lab[None, :]
    negative = ~positive
    if remove_diagonal:
        positive = positive & ~np.eye(positive.shape[0], positive.shape[1], dtype=bool)
    pos, neg = (kernels.Tensor.from_numpy(np.asarray(m, np.float32, order="C")) for m in (positive, negative))
    dist = ops.maximum(ops.subtract(1.0, ops.matmul(y_pred, ops.transpose(ref))), 0.0)
    pos_w = ops.maximum(ops.multiply(ops.add(dist, margin), pos), 0.0)
    neg_w = ops.maximum(ops.multiply(ops.subtract(1.0 + margin, dist), neg), 0.0)
    pos_l = ops.multiply(-float(gamma), ops.multiply(pos_w, ops.subtract(margin, dist)))
    neg_l = ops.multiply(float(gamma), ops.multiply(neg_w, ops.subtract(1.0 - margin, dist)))
    # logsumexp over the pairs of each kind: the others at -1e30 weigh exp(-1e30 - max) = 0, and
    # a row with none gives -1e30, whose softplus (and its gradient) is 0
    def masked_lse(values, mask):
        return ops.logsumexp(ops.add(ops.multiply(values, mask), ops.multiply(ops.subtract(mask, 1.0), 1e30)),
                             axis=1)
    has_pos = kernels.Tensor.from_numpy(positive.any(axis=1).astype(np.float32))
    loss = ops.multiply(ops.softplus(ops.add(masked_lse(pos_l, pos), masked_lse(neg_l, neg))), has_pos)
    # Keras' mask loss > 0 (softplus here stops at the smallest normal float, not at 0)
    from .layers.base import user_mask
    loss._keras_mask = user_mask(np.asarray(loss) > np.finfo(np.float32).tiny)
    return loss


class Circle(Loss):
    """Keras 3.15's Circle loss (``circle``) for metric learning: y_true integer labels (batch,),
    y_pred L2-normalized embeddings (batch, dim); the mean runs over the rows that have a loss."""

    def __init__(self, gamma=80.0, margin=0.4, remove_diagonal=True, reduction="sum_over_batch_size",
                 name="circle", dtype=None):
        super().__init__(name, False, reduction)
        self.gamma, self.margin, self.remove_diagonal = gamma, margin, bool(remove_diagonal)

    def _kwargs(self):
        return {"gamma": self.gamma, "margin": self.margin, "remove_diagonal": self.remove_diagonal}

    def call(self, y_true, y_pred):
        return circle(y_true, y_pred, remove_diagonal=self.remove_diagonal, gamma=self.gamma, margin=self.margin)


def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """Generalized cross-entropy (Zhang & Sabuncu, NeurIPS 2018; Keras 3.15): (1 - p^q) / q with p
    the predicted probability of the true class, y_true integer labels (batch,), y_pred
    probabilities (batch, classes); q -> 0 is cross-entropy, q = 1 the mean absolute error."""
    from . import ops
    y_pred = _as_float_tensor(y_pred)
    labels = _int_labels(y_true, "categorical_generalized_cross_entropy")
    classes = int(y_pred.shape[-1])
    if labels.shape != tuple(y_pred.shape[:-1]) and labels.shape != tuple(y_pred.shape[:-1]) + (1,):
        raise ValueError(f"categorical_generalized_cross_entropy: labels of shape {labels.shape} do not match "
                         f"predictions of shape {tuple(y_pred.shape)} (one class index per row)")
    labels = labels.reshape(tuple(y_pred.shape[:-1]))
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"categorical_generalized_cross_entropy: labels must be in [0, {classes}), got "
                         f"{labels.min()}..{labels.max()}")
    one_hot = kernels.Tensor.from_numpy(np.asarray(np.eye(classes, dtype=np.float32)[labels], order="C"))
    p = ops.sum(ops.multiply(y_pred, one_hot), axis=-1)
    return ops.divide(ops.subtract(1.0, ops.power(p, float(q))), float(q))


class CategoricalGeneralizedCrossEntropy(Loss):
    """Keras 3.15's generalized cross-entropy (``categorical_generalized_cross_entropy``), a
    noise-robust loss for integer labels and predicted probabilities; q in (0, 1)."""

    def __init__(self, q=0.5, reduction="sum_over_batch_size", name="categorical_generalized_cross_entropy",
                 dtype=None):
        if not 0 < q < 1:
            raise ValueError(f"CategoricalGeneralizedCrossEntropy: q must be in the interval (0, 1), got {q!r}")
        super().__init__(name, False, reduction)
        self.q = q

    def _kwargs(self):
        return {"q": self.q}

    def call(self, y_true, y_pred):
        return categorical_generalized_cross_entropy(y_true, y_pred, self.q)


_BY_NAME = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy, "cce": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "kullback_leibler_divergence": KLDivergence,
    "cosine_similarity": CosineSimilarity, "hinge": Hinge, "squared_hinge": SquaredHinge,
    "categorical_hinge": CategoricalHinge, "log_cosh": LogCosh, "logcosh": LogCosh, "poisson": Poisson,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError, "msle": MeanSquaredLogarithmicError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError, "mape": MeanAbsolutePercentageError,
    "ctc": CTC,
    "binary_focal_crossentropy": BinaryFocalCrossentropy,
    "categorical_focal_crossentropy": CategoricalFocalCrossentropy,
    "dice": Dice, "tversky": Tversky, "circle": Circle,
    "categorical_generalized_cross_entropy": CategoricalGeneralizedCrossEntropy,
}
_CLASSES = {c.__name__: c for c in set(_BY_NAME.values())}


def _function_named(name):
    """The per-sample function a lower-case loss name or alias stands for ('mse' -> mean_squared_error)."""
    key = name.lower()
    if key not in _BY_NAME:
        return None
    key = _FUNCTION_ALIASES.get(key, key)
    return globals()[key]


# aliases whose function has another module-level name
_FUNCTION_ALIASES = {"huber_loss": "huber", "bce": "binary_crossentropy", "cce": "categorical_crossentropy",
                     "kullback_leibler_divergence": "kl_divergence"}


def get(identifier):
    """Keras 3's ``losses.get``: a function name or alias ('mse', 'binary_crossentropy') gives the
    per-sample function (``losses.mean_squared_error``), a class name ('MeanSquaredError'), a
    Loss class or a ``{class_name, config}`` dict gives a Loss instance; a Loss instance or any
    other callable comes back as it is; None gives None.

    ``compile(loss=...)`` does not go through this: it maps every form to a Loss object with
    :func:`_to_loss` (a name or one of these functions becomes its class, so the fused C++ loss
    kernels run)."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        fn = _function_named(identifier)
        if fn is None:
            raise ValueError(f"losses.get: unknown loss {identifier!r}; expected one of "
                             f"{', '.join(sorted(_BY_NAME))} or a class name")
        return fn
    if isinstance(identifier, dict) and identifier.get("class_name") == "function":
        return get(identifier.get("config"))   # Keras' serialized form of a loss function
    if isinstance(identifier, (dict, type)):
        return _to_loss(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(f"losses.get: cannot interpret {identifier!r} as a loss")


def _to_loss(identifier) -> Loss:
    """What ``compile(loss=...)`` uses: any loss form as a Loss object. A name, alias or class
    name becomes its class (so 'mse' runs the fused C++ kernel), so does one of corenn's
    per-sample functions (``losses.mean_squared_error``); a user's function is wrapped in
    LossFunctionWrapper and differentiated by the tape."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower()) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"losses.get: unknown loss {identifier!r}; expected one of "
                             f"{', '.join(sorted(_BY_NAME))}")
        return cls()
    if isinstance(identifier, dict) and identifier.get("class_name") == "function":
        return _to_loss(identifier.get("config"))
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _CLASSES.get(identifier["class_name"])
        if cls is None and identifier["class_name"] == "LossFunctionWrapper":
            cls = LossFunctionWrapper
        if cls is None:   # a user's Loss class, registered or passed as a custom object
            from .saving import custom_class
            found = custom_class(identifier.get("registered_name")) or custom_class(identifier["class_name"])
            cls = found if isinstance(found, type) and issubclass(found, Loss) else None
        if cls is None:
            raise ValueError(f"losses.get: unknown loss class {identifier['class_name']!r}")
        return cls.from_config(identifier.get("config", {}))
    cls = getattr(identifier, "_corenn_loss", None)
    if cls is not None:
        return cls()
    if callable(identifier):   # a function of (y_true, y_pred) written with corenn.ops, as in Keras
        return LossFunctionWrapper(identifier)
    raise TypeError(f"losses.get: cannot interpret {identifier!r} as a loss")


class LossFunctionWrapper(Loss):
    """A loss function ``fn(y_true, y_pred) -> per-sample values`` written with corenn.ops (Keras'
    ``compile(loss=my_fn)``); reduced as a Keras Loss, differentiated by the GradientTape."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction)
        self.fn = fn
        self.fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self):
        from . import saving
        return {"name": self.name, "reduction": None if self.reduction == "none" else self.reduction,
                "fn": saving.function_name(self.fn), **self.fn_kwargs}

    @classmethod
    def from_config(cls, config):
        from . import saving
        config = dict(config)
        return cls(saving.resolve_function(config.pop("fn"), "loss"), **config)


def serialize(loss) -> dict:
    """{'class_name', 'config'} of a loss; a name or one of corenn's functions is serialized as
    its class (what ``compile`` runs)."""
    loss = _to_loss(loss)
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config, custom_objects=None):
    """Keras' ``losses.deserialize``: as :func:`get` (a function name gives the function, a
    ``{class_name, config}`` dict a Loss); the user's classes through ``custom_objects`` or the
    registry."""
    if custom_objects:
        from .saving import CustomObjectScope
        with CustomObjectScope(custom_objects):
            return get(config)
    return get(config)
