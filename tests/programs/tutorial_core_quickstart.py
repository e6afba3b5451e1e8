"""TensorFlow Core guide "Quickstart for the TensorFlow Core APIs" (guide/core/quickstart_core),
imports changed: a linear regression on the Auto MPG table with Core APIs only:
`tf.convert_to_tensor` of the table, `tf.random.shuffle(seed=)`, a one-hot of the 1-indexed
origin column (`tf.one_hot`, `tf.concat`), a `Normalize` tf.Module holding `tf.Variable`s of
`tf.math.reduce_mean` / `reduce_std`, a `LinearRegression` tf.Module that builds its weights on
its first `@tf.function` call, a batched `tf.data` pipeline and a GradientTape loop that updates
`lin_reg.variables` with `assign_sub`, then the guide's `ExportModule` with an `input_signature`.
The CSV download is replaced by a synthetic table with the same columns (pandas left out);
`tf.saved_model.save` of the export module is left out (corenn writes no SavedModels) and the
module is called directly, as the guide's reloaded one is."""
import numpy as np

import corenn as tf

print("TensorFlow version:", tf.__version__)
# Set a random seed for reproducible results
tf.random.set_seed(22)

# url = 'http://archive.ics.uci.edu/ml/machine-learning-databases/auto-mpg/auto-mpg.data'
rng = np.random.default_rng(22)
n = 392
cylinders = rng.choice([4.0, 6.0, 8.0], n)
displacement = cylinders * 40 + rng.normal(0, 20, n)
horsepower = displacement * 0.45 + rng.normal(0, 10, n)
weight = 1500 + displacement * 6 + rng.normal(0, 150, n)
acceleration = 20 - horsepower / 25 + rng.normal(0, 1, n)
model_year = rng.integers(70, 83, n).astype(float)
origin = rng.integers(1, 4, n).astype(float)
mpg = (48 - 0.007 * weight - 0.02 * horsepower + 0.6 * (model_year - 70) + 1.5 * (origin - 1)
       + rng.normal(0, 1.5, n))
dataset = np.stack([mpg, cylinders, displacement, horsepower, weight, acceleration, model_year, origin], 1)

dataset_tf = tf.convert_to_tensor(dataset, dtype=tf.float32)

dataset_shuffled = tf.random.shuffle(dataset_tf, seed=22)
train_data, test_data = dataset_shuffled[100:], dataset_shuffled[:100]
x_train, y_train = train_data[:, 1:], train_data[:, 0]
x_test, y_test = test_data[:, 1:], test_data[:, 0]
assert tuple(x_train.shape) == (292, 7) and tuple(y_test.shape) == (100,)
# a shuffle permutes the rows: the same rows, in some order
np.testing.assert_allclose(np.sort(dataset_shuffled.numpy()[:, 0]), np.sort(dataset[:, 0].astype("float32")))

def onehot_origin(x):
  origin = tf.cast(x[:, -1], tf.int32)
  # Use `origin - 1` to account for 1-indexed feature
  origin_oh = tf.one_hot(origin - 1, 3)
  x_ohe = tf.concat([x[:, :-1], origin_oh], axis = 1)
  return x_ohe

x_train_ohe, x_test_ohe = onehot_origin(x_train), onehot_origin(x_test)
print(x_train_ohe.numpy()[:2])
assert tuple(x_train_ohe.shape) == (292, 9)
np.testing.assert_array_equal(np.argmax(x_train_ohe.numpy()[:, 6:], 1) + 1, x_train.numpy()[:, -1])

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

norm_x = Normalize(x_train_ohe)
norm_y = Normalize(y_train)
x_train_norm, y_train_norm = norm_x.norm(x_train_ohe), norm_y.norm(y_train)
x_test_norm, y_test_norm = norm_x.norm(x_test_ohe), norm_y.norm(y_test)
np.testing.assert_allclose(x_train_norm.numpy().mean(0), 0, atol=1e-4)
np.testing.assert_allclose(x_train_norm.numpy().std(0), 1, atol=1e-4)
np.testing.assert_allclose(norm_y.unnorm(y_train_norm).numpy(), y_train.numpy(), rtol=1e-5)

class LinearRegression(tf.Module):

  def __init__(self):
    self.built = False

  @tf.function
  def __call__(self, x):
    # Initialize the model parameters on the first call
    if not self.built:
      # Randomly generate the weight vector and bias term
      rand_w = tf.random.uniform(shape=[x.shape[-1], 1])
      rand_b = tf.random.uniform(shape=[])
      self.w = tf.Variable(rand_w)
      self.b = tf.Variable(rand_b)
      self.built = True
    y = tf.add(tf.matmul(x, self.w), self.b)
    return tf.squeeze(y, axis=1)

lin_reg = LinearRegression()
prediction = lin_reg(x_train_norm[:1])
prediction_unnorm = norm_y.unnorm(prediction)
print(prediction_unnorm.numpy())
assert tuple(prediction.shape) == (1,) and len(lin_reg.variables) == 2

def mse_loss(y_pred, y):
  return tf.reduce_mean(tf.square(y_pred - y))

batch_size = 64
train_dataset = tf.data.Dataset.from_tensor_slices((x_train_norm, y_train_norm))
train_dataset = train_dataset.shuffle(buffer_size=x_train.shape[0]).batch(batch_size)
test_dataset = tf.data.Dataset.from_tensor_slices((x_test_norm, y_test_norm))
test_dataset = test_dataset.shuffle(buffer_size=x_test.shape[0]).batch(batch_size)

# Set training parameters
epochs = 60
learning_rate = 0.01
train_losses, test_losses = [], []

# Format training loop
for epoch in range(epochs):
  batch_losses_train, batch_losses_test = [], []

  # Iterate through the training data
  for x_batch, y_batch in train_dataset:
    with tf.GradientTape() as tape:
      y_pred_batch = lin_reg(x_batch)
      batch_loss = mse_loss(y_pred_batch, y_batch)
    # Update parameters with respect to the gradient calculations
    grads = tape.gradient(batch_loss, lin_reg.variables)
    for g,v in zip(grads, lin_reg.variables):
      v.assign_sub(learning_rate * g)
    # Keep track of batch-level training performance
    batch_losses_train.append(batch_loss)

  # Iterate through the testing data
  for x_batch, y_batch in test_dataset:
    y_pred_batch = lin_reg(x_batch)
    batch_loss = mse_loss(y_pred_batch, y_batch)
    # Keep track of batch-level testing performance
    batch_losses_test.append(batch_loss)

  # Keep track of epoch-level model performance
  train_loss = tf.reduce_mean(batch_losses_train)
  test_loss = tf.reduce_mean(batch_losses_test)
  train_losses.append(train_loss)
  test_losses.append(test_loss)
  if epoch % 10 == 0:
    print(f'Mean squared error for step {epoch}: {train_loss.numpy():0.3f}')

# Output final losses
print(f"\nFinal train loss: {train_loss:0.3f}")
print(f"Final test loss: {test_loss:0.3f}")
assert float(train_losses[-1]) < 0.5 * float(train_losses[0]), (train_losses[0], train_losses[-1])
assert float(test_loss) < 0.3

# the fitted weights approach the least-squares solution on the normalized data
X = np.concatenate([x_train_norm.numpy(), np.ones((292, 1), "float32")], 1)
lstsq = np.linalg.lstsq(X, y_train_norm.numpy(), rcond=None)[0]
pred_ls = X @ lstsq
assert float(np.mean((lin_reg(x_train_norm).numpy() - y_train_norm.numpy()) ** 2)) < np.mean(
    (pred_ls - y_train_norm.numpy()) ** 2) + 0.05

class ExportModule(tf.Module):
  def __init__(self, model, extract_features, norm_x, norm_y):
    # Initialize pre and postprocessing functions
    self.model = model
    self.extract_features = extract_features
    self.norm_x = norm_x
    self.norm_y = norm_y

  @tf.function(input_signature=[tf.TensorSpec(shape=[None, None], dtype=tf.float32)])
  def __call__(self, x):
    # Run the ExportModule for new data points
    x = self.extract_features(x)
    x = self.norm_x.norm(x)
    y = self.model(x)
    y = self.norm_y.unnorm(y)
    return y

lin_reg_export = ExportModule(model=lin_reg,
                              extract_features=onehot_origin,
                              norm_x=norm_x,
                              norm_y=norm_y)

test_preds = lin_reg_export(x_test)
print(test_preds[:10].numpy())
mae = float(tf.reduce_mean(tf.abs(test_preds - y_test)))
print("test MAE (mpg):", mae)
assert mae < 3.0, mae
