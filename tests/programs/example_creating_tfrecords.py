"""keras.io example "Creating TFRecords" (keras_recipes/creating_tfrecords), imports changed:
COCO-style annotations (id, image_id, category_id, bbox, area) and .jpg files, the
`image_feature` / `bytes_feature` / `float_feature` / `int64_feature` / `float_feature_list`
helpers (tf.io.encode_jpeg of a decoded image into a BytesList), `create_example` building a
tf.train.Example, TFRecord files written with tf.io.TFRecordWriter as `file_%.2i-%i.tfrec`,
`parse_tfrecord_fn` (tf.io.parse_single_example with FixedLenFeature and a VarLenFeature bbox
made dense with tf.sparse.to_dense, tf.io.decode_jpeg(channels=3)), a
TFRecordDataset(num_parallel_reads=AUTOTUNE) -> map -> map -> shuffle -> batch -> prefetch
pipeline over tf.io.gfile.glob, and keras.applications.EfficientNetB0(input_tensor=...,
weights=None, classes=91) trained on it. COCO val2017 is replaced by 96 synthetic annotations
over 24 generated 40x48 .jpg images (two TFRecord files of n_samples=64 and 32); to run in
seconds the images are resized to 32x32 instead of 224x224, with batch_size 16, 3 epochs of 2
steps (the 6 batches of the records). Checked: every parsed record against the annotation it came from (the image against the
JPEG decoded directly), and that the model trained on the records."""
import json
import os
import pprint

import numpy as np

import corenn as tf

root_dir = "datasets"
tfrecords_dir = "tfrecords"
images_dir = os.path.join(root_dir, "val2017")
annotations_dir = os.path.join(root_dir, "annotations")
annotation_file = os.path.join(annotations_dir, "instances_val2017.json")

# the COCO download, replaced: 24 images of coloured blocks and 96 annotations of them
os.makedirs(images_dir, exist_ok=True)
os.makedirs(annotations_dir, exist_ok=True)
rng = np.random.default_rng(0)
synthetic = []
for i in range(96):
    image_id = 100 + i // 4
    category_id = int(rng.integers(1, 91))
    x0, y0 = float(rng.integers(0, 20)), float(rng.integers(0, 20))
    w, h = float(rng.integers(5, 20)), float(rng.integers(5, 20))
    synthetic.append({"id": 5000 + i, "image_id": image_id, "category_id": category_id,
                      "bbox": [x0, y0, w, h], "area": w * h, "iscrowd": 0})
for image_id in range(100, 124):
    img = np.zeros((40, 48, 3), np.uint8)
    img[:, :, image_id % 3] = 40 * (image_id % 6)
    img[5:25, 10:30] = 255
    tf.io.write_file(f"{images_dir}/{image_id:012d}.jpg", tf.io.encode_jpeg(tf.constant(img)))
with open(annotation_file, "w") as f:
    json.dump({"annotations": synthetic}, f)

print("The COCO dataset has been downloaded and extracted successfully.")

with open(annotation_file, "r") as f:
    annotations = json.load(f)["annotations"]

print(f"Number of images: {len(annotations)}")

pprint.pprint(annotations[60])

n_samples = 64
n_tfrecods = len(annotations) // n_samples
if len(annotations) % n_samples:
    n_tfrecods += 1  # add one record if there are any remaining samples

if not os.path.exists(tfrecords_dir):
    os.makedirs(tfrecords_dir)  # creating TFRecords output folder


def image_feature(value):
    """Returns a bytes_list from a string / byte."""
    return tf.train.Feature(
        bytes_list=tf.train.BytesList(value=[tf.io.encode_jpeg(value).numpy()])
    )


def bytes_feature(value):
    """Returns a bytes_list from a string / byte."""
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))


def float_feature(value):
    """Returns a float_list from a float / double."""
    return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))


def int64_feature(value):
    """Returns an int64_list from a bool / enum / int / uint."""
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def float_feature_list(value):
    """Returns a list of float_list from a float / double."""
    return tf.train.Feature(float_list=tf.train.FloatList(value=value))


def create_example(image, path, example):
    feature = {
        "image": image_feature(image),
        "path": bytes_feature(path),
        "area": float_feature(example["area"]),
        "bbox": float_feature_list(example["bbox"]),
        "category_id": int64_feature(example["category_id"]),
        "id": int64_feature(example["id"]),
        "image_id": int64_feature(example["image_id"]),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


def parse_tfrecord_fn(example):
    feature_description = {
        "image": tf.io.FixedLenFeature([], tf.string),
        "path": tf.io.FixedLenFeature([], tf.string),
        "area": tf.io.FixedLenFeature([], tf.float32),
        "bbox": tf.io.VarLenFeature(tf.float32),
        "category_id": tf.io.FixedLenFeature([], tf.int64),
        "id": tf.io.FixedLenFeature([], tf.int64),
        "image_id": tf.io.FixedLenFeature([], tf.int64),
    }
    example = tf.io.parse_single_example(example, feature_description)
    example["image"] = tf.io.decode_jpeg(example["image"], channels=3)
    example["bbox"] = tf.sparse.to_dense(example["bbox"])
    return example


for tfrec_num in range(n_tfrecods):
    samples = annotations[(tfrec_num * n_samples) : ((tfrec_num + 1) * n_samples)]

    with tf.io.TFRecordWriter(
        tfrecords_dir + "/file_%.2i-%i.tfrec" % (tfrec_num, len(samples))
    ) as writer:
        for sample in samples:
            image_path = f"{images_dir}/{sample['image_id']:012d}.jpg"
            image = tf.io.decode_jpeg(tf.io.read_file(image_path))
            example = create_example(image, image_path, sample)
            writer.write(example.SerializeToString())

raw_dataset = tf.data.TFRecordDataset(f"{tfrecords_dir}/file_00-{n_samples}.tfrec")
parsed_dataset = raw_dataset.map(parse_tfrecord_fn)

for features in parsed_dataset.take(1):
    for key in features.keys():
        if key != "image":
            print(f"{key}: {features[key]}")

    print(f"Image shape: {features['image'].shape}")

# the check, part 1: every record of the first file gives back its annotation; the image went
# through JPEG twice (encode_jpeg of the decoded file), so it is compared loosely
for features, sample in zip(parsed_dataset, annotations[:n_samples]):
    assert int(features["id"]) == sample["id"] and int(features["image_id"]) == sample["image_id"]
    assert int(features["category_id"]) == sample["category_id"]
    np.testing.assert_allclose(features["bbox"].numpy(), sample["bbox"])
    np.testing.assert_allclose(float(features["area"]), sample["area"], rtol=1e-6)
    path = features["path"].numpy().decode()
    assert path == f"{images_dir}/{sample['image_id']:012d}.jpg"
    direct = tf.io.decode_jpeg(tf.io.read_file(path)).numpy().astype(int)
    assert features["image"].shape == (40, 48, 3) and features["image"].dtype == tf.uint8
    assert np.abs(features["image"].numpy().astype(int) - direct).mean() < 3
assert sorted(os.listdir(tfrecords_dir)) == ["file_00-64.tfrec", "file_01-32.tfrec"]


def prepare_sample(features):
    image = tf.image.resize(features["image"], size=(32, 32))
    return image, features["category_id"]


def get_dataset(filenames, batch_size):
    """Return a Tensorflow dataset ready for training or inference."""
    dataset = (
        tf.data.TFRecordDataset(
            filenames, num_parallel_reads=tf.data.experimental.AUTOTUNE
        )
        .map(parse_tfrecord_fn, num_parallel_calls=tf.data.experimental.AUTOTUNE)
        .map(prepare_sample, num_parallel_calls=tf.data.experimental.AUTOTUNE)
        .shuffle(batch_size * 10)
        .batch(batch_size)
        .prefetch(tf.data.experimental.AUTOTUNE)
    )
    return dataset


train_filenames = tf.io.gfile.glob(tfrecords_dir + "/*.tfrec")
batch_size = 16
epochs = 3
steps_per_epoch = 2

tf.keras.utils.set_random_seed(0)
input_tensor = tf.keras.layers.Input(shape=(32, 32, 3), name="image")
model = tf.keras.applications.EfficientNetB0(
    input_tensor=input_tensor, weights=None, classes=91
)


model.compile(
    optimizer=tf.keras.optimizers.Adam(),
    loss=tf.keras.losses.SparseCategoricalCrossentropy(),
    metrics=["sparse_categorical_accuracy"],
)


start = [w.copy() for w in model.get_weights()]
history = model.fit(
    x=get_dataset(train_filenames, batch_size),
    epochs=epochs,
    steps_per_epoch=steps_per_epoch,
    verbose=1,
)

# the check, part 2: the model trained on the records (finite losses, weights moved, 91 classes out)
loss = history.history["loss"]
print("loss", loss)
assert len(train_filenames) == 2 and len(loss) == 3 and np.all(np.isfinite(loss)), loss
assert any(not np.array_equal(a, b) for a, b in zip(start, model.get_weights()))
x, y = next(iter(get_dataset(train_filenames, batch_size)))
assert x.shape == (16, 32, 32, 3) and model.predict(x, verbose=0).shape == (16, 91)
