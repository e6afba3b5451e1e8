"""data_format='channels_first' (and BatchNormalization(axis=1)): the channels-last kernels between
two transposes. Each layer against the float64 reference computed in NCHW (or on the moved
axes where the oracle is NHWC), its gradients against its channels-last twin and finite
differences, shapes, config, saving, a model trained through fit, ONNX refusal."""
import numpy as np
import pytest

import corenn
from corenn import kernels, layers
from corenn.models import load_model
from reference import (batch_norm_train, batch_norm_train_grads, conv2d_nchw, max_pool2d,
                       numerical_grad, upsample2d)

CF = "channels_first"


def _close(got, want, tol=1e-4):
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * (np.abs(want).max() + 1.0))


def _last(a):
    return np.moveaxis(np.asarray(a), 1, -1)


def _first(a):
    return np.moveaxis(np.asarray(a), -1, 1)


def _run(layer, x, dy=None):
    y = np.asarray(layer.forward(kernels.as_tensor(np.ascontiguousarray(x, np.float32)), training=True)).copy()
    if dy is None:
        return y, None, []
    dx = layer.backward(kernels.as_tensor(np.ascontiguousarray(dy, np.float32)))
    return y, np.asarray(dx).copy(), [np.asarray(g).copy() for g in layer.gradients]


def _twin(layer):
    """The same layer channels-last (same weights)."""
    cfg = layer.get_config()
    cfg.pop("name")
    if "data_format" in cfg:
        cfg["data_format"] = "channels_last"
    if isinstance(layer, layers.BatchNormalization):
        cfg["axis"] = -1
    return type(layer).from_config(cfg)


LAYERS = [
    ("conv2d", lambda: layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", data_format=CF), (2, 3, 9, 8)),
    ("conv2d_groups", lambda: layers.Conv2D(6, (3, 2), dilation_rate=2, groups=3, data_format=CF), (2, 6, 9, 8)),
    ("conv1d", lambda: layers.Conv1D(5, 3, padding="causal", data_format=CF), (2, 4, 11)),
    ("conv2d_transpose", lambda: layers.Conv2DTranspose(3, 3, strides=2, padding="same", data_format=CF), (2, 4, 5, 6)),
    ("depthwise", lambda: layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", data_format=CF), (2, 3, 7, 6)),
    ("separable", lambda: layers.SeparableConv2D(5, 3, activation="tanh", data_format=CF), (2, 3, 7, 6)),
    ("max_pool2d", lambda: layers.MaxPooling2D(2, data_format=CF), (2, 3, 8, 6)),
    ("avg_pool2d", lambda: layers.AveragePooling2D(3, strides=2, padding="same", data_format=CF), (2, 3, 7, 6)),
    ("max_pool1d", lambda: layers.MaxPooling1D(2, data_format=CF), (2, 3, 9)),
    ("avg_pool1d", lambda: layers.AveragePooling1D(3, padding="same", data_format=CF), (2, 3, 9)),
    ("gap2d", lambda: layers.GlobalAveragePooling2D(data_format=CF), (2, 5, 4, 3)),
    ("gmp2d_keepdims", lambda: layers.GlobalMaxPooling2D(data_format=CF, keepdims=True), (2, 5, 4, 3)),
    ("gap1d", lambda: layers.GlobalAveragePooling1D(data_format=CF), (2, 5, 7)),
    ("upsampling2d", lambda: layers.UpSampling2D((2, 3), data_format=CF, interpolation="bilinear"), (2, 3, 4, 5)),
    ("zero_padding2d", lambda: layers.ZeroPadding2D(((1, 2), (0, 3)), data_format=CF), (2, 3, 4, 5)),
    ("cropping2d", lambda: layers.Cropping2D(((1, 0), (2, 1)), data_format=CF), (2, 3, 6, 5)),
    ("zero_padding3d", lambda: layers.ZeroPadding3D(1, data_format=CF), (2, 3, 2, 3, 4)),
    ("cropping3d", lambda: layers.Cropping3D(((1, 0), (0, 1), (1, 1)), data_format=CF), (2, 3, 3, 4, 5)),
    ("conv3d", lambda: layers.Conv3D(4, (2, 3, 2), strides=(1, 2, 1), padding="same", data_format=CF),
     (2, 3, 4, 5, 3)),
    ("conv3d_transpose", lambda: layers.Conv3DTranspose(2, 2, strides=2, data_format=CF), (2, 3, 2, 3, 2)),
    ("max_pool3d", lambda: layers.MaxPooling3D(2, padding="same", data_format=CF), (2, 3, 3, 4, 5)),
    ("avg_pool3d", lambda: layers.AveragePooling3D((1, 2, 2), data_format=CF), (2, 3, 3, 4, 4)),
    ("gap3d", lambda: layers.GlobalAveragePooling3D(data_format=CF), (2, 3, 2, 3, 4)),
    ("gmp3d_keepdims", lambda: layers.GlobalMaxPooling3D(data_format=CF, keepdims=True), (2, 3, 2, 3, 4)),
    ("upsampling3d", lambda: layers.UpSampling3D((2, 1, 2), data_format=CF), (2, 3, 2, 3, 2)),
    ("flatten", lambda: layers.Flatten(data_format=CF), (2, 3, 4, 5)),
    ("batch_norm_4d", lambda: layers.BatchNormalization(axis=1), (4, 3, 5, 6)),
    ("batch_norm_3d", lambda: layers.BatchNormalization(axis=1, center=False), (4, 3, 7)),
]


@pytest.mark.parametrize("name,make,shape", LAYERS, ids=[c[0] for c in LAYERS])
def test_channels_first_layer_is_its_channels_last_twin_between_transposes(name, make, shape, rng):
    layer = make()
    x = rng.normal(size=shape).astype(np.float32)
    out_shape = layer.compute_output_shape((None,) + shape[1:])
    layer.build((None,) + shape[1:])
    twin = _twin(layer)
    twin.build((None,) + tuple(_last(np.zeros(shape)).shape[1:]))
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in layer.get_weights()]
    if isinstance(layer, layers.BatchNormalization):   # a positive moving variance
        weights[-1] = np.abs(weights[-1]) + 0.5
    layer.set_weights(weights)
    twin.set_weights(weights)
    y, _, _ = _run(layer, x)
    assert y.shape[1:] == tuple(out_shape[1:])
    y_twin, _, _ = _run(twin, _last(x))
    want = y_twin if y_twin.ndim < 3 else _first(y_twin)
    _close(y, want)
    dy = rng.normal(size=y.shape).astype(np.float32)
    _, dx, grads = _run(layer, x, dy)
    _, dx_twin, grads_twin = _run(twin, _last(x), dy if dy.ndim < 3 else _last(dy))
    assert dx.shape == x.shape
    _close(dx, _first(dx_twin))
    for g, gt in zip(grads, grads_twin):
        _close(g, gt)
    # the config keeps the layout and rebuilds the same layer
    clone = type(layer).from_config(layer.get_config())
    assert clone.compute_output_shape((None,) + shape[1:]) == out_shape


@pytest.mark.parametrize("groups,strides,padding,dilation", [(1, (1, 1), "valid", (1, 1)),
                                                              (2, (2, 1), "same", (1, 1)),
                                                              (3, (1, 1), "same", (1, 2))])
def test_channels_first_conv2d_against_the_nchw_reference(groups, strides, padding, dilation, rng):
    x = rng.normal(size=(2, 6, 7, 6)).astype(np.float32)
    layer = layers.Conv2D(3 * groups, (3, 2), strides=strides, padding=padding, dilation_rate=dilation,
                          groups=groups, data_format=CF)
    layer.build((None, 6, 7, 6))
    w = rng.normal(size=(3, 2, 6 // groups, 3 * groups)).astype(np.float32)
    b = rng.normal(size=3 * groups).astype(np.float32)
    layer.set_weights([w, b])
    f = lambda xx, ww, bb: conv2d_nchw(xx, ww, bb, strides, padding, dilation, groups)
    want = f(x, w, b)
    r = rng.normal(size=want.shape)
    y, dx, (dw, db) = _run(layer, x, r)
    _close(y, want)
    loss = lambda xx, ww, bb: float((f(xx, ww, bb) * r).sum())
    _close(dx, numerical_grad(lambda v: loss(v, w, b), x), 1e-3)
    _close(dw, numerical_grad(lambda v: loss(x, v, b), w), 1e-3)
    _close(db, numerical_grad(lambda v: loss(x, w, v), b), 1e-3)


def test_channels_first_pool_upsample_and_batch_norm_against_the_reference(rng):
    x = rng.normal(size=(3, 4, 6, 8)).astype(np.float32)
    y = np.asarray(layers.MaxPooling2D((2, 3), data_format=CF)(x))
    _close(y, _first(max_pool2d(_last(x), (2, 3), (2, 3), "valid")[0]))
    y = np.asarray(layers.UpSampling2D(2, data_format=CF)(x))
    _close(y, _first(upsample2d(_last(x), 2, 2)))
    bn = layers.BatchNormalization(axis=1, epsilon=1e-3)
    bn.build((None, 4, 6, 8))
    gamma = rng.normal(size=4).astype(np.float32)
    beta = rng.normal(size=4).astype(np.float32)
    bn.set_weights([gamma, beta, np.zeros(4, np.float32), np.ones(4, np.float32)])
    dy = rng.normal(size=x.shape).astype(np.float32)
    y, dx, (dgamma, dbeta) = _run(bn, x, dy)
    want, mean, var = batch_norm_train(_last(x), gamma, beta, 1e-3)
    _close(y, _first(want))
    rdx, rdgamma, rdbeta = batch_norm_train_grads(_last(dy), _last(x), gamma, 1e-3)
    _close(dx, _first(rdx))
    _close(dgamma, rdgamma)
    _close(dbeta, rdbeta)
    # the moving statistics are per channel (axis 1): mean * (1 - momentum) after one step
    _close(np.asarray(bn.moving_mean), mean * 0.01)


def test_flatten_orders_follow_keras(rng):
    x = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    # Keras: Flatten(data_format='channels_first') moves channels last first (H, W, C order) ...
    _close(np.asarray(layers.Flatten(data_format=CF)(x)), _last(x).reshape(2, -1))
    # ... while the default Flatten reshapes as it is: an NCHW tensor flattens in C, H, W order
    _close(np.asarray(layers.Flatten()(x)), x.reshape(2, -1))


def test_channels_first_shapes_errors_and_config():
    conv = layers.Conv2D(8, 3, strides=2, data_format="channels_first")
    assert conv.compute_output_shape((None, 3, 32, 30)) == (None, 8, 15, 14)
    conv.build((None, 3, 32, 30))
    assert tuple(conv.kernel.shape) == (3, 3, 3, 8)   # Keras' kernel layout for either format
    assert conv.get_config()["data_format"] == "channels_first"
    assert layers.BatchNormalization(axis=1).compute_output_shape((None, 3, 4, 4)) == (None, 3, 4, 4)
    with pytest.raises(ValueError, match="Conv2D 'bad_df'.*data_format"):
        layers.Conv2D(4, 3, data_format="NCHW", name="bad_df")
    with pytest.raises(NotImplementedError, match="Conv2D 'cf_softmax'.*softmax.*channels_first"):
        layers.Conv2D(4, 3, activation="softmax", data_format=CF, name="cf_softmax")
    with pytest.raises(NotImplementedError, match="BatchNormalization.*axis"):
        layers.BatchNormalization(axis=2).build((None, 4, 4, 3))
    layer = layers.Conv2D(4, 3, data_format=CF, name="conv_cf_in")
    layer(np.zeros((1, 3, 8, 8), np.float32))
    layer(np.zeros((1, 3, 6, 9), np.float32))   # another image size is fine, as in Keras
    with pytest.raises(ValueError, match="conv_cf_in"):   # channels are axis 1
        layer(np.zeros((1, 2, 8, 8), np.float32))


def _cf_cnn(seed, cf):
    corenn.utils.set_random_seed(seed)
    fmt = CF if cf else "channels_last"
    shape = (2, 10, 10) if cf else (10, 10, 2)
    return corenn.Sequential([
        corenn.Input(shape),
        layers.Conv2D(8, 3, padding="same", activation="relu", data_format=fmt),
        layers.MaxPooling2D(2, data_format=fmt),
        layers.Conv2D(8, 3, groups=2, activation="relu", data_format=fmt),
        layers.BatchNormalization(axis=1 if cf else -1),
        layers.GlobalAveragePooling2D(data_format=fmt),
        layers.Dense(3, activation="softmax"),
    ])


def test_channels_first_model_trains_like_its_channels_last_twin(tmp_path, rng):
    x = rng.normal(size=(24, 2, 10, 10)).astype(np.float32)
    y = rng.integers(0, 3, size=24)
    cf, cl = _cf_cnn(7, True), _cf_cnn(7, False)
    cl.set_weights(cf.get_weights())
    for m in (cf, cl):
        m.compile(corenn.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    h_cf = cf.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    h_cl = cl.fit(_last(x), y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(h_cf, h_cl, rtol=1e-4)
    for a, b in zip(cf.get_weights(), cl.get_weights()):
        _close(a, b, 1e-3)
    path = tmp_path / "cf.keras"
    cf.save(path)
    loaded = load_model(path)
    assert loaded.layers[0].data_format == CF and loaded.layers[3].axis == 1
    np.testing.assert_allclose(loaded.predict(x, verbose=0), cf.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


def test_channels_first_model_onnx_export_is_refused_by_name(tmp_path):
    pytest.importorskip("onnx")
    model = _cf_cnn(1, True)
    with pytest.raises(NotImplementedError, match="conv2d.*channels_first"):
        corenn.onnx.export(model, str(tmp_path / "cf.onnx"))
    assert not (tmp_path / "cf.onnx").exists()
