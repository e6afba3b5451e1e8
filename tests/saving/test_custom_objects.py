"""Subclassed models and custom layers in model files: they load only when the user names their
classes (custom_objects or register_keras_serializable); the file never chooses code to run."""
import numpy as np
import pytest

from corenn import keras, layers, ops, saving


class Scale(layers.Layer):
    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units))

    def call(self, x):
        return ops.matmul(x, self.w) * 2.0

    def get_config(self):
        return dict(super().get_config(), units=self.units)


class Net(keras.Model):
    def __init__(self, hidden=6, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden
        self.scale = Scale(hidden)
        self.head = layers.Dense(2)

    def call(self, x):
        return self.head(ops.relu(self.scale(x)))

    def get_config(self):
        return {"hidden": self.hidden, "name": self.name}


@pytest.fixture
def data(rng):
    return rng.random((12, 4)).astype(np.float32), rng.random((12, 2)).astype(np.float32)


def test_subclassed_model_round_trip_with_custom_objects(tmp_path, data):
    x, y = data
    model = Net(5)
    model.compile("adam", "mse")
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "net.keras"
    model.save(path)
    with pytest.raises(ValueError, match="custom_objects"):
        keras.models.load_model(path)          # the file alone cannot name code
    loaded = keras.models.load_model(path, custom_objects={"Net": Net, "Scale": Scale})
    assert isinstance(loaded, Net) and loaded.hidden == 5
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.optimizer.iterations == model.optimizer.iterations  # optimizer state restored
    before = loaded.get_weights()
    loaded.fit(x, y, epochs=1, verbose=0)
    assert any(np.abs(a - b).max() > 0 for a, b in zip(before, loaded.get_weights()))


def test_unbuilt_subclassed_model_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="not been called"):
        Net().save(tmp_path / "x.keras")


def test_functional_model_with_a_registered_custom_layer(tmp_path, data):
    x, _ = data
    registered = saving.register_keras_serializable(package="tests")(type("RegScale", (Scale,), {}))
    inp = keras.Input((4,))
    model = keras.Model(inp, layers.Dense(2)(registered(3)(inp)))
    model.save(tmp_path / "f.keras")
    loaded = keras.models.load_model(tmp_path / "f.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    cfg = model.get_config()
    again = keras.Model.from_config(cfg)
    assert [type(l).__name__ for l in again.layers] == [type(l).__name__ for l in model.layers]
