"""keras.io "Keras FAQ" (getting_started/faq), its runnable snippets in order, imports changed
(`import corenn as tf`, `from corenn import keras`, `from corenn.keras import layers`): a model
compiled under `tf.distribute.MirroredStrategy().scope()` and fit on a Dataset, a shared LSTM
encoding two inputs, the seeding recipe, whole-model save / `load_model`, `save_weights` /
`load_weights`, `to_json` / `model_from_json` with `custom_objects` and `CustomObjectScope`, the
"make or restore" `ModelCheckpoint(save_freq=...)` loop, `EarlyStopping(monitor='val_loss')` with
`validation_split`, freezing (`trainable_weights == []`, a frozen base in a Sequential, the GAN
compile-then-freeze pattern), `Dropout(...)(x, training=True)`, the validation split being the
*last* samples, a custom `train_step` / `test_step` (`compiled_loss` / `compiled_metrics`, sample
weights), feature extraction with `layer.output` / `get_layer(name).output`, and the stateful
LSTM with `batch_size=32`, `train_on_batch` and `reset_states`. Keras 3 file names are used
(`.keras`, `.weights.h5`; TF-Keras 2's SavedModel folders and `by_name=True` are gone), the
FAQ's placeholder `ResNet50Base` is a small convolutional base, `tf.device_scope` (no such TF
function) is left out, and sizes are shrunk. Each snippet ends with a check that can fail."""
import os
import random as python_random

import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

# --- How can I obtain reproducible results using Keras during development?
np.random.seed(123)
python_random.seed(123)
tf.random.set_seed(1234)
rng = np.random.default_rng(0)

# --- How can I train a Keras model on multiple GPUs (on a single machine)?
strategy = tf.distribute.MirroredStrategy()
with strategy.scope():
    # This could be any kind of model -- Functional, subclass...
    model = tf.keras.Sequential([
        tf.keras.layers.Conv2D(8, 3, activation='relu', input_shape=(12, 12, 1)),
        tf.keras.layers.GlobalMaxPooling2D(),
        tf.keras.layers.Dense(10)
    ])
    model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=tf.keras.optimizers.Adam(0.01),
                  metrics=[tf.keras.metrics.SparseCategoricalAccuracy()])
# classes 0..9 = how bright a 3x3 patch at a random place is (global max pooling sees that)
imgs = rng.normal(0, 0.05, (320, 12, 12, 1)).astype("float32")
labels = rng.integers(0, 10, 320)
for i, c in enumerate(labels):
    r, q = rng.integers(0, 9, 2)
    imgs[i, r:r + 3, q:q + 3] += 0.4 * (c + 1)
train_dataset = tf.data.Dataset.from_tensor_slices((imgs, labels)).shuffle(320).batch(32)
callbacks = []
hist = model.fit(train_dataset, epochs=20, callbacks=callbacks, verbose=0)
acc = hist.history["sparse_categorical_accuracy"]
print("strategy fit accuracy", acc[0], "->", acc[-1])
assert acc[-1] > 0.4 and acc[-1] > acc[0] + 0.2, acc

# --- Model parallelism: a shared LSTM encodes two sequences (device scopes left out)
input_a = keras.Input(shape=(14, 8))
input_b = keras.Input(shape=(14, 8))
shared_lstm = keras.layers.LSTM(6)
encoded_a = shared_lstm(input_a)
encoded_b = shared_lstm(input_b)
merged_vector = keras.layers.concatenate(
    [encoded_a, encoded_b], axis=-1)
two = keras.Model([input_a, input_b], merged_vector)
a, b = rng.normal(size=(2, 3, 14, 8)).astype("float32")
out = two.predict([a, b], verbose=0)
assert out.shape == (3, 12) and len(two.weights) == 3   # one LSTM's kernel, recurrent, bias
np.testing.assert_allclose(out[:, :6], two.predict([a, a], verbose=0)[:, 6:], rtol=1e-5, atol=1e-6)

# --- What are my options for saving models?
x_small = rng.normal(size=(64, 3)).astype("float32")
y_small = x_small @ np.array([[1.0], [-2.0], [0.5]], "float32")
model = keras.Sequential([keras.Input((3,)), layers.Dense(2, name='dense_1'), layers.Dense(1, name='dense_2')])
model.compile(optimizer='adam', loss='mse')
model.fit(x_small, y_small, epochs=2, verbose=0)
reference = model.predict(x_small, verbose=0)
from corenn.keras.models import load_model

model.save('my_model.keras')
del model  # deletes the existing model

# returns a compiled model
# identical to the previous one
model = load_model('my_model.keras')
np.testing.assert_allclose(model.predict(x_small, verbose=0), reference, rtol=1e-6)
assert model.optimizer is not None and model.loss == 'mse'

model.save_weights('my_model_weights.weights.h5')
fresh = keras.Sequential([keras.Input((3,)), layers.Dense(2, name='dense_1'), layers.Dense(1, name='dense_2')])
fresh.load_weights('my_model_weights.weights.h5')
np.testing.assert_allclose(fresh.predict(x_small, verbose=0), reference, rtol=1e-6)

# save as JSON
json_string = model.to_json()
from corenn.keras.models import model_from_json
rebuilt = model_from_json(json_string)
assert [l.name for l in rebuilt.layers] == ['dense_1', 'dense_2']
assert rebuilt.count_params() == model.count_params()


@keras.saving.register_keras_serializable(package="faq")
class AttentionLayer(layers.Layer):
    # a stand-in for the FAQ's custom layer: softmax attention over the features
    def call(self, x):
        return x * tf.nn.softmax(x, axis=-1)


inp = keras.Input((4,))
custom = keras.Model(inp, layers.Dense(1)(AttentionLayer()(inp)))
custom.save('my_model_custom.keras')
data4 = rng.normal(size=(5, 4)).astype("float32")
model = load_model('my_model_custom.keras', custom_objects={'AttentionLayer': AttentionLayer})
np.testing.assert_allclose(model.predict(data4, verbose=0), custom.predict(data4, verbose=0), rtol=1e-6)
from corenn.keras.utils import CustomObjectScope

with CustomObjectScope({'AttentionLayer': AttentionLayer}):
    model = load_model('my_model_custom.keras')
model = model_from_json(custom.to_json(), custom_objects={'AttentionLayer': AttentionLayer})
assert isinstance(model.layers[1], AttentionLayer)

# --- How can I regularly save Keras models during training?
# Prepare a directory to store all the checkpoints.
checkpoint_dir = './ckpt'
if not os.path.exists(checkpoint_dir):
    os.makedirs(checkpoint_dir)


def make_model():
    # Create a new linear regression model.
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile(optimizer='adam', loss='mse')
    return model


def make_or_restore_model():
    # Either restore the latest model, or create a fresh one
    # if there is no checkpoint available.
    checkpoints = [checkpoint_dir + '/' + name
                   for name in os.listdir(checkpoint_dir)]
    if checkpoints:
        latest_checkpoint = max(checkpoints, key=os.path.getctime)
        print('Restoring from', latest_checkpoint)
        return keras.models.load_model(latest_checkpoint)
    print('Creating a new model')
    return make_model()


train_data = tf.data.Dataset.from_tensor_slices((x_small, y_small)).batch(8)
model = make_or_restore_model()
callbacks = [
    # This callback saves the model every 4 batches.
    # We include the training loss in the file name.
    keras.callbacks.ModelCheckpoint(
        filepath=checkpoint_dir + '/ckpt-loss={loss:.2f}.keras',
        save_freq=4)
]
model.fit(train_data, epochs=2, callbacks=callbacks, verbose=0)
saved = sorted(os.listdir(checkpoint_dir))
print("checkpoints", saved)
assert len(saved) >= 2 and all(s.startswith("ckpt-loss=") for s in saved), saved
restored = make_or_restore_model()
assert restored.layers[0].kernel.shape == (3, 1)

# --- How can I interrupt training when the validation loss isn't decreasing anymore?
from corenn.keras.callbacks import EarlyStopping

early_stopping = EarlyStopping(monitor='val_loss', patience=2)
x = rng.normal(size=(100, 3)).astype("float32")
y = rng.normal(size=(100, 1)).astype("float32")      # noise: nothing to learn, val_loss stalls
model = keras.Sequential([keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(0.1), loss='mse')  # fast, so val_loss soon stalls
h = model.fit(x, y, validation_split=0.2, callbacks=[early_stopping], epochs=200, verbose=0)
print("early stopping after", len(h.epoch), "epochs")
assert len(h.epoch) < 100 and early_stopping.stopped_epoch == len(h.epoch) - 1, len(h.epoch)
vl = h.history["val_loss"]
assert min(vl[-2:]) >= min(vl[:-2]), vl   # stopped because the last `patience` epochs did not improve

# --- How can I freeze layers and do fine-tuning?
from corenn.keras.layers import Dense

layer = Dense(3)
layer.build(input_shape=(3, 3))  # Create the weights of the layer
assert layer.trainable
assert len(layer.trainable_weights) == 2
layer.trainable = False
assert layer.trainable_weights == []


def ResNet50Base(input_shape, weights=None):
    # the FAQ's placeholder for a pretrained base: a small convolutional feature extractor
    return keras.Sequential([keras.Input(input_shape), layers.Conv2D(4, 3, activation="relu"),
                             layers.BatchNormalization(), layers.GlobalAveragePooling2D()],
                            name="resnet50_base")


model = keras.Sequential([
    ResNet50Base(input_shape=(8, 8, 3), weights='pretrained'),
    Dense(10),
])
model.layers[0].trainable = False  # Freeze ResNet50Base.

assert model.layers[0].trainable_weights == []  # ResNet50Base has no trainable weights.
assert len(model.trainable_weights) == 2  # Just the bias & kernel of the Dense layer.

model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
base_before = [np.array(w) for w in model.layers[0].weights]
head_before = np.array(model.layers[1].kernel)
xi = rng.normal(size=(32, 8, 8, 3)).astype("float32")
yi = rng.integers(0, 10, 32)
model.fit(xi, yi, epochs=2, verbose=0)  # Train Dense while excluding ResNet50Base.
for before, w in zip(base_before, model.layers[0].weights):
    np.testing.assert_array_equal(np.array(w), before)   # BN statistics frozen too
assert not np.allclose(np.array(model.layers[1].kernel), head_before)

# custom training loop: only the trainable weights are updated
optimizer = keras.optimizers.Adam(0.01)
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
dataset = tf.data.Dataset.from_tensor_slices((xi, yi)).batch(16)
# Iterate over the batches of a dataset.
for inputs, targets in dataset:
    # Open a GradientTape.
    with tf.GradientTape() as tape:
        # Forward pass.
        predictions = model(inputs)
        # Compute the loss value for this batch.
        loss_value = loss_fn(targets, predictions)

    # Get gradients of loss wrt the *trainable* weights.
    gradients = tape.gradient(loss_value, model.trainable_weights)
    # Update the weights of the model.
    optimizer.apply_gradients(zip(gradients, model.trainable_weights))
for before, w in zip(base_before, model.layers[0].weights):
    np.testing.assert_array_equal(np.array(w), before)

# the GAN pattern: compile the discriminator, freeze it, compile the combined model
discriminator = keras.Sequential([keras.Input((4,)), layers.Dense(1)])
generator = keras.Sequential([keras.Input((2,)), layers.Dense(4)])
discriminator.compile(optimizer="sgd", loss="mse")  # the weights of `discriminator` should be updated when `discriminator` is trained
discriminator.trainable = False
gan = keras.Sequential([generator, discriminator])
gan.compile(optimizer="sgd", loss="mse")  # `discriminator` is a submodel of `gan`, which should not be updated when `gan` is trained
d_before = np.array(discriminator.layers[0].kernel)
g_before = np.array(generator.layers[0].kernel)
gan.train_on_batch(rng.normal(size=(8, 2)).astype("float32"), np.ones((8, 1), "float32"))
np.testing.assert_array_equal(np.array(discriminator.layers[0].kernel), d_before)
assert not np.allclose(np.array(generator.layers[0].kernel), g_before)

# --- What's the difference between the `training` argument in `call()` and the `trainable` attribute?
x = np.ones((200, 10), "float32")
y = layers.Dropout(0.5)(x, training=True)  # Applies dropout at training time *and* inference time
y = np.asarray(y)
assert set(np.unique(y).tolist()) <= {0.0, 2.0} and 0.35 < np.mean(y == 0) < 0.65

# --- In `fit()`, how is the validation split computed?  (the *last* x% of the data)
seen = []


class RecordValidation(keras.callbacks.Callback):
    def on_test_batch_begin(self, batch, logs=None):
        seen.append(batch)


marked = np.arange(50, dtype="float32")[:, None]
probe = keras.Sequential([keras.Input((1,)), layers.Lambda(lambda t: t)])
probe.compile(loss="mae")
h = probe.fit(marked, np.zeros((50, 1), "float32"), validation_split=0.2, epochs=1, verbose=0,
              shuffle=True)
# mean |x| over the last 10 samples (40..49) is 44.5; over the first 40 it would be 19.5
np.testing.assert_allclose(h.history["val_loss"][0], 44.5, rtol=1e-6)
np.testing.assert_allclose(h.history["loss"][0], 19.5, rtol=1e-6)


# --- What if I need to customize what `fit()` does?
class MyCustomModel(keras.Model):

    def train_step(self, data):
        # Unpack the data. Its structure depends on your model and
        # on what you pass to `fit()`.
        if len(data) == 3:
            x, y, sample_weight = data
        else:
            sample_weight = None
            x, y = data

        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)  # Forward pass
            # Compute the loss value.
            # The loss function is configured in `compile()`.
            loss = self.compiled_loss(y, y_pred,
                                      sample_weight=sample_weight,
                                      regularization_losses=self.losses)

        # Compute gradients
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)

        # Update weights
        self.optimizer.apply_gradients(zip(gradients, trainable_vars))

        # Update the metrics.
        # Metrics are configured in `compile()`.
        self.compiled_metrics.update_state(
            y, y_pred, sample_weight=sample_weight)

        # Return a dict mapping metric names to current value.
        # Note that it will include the loss (tracked in self.metrics).
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
      # Unpack the data
      x, y = data
      # Compute predictions
      y_pred = self(x, training=False)
      # Updates the metrics tracking the loss
      self.compiled_loss(
          y, y_pred, regularization_losses=self.losses)
      # Update the metrics.
      self.compiled_metrics.update_state(y, y_pred)
      # Return a dict mapping metric names to current value.
      # Note that it will include the loss (tracked in self.metrics).
      return {m.name: m.result() for m in self.metrics}


# Construct and compile an instance of MyCustomModel
inputs = keras.Input(shape=(32,))
outputs = keras.layers.Dense(1)(inputs)
model = MyCustomModel(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(0.01), loss='mse', metrics=['mae'])

# You can now use sample_weight argument
x = np.random.random((1000, 32)).astype("float32")
y = (x @ np.random.random((32, 1)) / 8).astype("float32")
sw = np.random.random((1000, 1)).astype("float32")
h = model.fit(x, y, sample_weight=sw, epochs=10, verbose=0)
print("custom train_step loss", h.history["loss"][0], "->", h.history["loss"][-1])
assert h.history["loss"][-1] < 0.2 * h.history["loss"][0], h.history["loss"]
res = model.evaluate(x, y, verbose=0, return_dict=True)
pred = model.predict(x, verbose=0)
np.testing.assert_allclose(res["mae"], np.mean(np.abs(pred - y)), rtol=1e-4)

# --- How can I obtain the output of an intermediate layer (feature extraction)?
model = keras.Sequential([
    keras.Input((12, 12, 1)),
    layers.Conv2D(4, 3, activation='relu'),
    layers.Conv2D(4, 3, activation='relu'),
    layers.MaxPooling2D(2),
    layers.Conv2D(4, 3, activation='relu', name='my_layer'),
    layers.GlobalMaxPooling2D(),
    layers.Dense(10),
])
extractor = keras.Model(inputs=model.inputs,
                        outputs=[layer.output for layer in model.layers])
data = imgs[:4]
features = extractor(data)
assert [tuple(f.shape) for f in features] == [(4, 10, 10, 4), (4, 8, 8, 4), (4, 4, 4, 4),
                                              (4, 2, 2, 4), (4, 4), (4, 10)]
np.testing.assert_allclose(np.asarray(features[-1]), np.asarray(model(data)), rtol=1e-5, atol=1e-6)

layer_name = 'my_layer'
intermediate_layer_model = keras.Model(inputs=model.input,
                                       outputs=model.get_layer(layer_name).output)
intermediate_output = intermediate_layer_model(data)
np.testing.assert_allclose(np.asarray(intermediate_output), np.asarray(features[3]), rtol=1e-6)

# --- How can I use stateful RNNs?
x = np.random.random((32, 21, 16)).astype("float32")  # this is our input data, of shape (32, 21, 16)
# we will feed it to our model in sequences of length 10

model = keras.Sequential()
model.add(layers.LSTM(32, input_shape=(10, 16), batch_size=32, stateful=True))
model.add(layers.Dense(16, activation='softmax'))

model.compile(optimizer='rmsprop', loss='categorical_crossentropy')

# we train the network to predict the 11th timestep given the first 10:
model.train_on_batch(x[:, :10, :], np.reshape(x[:, 10, :], (32, 16)))

# the state of the network has changed. We can feed the follow-up sequences:
model.train_on_batch(x[:, 10:20, :], np.reshape(x[:, 20, :], (32, 16)))

# let's reset the states of the LSTM layer:
model.reset_states()
first = model.predict(x[:, :10], batch_size=32, verbose=0)
carried = model.predict(x[:, :10], batch_size=32, verbose=0)   # starts from the carried state
assert not np.allclose(first, carried)

# another way to do it in this case:
model.layers[0].reset_states()
np.testing.assert_allclose(model.predict(x[:, :10], batch_size=32, verbose=0), first, rtol=1e-5, atol=1e-6)
print("FAQ snippets all ran")
