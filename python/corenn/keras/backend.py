"""``keras.backend`` / ``keras.config``: the global settings Keras scripts read and set.

corenn computes in float32, channels-last, with the fuzz factor 1e-7 compiled into its loss
kernels. Reading them works as in Keras; setting them to what corenn already does is accepted;
setting anything else raises by name rather than being ignored (a script that asks for float64
must not run in float32 believing otherwise).
"""
from __future__ import annotations

__all__ = ["floatx", "set_floatx", "epsilon", "set_epsilon", "image_data_format",
           "set_image_data_format", "clear_session", "backend", "disable_traceback_filtering",
           "enable_traceback_filtering", "is_traceback_filtering_enabled", "dtype_policy", "set_dtype_policy"]

_EPSILON = 1e-7


def backend():
    return "corenn"


def floatx():
    return "float32"


def set_floatx(value):
    if str(value) != "float32":
        raise TypeError(f"keras.config.set_floatx: dtype {value!r} is not supported: corenn tensors and "
                        "layers compute in float32 (Keras 3's default)")


def epsilon():
    return _EPSILON


def set_epsilon(value):
    if float(value) != _EPSILON:
        raise NotImplementedError(f"keras.config.set_epsilon: corenn's loss and metric kernels use the fuzz "
                                  f"factor {_EPSILON} (Keras' default); {value!r} is not supported")


def image_data_format():
    return "channels_last"


def set_image_data_format(data_format):
    if data_format != "channels_last":
        raise NotImplementedError(f"keras.config.set_image_data_format: only 'channels_last' (NHWC, Keras' "
                                  f"default) is supported globally, got {data_format!r}; layers take "
                                  "data_format= where they support channels_first")


def clear_session(free_memory=True):
    """Keras: forget the global state; here the counters behind default layer and model names,
    so the next Dense is 'dense' again."""
    from ..layers import base
    from ..models import model
    base._NAME_COUNTS.clear()
    model._MODEL_COUNTS.clear()


_traceback_filtering = [True]


def disable_traceback_filtering():
    _traceback_filtering[0] = False   # corenn does not filter tracebacks; kept for scripts that call it


def enable_traceback_filtering():
    _traceback_filtering[0] = True


def is_traceback_filtering_enabled():
    return _traceback_filtering[0]


def dtype_policy():
    """keras.config.dtype_policy(): the global DTypePolicy (keras.mixed_precision)."""
    from ..mixed_precision import global_policy
    return global_policy()


def set_dtype_policy(policy):
    """keras.config.set_dtype_policy('mixed_float16'): accepted, runs float32 (keras.mixed_precision)."""
    from ..mixed_precision import set_global_policy
    set_global_policy(policy)
