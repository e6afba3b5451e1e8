"""The keras.losses API documentation's standalone usage: a loss object called on
(y_true, y_pred[, sample_weight]) with each `reduction` ("sum_over_batch_size", "sum", "none"),
`from_logits`, `label_smoothing`, `axis`, `ignore_class`; the functional forms
(keras.losses.mean_squared_error, ...) return one value per sample; `keras.losses.get` /
`serialize` / `deserialize` round-trip a configured loss. Each number is checked against the
formula written out in NumPy float64. Only the imports changed."""
import numpy as np

from corenn import keras


def close(value, expected, tol=1e-5):
    np.testing.assert_allclose(np.asarray(value, dtype="float64"), expected, rtol=tol, atol=tol)


rng = np.random.default_rng(0)
y_true = rng.integers(0, 2, size=(4, 3)).astype("float32")
logits = rng.normal(size=(4, 3)).astype("float32")
y_prob = (1 / (1 + np.exp(-logits.astype("float64"))))
w = np.array([0.5, 1.0, 0.0, 2.0], "float32")

# documented examples
bce = keras.losses.BinaryCrossentropy()
close(bce([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]), 0.81492424, 1e-4)
close(bce([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]], sample_weight=[1, 0]), 0.45814306, 1e-4)
close(keras.losses.BinaryCrossentropy(reduction="sum")([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]), 1.6298486, 1e-4)
close(keras.losses.BinaryCrossentropy(reduction=None)([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]),
      [0.9162905, 0.713558], 1e-4)

# binary cross-entropy from logits with label smoothing, per reduction
t = y_true.astype("float64") * (1 - 0.2) + 0.5 * 0.2
per_sample = -(t * np.log(y_prob) + (1 - t) * np.log(1 - y_prob)).mean(axis=-1)
loss = keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2, reduction="none")
close(loss(y_true, logits), per_sample)
close(loss(y_true, logits, sample_weight=w), per_sample * w)
loss = keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2)
close(loss(y_true, logits, sample_weight=w), (per_sample * w).sum() / 4)
loss = keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2, reduction="sum")
close(loss(y_true, logits, sample_weight=w), (per_sample * w).sum())

# categorical cross-entropy, one-hot and sparse, with smoothing and ignore_class
labels = np.array([0, 2, 1, 2])
onehot = np.eye(3, dtype="float32")[labels]
logp = logits - np.log(np.exp(logits.astype("float64")).sum(-1, keepdims=True))
smooth = onehot * 0.9 + 0.1 / 3
cce = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, reduction="none")
close(cce(onehot, logits), -(smooth * logp).sum(-1))
scce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
close(scce(labels, logits, sample_weight=w), (-logp[np.arange(4), labels] * w).mean())
scce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=2, reduction="none")
expect = -logp[np.arange(4), labels] * (labels != 2)
close(scce(labels, logits), expect)

# regression losses against their formulas
a = rng.normal(size=(4, 5)).astype("float64")
b = rng.normal(size=(4, 5)).astype("float64")
close(keras.losses.MeanSquaredError()(a, b), ((a - b) ** 2).mean())
close(keras.losses.mean_squared_error(a, b), ((a - b) ** 2).mean(-1))
close(keras.losses.MeanAbsoluteError(reduction="sum")(a, b), np.abs(a - b).mean(-1).sum())
close(keras.losses.MeanAbsolutePercentageError(reduction="none")(a, b),
      100 * (np.abs(a - b) / np.maximum(np.abs(a), 1e-7)).mean(-1), 1e-4)
pa, pb = np.abs(a), np.abs(b)
close(keras.losses.MeanSquaredLogarithmicError()(pa, pb), ((np.log1p(pa) - np.log1p(pb)) ** 2).mean())
d = b - a
huber = np.where(np.abs(d) <= 0.5, 0.5 * d ** 2, 0.5 * np.abs(d) - 0.5 * 0.5 ** 2)
close(keras.losses.Huber(delta=0.5, reduction="none")(a, b), huber.mean(-1))
close(keras.losses.LogCosh()(a, b), np.log(np.cosh(d)).mean())
na = a / np.linalg.norm(a, axis=-1, keepdims=True)
nb = b / np.linalg.norm(b, axis=-1, keepdims=True)
close(keras.losses.CosineSimilarity(axis=-1, reduction="none")(a, b), -(na * nb).sum(-1))
na0 = a / np.linalg.norm(a, axis=0, keepdims=True)
nb0 = b / np.linalg.norm(b, axis=0, keepdims=True)
close(keras.losses.CosineSimilarity(axis=0, reduction="none")(a, b), -(na0 * nb0).sum(0))
close(keras.losses.Poisson()(pa, pb), (pb - pa * np.log(pb + 1e-7)).mean(), 1e-4)
p = np.exp(a) / np.exp(a).sum(-1, keepdims=True)
q = np.exp(b) / np.exp(b).sum(-1, keepdims=True)
close(keras.losses.KLDivergence(reduction="none")(p, q), (p * np.log(p / q)).sum(-1))

# hinge family, labels in {-1, 1} (0/1 labels are mapped to -1/1)
s = np.sign(a)
close(keras.losses.Hinge()(s, b), np.maximum(1 - s * b, 0).mean())
close(keras.losses.Hinge()((s > 0).astype("float64"), b), np.maximum(1 - s * b, 0).mean())
close(keras.losses.SquaredHinge()(s, b), (np.maximum(1 - s * b, 0) ** 2).mean())
pos = (onehot * logits).sum(-1)
neg = ((1 - onehot) * logits).max(-1)
close(keras.losses.CategoricalHinge(reduction="none")(onehot, logits), np.maximum(neg - pos + 1, 0))

# focal cross-entropy: the documented formula with alpha balancing
gamma, alpha = 2.0, 0.25
pt = y_true * y_prob + (1 - y_true) * (1 - y_prob)
at = y_true * alpha + (1 - y_true) * (1 - alpha)
focal = (-at * (1 - pt) ** gamma * np.log(pt)).mean(-1)
loss = keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=alpha, gamma=gamma,
                                            from_logits=True, reduction="none")
close(loss(y_true, logits), focal, 1e-4)

# get / serialize / deserialize keep the configuration
close(keras.losses.get("MeanSquaredError")(a, b), ((a - b) ** 2).mean())
cfg = keras.losses.serialize(keras.losses.Huber(delta=0.5, reduction="sum"))
again = keras.losses.deserialize(cfg)
assert isinstance(again, keras.losses.Huber)
close(again(a, b), huber.mean(-1).sum())
again = keras.losses.get({"class_name": "CategoricalCrossentropy",
                          "config": {"from_logits": True, "label_smoothing": 0.1, "reduction": None}})
close(again(onehot, logits), -(smooth * logp).sum(-1))

# a loss object with sample weights used by fit matches the weighted formula
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
model.compile("sgd", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
x5 = a.astype("float32")
out = model.predict(x5, verbose=0).astype("float64")
lp = out - np.log(np.exp(out).sum(-1, keepdims=True))
expected = (-(onehot * lp).sum(-1) * w).mean()
close(model.evaluate(x5, onehot, sample_weight=w, batch_size=4, verbose=0), expected, 1e-4)
print("losses standalone OK")
