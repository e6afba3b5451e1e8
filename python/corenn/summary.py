"""``tf.summary``: TensorBoard event files from custom training loops, written without
TensorFlow (the framing and Event encoding of corenn.callbacks.tensorboard).

``writer = tf.summary.create_file_writer(logdir)``; inside ``with writer.as_default():`` (or after
``writer.set_as_default()``) ``tf.summary.scalar / histogram / image / text(name, data, step=)``
append to ``<logdir>/events.out.tfevents.<time>.<host>.<pid>.corenn``. ``step`` defaults to
``tf.summary.experimental.set_step``'s value (or ``as_default(step=)``); none at all is an error,
as in TensorFlow. Each call returns True when written, False when no writer is the default.

Encodings (Summary.Value fields): scalar as ``simple_value`` (2); histogram as a
``HistogramProto`` (5: min, max, num, sum, sum_squares, bucket_limit, bucket; ``buckets`` equal
bins over the data's range, 30 by default as TensorFlow); image as ``Image`` (4: height, width,
colorspace, PNG bytes) per image, tag ``<name>/image/<k>`` for up to ``max_outputs`` images;
text as a string ``TensorProto`` (8) with the ``text`` plugin's metadata (9).
"""
from __future__ import annotations

import contextlib
import os
import struct
import time
import zlib

import numpy as np

from .callbacks.tensorboard import _EventWriter, _field_bytes, _varint

__all__ = ["create_file_writer", "create_noop_writer", "SummaryWriter", "scalar", "histogram", "image", "text",
           "flush", "experimental", "record_if", "should_record_summaries"]

_default = []      # the stack of writers made default by as_default()
_global_default = [None]
_step = [None]
_record = [True]


class experimental:
    """``tf.summary.experimental.set_step / get_step``."""

    @staticmethod
    def set_step(step):
        _step[0] = None if step is None else step

    @staticmethod
    def get_step():
        return _step[0]


def _current():
    if _default:
        return _default[-1]
    return _global_default[0]


class SummaryWriter:
    """A TensorBoard event file under ``logdir``."""

    def __init__(self, logdir, noop=False):
        self.logdir = os.fspath(logdir)
        self._noop = noop
        self._writer = None

    def _file(self):
        if self._writer is None:
            self._writer = _EventWriter(self.logdir)
        return self._writer

    def init(self):
        if not self._noop:
            self._file()

    @contextlib.contextmanager
    def as_default(self, step=None):
        """Make this the writer tf.summary.* write to inside the block (with step= also the
        default step)."""
        _default.append(self)
        old_step = _step[0]
        if step is not None:
            _step[0] = step
        try:
            yield self
        finally:
            _default.pop()
            if step is not None:
                _step[0] = old_step
            self.flush()

    def set_as_default(self, step=None):
        _global_default[0] = self
        if step is not None:
            _step[0] = step

    def flush(self):
        if self._writer is not None:
            self._writer._file.flush()

    def close(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __del__(self):   # an unclosed writer's file is closed with it, as TensorFlow's is at exit
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def _write(self, step, values):
        if self._noop:
            return
        event = bytearray(_varint(1 << 3 | 1) + struct.pack("<d", time.time()))
        event += _varint(2 << 3 | 0) + _varint(int(step))
        event += _field_bytes(5, b"".join(_field_bytes(1, v) for v in values))
        self._file()._write(bytes(event))


def create_file_writer(logdir, max_queue=None, flush_millis=None, filename_suffix=None, name=None,
                       experimental_trackable=False, experimental_mesh=None):
    """A SummaryWriter for ``logdir`` (the event file is created on the first write or init())."""
    if logdir is None or not str(os.fspath(logdir)):
        raise ValueError("tf.summary.create_file_writer: logdir must be a directory path")
    return SummaryWriter(logdir)


def create_noop_writer():
    return SummaryWriter("", noop=True)


def flush(writer=None, name=None):
    w = writer or _current()
    if w is not None:
        w.flush()


@contextlib.contextmanager
def record_if(condition):
    old = _record[0]
    _record[0] = condition
    try:
        yield
    finally:
        _record[0] = old


def should_record_summaries():
    return _current() is not None and bool(_record[0]() if callable(_record[0]) else _record[0])


def _step_of(op, step):
    s = _step[0] if step is None else step
    if s is None:
        raise ValueError(f"tf.summary.{op}: no step given and none set (pass step=, use "
                         f"writer.as_default(step=...) or tf.summary.experimental.set_step)")
    a = np.asarray(s)
    if a.size != 1 or a.dtype.kind not in "iu":
        raise ValueError(f"tf.summary.{op}: step must be an integer, got {s!r}")
    return int(a.reshape(()))


def _tag(op, name):
    if not isinstance(name, str) or not name:
        raise ValueError(f"tf.summary.{op}: name must be a non-empty string, got {name!r}")
    return name.encode("utf-8")


def _writer_for(op, step):
    w = _current()
    if w is None or not should_record_summaries():
        return None, None
    return w, _step_of(op, step)


def _double(field, value):
    return _varint(field << 3 | 1) + struct.pack("<d", float(value))


def _packed_doubles(field, values):
    return _field_bytes(field, struct.pack(f"<{len(values)}d", *values))


def scalar(name, data, step=None, description=None):
    """Write a scalar (a number or a 1-element tensor)."""
    tag = _tag("scalar", name)
    a = np.asarray(data)
    if a.size != 1 or a.dtype.kind not in "biuf":
        raise ValueError(f"tf.summary.scalar: data must be a single number, got shape {a.shape} dtype {a.dtype}")
    w, s = _writer_for("scalar", step)
    if w is None:
        return False
    w._write(s, [_field_bytes(1, tag) + _varint(2 << 3 | 5) + struct.pack("<f", float(a.reshape(())))])
    return True


def histogram(name, data, step=None, buckets=None, description=None):
    """Write the distribution of ``data``'s values in ``buckets`` equal bins (30 by default)."""
    tag = _tag("histogram", name)
    a = np.asarray(data, np.float64).reshape(-1)
    if not np.all(np.isfinite(a)):
        raise ValueError("tf.summary.histogram: data holds NaN or infinite values")
    k = 30 if buckets is None else int(buckets)
    if k < 1:
        raise ValueError(f"tf.summary.histogram: buckets must be >= 1, got {buckets}")
    w, s = _writer_for("histogram", step)
    if w is None:
        return False
    w._write(s, [histogram_value(tag, a, k)])
    return True


def histogram_value(tag, a, k=30):
    """The Summary ``Value`` (bytes) of a HistogramProto of the float64 values ``a`` in ``k``
    equal bins; the TensorBoard callback's weight histograms write the same."""
    if a.size:
        lo, hi = float(a.min()), float(a.max())
        if hi == lo:
            lo, hi = lo - 0.5, hi + 0.5
        counts, edges = np.histogram(a, bins=k, range=(lo, hi))
        limits = edges[1:].tolist()
    else:
        counts, limits = np.zeros(0), []
    histo = (_double(1, a.min() if a.size else 0.0) + _double(2, a.max() if a.size else 0.0)
             + _double(3, a.size) + _double(4, a.sum()) + _double(5, np.square(a).sum()))
    if limits:
        histo += _packed_doubles(6, limits) + _packed_doubles(7, counts.astype(np.float64).tolist())
    return _field_bytes(1, tag) + _field_bytes(5, histo)


def _png(img):
    """PNG bytes of an (h, w, c) uint8 image (c = 1, 3 or 4)."""
    h, w, c = img.shape
    color = {1: 0, 3: 2, 4: 6}[c]

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def image(name, data, step=None, max_outputs=3, description=None):
    """Write up to ``max_outputs`` images of ``data`` (k, h, w, c), c = 1, 3 or 4; floats in
    [0, 1] (scaled to 0..255) or uint8."""
    tag = _tag("image", name)
    a = np.asarray(data)
    if a.ndim != 4 or a.shape[-1] not in (1, 3, 4):
        raise ValueError(f"tf.summary.image: data must be (k, h, w, c) with c = 1, 3 or 4, got shape {a.shape}")
    if a.dtype.kind == "f":
        a = (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif a.dtype.kind in "iu" and a.size and 0 <= int(a.min()) and int(a.max()) <= 255:
        a = a.astype(np.uint8)   # a uint8 tensor, which corenn stores as int32
    elif a.dtype != np.uint8:
        raise ValueError(f"tf.summary.image: data must be float (in [0, 1]) or uint8, got {a.dtype}")
    w, s = _writer_for("image", step)
    if w is None:
        return False
    values = []
    for k in range(min(int(max_outputs), a.shape[0])):
        img = np.ascontiguousarray(a[k])
        body = (_varint(1 << 3) + _varint(img.shape[0]) + _varint(2 << 3) + _varint(img.shape[1])
                + _varint(3 << 3) + _varint(img.shape[2]) + _field_bytes(4, _png(img)))
        values.append(_field_bytes(1, tag + f"/image/{k}".encode()) + _field_bytes(4, body))
    if values:
        w._write(s, values)
    return True


def text(name, data, step=None, description=None):
    """Write a string (or an array of strings) for TensorBoard's text dashboard."""
    tag = _tag("text", name)
    a = np.asarray(data.numpy() if hasattr(data, "numpy") and not isinstance(data, np.ndarray) else data)
    if a.dtype.kind not in "OUS":
        raise ValueError(f"tf.summary.text: data must be strings, got dtype {a.dtype}")
    w, s = _writer_for("text", step)
    if w is None:
        return False
    strings = [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in a.reshape(-1)]
    shape = b"".join(_field_bytes(2, _varint(1 << 3) + _varint(d)) for d in a.shape)
    tensor = _varint(1 << 3) + _varint(7) + _field_bytes(2, shape) + b"".join(_field_bytes(8, v) for v in strings)
    metadata = _field_bytes(1, _field_bytes(1, b"text"))
    w._write(s, [_field_bytes(1, tag) + _field_bytes(9, metadata) + _field_bytes(8, tensor)])
    return True
