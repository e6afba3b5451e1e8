"""keras.io example "Low-light image enhancement using MIRNet", imports changed: a tf.data
pipeline of random crops of (low-light, well-lit) pairs, the MIRNet blocks written with the
functional API (a Selective Kernel Feature Fusion with GlobalAveragePooling2D and a softmax over
stacked branch attentions, a channel-attention block, a spatial-attention block that pools with
tf.reduce_max / tf.reduce_mean over channels, a Dual Attention Unit, strided down-/up-sampling
Conv2D/UpSampling2D residual blocks, a Multi-Scale Residual Block), the Charbonnier loss and a
PSNR metric through tf.image.psnr, ReduceLROnPlateau on val_peak_signal_noise_ratio, and an
inference function that clips and converts to uint8. The LoL dataset becomes smooth synthetic
images darkened by a gamma curve, and the image size and channel counts are cut to run in
seconds."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(10)
rng = np.random.default_rng(10)
IMAGE_SIZE = 16
BATCH_SIZE = 8


def scene(n):
    yy, xx = np.meshgrid(np.linspace(0, 1, 24), np.linspace(0, 1, 24), indexing="ij")
    imgs = []
    for _ in range(n):
        a, b, c = rng.uniform(0.5, 4, 3)
        img = np.stack([np.sin(a * xx + b * yy), np.cos(b * xx * yy * 3 + c), np.sin(c * yy)], -1) * 0.4 + 0.5
        imgs.append(img)
    high = np.clip(np.asarray(imgs), 0, 1)
    low = 0.25 * high ** 1.6                                      # a dark, contrast-crushed shot
    return (low * 255).astype("float32"), (high * 255).astype("float32")


train_low, train_high = scene(48)
val_low, val_high = scene(16)


def random_crop(low_image, enhanced_image):
    low_image_shape = tf.shape(low_image)[:2]
    low_w = tf.random.uniform(shape=(), maxval=low_image_shape[1] - IMAGE_SIZE + 1, dtype=tf.int32)
    low_h = tf.random.uniform(shape=(), maxval=low_image_shape[0] - IMAGE_SIZE + 1, dtype=tf.int32)
    low_image_cropped = low_image[low_h:low_h + IMAGE_SIZE, low_w:low_w + IMAGE_SIZE]
    enhanced_image_cropped = enhanced_image[low_h:low_h + IMAGE_SIZE, low_w:low_w + IMAGE_SIZE]
    return low_image_cropped, enhanced_image_cropped


def load_data(low_light_image, enhanced_image):
    low_light_image = low_light_image / 255.0
    enhanced_image = enhanced_image / 255.0
    low_light_image, enhanced_image = random_crop(low_light_image, enhanced_image)
    return low_light_image, enhanced_image


def get_dataset(low_light_images, enhanced_images):
    dataset = tf.data.Dataset.from_tensor_slices((low_light_images, enhanced_images))
    dataset = dataset.map(load_data, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(BATCH_SIZE, drop_remainder=True)
    return dataset


train_dataset = get_dataset(train_low, train_high)
val_dataset = get_dataset(val_low, val_high)
for lo, hi in train_dataset.take(1):
    assert tuple(lo.shape) == (BATCH_SIZE, IMAGE_SIZE, IMAGE_SIZE, 3) and float(tf.reduce_max(hi)) <= 1.0


def selective_kernel_feature_fusion(multi_scale_feature_1, multi_scale_feature_2, multi_scale_feature_3):
    channels = list(multi_scale_feature_1.shape)[-1]
    combined_feature = layers.Add()([multi_scale_feature_1, multi_scale_feature_2, multi_scale_feature_3])
    gap = layers.GlobalAveragePooling2D()(combined_feature)
    channel_wise_statistics = layers.Reshape((1, 1, channels))(gap)
    compact_feature_representation = layers.Conv2D(filters=channels // 8, kernel_size=(1, 1),
                                                   activation="relu")(channel_wise_statistics)
    feature_descriptor_1 = layers.Conv2D(channels, kernel_size=(1, 1), activation="softmax")(compact_feature_representation)
    feature_descriptor_2 = layers.Conv2D(channels, kernel_size=(1, 1), activation="softmax")(compact_feature_representation)
    feature_descriptor_3 = layers.Conv2D(channels, kernel_size=(1, 1), activation="softmax")(compact_feature_representation)
    feature_1 = multi_scale_feature_1 * feature_descriptor_1
    feature_2 = multi_scale_feature_2 * feature_descriptor_2
    feature_3 = multi_scale_feature_3 * feature_descriptor_3
    aggregated_feature = layers.Add()([feature_1, feature_2, feature_3])
    return aggregated_feature


class ChannelPooling(layers.Layer):
    def __init__(self, axis=-1, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.axis = axis
        self.concat = layers.Concatenate(axis=self.axis)

    def call(self, inputs):
        average_pooling = tf.expand_dims(tf.reduce_mean(inputs, axis=-1), axis=-1)
        max_pooling = tf.expand_dims(tf.reduce_max(inputs, axis=-1), axis=-1)
        return self.concat([average_pooling, max_pooling])

    def get_config(self):
        config = super().get_config()
        config.update({"axis": self.axis})
        return config


def spatial_attention_block(input_tensor):
    compressed_feature_map = ChannelPooling(axis=-1)(input_tensor)
    feature_map = layers.Conv2D(1, kernel_size=(1, 1))(compressed_feature_map)
    feature_map = keras.activations.sigmoid(feature_map)
    return input_tensor * feature_map


def channel_attention_block(input_tensor):
    channels = list(input_tensor.shape)[-1]
    average_pooling = layers.GlobalAveragePooling2D()(input_tensor)
    feature_descriptor = layers.Reshape((1, 1, channels))(average_pooling)
    feature_activations = layers.Conv2D(filters=channels // 8, kernel_size=(1, 1), activation="relu")(feature_descriptor)
    feature_activations = layers.Conv2D(filters=channels, kernel_size=(1, 1), activation="sigmoid")(feature_activations)
    return input_tensor * feature_activations


def dual_attention_unit_block(input_tensor):
    channels = list(input_tensor.shape)[-1]
    feature_map = layers.Conv2D(channels, kernel_size=(3, 3), padding="same", activation="relu")(input_tensor)
    feature_map = layers.Conv2D(channels, kernel_size=(3, 3), padding="same")(feature_map)
    channel_attention = channel_attention_block(feature_map)
    spatial_attention = spatial_attention_block(feature_map)
    concatenation = layers.Concatenate(axis=-1)([channel_attention, spatial_attention])
    concatenation = layers.Conv2D(channels, kernel_size=(1, 1))(concatenation)
    return layers.Add()([input_tensor, concatenation])


def down_sampling_module(input_tensor):
    channels = list(input_tensor.shape)[-1]
    main_branch = layers.Conv2D(channels, kernel_size=(1, 1), activation="relu")(input_tensor)
    main_branch = layers.Conv2D(channels, kernel_size=(3, 3), padding="same", activation="relu")(main_branch)
    main_branch = layers.MaxPooling2D()(main_branch)
    main_branch = layers.Conv2D(channels * 2, kernel_size=(1, 1))(main_branch)
    skip_branch = layers.MaxPooling2D()(input_tensor)
    skip_branch = layers.Conv2D(channels * 2, kernel_size=(1, 1))(skip_branch)
    return layers.Add()([skip_branch, main_branch])


def up_sampling_module(input_tensor):
    channels = list(input_tensor.shape)[-1]
    main_branch = layers.Conv2D(channels, kernel_size=(1, 1), activation="relu")(input_tensor)
    main_branch = layers.Conv2D(channels, kernel_size=(3, 3), padding="same", activation="relu")(main_branch)
    main_branch = layers.UpSampling2D()(main_branch)
    main_branch = layers.Conv2D(channels // 2, kernel_size=(1, 1))(main_branch)
    skip_branch = layers.UpSampling2D()(input_tensor)
    skip_branch = layers.Conv2D(channels // 2, kernel_size=(1, 1))(skip_branch)
    return layers.Add()([skip_branch, main_branch])


def multi_scale_residual_block(input_tensor, channels):
    # features
    level1 = input_tensor
    level2 = down_sampling_module(input_tensor)
    level3 = down_sampling_module(level2)
    # DAU
    level1_dau = dual_attention_unit_block(level1)
    level2_dau = dual_attention_unit_block(level2)
    level3_dau = dual_attention_unit_block(level3)
    # SKFF
    level1_skff = selective_kernel_feature_fusion(level1_dau, up_sampling_module(level2_dau),
                                                  up_sampling_module(up_sampling_module(level3_dau)))
    level2_skff = selective_kernel_feature_fusion(down_sampling_module(level1_dau), level2_dau,
                                                  up_sampling_module(level3_dau))
    level3_skff = selective_kernel_feature_fusion(down_sampling_module(down_sampling_module(level1_dau)),
                                                  down_sampling_module(level2_dau), level3_dau)
    # DAU 2
    level1_dau_2 = dual_attention_unit_block(level1_skff)
    level2_dau_2 = up_sampling_module((dual_attention_unit_block(level2_skff)))
    level3_dau_2 = up_sampling_module(up_sampling_module(dual_attention_unit_block(level3_skff)))
    # SKFF 2
    skff_ = selective_kernel_feature_fusion(level1_dau_2, level2_dau_2, level3_dau_2)
    conv = layers.Conv2D(channels, kernel_size=(3, 3), padding="same")(skff_)
    return layers.Add()([input_tensor, conv])


def recursive_residual_group(input_tensor, num_mrb, channels):
    conv1 = layers.Conv2D(channels, kernel_size=(3, 3), padding="same")(input_tensor)
    for _ in range(num_mrb):
        conv1 = multi_scale_residual_block(conv1, channels)
    conv2 = layers.Conv2D(channels, kernel_size=(3, 3), padding="same")(conv1)
    return layers.Add()([conv2, input_tensor])


def mirnet_model(num_rrg, num_mrb, channels):
    input_tensor = keras.Input(shape=[None, None, 3])
    x1 = layers.Conv2D(channels, kernel_size=(3, 3), padding="same")(input_tensor)
    for _ in range(num_rrg):
        x1 = recursive_residual_group(x1, num_mrb, channels)
    conv = layers.Conv2D(3, kernel_size=(3, 3), padding="same")(x1)
    output_tensor = layers.Add()([input_tensor, conv])
    return keras.Model(input_tensor, output_tensor)


model = mirnet_model(num_rrg=1, num_mrb=1, channels=16)


def charbonnier_loss(y_true, y_pred):
    return tf.reduce_mean(tf.sqrt(tf.square(y_true - y_pred) + tf.square(1e-3)))


def peak_signal_noise_ratio(y_true, y_pred):
    return tf.image.psnr(y_pred, y_true, max_val=255.0)


# the metric against the PSNR formula
a = rng.uniform(0, 255, (2, 4, 4, 3)).astype("float32")
b = np.clip(a + rng.normal(0, 10, a.shape), 0, 255).astype("float32")
ref = 10 * np.log10(255.0 ** 2 / ((a - b) ** 2).mean(axis=(1, 2, 3)))
np.testing.assert_allclose(np.asarray(peak_signal_noise_ratio(a, b)), ref, rtol=1e-4)

optimizer = keras.optimizers.Adam(learning_rate=2e-3)
model.compile(optimizer=optimizer, loss=charbonnier_loss, metrics=[peak_signal_noise_ratio])
history = model.fit(train_dataset, validation_data=val_dataset, epochs=6, verbose=0, callbacks=[
    keras.callbacks.ReduceLROnPlateau(monitor="val_peak_signal_noise_ratio", factor=0.5, patience=5,
                                      verbose=0, min_delta=1e-7, mode="max")])
h = history.history
print("loss", h["loss"][0], "->", h["loss"][-1], "val psnr", h["val_peak_signal_noise_ratio"][-1])
assert h["loss"][-1] < 0.6 * h["loss"][0], h["loss"]
assert h["val_peak_signal_noise_ratio"][-1] > h["val_peak_signal_noise_ratio"][0]


def infer(original_image):
    image = keras.utils.img_to_array(original_image)
    image = image.astype("float32") / 255.0
    image = np.expand_dims(image, axis=0)
    output = model.predict(image, verbose=0)
    output_image = output[0] * 255.0
    output_image = output_image.clip(0, 255)
    output_image = output_image.reshape((np.shape(output_image)[0], np.shape(output_image)[1], 3))
    output_image = np.uint8(output_image)
    return output_image


enhanced = infer(val_low[0])                    # the fully convolutional model takes the full 24x24 image
assert enhanced.shape == (24, 24, 3) and enhanced.dtype == np.uint8
err_before = np.abs(val_low[0] - val_high[0]).mean()
err_after = np.abs(enhanced.astype("float32") - val_high[0]).mean()
print("mean abs error", err_before, "->", err_after)
assert err_after < 0.7 * err_before, (err_before, err_after)
