"""TensorFlow tutorial keras/text_classification (sentiment analysis with TextVectorization),
imports changed. The IMDB directory read by text_dataset_from_directory is replaced by arrays of
synthetic reviews, and the tf.data pipeline by the same steps on arrays."""
import re
import string

import numpy as np

import corenn as tf
from corenn.keras import layers
from corenn.keras import losses

from _text_data import reviews

print(tf.__version__)
tf.keras.utils.set_random_seed(42)

raw_train_text, raw_train_labels = reviews(600, 0)
raw_val_text, raw_val_labels = reviews(150, 1)
raw_test_text, raw_test_labels = reviews(200, 2)


def custom_standardization(input_data):
  lowercase = tf.strings.lower(input_data)
  stripped_html = tf.strings.regex_replace(lowercase, '<br />', ' ')
  return tf.strings.regex_replace(stripped_html,
                                  '[%s]' % re.escape(string.punctuation),
                                  '')


max_features = 1000
sequence_length = 20

vectorize_layer = layers.TextVectorization(
    standardize=custom_standardization,
    max_tokens=max_features,
    output_mode='int',
    output_sequence_length=sequence_length)

# Make a text-only dataset (without labels), then call adapt
train_text = raw_train_text
vectorize_layer.adapt(train_text)


def vectorize_text(text, label):
  text = tf.expand_dims(text, -1)
  return vectorize_layer(text), label


first_review, first_label = raw_train_text[0], raw_train_labels[0]
print("Review", first_review)
print("Vectorized review", vectorize_text(first_review, first_label))
vocab = vectorize_layer.get_vocabulary()
assert vocab[:2] == ["", "[UNK]"] and "br" not in vocab and "great" in vocab
ids, _ = vectorize_text(raw_train_text[:2], raw_train_labels[:2])
assert ids.shape == (2, sequence_length)
words = str(custom_standardization(raw_train_text[0])).split()
assert [vocab[i] for i in ids.numpy()[0][:len(words)]] == words[:sequence_length]

train_x, train_y = vectorize_text(raw_train_text, raw_train_labels)
val_x, val_y = vectorize_text(raw_val_text, raw_val_labels)
test_x, test_y = vectorize_text(raw_test_text, raw_test_labels)

embedding_dim = 16
model = tf.keras.Sequential([
  layers.Embedding(max_features, embedding_dim),
  layers.Dropout(0.2),
  layers.GlobalAveragePooling1D(),
  layers.Dropout(0.2),
  layers.Dense(1)])

model.compile(loss=losses.BinaryCrossentropy(from_logits=True),
              optimizer='adam',
              metrics=[tf.metrics.BinaryAccuracy(threshold=0.0)])

epochs = 30
history = model.fit(
    train_x, train_y,
    validation_data=(val_x, val_y),
    epochs=epochs, verbose=0)

loss, accuracy = model.evaluate(test_x, test_y)
print("Loss: ", loss)
print("Accuracy: ", accuracy)
assert accuracy > 0.9, accuracy

history_dict = history.history
assert set(history_dict.keys()) == {'loss', 'binary_accuracy', 'val_loss', 'val_binary_accuracy'}
acc = history_dict['binary_accuracy']
assert acc[-1] > acc[0]

# Export the model: it takes raw strings
export_model = tf.keras.Sequential([
  vectorize_layer,
  model,
  layers.Activation('sigmoid')
])

export_model.compile(
    loss=losses.BinaryCrossentropy(from_logits=False), optimizer="adam", metrics=['accuracy']
)

# Test it with `raw_test_ds`, which yields raw strings
metrics = export_model.evaluate(raw_test_text, raw_test_labels, return_dict=True)
print(metrics)
assert metrics['accuracy'] > 0.9, metrics

examples = tf.constant([
  "The movie was great!",
  "The movie was okay.",
  "The movie was terrible..."
])

scores = export_model.predict(examples)
assert scores.shape == (3, 1)
assert scores[0, 0] > scores[2, 0], scores
