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
