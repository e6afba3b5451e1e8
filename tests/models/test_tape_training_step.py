"""GradientTape.gradient's training-step path (one model call, one built-in loss, the model's
trainable variables as sources) gives what the general walk gives, bit for bit, and steps aside
whenever the step is anything else: other sources or their order, a frozen layer, a watched
input, a persistent tape, a second model call, a seed."""
import numpy as np
import pytest

import corenn as tf
from corenn import autodiff, keras, layers


class Mlp(keras.Model):
    def __init__(self):
        super().__init__()
        self.flatten = layers.Flatten()
        self.d1 = layers.Dense(8, activation="relu")
        self.d2 = layers.Dense(3)

    def call(self, x):
        return self.d2(self.d1(self.flatten(x)))


def _models(rng, x):
    a, b = Mlp(), Mlp()
    a(x), b(x)
    b.set_weights(a.get_weights())
    return a, b


def _data(rng, n=6):
    return rng.random((n, 4, 2)).astype(np.float32), rng.integers(0, 3, n)


def _counting(monkeypatch):
    """Counts the steps the fast path served (it returns None when it steps aside)."""
    served = []
    original = autodiff.GradientTape._training_step_gradient

    def counted(self, target, sources):
        result = original(self, target, sources)
        served.append(result is not None)
        return result
    monkeypatch.setattr(autodiff.GradientTape, "_training_step_gradient", counted)
    return served


def test_fast_step_equals_the_general_walk_bitwise(rng, monkeypatch):
    x, y = _data(rng)
    fast, general = _models(rng, x)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    served = _counting(monkeypatch)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, fast(x, training=True))
    g_fast = [np.array(g) for g in tape.gradient(loss, fast.trainable_variables)]
    # a persistent tape takes the general walk (it may be asked again)
    with tf.GradientTape(persistent=True) as tape:
        loss2 = loss_fn(y, general(x, training=True))
    g_general = [np.array(g) for g in tape.gradient(loss2, general.trainable_variables)]
    assert served == [True, False]
    assert float(loss) == float(loss2)
    for a, b in zip(g_fast, g_general):
        assert a.tobytes() == b.tobytes()


def test_fast_steps_train_like_the_general_walk(rng, monkeypatch):
    """Several steps with an optimizer: the weights stay identical, and gradients handed out in
    one step are not overwritten by the next (the caller may keep them)."""
    x, y = _data(rng, 12)
    fast, general = _models(rng, x)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    opt_a, opt_b = keras.optimizers.Adam(0.01), keras.optimizers.Adam(0.01)
    served = _counting(monkeypatch)
    kept = []
    for step in range(4):
        xb, yb = x[step * 3:(step + 1) * 3], y[step * 3:(step + 1) * 3]
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, fast(xb, training=True))
        g = tape.gradient(loss, fast.trainable_variables)
        kept.append((g, [np.array(t) for t in g]))
        opt_a.apply_gradients(zip(g, fast.trainable_variables))
        with tf.GradientTape(persistent=True) as tape:
            loss = loss_fn(yb, general(xb, training=True))
        g = tape.gradient(loss, general.trainable_variables)
        opt_b.apply_gradients(zip(g, general.trainable_variables))
    assert served == [True, False] * 4
    for a, b in zip(fast.get_weights(), general.get_weights()):
        assert a.tobytes() == b.tobytes()
    for held, copy in kept:
        for t, c in zip(held, copy):
            assert np.array(t).tobytes() == c.tobytes()


def test_other_sources_take_the_general_walk(rng, monkeypatch):
    x, y = _data(rng)
    model, _ = _models(rng, x)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    served = _counting(monkeypatch)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    forward = [np.array(g) for g in tape.gradient(loss, model.trainable_variables)]
    # reversed order and a subset: each gradient still belongs to its own variable
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    backward = tape.gradient(loss, model.trainable_variables[::-1])
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    first = tape.gradient(loss, model.trainable_variables[:1])
    assert served == [True, False, False]
    assert [np.array(g).tobytes() for g in backward[::-1]] == [g.tobytes() for g in forward]
    assert np.array(first[0]).tobytes() == forward[0].tobytes()


def test_frozen_layer_watched_input_and_seed_take_the_general_walk(rng, monkeypatch):
    x, y = _data(rng)
    model, _ = _models(rng, x)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    served = _counting(monkeypatch)
    model.d1.trainable = False
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    assert len(grads) == 2 and all(g is not None for g in grads)
    model.d1.trainable = True
    xt = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = loss_fn(y, model(xt, training=True))
    gx, *gw = tape.gradient(loss, [xt] + model.trainable_variables)
    assert gx is not None and tuple(gx.shape) == x.shape
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    half = tape.gradient(loss, model.trainable_variables, output_gradients=tf.constant(0.5))
    # the frozen step matched its sources (the graph's trainable weights) and took the fast path;
    # the watched input did not; a seed never reaches it
    assert served == [True, False]
    for h, g in zip(half, gw):
        np.testing.assert_allclose(np.array(h), 0.5 * np.array(g), rtol=1e-6, atol=1e-7)


def test_two_model_calls_or_an_op_on_the_loss_take_the_general_walk(rng, monkeypatch):
    x, y = _data(rng)
    model, _ = _models(rng, x)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    served = _counting(monkeypatch)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True)) + loss_fn(y, model(x, training=True))
    twice = tape.gradient(loss, model.trainable_variables)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    once = tape.gradient(loss, model.trainable_variables)
    assert served == [False, True]
    for a, b in zip(twice, once):
        np.testing.assert_allclose(np.array(a), 2 * np.array(b), rtol=1e-5, atol=1e-7)


def test_a_non_persistent_tape_still_refuses_a_second_gradient(rng):
    x, y = _data(rng)
    model, _ = _models(rng, x)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    tape.gradient(loss, model.trainable_variables)
    with pytest.raises(RuntimeError, match="non-persistent"):
        tape.gradient(loss, model.trainable_variables)


def test_loss_gradient_buffer_is_reused_only_when_nobody_holds_it(rng):
    """A built-in loss reuses its last d(loss)/d(y_pred) Tensor for the next recorded call, but
    never one a caller still holds: gradients asked for the predictions keep their values."""
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    preds = [tf.convert_to_tensor(rng.standard_normal((5, 4)).astype(np.float32)) for _ in range(3)]
    targets = [np.eye(4, dtype=np.float32)[rng.integers(0, 4, 5)] for _ in range(3)]
    held, expected = [], []
    for p, t in zip(preds, targets):
        with tf.GradientTape() as tape:
            tape.watch(p)
            loss = loss_fn(t, p)
        g = tape.gradient(loss, p)
        held.append(g)
        z = np.asarray(p, np.float64)
        s = np.exp(z - z.max(1, keepdims=True))
        expected.append((s / s.sum(1, keepdims=True) - t) / len(t))   # softmax - target, mean
    for g, e in zip(held, expected):
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-5, atol=1e-7)
    assert len({g.data_ptr for g in held}) == 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_array_inputs_of_every_numeric_dtype_take_the_tape_path(rng, dtype):
    """model(x) under a tape on a plain NumPy array of any numeric dtype records the captured
    graph and differentiates as the same call on the float32 Tensor."""
    x = (rng.random((6, 4, 2)) * 3).astype(dtype)
    model = Mlp()
    model(x.astype(np.float32))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    y = rng.integers(0, 3, 6)
    grads = []
    for inputs in (x, tf.convert_to_tensor(x.astype(np.float32))):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(inputs, training=True))
        grads.append([np.array(g) for g in tape.gradient(loss, model.trainable_variables)])
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)
