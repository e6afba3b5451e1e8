"""TensorFlow tutorial text/word_embeddings, imports changed: a Sequential that starts with a
TextVectorization layer trains on raw strings. The IMDB directory and its tf.data pipeline are
replaced by arrays of synthetic reviews; the TensorBoard callback is left out."""
import re
import string

import numpy as np

import corenn as tf
from corenn.keras import Sequential
from corenn.keras.layers import Dense, Embedding, GlobalAveragePooling1D
from corenn.keras.layers import TextVectorization

from _text_data import reviews

tf.keras.utils.set_random_seed(0)
train_text, train_labels = reviews(600, 10)
val_text, val_labels = reviews(200, 11)

# Embed a 1,000 word vocabulary into 5 dimensions.
embedding_layer = tf.keras.layers.Embedding(1000, 5)
result = embedding_layer(tf.constant([1, 2, 3]))
print(result.numpy())
assert result.shape == (3, 5)
np.testing.assert_array_equal(result.numpy(), embedding_layer.get_weights()[0][[1, 2, 3]])
result = embedding_layer(tf.constant([[0, 1, 2], [3, 4, 5]]))
assert result.shape == (2, 3, 5)


# Create a custom standardization function to strip HTML break tags '<br />'.
def custom_standardization(input_data):
  lowercase = tf.strings.lower(input_data)
  stripped_html = tf.strings.regex_replace(lowercase, '<br />', ' ')
  return tf.strings.regex_replace(stripped_html,
                                  '[%s]' % re.escape(string.punctuation), '')


# Vocabulary size and number of words in a sequence.
vocab_size = 1000
sequence_length = 16

vectorize_layer = TextVectorization(
    standardize=custom_standardization,
    max_tokens=vocab_size,
    output_mode='int',
    output_sequence_length=sequence_length)

# Make a text-only dataset (no labels) and call adapt to build the vocabulary.
vectorize_layer.adapt(train_text)

embedding_dim=16

model = Sequential([
  vectorize_layer,
  Embedding(vocab_size, embedding_dim, name="embedding"),
  GlobalAveragePooling1D(),
  Dense(16, activation='relu'),
  Dense(1)
])

model.compile(optimizer='adam',
              loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
              metrics=['accuracy'])

history = model.fit(
    train_text, train_labels,
    validation_data=(val_text, val_labels),
    epochs=15, verbose=0)
model.summary()
assert history.history['val_accuracy'][-1] > 0.9, history.history

weights = model.get_layer('embedding').get_weights()[0]
vocab = vectorize_layer.get_vocabulary()
assert weights.shape == (vocab_size, embedding_dim) and len(vocab) <= vocab_size

# the learned embeddings separate the sentiment words along what the classifier reads
index = {w: i for i, w in enumerate(vocab)}
logits = model.predict(np.array(["great wonderful loved", "awful boring terrible"]))
assert logits[0, 0] > logits[1, 0], logits

out_v, out_m = [], []
for index, word in enumerate(vocab):
  if index == 0:
    continue  # skip 0, it's padding.
  vec = weights[index]
  out_v.append('\t'.join([str(x) for x in vec]))
  out_m.append(word)
assert len(out_v) == len(vocab) - 1
