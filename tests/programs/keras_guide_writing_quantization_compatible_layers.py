"""keras.io guide "Writing Quantization-Compatible Layers in Keras"
(guides/writing_quantization_compatible_layers), imports changed: a user layer, SimpleScale
(y = x * w per feature), that implements Keras' quantization hooks itself: `quantize(mode)`
(quantizers.abs_max_quantize(..., to_numpy=True), `del self._kernel`, `_int8_build`, assign,
`self._is_quantized = True`, then `self.dtype_policy = dtype_policies.get("int8_from_float32")`),
`_int8_build`, `_int8_call` (which the base Layer dispatches to once the policy is quantized),
a `build` that reads `self.quantization_mode` (set from the saved dtype policy before build when
a quantized model is loaded) and `save_own_variables` / `load_own_variables` in a fixed
per-mode order, then `model.quantize("int8")` on a Sequential holding it, `model.save` and
`keras.saving.load_model`. The page's classes are defined three times, as on the page.
Checked beyond the page: the int8 output against the float one (the abs-max grid's error bound),
the variables (int8 kernel of whole numbers, float32 scale, not trainable), the dtype policy's
name, that `quantize("int4")` is refused as the page's layer says (and a second quantize as
Keras does), and that the loaded model
has the same variables and predicts the same bits."""
import numpy as np
from corenn import keras
from corenn.keras import ops, quantizers, dtype_policies
from corenn.keras.layers import Layer, Input


class SimpleScale(Layer):
    """A layer that learns a per-feature scaling factor."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self._kernel = self.add_weight(
            name="kernel",
            shape=(input_dim,),
            initializer="random_uniform",
        )

    def call(self, inputs, training=None):
        return ops.multiply(inputs, self._kernel)


"""
### The `quantize()` method
"""


def quantize(self, mode, **kwargs):
    if mode != "int8":
        raise NotImplementedError(f"Unsupported quantization mode: {mode}")

    quantized_kernel, scale = quantizers.abs_max_quantize(
        self._kernel, axis=0, dtype="int8", to_numpy=True
    )
    scale = ops.squeeze(scale, axis=0)

    kernel_shape = self._kernel.shape

    del self._kernel

    # Allocate INT8 variables. Discussed in the next section.
    self._int8_build(kernel_shape)

    self._kernel.assign(quantized_kernel)
    self.scale.assign(scale)

    # `_is_quantized` should be set before changing dtype policy to inform
    # the setter that quantized variables are initialized.
    self._is_quantized = True

    if self.dtype_policy.quantization_mode is None:
        policy = dtype_policies.get(f"{mode}_from_{self.dtype_policy.name}")
        self.dtype_policy = policy


"""
### The `_int8_build(...)` method
"""


def _int8_build(self, kernel_shape):
    (input_dim,) = kernel_shape
    self._kernel = self.add_weight(
        name="kernel",
        shape=(input_dim,),
        initializer="zeros",
        dtype="int8",
        trainable=False,
    )
    self.scale = self.add_weight(
        name="scale",
        initializer="ones",
        trainable=False,
    )


"""
### The `_int8_call(...)` method
"""


def _int8_call(self, inputs, training=None):
    x = ops.multiply(inputs, self._kernel)
    x = ops.divide(x, self.scale)
    return x


"""
## Complete `SimpleScale` class with hooks
"""


class SimpleScale(Layer):
    """A layer that learns a per-feature scaling factor."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self._kernel = self.add_weight(
            name="kernel",
            shape=(input_dim,),
            initializer="random_uniform",
        )

    def call(self, inputs, training=None):
        return ops.multiply(inputs, self._kernel)

    def quantize(self, mode, **kwargs):
        if mode != "int8":
            raise NotImplementedError(f"Unsupported quantization mode: {mode}")

        quantized_kernel, scale = quantizers.abs_max_quantize(
            self._kernel, axis=0, dtype="int8", to_numpy=True
        )
        scale = ops.squeeze(scale, axis=0)

        kernel_shape = self._kernel.shape

        del self._kernel

        self._int8_build(kernel_shape)

        self._kernel.assign(quantized_kernel)
        self.scale.assign(scale)

        self._is_quantized = True

        if self.dtype_policy.quantization_mode is None:
            policy = dtype_policies.get(f"{mode}_from_{self.dtype_policy.name}")
            self.dtype_policy = policy

    def _int8_build(self, kernel_shape):
        (input_dim,) = kernel_shape
        self._kernel = self.add_weight(
            name="kernel",
            shape=(input_dim,),
            initializer="zeros",
            dtype="int8",
            trainable=False,
        )
        self.scale = self.add_weight(
            name="scale",
            initializer="ones",
            trainable=False,
        )

    def _int8_call(self, inputs, training=None):
        x = ops.multiply(inputs, self._kernel)
        x = ops.divide(x, self.scale)
        return x


"""
## Try it: quantize and run a forward pass
"""

# Sample inputs
rng = np.random.default_rng()
x = rng.random((2, 4)).astype("float32")

layer = SimpleScale()

# Forward pass in float
y_fp = layer(x)
w_fp = ops.convert_to_numpy(layer._kernel)   # kept for the checks below

# Quantize to INT8 and run again
layer.quantize("int8")
y_int8 = layer(x)

print("SimpleScale FP32 sample:", y_fp[0].numpy())
print("SimpleScale INT8 sample:", y_int8[0].numpy())

# checks beyond the page: the layer is now int8, and its output is the float one within the grid
assert layer.quantization_mode == "int8", layer.quantization_mode
assert layer.dtype_policy.name == "int8_from_float32", layer.dtype_policy.name
assert ops.convert_to_numpy(layer._kernel).dtype == np.int8
assert sorted(w.name for w in layer.weights) == ["kernel", "scale"], [w.name for w in layer.weights]
assert layer.trainable_weights == [], layer.trainable_weights
# abs-max rounding moves each weight by at most half a step, max|w| / 127 / 2
step = np.abs(w_fp).max() / 127.0
np.testing.assert_allclose(
    ops.convert_to_numpy(y_int8), ops.convert_to_numpy(y_fp), rtol=0, atol=0.5 * step * 1.001 + 1e-6
)
try:   # Keras refuses a second quantize before the layer's own runs
    layer.quantize("int8")
except ValueError as e:
    assert "already quantized" in str(e), e
else:
    raise AssertionError("a second quantize('int8') should raise")
other = SimpleScale()
other(x)
try:   # the page's layer refuses the modes it does not implement
    other.quantize("int4")
except NotImplementedError as e:
    assert "int4" in str(e), e
else:
    raise AssertionError("SimpleScale.quantize('int4') should raise")


"""
## Adding Serialization Support
"""


def save_own_variables(self, store):
    # Write variables to `store` in a fixed order based on quantization mode.
    # `store` is a key-value mapping provided by Keras during model.save().
    # Values are tensors.
    if not self.built:
        return
    mode = self.quantization_mode
    idx = 0
    if mode is None:
        # Order: _kernel
        store[str(idx)] = self._kernel
    elif mode == "int8":
        # Order: _kernel, scale
        store[str(idx)] = self._kernel
        idx += 1
        store[str(idx)] = self.scale
    else:
        raise ValueError(f"Unsupported quantization mode for save: {mode}")


def load_own_variables(self, store):
    # Read variables from `store` in the same order used by
    # `save_own_variables`. Keras calls this during
    # `keras.saving.load_model(...)`.
    if not self.built:
        return
    mode = self.quantization_mode
    idx = 0
    if mode is None:
        self._kernel.assign(store[str(idx)])
    elif mode == "int8":
        self._kernel.assign(store[str(idx)])
        idx += 1
        self.scale.assign(store[str(idx)])
    else:
        raise ValueError(f"Unsupported quantization mode for load: {mode}")


"""
### Modify the `build(...)` method
"""


def build(self, input_shape):
    input_dim = input_shape[-1]

    # Quantized build path.
    if self.quantization_mode:
        if self.quantization_mode == "int8":
            self._int8_build((input_dim,))
    else:
        # Regular FP32 build path.
        self._kernel = self.add_weight(
            name="kernel",
            shape=(input_dim,),
            initializer="random_uniform",
        )


"""
## Complete implementation with serialization
"""


@keras.saving.register_keras_serializable()
class SimpleScale(Layer):
    """A layer that learns a per-feature scaling factor."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        input_dim = input_shape[-1]

        if self.quantization_mode:
            if self.quantization_mode == "int8":
                self._int8_build((input_dim,))
        else:
            self._kernel = self.add_weight(
                name="kernel",
                shape=(input_dim,),
                initializer="random_uniform",
            )

    def call(self, inputs, training=None):
        return ops.multiply(inputs, self._kernel)

    def quantize(self, mode, **kwargs):
        if mode != "int8":
            raise NotImplementedError(f"Unsupported quantization mode: {mode}")

        quantized_kernel, scale = quantizers.abs_max_quantize(
            self._kernel, axis=0, dtype="int8", to_numpy=True
        )
        scale = ops.squeeze(scale, axis=0)

        kernel_shape = self._kernel.shape

        del self._kernel

        self._int8_build(kernel_shape)

        self._kernel.assign(quantized_kernel)
        self.scale.assign(scale)

        self._is_quantized = True

        if self.dtype_policy.quantization_mode is None:
            policy = dtype_policies.get(f"{mode}_from_{self.dtype_policy.name}")
            self.dtype_policy = policy

    def _int8_build(self, kernel_shape):
        (input_dim,) = kernel_shape
        self._kernel = self.add_weight(
            name="kernel",
            shape=(input_dim,),
            initializer="zeros",
            dtype="int8",
            trainable=False,
        )
        self.scale = self.add_weight(
            name="scale",
            initializer="ones",
            trainable=False,
        )

    def _int8_call(self, inputs, training=None):
        x = ops.multiply(inputs, self._kernel)
        x = ops.divide(x, self.scale)
        return x

    def save_own_variables(self, store):
        # Write variables to `store` in a fixed order based on quantization mode.
        # `store` is a key-value mapping provided by Keras during model.save(); values are tensors.
        if not self.built:
            return
        mode = self.quantization_mode
        idx = 0
        if mode is None:
            # Order: _kernel
            store[str(idx)] = self._kernel
        elif mode == "int8":
            # Order: _kernel, scale
            store[str(idx)] = self._kernel
            idx += 1
            store[str(idx)] = self.scale
        else:
            raise ValueError(f"Unsupported quantization mode for save: {mode}")

    def load_own_variables(self, store):
        # Read variables from `store` in the same order used by `save_own_variables`.
        # Keras calls this during `keras.saving.load_model(...)`.
        if not self.built:
            return
        mode = self.quantization_mode
        idx = 0
        if mode is None:
            self._kernel.assign(store[str(idx)])
        elif mode == "int8":
            self._kernel.assign(store[str(idx)])
            idx += 1
            self.scale.assign(store[str(idx)])
        else:
            raise ValueError(f"Unsupported quantization mode for load: {mode}")


"""
## Try it: quantize, save, and load
"""
model = keras.Sequential([Input(shape=(4,)), SimpleScale()])
model.build((None, 4))
y_model_fp = model(x)   # kept for the checks below
w_model_fp = ops.convert_to_numpy(model.layers[0]._kernel)

# Quantize to INT8.
model.quantize("int8")
y_int8 = model(x)
print("SimpleScale INT8 sample:", y_int8[0].numpy())

# Save and load the quantized model.
model.save("simplescale_int8.keras")
loaded = keras.saving.load_model("simplescale_int8.keras")

y_loaded = loaded(x)
print("Loaded INT8 sample:", y_loaded[0].numpy())

# the check: the model's int8 output is its float output within the grid, and the loaded model
# is the same int8 layer (same policy, same int8 kernel and scale) and predicts the same bits
step = np.abs(w_model_fp).max() / 127.0
np.testing.assert_allclose(
    ops.convert_to_numpy(y_int8), ops.convert_to_numpy(y_model_fp), rtol=0, atol=0.5 * step * 1.001 + 1e-6
)
q, ql = model.layers[0], loaded.layers[0]
assert type(ql).__name__ == "SimpleScale" and ql.quantization_mode == "int8", (type(ql), ql.quantization_mode)
assert ql.dtype_policy.name == "int8_from_float32", ql.dtype_policy.name
k, kl = ops.convert_to_numpy(q._kernel), ops.convert_to_numpy(ql._kernel)
assert k.dtype == np.int8 and kl.dtype == np.int8, (k.dtype, kl.dtype)
np.testing.assert_array_equal(kl, k)
assert np.abs(k).max() == 127, k          # abs-max: the largest weight maps to 127
np.testing.assert_array_equal(ops.convert_to_numpy(ql.scale), ops.convert_to_numpy(q.scale))
np.testing.assert_array_equal(ops.convert_to_numpy(y_loaded), ops.convert_to_numpy(y_int8))
