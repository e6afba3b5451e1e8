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
from .base import Callback, CallbackList, History, LambdaCallback, ProgbarLogger
from .checkpoint import BackupAndRestore, ModelCheckpoint
from .csv_logger import CSVLogger
from .learning_rate import LearningRateScheduler, ReduceLROnPlateau
from .stopping import EarlyStopping, TerminateOnNaN
from .tensorboard import TensorBoard
from .ema import SwapEMAWeights
from .remote import RemoteMonitor

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "LambdaCallback",
           "EarlyStopping", "LearningRateScheduler", "ReduceLROnPlateau", "CSVLogger",
           "TerminateOnNaN", "ModelCheckpoint", "BackupAndRestore", "TensorBoard", "SwapEMAWeights", "RemoteMonitor"]

import types as _types  # noqa: E402

experimental = _types.SimpleNamespace(BackupAndRestore=BackupAndRestore)   # tf.keras 2.3-2.7's path
del _types
