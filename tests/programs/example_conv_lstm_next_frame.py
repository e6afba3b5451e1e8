"""keras-io examples/vision/conv_lstm (next-frame video prediction with convolutional LSTMs),
imports changed only (`import keras`, `from keras import layers` -> corenn). The Moving MNIST
download is replaced by tiny synthetic clips (a 2x2 square bouncing one pixel per frame), the
model is narrower, and its last Conv3D (which corenn does not have) is a Conv2D on the last
ConvLSTM2D's final step: the model predicts the frame after the clip."""
import numpy as np
import corenn as keras
from corenn.keras import layers

keras.utils.set_random_seed(3)
rng = np.random.default_rng(3)


def bouncing_squares(samples, frames=6, size=8):
    data = np.zeros((samples, frames + 1, size, size, 1), np.float32)
    for i in range(samples):
        r, c = rng.integers(0, size - 2, 2)
        dr, dc = rng.choice([-1, 1], 2)
        for t in range(frames + 1):
            data[i, t, r:r + 2, c:c + 2, 0] = 1.0
            dr = -dr if not 0 <= r + dr <= size - 2 else dr
            dc = -dc if not 0 <= c + dc <= size - 2 else dc
            r, c = r + dr, c + dc
    return data


dataset = bouncing_squares(48)
x_train, y_train = dataset[:40, :-1], dataset[:40, -1]
x_val, y_val = dataset[40:, :-1], dataset[40:, -1]
print("Training Dataset Shapes: " + str(x_train.shape) + ", " + str(y_train.shape))

# Construct the input layer with no definite frame size.
inp = layers.Input(shape=(None, *x_train.shape[2:]))

# We will construct 2 `ConvLSTM2D` layers with batch normalization,
# followed by a `Conv2D` layer for the spatial outputs.
x = layers.ConvLSTM2D(filters=8, kernel_size=(3, 3), padding="same", return_sequences=True,
                      activation="relu")(inp)
x = layers.BatchNormalization()(x)
x = layers.ConvLSTM2D(filters=8, kernel_size=(1, 1), padding="same", return_sequences=False,
                      activation="relu")(x)
x = layers.Conv2D(filters=1, kernel_size=(3, 3), activation="sigmoid", padding="same")(x)

# Next, we will build the complete model and compile it.
model = keras.models.Model(inp, x)
model.compile(loss=keras.losses.binary_crossentropy, optimizer=keras.optimizers.Adam(learning_rate=0.01))

# Define some callbacks to improve training.
early_stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=10)
reduce_lr = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=5)

history = model.fit(x_train, y_train, batch_size=8, epochs=8, validation_data=(x_val, y_val),
                    callbacks=[early_stopping, reduce_lr], verbose=0)
loss = history.history["loss"]
print(f"loss {loss[0]:.4f} -> {loss[-1]:.4f}")
assert loss[-1] < 0.8 * loss[0], loss

# Predict the next frame of a validation clip.
new_prediction = model.predict(np.expand_dims(x_val[0], axis=0), verbose=0)
assert new_prediction.shape == (1, 8, 8, 1)
assert np.all((new_prediction >= 0) & (new_prediction <= 1))
