"""Keras guide "Customizing Saving and Serialization" (keras.io/guides/customizing_saving_and_serialization),
imports changed only (`import keras` -> `import corenn as keras`): state saving with
save_own_variables / load_own_variables, assets with save_assets / load_assets, build
customization with get_build_config / build_from_config, and config serialization with
register_keras_serializable(package=...), serialize_keras_object and nested layer configs."""
import os

import numpy as np
import corenn as keras

keras.utils.set_random_seed(19)


# -- state saving customization -----------------------------------------------------------------

@keras.saving.register_keras_serializable(package="my_custom_package")
class LayerWithCustomVariable(keras.layers.Dense):
    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        self.my_variable = keras.Variable(np.random.random((units,)), name="my_variable", dtype="float32")

    def save_own_variables(self, store):
        super().save_own_variables(store)
        # Stores the value of the variable upon saving
        store["variables"] = self.my_variable.numpy()

    def load_own_variables(self, store):
        # Assigns the value of the variable upon loading
        self.my_variable.assign(store["variables"])
        # Load the remaining weights
        for i, v in enumerate(self.weights):
            v.assign(store[f"{i}"])
        # Note: You must specify how all variables (including layer weights)
        # are loaded in `load_own_variables.`

    def call(self, inputs):
        dense_out = super().call(inputs)
        return dense_out + self.my_variable


model = keras.Sequential([LayerWithCustomVariable(1)])
ref_input = np.random.random((8, 10))
ref_output = np.random.random((8, 10))   # broadcast against the (8, 1) output by the loss, as in Keras
model.compile(optimizer="adam", loss="mean_squared_error")
model.fit(ref_input, ref_output, verbose=0)
model.save("custom_vars_model.keras")
restored_model = keras.models.load_model("custom_vars_model.keras")
np.testing.assert_allclose(model.layers[0].my_variable.numpy(), restored_model.layers[0].my_variable.numpy())
np.testing.assert_allclose(model.predict(ref_input, verbose=0), restored_model.predict(ref_input, verbose=0),
                           rtol=1e-6)


# -- asset saving customization -----------------------------------------------------------------

@keras.saving.register_keras_serializable(package="my_custom_package")
class LayerWithCustomAssets(keras.layers.Dense):
    def __init__(self, vocab=None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.vocab = vocab

    def save_assets(self, inner_path):
        # Writes the vocab (sentence) to text file at save time.
        with open(os.path.join(inner_path, "vocabulary.txt"), "w") as f:
            f.write(self.vocab)

    def load_assets(self, inner_path):
        # Reads the vocab (sentence) from text file at load time.
        with open(os.path.join(inner_path, "vocabulary.txt"), "r") as f:
            text = f.read()
        self.vocab = text.replace("<unk>", "little")


model = keras.Sequential([LayerWithCustomAssets(vocab="Mary had a <unk> lamb.", units=5)])
x = np.random.random((10, 10))
y = model(x)
model.save("custom_assets_model.keras")
restored_model = keras.models.load_model("custom_assets_model.keras")
np.testing.assert_string_equal(restored_model.layers[0].vocab, "Mary had a little lamb.")
np.testing.assert_allclose(np.asarray(restored_model(x)), np.asarray(y), rtol=1e-6)


# -- build and compile_config customization --------------------------------------------------

@keras.saving.register_keras_serializable(package="my_custom_package")
class LayerWithCustomBuild(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def call(self, inputs):
        return keras.ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        return dict(units=self.units, **super().get_config())

    def build(self, input_shape, layer_init):
        # Note the overriding of `build()` to add an extra argument.
        # Therefore, we will need to manually call build with `layer_init` argument
        # before the first execution of `call()`.
        super().build(input_shape)
        self._input_shape = input_shape
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer=layer_init, trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer=layer_init, trainable=True)
        self.layer_init = layer_init

    def get_build_config(self):
        build_config = {
            "layer_init": self.layer_init,
            "input_shape": self._input_shape,
        }  # Stores our initializer for `build()`
        return build_config

    def build_from_config(self, config):
        # Calls `build()` with the parameters from the build config
        self.build(config["input_shape"], config["layer_init"])


custom_layer = LayerWithCustomBuild(units=16)
custom_layer.build(input_shape=(8,), layer_init="random_normal")

model = keras.Sequential([custom_layer, keras.layers.Dense(1, activation="sigmoid")])
x = np.random.random((16, 8))
y = model(x)
model.save("custom_build_model.keras")
restored_model = keras.models.load_model("custom_build_model.keras")
np.testing.assert_equal(restored_model.layers[0].layer_init, "random_normal")
np.testing.assert_equal(restored_model.built, True)
np.testing.assert_allclose(np.asarray(restored_model(x)), np.asarray(y), rtol=1e-6)


# -- serialization: nested objects, registration, get_config / from_config ----------------------

@keras.saving.register_keras_serializable(package="ComplexActivations")
def custom_activation(x):
    return keras.ops.tanh(x) + keras.ops.square(x)


@keras.saving.register_keras_serializable(package="MyLayers")
class CustomLayer(keras.layers.Layer):
    def __init__(self, sublayer, **kwargs):
        super().__init__(**kwargs)
        self.sublayer = sublayer

    def call(self, x):
        return self.sublayer(x)

    def get_config(self):
        base_config = super().get_config()
        config = {"sublayer": keras.saving.serialize_keras_object(self.sublayer)}
        return {**base_config, **config}

    @classmethod
    def from_config(cls, config):
        sublayer_config = config.pop("sublayer")
        sublayer = keras.saving.deserialize_keras_object(sublayer_config)
        return cls(sublayer, **config)


assert keras.saving.get_registered_name(CustomLayer) == "MyLayers>CustomLayer"
assert keras.saving.get_registered_object("MyLayers>CustomLayer") is CustomLayer
assert keras.saving.get_registered_name(custom_activation) == "ComplexActivations>custom_activation"

layer = CustomLayer(keras.layers.Dense(3, activation=custom_activation))
inputs = keras.Input((4,))
model = keras.Model(inputs, layer(inputs))
x = np.random.random((6, 4)).astype("float32")
model.save("nested_sublayer_model.keras")
reloaded = keras.models.load_model("nested_sublayer_model.keras")
np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
# the reloaded sublayer applies the registered activation
activation = reloaded.layers[-1].sublayer.activation
np.testing.assert_allclose(np.asarray(activation(keras.ops.convert_to_tensor(np.array([0.5], "float32")))),
                           [np.tanh(0.5) + 0.25], rtol=1e-6)
print("all customized saving round trips hold")
