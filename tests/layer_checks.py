"""Checks the layer tests share: a layer against a float64 reference function, gradients by
finite differences of it, and a model's .keras / Keras .weights.h5 round trip."""
import numpy as np
import pytest

from corenn import kernels
from corenn.models import load_model
import reference as ref


def close(got, want, tol=1e-4):
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * (np.abs(want).max() + 1e-6))


def _as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def check_against_reference(layer, x, weights, fn, rng, tol=1e-3):
    """The built layer with ``weights`` computes fn(x, *weights) (one array or a list, one per
    output), and its dx and weight gradients of L = sum(outputs * r) equal finite differences of
    the same sum of fn."""
    layer.set_weights(weights)
    want = _as_list(fn(x, *weights))
    r = [rng.normal(size=w.shape) for w in want]
    outs = _as_list(layer.forward(kernels.as_tensor(x), training=True))
    for got, w in zip(outs, want):
        close(np.asarray(got), w)
    dys = [kernels.as_tensor(ri.astype(np.float32)) for ri in r]
    dx = np.asarray(layer.backward(dys if len(dys) > 1 else dys[0])).copy()
    grads = [np.asarray(g).copy() for g in layer.gradients]
    assert len(grads) == len(weights)
    args = [x.astype(np.float64)] + [np.asarray(w, np.float64) for w in weights]

    def loss_at(i):
        def loss(v):
            a = list(args)
            a[i] = v
            return float(sum((o * ri).sum() for o, ri in zip(_as_list(fn(*a)), r)))
        return loss
    close(dx, ref.numerical_grad(loss_at(0), args[0]), tol)
    for i, g in enumerate(grads):
        close(g, ref.numerical_grad(loss_at(i + 1), args[i + 1]), tol)


def check_saving(model, make_model, x, tmp_path):
    """model.save / load_model and save_weights('.weights.h5') / load_weights into make_model()
    predict what ``model`` predicts. Returns the loaded model."""
    want = model.predict(x, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    close(loaded.predict(x, verbose=0), want, 1e-6)
    pytest.importorskip("h5py")
    model.save_weights(tmp_path / "model.weights.h5")
    fresh = make_model()
    fresh.load_weights(tmp_path / "model.weights.h5")
    close(fresh.predict(x, verbose=0), want, 1e-6)
    return loaded


def check_onnx_export(model, x, tmp_path, rng):
    """The model with random weights, exported to ONNX, predicts in onnxruntime what it does."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import corenn
    for w in model.weights:
        np.asarray(w)[...] = rng.normal(size=w.shape) * 0.5
    path = str(tmp_path / "model.onnx")
    corenn.onnx.export(model, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    close(sess.run(None, {sess.get_inputs()[0].name: x})[0], model.predict(x, verbose=0), 1e-5)
