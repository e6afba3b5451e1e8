"""keras.io example "Monocular depth estimation" (vision/depth_estimation), imports changed: a
U-Net of custom DownscaleBlock / UpscaleBlock / BottleNeckBlock layers (Conv2D, BatchNormalization,
LeakyReLU(negative_slope=), MaxPool2D, UpSampling2D, Concatenate, a residual `x += d`), a
keras.Model subclass whose calculate_loss mixes tf.image.ssim (filter_size=7, k1, k2),
tf.image.image_gradients edge-aware smoothness and an L1 term, with its own train_step /
test_step, a Mean loss tracker under the `metrics` property, and fit with validation data from
a keras.utils.Sequence. The NYU depth images (read with cv2 in the example) are replaced by
synthetic scenes whose depth is a smooth function of the image; sizes are cut to run in seconds."""
import numpy as np

import corenn as tf
from corenn.keras import layers

tf.random.set_seed(123)

HEIGHT = 32
WIDTH = 32
LR = 0.0002
EPOCHS = 4
BATCH_SIZE = 8


def make_scene(rng):
    """An RGB image of two shaded planes and its depth map (the farther, the darker)."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH] / np.float32(HEIGHT)
    tilt = rng.uniform(0.2, 0.8)
    depth = np.clip(tilt * yy + (1 - tilt) * xx + 0.2 * (xx > rng.uniform(0.3, 0.7)), 0, 1)
    image = np.stack([1 - depth, 0.5 * (1 - depth) + 0.2, depth * 0.3], -1)
    image = image + rng.normal(scale=0.02, size=image.shape)
    return image.astype("float32"), depth[..., None].astype("float32")


class DataGenerator(tf.keras.utils.Sequence):
    def __init__(self, data, batch_size=6, dim=(768, 1024), n_channels=3, shuffle=True, **kwargs):
        """
        Initialization
        """
        super().__init__(**kwargs)
        self.data = data
        self.indices = np.arange(len(data[0]))
        self.dim = dim
        self.n_channels = n_channels
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.on_epoch_end()

    def __len__(self):
        return int(np.ceil(len(self.data[0]) / self.batch_size))

    def __getitem__(self, index):
        # Generate one batch of data
        if (index + 1) * self.batch_size > len(self.indices):
            self.batch_size = len(self.indices) - index * self.batch_size
        # Generate one batch of data
        index = self.indices[index * self.batch_size : (index + 1) * self.batch_size]
        x, y = self.data_generation(index)
        return x, y

    def on_epoch_end(self):
        """
        Updates indexes after each epoch
        """
        self.index = np.arange(len(self.indices))
        if self.shuffle == True:
            np.random.shuffle(self.index)

    def data_generation(self, batch):
        x = self.data[0][batch]
        y = self.data[1][batch]
        return x, y


rng = np.random.default_rng(0)
scenes = [make_scene(rng) for _ in range(48)]
images = np.stack([s[0] for s in scenes])
depths = np.stack([s[1] for s in scenes])
train_loader = DataGenerator(data=(images[:40], depths[:40]), batch_size=BATCH_SIZE, dim=(HEIGHT, WIDTH))
validation_loader = DataGenerator(data=(images[40:], depths[40:]), batch_size=BATCH_SIZE, dim=(HEIGHT, WIDTH))
assert len(train_loader) == 5 and train_loader[0][0].shape == (BATCH_SIZE, HEIGHT, WIDTH, 3)


class DownscaleBlock(layers.Layer):
    def __init__(
        self, filters, kernel_size=(3, 3), padding="same", strides=1, **kwargs
    ):
        super().__init__(**kwargs)
        self.convA = layers.Conv2D(filters, kernel_size, strides, padding)
        self.convB = layers.Conv2D(filters, kernel_size, strides, padding)
        self.reluA = layers.LeakyReLU(negative_slope=0.2)
        self.reluB = layers.LeakyReLU(negative_slope=0.2)
        self.bn2a = tf.keras.layers.BatchNormalization()
        self.bn2b = tf.keras.layers.BatchNormalization()

        self.pool = layers.MaxPool2D((2, 2), (2, 2))

    def call(self, input_tensor):
        d = self.convA(input_tensor)
        x = self.bn2a(d)
        x = self.reluA(x)

        x = self.convB(x)
        x = self.bn2b(x)
        x = self.reluB(x)

        x += d
        p = self.pool(x)
        return x, p


class UpscaleBlock(layers.Layer):
    def __init__(
        self, filters, kernel_size=(3, 3), padding="same", strides=1, **kwargs
    ):
        super().__init__(**kwargs)
        self.us = layers.UpSampling2D((2, 2))
        self.convA = layers.Conv2D(filters, kernel_size, strides, padding)
        self.convB = layers.Conv2D(filters, kernel_size, strides, padding)
        self.reluA = layers.LeakyReLU(negative_slope=0.2)
        self.reluB = layers.LeakyReLU(negative_slope=0.2)
        self.bn2a = tf.keras.layers.BatchNormalization()
        self.bn2b = tf.keras.layers.BatchNormalization()
        self.conc = layers.Concatenate()

    def call(self, x, skip):
        x = self.us(x)
        concat = self.conc([x, skip])
        x = self.convA(concat)
        x = self.bn2a(x)
        x = self.reluA(x)

        x = self.convB(x)
        x = self.bn2b(x)
        x = self.reluB(x)

        return x


class BottleNeckBlock(layers.Layer):
    def __init__(
        self, filters, kernel_size=(3, 3), padding="same", strides=1, **kwargs
    ):
        super().__init__(**kwargs)
        self.convA = layers.Conv2D(filters, kernel_size, strides, padding)
        self.convB = layers.Conv2D(filters, kernel_size, strides, padding)
        self.reluA = layers.LeakyReLU(negative_slope=0.2)
        self.reluB = layers.LeakyReLU(negative_slope=0.2)

    def call(self, x):
        x = self.convA(x)
        x = self.reluA(x)
        x = self.convB(x)
        x = self.reluB(x)
        return x


class DepthEstimationModel(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.ssim_loss_weight = 0.85
        self.l1_loss_weight = 0.1
        self.edge_loss_weight = 0.9
        self.loss_metric = tf.keras.metrics.Mean(name="loss")
        f = [4, 8, 16, 32, 64]
        self.downscale_blocks = [
            DownscaleBlock(f[0]),
            DownscaleBlock(f[1]),
            DownscaleBlock(f[2]),
            DownscaleBlock(f[3]),
        ]
        self.bottle_neck_block = BottleNeckBlock(f[4])
        self.upscale_blocks = [
            UpscaleBlock(f[3]),
            UpscaleBlock(f[2]),
            UpscaleBlock(f[1]),
            UpscaleBlock(f[0]),
        ]
        self.conv_layer = layers.Conv2D(1, (1, 1), padding="same", activation="tanh")

    def calculate_loss(self, target, pred):
        # Edges
        dy_true, dx_true = tf.image.image_gradients(target)
        dy_pred, dx_pred = tf.image.image_gradients(pred)
        weights_x = tf.cast(tf.exp(tf.reduce_mean(tf.abs(dx_true))), tf.float32)
        weights_y = tf.cast(tf.exp(tf.reduce_mean(tf.abs(dy_true))), tf.float32)

        # Depth smoothness
        smoothness_x = dx_pred * weights_x
        smoothness_y = dy_pred * weights_y

        depth_smoothness_loss = tf.reduce_mean(abs(smoothness_x)) + tf.reduce_mean(
            abs(smoothness_y)
        )

        # Structural similarity (SSIM) index
        ssim_loss = tf.reduce_mean(
            1
            - tf.image.ssim(
                target, pred, max_val=WIDTH, filter_size=7, k1=0.01**2, k2=0.03**2
            )
        )
        # Point-wise depth
        l1_loss = tf.reduce_mean(tf.abs(target - pred))

        loss = (
            (self.ssim_loss_weight * ssim_loss)
            + (self.l1_loss_weight * l1_loss)
            + (self.edge_loss_weight * depth_smoothness_loss)
        )

        return loss

    @property
    def metrics(self):
        return [self.loss_metric]

    def train_step(self, batch_data):
        input, target = batch_data
        with tf.GradientTape() as tape:
            pred = self(input, training=True)
            loss = self.calculate_loss(target, pred)

        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        self.loss_metric.update_state(loss)
        return {
            "loss": self.loss_metric.result(),
        }

    def test_step(self, batch_data):
        input, target = batch_data

        pred = self(input, training=False)
        loss = self.calculate_loss(target, pred)

        self.loss_metric.update_state(loss)
        return {
            "loss": self.loss_metric.result(),
        }

    def call(self, x):
        c1, p1 = self.downscale_blocks[0](x)
        c2, p2 = self.downscale_blocks[1](p1)
        c3, p3 = self.downscale_blocks[2](p2)
        c4, p4 = self.downscale_blocks[3](p3)

        bn = self.bottle_neck_block(p4)

        u1 = self.upscale_blocks[0](bn, c4)
        u2 = self.upscale_blocks[1](u1, c3)
        u3 = self.upscale_blocks[2](u2, c2)
        u4 = self.upscale_blocks[3](u3, c1)

        return self.conv_layer(u4)


optimizer = tf.keras.optimizers.Adam(
    learning_rate=LR,
    amsgrad=False,
)
model = DepthEstimationModel()
# Compile the model
model.compile(optimizer)

# the loss pieces against NumPy: TensorFlow's image gradients are forward differences with a
# zero last row / column
t, p = depths[:2], np.clip(depths[:2] + rng.normal(scale=0.1, size=depths[:2].shape), 0, 1).astype("float32")
dy, dx = tf.image.image_gradients(t)
np.testing.assert_allclose(np.asarray(dy)[:, :-1], t[:, 1:] - t[:, :-1], atol=1e-6)
np.testing.assert_allclose(np.asarray(dx)[:, :, :-1], t[:, :, 1:] - t[:, :, :-1], atol=1e-6)
assert not np.asarray(dy)[:, -1].any() and not np.asarray(dx)[:, :, -1].any()
np.testing.assert_allclose(np.asarray(tf.image.ssim(t, t, max_val=WIDTH, filter_size=7)), [1.0, 1.0], atol=1e-5)
value = float(model.calculate_loss(t, p))
assert 0 < value < 2

history = model.fit(
    train_loader,
    epochs=EPOCHS,
    validation_data=validation_loader,
    verbose=0,
)
print({k: [round(v, 4) for v in vals] for k, vals in history.history.items()})
assert set(history.history) == {"loss", "val_loss"}
assert history.history["loss"][-1] < history.history["loss"][0]
assert all(np.isfinite(history.history["val_loss"]))

pred = model.predict(images[40:], verbose=0)
assert pred.shape == (8, HEIGHT, WIDTH, 1) and np.all(np.abs(pred) <= 1)
