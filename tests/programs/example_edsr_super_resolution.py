"""keras.io examples/vision/edsr (Enhanced Deep Residual Networks for single-image
super-resolution) on synthetic images: a tf.data pipeline that crops aligned low / high
resolution patches and flips / rotates them at random (`tf.image.flip_left_right`,
`tf.image.rot90`, `tf.cond`, `tf.random.uniform`), an EDSR model (Rescaling, residual blocks
with a residual scale, sub-pixel upsampling with `tf.nn.depth_to_space`) as a Model subclass
whose `train_step` / `predict_step` are its own, a PiecewiseConstantDecay schedule and a PSNR
metric (`tf.image.psnr`). The model must beat bicubic-free nearest upsampling. Only the imports
changed."""
import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(2)
rng = np.random.default_rng(2)
SCALE = 2
HR = 16


def smooth_image(n):
    yy, xx = np.mgrid[0:HR, 0:HR] / HR
    imgs = []
    for _ in range(n):
        f = rng.uniform(0.5, 2.0, size=3)
        p = rng.uniform(0, 2 * np.pi, size=3)
        img = np.stack([np.sin(2 * np.pi * f[c] * (xx + yy * (c - 1)) + p[c]) for c in range(3)], -1)
        imgs.append(127.5 * (img + 1.0))
    return np.asarray(imgs, "float32")


hr_images = smooth_image(96)
lr_images = hr_images.reshape(96, HR // SCALE, SCALE, HR // SCALE, SCALE, 3).mean(axis=(2, 4))


def flip_left_right(lowres_img, highres_img):
    rn = tf.random.uniform(shape=(), maxval=1)
    return tf.cond(rn < 0.5, lambda: (lowres_img, highres_img),
                   lambda: (tf.image.flip_left_right(lowres_img), tf.image.flip_left_right(highres_img)))


def random_rotate(lowres_img, highres_img):
    rn = tf.random.uniform(shape=(), maxval=4, dtype=tf.int32)
    return tf.image.rot90(lowres_img, rn), tf.image.rot90(highres_img, rn)


def dataset_object(lr, hr, training=True):
    ds = tf.data.Dataset.from_tensor_slices((lr, hr))
    if training:
        ds = ds.map(random_rotate, num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.map(flip_left_right, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(16)
    if training:
        ds = ds.repeat()
    return ds.prefetch(buffer_size=tf.data.AUTOTUNE)


train_ds = dataset_object(lr_images[:80], hr_images[:80])
val_ds = dataset_object(lr_images[80:], hr_images[80:], training=False)
lo, hi = next(iter(train_ds))
assert tuple(lo.shape) == (16, HR // SCALE, HR // SCALE, 3) and tuple(hi.shape) == (16, HR, HR, 3)
# the augmentation keeps each low / high pair aligned: downsampling the high one gives the low one
np.testing.assert_allclose(np.asarray(hi).reshape(16, 8, 2, 8, 2, 3).mean(axis=(2, 4)), np.asarray(lo), atol=1e-3)


def PSNR(super_resolution, high_resolution):
    psnr_value = tf.image.psnr(high_resolution, super_resolution, max_val=255)[0]
    return psnr_value


class EDSRModel(keras.Model):
    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    def predict_step(self, x):
        x = tf.cast(tf.expand_dims(x, axis=0), tf.float32)
        super_resolution_img = self(x, training=False)
        super_resolution_img = tf.clip_by_value(super_resolution_img, 0, 255)
        super_resolution_img = tf.round(super_resolution_img)
        super_resolution_img = tf.squeeze(tf.cast(super_resolution_img, tf.uint8), axis=0)
        return super_resolution_img


def ResBlock(inputs):
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(32, 3, padding="same")(x)
    x = layers.Add()([inputs, x])
    return x


def Upsampling(inputs, factor=2, **kwargs):
    x = layers.Conv2D(32 * (factor ** 2), 3, padding="same", **kwargs)(inputs)
    x = layers.Lambda(lambda t: tf.nn.depth_to_space(t, block_size=factor))(x)
    return x


def make_model(num_filters, num_of_residual_blocks):
    input_layer = layers.Input(shape=(None, None, 3))
    x = layers.Rescaling(scale=1.0 / 255)(input_layer)
    x = x_new = layers.Conv2D(num_filters, 3, padding="same")(x)
    for _ in range(num_of_residual_blocks):
        x_new = ResBlock(x_new)
    x_new = layers.Conv2D(num_filters, 3, padding="same")(x_new)
    x = layers.Add()([x, x_new])
    x = Upsampling(x)
    x = layers.Conv2D(3, 3, padding="same")(x)
    output_layer = layers.Rescaling(scale=255)(x)
    return EDSRModel(input_layer, output_layer)


model = make_model(num_filters=32, num_of_residual_blocks=2)
optim_edsr = keras.optimizers.Adam(
    learning_rate=keras.optimizers.schedules.PiecewiseConstantDecay(boundaries=[150], values=[2e-3, 5e-4]))
model.compile(optimizer=optim_edsr, loss="mae", metrics=[PSNR])
history = model.fit(train_ds, epochs=12, steps_per_epoch=20, validation_data=val_ds, verbose=0)
print({k: np.round(v[::4], 2).tolist() for k, v in history.history.items()})
assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]

# the model's super-resolution against nearest-neighbour upsampling of the low-resolution image
sr = np.stack([np.asarray(model.predict_step(lr)) for lr in lr_images[80:]])
assert sr.shape == (16, HR, HR, 3) and sr.dtype == np.uint8   # predict_step's tf.cast to uint8
assert sr.min() >= 0 and sr.max() <= 255
nearest = np.repeat(np.repeat(lr_images[80:], 2, axis=1), 2, axis=2)
psnr_model = float(np.mean(np.asarray(tf.image.psnr(hr_images[80:], sr.astype("float32"), max_val=255))))
psnr_nearest = float(np.mean(np.asarray(tf.image.psnr(hr_images[80:], nearest, max_val=255))))
print("PSNR model", round(psnr_model, 2), "nearest", round(psnr_nearest, 2))
assert psnr_model > psnr_nearest + 1.0

# depth_to_space against NumPy
d = rng.normal(size=(1, 2, 3, 8)).astype("float32")
ref = d.reshape(1, 2, 3, 2, 2, 2).transpose(0, 1, 3, 2, 4, 5).reshape(1, 4, 6, 2)
np.testing.assert_allclose(np.asarray(tf.nn.depth_to_space(d, 2)), ref)
