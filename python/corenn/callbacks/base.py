"""The callback protocol (Callback, CallbackList) and the callbacks every fit uses: History,
ProgbarLogger; LambdaCallback; helpers shared by the monitoring callbacks."""
import inspect
import sys

from ..utils.progbar import Progbar

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
        if isinstance(callbacks, Callback):   # fit(callbacks=EarlyStopping(...)): one, not a list (Keras flattens)
            callbacks = [callbacks]
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
            from ..utils.progbar import is_interactive_logging_enabled
            if self.stream is None and not is_interactive_logging_enabled():
                import logging   # Keras 3: to the logging module, not stdout
                logging.getLogger("corenn").info(f"Epoch {epoch + 1}/{epochs}")
            else:
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
    from ..optimizers import schedules
    if isinstance(getattr(optimizer, "_learning_rate", None), schedules.LearningRateSchedule):
        raise TypeError(f"{owner}: the optimizer's learning_rate is a LearningRateSchedule, which "
                        f"already sets the rate every step; use a float learning_rate with "
                        f"{owner}")
    return optimizer
