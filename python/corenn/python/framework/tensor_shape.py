"""``tensorflow.python.framework.tensor_shape``: TensorShape (corenn's), and the module's
helpers a layer's ``compute_output_shape`` uses."""
from ...kernels import TensorShape

__all__ = ["TensorShape", "as_shape", "unknown_shape", "dimension_value"]


def as_shape(shape):
    """``shape`` as a TensorShape (a TensorShape is returned as it is)."""
    return shape if isinstance(shape, TensorShape) else TensorShape(shape)


def unknown_shape(rank=None):
    """A TensorShape of ``rank`` unknown dimensions (TensorFlow's unknown rank is not
    represented: ``rank`` is required)."""
    if rank is None:
        raise ValueError("tensor_shape.unknown_shape: corenn shapes have a known rank; pass rank=")
    return TensorShape([None] * int(rank))


def dimension_value(dimension):
    """A dimension as an int or None (TensorFlow's Dimension objects are plain ints here)."""
    return None if dimension is None else int(dimension)
