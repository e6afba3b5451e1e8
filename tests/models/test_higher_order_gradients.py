"""Gradients of gradients of tensor ops (op_gradients.py): nested tapes over corenn.ops, a
physics-informed network's u_xx differentiated w.r.t. its weights (third order through Dense
layers), Hessian-vector products. Oracles: float64 NumPy functions differentiated by central
differences, and PyTorch's create_graph=True where torch is installed."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras, ops

RNG = np.random.default_rng(7)

# op -> (corenn scalar-to-tensor function, the same in float64 NumPy); inputs kept in each op's domain
UNARY = {
    "exp": (ops.exp, np.exp), "log": (ops.log, np.log), "sqrt": (ops.sqrt, np.sqrt),
    "square": (ops.square, np.square), "reciprocal": (lambda x: 1.0 / x, lambda x: 1.0 / x),
    "sin": (ops.sin, np.sin), "cos": (ops.cos, np.cos), "negative": (ops.negative, np.negative),
    "tanh": (ops.tanh, np.tanh), "sigmoid": (ops.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "softplus": (ops.softplus, lambda x: np.log1p(np.exp(x))),
    "silu": (ops.silu, lambda x: x / (1 + np.exp(-x))),
    "elu": (ops.elu, lambda x: np.where(x > 0, x, np.exp(x) - 1)),
    "softmax": (ops.softmax, lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    "log_softmax": (ops.log_softmax, lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
    "abs": (ops.abs, np.abs), "relu": (ops.relu, lambda x: np.maximum(x, 0)),
    "sum_axis": (lambda x: ops.sum(x, axis=1, keepdims=True) * x,
                 lambda x: x.sum(1, keepdims=True) * x),
    "mean_all": (lambda x: ops.mean(x) * x, lambda x: x.mean() * x),
    "max_axis": (lambda x: ops.max(x, axis=0) * ops.sum(x, axis=0), lambda x: x.max(0) * x.sum(0)),
    "reshape_transpose": (lambda x: ops.transpose(ops.reshape(x, (3, 4)) ** 2),
                          lambda x: (x.reshape(3, 4) ** 2).T),
    "getitem": (lambda x: x[1:, ::2] * x[:2, 1::2], lambda x: x[1:, ::2] * x[:2, 1::2]),
    "concatenate": (lambda x: ops.concatenate([x, ops.square(x)], axis=1) ** 2,
                    lambda x: np.concatenate([x, x ** 2], axis=1) ** 2),
    "matmul": (lambda x: ops.matmul(x, ops.transpose(x)) ** 2, lambda x: (x @ x.T) ** 2),
    "where": (lambda x: ops.where(np.arange(12).reshape(3, 4) % 2 == 0, ops.exp(x), x ** 3),
              lambda x: np.where(np.arange(12).reshape(3, 4) % 2 == 0, np.exp(x), x ** 3)),
}
BINARY = {
    "add": (lambda a, b: (a + b) ** 2, lambda a, b: (a + b) ** 2),
    "subtract": (lambda a, b: (a - b) ** 2, lambda a, b: (a - b) ** 2),
    "multiply": (lambda a, b: a * b * a, lambda a, b: a * b * a),
    "divide": (lambda a, b: a / b, lambda a, b: a / b),
    "power": (lambda a, b: a ** b, lambda a, b: a ** b),
    "maximum": (lambda a, b: ops.maximum(a, b) ** 2, lambda a, b: np.maximum(a, b) ** 2),
    "minimum": (lambda a, b: ops.minimum(a * a, b) * a, lambda a, b: np.minimum(a * a, b) * a),
}


def vhv(f, x, v):
    """v^T H v of sum(f(x) * c) by nested tapes, and the Hessian-vector product itself."""
    xt = tf.constant(x)
    with tf.GradientTape() as outer:
        outer.watch(xt)
        with tf.GradientTape() as inner:
            inner.watch(xt)
            y = ops.sum(f(xt))
        g = inner.gradient(y, xt)
        gv = ops.sum(g * v)
    hv = outer.gradient(gv, xt, unconnected_gradients="zero")   # abs, relu: piecewise linear
    return float(np.sum(np.asarray(hv, np.float64) * v)), np.asarray(hv)


def second_difference(f64, x, v, h=1e-4):
    g = lambda t: float(np.sum(f64(x.astype(np.float64) + t * v)))
    return (g(h) - 2 * g(0.0) + g(-h)) / (h * h)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_each_unary_op_s_second_derivative(name):
    f, f64 = UNARY[name]
    x = RNG.uniform(0.5, 1.5, size=(3, 4)).astype(np.float32)   # positive: log, sqrt, power
    if name in ("abs", "relu", "elu", "tanh", "sin", "max_axis"):
        x = (x - 1.0).astype(np.float32)   # both signs (kinks kept away from 0 by the draw)
        x[np.abs(x) < 0.05] = 0.3
    v = RNG.normal(size=x.shape)
    got, _ = vhv(f, x, v.astype(np.float32))
    want = second_difference(f64, x, v)
    assert got == pytest.approx(want, rel=2e-3, abs=2e-3)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_each_binary_op_s_second_derivative_with_broadcasting(name):
    f, f64 = BINARY[name]
    a = RNG.uniform(0.5, 1.5, size=(3, 4))
    b = RNG.uniform(0.5, 1.5, size=(1, 4))   # broadcast along the first axis
    x = np.concatenate([a, b]).astype(np.float32)
    split = lambda t: (t[:3], t[3:])
    v = RNG.normal(size=x.shape)
    got, _ = vhv(lambda t: f(*split(t)), x, v.astype(np.float32))
    want = second_difference(lambda t: f64(*split(t)), x, v)
    assert got == pytest.approx(want, rel=2e-3, abs=2e-3)


def tanh_mlp(seed=3):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((1,)), keras.layers.Dense(6, activation="tanh"),
                             keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(1)])


def pinn_residual_loss(model, x):
    """mean((u_xx + sin x)^2): u_xx by two nested tapes around the model call."""
    xt = tf.constant(x)
    with tf.GradientTape() as t2:
        t2.watch(xt)
        with tf.GradientTape() as t1:
            t1.watch(xt)
            u = model(xt)
        u_x = t1.gradient(u, xt)
    u_xx = t2.gradient(u_x, xt)
    return ops.mean(ops.square(u_xx + ops.sin(xt))), u_xx


def numpy_mlp(weights, x):
    h = x
    for i in range(0, len(weights) - 2, 2):
        h = np.tanh(h @ weights[i] + weights[i + 1])
    return h @ weights[-2] + weights[-1]


def numpy_u_xx(weights, x, h=1e-3):
    return (numpy_mlp(weights, x + h) - 2 * numpy_mlp(weights, x) + numpy_mlp(weights, x - h)) / (h * h)


def test_a_pinn_second_derivative_matches_central_differences():
    model = tanh_mlp()
    x = np.linspace(-1, 1, 9, dtype=np.float32)[:, None]
    _, u_xx = pinn_residual_loss(model, x)
    w = [np.asarray(a, np.float64) for a in model.get_weights()]
    np.testing.assert_allclose(np.asarray(u_xx), numpy_u_xx(w, x.astype(np.float64)), rtol=2e-3, atol=2e-4)


def test_the_pinn_loss_gradient_wrt_weights_matches_differences_of_the_float64_loss():
    model = tanh_mlp()
    x = np.linspace(-1, 1, 9, dtype=np.float32)[:, None]
    with tf.GradientTape() as tape:
        loss, _ = pinn_residual_loss(model, x)
    grads = tape.gradient(loss, model.trainable_variables, unconnected_gradients="zero")
    w = [np.asarray(a, np.float64) for a in model.get_weights()]
    x64 = x.astype(np.float64)

    def loss64(ws):   # u_xx exactly: differences of an analytic second derivative are not needed
        return float(np.mean((numpy_u_xx(ws, x64, h=1e-3) + np.sin(x64)) ** 2))
    assert float(loss) == pytest.approx(loss64(w), rel=2e-3)
    for k, g in enumerate(grads):
        want = np.zeros_like(w[k])
        for i in np.ndindex(w[k].shape):
            up = [a.copy() for a in w]
            down = [a.copy() for a in w]
            up[k][i] += 1e-4
            down[k][i] -= 1e-4
            want[i] = (loss64(up) - loss64(down)) / 2e-4
        np.testing.assert_allclose(np.asarray(g), want, rtol=2e-2, atol=1e-3 * max(1.0, np.abs(want).max()))


def test_the_pinn_loss_gradient_matches_pytorch_create_graph():
    torch = pytest.importorskip("torch")
    model = tanh_mlp(5)
    x = np.linspace(-1, 1, 7, dtype=np.float32)[:, None]
    with tf.GradientTape() as tape:
        loss, _ = pinn_residual_loss(model, x)
    grads = tape.gradient(loss, model.trainable_variables, unconnected_gradients="zero")
    w = [torch.tensor(np.asarray(a, np.float64), requires_grad=True) for a in model.get_weights()]
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    h = xt
    for i in range(0, len(w) - 2, 2):
        h = torch.tanh(h @ w[i] + w[i + 1])
    u = h @ w[-2] + w[-1]
    (u_x,) = torch.autograd.grad(u.sum(), xt, create_graph=True)
    (u_xx,) = torch.autograd.grad(u_x.sum(), xt, create_graph=True)
    want_loss = ((u_xx + torch.sin(xt)) ** 2).mean()
    want = torch.autograd.grad(want_loss, w, allow_unused=True, materialize_grads=True)   # u_xx: no b_out
    assert float(loss) == pytest.approx(want_loss.item(), rel=1e-4)
    for g, t in zip(grads, want):
        np.testing.assert_allclose(np.asarray(g), t.numpy(), rtol=1e-3, atol=1e-5)


def test_a_pinn_trains_to_the_known_solution():
    """u'' = -pi^2 sin(pi x), u(0) = u(1) = 0: the solution is sin(pi x)."""
    model = tanh_mlp(1)
    opt = keras.optimizers.Adam(2e-2)
    x = np.linspace(0, 1, 24, dtype=np.float32)[:, None]
    xt, edges = tf.constant(x), tf.constant(np.array([[0.0], [1.0]], np.float32))
    for _ in range(250):
        with tf.GradientTape() as tape:
            with tf.GradientTape() as t2:
                t2.watch(xt)
                with tf.GradientTape() as t1:
                    t1.watch(xt)
                    u = model(xt)
                u_x = t1.gradient(u, xt)
            u_xx = t2.gradient(u_x, xt)
            loss = ops.mean(ops.square(u_xx + np.pi ** 2 * ops.sin(np.pi * xt))) + ops.mean(ops.square(model(edges)))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
    probe = np.array([[0.25], [0.5], [0.75]], np.float32)
    np.testing.assert_allclose(np.asarray(model(probe)).ravel(), np.sin(np.pi * probe).ravel(), atol=0.05)


def test_an_op_without_a_second_rule_is_named():
    xt = tf.constant(RNG.normal(size=(4,)).astype(np.float32))
    with tf.GradientTape() as outer:
        outer.watch(xt)
        with tf.GradientTape() as inner:
            inner.watch(xt)
            y = ops.sum(ops.cumprod(xt) ** 2)
        g = inner.gradient(y, xt)
        total = ops.sum(g)
    x = np.asarray(xt, np.float64)
    want = [sum(2 * np.prod(x[:j + 1]) ** 2 / x[i] for j in range(i, len(x))) for i in range(len(x))]
    np.testing.assert_allclose(np.asarray(g), want, rtol=1e-4)
    with pytest.raises(NotImplementedError, match="cumprod"):   # (cumsum's is written: op_gradients)
        outer.gradient(total, xt)


# -- Hessian-vector products w.r.t. the weights ----------------------------------------------------

def hvp_wrt_weights(model, loss_fn, x, y, vs):
    """H v for the weights: the gradient of (grad . v), both gradients w.r.t. the weights."""
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            loss = loss_fn(y, model(x, training=True))
        grads = inner.gradient(loss, model.trainable_variables)
        gv = ops.sum(ops.stack([ops.sum(g * v) for g, v in zip(grads, vs)]))
    return float(loss), grads, outer.gradient(gv, model.trainable_variables, unconnected_gradients="zero")


def torch_hvp(forward, weights, loss_of, vs):
    torch = pytest.importorskip("torch")
    w = [torch.tensor(np.asarray(a, np.float64), requires_grad=True) for a in weights]
    loss = loss_of(forward(w))
    grads = torch.autograd.grad(loss, w, create_graph=True)
    gv = sum((g * torch.tensor(v, dtype=torch.float64)).sum() for g, v in zip(grads, vs))
    return loss.item(), [g.detach().numpy() for g in grads], [h.numpy() for h in torch.autograd.grad(gv, w)]


def test_an_mlp_s_hessian_vector_product_with_mse_matches_pytorch():
    torch = pytest.importorskip("torch")
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, activation="tanh"),
                              keras.layers.LayerNormalization(), keras.layers.Dense(3)])
    x = RNG.normal(size=(6, 5)).astype(np.float32)
    y = RNG.normal(size=(6, 3)).astype(np.float32)
    vs = [RNG.normal(size=tuple(w.shape)) for w in model.trainable_variables]
    loss, grads, hv = hvp_wrt_weights(model, keras.losses.MeanSquaredError(), tf.constant(x), y, vs)

    def forward(w):
        h = torch.tanh(torch.tensor(x, dtype=torch.float64) @ w[0] + w[1])
        h = (h - h.mean(-1, keepdim=True)) / torch.sqrt(h.var(-1, unbiased=False, keepdim=True) + 1e-3) * w[2] + w[3]
        return h @ w[4] + w[5]
    want_loss, want_grads, want_hv = torch_hvp(forward, model.get_weights(),
                                               lambda p: ((p - torch.tensor(y, dtype=torch.float64)) ** 2).mean(), vs)
    assert loss == pytest.approx(want_loss, rel=1e-5)
    for got, want in zip(list(grads) + list(hv), want_grads + want_hv):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-3, atol=1e-5)


def test_a_conv_net_s_hessian_vector_product_with_cross_entropy_matches_pytorch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    keras.utils.set_random_seed(6)
    model = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(3, 3, strides=2, padding="same",
                                                                          activation="sigmoid"),
                              keras.layers.Flatten(), keras.layers.Dense(4)])
    x = RNG.normal(size=(5, 6, 6, 2)).astype(np.float32)
    labels = np.array([0, 3, 1, 2, 3])
    vs = [RNG.normal(size=tuple(w.shape)) for w in model.trainable_variables]
    loss, grads, hv = hvp_wrt_weights(model, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                                      tf.constant(x), labels, vs)

    def forward(w):
        xt = torch.tensor(x, dtype=torch.float64).permute(0, 3, 1, 2)
        xt = F.pad(xt, (0, 1, 0, 1))   # 'same' at stride 2 on 6: one row / column after, none before
        h = torch.sigmoid(F.conv2d(xt, w[0].permute(3, 2, 0, 1), w[1], stride=2))
        return h.permute(0, 2, 3, 1).reshape(5, -1) @ w[2] + w[3]
    want_loss, want_grads, want_hv = torch_hvp(forward, model.get_weights(),
                                               lambda p: F.cross_entropy(p, torch.tensor(labels)), vs)
    assert loss == pytest.approx(want_loss, rel=1e-5)
    for got, want in zip(list(grads) + list(hv), want_grads + want_hv):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("loss", [keras.losses.MeanSquaredError(), keras.losses.MeanAbsoluteError(),
                                  keras.losses.Huber(0.7), keras.losses.BinaryCrossentropy(),
                                  keras.losses.BinaryCrossentropy(from_logits=True),
                                  keras.losses.CategoricalCrossentropy(),
                                  keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)],
                         ids=lambda l: f"{type(l).__name__}-{getattr(l, 'from_logits', '')}")
def test_a_loss_written_with_ops_for_nested_tapes_equals_its_fused_kernel(loss):
    p = RNG.uniform(0.05, 0.95, size=(6, 4)).astype(np.float32)
    t = (RNG.uniform(size=(6, 4)) > 0.5).astype(np.float32)
    w = RNG.uniform(0.5, 2.0, size=(6,)).astype(np.float32)
    pt = tf.constant(p)
    with tf.GradientTape() as one:
        one.watch(pt)
        fused = loss(t, pt, sample_weight=w)
    with tf.GradientTape() as outer:
        outer.watch(pt)
        with tf.GradientTape() as inner:
            inner.watch(pt)
            written = loss(t, pt, sample_weight=w)
    assert float(written) == pytest.approx(float(fused), rel=1e-5)
    np.testing.assert_allclose(np.asarray(inner.gradient(written, pt)), np.asarray(one.gradient(fused, pt)),
                               rtol=1e-4, atol=1e-7)


def test_a_layer_without_weight_gradients_in_ops_is_named_at_the_outer_gradient():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization(),
                              keras.layers.Dense(1)])
    x = tf.constant(RNG.normal(size=(5, 4)).astype(np.float32))
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            loss = ops.mean(ops.square(model(x, training=True)))
        grads = inner.gradient(loss, model.trainable_variables)   # first order is still there
        total = ops.sum(ops.stack([ops.sum(g * g) for g in grads]))
    assert all(g is not None for g in grads)
    with pytest.raises(NotImplementedError, match="BatchNormalization"):
        outer.gradient(total, model.trainable_variables)


def test_the_autodiff_guide_s_hessian_by_jacobian_of_a_gradient_matches_pytorch():
    """TensorFlow's "Advanced automatic differentiation" guide: h = t2.jacobian(t1.gradient(loss,
    layer1.kernel), layer1.kernel), then a Newton step."""
    torch = pytest.importorskip("torch")
    keras.utils.set_random_seed(8)
    x = RNG.normal(size=(7, 5)).astype(np.float32)
    layer1 = keras.layers.Dense(4, activation=tf.nn.relu)
    layer2 = keras.layers.Dense(3, activation=tf.nn.relu)
    with tf.GradientTape() as t2:
        with tf.GradientTape() as t1:
            loss = tf.reduce_mean(layer2(layer1(tf.constant(x))) ** 2)
        g = t1.gradient(loss, layer1.kernel)
    h = t2.jacobian(g, layer1.kernel)
    assert tuple(h.shape) == (5, 4, 5, 4)
    w1, b1, w2, b2 = [torch.tensor(np.asarray(a, np.float64)) for a in
                      (layer1.kernel, layer1.bias, layer2.kernel, layer2.bias)]
    xt = torch.tensor(x, dtype=torch.float64)
    f = lambda k: (torch.relu(torch.relu(xt @ k + b1) @ w2 + b2) ** 2).mean()
    want = torch.autograd.functional.hessian(f, w1)
    np.testing.assert_allclose(np.asarray(h), want.numpy(), rtol=1e-3, atol=1e-6)


def test_a_lora_dense_hessian_vector_product_reaches_the_lora_pair():
    torch = pytest.importorskip("torch")
    keras.utils.set_random_seed(9)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="tanh", lora_rank=2),
                              keras.layers.Dense(2)])
    x = RNG.normal(size=(6, 4)).astype(np.float32)
    y = RNG.normal(size=(6, 2)).astype(np.float32)
    weights = model.trainable_variables   # bias, lora_kernel_a, lora_kernel_b, kernel_2, bias_2
    for w in weights:   # B starts at zero in Keras: give every weight a value so H v is not trivial
        w.assign(RNG.normal(size=tuple(w.shape)).astype(np.float32) * 0.5)
    vs = [RNG.normal(size=tuple(w.shape)) for w in weights]
    loss, grads, hv = hvp_wrt_weights(model, keras.losses.MeanSquaredError(), tf.constant(x), y, vs)
    dense = model.layers[0]
    frozen = torch.tensor(np.asarray(dense.kernel, np.float64))
    scale = dense._lora_scale()

    def forward(w):
        b1, a, b, k2, b2 = w
        h = torch.tanh(torch.tensor(x, dtype=torch.float64) @ (frozen + scale * a @ b) + b1)
        return h @ k2 + b2
    want_loss, want_grads, want_hv = torch_hvp(forward, [np.asarray(w) for w in weights],
                                               lambda p: ((p - torch.tensor(y, dtype=torch.float64)) ** 2).mean(), vs)
    assert loss == pytest.approx(want_loss, rel=1e-5)
    for got, want in zip(list(grads) + list(hv), want_grads + want_hv):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-3, atol=1e-5)
