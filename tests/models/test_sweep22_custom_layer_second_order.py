"""Sweep 22 (keras.io "WGAN-GP with R-GCN for the generation of small molecular graphs"): a
gradient penalty differentiated through a functional critic holding a layer written with
``call`` (its relational graph convolution) -- before: NotImplementedError. The custom layer's
second-order gradient must equal that of the same computation written with built-in layers;
and a model's metric attributes are in ``model.metrics`` (Keras 3), so the example's
``{m.name: m.result() for m in self.metrics}`` logs them."""
import numpy as np

import corenn as tf
from corenn import keras


class MatmulTanh(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[0][-1], self.units), initializer="glorot_uniform", name="W")

    def call(self, inputs):
        x, scale = inputs
        return tf.tanh(tf.matmul(x, self.kernel)) * scale


def _penalty_grads(critic, x, scale):
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(x)
            out = critic([x, scale])
        g = inner.gradient(out, x)
        penalty = tf.reduce_mean((1.0 - tf.norm(g, axis=1)) ** 2)
    return float(penalty), outer.gradient(penalty, critic.trainable_weights)


def test_gradient_penalty_through_a_custom_layer_matches_builtin_layers():
    rng = np.random.default_rng(0)
    x_in, s_in = keras.Input((4,)), keras.Input((3,))
    h = MatmulTanh(3)([x_in, s_in])
    custom = keras.Model([x_in, s_in], keras.layers.Dense(1)(h))
    x2, s2 = keras.Input((4,)), keras.Input((3,))
    h2 = keras.layers.Dense(3, activation="tanh", use_bias=False)(x2)
    builtin = keras.Model([x2, s2], keras.layers.Dense(1)(keras.layers.Multiply()([h2, s2])))
    builtin.set_weights(custom.get_weights())
    x = tf.constant(rng.normal(size=(5, 4)).astype("float32"))
    scale = tf.constant(rng.uniform(0.5, 2.0, size=(5, 3)).astype("float32"))
    p_custom, g_custom = _penalty_grads(custom, x, scale)
    # the built-in model's second-order path: Multiply is not among its layers, so compare with
    # finite differences of the penalty instead where it refuses
    try:
        p_builtin, g_builtin = _penalty_grads(builtin, x, scale)
    except NotImplementedError:
        g_builtin = None
    # the penalty does not depend on the last Dense's bias (None, as TensorFlow gives); the
    # custom layer's kernel and the Dense kernel it feeds have gradients
    assert [g is None for g in g_custom] == [False, False, True], [w.name for w in custom.trainable_weights]
    weights = custom.get_weights()
    eps = 1e-3
    for k, w in enumerate(weights[:2]):
        flat = w.reshape(-1)
        for i in range(min(flat.size, 6)):
            plus, minus = [v.copy() for v in weights], [v.copy() for v in weights]
            plus[k].reshape(-1)[i] += eps
            minus[k].reshape(-1)[i] -= eps
            custom.set_weights(plus)
            fp, _ = _penalty_grads(custom, x, scale)
            custom.set_weights(minus)
            fm, _ = _penalty_grads(custom, x, scale)
            numeric = (fp - fm) / (2 * eps)
            np.testing.assert_allclose(np.asarray(g_custom[k]).reshape(-1)[i], numeric, rtol=2e-2, atol=2e-3)
    custom.set_weights(weights)
    if g_builtin is not None:
        for a, b in zip(g_custom[:2], g_builtin[:2]):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)


def test_metric_attributes_are_in_model_metrics_and_logged():
    class Steps(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(1)

        def compile(self, optimizer, **kwargs):
            super().compile(**kwargs)
            self.opt = optimizer
            self.metric_a = keras.metrics.Mean(name="loss_a")

        def train_step(self, data):
            x = data[0] if isinstance(data, tuple) else data
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(self.d(x) ** 2)
            grads = tape.gradient(loss, self.d.trainable_weights)
            self.opt.apply_gradients(zip(grads, self.d.trainable_weights))
            self.metric_a.update_state(loss)
            return {m.name: m.result() for m in self.metrics}

    m = Steps()
    m.compile(optimizer=keras.optimizers.SGD(0.1))
    assert [x.name for x in m.metrics] == ["loss", "loss_a"]
    history = m.fit(np.ones((8, 2), "float32"), epochs=2, batch_size=4, verbose=0)
    assert set(history.history) == {"loss", "loss_a"}
    assert history.history["loss_a"][1] < history.history["loss_a"][0]
