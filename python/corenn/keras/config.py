"""``keras.config``: Keras 3.15's global settings.

The float / epsilon / image-format / dtype-policy / traceback settings are ``keras.backend``'s
(corenn computes in float32, channels-last, and says so when asked for anything else). The rest:

- ``set_max_epochs(n)`` / ``set_max_steps_per_epoch(n)`` (or the environment variables
  ``KERAS_MAX_EPOCHS`` / ``KERAS_MAX_STEPS_PER_EPOCH``, read at import): ``fit`` runs at most that
  many epochs / steps per epoch (with a warning, as Keras), for quick debugging runs; None lifts it.
- ``disable_interactive_logging()``: progress bars leave stdout for the ``logging`` module.
- flash attention: recorded as Keras records it (None = "use when possible", False = never);
  corenn's attention kernels have one implementation, so the switch selects nothing.
- ``enable_unsafe_deserialization()``: accepted; corenn never loads code from a model file (a
  Lambda or custom object is found by its registered name), so there is nothing to unlock.
- ``set_backend(name)``: corenn is its own and only backend; "corenn" is accepted, any other
  name raises, since switching would need Keras itself.
"""
from __future__ import annotations

import os
import warnings

from .backend import (backend, disable_traceback_filtering, dtype_policy, enable_traceback_filtering, epsilon,
                      floatx, image_data_format, is_traceback_filtering_enabled, set_dtype_policy, set_epsilon,
                      set_floatx, set_image_data_format)
from ..utils.progbar import (disable_interactive_logging, enable_interactive_logging,
                             is_interactive_logging_enabled)

__all__ = ["backend", "floatx", "set_floatx", "epsilon", "set_epsilon", "image_data_format",
           "set_image_data_format", "dtype_policy", "set_dtype_policy", "disable_traceback_filtering",
           "enable_traceback_filtering", "is_traceback_filtering_enabled", "disable_interactive_logging",
           "enable_interactive_logging", "is_interactive_logging_enabled", "enable_flash_attention",
           "disable_flash_attention", "is_flash_attention_enabled", "max_epochs", "set_max_epochs",
           "max_steps_per_epoch", "set_max_steps_per_epoch", "enable_unsafe_deserialization", "set_backend",
           "is_nnx_enabled"]


def _limit(name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"keras.config.set_{name}: expected a positive int or None, got {value!r}")
    return value


def _from_env(var):
    raw = os.environ.get(var)
    if raw is None:
        return None
    try:
        return _limit(var.lower(), int(raw))
    except ValueError:
        raise ValueError(f"{var}={raw!r}: expected a positive integer") from None


_LIMITS = {"max_epochs": _from_env("KERAS_MAX_EPOCHS"),
           "max_steps_per_epoch": _from_env("KERAS_MAX_STEPS_PER_EPOCH")}


def set_max_epochs(max_epochs):
    """Cap the epochs of every ``fit`` (None: no cap)."""
    _LIMITS["max_epochs"] = _limit("max_epochs", max_epochs)


def max_epochs():
    return _LIMITS["max_epochs"]


def set_max_steps_per_epoch(max_steps_per_epoch):
    """Cap the steps of every ``fit`` epoch (None: no cap)."""
    _LIMITS["max_steps_per_epoch"] = _limit("max_steps_per_epoch", max_steps_per_epoch)


def max_steps_per_epoch():
    return _LIMITS["max_steps_per_epoch"]


def capped_fit_arguments(epochs, steps_per_epoch):
    """``fit``'s epochs and steps_per_epoch under the caps, warning where one applies (Keras)."""
    cap = _LIMITS["max_epochs"]
    if cap and cap < epochs:
        warnings.warn(f"Limiting epochs to {cap}", stacklevel=3)
        epochs = cap
    cap = _LIMITS["max_steps_per_epoch"]
    if cap and (not steps_per_epoch or cap < steps_per_epoch):
        warnings.warn(f"Limiting steps_per_epoch to {cap}", stacklevel=3)
        steps_per_epoch = cap
    return epochs, steps_per_epoch


_FLASH = {"value": None}


def enable_flash_attention():
    _FLASH["value"] = None


def disable_flash_attention():
    _FLASH["value"] = False


def is_flash_attention_enabled():
    """None (the default: used where possible) or False (disabled), as Keras 3.15 reports it."""
    return _FLASH["value"]


_UNSAFE = [False]


def enable_unsafe_deserialization():
    """Keras: allow loading Lambda bytecode. corenn never executes code from a file; this only
    records the request."""
    _UNSAFE[0] = True


def set_backend(backend_name):
    """Keras reloads itself on another backend; corenn is the only backend here."""
    if str(backend_name).lower() == "corenn":
        return
    raise ValueError(f"keras.config.set_backend: corenn runs on its own C++ kernels and has no {backend_name!r} "
                     "backend; run the script with Keras itself for that (only 'corenn' is accepted)")


def is_nnx_enabled():
    """Keras' Flax NNX switch (JAX backend only): never on here."""
    return False
