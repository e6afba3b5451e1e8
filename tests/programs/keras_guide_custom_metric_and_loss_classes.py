"""A custom `keras.metrics.Metric` with state (add_variable, update_state with sample_weight,
result, reset_state) and a custom `keras.losses.Loss` with its own config, as the "Training &
evaluation with the built-in methods" guide writes them, registered for serialization: used in
compile and fit (with validation), checked against NumPy, used standalone in a custom loop, and
reloaded with the model. Only the imports changed."""
import numpy as np
from corenn import keras
from corenn.keras import layers, ops


@keras.saving.register_keras_serializable(package="sweep18")
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
            values = ops.multiply(values, ops.reshape(sample_weight, (-1, 1)))
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives

    def reset_state(self):
        self.true_positives.assign(0.0)


@keras.saving.register_keras_serializable(package="sweep18")
class CustomMSE(keras.losses.Loss):
    def __init__(self, regularization_factor=0.1, name="custom_mse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.regularization_factor = regularization_factor

    def call(self, y_true, y_pred):
        mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
        reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
        return mse + reg * self.regularization_factor

    def get_config(self):
        return {**super().get_config(), "regularization_factor": self.regularization_factor}


keras.utils.set_random_seed(6)
rng = np.random.default_rng(6)
x = rng.normal(size=(600, 10)).astype("float32")
labels = np.argmax(x[:, :3], axis=1)
y_onehot = keras.utils.to_categorical(labels, 3)
x_train, x_val = x[:500], x[500:]

inputs = keras.Input(shape=(10,))
h = layers.Dense(32, activation="relu")(inputs)
outputs = layers.Dense(3, activation="softmax")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(0.01), loss=keras.losses.SparseCategoricalCrossentropy(),
              metrics=[CategoricalTruePositives()])
history = model.fit(x_train, labels[:500, None], batch_size=64, epochs=6, verbose=0,
                    validation_data=(x_val, labels[500:, None]))
print({k: np.round(v, 3).tolist() for k, v in history.history.items()})
# the validation count is the metric's state after the epoch's last evaluation
val_correct = int((model.predict(x_val, verbose=0).argmax(1) == labels[500:]).sum())
assert history.history["val_categorical_true_positives"][-1] == val_correct > 85, val_correct

# the custom loss compares the softmax output with one-hot targets
model.compile(optimizer=keras.optimizers.Adam(0.01), loss=CustomMSE(regularization_factor=0.05),
              metrics=[keras.metrics.CategoricalAccuracy()])
history = model.fit(x_train, y_onehot[:500], batch_size=64, epochs=10, verbose=0,
                    validation_data=(x_val, y_onehot[500:]))
assert history.history["val_categorical_accuracy"][-1] > 0.85

# the custom loss against NumPy
pred = model.predict(x_val, verbose=0)
expected = np.mean(np.mean((y_onehot[500:] - pred) ** 2, -1) + 0.05 * np.mean((0.5 - pred) ** 2, -1))
loss_fn = CustomMSE(regularization_factor=0.05)
np.testing.assert_allclose(float(loss_fn(y_onehot[500:], pred)), expected, rtol=1e-5)
np.testing.assert_allclose(model.evaluate(x_val, y_onehot[500:], verbose=0)[0], expected, rtol=1e-4)

# the stateful metric: standalone, across updates, with sample weights, then reset
m = CategoricalTruePositives()
m.update_state(labels[500:550, None], pred[:50])
m.update_state(labels[550:, None], pred[50:], sample_weight=np.full(50, 2.0, "float32"))
correct = (pred.argmax(1) == labels[500:])
np.testing.assert_allclose(float(m.result()), correct[:50].sum() + 2 * correct[50:].sum())
m.reset_state()
assert float(m.result()) == 0.0

# in compile with integer labels, the metric counts the batch's true positives over the epoch
model.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy",
              metrics=[CategoricalTruePositives()])
result = model.evaluate(x_val, labels[500:, None], batch_size=32, verbose=0, return_dict=True)
np.testing.assert_allclose(result["categorical_true_positives"], correct.sum())

# saved and reloaded with the registered metric and loss
model.compile(optimizer="adam", loss=CustomMSE(regularization_factor=0.05), metrics=[CategoricalTruePositives()])
model.save("custom_objects.keras")
loaded = keras.models.load_model("custom_objects.keras")
np.testing.assert_allclose(loaded.predict(x_val, verbose=0), pred, rtol=1e-6)
assert isinstance(loaded.loss, CustomMSE) and loaded.loss.regularization_factor == 0.05
np.testing.assert_allclose(loaded.evaluate(x_val, y_onehot[500:], verbose=0, return_dict=True)["loss"], expected,
                           rtol=1e-4)
