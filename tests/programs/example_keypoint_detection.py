"""keras.io example "Keypoint Detection with Transfer Learning" (Sayak Paul), imports changed
only: a keras.utils.Sequence (PyDataset) data generator that augments images and keypoints
together (a horizontal flip that mirrors the x coordinates), a frozen MobileNetV2-style backbone
(here a small pretrained-by-us convolutional stack, applications.mobilenet_v2.preprocess_input on
the inputs), the example's head (Dropout, SeparableConv2D with relu, SeparableConv2D with
sigmoid giving a (1, 1, 2K) map of normalized coordinates), MSE training, and predictions
scaled back to pixels. The StanfordExtra dog images are replaced by synthetic images with
bright marks at the keypoints."""
import numpy as np

from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(3)

IMG_SIZE = 32
BATCH_SIZE = 16
EPOCHS = 25
NUM_KEYPOINTS = 3 * 2  # 3 pairs each having x and y coordinates


def make_sample(rng):
    """An image with three marks (red, green, blue) and their (x, y) pixel positions."""
    image = rng.uniform(0, 40, size=(IMG_SIZE, IMG_SIZE, 3))
    keypoints = rng.uniform(4, IMG_SIZE - 5, size=(3, 2))
    yy, xx = np.mgrid[0:IMG_SIZE, 0:IMG_SIZE]
    for c, (x, y) in enumerate(keypoints):
        image[..., c] += 215 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 6.0)
    return np.clip(image, 0, 255).astype("uint8"), keypoints.astype("float32")


rng = np.random.default_rng(0)
samples = [make_sample(rng) for _ in range(256)]
train_keys, validation_keys = list(range(224)), list(range(224, 256))


class KeyPointsDataset(keras.utils.PyDataset):
    def __init__(self, image_keys, aug, batch_size=BATCH_SIZE, train=True, **kwargs):
        super().__init__(**kwargs)
        self.image_keys = image_keys
        self.aug = aug
        self.batch_size = batch_size
        self.train = train
        self.on_epoch_end()

    def __len__(self):
        return len(self.image_keys) // self.batch_size

    def on_epoch_end(self):
        self.indexes = np.arange(len(self.image_keys))
        if self.train:
            np.random.shuffle(self.indexes)

    def __getitem__(self, index):
        indexes = self.indexes[index * self.batch_size: (index + 1) * self.batch_size]
        image_keys_temp = [self.image_keys[k] for k in indexes]
        (images, keypoints) = self.__data_generation(image_keys_temp)
        return (images, keypoints)

    def __data_generation(self, image_keys_temp):
        batch_images = np.empty((self.batch_size, IMG_SIZE, IMG_SIZE, 3), dtype="int")
        batch_keypoints = np.empty((self.batch_size, 1, 1, NUM_KEYPOINTS), dtype="float32")

        for i, key in enumerate(image_keys_temp):
            current_image, current_keypoint = samples[key]
            current_keypoint = current_keypoint.copy()
            if self.aug and np.random.rand() < 0.5:   # the example's Fliplr(0.5)
                current_image = current_image[:, ::-1]
                current_keypoint[:, 0] = IMG_SIZE - 1 - current_keypoint[:, 0]
            batch_images[i,] = current_image
            # Normalize the keypoints into [0, 1].
            batch_keypoints[i,] = np.array(current_keypoint).reshape(1, 1, NUM_KEYPOINTS) / IMG_SIZE
        return (batch_images, batch_keypoints)


train_dataset = KeyPointsDataset(train_keys, aug=True)
validation_dataset = KeyPointsDataset(validation_keys, aug=False, train=False)
print(f"Total batches in training set: {len(train_dataset)}")
print(f"Total batches in validation set: {len(validation_dataset)}")
sample_images, sample_keypoints = next(iter(train_dataset))
assert sample_keypoints.max() < 1.0 and sample_keypoints.min() > 0.0
assert sample_images.shape == (BATCH_SIZE, IMG_SIZE, IMG_SIZE, 3)


def get_backbone():
    """The example's frozen ImageNet MobileNetV2, here a small network pretrained on the same
    kind of images with a Dense head, then frozen."""
    backbone = keras.Sequential(
        [
            layers.Input((IMG_SIZE, IMG_SIZE, 3)),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.Conv2D(16, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
        ],
        name="backbone",
    )
    pretrain = keras.Sequential([backbone, layers.Flatten(), layers.Dense(NUM_KEYPOINTS)])
    pretrain.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    imgs = keras.applications.mobilenet_v2.preprocess_input(
        np.stack([s[0] for s in samples[:224]]).astype("float32"))
    pretrain.fit(imgs, np.stack([s[1].reshape(-1) for s in samples[:224]]) / IMG_SIZE, epochs=15, batch_size=32,
                 verbose=0)
    return backbone


def get_model():
    # Load the pre-trained weights of MobileNetV2 and freeze the weights
    backbone = get_backbone()
    backbone.trainable = False

    inputs = layers.Input((IMG_SIZE, IMG_SIZE, 3))
    x = keras.applications.mobilenet_v2.preprocess_input(inputs)
    x = backbone(x)
    x = layers.Dropout(0.3)(x)
    x = layers.SeparableConv2D(NUM_KEYPOINTS, kernel_size=3, strides=1, activation="relu")(x)
    outputs = layers.SeparableConv2D(NUM_KEYPOINTS, kernel_size=2, strides=1, activation="sigmoid")(x)

    return keras.Model(inputs, outputs, name="keypoint_detector")


model = get_model()
model.summary()
assert model.output_shape == (None, 1, 1, NUM_KEYPOINTS)
frozen = [w.copy() for w in model.get_layer("backbone").get_weights()]
model.compile(loss="mse", optimizer=keras.optimizers.Adam(1e-2))
history = model.fit(train_dataset, validation_data=validation_dataset, epochs=EPOCHS, verbose=0)
print([round(v, 4) for v in history.history["val_loss"]])
assert history.history["val_loss"][-1] < 0.5 * history.history["val_loss"][0], history.history["val_loss"]
assert all(np.array_equal(a, b) for a, b in zip(model.get_layer("backbone").get_weights(), frozen))

sample_val_images, sample_val_keypoints = next(iter(validation_dataset))
sample_val_images = sample_val_images[:4]
sample_val_keypoints = sample_val_keypoints[:4].reshape(-1, 3, 2) * IMG_SIZE
predictions = model.predict(sample_val_images, verbose=0).reshape(-1, 3, 2) * IMG_SIZE
err = np.abs(predictions - sample_val_keypoints).mean()
print("mean keypoint error (pixels):", err)
assert err < 5.0, err   # a guess at the centre would be off by about 6.5 pixels
