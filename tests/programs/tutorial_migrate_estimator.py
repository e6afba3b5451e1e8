"""TensorFlow guide "Migrate from Estimator to Keras APIs" (guide/migrate/migrating_estimator),
imports changed: the TF2 parts (the TF1 Estimator part needs tf.compat.v1.estimator, which corenn
does not have): a Sequential Dense(1) compiled with Adagrad and loss="mse", fit on a batch(1)
tf.data.Dataset and evaluated with return_dict=True; then a `tf.keras.Sequential` subclass whose
train_step uses `self.compiled_loss(labels, predictions)` and
`self.compiled_metrics.update_state(...)` and returns `{m.name: m.result() for m in self.metrics}`.
The guide's data is used as is (three rows). Checked: the custom step takes exactly the steps
Adagrad takes in the built-in fit (same initial weights, same weights after), and evaluate equals
the MSE of predict."""
import numpy as np
import corenn as tf

features = [[1., 1.5], [2., 2.5], [3., 3.5]]
labels = [[0.3], [0.5], [0.7]]
eval_features = [[4., 4.5], [5., 5.5], [6., 6.5]]
eval_labels = [[0.8], [0.9], [1.]]

dataset = tf.data.Dataset.from_tensor_slices((features, labels)).batch(1)
eval_dataset = tf.data.Dataset.from_tensor_slices(
      (eval_features, eval_labels)).batch(1)

model = tf.keras.models.Sequential([tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.Adagrad(learning_rate=0.05)

model.compile(optimizer=optimizer, loss="mse")
model.build((None, 2))
initial = model.get_weights()

builtin_history = model.fit(dataset)

result = model.evaluate(eval_dataset, return_dict=True)
print(result)
pred = model.predict(np.array(eval_features, np.float32), verbose=0)
np.testing.assert_allclose(result["loss"], np.mean((pred - np.array(eval_labels)) ** 2), rtol=1e-5)
builtin_weights = model.get_weights()


class CustomModel(tf.keras.Sequential):
  """A custom sequential model that overrides `Model.train_step`."""

  def train_step(self, data):
    batch_data, labels = data

    with tf.GradientTape() as tape:
      predictions = self(batch_data, training=True)
      # Compute the loss value (the loss function is configured
      # in `Model.compile`).
      loss = self.compiled_loss(labels, predictions)

    # Compute the gradients of the parameters with respect to the loss.
    gradients = tape.gradient(loss, self.trainable_variables)
    # Perform gradient descent by updating the weights/parameters.
    self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
    # Update the metrics (includes the metric that tracks the loss).
    self.compiled_metrics.update_state(labels, predictions)
    # Return a dict mapping metric names to the current values.
    return {m.name: m.result() for m in self.metrics}


dataset = tf.data.Dataset.from_tensor_slices((features, labels)).batch(1)
eval_dataset = tf.data.Dataset.from_tensor_slices(
      (eval_features, eval_labels)).batch(1)

model = CustomModel([tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.Adagrad(learning_rate=0.05)

model.compile(optimizer=optimizer, loss="mse")
model.build((None, 2))
model.set_weights(initial)

history = model.fit(dataset)
print(history.history)

custom_result = model.evaluate(eval_dataset, return_dict=True)
print(custom_result)

# the check: the hand-written step is the built-in one
for a, b in zip(model.get_weights(), builtin_weights):
  np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
np.testing.assert_allclose(custom_result["loss"], result["loss"], rtol=1e-5)
