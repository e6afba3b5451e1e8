"""keras-io examples/keras_recipes/debugging_tips ("Keras debugging tips"), imports changed:
a custom layer tested on its own first (the broken concatenate-on-axis-0 version raises, the
fixed one is checked against NumPy), a feature-extraction model built from
[layer.output for layer in model.layers], run_eagerly=True, and a train_step that nests two
GradientTapes to mix first- and second-order information (the gradient of the summed
gradients). Checks: the error, the extracted features against the layers applied one by one,
the second-order gradient of a one-Dense model against its closed form, and the loss falls."""
import numpy as np

import corenn as keras
import corenn as tf
from corenn import layers
from corenn import ops

keras.utils.set_random_seed(0)


class MyAntirectifier(layers.Layer):
    def build(self, input_shape):
        output_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(output_dim * 2, output_dim),
            initializer="he_normal",
            name="kernel",
            trainable=True,
        )

    def call(self, inputs):
        # Take the positive part of the input
        pos = ops.relu(inputs)
        # Take the negative part of the input
        neg = ops.relu(-inputs)
        # Concatenate the positive and negative parts
        concatenated = ops.concatenate([pos, neg], axis=0)
        # Project the concatenation down to the same dimensionality as the input
        return ops.matmul(concatenated, self.kernel)


# Tip 1: test each part before you test the whole
x = keras.random.normal(shape=(2, 5))
try:
    y = MyAntirectifier()(x)
except Exception as e:   # (4, 5) @ (10, 5): the shapes do not match
    print("error:", type(e).__name__, e)
    caught = True
else:
    caught = False
assert caught


class MyAntirectifier(layers.Layer):
    def build(self, input_shape):
        output_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(output_dim * 2, output_dim),
            initializer="he_normal",
            name="kernel",
            trainable=True,
        )

    def call(self, inputs):
        pos = ops.relu(inputs)
        neg = ops.relu(-inputs)
        print("pos.shape:", pos.shape)
        print("neg.shape:", neg.shape)
        concatenated = ops.concatenate([pos, neg], axis=-1)
        print("concatenated.shape:", concatenated.shape)
        print("kernel.shape:", self.kernel.shape)
        return ops.matmul(concatenated, self.kernel)


layer = MyAntirectifier()
y = layer(x)
xn = ops.convert_to_numpy(x)
ref = np.concatenate([np.maximum(xn, 0), np.maximum(-xn, 0)], -1) @ ops.convert_to_numpy(layer.kernel)
np.testing.assert_allclose(ops.convert_to_numpy(y), ref, rtol=1e-5, atol=1e-6)

# Tip 2: use model.summary() and plot the intermediate outputs (feature extraction)
model = keras.Sequential(
    [
        keras.Input(shape=(8, 8, 1)),
        layers.Conv2D(4, 3, activation="relu", name="conv"),
        layers.MaxPooling2D(2, name="pool"),
        layers.Flatten(name="flatten"),
        layers.Dense(3, name="dense"),
    ]
)
model.summary()
features_list = [layer.output for layer in model.layers]
feat_extraction_model = keras.Model(inputs=model.inputs, outputs=features_list)
img = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
extracted_features = feat_extraction_model(img)
assert [tuple(f.shape) for f in extracted_features] == [(2, 6, 6, 4), (2, 3, 3, 4), (2, 36), (2, 3)]
h = img
for layer_, feat in zip(model.layers, extracted_features):
    h = layer_(h)
    np.testing.assert_allclose(ops.convert_to_numpy(feat), ops.convert_to_numpy(h), rtol=1e-5, atol=1e-6)


# Tip 3: to debug what happens during fit(), use run_eagerly=True; Tip 4: second-order info
class MyModel(keras.Model):
    def train_step(self, data):
        inputs, targets = data
        trainable_vars = self.trainable_variables
        with tf.GradientTape() as tape2:
            with tf.GradientTape() as tape1:
                y_pred = self(inputs, training=True)  # Forward pass
                # Compute the loss value
                # (the loss function is configured in `compile()`)
                loss = self.compute_loss(y=targets, y_pred=y_pred)
            # Compute first-order gradients
            dl_dw = tape1.gradient(loss, trainable_vars)
        # Compute second-order gradients
        d2l_dw2 = tape2.gradient(dl_dw, trainable_vars)

        # Combine first-order and second-order information
        grads = [0.5 * w1 + 0.5 * w2 for (w1, w2) in zip(d2l_dw2, dl_dw)]
        self.last_grads = (dl_dw, d2l_dw2)

        # Update weights
        self.optimizer.apply_gradients(zip(grads, trainable_vars))

        # Update metrics (includes the metric that tracks the loss)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(targets, y_pred)
        # Return a dict mapping metric names to current value
        return {m.name: m.result() for m in self.metrics}


# the second-order term on a linear model with MSE has a closed form:
# loss = mean((xW + b - t)^2); dL/dW = 2/(N*U) x^T r; sum(dL/dW) + sum(dL/db) differentiated again
inputs = keras.Input(shape=(3,))
outputs = layers.Dense(2)(inputs)
lin = MyModel(inputs, outputs)
lin.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse", run_eagerly=True)
xs = np.random.default_rng(1).normal(size=(16, 3)).astype("float32")
ts = np.random.default_rng(2).normal(size=(16, 2)).astype("float32")
lin.fit(xs, ts, batch_size=16, epochs=1, verbose=0)
(dW, db), (d2W, d2b) = [[ops.convert_to_numpy(g) for g in gs] for gs in lin.last_grads]
n, u = 16, 2
x64 = xs.astype(np.float64)
# d/dW_ij of sum_kl dL/dW_kl + sum_l dL/db_l, with dL/dW_kl = 2/(n u) sum_s x_sk r_sl and r_sl depending on W_il
d2W_ref = np.zeros((3, 2))
d2b_ref = np.zeros(2)
for i in range(3):
    for j in range(2):
        d2W_ref[i, j] = 2.0 / (n * u) * np.sum(x64[:, i] * (x64.sum(1) + 1.0))
for j in range(2):
    d2b_ref[j] = 2.0 / (n * u) * np.sum(x64.sum(1) + 1.0)
np.testing.assert_allclose(d2W, d2W_ref, rtol=1e-4, atol=1e-5)
np.testing.assert_allclose(d2b, d2b_ref, rtol=1e-4, atol=1e-5)


# the update SGD made from them: w <- w - lr * (0.5 * d2 + 0.5 * d1)
W1, b1 = [np.asarray(w) for w in lin.get_weights()]
W0 = W1 + 0.01 * (0.5 * d2W + 0.5 * dW)
b0 = b1 + 0.01 * (0.5 * d2b + 0.5 * db)
r = xs.astype(np.float64) @ W0 + b0 - ts
np.testing.assert_allclose(dW, 2.0 / (n * u) * x64.T @ r, rtol=1e-3, atol=1e-5)
np.testing.assert_allclose(db, 2.0 / (n * u) * r.sum(0), rtol=1e-3, atol=1e-5)


# the same train_step on a small classifier, eagerly, as the tip runs it
def get_model():
    inputs = keras.Input(shape=(16,))
    x = layers.Dense(32, activation="relu")(inputs)
    x = layers.Dense(32, activation="relu")(x)
    outputs = layers.Dense(4, activation="softmax")(x)
    return MyModel(inputs, outputs)


rng = np.random.default_rng(3)
centers = rng.normal(0, 2, (4, 16))
labels = rng.integers(0, 4, 512)
data = (centers[labels] + rng.normal(0, 1, (512, 16))).astype("float32")
model = get_model()
model.compile(
    optimizer=keras.optimizers.SGD(learning_rate=1e-3),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
    run_eagerly=True,
)
history = model.fit(data, labels, epochs=2, batch_size=64, verbose=0)
print(history.history)
assert np.all(np.isfinite(history.history["loss"]))
assert len(model.last_grads[1]) == 6 and model.last_grads[1][0].shape == (16, 32)
