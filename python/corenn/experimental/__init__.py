"""``tf.experimental``: ``tf.experimental.numpy`` (the NumPy API on Tensors) and
``tf.experimental.Optional`` (what ``iterator.get_next_as_optional()`` gives)."""
from . import numpy  # noqa: F401
from ..data._fixed_length import Optional  # noqa: F401

__all__ = ["numpy", "Optional"]
