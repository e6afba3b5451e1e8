"""The keras.io losses and metrics API pages, their less-used entries as the pages call them:
Tversky, Dice, CategoricalFocalCrossentropy, Circle, LogCosh and MeanMetricWrapper losses and
metrics, PearsonCorrelation, ConcordanceCorrelation, OneHotIoU, LogCoshError, each checked against
its formula in NumPy (with reduction and sample_weight where the page shows them), then a
segmentation model compiled with Dice + CategoricalFocalCrossentropy and the correlation metrics.
Only the imports changed."""
import numpy as np
from corenn import keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(11)
rng = np.random.default_rng(11)
npy = keras.ops.convert_to_numpy

# -- Tversky and Dice on probabilities ---------------------------------------------------------------
y_true = (rng.uniform(size=(4, 6)) > 0.5).astype("float32")
y_pred = rng.uniform(0.05, 0.95, size=(4, 6)).astype("float32")
alpha, beta = 0.3, 0.7
eps = 1e-7


def tversky_ref(t, p, axis=None):
    # Keras' formula: alpha weighs the missed positives sum((1 - p) * t), beta the false alarms
    tp = (t * p).sum(axis)
    return 1 - tp / (tp + alpha * ((1 - p) * t).sum(axis) + beta * (p * (1 - t)).sum(axis) + eps)


def dice_ref(t, p, axis=None):
    return 1 - 2 * (t * p).sum(axis) / (t.sum(axis) + p.sum(axis) + eps)


# the default axis=None: one value over the whole batch
np.testing.assert_allclose(float(npy(keras.losses.Tversky(alpha=alpha, beta=beta)(y_true, y_pred))),
                           tversky_ref(y_true, y_pred), rtol=1e-5)
np.testing.assert_allclose(float(npy(keras.losses.tversky(y_true, y_pred, alpha=alpha, beta=beta))),
                           tversky_ref(y_true, y_pred), rtol=1e-5)
np.testing.assert_allclose(float(npy(keras.losses.Dice()(y_true, y_pred))), dice_ref(y_true, y_pred), rtol=1e-5)
# axis=1: one value per sample, reduced or weighted
np.testing.assert_allclose(npy(keras.losses.Dice(axis=1, reduction=None)(y_true, y_pred)),
                           dice_ref(y_true, y_pred, 1), rtol=1e-5)
np.testing.assert_allclose(npy(keras.losses.Tversky(alpha=alpha, beta=beta, axis=1, reduction=None)(y_true, y_pred)),
                           tversky_ref(y_true, y_pred, 1), rtol=1e-5)
w = np.array([1.0, 0.0, 2.0, 0.5], "float32")
np.testing.assert_allclose(float(npy(keras.losses.Dice(axis=1)(y_true, y_pred, sample_weight=w))),
                           (dice_ref(y_true, y_pred, 1) * w).sum() / 4, rtol=1e-5)

# -- CategoricalFocalCrossentropy ----------------------------------------------------------------------
labels = np.eye(3, dtype="float32")[rng.integers(0, 3, 5)]
logits = rng.normal(size=(5, 3)).astype("float32")
probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
gamma, a = 2.0, 0.25
cfce = (-a * (1 - probs) ** gamma * labels * np.log(probs)).sum(1)
np.testing.assert_allclose(float(npy(keras.losses.CategoricalFocalCrossentropy(alpha=a, gamma=gamma)(labels, probs))),
                           cfce.mean(), rtol=1e-4)
np.testing.assert_allclose(float(npy(keras.losses.CategoricalFocalCrossentropy(from_logits=True)(labels, logits))),
                           cfce.mean(), rtol=1e-4)
smoothed = labels * 0.9 + 0.1 / 3
cfce_s = (-a * (1 - probs) ** gamma * smoothed * np.log(probs)).sum(1)
np.testing.assert_allclose(
    float(npy(keras.losses.CategoricalFocalCrossentropy(label_smoothing=0.1)(labels, probs))), cfce_s.mean(), rtol=1e-4)

# -- LogCosh as a loss and a metric, and MeanMetricWrapper around a function ---------------------------------
yt = rng.normal(size=(3, 4)).astype("float32")
yp = rng.normal(size=(3, 4)).astype("float32")
logcosh = np.log(np.cosh(yp - yt)).mean(1)
np.testing.assert_allclose(float(npy(keras.losses.LogCosh()(yt, yp))), logcosh.mean(), rtol=1e-5)
m = keras.metrics.LogCoshError()
m.update_state(yt[:2], yp[:2])
m.update_state(yt[2:], yp[2:])
np.testing.assert_allclose(float(npy(m.result())), logcosh.mean(), rtol=1e-5)


def max_abs_error(y_true, y_pred):
    return ops.max(ops.abs(y_true - y_pred), axis=-1)


wrapped = keras.metrics.MeanMetricWrapper(fn=max_abs_error, name="max_abs")
wrapped.update_state(yt, yp, sample_weight=np.array([1.0, 2.0, 0.0], "float32"))
mae = np.abs(yt - yp).max(1)
np.testing.assert_allclose(float(npy(wrapped.result())), (mae[0] + 2 * mae[1]) / 3, rtol=1e-5)
assert wrapped.name == "max_abs"
wrapped.reset_state()
wrapped.update_state(yt, yp)
np.testing.assert_allclose(float(npy(wrapped.result())), mae.mean(), rtol=1e-5)

# -- the correlation metrics -----------------------------------------------------------------------------
yt = rng.normal(size=(40,)).astype("float32")
yp = (0.7 * yt + 0.3 * rng.normal(size=40) + 0.5).astype("float32")
pearson = keras.metrics.PearsonCorrelation()
pearson.update_state(yt[:20], yp[:20])
pearson.update_state(yt[20:], yp[20:])
# Keras' streaming metrics average the per-batch correlations
r = lambda a, b: ((a - a.mean()) * (b - b.mean())).mean() / (a.std() * b.std())
np.testing.assert_allclose(float(npy(pearson.result())), (r(yt[:20], yp[:20]) + r(yt[20:], yp[20:])) / 2, rtol=1e-4)
ccc = keras.metrics.ConcordanceCorrelation()
ccc.update_state(yt, yp)
cov = ((yt - yt.mean()) * (yp - yp.mean())).mean()
np.testing.assert_allclose(float(npy(ccc.result())), 2 * cov / (yt.var() + yp.var() + (yt.mean() - yp.mean()) ** 2),
                           rtol=1e-4)
np.testing.assert_allclose(npy(keras.metrics.pearson_correlation(yt[None], yp[None])), [r(yt, yp)], rtol=1e-4)

# -- OneHotIoU, the page's example ---------------------------------------------------------------------------
y_true = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]])
y_pred = np.array([[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5]])
m = keras.metrics.OneHotIoU(num_classes=3, target_class_ids=[0, 2])
# the page weighs the rows 0.1 ... 0.4; Keras 3.15 keeps the confusion matrix in integers (and warns),
# so whole weights in the same ratio give the page's number in both
m.update_state(y_true=y_true, y_pred=y_pred, sample_weight=[1, 2, 3, 4])
np.testing.assert_allclose(float(npy(m.result())), 0.07142857, rtol=1e-5)
m.reset_state()
m.update_state(y_true, y_pred)          # unweighted: class 0 has no hit, class 2 one hit in 3 predictions
np.testing.assert_allclose(float(npy(m.result())), (0 + 1 / 3) / 2, rtol=1e-5)

# -- Circle loss on embeddings: pulls same-label pairs together --------------------------------------------
emb = rng.normal(size=(8, 4)).astype("float32")
emb /= np.linalg.norm(emb, axis=1, keepdims=True)
ids = np.array([0, 0, 1, 1, 2, 2, 3, 3])
circle = keras.losses.Circle(gamma=80.0, margin=0.4)
value = float(npy(circle(ids, emb)))
assert np.isfinite(value) and value > 0
close = emb.copy()
close[1::2] = close[0::2]                                       # pairs identical: the loss drops
assert float(npy(circle(ids, close))) < value

# -- a small segmentation model trained with Dice + focal loss and the correlation metrics -----------------
images = rng.normal(size=(96, 8, 8, 1)).astype("float32")
masks = np.stack([(images[..., 0] > 0.3), (images[..., 0] <= 0.3)], -1).astype("float32")
inputs = keras.Input((8, 8, 1))
h = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
outputs = layers.Conv2D(2, 1, activation="softmax")(h)
model = keras.Model(inputs, outputs)
dice_loss, focal = keras.losses.Dice(), keras.losses.CategoricalFocalCrossentropy()


def combined(y_true, y_pred):
    return dice_loss(y_true, y_pred) + focal(y_true, y_pred)


model.compile(optimizer=keras.optimizers.Adam(0.02), loss=combined,
              metrics=[keras.metrics.OneHotMeanIoU(num_classes=2, name="miou"), keras.metrics.Dice(name="dice")
                       if hasattr(keras.metrics, "Dice") else keras.metrics.BinaryIoU(name="dice")])
history = model.fit(images, masks, batch_size=16, epochs=8, verbose=0)
h = history.history
print("loss", h["loss"][0], "->", h["loss"][-1], "miou", h["miou"][-1])
assert h["loss"][-1] < 0.5 * h["loss"][0], h["loss"]
assert h["miou"][-1] > 0.8, h["miou"]

reg = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
reg.compile(optimizer=keras.optimizers.Adam(0.05), loss=keras.losses.LogCosh(),
            metrics=[keras.metrics.PearsonCorrelation(axis=0, name="r"), keras.metrics.ConcordanceCorrelation(axis=0, name="ccc"),
                     keras.metrics.MeanMetricWrapper(fn=max_abs_error, name="max_abs")])
xr = rng.normal(size=(128, 3)).astype("float32")
yr = (xr @ np.array([1.0, -1.0, 0.5]) + 0.05 * rng.normal(size=128)).astype("float32")[:, None]
history = reg.fit(xr, yr, batch_size=32, epochs=15, verbose=0)
print("r", history.history["r"][-1], "ccc", history.history["ccc"][-1])
assert history.history["r"][-1] > 0.95 and history.history["ccc"][-1] > 0.9
assert history.history["max_abs"][-1] < history.history["max_abs"][0]
