"""keras.io example "Image Super-Resolution using an Efficient Sub-Pixel CNN" (ESPCN), imports
changed: images to YUV with tf.image.rgb_to_yuv, tf.split of the channels, low-resolution inputs
made with tf.image.resize(method="area"), a functional model on (None, None, 1) inputs whose last
layer is a DepthToSpace layer calling tf.nn.depth_to_space, a custom callback computing PSNR from
on_test_batch_end logs, EarlyStopping and a best-only weights checkpoint, then upscaling with
tf.image.psnr against the ground truth. BSDS500 photos are replaced by smooth synthetic colour
images (sums of low-frequency waves), 36 x 36 crops; the model's widths are cut 4x."""
import math

import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(3)
crop_size = 36
upscale_factor = 3
input_size = crop_size // upscale_factor
batch_size = 8
rng = np.random.default_rng(3)


def make_images(n):
    yy, xx = np.mgrid[0:crop_size, 0:crop_size] / crop_size
    imgs = np.zeros((n, crop_size, crop_size, 3), np.float32)
    for i in range(n):
        for c in range(3):
            for _ in range(3):
                fx, fy, ph = rng.uniform(0.3, 2.0), rng.uniform(0.3, 2.0), rng.uniform(0, 2 * np.pi)
                imgs[i, :, :, c] += np.sin(2 * np.pi * (fx * xx + fy * yy) + ph)
        imgs[i] = (imgs[i] - imgs[i].min()) / (imgs[i].max() - imgs[i].min())
    return imgs


train_ds = tf.data.Dataset.from_tensor_slices(make_images(96)).batch(batch_size)
valid_ds = tf.data.Dataset.from_tensor_slices(make_images(16)).batch(batch_size)


# Use TF Ops to process.
def process_input(input, input_size, upscale_factor):
    input = tf.image.rgb_to_yuv(input)
    last_dimension_axis = len(input.shape) - 1
    y, u, v = tf.split(input, 3, axis=last_dimension_axis)
    return tf.image.resize(y, [input_size, input_size], method="area")


def process_target(input):
    input = tf.image.rgb_to_yuv(input)
    last_dimension_axis = len(input.shape) - 1
    y, u, v = tf.split(input, 3, axis=last_dimension_axis)
    return y


train_ds = train_ds.map(lambda x: (process_input(x, input_size, upscale_factor), process_target(x)))
train_ds = train_ds.prefetch(buffer_size=32)
valid_ds = valid_ds.map(lambda x: (process_input(x, input_size, upscale_factor), process_target(x)))
valid_ds = valid_ds.prefetch(buffer_size=32)

for batch in train_ds.take(1):
    assert batch[0].shape == (batch_size, input_size, input_size, 1)
    assert batch[1].shape == (batch_size, crop_size, crop_size, 1)
    # the 'area' input is the mean of each 3 x 3 block of the target's Y channel
    blocks = np.asarray(batch[1]).reshape(batch_size, input_size, 3, input_size, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(np.asarray(batch[0])[..., 0], blocks, rtol=1e-5, atol=1e-6)


class DepthToSpace(layers.Layer):
    def __init__(self, block_size):
        super().__init__()
        self.block_size = block_size

    def call(self, input):
        return tf.nn.depth_to_space(input, self.block_size)


def get_model(upscale_factor=3, channels=1):
    conv_args = {
        "activation": "relu",
        "kernel_initializer": "orthogonal",
        "padding": "same",
    }
    inputs = keras.Input(shape=(None, None, channels))
    x = layers.Conv2D(16, 5, **conv_args)(inputs)
    x = layers.Conv2D(16, 3, **conv_args)(x)
    x = layers.Conv2D(8, 3, **conv_args)(x)
    x = layers.Conv2D(channels * (upscale_factor**2), 3, **conv_args)(x)
    outputs = DepthToSpace(upscale_factor)(x)
    return keras.Model(inputs, outputs)


class ESPCNCallback(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epoch_psnr = []

    # Store PSNR value in each epoch.
    def on_epoch_begin(self, epoch, logs=None):
        self.psnr = []

    def on_epoch_end(self, epoch, logs=None):
        print("Mean PSNR for epoch: %.2f" % (np.mean(self.psnr)))
        self.epoch_psnr.append(np.mean(self.psnr))

    def on_test_batch_end(self, batch, logs=None):
        self.psnr.append(10 * math.log10(1 / logs["loss"]))


early_stopping_callback = keras.callbacks.EarlyStopping(monitor="loss", patience=10)
checkpoint_filepath = "./checkpoint.weights.npz"
model_checkpoint_callback = keras.callbacks.ModelCheckpoint(
    filepath=checkpoint_filepath,
    save_weights_only=True,
    monitor="loss",
    mode="min",
    save_best_only=True,
)

model = get_model(upscale_factor=upscale_factor, channels=1)
model.summary()
espcn = ESPCNCallback()
callbacks = [espcn, early_stopping_callback, model_checkpoint_callback]
loss_fn = keras.losses.MeanSquaredError()
optimizer = keras.optimizers.Adam(learning_rate=0.003)

epochs = 12
model.compile(optimizer=optimizer, loss=loss_fn)
history = model.fit(train_ds, epochs=epochs, callbacks=callbacks, validation_data=valid_ds, verbose=0)
print(["%.2f" % p for p in espcn.epoch_psnr])
assert len(espcn.epoch_psnr) == epochs and espcn.epoch_psnr[-1] > espcn.epoch_psnr[0] + 3, espcn.epoch_psnr

# The model weights (that are considered the best) are loaded into the model.
model.load_weights(checkpoint_filepath)
best = min(history.history["loss"])
assert abs(model.evaluate(train_ds, verbose=0) - best) < 0.5 * best   # the best epoch's weights

lowres, highres = next(iter(valid_ds))
prediction = model.predict(lowres, verbose=0)
assert prediction.shape == (batch_size, crop_size, crop_size, 1)   # any input size: 12 -> 36
bigger = model.predict(np.asarray(tf.image.resize(highres, [24, 24], method="area")), verbose=0)
assert bigger.shape == (1 * batch_size, 72, 72, 1)
psnr_model = tf.image.psnr(prediction, highres, max_val=1.0)
psnr_bilinear = tf.image.psnr(tf.image.resize(lowres, [crop_size, crop_size]), highres, max_val=1.0)
print("PSNR of the prediction: %.2f, of a bilinear resize: %.2f"
      % (np.mean(psnr_model.numpy()), np.mean(psnr_bilinear.numpy())))
mse = np.mean((np.asarray(prediction, np.float64) - np.asarray(highres, np.float64)) ** 2, axis=(1, 2, 3))
np.testing.assert_allclose(psnr_model.numpy(), -10 * np.log10(mse), rtol=1e-4)
assert np.mean(psnr_model.numpy()) > 22.0, psnr_model

# the Y channel back to RGB with the input's U and V, as the example's upscale_image does
rgb = make_images(2)
yuv = tf.image.rgb_to_yuv(rgb)
np.testing.assert_allclose(yuv.numpy()[..., 0], rgb @ np.array([0.299, 0.587, 0.114]), rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(tf.image.yuv_to_rgb(yuv).numpy(), rgb, atol=1e-4)
