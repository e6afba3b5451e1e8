"""Keras guide "Working with preprocessing layers", imports changed: Normalization adapt (and
invert), TextVectorization on Greek text, StringLookup with a vocabulary and one-hot output,
an augmentation Sequential in front of a model, IntegerLookup one-hot, Hashing + CategoryEncoding
multi-hot, TextVectorization int (adapted on a tf.data Dataset, mapped over a training dataset,
then inside an end-to-end string model), multi_hot and tf_idf bigrams, and Discretization."""
import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers

data = np.array([[0.1, 0.2, 0.3], [0.8, 0.9, 1.0], [1.5, 1.6, 1.7]])
layer = layers.Normalization()
layer.adapt(data)
normalized_data = layer(data)
print("Features mean: %.2f" % (normalized_data.numpy().mean()))
assert abs(normalized_data.numpy().mean()) < 1e-5 and abs(normalized_data.numpy().std() - 1) < 1e-3
print("Features std: %.2f" % (normalized_data.numpy().std()))
data = ["ξεῖν᾽, ἦ τοι μὲν ὄνειροι ἀμήχανοι ἀκριτόμυθοι", "γίγνοντ᾽, οὐδέ τι πάντα τελείεται ἀνθρώποισι.",
        "δοιαὶ γάρ τε πύλαι ἀμενηνῶν εἰσὶν ὀνείρων:", "αἱ μὲν γὰρ κεράεσσι τετεύχαται, αἱ δ᾽ ἐλέφαντι:",
        "τῶν οἳ μέν κ᾽ ἔλθωσι διὰ πριστοῦ ἐλέφαντος,", "οἵ ῥ᾽ ἐλεφαίρονται, ἔπε᾽ ἀκράαντα φέροντες:",
        "οἱ δὲ διὰ ξεστῶν κεράων ἔλθωσι θύραζε,", "οἵ ῥ᾽ ἔτυμα κραίνουσι, βροτῶν ὅτε κέν τις ἴδηται."]
layer = layers.TextVectorization()
layer.adapt(data)
vectorized_text = layer(data)
print(vectorized_text)
vocab = ["a", "b", "c", "d"]
data = tf.constant([["a", "c", "d"], ["d", "z", "b"]])
layer = layers.StringLookup(vocabulary=vocab)
vectorized_data = layer(data)
print(vectorized_data)
np.testing.assert_array_equal(np.asarray(vectorized_data), [[1, 3, 4], [4, 0, 2]])
# augmentation
input_shape = (32, 32, 3)
classes = 10
data_augmentation = keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomRotation(0.1), layers.RandomZoom(0.1)])
inputs = keras.Input(shape=input_shape)
x = data_augmentation(inputs)
x = layers.Rescaling(1.0 / 255)(x)
# (the guide puts ResNet50 here; a small conv head keeps the test fast)
outputs = layers.Dense(classes)(layers.GlobalAveragePooling2D()(layers.Conv2D(8, 3)(x)))
assert keras.Model(inputs, outputs)(np.zeros((2, 32, 32, 3), "float32"), training=True).shape == (2, 10)
model = keras.Model(inputs, outputs)
# normalizing features
(x_train, y_train) = (np.random.default_rng(0).integers(0, 255, (64, 32, 32, 3)).astype("float32"), np.random.default_rng(1).integers(0, 10, (64, 1)))
x_train = x_train.reshape((len(x_train), -1))
input_shape = x_train.shape[1:]
classes = 10
normalizer = layers.Normalization()
normalizer.adapt(x_train)
inputs = keras.Input(shape=input_shape)
x = normalizer(inputs)
outputs = layers.Dense(classes, activation="softmax")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
h = model.fit(x_train, y_train, epochs=3, verbose=0)
assert h.history["loss"][-1] < h.history["loss"][0]
# one-hot string categorical
vocab = ["a", "b", "c"]
lookup = layers.StringLookup(vocabulary=vocab, output_mode="one_hot")
test_data = tf.constant([["a"], ["b"], ["c"], ["d"], ["e"], [""]])
encoded_data = lookup(test_data)
print(encoded_data)
np.testing.assert_array_equal(np.asarray(encoded_data), [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]])
data = tf.constant([[10], [20], [20], [10], [30], [0]])
lookup = layers.IntegerLookup(output_mode="one_hot")
lookup.adapt(data)
test_data = tf.constant([[10], [10], [20], [50], [60], [0]])
encoded_data = lookup(test_data)
print(encoded_data)
# hashing
data = np.random.default_rng(0).integers(0, 100000, size=(10000, 1))
hasher = layers.Hashing(num_bins=64, salt=1337)
encoder = layers.CategoryEncoding(num_tokens=64, output_mode="multi_hot")
encoded_data = encoder(hasher(data))
print(encoded_data.shape)
assert tuple(encoded_data.shape) == (10000, 64)
# TextVectorization int / multi_hot / tf_idf with adapt on a dataset
adapt_data = tf.constant(["The Brain is wider than the Sky", "For put them side by side",
                          "The one the other will contain", "With ease and You beside"])
text_vectorizer = layers.TextVectorization(output_mode="int")
text_vectorizer.adapt(tf.data.Dataset.from_tensor_slices(adapt_data).batch(2))
print("Encoded text:\n", text_vectorizer(["The Brain is deeper than the sea"]).numpy())
inputs = keras.Input(shape=(None,), dtype="int64")
x = layers.Embedding(input_dim=text_vectorizer.vocabulary_size(), output_dim=16)(inputs)
x = layers.GRU(8)(x)
outputs = layers.Dense(1)(x)
model = keras.Model(inputs, outputs)
train_dataset = tf.data.Dataset.from_tensor_slices((["The Brain is deeper than the sea", "for if they are held Blue to Blue"], [1, 0]))
train_dataset = train_dataset.batch(2).map(lambda x, y: (text_vectorizer(x), y))
model.compile(optimizer="rmsprop", loss="mse")
h = model.fit(train_dataset, epochs=5, verbose=0)
assert h.history["loss"][-1] < h.history["loss"][0]
inputs = keras.Input(shape=(1,), dtype="string")
x = text_vectorizer(inputs)
outputs = model(x)
end_to_end_model = keras.Model(inputs, outputs)
test_data = tf.constant(["The one the other will absorb"])
test_output = end_to_end_model(test_data)
print("Model output:", test_output)
text_vectorizer = layers.TextVectorization(output_mode="multi_hot", ngrams=2)
text_vectorizer.adapt(adapt_data)
print("Encoded text:\n", text_vectorizer(["The Brain is deeper than the sea"]).numpy())
inputs = keras.Input(shape=(text_vectorizer.vocabulary_size(),))
outputs = layers.Dense(1)(inputs)
model = keras.Model(inputs, outputs)
text_vectorizer = layers.TextVectorization(output_mode="tf_idf", ngrams=2)
text_vectorizer.adapt(adapt_data)
enc = text_vectorizer(["The Brain is deeper than the sea"]).numpy()
print("Encoded text:\n", enc)
assert enc.shape == (1, text_vectorizer.vocabulary_size()) and enc[0, 0] > 0
# Normalization invert
norm = layers.Normalization(axis=-1)
norm.adapt(np.array([[1.0], [2.0], [3.0], [6.0]]))
inv = layers.Normalization(axis=-1, invert=True)
inv.adapt(np.array([[1.0], [2.0], [3.0], [6.0]]))
x = np.array([[3.0], [0.5]], "float32")
np.testing.assert_allclose(np.asarray(inv(norm(x))), x, rtol=1e-5)
d = layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0])
np.testing.assert_array_equal(np.asarray(d([[-1.5, 1.0, 3.4, 0.5]])), [[0, 2, 3, 1]])
d2 = layers.Discretization(num_bins=4, epsilon=0.01)
d2.adapt(np.arange(100.0))
print(d2.bin_boundaries)
