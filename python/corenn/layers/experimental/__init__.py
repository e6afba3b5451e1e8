"""``tf.keras.layers.experimental``: where TensorFlow 2.3-2.5 kept the preprocessing layers
(``layers.experimental.preprocessing.Rescaling`` in the tutorials of that time). The same
classes as ``corenn.layers``; only the old path is kept, so old scripts run unchanged. Also
tf.keras 2's ``RandomFourierFeatures`` (Keras 3 has no such layer)."""
from corenn.layers.einsum_dense import EinsumDense
from corenn.layers.kernelized import RandomFourierFeatures
from corenn.layers.normalization import BatchNormalization as SyncBatchNormalization  # one process:
# synchronising the batch statistics across replicas is BatchNormalization itself

from . import preprocessing

__all__ = ["preprocessing", "RandomFourierFeatures", "EinsumDense", "SyncBatchNormalization"]
