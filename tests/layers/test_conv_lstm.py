"""ConvLSTM2D and ConvLSTM1D (Keras 3): forward in Keras' weight layout (gate blocks i, f, c, o) against the
float64 reference, finite-difference gradients through time, return_state / go_backwards /
stateful / channels_first, dropout, errors, a model that trains, saving and GradientTape."""
import numpy as np
import pytest

import corenn
from corenn import layers
from layer_checks import check_against_reference, check_saving, close as _close
import reference as ref


def _weights(rng, k, c, f, scale=0.4):
    return [(rng.normal(size=k + (c, 4 * f)) * scale).astype(np.float32),
            (rng.normal(size=k + (f, 4 * f)) * scale).astype(np.float32),
            rng.normal(size=4 * f).astype(np.float32) * scale]


CONFIGS = [   # kwargs, input (N, T, H, W, C)
    (dict(padding="same", return_sequences=True), (2, 3, 5, 4, 2)),
    (dict(padding="valid", strides=2), (1, 4, 6, 5, 1)),
    (dict(padding="same", dilation_rate=2, go_backwards=True, return_sequences=True), (2, 3, 5, 5, 2)),
    (dict(padding="valid", activation="relu", recurrent_activation="sigmoid", go_backwards=True), (1, 2, 4, 4, 3)),
]


@pytest.mark.parametrize("kwargs,x_shape", CONFIGS)
def test_forward_in_keras_layout_matches_the_reference(kwargs, x_shape, rng):
    layer = layers.ConvLSTM2D(3, (3, 2), **kwargs)
    x = rng.normal(size=x_shape).astype(np.float32)
    layer.build((None,) + x_shape[1:])
    weights = _weights(rng, (3, 2), x_shape[-1], 3)
    layer.set_weights(weights)
    hs, _, _ = ref.conv_lstm(x, *weights, strides=layer.strides, padding=layer.padding,
                               dilation=layer.dilation_rate, activation=layer.activation.name,
                               go_backwards=layer.go_backwards)
    want = hs if layer.return_sequences else hs[:, -1]
    y = np.asarray(layer(x))
    assert y.shape == want.shape == layer.compute_output_shape(x_shape)
    _close(y, want)


@pytest.mark.parametrize("kwargs", [dict(return_sequences=True, padding="same"),
                                    dict(return_state=True, go_backwards=True, padding="same"),
                                    dict(return_sequences=True, strides=2, activation="relu")])
def test_gradients_through_time_against_finite_differences(kwargs, rng):
    x = rng.normal(size=(1, 3, 3, 3, 1)).astype(np.float32)
    layer = layers.ConvLSTM2D(2, 2, **kwargs)
    layer.build((None,) + x.shape[1:])
    weights = _weights(rng, (2, 2), 1, 2, 0.6)
    opts = dict(strides=layer.strides, padding=layer.padding, activation=layer.activation.name,
                go_backwards=layer.go_backwards)

    def outputs(xx, k, rk, b):
        hs, h, c = ref.conv_lstm(xx, k, rk, b, **opts)
        y = hs if layer.return_sequences else h
        return [y, h, c] if layer.return_state else [y]
    check_against_reference(layer, x, weights, outputs, rng)


def test_channels_first_matches_channels_last(rng):
    x = rng.normal(size=(2, 3, 5, 4, 2)).astype(np.float32)
    last = layers.ConvLSTM2D(3, 3, padding="same", return_sequences=True, return_state=True)
    first = layers.ConvLSTM2D(3, 3, padding="same", return_sequences=True, return_state=True,
                              data_format="channels_first")
    outs_last = [np.asarray(o).copy() for o in last(x)]
    first.build((None, 3, 2, 5, 4))
    first.set_weights(last.get_weights())
    outs_first = first(np.ascontiguousarray(x.transpose(0, 1, 4, 2, 3)))
    _close(np.asarray(outs_first[0]), outs_last[0].transpose(0, 1, 4, 2, 3))
    for got, want in zip(outs_first[1:], outs_last[1:]):
        _close(np.asarray(got), want.transpose(0, 3, 1, 2))
    assert first.compute_output_shape((None, 3, 2, 5, 4))[0] == (None, 3, 3, 5, 4)


def test_stateful_calls_continue_the_sequence(rng):
    x = rng.normal(size=(2, 4, 4, 4, 1)).astype(np.float32)
    whole = layers.ConvLSTM2D(2, 3, padding="same", return_sequences=True)
    want = np.asarray(whole(x)).copy()
    parts = layers.ConvLSTM2D(2, 3, padding="same", return_sequences=True, stateful=True)
    parts.build((None, None, 4, 4, 1))
    parts.set_weights(whole.get_weights())
    first = np.asarray(parts(x[:, :2])).copy()
    second = np.asarray(parts(x[:, 2:])).copy()
    _close(np.concatenate([first, second], axis=1), want)
    parts.reset_states()
    _close(np.asarray(parts(x[:, :2])), want[:, :2])


def test_unit_forget_bias_and_weight_layout():
    layer = layers.ConvLSTM2D(4, (3, 2))
    layer.build((None, 5, 8, 8, 3))
    assert [tuple(w.shape) for w in layer.weights] == [(3, 2, 3, 16), (3, 2, 4, 16), (16,)]
    assert [w.name.split("/")[-1].split(":")[0] for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"]
    np.testing.assert_array_equal(np.asarray(layer.bias), [0] * 4 + [1] * 4 + [0] * 8)
    # per step and output pixel (6 x 7 'valid'): 2 * 6 taps * (3 + 4) * 16 + 16 bias + 4 * 16 gate math
    assert layer.flops((None, 5, 8, 8, 3)) == 5 * 6 * 7 * (2 * 6 * 7 * 16 + 16 + 64)


def test_dropout_trains_and_leaves_inference_deterministic(rng):
    x = rng.normal(size=(2, 3, 4, 4, 2)).astype(np.float32)
    plain = layers.ConvLSTM2D(2, 3, padding="same")
    drop = layers.ConvLSTM2D(2, 3, padding="same", dropout=0.5, recurrent_dropout=0.5, seed=1)
    want = np.asarray(plain(x)).copy()
    drop.build((None,) + x.shape[1:])
    drop.set_weights(plain.get_weights())
    _close(np.asarray(drop(x)), want)
    trained = np.asarray(drop(x, training=True)).copy()
    assert not np.allclose(trained, want)
    with corenn.GradientTape() as tape:
        loss = corenn.ops.sum(drop(x, training=True))
    assert all(np.isfinite(np.asarray(g)).all() for g in tape.gradient(loss, drop.trainable_weights))


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"ConvLSTM2D 'c1' needs inputs of shape \(batch, time, rows, cols, channels\)"):
        layers.ConvLSTM2D(2, 3, name="c1").build((None, 8, 8, 3))
    with pytest.raises(NotImplementedError, match=r"ConvLSTM2D 'c2': activation 'gelu' is not supported"):
        layers.ConvLSTM2D(2, 3, activation="gelu", name="c2")
    with pytest.raises(ValueError, match=r"ConvLSTM2D 'c3': dropout must be in \[0, 1\)"):
        layers.ConvLSTM2D(2, 3, dropout=1.5, name="c3")
    with pytest.raises(ValueError, match=r"ConvLSTM2D 'c4': padding must be 'valid' or 'same'"):
        layers.ConvLSTM2D(2, 3, padding="causal", name="c4")
    with pytest.raises(ValueError, match=r"ConvLSTM2D 'c5': strides > 1 not supported in conjunction"):
        layers.ConvLSTM2D(2, 3, strides=2, dilation_rate=2, name="c5")
    with pytest.raises(ValueError, match=r"ConvLSTM2D 'c6': the spatial sizes and channels of the inputs must be known"):
        layers.ConvLSTM2D(2, 3, name="c6").build((None, 4, None, 8, 3))
    with pytest.raises(ValueError, match=r"ConvLSTM2D 'c7'.*smaller than the \(dilated\) kernel"):
        layers.ConvLSTM2D(2, 5, name="c7").build((None, 4, 3, 8, 3))
    with pytest.raises(ValueError, match=r"ConvLSTM1D 'c8' needs inputs of shape \(batch, time, steps, channels\)"):
        layers.ConvLSTM1D(2, 3, name="c8").build((None, 4, 8, 8, 3))


def _model():
    inp = corenn.Input((None, 6, 6, 1))
    h = layers.ConvLSTM2D(4, 3, padding="same", return_sequences=True)(inp)
    h = layers.ConvLSTM2D(4, 3, padding="same")(h)
    return corenn.Model(inp, layers.Conv2D(1, 3, padding="same")(h))


def test_trains_saves_and_loads(tmp_path, rng):
    x = rng.normal(size=(16, 3, 6, 6, 1)).astype(np.float32)
    y = x.mean(axis=1)
    model = _model()
    model.compile("adam", "mse")
    first = model.fit(x, y, epochs=1, batch_size=8, verbose=0).history["loss"][0]
    last = model.fit(x, y, epochs=8, batch_size=8, verbose=0).history["loss"][-1]
    assert last < first
    cfg = model.layers[1].get_config()
    assert cfg["filters"] == 4 and cfg["return_sequences"] and cfg["kernel_size"] == (3, 3)
    assert layers.ConvLSTM2D.from_config(cfg).return_sequences
    check_saving(model, _model, x, tmp_path)


def test_keras_weights_file_keeps_the_weights_in_the_cell(tmp_path):
    """Keras 3 saves a ConvLSTM's weights in its cell's group (conv_lstm_cell)."""
    h5py = pytest.importorskip("h5py")
    model = _model()
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        names = []
        f.visit(names.append)
        assert f["layers/conv_lstm2d/cell/vars"].attrs["name"] == "conv_lstm_cell"
    assert {"layers/conv_lstm2d/cell/vars/2", "layers/conv_lstm2d_1/cell/vars/0"} <= set(names)
    assert "layers/conv_lstm2d/vars/0" not in names


def test_sequential_under_gradient_tape(rng):
    model = corenn.Sequential([corenn.Input((2, 4, 4, 1)), layers.ConvLSTM2D(2, 2, padding="same")])
    x = rng.normal(size=(1, 2, 4, 4, 1)).astype(np.float32)
    with corenn.GradientTape() as tape:
        loss = corenn.ops.sum(model(x))
    grads = tape.gradient(loss, model.trainable_weights)
    k, rk, b = [w.astype(np.float64) for w in model.get_weights()]
    fd = ref.numerical_grad(lambda v: float(ref.conv_lstm(x, k, rk, v, padding="same")[1].sum()), b)
    _close(np.asarray(grads[2]), fd, 1e-3)


@pytest.mark.parametrize("kwargs", [dict(return_sequences=True, padding="same"),
                                    dict(return_state=True, go_backwards=True, strides=2)])
def test_conv_lstm1d_is_the_2d_layer_on_height_one_frames(kwargs, rng):
    x = rng.normal(size=(1, 3, 5, 2)).astype(np.float32)
    layer = layers.ConvLSTM1D(2, 2, **kwargs)
    layer.build((None,) + x.shape[1:])
    assert [tuple(w.shape) for w in layer.weights] == [(2, 2, 8), (2, 2, 8), (8,)]
    weights = _weights(rng, (2,), 2, 2, 0.6)

    def outputs(xx, k, rk, b):
        hs, h, c = ref.conv_lstm(xx[:, :, None], k[None], rk[None], b, strides=(1,) + layer.strides,
                                 padding=layer.padding, go_backwards=layer.go_backwards)
        y = hs[:, :, 0] if layer.return_sequences else h[:, 0]
        return [y, h[:, 0], c[:, 0]] if layer.return_state else [y]
    check_against_reference(layer, x, weights, outputs, rng)


def test_conv_lstm1d_channels_first_stateful_and_saving(tmp_path, rng):
    x = rng.normal(size=(2, 4, 6, 3)).astype(np.float32)
    last = layers.ConvLSTM1D(2, 3, padding="same", return_sequences=True)
    want = np.asarray(last(x)).copy()
    first = layers.ConvLSTM1D(2, 3, padding="same", return_sequences=True, data_format="channels_first",
                              stateful=True)
    first.build((None, None, 3, 6))
    first.set_weights(last.get_weights())
    xf = np.ascontiguousarray(x.transpose(0, 1, 3, 2))
    part1 = np.asarray(first(xf[:, :2])).copy()
    part2 = np.asarray(first(xf[:, 2:])).copy()
    _close(np.concatenate([part1, part2], axis=1), want.transpose(0, 1, 3, 2))
    assert first.compute_output_shape((None, 4, 3, 6)) == (None, 4, 2, 6)

    def make():
        inp = corenn.Input((4, 6, 3))
        return corenn.Model(inp, layers.Dense(1)(layers.ConvLSTM1D(2, 3, padding="same")(inp)))
    check_saving(make(), make, x, tmp_path)
