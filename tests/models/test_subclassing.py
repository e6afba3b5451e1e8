"""Model subclassing and custom layers as a Keras user writes them: ``class M(keras.Model)`` with
layers as attributes (also in lists and dicts) and ``call(inputs, training=None)``; a
``layers.Layer`` subclass with build / add_weight / call written with corenn.ops, used in
Sequential, functional and subclassed models. Gradients are checked against central finite
differences of float64 NumPy re-implementations."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras, layers, ops

from graph_reference import arrays, assert_grads_close, dense, fd_grads, mse


def _randomize(model, rng, scale=0.5):
    model.set_weights([rng.normal(0.0, scale, w.shape).astype(np.float32) for w in model.get_weights()])


class Tower(keras.Model):
    """Layers as an attribute, in a list and in a dict."""

    def __init__(self, units=6, **kwargs):
        super().__init__(**kwargs)
        self.inp = layers.Dense(units, activation="tanh")
        self.blocks = [layers.Dense(units, activation="tanh"), layers.Dense(units)]
        self.heads = {"left": layers.Dense(2), "right": layers.Dense(2)}
        self.seen_training = []

    def call(self, inputs, training=None):
        self.seen_training.append(training)
        h = self.inp(inputs)
        for block in self.blocks:
            h = block(h)
        return self.heads["left"](h) - self.heads["right"](h)


def _tower_reference(x, p):
    h = dense(x, p[0], p[1], "tanh")
    h = dense(h, p[2], p[3], "tanh")
    h = dense(h, p[4], p[5])
    return dense(h, p[6], p[7]) - dense(h, p[8], p[9])


def _regression_data(rng, n=32, features=4):
    x = rng.standard_normal((n, features)).astype(np.float32)
    y = np.stack([np.sin(x[:, 0]), x[:, 1] * x[:, 2]], axis=1).astype(np.float32)
    return x, y


def test_layers_in_attributes_lists_and_dicts_are_tracked(rng):
    model = Tower()
    model.build((None, 4))
    assert len(model.layers) == 5
    assert len(model.weights) == len(model.trainable_weights) == 10
    assert model.count_params() == (4 * 6 + 6) + 2 * (6 * 6 + 6) + 2 * (6 * 2 + 2)
    assert all(any(w is v for v in model.trainable_variables) for w in model.heads["right"].weights)


def test_subclassed_model_trains_and_predicts(rng):
    tf.utils.set_random_seed(3)
    model = Tower()
    model.compile(keras.optimizers.Adam(0.01), "mse", metrics=["mae"])
    x, y = _regression_data(rng)
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, batch_size=8, epochs=8, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0]
    after = model.evaluate(x, y, verbose=0)
    assert after[0] < before[0]
    pred = model.predict(x, batch_size=10, verbose=0)
    assert isinstance(pred, np.ndarray) and pred.shape == (32, 2)
    np.testing.assert_allclose(pred, _tower_reference(x, model.get_weights()), rtol=1e-4, atol=1e-5)
    assert after[0] == pytest.approx(mse(y, pred), rel=1e-4)


def test_call_receives_the_training_flag(rng):
    model = Tower()
    model.compile("sgd", "mse")
    x, y = _regression_data(rng, n=8)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert True in model.seen_training and False not in model.seen_training[1:]
    model.seen_training.clear()
    model.predict(x, verbose=0)
    model.evaluate(x, y, verbose=0)
    assert model.seen_training and all(t is False for t in model.seen_training)
    model.seen_training.clear()
    model(x, training=True)
    assert model.seen_training == [True]


def test_subclassed_gradients_match_finite_differences(rng):
    model = Tower()
    model.build((None, 4))
    _randomize(model, rng)
    model.compile("sgd", "mse")
    x, y = _regression_data(rng, n=5)
    w = model.get_weights()
    loss, grads = model.compute_gradients(x, y)
    assert loss == pytest.approx(mse(y, _tower_reference(x, w)), rel=1e-5)
    assert_grads_close(grads, fd_grads(lambda p: mse(y, _tower_reference(x, p)), w))


def test_subclassed_model_with_two_inputs_of_the_same_shape(rng):
    class Pair(keras.Model):
        def __init__(self):
            super().__init__()
            self.da, self.db, self.out = layers.Dense(4), layers.Dense(4), layers.Dense(1)

        def call(self, inputs):
            a, b = inputs
            return self.out(ops.tanh(self.da(a) + self.db(b)))
    model = Pair()
    model.compile("sgd", "mse")
    xa, xb = rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 3)).astype(np.float32)
    y = rng.standard_normal((8, 1)).astype(np.float32)
    pred = model.predict([xa, xb], verbose=0)
    assert pred.shape == (8, 1)
    w = model.get_weights()

    def ref(p):
        return dense(np.tanh(dense(xa, p[0], p[1]) + dense(xb, p[2], p[3])), p[4], p[5])
    np.testing.assert_allclose(pred, ref(w), rtol=1e-5, atol=1e-6)
    loss, grads = model.compute_gradients([xa, xb], y)
    assert_grads_close(grads, fd_grads(lambda p: mse(y, ref(p)), w))
    history = model.fit([xa, xb], y, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_subclassed_model_holding_a_sequential(rng):
    class Encoded(keras.Model):
        def __init__(self):
            super().__init__()
            self.encoder = keras.Sequential([layers.Dense(5, activation="tanh"), layers.Dense(3)])
            self.head = layers.Dense(2)

        def call(self, x, training=None):
            return self.head(self.encoder(x, training=training))
    model = Encoded()
    model.compile(keras.optimizers.Adam(0.01), "mse")
    x, y = _regression_data(rng, n=16)
    history = model.fit(x, y, epochs=5, verbose=0)
    assert len(model.trainable_weights) == 6
    assert history.history["loss"][-1] < history.history["loss"][0]
    w = model.get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               dense(dense(dense(x, w[0], w[1], "tanh"), w[2], w[3]), w[4], w[5]),
                               rtol=1e-5, atol=1e-6)


def test_custom_train_step_with_the_tape(rng):
    class Stepper(keras.Model):
        def __init__(self):
            super().__init__()
            self.d1, self.d2 = layers.Dense(6, activation="tanh"), layers.Dense(2)
            self.steps_seen = 0

        def call(self, x):
            return self.d2(self.d1(x))

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                loss = ops.mean(ops.square(y - self(x, training=True)))
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            self.steps_seen += 1
            return {"loss": loss}
    model = Stepper()
    model.compile(keras.optimizers.SGD(0.1), "mse")
    x, y = _regression_data(rng)

    def full_batch_mse():
        return float(np.mean((np.asarray(model(x)) - y) ** 2))
    before = full_batch_mse()
    history = model.fit(x, y, batch_size=8, epochs=6, verbose=0)
    assert model.steps_seen == 24
    # the logged loss is the last batch's (a dict returned by train_step, as in Keras 3): too
    # noisy to compare across epochs, so the fit is judged on the whole training set
    assert len(history.history["loss"]) == 6
    assert full_batch_mse() < before


# -- custom layers -----------------------------------------------------------------------------------

class Affine(layers.Layer):
    """tanh(x @ w + b) * scale, written with corenn.ops, weights made the Keras 3 way."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)
        self.scale = self.add_weight(shape=(1,), initializer="ones", name="scale")

    def call(self, inputs):
        return ops.tanh(ops.matmul(inputs, self.w) + self.b) * self.scale

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class LegacyAffine(layers.Layer):
    """The same with corenn's positional add_weight(name, shape, initializer)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight("w", (input_shape[-1], self.units), "glorot_uniform")
        self.b = self.add_weight("b", (self.units,), "zeros")
        self.scale = self.add_weight("scale", (1,), "ones")

    def call(self, inputs):
        return ops.tanh(inputs @ self.w + self.b) * self.scale


def _affine_reference(x, p):
    h = np.tanh(x @ p[0] + p[1]) * p[2]
    return dense(h, p[3], p[4])


def _custom_layer_model(api, cls):
    custom, head = cls(5), layers.Dense(2)
    if api == "sequential":
        return keras.Sequential([keras.Input((4,)), custom, head])
    if api == "functional":
        inp = keras.Input((4,))
        return keras.Model(inp, head(custom(inp)))

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.custom, self.head = custom, head

        def call(self, x):
            return self.head(self.custom(x))
    model = Sub()
    model.build((None, 4))
    return model


@pytest.mark.parametrize("cls", [Affine, LegacyAffine])
@pytest.mark.parametrize("api", ["sequential", "functional", "subclassed"])
def test_custom_layer_gradients_match_finite_differences(rng, api, cls):
    model = _custom_layer_model(api, cls)
    assert [tuple(w.shape) for w in model.trainable_weights] == [(4, 5), (5,), (1,), (5, 2), (2,)]
    _randomize(model, rng)
    model.compile("sgd", "mse")
    x, y = _regression_data(rng, n=5)
    w = model.get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0), _affine_reference(x, w), rtol=1e-5, atol=1e-6)
    loss, grads = model.compute_gradients(x, y)
    assert loss == pytest.approx(mse(y, _affine_reference(x, w)), rel=1e-5)
    assert_grads_close(arrays(grads), fd_grads(lambda p: mse(y, _affine_reference(x, p)), w))


@pytest.mark.parametrize("api", ["sequential", "functional", "subclassed"])
def test_custom_layer_trains_in_every_api(rng, api):
    tf.utils.set_random_seed(5)
    model = _custom_layer_model(api, Affine)
    model.compile(keras.optimizers.Adam(0.02), "mse")
    x, y = _regression_data(rng)
    custom = next(l for l in model.layers if isinstance(l, Affine))
    w_before = np.array(custom.w, copy=True)
    history = model.fit(x, y, batch_size=8, epochs=10, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
    assert not np.array_equal(np.asarray(custom.w), w_before)  # the custom weights were updated


def test_custom_layer_called_twice_in_a_functional_model(rng):
    """A shared custom layer: its weight gradient is the sum over both calls."""
    a, b = keras.Input((4,)), keras.Input((4,))
    custom = Affine(3)
    head_a, head_b = layers.Dense(1), layers.Dense(1)
    model = keras.Model([a, b], [head_a(custom(a)), head_b(custom(b))])
    _randomize(model, rng)
    model.compile("sgd", ["mse", "mse"])
    xa, xb = rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal((5, 4)).astype(np.float32)
    ya, yb = rng.standard_normal((5, 1)).astype(np.float32), rng.standard_normal((5, 1)).astype(np.float32)
    w = model.get_weights()  # w, b, scale, head_a kernel, bias, head_b kernel, bias

    def loss_np(p):
        return (mse(ya, _affine_reference(xa, p[:5]))
                + mse(yb, _affine_reference(xb, p[:3] + p[5:7])))
    loss, grads = model.compute_gradients([xa, xb], [ya, yb])
    assert loss == pytest.approx(loss_np(w), rel=1e-5)
    assert_grads_close(arrays(grads), fd_grads(loss_np, w))


def test_custom_layer_variables_and_keras_names(rng):
    layer = Affine(3)
    layer.build((None, 2))
    assert layer.trainable_variables == layer.trainable_weights and len(layer.variables) == 3
    assert layer.non_trainable_variables == []
    scalar = Affine(3).add_weight(initializer="zeros")   # no shape: a scalar weight, as Keras 3's shape=None
    assert tuple(scalar.shape) == () and float(np.asarray(scalar)) == 0.0


class _WithCounters(keras.Model):
    """keras.Variable attributes on a subclassed model (the Forward-Forward example's loss sums)."""

    def __init__(self):
        super().__init__()
        self.total = keras.Variable(0.0, trainable=False)
        self.dense = layers.Dense(2)

    def call(self, x):
        self.total.assign_add(1.0)
        return self.dense(x)


def test_model_variables_are_weights_but_not_layers(rng, tmp_path):
    m = _WithCounters()
    x = rng.normal(size=(4, 3)).astype(np.float32)
    m(x)
    assert [l.name for l in m.layers] == [m.dense.name]     # as in Keras: the holder is no layer
    for layer in m.layers:                                  # a train_step may call every one
        layer(x)
    assert len(m.weights) == 3 and len(m.non_trainable_weights) == 1
    m.save_weights(tmp_path / "m.weights.h5")
    m2 = _WithCounters()
    m2(x)
    m2.load_weights(tmp_path / "m.weights.h5")
    for w1, w2 in zip(m.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(np.asarray(w1), np.asarray(w2))
