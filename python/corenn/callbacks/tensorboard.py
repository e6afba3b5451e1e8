"""TensorBoard: the logs of fit as TensorBoard event files, written without TensorFlow.

Files: ``<log_dir>/train/events.out.tfevents.<seconds>.<host>.<pid>.corenn`` and the same under
``<log_dir>/validation``, the layout Keras writes; scalars ``epoch_<key>`` at step = epoch (the
``val_`` prefix dropped in validation/, as Keras does), and with ``update_freq="batch"`` or N
also ``batch_<key>`` every N training batches at step = the global batch count.

Format (what TensorBoard's reader takes): a sequence of TFRecords (length as little-endian
uint64, its masked CRC-32C, the bytes, their masked CRC-32C; masked(c) = ((c >> 15 | c << 17)
+ 0xa282ead8) mod 2^32), each holding one ``Event`` protocol buffer. The first event carries
``file_version = "brain.Event:2"``; each later one ``wall_time`` (field 1, double), ``step``
(field 2, varint) and a ``Summary`` (field 5) of ``Value``s with ``tag`` (1) and
``simple_value`` (2, float). The few protobuf fields are encoded here by hand.

With ``histogram_freq`` = N, every N epochs each layer weight's distribution is written to
train/ as a histogram (HistogramProto: 30 equal bins, as ``tf.summary.histogram``) tagged
``<weight path>/histogram`` at step = epoch, as Keras 3's ``_log_weights`` does.

Not written: the graph, images, embeddings, profiles; asking for embeddings warns once and the
rest is still written.
"""
import os
import socket
import struct
import time
import warnings

from .base import Callback

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1   # CRC-32C (Castagnoli), reflected
    _CRC_TABLE.append(_c)


def _crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked_crc(data: bytes) -> int:
    crc = _crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_bytes(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def event_bytes(wall_time, step=None, file_version=None, scalars=None) -> bytes:
    """One serialized Event protocol buffer (see the module docstring)."""
    out = bytearray(_varint(1 << 3 | 1) + struct.pack("<d", wall_time))
    if step is not None:
        out += _varint(2 << 3 | 0) + _varint(int(step))
    if file_version is not None:
        out += _field_bytes(3, file_version.encode())
    if scalars:
        summary = b"".join(_field_bytes(1, _field_bytes(1, tag.encode()) + _varint(2 << 3 | 5)
                                        + struct.pack("<f", float(value)))
                           for tag, value in scalars.items())
        out += _field_bytes(5, summary)
    return bytes(out)


def record_bytes(data: bytes) -> bytes:
    """One TFRecord: the framing TensorBoard's event file reader checks."""
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", _masked_crc(header)) + data + struct.pack("<I", _masked_crc(data))


class _EventWriter:
    def __init__(self, directory):
        os.makedirs(directory, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}.corenn"
        self.path = os.path.join(directory, name)
        self._file = open(self.path, "ab")
        self._write(event_bytes(time.time(), file_version="brain.Event:2"))

    def _write(self, event):
        self._file.write(record_bytes(event))
        self._file.flush()

    def scalars(self, step, values):
        if values:
            self._write(event_bytes(time.time(), step=step, scalars=values))

    def summary_values(self, step, values):
        """An event holding already encoded Summary ``Value``s (histograms)."""
        if values:
            event = event_bytes(time.time(), step=step) + _field_bytes(5, b"".join(_field_bytes(1, v) for v in values))
            self._write(event)

    def close(self):
        self._file.close()


def _numbers(logs):
    out = {}
    for key, value in (logs or {}).items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


class TensorBoard(Callback):
    """Keras' TensorBoard callback: the training and validation scalars as event files under
    ``log_dir`` (view them with ``tensorboard --logdir <log_dir>``). See the module docstring
    for what is and is not written."""

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (isinstance(update_freq, bool) or not isinstance(update_freq, int)
                                       or update_freq < 1):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive integer, "
                             f"got {update_freq!r}")
        self.update_freq = update_freq
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be a non-negative integer, got {histogram_freq!r}")
        self.histogram_freq, self.embeddings_freq = histogram_freq, embeddings_freq
        if embeddings_freq:
            warnings.warn("TensorBoard: corenn writes scalars and weight histograms only; embeddings_freq is "
                          "ignored", UserWarning, stacklevel=2)
        self._train = self._val = None
        self._batches = 0

    def get_config(self):
        return {"log_dir": self.log_dir, "update_freq": self.update_freq,
                "histogram_freq": self.histogram_freq, "embeddings_freq": self.embeddings_freq}

    def on_train_begin(self, logs=None):
        self._train = _EventWriter(os.path.join(self.log_dir, "train"))
        self._val = None

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self.update_freq != "epoch" and self._batches % self.update_freq == 0 and self._train:
            self._train.scalars(self._batches, {f"batch_{k}": v for k, v in _numbers(logs).items()})

    def on_epoch_end(self, epoch, logs=None):
        values = _numbers(logs)
        train = {f"epoch_{k}": v for k, v in values.items() if not k.startswith("val_")}
        val = {f"epoch_{k[4:]}": v for k, v in values.items() if k.startswith("val_")}
        if self._train is not None:
            self._train.scalars(epoch, train)
            if self.histogram_freq and epoch % self.histogram_freq == 0:
                self._log_weights(epoch)
        if val:
            if self._val is None:
                self._val = _EventWriter(os.path.join(self.log_dir, "validation"))
            self._val.scalars(epoch, val)

    def _log_weights(self, epoch):
        import numpy as np
        from ..summary import histogram_value
        values = []
        for layer in self.model.layers:
            for weight in layer.weights:
                name = str(getattr(weight, "path", None) or getattr(weight, "name", "weight")).replace(":", "_")
                a = np.asarray(weight, np.float64).reshape(-1)
                if np.all(np.isfinite(a)):   # a diverged weight is left out, not a crash of fit
                    values.append(histogram_value(f"{name}/histogram".encode("utf-8"), a))
        self._train.summary_values(epoch, values)

    def on_train_end(self, logs=None):
        for writer in (self._train, self._val):
            if writer is not None:
                writer.close()
        self._train = self._val = None
