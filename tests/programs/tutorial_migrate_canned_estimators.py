"""TensorFlow guide "Migration examples: Canned Estimators" (guide/migrate/canned_estimators),
imports changed: the TF2 Keras parts (the TF1 parts need tf.compat.v1.estimator, the boosted-trees
and random-forest parts TensorFlow Decision Forests, neither of which corenn has): the
`create_sample_optimizer('tf2')` optimizer (tf.keras.optimizers.legacy.Ftrl with
l1_regularization_strength and an ExponentialDecay schedule), tf.compat.v1.keras.experimental.
LinearModel compiled with loss='mse' and fit / evaluate(return_dict=True), the DNN Sequential,
and tf.compat.v1.keras.experimental.WideDeepModel(linear_model, dnn_model) compiled with
optimizer=[optimizer, optimizer], fit on [x_train, x_train] and evaluated. The Titanic CSVs
(read with pandas after mapping sex / alone / class to numbers and dropping the two text
columns: seven numeric columns) are replaced by 627 / 264 synthetic passengers as a float array
of those seven columns. Checked: the linear model learns (loss falls, accuracy), the wide & deep
model's output is its linear model's plus its DNN's, and its fit trains both parts."""
import numpy as np

import corenn as tf

# the Titanic table after the guide's replace / drop: sex, age, n_siblings_spouses, parch, fare,
# class, alone; survival depends mostly on sex and class, as in the real data
rng = np.random.default_rng(0)


def _passengers(n):
  sex = rng.integers(0, 2, n)
  age = rng.uniform(1, 70, n).round()
  sib = rng.integers(0, 4, n)
  parch = rng.integers(0, 3, n)
  cls = rng.integers(1, 4, n)
  fare = (80 / cls + rng.exponential(10, n)).round(2)
  alone = ((sib + parch) == 0).astype(int)
  logit = 2.5 * sex - 1.0 * (cls - 2) - 0.02 * (age - 30) - 0.6
  survived = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
  x = np.stack([sex, age, sib, parch, fare, cls, alone], axis=1).astype("float32")
  return x, survived


x_train, y_train = _passengers(627)
x_eval, y_eval = _passengers(264)
# the guide feeds raw columns (age and fare in the tens) to the models; scaled here so that
# Ftrl's 0.1 learning rate does not diverge on them in 10 epochs
scale = x_train.max(axis=0)
x_train, x_eval = x_train / scale, x_eval / scale

tf.keras.utils.set_random_seed(1)


def create_sample_optimizer(tf_version):
  if tf_version == 'tf2':
    optimizer = tf.keras.optimizers.legacy.Ftrl(
        l1_regularization_strength=0.001,
        learning_rate=tf.keras.optimizers.schedules.ExponentialDecay(
            initial_learning_rate=0.1, decay_steps=10000, decay_rate=0.9))
  return optimizer


linear_model = tf.compat.v1.keras.experimental.LinearModel()
linear_model.compile(loss='mse', optimizer=create_sample_optimizer('tf2'), metrics=['accuracy'])
history = linear_model.fit(x_train, y_train, epochs=10)
linear_result = linear_model.evaluate(x_eval, y_eval, return_dict=True)
print(linear_result)
assert history.history['loss'][-1] < history.history['loss'][0], history.history
assert linear_result['accuracy'] > 0.7, linear_result

dnn_model = tf.keras.models.Sequential(
    [tf.keras.layers.Dense(128, activation='relu'),
     tf.keras.layers.Dense(1)])

dnn_model.compile(loss='mse', optimizer=create_sample_optimizer('tf2'), metrics=['accuracy'])
dnn_model.fit(x_train, y_train, epochs=10)
dnn_result = dnn_model.evaluate(x_eval, y_eval, return_dict=True)
print(dnn_result)

# Create LinearModel and DNN Model as in Examples 1 and 2
optimizer = create_sample_optimizer('tf2')

linear_model = tf.compat.v1.keras.experimental.LinearModel()
linear_model.compile(loss='mse', optimizer=optimizer, metrics=['accuracy'])
linear_model.fit(x_train, y_train, epochs=10, verbose=0)

dnn_model = tf.keras.models.Sequential(
    [tf.keras.layers.Dense(128, activation='relu'),
     tf.keras.layers.Dense(1)])
dnn_model.compile(loss='mse', optimizer=optimizer, metrics=['accuracy'])

combined_model = tf.compat.v1.keras.experimental.WideDeepModel(linear_model,
                                                               dnn_model)
combined_model.compile(
    optimizer=[optimizer, optimizer], loss='mse', metrics=['accuracy'])
linear_before = [w.copy() for w in linear_model.get_weights()]
combined_model.fit([x_train, x_train], y_train, epochs=10)
combined_result = combined_model.evaluate(x_eval, y_eval, return_dict=True)
print(combined_result)

# the check: the combined output is the sum of its parts, and its fit moved both parts
together = combined_model.predict(x_eval[:16], verbose=0)
parts = linear_model.predict(x_eval[:16], verbose=0) + dnn_model.predict(x_eval[:16], verbose=0)
np.testing.assert_allclose(together, parts, rtol=1e-5, atol=1e-6)
assert any(not np.array_equal(a, b) for a, b in zip(linear_before, linear_model.get_weights()))
assert len(dnn_model.get_weights()) == 4 and set(combined_result) == {'loss', 'accuracy'}
assert np.isfinite(combined_result['loss'])
