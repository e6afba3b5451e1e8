"""keras-io examples/timeseries/timeseries_weather_forecasting, imports changed; the Jena
climate CSV is replaced by synthetic daily-cycle series, and timeseries_dataset_from_array by
the same windows cut with NumPy. The model, callbacks and checkpoint are the example's."""
import numpy as np
import corenn as keras

keras.utils.set_random_seed(0)
rng = np.random.default_rng(9)

n = 1800
t = np.arange(n)
temperature = 10 + 8 * np.sin(2 * np.pi * t / 144) + rng.normal(0, 0.3, n)
pressure = 990 + 0.5 * np.cos(2 * np.pi * t / 144) + rng.normal(0, 0.1, n)
humidity = 70 - 3 * np.sin(2 * np.pi * t / 144) + rng.normal(0, 1.0, n)
features = np.stack([pressure, temperature, humidity], axis=1)

split_fraction = 0.715
train_split = int(split_fraction * n)
step = 6

past = 120
future = 12
learning_rate = 0.003
batch_size = 64
epochs = 8


def normalize(data, train_split):
    data_mean = data[:train_split].mean(axis=0)
    data_std = data[:train_split].std(axis=0)
    return (data - data_mean) / data_std


features = normalize(features, train_split)
train_data = features[0 : train_split - 1]
val_data = features[train_split:]


def windows(data, targets, sequence_length, sampling_rate):
    """timeseries_dataset_from_array's windows: x[i] = data[i : i + sequence_length*rate : rate]."""
    span = (sequence_length - 1) * sampling_rate + 1
    count = min(len(data) - span + 1, len(targets))
    x = np.stack([data[i : i + span : sampling_rate] for i in range(count)])
    return x.astype("float32"), targets[:count].astype("float32")


start = past + future
end = start + train_split
x_train = train_data
y_train = features[start:end, [1]]
sequence_length = int(past / step)
inputs_np, targets_np = windows(x_train, y_train, sequence_length, step)

x_end = len(val_data) - past - future
label_start = train_split + past + future
x_val = val_data[:x_end]
y_val = features[label_start:, [1]]
val_x, val_y = windows(x_val, y_val, sequence_length, step)

print("Input shape:", inputs_np.shape)
print("Target shape:", targets_np.shape)

inputs = keras.layers.Input(shape=(inputs_np.shape[1], inputs_np.shape[2]))
lstm_out = keras.layers.LSTM(32)(inputs)
outputs = keras.layers.Dense(1)(lstm_out)

model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")
model.summary()

path_checkpoint = "model_checkpoint.weights.npz"   # the example writes .weights.h5
es_callback = keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=0, patience=5)

modelckpt_callback = keras.callbacks.ModelCheckpoint(
    monitor="val_loss",
    filepath=path_checkpoint,
    verbose=1,
    save_weights_only=True,
    save_best_only=True,
)

history = model.fit(
    inputs_np, targets_np,
    batch_size=batch_size,
    epochs=epochs,
    validation_data=(val_x, val_y),
    callbacks=[es_callback, modelckpt_callback],
)
val_loss = history.history["val_loss"]
assert val_loss[-1] < 0.5 * val_loss[0], val_loss

# the checkpoint holds the best epoch's weights
model.load_weights(path_checkpoint)
best = model.evaluate(val_x, val_y, verbose=0)
assert np.isclose(best, min(val_loss), rtol=1e-4), (best, val_loss)

prediction = model.predict(val_x[:5])
assert prediction.shape == (5, 1)
# better than predicting the mean (0 after normalization)
assert np.mean((model.predict(val_x) - val_y) ** 2) < 0.3 * np.mean(val_y ** 2)
