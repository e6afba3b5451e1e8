"""float64 forms of the preprocessing, normalization, noise, shape and recurrent layers
(layers/_float64_more.py), and the lookup / encoding layers that a float64 policy leaves as they are.

For each layer: (a) the float64 layer's output equals the float32 layer's with the same weights to
float32 tolerance and is float64; (b) its values match an independent float64 NumPy reference
(tests/reference.py) at rtol 1e-12, which float32 arithmetic cannot meet; (c) its input and weight
gradients match float64 central differences. Then BatchNormalization's moving statistics after fit
steps, small float64 models trained with fit under set_floatx('float64'), and save / load.
"""
import numpy as np
import pytest

import corenn as tf
from corenn import keras
from corenn.keras import layers
from tests import reference as ref


@pytest.fixture
def floatx64():
    keras.backend.set_floatx("float64")
    try:
        yield
    finally:
        keras.backend.set_floatx("float32")


def _np(t):
    return np.asarray(t, dtype=np.float64)


def _rng(seed):
    return np.random.default_rng(seed)


def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


# -- the layers, their inputs and their float64 NumPy references ------------------------------
# each case: make(dtype) -> layer, input array, reference(x, weights as float64 arrays) -> y
# (weights in get_weights order), call keyword arguments

def _bn_infer_ref(x, w):
    gamma, beta, mm, mv = w
    return ref.batch_norm_infer(x, gamma, beta, mm, mv, epsilon=1e-3)


def _group_norm_ref(x, w, groups):
    gamma, beta = w
    n, c = x.shape[0], x.shape[-1]
    xg = x.reshape(n, -1, groups, c // groups)
    mean = xg.mean(axis=(1, 3), keepdims=True)
    var = ((xg - mean) ** 2).mean(axis=(1, 3), keepdims=True)
    return ((xg - mean) / np.sqrt(var + 1e-3)).reshape(x.shape) * gamma + beta


def _lstm_ref(x, w, **kw):
    return ref.rnn_forward("lstm", x, *w, **kw)[0]


def _cases():
    r = _rng(0)
    x2 = r.standard_normal((5, 4))
    x3 = r.standard_normal((3, 4, 2))
    ids = np.array([[1, 2, 0, 4], [3, 0, 0, 9]])
    return {
        "embedding": (lambda d: layers.Embedding(10, 3, dtype=d), ids, lambda x, w: ref.embedding(x, w[0]), {}),
        "rescaling": (lambda d: layers.Rescaling([0.5, 2.0, -1.0, 3.0], offset=0.25, dtype=d), x2,
                      lambda x, w: x * np.array([0.5, 2.0, -1.0, 3.0]) + 0.25, {}),
        "normalization_fixed": (lambda d: layers.Normalization(mean=[0.1, -0.2, 0.3, 0.7],
                                                               variance=[1.7, 0.3, 2.9, 0.1], dtype=d), x2,
                                lambda x, w: (x - np.array([0.1, -0.2, 0.3, 0.7])) / np.sqrt([1.7, 0.3, 2.9, 0.1]),
                                {}),
        "normalization_invert": (lambda d: layers.Normalization(mean=[0.1, -0.2, 0.3, 0.7], variance=[1.7, 0.3, 2.9, 0.1],
                                                                invert=True, dtype=d), x2,
                                 lambda x, w: np.array([0.1, -0.2, 0.3, 0.7]) + x * np.sqrt([1.7, 0.3, 2.9, 0.1]), {}),
        "batch_norm_inference": (lambda d: layers.BatchNormalization(
            dtype=d, gamma_initializer="random_normal", beta_initializer="random_normal",
            moving_mean_initializer="random_normal", moving_variance_initializer="ones"), x2, _bn_infer_ref, {}),
        "batch_norm_training": (lambda d: layers.BatchNormalization(
            dtype=d, gamma_initializer="random_normal", beta_initializer="random_normal"), x2,
            lambda x, w: ref.batch_norm_train(x, w[0], w[1])[0], {"training": True}),
        "group_norm": (lambda d: layers.GroupNormalization(2, dtype=d, gamma_initializer="random_normal",
                                                           beta_initializer="random_normal"), x2,
                       lambda x, w: _group_norm_ref(x, w, 2), {}),
        "unit_norm": (lambda d: layers.UnitNormalization(dtype=d), x2,
                      lambda x, w: x / np.sqrt((x ** 2).sum(-1, keepdims=True)), {}),
        "identity": (lambda d: layers.Identity(dtype=d), x2, lambda x, w: x, {}),
        "repeat_vector": (lambda d: layers.RepeatVector(3, dtype=d), x2, lambda x, w: ref.repeat_vector(x, 3), {}),
        "permute": (lambda d: layers.Permute((2, 1), dtype=d), x3, lambda x, w: x.transpose(0, 2, 1), {}),
        "prelu": (lambda d: layers.PReLU(alpha_initializer="random_normal", dtype=d), x2,
                  lambda x, w: np.where(x > 0, x, w[0] * x), {}),
        "prelu_shared": (lambda d: layers.PReLU(alpha_initializer="random_normal", shared_axes=[1], dtype=d), x3,
                         lambda x, w: np.where(x > 0, x, w[0] * x), {}),
        "simple_rnn": (lambda d: layers.SimpleRNN(3, return_sequences=True, dtype=d, bias_initializer="random_normal"),
                       x3, lambda x, w: ref.rnn_forward("simple_rnn", x, *w, return_sequences=True)[0], {}),
        "simple_rnn_backwards": (lambda d: layers.SimpleRNN(3, go_backwards=True, dtype=d), x3,
                                 lambda x, w: ref.rnn_forward("simple_rnn", x, *w, go_backwards=True)[0], {}),
        "lstm": (lambda d: layers.LSTM(3, dtype=d, bias_initializer="random_normal"), x3, _lstm_ref, {}),
        "lstm_sequences_backwards": (lambda d: layers.LSTM(3, return_sequences=True, go_backwards=True, dtype=d), x3,
                                     lambda x, w: _lstm_ref(x, w, return_sequences=True, go_backwards=True), {}),
        "gru": (lambda d: layers.GRU(3, return_sequences=True, dtype=d, bias_initializer="random_normal"), x3,
                lambda x, w: ref.rnn_forward("gru", x, *w, return_sequences=True)[0], {}),
        "gru_reset_before": (lambda d: layers.GRU(3, reset_after=False, dtype=d, bias_initializer="random_normal"), x3,
                             lambda x, w: ref.rnn_forward("gru", x, *w, reset_after=False)[0], {}),
        "gru_relu_hard": (lambda d: layers.GRU(3, activation="relu", recurrent_activation="sigmoid", dtype=d), x3,
                          lambda x, w: ref.rnn_forward("gru", x, *w, activation="relu")[0], {}),
        "time_distributed_dense": (lambda d: layers.TimeDistributed(layers.Dense(2, dtype=d), dtype=d), x3,
                                   lambda x, w: x @ w[0] + w[1], {}),
        "bidirectional_lstm": (lambda d: layers.Bidirectional(layers.LSTM(2, return_sequences=True, dtype=d), dtype=d),
                               x3, lambda x, w: np.concatenate([
                                   _lstm_ref(x, w[:3], return_sequences=True),
                                   _lstm_ref(x, w[3:], return_sequences=True, go_backwards=True)[:, ::-1]], -1), {}),
    }


CASES = _cases()


def _built_pair(name):
    make, x, reference, kw = CASES[name]
    l32, l64 = make(None), make("float64")
    l32(x)
    l64(x)
    w = [np.asarray(v, np.float64) for v in l32.get_weights()]
    l64.set_weights(w)
    return l32, l64, x, reference, kw


@pytest.mark.parametrize("name", sorted(CASES))
def test_float64_layer_matches_float32_layer_and_the_float64_reference(name):
    l32, l64, x, reference, kw = _built_pair(name)
    assert all(str(v.dtype) == "float64" for v in l64.weights)
    w = [np.asarray(v, np.float64) for v in l64.get_weights()]
    y64 = l64(x, **kw)
    y32 = l32(x, **kw)
    assert str(y64.dtype) == "float64"
    np.testing.assert_allclose(_np(y64), _np(y32), rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(_np(y64), reference(np.asarray(x, np.float64), w), rtol=1e-12, atol=1e-13)


_GRAD_CASES = sorted(n for n in CASES if n not in ("identity",))


@pytest.mark.parametrize("name", _GRAD_CASES)
def test_float64_layer_gradients_match_central_differences(name):
    _, layer, x, _, kw = _built_pair(name)
    differentiable_x = name != "embedding"
    xt = tf.constant(np.asarray(x, np.float64), dtype=tf.float64) if differentiable_x else tf.constant(x)
    y0 = layer(xt, **kw)
    probe = _rng(7).standard_normal(tuple(y0.shape))
    weights = list(layer.trainable_weights)
    with tf.GradientTape() as tape:
        if differentiable_x:
            tape.watch(xt)
        loss = tf.reduce_sum(layer(xt, **kw) * probe)
    grads = tape.gradient(loss, ([xt] if differentiable_x else []) + weights)
    assert all(g is not None and str(g.dtype) == "float64" for g in grads)
    values = [np.asarray(x, np.float64)] if differentiable_x else []
    values += [np.array(w, np.float64) for w in weights]

    def f_at(k):
        def f(v):
            if differentiable_x and k == 0:
                out = layer(tf.constant(v, dtype=tf.float64), **kw)
            else:
                w = weights[k - int(differentiable_x)]
                old = np.array(w, copy=True)
                w.assign(v)
                out = layer(xt, **kw)
                w.assign(old)
            return float(np.sum(_np(out) * probe))
        return f
    for k, (g, v) in enumerate(zip(grads, values)):
        np.testing.assert_allclose(_np(g), ref.numerical_grad(f_at(k), v), rtol=1e-6, atol=1e-8)
