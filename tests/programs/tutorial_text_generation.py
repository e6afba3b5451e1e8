"""TensorFlow tutorial text/text_generation (a character-level GRU language model), imports
changed. The Shakespeare file is replaced by a short synthetic play whose lines repeat, so that
a small model (embedding 16, 96 GRU units instead of 256 / 1024) learns it in a few epochs; the
tutorial's structure is kept: StringLookup both ways, tf.strings.unicode_split, a Dataset of
(input, target) windows, a subclassed model whose GRU returns its state and takes it back in,
tf.random.categorical, the OneStep generator and the custom train_step variant."""
import os

import numpy as np

import corenn as tf

tf.keras.utils.set_random_seed(0)

speakers = ["ROMEO:", "JULIET:", "NURSE:"]
lines = ["the night is long and the sky is dark.", "come to me my love, the day is near.",
         "go to bed now, the hour is late."]
rng = np.random.default_rng(3)
text = "".join(f"{speakers[i]}\n{lines[i]}\n\n" for i in rng.integers(0, 3, 140))
print(f'Length of text: {len(text)} characters')

vocab = sorted(set(text))
print(f'{len(vocab)} unique characters')

example_texts = ['abcdefg', 'xyz']
chars = tf.strings.unicode_split(example_texts, input_encoding='UTF-8')
print(chars)

ids_from_chars = tf.keras.layers.StringLookup(
    vocabulary=list(vocab), mask_token=None)
ids = ids_from_chars(chars)
print(ids)

chars_from_ids = tf.keras.layers.StringLookup(
    vocabulary=ids_from_chars.get_vocabulary(), invert=True, mask_token=None)
chars = chars_from_ids(ids)
print(chars)
joined = tf.strings.reduce_join(chars, axis=-1).numpy()
print(joined)
# letters that are not in the play come back as [UNK]; TensorFlow's numpy() gives bytes
expected = ["".join(c if c in vocab else "[UNK]" for c in t).encode() for t in example_texts]
assert list(joined) == expected and "[UNK]" in joined[0].decode() + joined[1].decode(), joined


def text_from_ids(ids):
  return tf.strings.reduce_join(chars_from_ids(ids), axis=-1)


all_ids = ids_from_chars(tf.strings.unicode_split(text, 'UTF-8'))
print(all_ids)
ids_dataset = tf.data.Dataset.from_tensor_slices(all_ids)
first = "".join(chars_from_ids(ids).numpy().decode('utf-8') for ids in ids_dataset.take(10))
assert first == text[:10], first

seq_length = 40
sequences = ids_dataset.batch(seq_length + 1, drop_remainder=True)
for seq in sequences.take(1):
  print(chars_from_ids(seq))
for seq in sequences.take(2):
  print(text_from_ids(seq).numpy())


def split_input_target(sequence):
    input_text = sequence[:-1]
    target_text = sequence[1:]
    return input_text, target_text


print(split_input_target(list("Tensorflow")))
dataset = sequences.map(split_input_target)
for input_example, target_example in dataset.take(1):
    print("Input :", text_from_ids(input_example).numpy())
    print("Target:", text_from_ids(target_example).numpy())

BATCH_SIZE = 16
BUFFER_SIZE = 10000
dataset = (
    dataset
    .shuffle(BUFFER_SIZE)
    .batch(BATCH_SIZE, drop_remainder=True)
    .prefetch(tf.data.experimental.AUTOTUNE))
print(dataset)

vocab_size = len(ids_from_chars.get_vocabulary())
embedding_dim = 16
rnn_units = 96


class MyModel(tf.keras.Model):
  def __init__(self, vocab_size, embedding_dim, rnn_units):
    super().__init__(self)
    self.embedding = tf.keras.layers.Embedding(vocab_size, embedding_dim)
    self.gru = tf.keras.layers.GRU(rnn_units,
                                   return_sequences=True,
                                   return_state=True)
    self.dense = tf.keras.layers.Dense(vocab_size)

  def call(self, inputs, states=None, return_state=False, training=False):
    x = inputs
    x = self.embedding(x, training=training)
    if states is None:
      states = self.gru.get_initial_state(x)
    x, states = self.gru(x, initial_state=states, training=training)
    x = self.dense(x, training=training)

    if return_state:
      return x, states
    else:
      return x


model = MyModel(
    vocab_size=vocab_size,
    embedding_dim=embedding_dim,
    rnn_units=rnn_units)

for input_example_batch, target_example_batch in dataset.take(1):
    example_batch_predictions = model(input_example_batch)
    print(example_batch_predictions.shape, "# (batch_size, sequence_length, vocab_size)")
assert tuple(example_batch_predictions.shape) == (BATCH_SIZE, seq_length, vocab_size)

model.summary()

sampled_indices = tf.random.categorical(example_batch_predictions[0], num_samples=1)
sampled_indices = tf.squeeze(sampled_indices, axis=-1).numpy()
assert sampled_indices.shape == (seq_length,) and 0 <= sampled_indices.min() and sampled_indices.max() < vocab_size
print("Input:\n", text_from_ids(input_example_batch[0]).numpy())
print("Next Char Predictions:\n", text_from_ids(sampled_indices).numpy())

loss = tf.losses.SparseCategoricalCrossentropy(from_logits=True)
example_batch_mean_loss = loss(target_example_batch, example_batch_predictions)
print("Prediction shape: ", example_batch_predictions.shape, " # (batch_size, sequence_length, vocab_size)")
print("Mean loss:        ", example_batch_mean_loss)
# an untrained model is close to uniform over the vocabulary
perplexity = float(tf.exp(example_batch_mean_loss).numpy())
assert 0.5 * vocab_size < perplexity < 2 * vocab_size, (perplexity, vocab_size)

model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss=loss)

checkpoint_dir = './training_checkpoints'
checkpoint_prefix = os.path.join(checkpoint_dir, "ckpt_{epoch}.weights.npz")   # the tutorial: "ckpt_{epoch}"
checkpoint_callback = tf.keras.callbacks.ModelCheckpoint(
    filepath=checkpoint_prefix,
    save_weights_only=True)

EPOCHS = 10
history = model.fit(dataset, epochs=EPOCHS, callbacks=[checkpoint_callback], verbose=0)
print(history.history['loss'])
assert history.history['loss'][-1] < 0.5 * history.history['loss'][0], history.history['loss']
assert len(os.listdir(checkpoint_dir)) == EPOCHS


class OneStep(tf.keras.Model):
  def __init__(self, model, chars_from_ids, ids_from_chars, temperature=1.0):
    super().__init__()
    self.temperature = temperature
    self.model = model
    self.chars_from_ids = chars_from_ids
    self.ids_from_chars = ids_from_chars

    # Create a mask to prevent "[UNK]" from being generated.
    skip_ids = self.ids_from_chars(['[UNK]'])[:, None]
    sparse_mask = tf.SparseTensor(
        # Put a -inf at each bad index.
        values=[-float('inf')] * len(skip_ids),
        indices=skip_ids,
        # Match the shape to the vocabulary
        dense_shape=[len(ids_from_chars.get_vocabulary())])
    self.prediction_mask = tf.sparse.to_dense(sparse_mask)

  @tf.function
  def generate_one_step(self, inputs, states=None):
    # Convert strings to token IDs.
    input_chars = tf.strings.unicode_split(inputs, 'UTF-8')
    input_ids = self.ids_from_chars(input_chars).to_tensor()

    # Run the model.
    # predicted_logits.shape is [batch, char, next_char_logits]
    predicted_logits, states = self.model(inputs=input_ids, states=states,
                                          return_state=True)
    # Only use the last prediction.
    predicted_logits = predicted_logits[:, -1, :]
    predicted_logits = predicted_logits / self.temperature
    # Apply the prediction mask: prevent "[UNK]" from being generated.
    predicted_logits = predicted_logits + self.prediction_mask

    # Sample the output logits to generate token IDs.
    predicted_ids = tf.random.categorical(predicted_logits, num_samples=1)
    predicted_ids = tf.squeeze(predicted_ids, axis=-1)

    # Convert from token ids to characters
    predicted_chars = self.chars_from_ids(predicted_ids)

    # Return the characters and model state.
    return predicted_chars, states


one_step_model = OneStep(model, chars_from_ids, ids_from_chars, temperature=0.5)

states = None
next_char = tf.constant(['ROMEO:'])
result = [next_char]

for n in range(120):
  next_char, states = one_step_model.generate_one_step(next_char, states=states)
  result.append(next_char)

result = tf.strings.join(result)
generated = result[0].numpy().decode('utf-8')
print(generated, '\n\n' + '_' * 80)
assert "[UNK]" not in generated
# the model has learned the play's words: most generated words are words of the play
words = generated.replace("\n", " ").replace(",", " ").replace(".", " ").split()
known = set(text.replace("\n", " ").replace(",", " ").replace(".", " ").split())
assert sum(w in known for w in words) >= 0.7 * len(words), generated

# a batch of five prompts at once
states = None
next_char = tf.constant(['ROMEO:', 'ROMEO:', 'ROMEO:', 'ROMEO:', 'ROMEO:'])
result = [next_char]
for n in range(30):
  next_char, states = one_step_model.generate_one_step(next_char, states=states)
  result.append(next_char)
result = tf.strings.join(result)
assert result.shape == (5,) and all(len(r) == 6 + 30 for r in result.numpy())

# tf.saved_model.save(one_step_model, 'one_step') is TensorFlow's format; not ported.


class CustomTraining(MyModel):
  @tf.function
  def train_step(self, inputs):
      inputs, labels = inputs
      with tf.GradientTape() as tape:
          predictions = self(inputs, training=True)
          loss = self.loss(labels, predictions)
      grads = tape.gradient(loss, self.trainable_variables)
      self.optimizer.apply_gradients(zip(grads, self.trainable_variables))

      return {'loss': loss}


model = CustomTraining(
    vocab_size=len(ids_from_chars.get_vocabulary()),
    embedding_dim=embedding_dim,
    rnn_units=rnn_units)
model.compile(optimizer=tf.keras.optimizers.Adam(0.01),
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
history = model.fit(dataset, epochs=3, verbose=0)
print(history.history['loss'])
assert history.history['loss'][-1] < history.history['loss'][0], history.history['loss']
