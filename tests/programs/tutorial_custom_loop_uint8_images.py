"""The custom training loop of the Keras guide "Writing a training loop from scratch", imports
changed, on images kept as the uint8 arrays a loader gives (the model scales them with its first
layer, Rescaling(1/255)). Under a GradientTape an integer batch reached the float kernels as
int64 ('binary_forward: a must be float32') while fit and predict cast it; now every path casts
numeric inputs to float32 alike. Synthetic 28 x 28 images of two classes (a bright square in one
of two corners), so the program needs no download."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

rng = np.random.default_rng(0)
n = 1024
y_train = rng.integers(0, 2, n)
x_train = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
for i, label in enumerate(y_train):   # the class is where the bright square is
    r = 2 if label == 0 else 18
    x_train[i, r:r + 8, r:r + 8] = rng.integers(180, 256, (8, 8))
assert x_train.dtype == np.uint8

model = keras.Sequential([keras.Input((28, 28)), layers.Rescaling(1 / 255), layers.Flatten(),
                          layers.Dense(32, activation="relu"), layers.Dense(2)])
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
optimizer = keras.optimizers.Adam(learning_rate=1e-3)
train_acc_metric = keras.metrics.SparseCategoricalAccuracy()

losses = []
for epoch in range(3):
    for step in range(0, n, 64):
        x_batch, y_batch = x_train[step:step + 64], y_train[step:step + 64]
        with tf.GradientTape() as tape:
            logits = model(x_batch, training=True)
            loss_value = loss_fn(y_batch, logits)
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        train_acc_metric.update_state(y_batch, logits)
        losses.append(float(loss_value))
    print(f"epoch {epoch}: loss {losses[-1]:.4f}, accuracy {float(train_acc_metric.result()):.4f}")
    train_acc_metric.reset_state()

assert np.mean(losses[-8:]) < 0.5 * np.mean(losses[:8])
# the loop's model computes what predict computes on the same uint8 images, and the same as on
# the images converted to float32 by hand
x_test = x_train[:16]
from_loop = np.asarray(model(x_test, training=False))
np.testing.assert_allclose(model.predict(x_test, verbose=0), from_loop, rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(np.asarray(model(x_test.astype(np.float32))), from_loop, rtol=1e-6, atol=1e-6)
with tf.GradientTape() as tape:
    on_tape = model(x_test, training=False)
np.testing.assert_allclose(np.asarray(on_tape), from_loop, rtol=1e-6, atol=1e-6)
