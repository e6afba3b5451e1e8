"""TensorFlow guide "Migrate metrics and optimizers" (guide/migrate/metrics_optimizers), imports
changed: the TF2 parts (the TF1 Estimator part needs tf.compat.v1.estimator, which corenn does not
have): a functional model whose output is `tf.math.argmax` of a Dense layer's logits (an integer
output), compiled with tf.keras.optimizers.Adagrad, loss='mse' and tf.keras.metrics.Accuracy(),
evaluated on a batch(1) tf.data.Dataset with return_dict=True; then a standalone Accuracy metric
accumulating update_state calls. The guide's data is used as is (it is three rows). Checked: the
evaluate dict equals the accuracy and the MSE NumPy computes from the model's own argmax
predictions, and the standalone metric gives the guide's 0.75 then 0.4166667."""
import numpy as np
import corenn as tf

features = [[1., 1.5], [2., 2.5], [3., 3.5]]
labels = [0, 0, 1]
eval_features = [[4., 4.5], [5., 5.5], [6., 6.5]]
eval_labels = [0, 1, 1]

dataset = tf.data.Dataset.from_tensor_slices((features, labels)).batch(1)
eval_dataset = tf.data.Dataset.from_tensor_slices(
      (eval_features, eval_labels)).batch(1)

inputs = tf.keras.Input((2,))
logits = tf.keras.layers.Dense(2)(inputs)
predictions = tf.math.argmax(input=logits, axis=1)
model = tf.keras.models.Model(inputs, predictions)
optimizer = tf.keras.optimizers.Adagrad(learning_rate=0.05)

model.compile(optimizer, loss='mse', metrics=[tf.keras.metrics.Accuracy()])

result = model.evaluate(eval_dataset, return_dict=True)
print(result)

# the check: what evaluate reports is what the model predicts
pred = np.asarray(model.predict(np.array(eval_features, np.float32), verbose=0))
assert pred.shape == (3,), pred.shape
y = np.array(eval_labels)
np.testing.assert_allclose(result["accuracy"], np.mean(pred == y), rtol=1e-6)
np.testing.assert_allclose(result["loss"], np.mean((pred - y) ** 2), rtol=1e-6)

accuracy = tf.keras.metrics.Accuracy()

accuracy.update_state(y_true=[0, 0, 1, 1], y_pred=[0, 0, 0, 1])
print(accuracy.result().numpy())
np.testing.assert_allclose(accuracy.result().numpy(), 0.75)

accuracy.update_state(y_true=[0, 0, 1, 1], y_pred=[0, 0, 0, 0])
accuracy.update_state(y_true=[0, 0, 1, 1], y_pred=[1, 1, 0, 0])
print(accuracy.result().numpy())
np.testing.assert_allclose(accuracy.result().numpy(), 5 / 12, rtol=1e-6)
