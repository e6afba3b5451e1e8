"""keras.io example "Timeseries Classification with LSTM and CNN Models"
(examples/timeseries/lstm_vs_cnn_timeseries_classification, Georgios Sklavounakos), imports
changed: a Sequential of two LSTMs with `dropout` and `recurrent_dropout` and a Sequential 1-D CNN
(Conv1D, BatchNormalization, MaxPooling1D, Dropout, GlobalAveragePooling1D) trained under the same
settings with `validation_split`, `ModelCheckpoint(save_best_only=True, monitor="val_loss")` to a
`.keras` file and `EarlyStopping(restore_best_weights=True)`, the best checkpoint loaded with
`load_model` and evaluated, and `history.history` read for the plots.
FordA (TSV files read by `np.loadtxt` from GitHub) becomes synthetic TSV files written here:
64-step "engine noise" (a few partials plus noise) whose faulty class carries an extra partial,
labels -1 / 1 in the first column, so `root_url` names the working directory; the sizes are cut
(160 / 80 series of 64 steps, LSTM 64 / 32 -> 16 / 8 units, CNN 64 / 128 -> 16 / 32 filters,
8 epochs, patience 3) and plotting is dropped."""
import os

import numpy as np
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(2)


def _write_forda(path, n, rng):
    t = np.arange(64) / 64.0
    y = rng.choice([-1, 1], n)
    x = (np.sin(2 * np.pi * 5 * t + rng.uniform(0, 6.3, (n, 1)))
         + 0.5 * np.sin(2 * np.pi * 11 * t + rng.uniform(0, 6.3, (n, 1)))
         + (y[:, None] == 1) * 0.8 * np.sin(2 * np.pi * 23 * t + rng.uniform(0, 6.3, (n, 1)))
         + rng.normal(0, 0.4, (n, 64)))
    x = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)   # z-normalized, as FordA
    np.savetxt(path, np.column_stack([y, x]), delimiter="\t", fmt="%.5f")


_rng = np.random.default_rng(0)
_write_forda("FordA_TRAIN.tsv", 160, _rng)
_write_forda("FordA_TEST.tsv", 80, _rng)


def readucr(filename):
    """Read UCR timeseries dataset from a TSV file."""
    data = np.loadtxt(filename, delimiter="\t")
    y = data[:, 0].astype(int)
    x = data[:, 1:].astype(np.float32)
    return x, y


root_url = os.getcwd() + os.sep  # the example: "https://raw.githubusercontent.com/hfawaz/cd-diagram/master/FordA/"

x_train, y_train = readucr(root_url + "FordA_TRAIN.tsv")
x_test, y_test = readucr(root_url + "FordA_TEST.tsv")

classes = np.unique(np.concatenate((y_train, y_test), axis=0))

x_train = x_train.reshape((x_train.shape[0], x_train.shape[1], 1))
x_test = x_test.reshape((x_test.shape[0], x_test.shape[1], 1))

# Standardize labels: map {-1, 1} to {0, 1}
y_train = np.where(y_train == -1, 0, y_train)
y_test = np.where(y_test == -1, 0, y_test)

# Shuffle training data for validation split
idx = np.random.permutation(len(x_train))
x_train = x_train[idx]
y_train = y_train[idx]

num_classes = len(np.unique(y_train))


def build_lstm_model(input_shape, num_classes):
    """Build an LSTM-based model for timeseries classification."""
    model = keras.Sequential([
        layers.Input(shape=input_shape),
        layers.LSTM(16, return_sequences=True, dropout=0.3, recurrent_dropout=0.3),
        layers.LSTM(8, dropout=0.3, recurrent_dropout=0.3),
        layers.Dense(16, activation="relu"),
        layers.Dense(num_classes, activation="softmax")
    ])
    return model


def build_cnn_model(input_shape, num_classes):
    """Build a 1D CNN-based model for timeseries classification."""
    model = keras.Sequential([
        layers.Input(shape=input_shape),
        layers.Conv1D(filters=16, kernel_size=7, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling1D(pool_size=2),
        layers.Dropout(0.3),
        layers.Conv1D(filters=32, kernel_size=5, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling1D(pool_size=2),
        layers.Dropout(0.3),
        layers.GlobalAveragePooling1D(),
        layers.Dense(16, activation="relu"),
        layers.Dense(num_classes, activation="softmax")
    ])
    return model


input_shape = x_train.shape[1:]
lstm_model = build_lstm_model(input_shape, num_classes)
cnn_model = build_cnn_model(input_shape, num_classes)

epochs = 8  # the example: 100
batch_size = 32


def train_model(model, model_name, x_train, y_train, x_test, y_test):
    """Train and evaluate a model, return history and test metrics."""
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"]
    )

    history = model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=batch_size,
        validation_split=0.2,
        callbacks=[
            keras.callbacks.ModelCheckpoint(
                f"best_{model_name}_model.keras",
                save_best_only=True,
                monitor="val_loss"
            ),
            keras.callbacks.EarlyStopping(
                monitor="val_loss",
                patience=3,  # the example: 20
                restore_best_weights=True
            )
        ],
        verbose=0
    )

    # Load best model for evaluation
    best_model = keras.models.load_model(f"best_{model_name}_model.keras")
    test_loss, test_acc = best_model.evaluate(x_test, y_test, verbose=0)
    print(f"{model_name} Test Accuracy: {test_acc:.4f}, Loss: {test_loss:.4f}")

    return history, test_acc, test_loss


# Train LSTM model
print("Training LSTM model...")
lstm_history, lstm_test_acc, lstm_test_loss = train_model(lstm_model, "LSTM", x_train, y_train, x_test, y_test)

# Train CNN model
print("Training CNN model...")
cnn_history, cnn_test_acc, cnn_test_loss = train_model(cnn_model, "CNN", x_train, y_train, x_test, y_test)

print("\nModel Comparison:")
print(f"LSTM Test Accuracy: {lstm_test_acc:.4f}, Loss: {lstm_test_loss:.4f}")
print(f"CNN Test Accuracy: {cnn_test_acc:.4f}, Loss: {cnn_test_loss:.4f}")

# ---- checks (not in the example) -------------------------------------------------------------
assert list(classes) == [-1, 1] and set(np.unique(y_train)) == {0, 1}
for history in (lstm_history, cnn_history):
    # the keys the example plots
    assert {"sparse_categorical_accuracy", "val_sparse_categorical_accuracy", "loss", "val_loss"} <= set(
        history.history), history.history.keys()
# the checkpoint holds the epoch of the best val_loss, which EarlyStopping restored too
best_cnn = keras.models.load_model("best_CNN_model.keras")
best_epoch = int(np.argmin(cnn_history.history["val_loss"]))
val_x, val_y = x_train[-32:], y_train[-32:]   # validation_split takes the last 20%
np.testing.assert_allclose(best_cnn.evaluate(val_x, val_y, verbose=0)[0],
                           cnn_history.history["val_loss"][best_epoch], rtol=1e-4)
np.testing.assert_allclose(best_cnn.predict(x_test[:8], verbose=0), cnn_model.predict(x_test[:8], verbose=0),
                           rtol=1e-4, atol=1e-5)
# the CNN separates the extra partial well above chance; the small LSTM learns something
assert cnn_test_acc > 0.8, cnn_test_acc
assert lstm_history.history["loss"][-1] < lstm_history.history["loss"][0], lstm_history.history["loss"]
