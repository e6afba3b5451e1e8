"""keras-io examples/vision/autoencoder (convolutional autoencoder for image denoising),
imports changed only (`from keras import layers`, `from keras.models import Model` -> corenn).
MNIST is replaced by synthetic 28x28 stroke images."""
import numpy as np
import corenn as keras
from corenn.keras import layers
from corenn.keras.models import Model

keras.utils.set_random_seed(10)
rng = np.random.default_rng(10)


def preprocess(array):
    """Normalizes the supplied array and reshapes it."""
    array = array.astype("float32") / 255.0
    array = np.reshape(array, (len(array), 28, 28, 1))
    return array


def noise(array):
    """Adds random noise to each image in the supplied array."""
    noise_factor = 0.4
    noisy_array = array + noise_factor * np.random.normal(loc=0.0, scale=1.0, size=array.shape)
    return np.clip(noisy_array, 0.0, 1.0)


def strokes(n):
    out = np.zeros((n, 28, 28), "uint8")
    for img in out:
        r, c = rng.integers(4, 20, 2)
        img[r: r + 3, 4:24] = 255
        img[4:24, c: c + 3] = 255
    return out


np.random.seed(10)
train_data, test_data = preprocess(strokes(300)), preprocess(strokes(100))
noisy_train_data = noise(train_data)
noisy_test_data = noise(test_data)

input = layers.Input(shape=(28, 28, 1))
# Encoder
x = layers.Conv2D(16, (3, 3), activation="relu", padding="same")(input)
x = layers.MaxPooling2D((2, 2), padding="same")(x)
x = layers.Conv2D(16, (3, 3), activation="relu", padding="same")(x)
x = layers.MaxPooling2D((2, 2), padding="same")(x)
# Decoder
x = layers.Conv2DTranspose(16, (3, 3), strides=2, activation="relu", padding="same")(x)
x = layers.Conv2DTranspose(16, (3, 3), strides=2, activation="relu", padding="same")(x)
x = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)

autoencoder = Model(input, x)
autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
autoencoder.summary()

history = autoencoder.fit(x=noisy_train_data, y=train_data, epochs=6, batch_size=8, shuffle=True,
                          validation_data=(noisy_test_data, test_data), verbose=0)
predictions = autoencoder.predict(noisy_test_data)
assert predictions.shape == test_data.shape
noisy_error = np.mean((noisy_test_data - test_data) ** 2)
denoised_error = np.mean((predictions - test_data) ** 2)
print("mse noisy", noisy_error, "denoised", denoised_error)
assert denoised_error < 0.5 * noisy_error, (denoised_error, noisy_error)
assert history.history["val_loss"][-1] < history.history["val_loss"][0]
