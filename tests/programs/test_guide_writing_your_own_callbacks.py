"""Keras guide "Writing your own callbacks" (keras.io/guides/writing_your_own_callbacks),
imports changed only."""
import numpy as np
import pytest

from corenn import keras

from guide_data import fashion


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(9)


def get_model():
    model = keras.Sequential()
    model.add(keras.layers.Dense(1))
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.1), loss="mean_squared_error",
                  metrics=["mean_absolute_error"])
    return model


def _data():
    (x_train, y_train), (x_test, y_test) = fashion()
    x_train = x_train.reshape(-1, 784).astype("float32") / 255.0
    x_test = x_test.reshape(-1, 784).astype("float32") / 255.0
    return (x_train[:1000], y_train[:1000].astype("float32")), (x_test[:1000], y_test[:1000].astype("float32"))


class CustomCallback(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def _log(self, name, logs):
        self.calls.append((name, sorted((logs or {}).keys())))

    def on_train_begin(self, logs=None):
        self._log("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._log("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._log("on_epoch_begin", logs)

    def on_epoch_end(self, epoch, logs=None):
        self._log("on_epoch_end", logs)

    def on_test_begin(self, logs=None):
        self._log("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._log("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._log("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._log("on_predict_end", logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._log("on_train_batch_begin", logs)

    def on_train_batch_end(self, batch, logs=None):
        self._log("on_train_batch_end", logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._log("on_test_batch_begin", logs)

    def on_test_batch_end(self, batch, logs=None):
        self._log("on_test_batch_end", logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._log("on_predict_batch_begin", logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._log("on_predict_batch_end", logs)


def test_every_hook_is_called():
    (x_train, y_train), (x_test, y_test) = _data()
    model = get_model()
    cb = CustomCallback()
    model.fit(x_train, y_train, batch_size=128, epochs=1, verbose=0, validation_split=0.5, callbacks=[cb])
    names = [n for n, _ in cb.calls]
    assert names[0] == "on_train_begin" and names[-1] == "on_train_end"
    assert names.count("on_train_batch_end") == 4
    # validation runs the test hooks, between the last training batch and on_epoch_end
    assert names.count("on_test_begin") == 1 and names.count("on_test_batch_end") == 4
    assert names.index("on_test_end") < names.index("on_epoch_end")
    epoch_end_keys = dict(cb.calls)["on_epoch_end"]
    assert epoch_end_keys == ["loss", "mean_absolute_error", "val_loss", "val_mean_absolute_error"]

    cb = CustomCallback()
    model.evaluate(x_test, y_test, batch_size=128, verbose=0, callbacks=[cb])
    names = [n for n, _ in cb.calls]
    assert names[0] == "on_test_begin" and names[-1] == "on_test_end"
    assert names.count("on_test_batch_begin") == 8
    assert dict(cb.calls)["on_test_end"] == ["loss", "mean_absolute_error"]

    cb = CustomCallback()
    model.predict(x_test, batch_size=128, verbose=0, callbacks=[cb])
    names = [n for n, _ in cb.calls]
    assert names[0] == "on_predict_begin" and names[-1] == "on_predict_end"
    assert names.count("on_predict_batch_end") == 8
    assert "outputs" in dict(cb.calls)["on_predict_batch_end"]


class LossAndErrorPrintingCallback(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.lines = []

    def on_train_batch_end(self, batch, logs=None):
        self.lines.append("Up to batch {}, the average loss is {:7.2f}.".format(batch, logs["loss"]))

    def on_test_batch_end(self, batch, logs=None):
        self.lines.append("Up to batch {}, the average loss is {:7.2f}.".format(batch, logs["loss"]))

    def on_epoch_end(self, epoch, logs=None):
        self.lines.append("The average loss for epoch {} is {:7.2f} and mean absolute error is {:7.2f}."
                          .format(epoch, logs["loss"], logs["mean_absolute_error"]))


def test_logs_dict():
    (x_train, y_train), (x_test, y_test) = _data()
    model = get_model()
    cb = LossAndErrorPrintingCallback()
    model.fit(x_train, y_train, batch_size=128, epochs=2, verbose=0, callbacks=[cb])
    assert len(cb.lines) == 2 * 8 + 2
    cb2 = LossAndErrorPrintingCallback()
    res = model.evaluate(x_test, y_test, batch_size=128, verbose=0, callbacks=[cb2])
    assert len(cb2.lines) == 8
    assert cb2.lines[-1] == "Up to batch 7, the average loss is {:7.2f}.".format(res[0])


class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
    def __init__(self, patience=0):
        super().__init__()
        self.patience = patience
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = np.inf

    def on_epoch_end(self, epoch, logs=None):
        current = logs.get("loss")
        if np.less(current, self.best):
            self.best = current
            self.wait = 0
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
                self.model.set_weights(self.best_weights)


def test_early_stopping_at_min_loss():
    (x_train, y_train), _ = _data()
    model = get_model()              # learning rate 0.1 on RMSprop: the loss soon goes up again
    cb = EarlyStoppingAtMinLoss(patience=1)
    history = model.fit(x_train, y_train, batch_size=64, epochs=30, verbose=0, callbacks=[cb])
    assert cb.stopped_epoch > 0 and len(history.history["loss"]) == cb.stopped_epoch + 1
    for a, b in zip(model.get_weights(), cb.best_weights):
        np.testing.assert_array_equal(a, b)


class CustomLearningRateScheduler(keras.callbacks.Callback):
    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        if not hasattr(self.model.optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        lr = self.model.optimizer.learning_rate
        scheduled_lr = self.schedule(epoch, lr)
        self.model.optimizer.learning_rate = scheduled_lr
        self.seen.append(float(np.array(self.model.optimizer.learning_rate)))


LR_SCHEDULE = [(3, 0.05), (6, 0.01), (9, 0.005), (12, 0.001)]


def lr_schedule(epoch, lr):
    if epoch < LR_SCHEDULE[0][0] or epoch > LR_SCHEDULE[-1][0]:
        return lr
    for i in range(len(LR_SCHEDULE)):
        if epoch == LR_SCHEDULE[i][0]:
            return LR_SCHEDULE[i][1]
    return lr


def test_learning_rate_scheduler():
    (x_train, y_train), _ = _data()
    model = get_model()
    cb = CustomLearningRateScheduler(lr_schedule)
    model.fit(x_train[:256], y_train[:256], batch_size=64, epochs=8, verbose=0, callbacks=[cb])
    np.testing.assert_allclose(cb.seen, [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.01, 0.01], rtol=1e-6)
