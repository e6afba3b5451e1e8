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


from reference import f64 as _np  # noqa: E402  (the floatx64 fixture: tests/conftest.py)


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
    x4 = r.standard_normal((2, 3, 2, 2))
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
        "batch_norm_channels_first": (lambda d: layers.BatchNormalization(
            axis=1, dtype=d, gamma_initializer="random_normal", beta_initializer="random_normal"), x4,
            lambda x, w: np.moveaxis(ref.batch_norm_train(np.moveaxis(x, 1, -1), w[0], w[1])[0], -1, 1),
            {"training": True}),
        "flatten_channels_first": (lambda d: layers.Flatten(data_format="channels_first", dtype=d), x4,
                                   lambda x, w: np.moveaxis(x, 1, -1).reshape(len(x), -1), {}),
        "group_norm": (lambda d: layers.GroupNormalization(2, dtype=d, gamma_initializer="random_normal",
                                                           beta_initializer="random_normal"), x2,
                       lambda x, w: _group_norm_ref(x, w, 2), {}),
        "rms_norm": (lambda d: layers.RMSNormalization(dtype=d), x2,
                     lambda x, w: x / np.sqrt((x ** 2).mean(-1, keepdims=True) + 1e-6) * w[0], {}),
        "unit_norm": (lambda d: layers.UnitNormalization(dtype=d), x2,
                      lambda x, w: x / np.sqrt((x ** 2).sum(-1, keepdims=True)), {}),
        "identity": (lambda d: layers.Identity(dtype=d), x2, lambda x, w: x, {}),
        "einsum_dense": (lambda d: layers.EinsumDense("ab,bc->ac", output_shape=3, bias_axes="c",
                                                      activation="tanh", bias_initializer="random_normal", dtype=d),
                         x2, lambda x, w: np.tanh(np.einsum("ab,bc->ac", x, w[0]) + w[1]), {}),
        "einsum_dense_heads": (lambda d: layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de",
                                                            bias_initializer="random_normal", dtype=d),
                               x3, lambda x, w: np.einsum("abc,cde->abde", x, w[0]) + w[1], {}),
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
        "gru_relu": (lambda d: layers.GRU(3, activation="relu", recurrent_activation="sigmoid", dtype=d), x3,
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


# -- masks, states, noise ---------------------------------------------------------------------

def test_embedding_mask_zero_masks_a_float64_lstm_as_the_reference():
    ids = np.array([[3, 1, 0, 0], [2, 5, 7, 1], [0, 4, 4, 0]])

    def build(dtype):
        inp = keras.Input((4,), dtype="int32")
        emb = layers.Embedding(8, 3, mask_zero=True, dtype=dtype)
        rnn = layers.LSTM(2, return_sequences=True, dtype=dtype)
        return keras.Model(inp, rnn(emb(inp))), emb, rnn
    m32, _, _ = build(None)
    m64, emb, rnn = build("float64")
    m64.set_weights(m32.get_weights())
    y64 = m64.predict(ids, verbose=0)
    assert y64.dtype == np.float64
    np.testing.assert_allclose(y64, m32.predict(ids, verbose=0), rtol=2e-5, atol=2e-6)
    assert np.asarray(emb.compute_mask(ids)).tolist() == (ids != 0).tolist()
    table, (k, rk, b) = _np(emb.embeddings), rnn.get_weights()
    want = ref.rnn_forward("lstm", ref.embedding(ids, table), k, rk, b, return_sequences=True, mask=ids != 0)[0]
    np.testing.assert_allclose(y64, want, rtol=1e-12, atol=1e-14)


def test_masking_and_bidirectional_gru_with_a_mask_in_float64():
    x = _rng(3).standard_normal((2, 5, 3))
    x[0, 3:] = 0.0   # padded steps
    masking = layers.Masking(dtype="float64")
    assert np.asarray(masking.compute_mask(x)).tolist() == [[True] * 3 + [False] * 2, [True] * 5]
    bi = layers.Bidirectional(layers.GRU(2, return_sequences=True, dtype="float64"), merge_mode="sum",
                              dtype="float64")
    y = bi(masking(x))
    assert str(y.dtype) == "float64"
    w = [_np(v) for v in bi.get_weights()]
    m = np.any(x != 0, axis=-1)
    yf = ref.rnn_forward("gru", x, *w[:3], return_sequences=True, mask=m)[0]
    yb = ref.rnn_forward("gru", x, *w[3:], return_sequences=True, go_backwards=True, mask=m)[0][:, ::-1]
    # Keras: a Bidirectional's masked steps output 0 in both directions
    np.testing.assert_allclose(_np(y), (yf + yb) * m[:, :, None], rtol=1e-12, atol=1e-14)


def test_float64_lstm_return_state_initial_state_and_stateful():
    r = _rng(4)
    x = r.standard_normal((2, 6, 3))
    h0, c0 = r.standard_normal((2, 4)), r.standard_normal((2, 4))
    lstm = layers.LSTM(4, return_sequences=True, return_state=True, dtype="float64")
    y, h, c = lstm(x, initial_state=[tf.constant(h0, dtype=tf.float64), tf.constant(c0, dtype=tf.float64)])
    assert {str(t.dtype) for t in (y, h, c)} == {"float64"}
    np.testing.assert_allclose(_np(h), _np(y)[:, -1], rtol=0, atol=0)
    # the recursion from (h0, c0) by hand, float64
    k, rk, b = (_np(v) for v in lstm.get_weights())
    hh, cc = h0, c0
    for t in range(6):
        z = x[:, t] @ k + hh @ rk + b
        i, f, g, o = _sig(z[:, :4]), _sig(z[:, 4:8]), np.tanh(z[:, 8:12]), _sig(z[:, 12:])
        cc = f * cc + i * g
        hh = o * np.tanh(cc)
    np.testing.assert_allclose(_np(h), hh, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(_np(c), cc, rtol=1e-12, atol=1e-14)
    # stateful: two halves carry the float64 states across calls, as one call of the whole
    whole = layers.LSTM(4, dtype="float64")
    whole(x)
    part = layers.LSTM(4, stateful=True, dtype="float64")
    part(x[:, :3])
    part.set_weights(whole.get_weights())
    part.reset_states()
    part(x[:, :3])
    np.testing.assert_allclose(_np(part(x[:, 3:])), _np(whole(x)), rtol=1e-12, atol=1e-14)
    part.reset_states()
    np.testing.assert_allclose(_np(part(x[:, :3])), _np(whole(x[:, :3])), rtol=1e-12, atol=1e-14)


def test_float64_noise_layers_are_identities_in_inference_and_noise_in_training():
    x = _rng(5).standard_normal((200, 50)) + 3.0
    for layer in (layers.GaussianNoise(0.3, dtype="float64"), layers.GaussianDropout(0.3, dtype="float64"),
                  layers.AlphaDropout(0.3, dtype="float64"), layers.ActivityRegularization(0.1, dtype="float64")):
        y = layer(x)
        assert str(y.dtype) == "float64"
        np.testing.assert_array_equal(_np(y), x)
    noise = _np(layers.GaussianNoise(0.3, seed=1, dtype="float64")(x, training=True)) - x
    assert abs(noise.std() - 0.3) < 0.01 and abs(noise.mean()) < 0.015   # 5 sigma
    ratio = _np(layers.GaussianDropout(0.3, seed=1, dtype="float64")(x, training=True)) / x
    assert abs(ratio.mean() - 1.0) < 0.03 and abs(ratio.std() - np.sqrt(0.3 / 0.7)) < 0.03   # 4.6 sigma
    rate, alpha_p = 0.3, -1.7580993408473766
    a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * rate
    y = _np(layers.AlphaDropout(rate, seed=2, dtype="float64")(x, training=True))
    kept = np.isclose(y, a * x + b, rtol=1e-15, atol=0)
    np.testing.assert_allclose(y[~kept], a * alpha_p + b, rtol=1e-15)
    assert abs(kept.mean() - (1 - rate)) < 0.025   # 5 sigma
    x4 = _rng(6).standard_normal((8, 3, 3, 16))
    y4 = _np(layers.SpatialDropout2D(0.5, seed=3, dtype="float64")(x4, training=True))
    dropped = np.all(y4 == 0, axis=(1, 2))
    chan = np.moveaxis(x4, 3, 1)
    ych = np.moveaxis(y4, 3, 1)
    np.testing.assert_allclose(ych[~dropped], 2.0 * chan[~dropped], rtol=1e-15)
    assert 0 < dropped.mean() < 1
    # channels_first: one draw per (sample, channel at axis 1)
    yf = _np(layers.SpatialDropout2D(0.5, data_format="channels_first", seed=3, dtype="float64")(chan, training=True))
    dropped_f = np.all(yf == 0, axis=(2, 3))
    np.testing.assert_allclose(yf[~dropped_f], 2.0 * chan[~dropped_f], rtol=1e-15)
    assert 0 < dropped_f.mean() < 1
    x3 = _rng(7).standard_normal((8, 5, 16))
    y3 = np.moveaxis(_np(layers.SpatialDropout1D(0.5, seed=3, dtype="float64")(x3, training=True)), 2, 1)
    d3 = np.all(y3 == 0, axis=2)
    np.testing.assert_allclose(y3[~d3], 2.0 * np.moveaxis(x3, 2, 1)[~d3], rtol=1e-15)


def test_gaussian_dropout_training_gradient_is_the_mask():
    layer = layers.GaussianDropout(0.4, seed=9, dtype="float64")
    x = tf.constant(_rng(8).standard_normal((4, 6)), dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y)
    np.testing.assert_allclose(_np(tape.gradient(loss, x)), _np(y) / _np(x), rtol=1e-12)


@pytest.mark.parametrize("make, x", [
    (lambda: layers.Discretization(bin_boundaries=[-0.5, 0.0, 0.5]), np.linspace(-1, 1, 12).reshape(3, 4)),
    (lambda: layers.CategoryEncoding(6, output_mode="count"), np.array([[1, 2, 2], [5, 0, 5]])),
    (lambda: layers.CategoryEncoding(6, output_mode="multi_hot"), np.array([[1, 2, 2], [5, 0, 5]])),
    (lambda: layers.Hashing(7, salt=3), np.array([["a"], ["bc"], ["d"]])),
    (lambda: layers.StringLookup(vocabulary=["a", "b", "c"]), np.array([["a", "z"], ["c", "b"]])),
    (lambda: layers.IntegerLookup(vocabulary=[4, 9, 2]), np.array([[4, 7], [2, 9]])),
    (lambda: layers.TextVectorization(vocabulary=["the", "cat", "sat"]), np.array(["the cat sat", "a cat"])),
])
def test_lookup_and_encoding_layers_keep_working_under_floatx_float64(make, x):
    want = np.asarray(make()(x))
    keras.backend.set_floatx("float64")
    try:
        got = make()(x)
    finally:
        keras.backend.set_floatx("float32")
    np.testing.assert_array_equal(np.asarray(got), want)
    assert np.asarray(got).dtype == want.dtype


# -- fit, moving statistics, save / load --------------------------------------------------------

def test_batch_norm_moving_statistics_after_fit_steps_are_the_float64_update(floatx64):
    r = _rng(10)
    x, y = r.standard_normal((16, 3)) * [1.0, 3.0, 0.5] + [2.0, -1.0, 0.1], r.standard_normal((16, 1))
    bn = layers.BatchNormalization(momentum=0.9)
    model = keras.Sequential([keras.Input((3,)), bn, layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    assert [str(w.dtype) for w in bn.weights] == ["float64"] * 4
    assert [w.name for w in bn.non_trainable_weights] == ["moving_mean", "moving_variance"]
    mean, var = np.zeros(3), np.ones(3)
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for _ in range(2):
        for batch in (x[:8], x[8:]):   # the input is the data itself: BN is the first layer
            mean = ref.moving_average(mean, batch.mean(axis=0), 0.9)
            var = ref.moving_average(var, batch.var(axis=0), 0.9)
    assert str(bn.moving_mean.dtype) == str(bn.moving_variance.dtype) == "float64"
    np.testing.assert_allclose(_np(bn.moving_mean), mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(_np(bn.moving_variance), var, rtol=1e-12, atol=1e-15)
    # inference reads the moving statistics
    gamma, beta = _np(bn.gamma), _np(bn.beta)
    np.testing.assert_allclose(_np(bn(x)), ref.batch_norm_infer(x, gamma, beta, mean, var), rtol=1e-12, atol=1e-14)


def test_normalization_adapt_is_float64(floatx64):
    x = _rng(11).standard_normal((40, 3)) * 1e-4 + 1e4   # a float32 mean / variance would lose these digits
    norm = layers.Normalization()
    norm.adapt(x)
    assert [str(w.dtype) for w in (norm.mean, norm.variance)] == ["float64", "float64"]
    np.testing.assert_allclose(_np(norm.mean), x.mean(axis=0), rtol=1e-15)
    np.testing.assert_allclose(_np(norm.variance), x.var(axis=0), rtol=1e-9)
    y = norm(x)
    np.testing.assert_allclose(_np(y), (x - x.mean(0)) / x.std(0), rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(_np(y).std(axis=0), 1.0, rtol=1e-9)


def _all_float64(model):
    return all(str(w.dtype) == "float64" for w in model.weights)


def test_float64_lstm_trains_with_fit(floatx64):
    keras.utils.set_random_seed(12)
    r = _rng(12)
    x = r.standard_normal((64, 6, 2))
    y = x[:, :, :1].sum(axis=1) * 0.5   # a running sum: what a recurrent state learns
    model = keras.Sequential([keras.Input((6, 2)), layers.LSTM(8), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, batch_size=16, epochs=8, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert model.evaluate(x, y, verbose=0) < 0.5 * before
    assert _all_float64(model)
    assert model.predict(x[:3], verbose=0).dtype == np.float64


def test_float64_mlp_with_normalization_and_batch_norm_trains_with_fit(floatx64):
    keras.utils.set_random_seed(13)
    r = _rng(13)
    x = r.standard_normal((128, 4)) * [100.0, 0.01, 5.0, 1.0] + [1e3, 0.0, -7.0, 2.0]
    y = (((x[:, :1] - 1e3) / 100.0) ** 2 + (x[:, 2:3] + 7.0) / 5.0)
    norm = layers.Normalization()
    norm.adapt(x)
    model = keras.Sequential([keras.Input((4,)), norm, layers.Dense(16), layers.BatchNormalization(),
                              layers.Activation("tanh"), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    history = model.fit(x, y, batch_size=32, epochs=20, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert _all_float64(model)
    bn = model.layers[2]
    assert not np.allclose(_np(bn.moving_mean), 0.0)   # fit moved the statistics


def test_float64_models_save_and_load_bit_exactly(floatx64, tmp_path):
    r = _rng(14)
    ids = r.integers(0, 9, (6, 5))
    inp = keras.Input((5,), dtype="int32")
    h = layers.Embedding(9, 4, mask_zero=True)(inp)
    h = layers.Bidirectional(layers.GRU(3, return_sequences=True))(h)
    h = layers.LSTM(3)(h)
    h = layers.BatchNormalization()(h)
    h = layers.PReLU()(h)
    h = layers.RepeatVector(2)(h)
    h = layers.SimpleRNN(2)(h)
    out = layers.Rescaling(2.0, offset=1.0)(h)
    model = keras.Model(inp, out)
    model.compile(optimizer="adam", loss="mse")
    model.fit(ids, r.standard_normal((6, 2)), epochs=1, verbose=0)
    want = model.predict(ids, verbose=0)
    assert want.dtype == np.float64
    path = str(tmp_path / "m.keras")
    model.save(path)
    keras.backend.set_floatx("float32")   # the saved config carries the dtype, not the global floatx
    back = keras.models.load_model(path)
    got = back.predict(ids, verbose=0)
    assert got.dtype == np.float64 and _all_float64(back)
    np.testing.assert_array_equal(got, want)


def test_float64_simple_rnn_dropout_masks_are_float64_and_applied_per_sequence():
    x = _rng(15).standard_normal((4, 5, 3))
    rnn = layers.SimpleRNN(3, dropout=0.3, recurrent_dropout=0.4, seed=2, return_sequences=True, dtype="float64")
    y = _np(rnn(x, training=True))
    (dm,), (rm,) = rnn.cell._dropout_masks   # one mask per sequence, the same at every step (Keras)
    dm, rm = _np(dm), _np(rm)
    assert set(np.unique(dm)) <= {0.0, 1 / 0.7} and set(np.unique(rm)) <= {0.0, 1 / 0.6}
    k, rk, b = (_np(v) for v in rnn.get_weights())
    h, want = np.zeros((4, 3)), []
    for t in range(5):
        h = np.tanh((x[:, t] * dm) @ k + (h * rm) @ rk + b)
        want.append(h)
    np.testing.assert_allclose(y, np.stack(want, 1), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(_np(rnn(x)), ref.rnn_forward("simple_rnn", x, k, rk, b, return_sequences=True)[0],
                               rtol=1e-12, atol=1e-14)   # inference: no dropout


def test_float64_bidirectional_initial_states_and_return_state():
    r = _rng(16)
    x = r.standard_normal((2, 4, 3))
    states = [tf.constant(r.standard_normal((2, 2)), dtype=tf.float64) for _ in range(2)]
    bi = layers.Bidirectional(layers.SimpleRNN(2, return_state=True, dtype="float64"), merge_mode="concat",
                              dtype="float64")
    y, hf, hb = bi(x, initial_state=states)
    kf, rf, bf, kb, rb, bb = (_np(v) for v in bi.get_weights())
    h = _np(states[0])
    for t in range(4):
        h = np.tanh(x[:, t] @ kf + h @ rf + bf)
    g = _np(states[1])
    for t in reversed(range(4)):
        g = np.tanh(x[:, t] @ kb + g @ rb + bb)
    np.testing.assert_allclose(_np(hf), h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(_np(hb), g, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(_np(y), np.concatenate([h, g], -1), rtol=1e-12, atol=1e-14)


def test_float64_softmax_honours_a_mask_as_the_float32_layer():
    x = _rng(17).standard_normal((2, 3, 4))
    mask = np.array([[1, 1, 0, 1], [0, 0, 0, 0]] * 3, bool).reshape(2, 3, 4)
    y64 = layers.Softmax(dtype="float64")(x, mask=mask)
    y32 = layers.Softmax()(x, mask=mask)
    assert str(y64.dtype) == "float64"
    np.testing.assert_allclose(_np(y64), _np(y32), rtol=1e-5, atol=1e-7)
    e = np.exp(x - x.max(-1, keepdims=True)) * mask
    want = np.divide(e, e.sum(-1, keepdims=True), out=np.zeros_like(e), where=e.sum(-1, keepdims=True) > 0)
    np.testing.assert_allclose(_np(y64), want, rtol=1e-12, atol=1e-15)


def test_float64_activity_regularization_adds_its_penalty_to_the_loss(floatx64):
    x = _rng(18).standard_normal((8, 3))
    model = keras.Sequential([keras.Input((3,)), layers.ActivityRegularization(l1=0.01, l2=0.1)])
    model.compile(optimizer="sgd", loss="mse")
    y = np.zeros((8, 3))
    want = np.mean(x ** 2) + (0.01 * np.abs(x).sum() + 0.1 * (x ** 2).sum()) / 8
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=8, verbose=0), want, rtol=1e-6)


@pytest.mark.parametrize("own", [False, True], ids=["ActivityRegularization", "Dense_activity_regularizer"])
def test_float64_activity_regularization_trains_its_input_layer(floatx64, own):
    x = _rng(19).standard_normal((16, 3))
    if own:   # the layer's own activity_regularizer: the graph's penalty wrapper, in float64
        dense = layers.Dense(3, kernel_initializer="ones", activity_regularizer=keras.regularizers.L2(0.5))
        model = keras.Sequential([keras.Input((3,)), dense])
    else:
        dense = layers.Dense(3, kernel_initializer="ones")
        model = keras.Sequential([keras.Input((3,)), dense, layers.ActivityRegularization(l2=0.5)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    k0 = _np(dense.kernel).copy()
    model.fit(x, np.zeros((16, 3)), batch_size=16, epochs=1, shuffle=False, verbose=0)
    # one SGD step on mean((xW+b)^2) + 0.5 * sum((xW+b)^2) / 16: d/dW = x^T (2 y / 48 + y / 16)
    yv = x @ k0
    grad = x.T @ (2 * yv / 48 + 2 * 0.5 * yv / 16)
    np.testing.assert_allclose(_np(dense.kernel), k0 - 0.1 * grad, rtol=1e-12, atol=1e-14)
    assert str(dense.kernel.dtype) == "float64"


def test_float64_batch_norm_masked_moments_as_keras():
    r = _rng(20)
    x = r.standard_normal((3, 5, 2)) * 2.0 + 1.0
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], bool)
    bn = layers.BatchNormalization(momentum=0.5, dtype="float64")
    y = _np(bn(x, mask=mask, training=True))
    # Keras 3 (BatchNormalization._moments): the statistics over the unmasked steps, + epsilon in
    # the count; every position is normalized with them
    rows = x[mask]
    mean = rows.sum(0) / (len(rows) + 1e-7)
    var = ((rows - mean) ** 2).sum(0) / (len(rows) + 1e-7)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(_np(bn.moving_mean), 0.5 * mean, rtol=1e-12)
    np.testing.assert_allclose(_np(bn.moving_variance), 0.5 + 0.5 * var, rtol=1e-12)


def test_text_model_with_exempt_front_end_trains_in_float64(floatx64):
    keras.utils.set_random_seed(21)
    texts = np.array(["good fine nice", "bad awful", "nice good", "awful bad bad", "fine", "bad"] * 4)
    labels = np.array([1, 0, 1, 0, 1, 0] * 4, np.float64).reshape(-1, 1)
    vec = layers.TextVectorization(output_sequence_length=4)
    vec.adapt(texts)
    ids = np.asarray(vec(texts))
    assert ids.dtype.kind == "i"   # the exempt layer's integer output, as under float32
    model = keras.Sequential([keras.Input((4,), dtype="int64"), layers.Embedding(vec.vocabulary_size(), 4, mask_zero=True),
                              layers.GRU(4), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    history = model.fit(ids, labels, epochs=10, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert _all_float64(model)
    assert np.all((model.predict(ids, verbose=0) > 0.5) == (labels > 0.5))


@pytest.mark.parametrize("make", [
    lambda: layers.Normalization(mean=[0.5] * 3, variance=[4.0] * 3),
    lambda: layers.Rescaling(2.0, offset=1.0),
    lambda: layers.BatchNormalization(moving_mean_initializer="random_normal", gamma_initializer="random_normal"),
    lambda: layers.UnitNormalization(),
    lambda: layers.GroupNormalization(1),
    lambda: layers.RMSNormalization(),
    lambda: keras.Sequential([layers.RepeatVector(3), layers.LSTM(3)]),
    lambda: keras.Sequential([layers.RepeatVector(3), layers.GRU(3, go_backwards=True)]),
], ids=["Normalization", "Rescaling", "BatchNormalization", "UnitNormalization", "GroupNormalization",
                               "RMSNormalization", "LSTM", "GRU"])
def test_second_derivative_through_float64_forms(floatx64, make):
    """A PINN's u_xx through the layer (nested tapes), against float64 central differences."""
    keras.utils.set_random_seed(22)
    # (a random bias: the tanh features are not all 0 at x = 0, where unit normalization is singular)
    model = keras.Sequential([keras.Input((1,)), layers.Dense(3, activation="tanh", bias_initializer="random_normal"),
                              make(), layers.Dense(1)])
    x = tf.constant(np.linspace(-1.0, 1.0, 7).reshape(-1, 1), dtype=tf.float64)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            u = model(x)
        ux = inner.gradient(u, x)
    uxx = outer.gradient(ux, x)
    assert str(uxx.dtype) == "float64"

    def f(v):
        return _np(model(tf.constant(v, dtype=tf.float64)))
    xv, h, h2 = _np(x), 1e-5, 1e-4
    np.testing.assert_allclose(_np(ux), (f(xv + h) - f(xv - h)) / (2 * h), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(_np(uxx), (f(xv + h2) - 2 * f(xv) + f(xv - h2)) / h2 ** 2, rtol=1e-5, atol=1e-6)


def test_float64_stateful_gru_keeps_given_states_in_float64_and_fits(floatx64):
    r = _rng(23)
    x = r.standard_normal((4, 3, 2))
    gru = layers.GRU(2, stateful=True)
    model = keras.Sequential([keras.Input((3, 2), batch_size=4), gru, layers.Dense(1)])
    h0 = r.standard_normal((4, 2)) * (1 + 1e-12)   # digits a float32 state would lose
    gru.reset_states([h0])
    assert str(gru.states[0].dtype) == "float64"
    np.testing.assert_array_equal(_np(gru.states[0]), h0)
    k, rk, b = (_np(v) for v in gru.get_weights())
    y = _np(gru(x))
    h = h0
    for t in range(3):   # reset_after=True
        xz, rz = x[:, t] @ k + b[0], h @ rk + b[1]
        z, rr = _sig(xz[:, :2] + rz[:, :2]), _sig(xz[:, 2:4] + rz[:, 2:4])
        h = z * h + (1 - z) * np.tanh(xz[:, 4:] + rr * rz[:, 4:])
    np.testing.assert_allclose(y, h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(_np(gru.states[0]), h, rtol=1e-12, atol=1e-14)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.concatenate([x, x]), np.zeros((8, 1)), batch_size=4, epochs=1, shuffle=False, verbose=0)
    assert str(gru.states[0].dtype) == "float64" and _all_float64(model)


def test_encoding_front_ends_feed_float64_layers_in_a_model(floatx64):
    inp = keras.Input((2,), dtype="int32")
    dense = layers.Dense(1, kernel_initializer="ones")
    model = keras.Model(inp, dense(layers.CategoryEncoding(5, output_mode="count")(inp)))
    x = np.array([[1, 2], [3, 3], [0, 4], [1, 1]])
    counts = np.stack([np.bincount(r, minlength=5) for r in x]).astype(np.float64)
    y = model.predict(x, verbose=0)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, counts @ np.ones((5, 1)))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(x, np.zeros((4, 1)), batch_size=4, epochs=1, verbose=0)
    # one SGD step on mean((c W)^2) from W = 1: dW = 2 c^T (c 1) / 4
    np.testing.assert_allclose(_np(dense.kernel), 1.0 - 0.1 * 2 * counts.T @ (counts @ np.ones((5, 1))) / 4,
                               rtol=1e-12)
    assert str(dense.kernel.dtype) == "float64"
