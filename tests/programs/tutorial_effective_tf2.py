"""TensorFlow guide "Effective TensorFlow 2" (guide/effective_tf2), imports changed: a tf.data
pipeline (map a scale function, shuffle, batch, take STEPS_PER_EPOCH), a Sequential CNN with an
l2 kernel_regularizer, Dropout and BatchNormalization fit and evaluated; the same model trained by
a `@tf.function` step that adds `tf.math.add_n(model.losses)` to the loss; a subclassed
DynamicRNN whose `call` carries `@tf.function(input_signature=[tf.TensorSpec(...)])` and loops an
LSTMCell over `tf.range(timesteps)` into a tf.TensorArray (`super().__init__(self)` as the page
writes it); CategoricalCrossentropy(from_logits=True) called on lists; Mean /
SparseCategoricalAccuracy metrics updated in the step and reset each epoch (reset_states); and
compile with metrics ['acc', 'accuracy', SparseCategoricalAccuracy(name="my_accuracy")] whose
history keys are read. A 320 / 320 image Fashion-MNIST subset (guide_data, channel axis added as
tfds' MNIST has it) stands in for tfds' MNIST; NUM_EPOCHS 5 -> 3, STEPS_PER_EPOCH 5 is the page's.
Checked: the cross-entropy value, the DynamicRNN against the same LSTMCell stepped by hand, the
metrics against NumPy, and the history keys."""
import numpy as np
import corenn as tf
from guide_data import fashion

tf.random.set_seed(0)

(x_train, y_train), (x_test, y_test) = fashion(320, 320)
# tfds.load(name='mnist', as_supervised=True): (28, 28, 1) uint8 images, int64 labels
mnist_train = tf.data.Dataset.from_tensor_slices((x_train[..., None], y_train.astype("int64")))
mnist_test = tf.data.Dataset.from_tensor_slices((x_test[..., None], y_test.astype("int64")))

BUFFER_SIZE = 10 # Use a much larger value for real code
BATCH_SIZE = 64
NUM_EPOCHS = 3


def scale(image, label):
  image = tf.cast(image, tf.float32)
  image /= 255

  return image, label

train_data = mnist_train.map(scale).shuffle(BUFFER_SIZE).batch(BATCH_SIZE)
test_data = mnist_test.map(scale).batch(BATCH_SIZE)

STEPS_PER_EPOCH = 5

train_data = train_data.take(STEPS_PER_EPOCH)
test_data = test_data.take(STEPS_PER_EPOCH)

image_batch, label_batch = next(iter(train_data))
assert tuple(image_batch.shape) == (64, 28, 28, 1) and float(tf.reduce_max(image_batch)) <= 1.0

model = tf.keras.Sequential([
    tf.keras.layers.Conv2D(32, 3, activation='relu',
                           kernel_regularizer=tf.keras.regularizers.l2(0.02),
                           input_shape=(28, 28, 1)),
    tf.keras.layers.MaxPooling2D(),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dropout(0.1),
    tf.keras.layers.Dense(64, activation='relu'),
    tf.keras.layers.BatchNormalization(),
    tf.keras.layers.Dense(10)
])

# Model is the full model w/o custom layers
model.compile(optimizer='adam',
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=['accuracy'])

model.fit(train_data, epochs=NUM_EPOCHS)
loss, acc = model.evaluate(test_data)

print("Loss {}, Accuracy {}".format(loss, acc))

model = tf.keras.Sequential([
    tf.keras.layers.Conv2D(32, 3, activation='relu',
                           kernel_regularizer=tf.keras.regularizers.l2(0.02),
                           input_shape=(28, 28, 1)),
    tf.keras.layers.MaxPooling2D(),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dropout(0.1),
    tf.keras.layers.Dense(64, activation='relu'),
    tf.keras.layers.BatchNormalization(),
    tf.keras.layers.Dense(10)
])

optimizer = tf.keras.optimizers.Adam(0.001)
loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

@tf.function
def train_step(inputs, labels):
  with tf.GradientTape() as tape:
    predictions = model(inputs, training=True)
    regularization_loss=tf.math.add_n(model.losses)
    pred_loss=loss_fn(labels, predictions)
    total_loss=pred_loss + regularization_loss

  gradients = tape.gradient(total_loss, model.trainable_variables)
  optimizer.apply_gradients(zip(gradients, model.trainable_variables))

kernel_before = model.layers[0].kernel.numpy().copy()
for epoch in range(NUM_EPOCHS):
  for inputs, labels in train_data:
    train_step(inputs, labels)
  print("Finished epoch", epoch)
assert not np.allclose(model.layers[0].kernel.numpy(), kernel_before)
# the l2 penalty the step adds: 0.02 * sum(kernel ** 2)
np.testing.assert_allclose(float(tf.math.add_n(model.losses)),
                           0.02 * np.sum(model.layers[0].kernel.numpy() ** 2), rtol=1e-4)


class DynamicRNN(tf.keras.Model):

  def __init__(self, rnn_cell):
    super(DynamicRNN, self).__init__(self)
    self.cell = rnn_cell

  @tf.function(input_signature=[tf.TensorSpec(dtype=tf.float32, shape=[None, None, 3])])
  def call(self, input_data):

    # [batch, time, features] -> [time, batch, features]
    input_data = tf.transpose(input_data, [1, 0, 2])
    timesteps =  tf.shape(input_data)[0]
    batch_size = tf.shape(input_data)[1]
    outputs = tf.TensorArray(tf.float32, timesteps)
    state = self.cell.get_initial_state(batch_size = batch_size, dtype=tf.float32)
    for i in tf.range(timesteps):
      output, state = self.cell(input_data[i], state)
      outputs = outputs.write(i, output)
    return tf.transpose(outputs.stack(), [1, 0, 2]), state

lstm_cell = tf.keras.layers.LSTMCell(units = 13)

my_rnn = DynamicRNN(lstm_cell)
sequence = tf.random.normal(shape=[10,20,3])
outputs, state = my_rnn(sequence)
print(outputs.shape)
assert tuple(outputs.shape) == (10, 20, 13)

# the same cell stepped by hand in NumPy (Keras' LSTM gates i, f, c, o)
kernel, recurrent, bias = [w.numpy() for w in lstm_cell.weights]
sig = lambda z: 1 / (1 + np.exp(-z))
h = np.zeros((10, 13)); c = np.zeros((10, 13))
for t in range(20):
  z = sequence.numpy()[:, t] @ kernel + h @ recurrent + bias
  i_, f_, g_, o_ = np.split(z, 4, axis=-1)
  c = sig(f_) * c + sig(i_) * np.tanh(g_)
  h = sig(o_) * np.tanh(c)
np.testing.assert_allclose(outputs.numpy()[:, -1], h, rtol=1e-4, atol=1e-5)
np.testing.assert_allclose(state[1].numpy(), c, rtol=1e-4, atol=1e-5)

cce = tf.keras.losses.CategoricalCrossentropy(from_logits=True)
value = cce([[1, 0]], [[-1.0,3.0]]).numpy()
print(value)
np.testing.assert_allclose(value, 4.01815, rtol=1e-5)   # the value the page shows

# Create the metrics
loss_metric = tf.keras.metrics.Mean(name='train_loss')
accuracy_metric = tf.keras.metrics.SparseCategoricalAccuracy(name='train_accuracy')

@tf.function
def train_step(inputs, labels):
  with tf.GradientTape() as tape:
    predictions = model(inputs, training=True)
    regularization_loss=tf.math.add_n(model.losses)
    pred_loss=loss_fn(labels, predictions)
    total_loss=pred_loss + regularization_loss

  gradients = tape.gradient(total_loss, model.trainable_variables)
  optimizer.apply_gradients(zip(gradients, model.trainable_variables))
  # Update the metrics
  loss_metric.update_state(total_loss)
  accuracy_metric.update_state(labels, predictions)
  seen.append((float(total_loss), np.asarray(labels), predictions.numpy()))


for epoch in range(NUM_EPOCHS):
  # Reset the metrics
  loss_metric.reset_states()
  accuracy_metric.reset_states()
  seen = []

  for inputs, labels in train_data:
    train_step(inputs, labels)
  # Get the metric results
  mean_loss=loss_metric.result()
  mean_accuracy = accuracy_metric.result()

  print('Epoch: ', epoch)
  print('  loss:     {:.3f}'.format(mean_loss))
  print('  accuracy: {:.3f}'.format(mean_accuracy))

# the last epoch's metrics, from what each step saw
np.testing.assert_allclose(float(mean_loss), np.mean([s[0] for s in seen]), rtol=1e-5)
hits = np.concatenate([s[2].argmax(-1) == s[1] for s in seen])
np.testing.assert_allclose(float(mean_accuracy), hits.mean(), rtol=1e-6)

model.compile(
    optimizer = tf.keras.optimizers.Adam(0.001),
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics = ['acc', 'accuracy', tf.keras.metrics.SparseCategoricalAccuracy(name="my_accuracy")])
history = model.fit(train_data)

print(history.history.keys())
assert sorted(history.history.keys()) == ['acc', 'accuracy', 'loss', 'my_accuracy'], history.history.keys()
assert history.history['acc'] == history.history['accuracy'] == history.history['my_accuracy']
