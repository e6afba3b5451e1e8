"""Keras guide "The Functional API" (keras.io/guides/functional_api) as one program, imports
changed only (`import keras` -> `import corenn as keras`): the MNIST MLP trained, saved and
reloaded, the autoencoder built from an encoder and a decoder model, an ensemble, the
multi-input / multi-output ticket model trained with dict losses and loss weights, the toy
ResNet, shared layers, feature extraction through layer.output, a custom layer with
get_config, and a subclassed RNN around a functional model. Data are small synthetic stand-ins
for MNIST and CIFAR-10 (the guide downloads them); the VGG19 feature extractor is replaced by
the toy ResNet (the guide downloads ImageNet weights)."""
import numpy as np
import corenn as keras
from corenn import layers
from corenn import ops

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)

# -- Introduction ------------------------------------------------------------------------------
inputs = keras.Input(shape=(784,))
img_inputs = keras.Input(shape=(32, 32, 3))
assert tuple(inputs.shape) == (None, 784)
assert str(inputs.dtype) == "float32"

dense = layers.Dense(64, activation="relu")
x = dense(inputs)
x = layers.Dense(64, activation="relu")(x)
outputs = layers.Dense(10)(x)
model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
model.summary()
assert model.name == "mnist_model"
assert model.count_params() == 784 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10

# -- Training, evaluation, and inference ------------------------------------------------------
# a learnable stand-in for MNIST: the label is the brightest of 10 pixel blocks
x_train = rng.random((600, 784)).astype("float32")
y_train = x_train[:, :780].reshape(600, 10, 78).sum(-1).argmax(-1)
x_test = rng.random((200, 784)).astype("float32")
y_test = x_test[:, :780].reshape(200, 10, 78).sum(-1).argmax(-1)

model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=keras.optimizers.RMSprop(),
    metrics=["accuracy"],
)
history = model.fit(x_train, y_train, batch_size=64, epochs=4, validation_split=0.2)
test_scores = model.evaluate(x_test, y_test, verbose=2)
print("Test loss:", test_scores[0])
print("Test accuracy:", test_scores[1])
assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
assert len(history.history["loss"]) == 4
assert history.history["loss"][-1] < history.history["loss"][0]

# -- Save and serialize -----------------------------------------------------------------------
model.save("my_model.keras")
probe = model.predict(x_test[:5])
del model
# Recreate the exact same model purely from the file:
model = keras.models.load_model("my_model.keras")
np.testing.assert_allclose(model.predict(x_test[:5]), probe, rtol=1e-5, atol=1e-6)

# -- Use the same graph of layers to define multiple models --------------------------------
encoder_input = keras.Input(shape=(28, 28, 1), name="img")
x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
x = layers.Conv2D(32, 3, activation="relu")(x)
x = layers.MaxPooling2D(3)(x)
x = layers.Conv2D(32, 3, activation="relu")(x)
x = layers.Conv2D(16, 3, activation="relu")(x)
encoder_output = layers.GlobalMaxPooling2D()(x)

encoder = keras.Model(encoder_input, encoder_output, name="encoder")
encoder.summary()

x = layers.Reshape((4, 4, 1))(encoder_output)
x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
x = layers.UpSampling2D(3)(x)
x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
decoder_output = layers.Conv2DTranspose(1, 3, activation="relu")(x)

autoencoder = keras.Model(encoder_input, decoder_output, name="autoencoder")
autoencoder.summary()
assert tuple(encoder.output_shape) == (None, 16)
assert tuple(autoencoder.output_shape) == (None, 28, 28, 1)
# the encoder's layers are the autoencoder's first layers: the same objects
assert all(a is b for a, b in zip(encoder.layers, autoencoder.layers))

# -- All models are callable, just like layers --------------------------------------------
encoder_input = keras.Input(shape=(28, 28, 1), name="original_img")
x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
x = layers.Conv2D(32, 3, activation="relu")(x)
x = layers.MaxPooling2D(3)(x)
x = layers.Conv2D(32, 3, activation="relu")(x)
x = layers.Conv2D(16, 3, activation="relu")(x)
encoder_output = layers.GlobalMaxPooling2D()(x)

encoder = keras.Model(encoder_input, encoder_output, name="encoder")

decoder_input = keras.Input(shape=(16,), name="encoded_img")
x = layers.Reshape((4, 4, 1))(decoder_input)
x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
x = layers.UpSampling2D(3)(x)
x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
decoder_output = layers.Conv2DTranspose(1, 3, activation="relu")(x)

decoder = keras.Model(decoder_input, decoder_output, name="decoder")

autoencoder_input = keras.Input(shape=(28, 28, 1), name="img")
encoded_img = encoder(autoencoder_input)
decoded_img = decoder(encoded_img)
autoencoder = keras.Model(autoencoder_input, decoded_img, name="autoencoder")
autoencoder.summary()
imgs = rng.random((3, 28, 28, 1)).astype("float32")
np.testing.assert_allclose(ops.convert_to_numpy(autoencoder(imgs)),
                           ops.convert_to_numpy(decoder(encoder(imgs))), rtol=1e-5, atol=1e-6)
assert autoencoder.count_params() == encoder.count_params() + decoder.count_params()


def get_model():
    inputs = keras.Input(shape=(128,))
    outputs = layers.Dense(1)(inputs)
    return keras.Model(inputs, outputs)


model1 = get_model()
model2 = get_model()
model3 = get_model()

inputs = keras.Input(shape=(128,))
y1 = model1(inputs)
y2 = model2(inputs)
y3 = model3(inputs)
outputs = layers.average([y1, y2, y3])
ensemble_model = keras.Model(inputs=inputs, outputs=outputs)
probe = rng.random((4, 128)).astype("float32")
mean = (ops.convert_to_numpy(model1(probe)) + ops.convert_to_numpy(model2(probe))
        + ops.convert_to_numpy(model3(probe))) / 3
np.testing.assert_allclose(ops.convert_to_numpy(ensemble_model(probe)), mean, rtol=1e-5, atol=1e-6)

# -- Models with multiple inputs and outputs -----------------------------------------------
num_tags = 12  # Number of unique issue tags
num_words = 10000  # Size of vocabulary obtained when preprocessing text data
num_departments = 4  # Number of departments for predictions

title_input = keras.Input(shape=(None,), name="title")  # Variable-length sequence of ints
body_input = keras.Input(shape=(None,), name="body")  # Variable-length sequence of ints
tags_input = keras.Input(shape=(num_tags,), name="tags")  # Binary vectors of size `num_tags`

# Embed each word in the title into a 64-dimensional vector
title_features = layers.Embedding(num_words, 64)(title_input)
# Embed each word in the text into a 64-dimensional vector
body_features = layers.Embedding(num_words, 64)(body_input)

# Reduce sequence of embedded words in the title into a single 128-dimensional vector
title_features = layers.LSTM(128)(title_features)
# Reduce sequence of embedded words in the body into a single 32-dimensional vector
body_features = layers.LSTM(32)(body_features)

# Merge all available features into a single large vector via concatenation
x = layers.concatenate([title_features, body_features, tags_input])

# Stick a logistic regression for priority prediction on top of the features
priority_pred = layers.Dense(1, name="priority")(x)
# Stick a department classifier on top of the features
department_pred = layers.Dense(num_departments, name="department")(x)

# Instantiate an end-to-end model predicting both priority and department
model = keras.Model(
    inputs=[title_input, body_input, tags_input],
    outputs={"priority": priority_pred, "department": department_pred},
)

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss={
        "priority": keras.losses.BinaryCrossentropy(from_logits=True),
        "department": keras.losses.CategoricalCrossentropy(from_logits=True),
    },
    loss_weights={"priority": 1.0, "department": 0.2},
)

# Dummy input data
title_data = np.random.randint(num_words, size=(128, 10))
body_data = np.random.randint(num_words, size=(128, 20))
tags_data = np.random.randint(2, size=(128, num_tags)).astype("float32")

# Dummy target data
priority_targets = np.random.random(size=(128, 1))
dept_targets = np.random.randint(2, size=(128, num_departments))

history = model.fit(
    {"title": title_data, "body": body_data, "tags": tags_data},
    {"priority": priority_targets, "department": dept_targets},
    epochs=2,
    batch_size=32,
)
assert "loss" in history.history and len(history.history["loss"]) == 2
assert np.all(np.isfinite(history.history["loss"]))
preds = model.predict({"title": title_data[:3], "body": body_data[:3], "tags": tags_data[:3]})
assert isinstance(preds, dict) and sorted(preds) == ["department", "priority"]
assert preds["priority"].shape == (3, 1) and preds["department"].shape == (3, num_departments)
# the weighted loss, recomputed from the predictions (evaluate runs in inference mode)
bce = keras.losses.BinaryCrossentropy(from_logits=True)
cce = keras.losses.CategoricalCrossentropy(from_logits=True)
inputs_all = {"title": title_data, "body": body_data, "tags": tags_data}
preds = model.predict(inputs_all, batch_size=128)
expected = (float(bce(priority_targets, preds["priority"]))
            + 0.2 * float(cce(dept_targets, preds["department"])))
result = model.evaluate(inputs_all, {"priority": priority_targets, "department": dept_targets},
                        batch_size=128, return_dict=True)
np.testing.assert_allclose(result["loss"], expected, rtol=1e-4)

# -- A toy ResNet model --------------------------------------------------------------------
inputs = keras.Input(shape=(32, 32, 3), name="img")
x = layers.Conv2D(32, 3, activation="relu")(inputs)
x = layers.Conv2D(64, 3, activation="relu")(x)
block_1_output = layers.MaxPooling2D(3)(x)

x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
block_2_output = layers.add([x, block_1_output])

x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
block_3_output = layers.add([x, block_2_output])

x = layers.Conv2D(64, 3, activation="relu")(block_3_output)
x = layers.GlobalAveragePooling2D()(x)
x = layers.Dense(256, activation="relu")(x)
x = layers.Dropout(0.5)(x)
outputs = layers.Dense(10)(x)

model = keras.Model(inputs, outputs, name="toy_resnet")
model.summary()
assert model.count_params() == 223242   # the guide's summary: 223,242 parameters

x_train = rng.random((64, 32, 32, 3)).astype("float32") * 255
y_train = rng.integers(0, 10, (64, 1))
x_train = x_train.astype("float32") / 255.0
y_train = keras.utils.to_categorical(y_train, 10)
assert y_train.shape == (64, 10)

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    metrics=["acc"],
)
# We restrict the data to the first 1000 samples so as to limit execution time
history = model.fit(x_train[:1000], y_train[:1000], batch_size=32, epochs=1, validation_split=0.25)
assert sorted(history.history) == ["acc", "loss", "val_acc", "val_loss"]

# -- Shared layers -------------------------------------------------------------------------
# Embedding for 1000 unique words mapped to 128-dimensional vectors
shared_embedding = layers.Embedding(1000, 128)
# Variable-length sequence of integers
text_input_a = keras.Input(shape=(None,), dtype="int32")
# Variable-length sequence of integers
text_input_b = keras.Input(shape=(None,), dtype="int32")
# Reuse the same layer to encode both inputs
encoded_input_a = shared_embedding(text_input_a)
encoded_input_b = shared_embedding(text_input_b)
shared = keras.Model([text_input_a, text_input_b], [encoded_input_a, encoded_input_b])
assert len(shared.weights) == 1
ids = np.array([[3, 7, 9]])
ea, eb = shared([ids, ids])
np.testing.assert_array_equal(ops.convert_to_numpy(ea), ops.convert_to_numpy(eb))

# -- Extract and reuse nodes in the graph of layers ------------------------------------
features_list = [layer.output for layer in model.layers]
feat_extraction_model = keras.Model(inputs=model.input, outputs=features_list)
img = np.random.random((1, 32, 32, 3)).astype("float32")
extracted_features = feat_extraction_model(img)
assert len(extracted_features) == len(model.layers)
assert tuple(extracted_features[0].shape) == (1, 32, 32, 3)
# the last feature is the model's own (inference) output
np.testing.assert_allclose(ops.convert_to_numpy(extracted_features[-1]),
                           ops.convert_to_numpy(model(img)), rtol=1e-5, atol=1e-6)
gap = feat_extraction_model.get_layer(index=len(model.layers) - 4)
assert isinstance(gap, layers.GlobalAveragePooling2D)


# -- Extend the API using custom layers ---------------------------------------------------
class CustomDense(layers.Layer):
    def __init__(self, units=32):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer="random_normal",
            trainable=True,
        )
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {"units": self.units}


inputs = keras.Input((4,))
outputs = CustomDense(10)(inputs)

model = keras.Model(inputs, outputs)
config = model.get_config()

new_model = keras.Model.from_config(config, custom_objects={"CustomDense": CustomDense})
assert isinstance(new_model.layers[-1], CustomDense) and new_model.layers[-1].units == 10
assert tuple(new_model.output_shape) == (None, 10)

# -- Mix-and-match API styles ---------------------------------------------------------------
units = 32
timesteps = 10
input_dim = 5

# Define a Functional model
inputs = keras.Input((None, units))
x = layers.GlobalAveragePooling1D()(inputs)
outputs = layers.Dense(1)(x)
model = keras.Model(inputs, outputs)


class CustomRNN(layers.Layer):
    def __init__(self):
        super().__init__()
        self.units = units
        self.projection_1 = layers.Dense(units=units, activation="tanh")
        self.projection_2 = layers.Dense(units=units, activation="tanh")
        # Our previously-defined Functional model
        self.classifier = model

    def call(self, inputs):
        outputs = []
        state = ops.zeros(shape=(inputs.shape[0], self.units))
        for t in range(inputs.shape[1]):
            x = inputs[:, t, :]
            h = self.projection_1(x)
            y = h + self.projection_2(state)
            state = y
            outputs.append(y)
        features = ops.stack(outputs, axis=1)
        print(features.shape)
        return self.classifier(features)


rnn_model = CustomRNN()
out = rnn_model(ops.zeros((1, timesteps, input_dim)))
assert tuple(out.shape) == (1, 1)
assert len(rnn_model.trainable_weights) == 6


units = 32
timesteps = 10
input_dim = 5
batch_size = 16


class CustomRNN(layers.Layer):
    def __init__(self):
        super().__init__()
        self.units = units
        self.projection_1 = layers.Dense(units=units, activation="tanh")
        self.projection_2 = layers.Dense(units=units, activation="tanh")
        self.classifier = layers.Dense(1)

    def call(self, inputs):
        outputs = []
        state = ops.zeros(shape=(inputs.shape[0], self.units))
        for t in range(inputs.shape[1]):
            x = inputs[:, t, :]
            h = self.projection_1(x)
            y = h + self.projection_2(state)
            state = y
            outputs.append(y)
        features = ops.stack(outputs, axis=1)
        return self.classifier(features)


# Note that you specify a static batch size for the inputs with the `batch_shape`
# arg, because the inner computation of `CustomRNN` requires a static batch size
# (when you create the `state` zeros tensor).
inputs = keras.Input(batch_shape=(batch_size, timesteps, input_dim))
x = layers.Conv1D(32, 3)(inputs)
outputs = CustomRNN()(x)

model = keras.Model(inputs, outputs)

rnn_model = CustomRNN()
out = rnn_model(ops.zeros((1, 10, 5)))
assert tuple(out.shape) == (1, 10, 1)
assert tuple(model.output_shape) == (batch_size, timesteps - 2, 1)
assert tuple(model(np.ones((batch_size, timesteps, input_dim), "float32")).shape) == (batch_size, 8, 1)
print("functional API guide: OK")
