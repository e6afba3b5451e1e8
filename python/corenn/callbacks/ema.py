"""SwapEMAWeights: evaluate (and optionally checkpoint) with the optimizer's moving averages.

With an optimizer made with ``use_ema=True`` the weights that train are not the weights one
wants to evaluate: the exponential moving average is smoother. This callback swaps the averages
into the model for every evaluation (fit's validation, evaluate, predict) and back afterwards,
so training goes on from the raw weights; with ``swap_on_epoch=True`` the averages are in the
model from the end of each epoch to the start of the next, so callbacks that run at epoch end
(ModelCheckpoint, ...) see them too.

Reference: keras.callbacks.SwapEMAWeights (Keras 3).
"""
from __future__ import annotations

import numpy as np

from .base import Callback

__all__ = ["SwapEMAWeights"]


class SwapEMAWeights(Callback):
    """Swap the optimizer's EMA weights into the model around evaluation.

    Args:
        swap_on_epoch: also swap at each epoch's end (back at the next epoch's start).
    """

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = bool(swap_on_epoch)
        self._swapped = False

    def _optimizer(self):
        opt = getattr(self.model, "optimizer", None)
        if opt is None or not getattr(opt, "use_ema", False):
            raise ValueError("SwapEMAWeights needs a model compiled with an optimizer made with use_ema=True, "
                             f"got {opt!r}")
        return opt

    def _swap(self):
        opt = self._optimizer()
        averages = opt.ema_variables
        if not averages:   # no step yet: nothing to swap
            return
        weights = self.model.trainable_weights
        if len(weights) != len(averages):
            raise ValueError(f"SwapEMAWeights: the model has {len(weights)} trainable weights but the optimizer "
                             f"keeps {len(averages)} moving averages")
        for w, avg in zip(weights, averages):
            arr = np.asarray(w)
            held = arr.copy()
            arr[...] = avg
            avg[...] = held
        self._swapped = not self._swapped

    def on_train_begin(self, logs=None):
        self._optimizer()

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._swapped:
            self._swap()

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._swapped:
            self._swap()
            if epoch == self.params.get("epochs", 0) - 1:
                # fit ends by copying the averages into the model (finalize_variable_values): put
                # them back where it reads them, so the model keeps them
                for w, avg in zip(self.model.trainable_weights, self._optimizer().ema_variables):
                    avg[...] = np.asarray(w)

    def on_test_begin(self, logs=None):
        if not self._swapped:
            self._swap()

    def on_test_end(self, logs=None):
        if self._swapped:
            self._swap()

    def on_predict_begin(self, logs=None):
        self.on_test_begin(logs)

    def on_predict_end(self, logs=None):
        self.on_test_end(logs)
