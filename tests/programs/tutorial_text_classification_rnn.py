"""TensorFlow tutorial text/text_classification_rnn (an RNN over raw text: TextVectorization,
Embedding with mask_zero, Bidirectional LSTM), imports changed. IMDB and its tf.data pipeline
are replaced by arrays of synthetic reviews; the learning rate is raised from 1e-4 so that a
few short epochs on 600 reviews learn (the tutorial trains 10 epochs on 25,000)."""
import numpy as np

import corenn as tf

from _text_data import reviews

tf.keras.utils.set_random_seed(0)
train_text, train_labels = reviews(600, 20)
test_text, test_labels = reviews(200, 21)

for example, label in zip(train_text[:3], train_labels[:3]):
  print('text: ', example)
  print('label: ', label)

VOCAB_SIZE = 1000
encoder = tf.keras.layers.TextVectorization(
    max_tokens=VOCAB_SIZE)
encoder.adapt(train_text)

vocab = np.array(encoder.get_vocabulary())
print(vocab[:20])

encoded_example = encoder(train_text[:3]).numpy()
print(encoded_example)
# no output_sequence_length: padded to the longest of the batch with 0
lengths = (encoded_example > 0).sum(axis=1)
assert encoded_example.shape == (3, lengths.max())
assert all((encoded_example[i, n:] == 0).all() for i, n in enumerate(lengths))

model = tf.keras.Sequential([
    encoder,
    tf.keras.layers.Embedding(
        input_dim=len(encoder.get_vocabulary()),
        output_dim=64,
        # Use masking to handle the variable sequence lengths
        mask_zero=True),
    tf.keras.layers.Bidirectional(tf.keras.layers.LSTM(64)),
    tf.keras.layers.Dense(64, activation='relu'),
    tf.keras.layers.Dense(1)
])

print([layer.supports_masking for layer in model.layers])

# predict on a sample text without padding.

sample_text = ('The movie was cool. The animation and the graphics '
               'were out of this world. I would recommend this movie.')
predictions = model.predict(np.array([sample_text]))
print(predictions[0])

# predict on a sample text with padding

padding = "the " * 2000
predictions_padded = model.predict(np.array([sample_text, padding]))
print(predictions_padded[0])
# the mask makes the padding of the shorter text irrelevant
np.testing.assert_allclose(predictions_padded[0], predictions[0], rtol=1e-4, atol=1e-5)

model.compile(loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
              optimizer=tf.keras.optimizers.Adam(3e-3),
              metrics=['accuracy'])

history = model.fit(train_text, train_labels, epochs=4, batch_size=64,
                    validation_data=(test_text, test_labels), verbose=0)

test_loss, test_acc = model.evaluate(test_text, test_labels)

print('Test Loss:', test_loss)
print('Test Accuracy:', test_acc)
assert test_acc > 0.9, test_acc

sample_text = ('The movie was great and wonderful. The animation and the graphics '
               'were brilliant. I loved this movie.')
predictions = model.predict(np.array([sample_text]))
assert predictions[0, 0] > 0, predictions
