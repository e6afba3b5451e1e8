"""keras-io examples/timeseries/timeseries_anomaly_detection (a Conv1D / Conv1DTranspose
autoencoder whose reconstruction error flags anomalies), imports changed only (`import keras`,
`from keras import layers` -> corenn). The NAB CSV files are replaced by a synthetic daily
pattern sampled every 5 minutes, and the test series gets an injected anomaly."""
import numpy as np
import corenn as keras
from corenn.keras import layers

keras.utils.set_random_seed(8)
rng = np.random.default_rng(8)
steps_per_day = 288
t = np.arange(steps_per_day * 8)
daily = 20 + 10 * np.sin(2 * np.pi * t / steps_per_day) + 3 * np.sin(6 * np.pi * t / steps_per_day)
df_small_noise = (daily + rng.normal(0, 0.5, t.size)).reshape(-1, 1)
df_daily_jumpsup = (daily + rng.normal(0, 0.5, t.size)).reshape(-1, 1)
anomaly_start, anomaly_end = 1400, 1480
df_daily_jumpsup[anomaly_start:anomaly_end] += 35       # the jump the model never saw

# Normalize and save the mean and std we get, for normalizing test data.
training_mean = df_small_noise.mean()
training_std = df_small_noise.std()
df_training_value = (df_small_noise - training_mean) / training_std
print("Number of training samples:", len(df_training_value))

TIME_STEPS = 64


def create_sequences(values, time_steps=TIME_STEPS):
    output = []
    for i in range(len(values) - time_steps + 1):
        output.append(values[i: (i + time_steps)])
    return np.stack(output)


x_train = create_sequences(df_training_value)
print("Training input shape: ", x_train.shape)

model = keras.Sequential(
    [
        layers.Input(shape=(x_train.shape[1], x_train.shape[2])),
        layers.Conv1D(filters=16, kernel_size=7, padding="same", strides=2, activation="relu"),
        layers.Dropout(rate=0.2),
        layers.Conv1D(filters=8, kernel_size=7, padding="same", strides=2, activation="relu"),
        layers.Conv1DTranspose(filters=8, kernel_size=7, padding="same", strides=2, activation="relu"),
        layers.Dropout(rate=0.2),
        layers.Conv1DTranspose(filters=16, kernel_size=7, padding="same", strides=2, activation="relu"),
        layers.Conv1DTranspose(filters=1, kernel_size=7, padding="same"),
    ]
)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.003), loss="mse")
model.summary()
assert model.output_shape == (None, TIME_STEPS, 1)

history = model.fit(
    x_train[::4], x_train[::4],   # every 4th window keeps the run short
    epochs=15, batch_size=64, validation_split=0.1, verbose=0,
    callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, mode="min")],
)
print("loss", history.history["loss"][0], "->", history.history["loss"][-1])
assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]

# Get train MAE loss.
x_train_pred = model.predict(x_train)
train_mae_loss = np.mean(np.abs(x_train_pred - x_train), axis=1)
# Get reconstruction loss threshold.
threshold = np.max(train_mae_loss)
print("Reconstruction error threshold: ", threshold)

df_test_value = (df_daily_jumpsup - training_mean) / training_std
x_test = create_sequences(df_test_value)
x_test_pred = model.predict(x_test)
test_mae_loss = np.mean(np.abs(x_test_pred - x_test), axis=1).reshape((-1))
anomalies = test_mae_loss > threshold
print("Number of anomaly samples: ", np.sum(anomalies))
print("Indices of anomaly samples: ", np.where(anomalies))

# data i is an anomaly if samples [(i - timesteps + 1) to (i)] are anomalies
anomalous_data_indices = []
for data_idx in range(TIME_STEPS - 1, len(df_test_value) - TIME_STEPS + 1):
    if np.all(anomalies[data_idx - TIME_STEPS + 1: data_idx]):
        anomalous_data_indices.append(data_idx)
found = np.array(anomalous_data_indices)
print("anomalous points", found.min() if found.size else None, found.max() if found.size else None)
assert found.size > 0
# every flagged point lies in or next to the injected jump
assert found.min() >= anomaly_start - TIME_STEPS and found.max() <= anomaly_end + TIME_STEPS, found
# windows far from the jump are not flagged
assert not anomalies[:anomaly_start - TIME_STEPS - 50].any()
