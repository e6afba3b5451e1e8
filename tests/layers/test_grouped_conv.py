"""Grouped convolution (Keras groups=G): the C++ kernels on every ISA against the float64
reference, finite differences, DepthwiseConv2D agreement, the layers, errors, saving, ONNX."""
import itertools

import numpy as np
import pytest

import corenn
from corenn import _C, kernels
from corenn.layers import Conv1D, Conv2D, DepthwiseConv2D, Flatten
from corenn.models import load_model
from reference import conv2d_grouped, conv2d_grouped_grads, numerical_grad


def _close(got, want, tol=1e-4):
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * (np.abs(want).max() + 1.0))


def _kernels_run(x, w, b, dy, strides, padding, dilation, groups):
    """The three C++ entries through the public wrappers: y, dx, dw, db."""
    y = kernels.conv2d(x, w, b, strides=strides, padding=padding, dilation_rate=dilation, groups=groups)
    dx = kernels.conv2d_backward_data(dy, w, x.shape, strides=strides, padding=padding,
                                      dilation_rate=dilation, groups=groups)
    dw, db = kernels.conv2d_backward_weights(x, dy, w.shape, strides=strides, padding=padding,
                                             dilation_rate=dilation, bias=True, groups=groups)
    return [np.asarray(t) for t in (y, dx, dw, db)]


SWEEP = list(itertools.product((1, 2, 3), (1, 2), ("valid", "same"), (1, 2)))  # k, s, pad, dil


@pytest.mark.parametrize("groups", [1, 2, 3, 4])
def test_grouped_kernels_match_the_reference_on_every_isa(groups, isa, rng):
    for k, s, padding, d in SWEEP:
        cg, fg = (3, 2) if groups < 4 else (5, 7)   # odd runs: packer tails, narrow tiles
        x = rng.normal(size=(2, 7, 6, cg * groups)).astype(np.float32)
        w = rng.normal(size=(k, k, cg, fg * groups)).astype(np.float32)
        b = rng.normal(size=fg * groups).astype(np.float32)
        if padding == "valid" and (k - 1) * d + 1 > 6:
            continue
        want = conv2d_grouped(x, w, b, (s, s), padding, (d, d), groups)
        dy = rng.normal(size=want.shape).astype(np.float32)
        y, dx, dw, db = _kernels_run(x, w, b, dy, (s, s), padding, (d, d), groups)
        rdx, rdw, rdb = conv2d_grouped_grads(x, w, dy, (s, s), padding, (d, d), groups)
        for got, ref in ((y, want), (dx, rdx), (dw, rdw), (db, rdb)):
            _close(got, ref)


def test_grouped_kernels_on_wide_groups_use_the_blocked_gemm(isa, rng):
    """Groups wide enough for full micro-kernel tiles and several depth blocks, 1x1 and 3x3."""
    for k in (1, 3):
        x = rng.normal(size=(3, 9, 8, 64)).astype(np.float32)
        w = rng.normal(size=(k, k, 32, 96)).astype(np.float32)
        b = rng.normal(size=96).astype(np.float32)
        want = conv2d_grouped(x, w, b, (1, 1), "same", (1, 1), 2)
        dy = rng.normal(size=want.shape).astype(np.float32)
        y, dx, dw, db = _kernels_run(x, w, b, dy, (1, 1), "same", (1, 1), 2)
        rdx, rdw, rdb = conv2d_grouped_grads(x, w, dy, (1, 1), "same", (1, 1), 2)
        for got, ref in ((y, want), (dx, rdx), (dw, rdw), (db, rdb)):
            _close(got, ref)


def test_grouped_reference_agrees_with_finite_differences(rng):
    x = rng.normal(size=(1, 5, 4, 4))
    w = rng.normal(size=(2, 3, 2, 6))
    dy = rng.normal(size=conv2d_grouped(x, w, None, (2, 1), "same", (1, 1), 2).shape)
    loss = lambda xx, ww: float((conv2d_grouped(xx, ww, None, (2, 1), "same", (1, 1), 2) * dy).sum())
    dx, dw, _ = conv2d_grouped_grads(x, w, dy, (2, 1), "same", (1, 1), 2)
    np.testing.assert_allclose(dx, numerical_grad(lambda v: loss(v, w), x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dw, numerical_grad(lambda v: loss(x, v), w), rtol=1e-6, atol=1e-7)


def test_grouped_layer_gradients_against_finite_differences(rng):
    x = rng.normal(size=(2, 6, 5, 6)).astype(np.float32)
    layer = Conv2D(4, 3, padding="same", groups=2, activation="tanh")
    layer.build((None, 6, 5, 6))
    w = rng.normal(size=(3, 3, 3, 4)).astype(np.float32) * 0.3
    b = rng.normal(size=4).astype(np.float32)
    layer.set_weights([w, b])
    f = lambda xx, ww, bb: np.tanh(conv2d_grouped(xx, ww, bb, (1, 1), "same", (1, 1), 2))
    r = rng.normal(size=f(x, w, b).shape)
    y = layer.forward(kernels.as_tensor(x), training=True)
    dx = np.asarray(layer.backward(kernels.as_tensor(r.astype(np.float32)))).copy()
    dw, db = [np.asarray(g).copy() for g in layer.gradients]
    _close(np.asarray(y), f(x, w, b))
    loss = lambda xx, ww, bb: float((f(xx, ww, bb) * r).sum())
    _close(dx, numerical_grad(lambda v: loss(v, w, b), x), 1e-3)
    _close(dw, numerical_grad(lambda v: loss(x, v, b), w), 1e-3)
    _close(db, numerical_grad(lambda v: loss(x, w, v), b), 1e-3)


@pytest.mark.parametrize("strides,padding,dilation", [((1, 1), "same", (1, 1)), ((2, 2), "valid", (1, 1)),
                                                      ((1, 1), "valid", (2, 2))])
def test_groups_equal_to_channels_is_depthwise(strides, padding, dilation, rng):
    c = 5
    x = rng.normal(size=(2, 8, 7, c)).astype(np.float32)
    w = rng.normal(size=(3, 3, 1, c)).astype(np.float32)   # grouped (KH, KW, 1, C)
    b = rng.normal(size=c).astype(np.float32)
    conv = Conv2D(c, 3, strides=strides, padding=padding, dilation_rate=dilation, groups=c)
    dw_layer = DepthwiseConv2D(3, strides=strides, padding=padding, dilation_rate=dilation)
    conv.build(x.shape)
    dw_layer.build(x.shape)
    conv.set_weights([w, b])
    dw_layer.set_weights([w.reshape(3, 3, c, 1), b])       # depthwise (KH, KW, C, 1)
    y1 = np.asarray(conv.forward(kernels.as_tensor(x), training=True)).copy()
    y2 = np.asarray(dw_layer.forward(kernels.as_tensor(x), training=True)).copy()
    _close(y1, y2)
    dy = kernels.as_tensor(rng.normal(size=y1.shape).astype(np.float32))
    dx1 = np.asarray(conv.backward(dy)).copy()
    dx2 = np.asarray(dw_layer.backward(dy)).copy()
    _close(dx1, dx2)
    _close(np.asarray(conv.gradients[0]).reshape(3, 3, c), np.asarray(dw_layer.gradients[0]).reshape(3, 3, c))
    _close(np.asarray(conv.gradients[1]), np.asarray(dw_layer.gradients[1]))


def test_conv1d_groups(rng):
    x = rng.normal(size=(2, 9, 4)).astype(np.float32)
    layer = Conv1D(6, 3, strides=2, padding="same", groups=2)
    y = np.asarray(layer(x))
    assert tuple(layer.kernel.shape) == (3, 2, 6)
    w, b = layer.get_weights()
    want = conv2d_grouped(x[:, None], w[None], b, (1, 2), "same", (1, 1), 2)[:, 0]
    _close(y, want)


def test_grouped_algorithms_are_reported():
    algos = kernels.conv2d_algorithms((2, 8, 8, 8), (3, 3, 4, 8), padding="same", groups=2)
    assert algos == {"forward": "implicit_gemm", "backward_data": "col2im_gemm",
                     "backward_weights": "implicit_gemm"}
    # the same conv without groups would take Winograd / direct paths on vector ISAs: groups pick
    # their own algorithms whatever the ISA
    with pytest.raises(ValueError, match="groups"):
        kernels.conv2d_algorithms((2, 8, 8, 8), (3, 3, 3, 8), groups=2)


def test_grouped_errors_name_the_layer_and_the_shapes():
    with pytest.raises(ValueError, match=r"Conv2D 'g1'.*divisible.*groups=3, filters=4"):
        Conv2D(4, 3, groups=3, name="g1")
    with pytest.raises(ValueError, match=r"Conv2D 'g2'.*groups must be a positive integer"):
        Conv2D(4, 3, groups=0, name="g2")
    with pytest.raises(ValueError, match=r"Conv2D 'g3'.*input channels.*groups=2, input channels=3"):
        Conv2D(4, 3, groups=2, name="g3").build((None, 8, 8, 3))
    x = kernels.as_tensor(np.zeros((1, 5, 5, 4), np.float32))
    with pytest.raises(ValueError, match=r"conv2d_forward: groups=3 must divide"):
        _C.conv2d_forward(x, kernels.as_tensor(np.zeros((3, 3, 2, 6), np.float32)), None,
                          kernels.empty((1, 3, 3, 6)), 1, 1, 0, 0, 1, 1, "none", 3)
    with pytest.raises(ValueError, match=r"conv2d_forward: .*groups=2 w must be \(KH, KW, 2, Cout\)"):
        _C.conv2d_forward(x, kernels.as_tensor(np.zeros((3, 3, 4, 6), np.float32)), None,
                          kernels.empty((1, 3, 3, 6)), 1, 1, 0, 0, 1, 1, "none", 2)


def test_grouped_model_trains_saves_and_loads(tmp_path, rng):
    x = rng.normal(size=(32, 8, 8, 4)).astype(np.float32)
    y = (x[..., :2].mean(axis=(1, 2, 3)) > 0).astype(np.int64)
    model = corenn.Sequential([corenn.Input((8, 8, 4)), Conv2D(8, 3, groups=4, activation="relu"),
                               Conv2D(8, 1, groups=2), Flatten(),
                               corenn.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    first = model.fit(x, y, epochs=1, batch_size=8, verbose=0).history["loss"][0]
    last = model.fit(x, y, epochs=15, batch_size=8, verbose=0).history["loss"][-1]
    assert last < first
    cfg = model.layers[0].get_config()
    assert cfg["groups"] == 4 and tuple(model.layers[0].kernel.shape) == (3, 3, 1, 8)
    assert Conv2D.from_config(cfg).groups == 4
    path = tmp_path / "grouped.keras"
    model.save(path)
    loaded = load_model(path)
    assert loaded.layers[0].groups == 4
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


def test_grouped_conv_onnx_export_matches_onnxruntime(tmp_path, rng):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = corenn.Sequential([corenn.Input((9, 8, 6)), Conv2D(6, 3, padding="same", groups=3),
                               corenn.layers.Reshape((9 * 8, 6)),
                               Conv1D(4, 3, groups=2)])
    path = str(tmp_path / "grouped.onnx")
    corenn.onnx.export(model, path)
    x = rng.normal(size=(3, 9, 8, 6)).astype(np.float32)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)



def test_ops_conv_groups_by_kernel_shape_and_differentiates(rng):
    """Keras 3: ops.conv with a (KH, KW, C / G, F) kernel is a grouped convolution; the tape
    differentiates it through the grouped kernels."""
    from corenn import ops
    x = rng.normal(size=(2, 6, 5, 6)).astype(np.float32)
    w = rng.normal(size=(3, 3, 2, 9)).astype(np.float32)
    xt, wt = kernels.as_tensor(x), kernels.as_tensor(w)
    with corenn.GradientTape() as tape:
        tape.watch(xt)
        tape.watch(wt)
        y = ops.conv(xt, wt, padding="same")
        loss = ops.sum(y * y)
    _close(np.asarray(y), conv2d_grouped(x, w, None, (1, 1), "same", (1, 1), 3))
    dx, dw = tape.gradient(loss, [xt, wt])
    rdx, rdw, _ = conv2d_grouped_grads(x, w, 2 * conv2d_grouped(x, w, None, (1, 1), "same", (1, 1), 3),
                                       (1, 1), "same", (1, 1), 3)
    _close(np.asarray(dx), rdx)
    _close(np.asarray(dw), rdw)
    with pytest.raises(ValueError, match="ops.conv"):
        ops.conv(xt, kernels.as_tensor(np.zeros((3, 3, 4, 8), np.float32)))


def test_convolution_op_override_on_a_grouped_layer(rng):
    """keras.io's weight-standardized conv: the override's ops.conv sees the grouped kernel."""
    from corenn import ops

    class Standardized(Conv2D):
        def convolution_op(self, inputs, kernel):
            mean = ops.mean(kernel, axis=(0, 1, 2), keepdims=True)
            return ops.conv(inputs, kernel - mean, padding="valid", strides=self.strides)

    x = rng.normal(size=(2, 5, 5, 4)).astype(np.float32)
    layer = Standardized(6, 3, groups=2)
    y = np.asarray(layer(x))
    w, b = layer.get_weights()
    want = conv2d_grouped(x, w - w.mean(axis=(0, 1, 2), keepdims=True), b, (1, 1), "valid", (1, 1), 2)
    _close(y, want)
