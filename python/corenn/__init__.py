"""corenn: a small, fast deep-learning framework with a Keras-style API.

The math runs in a compiled C++ core (corenn._C); this package is a thin layer on top.
"""
from . import kernels
from .kernels import Tensor, get_num_threads, set_num_threads
from . import activations, initializers, regularizers, losses, metrics
from . import utils, callbacks, datasets, optimizers
from . import layers, models
from . import cuda
from .models import Sequential

__version__ = "0.1.0"

__all__ = ["Sequential", "models", "layers", "losses", "metrics", "optimizers", "activations",
           "initializers", "regularizers", "callbacks", "utils", "datasets", "Tensor", "kernels", "cuda",
           "set_num_threads", "get_num_threads", "__version__"]
