"""keras.constraints: each constraint against the float64 reference, applied by the optimizer
after every update (fit, a GradientTape loop, tf.Variable), through Dense / Conv / Embedding and
add_weight, saved and loaded with the model, bad arguments named."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras
from corenn.keras import constraints, layers

import reference as ref


@pytest.mark.parametrize("make,kind,kw", [
    (lambda: constraints.MaxNorm(1.5), "max_norm", dict(max_value=1.5)),
    (lambda: constraints.MaxNorm(0.7, axis=1), "max_norm", dict(max_value=0.7, axis=1)),
    (lambda: constraints.MinMaxNorm(0.5, 1.0, rate=0.6), "min_max_norm", dict(min_value=0.5, max_value=1.0, rate=0.6)),
    (lambda: constraints.UnitNorm(axis=[0, 1]), "unit_norm", dict(axis=[0, 1])),
    (lambda: constraints.NonNeg(), "non_neg", {}),
])
def test_each_constraint_matches_the_reference(rng, make, kind, kw):
    w = (rng.standard_normal((3, 4, 5)) * 2).astype(np.float32)
    got = np.asarray(make()(w))
    np.testing.assert_allclose(got, ref.constraint(kind, w, **kw), rtol=1e-5, atol=1e-6)
    assert not np.allclose(got, w)   # each one changes this w


def test_fit_projects_after_every_update(rng):
    x = rng.standard_normal((128, 6)).astype(np.float32)
    y = (x @ rng.standard_normal((6, 1)) * 3).astype(np.float32)
    model = keras.Sequential([keras.Input((6,)),
                              layers.Dense(8, activation="relu", kernel_constraint=keras.constraints.MaxNorm(0.5)),
                              layers.Dense(1, kernel_constraint="non_neg", bias_constraint=constraints.NonNeg())])
    model.compile(keras.optimizers.Adam(0.05), "mse")
    model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    k1 = model.layers[0].get_weights()[0]
    assert np.linalg.norm(k1, axis=0).max() <= 0.5 + 1e-5
    k2, b2 = model.layers[1].get_weights()
    assert k2.min() >= 0 and b2.min() >= 0


def test_tape_loop_and_variables(rng):
    x = rng.standard_normal((32, 4)).astype(np.float32)
    dense = layers.Dense(3, kernel_constraint=constraints.UnitNorm(axis=0))
    dense(x)
    v = tf.Variable(rng.standard_normal((3,)).astype(np.float32), constraint=constraints.NonNeg())
    opt = keras.optimizers.SGD(0.5)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(dense(x) * v - 1.0))
        grads = tape.gradient(loss, dense.trainable_variables + [v])
        opt.apply_gradients(zip(grads, dense.trainable_variables + [v]))
    np.testing.assert_allclose(np.linalg.norm(np.asarray(dense.kernel), axis=0), 1.0, rtol=1e-5)
    assert np.asarray(v).min() >= 0
    # the optimizer reads the constraint from the variable, as Keras' variable.constraint
    assert isinstance(dense.kernel.constraint, constraints.UnitNorm)


def test_conv_embedding_and_add_weight(rng):
    class Scale(layers.Layer):
        def build(self, input_shape):
            self.s = self.add_weight(shape=(input_shape[-1],), initializer="ones", constraint="non_neg")

        def call(self, x):
            return x * self.s
    images = rng.random((16, 6, 6, 2)).astype(np.float32)
    tokens = rng.integers(0, 10, (16, 5))
    a = keras.Input((6, 6, 2))
    b = keras.Input((5,), dtype="int32")
    h = layers.Conv2D(4, 3, kernel_constraint=constraints.MaxNorm(0.3, axis=[0, 1, 2]))(a)
    h = layers.GlobalAveragePooling2D()(h)
    e = layers.GlobalAveragePooling1D()(layers.Embedding(10, 4, embeddings_constraint=constraints.UnitNorm(axis=1))(b))
    out = layers.Dense(1)(Scale()(layers.Concatenate()([h, e])))
    model = keras.Model([a, b], out)
    model.compile(keras.optimizers.SGD(0.5), "mse")
    model.fit([images, tokens], rng.standard_normal((16, 1)).astype(np.float32) * 5, epochs=2, verbose=0)
    conv = next(l for l in model.layers if isinstance(l, layers.Conv2D))
    emb = next(l for l in model.layers if isinstance(l, layers.Embedding))
    scale = next(l for l in model.layers if isinstance(l, Scale))
    assert np.sqrt((np.asarray(conv.kernel) ** 2).sum(axis=(0, 1, 2))).max() <= 0.3 + 1e-5
    np.testing.assert_allclose(np.linalg.norm(np.asarray(emb.embeddings), axis=1), 1.0, rtol=1e-5)
    assert np.asarray(scale.s).min() >= 0


def test_saved_with_the_model(rng, tmp_path):
    @keras.saving.register_keras_serializable(package="test_constraints")
    class Clip(constraints.Constraint):
        def __init__(self, limit=1.0):
            self.limit = limit

        def __call__(self, w):
            return np.clip(np.asarray(w), -self.limit, self.limit)

        def get_config(self):
            return {"limit": self.limit}
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2, kernel_constraint=constraints.MaxNorm(1.2, axis=0),
                                                              bias_constraint=Clip(0.25))])
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    d = again.layers[0]
    assert isinstance(d.kernel_constraint, constraints.MaxNorm) and d.kernel_constraint.max_value == 1.2
    assert type(d.bias_constraint).__name__ == "Clip" and d.bias_constraint.limit == 0.25
    again.compile(keras.optimizers.SGD(1.0), "mse")
    again.fit(rng.standard_normal((8, 3)).astype(np.float32), np.full((8, 2), 9.0, np.float32), verbose=0)
    assert np.abs(np.asarray(d.bias)).max() <= 0.25 + 1e-7


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="MaxNorm.*max_value"):
        constraints.MaxNorm(-1)
    with pytest.raises(ValueError, match="MinMaxNorm.*rate"):
        constraints.MinMaxNorm(rate=2.0)
    with pytest.raises(ValueError, match="UnitNorm.*axis"):
        constraints.UnitNorm(axis="rows")
    with pytest.raises(ValueError, match="unknown constraint"):
        constraints.get("clip_everything")
    with pytest.raises(ValueError, match="unknown constraint class"):
        constraints.get({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match="plain function"):
        constraints.serialize(lambda w: w)
