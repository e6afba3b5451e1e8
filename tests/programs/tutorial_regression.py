"""TensorFlow tutorial keras/regression (fuel efficiency), imports changed; the Auto MPG
data frame is replaced by synthetic arrays with the same columns (no pandas)."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

print(tf.__version__)
tf.keras.utils.set_random_seed(0)

rng = np.random.default_rng(2)
n = 300
horsepower = rng.uniform(46, 230, n)
weight = rng.uniform(1600, 5100, n)
cylinders = rng.choice([4, 6, 8], n).astype(float)
mpg = 50 - 0.08 * horsepower - 0.004 * weight - 0.3 * cylinders + rng.normal(0, 1.0, n)
features = np.stack([cylinders, horsepower, weight], axis=1)
train_features, test_features = features[:240], features[240:]
train_labels, test_labels = mpg[:240], mpg[240:]

# The Normalization layer
normalizer = tf.keras.layers.Normalization(axis=-1)
normalizer.adapt(np.array(train_features))
print(normalizer.mean.numpy())
np.testing.assert_allclose(normalizer.mean.numpy().reshape(-1), train_features.mean(0), rtol=1e-4)
first = np.array(train_features[:1])
normalized = normalizer(first).numpy()
np.testing.assert_allclose(normalized, (first - train_features.mean(0)) / train_features.std(0),
                           rtol=1e-3, atol=1e-4)

# Linear regression with one variable
horsepower_train = np.array(train_features[:, 1])
horsepower_normalizer = layers.Normalization(input_shape=[1,], axis=None)
horsepower_normalizer.adapt(horsepower_train)

horsepower_model = tf.keras.Sequential([
    horsepower_normalizer,
    layers.Dense(units=1)
])
horsepower_model.summary()
assert horsepower_model.predict(horsepower_train[:10]).shape == (10, 1)

horsepower_model.compile(
    optimizer=tf.keras.optimizers.Adam(learning_rate=0.1),
    loss='mean_absolute_error')
history = horsepower_model.fit(
    train_features[:, 1],
    train_labels,
    epochs=100,
    # Suppress logging.
    verbose=0,
    # Calculate validation results on 20% of the training data.
    validation_split = 0.2)
assert history.history['loss'][-1] < history.history['loss'][0]

x = tf.linspace(0.0, 250, 251)
y = horsepower_model.predict(x)
assert y.shape == (251, 1)

test_results = {}
test_results['horsepower_model'] = horsepower_model.evaluate(
    test_features[:, 1],
    test_labels, verbose=0)

# Linear regression with multiple inputs
linear_model = tf.keras.Sequential([
    normalizer,
    layers.Dense(units=1)
])
linear_model.compile(
    optimizer=tf.keras.optimizers.Adam(learning_rate=0.1),
    loss='mean_absolute_error')
linear_model.fit(train_features, train_labels, epochs=100, verbose=0, validation_split=0.2)
test_results['linear_model'] = linear_model.evaluate(test_features, test_labels, verbose=0)

# Regression with a deep neural network (DNN)
def build_and_compile_model(norm):
  model = keras.Sequential([
      norm,
      layers.Dense(64, activation='relu'),
      layers.Dense(64, activation='relu'),
      layers.Dense(1)
  ])

  model.compile(loss='mean_absolute_error',
                optimizer=tf.keras.optimizers.Adam(0.001))
  return model

dnn_model = build_and_compile_model(normalizer)
dnn_model.fit(train_features, train_labels, validation_split=0.2, verbose=0, epochs=100)
test_results['dnn_model'] = dnn_model.evaluate(test_features, test_labels, verbose=0)
print(test_results)

test_predictions = dnn_model.predict(test_features).flatten()
error = test_predictions - test_labels
# the noise is N(0, 1): a good fit has a mean absolute error near 0.8
assert test_results['linear_model'] < 1.5, test_results
assert test_results['dnn_model'] < 2.0, test_results
assert np.isclose(np.mean(np.abs(error)), test_results['dnn_model'], rtol=1e-4)

dnn_model.save('dnn_model.keras')
reloaded = tf.keras.models.load_model('dnn_model.keras')
reloaded_result = reloaded.evaluate(test_features, test_labels, verbose=0)
assert np.isclose(reloaded_result, test_results['dnn_model'], rtol=1e-5)
