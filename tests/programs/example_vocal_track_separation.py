"""keras.io example "Vocal Track Separation with Encoder-Decoder Architecture"
(examples/audio/vocal_track_separation, Joaquin Jimenez), imports changed only: a
keras.utils.PyDataset of random mixtures (indexed with None for a random batch), `ops.stft` /
`ops.istft` of (real, imag) pairs inside a functional model and inside the loss and metric,
`ops.split` at a list of indices, `ops.reshape` / `ops.transpose` / `ops.concatenate` on
KerasTensors, the TFC_TDF blocks (layers registered with `saving.register_keras_serializable()`
that make their sublayers in `build(self, *_)`, `GroupNormalization(groups=-1)` as instance
normalisation, a `conv_cls` class attribute swapping Conv2D for Conv2DTranspose in a subclass),
Adam with `gradient_accumulation_steps`, a registered loss and metric function (spectral MAE,
SDR), ModelCheckpoint on "val_sdr" with mode="max" writing a .keras file, ReduceLROnPlateau,
CSVLogger, then `saving.load_model` of the checkpoint (its custom layers, loss and metric found
through the registry) and evaluate / predict.
MUSDB18 (a zenodo download converted by ffmpeg, read by soundfile) becomes synthetic 16 kHz songs
held in memory: "vocals" are pitched harmonic tones with a vibrato, drums / bass / other are
noise bursts, a low sine and chords; `sf.read` and `glob` become the stand-ins below, and
audiomentations' PitchShift / EQ / distortion / noise become small NumPy stand-ins with the same
`randomize_parameters` / `__call__` interface (none of these packages is part of corenn). The
sizes are cut (CHUNK_SIZE 4032, STFT 256 / 64, 8 channels, growth 8, 2 scales, 6 batches an
epoch, 3 epochs); the paths are under the working directory instead of ~/.keras; plotting, the
IPython audio widgets and plot_model are dropped. `keras.backend.backend()` is "corenn" here, so
the example's torch-only padding branch is not taken: istft gets 128 of the 129 bins, as under
JAX and TensorFlow."""
import glob
import os

os.environ["KERAS_BACKEND"] = "jax"  # or "tensorflow" or "torch"

import random
import tempfile
import typing
from os import path

from corenn import keras
import numpy as np
from corenn.keras import callbacks, layers, ops, saving

# MUSDB18 dataset configuration
MUSDB_STREAMS = {"mixture": 0, "drums": 1, "bass": 2, "other": 3, "vocals": 4}
TARGET_INSTRUMENTS = {track: MUSDB_STREAMS[track] for track in ("vocals",)}
N_INSTRUMENTS = len(TARGET_INSTRUMENTS)
SOURCE_INSTRUMENTS = tuple(k for k in MUSDB_STREAMS if k != "mixture")

# Audio preprocessing parameters for Short-Time Fourier Transform (STFT)
N_SUBBANDS = 4  # Number of subbands into which frequencies are split
CHUNK_SIZE = 4032  # Number of amplitude samples per audio chunk (the example: 65024)
STFT_N_FFT = 256  # FFT points used in STFT (the example: 2048)
STFT_HOP_LENGTH = 64  # Hop length for STFT (the example: 512)

# Training hyperparameters
N_CHANNELS = 8  # Base channel count for the model (the example: 64)
BATCH_SIZE = 3
ACCUMULATION_STEPS = 2
EFFECTIVE_BATCH_SIZE = BATCH_SIZE * (ACCUMULATION_STEPS or 1)

# Paths
TMP_DIR = path.abspath("keras_tmp")
DATASET_DIR = path.abspath("keras_datasets")
MODEL_PATH = path.join(TMP_DIR, f"model_{keras.backend.backend()}.keras")
CSV_LOG_PATH = path.join(TMP_DIR, f"training_{keras.backend.backend()}.csv")
os.makedirs(DATASET_DIR, exist_ok=True)
os.makedirs(TMP_DIR, exist_ok=True)

# Set random seed for reproducibility
keras.utils.set_random_seed(21)

# ---- stand-ins for the MUSDB18 .wav files (soundfile) and for audiomentations -----------------
_SONGS = {}
_RATE = 16000


def _make_song(name, rng, seconds=1.5):
    t = np.arange(int(seconds * _RATE)) / _RATE
    f0 = rng.uniform(200, 400)
    vib = 1 + 0.01 * np.sin(2 * np.pi * 5 * t)
    vocals = sum(np.sin(2 * np.pi * k * f0 * vib * t) / k for k in (1, 2, 3)) * 0.3
    vocals *= (np.sin(2 * np.pi * 0.7 * t) > -0.3)                 # phrases with pauses
    drums = rng.normal(size=t.size) * (np.mod(t, 0.25) < 0.03) * 0.5
    bass = 0.4 * np.sin(2 * np.pi * rng.uniform(50, 90) * t)
    other = 0.2 * sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(500, 2000, 3))
    for track, mono in {"vocals": vocals, "drums": drums, "bass": bass, "other": other}.items():
        stereo = np.stack([mono, mono * 0.9], axis=1).astype("float32")
        _SONGS[path.join(name, f"{track}.wav")] = stereo


def _populate(rng):
    for split, count in (("train", 4), ("test", 2)):
        for i in range(count):
            name = path.join(DATASET_DIR, "musdb18_wav", split, f"song_{i}")
            _make_song(name, rng)


class sf:  # soundfile.read(file, frames=-1, start=0, dtype=...) -> (data, samplerate)
    @staticmethod
    def read(file, frames=-1, start=0, dtype="float64"):
        data = _SONGS[file]
        data = data[start:] if frames < 0 else data[start:start + frames]
        return data.astype(dtype), _RATE


def _glob(pattern):
    if pattern.endswith("*.wav"):
        return sorted(k for k in _SONGS if path.dirname(k) == path.dirname(pattern))
    parent = path.dirname(pattern)
    return sorted({path.dirname(k) for k in _SONGS if path.dirname(path.dirname(k)) == parent})


glob.glob = _glob


class _Augmentation:
    def __init__(self, *args, p=0.5, **kwargs):
        self.p, self.apply = p, False

    def randomize_parameters(self, samples, sample_rate):
        self.apply = random.uniform(0, 1) < self.p

    def __call__(self, samples, sample_rate):
        return self.transform(samples) if self.apply else samples


class aug:
    class PitchShift(_Augmentation):
        def transform(self, x):  # resample by up to a semitone, same length
            idx = np.clip(np.arange(x.size) * random.uniform(0.94, 1.06), 0, x.size - 1)
            return np.interp(idx, np.arange(x.size), x).astype("float32")

    class SevenBandParametricEQ(_Augmentation):
        def transform(self, x):
            return (x * random.uniform(0.7, 1.3)).astype("float32")

    class TanhDistortion(_Augmentation):
        def transform(self, x):
            return np.tanh(2 * x).astype("float32") / 2

    class AddGaussianNoise(_Augmentation):
        def transform(self, x):
            return (x + 0.01 * np.random.normal(size=x.size)).astype("float32")


def download_musdb18(out_dir=None):
    """the example downloads MUSDB18 and converts it with ffmpeg; here: synthetic songs"""
    out_dir = path.join(out_dir, "musdb18_wav")
    _populate(np.random.default_rng(0))
    return out_dir


# Download and prepare the MUSDB18 dataset
songs = download_musdb18(out_dir=DATASET_DIR)


class Dataset(keras.utils.PyDataset):
    def __init__(
        self,
        songs,
        batch_size=BATCH_SIZE,
        chunk_size=CHUNK_SIZE,
        batches_per_epoch=3 * ACCUMULATION_STEPS,
        augmentation=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.augmentation = augmentation
        self.vocals_augmentations = [
            aug.PitchShift(min_semitones=-5, max_semitones=5, p=0.1),
            aug.SevenBandParametricEQ(-9, 9, p=0.25),
            aug.TanhDistortion(0.1, 0.7, p=0.1),
        ]
        self.other_augmentations = [
            aug.PitchShift(p=0.1),
            aug.AddGaussianNoise(p=0.1),
        ]
        self.songs = songs
        self.sizes = {song: self.get_track_set_size(song) for song in self.songs}
        self.batch_size = batch_size
        self.chunk_size = chunk_size
        self.batches_per_epoch = batches_per_epoch

    def get_track_set_size(self, song: str):
        """Return the smallest track length in the given song directory."""
        sizes = [len(sf.read(p)[0]) for p in glob.glob(path.join(song, "*.wav"))]
        if max(sizes) != min(sizes):
            print(f"Warning: {song} has different track lengths")
        return min(sizes)

    def random_chunk_of_instrument_type(self, instrument: str):
        """Extract a random chunk for the specified instrument from a random song."""
        song, size = random.choice(list(self.sizes.items()))
        track = path.join(song, f"{instrument}.wav")

        if self.chunk_size <= size:
            start = np.random.randint(size - self.chunk_size + 1)
            audio = sf.read(track, self.chunk_size, start, dtype="float32")[0]
            audio_mono = np.mean(audio, axis=1)
        else:
            # If the track is shorter than chunk_size, pad the signal
            audio_mono = np.mean(sf.read(track, dtype="float32")[0], axis=1)
            audio_mono = np.pad(audio_mono, ((0, self.chunk_size - size),))

        # If the chunk is almost silent, retry
        if np.mean(np.abs(audio_mono)) < 0.01:
            return self.random_chunk_of_instrument_type(instrument)

        return self.data_augmentation(audio_mono, instrument)

    def data_augmentation(self, audio: np.ndarray, instrument: str):
        """Apply data augmentation to the audio chunk, if enabled."""

        def coin_flip(x, probability: float, fn: typing.Callable):
            return fn(x) if random.uniform(0, 1) < probability else x

        if self.augmentation:
            augmentations = (
                self.vocals_augmentations
                if instrument == "vocals"
                else self.other_augmentations
            )
            # Loudness augmentation
            audio *= np.random.uniform(0.5, 1.5, (len(audio),)).astype("float32")
            # Random reverse
            audio = coin_flip(audio, 0.1, lambda x: np.flip(x))
            # Random polarity inversion
            audio = coin_flip(audio, 0.5, lambda x: -x)
            # Apply selected augmentations
            for aug_ in augmentations:
                aug_.randomize_parameters(audio, sample_rate=16000)
                audio = aug_(audio, sample_rate=16000)
        return audio

    def random_mix_of_tracks(self) -> dict:
        """Create a random mix of instruments by summing their individual chunks."""
        tracks = {}
        for instrument in SOURCE_INSTRUMENTS:
            # Start with a single random chunk
            mixup = [self.random_chunk_of_instrument_type(instrument)]

            # Randomly add more chunks of the same instrument (mixup augmentation)
            if self.augmentation:
                for p in (0.2, 0.02):
                    if random.uniform(0, 1) < p:
                        mixup.append(self.random_chunk_of_instrument_type(instrument))

            tracks[instrument] = np.mean(mixup, axis=0, dtype="float32")
        return tracks

    def __len__(self):
        return self.batches_per_epoch

    def __getitem__(self, idx):
        # Generate a batch of random mixtures
        batch = [self.random_mix_of_tracks() for _ in range(self.batch_size)]

        # Features: sum of all tracks
        batch_x = ops.sum(
            np.array([list(track_set.values()) for track_set in batch]), axis=1
        )

        # Labels: isolated target instruments (e.g., vocals)
        batch_y = np.array(
            [[track_set[t] for t in TARGET_INSTRUMENTS] for track_set in batch]
        )

        return batch_x, ops.convert_to_tensor(batch_y)


# Create train and validation datasets
train_ds = Dataset(glob.glob(path.join(songs, "train", "*")))
val_ds = Dataset(
    glob.glob(path.join(songs, "test", "*")),
    batches_per_epoch=int(0.5 * train_ds.batches_per_epoch),
    augmentation=False,
)
assert len(train_ds.songs) == 4 and len(val_ds.songs) == 2 and len(val_ds) == 3

sample_batch_x, sample_batch_y = val_ds[None]  # Random batch
assert tuple(sample_batch_x.shape) == (BATCH_SIZE, CHUNK_SIZE)
assert tuple(sample_batch_y.shape) == (BATCH_SIZE, N_INSTRUMENTS, CHUNK_SIZE)


def stft(inputs, fft_size=STFT_N_FFT, sequence_stride=STFT_HOP_LENGTH):
    """Compute the STFT for the input audio and return the real and imaginary parts."""
    real_x, imag_x = ops.stft(inputs, fft_size, sequence_stride, fft_size)
    real_x, imag_x = ops.expand_dims(real_x, -1), ops.expand_dims(imag_x, -1)
    x = ops.concatenate((real_x, imag_x), axis=-1)

    # Drop last freq sample for convenience
    return ops.split(x, [x.shape[2] - 1], axis=2)[0]


def inverse_stft(inputs, fft_size=STFT_N_FFT, sequence_stride=STFT_HOP_LENGTH):
    """Compute the inverse STFT for the given STFT input."""
    x = inputs

    # Pad back dropped freq sample if using torch backend
    if keras.backend.backend() == "torch":
        x = ops.pad(x, ((0, 0), (0, 0), (0, 1), (0, 0)))

    real_x, imag_x = ops.split(x, 2, axis=-1)
    real_x = ops.squeeze(real_x, axis=-1)
    imag_x = ops.squeeze(imag_x, axis=-1)

    return ops.istft((real_x, imag_x), fft_size, sequence_stride, fft_size)


@saving.register_keras_serializable()
class TimeDistributedDenseBlock(layers.Layer):
    """Time-Distributed Fully Connected layer block.

    Applies frequency-wise dense transformations across time frames with instance
    normalization and GELU activation.
    """

    def __init__(self, bottleneck_factor, fft_dim, **kwargs):
        super().__init__(**kwargs)
        self.fft_dim = fft_dim
        self.hidden_dim = fft_dim // bottleneck_factor

    def build(self, *_):
        self.group_norm_1 = layers.GroupNormalization(groups=-1)
        self.group_norm_2 = layers.GroupNormalization(groups=-1)
        self.dense_1 = layers.Dense(self.hidden_dim, use_bias=False)
        self.dense_2 = layers.Dense(self.fft_dim, use_bias=False)

    def call(self, x):
        # Apply normalization and dense layers frequency-wise
        x = ops.gelu(self.group_norm_1(x))
        x = ops.swapaxes(x, -1, -2)
        x = self.dense_1(x)

        x = ops.gelu(self.group_norm_2(ops.swapaxes(x, -1, -2)))
        x = ops.swapaxes(x, -1, -2)
        x = self.dense_2(x)
        return ops.swapaxes(x, -1, -2)


@saving.register_keras_serializable()
class TimeFrequencyConvolution(layers.Layer):
    """Time-Frequency Convolutional layer.

    Applies a 2D convolution over time-frequency representations and applies instance
    normalization and GELU activation.
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels

    def build(self, *_):
        self.group_norm = layers.GroupNormalization(groups=-1)
        self.conv = layers.Conv2D(self.channels, 3, padding="same", use_bias=False)

    def call(self, x):
        return self.conv(ops.gelu(self.group_norm(x)))


@saving.register_keras_serializable()
class TimeFrequencyTransformBlock(layers.Layer):
    """Implements TFC_TDF block for encoder-decoder architecture.

    Repeatedly apply Time-Frequency Convolution and Time-Distributed Dense blocks as
    many times as specified by the `length` parameter.
    """

    def __init__(
        self, channels, length, fft_dim, bottleneck_factor, in_channels=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.channels = channels
        self.length = length
        self.fft_dim = fft_dim
        self.bottleneck_factor = bottleneck_factor
        self.in_channels = in_channels or channels

    def build(self, *_):
        self.blocks = []
        # Add blocks in a flat list to avoid nested structures
        for i in range(self.length):
            in_channels = self.channels if i > 0 else self.in_channels
            self.blocks.append(TimeFrequencyConvolution(in_channels))
            self.blocks.append(
                TimeDistributedDenseBlock(self.bottleneck_factor, self.fft_dim)
            )
            self.blocks.append(TimeFrequencyConvolution(self.channels))
            # Residual connection
            self.blocks.append(layers.Conv2D(self.channels, 1, 1, use_bias=False))

    def call(self, inputs):
        x = inputs
        # Each block consists of 4 layers:
        # 1. Time-Frequency Convolution
        # 2. Time-Distributed Dense
        # 3. Time-Frequency Convolution
        # 4. Residual connection
        for i in range(0, len(self.blocks), 4):
            tfc_1 = self.blocks[i](x)
            tdf = self.blocks[i + 1](x)
            tfc_2 = self.blocks[i + 2](tfc_1 + tdf)
            x = tfc_2 + self.blocks[i + 3](x)  # Residual connection
        return x


@saving.register_keras_serializable()
class Downscale(layers.Layer):
    """Downscale time-frequency dimensions using a convolution."""

    conv_cls = layers.Conv2D

    def __init__(self, channels, scale, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.scale = scale

    def build(self, *_):
        self.conv = self.conv_cls(self.channels, self.scale, self.scale, use_bias=False)
        self.norm = layers.GroupNormalization(groups=-1)

    def call(self, inputs):
        return self.norm(ops.gelu(self.conv(inputs)))


@saving.register_keras_serializable()
class Upscale(Downscale):
    """Upscale time-frequency dimensions using a transposed convolution."""

    conv_cls = layers.Conv2DTranspose


def build_model(
    inputs,
    n_instruments=N_INSTRUMENTS,
    n_subbands=N_SUBBANDS,
    channels=N_CHANNELS,
    fft_dim=(STFT_N_FFT // 2) // N_SUBBANDS,
    n_scales=2,
    scale=(2, 2),
    block_size=1,
    growth=8,
    bottleneck_factor=2,
    **kwargs,
):
    """Build the TFC_TDF encoder-decoder model for source separation."""
    # Compute STFT
    x = stft(inputs)

    # Split mixture into subbands as separate channels
    mix = ops.reshape(x, (-1, x.shape[1], x.shape[2] // n_subbands, 2 * n_subbands))
    first_conv_out = layers.Conv2D(channels, 1, 1, use_bias=False)(mix)
    x = first_conv_out

    # Encoder path
    encoder_outs = []
    for _ in range(n_scales):
        x = TimeFrequencyTransformBlock(
            channels, block_size, fft_dim, bottleneck_factor
        )(x)
        encoder_outs.append(x)
        fft_dim, channels = fft_dim // scale[0], channels + growth
        x = Downscale(channels, scale)(x)

    # Bottleneck
    x = TimeFrequencyTransformBlock(channels, block_size, fft_dim, bottleneck_factor)(x)

    # Decoder path
    for _ in range(n_scales):
        fft_dim, channels = fft_dim * scale[0], channels - growth
        x = ops.concatenate([Upscale(channels, scale)(x), encoder_outs.pop()], axis=-1)
        x = TimeFrequencyTransformBlock(
            channels, block_size, fft_dim, bottleneck_factor, in_channels=x.shape[-1]
        )(x)

    # Residual connection and final convolutions
    x = ops.concatenate([mix, x * first_conv_out], axis=-1)
    x = layers.Conv2D(channels, 1, 1, use_bias=False, activation="gelu")(x)
    x = layers.Conv2D(n_instruments * n_subbands * 2, 1, 1, use_bias=False)(x)

    # Reshape back to instrument-wise STFT
    x = ops.reshape(x, (-1, x.shape[1], x.shape[2] * n_subbands, n_instruments, 2))
    x = ops.transpose(x, (0, 3, 1, 2, 4))
    x = ops.reshape(x, (-1, n_instruments, x.shape[2], x.shape[3] * 2))

    return keras.Model(inputs=inputs, outputs=x, **kwargs)


def prediction_to_wave(x, n_instruments=N_INSTRUMENTS):
    """Convert STFT predictions back to waveform."""
    x = ops.reshape(x, (-1, x.shape[2], x.shape[3] // 2, 2))
    x = inverse_stft(x)
    return ops.reshape(x, (-1, n_instruments, x.shape[1]))


def target_to_stft(y):
    """Convert target waveforms to their STFT representations."""
    y = ops.reshape(y, (-1, CHUNK_SIZE))
    y_real, y_imag = ops.stft(y, STFT_N_FFT, STFT_HOP_LENGTH, STFT_N_FFT)
    y_real, y_imag = y_real[..., :-1], y_imag[..., :-1]
    y = ops.stack([y_real, y_imag], axis=-1)
    return ops.reshape(y, (-1, N_INSTRUMENTS, y.shape[1], y.shape[2] * 2))


@saving.register_keras_serializable()
def sdr(y_true, y_pred):
    """Signal-to-Distortion Ratio metric."""
    y_pred = prediction_to_wave(y_pred)
    # Add epsilon for numerical stability
    num = ops.sum(ops.square(y_true), axis=-1) + 1e-8
    den = ops.sum(ops.square(y_true - y_pred), axis=-1) + 1e-8
    return 10 * ops.log10(num / den)


@saving.register_keras_serializable()
def spectral_loss(y_true, y_pred):
    """Mean absolute error in the STFT domain."""
    y_true = target_to_stft(y_true)
    return ops.mean(ops.absolute(y_true - y_pred))


# the STFT round trip the loss and the metric rely on: a target turned into the model's output
# layout and back is the target again (istft of 128 of the 129 bins, the Nyquist bin dropped)
_wave = ops.convert_to_numpy(prediction_to_wave(target_to_stft(sample_batch_y)))
_ref = ops.convert_to_numpy(sample_batch_y)
assert _wave.shape == _ref.shape, (_wave.shape, _ref.shape)
assert np.max(np.abs(_wave[..., 256:-256] - _ref[..., 256:-256])) < 0.05 * np.max(np.abs(_ref))

# Load or create the model
if path.exists(MODEL_PATH):
    model = saving.load_model(MODEL_PATH)
else:
    model = build_model(keras.Input(sample_batch_x.shape[1:]), name="tfc_tdf_net")

# Display the model architecture
model.summary()
frames = 1 + CHUNK_SIZE // STFT_HOP_LENGTH
assert model.output.shape == (None, N_INSTRUMENTS, frames, STFT_N_FFT), model.output.shape

# Compile the model
optimizer = keras.optimizers.Adam(5e-05, gradient_accumulation_steps=ACCUMULATION_STEPS)
model.compile(optimizer=optimizer, loss=spectral_loss, metrics=[sdr])

# Define callbacks
cbs = [
    callbacks.ModelCheckpoint(MODEL_PATH, "val_sdr", save_best_only=True, mode="max"),
    callbacks.ReduceLROnPlateau(factor=0.95, patience=2),
    callbacks.CSVLogger(CSV_LOG_PATH),
]

if not path.exists(MODEL_PATH):
    history = model.fit(train_ds, validation_data=val_ds, epochs=3, callbacks=cbs, shuffle=False)
else:
    # Demonstration of a single epoch of training when model already exists
    model.fit(train_ds, validation_data=val_ds, epochs=1, shuffle=False, verbose=2)

# six batches an epoch, accumulated two at a time: three optimizer updates per epoch
assert int(optimizer.iterations) == 3 * 3, int(optimizer.iterations)
assert path.exists(MODEL_PATH) and path.exists(CSV_LOG_PATH)
with open(CSV_LOG_PATH) as f:
    rows = f.read().strip().splitlines()
assert rows[0].split(",")[:1] == ["epoch"] and "val_sdr" in rows[0] and len(rows) == 4, rows

model.evaluate(val_ds, verbose=2)
y_pred = model.predict(sample_batch_x, verbose=2)
y_pred = prediction_to_wave(y_pred)
assert tuple(y_pred.shape) == (BATCH_SIZE, N_INSTRUMENTS, CHUNK_SIZE)

# the best checkpoint loads back through the registry (custom layers, loss and metric) and
# computes what it computed when it was saved
restored = saving.load_model(MODEL_PATH)
assert isinstance(restored.get_layer(index=-1), layers.Layer)
best = max(history.history["val_sdr"])
_, restored_sdr = restored.evaluate(val_ds.__class__(val_ds.songs, augmentation=False,
                                                     batches_per_epoch=2), verbose=0)
print("best val_sdr", best, "restored model's sdr on fresh mixtures", restored_sdr)
assert np.isfinite(restored_sdr)
# predictions of the restored model equal the model's own when the best epoch was the last
if best == history.history["val_sdr"][-1]:
    np.testing.assert_allclose(restored.predict(sample_batch_x, verbose=0),
                               model.predict(sample_batch_x, verbose=0), rtol=1e-4, atol=1e-5)
