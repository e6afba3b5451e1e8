"""keras.io example "Grad-CAM class activation visualization", imports changed: a functional
model, a second model mapping the input to [last conv layer's output, predictions], the class
score's gradient w.r.t. the conv feature map, channel weights by reduce_mean, the heatmap
(last_conv @ pooled[..., tf.newaxis], squeeze, maximum 0, normalised). A small convnet trained on
synthetic images with a bright square stands in for Xception; checks: the heatmap peaks where the
square is, and the feature-map gradient matches finite differences through the head."""
import numpy as np

import corenn as keras
import corenn as tf
from corenn.keras import layers

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
n, size = 240, 12
x = rng.uniform(0, 0.2, size=(n, size, size, 1)).astype("float32")
y = rng.integers(0, 2, n)
corners = []
for i in range(n):   # class 1: a bright 4x4 square somewhere; class 0: none
    r, c = rng.integers(0, size - 4, 2)
    corners.append((r, c))
    if y[i]:
        x[i, r:r + 4, c:c + 4] = 1.0

inputs = keras.Input((size, size, 1))
h = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
h = layers.Conv2D(8, 3, padding="same", activation="relu", name="last_conv_layer")(h)
h = layers.GlobalAveragePooling2D()(h)
outputs = layers.Dense(2, activation="softmax", name="predictions")(h)
model = keras.Model(inputs, outputs)
model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=15, batch_size=32, verbose=0)
print("accuracy", model.evaluate(x, y, verbose=0)[1])
assert model.evaluate(x, y, verbose=0)[1] > 0.9

last_conv_layer_name = "last_conv_layer"


def make_gradcam_heatmap(img_array, model, last_conv_layer_name, pred_index=None):
    # First, we create a model that maps the input image to the activations
    # of the last conv layer as well as the output predictions
    grad_model = keras.models.Model(
        model.inputs, [model.get_layer(last_conv_layer_name).output, model.output]
    )

    # Then, we compute the gradient of the top predicted class for our input image
    # with respect to the activations of the last conv layer
    with tf.GradientTape() as tape:
        last_conv_layer_output, preds = grad_model(img_array)
        if pred_index is None:
            pred_index = tf.argmax(preds[0])
        class_channel = preds[:, pred_index]

    # This is the gradient of the output neuron (top predicted or chosen)
    # with regard to the output feature map of the last conv layer
    grads = tape.gradient(class_channel, last_conv_layer_output)

    # This is a vector where each entry is the mean intensity of the gradient
    # over a specific feature map channel
    pooled_grads = tf.reduce_mean(grads, axis=(0, 1, 2))

    # We multiply each channel in the feature map array
    # by "how important this channel is" with regard to the top predicted class
    # then sum all the channels to obtain the heatmap class activation
    last_conv_layer_output = last_conv_layer_output[0]
    heatmap = last_conv_layer_output @ pooled_grads[..., tf.newaxis]
    heatmap = tf.squeeze(heatmap)

    # For visualization purpose, we will also normalize the heatmap between 0 & 1
    heatmap = tf.maximum(heatmap, 0) / tf.math.reduce_max(heatmap)
    return heatmap.numpy(), grads.numpy()


hits = 0
ones = np.flatnonzero(y == 1)[:10]
for i in ones:
    img_array = x[i:i + 1]
    heatmap, grads = make_gradcam_heatmap(img_array, model, last_conv_layer_name, pred_index=1)
    assert heatmap.shape == (size, size) and heatmap.max() <= 1.0 + 1e-6 and heatmap.min() >= 0
    r, c = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    r0, c0 = corners[i]
    hits += (r0 - 1 <= r <= r0 + 4) and (c0 - 1 <= c <= c0 + 4)
print("heatmap peaks on the square:", hits, "/", len(ones))
assert hits >= 7

# the feature-map gradient, by central differences through the head (pooling + Dense + softmax)
conv_model = keras.Model(model.inputs, model.get_layer(last_conv_layer_name).output)
A = conv_model.predict(x[ones[0]:ones[0] + 1], verbose=0).astype(np.float64)[0]
W, b = [v.numpy().astype(np.float64) for v in model.get_layer("predictions").trainable_variables]


def score(a):
    z = a.mean(axis=(0, 1)) @ W + b
    e = np.exp(z - z.max())
    return (e / e.sum())[1]


_, grads = make_gradcam_heatmap(x[ones[0]:ones[0] + 1], model, last_conv_layer_name, pred_index=1)
for idx in [(0, 0, 0), (5, 6, 3), (11, 2, 7)]:
    up, down = A.copy(), A.copy()
    up[idx] += 1e-4
    down[idx] -= 1e-4
    fd = (score(up) - score(down)) / 2e-4
    assert abs(fd - grads[(0,) + idx]) < 1e-5 + 1e-3 * abs(fd), (idx, fd, grads[(0,) + idx])

# the example removes the last softmax before Grad-CAM; corenn takes the activation by name
# (`layer.activation = None` after the layer was built is not supported yet)
model.layers[-1].activation = keras.activations.get("linear")
heatmap, _ = make_gradcam_heatmap(x[ones[:1]], model, last_conv_layer_name)
assert np.isfinite(heatmap).all() and heatmap.max() == 1.0
