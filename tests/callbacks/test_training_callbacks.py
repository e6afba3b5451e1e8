"""EarlyStopping, ReduceLROnPlateau, LearningRateScheduler, CSVLogger, TerminateOnNaN in real fits.

A `Script` callback placed first overwrites the monitored value with a fixed sequence, so the
expected epochs are known exactly while the model, optimizer and fit loop are the real ones.
"""
import csv
import math

import numpy as np
import pytest

import corenn
from corenn import Sequential, layers, optimizers
from corenn.callbacks import (Callback, CSVLogger, EarlyStopping, History, LambdaCallback,
                              LearningRateScheduler, ProgbarLogger, ReduceLROnPlateau,
                              TerminateOnNaN)
from corenn.optimizers import schedules


class Script(Callback):
    """Sets logs[key] to values[epoch] and records the weights at each epoch end."""

    def __init__(self, values, key="val_loss"):
        super().__init__()
        self.values, self.key, self.weights = values, key, []

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]
        self.weights.append(self.model.get_weights())


def _fit(callbacks, epochs, optimizer=None, x=None, y=None, activation="relu", **kw):
    rng = np.random.default_rng(0)
    if x is None:
        x = rng.normal(size=(32, 3)).astype(np.float32)
        y = (x[:, 0] > 0).astype(np.int64)
    m = Sequential([layers.Dense(4, activation=activation, input_shape=(3,)),
                    layers.Dense(2, activation="softmax")])
    m.compile(optimizer=optimizer or optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    hist = m.fit(x, y, batch_size=8, epochs=epochs, verbose=0, callbacks=callbacks, **kw)
    return m, hist


def test_early_stopping_stops_and_restores_best_weights():
    script = Script([0.5, 0.3, 0.4, 0.35, 0.6, 0.1, 0.1])
    es = EarlyStopping(patience=2, restore_best_weights=True)
    m, hist = _fit([script, es], epochs=7)
    # best at epoch 1; epochs 2 and 3 do not improve -> stop at the end of epoch 3
    assert hist.epoch == [0, 1, 2, 3] and es.stopped_epoch == 3 and es.best_epoch == 1
    assert m.stop_training
    for got, best in zip(m.get_weights(), script.weights[1]):
        np.testing.assert_array_equal(got, best)
    assert not np.array_equal(script.weights[3][0], script.weights[1][0])  # training went on


def test_early_stopping_without_restore_keeps_last_weights():
    script = Script([0.5, 0.6, 0.7])
    m, hist = _fit([script, EarlyStopping(patience=1)], epochs=3)
    assert hist.epoch == [0, 1]
    np.testing.assert_array_equal(m.get_weights()[0], script.weights[-1][0])


def test_early_stopping_start_from_epoch_ignores_warmup():
    # epoch 0's 0.1 would make every later epoch a non-improvement; it is not monitored
    es = EarlyStopping(patience=0, start_from_epoch=2)
    _, hist = _fit([Script([0.1, 0.9, 0.8, 0.7, 0.9, 0.5]), es], epochs=6)
    assert hist.epoch == [0, 1, 2, 3, 4] and es.stopped_epoch == 4 and es.best == 0.7


def test_early_stopping_baseline():
    # Keras 3.15: an epoch that improves never stops the run; one that does not stops it once
    # `patience` epochs have passed without beating the baseline
    es = EarlyStopping(patience=2, baseline=0.2)  # improving, but never below the baseline
    _, hist = _fit([Script([0.9, 0.8, 0.7, 0.6, 0.5]), es], epochs=5)
    assert hist.epoch == [0, 1, 2, 3, 4] and es.stopped_epoch == 0
    es = EarlyStopping(patience=2, baseline=0.2)
    _, hist = _fit([Script([0.9, 0.8, 0.85, 0.86, 0.7]), es], epochs=5)
    assert hist.epoch == [0, 1, 2] and es.stopped_epoch == 2
    es = EarlyStopping(patience=2, baseline=0.85)  # beaten at epoch 1: counting restarts there
    _, hist = _fit([Script([0.9, 0.8, 0.7, 0.72, 0.71, 0.9]), es], epochs=6)
    assert hist.epoch == [0, 1, 2, 3, 4] and es.best == 0.7


def test_early_stopping_max_mode_on_accuracy():
    es = EarlyStopping(monitor="val_accuracy", patience=1, min_delta=0.05)
    assert es.mode == "max"
    _, hist = _fit([Script([0.5, 0.6, 0.62, 0.64], key="val_accuracy"), es], epochs=4)
    # 0.62 is not 0.05 above 0.6: with patience 1 the run stops there
    assert hist.epoch == [0, 1, 2] and es.best == 0.6 and es.stopped_epoch == 2


def _lr_trace(cb, values, epochs, lr=1.0):
    _, hist = _fit([Script(values), cb], epochs=epochs, optimizer=optimizers.SGD(lr))
    return hist.history["learning_rate"]


def test_reduce_lr_on_plateau_after_patience_with_min_lr():
    cb = ReduceLROnPlateau(factor=0.5, patience=2, min_lr=0.2)
    trace = _lr_trace(cb, [1.0] * 10, 10)
    assert trace == pytest.approx([1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2])


def test_reduce_lr_on_plateau_cooldown_delays_counting():
    no_cd = _lr_trace(ReduceLROnPlateau(factor=0.5, patience=1), [1.0] * 6, 6)
    assert no_cd == pytest.approx([1, 1, 0.5, 0.25, 0.125, 0.0625])
    cd = _lr_trace(ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2), [1.0] * 7, 7)
    # reduced after epoch 1; epoch 2 is the cooldown; epoch 3 counts again and reduces
    assert cd == pytest.approx([1, 1, 0.5, 0.5, 0.25, 0.25, 0.125])


def test_reduce_lr_on_plateau_improvement_resets_wait():
    trace = _lr_trace(ReduceLROnPlateau(factor=0.1, patience=2, min_delta=0.01),
                      [1.0, 1.0, 0.5, 0.5, 0.495, 0.5], 6)
    # epoch 2 improves; 3 and 4 do not (0.495 is within min_delta) -> reduced after epoch 4
    assert trace == pytest.approx([1, 1, 1, 1, 1, 0.1])


def test_reduce_lr_changes_the_rate_the_optimizer_uses():
    opt = optimizers.SGD(1.0)
    _fit([Script([1.0, 1.0, 1.0]), ReduceLROnPlateau(factor=0.25, patience=1)], epochs=3,
         optimizer=opt)
    assert opt.learning_rate == pytest.approx(1 / 16)
    w = np.zeros(2, np.float32)
    opt.apply([np.ones(2, np.float32)], [w])
    np.testing.assert_allclose(w, -1 / 16)


def test_reduce_lr_bad_arguments_and_schedule_optimizer():
    with pytest.raises(ValueError, match="ReduceLROnPlateau: factor"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="ReduceLROnPlateau: mode"):
        ReduceLROnPlateau(mode="up")
    sched = optimizers.SGD(schedules.ExponentialDecay(0.1, 10, 0.9))
    with pytest.raises(TypeError, match="ReduceLROnPlateau: .*LearningRateSchedule"):
        _fit([ReduceLROnPlateau()], epochs=1, optimizer=sched)


def test_learning_rate_scheduler_two_and_one_argument_forms(capsys):
    seen = []
    cb = LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr * 0.5, verbose=1)
    spy = LambdaCallback(on_train_batch_begin=lambda b, logs: seen.append(m_opt.learning_rate))
    m_opt = optimizers.SGD(0.8)
    _, hist = _fit([cb, spy], epochs=4, optimizer=m_opt)
    assert hist.history["learning_rate"] == pytest.approx([0.8, 0.8, 0.4, 0.2])
    assert seen == pytest.approx([0.8] * 8 + [0.4] * 4 + [0.2] * 4)  # 4 batches per epoch
    assert "Epoch 3: LearningRateScheduler setting learning rate to 0.4" in capsys.readouterr().out
    _, hist = _fit([LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))], epochs=3)
    assert hist.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])


def test_learning_rate_scheduler_rejects_bad_values():
    with pytest.raises(ValueError, match="LearningRateScheduler: the schedule must return"):
        _fit([LearningRateScheduler(lambda epoch, lr: "fast")], epochs=1)
    with pytest.raises(ValueError, match="LearningRateScheduler: the schedule must return"):
        _fit([LearningRateScheduler(lambda epoch, lr: math.nan)], epochs=1)
    with pytest.raises(TypeError, match="LearningRateScheduler"):
        LearningRateScheduler(0.1)


def _read_csv(path, sep=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=sep))


def test_csv_logger_rows_match_history(tmp_path):
    path = tmp_path / "log.csv"
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    rows_seen = []
    # a callback after the logger sees the row already in the file: flushed each epoch
    peek = LambdaCallback(on_epoch_end=lambda e, logs: rows_seen.append(len(_read_csv(path))))
    _, hist = _fit([CSVLogger(path), peek], epochs=3, x=x, y=y, validation_data=(x, y))
    rows = _read_csv(path)
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    assert [float(r[1]) for r in rows[1:]] == hist.history["loss"]
    assert [float(r[2]) for r in rows[1:]] == hist.history["val_loss"]
    assert rows_seen == [2, 3, 4]


def test_csv_logger_append_separator_and_partial_row(tmp_path):
    path = tmp_path / "log.csv"
    _fit([CSVLogger(path, separator=";")], epochs=2)
    _fit([CSVLogger(path, separator=";", append=True)], epochs=1)
    rows = _read_csv(path, ";")
    # Keras' columns: val_<key> even without validation ('NA')
    assert rows[0] == ["epoch", "loss", "val_loss"] and [r[0] for r in rows] == ["epoch", "0", "1", "0"]
    assert [r[2] for r in rows[1:]] == ["NA"] * 3
    with open(path, "a") as f:
        f.write("1;0.12")  # a row cut short by a crash of the machine
    with pytest.warns(RuntimeWarning, match="CSVLogger: .*partial row"):
        _fit([CSVLogger(path, separator=";", append=True)], epochs=1)
    rows = _read_csv(path, ";")
    assert [r[0] for r in rows] == ["epoch", "0", "1", "0", "0"] and all(len(r) == 3 for r in rows)


def test_csv_logger_interrupted_fit_leaves_complete_rows(tmp_path):
    path = tmp_path / "log.csv"

    def boom(epoch, logs):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _fit([CSVLogger(path), LambdaCallback(on_epoch_end=boom)], epochs=5)
    text = path.read_text()
    assert text.endswith("\n") and [r[0] for r in _read_csv(path)] == ["epoch", "0", "1", "2"]


def test_terminate_on_nan_stops_at_the_bad_batch(capsys):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    x[21] = np.nan  # in batch 2 (batch_size 8, no shuffling)
    batches = []
    spy = LambdaCallback(on_train_batch_end=lambda b, logs: batches.append(b))
    _, hist = _fit([TerminateOnNaN(), spy], epochs=3, x=x, y=y, shuffle=False)  # relu: keeps NaN
    assert batches == [0, 1, 2] and hist.epoch == [0] and math.isnan(hist.history["loss"][0])
    assert "Batch 2: Invalid loss, terminating training" in capsys.readouterr().out


def test_every_callback_has_a_config_that_rebuilds_it(tmp_path):
    cbs = [EarlyStopping(monitor="val_accuracy", patience=3, baseline=0.5, start_from_epoch=2,
                         restore_best_weights=True),
           ReduceLROnPlateau(monitor="loss", factor=0.2, patience=4, cooldown=1, min_lr=1e-4),
           LearningRateScheduler(schedules.CosineDecay(0.1, 10), verbose=1),
           CSVLogger(str(tmp_path / "a.csv"), separator="\t", append=True), TerminateOnNaN(),
           History(), ProgbarLogger(stateful_metrics=["lr"])]
    for cb in cbs:
        config = cb.get_config()
        again = type(cb).from_config(config)
        assert again.get_config() == config, type(cb).__name__
    assert cbs[0].get_config()["patience"] == 3 and cbs[0].get_config()["mode"] == "max"
    assert cbs[2].get_config()["schedule"]["class_name"] == "CosineDecay"
    fn = lambda epoch, logs: None  # noqa: E731
    assert LambdaCallback(on_epoch_end=fn).get_config() == {"on_epoch_end": fn}


def test_csv_logger_adds_columns_that_appear_later(tmp_path):
    path = tmp_path / "log.csv"
    x, y = np.zeros((16, 3), np.float32), np.zeros(16, np.int64)

    def late(epoch, logs):   # a key a callback logs from epoch 2 on
        if epoch >= 2:
            logs["extra"] = float(epoch)

    # ReduceLROnPlateau before the logger: its learning_rate is in the logs the logger sees
    _, hist = _fit([ReduceLROnPlateau(monitor="loss"), LambdaCallback(on_epoch_end=late), CSVLogger(path)],
                   epochs=4, x=x, y=y, validation_data=(x, y), validation_freq=2)
    rows = _read_csv(path)
    # the first epoch has no val_ key: Keras' val_<key> columns for every key (val_loss among
    # them, filled from epoch 1 on); 'extra' is added as a last column, 'NA' before epoch 2
    assert rows[0] == ["epoch", "learning_rate", "loss", "val_learning_rate", "val_loss", "extra"]
    assert [r[4] for r in rows[1:]] == ["NA", str(hist.history["val_loss"][0]), "NA",
                                        str(hist.history["val_loss"][1])]
    assert [r[5] for r in rows[1:]] == ["NA", "NA", "2.0", "3.0"]
    assert [float(r[1]) for r in rows[1:]] == [0.1] * 4
    assert not (tmp_path / "log.csv.tmp").exists()
