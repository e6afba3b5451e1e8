"""Keras guide "Save, serialize, and export models"
(keras.io/guides/serialization_and_saving), imports changed only."""
import json

import numpy as np
import pytest

from corenn import keras, ops


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(8)


def get_model():
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(), loss="mean_squared_error")
    return model


def test_save_and_load_a_whole_model(tmp_path):
    model = get_model()
    rng = np.random.default_rng(0)
    test_input = rng.random((128, 32))
    test_target = rng.random((128, 1))
    model.fit(test_input, test_target, verbose=0)
    model.save(str(tmp_path / "my_model.keras"))
    reconstructed_model = keras.models.load_model(str(tmp_path / "my_model.keras"))
    np.testing.assert_allclose(model.predict(test_input, verbose=0),
                               reconstructed_model.predict(test_input, verbose=0))
    # the optimizer state came along: both continue identically
    model.fit(test_input, test_target, shuffle=False, verbose=0)
    reconstructed_model.fit(test_input, test_target, shuffle=False, verbose=0)
    np.testing.assert_allclose(model.predict(test_input, verbose=0),
                               reconstructed_model.predict(test_input, verbose=0), rtol=1e-6, atol=1e-7)


@keras.saving.register_keras_serializable(package="my_package", name="custom_fn")
def custom_fn(x):
    return x**2


@keras.saving.register_keras_serializable(package="MyLayers")
class CustomLayer(keras.layers.Layer):
    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor})
        return config


@keras.saving.register_keras_serializable(package="my_package", name="MyDense")
class MyDense(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal",
                                 trainable=True, name="kernel")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True, name="bias")

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        base_config = super().get_config()
        return {**base_config, "units": self.units}


def test_custom_objects_registered_round_trip(tmp_path):
    assert keras.saving.get_registered_name(CustomLayer) == "MyLayers>CustomLayer"
    assert "my_package>custom_fn" in keras.saving.get_custom_objects()
    inputs = keras.Input(shape=(4,))
    x = MyDense(8)(inputs)
    x = CustomLayer(0.5)(x)
    outputs = keras.layers.Dense(1, activation=custom_fn)(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="mean_squared_error")
    x_data = np.random.default_rng(0).random((16, 4)).astype("float32")
    expected = model.predict(x_data, verbose=0)
    assert np.all(expected >= 0)                       # custom_fn squares
    model.save(str(tmp_path / "custom_model.keras"))
    reconstructed_model = keras.models.load_model(str(tmp_path / "custom_model.keras"))
    np.testing.assert_allclose(reconstructed_model.predict(x_data, verbose=0), expected, rtol=1e-6)


class UnregisteredLayer(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def unregistered_fn(x):
    return x * 3.0


def test_custom_objects_argument_and_scope(tmp_path):
    inputs = keras.Input(shape=(3,))
    x = UnregisteredLayer(2.0)(inputs)
    outputs = keras.layers.Activation(unregistered_fn)(x)
    model = keras.Model(inputs, outputs)
    model.save(str(tmp_path / "unregistered.keras"))
    x_data = np.ones((2, 3), "float32")
    custom_objects = {"UnregisteredLayer": UnregisteredLayer, "unregistered_fn": unregistered_fn}
    m1 = keras.models.load_model(str(tmp_path / "unregistered.keras"), custom_objects=custom_objects)
    np.testing.assert_allclose(m1.predict(x_data, verbose=0), 6.0)
    with keras.saving.custom_object_scope(custom_objects):
        m2 = keras.models.load_model(str(tmp_path / "unregistered.keras"))
    np.testing.assert_allclose(m2.predict(x_data, verbose=0), 6.0)
    with pytest.raises((TypeError, ValueError), match="UnregisteredLayer"):
        keras.models.load_model(str(tmp_path / "unregistered.keras"))


def test_config_json_and_clone():
    layer = keras.layers.Dense(3, activation="relu")
    layer_config = layer.get_config()
    new_layer = keras.layers.Dense.from_config(layer_config)
    assert new_layer.get_config()["units"] == 3

    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(1)])
    config = model.get_config()
    new_model = keras.Sequential.from_config(config)
    assert len(new_model.weights) == 2

    inputs = keras.Input((32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = keras.Model(inputs, outputs)
    config = model.get_config()
    new_model = keras.Model.from_config(config)
    assert new_model.output_shape == (None, 1)

    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(1)])
    json_config = model.to_json()
    assert json.loads(json_config)["class_name"] == "Sequential"
    new_model = keras.models.model_from_json(json_config)
    assert len(new_model.layers) == 1

    new_model = keras.models.clone_model(model)
    assert new_model is not model and len(new_model.weights) == 2
    assert not np.array_equal(new_model.get_weights()[0], model.get_weights()[0])   # fresh weights

    serialized = keras.layers.serialize(keras.layers.Dense(4, name="d4"))
    assert keras.layers.deserialize(serialized).units == 4
    obj = keras.saving.serialize_keras_object(keras.layers.Dense(5))
    assert keras.saving.deserialize_keras_object(obj).units == 5


def create_layer():
    layer = keras.layers.Dense(64, activation="relu", name="dense_2")
    layer.build((None, 784))
    return layer


def test_weights_transfer_in_memory(tmp_path):
    layer_1 = create_layer()
    layer_2 = create_layer()
    layer_2.set_weights(layer_1.get_weights())
    for a, b in zip(layer_1.get_weights(), layer_2.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_weights_h5_files(tmp_path):
    h5py = pytest.importorskip("h5py")

    def create_simple_model():
        inputs = keras.Input(shape=(784,), name="digits")
        x = keras.layers.Dense(64, activation="relu", name="dense_1")(inputs)
        x = keras.layers.Dense(64, activation="relu", name="dense_2")(x)
        outputs = keras.layers.Dense(10, name="predictions")(x)
        return keras.Model(inputs=inputs, outputs=outputs, name="3_layer_mlp")

    functional_model = create_simple_model()
    functional_model.save_weights(str(tmp_path / "my_model.weights.h5"))
    new_model = create_simple_model()
    new_model.load_weights(str(tmp_path / "my_model.weights.h5"))
    for a, b in zip(functional_model.get_weights(), new_model.get_weights()):
        np.testing.assert_array_equal(a, b)

    # the file is Keras 3's layout: layers/<class name, numbered in layer order>/vars/<i>
    with h5py.File(str(tmp_path / "my_model.weights.h5"), "r") as f:
        assert sorted(f["layers"]) == ["dense", "dense_1", "dense_2", "input_layer"]
        got = np.asarray(f["layers/dense_1/vars/0"])      # the second Dense layer's kernel
        bias = np.asarray(f["layers/dense_2/vars/1"])
    np.testing.assert_array_equal(got, functional_model.get_layer("dense_2").get_weights()[0])
    np.testing.assert_array_equal(bias, functional_model.get_layer("predictions").get_weights()[1])
