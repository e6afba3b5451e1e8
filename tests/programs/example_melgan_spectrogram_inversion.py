"""keras.io example "MelGAN-based spectrogram inversion using feature matching"
(examples/audio/melgan_spectrogram_inversion, Darshan Deshpande; the Keras 3 version of
2026/04/17), imports changed: a `MelSpec` layer (`tf.signal.stft` / `linear_to_mel_weight_matrix`
/ `ops.amax` in a call whose `training=True` default Keras 3 passes when the model is built and
called without a flag), a `WeightNormalization` wrapper that builds the layer it wraps and
convolves its kernel, scaled by a weight-norm gain, with `tf.nn.conv1d` (also the kernels of
`Conv1DTranspose` and of grouped `Conv1D`s: TensorFlow then runs a grouped convolution, so the
"upsampling" blocks downsample, the generator's runtime shapes differ from its symbolic ones, and
feature maps of different lengths meet in the feature-matching MAE, which broadcasts them and is
differentiated w.r.t. both arguments), a three-scale discriminator returning nested lists of
feature maps, a MelGAN model with its own compile and a train_step of two tapes in one `with`,
Adam with `clipnorm`, `Dataset.from_generator` with an `output_signature`, and `predict` of
spectrograms of shape (50, 80) by the generator built on audio of shape (None, 1) (Keras 3's
input check drops an Input's last axis of 1).
LJSpeech (a tar download read with soundfile) becomes 24 synthetic voiced clips (harmonics of a
gliding pitch under a syllable envelope) held in memory, with `glob.glob` and `sf.read` stand-ins;
the sizes are cut (2048 samples a clip, batches of 4, the widths 512 ... 32 of the generator and
1024 / 256 of the discriminator to 64 ... 4 and 64, keeping 4 channels a group), and the
example's comments are shortened. The final checks compare the shapes with what Keras 3.15 on
TensorFlow 2.21 gives for this program (whose fit itself fails on TensorFlow's CPU kernels: the
filter gradient of a grouped convolution is not implemented there)."""
import glob

import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers
from corenn.keras import ops

keras.utils.set_random_seed(0)

# Defining hyperparameters

DESIRED_SAMPLES = 2048  # the example: 8192
LEARNING_RATE_GEN = 1e-5
LEARNING_RATE_DISC = 1e-6
BATCH_SIZE = 4  # the example: 16

mse = keras.losses.MeanSquaredError()
mae = keras.losses.MeanAbsoluteError()

# LJSpeech (a download of 13,100 WAV files read with soundfile) becomes 24 synthetic "utterances":
# voiced harmonic tones with a gliding pitch under a syllable-rate envelope, held in memory
_RNG = np.random.default_rng(0)
_CLIPS = {}
for _i in range(24):
    _t = np.arange(int(_RNG.integers(1500, 3000))) / 22050.0
    _f0 = _RNG.uniform(90, 220) * (1 + 0.1 * np.sin(2 * np.pi * 3 * _t))
    _phase = 2 * np.pi * np.cumsum(_f0) / 22050.0
    _wave = sum(np.sin(k * _phase) / k for k in range(1, 6)) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * _t) ** 2)
    _CLIPS[f"LJSpeech-1.1/wavs/LJ{_i:03d}.wav"] = 0.3 * _wave


class sf:  # soundfile.read(filename) -> (data, samplerate)
    @staticmethod
    def read(filename):
        return _CLIPS[filename].copy(), 22050


def _glob(pattern):
    return sorted(_CLIPS) if pattern == "LJSpeech-1.1/wavs/*.wav" else []


glob.glob = _glob

# Splitting the dataset into training and testing splits
wavs = glob.glob("LJSpeech-1.1/wavs/*.wav")
print(f"Number of audio files: {len(wavs)}")


# Mapper function for loading the audio. This function returns two instances of the wave
def preprocess(filename):
    audio, sr = sf.read(filename)

    # Ensure mono
    if len(audio.shape) > 1:
        audio = audio[:, 0]

    audio = audio[:DESIRED_SAMPLES]

    # Pad if needed
    if len(audio) < DESIRED_SAMPLES:
        pad = DESIRED_SAMPLES - len(audio)
        audio = np.pad(audio, (0, pad))

    audio = np.expand_dims(audio, axis=-1).astype("float32")
    return audio, audio


# Create dataset
def data_generator():
    for f in wavs:
        yield preprocess(f)


train_dataset = tf.data.Dataset.from_generator(
    data_generator,
    output_signature=(
        tf.TensorSpec(shape=(DESIRED_SAMPLES, 1), dtype=tf.float32),
        tf.TensorSpec(shape=(DESIRED_SAMPLES, 1), dtype=tf.float32),
    ),
)

train_dataset = (
    train_dataset.shuffle(200).batch(BATCH_SIZE).repeat().prefetch(tf.data.AUTOTUNE)
)


class MelSpec(layers.Layer):
    def __init__(
        self,
        frame_length=1024,
        frame_step=256,
        fft_length=None,
        sampling_rate=22050,
        num_mel_channels=80,
        freq_min=125,
        freq_max=7600,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.frame_length = frame_length
        self.frame_step = frame_step
        self.fft_length = fft_length
        self.sampling_rate = sampling_rate
        self.num_mel_channels = num_mel_channels
        self.freq_min = freq_min
        self.freq_max = freq_max
        # Defining mel filter. This filter will be multiplied with the STFT
        self.mel_filterbank = tf.signal.linear_to_mel_weight_matrix(
            num_mel_bins=self.num_mel_channels,
            num_spectrogram_bins=self.frame_length // 2 + 1,
            sample_rate=self.sampling_rate,
            lower_edge_hertz=self.freq_min,
            upper_edge_hertz=self.freq_max,
        )

    def call(self, audio, training=True):
        # We will only perform the transformation during training.
        if training:
            stft = tf.signal.stft(
                ops.squeeze(audio, -1),
                self.frame_length,
                self.frame_step,
                self.fft_length,
                pad_end=True,
            )

            # Taking the magnitude of the STFT output
            magnitude = ops.abs(stft)

            # Multiplying the Mel-filterbank with the magnitude and scaling it using the db scale
            mel = ops.matmul(ops.square(magnitude), self.mel_filterbank)
            log_mel_spec = 10.0 * ops.log(ops.maximum(mel, 1e-6)) / ops.log(10.0)
            log_mel_spec = 10.0 * ops.log(ops.maximum(mel, 1e-6)) / ops.log(10.0)
            log_mel_spec = ops.maximum(log_mel_spec, ops.amax(log_mel_spec) - 80.0)

            return log_mel_spec

        else:
            return audio

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "frame_length": self.frame_length,
                "frame_step": self.frame_step,
                "fft_length": self.fft_length,
                "sampling_rate": self.sampling_rate,
                "num_mel_channels": self.num_mel_channels,
                "freq_min": self.freq_min,
                "freq_max": self.freq_max,
            }
        )
        return config


class WeightNormalization(layers.Layer):
    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape):
        self.layer.build(input_shape)

        self.v = self.layer.kernel  # frozen reference
        self.g = self.add_weight(
            name="wn_scale",
            shape=(self.v.shape[-1],),
            initializer="ones",
            trainable=True,
        )

        super().build(input_shape)

    def call(self, inputs):
        kernel = self.layer.kernel

        norm_axes = tuple(range(len(kernel.shape) - 1))
        norm = ops.sqrt(ops.sum(ops.square(kernel), axis=norm_axes, keepdims=True))

        w = kernel * (self.g / (norm + 1e-6))

        return tf.nn.conv1d(
            inputs,
            w,
            stride=self.layer.strides[0],
            padding=self.layer.padding.upper(),
            dilations=self.layer.dilation_rate,
        )

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)


def residual_stack(input, filters):
    input_proj = WeightNormalization(
        layers.Conv1D(
            filters, 1, padding="same", use_bias=False, kernel_initializer="he_normal"
        )
    )(input)

    c1 = WeightNormalization(
        layers.Conv1D(
            filters,
            kernel_size=3,
            dilation_rate=1,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
        )
    )(input)

    lrelu1 = layers.LeakyReLU()(c1)

    c2 = WeightNormalization(
        layers.Conv1D(
            filters,
            kernel_size=3,
            dilation_rate=1,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
        )
    )(lrelu1)

    add1 = layers.Add()([c2, input_proj])
    lrelu2 = layers.LeakyReLU()(add1)

    c3 = WeightNormalization(
        layers.Conv1D(
            filters,
            kernel_size=3,
            dilation_rate=1,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
        )
    )(lrelu2)

    lrelu3 = layers.LeakyReLU()(c3)

    c4 = WeightNormalization(
        layers.Conv1D(
            filters,
            kernel_size=3,
            dilation_rate=1,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
        )
    )(lrelu3)

    add2 = layers.Add()([c4, add1])
    lrelu4 = layers.LeakyReLU()(add2)

    c5 = WeightNormalization(
        layers.Conv1D(
            filters,
            kernel_size=3,
            dilation_rate=1,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
        )
    )(lrelu4)

    lrelu5 = layers.LeakyReLU()(c5)

    c6 = WeightNormalization(
        layers.Conv1D(
            filters,
            kernel_size=3,
            dilation_rate=1,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
        )
    )(lrelu5)

    add3 = layers.Add()([c6, add2])

    return add3


def conv_block(input, conv_dim, upsampling_factor):
    conv_t = WeightNormalization(
        layers.Conv1DTranspose(
            filters=conv_dim,
            kernel_size=16,
            strides=upsampling_factor,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
        )
    )(input)

    lrelu1 = layers.LeakyReLU()(conv_t)
    res_stack = residual_stack(lrelu1, conv_dim)
    lrelu2 = layers.LeakyReLU()(res_stack)

    return lrelu2


# the example's widths 1024 / 256 become 64 (the groups keep 4 channels a group)
def discriminator_block(input):

    conv1 = WeightNormalization(
        layers.Conv1D(16, 15, 1, "same", use_bias=False, kernel_initializer="he_normal")
    )(input)

    lrelu1 = layers.LeakyReLU()(conv1)

    conv2 = WeightNormalization(
        layers.Conv1D(
            64, 41, 4, "same", groups=4, use_bias=False, kernel_initializer="he_normal"
        )
    )(lrelu1)

    lrelu2 = layers.LeakyReLU()(conv2)

    conv3 = WeightNormalization(
        layers.Conv1D(
            64,
            41,
            4,
            "same",
            groups=16,
            use_bias=False,
            kernel_initializer="he_normal",
        )
    )(lrelu2)

    lrelu3 = layers.LeakyReLU()(conv3)

    conv4 = WeightNormalization(
        layers.Conv1D(
            64,
            41,
            4,
            "same",
            groups=16,
            use_bias=False,
            kernel_initializer="he_normal",
        )
    )(lrelu3)

    lrelu4 = layers.LeakyReLU()(conv4)

    conv5 = WeightNormalization(
        layers.Conv1D(
            64,
            41,
            4,
            "same",
            groups=16,
            use_bias=False,
            kernel_initializer="he_normal",
        )
    )(lrelu4)

    lrelu5 = layers.LeakyReLU()(conv5)

    conv6 = WeightNormalization(
        layers.Conv1D(
            64, 5, 1, "same", use_bias=False, kernel_initializer="he_normal"
        )
    )(lrelu5)

    lrelu6 = layers.LeakyReLU()(conv6)

    conv7 = WeightNormalization(
        layers.Conv1D(1, 3, 1, "same", use_bias=False, kernel_initializer="he_normal")
    )(lrelu6)

    return [lrelu1, lrelu2, lrelu3, lrelu4, lrelu5, lrelu6, conv7]


# the example's widths 512, 256, 128, 64, 32 become 64, 32, 16, 8, 4
def create_generator(input_shape):
    inp = keras.Input(input_shape)
    x = MelSpec()(inp)
    x = layers.Conv1D(
        64,
        7,
        padding="same",
    )(x)
    x = layers.LeakyReLU()(x)
    x = conv_block(x, 32, 8)
    x = conv_block(x, 16, 8)
    x = conv_block(x, 8, 2)
    x = conv_block(x, 4, 2)
    x = WeightNormalization(
        layers.Conv1D(1, 7, padding="same", activation="tanh", use_bias=False)
    )(x)
    return keras.Model(inp, x)


# We use a dynamic input shape for the generator since the model is fully convolutional
generator = create_generator((None, 1))
generator.summary()


def create_discriminator(input_shape):
    inp = keras.Input(input_shape)
    out_map1 = discriminator_block(inp)
    pool1 = layers.AveragePooling1D(pool_size=4, padding="same")(inp)
    out_map2 = discriminator_block(pool1)

    pool2 = layers.AveragePooling1D(pool_size=2, padding="same")(pool1)
    out_map3 = discriminator_block(pool2)
    return keras.Model(inp, [out_map1, out_map2, out_map3])


discriminator = create_discriminator((None, 1))

discriminator.summary()


def generator_loss(real_pred, fake_pred):
    gen_loss = []
    for i in range(len(fake_pred)):
        gen_loss.append(mse(ops.ones_like(fake_pred[i][-1]), fake_pred[i][-1]))
    return ops.mean(ops.stack(gen_loss))


def feature_matching_loss(real_pred, fake_pred):
    fm_loss = []
    for i in range(len(fake_pred)):
        for j in range(len(fake_pred[i]) - 1):
            fm_loss.append(mae(real_pred[i][j], fake_pred[i][j]))
    return ops.mean(ops.stack(fm_loss))


def discriminator_loss(real_pred, fake_pred):
    real_loss, fake_loss = [], []
    for i in range(len(real_pred)):
        real_loss.append(mse(ops.ones_like(real_pred[i][-1]), real_pred[i][-1]))
        fake_loss.append(mse(ops.zeros_like(fake_pred[i][-1]), fake_pred[i][-1]))

    # Calculating the final discriminator loss after scaling
    disc_loss = ops.mean(ops.stack(real_loss)) + ops.mean(ops.stack(fake_loss))
    return disc_loss


class MelGAN(keras.Model):
    def __init__(self, generator, discriminator, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator

    def compile(
        self,
        gen_optimizer,
        disc_optimizer,
        generator_loss,
        feature_matching_loss,
        discriminator_loss,
    ):
        super().compile()

        # Optimizers
        self.gen_optimizer = gen_optimizer
        self.disc_optimizer = disc_optimizer

        # Losses
        self.generator_loss = generator_loss
        self.feature_matching_loss = feature_matching_loss
        self.discriminator_loss = discriminator_loss

        # Trackers
        self.gen_loss_tracker = keras.metrics.Mean(name="gen_loss")
        self.disc_loss_tracker = keras.metrics.Mean(name="disc_loss")

    def train_step(self, batch):
        x_batch_train, y_batch_train = batch

        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            # Generating the audio wave
            gen_audio_wave = generator(x_batch_train, training=True)

            # Generating the features using the discriminator
            real_pred = discriminator(y_batch_train)
            fake_pred = discriminator(gen_audio_wave)

            # Calculating the generator losses
            gen_loss = generator_loss(real_pred, fake_pred)
            fm_loss = feature_matching_loss(real_pred, fake_pred)

            # Calculating final generator loss
            gen_fm_loss = gen_loss + 10 * fm_loss

            # Calculating the discriminator losses
            disc_loss = discriminator_loss(real_pred, fake_pred)

        # Calculating and applying the gradients for generator and discriminator
        grads_gen = gen_tape.gradient(gen_fm_loss, self.generator.trainable_weights)
        grads_disc = disc_tape.gradient(disc_loss, self.discriminator.trainable_weights)
        self.gen_optimizer.apply_gradients(
            zip(grads_gen, self.generator.trainable_weights)
        )
        self.disc_optimizer.apply_gradients(
            zip(grads_disc, self.discriminator.trainable_weights)
        )

        self.gen_loss_tracker.update_state(gen_fm_loss)
        self.disc_loss_tracker.update_state(disc_loss)

        return {
            "gen_loss": self.gen_loss_tracker.result(),
            "disc_loss": self.disc_loss_tracker.result(),
        }


gen_optimizer = keras.optimizers.Adam(
    LEARNING_RATE_GEN, beta_1=0.5, beta_2=0.9, clipnorm=1
)
disc_optimizer = keras.optimizers.Adam(
    LEARNING_RATE_DISC, beta_1=0.5, beta_2=0.9, clipnorm=1
)
steps_per_epoch = len(wavs) // BATCH_SIZE

# Start training
generator = create_generator((None, 1))
discriminator = create_discriminator((None, 1))
before_gen = [w.copy() for w in generator.get_weights()]
before_disc = [w.copy() for w in discriminator.get_weights()]

mel_gan = MelGAN(generator, discriminator)
mel_gan.compile(
    gen_optimizer,
    disc_optimizer,
    generator_loss,
    feature_matching_loss,
    discriminator_loss,
)
history = mel_gan.fit(
    train_dataset,
    epochs=1,
    steps_per_epoch=steps_per_epoch,
    verbose=0,
)

# Sampling a random tensor to mimic a batch of 128 spectrograms of shape [50, 80]
audio_sample = keras.random.uniform(shape=(128, 50, 80))

pred = generator.predict(audio_sample, batch_size=32, verbose=0)

# ---- checks (not in the example) -------------------------------------------------------------
hist = history.history
assert np.isfinite(hist["gen_loss"][-1]) and np.isfinite(hist["disc_loss"][-1]), hist
# every weight of both models took its optimizer's steps
moved_gen = [not np.array_equal(a, b) for a, b in zip(before_gen, generator.get_weights())]
moved_disc = [not np.array_equal(a, b) for a, b in zip(before_disc, discriminator.get_weights())]
assert len(moved_gen) == 68 and all(moved_gen), moved_gen.count(True)
assert len(moved_disc) == 42 and all(moved_disc), moved_disc.count(True)
# the shapes Keras 3.15 on TensorFlow gives: tf.nn.conv1d convolves each Conv1DTranspose kernel
# (16, filters, 2 * filters) as a grouped, strided convolution, so 8 frames shrink to 1
assert pred.shape == (128, 1, 1) and np.isfinite(pred).all(), pred.shape
clips = np.stack([preprocess(f)[0] for f in wavs[:2]])
assert tuple(generator(clips, training=True).shape) == (2, 1, 1)
maps = discriminator(clips)
assert [[tuple(t.shape) for t in scale] for scale in maps] == [
    [(2, 2048, 16), (2, 512, 64), (2, 128, 64), (2, 32, 64), (2, 8, 64), (2, 8, 64), (2, 8, 1)],
    [(2, 512, 16), (2, 128, 64), (2, 32, 64), (2, 8, 64), (2, 2, 64), (2, 2, 64), (2, 2, 1)],
    [(2, 256, 16), (2, 64, 64), (2, 16, 64), (2, 4, 64), (2, 1, 64), (2, 1, 64), (2, 1, 1)]]
# the discriminator's output is nested as it was built: three scales of seven maps
assert [len(scale) for scale in discriminator.output] == [7, 7, 7]
# MelSpec in training mode: 80 mel bands of 8 frames in decibels, at most 80 dB below the peak
mel = MelSpec()(clips)
assert tuple(mel.shape) == (2, 8, 80)
mel = np.asarray(mel)
assert mel.max() - mel.min() <= 80.0 + 1e-3 and np.isfinite(mel).all()
