"""keras.io example "Focal Modulation: A replacement for Self-Attention" (Aritra Roy Gosthipaty,
Ritwik Raha), imports changed only: a PatchEmbed convolution, the FocalModulationLayer
(linear projection split into query / context / gates with ops.split, hierarchical depthwise
Conv2D contexts with GELU, gated aggregation, a global context from mean pooling, a 1x1
modulator), FocalModulationBlocks with LayerNormalization and an MLP, BasicLayers with patch
merging, a classifier, and the example's TrainMonitor-style inspection of the gates and
modulator. CIFAR-10 is replaced by small synthetic images."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers
from corenn import ops

keras.utils.set_random_seed(42)

NUM_CLASSES = 4
IMAGE_SIZE = 16
BATCH_SIZE = 32
EPOCHS = 6
PATCH_SIZE = 2
EMBED_DIM = 16
DEPTHS = [1, 1]
FOCAL_LEVEL = 2
FOCAL_WINDOW = 3


def make_images(n, rng):
    labels = rng.integers(0, NUM_CLASSES, size=n)
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE]
    images = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE, 3), "float32")
    for i, c in enumerate(labels):
        pattern = [(xx // 2) % 2, (yy // 2) % 2, ((xx + yy) // 2) % 2, (xx > 7) ^ (yy > 7)][c]
        images[i] = pattern[..., None] * rng.uniform(0.6, 1.0, size=3) + rng.normal(0, 0.1, size=(IMAGE_SIZE, IMAGE_SIZE, 3))
    return images, labels.astype("int32")


rng = np.random.default_rng(0)
x_train, y_train = make_images(320, rng)
x_val, y_val = make_images(96, rng)

train_ds = (tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(320)
            .batch(BATCH_SIZE).prefetch(tf.data.AUTOTUNE))
val_ds = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(BATCH_SIZE).prefetch(tf.data.AUTOTUNE)


def MLP(in_features, hidden_features=None, out_features=None, mlp_drop_rate=0.0):
    hidden_features = hidden_features or in_features
    out_features = out_features or in_features
    return keras.Sequential(
        [
            layers.Dense(units=hidden_features, activation=keras.activations.gelu),
            layers.Dense(units=out_features),
            layers.Dropout(rate=mlp_drop_rate),
        ]
    )


class PatchEmbed(layers.Layer):
    """Image patch embedding layer, also acts as the down-sampling layer."""

    def __init__(self, image_size=(224, 224), patch_size=(4, 4), embed_dim=96, **kwargs):
        super().__init__(**kwargs)
        patch_resolution = [image_size[0] // patch_size[0], image_size[1] // patch_size[1]]
        self.image_size = image_size
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.patch_resolution = patch_resolution
        self.num_patches = patch_resolution[0] * patch_resolution[1]
        self.proj = layers.Conv2D(filters=embed_dim, kernel_size=patch_size, strides=patch_size)
        self.flatten = layers.Reshape(target_shape=(-1, embed_dim))
        self.norm = keras.layers.LayerNormalization(epsilon=1e-7)

    def call(self, x):
        x = self.proj(x)
        height, width, channels = x.shape[1], x.shape[2], x.shape[3]
        x = self.norm(self.flatten(x))
        return x, height, width, channels


class FocalModulationLayer(layers.Layer):
    """The Focal Modulation layer includes query projection & context aggregation."""

    def __init__(self, dim, focal_window, focal_level, focal_factor=2, proj_drop_rate=0.0, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.focal_window = focal_window
        self.focal_level = focal_level
        self.focal_factor = focal_factor
        self.proj_drop_rate = proj_drop_rate
        self.initial_proj = layers.Dense(units=(2 * self.dim) + (self.focal_level + 1), use_bias=True)
        self.focal_layers = list()
        self.kernel_sizes = list()
        for idx in range(self.focal_level):
            kernel_size = (self.focal_factor * idx) + self.focal_window
            depth_gelu_block = keras.Sequential(
                [
                    layers.ZeroPadding2D(padding=(kernel_size // 2, kernel_size // 2)),
                    layers.Conv2D(filters=self.dim, kernel_size=kernel_size, activation=keras.activations.gelu,
                                  groups=self.dim, use_bias=False),
                ]
            )
            self.focal_layers.append(depth_gelu_block)
            self.kernel_sizes.append(kernel_size)
        self.activation = keras.activations.gelu
        self.gap = layers.GlobalAveragePooling2D(keepdims=True)
        self.modulator_proj = layers.Conv2D(filters=self.dim, kernel_size=(1, 1), use_bias=True)
        self.proj = layers.Dense(units=self.dim)
        self.proj_drop = layers.Dropout(self.proj_drop_rate)

    def call(self, x, training=None):
        x_proj = self.initial_proj(x)
        query, context, self.gates = ops.split(x_proj, [self.dim, 2 * self.dim], axis=-1)
        context = self.focal_layers[0](context)
        context_all = context * self.gates[..., 0:1]
        for idx in range(1, self.focal_level):
            context = self.focal_layers[idx](context)
            context_all += context * self.gates[..., idx:idx + 1]
        context_global = self.activation(self.gap(context))
        context_all += context_global * self.gates[..., self.focal_level:]
        self.modulator = self.modulator_proj(context_all)
        x_output = query * self.modulator
        x_output = self.proj(x_output)
        x_output = self.proj_drop(x_output)
        return x_output


class FocalModulationBlock(layers.Layer):
    def __init__(self, dim, input_resolution, mlp_ratio=4.0, drop=0.0, drop_path=0.0, focal_level=1,
                 focal_window=3, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.input_resolution = input_resolution
        self.mlp_ratio = mlp_ratio
        self.focal_level = focal_level
        self.focal_window = focal_window
        self.norm = layers.LayerNormalization(epsilon=1e-5)
        self.modulation = FocalModulationLayer(dim=self.dim, focal_window=self.focal_window,
                                               focal_level=self.focal_level, proj_drop_rate=drop)
        mlp_hidden_dim = int(self.dim * self.mlp_ratio)
        self.mlp = MLP(in_features=self.dim, hidden_features=mlp_hidden_dim, mlp_drop_rate=drop)

    def call(self, x, height=None, width=None, channels=None):
        shortcut = x
        x = self.norm(x)
        x = ops.reshape(x, (-1, height, width, channels))
        x = self.modulation(x)
        x = ops.reshape(x, (-1, height * width, channels))
        x = shortcut + x
        x = x + self.mlp(self.norm(x))
        return x


class BasicLayer(layers.Layer):
    def __init__(self, dim, out_dim, input_resolution, depth, mlp_ratio=4.0, drop=0.0, downsample=None,
                 focal_level=1, focal_window=1, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.input_resolution = input_resolution
        self.depth = depth
        self.blocks = [
            FocalModulationBlock(dim=dim, input_resolution=input_resolution, mlp_ratio=mlp_ratio, drop=drop,
                                 focal_level=focal_level, focal_window=focal_window)
            for i in range(self.depth)
        ]
        if downsample is not None:
            self.downsample = downsample(image_size=input_resolution, patch_size=(2, 2), embed_dim=out_dim)
        else:
            self.downsample = None

    def call(self, x, height=None, width=None, channels=None):
        for block in self.blocks:
            x = block(x, height=height, width=width, channels=channels)
        if self.downsample is not None:
            x = ops.reshape(x, (-1, height, width, channels))
            x, height_o, width_o, channels_o = self.downsample(x)
        else:
            height_o, width_o, channels_o = height, width, channels
        return x, height_o, width_o, channels_o


class FocalModulationNetwork(keras.Model):
    def __init__(self, image_size=(IMAGE_SIZE, IMAGE_SIZE), patch_size=(PATCH_SIZE, PATCH_SIZE),
                 num_classes=NUM_CLASSES, embed_dim=EMBED_DIM, depths=DEPTHS, mlp_ratio=2.0, drop_rate=0.1,
                 focal_levels=[FOCAL_LEVEL] * 2, focal_windows=[FOCAL_WINDOW] * 2, **kwargs):
        super().__init__(**kwargs)
        self.num_layers = len(depths)
        embed_dim = [embed_dim * (2 ** i) for i in range(self.num_layers)]
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        self.num_features = embed_dim[-1]
        self.mlp_ratio = mlp_ratio
        self.patch_embed = PatchEmbed(image_size=image_size, patch_size=patch_size, embed_dim=embed_dim[0])
        num_patches = self.patch_embed.num_patches
        patches_resolution = self.patch_embed.patch_resolution
        self.patches_resolution = patches_resolution
        self.pos_drop = layers.Dropout(drop_rate)
        self.basic_layers = list()
        for i_layer in range(self.num_layers):
            layer = BasicLayer(
                dim=embed_dim[i_layer],
                out_dim=embed_dim[i_layer + 1] if (i_layer < self.num_layers - 1) else None,
                input_resolution=(patches_resolution[0] // (2 ** i_layer),
                                  patches_resolution[1] // (2 ** i_layer)),
                depth=depths[i_layer],
                mlp_ratio=self.mlp_ratio,
                drop=drop_rate,
                downsample=PatchEmbed if (i_layer < self.num_layers - 1) else None,
                focal_level=focal_levels[i_layer],
                focal_window=focal_windows[i_layer],
            )
            self.basic_layers.append(layer)
        self.norm = keras.layers.LayerNormalization(epsilon=1e-7)
        self.avgpool = layers.GlobalAveragePooling1D()
        self.flatten = layers.Flatten()
        self.head = layers.Dense(self.num_classes, activation="softmax")

    def call(self, x):
        x, height, width, channels = self.patch_embed(x)
        x = self.pos_drop(x)
        for idx, layer in enumerate(self.basic_layers):
            x, height, width, channels = layer(x, height=height, width=width, channels=channels)
        x = self.norm(x)
        x = self.avgpool(x)
        x = self.flatten(x)
        x = self.head(x)
        return x


class TrainMonitor(keras.callbacks.Callback):
    def __init__(self, epoch_interval=None):
        self.epoch_interval = epoch_interval
        self.upsampler = layers.UpSampling2D(size=(PATCH_SIZE, PATCH_SIZE), interpolation="bilinear")
        self.shapes = []

    def on_epoch_end(self, epoch, logs=None):
        if self.epoch_interval and epoch % self.epoch_interval == 0:
            _ = self.model(x_val[:4])
            modulation_layer = self.model.basic_layers[0].blocks[-1].modulation
            gates = modulation_layer.gates
            gates = self.upsampler(gates)
            modulator = modulation_layer.modulator
            modulator = self.upsampler(modulator)
            self.shapes.append((tuple(gates.shape), tuple(modulator.shape)))
            assert np.all(np.isfinite(ops.convert_to_numpy(ops.norm(modulator, axis=-1))))


monitor = TrainMonitor(epoch_interval=3)
model = FocalModulationNetwork()
optimizer = keras.optimizers.AdamW(learning_rate=3e-3, weight_decay=1e-4)
model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(train_ds, epochs=EPOCHS, validation_data=val_ds, callbacks=[monitor], verbose=0)
print({k: [round(v, 3) for v in vs] for k, vs in history.history.items()})
assert history.history["loss"][-1] < history.history["loss"][0]
assert history.history["val_accuracy"][-1] > 0.6, history.history["val_accuracy"]
hw = IMAGE_SIZE  # gates / modulator upsampled from the 8x8 patch grid
assert monitor.shapes == [((4, hw, hw, FOCAL_LEVEL + 1), (4, hw, hw, EMBED_DIM))] * 2, monitor.shapes

loss, accuracy = model.evaluate(val_ds, verbose=0)
print(f"Loss: {loss:0.2f}")
print(f"Top-1 test accuracy: {accuracy*100:0.2f}%")
