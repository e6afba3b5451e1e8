"""Callbacks: hooks that `fit`, `evaluate` and `predict` call at fixed points.

`fit` drives them through a CallbackList, in this order:

    cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                       verbose=verbose, epochs=epochs, steps=steps_per_epoch)
    cbs.on_train_begin()
    for epoch in range(epochs):
        cbs.on_epoch_begin(epoch)
        for batch in ...:
            cbs.on_train_batch_begin(batch)
            ...                                   # one training step
            cbs.on_train_batch_end(batch, logs)   # logs: {'loss': ..., 'accuracy': ...}
        ...                                       # validation adds val_* keys to logs
        cbs.on_epoch_end(epoch, logs)
        if self.stop_training: break
    cbs.on_train_end()
    return cbs.history                            # the History object

The API follows Keras (keras.callbacks) so Keras code runs unchanged.
"""
import csv
import inspect
import io
import math
import os
import sys
import warnings

import numpy as np

from .utils.progbar import Progbar

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "LambdaCallback",
           "EarlyStopping", "LearningRateScheduler", "ReduceLROnPlateau", "CSVLogger",
           "TerminateOnNaN"]

_HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end",
    "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
)


class Callback:
    """Base class: every hook is a no-op; subclasses override the ones they need.

    Attributes:
        model: the model being trained (set by `set_model`).
        params: dict of training parameters (verbose, epochs, steps).
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass

    # Keras 1/2 names for the training-batch hooks. Overriding these still works, because
    # the on_train_batch_* defaults forward to them.
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def get_config(self):
        """The constructor arguments, read back from the same-named attributes.

        ``type(cb)(**cb.get_config())`` rebuilds an equivalent callback. Values are plain data
        except where a callback holds a function (LambdaCallback hooks, a LearningRateScheduler
        function), which cannot be written as JSON.
        """
        config = {}
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if hasattr(self, name):
                config[name] = getattr(self, name)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class CallbackList:
    """Holds callbacks and calls each hook on every one of them, in order.

    Args:
        callbacks: a list of Callback (or None).
        add_history: append a History unless one is already in the list.
        add_progbar: prepend a ProgbarLogger unless one is already in the list.
        model: set on every callback.
        **params: set as every callback's `params` (verbose, epochs, steps, ...).
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"CallbackList: expected Callback instances, "
                                f"got {type(cb).__name__}")
        self.history = next((c for c in self.callbacks if isinstance(c, History)), None)
        self.progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if add_progbar and self.progbar is None:
            self.progbar = ProgbarLogger()
            self.callbacks.insert(0, self.progbar)
        if add_history and self.history is None:
            self.history = History()
            self.callbacks.append(self.history)
        self.model = None
        self.params = {}
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback):
        self.callbacks.append(callback)

    def set_model(self, model):
        self.model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params):
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)


def _make_dispatch(name, takes_index):
    if takes_index:
        def hook(self, index, logs=None):
            logs = {} if logs is None else logs
            for cb in self.callbacks:
                getattr(cb, name)(index, logs)
    else:
        def hook(self, logs=None):
            logs = {} if logs is None else logs
            for cb in self.callbacks:
                getattr(cb, name)(logs)
    hook.__name__ = name
    hook.__doc__ = f"Call `{name}` on every callback."
    return hook


for _name in _HOOKS:
    _indexed = "epoch" in _name or "batch" in _name
    setattr(CallbackList, _name, _make_dispatch(_name, _indexed))


class History(Callback):
    """Records the epoch logs; `fit` returns it.

    Attributes:
        history: dict mapping each log key ('loss', 'val_accuracy', ...) to a list, one value
            per epoch.
        epoch: list of epoch indices seen.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class ProgbarLogger(Callback):
    """Prints progress: a live bar per epoch (verbose=1) or one line per epoch (verbose=2).

    corenn's fit logs running means over the epoch so far (Keras 3 semantics), so batch and
    epoch logs are shown as given; the bar never re-averages them.
    """

    def __init__(self, stateful_metrics=None, stream=None):
        super().__init__()
        self.stateful_metrics = set(stateful_metrics or ())
        self.stream = stream
        self.progbar = None
        self.seen = 0
        self._in_fit = False

    def get_config(self):
        return {"stateful_metrics": sorted(self.stateful_metrics)}

    def _verbose(self):
        v = self.params.get("verbose", 1)
        return 1 if v == "auto" else v

    def _new_bar(self, target):
        self.seen = 0
        self.progbar = Progbar(target, verbose=self._verbose(),
                               stateful_metrics=self.stateful_metrics, stream=self.stream)

    def _finish(self, logs):
        if self.progbar is None:
            return
        logs = dict(logs or {})
        # Epoch-level values are final numbers, not samples to average in.
        self.progbar.stateful_metrics.update(logs)
        # The steps actually done: an epoch cut short (stop_training) shows where it stopped.
        done = self.seen or self.progbar.target or 0
        self.progbar.update(done, list(logs.items()), finalize=True)

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        epochs = self.params.get("epochs", 1)
        if self._verbose() and epochs > 1:
            stream = self.stream if self.stream is not None else sys.stdout
            stream.write(f"Epoch {epoch + 1}/{epochs}\n")
            stream.flush()
        self._new_bar(self.params.get("steps"))

    def _update(self, batch, logs):
        self.seen = batch + 1
        logs = logs or {}
        self.progbar.stateful_metrics.update(logs)  # running means already: show them as given
        self.progbar.update(self.seen, list(logs.items()), finalize=False)

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(logs)

    # Standalone evaluate/predict get a bar; validation inside fit does not.
    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._new_bar(self.params.get("steps"))

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._finish(logs)

    def on_predict_begin(self, logs=None):
        self._new_bar(self.params.get("steps"))

    def on_predict_batch_end(self, batch, logs=None):
        self.seen = batch + 1
        self.progbar.update(self.seen, finalize=False)

    def on_predict_end(self, logs=None):
        self._finish(None)


class LambdaCallback(Callback):
    """A callback built from plain functions, e.g.
    `LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs['loss']))`.

    Accepts any hook name as a keyword (on_epoch_end, on_train_batch_end, on_batch_end, ...);
    epoch and batch hooks take (index, logs), the others (logs).
    """

    def __init__(self, **hooks):
        super().__init__()
        allowed = set(_HOOKS) | {"on_batch_begin", "on_batch_end"}
        for name, fn in hooks.items():
            if name not in allowed:
                raise TypeError(f"LambdaCallback: unknown hook {name!r}; "
                                f"expected one of {sorted(allowed)}")
            if fn is not None:
                setattr(self, name, fn)
        self._hooks = {k: v for k, v in hooks.items() if v is not None}

    def get_config(self):
        return dict(self._hooks)  # functions: usable by from_config, not writable as JSON


def _monitor_op(owner, monitor, mode):
    """'min' or 'max'; mode 'auto' means max for names with 'acc' or ending in 'auc'."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        name = monitor.lower()
        mode = "max" if ("acc" in name or name.endswith("auc")) else "min"
    return mode


def _optimizer_of(owner, model):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise ValueError(f"{owner}: the model has no optimizer with a learning_rate; "
                         f"compile the model first")
    from .optimizers import schedules
    if isinstance(getattr(optimizer, "_learning_rate", None), schedules.LearningRateSchedule):
        raise TypeError(f"{owner}: the optimizer's learning_rate is a LearningRateSchedule, which "
                        f"already sets the rate every step; use a float learning_rate with "
                        f"{owner}")
    return optimizer


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of every epoch.

    Args:
        schedule: ``schedule(epoch, lr) -> new lr`` (epoch counts from 0, lr is the current
            rate); a function of the epoch alone is accepted too (Keras 1 style).
        verbose: 1 prints the new rate each epoch.

    The epoch logs get 'learning_rate' (the rate in use), as in Keras 3.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable, got {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose
        self._two_args = _positional_arity(schedule) >= 2

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = _optimizer_of("LearningRateScheduler", self.model)
        lr = float(optimizer.learning_rate)
        new_lr = self.schedule(epoch, lr) if self._two_args else self.schedule(epoch)
        if isinstance(new_lr, np.ndarray) and new_lr.ndim == 0:
            new_lr = new_lr.item()
        if isinstance(new_lr, bool) or not isinstance(new_lr, (int, float, np.number)) \
                or not math.isfinite(new_lr):
            raise ValueError(f"LearningRateScheduler: the schedule must return a finite float, "
                             f"got {new_lr!r} at epoch {epoch}")
        optimizer.learning_rate = float(new_lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{float(new_lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)

    def get_config(self):
        from .optimizers import schedules
        schedule = self.schedule
        if isinstance(schedule, schedules.LearningRateSchedule):
            schedule = schedules.serialize(schedule)
        return {"schedule": schedule, "verbose": self.verbose}

    @classmethod
    def from_config(cls, config):
        from .optimizers import schedules
        config = dict(config)
        if isinstance(config.get("schedule"), dict):
            config["schedule"] = schedules.deserialize(config["schedule"])
        return cls(**config)


def _positional_arity(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 2
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 2
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by ``factor`` when a monitored value stops improving.

    After ``patience`` epochs without an improvement larger than ``min_delta`` the rate becomes
    ``max(lr * factor, min_lr)``; then ``cooldown`` epochs pass before the count starts again.
    The epoch logs get 'learning_rate' (the rate used during the epoch), as in Keras 3.

    Args:
        monitor: log key to watch.
        factor: multiplier in [0, 1).
        patience: epochs without improvement before reducing.
        verbose: 1 prints a message on each reduction.
        mode: 'min', 'max' or 'auto' (as EarlyStopping).
        min_delta: smallest change that counts as an improvement.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: lower bound on the rate.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau: unexpected argument(s) {', '.join(kwargs)}")
        if not 0.0 <= factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in [0, 1), got {factor}")
        if patience < 0 or cooldown < 0 or min_lr < 0:
            raise ValueError(f"ReduceLROnPlateau: patience, cooldown and min_lr must be >= 0, "
                             f"got {patience}, {cooldown}, {min_lr}")
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = patience
        self.verbose = verbose
        self.mode = _monitor_op("ReduceLROnPlateau", monitor, mode)
        self.min_delta = abs(min_delta)
        self.cooldown = cooldown
        self.min_lr = float(min_lr)
        self._reset()

    def _reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def _improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        _optimizer_of("ReduceLROnPlateau", self.model)
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = {} if logs is None else logs
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"ReduceLROnPlateau: monitored key {self.monitor!r} is not in the logs "
                          f"(available: {sorted(logs)})", RuntimeWarning, stacklevel=2)
            return
        value = float(np.asarray(value))
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(value):
            self.best = value
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(optimizer.learning_rate)
                if old_lr > np.float32(self.min_lr):  # at min_lr already: nothing to do
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                              f"to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class CSVLogger(Callback):
    """Writes one CSV row per epoch: 'epoch' then the log keys (sorted), flushed each epoch.

    Each row goes to the file in a single unbuffered write of the whole line, so a crash
    leaves complete rows only. Keys that first appear in a later epoch (validation every few
    epochs) are added as new columns, 'NA' in the rows before. With ``append=True`` an existing file keeps its header
    (its columns are reused) and a partial last line, left by a crash of the machine mid-write,
    is cut off with a warning before new rows go in.

    Args:
        filename: path of the CSV file.
        separator: the field separator.
        append: add to an existing file instead of overwriting it.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = append
        self.keys = None
        self._fd = None

    def _existing_header(self):
        """Columns of an existing file (cutting off a partial last line); None if empty."""
        try:
            with open(self.filename, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        if not data:
            return None
        if not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            warnings.warn(f"CSVLogger: {self.filename} ends with a partial row; cutting it off",
                          RuntimeWarning, stacklevel=3)
            with open(self.filename, "r+b") as f:
                f.truncate(keep)
            data = data[:keep]
            if not data:
                return None
        first = data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
        return next(csv.reader([first], delimiter=self.separator))

    def on_train_begin(self, logs=None):
        self.keys = None
        flags = os.O_WRONLY | os.O_CREAT
        header = self._existing_header() if self.append else None
        if header and header[0] == "epoch":
            self.keys = header[1:]
        flags |= os.O_APPEND if self.append else os.O_TRUNC
        self._fd = os.open(self.filename, flags, 0o644)
        self._write_header = header is None

    def _line(self, fields):
        buf = io.StringIO()
        csv.writer(buf, delimiter=self.separator, lineterminator="\n").writerow(fields)
        return buf.getvalue()

    @staticmethod
    def _format(value):
        if isinstance(value, str):
            return value
        value = np.asarray(value)
        if value.ndim == 0:
            return value.item()
        return "[" + ", ".join(map(str, value.ravel().tolist())) + "]"

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._fd is None:  # used outside fit
            self.on_train_begin()
        text = ""
        if self.keys is None:
            self.keys = sorted(logs)
        elif not self._write_header and not set(logs) <= set(self.keys):
            self._widen(sorted(set(logs) - set(self.keys)))
        if self._write_header:
            text += self._line(["epoch"] + self.keys)
            self._write_header = False
        text += self._line([epoch] + [self._format(logs.get(k, "NA")) for k in self.keys])
        # One unbuffered write of whole lines: the row reaches the OS (flushed) at once, and a
        # crash of the process can never leave half of it in the file.
        data = text.encode("utf-8")
        while data:  # a write cut short by a signal: finish the line
            data = data[os.write(self._fd, data):]

    def _widen(self, new_keys):
        """Keys that appear after the header was written (val_* with validation_freq > 1, a
        learning_rate logged by a later callback) become new last columns, 'NA' in the earlier
        rows. The file is rewritten to a temporary file then renamed over: never half-written."""
        os.close(self._fd)
        with open(self.filename, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter=self.separator))
        self.keys = self.keys + new_keys
        text = self._line(["epoch"] + self.keys)
        text += "".join(self._line(row + ["NA"] * len(new_keys)) for row in rows[1:])
        tmp = self.filename + ".tmp"
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.filename)
        self._fd = os.open(self.filename, os.O_WRONLY | os.O_APPEND)

    def on_train_end(self, logs=None):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self):  # a fit that raised never reached on_train_end
        self.on_train_end()


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch reports a NaN or infinite loss."""

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(np.asarray(loss))):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class EarlyStopping(Callback):
    """Stops training when a monitored quantity has stopped improving.

    Args:
        monitor: log key to watch ('val_loss', 'val_accuracy', 'loss', ...).
        min_delta: smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        verbose: 1 prints a message when stopping / restoring.
        mode: 'min', 'max' or 'auto' (max for names containing 'acc' or ending in 'auc',
            else min).
        baseline: training stops unless the monitored value beats this within `patience`.
        restore_best_weights: at the end of training, put back the weights of the best epoch.
        start_from_epoch: epochs to wait before starting to monitor (warm-up).
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.mode = _monitor_op("EarlyStopping", monitor, mode)
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self._reset()

    def _reset(self):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_epoch = 0
        self.best_weights = None

    def _is_improvement(self, value, reference):
        if reference is None:
            return True
        if self.mode == "max":
            return value - self.min_delta > reference
        return value + self.min_delta < reference

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"EarlyStopping: monitored key {self.monitor!r} is not in the logs "
                          f"(available: {sorted(logs or {})})", RuntimeWarning, stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        value = float(np.asarray(value))
        if self.restore_best_weights and self.best_weights is None:
            # Remember the first monitored weights: restored if no epoch ever improves.
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._is_improvement(value, self.best):
            self.best = value
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # Reset the count only when the baseline is beaten too; otherwise the run still
            # stops after `patience` epochs that never reach the baseline.
            if self.baseline is None or self._is_improvement(value, self.baseline):
                self.wait = 0
                return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


# ================================================================================================
# Checkpoints: ModelCheckpoint, BackupAndRestore
# ================================================================================================
# Both write through corenn.saving (temporary file + fsync + os.replace), so an interrupted save
# never leaves a half-written file: the previous checkpoint stays as it was.

__all__ += ["ModelCheckpoint", "BackupAndRestore"]


class ModelCheckpoint(Callback):
    """Saves the model (or its weights) during training, atomically.

    Args:
        filepath: where to save; may hold ``str.format`` fields filled from ``epoch`` (1-based,
            as Keras), ``batch`` (1-based, with an integer save_freq) and the logs, e.g.
            ``'ckpt-{epoch:02d}-{val_loss:.2f}.keras'``. Full models are written with
            ``model.save`` (any name; ``.keras`` by convention), weights with
            ``model.save_weights`` (``.npz``).
        monitor: log key compared when ``save_best_only`` ('val_loss', 'accuracy', ...).
        verbose: 1 prints a line for each save (and each non-improvement).
        save_best_only: save only when ``monitor`` improves on the best value so far.
        save_weights_only: write only the weights.
        mode: 'min', 'max' or 'auto' (max for names containing 'acc' or ending in 'auc').
        save_freq: 'epoch' (at each epoch end) or an int N (every N training batches).
        initial_value_threshold: a first "best" value that must be beaten to save.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq <= 0):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive int, "
                             f"got {save_freq!r}")
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.mode = _monitor_op("ModelCheckpoint", monitor, mode)
        self.save_freq = save_freq
        self.initial_value_threshold = initial_value_threshold
        self.best = initial_value_threshold
        self._batches_seen = 0
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self._batches_seen = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_seen += 1
        if self._batches_seen % self.save_freq == 0:
            self._save(self._epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _improved(self, value):
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def _path(self, epoch, batch, logs):
        fields = {k: float(np.asarray(v)) if np.ndim(v) == 0 else v for k, v in logs.items()}
        fields.update(epoch=epoch + 1)
        if batch is not None:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"ModelCheckpoint: cannot format filepath {self.filepath!r} with "
                             f"epoch, batch and the logs {sorted(logs)}: {exc!r}") from None

    def _save(self, epoch, batch, logs):
        logs = dict(logs or {})
        path = self._path(epoch, batch, logs)
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                warnings.warn(f"ModelCheckpoint: can save best model only with {self.monitor!r} "
                              f"available in the logs (available: {sorted(logs)}); skipping",
                              RuntimeWarning, stacklevel=2)
                return
            value = float(np.asarray(value))
            if not self._improved(value):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                previous = "inf" if self.best is None else f"{self.best:.5f}"
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {previous} to "
                      f"{value:.5f}, saving model to {path}")
            self.best = value
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path, overwrite=True)


class BackupAndRestore(Callback):
    """Backs up the training state each epoch so that an interrupted ``fit`` resumes where it
    stopped, with the same result as a run that was never interrupted.

    At each epoch end, one model file (``<backup_dir>/backup.keras``, written atomically)
    receives the weights, the optimizer state, the epoch and the exact state of corenn's random
    generator (``utils.random.get_generator()``, which draws the shuffling order and the
    dropout seeds). When ``fit`` starts and a backup exists, weights, optimizer and generator
    are restored and training resumes at the next epoch: the same batches, the same dropout
    masks, the same updates (restoring the generator state, rather than reseeding per epoch,
    keeps runs without this callback unchanged). Not covered: Dropout layers given their own
    ``seed`` and Python's ``random`` / NumPy's global state.

    Args:
        backup_dir: directory for the backup (created when needed).
        save_freq: 'epoch' (only epoch boundaries are resumable).
        delete_checkpoint: remove the backup when ``fit`` finishes normally.
    """

    FILENAME = "backup.keras"

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: backup_dir is required")
        if save_freq != "epoch":
            raise NotImplementedError(f"BackupAndRestore: only save_freq='epoch' is supported, "
                                      f"got {save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = bool(delete_checkpoint)
        self.resumed_from_epoch = None

    @property
    def _path(self):
        return os.path.join(self.backup_dir, self.FILENAME)

    def on_train_begin(self, logs=None):
        from . import saving
        from .utils.random import get_generator
        self.resumed_from_epoch = None
        if not os.path.exists(self._path):
            return
        state = saving.restore_training_state(self.model, self._path)
        try:
            epoch = state["epoch"]
            if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
                raise ValueError(f"bad epoch {epoch!r}")
            get_generator().bit_generator.state = state["rng"]
        except (TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"{self._path}: not a valid BackupAndRestore backup: "
                             f"{type(exc).__name__}: {exc}") from None
        self.resumed_from_epoch = epoch + 1
        self.model._initial_epoch = epoch + 1

    def on_epoch_end(self, epoch, logs=None):
        from . import saving
        from .utils.random import get_generator
        state = {"epoch": int(epoch), "rng": get_generator().bit_generator.state}
        saving.save_model(self.model, self._path, training_state=state)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self._path):
            os.remove(self._path)
            try:
                os.rmdir(self.backup_dir)  # only when empty
            except OSError:
                pass
