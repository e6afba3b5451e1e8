import builtins
import os

import pytest

from corenn.callbacks import History
from corenn.utils import plot_history

HIST = {"loss": [1.0, 0.6, 0.4], "accuracy": [0.5, 0.7, 0.8],
        "val_loss": [1.1, 0.8, 0.7], "val_accuracy": [0.45, 0.6, 0.7]}


def test_plot_history_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "curves.png"
    fig = plot_history(HIST, path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [f for f in os.listdir(tmp_path) if f != "curves.png"] == []  # no temp left
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy"]
    loss_lines = axes[0].get_lines()
    assert [ln.get_label() for ln in loss_lines] == ["train", "validation"]
    assert list(loss_lines[1].get_xdata()) == [1, 2, 3]
    assert list(loss_lines[1].get_ydata()) == HIST["val_loss"]
    assert axes[0].get_xlabel() == "epoch"


def test_plot_history_png_follows_the_umask(tmp_path):
    """The PNG gets open()'s mode, 0666 & ~umask, not a temporary file's private 0600."""
    pytest.importorskip("matplotlib")
    old = os.umask(0o022)
    try:
        plot_history(HIST, path=tmp_path / "curves.png")
    finally:
        os.umask(old)
    assert (tmp_path / "curves.png").stat().st_mode & 0o777 == 0o644


def test_plot_history_accepts_history_object_and_metric_subset():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    h = History()
    for epoch in range(3):
        h.on_epoch_end(epoch, {k: v[epoch] for k, v in HIST.items()})
    fig = plot_history(h, metrics=["accuracy"])
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "accuracy"
    plt.close(fig)


def test_plot_history_bad_inputs():
    with pytest.raises(ValueError, match="plot_history.*not in history"):
        plot_history(HIST, metrics=["precision"])
    with pytest.raises(ValueError, match="plot_history.*empty"):
        plot_history({})
    with pytest.raises(TypeError, match="plot_history"):
        plot_history([1, 2])


def test_missing_matplotlib_message(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("no matplotlib")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r'pip install "corenn\[plot\]"'):
        plot_history(HIST)
