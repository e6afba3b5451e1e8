"""Callbacks driven by a fit-like loop over a fake model (no kernels needed)."""
import io

import numpy as np
import pytest

from corenn.callbacks import (Callback, CallbackList, EarlyStopping, History, LambdaCallback,
                              ProgbarLogger)


class FakeModel:
    """Holds one weight array; `step` records which epoch produced it."""

    def __init__(self):
        self.w = np.zeros(2, np.float32)
        self.stop_training = False

    def get_weights(self):
        return [self.w.copy()]

    def set_weights(self, weights):
        self.w = np.array(weights[0], copy=True)


def fit(model, callbacks, val_losses, steps=3, verbose=0, progbar=None):
    """Calls the hooks in the order Sequential.fit does; epoch e sets weights to e."""
    cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=model,
                       verbose=verbose, epochs=len(val_losses), steps=steps)
    if progbar is not None:
        cbs.progbar.stream = progbar
    cbs.on_train_begin()
    for epoch, val_loss in enumerate(val_losses):
        cbs.on_epoch_begin(epoch)
        for b in range(steps):
            cbs.on_train_batch_begin(b)
            model.w[:] = epoch
            cbs.on_train_batch_end(b, {"loss": float(b + 1), "accuracy": 0.5})
        logs = {"loss": 2.0, "accuracy": 0.5, "val_loss": val_loss, "val_accuracy": 1 - val_loss}
        cbs.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cbs.on_train_end()
    return cbs.history


def test_history_records_epochs_and_params():
    model = FakeModel()
    hist = fit(model, None, [0.9, 0.8, 0.7])
    assert isinstance(hist, History) and hist.model is model
    assert hist.epoch == [0, 1, 2]
    assert hist.history["val_loss"] == [0.9, 0.8, 0.7] and hist.history["loss"] == [2.0] * 3
    assert hist.params == {"verbose": 0, "epochs": 3, "steps": 3}


def test_callback_hook_order():
    calls = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None): calls.append("train_begin")
        def on_epoch_begin(self, epoch, logs=None): calls.append(f"epoch_begin{epoch}")
        def on_batch_end(self, batch, logs=None): calls.append(f"batch_end{batch}")
        def on_epoch_end(self, epoch, logs=None): calls.append(f"epoch_end{epoch}")
        def on_train_end(self, logs=None): calls.append("train_end")

    fit(FakeModel(), [Recorder()], [0.5], steps=2)
    assert calls == ["train_begin", "epoch_begin0", "batch_end0", "batch_end1", "epoch_end0",
                     "train_end"]


def test_lambda_callback_and_unknown_hook():
    seen = []
    cb = LambdaCallback(on_epoch_end=lambda e, logs: seen.append((e, logs["val_loss"])),
                        on_train_batch_end=lambda b, logs: seen.append(b))
    fit(FakeModel(), [cb], [0.3, 0.2], steps=1)
    assert seen == [0, (0, 0.3), 0, (1, 0.2)]
    with pytest.raises(TypeError, match="LambdaCallback"):
        LambdaCallback(on_epoch_ending=print)


def test_callbacklist_rejects_non_callbacks_and_reuses_history():
    with pytest.raises(TypeError, match="CallbackList"):
        CallbackList([object()])
    h = History()
    cbs = CallbackList([h], add_history=True)
    assert cbs.history is h and len(cbs) == 1


def test_early_stopping_patience():
    model = FakeModel()
    es = EarlyStopping(patience=2)
    hist = fit(model, [es], [0.5, 0.4, 0.45, 0.41, 0.3, 0.2])
    # best at epoch 1; epochs 2 and 3 do not improve -> stop after epoch 3
    assert hist.epoch == [0, 1, 2, 3] and es.stopped_epoch == 3 and es.best == 0.4
    assert model.stop_training is True
    assert model.w[0] == 3  # no restore requested


def test_early_stopping_restore_best_weights():
    model = FakeModel()
    es = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    fit(model, [es], [0.5, 0.3, 0.6, 0.7, 0.1])
    assert es.best_epoch == 1 and model.w[0] == 1


def test_early_stopping_mode_auto_max_min_delta_and_baseline():
    es = EarlyStopping(monitor="val_accuracy", min_delta=0.05, patience=0)
    assert es.mode == "max"
    hist = fit(FakeModel(), [es], [0.5, 0.48, 0.3])  # val_accuracy 0.5, 0.52 (< delta), ...
    assert hist.epoch == [0, 1]
    es = EarlyStopping(patience=1, baseline=0.1)
    hist = fit(FakeModel(), [es], [0.5, 0.4, 0.3, 0.2])  # improving, never beats baseline: Keras 3 runs on
    assert hist.epoch == [0, 1, 2, 3]
    es = EarlyStopping(patience=1, baseline=0.1)
    hist = fit(FakeModel(), [es], [0.5, 0.4, 0.45, 0.2])  # a worse epoch with the count at patience stops
    assert hist.epoch == [0, 1, 2]


def test_early_stopping_start_from_epoch_and_bad_mode():
    es = EarlyStopping(patience=0, start_from_epoch=2)
    hist = fit(FakeModel(), [es], [0.1, 0.9, 0.8, 0.9])
    assert hist.epoch == [0, 1, 2, 3] and es.stopped_epoch == 3
    with pytest.raises(ValueError, match="EarlyStopping"):
        EarlyStopping(mode="up")


def test_early_stopping_missing_key_warns():
    es = EarlyStopping(monitor="val_auc")
    with pytest.warns(RuntimeWarning, match="val_auc"):
        fit(FakeModel(), [es], [0.5])


def test_progbar_logger_verbose1_pipe():
    out = io.StringIO()
    fit(FakeModel(), None, [0.25, 0.125], steps=3, verbose=1, progbar=out)
    text = out.getvalue()
    assert "\r" not in text
    assert "Epoch 1/2\n" in text and "Epoch 2/2\n" in text
    final = [ln for ln in text.splitlines() if ln.startswith("3/3")]
    assert len(final) == 2
    assert "val_loss: 0.2500" in final[0] and "val_loss: 0.1250" in final[1]
    assert "loss: 2.0000" in final[0]  # epoch logs shown as given


def test_progbar_logger_verbose2_one_line_per_epoch():
    out = io.StringIO()
    fit(FakeModel(), None, [0.25, 0.5, 0.75], steps=4, verbose=2, progbar=out)
    lines = out.getvalue().splitlines()
    assert [ln for ln in lines if not ln.startswith("Epoch")] == \
        [ln for ln in lines if ln.startswith("4/4 - ")]
    assert sum(ln.startswith("4/4 - ") for ln in lines) == 3
    assert "val_accuracy: 0.2500" in lines[-1]


def test_progbar_logger_standalone_evaluate():
    out = io.StringIO()
    logger = ProgbarLogger(stream=out)
    cbs = CallbackList([logger], model=FakeModel(), verbose=1, steps=2)
    cbs.on_test_begin()
    cbs.on_test_batch_end(0, {"loss": 1.0})
    cbs.on_test_batch_end(1, {"loss": 3.0})
    cbs.on_test_end({"loss": 2.0})
    assert out.getvalue().splitlines()[-1].startswith("2/2 [") and "loss: 2.0000" in out.getvalue()


def test_predict_hooks_dispatch_and_progbar():
    out = io.StringIO()
    seen = []
    cbs = CallbackList([LambdaCallback(on_predict_batch_end=lambda b, logs: seen.append(b)),
                        ProgbarLogger(stream=out)], model=FakeModel(), verbose=2, steps=2)
    cbs.on_predict_begin()
    for b in range(2):
        cbs.on_predict_batch_begin(b)
        cbs.on_predict_batch_end(b, {"outputs": None})
    cbs.on_predict_end()
    assert seen == [0, 1]
    assert out.getvalue().startswith("2/2 - ") and out.getvalue().count("\n") == 1
