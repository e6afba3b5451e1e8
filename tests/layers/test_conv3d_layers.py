"""The Keras 3 volume layers: Conv3D, Conv3DTranspose, MaxPooling3D, AveragePooling3D,
GlobalMaxPooling3D, GlobalAveragePooling3D, UpSampling3D (and their Keras aliases): values and
gradients against the float64 reference (layer gradients also against finite differences), the
GradientTape, fit, saving, errors and ONNX export (checked by onnxruntime)."""
import numpy as np
import pytest

import corenn
from corenn import kernels, layers
from corenn.models import load_model
import reference as ref


def _close(got, want, tol=1e-4):
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=tol,
                               atol=tol * (np.abs(want).max() + 1.0))


def _forward_backward(layer, x, dy):
    """(y, dx, weight gradients) of one training-mode call of a built layer."""
    y = np.asarray(layer.forward(kernels.as_tensor(x), training=True)).copy()
    dx = np.asarray(layer.backward(kernels.as_tensor(dy))).copy()
    return y, dx, [np.asarray(g).copy() for g in layer.gradients]


def test_keras_aliases_and_defaults():
    assert layers.Convolution3D is layers.Conv3D
    assert layers.Convolution3DTranspose is layers.Conv3DTranspose
    assert (layers.MaxPool3D, layers.AvgPool3D) == (layers.MaxPooling3D, layers.AveragePooling3D)
    assert (layers.GlobalMaxPool3D, layers.GlobalAvgPool3D) == (layers.GlobalMaxPooling3D,
                                                                layers.GlobalAveragePooling3D)
    assert corenn.keras.layers.Conv3D is layers.Conv3D
    conv = layers.Conv3D(4, 3)
    assert (conv.kernel_size, conv.strides, conv.dilation_rate, conv.padding, conv.groups) == \
        ((3, 3, 3), (1, 1, 1), (1, 1, 1), "valid", 1)
    assert layers.MaxPooling3D().pool_size == (2, 2, 2) and layers.MaxPooling3D().strides == (2, 2, 2)
    assert layers.UpSampling3D().size == (2, 2, 2)
    assert layers.Conv3DTranspose(2, 3).output_padding is None


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_conv3d_layer_matches_the_reference_and_finite_differences(activation, rng):
    x = rng.normal(size=(1, 2, 4, 3, 4)).astype(np.float32)
    layer = layers.Conv3D(4, (2, 3, 2), strides=(1, 2, 1), padding="same", groups=2, activation=activation)
    layer.build(x.shape)
    w = (rng.normal(size=(2, 3, 2, 2, 4)) * 0.3).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    layer.set_weights([w, b])
    act = np.tanh if activation == "tanh" else (lambda z: np.maximum(z, 0))
    args = dict(strides=(1, 2, 1), padding="same", groups=2)
    f = lambda xx, ww, bb: act(ref.conv3d(xx, ww, bb, **args))
    r = rng.normal(size=f(x, w, b).shape)
    y, dx, (dw, db) = _forward_backward(layer, x, r.astype(np.float32))
    _close(y, f(x, w, b))
    if activation == "tanh":   # relu has kinks where finite differences disagree
        loss = lambda xx, ww, bb: float((f(xx, ww, bb) * r).sum())
        _close(dx, ref.numerical_grad(lambda v: loss(v, w, b), x), 1e-3)
        _close(dw, ref.numerical_grad(lambda v: loss(x, v, b), w), 1e-3)
        _close(db, ref.numerical_grad(lambda v: loss(x, w, v), b), 1e-3)


def test_conv3d_transpose_layer_matches_the_reference(rng):
    x = rng.normal(size=(2, 2, 3, 2, 3)).astype(np.float32)
    layer = layers.Conv3DTranspose(2, (2, 3, 3), strides=(2, 1, 2), padding="same", output_padding=(1, 0, 0))
    layer.build(x.shape)
    w = rng.normal(size=(2, 3, 3, 2, 3)).astype(np.float32)
    b = rng.normal(size=2).astype(np.float32)
    layer.set_weights([w, b])
    args = dict(strides=(2, 1, 2), padding="same", output_padding=(1, 0, 0))
    want = ref.conv3d_transpose(x, w, b, **args)
    assert layer.compute_output_shape(x.shape) == want.shape
    dy = rng.normal(size=want.shape).astype(np.float32)
    y, dx, (dw, db) = _forward_backward(layer, x, dy)
    _close(y, want)
    for got, expected in zip((dx, dw, db), ref.conv3d_transpose_grads(x, w, dy, **args)):
        _close(got, expected)


def test_pooling_and_upsampling_layers_match_the_reference(rng):
    x = rng.permutation(2 * 4 * 5 * 3 * 3).reshape(2, 4, 5, 3, 3).astype(np.float32) / 9
    dy_of = lambda shape: rng.normal(size=shape).astype(np.float32)
    mp = layers.MaxPool3D((2, 3, 2), strides=(1, 2, 1), padding="same")
    want = ref.max_pool3d(x, (2, 3, 2), (1, 2, 1), "same")[0]
    dy = dy_of(want.shape)
    y, dx, _ = _forward_backward(mp, x, dy)
    _close(y, want)
    _close(dx, ref.max_pool3d_grad(x, dy, (2, 3, 2), (1, 2, 1), "same"))
    ap = layers.AvgPool3D(2, padding="same")
    want = ref.avg_pool3d(x, (2, 2, 2), (2, 2, 2), "same")
    dy = dy_of(want.shape)
    y, dx, _ = _forward_backward(ap, x, dy)
    _close(y, want)
    _close(dx, ref.avg_pool3d_grad(x.shape, dy, (2, 2, 2), (2, 2, 2), "same"))
    gap = layers.GlobalAvgPool3D()
    dy = dy_of((2, 3))
    y, dx, _ = _forward_backward(gap, x, dy)
    _close(y, x.astype(np.float64).mean(axis=(1, 2, 3)))
    _close(dx, np.broadcast_to(dy[:, None, None, None, :] / 60.0, x.shape))
    gmp = layers.GlobalMaxPool3D(keepdims=True)
    y, dx, _ = _forward_backward(gmp, x, dy.reshape(2, 1, 1, 1, 3))
    _close(y, x.max(axis=(1, 2, 3), keepdims=True))
    want_dx = np.where(x == x.max(axis=(1, 2, 3), keepdims=True), dy[:, None, None, None, :], 0.0)
    _close(dx, want_dx)
    up = layers.UpSampling3D((2, 1, 3))
    dy = dy_of((2, 8, 5, 9, 3))
    y, dx, _ = _forward_backward(up, x, dy)
    _close(y, ref.upsample3d(x, (2, 1, 3)))
    _close(dx, ref.upsample3d_grad(dy, (2, 1, 3)))


def test_gradient_tape_through_a_volume_model(rng):
    x = rng.normal(size=(2, 4, 4, 4, 2)).astype(np.float32)
    conv = layers.Conv3D(3, 3, padding="same", use_bias=False)
    model = corenn.Sequential([corenn.Input((4, 4, 4, 2)), conv, layers.MaxPooling3D(2),
                               layers.GlobalAveragePooling3D()])
    with corenn.GradientTape() as tape:
        loss = corenn.ops.sum(model(x, training=True))
    (dw,) = tape.gradient(loss, model.trainable_weights)
    w = conv.get_weights()[0]
    z = ref.conv3d(x, w, padding="same")
    pooled_grad = np.full((2, 2, 2, 2, 3), 1.0 / 8)
    dz = ref.max_pool3d_grad(z, pooled_grad, (2, 2, 2), (2, 2, 2), "valid")
    _close(dw, ref.conv3d_grads(x, w, dz, padding="same")[1])


def _volume_classifier():
    """keras.io's 3-D CT classifier in miniature: Conv3D, MaxPool3D, BatchNorm, GAP3D, Dense."""
    inp = corenn.Input((6, 6, 6, 1))
    h = layers.Conv3D(4, 3, activation="relu", padding="same")(inp)
    h = layers.MaxPool3D(2)(h)
    h = layers.BatchNormalization()(h)
    h = layers.Conv3DTranspose(3, 2, strides=2, activation="relu")(h)
    h = layers.AveragePooling3D(2)(h)
    h = layers.UpSampling3D(2)(h)
    h = layers.GlobalAveragePooling3D()(h)
    out = layers.Dense(1, activation="sigmoid")(h)
    return corenn.Model(inp, out)


def test_volume_model_fits_saves_and_loads(tmp_path, rng):
    x = rng.normal(size=(16, 6, 6, 6, 1)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3, 4)) > 0).astype(np.float32)
    model = _volume_classifier()
    model.compile(optimizer=corenn.optimizers.Adam(0.01), loss="binary_crossentropy")
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0).history["loss"]
    assert history[-1] < history[0]
    path = tmp_path / "volumes.keras"
    model.save(path)
    loaded = load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_volume_model_onnx_export_matches_onnxruntime(tmp_path, rng):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    inp = corenn.Input((6, 5, 6, 2))
    h = layers.Conv3D(4, (3, 2, 3), strides=(1, 2, 1), padding="same", groups=2)(inp)
    h = layers.BatchNormalization()(h)          # folded into the conv
    h = layers.MaxPooling3D(2, strides=1, padding="same")(h)
    h = layers.Conv3DTranspose(3, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.AveragePooling3D((2, 2, 1), padding="same")(h)
    h = layers.UpSampling3D((1, 2, 1))(h)
    a = layers.GlobalMaxPooling3D()(h)
    b = layers.GlobalAveragePooling3D()(h)
    model = corenn.Model(inp, layers.Concatenate()([a, b]))
    x = rng.normal(size=(3, 6, 5, 6, 2)).astype(np.float32)
    bn = model.layers[2]
    bn.set_weights([w + rng.uniform(0.2, 0.8, w.shape).astype(np.float32) for w in bn.get_weights()])
    path = str(tmp_path / "volumes.onnx")
    corenn.onnx.export(model, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_bad_arguments_and_inputs_name_the_layer():
    with pytest.raises(ValueError, match=r"Conv3D 'c1'.*kernel_size must be a positive int or 3"):
        layers.Conv3D(2, (3, 3), name="c1")
    with pytest.raises(ValueError, match=r"Conv3D 'c2' needs inputs of shape \(batch, depth, height"):
        layers.Conv3D(2, 3, name="c2").build((None, 8, 8, 3))
    with pytest.raises(ValueError, match=r"Conv3D 'c3'.*smaller than the \(dilated\) kernel"):
        layers.Conv3D(2, 5, name="c3").build((None, 4, 8, 8, 3))
    with pytest.raises(ValueError, match=r"Conv3DTranspose 't1': output_padding must be"):
        layers.Conv3DTranspose(2, 3, strides=2, output_padding=2, name="t1")
    with pytest.raises(ValueError, match=r"MaxPooling3D 'p1' expects inputs of shape \(batch, depth"):
        layers.MaxPooling3D(name="p1").build((None, 4, 4, 3))
    with pytest.raises(ValueError, match=r"AveragePooling3D 'p2': pool_size must be"):
        layers.AveragePooling3D((2, 2), name="p2")
    with pytest.raises(ValueError, match=r"GlobalAveragePooling3D 'g1' expects inputs of shape"):
        layers.GlobalAveragePooling3D(name="g1").build((None, 4, 4, 3))
    with pytest.raises(ValueError, match=r"UpSampling3D 'u1': size must be"):
        layers.UpSampling3D((2, 2), name="u1")

    class Standardized(layers.Conv3D):
        def convolution_op(self, inputs, kernel):
            return super().convolution_op(inputs, kernel)
    with pytest.raises(NotImplementedError, match="convolution_op override is not supported for 3-D"):
        Standardized(2, 3)
