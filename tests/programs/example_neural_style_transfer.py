"""keras.io example "Neural style transfer" (Gatys et al.), imports changed: a feature extractor
keras.Model whose outputs are a dict of every layer's output by name, gram matrices with
tf.transpose / tf.reshape(tf.shape(x)[0], -1) / tf.matmul, style / content / total-variation
losses (tf.pow of neighbour differences), one forward pass on tf.concat of the three images with
per-image slices features[name][1, :, :, :], and gradient descent on a tf.Variable image with SGD
under an ExponentialDecay schedule (apply_gradients([(grads, combination_image)])). VGG19 is
replaced by a small fixed random conv net with VGG's layer names; the photos by synthetic
24 x 24 images; iterations are cut down and the loss weights raised 100x (the small net's features are
smaller than VGG19's)."""
import numpy as np

import corenn as tf
from corenn import keras

keras.utils.set_random_seed(12)
rng = np.random.default_rng(12)
img_nrows, img_ncols = 24, 24
yy, xx = np.mgrid[0:img_nrows, 0:img_ncols]
base = np.stack([xx * 8.0, yy * 8.0, np.full_like(xx, 100.0)], -1)[None].astype("float32") - 100
style = (100 * np.sign(np.sin(xx / 2.0 + yy / 3.0)))[..., None].repeat(3, -1)[None].astype("float32")

# Weights of the different loss components
total_variation_weight = 1e-4
style_weight = 1e-4
content_weight = 2.5e-6


def gram_matrix(x):
    x = tf.transpose(x, (2, 0, 1))
    features = tf.reshape(x, (tf.shape(x)[0], -1))
    gram = tf.matmul(features, tf.transpose(features))
    return gram


def style_loss(style, combination):
    S = gram_matrix(style)
    C = gram_matrix(combination)
    channels = 3
    size = img_nrows * img_ncols
    return tf.reduce_sum(tf.square(S - C)) / (4.0 * (channels**2) * (size**2))


def content_loss(base, combination):
    return tf.reduce_sum(tf.square(combination - base))


def total_variation_loss(x):
    a = tf.square(x[:, : img_nrows - 1, : img_ncols - 1, :] - x[:, 1:, : img_ncols - 1, :])
    b = tf.square(x[:, : img_nrows - 1, : img_ncols - 1, :] - x[:, : img_nrows - 1, 1:, :])
    return tf.reduce_sum(tf.pow(a + b, 1.25))


# Build a VGG19-like model (the example loads ImageNet weights)
inputs = keras.Input(shape=(None, None, 3))
h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="block1_conv1")(inputs)
h = keras.layers.MaxPooling2D(name="block1_pool")(h)
h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="block2_conv1")(h)
h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="block5_conv2")(h)
model = keras.Model(inputs, h, name="vgg19")

# Get the symbolic outputs of each "key" layer (we gave them unique names).
outputs_dict = dict([(layer.name, layer.output) for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)])

# Set up a model that returns the activation values for every layer in
# VGG19 (as a dict).
feature_extractor = keras.Model(inputs=model.inputs, outputs=outputs_dict)

# List of layers to use for the style loss.
style_layer_names = ["block1_conv1", "block2_conv1"]
# The layer to use for the content loss.
content_layer_name = "block5_conv2"


def compute_loss(combination_image, base_image, style_reference_image):
    input_tensor = tf.concat([base_image, style_reference_image, combination_image], axis=0)
    features = feature_extractor(input_tensor)

    # Initialize the loss
    loss = tf.zeros(shape=())

    # Add content loss
    layer_features = features[content_layer_name]
    base_image_features = layer_features[0, :, :, :]
    combination_features = layer_features[2, :, :, :]
    loss = loss + content_weight * content_loss(base_image_features, combination_features)
    # Add style loss
    for layer_name in style_layer_names:
        layer_features = features[layer_name]
        style_reference_features = layer_features[1, :, :, :]
        combination_features = layer_features[2, :, :, :]
        sl = style_loss(style_reference_features, combination_features)
        loss += (style_weight / len(style_layer_names)) * sl

    # Add total variation loss
    loss += total_variation_weight * total_variation_loss(combination_image)
    return loss


@tf.function
def compute_loss_and_grads(combination_image, base_image, style_reference_image):
    with tf.GradientTape() as tape:
        loss = compute_loss(combination_image, base_image, style_reference_image)
    grads = tape.gradient(loss, combination_image)
    return loss, grads


optimizer = keras.optimizers.SGD(
    keras.optimizers.schedules.ExponentialDecay(initial_learning_rate=100.0, decay_steps=100, decay_rate=0.96)
)

base_image = tf.convert_to_tensor(base)
style_reference_image = tf.convert_to_tensor(style)
combination_image = tf.Variable(base)

features = feature_extractor(base_image)
assert sorted(features) == sorted(outputs_dict) and features["block5_conv2"].shape == (1, 12, 12, 8)
g = gram_matrix(features["block1_conv1"][0]).numpy()
f = np.asarray(features["block1_conv1"][0], np.float64).reshape(-1, 8)
np.testing.assert_allclose(g, f.T @ f, rtol=1e-4, atol=1e-2)

# the gradient the loop follows, against finite differences of the loss
loss0, grads0 = compute_loss_and_grads(combination_image, base_image, style_reference_image)
direction = rng.normal(size=base.shape).astype("float32")
h = 1e-2
up = float(compute_loss(tf.convert_to_tensor(base + h * direction), base_image, style_reference_image))
down = float(compute_loss(tf.convert_to_tensor(base - h * direction), base_image, style_reference_image))
np.testing.assert_allclose((up - down) / (2 * h), float(np.sum(np.asarray(grads0, np.float64) * direction)),
                           rtol=0.05)

iterations = 40
losses = []
for i in range(1, iterations + 1):
    loss, grads = compute_loss_and_grads(combination_image, base_image, style_reference_image)
    optimizer.apply_gradients([(grads, combination_image)])
    losses.append(float(loss))
    if i % 10 == 0:
        print("Iteration %d: loss=%.4f" % (i, loss))
print(losses[0], "->", losses[-1])
assert losses[-1] < 0.7 * losses[0], losses
assert optimizer.iterations == iterations and isinstance(combination_image, tf.Variable)
