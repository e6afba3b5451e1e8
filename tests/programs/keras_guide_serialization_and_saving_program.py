"""Keras guide "Save, serialize, and export models" (keras.io/guides/serialization_and_saving) as
one program, imports changed only (`import keras` -> `import corenn as keras`): model.save /
load_model of a .keras file with a registered custom model, custom_objects and
custom_object_scope, get_config / from_config of layers, Sequential and functional models,
to_json / model_from_json, clone_model, get_weights / set_weights transfer between a functional
model and a subclassed one, save_weights / load_weights with .weights.h5 files, and
load_weights(skip_mismatch=...) free transfer by popping a layer."""
import numpy as np
import corenn as keras
from corenn import ops


# -- How to save and load a model --------------------------------------------------------------
def get_model():
    # Create a simple model.
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(), loss="mean_squared_error")
    return model


model = get_model()

# Train the model.
test_input = np.random.random((128, 32))
test_target = np.random.random((128, 1))
model.fit(test_input, test_target)

# Calling `save('my_model.keras')` creates a zip archive `my_model.keras`.
model.save("my_model.keras")

# It can be used to reconstruct the model identically.
reconstructed_model = keras.models.load_model("my_model.keras")

# Let's check:
np.testing.assert_allclose(model.predict(test_input), reconstructed_model.predict(test_input))
# the optimizer state came back too: one more step gives the same weights
model.fit(test_input, test_target, batch_size=128, epochs=1, shuffle=False, verbose=0)
reconstructed_model.fit(test_input, test_target, batch_size=128, epochs=1, shuffle=False, verbose=0)
for a, b in zip(model.get_weights(), reconstructed_model.get_weights()):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


# -- Custom objects ----------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="my_package", name="custom_fn")
def custom_fn(x):
    return x**2


@keras.saving.register_keras_serializable(package="my_package")
class CustomLayer(keras.layers.Layer):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {"factor": self.factor}


@keras.saving.register_keras_serializable(package="my_package")
class CustomModel(keras.Model):
    def __init__(self, hidden_units, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = hidden_units
        self.dense_layers = [keras.layers.Dense(u) for u in hidden_units]

    def call(self, inputs):
        x = inputs
        for layer in self.dense_layers:
            x = layer(x)
        return x

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_units": self.hidden_units})
        return config


assert keras.saving.get_registered_name(CustomLayer) == "my_package>CustomLayer"
assert keras.saving.get_registered_name(custom_fn) == "my_package>custom_fn"
assert keras.saving.get_registered_object("my_package>CustomModel") is CustomModel

# Create the model.
def get_model():
    inputs = keras.Input(shape=(4,))
    mid = CustomLayer(0.5)(inputs)
    outputs = keras.layers.Dense(3, activation=custom_fn)(mid)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="mean_squared_error")
    return model


model = get_model()
x = np.random.random((8, 4)).astype("float32")
# the custom activation and layer act as written
h = x * 0.5
kernel, bias = model.layers[-1].get_weights()
np.testing.assert_allclose(model.predict(x), (h @ kernel + bias) ** 2, rtol=1e-5, atol=1e-6)
model.save("custom_model.keras")

# Now, we can simply load without worrying about our custom objects.
reconstructed_model = keras.models.load_model("custom_model.keras")

# Let's check:
np.testing.assert_allclose(model.predict(x), reconstructed_model.predict(x), rtol=1e-6)
assert isinstance(reconstructed_model.layers[1], CustomLayer)
assert reconstructed_model.layers[1].factor == 0.5

sub = CustomModel([16, 16, 10])
sub(np.zeros((1, 5), "float32"))
sub.save("sub.keras")
loaded_sub = keras.models.load_model("sub.keras")
assert isinstance(loaded_sub, CustomModel) and loaded_sub.hidden_units == [16, 16, 10]
probe = np.random.random((2, 5)).astype("float32")
np.testing.assert_allclose(ops.convert_to_numpy(loaded_sub(probe)), ops.convert_to_numpy(sub(probe)),
                           rtol=1e-5, atol=1e-6)


# Passing custom objects to load_model() / custom_object_scope, without registration
class Unregistered(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor})
        return config


def square(x):
    return x * x


inputs = keras.Input(shape=(4,))
outputs = keras.layers.Dense(2, activation=square)(Unregistered(3.0)(inputs))
plain = keras.Model(inputs, outputs)
plain.save("plain.keras")
loaded = keras.models.load_model("plain.keras",
                                 custom_objects={"Unregistered": Unregistered, "square": square})
np.testing.assert_allclose(loaded.predict(x), plain.predict(x), rtol=1e-6)
with keras.saving.custom_object_scope({"Unregistered": Unregistered, "square": square}):
    loaded = keras.models.load_model("plain.keras")
np.testing.assert_allclose(loaded.predict(x), plain.predict(x), rtol=1e-6)

# -- Saving the architecture: configuration of a layer and a model ---------------------------
layer = keras.layers.Dense(3, activation="relu")
layer_config = layer.get_config()
new_layer = keras.layers.Dense.from_config(layer_config)
assert new_layer.units == 3 and new_layer.get_config() == layer_config

model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(1)])
config = model.get_config()
new_model = keras.Sequential.from_config(config)
assert len(new_model.layers) == 1 and tuple(new_model.output_shape) == (None, 1)

inputs = keras.Input((32,))
outputs = keras.layers.Dense(1)(inputs)
model = keras.Model(inputs, outputs)
config = model.get_config()
new_model = keras.Model.from_config(config)
assert tuple(new_model.output_shape) == (None, 1)

# to_json() and keras.models.model_from_json()
model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(1)])
json_config = model.to_json()
new_model = keras.models.model_from_json(json_config)
assert isinstance(json_config, str) and len(new_model.layers) == 1

# Arbitrary object serialization and deserialization
my_reg = keras.regularizers.L1(0.005)
config = keras.saving.serialize_keras_object(my_reg)
print(config)
new_reg = keras.saving.deserialize_keras_object(config)
assert isinstance(new_reg, keras.regularizers.L1)
np.testing.assert_allclose(new_reg.get_config()["l1"], 0.005, rtol=1e-6)

# Model cloning: new weights, same architecture
new_model = keras.models.clone_model(model)
assert new_model is not model and len(new_model.weights) == len(model.weights)
assert all(a is not b for a, b in zip(new_model.weights, model.weights))


# -- Saving & loading only the model's weights values ----------------------------------------
def create_layer():
    layer = keras.layers.Dense(64, activation="relu", name="dense_2")
    layer.build((None, 784))
    return layer


layer_1 = create_layer()
layer_2 = create_layer()

# Copy weights from layer 1 to layer 2
layer_2.set_weights(layer_1.get_weights())
for a, b in zip(layer_1.get_weights(), layer_2.get_weights()):
    np.testing.assert_array_equal(a, b)

# Create a simple functional model
inputs = keras.Input(shape=(784,), name="digits")
x = keras.layers.Dense(64, activation="relu", name="dense_1")(inputs)
x = keras.layers.Dense(64, activation="relu", name="dense_2")(x)
outputs = keras.layers.Dense(10, name="predictions")(x)
functional_model = keras.Model(inputs=inputs, outputs=outputs, name="3_layer_mlp")


# Define a subclassed model with the same architecture
class SubclassedModel(keras.Model):
    def __init__(self, output_dim, name=None):
        super().__init__(name=name)
        self.output_dim = output_dim
        self.dense_1 = keras.layers.Dense(64, activation="relu", name="dense_1")
        self.dense_2 = keras.layers.Dense(64, activation="relu", name="dense_2")
        self.dense_3 = keras.layers.Dense(output_dim, name="predictions")

    def call(self, inputs):
        x = self.dense_1(inputs)
        x = self.dense_2(x)
        x = self.dense_3(x)
        return x

    def get_config(self):
        return {"output_dim": self.output_dim, "name": self.name}


subclassed_model = SubclassedModel(10)
# Call the subclassed model once to create the weights.
subclassed_model(np.ones((1, 784)))

# Copy weights from functional_model to subclassed_model.
subclassed_model.set_weights(functional_model.get_weights())

assert len(functional_model.weights) == len(subclassed_model.weights)
for a, b in zip(functional_model.weights, subclassed_model.weights):
    np.testing.assert_allclose(a.numpy(), b.numpy())
probe = np.random.random((3, 784)).astype("float32")
np.testing.assert_allclose(ops.convert_to_numpy(subclassed_model(probe)),
                           ops.convert_to_numpy(functional_model(probe)), rtol=1e-5, atol=1e-6)

# Stateless layers do not change the order or number of weights
inputs = keras.Input(shape=(784,), name="digits")
x = keras.layers.Dense(64, activation="relu", name="dense_1")(inputs)
x = keras.layers.Dense(64, activation="relu", name="dense_2")(x)
# Add a dropout layer, which does not contain any weights.
x = keras.layers.Dropout(0.5)(x)
outputs = keras.layers.Dense(10, name="predictions")(x)
functional_model_with_dropout = keras.Model(inputs=inputs, outputs=outputs, name="3_layer_mlp")
functional_model_with_dropout.set_weights(functional_model.get_weights())
np.testing.assert_allclose(ops.convert_to_numpy(functional_model_with_dropout(probe)),
                           ops.convert_to_numpy(functional_model(probe)), rtol=1e-5, atol=1e-6)

# APIs for saving weights to disk & loading them back
sequential_model = keras.Sequential(
    [
        keras.Input(shape=(784,), name="digits"),
        keras.layers.Dense(64, activation="relu", name="dense_1"),
        keras.layers.Dense(64, activation="relu", name="dense_2"),
        keras.layers.Dense(10, name="predictions"),
    ]
)
sequential_model.save_weights("my_model.weights.h5")
restored = keras.Sequential(
    [
        keras.Input(shape=(784,), name="digits"),
        keras.layers.Dense(64, activation="relu", name="dense_1"),
        keras.layers.Dense(64, activation="relu", name="dense_2"),
        keras.layers.Dense(10, name="predictions"),
    ]
)
restored.load_weights("my_model.weights.h5")
for a, b in zip(sequential_model.get_weights(), restored.get_weights()):
    np.testing.assert_array_equal(a, b)


# Transfer learning example: pop the head and keep the body's weights
def create_functional_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x = keras.layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = keras.layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = keras.layers.Dense(10, name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs, name="3_layer_mlp")


functional_model = create_functional_model()
functional_model.save_weights("pretrained.weights.h5")

# In a separate program:
pretrained_model = create_functional_model()
pretrained_model.load_weights("pretrained.weights.h5")

# Create a new model by extracting layers from the original model:
extracted_layers = pretrained_model.layers[:-1]
extracted_layers.append(keras.layers.Dense(5, name="dense_3"))
model = keras.Sequential(extracted_layers)
model.summary()
assert tuple(model.output_shape) == (None, 5)
np.testing.assert_array_equal(model.layers[0].get_weights()[0], functional_model.layers[1].get_weights()[0])
print("serialization and saving guide: OK")
