"""Keras guide "Writing a training loop from scratch in TensorFlow"
(keras.io/guides/writing_a_custom_training_loop_in_tensorflow) as one program, imports changed
only (`import tensorflow as tf` -> `import corenn as tf`, `import keras` -> `from corenn import
keras`): the eager loop over a tf.data dataset with tf.GradientTape, the same loop with a
training metric reset at each epoch end and a validation loop, the tf.function-compiled
train_step / test_step, and a layer's add_loss collected through model.losses. MNIST is a small
synthetic, learnable stand-in (the guide downloads it)."""
import numpy as np
import corenn as tf
from corenn import keras

keras.utils.set_random_seed(5)


def get_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x1 = keras.layers.Dense(64, activation="relu")(inputs)
    x2 = keras.layers.Dense(64, activation="relu")(x1)
    outputs = keras.layers.Dense(10, name="predictions")(x2)
    model = keras.Model(inputs=inputs, outputs=outputs)
    return model


model = get_model()

# Instantiate an optimizer.
optimizer = keras.optimizers.Adam(learning_rate=1e-3)
# Instantiate a loss function.
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

# Prepare the training dataset.
batch_size = 32
rng = np.random.default_rng(5)
x_all = rng.random((1300, 784)).astype("float32")
y_all = x_all[:, :780].reshape(-1, 10, 78).sum(-1).argmax(-1)
x_train, y_train = x_all[:1000], y_all[:1000]
x_test, y_test = x_all[1000:], y_all[1000:]
x_train = np.reshape(x_train, (-1, 784))
x_test = np.reshape(x_test, (-1, 784))

# Reserve 100 samples for validation.
x_val = x_train[-100:]
y_val = y_train[-100:]
x_train = x_train[:-100]
y_train = y_train[:-100]

# Prepare the training dataset.
train_dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train))
train_dataset = train_dataset.shuffle(buffer_size=1024).batch(batch_size)

# Prepare the validation dataset.
val_dataset = tf.data.Dataset.from_tensor_slices((x_val, y_val))
val_dataset = val_dataset.batch(batch_size)

# -- Using the GradientTape: a first end-to-end example ---------------------------------------
epochs = 3
losses = []
for epoch in range(epochs):
    print(f"\nStart of epoch {epoch}")

    # Iterate over the batches of the dataset.
    for step, (x_batch_train, y_batch_train) in enumerate(train_dataset):
        # Open a GradientTape to record the operations run
        # during the forward pass, which enables auto-differentiation.
        with tf.GradientTape() as tape:
            # Run the forward pass of the layer.
            # The operations that the layer applies
            # to its inputs are going to be recorded
            # on the GradientTape.
            logits = model(x_batch_train, training=True)  # Logits for this minibatch

            # Compute the loss value for this minibatch.
            loss_value = loss_fn(y_batch_train, logits)

        # Use the gradient tape to automatically retrieve
        # the gradients of the trainable variables with respect to the loss.
        grads = tape.gradient(loss_value, model.trainable_weights)

        # Run one step of gradient descent by updating
        # the value of the variables to minimize the loss.
        optimizer.apply(grads, model.trainable_weights)

        # Log every 10 batches.
        if step % 10 == 0:
            print(f"Training loss (for 1 batch) at step {step}: {float(loss_value):.4f}")
            print(f"Seen so far: {(step + 1) * batch_size} samples")
        losses.append(float(loss_value))

assert len(losses) == epochs * 29          # 900 samples in batches of 32
assert int(optimizer.iterations.numpy()) == epochs * 29
assert np.mean(losses[-29:]) < np.mean(losses[:29])

# -- Low-level handling of metrics ------------------------------------------------------------
# Get a fresh model
model = get_model()

# Instantiate an optimizer to train the model.
optimizer = keras.optimizers.Adam(learning_rate=1e-3)
# Instantiate a loss function.
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

# Prepare the metrics.
train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
val_acc_metric = keras.metrics.SparseCategoricalAccuracy()

epochs = 2
train_accs, val_accs = [], []
for epoch in range(epochs):
    print(f"\nStart of epoch {epoch}")

    # Iterate over the batches of the dataset.
    for step, (x_batch_train, y_batch_train) in enumerate(train_dataset):
        with tf.GradientTape() as tape:
            logits = model(x_batch_train, training=True)
            loss_value = loss_fn(y_batch_train, logits)
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply(grads, model.trainable_weights)

        # Update training metric.
        train_acc_metric.update_state(y_batch_train, logits)

    # Display metrics at the end of each epoch.
    train_acc = train_acc_metric.result()
    print(f"Training acc over epoch: {float(train_acc):.4f}")
    train_accs.append(float(train_acc))
    assert int(train_acc_metric.count.numpy()) == 900

    # Reset training metrics at the end of each epoch
    train_acc_metric.reset_state()
    assert float(train_acc_metric.result()) == 0.0

    # Run a validation loop at the end of each epoch.
    for x_batch_val, y_batch_val in val_dataset:
        val_logits = model(x_batch_val, training=False)
        # Update val metrics
        val_acc_metric.update_state(y_batch_val, val_logits)
    val_acc = val_acc_metric.result()
    val_acc_metric.reset_state()
    print(f"Validation acc: {float(val_acc):.4f}")
    val_accs.append(float(val_acc))

# the validation accuracy is the accuracy of the model's argmax over the 100 held-out samples
pred = tf.argmax(model(x_val, training=False), axis=-1).numpy()
np.testing.assert_allclose(val_accs[-1], np.mean(pred == y_val), atol=1e-6)


# -- Speeding-up your training step with tf.function --------------------------------------------
@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss_value = loss_fn(y, logits)
    grads = tape.gradient(loss_value, model.trainable_weights)
    optimizer.apply(grads, model.trainable_weights)
    train_acc_metric.update_state(y, logits)
    return loss_value


@tf.function
def test_step(x, y):
    val_logits = model(x, training=False)
    val_acc_metric.update_state(y, val_logits)


epochs = 2
compiled_losses = []
for epoch in range(epochs):
    print(f"\nStart of epoch {epoch}")

    # Iterate over the batches of the dataset.
    for step, (x_batch_train, y_batch_train) in enumerate(train_dataset):
        loss_value = train_step(x_batch_train, y_batch_train)
        if step % 10 == 0:
            print(f"Training loss (for 1 batch) at step {step}: {float(loss_value):.4f}")
        compiled_losses.append(float(loss_value))

    # Display metrics at the end of each epoch.
    train_acc = train_acc_metric.result()
    print(f"Training acc over epoch: {float(train_acc):.4f}")

    # Reset training metrics at the end of each epoch
    train_acc_metric.reset_state()

    # Run a validation loop at the end of each epoch.
    for x_batch_val, y_batch_val in val_dataset:
        test_step(x_batch_val, y_batch_val)

    val_acc = val_acc_metric.result()
    val_acc_metric.reset_state()
    print(f"Validation acc: {float(val_acc):.4f}")

assert len(compiled_losses) == 58 and all(np.isfinite(compiled_losses))
# the compiled step keeps training the same model with the same optimizer
assert int(optimizer.iterations.numpy()) == 4 * 29
pred = tf.argmax(model(x_val, training=False), axis=-1).numpy()
np.testing.assert_allclose(float(val_acc), np.mean(pred == y_val), atol=1e-6)


# -- Low-level handling of losses tracked by the model ----------------------------------------
class ActivityRegularizationLayer(keras.layers.Layer):
    def call(self, inputs):
        self.add_loss(1e-2 * tf.reduce_sum(inputs))
        return inputs


inputs = keras.Input(shape=(784,), name="digits")
x = keras.layers.Dense(64, activation="relu")(inputs)
# Insert activity regularization as a layer
x = ActivityRegularizationLayer()(x)
x = keras.layers.Dense(64, activation="relu")(x)
outputs = keras.layers.Dense(10, name="predictions")(x)

model = keras.Model(inputs=inputs, outputs=outputs)


@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss_value = loss_fn(y, logits)
        # Add any extra losses created during the forward pass.
        loss_value += sum(model.losses)
    grads = tape.gradient(loss_value, model.trainable_weights)
    optimizer.apply(grads, model.trainable_weights)
    train_acc_metric.update_state(y, logits)
    return loss_value


optimizer = keras.optimizers.Adam(learning_rate=1e-3)
xb, yb = x_train[:32], y_train[:32]
logits = model(xb)
assert len(model.losses) == 1
hidden = keras.Model(inputs, model.layers[1].output)(xb)
np.testing.assert_allclose(float(model.losses[0]), 1e-2 * float(tf.reduce_sum(hidden)), rtol=1e-5)
expected = float(loss_fn(yb, logits)) + float(model.losses[0])
loss_value = train_step(xb, yb)
np.testing.assert_allclose(float(loss_value), expected, rtol=1e-5)
# the losses of one call replace the previous call's: they do not pile up
model(xb)
model(xb)
assert len(model.losses) == 1
print("training loop from scratch (TensorFlow) guide: OK")
