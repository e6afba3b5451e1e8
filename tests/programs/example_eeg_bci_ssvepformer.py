"""keras.io example "Electroencephalogram Signal Classification for Brain-Computer Interface"
(examples/timeseries/eeg_bci_ssvepformer, Okba Bekhelifi), imports changed only: the SSVEPFormer
under `K.set_image_data_format("channels_first")` (so its Conv1D layers read (batch, channels,
steps)), a non-trainable ComplexSpectrum layer calling `keras.ops.rfft(x, fft_length=nfft)` and
slicing the (real, imag) pair it returns, custom layers holding Conv1D / LayerNormalization / GELU
/ Dropout, a ChannelMLP whose `call` loops over the channels and makes a new `layers.Reshape` on
every call, a Sequential of those layers, SGD with momentum and weight_decay, `compile(...,
jit_compile=True)`, fit on `tf.data` with validation data, and the leave-one-subject-out loop.
The Nakanishi et al. recordings (a download of .mat files read by scipy.io.loadmat) become
synthetic SSVEPs: each of the 12 targets is a sine at its stimulation frequency (9.25-14.75 Hz,
the dataset's) and phase plus its second harmonic and noise, 8 electrodes at 256 Hz; scipy's
Butterworth `filtfilt` becomes the same band limit applied in the frequency domain with NumPy
(scipy is not a dependency of corenn). Sizes are cut (4 subjects, 3 blocks, 2 leave-one-out
folds, a few epochs, BATCH_SIZE 32, LR 0.01); plotting is dropped."""
import os

os.environ["KERAS_BACKEND"] = "jax"

# deep learning libraries
from corenn.keras import backend as K
from corenn.keras import layers
from corenn import keras

import corenn as tf
import numpy as np

# setting the backend, seed and Keras channel format
K.set_image_data_format("channels_first")
keras.utils.set_random_seed(42)

# ---- synthetic stand-in for the cca_ssvep .mat files: eeg is (targets, channels, samples, blocks)
N_SUBJECTS, N_BLOCKS, N_CHANNELS, FS_RAW = 4, 3, 8, 256
STIM_FREQS = 9.25 + 0.5 * np.arange(12)            # the dataset's 12 stimulation frequencies
STIM_PHASES = np.tile(np.array([0.0, 0.5, 1.0, 1.5]) * np.pi, 3)
rng = np.random.default_rng(0)


def loadmat(path):
    subj = int(os.path.basename(path)[1:-4])
    total = 38 + int(0.135 * FS_RAW) + FS_RAW + 20
    t = np.arange(total) / FS_RAW
    eeg = np.empty((12, N_CHANNELS, total, N_BLOCKS), "float64")
    gain = 1.0 + 0.2 * subj + 0.3 * rng.random(N_CHANNELS)   # subjects differ in amplitude
    for k in range(12):
        for b in range(N_BLOCKS):
            ssvep = (np.sin(2 * np.pi * STIM_FREQS[k] * t + STIM_PHASES[k])
                     + 0.5 * np.sin(2 * np.pi * 2 * STIM_FREQS[k] * t + 2 * STIM_PHASES[k]))
            eeg[k, :, :, b] = gain[:, None] * ssvep[None] + 1.5 * rng.normal(size=(N_CHANNELS, total))
    return {"eeg": eeg}


def butter_filtfilt(data, fs, band, axis=0):
    """zero-phase band limit (the example's Butterworth filtfilt, done on the spectrum)"""
    spec = np.fft.rfft(data, axis=axis)
    freqs = np.fft.rfftfreq(data.shape[axis], 1.0 / fs)
    keep = ((freqs >= band[0]) & (freqs <= band[1])).reshape([-1] + [1] * (data.ndim - 1 - axis))
    return np.fft.irfft(spec * keep, n=data.shape[axis], axis=axis)


def raw_signal(folder, fs=256, duration=1.0, onset=0.135):
    """selecting a 1-second segment of the raw EEG signal for
    subject 1.
    """
    onset = 38 + int(onset * fs)
    end = int(duration * fs)
    data = loadmat(f"{folder}/s1.mat")
    # samples, channels, trials, targets
    eeg = data["eeg"].transpose((2, 1, 3, 0))
    # segment data
    eeg = eeg[onset : onset + end, :, :, :]
    return eeg


def segment_eeg(
    folder, elecs=None, fs=256, duration=1.0, band=[5.0, 45.0], order=4, onset=0.135
):
    """Filtering and segmenting EEG signals for all subjects."""
    n_subejects = N_SUBJECTS
    onset = 38 + int(onset * fs)
    end = int(duration * fs)
    X, Y = [], []  # empty data and labels

    for subj in range(1, n_subejects + 1):
        data = loadmat(f"{data_folder}/s{subj}.mat")
        # samples, channels, trials, targets
        eeg = data["eeg"].transpose((2, 1, 3, 0))
        # filter data
        eeg = filter_eeg(eeg, fs=fs, band=band, order=order)
        # segment data
        eeg = eeg[onset : onset + end, :, :, :]
        # reshape labels
        samples, channels, blocks, targets = eeg.shape
        y = np.tile(np.arange(1, targets + 1), (blocks, 1))
        y = y.reshape((1, blocks * targets), order="F")

        X.append(eeg.reshape((samples, channels, blocks * targets), order="F"))
        Y.append(y)

    X = np.array(X, dtype=np.float32, order="F")
    Y = np.array(Y, dtype=np.float32).squeeze()

    return X, Y


def filter_eeg(data, fs=256, band=[5.0, 45.0], order=4):
    """Filter EEG signal using a zero-phase IIR filter"""
    return butter_filtfilt(data, fs, band, axis=0)


data_folder = os.path.abspath("./cca_ssvep")
band = [8, 64]  # low-frequency / high-frequency cutoffS
order = 4  # filter order
fs = 256  # sampling frequency
duration = 1.0  # 1 second

# raw signal
X_raw = raw_signal(data_folder, fs=fs, duration=duration)
print(
    f"A single subject raw EEG (X_raw) shape: {X_raw.shape} [Samples x Channels x Blocks x Targets]"
)

# segmented signal
X, Y = segment_eeg(data_folder, band=band, order=order, fs=fs, duration=duration)
print(
    f"Full training data (X) shape: {X.shape} [Subject x Samples x Channels x Trials]"
)
print(f"data labels (Y) shape:        {Y.shape} [Subject x Trials]")
assert X.shape == (N_SUBJECTS, 256, N_CHANNELS, 12 * N_BLOCKS) and Y.shape == (N_SUBJECTS, 12 * N_BLOCKS)

samples = X.shape[1]
time = np.linspace(0.0, samples / fs, samples) * 1000


class ComplexSpectrum(keras.layers.Layer):
    def __init__(self, nfft=512, fft_start=8, fft_end=64):
        super().__init__()
        self.nfft = nfft
        self.fft_start = fft_start
        self.fft_end = fft_end

    def call(self, x):
        samples = x.shape[-1]
        x = keras.ops.rfft(x, fft_length=self.nfft)
        real = x[0] / samples
        imag = x[1] / samples
        real = real[:, :, self.fft_start : self.fft_end]
        imag = imag[:, :, self.fft_start : self.fft_end]
        x = keras.ops.concatenate((real, imag), axis=-1)
        return x


class ChannelComb(keras.layers.Layer):
    def __init__(self, n_channels, drop_rate=0.5):
        super().__init__()
        self.conv = layers.Conv1D(
            2 * n_channels,
            1,
            padding="same",
            kernel_initializer=keras.initializers.RandomNormal(
                mean=0.0, stddev=0.01, seed=None
            ),
        )
        self.normalization = layers.LayerNormalization()
        self.activation = layers.Activation(activation="gelu")
        self.drop = layers.Dropout(drop_rate)

    def call(self, x):
        x = self.conv(x)
        x = self.normalization(x)
        x = self.activation(x)
        x = self.drop(x)
        return x


class ConvAttention(keras.layers.Layer):
    def __init__(self, n_channels, drop_rate=0.5):
        super().__init__()
        self.norm = layers.LayerNormalization()
        self.conv = layers.Conv1D(
            2 * n_channels,
            31,
            padding="same",
            kernel_initializer=keras.initializers.RandomNormal(
                mean=0.0, stddev=0.01, seed=None
            ),
        )
        self.activation = layers.Activation(activation="gelu")
        self.drop = layers.Dropout(drop_rate)

    def call(self, x):
        input = x
        x = self.norm(x)
        x = self.conv(x)
        x = self.activation(x)
        x = self.drop(x)
        x = x + input
        return x


class ChannelMLP(keras.layers.Layer):
    def __init__(self, n_features, drop_rate=0.5):
        super().__init__()
        self.norm = layers.LayerNormalization()
        self.mlp = layers.Dense(
            2 * n_features,
            kernel_initializer=keras.initializers.RandomNormal(
                mean=0.0, stddev=0.01, seed=None
            ),
        )
        self.activation = layers.Activation(activation="gelu")
        self.drop = layers.Dropout(drop_rate)
        self.cat = layers.Concatenate(axis=1)

    def call(self, x):
        input = x
        channels = x.shape[1]  # x shape : NCF
        x = self.norm(x)
        output_channels = []
        for i in range(channels):
            c = self.mlp(x[:, :, i])
            c = layers.Reshape([1, -1])(c)
            output_channels.append(c)
        x = self.cat(output_channels)
        x = self.activation(x)
        x = self.drop(x)
        x = x + input
        return x


class Encoder(keras.layers.Layer):
    def __init__(self, n_channels, n_features, drop_rate=0.5):
        super().__init__()
        self.attention1 = ConvAttention(n_channels, drop_rate=drop_rate)
        self.mlp1 = ChannelMLP(n_features, drop_rate=drop_rate)
        self.attention2 = ConvAttention(n_channels, drop_rate=drop_rate)
        self.mlp2 = ChannelMLP(n_features, drop_rate=drop_rate)

    def call(self, x):
        x = self.attention1(x)
        x = self.mlp1(x)
        x = self.attention2(x)
        x = self.mlp2(x)
        return x


class MlpHead(keras.layers.Layer):
    def __init__(self, n_classes, drop_rate=0.5):
        super().__init__()
        self.flatten = layers.Flatten()
        self.drop = layers.Dropout(drop_rate)
        self.linear1 = layers.Dense(
            6 * n_classes,
            kernel_initializer=keras.initializers.RandomNormal(
                mean=0.0, stddev=0.01, seed=None
            ),
        )
        self.norm = layers.LayerNormalization()
        self.activation = layers.Activation(activation="gelu")
        self.drop2 = layers.Dropout(drop_rate)
        self.linear2 = layers.Dense(
            n_classes,
            kernel_initializer=keras.initializers.RandomNormal(
                mean=0.0, stddev=0.01, seed=None
            ),
        )

    def call(self, x):
        x = self.flatten(x)
        x = self.drop(x)
        x = self.linear1(x)
        x = self.norm(x)
        x = self.activation(x)
        x = self.drop2(x)
        x = self.linear2(x)
        return x


def create_ssvepformer(
    input_shape, fs, resolution, fq_band, n_channels, n_classes, drop_rate
):
    nfft = round(fs / resolution)
    fft_start = int(fq_band[0] / resolution)
    fft_end = int(fq_band[1] / resolution) + 1
    n_features = fft_end - fft_start

    model = keras.Sequential(
        [
            keras.Input(shape=input_shape),
            ComplexSpectrum(nfft, fft_start, fft_end),
            ChannelComb(n_channels=n_channels, drop_rate=drop_rate),
            Encoder(n_channels=n_channels, n_features=n_features, drop_rate=drop_rate),
            Encoder(n_channels=n_channels, n_features=n_features, drop_rate=drop_rate),
            MlpHead(n_classes=n_classes, drop_rate=drop_rate),
            layers.Activation(activation="softmax"),
        ]
    )

    return model


# Training settings (the paper's: BATCH_SIZE 128, EPOCHS 100, LR 0.001; cut for the CPU test)
BATCH_SIZE = 32
EPOCHS = 5
LR = 0.01  # learning rate
WD = 0.001  # weight decay
MOMENTUM = 0.9
DROP_RATE = 0.5

resolution = 0.25


def concatenate_subjects(x, y, fold):
    X = np.concatenate([x[idx] for idx in fold], axis=-1)
    Y = np.concatenate([y[idx] for idx in fold], axis=-1)
    X = X.transpose((2, 1, 0))  # trials x channels x samples
    return X, Y - 1  # transform labels to values from 0...11


def evaluate_subject(
    x_train,
    y_train,
    x_val,
    y_val,
    fs=256,
    resolution=0.25,
    band=[8, 64],
    channels=8,
    n_classes=12,
    drop_rate=DROP_RATE,
):

    train_dataset = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .batch(BATCH_SIZE)
        .prefetch(tf.data.AUTOTUNE)
    )

    test_dataset = (
        tf.data.Dataset.from_tensor_slices((x_val, y_val))
        .batch(BATCH_SIZE)
        .prefetch(tf.data.AUTOTUNE)
    )

    model = create_ssvepformer(
        input_shape, fs, resolution, band, channels, n_classes, drop_rate
    )
    sgd = keras.optimizers.SGD(learning_rate=LR, momentum=MOMENTUM, weight_decay=WD)

    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=sgd,
        metrics=["accuracy"],
        jit_compile=True,
    )

    history = model.fit(
        train_dataset,
        batch_size=BATCH_SIZE,
        epochs=EPOCHS,
        validation_data=test_dataset,
        verbose=0,
    )
    assert history.history["loss"][-1] < history.history["loss"][0], history.history["loss"]
    loss, acc = model.evaluate(test_dataset)
    return acc * 100


channels = X.shape[2]
samples = X.shape[1]
input_shape = (channels, samples)
n_classes = 12

model = create_ssvepformer(
    input_shape, fs, resolution, band, channels, n_classes, DROP_RATE
)
model.summary()
# (batch, 2 * channels, 2 * n_features) after the channel combination, n_features = 225 bins
assert model.layers[1].output.shape == (None, 2 * channels, 2 * 225), model.layers[1].output.shape
assert model.output.shape == (None, n_classes)

N_FOLDS = 2
accs = np.zeros(N_FOLDS)

for subject in range(N_FOLDS):
    print(f"Testing subject: {subject+ 1}")

    # create train / test folds
    folds = np.delete(np.arange(N_SUBJECTS), subject)
    train_index = folds
    test_index = [subject]

    # create data split for each subject
    x_train, y_train = concatenate_subjects(X, Y, train_index)
    x_val, y_val = concatenate_subjects(X, Y, test_index)

    # train and evaluate a fold and compute the time it takes
    acc = evaluate_subject(x_train, y_train, x_val, y_val)

    accs[subject] = acc

print(f"\nAccuracy Across Subjects: {accs.mean()} % std: {np.std(accs)}")
# chance is 1/12 = 8.3 %: the SSVEPs' spectral peaks must be found on held-out subjects
assert accs.mean() > 50.0, accs
