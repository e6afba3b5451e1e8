"""TF tutorial "Simple audio recognition" (audio/simple_audio), imports changed, on synthetic
one-second waveforms (three "words": tones of different pitch in noise) at 4 kHz instead of
Speech Commands at 16 kHz: get_spectrogram (tf.signal.stft, tf.abs, tf.newaxis), a tf.data map,
a model with Resizing and an adapted Normalization front end. Checks: the spectrogram equals a
float64 NumPy STFT, and the classifier is well above chance on held-out clips."""
import numpy as np

import corenn as tf
from corenn.keras import layers, models

tf.random.set_seed(0)
rng = np.random.default_rng(0)
RATE = 4000
label_names = np.array(["down", "go", "up"])
t = np.arange(RATE) / RATE


def make_clip(label):
    freq = (300.0, 700.0, 1200.0)[label] * rng.uniform(0.9, 1.1)
    start = rng.integers(0, RATE // 2)
    wave = np.zeros(RATE)
    wave[start:start + RATE // 3] = np.sin(2 * np.pi * freq * t[:RATE // 3])
    return (0.5 * wave + 0.1 * rng.normal(size=RATE)).astype("float32")


labels = rng.integers(0, 3, 240)
waves = np.stack([make_clip(k) for k in labels])


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


spectrogram = get_spectrogram(waves[0])
print('Spectrogram shape:', spectrogram.shape)
assert spectrogram.shape == (30, 129, 1)
# TensorFlow's STFT: frames without centering, a periodic Hann window, fft_length 256
frames = np.stack([waves[0][s:s + 255].astype(np.float64) for s in range(0, RATE - 255 + 1, 128)])
window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(255) / 255)
expect = np.abs(np.fft.rfft(frames * window, n=256))
np.testing.assert_allclose(spectrogram.numpy()[..., 0], expect, rtol=1e-4, atol=1e-3)


def make_spec_ds(ds):
  return ds.map(
      map_func=lambda audio,label: (get_spectrogram(audio), label))


train_ds = tf.data.Dataset.from_tensor_slices((waves[:180], labels[:180])).batch(32)
val_ds = tf.data.Dataset.from_tensor_slices((waves[180:], labels[180:])).batch(32)
train_spectrogram_ds = make_spec_ds(train_ds)
val_spectrogram_ds = make_spec_ds(val_ds)

for example_spectrograms, example_spect_labels in train_spectrogram_ds.take(1):
  break
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
    layers.Resizing(16, 16),
    # Normalize.
    norm_layer,
    layers.Conv2D(8, 3, activation='relu'),
    layers.MaxPooling2D(),
    layers.Dropout(0.25),
    layers.Flatten(),
    layers.Dense(32, activation='relu'),
    layers.Dropout(0.5),
    layers.Dense(num_labels),
])
model.compile(
    optimizer=tf.keras.optimizers.Adam(),
    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=['accuracy'],
)
EPOCHS = 12
history = model.fit(train_spectrogram_ds, validation_data=val_spectrogram_ds, epochs=EPOCHS, verbose=0)
metrics = history.history
print("val accuracy", metrics["val_accuracy"][-1])
assert metrics["loss"][-1] < metrics["loss"][0]
assert model.evaluate(val_spectrogram_ds, return_dict=True, verbose=0)["accuracy"] > 0.8

y_pred = tf.argmax(model.predict(val_spectrogram_ds, verbose=0), axis=1)
confusion_mtx = tf.math.confusion_matrix(labels[180:], y_pred)
assert int(np.trace(confusion_mtx.numpy())) > 0.8 * 60


class ExportModel(tf.Module):
  def __init__(self, model):
    self.model = model

  def __call__(self, x):
    x = get_spectrogram(x)
    result = self.model(x, training=False)
    class_ids = tf.argmax(result, axis=-1)
    class_names = tf.gather(label_names, class_ids)
    return {'predictions':result, 'class_ids': class_ids, 'class_names': class_names}


export = ExportModel(model)
out = export(tf.constant(waves[180:184]))
assert list(np.asarray(out['class_ids'])) == list(np.argmax(model.predict(val_spectrogram_ds, verbose=0)[:4], 1))
