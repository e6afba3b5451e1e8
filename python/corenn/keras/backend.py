"""``keras.backend`` / ``keras.config``: the global settings Keras scripts read and set.

corenn computes in float32 (float64 after set_floatx('float64'); channels-last by default; set_image_data_format('channels_first')
makes layers built after it take channels-first data), with the fuzz factor 1e-7 compiled into its loss
kernels. Reading them works as in Keras; setting them to what corenn already does is accepted;
setting anything else raises by name rather than being ignored (a script that asks for float64
must not run in float32 believing otherwise).
"""
from __future__ import annotations

import builtins   # this module defines K.max, K.sum, ... (tf.keras 2's names) at the end

__all__ = ["is_keras_tensor", "standardize_dtype", "result_type", "floatx", "set_floatx", "epsilon", "set_epsilon", "image_data_format",
           "set_image_data_format", "clear_session", "backend", "disable_traceback_filtering",
           "enable_traceback_filtering", "is_traceback_filtering_enabled", "ctc_batch_cost", "ctc_decode",
           "dtype_policy", "set_dtype_policy", "get_uid", "is_float_dtype", "is_int_dtype"]

_EPSILON = 1e-7


def backend():
    return "corenn"


def floatx():
    """The default float type: the dtype of the weights and computation of layers made without a
    dtype (and no global policy set), and of ``keras.Input``'s data."""
    from .. import mixed_precision
    return mixed_precision._FLOATX[0]


def set_floatx(value):
    """Keras 3: 'float32' (the default) or 'float64' (layers made after it hold float64 weights and
    compute in float64: layers/_float64.py). float16 / bfloat16 are refused: corenn has no such
    compute path (a mixed policy runs in float32, and says so)."""
    from .. import mixed_precision
    name = str(getattr(value, "name", value))
    if name not in ("float32", "float64"):
        raise ValueError(f"keras.config.set_floatx: dtype {value!r} is not supported: corenn computes in "
                         "'float32' or 'float64'")
    mixed_precision._FLOATX[0] = name


def epsilon():
    return _EPSILON


def set_epsilon(value):
    if float(value) != _EPSILON:
        raise NotImplementedError(f"keras.config.set_epsilon: corenn's loss and metric kernels use the fuzz "
                                  f"factor {_EPSILON} (Keras' default); {value!r} is not supported")


# Keras' global image layout: what a layer made with data_format=None takes (read when the layer is
# made, as Keras' standardize_data_format does). channels_first is the boundary transposes of
# layers/_channels_first.py; layers whose kernels have no channels-first path raise by name.
_IMAGE_DATA_FORMAT = ["channels_last"]


def image_data_format():
    return _IMAGE_DATA_FORMAT[0]


def set_image_data_format(data_format):
    value = str(data_format).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError("keras.config.set_image_data_format: the data_format must be one of "
                         f"{{'channels_first', 'channels_last'}}, got {data_format!r}")
    _IMAGE_DATA_FORMAT[0] = value


def clear_session(free_memory=True):
    """Keras: forget the global state; here the counters behind default layer and model names,
    so the next Dense is 'dense' again."""
    from ..layers import base
    from ..models import model
    base._NAME_COUNTS.clear()
    model._MODEL_COUNTS.clear()
    _UIDS.clear()
    from .distribution import set_distribution
    set_distribution(None)   # Keras' global state holds the distribution too


_traceback_filtering = [True]


def disable_traceback_filtering():
    _traceback_filtering[0] = False   # corenn does not filter tracebacks; kept for scripts that call it


def enable_traceback_filtering():
    _traceback_filtering[0] = True


def is_traceback_filtering_enabled():
    return _traceback_filtering[0]


def _lengths(v, batch, op, what):
    import numpy as np
    a = np.asarray(v).reshape(-1)
    if a.shape[0] != batch:
        raise ValueError(f"keras.backend.{op}: {what} needs one length per sample ({batch}), got shape "
                         f"{np.shape(v)}")
    return a.astype(np.int64)


def ctc_batch_cost(y_true, y_pred, input_length, label_length):
    """tf.keras 2's CTC loss of softmax outputs y_pred (samples, time, classes) for labels y_true
    (samples, max_label_length), lengths (samples, 1): the per-sample loss as (samples, 1).
    As in TensorFlow, the blank is the *last* class (keras.ops.ctc_loss and keras.losses.CTC use
    class 0) and y_pred holds probabilities (their log, plus epsilon, is the logits)."""
    from .. import ops
    shape = tuple(y_pred.shape)
    if len(shape) != 3:
        raise ValueError(f"keras.backend.ctc_batch_cost: y_pred must be (samples, time, classes), got {shape}")
    batch, classes = shape[0], shape[2]
    loss = ops.ctc_loss(y_true, ops.log(ops.add(y_pred, _EPSILON)),
                        _lengths(label_length, batch, "ctc_batch_cost", "label_length"),
                        _lengths(input_length, batch, "ctc_batch_cost", "input_length"), mask_index=classes - 1)
    return ops.expand_dims(loss, 1)


def ctc_decode(y_pred, input_length, greedy=True, beam_width=100, top_paths=1):
    """tf.keras 2's CTC decoding of softmax outputs, the last class the blank: greedy (repeats
    merged) or beam search (ops.ctc_decode's prefix beam search over log(y_pred)). Returns
    ([decoded (samples, longest) padded with -1] per path, log_prob (samples, top_paths)); each
    decoded array is as wide as its longest sequence (tf.sparse.to_dense of the decoder's result)."""
    import numpy as np
    from .. import ops
    shape = tuple(y_pred.shape)
    if len(shape) != 3:
        raise ValueError(f"keras.backend.ctc_decode: y_pred must be (samples, time, classes), got {shape}")
    logp = ops.log(ops.add(y_pred, _EPSILON))
    decoded, scores = ops.ctc_decode(logp, _lengths(input_length, shape[0], "ctc_decode", "input_length"),
                                     strategy="greedy" if greedy else "beam_search", beam_width=beam_width,
                                     top_paths=1 if greedy else top_paths, mask_index=shape[2] - 1)
    paths = []
    for d in np.asarray(decoded):
        width = int((d >= 0).sum(axis=1).max(initial=0))
        paths.append(ops._to_tensor(np.ascontiguousarray(d[:, :width]).astype(np.int64)))
    return paths, scores


def dtype_policy():
    """keras.config.dtype_policy(): the global DTypePolicy (keras.mixed_precision)."""
    from ..mixed_precision import global_policy
    return global_policy()


def set_dtype_policy(policy):
    """keras.config.set_dtype_policy('mixed_float16'): accepted, runs float32 (keras.mixed_precision)."""
    from ..mixed_precision import set_global_policy
    set_global_policy(policy)


def is_keras_tensor(x):
    """Whether ``x`` is a symbolic KerasTensor (keras.Input or a layer called on one)."""
    from ..models.graph import KerasTensor
    return isinstance(x, KerasTensor)


def standardize_dtype(dtype):
    """A dtype's canonical name ('float32', 'int64', 'bool', ...) as Keras 3 spells it."""
    if dtype is None:
        return floatx()
    import numpy as np
    if isinstance(dtype, type) or isinstance(dtype, np.dtype):   # np.float16, np.dtype('int8')
        try:
            return np.dtype(dtype).name
        except TypeError:
            raise ValueError(f"standardize_dtype: invalid dtype {dtype!r}") from None
    if hasattr(dtype, "name") and not isinstance(dtype, str):
        dtype = dtype.name
    dtype = {"float": "float32", "int": "int64", "double": "float64", "half": "float16"}.get(str(dtype), dtype)
    if str(dtype) in ("bfloat16", "float8_e4m3fn", "float8_e5m2", "string"):   # Keras' names NumPy lacks
        return str(dtype)
    import numpy as np
    try:
        return np.dtype(str(dtype)).name
    except TypeError:
        raise ValueError(f"standardize_dtype: invalid dtype {dtype!r}") from None


_UIDS: dict = {}


def get_uid(prefix=""):
    """1, 2, 3, ... on successive calls with the same ``prefix`` (Keras' name counter; its own
    counters, reset by clear_session)."""
    _UIDS[prefix] = _UIDS.get(prefix, 0) + 1
    return _UIDS[prefix]


def is_float_dtype(dtype):
    """Whether ``dtype`` (any form standardize_dtype reads) is a float or bfloat type."""
    name = standardize_dtype(dtype)
    return name.startswith("float") or name.startswith("bfloat")


def is_int_dtype(dtype):
    """Whether ``dtype`` is a signed or unsigned integer type."""
    name = standardize_dtype(dtype)
    return name.startswith("int") or name.startswith("uint")


def result_type(*dtypes):
    """The dtype Keras 3 gives arithmetic on these dtypes (or Python scalars): the widest float
    among the float dtypes, integers taking a float's type (JAX's lattice, which Keras follows);
    a Python float with integers gives floatx(); integers promote as NumPy's; Python ints are
    weak (they take the other operand's type)."""
    import numpy as np
    explicit, py_float, py_int = [], False, False
    for d in dtypes:
        if isinstance(d, bool):
            explicit.append(np.dtype("bool"))
        elif isinstance(d, int):
            py_int = True
        elif isinstance(d, float):
            py_float = True
        else:
            explicit.append(np.dtype(standardize_dtype(d)))
    floats = [d for d in explicit if d.kind == "f"]
    if floats:
        return builtins.max(floats, key=lambda d: d.itemsize).name
    if py_float:
        return floatx()
    if explicit:
        return np.result_type(*explicit).name
    return "int32" if py_int else floatx()


# tf.keras 2's backend functions (K.mean, K.square, K.set_value, ...): keras/_backend_ops.py
from ._backend_ops import *  # noqa: E402,F401,F403
from ._backend_ops import __all__ as _OPS_NAMES  # noqa: E402

__all__ = __all__ + [n for n in _OPS_NAMES if n not in __all__]
