"""corenn: a small, fast deep-learning framework with a Keras-style API.

The math runs in a compiled C++ core (corenn._C); this package is a thin layer on top.
"""
from . import ops
from .ops import Tensor, get_num_threads, set_num_threads

__version__ = "0.1.0"

__all__ = ["Tensor", "ops", "get_num_threads", "set_num_threads", "__version__"]
