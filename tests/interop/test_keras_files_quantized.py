"""A model that real Keras 3 quantized (``model.quantize("int8")``) and saved as .keras
(tests/interop/keras_fixtures/quantized.keras, written by tools/make_keras_fixtures.py --only
quantized): corenn reads the QuantizedDTypePolicy and the int8 datasets, builds the int8 form of
Embedding, EinsumDense and Dense, leaves LayerNormalization float, and predicts as Keras did (1e-5
relative)."""
import os

import numpy as np
import pytest

pytest.importorskip("h5py")

import corenn  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(__file__), "keras_fixtures", "quantized")


def test_keras_quantized_model_loads_and_predicts_as_keras(tmp_path):
    model = corenn.models.load_model(FIXTURE + ".keras")
    with np.load(FIXTURE + ".expected.npz", allow_pickle=False) as data:
        x, want = data["x0"], data["y"]
    got = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    policies = {type(layer).__name__: layer.dtype_policy.name for layer in model.layers}
    assert policies == {"Embedding": "int8_from_float32", "EinsumDense": "int8_from_float32", "Flatten": "float32",
                        "Dense": "int8_from_float32",
                        "LayerNormalization": "float32"}
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    for layer in dense:
        k = layer.get_weights()[1]   # Keras 3: [bias, kernel, kernel_scale]
        assert np.array_equal(k, np.round(k)) and np.abs(k).max() <= 127
        assert [w.name for w in layer.trainable_weights] == ["bias"]
    # saved again by corenn, it reads back to the same predictions
    model.save(tmp_path / "again.keras")
    np.testing.assert_array_equal(corenn.models.load_model(tmp_path / "again.keras").predict(x, verbose=0), got)


@pytest.mark.parametrize("name,block", [("quantized_int4_128", 128), ("quantized_int4_b3", 3), ("quantized_int4_pc", -1)])
def test_keras_int4_model_loads_and_predicts_as_keras(tmp_path, name, block):
    """Keras 3.15's model.quantize("int4", Int4QuantizationConfig(block_size)) written by
    tools/make_keras_fixtures.py --only <name>: the Int4DTypePolicy, packed int8 datasets and
    (per group) zero points and g_idx are read, and the model predicts as Keras did."""
    base = os.path.join(os.path.dirname(__file__), "keras_fixtures", name)
    model = corenn.models.load_model(base + ".keras")
    with np.load(base + ".expected.npz", allow_pickle=False) as data:
        x, want = data["x0"], data["y"]
    got = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    policies = {type(layer).__name__: layer.dtype_policy.name for layer in model.layers}
    int4 = f"int4/{block}_from_float32"
    assert policies == {"Embedding": int4, "EinsumDense": int4, "Flatten": "float32", "Dense": int4,
                        "LayerNormalization": "float32"}
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"][0]
    names = ["bias", "kernel", "kernel_scale"] + (["kernel_zero", "g_idx"] if block > 0 else [])
    assert [w.name for w in dense.weights] == names
    assert tuple(dense.kernel.shape) == (30, 8)   # 16 units packed two to a byte
    for fmt in ({}, {"save_format": "keras3"}):
        model.save(tmp_path / "again.keras", **fmt)
        np.testing.assert_array_equal(corenn.models.load_model(tmp_path / "again.keras").predict(x, verbose=0), got)
