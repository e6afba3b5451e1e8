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
    return ops._to_tensor(w.astype(np.float32))


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
    t = ops._to_tensor(signal)
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


# -- Fourier transforms on corenn's complex tensors (a ComplexPair; a real tensor counts as one with
# a zero imaginary part). All are compositions of corenn.ops' differentiable FFTs, so a
# GradientTape differentiates them with respect to the real and imaginary parts. ----------------

__all__ += ["fft", "ifft", "irfft", "fft2d", "ifft2d", "rfft2d", "irfft2d", "fft3d", "ifft3d", "fftshift",
            "ifftshift", "overlap_and_add"]


def _pair(op, x):
    if isinstance(x, tuple):
        if len(x) != 2:
            raise ValueError(f"tf.signal.{op}: a complex value is a (real, imag) pair, got {len(x)} parts")
        re, im = ops._to_tensor(x[0]), ops._to_tensor(x[1])
    else:
        re = ops._to_tensor(x)
        if re.dtype != "float32":
            re = ops.cast(re, "float32")
        im = ops.zeros_like(re)
    if re.ndim < 1:
        raise ValueError(f"tf.signal.{op}: needs at least one axis, got a scalar")
    return re, im


def _along(op, x, axis, fn):
    """fn (an FFT over the last axis) applied along ``axis``."""
    re, im = _pair(op, x)
    if axis in (-1, re.ndim - 1):
        return ComplexPair(fn((re, im)))
    re, im = ops.swapaxes(re, axis, -1), ops.swapaxes(im, axis, -1)
    yr, yi = fn((re, im))
    return ComplexPair((ops.swapaxes(yr, axis, -1), ops.swapaxes(yi, axis, -1)))


def fft(input, name=None):  # noqa: A002
    """The discrete Fourier transform over the last axis."""
    return _along("fft", input, -1, ops.fft)


def ifft(input, name=None):  # noqa: A002
    return _along("ifft", input, -1, ops.ifft)


def _nd(op, input, axes, fn):  # noqa: A002
    z = _pair(op, input)
    if z[0].ndim < len(axes):
        raise ValueError(f"tf.signal.{op}: needs at least {len(axes)} axes, got shape {tuple(z[0].shape)}")
    for ax in axes:
        z = _along(op, z, ax, fn)
    return z


def fft2d(input, name=None):  # noqa: A002
    return _nd("fft2d", input, (-1, -2), ops.fft)


def ifft2d(input, name=None):  # noqa: A002
    return _nd("ifft2d", input, (-1, -2), ops.ifft)


def fft3d(input, name=None):  # noqa: A002
    return _nd("fft3d", input, (-1, -2, -3), ops.fft)


def ifft3d(input, name=None):  # noqa: A002
    return _nd("ifft3d", input, (-1, -2, -3), ops.ifft)


def irfft(input_tensor, fft_length=None, name=None):  # noqa: A002
    """The real signal of length fft_length (default 2 (m - 1)) whose rfft is input_tensor."""
    if not isinstance(input_tensor, tuple):
        raise TypeError("tf.signal.irfft: input_tensor must be complex (a (real, imag) pair such as rfft returns)")
    n = None if fft_length is None else int(np.asarray(fft_length).reshape(-1)[0])
    return ops.irfft(_pair("irfft", input_tensor), fft_length=n)


def _fit(t, axis, n):
    """t cropped or zero-padded to n entries along axis."""
    have = int(t.shape[axis])
    if n == have:
        return t
    if n < have:
        return ops.slice(t, [0] * t.ndim, [n if i == axis % t.ndim else int(d) for i, d in enumerate(t.shape)])
    pad = [(0, 0)] * t.ndim
    pad[axis % t.ndim] = (0, n - have)
    return ops.pad(t, pad)


def rfft2d(input_tensor, fft_length=None, name=None):  # noqa: A002
    """The 2-D FFT of a real signal over its last two axes, the last one halved (n // 2 + 1)."""
    t = ops._to_tensor(input_tensor)
    if t.ndim < 2:
        raise ValueError(f"tf.signal.rfft2d: needs at least 2 axes, got shape {tuple(t.shape)}")
    if fft_length is not None:
        rows, cols = (int(v) for v in np.asarray(fft_length).reshape(-1)[:2])
        t = _fit(_fit(t, -2, rows), -1, cols)
    return _along("rfft2d", ComplexPair(ops.rfft(t)), -2, ops.fft)


def irfft2d(input_tensor, fft_length=None, name=None):  # noqa: A002
    if not isinstance(input_tensor, tuple):
        raise TypeError("tf.signal.irfft2d: input_tensor must be complex (a (real, imag) pair)")
    re, im = _pair("irfft2d", input_tensor)
    if re.ndim < 2:
        raise ValueError(f"tf.signal.irfft2d: needs at least 2 axes, got shape {tuple(re.shape)}")
    rows = int(re.shape[-2])
    cols = None
    if fft_length is not None:
        rows, cols = (int(v) for v in np.asarray(fft_length).reshape(-1)[:2])
    z = _along("irfft2d", (_fit(re, -2, rows), _fit(im, -2, rows)), -2, ops.ifft)
    return ops.irfft(tuple(z), fft_length=cols)


def _shift(op, x, axes, sign):
    def roll(t):
        ax = list(range(t.ndim)) if axes is None else [int(a) for a in np.asarray(axes).reshape(-1)]
        for a in ax:
            n = int(t.shape[a])
            t = ops.roll(t, sign * (n // 2) if sign > 0 else -(n // 2), axis=a)
        return t
    if isinstance(x, tuple):
        return ComplexPair((roll(ops._to_tensor(x[0])), roll(ops._to_tensor(x[1]))))
    return roll(ops._to_tensor(x))


def fftshift(x, axes=None, name=None):
    """The zero frequency moved to the middle (as numpy.fft.fftshift)."""
    return _shift("fftshift", x, axes, 1)


def ifftshift(x, axes=None, name=None):
    return _shift("ifftshift", x, axes, -1)


def overlap_and_add(signal, frame_step, name=None):
    """(..., frames, frame_length) -> (..., (frames - 1) * frame_step + frame_length): each frame
    added in at frame * frame_step (differentiable)."""
    t = ops._to_tensor(signal)
    if t.ndim < 2:
        raise ValueError(f"tf.signal.overlap_and_add: needs (..., frames, frame_length), got shape {tuple(t.shape)}")
    step = int(frame_step)
    frames, length = int(t.shape[-2]), int(t.shape[-1])
    if step < 1:
        raise ValueError(f"tf.signal.overlap_and_add: frame_step must be >= 1, got {frame_step}")
    out_len = (frames - 1) * step + length if frames else 0
    # a (frames * length, out_len) 0/1 matrix placing each frame sample: a matmul carries the gradient
    place = np.zeros((frames * length, out_len), np.float32)
    rows = np.arange(frames * length)
    place[rows, (rows // length) * step + rows % length] = 1.0
    flat = ops.reshape(t, list(t.shape[:-2]) + [frames * length])
    return ops.matmul(flat, place)


# -- mel spectrograms and MFCCs (the speech front end of TensorFlow's audio tutorials) ------------

__all__ += ["linear_to_mel_weight_matrix", "dct", "idct", "mfccs_from_log_mel_spectrograms"]


def _hertz_to_mel(f):
    return 1127.0 * np.log1p(np.asarray(f, np.float64) / 700.0)


def linear_to_mel_weight_matrix(num_mel_bins=20, num_spectrogram_bins=129, sample_rate=8000, lower_edge_hertz=125.0,
                                upper_edge_hertz=3800.0, dtype="float32", name=None):
    """The (num_spectrogram_bins, num_mel_bins) matrix of triangular mel filters (HTK's mel scale,
    mel = 1127 ln(1 + f / 700)); the spectrogram's bins are spread over [0, sample_rate / 2] and
    the DC bin gets no weight, as TensorFlow's. ``spectrogram @ matrix`` is the mel spectrogram."""
    mels, bins = int(num_mel_bins), int(num_spectrogram_bins)
    lo, hi, rate = float(lower_edge_hertz), float(upper_edge_hertz), float(sample_rate)
    if mels <= 0 or bins <= 1 or rate <= 0:
        raise ValueError(f"tf.signal.linear_to_mel_weight_matrix: needs num_mel_bins > 0, num_spectrogram_bins > 1 "
                         f"and sample_rate > 0, got {num_mel_bins}, {num_spectrogram_bins}, {sample_rate}")
    if not 0.0 <= lo < hi <= rate / 2.0:
        raise ValueError(f"tf.signal.linear_to_mel_weight_matrix: needs 0 <= lower_edge_hertz < upper_edge_hertz <= "
                         f"sample_rate / 2, got {lower_edge_hertz}, {upper_edge_hertz} (sample_rate {sample_rate})")
    bin_mel = _hertz_to_mel(np.linspace(0.0, rate / 2.0, bins)[1:])[:, None]
    edges = np.linspace(_hertz_to_mel(lo), _hertz_to_mel(hi), mels + 2)
    left, center, right = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mel - left) / (center - left)
    falling = (right - bin_mel) / (right - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    out = np.concatenate([np.zeros((1, mels)), weights], axis=0)
    return ops._to_tensor(out.astype(np.float32))


def _dct_matrix(op, n, kind, norm):
    """M with dct(x) = x @ M over the last axis (float64 then float32)."""
    k = np.arange(n)[None, :]
    i = np.arange(n)[:, None]
    if kind == 2:
        m = 2.0 * np.cos(np.pi * k * (2 * i + 1) / (2.0 * n))
        if norm == "ortho":
            m[:, 0] *= np.sqrt(1.0 / (4.0 * n))
            m[:, 1:] *= np.sqrt(1.0 / (2.0 * n))
    elif kind == 3:
        m = 2.0 * np.cos(np.pi * i * (2 * k + 1) / (2.0 * n))
        m[0, :] = 1.0
        if norm == "ortho":
            m[0, :] *= 1.0 / np.sqrt(n)
            m[1:, :] *= np.sqrt(1.0 / (2.0 * n))
    else:
        raise ValueError(f"tf.signal.{op}: only DCT types 2 and 3 are supported, got type={kind}")
    return m.astype(np.float32)


def dct(input, type=2, n=None, axis=-1, norm=None, name=None):  # noqa: A002 - TensorFlow's names
    """The DCT-II (or DCT-III) over the last axis, unnormalized or norm='ortho' (SciPy's and
    TensorFlow's conventions); ``n`` crops or zero-pads first. A matmul, so differentiable."""
    if axis not in (-1,):
        raise ValueError(f"tf.signal.dct: only axis=-1 is supported, got {axis}")
    if norm not in (None, "ortho"):
        raise ValueError(f"tf.signal.dct: norm must be None or 'ortho', got {norm!r}")
    t = ops._to_tensor(input)
    if t.dtype != "float32":
        t = ops.cast(t, "float32")
    if n is not None:
        t = _fit(t, -1, int(n))
    return ops.matmul(t, _dct_matrix("dct", int(t.shape[-1]), int(type), norm))


def idct(input, type=2, n=None, axis=-1, norm=None, name=None):  # noqa: A002
    """TensorFlow's idct: the DCT of the other type (III for II, II for III). With norm='ortho' it
    inverts dct; without, as TensorFlow documents, dct's output must be scaled by 1 / (2N) for
    idct to give the input back (SciPy's idct scales itself; TensorFlow's does not)."""
    kind = int(type)
    if kind not in (2, 3):
        raise ValueError(f"tf.signal.idct: only DCT types 2 and 3 are supported, got type={type}")
    return dct(input, type=5 - kind, n=n, axis=axis, norm=norm)


def mfccs_from_log_mel_spectrograms(log_mel_spectrograms, name=None):
    """MFCCs: the DCT-II of the log mel spectrogram scaled by 1 / sqrt(2 num_mel_bins) (HTK's
    scaling, as TensorFlow's)."""
    t = ops._to_tensor(log_mel_spectrograms)
    bins = int(t.shape[-1]) if t.ndim else 0
    if bins < 1:
        raise ValueError(f"tf.signal.mfccs_from_log_mel_spectrograms: needs a last axis of mel bins, got shape "
                         f"{tuple(t.shape)}")
    return ops.multiply(dct(t, type=2), np.float32(1.0 / np.sqrt(2.0 * bins)))


# inverse_stft, the MDCT pair, Kaiser / KBD / Vorbis windows, rfft3d / irfft3d
from ._signal_more import (inverse_mdct, inverse_stft, inverse_stft_window_fn, irfft3d,  # noqa: E402,F401
                           kaiser_bessel_derived_window, kaiser_window, mdct, rfft3d, vorbis_window)
from ._signal_more import __all__ as _more  # noqa: E402

__all__ += _more

from ._tf_small import fftnd, ifftnd, irfftnd, rfftnd  # noqa: E402,F401

__all__ += ["fftnd", "ifftnd", "rfftnd", "irfftnd"]
