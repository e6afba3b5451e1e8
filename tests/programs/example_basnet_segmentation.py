"""keras.io example "Highly accurate boundaries segmentation using BASNet"
(examples/vision/basnet_segmentation, Hamid Ali), imports changed only: a keras.utils.PyDataset
reading images and masks with `keras.utils.load_img(..., color_mode="grayscale")` /
`img_to_array`, sub-models cut out of a backbone between two named layers
(`Model(inputs=resnet.get_layer(...).input, outputs=...)`, inputs that are layer outputs), a
densely supervised encoder-decoder with Resizing to `x.shape * 2` and seven side outputs, a
refinement module built on `base_model.output[0]` / `base_model.input[0]`, the BASNet
keras.Model subclass that calls `super().__init__(inputs=..., outputs=...)` (a functional model
made inside a subclass) and overrides `compute_loss(x, y_true, y_pred, sample_weight, training)`
with binary cross-entropy + `tf.image.ssim` + IoU over its list of outputs (the page passes the
whole output list to ssim and IoU, which broadcast it), compile with one MeanAbsoluteError per
output and no loss, fit with validation data, save / load_weights and predict.
DUTS-TE (a download) becomes synthetic images with a bright ellipse (the salient object) written
as JPEG / PNG files under the working directory; keras_cv's ResNet34Backbone becomes the small
ResNet-v2 stand-in below with keras_cv's layer names (keras_cv is not part of corenn). The
pretrained-weights download becomes the program's own `save_weights` (to .weights.npz: corenn's
Keras .weights.h5 writer refuses the sub-models cut out of the backbone). Sizes are cut
(IMAGE_SIZE 32, BATCH_SIZE 2, 20 images, the modules' `filters` 8 instead of 64, the stand-in's
widths 8-64); plotting is dropped."""
import os

# Because of the use of tf.image.ssim in the loss,
# this example requires TensorFlow. The rest of the code
# is backend-agnostic.
os.environ["KERAS_BACKEND"] = "tensorflow"

import numpy as np
from glob import glob

import corenn as tf
from corenn import keras
from corenn.keras import layers, ops

keras.config.disable_traceback_filtering()

IMAGE_SIZE = 32
BATCH_SIZE = 2
OUT_CLASSES = 1
TRAIN_SPLIT_RATIO = 0.90


class keras_cv:  # noqa: N801  stand-in for keras_cv.models.ResNet34Backbone (its layer names)
    class models:
        @staticmethod
        def ResNet34Backbone(include_rescaling=False, widths=(8, 16, 32, 64)):
            inputs = layers.Input((None, None, 3))
            x = layers.Conv2D(widths[0], 7, strides=2, padding="same", name="conv1_conv")(inputs)
            x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1_pool")(x)
            for s, (filters, blocks) in enumerate(zip(widths, [3, 4, 6, 3])):
                for b in range(1, blocks + 1):
                    name = f"v2_stack_{s}_block{b}"
                    stride = 2 if (b == 1 and s > 0) else 1
                    preact = layers.BatchNormalization(name=f"{name}_preact_bn")(x)
                    preact = layers.Activation("relu", name=f"{name}_preact_relu")(preact)
                    if b == 1:
                        # the first block's input is its pre-activation (keras_cv's v2 blocks)
                        x = layers.Identity(name=f"{name}_in")(preact)
                        shortcut = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_0_conv")(x)
                    else:
                        shortcut = x
                        x = preact
                    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                                      name=f"{name}_1_conv")(x)
                    y = layers.BatchNormalization(name=f"{name}_1_bn")(y)
                    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
                    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(y)
                    x = layers.Add(name=f"{name}_add")([shortcut, y])
            return keras.Model(inputs, x, name="resnet34")


# ---- synthetic stand-in for DUTS-TE.zip: images with one salient ellipse and its mask ----------
def _write_duts(root, n=20, seed=0):
    from PIL import Image
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "DUTS-TE-Image"), exist_ok=True)
    os.makedirs(os.path.join(root, "DUTS-TE-Mask"), exist_ok=True)
    yy, xx = np.mgrid[0:96, 0:96]
    for i in range(n):
        cy, cx = rng.uniform(30, 66, 2)
        ry, rx = rng.uniform(12, 28, 2)
        mask = (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2) <= 1.0
        image = rng.uniform(0, 90, (96, 96, 3))
        image[mask] = rng.uniform(170, 255, 3)
        Image.fromarray(image.astype("uint8")).save(os.path.join(root, "DUTS-TE-Image", f"ILSVRC_{i:04d}.jpg"))
        Image.fromarray((mask * 255).astype("uint8")).save(os.path.join(root, "DUTS-TE-Mask", f"ILSVRC_{i:04d}.png"))
    return os.path.dirname(root)


data_dir = _write_duts(os.path.abspath(os.path.join("duts", "DUTS-TE")))
data_dir = os.path.join(data_dir, "DUTS-TE")


def load_paths(path, split_ratio):
    images = sorted(glob(os.path.join(path, "DUTS-TE-Image/*")))[:140]
    masks = sorted(glob(os.path.join(path, "DUTS-TE-Mask/*")))[:140]
    len_ = int(len(images) * split_ratio)
    return (images[:len_], masks[:len_]), (images[len_:], masks[len_:])


class Dataset(keras.utils.PyDataset):
    def __init__(
        self,
        image_paths,
        mask_paths,
        img_size,
        out_classes,
        batch,
        shuffle=True,
        **kwargs,
    ):
        if shuffle:
            perm = np.random.permutation(len(image_paths))
            image_paths = [image_paths[i] for i in perm]
            mask_paths = [mask_paths[i] for i in perm]
        self.image_paths = image_paths
        self.mask_paths = mask_paths
        self.img_size = img_size
        self.out_classes = out_classes
        self.batch_size = batch
        super().__init__(*kwargs)

    def __len__(self):
        return len(self.image_paths) // self.batch_size

    def __getitem__(self, idx):
        batch_x, batch_y = [], []
        for i in range(idx * self.batch_size, (idx + 1) * self.batch_size):
            x, y = self.preprocess(
                self.image_paths[i],
                self.mask_paths[i],
                self.img_size,
            )
            batch_x.append(x)
            batch_y.append(y)
        batch_x = np.stack(batch_x, axis=0)
        batch_y = np.stack(batch_y, axis=0)
        return batch_x, batch_y

    def read_image(self, path, size, mode):
        x = keras.utils.load_img(path, target_size=size, color_mode=mode)
        x = keras.utils.img_to_array(x)
        x = (x / 255.0).astype(np.float32)
        return x

    def preprocess(self, x_batch, y_batch, img_size):
        images = self.read_image(x_batch, (img_size, img_size), mode="rgb")  # image
        masks = self.read_image(y_batch, (img_size, img_size), mode="grayscale")  # mask
        return images, masks


train_paths, val_paths = load_paths(data_dir, TRAIN_SPLIT_RATIO)

train_dataset = Dataset(
    train_paths[0], train_paths[1], IMAGE_SIZE, OUT_CLASSES, BATCH_SIZE, shuffle=True
)
val_dataset = Dataset(
    val_paths[0], val_paths[1], IMAGE_SIZE, OUT_CLASSES, BATCH_SIZE, shuffle=False
)

for image, mask in val_dataset:
    assert image.shape == (BATCH_SIZE, IMAGE_SIZE, IMAGE_SIZE, 3) and mask.shape == (BATCH_SIZE, IMAGE_SIZE, IMAGE_SIZE, 1)
    break

print(f"Unique values count: {len(np.unique((mask[0] * 255)))}")
print("Unique values:")
print(np.unique((mask[0] * 255)).astype(int))


def basic_block(x_input, filters, stride=1, down_sample=None, activation=None):
    """Creates a residual(identity) block with two 3*3 convolutions."""
    residual = x_input

    x = layers.Conv2D(filters, (3, 3), strides=stride, padding="same", use_bias=False)(
        x_input
    )
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)

    x = layers.Conv2D(filters, (3, 3), strides=(1, 1), padding="same", use_bias=False)(
        x
    )
    x = layers.BatchNormalization()(x)

    if down_sample is not None:
        residual = down_sample

    x = layers.Add()([x, residual])

    if activation is not None:
        x = layers.Activation(activation)(x)

    return x


def convolution_block(x_input, filters, dilation=1):
    """Apply convolution + batch normalization + relu layer."""
    x = layers.Conv2D(filters, (3, 3), padding="same", dilation_rate=dilation)(x_input)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x)


def segmentation_head(x_input, out_classes, final_size):
    """Map each decoder stage output to model output classes."""
    x = layers.Conv2D(out_classes, kernel_size=(3, 3), padding="same")(x_input)

    if final_size is not None:
        x = layers.Resizing(final_size[0], final_size[1])(x)

    return x


def get_resnet_block(_resnet, block_num):
    """Extract and return ResNet-34 block."""
    resnet_layers = [3, 4, 6, 3]  # ResNet-34 layer sizes at different block.
    return keras.models.Model(
        inputs=_resnet.get_layer(f"v2_stack_{block_num}_block1_1_conv").input,
        outputs=_resnet.get_layer(
            f"v2_stack_{block_num}_block{resnet_layers[block_num]}_add"
        ).output,
        name=f"resnet34_block{block_num + 1}",
    )


def basnet_predict(input_shape, out_classes):
    """BASNet Prediction Module, it outputs coarse label map."""
    filters = 8  # the page: 64
    num_stages = 6

    x_input = layers.Input(input_shape)

    # -------------Encoder--------------
    x = layers.Conv2D(filters, kernel_size=(3, 3), padding="same")(x_input)

    resnet = keras_cv.models.ResNet34Backbone(
        include_rescaling=False,
    )

    encoder_blocks = []
    for i in range(num_stages):
        if i < 4:  # First four stages are adopted from ResNet-34 blocks.
            x = get_resnet_block(resnet, i)(x)
            encoder_blocks.append(x)
            x = layers.Activation("relu")(x)
        else:  # Last 2 stages consist of three basic resnet blocks.
            x = layers.MaxPool2D(pool_size=(2, 2), strides=(2, 2))(x)
            x = basic_block(x, filters=filters * 8, activation="relu")
            x = basic_block(x, filters=filters * 8, activation="relu")
            x = basic_block(x, filters=filters * 8, activation="relu")
            encoder_blocks.append(x)

    # -------------Bridge-------------
    x = convolution_block(x, filters=filters * 8, dilation=2)
    x = convolution_block(x, filters=filters * 8, dilation=2)
    x = convolution_block(x, filters=filters * 8, dilation=2)
    encoder_blocks.append(x)

    # -------------Decoder-------------
    decoder_blocks = []
    for i in reversed(range(num_stages)):
        if i != (num_stages - 1):  # Except first, scale other decoder stages.
            shape = x.shape
            x = layers.Resizing(shape[1] * 2, shape[2] * 2)(x)

        x = layers.concatenate([encoder_blocks[i], x], axis=-1)
        x = convolution_block(x, filters=filters * 8)
        x = convolution_block(x, filters=filters * 8)
        x = convolution_block(x, filters=filters * 8)
        decoder_blocks.append(x)

    decoder_blocks.reverse()  # Change order from last to first decoder stage.
    decoder_blocks.append(encoder_blocks[-1])  # Copy bridge to decoder.

    # -------------Side Outputs--------------
    decoder_blocks = [
        segmentation_head(decoder_block, out_classes, input_shape[:2])
        for decoder_block in decoder_blocks
    ]

    return keras.models.Model(inputs=[x_input], outputs=decoder_blocks)


def basnet_rrm(base_model, out_classes):
    """BASNet Residual Refinement Module(RRM) module, output fine label map."""
    num_stages = 4
    filters = 8  # the page: 64

    x_input = base_model.output[0]

    # -------------Encoder--------------
    x = layers.Conv2D(filters, kernel_size=(3, 3), padding="same")(x_input)

    encoder_blocks = []
    for _ in range(num_stages):
        x = convolution_block(x, filters=filters)
        encoder_blocks.append(x)
        x = layers.MaxPool2D(pool_size=(2, 2), strides=(2, 2))(x)

    # -------------Bridge--------------
    x = convolution_block(x, filters=filters)

    # -------------Decoder--------------
    for i in reversed(range(num_stages)):
        shape = x.shape
        x = layers.Resizing(shape[1] * 2, shape[2] * 2)(x)
        x = layers.concatenate([encoder_blocks[i], x], axis=-1)
        x = convolution_block(x, filters=filters)

    x = segmentation_head(x, out_classes, None)  # Segmentation head.

    # ------------- refined = coarse + residual
    x = layers.Add()([x_input, x])  # Add prediction + refinement output

    return keras.models.Model(inputs=base_model.input[0], outputs=x)


class BASNet(keras.Model):
    def __init__(self, input_shape, out_classes):
        """BASNet, it's a combination of two modules
        Prediction Module and Residual Refinement Module(RRM)."""

        # Prediction model.
        predict_model = basnet_predict(input_shape, out_classes)
        # Refinement model.
        refine_model = basnet_rrm(predict_model, out_classes)

        output = refine_model.outputs  # Combine outputs.
        output.extend(predict_model.output)

        # Activations.
        output = [layers.Activation("sigmoid")(x) for x in output]
        super().__init__(inputs=predict_model.input[0], outputs=output)

        self.smooth = 1.0e-9
        # Binary Cross Entropy loss.
        self.cross_entropy_loss = keras.losses.BinaryCrossentropy()
        # Structural Similarity Index value.
        self.ssim_value = tf.image.ssim
        # Jaccard / IoU loss.
        self.iou_value = self.calculate_iou

    def calculate_iou(
        self,
        y_true,
        y_pred,
    ):
        """Calculate intersection over union (IoU) between images."""
        intersection = ops.sum(ops.abs(y_true * y_pred), axis=[1, 2, 3])
        union = ops.sum(y_true, [1, 2, 3]) + ops.sum(y_pred, [1, 2, 3])
        union = union - intersection
        return ops.mean((intersection + self.smooth) / (union + self.smooth), axis=0)

    def compute_loss(self, x, y_true, y_pred, sample_weight=None, training=False):
        total = 0.0
        for y_pred_i in y_pred:  # y_pred = refine_model.outputs + predict_model.output
            cross_entropy_loss = self.cross_entropy_loss(y_true, y_pred_i)

            ssim_value = self.ssim_value(y_true, y_pred, max_val=1)
            ssim_loss = ops.mean(1 - ssim_value + self.smooth, axis=0)

            iou_value = self.iou_value(y_true, y_pred)
            iou_loss = 1 - iou_value

            # Add all three losses.
            total += cross_entropy_loss + ssim_loss + iou_loss
        return total


basnet_model = BASNet(
    input_shape=[IMAGE_SIZE, IMAGE_SIZE, 3], out_classes=OUT_CLASSES
)  # Create model.
basnet_model.summary()  # Show model summary.
assert len(basnet_model.outputs) == 8
assert all(tuple(o.shape) == (None, IMAGE_SIZE, IMAGE_SIZE, 1) for o in basnet_model.outputs)

optimizer = keras.optimizers.Adam(learning_rate=1e-4, epsilon=1e-8)
# Compile model.
basnet_model.compile(
    optimizer=optimizer,
    metrics=[keras.metrics.MeanAbsoluteError(name="mae") for _ in basnet_model.outputs],
)

history = basnet_model.fit(train_dataset, validation_data=val_dataset, epochs=1)
print(history.history)
assert np.isfinite(history.history["loss"][-1]) and "val_loss" in history.history


def normalize_output(prediction):
    max_value = np.max(prediction)
    min_value = np.min(prediction)
    return (prediction - min_value) / (max_value - min_value)


# the page loads its pretrained weights; here the weights this program just trained
basnet_model.save_weights("./basnet.weights.npz")
trained = basnet_model.get_weights()
basnet_model.set_weights([np.zeros_like(w) for w in trained])
basnet_model.load_weights("./basnet.weights.npz")
assert all(np.array_equal(a, b) for a, b in zip(basnet_model.get_weights(), trained))

for (image, mask), _ in zip(val_dataset, range(1)):
    pred_mask = basnet_model.predict(image)
    shown = normalize_output(pred_mask[0][0])
    assert len(pred_mask) == 8 and pred_mask[0].shape == (BATCH_SIZE, IMAGE_SIZE, IMAGE_SIZE, 1)
    assert shown.min() == 0.0 and shown.max() == 1.0

# the hybrid loss as the page writes it, against NumPy: BCE of each output, plus SSIM and IoU of
# the whole output list (broadcast against the mask), for a batch of the validation data
y_true = mask
outs = [np.asarray(p) for p in pred_mask]
loss = float(np.mean(np.asarray(basnet_model.compute_loss(image, y_true, pred_mask))))
eps = 1e-7
stack = np.stack(outs)                                             # (8, B, H, W, 1)
inter = np.abs(y_true * stack).sum(axis=(1, 2, 3))                 # (8, 1): the page's axes
union = y_true.sum(axis=(1, 2, 3)) + stack.sum(axis=(1, 2, 3)) - inter
iou = ((inter + 1e-9) / (union + 1e-9)).mean(axis=0)
ssim = np.asarray(tf.image.ssim(y_true, pred_mask, max_val=1))
bce = [np.mean(-(y_true * np.log(np.clip(p, eps, 1 - eps)) + (1 - y_true) * np.log(np.clip(1 - p, eps, 1 - eps))))
       for p in outs]
ref = np.mean(sum(b + np.mean(1 - ssim + 1e-9, axis=0) + (1 - iou) for b in bce))
print("hybrid loss", loss, "NumPy", ref)
assert abs(loss - ref) < 1e-3 * max(1.0, abs(ref)), (loss, ref)
