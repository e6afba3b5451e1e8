"""LoRA on Dense and EinsumDense (Keras 3: lora_rank / lora_alpha, enable_lora): Keras' weight
names, order and trainability, the effective kernel W + (alpha / rank) A @ B against the float64
reference and PyTorch, gradients of A, B, the bias and x against finite differences, a model that
fine-tunes with the kernel frozen (the Keras guide's loop over layers), get_config, corenn's
files, Keras 3's weights layout (the merged kernel, no LoRA pair), ONNX and errors."""
import numpy as np
import pytest

import corenn
from corenn import layers
from layer_checks import check_onnx_export, close as _close
import reference as ref

CASES = [   # make the layer, input shape, the layer's function of (x, kernel, bias) in float64
    (lambda: layers.Dense(3, lora_rank=2, lora_alpha=6), (4, 5), lambda x, w, b: x @ w + b),
    (lambda: layers.Dense(3, activation="relu", lora_rank=1), (2, 3, 5),
     lambda x, w, b: np.maximum(x @ w + b, 0.0)),
    (lambda: layers.EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="de", lora_rank=2, lora_alpha=3),
     (2, 3, 4), lambda x, w, b: ref.einsum_dense(x, w, b, "abc,cde->abde")),
    (lambda: layers.EinsumDense("ab,bc->ac", 3, lora_rank=2), (4, 5),
     lambda x, w, b: ref.einsum_dense(x, w, None, "ab,bc->ac")),
]


def _built(make, x_shape, rng):
    """The layer built on x_shape with random weights (B nonzero, so the LoRA term counts)."""
    layer = make()
    layer.build((None,) + x_shape[1:])
    layer.set_weights([(rng.normal(size=w.shape) * 0.5).astype(np.float32) for w in layer.weights])
    return layer


def _expected(layer, fn, x, weights):
    kernel, *rest = weights
    a, b = rest[-2:]
    bias = rest[0] if len(rest) == 3 else None
    return fn(x, ref.lora_kernel(kernel, a, b, layer.lora_alpha, layer.lora_rank), 0.0 if bias is None else bias)


@pytest.mark.parametrize("make,x_shape,fn", CASES)
def test_forward_and_gradients_against_the_reference(make, x_shape, fn, rng):
    layer = _built(make, x_shape, rng)
    x = rng.normal(size=x_shape).astype(np.float32)
    weights = [w.astype(np.float64) for w in layer.get_weights()]
    want = _expected(layer, fn, x.astype(np.float64), weights)
    r = rng.normal(size=want.shape)
    xv = corenn.Variable(x)
    with corenn.GradientTape() as tape:
        y = layer(xv)
        loss = corenn.ops.sum(y * r.astype(np.float32))
    _close(np.asarray(y), want)
    trainable = layer.trainable_weights
    grads = tape.gradient(loss, [xv] + trainable)
    index = {id(w): i for i, w in enumerate(layer.weights)}

    def loss_at(i):
        def f(v):
            ws = list(weights)
            if i is None:
                return float((_expected(layer, fn, v, ws) * r).sum())
            ws[i] = v
            return float((_expected(layer, fn, x.astype(np.float64), ws) * r).sum())
        return f
    _close(np.asarray(grads[0]), ref.numerical_grad(loss_at(None), x.astype(np.float64)), 1e-3)
    for w, g in zip(trainable, grads[1:]):
        i = index[id(w)]
        _close(np.asarray(g), ref.numerical_grad(loss_at(i), weights[i]), 1e-3)


def test_pytorch_parity_forward_and_backward(rng):
    torch = pytest.importorskip("torch")
    layer = _built(lambda: layers.Dense(4, lora_rank=2, lora_alpha=5), (3, 6), rng)
    x = rng.normal(size=(3, 6)).astype(np.float32)
    with corenn.GradientTape() as tape:
        loss = corenn.ops.sum(corenn.ops.square(layer(x)))
    grads = [np.asarray(g) for g in tape.gradient(loss, layer.trainable_weights)]
    kernel, bias, a, b = (torch.tensor(w, requires_grad=True) for w in layer.get_weights())
    y = torch.tensor(x) @ kernel + (torch.tensor(x) @ a) @ b * 2.5 + bias
    (y ** 2).sum().backward()
    for got, want in zip(grads, (bias.grad, a.grad, b.grad)):
        _close(got, want.numpy())
    assert kernel.grad.abs().sum() > 0   # the frozen kernel would have a gradient; corenn gives it none


def test_keras_weight_names_order_trainability_and_config():
    dense = layers.Dense(3, lora_rank=2, lora_alpha=8, name="d")
    dense.build((None, 4))
    assert [w.path for w in dense.weights] == ["d/kernel", "d/bias", "d/lora_kernel_a", "d/lora_kernel_b"]
    assert [w.path for w in dense.trainable_weights] == ["d/bias", "d/lora_kernel_a", "d/lora_kernel_b"]
    assert [w.path for w in dense.non_trainable_weights] == ["d/kernel"]
    assert [tuple(w.shape) for w in dense.weights] == [(4, 3), (3,), (4, 2), (2, 3)]
    np.testing.assert_array_equal(np.asarray(dense.lora_kernel_b), 0.0)   # starts as the base layer
    cfg = dense.get_config()
    assert (cfg["lora_rank"], cfg["lora_alpha"]) == (2, 8)
    again = layers.Dense.from_config(cfg)
    again.build((None, 4))
    assert again.lora_enabled and again.lora_alpha == 8
    assert "lora_rank" not in layers.Dense(3).get_config()   # Keras writes the keys only when set
    einsum = layers.EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="de", name="e")
    einsum.build((None, 5, 4))
    einsum.enable_lora(2)
    assert [(w.path, tuple(w.shape)) for w in einsum.weights] == [
        ("e/kernel", (4, 2, 3)), ("e/bias", (2, 3)), ("e/lora_kernel_a", (4, 2, 2)), ("e/lora_kernel_b", (2, 3))]
    assert einsum.get_config()["lora_rank"] == 2 and einsum.lora_alpha == 2


def test_enable_lora_errors():
    with pytest.raises(ValueError, match=r"Dense 'd1': cannot enable LoRA on a layer that isn't built yet"):
        layers.Dense(3, name="d1").enable_lora(2)
    layer = layers.Dense(3, name="d2")
    layer.build((None, 4))
    layer.enable_lora(2)
    with pytest.raises(ValueError, match=r"Dense 'd2': LoRA is already enabled"):
        layer.enable_lora(2)
    constrained = layers.Dense(3, kernel_constraint="non_neg", name="d3")
    constrained.build((None, 4))
    with pytest.raises(ValueError, match=r"Dense 'd3': LoRA is incompatible with kernel constraints"):
        constrained.enable_lora(2)
    with pytest.raises(ValueError, match=r"Dense 'd4': lora_rank must be None or a positive number"):
        layers.Dense(3, lora_rank="2", name="d4")


def _model():
    inp = corenn.Input((6,))
    h = layers.Dense(8, activation="relu")(inp)
    h = layers.Reshape((2, 4))(h)
    h = layers.EinsumDense("abc,cd->abd", (2, 3), bias_axes="d")(h)
    return corenn.Model(inp, layers.Dense(1)(layers.Flatten()(h)))


def test_fine_tuning_as_the_keras_guide_trains_only_the_lora_pair(rng):
    x = rng.normal(size=(32, 6)).astype(np.float32)
    y = x[:, :1] * 2.0 - x[:, 1:2]
    model = _model()
    for layer in model.layers:   # the Keras LoRA guide's loop
        if isinstance(layer, (layers.Dense, layers.EinsumDense)):
            layer.enable_lora(2)
    frozen = [np.asarray(layer.kernel).copy() for layer in model.layers if getattr(layer, "lora_enabled", False)]
    assert len(model.trainable_weights) == 3 * 3   # bias, A, B per layer
    before = model.predict(x, verbose=0)
    model.compile("adam", "mse")
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0).history["loss"]
    assert history[-1] < history[0]
    lora_layers = [layer for layer in model.layers if getattr(layer, "lora_enabled", False)]
    for layer, kernel in zip(lora_layers, frozen):
        np.testing.assert_array_equal(np.asarray(layer.kernel), kernel)
        assert np.abs(np.asarray(layer.lora_kernel_b)).sum() > 0
    assert not np.allclose(model.predict(x, verbose=0), before)


def test_saving_corenn_files_and_keras_weights_layout(tmp_path, rng):
    h5py = pytest.importorskip("h5py")
    x = rng.normal(size=(5, 6)).astype(np.float32)

    def make(lora):
        model = _model()
        if lora:
            for layer in model.layers:
                if isinstance(layer, (layers.Dense, layers.EinsumDense)):
                    layer.enable_lora(2, lora_alpha=4)
        return model
    model = make(True)
    for w in model.weights:
        np.asarray(w)[...] = rng.normal(size=w.shape) * 0.5
    want = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")   # corenn's file: every weight, the LoRA pair too
    loaded = corenn.models.load_model(tmp_path / "m.keras")
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert loaded.layers[1].lora_enabled and loaded.layers[1].lora_alpha == 4
    # Keras 3's layout: the merged kernel and the bias, no LoRA pair (Keras' save_own_variables)
    model.save_weights(tmp_path / "w.weights.h5")
    dense = model.layers[1]
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        saved = f["layers/dense/vars"]
        assert sorted(saved) == ["0", "1"]
        _close(saved["0"][()], ref.lora_kernel(dense.kernel, dense.lora_kernel_a, dense.lora_kernel_b, 4, 2))
    for target in (make(True), make(False)):   # Keras' load: the pair starts again at zero
        target.load_weights(tmp_path / "w.weights.h5")
        _close(target.predict(x, verbose=0), want)
    lora_target = make(True)
    lora_target.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_array_equal(np.asarray(lora_target.layers[1].lora_kernel_b), 0.0)


def test_onnx_export_uses_the_merged_kernel(tmp_path, rng):
    model = _model()
    for layer in model.layers:
        if isinstance(layer, (layers.Dense, layers.EinsumDense)):
            layer.enable_lora(2)
    check_onnx_export(model, rng.normal(size=(3, 6)).astype(np.float32), tmp_path, rng)


def test_a_gradient_penalty_reaches_the_lora_pair(rng):
    """Second order (models/second_order.py): the inner gradient dy/dx = W' (1) of a linear
    LoRA Dense, its penalty ||W' 1||^2 differentiated into A and B by the outer tape."""
    layer = _built(lambda: layers.Dense(1, lora_rank=2, lora_alpha=3), (2, 4), rng)
    model = corenn.Sequential([corenn.Input((4,)), layer])
    x = corenn.constant(rng.normal(size=(2, 4)).astype(np.float32))
    with corenn.GradientTape() as tape:
        with corenn.GradientTape() as inner:
            inner.watch(x)
            pred = model(x, training=True)
        penalty = corenn.ops.sum(corenn.ops.square(inner.gradient(pred, x)))
    grads = tape.gradient(penalty, [layer.lora_kernel_a, layer.lora_kernel_b])
    kernel, _, a, b = [w.astype(np.float64) for w in layer.get_weights()]

    def of_a(v):
        return 2 * float((ref.lora_kernel(kernel, v, b, 3, 2) ** 2).sum())

    def of_b(v):
        return 2 * float((ref.lora_kernel(kernel, a, v, 3, 2) ** 2).sum())
    _close(np.asarray(grads[0]), ref.numerical_grad(of_a, a), 1e-3)
    _close(np.asarray(grads[1]), ref.numerical_grad(of_b, b), 1e-3)
