"""Callbacks that change the optimizer's learning rate: LearningRateScheduler, ReduceLROnPlateau."""
import inspect
import math
import warnings

import numpy as np

from .base import Callback, _monitor_op, _optimizer_of


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
        from ..optimizers import schedules
        schedule = self.schedule
        if isinstance(schedule, schedules.LearningRateSchedule):
            schedule = schedules.serialize(schedule)
        return {"schedule": schedule, "verbose": self.verbose}

    @classmethod
    def from_config(cls, config):
        from ..optimizers import schedules
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
