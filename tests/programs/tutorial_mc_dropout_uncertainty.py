"""Uncertainty with Monte Carlo dropout (the tf.keras recipe: Gal & Ghahramani), imports
changed: a regression model with Dropout layers, trained with fit, then called T times with
training=True so dropout stays on at inference; tf.stack of the draws, tf.reduce_mean /
tf.math.reduce_std over them. Checks: training=False calls are deterministic and equal
predict(), training=True draws differ, the MC mean and std equal NumPy's over the draws, the MC mean tracks the
target inside the data, and the Dropout layer drops 10% and rescales the rest under training=True."""
import numpy as np

import corenn as tf

tf.random.set_seed(42)
rng = np.random.default_rng(42)

x_train = rng.uniform(-3, 3, size=(512, 1)).astype("float32")
y_train = (np.sin(x_train) + rng.normal(0, 0.1, size=x_train.shape)).astype("float32")

model = tf.keras.Sequential([
    tf.keras.layers.Input(shape=(1,)),
    tf.keras.layers.Dense(64, activation="relu"),
    tf.keras.layers.Dropout(0.1),
    tf.keras.layers.Dense(64, activation="relu"),
    tf.keras.layers.Dropout(0.1),
    tf.keras.layers.Dense(1),
])
model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=0.01), loss="mse")
history = model.fit(x_train, y_train, epochs=60, batch_size=64, verbose=0)
assert history.history["loss"][-1] < 0.5 * history.history["loss"][0], history.history["loss"][::10]

x_test = np.linspace(-8, 8, 161, dtype="float32")[:, None]

# ordinary inference: dropout off, deterministic
p1 = model(x_test, training=False)
p2 = model(x_test, training=False)
np.testing.assert_array_equal(p1.numpy(), p2.numpy())
np.testing.assert_allclose(model.predict(x_test, verbose=0), p1.numpy(), rtol=1e-5, atol=1e-6)


def mc_dropout_predict(model, x, T=100):
  predictions = [model(x, training=True) for _ in range(T)]
  predictions = tf.stack(predictions, axis=0)
  mean = tf.reduce_mean(predictions, axis=0)
  std = tf.math.reduce_std(predictions, axis=0)
  return predictions, mean, std


draws, mean, std = mc_dropout_predict(model, x_test)
assert draws.shape == (100, 161, 1) and mean.shape == (161, 1) and std.shape == (161, 1)
d = draws.numpy().astype(np.float64)
np.testing.assert_allclose(mean.numpy(), d.mean(0), rtol=1e-4, atol=1e-5)
np.testing.assert_allclose(std.numpy(), d.std(0), rtol=1e-3, atol=1e-5)
assert not np.allclose(d[0], d[1])          # dropout is on at every call

inside = np.abs(x_test[:, 0]) <= 2.5
outside = np.abs(x_test[:, 0]) >= 7
err = np.abs(mean.numpy()[inside, 0] - np.sin(x_test[inside, 0]))
print("mean abs error inside:", err.mean())
print("mean std inside / outside:", std.numpy()[inside].mean(), std.numpy()[outside].mean())
assert err.mean() < 0.15
assert (std.numpy() > 0).all()

# the Dropout layer itself under training=True: a 10% of zeros, the rest scaled by 1 / 0.9
dropout = model.layers[1]
z = dropout(tf.ones((400, 64)), training=True).numpy()
assert abs((z == 0).mean() - 0.1) < 0.01, (z == 0).mean()
np.testing.assert_allclose(z[z != 0], 1 / 0.9, rtol=1e-6)
np.testing.assert_array_equal(dropout(tf.ones((4, 64)), training=False).numpy(), 1.0)
