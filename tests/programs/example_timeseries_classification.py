"""keras-io examples/timeseries/timeseries_classification_from_scratch (FordA, a fully
convolutional network), imports changed. The FordA TSV files are replaced by synthetic series
(class 1 carries a faint sine burst), 100 steps long instead of 500; labels -1 / 1 are remapped
to 0 / 1 as the example does."""
import numpy as np

import corenn as keras

keras.utils.set_random_seed(0)
rng = np.random.default_rng(14)


def readucr(n):
    y = rng.choice([-1, 1], n)
    t = np.arange(100)
    x = rng.normal(0, 1.0, (n, 100))
    start = rng.integers(0, 60, n)
    burst = np.sin(2 * np.pi * (t[None, :] - start[:, None]) / 10) * ((t >= start[:, None]) & (t < start[:, None] + 40))
    x = x + 1.5 * burst * (y[:, None] == 1)
    return x, y.astype(int)


x_train, y_train = readucr(400)
x_test, y_test = readucr(150)

classes = np.unique(np.concatenate((y_train, y_test), axis=0))
x_train = x_train.reshape((x_train.shape[0], x_train.shape[1], 1))
x_test = x_test.reshape((x_test.shape[0], x_test.shape[1], 1))
num_classes = len(np.unique(y_train))

idx = np.random.permutation(len(x_train))
x_train = x_train[idx]
y_train = y_train[idx]

y_train[y_train == -1] = 0
y_test[y_test == -1] = 0


def make_model(input_shape):
    input_layer = keras.layers.Input(input_shape)

    conv1 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(input_layer)
    conv1 = keras.layers.BatchNormalization()(conv1)
    conv1 = keras.layers.ReLU()(conv1)

    conv2 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv1)
    conv2 = keras.layers.BatchNormalization()(conv2)
    conv2 = keras.layers.ReLU()(conv2)

    conv3 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv2)
    conv3 = keras.layers.BatchNormalization()(conv3)
    conv3 = keras.layers.ReLU()(conv3)

    gap = keras.layers.GlobalAveragePooling1D()(conv3)

    output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)

    return keras.models.Model(inputs=input_layer, outputs=output_layer)


model = make_model(input_shape=x_train.shape[1:])
keras.utils.plot_model(model, show_shapes=True)

epochs = 12
batch_size = 32

callbacks = [
    keras.callbacks.ModelCheckpoint(
        "best_model.keras", save_best_only=True, monitor="val_loss"
    ),
    keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=0.5, patience=20, min_lr=0.0001
    ),
    keras.callbacks.EarlyStopping(monitor="val_loss", patience=50, verbose=1),
]
model.compile(
    optimizer="adam",
    loss="sparse_categorical_crossentropy",
    metrics=["sparse_categorical_accuracy"],
)
history = model.fit(
    x_train,
    y_train,
    batch_size=batch_size,
    epochs=epochs,
    callbacks=callbacks,
    validation_split=0.2,
    verbose=1,
)

model = keras.models.load_model("best_model.keras")

test_loss, test_acc = model.evaluate(x_test, y_test)

print("Test accuracy", test_acc)
print("Test loss", test_loss)
best = int(np.argmin(history.history["val_loss"]))
print("best epoch", best + 1, history.history["val_sparse_categorical_accuracy"][best])
assert test_acc > 0.85, test_acc
assert set(history.history) >= {"loss", "sparse_categorical_accuracy", "val_loss",
                                "val_sparse_categorical_accuracy", "learning_rate"}, history.history.keys()
