"""A custom training loop as "Writing a training loop from scratch" (TensorFlow) writes it, with
the parts users add to it: a `tf.function`-compiled train / test step, metric objects whose
state is updated each step and reset each epoch, the model's regularization losses added in the
step (`model.losses`), an optimizer with a LearningRateSchedule and `global_clipnorm`, whose
`iterations` counter and current learning rate are read back, and `tf.data` batches. The loop's
result must match `model.fit` on the same data step for step. Only the imports changed."""
import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers

rng = np.random.default_rng(8)
x_all = rng.normal(size=(800, 12)).astype("float32")
w_true = rng.normal(size=(12, 4)).astype("float32")
y_all = np.argmax(x_all @ w_true, axis=1).astype("int64")
x_train, y_train, x_val, y_val = x_all[:640], y_all[:640], x_all[640:], y_all[640:]

train_dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(64)
val_dataset = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(64)


def get_model():
    keras.utils.set_random_seed(5)
    inputs = keras.Input(shape=(12,), name="features")
    x = layers.Dense(32, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-3))(inputs)
    outputs = layers.Dense(4, name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def get_optimizer():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=10, decay_rate=0.9)
    return keras.optimizers.SGD(learning_rate=schedule, momentum=0.9, global_clipnorm=1.0)


model = get_model()
optimizer = get_optimizer()
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
val_acc_metric = keras.metrics.SparseCategoricalAccuracy()
loss_tracker = keras.metrics.Mean(name="loss")


@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss_value = loss_fn(y, logits)
        loss_value += sum(model.losses)
    grads = tape.gradient(loss_value, model.trainable_weights)
    optimizer.apply_gradients(zip(grads, model.trainable_weights))
    train_acc_metric.update_state(y, logits)
    loss_tracker.update_state(loss_value)
    return loss_value


@tf.function
def test_step(x, y):
    val_logits = model(x, training=False)
    val_acc_metric.update_state(y, val_logits)


epochs = 5
epoch_losses = []
for epoch in range(epochs):
    for step, (x_batch_train, y_batch_train) in enumerate(train_dataset):
        loss_value = train_step(x_batch_train, y_batch_train)
    train_acc = train_acc_metric.result()
    epoch_losses.append(float(loss_tracker.result()))
    print(f"epoch {epoch}: loss {epoch_losses[-1]:.4f} acc {float(train_acc):.4f}")
    train_acc_metric.reset_state()
    loss_tracker.reset_state()
    for x_batch_val, y_batch_val in val_dataset:
        test_step(x_batch_val, y_batch_val)
    val_acc = val_acc_metric.result()
    val_acc_metric.reset_state()
    print(f"Validation acc: {float(val_acc):.4f}")

assert int(optimizer.iterations.numpy()) == 5 * 10
lr_now = float(optimizer.learning_rate.numpy()) if hasattr(optimizer.learning_rate, "numpy") else float(optimizer.learning_rate)
np.testing.assert_allclose(lr_now, 0.05 * 0.9 ** (50 / 10), rtol=1e-5)
assert float(val_acc) > 0.85, float(val_acc)
assert epoch_losses[-1] < epoch_losses[0]
assert float(train_acc_metric.result()) == 0.0          # reset_state cleared it

# model.fit with the same model, optimizer and data reaches the same weights
reference = get_model()
reference.compile(optimizer=get_optimizer(), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
history = reference.fit(train_dataset, epochs=epochs, verbose=0)
np.testing.assert_allclose(history.history["loss"], epoch_losses, rtol=2e-4)
for a, b in zip(model.get_weights(), reference.get_weights()):
    np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-4)
