"""A small ConvNeXt (Liu et al., "A ConvNet for the 2020s", 2022) written the way
keras.applications' ConvNeXt and keras.io's examples write it: a patchify stem (Conv2D k=s=2 +
LayerNormalization), ConvNeXt blocks (DepthwiseConv2D 7x7 -> LayerNormalization(epsilon=1e-6) ->
Dense 4x -> GELU -> Dense -> LayerScale -> stochastic depth -> residual), a downsampling layer, a
global-average head. LayerScale is a custom layer holding a per-channel gamma (init 1e-6 as in
the paper, larger here so a short run moves); stochastic depth ("DropPath") is
Dropout(noise_shape=(None, 1, 1, 1)), which drops whole samples of the residual branch. Only the
imports changed; the images are synthetic 16x16 pictures of three texture classes."""
import numpy as np

from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(11)


class LayerScale(layers.Layer):
    """Multiplies its input by a learnt per-channel vector gamma."""

    def __init__(self, init_values, projection_dim, **kwargs):
        super().__init__(**kwargs)
        self.init_values = init_values
        self.projection_dim = projection_dim

    def build(self, input_shape):
        self.gamma = self.add_weight(
            shape=(self.projection_dim,),
            initializer=keras.initializers.Constant(self.init_values),
            trainable=True,
            name="gamma",
        )

    def call(self, x):
        return x * self.gamma

    def get_config(self):
        config = super().get_config()
        config.update({"init_values": self.init_values, "projection_dim": self.projection_dim})
        return config


def drop_path(rate, name):
    """Stochastic depth: one keep/drop draw per sample, broadcast over H, W and C."""
    return layers.Dropout(rate, noise_shape=(None, 1, 1, 1), name=name)


def convnext_block(x, dim, drop_path_rate, layer_scale_init, name):
    shortcut = x
    x = layers.DepthwiseConv2D(kernel_size=7, padding="same", name=name + "_depthwise_conv")(x)
    x = layers.LayerNormalization(epsilon=1e-6, name=name + "_layernorm")(x)
    x = layers.Dense(4 * dim, name=name + "_pointwise_conv_1")(x)
    x = layers.Activation("gelu", name=name + "_gelu")(x)
    x = layers.Dense(dim, name=name + "_pointwise_conv_2")(x)
    x = LayerScale(layer_scale_init, dim, name=name + "_layer_scale")(x)
    if drop_path_rate:
        x = drop_path(drop_path_rate, name + "_stochastic_depth")(x)
    return layers.add([shortcut, x], name=name + "_add")


def tiny_convnext(num_classes, depths=(2, 2), dims=(16, 32), drop_path_rate=0.2, layer_scale_init=0.1):
    inputs = keras.Input((16, 16, 1))
    x = layers.Conv2D(dims[0], kernel_size=2, strides=2, name="stem_conv")(inputs)
    x = layers.LayerNormalization(epsilon=1e-6, name="stem_layernorm")(x)
    rates = np.linspace(0.0, drop_path_rate, sum(depths))   # deeper blocks drop more often
    k = 0
    for stage, (depth, dim) in enumerate(zip(depths, dims)):
        if stage:
            x = layers.LayerNormalization(epsilon=1e-6, name=f"downsample_{stage}_layernorm")(x)
            x = layers.Conv2D(dim, kernel_size=2, strides=2, name=f"downsample_{stage}_conv")(x)
        for j in range(depth):
            x = convnext_block(x, dim, float(rates[k]), layer_scale_init, f"stage_{stage}_block_{j}")
            k += 1
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.LayerNormalization(epsilon=1e-6, name="head_layernorm")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="head_dense")(x)
    return keras.Model(inputs, outputs, name="tiny_convnext")


def textures(n, seed):
    """Class 0 horizontal stripes, 1 vertical stripes, 2 a checkerboard; random phase and noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:16, :16]
    labels = rng.integers(0, 3, n)
    images = np.empty((n, 16, 16, 1), "float32")
    for i, y in enumerate(labels):
        p = rng.integers(3, 6)
        f = [np.sin(2 * np.pi * yy / p), np.sin(2 * np.pi * xx / p),
             np.sin(2 * np.pi * yy / p) * np.sin(2 * np.pi * xx / p)][y]
        images[i, ..., 0] = 0.5 + 0.4 * np.roll(f, rng.integers(0, 16), axis=rng.integers(0, 2)) \
            + rng.normal(0, 0.25, (16, 16))
    return images, labels


x_train, y_train = textures(480, 0)
x_val, y_val = textures(120, 1)
model = tiny_convnext(3)
model.summary()
model.compile(optimizer=keras.optimizers.AdamW(learning_rate=3e-3, weight_decay=0.05),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=32, epochs=6, validation_data=(x_val, y_val), verbose=2)
print(history.history)
assert history.history["val_accuracy"][-1] > 0.9, history.history

# DropPath is active in training only: a training call drops whole samples of each residual
# branch, an inference call is deterministic
block_out = keras.Model(model.input, model.get_layer("stage_1_block_1_stochastic_depth").output)
train_a = np.asarray(block_out(x_val[:32], training=True))
zero_samples = np.all(train_a.reshape(32, -1) == 0, axis=1)
assert 0 < zero_samples.sum() < 32, zero_samples.sum()   # rate 0.2: some samples, not all
np.testing.assert_array_equal(np.asarray(block_out(x_val[:8])), np.asarray(block_out(x_val[:8])))

scales = [np.asarray(l.gamma) for l in model.layers if isinstance(l, LayerScale)]
assert len(scales) == 4 and all(not np.allclose(s, 0.1) for s in scales)   # the layer scales learnt
