"""The keras.io optimizers API pages as a program: the common arguments of every optimizer
(clipnorm, clipvalue, global_clipnorm, weight_decay with exclude_from_weight_decay, use_ema with
ema_momentum and ema_overwrite_frequency, gradient_accumulation_steps), apply_gradients on
keras.Variables, iterations, a learning rate changed by assignment, a custom loop, and every
built-in optimizer (SGD, RMSprop, Adam, AdamW, Adadelta, Adagrad, Adamax, Adafactor, Nadam, Ftrl,
Lion, Lamb) minimizing a quadratic, then fit with use_ema and the SwapEMAWeights callback. The
single-step rules are checked against their formulas in NumPy. Only the imports changed."""
import numpy as np
from corenn import keras
from corenn.keras import ops

keras.utils.set_random_seed(5)
rng = np.random.default_rng(5)
npy = keras.ops.convert_to_numpy

w0 = np.array([1.0, -2.0, 3.0], "float32")
g = np.array([0.5, -4.0, 2.0], "float32")


def one_step(optimizer, grad=g, steps=1, var=None):
    v = keras.Variable(w0.copy()) if var is None else var
    for _ in range(steps):
        optimizer.apply_gradients([(ops.convert_to_tensor(grad), v)])
    return npy(v)


# -- plain SGD, momentum, Nesterov ----------------------------------------------------------------
np.testing.assert_allclose(one_step(keras.optimizers.SGD(0.1)), w0 - 0.1 * g, rtol=1e-6)
m = np.zeros(3)
w = w0.astype(np.float64)
for _ in range(3):
    m = 0.9 * m - 0.1 * g
    w = w + m
np.testing.assert_allclose(one_step(keras.optimizers.SGD(0.1, momentum=0.9), steps=3), w, rtol=1e-5)
m = np.zeros(3)
w = w0.astype(np.float64)
for _ in range(3):
    m = 0.9 * m - 0.1 * g
    w = w + 0.9 * m - 0.1 * g
np.testing.assert_allclose(one_step(keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True), steps=3), w, rtol=1e-5)

# -- gradient clipping: per variable norm, per value, global norm ----------------------------------
np.testing.assert_allclose(one_step(keras.optimizers.SGD(1.0, clipnorm=1.0)), w0 - g / np.linalg.norm(g), rtol=1e-5)
np.testing.assert_allclose(one_step(keras.optimizers.SGD(1.0, clipvalue=1.0)), w0 - np.clip(g, -1, 1), rtol=1e-6)
v1, v2 = keras.Variable(w0.copy()), keras.Variable(np.ones(2, "float32"))
g2 = np.array([3.0, 0.0], "float32")
opt = keras.optimizers.SGD(1.0, global_clipnorm=2.0)
opt.apply_gradients([(ops.convert_to_tensor(g), v1), (ops.convert_to_tensor(g2), v2)])
scale = 2.0 / np.sqrt((g ** 2).sum() + (g2 ** 2).sum())
np.testing.assert_allclose(npy(v1), w0 - g * scale, rtol=1e-5)
np.testing.assert_allclose(npy(v2), 1 - g2 * scale, rtol=1e-5)

# -- Adam and AdamW against their formulas ----------------------------------------------------------
def adam_ref(steps, lr=0.01, b1=0.9, b2=0.999, eps=1e-7, wd=0.0):
    w, m, v = w0.astype(np.float64), np.zeros(3), np.zeros(3)
    for t in range(1, steps + 1):
        w = w - lr * wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        w = w - alpha * m / (np.sqrt(v) + eps)
    return w


opt = keras.optimizers.Adam(learning_rate=0.01)
np.testing.assert_allclose(one_step(opt, steps=4), adam_ref(4), rtol=1e-5)
assert int(npy(opt.iterations)) == 4
np.testing.assert_allclose(one_step(keras.optimizers.AdamW(learning_rate=0.01, weight_decay=0.1), steps=4),
                           adam_ref(4, wd=0.1), rtol=1e-5)

# exclude_from_weight_decay: by variable or by a name substring
decayed = keras.Variable(w0.copy(), name="kernel")
kept = keras.Variable(w0.copy(), name="bias")
opt = keras.optimizers.SGD(0.1, weight_decay=0.5)
opt.exclude_from_weight_decay(var_names=["bias"])
zero = ops.zeros((3,))
opt.apply_gradients([(zero, decayed), (zero, kept)])
np.testing.assert_allclose(npy(decayed), w0 * (1 - 0.1 * 0.5), rtol=1e-6)
np.testing.assert_allclose(npy(kept), w0, rtol=1e-6)

# -- the learning rate is a variable that can be set ------------------------------------------------
opt = keras.optimizers.SGD(0.1)
opt.learning_rate = 0.01
np.testing.assert_allclose(float(npy(opt.learning_rate)), 0.01, rtol=1e-6)
np.testing.assert_allclose(one_step(opt), w0 - 0.01 * g, rtol=1e-6)

# -- gradient accumulation: the update comes every N steps with the mean gradient -------------------
opt = keras.optimizers.SGD(0.1, gradient_accumulation_steps=2)
v = keras.Variable(w0.copy())
opt.apply_gradients([(ops.convert_to_tensor(g), v)])
np.testing.assert_allclose(npy(v), w0, rtol=1e-6)                        # accumulated, no update
opt.apply_gradients([(ops.convert_to_tensor(3 * g), v)])
np.testing.assert_allclose(npy(v), w0 - 0.1 * (g + 3 * g) / 2, rtol=1e-5)

# -- EMA of the weights -------------------------------------------------------------------------------
opt = keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5)
v = keras.Variable(w0.copy())
ema = w0.astype(np.float64)
w = w0.astype(np.float64)
for step in range(3):
    opt.apply_gradients([(ops.convert_to_tensor(g), v)])
    w = w - 0.1 * g
    ema = w if step == 0 else 0.5 * ema + 0.5 * w     # the average starts at the first step's weights
np.testing.assert_allclose(npy(v), w, rtol=1e-5)
opt.finalize_variable_values([v])                     # what fit does at the end of training
np.testing.assert_allclose(npy(v), ema, rtol=1e-5)

# -- every optimizer minimizes a quadratic in a custom loop --------------------------------------------
target = np.array([0.5, -1.0, 2.0], "float32")
optimizers = {
    "SGD": keras.optimizers.SGD(0.1), "RMSprop": keras.optimizers.RMSprop(0.05),
    "Adam": keras.optimizers.Adam(0.1), "AdamW": keras.optimizers.AdamW(0.1, weight_decay=1e-4),
    "Adadelta": keras.optimizers.Adadelta(learning_rate=50.0), "Adagrad": keras.optimizers.Adagrad(0.5),
    "Adamax": keras.optimizers.Adamax(0.1), "Adafactor": keras.optimizers.Adafactor(0.5),
    "Nadam": keras.optimizers.Nadam(0.1), "Ftrl": keras.optimizers.Ftrl(0.5),
    "Lion": keras.optimizers.Lion(0.02), "Lamb": keras.optimizers.Lamb(0.05),
}
for name, optimizer in optimizers.items():
    v = keras.Variable(np.ones(3, "float32"))         # Adafactor's step is relative to the weights' RMS
    start = float(np.sum((npy(v) - target) ** 2))
    for _ in range(60):
        grad = 2 * (v.value - ops.convert_to_tensor(target))
        optimizer.apply_gradients([(grad, v)])
    end = float(np.sum((npy(v) - target) ** 2))
    assert end < 0.2 * start, (name, start, end)
    assert int(npy(optimizer.iterations)) == 60, name
    config = optimizer.get_config()
    clone = optimizer.__class__.from_config(config)
    assert clone.get_config()["learning_rate"] == config["learning_rate"], name

# -- fit with EMA and the SwapEMAWeights callback: evaluation runs on the averaged weights ----------
x = rng.normal(size=(256, 4)).astype("float32")
y = (x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.normal(size=256)).astype("float32")[:, None]
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(0.02, use_ema=True, ema_momentum=0.9), loss="mse")
history = model.fit(x, y, batch_size=32, epochs=14, validation_split=0.25, verbose=0,
                    callbacks=[keras.callbacks.SwapEMAWeights(swap_on_epoch=True)])
print("loss", history.history["loss"][0], "->", history.history["loss"][-1],
      "val", history.history["val_loss"][-1])
assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
assert history.history["val_loss"][-1] < 0.1 * history.history["loss"][0]
# fit ends by copying the averages into the model: evaluation now sees the weights the last
# epoch's validation ran on (SwapEMAWeights swapped them in for it)
val_loss = model.evaluate(x[192:], y[192:], verbose=0)
np.testing.assert_allclose(val_loss, history.history["val_loss"][-1], rtol=1e-4)
