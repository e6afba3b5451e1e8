"""Losses added by layers (Keras 3 semantics): ``Layer.add_loss`` inside ``call``, the
``activity_regularizer`` argument, the ``ActivityRegularization`` layer, ``layer.losses`` /
``model.losses``. The added losses join the compiled loss in fit / train_on_batch / evaluate and
in ``compute_loss``, and their gradients flow back into the layers that made them. Values and
gradients are checked against float64 NumPy re-implementations with central finite differences
(and torch autograd where installed)."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras, layers, ops, regularizers

from graph_reference import arrays, assert_grads_close, dense, fd_grads, mse, softmax
from reference import binary_crossentropy, l1l2_penalty, vae_kl


def activity_penalty(t, l1=0.0, l2=0.0):
    """Keras 3's activity regularization loss of an output t: the penalty divided by t's batch size."""
    t = np.asarray(t)
    return l1l2_penalty(t, l1, l2) / (t.shape[0] if t.ndim else 1)


def _randomize(model, rng, scale=0.5):
    model.set_weights([rng.normal(0.0, scale, w.shape).astype(np.float32) for w in model.get_weights()])


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# -- the Keras VAE example, small ------------------------------------------------------------------

class Sampling(layers.Layer):
    """The Keras VAE example's sampling layer, with its KL term added as a loss. The noise is
    fixed (``eps``) so that a NumPy recomputation of the step is exact."""

    def __init__(self, eps, **kwargs):
        super().__init__(**kwargs)
        self.eps = tf.convert_to_tensor(np.asarray(eps, np.float32))

    def call(self, inputs):
        z_mean, z_log_var = inputs
        kl = -0.5 * ops.mean(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
        self.add_loss(kl)
        return z_mean + ops.exp(0.5 * z_log_var) * self.eps


N, D, H, LATENT = 8, 6, 5, 2


def _vae(rng, eps):
    x = keras.Input((D,))
    h = layers.Dense(H, activation="tanh")(x)
    z_mean = layers.Dense(LATENT)(h)
    z_log_var = layers.Dense(LATENT)(h)
    z = Sampling(eps)([z_mean, z_log_var])
    d = layers.Dense(H, activation="tanh")(z)
    out = layers.Dense(D, activation="sigmoid")(d)
    model = keras.Model(x, out)
    _randomize(model, rng)
    return model


def _vae_terms(p, x, eps):
    """(reconstruction BCE, KL) of the VAE above for weights ``p`` (float64)."""
    h = dense(x, p[0], p[1], "tanh")
    z_mean, z_log_var = dense(h, p[2], p[3]), dense(h, p[4], p[5])
    z = z_mean + np.exp(0.5 * z_log_var) * eps
    out = _sigmoid(dense(dense(z, p[6], p[7], "tanh"), p[8], p[9]))
    return binary_crossentropy(x, out), vae_kl(z_mean, z_log_var)


def _vae_data(rng):
    x = rng.uniform(0.05, 0.95, (N, D)).astype(np.float32)
    eps = rng.normal(size=(N, LATENT)).astype(np.float32)
    return x, eps


def test_vae_fit_logs_reconstruction_plus_kl_and_decreases():
    rng = np.random.default_rng(0)
    x, eps = _vae_data(rng)
    model = _vae(rng, eps)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    p0 = [np.asarray(w, np.float64) for w in model.get_weights()]
    recon, kl = _vae_terms(p0, x, eps)
    assert kl > 1e-3   # the KL term is not negligible: the check below sees whether it is added
    history = model.fit(x, x, batch_size=N, epochs=40, verbose=0, shuffle=False)
    logged = history.history["loss"]
    # the first step logs the loss of the initial weights: reconstruction + KL
    np.testing.assert_allclose(logged[0], recon + kl, rtol=1e-4)
    assert abs(logged[0] - recon) > 1e-3
    assert logged[-1] < 0.9 * logged[0]
    # evaluate adds the KL term too, and model.losses holds the KL of the last call
    p = [np.asarray(w, np.float64) for w in model.get_weights()]
    recon, kl = _vae_terms(p, x, eps)
    np.testing.assert_allclose(model.evaluate(x, x, batch_size=N, verbose=0), recon + kl, rtol=1e-4)
    assert len(model.losses) == 1
    np.testing.assert_allclose(float(np.asarray(model.losses[0])), kl, rtol=1e-4)


def test_vae_gradients_include_the_kl_term():
    rng = np.random.default_rng(1)
    x, eps = _vae_data(rng)
    model = _vae(rng, eps)
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    p = [np.asarray(w, np.float64) for w in model.get_weights()]
    loss, grads = model.compute_gradients(x, x)
    got = arrays(grads)
    want = fd_grads(lambda q: sum(_vae_terms(q, x, eps)), p)
    np.testing.assert_allclose(loss, sum(_vae_terms(p, x, eps)), rtol=1e-4)
    assert_grads_close(got, want, rtol=2e-3, atol=2e-5)
    # the KL term's gradient is really there: without it the encoder gradients differ
    without_kl = fd_grads(lambda q: _vae_terms(q, x, eps)[0], p)
    assert not np.allclose(got[4], without_kl[4], rtol=1e-2, atol=1e-4)


def test_vae_gradients_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x, eps = _vae_data(rng)
    model = _vae(rng, eps)
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    ts = [torch.tensor(np.asarray(w, np.float64), requires_grad=True) for w in model.get_weights()]
    xt, et = torch.tensor(x, dtype=torch.float64), torch.tensor(eps, dtype=torch.float64)
    h = torch.tanh(xt @ ts[0] + ts[1])
    z_mean, z_log_var = h @ ts[2] + ts[3], h @ ts[4] + ts[5]
    z = z_mean + torch.exp(0.5 * z_log_var) * et
    out = torch.sigmoid(torch.tanh(z @ ts[6] + ts[7]) @ ts[8] + ts[9])
    kl = -0.5 * torch.mean(1 + z_log_var - z_mean ** 2 - torch.exp(z_log_var))
    total = torch.nn.functional.binary_cross_entropy(out, xt) + kl
    total.backward()
    loss, grads = model.compute_gradients(x, x)
    np.testing.assert_allclose(loss, float(total.detach()), rtol=1e-4)
    assert_grads_close(arrays(grads), [t.grad.numpy() for t in ts], rtol=2e-3, atol=2e-5)


# -- activity_regularizer on Dense ------------------------------------------------------------------

L1, L2 = 0.01, 0.02


def _classifier(rng, where):
    """Dense(tanh) -> Dense(softmax), the activity regularizer on the hidden or the output layer
    (the output one sits where softmax + cross-entropy would be fused from the logits)."""
    reg = regularizers.L1L2(l1=L1, l2=L2)
    model = keras.Sequential([
        keras.Input((4,)),
        layers.Dense(5, activation="tanh", activity_regularizer=reg if where == "hidden" else None),
        layers.Dense(3, activation="softmax", activity_regularizer=reg if where == "output" else None),
    ])
    _randomize(model, rng)
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    return model


def _classifier_loss(p, x, y, where):
    h = dense(x, p[0], p[1], "tanh")
    probs = softmax(dense(h, p[2], p[3]))
    data = float(np.mean(-np.sum(y * np.log(probs), axis=-1)))
    return data + activity_penalty(h if where == "hidden" else probs, L1, L2)


@pytest.mark.parametrize("where", ["hidden", "output"])
def test_activity_regularizer_gradient_is_data_loss_plus_penalty(where):
    rng = np.random.default_rng(3)
    model = _classifier(rng, where)
    x = rng.normal(size=(6, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 6)]
    p = [np.asarray(w, np.float64) for w in model.get_weights()]
    loss, grads = model.compute_gradients(x, y)
    np.testing.assert_allclose(loss, _classifier_loss(p, x, y, where), rtol=1e-5)
    want = fd_grads(lambda q: _classifier_loss(q, x, y, where), p)
    assert_grads_close(arrays(grads), want, rtol=1e-3, atol=1e-5)
    # the penalty is part of what train_on_batch reports and of evaluate's loss
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), _classifier_loss(p, x, y, where), rtol=1e-5)
    np.testing.assert_allclose(model.train_on_batch(x, y), _classifier_loss(p, x, y, where), rtol=1e-5)


def test_activity_regularizer_on_conv_is_not_fused_away():
    """Conv2D(relu) + MaxPooling2D is fused into one kernel that never stores the conv output;
    with an activity regularizer on the conv its output is needed, so the pair stays apart."""
    from reference import conv2d_forward, max_pool2d
    rng = np.random.default_rng(4)
    model = keras.Sequential([
        keras.Input((6, 6, 2)),
        layers.Conv2D(3, 3, activation="relu", activity_regularizer=regularizers.L2(0.05)),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(2),
    ])
    _randomize(model, rng)
    model.compile(optimizer="sgd", loss="mse")
    x = rng.normal(size=(3, 6, 6, 2)).astype(np.float32)
    y = rng.normal(size=(3, 2)).astype(np.float32)

    def loss_of(p):
        c = np.maximum(conv2d_forward(x, p[0], p[1]), 0.0)
        pooled = max_pool2d(c, (2, 2), (2, 2), "valid")[0]
        return mse(y, dense(pooled.reshape(3, -1), p[2], p[3])) + activity_penalty(c, 0.0, 0.05)

    p = [np.asarray(w, np.float64) for w in model.get_weights()]
    loss, grads = model.compute_gradients(x, y)
    np.testing.assert_allclose(loss, loss_of(p), rtol=1e-5)
    assert_grads_close(arrays(grads), fd_grads(loss_of, p), rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("kind", ["DepthwiseConv2D", "SeparableConv2D", "Embedding", "LSTM", "Bidirectional"])
def test_activity_regularizer_equals_an_activity_regularization_layer_after(kind):
    """Layer(activity_regularizer=R) trains as Layer followed by ActivityRegularization(R) (whose
    gradients are checked against finite differences above): same loss, same gradients."""
    rng = np.random.default_rng(13)
    reg = dict(l1=0.01, l2=0.03)
    make = {
        "DepthwiseConv2D": (lambda r: layers.DepthwiseConv2D(3, depth_multiplier=2, activation="tanh",
                                                             activity_regularizer=r), (5, 5, 2)),
        "SeparableConv2D": (lambda r: layers.SeparableConv2D(3, 3, padding="same", activity_regularizer=r),
                            (5, 5, 2)),
        "Embedding": (lambda r: layers.Embedding(7, 3, mask_zero=True, activity_regularizer=r), (4,)),
        "LSTM": (lambda r: layers.LSTM(3, return_sequences=True, activity_regularizer=r), (4, 3)),
        "Bidirectional": (lambda r: layers.Bidirectional(layers.GRU(3), activity_regularizer=r), (4, 3)),
    }[kind]
    factory, shape = make
    if kind == "Embedding":
        x = rng.integers(0, 7, (6,) + shape)
        tail = [layers.GlobalAveragePooling1D(), layers.Dense(2)]
    else:
        x = rng.normal(size=(6,) + shape).astype(np.float32)
        tail = [layers.Flatten(), layers.Dense(2)]
    y = rng.normal(size=(6, 2)).astype(np.float32)
    with_arg = keras.Sequential([keras.Input(shape, dtype="int64" if kind == "Embedding" else None),
                                 factory(regularizers.L1L2(**reg))] + tail)
    tail2 = [type(l).from_config(l.get_config()) for l in tail]
    explicit = keras.Sequential([keras.Input(shape, dtype="int64" if kind == "Embedding" else None),
                                 factory(None), layers.ActivityRegularization(**reg)] + tail2)
    _randomize(with_arg, rng)
    explicit.set_weights(with_arg.get_weights())
    for m in (with_arg, explicit):
        m.compile(optimizer="sgd", loss="mse")
    loss_a, grads_a = with_arg.compute_gradients(x, y)
    grads_a = arrays(grads_a)
    loss_b, grads_b = explicit.compute_gradients(x, y)
    no_reg = keras.Sequential([keras.Input(shape, dtype="int64" if kind == "Embedding" else None),
                               factory(None)] + [type(l).from_config(l.get_config()) for l in tail])
    no_reg.set_weights(with_arg.get_weights())
    no_reg.compile(optimizer="sgd", loss="mse")
    np.testing.assert_allclose(loss_a, loss_b, rtol=1e-5)
    assert loss_a > no_reg.evaluate(x, y, verbose=0) + 1e-4   # the penalty is really added
    assert_grads_close(grads_a, arrays(grads_b), rtol=1e-4, atol=1e-6)


# -- the ActivityRegularization layer ---------------------------------------------------------------

def test_activity_regularization_layer_eager_is_identity_with_penalty():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    layer = layers.ActivityRegularization(l1=0.1, l2=0.3)
    y = layer(x)
    np.testing.assert_array_equal(np.asarray(y), x)
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(np.asarray(layer.losses[0])), activity_penalty(x, 0.1, 0.3), rtol=1e-5)
    layer(2 * x)   # a new call replaces the losses of the last one
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(np.asarray(layer.losses[0])), activity_penalty(2 * x, 0.1, 0.3), rtol=1e-5)
    assert layer.get_config()["l1"] == 0.1 and layer.get_config()["l2"] == 0.3
    with pytest.raises(ValueError, match="l2"):
        layers.ActivityRegularization(l2=-1.0)


def test_activity_regularization_layer_in_a_model_trains_the_layer_before_it():
    rng = np.random.default_rng(6)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(5, activation="tanh"),
                              layers.ActivityRegularization(l1=0.02, l2=0.05), layers.Dense(2)])
    _randomize(model, rng)
    model.compile(optimizer="sgd", loss="mse")
    x = rng.normal(size=(7, 4)).astype(np.float32)
    y = rng.normal(size=(7, 2)).astype(np.float32)

    def loss_of(p):
        h = dense(x, p[0], p[1], "tanh")
        return mse(y, dense(h, p[2], p[3])) + activity_penalty(h, 0.02, 0.05)

    p = [np.asarray(w, np.float64) for w in model.get_weights()]
    loss, grads = model.compute_gradients(x, y)
    np.testing.assert_allclose(loss, loss_of(p), rtol=1e-5)
    assert_grads_close(arrays(grads), fd_grads(loss_of, p), rtol=1e-3, atol=1e-5)


# -- model.losses -----------------------------------------------------------------------------------

def test_model_losses_are_those_of_the_last_call():
    rng = np.random.default_rng(7)
    x, eps = _vae_data(rng)
    inp = keras.Input((D,))
    h = layers.Dense(H, activation="tanh", kernel_regularizer=regularizers.L2(0.1))(inp)
    z_mean, z_log_var = layers.Dense(LATENT)(h), layers.Dense(LATENT)(h)
    z = Sampling(eps)([z_mean, z_log_var])
    out = layers.ActivityRegularization(l1=0.01)(z)
    model = keras.Model(inp, out)
    _randomize(model, rng)
    p = [np.asarray(w, np.float64) for w in model.get_weights()]
    assert [float(np.asarray(v)) for v in model.losses] == pytest.approx([0.1 * np.sum(p[0] ** 2)], rel=1e-5)

    def expected(xb):
        hh = dense(xb, p[0], p[1], "tanh")
        zm, zv = dense(hh, p[2], p[3]), dense(hh, p[4], p[5])
        zz = zm + np.exp(0.5 * zv) * eps
        # add_loss order: the sampling layer's KL, the activity penalty, then the weight penalty
        return [vae_kl(zm, zv), activity_penalty(zz, 0.01), 0.1 * np.sum(p[0] ** 2)]

    for xb in (x, 0.5 * x):
        model(xb)
        got = [float(np.asarray(v)) for v in model.losses]
        np.testing.assert_allclose(got, expected(xb), rtol=1e-4)


# -- a GradientTape loop ----------------------------------------------------------------------------

def _tape_model(rng, eps):
    inp = keras.Input((D,))
    h = layers.Dense(H, activation="tanh", kernel_regularizer=regularizers.L2(0.05),
                     activity_regularizer=regularizers.L1(0.01))(inp)
    z = Sampling(eps)([layers.Dense(LATENT)(h), layers.Dense(LATENT)(h)])
    model = keras.Model(inp, layers.Dense(D)(z))
    _randomize(model, rng)
    return model


def _tape_loss(p, x, eps):
    h = dense(x, p[0], p[1], "tanh")
    zm, zv = dense(h, p[2], p[3]), dense(h, p[4], p[5])
    out = dense(zm + np.exp(0.5 * zv) * eps, p[6], p[7])
    return (mse(x, out) + vae_kl(zm, zv) + activity_penalty(h, l1=0.01)
            + 0.05 * np.sum(p[0] ** 2))


def test_gradient_tape_loop_with_model_losses():
    rng = np.random.default_rng(8)
    x, eps = _vae_data(rng)
    model = _tape_model(rng, eps)
    p = [np.asarray(w, np.float64) for w in model.get_weights()]
    with tf.GradientTape() as tape:
        out = model(x, training=True)
        loss = ops.mean(ops.square(out - x)) + sum(model.losses)
    grads = tape.gradient(loss, model.trainable_weights)
    np.testing.assert_allclose(float(np.asarray(loss)), _tape_loss(p, x, eps), rtol=1e-4)
    assert_grads_close(arrays(grads), fd_grads(lambda q: _tape_loss(q, x, eps), p), rtol=2e-3, atol=2e-5)


def test_gradient_tape_loop_calling_layers_one_by_one():
    rng = np.random.default_rng(9)
    x, eps = _vae_data(rng)
    model = _tape_model(rng, eps)
    names = [l.name for l in model.layers[1:]]
    enc, zm_layer, zv_layer, sampling, dec = (model.get_layer(n) for n in names)
    p = [np.asarray(w, np.float64) for w in model.get_weights()]
    with tf.GradientTape() as tape:
        h = enc(x)
        out = dec(sampling([zm_layer(h), zv_layer(h)]))
        added = enc.losses + sampling.losses   # activity + weight penalty, then the KL
        loss = ops.mean(ops.square(out - x)) + sum(added)
    assert len(added) == 3
    weights = model.trainable_weights
    grads = tape.gradient(loss, weights)
    assert_grads_close(arrays(grads), fd_grads(lambda q: _tape_loss(q, x, eps), p), rtol=2e-3, atol=2e-5)


def test_subclassed_model_add_loss_in_call():
    class Model(keras.Model):
        def __init__(self):
            super().__init__()
            self.d1 = layers.Dense(4, activation="tanh")
            self.d2 = layers.Dense(2)

        def call(self, x):
            h = self.d1(x)
            self.add_loss(0.1 * ops.mean(ops.square(h)))
            return self.d2(h)

    rng = np.random.default_rng(10)
    x = rng.normal(size=(5, 3)).astype(np.float32)
    y = rng.normal(size=(5, 2)).astype(np.float32)
    model = Model()
    model(x)
    _randomize(model, rng)
    model.compile(optimizer="sgd", loss="mse")

    def loss_of(p):
        h = dense(x, p[0], p[1], "tanh")
        return mse(y, dense(h, p[2], p[3])) + 0.1 * np.mean(h ** 2)

    p = [np.asarray(w, np.float64) for w in model.get_weights()]
    loss, grads = model.compute_gradients(x, y)
    np.testing.assert_allclose(loss, loss_of(p), rtol=1e-5)
    assert_grads_close(arrays(grads), fd_grads(loss_of, p), rtol=1e-3, atol=1e-5)
    model(x)
    model(x)
    assert len(model.losses) == 1   # cleared at each call


# -- config and saving ------------------------------------------------------------------------------

def test_activity_regularizer_survives_config_and_save(tmp_path):
    rng = np.random.default_rng(11)
    model = keras.Sequential([keras.Input((4,)),
                              layers.Dense(3, activation="tanh", activity_regularizer=regularizers.L1L2(0.1, 0.2)),
                              layers.ActivityRegularization(l2=0.3), layers.Dense(2)])
    _randomize(model, rng)
    cfg = model.layers[0].get_config()
    spec = cfg["activity_regularizer"]   # Keras 3's dict (module and registered_name too)
    assert (spec["class_name"], spec["config"]) == ("L1L2", {"l1": 0.1, "l2": 0.2})
    clone = layers.Dense.from_config(cfg)
    assert (clone.activity_regularizer.l1, clone.activity_regularizer.l2) == (0.1, 0.2)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    reg = loaded.layers[0].activity_regularizer
    assert (type(reg).__name__, reg.l1, reg.l2) == ("L1L2", 0.1, 0.2)
    assert loaded.layers[1].l2 == 0.3
    x = rng.normal(size=(5, 4)).astype(np.float32)
    model(x)
    loaded(x)
    np.testing.assert_allclose([float(np.asarray(v)) for v in loaded.losses],
                               [float(np.asarray(v)) for v in model.losses], rtol=1e-6)
    assert len(loaded.losses) == 2


def test_add_loss_rejects_bad_values():
    layer = layers.Dense(2)
    with pytest.raises(TypeError, match="float32"):
        layer.add_loss(tf.convert_to_tensor(np.ones((), np.int64)))
    with pytest.raises(TypeError, match="symbolic"):
        layer.add_loss(keras.Input((3,)))


def test_losses_of_layers_called_inside_a_custom_layer_reach_the_graph():
    """A layer written with call that calls an inner layer with an activity regularizer and a
    Sampling layer: their losses are differentiated on the outer layer's private tape."""
    rng = np.random.default_rng(12)
    x, eps = _vae_data(rng)

    class Encoder(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = layers.Dense(H, activation="tanh", activity_regularizer=regularizers.L2(0.02))
            self.z_mean, self.z_log_var = layers.Dense(LATENT), layers.Dense(LATENT)
            self.sampling = Sampling(eps)

        def call(self, inputs):
            h = self.hidden(inputs)
            return self.sampling([self.z_mean(h), self.z_log_var(h)])

    inp = keras.Input((D,))
    model = keras.Model(inp, layers.Dense(D)(Encoder()(inp)))
    _randomize(model, rng)
    model.compile(optimizer="sgd", loss="mse")

    def loss_of(p):
        h = dense(x, p[0], p[1], "tanh")
        zm, zv = dense(h, p[2], p[3]), dense(h, p[4], p[5])
        out = dense(zm + np.exp(0.5 * zv) * eps, p[6], p[7])
        return mse(x, out) + vae_kl(zm, zv) + activity_penalty(h, l2=0.02)

    p = [np.asarray(w, np.float64) for w in model.get_weights()]
    loss, grads = model.compute_gradients(x, x)
    np.testing.assert_allclose(loss, loss_of(p), rtol=1e-4)
    assert_grads_close(arrays(grads), fd_grads(loss_of, p), rtol=2e-3, atol=2e-5)
    assert len(model.losses) == 2
    # the same layers called one by one under a tape: the encoder's losses (its sublayers')
    encoder, decoder = model.layers[1], model.layers[2]
    with tf.GradientTape() as tape:
        out = decoder(encoder(x))
        assert len(encoder.losses) == 2
        loss = ops.mean(ops.square(out - x)) + sum(encoder.losses)
    grads = tape.gradient(loss, model.trainable_weights)
    np.testing.assert_allclose(float(np.asarray(loss)), loss_of(p), rtol=1e-4)
    assert_grads_close(arrays(grads), fd_grads(loss_of, p), rtol=2e-3, atol=2e-5)


def test_train_on_batch_of_a_multi_output_model_reports_each_output_loss():
    """Keras 3: train_on_batch(return_dict=True) holds loss, '<output>_loss' per output with a
    loss, then the metrics; the list form keeps that order."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype(np.float32)
    inp = keras.Input((4,))
    h = keras.layers.Dense(5, activation="tanh")(inp)
    model = keras.Model(inp, {"a": keras.layers.Dense(2, name="a")(h), "b": keras.layers.Dense(1, name="b")(h)})
    model.compile("sgd", loss={"a": "mse", "b": "mae"}, loss_weights={"a": 1.0, "b": 0.5}, metrics={"b": ["mse"]})
    y = {"a": rng.normal(size=(16, 2)).astype(np.float32), "b": rng.normal(size=(16, 1)).astype(np.float32)}
    pred = model.predict(x, verbose=0)
    logs = model.train_on_batch(x, y, return_dict=True)
    assert list(logs) == ["loss", "a_loss", "b_loss", "b_mse"]
    np.testing.assert_allclose(logs["a_loss"], ((pred["a"] - y["a"]) ** 2).mean(), rtol=1e-5)
    np.testing.assert_allclose(logs["b_loss"], np.abs(pred["b"] - y["b"]).mean(), rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], logs["a_loss"] + 0.5 * logs["b_loss"], rtol=1e-5)
    assert len(model.train_on_batch(x, y)) == 4
