"""Keras 3's MelSpectrogram: against a float64 NumPy reference (reflect-padded frames, periodic
Hann window, numpy.fft.rfft, the mel filter bank, dB with top_db over the whole call), in a
model that trains on it, through saving, and its errors."""
import numpy as np
import pytest

import corenn
from corenn import keras


def _reference_bank(num_mel, num_bins, rate, lo, hi):
    mel = lambda f: 1127.0 * np.log(1.0 + np.asarray(f, np.float64) / 700.0)  # noqa: E731
    freqs = mel(np.linspace(0, rate / 2, num_bins))
    edges = np.linspace(mel(lo), mel(hi), num_mel + 2)
    bank = np.zeros((num_bins, num_mel))
    for m in range(num_mel):
        a, c, b = edges[m], edges[m + 1], edges[m + 2]
        for k in range(1, num_bins):   # bin 0 (DC) gets no weight
            bank[k, m] = max(0.0, min((freqs[k] - a) / (c - a), (b - freqs[k]) / (b - c)))
    return bank


def _reference(x, fft, stride, frame, rate, num_mel, lo, hi, to_db, top_db, mag_exp, ref_power=1.0):
    x = np.asarray(x, np.float64)
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(fft // 2, fft // 2)], mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame) / frame)    # periodic Hann
    window = np.pad(window, ((fft - frame) // 2, fft - frame - (fft - frame) // 2))
    count = 1 + (padded.shape[-1] - fft) // stride
    frames = np.stack([padded[..., i * stride:i * stride + fft] * window for i in range(count)], axis=-2)
    power = np.abs(np.fft.rfft(frames, axis=-1)) ** mag_exp
    mel = power @ _reference_bank(num_mel, fft // 2 + 1, rate, lo, hi)
    if to_db:
        mel = 10 * np.log10(np.maximum(mel, 1e-10)) - 10 * np.log10(max(abs(ref_power), 1e-10))
        mel = np.maximum(mel, mel.max() - top_db)
    return np.swapaxes(mel, -1, -2)


@pytest.mark.parametrize("options", [
    dict(fft_length=256, sequence_stride=64, sampling_rate=8000, num_mel_bins=8),
    dict(fft_length=128, sequence_stride=50, sampling_rate=16000, num_mel_bins=12, power_to_db=False, mag_exp=1.0),
    dict(fft_length=256, sequence_stride=128, sampling_rate=8000, num_mel_bins=10, min_freq=100.0, max_freq=3000,
         top_db=20.0, ref_power=2.0),
])
@pytest.mark.parametrize("batched", [True, False])
def test_mel_spectrogram_matches_the_float64_reference(options, batched):
    x = np.random.default_rng(0).uniform(-1, 1, (2, 1000)).astype(np.float32)
    x = x if batched else x[0]
    layer = keras.layers.MelSpectrogram(**options)
    got = np.asarray(layer(x))
    o = dict(dict(min_freq=20.0, max_freq=options["sampling_rate"] // 2, power_to_db=True, top_db=80.0,
                  mag_exp=2.0, ref_power=1.0), **options)
    want = _reference(x, o["fft_length"], o["sequence_stride"], o["fft_length"], o["sampling_rate"],
                      o["num_mel_bins"], o["min_freq"], o["max_freq"], o["power_to_db"], o["top_db"],
                      o["mag_exp"], o["ref_power"])
    assert got.shape == want.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4 * np.abs(want).max())


def test_a_model_on_mel_spectrograms_learns_which_tone_it_hears_and_saves(tmp_path):
    rng = np.random.default_rng(1)
    t = np.arange(2000) / 8000.0
    labels = rng.integers(0, 2, 64)
    x = np.stack([np.sin(2 * np.pi * (440.0 if k else 1800.0) * t + rng.uniform(0, 6))
                  for k in labels]).astype(np.float32) + rng.normal(0, 0.1, (64, 2000)).astype(np.float32)
    model = keras.Sequential([keras.Input((2000,)),
                              keras.layers.MelSpectrogram(fft_length=256, sequence_stride=128, sampling_rate=8000,
                                                          num_mel_bins=16),
                              keras.layers.Rescaling(1 / 80.0), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    assert model.layers[0].output.shape == (None, 16, 1 + 2000 // 128)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, epochs=15, batch_size=16, verbose=0)
    assert model.evaluate(x, labels, verbose=0)[1] > 0.9
    model.save(tmp_path / "mel.keras")
    again = keras.models.load_model(tmp_path / "mel.keras")
    np.testing.assert_allclose(np.asarray(again.predict(x[:4], verbose=0)),
                               np.asarray(model.predict(x[:4], verbose=0)), rtol=1e-5, atol=1e-6)


def test_mel_spectrogram_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match="fft_length must be >= sequence_length"):
        keras.layers.MelSpectrogram(fft_length=64, sequence_length=128)
    with pytest.raises(ValueError, match="num_mel_bins"):
        keras.layers.MelSpectrogram(num_mel_bins=0)
    with pytest.raises(ValueError, match="samples"):
        keras.layers.MelSpectrogram(fft_length=64, sequence_stride=16)(np.zeros((2, 3, 100), np.float32))
    assert isinstance(corenn.layers.MelSpectrogram(), corenn.layers.Layer)
