"""Timeseries forecasting as keras.io's weather example and the TensorFlow time-series tutorial
window their data: `keras.utils.timeseries_dataset_from_array` with a sampling rate, a sequence
stride and targets offset by the horizon, a Conv1D + LSTM forecaster trained with
EarlyStopping(restore_best_weights=True), ReduceLROnPlateau and ModelCheckpoint(save_best_only),
which must beat the naive last-value forecast. Only the imports changed."""
import os

import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(0)
rng = np.random.default_rng(1)
steps = 3000
t = np.arange(steps, dtype="float32")
temperature = (np.sin(2 * np.pi * t / 48) + 0.5 * np.sin(2 * np.pi * t / 240)
               + 0.05 * rng.normal(size=steps)).astype("float32")
pressure = (np.cos(2 * np.pi * t / 48) + 0.05 * rng.normal(size=steps)).astype("float32")
features = np.stack([temperature, pressure], axis=-1)

train_split = int(0.7 * steps)
mean = features[:train_split].mean(axis=0)
std = features[:train_split].std(axis=0)
features = (features - mean) / std

past, future, step = 96, 12, 2       # 96 past points sampled every 2, predict 12 ahead
sequence_length = past // step
start = past + future
x_train = features[:train_split]
y_train = features[start:train_split + start, 0]
x_val = features[train_split:-start]
y_val = features[train_split + start:, 0]

dataset_train = keras.utils.timeseries_dataset_from_array(
    x_train, y_train, sequence_length=sequence_length, sampling_rate=step, batch_size=64,
    shuffle=True, seed=3)
dataset_val = keras.utils.timeseries_dataset_from_array(
    x_val, y_val, sequence_length=sequence_length, sampling_rate=step, batch_size=64)

# the windows are what the example describes: every `step`-th row, target `past+future` later
xs, ys = next(iter(keras.utils.timeseries_dataset_from_array(
    x_train, y_train, sequence_length=sequence_length, sampling_rate=step, batch_size=4)))
xs, ys = np.asarray(xs), np.asarray(ys)
assert xs.shape == (4, sequence_length, 2), xs.shape
np.testing.assert_allclose(xs[1], x_train[1:1 + past:step])
np.testing.assert_allclose(ys[1], features[1 + start, 0])

for batch in dataset_train.take(1):
    inputs, targets = batch
print("Input shape:", inputs.numpy().shape, "Target shape:", targets.numpy().shape)

inputs = keras.layers.Input(shape=(inputs.shape[1], inputs.shape[2]))
x = layers.Conv1D(16, 5, padding="causal", activation="relu")(inputs)
x = layers.LSTM(24)(x)
outputs = layers.Dense(1)(x)
model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.005), loss="mse", metrics=["mae"])
model.summary()

path_checkpoint = "model_checkpoint.weights.h5"
es_callback = keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=0, patience=3,
                                            restore_best_weights=True)
reduce_lr = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_lr=1e-4)
modelckpt_callback = keras.callbacks.ModelCheckpoint(monitor="val_loss", filepath=path_checkpoint,
                                                     verbose=0, save_weights_only=True, save_best_only=True)
history = model.fit(dataset_train, epochs=8, validation_data=dataset_val,
                    callbacks=[es_callback, modelckpt_callback, reduce_lr], verbose=0)
val_losses = history.history["val_loss"]
print("val_loss", np.round(val_losses, 4), "lr", history.history.get("learning_rate"))
assert "learning_rate" in history.history
assert os.path.exists(path_checkpoint)

best = min(val_losses)
restored = model.evaluate(dataset_val, verbose=0, return_dict=True)
np.testing.assert_allclose(restored["loss"], best, rtol=1e-3)   # restore_best_weights
model2 = keras.models.clone_model(model)
model2.compile(loss="mse")
model2.load_weights(path_checkpoint)                              # save_best_only kept the best
np.testing.assert_allclose(model2.evaluate(dataset_val, verbose=0, return_dict=True)["loss"], best, rtol=1e-3)

# naive forecast: the last observed temperature of the window
naive = []
for xb, yb in dataset_val:
    naive.append(np.mean((np.asarray(xb)[:, -1, 0] - np.asarray(yb)) ** 2))
naive = float(np.mean(naive))
print("model mse", best, "naive mse", naive)
assert best < 0.5 * naive

pred = model.predict(dataset_val.take(1), verbose=0)
assert pred.shape == (64, 1)
