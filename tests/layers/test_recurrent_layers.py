"""SimpleRNN / LSTM / GRU / Bidirectional layers: gradients by finite differences, Keras
semantics (weight layouts, go_backwards order, return_state), config, a small training run."""
import numpy as np
import pytest

import corenn
from corenn import kernels
from corenn.layers.recurrent import GRU, LSTM, Bidirectional, SimpleRNN
from reference import numerical_grad, rnn_forward

CLASSES = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}


def fd_check(layer, x, rng, rtol=2e-2):
    """Compare layer.backward with central differences of sum(y * c) (float32 forward, so the
    step is large and the tolerance loose; the kernels' exact parity is in tests/kernels/test_rnn.py)."""
    y = layer(x)
    c = rng.standard_normal(np.shape(y))

    def loss_x(v):
        return float((np.asarray(layer.forward(kernels.as_tensor(v.astype(np.float32)), False),
                                 np.float64) * c).sum())

    layer.forward(kernels.as_tensor(x), False)
    dx = np.asarray(layer.backward(kernels.as_tensor(c.astype(np.float32))), np.float64).copy()
    grads = [np.asarray(g, np.float64).copy() for g in layer.gradients]
    num = numerical_grad(loss_x, x.astype(np.float64), eps=1e-2)
    np.testing.assert_allclose(dx, num, rtol=rtol, atol=rtol * np.abs(num).max())
    for w, g in zip(layer.trainable_weights, grads):
        arr = np.asarray(w)
        orig = arr.copy()

        def loss_w(v):
            arr[...] = v
            return loss_x(x.astype(np.float64))

        num = numerical_grad(loss_w, orig.astype(np.float64), eps=1e-2)
        arr[...] = orig
        np.testing.assert_allclose(g, num, rtol=rtol, atol=rtol * np.abs(num).max())


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("return_sequences,go_backwards", [(False, False), (True, True), (True, False)])
def test_layer_gradients(rng, cell, return_sequences, go_backwards):
    corenn.utils.set_random_seed(0)
    layer = CLASSES[cell](5, return_sequences=return_sequences, go_backwards=go_backwards)
    x = rng.standard_normal((2, 3, 3)).astype(np.float32)
    layer(x)
    np.asarray(layer.bias)[...] = rng.standard_normal(layer.bias.shape) * 0.3
    fd_check(layer, x, rng)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_bidirectional_gradients(rng, merge_mode, cls):
    corenn.utils.set_random_seed(1)
    layer = Bidirectional(cls(4, return_sequences=merge_mode != "sum"), merge_mode=merge_mode)
    x = rng.standard_normal((2, 3, 3)).astype(np.float32)
    y = layer(x)
    t_axis = (3,) if merge_mode != "sum" else ()
    assert y.shape == (2,) + t_axis + ((8,) if merge_mode == "concat" else (4,))
    assert len(layer.trainable_weights) == 6
    fd_check(layer, x, rng)


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_matches_reference_with_keras_layout(rng, cell, go_backwards):
    layer = CLASSES[cell](6, return_sequences=True, go_backwards=go_backwards)
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    y = layer(x)
    w, r, b = layer.get_weights()
    assert w.shape == (5, 6 * {"simple_rnn": 1, "lstm": 4, "gru": 3}[cell])
    assert b.shape == ((2, 18) if cell == "gru" else (w.shape[1],))
    np.testing.assert_allclose(y, rnn_forward(cell, x, w, r, b, True, go_backwards)[0],
                               rtol=1e-4, atol=1e-5)


def test_go_backwards_output_order_is_keras(rng):
    fwd = LSTM(4, return_sequences=True)
    bwd = LSTM(4, return_sequences=True, go_backwards=True)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    fwd(x)
    bwd(x)
    bwd.set_weights(fwd.get_weights())
    # Keras: go_backwards reads the reversed sequence and returns outputs in processing order
    np.testing.assert_allclose(bwd(x), fwd(x[:, ::-1]), rtol=1e-6, atol=1e-6)


def test_return_state(rng):
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    y, h, c = LSTM(4, return_sequences=True, return_state=True)(x)
    assert y.shape == (2, 5, 4) and h.shape == c.shape == (2, 4)
    np.testing.assert_array_equal(y[:, -1], h)
    out = GRU(4, return_state=True)(x)
    assert len(out) == 2
    np.testing.assert_array_equal(out[0], out[1])


def test_unit_forget_bias_and_initializers():
    layer = LSTM(3)
    layer.build((None, 2, 4))
    np.testing.assert_array_equal(layer.get_weights()[2], [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    r = layer.get_weights()[1]  # orthogonal (3, 12): orthonormal rows
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-5)
    assert LSTM(3, unit_forget_bias=False).get_config()["unit_forget_bias"] is False


def test_dropout_same_mask_every_step(rng):
    corenn.utils.set_random_seed(3)
    layer = SimpleRNN(4, return_sequences=True, dropout=0.5)
    x = rng.standard_normal((3, 4, 6)).astype(np.float32)
    y_train = layer(x, training=True)
    mask = np.asarray(layer._drop_mask)
    assert set(np.unique(mask)) <= {0.0, 2.0}
    np.testing.assert_allclose(y_train, layer(x * mask[:, None, :]), rtol=1e-6, atol=1e-6)


def test_config_roundtrip():
    layer = GRU(7, return_sequences=True, go_backwards=True, dropout=0.1, name="g")
    again = GRU.from_config(layer.get_config())
    assert again.get_config() == layer.get_config()
    bi = Bidirectional(LSTM(5, return_sequences=True, name="inner"), merge_mode="ave", name="bi")
    cfg = bi.get_config()
    assert cfg["layer"]["class_name"] == "LSTM" and cfg["layer"]["config"]["name"] == "inner"
    assert Bidirectional.from_config(cfg).get_config() == cfg
    assert "recurrent_activation" not in SimpleRNN(3).get_config()


def test_bad_options_raise_and_other_activations_run_stepwise(rng):
    # an activation the fused kernels lack runs the cell's call per step (Keras semantics)
    layer = LSTM(3, activation="softplus", return_sequences=True)
    x = rng.standard_normal((2, 4, 5)).astype(np.float32)
    y = layer(x)
    w, r, b = (a.astype(np.float64) for a in layer.get_weights())
    softplus = lambda v: np.log1p(np.exp(v))  # noqa: E731
    h, c = np.zeros((2, 3)), np.zeros((2, 3))
    for t in range(4):
        z = x[:, t] @ w + h @ r + b
        sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        c = sig(z[:, 3:6]) * c + sig(z[:, :3]) * softplus(z[:, 6:9])
        h = sig(z[:, 9:]) * softplus(c)
        np.testing.assert_allclose(y[:, t], h, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="dropout must be in"):
        LSTM(3, dropout=1.5)
    with pytest.raises(ValueError, match="lstm"):
        LSTM(3, name="lstm_bad").build((None, 4))
    layer = LSTM(3)
    layer(np.zeros((2, 4, 5), np.float32))
    with pytest.raises(ValueError, match="expects input of shape"):
        layer(np.zeros((2, 4, 6), np.float32))


def test_sequential_lstm_trains(rng):
    corenn.utils.set_random_seed(0)
    x = rng.standard_normal((256, 6, 2)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1) > 0).astype(np.int64)  # needs the whole sequence
    model = corenn.Sequential([corenn.layers.Input(shape=(6, 2)), LSTM(8, return_sequences=True),
                               LSTM(8), corenn.layers.Dense(2)])
    model.compile(optimizer=corenn.optimizers.Adam(1e-2),
                  loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit(x, y, batch_size=32, epochs=8, verbose=0).history["loss"]
    assert hist[-1] < 0.5 * hist[0]


def test_torch_oracle(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    lstm = LSTM(6, return_sequences=True)
    y = lstm(x)
    w, r, b = lstm.get_weights()
    tl = torch.nn.LSTM(4, 6, batch_first=True)  # same gate order i, f, g, o
    with torch.no_grad():
        tl.weight_ih_l0.copy_(torch.from_numpy(w.T.copy()))
        tl.weight_hh_l0.copy_(torch.from_numpy(r.T.copy()))
        tl.bias_ih_l0.copy_(torch.from_numpy(b))
        tl.bias_hh_l0.zero_()
        np.testing.assert_allclose(y, tl(torch.from_numpy(x))[0].numpy(), rtol=1e-4, atol=1e-5)
    gru = GRU(6, return_sequences=True)
    y = gru(x)
    w, r, b = gru.get_weights()
    order = np.r_[6:12, 0:6, 12:18]  # Keras z, r, h -> torch r, z, n
    tg = torch.nn.GRU(4, 6, batch_first=True)
    with torch.no_grad():
        tg.weight_ih_l0.copy_(torch.from_numpy(w[:, order].T.copy()))
        tg.weight_hh_l0.copy_(torch.from_numpy(r[:, order].T.copy()))
        tg.bias_ih_l0.copy_(torch.from_numpy(b[0, order].copy()))
        tg.bias_hh_l0.copy_(torch.from_numpy(b[1, order].copy()))
        np.testing.assert_allclose(y, tg(torch.from_numpy(x))[0].numpy(), rtol=1e-4, atol=1e-5)
