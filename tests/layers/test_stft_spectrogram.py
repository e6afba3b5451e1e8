"""Keras 3.15's STFTSpectrogram and the STFT initializer: against a float64 NumPy DFT of the
windowed frames (every mode, both paddings and layouts, expand_dims), gradients against finite
differences (input and kernels), a model that trains and saves; the named windows against
their closed forms."""

import numpy as np
import pytest

import corenn
from corenn import keras
from reference import numerical_grad

EPS = 1e-7


def _window(name, m, periodic):
    n = m + 1 if periodic else m
    k = np.arange(n)
    w = {"hann": 0.5 - 0.5 * np.cos(2 * np.pi * k / (n - 1)),
         "hamming": 0.54 - 0.46 * np.cos(2 * np.pi * k / (n - 1)),
         "blackman": 0.42 - 0.5 * np.cos(2 * np.pi * k / (n - 1)) + 0.08 * np.cos(4 * np.pi * k / (n - 1)),
         "bartlett": 1 - np.abs(2 * k / (n - 1) - 1)}[name]
    return w[:m]


def _spectra(x, frame, step, fft, window, scaling, padding, data_format):
    """real, imag as (N, C, F, frames) in float64: each frame's windowed DFT, bins 0..fft/2."""
    x = np.asarray(x, np.float64)
    x = np.swapaxes(x, 1, 2) if data_format == "channels_last" else x              # (N, C, T)
    t = x.shape[-1]
    if padding == "same":
        frames = -(-t // step)
        total = max((frames - 1) * step + frame - t, 0)
        x = np.pad(x, [(0, 0), (0, 0), (total // 2, total - total // 2)])
    else:
        frames = (t - frame) // step + 1
    w = np.ones(frame) if window is None else np.asarray(window, np.float64)
    scale = {"density": np.sqrt((w ** 2).sum()), "spectrum": np.abs(w).sum(), None: 1.0}[scaling]
    segs = np.stack([x[..., i * step:i * step + frame] * w for i in range(frames)], axis=-1)   # (N,C,k,frames)
    basis = np.exp(-2j * np.pi * np.outer(np.arange(frame), np.arange(fft // 2 + 1)) / fft)   # (k, F)
    spec = np.einsum("nckt,kf->ncft", segs, basis) / scale
    return spec.real, spec.imag


def _layout(y, data_format, expand_dims):
    n, c, f, t = y.shape
    if data_format == "channels_last":
        return np.transpose(y, (0, 3, 2, 1)) if expand_dims else np.swapaxes(y.reshape(n, c * f, t), 1, 2)
    return np.swapaxes(y, 2, 3) if expand_dims else y.reshape(n, c * f, t)


def _reference(x, mode, frame, step, fft, window, scaling="density", padding="valid",
               data_format="channels_last", expand_dims=False):
    real, imag = _spectra(x, frame, step, fft, window, scaling, padding, data_format)
    out = {"real": real, "imag": imag, "angle": np.arctan2(imag, real),
           "stft": np.concatenate([real, imag], axis=2)}.get(mode)
    if out is None:
        power = real ** 2 + imag ** 2
        if mode == "psd":
            power[:, :, 1:-1] *= 2
            out = power
        else:
            out = np.sqrt(np.maximum(power, EPS))
            if mode == "log":
                out = np.log(np.maximum(out, EPS))
    return _layout(out, data_format, expand_dims)


@pytest.mark.parametrize("mode", ["log", "magnitude", "psd", "real", "imag", "angle", "stft"])
@pytest.mark.parametrize("padding, data_format, expand_dims, step",
                         [("valid", "channels_last", False, None), ("same", "channels_last", True, 5),
                          ("same", "channels_first", False, 5), ("valid", "channels_first", True, 3)])
def test_stft_spectrogram_matches_a_float64_dft(mode, padding, data_format, expand_dims, step):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 50, 3) if data_format == "channels_last" else (2, 3, 50)).astype(np.float32)
    layer = keras.layers.STFTSpectrogram(mode=mode, frame_length=12, frame_step=step, fft_length=16,
                                         window="hann", padding=padding, data_format=data_format,
                                         expand_dims=expand_dims)
    got = np.asarray(layer(x))
    want = _reference(x, mode, 12, step or 6, 16, _window("hann", 12, False), "density", padding, data_format,
                      expand_dims)
    assert got.shape == want.shape == tuple(layer.compute_output_shape(x.shape))
    if mode == "angle":   # the DC and Nyquist bins sit on arctan2's branch cut (imag ~ 0): compare mod 2 pi
        got, want = np.cos(got), np.cos(want)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(want).max()))
    assert [w.name for w in layer.weights] == [n for n, skip in (("real_kernel", "imag"), ("imag_kernel", "real"))
                                               if mode != skip]


@pytest.mark.parametrize("window, scaling, periodic", [(None, "density", False), ("hamming", "spectrum", True),
                                                       ("blackman", None, False), ("bartlett", "density", True)])
def test_stft_initializer_is_the_windowed_dft_basis(window, scaling, periodic):
    frame, bins = 10, 9
    real = keras.initializers.STFT("real", window, scaling, periodic)((frame, 1, bins))
    imag = keras.initializers.STFTInitializer("imag", window, scaling, periodic)((frame, 1, bins))
    w = np.ones(frame) if window is None else _window(window, frame, periodic)
    scale = 1.0 if window is None or scaling is None else \
        (np.sqrt((w ** 2).sum()) if scaling == "density" else np.abs(w).sum())
    basis = np.exp(-2j * np.pi * np.outer(np.arange(frame), np.arange(bins)) / 16) * w[:, None] / scale
    np.testing.assert_allclose(real[:, 0], basis.real, atol=1e-6)
    np.testing.assert_allclose(imag[:, 0], basis.imag, atol=1e-6)
    init = keras.initializers.get({"class_name": "STFT", "config": keras.initializers.stft(
        "imag", window, scaling, periodic).get_config()})
    np.testing.assert_array_equal(init((frame, 1, bins)), imag)


def test_stft_spectrogram_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 14, 2))
    layer = keras.layers.STFTSpectrogram(mode="log", frame_length=6, frame_step=4, fft_length=8, window="hann")
    probe = rng.standard_normal(layer.compute_output_shape(x.shape))
    xt = keras.ops.convert_to_tensor(x.astype(np.float32))
    with corenn.GradientTape() as tape:
        tape.watch(xt)
        loss = keras.ops.sum(keras.ops.multiply(layer(xt), probe.astype(np.float32)))
    dx, dreal = tape.gradient(loss, [xt, layer.real_kernel])
    win = _window("hann", 6, False)
    want = numerical_grad(lambda v: float((_reference(v, "log", 6, 4, 8, win) * probe).sum()), x, eps=1e-5)
    np.testing.assert_allclose(np.asarray(dx), want, rtol=1e-3, atol=1e-4)

    imag = np.asarray(layer.imag_kernel, np.float64)[:, 0]

    def by_real_kernel(k):   # the loss as a function of the real kernel, the imaginary one fixed
        frames = np.stack([x[0, i * 4:i * 4 + 6, :] for i in range(3)])                # (t, k, c)
        re, im = np.einsum("tkc,kf->cft", frames, k[:, 0]), np.einsum("tkc,kf->cft", frames, imag)
        out = np.log(np.maximum(np.sqrt(np.maximum(re ** 2 + im ** 2, EPS)), EPS))   # (c, f, t)
        return float((np.swapaxes(out.reshape(-1, 3), 0, 1)[None] * probe).sum())
    want_k = numerical_grad(by_real_kernel, np.asarray(layer.real_kernel, np.float64), eps=1e-5)
    np.testing.assert_allclose(np.asarray(dreal), want_k, rtol=1e-3, atol=1e-4)


def test_a_model_on_stft_spectrograms_trains_and_saves(tmp_path):
    rng = np.random.default_rng(2)
    t = np.arange(256) / 256.0
    labels = rng.integers(0, 2, 48)
    x = np.stack([np.sin(2 * np.pi * (8 if k else 40) * t + rng.uniform(0, 6)) for k in labels])[..., None]
    x = (x + rng.normal(0, 0.1, x.shape)).astype(np.float32)
    model = keras.Sequential([keras.Input((256, 1)),
                              keras.layers.STFTSpectrogram(mode="magnitude", frame_length=32, frame_step=32),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, epochs=15, batch_size=16, verbose=0)
    assert model.evaluate(x, labels, verbose=0)[1] > 0.9
    model.save(tmp_path / "stft.keras")
    again = keras.models.load_model(tmp_path / "stft.keras")
    np.testing.assert_allclose(again.predict(x[:4], verbose=0), model.predict(x[:4], verbose=0), rtol=1e-5,
                               atol=1e-6)


def test_stft_spectrogram_errors_name_what_is_wrong():
    for kwargs, match in [(dict(frame_step=300), "frame_step"), (dict(fft_length=100), "fft_length"),
                          (dict(mode="power"), "mode"), (dict(scaling="l2"), "scaling"),
                          (dict(padding="causal"), "padding"), (dict(window="kaiser"), "kaiser")]:
        with pytest.raises(ValueError, match=match):
            keras.layers.STFTSpectrogram(**kwargs)
    with pytest.raises(ValueError, match="3-D"):
        keras.layers.STFTSpectrogram(frame_length=8)(np.zeros((2, 64), np.float32))
    with pytest.raises(ValueError, match="side"):
        keras.initializers.STFT("both")
