"""keras.io example "Image Segmentation using Composable Fully-Convolutional Networks"
(vision/fully_convolutional_network), imports changed: mixed precision
(`keras.mixed_precision.Policy("mixed_float16")` / `set_global_policy`), a batched dict dataset
mapped through a `keras.layers.Resizing` layer made inside the map function (images and masks),
`keras.applications.vgg19.preprocess_input`, `.shuffle().prefetch()`, `VGG19(include_top=True)`
whose block3/4/5_pool outputs make a frozen backbone model from `vgg_model.layers[1].input`
(called on an Input of another size), the top's fc1 / fc2 weights reshaped into 7x7 and 1x1
Conv2D layers (`tf.constant_initializer`, a frozen Sequential, `set_weights`), FCN-32S / 16S / 8S
heads (1x1 Conv2D, bilinear UpSampling2D by 32 / 16 / 8, Add of zero-initialized skips), AdamW,
SparseCategoricalCrossentropy, `MeanIoU(sparse_y_pred=False)` and SparseCategoricalAccuracy,
and the three models' predictions argmaxed into masks. The Oxford-IIIT Pets download is
replaced by synthetic 80x80 images of a bright square (mask 1, the pets' foreground) on a
background (2) with a one-pixel border (3); the ImageNet weights by weights=None (no download);
224x224 inputs by 64x64, batches of 32 by 4, 20 epochs by 1 on 2 batches. The matplotlib figures
are left out. Checked: the resized batches, the conv weights equal the reshaped dense ones, the
three histories' metrics (pixel accuracy from float masks, as Keras casts them), the heads'
trainable weights, output shapes and softmax sums. corenn runs the "mixed_float16" policy in
float32 (it warns: no float16 kernels), so the dtypes are not checked; sparse categorical
cross-entropy now takes the resized masks' fractional labels as Keras does (truncated)."""
import corenn as tf
from corenn import keras
import numpy as np

keras.utils.set_random_seed(27)
tf.random.set_seed(27)

AUTOTUNE = tf.data.AUTOTUNE

NUM_CLASSES = 4
INPUT_HEIGHT = 64
INPUT_WIDTH = 64
LEARNING_RATE = 1e-3
WEIGHT_DECAY = 1e-4
EPOCHS = 1
BATCH_SIZE = 4
MIXED_PRECISION = True
SHUFFLE = True

# Mixed-precision setting
if MIXED_PRECISION:
    policy = keras.mixed_precision.Policy("mixed_float16")
    keras.mixed_precision.set_global_policy(policy)

# ---- tfds.load("oxford_iiit_pet", split=[...], batch_size=BATCH_SIZE): synthetic pets ----
rng = np.random.default_rng(27)


def synthetic_pets(n):
    images = rng.integers(0, 90, (n, 80, 80, 3)).astype(np.uint8)
    masks = np.full((n, 80, 80, 1), 2, np.uint8)
    for i in range(n):
        r, c = rng.integers(8, 40, 2)
        s = rng.integers(20, 32)
        masks[i, r - 1:r + s + 1, c - 1:c + s + 1] = 3
        masks[i, r:r + s, c:c + s] = 1
        images[i, r:r + s, c:c + s] = rng.integers(170, 255)
    return tf.data.Dataset.from_tensor_slices({"image": images, "segmentation_mask": masks}).batch(BATCH_SIZE)


(train_ds, valid_ds, test_ds) = (synthetic_pets(8), synthetic_pets(4), synthetic_pets(4))


# Image and Mask Pre-processing
def unpack_resize_data(section):
    image = section["image"]
    segmentation_mask = section["segmentation_mask"]

    resize_layer = keras.layers.Resizing(INPUT_HEIGHT, INPUT_WIDTH)

    image = resize_layer(image)
    segmentation_mask = resize_layer(segmentation_mask)

    return image, segmentation_mask


train_ds = train_ds.map(unpack_resize_data, num_parallel_calls=AUTOTUNE)
valid_ds = valid_ds.map(unpack_resize_data, num_parallel_calls=AUTOTUNE)
test_ds = test_ds.map(unpack_resize_data, num_parallel_calls=AUTOTUNE)

images, masks = next(iter(test_ds))
random_idx = tf.random.uniform([], minval=0, maxval=BATCH_SIZE, dtype=tf.int32)

test_image = images[random_idx].numpy().astype("float")
test_mask = masks[random_idx].numpy().astype("float")
assert test_image.shape == (64, 64, 3) and test_mask.shape == (64, 64, 1)
assert 1.0 <= test_mask.min() and test_mask.max() <= 3.0


def preprocess_data(image, segmentation_mask):
    image = keras.applications.vgg19.preprocess_input(image)

    return image, segmentation_mask


train_ds = (
    train_ds.map(preprocess_data, num_parallel_calls=AUTOTUNE)
    .shuffle(buffer_size=1024)
    .prefetch(buffer_size=1024)
)
valid_ds = (
    valid_ds.map(preprocess_data, num_parallel_calls=AUTOTUNE)
    .shuffle(buffer_size=1024)
    .prefetch(buffer_size=1024)
)
test_ds = (
    test_ds.map(preprocess_data, num_parallel_calls=AUTOTUNE)
    .shuffle(buffer_size=1024)
    .prefetch(buffer_size=1024)
)

input_layer = keras.Input(shape=(INPUT_HEIGHT, INPUT_WIDTH, 3))

# VGG Model backbone (the page's pre-trained ImageNet weights: weights=None, no download)
vgg_model = keras.applications.vgg19.VGG19(include_top=True, weights=None)

# Extracting different outputs from same model
fcn_backbone = keras.models.Model(
    inputs=vgg_model.layers[1].input,
    outputs=[
        vgg_model.get_layer(block_name).output
        for block_name in ["block3_pool", "block4_pool", "block5_pool"]
    ],
)

# Setting backbone to be non-trainable
fcn_backbone.trainable = False

x = fcn_backbone(input_layer)

# Converting Dense layers to Conv2D layers
units = [4096, 4096]
dense_convs = []

for filter_idx in range(len(units)):
    dense_conv = keras.layers.Conv2D(
        filters=units[filter_idx],
        kernel_size=(7, 7) if filter_idx == 0 else (1, 1),
        strides=(1, 1),
        activation="relu",
        padding="same",
        use_bias=False,
        kernel_initializer=tf.constant_initializer(1.0),
    )
    dense_convs.append(dense_conv)
    dropout_layer = keras.layers.Dropout(0.5)
    dense_convs.append(dropout_layer)

dense_convs = keras.Sequential(dense_convs)
dense_convs.trainable = False

x[-1] = dense_convs(x[-1])

pool3_output, pool4_output, pool5_output = x

# 1x1 convolution to set channels = number of classes
pool5 = keras.layers.Conv2D(
    filters=NUM_CLASSES,
    kernel_size=(1, 1),
    padding="same",
    strides=(1, 1),
    activation="relu",
)

# Get Softmax outputs for all classes
fcn32s_conv_layer = keras.layers.Conv2D(
    filters=NUM_CLASSES,
    kernel_size=(1, 1),
    activation="softmax",
    padding="same",
    strides=(1, 1),
)

# Up-sample to original image size
fcn32s_upsampling = keras.layers.UpSampling2D(
    size=(32, 32),
    data_format=keras.backend.image_data_format(),
    interpolation="bilinear",
)

final_fcn32s_pool = pool5(pool5_output)
final_fcn32s_output = fcn32s_conv_layer(final_fcn32s_pool)
final_fcn32s_output = fcn32s_upsampling(final_fcn32s_output)

fcn32s_model = keras.Model(inputs=input_layer, outputs=final_fcn32s_output)

# 1x1 convolution to set channels = number of classes
# Followed from the original Caffe implementation
pool4 = keras.layers.Conv2D(
    filters=NUM_CLASSES,
    kernel_size=(1, 1),
    padding="same",
    strides=(1, 1),
    activation="linear",
    kernel_initializer=keras.initializers.Zeros(),
)(pool4_output)

# Intermediate up-sample
pool5 = keras.layers.UpSampling2D(
    size=(2, 2),
    data_format=keras.backend.image_data_format(),
    interpolation="bilinear",
)(final_fcn32s_pool)

# Get Softmax outputs for all classes
fcn16s_conv_layer = keras.layers.Conv2D(
    filters=NUM_CLASSES,
    kernel_size=(1, 1),
    activation="softmax",
    padding="same",
    strides=(1, 1),
)

# Up-sample to original image size
fcn16s_upsample_layer = keras.layers.UpSampling2D(
    size=(16, 16),
    data_format=keras.backend.image_data_format(),
    interpolation="bilinear",
)

# Add intermediate outputs
final_fcn16s_pool = keras.layers.Add()([pool4, pool5])
final_fcn16s_output = fcn16s_conv_layer(final_fcn16s_pool)
final_fcn16s_output = fcn16s_upsample_layer(final_fcn16s_output)

fcn16s_model = keras.models.Model(inputs=input_layer, outputs=final_fcn16s_output)

# 1x1 convolution to set channels = number of classes
# Followed from the original Caffe implementation
pool3 = keras.layers.Conv2D(
    filters=NUM_CLASSES,
    kernel_size=(1, 1),
    padding="same",
    strides=(1, 1),
    activation="linear",
    kernel_initializer=keras.initializers.Zeros(),
)(pool3_output)

# Intermediate up-sample
intermediate_pool_output = keras.layers.UpSampling2D(
    size=(2, 2),
    data_format=keras.backend.image_data_format(),
    interpolation="bilinear",
)(final_fcn16s_pool)

# Get Softmax outputs for all classes
fcn8s_conv_layer = keras.layers.Conv2D(
    filters=NUM_CLASSES,
    kernel_size=(1, 1),
    activation="softmax",
    padding="same",
    strides=(1, 1),
)

# Up-sample to original image size
fcn8s_upsample_layer = keras.layers.UpSampling2D(
    size=(8, 8),
    data_format=keras.backend.image_data_format(),
    interpolation="bilinear",
)

# Add intermediate outputs
final_fcn8s_pool = keras.layers.Add()([pool3, intermediate_pool_output])
final_fcn8s_output = fcn8s_conv_layer(final_fcn8s_pool)
final_fcn8s_output = fcn8s_upsample_layer(final_fcn8s_output)

fcn8s_model = keras.models.Model(inputs=input_layer, outputs=final_fcn8s_output)

# VGG's last 2 layers
weights1 = vgg_model.get_layer("fc1").get_weights()[0]
weights2 = vgg_model.get_layer("fc2").get_weights()[0]

weights1 = weights1.reshape(7, 7, 512, 4096)
weights2 = weights2.reshape(1, 1, 4096, 4096)

dense_convs.layers[0].set_weights([weights1])
dense_convs.layers[2].set_weights([weights2])
np.testing.assert_array_equal(dense_convs.layers[0].get_weights()[0], weights1)
np.testing.assert_array_equal(dense_convs.layers[2].get_weights()[0], weights2)
assert len(dense_convs.layers) == 4 and not dense_convs.trainable_weights

histories = []
for fcn_model in (fcn32s_model, fcn16s_model, fcn8s_model):
    optimizer = keras.optimizers.AdamW(
        learning_rate=LEARNING_RATE, weight_decay=WEIGHT_DECAY
    )

    loss = keras.losses.SparseCategoricalCrossentropy()

    # Maintain mIOU and Pixel-wise Accuracy as metrics
    fcn_model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=[
            keras.metrics.MeanIoU(num_classes=NUM_CLASSES, sparse_y_pred=False),
            keras.metrics.SparseCategoricalAccuracy(),
        ],
    )

    histories.append(fcn_model.fit(train_ds, epochs=EPOCHS, validation_data=valid_ds))

fcn32s_history, fcn16s_history, fcn8s_history = histories
for history in histories:
    h = history.history
    # Keras numbers the later MeanIoU metrics' names: mean_io_u, mean_io_u_1, mean_io_u_2
    miou = [k for k in h if k.startswith("mean_io_u")]
    assert len(miou) == 1 and {"loss", "sparse_categorical_accuracy", "val_loss", "val_" + miou[0]} <= set(h), h.keys()
    assert all(np.isfinite(v[0]) for v in h.values()), h
    assert 0.0 <= h[miou[0]][0] <= 1.0 and 0.0 <= h["sparse_categorical_accuracy"][0] <= 1.0
# the heads train, the backbone and the converted dense layers do not
assert len(fcn32s_model.trainable_weights) == 4 and len(fcn8s_model.trainable_weights) == 8

images, masks = next(iter(test_ds))
random_idx = tf.random.uniform([], minval=0, maxval=BATCH_SIZE, dtype=tf.int32)

# Get random test image and mask
test_image = images[random_idx].numpy().astype("float")
test_mask = masks[random_idx].numpy().astype("float")

pred_image = tf.expand_dims(test_image, axis=0)
pred_image = keras.applications.vgg19.preprocess_input(pred_image)

for fcn_model in (fcn32s_model, fcn16s_model, fcn8s_model):
    probs = fcn_model.predict(pred_image, verbose=0)
    assert probs.shape == (1, 64, 64, NUM_CLASSES)
    np.testing.assert_allclose(probs.astype("float32").sum(-1), 1.0, atol=1e-2)
    pred_mask = np.argmax(probs.astype("float"), axis=-1)[0, ...]
    assert pred_mask.shape == (64, 64) and pred_mask.min() >= 0 and pred_mask.max() < NUM_CLASSES
assert keras.mixed_precision.global_policy().name == "mixed_float16"
keras.mixed_precision.set_global_policy("float32")
