"""A model called under a GradientTape runs as one captured graph: same values and gradients as
layer-by-layer eager recording, and the buffers it reuses never change what the caller holds."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras, layers, ops


class Mlp(keras.Model):
    def __init__(self):
        super().__init__()
        self.flatten = layers.Flatten()
        self.d1 = layers.Dense(8, activation="relu")
        self.d2 = layers.Dense(3)

    def call(self, x):
        return self.d2(self.d1(self.flatten(x)))


class EagerOnly(Mlp):
    """The same model, but its call reads values (data-dependent Python), so it cannot be traced."""

    def call(self, x):
        scale = 1.0 if np.asarray(x).size else 0.0
        return self.d2(ops.relu(self.d1(self.flatten(x)))) * scale


class TracedOps(Mlp):
    """The same model with an op in its call: traced, the op a node of the captured graph."""

    def call(self, x):
        return self.d2(ops.relu(self.d1(self.flatten(x))))


def _grads(model, x, y):
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = loss_fn(y, logits)
    return float(loss), np.array(logits), [np.array(g) for g in tape.gradient(loss, model.trainable_variables)]


def test_captured_graph_matches_eager_recording(rng):
    x = rng.random((6, 4, 2)).astype(np.float32)
    y = rng.integers(0, 3, 6)
    captured, eager = Mlp(), EagerOnly()
    captured(x), eager(x)
    eager.set_weights(captured.get_weights())
    l1, p1, g1 = _grads(captured, x, y)
    l2, p2, g2 = _grads(eager, x, y)
    assert captured.__dict__.get("_captures") and eager.__dict__.get("_untraceable")
    assert l1 == pytest.approx(l2, rel=1e-6)
    np.testing.assert_allclose(p1, p2, rtol=1e-6, atol=1e-7)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    with_op = TracedOps()
    with_op(x)
    with_op.set_weights(captured.get_weights())
    l3, p3, g3 = _grads(with_op, x, y)
    assert with_op.__dict__.get("_captures") and not with_op.__dict__.get("_untraceable")
    assert l3 == pytest.approx(l2, rel=1e-6)
    for a, b in zip(g3, g2):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_held_outputs_and_gradients_are_never_overwritten(rng):
    model = Mlp()
    x = rng.random((5, 4, 2)).astype(np.float32)
    y = rng.integers(0, 3, 5)
    model(x)
    kept = [_grads(model, x + k, y) for k in range(3)]   # a loop that keeps every step's results
    for k, (_, logits, grads) in enumerate(kept):
        _, logits_again, grads_again = _grads(model, x + k, y)
        np.testing.assert_array_equal(logits, logits_again)
        for a, b in zip(grads, grads_again):
            np.testing.assert_array_equal(a, b)


def test_held_gradient_tensors_survive_the_next_step(rng):
    model = Mlp()
    x = rng.random((5, 4, 2)).astype(np.float32)
    y = rng.integers(0, 3, 5)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    held = []
    for k in range(3):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x * (k + 1), training=True))
        held.append(tape.gradient(loss, model.trainable_variables))    # Tensors, not copies
    copies = [[np.array(g) for g in gs] for gs in held]
    for k in range(3):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x * (k + 1), training=True))
        for a, b in zip(copies[k], tape.gradient(loss, model.trainable_variables)):
            np.testing.assert_array_equal(a, np.asarray(b))
    for gs, cs in zip(held, copies):   # nothing the loop held changed meanwhile
        for g, c in zip(gs, cs):
            np.testing.assert_array_equal(np.asarray(g), c)


def test_a_model_called_twice_under_one_tape_sums_both_calls(rng):
    """A siamese use of a whole model: the second call runs on a copy of the graph with contexts
    of its own; the gradient is the sum over both calls (checked against finite differences)."""
    model = Mlp()
    a = rng.random((4, 4, 2)).astype(np.float32)
    b = rng.random((4, 4, 2)).astype(np.float32)
    model(a)
    with tf.GradientTape() as tape:
        loss = ops.sum(ops.square(model(a, training=True) - model(b, training=True)))
    grads = [np.array(g) for g in tape.gradient(loss, model.trainable_variables)]

    def value():
        return float(np.sum((np.asarray(model.predict(a, verbose=0)) - model.predict(b, verbose=0)) ** 2))
    w = np.asarray(model.trainable_variables[0])
    for idx in [(0, 0), (3, 5), (7, 1)]:
        old = w[idx]
        w[idx] = old + 1e-2
        up = value()
        w[idx] = old - 1e-2
        down = value()
        w[idx] = old
        assert grads[0][idx] == pytest.approx((up - down) / 2e-2, rel=2e-2, abs=2e-4)
