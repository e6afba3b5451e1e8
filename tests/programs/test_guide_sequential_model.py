"""Keras guide "The Sequential model" (keras.io/guides/sequential_model), imports changed only."""
import numpy as np
import pytest

from corenn import keras, layers, ops

from guide_data import fashion


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(2)


def test_sequential_equals_the_composed_layers():
    model = keras.Sequential([
        layers.Dense(2, activation="relu", name="layer1"),
        layers.Dense(3, activation="relu", name="layer2"),
        layers.Dense(4, name="layer3"),
    ])
    x = ops.ones((3, 3))
    y = model(x)
    layer1, layer2, layer3 = model.layers
    np.testing.assert_allclose(layer3(layer2(layer1(x))).numpy(), y.numpy(), rtol=1e-6)


def test_add_pop_and_deferred_build():
    model = keras.Sequential()
    model.add(layers.Dense(2, activation="relu"))
    model.add(layers.Dense(3, activation="relu"))
    model.add(layers.Dense(4))
    assert len(model.layers) == 3
    model.pop()
    assert len(model.layers) == 2
    assert model.weights == []                       # no weights before the model is built
    x = ops.ones((1, 4))
    y = model(x)
    assert len(model.weights) == 4
    assert tuple(y.shape) == (1, 3)

    layer = layers.Dense(3)
    assert layer.weights == []
    layer(ops.ones((1, 4)))
    assert len(layer.weights) == 2

    model = keras.Sequential(name="my_sequential")
    model.add(keras.Input(shape=(4,)))
    model.add(layers.Dense(2, activation="relu"))
    model.summary()
    assert model.layers[0].name.startswith("dense")     # the Input is not a layer of the model
    assert len(model.layers) == 1


def test_summary_while_stacking_then_training():
    model = keras.Sequential()
    model.add(keras.Input(shape=(28, 28, 1)))
    model.add(layers.Conv2D(16, 5, strides=2, activation="relu"))
    model.add(layers.Conv2D(16, 3, activation="relu"))
    model.add(layers.MaxPooling2D(2))
    model.summary()
    assert model.output_shape == (None, 5, 5, 16)
    model.add(layers.GlobalMaxPooling2D())
    model.add(layers.Dense(10))
    (x_train, y_train), (x_test, y_test) = fashion()
    x_train = x_train[..., None].astype("float32") / 255
    x_test = x_test[..., None].astype("float32") / 255
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=2, batch_size=64, verbose=0)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    assert acc > 0.45, acc                           # chance is 0.1


def test_feature_extraction_and_frozen_layers():
    initial_model = keras.Sequential([
        keras.Input(shape=(250, 250, 3)),
        layers.Conv2D(8, 5, strides=2, activation="relu"),
        layers.Conv2D(8, 3, activation="relu", name="my_intermediate_layer"),
        layers.Conv2D(8, 3, activation="relu"),
    ])
    feature_extractor = keras.Model(inputs=initial_model.inputs,
                                    outputs=[layer.output for layer in initial_model.layers])
    x = ops.ones((1, 250, 250, 3))
    features = feature_extractor(x)
    assert [tuple(f.shape) for f in features] == [(1, 123, 123, 8), (1, 121, 121, 8), (1, 119, 119, 8)]
    one = keras.Model(inputs=initial_model.inputs,
                      outputs=initial_model.get_layer(name="my_intermediate_layer").output)
    np.testing.assert_allclose(one(x).numpy(), features[1].numpy(), rtol=1e-6)

    model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(32, activation="relu"),
                              layers.Dense(32, activation="relu"), layers.Dense(32, activation="relu"),
                              layers.Dense(10)])
    for layer in model.layers[:-1]:
        layer.trainable = False
    frozen = [w.numpy().copy() for layer in model.layers[:-1] for w in layer.weights]
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    model.fit(rng.random((64, 784)).astype("float32"), rng.random((64, 10)).astype("float32"),
              epochs=1, verbose=0)
    after = [w.numpy() for layer in model.layers[:-1] for w in layer.weights]
    for a, b in zip(frozen, after):
        np.testing.assert_array_equal(a, b)
    assert len(model.trainable_weights) == 2
