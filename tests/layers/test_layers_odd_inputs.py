"""Layers on the odd inputs a fuzz run over corenn.keras.layers found mishandled: an empty
feature axis must be a ValueError naming the layer (it was a ZeroDivisionError), and an
adaptive pooling layer must keep a NaN in the bins that hold it."""
import numpy as np
import pytest

from corenn import layers


def test_random_fourier_features_zero_features_named():
    layer = layers.RandomFourierFeatures(4)
    with pytest.raises(ValueError, match=r"RandomFourierFeatures .*positive number of features"):
        layer(np.zeros((3, 0), np.float32))


@pytest.mark.parametrize("cls, shape", [(layers.AdaptiveAveragePooling1D, (2, 0, 4)),
                                        (layers.AdaptiveMaxPooling1D, (2, 0, 4)),
                                        (layers.AdaptiveAveragePooling2D, (1, 0, 3, 2))])
def test_adaptive_pooling_empty_spatial_axis_named(cls, shape):
    with pytest.raises(ValueError, match="adaptive_(average|max)_pool"):
        cls(2)(np.zeros(shape, np.float32))


def test_adaptive_average_pooling_nan_stays_in_its_bin():
    x = np.arange(8, dtype=np.float32).reshape(1, 8, 1)
    x[0, 0, 0] = np.nan
    y = np.asarray(layers.AdaptiveAveragePooling1D(4)(x)).ravel()
    assert np.isnan(y[0])
    np.testing.assert_allclose(y[1:], [2.5, 4.5, 6.5])   # was NaN in every bin


@pytest.mark.parametrize("make", [lambda: layers.Dense(3), lambda: layers.Flatten(), lambda: layers.Dropout(0.5),
                                  lambda: layers.LayerNormalization()])
def test_complex_input_refused_not_truncated(make):
    # the float32 cast dropped the imaginary part silently (Dense(3) of 1+5j gave Dense of 1)
    layer = make()
    with pytest.raises(TypeError, match=rf"{type(layer).__name__} .*complex input"):
        layer(np.full((2, 4), 1 + 5j, np.complex64))


def test_string_input_named():
    with pytest.raises(ValueError, match=r"Dense .*expected numeric input"):
        layers.Dense(3)(np.array([["a", "b"]]))


def test_integer_and_bool_inputs_still_computed_in_float32():
    w = [np.arange(8, dtype=np.float32).reshape(4, 2), np.zeros(2, np.float32)]
    d = layers.Dense(2)
    d.build((None, 4))
    d.set_weights(w)
    x = np.array([[1, 2, 3, 4]], np.int32)
    np.testing.assert_allclose(np.asarray(d(x)), x.astype(np.float64) @ w[0], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(d(x > 2)), (x > 2).astype(np.float64) @ w[0], rtol=1e-6)


@pytest.mark.parametrize("make", [lambda: layers.ELU(), lambda: layers.Flatten(), lambda: layers.Dense(2)])
def test_none_input_refused_not_nan(make):
    # np.asarray(None, float32) is NaN: the layer returned NaN from no data
    layer = make()
    with pytest.raises(TypeError, match=rf"{type(layer).__name__} .*got None"):
        layer(None)


def _equalize_ref(channel):
    """Keras' equalization of one channel on the 0..255 scale with 256 bins, NaN pixels left out."""
    ok = ~np.isnan(channel)
    idx = np.clip(np.where(ok, channel, 0), 0, 255).astype(int)
    cdf = np.cumsum(np.bincount(idx[ok], minlength=256))
    cdf_min = cdf[np.flatnonzero(cdf)[0]]
    lut = np.clip(np.round((cdf - cdf_min) * 255.0 / (cdf[-1] - cdf_min)), 0, 255)
    return np.where(ok, lut[idx], np.nan)


def test_equalization_nan_pixel_stays_nan_and_out_of_the_histogram():
    # a NaN pixel was cast to a huge negative bin: np.bincount raised a message naming no layer
    x = np.arange(2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3) * 2.5
    x[0, 0, 0, 0] = np.nan
    y = np.asarray(layers.Equalization()(x, training=True))
    for b in range(2):
        for ch in range(3):
            np.testing.assert_allclose(y[b, :, :, ch], _equalize_ref(x[b, :, :, ch].astype(np.float64)), atol=1e-4)
    assert np.isnan(y).sum() == 1
