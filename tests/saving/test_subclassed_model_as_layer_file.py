"""A functional model holding a subclassed Model as a layer (keras.io's FeaturePreprocessor):
Keras 3.15 cannot reload it without the class registered ("Could not locate class"), and with it
registered rebuilds the class from its config and calls it, which fails when its call needs state
its config does not restore. corenn refuses both with an error naming the class and what to do;
the functional parts save and load as usual (tests/programs/example_feature_preprocessor_model.py)."""
import numpy as np
import pytest

import corenn
from corenn import keras


def _model(cls):
    inner = cls()
    inp = keras.Input((3,))
    out = keras.layers.Dense(1)(inner(inp))
    return keras.Model(inp, out)


class _Unregistered(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d = keras.layers.Dense(4)

    def call(self, x):
        return self.d(x)


@keras.saving.register_keras_serializable(package="h28test")
class _Registered(_Unregistered):
    pass


def test_unregistered_class_names_the_registration(tmp_path):
    model = _model(_Unregistered)
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match=r"Could not locate class '_Unregistered'.*register_keras_serializable"
                                         r".*custom_objects"):
        corenn.models.load_model(tmp_path / "m.keras")


def test_registered_subclassed_model_as_layer_is_refused_clearly(tmp_path):
    model = _model(_Registered)
    x = np.ones((2, 3), np.float32)
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match=r"subclassed model '_Registered' called as a layer of a functional "
                                         r"model.*get_config / from_config"):
        corenn.models.load_model(tmp_path / "m.keras")
    # what Keras 3 allows: the weights, into a model built the same way
    model.save_weights(tmp_path / "m.weights.h5")
    again = _model(_Registered)
    again.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(model(x)))
