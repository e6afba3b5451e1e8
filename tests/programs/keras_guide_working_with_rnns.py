"""keras-io guides/working_with_rnns, imports changed: built-in RNN layers, outputs and states,
an encoder-decoder passing LSTM states, cross-batch statefulness and state reuse,
Bidirectional, RNN(LSTMCell) against the fused LSTM on Fashion-MNIST rows, and an RNN over
nested inputs with a custom cell. Sizes are smaller than the guide's (the guide's MNIST model
trains one epoch on 60,000 images; here 768 Fashion-MNIST images, 2 epochs)."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers
from corenn.keras import ops

keras.utils.set_random_seed(0)

# -- Built-in RNN layers: a simple example ---------------------------------------------------
model = keras.Sequential()
# Add an Embedding layer expecting input vocab of size 1000, and
# output embedding dimension of size 64.
model.add(layers.Embedding(input_dim=1000, output_dim=64))

# Add a LSTM layer with 128 internal units.
model.add(layers.LSTM(128))

# Add a Dense layer with 10 units.
model.add(layers.Dense(10))

model.summary()
out = model(np.random.default_rng(0).integers(0, 1000, (3, 7)))
assert tuple(out.shape) == (3, 10)
assert model.count_params() == 1000 * 64 + 4 * (64 * 128 + 128 * 128 + 128) + 128 * 10 + 10

# -- Outputs and states --------------------------------------------------------------------
model = keras.Sequential()
model.add(layers.Embedding(input_dim=1000, output_dim=64))

# The output of GRU will be a 3D tensor of shape (batch_size, timesteps, 256)
model.add(layers.GRU(256, return_sequences=True))

# The output of SimpleRNN will be a 2D tensor of shape (batch_size, 128)
model.add(layers.SimpleRNN(128))

model.add(layers.Dense(10))

model.summary()
assert tuple(model(np.ones((2, 5), "int32")).shape) == (2, 10)

encoder_vocab = 1000
decoder_vocab = 2000

encoder_input = layers.Input(shape=(None,))
encoder_embedded = layers.Embedding(input_dim=encoder_vocab, output_dim=64)(
    encoder_input
)

# Return states in addition to output
output, state_h, state_c = layers.LSTM(64, return_state=True, name="encoder")(
    encoder_embedded
)
encoder_state = [state_h, state_c]

decoder_input = layers.Input(shape=(None,))
decoder_embedded = layers.Embedding(input_dim=decoder_vocab, output_dim=64)(
    decoder_input
)

# Pass the 2 states to a new LSTM layer, as initial state
decoder_output = layers.LSTM(64, name="decoder")(
    decoder_embedded, initial_state=encoder_state
)
output = layers.Dense(10)(decoder_output)

model = keras.Model([encoder_input, decoder_input], output)
model.summary()

# the decoder starts from the encoder's final states: a decoder LSTM run from them by hand
enc_x = np.random.default_rng(1).integers(0, encoder_vocab, (4, 6))
dec_x = np.random.default_rng(2).integers(0, decoder_vocab, (4, 3))
encoder_part = keras.Model(encoder_input, encoder_state)
h, c = encoder_part.predict(enc_x, verbose=0)
decoder_lstm = model.get_layer("decoder")
emb_layer = [l for l in model.layers if isinstance(l, layers.Embedding) and l.input_dim == decoder_vocab][0]
by_hand = decoder_lstm(emb_layer(dec_x), initial_state=[h, c])
dense = model.layers[-1]
np.testing.assert_allclose(model.predict([enc_x, dec_x], verbose=0), np.asarray(dense(by_hand)),
                           rtol=1e-5, atol=1e-5)

# -- Cross-batch statefulness --------------------------------------------------------------
paragraph1 = np.random.random((20, 10, 50)).astype(np.float32)
paragraph2 = np.random.random((20, 10, 50)).astype(np.float32)
paragraph3 = np.random.random((20, 10, 50)).astype(np.float32)

lstm_layer = layers.LSTM(64, stateful=True)
output = lstm_layer(paragraph1)
output = lstm_layer(paragraph2)
output = lstm_layer(paragraph3)

# reset_states() will reset the cached state to the original initial_state.
# If no initial_state was provided, zero-states will be used by default.
lstm_layer.reset_states()

# three paragraphs read by a stateful layer = one long sequence read at once
whole = layers.LSTM(64)
whole.build((None, 30, 50))
whole.set_weights(lstm_layer.get_weights())
lstm_layer(paragraph1)
lstm_layer(paragraph2)
np.testing.assert_allclose(np.asarray(lstm_layer(paragraph3)),
                           np.asarray(whole(np.concatenate([paragraph1, paragraph2, paragraph3], axis=1))),
                           rtol=1e-4, atol=1e-5)

# RNN State Reuse
paragraph1 = np.random.random((20, 10, 50)).astype(np.float32)
paragraph2 = np.random.random((20, 10, 50)).astype(np.float32)
paragraph3 = np.random.random((20, 10, 50)).astype(np.float32)

lstm_layer = layers.LSTM(64, stateful=True)
output = lstm_layer(paragraph1)
output = lstm_layer(paragraph2)

existing_state = lstm_layer.states

new_lstm_layer = layers.LSTM(64)
new_output = new_lstm_layer(paragraph3, initial_state=existing_state)
assert tuple(new_output.shape) == (20, 64)
# the states are values (copies), not tied to the layer they came from
new_lstm_layer.set_weights(lstm_layer.get_weights())
np.testing.assert_allclose(np.asarray(new_lstm_layer(paragraph3, initial_state=existing_state)),
                           np.asarray(lstm_layer(paragraph3)), rtol=1e-5, atol=1e-6)

# -- Bidirectional RNNs --------------------------------------------------------------------
model = keras.Sequential()

model.add(
    layers.Bidirectional(layers.LSTM(64, return_sequences=True), input_shape=(5, 10))
)
model.add(layers.Bidirectional(layers.LSTM(32)))
model.add(layers.Dense(10))

model.summary()
assert model.layers[0].output_shape[-1] == 128 if hasattr(model.layers[0], "output_shape") else True
assert tuple(model(np.zeros((2, 5, 10), np.float32)).shape) == (2, 10)

# -- Performance optimization and CuDNN kernels ----------------------------------------------
batch_size = 64
# Each MNIST image batch is a tensor of shape (batch_size, 28, 28).
# Each input sequence will be of size (28, 28) (height is treated like time).
input_dim = 28

units = 64
output_size = 10  # labels are from 0 to 9


# Build the RNN model
def build_model(allow_cudnn_kernel=True):
    # CuDNN is only available at the layer level, and not at the cell level.
    # This means `LSTM(units)` will use the CuDNN kernel,
    # while RNN(LSTMCell(units)) will run on non-CuDNN kernel.
    if allow_cudnn_kernel:
        # The LSTM layer with default options uses CuDNN.
        lstm_layer = keras.layers.LSTM(units, input_shape=(None, input_dim))
    else:
        # Wrapping a LSTMCell in a RNN layer will not use CuDNN.
        lstm_layer = keras.layers.RNN(
            keras.layers.LSTMCell(units), input_shape=(None, input_dim)
        )
    model = keras.models.Sequential(
        [
            lstm_layer,
            keras.layers.BatchNormalization(),
            keras.layers.Dense(output_size),
        ]
    )
    return model


mnist = keras.datasets.fashion_mnist   # the guide: keras.datasets.mnist

(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0
x_train, y_train = x_train[:768], y_train[:768]
x_test, y_test = x_test[:256], y_test[:256]
sample, sample_label = x_train[0], y_train[0]

model = build_model(allow_cudnn_kernel=True)

model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer="sgd",
    metrics=["accuracy"],
)

history = model.fit(
    x_train, y_train, validation_data=(x_test, y_test), batch_size=batch_size, epochs=2,
    verbose=0
)
print(history.history)
# far above chance (0.1); BatchNormalization's moving statistics are young after 24 steps
assert history.history["accuracy"][-1] > history.history["accuracy"][0], history.history
assert history.history["val_accuracy"][-1] > 0.3, history.history

noncudnn_model = build_model(allow_cudnn_kernel=False)
noncudnn_model.set_weights(model.get_weights())
noncudnn_model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer="sgd",
    metrics=["accuracy"],
)
# the same weights in RNN(LSTMCell) predict what the LSTM layer predicts
np.testing.assert_allclose(noncudnn_model.predict(x_test[:64], verbose=0), model.predict(x_test[:64], verbose=0),
                           rtol=1e-4, atol=1e-4)
noncudnn_model.fit(x_train[:256], y_train[:256], batch_size=batch_size, epochs=1, verbose=0)

with tf.device("CPU:0"):
    cpu_model = build_model(allow_cudnn_kernel=True)
    cpu_model.set_weights(model.get_weights())
    result = ops.argmax(cpu_model.predict(np.expand_dims(sample, 0), verbose=0), axis=1)
    print(
        "Predicted result is: %s, target result is: %s" % (result.numpy(), sample_label)
    )


# -- RNNs with list/dict inputs, or nested inputs --------------------------------------------
@keras.saving.register_keras_serializable()
class NestedCell(keras.layers.Layer):
    def __init__(self, unit_1, unit_2, unit_3, **kwargs):
        self.unit_1 = unit_1
        self.unit_2 = unit_2
        self.unit_3 = unit_3
        self.state_size = [unit_1, [unit_2, unit_3]]
        self.output_size = [unit_1, [unit_2, unit_3]]
        super().__init__(**kwargs)

    def build(self, input_shapes):
        # expect input_shape to contain 2 items, [(batch, i1), (batch, i2, i3)]
        i1 = input_shapes[0][1]
        i2 = input_shapes[1][1]
        i3 = input_shapes[1][2]

        self.kernel_1 = self.add_weight(
            shape=(i1, self.unit_1), initializer="uniform", name="kernel_1"
        )
        self.kernel_2_3 = self.add_weight(
            shape=(i2, i3, self.unit_2, self.unit_3),
            initializer="uniform",
            name="kernel_2_3",
        )

    def call(self, inputs, states):
        # inputs should be in [(batch, input_1), (batch, input_2, input_3)]
        # state should be in shape [(batch, unit_1), (batch, unit_2, unit_3)]
        input_1, input_2 = inputs
        s1, s2 = states

        output_1 = ops.matmul(input_1, self.kernel_1)
        output_2_3 = ops.einsum("bij,ijkl->bkl", input_2, self.kernel_2_3)
        state_1 = s1 + output_1
        state_2_3 = s2 + output_2_3

        output = (output_1, output_2_3)
        new_states = (state_1, state_2_3)

        return output, new_states

    def get_config(self):
        return {"unit_1": self.unit_1, "unit_2": self.unit_2, "unit_3": self.unit_3}


unit_1 = 10
unit_2 = 20
unit_3 = 30

i1 = 32
i2 = 64
i3 = 32
batch_size = 64
num_batches = 10
timestep = 50

unit_2, unit_3, i2, i3, num_batches, timestep = 4, 5, 6, 3, 2, 7   # smaller than the guide's

cell = NestedCell(unit_1, unit_2, unit_3)
rnn = keras.layers.RNN(cell)

input_1 = keras.Input((None, i1))
input_2 = keras.Input((None, i2, i3))

outputs = rnn((input_1, input_2))

model = keras.models.Model([input_1, input_2], outputs)

model.compile(optimizer="adam", loss="mse", metrics=["accuracy"])

input_1_data = np.random.random((batch_size * num_batches, timestep, i1))
input_2_data = np.random.random((batch_size * num_batches, timestep, i2, i3))
target_1_data = np.random.random((batch_size * num_batches, unit_1))
target_2_data = np.random.random((batch_size * num_batches, unit_2, unit_3))
input_data = [input_1_data, input_2_data]
target_data = [target_1_data, target_2_data]

history = model.fit(input_data, target_data, batch_size=batch_size, epochs=3, verbose=0)
print(history.history["loss"])
assert history.history["loss"][-1] < history.history["loss"][0]

# the cell only adds: the last output is the last step's product, the states are the sums
k1, k23 = cell.get_weights()
o1, o23 = model.predict([input_1_data[:4], input_2_data[:4]], verbose=0)
np.testing.assert_allclose(o1, input_1_data[:4, -1] @ k1, rtol=1e-4, atol=1e-5)
np.testing.assert_allclose(o23, np.einsum("bij,ijkl->bkl", input_2_data[:4, -1], k23), rtol=1e-4, atol=1e-5)
