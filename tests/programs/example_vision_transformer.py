"""keras-io examples/vision/image_classification_with_vision_transformer, imports changed only
(`import keras`, `from keras import layers, ops` -> corenn). CIFAR-100 is replaced by small
synthetic 16x16 RGB images of 4 classes (a bright square in one quadrant), and the model is shrunk
(2 Transformer blocks, projection 16) so that it trains in seconds."""
import numpy as np
import corenn as keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(5)
num_classes = 4
input_shape = (16, 16, 3)
rng = np.random.default_rng(2)


def make_images(n):
    # class = (bar in the top or bottom half) x (red or blue): unchanged by a horizontal flip
    y = rng.integers(0, num_classes, n)
    x = rng.uniform(0, 90, (n, 16, 16, 3))
    for i, label in enumerate(y):
        half, colour = divmod(int(label), 2)
        x[i, 8 * half + 2: 8 * half + 6, 2:14, 2 * colour] += 150
    return x.astype("uint8"), y.reshape(-1, 1).astype("int64")


(x_train, y_train), (x_test, y_test) = make_images(640), make_images(160)
print(f"x_train shape: {x_train.shape} - y_train shape: {y_train.shape}")

learning_rate = 0.002
weight_decay = 0.0001
batch_size = 64
num_epochs = 6
image_size = 16   # resize input images to this size
patch_size = 4
num_patches = (image_size // patch_size) ** 2
projection_dim = 16
num_heads = 2
transformer_units = [projection_dim * 2, projection_dim]
transformer_layers = 2
mlp_head_units = [32]

data_augmentation = keras.Sequential(
    [
        layers.Normalization(),
        layers.Resizing(image_size, image_size),
        layers.RandomFlip("horizontal"),
        layers.RandomRotation(factor=0.02),
        layers.RandomZoom(height_factor=0.2, width_factor=0.2),
    ],
    name="data_augmentation",
)
# Compute the mean and the variance of the training data for normalization.
data_augmentation.layers[0].adapt(x_train)


def mlp(x, hidden_units, dropout_rate):
    for units in hidden_units:
        x = layers.Dense(units, activation=keras.activations.gelu)(x)
        x = layers.Dropout(dropout_rate)(x)
    return x


class Patches(layers.Layer):
    def __init__(self, patch_size):
        super().__init__()
        self.patch_size = patch_size

    def call(self, images):
        input_shape = ops.shape(images)
        batch_size = input_shape[0]
        height = input_shape[1]
        width = input_shape[2]
        channels = input_shape[3]
        num_patches_h = height // self.patch_size
        num_patches_w = width // self.patch_size
        patches = keras.ops.image.extract_patches(images, size=self.patch_size)
        patches = ops.reshape(
            patches,
            (batch_size, num_patches_h * num_patches_w, self.patch_size * self.patch_size * channels),
        )
        return patches

    def get_config(self):
        config = super().get_config()
        config.update({"patch_size": self.patch_size})
        return config


image = x_train[np.random.choice(range(x_train.shape[0]))]
resized_image = ops.image.resize(ops.convert_to_tensor([image]), size=(image_size, image_size))
patches = Patches(patch_size)(resized_image)
print(f"Patches per image: {patches.shape[1]}, elements per patch: {patches.shape[-1]}")
assert tuple(patches.shape) == (1, num_patches, patch_size * patch_size * 3)
# the first patch is the image's top-left 4x4 corner, row by row
np.testing.assert_allclose(ops.convert_to_numpy(patches)[0, 0],
                           np.asarray(image[:patch_size, :patch_size], "float32").reshape(-1), rtol=1e-5)


class PatchEncoder(layers.Layer):
    def __init__(self, num_patches, projection_dim):
        super().__init__()
        self.num_patches = num_patches
        self.projection = layers.Dense(units=projection_dim)
        self.position_embedding = layers.Embedding(input_dim=num_patches, output_dim=projection_dim)

    def call(self, patch):
        positions = ops.expand_dims(ops.arange(start=0, stop=self.num_patches, step=1), axis=0)
        projected_patches = self.projection(patch)
        encoded = projected_patches + self.position_embedding(positions)
        return encoded

    def get_config(self):
        config = super().get_config()
        config.update({"num_patches": self.num_patches})
        return config


def create_vit_classifier():
    inputs = keras.Input(shape=input_shape)
    augmented = data_augmentation(inputs)
    patches = Patches(patch_size)(augmented)
    encoded_patches = PatchEncoder(num_patches, projection_dim)(patches)
    for _ in range(transformer_layers):
        x1 = layers.LayerNormalization(epsilon=1e-6)(encoded_patches)
        attention_output = layers.MultiHeadAttention(
            num_heads=num_heads, key_dim=projection_dim, dropout=0.1
        )(x1, x1)
        x2 = layers.Add()([attention_output, encoded_patches])
        x3 = layers.LayerNormalization(epsilon=1e-6)(x2)
        x3 = mlp(x3, hidden_units=transformer_units, dropout_rate=0.1)
        encoded_patches = layers.Add()([x3, x2])
    representation = layers.LayerNormalization(epsilon=1e-6)(encoded_patches)
    representation = layers.Flatten()(representation)
    representation = layers.Dropout(0.5)(representation)
    features = mlp(representation, hidden_units=mlp_head_units, dropout_rate=0.5)
    logits = layers.Dense(num_classes)(features)
    return keras.Model(inputs=inputs, outputs=logits)


def run_experiment(model):
    optimizer = keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            keras.metrics.SparseTopKCategoricalAccuracy(2, name="top-2-accuracy"),
        ],
    )
    checkpoint_filepath = "checkpoint.weights.h5"
    checkpoint_callback = keras.callbacks.ModelCheckpoint(
        checkpoint_filepath, monitor="val_accuracy", save_best_only=True, save_weights_only=True,
    )
    history = model.fit(x=x_train, y=y_train, batch_size=batch_size, epochs=num_epochs,
                        validation_split=0.1, callbacks=[checkpoint_callback], verbose=0)
    model.load_weights(checkpoint_filepath)
    _, accuracy, top_2_accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Test accuracy: {round(accuracy * 100, 2)}%")
    print(f"Test top 2 accuracy: {round(top_2_accuracy * 100, 2)}%")
    return history, accuracy, top_2_accuracy


vit_classifier = create_vit_classifier()
history, accuracy, top_2 = run_experiment(vit_classifier)
assert accuracy > 0.6, accuracy          # chance is 0.25
assert top_2 >= accuracy
assert history.history["loss"][-1] < history.history["loss"][0]
