"""``tf.audio``: WAV files as TensorFlow reads and writes them (``decode_wav`` / ``encode_wav``).

TensorFlow's codec handles 16-bit PCM only: decoding maps a sample s to s / 32768 (so 32767 reads
as 0.9999695), encoding maps x to round(x * 32768) clamped to [-32768, 32767] (round half away
from zero, C's ``roundf``). ``decode_wav(contents, desired_channels, desired_samples)``: a file with
fewer channels than asked repeats its last channel, one with more keeps the first ones; samples
are cut or zero-padded to ``desired_samples``. The RIFF chunks are walked with every length
checked against the buffer before anything is allocated; unknown chunks (LIST, fact ...) are
skipped as RIFF allows. A malformed file is ``tf.errors.InvalidArgumentError`` (a ValueError)
naming the op and what is wrong.
"""
from __future__ import annotations

import collections
import struct

import numpy as np

from .debugging import InvalidArgumentError
from .io._bytes import as_bytes, wrap_bytes

__all__ = ["decode_wav", "encode_wav"]

DecodeWav = collections.namedtuple("DecodeWav", ["audio", "sample_rate"])

_PCM = 1
_EXTENSIBLE = 0xFFFE
_MAX_SAMPLES = 1 << 28   # desired_samples beyond this would be a padding allocation, not a file


def _bad(what):
    return InvalidArgumentError(f"tf.audio.decode_wav: {what}")


def _chunks(data):
    """(id, payload offset, payload length) of each RIFF sub-chunk, lengths checked."""
    if len(data) < 12:
        raise _bad(f"the contents are {len(data)} bytes, too short for a RIFF header")
    if data[:4] != b"RIFF":
        raise _bad(f"header mismatch: expected RIFF but found {data[:4]!r}")
    if data[8:12] != b"WAVE":
        raise _bad(f"header mismatch: expected WAVE but found {data[8:12]!r}")
    pos = 12
    while pos + 8 <= len(data):
        cid, length = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        start = pos + 8
        if length > len(data) - start:
            raise _bad(f"chunk {cid!r} at byte {pos} claims {length} bytes; only {len(data) - start} remain "
                       "(truncated file)")
        yield cid, start, length
        pos = start + length + (length & 1)   # chunks are padded to an even length


def _format(data, start, length):
    if length < 16:
        raise _bad(f"the 'fmt ' chunk has {length} bytes, expected at least 16")
    fmt, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, start)
    if fmt == _EXTENSIBLE and length >= 26:
        fmt = struct.unpack_from("<H", data, start + 24)[0]   # the sub-format GUID's first two bytes
    if fmt != _PCM:
        raise _bad(f"only PCM WAV files are read (format code 1), got format code {fmt}")
    if bits != 16:
        raise _bad(f"can only read 16-bit WAV files, but received {bits}")
    if channels < 1:
        raise _bad("the file declares 0 channels")
    return channels, rate


def _check_desired(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        try:
            value = int(np.asarray(value).reshape(()))
        except (TypeError, ValueError):
            raise TypeError(f"tf.audio.decode_wav: {what} must be an integer, got {type(value).__name__}") from None
    if value < -1 or value == 0 and what == "desired_channels":
        raise InvalidArgumentError(f"tf.audio.decode_wav: {what} must be -1 or positive, got {value}")
    if value > _MAX_SAMPLES:
        raise InvalidArgumentError(f"tf.audio.decode_wav: {what} {value} is above the limit of {_MAX_SAMPLES}")
    return int(value)


def decode_wav(contents, desired_channels=-1, desired_samples=-1, name=None):
    """A 16-bit PCM WAV file's bytes as ``(audio, sample_rate)``: audio a float32 Tensor
    (samples, channels) in [-1, 1), sample_rate an int32 scalar Tensor."""
    from . import kernels
    data = as_bytes(contents, "decode_wav")
    want_c = _check_desired(desired_channels, "desired_channels")
    want_n = _check_desired(desired_samples, "desired_samples")
    fmt = samples = None
    for cid, start, length in _chunks(data):
        if cid == b"fmt ":
            fmt = _format(data, start, length)
        elif cid == b"data":
            if fmt is None:
                raise _bad("the 'data' chunk comes before the 'fmt ' chunk")
            samples = (start, length)
            break
    if fmt is None:
        raise _bad("no 'fmt ' chunk")
    if samples is None:
        raise _bad("no 'data' chunk")
    channels, rate = fmt
    start, length = samples
    frames = length // (2 * channels)
    pcm = np.frombuffer(data, dtype="<i2", count=frames * channels, offset=start).reshape(frames, channels)
    if want_n >= 0:
        pcm = pcm[:want_n]
    if want_c > 0 and want_c != channels:
        take = np.minimum(np.arange(want_c), channels - 1)   # extra channels repeat the last one
        pcm = pcm[:, take]
    audio = pcm.astype(np.float32) * np.float32(1.0 / 32768)
    if want_n > audio.shape[0]:
        audio = np.concatenate([audio, np.zeros((want_n - audio.shape[0], audio.shape[1]), np.float32)])
    return DecodeWav(kernels.as_tensor(np.ascontiguousarray(audio)), kernels.as_tensor(np.array(rate, np.int32)))


def encode_wav(audio, sample_rate, name=None):
    """A (samples, channels) float Tensor as the bytes of a 16-bit PCM WAV file (values clamped to
    [-1, 1))."""
    a = np.asarray(audio.numpy() if hasattr(audio, "numpy") else audio)
    if a.ndim != 2:
        raise InvalidArgumentError(f"tf.audio.encode_wav: audio must be 2-dimensional (samples, channels), "
                                   f"got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"tf.audio.encode_wav: audio must be float32, got {a.dtype}")
    rate = np.asarray(sample_rate.numpy() if hasattr(sample_rate, "numpy") else sample_rate)
    if rate.shape != () or not np.issubdtype(rate.dtype, np.integer) or not 0 < int(rate) < 2 ** 31:
        raise InvalidArgumentError(f"tf.audio.encode_wav: sample_rate must be a positive int32 scalar, got {sample_rate!r}")
    rate = int(rate)
    frames, channels = a.shape
    if channels < 1 or channels > 0xFFFF:
        raise InvalidArgumentError(f"tf.audio.encode_wav: audio must have 1 to 65535 channels, got {channels}")
    scaled = a.astype(np.float64) * 32768.0
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)   # roundf: half away from zero
    pcm = np.clip(np.nan_to_num(rounded), -32768, 32767).astype("<i2").tobytes()
    if len(pcm) > 0xFFFFFFFF - 36:
        raise InvalidArgumentError(f"tf.audio.encode_wav: {frames} x {channels} samples do not fit a WAV file")
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(pcm), b"WAVE", b"fmt ", 16, _PCM, channels, rate,
                         rate * channels * 2, channels * 2, 16, b"data", len(pcm))
    return wrap_bytes(header + pcm)
