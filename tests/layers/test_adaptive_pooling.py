"""Keras 3.15's adaptive pooling layers (1-, 2-, 3-D, average and max) against a float64 NumPy
reference of the bin rule [floor(i L / o), ceil((i + 1) L / o)), their gradients against finite
differences, in a model that trains and saves; and SpatialDropout3D."""
import itertools

import numpy as np
import pytest

import corenn
from corenn import keras
from reference import numerical_grad


def _bins(size, out):
    return [(int(np.floor(i * size / out)), int(np.ceil((i + 1) * size / out))) for i in range(out)]


def _reference(x, out, mode, data_format="channels_last"):
    """The pooled boxes one by one, in float64."""
    x = np.asarray(x, np.float64)
    if data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)
    spatial = x.shape[1:-1]
    y = np.zeros((x.shape[0],) + tuple(out) + (x.shape[-1],))
    for pos in itertools.product(*[range(o) for o in out]):
        box = tuple(slice(*_bins(s, o)[i]) for s, o, i in zip(spatial, out, pos))
        window = x[(slice(None),) + box + (slice(None),)].reshape(x.shape[0], -1, x.shape[-1])
        y[(slice(None),) + pos + (slice(None),)] = window.mean(1) if mode == "average" else window.max(1)
    return np.moveaxis(y, -1, 1) if data_format == "channels_first" else y


CASES = [  # (input shape, output_size, data_format)
    ((2, 7, 3), 3, "channels_last"),
    ((2, 4, 3), (9,), "channels_last"),          # more outputs than inputs: bins repeat
    ((2, 5, 9, 3), (4, 2), "channels_last"),
    ((2, 3, 5, 9), (2, 7), "channels_first"),
    ((1, 5, 6, 7, 2), (2, 4, 3), "channels_last"),
    ((1, 2, 4, 3, 9), 2, "channels_first"),
]


@pytest.mark.parametrize("mode", ["average", "max"])
@pytest.mark.parametrize("shape, out, data_format", CASES)
def test_adaptive_pooling_matches_the_float64_reference(mode, shape, out, data_format):
    rank = len(shape) - 2
    cls = getattr(keras.layers, f"Adaptive{'Average' if mode == 'average' else 'Max'}Pooling{rank}D")
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    layer = cls(out, data_format=data_format)
    got = np.asarray(layer(x))
    size = (out,) * rank if isinstance(out, int) else out
    want = _reference(x, size, mode, data_format)
    assert got.shape == want.shape == tuple(layer.compute_output_shape(shape))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    cfg = layer.get_config()
    assert tuple(cfg["output_size"]) == tuple(size) and cfg["data_format"] == data_format
    assert np.array_equal(np.asarray(cls.from_config(cfg)(x)), got)


@pytest.mark.parametrize("mode", ["average", "max"])
@pytest.mark.parametrize("shape, out", [((2, 5, 3), 3), ((1, 5, 4, 2), (3, 3)), ((1, 3, 4, 5, 2), (2, 3, 2))])
def test_adaptive_pooling_gradient_matches_finite_differences(mode, shape, out):
    rank = len(shape) - 2
    cls = getattr(keras.layers, f"Adaptive{'Average' if mode == 'average' else 'Max'}Pooling{rank}D")
    rng = np.random.default_rng(1)
    x = rng.permutation(np.arange(np.prod(shape))).reshape(shape).astype(np.float32) / 7.0   # no ties
    layer = cls(out)
    size = (out,) * rank if isinstance(out, int) else out
    w = rng.standard_normal(_reference(x, size, mode).shape)
    xt = keras.ops.convert_to_tensor(x)
    with corenn.GradientTape() as tape:
        tape.watch(xt)
        loss = keras.ops.sum(keras.ops.multiply(layer(xt), w.astype(np.float32)))
    got = np.asarray(tape.gradient(loss, xt))
    want = numerical_grad(lambda v: float((_reference(v, size, mode) * w).sum()), x, eps=1e-4)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_adaptive_pooling_trains_in_a_model_and_saves(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 10, 12, 2)).astype(np.float32)
    y = (x[:, :5, :, 0].mean(axis=(1, 2)) > 0).astype(np.int64)
    inputs = keras.Input((None, None, 2))   # any image size: the output size is fixed
    h = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    h = keras.layers.Concatenate()([keras.layers.AdaptiveAveragePooling2D((2, 2))(h),
                                    keras.layers.AdaptiveMaxPooling2D(2)(h)])
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(h))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    before = model.evaluate(x, y, verbose=0)[0]
    model.fit(x, y, epochs=20, batch_size=8, verbose=0)
    assert model.evaluate(x, y, verbose=0)[0] < before
    assert model.predict(x[:2, :7, :9], verbose=0).shape == (2, 2)
    model.save(tmp_path / "adaptive.keras")
    again = keras.models.load_model(tmp_path / "adaptive.keras")
    np.testing.assert_allclose(again.predict(x[:4], verbose=0), model.predict(x[:4], verbose=0), rtol=1e-5,
                               atol=1e-6)


def test_adaptive_pooling_errors_name_what_is_wrong():
    with pytest.raises(TypeError, match="output_size"):
        keras.layers.AdaptiveAveragePooling2D((2, 2, 2))
    with pytest.raises(ValueError, match="positive"):
        keras.layers.AdaptiveMaxPooling1D(0)
    with pytest.raises(ValueError, match="data_format"):
        keras.layers.AdaptiveMaxPooling3D(2, data_format="nchw")
    with pytest.raises(ValueError, match="5-D"):
        keras.layers.AdaptiveAveragePooling3D(2)(np.zeros((2, 4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="output_size"):
        keras.ops.adaptive_max_pool(np.zeros((1, 4, 4, 4, 1), np.float32), (2, 2))


def test_spatial_dropout3d_drops_whole_channels_and_scales_the_rest():
    x = np.ones((4, 3, 2, 5, 16), np.float32)
    layer = keras.layers.SpatialDropout3D(0.5, seed=3)
    y = np.asarray(layer(x, training=True))
    per_channel = y.reshape(4, -1, 16)
    assert np.all(per_channel == per_channel[:, :1, :])           # one draw per (sample, channel)
    assert set(np.unique(per_channel)) <= {0.0, 2.0} and 0 < (per_channel == 0).mean() < 1
    assert np.array_equal(np.asarray(layer(x, training=False)), x)
    assert keras.layers.SpatialDropout3D.from_config(layer.get_config()).rate == 0.5
    with pytest.raises(ValueError, match="5-D"):
        keras.layers.SpatialDropout3D(0.5)(np.ones((2, 3, 4, 5), np.float32), training=True)


@pytest.mark.parametrize("cls, shape", [("SpatialDropout2D", (3, 6, 4, 5)), ("SpatialDropout3D", (3, 6, 2, 4, 5))])
def test_spatial_dropout_channels_first_drops_axis_1(cls, shape):
    x = np.random.default_rng(4).uniform(1, 2, shape).astype(np.float32)
    layer = getattr(keras.layers, cls)(0.5, data_format="channels_first", seed=2)
    y = np.asarray(layer(x, training=True))
    kept = (y != 0).reshape(shape[0], shape[1], -1)
    assert np.all(kept == kept[:, :, :1])                        # one draw per (sample, channel)
    np.testing.assert_allclose(y, np.where(y != 0, 2 * x, 0), rtol=1e-6)
    xt = keras.ops.convert_to_tensor(x)
    with corenn.GradientTape() as tape:                          # dx = dy * the same mask
        tape.watch(xt)
        out = layer(xt, training=True)
    mask = np.asarray(out) / x
    np.testing.assert_allclose(np.asarray(tape.gradient(out, xt)), mask, rtol=1e-6)
    assert layer.get_config()["data_format"] == "channels_first"
    model = keras.Sequential([keras.Input(shape[1:]), layer])
    assert model.output_shape == (None,) + shape[1:]
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
