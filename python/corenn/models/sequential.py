"""Sequential: a linear stack of layers with Keras' compile / fit / evaluate / predict.

One training step (explicit backpropagation):
    h = x;  h = layer.forward(h, training=True) for each layer
    loss = loss.forward_backward(y, h, g)      # value and dL/dh fused, g preallocated
    g = layer.backward(g) for each layer in reverse (the first layer skips dL/dx)
    loss += sum of regularization penalties (their gradients added into the weight grads)
    optimizer.apply(grads, weights)            # one fused update over all parameters
Batches are gathered with np.take into reused buffers; nothing is allocated per step once the
buffers for the batch shapes exist.
"""
from __future__ import annotations

import math
import time

import numpy as np

from .. import losses as _losses
from .. import metrics as _metrics
from .. import kernels
from .. import saving
from . import _data
from .training import TrainingLoops
from ..layers.base import InputLayer, Layer, shape_str

__all__ = ["Sequential"]

_KERAS_COMPILE_IGNORED = ("run_eagerly", "jit_compile", "steps_per_execution", "auto_scale_loss")


class Sequential(TrainingLoops):
    """A stack of layers, each feeding the next.

    Args:
        layers: list of layers (an ``InputLayer`` / ``Input(shape=...)`` first fixes the input).
        name: model name.
    """

    _count = 0

    def __init__(self, layers=None, name=None, trainable=True):
        Sequential._count += 1
        self.name = name or ("sequential" if Sequential._count == 1 else f"sequential_{Sequential._count - 1}")
        self.layers: list[Layer] = []
        self._input_shape = None      # one sample, without the batch axis
        self.built = False
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self._loss_obj = None
        self._metric_specs = []
        self._train_metrics = self._eval_metrics = None
        self.stop_training = False
        self.history = None
        self._grad_buffers = {}
        self._step_lists = None
        for layer in layers or []:
            self.add(layer)

    # -- structure -------------------------------------------------------------------------

    def add(self, layer):
        if isinstance(layer, InputLayer):
            if self.layers:
                raise ValueError(f"{self.name}.add: an InputLayer must come first")
            self._input_shape = layer._declared_input_shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"{self.name}.add: expected a corenn layer, got {type(layer).__name__}")
        if not self.layers and self._input_shape is None and layer._declared_input_shape is not None:
            self._input_shape = layer._declared_input_shape
        self.layers.append(layer)
        if self._input_shape is not None:  # known input: build eagerly, as Keras does
            self.built = False
            self.build()

    def pop(self):
        layer = self.layers.pop()
        layer.relu_grad_by_next = layer.masks_relu_input = False  # no longer fused with a neighbour
        layer.pooled_by = layer._fused_output = None
        layer.grad_through_pool = layer.passes_grad_back = False
        if self.layers:
            self.layers[-1].relu_grad_by_next = False
            self.layers[-1].pooled_by = None
            self.layers[-1].grad_through_pool = False
        self.built = False
        if self.layers and self._input_shape is not None:
            self.build()
        return layer

    def build(self, input_shape=None):
        """Build every layer for inputs of ``input_shape`` (with or without the batch axis None)."""
        if input_shape is not None:
            input_shape = tuple(input_shape)
            if input_shape and input_shape[0] is None:
                input_shape = input_shape[1:]
            self._input_shape = input_shape
        if self._input_shape is None:
            raise ValueError(f"{self.name}: the input shape is unknown; give the first layer "
                             "input_shape=(features,), start with layers.Input(shape=...), or call fit/build")
        if not self.layers:
            raise ValueError(f"{self.name}: the model has no layers")
        shape = (None,) + tuple(self._input_shape)
        for i, layer in enumerate(self.layers):
            try:
                if layer.built:
                    layer.check_input_shape(shape)
                else:
                    layer.build(shape)
            except ValueError as exc:
                raise ValueError(f"{self.name}: layer {i} '{layer.name}' ({type(layer).__name__}) cannot take "
                                 f"input {shape_str(shape)}: {exc}{self._shape_hint(layer, shape)}") from None
            shape = layer.output_shape
        self.built = True
        self._mark_input_grads()

    def _mark_input_grads(self):
        """A layer computes dL/dx only if some layer before it has trainable weights: in the usual
        Flatten -> Dense start, the first Dense's dX GEMM (a quarter of an MLP's step) is never used."""
        upstream = False
        for layer in self.layers:
            layer.needs_input_grad = upstream
            upstream = upstream or bool(layer.trainable_weights)
        self._fold_relu_into_max_pooling()

    def _fold_relu_into_max_pooling(self):
        """Conv2D(relu) -> MaxPooling2D: the pooling's backward masks its (4x smaller) dy with
        [max > 0] and the conv skips its relu' pass over the full-size map; with a 2x2 pool
        after a stride-1 conv, the conv's forward also computes the pooling, and when that conv
        is the first trainable layer (no input gradient) its weight gradient reads the pooled
        gradient directly: the pooling's backward hands dy over untouched."""
        from ..layers.base import ActivatedLayer
        from ..layers.pooling import MaxPooling1D, MaxPooling2D
        for layer in self.layers:
            layer.relu_grad_by_next = layer.masks_relu_input = False
            layer.pooled_by, layer._fused_output = None, None
            layer.grad_through_pool = layer.passes_grad_back = False
        for a, b in zip(self.layers, self.layers[1:]):
            if (isinstance(a, ActivatedLayer) and a._fused and a.activation.name == "relu"
                    and isinstance(b, (MaxPooling2D, MaxPooling1D)) and b.needs_input_grad):
                a.relu_grad_by_next = b.masks_relu_input = True
            # Conv2D(relu) -> MaxPooling2D(2): one pass computes both and the conv's output is
            # never stored, when backward needs it not (relu' folded, or no backward reaches it).
            no_backward = not a.trainable_weights and not a.needs_input_grad
            if (hasattr(a, "can_fuse_max_pool") and a.can_fuse_max_pool(b)
                    and (a.relu_grad_by_next or no_backward)):
                a.pooled_by = b
                if a.relu_grad_by_next and not a.needs_input_grad and a.trainable_weights:
                    a.grad_through_pool = b.passes_grad_back = True

    def _shape_hint(self, layer, shape):
        if self._input_shape and self._input_shape[0] is None:
            return (f". input_shape excludes the batch axis: use input_shape={shape_str(self._input_shape[1:])} "
                    f"not {shape_str(self._input_shape)}")
        if type(layer).__name__ == "Dense" and len(shape) > 2:
            return ". add layers.Flatten() before Dense"
        return ""

    @property
    def input_shape(self):
        return None if self._input_shape is None else (None,) + tuple(self._input_shape)

    @property
    def output_shape(self):
        return self.layers[-1].output_shape if self.built else None

    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def _gradients(self):
        return [g for layer in self.layers for g in layer.gradients]

    def get_weights(self):
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"{self.name}.set_weights: the model has {expected} weight arrays, got {len(weights)}")
        pos = 0
        for layer in self.layers:  # check every shape before writing anything
            for w in layer.weights:
                if tuple(np.shape(weights[pos])) != tuple(w.shape):
                    raise ValueError(f"{self.name}.set_weights: layer '{layer.name}' expects a weight of shape "
                                     f"{tuple(w.shape)}, got {tuple(np.shape(weights[pos]))}")
                pos += 1
        pos = 0
        for layer in self.layers:
            n = len(layer.weights)
            layer.set_weights(weights[pos:pos + n])
            pos += n

    def save_weights(self, filepath):
        """Write all weights to ``filepath`` (.npz + JSON manifest), atomically; see corenn.saving."""
        saving.save_weights(self, filepath)

    def load_weights(self, filepath):
        """Load weights written by :meth:`save_weights` (or the weights of a ``.keras`` model
        file); never unpickles or executes anything."""
        saving.load_weights(self, filepath)

    def save(self, filepath, overwrite=True, include_optimizer=True):
        """Write the whole model (architecture, compile config, weights, optimizer state) to one
        file, atomically; ``corenn.models.load_model`` reads it back. See corenn.saving."""
        import os
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{self.name}.save: {os.fspath(filepath)} exists and overwrite=False")
        saving.save_model(self, filepath, include_optimizer=include_optimizer)

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print a Keras-style table: Layer (type), Output Shape, Param #, plus the forward
        FLOPs per sample and, once the model has trained, the measured forward / backward
        milliseconds per training step of each layer (see ``profile``).

        Args:
            line_length: total width of the table (default: fit the content).
            print_fn: called with each line (default ``print``).
            expand_nested, positions, show_trainable, layer_range: accepted for Keras
                compatibility (a Sequential has no nested models; columns are sized to fit).
        """
        from .summary import format_summary
        if not self.built:
            raise ValueError(f"{self.name}.summary: the model is not built yet; give the first layer "
                             "input_shape=..., call build(input_shape) or fit first")
        for line in format_summary(self, line_length=line_length):
            (print_fn or print)(line)

    # -- compile ---------------------------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, **kwargs):
        from .. import optimizers
        unknown = [k for k in kwargs if k not in _KERAS_COMPILE_IGNORED]
        if unknown:
            raise TypeError(f"{self.name}.compile: unexpected keyword argument(s) {', '.join(unknown)}")
        if loss is None:
            raise ValueError(f"{self.name}.compile: pass loss=, e.g. 'sparse_categorical_crossentropy' or 'mse'")
        if loss_weights is not None:
            raise NotImplementedError(f"{self.name}.compile: loss_weights is for multi-output models")
        self.optimizer = optimizers.get(optimizer)
        self.loss = loss
        self._loss_obj = _losses.get(loss)
        if metrics is None:
            metrics = []
        elif isinstance(metrics, (str, _metrics.Metric)):
            metrics = [metrics]
        self._metric_specs = list(metrics)
        for spec in self._metric_specs:  # fail early on unknown names
            _metrics.resolve(spec, self._loss_obj, 1, (1, 2))
        self._train_metrics = self._eval_metrics = None
        self.compiled = True

    @property
    def metrics_names(self):
        return ["loss"] + [m.name for m in (self._train_metrics or [])]

    # -- data preparation ------------------------------------------------------------------

    def _prepare_x(self, x, op):
        if isinstance(x, kernels.Tensor):
            x = np.asarray(x)
        if isinstance(x, (list, tuple)) or not hasattr(x, "dtype"):
            x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{self.name}.{op}: x must be numeric, got dtype {x.dtype}")
        if x.ndim == 0 or x.shape[0] == 0:
            raise ValueError(f"{self.name}.{op}: x is empty (shape {x.shape}); it needs at least one sample")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not self.built:
            if self._input_shape is None:
                self._input_shape = tuple(x.shape[1:])
            self.build()
        expected = self._input_shape
        if len(expected) != x.ndim - 1 or any(e is not None and e != g for e, g in zip(expected, x.shape[1:])):
            first = self.layers[0]
            hint = ""
            if expected and expected[0] is None:
                hint = (f"; input_shape excludes the batch axis: use input_shape={shape_str(expected[1:])} "
                        f"not {shape_str(expected)}")
            elif x.ndim > 2 and len(expected) == 1 and math.prod(x.shape[1:]) == expected[0]:
                hint = (f"; reshape x to (n, {expected[0]}) or start the model with "
                        f"layers.Flatten(input_shape={shape_str(x.shape[1:])})")
            raise ValueError(f"{self.name}.{op}: the first layer '{first.name}' ({type(first).__name__}) expects "
                             f"input of shape {shape_str((None,) + tuple(expected))}, but x has shape "
                             f"{tuple(x.shape)}{hint}")
        return x

    def _prepare_y(self, y, n, op):
        if y is None:
            raise ValueError(f"{self.name}.{op}: y (the targets) is missing")
        y = np.asarray(y)
        if y.ndim == 0 or y.shape[0] != n:
            raise ValueError(f"{self.name}.{op}: x and y must have the same number of samples, "
                             f"got {n} inputs and {y.shape[0] if y.ndim else 0} targets")
        if y.dtype.kind == "f":
            bad = ~np.isfinite(y)
            if bad.any():
                raise ValueError(f"{self.name}.{op}: y contains {int(np.isnan(y).sum())} NaN and "
                                 f"{int(np.isinf(y).sum())} infinite values; clean the labels first")
        loss = self._loss_obj
        out = self.output_shape
        y = loss.prepare_labels(y)
        if loss.sparse:
            if y.shape[1:] not in ((), (1,)) or len(out) != 2:
                raise ValueError(self._label_error(y, out, "class indices of shape (n,) or (n, 1)"))
            return y
        if y.ndim == len(out) - 1 and out[-1] == 1:
            y = y.reshape(y.shape + (1,))
        if tuple(y.shape[1:]) != tuple(out[1:]):
            hint = ""
            if loss.kind == "categorical_crossentropy" and y.ndim == 1:
                hint = "; use loss='sparse_categorical_crossentropy' for integer labels or one-hot them with utils.to_categorical"
            raise ValueError(self._label_error(y, out, f"targets of shape {shape_str((None,) + tuple(out[1:]))}") + hint)
        return y

    def _label_error(self, y, out, what):
        msg = (f"{self.name}: loss '{self._loss_obj.name}' expects {what} for the model output "
               f"{shape_str(out)}, but y has shape {tuple(y.shape)}")
        if len(out) > 2:
            msg += "; the output still has spatial axes: add layers.Flatten() before Dense"
        return msg

    def _require_compiled(self, op):
        if not self.compiled:
            raise RuntimeError(f"{self.name}.{op}: call compile(optimizer, loss, metrics) first")

    def _resolve_metrics(self, y):
        make = lambda: [_metrics.resolve(s, self._loss_obj, y.ndim, self.output_shape) for s in self._metric_specs]
        if self._train_metrics is None:
            self._train_metrics, self._eval_metrics = make(), make()

    # -- steps -----------------------------------------------------------------------------

    # Training steps time each layer's forward and backward with perf_counter_ns (~0.2 us per
    # layer and pass, ~0.1% of the README MLP's step; see models/summary.py); model.summary()
    # shows the means per step. Set ``model.profile = False`` to skip the clock reads.
    profile = True

    def _forward(self, x, training):
        h = x
        if not (training and self.profile):
            for layer in self.layers:
                h = layer.forward(h, training=training)
            return h
        clock, fwd = time.perf_counter_ns, self._timings().forward
        t0 = clock()
        for i, layer in enumerate(self.layers):
            h = layer.forward(h, training=True)
            t1 = clock()
            fwd[i] += t1 - t0
            t0 = t1
        return h

    def _timings(self):
        """The per-layer time accumulators (new ones when the layer stack changed)."""
        t = self.__dict__.get("_layer_timings")
        if t is None or t.layers != self.layers:
            from .summary import LayerTimings
            t = self._layer_timings = LayerTimings(self.layers)
        return t

    def _loss_grad(self, xb, yb, sample_weight=None):
        h = self._forward(xb, True)
        key = tuple(h.shape)
        g = self._grad_buffers.get(key)
        if g is None:
            if len(self._grad_buffers) > 4:
                self._grad_buffers.clear()
            g = self._grad_buffers[key] = kernels.empty(key)
        timed = self.profile
        if timed:
            clock, timings = time.perf_counter_ns, self._timings()
            bwd, t0 = timings.backward, clock()
        fused = self._fused_output()
        last = len(self.layers) - 1
        if fused:
            # softmax/sigmoid + cross-entropy: one kernel from the logits (as Keras' backends do),
            # cheaper and better conditioned than the loss gradient through the activation
            loss = kernels.loss_forward(self._loss_obj.kind, self.layers[-1].logits, yb, g, from_logits=True,
                                    sample_weight=_data.row_weights(sample_weight, h))
            if timed:
                t1 = clock()
                timings.loss += t1 - t0
                t0 = t1
            g = self.layers[-1].backward_from_preactivation(g)
            if timed:
                t1 = clock()
                bwd[last] += t1 - t0
                t0 = t1
            last -= 1
        else:
            loss = self._loss_obj.forward_backward(yb, h, g, _data.row_weights(sample_weight, h))
            if timed:
                t1 = clock()
                timings.loss += t1 - t0
                t0 = t1
        for i in range(last, -1, -1):
            if g is None:
                break  # the layer after this one needs no dL/dx: nothing before it is trainable
            g = self.layers[i].backward(g)
            if timed:
                t1 = clock()
                bwd[i] += t1 - t0
                t0 = t1
        loss += sum(layer.regularization(add_grads=True) for layer in self.layers)
        if timed:
            timings.steps += 1
        return loss, h

    def _fused_output(self) -> bool:
        last, loss = self.layers[-1], self._loss_obj
        if loss.from_logits or not hasattr(last, "backward_from_preactivation"):
            return False
        act = last.activation.name
        return (act == "softmax" and loss.kind in ("categorical_crossentropy", "sparse_categorical_crossentropy")) \
            or (act == "sigmoid" and loss.kind == "binary_crossentropy")

    def _train_step(self, xb, yb, metrics, sample_weight=None):
        loss, h = self._loss_grad(xb, yb, sample_weight)
        for m in metrics:
            m.update_state(yb, h)
        if self._step_lists is None:  # built once per fit: a step makes no new lists
            self._step_lists = (self._gradients(), self.trainable_weights)
        self.optimizer.apply(*self._step_lists)
        return loss

    def compute_gradients(self, x, y, sample_weight=None):
        """(loss, grads) for one batch with the compiled loss; grads align with trainable_weights.

        ``sample_weight`` (N,) weights each sample's loss (sum_i w_i loss_i / N, as Keras).
        The gradient Tensors are the layers' own buffers: the next call overwrites them.
        """
        self._require_compiled("compute_gradients")
        with self._training_call("compute_gradients"), self._step_lock:
            return self._compute_gradients(x, y, sample_weight)

    def _compute_gradients(self, x, y, sample_weight):
        x = self._prepare_x(x, "compute_gradients")
        y = self._prepare_y(y, len(x), "compute_gradients")
        sw = _data.sample_weights(f"{self.name}.compute_gradients", len(x), y, sample_weight)
        self._mark_input_grads()
        loss, _ = self._loss_grad(kernels.as_tensor(x), kernels.as_tensor(y), _data.tensor_or_none(sw))
        return float(loss), self._gradients()

    # -- config ----------------------------------------------------------------------------

    def get_config(self):
        from ..layers import serialize
        return {"name": self.name, "input_shape": self._input_shape,
                "layers": [serialize(layer) for layer in self.layers]}

    @classmethod
    def from_config(cls, config):
        from ..layers import deserialize
        model = cls(name=config.get("name"))
        if config.get("input_shape") is not None:
            model._input_shape = tuple(config["input_shape"])
        for layer_cfg in config["layers"]:
            model.add(deserialize(layer_cfg))
        return model
