"""Keras layers of issue 13, part A: GroupNormalization, UnitNormalization, GaussianNoise,
GaussianDropout, AlphaDropout. Forward against the float64 reference, input and weight gradients
against finite differences of it, Keras argument semantics and errors, training-only noise that a
seed reproduces, config / weight names, save / load, and a functional model under GradientTape."""
import numpy as np
import pytest

import corenn
from corenn import keras, kernels, layers
from corenn.models import load_model
import reference as ref


def _check(got, want, tol=1e-3):
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * (np.abs(want).max() + 1e-6))


def _run(layer, x, r, training=True):
    """y, dx and the weight gradients of L = sum(layer(x) * r), run as a model would."""
    y = np.asarray(layer.forward(kernels.as_tensor(x), training=training)).copy()
    dx = layer.backward(kernels.as_tensor(np.ascontiguousarray(r, np.float32)))
    return y, np.asarray(dx).copy(), [np.asarray(g).copy() for g in layer.gradients]


def _fd_check(layer, x, weights, fn, rng):
    """layer forward equals fn(x, *weights) (float64) and its dx / weight gradients equal finite
    differences of sum(fn(...) * r)."""
    if not layer.built:
        layer.build((None,) + x.shape[1:])
    layer.set_weights(weights)
    want = fn(x, *weights)
    r = rng.normal(size=want.shape)
    y, dx, grads = _run(layer, x, r)
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


# ---- GroupNormalization ------------------------------------------------------------------------

@pytest.mark.parametrize("shape,groups,axis,center,scale", [
    ((3, 8), 4, -1, True, True),
    ((2, 3, 3, 6), 3, -1, True, True),
    ((2, 4, 3, 2), 2, 1, True, False),     # channels first
    ((2, 5, 4), -1, -1, False, True),      # one group per channel: instance normalization
    ((2, 3, 4), 1, 2, False, False),       # one group: layer normalization over all features
])
def test_group_normalization_matches_reference_and_finite_differences(shape, groups, axis, center,
                                                                      scale, rng):
    layer = layers.GroupNormalization(groups=groups, axis=axis, center=center, scale=scale)
    x = (rng.normal(size=shape) * 2 + 1).astype(np.float32)
    layer.build((None,) + shape[1:])
    c = shape[axis]
    g = layer.groups
    assert g == (c if groups == -1 else groups)
    weights = ([rng.uniform(0.5, 1.5, c).astype(np.float32)] if scale else []) + \
              ([rng.normal(size=c).astype(np.float32)] if center else [])

    def fn(xx, *ws):
        ws = list(ws)
        gamma = ws.pop(0) if scale else None
        beta = ws.pop(0) if center else None
        return ref.group_norm(xx, gamma, beta, axis, g)[0]
    _fd_check(layer, x, weights, fn, rng)
    assert [p.name for p in layer._params] == \
        (["gamma"] if scale else []) + (["beta"] if center else [])


def test_group_normalization_keras_defaults_and_errors():
    layer = layers.GroupNormalization()
    assert (layer.groups, layer.axis, layer.epsilon, layer.center, layer.scale) == (32, -1, 1e-3, True, True)
    model = keras.Sequential([keras.Input((4, 64)), layer])
    assert model.output_shape == (None, 4, 64)
    np.testing.assert_array_equal(layer.get_weights()[0], np.ones(64, np.float32))
    np.testing.assert_array_equal(layer.get_weights()[1], np.zeros(64, np.float32))
    with pytest.raises(ValueError, match="cannot be more than the number of channels"):
        keras.Sequential([keras.Input((4, 16)), layers.GroupNormalization()])
    with pytest.raises(ValueError, match="multiple of the number of groups"):
        keras.Sequential([keras.Input((4, 6)), layers.GroupNormalization(groups=4)])
    with pytest.raises(ValueError, match="axis 0 is not a channel axis"):
        keras.Sequential([keras.Input((6,)), layers.GroupNormalization(groups=2, axis=0)])
    with pytest.raises(ValueError, match="known size"):
        keras.Sequential([keras.Input((None,)), layers.GroupNormalization(groups=2)])
    with pytest.raises(ValueError, match="groups must be a positive int"):
        layers.GroupNormalization(groups=0)
    with pytest.raises(TypeError, match="axis must be an int"):
        layers.GroupNormalization(axis=[1, 2])
    # constraints are kept (the optimizer applies them; tests/api/test_constraints_layers.py)
    assert type(layers.GroupNormalization(gamma_constraint="non_neg").gamma_constraint).__name__ == "NonNeg"
    # groups=-1 is resolved at build, and the config then records the real count (as Keras)
    gn = layers.GroupNormalization(groups=-1)
    keras.Sequential([keras.Input((3, 5)), gn])
    assert gn.get_config()["groups"] == 5


def test_group_normalization_trains_saves_and_loads(tmp_path, rng):
    x = rng.normal(size=(32, 4, 4, 8)).astype(np.float32)
    y = x.mean(axis=(1, 2))[:, :2] * 3.0
    model = keras.Sequential([keras.Input((4, 4, 8)), layers.Conv2D(8, 3, padding="same"),
                              layers.GroupNormalization(groups=4, gamma_regularizer="l2"),
                              layers.Activation("relu"), layers.GlobalAveragePooling2D(),
                              layers.Dense(2)])
    model.compile("adam", "mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
    gamma = model.layers[1].get_weights()[0]
    assert not np.allclose(gamma, 1.0)  # the layer's weights were trained
    path = tmp_path / "gn.keras"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded.layers[1]).__name__ == "GroupNormalization"
    assert loaded.layers[1].get_config() == model.layers[1].get_config()
    np.testing.assert_array_equal(loaded.layers[1].get_weights()[0], gamma)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# ---- UnitNormalization -------------------------------------------------------------------------

@pytest.mark.parametrize("shape,axis", [((4, 6), -1), ((2, 3, 4), 1), ((2, 3, 4), [1, 2]),
                                        ((2, 3, 2, 2), [-2, -1])])
def test_unit_normalization_matches_reference_and_finite_differences(shape, axis, rng):
    layer = layers.UnitNormalization(axis=axis)
    x = rng.normal(size=shape).astype(np.float32)
    _fd_check(layer, x, [], lambda xx: ref.unit_norm(xx, axis), rng)
    y = np.asarray(layer(x))
    np.testing.assert_allclose((y.astype(np.float64) ** 2).sum(axis=tuple(axis) if isinstance(axis, list) else axis),
                               1.0, rtol=1e-5)


def test_unit_normalization_keras_example_and_errors():
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = np.asarray(layers.UnitNormalization()(data))
    np.testing.assert_allclose((out[0] ** 2).sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out, data / np.linalg.norm(data, axis=1, keepdims=True), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(layers.UnitNormalization()(np.zeros((2, 3), np.float32))), 0.0)
    with pytest.raises(TypeError, match="axis must be an int or a list of ints"):
        layers.UnitNormalization(axis="last")
    with pytest.raises(NotImplementedError, match="adjacent"):
        keras.Sequential([keras.Input((2, 3, 4)), layers.UnitNormalization(axis=[1, 3])])
    with pytest.raises(ValueError, match="out of range"):
        keras.Sequential([keras.Input((2, 3)), layers.UnitNormalization(axis=3)])
    assert layers.UnitNormalization(axis=(1, 2)).get_config()["axis"] == [1, 2]


# ---- noise layers ------------------------------------------------------------------------------

NOISE = {"GaussianNoise": lambda **kw: layers.GaussianNoise(0.4, **kw),
         "GaussianDropout": lambda **kw: layers.GaussianDropout(0.3, **kw),
         "AlphaDropout": lambda **kw: layers.AlphaDropout(0.2, **kw)}


@pytest.mark.parametrize("name", sorted(NOISE))
def test_noise_layers_are_the_identity_outside_training(name, rng):
    layer = NOISE[name](seed=1)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    y = np.asarray(layer(x, training=True))
    assert y.shape == x.shape and not np.allclose(y, x)
    model = keras.Sequential([keras.Input((5,)), NOISE[name](seed=1)])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


@pytest.mark.parametrize("name", sorted(NOISE))
def test_noise_layers_are_reproducible_from_their_seed_and_the_global_seed(name, rng):
    x = rng.normal(size=(6, 7)).astype(np.float32)
    a, b = NOISE[name](seed=3), NOISE[name](seed=3)
    first = [np.asarray(a(x, training=True)).copy() for _ in range(2)]
    second = [np.asarray(b(x, training=True)).copy() for _ in range(2)]
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], first[1])  # a new draw every training call
    runs = []
    for _ in range(2):
        corenn.utils.set_random_seed(11)
        layer = NOISE[name]()
        runs.append(np.asarray(layer(x, training=True)).copy())
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("name", sorted(NOISE))
def test_noise_layer_gradients_match_finite_differences_for_a_fixed_draw(name, rng):
    """With the draw fixed (one seed), y(x) is a function of x: its gradient is checked against
    finite differences of the kernel itself, and the layer's backward against both."""
    layer = NOISE[name]()
    layer.build((None, 3, 4))
    layer._next_seed = lambda: 1234
    forward = {"GaussianNoise": lambda v: kernels.gaussian_noise_forward(v, 0.4, 1234),
               "GaussianDropout": lambda v: kernels.gaussian_dropout_forward(v, 0.3, 1234)[0],
               "AlphaDropout": lambda v: kernels.alpha_dropout_forward(v, 0.2, 1234)[0]}[name]
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    r = rng.normal(size=x.shape)
    y, dx, grads = _run(layer, x, r)
    np.testing.assert_array_equal(y, np.asarray(forward(x)))
    assert grads == []
    fd = ref.numerical_grad(lambda v: float((np.asarray(forward(v.astype(np.float32)), np.float64) * r).sum()),
                            np.asarray(x, np.float64), eps=1e-2)
    _check(dx, fd)


def test_alpha_dropout_keeps_selu_statistics_and_matches_the_reference(rng):
    layer = layers.AlphaDropout(0.1, seed=2)
    x = rng.normal(size=(400, 250)).astype(np.float32)
    y = np.asarray(layer(x, training=True))
    mask = np.asarray(layer._mask)
    want, a = ref.alpha_dropout(x, mask != 0, 0.1)
    _check(y, want, 1e-5)
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1.0) < 0.02
    assert abs((mask == 0).mean() - 0.1) < 0.005


def test_noise_layer_arguments_follow_keras():
    for bad in (-0.1, 1.5, "0.2", True):
        with pytest.raises(ValueError, match="GaussianNoise .*stddev"):
            layers.GaussianNoise(bad)
    for cls in (layers.GaussianDropout, layers.AlphaDropout):
        for bad in (-0.1, 1.0):
            with pytest.raises(ValueError, match=f"{cls.__name__} .*rate"):
                cls(bad)
        with pytest.raises(ValueError, match="seed"):
            cls(0.1, seed=-1)
    with pytest.raises(ValueError, match="AlphaDropout .*noise_shape"):   # broadcast masks: test_dropout_noise_shape.py
        layers.AlphaDropout(0.1, noise_shape=(0, 5))
    assert layers.GaussianNoise(0.1, seed=4).get_config()["seed"] == 4
    assert layers.AlphaDropout(0.25).get_config()["rate"] == 0.25
    zero = layers.GaussianDropout(0.0)
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(np.asarray(zero(x, training=True)), x)


def test_noise_layers_in_a_trained_and_saved_model(tmp_path, rng):
    x = rng.normal(size=(64, 6)).astype(np.float32)
    y = x[:, :2].sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((6,)), layers.GaussianNoise(0.1, seed=1),
                              layers.Dense(16, activation="selu"), layers.AlphaDropout(0.1, seed=2),
                              layers.GaussianDropout(0.1, seed=3), layers.Dense(1)])
    model.compile("adam", "mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=10, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
    path = tmp_path / "noise.keras"
    model.save(path)
    loaded = load_model(path)
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    assert [l.get_config() for l in loaded.layers[:1]] == [model.layers[0].get_config()]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# ---- in a functional model under the tape -------------------------------------------------------

def test_functional_model_under_gradient_tape_matches_finite_differences(rng):
    inp = keras.Input((3, 4))
    h = layers.GroupNormalization(groups=2, name="gn")(inp)
    h = layers.UnitNormalization(name="un")(h)
    out = layers.Dense(2, name="dense")(h)
    model = keras.Model(inp, out)
    gamma = rng.uniform(0.5, 1.5, 4)
    beta, kernel, bias = rng.normal(size=4), rng.normal(size=(4, 2)), rng.normal(size=2)
    params = [gamma, beta, kernel, bias]
    model.set_weights([p.astype(np.float32) for p in params])
    x = rng.normal(size=(2, 3, 4))
    target = rng.normal(size=(2, 3, 2))

    def ref_model(xx, g, b, k, bb):
        return ref.unit_norm(ref.group_norm(xx, g, b, -1, 2)[0]) @ k + bb
    tx = kernels.as_tensor(x.astype(np.float32))
    with corenn.GradientTape() as tape:
        tape.watch(tx)
        pred = model(tx, training=True)
        loss = keras.losses.MeanSquaredError()(target.astype(np.float32), pred)
    grads = tape.gradient(loss, [tx] + model.trainable_variables)
    _check(np.asarray(pred), ref_model(x, *params))
    args = [x] + params
    assert len(grads) == len(args)
    for i, g in enumerate(grads):
        def loss_of(v, i=i):
            a = list(args)
            a[i] = v
            return float(((ref_model(*a) - target) ** 2).mean())
        _check(np.asarray(g), ref.numerical_grad(loss_of, args[i]))


# ---- Conv1DTranspose ---------------------------------------------------------------------------

@pytest.mark.parametrize("act,k,stride,padding,output_padding,dilation,use_bias", [
    ("linear", 3, 2, "same", None, 1, True),
    ("tanh", 2, 1, "valid", None, 1, True),
    ("relu", 3, 3, "valid", 2, 1, False),
    ("linear", 3, 1, "same", None, 2, True),
    ("linear", 4, 2, "same", 1, 1, True),
])
def test_conv1d_transpose_matches_reference_and_finite_differences(act, k, stride, padding,
                                                                  output_padding, dilation,
                                                                  use_bias, rng):
    layer = layers.Conv1DTranspose(2, k, strides=stride, padding=padding,
                                   output_padding=output_padding, dilation_rate=dilation,
                                   activation=act, use_bias=use_bias)
    x = rng.normal(size=(2, 4, 3)).astype(np.float32)
    layer.build((None, 4, 3))
    assert [p.name for p in layer._params] == ["kernel", "bias"][:1 + use_bias]
    assert tuple(layer.kernel.shape) == (k, 2, 3)
    length = ref.conv_transpose_length(4, k, stride, padding, output_padding, dilation)[0]
    assert layer.compute_output_shape((None, 4, 3)) == (None, length, 2)
    f = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0), "tanh": np.tanh}[act]
    weights = [rng.normal(size=(k, 2, 3)).astype(np.float32)] + \
              ([rng.normal(size=2).astype(np.float32)] if use_bias else [])

    def fn(xx, w, b=None):
        return f(ref.conv1d_transpose(xx, w, b, stride, padding, output_padding, dilation))
    _fd_check(layer, x, weights, fn, rng)


def test_conv1d_transpose_torch_parity(rng):
    torch = pytest.importorskip("torch")
    layer = layers.Conv1DTranspose(4, 3, strides=2, padding="valid")
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    layer.build((None, 5, 3))
    w, b = rng.normal(size=(3, 4, 3)).astype(np.float32), rng.normal(size=4).astype(np.float32)
    layer.set_weights([w, b])
    # torch: input (N, C, L), weight (Cin, Cout, K)
    ty = torch.nn.functional.conv_transpose1d(torch.tensor(x.transpose(0, 2, 1)),
                                              torch.tensor(w.transpose(2, 1, 0)), torch.tensor(b),
                                              stride=2)
    np.testing.assert_allclose(np.asarray(layer(x)), ty.numpy().transpose(0, 2, 1), rtol=1e-4, atol=1e-5)


def test_conv1d_transpose_arguments_errors_and_config():
    layer = layers.Conv1DTranspose(8, 5)
    assert (layer.strides, layer.padding, layer.output_padding, layer.dilation_rate) == ((1,), "valid", None, (1,))
    with pytest.raises(ValueError, match="output_padding"):
        layers.Conv1DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="output_padding"):
        layers.Conv1DTranspose(2, 3, strides=2, output_padding=(1, 1))
    with pytest.raises(ValueError, match="kernel_size"):
        layers.Conv1DTranspose(2, (3, 3))
    with pytest.raises(ValueError, match=r"\(batch, steps, channels\)"):
        keras.Sequential([keras.Input((4, 4, 2)), layers.Conv1DTranspose(2, 3)])
    cfg = layers.Conv1DTranspose(2, 3, strides=2, output_padding=1, name="up").get_config()
    assert (cfg["kernel_size"], cfg["strides"], cfg["output_padding"]) == ((3,), (2,), (1,))
    again = layers.Conv1DTranspose.from_config(cfg)
    assert again.get_config() == cfg


def test_conv1d_transpose_trains_saves_and_loads(tmp_path, rng):
    x = rng.normal(size=(16, 6, 2)).astype(np.float32)
    y = np.repeat(x, 2, axis=1)[:, :, :1]
    model = keras.Sequential([keras.Input((6, 2)), layers.Conv1DTranspose(4, 3, strides=2, padding="same"),
                              layers.Conv1D(1, 1)])
    assert model.output_shape == (None, 12, 1)
    model.compile("adam", "mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=10, batch_size=4, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
    path = tmp_path / "c1t.keras"
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# ---- Attention ---------------------------------------------------------------------------------

def _attention_grads(layer, xs, r, masks=None):
    """Outputs and input / weight gradients of L = sum(layer(xs) * r), run as a graph node is."""
    if masks is not None:
        layer.__dict__["_call_mask"] = [None if m is None else kernels.as_tensor(np.asarray(m, np.float32))
                                        for m in masks]
    y = layer.forward([kernels.as_tensor(x) for x in xs], training=True)
    layer.__dict__.pop("_call_mask", None)
    y = np.asarray(y[0] if isinstance(y, list) else y).copy()
    dxs = layer.backward(kernels.as_tensor(np.ascontiguousarray(r, np.float32)))
    return y, [np.asarray(d).copy() for d in dxs], [np.asarray(g).copy() for g in layer.gradients]


@pytest.mark.parametrize("with_key,use_scale,causal,masked", [
    (False, False, False, False), (True, True, False, False), (False, True, True, False),
    (True, False, False, True), (True, True, True, True)])
def test_attention_matches_keras_reference_and_finite_differences(with_key, use_scale, causal,
                                                                  masked, rng):
    tq, tv = 4, 4 if causal else 5
    q = rng.normal(size=(2, tq, 3)).astype(np.float32)
    v = rng.normal(size=(2, tv, 3 if not with_key else 2)).astype(np.float32)
    k = rng.normal(size=(2, tv, 3)).astype(np.float32) if with_key else None
    qm = np.array([[1, 1, 0, 1], [1, 1, 1, 1]], np.float32) if masked else None
    vm = (np.arange(tv)[None, :] < np.array([[tv], [tv - 2]])).astype(np.float32) if masked else None
    layer = layers.Attention(use_scale=use_scale)
    xs = [q, v] + ([k] if with_key else [])
    layer(xs, use_causal_mask=causal)  # builds and fixes the call options
    scale = np.float32(1.7)
    if use_scale:
        layer.set_weights([np.array(scale)])

    def fn(qq, vv, kk=None, ss=None):
        return ref.keras_attention(qq, vv, kk, 1.0 if ss is None else ss, qm, vm, causal)[0]
    want = fn(q, v, k, scale if use_scale else None)
    r = rng.normal(size=want.shape)
    y, dxs, grads = _attention_grads(layer, xs, r, [qm, vm])
    _check(y, want)
    args = [np.asarray(a, np.float64) for a in xs] + ([np.float64(scale)] if use_scale else [])
    names = ["query", "value"] + (["key"] if with_key else [])

    def loss(i):
        def f(val):
            a = list(args)
            a[i] = val
            kk = a[2] if with_key else None
            ss = a[-1] if use_scale else None
            return float((fn(a[0], a[1], kk, ss) * r).sum())
        return f
    assert len(dxs) == len(names)
    for i, name in enumerate(names):
        _check(dxs[i], ref.numerical_grad(loss(i), args[i]))
    assert len(grads) == int(use_scale)
    if use_scale:
        _check(grads[0], ref.numerical_grad(loss(len(args) - 1), np.array(args[-1])))


def test_attention_scores_masks_and_the_fully_masked_row(rng):
    q = rng.normal(size=(1, 3, 2)).astype(np.float32)
    v = rng.normal(size=(1, 3, 2)).astype(np.float32)
    layer = layers.Attention()
    out, weights = layer([q, v], return_attention_scores=True, use_causal_mask=True)
    want, want_w = ref.keras_attention(q, v, causal=True)
    _check(np.asarray(out), want)
    _check(np.asarray(weights), want_w)
    assert np.asarray(weights).shape == (1, 3, 3)
    # a query whose keys are all masked: uniform weights, as Keras 3.15 (the mean of the values)
    out = np.asarray(layers.Attention()([q, v], mask=[None, np.zeros((1, 3), bool)]))
    np.testing.assert_allclose(out, np.broadcast_to(v.mean(1, keepdims=True), out.shape), rtol=1e-5, atol=1e-6)


def test_attention_torch_parity(rng):
    torch = pytest.importorskip("torch")
    q = rng.normal(size=(2, 4, 3)).astype(np.float32)
    k = rng.normal(size=(2, 6, 3)).astype(np.float32)
    v = rng.normal(size=(2, 6, 5)).astype(np.float32)
    vm = np.ones((2, 6), bool)
    vm[1, 4:] = False
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    ty = torch.nn.functional.scaled_dot_product_attention(
        tq, tk, tv, attn_mask=torch.tensor(vm)[:, None, :], scale=1.0)
    dy = rng.normal(size=(2, 4, 5)).astype(np.float32)
    ty.backward(torch.tensor(dy))
    layer = layers.Attention()
    y, dxs, _ = _attention_grads(layer, [q, v, k], dy, [None, vm])
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    for got, want in zip(dxs, (tq.grad, tv.grad, tk.grad)):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-5)


def test_attention_dropout_is_training_only_and_seeded(rng):
    q = rng.normal(size=(2, 4, 3)).astype(np.float32)
    v = rng.normal(size=(2, 6, 3)).astype(np.float32)
    a, b = layers.Attention(dropout=0.5, seed=3), layers.Attention(dropout=0.5, seed=3)
    want = ref.keras_attention(q, v)[0]
    _check(np.asarray(a([q, v])), want)  # inference: no dropout
    ya = np.asarray(a([q, v], training=True))
    yb = np.asarray(b([q, v], training=True))
    np.testing.assert_array_equal(ya, yb)
    assert not np.allclose(ya, want)
    _, w = a([q, v], training=True, return_attention_scores=True)
    w = np.asarray(w)
    p = ref.keras_attention(q, v)[1]
    kept = w != 0  # every weight is dropped (0) or kept and scaled by 1 / (1 - rate)
    np.testing.assert_allclose(w[kept], 2 * p[kept], rtol=1e-5)
    assert 0.3 < kept.mean() < 0.7


def test_attention_in_a_masked_functional_model_trains_saves_and_loads(tmp_path, rng):
    tokens = keras.Input((6,), dtype="int32")
    emb = layers.Embedding(10, 4, mask_zero=True)(tokens)
    ctx = layers.Attention(use_scale=True, name="att")([emb, emb], use_causal_mask=True)
    out = layers.Dense(1)(layers.GlobalAveragePooling1D()(ctx))
    model = keras.Model(tokens, out)
    x = rng.integers(1, 10, size=(32, 6)).astype(np.int32)
    x[:8, 4:] = 0  # padding: masked keys and queries
    y = (x[:, :1] > 5).astype(np.float32)
    # the model's attention equals the layer called eagerly with the embedding's masks
    emb_layer = model.layers[1]
    e = np.asarray(emb_layer(x[:2]))
    m = (x[:2] != 0)
    want = ref.keras_attention(e, e, scale=1.0, query_mask=m, value_mask=m, causal=True)[0]
    got = np.asarray(model.get_layer("att")([e, e], mask=[m, m], use_causal_mask=True))
    _check(got, want)
    model.compile("adam", "mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=10, batch_size=8, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
    assert model.get_layer("att").get_weights()[0] != 1.0  # the scale was trained
    path = tmp_path / "att.keras"
    model.save(path)
    loaded = load_model(path)
    assert loaded.get_layer("att")._options == (True, False)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_attention_arguments_and_errors(rng):
    layer = layers.Attention()
    assert (layer.use_scale, layer.score_mode, layer.dropout) == (False, "dot", 0.0)
    with pytest.raises(ValueError, match="score_mode"):
        layers.Attention(score_mode="additive")
    with pytest.raises(ValueError, match="dropout"):
        layers.Attention(dropout=1.0)
    q = np.ones((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"list \[query, value\]"):
        layers.Attention()(q)
    with pytest.raises(ValueError, match="same number of features"):
        layers.Attention()([q, np.ones((2, 5, 4), np.float32), np.ones((2, 5, 3), np.float32)])
    with pytest.raises(ValueError, match="same number of steps"):
        layers.Attention()([q, np.ones((2, 5, 4), np.float32), np.ones((2, 4, 4), np.float32)])
    with pytest.raises(ValueError, match=r"\(batch, steps, features\)"):
        layers.Attention()([q, np.ones((2, 4), np.float32)])
    inp = keras.Input((3, 4))
    att = layers.Attention()
    att([inp, inp])
    with pytest.raises(ValueError, match="same options"):
        att([inp, inp], use_causal_mask=True)
    assert layers.Attention(use_scale=True).get_config()["use_scale"] is True



# ---- additive scores: Attention(score_mode="concat") and AdditiveAttention ----------------------

def _concat_reference(q, v, k, scale, cw, qm, vm, causal):
    """Keras 3 Attention(score_mode='concat'): scores = cw * sum tanh(scale * (q + k))."""
    kk = v if k is None else k
    d = q.shape[-1]
    scores = ref.additive_scores(q, kk, np.full(d, cw), scale)
    allowed = np.ones(scores.shape, bool)
    if vm is not None:
        allowed &= np.asarray(vm, bool)[:, None, :]
    if causal:
        allowed &= np.tril(np.ones(scores.shape[1:], bool))[None]
    scores = scores - 1e9 * (~allowed)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    out = (e / e.sum(axis=-1, keepdims=True)) @ ref.f64(v)
    return out if qm is None else out * np.asarray(qm, np.float64)[:, :, None]


@pytest.mark.parametrize("kind,with_key,use_scale,causal,masked", [
    ("additive", False, True, False, False), ("additive", True, False, True, False),
    ("additive", True, True, False, True), ("concat", False, False, False, False),
    ("concat", True, True, True, True)])
def test_additive_scores_match_keras_reference_and_finite_differences(kind, with_key, use_scale,
                                                                     causal, masked, rng):
    tq, tv, d = 4, 4, 3
    q = rng.normal(size=(2, tq, d)).astype(np.float32)
    v = rng.normal(size=(2, tv, d if not with_key else 2)).astype(np.float32)
    k = rng.normal(size=(2, tv, d)).astype(np.float32) if with_key else None
    qm = np.array([[1, 1, 0, 1], [1, 1, 1, 1]], np.float32) if masked else None
    vm = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], np.float32) if masked else None
    layer = layers.AdditiveAttention(use_scale=use_scale) if kind == "additive" else \
        layers.Attention(use_scale=use_scale, score_mode="concat")
    xs = [q, v] + ([k] if with_key else [])
    layer(xs, use_causal_mask=causal)
    if kind == "additive":
        weights = [rng.normal(size=d).astype(np.float32)] if use_scale else []

        def fn(qq, vv, kk=None, *ws):
            return ref.keras_additive_attention(qq, vv, kk, ws[0] if ws else None, qm, vm, causal)[0]
    else:
        weights = ([np.array(1.3, np.float32)] if use_scale else []) + [np.array(0.7, np.float32)]

        def fn(qq, vv, kk=None, *ws):
            scale = ws[0] if use_scale else 1.0
            return _concat_reference(qq, vv, kk, scale, ws[-1], qm, vm, causal)
    layer.set_weights(weights)
    args = [np.asarray(a, np.float64) for a in xs]
    nk = len(args)

    def full(*a):
        inputs = list(a[:nk])
        if not with_key:
            inputs.append(None)
        return fn(*inputs, *a[nk:])
    want = full(*args, *[np.asarray(w, np.float64) for w in weights])
    r = rng.normal(size=want.shape)
    y, dxs, grads = _attention_grads(layer, xs, r, [qm, vm])
    _check(y, want)
    params = args + [np.asarray(w, np.float64) for w in weights]

    def loss(i):
        def f(val):
            a = list(params)
            a[i] = val
            return float((full(*a) * r).sum())
        return f
    assert len(dxs) == nk and len(grads) == len(weights)
    for i, got in enumerate(dxs + grads):
        _check(got, ref.numerical_grad(loss(i), params[i]))


def test_additive_attention_defaults_training_and_saving(tmp_path, rng):
    layer = layers.AdditiveAttention()
    assert (layer.use_scale, layer.dropout) == (True, 0.0)
    assert "score_mode" not in layer.get_config()
    inp_q, inp_v = keras.Input((4, 3)), keras.Input((5, 3))
    ctx = layers.AdditiveAttention(name="add", dropout=0.1, seed=1)([inp_q, inp_v])
    model = keras.Model([inp_q, inp_v], layers.Dense(1)(layers.Flatten()(ctx)))
    assert model.get_layer("add").get_weights()[0].shape == (3,)
    q = rng.normal(size=(24, 4, 3)).astype(np.float32)
    v = rng.normal(size=(24, 5, 3)).astype(np.float32)
    y = q[:, :1, :1].reshape(24, 1) + v.mean(axis=(1, 2))[:, None]
    model.compile("adam", "mse")
    before = model.evaluate([q, v], y, verbose=0)
    model.fit([q, v], y, epochs=10, batch_size=8, verbose=0)
    assert model.evaluate([q, v], y, verbose=0) < before
    path = tmp_path / "add.keras"
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict([q, v], verbose=0), model.predict([q, v], verbose=0))
    concat = layers.Attention(score_mode="concat", use_scale=True)
    concat([q[:2], v[:2]])
    assert [p.name for p in concat._params] == ["scale", "concat_score_weight"]



# ---- ZeroPadding3D / Cropping3D ----------------------------------------------------------------

@pytest.mark.parametrize("spec,pads", [(1, ((1, 1), (1, 1), (1, 1))),
                                       ((2, 0, 1), ((2, 2), (0, 0), (1, 1))),
                                       (((1, 0), (0, 2), (3, 1)), ((1, 0), (0, 2), (3, 1)))])
def test_zero_padding3d_and_cropping3d_match_numpy_and_finite_differences(spec, pads, rng):
    x = rng.normal(size=(2, 3, 2, 4, 3)).astype(np.float32)
    pad = layers.ZeroPadding3D(spec)
    assert pad.padding == pads
    _fd_check(pad, x, [], lambda xx: np.pad(xx, ((0, 0),) + pads + ((0, 0),)), rng)
    big = rng.normal(size=(2, 6, 5, 7, 2)).astype(np.float32)
    crop = layers.Cropping3D(spec)
    sl = tuple(slice(a, s - b) for (a, b), s in zip(pads, big.shape[1:4]))
    _fd_check(crop, big, [], lambda xx: xx[(slice(None),) + sl], rng)
    assert crop.compute_output_shape((None, 6, 5, 7, 2)) == (None,) + tuple(
        s - a - b for (a, b), s in zip(pads, (6, 5, 7))) + (2,)


def test_3d_padding_and_cropping_errors_and_keras_defaults():
    assert layers.ZeroPadding3D().padding == ((1, 1), (1, 1), (1, 1))
    assert layers.Cropping3D().cropping == ((1, 1), (1, 1), (1, 1))
    with pytest.raises(ValueError, match="ZeroPadding3D .*padding"):
        layers.ZeroPadding3D((1, 2))
    with pytest.raises(ValueError, match="Cropping3D .*cropping"):
        layers.Cropping3D(-1)
    with pytest.raises(ValueError, match="leaves no depth"):
        keras.Sequential([keras.Input((2, 4, 4, 1)), layers.Cropping3D(1)])
    with pytest.raises(ValueError, match="rank 5"):
        keras.Sequential([keras.Input((4, 4, 1)), layers.ZeroPadding3D(1)])
    with pytest.raises(ValueError, match="ZeroPadding3D.*data_format"):
        layers.ZeroPadding3D(1, data_format="NDHWC")
    # channels_first: tests/layers/test_channels_first.py
    assert layers.ZeroPadding3D(1, data_format="channels_first").compute_output_shape(
        (None, 2, 3, 4, 5)) == (None, 2, 5, 6, 7)
    model = keras.Sequential([keras.Input((2, 3, 4, 1)), layers.ZeroPadding3D((1, 0, 2)),
                              layers.Cropping3D(((0, 1), (0, 0), (1, 1)))])
    assert model.output_shape == (None, 3, 3, 6, 1)
