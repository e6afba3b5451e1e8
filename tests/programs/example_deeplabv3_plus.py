"""keras.io example "Multiclass semantic segmentation using DeepLabV3+", imports changed, at
a tiny size: a small convolutional backbone (a two-output functional model standing in for
ResNet50), Dilated Spatial Pyramid Pooling (dilated convolutions, image pooling with bilinear
UpSampling2D), the decoder joining low-level features, a per-pixel SparseCategoricalCrossentropy
fit on a tf.data pipeline, and the inference / colour-mask / overlay helpers on synthetic
scenes (a bright square and a dark disk on noise)."""
import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers
from corenn import ops

keras.utils.set_random_seed(0)

IMAGE_SIZE = 32
NUM_CLASSES = 3
rng = np.random.default_rng(0)
# synthetic "segmentation" data: class 1 = bright square, class 2 = dark disk, 0 = background
def make(n):
    x = rng.normal(0.0, 0.1, (n, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")
    y = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE), "int32")
    yy, xx = np.mgrid[:IMAGE_SIZE, :IMAGE_SIZE]
    for i in range(n):
        r, c = rng.integers(4, 16, 2)
        x[i, r:r + 10, c:c + 10] += 1.0; y[i, r:r + 10, c:c + 10] = 1
        cr, cc = rng.integers(18, 28, 2)
        m = (yy - cr) ** 2 + (xx - cc) ** 2 < 16
        x[i][m] -= 1.0; y[i][m] = 2
    return x, y
x_train, y_train = make(48)
train_dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(8, drop_remainder=True)

def convolution_block(block_input, num_filters=16, kernel_size=3, dilation_rate=1, use_bias=False):
    x = layers.Conv2D(num_filters, kernel_size=kernel_size, dilation_rate=dilation_rate, padding="same",
                      use_bias=use_bias, kernel_initializer=keras.initializers.HeNormal())(block_input)
    x = layers.BatchNormalization()(x)
    return ops.nn.relu(x)

def DilatedSpatialPyramidPooling(dspp_input):
    dims = dspp_input.shape
    x = layers.AveragePooling2D(pool_size=(dims[-3], dims[-2]))(dspp_input)
    x = convolution_block(x, kernel_size=1, use_bias=True)
    out_pool = layers.UpSampling2D(size=(dims[-3] // x.shape[1], dims[-2] // x.shape[2]),
                                   interpolation="bilinear")(x)
    out_1 = convolution_block(dspp_input, kernel_size=1, dilation_rate=1)
    out_6 = convolution_block(dspp_input, kernel_size=3, dilation_rate=2)
    out_12 = convolution_block(dspp_input, kernel_size=3, dilation_rate=3)
    out_18 = convolution_block(dspp_input, kernel_size=3, dilation_rate=4)
    x = layers.Concatenate(axis=-1)([out_pool, out_1, out_6, out_12, out_18])
    output = convolution_block(x, kernel_size=1)
    return output

def small_backbone(model_input):
    # stands in for the ResNet50 base: low-level features at /2, high-level at /4
    x = convolution_block(model_input, 16)
    low = layers.MaxPooling2D()(convolution_block(x, 16))
    x = layers.MaxPooling2D()(convolution_block(low, 32))
    return keras.Model(model_input, [low, x], name="backbone")

def DeeplabV3Plus(image_size, num_classes):
    model_input = keras.Input(shape=(image_size, image_size, 3))
    backbone = small_backbone(model_input)
    low, high = backbone.outputs
    x = DilatedSpatialPyramidPooling(high)
    input_a = layers.UpSampling2D(size=(image_size // 2 // x.shape[1], image_size // 2 // x.shape[2]),
                                  interpolation="bilinear")(x)
    input_b = convolution_block(low, num_filters=8, kernel_size=1)
    x = layers.Concatenate(axis=-1)([input_a, input_b])
    x = convolution_block(x)
    x = convolution_block(x)
    x = layers.UpSampling2D(size=(image_size // x.shape[1], image_size // x.shape[2]),
                            interpolation="bilinear")(x)
    model_output = layers.Conv2D(num_classes, kernel_size=(1, 1), padding="same")(x)
    return keras.Model(inputs=model_input, outputs=model_output)

model = DeeplabV3Plus(image_size=IMAGE_SIZE, num_classes=NUM_CLASSES)
model.summary()
loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.003), loss=loss, metrics=["accuracy"])
history = model.fit(train_dataset, epochs=30, verbose=0)
print(history.history["loss"])
assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]

def infer(model, image_tensor):
    predictions = model.predict(np.expand_dims((image_tensor), axis=0), verbose=0)
    predictions = np.squeeze(predictions)
    predictions = np.argmax(predictions, axis=2)
    return predictions
colormap = np.array([[0, 0, 0], [255, 0, 0], [0, 0, 255]], dtype=np.uint8)
def decode_segmentation_masks(mask, colormap, n_classes):
    r = np.zeros_like(mask).astype(np.uint8); g = np.zeros_like(mask).astype(np.uint8)
    b = np.zeros_like(mask).astype(np.uint8)
    for l in range(0, n_classes):
        idx = mask == l
        r[idx] = colormap[l, 0]; g[idx] = colormap[l, 1]; b[idx] = colormap[l, 2]
    return np.stack([r, g, b], axis=2)
def get_overlay(image, colored_mask):
    image = keras.utils.array_to_img(image)
    image = np.array(image).astype(np.uint8)
    overlay = (0.35 * image + 0.65 * colored_mask).astype(np.uint8)
    return overlay
x_test, y_test = make(8)
acc = []
for i in range(8):
    pm = infer(model, x_test[i])
    acc.append((pm == y_test[i]).mean())
    colored = decode_segmentation_masks(pm, colormap, NUM_CLASSES)
    assert colored.shape == (IMAGE_SIZE, IMAGE_SIZE, 3)
print("pixel accuracy", np.mean(acc))
assert np.mean(acc) > 0.8
