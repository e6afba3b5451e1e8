"""keras.io example "Multivariate Time Series Forecasting using LSTM"
(examples/timeseries/multivariate_timeseries_forecasting_using_lstm, Rohit Sahoo), imports changed:
the deprecated `tensorflow.keras.preprocessing.sequence.TimeseriesGenerator` printing its first
(window, target) batch and feeding fit (with validation_data and shuffle=False), evaluate and
predict; a stacked Sequential of LSTMs (return_sequences) with LeakyReLU(alpha=0.5) and Dropout,
compiled with tf.losses.MeanSquaredError / tf.optimizers.Adam / tf.metrics.MeanAbsoluteError and
read back through history.history["mean_absolute_error"].
The Google stock CSV (pandas.read_csv from GitHub) becomes a synthetic random-walk price series
with Open / High / Low / Close / Adj Close columns; sklearn's StandardScaler and
train_test_split(shuffle=False) and the few pandas calls are small NumPy stand-ins defined here.
Sizes are cut (600 days, window 60 -> 20, LSTM 128 / 128 / 64 -> 16 / 16 / 8 units, 50 -> 15
epochs) and plotting is dropped."""
import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
from corenn.keras.preprocessing.sequence import TimeseriesGenerator
import corenn as tf


class StandardScaler:  # sklearn.preprocessing.StandardScaler, the two calls the example makes
    def fit_transform(self, x):
        x = np.asarray(x, dtype=np.float64)
        self.mean_, self.scale_ = x.mean(axis=0), x.std(axis=0)
        return (x - self.mean_) / self.scale_

    def inverse_transform(self, x):
        return np.asarray(x) * self.scale_ + self.mean_


def train_test_split(*arrays, test_size, random_state=None, shuffle=False):  # sklearn, shuffle=False
    n_test = int(np.ceil(test_size * len(arrays[0])))
    out = []
    for a in arrays:
        out += [a[:-n_test], a[-n_test:]]
    return out


"""
## Load the Data
"""
rng = np.random.default_rng(123)
days = 600
close = 100.0 + np.cumsum(rng.normal(0.05, 1.0, days))
open_ = np.concatenate([[100.0], close[:-1]]) + rng.normal(0, 0.3, days)
high = np.maximum(open_, close) + np.abs(rng.normal(0, 0.5, days))
low = np.minimum(open_, close) - np.abs(rng.normal(0, 0.5, days))
df = {"Open": open_, "High": high, "Low": low, "Close": close, "Adj Close": close * 0.98}

"""
Taking 5 features as the input to the time series - open, high, low, close, Adjusted close
"""

df_input = np.column_stack([df[c] for c in ["Open", "High", "Low", "Close", "Adj Close",]])

"""
## Data Preprocessing
"""

scaler = StandardScaler()
data_scaled = scaler.fit_transform(df_input)
data_scaled

features = data_scaled
target = data_scaled[:, 0]  # Target Column - Open Price

x_train, x_test, y_train, y_test = train_test_split(
    features, target, test_size=0.25, random_state=123, shuffle=False
)

print(x_train.shape)
print(x_test.shape)

# This code block is for the understanding the output of TimeseriesGenerator
print("Input Features\n", data_scaled[0:3])
print("\nTimeseriesGenerator")
first_batch = TimeseriesGenerator(features, target, length=2, sampling_rate=1, batch_size=1)[0]
print(first_batch)
# the opening price of the 3rd day is the target of the first two days' features
np.testing.assert_array_equal(first_batch[0], data_scaled[None, 0:2])
np.testing.assert_array_equal(first_batch[1], data_scaled[2:3, 0])

"""
## Build the model
"""

win_length = 20  # window length
batch_size = 62
num_features = 5
train_generator = TimeseriesGenerator(
    x_train, y_train, length=win_length, sampling_rate=1, batch_size=batch_size
)
test_generator = TimeseriesGenerator(
    x_test, y_test, length=win_length, sampling_rate=1, batch_size=batch_size
)

model = tf.keras.Sequential()
model.add(
    tf.keras.layers.LSTM(
        16, input_shape=(win_length, num_features), return_sequences=True
    )
)
model.add(tf.keras.layers.LeakyReLU(alpha=0.5))
model.add(tf.keras.layers.LSTM(16, return_sequences=True))
model.add(tf.keras.layers.LeakyReLU(alpha=0.5))
model.add(tf.keras.layers.Dropout(0.3))
model.add(tf.keras.layers.LSTM(8, return_sequences=False))
model.add(tf.keras.layers.Dropout(0.3))
model.add(tf.keras.layers.Dense(1))

model.summary()

"""
## Train the model
"""

model.compile(
    loss=tf.losses.MeanSquaredError(),
    optimizer=tf.optimizers.Adam(),
    metrics=[tf.metrics.MeanAbsoluteError()],
)

history = model.fit(
    train_generator, epochs=15, validation_data=test_generator, shuffle=False
)

print(history.history["mean_absolute_error"], history.history["val_mean_absolute_error"])

test_loss, test_mae = model.evaluate(test_generator, verbose=0)
print("Test Loss:", test_loss)
print("Test MAE:", test_mae)

predictions = model.predict(test_generator)

print(predictions.shape[0])
assert predictions.shape == (len(x_test) - win_length, 1), predictions.shape

# Concatenate the prediction dataframe with the x_test (pd.concat(axis=1))
df_pred = np.concatenate([predictions, x_test[:, 1:][win_length:]], axis=1)

# To get the original values, the inverse_transform has to be performed.
in_trans = scaler.inverse_transform(df_pred)

df_final = df_input[predictions.shape[0] * -1 :]
predicted_open = in_trans[:, 0].tolist()

# the check: training lowered the error, and the forecast of the (standardized) opening price
# beats predicting the test period's mean
losses = history.history["loss"]
assert losses[-1] < losses[0], losses
baseline = np.mean(np.abs(y_test[win_length:] - y_test[win_length:].mean()))
assert test_mae < baseline, (test_mae, baseline)
np.testing.assert_allclose(df_final[:, 1:], in_trans[:, 1:], rtol=1e-6)
