"""``tf.keras.layers.experimental``: where TensorFlow 2.3-2.5 kept the preprocessing layers
(``layers.experimental.preprocessing.Rescaling`` in the tutorials of that time). The same
classes as ``corenn.layers``; only the old path is kept, so old scripts run unchanged."""
from . import preprocessing

__all__ = ["preprocessing"]
