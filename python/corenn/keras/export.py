"""``keras.export``: Keras 3's ExportArchive writes a TensorFlow SavedModel (endpoints traced by
TensorFlow), which corenn, having no TensorFlow runtime, cannot write. The name exists so a
script that imports it gets a clear error at the point of use, naming what corenn exports:
``model.export(path, format="onnx")`` (an ONNX file for ONNX Runtime and other servers; see
corenn.onnx.export)."""
from __future__ import annotations

__all__ = ["ExportArchive"]


class ExportArchive:
    """Refused: Keras' SavedModel export archive needs TensorFlow. Use
    ``model.export(path, format="onnx")``."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError(
            "keras.export.ExportArchive writes a TensorFlow SavedModel, which corenn cannot write (it has no "
            "TensorFlow runtime); export the model to ONNX instead with model.export(path, format='onnx') "
            "(or corenn.onnx.export(model, path)) and serve it with ONNX Runtime")
