"""keras-io examples/vision/mnist_convnet (simple MNIST convnet), imports changed
(`import keras` -> `import corenn as keras`); MNIST replaced by synthetic 28x28 digits."""
import numpy as np
import corenn as keras
from corenn import layers

keras.utils.set_random_seed(1)

# Model / data parameters
num_classes = 10
input_shape = (28, 28, 1)

# Load the data and split it between train and test sets
rng = np.random.default_rng(7)
templates = np.zeros((10, 28, 28))
for k in range(10):   # "digit" k: a bright stroke in its own place
    templates[k, 2 + 2 * k: 5 + 2 * k, 4:24] = 255
    templates[k, 4:24, 2 + 2 * k: 5 + 2 * k] = 160
y_train, y_test = rng.integers(0, 10, 800).astype("uint8"), rng.integers(0, 10, 200).astype("uint8")
x_train = np.clip(templates[y_train] + rng.normal(0, 60, (800, 28, 28)), 0, 255).astype("uint8")
x_test = np.clip(templates[y_test] + rng.normal(0, 60, (200, 28, 28)), 0, 255).astype("uint8")

# Scale images to the [0, 1] range
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
# Make sure images have shape (28, 28, 1)
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print("x_train shape:", x_train.shape)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")


# convert class vectors to binary class matrices
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)

model.summary()
assert model.count_params() == 34826  # the example's "Total params: 34,826"

batch_size = 128
epochs = 4

model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
assert score[1] > 0.9, score
