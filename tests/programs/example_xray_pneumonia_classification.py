"""keras.io example "Pneumonia Classification on TPU" (vision/xray_classification_with_tpus),
imports changed: the TPU probe (TPUClusterResolver, experimental_connect_to_cluster,
initialize_tpu_system, experimental.TPUStrategy inside a bare try / except falling back to
tf.distribute.get_strategy()), tf.io.gfile.glob of a train / val / test directory tree of
JPEGs, tf.data.Dataset.from_tensor_slices of file names, tf.data.experimental.cardinality,
class names from tf.strings.split(path, os.path.sep)[-1], a label from the parent directory
(`parts[-2] == "PNEUMONIA"`, a bool), tf.io.read_file -> tf.image.decode_jpeg(channels=3) ->
tf.image.convert_image_dtype(tf.float32) -> tf.image.resize, Dataset.list_files for the test
set, `prepare_for_training` (cache -> shuffle -> repeat -> batch -> prefetch), a Sequential CNN
of nested Sequential blocks (SeparableConv2D, BatchNormalization, MaxPool2D, Dense, Dropout),
class weights for the imbalance, Precision / Recall metrics, fit with steps_per_epoch /
validation_steps on repeated datasets, then ModelCheckpoint("xray_model.h5",
save_best_only=True), EarlyStopping(restore_best_weights=True) and a LearningRateScheduler of an
exponential decay, and evaluate on the test set. The Kaggle chest X-rays on GCS are replaced by a
local tree of 64x64 synthetic JPEGs (a bright patch in a lung on PNEUMONIA scans, three times as
many of them as NORMAL ones); IMAGE_SIZE 180x180 is 32x32, BATCH_SIZE 16 stays, the epochs are
10 and 6 (25 and 100 with EarlyStopping in the page). sklearn's train_test_split is a small NumPy stand-in
and the unused pandas import and the matplotlib figures are left out. Checked: the fallback
strategy, the counts and labels read from the paths, the learning rates the scheduler set, the
.h5 checkpoint reloaded, the training accuracy, and the test accuracy (at least the majority
class's share: with this few steps BatchNormalization's moving statistics still lag)."""
import re  # noqa: F401 - the example's imports
import os
import numpy as np
import corenn as tf


def train_test_split(items, test_size):   # sklearn.model_selection's, shuffled
    items = list(items)
    order = np.random.default_rng(1).permutation(len(items))
    n_test = int(np.ceil(len(items) * test_size))
    return [items[i] for i in order[n_test:]], [items[i] for i in order[:n_test]]


try:
    tpu = tf.distribute.cluster_resolver.TPUClusterResolver()
    print("Device:", tpu.master())
    tf.config.experimental_connect_to_cluster(tpu)
    tf.tpu.experimental.initialize_tpu_system(tpu)
    strategy = tf.distribute.experimental.TPUStrategy(tpu)
except:  # noqa: E722 - the example's own bare except
    strategy = tf.distribute.get_strategy()
print("Number of replicas:", strategy.num_replicas_in_sync)
assert strategy.num_replicas_in_sync == 1

print(tf.__version__)

tf.keras.utils.set_random_seed(3)
AUTOTUNE = tf.data.experimental.AUTOTUNE
GCS_PATH = "xray_bucket"   # the page's gs:// bucket, written here
BATCH_SIZE = 16 * strategy.num_replicas_in_sync
IMAGE_SIZE = [32, 32]
EPOCHS = 10

# ---- the bucket: chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg ----
rng = np.random.default_rng(0)
for split, n_normal in (("train", 40), ("val", 4), ("test", 12)):
    for cls, n in (("NORMAL", n_normal), ("PNEUMONIA", 3 * n_normal)):
        os.makedirs(f"{GCS_PATH}/chest_xray/{split}/{cls}", exist_ok=True)
        for i in range(n):
            img = rng.integers(30, 70, (64, 64, 3)).astype(np.uint8)
            if cls == "PNEUMONIA":
                r, c = rng.integers(8, 32, 2)
                img[r:r + 24, c:c + 24] = rng.integers(200, 250)
            with open(f"{GCS_PATH}/chest_xray/{split}/{cls}/img{i:03d}.jpeg", "wb") as f:
                f.write(tf.io.encode_jpeg(tf.constant(img)).numpy())

filenames = tf.io.gfile.glob(str(GCS_PATH + "/chest_xray/train/*/*"))
filenames.extend(tf.io.gfile.glob(str(GCS_PATH + "/chest_xray/val/*/*")))

train_filenames, val_filenames = train_test_split(filenames, test_size=0.2)

COUNT_NORMAL = len([filename for filename in train_filenames if "NORMAL" in filename])
print("Normal images count in training set: " + str(COUNT_NORMAL))

COUNT_PNEUMONIA = len(
    [filename for filename in train_filenames if "PNEUMONIA" in filename]
)
print("Pneumonia images count in training set: " + str(COUNT_PNEUMONIA))
assert COUNT_NORMAL + COUNT_PNEUMONIA == len(train_filenames) == 140
assert COUNT_PNEUMONIA > 2 * COUNT_NORMAL

train_list_ds = tf.data.Dataset.from_tensor_slices(train_filenames)
val_list_ds = tf.data.Dataset.from_tensor_slices(val_filenames)

for f in train_list_ds.take(5):
    print(f.numpy())

TRAIN_IMG_COUNT = tf.data.experimental.cardinality(train_list_ds).numpy()
print("Training images count: " + str(TRAIN_IMG_COUNT))

VAL_IMG_COUNT = tf.data.experimental.cardinality(val_list_ds).numpy()
print("Validating images count: " + str(VAL_IMG_COUNT))
assert (TRAIN_IMG_COUNT, VAL_IMG_COUNT) == (140, 36)

CLASS_NAMES = np.array(
    [
        str(tf.strings.split(item, os.path.sep)[-1].numpy())[2:-1]
        for item in tf.io.gfile.glob(str(GCS_PATH + "/chest_xray/train/*"))
    ]
)
print(CLASS_NAMES)
assert sorted(CLASS_NAMES) == ["NORMAL", "PNEUMONIA"]


def get_label(file_path):
    # convert the path to a list of path components
    parts = tf.strings.split(file_path, os.path.sep)
    # The second to last is the class-directory
    return parts[-2] == "PNEUMONIA"


def decode_img(img):
    # convert the compressed string to a 3D uint8 tensor
    img = tf.image.decode_jpeg(img, channels=3)
    # Use `convert_image_dtype` to convert to floats in the [0,1] range.
    img = tf.image.convert_image_dtype(img, tf.float32)
    # resize the image to the desired size.
    return tf.image.resize(img, IMAGE_SIZE)


def process_path(file_path):
    label = get_label(file_path)
    # load the raw data from the file as a string
    img = tf.io.read_file(file_path)
    img = decode_img(img)
    return img, label


train_ds = train_list_ds.map(process_path, num_parallel_calls=AUTOTUNE)

val_ds = val_list_ds.map(process_path, num_parallel_calls=AUTOTUNE)

for image, label in train_ds.take(1):
    print("Image shape: ", image.numpy().shape)
    print("Label: ", label.numpy())
    assert image.numpy().shape == (32, 32, 3) and image.dtype == tf.float32
    assert 0.0 <= image.numpy().min() and image.numpy().max() <= 1.0
    assert bool(label.numpy()) == ("PNEUMONIA" in train_filenames[0])

test_list_ds = tf.data.Dataset.list_files(str(GCS_PATH + "/chest_xray/test/*/*"))
TEST_IMAGE_COUNT = tf.data.experimental.cardinality(test_list_ds).numpy()
test_ds = test_list_ds.map(process_path, num_parallel_calls=AUTOTUNE)
test_ds = test_ds.batch(BATCH_SIZE)

print(TEST_IMAGE_COUNT)
assert TEST_IMAGE_COUNT == 48


def prepare_for_training(ds, cache=True, shuffle_buffer_size=1000):
    # This is a small dataset, only load it once, and keep it in memory.
    # use `.cache(filename)` to cache preprocessing work for datasets that don't
    # fit in memory.
    if cache:
        if isinstance(cache, str):
            ds = ds.cache(cache)
        else:
            ds = ds.cache()

    ds = ds.shuffle(buffer_size=shuffle_buffer_size)

    # Repeat forever
    ds = ds.repeat()

    ds = ds.batch(BATCH_SIZE)

    # `prefetch` lets the dataset fetch batches in the background while the model
    # is training.
    ds = ds.prefetch(buffer_size=AUTOTUNE)

    return ds


train_ds = prepare_for_training(train_ds)
val_ds = prepare_for_training(val_ds)

image_batch, label_batch = next(iter(train_ds))
assert image_batch.shape == (16, 32, 32, 3) and label_batch.shape == (16,)
assert label_batch.numpy().dtype == np.bool_


def conv_block(filters):
    block = tf.keras.Sequential(
        [
            tf.keras.layers.SeparableConv2D(
                filters, 3, activation="relu", padding="same"
            ),
            tf.keras.layers.SeparableConv2D(
                filters, 3, activation="relu", padding="same"
            ),
            tf.keras.layers.BatchNormalization(),
            tf.keras.layers.MaxPool2D(),
        ]
    )

    return block


def dense_block(units, dropout_rate):
    block = tf.keras.Sequential(
        [
            tf.keras.layers.Dense(units, activation="relu"),
            tf.keras.layers.BatchNormalization(),
            tf.keras.layers.Dropout(dropout_rate),
        ]
    )

    return block


def build_model():
    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(IMAGE_SIZE[0], IMAGE_SIZE[1], 3)),
            tf.keras.layers.Conv2D(16, 3, activation="relu", padding="same"),
            tf.keras.layers.Conv2D(16, 3, activation="relu", padding="same"),
            tf.keras.layers.MaxPool2D(),
            conv_block(32),
            conv_block(64),
            conv_block(128),
            tf.keras.layers.Dropout(0.2),
            conv_block(256),
            tf.keras.layers.Dropout(0.2),
            tf.keras.layers.Flatten(),
            dense_block(512, 0.7),
            dense_block(128, 0.5),
            dense_block(64, 0.3),
            tf.keras.layers.Dense(1, activation="sigmoid"),
        ]
    )

    return model


initial_bias = np.log([COUNT_PNEUMONIA / COUNT_NORMAL])
print(initial_bias)

weight_for_0 = (1 / COUNT_NORMAL) * (TRAIN_IMG_COUNT) / 2.0
weight_for_1 = (1 / COUNT_PNEUMONIA) * (TRAIN_IMG_COUNT) / 2.0

class_weight = {0: weight_for_0, 1: weight_for_1}

print("Weight for class 0: {:.2f}".format(weight_for_0))
print("Weight for class 1: {:.2f}".format(weight_for_1))

with strategy.scope():
    model = build_model()

    METRICS = [
        "accuracy",
        tf.keras.metrics.Precision(name="precision"),
        tf.keras.metrics.Recall(name="recall"),
    ]

    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=METRICS)

history = model.fit(
    train_ds,
    steps_per_epoch=TRAIN_IMG_COUNT // BATCH_SIZE,
    epochs=EPOCHS,
    validation_data=val_ds,
    validation_steps=VAL_IMG_COUNT // BATCH_SIZE,
    class_weight=class_weight,
)
assert len(history.history["loss"]) == EPOCHS
assert {"precision", "recall", "val_precision", "val_recall"} <= set(history.history)

checkpoint_cb = tf.keras.callbacks.ModelCheckpoint("xray_model.h5", save_best_only=True)

early_stopping_cb = tf.keras.callbacks.EarlyStopping(
    patience=10, restore_best_weights=True
)


def exponential_decay(lr0, s):
    def exponential_decay_fn(epoch):
        return lr0 * 0.1 ** (epoch / s)

    return exponential_decay_fn


exponential_decay_fn = exponential_decay(0.01, 20)

lr_scheduler = tf.keras.callbacks.LearningRateScheduler(exponential_decay_fn)

history = model.fit(
    train_ds,
    steps_per_epoch=TRAIN_IMG_COUNT // BATCH_SIZE,
    epochs=6,
    validation_data=val_ds,
    validation_steps=VAL_IMG_COUNT // BATCH_SIZE,
    class_weight=class_weight,
    callbacks=[checkpoint_cb, early_stopping_cb, lr_scheduler],
)

# the scheduler's rates, epoch by epoch, in the history as Keras 3 records them
np.testing.assert_allclose(history.history["learning_rate"], [0.01 * 0.1 ** (e / 20) for e in range(6)],
                           rtol=1e-5)
assert os.path.exists("xray_model.h5")
reloaded = tf.keras.models.load_model("xray_model.h5")
assert len(reloaded.layers) == len(model.layers)

loss, acc, prec, rec = model.evaluate(test_ds)
print(f"test loss {loss:.3f} accuracy {acc:.3f} precision {prec:.3f} recall {rec:.3f}")
assert np.isfinite(loss)
assert acc >= 0.75, acc   # at least the majority class's share (36 of 48)
# the training batches are learned (BatchNormalization's batch statistics); in inference the
# moving statistics, a few dozen steps from their start (momentum 0.99), still put every test
# scan on one side: the page's "slow start"
assert history.history["accuracy"][-1] >= 0.9, history.history["accuracy"]
