"""TensorFlow tutorial customization/custom_training_walkthrough (penguin classification with a
GradientTape loop), imports changed. The penguins CSV read by make_csv_dataset is replaced by
synthetic measurements in a dict of feature columns, batched by hand; the loop, metrics and
predictions are the tutorial's."""
import numpy as np

import corenn as tf

print("TensorFlow version: {}".format(tf.__version__))
tf.random.set_seed(0)

column_names = ['species', 'culmen_length_mm', 'culmen_depth_mm', 'flipper_length_mm', 'body_mass_g']
feature_names = column_names[1:]
label_name = column_names[0]
class_names = ['Adelie', 'Chinstrap', 'Gentoo']

rng = np.random.default_rng(12)
centres = np.array([[0.25, 0.65, 0.25, 0.20], [0.65, 0.65, 0.35, 0.25], [0.55, 0.20, 0.80, 0.75]])


def penguins(n):
    species = rng.integers(0, 3, n)
    values = centres[species] + rng.normal(0, 0.05, (n, 4))
    return {name: values[:, j].astype("float32") for j, name in enumerate(feature_names)}, species


def pack_features_vector(features, labels):
  """Pack the features into a single array."""
  features = tf.stack(list(features.values()), axis=1)
  return features, labels


batch_size = 32
train_features, train_labels = pack_features_vector(*penguins(320))
assert train_features.shape == (320, 4)
train_batches = [(train_features[i:i + batch_size], train_labels[i:i + batch_size])
                 for i in range(0, 320, batch_size)]
features, labels = train_batches[0]

model = tf.keras.Sequential([
  tf.keras.layers.Dense(10, activation=tf.nn.relu, input_shape=(4,)),  # input shape required
  tf.keras.layers.Dense(10, activation=tf.nn.relu),
  tf.keras.layers.Dense(3)
])

predictions = model(features)
print(predictions[:5])
print(tf.nn.softmax(predictions[:5]))
print("Prediction: {}".format(tf.math.argmax(predictions, axis=1)))
print("    Labels: {}".format(labels))

loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def loss(model, x, y, training):
  # training=training is needed only if there are layers with different
  # behavior during training versus inference (e.g. Dropout).
  y_ = model(x, training=training)

  return loss_object(y_true=y, y_pred=y_)


l = loss(model, features, labels, training=False)
print("Loss test: {}".format(l))


def grad(model, inputs, targets):
  with tf.GradientTape() as tape:
    loss_value = loss(model, inputs, targets, training=True)
  return loss_value, tape.gradient(loss_value, model.trainable_variables)


optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)

loss_value, grads = grad(model, features, labels)
print("Step: {}, Initial Loss: {}".format(optimizer.iterations.numpy(),
                                          loss_value.numpy()))
optimizer.apply_gradients(zip(grads, model.trainable_variables))
print("Step: {},         Loss: {}".format(optimizer.iterations.numpy(),
                                          loss(model, features, labels, training=True).numpy()))

## Note: Rerunning this cell uses the same model parameters

# Keep results for plotting
train_loss_results = []
train_accuracy_results = []

num_epochs = 121

for epoch in range(num_epochs):
  epoch_loss_avg = tf.keras.metrics.Mean()
  epoch_accuracy = tf.keras.metrics.SparseCategoricalAccuracy()

  # Training loop - using batches of 32
  for x, y in train_batches:
    # Optimize the model
    loss_value, grads = grad(model, x, y)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))

    # Track progress
    epoch_loss_avg.update_state(loss_value)  # Add current batch loss
    # Compare predicted label to actual label
    # training=True is needed only if there are layers with different
    # behavior during training versus inference (e.g. Dropout).
    epoch_accuracy.update_state(y, model(x, training=True))

  # End epoch
  train_loss_results.append(epoch_loss_avg.result())
  train_accuracy_results.append(epoch_accuracy.result())

  if epoch % 50 == 0:
    print("Epoch {:03d}: Loss: {:.3f}, Accuracy: {:.3%}".format(epoch,
                                                                epoch_loss_avg.result(),
                                                                epoch_accuracy.result()))

assert train_loss_results[-1] < train_loss_results[0]

test_features, test_labels = pack_features_vector(*penguins(100))
test_accuracy = tf.keras.metrics.Accuracy()
ds_test_batch = [(test_features[i:i + batch_size], test_labels[i:i + batch_size]) for i in range(0, 100, batch_size)]

for (x, y) in ds_test_batch:
  # training=False is needed only if there are layers with different
  # behavior during training versus inference (e.g. Dropout).
  logits = model(x, training=False)
  prediction = tf.math.argmax(logits, axis=1, output_type=tf.int64)
  test_accuracy(prediction, y)

print("Test set accuracy: {:.3%}".format(test_accuracy.result()))
assert test_accuracy.result() > 0.8, test_accuracy.result()
print(tf.stack([y, prediction], axis=1))

predict_dataset = tf.convert_to_tensor([
    [0.3, 0.8, 0.4, 0.5,],
    [0.4, 0.1, 0.8, 0.5,],
    [0.7, 0.9, 0.8, 0.4]
])
# (for the synthetic data: the three species' centres, whose classes are known)
predict_dataset = tf.convert_to_tensor(centres.astype("float32"))

# training=False is needed only if there are layers with different
# behavior during training versus inference (e.g. Dropout).
predictions = model(predict_dataset, training=False)

names = []
for i, logits in enumerate(predictions):
  class_idx = tf.math.argmax(logits).numpy()
  p = tf.nn.softmax(logits)[class_idx]
  name = class_names[class_idx]
  names.append(name)
  print("Example {} prediction: {} ({:4.1f}%)".format(i, name, 100*p))
assert names == class_names, names
