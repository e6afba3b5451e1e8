"""TensorFlow tutorial quickstart/advanced ("TensorFlow 2 quickstart for experts"), imports
changed (`import tensorflow as tf` -> `import corenn as tf`, `from tensorflow.keras...` -> `from
corenn.keras...`): `tf.newaxis` on the images, `tf.data.Dataset.from_tensor_slices(...)
.shuffle(10000).batch(32)`, a subclassed `Model` (Conv2D, Flatten, Dense), `@tf.function` train
and test steps with a GradientTape, `Mean` / `SparseCategoricalAccuracy` metrics reset with
`reset_state()` each epoch. MNIST is replaced by a small synthetic set of 28x28 "digits"."""
import numpy as np

import corenn as tf
print("TensorFlow version:", tf.__version__)

from corenn.keras.layers import Dense, Flatten, Conv2D
from corenn.keras import Model

tf.random.set_seed(1)

# mnist = tf.keras.datasets.mnist; (x_train, y_train), (x_test, y_test) = mnist.load_data()
rng = np.random.default_rng(1)
templates = rng.integers(0, 256, size=(10, 28, 28))
y_train, y_test = rng.integers(0, 10, 640).astype("uint8"), rng.integers(0, 10, 160).astype("uint8")
x_train = np.clip(templates[y_train] + rng.normal(0, 70, (640, 28, 28)), 0, 255).astype("uint8")
x_test = np.clip(templates[y_test] + rng.normal(0, 70, (160, 28, 28)), 0, 255).astype("uint8")
x_train, x_test = x_train / 255.0, x_test / 255.0

# Add a channels dimension
x_train = x_train[..., tf.newaxis].astype("float32")
x_test = x_test[..., tf.newaxis].astype("float32")

train_ds = tf.data.Dataset.from_tensor_slices(
    (x_train, y_train)).shuffle(10000).batch(32)

test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(32)

class MyModel(Model):
  def __init__(self):
    super().__init__()
    self.conv1 = Conv2D(8, 3, activation='relu')
    self.flatten = Flatten()
    self.d1 = Dense(32, activation='relu')
    self.d2 = Dense(10)

  def call(self, x):
    x = self.conv1(x)
    x = self.flatten(x)
    x = self.d1(x)
    return self.d2(x)

# Create an instance of the model
model = MyModel()

loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

optimizer = tf.keras.optimizers.Adam()

train_loss = tf.keras.metrics.Mean(name='train_loss')
train_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name='train_accuracy')

test_loss = tf.keras.metrics.Mean(name='test_loss')
test_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name='test_accuracy')

@tf.function
def train_step(images, labels):
  with tf.GradientTape() as tape:
    # training=True is only needed if there are layers with different
    # behavior during training versus inference (e.g. Dropout).
    predictions = model(images, training=True)
    loss = loss_object(labels, predictions)
  gradients = tape.gradient(loss, model.trainable_variables)
  optimizer.apply_gradients(zip(gradients, model.trainable_variables))

  train_loss(loss)
  train_accuracy(labels, predictions)

@tf.function
def test_step(images, labels):
  # training=False is only needed if there are layers with different
  # behavior during training versus inference (e.g. Dropout).
  predictions = model(images, training=False)
  t_loss = loss_object(labels, predictions)

  test_loss(t_loss)
  test_accuracy(labels, predictions)

EPOCHS = 4
history = []
for epoch in range(EPOCHS):
  # Reset the metrics at the start of the next epoch
  train_loss.reset_state()
  train_accuracy.reset_state()
  test_loss.reset_state()
  test_accuracy.reset_state()

  for images, labels in train_ds:
    train_step(images, labels)

  for test_images, test_labels in test_ds:
    test_step(test_images, test_labels)

  print(
    f'Epoch {epoch + 1}, '
    f'Loss: {train_loss.result():0.2f}, '
    f'Accuracy: {train_accuracy.result() * 100:0.2f}, '
    f'Test Loss: {test_loss.result():0.2f}, '
    f'Test Accuracy: {test_accuracy.result() * 100:0.2f}'
  )
  history.append((float(train_loss.result()), float(test_accuracy.result())))

assert history[-1][0] < history[0][0], history
assert history[-1][1] > 0.8, history
# the metric agrees with the accuracy computed from the model's logits
logits = model(x_test, training=False).numpy()
assert abs(float(test_accuracy.result()) - np.mean(np.argmax(logits, 1) == y_test)) < 1e-6
# 8 filters of 3x3x1 (+8), a 26*26*8 -> 32 dense layer, a 32 -> 10 dense layer
assert sum(int(np.prod(v.shape)) for v in model.trainable_variables) == 80 + 26 * 26 * 8 * 32 + 32 + 330
