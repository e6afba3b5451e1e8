"""keras.models.clone_model (Keras 3): new layers of the same configuration, fresh weights, the
same graph of calls; a Lambda (whose config holds no code) is remade in memory; clone_function,
input_tensors, call_function and recursive as Keras defines them."""
import numpy as np
import pytest

from corenn import keras, ops
from corenn.keras import layers


def _functional():
    a = keras.Input((4,), name="a")
    b = keras.Input((1,), name="b")
    emb = layers.Lambda(lambda t: ops.concatenate([ops.sin(t), ops.cos(t)], axis=-1))(b)
    x = layers.Concatenate()([layers.Dense(8, activation="relu", name="d1")(a), emb])
    shared = layers.Dense(3, name="shared")
    y = layers.Add()([shared(layers.Dense(8, name="d2")(x)), shared(layers.Dense(8, name="d3")(x))])
    return keras.Model([a, b], y, name="two_inputs")


def test_clone_keeps_the_graph_and_makes_fresh_layers(rng):
    model = _functional()
    clone = keras.models.clone_model(model)
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    assert not any(c is o for c, o in zip(clone.layers, model.layers))
    assert len(clone.trainable_weights) == len(model.trainable_weights)   # the shared layer once
    xa, xb = rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal((5, 1)).astype(np.float32)
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict([xa, xb], verbose=0), model.predict([xa, xb], verbose=0), rtol=1e-6)
    # fresh weights: changing the clone leaves the original alone
    before = [w.copy() for w in model.get_weights()]
    clone.set_weights([w + 1.0 for w in clone.get_weights()])
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)
    # the clone trains on its own
    clone.compile("adam", "mse")
    clone.fit([xa, xb], np.zeros((5, 3), np.float32), epochs=2, verbose=0)
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)


def test_clone_function_and_call_function_and_input_tensors(rng):
    model = _functional()
    seen = []

    def widen(layer):
        seen.append(layer.name)
        if isinstance(layer, layers.Dense) and layer.name == "d1":
            return layers.Dense(16, activation="relu", name="d1_wide")
        return layer.__class__.from_config(layer.get_config()) if not isinstance(layer, layers.Lambda) else \
            layers.Lambda(layer.function, name=layer.name)
    clone = keras.models.clone_model(model, clone_function=widen)
    assert "d1" in seen and clone.get_layer("d1_wide").units == 16
    calls = []

    def logged(layer, *args, **kwargs):
        calls.append(layer.name)
        return layer(*args, **kwargs)
    keras.models.clone_model(model, call_function=logged)
    assert calls.count("shared") == 2 and "d1" in calls
    a, b = keras.Input((4,), name="a2"), keras.Input((1,), name="b2")
    rebased = keras.models.clone_model(model, input_tensors=[a, b])
    assert rebased.inputs[0] is a and rebased.output_shape == (None, 3)
    with pytest.raises(ValueError, match="input_tensors"):
        keras.models.clone_model(model, input_tensors=[a])


def test_clone_sequential_recursive_and_subclassed():
    inner = keras.Sequential([keras.Input((3,)), layers.Dense(4, name="inner_dense")], name="inner")
    outer_in = keras.Input((3,))
    outer = keras.Model(outer_in, layers.Dense(2)(inner(outer_in)))
    flat = keras.models.clone_model(outer)
    deep = keras.models.clone_model(outer, recursive=True)
    assert isinstance(deep.layers[1], keras.Sequential) and deep.layers[1] is not inner
    assert flat.layers[1] is not inner
    seq = keras.Sequential([keras.Input((3,)), layers.Dense(5), layers.Lambda(lambda t: 2 * t)])
    seq_clone = keras.models.clone_model(seq)
    assert seq_clone.output_shape == (None, 5) and seq_clone.layers[1] is not seq.layers[1]
    x = np.ones((2, 3), np.float32)
    seq_clone.set_weights(seq.get_weights())
    np.testing.assert_allclose(seq_clone.predict(x, verbose=0), seq.predict(x, verbose=0), rtol=1e-6)

    class Sub(keras.Model):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.dense = layers.Dense(units)

        def call(self, x):
            return self.dense(x)

        def get_config(self):
            return {"units": self.units}
    sub_clone = keras.models.clone_model(Sub(units=6))
    assert isinstance(sub_clone, Sub) and sub_clone.units == 6
    with pytest.raises(ValueError, match="subclassed"):
        keras.models.clone_model(Sub(), clone_function=lambda l: l)
