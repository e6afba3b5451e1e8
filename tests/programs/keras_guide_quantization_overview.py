"""keras.io guide "Quantization in Keras" (guides/quantization_overview), imports changed:
fit a small Sequential model, `model.quantize("int8")`, selective quantization with `filters`
(a list of regexes, one a negative lookahead, and a callable), and `layer.quantize("int4")` on
a Dense built by hand. Checked beyond the page: which layers each call quantized (dtype
policies, int8 / packed int4 kernels), that the int8 model predicts close to the float one it
came from, and that the quantized model survives model.save / load_model (the page's "Use or
save" step)."""
from corenn import keras
import numpy as np

# Create a random number generator.
rng = np.random.default_rng()

# Sample training data.
x_train = rng.random((100, 10)).astype("float32")
y_train = rng.random((100, 1)).astype("float32")


# Build the model.
def get_model():
    """
    Helper to build a simple sequential model.
    """
    return keras.Sequential(
        [
            keras.Input(shape=(10,)),
            keras.layers.Dense(32, activation="relu", name="dense_1"),
            keras.layers.Dense(1, name="output_head"),
        ]
    )


# Build the model.
model = get_model()

# Compile and fit the model.
model.compile(optimizer="adam", loss="mean_squared_error")
model.fit(x_train, y_train, epochs=1, verbose=0)
float_pred = model.predict(x_train, verbose=0)

# Quantize the model.
model.quantize("int8")

assert [layer.dtype_policy.name for layer in model.layers] == ["int8_from_float32"] * 2
assert all(str(layer.kernel.dtype) == "int8" for layer in model.layers)
int8_pred = model.predict(x_train, verbose=0)
assert np.max(np.abs(int8_pred - float_pred)) < 0.05 * (np.max(np.abs(float_pred)) + 1e-3)
model.save("quantized.keras")
reloaded = keras.models.load_model("quantized.keras")
assert reloaded.layers[0].quantization_mode == "int8"
np.testing.assert_allclose(reloaded.predict(x_train, verbose=0), int8_pred, rtol=1e-6, atol=1e-6)

# Quantize only layers with "dense" in the name, but skip "output"
model = get_model()
model.quantize("int8", filters=["dense", "^((?!output).)*$"])
assert [layer.quantization_mode for layer in model.layers] == ["int8", None]


def my_filter(layer):
    # Only quantize Dense layers that aren't the output
    return isinstance(layer, keras.layers.Dense) and layer.name != "output_head"


model = get_model()
model.quantize("int8", filters=my_filter)
assert [layer.quantization_mode for layer in model.layers] == ["int8", None]

from corenn.keras import layers

input_shape = (10,)
layer = layers.Dense(32, activation="relu")
layer.build(input_shape)

layer.quantize("int4")  # Or "int8", "float8", etc.

assert layer.quantization_mode == "int4" and layer.dtype_policy.name == "int4/128_from_float32"
assert tuple(layer.kernel.shape) == (10, 16) and str(layer.kernel.dtype) == "int8"   # two int4 a byte
assert tuple(layer(x_train[:4]).shape) == (4, 32)
