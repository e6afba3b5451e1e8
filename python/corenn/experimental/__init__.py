"""``tf.experimental``: ``tf.experimental.numpy`` (the NumPy API on Tensors)."""
from . import numpy  # noqa: F401

__all__ = ["numpy"]
