"""``tf.saved_model``: corenn cannot write or read TensorFlow SavedModels (a SavedModel is a
TensorFlow graph, and corenn has none). Both functions raise at once, naming what to use instead:
``model.save('model.keras')`` / ``corenn.models.load_model`` for a model to train or run again
in corenn (or Keras), ``model.export('model.onnx', format='onnx')`` for serving, and
``corenn.train.Checkpoint`` for a custom training loop's state."""
from __future__ import annotations

__all__ = ["save", "load", "contains_saved_model", "SaveOptions", "LoadOptions"]

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


class SaveOptions:
    """TensorFlow's ``tf.saved_model.SaveOptions``: its fields, kept. TF-Keras 2's
    ``model.save(path, options=...)`` takes one; ``experimental_io_device`` (which device writes
    the variables: '/job:localhost' for a cluster saving to a local disk) means nothing to
    corenn, which writes from the host process, so the options change no file."""

    def __init__(self, namespace_whitelist=None, save_debug_info=False, function_aliases=None,
                 experimental_debug_stripper=False, experimental_io_device=None, experimental_variable_policy=None,
                 experimental_custom_gradients=True, experimental_image_format=False, experimental_skip_saver=False,
                 experimental_sharding_callback=None, extra_tags=None):
        self.namespace_whitelist = list(namespace_whitelist or [])
        self.save_debug_info = save_debug_info
        self.function_aliases = dict(function_aliases or {})
        self.experimental_debug_stripper = experimental_debug_stripper
        self.experimental_io_device = experimental_io_device
        self.experimental_variable_policy = experimental_variable_policy
        self.experimental_custom_gradients = experimental_custom_gradients
        self.experimental_image_format = experimental_image_format
        self.experimental_skip_saver = experimental_skip_saver
        self.experimental_sharding_callback = experimental_sharding_callback
        self.extra_tags = extra_tags


class LoadOptions:
    """TensorFlow's ``tf.saved_model.LoadOptions``: its fields, kept; TF-Keras 2's
    ``load_model(path, options=...)`` takes one, and corenn reads on the host either way."""

    def __init__(self, allow_partial_checkpoint=False, experimental_io_device=None, experimental_skip_checkpoint=False,
                 experimental_variable_policy=None, experimental_load_function_aliases=False):
        self.allow_partial_checkpoint = allow_partial_checkpoint
        self.experimental_io_device = experimental_io_device
        self.experimental_skip_checkpoint = experimental_skip_checkpoint
        self.experimental_variable_policy = experimental_variable_policy
        self.experimental_load_function_aliases = experimental_load_function_aliases


def check_options(options, cls, where):
    """TF-Keras 2's ``options`` argument: None or a ``cls`` (SaveOptions / LoadOptions)."""
    if options is not None and not isinstance(options, cls):
        raise TypeError(f"{where}: options must be a tf.saved_model.{cls.__name__} or None, got "
                        f"{type(options).__name__}")
