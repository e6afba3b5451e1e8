"""keras-io examples/timeseries/timeseries_classification_transformer, imports changed only
(`import keras`, `from keras import layers` -> corenn). The FordA recordings are replaced by
synthetic univariate series (noise, or noise with a raised sine burst); the encoder blocks
(MultiHeadAttention, residuals written with `+` on symbolic tensors, Conv1D feed-forward) are the
example's, shrunk. On one channel the example's LayerNormalization(x) over a last axis of size 1
is its beta alone (x minus its own mean is 0, in Keras too), so the blocks add constants to the
series and the head learns from its pooled mean: the burst is raised so that the mean tells."""
import numpy as np
import corenn as keras
from corenn.keras import layers

keras.utils.set_random_seed(16)
rng = np.random.default_rng(16)


def readucr(n, length=64):
    y = rng.integers(0, 2, n)
    t = np.arange(length)
    x = rng.normal(0, 0.6, (n, length))
    for i in np.where(y == 1)[0]:
        start = rng.integers(0, length - 24)
        x[i, start: start + 24] += 0.8 + np.sin(2 * np.pi * (t[:24]) / 8)
    return x, y


x_train, y_train = readucr(300)
x_test, y_test = readucr(150)
x_train = x_train.reshape((x_train.shape[0], x_train.shape[1], 1))
x_test = x_test.reshape((x_test.shape[0], x_test.shape[1], 1))
n_classes = len(np.unique(y_train))
idx = np.random.permutation(len(x_train))
x_train = x_train[idx]
y_train = y_train[idx]


def transformer_encoder(inputs, head_size, num_heads, ff_dim, dropout=0):
    # Attention and Normalization
    x = layers.MultiHeadAttention(key_dim=head_size, num_heads=num_heads, dropout=dropout)(inputs, inputs)
    x = layers.Dropout(dropout)(x)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    res = x + inputs
    # Feed Forward Part
    x = layers.Conv1D(filters=ff_dim, kernel_size=1, activation="relu")(res)
    x = layers.Dropout(dropout)(x)
    x = layers.Conv1D(filters=inputs.shape[-1], kernel_size=1)(x)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    return x + res


def build_model(input_shape, head_size, num_heads, ff_dim, num_transformer_blocks, mlp_units,
                dropout=0, mlp_dropout=0):
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for _ in range(num_transformer_blocks):
        x = transformer_encoder(x, head_size, num_heads, ff_dim, dropout)
    x = layers.GlobalAveragePooling1D(data_format="channels_last")(x)
    for dim in mlp_units:
        x = layers.Dense(dim, activation="relu")(x)
        x = layers.Dropout(mlp_dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


input_shape = x_train.shape[1:]
model = build_model(input_shape, head_size=16, num_heads=2, ff_dim=4, num_transformer_blocks=2,
                    mlp_units=[32], mlp_dropout=0.2, dropout=0.1)
model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(learning_rate=3e-3),
              metrics=["sparse_categorical_accuracy"])
model.summary()
callbacks = [keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)]
history = model.fit(x_train, y_train, validation_split=0.2, epochs=8, batch_size=32,
                    callbacks=callbacks, verbose=0)
print(history.history["val_sparse_categorical_accuracy"])
loss, acc = model.evaluate(x_test, y_test, verbose=1)
print("test accuracy", acc)
assert acc > 0.8, acc
# the model's LayerNormalization over one feature outputs its beta, as Keras' does
ln = [layer for layer in model.layers if isinstance(layer, layers.LayerNormalization)][0]
probe = keras.Model(model.input, ln.output)
np.testing.assert_allclose(probe.predict(x_test[:4], verbose=0),
                           np.broadcast_to(np.asarray(ln.beta).reshape(1, 1, -1), (4, 64, 1)), atol=1e-6)
