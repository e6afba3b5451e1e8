"""keras-io examples/keras_recipes/packaging_keras_models_for_wide_distribution ("functional
subclassing": a keras.Model subclass whose __init__ builds a functional graph and calls
super().__init__(inputs, outputs), with get_config / from_config so that it saves and reloads as
its own class), imports changed only (`import keras` -> corenn). MNIST is replaced by synthetic
28x28 images of 10 classes."""
import numpy as np
from corenn import keras

keras.utils.set_random_seed(21)
rng = np.random.default_rng(21)


def make(n):
    y = rng.integers(0, 10, n)
    x = rng.random((n, 28, 28)).astype("float32") * 0.3
    for i, c in enumerate(y):
        x[i, :, 2 * c + 4] += 0.7
    return x, y


(x_train, y_train), (x_test, y_test) = make(800), make(200)


@keras.saving.register_keras_serializable(package="MyModels")
class MyModel(keras.Model):
    def __init__(self, num_classes=10, hidden=32, **kwargs):
        # Build the graph with the functional API inside the subclass
        inputs = keras.Input(shape=(28, 28), name="image")
        x = keras.layers.Flatten()(inputs)
        x = keras.layers.Dense(hidden, activation="relu", name="hidden")(x)
        outputs = keras.layers.Dense(num_classes, activation="softmax", name="classes")(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        # store the constructor arguments: get_config returns them
        self.num_classes = num_classes
        self.hidden = hidden

    def get_config(self):
        return {"num_classes": self.num_classes, "hidden": self.hidden, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


model = MyModel(num_classes=10, hidden=32, name="packaged")
model.summary()
names = [layer.name for layer in model.layers]
assert names[0] == "image" and names[2:] == ["hidden", "classes"], names
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=3, batch_size=32, verbose=0)
loss, acc = model.evaluate(x_test, y_test, verbose=0)
print(f"test accuracy {acc:.3f}")
assert acc > 0.9, acc

# it is still a functional model: get_layer / layer outputs build feature extractors
features = keras.Model(model.inputs, model.get_layer("hidden").output)
assert features.predict(x_test[:4], verbose=0).shape == (4, 32)

# saved and reloaded as MyModel (its registered name), with the same predictions
assert keras.saving.get_registered_name(MyModel) == "MyModels>MyModel"
model.save("packaged.keras")
reloaded = keras.models.load_model("packaged.keras")
assert type(reloaded) is MyModel and reloaded.hidden == 32 and reloaded.name == "packaged"
np.testing.assert_allclose(reloaded.predict(x_test, verbose=0), model.predict(x_test, verbose=0), rtol=1e-6, atol=1e-7)

# from_config makes a fresh model of the same architecture (new weights)
clone = MyModel.from_config(model.get_config())
assert clone.count_params() == model.count_params()
assert not np.allclose(clone.get_layer("hidden").get_weights()[0], model.get_layer("hidden").get_weights()[0])
