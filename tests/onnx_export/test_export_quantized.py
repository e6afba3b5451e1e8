"""ONNX export of int8-quantized models (layers/quantization.py): Dense as Keras' row quantization,
the integer product in float64 and the dequantization, the same float32 arithmetic as corenn's
kernel; EinsumDense the same around an Einsum; Embedding as its dequantized table."""
import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import corenn  # noqa: E402
from corenn import layers  # noqa: E402


def _model(rng, *middle, head="softmax"):
    model = corenn.Sequential([corenn.Input((5,), dtype="int32"), layers.Embedding(12, 8), layers.Flatten(),
                               layers.Dense(16, activation="relu"), *middle, layers.Dense(4, activation=head)])
    model.build((None, 5))
    model.set_weights([np.abs(rng.standard_normal(tuple(w.shape))).astype(np.float32) + 0.5
                       if "variance" in w.name else rng.standard_normal(tuple(w.shape)).astype(np.float32)
                       for w in model.weights])
    model.quantize("int8")
    return model


def _onnx_predict(path, x):
    sess = ort.InferenceSession(str(path))
    inp = sess.get_inputs()[0]
    return sess.run(None, {inp.name: x.astype(np.int64 if "int64" in inp.type else np.int32)})[0]


def test_quantized_dense_and_embedding_export_exactly(rng, tmp_path):
    model = _model(rng, head=None)
    x = rng.integers(0, 12, (7, 5)).astype(np.int32)
    model.export(tmp_path / "q.onnx", verbose=False)
    np.testing.assert_array_equal(_onnx_predict(tmp_path / "q.onnx", x), model.predict(x, verbose=0))


def test_quantized_dense_is_not_batch_norm_folded(rng, tmp_path):
    model = _model(rng, layers.BatchNormalization())
    x = rng.integers(0, 12, (7, 5)).astype(np.int32)
    model.export(tmp_path / "q.onnx", verbose=False)
    np.testing.assert_allclose(_onnx_predict(tmp_path / "q.onnx", x), model.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("equation,output_shape,bias_axes,x_shape", [
    ("ab,bc->ac", 6, "c", (4, 5)), ("abc,cde->abde", (3, 2, 4), "de", (4, 3, 5)),
    ("abc,bcd->ad", (6,), "d", (4, 3, 5)), ("abc,dc->adb", (4, 3), None, (2, 3, 5)),
    ("...b,bc->...c", (4,), "c", (2, 3, 5))])
def test_quantized_einsum_dense_exports_exactly(rng, tmp_path, equation, output_shape, bias_axes, x_shape):
    model = corenn.Sequential([corenn.Input(x_shape[1:]), layers.EinsumDense(
        equation, output_shape=output_shape, bias_axes=bias_axes, activation="relu")])
    model.set_weights([rng.standard_normal(tuple(w.shape)).astype(np.float32) for w in model.weights])
    model.quantize("int8")
    x = rng.standard_normal(x_shape).astype(np.float32)
    model.export(tmp_path / "e.onnx", verbose=False)
    sess = ort.InferenceSession(str(tmp_path / "e.onnx"))
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    np.testing.assert_array_equal(got, model.predict(x, verbose=0))


@pytest.mark.parametrize("block", [128, 3, -1])
def test_int4_model_exports_its_dequantized_kernels(rng, tmp_path, block):
    """int4 is weight-only: the export holds the float kernels the layers compute with
    (Embedding's table, EinsumDense's and Dense's kernels dequantized), batch norm folded."""
    model = corenn.Sequential([corenn.Input((5,), dtype="int32"), layers.Embedding(12, 8),
                               layers.EinsumDense("abc,cd->abd", (5, 6), bias_axes="d", activation="relu"),
                               layers.Flatten(), layers.Dense(16), layers.BatchNormalization(),
                               layers.Dense(4, activation="softmax")])
    model.build((None, 5))
    model.set_weights([np.abs(rng.standard_normal(tuple(w.shape))).astype(np.float32) + 0.5
                       if "variance" in w.name else rng.standard_normal(tuple(w.shape)).astype(np.float32)
                       for w in model.weights])
    model.quantize("int4", config={"class_name": "Int4QuantizationConfig", "config": {"block_size": block}})
    x = rng.integers(0, 12, (7, 5)).astype(np.int32)
    model.export(tmp_path / "q4.onnx", verbose=False)
    np.testing.assert_allclose(_onnx_predict(tmp_path / "q4.onnx", x), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
