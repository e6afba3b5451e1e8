"""The hypernetwork of the "Introduction to Keras for researchers" guide: an outer model predicts,
per sample, every weight of an inner model; the predicted tensors are set as the inner Dense
layers' `kernel` / `bias` (the inner layers are marked built so they make no weights of their
own), the inner model classifies the sample, and the tape carries the loss back through the
predicted weights into the outer model, the only one trained. Batch size 1 as in the guide; the
data are small Gaussian blobs instead of MNIST. Checked: the inner model really uses the
assigned tensors (parity with NumPy), the gradient reaches only the outer model, the loss falls
and the hypernetwork-driven classifier beats chance. Only the imports changed."""
import numpy as np

import corenn as tf
from corenn import keras

keras.utils.set_random_seed(7)
input_dim, hidden, classes = 8, 6, 3

rng = np.random.default_rng(0)
centers = rng.normal(0, 2.0, (classes, input_dim))
y_train = rng.integers(0, classes, 300)
x_train = (centers[y_train] + rng.normal(0, 0.7, (300, input_dim))).astype("float32")

inner_model = keras.Sequential([keras.layers.Dense(hidden, activation=tf.nn.relu), keras.layers.Dense(classes)])
for layer in inner_model.layers:   # it makes no weights of its own
    layer.built = True

num_weights_to_generate = (classes * hidden + classes) + (hidden * input_dim + hidden)
outer_model = keras.Sequential([
    keras.layers.Dense(16, activation=tf.nn.relu),
    keras.layers.Dense(num_weights_to_generate, activation=tf.nn.tanh),
])
optimizer = keras.optimizers.Adam(learning_rate=3e-3)
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def predicted_weights(x):
    weights_pred = outer_model(x)
    start = 0
    out = []
    for shape in ((input_dim, hidden), (hidden,), (hidden, classes), (classes,)):
        size = int(np.prod(shape))
        out.append(tf.reshape(weights_pred[:, start:start + size], shape))
        start += size
    return out


@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        w0, b0, w1, b1 = predicted_weights(x)
        inner_model.layers[0].kernel = w0
        inner_model.layers[0].bias = b0
        inner_model.layers[1].kernel = w1
        inner_model.layers[1].bias = b1
        preds = inner_model(x)
        loss = loss_fn(y, preds)
    grads = tape.gradient(loss, outer_model.trainable_weights)
    optimizer.apply_gradients(zip(grads, outer_model.trainable_weights))
    return loss, grads


# the inner model computes with the assigned tensors
x1 = x_train[:1]
w0, b0, w1, b1 = [np.asarray(t) for t in predicted_weights(x1)]
inner_model.layers[0].kernel, inner_model.layers[0].bias = tf.constant(w0), tf.constant(b0)
inner_model.layers[1].kernel, inner_model.layers[1].bias = tf.constant(w1), tf.constant(b1)
expected = np.maximum(x1 @ w0 + b0, 0) @ w1 + b1
np.testing.assert_allclose(np.asarray(inner_model(x1)), expected, rtol=1e-4, atol=1e-5)
assert inner_model.trainable_weights == [] or all(
    w is not None for w in inner_model.trainable_weights)

dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train))
dataset = dataset.shuffle(buffer_size=1024).batch(1)
losses = []
for step, (x, y) in enumerate(dataset):
    loss, grads = train_step(x, y)
    if step == 0:
        assert len(grads) == 4 and all(g is not None for g in grads)
        assert any(float(np.abs(np.asarray(g)).max()) > 0 for g in grads)
    losses.append(float(loss))
first, last = np.mean(losses[:50]), np.mean(losses[-50:])
print("loss first 50 steps", round(first, 3), "last 50", round(last, 3))
assert last < 0.6 * first, (first, last)

correct = 0
for i in range(100):
    x = x_train[i:i + 1]
    w0, b0, w1, b1 = predicted_weights(x)
    inner_model.layers[0].kernel, inner_model.layers[0].bias = w0, b0
    inner_model.layers[1].kernel, inner_model.layers[1].bias = w1, b1
    correct += int(np.argmax(np.asarray(inner_model(x))[0]) == y_train[i])
print("accuracy", correct / 100)
assert correct > 70, correct
