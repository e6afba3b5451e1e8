"""Several GradientTapes recording at once (nested blocks, or `with GradientTape() as g,
GradientTape() as d:` as the TF DCGAN tutorial writes): every op and layer call is recorded on
each tape that needs it, as TensorFlow does. A gradient computed while a tape records is
differentiated by the outer tape when it is a gradient of layer calls w.r.t. watched inputs (WGAN-GP:
models/second_order.py), and so is a persistent tape's gradient of a watched input taken inside
its own block (a PINN's u_x); any other such gradient raises when the outer tape reaches it (never
a silent second-order zero)."""
import numpy as np
import pytest

import corenn as tf
from reference import f64, gemm, numerical_grad


def test_nested_blocks_record_on_both_tapes():
    x = tf.Variable(3.0)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = x * x
        z = y * 3.0
    assert float(outer.gradient(z, x)) == pytest.approx(18.0)   # d(3x^2)/dx
    assert float(inner.gradient(y, x)) == pytest.approx(6.0)


def _dense_pair():
    tf.random.set_seed(3)
    g, d = tf.keras.layers.Dense(3, activation="tanh"), tf.keras.layers.Dense(1)
    noise = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    g.build((None, 4)); d.build((None, 3))
    return g, d, noise


def _reference_loss(noise, wg, bg, wd, bd):
    h = np.tanh(gemm(noise, wg) + f64(bg))
    return float(np.mean(gemm(h, wd) + f64(bd)))


def test_two_tapes_in_one_with_statement_match_the_float64_reference():
    g, d, noise = _dense_pair()
    with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
        fake = g(noise, training=True)
        out = d(fake, training=True)
        gen_loss = -tf.reduce_mean(out)
        disc_loss = tf.reduce_mean(out)
    gen_grads = gen_tape.gradient(gen_loss, g.trainable_variables)
    disc_grads = disc_tape.gradient(disc_loss, d.trainable_variables)
    wg, bg = [f64(w.numpy()) for w in g.trainable_variables]
    wd, bd = [f64(w.numpy()) for w in d.trainable_variables]
    expect_wg = -numerical_grad(lambda w: _reference_loss(noise, w, bg, wd, bd), wg)
    expect_wd = numerical_grad(lambda w: _reference_loss(noise, wg, bg, w, bd), wd)
    # the generator's gradients came first and must survive the discriminator tape's backward
    np.testing.assert_allclose(gen_grads[0].numpy(), expect_wg, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(disc_grads[0].numpy(), expect_wd, rtol=1e-4, atol=1e-6)
    assert all(gr is not None for gr in gen_grads + disc_grads)


def test_a_tape_watching_only_an_input_gets_that_gradient_through_the_inner_tape():
    x = tf.constant(np.array([[1.0, -2.0]], "float32"))
    layer = tf.keras.layers.Dense(1, use_bias=False)
    layer.build((None, 2))
    with tf.GradientTape(watch_accessed_variables=False) as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            y = tf.reduce_sum(layer(x) ** 2)
    dx = outer.gradient(y, x)
    w = f64(layer.kernel.numpy())
    np.testing.assert_allclose(dx.numpy(), 2 * (f64(x.numpy()) @ w) * w.T, rtol=1e-5)
    assert inner.gradient(y, layer.kernel) is not None


def _penalty_reference(x, w1, b1, w2, w3, b3):
    """WGAN-GP's penalty for the critic tanh(x W1 + b1) -> relu(. W2) -> . W3 + b3, in float64: the
    critic's input gradient written out by the chain rule, then mean((|dx| - 1)^2)."""
    z1 = x @ w1 + b1
    h1 = np.tanh(z1)
    z2 = h1 @ w2
    dz2 = np.where(z2 > 0, 1.0, 0.0) * w3[:, 0]
    dx = ((dz2 @ w2.T) * (1 - h1 ** 2)) @ w1.T
    return float(np.mean((np.sqrt((dx ** 2).sum(1)) - 1.0) ** 2))


def test_wgan_gp_penalty_gradient_matches_float64_finite_differences():
    # an inner tape's input gradient differentiated by the outer tape (models/second_order.py)
    tf.random.set_seed(3)
    disc = tf.keras.Sequential([tf.keras.layers.Input((4,)), tf.keras.layers.Dense(6, activation="tanh"),
                                tf.keras.layers.Dense(5, activation="relu", use_bias=False),
                                tf.keras.layers.Dense(1)])
    x = np.random.default_rng(1).normal(size=(6, 4)).astype("float32")
    interpolated = tf.constant(x)
    with tf.GradientTape() as tape:
        with tf.GradientTape() as gp_tape:
            gp_tape.watch(interpolated)
            pred = disc(interpolated, training=True)
        grads = gp_tape.gradient(pred, [interpolated])[0]
        norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1]))
        gp = tf.reduce_mean((norm - 1.0) ** 2)
    got = tape.gradient(gp, disc.trainable_variables, unconnected_gradients="zero")
    params = [f64(w) for w in disc.get_weights()]
    assert float(gp) == pytest.approx(_penalty_reference(f64(x), *params), rel=1e-5)
    for k, g in enumerate(got):
        num = np.zeros_like(params[k])
        for i in np.ndindex(params[k].shape):
            hi, lo = [p.copy() for p in params], [p.copy() for p in params]
            hi[k][i] += 1e-6
            lo[k][i] -= 1e-6
            num[i] = (_penalty_reference(f64(x), *hi) - _penalty_reference(f64(x), *lo)) / 2e-6
        np.testing.assert_allclose(np.asarray(g), num, rtol=1e-3, atol=1e-5)


def test_second_order_through_an_op_it_cannot_record_raises_instead_of_a_wrong_number():
    disc = tf.keras.Sequential([tf.keras.layers.Input((4,)), tf.keras.layers.Dense(8, activation="relu"),
                                tf.keras.layers.Dense(1)])
    interpolated = tf.constant(np.random.default_rng(1).normal(size=(6, 4)).astype("float32"))
    with tf.GradientTape() as tape:
        with tf.GradientTape() as gp_tape:
            gp_tape.watch(interpolated)
            # an op before the model that op_gradients.py cannot differentiate again
            pred = disc(tf.math.cumprod(interpolated, axis=1), training=True)
        grads = gp_tape.gradient(pred, [interpolated])[0]
        gp = tf.reduce_mean(tf.square(grads))
        loss = tf.reduce_mean(pred) + 10.0 * gp
    with pytest.raises(NotImplementedError, match="cumprod"):
        tape.gradient(loss, disc.trainable_variables)


def test_a_gradient_not_feeding_the_target_is_fine():
    x = tf.Variable(2.0)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = x * x * x
        dy = inner.gradient(y, x)   # used for logging only
        z = y * 2.0
    assert float(dy) == pytest.approx(12.0)
    assert float(outer.gradient(z, x)) == pytest.approx(24.0)


def test_persistent_tape_gradient_inside_its_own_block_then_differentiated_raises():
    x = tf.Variable(1.5)
    with tf.GradientTape(persistent=True) as tape:
        y = x * x
        dy = tape.gradient(y, x)
        z = dy * 2.0
    assert float(dy) == pytest.approx(3.0)
    with pytest.raises(NotImplementedError, match="second-order"):
        tape.gradient(z, x)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_persistent_tape_differentiates_its_own_input_gradient(dtype):
    """A PINN's idiom: u_x = tape.gradient(u, x) inside the persistent tape's block (x watched),
    u_xx = tape.gradient(u_x, x) after it, as TensorFlow records the first gradient's ops."""
    tf.random.set_seed(4)
    dense = tf.keras.layers.Dense(4, activation="tanh", dtype=dtype)
    head = tf.keras.layers.Dense(1, dtype=dtype)
    x = tf.constant(np.linspace(-1, 1, 5)[:, None], dtype=dtype)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        u = head(dense(x))
        u_x = tape.gradient(u, x)
    u_xx = tape.gradient(u_x, x)
    w1, b1, w2 = (np.asarray(v, np.float64) for v in (dense.kernel, dense.bias, head.kernel))
    t = np.tanh(np.asarray(x, np.float64) @ w1 + b1)
    tol = 1e-12 if dtype == "float64" else 1e-5
    assert str(u_xx.dtype) == dtype
    np.testing.assert_allclose(np.asarray(u_x), ((1 - t ** 2) * w1) @ w2, rtol=tol, atol=tol)
    np.testing.assert_allclose(np.asarray(u_xx), (-2 * t * (1 - t ** 2) * w1 ** 2) @ w2, rtol=tol, atol=tol)


@pytest.mark.parametrize("first", ["lambda", "activation"])
def test_second_order_through_a_first_layer_without_weights(first):
    """d/dW of sum(u_t), u_t taken by an inner tape through a model whose first layer has no
    weights (a PINN's Lambda scaling layer): the inner gradient's ops are recorded even though
    the outer tape does not track that layer's output (its gradient is linear in the seed, which
    depends on W). It was silently None."""
    tf.random.set_seed(6)
    scale = tf.keras.layers.Lambda(lambda v: 2.0 * v - 1.0) if first == "lambda" else \
        tf.keras.layers.Activation("linear")
    model = tf.keras.Sequential([tf.keras.Input((2,)), scale, tf.keras.layers.Dense(3, activation="tanh"),
                                 tf.keras.layers.Dense(1)])
    X = tf.constant(np.random.default_rng(0).uniform(-1, 1, (4, 2)).astype("float32"))

    def loss():
        with tf.GradientTape() as inner:
            t = X[:, 0:1]
            inner.watch(t)
            u = model(tf.concat([t, X[:, 1:2]], axis=1))
        return tf.reduce_sum(inner.gradient(u, t))
    kernel = model.layers[1].kernel
    with tf.GradientTape() as outer:
        value = loss()
    g = outer.gradient(value, kernel)
    assert g is not None
    base = np.asarray(kernel).copy()
    num = np.zeros_like(base, dtype=np.float64)
    for i in np.ndindex(base.shape):
        for sign in (1, -1):
            moved = base.copy()
            moved[i] += sign * 1e-2
            kernel.assign(moved)
            num[i] += sign * float(loss()) / 2e-2
    kernel.assign(base)
    np.testing.assert_allclose(np.asarray(g), num, rtol=2e-3, atol=2e-4)


# -- gradients w.r.t. inputs and intermediate outputs of a model called under a tape --------------

def _small_model():
    tf.random.set_seed(5)
    inp = tf.keras.Input((4,))
    h = tf.keras.layers.Dense(3, activation="tanh", name="hidden")(inp)
    out = tf.keras.layers.Dense(2, name="head")(h)
    return tf.keras.Model(inp, out), h, inp


def test_input_gradient_is_not_overwritten_by_the_next_call():
    model, _, _ = _small_model()
    rng = np.random.default_rng(2)
    xs = [tf.constant(rng.normal(size=(3, 4)).astype("float32")) for _ in range(2)]
    grads = []
    for x in xs:
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(model(x) ** 2)
        grads.append(tape.gradient(y, x).numpy())   # numpy(): a view, as a user keeps it
    w1, b1 = [f64(v.numpy()) for v in model.get_layer("hidden").trainable_variables]
    w2, b2 = [f64(v.numpy()) for v in model.get_layer("head").trainable_variables]
    for x, g in zip(xs, grads):
        f = lambda z: float(np.sum((np.tanh(z @ w1 + b1) @ w2 + b2) ** 2))
        np.testing.assert_allclose(g, numerical_grad(f, f64(x.numpy())), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("frozen", [False, True])
def test_gradient_wrt_an_intermediate_output_of_a_two_output_model(frozen):
    """Grad-CAM: Model(inputs, [conv_output, predictions]); the class score's gradient w.r.t. the
    conv output flows through the rest of the graph."""
    model, h, inp = _small_model()
    model.get_layer("hidden").trainable = not frozen
    grad_model = tf.keras.Model(model.inputs, [model.get_layer("hidden").output, model.output])
    x = np.random.default_rng(3).normal(size=(2, 4)).astype("float32")
    with tf.GradientTape() as tape:
        hidden, preds = grad_model(x)
        score = preds[:, 1]
    g = tape.gradient(score, hidden)
    w2 = model.get_layer("head").kernel.numpy()
    np.testing.assert_allclose(g.numpy(), np.broadcast_to(w2[:, 1], (2, 3)), rtol=1e-6)


def test_a_model_called_twice_under_one_tape_keeps_its_layers_options():
    """A GAN's D(fake), D(real) in one tape: the second call runs a copy of the graph whose call
    contexts must read LeakyReLU's slope (an attribute with a class default), not the default."""
    inp = tf.keras.Input((3,))
    h = tf.keras.layers.Dense(4)(inp)
    out = tf.keras.layers.LeakyReLU(0.2)(h)
    disc = tf.keras.Model(inp, out)
    rng = np.random.default_rng(4)
    a, b = (rng.normal(size=(5, 3)).astype("float32") for _ in range(2))
    with tf.GradientTape() as tape:
        ya = disc(a, training=True)
        yb = disc(b, training=True)
        loss = tf.reduce_sum(ya) + tf.reduce_sum(yb)
    w = f64(disc.layers[1].kernel.numpy())
    bias = f64(disc.layers[1].bias.numpy())
    for x, y in ((a, ya), (b, yb)):
        z = f64(x) @ w + bias
        np.testing.assert_allclose(y.numpy(), np.where(z > 0, z, 0.2 * z), rtol=1e-5, atol=1e-6)
    gw = tape.gradient(loss, disc.layers[1].kernel).numpy()
    expect = sum(f64(x).T @ np.where(f64(x) @ w + bias > 0, 1.0, 0.2) for x in (a, b))
    np.testing.assert_allclose(gw, expect, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["erf", "erfc", "log1p", "expm1", "rsqrt", "tan", "sinh", "cosh", "atan", "asinh",
                                  "acos", "atanh", "cbrt", "gelu", "gelu_tanh", "l2_normalize", "cumsum_sq",
                                  "logsumexp"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_second_derivatives_of_numpy_formula_ops(name, dtype):
    """The ops computed by NumPy formulas (erf, sinh, log1p ... a PINN's residual terms) are
    differentiated twice: d2/dx2 sum(f(x)) against central differences of the first derivative."""
    fns = {"erf": tf.math.erf, "erfc": tf.math.erfc, "log1p": tf.math.log1p, "expm1": tf.math.expm1,
           "rsqrt": tf.math.rsqrt, "tan": tf.math.tan, "sinh": tf.math.sinh, "cosh": tf.math.cosh,
           "atan": tf.math.atan, "asinh": tf.math.asinh, "acos": tf.math.acos, "atanh": tf.math.atanh,
           "cbrt": lambda v: tf.experimental.numpy.cbrt(v) if hasattr(tf.experimental, "numpy") else tf.keras.ops.cbrt(v),
           "gelu": tf.nn.gelu, "gelu_tanh": lambda v: tf.nn.gelu(v, approximate=True),
           "l2_normalize": lambda v: tf.math.l2_normalize(v, axis=-1),
           "cumsum_sq": lambda v: tf.square(tf.cumsum(v, axis=-1)),
           "logsumexp": lambda v: tf.reduce_logsumexp(v * v, axis=-1, keepdims=True) * tf.ones_like(v)}
    f = fns[name]
    x0 = np.array([[0.3, 0.55], [0.2, 0.7]])

    def first(xv):
        x = tf.constant(xv, dtype="float64")
        with tf.GradientTape() as t:
            t.watch(x)
            y = tf.reduce_sum(f(x) * np.array([[1.0, 0.5], [0.25, 2.0]]))
        return np.asarray(t.gradient(y, x), np.float64)
    x = tf.constant(x0, dtype=dtype)
    with tf.GradientTape() as t2:
        t2.watch(x)
        with tf.GradientTape() as t1:
            t1.watch(x)
            y = tf.reduce_sum(f(x) * np.array([[1.0, 0.5], [0.25, 2.0]], dtype))
        g = t1.gradient(y, x)
        s = tf.reduce_sum(g * np.array([[1.0, -1.0], [2.0, 0.5]], dtype))
    h = t2.gradient(s, x)
    assert str(h.dtype) == dtype
    num = np.zeros_like(x0)
    w = np.array([[1.0, -1.0], [2.0, 0.5]])
    for i in np.ndindex(x0.shape):
        e = np.zeros_like(x0)
        e[i] = 1e-5
        num[i] = np.sum((first(x0 + e) - first(x0 - e)) * w) / 2e-5
    tol = 1e-6 if dtype == "float64" else 2e-3
    np.testing.assert_allclose(np.asarray(h, np.float64), num, rtol=tol, atol=tol)


def test_a_numpy_formula_without_an_op_form_refuses_a_second_derivative():
    x = tf.constant([0.5, 1.5])
    with tf.GradientTape() as t2:
        t2.watch(x)
        with tf.GradientTape() as t1:
            t1.watch(x)
            y = tf.reduce_sum(tf.math.lgamma(x))   # its derivative formula is digamma (no op form)
        g = t1.gradient(y, x)
    with pytest.raises(NotImplementedError):
        t2.gradient(g, x)
