"""Layers of issue 13: Conv2DTranspose, DepthwiseConv2D, SeparableConv2D, PReLU, Rescaling,
Normalization. Forward against the float64 reference, gradients against finite differences of
it, Keras output-shape formulas, config / weight names, errors, save / load, a functional model
differentiated by GradientTape, and Normalization.adapt."""
import numpy as np
import pytest

import corenn
from corenn import keras, kernels, layers
from corenn.models import load_model
import reference as ref


def _grads(layer, x, r):
    """y, dx and the weight gradients of L = sum(layer(x) * r), run as a model would."""
    y = layer.forward(kernels.as_tensor(x), training=True)
    y = np.asarray(y).copy()
    dx = layer.backward(kernels.as_tensor(np.ascontiguousarray(r, np.float32)))
    return y, np.asarray(dx).copy(), [np.asarray(g).copy() for g in layer.gradients]


def _check(got, want, tol=1e-3):
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * (np.abs(want).max() + 1e-6))


def _fd_check(layer, x, weights, fn, rng):
    """Layer forward equals fn(x, *weights) (float64 reference) and its dx / weight gradients
    equal finite differences of sum(fn(...) * r)."""
    if not layer.built:
        layer.build((None,) + x.shape[1:])
    layer.set_weights(weights)
    want = fn(x, *weights)
    r = rng.normal(size=want.shape)
    y, dx, grads = _grads(layer, x, r)
    _check(y, want)
    args = [np.asarray(x, np.float64)] + [np.asarray(w, np.float64) for w in weights]

    def loss_at(i):
        def f(v):
            a = list(args)
            a[i] = v
            return float((fn(*a) * r).sum())
        return f
    _check(dx, ref.numerical_grad(loss_at(0), args[0]))
    assert len(grads) == len(weights)
    for i, g in enumerate(grads):
        _check(g, ref.numerical_grad(loss_at(i + 1), args[i + 1]))


ACTS = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0), "tanh": np.tanh}


@pytest.mark.parametrize("act,strides,padding,output_padding,dilation", [
    ("linear", (2, 2), "same", None, (1, 1)),
    ("tanh", (2, 1), "valid", (1, 0), (1, 1)),
    ("relu", (1, 1), "same", None, (2, 1)),
    ("linear", (3, 2), "same", (2, 1), (1, 1)),
])
def test_conv2d_transpose_layer(act, strides, padding, output_padding, dilation, rng):
    x = rng.normal(size=(2, 3, 4, 3)).astype(np.float32)
    layer = layers.Conv2DTranspose(2, (3, 2), strides=strides, padding=padding,
                                   output_padding=output_padding, dilation_rate=dilation,
                                   activation=act)
    w = rng.normal(size=(3, 2, 2, 3)).astype(np.float32)  # (KH, KW, filters, in)
    b = rng.normal(size=2).astype(np.float32)
    f = ACTS[act]
    _fd_check(layer, x, [w, b], lambda xx, ww, bb: f(ref.conv2d_transpose(
        xx, ww, bb, strides, padding, output_padding, dilation)), rng)


@pytest.mark.parametrize("act,dm,strides,padding,dilation", [
    ("linear", 1, (1, 1), "same", (1, 1)),
    ("relu", 2, (2, 2), "valid", (1, 1)),
    ("tanh", 1, (1, 1), "same", (2, 2)),
])
def test_depthwise_conv2d_layer(act, dm, strides, padding, dilation, rng):
    x = rng.normal(size=(2, 6, 5, 3)).astype(np.float32)
    layer = layers.DepthwiseConv2D(3, strides=strides, padding=padding, depth_multiplier=dm,
                                   dilation_rate=dilation, activation=act)
    w = rng.normal(size=(3, 3, 3, dm)).astype(np.float32)
    b = rng.normal(size=3 * dm).astype(np.float32)
    f = ACTS[act]
    _fd_check(layer, x, [w, b], lambda xx, ww, bb: f(ref.depthwise_conv2d(
        xx, ww, bb, strides, padding, dilation)), rng)


def _separable_ref(act, strides, padding, dilation):
    def fn(x, wd, wp, b):
        u = ref.depthwise_conv2d(x, wd, None, strides, padding, dilation)
        return ACTS[act](ref.conv2d_forward(u, wp, b))
    return fn


@pytest.mark.parametrize("act,dm,strides,padding", [("relu", 1, (1, 1), "same"),
                                                    ("tanh", 2, (2, 1), "valid"),
                                                    ("linear", 1, (2, 2), "same")])
def test_separable_conv2d_layer(act, dm, strides, padding, rng):
    x = rng.normal(size=(2, 5, 6, 3)).astype(np.float32)
    layer = layers.SeparableConv2D(4, 3, strides=strides, padding=padding, depth_multiplier=dm,
                                   activation=act)
    wd = rng.normal(size=(3, 3, 3, dm)).astype(np.float32)
    wp = rng.normal(size=(1, 1, 3 * dm, 4)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    _fd_check(layer, x, [wd, wp, b], _separable_ref(act, strides, padding, (1, 1)), rng)


@pytest.mark.parametrize("shared_axes,alpha_shape", [(None, (3, 4, 2)), ([1, 2], (1, 1, 2)),
                                                     ([3], (3, 4, 1)), (2, (3, 1, 2))])
def test_prelu_layer(shared_axes, alpha_shape, rng):
    x = rng.normal(size=(2, 3, 4, 2)).astype(np.float32)
    x[np.abs(x) < 1e-2] = 0.5  # keep finite differences away from the kink
    layer = layers.PReLU(shared_axes=shared_axes)
    layer.build((None, 3, 4, 2))
    assert layer.get_weights()[0].shape == alpha_shape and not layer.get_weights()[0].any()
    a = rng.normal(size=alpha_shape).astype(np.float32)
    _fd_check(layer, x, [a], ref.prelu, rng)


def test_rescaling_and_normalization_forward_and_backward(rng):
    x = rng.normal(size=(4, 3, 5)).astype(np.float32)
    resc = layers.Rescaling(np.arange(1, 6) / 4.0, offset=-0.5)
    resc.build((None, 3, 5))
    _fd_check(resc, x, [], lambda xx: xx * (np.arange(1, 6) / 4.0) - 0.5, rng)
    mean, var = rng.normal(size=5), rng.uniform(0.5, 2.0, size=5)
    for invert in (False, True):
        norm = layers.Normalization(invert=invert)
        norm.build((None, 3, 5))
        norm.set_weights([mean, var, np.float32(0)])
        y, dx, _ = _grads(norm, x, np.ones_like(x))
        _check(y, ref.normalization(x, mean, var, invert))
        std = np.sqrt(var)
        _check(dx, np.broadcast_to(std if invert else 1 / std, x.shape))


# ---- shapes, config, errors -----------------------------------------------------------------

def _keras_transpose_len(size, k, s, padding, op, d):
    k = k + (k - 1) * (d - 1)
    if op is None:
        return size * s + max(k - s, 0) if padding == "valid" else size * s
    return (size - 1) * s + k - 2 * (k // 2 if padding == "same" else 0) + op


@pytest.mark.parametrize("k,s,padding,op,d", [(3, 2, "same", None, 1), (3, 2, "valid", None, 1),
                                              (4, 2, "same", 1, 1), (1, 3, "valid", None, 1),
                                              (5, 3, "valid", 2, 1), (3, 1, "same", None, 2),
                                              (2, 2, "valid", 0, 1)])
def test_conv2d_transpose_output_shape_is_keras(k, s, padding, op, d, rng):
    layer = layers.Conv2DTranspose(5, k, strides=s, padding=padding, output_padding=op, dilation_rate=d)
    want = (None, _keras_transpose_len(6, k, s, padding, op, d), _keras_transpose_len(3, k, s, padding, op, d), 5)
    assert layer.compute_output_shape((None, 6, 3, 2)) == want
    y = layer(rng.normal(size=(2, 6, 3, 2)).astype(np.float32))
    assert y.shape == (2,) + want[1:]


@pytest.mark.parametrize("make,in_shape,out_shape", [
    (lambda: layers.DepthwiseConv2D(3), (None, 8, 7, 3), (None, 6, 5, 3)),
    (lambda: layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=4), (None, 9, 8, 3), (None, 5, 4, 12)),
    (lambda: layers.DepthwiseConv2D((3, 1), dilation_rate=2), (None, 8, 7, 2), (None, 4, 7, 2)),
    (lambda: layers.SeparableConv2D(6, 3), (None, 8, 7, 3), (None, 6, 5, 6)),
    (lambda: layers.SeparableConv2D(6, 3, strides=2, padding="same"), (None, None, 7, 3), (None, None, 4, 6)),
    (lambda: layers.Conv2DTranspose(4, 3, strides=2, padding="same"), (None, None, 5, 3), (None, None, 10, 4)),
])
def test_depthwise_and_separable_output_shapes(make, in_shape, out_shape):
    assert make().compute_output_shape(in_shape) == out_shape


def test_weight_names_order_and_config_round_trip():
    cases = [
        (layers.Conv2DTranspose(4, 3, strides=2, output_padding=1, padding="same"), ["kernel", "bias"], [(3, 3, 4, 2), (4,)]),
        (layers.DepthwiseConv2D(3, depth_multiplier=2), ["kernel", "bias"], [(3, 3, 2, 2), (4,)]),
        (layers.SeparableConv2D(5, 3, depth_multiplier=3), ["depthwise_kernel", "pointwise_kernel", "bias"],
         [(3, 3, 2, 3), (1, 1, 6, 5), (5,)]),
        (layers.PReLU(), ["alpha"], [(6, 6, 2)]),
        (layers.Normalization(), ["mean", "variance", "count"], [(2,), (2,), ()]),
        (layers.Rescaling(1 / 255), [], []),
    ]
    for layer, names, shapes in cases:
        layer.build((None, 6, 6, 2))
        assert [p.name for p in layer._params] == names
        assert [w.shape for w in layer.get_weights()] == shapes
        cfg = layer.get_config()
        clone = type(layer).from_config(cfg)
        assert clone.get_config() == cfg
    cfg = layers.Conv2DTranspose(4, 3, strides=2, output_padding=1).get_config()
    assert cfg["output_padding"] == (1, 1) and "groups" not in cfg
    cfg = layers.SeparableConv2D(5, 3).get_config()
    for key in ("depthwise_initializer", "pointwise_initializer", "depth_multiplier", "dilation_rate"):
        assert key in cfg
    assert layers.Normalization(axis=None, mean=2.0, variance=4.0).get_config()["mean"] == 2.0


def test_bad_arguments_and_inputs_raise_clear_errors(rng):
    with pytest.raises(ValueError, match="Conv2DTranspose.*output_padding"):
        layers.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="DepthwiseConv2D.*dilation_rate"):
        layers.DepthwiseConv2D(3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="SeparableConv2D.*filters"):
        layers.SeparableConv2D(0, 3)
    with pytest.raises(ValueError, match="DepthwiseConv2D.*depth_multiplier"):
        layers.DepthwiseConv2D(3, depth_multiplier=0)
    with pytest.raises(ValueError, match="DepthwiseConv2D.*padding"):
        layers.DepthwiseConv2D(3, padding="full")
    with pytest.raises(ValueError, match="Conv2DTranspose.*channels"):
        layers.Conv2DTranspose(2, 3).build((None, 5, 5))
    with pytest.raises(ValueError, match="DepthwiseConv2D"):
        layers.DepthwiseConv2D(5).build((None, 3, 3, 2))  # the kernel does not fit
    with pytest.raises(ValueError, match="PReLU.*shared_axes"):
        layers.PReLU(shared_axes=[4]).build((None, 3, 3, 2))
    with pytest.raises(ValueError, match="Normalization.*both"):
        layers.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="Rescaling.*scale"):
        layers.Rescaling(float("nan"))
    layer = layers.DepthwiseConv2D(3)
    layer(rng.normal(size=(1, 5, 5, 2)).astype(np.float32))
    with pytest.raises(ValueError, match="expects input of shape"):
        layer(rng.normal(size=(1, 5, 5, 3)).astype(np.float32))


# ---- Normalization.adapt --------------------------------------------------------------------

def test_normalization_adapt_arrays_batches_and_axes(rng):
    x = rng.normal(3.0, 2.0, size=(50, 4, 3)).astype(np.float32)
    norm = layers.Normalization()
    norm.adapt(x)
    mean, var, count = norm.get_weights()
    _check(mean, x.reshape(-1, 3).mean(axis=0), 1e-5)
    _check(var, x.reshape(-1, 3).var(axis=0), 1e-5)
    assert count == 200
    y = norm(x)
    np.testing.assert_allclose(y.reshape(-1, 3).mean(axis=0), np.zeros(3), atol=1e-5)
    np.testing.assert_allclose(y.reshape(-1, 3).std(axis=0), np.ones(3), atol=1e-5)
    # batches from a generator (with labels), and batch_size: the same statistics
    gen = layers.Normalization()
    gen.adapt((x[i:i + 7], np.zeros(len(x[i:i + 7]))) for i in range(0, 50, 7))
    for a, b in zip(gen.get_weights(), norm.get_weights()):
        _check(a, b, 1e-5)
    batched = layers.Normalization()
    batched.adapt(x, batch_size=16)
    _check(batched.get_weights()[1], var, 1e-5)
    # axis=None: one scalar statistic; axis=(1, 2): one per (row, channel)
    scalar = layers.Normalization(axis=None)
    scalar.adapt(x)
    assert scalar.get_weights()[0].shape == ()
    _check(scalar.get_weights()[1], x.var(), 1e-5)
    per = layers.Normalization(axis=(1, 2))
    per.adapt(x)
    _check(per.get_weights()[0], x.mean(axis=0), 1e-5)
    _check(per(x), ref.normalization(x, x.mean(axis=0), x.var(axis=0)), 1e-4)
    with pytest.raises(ValueError, match="adapt"):
        layers.Normalization(mean=0.0, variance=1.0).adapt(x)
    fixed = layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25], invert=True)
    _check(fixed(x), ref.normalization(x, [1, 2, 3], [4, 1, 0.25], invert=True), 1e-5)


def test_normalization_front_end_trains_saves_and_loads(tmp_path, rng):
    x = rng.normal(10.0, 5.0, size=(64, 6)).astype(np.float32)
    y = (x[:, :1] - 10.0) / 5.0
    norm = layers.Normalization()
    norm.adapt(x)
    model = corenn.Sequential([layers.Input((6,)), norm, layers.Dense(1)])
    model.compile("sgd", "mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
    path = tmp_path / "norm.keras"
    model.save(path)
    loaded = load_model(path)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# ---- in models --------------------------------------------------------------------------------

def _image_model(normalization=False):
    inp = keras.Input((3, 3, 2))
    h = layers.Rescaling(0.5, offset=0.1)(inp)
    if normalization:
        h = layers.Normalization(name="norm")(h)
    h = layers.Conv2DTranspose(2, 2, strides=2, name="up")(h)                    # (6, 6, 2)
    h = layers.DepthwiseConv2D(3, padding="same", activation="tanh", name="dw")(h)
    h = layers.SeparableConv2D(2, 3, name="sep")(h)                               # (4, 4, 2)
    out = layers.PReLU(shared_axes=[1, 2], name="prelu")(h)
    return keras.Model(inp, out)


def _image_model_ref(x, ws, stats=None):
    wt, bt, wd, bd, sd, sp, sb, a = ws
    h = ref.f64(x) * 0.5 + 0.1
    if stats is not None:
        h = ref.normalization(h, *stats)
    h = ref.conv2d_transpose(h, wt, bt, (2, 2), "valid")
    h = np.tanh(ref.depthwise_conv2d(h, wd, bd, (1, 1), "same"))
    h = ref.conv2d_forward(ref.depthwise_conv2d(h, sd), sp, sb)
    return ref.prelu(h, a)


def test_functional_model_under_gradient_tape_matches_finite_differences(rng):
    """Every new layer in one functional model: the tape's gradients of the weights and of the
    input (through Normalization and Rescaling) equal finite differences of the reference."""
    model = _image_model(normalization=True)
    stats = [rng.normal(size=2), rng.uniform(0.5, 2.0, size=2)]
    weights = [rng.normal(0.0, 0.7, w.shape).astype(np.float32) for w in model.get_weights()[3:]]
    model.set_weights([s.astype(np.float32) for s in stats] + [np.float32(0)] + weights)
    x = rng.normal(size=(2, 3, 3, 2)).astype(np.float32)
    tx = kernels.as_tensor(x)
    target = rng.normal(size=(2, 4, 4, 2)).astype(np.float32)
    with corenn.GradientTape() as tape:
        tape.watch(tx)
        pred = model(tx, training=True)
        loss = keras.losses.MeanSquaredError()(target, pred)
    grads = tape.gradient(loss, [tx] + model.trainable_variables)
    _check(np.asarray(pred), _image_model_ref(x, weights, stats))
    params = [np.asarray(x, np.float64)] + [np.asarray(w, np.float64) for w in weights]
    assert len(grads) == len(params)
    for i, g in enumerate(grads):
        def loss_of(v, i=i):
            ps = list(params)
            ps[i] = v
            return float(((_image_model_ref(ps[0], ps[1:], stats) - target) ** 2).mean())
        _check(np.asarray(g), ref.numerical_grad(loss_of, params[i]))


def test_model_with_every_new_layer_saves_loads_and_trains(tmp_path, rng):
    model = _image_model()
    x = rng.normal(size=(16, 3, 3, 2)).astype(np.float32)
    y = rng.normal(size=(16, 4, 4, 2)).astype(np.float32)
    model.compile("adam", "mse")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = load_model(path)
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    seq = corenn.Sequential([layers.Input((3, 3, 2)), layers.Conv2DTranspose(3, 3, strides=2, padding="same"),
                             layers.PReLU(), layers.SeparableConv2D(2, 3, activation="relu"),
                             layers.DepthwiseConv2D(2), layers.Flatten(), layers.Dense(1)])
    seq.compile("sgd", "mse")
    before = seq.evaluate(x, y[:, 0, 0, :1], verbose=0)
    seq.fit(x, y[:, 0, 0, :1], epochs=3, batch_size=4, verbose=0)
    assert seq.evaluate(x, y[:, 0, 0, :1], verbose=0) < before


def test_separable_relu_before_max_pooling_trains_with_relu_folded_into_the_pool(rng):
    """SeparableConv2D(relu) -> MaxPooling2D: the fusion pass folds relu' into the pooling's
    backward (the layer starts backward from the pooled gradient); the compiled step's
    gradients still equal finite differences of the float64 reference."""
    model = corenn.Sequential([layers.Input((6, 6, 2)),
                               layers.SeparableConv2D(3, 3, padding="same", activation="relu"),
                               layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(1)])
    model.compile("sgd", "mse")
    weights = [rng.normal(0.0, 0.7, w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(weights)
    x = rng.normal(size=(3, 6, 6, 2)).astype(np.float32)
    y = rng.normal(size=(3, 1)).astype(np.float32)
    _, grads = model.compute_gradients(x, y)
    sep = model.layers[0]
    assert sep.relu_grad_by_next  # the fold happened

    def predict(ws):
        wd, wp, b, wk, bk = ws
        h = np.maximum(ref.conv2d_forward(ref.depthwise_conv2d(x, wd, None, (1, 1), "same"), wp, b), 0)
        h = ref.max_pool2d(h, (2, 2), (2, 2), "valid")[0].reshape(3, -1)
        return h @ wk + bk
    ws64 = [np.asarray(w, np.float64) for w in weights]
    for i, g in enumerate(grads):
        def loss_of(v, i=i):
            ws = list(ws64)
            ws[i] = v
            return float(((predict(ws) - y) ** 2).mean())
        _check(np.asarray(g), ref.numerical_grad(loss_of, ws64[i]))


def test_shared_layers_sum_their_gradients_over_calls(rng):
    """One DepthwiseConv2D and one PReLU each called twice in a functional model (separate call
    contexts): the tape's weight gradients are the sums over both calls."""
    dw = layers.DepthwiseConv2D(3, padding="same")
    pr = layers.PReLU(shared_axes=[1, 2])
    inp = keras.Input((4, 4, 2))
    out = pr(dw(pr(dw(inp))))
    model = keras.Model(inp, out)
    weights = [rng.normal(0.0, 0.7, w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(weights)
    x = rng.normal(size=(2, 4, 4, 2)).astype(np.float32)
    with corenn.GradientTape() as tape:
        loss = corenn.ops.sum(corenn.ops.square(model(x, training=True)))

    def f(ws):
        w, b, a = ws
        h = ref.prelu(ref.depthwise_conv2d(x, w, b, (1, 1), "same"), a)
        return ref.prelu(ref.depthwise_conv2d(h, w, b, (1, 1), "same"), a)
    grads = tape.gradient(loss, model.trainable_variables)
    ws64 = [np.asarray(w, np.float64) for w in weights]
    for i, g in enumerate(grads):
        def loss_of(v, i=i):
            ws = list(ws64)
            ws[i] = v
            return float((f(ws) ** 2).sum())
        _check(np.asarray(g), ref.numerical_grad(loss_of, ws64[i]))
