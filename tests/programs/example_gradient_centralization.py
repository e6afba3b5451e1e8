"""Gradient Centralization (Yong et al., 2020), as keras.io's example adds it to an optimizer:
a subclass of a built-in optimizer that removes each multi-dimensional gradient's mean (over all
axes but the last, the output units) before the update. Written against Keras 3's optimizer API
(`apply(grads, trainable_variables)` is what `fit` and `apply_gradients` call). Checked: fit
calls the override, one step equals plain SGD on the centralized gradient (computed by hand with
a GradientTape), and a small convnet on synthetic images trains with it. Only the imports
changed."""
import numpy as np

from corenn import keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(5)


def centralize(grads):
    out = []
    for g in grads:
        if len(g.shape) > 1:
            axis = list(range(len(g.shape) - 1))
            g = g - ops.mean(g, axis=axis, keepdims=True)
        out.append(g)
    return out


class GCSGD(keras.optimizers.SGD):
    calls = 0

    def apply(self, grads, trainable_variables=None):
        GCSGD.calls += 1
        return super().apply(centralize(grads), trainable_variables)


class GCRMSprop(keras.optimizers.RMSprop):
    def apply(self, grads, trainable_variables=None):
        return super().apply(centralize(grads), trainable_variables)


# one step of GCSGD equals w - lr * centralize(grad), the gradient taken by hand
x = np.random.default_rng(0).normal(size=(16, 6)).astype("float32")
y = np.random.default_rng(1).normal(size=(16, 3)).astype("float32")
model = keras.Sequential([keras.Input((6,)), layers.Dense(3)])
w0 = [np.array(w) for w in model.get_weights()]
import corenn as tf  # noqa: E402  (the tape, as the example's custom parts use)
with tf.GradientTape() as tape:
    loss = ops.mean(ops.square(model(x) - y))
grads = [np.array(g) for g in tape.gradient(loss, model.trainable_weights)]
opt = GCSGD(learning_rate=0.1)
opt.apply_gradients(zip([ops.convert_to_tensor(g) for g in grads], model.trainable_weights))
assert GCSGD.calls == 1
k_expected = w0[0] - 0.1 * (grads[0] - grads[0].mean(axis=0, keepdims=True))
b_expected = w0[1] - 0.1 * grads[1]          # a bias (1-D) is not centralized
np.testing.assert_allclose(model.get_weights()[0], k_expected, rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(model.get_weights()[1], b_expected, rtol=1e-5, atol=1e-6)
# each column of the update sums to zero over the input axis: the centralized direction
step = (model.get_weights()[0] - w0[0]).sum(axis=0)
np.testing.assert_allclose(step, 0.0, atol=1e-5)


def images(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    x = rng.normal(0, 0.3, (n, 12, 12, 1)).astype("float32")
    x[labels == 0, 3:9, 5:7] += 1.0           # class 0: a vertical bar
    x[labels == 1, 5:7, 3:9] += 1.0           # class 1: a horizontal bar
    return x, labels


xtr, ytr = images(256, 2)
xte, yte = images(128, 3)
GCSGD.calls = 0
for opt in (GCSGD(learning_rate=0.05, momentum=0.9), GCRMSprop(learning_rate=1e-3)):
    net = keras.Sequential([
        keras.Input((12, 12, 1)),
        layers.Conv2D(8, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(16, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ])
    net.compile(optimizer=opt, loss="binary_crossentropy", metrics=["accuracy"])
    hist = net.fit(xtr, ytr, batch_size=32, epochs=4, verbose=0)
    _, acc = net.evaluate(xte, yte, verbose=0)
    print(type(opt).__name__, "loss", [round(v, 3) for v in hist.history["loss"]], "test acc", round(acc, 3))
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert acc > 0.85, acc
assert GCSGD.calls == 4 * 8, GCSGD.calls     # fit went through the override every step
