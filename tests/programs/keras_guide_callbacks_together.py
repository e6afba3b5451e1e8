"""Several keras.callbacks in one fit, as their API documentation uses them: ReduceLROnPlateau
(monitoring a validation loss that stops improving), CSVLogger (one row per epoch, appended
across runs), LambdaCallback (epoch and batch hooks as lambdas), EarlyStopping with
restore_best_weights, TerminateOnNaN and BackupAndRestore (a run interrupted by an exception
resumes where the backup was taken). Only the imports changed."""
import csv
import os

import numpy as np

from corenn import keras

rng = np.random.default_rng(0)
x = rng.normal(size=(64, 6)).astype("float32")
y = (x @ rng.normal(size=(6, 1))).astype("float32")
# validation targets the model cannot fit: the validation loss plateaus at once
x_val = rng.normal(size=(32, 6)).astype("float32")
y_val = rng.normal(size=(32, 1)).astype("float32") * 5


def make_model(lr=0.05):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(lr), loss="mse")
    return model


# ReduceLROnPlateau + CSVLogger + LambdaCallback
events = {"epochs": [], "batches": 0, "begun": False, "ended": False}
lambda_cb = keras.callbacks.LambdaCallback(
    on_train_begin=lambda logs: events.update(begun=True),
    on_epoch_end=lambda epoch, logs: events["epochs"].append((epoch, logs["loss"], logs["val_loss"])),
    on_batch_end=lambda batch, logs: events.update(batches=events["batches"] + 1),
    on_train_end=lambda logs: events.update(ended=True))
reduce_lr = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_lr=0.005,
                                              verbose=0)
csv_logger = keras.callbacks.CSVLogger("training.log")
model = make_model()
history = model.fit(x, y, validation_data=(x_val, y_val), batch_size=16, epochs=8, verbose=0,
                    callbacks=[reduce_lr, csv_logger, lambda_cb])
assert events["begun"] and events["ended"]
assert events["batches"] == 8 * 4
assert [e for e, _, _ in events["epochs"]] == list(range(8))
assert history.history["loss"][-1] < history.history["loss"][0]
lrs = history.history["learning_rate"]
assert len(lrs) == 8 and lrs[0] == np.float32(0.05)
assert min(lrs) < 0.05 and min(lrs) >= 0.005 - 1e-9, lrs
assert all(b <= a + 1e-9 for a, b in zip(lrs, lrs[1:])), lrs   # only ever reduced
np.testing.assert_allclose(float(model.optimizer.learning_rate), lrs[-1], rtol=1e-6)
with open("training.log") as f:
    rows = list(csv.DictReader(f))
assert len(rows) == 8 and rows[0]["epoch"] == "0"
assert {"loss", "val_loss", "learning_rate"} <= set(rows[0])
np.testing.assert_allclose([float(r["loss"]) for r in rows], history.history["loss"], rtol=1e-5)
# append=True continues the same file
model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[keras.callbacks.CSVLogger("training.log", append=True)])
with open("training.log") as f:
    lines = f.read().strip().splitlines()
assert len(lines) == 1 + 8 + 2, lines

# EarlyStopping with restore_best_weights + TerminateOnNaN
model = make_model()
stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
history = model.fit(x, y, validation_data=(x_val, y_val), batch_size=16, epochs=50, verbose=0,
                    callbacks=[stop, keras.callbacks.TerminateOnNaN()])
assert len(history.history["val_loss"]) < 50 and stop.stopped_epoch > 0
best = min(history.history["val_loss"])
np.testing.assert_allclose(model.evaluate(x_val, y_val, verbose=0), best, rtol=1e-4)

nan_model = make_model(lr=1e6)   # diverges: TerminateOnNaN stops the run
history = nan_model.fit(x, y * 1e6, batch_size=16, epochs=20, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN()])
assert len(history.history["loss"]) < 20


# BackupAndRestore: interrupted at epoch 3, resumed to the same result as an uninterrupted run
class InterruptAt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 3:
            raise RuntimeError("Interrupting!")


reference = make_model()
reference.fit(x, y, batch_size=16, epochs=6, verbose=0, shuffle=False)
model = make_model()
backup = keras.callbacks.BackupAndRestore(backup_dir="backup")
try:
    model.fit(x, y, batch_size=16, epochs=6, verbose=0, shuffle=False, callbacks=[backup, InterruptAt()])
    raise AssertionError("the run was not interrupted")
except RuntimeError:
    pass
assert os.path.isdir("backup")
model = make_model()
history = model.fit(x, y, batch_size=16, epochs=6, verbose=0, shuffle=False,
                    callbacks=[keras.callbacks.BackupAndRestore(backup_dir="backup")])
assert len(history.history["loss"]) == 3    # only the epochs left
for a, b in zip(model.get_weights(), reference.get_weights()):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
assert not os.path.exists("backup") or not os.listdir("backup")   # delete_checkpoint=True
print("callbacks together OK")
