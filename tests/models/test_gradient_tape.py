"""corenn.GradientTape as a TensorFlow user writes it: custom training loops, tape.watch, custom
losses with corenn.ops, Python operators on Tensors. Gradients are checked against central
finite differences of float64 NumPy re-implementations (and torch autograd where installed)."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras, layers, ops

from graph_reference import arrays, assert_grads_close, dense, fd_grads, mse, torch_grads
from reference import numerical_grad


def _t(a):
    return tf.convert_to_tensor(np.asarray(a, np.float32))


def _randomize(model, rng, scale=0.5):
    model.set_weights([rng.normal(0.0, scale, w.shape).astype(np.float32) for w in model.get_weights()])


def _mlp(rng):
    model = keras.Sequential([keras.Input((4,)), layers.Dense(5, activation="tanh"), layers.Dense(2)])
    _randomize(model, rng)
    return model


def _mlp_loss(x, y):
    return lambda p: mse(y, dense(dense(x, p[0], p[1], "tanh"), p[2], p[3]))


@pytest.mark.parametrize("api", ["sequential", "functional"])
def test_tape_gradient_of_a_model_matches_finite_differences(rng, api):
    model = _mlp(rng)
    if api == "functional":
        inp = keras.Input((4,))
        model = keras.Model(inp, model.layers[1](model.layers[0](inp)))
    x = rng.standard_normal((6, 4)).astype(np.float32)
    y = rng.standard_normal((6, 2)).astype(np.float32)
    loss_fn = keras.losses.MeanSquaredError()
    with tf.GradientTape() as tape:
        pred = model(x, training=True)
        loss = loss_fn(y, pred)
    grads = tape.gradient(loss, model.trainable_variables)
    assert isinstance(grads, list) and len(grads) == 4
    w = model.get_weights()
    assert float(np.asarray(loss)) == pytest.approx(_mlp_loss(x, y)(w), rel=1e-5)
    assert_grads_close(grads, fd_grads(_mlp_loss(x, y), w))
    # the same as the compiled training step computes
    model.compile("sgd", "mse")
    _, compiled = model.compute_gradients(x, y)
    for g, c in zip(grads, compiled):
        np.testing.assert_allclose(np.asarray(g), np.asarray(c), rtol=1e-6, atol=1e-7)


def test_custom_training_loop_with_apply_gradients_reduces_the_loss(rng):
    model = _mlp(rng)
    opt = keras.optimizers.SGD(0.1)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = (x[:, :2] * 0.5).astype(np.float32)
    losses = []
    for _ in range(20):
        with tf.GradientTape() as tape:
            loss = ops.mean(ops.square(y - model(x, training=True)))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(float(np.asarray(loss)))
    assert losses[-1] < 0.5 * losses[0]


def test_custom_loss_written_with_ops(rng):
    model = _mlp(rng)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = rng.standard_normal((5, 2)).astype(np.float32)

    def my_loss(y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred)) + 0.1 * ops.sum(ops.abs(y_pred))
    with tf.GradientTape() as tape:
        loss = my_loss(_t(y), model(x))
    grads = tape.gradient(loss, model.trainable_variables)
    w = model.get_weights()
    assert tuple(loss.shape) == ()  # a scalar stays a scalar through `0.1 * ops.sum(...)`

    def loss_np(p):
        pred = dense(dense(x, p[0], p[1], "tanh"), p[2], p[3])
        return mse(y, pred) + 0.1 * np.abs(pred).sum()
    assert float(np.asarray(loss)) == pytest.approx(loss_np(w), rel=1e-5)
    assert_grads_close(grads, fd_grads(loss_np, w))


def test_persistent_tape_allows_several_gradient_calls(rng):
    x = _t(rng.standard_normal((3, 4)))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = ops.sum(x * x)
        z = ops.sum(ops.exp(x))
    gy = np.array(tape.gradient(y, x))
    gz = np.array(tape.gradient(z, x))
    gy2 = np.array(tape.gradient(y, x))
    np.testing.assert_allclose(gy, 2 * np.asarray(x), rtol=1e-6)
    np.testing.assert_allclose(gz, np.exp(np.asarray(x)), rtol=1e-6)
    np.testing.assert_array_equal(gy2, gy)


def test_non_persistent_tape_refuses_a_second_gradient_call(rng):
    x = _t(rng.standard_normal(3))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(x * x)
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(y, x)


def test_watch_gives_the_input_gradient(rng):
    model = _mlp(rng)
    xa = rng.standard_normal((3, 4)).astype(np.float32)
    y = rng.standard_normal((3, 2)).astype(np.float32)
    x = _t(xa)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = ops.mean(ops.square(model(x) - y))
    gx = tape.gradient(loss, x)
    w = model.get_weights()
    want = numerical_grad(lambda v: mse(y, dense(dense(v, w[0], w[1], "tanh"), w[2], w[3])), xa)
    np.testing.assert_allclose(np.asarray(gx), want, rtol=1e-4, atol=1e-6)


def test_unconnected_source_is_none_or_zero(rng):
    x, u = _t(rng.standard_normal(3)), _t(rng.standard_normal(2))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, u])
        y = ops.sum(x * 3.0)
    gx, gu = tape.gradient(y, [x, u])
    assert gu is None
    np.testing.assert_allclose(np.asarray(gx), 3.0)
    gx, gu = tape.gradient(y, [x, u], unconnected_gradients="zero")
    np.testing.assert_array_equal(np.asarray(gu), np.zeros(2, np.float32))
    d = layers.Dense(2)
    d.build((None, 3))
    grads = tape.gradient(y, d.trainable_weights)  # weights the target never read
    assert grads == [None, None]


def test_source_neither_variable_nor_watched_raises(rng):
    x, other = _t(rng.standard_normal(3)), _t(rng.standard_normal(3))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(x * other)
    with pytest.raises(ValueError, match="watch"):
        tape.gradient(y, other)


def test_scalars_stay_scalars():
    s = ops.sum(_t(np.ones((2, 3))))
    for v in (s, 0.1 * s, s * 0.1, 1.0 - s, s / 2.0, s ** 2, -s, tf.convert_to_tensor(0.5)):
        assert tuple(v.shape) == ()
    assert float(np.asarray(0.5 * s)) == 3.0


def test_gradient_keeps_the_structure_of_the_sources(rng):
    a, b = _t(rng.standard_normal(2)), _t(rng.standard_normal(2))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([a, b])
        y = ops.sum(a * b)
    g = tape.gradient(y, {"a": a, "b": b})
    assert set(g) == {"a", "b"}
    np.testing.assert_allclose(np.asarray(g["a"]), np.asarray(b))
    assert isinstance(tape.gradient(y, (a, b)), tuple)
    assert isinstance(tape.gradient(y, a), tf.Tensor)


def test_stop_recording_and_stop_gradient(rng):
    xa = rng.standard_normal(4)
    x = _t(xa)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        with tape.stop_recording():
            ignored = x * 100.0
        z = ops.sum(y + ops.stop_gradient(x * x) + ignored)
    np.testing.assert_allclose(np.asarray(tape.gradient(z, x)), 2 * np.asarray(x), rtol=1e-6)


# -- Python operators on Tensors --------------------------------------------------------------------

_OPERATOR_CASES = {
    # name: (corenn expression of the Tensors, the same in float64 NumPy, input shapes)
    "a*b+c": (lambda a, b, c: a * b + c, lambda a, b, c: a * b + c, [(3, 4), (3, 4), (4,)]),
    "x@w": (lambda x, w: x @ w, lambda x, w: x @ w, [(3, 4), (4, 2)]),
    "-x": (lambda x: -x, lambda x: -x, [(3, 4)]),
    "x/y": (lambda x, y: x / y, lambda x, y: x / y, [(3, 4), (3, 4)]),
    "x**2": (lambda x: x ** 2, lambda x: x ** 2, [(3, 4)]),
    "x-y*2": (lambda x, y: x - y * 2.0, lambda x, y: x - y * 2.0, [(3, 4), (1, 4)]),
    "1-x/(x*x+1)": (lambda x: 1.0 - x / (x * x + 1.0), lambda x: 1.0 - x / (x * x + 1.0), [(2, 3)]),
    "numpy-x": (lambda x: np.ones((2, 3), np.float32) - x, lambda x: 1.0 - x, [(2, 3)]),
}


@pytest.mark.parametrize("case", list(_OPERATOR_CASES))
def test_python_operators_on_tensors_are_differentiable(rng, case):
    f_tf, f_np, shapes = _OPERATOR_CASES[case]
    values = [rng.uniform(0.5, 1.5, s) * rng.choice([-1, 1], s) for s in shapes]
    if case == "x/y":
        values[1] = np.abs(values[1]) + 0.5  # keep away from 0
    weights = rng.standard_normal(np.broadcast_shapes(*[np.shape(f_np(*values))]))  # a weighted sum target
    xs = [_t(v) for v in values]
    with tf.GradientTape() as tape:
        tape.watch(xs)
        out = f_tf(*xs)
        target = ops.sum(out * weights.astype(np.float32))
    assert isinstance(out, tf.Tensor)
    np.testing.assert_allclose(np.asarray(out), f_np(*[np.asarray(x, np.float64) for x in xs]), rtol=1e-5,
                               atol=1e-6)
    grads = tape.gradient(target, xs)
    base = [np.asarray(x, np.float64) for x in xs]
    for i, g in enumerate(grads):
        def f(v, i=i):
            args = list(base)
            args[i] = v
            return float((f_np(*args) * weights).sum())
        np.testing.assert_allclose(np.asarray(g), numerical_grad(f, base[i]), rtol=1e-4, atol=1e-5,
                                   err_msg=f"{case}: input {i}")


def test_floor_division_and_modulo_operators_follow_python():
    # `t // 2`, `7 % t`: Python's (NumPy's) floor and the divisor's sign; integers stay integers
    # (the CutMix example's box arithmetic on int32 Tensors)
    ints = tf.constant(np.array([-7, -1, 0, 5, 9], np.int32))
    halved = ints // 2
    assert halved.dtype == "int32"
    np.testing.assert_array_equal(np.asarray(halved), [-4, -1, 0, 2, 4])
    np.testing.assert_array_equal(np.asarray(ints % 4), [1, 3, 0, 1, 1])
    divisors = tf.constant(np.array([3, -2, 4, 5, 2], np.int32))
    np.testing.assert_array_equal(np.asarray(11 // divisors), [3, -6, 2, 2, 5])
    np.testing.assert_array_equal(np.asarray(11 % divisors), [2, -1, 3, 1, 1])
    floats = _t(np.array([-2.5, 0.75, 7.0]))
    np.testing.assert_allclose(np.asarray(floats // 2.0), [-2.0, 0.0, 3.0])
    np.testing.assert_allclose(np.asarray(floats % 2.0), [1.5, 0.75, 1.0])
    # x % y is differentiable in x (slope one between the jumps)
    x = _t(np.array([0.3, 2.6, -1.2]))
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = ops.sum(x % 2.0)
    np.testing.assert_allclose(np.asarray(tape.gradient(total, x)), [1.0, 1.0, 1.0])


def test_operators_match_torch_autograd(rng):
    torch = pytest.importorskip("torch")
    xa, wa, ba = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    x, w, b = _t(xa), _t(wa), _t(ba)
    with tf.GradientTape() as tape:
        tape.watch([x, w, b])
        h = x @ w + b
        loss = ops.mean((-h) ** 2 / (ops.abs(h) + 1.0))
    grads = tape.gradient(loss, [x, w, b])

    def loss_t(p):
        h = p[0] @ p[1] + p[2]
        return ((-h) ** 2 / (h.abs() + 1.0)).mean()
    t_loss, t_grads = torch_grads(loss_t, [np.asarray(t) for t in (x, w, b)])
    assert float(np.asarray(loss)) == pytest.approx(t_loss, rel=1e-5)
    assert_grads_close(grads, t_grads)


# -- layers under the tape ---------------------------------------------------------------------------

def test_layer_called_twice_under_the_tape_gets_summed_gradients(rng):
    d = layers.Dense(3, activation="tanh")
    xa, xb = rng.standard_normal((4, 2)).astype(np.float32), rng.standard_normal((5, 2)).astype(np.float32)
    d.build((None, 2))
    d.set_weights([rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)])
    with tf.GradientTape() as tape:
        loss = ops.sum(d(xa)) + ops.mean(ops.square(d(xb)))
    grads = tape.gradient(loss, d.trainable_weights)
    w = d.get_weights()

    def loss_np(p):
        return dense(xa, p[0], p[1], "tanh").sum() + np.mean(dense(xb, p[0], p[1], "tanh") ** 2)
    assert_grads_close(grads, fd_grads(loss_np, w))


def test_layer_output_kept_from_one_call_survives_the_next(rng):
    """A tape call's outputs are fresh Tensors: calling the layer again does not overwrite them."""
    d = layers.Dense(3)
    xa, xb = rng.standard_normal((4, 2)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)
    with tf.GradientTape():
        ya = d(xa)
        kept = np.array(ya, copy=True)
        d(xb)
    np.testing.assert_array_equal(np.asarray(ya), kept)


def test_tape_through_a_shared_layer_functional_model(rng):
    a, b = keras.Input((3,)), keras.Input((3,))
    shared = layers.Dense(4, activation="tanh")
    model = keras.Model([a, b], [shared(a), shared(b)])
    _randomize(model, rng)
    xa, xb = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32)
    with tf.GradientTape() as tape:
        oa, ob = model([xa, xb])
        loss = ops.sum(oa * ob)
    grads = tape.gradient(loss, model.trainable_variables)
    w = model.get_weights()

    def loss_np(p):
        return (dense(xa, p[0], p[1], "tanh") * dense(xb, p[0], p[1], "tanh")).sum()
    assert_grads_close(arrays(grads), fd_grads(loss_np, w))


def test_frozen_layer_gets_no_gradient_under_the_tape(rng):
    model = _mlp(rng)
    model.layers[0].trainable = False
    x = rng.standard_normal((3, 4)).astype(np.float32)
    assert len(model.trainable_variables) == 2
    with tf.GradientTape() as tape:
        loss = ops.sum(model(x))
    grads = tape.gradient(loss, model.trainable_variables)
    w = model.get_weights()
    assert_grads_close(grads, fd_grads(lambda p: dense(dense(x, w[0], w[1], "tanh"), p[0], p[1]).sum(), w[2:]))
