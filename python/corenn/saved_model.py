"""``tf.saved_model``: corenn cannot write or read TensorFlow SavedModels (a SavedModel is a
TensorFlow graph, and corenn has none). Both functions raise at once, naming what to use instead:
``model.save('model.keras')`` / ``corenn.models.load_model`` for a model to train or run again
in corenn (or Keras), ``model.export('model.onnx', format='onnx')`` for serving, and
``corenn.train.Checkpoint`` for a custom training loop's state."""
from __future__ import annotations

__all__ = ["save", "load", "contains_saved_model"]

_INSTEAD = ("use model.save('model.keras') and corenn.models.load_model('model.keras') to keep a model, "
            "model.export('model.onnx', format='onnx') to serve it, or tf.train.Checkpoint for a training "
            "loop's state")


def save(obj, export_dir, signatures=None, options=None):
    """Raises NotImplementedError: see the module docstring."""
    raise NotImplementedError(f"tf.saved_model.save: corenn cannot write TensorFlow SavedModels "
                              f"(to {export_dir!r}); {_INSTEAD}")


def load(export_dir, tags=None, options=None):
    """Raises NotImplementedError: see the module docstring."""
    raise NotImplementedError(f"tf.saved_model.load: corenn cannot read TensorFlow SavedModels "
                              f"({export_dir!r}); {_INSTEAD}")


def contains_saved_model(export_dir):
    """Whether export_dir holds a SavedModel (saved_model.pb / .pbtxt), which corenn cannot load."""
    import os
    d = os.fspath(export_dir)
    return os.path.isfile(os.path.join(d, "saved_model.pb")) or os.path.isfile(os.path.join(d, "saved_model.pbtxt"))
