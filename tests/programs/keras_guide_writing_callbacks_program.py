"""Keras guide "Writing your own callbacks" (keras.io/guides/writing_your_own_callbacks) as one
program, imports changed only (`import keras` -> `import corenn as keras`): a CustomCallback
logging every hook of fit / evaluate / predict, the logs dict (LossAndErrorPrintingCallback),
self.model access with EarlyStoppingAtMinLoss (stop_training, best weights restored), and a
CustomLearningRateScheduler setting the optimizer's learning rate each epoch. MNIST is a small
synthetic stand-in (the guide downloads it)."""
import numpy as np
import corenn as keras

keras.utils.set_random_seed(9)


# Define the Keras model to add callbacks to
def get_model():
    model = keras.Sequential()
    model.add(keras.layers.Dense(1))
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
        loss="mean_squared_error",
        metrics=["mean_absolute_error"],
    )
    return model


# Load example MNIST data and pre-process it
rng = np.random.default_rng(9)
x_train = rng.random((1000, 784)).astype("float32")
y_train = (x_train[:, :10].sum(1) * 0.9).astype("float32")
x_test = rng.random((1000, 784)).astype("float32")
y_test = (x_test[:, :10].sum(1) * 0.9).astype("float32")

# Limit the data to 1000 samples
x_train = x_train[:1000]
y_train = y_train[:1000]
x_test = x_test[:1000]
y_test = y_test[:1000]

# -- An overview of callback methods ---------------------------------------------------------
calls = []


class CustomCallback(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        keys = list(logs.keys())
        calls.append("train_begin")
        print("Starting training; got log keys: {}".format(keys))

    def on_train_end(self, logs=None):
        keys = list(logs.keys())
        calls.append("train_end")
        print("Stop training; got log keys: {}".format(keys))

    def on_epoch_begin(self, epoch, logs=None):
        keys = list(logs.keys())
        calls.append(f"epoch_begin{epoch}")
        print("Start epoch {} of training; got log keys: {}".format(epoch, keys))

    def on_epoch_end(self, epoch, logs=None):
        keys = list(logs.keys())
        calls.append(f"epoch_end{epoch}:" + ",".join(sorted(keys)))
        print("End epoch {} of training; got log keys: {}".format(epoch, keys))

    def on_test_begin(self, logs=None):
        calls.append("test_begin")

    def on_test_end(self, logs=None):
        keys = list(logs.keys())
        calls.append("test_end:" + ",".join(sorted(keys)))
        print("Stop testing; got log keys: {}".format(keys))

    def on_predict_begin(self, logs=None):
        calls.append("predict_begin")

    def on_predict_end(self, logs=None):
        calls.append("predict_end")

    def on_train_batch_begin(self, batch, logs=None):
        calls.append(f"train_batch_begin{batch}")

    def on_train_batch_end(self, batch, logs=None):
        keys = list(logs.keys())
        calls.append(f"train_batch_end{batch}:" + ",".join(sorted(keys)))

    def on_test_batch_begin(self, batch, logs=None):
        calls.append(f"test_batch_begin{batch}")

    def on_test_batch_end(self, batch, logs=None):
        calls.append(f"test_batch_end{batch}")

    def on_predict_batch_begin(self, batch, logs=None):
        calls.append(f"predict_batch_begin{batch}")

    def on_predict_batch_end(self, batch, logs=None):
        keys = list(logs.keys())
        calls.append(f"predict_batch_end{batch}:" + ",".join(sorted(keys)))


model = get_model()
model.fit(
    x_train,
    y_train,
    batch_size=128,
    epochs=1,
    verbose=0,
    validation_split=0.5,
    callbacks=[CustomCallback()],
)
# 500 training samples in batches of 128 -> 4 batches; then the validation pass (4 batches)
assert calls[:2] == ["train_begin", "epoch_begin0"], calls[:3]
assert calls[2:10] == [f"train_batch_{w}{i}" + (":loss,mean_absolute_error" if w == "end" else "")
                       for i in range(4) for w in ("begin", "end")], calls[2:10]
assert calls[10] == "test_begin" and calls[-3].startswith("test_end:")
assert calls[-2] == "epoch_end0:loss,mean_absolute_error,val_loss,val_mean_absolute_error", calls[-2]
assert calls[-1] == "train_end"

calls.clear()
res = model.evaluate(x_test, y_test, batch_size=128, verbose=0, callbacks=[CustomCallback()])
assert calls[0] == "test_begin" and calls[-1] == "test_end:loss,mean_absolute_error", calls[-1]
assert sum(c.startswith("test_batch_end") for c in calls) == 8

calls.clear()
res = model.predict(x_test, batch_size=128, callbacks=[CustomCallback()])
assert calls[0] == "predict_begin" and calls[-1] == "predict_end"
assert calls[2] == "predict_batch_end0:outputs", calls[2]
assert sum(c.startswith("predict_batch_end") for c in calls) == 8


# -- Usage of logs dict ------------------------------------------------------------------------
seen = {}


class LossAndErrorPrintingCallback(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        print("Up to batch {}, the average loss is {:7.2f}.".format(batch, logs["loss"]))
        seen.setdefault("train", []).append(logs["loss"])

    def on_test_batch_end(self, batch, logs=None):
        print("Up to batch {}, the average loss is {:7.2f}.".format(batch, logs["loss"]))
        seen.setdefault("test", []).append(logs["loss"])

    def on_epoch_end(self, epoch, logs=None):
        print(
            "The average loss for epoch {} is {:7.2f} "
            "and mean absolute error is {:7.2f}.".format(epoch, logs["loss"], logs["mean_absolute_error"])
        )
        seen.setdefault("epoch", []).append(logs["loss"])


model = get_model()
model.fit(
    x_train,
    y_train,
    batch_size=128,
    epochs=2,
    verbose=0,
    callbacks=[LossAndErrorPrintingCallback()],
)

res = model.evaluate(
    x_test,
    y_test,
    batch_size=128,
    verbose=0,
    callbacks=[LossAndErrorPrintingCallback()],
)
# batch logs carry the running mean: the last batch's value is the epoch's loss
assert len(seen["train"]) == 16 and len(seen["epoch"]) == 2
np.testing.assert_allclose(seen["train"][-1], seen["epoch"][-1], rtol=1e-6)
np.testing.assert_allclose(seen["test"][-1], res[0], rtol=1e-6)


# -- Usage of self.model attribute: early stopping at minimum loss -----------------------------
class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
    """Stop training when the loss is at its min, i.e. the loss stops decreasing.

    Arguments:
        patience: Number of epochs to wait after min has been hit. After this
        number of no improvement, training stops.
    """

    def __init__(self, patience=0):
        super().__init__()
        self.patience = patience
        # best_weights to store the weights at which the minimum loss occurs.
        self.best_weights = None

    def on_train_begin(self, logs=None):
        # The number of epoch it has waited when loss is no longer minimum.
        self.wait = 0
        # The epoch the training stops at.
        self.stopped_epoch = 0
        # Initialize the best as infinity.
        self.best = np.inf

    def on_epoch_end(self, epoch, logs=None):
        current = logs.get("loss")
        if np.less(current, self.best):
            self.best = current
            self.wait = 0
            # Record the best weights if current results is better (less).
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
                print("Restoring model weights from the end of the best epoch.")
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


model = get_model()
stopper = EarlyStoppingAtMinLoss()
history = model.fit(
    x_train,
    y_train,
    batch_size=64,
    steps_per_epoch=5,
    epochs=30,
    verbose=0,
    callbacks=[LossAndErrorPrintingCallback(), stopper],
)
losses = history.history["loss"]
assert len(losses) < 30, losses
# training stopped at the first epoch whose loss did not improve; the weights are the best epoch's
assert all(b < a for a, b in zip(losses[:-2], losses[1:-1])) and losses[-1] >= losses[-2], losses
assert stopper.stopped_epoch == len(losses) - 1
for w, best in zip(model.get_weights(), stopper.best_weights):
    np.testing.assert_array_equal(w, best)

# -- Learning rate scheduling ------------------------------------------------------------------
lrs = []


class CustomLearningRateScheduler(keras.callbacks.Callback):
    """Learning rate scheduler which sets the learning rate according to schedule.

    Arguments:
        schedule: a function that takes an epoch index
            (integer, indexed from 0) and current learning rate
            as inputs and returns a new learning rate as output (float).
    """

    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs=None):
        if not hasattr(self.model.optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        # Get the current learning rate from model's optimizer.
        lr = self.model.optimizer.learning_rate
        # Call schedule function to get the scheduled learning rate.
        scheduled_lr = self.schedule(epoch, lr)
        # Set the value back to the optimizer before this epoch starts
        self.model.optimizer.learning_rate = scheduled_lr
        print(f"\nEpoch {epoch}: Learning rate is {float(np.array(scheduled_lr))}.")
        lrs.append(float(np.array(self.model.optimizer.learning_rate)))


LR_SCHEDULE = [
    # (epoch to start, learning rate) tuples
    (3, 0.05),
    (6, 0.01),
    (9, 0.005),
    (12, 0.001),
]


def lr_schedule(epoch, lr):
    """Helper function to retrieve the scheduled learning rate based on epoch."""
    if epoch < LR_SCHEDULE[0][0] or epoch > LR_SCHEDULE[-1][0]:
        return lr
    for i in range(len(LR_SCHEDULE)):
        if epoch == LR_SCHEDULE[i][0]:
            return LR_SCHEDULE[i][1]
    return lr


model = get_model()
model.fit(
    x_train,
    y_train,
    batch_size=64,
    steps_per_epoch=5,
    epochs=15,
    verbose=0,
    callbacks=[
        LossAndErrorPrintingCallback(),
        CustomLearningRateScheduler(lr_schedule),
    ],
)
expected = [0.1] * 3 + [0.05] * 3 + [0.01] * 3 + [0.005] * 3 + [0.001] * 3
np.testing.assert_allclose(lrs, expected, rtol=1e-6)
print("writing your own callbacks guide: OK")
