"""In the style of keras.io's examples/vision/3D_image_classification (a 3-D CNN that tells CT
volumes with and without a finding apart), written for corenn with small synthetic volumes: the
scans are 16 x 16 x 8 noise volumes, and the "abnormal" ones carry a bright blob somewhere. The
model keeps the example's shape: Conv3D + MaxPool3D + BatchNormalization blocks, then
GlobalAveragePooling3D and Dense layers, trained with Adam on an exponentially decaying learning
rate, checkpointed on the validation loss."""
import numpy as np
import corenn as keras
from corenn.keras import layers

keras.utils.set_random_seed(3)
rng = np.random.default_rng(3)


def make_scans(count, abnormal):
    """(count, 16, 16, 8, 1) volumes in [0, 1]; an abnormal one has a bright 4 x 4 x 3 blob."""
    scans = rng.uniform(0.0, 0.4, size=(count, 16, 16, 8)).astype("float32")
    if abnormal:
        for scan in scans:
            x, y, z = rng.integers(0, 12), rng.integers(0, 12), rng.integers(0, 5)
            scan[x:x + 4, y:y + 4, z:z + 3] += 0.6
    return np.expand_dims(scans, axis=-1)


normal, abnormal = make_scans(24, False), make_scans(24, True)
x_train = np.concatenate([normal[:18], abnormal[:18]])
y_train = np.array([0] * 18 + [1] * 18, dtype="float32")
x_val = np.concatenate([normal[18:], abnormal[18:]])
y_val = np.array([0] * 6 + [1] * 6, dtype="float32")


def get_model(width=16, height=16, depth=8):
    """A 3-D convolutional network for binary classification of volumes."""
    inputs = keras.Input((width, height, depth, 1))
    x = layers.Conv3D(filters=8, kernel_size=3, activation="relu", padding="same")(inputs)
    x = layers.MaxPool3D(pool_size=2)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Conv3D(filters=16, kernel_size=3, activation="relu", padding="same")(x)
    x = layers.MaxPool3D(pool_size=2)(x)
    x = layers.BatchNormalization()(x)
    x = layers.GlobalAveragePooling3D()(x)
    x = layers.Dense(units=32, activation="relu")(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(units=1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name="3dcnn")


model = get_model()
model.summary()

lr_schedule = keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=100, decay_rate=0.96,
                                                          staircase=True)
model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(learning_rate=lr_schedule),
              metrics=["acc"])
checkpoint_cb = keras.callbacks.ModelCheckpoint("3d_image_classification.keras", save_best_only=True)
early_stopping_cb = keras.callbacks.EarlyStopping(monitor="val_acc", patience=15)
history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=12, batch_size=6,
                    shuffle=True, verbose=0, callbacks=[checkpoint_cb, early_stopping_cb])

losses = history.history["loss"]
assert losses[-1] < losses[0], losses
assert max(history.history["acc"]) >= 0.75, history.history["acc"]

model.load_weights("3d_image_classification.keras")
prediction = model.predict(np.expand_dims(x_val[-1], axis=0), verbose=0)[0]
scores = [1 - prediction[0], prediction[0]]
class_names = ["normal", "abnormal"]
for score, name in zip(scores, class_names):
    print("This model is %.2f percent confident that CT scan is %s" % ((100 * score), name))
assert 0.0 <= prediction[0] <= 1.0
