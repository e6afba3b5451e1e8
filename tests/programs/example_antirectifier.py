"""keras-io examples/keras_recipes/antirectifier ("Simple custom layer example: Antirectifier"),
imports changed: a Layer subclass with build / add_weight from an initializer object, a call
made of keras.ops (mean, relu, concatenate, matmul, an in-place `inputs -=`), get_config with
initializers.serialize, trained in a Sequential with RMSprop and from_logits loss.
MNIST replaced by synthetic 64-pixel "digits"; checks: the layer against NumPy, the config
round trip, and accuracy well above chance."""
import numpy as np

import corenn as keras
from corenn import layers
from corenn import ops


class Antirectifier(layers.Layer):
    def __init__(self, initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        output_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(output_dim * 2, output_dim),
            initializer=self.initializer,
            name="kernel",
            trainable=True,
        )

    def call(self, inputs):
        inputs -= ops.mean(inputs, axis=-1, keepdims=True)
        pos = ops.relu(inputs)
        neg = ops.relu(-inputs)
        concatenated = ops.concatenate([pos, neg], axis=-1)
        mixed = ops.matmul(concatenated, self.kernel)
        return mixed

    def get_config(self):
        # Implement get_config to enable serialization. This is optional.
        base_config = super().get_config()
        config = {"initializer": keras.initializers.serialize(self.initializer)}
        return dict(list(base_config.items()) + list(config.items()))


keras.utils.set_random_seed(3)

# the layer on its own, against NumPy
layer = Antirectifier()
x = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
y = ops.convert_to_numpy(layer(x))
k = ops.convert_to_numpy(layer.kernel)
xc = x - x.mean(-1, keepdims=True)
ref = np.concatenate([np.maximum(xc, 0), np.maximum(-xc, 0)], -1) @ k
np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
assert k.shape == (12, 6)
clone = Antirectifier.from_config(layer.get_config())
assert isinstance(clone.initializer, keras.initializers.HeNormal)

# Training parameters
batch_size = 64
num_classes = 10
epochs = 8

# The data, split between train and test sets
rng = np.random.default_rng(1)
templates = rng.uniform(0, 255, size=(num_classes, 64))
y_train, y_test = rng.integers(0, num_classes, 1200), rng.integers(0, num_classes, 300)
x_train = np.clip(templates[y_train] + rng.normal(0, 50, (1200, 64)), 0, 255)
x_test = np.clip(templates[y_test] + rng.normal(0, 50, (300, 64)), 0, 255)

x_train = x_train.reshape(-1, 64)
x_test = x_test.reshape(-1, 64)
x_train = x_train.astype("float32")
x_test = x_test.astype("float32")
x_train /= 255
x_test /= 255
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

# Build the model
model = keras.Sequential(
    [
        keras.Input(shape=(64,)),
        layers.Dense(128),
        Antirectifier(),
        layers.Dense(128),
        Antirectifier(),
        layers.Dropout(0.5),
        layers.Dense(10),
    ]
)

# Compile the model
model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=keras.optimizers.RMSprop(),
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
)

# Train the model
history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.15, verbose=0)

# Test the model
score = model.evaluate(x_test, y_test, verbose=0)
print("test loss, test acc:", score)
assert history.history["loss"][-1] < history.history["loss"][0]
assert score[1] > 0.8, score
assert "val_sparse_categorical_accuracy" in history.history
