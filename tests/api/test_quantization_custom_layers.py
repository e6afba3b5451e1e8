"""Keras 3's quantization hooks for a user's layer (the keras.io guide "Writing
Quantization-Compatible Layers", tests/programs/keras_guide_writing_quantization_compatible_layers.py):
the base Layer.quantize, the checks Keras makes before a layer's own quantize, quantized_call's
dispatch to _int8_call, quantization_mode, the dtype_policy setter and config with a quantized
policy, deleting a weight attribute, model.quantize and a save / load round trip. Expected values
and messages are what Keras 3.15.1 (torch backend) printed for the same code."""
import warnings

import numpy as np
import pytest

import corenn
from corenn import keras
from corenn.keras import dtype_policies, layers, ops, quantizers


@keras.saving.register_keras_serializable(package="test_quantization_custom_layers")
class Scale(layers.Layer):
    """The guide's SimpleScale (y = x * w per feature) with a ones initializer."""

    def build(self, input_shape):
        if self.quantization_mode == "int8":
            self._int8_build((input_shape[-1],))
        else:
            self._kernel = self.add_weight(name="kernel", shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self._kernel

    def quantize(self, mode, **kwargs):
        self.quantize_kwargs = kwargs
        if mode != "int8":
            raise NotImplementedError(f"Unsupported quantization mode: {mode}")
        q, s = quantizers.abs_max_quantize(self._kernel, axis=0, dtype="int8", to_numpy=True)
        shape = self._kernel.shape
        del self._kernel
        self._int8_build(shape)
        self._kernel.assign(q)
        self.scale.assign(ops.squeeze(s, 0))
        self._is_quantized = True
        if self.dtype_policy.quantization_mode is None:
            self.dtype_policy = dtype_policies.get(f"{mode}_from_{self.dtype_policy.name}")

    def _int8_build(self, shape):
        self._kernel = self.add_weight(name="kernel", shape=shape, initializer="zeros", dtype="int8",
                                       trainable=False)
        self.scale = self.add_weight(name="scale", initializer="ones", trainable=False)

    def _int8_call(self, x, training=None):
        return ops.divide(ops.multiply(x, self._kernel), self.scale)


class Plain(layers.Layer):
    """A user's layer without quantization hooks."""

    def build(self, input_shape):
        self.k = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.k


X = np.array([[1.0, 2.0, -3.0, 4.0]], np.float32)
W = np.array([0.5, -1.0, 0.25, 0.1], np.float32)


def _quantized_scale():
    layer = Scale()
    layer(X)
    layer._kernel.assign(W)
    layer.quantize("int8")
    return layer


def test_quantize_converts_and_int8_call_runs():
    layer = Scale()
    layer(X)
    layer._kernel.assign(W)
    np.testing.assert_allclose(np.asarray(layer(X)), [[0.5, -2.0, -0.75, 0.4]], rtol=1e-6)
    assert layer.quantization_mode is None
    layer.quantize("int8")
    assert layer.quantization_mode == "int8" and layer.dtype_policy.name == "int8_from_float32"
    # Keras: the float kernel deleted, the int8 one and the scale made, neither trainable
    assert [(w.name, str(np.asarray(w).dtype), w.trainable) for w in layer.weights] == [
        ("kernel", "int8", False), ("scale", "float32", False)]
    assert layer.trainable_weights == []
    np.testing.assert_array_equal(np.asarray(layer._kernel), [63, -127, 32, 13])
    assert float(np.asarray(layer.scale)) == pytest.approx(126.99998474121094, abs=0)
    # the call now runs _int8_call (the bits Keras 3.15 gives)
    want = [float.fromhex(h) for h in ("0x1.fbf7f40000000p-2", "-0x1.0000020000000p+1", "-0x1.8306100000000p-1",
                                       "0x1.a346900000000p-2")]
    np.testing.assert_array_equal(np.asarray(layer(X)), np.array([want], np.float32))


def test_quantize_gets_keras_resolved_config():
    layer = _quantized_scale()
    config = layer.quantize_kwargs["config"]
    assert type(config).__name__ == "Int8QuantizationConfig" and config.mode == "int8"
    assert sorted(layer.quantize_kwargs) == ["config"]


def test_checks_before_the_layers_own_quantize():
    layer = Scale()
    with pytest.raises(ValueError, match=r"Cannot quantize a layer that isn't yet built. Layer 'scale\w*' "
                                         r"\(of type 'Scale'\) is not built yet."):
        layer.quantize("int8")
    layer(X)
    with pytest.raises(ValueError, match=r"Invalid quantization mode. Expected one of \('int8', 'float8', "
                                         r"'int4', 'gptq', 'awq'\). Received: mode=bogus"):
        layer.quantize("bogus")
    with pytest.raises(NotImplementedError, match="Unsupported quantization mode: int4"):
        layer.quantize("int4")    # the layer's own refusal: the checks passed
    assert layer.quantization_mode is None and [w.name for w in layer.weights] == ["kernel"]
    layer.quantize("int8")
    with pytest.raises(ValueError, match=r"Layer 'scale\w*' is already quantized with "
                                         r"dtype_policy='int8_from_float32'. Received: mode=int8"):
        layer.quantize("int8")
    np.testing.assert_array_equal(np.asarray(layer._kernel), [127, 127, 127, 127])   # untouched


def test_base_quantize_raises_not_implemented():
    layer = Plain()
    with pytest.raises(ValueError, match="isn't yet built"):
        layer.quantize("int8")
    layer(X)
    for mode in ("int8", "float8"):
        with pytest.raises(NotImplementedError, match=r"^Layer Plain does not have a `quantize` method implemented.$"):
            layer.quantize(mode)


def test_quantized_call_without_int8_call():
    layer = Plain(dtype="int8_from_float32")   # Keras takes the policy; the call needs _int8_call
    assert layer.quantization_mode == "int8" and layer.dtype_policy.name == "int8_from_float32"
    assert layer.compute_dtype == "float32" and layer.variable_dtype == "float32"
    with pytest.raises(NotImplementedError, match="Layer Plain does not have a `_int8_call` method implemented."):
        layer(X)
    unquantized = Plain()
    unquantized(X)
    with pytest.raises(NotImplementedError, match=r"Received: quantization_mode=None"):
        unquantized.quantized_call(X)


def test_config_writes_the_quantized_policy():
    cfg = _quantized_scale().get_config()
    assert cfg["dtype"] == {"module": "keras.dtype_policies", "class_name": "QuantizedDTypePolicy",
                            "config": {"mode": "int8", "source_name": "float32"}, "registered_name": None}
    rebuilt = Scale.from_config(cfg)
    assert rebuilt.quantization_mode == "int8"
    rebuilt(X)   # builds the int8 weights directly (build reads quantization_mode)
    assert [(w.name, str(np.asarray(w).dtype)) for w in rebuilt.weights] == [("kernel", "int8"), ("scale", "float32")]


def test_dtype_policy_setter_quantizes_a_built_layer():
    layer = Scale()
    layer(X)
    layer.dtype_policy = "int8_from_float32"
    assert layer.dtype_policy.name == "int8_from_float32"
    np.testing.assert_array_equal(np.asarray(layer._kernel), [127, 127, 127, 127])
    assert float(np.asarray(layer.scale)) == pytest.approx(126.99998474121094, abs=0)
    # a layer without quantize: Keras keeps the policy it set, then quantize raises
    plain = Plain()
    plain(X)
    with pytest.raises(NotImplementedError, match="does not have a `quantize` method"):
        plain.dtype_policy = "int8_from_float32"
    assert plain.dtype_policy.name == "int8_from_float32"
    # an unbuilt layer takes the policy; its build then makes the int8 weights
    fresh = Scale()
    fresh.dtype_policy = dtype_policies.get("int8_from_float32")
    fresh(X)
    assert str(np.asarray(fresh._kernel).dtype) == "int8"


def test_dtype_policy_setter_on_builtin_dense():
    dense = layers.Dense(3, kernel_initializer="ones")
    dense(np.ones((1, 2), np.float32))
    dense.dtype_policy = "int8_from_float32"   # Keras: quantizes the Dense
    assert dense.dtype_policy.name == "int8_from_float32"
    assert [(w.name, str(np.asarray(w).dtype)) for w in dense.weights] == [
        ("bias", "float32"), ("kernel", "int8"), ("kernel_scale", "float32")]
    np.testing.assert_array_equal(np.asarray(dense.kernel), np.full((2, 3), 127))


@pytest.mark.parametrize("policy, want", [
    ("int8_from_float32", [("bias", "float32", (3,)), ("kernel", "int8", (2, 3)), ("kernel_scale", "float32", (3,))]),
    ("int4/-1_from_float32", [("bias", "float32", (3,)), ("kernel", "int8", (2, 2)), ("kernel_scale", "float32", (3,))]),
    ("int4/128_from_float32", [("bias", "float32", (3,)), ("kernel", "int8", (2, 2)), ("kernel_scale", "float32", (1, 3)),
                               ("kernel_zero", "int8", (1, 3)), ("g_idx", "float32", (2,))])])
def test_dtype_policy_setter_on_unbuilt_dense(policy, want):
    # Keras 3.15: the policy set before the build makes the build quantized (same weights)
    dense = layers.Dense(3)
    dense.dtype_policy = policy
    dense(np.ones((1, 2), np.float32))
    assert dense.dtype_policy.name == policy
    assert [(w.name, str(np.asarray(w).dtype), tuple(w.shape)) for w in dense.weights] == want


def test_dtype_policy_setter_on_quantized_dense():
    dense = layers.Dense(3)
    dense(np.ones((1, 2), np.float32))
    dense.dtype_policy = "int4/-1_from_float32"   # per channel, as the policy names
    assert [tuple(w.shape) for w in dense.weights] == [(3,), (2, 2), (3,)]
    dense.dtype_policy = "int4/-1_from_float32"   # the same policy again: nothing to do
    # another mode on quantized weights: refused (Keras renames the policy over the int4 weights)
    with pytest.raises(ValueError, match="needs the layer quantized by quantize"):
        dense.dtype_policy = "int8_from_float32"
    assert dense.dtype_policy.name == "int4/-1_from_float32"


def test_del_of_a_weight_untracks_it():
    layer = Scale()
    layer(X)
    assert len(layer.weights) == 1
    del layer._kernel
    assert layer.weights == []   # Keras: []
    assert not hasattr(layer, "_kernel")
    plain = Plain()
    plain.note = 3
    del plain.note   # anything else is deleted as usual
    assert not hasattr(plain, "note")


def test_model_quantize_warns_for_user_layers_without_quantize():
    model = corenn.Sequential([keras.Input((4,)), Scale(), Plain(), layers.Dropout(0.5)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.quantize("int8")
    # Keras warns for every layer without a quantized form (InputLayer, Dropout too); corenn for
    # the user's ones
    assert [str(w.message) for w in caught] == ["Layer Plain does not have a `quantize` method implemented."]
    scale = model.layers[0]
    assert scale.quantization_mode == "int8" and sorted(scale.quantize_kwargs) == ["config", "type_check"]
    assert model.layers[1].quantization_mode is None


def test_save_and_load_round_trip(tmp_path):
    model = corenn.Sequential([keras.Input((4,)), Scale()])
    model.quantize("int8")
    model.layers[0]._kernel.assign(np.array([3, -7, 127, 0], np.int8))
    path = str(tmp_path / "scale.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    layer = loaded.layers[0]
    assert type(layer) is Scale and layer.dtype_policy.name == "int8_from_float32"
    assert [(w.name, str(np.asarray(w).dtype)) for w in loaded.weights] == [("kernel", "int8"), ("scale", "float32")]
    np.testing.assert_array_equal(np.asarray(layer._kernel), [3, -7, 127, 0])
    # Keras 3.15: [[0.023622050881385803, -0.11023623496294022, -3.000000476837158, 0.0]]
    np.testing.assert_array_equal(np.asarray(loaded(X)), np.array(
        [[0.023622050881385803, -0.11023623496294022, -3.000000476837158, 0.0]], np.float32))
    np.testing.assert_array_equal(np.asarray(loaded(X)), np.asarray(model(X)))


def test_functional_model_called_before_quantize_runs_int8_call():
    inp = keras.Input((4,))
    scale = Scale()
    model = keras.Model(inp, layers.Dense(2, kernel_initializer="ones", use_bias=False)(scale(inp)))
    scale._kernel.assign(W)
    np.testing.assert_allclose(model.predict(X, verbose=0), [[-1.85, -1.85]], rtol=1e-6)
    model.quantize("int8")
    # the graph made before quantize runs the int8 form: h = x * q / s (q = [63, -127, 32, 13]),
    # then the int8 Dense of ones: h abs-max quantized per row, the integer sum, / (s_k s_h)
    h = X * np.array([63, -127, 32, 13], np.float32) / np.float32(126.99998474121094)
    eps = np.float32(1e-7)
    s_h = np.float32(127) / (np.abs(h).max() + eps)
    s_k = np.float32(127) / (np.float32(1) + eps)
    acc = np.float32(np.clip(np.round(h * s_h), -127, 127).sum() * 127)
    np.testing.assert_allclose(model.predict(X, verbose=0), np.full((1, 2), acc / (s_k * s_h)), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(model(X)), model.predict(X, verbose=0))
    # the input gradient through _int8_call is q / s
    xv = corenn.Variable(X)
    with corenn.GradientTape() as tape:
        y = corenn.ops.sum(scale(xv))
    np.testing.assert_allclose(np.asarray(tape.gradient(y, xv)),
                               [np.array([63, -127, 32, 13]) / 126.99998474121094], rtol=1e-6)


@pytest.mark.parametrize("method, kwargs", [("quantize", {"mode": "int8"}), ("quantized_build", {"input_shape": None, "mode": None}),
                                            ("_int8_call", None), ("_int4_call", None), ("_float8_call", None)])
def test_base_layer_hooks_raise(method, kwargs):
    # Keras 3's layer_test: a bare built Layer implements none of them
    layer = layers.Layer()
    layer.built = True
    with pytest.raises(NotImplementedError, match=f"^Layer Layer does not have a `{method}` method implemented.$"):
        getattr(layer, method)(**kwargs) if kwargs else getattr(layer, method)(None)


FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[1] / "interop" / "keras_fixtures"


@keras.saving.register_keras_serializable(package="CorennFixtures")
class QuantScale(layers.Layer):
    """tools/make_keras_fixtures.py's QuantScale (the guide's SimpleScale, its own store)."""

    def build(self, input_shape):
        if self.quantization_mode == "int8":
            self._int8_build((input_shape[-1],))
        else:
            self._kernel = self.add_weight(name="kernel", shape=(input_shape[-1],), initializer="random_uniform")

    def call(self, inputs, training=None):
        return ops.multiply(inputs, self._kernel)

    def quantize(self, mode, **kwargs):
        if mode != "int8":
            raise NotImplementedError(f"Unsupported quantization mode: {mode}")
        q, scale = quantizers.abs_max_quantize(self._kernel, axis=0, dtype="int8", to_numpy=True)
        shape = self._kernel.shape
        del self._kernel
        self._int8_build(shape)
        self._kernel.assign(q)
        self.scale.assign(ops.squeeze(scale, axis=0))
        self._is_quantized = True
        if self.dtype_policy.quantization_mode is None:
            self.dtype_policy = dtype_policies.get(f"{mode}_from_{self.dtype_policy.name}")

    def _int8_build(self, shape):
        self._kernel = self.add_weight(name="kernel", shape=shape, initializer="zeros", dtype="int8",
                                       trainable=False)
        self.scale = self.add_weight(name="scale", initializer="ones", trainable=False)

    def _int8_call(self, inputs, training=None):
        return ops.divide(ops.multiply(inputs, self._kernel), self.scale)

    def save_own_variables(self, store):
        if self.built:
            store["0"] = self._kernel
            if self.quantization_mode == "int8":
                store["1"] = self.scale

    def load_own_variables(self, store):
        if self.built:
            self._kernel.assign(store["0"])
            if self.quantization_mode == "int8":
                self.scale.assign(store["1"])


def test_keras_written_custom_quantized_layer_loads_and_round_trips(tmp_path):
    # written by Keras 3.15.1 (tools/make_keras_fixtures.py --only custom_quantized_layer): the
    # user layer's config carries autocast and its QuantizedDTypePolicy, its store int8 + scale
    import json
    import zipfile
    import h5py
    model = keras.saving.load_model(str(FIXTURES / "custom_quantized_layer.keras"))
    with np.load(FIXTURES / "custom_quantized_layer.expected.npz") as data:
        x, y = data["x0"].astype(np.float32), data["y"]
    np.testing.assert_allclose(model.predict(x, verbose=0), y, rtol=1e-5, atol=1e-6)
    layer = model.layers[0]
    assert type(layer) is QuantScale and layer.dtype_policy.name == "int8_from_float32"
    q = np.asarray(layer._kernel)
    assert q.dtype == np.int8 and np.abs(q).max() == 127
    # written again as a Keras 3 archive: the policy and the layer's own store as Keras wrote them
    path = str(tmp_path / "again.keras")
    model.save(path, save_format="keras3")
    with zipfile.ZipFile(path) as z:
        spec = json.loads(z.read("config.json"))["config"]["layers"][1]
        z.extract("model.weights.h5", tmp_path)
    assert spec["registered_name"] == "CorennFixtures>QuantScale"
    assert spec["config"]["dtype"]["class_name"] == "QuantizedDTypePolicy"
    assert spec["config"]["dtype"]["config"] == {"mode": "int8", "source_name": "float32"}
    with h5py.File(tmp_path / "model.weights.h5") as f:
        group = f["layers/quant_scale/vars"]   # Keras names the group by the class
        assert sorted(group) == ["0", "1"] and group["0"].dtype == np.int8
        np.testing.assert_array_equal(group["0"][()], q)
    again = keras.saving.load_model(path)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
