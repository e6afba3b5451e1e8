"""Keras guide "The Sequential model" (keras.io/guides/sequential_model) as one program, imports
changed only (`import keras` -> `import corenn as keras`): a Sequential model against the
composed layers, layers / add / pop, deferred building and weights, Input objects and summary
while stacking, the incremental Conv2D + MaxPooling2D workflow, feature extraction through
layer outputs, and transfer learning with frozen layers."""
import numpy as np
import corenn as keras
from corenn import layers
from corenn import ops

keras.utils.set_random_seed(10)

# -- When to use a Sequential model --------------------------------------------------------
# Define Sequential model with 3 layers
model = keras.Sequential(
    [
        layers.Dense(2, activation="relu", name="layer1"),
        layers.Dense(3, activation="relu", name="layer2"),
        layers.Dense(4, name="layer3"),
    ]
)
# Call model on a test input
x = ops.ones((3, 3))
y = model(x)

# is equivalent to this function:
layer1 = model.layers[0]
layer2 = model.layers[1]
layer3 = model.layers[2]
y2 = layer3(layer2(layer1(x)))
np.testing.assert_allclose(ops.convert_to_numpy(y), ops.convert_to_numpy(y2), rtol=1e-6)

# -- Creating a Sequential model -----------------------------------------------------------
model = keras.Sequential(
    [
        layers.Dense(2, activation="relu"),
        layers.Dense(3, activation="relu"),
        layers.Dense(4),
    ]
)
assert len(model.layers) == 3

model = keras.Sequential()
model.add(layers.Dense(2, activation="relu"))
model.add(layers.Dense(3, activation="relu"))
model.add(layers.Dense(4))

model.pop()
print(len(model.layers))  # 2
assert len(model.layers) == 2

model = keras.Sequential(name="my_sequential")
model.add(layers.Dense(2, activation="relu", name="layer1"))
model.add(layers.Dense(3, activation="relu", name="layer2"))
model.add(layers.Dense(4, name="layer3"))
assert model.name == "my_sequential" and [l.name for l in model.layers] == ["layer1", "layer2", "layer3"]

# -- Specifying the input shape in advance ---------------------------------------------------
layer = layers.Dense(3)
assert layer.weights == []  # Empty

# Call layer on a test input
x = ops.ones((1, 4))
y = layer(x)
assert [tuple(w.shape) for w in layer.weights] == [(4, 3), (3,)]

model = keras.Sequential(
    [
        layers.Dense(2, activation="relu"),
        layers.Dense(3, activation="relu"),
        layers.Dense(4),
    ]
)  # No weights at this stage!

# At this point, you can't do this:
# model.weights

# You also can't do this:
# model.summary()

# Call the model on a test input
x = ops.ones((1, 4))
y = model(x)
print("Number of weights after calling the model:", len(model.weights))  # 6
assert len(model.weights) == 6
model.summary()

model = keras.Sequential()
model.add(keras.Input(shape=(4,)))
model.add(layers.Dense(2, activation="relu"))

model.summary()
assert tuple(model.output_shape) == (None, 2) and model.count_params() == 10
assert model.layers[0].__class__.__name__ == "Dense"   # the Input is not a layer of the model

# -- A common debugging workflow: add() + summary() ---------------------------------------------
model = keras.Sequential()
model.add(keras.Input(shape=(250, 250, 3)))  # 250x250 RGB images
model.add(layers.Conv2D(32, 5, strides=2, activation="relu"))
model.add(layers.Conv2D(32, 3, activation="relu"))
model.add(layers.MaxPooling2D(3))

# Can you guess what the current output shape is at this point? Probably not.
# Let's just print it:
model.summary()
assert tuple(model.output_shape) == (None, 40, 40, 32)

# The answer was: (40, 40, 32), so we can keep downsampling...

model.add(layers.Conv2D(32, 3, activation="relu"))
model.add(layers.Conv2D(32, 3, activation="relu"))
model.add(layers.MaxPooling2D(3))
model.add(layers.Conv2D(32, 3, activation="relu"))
model.add(layers.Conv2D(32, 3, activation="relu"))
model.add(layers.MaxPooling2D(2))

# And now?
model.summary()
assert tuple(model.output_shape) == (None, 4, 4, 32)

# Now that we have 4x4 feature maps, time to apply global max pooling.
model.add(layers.GlobalMaxPooling2D())

# Finally, we add a classification layer.
model.add(layers.Dense(10))
assert tuple(model.output_shape) == (None, 10)

# -- Feature extraction with a Sequential model ------------------------------------------------
initial_model = keras.Sequential(
    [
        keras.Input(shape=(250, 250, 3)),
        layers.Conv2D(32, 5, strides=2, activation="relu"),
        layers.Conv2D(32, 3, activation="relu"),
        layers.Conv2D(32, 3, activation="relu"),
    ]
)
feature_extractor = keras.Model(
    inputs=initial_model.inputs,
    outputs=[layer.output for layer in initial_model.layers],
)

# Call feature extractor on test input.
x = ops.ones((1, 250, 250, 3))
features = feature_extractor(x)
assert [tuple(f.shape) for f in features] == [(1, 123, 123, 32), (1, 121, 121, 32), (1, 119, 119, 32)]
np.testing.assert_allclose(ops.convert_to_numpy(features[-1]), ops.convert_to_numpy(initial_model(x)),
                           rtol=1e-5, atol=1e-5)

initial_model = keras.Sequential(
    [
        keras.Input(shape=(250, 250, 3)),
        layers.Conv2D(32, 5, strides=2, activation="relu"),
        layers.Conv2D(32, 3, activation="relu", name="my_intermediate_layer"),
        layers.Conv2D(32, 3, activation="relu"),
    ]
)
feature_extractor = keras.Model(
    inputs=initial_model.inputs,
    outputs=initial_model.get_layer(name="my_intermediate_layer").output,
)
# Call feature extractor on test input.
x = ops.ones((1, 250, 250, 3))
features = feature_extractor(x)
assert tuple(features.shape) == (1, 121, 121, 32)

# -- Transfer learning with a Sequential model ------------------------------------------------
model = keras.Sequential(
    [
        keras.Input(shape=(784,)),
        layers.Dense(32, activation="relu"),
        layers.Dense(32, activation="relu"),
        layers.Dense(32, activation="relu"),
        layers.Dense(10),
    ]
)

# Presumably you would want to first load pre-trained weights.
model.save_weights("pretrained.weights.h5")
model.load_weights("pretrained.weights.h5")

# Freeze all layers except the last one.
for layer in model.layers[:-1]:
    layer.trainable = False

# Recompile and train (this will only update the weights of the last layer).
model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
frozen = [w.numpy().copy() for w in model.layers[0].weights]
last = [w.numpy().copy() for w in model.layers[-1].weights]
rng = np.random.default_rng(10)
model.fit(rng.random((64, 784)).astype("float32"), rng.integers(0, 10, 64), epochs=1, batch_size=32)
assert len(model.trainable_weights) == 2
for a, w in zip(frozen, model.layers[0].weights):
    np.testing.assert_array_equal(a, w.numpy())
assert not np.allclose(last[0], model.layers[-1].weights[0].numpy())
print("sequential model guide: OK")
