"""The exported graphs against the float64 NumPy references of tests/reference.py (independent
of corenn's kernels and of model.predict): the weight rearrangements (gate reordering, GRU bias
split, conv kernel transpose, BatchNormalization folding, Flatten's row permutation) are checked
against the math itself. float32 against float64: within 1e-4 relative (+1e-5 absolute)."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import corenn  # noqa: E402
from corenn import layers as L  # noqa: E402
from reference import batch_norm_infer, conv2d_forward, rnn_forward  # noqa: E402


def run_onnx(model, x, path):
    corenn.onnx.export(model, str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cell,kwargs", [
    ("lstm", {}), ("lstm", {"go_backwards": True, "return_sequences": True}),
    ("gru", {"return_sequences": True}), ("gru", {"reset_after": False}),
    ("gru", {"go_backwards": True, "return_sequences": True}),
    ("simple_rnn", {"return_sequences": True, "activation": "relu"}),
])
def test_recurrent_against_reference(cell, kwargs, tmp_path):
    rng = np.random.default_rng(4)
    cls = {"lstm": L.LSTM, "gru": L.GRU, "simple_rnn": L.SimpleRNN}[cell]
    layer = cls(5, **kwargs)
    model = corenn.Sequential([L.Input(shape=(7, 3)), layer])
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    x = rng.normal(size=(4, 7, 3)).astype(np.float32)
    w, r, b = layer.get_weights()
    want, _, _, _ = rnn_forward(cell, x, w, r, b, return_sequences=layer.return_sequences,
                                go_backwards=layer.go_backwards, activation=layer.activation.name,
                                recurrent_activation=getattr(layer, "recurrent_activation", layer.activation).name,
                                reset_after=getattr(layer, "reset_after", True))
    close(run_onnx(model, x, tmp_path / "r.onnx"), want)


def test_folded_conv_bn_flatten_dense_against_reference(tmp_path):
    rng = np.random.default_rng(8)
    model = corenn.Sequential([L.Input(shape=(6, 5, 2)), L.Conv2D(3, 3, padding="same"),
                               L.BatchNormalization(), L.Flatten(), L.Dense(4)])
    ws = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()]
    ws[5] = rng.uniform(0.5, 2.0, ws[5].shape).astype(np.float32)   # moving_variance
    model.set_weights(ws)
    k, kb, gamma, beta, mean, var, dw, db = ws
    x = rng.normal(size=(3, 6, 5, 2)).astype(np.float32)
    h = batch_norm_infer(conv2d_forward(x, k, kb, padding="same"), gamma, beta, mean, var)
    want = h.reshape(3, -1) @ dw.astype(np.float64) + db
    close(run_onnx(model, x, tmp_path / "c.onnx"), want)
