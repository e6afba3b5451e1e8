"""Keras 3's activations beyond the classic ones (hard_sigmoid, hard_silu / hard_swish, mish,
softsign, log_sigmoid, hard_tanh, celu, exponential, tanh_shrink, soft_shrink, hard_shrink,
squareplus, sparse_plus: one C++ kernel each; glu, sparsemax, threshold: corenn.ops) by every
name a script reaches them with: keras.activations.<name>, activation='<name>' on a layer,
layers.Activation, keras.ops.<name>, the tape, saving and ONNX export. The kernels themselves are
checked on every ISA in tests/kernels/test_activations.py and test_nan_propagation.py."""
import numpy as np
import pytest

from corenn import GradientTape, keras, kernels, ops
from corenn.keras import activations, layers
from reference import activation, activation_grad

KERNEL_KINDS = ["hard_sigmoid", "hard_silu", "mish", "softsign", "log_sigmoid", "hard_tanh", "celu",
                "exponential", "tanh_shrink", "soft_shrink", "hard_shrink", "squareplus", "sparse_plus"]
ALPHA = {"celu": 1.0, "soft_shrink": 0.5, "hard_shrink": 0.5, "squareplus": 4.0}


@pytest.mark.parametrize("kind", KERNEL_KINDS)
def test_keras_function_layer_and_op_agree_with_the_reference(kind, rng):
    x = (rng.standard_normal((6, 7)) * 3).astype(np.float32)
    want = activation(kind, x, ALPHA.get(kind, 0.0))
    np.testing.assert_allclose(np.asarray(getattr(activations, kind)(x)), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(layers.Activation(kind)(x)), want, rtol=1e-5, atol=1e-6)
    op = getattr(ops, kind, None)
    if op is not None:
        np.testing.assert_allclose(np.asarray(op(x)), want, rtol=1e-5, atol=1e-6)
    dense = layers.Dense(7, activation=kind)
    dense.build((None, 7))
    assert activations.serialize(dense.activation) == kind


@pytest.mark.parametrize("kind", KERNEL_KINDS)
def test_op_gradient_on_the_tape_matches_the_reference(kind, rng):
    x = (rng.standard_normal((4, 5)) * 3).astype(np.float32)
    for kink in (1.0, 3.0, ALPHA.get(kind, 0.0)):
        x[np.abs(np.abs(x) - kink) < 1e-2] = 0.25
    dy = rng.standard_normal((4, 5)).astype(np.float32)
    xt = kernels.Tensor.from_numpy(x)
    # keras.activations.<kind>(tensor) on a tape is differentiated too (it once returned None)
    fns = [getattr(activations, kind)] + ([getattr(ops, kind)] if hasattr(ops, kind) else [])
    for fn in fns:
        with GradientTape() as tape:
            tape.watch(xt)
            y = fn(xt)
        g = tape.gradient(y, xt, output_gradients=kernels.Tensor.from_numpy(dy))
        assert g is not None, fn
        np.testing.assert_allclose(np.asarray(g), activation_grad(kind, x, dy, ALPHA.get(kind, 0.0)),
                                   rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "elu", "selu", "gelu", "swish", "softplus",
                                  "leaky_relu", "relu6", "softmax", "log_softmax"])
def test_classic_keras_activation_functions_are_differentiable_on_a_tape(name, rng):
    import corenn as tf
    x = tf.Variable(rng.standard_normal((3, 4)).astype(np.float32))
    with GradientTape() as tape:
        loss = tf.reduce_sum(getattr(activations, name)(x) * np.arange(12, dtype=np.float32).reshape(3, 4))
    g = tape.gradient(loss, x)
    assert g is not None
    kind = {"relu6": "relu6"}.get(name, name)
    alpha = {"leaky_relu": 0.2, "elu": 1.0, "relu6": 6.0}.get(name, 0.0)
    want = activation_grad(kind, np.asarray(x), np.arange(12, dtype=np.float64).reshape(3, 4), alpha)
    np.testing.assert_allclose(np.asarray(g), want, rtol=1e-4, atol=1e-5)


def test_parameters_and_aliases():
    x = np.linspace(-3, 3, 13).astype(np.float32)
    assert activations.hard_swish is activations.hard_silu
    np.testing.assert_allclose(np.asarray(activations.celu(x, alpha=2.0)), activation("celu", x, 2.0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(activations.soft_shrink(x, threshold=1.0)),
                               activation("soft_shrink", x, 1.0), atol=1e-6)
    np.testing.assert_allclose(np.asarray(activations.squareplus(x, b=1.0)), activation("squareplus", x, 1.0),
                               rtol=1e-5)
    np.testing.assert_allclose(np.asarray(ops.hard_shrink(x, 2.0)), activation("hard_shrink", x, 2.0), atol=1e-6)
    layer = layers.Activation("hard_swish")
    assert layer.activation.name == "hard_silu"
    # a non-default parameter survives the layer's config
    dense = layers.Dense(3, activation=lambda t: activations.celu(t, alpha=2.0))
    dense.build((None, 2))
    # glu halves the last axis; sparsemax rows are on the simplex; threshold replaces
    g = np.asarray(activations.glu(np.ones((2, 6), np.float32)))
    assert g.shape == (2, 3)
    np.testing.assert_allclose(g, np.full((2, 3), 1 / (1 + np.exp(-1.0))), rtol=1e-6)
    sm = np.asarray(activations.sparsemax(np.array([[2.0, 1.0, -1.0], [0.1, 0.2, 0.3]], np.float32)))
    np.testing.assert_allclose(sm.sum(axis=-1), 1.0, rtol=1e-6)
    assert sm[0, 2] == 0.0 and sm.min() >= 0.0
    np.testing.assert_array_equal(np.asarray(activations.threshold(x, 0.5, -9.0)), np.where(x > 0.5, x, -9.0))


def test_mobilenet_v3_block_trains_and_round_trips(rng, tmp_path):
    """hard_swish / hard_sigmoid where MobileNetV3 puts them: the expansion conv and the
    squeeze-and-excitation gate."""
    inp = keras.Input((8, 8, 4))
    x = layers.Conv2D(8, 1, activation="hard_swish")(inp)
    x = layers.DepthwiseConv2D(3, padding="same")(x)
    se = layers.GlobalAveragePooling2D(keepdims=True)(x)
    se = layers.Conv2D(8, 1, activation="hard_sigmoid")(se)
    x = layers.Multiply()([x, se])
    x = layers.Activation("mish")(x)
    out = layers.Dense(3)(layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inp, out)
    xs = rng.standard_normal((64, 8, 8, 4)).astype(np.float32)
    ys = (xs.mean(axis=(1, 2))[:, :3] > 0).argmax(axis=-1)
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    first = model.fit(xs, ys, epochs=1, batch_size=16, verbose=0).history["loss"][0]
    last = model.fit(xs, ys, epochs=15, batch_size=16, verbose=0).history["loss"][-1]
    assert last < first
    path = str(tmp_path / "mbv3.keras")
    model.save(path)
    np.testing.assert_array_equal(keras.models.load_model(path).predict(xs, verbose=0), model.predict(xs, verbose=0))


@pytest.mark.parametrize("kind", ["hard_sigmoid", "hard_silu", "softsign", "exponential", "mish", "hard_tanh",
                                  "celu", "soft_shrink", "hard_shrink", "log_sigmoid", "tanh_shrink"])
def test_onnx_export_matches_onnxruntime(kind, rng, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    import corenn
    model = keras.Sequential([keras.Input((5,)), layers.Dense(6, activation=kind)])
    x = (rng.standard_normal((4, 5)) * 2).astype(np.float32)
    path = str(tmp_path / "m.onnx")
    corenn.onnx.export(model, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
