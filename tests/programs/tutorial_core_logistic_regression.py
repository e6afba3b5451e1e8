"""TensorFlow Core guide "Logistic regression for binary classification with Core APIs"
(guide/core/logistic_regression_core), imports changed: a Normalize tf.Module, a logistic
regression tf.Module built on first call, tf.nn.sigmoid_cross_entropy_with_logits, a
hand-written training loop over a shuffled tf.data pipeline, accuracy and
tf.math.confusion_matrix, and an ExportModule with a tf.function input_signature. The
breast-cancer CSV (read with pandas in the guide) is replaced by two overlapping Gaussian classes
made with NumPy; the guide's tf.saved_model.save / load of the ExportModule is left out (a
SavedModel is a TensorFlow graph: corenn raises, naming model.save / export instead), so the
module is called directly."""
import numpy as np

import corenn as tf

tf.random.set_seed(22)
rng = np.random.default_rng(22)
n, d = 400, 6
y_all = rng.integers(0, 2, n).astype("float32")
x_all = (rng.normal(size=(n, d)) * [1, 2, 3, 1, 2, 3] + y_all[:, None] * [2, 1, 3, 0, -2, 1] + 5).astype("float32")
train_n = int(0.75 * n)
x_train, y_train = tf.convert_to_tensor(x_all[:train_n]), tf.convert_to_tensor(y_all[:train_n])
x_test, y_test = tf.convert_to_tensor(x_all[train_n:]), tf.convert_to_tensor(y_all[train_n:])


class Normalize(tf.Module):
  def __init__(self, x):
    # Initialize the mean and standard deviation for normalization
    self.mean = tf.Variable(tf.math.reduce_mean(x, axis=0))
    self.std = tf.Variable(tf.math.reduce_std(x, axis=0))

  def norm(self, x):
    # Normalize the input
    return (x - self.mean)/self.std

  def unnorm(self, x):
    # Unnormalize the input
    return (x * self.std) + self.mean


norm_x = Normalize(x_train)
x_train_norm, x_test_norm = norm_x.norm(x_train), norm_x.norm(x_test)
np.testing.assert_allclose(np.asarray(tf.math.reduce_mean(x_train_norm, axis=0)), np.zeros(d), atol=1e-5)
np.testing.assert_allclose(np.asarray(norm_x.unnorm(x_train_norm)), x_all[:train_n], rtol=1e-5, atol=1e-4)

x = tf.linspace(-10, 10, 500)
x = tf.cast(x, tf.float32)
f = lambda x : (1/20)*x + 0.6
np.testing.assert_allclose(np.asarray(tf.math.sigmoid(x))[[0, -1]], 1 / (1 + np.exp([10.0, -10.0])), rtol=1e-5)


def log_loss(y_pred, y):
  # Compute the log loss function
  ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=y_pred)
  return tf.reduce_mean(ce)


class LogisticRegression(tf.Module):

  def __init__(self):
    self.built = False

  def __call__(self, x, train=True):
    # Initialize the model parameters on the first call
    if not self.built:
      # Randomly generate the weights and the bias term
      rand_w = tf.random.uniform(shape=[x.shape[-1], 1], seed=22)
      rand_b = tf.random.uniform(shape=[], seed=22)
      self.w = tf.Variable(rand_w)
      self.b = tf.Variable(rand_b)
      self.built = True
    # Compute the model output
    z = tf.add(tf.matmul(x, self.w), self.b)
    z = tf.squeeze(z, axis=1)
    if train:
      return z
    return tf.sigmoid(z)


log_reg = LogisticRegression()
y_pred = log_reg(x_train_norm[:5], train=False)
assert y_pred.shape == (5,) and np.all((np.asarray(y_pred) > 0) & (np.asarray(y_pred) < 1))
assert len(log_reg.variables) == 2 and len(log_reg.trainable_variables) == 2

# the loss against its formula
logits = np.asarray(log_reg(x_train_norm[:5]), "float64")
want = np.mean(np.maximum(logits, 0) - logits * y_all[:5] + np.log1p(np.exp(-np.abs(logits))))
np.testing.assert_allclose(float(log_loss(log_reg(x_train_norm[:5]), y_train[:5])), want, rtol=1e-5)


def predict_class(y_pred, thresh=0.5):
  # Return a tensor with  `1` if `y_pred` > `0.5`, and `0` otherwise
  return tf.cast(y_pred > thresh, tf.float32)

def accuracy(y_pred, y):
  # Return the proportion of matches between `y_pred` and `y`
  y_pred = tf.math.sigmoid(y_pred)
  y_pred_class = predict_class(y_pred)
  check_equal = tf.cast(y_pred_class == y,tf.float32)
  acc_val = tf.reduce_mean(check_equal)
  return acc_val


batch_size = 64
train_dataset = tf.data.Dataset.from_tensor_slices((x_train_norm, y_train))
train_dataset = train_dataset.shuffle(buffer_size=x_train.shape[0]).batch(batch_size)
test_dataset = tf.data.Dataset.from_tensor_slices((x_test_norm, y_test))
test_dataset = test_dataset.shuffle(buffer_size=x_test.shape[0]).batch(batch_size)

# Set training parameters
epochs = 200
learning_rate = 0.01
train_losses, test_losses = [], []
train_accs, test_accs = [], []

# Set up the training loop and begin training
for epoch in range(epochs):
  batch_losses_train, batch_accs_train = [], []
  batch_losses_test, batch_accs_test = [], []

  # Iterate over the training data
  for x_batch, y_batch in train_dataset:
    with tf.GradientTape() as tape:
      y_pred_batch = log_reg(x_batch)
      batch_loss = log_loss(y_pred_batch, y_batch)
    batch_acc = accuracy(y_pred_batch, y_batch)
    # Update the parameters with respect to the gradient calculations
    grads = tape.gradient(batch_loss, log_reg.variables)
    for g,v in zip(grads, log_reg.variables):
      v.assign_sub(learning_rate * g)
    # Keep track of batch-level training performance
    batch_losses_train.append(batch_loss)
    batch_accs_train.append(batch_acc)

  # Iterate over the testing data
  for x_batch, y_batch in test_dataset:
    y_pred_batch = log_reg(x_batch)
    batch_loss = log_loss(y_pred_batch, y_batch)
    batch_acc = accuracy(y_pred_batch, y_batch)
    # Keep track of batch-level testing performance
    batch_losses_test.append(batch_loss)
    batch_accs_test.append(batch_acc)

  # Keep track of epoch-level model performance
  train_loss, train_acc = tf.reduce_mean(batch_losses_train), tf.reduce_mean(batch_accs_train)
  test_loss, test_acc = tf.reduce_mean(batch_losses_test), tf.reduce_mean(batch_accs_test)
  train_losses.append(train_loss)
  train_accs.append(train_acc)
  test_losses.append(test_loss)
  test_accs.append(test_acc)
  if epoch % 50 == 0:
    print(f"Epoch: {epoch}, Training log loss: {train_loss:.3f}")

print(f"Final training log loss: {train_losses[-1]:.3f}")
print(f"Final testing log Loss: {test_losses[-1]:.3f}")
assert float(train_losses[-1]) < 0.5 * float(train_losses[0])
assert float(test_accs[-1]) > 0.85 and float(train_accs[-1]) > 0.85

y_pred_train, y_pred_test = log_reg(x_train_norm, train=False), log_reg(x_test_norm, train=False)
train_classes, test_classes = predict_class(y_pred_train), predict_class(y_pred_test)
cm = tf.math.confusion_matrix(tf.cast(y_test, tf.int32), tf.cast(test_classes, tf.int32), num_classes=2)
cm = np.asarray(cm)
assert cm.shape == (2, 2) and cm.sum() == n - train_n
assert (cm[0, 0] + cm[1, 1]) / cm.sum() > 0.85


class ExportModule(tf.Module):
  def __init__(self, model, norm_x, class_pred):
    # Initialize pre- and post-processing functions
    self.model = model
    self.norm_x = norm_x
    self.class_pred = class_pred

  @tf.function(input_signature=[tf.TensorSpec(shape=[None, None], dtype=tf.float32)])
  def __call__(self, x):
    # Run the `ExportModule` for new data points
    x = self.norm_x.norm(x)
    y = self.model(x, train=False)
    y = self.class_pred(y)
    return y


log_reg_export = ExportModule(model=log_reg,
                              norm_x=norm_x,
                              class_pred=predict_class)
test_preds = log_reg_export(x_test)
print(test_preds[:10].numpy())
np.testing.assert_array_equal(np.asarray(test_preds), np.asarray(test_classes))
