import io
import re

import pytest

from corenn.utils import Progbar
from corenn.utils.progbar import format_eta, format_step_time


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_time_formatting():
    assert format_eta(7.9) == "7s"
    assert format_eta(65) == "1:05"
    assert format_eta(3600 * 2 + 63 + 1) == "2:01:04"
    assert format_step_time(2.0) == "2s/step"
    assert format_step_time(0.035) == "35ms/step"
    assert format_step_time(0.00042, "sample") == "420us/sample"


def test_tty_redraws_one_line_and_averages():
    out = FakeTTY()
    bar = Progbar(4, width=10, interval=0, stream=out)
    for i, loss in enumerate([1.0, 2.0, 3.0, 4.0], start=1):
        bar.update(i, [("loss", loss), ("lr", 0.1 * i)])
    text = out.getvalue()
    assert text.count("\r") == 4 and text.endswith("\n") and text.count("\n") == 1
    final = text.split("\r")[-1]
    assert final.startswith("4/4 [==========]")
    assert re.search(r" - \d+s \d+(us|ms|s)/step", final)
    assert "loss: 2.5000" in final  # mean of 1..4
    assert "lr: 0.2500" in final


def test_tty_intermediate_shows_eta_and_arrow():
    out = FakeTTY()
    bar = Progbar(10, width=10, interval=0, stream=out)
    bar.update(5, {"loss": 0.5})
    assert "5/10 [====>.....] - ETA: " in out.getvalue()


def test_stateful_metric_shown_as_given():
    out = FakeTTY()
    bar = Progbar(2, interval=0, stateful_metrics=["acc"], stream=out)
    bar.update(1, [("acc", 0.2)])
    bar.update(2, [("acc", 0.8)])
    assert "acc: 0.8000" in out.getvalue().split("\r")[-1]


def test_pipe_writes_plain_lines_about_every_ten_percent():
    out = io.StringIO()
    bar = Progbar(100, stream=out)
    for i in range(1, 101):
        bar.update(i, {"loss": 1.0})
    text = out.getvalue()
    assert "\r" not in text and "\b" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert 10 <= len(lines) <= 11
    assert lines[0].startswith(" 10/100") and lines[-1].startswith("100/100")
    assert "ETA" not in lines[-1] and "/step" in lines[-1]


def test_verbose2_only_final_line():
    out = FakeTTY()
    bar = Progbar(3, verbose=2, stream=out)
    bar.add(1, [("loss", 1.0)])
    bar.add(1, [("loss", 2.0)])
    assert out.getvalue() == ""
    bar.add(1, [("loss", 3.0)])
    assert re.fullmatch(r"3/3 - \d+s - \d+(us|ms|s)/step - loss: 2\.0000\n", out.getvalue())


def test_verbose0_silent_and_unknown_target():
    out = FakeTTY()
    Progbar(5, verbose=0, stream=out).update(5, {"loss": 1.0})
    assert out.getvalue() == ""
    bar = Progbar(None, interval=0, stream=out)
    bar.update(3, {"loss": 1e-5})
    bar.update(6, finalize=True)
    assert "      6/Unknown" in out.getvalue() and "loss: 1.0000e-05" in out.getvalue()


def test_bad_verbose():
    with pytest.raises(ValueError, match="Progbar"):
        Progbar(3, verbose=3)


# -- the bar as fit / evaluate drive it (ProgbarLogger over a real model) ----------------------

def _fit_output(monkeypatch, stream, verbose, epochs=2, callbacks=None, evaluate=False):
    import sys

    import numpy as np

    import corenn
    from corenn import layers

    monkeypatch.setattr(sys, "stdout", stream)
    corenn.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(60, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = corenn.Sequential([layers.Input(shape=(3,)), layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=10, epochs=epochs, verbose=verbose, callbacks=callbacks)
    if evaluate:
        model.evaluate(x, y, batch_size=20, verbose=verbose)
    monkeypatch.undo()
    return stream.getvalue()


def test_fit_verbose1_on_a_tty_redraws_one_line_per_epoch(monkeypatch):
    text = _fit_output(monkeypatch, FakeTTY(), verbose=1)
    assert "\b" not in text and "\x1b" not in text
    lines = text.split("\n")
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and lines[4] == ""
    for bar in (lines[1], lines[3]):  # every redraw of an epoch stays on one line
        assert bar.startswith("\r") and bar.count("\r") >= 1
        assert bar.split("\r")[-1].startswith("6/6 [==============================] - ")
        assert "loss: " in bar.split("\r")[-1] and "accuracy: " in bar.split("\r")[-1]


def test_fit_verbose1_to_a_file_writes_plain_lines(monkeypatch):
    text = _fit_output(monkeypatch, io.StringIO(), verbose=1, evaluate=True)
    assert "\r" not in text and "\b" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert lines[0] == "Epoch 1/2" and "Epoch 2/2" in lines
    assert sum(ln.startswith("6/6 [====") for ln in lines) == 2
    assert lines[-1].startswith("3/3 [====") and "ETA" not in lines[-1]  # evaluate's bar
    assert all(re.match(r"(Epoch \d/2|\d/6 \[|\d/3 \[)", ln) for ln in lines)


def test_fit_verbose2_one_line_per_epoch_even_on_a_tty(monkeypatch):
    text = _fit_output(monkeypatch, FakeTTY(), verbose=2, epochs=3)
    assert "\r" not in text and "\b" not in text
    lines = text.splitlines()
    assert [ln for ln in lines if not ln.startswith("Epoch ")] == \
        [ln for ln in lines if re.match(r"6/6 - \d+s - \d+(us|ms|s)/step - loss: ", ln)]
    assert len(lines) == 6


def test_fit_verbose0_is_silent(monkeypatch):
    assert _fit_output(monkeypatch, FakeTTY(), verbose=0, evaluate=True) == ""


def test_epoch_stopped_early_shows_the_steps_done(monkeypatch):
    from corenn.callbacks import LambdaCallback

    def halt(batch, logs):
        if batch == 2:
            stop.model.stop_training = True

    stop = LambdaCallback(on_train_batch_end=halt)
    text = _fit_output(monkeypatch, io.StringIO(), verbose=1, epochs=2, callbacks=[stop])
    finals = [ln for ln in text.splitlines() if "/step" in ln]
    assert len(finals) == 1 and finals[0].startswith("3/6 [") and "ETA" not in finals[0]


def test_array_values_print_as_their_mean_as_keras():
    """Keras' Progbar shows np.mean of an array-valued log (a metric returning a vector, a
    per-sample loss) as one number: 'a: 1.5000' for [1, 2]; then averaged over steps."""
    import numpy as np
    out = FakeTTY()
    bar = Progbar(3, width=10, interval=0, stream=out)
    bar.update(1, [("a", np.array([1.0, 2.0]))])
    assert out.getvalue().split("\r")[-1].endswith(" - a: 1.5000")
    bar.update(3, [("a", np.array([3.0, 4.0]))])   # 1 step of mean 1.5, 2 steps of mean 3.5
    assert out.getvalue().split("\r")[-1].rstrip("\n").endswith(f" - a: {(1.5 + 2 * 3.5) / 3:.4f}")


def test_fit_prints_a_vector_metric_as_one_number_and_keeps_it_in_history(capsys):
    import numpy as np
    from corenn import keras

    class VectorMetric(keras.metrics.Metric):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.total = self.add_weight(shape=(3,), initializer="zeros", name="total")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.total.assign_add(keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=0))

        def result(self):
            return self.total

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile("sgd", "mse", metrics=[VectorMetric(name="vec")])
    history = model.fit(np.ones((8, 4), "float32"), np.zeros((8, 3), "float32"), batch_size=4, verbose=1)
    shown = re.findall(r"vec: (\S+)", capsys.readouterr().out)
    vec = np.asarray(history.history["vec"][0])
    assert vec.shape == (3,)
    assert shown and shown[-1] == f"{vec.mean():.4f}"   # the epoch's final line
