"""keras.io example "Automatic Speech Recognition using CTC" (audio/ctc_asr), imports changed:
WAV files read in a tf.data `map` (`tf.io.read_file`, `tf.audio.decode_wav`), a magnitude
spectrogram by `tf.signal.stft(fft_length=...)`, `tf.math.pow` and per-frame normalisation with
`tf.math.reduce_std`, labels by `tf.strings.lower` / `tf.strings.unicode_split` into a
`StringLookup(oov_token="")`, `padded_batch`, a DeepSpeech2-like model (Reshape to 2-D, strided
Conv2D, Bidirectional GRU(reset_after=True)) trained with `keras.backend.ctc_batch_cost` in a
loss function, and greedy `keras.backend.ctc_decode` + `tf.strings.reduce_join` of the inverted
lookup in a callback that scores the word error rate. LJSpeech is replaced by synthetic speech (each
letter a short tone of its own pitch, written as 16-bit WAV files at 8 kHz); pandas' CSV reading by
the csv module and jiwer's `wer` by a small edit-distance function; the model has 1 GRU layer of 48
units and 8 convolution filters, 8 epochs."""
import csv
import os

import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

tf.random.set_seed(1)
rng = np.random.default_rng(1)
np.random.seed(1)


def wer(targets, predictions):
    """Word error rate: word-level edit distance over the number of target words (jiwer's)."""
    errors = words = 0
    for t, p in zip(targets, predictions):
        t, p = t.split(), p.split()
        d = np.arange(len(p) + 1)
        for i in range(1, len(t) + 1):
            prev, d[0] = d.copy(), i
            for j in range(1, len(p) + 1):
                d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (t[i - 1] != p[j - 1]))
        errors, words = errors + d[len(p)], words + len(t)
    return errors / max(words, 1)


# --- the synthetic corpus: 96 clips of 2-3 letter words, a tone per letter -------------------------
SR = 8000
data_path = os.path.join(os.getcwd(), "LJSpeech-1.1")
wavs_path = data_path + "/wavs/"
metadata_path = data_path + "/metadata.csv"
os.makedirs(wavs_path, exist_ok=True)
LETTERS = "abcdef"
PITCH = {c: 300.0 * 1.35 ** k for k, c in enumerate(LETTERS)}
rows = []
for n in range(96):
    word = "".join(rng.choice(list(LETTERS), size=rng.integers(2, 4)))
    pieces = []
    for c in word:
        t = np.arange(int(SR * 0.12)) / SR
        pieces.append(0.5 * np.sin(2 * np.pi * PITCH[c] * t) * np.hanning(len(t)))
        pieces.append(np.zeros(int(SR * 0.03)))
    wave = np.concatenate(pieces) + 0.01 * rng.standard_normal(sum(len(p) for p in pieces))
    name = f"LJ{n:03d}"
    tf.io.write_file(wavs_path + name + ".wav",
                     tf.audio.encode_wav(wave.astype("float32")[:, None], SR))
    rows.append((name, word.upper(), word.upper()))
with open(metadata_path, "w", newline="") as f:
    csv.writer(f, delimiter="|").writerows(rows)

# Read metadata file and parse it
with open(metadata_path) as f:
    metadata = [r for r in csv.reader(f, delimiter="|")]
metadata = [metadata[i] for i in np.random.permutation(len(metadata))]
metadata_df = {"file_name": [r[0] for r in metadata], "normalized_transcription": [r[2] for r in metadata]}

split = int(len(metadata) * 0.75)
df_train = {k: v[:split] for k, v in metadata_df.items()}
df_val = {k: v[split:] for k, v in metadata_df.items()}

print(f"Size of the training set: {len(df_train['file_name'])}")
print(f"Size of the training set: {len(df_val['file_name'])}")

# The set of characters accepted in the transcription.
characters = [x for x in "abcdefghijklmnopqrstuvwxyz'?! "]
# Mapping characters to integers
char_to_num = keras.layers.StringLookup(vocabulary=characters, oov_token="")
# Mapping integers back to original characters
num_to_char = keras.layers.StringLookup(
    vocabulary=char_to_num.get_vocabulary(), oov_token="", invert=True
)

print(
    f"The vocabulary is: {char_to_num.get_vocabulary()} "
    f"(size ={char_to_num.vocabulary_size()})"
)

# An integer scalar Tensor. The window length in samples.
frame_length = 256
# An integer scalar Tensor. The number of samples to step.
frame_step = 160
# An integer scalar Tensor. The size of the FFT to apply.
# If not provided, uses the smallest power of 2 enclosing frame_length.
fft_length = 384


def encode_single_sample(wav_file, label):
    ###########################################
    ##  Process the Audio
    ##########################################
    # 1. Read wav file
    file = tf.io.read_file(wavs_path + wav_file + ".wav")
    # 2. Decode the wav file
    audio, _ = tf.audio.decode_wav(file)
    audio = tf.squeeze(audio, axis=-1)
    # 3. Change type to float
    audio = tf.cast(audio, tf.float32)
    # 4. Get the spectrogram
    spectrogram = tf.signal.stft(
        audio, frame_length=frame_length, frame_step=frame_step, fft_length=fft_length
    )
    # 5. We only need the magnitude, which can be derived by applying tf.abs
    spectrogram = tf.abs(spectrogram)
    spectrogram = tf.math.pow(spectrogram, 0.5)
    # 6. normalisation
    means = tf.math.reduce_mean(spectrogram, 1, keepdims=True)
    stddevs = tf.math.reduce_std(spectrogram, 1, keepdims=True)
    spectrogram = (spectrogram - means) / (stddevs + 1e-10)
    ###########################################
    ##  Process the label
    ##########################################
    # 7. Convert label to Lower case
    label = tf.strings.lower(label)
    # 8. Split the label
    label = tf.strings.unicode_split(label, input_encoding="UTF-8")
    # 9. Map the characters in label to numbers
    label = char_to_num(label)
    # 10. Return a dict as our model is expecting two inputs
    return spectrogram, label


batch_size = 16
# Define the trainig dataset
train_dataset = tf.data.Dataset.from_tensor_slices(
    (list(df_train["file_name"]), list(df_train["normalized_transcription"]))
)
train_dataset = (
    train_dataset.map(encode_single_sample, num_parallel_calls=tf.data.AUTOTUNE)
    .padded_batch(batch_size)
    .prefetch(buffer_size=tf.data.AUTOTUNE)
)

# Define the validation dataset
validation_dataset = tf.data.Dataset.from_tensor_slices(
    (list(df_val["file_name"]), list(df_val["normalized_transcription"]))
)
validation_dataset = (
    validation_dataset.map(encode_single_sample, num_parallel_calls=tf.data.AUTOTUNE)
    .padded_batch(batch_size)
    .prefetch(buffer_size=tf.data.AUTOTUNE)
)

for batch in train_dataset.take(1):
    spectrogram = batch[0][0].numpy()
    spectrogram = np.array([np.trim_zeros(x) for x in np.transpose(spectrogram)], dtype=object)
    label = batch[1][0]
    # Spectrogram
    label = tf.strings.reduce_join(num_to_char(label)).numpy().decode("utf-8")
    print("first label:", label)
    assert batch[0].shape[-1] == fft_length // 2 + 1 and len(batch[1].shape) == 2
    assert label.rstrip() in metadata_df["normalized_transcription"][0].lower() or len(label) >= 2


def CTCLoss(y_true, y_pred):
    # Compute the training-time loss value
    batch_len = tf.cast(tf.shape(y_true)[0], dtype="int64")
    input_length = tf.cast(tf.shape(y_pred)[1], dtype="int64")
    label_length = tf.cast(tf.shape(y_true)[1], dtype="int64")

    input_length = input_length * tf.ones(shape=(batch_len, 1), dtype="int64")
    label_length = label_length * tf.ones(shape=(batch_len, 1), dtype="int64")

    loss = keras.backend.ctc_batch_cost(y_true, y_pred, input_length, label_length)
    return loss


def build_model(input_dim, output_dim, rnn_layers=5, rnn_units=128):
    """Model similar to DeepSpeech2."""
    # Model's input
    input_spectrogram = layers.Input((None, input_dim), name="input")
    # Expand the dimension to use 2D CNN.
    x = layers.Reshape((-1, input_dim, 1), name="expand_dim")(input_spectrogram)
    # Convolution layer 1
    x = layers.Conv2D(
        filters=8,
        kernel_size=[11, 41],
        strides=[2, 2],
        padding="same",
        use_bias=False,
        name="conv_1",
    )(x)
    x = layers.BatchNormalization(name="conv_1_bn")(x)
    x = layers.ReLU(name="conv_1_relu")(x)
    # Convolution layer 2
    x = layers.Conv2D(
        filters=8,
        kernel_size=[11, 21],
        strides=[1, 2],
        padding="same",
        use_bias=False,
        name="conv_2",
    )(x)
    x = layers.BatchNormalization(name="conv_2_bn")(x)
    x = layers.ReLU(name="conv_2_relu")(x)
    # Reshape the resulted volume to feed the RNNs layers
    x = layers.Reshape((-1, x.shape[-2] * x.shape[-1]))(x)
    # RNN layers
    for i in range(1, rnn_layers + 1):
        recurrent = layers.GRU(
            units=rnn_units,
            activation="tanh",
            recurrent_activation="sigmoid",
            use_bias=True,
            return_sequences=True,
            reset_after=True,
            name=f"gru_{i}",
        )
        x = layers.Bidirectional(
            recurrent, name=f"bidirectional_{i}", merge_mode="concat"
        )(x)
        if i < rnn_layers:
            x = layers.Dropout(rate=0.5)(x)
    # Dense layer
    x = layers.Dense(units=rnn_units * 2, name="dense_1")(x)
    x = layers.ReLU(name="dense_1_relu")(x)
    x = layers.Dropout(rate=0.5)(x)
    # Classification layer
    output = layers.Dense(units=output_dim + 1, activation="softmax")(x)
    # Model
    model = keras.Model(input_spectrogram, output, name="DeepSpeech_2")
    # Optimizer
    opt = keras.optimizers.Adam(learning_rate=3e-3)
    # Compile the model and return
    model.compile(optimizer=opt, loss=CTCLoss)
    return model


# Get the model
model = build_model(
    input_dim=fft_length // 2 + 1,
    output_dim=char_to_num.vocabulary_size(),
    rnn_layers=1,
    rnn_units=48,
)
model.summary(line_length=110)


# A utility function to decode the output of the network
def decode_batch_predictions(pred):
    input_len = np.ones(pred.shape[0]) * pred.shape[1]
    # Use greedy search. For complex tasks, you can use beam search
    results = keras.backend.ctc_decode(pred, input_length=input_len, greedy=True)[0][0]
    # Iterate over the results and get back the text
    output_text = []
    for result in results:
        result = tf.strings.reduce_join(num_to_char(result)).numpy().decode("utf-8")
        output_text.append(result)
    return output_text


wer_scores = []


# A callback class to output a few transcriptions during training
class CallbackEval(keras.callbacks.Callback):
    """Displays a batch of outputs after every epoch."""

    def __init__(self, dataset):
        super().__init__()
        self.dataset = dataset

    def on_epoch_end(self, epoch: int, logs=None):
        predictions = []
        targets = []
        for batch in self.dataset:
            X, y = batch
            batch_predictions = model.predict(X)
            batch_predictions = decode_batch_predictions(batch_predictions)
            predictions.extend(batch_predictions)
            for label in y:
                label = (
                    tf.strings.reduce_join(num_to_char(label)).numpy().decode("utf-8")
                )
                targets.append(label)
        wer_score = wer(targets, predictions)
        wer_scores.append(wer_score)
        print("-" * 100)
        print(f"Word Error Rate: {wer_score:.4f}")
        print("-" * 100)
        for i in np.random.randint(0, len(predictions), 2):
            print(f"Target    : {targets[i]}")
            print(f"Prediction: {predictions[i]}")
            print("-" * 100)


# Define the number of epochs.
epochs = 8
# Callback function to check transcription on the val set.
validation_callback = CallbackEval(validation_dataset)
# Train the model
history = model.fit(
    train_dataset,
    validation_data=validation_dataset,
    epochs=epochs,
    callbacks=[validation_callback],
)

# Let's check results on more validation samples
predictions = []
targets = []
for batch in validation_dataset:
    X, y = batch
    batch_predictions = model.predict(X)
    batch_predictions = decode_batch_predictions(batch_predictions)
    predictions.extend(batch_predictions)
    for label in y:
        label = tf.strings.reduce_join(num_to_char(label)).numpy().decode("utf-8")
        targets.append(label)
wer_score = wer(targets, predictions)
print("-" * 100)
print(f"Word Error Rate: {wer_score:.4f}")
print("-" * 100)
for i in np.random.randint(0, len(predictions), 5):
    print(f"Target    : {targets[i]}")
    print(f"Prediction: {predictions[i]}")
    print("-" * 100)

# --- checks -------------------------------------------------------------------------------
loss = history.history["loss"]
print("loss", [round(v, 2) for v in loss], "val_loss", [round(v, 2) for v in history.history["val_loss"]])
assert len(wer_scores) == epochs and len(targets) == len(df_val["file_name"])
assert all(set(t) <= set(LETTERS) for t in targets), targets   # padded_batch pads with index 0 = ""
assert loss[-1] < 0.6 * loss[0], loss
assert history.history["val_loss"][-1] < history.history["val_loss"][0]
assert wer_score <= 1.0
