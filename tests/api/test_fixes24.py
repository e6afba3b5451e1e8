"""Keras 3 fidelity gaps fixed in h24, each checked against Keras 3 (torch backend)."""
import numpy as np

import corenn as keras


def test_same_short_name_registered_in_two_packages_stays_apart(tmp_path):
    # Keras 3 finds a registered class by its registered name ('A>Twin'), so a second class of
    # the same short name registered under another package does not replace the first in files
    @keras.saving.register_keras_serializable(package="H24A")
    class Twin(keras.layers.Layer):
        def __init__(self, factor, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return dict(super().get_config(), factor=self.factor)

    first = Twin

    @keras.saving.register_keras_serializable(package="H24B")
    class Twin(keras.layers.Layer):   # noqa: F811 (the name taken again, as in the guide)
        def call(self, x):   # takes no 'factor': building it from the first's config fails
            return x

    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, first(0.5)(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.layers[1]) is first
    x = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(np.asarray(loaded(x)), x * 0.5)
    spec = keras.layers.serialize(first(2.0))
    assert spec["registered_name"] == "H24A>Twin"
    assert type(keras.layers.deserialize(spec)) is first
    # the later registration of a registered name wins, as in Keras
    assert keras.saving.get_registered_object("H24B>Twin") is Twin
