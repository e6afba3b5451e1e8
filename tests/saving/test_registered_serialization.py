"""Registered custom regularizers, constraints and activation functions (the sweep 18
serialization program): `regularizers.get` / `constraints.get` resolve a config that names a
class registered with keras.saving.register_keras_serializable (its registered_name, or its
short name), `serialize` writes Keras 3's dict with registered_name, and `activations.get`
reads Keras 3's {"class_name": "function", "config": name} form."""
import numpy as np
import pytest

from corenn import keras
from corenn.keras import layers, ops


@keras.saving.register_keras_serializable(package="s18")
class CappedL1(keras.regularizers.Regularizer):
    def __init__(self, l1=0.01, cap=1.0):
        self.l1, self.cap = l1, cap

    def __call__(self, x):
        return ops.minimum(self.l1 * ops.sum(ops.abs(x)), self.cap)

    def get_config(self):
        return {"l1": self.l1, "cap": self.cap}


@keras.saving.register_keras_serializable(package="s18")
class Halve(keras.constraints.Constraint):
    def __call__(self, w):
        return w * 0.5


@keras.saving.register_keras_serializable(package="s18")
def doubled(x):
    return 2.0 * x


def test_registered_regularizer_round_trips_through_serialize_and_get():
    spec = keras.regularizers.serialize(CappedL1(0.5, 2.0))
    assert spec["class_name"] == "CappedL1" and spec["registered_name"] == "s18>CappedL1"
    assert spec["config"] == {"l1": 0.5, "cap": 2.0}
    back = keras.regularizers.get(spec)
    assert isinstance(back, CappedL1) and (back.l1, back.cap) == (0.5, 2.0)
    # a config without registered_name resolves by the short name too; the string form as well
    assert isinstance(keras.regularizers.get({"class_name": "CappedL1", "config": {}}), CappedL1)
    assert isinstance(keras.regularizers.get("s18>CappedL1"), CappedL1)
    assert keras.regularizers.serialize(keras.regularizers.L2(0.1))["config"] == {"l2": 0.1}


def test_unknown_regularizer_class_says_how_to_register():
    with pytest.raises(ValueError, match="register_keras_serializable"):
        keras.regularizers.get({"class_name": "NoSuchRegularizer", "config": {}})


def test_registered_constraint_and_activation_in_a_layer_config():
    layer = layers.Dense(3, activation=doubled, kernel_regularizer=CappedL1(0.1, 0.5), kernel_constraint=Halve())
    layer.build((None, 2))
    config = layer.get_config()
    assert config["kernel_constraint"]["registered_name"] == "s18>Halve"
    clone = layers.Dense.from_config(config)
    assert isinstance(clone.kernel_regularizer, CappedL1) and clone.kernel_regularizer.cap == 0.5
    assert isinstance(clone.kernel_constraint, Halve)
    x = np.array([[1.0, -2.0]], "float32")
    clone.build((None, 2))
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), np.asarray(layer(x)), rtol=1e-6)


def test_activation_get_reads_keras_function_dicts():
    act = keras.activations.get({"module": "builtins", "class_name": "function", "config": "s18>doubled",
                                 "registered_name": "function"})
    np.testing.assert_allclose(np.asarray(act(np.array([1.0, -3.0], "float32"))), [2.0, -6.0])
    relu = keras.activations.get({"class_name": "function", "config": "relu"})
    np.testing.assert_allclose(np.asarray(relu(np.array([-1.0, 2.0], "float32"))), [0.0, 2.0])
