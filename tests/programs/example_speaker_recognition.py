"""keras.io example "Speaker Recognition" (audio/speaker_recognition_using_cnn), imports changed:
WAV files in one folder per speaker read by a tf.data pipeline (`tf.io.read_file`,
`tf.audio.decode_wav`, `Dataset.zip`), background noise files cut into one-second pieces with
`tf.split` and mixed in by a `map` (`tf.random.uniform`, `tf.gather`, `tf.repeat`), then the FFT
of each clip (`tf.complex`, `tf.signal.fft`, `tf.math.abs`) into a Conv1D residual network,
`EarlyStopping(restore_best_weights=True)` and `ModelCheckpoint(monitor="val_accuracy")`. The
speakers are synthetic voices (harmonic tones with their own pitch and timbre) written as 16-bit
WAV files; 1.6 kHz instead of 16 kHz, smaller network, fewer epochs."""
import os
import shutil

import numpy as np

import corenn as tf
from corenn import keras

tf.random.set_seed(3)
rng = np.random.default_rng(3)

DATASET_ROOT = os.path.join(os.getcwd(), "16000_pcm_speeches")
AUDIO_SUBFOLDER = "audio"
NOISE_SUBFOLDER = "noise"
DATASET_AUDIO_PATH = os.path.join(DATASET_ROOT, AUDIO_SUBFOLDER)
DATASET_NOISE_PATH = os.path.join(DATASET_ROOT, NOISE_SUBFOLDER)
VALID_SPLIT = 0.2
SHUFFLE_SEED = 43
SAMPLING_RATE = 1600
SCALE = 0.5
BATCH_SIZE = 16
EPOCHS = 8

# --- write the synthetic corpus: 3 speakers x 40 one-second clips, 2 noise recordings --------
SPEAKERS = {"Benjamin_Netanyau": (110.0, [1.0, 0.6, 0.3]), "Jens_Stoltenberg": (170.0, [1.0, 0.2, 0.7]),
            "Magaret_Tarcher": (240.0, [1.0, 0.5, 0.1])}
t = np.arange(SAMPLING_RATE) / SAMPLING_RATE
for name, (pitch, harmonics) in SPEAKERS.items():
    os.makedirs(os.path.join(DATASET_ROOT, name), exist_ok=True)
    for k in range(40):
        f0 = pitch * rng.uniform(0.92, 1.08)
        wave = sum(a * np.sin(2 * np.pi * f0 * (h + 1) * t + rng.uniform(0, 6)) for h, a in enumerate(harmonics))
        wave *= 0.3 * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(1, 4) * t) ** 2)
        data = tf.audio.encode_wav(wave.astype("float32")[:, None], SAMPLING_RATE)
        tf.io.write_file(os.path.join(DATASET_ROOT, name, f"{k}.wav"), data)
os.makedirs(os.path.join(DATASET_ROOT, "_background_noise_"), exist_ok=True)
for k in range(2):
    noise = (0.2 * rng.normal(size=5 * SAMPLING_RATE)).clip(-1, 1).astype("float32")
    tf.io.write_file(os.path.join(DATASET_ROOT, "_background_noise_", f"noise_{k}.wav"),
                     tf.audio.encode_wav(noise[:, None], SAMPLING_RATE))
# one noise file at another rate, which the example skips
tf.io.write_file(os.path.join(DATASET_ROOT, "_background_noise_", "other_rate.wav"),
                 tf.audio.encode_wav(np.zeros((800, 1), "float32"), 8000))

# --- the example's data preparation ---------------------------------------------------------
if os.path.exists(DATASET_AUDIO_PATH) is False:
    os.makedirs(DATASET_AUDIO_PATH)
if os.path.exists(DATASET_NOISE_PATH) is False:
    os.makedirs(DATASET_NOISE_PATH)

for folder in os.listdir(DATASET_ROOT):
    if os.path.isdir(os.path.join(DATASET_ROOT, folder)):
        if folder in [AUDIO_SUBFOLDER, NOISE_SUBFOLDER]:
            continue
        elif folder in ["other", "_background_noise_"]:
            shutil.move(os.path.join(DATASET_ROOT, folder), os.path.join(DATASET_NOISE_PATH, folder))
        else:
            shutil.move(os.path.join(DATASET_ROOT, folder), os.path.join(DATASET_AUDIO_PATH, folder))

noise_paths = []
for subdir in os.listdir(DATASET_NOISE_PATH):
    subdir_path = os.path.join(DATASET_NOISE_PATH, subdir)
    if os.path.isdir(subdir_path):
        noise_paths += [os.path.join(subdir_path, filepath) for filepath in os.listdir(subdir_path)
                        if filepath.endswith(".wav")]
print("Found {} files belonging to {} directories".format(len(noise_paths), len(os.listdir(DATASET_NOISE_PATH))))


def load_noise_sample(path):
    sample, sampling_rate = tf.audio.decode_wav(tf.io.read_file(path), desired_channels=1)
    if sampling_rate == SAMPLING_RATE:
        # Number of slices of 16000 each that can be generated from the noise sample
        slices = int(sample.shape[0] / SAMPLING_RATE)
        sample = tf.split(sample[: slices * SAMPLING_RATE], slices)
        return sample
    else:
        print("Sampling rate for {} is incorrect. Ignoring it".format(path))
        return None


noises = []
for path in sorted(noise_paths):
    sample = load_noise_sample(path)
    if sample:
        noises.extend(sample)
noises = tf.stack(noises)
print("{} noise files were split into {} noise samples where each is {} sec. long".format(
    len(noise_paths), noises.shape[0], noises.shape[1] // SAMPLING_RATE))
assert noises.shape == (10, SAMPLING_RATE, 1), noises.shape


def paths_and_labels_to_dataset(audio_paths, labels):
    """Constructs a dataset of audios and labels."""
    path_ds = tf.data.Dataset.from_tensor_slices(audio_paths)
    audio_ds = path_ds.map(lambda x: path_to_audio(x), num_parallel_calls=tf.data.AUTOTUNE)
    label_ds = tf.data.Dataset.from_tensor_slices(labels)
    return tf.data.Dataset.zip((audio_ds, label_ds))


def path_to_audio(path):
    """Reads and decodes an audio file."""
    audio = tf.io.read_file(path)
    audio, _ = tf.audio.decode_wav(audio, 1, SAMPLING_RATE)
    return audio


def add_noise(audio, noises=None, scale=0.5):
    if noises is not None:
        # Create a random tensor of the same size as audio ranging from
        # 0 to the number of noise stream samples that we have.
        tf_rnd = tf.random.uniform((tf.shape(audio)[0],), 0, noises.shape[0], dtype=tf.int32)
        noise = tf.gather(noises, tf_rnd, axis=0)

        # Get the amplitude proportion between the audio and the noise
        prop = tf.math.reduce_max(audio, axis=1) / tf.math.reduce_max(noise, axis=1)
        prop = tf.repeat(tf.expand_dims(prop, axis=1), tf.shape(audio)[1], axis=1)

        # Adding the rescaled noise to audio
        audio = audio + noise * prop * scale

    return audio


def audio_to_fft(audio):
    # Since tf.signal.fft applies FFT on the innermost dimension,
    # we need to squeeze the dimensions and then expand them again
    # after FFT
    audio = tf.squeeze(audio, axis=-1)
    fft = tf.signal.fft(tf.cast(tf.complex(real=audio, imag=tf.zeros_like(audio)), tf.complex64))
    fft = tf.expand_dims(fft, axis=-1)

    # Return the absolute value of the first half of the FFT
    # which represents the positive frequencies
    return tf.math.abs(fft[:, : (audio.shape[1] // 2), :])


# Get the list of audio file paths along with their corresponding labels
class_names = sorted(os.listdir(DATASET_AUDIO_PATH))
print("Our class names: {}".format(class_names))

audio_paths = []
labels = []
for label, name in enumerate(class_names):
    print("Processing speaker {}".format(name))
    dir_path = os.path.join(DATASET_AUDIO_PATH, name)
    speaker_sample_paths = [os.path.join(dir_path, filepath) for filepath in os.listdir(dir_path)
                            if filepath.endswith(".wav")]
    audio_paths += speaker_sample_paths
    labels += [label] * len(speaker_sample_paths)

print("Found {} files belonging to {} classes.".format(len(audio_paths), len(class_names)))

# Shuffle
rng = np.random.RandomState(SHUFFLE_SEED)
rng.shuffle(audio_paths)
rng = np.random.RandomState(SHUFFLE_SEED)
rng.shuffle(labels)

# Split into training and validation
num_val_samples = int(VALID_SPLIT * len(audio_paths))
print("Using {} files for training.".format(len(audio_paths) - num_val_samples))
train_audio_paths = audio_paths[:-num_val_samples]
train_labels = labels[:-num_val_samples]

print("Using {} files for validation.".format(num_val_samples))
valid_audio_paths = audio_paths[-num_val_samples:]
valid_labels = labels[-num_val_samples:]

# Create 2 datasets, one for training and the other for validation
train_ds = paths_and_labels_to_dataset(train_audio_paths, train_labels)
train_ds = train_ds.shuffle(buffer_size=BATCH_SIZE * 8, seed=SHUFFLE_SEED).batch(BATCH_SIZE)

valid_ds = paths_and_labels_to_dataset(valid_audio_paths, valid_labels)
valid_ds = valid_ds.shuffle(buffer_size=32 * 8, seed=SHUFFLE_SEED).batch(32)

# Add noise to the training set
train_ds = train_ds.map(lambda x, y: (add_noise(x, noises, scale=SCALE), y), num_parallel_calls=tf.data.AUTOTUNE)

# Transform audio wave to the frequency domain using `audio_to_fft`
train_ds = train_ds.map(lambda x, y: (audio_to_fft(x), y), num_parallel_calls=tf.data.AUTOTUNE)
train_ds = train_ds.prefetch(tf.data.AUTOTUNE)

valid_ds = valid_ds.map(lambda x, y: (audio_to_fft(x), y), num_parallel_calls=tf.data.AUTOTUNE)
valid_ds = valid_ds.prefetch(tf.data.AUTOTUNE)


def residual_block(x, filters, conv_num=3, activation="relu"):
    # Shortcut
    s = keras.layers.Conv1D(filters, 1, padding="same")(x)
    for i in range(conv_num - 1):
        x = keras.layers.Conv1D(filters, 3, padding="same")(x)
        x = keras.layers.Activation(activation)(x)
    x = keras.layers.Conv1D(filters, 3, padding="same")(x)
    x = keras.layers.Add()([x, s])
    x = keras.layers.Activation(activation)(x)
    return keras.layers.MaxPool1D(pool_size=2, strides=2)(x)


def build_model(input_shape, num_classes):
    inputs = keras.layers.Input(shape=input_shape, name="input")

    x = residual_block(inputs, 8, 2)
    x = residual_block(x, 16, 2)
    x = residual_block(x, 32, 3)

    x = keras.layers.AveragePooling1D(pool_size=3, strides=3)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    x = keras.layers.Dense(32, activation="relu")(x)

    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(x)

    return keras.models.Model(inputs=inputs, outputs=outputs)


model = build_model((SAMPLING_RATE // 2, 1), len(class_names))
model.summary()

# Compile the model using Adam's default learning rate
model.compile(optimizer="Adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

# Add callbacks:
# 'EarlyStopping' to stop training when the model is not enhancing anymore
# 'ModelCheckPoint' to always keep the model that has the best val_accuracy
model_save_filename = "model.keras"

earlystopping_cb = keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)
mdlcheckpoint_cb = keras.callbacks.ModelCheckpoint(model_save_filename, monitor="val_accuracy", save_best_only=True)

history = model.fit(train_ds, epochs=EPOCHS, validation_data=valid_ds,
                    callbacks=[earlystopping_cb, mdlcheckpoint_cb], verbose=0)

print(model.evaluate(valid_ds))
loss, accuracy = model.evaluate(valid_ds, verbose=0)
assert history.history["loss"][-1] < history.history["loss"][0], history.history["loss"]
assert accuracy > 0.8, accuracy   # chance is 1/3
assert os.path.exists(model_save_filename)

# the FFT front end against NumPy's on one decoded file
clip = path_to_audio(valid_audio_paths[0])
assert clip.shape == (SAMPLING_RATE, 1)
expect = np.abs(np.fft.fft(clip.numpy()[:, 0].astype(np.float64)))[: SAMPLING_RATE // 2]
got = audio_to_fft(clip[None])
np.testing.assert_allclose(np.asarray(got)[0, :, 0], expect, rtol=1e-3, atol=1e-2)

# Demonstration: predictions on noisy validation clips
SAMPLES_TO_DISPLAY = 10
test_ds = paths_and_labels_to_dataset(valid_audio_paths, valid_labels)
test_ds = test_ds.shuffle(buffer_size=BATCH_SIZE * 8, seed=SHUFFLE_SEED).batch(BATCH_SIZE)
test_ds = test_ds.map(lambda x, y: (add_noise(x, noises, scale=SCALE), y), num_parallel_calls=tf.data.AUTOTUNE)
for audios, labels in test_ds.take(1):
    # Get the signal FFT
    ffts = audio_to_fft(audios)
    # Predict
    y_pred = model.predict(ffts)
    # Take random samples
    rnd = np.random.randint(0, BATCH_SIZE, SAMPLES_TO_DISPLAY)
    audios = audios.numpy()[rnd, :, :]
    labels = labels.numpy()[rnd]
    y_pred = np.argmax(y_pred, axis=-1)[rnd]
    for index in range(SAMPLES_TO_DISPLAY):
        print("Speaker:\33{} {}\33[0m\tPredicted:\33{} {}\33[0m".format(
            "[92m" if labels[index] == y_pred[index] else "[91m", class_names[labels[index]],
            "[92m" if labels[index] == y_pred[index] else "[91m", class_names[y_pred[index]]))
    assert np.mean(labels == y_pred) >= 0.6
