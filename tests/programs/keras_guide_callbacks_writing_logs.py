"""Custom callbacks as the "Writing your own callbacks" guide and the callbacks API pages use them:
a callback that computes a validation F1 score in on_epoch_end and writes it into `logs`, so
that EarlyStopping(monitor="val_f1", mode="max"), CSVLogger and History all see it; a
LearningRateScheduler whose schedule reads the current rate; a callback that changes
`self.model.optimizer.learning_rate` by assignment; TerminateOnNaN; LambdaCallback; and
`self.model.stop_training`. Only the imports changed."""
import csv

import numpy as np
from corenn import keras
from corenn.keras import layers, ops

rng = np.random.default_rng(0)
x = rng.normal(size=(512, 10)).astype("float32")
y = (x[:, 0] - x[:, 1] + 0.5 * x[:, 2] > 0).astype("float32")
x_val = rng.normal(size=(128, 10)).astype("float32")
y_val = (x_val[:, 0] - x_val[:, 1] + 0.5 * x_val[:, 2] > 0).astype("float32")


class F1Callback(keras.callbacks.Callback):
    def __init__(self, validation_data):
        super().__init__()
        self.x_val, self.y_val = validation_data

    def on_epoch_end(self, epoch, logs=None):
        pred = (self.model.predict(self.x_val, verbose=0)[:, 0] > 0.5).astype("float32")
        tp = np.sum(pred * self.y_val)
        precision = tp / max(np.sum(pred), 1)
        recall = tp / max(np.sum(self.y_val), 1)
        logs["val_f1"] = 2 * precision * recall / max(precision + recall, 1e-9)


def scheduler(epoch, lr):
    if epoch < 2:
        return lr
    return float(lr * ops.exp(-0.1))


seen_lrs = []


class RecordLR(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        seen_lrs.append(float(ops.convert_to_numpy(self.model.optimizer.learning_rate)))


class StopAtF1(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if logs.get("val_f1", 0) > 0.99:
            print("reached F1 0.99, stopping")
            self.model.stop_training = True


batch_ends = []
model = keras.Sequential([keras.Input((10,)), layers.Dense(16, activation="relu"),
                          layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.3), loss="binary_crossentropy",
              metrics=["accuracy"])
history = model.fit(
    x, y, batch_size=64, epochs=8, validation_data=(x_val, y_val), verbose=0,
    callbacks=[F1Callback((x_val, y_val)),
               keras.callbacks.LearningRateScheduler(scheduler),
               RecordLR(),   # after the scheduler: sees the rate this epoch trains with
               keras.callbacks.EarlyStopping(monitor="val_f1", mode="max", patience=2),
               keras.callbacks.CSVLogger("training.csv"),
               keras.callbacks.TerminateOnNaN(),
               keras.callbacks.LambdaCallback(on_batch_end=lambda batch, logs: batch_ends.append(batch)),
               StopAtF1()])
print({k: np.round(v, 3) for k, v in history.history.items()})
assert "val_f1" in history.history and "learning_rate" in history.history
epochs_run = len(history.history["loss"])
assert batch_ends[:8] == list(range(8)) and len(batch_ends) == 8 * epochs_run
# the schedule: 0.3, 0.3, then decayed by exp(-0.1) each epoch; the recorded value is seen in on_epoch_begin
expected = [0.3 if e < 2 else 0.3 * np.exp(-0.1 * (e - 1)) for e in range(epochs_run)]
np.testing.assert_allclose(seen_lrs, expected, rtol=1e-5)
np.testing.assert_allclose(history.history["learning_rate"], expected, rtol=1e-5)
assert max(history.history["val_f1"]) > 0.85

with open("training.csv") as f:
    rows = list(csv.DictReader(f))
assert len(rows) == epochs_run
assert "val_f1" in rows[0] and "epoch" in rows[0], rows[0].keys()
np.testing.assert_allclose([float(r["val_f1"]) for r in rows], history.history["val_f1"], rtol=1e-5)


# assigning to the optimizer's learning rate from a callback
class HalveEveryEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.optimizer.learning_rate = self.model.optimizer.learning_rate * 0.5


model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy")
model.fit(x, y, epochs=3, verbose=0, callbacks=[HalveEveryEpoch()])
np.testing.assert_allclose(float(ops.convert_to_numpy(model.optimizer.learning_rate)), 0.01 / 8, rtol=1e-6)


# TerminateOnNaN stops on the first NaN batch
bad = x.copy()
bad[70] = np.nan
model.compile(optimizer="sgd", loss="mse")
h = model.fit(bad, y, batch_size=64, epochs=5, verbose=0, shuffle=False, callbacks=[keras.callbacks.TerminateOnNaN()])
assert len(h.history["loss"]) == 1 and np.isnan(h.history["loss"][0]), h.history
