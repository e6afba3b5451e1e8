"""keras.io guide "INT4 Quantization in Keras" (guides/int4_quantization_in_keras), imports
changed (`import keras` -> `import corenn as keras`): the Keras part: a small functional model,
its float output, model.quantize("int4") in place, the MSE between float and int4 outputs
(keras.ops.mean / square), then model.save("int4.keras") and keras.saving.load_model giving the
same int4 outputs. Not run: the KerasHub part (Gemma3CausalLM.from_preset downloads a 1B-parameter
model; corenn has no KerasHub). The guide's unseeded rng is seeded. Checked: the int4 error is
small but not zero, the kernel is stored packed (two 4-bit values a byte, (10, 32) -> (10, 16)), the reload is exact."""
import numpy as np
import corenn as keras
from corenn import layers

# Create a random number generator.
rng = np.random.default_rng(0)
keras.utils.set_random_seed(0)

# Create a simple functional model.
inputs = keras.Input(shape=(10,))
x = layers.Dense(32, activation="relu")(inputs)
outputs = layers.Dense(1, name="target")(x)
model = keras.Model(inputs, outputs)

# Baseline output with full-precision weights.
x_eval = rng.random((32, 10)).astype("float32")
y_fp32 = model(x_eval)


# Quantize the model in-place to INT4 (W4A8).
model.quantize("int4")

# Compare outputs (MSE).
y_int4 = model(x_eval)
mse = keras.ops.mean(keras.ops.square(y_fp32 - y_int4))
print("Full-Precision vs INT4 MSE:", float(mse))

# Save the quantized model and reload to verify round-trip.
model.save("int4.keras")
int4_reloaded = keras.saving.load_model("int4.keras")
y_int4_reloaded = int4_reloaded(x_eval)

# Compare outputs (MSE).
roundtrip_mse = keras.ops.mean(keras.ops.square(y_fp32 - y_int4_reloaded))
print("MSE (INT4 vs reloaded INT4):", float(roundtrip_mse))

# the check: int4 changes the outputs a little (the outputs are O(1)), the reload not at all
scale = float(keras.ops.mean(keras.ops.square(y_fp32)))
assert 0 < float(mse) < 5e-2 * scale, (float(mse), scale)
np.testing.assert_array_equal(keras.ops.convert_to_numpy(y_int4_reloaded), keras.ops.convert_to_numpy(y_int4))
np.testing.assert_allclose(float(roundtrip_mse), float(mse), rtol=1e-6)
dense = model.layers[1]
[stored] = [w for w in dense.weights if w.path.endswith("/kernel")]
assert tuple(stored.shape) == (10, 16) and dense.dtype_policy.name == "int4/128_from_float32", stored.shape
