"""Keras guide "Transfer learning & fine-tuning" (keras.io/guides/transfer_learning), imports
changed only. The pretrained base is a small CNN trained here on half of Fashion-MNIST's classes
(the guide downloads Xception); the new task is the other half."""
import numpy as np
import pytest

from corenn import keras, layers

from guide_data import fashion


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(10)


def test_trainable_and_non_trainable_weights():
    layer = keras.layers.Dense(3)
    layer.build((None, 4))
    assert len(layer.weights) == 2
    assert len(layer.trainable_weights) == 2
    assert len(layer.non_trainable_weights) == 0

    layer = keras.layers.BatchNormalization()
    layer.build((None, 4))
    assert len(layer.weights) == 4
    assert len(layer.trainable_weights) == 2
    assert len(layer.non_trainable_weights) == 2

    layer = keras.layers.Dense(3)
    layer.build((None, 4))
    layer.trainable = False
    assert len(layer.weights) == 2
    assert len(layer.trainable_weights) == 0
    assert len(layer.non_trainable_weights) == 2


def test_frozen_layer_does_not_change():
    layer1 = keras.layers.Dense(3, activation="relu")
    layer2 = keras.layers.Dense(3, activation="sigmoid")
    model = keras.Sequential([keras.Input(shape=(3,)), layer1, layer2])
    layer1.trainable = False
    initial_layer1_weights_values = layer1.get_weights()
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.random.random((2, 3)), np.random.random((2, 3)), verbose=0)
    final_layer1_weights_values = layer1.get_weights()
    np.testing.assert_allclose(initial_layer1_weights_values[0], final_layer1_weights_values[0])
    np.testing.assert_allclose(initial_layer1_weights_values[1], final_layer1_weights_values[1])


def test_trainable_is_recursive():
    inner_model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(3, activation="relu"),
                                    keras.layers.Dense(3, activation="relu")])
    model = keras.Sequential([keras.Input(shape=(3,)), inner_model, keras.layers.Dense(3, activation="sigmoid")])
    model.trainable = False
    assert inner_model.trainable is False
    assert inner_model.layers[0].trainable is False
    assert model.trainable_weights == []


def _split_fashion():
    (x_train, y_train), (x_test, y_test) = fashion()
    x_train = x_train[..., None].astype("float32")
    x_test = x_test[..., None].astype("float32")
    base = y_train < 5
    new_train, new_test = y_train >= 5, y_test >= 5
    return ((x_train[base], y_train[base]),
            (x_train[new_train][:1000], y_train[new_train][:1000] - 5),
            (x_test[new_test], y_test[new_test] - 5))


def _pretrained_base(x, y):
    base_model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Rescaling(scale=1 / 127.5, offset=-1),
        layers.Conv2D(16, 3, activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, activation="relu"),
        layers.BatchNormalization(),
    ], name="base")
    head = keras.Sequential([base_model, layers.GlobalAveragePooling2D(), layers.Dense(5)])
    head.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    head.fit(x, y, epochs=1, batch_size=64, verbose=0)
    return base_model


def test_transfer_then_fine_tune_keeps_batch_norm_in_inference_mode():
    (x_base, y_base), (x_new, y_new), (x_test, y_test) = _split_fashion()
    base_model = _pretrained_base(x_base, y_base)
    bn = base_model.layers[2]
    moving_mean = bn.moving_mean.numpy().copy()

    base_model.trainable = False
    data_augmentation = keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomRotation(0.1)])
    inputs = keras.Input(shape=(28, 28, 1))
    x = data_augmentation(inputs)
    x = base_model(x, training=False)            # BatchNormalization runs in inference mode
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(5)(x)
    model = keras.Model(inputs, outputs)
    model.summary(show_trainable=True)
    assert len(model.trainable_weights) == 2

    # a larger step than the guide's default: the head sees 1000 images for 3 epochs here
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    frozen = [w.numpy().copy() for w in base_model.weights]
    model.fit(x_new, y_new, epochs=3, batch_size=32, verbose=0)
    for a, w in zip(frozen, base_model.weights):
        np.testing.assert_array_equal(a, w.numpy())
    acc_transfer = model.evaluate(x_test, y_test, verbose=0)[1]
    assert acc_transfer > 0.45, acc_transfer          # chance is 0.2

    # fine-tuning: the whole base trains now, but its BatchNormalization stays in inference mode
    base_model.trainable = True
    model.compile(optimizer=keras.optimizers.Adam(1e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    model.fit(x_new, y_new, epochs=1, batch_size=32, verbose=0)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), moving_mean)
    assert not np.array_equal(frozen[0], base_model.weights[0].numpy())
    assert model.evaluate(x_test, y_test, verbose=0)[1] > 0.4
