"""Audio preprocessing: Keras 3's ``MelSpectrogram``.

Math, for a signal x of L samples (or a batch of them, shape (N, L)):
    frames   the STFT of ops.stft: x reflect-padded by fft_length // 2 on both sides, a frame of
             ``sequence_length`` samples every ``sequence_stride`` (1 + L // stride frames),
             times the window, zero-padded to ``fft_length``, through the real FFT;
    power    |STFT|^mag_exp, shape (..., frames, fft_length // 2 + 1);
    mel      power @ W, W the (fft_length // 2 + 1, num_mel_bins) triangular filter bank on the
             mel scale m(f) = 1127 ln(1 + f / 700) between min_freq and max_freq (the DC bin
             gets no weight), as tf.signal.linear_to_mel_weight_matrix builds it;
    dB       with power_to_db: 10 log10(max(mel, min_power)) - 10 log10(max(|ref_power|,
             min_power)), floored at (its maximum over the whole call) - top_db;
then time and mel axes swapped: the output is (..., num_mel_bins, frames), as in Keras.

Every step is a recorded op (ops.stft, matmul, log, maximum), so the layer runs in a model, on
a tape and through ``fit`` like any other; it has no weights.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from .base import Layer, shape_str

_MEL_BREAK_HZ = 700.0
_MEL_HIGH_Q = 1127.0


def _hertz_to_mel(hz):
    return _MEL_HIGH_Q * np.log1p(np.asarray(hz, np.float64) / _MEL_BREAK_HZ)


def mel_weight_matrix(num_mel_bins, num_spectrogram_bins, sampling_rate, lower_edge_hertz,
                      upper_edge_hertz):
    """(num_spectrogram_bins, num_mel_bins) float32: triangular bands, evenly spaced on the mel
    scale between the two edges, each rising from its lower edge to its centre and falling to
    its upper edge (the centre of a band is an edge of its neighbours). The spectrogram's bins
    lie evenly on [0, sampling_rate / 2]; the DC bin's row is zero."""
    bins = np.linspace(0.0, sampling_rate / 2.0, int(num_spectrogram_bins))[1:]
    bins_mel = _hertz_to_mel(bins)[:, None]
    edges = np.linspace(_hertz_to_mel(lower_edge_hertz), _hertz_to_mel(upper_edge_hertz), num_mel_bins + 2)
    lower, center, upper = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]
    rising = (bins_mel - lower) / (center - lower)
    falling = (upper - bins_mel) / (upper - center)
    w = np.maximum(0.0, np.minimum(rising, falling))
    return np.concatenate([np.zeros((1, num_mel_bins)), w]).astype(np.float32)


class MelSpectrogram(Layer):
    """Raw audio (L,) or (N, L) to a mel spectrogram (num_mel_bins, frames) or (N, num_mel_bins,
    frames), as Keras 3's ``keras.layers.MelSpectrogram`` (module docstring for the math).

    Args: fft_length, sequence_stride, sequence_length (frame length, default fft_length; at most
    fft_length), window ("hann", "hamming" or None), sampling_rate, num_mel_bins, min_freq,
    max_freq (default sampling_rate / 2), power_to_db, top_db, mag_exp, min_power, ref_power.
    """

    def __init__(self, fft_length=2048, sequence_stride=512, sequence_length=None, window="hann",
                 sampling_rate=16000, num_mel_bins=128, min_freq=20.0, max_freq=None, power_to_db=True,
                 top_db=80.0, mag_exp=2.0, min_power=1e-10, ref_power=1.0, **kwargs):
        super().__init__(**kwargs)
        self.fft_length = _positive_int("fft_length", fft_length)
        self.sequence_stride = _positive_int("sequence_stride", sequence_stride)
        self.sequence_length = _positive_int("sequence_length", sequence_length or fft_length)
        if self.sequence_length > self.fft_length:
            raise ValueError(f"MelSpectrogram: fft_length must be >= sequence_length, got fft_length="
                             f"{self.fft_length}, sequence_length={self.sequence_length}")
        self.window = window
        self.sampling_rate = sampling_rate
        self.num_mel_bins = _positive_int("num_mel_bins", num_mel_bins)
        self.min_freq = min_freq
        self.max_freq = max_freq or int(sampling_rate / 2)
        if not 0 <= float(self.min_freq) < float(self.max_freq):
            raise ValueError(f"MelSpectrogram: need 0 <= min_freq < max_freq, got min_freq={self.min_freq}, "
                             f"max_freq={self.max_freq}")
        self.power_to_db = bool(power_to_db)
        self.top_db = top_db
        self.mag_exp = mag_exp
        self.min_power = min_power
        self.ref_power = ref_power
        self._bank = mel_weight_matrix(self.num_mel_bins, self.fft_length // 2 + 1, float(sampling_rate),
                                       float(self.min_freq), float(self.max_freq))

    def call(self, inputs):
        rank = len(np.shape(inputs))
        if rank not in (1, 2):
            raise ValueError(f"MelSpectrogram '{self.name}': expected audio of shape (samples,) or "
                             f"(batch, samples), got {shape_str(np.shape(inputs))}")
        real, imag = ops.stft(inputs, self.sequence_length, self.sequence_stride, self.fft_length,
                              window=self.window, center=True)
        magnitude = ops.sqrt(ops.add(ops.square(real), ops.square(imag)))
        power = ops.power(magnitude, self.mag_exp) if self.mag_exp != 1 else magnitude
        mel = ops.matmul(power, self._bank)
        if self.power_to_db:
            db = ops.multiply(10.0 / np.log(10.0), ops.log(ops.maximum(mel, self.min_power)))
            ref = 10.0 * np.log10(max(abs(float(self.ref_power)), float(self.min_power)))
            db = ops.subtract(db, ref)
            mel = ops.maximum(db, ops.subtract(ops.max(db), float(self.top_db)))
        return ops.swapaxes(mel, -1, -2)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        length = input_shape[-1]
        frames = None if length is None else 1 + length // self.sequence_stride
        return input_shape[:-1] + (self.num_mel_bins, frames)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(fft_length=self.fft_length, sequence_stride=self.sequence_stride,
                   sequence_length=self.sequence_length, window=self.window, sampling_rate=self.sampling_rate,
                   num_mel_bins=self.num_mel_bins, min_freq=self.min_freq, max_freq=self.max_freq,
                   power_to_db=self.power_to_db, top_db=self.top_db, mag_exp=self.mag_exp,
                   min_power=self.min_power, ref_power=self.ref_power)
        return cfg


def _positive_int(what, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
        raise ValueError(f"MelSpectrogram: {what} must be a positive integer, got {v!r}")
    return int(v)
