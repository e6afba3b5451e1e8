"""keras.io example "An All-in-One Network for Dehazing and Beyond" (vision/aodnet), imports
changed: a tf.data pipeline over image files (`tf.io.read_file`, `tf.image.decode_png` of JPEG
files, which TensorFlow's decoder takes too), `Dataset.zip`, `tf.data.experimental.cardinality(
dataset).numpy()`, skip / take, random crops sliced with Tensor offsets from
`tf.random.uniform(shape=(), dtype=tf.int32, maxval=...)`, `tf.image.rot90` by a random Tensor
count, `tf.cond` choosing between two tuples of flipped images; a subclassed AODNet of 1x1..7x7
Conv2Ds with `tf.initializers.random_normal` and L2 kernel regularizers, `tf.concat`s,
`tf.math.multiply(k, inputs) - k + 1.0` and `ReLU(max_value=1.0)`; compiled and built inside
`tf.distribute.OneDeviceStrategy("/gpu:0").scope()` with a PSNR metric function
(`tf.image.psnr`); fit with validation data; inference through PIL's `Image.open` and
`tf.keras.preprocessing.image.img_to_array`. The NYU2 download (gdown) is replaced by 24 synthetic
clean / hazy JPEG pairs written with Pillow in the page's file naming (hazy = clean * t + A (1 - t),
the atmospheric model AOD-Net inverts), 64x64 images, 32x32 crops, 3 epochs instead of 10.
Checked: the hazy / clean pairs stay aligned through the random crops, flips and rotations, the
PSNR metric is TensorFlow's formula, and evaluate's loss holds the kernels' L2 penalties."""
import os
import numpy as np
from PIL import Image
from glob import glob
import corenn as tf

tf.random.set_seed(0)

# --- the Dehaze-NYU download: clean images and hazy versions, named as the zip names them ---
rng = np.random.default_rng(0)
os.makedirs("Dehazing/original_images", exist_ok=True)
os.makedirs("Dehazing/train_images", exist_ok=True)
yy, xx = np.mgrid[0:64, 0:64] / 63.0
clean_images = {}
for i in range(1, 13):
    base = np.stack([np.sin(6 * xx * rng.uniform(0.5, 2) + rng.uniform(0, 6)),
                     np.cos(5 * yy * rng.uniform(0.5, 2) + rng.uniform(0, 6)),
                     np.sin(4 * (xx + yy) * rng.uniform(0.5, 2))], -1) * 0.4 + 0.45
    clean = np.clip(base, 0, 1)
    clean_images[i] = clean
    Image.fromarray((clean * 255).astype(np.uint8)).save(f"Dehazing/original_images/NYU2_{i}.jpg", quality=95)
    for j in (1, 2):
        t = rng.uniform(0.4, 0.7)
        hazy = clean * t + 0.9 * (1 - t)
        Image.fromarray((hazy * 255).astype(np.uint8)).save(f"Dehazing/train_images/NYU2_{i}_{j}_{t:.2f}.jpg",
                                                            quality=95)


def get_image_file_list(dataset_path):
    original_image_files = []
    hazy_image_paths = sorted(
        glob(str(os.path.join(dataset_path, "train_images/*.jpg")))
    )
    for image_path in hazy_image_paths:
        image_file_name = image_path.split("/")[-1]
        original_file_name = (
            image_file_name.split("_")[0] + "_" + image_file_name.split("_")[1] + ".jpg"
        )
        original_image_files.append(
            str(os.path.join(dataset_path, "original_images/" + original_file_name))
        )
    return original_image_files, hazy_image_paths


def read_images(image_files):
    dataset = tf.data.Dataset.from_tensor_slices(image_files)
    dataset = dataset.map(tf.io.read_file)
    dataset = dataset.map(
        lambda x: tf.image.decode_png(x, channels=3),
        num_parallel_calls=tf.data.experimental.AUTOTUNE,
    )
    return dataset


def random_crop(hazy_image, original_image, low_crop_size, enhanced_crop_size):
    hazy_image_shape = tf.shape(hazy_image)[:2]
    low_w = tf.random.uniform(
        shape=(), dtype=tf.int32, maxval=hazy_image_shape[1] - low_crop_size + 1
    )
    low_h = tf.random.uniform(
        shape=(), dtype=tf.int32, maxval=hazy_image_shape[0] - low_crop_size + 1
    )
    enhanced_w = low_w
    enhanced_h = low_h
    hazy_image_cropped = hazy_image[
        low_h : low_h + low_crop_size, low_w : low_w + low_crop_size
    ]
    original_image_cropped = original_image[
        enhanced_h : enhanced_h + enhanced_crop_size,
        enhanced_w : enhanced_w + enhanced_crop_size,
    ]
    return hazy_image_cropped, original_image_cropped


def random_flip(hazy_image, original_image):
    return tf.cond(
        tf.random.uniform(shape=(), maxval=1) < 0.5,
        lambda: (hazy_image, original_image),
        lambda: (
            tf.image.flip_left_right(hazy_image),
            tf.image.flip_left_right(original_image),
        ),
    )


def random_rotate(hazy_image, original_image):
    condition = tf.random.uniform(shape=(), maxval=4, dtype=tf.int32)
    hazy_image = tf.image.rot90(hazy_image, condition)
    original_image = tf.image.rot90(original_image, condition)
    return hazy_image, original_image


def apply_scaling(hazy_image, original_image):
    hazy_image = tf.cast(hazy_image, tf.float32)
    original_image = tf.cast(original_image, tf.float32)
    hazy_image = hazy_image / 255.0
    original_image = original_image / 255.0
    return hazy_image, original_image


def configure_dataset(
    dataset, image_crop_size, buffer_size, batch_size, is_dataset_train
):
    dataset = dataset.map(apply_scaling, num_parallel_calls=tf.data.AUTOTUNE)
    if image_crop_size > 0:
        dataset = dataset.map(
            lambda hazy, original: random_crop(
                hazy, original, image_crop_size, image_crop_size
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if is_dataset_train:
        dataset = dataset.map(random_rotate, num_parallel_calls=tf.data.AUTOTUNE)
        dataset = dataset.map(random_flip, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.shuffle(buffer_size)
    dataset = dataset.batch(batch_size)
    dataset = dataset.repeat(1)
    dataset = dataset.prefetch(buffer_size=tf.data.AUTOTUNE)
    return dataset


class DeHazeDataLoader:
    def __init__(self, dataset_path):
        (self.original_images, self.hazy_images) = get_image_file_list(
            dataset_path=dataset_path
        )

    def __len__(self):
        assert len(self.hazy_images) == len(self.original_images)
        return len(self.hazy_images)

    def build_dataset(self, image_crop_size, buffer_size, batch_size, val_split):
        hazy_dataset = read_images(self.hazy_images)
        original_dataset = read_images(self.original_images)
        dataset = tf.data.Dataset.zip((hazy_dataset, original_dataset))
        cardinality = tf.data.experimental.cardinality(dataset).numpy()
        train_dataset = configure_dataset(
            dataset=dataset.skip(int(cardinality * val_split)),
            image_crop_size=image_crop_size,
            buffer_size=buffer_size,
            batch_size=batch_size,
            is_dataset_train=True,
        )
        val_dataset = configure_dataset(
            dataset=dataset.take(int(cardinality * val_split)),
            image_crop_size=image_crop_size,
            buffer_size=buffer_size,
            batch_size=batch_size,
            is_dataset_train=True,
        )
        return train_dataset, val_dataset


dataloader = DeHazeDataLoader("./Dehazing")
print("Total Number of Image Pairs:", len(dataloader))
train_dataset, val_dataset = dataloader.build_dataset(
    image_crop_size=32, buffer_size=1024, batch_size=4, val_split=0.25
)
print(train_dataset)
print(val_dataset)

# the pairs stay aligned through crops, rotations and flips: each hazy crop is its clean crop
# seen through haze, hazy = clean * t + 0.9 (1 - t) for one t per pair (JPEG noise aside)
n_batches = 0
for hazy_batch, clean_batch in train_dataset:
    n_batches += 1
    h, c = np.asarray(hazy_batch, np.float64), np.asarray(clean_batch, np.float64)
    assert h.shape[1:] == (32, 32, 3) and c.shape == h.shape, (h.shape, c.shape)
    for hz, cl in zip(h, c):
        t = np.linalg.lstsq(np.stack([cl.ravel() - 0.9, np.ones(cl.size)], 1), hz.ravel() - 0.9, rcond=None)[0]
        assert np.abs(hz - (cl - 0.9) * t[0] - t[1] - 0.9).mean() < 0.02, t
assert n_batches == 5   # 18 training pairs in batches of 4


class AODNet(tf.keras.Model):
    def __init__(self, name: str, stddev: float = 0.02, weight_decay: float = 1e-4):
        super(AODNet, self).__init__(name=name)
        self.conv_layer_1 = tf.keras.layers.Conv2D(
            filters=3,
            kernel_size=1,
            strides=1,
            padding="same",
            activation=tf.nn.relu,
            use_bias=True,
            kernel_initializer=tf.initializers.random_normal(stddev=stddev),
            kernel_regularizer=tf.keras.regularizers.L2(weight_decay),
        )
        self.conv_layer_2 = tf.keras.layers.Conv2D(
            filters=3,
            kernel_size=1,
            strides=1,
            padding="same",
            activation=tf.nn.relu,
            use_bias=True,
            kernel_initializer=tf.initializers.random_normal(stddev=stddev),
            kernel_regularizer=tf.keras.regularizers.L2(weight_decay),
        )
        self.conv_layer_3 = tf.keras.layers.Conv2D(
            filters=3,
            kernel_size=5,
            strides=1,
            padding="same",
            activation=tf.nn.relu,
            use_bias=True,
            kernel_initializer=tf.initializers.random_normal(stddev=stddev),
            kernel_regularizer=tf.keras.regularizers.L2(weight_decay),
        )
        self.conv_layer_4 = tf.keras.layers.Conv2D(
            filters=3,
            kernel_size=7,
            strides=1,
            padding="same",
            activation=tf.nn.relu,
            use_bias=True,
            kernel_initializer=tf.initializers.random_normal(stddev=stddev),
            kernel_regularizer=tf.keras.regularizers.L2(weight_decay),
        )
        self.conv_layer_5 = tf.keras.layers.Conv2D(
            filters=3,
            kernel_size=3,
            strides=1,
            padding="same",
            activation=tf.nn.relu,
            use_bias=True,
            kernel_initializer=tf.initializers.random_normal(stddev=stddev),
            kernel_regularizer=tf.keras.regularizers.L2(weight_decay),
        )
        self.relu = tf.keras.layers.ReLU(max_value=1.0)

    def call(self, inputs, *args, **kwargs):
        conv_1 = self.conv_layer_1(inputs)
        conv_2 = self.conv_layer_2(conv_1)
        concat_1 = tf.concat([conv_1, conv_2], axis=-1)
        conv_3 = self.conv_layer_3(concat_1)
        concat_2 = tf.concat([conv_2, conv_3], axis=-1)
        conv_4 = self.conv_layer_4(concat_2)
        concat_3 = tf.concat([conv_1, conv_2, conv_3, conv_4], axis=-1)
        k = self.conv_layer_5(concat_3)
        j = tf.math.multiply(k, inputs) - k + 1.0
        output = self.relu(j)
        return output


def peak_signal_noise_ratio(y_true, y_pred):
    return tf.image.psnr(y_pred, y_true, max_val=255.0)


strategy = tf.distribute.OneDeviceStrategy("/gpu:0")
with strategy.scope():
    model = AODNet(name="AODNet", stddev=0.02, weight_decay=1e-4)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=1e-4),
        loss=tf.keras.losses.MeanSquaredError(),
        metrics=[peak_signal_noise_ratio],
    )
    model.build((1, 256, 256, 3))

model.summary()
assert len(model.losses) == 5   # the five kernels' L2 penalties

training_history = model.fit(train_dataset, validation_data=val_dataset, epochs=3, verbose=0)
print({k: [round(v, 4) for v in vs] for k, vs in training_history.history.items()})
assert set(training_history.history) == {"loss", "peak_signal_noise_ratio", "val_loss",
                                         "val_peak_signal_noise_ratio"}, training_history.history.keys()


def infer(model, image_path):
    original_image = Image.open(image_path)
    image = tf.keras.preprocessing.image.img_to_array(original_image)
    image = image.astype("float32") / 255.0
    image = np.expand_dims(image, axis=0)
    prediction = model.predict(image)
    return original_image, prediction[0]


for hazy_image_file in sorted(glob("./Dehazing/train_images/*"))[:4]:
    hazy_image, predicted_image = infer(model, hazy_image_file)
    assert predicted_image.shape == (64, 64, 3) and 0 <= predicted_image.min() and predicted_image.max() <= 1.0

# PSNR as TensorFlow computes it: 20 log10(max_val) - 10 log10(MSE) per image, averaged by the metric
a = rng.uniform(0, 1, (2, 8, 8, 3)).astype("float32")
b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1).astype("float32")
mse = ((a.astype(np.float64) - b) ** 2).reshape(2, -1).mean(1)
np.testing.assert_allclose(np.asarray(peak_signal_noise_ratio(a, b)), 20 * np.log10(255.0) - 10 * np.log10(mse),
                           rtol=1e-5)

# evaluate on fixed pairs: the loss is the MSE plus the five kernels' L2 penalties (1e-4 sum w^2),
# the metric the mean of the per-image PSNRs (max_val 255 on [0, 1] images, as the page has it)
x_eval = np.stack([np.asarray(Image.open(f), np.float32) / 255.0 for f in dataloader.hazy_images[:8]])
y_eval = np.stack([np.asarray(Image.open(f), np.float32) / 255.0 for f in dataloader.original_images[:8]])
results = model.evaluate(x_eval, y_eval, batch_size=8, return_dict=True, verbose=0)
pred = model.predict(x_eval, verbose=0).astype(np.float64)
penalty = sum(1e-4 * np.sum(np.asarray(layer.kernel, np.float64) ** 2)
              for layer in (model.conv_layer_1, model.conv_layer_2, model.conv_layer_3, model.conv_layer_4,
                            model.conv_layer_5))
mse_img = ((pred - y_eval) ** 2).reshape(8, -1).mean(1)
print(results, mse_img.mean() + penalty)
np.testing.assert_allclose(results["loss"], mse_img.mean() + penalty, rtol=1e-4)
np.testing.assert_allclose(results["peak_signal_noise_ratio"], np.mean(20 * np.log10(255.0) - 10 * np.log10(mse_img)),
                           rtol=1e-4)
# the output is ReLU(max 1) of k x - k + 1 with k >= 0 (a ReLU'd convolution): never above 1
assert pred.max() <= 1.0 and pred.min() >= 0.0
