"""Keras "Introduction to Keras for engineers" (keras.io/getting_started/intro_to_keras_for_engineers)
as one program, imports changed only (`import keras` -> `import corenn as keras`): the MNIST
convnet built with Sequential, compiled with loss / optimizer / metric objects, trained with
ModelCheckpoint and EarlyStopping callbacks and a validation split, evaluated, saved and
reloaded, and fed from a PyDataset; custom components written with keras.ops and a
subclassed Model. MNIST is a small synthetic, learnable stand-in (the guide downloads it)."""
import math
import os

import numpy as np
import corenn as keras
from corenn import layers
from corenn import ops

keras.utils.set_random_seed(11)

# Load the data and split it between train and test sets: bright top-left quadrant -> class
rng = np.random.default_rng(11)


def make_digits(n):
    x = rng.random((n, 28, 28)).astype("float32") * 64
    y = rng.integers(0, 10, n)
    for i, label in enumerate(y):   # each class lights up its own 7x7 patch
        r, c = divmod(int(label), 4)
        x[i, r * 7:(r + 1) * 7, c * 7:(c + 1) * 7] += 191
    return x.astype("uint8"), y.astype("uint8")


(x_train, y_train), (x_test, y_test) = make_digits(512), make_digits(128)

# Scale images to the [0, 1] range
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
# Make sure images have shape (28, 28, 1)
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print("x_train shape:", x_train.shape)
print("y_train shape:", y_train.shape)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

# Model parameters
num_classes = 10
input_shape = (28, 28, 1)

model = keras.Sequential(
    [
        keras.layers.Input(shape=input_shape),
        keras.layers.Conv2D(16, kernel_size=(3, 3), activation="relu"),
        keras.layers.Conv2D(16, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(num_classes, activation="softmax"),
    ]
)
model.summary()

model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(),
    optimizer=keras.optimizers.Adam(learning_rate=3e-3),
    metrics=[
        keras.metrics.SparseCategoricalAccuracy(name="acc"),
    ],
)

batch_size = 64
epochs = 6

callbacks = [
    keras.callbacks.ModelCheckpoint(filepath="model_at_epoch_{epoch}.keras"),
    keras.callbacks.EarlyStopping(monitor="val_loss", patience=2),
]

history = model.fit(
    x_train,
    y_train,
    batch_size=batch_size,
    epochs=epochs,
    validation_split=0.15,
    callbacks=callbacks,
)
score = model.evaluate(x_test, y_test, verbose=0)
print(score)
n_epochs = len(history.history["loss"])
assert sorted(history.history) == ["acc", "loss", "val_acc", "val_loss"]
assert all(os.path.exists(f"model_at_epoch_{e}.keras") for e in range(1, n_epochs + 1))
assert not os.path.exists(f"model_at_epoch_{n_epochs + 1}.keras")
assert history.history["loss"][-1] < history.history["loss"][0]

model.save("final_model.keras")
model = keras.saving.load_model("final_model.keras")
predictions = model.predict(x_test)
assert predictions.shape == (128, 10)
np.testing.assert_allclose(predictions.sum(-1), 1.0, rtol=1e-5)
np.testing.assert_allclose(model.evaluate(x_test, y_test, verbose=0), score, rtol=1e-5)
# the last epoch's checkpoint is the same model as the final one
last = keras.saving.load_model(f"model_at_epoch_{n_epochs}.keras")
np.testing.assert_allclose(last.predict(x_test[:8]), predictions[:8], rtol=1e-5, atol=1e-6)
cnn = model


# -- Writing cross-framework custom components --------------------------------------------------
class MyDense(keras.layers.Layer):
    def __init__(self, units, activation=None, name=None):
        super().__init__(name=name)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.w = self.add_weight(
            shape=(input_dim, self.units),
            initializer=keras.initializers.GlorotNormal(),
            name="kernel",
            trainable=True,
        )

        self.b = self.add_weight(
            shape=(self.units,),
            initializer=keras.initializers.Zeros(),
            name="bias",
            trainable=True,
        )

    def call(self, inputs):
        # Use Keras ops to create backend-agnostic layers/metrics/etc.
        x = keras.ops.matmul(inputs, self.w) + self.b
        return self.activation(x)


class MyDropout(keras.layers.Layer):
    def __init__(self, rate, name=None):
        super().__init__(name=name)
        self.rate = rate
        # Use seed_generator for managing RNG state.
        # It is a state element and its seed variable is
        # tracked as part of `layer.variables`.
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        # Use `keras.random` for random ops.
        return keras.random.dropout(inputs, self.rate, seed=self.seed_generator)


class MyModel(keras.Model):
    def __init__(self, num_classes):
        super().__init__()
        self.conv_base = keras.Sequential(
            [
                keras.layers.Conv2D(16, kernel_size=(3, 3), activation="relu"),
                keras.layers.Conv2D(16, kernel_size=(3, 3), activation="relu"),
                keras.layers.MaxPooling2D(pool_size=(2, 2)),
                keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
                keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
                keras.layers.GlobalAveragePooling2D(),
            ]
        )
        self.dp = MyDropout(0.5)
        self.dense = MyDense(num_classes, activation="softmax")

    def call(self, x):
        x = self.conv_base(x)
        x = self.dp(x)
        return self.dense(x)


model = MyModel(num_classes=10)
model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(),
    optimizer=keras.optimizers.Adam(learning_rate=3e-3),
    metrics=[
        keras.metrics.SparseCategoricalAccuracy(name="acc"),
    ],
)

history = model.fit(
    x_train,
    y_train,
    batch_size=batch_size,
    epochs=2,  # For speed
    validation_split=0.15,
)
assert sorted(history.history) == ["acc", "loss", "val_acc", "val_loss"]
assert len(model.trainable_weights) == 10   # 4 convolutions + MyDense, kernel and bias each
# the guide's MyDropout ignores `training`: it drops in predict too, so two calls differ
a = model.predict(x_test[:4])
b = model.predict(x_test[:4])
assert not np.array_equal(a, b)
np.testing.assert_allclose(a.sum(-1), 1.0, rtol=1e-5)


# -- Training models on arbitrary data sources: a PyDataset -------------------------------------
class ExamplePyDataset(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y = x, y
        self.batch_size = batch_size

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, idx):
        low = idx * self.batch_size
        # Cap upper bound at array length; the last batch may be smaller
        # if the total number of items is not a multiple of batch size.
        high = min(low + self.batch_size, len(self.x))
        batch_x = self.x[low:high]
        batch_y = self.y[low:high]
        return batch_x, batch_y


train_dataset = ExamplePyDataset(x_train, y_train, batch_size=32)
test_dataset = ExamplePyDataset(x_test, y_test, batch_size=32)
assert len(train_dataset) == 16
model.fit(train_dataset, epochs=1, validation_data=test_dataset)
# (MyModel's dropout also drops at inference: compare on the deterministic convnet)
r_ds = cnn.evaluate(test_dataset, return_dict=True, verbose=0)
r_np = cnn.evaluate(x_test, y_test, batch_size=32, return_dict=True, verbose=0)
np.testing.assert_allclose(r_ds["loss"], r_np["loss"], rtol=1e-5)
np.testing.assert_allclose(r_ds["acc"], r_np["acc"], rtol=1e-6)
print("intro to Keras for engineers: OK")
