"""Convolution, pooling, upsampling, padding and cropping layers under a float64 policy.

Each layer's float64 form (layers/_float64_conv.py, on the float64 conv / pool ops of
_ops_wide_conv.py; 1-D, 2-D and 3-D layers) is checked (a) against the float32 layer with the
same weights (float32 precision), (b) against the independent float64 NumPy references of
tests/reference.py at rtol 1e-12, (c) input and weight gradients against float64 central
differences, (d) second and third derivatives through nested tapes (a PINN-style u_xx through
float64 Conv1D / Conv2D, and through pooling) against finite differences, and (e) a float64 CNN
trained with fit.
"""
import numpy as np
import pytest

import corenn as tf
from corenn import keras, ops
from corenn.keras import layers as L
from tests import reference as ref


from reference import f64 as _np  # noqa: E402  (the floatx64 fixture: tests/conftest.py)


# -- references in the layer's layout, from tests/reference.py's NHWC ones ------------------------

def _nhwc(x, first, one_d):
    x = np.moveaxis(x, 1, -1) if first else x
    return x[:, None] if one_d else x


def _back(y, first, one_d):
    y = y[:, 0] if one_d else y
    return np.moveaxis(y, -1, 1) if first else y


def _pair(v, one_d):
    v = tuple(v) if isinstance(v, (tuple, list)) else (v,) * (1 if one_d else 2)
    return (1,) + v if one_d else v


def _act(name, z):
    return {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0), None: lambda v: v}[name](z)


def _with_bias(b, z):
    return z if b is None else z + b


def conv_ref(layer, x, act=None):
    first, one_d = layer.data_format == "channels_first", layer.rank == 1
    ws = layer.get_weights()
    w, b = ws[0], ws[1] if layer.use_bias else None
    w = w[None] if one_d else w
    x4 = _nhwc(x, first, one_d)
    s, d, pad = _pair(layer.strides, one_d), _pair(layer.dilation_rate, one_d), layer.padding
    if pad == "causal":
        x4 = np.pad(x4, ((0, 0), (0, 0), ((w.shape[1] - 1) * d[1], 0), (0, 0)))
        pad = "valid"
    y = ref.conv2d_grouped(x4, w, b, s, pad, d, layer.groups)
    return _back(_act(act, y), first, one_d)


def transpose_ref(layer, x, act=None):
    first, one_d = layer.data_format == "channels_first", layer.rank == 1
    w, b = layer.get_weights()
    w = w[None] if one_d else w
    op = layer.output_padding
    op = None if op is None else ((0,) + tuple(op) if one_d else tuple(op))
    y = ref.conv2d_transpose(_nhwc(x, first, one_d), w, b, _pair(layer.strides, one_d), layer.padding, op,
                             _pair(layer.dilation_rate, one_d))
    return _back(_act(act, y), first, one_d)


def depthwise_ref(layer, x, act=None):
    first, one_d = layer.data_format == "channels_first", layer.rank == 1
    w, b = layer.get_weights()
    y = ref.depthwise_conv2d(_nhwc(x, first, one_d), w[None] if one_d else w, b,
                             _pair(layer.strides, one_d), layer.padding, _pair(layer.dilation_rate, one_d))
    return _back(_act(act, y), first, one_d)


def separable_ref(layer, x, act=None):
    first, one_d = layer.data_format == "channels_first", layer.rank == 1
    dw, pw, b = layer.get_weights()
    y = ref.depthwise_conv2d(_nhwc(x, first, one_d), dw[None] if one_d else dw, None,
                             _pair(layer.strides, one_d), layer.padding, _pair(layer.dilation_rate, one_d))
    y = y @ (pw[0, 0] if not one_d else pw[0]) + b
    return _back(_act(act, y), first, one_d)


def pool_ref(layer, x, act=None):
    first, one_d = layer.data_format == "channels_first", len(x.shape) == 3
    size, stride = tuple(layer.pool_size), tuple(layer.strides)   # 1-D layers keep (1, k)
    x4 = _nhwc(x, first, one_d)
    if "Max" in type(layer).__name__:
        y = ref.max_pool2d(x4, size, stride, layer.padding)[0]
    else:
        y = ref.avg_pool2d(x4, size, stride, layer.padding)
    return _back(y, first, one_d)


def global_ref(layer, x, act=None):
    first, one_d = layer.data_format == "channels_first", len(x.shape) == 3
    x4 = _nhwc(x, first, one_d)
    y = ref.global_max_pool2d(x4)[0] if "Max" in type(layer).__name__ else ref.global_avg_pool2d(x4)
    if layer.keepdims:
        y = _back(y[:, None, None, :], first, one_d)
    return y


def upsampling_ref(layer, x, act=None):
    if isinstance(layer, L.UpSampling1D):
        return ref.upsample2d(x[:, :, None], layer.size, 1)[:, :, 0]
    first = layer.data_format == "channels_first"
    y = ref.upsample2d(_nhwc(x, first, False), *layer.size, layer.interpolation)
    return _back(y, first, False)


def padding_ref(layer, x, act=None):
    if isinstance(layer, L.ZeroPadding1D):
        first = layer.data_format == "channels_first"
        y = ref.zero_pad2d(_nhwc(x, first, True), 0, 0, *layer.padding)
        return _back(y, first, True)
    first = layer.data_format == "channels_first"
    (t, b), (lft, r) = layer.padding
    return _back(ref.zero_pad2d(_nhwc(x, first, False), t, b, lft, r), first, False)


def cropping_ref(layer, x, act=None):
    if isinstance(layer, L.Cropping1D):
        return ref.crop2d(x[:, None], 0, 0, *layer.cropping)[:, 0]
    first = layer.data_format == "channels_first"
    (t, b), (lft, r) = layer.cropping
    return _back(ref.crop2d(_nhwc(x, first, False), t, b, lft, r), first, False)


def _cl(x, layer):
    return np.moveaxis(x, 1, -1) if layer.data_format == "channels_first" else x


def _cf(y, layer):
    return np.moveaxis(y, -1, 1) if layer.data_format == "channels_first" else y


def conv3d_ref(layer, x, act=None):
    ws = layer.get_weights()
    y = ref.conv3d(_cl(x, layer), ws[0], ws[1] if layer.use_bias else None, layer.strides, layer.padding,
                   layer.dilation_rate, layer.groups)
    return _cf(_act(act, y), layer)


def conv3d_transpose_ref(layer, x, act=None):
    w, b = layer.get_weights()
    y = ref.conv3d_transpose(_cl(x, layer), w, b, layer.strides, layer.padding, layer.output_padding,
                             layer.dilation_rate)
    return _cf(_act(act, y), layer)


def pool3d_ref(layer, x, act=None):
    args = (_cl(x, layer), tuple(layer.pool_size), tuple(layer.strides), layer.padding)
    y = ref.max_pool3d(*args)[0] if "Max" in type(layer).__name__ else ref.avg_pool3d(*args)
    return _cf(y, layer)


def global3d_ref(layer, x, act=None):
    v = _cl(x, layer)
    y = v.max(axis=(1, 2, 3)) if "Max" in type(layer).__name__ else v.mean(axis=(1, 2, 3))
    return _cf(y[:, None, None, None, :], layer) if layer.keepdims else y


def volume_ref(layer, x, act=None):
    v = _cl(x, layer)
    if isinstance(layer, L.UpSampling3D):
        y = ref.upsample3d(v, layer.size)
    elif isinstance(layer, L.ZeroPadding3D):
        y = np.pad(v, ((0, 0),) + tuple(tuple(p) for p in layer.padding) + ((0, 0),))
    else:
        (a, b), (c, d), (e, f) = layer.cropping
        y = v[:, a:v.shape[1] - b, c:v.shape[2] - d, e:v.shape[3] - f]
    return _cf(y, layer)


# (id, make(dtype), input shape in the layer's layout, reference, activation)
CASES = [
    ("conv2d_same_s2", lambda d: L.Conv2D(3, 3, strides=2, padding="same", activation="tanh", dtype=d),
     (2, 5, 6, 2), conv_ref, "tanh"),
    ("conv2d_cf_dilated", lambda d: L.Conv2D(3, (2, 3), dilation_rate=(2, 1), data_format="channels_first",
                                             dtype=d), (2, 2, 6, 5), conv_ref, None),
    ("conv2d_groups", lambda d: L.Conv2D(4, 2, groups=2, padding="same", dtype=d), (1, 4, 5, 4), conv_ref, None),
    ("conv2d_no_bias", lambda d: L.Conv2D(2, 3, use_bias=False, strides=(1, 2), dtype=d), (2, 5, 6, 2),
     conv_ref, None),
    ("conv1d_causal", lambda d: L.Conv1D(3, 3, padding="causal", dilation_rate=2, activation="tanh", dtype=d),
     (2, 7, 2), conv_ref, "tanh"),
    ("conv1d_cf_same_s2", lambda d: L.Conv1D(3, 3, strides=2, padding="same", data_format="channels_first",
                                             dtype=d), (2, 2, 7), conv_ref, None),
    ("conv2d_transpose_same", lambda d: L.Conv2DTranspose(3, 3, strides=2, padding="same", dtype=d),
     (2, 3, 4, 2), transpose_ref, None),
    ("conv2d_transpose_outpad_cf", lambda d: L.Conv2DTranspose(2, 3, strides=2, output_padding=1,
                                                               data_format="channels_first", dtype=d),
     (1, 2, 3, 3), transpose_ref, None),
    ("conv1d_transpose", lambda d: L.Conv1DTranspose(3, 3, strides=2, activation="tanh", dtype=d), (2, 4, 2),
     transpose_ref, "tanh"),
    ("depthwise2d", lambda d: L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", dtype=d), (2, 4, 5, 2),
     depthwise_ref, None),
    ("depthwise1d_s2", lambda d: L.DepthwiseConv1D(3, strides=2, depth_multiplier=2, dtype=d), (2, 7, 2),
     depthwise_ref, None),
    ("separable2d", lambda d: L.SeparableConv2D(3, 3, depth_multiplier=2, activation="tanh", dtype=d),
     (2, 5, 4, 2), separable_ref, "tanh"),
    ("separable1d_same", lambda d: L.SeparableConv1D(3, 3, padding="same", dtype=d), (2, 6, 2),
     separable_ref, None),
    ("maxpool2d_same", lambda d: L.MaxPooling2D(3, strides=2, padding="same", dtype=d), (2, 5, 6, 2),
     pool_ref, None),
    ("maxpool2d_cf", lambda d: L.MaxPooling2D(2, data_format="channels_first", dtype=d), (2, 2, 5, 4),
     pool_ref, None),
    ("avgpool2d_same", lambda d: L.AveragePooling2D(3, strides=2, padding="same", dtype=d), (2, 5, 6, 2),
     pool_ref, None),
    ("maxpool1d", lambda d: L.MaxPooling1D(3, strides=2, padding="same", dtype=d), (2, 7, 2), pool_ref, None),
    ("avgpool1d", lambda d: L.AveragePooling1D(2, padding="same", dtype=d), (2, 7, 2), pool_ref, None),
    ("gap2d_keepdims", lambda d: L.GlobalAveragePooling2D(keepdims=True, dtype=d), (2, 4, 3, 2),
     global_ref, None),
    ("gmp2d_cf", lambda d: L.GlobalMaxPooling2D(data_format="channels_first", dtype=d), (2, 2, 4, 3),
     global_ref, None),
    ("gap1d", lambda d: L.GlobalAveragePooling1D(dtype=d), (2, 5, 3), global_ref, None),
    ("gmp1d_keepdims", lambda d: L.GlobalMaxPooling1D(keepdims=True, dtype=d), (2, 5, 3), global_ref, None),
    ("upsampling2d", lambda d: L.UpSampling2D((2, 3), dtype=d), (2, 3, 2, 2), upsampling_ref, None),
    ("upsampling2d_bilinear_cf", lambda d: L.UpSampling2D(2, interpolation="bilinear",
                                                          data_format="channels_first", dtype=d),
     (1, 2, 3, 4), upsampling_ref, None),
    ("upsampling1d", lambda d: L.UpSampling1D(3, dtype=d), (2, 3, 2), upsampling_ref, None),
    ("zeropadding2d", lambda d: L.ZeroPadding2D(((1, 2), (0, 1)), dtype=d), (2, 3, 3, 2), padding_ref, None),
    ("zeropadding2d_cf", lambda d: L.ZeroPadding2D(1, data_format="channels_first", dtype=d), (1, 2, 3, 2),
     padding_ref, None),
    ("zeropadding1d", lambda d: L.ZeroPadding1D((2, 1), dtype=d), (2, 3, 2), padding_ref, None),
    ("cropping2d", lambda d: L.Cropping2D(((1, 0), (1, 2)), dtype=d), (2, 4, 5, 2), cropping_ref, None),
    ("cropping1d", lambda d: L.Cropping1D((1, 2), dtype=d), (2, 6, 2), cropping_ref, None),
    ("conv3d_same_s2", lambda d: L.Conv3D(2, 2, strides=2, padding="same", activation="tanh", dtype=d),
     (1, 3, 4, 3, 2), conv3d_ref, "tanh"),
    ("conv3d_cf_groups_dilated", lambda d: L.Conv3D(4, (2, 2, 1), groups=2, dilation_rate=(1, 2, 1),
                                                    data_format="channels_first", dtype=d),
     (1, 4, 3, 4, 2), conv3d_ref, None),
    ("conv3d_transpose_same", lambda d: L.Conv3DTranspose(2, 2, strides=2, padding="same", dtype=d),
     (1, 2, 2, 3, 2), conv3d_transpose_ref, None),
    ("conv3d_transpose_outpad_cf", lambda d: L.Conv3DTranspose(2, 2, strides=2, output_padding=1,
                                                               data_format="channels_first", dtype=d),
     (1, 2, 2, 2, 1), conv3d_transpose_ref, None),
    ("maxpool3d_same", lambda d: L.MaxPooling3D(2, strides=2, padding="same", dtype=d), (2, 3, 3, 4, 2),
     pool3d_ref, None),
    ("avgpool3d_same_cf", lambda d: L.AveragePooling3D(2, padding="same", data_format="channels_first", dtype=d),
     (1, 2, 3, 3, 2), pool3d_ref, None),
    ("gmp3d", lambda d: L.GlobalMaxPooling3D(dtype=d), (2, 2, 3, 2, 2), global3d_ref, None),
    ("gap3d_keepdims_cf", lambda d: L.GlobalAveragePooling3D(keepdims=True, data_format="channels_first",
                                                             dtype=d), (2, 2, 2, 3, 2), global3d_ref, None),
    ("upsampling3d", lambda d: L.UpSampling3D((1, 2, 3), dtype=d), (1, 2, 2, 2, 2), volume_ref, None),
    ("zeropadding3d", lambda d: L.ZeroPadding3D(((1, 0), (0, 2), (1, 1)), dtype=d), (1, 2, 2, 2, 2),
     volume_ref, None),
    ("cropping3d_cf", lambda d: L.Cropping3D(((1, 0), (0, 1), (1, 1)), data_format="channels_first", dtype=d),
     (1, 2, 3, 3, 4), volume_ref, None),
]
IDS = [c[0] for c in CASES]


def _built(make, shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    layer = make("float64")
    layer(x)
    # weights away from the initializers' zeros (a bias of 0 hides a bias bug)
    layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.get_weights()])
    return layer, x, rng


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float64_layer_agrees_with_float32_layer(case):
    _, make, shape, _, _ = case
    wide, x, _ = _built(make, shape, 0)
    narrow = make("float32")
    narrow(x.astype(np.float32))
    narrow.set_weights([w.astype(np.float32) for w in wide.get_weights()])
    y64, y32 = wide(x), narrow(x.astype(np.float32))
    assert str(y64.dtype) == "float64" and str(y32.dtype) == "float32"
    assert {str(w.dtype) for w in wide.weights} <= {"float64"}
    assert tuple(y64.shape) == tuple(y32.shape)
    np.testing.assert_allclose(_np(y64), _np(y32), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float64_layer_matches_numpy_reference(case):
    _, make, shape, reference, act = case
    layer, x, _ = _built(make, shape, 1)
    y = _np(layer(x))
    want = reference(layer, x, act)
    assert y.shape == want.shape
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-13)
    # a change of 1e-12 in one input shows in a float64 layer (float32 would drop it)
    assert np.any(_np(layer(x + 1e-12)) != y)


def _central(f, arr, eps=1e-6):
    num = np.zeros_like(arr)
    for i in np.ndindex(arr.shape):
        old = arr[i]
        arr[i] = old + eps
        up = f()
        arr[i] = old - eps
        down = f()
        arr[i] = old
        num[i] = (up - down) / (2 * eps)
    return num


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float64_gradients_match_central_differences(case):
    _, make, shape, _, _ = case
    layer, x, rng = _built(make, shape, 2)
    probe = rng.standard_normal(tuple(layer(x).shape))
    xt = tf.constant(x, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        total = tf.reduce_sum(layer(xt) * probe)
    grads = tape.gradient(total, [xt] + list(layer.trainable_weights))
    assert all(str(g.dtype) == "float64" for g in grads)
    weights = [w.copy() for w in layer.get_weights()]

    def value():
        layer.set_weights(weights)
        return float(np.sum(_np(layer(x)) * probe))
    for arr, g in zip([x] + weights, grads):
        np.testing.assert_allclose(_np(g), _central(value, arr), rtol=1e-7, atol=1e-8)


def test_max_pool_ties_send_the_gradient_to_the_first_maximum_as_float32():
    x = np.array([[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 1.0, 3.0]]).reshape(1, 2, 4, 1)
    for dtype in ("float64", "float32"):
        xt = tf.constant(x, dtype=dtype)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            total = tf.reduce_sum(ops.max_pool(xt, 2, padding="valid"))
        g = _np(tape.gradient(total, xt)).reshape(2, 4)
        np.testing.assert_array_equal(g, [[0, 1, 1, 0], [0, 0, 0, 0]], err_msg=dtype)


def test_global_average_pooling1d_mask_in_float64():
    layer = L.GlobalAveragePooling1D(dtype="float64")
    x = np.random.default_rng(3).standard_normal((2, 4, 3))
    mask = np.array([[1, 1, 0, 0], [0, 0, 0, 0]], bool)
    y = _np(layer(x, mask=mask))
    np.testing.assert_allclose(y, [x[0, :2].mean(axis=0), np.zeros(3)], rtol=1e-14, atol=1e-15)


# -- higher order: a PINN-style second derivative through float64 conv nets ------------------------

def _conv_net(conv, rank):
    k = 3 if rank == 1 else (3, 3)
    c1 = conv(4, k, padding="same", activation="tanh", dtype="float64")
    c2 = conv(1, k, padding="same", dtype="float64")
    return c1, c2


@pytest.mark.parametrize("rank", [1, 2])
def test_second_and_third_order_through_float64_convs(rank):
    """u = c2(tanh(c1(x))); ux = d<u, p>/dx, uxx = d<ux, q>/dx through nested tapes, against
    central differences of ux; then d(sum uxx^2)/d(c1.kernel) against central differences of that."""
    conv = L.Conv1D if rank == 1 else L.Conv2D
    c1, c2 = _conv_net(conv, rank)
    rng = np.random.default_rng(4)
    shape = (1, 6, 1) if rank == 1 else (1, 4, 4, 1)
    x0 = rng.standard_normal(shape)
    c2(c1(x0))
    p, q = rng.standard_normal(shape), rng.standard_normal(shape)

    def derivatives(xv, with_outer=False):
        x = tf.constant(xv, dtype=tf.float64)
        with tf.GradientTape() as outer:
            with tf.GradientTape() as t2:
                t2.watch(x)
                with tf.GradientTape() as t1:
                    t1.watch(x)
                    u = c2(c1(x))
                    s = tf.reduce_sum(u * p)
                ux = t1.gradient(s, x)
                r = tf.reduce_sum(ux * q)
            uxx = t2.gradient(r, x)
            loss = tf.reduce_sum(uxx ** 2)
        gk = outer.gradient(loss, c1.kernel) if with_outer else None
        return ux, uxx, loss, gk

    ux, uxx, _, gk = derivatives(x0, with_outer=True)
    assert str(ux.dtype) == str(uxx.dtype) == str(gk.dtype) == "float64"
    xv = x0.copy()
    num = _central(lambda: float(np.sum(_np(derivatives(xv)[0]) * q)), xv)
    np.testing.assert_allclose(_np(uxx), num, rtol=1e-7, atol=1e-9)
    kernel = c1.get_weights()[0]
    rest = c1.get_weights()[1:]

    def loss_of():
        c1.set_weights([kernel] + rest)
        return float(derivatives(x0)[2])
    np.testing.assert_allclose(_np(gk), _central(loss_of, kernel), rtol=1e-6, atol=1e-8)


# -- training --------------------------------------------------------------------------------------

def test_float64_cnn_trains_with_fit(floatx64):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 8, 8, 1))
    y = x[:, 2:6, 2:6, 0].mean(axis=(1, 2))[:, None] * 3.0 + 0.5
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        L.Conv2D(4, 3, padding="same", activation="relu"),
        L.MaxPooling2D(),
        L.SeparableConv2D(4, 3, padding="same", activation="tanh"),
        L.AveragePooling2D(),
        L.Conv2DTranspose(2, 2, strides=2),
        L.GlobalAveragePooling2D(),
        L.Dense(1),
    ])
    assert {str(w.dtype) for w in model.weights} == {"float64"}
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    hist = model.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
    losses = hist.history["loss"]
    assert losses[1] < losses[0]
    assert {str(w.dtype) for w in model.weights} == {"float64"}
    out = model.predict(x[:4], verbose=0)
    assert out.dtype == np.float64


# -- the ops and tf.nn on float64 tensors ------------------------------------------------------------

def test_ops_conv_mixed_operands_promote_and_gradients_keep_each_dtype():
    rng = np.random.default_rng(6)
    x = tf.constant(rng.standard_normal((2, 5, 5, 4)).astype(np.float32))
    w = tf.Variable(rng.standard_normal((3, 3, 2, 4)), dtype=tf.float64)   # groups=2
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = ops.conv(x, w, strides=2, padding="same", data_format="channels_last")
        total = tf.reduce_sum(y ** 2)
    gx, gw = tape.gradient(total, [x, w])
    assert str(y.dtype) == "float64" and str(gx.dtype) == "float32" and str(gw.dtype) == "float64"
    want = ref.conv2d_grouped(_np(x), _np(w), None, (2, 2), "same", (1, 1), 2)
    np.testing.assert_allclose(_np(y), want, rtol=1e-12, atol=1e-13)
    dx, dw, _ = ref.conv2d_grouped_grads(_np(x), _np(w), 2 * want, (2, 2), "same", (1, 1), 2)
    np.testing.assert_allclose(_np(gw), dw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_np(gx), dx, rtol=1e-5, atol=1e-5)   # handed back in float32


def test_tf_nn_convolutions_and_pooling_keep_float64():
    rng = np.random.default_rng(7)
    xv, wv = rng.standard_normal((1, 5, 6, 2)), rng.standard_normal((3, 3, 2, 3))
    x, w = tf.constant(xv, dtype=tf.float64), tf.constant(wv, dtype=tf.float64)
    pads = [[0, 0], [1, 0], [2, 1], [0, 0]]
    y = tf.nn.conv2d(x, w, 1, pads)
    assert str(y.dtype) == "float64"
    np.testing.assert_allclose(_np(y), ref.conv2d_forward(np.pad(xv, pads), wv), rtol=1e-12, atol=1e-13)
    m = tf.nn.max_pool2d(x, 2, 2, "SAME")
    assert str(m.dtype) == "float64"
    np.testing.assert_allclose(_np(m), ref.max_pool2d(xv, (2, 2), (2, 2), "same")[0], rtol=0, atol=0)
    wt = rng.standard_normal((3, 3, 4, 2))
    with tf.GradientTape() as tape:
        tape.watch(x)
        t = tf.nn.conv2d_transpose(x, tf.constant(wt, dtype=tf.float64), [1, 10, 12, 4], 2, "SAME")
        total = tf.reduce_sum(t * t)
    assert str(t.dtype) == "float64"
    want = ref.conv2d_transpose(xv, wt, None, (2, 2), "same", None)
    np.testing.assert_allclose(_np(t), want, rtol=1e-12, atol=1e-13)
    dx = ref.conv2d_transpose_grads(xv, wt, 2 * want, (2, 2), "same", None)[0]
    np.testing.assert_allclose(_np(tape.gradient(total, x)), dx, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pool", ["max_pool", "average_pool"])
def test_pooling_gradients_differentiate_again_in_float64(pool):
    """d/dx <d/dx sum(pool(x)^3), q> through nested tapes against central differences of the
    first gradient (max pooling: its gather record, average pooling: its own descriptors)."""
    rng = np.random.default_rng(8)
    xv, q = rng.standard_normal((1, 5, 4, 2)), rng.standard_normal((1, 5, 4, 2))
    op = getattr(ops, pool)

    def first(v, keep=False):
        x = tf.constant(v, dtype=tf.float64)
        with tf.GradientTape() as t2:
            t2.watch(x)
            with tf.GradientTape() as t1:
                t1.watch(x)
                total = tf.reduce_sum(op(x, 2, strides=1, padding="same") ** 3)
            g = t1.gradient(total, x)
            r = tf.reduce_sum(g * q)
        return g, (t2.gradient(r, x) if keep else None)
    _, hq = first(xv, keep=True)
    assert str(hq.dtype) == "float64"
    v = xv.copy()
    np.testing.assert_allclose(_np(hq), _central(lambda: float(np.sum(_np(first(v)[0]) * q)), v),
                               rtol=1e-7, atol=1e-8)
