"""TensorFlow tutorial "Generate music with an RNN" (tutorials/audio/music_generation), imports
changed: notes as (pitch, step, duration) rows, tf.data windows (window + flat_map + batch)
split into a scaled input sequence and a dict of labels, an LSTM with three named Dense heads
(a dict of outputs), SparseCategoricalCrossentropy(from_logits=True) for pitch and the
tutorial's mse_with_positive_pressure for step and duration, evaluate(return_dict=True),
recompiling with loss_weights, ModelCheckpoint (.weights.h5) and EarlyStopping(monitor='loss',
restore_best_weights=True), then note-by-note generation with tf.random.categorical at a
temperature. The MIDI files (read with pretty_midi in the tutorial) are replaced by a
repeating melody, and pandas frames by dicts of NumPy arrays; sizes are cut to run in seconds."""
import os

import numpy as np

import corenn as tf

seed = 42
tf.random.set_seed(seed)
np.random.seed(seed)

# a melody of 8 notes repeated (the tutorial reads these columns from a MIDI file)
n_notes = 240
scale = np.array([60, 62, 64, 65, 67, 69, 71, 72])
raw_notes = {
    "pitch": scale[np.arange(n_notes) % 8].astype("float64"),
    "step": np.where(np.arange(n_notes) % 4 == 0, 0.5, 0.25),
    "duration": np.where(np.arange(n_notes) % 2 == 0, 0.4, 0.2),
}

key_order = ['pitch', 'step', 'duration']
train_notes = np.stack([raw_notes[key] for key in key_order], axis=1)
notes_ds = tf.data.Dataset.from_tensor_slices(train_notes)
print(notes_ds.element_spec)
assert notes_ds.element_spec.shape == (3,)

seq_length = 25
vocab_size = 128


def create_sequences(
    dataset: tf.data.Dataset,
    seq_length: int,
    vocab_size = 128,
) -> tf.data.Dataset:
  """Returns TF Dataset of sequence and label examples."""
  seq_length = seq_length+1

  # Take 1 extra for the labels
  windows = dataset.window(seq_length, shift=1, stride=1,
                              drop_remainder=True)

  # `flat_map` flattens the" dataset of datasets" into a dataset of tensors
  flatten = lambda x: x.batch(seq_length, drop_remainder=True)
  sequences = windows.flat_map(flatten)

  # Normalize note pitch
  def scale_pitch(x):
    x = x/[vocab_size,1.0,1.0]
    return x

  # Split the labels
  def split_labels(sequences):
    inputs = sequences[:-1]
    labels_dense = sequences[-1]
    labels = {key:labels_dense[i] for i,key in enumerate(key_order)}

    return scale_pitch(inputs), labels

  return sequences.map(split_labels, num_parallel_calls=tf.data.AUTOTUNE)


seq_ds = create_sequences(notes_ds, seq_length, vocab_size)
print(seq_ds.element_spec)
for seq, target in seq_ds.take(1):
  print('sequence shape:', seq.shape)
  print('sequence elements (first 10):', seq[0: 10])
  print()
  print('target:', target)
assert tuple(seq.shape) == (seq_length, 3)
np.testing.assert_allclose(np.asarray(seq), train_notes[:seq_length] / [vocab_size, 1.0, 1.0], rtol=1e-6)
assert float(target["pitch"]) == train_notes[seq_length, 0] and float(target["step"]) == train_notes[seq_length, 1]

batch_size = 32
buffer_size = n_notes - seq_length  # the number of items in the dataset
train_ds = (seq_ds
            .shuffle(buffer_size)
            .batch(batch_size, drop_remainder=True)
            .cache()
            .prefetch(tf.data.experimental.AUTOTUNE))
print(train_ds.element_spec)


def mse_with_positive_pressure(y_true: tf.Tensor, y_pred: tf.Tensor):
  mse = (y_true - y_pred) ** 2
  positive_pressure = 10 * tf.maximum(-y_pred, 0.0)
  return tf.reduce_mean(mse + positive_pressure)


input_shape = (seq_length, 3)
learning_rate = 0.005

inputs = tf.keras.Input(input_shape)
x = tf.keras.layers.LSTM(64)(inputs)

outputs = {
  'pitch': tf.keras.layers.Dense(128, name='pitch')(x),
  'step': tf.keras.layers.Dense(1, name='step')(x),
  'duration': tf.keras.layers.Dense(1, name='duration')(x),
}

model = tf.keras.Model(inputs, outputs)

loss = {
      'pitch': tf.keras.losses.SparseCategoricalCrossentropy(
          from_logits=True),
      'step': mse_with_positive_pressure,
      'duration': mse_with_positive_pressure,
}

optimizer = tf.keras.optimizers.Adam(learning_rate=learning_rate)

model.compile(loss=loss, optimizer=optimizer)

model.summary()

losses = model.evaluate(train_ds, return_dict=True)
print(losses)
assert set(losses) == {"loss", "pitch_loss", "step_loss", "duration_loss"}
np.testing.assert_allclose(losses["loss"], losses["pitch_loss"] + losses["step_loss"] + losses["duration_loss"],
                           rtol=1e-4)
assert abs(losses["pitch_loss"] - np.log(128)) < 1.5   # an untrained head: near uniform over 128 pitches

model.compile(
    loss=loss,
    loss_weights={
        'pitch': 0.05,
        'step': 1.0,
        'duration':1.0,
    },
    optimizer=optimizer,
)
weighted = model.evaluate(train_ds, return_dict=True)
np.testing.assert_allclose(weighted["loss"], 0.05 * weighted["pitch_loss"] + weighted["step_loss"]
                           + weighted["duration_loss"], rtol=1e-4)

callbacks = [
    tf.keras.callbacks.ModelCheckpoint(
        filepath='./training_checkpoints/ckpt_{epoch}.weights.h5',
        save_weights_only=True),
    tf.keras.callbacks.EarlyStopping(
        monitor='loss',
        patience=5,
        verbose=1,
        restore_best_weights=True),
]

epochs = 30

history = model.fit(
    train_ds,
    epochs=epochs,
    callbacks=callbacks,
    verbose=0,
)
print(history.history["loss"][0], history.history["loss"][-1])
assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
assert history.history["pitch_loss"][-1] < history.history["pitch_loss"][0]
# EarlyStopping(restore_best_weights=True) ran: the weights are the best epoch's (fewer epochs than asked)
assert len(history.history["loss"]) < epochs or min(history.history["loss"]) == history.history["loss"][-1]
assert sorted(os.listdir("training_checkpoints"))[0].startswith("ckpt_1")
assert os.path.exists(f"training_checkpoints/ckpt_{len(history.history['loss'])}.weights.h5")


def predict_next_note(
    notes: np.ndarray,
    model: tf.keras.Model,
    temperature: float = 1.0) -> tuple[int, float, float]:
  """Generates a note as a tuple of (pitch, step, duration), using a trained sequence model."""

  assert temperature > 0

  # Add batch dimension
  inputs = tf.expand_dims(notes, 0)

  predictions = model.predict(inputs, verbose=0)
  pitch_logits = predictions['pitch']
  step = predictions['step']
  duration = predictions['duration']

  pitch_logits /= temperature
  pitch = tf.random.categorical(pitch_logits, num_samples=1)
  pitch = tf.squeeze(pitch, axis=-1)
  duration = tf.squeeze(duration, axis=-1)
  step = tf.squeeze(step, axis=-1)

  # `step` and `duration` values should be non-negative
  step = tf.maximum(0, step)
  duration = tf.maximum(0, duration)

  return int(pitch), float(step), float(duration)


temperature = 0.1
num_predictions = 16

sample_notes = np.stack([raw_notes[key] for key in key_order], axis=1)

# The initial sequence of notes; pitch is normalized similar to training
# sequences
input_notes = (
    sample_notes[:seq_length] / np.array([vocab_size, 1, 1]))

generated_notes = []
prev_start = 0
for _ in range(num_predictions):
  pitch, step, duration = predict_next_note(input_notes, model, temperature)
  start = prev_start + step
  end = start + duration
  input_note = (pitch, step, duration)
  generated_notes.append((*input_note, start, end))
  input_notes = np.delete(input_notes, 0, axis=0)
  input_notes = np.append(input_notes, np.expand_dims(input_note, 0), axis=0)
  prev_start = start

columns = (*key_order, 'start', 'end')
generated_notes = {name: np.array([note[i] for note in generated_notes]) for i, name in enumerate(columns)}
print(generated_notes["pitch"])
assert set(generated_notes["pitch"].astype(int)) <= set(range(128))
assert np.all(generated_notes["step"] >= 0) and np.all(generated_notes["duration"] >= 0)
assert np.all(np.diff(generated_notes["start"]) >= 0)
np.testing.assert_allclose(generated_notes["end"] - generated_notes["start"], generated_notes["duration"], atol=1e-9)
