"""Training curves: one subplot per metric, train vs validation, against the epoch."""
import os
import sys

__all__ = ["plot_history"]


def _import_pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError('plot_history needs matplotlib: pip install "corenn[plot]"') from exc
    # Agg renders to files without a display; only switch if pyplot is not already in use.
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _history_dict(history):
    if isinstance(history, dict):
        data = history
    elif isinstance(getattr(history, "history", None), dict):
        data = history.history
    else:
        raise TypeError(f"plot_history: expected a History or a dict of lists, "
                        f"got {type(history).__name__}")
    if not data:
        raise ValueError("plot_history: the history is empty (was fit run for 0 epochs?)")
    return data


def plot_history(history, path=None, metrics=None, title="Training history"):
    """Plot the curves recorded by `fit`.

    Args:
        history: the History returned by `fit`, or a dict like its `.history`.
        path: if given, the PNG is written there atomically (temp file + rename).
        metrics: names to plot (without 'val_'); default every non-val key, in order.
        title: figure title.

    Returns:
        The matplotlib Figure (closed from pyplot's registry if it was saved to `path`).
    """
    data = _history_dict(history)
    if metrics is None:
        metrics = [k for k in data if not k.startswith("val_")]
        metrics += [k[4:] for k in data if k.startswith("val_") and k[4:] not in data]
    missing = [m for m in metrics if m not in data and "val_" + m not in data]
    if missing:
        raise ValueError(f"plot_history: metrics {missing} not in history "
                         f"(keys: {sorted(data)})")
    if not metrics:
        raise ValueError("plot_history: nothing to plot")
    plt = _import_pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4), squeeze=False)
    for ax, name in zip(axes[0], metrics):
        for key, label in ((name, "train"), ("val_" + name, "validation")):
            if key in data:
                values = [float(v) for v in data[key]]
                ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        _save_atomic(fig, os.fspath(path))
        plt.close(fig)
    return fig


def _save_atomic(fig, path):
    """The PNG written next to ``path`` and renamed into place, with open()'s mode (0666 & ~umask)."""
    from ..saving import atomic_write
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
