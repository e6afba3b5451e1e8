"""keras.io example "How to train a Keras model on TFRecord files" (keras_recipes/tfrecord),
imports changed: the TPU probe (tf.distribute.cluster_resolver.TPUClusterResolver.connect()
inside a bare try / except falling back to tf.distribute.get_strategy(), as on any machine
without a TPU), tf.io.gfile.glob of the .tfrec files split 90 / 10, `decode_image`
(tf.image.decode_jpeg(channels=3), tf.cast, tf.reshape to IMAGE_SIZE), `read_tfrecord` parsing
labeled and unlabeled records with tf.io.parse_single_example, tf.data.Options with
experimental_deterministic = False, TFRecordDataset -> with_options -> map(partial(...),
num_parallel_calls=AUTOTUNE) -> shuffle -> prefetch -> batch, ExponentialDecay(staircase=True),
ModelCheckpoint("melanoma_model.h5", save_best_only=True), EarlyStopping(restore_best_weights=True),
a frozen Xception base (include_top=False) behind xception.preprocess_input, GlobalAveragePooling2D,
Dense / Dropout, AUC, fit under strategy.scope(), and model.predict on tf.expand_dims of test
images. The Kaggle melanoma TFRecords on GCS are replaced by 10 local files of synthetic JPEGs
(a bright blob on malignant ones); 1024x1024 images by 72x72 (Xception's smallest size is 71),
BATCH_SIZE 64 by 16, and the ImageNet weights by weights=None (no download). The matplotlib
figures are left out. Checked: the strategy fallback, the parsed records against what was
written, the reloaded .h5 checkpoint (the best validation loss again), that training ran two epochs with finite AUC, and the
predictions' range. On TensorFlow 2.21 (Keras 3.15) the page itself stops at compile (Keras 3
wants metrics= as a list); given a list, it trains, writes the .h5, and its load_model refuses
the file (`Unknown layer: 'TrueDivide'`, the op preprocess_input records), where corenn
reloads it."""
import os
from functools import partial

import numpy as np

import corenn as tf

try:
    tpu = tf.distribute.cluster_resolver.TPUClusterResolver.connect()
    print("Device:", tpu.master())
    strategy = tf.distribute.TPUStrategy(tpu)
except:  # noqa: E722 - the example's own bare except
    strategy = tf.distribute.get_strategy()
print("Number of replicas:", strategy.num_replicas_in_sync)
assert strategy.num_replicas_in_sync == 1 and strategy is tf.distribute.get_strategy()

AUTOTUNE = tf.data.AUTOTUNE
GCS_PATH = "melanoma"   # the example's gs:// bucket, made here
BATCH_SIZE = 16
IMAGE_SIZE = [72, 72]

# ---- the bucket's TFRecord files, written here: 8 train files of 8 labeled images, 2 test
#      files of 8 unlabeled ones ----
os.makedirs(GCS_PATH + "/tfrecords", exist_ok=True)
rng = np.random.default_rng(0)
written = {}


def _synthetic_image(target):
    img = rng.integers(60, 120, (*IMAGE_SIZE, 3)).astype(np.uint8)
    if target:
        img[20:50, 20:50] = 230
    return tf.io.encode_jpeg(tf.constant(img)).numpy()


for kind, n_files in (("train", 8), ("test", 2)):
    for i in range(n_files):
        name = f"{GCS_PATH}/tfrecords/{kind}{i:02d}-8.tfrec"
        with tf.io.TFRecordWriter(name) as writer:
            for j in range(8):
                target = int(rng.integers(0, 2))
                feature = {"image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[_synthetic_image(target)]))}
                if kind == "train":
                    feature["target"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[target]))
                written.setdefault(name, []).append(target)
                writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())

FILENAMES = tf.io.gfile.glob(GCS_PATH + "/tfrecords/train*.tfrec")
split_ind = int(0.9 * len(FILENAMES))
TRAINING_FILENAMES, VALID_FILENAMES = FILENAMES[:split_ind], FILENAMES[split_ind:]

TEST_FILENAMES = tf.io.gfile.glob(GCS_PATH + "/tfrecords/test*.tfrec")
print("Train TFRecord Files:", len(TRAINING_FILENAMES))
print("Validation TFRecord Files:", len(VALID_FILENAMES))
print("Test TFRecord Files:", len(TEST_FILENAMES))
assert (len(TRAINING_FILENAMES), len(VALID_FILENAMES), len(TEST_FILENAMES)) == (7, 1, 2)


def decode_image(image):
    image = tf.image.decode_jpeg(image, channels=3)
    image = tf.cast(image, tf.float32)
    image = tf.reshape(image, [*IMAGE_SIZE, 3])
    return image


def read_tfrecord(example, labeled):
    tfrecord_format = (
        {
            "image": tf.io.FixedLenFeature([], tf.string),
            "target": tf.io.FixedLenFeature([], tf.int64),
        }
        if labeled
        else {
            "image": tf.io.FixedLenFeature([], tf.string),
        }
    )
    example = tf.io.parse_single_example(example, tfrecord_format)
    image = decode_image(example["image"])
    if labeled:
        label = tf.cast(example["target"], tf.int32)
        return image, label
    return image


def load_dataset(filenames, labeled=True):
    ignore_order = tf.data.Options()
    ignore_order.experimental_deterministic = False  # disable order, increase speed
    dataset = tf.data.TFRecordDataset(
        filenames
    )  # automatically interleaves reads from multiple files
    dataset = dataset.with_options(
        ignore_order
    )  # uses data as soon as it streams in, rather than in its original order
    dataset = dataset.map(
        partial(read_tfrecord, labeled=labeled), num_parallel_calls=AUTOTUNE
    )
    # returns a dataset of (image, label) pairs if labeled=True or just images if labeled=False
    return dataset


def get_dataset(filenames, labeled=True):
    dataset = load_dataset(filenames, labeled=labeled)
    dataset = dataset.shuffle(2048)
    dataset = dataset.prefetch(buffer_size=AUTOTUNE)
    dataset = dataset.batch(BATCH_SIZE)
    return dataset


train_dataset = get_dataset(TRAINING_FILENAMES)
valid_dataset = get_dataset(VALID_FILENAMES)
test_dataset = get_dataset(TEST_FILENAMES, labeled=False)

image_batch, label_batch = next(iter(train_dataset))
assert image_batch.shape == (16, 72, 72, 3) and image_batch.dtype == tf.float32
assert label_batch.dtype == tf.int32 and set(np.unique(label_batch.numpy())) <= {0, 1}
# the labels read back are the targets written (in file order, unshuffled)
read_back = [int(y) for _, y in load_dataset(TRAINING_FILENAMES)]
assert sorted(read_back) == sorted(t for f in TRAINING_FILENAMES for t in written[f])
assert [int(y) for _, y in load_dataset(TRAINING_FILENAMES[:1])] == written[TRAINING_FILENAMES[0]]

initial_learning_rate = 0.01
lr_schedule = tf.keras.optimizers.schedules.ExponentialDecay(
    initial_learning_rate, decay_steps=20, decay_rate=0.96, staircase=True
)

checkpoint_cb = tf.keras.callbacks.ModelCheckpoint(
    "melanoma_model.h5", save_best_only=True
)

early_stopping_cb = tf.keras.callbacks.EarlyStopping(
    patience=10, restore_best_weights=True
)


def make_model():
    base_model = tf.keras.applications.Xception(
        input_shape=(*IMAGE_SIZE, 3), include_top=False, weights=None
    )

    base_model.trainable = False

    inputs = tf.keras.layers.Input([*IMAGE_SIZE, 3])
    x = tf.keras.applications.xception.preprocess_input(inputs)
    x = base_model(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = tf.keras.layers.Dense(8, activation="relu")(x)
    x = tf.keras.layers.Dropout(0.7)(x)
    outputs = tf.keras.layers.Dense(1, activation="sigmoid")(x)

    model = tf.keras.Model(inputs=inputs, outputs=outputs)

    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=lr_schedule),
        loss="binary_crossentropy",
        metrics=tf.keras.metrics.AUC(name="auc"),
    )

    return model


tf.keras.utils.set_random_seed(0)
with strategy.scope():
    model = make_model()

history = model.fit(
    train_dataset,
    epochs=2,
    validation_data=valid_dataset,
    callbacks=[checkpoint_cb, early_stopping_cb],
)

image_batch = next(iter(test_dataset))
predictions = []
for n in range(len(image_batch)):
    img_array = tf.expand_dims(image_batch[n], axis=0)
    predictions.append(model.predict(img_array, verbose=0)[0])

# the check: two epochs with their AUCs, the best model written, predictions are probabilities
print(history.history)
assert len(history.history["auc"]) == 2 and np.all(np.isfinite(history.history["val_auc"]))
# the .h5 checkpoint (a legacy HDF5 file holding the Xception model nested in the classifier) is
# the model of the best validation loss: reloaded, it gives that loss on the validation data
best = tf.keras.models.load_model("melanoma_model.h5")
assert [layer.name for layer in best.layers] == [layer.name for layer in model.layers]
np.testing.assert_allclose(best.evaluate(valid_dataset, verbose=0)[0], min(history.history["val_loss"]), rtol=1e-5)
predictions = np.array(predictions)
assert predictions.shape == (16, 1) and ((predictions >= 0) & (predictions <= 1)).all()
assert len(model.trainable_weights) == 4   # the two Dense layers; the Xception base is frozen
