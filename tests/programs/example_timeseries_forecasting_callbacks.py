"""A keras.io-style timeseries forecasting program (examples/timeseries: windows from
keras.utils.timeseries_dataset_from_array, an LSTM and a GRU regressor) trained with the callbacks
such programs combine, imports changed only (`import keras` -> corenn). The weather CSV is
replaced by a synthetic multivariate series (two daily cycles and noise). Each callback's Keras 3
behaviour is checked on the run: ModelCheckpoint(save_best_only, monitor="val_loss") writes only
improving epochs and its file holds the best model; EarlyStopping(restore_best_weights=True)
leaves the best epoch's weights; ReduceLROnPlateau and LearningRateScheduler log
"learning_rate"; CSVLogger writes one row per epoch."""
import csv
import math

import numpy as np
from corenn import keras

keras.utils.set_random_seed(2)
rng = np.random.default_rng(2)

t = np.arange(3000, dtype="float64")
series = np.stack([np.sin(2 * np.pi * t / 48) + 0.3 * np.sin(2 * np.pi * t / 480),
                   np.cos(2 * np.pi * t / 48), 0.5 * np.sin(2 * np.pi * t / 24)], axis=1)
series += rng.normal(0, 0.05, series.shape)
series = ((series - series.mean(0)) / series.std(0)).astype("float32")

past, future = 24, 6
split = 2200
start = past + future
x_train, x_val = series[:split], series[split:]
y_train, y_val = series[start:split + start, 0], series[split + start:, 0]

dataset_train = keras.utils.timeseries_dataset_from_array(x_train, y_train[:len(x_train) - start + 1],
                                                          sequence_length=past, batch_size=64)
dataset_val = keras.utils.timeseries_dataset_from_array(x_val[:len(y_val)], y_val, sequence_length=past,
                                                        batch_size=64)
for batch in dataset_train.take(1):
    inputs, targets = batch
print("Input shape:", inputs.numpy().shape, "Target shape:", targets.numpy().shape)
assert inputs.numpy().shape == (64, past, 3)


def build(rnn):
    inputs = keras.layers.Input(shape=(past, 3))
    x = rnn(16)(inputs)
    outputs = keras.layers.Dense(1)(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    return model


class WeightsPerEpoch(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([w.copy() for w in self.model.get_weights()])


# 1. LSTM with checkpoints of the best epochs, early stopping that restores the best weights,
#    learning-rate reduction on plateaus and a CSV log
path_checkpoint = "model_checkpoint.weights.h5"
es_callback = keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=0, patience=3, restore_best_weights=True)
modelckpt_callback = keras.callbacks.ModelCheckpoint(monitor="val_loss", filepath=path_checkpoint, verbose=0,
                                                     save_weights_only=True, save_best_only=True)
reduce_lr = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_lr=1e-4)
csv_logger = keras.callbacks.CSVLogger("training.csv")
per_epoch = WeightsPerEpoch()

model = build(keras.layers.LSTM)
history = model.fit(dataset_train, epochs=8, validation_data=dataset_val,
                    callbacks=[es_callback, modelckpt_callback, reduce_lr, csv_logger, per_epoch], verbose=0)
h = history.history
print({k: [round(v, 4) for v in vs] for k, vs in h.items()})
epochs_run = len(h["loss"])
assert h["val_loss"][-1] < 0.5 * h["val_loss"][0], h["val_loss"]

best = int(np.argmin(h["val_loss"]))
# EarlyStopping restored the best epoch's weights at the end (Keras 3 does so whether or not it stopped)
for got, want in zip(model.get_weights(), per_epoch.weights[best]):
    np.testing.assert_array_equal(got, want)
# the checkpoint holds the best epoch too
restored = build(keras.layers.LSTM)
restored.load_weights(path_checkpoint)
for got, want in zip(restored.get_weights(), per_epoch.weights[best]):
    np.testing.assert_array_equal(got, want)
np.testing.assert_allclose(restored.evaluate(dataset_val, verbose=0)[0], min(h["val_loss"]), rtol=1e-5)

# ReduceLROnPlateau logged each epoch's rate (before its own update, as Keras 3) and halved it
# after every epoch that did not improve on the best val_loss (patience 1)
lrs, lr, best_so_far = h["learning_rate"], 0.01, math.inf
for e in range(epochs_run):
    np.testing.assert_allclose(lrs[e], lr, rtol=1e-6)
    if h["val_loss"][e] < best_so_far - 1e-4:   # ReduceLROnPlateau's default min_delta
        best_so_far = h["val_loss"][e]
    else:
        lr = max(lr * 0.5, 1e-4)

# CSVLogger: a header, then one row per epoch with the logs in sorted order
with open("training.csv") as f:
    rows = list(csv.reader(f))
assert rows[0][0] == "epoch" and rows[0][1:] == sorted(rows[0][1:]) and "val_loss" in rows[0]
assert len(rows) == 1 + epochs_run
np.testing.assert_allclose([float(r[rows[0].index("val_loss")]) for r in rows[1:]], h["val_loss"], rtol=1e-6)


# 2. GRU with a learning-rate schedule function
def scheduler(epoch, lr):
    if epoch < 2:
        return lr
    return lr * math.exp(-0.5)


model = build(keras.layers.GRU)
history = model.fit(dataset_train, epochs=4, validation_data=dataset_val,
                    callbacks=[keras.callbacks.LearningRateScheduler(scheduler)], verbose=0)
np.testing.assert_allclose(history.history["learning_rate"],
                           [0.01, 0.01, 0.01 * math.exp(-0.5), 0.01 * math.exp(-1.0)], rtol=1e-6)
np.testing.assert_allclose(float(model.optimizer.learning_rate), 0.01 * math.exp(-1.0), rtol=1e-6)
print("GRU val_loss", history.history["val_loss"])
assert history.history["val_loss"][-1] < 0.05, history.history["val_loss"]   # the series' variance is 1
