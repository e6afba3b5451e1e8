"""DepthwiseConv1D and SeparableConv1D (Keras 3) on the 2-D depthwise / separable kernels with
height 1: forward against the float64 reference, finite-difference gradients, PyTorch parity
(conv1d with groups), Keras' shapes, channels_first, errors, training, saving and ONNX."""
import numpy as np
import pytest

import corenn
from corenn import kernels, layers
from layer_checks import check_against_reference, check_onnx_export, check_saving, close as _close
import reference as ref


def _fd_check(layer, x, weights, fn, rng):
    layer.build((None,) + x.shape[1:])
    check_against_reference(layer, x, weights, fn, rng)


GEOMETRIES = [(1, 1, "valid", 1), (2, 2, "same", 1), (1, 1, "same", 2), (3, 3, "valid", 1)]  # dm, s, pad, d


@pytest.mark.parametrize("dm,stride,padding,dilation", GEOMETRIES)
def test_depthwise_conv1d_against_the_reference(dm, stride, padding, dilation, rng):
    x = rng.normal(size=(2, 9, 3)).astype(np.float32)
    layer = layers.DepthwiseConv1D(3, strides=stride, padding=padding, depth_multiplier=dm,
                                   dilation_rate=dilation, activation="tanh")
    w = rng.normal(size=(3, 3, dm)).astype(np.float32)
    b = rng.normal(size=3 * dm).astype(np.float32)
    _fd_check(layer, x, [w, b], lambda xx, ww, bb: np.tanh(
        ref.depthwise_conv1d(xx, ww, bb, stride, padding, dilation)), rng)
    assert tuple(layer.kernel.shape) == (3, 3, dm)


@pytest.mark.parametrize("dm,stride,padding,dilation", GEOMETRIES)
def test_separable_conv1d_against_the_reference(dm, stride, padding, dilation, rng):
    x = rng.normal(size=(2, 9, 3)).astype(np.float32)
    layer = layers.SeparableConv1D(4, 3, strides=stride, padding=padding, depth_multiplier=dm,
                                   dilation_rate=dilation, activation="relu")
    dw = rng.normal(size=(3, 3, dm)).astype(np.float32)
    pw = rng.normal(size=(1, 3 * dm, 4)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32) + 0.5
    _fd_check(layer, x, [dw, pw, b], lambda xx, d, p, bb: np.maximum(
        ref.separable_conv1d(xx, d, p, bb, stride, padding, dilation), 0), rng)


def _torch_depthwise(torch, x, w, stride, padding, dilation):
    """torch conv1d with groups=C on (N, C, L); w (K, C, DM) -> torch (C*DM, 1, K)."""
    k, c, dm = w.shape
    tw = w.permute(1, 2, 0).reshape(c * dm, 1, k)
    if padding == "same":
        length, extent = x.shape[1], (k - 1) * dilation + 1
        total = max((-(-length // stride) - 1) * stride + extent - length, 0)
        x = torch.nn.functional.pad(x.transpose(1, 2), (total // 2, total - total // 2))
    else:
        x = x.transpose(1, 2)
    return torch.nn.functional.conv1d(x, tw, stride=stride, dilation=dilation, groups=c).transpose(1, 2)


@pytest.mark.parametrize("dm,stride,padding,dilation", GEOMETRIES[:3])
def test_pytorch_parity(dm, stride, padding, dilation, rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(2, 10, 3)).astype(np.float32)
    sep = layers.SeparableConv1D(5, 3, strides=stride, padding=padding, depth_multiplier=dm,
                                 dilation_rate=dilation, activation="sigmoid")
    xt = kernels.as_tensor(x)
    with corenn.GradientTape() as tape:
        tape.watch(xt)
        y = sep(xt)
        loss = corenn.ops.sum(y * y)
    grads = tape.gradient(loss, [xt] + sep.trainable_weights)
    tx, tdw, tpw, tb = (torch.tensor(a, dtype=torch.float64, requires_grad=True)
                        for a in [x] + sep.get_weights())
    u = _torch_depthwise(torch, tx, tdw, stride, padding, dilation)
    ty = torch.sigmoid(u @ tpw[0] + tb)
    (ty * ty).sum().backward()
    _close(np.asarray(y), ty.detach().numpy())
    for got, want in zip(grads, (tx, tdw, tpw, tb)):
        _close(np.asarray(got), want.grad.numpy())


def test_keras_shapes_channels_first_and_aliases(rng):
    x = rng.normal(size=(4, 10, 12)).astype(np.float32)
    assert layers.DepthwiseConv1D(kernel_size=3, depth_multiplier=3, strides=2, activation="relu")(x).shape == (4, 4, 36)
    assert layers.SeparableConvolution1D is layers.SeparableConv1D
    assert layers.SeparableConv1D(5, 3, padding="same")(x).shape == (4, 10, 5)
    last = layers.SeparableConv1D(4, 3, depth_multiplier=2)
    first = layers.SeparableConv1D(4, 3, depth_multiplier=2, data_format="channels_first")
    y_last = np.asarray(last(x))
    first.build((None, 12, 10))
    first.set_weights(last.get_weights())
    _close(np.asarray(first(np.ascontiguousarray(x.transpose(0, 2, 1)))), y_last.transpose(0, 2, 1))


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"DepthwiseConv1D 'd1': padding must be 'valid' or 'same', got 'causal'"):
        layers.DepthwiseConv1D(3, padding="causal", name="d1")
    with pytest.raises(ValueError, match=r"SeparableConv1D 's1': strides > 1 not supported in conjunction "
                                         r"with dilation_rate > 1"):
        layers.SeparableConv1D(2, 3, strides=2, dilation_rate=2, name="s1")
    with pytest.raises(ValueError, match=r"DepthwiseConv1D 'd2': kernel_size must be a positive int or 1 of them"):
        layers.DepthwiseConv1D((3, 3), name="d2")
    with pytest.raises(ValueError, match=r"SeparableConv1D 's2' needs inputs of shape \(batch, steps, channels\)"):
        layers.SeparableConv1D(2, 3, name="s2").build((None, 8, 8, 3))
    with pytest.raises(ValueError, match=r"DepthwiseConv1D 'd3'.*smaller than the \(dilated\) kernel"):
        layers.DepthwiseConv1D(5, name="d3").build((None, 3, 2))


def _model():
    return corenn.Sequential([corenn.Input((16, 3)),
                              layers.DepthwiseConv1D(3, depth_multiplier=2, padding="same", activation="relu"),
                              layers.SeparableConv1D(4, 3, strides=2, activation="relu"),
                              layers.GlobalAveragePooling1D(), layers.Dense(1)])


def test_trains_saves_and_loads(tmp_path, rng):
    x = rng.normal(size=(64, 16, 3)).astype(np.float32)
    y = np.abs(x[:, :, 0]).mean(axis=1, keepdims=True).astype(np.float32)
    model = _model()
    model.compile("adam", "mse")
    first = model.fit(x, y, epochs=1, batch_size=16, verbose=0).history["loss"][0]
    last = model.fit(x, y, epochs=10, batch_size=16, verbose=0).history["loss"][-1]
    assert last < first
    cfg = model.layers[1].get_config()
    assert cfg["kernel_size"] == (3,) and cfg["strides"] == (2,) and cfg["filters"] == 4
    assert layers.SeparableConv1D.from_config(cfg).kernel_size == (3,)
    loaded = check_saving(model, _model, x, tmp_path)
    assert type(loaded.layers[0]) is layers.DepthwiseConv1D


def test_onnx_export_matches_onnxruntime(tmp_path, rng):
    check_onnx_export(_model(), rng.normal(size=(3, 16, 3)).astype(np.float32), tmp_path, rng)
