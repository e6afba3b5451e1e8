"""TensorFlow tutorial "Warm-start embedding layer matrix" (text/warmstart_embedding_matrix),
imports changed: a Sequential of two Sequentials (a `TextVectorization` + `Embedding` text
input and a pooling / Dense classifier head) trained on reviews, then a second vectorizer with a
larger vocabulary, `tf.keras.utils.warmstart_embedding_matrix` to carry the trained rows over to
it, a new `Embedding` built with `build(input_shape=[None])` whose `embeddings` are `assign`ed the
warm-started matrix, the trained classifier head reused on top, the check that "the" keeps its
embedding row (`vectorize_layer("the")[0]` indexing the embeddings), and training on. The IMDB
directory is replaced by synthetic reviews through tf.data; the vocabularies (30 and 40 terms
instead of 10,000 and 10,200) and epochs are shrunk so that the new vocabulary really adds terms;
the TensorBoard callback is left out. (The tutorial is written for TF-Keras 2, whose
`warmstart_embedding_matrix` Keras 3 dropped; TensorFlow runs it with TF_USE_LEGACY_KERAS=1.)"""
import numpy as np

import corenn as tf
from corenn.keras import Sequential
from corenn.keras.layers import Dense, Embedding, GlobalAveragePooling1D, TextVectorization

from _text_data import reviews

tf.random.set_seed(0)

train_text, train_labels = reviews(600, 20)
val_text, val_labels = reviews(200, 21)
train_ds = tf.data.Dataset.from_tensor_slices((train_text, train_labels)).batch(32)
val_ds = tf.data.Dataset.from_tensor_slices((val_text, val_labels)).batch(32)

# Vocabulary size and number of words in a sequence.
vocab_size = 30
sequence_length = 16

# Use the text vectorization layer to normalize, split, and map strings to
# integers. Note that the layer uses the custom standardization defined above.
# Set maximum_sequence length as all samples are not of the same length.
vectorize_layer = TextVectorization(
    max_tokens=vocab_size,
    output_mode="int",
    output_sequence_length=sequence_length,
)

# Make a text-only dataset (no labels) and call adapt to build the vocabulary.
text_ds = train_ds.map(lambda x, y: x)
vectorize_layer.adapt(text_ds)

embedding_dim = 16
text_embedding = Embedding(vocab_size, embedding_dim, name="embedding")
text_input = tf.keras.Sequential(
    [vectorize_layer, text_embedding], name="text_input"
)
classifier_head = tf.keras.Sequential(
    [GlobalAveragePooling1D(), Dense(16, activation="relu"), Dense(1)],
    name="classifier_head",
)

model = tf.keras.Sequential([text_input, classifier_head])

model.compile(
    optimizer="adam",
    loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
    metrics=["accuracy"],
)

history = model.fit(
    train_ds,
    validation_data=val_ds,
    epochs=30,
    verbose=0,
)
print("val_accuracy:", [round(v, 3) for v in history.history["val_accuracy"]])
assert history.history["val_accuracy"][-1] > 0.7, history.history["val_accuracy"]

# Vocabulary remapping
embedding_weights_base = (
    model.get_layer("text_input").get_layer("embedding").embeddings
)
vocab_base = vectorize_layer.get_vocabulary()

# Vocabulary size and sequence length
vocab_size_new = 40
sequence_length = 16

vectorize_layer_new = TextVectorization(
    max_tokens=vocab_size_new,
    output_mode="int",
    output_sequence_length=sequence_length,
)

# Make a text-only dataset (no labels) and call adapt to build the vocabulary.
text_ds = train_ds.map(lambda x, y: x)
vectorize_layer_new.adapt(text_ds)

# Get the new vocabulary
vocab_new = vectorize_layer_new.get_vocabulary()

# View the new vocabulary tokens that weren't in `vocab_base`
print(set(vocab_base) ^ set(vocab_new))
assert len(vocab_base) == 30 and len(vocab_new) > 20 and set(vocab_base) < set(vocab_new)

# Generate the updated embedding matrix
updated_embedding = tf.keras.utils.warmstart_embedding_matrix(
    base_vocabulary=vocab_base,
    new_vocabulary=vocab_new,
    base_embeddings=embedding_weights_base,
    new_embeddings_initializer="uniform",
)
# Update the model variable
updated_embedding_variable = tf.Variable(updated_embedding)

# Define an embedding layer with the new vocabulary size
text_embedding_layer_new = Embedding(
    vectorize_layer_new.vocabulary_size(), embedding_dim, name="embedding"
)

# Build the new embedding layer with the input shape
text_embedding_layer_new.build(input_shape=[None])

# Assign the updated embedding matrix to the new embedding layer
text_embedding_layer_new.embeddings.assign(updated_embedding)

text_input_new = tf.keras.Sequential(
    [vectorize_layer_new, text_embedding_layer_new], name="text_input_new"
)
text_input_new.summary()

# Verify the shape of updated weights
# The new weights shape should reflect the new vocabulary size
print(text_input_new.get_layer("embedding").embeddings.shape)
assert tuple(text_input_new.get_layer("embedding").embeddings.shape) == (len(vocab_new), embedding_dim)

warm_started_model = tf.keras.Sequential([text_input_new, classifier_head])
warm_started_model.summary()

# New vocab words
base_vocab_index = vectorize_layer("the")[0]
new_vocab_index = vectorize_layer_new("the")[0]
print(
    warm_started_model.get_layer("text_input_new").get_layer("embedding").embeddings[
        new_vocab_index
    ]
    == embedding_weights_base[base_vocab_index]
)
same = (warm_started_model.get_layer("text_input_new").get_layer("embedding").embeddings[new_vocab_index]
        == embedding_weights_base[base_vocab_index])
assert np.all(np.asarray(same))
# every term of the base vocabulary kept its trained row
new_rows = np.asarray(text_input_new.get_layer("embedding").embeddings)
base_rows = np.asarray(embedding_weights_base)
for i, term in enumerate(vocab_base):
    np.testing.assert_array_equal(new_rows[vocab_new.index(term)], base_rows[i])
# the warm-started model already classifies as well as the trained one did
warm_started_model.compile(
    optimizer="adam",
    loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
_, acc_before = warm_started_model.evaluate(val_ds, verbose=0)
print("warm-started accuracy before training:", acc_before)
assert acc_before > 0.65, acc_before

warm_started_model.fit(
    train_ds,
    validation_data=val_ds,
    epochs=10,
    verbose=0,
)
_, acc_after = warm_started_model.evaluate(val_ds, verbose=0)
print("after:", acc_after)
assert acc_after > 0.75, acc_after
