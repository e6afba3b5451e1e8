"""corenn.optimizers: Keras 3 style optimizers over fused C++ update kernels.

``get(identifier)`` accepts a name ('sgd', 'adam', 'adamw', 'rmsprop', 'adagrad', 'adamax', 'nadam',
'lion', 'adadelta', 'ftrl', 'lamb', 'adafactor', any case), an
Optimizer instance (returned as is), or a config dict ``{'class_name': ..., 'config': {...}}``.
"""
from __future__ import annotations

from . import schedules
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .more import Adadelta, Adafactor, Adamax, Ftrl, Lamb, Lion, Nadam
from .muon import Muon, ScheduleFreeAdamW
from .multi_optimizer import MultiOptimizer, OptimizerMap
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adamax", "Nadam", "Lion",
           "Adadelta", "Ftrl", "Lamb", "Adafactor", "Muon", "ScheduleFreeAdamW", "MultiOptimizer", "OptimizerMap",
           "schedules", "get",
           "serialize", "deserialize"]

_BY_NAME = {cls.__name__.lower(): cls for cls in (SGD, RMSprop, Adam, AdamW, Adagrad, Adamax, Nadam,
                                                  Lion, Adadelta, Ftrl, Lamb, Adafactor, Muon,
                                                  ScheduleFreeAdamW, MultiOptimizer)}


def __getattr__(name):
    # keras.optimizers.LossScaleOptimizer is mixed_precision's (imported late: it imports this package)
    if name == "LossScaleOptimizer":
        from ..mixed_precision import LossScaleOptimizer
        return LossScaleOptimizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def serialize(optimizer: Optimizer) -> dict:
    """``{'class_name': ..., 'config': ...}`` for ``deserialize`` / ``get``."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict) -> Optimizer:
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"optimizers.deserialize: expected a dict with 'class_name' and "
                         f"'config', got {config!r}")
    cls = _lookup(config["class_name"])
    return cls.from_config(config.get("config") or {})


def get(identifier):
    """Return an Optimizer from a name, a config dict or an instance (None stays None)."""
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if getattr(identifier, "_scales_loss", False):   # mixed_precision.LossScaleOptimizer
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return _lookup(identifier)()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")


def _lookup(name):
    cls = _BY_NAME.get(str(name).lower())
    if cls is None:
        raise ValueError(f"Unknown optimizer: {name!r}; known: {sorted(_BY_NAME)}")
    return cls

import types as _types  # noqa: E402

# TensorFlow 2.11+ scripts name the same optimizers under tf.keras.optimizers.legacy (the pre-2.11
# classes, kept for M1 Macs) and .experimental (the new ones while they were new): one set here
legacy = _types.SimpleNamespace(**{n: globals()[n] for n in ("Optimizer", "SGD", "RMSprop", "Adam", "Adagrad",
                                                             "Adadelta", "Adamax", "Nadam", "Ftrl")})
experimental = _types.SimpleNamespace(**{n: globals()[n] for n in ("Optimizer", "SGD", "RMSprop", "Adam", "AdamW",
                                                                   "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl",
                                                                   "Lion", "Adafactor")})
del _types
