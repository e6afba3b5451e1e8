"""Keras guide "Training & evaluation with the built-in methods"
(keras.io/guides/training_with_built_in_methods) as one program, imports changed only
(`import keras` -> `import corenn as keras`): the API overview (fit with validation_data,
evaluate, predict), custom losses (a function and a Loss subclass with a regularization
factor), a custom metric class, add_loss / add_metric-free activity regularization, the
validation split, class weights, sample weights, a multi-output model with list and dict
losses and loss_weights, EarlyStopping, a LossHistory callback, ModelCheckpoint with the
epoch in the file name and a learning-rate schedule. The MNIST data are a small synthetic,
learnable stand-in (the guide downloads MNIST)."""
import os

import numpy as np
import corenn as keras
from corenn import layers
from corenn import ops

keras.utils.set_random_seed(1)
rng = np.random.default_rng(1)

# -- API overview: a first end-to-end example -------------------------------------------------
inputs = keras.Input(shape=(784,), name="digits")
x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
x = layers.Dense(64, activation="relu", name="dense_2")(x)
outputs = layers.Dense(10, activation="softmax", name="predictions")(x)

model = keras.Model(inputs=inputs, outputs=outputs)

# the label is the brightest of ten pixel blocks: learnable in a few epochs
x_all = rng.random((1200, 784)).astype("float32")
y_all = x_all[:, :780].reshape(-1, 10, 78).sum(-1).argmax(-1)
x_train, y_train = x_all[:1000], y_all[:1000]
x_test, y_test = x_all[1000:], y_all[1000:]

# Reserve 200 samples for validation
x_val = x_train[-200:]
y_val = y_train[-200:]
x_train = x_train[:-200]
y_train = y_train[:-200]

model.compile(
    optimizer=keras.optimizers.RMSprop(),  # Optimizer
    # Loss function to minimize
    loss=keras.losses.SparseCategoricalCrossentropy(),
    # List of metrics to monitor
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
)

print("Fit model on training data")
history = model.fit(
    x_train,
    y_train,
    batch_size=64,
    epochs=3,
    # We pass some validation for
    # monitoring validation loss and metrics
    # at the end of each epoch
    validation_data=(x_val, y_val),
)
print(history.history)
assert sorted(history.history) == ["loss", "sparse_categorical_accuracy",
                                   "val_loss", "val_sparse_categorical_accuracy"]
assert history.history["loss"][2] < history.history["loss"][0]

# Evaluate the model on the test data using `evaluate`
print("Evaluate on test data")
results = model.evaluate(x_test, y_test, batch_size=128)
print("test loss, test acc:", results)
assert len(results) == 2

# Generate predictions (probabilities -- the output of the last layer)
# on new data using `predict`
print("Generate predictions for 3 samples")
predictions = model.predict(x_test[:3])
print("predictions shape:", predictions.shape)
assert predictions.shape == (3, 10)
np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-5)


# -- The compile() method: specifying a loss, metrics, and an optimizer ---------------------
def get_uncompiled_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    return model


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(
        optimizer="rmsprop",
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    return model


# Custom losses
def custom_mean_squared_error(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


model = get_uncompiled_model()
model.compile(optimizer=keras.optimizers.Adam(), loss=custom_mean_squared_error)

# We need to one-hot encode the labels to use MSE
y_train_one_hot = ops.one_hot(y_train, num_classes=10)
history = model.fit(x_train, y_train_one_hot, batch_size=64, epochs=1)
pred = model.predict(x_train[:64])
expected = np.mean(np.mean((ops.convert_to_numpy(y_train_one_hot)[:64] - pred) ** 2, axis=-1))
np.testing.assert_allclose(model.evaluate(x_train[:64], y_train_one_hot[:64], batch_size=64),
                           expected, rtol=1e-5)


class CustomMSE(keras.losses.Loss):
    def __init__(self, regularization_factor=0.1, name="custom_mse"):
        super().__init__(name=name)
        self.regularization_factor = regularization_factor

    def call(self, y_true, y_pred):
        mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
        reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
        return mse + reg * self.regularization_factor


model = get_uncompiled_model()
model.compile(optimizer=keras.optimizers.Adam(), loss=CustomMSE())

y_train_one_hot = ops.one_hot(y_train, num_classes=10)
model.fit(x_train, y_train_one_hot, batch_size=64, epochs=1)
pred = model.predict(x_train[:64])
yt = ops.convert_to_numpy(y_train_one_hot)[:64]
expected = np.mean(np.mean((yt - pred) ** 2, -1) + 0.1 * np.mean((0.5 - pred) ** 2, -1))
np.testing.assert_allclose(model.evaluate(x_train[:64], yt, batch_size=64), expected, rtol=1e-5)


# Custom metrics
class CategoricalTruePositives(keras.metrics.Metric):
    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives.value

    def reset_state(self):
        # The state of the metric will be reset at the start of each epoch.
        self.true_positives.assign(0.0)


model = get_uncompiled_model()
model.compile(
    optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(),
    metrics=[CategoricalTruePositives()],
)
model.fit(x_train, y_train, batch_size=64, epochs=3)
pred = model.predict(x_test)
res = model.evaluate(x_test, y_test.reshape(-1, 1), batch_size=50, return_dict=True)
# the count of correct predictions over the whole evaluation, not a per-batch mean
assert res["categorical_true_positives"] == float(np.sum(pred.argmax(1) == y_test)), res


# Handling losses and metrics that don't fit the standard signature
class ActivityRegularizationLayer(layers.Layer):
    def call(self, inputs):
        self.add_loss(ops.sum(inputs) * 0.1)
        return inputs  # Pass-through layer.


inputs = keras.Input(shape=(784,), name="digits")
x = layers.Dense(64, activation="relu", name="dense_1")(inputs)

# Insert activity regularization as a layer
x = ActivityRegularizationLayer()(x)

x = layers.Dense(64, activation="relu", name="dense_2")(x)
outputs = layers.Dense(10, name="predictions")(x)

model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(
    optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
)

# The displayed loss will be much higher than before
# due to the regularization component.
model.fit(x_train, y_train, batch_size=64, epochs=1)
# the evaluated loss is the cross-entropy plus 0.1 * sum of the hidden activations
hidden = keras.Model(inputs, model.get_layer("dense_1").output)
batch = x_train[:64]
act = ops.convert_to_numpy(hidden(batch))
logits = model.predict(batch)
ce = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y_train[:64], logits))
np.testing.assert_allclose(model.evaluate(batch, y_train[:64], batch_size=64), ce + 0.1 * act.sum(),
                           rtol=1e-4)

# -- Automatically setting apart a validation holdout set -----------------------------------
model = get_compiled_model()
history = model.fit(x_train, y_train, batch_size=64, validation_split=0.2, epochs=1)
assert "val_loss" in history.history
# the held-out slice is the last 20% of the arrays, before any shuffling
held_out = model.evaluate(x_train[-160:], y_train[-160:], batch_size=160, return_dict=True)
np.testing.assert_allclose(history.history["val_loss"][0], held_out["loss"], rtol=1e-4)

# -- Class weights ---------------------------------------------------------------------------
class_weight = {
    0: 1.0,
    1: 1.0,
    2: 1.0,
    3: 1.0,
    4: 1.0,
    # Set weight "2" for class "5",
    # making this class 2x more important
    5: 2.0,
    6: 1.0,
    7: 1.0,
    8: 1.0,
    9: 1.0,
}

print("Fit with class weight")
model = get_compiled_model()
model.fit(x_train, y_train, class_weight=class_weight, batch_size=64, epochs=1)

# -- Sample weights --------------------------------------------------------------------------
sample_weight = np.ones(shape=(len(y_train),))
sample_weight[y_train == 5] = 2.0

print("Fit with sample weight")
model = get_compiled_model()
model.fit(x_train, y_train, sample_weight=sample_weight, batch_size=64, epochs=1)

# a weighted evaluation is the weighted mean of the per-sample losses
probs = model.predict(x_train[:128])
per_sample = -np.log(probs[np.arange(128), y_train[:128]])
w = sample_weight[:128]
res = model.evaluate(x_train[:128], y_train[:128], sample_weight=w, batch_size=128, return_dict=True)
np.testing.assert_allclose(res["loss"], (per_sample * w).sum() / 128, rtol=1e-4)

# -- Passing data to multi-input, multi-output models ---------------------------------------
image_input = keras.Input(shape=(32, 32, 3), name="img_input")
timeseries_input = keras.Input(shape=(None, 10), name="ts_input")

x1 = layers.Conv2D(3, 3)(image_input)
x1 = layers.GlobalMaxPooling2D()(x1)

x2 = layers.Conv1D(3, 3)(timeseries_input)
x2 = layers.GlobalMaxPooling1D()(x2)

x = layers.concatenate([x1, x2])

score_output = layers.Dense(1, name="score_output")(x)
class_output = layers.Dense(5, name="class_output")(x)

model = keras.Model(inputs=[image_input, timeseries_input], outputs=[score_output, class_output])

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss={
        "score_output": keras.losses.MeanSquaredError(),
        "class_output": keras.losses.CategoricalCrossentropy(),
    },
    metrics={
        "score_output": [
            keras.metrics.MeanAbsolutePercentageError(),
            keras.metrics.MeanAbsoluteError(),
        ],
        "class_output": [keras.metrics.CategoricalAccuracy()],
    },
    loss_weights={"score_output": 2.0, "class_output": 1.0},
)

# Generate dummy NumPy data
img_data = np.random.random_sample(size=(100, 32, 32, 3))
ts_data = np.random.random_sample(size=(100, 20, 10))
score_targets = np.random.random_sample(size=(100, 1))
class_targets = np.random.random_sample(size=(100, 5))

# Fit on lists
history = model.fit([img_data, ts_data], [score_targets, class_targets], batch_size=32, epochs=1)
# Alternatively, fit on dicts
history = model.fit(
    {"img_input": img_data, "ts_input": ts_data},
    {"score_output": score_targets, "class_output": class_targets},
    batch_size=32,
    epochs=1,
)
assert np.isfinite(history.history["loss"][0])
res = model.evaluate([img_data, ts_data], [score_targets, class_targets], batch_size=100, return_dict=True)
score_pred, class_pred = model.predict([img_data, ts_data], batch_size=100)
mse = np.mean((score_targets - score_pred) ** 2)
p = np.clip(class_pred, 1e-7, 1 - 1e-7)
p = p / p.sum(-1, keepdims=True)
cce = float(keras.losses.CategoricalCrossentropy()(class_targets, class_pred))
np.testing.assert_allclose(res["loss"], 2.0 * mse + cce, rtol=1e-4)

# one output without a loss
model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
              loss=[None, keras.losses.CategoricalCrossentropy()])
model.fit([img_data, ts_data], [score_targets, class_targets], batch_size=32, epochs=1)
res = model.evaluate([img_data, ts_data], [score_targets, class_targets], batch_size=100, return_dict=True)
_, class_pred = model.predict([img_data, ts_data], batch_size=100)
np.testing.assert_allclose(res["loss"], float(keras.losses.CategoricalCrossentropy()(class_targets, class_pred)),
                           rtol=1e-4)

# -- Using callbacks -------------------------------------------------------------------------
model = get_compiled_model()

callbacks = [
    keras.callbacks.EarlyStopping(
        # Stop training when `val_loss` is no longer improving
        monitor="val_loss",
        # "no longer improving" being defined as "no better than 1e-2 less"
        min_delta=1e-2,
        # "no longer improving" being further defined as "for at least 2 epochs"
        patience=2,
        verbose=1,
    )
]
history = model.fit(x_train, y_train, epochs=20, batch_size=64, callbacks=callbacks, validation_split=0.2)
v = history.history["val_loss"]
assert len(v) < 20
# it stopped exactly when two epochs in a row failed to improve on the best by min_delta
best = v[0]
waited = 0
stop_at = None
for i, val in enumerate(v[1:], start=1):
    if val < best - 1e-2:
        best, waited = val, 0
    else:
        waited += 1
        if waited >= 2:
            stop_at = i
            break
assert stop_at == len(v) - 1, v


class LossHistory(keras.callbacks.Callback):
    def on_train_begin(self, logs):
        self.per_batch_losses = []

    def on_batch_end(self, batch, logs):
        self.per_batch_losses.append(logs.get("loss"))


loss_history = LossHistory()
model = get_compiled_model()
model.fit(x_train, y_train, epochs=1, batch_size=100, callbacks=[loss_history])
assert len(loss_history.per_batch_losses) == 8

# -- Checkpointing models --------------------------------------------------------------------
model = get_compiled_model()

callbacks = [
    keras.callbacks.ModelCheckpoint(
        # Path where to save the model
        # The two parameters below mean that we will overwrite
        # the current checkpoint if and only if
        # the `val_loss` score has improved.
        # The saved model name will include the current epoch.
        filepath="mymodel_{epoch}.keras",
        save_best_only=True,  # Only save a model if `val_loss` has improved.
        monitor="val_loss",
        verbose=1,
    )
]
history = model.fit(x_train, y_train, epochs=2, batch_size=64, callbacks=callbacks, validation_split=0.2)
assert os.path.exists("mymodel_1.keras")
assert os.path.exists("mymodel_2.keras") == (history.history["val_loss"][1] < history.history["val_loss"][0])

# Prepare a directory to store all the checkpoints.
checkpoint_dir = "./ckpt"
if not os.path.exists(checkpoint_dir):
    os.makedirs(checkpoint_dir)


def make_or_restore_model():
    # Either restore the latest model, or create a fresh one
    # if there is no checkpoint available.
    checkpoints = [checkpoint_dir + "/" + name for name in os.listdir(checkpoint_dir)]
    if checkpoints:
        latest_checkpoint = max(checkpoints, key=os.path.getctime)
        print("Restoring from", latest_checkpoint)
        return keras.models.load_model(latest_checkpoint)
    print("Creating a new model")
    return get_compiled_model()


model = make_or_restore_model()
callbacks = [
    # This callback saves the model every 5 batches.
    # We include the training loss in the saved model name.
    keras.callbacks.ModelCheckpoint(filepath=checkpoint_dir + "/model-loss={loss:.2f}.keras", save_freq=5)
]
model.fit(x_train, y_train, epochs=1, batch_size=100, callbacks=callbacks)
saved = sorted(os.listdir(checkpoint_dir))
assert saved and all(n.startswith("model-loss=") and n.endswith(".keras") for n in saved), saved
restored = make_or_restore_model()
assert restored.count_params() == model.count_params()

# -- Using learning rate schedules -----------------------------------------------------------
initial_learning_rate = 0.1
lr_schedule = keras.optimizers.schedules.ExponentialDecay(
    initial_learning_rate, decay_steps=100000, decay_rate=0.96, staircase=True
)

optimizer = keras.optimizers.RMSprop(learning_rate=lr_schedule)
assert abs(float(lr_schedule(100000)) - 0.096) < 1e-6
assert abs(float(lr_schedule(99999)) - 0.1) < 1e-7
print("training with built-in methods guide: OK")
