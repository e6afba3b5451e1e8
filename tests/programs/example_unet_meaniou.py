"""A U-Net for semantic segmentation scored with MeanIoU, written the way keras.io's segmentation
examples and the TensorFlow segmentation tutorial write it (Ronneberger et al.'s encoder /
decoder: Conv2D pairs, MaxPooling2D down, Conv2DTranspose up, skip connections by
concatenation, a per-pixel softmax), with only the imports changed. The pictures are synthetic
24x24 scenes of grey squares (class 1) and bright discs (class 2) on a noisy background (class 0); the
metrics are Keras 3's MeanIoU(sparse_y_pred=False) and IoU of one class, checked against an
intersection-over-union computed here from the predicted masks."""
import numpy as np

from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(1)

IMG = 24
NUM_CLASSES = 3


def make_scenes(n, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:IMG, :IMG]
    images = rng.normal(0.2, 0.08, (n, IMG, IMG, 1))
    masks = np.zeros((n, IMG, IMG), np.int64)
    for i in range(n):
        for _ in range(2):
            cy, cx, r = rng.integers(5, IMG - 5), rng.integers(5, IMG - 5), rng.integers(3, 5)
            if rng.random() < 0.5:
                shape = (np.abs(yy - cy) <= r) & (np.abs(xx - cx) <= r)
                masks[i][shape] = 1
            else:
                shape = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
                masks[i][shape] = 2
            # squares are mid grey, discs bright: the net still has to find each object's extent
            images[i, shape, 0] = rng.normal(0.55 if masks[i][shape].max() == 1 else 0.95, 0.05, shape.sum())
    return images.astype("float32"), masks


def double_conv(x, filters):
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return x


def get_unet():
    inputs = keras.Input(shape=(IMG, IMG, 1))
    c1 = double_conv(inputs, 8)
    p1 = layers.MaxPooling2D(2)(c1)
    c2 = double_conv(p1, 16)
    p2 = layers.MaxPooling2D(2)(c2)
    bottleneck = double_conv(p2, 32)
    u2 = layers.Conv2DTranspose(16, 2, strides=2, padding="same")(bottleneck)
    c3 = double_conv(layers.concatenate([u2, c2]), 16)
    u1 = layers.Conv2DTranspose(8, 2, strides=2, padding="same")(c3)
    c4 = double_conv(layers.concatenate([u1, c1]), 8)
    outputs = layers.Conv2D(NUM_CLASSES, 1, activation="softmax")(c4)
    return keras.Model(inputs, outputs, name="unet")


x_train, y_train = make_scenes(160, 0)
x_val, y_val = make_scenes(40, 1)

model = get_unet()
model.summary()
model.compile(
    optimizer=keras.optimizers.Adam(1e-2),
    loss="sparse_categorical_crossentropy",
    metrics=[
        keras.metrics.MeanIoU(num_classes=NUM_CLASSES, sparse_y_pred=False),
        keras.metrics.IoU(num_classes=NUM_CLASSES, target_class_ids=[2], sparse_y_pred=False, name="disc_iou"),
    ],
)
history = model.fit(x_train, y_train, batch_size=16, epochs=8, validation_data=(x_val, y_val), verbose=2)
print({k: [round(v, 3) for v in vals] for k, vals in history.history.items()})
assert history.history["val_mean_io_u"][-1] > 0.6, history.history["val_mean_io_u"]
assert history.history["mean_io_u"][-1] > history.history["mean_io_u"][0]


def mean_iou(truth, pred, classes):
    scores = []
    for c in classes:
        inter = np.sum((truth == c) & (pred == c))
        union = np.sum((truth == c) | (pred == c))
        if union:
            scores.append(inter / union)
    return float(np.mean(scores))


pred = model.predict(x_val, verbose=0).argmax(axis=-1)
results = model.evaluate(x_val, y_val, verbose=0, return_dict=True)
print(results)
assert abs(results["mean_io_u"] - mean_iou(y_val, pred, range(NUM_CLASSES))) < 1e-4
assert abs(results["disc_iou"] - mean_iou(y_val, pred, [2])) < 1e-4
