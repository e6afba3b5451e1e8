"""keras.io example "Image classification with EANet (External Attention Transformer)", imports
changed: `PatchExtract` with `ops.image.extract_patches`, a `PatchEmbedding` layer (Dense +
positional Embedding), external attention written with `keras.ops` on functional-API tensors
(`ops.reshape` / `ops.transpose` of symbolic tensors, two shared-memory Dense "M_k" / "M_v" units,
`Softmax(axis=2)` then the double normalisation in a `Lambda`), `layers.add` residuals, AdamW,
label smoothing and `TopKCategoricalAccuracy`; the example's self-attention variant is built too.
CIFAR-100 is replaced by synthetic 16x16 images of 6 classes; sizes are cut down."""
import numpy as np

import corenn as keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(11)
rng = np.random.default_rng(11)
num_classes = 6
input_shape = (16, 16, 3)


def make_images(n):
    # class = one of 6 (quadrant-row, colour) patterns, robust to a horizontal flip
    y = rng.integers(0, num_classes, n)
    x = rng.uniform(0, 100, (n, 16, 16, 3))
    for i, label in enumerate(y):
        row, colour = divmod(int(label), 3)
        x[i, 8 * row + 1: 8 * row + 7, 1:15, colour] += 140
    return x.astype("float32"), y.reshape(-1, 1)


(x_train, y_train), (x_test, y_test) = make_images(480), make_images(120)
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)
print(f"x_train shape: {x_train.shape} - y_train shape: {y_train.shape}")

weight_decay = 0.0001
learning_rate = 0.003
label_smoothing = 0.1
validation_split = 0.2
batch_size = 64
num_epochs = 6
patch_size = 4  # Size of the patches to be extracted from the input images.
num_patches = (input_shape[0] // patch_size) ** 2  # Number of patch
embedding_dim = 16  # Number of hidden units.
mlp_dim = 32
dim_coefficient = 2
num_heads = 2
attention_dropout = 0.1
projection_dropout = 0.1
num_transformer_blocks = 2  # Number of repetitions of the transformer layer

data_augmentation = keras.Sequential(
    [
        layers.Normalization(),
        layers.RandomFlip("horizontal"),
        layers.RandomRotation(factor=0.05),
        layers.RandomContrast(factor=0.1),
        layers.RandomZoom(height_factor=0.1, width_factor=0.1),
    ],
    name="data_augmentation",
)
# Compute the mean and the variance of the training data for normalization.
data_augmentation.layers[0].adapt(x_train)


class PatchExtract(layers.Layer):
    def __init__(self, patch_size, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = patch_size

    def call(self, x):
        B, C = ops.shape(x)[0], ops.shape(x)[-1]
        x = ops.image.extract_patches(x, self.patch_size)
        x = ops.reshape(x, (B, -1, self.patch_size * self.patch_size * C))
        return x


class PatchEmbedding(layers.Layer):
    def __init__(self, num_patch, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.num_patch = num_patch
        self.proj = layers.Dense(embed_dim)
        self.pos_embed = layers.Embedding(input_dim=num_patch, output_dim=embed_dim)

    def call(self, patch):
        pos = ops.arange(start=0, stop=self.num_patch, step=1)
        return self.proj(patch) + self.pos_embed(pos)


def external_attention(x, dim, num_heads, dim_coefficient=4, attention_dropout=0, projection_dropout=0):
    _, num_patch, channel = x.shape
    assert dim % num_heads == 0
    num_heads = num_heads * dim_coefficient

    x = layers.Dense(dim * dim_coefficient)(x)
    # create tensor [batch_size, num_patches, num_heads, dim*dim_coefficient//num_heads]
    x = ops.reshape(x, (-1, num_patch, num_heads, dim * dim_coefficient // num_heads))
    x = ops.transpose(x, axes=[0, 2, 1, 3])
    # a linear layer M_k
    attn = layers.Dense(dim // dim_coefficient)(x)
    # normalize attention map
    attn = layers.Softmax(axis=2)(attn)
    # dobule-normalization
    attn = layers.Lambda(
        lambda attn: ops.divide(attn, ops.convert_to_tensor(1e-9) + ops.sum(attn, axis=-1, keepdims=True))
    )(attn)
    attn = layers.Dropout(attention_dropout)(attn)
    # a linear layer M_v
    x = layers.Dense(dim * dim_coefficient // num_heads)(attn)
    x = ops.transpose(x, axes=[0, 2, 1, 3])
    x = ops.reshape(x, [-1, num_patch, dim * dim_coefficient])
    # a linear layer to project original dim
    x = layers.Dense(dim)(x)
    x = layers.Dropout(projection_dropout)(x)
    return x


def mlp(x, embedding_dim, mlp_dim, drop_rate=0.2):
    x = layers.Dense(mlp_dim, activation=ops.gelu)(x)
    x = layers.Dropout(drop_rate)(x)
    x = layers.Dense(embedding_dim)(x)
    x = layers.Dropout(drop_rate)(x)
    return x


def transformer_encoder(x, embedding_dim, mlp_dim, num_heads, dim_coefficient, attention_dropout,
                        projection_dropout, attention_type="external_attention"):
    residual_1 = x
    x = layers.LayerNormalization(epsilon=1e-5)(x)
    if attention_type == "external_attention":
        x = external_attention(x, embedding_dim, num_heads, dim_coefficient, attention_dropout, projection_dropout)
    elif attention_type == "self_attention":
        x = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embedding_dim, dropout=attention_dropout)(x, x)
    x = layers.add([x, residual_1])
    residual_2 = x
    x = layers.LayerNormalization(epsilon=1e-5)(x)
    x = mlp(x, embedding_dim, mlp_dim)
    x = layers.add([x, residual_2])
    return x


def get_model(attention_type="external_attention"):
    inputs = layers.Input(shape=input_shape)
    # Image augment
    x = data_augmentation(inputs)
    # Extract patches.
    x = PatchExtract(patch_size)(x)
    # Create patch embedding.
    x = PatchEmbedding(num_patches, embedding_dim)(x)
    # Create Transformer block.
    for _ in range(num_transformer_blocks):
        x = transformer_encoder(x, embedding_dim, mlp_dim, num_heads, dim_coefficient, attention_dropout,
                                projection_dropout, attention_type)

    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    return model


model = get_model(attention_type="external_attention")

model.compile(
    loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
    optimizer=keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay),
    metrics=[
        keras.metrics.CategoricalAccuracy(name="accuracy"),
        keras.metrics.TopKCategoricalAccuracy(5, name="top-5-accuracy"),
    ],
)

history = model.fit(x_train, y_train, batch_size=batch_size, epochs=num_epochs,
                    validation_split=validation_split, verbose=0)
loss, accuracy, top_5_accuracy = model.evaluate(x_test, y_test)
print(f"Test loss: {round(loss, 2)}")
print(f"Test accuracy: {round(accuracy * 100, 2)}%")
print(f"Test top 5 accuracy: {round(top_5_accuracy * 100, 2)}%")
assert history.history["loss"][-1] < history.history["loss"][0], history.history["loss"]
assert accuracy > 0.5, accuracy            # chance is 1/6
assert top_5_accuracy >= accuracy

# the external attention's shapes: M_k maps each head's features to dim // dim_coefficient memory units
softmaxes = [l for l in model.layers if isinstance(l, layers.Softmax)]
assert len(softmaxes) == num_transformer_blocks
assert tuple(softmaxes[0].output.shape) == (None, num_heads * dim_coefficient, num_patches, embedding_dim // dim_coefficient)

# the self-attention variant of the same model builds and runs
sa_model = get_model(attention_type="self_attention")
assert sa_model.predict(x_test[:4], verbose=0).shape == (4, num_classes)
