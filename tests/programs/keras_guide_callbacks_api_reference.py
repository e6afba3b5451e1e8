"""The keras.io callbacks API pages, the options the guides seldom show: EarlyStopping with
start_from_epoch, baseline and restore_best_weights; ReduceLROnPlateau with cooldown and min_lr;
ModelCheckpoint with save_freq in batches, save_best_only, initial_value_threshold and a
formatted file name; LearningRateScheduler reading the current rate; CSVLogger with append;
TerminateOnNaN; a CallbackList driven by hand; the predict and test hooks with their logs
(batch outputs in on_predict_batch_end); and the History object. Each behaviour is checked
against what the pages say. Only the imports changed."""
import os

import numpy as np
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(9)
rng = np.random.default_rng(9)
x = rng.normal(size=(128, 4)).astype("float32")
y = (x @ np.array([1.0, -1.0, 2.0, 0.5]) + 0.1 * rng.normal(size=128)).astype("float32")[:, None]


def get_model(lr=0.01):
    model = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse", metrics=["mae"])
    return model


# -- EarlyStopping: start_from_epoch delays it, restore_best_weights goes back ------------------
class Record(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([np.array(w) for w in self.model.get_weights()])


model = get_model(lr=0.05)
record = Record()
# validated against -y, the validation loss only grows as the model learns y: the best epoch is
# the first one EarlyStopping may look at (start_from_epoch=3), and it stops one epoch later
stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=0, start_from_epoch=3, restore_best_weights=True)
history = model.fit(x, y, epochs=20, batch_size=16, verbose=0, validation_data=(x, -y), callbacks=[record, stopper])
val = history.history["val_loss"]
print("early stopping val_loss", np.round(val, 3).tolist())
best, best_epoch, stop = np.inf, None, None      # the rule replayed on the recorded losses
for epoch, value in enumerate(val):
    if epoch < 3:
        continue
    if value < best:
        best, best_epoch = value, epoch
    else:
        stop = epoch
        break
assert stop is not None and stop < 8, val
assert len(val) == stop + 1 and stopper.stopped_epoch == stop, (len(val), stopper.stopped_epoch, stop)
for a, b in zip(model.get_weights(), record.weights[best_epoch]):
    np.testing.assert_array_equal(np.asarray(a), b)

model = get_model()
stopper = keras.callbacks.EarlyStopping(monitor="loss", baseline=1e-6, patience=2)
history = model.fit(x, y, epochs=10, batch_size=32, verbose=0, callbacks=[stopper])
# below the baseline the wait is never reset, but a stop needs an epoch with no improvement: a loss
# that improves every epoch trains on (Keras 3's rule)
assert len(history.history["loss"]) == 10, history.history["loss"]

# -- ReduceLROnPlateau: cooldown and min_lr ------------------------------------------------------
class LRLog(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.rates = getattr(self, "rates", [])
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


model = get_model()
lrlog = LRLog()
plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, cooldown=2, min_lr=0.002,
                                            min_delta=10.0)            # every epoch after the first is a plateau
history = model.fit(x, y, epochs=7, batch_size=32, verbose=0, callbacks=[lrlog, plateau])
print("rates", lrlog.rates, "history lr", history.history.get("learning_rate"))
# epoch 0 improves on infinity; epoch 1 halves the rate; the cooldown counts down over epochs 2
# and 3 (the wait restarts), epoch 3 halves again, and so on down to min_lr
expected = [0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025, 0.002]
np.testing.assert_allclose(lrlog.rates, expected, rtol=1e-5)
np.testing.assert_allclose(history.history["learning_rate"], expected, rtol=1e-5)

# -- LearningRateScheduler reading the current rate ------------------------------------------------
def scheduler(epoch, lr):
    if epoch < 2:
        return lr
    return lr * 0.5


model = get_model()
lrlog = LRLog()
model.fit(x, y, epochs=4, batch_size=32, verbose=0,
          callbacks=[keras.callbacks.LearningRateScheduler(scheduler), lrlog])
np.testing.assert_allclose(lrlog.rates, [0.01, 0.01, 0.005, 0.0025], rtol=1e-5)

# -- ModelCheckpoint: formatted names, save_freq in batches, best only with a threshold -----------
model = get_model()
ckpt = keras.callbacks.ModelCheckpoint(filepath="ckpt/model.{epoch:02d}-{loss:.2f}.weights.h5",
                                       save_weights_only=True)
history = model.fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[ckpt])
names = sorted(os.listdir("ckpt"))
expected = [f"model.{e + 1:02d}-{l:.2f}.weights.h5" for e, l in enumerate(history.history["loss"])]
assert names == expected, (names, expected)

model = get_model()
batch_ckpt = keras.callbacks.ModelCheckpoint("batch.weights.h5", save_weights_only=True, save_freq=3)
model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[batch_ckpt])   # 8 batches: saves at 3 and 6
assert os.path.exists("batch.weights.h5")

model = get_model()
best = keras.callbacks.ModelCheckpoint("best.keras", monitor="loss", save_best_only=True, initial_value_threshold=1e-9)
model.fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[best])
assert not os.path.exists("best.keras")                     # nothing beat the threshold
best = keras.callbacks.ModelCheckpoint("best.keras", monitor="loss", save_best_only=True, initial_value_threshold=1e9)
model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[best])
assert os.path.exists("best.keras")
reloaded = keras.models.load_model("best.keras")
assert reloaded.count_params() == model.count_params()

# -- CSVLogger with append, TerminateOnNaN ------------------------------------------------------------
model = get_model()
model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[keras.callbacks.CSVLogger("log.csv")])
model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[keras.callbacks.CSVLogger("log.csv", append=True)])
with open("log.csv") as f:
    rows = [line.strip().split(",") for line in f if line.strip()]
assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"], rows[0]   # val_ columns even without validation
assert [r[0] for r in rows[1:]] == ["0", "1", "0", "1"], rows

bad = get_model(lr=1e6)
y_big = y * 1e6
history = bad.fit(x, y_big, epochs=10, batch_size=8, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN()])
assert len(history.history.get("loss", [])) <= 1, history.history   # stopped in the first epoch

# -- predict and test hooks with their logs -----------------------------------------------------------
class Hooks(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_test_begin(self, logs=None):
        self.calls.append("test_begin")

    def on_test_batch_end(self, batch, logs=None):
        self.calls.append(("test_batch", batch, sorted(logs)))

    def on_test_end(self, logs=None):
        self.calls.append(("test_end", sorted(logs)))

    def on_predict_begin(self, logs=None):
        self.calls.append("predict_begin")

    def on_predict_batch_end(self, batch, logs=None):
        self.calls.append(("predict_batch", batch, tuple(np.shape(logs["outputs"]))))

    def on_predict_end(self, logs=None):
        self.calls.append("predict_end")


model = get_model()
hooks = Hooks()
model.evaluate(x[:64], y[:64], batch_size=32, verbose=0, callbacks=[hooks])
model.predict(x[:40], batch_size=32, verbose=0, callbacks=[hooks])
print(hooks.calls)
assert hooks.calls[0] == "test_begin"
assert hooks.calls[1] == ("test_batch", 0, ["loss", "mae"]) and hooks.calls[2][:2] == ("test_batch", 1)
assert hooks.calls[3] == ("test_end", ["loss", "mae"])
assert hooks.calls[4:] == ["predict_begin", ("predict_batch", 0, (32, 1)), ("predict_batch", 1, (8, 1)),
                           "predict_end"], hooks.calls[4:]

# -- a CallbackList driven by hand, as in a custom loop ---------------------------------------------
model = get_model()
hooks = Hooks()
callbacks = keras.callbacks.CallbackList([hooks], add_history=True, model=model)
callbacks.on_test_begin()
callbacks.on_test_batch_end(0, logs={"loss": 1.0, "mae": 0.5})
callbacks.on_test_end(logs={"loss": 1.0, "mae": 0.5})
assert hooks.model is model
assert hooks.calls == ["test_begin", ("test_batch", 0, ["loss", "mae"]), ("test_end", ["loss", "mae"])]

# -- the History object ----------------------------------------------------------------------------------
model = get_model()
history = model.fit(x, y, epochs=3, batch_size=32, validation_split=0.25, verbose=0)
assert history.epoch == [0, 1, 2]
assert history.params["epochs"] == 3 and history.params["steps"] == 3, history.params
assert history.model is model and sorted(history.history) == ["loss", "mae", "val_loss", "val_mae"]
