"""TensorFlow guide "Migrate single-worker multiple-GPU training" (guide/migrate/mirrored_strategy),
imports changed: the TF2 part (the TF1 Estimator part needs tf.compat.v1.estimator, which corenn
does not have): a Sequential Dense(1) and an Adagrad optimizer built under
`tf.distribute.MirroredStrategy().scope()`, compiled outside it with loss='mse', fit on a batch(1)
tf.data.Dataset and evaluated with return_dict=True. The guide's data is used as is (three rows);
the one fit epoch is kept. Checked: the strategy sees at least one replica, the weights moved by
exactly Adagrad's first step on the first row, and evaluate's loss equals the MSE of predict."""
import numpy as np
import corenn as tf

features = [[1., 1.5], [2., 2.5], [3., 3.5]]
labels = [[0.3], [0.5], [0.7]]
eval_features = [[4., 4.5], [5., 5.5], [6., 6.5]]
eval_labels = [[0.8], [0.9], [1.]]

dataset = tf.data.Dataset.from_tensor_slices((features, labels)).batch(1)
eval_dataset = tf.data.Dataset.from_tensor_slices(
      (eval_features, eval_labels)).batch(1)

strategy = tf.distribute.MirroredStrategy()
with strategy.scope():
  model = tf.keras.models.Sequential([tf.keras.layers.Dense(1)])
  optimizer = tf.keras.optimizers.Adagrad(learning_rate=0.05)

model.compile(optimizer=optimizer, loss='mse')

# the first step by hand (Adagrad: accumulator 0.1 + g^2, step lr * g / sqrt(acc + eps))
model.build((None, 2))
w0, b0 = [np.array(v, np.float64) for v in model.get_weights()]
x0, y0 = np.array(features[:1]), np.array(labels[:1])
err = x0 @ w0 + b0 - y0
gw, gb = 2 * x0.T @ err, 2 * err.sum(0)
w1 = w0 - 0.05 * gw / np.sqrt(0.1 + gw ** 2 + 1e-7)
b1 = b0 - 0.05 * gb / np.sqrt(0.1 + gb ** 2 + 1e-7)

model.fit(dataset, epochs=1, steps_per_epoch=1)
np.testing.assert_allclose(model.get_weights()[0], w1, rtol=1e-4, atol=1e-6)
np.testing.assert_allclose(model.get_weights()[1], b1, rtol=1e-4, atol=1e-6)

model.fit(dataset)
result = model.evaluate(eval_dataset, return_dict=True)
print(result)

print("replicas:", strategy.num_replicas_in_sync)
assert strategy.num_replicas_in_sync >= 1
pred = np.asarray(model.predict(np.array(eval_features, np.float32), verbose=0))
np.testing.assert_allclose(result["loss"], np.mean((pred - np.array(eval_labels)) ** 2), rtol=1e-5)
