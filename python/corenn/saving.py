"""Reading and writing model files.

Weights files are NumPy ``.npz`` archives holding plain arrays named ``<index>:<layer>/<weight>``
plus a JSON manifest; they are written atomically (temporary file in the same directory, fsync,
``os.replace``) so a crash never leaves a half-written file where a good one was, and read with
``allow_pickle=False`` so loading a file can never execute code.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

__all__ = ["atomic_write", "save_weights", "load_weights"]

_MANIFEST = "__corenn_manifest__"
_FORMAT = "corenn.weights/1"


def atomic_write(path, write_fn, mode: str = "wb") -> None:
    """Call ``write_fn(file)`` on a temporary file next to ``path`` and rename it into place."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, mode) as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _weight_names(model):
    names = []
    for i, layer in enumerate(model.layers):
        for j, _ in enumerate(layer.get_weights()):
            names.append(f"{i}:{layer.name}/{j}")
    return names


def save_weights(model, path) -> None:
    """Write every layer's weights (in Keras order) to an ``.npz`` file, atomically."""
    weights = model.get_weights()
    names = _weight_names(model)
    manifest = {"format": _FORMAT, "names": names,
                "shapes": [list(w.shape) for w in weights]}
    arrays = {name: np.ascontiguousarray(w) for name, w in zip(names, weights)}
    arrays[_MANIFEST] = np.frombuffer(json.dumps(manifest).encode("utf-8"), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load_weights(model, path) -> None:
    """Load weights saved by :func:`save_weights` into ``model``; never unpickles anything."""
    path = os.fspath(path)
    try:
        # np.load is given an open file so a bad archive cannot leak the handle.
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as archive:
            if _MANIFEST not in archive.files:
                raise ValueError(f"{path} is not a corenn weights file (no manifest)")
            manifest = json.loads(bytes(archive[_MANIFEST]).decode("utf-8"))
            if manifest.get("format") != _FORMAT:
                raise ValueError(f"{path}: unsupported weights format {manifest.get('format')!r}")
            weights = [archive[name] for name in manifest["names"]]
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, json.JSONDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path} is corrupt or truncated: {exc}") from None
    expected = [tuple(w.shape) for w in model.get_weights()]
    got = [tuple(w.shape) for w in weights]
    if expected != got:
        raise ValueError(f"load_weights: {path} holds weights of shapes {got}, but the model's "
                         f"weights have shapes {expected}")
    model.set_weights(weights)
