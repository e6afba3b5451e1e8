"""keras-io examples/keras_recipes/trainer_pattern (a Model subclass that trains another model
with its own train_step / test_step, so one training logic serves several models), imports
changed only (`import keras`, `import tensorflow as tf` -> corenn). MNIST is replaced by a
Fashion-MNIST-shaped synthetic set of 10 classes (a bright stripe per class); two models (a
Sequential and a functional one) are trained by two trainers."""
import numpy as np
import corenn as tf
from corenn import keras

keras.utils.set_random_seed(3)
rng = np.random.default_rng(3)


def make(n):
    y = rng.integers(0, 10, n)
    x = rng.normal(0.2, 0.15, (n, 28, 28)).astype("float32")
    for i, c in enumerate(y):
        x[i, 2 + 2 * c: 4 + 2 * c, :] += 0.8
    return x.clip(0, 1), y


(x_train, y_train), (x_test, y_test) = make(1200), make(300)


class MyTrainer(keras.Model):
    def __init__(self, model):
        super().__init__()
        self.model = model
        # Create loss and metrics here.
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy()
        self.accuracy_metric = keras.metrics.SparseCategoricalAccuracy()

    @property
    def metrics(self):
        # List metrics here.
        return [self.accuracy_metric]

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self.model(x, training=True)  # Forward pass
            # Compute loss value
            loss = self.loss_fn(y, y_pred)

        # Compute gradients
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)

        # Update weights
        self.optimizer.apply_gradients(zip(gradients, trainable_vars))

        # Update metrics
        for metric in self.metrics:
            metric.update_state(y, y_pred)

        # Return a dict mapping metric names to current value.
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data

        # Inference step
        y_pred = self.model(x, training=False)

        # Update metrics
        for metric in self.metrics:
            metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    def call(self, x):
        # Equivalent to `call()` of the wrapped keras.Model
        x = self.model(x)
        return x


model_a = keras.models.Sequential(
    [
        keras.layers.Flatten(input_shape=(28, 28)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ]
)

func_input = keras.Input(shape=(28, 28, 1))
x = keras.layers.Flatten(input_shape=(28, 28))(func_input)
x = keras.layers.Dense(64, activation="relu")(x)
x = keras.layers.Dropout(0.4)(x)
func_output = keras.layers.Dense(10, activation="softmax")(x)

model_b = keras.Model(func_input, func_output)

trainer_1 = MyTrainer(model_a)
trainer_2 = MyTrainer(model_b)

trainer_1.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
h1 = trainer_1.fit(x_train, y_train, epochs=4, batch_size=64, validation_data=(x_test, y_test), verbose=0)

trainer_2.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3))
h2 = trainer_2.fit(x_train, y_train, epochs=4, batch_size=64, validation_data=(x_test, y_test), verbose=0)
print(h1.history, h2.history, sep="\n")

for h in (h1, h2):
    assert set(h.history) == {"sparse_categorical_accuracy", "val_sparse_categorical_accuracy"}
    assert h.history["val_sparse_categorical_accuracy"][-1] > 0.9, h.history
# the trainer trained the wrapped models: their own predictions classify the test set
for model in (model_a, model_b):
    assert (model.predict(x_test, verbose=0).argmax(-1) == y_test).mean() > 0.9
# the trainer's variables are its model's
assert len(trainer_1.trainable_variables) == len(model_a.trainable_variables) == 4
np.testing.assert_allclose(trainer_2.predict(x_test[:5], verbose=0), model_b.predict(x_test[:5], verbose=0))
