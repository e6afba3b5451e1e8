"""Multi-label event detection in sensor sequences with attention pooling, written the way
keras.io's timeseries and multi-label examples write it: a Conv1D + GRU encoder, attention
pooling over time (Dense(1) scores, Softmax(axis=1) over the steps, a weighted sum with Dot),
sigmoid outputs per label, and the multi-label metrics Keras 3 offers: AUC(multi_label=True),
Precision / Recall with top_k, RecallAtPrecision for one class (class_id), plus a PReLU whose
slopes are kept non-negative (alpha_constraint=NonNeg()). Only the imports changed. The data are
synthetic: each of 4 event types leaves its own bump shape somewhere in a noisy 3-channel
signal; a sequence holds one or two events."""
import numpy as np

from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(2)

T, CHANNELS, LABELS = 40, 3, 4
rng = np.random.default_rng(2)
BUMPS = rng.normal(0, 1, (LABELS, 6, CHANNELS)).astype("float32") * 1.5


def recordings(n):
    x = rng.normal(0, 0.5, (n, T, CHANNELS)).astype("float32")
    y = np.zeros((n, LABELS), "float32")
    for i in range(n):
        for label in rng.choice(LABELS, rng.integers(1, 3), replace=False):
            at = rng.integers(0, T - 6)
            x[i, at:at + 6] += BUMPS[label]
            y[i, label] = 1.0
    return x, y


x_train, y_train = recordings(600)
x_val, y_val = recordings(200)

inputs = keras.Input(shape=(T, CHANNELS))
h = layers.Conv1D(32, 5, padding="same")(inputs)
h = layers.PReLU(alpha_initializer=keras.initializers.Constant(0.2),
                 alpha_constraint=keras.constraints.NonNeg(), shared_axes=[1])(h)
h = layers.GRU(32, return_sequences=True)(h)
scores = layers.Dense(1, name="attention_scores")(h)
weights = layers.Softmax(axis=1, name="attention_weights")(scores)      # over the time steps
pooled = layers.Flatten()(layers.Dot(axes=1)([weights, h]))           # sum_t w_t h_t
outputs = layers.Dense(LABELS, activation="sigmoid")(pooled)
model = keras.Model(inputs, outputs)

model.compile(
    optimizer=keras.optimizers.Adam(5e-3),
    loss="binary_crossentropy",
    metrics=[
        keras.metrics.AUC(multi_label=True, name="auc"),
        keras.metrics.Precision(top_k=1, name="precision_top1"),
        keras.metrics.Recall(top_k=2, name="recall_top2"),
        keras.metrics.RecallAtPrecision(0.9, class_id=0, name="recall_at_p90_class0"),
    ],
)
history = model.fit(x_train, y_train, batch_size=32, epochs=5, validation_data=(x_val, y_val), verbose=2)
print({k: [round(v, 3) for v in vals] for k, vals in history.history.items()})
assert history.history["val_auc"][-1] > 0.95, history.history["val_auc"]
assert history.history["val_precision_top1"][-1] > 0.9
assert history.history["val_recall_at_p90_class0"][-1] > 0.8

# the metrics agree with what the predictions say
probs = model.predict(x_val, verbose=0)
best = probs.argmax(1)
top1_precision = y_val[np.arange(len(best)), best].mean()
results = model.evaluate(x_val, y_val, verbose=0, return_dict=True)
assert abs(results["precision_top1"] - top1_precision) < 1e-6, (results, top1_precision)

# the attention weights are a distribution over the steps, and they peak at an event
attention = keras.Model(inputs, model.get_layer("attention_weights").output)
w = attention.predict(x_val, verbose=0)[..., 0]
np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)
assert w.max(axis=1).mean() > 3.0 / T   # far from uniform

prelu = next(l for l in model.layers if isinstance(l, layers.PReLU))
assert np.asarray(prelu.alpha).min() >= 0.0
