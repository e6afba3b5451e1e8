"""``tf.gradients`` where TensorFlow 2 allows it (a graph): inside ``@tf.function`` (its own
code, or a Lambda / layer of a model it calls: the keras.io physics-informed / Eikonal style),
and in a ``train_step`` that fit runs; eagerly it raises TensorFlow's RuntimeError (TF 2.21
raises there too, and for the Lambda model's eager call and ... its first probe). Values are
checked against analytic derivatives and central finite differences, and the training gradient
of a loss built from tf.gradients (second order) against finite differences of that loss."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras

RNG = np.random.default_rng(5)


def _fd(f, v, eps=1e-3):
    v = np.array(v, np.float64)
    g = np.zeros_like(v)
    for i in range(v.size):
        p, m = v.copy(), v.copy()
        p.flat[i] += eps
        m.flat[i] -= eps
        g.flat[i] = (f(p) - f(m)) / (2 * eps)
    return g


def test_eager_call_raises_tensorflows_error():
    x = tf.constant([[1.0, 2.0]])
    with pytest.raises(RuntimeError, match="tf.gradients is not supported when eager execution is enabled"):
        tf.gradients(x * x, x)


def test_in_tf_function_analytic_values_and_options():
    @tf.function
    def f(x):
        y = tf.reduce_sum(tf.sin(x) * x)
        h = x * x                        # an intermediate tensor as a source
        z = tf.reduce_sum(h * 3.0)
        return tf.gradients(y, x)[0], tf.gradients([y, z], x)[0], tf.gradients(z, h)[0]

    x = np.array([[1.0, 2.0], [-0.5, 0.3]], np.float32)
    g1, g2, gh = f(x)
    want = np.cos(x) * x + np.sin(x)
    np.testing.assert_allclose(np.asarray(g1), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(g2), want + 6 * x, rtol=1e-5, atol=1e-6)   # ys summed
    np.testing.assert_allclose(np.asarray(gh), np.full(x.shape, 3.0))

    @tf.function
    def seeded(x, w):
        y = x * x
        unused = tf.constant([1.0, 2.0])
        return (tf.gradients(y, x, grad_ys=w)[0], tf.gradients(y, unused)[0],
                tf.gradients(y, unused, unconnected_gradients="zero")[0])

    w = np.array([[2.0, -1.0], [0.5, 4.0]], np.float32)
    gs, none, zero = seeded(x, w)
    np.testing.assert_allclose(np.asarray(gs), 2 * x * w, rtol=1e-6)
    assert none is None
    np.testing.assert_array_equal(np.asarray(zero), [0.0, 0.0])

    @tf.function
    def bad(x):
        return tf.gradients(x * x, x, stop_gradients=[x])

    with pytest.raises(NotImplementedError, match="stop_gradients"):
        bad(x)


def _net():
    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(6, activation="tanh"),
                             keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(1)])


def test_network_input_gradient_vs_finite_differences():
    net = _net()

    @tf.function
    def ux(x):
        return tf.gradients(net(x), x)[0]

    x = RNG.normal(size=(4, 2)).astype(np.float32)
    num = np.stack([_fd(lambda v, i=i: float(np.asarray(net(v.astype(np.float32)), np.float64)[i, 0]), x)[i]
                    for i in range(4)])
    np.testing.assert_allclose(np.asarray(ux(x)), num, rtol=2e-3, atol=2e-4)


def _eikonal(grad):
    return tf.reduce_mean((tf.sqrt(tf.reduce_sum(grad * grad, axis=1) + 1e-6) - 1.0) ** 2)


def _check_weight_grads(model, loss_of_weights, grads, picks=4):
    weights = model.get_weights()
    got_any = False
    for k, (w, g) in enumerate(zip(weights, grads)):
        if g is None:
            continue
        got_any = True
        g = np.asarray(g)
        for i in RNG.choice(w.size, size=min(picks, w.size), replace=False):
            def f(v, k=k, i=i):
                ws = [a.copy() for a in weights]
                ws[k].flat[i] = v[0]
                model.set_weights(ws)
                return loss_of_weights()
            num = _fd(f, [w.flat[i]], eps=2e-3)[0]
            np.testing.assert_allclose(g.flat[i], num, rtol=3e-2, atol=2e-4)
    model.set_weights(weights)
    assert got_any


def test_second_order_training_gradient_of_an_eikonal_loss():
    net = _net()
    x = RNG.uniform(-1, 1, size=(8, 2)).astype(np.float32)

    @tf.function
    def loss_fn(x):
        u = net(x)
        return _eikonal(tf.gradients(u, x)[0])

    with tf.GradientTape() as tape:
        loss = loss_fn(x)
    grads = tape.gradient(loss, net.trainable_weights)
    # the last bias does not change the input gradient: None, as TensorFlow gives
    assert [g is None for g in grads] == [False] * 5 + [True]
    _check_weight_grads(net, lambda: float(loss_fn(x)), grads)


def test_lambda_in_a_functional_model_inside_tf_function():
    keras.utils.set_random_seed(4)
    inp = keras.Input((2,))
    u = keras.layers.Dense(1)(keras.layers.Dense(6, activation="tanh")(inp))
    g = keras.layers.Lambda(lambda t: tf.gradients(t[0], t[1])[0], output_shape=(2,))([u, inp])
    model = keras.Model(inp, [u, g])
    x = RNG.normal(size=(5, 2)).astype(np.float32)
    with pytest.raises(RuntimeError, match="eager execution"):   # TensorFlow 2.21 raises here too
        model(x)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            uu, gg = model(x)
            loss = _eikonal(gg) + tf.reduce_mean(uu * uu)
        return loss, gg, tape.gradient(loss, model.trainable_variables)

    loss, gg, grads = step(x)
    # the Lambda's gradient against finite differences of the model's u
    u_of = lambda v: np.asarray(model.layers[2](model.layers[1](v.astype(np.float32))), np.float64)  # noqa: E731
    num = np.stack([_fd(lambda v, i=i: float(u_of(v)[i, 0]), x)[i] for i in range(5)])
    np.testing.assert_allclose(np.asarray(gg), num, rtol=2e-3, atol=2e-4)
    assert all(gr is not None for gr in grads)
    _check_weight_grads(model, lambda: float(step(x)[0]), grads)


class _Eikonal(keras.Model):
    def __init__(self):
        super().__init__()
        self.d1 = keras.layers.Dense(8, activation="tanh")
        self.out = keras.layers.Dense(1)

    def call(self, x):
        return self.out(self.d1(x))

    def loss_of(self, x, xb):
        u = self(x)
        ux = tf.gradients(u, x)[0]
        return _eikonal(ux) + tf.reduce_mean(self(xb) ** 2)

    def train_step(self, data):
        x, xb = data
        with tf.GradientTape() as tape:
            loss = self.loss_of(x, xb)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return {"loss": loss}


def test_fit_runs_a_train_step_calling_tf_gradients_and_steps_by_its_gradient():
    """Keras traces train_step into a graph, so tf.gradients works there; one SGD step of fit
    moves the weights by -lr times the finite-difference gradient of the step's loss."""
    keras.utils.set_random_seed(2)
    model = _Eikonal()
    x = RNG.uniform(-1, 1, size=(16, 2)).astype(np.float32)
    xb = (RNG.normal(size=(16, 2)) * 0.5).astype(np.float32)
    model(x[:1])
    loss_graph = tf.function(lambda a, b: model.loss_of(a, b))
    before = model.get_weights()
    # finite-difference gradient of the loss at the starting weights
    fd = []
    for k, w in enumerate(before):
        g = np.zeros(w.size)
        for i in range(w.size):
            def f(v, k=k, i=i):
                ws = [a.copy() for a in before]
                ws[k].flat[i] = v[0]
                model.set_weights(ws)
                return float(loss_graph(x, xb))
            g[i] = _fd(f, [w.flat[i]], eps=2e-3)[0]
        fd.append(g.reshape(w.shape))
    model.set_weights(before)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
    history = model.fit(x, xb, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for w0, w1, g in zip(before, model.get_weights(), fd):
        np.testing.assert_allclose((w0 - w1) / 0.1, g, rtol=3e-2, atol=3e-4)
