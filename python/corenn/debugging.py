"""``tf.debugging``: the checks tutorials sprinkle through their code, and the device-placement
log switch. A failed check raises ``tf.errors.InvalidArgumentError`` (a ValueError here, so code
catching either works) with TensorFlow's kind of message plus the values involved."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

__all__ = ["set_log_device_placement", "assert_equal", "assert_near", "assert_all_finite",
           "check_numerics", "assert_rank", "assert_non_negative", "assert_positive", "assert_greater",
           "assert_greater_equal", "assert_less", "assert_less_equal",
           "InvalidArgumentError", "NotFoundError", "AlreadyExistsError", "DataLossError", "OutOfRangeError",
           "errors"]


class InvalidArgumentError(ValueError):
    """TensorFlow's error for a failed tf.debugging check (``tf.errors.InvalidArgumentError``)."""


class NotFoundError(FileNotFoundError):
    """``tf.errors.NotFoundError``: a file ``tf.io`` was asked for does not exist."""


class AlreadyExistsError(FileExistsError):
    """``tf.errors.AlreadyExistsError``: ``tf.io.gfile`` would overwrite a file it was told not to."""


class OutOfRangeError(Exception):
    """``tf.errors.OutOfRangeError``: ``iterator.get_next()`` past the end of a dataset (``next``
    raises StopIteration, as TensorFlow's iterators do)."""


class DataLossError(ValueError):
    """``tf.errors.DataLossError``: a corrupted or truncated record (``tf.data.TFRecordDataset``)."""


_log_placement = [False]


def set_log_device_placement(enabled):
    """Accepted (TensorFlow prints each op's device when enabled): corenn's placement is explicit
    (a Tensor stays where it was made, ``Tensor.to`` moves it), so there is nothing to log."""
    _log_placement[0] = bool(enabled)


def _array(x):
    return np.asarray(x)


def _fail(message, what):
    from .config import _debug_ops_stripped
    if _debug_ops_stripped():   # Grappler's debug_stripper removed the check from the function
        return
    raise InvalidArgumentError(f"{message + ': ' if message else ''}{what}")


def assert_equal(x, y, message=None, summarize=None, name=None):
    a, b = _array(x), _array(y)
    try:
        np.broadcast_shapes(a.shape, b.shape)
        same = bool(np.all(a == b))
    except ValueError:   # shapes that do not broadcast are not equal
        same = False
    if not same:
        _fail(message, f"Condition x == y did not hold: x = {a!r}, y = {b!r}")


def assert_near(x, y, rtol=None, atol=None, message=None, summarize=None, name=None):
    """|x - y| <= atol + rtol * |y| elementwise; rtol and atol default to 10 float32 epsilons,
    TensorFlow's defaults for float32."""
    a, b = _array(x).astype(np.float64), _array(y).astype(np.float64)
    rtol = 10 * np.finfo(np.float32).eps if rtol is None else float(rtol)
    atol = 10 * np.finfo(np.float32).eps if atol is None else float(atol)
    if not np.all(np.abs(a - b) <= atol + rtol * np.abs(b)):
        _fail(message, f"x and y not equal to tolerance rtol = {rtol}, atol = {atol}: x = {a!r}, y = {b!r}")


def assert_all_finite(t, message, name=None):
    if not np.all(np.isfinite(_array(t))):
        _fail(message, "Tensor had NaN or Inf values")
    return t


def check_numerics(tensor, message, name=None):
    """``tensor`` itself when every value is finite, else InvalidArgumentError."""
    return assert_all_finite(tensor, message)


def assert_rank(x, rank, message=None, name=None):
    if _array(x).ndim != int(rank):
        _fail(message, f"Tensor must have rank {int(rank)}, received rank {_array(x).ndim} (shape {_array(x).shape})")


def _compare(op, sign, cmp, x, y, message):
    a, b = _array(x), _array(y)
    try:
        ok = bool(np.all(cmp(a, b)))
    except ValueError:
        raise ValueError(f"tf.debugging.{op}: shapes {a.shape} and {b.shape} do not broadcast") from None
    if not ok:
        _fail(message, f"Condition x {sign} y did not hold element-wise: x = {a!r}, y = {b!r}")


def assert_greater(x, y, message=None, summarize=None, name=None):
    _compare("assert_greater", ">", np.greater, x, y, message)


def assert_greater_equal(x, y, message=None, summarize=None, name=None):
    _compare("assert_greater_equal", ">=", np.greater_equal, x, y, message)


def assert_less(x, y, message=None, summarize=None, name=None):
    _compare("assert_less", "<", np.less, x, y, message)


def assert_less_equal(x, y, message=None, summarize=None, name=None):
    _compare("assert_less_equal", "<=", np.less_equal, x, y, message)


def assert_non_negative(x, message=None, summarize=None, name=None):
    if not np.all(_array(x) >= 0):
        _fail(message, "Condition x >= 0 did not hold element-wise")


def assert_positive(x, message=None, summarize=None, name=None):
    if not np.all(_array(x) > 0):
        _fail(message, "Condition x > 0 did not hold element-wise")


errors = SimpleNamespace(InvalidArgumentError=InvalidArgumentError, NotFoundError=NotFoundError,
                         AlreadyExistsError=AlreadyExistsError, DataLossError=DataLossError,
                         OutOfRangeError=OutOfRangeError)   # tf.errors
