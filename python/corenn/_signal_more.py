"""More of ``tf.signal``: inverse_stft and its window, the MDCT pair, the Kaiser / KBD / Vorbis
windows, rfft3d / irfft3d. Written with corenn.ops (frames, matmuls with constant bases, the
differentiable FFTs, overlap_and_add), so every transform is differentiable; scalings are
TensorFlow's (checked against TensorFlow 2.21)."""
from __future__ import annotations

import numpy as np

from . import ops
from .ops import ComplexPair

__all__ = ["kaiser_window", "kaiser_bessel_derived_window", "vorbis_window", "inverse_stft",
           "inverse_stft_window_fn", "mdct", "inverse_mdct", "rfft3d", "irfft3d"]


def _length(op, n):
    n = int(n)
    if n < 0:
        raise ValueError(f"tf.signal.{op}: window_length must be >= 0, got {n}")
    return n


def kaiser_window(window_length, beta=12.0, dtype="float32", name=None):
    """I0(beta sqrt(1 - (2n / (N - 1) - 1)^2)) / I0(beta), n = 0..N-1 (symmetric)."""
    n = _length("kaiser_window", window_length)
    if n == 1:
        return ops._to_tensor(np.ones(1, np.float32))
    t = 2.0 * np.arange(n) / max(n - 1, 1) - 1.0
    w = np.i0(float(beta) * np.sqrt(np.clip(1.0 - t * t, 0.0, None))) / np.i0(float(beta))
    return ops._to_tensor(w.astype(np.float32))


def kaiser_bessel_derived_window(window_length, beta=12.0, dtype="float32", name=None):
    """The KBD window of even length N: sqrt(cumsum(kaiser(N/2 + 1)) / sum), mirrored."""
    n = _length("kaiser_bessel_derived_window", window_length)
    half = n // 2
    k = np.asarray(kaiser_window(half + 1, beta), np.float64)
    c = np.cumsum(k[:half]) / k.sum()
    w = np.sqrt(np.concatenate([c, c[::-1]]))
    return ops._to_tensor(w.astype(np.float32))


def vorbis_window(window_length, dtype="float32", name=None):
    """sin(pi / 2 sin^2(pi (n + 1/2) / N))."""
    n = _length("vorbis_window", window_length)
    w = np.sin(np.pi / 2 * np.sin(np.pi * (np.arange(n) + 0.5) / max(n, 1)) ** 2)
    return ops._to_tensor(w.astype(np.float32))


def inverse_stft_window_fn(frame_step, forward_window_fn=None, name=None):
    """A window_fn for inverse_stft that undoes ``forward_window_fn`` (Hann by default): the
    forward window divided by the sum of its squares over the frames overlapping each sample."""
    from .signal import hann_window
    fwd = hann_window if forward_window_fn is None else forward_window_fn
    step = int(frame_step)

    def window_fn(frame_length, dtype="float32"):
        w = np.asarray(fwd(frame_length, dtype="float32"), np.float64)
        L = int(frame_length)
        rows = -(-L // step)
        sq = np.zeros(rows * step)
        sq[:L] = w * w
        denom = np.tile(sq.reshape(rows, step).sum(axis=0), rows)[:L]
        return ops._to_tensor((w / denom).astype(np.float32))
    return window_fn


def inverse_stft(stfts, frame_length, frame_step, fft_length=None, window_fn=None, name=None):
    """The signal of an STFT (..., frames, fft_length // 2 + 1): each frame's irfft cut to
    frame_length, times window_fn(frame_length) (Hann by default; inverse_stft_window_fn for
    perfect reconstruction), overlap-added every frame_step samples."""
    from .signal import hann_window, overlap_and_add
    if not isinstance(stfts, tuple):
        raise TypeError("tf.signal.inverse_stft: stfts must be complex (a (real, imag) pair such as stft returns)")
    L = int(frame_length)
    n = 2 ** int(np.ceil(np.log2(L))) if fft_length is None else int(fft_length)
    re = ops._to_tensor(stfts[0])
    if int(re.shape[-1]) != n // 2 + 1:
        raise ValueError(f"tf.signal.inverse_stft: stfts have {int(re.shape[-1])} bins, fft_length {n} needs "
                         f"{n // 2 + 1}")
    frames = ops.irfft((re, ops._to_tensor(stfts[1])), fft_length=n)
    frames = ops.slice(frames, [0] * frames.ndim, list(frames.shape[:-1]) + [L]) if n > L else frames
    if n < L:
        pad = [(0, 0)] * frames.ndim
        pad[-1] = (0, L - n)
        frames = ops.pad(frames, pad)
    wf = hann_window if window_fn is None else window_fn
    frames = ops.multiply(frames, wf(L, dtype="float32"))
    return overlap_and_add(frames, frame_step)


def _mdct_basis(frame_length):
    half = frame_length // 2
    n, k = np.arange(frame_length), np.arange(half)
    return np.cos(np.pi / half * (n[:, None] + 0.5 + half / 2.0) * (k[None, :] + 0.5))


def _check_norm(op, norm):
    if norm not in (None, "ortho"):
        raise ValueError(f"tf.signal.{op}: norm must be None or 'ortho', got {norm!r}")


def mdct(signals, frame_length, window_fn=None, pad_end=False, norm=None, name=None):
    """The modified DCT of frames of frame_length (even) every frame_length / 2 samples,
    windowed (Vorbis by default): (..., frames, frame_length / 2). norm=None scales by 2,
    'ortho' by sqrt(2 / (frame_length / 2)), as TensorFlow."""
    from .signal import frame
    _check_norm("mdct", norm)
    L = int(frame_length)
    if L < 2 or L % 2:
        raise ValueError(f"tf.signal.mdct: frame_length must be even and >= 2, got {frame_length}")
    frames = frame(ops.cast(signals, "float32"), L, L // 2, pad_end=pad_end)
    wf = vorbis_window if window_fn is None else window_fn
    frames = ops.multiply(frames, wf(L, dtype="float32"))
    scale = 2.0 if norm is None else np.sqrt(2.0 / (L // 2))
    return ops.matmul(frames, (_mdct_basis(L) * scale).astype(np.float32))


def inverse_mdct(mdcts, window_fn=None, norm=None, name=None):
    """The signal of MDCT frames (..., frames, N): each frame's inverse (the transposed basis,
    scaled by 1 / N, or sqrt(2 / N) with 'ortho'), windowed, overlap-added every N samples; with
    a Princen-Bradley window (Vorbis, KBD) it reconstructs mdct's input away from the ends."""
    from .signal import overlap_and_add
    _check_norm("inverse_mdct", norm)
    x = ops.cast(ops._to_tensor(mdcts), "float32")
    half = int(x.shape[-1])
    L = 2 * half
    scale = 1.0 / half if norm is None else np.sqrt(2.0 / half)
    frames = ops.matmul(x, (_mdct_basis(L).T * scale).astype(np.float32))
    wf = vorbis_window if window_fn is None else window_fn
    frames = ops.multiply(frames, wf(L, dtype="float32"))
    return overlap_and_add(frames, half)


def rfft3d(input_tensor, fft_length=None, name=None):  # noqa: A002
    """The 3-D FFT of a real signal over its last three axes (the last halved to n // 2 + 1)."""
    from .signal import _along, _fit
    t = ops.cast(ops._to_tensor(input_tensor), "float32")
    if t.ndim < 3:
        raise ValueError(f"tf.signal.rfft3d: needs at least 3 axes, got shape {tuple(t.shape)}")
    if fft_length is not None:
        d, r, c = (int(v) for v in np.asarray(fft_length).reshape(-1)[:3])
        t = _fit(_fit(_fit(t, -3, d), -2, r), -1, c)
    z = _along("rfft3d", ComplexPair(ops.rfft(t)), -2, ops.fft)
    return _along("rfft3d", z, -3, ops.fft)


def irfft3d(input_tensor, fft_length=None, name=None):  # noqa: A002
    from .signal import _along, _fit, _pair
    if not isinstance(input_tensor, tuple):
        raise TypeError("tf.signal.irfft3d: input_tensor must be complex (a (real, imag) pair)")
    re, im = _pair("irfft3d", input_tensor)
    if re.ndim < 3:
        raise ValueError(f"tf.signal.irfft3d: needs at least 3 axes, got shape {tuple(re.shape)}")
    d, r, c = int(re.shape[-3]), int(re.shape[-2]), None
    if fft_length is not None:
        d, r, c = (int(v) for v in np.asarray(fft_length).reshape(-1)[:3])
    z = (_fit(_fit(re, -3, d), -2, r), _fit(_fit(im, -3, d), -2, r))
    z = _along("irfft3d", z, -3, ops.ifft)
    z = _along("irfft3d", z, -2, ops.ifft)
    return ops.irfft(tuple(z), fft_length=c)
