"""ConvLSTM3D (Keras 3): the ConvLSTM code on the conv3d kernels. Forward in Keras' weight layout
against the float64 reference, finite-difference gradients through time, channels_first,
stateful calls, get_config, saving, a model that trains, and the Keras weights-file layout."""
import numpy as np
import pytest

import corenn
from corenn import layers
from layer_checks import check_against_reference, check_onnx_export, check_saving, close as _close
import reference as ref


def _weights(rng, k, c, f, scale=0.4):
    return [(rng.normal(size=k + (c, 4 * f)) * scale).astype(np.float32),
            (rng.normal(size=k + (f, 4 * f)) * scale).astype(np.float32),
            rng.normal(size=4 * f).astype(np.float32) * scale]


@pytest.mark.parametrize("kwargs,x_shape", [
    (dict(padding="same", return_sequences=True), (2, 3, 3, 4, 3, 2)),
    (dict(padding="valid", strides=(1, 2, 1), go_backwards=True), (1, 2, 3, 5, 3, 1)),
    (dict(padding="same", dilation_rate=2, activation="relu"), (1, 2, 4, 3, 3, 2)),
])
def test_forward_in_keras_layout_matches_the_reference(kwargs, x_shape, rng):
    layer = layers.ConvLSTM3D(2, (2, 3, 2), **kwargs)
    x = rng.normal(size=x_shape).astype(np.float32)
    layer.build((None,) + x_shape[1:])
    weights = _weights(rng, (2, 3, 2), x_shape[-1], 2)
    assert [tuple(w.shape) for w in layer.weights] == [tuple(w.shape) for w in weights]
    layer.set_weights(weights)
    hs, _, _ = ref.conv_lstm(x, *weights, strides=layer.strides, padding=layer.padding,
                             dilation=layer.dilation_rate, activation=layer.activation.name,
                             go_backwards=layer.go_backwards)
    want = hs if layer.return_sequences else hs[:, -1]
    y = np.asarray(layer(x))
    assert y.shape == want.shape == layer.compute_output_shape(x_shape)
    _close(y, want)


@pytest.mark.parametrize("kwargs", [dict(return_sequences=True, padding="same"),
                                    dict(return_state=True, go_backwards=True, strides=2)])
def test_gradients_through_time_against_finite_differences(kwargs, rng):
    x = rng.normal(size=(1, 2, 2, 2, 3, 1)).astype(np.float32)
    layer = layers.ConvLSTM3D(2, 2, **kwargs)
    layer.build((None,) + x.shape[1:])
    opts = dict(strides=layer.strides, padding=layer.padding, go_backwards=layer.go_backwards)

    def outputs(xx, k, rk, b):
        hs, h, c = ref.conv_lstm(xx, k, rk, b, **opts)
        y = hs if layer.return_sequences else h
        return [y, h, c] if layer.return_state else [y]
    check_against_reference(layer, x, _weights(rng, (2, 2, 2), 1, 2, 0.6), outputs, rng)


def test_channels_first_and_stateful_match_channels_last(rng):
    x = rng.normal(size=(2, 4, 3, 3, 4, 2)).astype(np.float32)
    last = layers.ConvLSTM3D(3, 3, padding="same", return_sequences=True, return_state=True)
    outs_last = [np.asarray(o).copy() for o in last(x)]
    first = layers.ConvLSTM3D(3, 3, padding="same", return_sequences=True, return_state=True,
                              data_format="channels_first", stateful=True)
    first.build((None, None, 2, 3, 3, 4))
    first.set_weights(last.get_weights())
    xf = np.ascontiguousarray(x.transpose(0, 1, 5, 2, 3, 4))
    part1 = [np.asarray(o).copy() for o in first(xf[:, :2])]
    part2 = [np.asarray(o).copy() for o in first(xf[:, 2:])]
    _close(np.concatenate([part1[0], part2[0]], axis=1), outs_last[0].transpose(0, 1, 5, 2, 3, 4))
    for got, want in zip(part2[1:], outs_last[1:]):
        _close(got, want.transpose(0, 4, 1, 2, 3))
    assert first.compute_output_shape((None, 4, 2, 3, 3, 4))[0] == (None, 4, 3, 3, 3, 4)


def test_weight_layout_flops_and_errors():
    layer = layers.ConvLSTM3D(4, (3, 2, 1), name="c3")
    layer.build((None, 5, 6, 8, 8, 3))
    assert [tuple(w.shape) for w in layer.weights] == [(3, 2, 1, 3, 16), (3, 2, 1, 4, 16), (16,)]
    np.testing.assert_array_equal(np.asarray(layer.bias), [0] * 4 + [1] * 4 + [0] * 8)
    # per step and output voxel (4 x 7 x 8 'valid'): 2 * 6 taps * (3 + 4) * 16 + 16 bias + 4 * 16 gate math
    assert layer.flops((None, 5, 6, 8, 8, 3)) == 5 * 4 * 7 * 8 * (2 * 6 * 7 * 16 + 16 + 64)
    with pytest.raises(ValueError, match=r"ConvLSTM3D 'c3' needs inputs of shape "
                                         r"\(batch, time, depth, rows, cols, channels\)"):
        layer.build((None, 4, 8, 8, 3))
    with pytest.raises(ValueError, match=r"ConvLSTM3D 'c4': kernel_size must be a positive int or 3 of them"):
        layers.ConvLSTM3D(2, (3, 3), name="c4")


def _model():
    inp = corenn.Input((None, 3, 4, 4, 1))
    h = layers.ConvLSTM3D(3, 2, padding="same", return_sequences=True)(inp)
    h = layers.ConvLSTM3D(2, 2, padding="same")(h)
    return corenn.Model(inp, layers.Conv3D(1, 2, padding="same")(h))


def test_trains_saves_loads_and_keeps_keras_weights_layout(tmp_path, rng):
    h5py = pytest.importorskip("h5py")
    x = rng.normal(size=(8, 2, 3, 4, 4, 1)).astype(np.float32)
    y = x.mean(axis=1)
    model = _model()
    model.compile("adam", "mse")
    first = model.fit(x, y, epochs=1, batch_size=4, verbose=0).history["loss"][0]
    last = model.fit(x, y, epochs=6, batch_size=4, verbose=0).history["loss"][-1]
    assert last < first
    cfg = model.layers[1].get_config()
    assert cfg["kernel_size"] == (2, 2, 2) and cfg["return_sequences"]
    assert layers.ConvLSTM3D.from_config(cfg).get_config() == cfg
    check_saving(model, _model, x, tmp_path)
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        assert f["layers/conv_lstm3d/cell/vars"].attrs["name"] == "conv_lstm_cell"
        assert f["layers/conv_lstm3d/cell/vars/1"].shape == (2, 2, 2, 3, 12)


def test_under_gradient_tape(rng):
    model = corenn.Sequential([corenn.Input((2, 2, 3, 3, 1)), layers.ConvLSTM3D(2, 2, padding="same")])
    x = rng.normal(size=(1, 2, 2, 3, 3, 1)).astype(np.float32)
    with corenn.GradientTape() as tape:
        loss = corenn.ops.sum(model(x))
    grads = tape.gradient(loss, model.trainable_weights)
    k, rk, b = [w.astype(np.float64) for w in model.get_weights()]
    fd = ref.numerical_grad(lambda v: float(ref.conv_lstm(x, k, rk, v, padding="same")[1].sum()), b)
    _close(np.asarray(grads[2]), fd, 1e-3)


def test_onnx_export_matches_onnxruntime(tmp_path, rng):
    model = corenn.Sequential([corenn.Input((2, 2, 3, 3, 1)), layers.ConvLSTM3D(2, 2, name="clstm")])
    check_onnx_export(model, rng.normal(size=(3, 2, 2, 3, 3, 1)).astype(np.float32), tmp_path, rng)
