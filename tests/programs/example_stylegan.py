"""keras.io example "Face image generation with StyleGAN" (examples/generative/stylegan, Soon-Yau
Cheong; the Keras 3 version of 2026/03/06), imports changed: the custom layers written with
keras.ops (MinibatchStd: `ops.minimum` of the group size and the batch, `ops.reshape` / `ops.var`
/ `ops.tile` by those values; EqualizedConv: `ops.pad(mode="reflect")` and `ops.conv` of a scaled
kernel; EqualizedDense; AddNoise built from a list of shapes; AdaIN making its EqualizedDense
sublayers in `build`), functional block models reused by every grown generator / discriminator
(`w[:, i]` and `alpha[0]` slices of Inputs, `fade_in` arithmetic on KerasTensors, `ops.tile` /
`ops.expand_dims` in the mapping network, `Sequential([InputLayer(input_shape=...), ...])`,
`GroupNormalization(groups=-1)`), and a StyleGAN model with its own `compile(steps_per_epoch,
phase, res, d_optimizer, g_optimizer, *args, **kwargs)`, a `metrics` property, integer and float
`keras.Variable`s (`train_step_counter / steps_per_epoch` cast into `alpha`), a WGAN-GP critic
step (an inner tape's input gradient whose norm penalty the outer tape differentiates into the
critic's weights, `ops.sum` over `axis=ops.arange(1, ops.size(ops.shape(x)))`), a generator step,
progressive growing 4x4 -> 8x8 -> 16x16 in TRANSITION / STABLE phases fitted on an infinite
NumPy generator of `(batch,)` tuples, `.weights.h5` checkpoints, and a `call` taking a dict that
returns uint8 images as a NumPy array.
CelebA (a Google Drive zip read with PIL) becomes synthetic 16x16 "faces" (a bright disc with
two dark eyes on a coloured background) downsampled by block averaging; the sizes are cut (the
filter counts and the 512-wide style code become 32, batches of 16 / 8, 8 steps a phase, target
16x16 instead of 64x64) and plotting is dropped. `keras.backend.backend()` is "corenn", whose
tape is TensorFlow's, so the example's TensorFlow branch is taken for it (`backend in
("tensorflow", "corenn")`, `import corenn as tf`). `layers.Input(shape=Z_DIM)` with a bare int is
TF-Keras 2 spelling that Keras 3 refuses and corenn takes, as the example writes it."""
import os
import pathlib
import numpy as np

from functools import partial

from corenn import keras
from corenn.keras import layers
from corenn.keras.models import Sequential

keras.utils.set_random_seed(0)
Z_DIM = 32  # the example: 512

"""
## Prepare the dataset
"""


def log2(x):
    return int(np.log2(x))


# we use different batch size for different resolution, so larger image size
# could fit into GPU memory. The keys is image resolution in log2
batch_sizes = {2: 16, 3: 16, 4: 8}  # the example: {2: 128, ..., 10: 2}
# We adjust the train step accordingly
train_step_ratio = {k: batch_sizes[2] / v for k, v in batch_sizes.items()}

os.makedirs("celeba_gan")

_rng = np.random.default_rng(0)


def _synthetic_face(size=16):
    """a stand-in for one CelebA image, in [-1, 1]: a disc with two eyes on a background"""
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    img = np.empty((size, size, 3), np.float32)
    img[...] = _rng.uniform(-1, 0, size=3)                       # background colour
    cy, cx = 0.5 + _rng.normal(0, 0.03, 2)
    r = 0.33
    face = (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2
    img[face] = np.array([0.8, 0.5, 0.3]) + _rng.normal(0, 0.05, 3)
    for ex in (cx - 0.13, cx + 0.13):
        img[(yy - cy + 0.08) ** 2 + (xx - ex) ** 2 < 0.06 ** 2] = -0.8
    return img


FACES = np.stack([_synthetic_face() for _ in range(256)])


def create_dataloader(res):
    """Return an infinite numpy-array generator of CelebA images resized to `res x res`."""
    batch_size = batch_sizes[log2(res)]
    factor = FACES.shape[1] // res

    def preprocess(i):
        # the stand-in for PIL's resize: block averages of the 16x16 image
        img = FACES[i].reshape(res, factor, res, factor, 3).mean(axis=(1, 3))
        return img.astype(np.float32)

    rng = np.random.default_rng()

    def infinite_generator():
        while True:
            idxs = rng.permutation(len(FACES))
            for start in range(0, len(idxs) - batch_size + 1, batch_size):
                batch = np.stack([preprocess(i) for i in idxs[start : start + batch_size]])
                yield (batch,)

    return infinite_generator()


PLOTTED = []


def plot_images(images, log2_res, fname=""):
    # plotting dropped: keep what would have been shown
    PLOTTED.append((log2_res, images))


"""
## Custom Layers
"""


def fade_in(alpha, a, b):
    return alpha * a + (1.0 - alpha) * b


def wasserstein_loss(y_true, y_pred):
    return -keras.ops.mean(y_true * y_pred)


def pixel_norm(x, epsilon=1e-8):
    return x / keras.ops.sqrt(keras.ops.mean(x**2, axis=-1, keepdims=True) + epsilon)


class MinibatchStd(layers.Layer):
    def __init__(self, group_size=4, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.group_size = group_size
        self.epsilon = epsilon

    def call(self, input_tensor):
        shape = keras.ops.shape(input_tensor)
        n, h, w, c = shape[0], shape[1], shape[2], shape[3]
        group_size = keras.ops.minimum(self.group_size, n)
        x = keras.ops.reshape(input_tensor, (group_size, -1, h, w, c))
        group_mean = keras.ops.mean(x, axis=0, keepdims=False)
        group_var = keras.ops.var(x, axis=0, keepdims=False)
        group_std = keras.ops.sqrt(group_var + self.epsilon)
        avg_std = keras.ops.mean(group_std, axis=[1, 2, 3], keepdims=True)
        x_std = keras.ops.tile(avg_std, (group_size, h, w, 1))
        return keras.ops.concatenate([input_tensor, x_std], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape[:-1] + (input_shape[-1] + 1,)


class EqualizedConv(layers.Layer):
    def __init__(self, out_channels, kernel=3, gain=2, **kwargs):
        super().__init__(**kwargs)
        self.kernel = kernel
        self.out_channels = out_channels
        self.gain = gain
        self.pad = kernel != 1

    def build(self, input_shape):
        self.in_channels = input_shape[-1]
        initializer = keras.initializers.RandomNormal(mean=0.0, stddev=1.0)
        self.w = self.add_weight(
            shape=[self.kernel, self.kernel, self.in_channels, self.out_channels],
            initializer=initializer,
            trainable=True,
            name="kernel",
        )
        self.b = self.add_weight(
            shape=(self.out_channels,), initializer="zeros", trainable=True, name="bias"
        )
        fan_in = self.kernel * self.kernel * self.in_channels
        self.scale = float(np.sqrt(self.gain / fan_in))

    def call(self, inputs):
        if self.pad:
            x = keras.ops.pad(inputs, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect")
        else:
            x = inputs
        output = (
            keras.ops.conv(x, self.scale * self.w, strides=1, padding="valid") + self.b
        )
        return output

    def compute_output_shape(self, input_shape):
        return input_shape[:-1] + (self.out_channels,)


class EqualizedDense(layers.Layer):
    def __init__(self, units, gain=2, learning_rate_multiplier=1, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.gain = gain
        self.learning_rate_multiplier = learning_rate_multiplier

    def build(self, input_shape):
        self.in_channels = input_shape[-1]
        initializer = keras.initializers.RandomNormal(
            mean=0.0, stddev=1.0 / self.learning_rate_multiplier
        )
        self.w = self.add_weight(
            shape=[self.in_channels, self.units],
            initializer=initializer,
            trainable=True,
            name="kernel",
        )
        self.b = self.add_weight(
            shape=(self.units,), initializer="zeros", trainable=True, name="bias"
        )
        fan_in = self.in_channels
        self.scale = float(np.sqrt(self.gain / fan_in))

    def call(self, inputs):
        output = keras.ops.add(keras.ops.matmul(inputs, self.scale * self.w), self.b)
        return output * self.learning_rate_multiplier


class AddNoise(layers.Layer):
    def build(self, input_shape):
        n, h, w, c = input_shape[0]
        initializer = keras.initializers.RandomNormal(mean=0.0, stddev=1.0)
        self.b = self.add_weight(
            shape=[1, 1, 1, c], initializer=initializer, trainable=True, name="kernel"
        )

    def call(self, inputs):
        x, noise = inputs
        output = x + self.b * noise
        return output


class AdaIN(layers.Layer):
    def __init__(self, gain=1, **kwargs):
        super().__init__(**kwargs)
        self.gain = gain
        self.dense_1 = None
        self.dense_2 = None

    def build(self, input_shapes):
        x_shape = input_shapes[0]
        w_shape = input_shapes[1]
        self.w_channels = w_shape[-1]
        self.x_channels = x_shape[-1]
        if self.dense_1 is None:
            self.dense_1 = EqualizedDense(self.x_channels, gain=1)
            self.dense_2 = EqualizedDense(self.x_channels, gain=1)

    def call(self, inputs):
        x, w = inputs
        ys = keras.ops.reshape(self.dense_1(w), (-1, 1, 1, self.x_channels))
        yb = keras.ops.reshape(self.dense_2(w), (-1, 1, 1, self.x_channels))
        return ys * x + yb


"""
Next we build the mapping network, the generator and the discriminator.
"""


def Mapping(num_stages, input_shape=Z_DIM):
    z = layers.Input(shape=(input_shape,))
    w = pixel_norm(z)
    for i in range(8):
        w = EqualizedDense(Z_DIM, learning_rate_multiplier=0.01)(w)
        w = layers.LeakyReLU(0.2)(w)
    w = keras.ops.tile(keras.ops.expand_dims(w, 1), (1, num_stages, 1))
    return keras.Model(z, w, name="mapping")


FILTER_NUMS = {0: 32, 1: 32, 2: 32, 3: 32, 4: 16}  # the example: 512 ... 16 up to 1024x1024


class Generator:
    def __init__(self, start_res_log2, target_res_log2):
        self.start_res_log2 = start_res_log2
        self.target_res_log2 = target_res_log2
        self.num_stages = target_res_log2 - start_res_log2 + 1
        # list of generator blocks at increasing resolution
        self.g_blocks = []
        # list of layers to convert g_block activation to RGB
        self.to_rgb = []
        # list of noise input of different resolutions into g_blocks
        self.noise_inputs = []
        # filter size to use at each stage, keys are log2(resolution)
        self.filter_nums = FILTER_NUMS

        start_res = 2**start_res_log2
        self.input_shape = (start_res, start_res, self.filter_nums[start_res_log2])
        self.g_input = layers.Input(self.input_shape, name="generator_input")

        for i in range(start_res_log2, target_res_log2 + 1):
            filter_num = self.filter_nums[i]
            res = 2**i
            self.noise_inputs.append(
                layers.Input(shape=(res, res, 1), name=f"noise_{res}x{res}")
            )
            to_rgb = Sequential(
                [
                    layers.InputLayer(input_shape=(res, res, filter_num)),
                    EqualizedConv(3, 1, gain=1),
                    layers.Activation(
                        "tanh"
                    ),  # Constrain output to [-1, 1] to match real images
                ],
                name=f"to_rgb_{res}x{res}",
            )
            self.to_rgb.append(to_rgb)
            is_base = i == self.start_res_log2
            if is_base:
                input_shape = (res, res, self.filter_nums[i - 1])
            else:
                input_shape = (2 ** (i - 1), 2 ** (i - 1), self.filter_nums[i - 1])
            g_block = self.build_block(
                filter_num, res=res, input_shape=input_shape, is_base=is_base
            )
            self.g_blocks.append(g_block)

    def build_block(self, filter_num, res, input_shape, is_base):
        input_tensor = layers.Input(shape=input_shape, name=f"g_{res}")
        noise = layers.Input(shape=(res, res, 1), name=f"noise_{res}")
        w = layers.Input(shape=Z_DIM)
        x = input_tensor

        if not is_base:
            x = layers.UpSampling2D((2, 2))(x)
            x = EqualizedConv(filter_num, 3)(x)

        x = AddNoise()([x, noise])
        x = layers.LeakyReLU(0.2)(x)
        x = layers.GroupNormalization(groups=-1)(x)
        x = AdaIN()([x, w])

        x = EqualizedConv(filter_num, 3)(x)
        x = AddNoise()([x, noise])
        x = layers.LeakyReLU(0.2)(x)
        x = layers.GroupNormalization(groups=-1)(x)
        x = AdaIN()([x, w])
        return keras.Model([input_tensor, w, noise], x, name=f"genblock_{res}x{res}")

    def grow(self, res_log2):
        res = 2**res_log2

        num_stages = res_log2 - self.start_res_log2 + 1
        w = layers.Input(shape=(self.num_stages, Z_DIM), name="w")

        alpha = layers.Input(shape=(1,), name="g_alpha")
        x = self.g_blocks[0]([self.g_input, w[:, 0], self.noise_inputs[0]])

        if num_stages == 1:
            new_rgb = self.to_rgb[0](x)
            rgb = fade_in(alpha[0], new_rgb, new_rgb)
        else:
            for i in range(1, num_stages - 1):

                x = self.g_blocks[i]([x, w[:, i], self.noise_inputs[i]])

            old_rgb = self.to_rgb[num_stages - 2](x)
            old_rgb = layers.UpSampling2D((2, 2))(old_rgb)

            i = num_stages - 1
            x = self.g_blocks[i]([x, w[:, i], self.noise_inputs[i]])

            new_rgb = self.to_rgb[i](x)

            rgb = fade_in(alpha[0], new_rgb, old_rgb)

        return keras.Model(
            [self.g_input, w] + self.noise_inputs[:num_stages] + [alpha],
            rgb,
            name=f"generator_{res}_x_{res}",
        )


class Discriminator:
    def __init__(self, start_res_log2, target_res_log2):
        self.start_res_log2 = start_res_log2
        self.target_res_log2 = target_res_log2
        self.num_stages = target_res_log2 - start_res_log2 + 1
        # filter size to use at each stage, keys are log2(resolution)
        self.filter_nums = FILTER_NUMS
        # list of discriminator blocks at increasing resolution
        self.d_blocks = []
        # list of layers to convert RGB into activation for d_blocks inputs
        self.from_rgb = []

        for res_log2 in range(self.start_res_log2, self.target_res_log2 + 1):
            res = 2**res_log2
            filter_num = self.filter_nums[res_log2]
            from_rgb = Sequential(
                [
                    layers.InputLayer(
                        input_shape=(res, res, 3), name=f"from_rgb_input_{res}"
                    ),
                    EqualizedConv(filter_num, 1),
                    layers.LeakyReLU(0.2),
                ],
                name=f"from_rgb_{res}",
            )

            self.from_rgb.append(from_rgb)

            input_shape = (res, res, filter_num)
            if len(self.d_blocks) == 0:
                d_block = self.build_base(filter_num, res)
            else:
                d_block = self.build_block(
                    filter_num, self.filter_nums[res_log2 - 1], res
                )

            self.d_blocks.append(d_block)

    def build_base(self, filter_num, res):
        input_tensor = layers.Input(shape=(res, res, filter_num), name=f"d_{res}")
        x = MinibatchStd()(input_tensor)
        x = EqualizedConv(filter_num, 3)(x)
        x = layers.LeakyReLU(0.2)(x)
        x = layers.Flatten()(x)
        x = EqualizedDense(filter_num)(x)
        x = layers.LeakyReLU(0.2)(x)
        x = EqualizedDense(1)(x)
        return keras.Model(input_tensor, x, name=f"d_{res}")

    def build_block(self, filter_num_1, filter_num_2, res):
        input_tensor = layers.Input(shape=(res, res, filter_num_1), name=f"d_{res}")
        x = EqualizedConv(filter_num_1, 3)(input_tensor)
        x = layers.LeakyReLU(0.2)(x)
        x = EqualizedConv(filter_num_2)(x)
        x = layers.LeakyReLU(0.2)(x)
        x = layers.AveragePooling2D((2, 2))(x)
        return keras.Model(input_tensor, x, name=f"d_{res}")

    def grow(self, res_log2):
        res = 2**res_log2
        idx = res_log2 - self.start_res_log2
        alpha = layers.Input(shape=(1,), name="d_alpha")
        input_image = layers.Input(shape=(res, res, 3), name="input_image")
        x = self.from_rgb[idx](input_image)
        x = self.d_blocks[idx](x)
        if idx > 0:
            idx -= 1
            downsized_image = layers.AveragePooling2D((2, 2))(input_image)
            y = self.from_rgb[idx](downsized_image)
            x = fade_in(alpha[0], x, y)

            for i in range(idx, -1, -1):
                x = self.d_blocks[i](x)
        else:
            x = fade_in(alpha[0], x, x)

        return keras.Model([input_image, alpha], x, name=f"discriminator_{res}_x_{res}")


"""
## Build StyleGAN with custom train step
"""


class StyleGAN(keras.Model):
    def __init__(
        self,
        z_dim=Z_DIM,
        target_res=64,
        start_res=4,
        d_builder=None,
        g_builder=None,
        mapping=None,
        current_res=None,
    ):
        super().__init__()
        self.z_dim = z_dim
        self.target_res_log2 = log2(target_res)
        self.start_res_log2 = log2(start_res)
        if current_res is not None:
            self.current_res_log2 = log2(current_res)
        else:
            self.current_res_log2 = self.target_res_log2
        self.num_stages = self.target_res_log2 - self.start_res_log2 + 1
        self.alpha = keras.Variable(1.0, trainable=False, name="alpha")
        if mapping is None:
            self.mapping = Mapping(num_stages=self.num_stages)
        else:
            self.mapping = mapping
        if d_builder is None:
            self.d_builder = Discriminator(self.start_res_log2, self.target_res_log2)
        else:
            self.d_builder = d_builder
        if g_builder is None:
            self.g_builder = Generator(self.start_res_log2, self.target_res_log2)
        else:
            self.g_builder = g_builder
        self.g_input_shape = self.g_builder.input_shape
        self.phase = None
        self.train_step_counter = keras.Variable(0, trainable=False)
        self.loss_weights = {"gradient_penalty": 10, "drift": 0.001}
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")
        self.generator = self.g_builder.grow(self.current_res_log2)
        self.discriminator = self.d_builder.grow(self.current_res_log2)

    def compile(
        self, steps_per_epoch, phase, res, d_optimizer, g_optimizer, *args, **kwargs
    ):
        self.loss_weights = kwargs.pop("loss_weights", self.loss_weights)
        self.d_updates_per_g_update = kwargs.pop("d_updates_per_g_update", 1)
        self.steps_per_epoch = steps_per_epoch
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.train_step_counter.assign(0)
        self.phase = phase
        self.d_loss_metric.reset_state()
        self.g_loss_metric.reset_state()
        super().compile(*args, **kwargs)

    @property
    def metrics(self):
        return [self.d_loss_metric, self.g_loss_metric]

    def generate_noise(self, batch_size):
        noise = [
            keras.random.normal((batch_size, 2**res, 2**res, 1))
            for res in range(self.start_res_log2, self.target_res_log2 + 1)
        ]
        return noise

    def grow_model(self, res):
        self.current_res_log2 = log2(res)
        self.generator = self.g_builder.grow(self.current_res_log2)
        self.discriminator = self.d_builder.grow(self.current_res_log2)

    def gradient_loss(self, grad):
        loss = keras.ops.square(grad)
        loss = keras.ops.sum(
            loss, axis=keras.ops.arange(1, keras.ops.size(keras.ops.shape(loss)))
        )
        loss = keras.ops.sqrt(loss)
        loss = keras.ops.mean(keras.ops.square(loss - 1))
        return loss

    def _d_step(
        self,
        real_images,
        z,
        noise,
        alpha,
        batch_size,
        real_labels,
        fake_labels,
        const_input,
        num_stages,
    ):
        """One discriminator update — backend-dispatched."""
        d_vars = self.discriminator.trainable_variables
        backend = keras.backend.backend()

        if backend in ("tensorflow", "corenn"):
            import corenn as tf

            with tf.GradientTape() as d_tape:
                w = self.mapping(z, training=False)
                fake_images = keras.ops.stop_gradient(
                    self.generator(
                        [const_input, w] + noise[:num_stages] + [alpha], training=False
                    )
                )
                pred_fake = self.discriminator([fake_images, alpha], training=True)
                pred_real = self.discriminator([real_images, alpha], training=True)
                loss_fake = wasserstein_loss(fake_labels, pred_fake)
                loss_real = wasserstein_loss(real_labels, pred_real)
                # WGAN-GP: enforce Lipschitz constraint via input-gradient penalty
                epsilon = keras.random.uniform((batch_size, 1, 1, 1))
                interpolates = epsilon * real_images + (1 - epsilon) * fake_images
                with tf.GradientTape() as gp_tape:
                    gp_tape.watch(interpolates)
                    pred_interpolates = self.discriminator(
                        [interpolates, alpha], training=True
                    )
                gp_grads = gp_tape.gradient(pred_interpolates, interpolates)
                gradient_penalty = self.loss_weights[
                    "gradient_penalty"
                ] * self.gradient_loss(gp_grads)
                drift_loss = self.loss_weights["drift"] * keras.ops.mean(
                    keras.ops.concatenate([pred_fake, pred_real], axis=0) ** 2
                )
                d_loss = loss_fake + loss_real + gradient_penalty + drift_loss
            d_grads = d_tape.gradient(d_loss, d_vars)
            self.d_optimizer.apply_gradients(zip(d_grads, d_vars))
            return d_loss

        else:
            raise NotImplementedError(
                f"StyleGAN training is not implemented for backend '{backend}'. "
                "Supported backends: 'tensorflow', 'torch'."
            )

    def _g_step(
        self, z, noise, alpha, batch_size, real_labels, const_input, num_stages
    ):
        """One generator update — backend-dispatched."""
        g_vars = self.mapping.trainable_variables + self.generator.trainable_variables
        backend = keras.backend.backend()

        if backend in ("tensorflow", "corenn"):
            import corenn as tf

            with tf.GradientTape() as g_tape:
                w = self.mapping(z, training=True)
                fake_images = self.generator(
                    [const_input, w] + noise[:num_stages] + [alpha], training=True
                )
                pred_fake = self.discriminator([fake_images, alpha], training=False)
                g_loss = wasserstein_loss(real_labels, pred_fake)
            g_grads = g_tape.gradient(g_loss, g_vars)
            self.g_optimizer.apply_gradients(zip(g_grads, g_vars))
            return g_loss

        else:
            raise NotImplementedError(
                f"StyleGAN training is not implemented for backend '{backend}'. "
                "Supported backends: 'tensorflow', 'torch'."
            )

    def train_step(self, real_images):
        # Unpack the tuple yielded by the generator: (batch,) -> batch
        if isinstance(real_images, (tuple, list)):
            real_images = real_images[0]
        self.train_step_counter.assign_add(1)
        if self.phase == "TRANSITION":
            self.alpha.assign(
                keras.ops.cast(
                    self.train_step_counter / self.steps_per_epoch, "float32"
                )
            )
        elif self.phase == "STABLE":
            self.alpha.assign(1.0)
        else:
            raise NotImplementedError

        alpha = keras.ops.expand_dims(self.alpha, 0)
        batch_size = keras.ops.shape(real_images)[0]
        real_labels = keras.ops.ones(batch_size)
        fake_labels = -keras.ops.ones(batch_size)
        const_input = keras.ops.ones(tuple([batch_size] + list(self.g_input_shape)))
        num_stages = self.current_res_log2 - self.start_res_log2 + 1

        for _ in range(self.d_updates_per_g_update):
            z = keras.random.normal((batch_size, self.z_dim))
            noise = self.generate_noise(batch_size)
            d_loss = self._d_step(
                real_images,
                z,
                noise,
                alpha,
                batch_size,
                real_labels,
                fake_labels,
                const_input,
                num_stages,
            )

        z = keras.random.normal((batch_size, self.z_dim))
        noise = self.generate_noise(batch_size)
        g_loss = self._g_step(
            z, noise, alpha, batch_size, real_labels, const_input, num_stages
        )

        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {
            "d_loss": self.d_loss_metric.result(),
            "g_loss": self.g_loss_metric.result(),
        }

    def call(self, inputs: dict()):
        style_code = inputs.get("style_code", None)
        z = inputs.get("z", None)
        noise = inputs.get("noise", None)
        batch_size = inputs.get("batch_size", None)
        alpha = inputs.get("alpha", 1.0)
        if batch_size is None:
            if z is not None:
                batch_size = keras.ops.shape(z)[0]
            elif style_code is not None:
                batch_size = keras.ops.shape(style_code)[0]
            elif noise is not None:
                batch_size = keras.ops.shape(noise[0])[0]
            else:
                batch_size = 1
        self.alpha.assign(alpha)
        alpha = keras.ops.expand_dims(self.alpha, 0)
        if style_code is None:
            if z is None:
                z = keras.random.normal((batch_size, self.z_dim))
            style_code = self.mapping(z)
        if noise is None:
            noise = self.generate_noise(batch_size)
        num_stages = self.current_res_log2 - self.start_res_log2 + 1
        const_input = keras.ops.ones([batch_size] + list(self.g_input_shape))
        images = self.generator(
            [const_input, style_code] + noise[:num_stages] + [alpha]
        )
        images = keras.ops.clip((images * 0.5 + 0.5) * 255, 0, 255)
        images = keras.ops.cast(images, "uint8")
        return images.numpy()


"""
## Training
"""

START_RES = 4
TARGET_RES = 16  # the example: 64

style_gan = StyleGAN(start_res=START_RES, target_res=TARGET_RES)

HISTORIES = []


def train(
    start_res=START_RES,
    target_res=TARGET_RES,
    steps_per_epoch=5000,
    display_images=True,
    early_stopping_patience=3,
    save_best_only=True,
    d_updates_per_g_update=1,
):
    val_batch_size = 16
    # Fixed validation noise for consistent visual evaluation across training phases
    val_z = keras.random.normal((val_batch_size, Z_DIM))

    start_res_log2 = int(np.log2(start_res))
    target_res_log2 = int(np.log2(target_res))
    num_stages = target_res_log2 - start_res_log2 + 1

    # Initialize shared components
    mapping = Mapping(num_stages=num_stages)
    d_builder = Discriminator(start_res_log2, target_res_log2)
    g_builder = Generator(start_res_log2, target_res_log2)

    # Create checkpoints directory if it doesn't exist
    os.makedirs("checkpoints", exist_ok=True)

    global style_gan  # Make accessible to outer scope

    for res_log2 in range(start_res_log2, target_res_log2 + 1):
        res = 2**res_log2

        # Resolution-adaptive LR: halve every doubling beyond 8x8.
        res_lr = max(1e-3 * (0.5 ** max(0, res_log2 - 3)), 2e-5)
        opt_cfg = {
            "learning_rate": res_lr,
            "beta_1": 0.0,
            "beta_2": 0.99,
            "epsilon": 1e-8,
        }

        # Re-instantiate model for current resolution
        style_gan = StyleGAN(
            start_res=start_res,
            target_res=target_res,
            d_builder=d_builder,
            g_builder=g_builder,
            mapping=mapping,
            current_res=res,
        )

        if res_log2 == start_res_log2:
            # Generate noise for all resolution stages once at start
            val_noise = style_gan.generate_noise(val_batch_size)

        best_convergence_gap = float("inf")
        phases_without_improvement = 0

        for phase in ["TRANSITION", "STABLE"]:
            if res == start_res and phase == "TRANSITION":
                continue

            train_dl = create_dataloader(res)

            steps = max(
                int(train_step_ratio[res_log2] * steps_per_epoch),
                steps_per_epoch * (res_log2 - start_res_log2 + 1),
            )

            style_gan.compile(
                d_optimizer=keras.optimizers.Adam(**opt_cfg),
                g_optimizer=keras.optimizers.Adam(**opt_cfg),
                loss_weights={"gradient_penalty": 10, "drift": 0.001},
                d_updates_per_g_update=d_updates_per_g_update,
                steps_per_epoch=steps,
                res=res,
                phase=phase,
                run_eagerly=(keras.backend.backend() == "tensorflow"),
            )

            print(f"\n{phase} - {res}x{res}")
            history = style_gan.fit(
                train_dl, epochs=1, steps_per_epoch=steps, verbose=0
            )
            HISTORIES.append((res, phase, steps, history.history, float(style_gan.alpha.numpy())))

            final_g_loss = history.history["g_loss"][-1]
            final_d_loss = history.history["d_loss"][-1]

            print(f"Final losses - G: {final_g_loss:.4f}, D: {final_d_loss:.4f}")

            convergence_gap = abs(final_d_loss + final_g_loss)
            improved = convergence_gap < best_convergence_gap

            if improved:
                best_convergence_gap = convergence_gap
                phases_without_improvement = 0
                style_gan.generator.save_weights(
                    f"checkpoints/best_generator_{res}x{res}.weights.h5"
                )
                style_gan.discriminator.save_weights(
                    f"checkpoints/best_discriminator_{res}x{res}.weights.h5"
                )
            else:
                phases_without_improvement += 1

            # Always save latest checkpoint for resume capability
            style_gan.generator.save_weights(
                f"checkpoints/generator_{res}x{res}.weights.h5"
            )
            style_gan.discriminator.save_weights(
                f"checkpoints/discriminator_{res}x{res}.weights.h5"
            )

            if display_images:
                images = style_gan(
                    {
                        "z": val_z,
                        "noise": val_noise,
                        "alpha": keras.ops.convert_to_tensor(1.0),
                    }
                )
                plot_images(images, res_log2)

            if phases_without_improvement >= early_stopping_patience:
                print(f"\nEarly stopping at {res}x{res}")
                break

    print("\nTraining completed.")
    return style_gan


style_gan = train(
    start_res=4,
    target_res=TARGET_RES,
    steps_per_epoch=4,  # the example: 100
    display_images=True,
    early_stopping_patience=3,
    save_best_only=True,
    d_updates_per_g_update=1,
)

# ---- checks (not in the example) -------------------------------------------------------------
# 4x4 STABLE, then TRANSITION and STABLE at 8x8 and 16x16, each fitted for its scaled steps
assert [(r, p) for r, p, *_ in HISTORIES] == [(4, "STABLE"), (8, "TRANSITION"), (8, "STABLE"),
                                              (16, "TRANSITION"), (16, "STABLE")], HISTORIES
for res, phase, steps, hist, alpha in HISTORIES:
    assert np.isfinite(hist["d_loss"][-1]) and np.isfinite(hist["g_loss"][-1]), (res, phase, hist)
    # TRANSITION raises alpha to train_step_counter / steps_per_epoch, reaching 1 on the last step
    assert alpha == 1.0, (res, phase, alpha)
# the images the example would plot: uint8, one per validation code, at each resolution
assert [lr for lr, _ in PLOTTED] == [2, 3, 3, 4, 4]
for log2_res, images in PLOTTED:
    assert isinstance(images, np.ndarray) and images.dtype == np.uint8, images.dtype   # ops.cast(..., "uint8")
    assert images.min() >= 0 and images.max() <= 255
    assert images.shape == (16, 2 ** log2_res, 2 ** log2_res, 3), images.shape
    assert images.std() > 0    # the styles and noise vary the images
# the mapping network makes one style code per stage, the same code at each
codes = style_gan.mapping(keras.random.normal((3, Z_DIM))).numpy()
assert codes.shape == (3, 3, Z_DIM) and np.allclose(codes[:, 0], codes[:, 2])
# the checkpoint holds the generator: a fresh 16x16 generator loaded from it draws the same images
gen_path = "checkpoints/generator_16x16.weights.h5"
assert pathlib.Path(gen_path).exists()
fresh = Generator(2, 4).grow(4)
fresh.load_weights(gen_path)
const = keras.ops.ones((2, 4, 4, FILTER_NUMS[2]))
w = style_gan.mapping(keras.random.normal((2, Z_DIM)))
noise = style_gan.generate_noise(2)
one = keras.ops.ones((2, 1))
out_a = style_gan.generator([const, w] + noise + [one]).numpy()
out_b = fresh([const, w] + noise + [one]).numpy()
assert out_a.shape == (2, 16, 16, 3)
np.testing.assert_allclose(out_a, out_b, rtol=1e-5, atol=1e-5)
# the critic learned something: it scores real faces above the generator's images
real = next(create_dataloader(16))[0]
fake = style_gan.generator([keras.ops.ones((8, 4, 4, FILTER_NUMS[2])),
                            style_gan.mapping(keras.random.normal((8, Z_DIM)))]
                           + style_gan.generate_noise(8) + [keras.ops.ones((8, 1))])
d_real = float(np.mean(style_gan.discriminator([real, keras.ops.ones((8, 1))]).numpy()))
d_fake = float(np.mean(style_gan.discriminator([fake, keras.ops.ones((8, 1))]).numpy()))
print("critic real / fake:", d_real, d_fake)
assert d_real > d_fake, (d_real, d_fake)
