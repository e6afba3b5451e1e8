"""Tabular regression scored with R2Score, the way keras.io's structured-data and the TensorFlow
"Basic regression" tutorials write it (a Normalization layer adapted to the features, a small
Dense network, mse loss) plus Keras 3's R2Score and RootMeanSquaredError metrics, an
EarlyStopping on the validation R^2 and per-sample weights; only the imports changed. The data
are a synthetic house-price table (Boston-housing-like: 13 features, a price that depends on a
few of them non-linearly, noise)."""
import numpy as np

from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(3)

rng = np.random.default_rng(3)
n = 600
features = rng.normal(size=(n, 13)).astype("float32") * rng.uniform(0.5, 20, 13).astype("float32") \
    + rng.uniform(0, 50, 13).astype("float32")
z = (features - features.mean(0)) / features.std(0)
price = 22 + 6 * z[:, 5] - 4 * z[:, 12] + 2.5 * np.tanh(z[:, 0]) + 1.5 * z[:, 2] * z[:, 7] + rng.normal(0, 1.0, n)
price = price.astype("float32")[:, None]

split = 480
x_train, x_test = features[:split], features[split:]
y_train, y_test = price[:split], price[split:]
# newer houses are more reliable sales records: weight them more (sample_weight in fit)
weights = np.where(features[:split, 6] > np.median(features[:, 6]), 2.0, 1.0).astype("float32")

normalizer = layers.Normalization(axis=-1)
normalizer.adapt(x_train)

model = keras.Sequential([
    keras.Input(shape=(13,)),
    normalizer,
    layers.Dense(64, activation="relu"),
    layers.Dense(64, activation="relu"),
    layers.Dense(1),
])
model.compile(
    optimizer=keras.optimizers.Adam(3e-3),
    loss="mean_squared_error",
    metrics=[keras.metrics.R2Score(), keras.metrics.RootMeanSquaredError()],
)
history = model.fit(
    x_train, y_train, sample_weight=weights, validation_split=0.2, epochs=40, batch_size=32, verbose=0,
    callbacks=[keras.callbacks.EarlyStopping(monitor="val_r2_score", mode="max", patience=5,
                                             restore_best_weights=True)],
)
print("epochs run:", len(history.history["loss"]))
print("train R2:", [round(v, 3) for v in history.history["r2_score"]])
print("val R2:", [round(v, 3) for v in history.history["val_r2_score"]])
assert history.history["r2_score"][0] < 0.5 < 0.85 < max(history.history["val_r2_score"])

results = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
print(results)
pred = model.predict(x_test, verbose=0)
ss_res = float(np.sum((y_test - pred) ** 2))
ss_tot = float(np.sum((y_test - y_test.mean()) ** 2))
assert abs(results["r2_score"] - (1 - ss_res / ss_tot)) < 1e-4
assert abs(results["root_mean_squared_error"] - np.sqrt(ss_res / len(y_test))) < 1e-3
assert results["r2_score"] > 0.8

# the adjusted R^2 (13 regressors) is a little lower than the plain score, as its formula says
adjusted = keras.metrics.R2Score(num_regressors=13)
adjusted.update_state(y_test, pred)
m = len(y_test)
assert abs(float(adjusted.result()) - (1 - (1 - results["r2_score"]) * (m - 1) / (m - 13 - 1))) < 1e-4
