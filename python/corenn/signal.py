"""``tf.signal``: TensorFlow's framing, windows and short-time Fourier transform over
``corenn.ops`` (differentiable with respect to the signal). corenn has no complex dtype: where
TensorFlow returns complex64, these return a ``ComplexPair`` (real, imag) whose ``tf.abs`` is the
magnitude, as the "Simple audio recognition" tutorial uses it."""
from __future__ import annotations

import math as _math

import numpy as np

from . import ops
from .ops import ComplexPair

__all__ = ["stft", "frame", "hann_window", "hamming_window", "rfft", "ComplexPair"]


def _window(name, length, periodic, a0):
    n = int(length)
    if n < 0:
        raise ValueError(f"tf.signal.{name}: window_length must be >= 0, got {n}")
    if n == 1:
        return ops.ones((1,))
    denom = n if periodic else n - 1
    w = a0 - (1.0 - a0) * np.cos(2.0 * np.pi * np.arange(n) / max(denom, 1))
    return ops.convert_to_tensor(w.astype(np.float32))


def hann_window(window_length, periodic=True, dtype="float32", name=None):
    """0.5 - 0.5 cos(2 pi n / N), N = window_length when periodic (TensorFlow's default)."""
    return _window("hann_window", window_length, periodic, 0.5)


def hamming_window(window_length, periodic=True, dtype="float32", name=None):
    return _window("hamming_window", window_length, periodic, 0.54)


def frame(signal, frame_length, frame_step, pad_end=False, pad_value=0, axis=-1, name=None):
    """Frames of the last axis: (..., samples) -> (..., frames, frame_length); with pad_end the
    signal is padded with pad_value so every sample starts... (TensorFlow: ceil(samples / step)
    frames)."""
    if axis not in (-1,):
        raise ValueError(f"tf.signal.frame: only axis=-1 is supported, got {axis}")
    t = ops.convert_to_tensor(signal)
    n, L, s = int(t.shape[-1]), int(frame_length), int(frame_step)
    if L <= 0 or s <= 0:
        raise ValueError(f"tf.signal.frame: frame_length {L} and frame_step {s} must be positive")
    if pad_end:
        frames = -(-n // s)
        need = (frames - 1) * s + L
        if need > n:
            t = ops.pad(t, [(0, 0)] * (t.ndim - 1) + [(0, need - n)], constant_values=pad_value)
    elif n < L:
        raise ValueError(f"tf.signal.frame: the signal of length {n} is shorter than frame_length {L}")
    return ops.extract_sequences(t, L, s)


def rfft(input_tensor, fft_length=None, name=None):  # noqa: A002 - TensorFlow's names
    n = None if fft_length is None else int(np.asarray(fft_length).reshape(-1)[0])
    return ComplexPair(ops.rfft(input_tensor, fft_length=n))


def stft(signals, frame_length, frame_step, fft_length=None, window_fn=hann_window, pad_end=False, name=None):
    """TensorFlow's STFT: frames of frame_length every frame_step samples (no centering), times
    window_fn(frame_length), each zero-padded at the end to fft_length (default: the smallest
    power of 2 >= frame_length), through rfft. Shape (..., frames, fft_length // 2 + 1)."""
    L = int(frame_length)
    n = 2 ** int(_math.ceil(_math.log2(L))) if fft_length is None else int(fft_length)
    if n < L:
        raise ValueError(f"tf.signal.stft: fft_length {n} is shorter than frame_length {L}")
    frames = frame(ops.cast(signals, "float32"), L, frame_step, pad_end=pad_end)
    if window_fn is not None:
        frames = ops.multiply(frames, window_fn(L, dtype="float32"))
    return ComplexPair(ops.rfft(frames, fft_length=n))
