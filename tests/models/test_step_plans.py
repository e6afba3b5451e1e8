"""A graph's input-gradient marks and fusion plan are kept from one step to the next and redone
when what they depend on changes: the trainable flags, the watched inputs, the compiled loss, or
another model that shares a layer planning it its own way. Gradients are checked against central
finite differences of float64 NumPy re-implementations."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras, layers
from corenn.models import fusion

from graph_reference import arrays, assert_grads_close, dense, fd_grads, mse


def _randomize(model, rng, scale=0.5):
    model.set_weights([rng.normal(0.0, scale, w.shape).astype(np.float32) for w in model.get_weights()])


class _Two(keras.Model):
    def __init__(self):
        super().__init__()
        self.d1 = layers.Dense(5, activation="tanh")
        self.d2 = layers.Dense(2)

    def call(self, x):
        return self.d2(self.d1(x))


def _two_layer_model(api):
    if api == "subclassed":
        return _Two()
    model = keras.Sequential([keras.Input((4,)), layers.Dense(5, activation="tanh"), layers.Dense(2)])
    if api == "functional":
        inp = keras.Input((4,))
        model = keras.Model(inp, model.layers[1](model.layers[0](inp)))
    return model


def _tape_grads(model, x, y):
    with tf.GradientTape() as tape:
        loss = keras.losses.MeanSquaredError()(y, model(x, training=True))
    return arrays(tape.gradient(loss, model.trainable_variables))


@pytest.mark.parametrize("api", ["sequential", "functional", "subclassed"])
def test_a_layer_unfrozen_between_tape_steps_gets_its_gradient(rng, api):
    model = _two_layer_model(api)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    y = rng.standard_normal((6, 2)).astype(np.float32)
    model(x)
    _randomize(model, rng)
    first = [layer for layer in model.layers if layer.weights][0]
    first.trainable = False
    assert len(_tape_grads(model, x, y)) == 2   # the step that plans without the first layer's input gradient
    first.trainable = True
    grads = _tape_grads(model, x, y)
    w = model.get_weights()
    want = fd_grads(lambda p: mse(y, dense(dense(x, p[0], p[1], "tanh"), p[2], p[3])), w)
    assert_grads_close(grads, want)


def test_a_layer_unfrozen_between_train_on_batch_calls_gets_its_gradient(rng):
    model = _two_layer_model("sequential")
    _randomize(model, rng)
    model.compile("sgd", "mse")
    x = rng.standard_normal((6, 4)).astype(np.float32)
    y = rng.standard_normal((6, 2)).astype(np.float32)
    model.layers[0].trainable = False
    model.compute_gradients(x, y)
    model.layers[0].trainable = True
    _, grads = model.compute_gradients(x, y)
    w = model.get_weights()
    assert_grads_close(arrays(grads), fd_grads(lambda p: mse(y, dense(dense(x, p[0], p[1], "tanh"), p[2], p[3])), w))


def test_the_plan_is_kept_until_something_it_reads_changes(rng, monkeypatch):
    model = keras.Sequential([keras.Input((4,)), layers.Dense(5, activation="relu"),
                              layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = rng.standard_normal((2, 4)).astype(np.float32)
    plans = []
    real_plan = fusion.plan
    monkeypatch.setattr(fusion, "plan", lambda *a, **k: plans.append(1) or real_plan(*a, **k))
    for _ in range(3):
        model.predict_on_batch(x)
        model(x)
    assert plans == []
    assert model._preactivation == frozenset({0})   # softmax + cross-entropy from the logits
    model.layers[0].trainable = False
    model.predict_on_batch(x)
    assert len(plans) == 1
    model.compile("sgd", "mse")   # no longer a cross-entropy: the softmax runs on its own
    model.predict_on_batch(x)
    assert len(plans) == 1 and model._preactivation == frozenset()


def _relu_pool_models():
    """Two models sharing a Dense(relu): in ``pooled`` its output feeds only a MaxPooling1D, so
    the fusion pass folds relu' into the pooling (the Dense skips it); in ``plain`` the Dense
    must apply relu' itself."""
    shared = layers.Dense(3, activation="relu")
    head_a, head_b = layers.Dense(1), layers.Dense(1)
    inp = keras.Input((4, 2))
    pooled = keras.Model(inp, head_a(layers.Flatten()(layers.MaxPooling1D(2)(shared(inp)))))
    inp_b = keras.Input((4, 2))
    plain = keras.Model(inp_b, head_b(layers.Flatten()(shared(inp_b))))
    return pooled, plain


def _relu(z):
    return np.maximum(z, 0.0)


def test_models_sharing_a_layer_each_get_their_own_plan(rng):
    pooled, plain = _relu_pool_models()
    x = rng.standard_normal((5, 4, 2)).astype(np.float32)
    y = rng.standard_normal((5, 1)).astype(np.float32)
    pooled(x), plain(x)
    for m in (pooled, plain):
        _randomize(m, rng)

    def loss_pooled(p):   # p: shared kernel, bias, head kernel, bias
        h = _relu(dense(x, p[0], p[1]))
        return mse(y, dense(h.reshape(5, 2, 2, 3).max(axis=2).reshape(5, 6), p[2], p[3]))

    def loss_plain(p):
        return mse(y, dense(_relu(dense(x, p[0], p[1])).reshape(5, 12), p[2], p[3]))
    for _ in range(2):   # alternate: each step must run with its own model's plan
        for model, loss_of in ((pooled, loss_pooled), (plain, loss_plain)):
            grads = _tape_grads(model, x, y)
            assert_grads_close(grads, fd_grads(loss_of, model.get_weights()))


def test_predict_on_batch_returns_fresh_arrays_equal_to_predict(rng):
    model = keras.Sequential([keras.Input((4,)), layers.Dense(5, activation="tanh"), layers.Dense(2)])
    _randomize(model, rng)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    first = model.predict_on_batch(x)
    kept = first.copy()
    second = model.predict_on_batch(x + 1.0)
    assert isinstance(first, np.ndarray) and first.dtype == np.float32
    np.testing.assert_array_equal(first, kept)   # the second call wrote into its own array
    w = model.get_weights()
    np.testing.assert_allclose(first, dense(dense(x, w[0], w[1], "tanh"), w[2], w[3]), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(second, model.predict(x + 1.0, verbose=0))
    with pytest.raises(ValueError, match="expects input of shape"):
        model.predict_on_batch(rng.standard_normal((3, 5)).astype(np.float32))
