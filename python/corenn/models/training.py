"""fit / evaluate / predict and the *_on_batch calls of Sequential (a mixin: the model's structure,
weights, compile and the training step itself live in sequential.py).

fit's epoch loop: batches come from arrays (shuffled with corenn's seeded generator, gathered with
np.take into reused buffers) or from a generator / iterable of batches, a corenn.data.Dataset or a
utils.PyDataset (models/_data.py: BatchStream is the one adapter for all three), each
goes through Sequential._train_step, callbacks see every batch and epoch (corenn.callbacks).

Threads. The kernels release the GIL, while the layers keep their activations and gradients in
buffers reused from step to step, so two calls on one model may not run their steps at the same
time. The rule:
- inference (predict, predict_on_batch, __call__, evaluate, test_on_batch) may be called from
  any number of threads: each batch's forward pass and the copy of its output run under the
  model's lock, so results are always right (the batches of different threads take turns);
- training (fit, train_on_batch, compute_gradients) belongs to one thread at a time: a second
  thread that starts one while another trains gets a RuntimeError, never a corrupted step.
  Inference from other threads during a fit is served between training steps.
"""
from __future__ import annotations

import contextlib
import math
import threading
import warnings

import numpy as np

from .. import kernels
from . import _data

# The active corenn.distributed.DataParallel (set by its ``with`` block), else None: a fit then
# runs distributed (distributed/data_parallel.py). Read once per fit.
_data_parallel = None


class TrainingLoops:
    """The loops over data; the class using it provides _train_step, _loss_grad, _forward,
    _prepare_x / _prepare_y, _resolve_metrics, _mark_input_grads and the compiled state."""

    _data_parallel = None   # during a distributed fit: this rank's part (DataParallel)

    # -- threads -------------------------------------------------------------------------------

    @property
    def _step_lock(self):
        """The lock that one step (forward, backward, update, output copy) holds; reentrant, so a
        callback may call predict or evaluate from inside fit."""
        lock = self.__dict__.get("_lock")
        if lock is None:
            lock = self.__dict__.setdefault("_lock", threading.RLock())
        return lock

    @contextlib.contextmanager
    def _training_call(self, op):
        """Marks this thread as the model's trainer for the duration of ``op``; raises
        RuntimeError when another thread is training (nested calls from the same thread pass)."""
        me = threading.get_ident()
        with self._step_lock:
            owner = self.__dict__.get("_trainer_thread")
            if owner is not None and owner != me:
                raise RuntimeError(
                    f"{self.name}.{op}: another thread is training this model; one model trains in one "
                    "thread at a time (inference from other threads is allowed), so wait for it or "
                    "train a copy of the model")
            self._trainer_thread = me
        try:
            yield
        finally:
            if owner is None:
                with self._step_lock:
                    self._trainer_thread = None

    # -- fit / evaluate / predict --------------------------------------------------------------

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1, **loader_options):
        """Train for ``epochs`` passes over the data; returns the History callback.

        x, y: NumPy arrays, or x a corenn.data.Dataset, a utils.PyDataset or a generator /
        iterable of (x, y) or (x, y, sample_weight) batches (then y, batch_size and sample_weight
        stay None; see models/_data.py).
        class_weight {class: weight} / sample_weight (N,): the loss of sample i counts w_i times
        (batch loss = mean_i w_i loss_i); metrics are not weighted, weighted_metrics are. validation_data:
        (x, y), (x, y, sample_weight) or a Dataset / PyDataset / iterable of batches
        (validation_steps caps it).
        workers / use_multiprocessing / max_queue_size (tf.keras 2's loader options) are accepted
        and have no effect: batches come from the calling thread.
        """
        _loader_options("fit", loader_options)
        self._require_compiled("fit")
        from ..keras.config import capped_fit_arguments   # keras.config.set_max_epochs / ..._per_epoch
        epochs, steps_per_epoch = capped_fit_arguments(epochs, steps_per_epoch)
        with self._training_call("fit"):
            if _data_parallel is not None:
                return _data_parallel.fit(self, self._fit, dict(
                    x=x, y=y, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
                    validation_split=validation_split, validation_data=validation_data, shuffle=shuffle,
                    class_weight=class_weight, sample_weight=sample_weight, initial_epoch=initial_epoch,
                    steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                    validation_batch_size=validation_batch_size, validation_freq=validation_freq))
            return self._fit(x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
                             shuffle, class_weight, sample_weight, initial_epoch, steps_per_epoch,
                             validation_steps, validation_batch_size, validation_freq)

    def _fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle,
             class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps,
             validation_batch_size, validation_freq):
        from .. import callbacks as _callbacks
        where = f"{self.name}.fit"
        verbose = 1 if verbose == "auto" else int(verbose)
        if class_weight is not None:
            class_weight = _data.check_class_weight(where, class_weight)
        train, steps, batch_size, validation_data = self._fit_data(
            x, y, batch_size, sample_weight, class_weight, validation_split, validation_data, steps_per_epoch,
            shuffle)
        val = None if validation_data is None else self._validation_source(validation_data, validation_steps)
        if self._data_parallel is not None:   # each rank validates on its shard
            val = self._data_parallel.shard_validation(val)
        val_batch_size = validation_batch_size or batch_size or 32
        cbks = _callbacks.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                                       verbose=verbose, epochs=epochs, steps=steps)
        self.stop_training = False
        self._step_lists = None  # trainable flags may have changed since the last fit
        self._mark_input_grads()
        buffers = {}
        cbks.on_train_begin()
        # A callback resuming a run (BackupAndRestore) sets model._initial_epoch in on_train_begin,
        # as in Keras 3; read once, so a later fit starts where it is told.
        initial_epoch, self._initial_epoch = getattr(self, "_initial_epoch", None) or initial_epoch, None
        epoch_logs = {}
        for epoch in range(initial_epoch, epochs):
            batches = self._fit_batches(train, batch_size, steps, shuffle, buffers, class_weight)
            if isinstance(train, _data.BatchStream):  # fetch the first batch: is there data left?
                batches = _data.peek(batches)
                if batches is None:
                    if epoch == initial_epoch:
                        raise ValueError(f"{where}: the data iterable yielded no batches")
                    _data.warn_ran_out(where, train.steps, epochs - initial_epoch)
                    break
            metrics = self._train_metrics
            for _, m in self._metric_entries(metrics):
                m.reset_state()
            custom = self._custom_step("train_step")
            own_metrics = not custom and self._custom_step("compute_metrics")
            if custom or own_metrics:
                for m in self.metrics:
                    m.reset_state()
            cbks.on_epoch_begin(epoch)
            total, count, logs = 0.0, 0, {}
            outputs = [0.0] * len(self._losses) if self._logs_output_losses() else None
            for step, (xb, yb, swb, nb) in enumerate(batches):
                cbks.on_train_batch_begin(step)
                with self._step_lock:
                    if custom:  # a train_step(data) written by the user, as in Keras 3
                        logs = _float_logs(_user_step(self, "train_step", _step_data(xb, yb, swb)))
                    elif own_metrics:   # Keras 3: an overridden compute_metrics gives the step's logs
                        self._track_loss(self._train_step(xb, yb, None, swb), xb)   # as train_step
                        logs = _float_logs(self.compute_metrics(xb, yb, self.__dict__.pop("_last_y_pred"), swb))
                    else:
                        loss = self._train_step(xb, yb, metrics, swb)
                        total += loss * nb
                        count += nb
                        logs = {"loss": total / count}
                        if outputs is not None:  # per-output losses, Keras' '<output>_loss'
                            for k, name in enumerate(self.output_names):
                                outputs[k] += self._output_losses[k] * nb
                                if self._losses[k] is not None:   # Keras logs the outputs that have a loss
                                    logs[f"{name}_loss"] = outputs[k] / count
                        logs.update(self._metric_logs(metrics))
                cbks.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            if cbks.params.get("steps") is None and isinstance(train, _data.BatchStream) and not train.one_shot:
                cbks.params["steps"] = step + 1  # later epochs of a re-iterable get a full bar
            epoch_logs = dict(logs)
            if val is not None and (epoch + 1) % validation_freq == 0:
                vals = self._evaluate_source(val, val_batch_size, "fit(validation_data)", cbks)  # on_test_* hooks, as Keras
                if vals is None:
                    warnings.warn(f"{where}: the validation data yielded no batches at epoch {epoch + 1}; "
                                  "no val_ metrics this epoch", UserWarning, stacklevel=2)
                else:
                    epoch_logs.update({"val_" + k: v for k, v in vals.items()})
            cbks.on_epoch_end(epoch, epoch_logs)
            if isinstance(train, _data.BatchStream) and train.ran_out and epoch + 1 < epochs:
                _data.warn_ran_out(where, train.steps, epochs - initial_epoch)
                break
            if self.stop_training:
                break
        finalize = getattr(self.optimizer, "finalize_variable_values", None)
        if finalize is not None and epochs > initial_epoch:   # use_ema: the averages become the weights
            finalize(self.trainable_weights)
        cbks.on_train_end(epoch_logs)
        self.history = cbks.history
        return cbks.history

    def _fit_data(self, x, y, batch_size, sample_weight, class_weight, validation_split, validation_data,
                  steps_per_epoch, shuffle=False):
        """fit's training source (arrays (x, y, weights) or a BatchStream), steps per epoch (None:
        one pass of an iterable), batch size, and validation_data with validation_split applied."""
        where = f"{self.name}.fit"
        if _data.is_batch_source(x):
            self._check_stream_args("fit", x, y, batch_size, sample_weight, validation_split=validation_split)
            train = _data.BatchStream(x, _data.positive_or_none(where, "steps_per_epoch", steps_per_epoch),
                                      where, "steps_per_epoch", shuffle=shuffle)
            return train, train.known_steps, None, validation_data
        batch_size = _data.positive_or_none(where, "batch_size", batch_size) or 32
        x = self._prepare_x(x, "fit")
        n = data_len(x)
        compiled_losses = getattr(self, "_losses", None)
        if y is None and (self._custom_step("train_step") or compiled_losses and all(l is None for l in compiled_losses)):
            # fit(x) for a train_step(data) of the user's that needs no targets (a GAN, an
            # autoencoder), or a model compiled without a loss whose layers add theirs: its data
            # is the batch of x alone, as Keras 3 passes it
            if sample_weight is not None or class_weight is not None:
                raise ValueError(f"{where}: sample_weight and class_weight need targets (y)")
            if validation_data is None and validation_split:
                split = self._split_index(n, validation_split)
                validation_data = (rows(x, split, n), None)
                x, n = rows(x, 0, split), split
            return (x, None, None), math.ceil(n / batch_size) if steps_per_epoch is None else min(
                math.ceil(n / batch_size), _data.positive_or_none(where, "steps_per_epoch", steps_per_epoch)), \
                batch_size, validation_data
        y = self._prepare_y(y, n, "fit")
        raw_sw = None if sample_weight is None else self._sample_weights(where, n, y, sample_weight)
        if validation_data is None and validation_split:
            split = self._split_index(n, validation_split)
            validation_data = (rows(x, split, n), rows(y, split, n)) + (() if raw_sw is None else (rows(raw_sw, split, n),))
            x, y = rows(x, 0, split), rows(y, 0, split)
            raw_sw = None if raw_sw is None else rows(raw_sw, 0, split)
            n = split
        sw = self._sample_weights(where, n, y, raw_sw, class_weight)  # class weights: training only
        self._resolve_metrics(y)
        steps = math.ceil(n / batch_size)
        if steps_per_epoch is not None:
            steps = min(steps, _data.positive_or_none(where, "steps_per_epoch", steps_per_epoch))
        return (x, y, sw), steps, batch_size, validation_data

    def _logs_output_losses(self):
        """Whether logs carry Keras' '<output>_loss' entries: only when more than one output has a
        loss (Keras 3 tracks a Mean per loss when it has several; loss=['mse', None] logs 'loss'
        alone) and compute_loss is not overridden."""
        return sum(loss is not None for loss in self._losses) > 1 and not self._user_compute_loss()

    def _sample_weights(self, where, n, y, sample_weight, class_weight=None):
        """The batch's sample weights: one (n,) array (or None) for every output, as
        _data.sample_weights checks it; or, for Keras' per-output form (a dict keyed by output
        name, or a list / tuple with one entry per output of a several-output model), a list with
        one checked array or None per output (the outputs' order), None when all are None."""
        names = getattr(self, "output_names", None) or []
        per = None
        if isinstance(sample_weight, dict):
            per = by_output_name(sample_weight, names, where, "sample_weight")
        elif (isinstance(sample_weight, (list, tuple)) and len(names) > 1 and len(sample_weight) == len(names)
              and all(w is None or np.ndim(w) >= 1 for w in sample_weight)):
            per = list(sample_weight)
        if per is None:
            return _data.sample_weights(where, n, first(y), sample_weight, class_weight)
        if class_weight is not None and any(w is not None for w in per):
            raise ValueError(f"{where}: pass class_weight or sample_weight, not both (fold the class "
                             f"weights into sample_weight)")
        if len(per) == 1:   # a one-output model: its one array
            return _data.sample_weights(where, n, first(y), per[0], class_weight)
        ys = y if isinstance(y, list) else [y] * len(per)
        out = [None if w is None else _data.sample_weights(f"{where} (output '{name}')", n, ys[k], w)
               for k, (name, w) in enumerate(zip(names, per))]
        return None if all(w is None for w in out) else out

    def _split_index(self, n, validation_split):
        if not 0.0 < validation_split < 1.0:
            raise ValueError(f"{self.name}.fit: validation_split must be in (0, 1), got {validation_split}")
        split = int(math.floor(n * (1.0 - validation_split)))
        if split == 0 or split == n:
            raise ValueError(f"{self.name}.fit: validation_split={validation_split} leaves an empty "
                             f"training or validation set for {n} samples")
        return split

    def _check_stream_args(self, op, x, y, batch_size, sample_weight, validation_split=0.0):
        where = f"{self.name}.{op}"
        # batch_size is ignored, as Keras 3 ignores it: the batches are the data's own (the Swin
        # example passes fit(dataset, batch_size=batch_size))
        given = [name for name, v in (("y", y), ("sample_weight", sample_weight))
                 if v is not None] + (["validation_split"] if validation_split else [])
        if given:
            raise ValueError(f"{where}: x is {_data.source_kind(x)}, so {', '.join(given)} must not be "
                             "given; yield (x, y) or (x, y, sample_weight) batches instead")

    def _validation_source(self, data, validation_steps):
        where = f"{self.name}.fit"
        if _data.is_batch_source(data):
            return _data.BatchStream(data, _data.positive_or_none(where, "validation_steps", validation_steps),
                                     f"{where}(validation_data)", "validation_steps")
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError(f"{where}: validation_data must be (x_val, y_val), (x_val, y_val, sample_weight_val) "
                             f"or an iterable of batches, got {type(data).__name__}"
                             + (f" of {len(data)} items" if isinstance(data, (tuple, list)) else ""))
        op = "fit(validation_data)"
        vx = self._prepare_x(data[0], op)
        if data[1] is None and self._losses_all_added():
            return vx, None, None
        vy = self._prepare_y(data[1], data_len(vx), op)
        vsw = self._sample_weights(f"{self.name}.{op}", data_len(vx), vy, data[2] if len(data) == 3 else None)
        return vx, vy, vsw

    def _fit_batches(self, train, batch_size, steps, shuffle, buffers, class_weight):
        """(x, y, sample_weight or None, size) per training step of one epoch, as Tensors."""
        if isinstance(train, _data.BatchStream):
            for i, batch in enumerate(train.epoch()):
                yield self._convert_batch("fit", batch, i, class_weight)
            return
        from ..utils.random import get_generator
        n = data_len(train[0])
        # Keras 3: with steps_per_epoch short of a pass, a pass over the arrays runs on across
        # epochs (epoch 2 takes the batches after epoch 1's); an epoch that reaches the pass's end
        # stops there, and the next starts a new pass (a new shuffle). buffers["pass"]: where the
        # pass stands and its order.
        per_pass = -(-n // batch_size)
        first, order = buffers.get("pass", (0, None))
        if first == 0:
            order = get_generator().permutation(n) if shuffle else None
        count = min(steps, per_pass - first)
        buffers["pass"] = ((first + count) % per_pass, order)
        if count < steps and first > 0 and not buffers.get("pass_warned"):   # an epoch cut short
            buffers["pass_warned"] = True
            warnings.warn(f"{self.name}.fit: steps_per_epoch={steps} does not divide the {per_pass} batches of a pass "
                          f"over the data: an epoch that reaches the end of a pass stops there ({count} steps) and "
                          "the next epoch starts a new pass, as in Keras 3", UserWarning, stacklevel=4)
        if self._data_parallel is not None:   # this rank's shard of each global batch
            yield from self._data_parallel.shard_batches(self, train, order, count, batch_size, buffers, first)
            return
        for step in range(first, first + count):
            lo, hi = step * batch_size, min(n, (step + 1) * batch_size)
            yield self._batch(train, order, lo, hi, buffers) + (hi - lo,)

    def _losses_all_added(self):
        """Compiled without a loss: the layers add theirs (add_loss), and no targets are needed."""
        compiled_losses = getattr(self, "_losses", None)
        return bool(compiled_losses) and all(l is None for l in compiled_losses)

    def _convert_batch(self, op, batch, index, class_weight=None):
        """One (x, y[, sample_weight]) batch from an iterable, checked, as Tensors plus its size."""
        where = f"{self.name}.{op}"
        bx, by, bsw = _data.split_batch(where, batch, index)
        custom = self._custom_step("train_step" if op == "fit" else "test_step")
        try:
            return self._checked_batch(where, op, bx, by, bsw, index, class_weight, custom)
        except (ValueError, TypeError, LookupError, AttributeError):
            # LookupError: probing a subclassed model's call on a batch its own train_step unpacks
            # (keras.io's speech Transformer: call reads inputs[0], the batch is {"source",
            # "target"}) fails with a KeyError / IndexError; AttributeError: a call that takes a
            # dict of options the step never passes it (keras.io's StyleGAN: inputs.get("z") on
            # the image batch). Keras 3 probes only a model it finds unbuilt, and raises there
            if not custom:
                raise
            if by is not None:   # not (x, y): the batch goes to the user's step as it is
                raw = _raw_structure(bx), _raw_structure(by), _raw_structure(bsw)
                return raw + (_leading_rows(raw[0]),)
            # an overridden train_step reads the batch as it is (keras.io's metric learning: an
            # (anchors, positives) stack of shape (2, n, ...); the triplet-loss Siamese model's
            # (anchor, positive, negative) batches, which are not x, y, sample_weight); Keras 3
            # checks nothing here
            if self._graph is None and self.__dict__.get("_free_output_shapes") is None:
                self._free_output_shapes = [None]   # do not probe the call again on every batch
            return (tensors(bx), None if by is None else tensors(by), None if bsw is None else tensors(bsw),
                    data_len(bx))

    def _checked_batch(self, where, op, bx, by, bsw, index, class_weight, custom):
        x = self._prepare_x(bx, op, batched=True)
        if by is None and (custom or self._losses_all_added()):
            # the user's step takes x alone; or the model was compiled without a loss and its
            # layers add theirs (keras.io's OCR CTCLayer reads the labels as an input), as on arrays
            return tensors(x), None, None, data_len(x)
        if by is None:
            raise ValueError(f"{where}: batch {index} has no targets (y is None): the data gives x alone; "
                             "batches must be (x, y) or (x, y, sample_weight) unless train_step / test_step "
                             "is overridden to take x")
        try:
            n = data_len(x)
            if isinstance(x, list) and len(x) > 1:
                # several inputs from a dataset batch need not be as long as y (a batch of graphs:
                # atoms, bonds and each atom's molecule, one label per molecule): Keras checks
                # nothing there; the batch is as long as y
                n = data_len(list(by) if isinstance(by, tuple) else by)
            y = self._prepare_y(by, n, op)
        except (ValueError, TypeError):
            if not custom:
                raise
            # an overridden train_step / test_step gets a batch that is not (x, y) as it is (a
            # zip of an unlabeled and a labeled dataset: ((x_u, y_u), (x_l, y_l))), as Keras 3
            # passes it; its leaves become Tensors
            raw = _raw_structure(bx), _raw_structure(by), _raw_structure(bsw)
            return raw + (_leading_rows(raw[0]),)
        sw = self._sample_weights(f"{where} (batch {index})", n, y, bsw, class_weight)
        self._resolve_metrics(y)
        return tensors(x), tensors(y), _data.tensor_or_none(sw), n

    @staticmethod
    def _batch(arrays, order, lo, hi, buffers):
        """Rows [lo, hi) of each array (x, y, sample weights or None) as Tensors: zero-copy slices,
        or gathered in shuffled order into buffers reused across steps."""
        if order is None:
            return tuple(None if a is None else tensors(rows(a, lo, hi)) for a in arrays)
        size = hi - lo
        entry = buffers.get(size)
        if entry is None:
            bufs = [None if a is None else empty_like_rows(a, size) for a in arrays]
            entry = buffers[size] = (bufs, tuple(None if b is None else tensors(b) for b in bufs))
        bufs, batch = entry
        idx = order[lo:hi]
        for a, b in zip(arrays, bufs):
            if a is not None:
                take_rows(a, idx, b)
        return batch

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, _callbacks=True, **loader_options):
        """Loss (with regularization) and metrics: [loss, *metrics], or the loss alone.

        x, y as in ``fit`` (arrays, or x an iterable of batches; ``steps`` caps the batches).
        With ``sample_weight`` the loss is sum_i w_i loss_i / N; metrics are not weighted,
        weighted_metrics are.
        """
        _loader_options("evaluate", loader_options)
        from .. import callbacks as _callbacks_mod
        self._require_compiled("evaluate")
        where = f"{self.name}.evaluate"
        verbose = 1 if verbose == "auto" else int(verbose)
        if _data.is_batch_source(x):
            self._check_stream_args("evaluate", x, y, batch_size, sample_weight)
            source = _data.BatchStream(x, _data.positive_or_none(where, "steps", steps), where, "steps")
            n_steps = source.known_steps
        else:
            batch_size = _data.positive_or_none(where, "batch_size", batch_size) or 32
            x = self._prepare_x(x, "evaluate")
            n = data_len(x)
            if y is None and (self._custom_step("test_step") or self._losses_all_added()):
                # a user test_step reads x alone; or the layers add the loss (Keras 3)
                source = (x, None, None)
            else:
                y = self._prepare_y(y, n, "evaluate")
                source = (x, y, self._sample_weights(where, n, y, sample_weight))
                self._resolve_metrics(y)
            n_steps = math.ceil(n / batch_size)
            if steps is not None:
                n_steps = min(n_steps, _data.positive_or_none(where, "steps", steps))
                source = tuple(None if a is None else rows(a, 0, n_steps * batch_size) for a in source)
        cbks = None
        if _callbacks:
            cbks = _callbacks_mod.CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                               verbose=verbose, epochs=1, steps=n_steps)
        result = self._evaluate_source(source, batch_size, "evaluate", cbks)
        if result is None:
            raise ValueError(f"{where}: the data iterable yielded no batches")
        if return_dict:
            return result
        values = self._logs_in_order(result)
        return values[0] if len(values) == 1 else values

    def _logs_in_order(self, result):
        """evaluate's / *_on_batch's list: the model's own logs (loss, output losses, compiled
        metrics) first in their order, then what a custom train_step / test_step added, sorted
        by name (Keras 3's _flatten_metrics_in_order: MoE's {"loss", "moe_loss", **metrics}
        gives [loss, accuracy, moe_loss])."""
        try:
            known = set(self.metrics_names)
            known.update(f"{name}_loss" for name in (self.output_names or []))
            known.update(getattr(m, "name", None) for m in self.metrics)
        except Exception:   # a model whose metrics cannot be listed: the logs' own order
            return list(result.values())
        own = [v for k, v in result.items() if k in known]
        return own + [result[k] for k in sorted(k for k in result if k not in known)]

    def _evaluate_source(self, source, batch_size, op, cbks=None):
        """The result dict over arrays (x, y, sw) or a BatchStream; None if it yields nothing.
        Holds the model's lock throughout: the evaluation metrics are the model's own objects."""
        with self._step_lock:
            return self._evaluate_locked(source, batch_size, op, cbks)

    def _evaluate_locked(self, source, batch_size, op, cbks):
        if isinstance(source, _data.BatchStream):
            batches = (self._convert_batch(op, b, i) for i, b in enumerate(source.epoch()))
        else:
            x, y, sw = source
            n = data_len(x)
            batches = ((tensors(rows(x, lo, lo + batch_size)),
                        None if y is None else tensors(rows(y, lo, lo + batch_size)),
                        _data.tensor_or_none(None if sw is None else rows(sw, lo, lo + batch_size)),
                        min(n, lo + batch_size) - lo)
                       for lo in range(0, n, batch_size))
        self._mark_input_grads()  # this graph's fusion plan (see predict)
        reg = self.regularization()
        total, count, metrics = 0.0, 0, []
        if cbks is not None:
            cbks.on_test_begin()
        if self._custom_step("test_step") or self._custom_step("compute_metrics"):
            return self._evaluate_custom(batches, cbks)
        outputs = [0.0] * len(self._losses) if self._logs_output_losses() else None
        for step, (xb, yb, swb, nb) in enumerate(batches):
            if step == 0:  # a stream resolves the metrics with its first batch
                metrics = self._eval_metrics
                for _, m in self._metric_entries(metrics):
                    m.reset_state()
            if cbks is not None:
                cbks.on_test_batch_begin(step)
            h = self._forward(xb, False)
            total += self._batch_loss(yb, h, swb, xb) * nb
            count += nb
            if outputs is not None:
                for k in range(len(outputs)):
                    outputs[k] += self._output_losses[k] * nb
            self._update_metrics(metrics, yb, h, swb)
            if cbks is not None:
                cbks.on_test_batch_end(step, {"loss": total / count + reg, **self._metric_logs(metrics)})
        if count == 0:
            return None
        result = {"loss": total / count + reg}
        if outputs is not None:  # per-output losses, as Keras logs them
            result.update({f"{name}_loss": v / count for name, v, loss in zip(self.output_names, outputs, self._losses)
                           if loss is not None})
        result.update(self._metric_logs(metrics))
        if cbks is not None:
            cbks.on_test_end(result)
        return result

    def _evaluate_custom(self, batches, cbks):
        """evaluate with a user test_step(data): its logs of the last batch are the result."""
        for m in self.metrics:
            m.reset_state()
        logs = None
        for step, (xb, yb, swb, nb) in enumerate(batches):
            if cbks is not None:
                cbks.on_test_batch_begin(step)
            logs = _float_logs(_user_step(self, "test_step", _step_data(xb, yb, swb)))
            if cbks is not None:
                cbks.on_test_batch_end(step, logs)
        if logs is not None and cbks is not None:
            cbks.on_test_end(logs)
        return logs

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None, **loader_options):
        """Model outputs (inference mode) as a float32 NumPy array (float64 for a float64 model).

        x: an array, or an iterable of batches (each x, or a tuple whose first item is x);
        ``steps`` caps the number of batches.
        """
        _loader_options("predict", loader_options)
        from .. import callbacks as _callbacks_mod
        where = f"{self.name}.predict"
        verbose = 1 if verbose == "auto" else int(verbose)
        stream = _data.is_batch_source(x)
        if stream:
            if batch_size is not None:
                raise ValueError(f"{where}: x is {_data.source_kind(x)}, so batch_size must not be given")
            source = _data.BatchStream(x, _data.positive_or_none(where, "steps", steps), where, "steps")
            batches = (self._prepare_x(_data.split_batch(where, b, i, targets=False)[0], "predict", batched=True)
                       for i, b in enumerate(source.epoch()))
            n_steps = source.known_steps
        else:
            batch_size = _data.positive_or_none(where, "batch_size", batch_size) or 32
            x = self._prepare_x(x, "predict")
            n = data_len(x)
            if 0 < n <= batch_size and callbacks is None and verbose == 0 and steps is None \
                    and not self._custom_step("predict_step"):
                # one batch, nothing to report to: predict_on_batch's body (the serving path,
                # where predict's generator and callback plumbing cost ~5% of an MLP's batch)
                return self._predict_one_batch(x)
            n_steps = math.ceil(n / batch_size)
            if steps is not None:
                n_steps = min(n_steps, _data.positive_or_none(where, "steps", steps))
                x = rows(x, 0, n_steps * batch_size)
                n = data_len(x)
            batches = (rows(x, lo, lo + batch_size) for lo in range(0, n, batch_size))
        cbks = _callbacks_mod.CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                                           epochs=1, steps=n_steps)
        cbks.on_predict_begin()
        with self._step_lock:  # this graph's fusion plan (a layer shared with another model may carry that one's)
            self._mark_input_grads()
        out, parts, lo = None, [], 0
        for step, xb in enumerate(batches):
            cbks.on_predict_batch_begin(step)
            with self._step_lock:  # the output is the last layer's reused buffer: copy it out first
                if self._custom_step("predict_step"):   # the user's predict_step(data), as Keras 3
                    hs = self.predict_step((tensors(xb),))
                    hs = list(hs) if isinstance(hs, (list, tuple)) else hs
                else:
                    hs = self._forward(tensors(xb), False)
                multi = isinstance(hs, list)
                hs = [np.asarray(t) for t in (hs if multi else [hs])]
                if stream:
                    hs = [a.copy() for a in hs]
                    parts.append(hs)
                else:
                    if out is None:
                        out = [np.empty((n,) + a.shape[1:], _predict_dtype(a)) for a in hs]
                    for o, a in zip(out, hs):
                        o[lo:lo + len(a)] = a
                    hs = [o[lo:lo + len(a)] for o, a in zip(out, hs)]
                    lo += len(hs[0])
            cbks.on_predict_batch_end(step, {"outputs": hs if multi else hs[0]})
        cbks.on_predict_end()
        if stream:
            if not parts:
                raise ValueError(f"{where}: the data iterable yielded no batches")
            out = [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
        return self._structure_outputs(out)

    # tf.keras 2's generator methods (removed in Keras 3): fit / evaluate / predict take the same
    # generators and Sequences directly
    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose=1, callbacks=None,
                      validation_data=None, validation_steps=None, validation_freq=1, class_weight=None,
                      max_queue_size=10, workers=1, use_multiprocessing=False, shuffle=True, initial_epoch=0):
        """Deprecated in tf.keras 2: ``fit`` with a generator."""
        warnings.warn("fit_generator is deprecated: call fit with the generator", DeprecationWarning, stacklevel=2)
        return self.fit(generator, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=verbose,
                        callbacks=callbacks, validation_data=validation_data, validation_steps=validation_steps,
                        validation_freq=validation_freq, class_weight=class_weight, shuffle=shuffle,
                        initial_epoch=initial_epoch)

    def evaluate_generator(self, generator, steps=None, callbacks=None, max_queue_size=10, workers=1,
                           use_multiprocessing=False, verbose=0):
        """Deprecated in tf.keras 2: ``evaluate`` with a generator."""
        warnings.warn("evaluate_generator is deprecated: call evaluate with the generator", DeprecationWarning,
                      stacklevel=2)
        return self.evaluate(generator, steps=steps, callbacks=callbacks, verbose=verbose)

    def predict_generator(self, generator, steps=None, callbacks=None, max_queue_size=10, workers=1,
                          use_multiprocessing=False, verbose=0):
        """Deprecated in tf.keras 2: ``predict`` with a generator."""
        warnings.warn("predict_generator is deprecated: call predict with the generator", DeprecationWarning,
                      stacklevel=2)
        return self.predict(generator, steps=steps, callbacks=callbacks, verbose=verbose)

    def predict_on_batch(self, x):
        """The outputs for one batch ``x`` (inference mode) as NumPy arrays. predict's body for a
        single batch, without its batching and callbacks (Keras runs none here either): this is
        the latency path."""
        x = self._prepare_x(x, "predict_on_batch")
        if self._custom_step("predict_step"):
            return self.predict(x, batch_size=max(1, data_len(x)))
        return self._predict_one_batch(x)

    def _predict_one_batch(self, x):
        """The outputs for one prepared batch, copied out of the layers' reused buffers."""
        with self._step_lock:   # the output is the last layer's reused buffer: copy it out first
            self._mark_input_grads()
            hs = self._forward(tensors(x), False)
            outs = [np.array(t, dtype=_predict_dtype(t)) for t in (hs if isinstance(hs, list) else [hs])]
        return self._structure_outputs(outs)

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on (x, y); sample_weight (N,) or class_weight weight the loss."""
        self._require_compiled("train_on_batch")
        with self._training_call("train_on_batch"), self._step_lock:
            return self._train_on_batch(x, y, sample_weight, class_weight, return_dict)

    def _train_on_batch(self, x, y, sample_weight, class_weight, return_dict):
        where = f"{self.name}.train_on_batch"
        x = self._prepare_x(x, "train_on_batch")
        n = data_len(x)
        y = self._prepare_y(y, n, "train_on_batch")
        if class_weight is not None:
            class_weight = _data.check_class_weight(where, class_weight)
        sw = self._sample_weights(where, n, y, sample_weight, class_weight)
        self._resolve_metrics(y)
        for _, m in self._metric_entries(self._train_metrics):
            m.reset_state()
        self._step_lists = None
        self._mark_input_grads()
        loss = self._train_step(tensors(x), tensors(y), self._train_metrics, _data.tensor_or_none(sw))
        result = {"loss": float(loss)}
        if self._logs_output_losses():   # Keras' '<output>_loss', as fit logs
            result.update({f"{name}_loss": float(v) for name, v, fn in
                           zip(self.output_names, self._output_losses, self._losses) if fn is not None})
        result.update(self._metric_logs(self._train_metrics))
        if return_dict:
            return result
        return result["loss"] if len(result) == 1 else self._logs_in_order(result)

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        return self.evaluate(x, y, batch_size=max(1, data_len(self._prepare_x(x, "test_on_batch"))), verbose=0,
                             sample_weight=sample_weight, return_dict=return_dict, _callbacks=False)

    def _metric_logs(self, metrics):
        # a user's Metric may return a scalar Tensor (Keras' result()): logs hold floats
        return {name: _log_value(m.result()) for name, m in self._metric_entries(metrics)}

    def _structure_outputs(self, outs):
        if len(outs) == 1:
            return outs[0]
        keys = getattr(self, "_output_dict_keys", None)
        return dict(zip(keys, outs)) if keys is not None else self._nested_outputs(outs)

    def _nested_outputs(self, outs):
        """The flat outputs grouped as the functional model's ``outputs=`` nested them (a list
        holding a multi-output layer's output list), else as they are."""
        nesting = self.__dict__.get("_output_nesting")
        if nesting is None:
            return outs
        outer, items = nesting
        grouped, flat = [], iter(outs)
        for item in items:
            grouped.append(next(flat) if item is None else item[0](next(flat) for _ in range(item[1])))
        return outer(*grouped) if hasattr(outer, "_fields") else outer(grouped)


# -- arrays or lists of arrays (one per model input / output) --------------------------------------

def _predict_dtype(t):
    """predict's array dtype for an output: float32, but an integer or boolean output (a
    detection count, a class index a layer returns) keeps its dtype, as Keras' predict does."""
    kind = np.dtype(str(getattr(t, "dtype", "float32"))).kind if str(getattr(t, "dtype", "float32")) != "string" else "O"
    if kind == "f" and str(t.dtype) == "float64":
        return np.float64   # a float64 layer's output (Keras: the model's compute dtype)
    return np.dtype(str(t.dtype)) if kind in "iub" else np.float32


def _log_value(v):
    """A metric result as a log value: a float, or for a metric with one value per class or
    threshold (F1Score(average=None), Precision(thresholds=[...])) a float array, as Keras logs it."""
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 0 or (a.size == 1 and not isinstance(v, (list, tuple))):
        return float(a.reshape(-1)[0])
    return a.copy()


def _float_logs(logs):
    """A user train_step's logs as Keras 3 hands them to callbacks: floats where a value is one
    number (values may be scalar Tensors), other values as NumPy arrays (NNCLR's train_step logs
    its per-sample contrastive loss vector), nested dicts flattened into the one dict."""
    if not isinstance(logs, dict):
        raise TypeError(f"train_step/test_step must return a dict of logs, got {type(logs).__name__}")
    out = {}
    for k, v in logs.items():
        if isinstance(v, dict):
            out.update(_float_logs(v))
            continue
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            out[k] = np.array(v)
    return out


def by_output_name(values, names, where, what):
    """A dict keyed by output name as a list in the outputs' order (None where a name is
    missing); a key that names no output raises, naming the outputs."""
    unknown = [k for k in values if k not in names]
    if unknown:
        raise ValueError(f"{where}: {what} has key(s) {', '.join(map(repr, unknown))} that name no "
                         f"output; the outputs are {', '.join(names)}")
    return [values.get(k) for k in names]


def data_len(x):
    if isinstance(x, dict):
        x = list(x.values())
    return len(x[0]) if isinstance(x, list) else len(x)


def first(y):
    return y[0] if isinstance(y, list) else y


def rows(x, lo, hi):
    if isinstance(x, list):
        return [None if a is None else a[lo:hi] for a in x]
    if isinstance(x, dict):
        return {k: a[lo:hi] for k, a in x.items()}
    return x[lo:hi]


def _raw_structure(v):
    """A batch structure as a user's step receives it: tuples, lists and dicts kept, numeric
    arrays as Tensors, anything else (strings, None) as it is."""
    if isinstance(v, (tuple, list)):
        return type(v)(_raw_structure(a) for a in v)
    if isinstance(v, dict):
        return {k: _raw_structure(a) for k, a in v.items()}
    if isinstance(v, np.ndarray) and v.dtype.kind in "fiub":
        # int32 / int64 stay (labels); other numbers become float32, as model inputs do
        keep = v.dtype in (np.dtype(np.int32), np.dtype(np.int64))
        return _data.as_input(v if keep else np.ascontiguousarray(v, dtype=np.float32))
    return v


def _leading_rows(v):
    """The batch size of a structure: the first axis of its first array leaf (0 when none)."""
    if isinstance(v, (tuple, list)):
        for a in v:
            n = _leading_rows(a)
            if n:
                return n
        return 0
    if isinstance(v, dict):
        return _leading_rows(list(v.values()))
    shape = getattr(v, "shape", ())
    return int(shape[0]) if len(shape) else 0


def tensors(x):
    if type(x) is np.ndarray:   # one input's batch: the usual case, tested first
        return _data.as_input(x)
    if isinstance(x, list):
        return [None if a is None else _data.as_input(a) for a in x]
    if isinstance(x, dict):
        return {k: _data.as_input(a) for k, a in x.items()}
    return _data.as_input(x)


def empty_like_rows(a, size):
    if isinstance(a, list):
        return [None if b is None else np.empty((size,) + b.shape[1:], b.dtype) for b in a]
    if isinstance(a, dict):
        return {k: np.empty((size,) + b.shape[1:], b.dtype) for k, b in a.items()}
    return np.empty((size,) + a.shape[1:], a.dtype)


def take_rows(a, idx, out):
    if isinstance(a, list):
        for b, o in zip(a, out):
            if b is not None:
                np.take(b, idx, axis=0, out=o)
    elif isinstance(a, dict):
        for k in a:
            np.take(a[k], idx, axis=0, out=out[k])
    else:
        np.take(a, idx, axis=0, out=out)


_LOADER_OPTIONS = frozenset({"workers", "use_multiprocessing", "max_queue_size"})


def _loader_options(op, options):
    """tf.keras 2's fit / evaluate / predict took workers, use_multiprocessing and max_queue_size
    (Keras 3 moved them to PyDataset); scripts that pass them run, anything else is a TypeError."""
    unknown = sorted(set(options) - _LOADER_OPTIONS)
    if unknown:
        raise TypeError(f"{op}() got unexpected keyword argument(s): {', '.join(unknown)}")


def _step_data(x, y, sample_weight):
    """What a user's train_step / test_step receives, packed as Keras 3 packs it: x alone when
    there are no targets, except that several inputs come as (x,) so that data[0] is the
    inputs (the molecule VAE's ``adjacency, features, qed = data[0]``), x a tuple as TF 2.21
    gives it (its tf.data turns the list into a tuple; the molecular WGAN's train_step tests
    ``isinstance(inputs[0], tuple)``); else (x, y) or (x, y, sample_weight)."""
    if y is None and sample_weight is None:
        return (tuple(x),) if isinstance(x, (list, tuple)) else x
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def _user_step(model, name, data):
    """A user's ``train_step`` / ``test_step`` on one batch. Keras traces these into a
    TensorFlow graph, where ``tf.gradients`` works: a step that calls it (in its own code, or
    in a method or layer it calls: then found on its first batch, which stops at that point and
    runs again) runs on a graph tape (autodiff.run_as_graph) with its float arrays as Tensors."""
    from .. import autodiff
    step = getattr(model, name)
    flags = model.__dict__.setdefault("_graph_steps", {})
    if name not in flags:
        flags[name] = autodiff.calls_graph_gradients(step)
    if not flags[name] or autodiff.graph_tape() is not None:
        try:
            return step(data)
        except autodiff.GraphGradientsOutsideGraph:
            if autodiff.graph_tape() is not None:
                raise
            flags[name] = True

    def tensors(v):
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            return kernels.Tensor.from_numpy(np.asarray(v, dtype=np.float32, order="C"))
        if isinstance(v, (list, tuple)):
            return type(v)(tensors(u) for u in v)
        if isinstance(v, dict):
            return {k: tensors(u) for k, u in v.items()}
        return v
    with autodiff.run_as_graph():
        return step(tensors(data))
