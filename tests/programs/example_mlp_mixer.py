"""keras.io example "Image classification with modern MLP models" (MLP-Mixer, FNet and gMLP),
imports changed: a data-augmentation Sequential (Normalization adapted on the data, Resizing,
RandomFlip, RandomZoom), a Patches layer on keras.ops.image.extract_patches, Keras 3's
PositionEmbedding (add_weight, ops.slice, ops.broadcast_to), MLPMixerLayer (gelu Dense blocks
mixing across patches through keras.ops.transpose, one LayerNormalization called twice), FNetLayer
(a parameter-free 2-D Fourier transform, keras.ops.fft2((real_part, im_part))[0] with a
keras.ops.zeros_like imaginary part, then skip connections around LayerNormalization and a gelu
feed-forward Sequential: fit once gave that Sequential stale gradients) and gMLPLayer (the spatial
gating unit: keras.ops.split, a Dense with bias_initializer="Ones"), AdamW with
SparseTopKCategoricalAccuracy, ReduceLROnPlateau and EarlyStopping(restore_best_weights=True).
CIFAR-100 is replaced by 10 synthetic classes of 32 x 32 colour patterns; sizes are cut down (FNet
trains 6 epochs, the others 4)."""
import numpy as np

import corenn as keras
from corenn.keras import layers

keras.utils.set_random_seed(1)
num_classes = 10
input_shape = (32, 32, 3)
rng = np.random.default_rng(1)
patterns = rng.uniform(0, 255, (num_classes, 4, 4, 3))   # class k: a coarse colour layout


def make_data(n):
    y = rng.integers(0, num_classes, (n, 1))
    x = np.repeat(np.repeat(patterns[y[:, 0]], 8, axis=1), 8, axis=2) + rng.normal(0, 120, (n, 32, 32, 3))
    return np.clip(x, 0, 255).astype("float32"), y


(x_train, y_train), (x_test, y_test) = make_data(600), make_data(200)
print(f"x_train shape: {x_train.shape} - y_train shape: {y_train.shape}")

weight_decay = 0.0001
batch_size = 64
num_epochs = 4
dropout_rate = 0.1
image_size = 32  # We'll resize input images to this size.
patch_size = 8  # Size of the patches to be extracted from the input images.
num_patches = (image_size // patch_size) ** 2  # Size of the data array.
embedding_dim = 32  # Number of hidden units.
num_blocks = 2  # Number of blocks.


def build_classifier(blocks, positional_encoding=False):
    inputs = layers.Input(shape=input_shape)
    # Augment data.
    augmented = data_augmentation(inputs)
    # Create patches.
    patches = Patches(patch_size)(augmented)
    # Encode patches to generate a [batch_size, num_patches, embedding_dim] tensor.
    x = layers.Dense(units=embedding_dim)(patches)
    if positional_encoding:
        x = x + PositionEmbedding(sequence_length=num_patches)(x)
    # Process x using the module blocks.
    x = blocks(x)
    # Apply global average pooling to generate a [batch_size, embedding_dim] representation tensor.
    representation = layers.GlobalAveragePooling1D()(x)
    # Apply dropout.
    representation = layers.Dropout(rate=dropout_rate)(representation)
    # Compute logits outputs.
    logits = layers.Dense(num_classes)(representation)
    # Create the Keras model.
    return keras.Model(inputs=inputs, outputs=logits)


def run_experiment(model):
    # Create an AdamW optimizer.
    optimizer = keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
    # Compile the model.
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="acc"),
            keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5-acc"),
        ],
    )
    # Create a learning rate scheduler callback.
    reduce_lr = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=5)
    # Create an early stopping callback.
    early_stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
    # Fit the model.
    history = model.fit(
        x=x_train,
        y=y_train,
        batch_size=batch_size,
        epochs=num_epochs,
        validation_split=0.1,
        callbacks=[early_stopping, reduce_lr],
        verbose=0,
    )

    _, accuracy, top_5_accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Test accuracy: {round(accuracy * 100, 2)}%")
    print(f"Test top 5 accuracy: {round(top_5_accuracy * 100, 2)}%")

    # Return history to plot learning curves.
    return history, accuracy, top_5_accuracy


data_augmentation = keras.Sequential(
    [
        layers.Normalization(),
        layers.Resizing(image_size, image_size),
        layers.RandomFlip("horizontal"),
        layers.RandomZoom(height_factor=0.1, width_factor=0.1),
    ],
    name="data_augmentation",
)
# Compute the mean and the variance of the training data for normalization.
data_augmentation.layers[0].adapt(x_train)
norm = data_augmentation.layers[0]
np.testing.assert_allclose(np.asarray(norm.mean).reshape(-1), x_train.reshape(-1, 3).mean(0), rtol=1e-3)


class Patches(layers.Layer):
    def __init__(self, patch_size, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = patch_size

    def call(self, x):
        patches = keras.ops.image.extract_patches(x, self.patch_size)
        batch_size = keras.ops.shape(patches)[0]
        num_patches = keras.ops.shape(patches)[1] * keras.ops.shape(patches)[2]
        patch_dim = keras.ops.shape(patches)[3]
        out = keras.ops.reshape(patches, (batch_size, num_patches, patch_dim))
        return out


# the patches are the image's 8 x 8 tiles, row by row, each flattened (rows, columns, channels)
tiles = Patches(patch_size)(x_train[:2]).numpy()
assert tiles.shape == (2, num_patches, patch_size * patch_size * 3)
np.testing.assert_array_equal(tiles[1, 5], x_train[1, 8:16, 8:16].reshape(-1))


class PositionEmbedding(keras.layers.Layer):
    def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if sequence_length is None:
            raise ValueError("`sequence_length` must be an Integer, received `None`.")
        self.sequence_length = int(sequence_length)
        self.initializer = keras.initializers.get(initializer)

    def get_config(self):
        config = super().get_config()
        config.update({"sequence_length": self.sequence_length,
                       "initializer": keras.initializers.serialize(self.initializer)})
        return config

    def build(self, input_shape):
        feature_size = input_shape[-1]
        self.position_embeddings = self.add_weight(
            name="embeddings",
            shape=[self.sequence_length, feature_size],
            initializer=self.initializer,
            trainable=True,
        )
        super().build(input_shape)

    def call(self, inputs, start_index=0):
        shape = keras.ops.shape(inputs)
        feature_length = shape[-1]
        sequence_length = shape[-2]
        # trim to match the length of the input sequence, which might be less
        # than the sequence_length of the layer.
        position_embeddings = keras.ops.convert_to_tensor(self.position_embeddings)
        position_embeddings = keras.ops.slice(
            position_embeddings, (start_index, 0), (sequence_length, feature_length))
        return keras.ops.broadcast_to(position_embeddings, shape)

    def compute_output_shape(self, input_shape):
        return input_shape


class MLPMixerLayer(layers.Layer):
    def __init__(self, num_patches, hidden_units, dropout_rate, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mlp1 = keras.Sequential(
            [
                layers.Dense(units=num_patches, activation="gelu"),
                layers.Dense(units=num_patches),
                layers.Dropout(rate=dropout_rate),
            ]
        )
        self.mlp2 = keras.Sequential(
            [
                layers.Dense(units=num_patches, activation="gelu"),
                layers.Dense(units=hidden_units),
                layers.Dropout(rate=dropout_rate),
            ]
        )
        self.normalize = layers.LayerNormalization(epsilon=1e-6)

    def build(self, input_shape):
        return super().build(input_shape)

    def call(self, inputs):
        # Apply layer normalization.
        x = self.normalize(inputs)
        # Transpose inputs from [num_batches, num_patches, hidden_units] to [num_batches, hidden_units, num_patches].
        x_channels = keras.ops.transpose(x, axes=(0, 2, 1))
        # Apply mlp1 on each channel independently.
        mlp1_outputs = self.mlp1(x_channels)
        # Transpose mlp1_outputs from [num_batches, hidden_dim, num_patches] to [num_batches, num_patches, hidden_units].
        mlp1_outputs = keras.ops.transpose(mlp1_outputs, axes=(0, 2, 1))
        # Add skip connection.
        x = mlp1_outputs + inputs
        # Apply layer normalization.
        x_patches = self.normalize(x)
        # Apply mlp2 on each patch independtenly.
        mlp2_outputs = self.mlp2(x_patches)
        # Add skip connection.
        x = x + mlp2_outputs
        return x


mlpmixer_blocks = keras.Sequential(
    [MLPMixerLayer(num_patches, embedding_dim, dropout_rate) for _ in range(num_blocks)]
)
learning_rate = 0.005
mlpmixer_classifier = build_classifier(mlpmixer_blocks)
history, accuracy, top5 = run_experiment(mlpmixer_classifier)
assert accuracy > 0.6 and top5 >= accuracy, (accuracy, top5)
assert len(mlpmixer_blocks.layers) == num_blocks and mlpmixer_blocks.layers[0].normalize.built


class FNetLayer(layers.Layer):
    def __init__(self, embedding_dim, dropout_rate, *args, **kwargs):
        super().__init__(*args, **kwargs)

        self.ffn = keras.Sequential(
            [
                layers.Dense(units=embedding_dim, activation="gelu"),
                layers.Dropout(rate=dropout_rate),
                layers.Dense(units=embedding_dim),
            ]
        )

        self.normalize1 = layers.LayerNormalization(epsilon=1e-6)
        self.normalize2 = layers.LayerNormalization(epsilon=1e-6)

    def call(self, inputs):
        # Apply fourier transformations.
        real_part = inputs
        im_part = keras.ops.zeros_like(inputs)
        x = keras.ops.fft2((real_part, im_part))[0]
        # Add skip connection.
        x = x + inputs
        # Apply layer normalization.
        x = self.normalize1(x)
        # Apply Feedfowrad network.
        x_ffn = self.ffn(x)
        # Add skip connection.
        x = x + x_ffn
        # Apply layer normalization.
        return self.normalize2(x)


# the Fourier mixing is NumPy's 2-D FFT over (patches, channels), real part
tokens = rng.normal(size=(2, num_patches, embedding_dim)).astype("float32")
real, imag = keras.ops.fft2((tokens, keras.ops.zeros_like(tokens)))
np.testing.assert_allclose(np.asarray(real), np.fft.fft2(tokens).real, rtol=1e-4, atol=1e-3)
np.testing.assert_allclose(np.asarray(imag), np.fft.fft2(tokens).imag, rtol=1e-4, atol=1e-3)
block = FNetLayer(embedding_dim, dropout_rate)
mixed = np.asarray(block(tokens))
assert mixed.shape == tokens.shape
np.testing.assert_allclose(mixed.mean(-1), 0.0, atol=1e-4)   # normalize2 is the last step

fnet_blocks = keras.Sequential(
    [FNetLayer(embedding_dim, dropout_rate) for _ in range(num_blocks)]
)
learning_rate = 0.001
num_epochs = 6
fnet_classifier = build_classifier(fnet_blocks, positional_encoding=True)
history, accuracy, top5 = run_experiment(fnet_classifier)
print("val_acc", [round(v, 3) for v in history.history["val_acc"]])
assert accuracy > 0.45 and top5 >= accuracy, (accuracy, top5)   # 10 classes: chance is 0.1
assert history.history["loss"][-1] < history.history["loss"][0]
num_epochs = 4


class gMLPLayer(layers.Layer):
    def __init__(self, num_patches, embedding_dim, dropout_rate, *args, **kwargs):
        super().__init__(*args, **kwargs)

        self.channel_projection1 = keras.Sequential(
            [
                layers.Dense(units=embedding_dim * 2, activation="gelu"),
                layers.Dropout(rate=dropout_rate),
            ]
        )

        self.channel_projection2 = layers.Dense(units=embedding_dim)

        self.spatial_projection = layers.Dense(units=num_patches, bias_initializer="Ones")

        self.normalize1 = layers.LayerNormalization(epsilon=1e-6)
        self.normalize2 = layers.LayerNormalization(epsilon=1e-6)

    def spatial_gating_unit(self, x):
        # Split x along the channel dimensions.
        # Tensors u and v will in the shape of [batch_size, num_patchs, embedding_dim].
        u, v = keras.ops.split(x, indices_or_sections=2, axis=2)
        # Apply layer normalization.
        v = self.normalize2(v)
        # Apply spatial projection.
        v_channels = keras.ops.transpose(v, axes=(0, 2, 1))
        v_projected = self.spatial_projection(v_channels)
        v_projected = keras.ops.transpose(v_projected, axes=(0, 2, 1))
        # Apply element-wise multiplication.
        return u * v_projected

    def call(self, inputs):
        # Apply layer normalization.
        x = self.normalize1(inputs)
        # Apply the first channel projection. x_projected shape: [batch_size, num_patches, embedding_dim * 2].
        x_projected = self.channel_projection1(x)
        # Apply the spatial gating unit. x_spatial shape: [batch_size, num_patches, embedding_dim].
        x_spatial = self.spatial_gating_unit(x_projected)
        # Apply the second channel projection. x_projected shape: [batch_size, num_patches, embedding_dim].
        x_projected = self.channel_projection2(x_spatial)
        # Add skip connection.
        return x + x_projected


gmlp_blocks = keras.Sequential(
    [gMLPLayer(num_patches, embedding_dim, dropout_rate) for _ in range(num_blocks)]
)
learning_rate = 0.003
gmlp_classifier = build_classifier(gmlp_blocks, positional_encoding=True)
history, accuracy, top5 = run_experiment(gmlp_classifier)
assert accuracy > 0.6, accuracy
np.testing.assert_array_equal(gmlp_blocks.layers[0].spatial_projection.get_weights()[1].shape, (num_patches,))
