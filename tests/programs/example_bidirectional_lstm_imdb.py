"""keras-io examples/nlp/bidirectional_lstm_imdb, imports changed only (`import keras`,
`from keras import layers` -> corenn). The IMDB download is replaced by synthetic reviews as lists
of word indices (imdb.load_data's format: an object array of lists), padded with
keras.utils.pad_sequences; the model is the example's two stacked Bidirectional LSTMs, shrunk."""
import numpy as np
import corenn as keras
from corenn.keras import layers

keras.utils.set_random_seed(12)
max_features = 200   # Only consider the top 200 words
maxlen = 40          # Only consider the first 40 words of each movie review
rng = np.random.default_rng(12)


def reviews(n):
    """Word index lists of varying length; words 10..19 are positive, 20..29 negative."""
    y = rng.integers(0, 2, n)
    x = []
    for label in y:
        words = list(rng.integers(30, max_features, rng.integers(15, 70)))
        for _ in range(3):
            words.insert(rng.integers(0, len(words)), rng.integers(10, 20) if label else rng.integers(20, 30))
        x.append([1] + words)   # start_char, as imdb.load_data adds
    arr = np.empty(n, dtype=object)
    arr[:] = x
    return arr, y


# Input for variable-length sequences of integers
inputs = keras.Input(shape=(None,), dtype="int32")
# Embed each integer in a 16-dimensional vector
x = layers.Embedding(max_features, 16)(inputs)
# Add 2 bidirectional LSTMs
x = layers.Bidirectional(layers.LSTM(16, return_sequences=True))(x)
x = layers.Bidirectional(layers.LSTM(16))(x)
# Add a classifier
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.summary()

(x_train, y_train), (x_val, y_val) = reviews(600), reviews(200)
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")
# Use pad_sequence to standardize sequence length:
# this will truncate sequences longer than 40 words and zero-pad sequences shorter than 40 words.
x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)
assert x_train.shape == (600, maxlen) and x_train.dtype == np.int32

model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=32, epochs=5, validation_data=(x_val, y_val), verbose=0)
print(history.history)
assert history.history["val_accuracy"][-1] > 0.85, history.history
# a variable-length model: a batch of another length runs too
print(model.predict(keras.utils.pad_sequences([[1, 12, 40, 41, 15]], maxlen=7)))
assert model.predict(keras.utils.pad_sequences([[1, 12, 40, 41, 15, 11]], maxlen=7))[0, 0] > 0.5
assert model.predict(keras.utils.pad_sequences([[1, 22, 40, 41, 25, 21]], maxlen=7))[0, 0] < 0.5
