"""corenn.data: tf.data's input pipelines (``Dataset``) in pure Python over NumPy, so
``tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000).batch(32)`` runs after
``import corenn as tf`` and feeds ``fit`` / ``evaluate`` / ``predict`` (dataset.py)."""
from types import SimpleNamespace as _Namespace

from ._structure import TensorSpec
from .dataset import AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset, Options


def _cardinality(dataset):
    """``tf.data.experimental.cardinality(ds)``: the same as ``ds.cardinality()``."""
    return dataset.cardinality()


# tf.data.experimental as scripts use it (AUTOTUNE and cardinality lived there before TF 2.4)
experimental = _Namespace(AUTOTUNE=AUTOTUNE, INFINITE_CARDINALITY=INFINITE_CARDINALITY,
                          UNKNOWN_CARDINALITY=UNKNOWN_CARDINALITY, cardinality=_cardinality)

__all__ = ["Dataset", "TensorSpec", "Options", "AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY",
           "experimental"]
