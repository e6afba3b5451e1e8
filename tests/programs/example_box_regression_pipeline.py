"""An object-localisation program in the style of the keras.io bounding-box examples, written
against Keras 3.15's / TensorFlow 2.21's names only (`import tensorflow as tf`, `from tensorflow
import keras` -> corenn): a tf.data pipeline augments images and their boxes together with the
image layers' `bounding_box_format=`, pads them with `MaxNumBoundingBoxes`, a small CNN regresses
`encode_box_to_deltas` targets against one anchor, the predictions are decoded with
`decode_deltas_to_boxes`, flip test-time augmentation gives two candidates per image that
`tf.image.non_max_suppression` reduces to one, and `compute_iou` scores them.
Synthetic data: one bright rectangle per 32x32 image."""
import numpy as np
import corenn as tf
from corenn import keras

tf.random.set_seed(3)
rng = np.random.default_rng(3)
SIZE = 32


def make_data(n):
    images = rng.uniform(0, 60, (n, SIZE, SIZE, 3)).astype("float32")
    boxes = np.zeros((n, 1, 4), "float32")
    for i in range(n):
        w, h = rng.integers(8, 20, 2)
        x, y = rng.integers(0, SIZE - w), rng.integers(0, SIZE - h)
        images[i, y:y + h, x:x + w] += 180
        boxes[i, 0] = [x, y, x + w, y + h]   # xyxy
    return images, boxes, np.ones((n, 1), "int32")


x_train, b_train, l_train = make_data(512)
x_test, b_test, l_test = make_data(64)

augment = keras.layers.Pipeline([
    keras.layers.RandomFlip("horizontal", bounding_box_format="xyxy"),
    keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", bounding_box_format="xyxy"),
    keras.layers.MaxNumBoundingBoxes(max_number=1),
])
ANCHOR = np.array([[0, 0, SIZE, SIZE]], "float32")   # one anchor: the whole image


def to_training_pair(data):
    boxes = data["bounding_boxes"]["boxes"]
    deltas = keras.utils.bounding_boxes.encode_box_to_deltas(
        anchors=ANCHOR, boxes=boxes, anchor_format="xyxy", box_format="xyxy",
        variance=[0.1, 0.1, 0.2, 0.2])
    return data["images"] / 255.0, tf.reshape(deltas, (-1, 4))


ds = (tf.data.Dataset.from_tensor_slices(
          {"images": x_train, "bounding_boxes": {"boxes": b_train, "labels": l_train}})
      .batch(32)
      .map(augment)
      .map(to_training_pair))

model = keras.Sequential([
    keras.Input((SIZE, SIZE, 3)),
    keras.layers.Conv2D(16, 3, activation="relu", padding="same"),
    keras.layers.MaxPooling2D(2),
    keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
    keras.layers.MaxPooling2D(2),
    keras.layers.Flatten(),
    keras.layers.Dense(64, activation="relu"),
    keras.layers.Dense(4),
])
model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="huber")
history = model.fit(ds, epochs=12, verbose=0)
print("loss", history.history["loss"][0], "->", history.history["loss"][-1])
assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def predict_boxes(images):
    deltas = model.predict(images / 255.0, verbose=0)
    return np.asarray(keras.utils.bounding_boxes.decode_deltas_to_boxes(
        anchors=ANCHOR, boxes_delta=deltas, anchor_format="xyxy", box_format="xyxy",
        variance=[0.1, 0.1, 0.2, 0.2]))


# test-time augmentation: the flipped image's box, flipped back, is a second candidate
plain = predict_boxes(x_test)
mirrored = predict_boxes(x_test[:, :, ::-1])
mirrored = np.stack([SIZE - mirrored[:, 2], mirrored[:, 1], SIZE - mirrored[:, 0], mirrored[:, 3]], -1)
kept = []
for i in range(len(x_test)):
    candidates = np.stack([plain[i], mirrored[i]])
    iou_pair = float(np.asarray(keras.utils.bounding_boxes.compute_iou(
        candidates[:1], candidates[1:], "xyxy"))[0, 0])
    scores = np.array([0.6, 0.5], "float32")
    yxyx = np.asarray(keras.utils.bounding_boxes.convert_format(candidates, "xyxy", "yxyx"))
    selected = np.asarray(tf.image.non_max_suppression(yxyx, scores, max_output_size=2,
                                                       iou_threshold=0.5))
    assert selected[0] == 0 and (len(selected) == 1) == (iou_pair > 0.5)
    kept.append(candidates[selected[0]])
ious = np.diagonal(np.asarray(keras.utils.bounding_boxes.compute_iou(
    np.stack(kept), b_test[:, 0], "xyxy")))
print("mean IoU on held-out images:", ious.mean())
assert ious.mean() > 0.5
