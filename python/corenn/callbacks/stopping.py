"""Callbacks that stop training: TerminateOnNaN, EarlyStopping."""
import math
import warnings

import numpy as np

from .base import Callback, _monitor_op


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
            # Keras 3: the count restarts only when the baseline is beaten too, and an epoch
            # that improves never stops the run (tf.keras 2 could stop on one that improved but
            # stayed short of the baseline)
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
