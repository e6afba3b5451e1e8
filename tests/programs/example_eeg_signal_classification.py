"""keras.io examples/timeseries/eeg_signal_classification, on synthetic signals: an imbalanced
multi-class Conv1D classifier fed from `tf.data` (`cache`, `shuffle`, `batch`, `prefetch`), trained
with `class_weight` computed as the example computes it, metrics `top_k_categorical_accuracy`,
`AUC` and `Precision` / `Recall` with one-hot labels, ModelCheckpoint on a validation metric and
ReduceLROnPlateau; the checkpoint reloads as a full model. Only the imports changed."""
import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(1)
rng = np.random.default_rng(1)
QUALITY_THRESHOLD, SAMPLE_LEN, NUM_CLASSES = 128, 128, 4
counts = [400, 150, 80, 50]              # imbalanced classes
t = np.arange(SAMPLE_LEN) / SAMPLE_LEN
signals, labels = [], []
for c, cnt in enumerate(counts):
    freq = (2, 6, 12, 20)[c]
    for _ in range(cnt):
        phase = rng.uniform(0, 2 * np.pi)
        x = np.sin(2 * np.pi * freq * t + phase) + 0.4 * rng.normal(size=SAMPLE_LEN)
        signals.append(x)
        labels.append(c)
signals = np.asarray(signals, "float32")[..., None]
labels = np.asarray(labels)
perm = rng.permutation(len(labels))
signals, labels = signals[perm], labels[perm]
split = int(0.8 * len(labels))
x_train, y_train, x_test, y_test = signals[:split], labels[:split], signals[split:], labels[split:]

vals_dict = {}
for i in y_train:
    vals_dict[int(i)] = vals_dict.get(int(i), 0) + 1
total = sum(vals_dict.values())
weight_dict = {k: (1 - (v / total)) for k, v in vals_dict.items()}   # the example's class weights
print("class weights", weight_dict)

train_dataset = tf.data.Dataset.from_tensor_slices((x_train, keras.utils.to_categorical(y_train, NUM_CLASSES)))
test_dataset = tf.data.Dataset.from_tensor_slices((x_test, keras.utils.to_categorical(y_test, NUM_CLASSES)))
train_dataset = train_dataset.cache().shuffle(split, seed=2).batch(32).prefetch(tf.data.AUTOTUNE)
test_dataset = test_dataset.batch(32)


def create_model():
    input_layer = keras.Input(shape=(SAMPLE_LEN, 1))
    x = layers.Conv1D(filters=16, kernel_size=7, strides=2, activation="relu", padding="same")(input_layer)
    x = layers.BatchNormalization()(x)
    x = layers.Conv1D(filters=32, kernel_size=5, strides=2, activation="relu", padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Conv1D(filters=32, kernel_size=3, strides=2, activation="relu", padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Dense(32, activation="relu", kernel_regularizer=keras.regularizers.L2())(x)
    output_layer = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    return keras.Model(inputs=input_layer, outputs=output_layer)


conv_model = create_model()
epochs = 12
callbacks = [
    keras.callbacks.ModelCheckpoint("best_model.keras", save_best_only=True, monitor="val_top_k_categorical_accuracy",
                                    mode="max"),
    keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=2, min_lr=1e-5),
]
optimizer = keras.optimizers.Adam(amsgrad=True, learning_rate=0.003)
loss = keras.losses.CategoricalCrossentropy()
conv_model.compile(optimizer=optimizer, loss=loss,
                   metrics=[keras.metrics.TopKCategoricalAccuracy(k=2), keras.metrics.AUC(),
                            keras.metrics.Precision(), keras.metrics.Recall(), "accuracy"])
history = conv_model.fit(train_dataset, epochs=epochs, callbacks=callbacks, validation_data=test_dataset,
                         class_weight=weight_dict, verbose=0)
print({k: round(v[-1], 3) for k, v in history.history.items()})
assert {"val_top_k_categorical_accuracy", "val_auc", "val_precision", "val_recall"} <= set(history.history)

loss_, top2, auc, precision, recall, accuracy = conv_model.evaluate(test_dataset, verbose=0)
assert accuracy > 0.85 and auc > 0.95 and top2 >= accuracy - 1e-6

# the metrics against NumPy from the predictions
probs = conv_model.predict(x_test, verbose=0)
pred = probs.argmax(1)
np.testing.assert_allclose(accuracy, np.mean(pred == y_test), atol=1e-6)
onehot = keras.utils.to_categorical(y_test, NUM_CLASSES)
positive = probs > 0.5
np.testing.assert_allclose(precision, (positive & (onehot == 1)).sum() / positive.sum(), rtol=1e-5)
np.testing.assert_allclose(recall, (positive & (onehot == 1)).sum() / onehot.sum(), rtol=1e-5)
top2_np = np.mean([y in np.argsort(p)[-2:] for p, y in zip(probs, y_test)])
np.testing.assert_allclose(top2, top2_np, atol=1e-6)
per_class = [np.mean(pred[y_test == c] == c) for c in range(NUM_CLASSES)]
print("per-class recall", np.round(per_class, 3))

best = keras.models.load_model("best_model.keras")
best_top2 = best.evaluate(test_dataset, verbose=0, return_dict=True)["top_k_categorical_accuracy"]
np.testing.assert_allclose(best_top2, max(history.history["val_top_k_categorical_accuracy"]), atol=1e-6)
