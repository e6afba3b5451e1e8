"""keras.io example "Writing Keras Models With TensorFlow NumPy", imports changed: a Dense layer
and a whole regression network written with tf.experimental.numpy (tnp.matmul, tnp.maximum,
tnp.sqrt on NumPy-behaving Tensors), trained with fit next to the same network of Keras layers,
and a tnp-written activation inside keras.layers.Dense, on synthetic housing-like data (Adam at 0.01, so 60 epochs suffice)."""
import numpy as np
import corenn as tf
import corenn.experimental.numpy as tnp
from corenn import keras
from corenn.keras import layers

tnp.experimental_enable_numpy_behavior()
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x_train = rng.normal(size=(400, 13)).astype("float32")
w_true = rng.normal(size=(13, 1)).astype("float32")
y_train = (np.tanh(x_train @ w_true) * 10 + 22).astype("float32").reshape(-1)
x_test = rng.normal(size=(100, 13)).astype("float32")
y_test = (np.tanh(x_test @ w_true) * 10 + 22).astype("float32").reshape(-1)
input_dim = x_train.shape[1]

def evaluate_model(model: keras.Model):
    loss, percent_error = model.evaluate(x_test, y_test, verbose=0)
    print("Mean absolute percent error before training: ", percent_error)
    model.fit(x_train, y_train, epochs=60, batch_size=32, verbose=0)
    loss, percent_error = model.evaluate(x_test, y_test, verbose=0)
    print("Mean absolute percent error after training:", percent_error)
    return percent_error

class TNPForwardFeedRegressionNetwork(keras.Model):
    def __init__(self, blocks=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(blocks, list):
            raise ValueError(f"blocks must be a list, got blocks={blocks}")
        self.blocks = blocks
        self.block_weights = None
        self.biases = None
    def build(self, input_shape):
        current_shape = input_shape[1]
        self.block_weights = []
        self.biases = []
        for i, block in enumerate(self.blocks):
            self.block_weights.append(self.add_weight(shape=(current_shape, block), trainable=True,
                                                      name=f"block-{i}", initializer="glorot_normal"))
            self.biases.append(self.add_weight(shape=(block,), trainable=True, name=f"bias-{i}", initializer="zeros"))
            current_shape = block
        self.linear_layer = self.add_weight(shape=(current_shape, 1), name="linear_projector", trainable=True,
                                            initializer="glorot_normal")
    def call(self, inputs):
        activations = inputs
        for w, b in zip(self.block_weights, self.biases):
            activations = tnp.matmul(activations, w) + b
            activations = tnp.maximum(activations, 0.0)
        return tnp.matmul(activations, self.linear_layer)

model = TNPForwardFeedRegressionNetwork(blocks=[3, 3])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mean_squared_error", metrics=[keras.metrics.MeanAbsolutePercentageError()])
first = model.evaluate(x_test, y_test, verbose=0)[1]
err_tnp = evaluate_model(model)
assert err_tnp < 0.5 * first, (first, err_tnp)

def tnp_relu(x):
    return tnp.maximum(x, 0)

class TNPDense(keras.layers.Layer):
    def __init__(self, units, activation=None):
        super().__init__()
        self.units = units
        self.activation = activation
    def build(self, input_shape):
        self.w = self.add_weight(name="weights", shape=(input_shape[1], self.units), initializer="random_normal",
                                 trainable=True)
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros", trainable=True)
    def call(self, inputs):
        outputs = tnp.matmul(inputs, self.w) + self.bias
        if self.activation:
            return self.activation(outputs)
        return outputs

def create_layered_tnp_model():
    return keras.Sequential([TNPDense(3, activation=tnp_relu), TNPDense(3, activation=tnp_relu), TNPDense(1)])

model = create_layered_tnp_model()
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mean_squared_error", metrics=[keras.metrics.MeanAbsolutePercentageError()])
model.build((None, input_dim))
model.summary()
err_layers = evaluate_model(model)

def create_mixed_model():
    return keras.Sequential([TNPDense(3, activation=tnp_relu), layers.Dense(3, activation="relu"), TNPDense(1)])

model = create_mixed_model()
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mean_squared_error", metrics=[keras.metrics.MeanAbsolutePercentageError()])
model.build((None, input_dim))
model.summary()
err_mixed = evaluate_model(model)
# a tnp function as a Keras layer's activation
model = keras.Sequential([layers.Dense(8, activation=tnp_relu), layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mean_squared_error", metrics=[keras.metrics.MeanAbsolutePercentageError()])
err_act = evaluate_model(model)
print(err_tnp, err_layers, err_mixed, err_act)
assert max(err_tnp, err_layers, err_mixed, err_act) < 25
x = tnp.asarray(x_test[:4])
out = model(x)
np.testing.assert_allclose(np.asarray(out), model.predict(x_test[:4], verbose=0), rtol=1e-5, atol=1e-5)
