"""Audio preprocessing: Keras 3's ``MelSpectrogram`` and ``STFTSpectrogram`` (its docstring has its math).

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


def _positive_int(what, v, layer="MelSpectrogram"):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
        raise ValueError(f"{layer}: {what} must be a positive integer, got {v!r}")
    return int(v)


class STFTSpectrogram(Layer):
    """Keras 3.15's STFTSpectrogram: the short-time Fourier transform of each channel of a
    signal as a 1-D convolution with trainable kernels (initializers.STFT), as Keras computes it.

    Math, for a channel x of T samples, frames every ``frame_step`` samples (padding "valid" or
    "same", as Conv1D), n = fft_length, bins F = n // 2 + 1:
        real[t, f] = sum_k x[t s + k] w[k] cos(-2 pi k f / n) / scale,  imag: sin instead,
    with the window w over the frame_length samples, scale its L2 norm ("density"), L1 norm
    ("spectrum") or 1. The weights are ``real_kernel`` (unless mode="imag") and ``imag_kernel``
    (unless mode="real"), each (frame_length, 1, F), trainable as in Keras. Modes: "real",
    "imag", "angle" arctan2(imag, real), "stft" [real, imag] along the frequency axis,
    "magnitude" sqrt(max(p, eps)) with p = real^2 + imag^2, "log" its log (max eps), "psd" p with
    the bins other than the first and last doubled.

    Shapes: input (N, T, C) (channels_first: (N, C, T)); output (N, frames, C * F) with channel
    c's bins at c * F ... (channels_first: (N, C * F, frames)); with expand_dims=True
    (N, frames, F, C) (channels_first: (N, C, frames, F)). F doubles in mode "stft".

    Args:
        mode, frame_length (256), frame_step (frame_length // 2), fft_length (the next power of
        two >= frame_length), window ("hann": a name for initializers.get_window, an array or
        None), periodic, scaling ("density", "spectrum" or None), padding, expand_dims,
        data_format.
    """

    _MODES = ("log", "magnitude", "psd", "real", "imag", "angle", "stft")

    def __init__(self, mode="log", frame_length=256, frame_step=None, fft_length=None, window="hann",
                 periodic=False, scaling="density", padding="valid", expand_dims=False, data_format=None,
                 **kwargs):
        from ..initializers import get_window
        frame_length = _positive_int("frame_length", frame_length, "STFTSpectrogram")
        if frame_step is not None and (frame_step > frame_length or frame_step < 1):
            raise ValueError(f"STFTSpectrogram: frame_step should be a positive integer not greater than "
                             f"frame_length, got frame_step={frame_step}, frame_length={frame_length}")
        if fft_length is not None and fft_length < frame_length:
            raise ValueError(f"STFTSpectrogram: fft_length should be not less than frame_length, got "
                             f"fft_length={fft_length}, frame_length={frame_length}")
        if mode not in self._MODES:
            raise ValueError(f"STFTSpectrogram: mode must be one of {', '.join(self._MODES)}, got {mode!r}")
        if scaling not in (None, "density", "spectrum"):
            raise ValueError(f"STFTSpectrogram: scaling must be None, 'density' or 'spectrum', got {scaling!r}")
        if padding not in ("valid", "same"):
            raise ValueError(f"STFTSpectrogram: padding must be 'valid' or 'same', got {padding!r}")
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"STFTSpectrogram: data_format must be 'channels_last' or 'channels_first', "
                             f"got {data_format!r}")
        if isinstance(window, str):
            get_window(window, 1)
        super().__init__(**kwargs)
        self.mode, self.frame_length, self.frame_step, self.fft_length = mode, frame_length, frame_step, fft_length
        self._frame_step = frame_step or frame_length // 2
        self._fft_length = fft_length or 2 ** int(np.ceil(np.log2(frame_length)))
        self.window, self.periodic, self.scaling, self.padding = window, bool(periodic), scaling, padding
        self.expand_dims = bool(expand_dims)
        if data_format is None:   # the global keras.config.image_data_format(), as in Keras
            from ..keras.backend import image_data_format
            data_format = image_data_format()
        self.data_format = data_format
        self.real_kernel = self.imag_kernel = None

    def build(self, input_shape):
        from ..initializers import STFT
        if len(tuple(input_shape)) != 3:
            raise ValueError(f"STFTSpectrogram '{self.name}' needs 3-D inputs (batch, samples, channels) "
                             f"(channels_first: (batch, channels, samples)), got {shape_str(tuple(input_shape))}")
        shape = (self.frame_length, 1, self._fft_length // 2 + 1)
        if self.mode != "imag":
            self.real_kernel = self.add_weight("real_kernel", shape,
                                               STFT("real", self.window, self.scaling, self.periodic))
        if self.mode != "real":
            self.imag_kernel = self.add_weight("imag_kernel", shape,
                                               STFT("imag", self.window, self.scaling, self.periodic))
        super().build(input_shape)

    def _conv(self, x, kernel, channels):
        """Each channel's frames through the kernel: (N*C, T, 1) -> (N, C, F, frames)."""
        y = ops.conv(x, kernel, strides=self._frame_step, padding=self.padding)      # (N*C, frames, F)
        frames, bins = int(y.shape[1]), int(y.shape[2])
        return ops.reshape(ops.swapaxes(y, 1, 2), (-1, channels, bins, frames))

    def _layout(self, y):
        """(N, C, F, frames) to the layer's output layout."""
        _, channels, bins, frames = (int(d) for d in y.shape)
        if self.data_format == "channels_last":
            if self.expand_dims:
                return ops.transpose(y, (0, 3, 2, 1))
            return ops.swapaxes(ops.reshape(y, (-1, channels * bins, frames)), 1, 2)
        if self.expand_dims:
            return ops.swapaxes(y, 2, 3)
        return ops.reshape(y, (-1, channels * bins, frames))

    def call(self, inputs):
        from ..keras.backend import epsilon
        x = ops._to_tensor(inputs, "float32")
        if self.data_format == "channels_last":
            x = ops.swapaxes(x, 1, 2)                                           # (N, C, T)
        channels, length = int(x.shape[1]), int(x.shape[2])
        x = ops.reshape(x, (-1, length, 1))
        real = self._conv(x, self.real_kernel, channels) if self.mode != "imag" else None
        imag = self._conv(x, self.imag_kernel, channels) if self.mode != "real" else None
        if self.mode == "real":
            return self._layout(real)
        if self.mode == "imag":
            return self._layout(imag)
        if self.mode == "angle":
            return self._layout(ops.arctan2(imag, real))
        if self.mode == "stft":
            return self._layout(ops.concatenate([real, imag], axis=2))
        power = ops.add(ops.square(real), ops.square(imag))
        if self.mode == "psd":
            inner = ops.pad(power[:, :, 1:-1, :], [[0, 0], [0, 0], [1, 1], [0, 0]])
            return self._layout(ops.add(power, inner))
        magnitude = self._layout(ops.sqrt(ops.maximum(power, epsilon())))
        if self.mode == "magnitude":
            return magnitude
        return ops.log(ops.maximum(magnitude, epsilon()))

    def compute_output_shape(self, input_shape):
        n, a, b = tuple(input_shape)
        length, channels = (a, b) if self.data_format == "channels_last" else (b, a)
        bins = (self._fft_length // 2 + 1) * (2 if self.mode == "stft" else 1)
        if length is None:
            frames = None
        elif self.padding == "same":
            frames = -(-length // self._frame_step)
        else:
            frames = (length - self.frame_length) // self._frame_step + 1
        if self.expand_dims:
            return (n, frames, bins, channels) if self.data_format == "channels_last" else (n, channels, frames, bins)
        width = None if channels is None else channels * bins
        return (n, frames, width) if self.data_format == "channels_last" else (n, width, frames)

    def get_config(self):
        cfg = super().get_config()
        window = self.window if self.window is None or isinstance(self.window, str) else \
            np.asarray(self.window).tolist()
        cfg.update(mode=self.mode, frame_length=self.frame_length, frame_step=self.frame_step,
                   fft_length=self.fft_length, window=window, periodic=self.periodic, scaling=self.scaling,
                   padding=self.padding, expand_dims=self.expand_dims, data_format=self.data_format)
        return cfg
