"""keras.io example "Image classification via fine-tuning with EfficientNet" (Yixing Fu; the
Keras 3 version with PyDataset pipelines), imports changed only: a ResizeOnlyDataset and a
StanfordDogsDataset (keras.utils.PyDataset with workers= / use_multiprocessing= passed to its
base, on_epoch_end reshuffling, keras.ops.image.resize per image, keras.ops.one_hot labels),
an augmentation function over RandomRotation / RandomTranslation / RandomFlip / RandomContrast,
EfficientNetB0 trained from scratch (include_top=True, classes=, input_shape=), then
build_model's EfficientNetB0(include_top=False, input_tensor=inputs) frozen with
model.trainable = False under a new top (GlobalAveragePooling2D, BatchNormalization, Dropout,
softmax Dense), and unfreeze_model's last-20-layers / by-name unfreezing that keeps
BatchNormalization frozen, recompiled at a small learning rate. weights="imagenet" becomes
weights=None (no download); the Stanford Dogs download becomes lists of synthetic uint8
images of varied sizes in four "breeds"; IMG_SIZE 224 becomes 32 and the epochs are few.
weights="imagenet" in build_model becomes the path of a weights file this program writes from
the model it trained from scratch (Keras takes a path there). An EfficientNet body this young
gives near-constant features in inference mode (Keras 3 too), so the checks after the first
stage are on what trains and what stays frozen, not on accuracy."""
import numpy as np
from corenn import keras
from corenn.keras import layers
from corenn.keras.applications import EfficientNetB0

keras.utils.set_random_seed(11)

# IMG_SIZE is determined by EfficientNet model choice
IMG_SIZE = 32
BATCH_SIZE = 16

# Stanford Dogs stands in: "n0208xxxx-Breed/file.jpg" names, images of varied sizes whose
# breed is a colour (a plain image classifier's signal that survives resizing)
rng = np.random.default_rng(0)
class_names_src = ["n02085620-Chihuahua", "n02085782-Japanese_spaniel", "n02085936-Maltese_dog",
                   "n02086079-Pekinese"]
palette = np.array([[200, 60, 40], [40, 180, 60], [50, 70, 210], [210, 200, 50]])


def make_files(n, prefix):
    return [f"{class_names_src[i % 4]}/{prefix}_{i}.jpg" for i in rng.permutation(n)]


train_files = make_files(96, "train")
test_files = make_files(32, "test")

# Build class name mapping
all_files = train_files + test_files
class_names = sorted(set([f.split("/")[0] for f in all_files]))
class_to_idx = {name: idx for idx, name in enumerate(class_names)}
NUM_CLASSES = len(class_names)

print(
    f"Found {NUM_CLASSES} classes, {len(train_files)} training images, {len(test_files)} test images"
)


# Load images and labels
def load_images_and_labels(file_list, base_dir):
    images, labels = [], []
    for file_path in file_list:
        class_name = file_path.split("/")[0]
        h, w = rng.integers(36, 60, size=2)
        img = rng.integers(0, 70, size=(h, w, 3)) + palette[class_to_idx[class_name]] // 2
        images.append(img.astype("uint8"))
        labels.append(class_to_idx[class_name])
    return images, np.array(labels)


train_images, train_labels = load_images_and_labels(train_files, None)
test_images, test_labels = load_images_and_labels(test_files, None)
print(f"Loaded {len(train_images)} train and {len(test_images)} test images")


class ResizeOnlyDataset(keras.utils.PyDataset):
    def __init__(self, images, labels, img_size, batch_size=1, **kwargs):
        super().__init__(**kwargs)
        self.images = images
        self.labels = labels
        self.img_size = img_size
        self.batch_size = batch_size
        self.indices = np.arange(len(labels))

    def __len__(self):
        return int(np.ceil(len(self.labels) / self.batch_size))

    def __getitem__(self, idx):
        batch_indices = self.indices[
            idx * self.batch_size : (idx + 1) * self.batch_size
        ]
        batch_images = np.stack(
            [
                np.array(
                    keras.ops.image.resize(
                        np.array(self.images[i], dtype="float32"),
                        (self.img_size, self.img_size),
                    )
                )
                for i in batch_indices
            ]
        )
        batch_labels = self.labels[batch_indices]
        if self.batch_size == 1:
            return batch_images[0], batch_labels[0]
        return batch_images, batch_labels


# Preview stream with resized images for visualization below
preview_train = ResizeOnlyDataset(train_images, train_labels, IMG_SIZE, batch_size=1)
preview_test = ResizeOnlyDataset(test_images, test_labels, IMG_SIZE, batch_size=1)


def format_label(label):
    class_name = class_names[int(label)]
    return class_name.split("-")[1]  # Extract breed name from "n02085620-Chihuahua"


seen = []
for i, (image, label) in enumerate(preview_train):
    if i >= 9:
        break
    assert np.array(image).shape == (IMG_SIZE, IMG_SIZE, 3)
    seen.append(format_label(label))
assert len(seen) == 9 and set(seen) <= {"Chihuahua", "Japanese_spaniel", "Maltese_dog", "Pekinese"}

img_augmentation_layers = [
    layers.RandomRotation(factor=0.15),
    layers.RandomTranslation(height_factor=0.1, width_factor=0.1),
    layers.RandomFlip(),
    layers.RandomContrast(factor=0.1),
]


def img_augmentation(images):
    for layer in img_augmentation_layers:
        images = layer(images)
    return images


first_image, first_label = preview_train[0]

for i in range(9):
    aug_img = img_augmentation(np.expand_dims(np.array(first_image), axis=0))
    aug_img = np.array(aug_img)
    assert aug_img.shape == (1, IMG_SIZE, IMG_SIZE, 3)


class StanfordDogsDataset(keras.utils.PyDataset):
    def __init__(
        self,
        images,
        labels,
        num_classes,
        img_size,
        batch_size,
        augment=False,
        shuffle=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.images = images
        self.labels = labels
        self.num_classes = num_classes
        self.img_size = img_size
        self.batch_size = batch_size
        self.augment = augment
        self.shuffle = shuffle
        self.indices = np.arange(len(labels))
        self.on_epoch_end()

    def __len__(self):
        # Match previous drop_remainder=True behavior.
        return len(self.indices) // self.batch_size

    def on_epoch_end(self):
        if self.shuffle:
            np.random.shuffle(self.indices)

    def __getitem__(self, idx):
        batch_indices = self.indices[
            idx * self.batch_size : (idx + 1) * self.batch_size
        ]

        batch_images = np.stack(
            [
                np.array(
                    keras.ops.image.resize(
                        np.array(self.images[i], dtype="float32"),
                        (self.img_size, self.img_size),
                    )
                )
                for i in batch_indices
            ]
        )

        if self.augment:
            batch_images = np.array(img_augmentation(batch_images))

        batch_labels = np.array(
            keras.ops.one_hot(self.labels[batch_indices], self.num_classes)
        )

        return batch_images, batch_labels


ds_train = StanfordDogsDataset(
    train_images,
    train_labels,
    num_classes=NUM_CLASSES,
    img_size=IMG_SIZE,
    batch_size=BATCH_SIZE,
    augment=True,
    shuffle=True,
    workers=2,
    use_multiprocessing=False,
)

ds_test = StanfordDogsDataset(
    test_images,
    test_labels,
    num_classes=NUM_CLASSES,
    img_size=IMG_SIZE,
    batch_size=BATCH_SIZE,
    augment=False,
    shuffle=False,
)

model = EfficientNetB0(
    include_top=True,
    weights=None,
    classes=NUM_CLASSES,
    input_shape=(IMG_SIZE, IMG_SIZE, 3),
)
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])

model.summary()

epochs = 8  # @param {type: "slider", min:10, max:100}
hist = model.fit(ds_train, epochs=epochs, validation_data=ds_test, verbose=2)
assert len(hist.history["val_accuracy"]) == epochs
assert model.output_shape == (None, NUM_CLASSES)
# from scratch it fits the training batches (chance is 0.25; the validation accuracy stays low
# in so few steps, as the page says, its BatchNormalization statistics far from converged)
assert max(hist.history["accuracy"]) > 0.45, hist.history["accuracy"]

# the ImageNet checkpoint stands in: the body of the model just trained, saved as a weights file
# that EfficientNetB0(include_top=False, weights=<path>) loads (Keras takes a path there)
notop = keras.Model(model.input, model.get_layer("top_activation").output)
notop.save_weights("efficientnetb0_notop.weights.h5")


def build_model(num_classes):
    inputs = layers.Input(shape=(IMG_SIZE, IMG_SIZE, 3))
    model = EfficientNetB0(include_top=False, input_tensor=inputs, weights="efficientnetb0_notop.weights.h5")

    # Freeze the pretrained weights
    model.trainable = False

    # Rebuild top
    x = layers.GlobalAveragePooling2D(name="avg_pool")(model.output)
    x = layers.BatchNormalization()(x)

    top_dropout_rate = 0.2
    x = layers.Dropout(top_dropout_rate, name="top_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="pred")(x)

    # Compile
    model = keras.Model(inputs, outputs, name="EfficientNet")
    optimizer = keras.optimizers.Adam(learning_rate=1e-2)
    model.compile(
        optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"]
    )
    return model


model = build_model(num_classes=NUM_CLASSES)
np.testing.assert_array_equal(np.asarray(model.get_layer("block7a_project_conv").kernel),
                              np.asarray(notop.get_layer("block7a_project_conv").kernel))
# only the new top trains: the BatchNormalization's gamma / beta and the Dense's kernel / bias
assert len(model.trainable_weights) == 4, [w.shape for w in model.trainable_weights]
frozen_kernel = np.array(model.get_layer("stem_conv").kernel)
pred_kernel = np.array(model.get_layer("pred").kernel)

epochs = 6  # @param {type: "slider", min:8, max:80}
hist = model.fit(ds_train, epochs=epochs, validation_data=ds_test, verbose=2)
np.testing.assert_array_equal(np.asarray(model.get_layer("stem_conv").kernel), frozen_kernel)
assert not np.array_equal(np.asarray(model.get_layer("pred").kernel), pred_kernel)


def unfreeze_model(
    model,
    layers_to_unfreeze=20,
    learning_rate=1e-5,
    loss="categorical_crossentropy",
    metrics=None,
):
    """Unfreeze part of `model` and recompile it for fine-tuning.

    Args:
        model: A `keras.Model` instance to unfreeze in place.
        layers_to_unfreeze: Either an `int` giving the number of layers,
            counted from the end of `model.layers`, to unfreeze, or a `str`
            substring to match against layer names -- the first matching
            layer and every layer after it (in `model.layers` order) are
            unfrozen. Use a string like `"block7"` to respect EfficientNet's
            residual block boundaries instead of an arbitrary layer count.
            Defaults to `20`.
        learning_rate: Learning rate for the fine-tuning `Adam` optimizer.
            Defaults to `1e-5`.
        loss: Loss function passed to `model.compile()`. Defaults to
            `"categorical_crossentropy"`.
        metrics: List of metrics passed to `model.compile()`. Defaults to
            `["accuracy"]`.

    Returns:
        `model`, with the selected layers unfrozen (except
        `BatchNormalization` layers, which are always kept frozen) and
        recompiled with the new optimizer/loss/metrics.
    """
    if metrics is None:
        metrics = ["accuracy"]

    if isinstance(layers_to_unfreeze, str):
        unfreeze_from = None
        for i, layer in enumerate(model.layers):
            if layers_to_unfreeze in layer.name:
                unfreeze_from = i
                break
        if unfreeze_from is None:
            raise ValueError(f"No layer name contains {layers_to_unfreeze!r}.")
        layers_to_process = model.layers[unfreeze_from:]
    elif isinstance(layers_to_unfreeze, int):
        n_layers_to_unfreeze = min(layers_to_unfreeze, len(model.layers))
        layers_to_process = model.layers[-n_layers_to_unfreeze:]
    else:
        raise TypeError(
            "layers_to_unfreeze must be an int or str, received: "
            f"{type(layers_to_unfreeze)}"
        )

    # We keep BatchNorm layers frozen -- see "Tips for fine-tuning
    # EfficientNet" in the tutorial for why.
    for layer in layers_to_process:
        if not isinstance(layer, layers.BatchNormalization):
            layer.trainable = True

    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


model = unfreeze_model(model)
# the last 20 layers train (their BatchNormalization layers stay frozen; the new top's was
# never frozen), nothing before them
assert len(model.trainable_weights) == sum(len(layer.trainable_weights) for layer in model.layers[-20:])
assert not model.get_layer("top_bn").trainable and model.get_layer("top_conv").trainable
assert not model.get_layer("block6d_project_conv").trainable
top_kernel = np.array(model.get_layer("top_conv").kernel)

epochs = 2  # @param {type: "slider", min:4, max:10}
hist = model.fit(ds_train, epochs=epochs, validation_data=ds_test, verbose=2)
assert not np.array_equal(np.asarray(model.get_layer("top_conv").kernel), top_kernel)
np.testing.assert_array_equal(np.asarray(model.get_layer("stem_conv").kernel), frozen_kernel)

# by block name: block7 and everything after it
model = unfreeze_model(model, layers_to_unfreeze="block7")
first = next(i for i, layer in enumerate(model.layers) if "block7" in layer.name)
assert all(layer.trainable for layer in model.layers[first:] if not isinstance(layer, layers.BatchNormalization))
assert not model.get_layer("stem_conv").trainable
