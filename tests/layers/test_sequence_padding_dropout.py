"""ZeroPadding1D and SpatialDropout1D (on the 2-D kernels): forward against NumPy, backward as the
adjoint (crop / the same mask), shapes, errors."""
import numpy as np
import pytest

import corenn
from corenn import kernels, layers


def test_zero_padding_1d_forward_backward():
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
    layer = layers.ZeroPadding1D((1, 2))
    y = np.asarray(layer(x))
    np.testing.assert_array_equal(y, np.pad(x, ((0, 0), (1, 2), (0, 0))))
    assert layer.compute_output_shape((None, 5, 3)) == (None, 8, 3)
    layer.forward(kernels.as_tensor(x), training=True)
    dy = np.random.default_rng(1).normal(size=(2, 8, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(layer.backward(kernels.as_tensor(dy))), dy[:, 1:6])
    assert np.asarray(layers.ZeroPadding1D(2)(x)).shape == (2, 9, 3)


def test_spatial_dropout_1d_drops_whole_channels():
    corenn.utils.set_random_seed(0)
    x = np.ones((64, 7, 16), np.float32)
    layer = layers.SpatialDropout1D(0.5)
    y = np.asarray(layer(x, training=True))
    per_channel = y[:, 0, :]
    assert (y == per_channel[:, None, :]).all()                 # one draw per (sample, channel)
    assert set(np.unique(y)) <= {0.0, 2.0} and 0.4 < (per_channel == 0).mean() < 0.6
    layer.forward(kernels.as_tensor(x), training=True)
    mask = np.asarray(layer._mask)
    dy = np.random.default_rng(2).normal(size=x.shape).astype(np.float32)
    np.testing.assert_allclose(np.asarray(layer.backward(kernels.as_tensor(dy))), dy * mask[:, None, :])
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)


@pytest.mark.parametrize("make, shape, match", [
    (lambda: layers.ZeroPadding1D(-1), None, "padding"),
    (lambda: layers.SpatialDropout1D(1.0), None, "rate"),
    (lambda: layers.ZeroPadding1D(1), (2, 3, 4, 5), "batch, steps, channels"),
    (lambda: layers.SpatialDropout1D(0.2), (2, 3, 4, 5), "3-D"),
])
def test_errors(make, shape, match):
    with pytest.raises(ValueError, match=match):
        layer = make()
        layer(np.zeros(shape, np.float32), training=True)


@pytest.mark.parametrize("data_format,axis", [("channels_last", 1), ("channels_first", 2)])
def test_zero_padding1d_data_format_forward_backward_and_config(data_format, axis):
    # Keras 3.15's ZeroPadding1D takes data_format: channels_first pads the last axis of (N, C, T)
    x = np.random.default_rng(3).normal(size=(2, 4, 3)).astype(np.float32)
    layer = layers.ZeroPadding1D((1, 2), data_format=data_format)
    pads = [(0, 0)] * 3
    pads[axis] = (1, 2)
    np.testing.assert_array_equal(np.asarray(layer(x)), np.pad(x, pads))
    assert layer.compute_output_shape((None, 4, 3)) == ((None, 7, 3) if axis == 1 else (None, 4, 6))
    dy = np.random.default_rng(4).normal(size=np.pad(x, pads).shape).astype(np.float32)
    layer.forward(kernels.as_tensor(x), training=True)
    dx = np.asarray(layer.backward(kernels.as_tensor(dy)))
    index = [slice(None)] * 3
    index[axis] = slice(1, -2)
    np.testing.assert_array_equal(dx, dy[tuple(index)])   # the padding's gradient is a crop
    again = layers.ZeroPadding1D.from_config(layer.get_config())
    assert again.data_format == data_format and again.padding == (1, 2)
