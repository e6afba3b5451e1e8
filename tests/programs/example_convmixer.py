"""keras.io example "Image classification with ConvMixer", imports changed: Rescaling, a patch
embedding Conv2D(kernel_size=patch_size, strides=patch_size), gelu Activation + BatchNormalization
blocks, DepthwiseConv2D(padding="same") with an Add residual, pointwise Conv2D, GlobalAvgPool2D,
AdamW, tf.data pipelines with a RandomCrop / RandomFlip augmentation model, a best-only weights
checkpoint, then finding the depthwise layers by their config's kernel_size and reading the patch
embedding and depthwise kernels with get_weights. CIFAR-10 is replaced by synthetic 32 x 32 colour
patterns; the model is ConvMixer-32/2 (BatchNormalization momentum 0.9 for the short run)."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(2)
learning_rate = 0.005
weight_decay = 0.0001
batch_size = 32
num_epochs = 4
rng = np.random.default_rng(2)
patterns = rng.uniform(0, 255, (10, 4, 4, 3))


def make_data(n):
    y = rng.integers(0, 10, (n, 1))
    x = np.repeat(np.repeat(patterns[y[:, 0]], 8, axis=1), 8, axis=2) + rng.normal(0, 60, (n, 32, 32, 3))
    return np.clip(x, 0, 255).astype("float32"), y


(x_train, y_train), (x_test, y_test) = make_data(640), make_data(200)
val_split = 0.1
val_indices = int(len(x_train) * val_split)
new_x_train, new_y_train = x_train[val_indices:], y_train[val_indices:]
x_val, y_val = x_train[:val_indices], y_train[:val_indices]
print(f"Training data samples: {len(new_x_train)}")
print(f"Validation data samples: {len(x_val)}")
print(f"Test data samples: {len(x_test)}")

image_size = 32
auto = tf.data.AUTOTUNE

augmentation_layers = [
    keras.layers.RandomCrop(image_size, image_size),
    keras.layers.RandomFlip("horizontal"),
]


def augment_images(images):
    for layer in augmentation_layers:
        images = layer(images, training=True)
    return images


def make_datasets(images, labels, is_train=False):
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    if is_train:
        dataset = dataset.shuffle(batch_size * 10)
    dataset = dataset.batch(batch_size)
    if is_train:
        dataset = dataset.map(lambda x, y: (augment_images(x), y), num_parallel_calls=auto)
    return dataset.prefetch(auto)


train_dataset = make_datasets(new_x_train, new_y_train, is_train=True)
val_dataset = make_datasets(x_val, y_val)
test_dataset = make_datasets(x_test, y_test)


def activation_block(x):
    x = layers.Activation("gelu")(x)
    # momentum 0.9 instead of the default 0.99: the moving statistics must catch up within this
    # run's ~100 steps (the example trains ~7000); with 0.99 they still hold the initial variance
    # of 1 and inference collapses to one class, in Keras as here
    return layers.BatchNormalization(momentum=0.9)(x)


def conv_stem(x, filters: int, patch_size: int):
    x = layers.Conv2D(filters, kernel_size=patch_size, strides=patch_size)(x)
    return activation_block(x)


def conv_mixer_block(x, filters: int, kernel_size: int):
    # Depthwise convolution.
    x0 = x
    x = layers.DepthwiseConv2D(kernel_size=kernel_size, padding="same")(x)
    x = layers.Add()([activation_block(x), x0])  # Residual.

    # Pointwise convolution.
    x = layers.Conv2D(filters, kernel_size=1)(x)
    x = activation_block(x)

    return x


def get_conv_mixer_256_8(image_size=32, filters=256, depth=8, kernel_size=5, patch_size=2, num_classes=10):
    """ConvMixer-256/8: <https://openreview.net/pdf?id=TVHS5Y4dNvM>.
    The hyperparameter values are taken from the paper.
    """
    inputs = keras.Input((image_size, image_size, 3))
    x = layers.Rescaling(scale=1.0 / 255)(inputs)

    # Extract patch embeddings.
    x = conv_stem(x, filters, patch_size)

    # ConvMixer blocks.
    for _ in range(depth):
        x = conv_mixer_block(x, filters, kernel_size)

    # Classification block.
    x = layers.GlobalAvgPool2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)

    return keras.Model(inputs, outputs)


def run_experiment(model):
    optimizer = keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)

    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    checkpoint_filepath = "./checkpoint.weights.npz"
    checkpoint_callback = keras.callbacks.ModelCheckpoint(
        checkpoint_filepath,
        monitor="val_accuracy",
        save_best_only=True,
        save_weights_only=True,
    )

    history = model.fit(
        train_dataset,
        validation_data=val_dataset,
        epochs=num_epochs,
        callbacks=[checkpoint_callback],
        verbose=0,
    )

    model.load_weights(checkpoint_filepath)
    _, accuracy = model.evaluate(test_dataset, verbose=0)
    print(f"Test accuracy: {round(accuracy * 100, 2)}%")

    return history, model, accuracy


conv_mixer_model = get_conv_mixer_256_8(filters=32, depth=2, kernel_size=5, patch_size=2)
history, conv_mixer_model, accuracy = run_experiment(conv_mixer_model)
best_val = max(history.history["val_accuracy"])
assert accuracy > 0.5 and best_val > 0.5, (accuracy, best_val)

# Visualizing the internals: the patch embeddings, then the depthwise kernels.
patch_embeddings = conv_mixer_model.layers[2].get_weights()[0]
assert patch_embeddings.shape == (2, 2, 3, 32), patch_embeddings.shape

for i, layer in enumerate(conv_mixer_model.layers):
    if isinstance(layer, layers.DepthwiseConv2D):
        if layer.get_config()["kernel_size"] == (5, 5):
            print(i, layer)
depthwise = [i for i, layer in enumerate(conv_mixer_model.layers)
             if isinstance(layer, layers.DepthwiseConv2D) and layer.get_config()["kernel_size"] == (5, 5)]
assert len(depthwise) == 2
idx = depthwise[-1]  # Taking a kernel from the middle of the network.

kernel = conv_mixer_model.layers[idx].get_weights()[0]
kernel = np.expand_dims(kernel.squeeze(), axis=2)
assert kernel.shape == (5, 5, 1, 32), kernel.shape
