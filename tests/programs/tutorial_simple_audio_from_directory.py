"""TF tutorial "Simple audio recognition: Recognizing keywords" (audio/simple_audio), its data
loading and serving parts, imports changed: tf.keras.utils.audio_dataset_from_directory with
validation_split, seed, output_sequence_length and subset='both', class_names, a squeeze map,
Dataset.shard into validation and test halves, spectrograms with tf.signal.stft, an adapted
Normalization, the tutorial's small CNN with EarlyStopping, evaluate / predict / confusion
matrix, and the ExportModel that reads a WAV file path (tf.io.read_file, tf.audio.decode_wav
with desired_channels / desired_samples). The Speech Commands download is replaced by short
tones written with Python's wave module (one folder per "word"), at 4 kHz for speed."""
import os
import wave

import numpy as np

import corenn as tf
from corenn.keras import layers
from corenn.keras import models

# Set the seed value for experiment reproducibility.
seed = 42
tf.random.set_seed(seed)
np.random.seed(seed)

RATE = 4000
data_dir = "data/mini_speech_commands"
rng = np.random.default_rng(seed)
words = {"down": 300.0, "go": 700.0, "left": 1100.0}
for word, pitch in words.items():
  os.makedirs(os.path.join(data_dir, word), exist_ok=True)
  for i in range(16):
    n = int(rng.integers(RATE // 2, RATE))            # clips shorter than one second
    t = np.arange(n) / RATE
    clip = 0.5 * np.sin(2 * np.pi * pitch * (1 + 0.05 * rng.normal()) * t) + 0.05 * rng.normal(size=n)
    with wave.open(os.path.join(data_dir, word, f"clip_{i}.wav"), "wb") as f:
      f.setnchannels(1)
      f.setsampwidth(2)
      f.setframerate(RATE)
      f.writeframes((np.clip(clip, -1, 1) * 32767).astype("<i2").tobytes())

commands = np.array(tf.io.gfile.listdir(str(data_dir)))
commands = commands[(commands != 'README.md') & (commands != '.DS_Store')]
print('Commands:', commands)

train_ds, val_ds = tf.keras.utils.audio_dataset_from_directory(
    directory=data_dir,
    batch_size=8,
    validation_split=0.25,
    seed=0,
    output_sequence_length=RATE,
    subset='both')

label_names = np.array(train_ds.class_names)
print()
print("label names:", label_names)
assert label_names.tolist() == sorted(words)
print(train_ds.element_spec)


def squeeze(audio, labels):
  audio = tf.squeeze(audio, axis=-1)
  return audio, labels

train_ds = train_ds.map(squeeze, tf.data.AUTOTUNE)
val_ds = val_ds.map(squeeze, tf.data.AUTOTUNE)

test_ds = val_ds.shard(num_shards=2, index=0)
val_ds = val_ds.shard(num_shards=2, index=1)

for example_audio, example_labels in train_ds.take(1):
  print(example_audio.shape)
  print(example_labels.shape)
assert tuple(example_audio.shape) == (8, RATE) and tuple(example_labels.shape) == (8,)
assert example_labels.dtype == tf.int32

# every clip is the file's samples (16-bit PCM / 32768), zero-padded to one second
path = os.path.join(data_dir, "go", "clip_0.wav")
with wave.open(path, "rb") as f:
  pcm = np.frombuffer(f.readframes(f.getnframes()), "<i2") / 32768.0
all_audio = np.concatenate([np.asarray(a) for a, _ in train_ds] + [np.asarray(a) for a, _ in val_ds]
                           + [np.asarray(a) for a, _ in test_ds])
assert len(all_audio) == 48
match = [k for k in range(48) if np.allclose(all_audio[k, :len(pcm)], pcm, atol=1e-6)]
assert len(match) == 1 and not all_audio[match[0], len(pcm):].any()


def get_spectrogram(waveform):
  # Convert the waveform to a spectrogram via a STFT.
  spectrogram = tf.signal.stft(
      waveform, frame_length=255, frame_step=128)
  # Obtain the magnitude of the STFT.
  spectrogram = tf.abs(spectrogram)
  # Add a `channels` dimension, so that the spectrogram can be used
  # as image-like input data with convolution layers (which expect
  # shape (`batch_size`, `height`, `width`, `channels`).
  spectrogram = spectrogram[..., tf.newaxis]
  return spectrogram


def make_spec_ds(ds):
  return ds.map(
      map_func=lambda audio,label: (get_spectrogram(audio), label),
      num_parallel_calls=tf.data.AUTOTUNE)

train_spectrogram_ds = make_spec_ds(train_ds)
val_spectrogram_ds = make_spec_ds(val_ds)
test_spectrogram_ds = make_spec_ds(test_ds)

for example_spectrograms, example_spect_labels in train_spectrogram_ds.take(1):
  break

train_spectrogram_ds = train_spectrogram_ds.cache().shuffle(10000).prefetch(tf.data.AUTOTUNE)
val_spectrogram_ds = val_spectrogram_ds.cache().prefetch(tf.data.AUTOTUNE)
test_spectrogram_ds = test_spectrogram_ds.cache().prefetch(tf.data.AUTOTUNE)

input_shape = example_spectrograms.shape[1:]
print('Input shape:', input_shape)
num_labels = len(label_names)

# Instantiate the `tf.keras.layers.Normalization` layer.
norm_layer = layers.Normalization()
# Fit the state of the layer to the spectrograms
# with `Normalization.adapt`.
norm_layer.adapt(data=train_spectrogram_ds.map(map_func=lambda spec, label: spec))

model = models.Sequential([
    layers.Input(shape=input_shape),
    # Downsample the input.
    layers.Resizing(32, 32),
    # Normalize.
    norm_layer,
    layers.Conv2D(8, 3, activation='relu'),
    layers.Conv2D(16, 3, activation='relu'),
    layers.MaxPooling2D(),
    layers.Dropout(0.25),
    layers.Flatten(),
    layers.Dense(32, activation='relu'),
    layers.Dropout(0.5),
    layers.Dense(num_labels),
])

model.summary()

model.compile(
    optimizer=tf.keras.optimizers.Adam(),
    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=['accuracy'],
)

EPOCHS = 10
history = model.fit(
    train_spectrogram_ds,
    validation_data=val_spectrogram_ds,
    epochs=EPOCHS,
    callbacks=tf.keras.callbacks.EarlyStopping(verbose=1, patience=2),
    verbose=0,
)

metrics = history.history
print({k: [round(v, 3) for v in vals] for k, vals in metrics.items()})
assert metrics["accuracy"][-1] > 0.8

result = model.evaluate(test_spectrogram_ds, return_dict=True, verbose=0)
print(result)
assert result["accuracy"] >= 0.5

y_pred = model.predict(test_spectrogram_ds, verbose=0)
y_pred = tf.argmax(y_pred, axis=1)
y_true = tf.concat(list(test_spectrogram_ds.map(lambda s,lab: lab)), axis=0)
confusion_mtx = tf.math.confusion_matrix(y_true, y_pred)
print(confusion_mtx)
assert int(tf.reduce_sum(confusion_mtx)) == len(np.asarray(y_true))


class ExportModel(tf.Module):
  def __init__(self, model):
    self.model = model

    # Accept either a string-filename or a batch of waveforms.
    # You could add additional signatures for a single wave, or a ragged-batch.
    self.__call__.get_concrete_function(
        x=tf.TensorSpec(shape=(), dtype=tf.string))
    self.__call__.get_concrete_function(
       x=tf.TensorSpec(shape=[None, RATE], dtype=tf.float32))


  @tf.function
  def __call__(self, x):
    # If they pass a string, load the file and decode it.
    if x.dtype == tf.string:
      x = tf.io.read_file(x)
      x, _ = tf.audio.decode_wav(x, desired_channels=1, desired_samples=RATE,)
      x = tf.squeeze(x, axis=-1)
      x = x[tf.newaxis, :]

    x = get_spectrogram(x)
    result = self.model(x, training=False)

    class_ids = tf.argmax(result, axis=-1)
    class_names = tf.gather(label_names, class_ids)
    return {'predictions':result,
            'class_ids': class_ids,
            'class_names': class_names}


export = ExportModel(model)
out = export(tf.constant(str(path)))
print(out["class_names"])
np.testing.assert_allclose(np.asarray(out["predictions"]),
                           np.asarray(model(get_spectrogram(np.pad(pcm, (0, RATE - len(pcm)))[None].astype("float32")),
                                            training=False)), rtol=1e-4, atol=1e-5)
assert int(np.asarray(out["class_ids"])[0]) == int(np.argmax(np.asarray(out["predictions"])[0]))
