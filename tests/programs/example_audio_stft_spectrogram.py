"""keras.io example "Audio Classification with the STFTSpectrogram layer" (audio/stft), imports
changed: raw waveforms go straight into the model, whose first layer is Keras 3's
`STFTSpectrogram` (a 1-D model on the log spectrogram, frozen STFT kernels via `trainable=False`),
and a 2-D model that stacks three spectrograms of different frame lengths as channels
(`expand_dims=True`, `padding="same"`, `Concatenate(axis=-1)`), resizes them and classifies with
an image backbone; `EarlyStopping(restore_best_weights=True)` on the validation loss. ESC-10 is
replaced by synthetic clips (a class is a pair of tones; random phase, amplitude and noise), the
sample rate and the networks are shrunk, and the 2-D model's ImageNet MobileNet is a small
random-weight `MobileNet(alpha=0.25)`."""
import numpy as np

from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(7)

SAMPLE_RATE = 4000
CLIP_SAMPLES = SAMPLE_RATE // 4
NUM_CLASSES = 4
BATCH_SIZE = 16

rng = np.random.default_rng(7)
BASE_FREQS = [(200, 900), (350, 1300), (500, 700), (800, 1600)]


def make_clips(n):
    t = np.arange(CLIP_SAMPLES) / SAMPLE_RATE
    labels = rng.integers(0, NUM_CLASSES, n)
    x = np.zeros((n, CLIP_SAMPLES), "float32")
    for i, c in enumerate(labels):
        for f in BASE_FREQS[c]:
            x[i] += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
        x[i] += rng.normal(0, 0.3, CLIP_SAMPLES)
    return x[..., None], keras.utils.to_categorical(labels, NUM_CLASSES)


train_x, train_y = make_clips(256)
valid_x, valid_y = make_clips(64)
test_x, test_y = make_clips(64)
print(train_x.shape, train_y.shape)

# the spectrogram layer alone: frames of 40 ms every 15 ms, a log-magnitude per frequency bin
stft = layers.STFTSpectrogram(mode="log", frame_length=SAMPLE_RATE * 40 // 1000,
                              frame_step=SAMPLE_RATE * 15 // 1000, trainable=False)
spec = keras.ops.convert_to_numpy(stft(train_x[:2]))
print("spectrogram:", spec.shape)
fft_length = 256   # the default: the power of two at or above the 160-sample frame
assert spec.shape == (2, 1 + (CLIP_SAMPLES - 160) // 60, fft_length // 2 + 1), spec.shape
# the strongest bin of a frame sits at one of the clip's two tones
peak_hz = np.argmax(spec[0, 5]) * SAMPLE_RATE / fft_length
c0 = int(np.argmax(train_y[0]))
assert min(abs(peak_hz - f) for f in BASE_FREQS[c0]) <= 2 * SAMPLE_RATE / fft_length, peak_hz

model1d = keras.Sequential(
    [
        layers.InputLayer((None, 1)),
        layers.STFTSpectrogram(
            mode="log",
            frame_length=SAMPLE_RATE * 40 // 1000,
            frame_step=SAMPLE_RATE * 15 // 1000,
            trainable=False,
        ),
        layers.Conv1D(32, 3, activation="relu"),
        layers.Conv1D(32, 3, activation="relu"),
        layers.LayerNormalization(),
        layers.MaxPooling1D(2),
        layers.Conv1D(64, 3, activation="relu"),
        layers.GlobalAveragePooling1D(),
        layers.Dropout(0.5),
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ],
    name="model_1d_non_trainble_stft",
)
model1d.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss="categorical_crossentropy",
    metrics=["accuracy"],
)
model1d.summary()
assert len(model1d.layers[0].trainable_weights) == 0 and len(model1d.layers[0].non_trainable_weights) > 0
frozen = [keras.ops.convert_to_numpy(w) for w in model1d.layers[0].weights]
history_model1d = model1d.fit(
    train_x,
    train_y,
    batch_size=BATCH_SIZE,
    validation_data=(valid_x, valid_y),
    epochs=12,
    verbose=0,
    callbacks=[
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=4, restore_best_weights=True)
    ],
)
for w, before in zip(model1d.layers[0].weights, frozen):
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(w), before)   # trainable=False held
print("1d val accuracy:", [round(v, 3) for v in history_model1d.history["val_accuracy"]])
_, acc1d = model1d.evaluate(test_x, test_y, verbose=0)
print("1d test accuracy:", acc1d)
assert acc1d > 0.7, acc1d

input = layers.Input((None, 1))
spectrograms = [
    layers.STFTSpectrogram(
        mode="log",
        frame_length=SAMPLE_RATE * frame_size // 1000,
        frame_step=SAMPLE_RATE * 15 // 1000,
        fft_length=256,
        padding="same",
        expand_dims=True,
        # trainable=True,  # trainable by default
    )(input)
    for frame_size in [30, 40, 50]  # frame size in milliseconds
]
multi_spectrograms = layers.Concatenate(axis=-1)(spectrograms)
img_model = keras.applications.MobileNet(include_top=False, pooling="max", weights=None,
                                         alpha=0.25, input_shape=(64, 64, 3))
output = img_model(layers.Resizing(64, 64)(multi_spectrograms))
output = layers.Dropout(0.5)(output)
output = layers.Dense(NUM_CLASSES, activation="softmax")(output)
model2d = keras.Model(input, output, name="model_2d_trainble_stft")
print("stacked spectrograms:", tuple(multi_spectrograms.shape))
assert tuple(multi_spectrograms.shape)[-1] == 3 and tuple(multi_spectrograms.shape)[-2] == 129

model2d.compile(
    optimizer=keras.optimizers.Adam(3e-3),
    loss="categorical_crossentropy",
    metrics=["accuracy"],
)
stft_kernel_before = keras.ops.convert_to_numpy(model2d.layers[1].weights[0])
history_model2d = model2d.fit(train_x, train_y, batch_size=BATCH_SIZE,
                              validation_data=(valid_x, valid_y), epochs=4, verbose=0)
print("2d loss:", [round(v, 3) for v in history_model2d.history["loss"]])
assert history_model2d.history["loss"][-1] < history_model2d.history["loss"][0]
# the STFT kernels are trainable here: training moved them
assert not np.allclose(keras.ops.convert_to_numpy(model2d.layers[1].weights[0]), stft_kernel_before)
probs = model2d.predict(test_x[:8], verbose=0)
assert probs.shape == (8, NUM_CLASSES) and np.allclose(probs.sum(1), 1, atol=1e-5)
