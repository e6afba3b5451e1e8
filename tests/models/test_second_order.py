"""Second-order gradients through models (models/second_order.py): an inner tape's gradient
w.r.t. a watched input, differentiated by an outer tape w.r.t. the weights. Oracle: PyTorch's
double backward (create_graph=True) on the same weights, where torch is installed; the graph and
layer-by-layer paths agree; a layer outside the supported set raises, naming it."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras
from corenn.keras import layers


def residual_critic():
    keras.utils.set_random_seed(11)
    inp = keras.Input((6, 3))
    x = layers.ZeroPadding1D(1)(inp)
    x = layers.Conv1D(4, 3, activation="tanh")(x)
    y = layers.Conv1D(4, 3, padding="same", activation="sigmoid")(x)
    x = layers.Add()([x, y])
    x = layers.LeakyReLU(0.1)(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(3, activation="elu")(x)
    return keras.Model(inp, layers.Dense(1)(x))


def penalty_and_grads(model, x):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        with tf.GradientTape() as inner:
            inner.watch(xt)
            pred = model(xt, training=True)
        g = inner.gradient(pred, xt)
        gp = tf.reduce_mean((tf.sqrt(tf.reduce_sum(tf.square(g), axis=list(range(1, x.ndim)))) - 1.0) ** 2)
    return gp, tape.gradient(gp, model.trainable_variables, unconnected_gradients="zero"), model


def torch_penalty_grads(model, x, dropout_mask):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    w = [torch.tensor(np.asarray(v, np.float64), requires_grad=True) for v in model.get_weights()]
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)

    def conv1d(h, k, b, pad):   # h (N, L, C), k (K, Cin, Cout): Keras layout
        return F.conv1d(h.transpose(1, 2), k.permute(2, 1, 0), b, padding=pad).transpose(1, 2)
    h = F.pad(xt, (0, 0, 1, 1))
    h = torch.tanh(conv1d(h, w[0], w[1], 0))
    h = h + torch.sigmoid(conv1d(h, w[2], w[3], 1))
    h = F.leaky_relu(h, 0.1) * torch.tensor(dropout_mask, dtype=torch.float64)
    h = F.elu(h.reshape(len(x), -1) @ w[4] + w[5])
    pred = h @ w[6] + w[7]
    (g,) = torch.autograd.grad(pred.sum(), xt, create_graph=True)
    gp = ((g.pow(2).sum((1, 2)).sqrt() - 1.0) ** 2).mean()
    return float(gp.detach()), [t.detach().numpy() for t in torch.autograd.grad(gp, w, allow_unused=True,
                                                                       materialize_grads=True)]


def test_the_penalty_gradient_matches_pytorch_double_backward():
    x = np.random.default_rng(2).normal(size=(5, 6, 3)).astype(np.float32)
    gp, got, model = penalty_and_grads(residual_critic(), x)
    dropout = next(layer for layer in model.layers if type(layer).__name__ == "Dropout")
    mask = np.asarray(model._graph.steps[[n.layer for n in model._graph.nodes].index(dropout)].ctx._mask)
    want_gp, want = torch_penalty_grads(model, x, mask)
    assert float(gp) == pytest.approx(want_gp, rel=1e-4)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), w, rtol=2e-3, atol=2e-5 * max(1.0, np.abs(w).max()))


class EagerCritic(keras.Model):
    """The same critic as a subclassed model whose call reads values: it runs layer by layer, so
    the inner tape holds one record per layer call instead of a captured graph."""

    def __init__(self, layers_):
        super().__init__()
        self.parts = layers_

    def call(self, x):
        if np.asarray(x).size == 0:   # reads the values: not traceable
            raise ValueError("an empty batch")
        for layer in self.parts:
            x = layer(x)
        return x


def test_a_conv2d_critic_with_layer_normalization_matches_pytorch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    keras.utils.set_random_seed(5)
    inp = keras.Input((6, 6, 2))
    h = layers.Conv2D(3, 3, strides=2, padding="same")(inp)
    h = layers.LayerNormalization(epsilon=1e-3)(h)
    h = layers.LeakyReLU(0.2)(h)
    h = layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inp, layers.Dense(1)(h))
    model.set_weights([w + 0.3 * np.random.default_rng(k).normal(size=w.shape).astype(np.float32)
                       for k, w in enumerate(model.get_weights())])
    x = np.random.default_rng(6).normal(size=(4, 6, 6, 2)).astype(np.float32)
    gp, got, _ = penalty_and_grads(model, x)
    w = [torch.tensor(np.asarray(v, np.float64), requires_grad=True) for v in model.get_weights()]
    xx = torch.tensor(x.astype(np.float64), requires_grad=True)
    z = F.conv2d(F.pad(xx.permute(0, 3, 1, 2), (0, 1, 0, 1)), w[0].permute(3, 2, 0, 1), w[1], stride=2)
    z = z.permute(0, 2, 3, 1)   # (N, 3, 3, C): Keras' "same" with stride 2 pads bottom / right
    z = F.layer_norm(z, (3,), w[2], w[3], eps=1e-3)
    p = F.leaky_relu(z, 0.2).mean((1, 2)) @ w[4] + w[5]
    (gx,) = torch.autograd.grad(p.sum(), xx, create_graph=True)
    want_gp = ((gx.pow(2).sum((1, 2, 3)).sqrt() - 1.0) ** 2).mean()
    want = torch.autograd.grad(want_gp, w, materialize_grads=True)
    assert float(gp) == pytest.approx(float(want_gp.detach()), rel=1e-4)
    for a, b in zip(got, want):
        b = b.detach().numpy()
        np.testing.assert_allclose(np.asarray(a), b, rtol=2e-3, atol=2e-5 * max(1.0, np.abs(b).max()))


def test_layer_by_layer_records_give_the_captured_graph_s_gradient():
    keras.utils.set_random_seed(4)
    parts = [layers.Dense(5, activation="tanh"), layers.Dense(4, activation="sigmoid"), layers.Dense(1)]
    chain = keras.Sequential([keras.Input((3,))] + parts)
    x = np.random.default_rng(3).normal(size=(7, 3)).astype(np.float32)

    def run(model):
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            with tf.GradientTape() as inner:
                inner.watch(xt)
                pred = model(xt)
            g = inner.gradient(pred, xt)
            loss = tf.reduce_sum(tf.square(g))
        return tape.gradient(loss, [p.kernel for p in parts])
    captured = run(chain)
    eager = EagerCritic(parts)
    layer_by_layer = run(eager)
    assert eager.__dict__.get("_untraceable")
    for a, b in zip(captured, layer_by_layer):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)


def test_a_layer_it_cannot_differentiate_twice_is_named():
    inp = keras.Input((4,))
    model = keras.Model(inp, layers.Dense(1)(layers.BatchNormalization()(layers.Dense(3)(inp))))
    xt = tf.constant(np.ones((4, 4), np.float32))
    with tf.GradientTape() as tape:
        with tf.GradientTape() as inner:
            inner.watch(xt)
            pred = model(xt, training=True)
        g = inner.gradient(pred, xt)   # the first-order gradient is still there
        loss = tf.reduce_sum(tf.square(g))
    assert g is not None and tuple(g.shape) == (4, 4)
    with pytest.raises(NotImplementedError, match="BatchNormalization"):
        tape.gradient(loss, model.trainable_variables)


def _softplus_silu_softmax_penalty(w, x, c):
    """NumPy float64: the squared input gradient of sum(c * model(x)) for
    Dense(5, silu) -> Dense(4, softplus) -> Dense(3, softmax), by hand."""
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))
    z1 = x @ w[0] + w[1]
    h1 = z1 * sig(z1)
    z2 = h1 @ w[2] + w[3]
    h2 = np.log1p(np.exp(z2))
    z3 = h2 @ w[4] + w[5]
    e = np.exp(z3 - z3.max(-1, keepdims=True))
    y = e / e.sum(-1, keepdims=True)
    dz3 = y * (c - (c * y).sum(-1, keepdims=True))
    dz2 = (dz3 @ w[4].T) * sig(z2)
    s1 = sig(z1)
    dz1 = (dz2 @ w[2].T) * (s1 + z1 * s1 * (1 - s1))
    g = dz1 @ w[0].T
    return np.sum(g ** 2)


def test_softmax_softplus_silu_activations_differentiate_twice_against_finite_differences():
    keras.utils.set_random_seed(8)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(5, activation="silu"),
                              layers.Dense(4, activation="softplus"), layers.Dense(3, activation="softmax")])
    x = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)
    c = np.random.default_rng(2).normal(size=(6, 3)).astype(np.float32)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        with tf.GradientTape() as inner:
            inner.watch(xt)
            pred = model(xt)
            out = tf.reduce_sum(pred * c)
        g = inner.gradient(out, xt)
        penalty = tf.reduce_sum(tf.square(g))
    got = tape.gradient(penalty, model.trainable_variables)
    w = [np.asarray(v, np.float64) for v in model.get_weights()]
    x64, c64 = x.astype(np.float64), c.astype(np.float64)
    assert float(penalty) == pytest.approx(_softplus_silu_softmax_penalty(w, x64, c64), rel=1e-4)
    eps = 1e-6
    for k in range(len(w)):
        fd = np.zeros_like(w[k])
        for idx in np.ndindex(w[k].shape):
            up = [a.copy() for a in w]
            down = [a.copy() for a in w]
            up[k][idx] += eps
            down[k][idx] -= eps
            fd[idx] = (_softplus_silu_softmax_penalty(up, x64, c64)
                       - _softplus_silu_softmax_penalty(down, x64, c64)) / (2 * eps)
        np.testing.assert_allclose(np.asarray(got[k]), fd, rtol=2e-3, atol=1e-4 * max(1.0, np.abs(fd).max()))
