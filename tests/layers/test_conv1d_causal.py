"""Conv1D(padding="causal") (WaveNet / TCN models): against the float64 reference (the sequence
padded with (K - 1) * dilation zeros before it, then a 'valid' convolution), causality itself,
gradients by finite differences, the output length rule, config and ONNX-free round trips."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras
from corenn.layers import Conv1D, Conv2D

import reference as ref


def causal_reference(x, w, b, stride, dilation):
    """(N, L, C) -> the reference conv of the left-padded sequence, as (N, OL, F)."""
    k = w.shape[0]
    pad = (k - 1) * dilation
    xp = np.concatenate([np.zeros((x.shape[0], pad, x.shape[2])), ref.f64(x)], axis=1)
    y = ref.conv2d_forward(xp[:, None], ref.f64(w)[None], b, strides=(1, stride), padding="valid",
                           dilation=(1, dilation))
    return y[:, 0]


@pytest.mark.parametrize("k,stride,dilation,length", [(1, 1, 1, 5), (2, 1, 1, 7), (3, 1, 2, 9),
                                                      (3, 2, 1, 8), (4, 3, 2, 10), (5, 1, 4, 6)])
def test_forward_matches_the_padded_reference(rng, isa, k, stride, dilation, length):
    x = rng.standard_normal((3, length, 4)).astype(np.float32)
    layer = Conv1D(5, k, strides=stride, dilation_rate=dilation, padding="causal")
    y = np.asarray(layer(x))
    w, b = layer.get_weights()
    b = rng.standard_normal(5).astype(np.float32)
    layer.set_weights([w, b])
    y = np.asarray(layer(x))
    assert y.shape == (3, -(-length // stride), 5)
    assert layer.compute_output_shape((None, length, 4)) == (None, -(-length // stride), 5)
    np.testing.assert_allclose(y, causal_reference(x, w, b, stride, dilation), rtol=1e-5, atol=1e-5)


def test_output_never_reads_the_future(rng):
    x = rng.standard_normal((2, 12, 3)).astype(np.float32)
    layer = Conv1D(4, 3, dilation_rate=2, padding="causal")
    y = np.asarray(layer(x))
    later = x.copy()
    later[:, 7:] = rng.standard_normal(later[:, 7:].shape)
    y2 = np.asarray(layer(later))
    np.testing.assert_array_equal(y[:, :7], y2[:, :7])
    assert not np.allclose(y[:, 7:], y2[:, 7:])


def test_gradients_by_finite_differences(rng):
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    layer = Conv1D(2, 3, dilation_rate=2, padding="causal", activation="tanh")
    layer(x)
    w, b = [ref.f64(v) for v in layer.get_weights()]
    xt = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(xt)))
    gx, gw, gb = tape.gradient(loss, [xt, layer.kernel, layer.bias])

    def f(x_, w_, b_):
        return float(np.sum(np.tanh(causal_reference(x_, w_, b_, 1, 2)) ** 2))
    np.testing.assert_allclose(np.asarray(gx), ref.numerical_grad(lambda v: f(v, w, b), ref.f64(x)),
                               rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(np.asarray(gw), ref.numerical_grad(lambda v: f(x, v, b), w), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(np.asarray(gb), ref.numerical_grad(lambda v: f(x, w, v), b), rtol=1e-3, atol=1e-4)


def test_a_tcn_trains_and_round_trips(rng, tmp_path):
    """A small dilated causal stack predicting the next value of a sine: fit lowers the loss,
    and the saved model predicts the same."""
    t = np.arange(0, 400, dtype=np.float32) * 0.1
    series = np.sin(t) + 0.1 * rng.standard_normal(t.shape).astype(np.float32)
    x = np.stack([series[i:i + 32] for i in range(300)])[..., None]
    y = np.stack([series[i + 1:i + 33] for i in range(300)])[..., None]
    model = keras.Sequential([keras.Input((None, 1))] + [
        keras.layers.Conv1D(8, 2, dilation_rate=d, padding="causal", activation="relu") for d in (1, 2, 4)
    ] + [keras.layers.Conv1D(1, 1)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    hist = model.fit(x, y, batch_size=32, epochs=6, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    assert model.layers[0].get_config()["padding"] == "causal"
    model.save(tmp_path / "tcn.keras")
    again = keras.models.load_model(tmp_path / "tcn.keras")
    np.testing.assert_allclose(again.predict(x[:4], verbose=0), model.predict(x[:4], verbose=0), rtol=1e-6)


def test_causal_is_for_conv1d_only():
    with pytest.raises(ValueError, match="(?i)causal.*conv1d"):
        Conv2D(3, 3, padding="causal")
    with pytest.raises(ValueError, match="(?i)causal.*conv1d"):
        keras.layers.Conv1DTranspose(3, 3, padding="causal")
