"""Fault-tolerant training with `keras.callbacks.BackupAndRestore`, as its documentation and the
distributed-training tutorial use it: a run interrupted by an exception (here a callback that
raises at epoch 4) is started again with the same callback and resumes where the backup was
taken, running only the epochs left; with the optimizer state restored too, the resumed run ends
with the same weights as a run never interrupted. `delete_checkpoint=True` removes the backup
when training completes. Only the imports changed."""
import os

import numpy as np

from corenn import keras

x = np.random.default_rng(0).normal(size=(64, 20)).astype("float32")
y = (x[:, :3].sum(axis=1, keepdims=True) > 0).astype("float32")


class InterruptingCallback(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 4:
            raise RuntimeError("Interrupting!")


def make_model():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
    return model


reference = make_model()
ref_hist = reference.fit(x, y, epochs=10, batch_size=16, shuffle=False, verbose=0)

backup_dir = os.path.join(os.getcwd(), "backup")
callback = keras.callbacks.BackupAndRestore(backup_dir=backup_dir)
model = make_model()
try:
    model.fit(x, y, epochs=10, batch_size=16, shuffle=False, callbacks=[callback, InterruptingCallback()],
              verbose=0)
except RuntimeError as e:
    assert "Interrupting" in str(e)
else:
    raise AssertionError("the run was not interrupted")
assert os.path.isdir(backup_dir) and os.listdir(backup_dir), "no backup was written"

model = make_model()   # a fresh process would rebuild the model the same way
history = model.fit(x, y, epochs=10, batch_size=16, shuffle=False, callbacks=[callback], verbose=0)
# only 6 more epochs: the first run stopped at zero-indexed epoch 4
assert len(history.history["loss"]) == 6, history.history
np.testing.assert_allclose(history.history["loss"], ref_hist.history["loss"][4:], rtol=1e-4)
for a, b in zip(model.get_weights(), reference.get_weights()):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
assert not os.path.exists(backup_dir) or not os.listdir(backup_dir)   # deleted once training completed
print("resumed epochs", len(history.history["loss"]), "final loss", round(history.history["loss"][-1], 4))
assert history.history["loss"][-1] < ref_hist.history["loss"][0]
