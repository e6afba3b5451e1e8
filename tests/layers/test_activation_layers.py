"""ReLU, LeakyReLU, ELU, Softmax layers: forward and gradients vs float64 references, finite
differences through the layers, unsupported settings named, a model that trains and reloads."""
import numpy as np
import pytest

import corenn
from corenn import kernels, layers
import reference as ref


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


CASES = [
    (lambda: layers.ReLU(), lambda z: np.maximum(z, 0)),
    (lambda: layers.ReLU(negative_slope=0.1), lambda z: np.where(z >= 0, z, 0.1 * z)),
    (lambda: layers.LeakyReLU(), lambda z: np.where(z >= 0, z, 0.3 * z)),
    (lambda: layers.LeakyReLU(negative_slope=0.05), lambda z: np.where(z >= 0, z, 0.05 * z)),
    (lambda: layers.ELU(alpha=0.7), lambda z: np.where(z > 0, z, 0.7 * np.expm1(z))),
    (lambda: layers.Softmax(), _softmax),
    (lambda: layers.ReLU(max_value=6.0), lambda z: np.minimum(np.maximum(z, 0), 6.0)),
    (lambda: layers.ReLU(max_value=0.5), lambda z: np.minimum(np.maximum(z, 0), 0.5)),
]


@pytest.mark.parametrize("make,f", CASES, ids=["relu", "relu_slope", "leaky", "leaky_005", "elu", "softmax",
                                               "relu6", "relu_max_05"])
@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 4)])
def test_forward_and_gradients(make, f, shape, rng):
    layer = make()
    layer.build((None,) + shape[1:])
    x = rng.normal(size=shape).astype(np.float32)
    x[np.abs(x) < 0.05] = 0.3  # keep away from the kinks (0, and 0.5 for ReLU(max_value=0.5)) for the differences
    x[np.abs(x - 0.5) < 0.05] = 0.3
    r = rng.normal(size=shape)
    y = layer.forward(kernels.as_tensor(x))
    np.testing.assert_allclose(np.asarray(y), f(ref.f64(x)), rtol=1e-5, atol=1e-6)
    dx = np.asarray(layer.backward(kernels.as_tensor(r.astype(np.float32))))
    np.testing.assert_allclose(dx, ref.numerical_grad(lambda v: float((f(v) * r).sum()), x), rtol=1e-4, atol=1e-5)

    def own(v):
        return float((np.asarray(layer.forward(kernels.as_tensor(v.astype(np.float32)))) * r).sum())
    np.testing.assert_allclose(dx, ref.numerical_grad(own, x, 1e-2), rtol=2e-2, atol=2e-2)


def test_configs_keras_names_and_unsupported_settings():
    assert layers.LeakyReLU().get_config()["negative_slope"] == 0.3
    assert layers.LeakyReLU(alpha=0.2).negative_slope == 0.2  # Keras 2 name
    assert layers.ELU().get_config()["alpha"] == 1.0
    cfg = layers.ReLU(negative_slope=0.2).get_config()
    assert (cfg["max_value"], cfg["negative_slope"], cfg["threshold"]) == (None, 0.2, 0.0)
    assert layers.ReLU(max_value=6).get_config()["max_value"] == 6.0
    with pytest.raises(ValueError, match="ReLU.*max_value"):
        layers.ReLU(max_value=-1.0)
    assert layers.ReLU(threshold=-0.5).get_config()["threshold"] == -0.5


def _general_relu(threshold, slope, top):
    """Keras' ReLU, piecewise: slope * (x - threshold) up to the threshold, then x, capped to
    [0, top] when there is a top."""
    def f(z):
        above = z if top is None else np.clip(z, 0, top)
        return np.where(z > threshold, above, slope * (z - threshold))
    return f


@pytest.mark.parametrize("threshold,slope,top", [(0.5, 0.0, None), (-0.5, 0.1, 1.0), (0.0, 0.2, 6.0),
                                                 (0.7, 0.3, None), (-0.5, 0.0, None)])
def test_relu_with_a_threshold_or_a_capped_slope(rng, threshold, slope, top):
    layer = layers.ReLU(max_value=top, negative_slope=slope, threshold=threshold)
    layer.build((None, 3, 4))
    x = rng.normal(size=(2, 3, 4)) * 2
    for kink in (threshold, 0.0, top or 0.0):   # central differences away from the kinks
        x[np.abs(x - kink) < 0.05] = kink + 0.3
    x = x.astype(np.float32)
    r = rng.normal(size=x.shape)
    f = _general_relu(threshold, slope, top)
    y = layer.forward(kernels.as_tensor(x))
    np.testing.assert_allclose(np.asarray(y), f(ref.f64(x)), rtol=1e-6, atol=1e-6)
    dx = np.asarray(layer.backward(kernels.as_tensor(r.astype(np.float32))))
    np.testing.assert_allclose(dx, ref.numerical_grad(lambda v: float((f(v) * r).sum()), x), rtol=1e-4, atol=1e-5)
    model = corenn.keras.Sequential([corenn.keras.Input((3, 4)), layers.ReLU(top, slope, threshold)])
    np.testing.assert_allclose(np.asarray(model(x)), f(ref.f64(x)), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="ReLU.*negative_slope"):
        layers.ReLU(negative_slope=-1)
    with pytest.raises(ValueError, match="LeakyReLU.*negative_slope"):
        layers.LeakyReLU(negative_slope=float("nan"))
    with pytest.raises(ValueError, match="ELU.*alpha"):
        layers.ELU(alpha="big")
    with pytest.raises(ValueError, match="Softmax.*non-batch"):
        layers.Softmax(axis=0).build((None, 3, 4))
    layers.Softmax(axis=1).build((None, 3, 4))   # any other axis: tests/layers/test_softmax_axis_rms_norm.py
    layers.Softmax(axis=2).build((None, 3, 4))
    with pytest.raises(ValueError, match="Softmax.*axis"):
        layers.Softmax(axis=None)


def test_torch_parity(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(4, 6)).astype(np.float32)
    tx = torch.tensor(x)
    for layer, want in [(layers.LeakyReLU(), torch.nn.functional.leaky_relu(tx, 0.3)),
                        (layers.ELU(0.5), torch.nn.functional.elu(tx, 0.5)),
                        (layers.Softmax(), torch.softmax(tx, -1))]:
        np.testing.assert_allclose(layer(x), want.numpy(), rtol=1e-5, atol=1e-6)


def test_sequential_trains_saves_and_loads(rng, tmp_path):
    corenn.utils.set_random_seed(2)
    x = rng.normal(size=(128, 5)).astype(np.float32)
    labels = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    model = corenn.Sequential([layers.Input(shape=(5,)), layers.Dense(8), layers.LeakyReLU(0.1),
                               layers.Dense(8), layers.ELU(), layers.Dense(8), layers.ReLU(),
                               layers.Dense(2), layers.Softmax()])
    model.compile(optimizer=corenn.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    before = model.evaluate(x, labels, verbose=0)
    model.fit(x, labels, batch_size=16, epochs=15, verbose=0)
    assert model.evaluate(x, labels, verbose=0) < 0.6 * before
    pred = model.predict(x[:4], verbose=0)
    np.testing.assert_allclose(pred.sum(-1), 1.0, rtol=1e-5)
    model.save(tmp_path / "act.keras")
    loaded = corenn.models.load_model(tmp_path / "act.keras")
    np.testing.assert_allclose(loaded.predict(x[:4], verbose=0), pred, rtol=1e-6, atol=1e-6)
