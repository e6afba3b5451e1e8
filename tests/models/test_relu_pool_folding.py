"""The fusion pass folds relu' of a Conv2D/Dense(relu) into the MaxPooling after it, and runs a
stride-1 Conv2D(relu) + MaxPooling2D(2) as one fused step: outputs and gradients must equal those
of the unfused chain (each layer's own forward and backward), including ties and all-negative
windows."""
import numpy as np
import pytest

import corenn
from corenn import layers
from corenn.models.fusion import fused_pairs


def _fused(model):
    """The (conv, pool) pairs the model's graph runs as one step."""
    return [(id(c), id(p)) for c, p in fused_pairs(model._graph)]


def _pair(model, i, j):
    return (id(model.layers[i]), id(model.layers[j]))


def _model(pool, conv_first=True):
    first = layers.Conv2D(4, 3, activation="relu", padding="same") if conv_first else layers.Dense(6, activation="relu")
    shape = (7, 7, 2) if conv_first else (5, 8)
    model = corenn.Sequential([layers.Input(shape), layers.Conv2D(3, 1, activation="relu") if conv_first else layers.Dense(4),
                               first, pool, layers.Flatten(), layers.Dense(3)])
    model.compile("sgd", corenn.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _manual_gradients(model, x, y):
    """Forward, loss gradient, then each layer's backward with the folding flags cleared."""
    for layer in model.layers:
        layer.relu_grad_by_next = layer.masks_relu_input = False
    h = corenn.kernels.as_tensor(x)
    for layer in model.layers:
        h = layer.forward(h, training=True)
    g = corenn.kernels.empty(tuple(h.shape))
    model._loss_obj.forward_backward(corenn.kernels.as_tensor(y), h, g)
    for layer in reversed(model.layers):
        g = layer.backward(g)
        if g is None:
            break
    return [np.array(t, copy=True) for t in model._gradients()]


@pytest.mark.parametrize("conv_first, pool_kind", [(True, "2d_valid"), (True, "2d_same_overlap"),
                                                   (False, "1d")])
def test_folded_relu_gradients_match_unfolded(rng, conv_first, pool_kind):
    pool = {"2d_valid": layers.MaxPooling2D(2), "2d_same_overlap": layers.MaxPooling2D(3, strides=2, padding="same"),
            "1d": layers.MaxPooling1D(2)}[pool_kind]
    corenn.utils.set_random_seed(3)
    model = _model(pool, conv_first)
    x = rng.standard_normal((5,) + model.input_shape[1:]).astype(np.float32)
    x[0] = 0.0  # all-zero image: every window's max is relu(bias) = 0 -> no gradient passes
    y = rng.integers(0, 3, 5)
    _, grads = model.compute_gradients(x, y)
    folded = [np.array(g, copy=True) for g in grads]
    relu_layer = model.layers[1]
    if pool_kind == "2d_valid":   # one fused step (relu' folded inside it)
        assert _fused(model) == [_pair(model, 1, 2)]
    else:                         # two steps, relu' folded into the pooling's backward
        assert _fused(model) == [] and relu_layer.relu_grad_by_next and model.layers[2].masks_relu_input
    unfolded = _manual_gradients(model, x, y)
    assert len(folded) == len(unfolded)
    for a, b in zip(folded, unfolded):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape, filters, padding", [
    ((9, 8, 1), 16, "valid"),   # direct kernel (Cin <= 4, Cout % 8 == 0); odd conv rows: a leftover row
    ((7, 7, 3), 8, "same"),     # padding: border patches; 7x7 conv output, 3x3 pooled
    ((8, 6, 2), 12, "valid"),   # Cout % 8 != 0: the dz fallback
    ((6, 6, 20), 16, "same"),   # wide Cin: the fallback on the GEMM / Winograd weight gradient
])
def test_first_conv_weight_gradient_from_the_pooled_gradient(rng, shape, filters, padding):
    """First layer Conv2D(relu) + MaxPooling2D(2): the pooling hands its dy to the conv, which
    forms dw and db from it directly; they must equal the unfused chain's."""
    corenn.utils.set_random_seed(4)
    model = corenn.Sequential([layers.Input(shape), layers.Conv2D(filters, 3, activation="relu", padding=padding),
                               layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(3)])
    model.compile("sgd", corenn.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert _fused(model) == [_pair(model, 0, 1)]
    step = next(s for s in model._graph.run if s.owner is model.layers[0])
    assert step.ctx.weights_from_pooled   # the first trainable call: dW from the pooled gradient
    x = rng.standard_normal((4,) + shape).astype(np.float32)
    x[0] = 0.0  # all-zero image: ties everywhere, relu(bias) = 0 -> no gradient
    y = rng.integers(0, 3, 4)
    _, grads = model.compute_gradients(x, y)
    fused = [np.array(g, copy=True) for g in grads]
    unfused = _manual_gradients(model, x, y)
    for a, b in zip(fused, unfused):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert np.abs(fused[0]).sum() > 0  # the conv did receive a gradient


def test_first_conv_pool_weight_gradient_op_matches_the_unfused_ops(rng, isa):
    """kernels.conv2d_relu_max_pool2d_backward_weights == conv2d_backward_weights(max_pool2d_backward(
    dy * [y > 0])) for both ISAs (AVX2: the direct kernel; portable: the dz fallback)."""
    from corenn import kernels
    x = rng.standard_normal((3, 11, 10, 3)).astype(np.float32)
    k = rng.standard_normal((3, 3, 3, 16)).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    y, argmax = kernels.conv2d_relu_max_pool2d(x, k, b, padding="same")
    dy = rng.standard_normal(tuple(y.shape)).astype(np.float32)
    dw, db = kernels.conv2d_relu_max_pool2d_backward_weights(x, dy, y, argmax, k.shape, bias=True, padding="same")
    masked = dy * (np.asarray(y) > 0)
    dz = kernels.max_pool2d_backward(masked, argmax, (3, 11, 10, 16), 2, 2)
    want_dw, want_db = kernels.conv2d_backward_weights(x, dz, k.shape, bias=True, padding="same")
    np.testing.assert_allclose(np.asarray(dw), np.asarray(want_dw), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(db), np.asarray(want_db), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="conv2d_relu_max_pool2d_backward_weights.*dy"):
        kernels.conv2d_relu_max_pool2d_backward_weights(x, dy[:, :2], y, argmax, k.shape, padding="same")
    with pytest.raises(TypeError, match="conv2d_relu_max_pool2d_backward_weights.*argmax"):
        kernels.conv2d_relu_max_pool2d_backward_weights(x, dy, y, np.asarray(argmax).astype(np.int64), k.shape,
                                                    padding="same")


def test_no_folding_without_relu_or_max():
    model = corenn.Sequential([layers.Input((6, 6, 1)), layers.Conv2D(2, 3, activation="tanh"),
                               layers.MaxPooling2D(2), layers.Conv2D(2, 1, activation="relu"),
                               layers.AveragePooling2D(2), layers.Flatten(), layers.Dense(2)])
    model.compile("sgd", "mse")
    assert not any(layer.relu_grad_by_next or layer.masks_relu_input for layer in model.layers)


def test_fused_conv_pool_forward_matches_layer_by_layer(rng):
    corenn.utils.set_random_seed(5)
    model = corenn.Sequential([layers.Input((11, 10, 1)), layers.Conv2D(16, 3, activation="relu", padding="same"),
                               layers.MaxPooling2D(2), layers.Conv2D(32, 3, activation="relu"),
                               layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(4)])
    model.compile("sgd", "mse")
    assert _fused(model) == [_pair(model, 0, 1), _pair(model, 2, 3)]
    x = rng.standard_normal((3, 11, 10, 1)).astype(np.float32)
    fused = model.predict(x, verbose=0)
    h = x
    for layer in model.layers:  # eager calls never fuse: each layer computes its own output
        h = layer(h)
    assert model.layers[0](x).shape == (3, 11, 10, 16)
    np.testing.assert_allclose(fused, h, rtol=1e-5, atol=1e-6)


def test_frozen_first_conv_still_fuses_and_trains_the_rest(rng):
    corenn.utils.set_random_seed(6)
    model = corenn.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(16, 3, activation="relu", trainable=False),
                               layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(2)])
    model.compile("sgd", corenn.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert _fused(model) == [_pair(model, 0, 1)] and not model.layers[0].relu_grad_by_next
    before = model.layers[0].get_weights()[0].copy()
    model.fit(rng.standard_normal((8, 8, 8, 1)).astype(np.float32), rng.integers(0, 2, 8), epochs=1, verbose=0)
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], before)


def test_pop_unfuses_the_layer_before(rng):
    model = corenn.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(16, 3, activation="relu"),
                               layers.MaxPooling2D(2)])
    assert _fused(model) == [_pair(model, 0, 1)]
    pool = model.pop()
    assert _fused(model) == [] and not model.layers[0].relu_grad_by_next
    assert not pool.masks_relu_input
    assert model.predict(rng.standard_normal((2, 8, 8, 1)).astype(np.float32), verbose=0).shape == (2, 6, 6, 16)
