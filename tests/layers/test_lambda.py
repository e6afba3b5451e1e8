"""layers.Lambda: a function of corenn ops as a layer, differentiable in both APIs; its output
shape inferred or given; never saved (it is Python code)."""
import os

import numpy as np
import pytest

import corenn
from corenn import keras, layers, ops

from reference import numerical_grad


def model_with_lambdas():
    corenn.utils.set_random_seed(0)
    i = keras.Input((4,))
    h = layers.Dense(3, activation="tanh")(i)
    h = layers.Lambda(lambda x, k: ops.square(x) * k, arguments={"k": 0.5})(h)
    j = layers.Lambda(lambda xs: ops.concatenate([xs[0], xs[1]], axis=-1))([h, i])
    return keras.Model(i, layers.Dense(1)(j))


def test_output_shapes_inferred_and_given():
    m = model_with_lambdas()
    assert [l.output_shape for l in m.layers if isinstance(l, layers.Lambda)] == [(None, 3), (None, 7)]
    lam = layers.Lambda(lambda x: ops.reshape(x, (-1, 2, 2)), output_shape=(2, 2))
    assert keras.Sequential([keras.Input((4,)), lam]).output_shape == (None, 2, 2)


def test_gradients_through_lambdas_match_finite_differences():
    m = model_with_lambdas()
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    w = m.get_weights()

    def loss_of(kernel):
        m.set_weights([kernel.astype(np.float32)] + w[1:])
        return float(np.sum(np.asarray(m(x), np.float64) ** 2))

    with corenn.GradientTape() as tape:
        loss = ops.sum(ops.square(m(x)))
    g = np.asarray(tape.gradient(loss, m.trainable_variables[0]))
    num = numerical_grad(loss_of, w[0].astype(np.float64), eps=1e-3)
    m.set_weights(w)
    np.testing.assert_allclose(g, num, rtol=2e-2, atol=2e-3)


def test_trains_with_fit():
    m = model_with_lambdas()
    m.compile(keras.optimizers.Adam(1e-2), "mse")
    x = np.random.default_rng(1).random((128, 4)).astype(np.float32)
    hist = m.fit(x, x.sum(1, keepdims=True), epochs=20, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]


def test_save_refuses_a_lambda_and_writes_nothing(tmp_path):
    with pytest.raises(NotImplementedError, match="Lambda layer 'lambda.*Python code"):
        model_with_lambdas().save(tmp_path / "m.keras")
    assert os.listdir(tmp_path) == []


def test_function_must_be_callable():
    with pytest.raises(TypeError, match="callable"):
        layers.Lambda(3)


def test_a_lambda_in_a_config_is_refused():
    with pytest.raises(ValueError, match="Lambda layer is refused"):
        layers.deserialize({"class_name": "Lambda", "config": {"function": "os.system"}})
