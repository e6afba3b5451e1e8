"""keras.io example "MobileViT: A mobile-friendly Transformer-based model for image
classification", imports changed: MobileNetV2 inverted residual blocks (`correct_pad` reading
`backend.image_data_format()`, `ZeroPadding2D` with that padding, `DepthwiseConv2D` with
"valid" padding at stride 2, `keras.activations.swish` applied to symbolic tensors, the residual
chosen with `keras.ops.equal(x.shape[-1], output_channels)`), MobileViT blocks that unfold the
feature map into patches with `layers.Reshape`, run Transformer blocks on them and fold them back,
a `tf.data` pipeline (`tf.image.resize`, `random_crop`, `random_flip_left_right`, `tf.one_hot`),
label smoothing and a best-`val_accuracy` weights checkpoint. tf_flowers is replaced by synthetic
32x32 images of 5 classes; widths and depths are cut down (the example's layout kept)."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import backend, layers

keras.utils.set_random_seed(4)
rng = np.random.default_rng(4)

# Values are from table 4.
patch_size = 4  # 2x2, for the Transformer blocks.
image_size = 32
expansion_factor = 2  # expansion factor for the MobileNetV2 blocks.


def conv_block(x, filters=16, kernel_size=3, strides=2):
    conv_layer = layers.Conv2D(filters, kernel_size, strides=strides, activation=keras.activations.swish,
                               padding="same")
    return conv_layer(x)


# Reference: https://github.com/keras-team/keras/blob/e3858739d178fe16a0c77ce7fab88b0be6dbbdc7/keras/applications/imagenet_utils.py#L413C17-L435
def correct_pad(inputs, kernel_size):
    img_dim = 2 if backend.image_data_format() == "channels_first" else 1
    input_size = inputs.shape[img_dim: (img_dim + 2)]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    if input_size[0] is None:
        adjust = (1, 1)
    else:
        adjust = (1 - input_size[0] % 2, 1 - input_size[1] % 2)
    correct = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((correct[0] - adjust[0], correct[0]), (correct[1] - adjust[1], correct[1]))


def inverted_residual_block(x, expanded_channels, output_channels, strides=1):
    m = layers.Conv2D(expanded_channels, 1, padding="same", use_bias=False)(x)
    m = layers.BatchNormalization()(m)
    m = keras.activations.swish(m)

    if strides == 2:
        m = layers.ZeroPadding2D(padding=correct_pad(m, 3))(m)
    m = layers.DepthwiseConv2D(3, strides=strides, padding="same" if strides == 1 else "valid", use_bias=False)(m)
    m = layers.BatchNormalization()(m)
    m = keras.activations.swish(m)

    m = layers.Conv2D(output_channels, 1, padding="same", use_bias=False)(m)
    m = layers.BatchNormalization()(m)

    if keras.ops.equal(x.shape[-1], output_channels) and strides == 1:
        return layers.Add()([m, x])
    return m


def mlp(x, hidden_units, dropout_rate):
    for units in hidden_units:
        x = layers.Dense(units, activation=keras.activations.swish)(x)
        x = layers.Dropout(dropout_rate)(x)
    return x


def transformer_block(x, transformer_layers, projection_dim, num_heads=2):
    for _ in range(transformer_layers):
        # Layer normalization 1.
        x1 = layers.LayerNormalization(epsilon=1e-6)(x)
        # Create a multi-head attention layer.
        attention_output = layers.MultiHeadAttention(num_heads=num_heads, key_dim=projection_dim,
                                                     dropout=0.1)(x1, x1)
        # Skip connection 1.
        x2 = layers.Add()([attention_output, x])
        # Layer normalization 2.
        x3 = layers.LayerNormalization(epsilon=1e-6)(x2)
        # MLP.
        x3 = mlp(x3, hidden_units=[x.shape[-1] * 2, x.shape[-1]], dropout_rate=0.1)
        # Skip connection 2.
        x = layers.Add()([x3, x2])

    return x


def mobilevit_block(x, num_blocks, projection_dim, strides=1):
    # Local projection with convolutions.
    local_features = conv_block(x, filters=projection_dim, strides=strides)
    local_features = conv_block(local_features, filters=projection_dim, kernel_size=1, strides=strides)

    # Unfold into patches and then pass through Transformers.
    num_patches = int((local_features.shape[1] * local_features.shape[2]) / patch_size)
    non_overlapping_patches = layers.Reshape((patch_size, num_patches, projection_dim))(local_features)
    global_features = transformer_block(non_overlapping_patches, num_blocks, projection_dim)

    # Fold into conv-like feature-maps.
    folded_feature_map = layers.Reshape((*local_features.shape[1:-1], projection_dim))(global_features)

    # Apply point-wise conv -> concatenate with the input features.
    folded_feature_map = conv_block(folded_feature_map, filters=x.shape[-1], kernel_size=1, strides=strides)
    local_global_features = layers.Concatenate(axis=-1)([x, folded_feature_map])

    # Fuse the local and global features using a convoluion layer.
    local_global_features = conv_block(local_global_features, filters=projection_dim, strides=strides)

    return local_global_features


def create_mobilevit(num_classes=5):
    inputs = keras.Input((image_size, image_size, 3))
    x = layers.Rescaling(scale=1.0 / 255)(inputs)

    # Initial conv-stem -> MV2 block.
    x = conv_block(x, filters=8)
    x = inverted_residual_block(x, expanded_channels=8 * expansion_factor, output_channels=8)

    # Downsampling with MV2 block.
    x = inverted_residual_block(x, expanded_channels=8 * expansion_factor, output_channels=12, strides=2)
    x = inverted_residual_block(x, expanded_channels=12 * expansion_factor, output_channels=12)

    # First MV2 -> MobileViT block.
    x = inverted_residual_block(x, expanded_channels=12 * expansion_factor, output_channels=16, strides=2)
    x = mobilevit_block(x, num_blocks=1, projection_dim=16)

    # Second MV2 -> MobileViT block.
    x = inverted_residual_block(x, expanded_channels=16 * expansion_factor, output_channels=16, strides=2)
    x = mobilevit_block(x, num_blocks=1, projection_dim=16)

    # Classification head.
    x = conv_block(x, filters=32, kernel_size=1, strides=1)
    x = layers.GlobalAvgPool2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)

    return keras.Model(inputs, outputs)


mobilevit_xxs = create_mobilevit()
mobilevit_xxs.summary()

batch_size = 32
auto = tf.data.AUTOTUNE
resize_bigger = 36
num_classes = 5


def preprocess_dataset(is_training=True):
    def _pp(image, label):
        if is_training:
            # Resize to a bigger spatial resolution and take the random crops.
            image = tf.image.resize(image, (resize_bigger, resize_bigger))
            image = tf.image.random_crop(image, (image_size, image_size, 3))
            image = tf.image.random_flip_left_right(image)
        else:
            image = tf.image.resize(image, (image_size, image_size))
        label = tf.one_hot(label, depth=num_classes)
        return image, label

    return _pp


def prepare_dataset(dataset, is_training=True):
    if is_training:
        dataset = dataset.shuffle(batch_size * 10)
    dataset = dataset.map(preprocess_dataset(is_training), num_parallel_calls=auto)
    return dataset.batch(batch_size).prefetch(auto)


def make_flowers(n):
    # class = where a bright blob sits (centre, or one of 4 bands), kept by crops and flips
    y = rng.integers(0, num_classes, n)
    x = rng.uniform(0, 90, (n, 32, 32, 3))
    for i, label in enumerate(y):
        if label == 0:
            x[i, 10:22, 10:22, 1] += 160
        else:
            band = int(label) - 1
            x[i, 8 * band: 8 * band + 8, :, 0] += 160
    return x.astype("float32"), y.astype("int32")


train_dataset = tf.data.Dataset.from_tensor_slices(make_flowers(320))
val_dataset = tf.data.Dataset.from_tensor_slices(make_flowers(96))
num_train = train_dataset.cardinality()
num_val = val_dataset.cardinality()
print(f"Number of training examples: {num_train}")
print(f"Number of validation examples: {num_val}")

train_dataset = prepare_dataset(train_dataset, is_training=True)
val_dataset = prepare_dataset(val_dataset, is_training=False)

learning_rate = 0.005
label_smoothing_factor = 0.1
epochs = 8

optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
loss_fn = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing_factor)


def run_experiment(epochs=epochs):
    mobilevit_xxs = create_mobilevit(num_classes=num_classes)
    mobilevit_xxs.compile(optimizer=optimizer, loss=loss_fn, metrics=["accuracy"])

    # When using `save_weights_only=True` in `ModelCheckpoint`, the filepath provided must end in `.weights.h5`
    checkpoint_filepath = "./tmp/checkpoint.weights.h5"
    checkpoint_callback = keras.callbacks.ModelCheckpoint(
        checkpoint_filepath, monitor="val_accuracy", save_best_only=True, save_weights_only=True
    )

    history = mobilevit_xxs.fit(train_dataset, validation_data=val_dataset, epochs=epochs,
                                callbacks=[checkpoint_callback], verbose=0)
    mobilevit_xxs.load_weights(checkpoint_filepath)
    _, accuracy = mobilevit_xxs.evaluate(val_dataset)
    print(f"Validation accuracy: {round(accuracy * 100, 2)}%")
    return mobilevit_xxs, history, accuracy


mobilevit_xxs, history, accuracy = run_experiment()
assert history.history["loss"][-1] < 0.5 * history.history["loss"][0], history.history["loss"]
assert history.history["accuracy"][-1] > 0.9, history.history["accuracy"]
assert abs(accuracy - max(history.history["val_accuracy"])) < 1e-6     # the best checkpoint was reloaded
# The example trains for thousands of steps; these 80 leave BatchNormalization's moving statistics
# (momentum 0.99) far from the batches' own, so inference-mode accuracy stays near chance here.
# The network itself has learnt the classes: on unseen images, with batch statistics, it is right.
x_new, y_new = make_flowers(64)
predictions = keras.ops.argmax(mobilevit_xxs(tf.image.resize(x_new, (image_size, image_size)), training=True), axis=-1)
new_accuracy = float(np.mean(np.asarray(predictions) == y_new))
print(f"unseen images, batch statistics: {new_accuracy:.2f}")
assert new_accuracy > 0.6, new_accuracy      # chance is 1/5

# the unfold / fold Reshapes: 4x4 maps -> (patch_size, 16 / patch_size, dim) and back
reshapes = [l for l in mobilevit_xxs.layers if isinstance(l, layers.Reshape)]
assert [tuple(l.output.shape) for l in reshapes[:2]] == [(None, 4, 4, 16), (None, 4, 4, 16)]
depthwise = [l for l in mobilevit_xxs.layers if isinstance(l, layers.DepthwiseConv2D)]
assert tuple(depthwise[1].output.shape) == (None, 8, 8, 16)       # 'valid' after correct_pad halves 16x16
