"""Byte strings as ``tf.io`` takes and gives them.

TensorFlow's ``tf.string`` holds bytes. corenn's string arrays (``tf.strings``) hold ``str``, and
``tf.data`` hands string elements to ``map`` functions as 0-d object arrays of bytes. File
contents and encoded images are binary, so ``tf.io`` returns a ``BytesScalar`` (a ``bytes``
with TensorFlow's ``numpy()``, ``shape`` and ``dtype``) and takes any of: bytes, str, a 0-d
array of either, a ``StringScalar``.
"""
from __future__ import annotations

import os

import numpy as np


class BytesScalar(bytes):
    """One binary string, as an eager ``tf.string`` scalar: ``numpy()`` gives the bytes."""

    shape = ()
    ndim = 0
    dtype = "string"

    def numpy(self):
        return bytes(self)

    def __repr__(self):
        text = bytes.__repr__(self)
        return f"<tf.Tensor: shape=(), dtype=string, numpy={text if len(text) < 80 else text[:76] + '...'}>"


def wrap_bytes(b):
    return BytesScalar(b)


def as_bytes(x, op):
    """``x`` (bytes / str / 0-d array or 1-element array of either) as bytes."""
    if isinstance(x, np.ndarray):
        if x.size != 1:
            raise ValueError(f"tf.io.{op}: expected a string scalar, got an array of shape {x.shape}")
        x = x.reshape(-1)[0]
    if isinstance(x, (bytes, bytearray, memoryview)):
        return bytes(x)
    if isinstance(x, str):
        return x.encode("utf-8")
    if hasattr(x, "numpy") and not isinstance(x, (int, float)):
        return as_bytes(np.asarray(x.numpy(), dtype=object), op)
    raise TypeError(f"tf.io.{op}: expected a string (bytes or str), got {type(x).__name__}")


def as_path(x, op):
    """A file name from bytes / str / PathLike / 0-d string array."""
    if isinstance(x, os.PathLike):
        return os.fspath(x)
    return os.fsdecode(as_bytes(x, op))
