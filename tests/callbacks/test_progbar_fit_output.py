"""fit's progress output: consistent running values, no control characters in a log file."""
import io
import re
import sys

import numpy as np

import corenn
from corenn import layers


def test_fit_log_output_is_plain_and_consistent(monkeypatch):
    stream = io.StringIO()  # not a TTY, like a CI log
    monkeypatch.setattr(sys, "stdout", stream)
    corenn.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = corenn.Sequential([layers.Input(shape=(8,)), layers.Dense(16, activation="relu"),
                               layers.Dense(2)])
    model.compile(optimizer="adam",
                  loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=20, epochs=2, verbose=1)
    out = stream.getvalue()
    monkeypatch.undo()
    assert "\r" not in out and "\b" not in out and "\x1b" not in out
    assert "Epoch 2/2" in out
    final_lines = [l for l in out.splitlines() if l.startswith("100/100")]
    assert len(final_lines) == 2
    # The epoch's final line shows the same loss History recorded, and the last running value
    # shown before it is the running mean at that step: the bar must not re-average it.
    for line, loss in zip(final_lines, history.history["loss"]):
        shown = float(re.search(r"loss: ([0-9.]+)", line).group(1))
        assert abs(shown - loss) < 1e-3
    mid = [l for l in out.splitlines() if re.match(r"\s*90/100", l)]
    if mid:
        shown_mid = float(re.search(r"loss: ([0-9.]+)", mid[0]).group(1))
        assert abs(shown_mid - history.history["loss"][0]) < 0.1
