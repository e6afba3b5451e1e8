"""TensorFlow tutorial quickstart/beginner, imports changed (`import tensorflow as tf` ->
`import corenn as tf`); MNIST replaced by a small synthetic set of 28x28 "digits"."""
import numpy as np

import corenn as tf

print("TensorFlow version:", tf.__version__)
tf.random.set_seed(0)

# mnist = tf.keras.datasets.mnist; (x_train, y_train), (x_test, y_test) = mnist.load_data()
rng = np.random.default_rng(0)
templates = rng.integers(0, 256, size=(10, 28, 28))
y_train, y_test = rng.integers(0, 10, 600), rng.integers(0, 10, 200)
x_train = np.clip(templates[y_train] + rng.normal(0, 60, (600, 28, 28)), 0, 255).astype("uint8")
x_test = np.clip(templates[y_test] + rng.normal(0, 60, (200, 28, 28)), 0, 255).astype("uint8")
x_train, x_test = x_train / 255.0, x_test / 255.0

model = tf.keras.models.Sequential([
  tf.keras.layers.Flatten(input_shape=(28, 28)),
  tf.keras.layers.Dense(128, activation='relu'),
  tf.keras.layers.Dropout(0.2),
  tf.keras.layers.Dense(10)
])

predictions = model(x_train[:1]).numpy()
print(predictions)
probabilities = tf.nn.softmax(predictions).numpy()
assert probabilities.shape == (1, 10) and np.isclose(probabilities.sum(), 1.0, atol=1e-5)

loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
untrained = loss_fn(y_train[:1], predictions).numpy()
# an untrained model gives each class about 1/10: the loss is near -log(1/10) ~ 2.3
assert 1.0 < untrained < 4.0, untrained

model.compile(optimizer='adam',
              loss=loss_fn,
              metrics=['accuracy'])
model.fit(x_train, y_train, epochs=5, verbose=0)
loss, accuracy = model.evaluate(x_test,  y_test, verbose=2)
assert accuracy > 0.9, accuracy

probability_model = tf.keras.Sequential([
  model,
  tf.keras.layers.Softmax()
])
probs = probability_model(x_test[:5])
assert probs.shape == (5, 10)
np.testing.assert_allclose(tf.reduce_sum(probs, axis=1).numpy(), np.ones(5), rtol=1e-5)
np.testing.assert_allclose(probs.numpy(), tf.nn.softmax(model(x_test[:5])).numpy(), rtol=1e-5, atol=1e-6)
