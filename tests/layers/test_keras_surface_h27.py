"""Issue 13, "the Keras surface": differences from Keras 3.15 closed in session 18.

RMSNormalization's errors name RMSNormalization; Masking on rank-2 inputs; the 'glu' activation
(and the other activation names Keras 3.15 lists); EinsumDense keeps unknown (None) output dims
symbolic; elementwise layers on 0-d inputs. References are computed independently (NumPy,
finite differences); where a behaviour is Keras' own choice, the comment says how it was
obtained from Keras 3.15 (KERAS_BACKEND=torch)."""
import numpy as np
import pytest

import corenn
from corenn import layers


# -- 1. RMSNormalization's errors name RMSNormalization (it shares LayerNormalization's code) --

@pytest.mark.parametrize("kwargs, shape", [
    (dict(axis=3), (2, 3)), (dict(axis=0), (2, 3)), (dict(axis=[1, 1]), (2, 3, 4)),
    (dict(axis="a"), (2, 3)), (dict(epsilon=0.0), (2, 3))])
def test_rms_normalization_errors_name_rms_normalization(kwargs, shape):
    with pytest.raises((ValueError, TypeError)) as info:
        layer = layers.RMSNormalization(**kwargs)
        layer(np.ones(shape, np.float32))
    msg = str(info.value)
    assert "RMSNormalization" in msg and "LayerNormalization" not in msg, msg


def test_layer_normalization_errors_still_name_layer_normalization():
    with pytest.raises(ValueError, match=r"^LayerNormalization 'layer_normalization\w*': axis 3"):
        layers.LayerNormalization(axis=3)(np.ones((2, 3), np.float32))


# -- 3. Activation('glu') and the other activation names of Keras 3.15 ---------------------------

def _glu_ref(x, axis=-1):
    a, b = np.split(np.asarray(x, np.float64), 2, axis=axis)
    return a / (1.0 + np.exp(-b))


def _fd_grad(f, x, r, eps=1e-6):
    """d/dx sum(f(x) * r) by central differences in float64."""
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = ((f(x + d) * r).sum() - (f(x - d) * r).sum()) / (2 * eps)
    return g


def test_activation_glu_values_and_shape():
    x = np.random.default_rng(0).normal(size=(3, 5, 6)).astype(np.float32)
    layer = layers.Activation("glu")
    y = np.asarray(layer(x))
    assert y.shape == (3, 5, 3)
    np.testing.assert_allclose(y, _glu_ref(x), rtol=1e-5, atol=1e-6)
    # Keras 3.15 (torch backend): Activation('glu')(arange(8).reshape(2, 4) / 4 - 1)
    x2 = (np.arange(8, dtype=np.float32).reshape(2, 4) / 4 - 1)
    np.testing.assert_allclose(np.asarray(layers.Activation("glu")(x2)),
                               [[-0.3775407, -0.3283676], [0.0, 0.1697947]], atol=1e-6)
    assert layer.compute_output_shape((None, 7, 6)) == (None, 7, 3)
    assert layer.compute_output_shape((None, 7, None)) == (None, 7, None)


def test_activation_glu_gradient_on_tape_matches_finite_differences():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 4))
    r = rng.normal(size=(2, 3, 2))
    xt = corenn.ops.convert_to_tensor(x.astype(np.float32))
    with corenn.GradientTape() as tape:
        tape.watch(xt)
        loss = corenn.ops.sum(layers.Activation("glu")(xt) * corenn.ops.convert_to_tensor(r.astype(np.float32)))
    got = np.asarray(tape.gradient(loss, xt))
    np.testing.assert_allclose(got, _fd_grad(_glu_ref, x, r), rtol=1e-4, atol=1e-5)


def test_activation_glu_in_a_model_trains_and_round_trips(tmp_path):
    """In a functional model the symbolic shape is the halved one (Keras 3.15 keeps the input's on
    the KerasTensor, so a Dense after it is built for the wrong width there), the layer's own
    backward matches finite differences, and the model saves and loads."""
    rng = np.random.default_rng(2)
    inp = corenn.keras.Input((6,))
    act = layers.Activation("glu")
    out = act(inp)
    assert tuple(out.shape) == (None, 3)
    model = corenn.keras.Model(inp, layers.Dense(2)(out))
    x = rng.normal(size=(4, 6)).astype(np.float32)
    assert model.predict(x, verbose=0).shape == (4, 2)
    # the layer's backward (what fit runs; a layer of its own, as the model's first layer is
    # not asked for an input gradient): dx of sum(glu(x) * r)
    r = rng.normal(size=(4, 3))
    act = layers.Activation("glu")
    act(x)
    act.forward(corenn.kernels.as_tensor(x), training=True)
    dx = np.asarray(act.backward(corenn.kernels.as_tensor(r.astype(np.float32))))
    np.testing.assert_allclose(dx, _fd_grad(_glu_ref, x, r), rtol=1e-4, atol=1e-5)
    model.compile("sgd", "mse")
    model.fit(x, rng.normal(size=(4, 2)).astype(np.float32), epochs=1, verbose=0)
    act = model.layers[1]
    assert act.get_config()["activation"] == "glu"
    again = layers.Activation.from_config(act.get_config())
    np.testing.assert_allclose(np.asarray(again(x)), _glu_ref(x), rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "glu.keras")
    loaded = corenn.keras.models.load_model(tmp_path / "glu.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_activation_glu_odd_axis_is_refused_by_name():
    with pytest.raises(ValueError, match="glu.*even size"):
        layers.Activation("glu")(np.ones((2, 5), np.float32))
    with pytest.raises(ValueError, match="glu.*even size"):
        layers.Activation("glu")(corenn.keras.Input((5,)))


def test_activations_glu_function_and_get():
    x = np.random.default_rng(3).normal(size=(2, 4, 6)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(corenn.activations.glu(x, axis=1)), _glu_ref(x, axis=1),
                               rtol=1e-5, atol=1e-6)
    fn = corenn.keras.activations.get("glu")
    np.testing.assert_allclose(np.asarray(fn(x)), _glu_ref(x), rtol=1e-5, atol=1e-6)
    assert corenn.activations.serialize(fn) == "glu"


# keras.activations' names in Keras 3.15.1 (sorted(keras.src.activations.ALL_OBJECTS_DICT), torch backend)
KERAS_315_ACTIVATIONS = [
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish",
    "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish", "relu", "relu6", "selu",
    "sigmoid", "silu", "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid",
    "sparsemax", "squareplus", "swish", "tanh", "tanh_shrink", "threshold"]


@pytest.mark.parametrize("name", KERAS_315_ACTIVATIONS)
def test_every_keras_activation_name_resolves(name):
    assert callable(getattr(corenn.activations, name))
    layer = layers.Activation(name)
    # Keras 3.15 writes the aliases by their canonical names: swish -> silu, hard_swish -> hard_silu
    want = {"swish": "silu", "hard_swish": "hard_silu"}.get(name, name)
    assert layer.get_config()["activation"] == want
    assert layers.Activation.from_config(layer.get_config()).get_config()["activation"] == want
    if name == "threshold":   # Keras: get('threshold') is the function; called with x alone it raises
        with pytest.raises(TypeError, match="threshold"):
            layer(np.ones((2, 4), np.float32))
        return
    y = np.asarray(layer(np.linspace(-2, 2, 8, dtype=np.float32).reshape(2, 4)))
    assert y.shape == ((2, 2) if name == "glu" else (2, 4)) and np.all(np.isfinite(y))


def test_activation_given_the_glu_function_or_op():
    x = np.random.default_rng(5).normal(size=(3, 4)).astype(np.float32)
    for fn in (corenn.activations.glu, corenn.ops.glu, corenn.keras.activations.glu):
        layer = layers.Activation(fn)
        np.testing.assert_allclose(np.asarray(layer(x)), _glu_ref(x), rtol=1e-5, atol=1e-6)
        assert layer.get_config()["activation"] == "glu"


def test_glu_in_a_layer_that_keeps_its_shape_is_refused_clearly():
    with pytest.raises(ValueError, match="'glu'.*only the Activation layer"):
        layers.Dense(4, activation="glu")(np.ones((2, 3), np.float32))


# -- 2. Masking of rank-2 inputs (batch, features): one flag per sample, as Keras 3 -------------

X2 = np.array([[0, 0, 0], [1, 0, 2], [0, -1, 0], [0.5, 0.5, 0.5]], np.float32)


def _masking_ref(x, value):
    keep = np.any(x != value, axis=-1)
    return x * keep[:, None], keep


@pytest.mark.parametrize("value", [0.0, 0.5])
def test_masking_rank_2_eager(value):
    layer = layers.Masking(value)
    y = layer(X2)
    want, keep = _masking_ref(X2, value)
    np.testing.assert_array_equal(np.asarray(y), want)
    np.testing.assert_array_equal(np.asarray(y._keras_mask), keep)
    assert np.asarray(layer.compute_mask(X2)).shape == (4,)
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(X2)), keep)
    # a mask-passing layer after it carries the (N,) mask on, as Keras' Dense does
    np.testing.assert_array_equal(np.asarray(layers.Dense(2)(y)._keras_mask), keep)


def test_masking_rank_2_gradient_on_tape():
    xt = corenn.ops.convert_to_tensor(X2)
    r = np.random.default_rng(4).normal(size=X2.shape).astype(np.float32)
    with corenn.GradientTape() as tape:
        tape.watch(xt)
        loss = corenn.ops.sum(layers.Masking()(xt) * corenn.ops.convert_to_tensor(r))
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, xt)), r * _masking_ref(X2, 0.0)[1][:, None])


def _rank2_models():
    inp = corenn.keras.Input((3,))
    masked = layers.Masking()(inp)
    assert tuple(masked._keras_mask.shape) == (None,)   # Keras 3.15: KerasTensor mask of shape (None,)
    functional = corenn.keras.Model(inp, layers.Dense(2, kernel_initializer="ones")(masked))
    sequential = corenn.Sequential([corenn.keras.Input((3,)), layers.Masking(),
                                    layers.Dense(2, kernel_initializer="ones")])
    return functional, sequential


def test_masking_rank_2_in_models_masks_the_loss():
    """Keras 3 weighs an output's loss by the mask it carries (mean over the unmasked samples).
    Rows of X2[:3] after Dense(2, ones): [0, 0] (masked), [3, 3], [-1, -1]; MSE against ones:
    (4 + 4) / 2 = 4.0, not the unmasked (1 + 4 + 4) / 3 = 3.0 (Keras 3.15 torch: evaluate 4.0).
    One SGD(0.1) step on the batch: dW = 2/(2*2) * sum over the two real rows of x^T (y - 1),
    (the masked row gives nothing), the weights Keras 3.15 gives: [[.9, .9], [.9, .9], [.8, .8]]."""
    x, t = X2[:3], np.ones((3, 2), np.float32)
    for model in _rank2_models():
        y = model(x)
        np.testing.assert_array_equal(np.asarray(y), [[0, 0], [3, 3], [-1, -1]])
        np.testing.assert_array_equal(np.asarray(y._keras_mask), [False, True, True])
        np.testing.assert_array_equal(model.predict(x, verbose=0), [[0, 0], [3, 3], [-1, -1]])
        model.compile(corenn.optimizers.SGD(0.1), "mse")
        assert model.evaluate(x, t, verbose=0) == pytest.approx(4.0, rel=1e-6)
        w0 = model.get_weights()[0]
        real = x[1:]
        err = real @ w0 - 1.0
        want = w0 - 0.1 * (2.0 / (2 * 2)) * real.T @ err
        model.fit(x, t, epochs=1, batch_size=3, shuffle=False, verbose=0)
        np.testing.assert_allclose(model.get_weights()[0], want, rtol=1e-6)
        np.testing.assert_allclose(want, [[0.9, 0.9], [0.9, 0.9], [0.8, 0.8]], rtol=1e-6)


def test_masking_needs_a_batch_and_features():
    with pytest.raises(ValueError, match="Masking 'masking\\w*' needs inputs of shape"):
        layers.Masking()(corenn.keras.Input(batch_shape=(None,)))


# -- 4. EinsumDense's symbolic output shape keeps output_shape's None --------------------------

# (equation, output_shape, input batch_shape, KerasTensor shape): Keras 3.15.1's
# EinsumDense(eq, output_shape)(keras.Input(batch_shape=...)).shape, torch and TensorFlow
# backends alike (its docstring's (None, 32, 64) for "abc,cd->abd" is not what it computes)
EINSUM_SHAPES = [
    ("ab,bc->ac", 6, (None, 8), (None, 6)),
    ("ab,bc->ac", 6, (3, 8), (3, 6)),
    ("abc,cd->abd", (None, 4), (None, 5, 3), (None, None, 4)),
    ("abc,cd->abd", (5, 4), (None, 5, 3), (None, 5, 4)),
    ("abc,cd->abd", (None, 4), (2, 5, 3), (2, None, 4)),
    ("abc,cde->abde", (None, 3, 4), (None, 5, 8), (None, None, 3, 4)),
    ("...b,bc->...c", 4, (None, 5, 3), (None, 5, 4)),
    ("...b,bc->...c", 4, (None, None, 3), (None, None, 4)),
    ("...ab,bc->...ac", (None, 4), (None, 7, 5, 3), (None, 7, None, 4)),
    ("...ab,bc->...ac", (5, 4), (None, 7, 5, 3), (None, 7, 5, 4)),
    ("ab...,bc->ac...", 4, (None, 3, 5), (None, 4, 5)),
    ("abcd,cde->abe", (None, 4), (None, 5, 3, 2), (None, None, 4)),
]


@pytest.mark.parametrize("equation, output_shape, batch_shape, want", EINSUM_SHAPES)
def test_einsum_dense_symbolic_shape_matches_keras(equation, output_shape, batch_shape, want):
    layer = layers.EinsumDense(equation, output_shape=output_shape)
    assert layer.compute_output_shape(batch_shape) == want
    assert tuple(layers.EinsumDense(equation, output_shape=output_shape)(
        corenn.keras.Input(batch_shape=batch_shape)).shape) == want
    # an eager call still gives the sizes the input fixes
    x = np.ones(tuple(2 if d is None else d for d in batch_shape), np.float32)
    got = np.asarray(layers.EinsumDense(equation, output_shape=output_shape)(x)).shape
    assert all(w is None or g == w for g, w in zip(got[1:], want[1:])) and len(got) == len(want)


# -- 5. Layers called on a 0-d (scalar) input ---------------------------------------------------

def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


# elementwise layers: a 0-d input gives a 0-d output, as Keras 3.15 (torch and TensorFlow
# backends) computes it; the value is the elementwise function's (NumPy here)
SCALAR_ELEMENTWISE = [
    ("relu", lambda: layers.Activation("relu"), lambda v: max(v, 0.0)),
    ("sigmoid", lambda: layers.Activation("sigmoid"), _sigmoid),
    ("silu", lambda: layers.Activation("silu"), lambda v: v * _sigmoid(v)),
    ("ReLU", lambda: layers.ReLU(), lambda v: max(v, 0.0)),
    ("LeakyReLU", lambda: layers.LeakyReLU(0.3), lambda v: v if v > 0 else 0.3 * v),
    ("ELU", lambda: layers.ELU(), lambda v: v if v > 0 else np.expm1(v)),
    ("PReLU", lambda: layers.PReLU(alpha_initializer=corenn.initializers.Constant(0.25)),
     lambda v: v if v > 0 else 0.25 * v),
    ("Dropout", lambda: layers.Dropout(0.5), lambda v: v),          # inference: the identity
    ("GaussianNoise", lambda: layers.GaussianNoise(0.3), lambda v: v),
    ("GaussianDropout", lambda: layers.GaussianDropout(0.3), lambda v: v),
    ("AlphaDropout", lambda: layers.AlphaDropout(0.3), lambda v: v),
    ("Rescaling", lambda: layers.Rescaling(2.0, 1.0), lambda v: 2 * v + 1),
    ("Identity", lambda: layers.Identity(), lambda v: v),
    ("ActivityRegularization", lambda: layers.ActivityRegularization(l1=0.1), lambda v: v),
    ("Discretization", lambda: layers.Discretization(bin_boundaries=[0.0, 1.0]),
     lambda v: float(np.digitize(v, [0.0, 1.0]))),
]


@pytest.mark.parametrize("value", [0.7, -1.3])
@pytest.mark.parametrize("name, make, fn", SCALAR_ELEMENTWISE, ids=[c[0] for c in SCALAR_ELEMENTWISE])
def test_elementwise_layers_keep_a_0d_input_0d(name, make, fn, value):
    for x in (np.float32(value), np.array(value, np.float32), corenn.ops.convert_to_tensor(np.array(value, np.float32))):
        y = make()(x)
        assert tuple(np.shape(y)) == (), (name, np.shape(y))
        np.testing.assert_allclose(float(np.asarray(y)), fn(float(np.float32(value))), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name, make, fn", SCALAR_ELEMENTWISE[:7], ids=[c[0] for c in SCALAR_ELEMENTWISE[:7]])
def test_elementwise_layer_gradient_reaches_a_0d_input(name, make, fn):
    value = -0.6
    x = corenn.ops.convert_to_tensor(np.array(value, np.float32))
    layer = make()
    with corenn.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    g = tape.gradient(y, x)
    assert tuple(g.shape) == ()
    eps = 1e-5
    want = (fn(value + eps) - fn(value - eps)) / (2 * eps)
    np.testing.assert_allclose(float(np.asarray(g)), want, rtol=1e-3, atol=1e-5)


def test_dropout_in_training_on_a_0d_input_keeps_or_scales_it():
    y = float(np.asarray(layers.Dropout(0.5)(np.float32(0.7), training=True)))
    assert y == 0.0 or abs(y - 1.4) < 1e-6


def test_embedding_of_a_0d_id_is_its_vector():
    """Keras 3.15: Embedding(5, 2)(np.array(2)) has shape (2,) (the id's row)."""
    layer = layers.Embedding(5, 2)
    y = np.asarray(layer(np.array(2, np.int32)))
    assert y.shape == (2,)
    np.testing.assert_array_equal(y, np.asarray(layer.embeddings)[2])


def test_lambda_gets_a_0d_input_as_it_is():
    y = layers.Lambda(lambda t: t * 2.0)(np.array(0.7, np.float32))
    assert tuple(np.shape(y)) == ()
    np.testing.assert_allclose(float(np.asarray(y)), 1.4, rtol=1e-6)


# Keras 3.15 raises on these (both backends; softmax / log_softmax / Softmax / Masking: the
# TensorFlow backend raises, the torch one returns the value, and corenn follows TensorFlow)
SCALAR_REFUSED = [
    ("Activation", lambda: layers.Activation("softmax")), ("Activation", lambda: layers.Activation("log_softmax")),
    ("Activation", lambda: layers.Activation("glu")), ("Activation", lambda: layers.Activation("sparsemax")),
    ("Softmax", layers.Softmax), ("Masking", layers.Masking), ("LayerNormalization", layers.LayerNormalization),
    ("RMSNormalization", layers.RMSNormalization), ("BatchNormalization", layers.BatchNormalization),
    ("Dense", lambda: layers.Dense(2)), ("Flatten", layers.Flatten), ("Reshape", lambda: layers.Reshape((1,))),
    ("RepeatVector", lambda: layers.RepeatVector(2)), ("SpatialDropout1D", lambda: layers.SpatialDropout1D(0.5)),
    ("Normalization", lambda: layers.Normalization(mean=1.0, variance=4.0)),
]


@pytest.mark.parametrize("cls_name, make", SCALAR_REFUSED, ids=[f"{i}_{c[0]}" for i, c in enumerate(SCALAR_REFUSED)])
def test_layers_that_need_an_axis_refuse_a_0d_input_by_name(cls_name, make):
    with pytest.raises(ValueError, match=rf"^{cls_name} '\w+' needs an input with at least one axis, got a 0-d"):
        make()(np.float32(0.7))
